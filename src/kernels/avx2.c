/*
 * AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c).
 *
 * The same arithmetic as scalar.c lane by lane (c' = cos·scale, s' = ±sin·scale,
 * y0 = x0·c' − x1·s', y1 = x1·c' + x0·s'; for f32 every product rounded on its
 * own, no FMA; for f16/bf16 x0·c' (y0) and x1·c' (y1) fused, rot0/rot1), so
 * results are bit-identical to the reference; f16 uses the F16C
 * conversions (round to nearest even, as rope_f32_to_f16), bf16 the integer
 * round-to-nearest-even of rope_f32_to_bf16 (bf16 has its own 16-wide kernels,
 * below, that skip the widening shuffles). Chunks are 8 floats; what is left
 * of the rotary part after the last full chunk runs through a scalar loop
 * written exactly like the reference.
 *
 * sincos: kernels/sincos.h on 4 doubles, the same operations in the same
 * order as the scalar kernel, so the same bits.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/sincos.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define INLINE static inline __attribute__((always_inline))

enum { CH = 8, MAX_CH = ROPE_MAX_HEAD_DIM / CH };

INLINE size_t esize(int dt) { return dt == ROPE_KDTYPE_F32 ? 4 : 2; }

INLINE __m256 ld(const void *base, int64_t i, int dt) {
    if (dt == ROPE_KDTYPE_F32) return _mm256_loadu_ps((const float *)base + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)base + i));
    if (dt == ROPE_KDTYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE __m128i to_bf16(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    r = _mm256_srli_epi32(r, 16);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    if (__builtin_expect(_mm256_movemask_ps(nan) != 0, 0)) { /* NaN: quiet, truncate */
        const __m256i qnan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
        r = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(qnan), nan));
    }
    /* every lane is in [0, 0xffff]: the unsigned-saturating pack is exact */
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

/* nt: aligned non-temporal store (streaming mode, see avx512.c) */
INLINE void st(void *base, int64_t i, __m256 v, int dt, int nt) {
    if (dt == ROPE_KDTYPE_F32) {
        if (nt)
            _mm256_stream_ps((float *)base + i, v);
        else
            _mm256_storeu_ps((float *)base + i, v);
        return;
    }
    __m128i h = dt == ROPE_KDTYPE_F16 ? _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                                      : to_bf16(v);
    if (nt)
        _mm_stream_si128((__m128i *)((uint16_t *)base + i), h);
    else
        _mm_storeu_si128((__m128i *)((uint16_t *)base + i), h);
}

#define PF_DIST 4096

/* one prefetch per 64-byte line */
INLINE void prefetch_chunk(const unsigned char *x, int64_t i, int dt) {
    if ((i * (int64_t)esize(dt)) % 64 == 0)
        _mm_prefetch((const char *)x + i * (int64_t)esize(dt) + PF_DIST, _MM_HINT_T0);
}

/* ------------------------------------------- scalar remainder (reference) */

/* Pairs [from, R/2) exactly as scalar.c does them. */
static void rest(const rope_row_args *a, const unsigned char *x, unsigned char *y, int64_t from,
                 int half_style, int dt) {
    rope_ref_pairs(a, x, y, from, half_style, dt);
}

INLINE void copy_tail(const rope_row_args *a, const unsigned char *x, unsigned char *y, int dt) {
    if (y != x && a->head_dim > a->rotary_dim)
        memcpy(y + a->rotary_dim * (int64_t)esize(dt), x + a->rotary_dim * (int64_t)esize(dt),
               (size_t)(a->head_dim - a->rotary_dim) * esize(dt));
}

/* ----------------------------------------------------------- interleaved */

/* The pair arithmetic (kernel.h): float32 storage rounds each product
 * (y0 = x0·c − x1·s, HF's float32 bits); 16-bit storage fuses the first
 * product of each output, y0 = fma(x0, c, −(x1·s)), y1 = fma(x1, c, x0·s). */
INLINE __m256 rot0(__m256 x0, __m256 x1, __m256 c, __m256 s, int dt) {
    if (dt == ROPE_KDTYPE_F32) return _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s));
    return _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s));
}

INLINE __m256 rot1(__m256 x0, __m256 x1, __m256 c, __m256 s, int dt) {
    if (dt == ROPE_KDTYPE_F32) return _mm256_add_ps(_mm256_mul_ps(x1, c), _mm256_mul_ps(x0, s));
    return _mm256_fmadd_ps(x1, c, _mm256_mul_ps(x0, s));
}

/* Chunk j holds pairs 4j..4j+3: C = (c0,c0,c1,c1,..), S = (−s0,s0,−s1,s1,..)
 * (inverse: (s0,−s0,..)), y = x·C + swap(x)·S. */
INLINE void inter_prep(const rope_row_args *a, int64_t nch, __m256 *C, __m256 *S) {
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i neg = a->inverse ? _mm256_set1_epi64x((long long)0x8000000000000000ull)
                                   : _mm256_set1_epi64x(0x80000000ll);
    const __m128 sc = _mm_set1_ps(a->scale);
    for (int64_t j = 0; j < nch; j++) {
        __m128 c = _mm_mul_ps(_mm_loadu_ps(a->cos + 4 * j), sc);
        __m128 s = _mm_mul_ps(_mm_loadu_ps(a->sin + 4 * j), sc);
        C[j] = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(c), dup);
        S[j] = _mm256_castsi256_ps(_mm256_xor_si256(
            _mm256_castps_si256(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(s), dup)), neg));
    }
}

INLINE __m256 inter_rot(__m256 x, __m256 C, __m256 S, int dt) {
    __m256 xs = _mm256_permute_ps(x, 0xb1);
    if (dt == ROPE_KDTYPE_F32) return _mm256_add_ps(_mm256_mul_ps(x, C), _mm256_mul_ps(xs, S));
    return _mm256_fmadd_ps(x, C, _mm256_mul_ps(xs, S)); /* fma(x0, c, (−s)·x1) */
}

INLINE void inter_heads(const rope_row_args *a, int dt, int64_t nfull, const __m256 *C,
                        const __m256 *S) {
    const size_t es = esize(dt);
    const int64_t npairs = a->rotary_dim / 2;
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        const int nt = a->stream && ((uintptr_t)y & (CH * es - 1)) == 0;
        for (int64_t j = 0; j < nfull; j++) {
            if (a->stream) prefetch_chunk(x, CH * j, dt);
            st(y, CH * j, inter_rot(ld(x, CH * j, dt), C[j], S[j], dt), dt, nt);
        }
        if (4 * nfull < npairs) rest(a, x, y, 4 * nfull, 0, dt);
        copy_tail(a, x, y, dt);
    }
    if (a->stream) _mm_sfence(); /* order the non-temporal stores before the caller's */
}

INLINE void inter_row(const rope_row_args *a, int dt) {
    const int64_t nfull = a->rotary_dim / CH;
    __m256 C[MAX_CH], S[MAX_CH];
    inter_prep(a, nfull, C, S);
    if (a->rotary_dim == 128)
        inter_heads(a, dt, 16, C, S);
    else if (a->rotary_dim == 64)
        inter_heads(a, dt, 8, C, S);
    else
        inter_heads(a, dt, nfull, C, S);
}

/* ------------------------------------------------------------------ half */

INLINE void half_prep(const rope_row_args *a, int64_t nch, __m256 *C, __m256 *S) {
    const __m256 sc = _mm256_set1_ps(a->scale);
    const __m256 neg = _mm256_set1_ps(a->inverse ? -0.0f : 0.0f);
    for (int64_t j = 0; j < nch; j++) {
        C[j] = _mm256_mul_ps(_mm256_loadu_ps(a->cos + CH * j), sc);
        S[j] = _mm256_xor_ps(_mm256_mul_ps(_mm256_loadu_ps(a->sin + CH * j), sc), neg);
    }
}

INLINE void half_heads(const rope_row_args *a, int dt, int64_t hd, int64_t nfull,
                       const __m256 *C, const __m256 *S) {
    const size_t es = esize(dt);
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        const int nt = a->stream && hd % CH == 0 && ((uintptr_t)y & (CH * es - 1)) == 0;
        for (int64_t j = 0; j < nfull; j++) {
            __m256 x0 = ld(x, CH * j, dt), x1 = ld(x, CH * j + hd, dt);
            if (a->stream) {
                prefetch_chunk(x, CH * j, dt);
                prefetch_chunk(x, CH * j + hd, dt);
            }
            __m256 y0 = rot0(x0, x1, C[j], S[j], dt), y1 = rot1(x0, x1, C[j], S[j], dt);
            st(y, CH * j, y0, dt, nt);
            st(y, CH * j + hd, y1, dt, nt);
        }
        if (CH * nfull < hd) rest(a, x, y, CH * nfull, 1, dt);
        copy_tail(a, x, y, dt);
    }
    if (a->stream) _mm_sfence();
}

INLINE void half_row(const rope_row_args *a, int dt) {
    const int64_t hd = a->rotary_dim / 2, nfull = hd / CH;
    __m256 C[MAX_CH], S[MAX_CH];
    half_prep(a, nfull, C, S);
    if (hd == 64)
        half_heads(a, dt, 64, 8, C, S);
    else if (hd == 32)
        half_heads(a, dt, 32, 4, C, S);
    else
        half_heads(a, dt, hd, nfull, C, S);
}

/* --------------------------------------------------- bf16, 16 at a time
 * As in avx512.c: a 32-byte vector of 16 bf16 is 8 32-bit lanes of (odd << 16 |
 * even); the even elements widen to float32 by a shift and the odd ones by a
 * mask (no widening shuffle), and the results narrow with the integer rounding
 * of rope_f32_to_bf16 straight into the high (odd) or low (even) half of each
 * lane (no pack, no lane-crossing extract). Interleaved: even lane l and odd
 * lane l are one pair, cos/sin load as they are. Half: the even (odd) lanes of
 * the two halves pair up, cos/sin split into even and odd frequencies once per
 * call. What is left after the last whole 16 goes through the 8-wide code and
 * the reference. */

INLINE void bf_split(const void *base, int64_t i, __m256 *e, __m256 *o) {
    const __m256i u = _mm256_loadu_si256((const __m256i *)((const uint16_t *)base + i));
    *e = _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
    *o = _mm256_castsi256_ps(_mm256_and_si256(u, _mm256_set1_epi32((int)0xffff0000u)));
}

/* rope_f32_to_bf16 of each lane in its high 16 bits (the low 16 are not cleared) */
INLINE __m256i bf_round_hi(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    if (__builtin_expect(_mm256_movemask_ps(nan) != 0, 0)) { /* NaN: quiet, truncate */
        const __m256i qnan = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
        r = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(qnan), nan));
    }
    return r;
}

/* even elements from e, odd ones from o */
INLINE __m256i bf_join(__m256 e, __m256 o) {
    return _mm256_or_si256(_mm256_and_si256(bf_round_hi(o), _mm256_set1_epi32((int)0xffff0000u)),
                           _mm256_srli_epi32(bf_round_hi(e), 16));
}

INLINE void bf_store(void *base, int64_t i, __m256i v, int nt) {
    __m256i *p = (__m256i *)((uint16_t *)base + i);
    if (nt)
        _mm256_stream_si256(p, v);
    else
        _mm256_storeu_si256(p, v);
}

/* Interleaved: block b holds pairs 8b..8b+7 (half_prep's C/S are exactly those). */
INLINE void bf_inter_heads(const rope_row_args *a, int64_t nblk, const __m256 *C,
                           const __m256 *S) {
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * 2;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * 2;
        const int nt = a->stream && ((uintptr_t)y & 31) == 0;
        for (int64_t b = 0; b < nblk; b++) {
            __m256 e, o;
            bf_split(x, 16 * b, &e, &o);
            if (a->stream) prefetch_chunk(x, 16 * b, ROPE_KDTYPE_BF16);
            __m256 ye = rot0(e, o, C[b], S[b], ROPE_KDTYPE_BF16);
            __m256 yo = rot1(e, o, C[b], S[b], ROPE_KDTYPE_BF16);
            bf_store(y, 16 * b, bf_join(ye, yo), nt);
        }
        if (16 * nblk < a->rotary_dim) rest(a, x, y, 8 * nblk, 0, ROPE_KDTYPE_BF16);
        copy_tail(a, x, y, ROPE_KDTYPE_BF16);
    }
    if (a->stream) _mm_sfence();
}

static void inter_bf16(const rope_row_args *a) {
    const int64_t nblk = a->rotary_dim / 16;
    __m256 C[MAX_CH / 2], S[MAX_CH / 2];
    half_prep(a, nblk, C, S); /* pairs 8b..8b+7, as they are */
    if (a->rotary_dim == 128)
        bf_inter_heads(a, 8, C, S);
    else if (a->rotary_dim == 64)
        bf_inter_heads(a, 4, C, S);
    else
        bf_inter_heads(a, nblk, C, S);
}

/* Half: block b holds frequencies 16b..16b+15, even ones in Ce/Se, odd in Co/So;
 * C8/S8 the 8-wide chunk after the blocks, when there is one. */
/* imm 0x88: lanes 0, 2, .., 14 of the 16 in (a, b); 0xdd: lanes 1, 3, .., 15.
 * shuffle_ps takes (0, 2 | 4, 6) of each 128-bit half, the permute orders them. */
#define bf_evens(a, b, imm)                                                                  \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, imm)), 0xd8))

INLINE void bf_half_prep(const rope_row_args *a, int64_t nblk, __m256 *Ce, __m256 *Co,
                         __m256 *Se, __m256 *So) {
    __m256 C[MAX_CH], S[MAX_CH];
    half_prep(a, 2 * nblk, C, S);
    for (int64_t b = 0; b < nblk; b++) {
        Ce[b] = bf_evens(C[2 * b], C[2 * b + 1], 0x88);
        Co[b] = bf_evens(C[2 * b], C[2 * b + 1], 0xdd);
        Se[b] = bf_evens(S[2 * b], S[2 * b + 1], 0x88);
        So[b] = bf_evens(S[2 * b], S[2 * b + 1], 0xdd);
    }
}

INLINE void bf_half_heads(const rope_row_args *a, int64_t hd, int64_t nblk, const __m256 *Ce,
                          const __m256 *Co, const __m256 *Se, const __m256 *So, __m256 C8,
                          __m256 S8) {
    const int64_t done = 16 * nblk, n8 = hd - done >= 8;
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * 2;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * 2;
        const int nt = a->stream && hd % 16 == 0 && ((uintptr_t)y & 31) == 0;
        for (int64_t b = 0; b < nblk; b++) {
            __m256 e0, o0, e1, o1;
            bf_split(x, 16 * b, &e0, &o0);
            bf_split(x, hd + 16 * b, &e1, &o1);
            if (a->stream) {
                prefetch_chunk(x, 16 * b, ROPE_KDTYPE_BF16);
                prefetch_chunk(x, hd + 16 * b, ROPE_KDTYPE_BF16);
            }
            __m256 y0e = rot0(e0, e1, Ce[b], Se[b], ROPE_KDTYPE_BF16);
            __m256 y0o = rot0(o0, o1, Co[b], So[b], ROPE_KDTYPE_BF16);
            __m256 y1e = rot1(e0, e1, Ce[b], Se[b], ROPE_KDTYPE_BF16);
            __m256 y1o = rot1(o0, o1, Co[b], So[b], ROPE_KDTYPE_BF16);
            bf_store(y, 16 * b, bf_join(y0e, y0o), nt);
            bf_store(y, hd + 16 * b, bf_join(y1e, y1o), nt);
        }
        if (n8) {
            __m256 x0 = ld(x, done, ROPE_KDTYPE_BF16), x1 = ld(x, done + hd, ROPE_KDTYPE_BF16);
            st(y, done, rot0(x0, x1, C8, S8, ROPE_KDTYPE_BF16), ROPE_KDTYPE_BF16, 0);
            st(y, done + hd, rot1(x0, x1, C8, S8, ROPE_KDTYPE_BF16), ROPE_KDTYPE_BF16, 0);
        }
        if (done + 8 * n8 < hd) rest(a, x, y, done + 8 * n8, 1, ROPE_KDTYPE_BF16);
        copy_tail(a, x, y, ROPE_KDTYPE_BF16);
    }
    if (a->stream) _mm_sfence();
}

static void half_bf16(const rope_row_args *a) {
    const int64_t hd = a->rotary_dim / 2, nblk = hd / 16;
    __m256 Ce[MAX_CH / 2], Co[MAX_CH / 2], Se[MAX_CH / 2], So[MAX_CH / 2], C8[MAX_CH], S8[MAX_CH];
    bf_half_prep(a, nblk, Ce, Co, Se, So);
    half_prep(a, hd / CH, C8, S8); /* the 8-wide chunk after the blocks is C8[2·nblk] */
    const __m256 c8 = hd / CH > 2 * nblk ? C8[2 * nblk] : _mm256_setzero_ps();
    const __m256 s8 = hd / CH > 2 * nblk ? S8[2 * nblk] : _mm256_setzero_ps();
    if (hd == 64)
        bf_half_heads(a, 64, 4, Ce, Co, Se, So, c8, s8);
    else if (hd == 32)
        bf_half_heads(a, 32, 2, Ce, Co, Se, So, c8, s8);
    else
        bf_half_heads(a, hd, nblk, Ce, Co, Se, So, c8, s8);
}

/* ------------------------------------------------------------ de-interleave */

/* Chunk j = pairs 8j..8j+7 with half's C/S (half_prep). Forward: two loads of interleaved
 * pairs split into x0 = evens, x1 = odds (shuffle within 128-bit lanes, then 64-bit
 * permute), the half arithmetic, stores at 8j and 8j + R/2. Inverse: half loads, the
 * same arithmetic, y0/y1 re-interleaved (unpack, then 128-bit permute). Every chunk of a
 * head is loaded before any is stored, so in place is safe without a copy when the head
 * has no pairs after its last full chunk; those pairs (the reference's) are otherwise read
 * from a copy of the head (rope_ref_deint_src). No streaming stores (the same bits). */
INLINE void deint_load(const unsigned char *x, int dt, int inv, int64_t hd, int64_t nfull, __m256 *x0,
                       __m256 *x1) {
    for (int64_t j = 0; j < nfull; j++) {
        if (inv) {
            x0[j] = ld(x, CH * j, dt);
            x1[j] = ld(x, CH * j + hd, dt);
        } else {
            __m256 p = ld(x, 2 * CH * j, dt), q = ld(x, 2 * CH * j + CH, dt);
            x0[j] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(p, q, 0x88)), 0xd8));
            x1[j] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(p, q, 0xdd)), 0xd8));
        }
    }
}

INLINE void deint_store(unsigned char *y, int dt, int inv, int64_t hd, int64_t nfull, const __m256 *x0,
                        const __m256 *x1, const __m256 *C, const __m256 *S) {
    for (int64_t j = 0; j < nfull; j++) {
        __m256 y0 = rot0(x0[j], x1[j], C[j], S[j], dt), y1 = rot1(x0[j], x1[j], C[j], S[j], dt);
        if (inv) {
            __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
            st(y, 2 * CH * j, _mm256_permute2f128_ps(lo, hi, 0x20), dt, 0);
            st(y, 2 * CH * j + CH, _mm256_permute2f128_ps(lo, hi, 0x31), dt, 0);
        } else {
            st(y, CH * j, y0, dt, 0);
            st(y, CH * j + hd, y1, dt, 0);
        }
    }
}

INLINE void deint_heads(const rope_row_args *a, int dt, int64_t hd, int64_t nfull, const __m256 *C,
                        const __m256 *S) {
    const size_t es = esize(dt);
    const int inv = a->inverse;
    float tmp[ROPE_MAX_HEAD_DIM];
    __m256 x0[MAX_CH / 2], x1[MAX_CH / 2];
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        const unsigned char *src = CH * nfull < hd ? rope_ref_deint_src(a, x, y, (unsigned char *)tmp, dt) : x;
        deint_load(src, dt, inv, hd, nfull, x0, x1);
        deint_store(y, dt, inv, hd, nfull, x0, x1, C, S);
        if (CH * nfull < hd) rope_ref_deinterleave(a, src, y, 1, CH * nfull, dt);
        copy_tail(a, x, y, dt);
    }
}

INLINE void deint_row(const rope_row_args *a, int dt) {
    const int64_t hd = a->rotary_dim / 2, nfull = hd / CH;
    __m256 C[MAX_CH], S[MAX_CH];
    half_prep(a, nfull, C, S);
    if (hd == 32) /* DeepSeek-V3 / Mistral Large 4 MLA: 64 rotary dims */
        deint_heads(a, dt, 32, 4, C, S);
    else if (hd == 64)
        deint_heads(a, dt, 64, 8, C, S);
    else
        deint_heads(a, dt, hd, nfull, C, S);
}

static void inter_f32(const rope_row_args *a) { inter_row(a, ROPE_KDTYPE_F32); }
static void inter_f16(const rope_row_args *a) { inter_row(a, ROPE_KDTYPE_F16); }
static void half_f32(const rope_row_args *a) { half_row(a, ROPE_KDTYPE_F32); }
static void half_f16(const rope_row_args *a) { half_row(a, ROPE_KDTYPE_F16); }
static void deint_f32(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_F32); }
static void deint_f16(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_F16); }
static void deint_bf16(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_BF16); }

/* ---------------------------------------------------------------- sincos */

/* The definition of kernels/sincos.h (rope_sc_reduced) on 4 lanes, operation
 * for operation, so the bits equal the scalar kernel's. */
#define V4(c) _mm256_set1_pd(c)
#define RINT4(v) _mm256_round_pd((v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

INLINE __m256d neg4(__m256d v) { return _mm256_xor_pd(v, V4(-0.0)); }

INLINE void two_sum4(__m256d a, __m256d b, __m256d *s, __m256d *e) {
    __m256d x = _mm256_add_pd(a, b), bb = _mm256_sub_pd(x, a);
    *e = _mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(x, bb)), _mm256_sub_pd(b, bb));
    *s = x;
}

/* r = hi + lo − k·π/2, and k */
INLINE __m256d reduce4(__m256d hi, __m256d lo, __m256d *kq) {
    __m256d k = RINT4(_mm256_mul_pd(hi, V4(ROPE_SC_C1)));
    __m256d big = _mm256_cmp_pd(_mm256_andnot_pd(V4(-0.0), hi), V4(ROPE_SC_KFIX), _CMP_GT_OQ);
    if (_mm256_movemask_pd(big)) { /* the second step of k, in the lanes that need it */
        __m256d f = _mm256_add_pd(_mm256_fmsub_pd(hi, V4(ROPE_SC_C1), k),
                                  _mm256_fmadd_pd(hi, V4(ROPE_SC_C2), _mm256_mul_pd(lo, V4(ROPE_SC_C1))));
        k = _mm256_blendv_pd(k, _mm256_add_pd(k, RINT4(f)), big);
    }
    __m256d s1 = _mm256_fnmadd_pd(k, V4(ROPE_SC_P1), hi); /* exact */
    __m256d a2 = _mm256_mul_pd(k, V4(ROPE_SC_P2)), e2 = _mm256_fmsub_pd(k, V4(ROPE_SC_P2), a2);
    __m256d s2, t2;
    two_sum4(s1, neg4(a2), &s2, &t2);
    *kq = k;
    return _mm256_add_pd(_mm256_add_pd(s2, lo),
                         _mm256_sub_pd(t2, _mm256_add_pd(e2, _mm256_mul_pd(k, V4(ROPE_SC_P3)))));
}

INLINE void sincos4(__m256d hi, __m256d lo, __m256d *cs, __m256d *sn) {
    __m256d k, r = reduce4(hi, lo, &k);
    __m256d z = _mm256_mul_pd(r, r);
    __m256d ps = _mm256_fmadd_pd(V4(ROPE_SC_S7), z, V4(ROPE_SC_S6));
    ps = _mm256_fmadd_pd(ps, z, V4(ROPE_SC_S5));
    ps = _mm256_fmadd_pd(ps, z, V4(ROPE_SC_S4));
    ps = _mm256_fmadd_pd(ps, z, V4(ROPE_SC_S3));
    ps = _mm256_fmadd_pd(ps, z, V4(ROPE_SC_S2));
    ps = _mm256_fmadd_pd(ps, z, V4(ROPE_SC_S1));
    __m256d s1 = _mm256_fmadd_pd(_mm256_mul_pd(ps, z), r, r);
    __m256d pc = _mm256_fmadd_pd(V4(ROPE_SC_C8), z, V4(ROPE_SC_C7));
    pc = _mm256_fmadd_pd(pc, z, V4(ROPE_SC_C6));
    pc = _mm256_fmadd_pd(pc, z, V4(ROPE_SC_C5));
    pc = _mm256_fmadd_pd(pc, z, V4(ROPE_SC_C4));
    pc = _mm256_fmadd_pd(pc, z, V4(ROPE_SC_C3));
    pc = _mm256_fmadd_pd(pc, z, V4(ROPE_SC_C2P));
    pc = _mm256_fmadd_pd(pc, z, V4(ROPE_SC_C1P));
    __m256d c1 = _mm256_fmadd_pd(pc, z, V4(1.0));
    /* quadrant q = k mod 4: sin = (s, c, −s, −c)[q], cos = (c, −s, −c, s)[q] */
    __m256d fl = _mm256_round_pd(_mm256_mul_pd(k, V4(0.25)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256d q = _mm256_sub_pd(k, _mm256_mul_pd(V4(4.0), fl));
    __m256d q1 = _mm256_cmp_pd(q, V4(1.0), _CMP_EQ_OQ), q2 = _mm256_cmp_pd(q, V4(2.0), _CMP_EQ_OQ);
    __m256d odd = _mm256_or_pd(q1, _mm256_cmp_pd(q, V4(3.0), _CMP_EQ_OQ));
    __m256d neg_s = _mm256_and_pd(_mm256_cmp_pd(q, V4(2.0), _CMP_GE_OQ), V4(-0.0));
    __m256d neg_c = _mm256_and_pd(_mm256_or_pd(q1, q2), V4(-0.0));
    *sn = _mm256_xor_pd(_mm256_blendv_pd(s1, c1, odd), neg_s);
    *cs = _mm256_xor_pd(_mm256_blendv_pd(c1, s1, odd), neg_c);
}

/* 4 angles; lanes beyond ROPE_SC_LIMIT (or NaN) are redone by the scalar kernel. */
INLINE void sincos_block(const double *inv_freq, double pos, float *co, float *so) {
    const __m256d vpos = _mm256_set1_pd(pos), th = _mm256_loadu_pd(inv_freq);
    __m256d x = _mm256_mul_pd(vpos, th);
    __m256d lo = _mm256_fmsub_pd(vpos, th, x);
    __m256d c, s;
    sincos4(x, lo, &c, &s);
    _mm_storeu_ps(co, _mm256_cvtpd_ps(c));
    _mm_storeu_ps(so, _mm256_cvtpd_ps(s));
    __m256d ax = _mm256_andnot_pd(V4(-0.0), x);
    int ok = _mm256_movemask_pd(_mm256_cmp_pd(ax, V4(ROPE_SC_LIMIT), _CMP_LT_OQ));
    if (ok != 0xf)
        for (int l = 0; l < 4; l++)
            if (!((ok >> l) & 1)) rope_scalar_sincos(inv_freq + l, 1, pos, co + l, so + l);
}

static void sincos_avx2(const double *inv_freq, int64_t n, double pos, float *cos_out,
                        float *sin_out) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) sincos_block(inv_freq + i, pos, cos_out + i, sin_out + i);
    if (i < n) { /* pad the last block so it gets the same arithmetic */
        double f[4] = {0, 0, 0, 0};
        float c[4], s[4];
        memcpy(f, inv_freq + i, (size_t)(n - i) * sizeof *f);
        sincos_block(f, pos, c, s);
        memcpy(cos_out + i, c, (size_t)(n - i) * sizeof *c);
        memcpy(sin_out + i, s, (size_t)(n - i) * sizeof *s);
    }
}

/* The table build's anchors: sincos4 stored before the rounding to float; the
 * last n mod 4 by the scalar definition (the same operations). */
static void sincos_d_avx2(const double *inv_freq, int64_t n, double pos, double *cos_out,
                          double *sin_out) {
    const __m256d vpos = _mm256_set1_pd(pos);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d th = _mm256_loadu_pd(inv_freq + i);
        __m256d x = _mm256_mul_pd(vpos, th);
        __m256d lo = _mm256_fmsub_pd(vpos, th, x);
        __m256d c, s;
        sincos4(x, lo, &c, &s);
        _mm256_storeu_pd(cos_out + i, c);
        _mm256_storeu_pd(sin_out + i, s);
    }
    rope_scalar_sincos_d(inv_freq + i, n - i, pos, cos_out + i, sin_out + i);
}

/* The table build's rows from anchors: rope_sc_sum on 4 lanes (same operations,
 * same decisions); undecided lanes go to the scalar kernel, the last n mod 4 to
 * the scalar definition. */
INLINE void sum_row(const double *ca, const double *sa, const double *cb, const double *sb,
                    const double *inv_freq, int64_t n, double pos, float *cos_out,
                    float *sin_out) {
    const __m256d tol = V4(ROPE_SC_SUM_TOL);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d ac = _mm256_loadu_pd(ca + i), as = _mm256_loadu_pd(sa + i);
        __m256d bc = _mm256_loadu_pd(cb + i), bs = _mm256_loadu_pd(sb + i);
        __m256d c = _mm256_fmsub_pd(ac, bc, _mm256_mul_pd(as, bs));
        __m256d s = _mm256_fmadd_pd(as, bc, _mm256_mul_pd(ac, bs));
        __m128 c0 = _mm256_cvtpd_ps(_mm256_sub_pd(c, tol)), c1 = _mm256_cvtpd_ps(_mm256_add_pd(c, tol));
        __m128 s0 = _mm256_cvtpd_ps(_mm256_sub_pd(s, tol)), s1 = _mm256_cvtpd_ps(_mm256_add_pd(s, tol));
        _mm_storeu_ps(cos_out + i, c0);
        _mm_storeu_ps(sin_out + i, s0);
        int ok = _mm_movemask_ps(_mm_and_ps(_mm_cmpeq_ps(c0, c1), _mm_cmpeq_ps(s0, s1)));
        if (ok != 0xf)
            for (int l = 0; l < 4; l++)
                if (!((ok >> l) & 1))
                    rope_scalar_sincos(inv_freq + i + l, 1, pos, cos_out + i + l, sin_out + i + l);
    }
    rope_scalar_sincos_sum(ca + i, sa + i, cb + i, sb + i, inv_freq + i, n - i, 1, pos,
                           cos_out + i, sin_out + i);
}

static void sincos_sum_avx2(const double *ca, const double *sa, const double *cb,
                            const double *sb, const double *inv_freq, int64_t n, int64_t rows,
                            double pos, float *cos_out, float *sin_out) {
    for (int64_t b = 0; b < rows; b++)
        sum_row(ca, sa, cb + b * n, sb + b * n, inv_freq, n, pos + (double)b, cos_out + b * n,
                sin_out + b * n);
}

const rope_kernels rope_kernels_avx2 = {
    "avx2",
    {
        [ROPE_KSTYLE_INTERLEAVED] = {inter_f32, inter_f16, inter_bf16},
        [ROPE_KSTYLE_HALF] = {half_f32, half_f16, half_bf16},
        [ROPE_KSTYLE_DEINTERLEAVE] = {deint_f32, deint_f16, deint_bf16},
    },
    sincos_avx2,
    sincos_d_avx2,
    sincos_sum_avx2,
};
