/*
 * cos/sin tables, float32, without the attention factor.
 *
 * Accurate mode (the default): cos/sin of the exact product m·θᵢ (θᵢ the
 * float64 inv_freq), held as hi + lo and reduced by π/2 in double-double
 * (kernels/sincos.h), rounded once to float32: within 0.5 + 2^-20 ulp of the
 * exact value at every position up to 2^53 while |m·θᵢ| <= 2^53 (always when
 * θᵢ <= 1); docs/precision.md has the claim and its MPFR test.
 *
 * Compat mode: Hugging Face / Meta float32 arithmetic. θ is HF's float32 value
 * (inv_freq_f32), the angle is one float32 product RN32(θ_f32 · (float)m)
 * (their `inv_freq @ position_ids.float()` / `torch.outer`), then cos/sin of
 * that float32 angle. cos/sin are evaluated in double and rounded once, so the
 * result is the correctly rounded value of that angle on every libm; torch's
 * own float32 cos/sin (Sleef, <= 1 ulp) may differ from it by 1 ulp.
 */
#define _DEFAULT_SOURCE /* madvise */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "rope.h"
#include "checks.h"
#include "kernels/kernel.h"
#include "pool.h"

struct rope_table {
    int64_t rows;
    int64_t n_freqs;
    float *cos;
    float *sin;
};

/*
 * One row of the accurate table: the single place the per-row accurate fill
 * happens. It goes through the kernel set in use (rope_kernels_get()->sincos:
 * scalar, AVX2, AVX-512 or NEON, all of them the same bits: kernels/sincos.h), so a table is the same bits as
 * apply's table-free mode. Every entry depends only on (θᵢ, pos), never on its
 * place in the row, which keeps M-RoPE text rows equal to plain rows.
 */
static void fill_row_accurate(const double *inv_freq, int64_t n, double pos, float *cos_out,
                              float *sin_out) {
    rope_kernels_get()->sincos(inv_freq, n, pos, cos_out, sin_out);
}

static void fill_row_compat(const float *inv_freq_f32, int64_t n, int64_t pos, float *cos_out,
                            float *sin_out) {
    float p = (float)pos; /* position_ids.float() */
    for (int64_t i = 0; i < n; i++) {
        float a = inv_freq_f32[i] * p; /* one float32 product */
        cos_out[i] = (float)cos((double)a);
        sin_out[i] = (float)sin((double)a);
    }
}

static void fill_row(const rope_freqs *f, int64_t lo, int64_t n, int64_t pos, rope_precision prec,
                     float *cos_out, float *sin_out) {
    if (prec == ROPE_PRECISION_ACCURATE)
        fill_row_accurate(f->inv_freq + lo, n, (double)pos, cos_out + lo, sin_out + lo);
    else
        fill_row_compat(f->inv_freq_f32 + lo, n, pos, cos_out + lo, sin_out + lo);
}

/* Positions beyond 2^53 are not exact in a double; far beyond any real use. */
#define ROPE_MAX_POSITION ((int64_t)1 << 53)

/* The frequencies a table is built from must be finite, the same rule as
 * apply's table-free mode: a NaN/Inf θ would otherwise become rows of NaN that
 * every later rope_apply returns behind ROPE_OK. */
static rope_status check_freqs(const rope_freqs *f, rope_precision prec) {
    if (!f) return ROPE_E_NULL;
    if (f->n_freqs <= 0 || f->n_freqs > ROPE_MAX_FREQS) return ROPE_E_DIM;
    if (prec != ROPE_PRECISION_ACCURATE && prec != ROPE_PRECISION_COMPAT_F32) return ROPE_E_PARAM;
    for (int64_t i = 0; i < f->n_freqs; i++)
        if (prec == ROPE_PRECISION_ACCURATE ? !isfinite(f->inv_freq[i]) : !isfinite(f->inv_freq_f32[i]))
            return ROPE_E_PARAM;
    return ROPE_OK;
}

/* rows × n_freqs floats, twice, without overflow. */
static rope_status table_elems(int64_t rows, int64_t n_freqs, size_t *elems) {
    if (rows < 0 || n_freqs <= 0) return ROPE_E_PARAM;
    if ((uint64_t)rows > (SIZE_MAX / 2 / sizeof(float)) / (uint64_t)n_freqs) return ROPE_E_OVERFLOW;
    if ((uint64_t)rows > (uint64_t)INT64_MAX / (uint64_t)n_freqs) return ROPE_E_OVERFLOW;
    *elems = (size_t)rows * (size_t)n_freqs;
    return ROPE_OK;
}

/* Positions in [0, 2^53]; then every angle θᵢ·m of the largest m must be
 * finite in the arithmetic of the precision (double, or RN32 of float32 θ times
 * float32 m): a finite but huge θ times a far position would overflow to Inf,
 * whose cos/sin are NaN, and such a table must not come back with ROPE_OK. */
static rope_status check_positions(const rope_freqs *f, rope_precision prec, const int64_t *positions,
                                   int64_t start, int64_t n) {
    int64_t top = 0;
    if (positions) {
        for (int64_t r = 0; r < n; r++) {
            if (positions[r] < 0 || positions[r] > ROPE_MAX_POSITION) return ROPE_E_POSITION;
            if (positions[r] > top) top = positions[r];
        }
    } else {
        if (start < 0 || start > ROPE_MAX_POSITION) return ROPE_E_POSITION;
        if (n > 0 && n - 1 > ROPE_MAX_POSITION - start) return ROPE_E_OVERFLOW;
        top = start + (n > 0 ? n - 1 : 0);
    }
    for (int64_t i = 0; i < f->n_freqs; i++) {
        double a = f->inv_freq[i] * (double)top;
        float a32 = f->inv_freq_f32[i] * (float)top;
        if (prec == ROPE_PRECISION_ACCURATE ? !isfinite(a) : !isfinite(a32)) return ROPE_E_PARAM;
    }
    return ROPE_OK;
}

/*
 * Consecutive positions in accurate mode, the fast way (kernels/sincos.h,
 * rope_sc_sum): row r = a·SUM_BLOCK + b of position p = A + b, A = start +
 * a·SUM_BLOCK, from double anchors cos/sin(A·θ) (one sincos row per block) and
 * cos/sin(b·θ) (SUM_BLOCK rows, once) by the addition formula: per 8 entries
 * 4 vector operations plus the rounding test (4 adds, 4 conversions, 2
 * compares), against ~55 for the direct kernel (AVX-512, 131072 x 64: 3.4 ms
 * in cache vs 12.5). Every entry is the direct kernel's bits (the
 * rounding test sends the entries it cannot decide to the direct kernel), so
 * tables stay equal to apply's table-free mode, and blocks may run on any
 * thread of the pool.
 */
enum { SUM_BLOCK = 64, SUM_MIN_BLOCKS_PER_THREAD = 16, SUM_UNIT = 2 };
#define ROPE_SUM_MAX_THREADS 256 /* rope_pool_create's limit */

typedef struct sum_job {
    const rope_kernels *k;
    const double *inv_freq;
    int64_t nf, start, n, blocks;
    const double *cb, *sb; /* SUM_BLOCK rows of cos/sin(b·θ), double */
    float *cos_out, *sin_out;
    int64_t regions;             /* pool runs: the blocks cut into this many ranges, */
    atomic_int_fast64_t *next;   /* each with the next unclaimed block (from its start) */
} sum_job;

static void sum_blocks(void *ctx, int64_t begin, int64_t end) {
    const sum_job *j = ctx;
    const int64_t nf = j->nf;
    double ca[ROPE_MAX_FREQS], sa[ROPE_MAX_FREQS];
    for (int64_t a = begin; a < end; a++) {
        int64_t r0 = a * SUM_BLOCK, base = j->start + r0;
        int64_t rows = j->n - r0 < SUM_BLOCK ? j->n - r0 : SUM_BLOCK;
        j->k->sincos_d(j->inv_freq, nf, (double)base, ca, sa);
        j->k->sincos_sum(ca, sa, j->cb, j->sb, j->inv_freq, nf, rows, (double)base,
                         j->cos_out + r0 * nf, j->sin_out + r0 * nf);
    }
}

/* On a pool the blocks are cut into 4 ranges per thread, one pool item each,
 * and whoever runs an item claims SUM_UNIT blocks (128 rows, ~15 µs) of its
 * range at a time until none is left, then helps with the other ranges the
 * same way. With the pool's fixed chunks (16384 rows each) a thread that got a
 * fraction of a CPU held back a whole chunk: 2-thread builds took 79-88 ms in 2
 * of 3 runs under a load average of 7-8 on 2 vCPUs (23-25 ms with units; 1
 * thread 22-34 ms). Ranges, not one shared counter, keep each thread on its own
 * pages: threads claiming neighbouring units fault the same huge pages and wait
 * for each other. Which thread computes a block changes no bit. */
static void sum_range(sum_job *j, int64_t r) {
    const int64_t lo = r * j->blocks / j->regions, hi = (r + 1) * j->blocks / j->regions;
    for (;;) {
        int64_t a = lo + atomic_fetch_add(&j->next[r], SUM_UNIT);
        if (a >= hi) return;
        sum_blocks(j, a, a + SUM_UNIT < hi ? a + SUM_UNIT : hi);
    }
}

static void sum_claim(void *ctx, int64_t begin, int64_t end) {
    sum_job *j = ctx;
    for (int64_t r = begin; r < end; r++) sum_range(j, r);
    for (int64_t r = 0; r < j->regions; r++) sum_range(j, (end + r) % j->regions);
}

/* 1 when done; 0 when the shortcut does not apply (short run, an angle at or
 * beyond 2^52, where the anchors would leave the reduction's range, or no
 * memory for the anchors): the caller fills the rows directly. */
static int cos_sin_consecutive(const rope_freqs *f, int64_t start, int64_t n, rope_pool *pool,
                               float *cos_out, float *sin_out) {
    const int64_t nf = f->n_freqs;
    if (n < 2 * SUM_BLOCK) return 0;
    double top = (double)(start + n - 1);
    for (int64_t i = 0; i < nf; i++)
        if (!(fabs(top * f->inv_freq[i]) < 0x1p52)) return 0;
    double *cb = malloc((size_t)(2 * SUM_BLOCK * nf) * sizeof *cb);
    if (!cb) return 0;
    atomic_int_fast64_t next[4 * ROPE_SUM_MAX_THREADS];
    sum_job j = {rope_kernels_get(), f->inv_freq, nf, start, n, (n + SUM_BLOCK - 1) / SUM_BLOCK,
                 cb, cb + SUM_BLOCK * nf, cos_out, sin_out, 0, next};
    for (int64_t b = 0; b < SUM_BLOCK; b++)
        j.k->sincos_d(f->inv_freq, nf, (double)b, cb + b * nf, cb + (SUM_BLOCK + b) * nf);
    int64_t threads = pool ? rope_pool_size(pool) : 1;
    if (threads > j.blocks / SUM_MIN_BLOCKS_PER_THREAD) threads = j.blocks / SUM_MIN_BLOCKS_PER_THREAD;
    if (threads > ROPE_SUM_MAX_THREADS) threads = ROPE_SUM_MAX_THREADS;
    if (threads > 1) { /* 4 items per thread: a cold pool wakes its workers only for jobs
                        * of >= 2 items per thread */
        j.regions = 4 * threads;
        for (int64_t r = 0; r < j.regions; r++) atomic_init(&next[r], 0);
        rope_parallel_for(pool, j.regions, 1, sum_claim, &j);
    } else {
        sum_blocks(&j, 0, j.blocks);
    }
    free(cb);
    return 1;
}

static rope_status cos_sin(const rope_freqs *f, const int64_t *positions, int64_t start, int64_t n,
                           rope_precision precision, rope_pool *pool, float *cos_out,
                           float *sin_out) {
    rope_status st = check_freqs(f, precision);
    if (st != ROPE_OK) return st;
    if (!cos_out || !sin_out) return ROPE_E_NULL;
    if (n < 0) return ROPE_E_PARAM;
    if (n == 0) return ROPE_OK;
    size_t elems;
    st = table_elems(n, f->n_freqs, &elems);
    if (st != ROPE_OK) return st;
    if (!rope_array_fits(cos_out, (int64_t)elems, sizeof(float)) ||
        !rope_array_fits(sin_out, (int64_t)elems, sizeof(float)) ||
        (positions && !rope_array_fits(positions, n, sizeof *positions)))
        return ROPE_E_OVERFLOW;
    st = check_positions(f, precision, positions, start, n);
    if (st != ROPE_OK) return st;
    if (!positions && precision == ROPE_PRECISION_ACCURATE &&
        cos_sin_consecutive(f, start, n, pool, cos_out, sin_out))
        return ROPE_OK;
    const int64_t nf = f->n_freqs;
    for (int64_t r = 0; r < n; r++) {
        int64_t pos = positions ? positions[r] : start + r;
        fill_row(f, 0, nf, pos, precision, cos_out + r * nf, sin_out + r * nf);
    }
    return ROPE_OK;
}

rope_status rope_cos_sin(const rope_freqs *f, const int64_t *positions, int64_t start, int64_t n,
                         rope_precision precision, float *cos_out, float *sin_out) {
    return cos_sin(f, positions, start, n, precision, NULL, cos_out, sin_out);
}

/*
 * A big table is written once, row by row, right after allocation, so its
 * cost is mostly page faults: 16384 of them for a 131072 x 64 table with 4 KiB
 * pages (about two thirds of rope_table_create measured on this machine).
 * Asking for transparent huge pages (2 MiB aligned, MADV_HUGEPAGE) makes that
 * 32 faults. It is only advice: without THP the memory is ordinary.
 */
static float *table_mem(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (bytes >= huge && bytes <= SIZE_MAX - huge) {
        size_t rounded = (bytes + huge - 1) / huge * huge;
        void *p = aligned_alloc(huge, rounded);
        if (p) {
            (void)madvise(p, rounded, MADV_HUGEPAGE);
            return p;
        }
    }
#endif
    return malloc(bytes);
}

static rope_status table_alloc(int64_t rows, int64_t n_freqs, rope_table **out) {
    size_t elems;
    rope_status st = table_elems(rows, n_freqs, &elems);
    if (st != ROPE_OK) return st;
    rope_table *t = malloc(sizeof *t);
    if (!t) return ROPE_E_NOMEM;
    t->cos = table_mem(2 * elems * sizeof(float));
    if (!t->cos) {
        free(t);
        return ROPE_E_NOMEM;
    }
    t->sin = t->cos + elems;
    t->rows = rows;
    t->n_freqs = n_freqs;
    *out = t;
    return ROPE_OK;
}

static rope_status table_build(const rope_freqs *f, const int64_t *positions, int64_t start,
                               int64_t n, rope_precision precision, rope_pool *pool,
                               rope_table **out) {
    if (!out) return ROPE_E_NULL;
    rope_status st = check_freqs(f, precision);
    if (st != ROPE_OK) return st;
    if (n <= 0) return ROPE_E_PARAM;
    /* the size first: an impossible n is refused before positions[] is read */
    size_t elems;
    st = table_elems(n, f->n_freqs, &elems);
    if (st != ROPE_OK) return st;
    if (positions && !rope_array_fits(positions, n, sizeof *positions)) return ROPE_E_OVERFLOW;
    st = check_positions(f, precision, positions, start, n);
    if (st != ROPE_OK) return st;
    rope_table *t;
    st = table_alloc(n, f->n_freqs, &t);
    if (st != ROPE_OK) return st;
    st = cos_sin(f, positions, start, n, precision, pool, t->cos, t->sin);
    if (st != ROPE_OK) {
        rope_table_free(t);
        return st;
    }
    *out = t;
    return ROPE_OK;
}

rope_status rope_table_create(const rope_freqs *f, int64_t n_positions, rope_precision precision,
                              rope_table **out) {
    return table_build(f, NULL, 0, n_positions, precision, NULL, out);
}

rope_status rope_table_create_pool(const rope_freqs *f, int64_t n_positions,
                                   rope_precision precision, rope_pool *pool, rope_table **out) {
    return table_build(f, NULL, 0, n_positions, precision, pool, out);
}

rope_status rope_table_create_at(const rope_freqs *f, const int64_t *positions, int64_t n,
                                 rope_precision precision, rope_table **out) {
    if (!positions) return ROPE_E_NULL;
    return table_build(f, positions, 0, n, precision, NULL, out);
}

/*
 * M-RoPE (Qwen2-VL apply_multimodal_rotary_pos_emb): frequency i belongs to
 * plane p (t, h, w) by the sections [s0, s1, s2] over the R/2 frequencies,
 * and uses that plane's position. Each entry is computed by the same scalar
 * code as the plain table, so text tokens (t = h = w) are bit-identical to it.
 * Interleaved (Qwen3-VL apply_interleaved_mrope): plane p >= 1 takes the
 * frequencies j ≡ p (mod planes) below planes·s_p, plane 0 the rest.
 */
static int mrope_plane(const rope_freqs *f, int64_t j) {
    int planes = f->n_mrope_section;
    for (int p = 1; p < planes; p++)
        if (j % planes == p && j < (int64_t)planes * f->mrope_section[p]) return p;
    return 0;
}

rope_status rope_table_create_mrope(const rope_freqs *f, const int64_t *pos_thw, int64_t n,
                                    rope_precision precision, rope_table **out) {
    if (!out || !pos_thw) return ROPE_E_NULL;
    rope_status st = check_freqs(f, precision);
    if (st != ROPE_OK) return st;
    if (n <= 0) return ROPE_E_PARAM;
    int planes = f->n_mrope_section;
    if (planes < 1 || planes > ROPE_MAX_MROPE_PLANES) return ROPE_E_PARAM;
    if (f->mrope_interleaved != 0 && f->mrope_interleaved != 1) return ROPE_E_PARAM;
    int64_t sum = 0; /* each section bounded first, so the sum cannot overflow and wrap */
    for (int p = 0; p < planes; p++) {
        if (f->mrope_section[p] < 0 || f->mrope_section[p] > f->n_freqs) return ROPE_E_PARAM;
        sum += f->mrope_section[p];
    }
    if (sum != f->n_freqs) return ROPE_E_PARAM;
    size_t elems;
    st = table_elems(n, f->n_freqs, &elems);
    if (st != ROPE_OK) return st;
    if ((uint64_t)n > (uint64_t)INT64_MAX / (uint64_t)planes ||
        !rope_array_fits(pos_thw, n * planes, sizeof *pos_thw))
        return ROPE_E_OVERFLOW;
    st = check_positions(f, precision, pos_thw, 0, n * planes);
    if (st != ROPE_OK) return st;
    rope_table *t;
    st = table_alloc(n, f->n_freqs, &t);
    if (st != ROPE_OK) return st;
    const int64_t nf = f->n_freqs;
    for (int64_t r = 0; r < n; r++) {
        float *c = t->cos + r * nf, *s = t->sin + r * nf;
        if (f->mrope_interleaved) {
            for (int64_t j = 0; j < nf; j++)
                fill_row(f, j, 1, pos_thw[(int64_t)mrope_plane(f, j) * n + r], precision, c, s);
            continue;
        }
        int64_t lo = 0;
        for (int p = 0; p < planes; p++) {
            fill_row(f, lo, f->mrope_section[p], pos_thw[(int64_t)p * n + r], precision, c, s);
            lo += f->mrope_section[p];
        }
    }
    *out = t;
    return ROPE_OK;
}

void rope_table_free(rope_table *t) {
    if (!t) return;
    free(t->cos);
    free(t);
}

int64_t rope_table_rows(const rope_table *t) { return t ? t->rows : 0; }
int64_t rope_table_n_freqs(const rope_table *t) { return t ? t->n_freqs : 0; }
const float *rope_table_cos(const rope_table *t) { return t ? t->cos : NULL; }
const float *rope_table_sin(const rope_table *t) { return t ? t->sin : NULL; }
