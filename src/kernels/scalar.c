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
 * Loads and stores go through memcpy: the caller's data need not be aligned,
 * and compilers turn the fixed-size copies into plain moves.
 */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"

static inline float load(const unsigned char *p, int64_t i, int dt) {
    if (dt == ROPE_KDTYPE_F32) {
        float v;
        memcpy(&v, p + 4 * i, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return dt == ROPE_KDTYPE_F16 ? rope_f16_to_f32(h) : rope_bf16_to_f32(h);
}

static inline void store(unsigned char *p, int64_t i, float v, int dt) {
    if (dt == ROPE_KDTYPE_F32) {
        memcpy(p + 4 * i, &v, 4);
        return;
    }
    uint16_t h = dt == ROPE_KDTYPE_F16 ? rope_f32_to_f16(v) : rope_f32_to_bf16(v);
    memcpy(p + 2 * i, &h, 2);
}

static inline void row(const rope_row_args *a, int style, int dt) {
    const size_t es = dt == ROPE_KDTYPE_F32 ? 4 : 2;
    const int64_t half = a->rotary_dim / 2;
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        for (int64_t i = 0; i < half; i++) {
            float c = a->cos[i] * a->scale;
            float s = a->sin[i] * a->scale;
            if (a->inverse) s = -s;
            int64_t i0 = style == ROPE_KSTYLE_INTERLEAVED ? 2 * i : i;
            int64_t i1 = style == ROPE_KSTYLE_INTERLEAVED ? 2 * i + 1 : i + half;
            float x0 = load(x, i0, dt);
            float x1 = load(x, i1, dt);
            /* one product per statement: no contraction into an FMA, so every
             * compiler and ISA agrees on the rounding */
            float x0c = x0 * c;
            float x1s = x1 * s;
            float x1c = x1 * c;
            float x0s = x0 * s;
            store(y, i0, x0c - x1s, dt);
            store(y, i1, x1c + x0s, dt);
        }
        if (y != x && a->head_dim > a->rotary_dim)
            memcpy(y + a->rotary_dim * (int64_t)es, x + a->rotary_dim * (int64_t)es,
                   (size_t)(a->head_dim - a->rotary_dim) * es);
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
