/*
 * rope_apply / rope_apply_qk: check everything, then rotate token by token.
 *
 * Order of work:
 *   1. validate every argument (pointers, convention, dtypes, shapes, dims,
 *      attention factor, stride products, overlap, every position) without
 *      writing anything: on error the caller's memory is untouched;
 *   2. for each token (b, s): find its cos/sin row (table row, or angles
 *      computed on the fly in table-free mode, shared by q and k), then rotate
 *      all heads of that token with one kernel call when head_dim is
 *      contiguous, or with the strided scalar path below otherwise;
 *   3. tokens are split over the pool only when each thread gets enough bytes
 *      to pay for the wake-up (rope_split_min_bytes(), from the L2 size).
 *
 * Choices where the API leaves room:
 *   - negative strides are allowed (any stride in any dim, including 0 for an
 *     input; an output whose elements alias each other is ROPE_E_OVERLAP);
 *   - in and out must be exactly the same view (same data, same strides on
 *     every dim of extent > 1) or occupy disjoint byte ranges; partially
 *     interleaved views such as the q and k views of one packed QKV buffer are
 *     accepted between q and k (rope_apply_qk) when each token's blocks are
 *     disjoint and tokens are laid out one after another;
 *   - pos == NULL means offset 0; ids together with a non-zero offset, or
 *     together with cu_seqlens, is ROPE_E_PARAM (never a silent choice);
 *   - table-free mode takes positions in [0, 2^53] (exact in double).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "kernels/kernel.h"
#include "pool.h"
#include "rope.h"

/* Streaming (prefetch ahead, non-temporal stores; same bits) pays only when
 * the output cannot stay in the last-level cache anyway: below that, plain
 * stores leave x' where its next reader (attention) finds it, while
 * non-temporal ones push it to DRAM and make the call wait on memory. Issue
 * 13 measured prefill 512 (f32, 16 MiB out, 32 MiB L3, 2 threads) at 215 us
 * with the former fixed 4 MiB rule and 110 us with streaming off. So: stream
 * only out of place and only when the bytes written exceed the LLC size
 * read at run time (rope_cache_sizes); in place never (its lines are in
 * cache already). The split over threads follows rope_split_min_bytes(). */

/* Largest position of table-free mode: every integer up to it is exact in double. */
#define ROPE_MAX_FREE_POSITION ((int64_t)1 << 53)

void rope_apply_params_init(rope_apply_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->style = ROPE_STYLE_NONE;
    p->table = NULL;
    p->freqs = NULL;
    p->pool = NULL;
    p->attention_factor = 1.0f;
}

/* a·b, saturating at INT64_MAX (then rope_apply reports ROPE_E_OVERFLOW). */
static int64_t mul_sat(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

void rope_tensor_contiguous(rope_tensor *t, void *data, rope_dtype dtype, int64_t batch,
                            int64_t seq, int64_t heads, int64_t head_dim) {
    if (!t) return;
    t->data = data;
    t->dtype = dtype;
    t->shape[0] = batch;
    t->shape[1] = seq;
    t->shape[2] = heads;
    t->shape[3] = head_dim;
    t->stride[3] = 1;
    t->stride[2] = head_dim;
    t->stride[1] = mul_sat(heads, head_dim);
    t->stride[0] = mul_sat(seq, t->stride[1]);
}

/* ------------------------------------------------------------ validation */

static int dtype_index(rope_dtype t) {
    switch (t) {
    case ROPE_F32: return ROPE_KDTYPE_F32;
    case ROPE_F16: return ROPE_KDTYPE_F16;
    case ROPE_BF16: return ROPE_KDTYPE_BF16;
    case ROPE_Q8: break; /* a cache format, not a tensor dtype */
    }
    return -1;
}

/* Byte range [lo, hi) of a view relative to its data pointer; empty when any
 * extent is 0. Fails on overflow of any shape × stride product or sum. */
typedef struct extent {
    int empty;
    int64_t lo, hi;
} extent;

static rope_status view_extent(const rope_tensor *t, int64_t es, extent *e) {
    int64_t lo = 0, hi = 0;
    e->empty = 0;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] == 0) e->empty = 1;
    for (int d = 0; d < 4; d++) {
        if (t->shape[d] <= 1) continue;
        int64_t span;
        if (__builtin_mul_overflow(t->shape[d] - 1, t->stride[d], &span)) return ROPE_E_OVERFLOW;
        if (span < 0 ? __builtin_add_overflow(lo, span, &lo) : __builtin_add_overflow(hi, span, &hi))
            return ROPE_E_OVERFLOW;
    }
    if (__builtin_add_overflow(hi, 1, &hi)) return ROPE_E_OVERFLOW;
    if (__builtin_mul_overflow(lo, es, &lo) || __builtin_mul_overflow(hi, es, &hi))
        return ROPE_E_OVERFLOW;
    /* no view spans more than any address space can map (checks.h) */
    if ((uint64_t)hi + (uint64_t)(-(lo + 1)) + 1 > ROPE_MAX_ARRAY_BYTES) return ROPE_E_OVERFLOW;
    /* the addresses data+lo .. data+hi must exist without wrapping */
    uintptr_t base = (uintptr_t)t->data;
    if (lo < 0 && (uintptr_t)(-(lo + 1)) >= base) return ROPE_E_OVERFLOW;
    if ((uintptr_t)hi > UINTPTR_MAX - base) return ROPE_E_OVERFLOW;
    e->lo = lo;
    e->hi = hi;
    return ROPE_OK;
}

/* Does no element of the view alias another? Sufficient test: sorted by
 * |stride|, each dim steps over everything the smaller ones span. */
static int view_nested(const int64_t *shape, const int64_t *stride, int ndim, int64_t inner_span) {
    /* fast path: dims already ordered innermost last (BSHD, packed QKV, ...) */
    int64_t span = inner_span; /* elements (or bytes) covered so far, >= 1 */
    int d = ndim - 1;
    for (; d >= 0; d--) {
        if (shape[d] <= 1) continue;
        int64_t st = llabs(stride[d]);
        if (st < span) break;
        span = (shape[d] - 1) * st + span; /* no overflow: extent was checked */
    }
    if (d < 0) return 1;

    int idx[4], n = 0;
    for (int d = 0; d < ndim; d++)
        if (shape[d] > 1) idx[n++] = d;
    for (int i = 1; i < n; i++) /* insertion sort by |stride| */
        for (int j = i; j > 0 && llabs(stride[idx[j]]) < llabs(stride[idx[j - 1]]); j--) {
            int tmp = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = tmp;
        }
    span = inner_span;
    for (int i = 0; i < n; i++) {
        int64_t st = llabs(stride[idx[i]]);
        if (st < span) return 0;
        span = (shape[idx[i]] - 1) * st + span; /* no overflow: extent was checked */
    }
    return 1;
}

static int same_view(const rope_tensor *a, const rope_tensor *b) {
    if (a->data != b->data) return 0;
    for (int d = 0; d < 4; d++)
        if (a->shape[d] > 1 && a->stride[d] != b->stride[d]) return 0;
    return 1;
}

static int ranges_disjoint(const rope_tensor *a, const extent *ea, const rope_tensor *b,
                           const extent *eb) {
    if (ea->empty || eb->empty) return 1;
    uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
    /* [a0+lo, a0+hi) vs [b0+lo, b0+hi); compare without forming out-of-range values */
    uintptr_t alo = a0 + (uintptr_t)ea->lo, ahi = a0 + (uintptr_t)ea->hi;
    uintptr_t blo = b0 + (uintptr_t)eb->lo, bhi = b0 + (uintptr_t)eb->hi;
    return ahi <= blo || bhi <= alo;
}

/* Views a and b (same batch, seq, element size) from one buffer, e.g. the q and
 * k of packed QKV: disjoint if, within a token, their head blocks do not meet,
 * and the tokens' combined blocks are laid out one after another. */
static int tokens_disjoint(const rope_tensor *a, const rope_tensor *b, int64_t es) {
    if (a->stride[0] != b->stride[0] || a->stride[1] != b->stride[1]) return 0;
    const rope_tensor *v[2] = {a, b};
    int64_t blo[2], bhi[2];
    for (int i = 0; i < 2; i++) {
        int64_t lo = 0, hi = 0;
        for (int d = 2; d < 4; d++) {
            if (v[i]->shape[d] <= 1) continue;
            int64_t span = (v[i]->shape[d] - 1) * v[i]->stride[d];
            if (span < 0) lo += span;
            else hi += span;
        }
        /* byte offsets relative to a's data; the difference of two pointers
         * into what the caller says is one buffer */
        int64_t delta = (int64_t)((uintptr_t)v[i]->data - (uintptr_t)a->data);
        blo[i] = delta + lo * es;
        bhi[i] = delta + (hi + 1) * es;
    }
    if (!(bhi[0] <= blo[1] || bhi[1] <= blo[0])) return 0;
    int64_t lo = blo[0] < blo[1] ? blo[0] : blo[1];
    int64_t hi = bhi[0] > bhi[1] ? bhi[0] : bhi[1];
    int64_t st_bytes[2] = {mul_sat(a->stride[0], es), mul_sat(a->stride[1], es)};
    return view_nested(a->shape, st_bytes, 2, hi - lo);
}

/* One (in, out) pair after its checks: what the token loop needs. */
typedef struct view {
    const unsigned char *in;
    unsigned char *out;
    const int64_t *in_st, *out_st; /* elements; the caller's, alive during the call */
    int64_t heads;
    int contiguous; /* stride of head_dim is 1 on both sides: kernel path */
    int in_place;
    int stream;     /* rope_row_args.stream */
    extent ein, eout;
} view;

static rope_status check_tensor_pair(const rope_tensor *in, const rope_tensor *out, view *v) {
    if (!in->data || !out->data) return ROPE_E_NULL;
    if (dtype_index(in->dtype) < 0 || in->dtype != out->dtype) return ROPE_E_DTYPE;
    for (int d = 0; d < 4; d++)
        if (in->shape[d] < 0 || in->shape[d] != out->shape[d]) return ROPE_E_SHAPE;
    int64_t D = in->shape[3];
    if (D <= 0 || D % 2 || D > ROPE_MAX_HEAD_DIM) return ROPE_E_DIM;
    v->in = in->data;
    v->out = out->data;
    v->in_st = in->stride;
    v->out_st = out->stride;
    v->heads = in->shape[2];
    v->contiguous = in->stride[3] == 1 && out->stride[3] == 1;
    return ROPE_OK;
}

static const extent *in_extent(const view *v) { return v->in_place ? &v->eout : &v->ein; }

static rope_status check_layout(const rope_tensor *in, const rope_tensor *out, view *v) {
    int64_t es = (int64_t)rope_dtype_size(in->dtype);
    int in_place = v->in_place = same_view(in, out);
    rope_status st = view_extent(out, es, &v->eout);
    if (st != ROPE_OK) return st;
    /* in place: in's extent is out's (it depends only on data, shape, strides);
     * v->ein is then left unset, see in_extent() */
    if (!in_place && (st = view_extent(in, es, &v->ein)) != ROPE_OK) return st;
    if (v->eout.empty) return ROPE_OK;
    if (!view_nested(out->shape, out->stride, 4, 1)) return ROPE_E_OVERLAP;
    if (in_place) return ROPE_OK;
    if (!ranges_disjoint(in, &v->ein, out, &v->eout)) return ROPE_E_OVERLAP;
    return ROPE_OK;
}

/* Positions, checked: mode and what each token reads. */
enum { POS_OFFSET, POS_IDS, POS_CU };

typedef struct plan {
    const rope_kernels *k;
    int n_views;
    view v[2];
    int64_t batch, seq, D, R, es;
    int style, dt;
    float scale;
    int inverse;
    rope_row_fn fn;

    int mode;
    int64_t top;    /* the largest position any token uses */
    int64_t offset;
    const int64_t *ids;
    int64_t ids_bs;
    const int64_t *cu;
    int64_t n_seqs;

    const float *tcos, *tsin; /* table mode */
    const double *inv_freq;   /* table-free mode */
    int64_t n_freqs;
} plan;

static rope_status check_positions(plan *pl, const rope_positions *pos, int64_t max_pos) {
    /* max_pos: the largest valid position (table rows − 1, or 2^53) */
    int64_t B = pl->batch, S = pl->seq;
    pl->mode = POS_OFFSET;
    pl->offset = pos ? pos->offset : 0;
    pl->top = 0;
    if (!pos || (!pos->ids && !pos->cu_seqlens)) {
        if (B == 0 || S == 0) return ROPE_OK;
        if (pl->offset < 0 || pl->offset > max_pos - (S - 1)) return ROPE_E_POSITION;
        pl->top = pl->offset + S - 1;
        return ROPE_OK;
    }
    if (pos->ids && pos->cu_seqlens) return ROPE_E_PARAM;
    if (pos->ids) {
        if (pos->offset != 0 || pos->ids_batch_stride < 0) return ROPE_E_PARAM;
        pl->mode = POS_IDS;
        pl->ids = pos->ids;
        pl->ids_bs = pos->ids_batch_stride;
        if (B == 0 || S == 0) return ROPE_OK;
        int64_t last; /* ids entries the grid spans: (B-1)·stride + S, all proven to exist */
        if (__builtin_mul_overflow(B - 1, pl->ids_bs, &last) ||
            __builtin_add_overflow(last, S, &last) || !rope_array_fits(pl->ids, last, sizeof *pl->ids))
            return ROPE_E_OVERFLOW;
        int64_t rows = pl->ids_bs == 0 ? 1 : B;
        for (int64_t b = 0; b < rows; b++) {
            const int64_t *id = pl->ids + b * pl->ids_bs;
            for (int64_t s = 0; s < S; s++) {
                if (id[s] < 0 || id[s] > max_pos) return ROPE_E_POSITION;
                if (id[s] > pl->top) pl->top = id[s];
            }
        }
        return ROPE_OK;
    }
    /* cu_seqlens: packed variable-length sequences in one batch row */
    if (B != 1) return ROPE_E_SHAPE;
    if (pos->n_seqs < 0) return ROPE_E_PARAM;
    /* n_seqs + 1 entries are read: a count no array can have is refused first */
    if (pos->n_seqs == INT64_MAX || !rope_array_fits(pos->cu_seqlens, pos->n_seqs + 1, sizeof(int64_t)))
        return ROPE_E_OVERFLOW;
    const int64_t *cu = pos->cu_seqlens;
    if (cu[0] != 0) return ROPE_E_PARAM;
    int64_t longest = 0;
    for (int64_t j = 0; j < pos->n_seqs; j++) {
        if (cu[j + 1] < cu[j]) return ROPE_E_PARAM;
        if (cu[j + 1] - cu[j] > longest) longest = cu[j + 1] - cu[j];
    }
    if (cu[pos->n_seqs] != S) return ROPE_E_SHAPE;
    if (longest > 0 && (pl->offset < 0 || pl->offset > max_pos - (longest - 1)))
        return ROPE_E_POSITION;
    if (longest > 0) pl->top = pl->offset + longest - 1;
    pl->mode = POS_CU;
    pl->cu = cu;
    pl->n_seqs = pos->n_seqs;
    return ROPE_OK;
}

/* ------------------------------------------------------------ the work */

/* Heads whose head_dim is not contiguous: the reference rotation of
 * kernels/kernel.h (bit-identical to scalar.c), with an element stride. */
/* DEINTERLEAVE with an element stride: the rotary inputs gathered into a contiguous copy
 * first (in place, an output lands where a later input is), then the reference. */
static void strided_deint(const plan *pl, const unsigned char *x, unsigned char *y,
                          int64_t xs, int64_t ys, const float *cs, const float *sn) {
    float tmp[ROPE_MAX_HEAD_DIM];
    unsigned char *g = (unsigned char *)tmp;
    for (int64_t i = 0; i < pl->R; i++) memcpy(g + i * pl->es, x + i * xs * pl->es, (size_t)pl->es);
    rope_row_args a = {.rotary_dim = pl->R, .cos = cs, .sin = sn, .scale = pl->scale,
                       .inverse = pl->inverse};
    rope_ref_deinterleave(&a, g, y, ys, 0, pl->dt);
}

static void strided_row(const plan *pl, const unsigned char *in, unsigned char *out,
                        const int64_t *in_st, const int64_t *out_st, int64_t heads,
                        const float *cs, const float *sn) {
    const int64_t es = pl->es, half = pl->R / 2;
    for (int64_t h = 0; h < heads; h++) {
        const unsigned char *x = in + h * in_st[2] * es;
        unsigned char *y = out + h * out_st[2] * es;
        if (pl->style == ROPE_KSTYLE_DEINTERLEAVE) strided_deint(pl, x, y, in_st[3], out_st[3], cs, sn);
        for (int64_t i = 0; i < half && pl->style != ROPE_KSTYLE_DEINTERLEAVE; i++) {
            float c = cs[i] * pl->scale;
            float s = sn[i] * pl->scale;
            if (pl->inverse) s = -s;
            int64_t i0 = pl->style == ROPE_KSTYLE_INTERLEAVED ? 2 * i : i;
            int64_t i1 = pl->style == ROPE_KSTYLE_INTERLEAVED ? 2 * i + 1 : i + half;
            float y0, y1;
            rope_ref_rotate_dt(rope_ref_load(x + i0 * in_st[3] * es, pl->dt),
                               rope_ref_load(x + i1 * in_st[3] * es, pl->dt), c, s, &y0, &y1,
                               pl->dt);
            rope_ref_store(y + i0 * out_st[3] * es, y0, pl->dt);
            rope_ref_store(y + i1 * out_st[3] * es, y1, pl->dt);
        }
        for (int64_t i = pl->R; i < pl->D; i++)
            memmove(y + i * out_st[3] * es, x + i * in_st[3] * es, (size_t)es);
    }
}

static void do_token(const plan *pl, int64_t b, int64_t s, int64_t position, float *cbuf,
                     float *sbuf) {
    const float *cs, *sn;
    if (pl->tcos) {
        cs = pl->tcos + position * pl->n_freqs;
        sn = pl->tsin + position * pl->n_freqs;
    } else {
        pl->k->sincos(pl->inv_freq, pl->n_freqs, (double)position, cbuf, sbuf);
        cs = cbuf;
        sn = sbuf;
    }
    for (int i = 0; i < pl->n_views; i++) {
        const view *v = &pl->v[i];
        if (v->heads == 0) continue;
        const unsigned char *in = v->in + (b * v->in_st[0] + s * v->in_st[1]) * pl->es;
        unsigned char *out = v->out + (b * v->out_st[0] + s * v->out_st[1]) * pl->es;
        if (v->contiguous) {
            /* designated: any field not named here is zero */
            rope_row_args a = {.in = in,
                               .out = out,
                               .n_heads = v->heads,
                               .in_head_stride = v->in_st[2],
                               .out_head_stride = v->out_st[2],
                               .head_dim = pl->D,
                               .rotary_dim = pl->R,
                               .cos = cs,
                               .sin = sn,
                               .scale = pl->scale,
                               .inverse = pl->inverse,
                               .stream = v->stream};
            pl->fn(&a);
        } else {
            strided_row(pl, in, out, v->in_st, v->out_st, v->heads, cs, sn);
        }
    }
}

/* Tokens [begin, end) of the flattened (batch, seq) grid. */
static void run_tokens(void *ctx, int64_t begin, int64_t end) {
    const plan *pl = ctx;
    float cbuf[ROPE_MAX_FREQS], sbuf[ROPE_MAX_FREQS];
    if (pl->mode == POS_CU) { /* batch 1: token index == s */
        int64_t lo = 0, hi = pl->n_seqs; /* find j with cu[j] <= begin < cu[j+1] */
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (pl->cu[mid] <= begin) lo = mid;
            else hi = mid;
        }
        int64_t j = lo;
        for (int64_t s = begin; s < end; s++) {
            while (s >= pl->cu[j + 1]) j++;
            do_token(pl, 0, s, pl->offset + s - pl->cu[j], cbuf, sbuf);
        }
        return;
    }
    int64_t b = begin / pl->seq, s = begin % pl->seq;
    for (int64_t t = begin; t < end; t++) {
        int64_t position = pl->mode == POS_IDS ? pl->ids[b * pl->ids_bs + s] : pl->offset + s;
        do_token(pl, b, s, position, cbuf, sbuf);
        if (++s == pl->seq) {
            s = 0;
            b++;
        }
    }
}

/* ------------------------------------------------------------ entry points */

/* Rotary dims, the source of the angles (a table or table-free θ), the scale. */
static rope_status plan_angles(const rope_apply_params *p, plan *pl, int64_t *max_pos) {
    pl->R = p->rotary_dim;
    if (pl->R <= 0 || pl->R % 2) return ROPE_E_DIM;
    if (pl->R > pl->D) return ROPE_E_ROTARY_DIM;
    if (p->table && p->freqs) return ROPE_E_PARAM;
    if (p->table) {
        pl->n_freqs = rope_table_n_freqs(p->table);
        if (pl->R != 2 * pl->n_freqs) return ROPE_E_ROTARY_DIM;
        *max_pos = rope_table_rows(p->table) - 1;
        pl->tcos = rope_table_cos(p->table);
        pl->tsin = rope_table_sin(p->table);
        if (*max_pos >= 0 && (!pl->tcos || !pl->tsin)) return ROPE_E_NULL;
    } else {
        pl->n_freqs = p->freqs->n_freqs;
        if (pl->R != 2 * pl->n_freqs) return ROPE_E_ROTARY_DIM;
        for (int64_t i = 0; i < pl->n_freqs; i++)
            if (!isfinite(p->freqs->inv_freq[i])) return ROPE_E_PARAM;
        pl->inv_freq = p->freqs->inv_freq;
        *max_pos = ROPE_MAX_FREE_POSITION;
    }
    if (!isfinite(p->attention_factor) || !(p->attention_factor > 0)) return ROPE_E_PARAM;
    pl->scale = p->attention_factor;
    pl->inverse = p->inverse != 0;
    return ROPE_OK;
}

/* q's output must not touch k's input or output, nor k's output q's input. */
static rope_status check_qk_overlap(const plan *pl, const rope_tensor *const *ins,
                                    const rope_tensor *const *outs) {
    const rope_tensor *pairs[3][2] = {{outs[0], ins[1]}, {outs[0], outs[1]}, {outs[1], ins[0]}};
    const extent *ext[3][2] = {{&pl->v[0].eout, in_extent(&pl->v[1])},
                               {&pl->v[0].eout, &pl->v[1].eout},
                               {&pl->v[1].eout, in_extent(&pl->v[0])}};
    /* both in place: the three pairs are one */
    int n_pairs = pl->v[0].in_place && pl->v[1].in_place ? 1 : 3;
    for (int i = 0; i < n_pairs; i++) {
        const rope_tensor *a = pairs[i][0], *b = pairs[i][1];
        if (ranges_disjoint(a, ext[i][0], b, ext[i][1])) continue;
        if (!tokens_disjoint(a, b, pl->es)) return ROPE_E_OVERLAP;
    }
    return ROPE_OK;
}

/* Everything checked: pick the kernel, decide streaming stores (the output does
 * not fit in the last-level cache) and split the tokens over the pool. */
static void run_plan(plan *pl, rope_pool *pool, int64_t tokens) {
    int64_t heads = 0;
    for (int i = 0; i < pl->n_views; i++) heads += pl->v[i].heads;
    if (tokens == 0 || heads == 0) return;
    pl->k = rope_kernels_get();
    pl->fn = pl->k->row[pl->style][pl->dt];

    /* bytes read + written; no overflow: the outputs' extents were checked */
    int64_t bytes_per_token = heads * pl->D * pl->es * 2;
    int64_t llc;
    rope_cache_sizes(NULL, &llc);
    int big = tokens > 1 && mul_sat(tokens, bytes_per_token / 2) > llc;
    for (int i = 0; i < pl->n_views; i++) pl->v[i].stream = big && !pl->v[i].in_place;
    if (!pool || tokens == 1) {
        run_tokens(pl, 0, tokens);
        return;
    }
    int64_t min_tokens = (rope_split_min_bytes() + bytes_per_token - 1) / bytes_per_token;
    if (tokens < 2 * min_tokens) run_tokens(pl, 0, tokens);
    else rope_parallel_for(pool, tokens, min_tokens, run_tokens, pl);
}

/* Validate everything (nothing is written on error), then rotate n views. */
static rope_status apply_views(const rope_apply_params *p, const rope_positions *pos,
                               const rope_tensor *const *ins, const rope_tensor *const *outs,
                               int n) {
    plan pl;
    if (!p) return ROPE_E_NULL;
    if (!p->table && !p->freqs) return ROPE_E_NULL;
    for (int i = 0; i < n; i++)
        if (!ins[i] || !outs[i]) return ROPE_E_NULL;
    if (pos && pos->cu_seqlens == NULL && pos->n_seqs != 0 && !pos->ids) {
        /* n_seqs without cu_seqlens: a forgotten pointer, not offset mode */
        return ROPE_E_NULL;
    }
    if (p->style != ROPE_STYLE_INTERLEAVED && p->style != ROPE_STYLE_HALF &&
        p->style != ROPE_STYLE_DEINTERLEAVE)
        return ROPE_E_STYLE;

    pl.n_views = n;
    pl.tcos = pl.tsin = NULL;
    pl.inv_freq = NULL;
    for (int i = 0; i < n; i++) {
        rope_status st = check_tensor_pair(ins[i], outs[i], &pl.v[i]);
        if (st != ROPE_OK) return st;
    }
    if (n == 2) {
        if (ins[0]->dtype != ins[1]->dtype) return ROPE_E_DTYPE;
        if (ins[0]->shape[0] != ins[1]->shape[0] || ins[0]->shape[1] != ins[1]->shape[1] ||
            ins[0]->shape[3] != ins[1]->shape[3])
            return ROPE_E_SHAPE;
    }
    pl.batch = ins[0]->shape[0];
    pl.seq = ins[0]->shape[1];
    pl.D = ins[0]->shape[3];
    pl.es = (int64_t)rope_dtype_size(ins[0]->dtype);
    pl.dt = dtype_index(ins[0]->dtype);
    pl.style = p->style == ROPE_STYLE_INTERLEAVED ? ROPE_KSTYLE_INTERLEAVED
               : p->style == ROPE_STYLE_HALF      ? ROPE_KSTYLE_HALF
                                                  : ROPE_KSTYLE_DEINTERLEAVE;
    int64_t max_pos;
    rope_status st = plan_angles(p, &pl, &max_pos);
    if (st != ROPE_OK) return st;

    /* memory: products, self-aliasing of outputs, in/out overlap, q/k overlap */
    for (int i = 0; i < n; i++)
        if ((st = check_layout(ins[i], outs[i], &pl.v[i])) != ROPE_OK) return st;
    int64_t tokens;
    if (__builtin_mul_overflow(pl.batch, pl.seq, &tokens)) return ROPE_E_OVERFLOW;
    if (n == 2 && (st = check_qk_overlap(&pl, ins, outs)) != ROPE_OK) return st;

    if ((st = check_positions(&pl, pos, max_pos)) != ROPE_OK) return st;
    /* table-free: every angle θᵢ·m up to the largest position must be finite
     * (a finite but huge θ times a far m overflows to Inf: NaN cos/sin), the
     * rule tables apply when they are built */
    if (pl.inv_freq)
        for (int64_t i = 0; i < pl.n_freqs; i++)
            if (!isfinite(pl.inv_freq[i] * (double)pl.top)) return ROPE_E_PARAM;

    run_plan(&pl, p->pool, tokens);
    return ROPE_OK;
}

rope_status rope_apply(const rope_apply_params *p, const rope_positions *pos,
                       const rope_tensor *in, const rope_tensor *out) {
    const rope_tensor *ins[1] = {in}, *outs[1] = {out};
    return apply_views(p, pos, ins, outs, 1);
}

rope_status rope_apply_qk(const rope_apply_params *p, const rope_positions *pos,
                          const rope_tensor *q_in, const rope_tensor *q_out,
                          const rope_tensor *k_in, const rope_tensor *k_out) {
    const rope_tensor *ins[2], *outs[2];
    int n = 0;
    if ((q_in == NULL) != (q_out == NULL) || (k_in == NULL) != (k_out == NULL)) return ROPE_E_NULL;
    if (q_in) {
        ins[n] = q_in;
        outs[n++] = q_out;
    }
    if (k_in) {
        ins[n] = k_in;
        outs[n++] = k_out;
    }
    if (n == 0) return ROPE_E_NULL;
    return apply_views(p, pos, ins, outs, n);
}
