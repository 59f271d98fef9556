/*
 * Internal to qmatmul*.c: block layouts (as GGUF stores them, little-endian)
 * and the scalar reference arithmetic that every kernel reproduces. Compiled
 * with -ffp-contract=off (llama/CMakeLists.txt): no a·b+c is fused unless
 * written as fmaf.
 *
 * Layouts (bytes):
 *   Q4_0  18: f16 d, 16 bytes: value i = low nibble of byte i, i+16 = high; w = d·(n − 8)
 *   Q4_1  20: f16 d, f16 m, 16 bytes as Q4_0;                                w = d·n + m
 *   Q5_0  22: f16 d, u32 qh (bit i = 5th bit of value i), 16 bytes;          w = d·(n5 − 16)
 *   Q5_1  24: f16 d, f16 m, u32 qh, 16 bytes;                                w = d·n5 + m
 *   Q8_0  34: f16 d, 32 int8;                                                w = d·q
 *   Q4_K 144 (256 values): f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) pairs for 8
 *         sub-blocks of 32, 128 bytes: chunk c (64 values) = bytes 32c.., low nibbles =
 *         sub-block 2c, high = 2c+1;                                         w = d·sc·n − dmin·m
 *   Q5_K 176: f16 d, f16 dmin, 12 scale bytes, 32 bytes qh (value l of chunk c gets bit 2c
 *         (low half) / 2c+1 (high half) of qh[l]), 128 bytes as Q4_K;       w = d·sc·n5 − dmin·m
 *   Q6_K 210: 128 bytes ql, 64 bytes qh, 16 int8 scales (sub-blocks of 16), f16 d;
 *         two halves of 128 values, each: l in 0..31, values l, l+32, l+64, l+96 take the
 *         low nibble of ql[l], ql[l+32], the high nibble of ql[l], ql[l+32], and bits
 *         (0,1), (2,3), (4,5), (6,7) of qh[l] as bits 4-5;                    w = d·sc·(n6 − 32)
 */
#ifndef ROPE_LLAMA_QMATMUL_IMPL_H
#define ROPE_LLAMA_QMATMUL_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "qmatmul.h"
#include "rope.h"

enum {
    QT_Q4_0 = 2, QT_Q4_1 = 3, QT_Q5_0 = 6, QT_Q5_1 = 7, QT_Q8_0 = 8,
    QT_Q4_K = 12, QT_Q5_K = 13, QT_Q6_K = 14
};

static inline uint16_t qm_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t qm_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
/* f16 -> f32 is exact, so every conversion gives the same bits: the ISA files
 * may use a hardware one (QM_F16C: vcvtph2ps). */
#ifdef QM_F16C
#include <immintrin.h>
static inline float qm_h(const uint8_t *p) { return _cvtsh_ss(qm_rd16(p)); }
#else
static inline float qm_h(const uint8_t *p) { return rope_f16_to_f32(qm_rd16(p)); }
#endif

/* 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block. */
static inline void qm_scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* The 32 integer codes (offset applied) of activation-sized block k of a row:
 * for 32-blocks k is the block; for K-quants k = 8·superblock + sub-block.
 * Q6_K codes are n6 − 32 (its two 16-value sub-scales are applied separately). */
static inline __attribute__((always_inline)) void qm_codes(uint32_t type, const uint8_t *row, int64_t k, int8_t w[32]) {
    switch (type) {
    case QT_Q4_0:
    case QT_Q4_1: {
        const uint8_t *qs = row + k * (type == QT_Q4_0 ? 18 : 20) + (type == QT_Q4_0 ? 2 : 4);
        const int off = type == QT_Q4_0 ? 8 : 0;
        for (int i = 0; i < 16; i++) {
            w[i] = (int8_t)((qs[i] & 0xF) - off);
            w[i + 16] = (int8_t)((qs[i] >> 4) - off);
        }
        return;
    }
    case QT_Q5_0:
    case QT_Q5_1: {
        const uint8_t *b = row + k * (type == QT_Q5_0 ? 22 : 24);
        const uint8_t *p = b + (type == QT_Q5_0 ? 2 : 4);
        const uint32_t qh = qm_rd32(p);
        const uint8_t *qs = p + 4;
        const int off = type == QT_Q5_0 ? 16 : 0;
        for (int i = 0; i < 16; i++) {
            w[i] = (int8_t)(((qs[i] & 0xF) | (((qh >> i) & 1) << 4)) - off);
            w[i + 16] = (int8_t)(((qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4)) - off);
        }
        return;
    }
    case QT_Q8_0:
        memcpy(w, row + k * 34 + 2, 32);
        return;
    case QT_Q4_K:
    case QT_Q5_K: {
        const int64_t sb = k / 8;
        const int j = (int)(k % 8), c = j / 2, hi = j % 2;
        const uint8_t *b = row + sb * (type == QT_Q4_K ? 144 : 176);
        const uint8_t *qs = b + (type == QT_Q4_K ? 16 : 48) + 32 * c;
        for (int l = 0; l < 32; l++) {
            int n = hi ? qs[l] >> 4 : qs[l] & 0xF;
            if (type == QT_Q5_K) n |= ((b[16 + l] >> j) & 1) << 4; /* bit 2c / 2c+1 = bit j */
            w[l] = (int8_t)n;
        }
        return;
    }
    case QT_Q6_K: {
        const int64_t sb = k / 8;
        const int j = (int)(k % 8), half = j / 4, part = j % 4; /* part: 0..3 = l, l+32, l+64, l+96 */
        const uint8_t *b = row + sb * 210;
        const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
        for (int l = 0; l < 32; l++) {
            const uint8_t lo = ql[l + (part & 1) * 32];
            const int n = (part < 2 ? lo & 0xF : lo >> 4) | (((qh[l] >> (2 * part)) & 3) << 4);
            w[l] = (int8_t)(n - 32);
        }
        return;
    }
    }
}

/* Exact integer dot of 32 codes with the activation block at q; for Q6_K the
 * two halves are weighted by their int8 sub-scales sc0, sc1. */
static inline int32_t qm_idot(const int8_t *w, const int8_t *q, int sc0, int sc1) {
    int32_t lo = 0, hi = 0;
    for (int i = 0; i < 16; i++) lo += (int32_t)w[i] * q[i];
    for (int i = 16; i < 32; i++) hi += (int32_t)w[i] * q[i];
    return sc0 * lo + sc1 * hi;
}

/* The per-block float factors: acc = fma(f->scale·d_j, isum, acc), then for
 * types with a min term acc = fma(f->min, s_j, acc) (min already signed). */
typedef struct qm_factors {
    float scale, min;
    int has_min;
    int sc0, sc1; /* integer sub-scales (Q6_K), else 1, 1 */
} qm_factors;

static inline __attribute__((always_inline)) void qm_block_factors(uint32_t type, const uint8_t *row, int64_t k, qm_factors *f) {
    f->has_min = 0;
    f->scale = 0.0f;
    f->min = 0.0f;
    f->sc0 = f->sc1 = 1;
    switch (type) {
    case QT_Q4_0: f->scale = qm_h(row + k * 18); return;
    case QT_Q5_0: f->scale = qm_h(row + k * 22); return;
    case QT_Q8_0: f->scale = qm_h(row + k * 34); return;
    case QT_Q4_1:
    case QT_Q5_1: {
        const uint8_t *b = row + k * (type == QT_Q4_1 ? 20 : 24);
        f->scale = qm_h(b);
        f->min = qm_h(b + 2);
        f->has_min = 1;
        return;
    }
    case QT_Q4_K:
    case QT_Q5_K: {
        const uint8_t *b = row + (k / 8) * (type == QT_Q4_K ? 144 : 176);
        int sc, m;
        qm_scale_min_k4((int)(k % 8), b + 4, &sc, &m);
        f->scale = qm_h(b) * (float)sc;
        f->min = -(qm_h(b + 2) * (float)m);
        f->has_min = 1;
        return;
    }
    case QT_Q6_K: {
        const uint8_t *b = row + (k / 8) * 210;
        const int j = (int)(k % 8), half = j / 4, part = j % 4;
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * half;
        f->scale = qm_h(b + 208);
        f->sc0 = sc[2 * part];
        f->sc1 = sc[2 * part + 1];
        return;
    }
    }
}

/* Reference: activation blocks [k0, k1) of one row into the 8 lanes. */
static inline void qm_ref_blocks(uint32_t type, const uint8_t *row, const qm_act *a, int64_t k0,
                                 int64_t k1, float acc[8]) {
    for (int64_t k = k0; k < k1; k++) {
        int8_t w[32];
        qm_factors f;
        qm_codes(type, row, k, w);
        qm_block_factors(type, row, k, &f);
        const int32_t isum = qm_idot(w, a->q + 32 * k, f.sc0, f.sc1);
        const float sd = f.scale * a->d[k];
        float v = fmaf(sd, (float)isum, acc[k % 8]);
        if (f.has_min) v = fmaf(f.min, a->s[k], v);
        acc[k % 8] = v;
    }
}

static inline float qm_lanes_sum(const float a[8]) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* Kernel sets (qmatmul_avx2.c, qmatmul_vnni.c, qmatmul_neon.c, qmatmul_neondot.c). */
typedef float (*qm_dot_fn)(uint32_t type, const void *row, const qm_act *a);
float qm_dot_avx2(uint32_t type, const void *row, const qm_act *a);
float qm_dot_avx512vnni(uint32_t type, const void *row, const qm_act *a);
float qm_dot_neon(uint32_t type, const void *row, const qm_act *a);
float qm_dot_neon_dotprod(uint32_t type, const void *row, const qm_act *a);
/* SIMD dequantisation of one row (n_blocks 32-blocks): 1 if done, 0 if the
 * type is left to the reference; same bits as the reference. */
typedef int (*qm_dequant_fn)(uint32_t type, const void *row, int64_t n_blocks, float *out);
int qm_dequant_avx2(uint32_t type, const void *row, int64_t n_blocks, float *out);
int qm_dequant_avx512vnni(uint32_t type, const void *row, int64_t n_blocks, float *out);
/* SIMD activation quantisation (same bits as the reference), and a whole
 * matrix-vector product for the types a set handles itself (1 if done, 0 to
 * fall back to its qm_dot_fn row by row). */
typedef void (*qm_quantize_fn)(const float *x, int64_t cols, qm_act *a);
typedef int (*qm_matvec_fn)(const qm_matrix *m, const qm_act *a, float *y, int64_t r0, int64_t r1,
                            int accumulate);
/* qm_act helpers of qmatmul.c: block b's codes into qp; zero the padding. */
void qm_put_qp(qm_act *a, int64_t b, const int8_t *q);
void qm_act_pad(qm_act *a, int64_t nb);
void qm_quantize_avx512(const float *x, int64_t cols, qm_act *a);
/* Rows [r0, r1) times n quantised tokens: y[t·ldy + r] (+)= row r · acts[t],
 * each with qm_dot's bits; 1 if done, 0 if not (out of memory). */
typedef int (*qm_gemm_fn)(const qm_matrix *m, const qm_act *acts, int64_t n, float *y,
                          int64_t ldy, int64_t r0, int64_t r1, int accumulate);
int qm_gemm_avx512(const qm_matrix *m, const qm_act *acts, int64_t n, float *y, int64_t ldy,
                   int64_t r0, int64_t r1, int accumulate);
int qm_matvec_avx512(const qm_matrix *m, const qm_act *a, float *y, int64_t r0, int64_t r1,
                     int accumulate);

#endif
