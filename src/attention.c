/*
 * Causal multi-head / grouped-query attention over a KV cache, with RoPE
 * applied to the keys once, when they are written.
 *
 * The cache. Per batch row b and kv head h, one contiguous region:
 *   keys    in blocks of AK_KB = 16 entries, each block transposed
 *           ([D][16]: the 16 keys' dim d are adjacent), so one vector load
 *           gives dim d of 16 keys and Q·Kᵀ needs no shuffles or horizontal
 *           sums (the micro-kernel broadcasts q[r][d] and FMAs 16 keys);
 *   values  entry-major ([entry][D]), what P·V reads row by row;
 *   and per row, the position of every entry (int64).
 * Capacity is rounded up to whole tiles (AK_TILE = 64 entries) so a tile is
 * always readable; only entries below a row's length are ever used.
 * Appending writes k and v after each row's length, then rotates the new keys
 * in place with rope_apply, through a strided rope_tensor view of the blocks.
 * The new length is committed only when everything succeeded, so a failed
 * append leaves the cache exactly as it was.
 *
 * Attention is FlashAttention's online softmax (Dao et al. 2022, alg. 1;
 * Milakov & Gimelshein 2018) on the CPU: one work item = (batch row, kv head,
 * block of queries) and all q heads of that kv head's group, so each key and
 * value is read once per group (GQA/MQA decode reads the cache once). For
 * each tile of 64 keys: S = Q·Kᵀ (scores in log2 units, q pre-multiplied by
 * scale·log2 e), mask, online-softmax update, O += P·V. Memory is O(tile)
 * whatever the context. A key at position t is visible to a query at p when
 * t <= p (and t > p - window): with positions stored per entry this is the
 * causal mask aligned to the end for any chunking, and padding, rollback and
 * re-use need no special case. Tiles visible to no query of the item are
 * skipped, tiles visible to all need no per-key test.
 *
 * Kernels: attention_internal.h is compiled three times (plain C, AVX2+FMA,
 * AVX-512) with target attributes, so the core keeps its generic flags; the
 * set follows rope_isa_name() (ROPE_ISA / rope_isa_force pick it in tests).
 * Register-blocked micro-kernels: Q·Kᵀ keeps 4 rows × 64 keys in 16 zmm
 * accumulators (one K load feeds 4 FMAs), P·V 4 rows × 64 dims; f16/bf16
 * entries are widened on load (vcvtph2ps / shift), never copied. No BLAS: the
 * tiles are small and causal, and the core links libc/libm/threads only.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "kernels/kernel.h" /* rope_ref_rotate, the kernels' sincos */
#include "pool.h"
#include "rope.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define AK_X86 1
#endif

enum { AK_TILE = 64, AK_KB = 16 };
enum { AK_DT_F32 = 0, AK_DT_F16 = 1, AK_DT_BF16 = 2, AK_DT_Q8 = 3 };
enum { AK_QB = 32 }; /* ROPE_Q8: dims per scale block */

/* Decode splits the keys into chunks of this many (a multiple of AK_TILE). */
#define AK_SPLIT 1024

/* Work below this many multiply-adds runs on the calling thread. */
#define AK_MIN_PARALLEL_FLOPS ((int64_t)1 << 20)

static int ak_dt(rope_dtype t) {
    switch (t) {
    case ROPE_F32: return AK_DT_F32;
    case ROPE_F16: return AK_DT_F16;
    case ROPE_BF16: return AK_DT_BF16;
    case ROPE_Q8: break; /* not a tensor dtype; the cache handles it itself */
    }
    return -1;
}

static inline __attribute__((always_inline)) const void *ak_elem(const void *base, int64_t i, int dt) {
    return (const char *)base + i * (dt == AK_DT_F32 ? 4 : 2);
}

static inline __attribute__((always_inline)) float ak_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline __attribute__((always_inline)) float ak_loadp(const void *p, int dt) {
    if (dt == AK_DT_F32) return *(const float *)p;
    if (dt == AK_DT_F16) return rope_f16_to_f32(*(const uint16_t *)p);
    return ak_bf16(*(const uint16_t *)p);
}

static inline __attribute__((always_inline)) float ak_load1(const void *base, int64_t i, int dt) {
    return ak_loadp(ak_elem(base, i, dt), dt);
}

static inline void ak_store1(void *base, int64_t i, int dt, float x) {
    if (dt == AK_DT_F32) ((float *)base)[i] = x;
    else if (dt == AK_DT_F16) ((uint16_t *)base)[i] = rope_f32_to_f16(x);
    else ((uint16_t *)base)[i] = rope_f32_to_bf16(x);
}

/*
 * 2^x for x <= 0 in plain float arithmetic the compiler vectorises:
 * x = n + f, n = round(x), |f| <= 1/2; 2^f by its Taylor series to degree 6
 * (relative error < 2e-7); 2^n added to the exponent bits. x < -125 (and -inf,
 * a masked score) gives 0, far below any float32 sum it is added to.
 */
#define AK_E6 1.5403530393381609e-4f /* ln2^6/720 */
#define AK_E5 1.3333558146428443e-3f /* ln2^5/120 */
#define AK_E4 9.6181291076284772e-3f /* ln2^4/24 */
#define AK_E3 5.5504108664821580e-2f /* ln2^3/6 */
#define AK_E2 2.4022650695910071e-1f /* ln2^2/2 */
#define AK_E1 6.9314718055994531e-1f /* ln2 */

static inline __attribute__((always_inline)) float ak_exp2(float x) {
    const float xc = x < -125.0f ? -125.0f : x;
    const float n = (xc + 12582912.0f) - 12582912.0f; /* round to nearest: 1.5·2^23 */
    const float f = xc - n;
    float p = AK_E6;
    p = p * f + AK_E5;
    p = p * f + AK_E4;
    p = p * f + AK_E3;
    p = p * f + AK_E2;
    p = p * f + AK_E1;
    p = p * f + 1.0f;
    uint32_t bits;
    memcpy(&bits, &p, sizeof bits);
    bits += (uint32_t)(int32_t)n << 23;
    memcpy(&p, &bits, sizeof p);
    return x < -125.0f ? 0.0f : p;
}

typedef struct ak_kernels {
    void (*qk)(const float *q, int64_t rows, int64_t D, const void *k, int dt, float *s);
    void (*pv)(const float *p, int64_t rows, int64_t D, const void *v, int dt, int nk, float *o);
    void (*softmax_tile)(float *s, int64_t rows, int nk, const int64_t *kpos, const int64_t *rpos,
                         int64_t window, int full, float *m, float *l, float *o, int64_t D);
    void (*qk8)(const float *q, int64_t rows, int64_t D, int64_t nqb, const int8_t *k,
                const float *ks, float *s);
    void (*pv8)(const float *p, int64_t rows, int64_t D, int64_t nqb, const int8_t *v,
                const float *vs, int nk, float *o);
} ak_kernels;

#define AK_INLINE static inline __attribute__((always_inline))
#define AK_NOINLINE static __attribute__((noinline))

/* ---------------------------------------------------------- plain C (any CPU) */
#define AK_NAME(x) x##_generic
#define AK_FN
#define AK_VF float
#define AK_W 1
#define AK_LOAD(p, dt) ak_loadp((p), (dt))
#define AK_LOAD8(p) ((float)*(p))
#define AK_MUL(a, b) ((a) * (b))
#define AK_Q8_RG 2
#define AK_Q8_NB 1
#define AK_SET1(x) (x)
#define AK_FMA(a, b, c) ((a) * (b) + (c))
#define AK_MAX(a, b) ((b) > (a) ? (b) : (a))
#define AK_ADD(a, b) ((a) + (b))
#define AK_SUB(a, b) ((a) - (b))
#define AK_EXP2(x) ak_exp2(x)
#define AK_LOADF(p) (*(p))
#define AK_STOREF(p, v) (*(p) = (v))
#define AK_QK_RG 2
#define AK_QK_NB 1
#define AK_PV_RG 2
#define AK_PV_NV 16
#include "attention_internal.h"
#undef AK_NAME
#undef AK_FN
#undef AK_VF
#undef AK_W
#undef AK_LOAD
#undef AK_LOAD8
#undef AK_MUL
#undef AK_Q8_RG
#undef AK_Q8_NB
#undef AK_SET1
#undef AK_FMA
#undef AK_MAX
#undef AK_ADD
#undef AK_SUB
#undef AK_EXP2
#undef AK_LOADF
#undef AK_STOREF
#undef AK_QK_RG
#undef AK_QK_NB
#undef AK_PV_RG
#undef AK_PV_NV

static const ak_kernels ak_generic = {qk_generic, pv_generic, softmax_tile_generic, qk8_generic, pv8_generic};

#ifdef AK_X86
/* ------------------------------------------------------------ AVX2 + FMA + F16C */
#define AK_T2 __attribute__((target("avx2,fma,f16c")))
AK_T2 AK_INLINE __m256 ak_load_avx2(const void *p, int dt) {
    if (dt == AK_DT_F32) return _mm256_loadu_ps((const float *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (dt == AK_DT_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
/* ak_exp2 on 8 lanes (same steps; FMA in the polynomial). NaN stays NaN:
 * max(lo, x) returns its second operand when either is NaN. */
AK_T2 AK_INLINE __m256 ak_exp2_avx2(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-125.0f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    const __m256 xc = _mm256_max_ps(lo, x);
    const __m256 n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(xc, n);
    __m256 p = _mm256_set1_ps(AK_E6);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(AK_E5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(AK_E4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(AK_E3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(AK_E2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(AK_E1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    const __m256 r = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
    return _mm256_blendv_ps(r, _mm256_setzero_ps(), under);
}
#define AK_NAME(x) x##_avx2
#define AK_FN AK_T2
#define AK_VF __m256
#define AK_W 8
#define AK_LOAD(p, dt) ak_load_avx2((p), (dt))
#define AK_LOAD8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define AK_MUL(a, b) _mm256_mul_ps((a), (b))
#define AK_Q8_RG 2
#define AK_Q8_NB 1
#define AK_SET1(x) _mm256_set1_ps(x)
#define AK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define AK_MAX(a, b) _mm256_max_ps((a), (b))
#define AK_ADD(a, b) _mm256_add_ps((a), (b))
#define AK_SUB(a, b) _mm256_sub_ps((a), (b))
#define AK_EXP2(x) ak_exp2_avx2(x)
#define AK_LOADF(p) _mm256_loadu_ps(p)
#define AK_STOREF(p, v) _mm256_storeu_ps((p), (v))
#define AK_QK_RG 4
#define AK_QK_NB 1
#define AK_PV_RG 4
#define AK_PV_NV 2
#include "attention_internal.h"
#undef AK_NAME
#undef AK_FN
#undef AK_VF
#undef AK_W
#undef AK_LOAD
#undef AK_LOAD8
#undef AK_MUL
#undef AK_Q8_RG
#undef AK_Q8_NB
#undef AK_SET1
#undef AK_FMA
#undef AK_MAX
#undef AK_ADD
#undef AK_SUB
#undef AK_EXP2
#undef AK_LOADF
#undef AK_STOREF
#undef AK_QK_RG
#undef AK_QK_NB
#undef AK_PV_RG
#undef AK_PV_NV

static const ak_kernels ak_avx2 = {qk_avx2, pv_avx2, softmax_tile_avx2, qk8_avx2, pv8_avx2};

/* ------------------------------------------------------------------- AVX-512 */
#define AK_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
AK_T512 AK_INLINE __m512 ak_load_avx512(const void *p, int dt) {
    if (dt == AK_DT_F32) return _mm512_loadu_ps((const float *)p);
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (dt == AK_DT_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
AK_T512 AK_INLINE __m512 ak_exp2_avx512(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-125.0f);
    const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    const __m512 xc = _mm512_max_ps(lo, x);
    const __m512 n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(xc, n);
    __m512 p = _mm512_set1_ps(AK_E6);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(AK_E5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(AK_E4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(AK_E3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(AK_E2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(AK_E1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    const __m512i e = _mm512_slli_epi32(_mm512_cvtps_epi32(n), 23);
    const __m512 r = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), e));
    return _mm512_mask_mov_ps(r, under, _mm512_setzero_ps());
}
#define AK_NAME(x) x##_avx512
#define AK_FN AK_T512
#define AK_VF __m512
#define AK_W 16
#define AK_LOAD(p, dt) ak_load_avx512((p), (dt))
#define AK_LOAD8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))
#define AK_MUL(a, b) _mm512_mul_ps((a), (b))
#define AK_Q8_RG 4
#define AK_Q8_NB 2
#define AK_SET1(x) _mm512_set1_ps(x)
#define AK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define AK_MAX(a, b) _mm512_max_ps((a), (b))
#define AK_ADD(a, b) _mm512_add_ps((a), (b))
#define AK_SUB(a, b) _mm512_sub_ps((a), (b))
#define AK_EXP2(x) ak_exp2_avx512(x)
#define AK_LOADF(p) _mm512_loadu_ps(p)
#define AK_STOREF(p, v) _mm512_storeu_ps((p), (v))
#define AK_QK_RG 4
#define AK_QK_NB 4
#define AK_PV_RG 4
#define AK_PV_NV 4
#include "attention_internal.h"
#undef AK_NAME
#undef AK_FN
#undef AK_VF
#undef AK_W
#undef AK_LOAD
#undef AK_LOAD8
#undef AK_MUL
#undef AK_Q8_RG
#undef AK_Q8_NB
#undef AK_SET1
#undef AK_FMA
#undef AK_MAX
#undef AK_ADD
#undef AK_SUB
#undef AK_EXP2
#undef AK_LOADF
#undef AK_STOREF
#undef AK_QK_RG
#undef AK_QK_NB
#undef AK_PV_RG
#undef AK_PV_NV

static const ak_kernels ak_avx512 = {qk_avx512, pv_avx512, softmax_tile_avx512, qk8_avx512, pv8_avx512};
#endif

/* The attention kernels follow the RoPE kernel set in use (which dispatch.c
 * only picks when the CPU has it), so ROPE_ISA and rope_isa_force test each. */
static const ak_kernels *ak_pick(void) {
#ifdef AK_X86
    const char *isa = rope_isa_name();
    if (isa && !strcmp(isa, "avx512")) return &ak_avx512;
    if (isa && !strcmp(isa, "avx2")) return &ak_avx2;
#endif
    return &ak_generic;
}

/* ------------------------------------------------------------ size helpers */

static int mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* Does every element offset of t fit in int64 and in the address space, and
 * are its shape entries non-negative? (Strides may be anything.) */
static rope_status tensor_check(const rope_tensor *t) {
    int64_t lo = 0, hi = 0, n = 1;
    for (int d = 0; d < 4; d++) {
        if (t->shape[d] < 0) return ROPE_E_SHAPE;
        if (!mul_ok(n, t->shape[d], &n)) return ROPE_E_OVERFLOW;
    }
    if (n == 0) return ROPE_OK;
    for (int d = 0; d < 4; d++) {
        int64_t span;
        if (!mul_ok(t->shape[d] - 1, t->stride[d], &span)) return ROPE_E_OVERFLOW;
        if (span < 0 ? __builtin_add_overflow(lo, span, &lo) : __builtin_add_overflow(hi, span, &hi))
            return ROPE_E_OVERFLOW;
    }
    int64_t es = (int64_t)rope_dtype_size(t->dtype), blo, bhi;
    if (!mul_ok(lo, es, &blo) || !mul_ok(hi + 1, es, &bhi)) return ROPE_E_OVERFLOW;
    /* no view spans more than any address space can map (checks.h) */
    if ((uint64_t)bhi + (uint64_t)(-(blo + 1)) + 1 > ROPE_MAX_ARRAY_BYTES) return ROPE_E_OVERFLOW;
    uintptr_t base = (uintptr_t)t->data;
    if (blo < 0 && (uintptr_t)(-(blo + 1)) >= base) return ROPE_E_OVERFLOW;
    if ((uintptr_t)bhi > UINTPTR_MAX - base) return ROPE_E_OVERFLOW;
    return ROPE_OK;
}

/* Byte range [lo, hi) a non-empty view touches (after tensor_check). */
static void tensor_range(const rope_tensor *t, uintptr_t *lo, uintptr_t *hi) {
    int64_t l = 0, h = 0;
    for (int d = 0; d < 4; d++) {
        int64_t span = (t->shape[d] - 1) * t->stride[d];
        if (span < 0) l += span;
        else h += span;
    }
    int64_t es = (int64_t)rope_dtype_size(t->dtype);
    *lo = (uintptr_t)t->data + (uintptr_t)(l * es);
    *hi = (uintptr_t)t->data + (uintptr_t)((h + 1) * es);
}

static int64_t toff(const rope_tensor *t, int64_t b, int64_t s, int64_t h, int64_t d) {
    return b * t->stride[0] + s * t->stride[1] + h * t->stride[2] + d * t->stride[3];
}

/* --------------------------------------------------------------- positions */

typedef struct qpos_plan {
    int64_t offset;
    const int64_t *ids;
    int64_t ids_bs;
} qpos_plan;

/* Positions of a (batch, n) token grid: offset + s, or ids (negative = padding).
 * The ids array must be able to hold (batch-1)·stride + n entries: an impossible
 * stride is ROPE_E_OVERFLOW before any id is read (and b·stride + s, computed
 * for every token later, cannot overflow). */
static rope_status positions_check(const rope_positions *pos, int64_t batch, int64_t n,
                                   qpos_plan *pl) {
    memset(pl, 0, sizeof *pl);
    if (!pos) return ROPE_OK;
    if (pos->cu_seqlens) return ROPE_E_PARAM; /* one cache row per sequence instead */
    if (pos->ids) {
        if (pos->offset != 0) return ROPE_E_PARAM;
        if (pos->ids_batch_stride < 0) return ROPE_E_PARAM;
        int64_t span;
        if (batch > 0 && n > 0 &&
            (__builtin_mul_overflow(batch - 1, pos->ids_batch_stride, &span) ||
             __builtin_add_overflow(span, n, &span) || !rope_array_fits(pos->ids, span, sizeof(int64_t))))
            return ROPE_E_OVERFLOW;
        pl->ids = pos->ids;
        pl->ids_bs = pos->ids_batch_stride;
        return ROPE_OK;
    }
    if (pos->offset < 0) return ROPE_E_POSITION;
    int64_t last;
    if (n > 0 && __builtin_add_overflow(pos->offset, n - 1, &last)) return ROPE_E_OVERFLOW;
    pl->offset = pos->offset;
    return ROPE_OK;
}

static inline int64_t pos_at(const qpos_plan *pl, int64_t b, int64_t s) {
    return pl->ids ? pl->ids[b * pl->ids_bs + s] : pl->offset + s;
}

/* -------------------------------------------------------------- the cache */

struct rope_kv_cache {
    int64_t batch, n_kv, D, capacity, cap_alloc;
    rope_dtype dtype;
    int dt;              /* AK_DT_* of the stored k and v */
    int64_t es;          /* bytes per stored element (1 for q8: the int8 part) */
    int64_t head_elems;  /* cap_alloc · D: one (row, kv head) region */
    int64_t nqb;         /* q8: scale blocks per head vector, ceil(D / AK_QB); else 0 */
    rope_kv_mode mode;
    rope_dtype wdtype;   /* keys are rotated in this dtype (the cache's; f32 for q8) */
    int64_t wes;
    unsigned char *k, *v;
    float *ks, *vs;      /* q8 scales, per (row, head) cap_alloc · nqb floats */
    unsigned char *ko;   /* SHIFTABLE: keys as given, [row][head][entry][D] in wdtype */
    int64_t *pos;        /* batch × cap_alloc */
    int64_t *len;        /* batch */
};

/* Element index of key (entry e, dim d) inside a (row, head) region. */
static inline int64_t kidx(int64_t D, int64_t e, int64_t d) {
    return (e / AK_KB) * D * AK_KB + d * AK_KB + e % AK_KB;
}

/* Index of the scale of key e, block qb inside a (row, head) region: per block
 * of AK_KB keys, [nqb][AK_KB], so the scales of 16 keys are one vector. */
static inline int64_t ksidx(int64_t nqb, int64_t e, int64_t qb) {
    return (e / AK_KB) * nqb * AK_KB + qb * AK_KB + e % AK_KB;
}

static void *zalloc(int64_t bytes) { return bytes > 0 ? calloc(1, (size_t)bytes) : NULL; }

rope_status rope_kv_cache_create(const rope_kv_cache_desc *desc, rope_kv_cache **out) {
    if (!desc || !out) return ROPE_E_NULL;
    const int q8 = desc->dtype == ROPE_Q8;
    int dt = q8 ? AK_DT_Q8 : ak_dt(desc->dtype);
    if (dt < 0) return ROPE_E_DTYPE;
    if (desc->mode != ROPE_KV_ROTATED && desc->mode != ROPE_KV_SHIFTABLE && desc->mode != ROPE_KV_UNROTATED)
        return ROPE_E_PARAM;
    if (desc->head_dim <= 0 || desc->head_dim > ROPE_MAX_HEAD_DIM) return ROPE_E_DIM;
    if (desc->batch <= 0 || desc->n_kv_heads <= 0 || desc->capacity <= 0) return ROPE_E_PARAM;
    if (desc->capacity > INT64_MAX - AK_TILE) return ROPE_E_OVERFLOW;
    int64_t cap_alloc = (desc->capacity + AK_TILE - 1) / AK_TILE * AK_TILE;
    const rope_dtype wdtype = q8 ? ROPE_F32 : desc->dtype;
    const int64_t es = q8 ? 1 : (int64_t)rope_dtype_size(desc->dtype);
    const int64_t wes = (int64_t)rope_dtype_size(wdtype);
    const int64_t nqb = q8 ? (desc->head_dim + AK_QB - 1) / AK_QB : 0;
    int64_t head, rows, elems, bytes, npos, posbytes, obytes = 0, sbytes = 0;
    if (!mul_ok(cap_alloc, desc->head_dim, &head) || !mul_ok(desc->batch, desc->n_kv_heads, &rows) ||
        !mul_ok(rows, head, &elems) || !mul_ok(elems, es, &bytes) ||
        !mul_ok(desc->batch, cap_alloc, &npos) || !mul_ok(npos, 8, &posbytes) ||
        (desc->mode == ROPE_KV_SHIFTABLE && !mul_ok(elems, wes, &obytes)) ||
        (q8 && (!mul_ok(rows, cap_alloc, &sbytes) || !mul_ok(sbytes, nqb * 4, &sbytes))) ||
        (uint64_t)bytes > SIZE_MAX || (uint64_t)posbytes > SIZE_MAX ||
        (uint64_t)obytes > SIZE_MAX || (uint64_t)sbytes > SIZE_MAX)
        return ROPE_E_OVERFLOW;
    rope_kv_cache *c = calloc(1, sizeof *c);
    if (!c) return ROPE_E_NOMEM;
    /* zeroed: entries past a row's length are read by whole tiles, never used */
    c->k = zalloc(bytes);
    c->v = zalloc(bytes);
    c->pos = zalloc(posbytes);
    c->len = calloc((size_t)desc->batch, sizeof *c->len);
    c->ko = zalloc(obytes);
    c->ks = zalloc(sbytes);
    c->vs = zalloc(sbytes);
    if (!c->k || !c->v || !c->pos || !c->len || (obytes && !c->ko) || (sbytes && (!c->ks || !c->vs))) {
        rope_kv_cache_free(c);
        return ROPE_E_NOMEM;
    }
    c->batch = desc->batch;
    c->n_kv = desc->n_kv_heads;
    c->D = desc->head_dim;
    c->capacity = desc->capacity;
    c->cap_alloc = cap_alloc;
    c->dtype = desc->dtype;
    c->dt = dt;
    c->es = es;
    c->head_elems = head;
    c->nqb = nqb;
    c->mode = desc->mode;
    c->wdtype = wdtype;
    c->wes = wes;
    *out = c;
    return ROPE_OK;
}

void rope_kv_cache_free(rope_kv_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c->ks);
    free(c->vs);
    free(c->ko);
    free(c->pos);
    free(c->len);
    free(c);
}

rope_status rope_kv_cache_length(const rope_kv_cache *c, int64_t row, int64_t *length) {
    if (!c || !length) return ROPE_E_NULL;
    if (row < 0 || row >= c->batch) return ROPE_E_PARAM;
    *length = c->len[row];
    return ROPE_OK;
}

rope_status rope_kv_cache_truncate(rope_kv_cache *c, int64_t row, int64_t length) {
    if (!c) return ROPE_E_NULL;
    if (row < -1 || row >= c->batch || length < 0) return ROPE_E_PARAM;
    for (int64_t b = row < 0 ? 0 : row; b < (row < 0 ? c->batch : row + 1); b++)
        if (c->len[b] > length) c->len[b] = length;
    return ROPE_OK;
}

rope_status rope_kv_cache_clear(rope_kv_cache *c) {
    if (!c) return ROPE_E_NULL;
    for (int64_t b = 0; b < c->batch; b++) c->len[b] = 0;
    return ROPE_OK;
}

/* ------------------------------------------------- storing one head vector */

/*
 * q8: per block of AK_QB dims, scale = max|x| / 127 and q = round(x / scale)
 * (llama.cpp's q8_0 recipe, float32 scale). An all-zero block gets scale 0 and
 * q 0 (dequantises to exact zeros); a block holding a NaN or an infinity gets
 * a NaN scale, so the attention rows that read it are NaN, as with a float cache.
 * q[d·qs], scales[qb·ss].
 */
static void q8_quantize(const float *x, int64_t D, int8_t *q, int64_t qs, float *scales, int64_t ss) {
    for (int64_t d0 = 0, qb = 0; d0 < D; d0 += AK_QB, qb++) {
        const int64_t d1 = d0 + AK_QB < D ? d0 + AK_QB : D;
        float amax = 0.0f;
        int finite = 1;
        for (int64_t d = d0; d < d1; d++) {
            if (!isfinite(x[d])) finite = 0;
            else if (fabsf(x[d]) > amax) amax = fabsf(x[d]);
        }
        const float scale = finite ? amax / 127.0f : NAN;
        const float inv = finite && amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int64_t d = d0; d < d1; d++) {
            float r = finite ? roundf(x[d] * inv) : 0.0f;
            r = r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
            q[d * qs] = (int8_t)r;
        }
        scales[qb * ss] = scale;
    }
}

/* Region offsets (in elements / scale entries) of row b, head h. */
static inline int64_t reg(const rope_kv_cache *c, int64_t b, int64_t h) {
    return (b * c->n_kv + h) * c->head_elems;
}
static inline int64_t sreg(const rope_kv_cache *c, int64_t b, int64_t h) {
    return (b * c->n_kv + h) * c->cap_alloc * c->nqb;
}

/* Key of (b, h, entry e) from x (D elements of c->wdtype, contiguous), into
 * the transposed block: a copy, or int8 + scales for q8. */
static void key_store(rope_kv_cache *c, int64_t b, int64_t h, int64_t e, const void *x) {
    const int64_t D = c->D;
    if (c->dt == AK_DT_Q8) {
        int8_t *q = (int8_t *)(void *)(c->k + reg(c, b, h) + kidx(D, e, 0));
        q8_quantize(x, D, q, AK_KB, c->ks + sreg(c, b, h) + ksidx(c->nqb, e, 0), AK_KB);
        return;
    }
    unsigned char *kr = c->k + (reg(c, b, h) + kidx(D, e, 0)) * c->es;
    const unsigned char *src = x;
    if (c->es == 4)
        for (int64_t d = 0; d < D; d++) memcpy(kr + d * AK_KB * 4, src + d * 4, 4);
    else
        for (int64_t d = 0; d < D; d++) memcpy(kr + d * AK_KB * 2, src + d * 2, 2);
}

/* Value of (b, h, entry e) from D floats (q8) or from a tensor row of dtype sdt
 * with element stride st (copied when the dtypes agree, else via float32). */
static void val_store(rope_kv_cache *c, int64_t b, int64_t h, int64_t e, const unsigned char *src,
                      int sdt, int64_t st, float *tmp) {
    const int64_t D = c->D, ses = sdt == AK_DT_F32 ? 4 : 2;
    if (c->dt == AK_DT_Q8) {
        for (int64_t d = 0; d < D; d++) tmp[d] = ak_loadp(src + d * st * ses, sdt);
        q8_quantize(tmp, D, (int8_t *)(void *)(c->v + reg(c, b, h) + e * D), 1,
                    c->vs + sreg(c, b, h) + e * c->nqb, 1);
        return;
    }
    unsigned char *vr = c->v + (reg(c, b, h) + e * D) * c->es;
    for (int64_t d = 0; d < D; d++) {
        const unsigned char *vp = src + d * st * ses;
        if (sdt == c->dt) memcpy(vr + d * c->es, vp, (size_t)ses);
        else ak_store1(vr, d, c->dt, ak_loadp(vp, sdt));
    }
}

/* Key element (b, h, e, d) as float32 (dequantised for q8). */
static float key_get(const rope_kv_cache *c, int64_t b, int64_t h, int64_t e, int64_t d) {
    if (c->dt == AK_DT_Q8)
        return (float)((const int8_t *)(const void *)c->k)[reg(c, b, h) + kidx(c->D, e, d)] *
               c->ks[sreg(c, b, h) + ksidx(c->nqb, e, d / AK_QB)];
    return ak_load1(c->k, reg(c, b, h) + kidx(c->D, e, d), c->dt);
}
static float val_get(const rope_kv_cache *c, int64_t b, int64_t h, int64_t e, int64_t d) {
    if (c->dt == AK_DT_Q8)
        return (float)((const int8_t *)(const void *)c->v)[reg(c, b, h) + e * c->D + d] *
               c->vs[sreg(c, b, h) + e * c->nqb + d / AK_QB];
    return ak_load1(c->v, reg(c, b, h) + e * c->D + d, c->dt);
}

/* Move entry src to dst (dst < src) of row b: keys, values, scales, originals, position. */
static void entry_move(rope_kv_cache *c, int64_t b, int64_t src, int64_t dst) {
    const int64_t D = c->D;
    for (int64_t h = 0; h < c->n_kv; h++) {
        const int64_t r = reg(c, b, h);
        for (int64_t d = 0; d < D; d++)
            memcpy(c->k + (r + kidx(D, dst, d)) * c->es, c->k + (r + kidx(D, src, d)) * c->es,
                   (size_t)c->es);
        memmove(c->v + (r + dst * D) * c->es, c->v + (r + src * D) * c->es, (size_t)(D * c->es));
        if (c->nqb)
            for (int64_t qb = 0; qb < c->nqb; qb++) {
                const int64_t sr = sreg(c, b, h);
                c->ks[sr + ksidx(c->nqb, dst, qb)] = c->ks[sr + ksidx(c->nqb, src, qb)];
                c->vs[sr + dst * c->nqb + qb] = c->vs[sr + src * c->nqb + qb];
            }
        if (c->ko)
            memmove(c->ko + (r + dst * D) * c->wes, c->ko + (r + src * D) * c->wes,
                    (size_t)(D * c->wes));
    }
    c->pos[b * c->cap_alloc + dst] = c->pos[b * c->cap_alloc + src];
}

/* Largest position rope_apply accepts in table-free mode (exact in double). */
#define AK_MAX_FREE_POSITION ((int64_t)1 << 53)

/* The largest position rope can rotate to, and rope's own parameters (style,
 * dims, attention factor, finite frequencies) checked by rope_apply on an
 * empty view, so every refusal comes before anything is written. */
static rope_status rope_check(const rope_kv_cache *c, const rope_apply_params *rope,
                              int64_t *max_pos) {
    *max_pos = INT64_MAX;
    if (!rope) return ROPE_OK;
    if (rope->table) *max_pos = rope_table_rows(rope->table) - 1;
    else if (rope->freqs) *max_pos = AK_MAX_FREE_POSITION;
    else return ROPE_E_NULL;
    rope_tensor none;
    rope_tensor_contiguous(&none, c->k, c->wdtype, 1, 0, c->n_kv, c->D);
    return rope_apply(rope, NULL, &none, &none);
}

/* rope_apply's own checks at position pmax (< 0: nothing to rotate): its
 * table-free angle check covers every position up to the one it is given,
 * so one zero vector at the largest position a call rotates to proves them
 * all before anything is written (issue 14: no NaN behind ROPE_OK). */
static rope_status rope_check_upto(const rope_kv_cache *c, const rope_apply_params *rope,
                                   int64_t pmax) {
    if (pmax < 0) return ROPE_OK;
    float x[ROPE_MAX_HEAD_DIM] = {0};
    rope_tensor t;
    rope_tensor_contiguous(&t, x, ROPE_F32, 1, 1, 1, c->D);
    rope_positions rp = {0};
    rp.ids = &pmax;
    return rope_apply(rope, &rp, &t, &t);
}

/*
 * Rotate n head-vector groups (n × H × D, contiguous, c->wdtype) in place at
 * positions ids[0..n) with rope_apply: a contiguous tensor, so the SIMD
 * kernels run (the transposed cache blocks would send it to the strided
 * scalar path); the results are the same bits either way.
 */
static rope_status rotate_rows(const rope_kv_cache *c, const rope_apply_params *rope, void *x,
                               int64_t n, const int64_t *ids) {
    rope_tensor t;
    rope_tensor_contiguous(&t, x, c->wdtype, 1, n, c->n_kv, c->D);
    rope_positions rp = {0};
    rp.ids = ids;
    return rope_apply(rope, &rp, &t, &t);
}

/* Entries per scratch batch: about 1 MiB of keys at a time. */
static int64_t chunk_entries(const rope_kv_cache *c) {
    int64_t per = c->n_kv * c->D * c->wes;
    int64_t n = ((int64_t)1 << 20) / per;
    return n < 1 ? 1 : n;
}

/* RMSNorm weights of the fused append (rope_kv_cache_append_qk_norm). */
typedef struct knorm {
    const float *w;
    float eps;
    int plus_one;
} knorm;

/* y = (x · inv) · w (w + 1 for Gemma), inv = 1 / sqrt(Σx²/D + eps) with the
 * sum of squares and the square root in float64, inv rounded to float32;
 * the products in float32. The definition rope.h documents. */
static void rms_norm_row(const float *x, int64_t D, const knorm *n, float *y) {
    double ss = 0.0;
    for (int64_t d = 0; d < D; d++) ss += (double)x[d] * (double)x[d];
    const float inv = (float)(1.0 / sqrt(ss / (double)D + (double)n->eps));
    for (int64_t d = 0; d < D; d++) y[d] = (x[d] * inv) * (n->plus_one ? 1.0f + n->w[d] : n->w[d]);
}

static rope_status append_impl(rope_kv_cache *c, const rope_apply_params *rope,
                               const rope_positions *pos, const rope_tensor *k,
                               const rope_tensor *v, const knorm *kn);

rope_status rope_kv_cache_append(rope_kv_cache *c, const rope_apply_params *rope,
                                 const rope_positions *pos, const rope_tensor *k,
                                 const rope_tensor *v) {
    return append_impl(c, rope, pos, k, v, NULL);
}

/* k and v: dtypes, strides and shapes (batch, k's token count, kv heads,
 * head dim) against the cache, k first. */
static rope_status append_tensors_check(const rope_kv_cache *c, const rope_tensor *k,
                                        const rope_tensor *v) {
    const rope_tensor *t2[2] = {k, v};
    for (int i = 0; i < 2; i++) {
        if (ak_dt(t2[i]->dtype) < 0) return ROPE_E_DTYPE;
        rope_status st = tensor_check(t2[i]);
        if (st != ROPE_OK) return st;
        if (t2[i]->shape[0] != c->batch || t2[i]->shape[1] != k->shape[1] ||
            t2[i]->shape[2] != c->n_kv || t2[i]->shape[3] != c->D)
            return ROPE_E_SHAPE;
    }
    return ROPE_OK;
}

/* capacity and positions of every row before anything is written */
static rope_status append_rows_check(const rope_kv_cache *c, const qpos_plan *pl, int64_t n,
                                     int64_t max_pos) {
    for (int64_t b = 0; b < c->batch; b++) {
        int64_t cnt = 0;
        for (int64_t s = 0; s < n; s++) {
            int64_t p = pos_at(pl, b, s);
            if (p < 0) continue; /* padding: not stored */
            if (p > max_pos) return ROPE_E_POSITION;
            cnt++;
        }
        if (cnt > c->capacity - c->len[b]) return ROPE_E_CAPACITY;
    }
    return ROPE_OK;
}

/* One append's inputs and its chunk scratch (keys in the rotation dtype, one
 * float32 row, the chunk's positions and source tokens). */
typedef struct append_job {
    rope_kv_cache *c;
    const rope_apply_params *rope;
    const qpos_plan *pl;
    const rope_tensor *k, *v;
    const knorm *kn;
    unsigned char *scr;
    float *tmp;
    int64_t *ids, *src;
    int64_t chunk;
} append_job;

/* Gather the m keys of the chunk (tokens src[0..m) of row b) into scr in the
 * rotation dtype (normalised first when fused) and keep the originals
 * (SHIFTABLE) at entries [e, e + m). */
static void append_gather(const append_job *j, int64_t b, int64_t e, int64_t m) {
    rope_kv_cache *c = j->c;
    const rope_tensor *k = j->k;
    const int64_t D = c->D, H = c->n_kv;
    const int kdt = ak_dt(k->dtype), wdt = ak_dt(c->wdtype);
    const int64_t kes = (int64_t)rope_dtype_size(k->dtype);
    for (int64_t i = 0; i < m; i++)
        for (int64_t h = 0; h < H; h++) {
            const unsigned char *ks = (const unsigned char *)k->data + toff(k, b, j->src[i], h, 0) * kes;
            unsigned char *w = j->scr + ((i * H + h) * D) * c->wes;
            if (j->kn) { /* normalised in float32, then the rotation dtype */
                for (int64_t d = 0; d < D; d++) j->tmp[d] = ak_loadp(ks + d * k->stride[3] * kes, kdt);
                rms_norm_row(j->tmp, D, j->kn, j->tmp);
                for (int64_t d = 0; d < D; d++) ak_store1(w, d, wdt, j->tmp[d]);
            } else {
                for (int64_t d = 0; d < D; d++) {
                    const unsigned char *kp = ks + d * k->stride[3] * kes;
                    if (kdt == wdt) memcpy(w + d * c->wes, kp, (size_t)kes);
                    else ak_store1(w, d, wdt, ak_loadp(kp, kdt));
                }
            }
            if (c->ko) memcpy(c->ko + (reg(c, b, h) + (e + i) * D) * c->wes, w, (size_t)(D * c->wes));
        }
}

/* Store the chunk's m positions, (rotated) keys and values at entries [e, e + m) of row b. */
static void append_store(const append_job *j, int64_t b, int64_t e, int64_t m) {
    rope_kv_cache *c = j->c;
    const rope_tensor *v = j->v;
    const int64_t D = c->D, H = c->n_kv;
    const int vdt = ak_dt(v->dtype);
    const int64_t ves = (int64_t)rope_dtype_size(v->dtype);
    for (int64_t i = 0; i < m; i++) {
        c->pos[b * c->cap_alloc + e + i] = j->ids[i];
        for (int64_t h = 0; h < H; h++) {
            key_store(c, b, h, e + i, j->scr + ((i * H + h) * D) * c->wes);
            val_store(c, b, h, e + i,
                      (const unsigned char *)v->data + toff(v, b, j->src[i], h, 0) * ves, vdt,
                      v->stride[3], j->tmp);
        }
    }
}

/* write past each row's length (invisible until the lengths move), a chunk
 * of entries at a time: gather the keys contiguously in the rotation dtype,
 * keep the originals (SHIFTABLE), rotate, then store into the blocks */
static rope_status append_rows(const append_job *j, int64_t n) {
    rope_kv_cache *c = j->c;
    for (int64_t b = 0; b < c->batch; b++) {
        int64_t e = c->len[b], s = 0;
        while (s < n) {
            int64_t m = 0;
            for (; s < n && m < j->chunk; s++) {
                int64_t p = pos_at(j->pl, b, s);
                if (p < 0) continue;
                j->ids[m] = p;
                j->src[m++] = s;
            }
            append_gather(j, b, e, m);
            if (j->rope && m > 0 && c->mode != ROPE_KV_UNROTATED) {
                rope_status st = rotate_rows(c, j->rope, j->scr, m, j->ids);
                if (st != ROPE_OK) return st; /* lengths unchanged: nothing visible moved */
            }
            append_store(j, b, e, m);
            e += m;
        }
    }
    return ROPE_OK;
}

static rope_status append_impl(rope_kv_cache *c, const rope_apply_params *rope,
                               const rope_positions *pos, const rope_tensor *k,
                               const rope_tensor *v, const knorm *kn) {
    if (!c || !k || !v) return ROPE_E_NULL;
    rope_status st = append_tensors_check(c, k, v);
    if (st != ROPE_OK) return st;
    const int64_t n = k->shape[1];
    if (n == 0) return ROPE_OK;
    if (!k->data || !v->data) return ROPE_E_NULL;
    if (c->mode == ROPE_KV_SHIFTABLE && !rope) return ROPE_E_PARAM; /* originals must be raw */
    qpos_plan pl;
    st = positions_check(pos, c->batch, n, &pl);
    if (st != ROPE_OK) return st;
    int64_t max_pos;
    st = rope_check(c, rope, &max_pos);
    if (st != ROPE_OK) return st;
    st = append_rows_check(c, &pl, n, max_pos);
    if (st != ROPE_OK) return st;

    const int64_t D = c->D, H = c->n_kv, chunk = chunk_entries(c);
    append_job j = {c, rope, &pl, k, v, kn, NULL, NULL, NULL, NULL, chunk};
    j.scr = malloc((size_t)(chunk * H * D * c->wes));
    j.tmp = malloc(sizeof(float) * (size_t)D);
    j.ids = malloc(sizeof(int64_t) * (size_t)chunk);
    j.src = malloc(sizeof(int64_t) * (size_t)chunk);
    if (!j.scr || !j.tmp || !j.ids || !j.src) st = ROPE_E_NOMEM;
    else st = append_rows(&j, n);
    if (st == ROPE_OK)
        for (int64_t b = 0; b < c->batch; b++)
            for (int64_t s = 0; s < n; s++)
                if (pos_at(&pl, b, s) >= 0) c->len[b]++;
    free(j.scr);
    free(j.tmp);
    free(j.ids);
    free(j.src);
    return st;
}

/* Rows [b0, b1) that `row` names (-1: all); ROPE_E_PARAM if out of range. */
static rope_status row_range(const rope_kv_cache *c, int64_t row, int64_t *b0, int64_t *b1) {
    if (row < -1 || row >= c->batch) return ROPE_E_PARAM;
    *b0 = row < 0 ? 0 : row;
    *b1 = row < 0 ? c->batch : row + 1;
    return ROPE_OK;
}

rope_status rope_kv_cache_shift(rope_kv_cache *c, const rope_apply_params *rope, int64_t row,
                                int64_t p0, int64_t p1, int64_t delta) {
    if (!c) return ROPE_E_NULL;
    int64_t b0, b1, max_pos;
    rope_status st = row_range(c, row, &b0, &b1);
    if (st != ROPE_OK) return st;
    if (p0 > p1) return ROPE_E_PARAM;
    if (c->mode == ROPE_KV_ROTATED) return ROPE_E_UNSUPPORTED;
    if (!rope && c->mode == ROPE_KV_SHIFTABLE) return ROPE_E_NULL;
    st = rope_check(c, rope, &max_pos);
    if (st != ROPE_OK) return st;
    /* every new position checked before anything moves */
    int64_t total = 0, np_max = -1;
    for (int64_t b = b0; b < b1; b++)
        for (int64_t e = 0; e < c->len[b]; e++) {
            const int64_t p = c->pos[b * c->cap_alloc + e];
            if (p < p0 || p >= p1) continue;
            int64_t np;
            if (__builtin_add_overflow(p, delta, &np) || np < 0 || np > max_pos) return ROPE_E_POSITION;
            if (np > np_max) np_max = np;
            total++;
        }
    if (total == 0 || delta == 0) return ROPE_OK;
    /* UNROTATED: the angles at the new positions are proven now, as an append's
     * are, not first refused by a later attention call */
    if (rope && (st = rope_check_upto(c, rope, np_max)) != ROPE_OK) return st;
    if (c->mode == ROPE_KV_UNROTATED) { /* keys are rotated when read: positions only */
        for (int64_t b = b0; b < b1; b++)
            for (int64_t e = 0; e < c->len[b]; e++) {
                int64_t *pp = &c->pos[b * c->cap_alloc + e];
                if (*pp >= p0 && *pp < p1) *pp += delta;
            }
        return ROPE_OK;
    }
    /* rotate every moved key from its original into scratch first: an error
     * (e.g. rope's rotary_dim) then leaves the cache as it was */
    const int64_t D = c->D, H = c->n_kv;
    unsigned char *scr = malloc((size_t)(total * H * D * c->wes));
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)total);
    if (!scr || !ids) {
        free(scr);
        free(ids);
        return ROPE_E_NOMEM;
    }
    int64_t i = 0;
    for (int64_t b = b0; b < b1; b++)
        for (int64_t e = 0; e < c->len[b]; e++) {
            const int64_t p = c->pos[b * c->cap_alloc + e];
            if (p < p0 || p >= p1) continue;
            ids[i] = p + delta;
            for (int64_t h = 0; h < H; h++)
                memcpy(scr + (i * H + h) * D * c->wes, c->ko + (reg(c, b, h) + e * D) * c->wes,
                       (size_t)(D * c->wes));
            i++;
        }
    st = rotate_rows(c, rope, scr, total, ids);
    if (st == ROPE_OK) {
        i = 0;
        for (int64_t b = b0; b < b1; b++)
            for (int64_t e = 0; e < c->len[b]; e++) {
                int64_t *pp = &c->pos[b * c->cap_alloc + e];
                if (*pp < p0 || *pp >= p1) continue;
                *pp = ids[i];
                for (int64_t h = 0; h < H; h++) key_store(c, b, h, e, scr + (i * H + h) * D * c->wes);
                i++;
            }
    }
    free(scr);
    free(ids);
    return st;
}

rope_status rope_kv_cache_remove(rope_kv_cache *c, int64_t row, int64_t p0, int64_t p1) {
    if (!c) return ROPE_E_NULL;
    int64_t b0, b1;
    rope_status st = row_range(c, row, &b0, &b1);
    if (st != ROPE_OK) return st;
    if (p0 > p1) return ROPE_E_PARAM;
    for (int64_t b = b0; b < b1; b++) {
        int64_t w = 0;
        for (int64_t e = 0; e < c->len[b]; e++) {
            const int64_t p = c->pos[b * c->cap_alloc + e];
            if (p >= p0 && p < p1) continue;
            if (w != e) entry_move(c, b, e, w);
            w++;
        }
        c->len[b] = w;
    }
    return ROPE_OK;
}

rope_status rope_kv_cache_read(const rope_kv_cache *c, int64_t row, int64_t entry, int64_t n,
                               const rope_tensor *k, const rope_tensor *v, int64_t *positions) {
    if (!c) return ROPE_E_NULL;
    if (row < 0 || row >= c->batch || entry < 0 || n < 0 || entry > c->len[row] ||
        n > c->len[row] - entry)
        return ROPE_E_PARAM;
    const rope_tensor *t2[2] = {k, v};
    for (int i = 0; i < 2; i++) {
        if (!t2[i]) continue;
        if (ak_dt(t2[i]->dtype) < 0) return ROPE_E_DTYPE;
        rope_status st = tensor_check(t2[i]);
        if (st != ROPE_OK) return st;
        if (t2[i]->shape[0] != 1 || t2[i]->shape[1] != n || t2[i]->shape[2] != c->n_kv ||
            t2[i]->shape[3] != c->D)
            return ROPE_E_SHAPE;
        if (n > 0 && !t2[i]->data) return ROPE_E_NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        if (positions) positions[i] = c->pos[row * c->cap_alloc + entry + i];
        for (int64_t h = 0; h < c->n_kv; h++)
            for (int64_t d = 0; d < c->D; d++) {
                if (k) ak_store1(k->data, toff(k, 0, i, h, d), ak_dt(k->dtype), key_get(c, row, h, entry + i, d));
                if (v) ak_store1(v->data, toff(v, 0, i, h, d), ak_dt(v->dtype), val_get(c, row, h, entry + i, d));
            }
    }
    return ROPE_OK;
}
/* --------------------------------------------------------------- attention */

void rope_attention_params_init(rope_attention_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->softmax_scale = 0.0;
    p->sliding_window = 0;
    p->pool = NULL;
}

typedef struct attn_ctx {
    const rope_kv_cache *c;
    const ak_kernels *kn;
    rope_tensor q, out;
    int64_t L, G, Bq, nqb, rmax;
    qpos_plan qp;
    float qscale;
    int64_t window;
    /* flash-decoding: the keys of one (row, kv head, query block) in nsplit
     * chunks of split_len keys, each an item with its own partial softmax
     * state (m, l, o in part), merged in chunk order afterwards */
    int64_t nsplit, split_len;
    float *part;
    const rope_apply_params *rope; /* UNROTATED caches: rotate keys on read (no pool) */
    rope_apply_params rope_nopool;
    /* one scratch area per participating thread, claimed with a flag */
    unsigned char *scratch;
    size_t slot_bytes;
    int n_slots;
    atomic_int *busy;
} attn_ctx;

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

typedef struct scratch {
    float *q, *o, *s, *m, *l;
    int64_t *rpos;
    float *kt, *kr; /* UNROTATED: one tile of rotated keys, block layout and row-major */
} scratch;

static size_t scratch_layout(int64_t rmax, int64_t D, int unrot, unsigned char *base, scratch *sc) {
    size_t off = 0;
    size_t sz_q = align64((size_t)(rmax * D) * sizeof(float));
    size_t sz_s = align64((size_t)(rmax * AK_TILE) * sizeof(float));
    size_t sz_r = align64((size_t)rmax * sizeof(float));
    size_t sz_p = align64((size_t)rmax * sizeof(int64_t));
    size_t sz_k = unrot ? align64((size_t)(AK_TILE * D) * sizeof(float)) : 0;
    if (sc) {
        sc->q = (float *)(base + off);
        sc->o = (float *)(base + off + sz_q);
        sc->s = (float *)(base + off + 2 * sz_q);
        sc->m = (float *)(base + off + 2 * sz_q + sz_s);
        sc->l = (float *)(base + off + 2 * sz_q + sz_s + sz_r);
        sc->rpos = (int64_t *)(base + off + 2 * sz_q + sz_s + 2 * sz_r);
        sc->kt = unrot ? (float *)(base + off + 2 * sz_q + sz_s + 2 * sz_r + sz_p) : NULL;
        sc->kr = unrot ? sc->kt + sz_k / sizeof(float) : NULL;
    }
    return 2 * sz_q + sz_s + 2 * sz_r + sz_p + 2 * sz_k;
}

/* IEEE binary16 -> float32 inline (the rotate-on-read gather converts whole tiles). */
static inline float ak_h2f(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    uint32_t u;
    if (e == 0x1f) u = sign | 0x7f800000u | (m << 13);          /* Inf, NaN */
    else if (e != 0) u = sign | ((e + 112) << 23) | (m << 13);  /* normal */
    else if (m == 0) u = sign;                                  /* zero */
    else {                                                      /* subnormal: m·2^-24 */
        float f = (float)m * 5.9604644775390625e-8f;
        memcpy(&u, &f, 4);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/*
 * ROPE_KV_UNROTATED: the AK_TILE keys of the tile at entry t0 of (row b, kv
 * head h), dequantised into float32 in the block layout the Q·Kᵀ kernel reads,
 * and rotated there: each rotated pair of dims is two vectors of 16 keys, and
 * c' = cos·af, s' = ±sin·af per key (from the table row of its position, or
 * the kernels' sincos table-free) are laid out the same way, so the rotation
 * is the reference one (rope_ref_rotate) run across keys: the same bits as
 * rope_apply. Entries past nk are rotated at position 0 and never used.
 */
static void rotate_tile(const rope_kv_cache *c, const rope_apply_params *rope, int64_t b,
                        int64_t h, int64_t t0, int nk, const int64_t *kpos, const scratch *sc) {
    const int64_t D = c->D, nf = rope->rotary_dim / 2, n = AK_TILE * D;
    const int64_t e0 = reg(c, b, h) + t0 * D; /* the tile's blocks are contiguous */
    float *kt = sc->kt;
    if (c->dt == AK_DT_F32) {
        memcpy(kt, c->k + e0 * 4, sizeof(float) * (size_t)n);
    } else if (c->dt == AK_DT_F16) {
        const uint16_t *src = (const uint16_t *)(const void *)c->k + e0;
        for (int64_t i = 0; i < n; i++) kt[i] = ak_h2f(src[i]);
    } else if (c->dt == AK_DT_BF16) {
        const uint16_t *src = (const uint16_t *)(const void *)c->k + e0;
        for (int64_t i = 0; i < n; i++) kt[i] = ak_bf16(src[i]);
    } else {
        const int8_t *src = (const int8_t *)(const void *)c->k + e0;
        const float *ks = c->ks + sreg(c, b, h) + t0 * c->nqb;
        for (int64_t blk = 0; blk < AK_TILE / AK_KB; blk++)
            for (int64_t d = 0; d < D; d++) {
                const float *sv = ks + (blk * c->nqb + d / AK_QB) * AK_KB;
                const int64_t o = (blk * D + d) * AK_KB;
                for (int j = 0; j < AK_KB; j++) kt[o + j] = (float)src[o + j] * sv[j];
            }
    }
    /* c', s' per (frequency, key): cs[i][j], sn[i][j] */
    float *cs = sc->kr, *sn = sc->kr + nf * AK_TILE;
    const float af = rope->attention_factor;
    const float *tc = rope->table ? rope_table_cos(rope->table) : NULL;
    const float *ts = rope->table ? rope_table_sin(rope->table) : NULL;
    float cbuf[ROPE_MAX_FREQS], sbuf[ROPE_MAX_FREQS];
    for (int j = 0; j < AK_TILE; j++) {
        const int64_t p = j < nk ? kpos[j] : 0;
        const float *cr = cbuf, *sr = sbuf;
        if (tc) {
            cr = tc + p * nf;
            sr = ts + p * nf;
        } else {
            rope_kernels_get()->sincos(rope->freqs->inv_freq, nf, (double)p, cbuf, sbuf);
        }
        for (int64_t i = 0; i < nf; i++) {
            float cc = cr[i] * af;
            float ss = sr[i] * af;
            if (rope->inverse) ss = -ss;
            cs[i * AK_TILE + j] = cc;
            sn[i * AK_TILE + j] = ss;
        }
    }
    const int half = rope->style == ROPE_STYLE_HALF;
    for (int64_t blk = 0; blk < AK_TILE / AK_KB; blk++)
        for (int64_t i = 0; i < nf; i++) {
            float *x0 = kt + (blk * D + (half ? i : 2 * i)) * AK_KB;
            float *x1 = kt + (blk * D + (half ? i + nf : 2 * i + 1)) * AK_KB;
            const float *cc = cs + i * AK_TILE + blk * AK_KB, *ss = sn + i * AK_TILE + blk * AK_KB;
            for (int j = 0; j < AK_KB; j++) rope_ref_rotate(x0[j], x1[j], cc[j], ss[j], &x0[j], &x1[j]);
        }
}

static void attn_store(const attn_ctx *x, int64_t b, int64_t kvh, int64_t s0, int64_t nq,
                       const float *o, const float *l);

static void attn_item(const attn_ctx *x, const scratch *sc, int64_t item) {
    const rope_kv_cache *c = x->c;
    const int64_t H = c->n_kv, D = c->D, G = x->G;
    /* items: (row, kv head) outer; query blocks zigzag inside, so any
     * contiguous run of items mixes early (cheap) and late (dear) blocks */
    const int64_t ch = item % x->nsplit;
    item /= x->nsplit;
    const int64_t bh = item / x->nqb, z = item % x->nqb;
    const int64_t b = bh / H, kvh = bh % H;
    const int64_t qb = (z % 2 == 0) ? z / 2 : x->nqb - 1 - z / 2;
    const int64_t s0 = qb * x->Bq;
    const int64_t nq = x->L - s0 < x->Bq ? x->L - s0 : x->Bq;
    const int64_t R = nq * G;

    const int64_t qes = (int64_t)rope_dtype_size(x->q.dtype);
    const int qdt = ak_dt(x->q.dtype);
    int64_t qmin = INT64_MAX, qmax = -1;
    int any_pad = 0;
    for (int64_t i = 0; i < nq; i++) {
        int64_t p = pos_at(&x->qp, b, s0 + i);
        if (p < 0) any_pad = 1;
        else {
            if (p < qmin) qmin = p;
            if (p > qmax) qmax = p;
        }
        for (int64_t g = 0; g < G; g++) {
            const int64_t r = i * G + g;
            sc->rpos[r] = p;
            sc->m[r] = -INFINITY;
            sc->l[r] = 0.0f;
            const unsigned char *src = (const unsigned char *)x->q.data +
                                       toff(&x->q, b, s0 + i, kvh * G + g, 0) * qes;
            float *qr = sc->q + r * D, *orow = sc->o + r * D;
            if (qdt == AK_DT_F32 && x->q.stride[3] == 1) {
                const float *qf = (const float *)(const void *)src;
                for (int64_t d = 0; d < D; d++) qr[d] = qf[d] * x->qscale;
            } else {
                for (int64_t d = 0; d < D; d++)
                    qr[d] = ak_loadp(src + d * x->q.stride[3] * qes, qdt) * x->qscale;
            }
            memset(orow, 0, sizeof(float) * (size_t)D);
        }
    }

    if (qmax >= 0) {
        const int64_t len = c->len[b];
        const int64_t *kpos = c->pos + b * c->cap_alloc;
        const unsigned char *kb = c->k + (b * H + kvh) * c->head_elems * c->es;
        const unsigned char *vb = c->v + (b * H + kvh) * c->head_elems * c->es;
        const int q8 = c->dt == AK_DT_Q8;
        const float *ksb = q8 ? c->ks + sreg(c, b, kvh) : NULL, *vsb = q8 ? c->vs + sreg(c, b, kvh) : NULL;
        const int64_t tb = ch * x->split_len;
        const int64_t te = x->nsplit > 1 && tb + x->split_len < len ? tb + x->split_len : len;
        for (int64_t t0 = tb; t0 < te; t0 += AK_TILE) {
            const int nk = (int)(te - t0 < AK_TILE ? te - t0 : AK_TILE);
            int64_t kmin = INT64_MAX, kmax = INT64_MIN;
            for (int j = 0; j < nk; j++) {
                int64_t p = kpos[t0 + j];
                kmin = p < kmin ? p : kmin;
                kmax = p > kmax ? p : kmax;
            }
            if (kmin > qmax) continue;                           /* all in the future */
            if (x->window && kmax <= qmin - x->window) continue; /* all out of window */
            const int full = !any_pad && kmax <= qmin && (!x->window || kmin > qmax - x->window);
            if (x->rope) {
                rotate_tile(c, x->rope, b, kvh, t0, nk, kpos + t0, sc);
                x->kn->qk(sc->q, R, D, sc->kt, AK_DT_F32, sc->s);
            } else if (q8) x->kn->qk8(sc->q, R, D, c->nqb, (const int8_t *)(const void *)(kb + t0 * D), ksb + t0 * c->nqb, sc->s);
            else x->kn->qk(sc->q, R, D, kb + t0 * D * c->es, c->dt, sc->s);
            x->kn->softmax_tile(sc->s, R, nk, kpos + t0, sc->rpos, x->window, full, sc->m, sc->l,
                                sc->o, D);
            if (q8) x->kn->pv8(sc->s, R, D, c->nqb, (const int8_t *)(const void *)(vb + t0 * D), vsb + t0 * c->nqb, nk, sc->o);
            else x->kn->pv(sc->s, R, D, vb + t0 * D * c->es, c->dt, nk, sc->o);
        }
    }

    if (x->nsplit > 1) { /* partial state of this chunk: m, l, then o, per row */
        float *pp = x->part + (item * x->nsplit + ch) * x->rmax * (D + 2);
        for (int64_t r = 0; r < R; r++) {
            pp[r * (D + 2)] = sc->m[r];
            pp[r * (D + 2) + 1] = sc->l[r];
            memcpy(pp + r * (D + 2) + 2, sc->o + r * D, sizeof(float) * (size_t)D);
        }
        return;
    }
    attn_store(x, b, kvh, s0, nq, sc->o, sc->l);
}

/*
 * Merge the nsplit partial states of one (row, kv head, query block), in chunk
 * order (so the result does not depend on the thread count): with M the
 * largest running max, l = Σ l_c·2^(m_c − M) and o = Σ o_c·2^(m_c − M).
 * A chunk that saw nothing (m = −inf) adds nothing; a NaN max makes the row NaN.
 */
static void attn_merge(const attn_ctx *x, const scratch *sc, int64_t item) {
    const int64_t H = x->c->n_kv, D = x->c->D, G = x->G;
    const int64_t bh = item / x->nqb, z = item % x->nqb;
    const int64_t qb = (z % 2 == 0) ? z / 2 : x->nqb - 1 - z / 2;
    const int64_t s0 = qb * x->Bq, nq = x->L - s0 < x->Bq ? x->L - s0 : x->Bq, R = nq * G;
    const float *base = x->part + item * x->nsplit * x->rmax * (D + 2);
    for (int64_t r = 0; r < R; r++) {
        float M = -INFINITY, l = 0.0f;
        for (int64_t ch = 0; ch < x->nsplit; ch++) {
            const float m = base[(ch * x->rmax + r) * (D + 2)];
            if (m != m) M = m;
            else if (M == M && m > M) M = m;
        }
        float *o = sc->o + r * D;
        memset(o, 0, sizeof(float) * (size_t)D);
        for (int64_t ch = 0; ch < x->nsplit; ch++) {
            const float *pp = base + (ch * x->rmax + r) * (D + 2);
            if (pp[0] == -INFINITY) continue;
            const float w = M != M ? NAN : ak_exp2(pp[0] - M);
            l += pp[1] * w;
            for (int64_t d = 0; d < D; d++) o[d] += pp[2 + d] * w;
        }
        sc->l[r] = l;
    }
    attn_store(x, bh / H, bh % H, s0, nq, sc->o, sc->l);
}

static void attn_merge_range(void *ctx, int64_t begin, int64_t end) {
    attn_ctx *x = ctx;
    scratch sc;
    scratch_layout(x->rmax, x->c->D, x->rope != NULL, x->scratch, &sc);
    for (int64_t i = begin; i < end; i++) attn_merge(x, &sc, i);
}

/* Normalise the nq·G output rows of (row b, kv head kvh, queries from s0) and
 * write them to out in its dtype and strides. */
static void attn_store(const attn_ctx *x, int64_t b, int64_t kvh, int64_t s0, int64_t nq,
                       const float *o, const float *l) {
    const int64_t D = x->c->D, G = x->G;
    const int64_t oes = (int64_t)rope_dtype_size(x->out.dtype);
    const int odt = ak_dt(x->out.dtype);
    for (int64_t i = 0; i < nq; i++)
        for (int64_t g = 0; g < G; g++) {
            const int64_t r = i * G + g;
            const int seen = l[r] != 0.0f; /* nothing seen: zeros (NaN sums stay NaN) */
            const float inv = seen ? 1.0f / l[r] : 0.0f;
            unsigned char *dst = (unsigned char *)x->out.data +
                                 toff(&x->out, b, s0 + i, kvh * G + g, 0) * oes;
            const float *orow = o + r * D;
            if (odt == AK_DT_F32 && x->out.stride[3] == 1) {
                float *of = (float *)(void *)dst;
                if (seen)
                    for (int64_t d = 0; d < D; d++) of[d] = orow[d] * inv;
                else
                    memset(of, 0, sizeof(float) * (size_t)D);
            } else {
                for (int64_t d = 0; d < D; d++)
                    ak_store1(dst + d * x->out.stride[3] * oes, 0, odt, seen ? orow[d] * inv : 0.0f);
            }
        }
}

static void attn_range(void *ctx, int64_t begin, int64_t end) {
    attn_ctx *x = ctx;
    int slot = 0;
    for (;; slot = (slot + 1) % x->n_slots) { /* at most n_slots callers run at once */
        int expected = 0;
        if (atomic_compare_exchange_strong(&x->busy[slot], &expected, 1)) break;
    }
    scratch sc;
    scratch_layout(x->rmax, x->c->D, x->rope != NULL, x->scratch + (size_t)slot * x->slot_bytes, &sc);
    for (int64_t i = begin; i < end; i++) attn_item(x, &sc, i);
    atomic_store(&x->busy[slot], 0);
}

/* out: no element written twice; no overlap with in unless exactly in place. */
static rope_status out_check(const rope_tensor *q, const rope_tensor *out) {
    int same = q->data == out->data && q->dtype == out->dtype;
    for (int d = 0; d < 4; d++)
        if (q->shape[d] > 1 && q->stride[d] != out->stride[d]) same = 0;
    uintptr_t qlo, qhi, olo, ohi;
    tensor_range(q, &qlo, &qhi);
    tensor_range(out, &olo, &ohi);
    if (!same && qlo < ohi && olo < qhi) return ROPE_E_OVERLAP;
    /* sorted by |stride|, each dim must step over what the smaller ones span */
    int idx[4], nd = 0;
    for (int d = 0; d < 4; d++)
        if (out->shape[d] > 1) idx[nd++] = d;
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && llabs(out->stride[idx[j]]) < llabs(out->stride[idx[j - 1]]); j--) {
            int tmp = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = tmp;
        }
    int64_t span = 1;
    for (int i = 0; i < nd; i++) {
        int64_t sd = llabs(out->stride[idx[i]]);
        if (sd < span) return ROPE_E_OVERLAP;
        span += (out->shape[idx[i]] - 1) * sd;
    }
    return ROPE_OK;
}

/* q and out: dtypes, strides, equal shapes matching the cache (batch, head
 * dim, a whole number of query heads per kv head); p's scale and window. */
static rope_status attn_args_check(const rope_kv_cache *c, const rope_attention_params *p,
                                   const rope_tensor *q, const rope_tensor *out) {
    if (ak_dt(q->dtype) < 0 || ak_dt(out->dtype) < 0) return ROPE_E_DTYPE;
    rope_status st = tensor_check(q);
    if (st == ROPE_OK) st = tensor_check(out);
    if (st != ROPE_OK) return st;
    for (int d = 0; d < 4; d++)
        if (q->shape[d] != out->shape[d]) return ROPE_E_SHAPE;
    const int64_t Hq = q->shape[2];
    if (q->shape[0] != c->batch || q->shape[3] != c->D || Hq < 1 || Hq % c->n_kv) return ROPE_E_SHAPE;
    if (!(p->softmax_scale >= 0.0) || !isfinite(p->softmax_scale)) return ROPE_E_PARAM;
    if (p->sliding_window < 0) return ROPE_E_PARAM;
    return ROPE_OK;
}

/* UNROTATED caches: rope checked against every stored key's position before
 * anything is written, then kept (without its pool) to rotate keys on read. */
static rope_status attn_rope_setup(attn_ctx *x, const rope_kv_cache *c,
                                   const rope_attention_params *p) {
    if (!p->rope) return ROPE_E_NULL;
    /* keys are rotated where they lie in the tile (rotate_tile): a layout that moves
     * dimensions would need a permuted tile */
    if (p->rope->style == ROPE_STYLE_DEINTERLEAVE) return ROPE_E_UNSUPPORTED;
    int64_t max_pos;
    rope_status st = rope_check(c, p->rope, &max_pos);
    if (st != ROPE_OK) return st;
    int64_t pmax = -1;
    for (int64_t b = 0; b < c->batch; b++)
        for (int64_t e = 0; e < c->len[b]; e++) {
            const int64_t pe = c->pos[b * c->cap_alloc + e];
            if (pe > max_pos) return ROPE_E_POSITION;
            if (pe > pmax) pmax = pe;
        }
    /* the angles of the farthest key finite: rotate_tile cannot refuse */
    st = rope_check_upto(c, p->rope, pmax);
    if (st != ROPE_OK) return st;
    x->rope_nopool = *p->rope;
    x->rope_nopool.pool = NULL; /* already inside the attention's own threads */
    x->rope = &x->rope_nopool;
    return ROPE_OK;
}

/* The context of one call: query tiles, scale, window, rope (UNROTATED). */
static rope_status attn_setup(attn_ctx *x, const rope_kv_cache *c,
                              const rope_attention_params *p, const rope_tensor *q,
                              const rope_tensor *out, const qpos_plan *qp) {
    const int64_t L = q->shape[1], Hq = q->shape[2];
    memset(x, 0, sizeof *x);
    x->c = c;
    x->kn = ak_pick();
    x->q = *q;
    x->out = *out;
    x->L = L;
    x->G = Hq / c->n_kv;
    x->Bq = x->G >= AK_TILE ? 1 : AK_TILE / x->G;
    if (x->Bq > L) x->Bq = L;
    x->nqb = (L + x->Bq - 1) / x->Bq;
    x->rmax = x->Bq * x->G;
    x->qp = *qp;
    double scale = p->softmax_scale > 0.0 ? p->softmax_scale : 1.0 / sqrt((double)c->D);
    x->qscale = (float)(scale * 1.4426950408889634); /* log2(e): softmax via 2^x */
    if (!isfinite(x->qscale)) return ROPE_E_PARAM;
    x->window = p->sliding_window;
    if (c->mode == ROPE_KV_UNROTATED) return attn_rope_setup(x, c, p);
    return ROPE_OK;
}

/* Split the keys into chunks, allocate the scratch, run every item (on the
 * pool when it pays) and merge the chunks. */
static rope_status attn_run(attn_ctx *x, const rope_attention_params *p) {
    const rope_kv_cache *c = x->c;
    rope_status st = ROPE_OK;
    int64_t maxlen = 0;
    for (int64_t b = 0; b < c->batch; b++) maxlen = c->len[b] > maxlen ? c->len[b] : maxlen;
    /* decode (one query block per kv head) over a long context: split the keys
     * (flash-decoding), so threads share one sequence whatever its kv head
     * count; decided by shape and length only, so every thread count merges
     * the same chunks and the results stay bit-identical */
    x->nsplit = 1;
    x->split_len = maxlen;
    if (x->nqb == 1 && maxlen >= 2 * AK_SPLIT) {
        x->split_len = AK_SPLIT;
        x->nsplit = (maxlen + AK_SPLIT - 1) / AK_SPLIT;
    }
    const int64_t n_items = c->batch * c->n_kv * x->nqb * x->nsplit;
    /* multiply-adds of one item, roughly: decides whether threads pay */
    double item_flops = (double)x->rmax * (double)(x->split_len + 1) * (double)c->D * 2.0;
    int64_t min_items = item_flops * (double)n_items < (double)AK_MIN_PARALLEL_FLOPS ? n_items : 1;
    x->n_slots = (p->pool && min_items < n_items) ? rope_pool_size(p->pool) : 1;
    if (x->n_slots < 1) x->n_slots = 1;
    x->slot_bytes = scratch_layout(x->rmax, c->D, x->rope != NULL, NULL, NULL);
    x->scratch = aligned_alloc(64, x->slot_bytes * (size_t)x->n_slots);
    x->busy = calloc((size_t)x->n_slots, sizeof *x->busy);
    if (x->nsplit > 1) x->part = malloc(sizeof(float) * (size_t)(n_items * x->rmax * (c->D + 2)));
    if (!x->scratch || !x->busy || (x->nsplit > 1 && !x->part)) {
        free(x->scratch);
        free(x->busy);
        free(x->part);
        return ROPE_E_NOMEM;
    }
    for (int i = 0; i < x->n_slots; i++) atomic_init(&x->busy[i], 0);
    if (x->n_slots > 1) st = rope_parallel_for(p->pool, n_items, min_items, attn_range, x);
    else attn_range(x, 0, n_items);
    if (st == ROPE_OK && x->nsplit > 1) attn_merge_range(x, 0, n_items / x->nsplit);
    free(x->scratch);
    free(x->busy);
    free(x->part);
    return st;
}

rope_status rope_attention(const rope_kv_cache *c, const rope_attention_params *p,
                           const rope_positions *qpos, const rope_tensor *q,
                           const rope_tensor *out) {
    if (!c || !q || !out) return ROPE_E_NULL;
    rope_attention_params defaults;
    if (!p) {
        rope_attention_params_init(&defaults);
        p = &defaults;
    }
    rope_status st = attn_args_check(c, p, q, out);
    if (st != ROPE_OK) return st;
    const int64_t L = q->shape[1];
    qpos_plan qp;
    st = positions_check(qpos, q->shape[0], L, &qp);
    if (st != ROPE_OK) return st;
    if (L == 0) return ROPE_OK;
    if (!q->data || !out->data) return ROPE_E_NULL;
    st = out_check(q, out);
    if (st != ROPE_OK) return st;

    attn_ctx x;
    st = attn_setup(&x, c, p, q, out, &qp);
    if (st != ROPE_OK) return st;
    return attn_run(&x, p);
}

/* ------------------------------------------------ fused QK-norm + RoPE + append */

/* Normalise and rotate the q rows of batch row b (tokens [0, n)) into q_out,
 * a chunk of tokens at a time through a contiguous float32 scratch. */
static rope_status qk_norm_q(const rope_apply_params *rope, const knorm *qn, const qpos_plan *pl,
                             int64_t b, const rope_tensor *qi, const rope_tensor *qo, float *scr,
                             int64_t *ids, int64_t *src, int64_t chunk) {
    const int64_t n = qi->shape[1], Hq = qi->shape[2], D = qi->shape[3];
    const int dt = ak_dt(qi->dtype);
    const int64_t es = (int64_t)rope_dtype_size(qi->dtype);
    for (int64_t s = 0; s < n;) {
        int64_t m = 0;
        for (; s < n && m < chunk; s++) {
            ids[m] = pos_at(pl, b, s);
            src[m++] = s;
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t h = 0; h < Hq; h++) {
                const unsigned char *x = (const unsigned char *)qi->data + toff(qi, b, src[i], h, 0) * es;
                float *y = scr + (i * Hq + h) * D;
                for (int64_t d = 0; d < D; d++) y[d] = ak_loadp(x + d * qi->stride[3] * es, dt);
                if (qn->w) rms_norm_row(y, D, qn, y);
            }
        /* rotate the tokens that are not padding (a padding q stays normalised) */
        for (int64_t i0 = 0; i0 < m;) {
            int64_t i1 = i0;
            while (i1 < m && (ids[i1] < 0) == (ids[i0] < 0)) i1++;
            if (ids[i0] >= 0) {
                rope_tensor t;
                rope_tensor_contiguous(&t, scr + i0 * Hq * D, ROPE_F32, 1, i1 - i0, Hq, D);
                rope_positions rp = {0};
                rp.ids = ids + i0;
                rope_status st = rope_apply(rope, &rp, &t, &t);
                if (st != ROPE_OK) return st;
            }
            i0 = i1;
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t h = 0; h < Hq; h++) {
                unsigned char *y = (unsigned char *)qo->data + toff(qo, b, src[i], h, 0) * es;
                const float *x = scr + (i * Hq + h) * D;
                for (int64_t d = 0; d < D; d++) ak_store1(y + d * qo->stride[3] * es, 0, dt, x[d]);
            }
    }
    return ROPE_OK;
}

rope_status rope_kv_cache_append_qk_norm(rope_kv_cache *c, const rope_apply_params *rope,
                                         const rope_qk_norm *norm, const rope_positions *pos,
                                         const rope_tensor *q_in, const rope_tensor *q_out,
                                         const rope_tensor *k, const rope_tensor *v) {
    if (!c || !rope || !norm || !q_in || !q_out || !k || !v) return ROPE_E_NULL;
    /* eps 0 makes an all-zero head vector (a zero-padded token) 0·Inf = NaN:
     * finite and > 0, the rule the runner applies to a GGUF's RMS epsilon */
    if (!(norm->eps > 0.0f) || !isfinite(norm->eps)) return ROPE_E_PARAM;
    if (ak_dt(q_in->dtype) < 0 || q_out->dtype != q_in->dtype) return ROPE_E_DTYPE;
    rope_status st = tensor_check(q_in);
    if (st == ROPE_OK) st = tensor_check(q_out);
    if (st != ROPE_OK) return st;
    for (int d = 0; d < 4; d++)
        if (q_in->shape[d] != q_out->shape[d]) return ROPE_E_SHAPE;
    if (q_in->shape[0] != c->batch || q_in->shape[1] != k->shape[1] || q_in->shape[3] != c->D ||
        q_in->shape[2] < 1)
        return ROPE_E_SHAPE;
    const int64_t n = q_in->shape[1], Hq = q_in->shape[2], D = c->D;
    if (n > 0 && (!q_in->data || !q_out->data)) return ROPE_E_NULL;
    if (n > 0) {
        st = out_check(q_in, q_out);
        if (st != ROPE_OK) return st;
    }
    qpos_plan pl;
    st = positions_check(pos, c->batch, n, &pl);
    if (st != ROPE_OK) return st;
    /* q is written row by row after the append: every q rotation proven first
     * (an UNROTATED append rotates no key, so it proves no angle) */
    int64_t pmax = -1;
    for (int64_t b = 0; b < c->batch; b++)
        for (int64_t s = 0; s < n; s++)
            if (pos_at(&pl, b, s) > pmax) pmax = pos_at(&pl, b, s);
    st = rope_check_upto(c, rope, pmax);
    if (st != ROPE_OK) return st;
    int64_t chunk = ((int64_t)1 << 20) / (Hq * D * 4);
    if (chunk < 1) chunk = 1;
    float *scr = malloc(sizeof(float) * (size_t)(chunk * Hq * D));
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)chunk), *src = malloc(sizeof(int64_t) * (size_t)chunk);
    int64_t *len0 = malloc(sizeof(int64_t) * (size_t)c->batch);
    if (!scr || !ids || !src || !len0) {
        st = ROPE_E_NOMEM;
        goto done;
    }
    /* k and v first: every check of the append (positions, capacity, rope) runs
     * before anything is written; q after, undone (lengths restored) on error */
    memcpy(len0, c->len, sizeof(int64_t) * (size_t)c->batch);
    const knorm kn = {norm->k_weight, norm->eps, norm->weight_plus_one};
    const knorm qn = {norm->q_weight, norm->eps, norm->weight_plus_one};
    st = append_impl(c, rope, pos, k, v, norm->k_weight ? &kn : NULL);
    for (int64_t b = 0; b < c->batch && st == ROPE_OK; b++)
        st = qk_norm_q(rope, &qn, &pl, b, q_in, q_out, scr, ids, src, chunk);
    if (st != ROPE_OK) memcpy(c->len, len0, sizeof(int64_t) * (size_t)c->batch);
done:
    free(scr);
    free(ids);
    free(src);
    free(len0);
    return st;
}
