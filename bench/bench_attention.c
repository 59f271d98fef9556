/*
 * rope bench attention: decode and prefill attention over the KV cache,
 * against the limits that matter (issue 4).
 *
 * Decode (one query token, Llama-3-8B heads: 32 q, 8 kv, head_dim 128) over
 * 4096 and 32768 cached positions, f32 and f16 cache: decode attention reads
 * every cached key and value once, so its limit is a plain read of the same
 * number of bytes. Each round times rope_attention and a vectorised sum over
 * a buffer of the same size (order alternating), one thread each; medians;
 * ratio = read time / attention time (1.0 = streaming at read speed).
 *
 * Prefill of 2048 tokens (same heads, causal, f32 cache already filled):
 * GFLOP/s counts the useful multiply-adds only (4·D per visible query/key pair
 * per q head: Q·Kᵀ and P·V, 2 flops each), with 1 and 2 threads. When
 * /usr/bin/python3 imports torch, the same shapes run through PyTorch eager
 * attention (repeat_kv, q·kᵀ/√d + causal mask, float32 softmax, ·v) with
 * torch.set_num_threads equal, in a child process; ratio = torch / librope.
 * RoPE is outside both timings (the cache holds rotated keys; the peer gets
 * ready q, k).
 *
 * A harness, not a test: it asserts nothing about speed.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "rope.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

int bench_attention_run(int argc, char **argv);

enum { HQ = 32, HKV = 8, HD = 128 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: what a decode round cost when the machine
 * is shared (preemption excluded; memory contention still counts). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rs = 0x1234567887654321ull;
static float urand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)((rs >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

/* ------------------------------------------------ the plain-read baseline */

/* Integer sum of every 64-bit word (integers: no float assists on odd bit
 * patterns), 8 independent lanes so the loads are the only limit. */
static uint64_t read_sum_plain(const uint64_t *p, size_t n) {
    uint64_t acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int t = 0; t < 8; t++) acc[t] += p[i + t];
    for (; i < n; i++) acc[0] += p[i];
    uint64_t s = 0;
    for (int t = 0; t < 8; t++) s += acc[t];
    return s;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static uint64_t read_sum_avx512(const uint64_t *p, size_t n) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_epi64(a0, _mm512_loadu_si512((const void *)(p + i)));
        a1 = _mm512_add_epi64(a1, _mm512_loadu_si512((const void *)(p + i + 8)));
        a2 = _mm512_add_epi64(a2, _mm512_loadu_si512((const void *)(p + i + 16)));
        a3 = _mm512_add_epi64(a3, _mm512_loadu_si512((const void *)(p + i + 24)));
    }
    a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
    uint64_t lanes[8];
    _mm512_storeu_si512((void *)lanes, a0);
    uint64_t s = 0;
    for (int t = 0; t < 8; t++) s += lanes[t];
    for (; i < n; i++) s += p[i];
    return s;
}
#endif

static uint64_t read_sum(const uint64_t *p, size_t n) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return read_sum_avx512(p, n);
#endif
    return read_sum_plain(p, n);
}

/* --------------------------------------------------------------- helpers */

static rope_status fill_cache(rope_kv_cache *c, int64_t n, rope_dtype dt) {
    const int64_t chunk = 1024;
    if (dt == ROPE_Q8) dt = ROPE_F32; /* quantised by the cache on append */
    size_t es = rope_dtype_size(dt);
    unsigned char *k = malloc((size_t)(chunk * HKV * HD) * es), *v = malloc((size_t)(chunk * HKV * HD) * es);
    if (!k || !v) {
        free(k);
        free(v);
        return ROPE_E_NOMEM;
    }
    for (int64_t i = 0; i < chunk * HKV * HD; i++) {
        float a = urand(), b = urand();
        if (dt == ROPE_F32) {
            ((float *)k)[i] = a;
            ((float *)v)[i] = b;
        } else {
            ((uint16_t *)k)[i] = rope_f32_to_f16(a);
            ((uint16_t *)v)[i] = rope_f32_to_f16(b);
        }
    }
    rope_status st = ROPE_OK;
    for (int64_t s0 = 0; s0 < n && st == ROPE_OK; s0 += chunk) {
        int64_t m = n - s0 < chunk ? n - s0 : chunk;
        rope_tensor tk, tv;
        rope_tensor_contiguous(&tk, k, dt, 1, m, HKV, HD);
        rope_tensor_contiguous(&tv, v, dt, 1, m, HKV, HD);
        rope_positions pos = {0};
        pos.offset = s0;
        st = rope_kv_cache_append(c, NULL, &pos, &tk, &tv); /* keys count as rotated already */
    }
    free(k);
    free(v);
    return st;
}

/* Bytes one decode step reads from the cache: keys and values (+ the q8 scales). */
static double cache_bytes(int64_t ctx, rope_dtype dt) {
    const double per = dt == ROPE_Q8 ? 1.0 + 4.0 / 32.0 : (double)rope_dtype_size(dt);
    return 2.0 * (double)ctx * HKV * HD * per;
}

static const char *dt_name(rope_dtype dt) {
    return dt == ROPE_F32 ? "f32" : dt == ROPE_F16 ? "f16" : dt == ROPE_BF16 ? "bf16" : "q8";
}

enum { NT = 2 }; /* thread counts measured: 1 .. NT */

typedef struct decode_row {
    int64_t ctx;
    rope_dtype dt;
    int unrot; /* ROPE_KV_UNROTATED: keys rotated as attention reads them */
    double read_s, read_cpu_s, bytes;
    double attn_s[NT], attn_cpu_s[NT]; /* [threads - 1] */
} decode_row;

/* One round = a plain read of the cache's bytes and one decode step per thread
 * count, in an order that rotates from round to round; medians of each. */
static rope_status bench_decode(int64_t ctx, rope_dtype dt, int unrot, int rounds, decode_row *row) {
    rope_kv_cache_desc desc = {1, HKV, HD, ctx, dt, unrot ? ROPE_KV_UNROTATED : ROPE_KV_ROTATED};
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = HD;
    cfg.rope_theta = 500000.0;
    rope_freqs freqs;
    rope_apply_params rope;
    rope_apply_params_init(&rope);
    rope.style = ROPE_STYLE_HALF;
    rope.freqs = &freqs;
    rope.rotary_dim = HD;
    rope_kv_cache *c = NULL;
    rope_pool *pool = NULL;
    rope_table *table = NULL; /* what an engine rotates with: a table of the context */
    rope_status st = rope_freqs_compute(&cfg, 0, &freqs);
    if (st == ROPE_OK && unrot) st = rope_table_create(&freqs, ctx, ROPE_PRECISION_ACCURATE, &table);
    rope.table = table;
    rope.freqs = NULL;
    if (st == ROPE_OK) st = rope_kv_cache_create(&desc, &c);
    if (st != ROPE_OK) {
        rope_table_free(table);
        return st;
    }
    st = fill_cache(c, ctx, dt);
    if (st == ROPE_OK) st = rope_pool_create(NT, &pool);
    const double bytes = cache_bytes(ctx, dt);
    size_t words = (size_t)(bytes / 8);
    uint64_t *buf = malloc(words * 8);
    float q[HQ * HD], out[HQ * HD];
    double *t = malloc(sizeof(double) * (size_t)rounds * (NT + 1) * 2);
    if (!buf || !t) st = ROPE_E_NOMEM;
    if (st == ROPE_OK) {
        for (size_t i = 0; i < words; i++) buf[i] = i * 0x9e3779b97f4a7c15ull;
        for (int i = 0; i < HQ * HD; i++) q[i] = urand();
        rope_tensor tq, to;
        rope_tensor_contiguous(&tq, q, ROPE_F32, 1, 1, HQ, HD);
        rope_tensor_contiguous(&to, out, ROPE_F32, 1, 1, HQ, HD);
        rope_positions pos = {0};
        pos.offset = ctx - 1;
        rope_attention_params ap[NT];
        for (int k = 0; k < NT; k++) {
            rope_attention_params_init(&ap[k]);
            ap[k].pool = k ? pool : NULL;
            ap[k].rope = unrot ? &rope : NULL;
        }
        volatile uint64_t sink = 0;
        for (int k = 0; k < NT && st == ROPE_OK; k++) st = rope_attention(c, &ap[k], &pos, &tq, &to);
        sink += read_sum(buf, words);
        for (int r = 0; r < rounds && st == ROPE_OK; r++)
            for (int o = 0; o <= NT; o++) {
                const int what = (o + r) % (NT + 1); /* 0: read, k: attention on k threads */
                double t0 = now_s(), c0 = cpu_s();
                if (what == 0) sink += read_sum(buf, words);
                else st = rope_attention(c, &ap[what - 1], &pos, &tq, &to);
                t[(what * rounds + r) * 2] = now_s() - t0;
                t[(what * rounds + r) * 2 + 1] = cpu_s() - c0;
            }
        (void)sink;
        double *col = malloc(sizeof(double) * (size_t)rounds);
        if (!col) st = ROPE_E_NOMEM;
        for (int what = 0; what <= NT && st == ROPE_OK; what++)
            for (int cpu = 0; cpu < 2; cpu++) {
                for (int r = 0; r < rounds; r++) col[r] = t[(what * rounds + r) * 2 + cpu];
                double m = median(col, rounds);
                if (what == 0) *(cpu ? &row->read_cpu_s : &row->read_s) = m;
                else *(cpu ? &row->attn_cpu_s[what - 1] : &row->attn_s[what - 1]) = m;
            }
        free(col);
        row->ctx = ctx;
        row->dt = dt;
        row->unrot = unrot;
        row->bytes = bytes;
    }
    free(buf);
    free(t);
    rope_pool_free(pool);
    rope_kv_cache_free(c);
    rope_table_free(table);
    return st;
}

typedef struct prefill_row {
    int threads;
    double s, gflops, torch_s;
} prefill_row;

static double prefill_flops(int64_t n) {
    return 4.0 * HD * HQ * ((double)n * (double)(n + 1) / 2.0);
}

static rope_status bench_prefill(int64_t n, int threads, int rounds, prefill_row *row) {
    rope_kv_cache_desc desc = {1, HKV, HD, n, ROPE_F32, ROPE_KV_ROTATED};
    rope_kv_cache *c = NULL;
    rope_pool *pool = NULL;
    rope_status st = rope_kv_cache_create(&desc, &c);
    if (st == ROPE_OK) st = fill_cache(c, n, ROPE_F32);
    if (st == ROPE_OK && threads > 1) st = rope_pool_create(threads, &pool);
    float *q = malloc(sizeof(float) * (size_t)(n * HQ * HD));
    float *out = malloc(sizeof(float) * (size_t)(n * HQ * HD));
    double *t = malloc(sizeof(double) * (size_t)rounds);
    if (!q || !out || !t) st = ROPE_E_NOMEM;
    if (st == ROPE_OK) {
        for (int64_t i = 0; i < n * HQ * HD; i++) q[i] = urand();
        rope_tensor tq, to;
        rope_tensor_contiguous(&tq, q, ROPE_F32, 1, n, HQ, HD);
        rope_tensor_contiguous(&to, out, ROPE_F32, 1, n, HQ, HD);
        rope_attention_params p;
        rope_attention_params_init(&p);
        p.pool = pool;
        for (int r = 0; r < rounds && st == ROPE_OK; r++) {
            double t0 = now_s();
            st = rope_attention(c, &p, NULL, &tq, &to);
            t[r] = now_s() - t0;
        }
        row->threads = threads;
        row->s = median(t, rounds);
        row->gflops = prefill_flops(n) / row->s * 1e-9;
        row->torch_s = NAN;
    }
    free(q);
    free(out);
    free(t);
    rope_pool_free(pool);
    rope_kv_cache_free(c);
    return st;
}

/* PyTorch eager attention, the seeds' formulas fixed: median seconds, or NaN. */
static double torch_prefill(int64_t n, int threads, int rounds) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import math, time, statistics, torch\n"
             "torch.set_num_threads(%d)\n"
             "torch.manual_seed(0)\n"
             "n, hq, hkv, d = %lld, %d, %d, %d\n"
             "q = torch.randn(1, hq, n, d); k = torch.randn(1, hkv, n, d); v = torch.randn(1, hkv, n, d)\n"
             "mask = torch.full((n, n), float(\"-inf\")).triu(1)\n"
             "def repeat_kv(x, r):\n"
             "    b, h, s, dd = x.shape\n"
             "    return x[:, :, None].expand(b, h, r, s, dd).reshape(b, h * r, s, dd)\n"
             "def attn(q, k, v):\n"
             "    k = repeat_kv(k, hq // hkv); v = repeat_kv(v, hq // hkv)\n"
             "    s = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(d) + mask\n"
             "    p = torch.softmax(s.float(), dim=-1).type_as(q)\n"
             "    return torch.matmul(p, v)\n"
             "with torch.no_grad():\n"
             "    attn(q, k, v)\n"
             "    ts = []\n"
             "    for _ in range(%d):\n"
             "        t0 = time.perf_counter(); attn(q, k, v); ts.append(time.perf_counter() - t0)\n"
             "print(statistics.median(ts))\n"
             "' 2>/dev/null",
             threads, (long long)n, HQ, HKV, HD, rounds);
    FILE *f = popen(cmd, "r");
    if (!f) return NAN;
    double s = NAN;
    if (fscanf(f, "%lf", &s) != 1) s = NAN;
    if (pclose(f) != 0) s = NAN;
    return s;
}

static void usage(void) {
    fprintf(stderr,
            "usage: rope bench attention [--json] [--rounds N] [--no-torch] [--quick]\n"
            "  decode: 1 token over 4096 and 32768 cached positions (32 q / 8 kv heads, d 128),\n"
            "          f32, f16 and q8 cache, 1 and 2 threads, vs a plain read of the same bytes;\n"
            "          and at 4096 f32 and q8 caches that rotate keys when read (ROPE_KV_UNROTATED)\n"
            "  prefill: 2048 tokens causal, GFLOP/s with 1 and 2 threads, vs PyTorch eager\n"
            "  --quick: decode 4096 only, prefill 512 tokens, no torch\n");
}

int bench_attention_run(int argc, char **argv) {
    int json = 0, rounds = 9, torch = 1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            int64_t v = 0; /* strict: atoi wrapped "4294967297" to 1 */
            rounds = cli_parse_i64(argv[++i], &v) || v < 1 || v > 1000 ? 0 : (int)v;
            if (rounds < 1 || rounds > 1000) {
                usage();
                return 2;
            }
        } else {
            usage();
            return !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ? 0 : 2;
        }
    }
    if (quick) torch = 0;
    const int64_t ctxs[2] = {4096, 32768};
    const rope_dtype dts[3] = {ROPE_F32, ROPE_F16, ROPE_Q8};
    decode_row dec[8];
    int n_dec = 0;
    /* every dtype at both lengths, then the rotate-on-read cost at 4096 (f32, q8) */
    for (int ci = 0; ci < (quick ? 1 : 2) + 1; ci++)
        for (int di = 0; di < 3; di++) {
            const int unrot = ci == (quick ? 1 : 2);
            if (unrot && dts[di] == ROPE_F16) continue;
            const int64_t ctx = unrot ? ctxs[0] : ctxs[ci];
            if (!json)
                fprintf(stderr, "  decode %lld %s%s ...\n", (long long)ctx, dt_name(dts[di]),
                        unrot ? " (rotate on read)" : "");
            rope_status st = bench_decode(ctx, dts[di], unrot, rounds, &dec[n_dec]);
            if (st != ROPE_OK) {
                fprintf(stderr, "rope bench attention: decode: %s\n", rope_strerror(st));
                return 1;
            }
            n_dec++;
        }
    const int64_t np = quick ? 512 : 2048;
    const int prounds = quick ? 3 : (rounds < 5 ? rounds : 5);
    prefill_row pre[2];
    for (int ti = 0; ti < 2; ti++) {
        if (!json) fprintf(stderr, "  prefill %lld, %d thread(s) ...\n", (long long)np, ti + 1);
        rope_status st = bench_prefill(np, ti + 1, prounds, &pre[ti]);
        if (st != ROPE_OK) {
            fprintf(stderr, "rope bench attention: prefill: %s\n", rope_strerror(st));
            return 1;
        }
        if (torch) {
            if (!json) fprintf(stderr, "  torch prefill %lld, %d thread(s) ...\n", (long long)np, ti + 1);
            pre[ti].torch_s = torch_prefill(np, ti + 1, 3);
        }
    }

    if (json) {
        printf("{\"isa\": \"%s\", \"decode\": [", rope_isa_name());
        for (int i = 0, first = 1; i < n_dec; i++)
            for (int k = 0; k < NT; k++, first = 0)
                printf("%s{\"ctx\": %lld, \"dtype\": \"%s\", \"keys\": \"%s\", \"threads\": %d, \"attention_us\": %.1f, "
                       "\"read_us\": %.1f, \"bytes\": %.0f, \"attention_gbs\": %.2f, \"read_gbs\": %.2f, "
                       "\"ratio\": %.3f, \"attention_cpu_us\": %.1f, \"read_cpu_us\": %.1f, "
                       "\"ratio_cpu\": %.3f, \"speedup_vs_1_thread\": %.3f}",
                       first ? "" : ", ", (long long)dec[i].ctx, dt_name(dec[i].dt),
                       dec[i].unrot ? "rotate_on_read" : "rotated", k + 1,
                       dec[i].attn_s[k] * 1e6, dec[i].read_s * 1e6, dec[i].bytes,
                       dec[i].bytes / dec[i].attn_s[k] * 1e-9, dec[i].bytes / dec[i].read_s * 1e-9,
                       dec[i].read_s / dec[i].attn_s[k], dec[i].attn_cpu_s[k] * 1e6,
                       dec[i].read_cpu_s * 1e6, dec[i].read_cpu_s / dec[i].attn_cpu_s[k],
                       dec[i].attn_s[0] / dec[i].attn_s[k]);
        printf("], \"prefill\": [");
        for (int i = 0; i < 2; i++) {
            printf("%s{\"tokens\": %lld, \"threads\": %d, \"ms\": %.2f, \"gflops\": %.2f", i ? ", " : "",
                   (long long)np, pre[i].threads, pre[i].s * 1e3, pre[i].gflops);
            if (isnan(pre[i].torch_s)) printf(", \"torch_ms\": null, \"speedup_vs_torch\": null}");
            else
                printf(", \"torch_ms\": %.2f, \"speedup_vs_torch\": %.3f}", pre[i].torch_s * 1e3,
                       pre[i].torch_s / pre[i].s);
        }
        printf("], \"rounds\": %d}\n", rounds);
        return 0;
    }
    printf("attention benchmark (kernels: %s; Llama-3-8B heads: %d q, %d kv, head_dim %d)\n\n",
           rope_isa_name(), HQ, HKV, HD);
    printf("decode, 1 token, median of %d interleaved rounds (read, 1 thread, 2 threads)\n", rounds);
    printf("  %-7s %-5s %3s %8s %12s %10s %10s %10s %7s %10s %8s\n", "ctx", "cache", "thr", "MB",
           "attention us", "read us", "attn GB/s", "read GB/s", "ratio", "ratio cpu", "speedup");
    for (int i = 0; i < n_dec; i++)
        for (int k = 0; k < NT; k++) {
            char rc[16] = "-";
            if (k == 0) snprintf(rc, sizeof rc, "%.3f", dec[i].read_cpu_s / dec[i].attn_cpu_s[0]);
            char name[16];
            snprintf(name, sizeof name, "%s%s", dt_name(dec[i].dt), dec[i].unrot ? "/u" : "");
            printf("  %-7lld %-5s %3d %8.1f %12.1f %10.1f %10.2f %10.2f %7.3f %10s %8.2f\n",
                   (long long)dec[i].ctx, name, k + 1, dec[i].bytes / 1e6,
                   dec[i].attn_s[k] * 1e6, dec[i].read_s * 1e6, dec[i].bytes / dec[i].attn_s[k] * 1e-9,
                   dec[i].bytes / dec[i].read_s * 1e-9, dec[i].read_s / dec[i].attn_s[k],
                   rc, dec[i].attn_s[0] / dec[i].attn_s[k]);
        }
    printf("  (ratio = time of a plain 1-thread read of the same bytes / attention time, wall clock;\n"
           "   ratio cpu: the same in thread CPU time (1 thread only), robust when others share the\n"
           "   cores; target >= 0.8 on 1 thread; speedup = 1-thread time / this time, target > 1;\n"
           "   q8 bytes include the float32 scales: 1.125 bytes per element; /u: ROPE_KV_UNROTATED,\n"
           "   keys stored un-rotated and rotated as attention reads them)\n\n");
    printf("prefill, %lld tokens causal, f32 cache, median of %d\n", (long long)np, prounds);
    printf("  %-8s %10s %10s %12s %10s\n", "threads", "ms", "GFLOP/s", "torch ms", "speedup");
    for (int i = 0; i < 2; i++) {
        printf("  %-8d %10.2f %10.2f", pre[i].threads, pre[i].s * 1e3, pre[i].gflops);
        if (isnan(pre[i].torch_s)) printf(" %12s %10s\n", "-", "-");
        else printf(" %12.2f %10.2f\n", pre[i].torch_s * 1e3, pre[i].torch_s / pre[i].s);
    }
    printf("  (GFLOP/s counts causal work only: 4*d per visible query/key pair per q head;\n"
           "   speedup = PyTorch eager attention time / librope time, same threads; target >= 2)\n");
    return 0;
}
