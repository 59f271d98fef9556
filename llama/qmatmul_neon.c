/*
 * NEON kernels of qm_dot (aarch64). The integer block sums use SDOT
 * (vdotq_s32) when the compiler targets the dot-product extension
 * (__ARM_FEATURE_DOTPROD: qmatmul_neondot.c, -march=armv8.2-a+dotprod, chosen
 * at run time when HWCAP_ASIMDDP says the CPU has it), else widening
 * multiplies (vmull_s8 + pairwise accumulate): exact either way. The float
 * part is the reference's own per-block code (same lanes, fmaf), so results
 * are bit-identical to qm_dot_ref.
 */
#include <arm_neon.h>

#include "qmatmul_impl.h"

#ifdef QM_NEON_DOT
#define QM_NEON_NAME qm_dot_neon_dotprod
#else
#define QM_NEON_NAME qm_dot_neon
#endif

/* Σ w·q over 32 int8 pairs, split in two halves of 16 (Q6_K's sub-scales). */
static inline int32x4_t idot16(int8x16_t w, int8x16_t q) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdupq_n_s32(0), w, q);
#else
    const int16x8_t p0 = vmull_s8(vget_low_s8(w), vget_low_s8(q));
    const int16x8_t p1 = vmull_s8(vget_high_s8(w), vget_high_s8(q));
    return vpadalq_s16(vpaddlq_s16(p0), p1);
#endif
}

/* Bits 0..15 of qh (starting at bit `first`) -> 0x10 in bytes 0..15. */
static inline uint8x16_t qh16(uint32_t qh, int first) {
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint32_t h = qh >> first;
    const uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)h), vdup_n_u8((uint8_t)(h >> 8)));
    return vandq_u8(vtstq_u8(v, vld1q_u8(bits)), vdupq_n_u8(0x10));
}

/* The 32 codes of block k as two int8x16 (values 0..15 and 16..31). */
static inline void codes(uint32_t type, const uint8_t *row, int64_t k, int8x16_t w[2]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    switch (type) {
    case QT_Q4_0:
    case QT_Q4_1: {
        const uint8x16_t x = vld1q_u8(row + k * (type == QT_Q4_0 ? 18 : 20) + (type == QT_Q4_0 ? 2 : 4));
        const int8x16_t off = vdupq_n_s8(type == QT_Q4_0 ? 8 : 0);
        w[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(x, m4)), off);
        w[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(x, 4)), off);
        return;
    }
    case QT_Q5_0:
    case QT_Q5_1: {
        const uint8_t *b = row + k * (type == QT_Q5_0 ? 22 : 24), *p = b + (type == QT_Q5_0 ? 2 : 4);
        const uint32_t qh = qm_rd32(p);
        const uint8x16_t x = vld1q_u8(p + 4);
        const int8x16_t off = vdupq_n_s8(type == QT_Q5_0 ? 16 : 0);
        w[0] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(x, m4), qh16(qh, 0))), off);
        w[1] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(x, 4), qh16(qh, 16))), off);
        return;
    }
    case QT_Q8_0:
        w[0] = vld1q_s8((const int8_t *)(row + k * 34 + 2));
        w[1] = vld1q_s8((const int8_t *)(row + k * 34 + 18));
        return;
    case QT_Q4_K:
    case QT_Q5_K: {
        const int64_t sb = k / 8;
        const int j = (int)(k % 8), c = j / 2, hi = j % 2;
        const uint8_t *b = row + sb * (type == QT_Q4_K ? 144 : 176);
        const uint8_t *qs = b + (type == QT_Q4_K ? 16 : 48) + 32 * c;
        for (int h = 0; h < 2; h++) {
            const uint8x16_t x = vld1q_u8(qs + 16 * h);
            uint8x16_t n = hi ? vshrq_n_u8(x, 4) : vandq_u8(x, m4);
            if (type == QT_Q5_K) {
                const uint8x16_t hb = vshlq_u8(vld1q_u8(b + 16 + 16 * h), vdupq_n_s8((int8_t)-j));
                n = vorrq_u8(n, vshlq_n_u8(vandq_u8(hb, vdupq_n_u8(1)), 4));
            }
            w[h] = vreinterpretq_s8_u8(n);
        }
        return;
    }
    default: { /* QT_Q6_K */
        const int64_t sb = k / 8;
        const int j = (int)(k % 8), half = j / 4, part = j % 4;
        const uint8_t *b = row + sb * 210;
        const uint8_t *ql = b + 64 * half + (part & 1) * 32, *qh = b + 128 + 32 * half;
        for (int h = 0; h < 2; h++) {
            const uint8x16_t x = vld1q_u8(ql + 16 * h);
            const uint8x16_t n = part < 2 ? vandq_u8(x, m4) : vshrq_n_u8(x, 4);
            const uint8x16_t hb = vandq_u8(vshlq_u8(vld1q_u8(qh + 16 * h), vdupq_n_s8((int8_t)(-2 * part))),
                                           vdupq_n_u8(3));
            w[h] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(n, vshlq_n_u8(hb, 4))), vdupq_n_s8(32));
        }
        return;
    }
    }
}

float QM_NEON_NAME(uint32_t type, const void *row, const qm_act *a) {
    float acc[8] = {0};
    for (int64_t k = 0; k < a->n_blocks; k++) {
        int8x16_t w[2];
        codes(type, row, k, w);
        qm_factors f;
        qm_block_factors(type, row, k, &f);
        const int32_t lo = vaddvq_s32(idot16(w[0], vld1q_s8(a->q + 32 * k)));
        const int32_t hi = vaddvq_s32(idot16(w[1], vld1q_s8(a->q + 32 * k + 16)));
        const int32_t isum = f.sc0 * lo + f.sc1 * hi;
        float v = fmaf(f.scale * a->d[k], (float)isum, acc[k % 8]);
        if (f.has_min) v = fmaf(f.min, a->s[k], v);
        acc[k % 8] = v;
    }
    return qm_lanes_sum(acc);
}
