/*
 * libFuzzer harness: the C API's validation of sizes, strides, counts and
 * positions (rope_apply / rope_apply_qk, the table constructors, rope_cos_sin,
 * the KV cache and attention). The input picks every shape, stride, count,
 * position, offset, factor and dtype, biased towards edge values (0, -1,
 * 2^31, 2^53, 2^56, INT64_MAX, ...). The harness computes each array's true
 * extent itself (128-bit arithmetic) and then:
 *   - extent small (<= 64 KiB): the array is allocated exactly, the call may
 *     succeed or fail; on failure every output byte must be untouched, on
 *     success (finite inputs) no output may be NaN;
 *   - extent impossible (> 2^56 bytes, or not even an int64): a tiny array is
 *     passed and the call must fail (reading it would be a report);
 *   - in between (possible but large): the call is skipped.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rope.h"

#include "api_common.h"

static void fuzz_apply(rd *r, const rope_freqs *f, const rope_table *table) {
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = (rope_style)(byte(r) % 4); /* NONE, interleaved, half, deinterleave */
    if (byte(r) % 2) p.table = table;
    else p.freqs = f;
    p.rotary_dim = byte(r) % 4 ? 2 * f->n_freqs : pick(r);
    p.attention_factor = pick_float(r);
    p.inverse = byte(r) % 2;
    rope_dtype dt = (rope_dtype)(1 + byte(r) % 3);
    size_t es = rope_dtype_size(dt);
    int64_t shape[4], sin_[4], sout[4];
    for (int d = 0; d < 4; d++) shape[d] = d == 3 ? (byte(r) % 4 ? f->head_dim : pick(r)) : pick(r);
    rope_tensor ti, to;
    rope_tensor_contiguous(&ti, NULL, dt, shape[0], shape[1], shape[2], shape[3]);
    memcpy(sin_, ti.stride, sizeof sin_);
    for (int d = 0; d < 4; d++)
        if (byte(r) % 4 == 0) sin_[d] = pick(r);
    int in_place = byte(r) % 2;
    memcpy(sout, in_place ? sin_ : ti.stride, sizeof sout);
    i128 lo, hi, olo, ohi;
    int ki = view_range(shape, sin_, es, &lo, &hi), ko = view_range(shape, sout, es, &olo, &ohi);
    if (ki == SKIP || ko == SKIP) return;
    arr ain, aout;
    arr_make(&ain, lo, hi, ki == HUGE, r);
    arr_make(&aout, olo, ohi, ko == HUGE, r);
    ti.data = ain.data;
    memcpy(ti.stride, sin_, sizeof sin_);
    to = ti;
    if (!in_place) {
        to.data = aout.data;
        memcpy(to.stride, sout, sizeof sout);
    }
    /* positions */
    rope_positions pos = {0};
    arr ids = {0};
    int kp = FIT, mode = byte(r) % 3;
    if (mode == 1) {
        pos.ids_batch_stride = byte(r) % 2 ? shape[1] : pick(r);
        i128 cnt = shape[0] > 0 && shape[1] > 0
                           ? (i128)(shape[0] - 1) * pos.ids_batch_stride + shape[1] : 0;
        if (pos.ids_batch_stride < 0) cnt = 1;
        kp = ids_make(&ids, cnt, r, 0);
        pos.ids = ids.data;
    } else if (mode == 2) {
        pos.n_seqs = pick(r);
        kp = ids_make(&ids, pos.n_seqs < 0 ? 1 : (i128)pos.n_seqs + 1, r, 1);
        if (kp == FIT && ids.bytes >= 8) ((int64_t *)ids.data)[ids.bytes / 8 - 1] = shape[1];
        pos.cu_seqlens = ids.data;
    } else {
        pos.offset = pick(r);
    }
    if (kp != SKIP) {
        rope_status st = byte(r) % 2 ? rope_apply(&p, &pos, &ti, &to)
                                     : rope_apply_qk(&p, &pos, &ti, &to, NULL, NULL);
        int must_fail = ki == HUGE || ko == HUGE || kp == HUGE;
        if (must_fail && st == ROPE_OK) __builtin_trap();
        if (st != ROPE_OK && (!arr_same(&aout) || !arr_same(&ain))) __builtin_trap();
        if (st == ROPE_OK && dt == ROPE_F32 && p.attention_factor <= 2.0f) {
            const unsigned char *o = in_place ? ain.mem : aout.mem;
            size_t bytes = in_place ? ain.bytes : aout.bytes;
            for (size_t i = 0; i + 4 <= bytes; i += 4) {
                float x;
                memcpy(&x, o + i, 4);
                if (isnan(x)) __builtin_trap(); /* inputs are small finite floats */
            }
        }
    }
    if (ids.mem) free(ids.mem);
    arr_free(&ain);
    arr_free(&aout);
}

static void fuzz_tables(rd *r, rope_freqs *f) {
    rope_freqs g = *f;
    if (byte(r) % 4 == 0) g.inv_freq[byte(r) % g.n_freqs] = (double)pick_float(r);
    if (byte(r) % 4 == 0) g.inv_freq_f32[byte(r) % g.n_freqs] = pick_float(r);
    rope_precision prec = (rope_precision)(byte(r) % 3);
    int64_t n = pick(r);
    arr pos = {0};
    int kp = ids_make(&pos, n < 0 ? 1 : n, r, 0);
    rope_table *t = NULL;
    if (kp != SKIP) {
        rope_status st = rope_table_create_at(&g, pos.data, n, prec, &t);
        if (kp == HUGE && st == ROPE_OK) __builtin_trap();
        if (st == ROPE_OK) {
            const float *c = rope_table_cos(t);
            for (int64_t i = 0; i < rope_table_rows(t) * rope_table_n_freqs(t); i++)
                if (!isfinite(c[i])) __builtin_trap(); /* NaN behind ROPE_OK */
        }
        rope_table_free(t);
        t = NULL;
        /* M-RoPE: sections from the input, n·3 positions */
        g.n_mrope_section = 3;
        for (int k = 0; k < 3; k++)
            g.mrope_section[k] = byte(r) % 2 ? g.n_freqs / 3 + (k == 0) * (g.n_freqs % 3) : pick(r);
        if (kp == FIT && n >= 3) { /* n / 3 rows of 3 planes: within the n positions */
            st = rope_table_create_mrope(&g, pos.data, n / 3, prec, &t);
            rope_table_free(t);
            t = NULL;
        }
    }
    if (pos.mem) free(pos.mem);
    /* caller rows */
    int64_t rows = pick(r), nf = byte(r) % 2 ? f->n_freqs : pick(r);
    i128 cnt = (rows > 0 && nf > 0) ? (i128)rows * nf : 1;
    if (cnt > IMPOSSIBLE / 4) {
        float small[16] = {0};
        if (rope_table_from_cos_sin(small, small, rows, nf, &t) == ROPE_OK) __builtin_trap();
    } else if (cnt <= 4096) {
        float *c = calloc((size_t)cnt, 4), *s = calloc((size_t)cnt, 4);
        if (!c || !s) abort();
        if (cnt > 1) c[byte(r) % cnt] = pick_float(r);
        rope_status st = rope_table_from_cos_sin(c, s, rows, nf, &t);
        if (st == ROPE_OK)
            for (int64_t i = 0; i < rows * nf; i++)
                if (!isfinite(rope_table_cos(t)[i])) __builtin_trap();
        rope_table_free(t);
        free(c);
        free(s);
    }
}

static void fuzz_cache(rd *r, const rope_freqs *f, const rope_table *table) {
    rope_kv_cache_desc d = {1 + byte(r) % 3, 1 + byte(r) % 2, f->head_dim, 1 + byte(r) % 64, ROPE_F32,
                            ROPE_KV_ROTATED};
    rope_kv_cache *c = NULL;
    if (rope_kv_cache_create(&d, &c) != ROPE_OK) return;
    int64_t n = byte(r) % 8, D = d.head_dim;
    float *kv = calloc((size_t)(d.batch * n * d.n_kv_heads * D) + 1, sizeof(float));
    if (!kv) abort();
    rope_tensor k, v;
    rope_tensor_contiguous(&k, kv, ROPE_F32, d.batch, n, d.n_kv_heads, D);
    rope_tensor_contiguous(&v, kv, ROPE_F32, d.batch, n, d.n_kv_heads, D);
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_HALF;
    p.table = byte(r) % 2 ? table : NULL;
    p.freqs = p.table ? NULL : f;
    p.rotary_dim = 2 * f->n_freqs;
    p.attention_factor = pick_float(r);
    rope_positions pos = {0};
    arr ids = {0};
    int kp = FIT;
    if (byte(r) % 2) {
        pos.ids_batch_stride = byte(r) % 2 ? n : pick(r);
        i128 cnt = n > 0 ? (i128)(d.batch - 1) * pos.ids_batch_stride + n : 0;
        kp = ids_make(&ids, pos.ids_batch_stride < 0 ? 1 : cnt, r, 0);
        pos.ids = ids.data;
    } else {
        pos.offset = pick(r);
    }
    if (kp != SKIP) {
        int64_t len0 = 0, len1 = 0;
        rope_kv_cache_length(c, 0, &len0);
        rope_status st = rope_kv_cache_append(c, byte(r) % 2 ? &p : NULL, &pos, &k, &v);
        rope_kv_cache_length(c, 0, &len1);
        if (kp == HUGE && n > 0 && st == ROPE_OK) __builtin_trap();
        if (st != ROPE_OK && len1 != len0) __builtin_trap();
        /* queries: 2 heads per kv head, same positions */
        int64_t hq = 2 * d.n_kv_heads;
        float *q = calloc((size_t)(d.batch * n * hq * D) + 1, sizeof(float));
        float *o = malloc(sizeof(float) * ((size_t)(d.batch * n * hq * D) + 1));
        if (!q || !o) abort();
        memset(o, 0x5A, sizeof(float) * ((size_t)(d.batch * n * hq * D) + 1));
        rope_tensor tq, tout;
        rope_tensor_contiguous(&tq, q, ROPE_F32, d.batch, n, hq, D);
        rope_tensor_contiguous(&tout, o, ROPE_F32, d.batch, n, hq, D);
        rope_attention_params ap;
        rope_attention_params_init(&ap);
        ap.softmax_scale = byte(r) % 2 ? 0.0 : (double)pick_float(r);
        ap.sliding_window = byte(r) % 2 ? 0 : pick(r);
        st = rope_attention(c, &ap, &pos, &tq, &tout);
        if (kp == HUGE && n > 0 && st == ROPE_OK) __builtin_trap();
        if (st != ROPE_OK)
            for (size_t i = 0; i < sizeof(float) * (size_t)(d.batch * n * hq * D); i++)
                if (((unsigned char *)o)[i] != 0x5A) __builtin_trap();
        free(q);
        free(o);
    }
    if (ids.mem) free(ids.mem);
    free(kv);
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
        switch (byte(&r) % 3) {
        case 0: fuzz_apply(&r, &f, t); break;
        case 1: fuzz_tables(&r, &f); break;
        default: fuzz_cache(&r, &f, t); break;
        }
    }
    rope_table_free(t);
    return 0;
}
