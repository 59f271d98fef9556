/*
 * libFuzzer harness: the C API entry points added after fuzz_api was written
 * (a harness of its own, so fuzz_api's committed corpus keeps its meaning):
 * rope_config.freq_divisor and M-RoPE sections of 1-4 planes
 * (rope_freqs_compute, rope_table_create_mrope), the per-layer rope_model
 * (validate, layer_set/layer_freqs, query_scale, find_set on a struct with
 * corrupt counts and indices), rope_pool_run, rope_table_create_axial, and
 * the KV cache's shift/remove/truncate/read in its three modes and four
 * dtypes. Same rules as fuzz_api (api_common.h): arrays exact when small,
 * tiny when their count is impossible (the call must fail); a refused call
 * leaves every output, and the whole cache, as it was; what is accepted is
 * finite (no NaN or Inf behind ROPE_OK).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rope.h"

#include "api_common.h"

/* ------------------------------------------------------------ M-RoPE planes */

/* rope_table_create_mrope with 1-4 planes (or a corrupt count), contiguous or
 * interleaved (or a corrupt flag), sections and positions from the input;
 * n / planes rows of the n positions, or an impossible n that must fail. */
static void fuzz_mrope(rd *r, const rope_freqs *f) {
    rope_freqs g = *f;
    int planes = byte(r) % 8 ? 1 + byte(r) % 4 : (int)pick(r);
    int np = planes >= 1 && planes <= ROPE_MAX_MROPE_PLANES ? planes : 1;
    g.n_mrope_section = planes;
    g.mrope_interleaved = byte(r) % 8 ? byte(r) % 2 : (int)pick(r);
    for (int k = 0; k < ROPE_MAX_MROPE_PLANES; k++)
        g.mrope_section[k] =
            byte(r) % 4 ? (k < np ? g.n_freqs / np + (k == 0) * (g.n_freqs % np) : 0) : pick(r);
    rope_precision prec = (rope_precision)(byte(r) % 2);
    int64_t n = byte(r) % 2 ? 1 + byte(r) % 16 : pick(r);
    arr pos = {0};
    int kp = ids_make(&pos, n < 0 ? 1 : n, r, 0);
    rope_table *const sentinel = (rope_table *)(uintptr_t)0x10;
    rope_table *t = sentinel;
    if (kp == FIT && n >= np) { /* n / np rows of np planes: within the n positions */
        rope_status st = rope_table_create_mrope(&g, pos.data, n / np, prec, &t);
        if (st != ROPE_OK && t != sentinel) __builtin_trap();
        if (st == ROPE_OK) {
            for (int64_t i = 0; i < rope_table_rows(t) * rope_table_n_freqs(t); i++)
                if (!isfinite(rope_table_cos(t)[i]) || !isfinite(rope_table_sin(t)[i]))
                    __builtin_trap();
            rope_table_free(t);
        }
    } else if (kp == HUGE && (i128)(n / np) * np > IMPOSSIBLE / 8) {
        /* (n / np)·np positions, the count the call sees, that no array can hold: refused
         * unread. (Only n itself past the limit is not enough: rounding n down to whole rows
         * can bring the count back to a size an array may have, which the call then reads.) */
        if (rope_table_create_mrope(&g, pos.data, n / np, prec, &t) == ROPE_OK || t != sentinel)
            __builtin_trap();
    }
    if (pos.mem) free(pos.mem);
}

/* ------------------------------------------------------------ rope_config */

static double pick_double(rd *r) {
    static const double vals[] = {1.0, 2.0, 0.5, 4.0, 1e30, 1e31, 1e29, 0.0, -0.0, -1.0,
                                  NAN, INFINITY, -INFINITY, 1e-300, 5e-324, 1e300, 1e307};
    return vals[byte(r) % (sizeof vals / sizeof vals[0])];
}

/* rope_freqs_compute with a caller's freq_divisor (count from the input: an
 * array of exactly that many doubles when small, else of R/2 and the call must
 * fail) and M-RoPE sections of 0-4 planes (or corrupt). Refused: *out
 * untouched; accepted: every θ finite and >= 0, and a table from them finite. */
static void fuzz_freqs(rd *r) {
    static const int64_t dims[] = {2, 4, 8, 64};
    rope_config c;
    rope_config_init(&c);
    c.head_dim = dims[byte(r) % 4];
    if (byte(r) % 2) {
        c.type = ROPE_SCALING_LINEAR;
        c.factor = pick_double(r);
    }
    const int64_t nf = c.head_dim / 2;
    int64_t cnt = byte(r) % 2 ? nf : pick(r);
    int exact = cnt >= 0 && cnt <= ROPE_MAX_FREQS;
    size_t alloc = (size_t)(exact ? cnt : nf);
    double *div = malloc(alloc ? alloc * sizeof *div : 1);
    if (!div) abort();
    for (size_t i = 0; i < alloc; i++) div[i] = byte(r) % 3 ? 1.0 + (double)(byte(r) % 8) : pick_double(r);
    c.freq_divisor = byte(r) % 8 ? div : NULL;
    c.n_freq_divisor = cnt;
    int planes = byte(r) % 4 ? (int)(byte(r) % 5) : (int)pick(r);
    c.n_mrope_section = planes;
    c.mrope_interleaved = byte(r) % 8 ? byte(r) % 2 : (int)pick(r);
    for (int k = 0; k < ROPE_MAX_MROPE_PLANES; k++) {
        int np = planes >= 1 && planes <= ROPE_MAX_MROPE_PLANES ? planes : 1;
        c.mrope_section[k] = byte(r) % 4 ? (k < np ? nf / np + (k == 0) * (nf % np) : 0) : pick(r);
    }
    rope_freqs out, out0;
    memset(&out, 0xA5, sizeof out);
    out0 = out;
    rope_status st = rope_freqs_compute(&c, byte(r) % 2 ? 0 : pick(r), &out);
    if (c.freq_divisor && cnt != nf && st == ROPE_OK) __builtin_trap();
    if (st != ROPE_OK && memcmp(&out, &out0, sizeof out) != 0) __builtin_trap();
    if (st == ROPE_OK) {
        for (int64_t i = 0; i < out.n_freqs; i++)
            if (!isfinite(out.inv_freq[i]) || !(out.inv_freq[i] >= 0.0) ||
                !isfinite(out.inv_freq_f32[i]) || !(out.inv_freq_f32[i] >= 0.0f))
                __builtin_trap();
        rope_table *t = NULL;
        if (rope_table_create(&out, 16, (rope_precision)(byte(r) % 2), &t) == ROPE_OK)
            for (int64_t i = 0; i < 16 * out.n_freqs; i++)
                if (!isfinite(rope_table_cos(t)[i]) || !isfinite(rope_table_sin(t)[i])) __builtin_trap();
        rope_table_free(t);
    }
    free(div);
}

/* ------------------------------------------------------------ rope_model */

/* One layer's queries; ok_layer: the model validated and the layer is mapped,
 * so they must succeed. Refused calls leave their outputs as they were. */
static void model_queries(rd *r, const rope_model *m, int64_t layer, int ok_layer) {
    rope_freqs out, out0;
    memset(&out, 0xA5, sizeof out);
    out0 = out;
    int rot = -7, set = -7;
    rope_status st = rope_model_layer_freqs(m, layer, 0, &out, &rot);
    if (st != ROPE_OK && (rot != -7 || memcmp(&out, &out0, sizeof out) != 0)) __builtin_trap();
    if (st == ROPE_OK && rot == 0 && memcmp(&out, &out0, sizeof out) != 0) __builtin_trap();
    if (st == ROPE_OK && rot == 1)
        for (int64_t i = 0; i < out.n_freqs; i++)
            if (!isfinite(out.inv_freq[i])) __builtin_trap();
    if (ok_layer && st != ROPE_OK) __builtin_trap();
    st = rope_model_layer_set(m, layer, &set);
    if ((st == ROPE_OK) != (set != -7) || (ok_layer && st != ROPE_OK)) __builtin_trap();
    int64_t pos = byte(r) % 2 ? (int64_t)1 << 53 : pick(r);
    double sc = -7.0;
    st = rope_model_query_scale(m, layer, pos, &sc);
    if (st == ROPE_OK && !isfinite(sc)) __builtin_trap(); /* Inf behind ROPE_OK */
    if (st != ROPE_OK && sc != -7.0) __builtin_trap();
    if (ok_layer && pos >= 0 && pos <= ((int64_t)1 << 53) && st != ROPE_OK) __builtin_trap();
}

/* A model filled as a caller may (sets added, then every field from the
 * input, corrupt counts and indices included), validated and queried. */
static void fuzz_model(rd *r) {
    static const int64_t dims[] = {2, 4, 8, 64};
    rope_model m;
    rope_model_init(&m);
    int ns = byte(r) % 4;
    for (int k = 0; k < ns; k++) {
        rope_config c;
        rope_config_init(&c);
        c.head_dim = dims[byte(r) % 4];
        if (byte(r) % 4 == 0) c.rope_theta = pick_double(r);
        char name[3] = {'s', (char)('0' + byte(r) % 4), 0}; /* duplicates refused */
        rope_model_add_set(&m, name, &c, NULL);
    }
    if (byte(r) % 8 == 0) m.n_sets = (int)pick(r);
    m.n_layers = byte(r) % 4 ? byte(r) % 8 : pick(r);
    for (int l = 0; l < 8; l++) m.layer_set[l] = (int16_t)((int)(byte(r) % 8) - 2);
    m.query_scaling = (rope_query_scaling_type)(byte(r) % 8 ? byte(r) % 4 : (int)pick(r));
    m.query_scaling_beta = byte(r) % 2 ? 0.1 : pick_double(r);
    m.query_scaling_floor = byte(r) % 2 ? 8192 : pick(r);
    m.query_scaling_pos_offset = byte(r) % 2 ? byte(r) % 2 : pick(r);
    rope_status sv = rope_model_validate(&m);
    for (int k = 0; k < 3; k++) {
        int64_t layer = byte(r) % 2 ? byte(r) % 10 : pick(r);
        int mapped = sv == ROPE_OK && m.n_layers > 0 && layer >= 0 && layer < m.n_layers;
        model_queries(r, &m, layer, mapped);
    }
    /* a name read up to its NUL or ROPE_SET_NAME_MAX bytes, from an exact array */
    size_t len = 1 + byte(r) % 60;
    char *nm = malloc(len);
    if (!nm) abort();
    for (size_t i = 0; i < len; i++) nm[i] = i == 0 ? 's' : (char)('0' + byte(r) % 4);
    if (len < ROPE_SET_NAME_MAX || byte(r) % 2) nm[len - 1] = 0;
    int idx = -7;
    rope_status st = rope_model_find_set(&m, nm, &idx);
    if ((st == ROPE_OK) != (idx != -7)) __builtin_trap();
    free(nm);
}

/* ------------------------------------------------------------ pool, axial */

static void add_items(void *ctx, int64_t begin, int64_t end) {
    __atomic_fetch_add((int64_t *)ctx, end - begin, __ATOMIC_RELAXED);
}

/* rope_pool_run with counts from the input: negative ones refused with fn
 * never called, any other covered exactly once (INT64_MAX included). */
static void fuzz_pool(rd *r) {
    static rope_pool *pool; /* kept for the process: starting threads per input is slow */
    if (!pool && rope_pool_create(2, &pool) != ROPE_OK) __builtin_trap();
    int64_t n = pick(r), min = pick(r), got = 0;
    rope_status st = rope_pool_run(byte(r) % 2 ? pool : NULL, n, min, add_items, &got);
    if ((st == ROPE_OK) != (n >= 0 && min >= 0)) __builtin_trap();
    if (got != (st == ROPE_OK ? n : 0)) __builtin_trap();
}

/* rope_table_create_axial: axes, tokens, columns and maps from the input;
 * arrays exact when small, tiny when the count is impossible (must fail). */
static void fuzz_axial(rd *r, const rope_freqs *f) {
    int n_axes = byte(r) % 4 ? 1 + byte(r) % 3 : (int)pick(r);
    int64_t n = byte(r) % 2 ? 1 + byte(r) % 8 : pick(r), ncols = byte(r) % 2 ? f->n_freqs : pick(r);
    int maps_ok = ncols >= 1 && ncols <= ROPE_MAX_FREQS;
    int *axis = malloc(sizeof(int) * (size_t)(maps_ok ? ncols : 4));
    int *freq = malloc(sizeof(int) * (size_t)(maps_ok ? ncols : 4));
    if (!axis || !freq) abort();
    for (int64_t i = 0; i < (maps_ok ? ncols : 4); i++) {
        axis[i] = byte(r) % 8 ? (int)(byte(r) % (n_axes > 0 && n_axes < 9 ? n_axes : 1)) : (int)(byte(r) % 12) - 2;
        freq[i] = byte(r) % 8 ? (int)(byte(r) % f->n_freqs) : (int)(byte(r) % 12) - 2;
    }
    i128 cnt = n_axes >= 1 && n_axes <= 8 && n > 0 ? (i128)n_axes * n : 1;
    arr co = {0};
    int kc = ids_make(&co, cnt, r, 0);
    if (kc != SKIP) {
        rope_table *const sentinel = (rope_table *)(uintptr_t)0x10;
        rope_table *t = sentinel;
        rope_status st = rope_table_create_axial(f, co.data, n_axes, n, axis, freq, ncols,
                                                 (rope_precision)(byte(r) % 2), &t);
        if ((kc == HUGE || !maps_ok) && st == ROPE_OK) __builtin_trap();
        if (st != ROPE_OK && t != sentinel) __builtin_trap();
        if (st == ROPE_OK) {
            if (rope_table_rows(t) != n || rope_table_n_freqs(t) != ncols) __builtin_trap();
            for (int64_t i = 0; i < n * ncols; i++)
                if (!isfinite(rope_table_cos(t)[i]) || !isfinite(rope_table_sin(t)[i])) __builtin_trap();
            rope_table_free(t);
        }
    }
    if (co.mem) free(co.mem);
    free(axis);
    free(freq);
}

/* ------------------------------------------------------------ KV cache edits */

/* Everything a cache holds (lengths, positions, keys and values as read),
 * to prove a refused edit changed nothing. batch <= 3, capacity <= 64,
 * heads <= 2, head_dim <= 64. */
enum { KV_PER = 64 * 2 * 64 };
typedef struct kvsnap {
    int64_t len[3], pos[3][64];
    float kv[3][2][KV_PER];
} kvsnap;

static void kv_take(const rope_kv_cache *c, const rope_kv_cache_desc *d, kvsnap *s) {
    memset(s, 0, sizeof *s);
    for (int64_t b = 0; b < d->batch; b++) {
        if (rope_kv_cache_length(c, b, &s->len[b]) != ROPE_OK) __builtin_trap();
        rope_tensor k, v;
        rope_tensor_contiguous(&k, s->kv[b][0], ROPE_F32, 1, s->len[b], d->n_kv_heads, d->head_dim);
        rope_tensor_contiguous(&v, s->kv[b][1], ROPE_F32, 1, s->len[b], d->n_kv_heads, d->head_dim);
        if (rope_kv_cache_read(c, b, 0, s->len[b], &k, &v, s->pos[b]) != ROPE_OK) __builtin_trap();
        for (size_t i = 0; i < 2 * KV_PER; i++)
            if (!isfinite(s->kv[b][i / KV_PER][i % KV_PER])) __builtin_trap();
    }
}

/* rope_kv_cache_read with the range and output views from the input. */
static void kv_read(rd *r, const rope_kv_cache *c, const rope_kv_cache_desc *d) {
    int64_t row = byte(r) % 4 ? byte(r) % 4 : pick(r), entry = byte(r) % 2 ? byte(r) % 8 : pick(r);
    int64_t n = byte(r) % 2 ? byte(r) % 8 : pick(r);
    rope_dtype dt = (rope_dtype)(1 + byte(r) % 3);
    size_t es = rope_dtype_size(dt);
    int64_t shape[4] = {1, n, d->n_kv_heads, d->head_dim}, stride[4];
    rope_tensor t;
    rope_tensor_contiguous(&t, NULL, dt, 1, n, d->n_kv_heads, d->head_dim);
    memcpy(stride, t.stride, sizeof stride);
    for (int k = 0; k < 4; k++)
        if (byte(r) % 8 == 0) stride[k] = pick(r);
    i128 lo, hi;
    int kv = view_range(shape, stride, es, &lo, &hi);
    arr out = {0}, pos = {0};
    int kp = ids_make(&pos, n < 0 ? 1 : n, r, 0);
    if (kv == SKIP || kp == SKIP) {
        if (pos.mem) free(pos.mem);
        return;
    }
    arr_make(&out, lo, hi, kv == HUGE, r);
    memcpy(t.stride, stride, sizeof stride);
    t.data = out.data;
    unsigned char psnap[64];
    memcpy(psnap, pos.mem, pos.bytes < 64 ? pos.bytes : 64);
    int which = byte(r) % 3; /* k, v or both */
    rope_status st = rope_kv_cache_read(c, row, entry, n, which != 1 ? &t : NULL, which != 0 ? &t : NULL,
                                        byte(r) % 4 ? (int64_t *)pos.data : NULL);
    if ((kv == HUGE || kp == HUGE) && n > 0 && st == ROPE_OK) __builtin_trap();
    if (st != ROPE_OK && (!arr_same(&out) || memcmp(psnap, pos.mem, pos.bytes < 64 ? pos.bytes : 64)))
        __builtin_trap();
    arr_free(&out);
    if (pos.mem) free(pos.mem);
}

static void kv_fill(rd *r, rope_kv_cache *c, const rope_kv_cache_desc *d, const rope_apply_params *p) {
    int64_t n = 1 + byte(r) % 8, H = d->n_kv_heads, D = d->head_dim;
    float *kv = malloc(sizeof(float) * (size_t)(d->batch * n * H * D));
    if (!kv) abort();
    for (int64_t i = 0; i < d->batch * n * H * D; i++) kv[i] = (float)(byte(r) % 16) / 8.0f - 1.0f;
    rope_tensor k;
    rope_tensor_contiguous(&k, kv, ROPE_F32, d->batch, n, H, D);
    rope_positions pos = {0};
    pos.offset = byte(r) % 32;
    rope_kv_cache_append(c, p, &pos, &k, &k);
    free(kv);
}

/* A cache of each mode and dtype, filled, then edits from the input: every
 * refused shift/remove/truncate leaves it exactly as it was, a refused read
 * leaves its outputs as they were, what is read is finite. */
static void fuzz_kv_edits(rd *r, const rope_freqs *f, const rope_table *table) {
    static const rope_dtype dts[] = {ROPE_F32, ROPE_F16, ROPE_BF16, ROPE_Q8};
    rope_kv_cache_desc d = {1 + byte(r) % 3, 1 + byte(r) % 2, f->head_dim, 1 + byte(r) % 64,
                            dts[byte(r) % 4], (rope_kv_mode)(byte(r) % 3)};
    rope_kv_cache *c = NULL;
    if (rope_kv_cache_create(&d, &c) != ROPE_OK) return;
    rope_apply_params p, big;
    rope_apply_params_init(&p);
    p.style = (rope_style)(1 + byte(r) % 2);
    p.table = byte(r) % 2 ? table : NULL;
    p.freqs = p.table ? NULL : f;
    p.rotary_dim = 2 * f->n_freqs;
    rope_freqs fb = *f;
    fb.inv_freq[byte(r) % f->n_freqs] = pick_double(r);
    big = p;
    big.table = NULL;
    big.freqs = &fb;
    if (byte(r) % 4) kv_fill(r, c, &d, d.mode == ROPE_KV_ROTATED && byte(r) % 2 ? NULL : &p);
    static kvsnap s0, s1;
    kv_take(c, &d, &s0);
    for (int op = byte(r) % 6; op > 0; op--) {
        int64_t row = byte(r) % 4 ? (int64_t)(byte(r) % 5) - 1 : pick(r);
        int64_t p0 = byte(r) % 2 ? byte(r) % 40 : pick(r), p1 = byte(r) % 2 ? byte(r) % 40 : pick(r);
        rope_status st = ROPE_OK;
        switch (byte(r) % 4) {
        case 0: {
            int64_t delta = byte(r) % 2 ? (int64_t)(byte(r) % 16) - 8 : pick(r);
            int which = byte(r) % 4;
            st = rope_kv_cache_shift(c, which == 0 ? NULL : which == 1 ? &big : &p, row, p0, p1, delta);
            break;
        }
        case 1: st = rope_kv_cache_remove(c, row, p0, p1); break;
        case 2: st = rope_kv_cache_truncate(c, row, p0); break;
        default: kv_read(r, c, &d); continue;
        }
        kv_take(c, &d, &s1);
        if (st != ROPE_OK && memcmp(&s0, &s1, sizeof s0) != 0) __builtin_trap();
        for (int64_t b = 0; b < d.batch; b++)
            for (int64_t e = 0; e < s1.len[b]; e++)
                if (s1.pos[b][e] < 0) __builtin_trap();
        s0 = s1;
    }
    rope_kv_cache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rd r = {data, size, 0};
    static const int64_t dims[] = {2, 4, 8, 64};
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = dims[byte(&r) % 4];
    rope_freqs f;
    if (rope_freqs_compute(&cfg, 0, &f) != ROPE_OK) __builtin_trap();
    rope_table *t = NULL;
    if (rope_table_create(&f, 1 + byte(&r) % 64, ROPE_PRECISION_ACCURATE, &t) != ROPE_OK) __builtin_trap();
    while (r.i < r.n) {
        switch (byte(&r) % 6) {
        case 0: fuzz_freqs(&r); break;
        case 1: fuzz_mrope(&r, &f); break;
        case 2: fuzz_model(&r); break;
        case 3: fuzz_pool(&r); break;
        case 4: fuzz_axial(&r, &f); break;
        default: fuzz_kv_edits(&r, &f, t); break;
        }
    }
    rope_table_free(t);
    return 0;
}
