/* The AVX-512 VNNI kernels of qm_dot: qmatmul_avx2.c with vpdpbusd (256-bit,
 * AVX512-VL encoding) for the K-quants, and below, 512-bit kernels for the
 * 32-block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), the activation quantiser and
 * a matrix-vector product that runs two rows at once. Compiled with
 * -mavx512vnni -mavx512vl -mavx512bw (+ AVX2/FMA/F16C); every result has the
 * bits of the scalar reference (qmatmul.h): integer block sums are exact
 * whatever the instructions, and the float part uses the same lanes (block k
 * into lane k mod 8), the same fused multiply-adds and the same final tree.
 *
 * Why it is faster than the 256-bit code: per 8 blocks, the 4-bit codes of
 * 4 blocks are gathered into one register by a word permute (vpermt2w; every
 * field of these blocks is 16-bit aligned) and their scales by two more,
 * instead of a load and an insert per block and 16 scalar loads for the
 * scales; the activation codes are stored pre-arranged in the order the
 * nibbles unpack (qm_act.qp), so one vpdpbusd covers 4 half-blocks; the
 * codes' offsets (−8, −16, the +128 that makes Q8_0 codes unsigned) are
 * taken out afterwards with the activation block sums (Σ(n−8)q = Σnq − 8Σq).
 */
#define QM_VNNI 1
#include "qmatmul_avx2.c"

/* Words per block, word of the codes, word of the 5th bits (Q5_*). */
#define QW(t) ((t) == QT_Q4_0 ? 9 : (t) == QT_Q4_1 ? 10 : (t) == QT_Q5_0 ? 11 : 12)
#define QO(t) ((t) == QT_Q4_0 ? 1 : (t) == QT_Q4_1 ? 2 : (t) == QT_Q5_0 ? 3 : 4)
#define QH(t) ((t) == QT_Q5_0 ? 1 : 2)

/* vpermt2w indices for one type. A group of 8 blocks (16·W bytes) is read as
 * four 64-byte windows: X at word 0, Y at 32 (blocks 0-3), P at 4W, Q at
 * 8W − 32 (blocks 4-7; all inside the group since 8 <= W <= 16). */
typedef struct q4_ix {
    __m512i qlo, qhi; /* 128-bit lane j: the 16 code bytes of block j / 4 + j */
    __m512i slo, shi; /* words 0-7: d of blocks 0-7, 8-15: m (low from X,Y; high from P,Q) */
    __m512i hlo, hhi; /* lane j: qh of block j / 4 + j in each dword */
} q4_ix;

static int hi_map(int W, int w) { return w - 4 * W < 32 ? w - 4 * W : 32 + w - (8 * W - 32); }

static q4_ix q4_index(uint32_t type) {
    const int W = QW(type), o = QO(type), h = QH(type);
    uint16_t t[6][32];
    for (int e = 0; e < 32; e++) {
        const int k = e / 8, i = e % 8;
        t[0][e] = (uint16_t)(k * W + o + i);
        t[1][e] = (uint16_t)hi_map(W, (4 + k) * W + o + i);
        const int sb = e < 8 ? e : e < 16 ? e - 8 : 0, sm = e >= 8 && e < 16;
        t[2][e] = (uint16_t)(sb < 4 ? sb * W + sm : 0);
        t[3][e] = (uint16_t)(sb >= 4 ? hi_map(W, sb * W + sm) : 0);
        t[4][e] = (uint16_t)(k * W + h + i % 2);
        t[5][e] = (uint16_t)hi_map(W, (4 + k) * W + h + i % 2);
    }
    q4_ix ix;
    ix.qlo = _mm512_loadu_si512(t[0]);
    ix.qhi = _mm512_loadu_si512(t[1]);
    ix.slo = _mm512_loadu_si512(t[2]);
    ix.shi = _mm512_loadu_si512(t[3]);
    ix.hlo = _mm512_loadu_si512(t[4]);
    ix.hhi = _mm512_loadu_si512(t[5]);
    return ix;
}

/* Adds 16 to the bytes whose 5th bit is set: lane j of h holds block j's qh
 * in each dword; part 0 = values 0-15 (bits 0-15), part 1 = 16-31. */
static inline __attribute__((always_inline)) __m512i add_qh(__m512i v, __m512i h, int part) {
    const __m512i sel = _mm512_set1_epi64((long long)0x8040201008040201ULL);
    /* byte i of a lane <- qh byte 2·part + i/8 */
    const __m512i base = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    const __m512i c = part ? _mm512_add_epi8(base, _mm512_set1_epi8(2)) : base;
    const __mmask64 k = _mm512_test_epi8_mask(_mm512_shuffle_epi8(h, c), sel);
    return _mm512_mask_add_epi8(v, k, v, _mm512_set1_epi8(16));
}

/* [Σ block 0, ..., Σ block 7] from T0 (lane j: block j) and T1 (block 4+j). */
static inline __m256i reduce_q4(__m512i t0, __m512i t1) {
    const __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi32(t0, t1), _mm512_unpackhi_epi32(t0, t1));
    const __m512i v = _mm512_add_epi32(u, _mm512_shuffle_epi32(u, _MM_PERM_BADC));
    const __m512i ix = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castsi512_si256(_mm512_permutexvar_epi32(ix, v));
}

/* The 64 bytes at base + off, of which only the first n of base are read
 * when r < 8 (the row's last blocks: the end of the mapping may follow). */
static inline __attribute__((always_inline)) __m512i win(const uint8_t *base, int off, int n,
                                                        int r) {
    if (r == 8) return _mm512_loadu_si512(base + off);
    const int words = n <= off ? 0 : (n - off) / 2 >= 32 ? 32 : (n - off) / 2;
    const __mmask32 k = words == 32 ? 0xFFFFFFFFu : (__mmask32)((1u << words) - 1);
    return _mm512_maskz_loadu_epi16(k, base + off);
}

/* r blocks (8, or the row's last r < 8) of a 4/5-bit type at base
 * (activation blocks k0 .. k0+r−1) into lanes 0 .. r−1. */
static inline __attribute__((always_inline)) __m256 q4_group(uint32_t type, const uint8_t *base,
                                                            const qm_act *a, int64_t k0,
                                                            const q4_ix *ix, __m256 acc,
                                                            int r) {
    const int W = QW(type);
    const int q5 = type == QT_Q5_0 || type == QT_Q5_1;
    const int has_min = type == QT_Q4_1 || type == QT_Q5_1;
    const __mmask8 lanes = (__mmask8)((1u << r) - 1);
    const int n = r * 2 * W; /* bytes of the r blocks */
    const __m512i X = win(base, 0, n, r), Y = win(base, 64, n, r);
    /* a tail of at most 4 blocks: the second half (P, Q, blocks 4-7) is zero */
    const int half = r <= 4;
    const __m512i P = half ? _mm512_setzero_si512() : win(base, 8 * W, n, r);
    const __m512i Q = half ? _mm512_setzero_si512() : win(base, 16 * W - 64, n, r);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const int8_t *qp = a->qp + 32 * k0;
    const __m512i c0 = _mm512_permutex2var_epi16(X, ix->qlo, Y);
    __m512i lo0 = _mm512_and_si512(c0, m4), hi0 = _mm512_and_si512(_mm512_srli_epi16(c0, 4), m4);
    if (q5) {
        const __m512i h0 = _mm512_permutex2var_epi16(X, ix->hlo, Y);
        lo0 = add_qh(lo0, h0, 0);
        hi0 = add_qh(hi0, h0, 1);
    }
    __m512i t0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo0, _mm512_loadu_si512(qp));
    t0 = _mm512_dpbusd_epi32(t0, hi0, _mm512_loadu_si512(qp + 64));
    __m512i t1 = _mm512_setzero_si512();
    if (!half) {
        const __m512i c1 = _mm512_permutex2var_epi16(P, ix->qhi, Q);
        __m512i lo1 = _mm512_and_si512(c1, m4);
        __m512i hi1 = _mm512_and_si512(_mm512_srli_epi16(c1, 4), m4);
        if (q5) {
            const __m512i h1 = _mm512_permutex2var_epi16(P, ix->hhi, Q);
            lo1 = add_qh(lo1, h1, 0);
            hi1 = add_qh(hi1, h1, 1);
        }
        t1 = _mm512_dpbusd_epi32(t1, lo1, _mm512_loadu_si512(qp + 128));
        t1 = _mm512_dpbusd_epi32(t1, hi1, _mm512_loadu_si512(qp + 192));
    }
    __m256i isum = reduce_q4(t0, t1);
    if (type == QT_Q4_0 || type == QT_Q5_0) /* codes n − 8 / n − 16 */
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(
                                          _mm256_loadu_si256((const __m256i *)(a->qsum + k0)),
                                          type == QT_Q4_0 ? 3 : 4));
    const __m512i sc = _mm512_mask_blend_epi16(0xF0F0, _mm512_permutex2var_epi16(X, ix->slo, Y),
                                               _mm512_permutex2var_epi16(P, ix->shi, Q));
    const __m256 d = _mm256_cvtph_ps(_mm512_castsi512_si128(sc));
    const __m256 sd = _mm256_mul_ps(d, _mm256_loadu_ps(a->d + k0));
    acc = _mm256_mask3_fmadd_ps(sd, _mm256_cvtepi32_ps(isum), acc, lanes);
    if (has_min) {
        const __m256 m = _mm256_cvtph_ps(_mm512_extracti32x4_epi32(sc, 1));
        acc = _mm256_mask3_fmadd_ps(m, _mm256_loadu_ps(a->s + k0), acc, lanes);
    }
    return acc;
}

/* Q8_0 scale indices: d of blocks 0-3 from windows 0,1 (words 17k), 4-7 from 2,3. */
static __m512i q8_sidx(int hi) {
    uint16_t t[32] = {0};
    for (int k = 0; k < 4; k++) t[4 * hi + k] = (uint16_t)(17 * (4 * hi + k) - 64 * hi);
    return _mm512_loadu_si512(t);
}

static inline __attribute__((always_inline)) __m256i blk8(const uint8_t *b, int k, int r) {
    if (r == 8) return _mm256_loadu_si256((const __m256i *)b);
    return _mm256_maskz_loadu_epi8(k < r ? 0xFFFFFFFFu : 0, b);
}

static inline __attribute__((always_inline)) __m256 q8_group(const uint8_t *base, const qm_act *a,
                                                            int64_t k0, __m512i slo, __m512i shi,
                                                            __m256 acc, int r) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __mmask8 lanes = (__mmask8)((1u << r) - 1);
    const int n = 34 * r;
    const int8_t *q = a->q + 32 * k0;
    __m512i t[4];
    for (int i = 0; i < 4; i++) {
        if (r <= 4 && i >= 2) { /* a tail of at most 4 blocks */
            t[i] = _mm512_setzero_si512();
            continue;
        }
        const uint8_t *b = base + 68 * i + 2;
        const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(blk8(b, 2 * i, r)),
                                             blk8(b + 34, 2 * i + 1, r), 1);
        /* w + 128 as unsigned bytes: Σ(w+128)q − 128Σq = Σwq */
        t[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(w, flip),
                                   _mm512_loadu_si512(q + 64 * i));
    }
    /* t[i]: 128-bit lanes 0,1 = block 2i, lanes 2,3 = block 2i+1 */
    const __m512i A = _mm512_add_epi32(_mm512_unpacklo_epi32(t[0], t[1]),
                                       _mm512_unpackhi_epi32(t[0], t[1]));
    const __m512i B = _mm512_add_epi32(_mm512_unpacklo_epi32(t[2], t[3]),
                                       _mm512_unpackhi_epi32(t[2], t[3]));
    const __m512i C = _mm512_add_epi32(_mm512_unpacklo_epi64(A, B), _mm512_unpackhi_epi64(A, B));
    const __m512i D = _mm512_add_epi32(C, _mm512_shuffle_i64x2(C, C, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m512i ix = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 0, 0, 0, 0, 0, 0, 0, 0);
    __m256i isum = _mm512_castsi512_si256(_mm512_permutexvar_epi32(ix, D));
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(
                                      _mm256_loadu_si256((const __m256i *)(a->qsum + k0)), 7));
    const __m512i sc = _mm512_mask_blend_epi16(
        0xF0,
        _mm512_permutex2var_epi16(win(base, 0, n, r), slo, win(base, 64, n, r)),
        _mm512_permutex2var_epi16(win(base, 128, n, r), shi, win(base, 192, n, r)));
    const __m256 sd = _mm256_mul_ps(_mm256_cvtph_ps(_mm512_castsi512_si128(sc)),
                                    _mm256_loadu_ps(a->d + k0));
    return _mm256_mask3_fmadd_ps(sd, _mm256_cvtepi32_ps(isum), acc, lanes);
}

typedef struct q_ctx {
    q4_ix ix;
    __m512i slo, shi; /* Q8_0 */
} q_ctx;

static q_ctx make_ctx(uint32_t type) {
    q_ctx c;
    memset(&c, 0, sizeof c);
    if (type == QT_Q8_0) {
        c.slo = q8_sidx(0);
        c.shi = q8_sidx(1);
    } else {
        c.ix = q4_index(type);
    }
    return c;
}

static inline __attribute__((always_inline)) __m256 group(uint32_t type, const uint8_t *base,
                                                         const qm_act *a, int64_t k0,
                                                         const q_ctx *c, __m256 acc, int r) {
    if (type == QT_Q8_0) return q8_group(base, a, k0, c->slo, c->shi, acc, r);
    return q4_group(type, base, a, k0, &c->ix, acc, r);
}

static inline __attribute__((always_inline)) size_t block_bytes32(uint32_t type) {
    return type == QT_Q8_0 ? 34 : 2 * (size_t)QW(type);
}

/* The last nb % 8 blocks of a row, by masked loads (nothing past the row is
 * read: the end of the mapping may follow). */
static inline __attribute__((always_inline)) __m256 tail(uint32_t type, const uint8_t *row,
                                                        const qm_act *a, const q_ctx *c,
                                                        __m256 acc) {
    const int64_t nb = a->n_blocks, full = nb / 8 * 8;
    const int r = (int)(nb - full);
    if (!r) return acc;
    return group(type, row + full * block_bytes32(type), a, full, c, acc, r);
}

static inline __attribute__((always_inline)) float row_dot(uint32_t type, const uint8_t *row,
                                                          const qm_act *a, const q_ctx *c) {
    const size_t gb = 8 * block_bytes32(type);
    const int64_t ng = a->n_blocks / 8;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t g = 0; g < ng; g++) acc = group(type, row + g * gb, a, 8 * g, c, acc, 8);
    return lanes_sum(tail(type, row, a, c, acc));
}

/* Rows [r0, r1), two at a time (two independent chains of fused adds). */
static inline __attribute__((always_inline)) void rows_dot(uint32_t type, const qm_matrix *m,
                                                          const qm_act *a, float *y, int64_t r0,
                                                          int64_t r1, int accumulate) {
    const q_ctx c = make_ctx(type);
    const size_t gb = 8 * block_bytes32(type), rb = m->row_bytes;
    const int64_t ng = a->n_blocks / 8;
    const uint8_t *data = m->data;
    int64_t r = r0;
    for (; r + 2 <= r1; r += 2) {
        const uint8_t *ra = data + (size_t)r * rb, *rbp = ra + rb;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        for (int64_t g = 0; g < ng; g++) {
            acc0 = group(type, ra + g * gb, a, 8 * g, &c, acc0, 8);
            acc1 = group(type, rbp + g * gb, a, 8 * g, &c, acc1, 8);
        }
        const float v0 = lanes_sum(tail(type, ra, a, &c, acc0));
        const float v1 = lanes_sum(tail(type, rbp, a, &c, acc1));
        y[r] = accumulate ? y[r] + v0 : v0;
        y[r + 1] = accumulate ? y[r + 1] + v1 : v1;
    }
    if (r < r1) {
        const float v = row_dot(type, data + (size_t)r * rb, a, &c);
        y[r] = accumulate ? y[r] + v : v;
    }
}

int qm_matvec_avx512(const qm_matrix *m, const qm_act *a, float *y, int64_t r0, int64_t r1,
                     int accumulate) {
    switch (m->type) {
    case QT_Q4_0: rows_dot(QT_Q4_0, m, a, y, r0, r1, accumulate); return 1;
    case QT_Q4_1: rows_dot(QT_Q4_1, m, a, y, r0, r1, accumulate); return 1;
    case QT_Q5_0: rows_dot(QT_Q5_0, m, a, y, r0, r1, accumulate); return 1;
    case QT_Q5_1: rows_dot(QT_Q5_1, m, a, y, r0, r1, accumulate); return 1;
    case QT_Q8_0: rows_dot(QT_Q8_0, m, a, y, r0, r1, accumulate); return 1;
    }
    return 0;
}

float qm_dot_avx512vnni(uint32_t type, const void *row, const qm_act *a) {
    switch (type) {
    case QT_Q4_0: { const q_ctx c = make_ctx(QT_Q4_0); return row_dot(QT_Q4_0, row, a, &c); }
    case QT_Q4_1: { const q_ctx c = make_ctx(QT_Q4_1); return row_dot(QT_Q4_1, row, a, &c); }
    case QT_Q5_0: { const q_ctx c = make_ctx(QT_Q5_0); return row_dot(QT_Q5_0, row, a, &c); }
    case QT_Q5_1: { const q_ctx c = make_ctx(QT_Q5_1); return row_dot(QT_Q5_1, row, a, &c); }
    case QT_Q8_0: { const q_ctx c = make_ctx(QT_Q8_0); return row_dot(QT_Q8_0, row, a, &c); }
    }
    return qm_dot_vnni256(type, row, a);
}

/* qm_quantize with 512-bit registers, the reference's operations lane by lane
 * (max of |x|, one division per value, clamp, round by 1.5·2^23). */
void qm_quantize_avx512(const float *x, int64_t cols, qm_act *a) {
    const int64_t nb = cols / QM_BLOCK;
    const __m512 magic = _mm512_set1_ps(12582912.0f), lo = _mm512_set1_ps(-127.0f),
                 hi = _mm512_set1_ps(127.0f);
    a->cols = cols;
    a->n_blocks = nb;
    for (int64_t b = 0; b < nb; b++) {
        const __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
        const __mmask16 nan = _mm512_cmp_ps_mask(x0, x0, _CMP_UNORD_Q) |
                              _mm512_cmp_ps_mask(x1, x1, _CMP_UNORD_Q);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
        const float d = nan ? NAN : amax / 127.0f;
        __m512i i0 = _mm512_setzero_si512(), i1 = _mm512_setzero_si512();
        if (d > 0.0f && isfinite(d)) {
            const __m512 dv = _mm512_set1_ps(d);
            __m512 v0 = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x0, dv), lo), hi);
            __m512 v1 = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x1, dv), lo), hi);
            v0 = _mm512_sub_ps(_mm512_add_ps(v0, magic), magic);
            v1 = _mm512_sub_ps(_mm512_add_ps(v1, magic), magic);
            i0 = _mm512_cvtps_epi32(v0); /* integral already: exact */
            i1 = _mm512_cvtps_epi32(v1);
        }
        const __m128i q0 = _mm512_cvtepi32_epi8(i0), q1 = _mm512_cvtepi32_epi8(i1);
        _mm_storeu_si128((__m128i *)(a->q + 32 * b), q0);
        _mm_storeu_si128((__m128i *)(a->q + 32 * b + 16), q1);
        int8_t *g = a->qp + 128 * (b / 4) + 16 * (b % 4);
        _mm_storeu_si128((__m128i *)g, q0);
        _mm_storeu_si128((__m128i *)(g + 64), q1);
        const int s0 = _mm512_reduce_add_epi32(i0), s1 = _mm512_reduce_add_epi32(i1);
        a->d[b] = d;
        a->qs16[2 * b] = (int16_t)s0;
        a->qs16[2 * b + 1] = (int16_t)s1;
        a->qsum[b] = s0 + s1;
        a->s[b] = d * (float)(s0 + s1);
    }
    qm_act_pad(a, nb);
}

/* ------------------------------------------------- matrix × several tokens
 *
 * For a prompt: 16 weight rows at a time are unpacked once into a tile
 * (codes + 128 as unsigned bytes, laid out so that 32-bit lane l of vector j
 * holds codes 4j .. 4j+3 of row l, and each row's block factors), then every
 * token runs through the tile: 8 vpdpbusd per block give 16 rows' exact block
 * sums at once (the activation's 4 bytes broadcast), with no horizontal
 * reduction. The float part is the reference's, per row and token: lane
 * L = k mod 8 accumulates blocks L, L+8, ... in order (so one accumulator per
 * token while L is fixed), then the fixed tree over the 8 lanes. So the result
 * has the bits of qm_dot for each token. */

#define GT 16 /* rows per tile */

typedef struct qm_tile {
    int64_t nb;
    uint8_t *codes;    /* [nb][8 vectors][16 rows][4 bytes] */
    float *scale;      /* [nb][16] */
    float *min;        /* [nb][16] (signed as in qm_factors; 0 without a min) */
    int32_t *sc0, *sc1; /* [nb][16] Q6_K sub-scales, else 1 */
} qm_tile;

static void tile_unpack(const qm_matrix *m, int64_t r, int rows, qm_tile *t) {
    const uint32_t type = m->type;
    uint32_t *c32 = (uint32_t *)t->codes;
    for (int l = 0; l < GT; l++) {
        const uint8_t *row = (const uint8_t *)m->data + (size_t)(r + l) * m->row_bytes;
        for (int64_t k = 0; k < t->nb; k++) {
            const int64_t o = 16 * k + l;
            if (l >= rows) { /* past the matrix: zero codes and factors, result dropped */
                for (int j = 0; j < 8; j++) c32[128 * k + 16 * j + l] = 0;
                t->scale[o] = t->min[o] = 0.0f;
                t->sc0[o] = t->sc1[o] = 0;
                continue;
            }
            _Alignas(32) int8_t w[32];
            if (type == QT_Q4_0 || type == QT_Q4_1 || type == QT_Q5_0 || type == QT_Q5_1 ||
                type == QT_Q8_0)
                _mm256_store_si256((__m256i *)w, codes32(type, row, k));
            else
                qm_codes(type, row, k, w);
            uint32_t u[8];
            memcpy(u, w, 32);
            for (int j = 0; j < 8; j++) c32[128 * k + 16 * j + l] = u[j] ^ 0x80808080u;
            qm_factors f;
            qm_block_factors(type, row, k, &f);
            t->scale[o] = f.scale;
            t->min[o] = f.has_min ? f.min : 0.0f;
            t->sc0[o] = f.sc0;
            t->sc1[o] = f.sc1;
        }
    }
}

/* 16 rows × NT tokens (acts[0 .. NT-1]) through the tile into out[i][16]. */
static inline __attribute__((always_inline)) void tile_tokens(const qm_tile *t, const qm_act *acts,
                                                             int NT, int has_min, int q6,
                                                             float out[4][16]) {
    const __m512i *W = (const __m512i *)t->codes;
    __m512 lane[4][8];
    for (int L = 0; L < 8; L++) {
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                         _mm512_setzero_ps()};
        for (int64_t k = L; k < t->nb; k += 8) {
            const __m512i *w = W + 8 * k;
            const __m512 sc = _mm512_loadu_ps(t->scale + 16 * k);
            for (int i = 0; i < NT; i++) {
                const qm_act *a = acts + i;
                const int32_t *q = (const int32_t *)(a->q + 32 * k);
                __m512i p0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], _mm512_set1_epi32(q[0]));
                __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[4], _mm512_set1_epi32(q[4]));
                p0 = _mm512_dpbusd_epi32(p0, w[1], _mm512_set1_epi32(q[1]));
                p1 = _mm512_dpbusd_epi32(p1, w[5], _mm512_set1_epi32(q[5]));
                p0 = _mm512_dpbusd_epi32(p0, w[2], _mm512_set1_epi32(q[2]));
                p1 = _mm512_dpbusd_epi32(p1, w[6], _mm512_set1_epi32(q[6]));
                p0 = _mm512_dpbusd_epi32(p0, w[3], _mm512_set1_epi32(q[3]));
                p1 = _mm512_dpbusd_epi32(p1, w[7], _mm512_set1_epi32(q[7]));
                __m512i isum;
                if (q6) { /* (codes + 128)·q − 128·Σq per half, times its sub-scale */
                    const __m512i lo = _mm512_sub_epi32(p0, _mm512_set1_epi32(128 * a->qs16[2 * k]));
                    const __m512i hi = _mm512_sub_epi32(p1, _mm512_set1_epi32(128 * a->qs16[2 * k + 1]));
                    isum = _mm512_add_epi32(
                        _mm512_mullo_epi32(_mm512_loadu_si512(t->sc0 + 16 * k), lo),
                        _mm512_mullo_epi32(_mm512_loadu_si512(t->sc1 + 16 * k), hi));
                } else {
                    isum = _mm512_sub_epi32(_mm512_add_epi32(p0, p1),
                                            _mm512_set1_epi32(128 * a->qsum[k]));
                }
                const __m512 sd = _mm512_mul_ps(sc, _mm512_set1_ps(a->d[k]));
                acc[i] = _mm512_fmadd_ps(sd, _mm512_cvtepi32_ps(isum), acc[i]);
                if (has_min)
                    acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(t->min + 16 * k),
                                             _mm512_set1_ps(a->s[k]), acc[i]);
            }
        }
        for (int i = 0; i < NT; i++) lane[i][L] = acc[i];
    }
    for (int i = 0; i < NT; i++) {
        const __m512 *v = lane[i];
        const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(v[0], v[4]), _mm512_add_ps(v[2], v[6])),
                                       _mm512_add_ps(_mm512_add_ps(v[1], v[5]), _mm512_add_ps(v[3], v[7])));
        _mm512_storeu_ps(out[i], s);
    }
}

static void tile_run(const qm_tile *t, const qm_act *acts, int nt, int has_min, int q6,
                     float out[4][16]) {
#define QM_TT(N)                                                                              \
    do {                                                                                      \
        if (q6) tile_tokens(t, acts, N, 0, 1, out);                                           \
        else if (has_min) tile_tokens(t, acts, N, 1, 0, out);                                 \
        else tile_tokens(t, acts, N, 0, 0, out);                                              \
    } while (0)
    switch (nt) {
    case 4: QM_TT(4); break;
    case 3: QM_TT(3); break;
    case 2: QM_TT(2); break;
    default: QM_TT(1); break;
    }
#undef QM_TT
}

int qm_gemm_avx512(const qm_matrix *m, const qm_act *acts, int64_t n, float *y, int64_t ldy,
                   int64_t r0, int64_t r1, int accumulate) {
    const uint32_t type = m->type;
    const int has_min = type == QT_Q4_1 || type == QT_Q5_1 || type == QT_Q4_K || type == QT_Q5_K;
    const int q6 = type == QT_Q6_K;
    qm_tile t;
    t.nb = m->cols / 32;
    const size_t nb = (size_t)t.nb;
    void *mem = aligned_alloc(64, nb * 512 + nb * 16 * 4 * 4);
    if (!mem) return 0;
    t.codes = mem;
    t.scale = (float *)(t.codes + nb * 512);
    t.min = t.scale + nb * 16;
    t.sc0 = (int32_t *)(t.min + nb * 16);
    t.sc1 = t.sc0 + nb * 16;
    for (int64_t r = r0; r < r1; r += GT) {
        const int rows = r1 - r < GT ? (int)(r1 - r) : GT;
        tile_unpack(m, r, rows, &t);
        for (int64_t i = 0; i < n; i += 4) {
            const int nt = n - i < 4 ? (int)(n - i) : 4;
            float out[4][16];
            tile_run(&t, acts + i, nt, has_min, q6, out);
            for (int j = 0; j < nt; j++) {
                float *yr = y + (i + j) * ldy + r;
                for (int l = 0; l < rows; l++) yr[l] = accumulate ? yr[l] + out[j][l] : out[j][l];
            }
        }
    }
    free(mem);
    return 1;
}
