/*
 * AVX2 kernels of qm_dot (compiled with -mavx2 -mfma -mf16c), and, included
 * from qmatmul_vnni.c with QM_VNNI, the AVX-512 VNNI variant: the same code
 * with vpdpbusd (u8·s8 -> s32 in one instruction) instead of vpmaddubsw +
 * vpmaddwd. Bit-identical to qm_dot_ref (qmatmul.h): integer block sums are
 * exact whatever the instruction, and the float part uses the same lanes,
 * the same fused multiply-adds and the same final tree.
 *
 * Per 8 activation blocks: unpack each weight block to 32 signed codes,
 * multiply-add with the int8 activations (|w| times q with w's sign moved
 * onto q, since vpmaddubsw/vpdpbusd take one unsigned operand; |w| <= 128 and
 * |q| <= 127 cannot saturate), fold the 8 vectors into one vector of 8 block
 * sums with horizontal adds, convert, and fma into the 8 accumulator lanes.
 */
#include <immintrin.h>

#define QM_F16C 1 /* scale conversions by vcvtph2ps (exact, same bits as the library's) */
#include "qmatmul_impl.h"

#ifdef QM_VNNI
#define QM_DOT_NAME qm_dot_vnni256 /* qmatmul_vnni.c routes the 32-block types to 512-bit code */
float qm_dot_vnni256(uint32_t type, const void *row, const qm_act *a);
#else
#define QM_DOT_NAME qm_dot_avx2
#endif

/* 8 int32 partial sums of w·q; lane i covers bytes 4i .. 4i+3. */
static inline __m256i idot8(__m256i w, __m256i q) {
    const __m256i aw = _mm256_sign_epi8(w, w);
    const __m256i sq = _mm256_sign_epi8(q, w);
#ifdef QM_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sq);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sq), _mm256_set1_epi16(1));
#endif
}

/* [Σv0, Σv1, ..., Σv7] (exact integer sums). */
static inline __m256i hsum8(const __m256i v[8]) {
    const __m256i a = _mm256_hadd_epi32(v[0], v[1]), b = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i c = _mm256_hadd_epi32(v[4], v[5]), d = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
    return _mm256_add_epi32(_mm256_permute2x128_si256(ab, cd, 0x20),
                            _mm256_permute2x128_si256(ab, cd, 0x31));
}

static inline float lanes_sum(__m256 acc) {
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));
}

static inline __attribute__((always_inline)) __m256i nibbles16(const uint8_t *qs) {
    const __m128i x = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(x, m), hi = _mm_and_si128(_mm_srli_epi16(x, 4), m);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* Bit i of qh -> 0x10 in byte i. */
static inline __attribute__((always_inline)) __m256i qh_bits(uint32_t qh) {
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i x = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(x, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/* Codes of 32-block k of the simple types. */
static inline __attribute__((always_inline)) __m256i codes32(uint32_t type, const uint8_t *row, int64_t k) {
    switch (type) {
    case QT_Q4_0:
        return _mm256_sub_epi8(nibbles16(row + k * 18 + 2), _mm256_set1_epi8(8));
    case QT_Q4_1:
        return nibbles16(row + k * 20 + 4);
    case QT_Q5_0: {
        const uint8_t *b = row + k * 22;
        const __m256i v = _mm256_or_si256(nibbles16(b + 6), qh_bits(qm_rd32(b + 2)));
        return _mm256_sub_epi8(v, _mm256_set1_epi8(16));
    }
    case QT_Q5_1: {
        const uint8_t *b = row + k * 24;
        return _mm256_or_si256(nibbles16(b + 8), qh_bits(qm_rd32(b + 4)));
    }
    default: /* QT_Q8_0 */
        return _mm256_loadu_si256((const __m256i *)(row + k * 34 + 2));
    }
}

static inline __attribute__((always_inline)) __m256 halves8(const uint8_t *p, size_t stride) {
    const __m128i h = _mm_setr_epi16((short)qm_rd16(p), (short)qm_rd16(p + stride),
                                     (short)qm_rd16(p + 2 * stride), (short)qm_rd16(p + 3 * stride),
                                     (short)qm_rd16(p + 4 * stride), (short)qm_rd16(p + 5 * stride),
                                     (short)qm_rd16(p + 6 * stride), (short)qm_rd16(p + 7 * stride));
    return _mm256_cvtph_ps(h);
}

/* always inlined with a constant type (see QM_DOT_NAME): no switch per block */
static inline __attribute__((always_inline)) float dot32(uint32_t type, const uint8_t *row,
                                                        const qm_act *a) {
    const size_t bb = type == QT_Q4_0 ? 18 : type == QT_Q4_1 ? 20 : type == QT_Q5_0 ? 22
                    : type == QT_Q5_1 ? 24 : 34;
    const int has_min = type == QT_Q4_1 || type == QT_Q5_1;
    const int64_t nb = a->n_blocks;
    __m256 acc = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= nb; k += 8) {
        __m256i v[8];
        for (int i = 0; i < 8; i++)
            v[i] = idot8(codes32(type, row, k + i),
                         _mm256_loadu_si256((const __m256i *)(a->q + 32 * (k + i))));
        const __m256 isum = _mm256_cvtepi32_ps(hsum8(v));
        const __m256 sd = _mm256_mul_ps(halves8(row + k * bb, bb), _mm256_loadu_ps(a->d + k));
        acc = _mm256_fmadd_ps(sd, isum, acc);
        if (has_min)
            acc = _mm256_fmadd_ps(halves8(row + k * bb + 2, bb), _mm256_loadu_ps(a->s + k), acc);
    }
    if (k == nb) return lanes_sum(acc);
    /* the last nb % 8 blocks one by one, each into its own lane */
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    for (; k < nb; k++) {
        const __m256i p = idot8(codes32(type, row, k),
                                _mm256_loadu_si256((const __m256i *)(a->q + 32 * k)));
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
        qm_factors f;
        qm_block_factors(type, row, k, &f);
        float v = fmaf(f.scale * a->d[k], (float)_mm_cvtsi128_si32(t), lanes[k % 8]);
        if (f.has_min) v = fmaf(f.min, a->s[k], v);
        lanes[k % 8] = v;
    }
    return qm_lanes_sum(lanes);
}

/* Q4_K / Q5_K: per super-block, the 8 sub-blocks are the 8 lanes. */
static float dot_k45(uint32_t type, const uint8_t *row, const qm_act *a) {
    const int q5 = type == QT_Q5_K;
    const size_t bb = q5 ? 176 : 144;
    const int64_t nsb = a->n_blocks / 8;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *b = row + sb * bb, *qs = b + (q5 ? 48 : 16);
        const int8_t *q = a->q + 256 * sb;
        __m256i v[8];
        const __m256i hbits = q5 ? _mm256_loadu_si256((const __m256i *)(b + 16)) : one;
        for (int c = 0; c < 4; c++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(x, m4), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
            if (q5) {
                const __m128i s0 = _mm_cvtsi32_si128(2 * c), s1 = _mm_cvtsi32_si128(2 * c + 1);
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(
                                             _mm256_and_si256(_mm256_srl_epi16(hbits, s0), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(
                                             _mm256_and_si256(_mm256_srl_epi16(hbits, s1), one), 4));
            }
            v[2 * c] = idot8(lo, _mm256_loadu_si256((const __m256i *)(q + 64 * c)));
            v[2 * c + 1] = idot8(hi, _mm256_loadu_si256((const __m256i *)(q + 64 * c + 32)));
        }
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) qm_scale_min_k4(j, b + 4, &sc[j], &mn[j]);
        const __m256 scf = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)sc));
        const __m256 mnf = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)mn));
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(qm_h(b)), scf);
        const __m256 minv = _mm256_xor_ps(_mm256_mul_ps(_mm256_set1_ps(qm_h(b + 2)), mnf), sign);
        const __m256 sd = _mm256_mul_ps(scale, _mm256_loadu_ps(a->d + 8 * sb));
        acc = _mm256_fmadd_ps(sd, _mm256_cvtepi32_ps(hsum8(v)), acc);
        acc = _mm256_fmadd_ps(minv, _mm256_loadu_ps(a->s + 8 * sb), acc);
    }
    return lanes_sum(acc);
}

static float dot_q6k(const uint8_t *row, const qm_act *a) {
    const int64_t nsb = a->n_blocks / 8;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *b = row + sb * 210;
        const int8_t *scales = (const int8_t *)(b + 192);
        const int8_t *q = a->q + 256 * sb;
        __m256i v[8];
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            for (int part = 0; part < 4; part++) {
                const __m256i src = part & 1 ? l1 : l0;
                const __m256i nib = part < 2 ? _mm256_and_si256(src, m4)
                                             : _mm256_and_si256(_mm256_srli_epi16(src, 4), m4);
                const __m256i hb = _mm256_and_si256(
                    _mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * part)), m3);
                const __m256i w = _mm256_sub_epi8(_mm256_or_si256(nib, _mm256_slli_epi16(hb, 4)), off);
                const int j = 4 * half + part;
                const __m256i p = idot8(w, _mm256_loadu_si256((const __m256i *)(q + 32 * j)));
                const int8_t *sc = scales + 8 * half + 2 * part;
                const __m256i scv = _mm256_setr_epi32(sc[0], sc[0], sc[0], sc[0], sc[1], sc[1],
                                                      sc[1], sc[1]);
                v[j] = _mm256_mullo_epi32(p, scv);
            }
        }
        const __m256 sd = _mm256_mul_ps(_mm256_set1_ps(qm_h(b + 208)), _mm256_loadu_ps(a->d + 8 * sb));
        acc = _mm256_fmadd_ps(sd, _mm256_cvtepi32_ps(hsum8(v)), acc);
    }
    return lanes_sum(acc);
}

float QM_DOT_NAME(uint32_t type, const void *row, const qm_act *a) {
    switch (type) {
    case QT_Q4_K:
    case QT_Q5_K: return dot_k45(type, row, a);
    case QT_Q6_K: return dot_q6k(row, a);
    case QT_Q4_0: return dot32(QT_Q4_0, row, a);
    case QT_Q4_1: return dot32(QT_Q4_1, row, a);
    case QT_Q5_0: return dot32(QT_Q5_0, row, a);
    case QT_Q5_1: return dot32(QT_Q5_1, row, a);
    default: return dot32(QT_Q8_0, row, a);
    }
}

/* Dequantisation of 32-blocks [k0, k1) of one row, the reference's
 * arithmetic per value: scale · code (+ min), a multiply then an add. */
static inline __attribute__((always_inline)) void dequant32(uint32_t type, const uint8_t *row,
                                                            int64_t k0, int64_t k1, float *out) {
    for (int64_t k = k0; k < k1; k++) {
        const __m256i w = codes32(type, row, k);
        qm_factors f;
        qm_block_factors(type, row, k, &f);
        const __m256 sc = _mm256_set1_ps(f.scale), mn = _mm256_set1_ps(f.min);
        const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
        const __m256i w32[4] = {_mm256_cvtepi8_epi32(lo), _mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)),
                                _mm256_cvtepi8_epi32(hi), _mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))};
        for (int i = 0; i < 4; i++) {
            __m256 v = _mm256_mul_ps(sc, _mm256_cvtepi32_ps(w32[i]));
            if (f.has_min) v = _mm256_add_ps(v, mn);
            _mm256_storeu_ps(out + 32 * (k - k0) + 8 * i, v);
        }
    }
}

#ifdef QM_VNNI
#define QM_DEQ_NAME qm_dequant_avx512vnni
#else
#define QM_DEQ_NAME qm_dequant_avx2
#endif

/* 1 if done, 0 if the type is left to the reference (K-quants). */
int QM_DEQ_NAME(uint32_t type, const void *row, int64_t n_blocks, float *out) {
    switch (type) {
    case QT_Q4_0: dequant32(QT_Q4_0, row, 0, n_blocks, out); return 1;
    case QT_Q4_1: dequant32(QT_Q4_1, row, 0, n_blocks, out); return 1;
    case QT_Q5_0: dequant32(QT_Q5_0, row, 0, n_blocks, out); return 1;
    case QT_Q5_1: dequant32(QT_Q5_1, row, 0, n_blocks, out); return 1;
    case QT_Q8_0: dequant32(QT_Q8_0, row, 0, n_blocks, out); return 1;
    }
    return 0;
}
