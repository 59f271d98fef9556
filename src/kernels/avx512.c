/*
 * AVX-512 kernels (F, BW, VL, DQ; compiled with the flags of src/CMakeLists.txt).
 *
 * Same arithmetic as scalar.c, lane by lane, so results are bit-identical:
 * c' = cos·scale and s' = ±sin·scale rounded to float32 once, then
 *     y0 = x0·c' − x1·s',   y1 = x1·c' + x0·s'
 * with each product rounded separately for f32 (no FMA), and for f16/bf16
 * x0·c' (y0) and x1·c' (y1) fused: a multiply and an FMA per output (rot0,
 * rot1; kernel.h's rope_ref_rotate16). f16 goes through the hardware
 * conversions (vcvtph2ps, vcvtps2ph with round-to-nearest-even, which is what
 * rope_f32_to_f16 does in software). bf16 -> f32 is a shift (or a mask);
 * f32 -> bf16 is vcvtne2ps2bf16/vcvtneps2bf16, which round like
 * rope_f32_to_bf16 except that they flush subnormals: vectors holding one take
 * the integer rounding instead (bf16 has its own 32-wide kernels, below).
 *
 * Where the time goes in cache (Zen 4, measured in isolation): the 16-bit
 * conversions and the rotation's adds compete for the same FP pipes, so a f16
 * rotation with separate products costs ~1.3x a convert-only pass; computing
 * a − b as fma(a, 1, −b) (the same bits) measured slower. The fused 16-bit
 * arithmetic (one product folded into the FMA) cut f16 times by ~11% and bf16
 * by 3-6% in L1/L2/L3 (docs/speed.md).
 *
 * A call handles n_heads vectors that share one position: cos/sin are turned
 * into per-chunk multiplier vectors once, then every head streams through
 * them. Chunks are 16 floats; the last, partial one uses masked loads and
 * stores, so any rotary_dim works and nothing outside [0, head_dim) is touched.
 *
 * sincos: kernels/sincos.h on 8 doubles (exact angle pos·θᵢ as hi + lo,
 * reduced together by π/2 in double-double, Taylor polynomials, one rounding
 * to float), the same operations in the same order as the scalar kernel, so
 * the same bits. Lanes beyond ROPE_SC_LIMIT (or NaN) go to the scalar kernel.
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

INLINE size_t esize(int dt) { return dt == ROPE_KDTYPE_F32 ? 4 : 2; }

enum { CH = 16, MAX_CH = (ROPE_MAX_HEAD_DIM + CH - 1) / CH };

/* Streaming mode (rope_row_args.stream): prefetch the input this many bytes
 * ahead (the hardware prefetcher stops at 4 KiB pages) and store with
 * non-temporal writes, which skip the read-for-ownership of the output, as a
 * large memcpy does. Measured on prefill 4096 × 64 heads × 128. */
#define PF_DIST 4096

INLINE void prefetch_chunk(const unsigned char *x, int64_t i, int dt) {
    /* one prefetch per 64-byte line: every chunk (f32) or every other (16-bit) */
    if (dt == ROPE_KDTYPE_F32 || (i / CH) % 2 == 0)
        _mm_prefetch((const char *)x + i * (int64_t)esize(dt) + PF_DIST, _MM_HINT_T0);
}

/* ---------------------------------------------------------- loads, stores */

INLINE __m512 ld(const void *base, int64_t i, int dt, int full, __mmask16 m) {
    if (dt == ROPE_KDTYPE_F32) {
        const float *p = (const float *)base + i;
        return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
    }
    const uint16_t *p = (const uint16_t *)base + i;
    __m256i h = full ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(m, p);
    if (dt == ROPE_KDTYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Round to nearest even on the 16 dropped bits, NaN quieted: rope_f32_to_bf16,
 * the result in the low 16 bits of each 32-bit lane. */
static __m512i bf16_round32(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    r = _mm512_srli_epi32(r, 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i qnan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_mask_mov_epi32(r, nan, qnan);
}

static __m256i to_bf16_int(__m512 v) { return _mm512_cvtepi32_epi16(bf16_round32(v)); }

/* vcvtneps2bf16 rounds like rope_f32_to_bf16 (same bias trick, NaN quieted the
 * same way) except that it flushes f32 subnormals to zero; those lanes are
 * rare, so they take the integer path. A flushed lane comes out ±0, so the
 * narrowed result is tested for zeros first (one integer test per vector) and
 * only a vector holding a zero pays for the exact subnormal test (vfpclassps
 * on the FP pipes, which the conversions and the rotation need): bf16 kernels
 * take 8-11 % less time in cache on Zen 4 than with vfpclassps on every vector
 * (docs/speed.md); rows of exact zeros pay both tests (all-zero input: 12-18 %
 * slower than before). */
INLINE __m256i to_bf16(__m512 v) {
    const __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
    if (__builtin_expect(_mm256_testn_epi16_mask(h, _mm256_set1_epi16(0x7fff)) != 0, 0) &&
        _mm512_fpclass_ps_mask(v, 0x20) != 0) /* denormal */
        return to_bf16_int(v);
    return h;
}

/* full: 0 masked, 1 whole chunk, 2 whole chunk, aligned, non-temporal */
INLINE void st(void *base, int64_t i, __m512 v, int dt, int full, __mmask16 m) {
    if (dt == ROPE_KDTYPE_F32) {
        float *p = (float *)base + i;
        if (full == 2)
            _mm512_stream_ps(p, v);
        else if (full)
            _mm512_storeu_ps(p, v);
        else
            _mm512_mask_storeu_ps(p, m, v);
        return;
    }
    uint16_t *p = (uint16_t *)base + i;
    __m256i h = dt == ROPE_KDTYPE_F16 ? _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                                      : to_bf16(v);
    if (full == 2)
        _mm256_stream_si256((__m256i *)p, h);
    else if (full)
        _mm256_storeu_si256((__m256i *)p, h);
    else
        _mm256_mask_storeu_epi16(p, m, h);
}

INLINE void copy_tail(const rope_row_args *a, const unsigned char *x, unsigned char *y, int dt) {
    if (y != x && a->head_dim > a->rotary_dim)
        memcpy(y + a->rotary_dim * (int64_t)esize(dt), x + a->rotary_dim * (int64_t)esize(dt),
               (size_t)(a->head_dim - a->rotary_dim) * esize(dt));
}

/* c' = cos·scale, s' = ±sin·scale for 16 frequencies (masked), as scalar.c. */
INLINE void cs16(const rope_row_args *a, int64_t i, __mmask16 m, __m512 *c, __m512 *s) {
    const __m512 sc = _mm512_set1_ps(a->scale);
    *c = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a->cos + i), sc);
    *s = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a->sin + i), sc);
}

/* The pair arithmetic (kernel.h): float32 storage rounds each product
 * (y0 = x0·c − x1·s, HF's float32 bits); 16-bit storage fuses the first
 * product of each output, y0 = fma(x0, c, −(x1·s)), y1 = fma(x1, c, x0·s). */
INLINE __m512 rot0(__m512 x0, __m512 x1, __m512 c, __m512 s, int dt) {
    if (dt == ROPE_KDTYPE_F32) return _mm512_sub_ps(_mm512_mul_ps(x0, c), _mm512_mul_ps(x1, s));
    return _mm512_fmsub_ps(x0, c, _mm512_mul_ps(x1, s));
}

INLINE __m512 rot1(__m512 x0, __m512 x1, __m512 c, __m512 s, int dt) {
    if (dt == ROPE_KDTYPE_F32) return _mm512_add_ps(_mm512_mul_ps(x1, c), _mm512_mul_ps(x0, s));
    return _mm512_fmadd_ps(x1, c, _mm512_mul_ps(x0, s));
}

/* ----------------------------------------------------------- interleaved */

/* Chunk j holds pairs 8j..8j+7: C = (c0,c0,c1,c1,...), S = (−s0,s0,−s1,s1,...)
 * so y = x·C + swap(x)·S gives (x0c − x1s, x1c + x0s) with the reference's
 * roundings (a − b == a + (−b) exactly). For the inverse, s' = −s. */
INLINE void inter_prep_at(const rope_row_args *a, int64_t j, __m512 *C, __m512 *S) {
    const int64_t npairs = a->rotary_dim / 2, left = npairs - 8 * j;
    const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    /* forward negates the even lanes (−s' multiplies x1 in y0), inverse the odd
     * lanes (s' = −s·scale there) */
    const __m512i neg = a->inverse ? _mm512_set1_epi64((long long)0x8000000000000000ull)
                                   : _mm512_set1_epi64(0x80000000ll);
    __mmask16 m = left >= 8 ? 0xff : (__mmask16)((1u << left) - 1);
    __m512 c, s;
    cs16(a, 8 * j, m, &c, &s);
    *C = _mm512_permutexvar_ps(dup, c);
    *S = _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(_mm512_permutexvar_ps(dup, s)), neg));
}

INLINE void inter_prep(const rope_row_args *a, int64_t nch, __m512 *C, __m512 *S) {
    for (int64_t j = 0; j < nch; j++) inter_prep_at(a, j, &C[j], &S[j]);
}

INLINE __m512 inter_rot(__m512 x, __m512 C, __m512 S, int dt) {
    /* (x1, x0, x3, x2, ...) by a 64-bit rotate, not vpermilps: the same bits, off the
     * shuffle pipe (f16 in L1, thread CPU time: 368-371 ns vs 382-385 for 40 heads of
     * 128; f32 and bf16 unchanged) */
    __m512 xs = _mm512_castsi512_ps(_mm512_rol_epi64(_mm512_castps_si512(x), 32));
    if (dt == ROPE_KDTYPE_F32) return _mm512_add_ps(_mm512_mul_ps(x, C), _mm512_mul_ps(xs, S));
    return _mm512_fmadd_ps(x, C, _mm512_mul_ps(xs, S)); /* fma(x0, c, (−s)·x1) */
}

/* nfull full chunks, then a tail of `rem` elements (even, < 16). Inlined with
 * constant nfull/rem for the common head sizes so C/S stay in registers. */
INLINE void inter_heads(const rope_row_args *a, int dt, int64_t nfull, int64_t rem,
                        const __m512 *C, const __m512 *S) {
    const size_t es = esize(dt);
    const __mmask16 tm = (__mmask16)((1u << rem) - 1);
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        const int nt = a->stream && ((uintptr_t)y & (CH * es - 1)) == 0 ? 2 : 1;
        /* blocks of 8 chunks, all loaded before any store: a store to y
         * cannot then delay a later load of x (4 KiB aliasing, in place) */
        for (int64_t j0 = 0; j0 < nfull; j0 += 8) {
            const int64_t nb = nfull - j0 < 8 ? nfull - j0 : 8;
            __m512 xv[8];
            for (int64_t b = 0; b < nb; b++) xv[b] = ld(x, CH * (j0 + b), dt, 1, 0);
            if (a->stream)
                for (int64_t b = 0; b < nb; b++) prefetch_chunk(x, CH * (j0 + b), dt);
            for (int64_t b = 0; b < nb; b++)
                st(y, CH * (j0 + b), inter_rot(xv[b], C[j0 + b], S[j0 + b], dt), dt, nt, 0);
        }
        if (rem)
            st(y, CH * nfull, inter_rot(ld(x, CH * nfull, dt, 0, tm), C[nfull], S[nfull], dt), dt, 0,
               tm);
        copy_tail(a, x, y, dt);
    }
    if (a->stream) _mm_sfence(); /* order the non-temporal stores before the caller's */
}

/* The row functions work on a local copy of the arguments: stores through
 * the output pointer could otherwise alias *a, and the compiler would reload
 * every field once per head. */
INLINE void inter_row(const rope_row_args *args, int dt) {
    const rope_row_args A = *args, *a = &A;
    const int64_t R = a->rotary_dim, nfull = R / CH, rem = R % CH;
    __m512 C[MAX_CH], S[MAX_CH];
    inter_prep(a, nfull + (rem != 0), C, S);
    if (R == 128)
        inter_heads(a, dt, 8, 0, C, S);
    else if (R == 64)
        inter_heads(a, dt, 4, 0, C, S);
    else
        inter_heads(a, dt, nfull, rem, C, S);
}

/* ------------------------------------------------------------------ half */

/* Pairs (i, i + R/2): lanes hold consecutive i, so cos/sin load as they are. */
INLINE void half_prep_at(const rope_row_args *a, int64_t j, __m512 *C, __m512 *S) {
    const int64_t left = a->rotary_dim / 2 - CH * j;
    __mmask16 m = left >= CH ? 0xffff : (__mmask16)((1u << left) - 1);
    cs16(a, CH * j, m, C, S);
    if (a->inverse)
        *S = _mm512_castsi512_ps(
            _mm512_xor_si512(_mm512_castps_si512(*S), _mm512_set1_epi32((int)0x80000000)));
}

INLINE void half_prep(const rope_row_args *a, int64_t nch, __m512 *C, __m512 *S) {
    for (int64_t j = 0; j < nch; j++) half_prep_at(a, j, &C[j], &S[j]);
}

INLINE void half_chunk(const unsigned char *x, unsigned char *y, int64_t i, int64_t hd, int dt,
                       int full, __mmask16 m, __m512 c, __m512 s) {
    __m512 x0 = ld(x, i, dt, full, m), x1 = ld(x, i + hd, dt, full, m);
    st(y, i, rot0(x0, x1, c, s, dt), dt, full, m);
    st(y, i + hd, rot1(x0, x1, c, s, dt), dt, full, m);
}

INLINE void half_heads(const rope_row_args *a, int dt, int64_t hd, int64_t nfull, int64_t rem,
                       const __m512 *C, const __m512 *S) {
    const size_t es = esize(dt);
    const __mmask16 tm = (__mmask16)((1u << rem) - 1);
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        /* non-temporal only when both halves' chunks are aligned */
        const int nt = a->stream && !rem && ((uintptr_t)y & (CH * es - 1)) == 0 ? 2 : 1;
        for (int64_t j0 = 0; j0 < nfull; j0 += 4) { /* loads first, as above */
            const int64_t nb = nfull - j0 < 4 ? nfull - j0 : 4;
            __m512 x0[4], x1[4];
            for (int64_t b = 0; b < nb; b++) {
                x0[b] = ld(x, CH * (j0 + b), dt, 1, 0);
                x1[b] = ld(x, CH * (j0 + b) + hd, dt, 1, 0);
            }
            if (a->stream)
                for (int64_t b = 0; b < nb; b++) {
                    prefetch_chunk(x, CH * (j0 + b), dt);
                    prefetch_chunk(x, CH * (j0 + b) + hd, dt);
                }
            /* the first halves, then the second halves: with 16-bit data two
             * consecutive chunks fill one cache line, so each line is written
             * in one go (partly filled write-combining buffers are costly) */
            for (int64_t b = 0; b < nb; b++)
                st(y, CH * (j0 + b), rot0(x0[b], x1[b], C[j0 + b], S[j0 + b], dt), dt, nt, 0);
            for (int64_t b = 0; b < nb; b++)
                st(y, CH * (j0 + b) + hd, rot1(x0[b], x1[b], C[j0 + b], S[j0 + b], dt), dt, nt,
                   0);
        }
        if (rem) half_chunk(x, y, CH * nfull, hd, dt, 0, tm, C[nfull], S[nfull]);
        copy_tail(a, x, y, dt);
    }
    if (a->stream) _mm_sfence();
}

/* Two heads per step for f16 at the common sizes (hd = 32 or 64, no streaming):
 * all loads of both heads first, then their stores; the same arithmetic.
 * Measured 2-3% faster for f16 in L2 (decode batch), 2% slower for f32. */
INLINE void half_pair(const rope_row_args *a, int dt, int64_t hd, int64_t h, const __m512 *C,
                      const __m512 *S) {
    const size_t es = esize(dt);
    const int64_t nfull = hd / CH;
    const unsigned char *x[2];
    unsigned char *y[2];
    __m512 x0[2][4], x1[2][4];
    for (int k = 0; k < 2; k++) {
        x[k] = (const unsigned char *)a->in + (h + k) * a->in_head_stride * (int64_t)es;
        y[k] = (unsigned char *)a->out + (h + k) * a->out_head_stride * (int64_t)es;
        for (int64_t b = 0; b < nfull; b++) {
            x0[k][b] = ld(x[k], CH * b, dt, 1, 0);
            x1[k][b] = ld(x[k], CH * b + hd, dt, 1, 0);
        }
    }
    for (int k = 0; k < 2; k++) {
        for (int64_t b = 0; b < nfull; b++)
            st(y[k], CH * b, rot0(x0[k][b], x1[k][b], C[b], S[b], dt), dt, 1, 0);
        for (int64_t b = 0; b < nfull; b++)
            st(y[k], CH * b + hd, rot1(x0[k][b], x1[k][b], C[b], S[b], dt), dt, 1, 0);
        copy_tail(a, x[k], y[k], dt);
    }
}

INLINE void half_heads2(const rope_row_args *a, int dt, int64_t hd, const __m512 *C,
                        const __m512 *S) {
    int64_t h = 0;
    for (; h + 2 <= a->n_heads; h += 2) half_pair(a, dt, hd, h, C, S);
    if (h < a->n_heads) {
        rope_row_args one = *a;
        one.in = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)esize(dt);
        one.out = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)esize(dt);
        one.n_heads = 1;
        half_heads(&one, dt, hd, hd / CH, 0, C, S);
    }
}

INLINE void half_row(const rope_row_args *args, int dt) {
    const rope_row_args A = *args, *a = &A;
    const int64_t hd = a->rotary_dim / 2, nfull = hd / CH, rem = hd % CH;
    __m512 C[MAX_CH], S[MAX_CH];
    half_prep(a, nfull + (rem != 0), C, S);
    if (hd == 64 && !a->stream && dt == ROPE_KDTYPE_F16)
        half_heads2(a, dt, 64, C, S);
    else if (hd == 32 && !a->stream && dt == ROPE_KDTYPE_F16)
        half_heads2(a, dt, 32, C, S);
    else if (hd == 64)
        half_heads(a, dt, 64, 4, 0, C, S);
    else if (hd == 32)
        half_heads(a, dt, 32, 2, 0, C, S);
    else
        half_heads(a, dt, hd, nfull, rem, C, S);
}

/* ------------------------------------------------------------ de-interleave */

/* Chunk j = pairs 16j..16j+15 with half's C/S (half_prep). Forward: two loads of
 * interleaved pairs split into evens / odds by permutex2var, the half arithmetic, stores
 * at 16j and 16j + R/2; inverse: half loads, the same arithmetic, y0/y1 re-interleaved by
 * permutex2var. Every chunk of a head is loaded before any is stored, so in place is safe
 * without a copy when the head has no pairs after its last full chunk; those pairs (the
 * reference's) are otherwise read from a copy of the head (rope_ref_deint_src), since a
 * chunk's output lands where they are. No streaming stores (the same bits either way). */
INLINE void deint_load(const unsigned char *x, int dt, int inv, int64_t hd, int64_t nfull, __m512 *x0,
                       __m512 *x1) {
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int64_t j = 0; j < nfull; j++) {
        if (inv) {
            x0[j] = ld(x, CH * j, dt, 1, 0);
            x1[j] = ld(x, CH * j + hd, dt, 1, 0);
        } else {
            __m512 p = ld(x, 2 * CH * j, dt, 1, 0), q = ld(x, 2 * CH * j + CH, dt, 1, 0);
            x0[j] = _mm512_permutex2var_ps(p, ev, q);
            x1[j] = _mm512_permutex2var_ps(p, od, q);
        }
    }
}

INLINE void deint_store(unsigned char *y, int dt, int inv, int64_t hd, int64_t nfull, const __m512 *x0,
                        const __m512 *x1, const __m512 *C, const __m512 *S) {
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (int64_t j = 0; j < nfull; j++) {
        __m512 y0 = rot0(x0[j], x1[j], C[j], S[j], dt), y1 = rot1(x0[j], x1[j], C[j], S[j], dt);
        if (inv) {
            st(y, 2 * CH * j, _mm512_permutex2var_ps(y0, lo, y1), dt, 1, 0);
            st(y, 2 * CH * j + CH, _mm512_permutex2var_ps(y0, hi, y1), dt, 1, 0);
        } else {
            st(y, CH * j, y0, dt, 1, 0);
            st(y, CH * j + hd, y1, dt, 1, 0);
        }
    }
}

INLINE void deint_heads(const rope_row_args *a, int dt, int64_t hd, int64_t nfull, const __m512 *C,
                        const __m512 *S) {
    const size_t es = esize(dt);
    const int inv = a->inverse;
    float tmp[ROPE_MAX_HEAD_DIM];
    __m512 x0[MAX_CH / 2], x1[MAX_CH / 2];
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
    __m512 C[MAX_CH], S[MAX_CH];
    half_prep(a, nfull, C, S);
    if (hd == 32) /* DeepSeek-V3 / Mistral Large 4 MLA: 64 rotary dims */
        deint_heads(a, dt, 32, 2, C, S);
    else if (hd == 64)
        deint_heads(a, dt, 64, 4, C, S);
    else
        deint_heads(a, dt, hd, nfull, C, S);
}

/* --------------------------------------------------- bf16, 32 at a time
 * A 64-byte vector of 32 bf16 is 16 32-bit lanes of (odd << 16 | even): the
 * even elements widen to float32 by a shift and the odd ones by a mask, with
 * no shuffle, and two results narrow back with one vcvtne2ps2bf16 and one
 * vpermw (16-wide chunks cost a widening shuffle, a shift and a narrowing per
 * 16 elements, plus a swap per chunk for the interleaved convention). The
 * arithmetic per lane is the reference's; only which cos/sin meets which lane
 * changes. Interleaved: even lane l and odd lane l are the two elements of one
 * pair, so cos/sin load as they are. Half: the even (odd) lanes of the first
 * half pair with the even (odd) lanes of the second, so cos/sin are split into
 * even and odd frequencies once per call. Results holding a subnormal (which
 * vcvtne2ps2bf16 flushes to zero) narrow by the integer rounding instead.
 * What is left after the last whole 32 goes through the 16-wide code. */

INLINE void bf_split(const void *base, int64_t i, __m512 *e, __m512 *o) {
    const __m512i u = _mm512_loadu_si512((const uint16_t *)base + i);
    *e = _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
    *o = _mm512_castsi512_ps(_mm512_and_si512(u, _mm512_set1_epi32((int)0xffff0000u)));
}

static __m512i bf_join_int(__m512 e, __m512 o) {
    return _mm512_or_si512(bf16_round32(e), _mm512_slli_epi32(bf16_round32(o), 16));
}

/* even elements from e, odd ones from o, each rounded as rope_f32_to_bf16
 * (subnormals: as to_bf16, a zero in the result sends the vector to the exact
 * test) */
INLINE __m512i bf_join(__m512 e, __m512 o) {
    /* vcvtne2ps2bf16 gives e in words 0..15 and o in 16..31: interleave them */
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(o, e);
    if (__builtin_expect(_mm512_testn_epi16_mask(h, _mm512_set1_epi16(0x7fff)) != 0, 0) &&
        (_mm512_fpclass_ps_mask(e, 0x20) | _mm512_fpclass_ps_mask(o, 0x20)) != 0)
        return bf_join_int(e, o);
    return _mm512_permutexvar_epi16(idx, h);
}

INLINE void bf_store(void *base, int64_t i, __m512i v, int nt) {
    __m512i *p = (__m512i *)((uint16_t *)base + i);
    if (nt)
        _mm512_stream_si512(p, v);
    else
        _mm512_storeu_si512(p, v);
}

/* Interleaved: block b holds pairs 16b..16b+15; C = c', S = ±s' as they are. */
INLINE void bf_inter_prep(const rope_row_args *a, int64_t nblk, __m512 *C, __m512 *S) {
    const __m512i neg = _mm512_set1_epi32(a->inverse ? (int)0x80000000u : 0);
    for (int64_t b = 0; b < nblk; b++) {
        cs16(a, 16 * b, 0xffff, &C[b], &S[b]);
        S[b] = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(S[b]), neg));
    }
}

INLINE void bf_inter_heads(const rope_row_args *a, int64_t nblk, const __m512 *C, const __m512 *S,
                           const __m512 *Ct, const __m512 *St) {
    const int64_t R = a->rotary_dim, done = 32 * nblk, tfull = (R - done) / CH,
                  trem = (R - done) % CH;
    const __mmask16 tm = (__mmask16)((1u << trem) - 1);
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * 2;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * 2;
        const int nt = a->stream && ((uintptr_t)y & 63) == 0;
        for (int64_t b0 = 0; b0 < nblk; b0 += 4) { /* loads first, as inter_heads */
            const int64_t nb = nblk - b0 < 4 ? nblk - b0 : 4;
            __m512 e[4], o[4];
            for (int64_t b = 0; b < nb; b++) bf_split(x, 32 * (b0 + b), &e[b], &o[b]);
            if (a->stream)
                for (int64_t b = 0; b < nb; b++)
                    _mm_prefetch((const char *)x + 64 * (b0 + b) + PF_DIST, _MM_HINT_T0);
            for (int64_t b = 0; b < nb; b++) {
                const __m512 c = C[b0 + b], s = S[b0 + b];
                __m512 ye = rot0(e[b], o[b], c, s, ROPE_KDTYPE_BF16);
                __m512 yo = rot1(e[b], o[b], c, s, ROPE_KDTYPE_BF16);
                bf_store(y, 32 * (b0 + b), bf_join(ye, yo), nt);
            }
        }
        if (tfull)
            st(y, done, inter_rot(ld(x, done, ROPE_KDTYPE_BF16, 1, 0), Ct[0], St[0], ROPE_KDTYPE_BF16),
               ROPE_KDTYPE_BF16, 1, 0);
        if (trem)
            st(y, done + CH * tfull,
               inter_rot(ld(x, done + CH * tfull, ROPE_KDTYPE_BF16, 0, tm), Ct[tfull], St[tfull],
                         ROPE_KDTYPE_BF16),
               ROPE_KDTYPE_BF16, 0, tm);
        copy_tail(a, x, y, ROPE_KDTYPE_BF16);
    }
    if (a->stream) _mm_sfence();
}

static void inter_bf16(const rope_row_args *args) {
    const rope_row_args A = *args, *a = &A;
    const int64_t R = a->rotary_dim, nblk = R / 32, j0 = 2 * nblk;
    __m512 C[MAX_CH / 2 + 1], S[MAX_CH / 2 + 1], Ct[2], St[2];
    bf_inter_prep(a, nblk, C, S);
    for (int64_t t = 0; j0 + t < (R + CH - 1) / CH; t++) inter_prep_at(a, j0 + t, &Ct[t], &St[t]);
    if (R == 128)
        bf_inter_heads(a, 4, C, S, Ct, St);
    else if (R == 64)
        bf_inter_heads(a, 2, C, S, Ct, St);
    else
        bf_inter_heads(a, nblk, C, S, Ct, St);
}

/* Half: block b holds frequencies 32b..32b+31, even ones in Ce/Se, odd in Co/So. */
INLINE void bf_half_prep(const rope_row_args *a, int64_t nblk, __m512 *Ce, __m512 *Co,
                         __m512 *Se, __m512 *So) {
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int64_t b = 0; b < nblk; b++) {
        __m512 c0, s0, c1, s1;
        half_prep_at(a, 2 * b, &c0, &s0);
        half_prep_at(a, 2 * b + 1, &c1, &s1);
        Ce[b] = _mm512_permutex2var_ps(c0, ev, c1);
        Co[b] = _mm512_permutex2var_ps(c0, od, c1);
        Se[b] = _mm512_permutex2var_ps(s0, ev, s1);
        So[b] = _mm512_permutex2var_ps(s0, od, s1);
    }
}

/* One block of both halves: x0 at i, x1 at i + hd. */
INLINE void bf_half_block(const unsigned char *x, unsigned char *y, int64_t i, int64_t hd,
                          __m512 ce, __m512 co, __m512 se, __m512 so, int nt) {
    __m512 e0, o0, e1, o1;
    bf_split(x, i, &e0, &o0);
    bf_split(x, i + hd, &e1, &o1);
    __m512 y0e = rot0(e0, e1, ce, se, ROPE_KDTYPE_BF16), y0o = rot0(o0, o1, co, so, ROPE_KDTYPE_BF16);
    __m512 y1e = rot1(e0, e1, ce, se, ROPE_KDTYPE_BF16), y1o = rot1(o0, o1, co, so, ROPE_KDTYPE_BF16);
    bf_store(y, i, bf_join(y0e, y0o), nt);
    bf_store(y, i + hd, bf_join(y1e, y1o), nt);
}

INLINE void bf_half_heads(const rope_row_args *a, int64_t hd, int64_t nblk, const __m512 *Ce,
                          const __m512 *Co, const __m512 *Se, const __m512 *So, const __m512 *Ct,
                          const __m512 *St) {
    const int64_t done = 32 * nblk, tfull = (hd - done) / CH, trem = (hd - done) % CH;
    const __mmask16 tm = (__mmask16)((1u << trem) - 1);
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * 2;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * 2;
        const int nt = a->stream && hd % 32 == 0 && ((uintptr_t)y & 63) == 0;
        if (a->stream)
            for (int64_t b = 0; b < nblk; b++) {
                _mm_prefetch((const char *)x + 64 * b + PF_DIST, _MM_HINT_T0);
                _mm_prefetch((const char *)x + 2 * hd + 64 * b + PF_DIST, _MM_HINT_T0);
            }
        for (int64_t b = 0; b < nblk; b++)
            bf_half_block(x, y, 32 * b, hd, Ce[b], Co[b], Se[b], So[b], nt);
        if (tfull) half_chunk(x, y, done, hd, ROPE_KDTYPE_BF16, 1, 0, Ct[0], St[0]);
        if (trem)
            half_chunk(x, y, done + CH * tfull, hd, ROPE_KDTYPE_BF16, 0, tm, Ct[tfull], St[tfull]);
        copy_tail(a, x, y, ROPE_KDTYPE_BF16);
    }
    if (a->stream) _mm_sfence();
}

static void half_bf16(const rope_row_args *args) {
    const rope_row_args A = *args, *a = &A;
    const int64_t hd = a->rotary_dim / 2, nblk = hd / 32, j0 = 2 * nblk;
    __m512 Ce[MAX_CH / 2 + 1], Co[MAX_CH / 2 + 1], Se[MAX_CH / 2 + 1], So[MAX_CH / 2 + 1], Ct[2],
        St[2];
    bf_half_prep(a, nblk, Ce, Co, Se, So);
    for (int64_t t = 0; j0 + t < (hd + CH - 1) / CH; t++) half_prep_at(a, j0 + t, &Ct[t], &St[t]);
    if (hd == 64)
        bf_half_heads(a, 64, 2, Ce, Co, Se, So, Ct, St);
    else if (hd == 32)
        bf_half_heads(a, 32, 1, Ce, Co, Se, So, Ct, St);
    else
        bf_half_heads(a, hd, nblk, Ce, Co, Se, So, Ct, St);
}

static void inter_f32(const rope_row_args *a) { inter_row(a, ROPE_KDTYPE_F32); }
static void inter_f16(const rope_row_args *a) { inter_row(a, ROPE_KDTYPE_F16); }
static void half_f32(const rope_row_args *a) { half_row(a, ROPE_KDTYPE_F32); }
static void half_f16(const rope_row_args *a) { half_row(a, ROPE_KDTYPE_F16); }
static void deint_f32(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_F32); }
static void deint_f16(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_F16); }
static void deint_bf16(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_BF16); }

/* ---------------------------------------------------------------- sincos */

/* The definition of kernels/sincos.h (rope_sc_reduced) on 8 lanes, operation
 * for operation, so the bits equal the scalar kernel's. */
#define V8(c) _mm512_set1_pd(c)
#define RINT8(v) _mm512_roundscale_pd((v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

INLINE __m512d neg8(__m512d v) { return _mm512_xor_pd(v, V8(-0.0)); }

INLINE void two_sum8(__m512d a, __m512d b, __m512d *s, __m512d *e) {
    __m512d x = _mm512_add_pd(a, b), bb = _mm512_sub_pd(x, a);
    *e = _mm512_add_pd(_mm512_sub_pd(a, _mm512_sub_pd(x, bb)), _mm512_sub_pd(b, bb));
    *s = x;
}

/* r = hi + lo − k·π/2, and k */
INLINE __m512d reduce8(__m512d hi, __m512d lo, __m512d *kq) {
    __m512d k = RINT8(_mm512_mul_pd(hi, V8(ROPE_SC_C1)));
    __mmask8 big = _mm512_cmp_pd_mask(_mm512_abs_pd(hi), V8(ROPE_SC_KFIX), _CMP_GT_OQ);
    if (big) { /* the second step of k, in the lanes that need it */
        __m512d f = _mm512_add_pd(_mm512_fmsub_pd(hi, V8(ROPE_SC_C1), k),
                                  _mm512_fmadd_pd(hi, V8(ROPE_SC_C2), _mm512_mul_pd(lo, V8(ROPE_SC_C1))));
        k = _mm512_mask_add_pd(k, big, k, RINT8(f));
    }
    __m512d s1 = _mm512_fnmadd_pd(k, V8(ROPE_SC_P1), hi); /* exact */
    __m512d a2 = _mm512_mul_pd(k, V8(ROPE_SC_P2)), e2 = _mm512_fmsub_pd(k, V8(ROPE_SC_P2), a2);
    __m512d s2, t2;
    two_sum8(s1, neg8(a2), &s2, &t2);
    *kq = k;
    return _mm512_add_pd(_mm512_add_pd(s2, lo),
                         _mm512_sub_pd(t2, _mm512_add_pd(e2, _mm512_mul_pd(k, V8(ROPE_SC_P3)))));
}

INLINE void sincos8(__m512d hi, __m512d lo, __m512d *cs, __m512d *sn) {
    __m512d k, r = reduce8(hi, lo, &k);
    __m512d z = _mm512_mul_pd(r, r);
    __m512d ps = _mm512_fmadd_pd(V8(ROPE_SC_S7), z, V8(ROPE_SC_S6));
    ps = _mm512_fmadd_pd(ps, z, V8(ROPE_SC_S5));
    ps = _mm512_fmadd_pd(ps, z, V8(ROPE_SC_S4));
    ps = _mm512_fmadd_pd(ps, z, V8(ROPE_SC_S3));
    ps = _mm512_fmadd_pd(ps, z, V8(ROPE_SC_S2));
    ps = _mm512_fmadd_pd(ps, z, V8(ROPE_SC_S1));
    __m512d s1 = _mm512_fmadd_pd(_mm512_mul_pd(ps, z), r, r);
    __m512d pc = _mm512_fmadd_pd(V8(ROPE_SC_C8), z, V8(ROPE_SC_C7));
    pc = _mm512_fmadd_pd(pc, z, V8(ROPE_SC_C6));
    pc = _mm512_fmadd_pd(pc, z, V8(ROPE_SC_C5));
    pc = _mm512_fmadd_pd(pc, z, V8(ROPE_SC_C4));
    pc = _mm512_fmadd_pd(pc, z, V8(ROPE_SC_C3));
    pc = _mm512_fmadd_pd(pc, z, V8(ROPE_SC_C2P));
    pc = _mm512_fmadd_pd(pc, z, V8(ROPE_SC_C1P));
    __m512d c1 = _mm512_fmadd_pd(pc, z, V8(1.0));
    /* quadrant q = k mod 4 (k is an integer below 2^53: exact as int64):
     * sin = (s, c, −s, −c)[q], cos = (c, −s, −c, s)[q]; bit 1 of q (of q + 1 for
     * cos) moved to the sign bit, then result ^= that & sign (ternary logic 0x78) */
    __m512i q = _mm512_cvtpd_epi64(k);
    __mmask8 odd = _mm512_test_epi64_mask(q, _mm512_set1_epi64(1));
    const __m512i sign = _mm512_set1_epi64((long long)0x8000000000000000ull);
    __m512i sh_s = _mm512_slli_epi64(q, 62);
    __m512i sh_c = _mm512_slli_epi64(_mm512_add_epi64(q, _mm512_set1_epi64(1)), 62);
    __m512d so = _mm512_mask_blend_pd(odd, s1, c1), co = _mm512_mask_blend_pd(odd, c1, s1);
    *sn = _mm512_castsi512_pd(_mm512_ternarylogic_epi64(_mm512_castpd_si512(so), sh_s, sign, 0x78));
    *cs = _mm512_castsi512_pd(_mm512_ternarylogic_epi64(_mm512_castpd_si512(co), sh_c, sign, 0x78));
}

static void sincos_avx512(const double *inv_freq, int64_t n, double pos, float *cos_out,
                          float *sin_out) {
    const __m512d vpos = _mm512_set1_pd(pos);
    const __m512d limit = V8(ROPE_SC_LIMIT);
    for (int64_t i = 0; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512d th = _mm512_maskz_loadu_pd(m, inv_freq + i);
        __m512d x = _mm512_mul_pd(vpos, th);
        __m512d lo = _mm512_fmsub_pd(vpos, th, x);
        __m512d c, s;
        sincos8(x, lo, &c, &s);
        _mm256_mask_storeu_ps(cos_out + i, m, _mm512_cvtpd_ps(c));
        _mm256_mask_storeu_ps(sin_out + i, m, _mm512_cvtpd_ps(s));
        /* lanes beyond ROPE_SC_LIMIT (or NaN): the scalar kernel */
        __mmask8 ok = _mm512_cmp_pd_mask(_mm512_abs_pd(x), limit, _CMP_LT_OQ);
        if ((ok & m) != m)
            for (int l = 0; l < 8; l++)
                if (((m >> l) & 1) && !((ok >> l) & 1))
                    rope_scalar_sincos(inv_freq + i + l, 1, pos, cos_out + i + l, sin_out + i + l);
    }
}

/* The table build's anchors: sincos8 stored before the rounding to float. */
static void sincos_d_avx512(const double *inv_freq, int64_t n, double pos, double *cos_out,
                            double *sin_out) {
    const __m512d vpos = _mm512_set1_pd(pos);
    for (int64_t i = 0; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512d th = _mm512_maskz_loadu_pd(m, inv_freq + i);
        __m512d x = _mm512_mul_pd(vpos, th);
        __m512d lo = _mm512_fmsub_pd(vpos, th, x);
        __m512d c, s;
        sincos8(x, lo, &c, &s);
        _mm512_mask_storeu_pd(cos_out + i, m, c);
        _mm512_mask_storeu_pd(sin_out + i, m, s);
    }
}

/* 8 lanes of rope_sc_sum (kernels/sincos.h): c0/s0 the float32 results of the
 * lanes decided, returned as a mask. */
INLINE __mmask8 sum8(__m512d ac, __m512d as, __m512d bc, __m512d bs, __m256 *co, __m256 *so) {
    const __m512d tol = V8(ROPE_SC_SUM_TOL);
    __m512d c = _mm512_fmsub_pd(ac, bc, _mm512_mul_pd(as, bs));
    __m512d s = _mm512_fmadd_pd(as, bc, _mm512_mul_pd(ac, bs));
    __m256 c0 = _mm512_cvtpd_ps(_mm512_sub_pd(c, tol)), c1 = _mm512_cvtpd_ps(_mm512_add_pd(c, tol));
    __m256 s0 = _mm512_cvtpd_ps(_mm512_sub_pd(s, tol)), s1 = _mm512_cvtpd_ps(_mm512_add_pd(s, tol));
    *co = c0;
    *so = s0;
    return _mm256_cmp_ps_mask(c0, c1, _CMP_EQ_OQ) & _mm256_cmp_ps_mask(s0, s1, _CMP_EQ_OQ);
}

/* The table build's rows from anchors: rope_sc_sum on 8 lanes (same operations,
 * same decisions). The lanes left open are redone by the scalar kernel after
 * the row, so the vector loop holds no call (a call in it made GCC spill). */
static void sincos_sum_avx512(const double *ca, const double *sa, const double *cb,
                              const double *sb, const double *inv_freq, int64_t n, int64_t rows,
                              double pos, float *cos_out, float *sin_out) {
    const int64_t full = n & ~(int64_t)7;
    const __mmask8 mt = (__mmask8)((1u << (n - full)) - 1);
    __mmask8 open[ROPE_MAX_FREQS / 8 + 1];
    for (int64_t b = 0; b < rows; b++) {
        const double *cbr = cb + b * n, *sbr = sb + b * n;
        float *co = cos_out + b * n, *so = sin_out + b * n;
        __m256 c, s;
        unsigned any = 0;
        for (int64_t i = 0; i < full; i += 8) {
            __mmask8 ok = sum8(_mm512_loadu_pd(ca + i), _mm512_loadu_pd(sa + i),
                               _mm512_loadu_pd(cbr + i), _mm512_loadu_pd(sbr + i), &c, &s);
            _mm256_storeu_ps(co + i, c);
            _mm256_storeu_ps(so + i, s);
            open[i / 8] = (__mmask8)~ok;
            any |= (__mmask8)~ok;
        }
        if (mt) {
            __mmask8 ok = sum8(_mm512_maskz_loadu_pd(mt, ca + full), _mm512_maskz_loadu_pd(mt, sa + full),
                               _mm512_maskz_loadu_pd(mt, cbr + full),
                               _mm512_maskz_loadu_pd(mt, sbr + full), &c, &s);
            _mm256_mask_storeu_ps(co + full, mt, c);
            _mm256_mask_storeu_ps(so + full, mt, s);
            open[full / 8] = (__mmask8)(~ok & mt);
            any |= open[full / 8];
        }
        if (any)
            for (int64_t i = 0; i < n; i++)
                if ((open[i / 8] >> (i % 8)) & 1)
                    rope_scalar_sincos(inv_freq + i, 1, pos + (double)b, co + i, so + i);
    }
}

const rope_kernels rope_kernels_avx512 = {
    "avx512",
    {
        [ROPE_KSTYLE_INTERLEAVED] = {inter_f32, inter_f16, inter_bf16},
        [ROPE_KSTYLE_HALF] = {half_f32, half_f16, half_bf16},
        [ROPE_KSTYLE_DEINTERLEAVE] = {deint_f32, deint_f16, deint_bf16},
    },
    sincos_avx512,
    sincos_d_avx512,
    sincos_sum_avx512,
};
