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
 * bit-identical to HF's float32 `q*cos + rotate_half(q)*sin`: for float32
 * storage every product is rounded on its own (no FMA).
 *
 * f16/bf16 storage has no peer's bits to match (PyTorch rounds every 16-bit
 * operation; our results were only ever within tolerance of it), so there the
 * first product of each output is fused: y0 = fma(x0, c, −(x1·s)), y1 =
 * fma(x1, c, x0·s), one rounding fewer before the 16-bit one, and one multiply
 * + one FMA per output in the SIMD kernels instead of two multiplies and an
 * add, which compete with the conversions for the FP pipes (docs/precision.md
 * has the bound; docs/speed.md, the gain).
 *
 * Pairs: interleaved (2i, 2i+1), half (i, i+R/2), de-interleave (read as interleaved,
 * written as half; the inverse the other way round). Dims [R, D) are copied bit
 * for bit when out != in. Both elements of a pair are loaded before either is
 * stored, so in == out (in place) is safe. Arithmetic is float32 whatever the
 * storage; f16/bf16 are converted with round to nearest even.
 *
 * The pair arithmetic itself is rope_ref_rotate (f32) / rope_ref_rotate16
 * (f16, bf16) in kernel.h, shared with the SIMD kernels' tails and apply.c's
 * strided path. Loads and stores go through
 * memcpy: the caller's data need not be aligned.
 */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/sincos.h"

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

/* DEINTERLEAVE: in place, the head's rotary part is copied first (kernel.h). */
static inline void row_deint(const rope_row_args *a, int dt) {
    const int64_t es = dt == ROPE_KDTYPE_F32 ? 4 : 2;
    float tmp[ROPE_MAX_HEAD_DIM];
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * es;
        rope_ref_deinterleave(a, rope_ref_deint_src(a, x, y, (unsigned char *)tmp, dt), y, 1, 0, dt);
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

void rope_scalar_row_deinterleave_f32(const rope_row_args *a) { row_deint(a, ROPE_KDTYPE_F32); }
void rope_scalar_row_deinterleave_f16(const rope_row_args *a) { row_deint(a, ROPE_KDTYPE_F16); }
void rope_scalar_row_deinterleave_bf16(const rope_row_args *a) { row_deint(a, ROPE_KDTYPE_BF16); }

/* Accurate mode: cos/sin of the exact angle pos·θᵢ, the definition in
 * kernels/sincos.h that every kernel set reproduces bit for bit. Angles beyond
 * ROPE_SC_LIMIT (θ > 1 at positions near 2^53) or NaN: libm by the addition
 * formula, cos(hi + lo) = cos hi·cos lo − sin hi·sin lo (lo can be ~1 there, so
 * no first-order shortcut); the SIMD kernels send such lanes here. */
void rope_scalar_sincos(const double *inv_freq, int64_t n, double pos, float *cos_out,
                        float *sin_out) {
    for (int64_t i = 0; i < n; i++) {
        double hi = pos * inv_freq[i];
        double lo = fma(pos, inv_freq[i], -hi);
        if (fabs(hi) < ROPE_SC_LIMIT) {
            rope_sc_reduced(hi, lo, cos_out + i, sin_out + i);
            continue;
        }
        double ch = cos(hi), sh = sin(hi), cl = cos(lo), sl = sin(lo);
        double c1 = ch * cl, c2 = sh * sl, s1 = sh * cl, s2 = ch * sl;
        cos_out[i] = (float)(c1 - c2);
        sin_out[i] = (float)(s1 + s2);
    }
}

/* The table build's anchors: rope_sc_reduced_d, |pos·θᵢ| < ROPE_SC_LIMIT. */
void rope_scalar_sincos_d(const double *inv_freq, int64_t n, double pos, double *cos_out,
                          double *sin_out) {
    for (int64_t i = 0; i < n; i++) {
        double hi = pos * inv_freq[i];
        double lo = fma(pos, inv_freq[i], -hi);
        rope_sc_reduced_d(hi, lo, cos_out + i, sin_out + i);
    }
}

/* The table build's rows from anchors (kernels/sincos.h, rope_sc_sum): the bits
 * of rope_scalar_sincos, entries the rounding test leaves open computed by it. */
void rope_scalar_sincos_sum(const double *ca, const double *sa, const double *cb,
                            const double *sb, const double *inv_freq, int64_t n, int64_t rows,
                            double pos, float *cos_out, float *sin_out) {
    for (int64_t b = 0; b < rows; b++) {
        const double *cbr = cb + b * n, *sbr = sb + b * n;
        float *co = cos_out + b * n, *so = sin_out + b * n;
        for (int64_t i = 0; i < n; i++)
            if (!rope_sc_sum(ca[i], sa[i], cbr[i], sbr[i], co + i, so + i))
                rope_scalar_sincos(inv_freq + i, 1, pos + (double)b, co + i, so + i);
    }
}

const rope_kernels rope_kernels_scalar = {
    "scalar",
    {
        [ROPE_KSTYLE_INTERLEAVED] = {rope_scalar_row_interleaved_f32, rope_scalar_row_interleaved_f16,
                                     rope_scalar_row_interleaved_bf16},
        [ROPE_KSTYLE_HALF] = {rope_scalar_row_half_f32, rope_scalar_row_half_f16,
                              rope_scalar_row_half_bf16},
        [ROPE_KSTYLE_DEINTERLEAVE] = {rope_scalar_row_deinterleave_f32,
                                      rope_scalar_row_deinterleave_f16,
                                      rope_scalar_row_deinterleave_bf16},
    },
    rope_scalar_sincos,
    rope_scalar_sincos_d,
    rope_scalar_sincos_sum,
};
