/*
 * The scalar kernels: the definition of correct for every other kernel set.
 *
 * RoFormer eq. (34): each pair (x0, x1) of a head vector is rotated by the
 * angle m·θᵢ of its position m:
 *     y0 = x0·cos − x1·sin
 *     y1 = x1·cos + x0·sin
 * The inverse (backward, the gradient of the forward) rotates by −m·θᵢ, i.e.
 * sin → −sin. The attention factor multiplies cos and sin first, as Hugging
 * Face does (cos·af, sin·af in float32), so with a float32 table the result is
 * bit-identical to HF's float32 `q*cos + rotate_half(q)*sin`.
 *
 * Pairs: interleaved (2i, 2i+1), half (i, i+R/2). Dims [R, D) are copied bit
 * for bit when out != in. Both elements of a pair are loaded before either is
 * stored, so in == out (in place) is safe. Arithmetic is float32 whatever the
 * storage; f16/bf16 are converted with round to nearest even.
 *
 * The pair arithmetic itself is rope_ref_rotate in kernel.h, shared with the
 * SIMD kernels' tails and apply.c's strided path. Loads and stores go through
 * memcpy: the caller's data need not be aligned.
 */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"

static inline void row(const rope_row_args *a, int style, int dt) {
    const int64_t es = dt == ROPE_KDTYPE_F32 ? 4 : 2;
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * es;
        rope_ref_pairs(a, x, y, 0, style == ROPE_KSTYLE_HALF, dt);
        if (y != x && a->head_dim > a->rotary_dim)
            memcpy(y + a->rotary_dim * es, x + a->rotary_dim * es,
                   (size_t)((a->head_dim - a->rotary_dim) * es));
    }
}

void rope_scalar_row_interleaved_f32(const rope_row_args *a) {
    row(a, ROPE_KSTYLE_INTERLEAVED, ROPE_KDTYPE_F32);
}
void rope_scalar_row_interleaved_f16(const rope_row_args *a) {
    row(a, ROPE_KSTYLE_INTERLEAVED, ROPE_KDTYPE_F16);
}
void rope_scalar_row_interleaved_bf16(const rope_row_args *a) {
    row(a, ROPE_KSTYLE_INTERLEAVED, ROPE_KDTYPE_BF16);
}
void rope_scalar_row_half_f32(const rope_row_args *a) { row(a, ROPE_KSTYLE_HALF, ROPE_KDTYPE_F32); }
void rope_scalar_row_half_f16(const rope_row_args *a) { row(a, ROPE_KSTYLE_HALF, ROPE_KDTYPE_F16); }
void rope_scalar_row_half_bf16(const rope_row_args *a) { row(a, ROPE_KSTYLE_HALF, ROPE_KDTYPE_BF16); }

/* Accurate mode, as src/table.c: the angle pos·θᵢ is carried exactly as
 * hi + lo (hi = RN64(pos·θᵢ), lo its rounding error, exact by fma), cos/sin
 * are evaluated in double at hi and corrected to first order for lo, then
 * rounded once to float: within ~0.5 ulp of the truth at any position < 2^53. */
void rope_scalar_sincos(const double *inv_freq, int64_t n, double pos, float *cos_out,
                        float *sin_out) {
    for (int64_t i = 0; i < n; i++) {
        double hi = pos * inv_freq[i];
        double lo = fma(pos, inv_freq[i], -hi);
        double c = cos(hi), s = sin(hi);
        cos_out[i] = (float)(c - s * lo);
        sin_out[i] = (float)(s + c * lo);
    }
}

const rope_kernels rope_kernels_scalar = {
    "scalar",
    {
        [ROPE_KSTYLE_INTERLEAVED] = {rope_scalar_row_interleaved_f32, rope_scalar_row_interleaved_f16,
                                     rope_scalar_row_interleaved_bf16},
        [ROPE_KSTYLE_HALF] = {rope_scalar_row_half_f32, rope_scalar_row_half_f16,
                              rope_scalar_row_half_bf16},
    },
    rope_scalar_sincos,
};
