/*
 * rope bench: librope against the memory-copy limit and the PyTorch peers.
 *
 * RoPE with a table reads x and writes x', so its physical limit is a copy of
 * the same bytes. For every shape × dtype × convention × thread count this
 * harness times, in one process and interleaved round by round (the order
 * alternates each round), rope_apply_qk (out of place) and memcpy of the same
 * bytes (in -> out, split over the same pool with the same rule as apply.c),
 * every thread count in the same rounds; it reports the median of the
 * rounds, GB/s (bytes read + written), copy time / librope time (1.0 = at
 * the limit) and 1-thread time / n-thread time. Table building
 * (131072 positions × 64 frequencies, accurate mode) is timed through
 * rope_table_create (and rope_table_create_pool with 2 threads), through
 * rope_cos_sin and the kernel's direct sincos into preallocated rows, and with
 * the scalar kernels for comparison.
 *
 * --peers runs bench/peers.py (PyTorch eager: HF q*cos + rotate_half(q)*sin,
 * Meta's complex multiply, torch.clone of the same bytes, torch.polar table
 * building) with /usr/bin/python3 and prints peer time / librope time per row.
 * The peers run in their own process (their own interleaved rounds), so those
 * ratios compare medians across two processes.
 *
 * --peers also runs bench/peer_ggml.py (interpreter: --ggml-python, default
 * the --python one): ggml's CPU RoPE (ggml_rope_ext, llama.cpp's kernel) and
 * librope timed in one process, interleaved, outputs checked against float64;
 * ggml/rope per row. ggml comes from llama-cpp-python (PyPI), outside the
 * project: when that interpreter lacks it the peer is skipped with a note.
 *
 * For f16/bf16 it also times the conversion floor (floor_us, floor/rope): a
 * convert-only kernel that loads 16-bit, widens to f32, narrows back and
 * stores the same bytes on the same threads; a 16-bit RoPE kernel cannot do
 * less per element.
 *
 * This is a harness, not a test: it asserts nothing about speed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "commands.h"
#include "kernels/kernel.h"
#include "pool.h"
#include "rope.h"

/* bench/bench_attention.c (issue 4) provides `rope bench attention`; weak so
 * this file links without it. */
extern int bench_attention_run(int argc, char **argv) __attribute__((weak));
/* llama/bench_model.c provides `rope bench model` when the runner is built. */
extern int bench_model_run(int argc, char **argv) __attribute__((weak));


#define TABLE_ROWS 131072
#define TABLE_FREQS 64

/* ------------------------------------------------------------- timing */

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef void (*bench_fn)(void *ctx);

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Calls per sample so that one sample lasts at least target_ns. */
static int64_t calibrate(bench_fn fn, void *ctx, double target_ns) {
    fn(ctx); /* warm-up: caches, pages, pool threads */
    int64_t iters = 1;
    for (;;) {
        double t0 = now_ns();
        for (int64_t i = 0; i < iters; i++) fn(ctx);
        double dt = now_ns() - t0;
        if (dt >= target_ns || iters >= ((int64_t)1 << 24)) break;
        int64_t next = dt > 0 ? (int64_t)(iters * target_ns / dt * 1.2) + 1 : iters * 16;
        if (next > iters * 16) next = iters * 16;
        iters = next;
    }
    return iters;
}

/* n contenders, `rounds` rounds; each round runs one sample of each, in an
 * order that alternates between rounds. Writes the median ns per call. */
static void measure(bench_fn *fns, void **ctxs, int n, int rounds, double target_ns,
                    double *median_ns) {
    int64_t iters[24];
    double samples[24][64];
    if (rounds > 64) rounds = 64;
    for (int c = 0; c < n; c++) iters[c] = calibrate(fns[c], ctxs[c], target_ns);
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < n; j++) {
            int c = r % 2 ? n - 1 - j : j;
            double t0 = now_ns();
            for (int64_t i = 0; i < iters[c]; i++) fns[c](ctxs[c]);
            samples[c][r] = (now_ns() - t0) / (double)iters[c];
        }
    for (int c = 0; c < n; c++) median_ns[c] = median(samples[c], rounds);
}

/* ------------------------------------------------------------- shapes */

typedef struct shape {
    const char *name;
    int64_t batch, seq, hq, hk, D;
    int per_row_positions; /* decode batch: every row at its own position */
} shape;

static const shape SHAPES[] = {
    {"decode", 1, 1, 32, 8, 128, 0},        /* one token: q 32×128 + k 8×128 */
    {"decode-b32", 32, 1, 32, 8, 128, 1},   /* 32 sequences, 32 different positions */
    {"prefill-512", 1, 512, 32, 32, 128, 0},   /* Llama-2-7B: 32 q + 32 kv heads × 128 */
    {"prefill-4096", 1, 4096, 32, 32, 128, 0},
};
enum { N_SHAPES = sizeof SHAPES / sizeof SHAPES[0] };

static const char *const DT_NAMES[] = {"f32", "f16", "bf16"};
static const rope_dtype DTYPES[] = {ROPE_F32, ROPE_F16, ROPE_BF16};
/* deinterleave (DeepSeek-V3 rope_interleave) is opt-in: it has no peer row */
static const char *const STYLE_NAMES[] = {"interleaved", "half", "deinterleave"};
static const rope_style STYLES[] = {ROPE_STYLE_INTERLEAVED, ROPE_STYLE_HALF, ROPE_STYLE_DEINTERLEAVE};

/* One shape in one dtype: buffers and views. */
typedef struct setup {
    const shape *sh;
    rope_dtype dt;
    size_t es;
    void *q_in, *q_out, *k_in, *k_out;
    size_t q_bytes, k_bytes;
    rope_tensor tq_in, tq_out, tk_in, tk_out;
    int64_t *ids;
    rope_positions pos;
} setup;

static void *alloc_filled(size_t bytes, rope_dtype dt, uint64_t seed) {
    size_t rounded = (bytes + 63) / 64 * 64;
    unsigned char *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) return NULL;
    size_t es = rope_dtype_size(dt), n = bytes / es;
    for (size_t i = 0; i < n; i++) { /* values in [-1, 1): realistic activations */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((double)(seed >> 11) * 0x1p-52 - 1.0);
        if (dt == ROPE_F32) memcpy(p + 4 * i, &v, 4);
        else {
            uint16_t h = dt == ROPE_F16 ? rope_f32_to_f16(v) : rope_f32_to_bf16(v);
            memcpy(p + 2 * i, &h, 2);
        }
    }
    return p;
}

static void setup_free(setup *s) {
    free(s->q_in);
    free(s->q_out);
    free(s->k_in);
    free(s->k_out);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

static int setup_init(setup *s, const shape *sh, rope_dtype dt) {
    memset(s, 0, sizeof *s);
    s->sh = sh;
    s->dt = dt;
    s->es = rope_dtype_size(dt);
    int64_t tokens = sh->batch * sh->seq;
    s->q_bytes = (size_t)(tokens * sh->hq * sh->D) * s->es;
    s->k_bytes = (size_t)(tokens * sh->hk * sh->D) * s->es;
    s->q_in = alloc_filled(s->q_bytes, dt, 1);
    s->q_out = alloc_filled(s->q_bytes, dt, 2);
    s->k_in = alloc_filled(s->k_bytes, dt, 3);
    s->k_out = alloc_filled(s->k_bytes, dt, 4);
    s->ids = malloc((size_t)sh->batch * sizeof *s->ids);
    if (!s->q_in || !s->q_out || !s->k_in || !s->k_out || !s->ids) {
        setup_free(s);
        return 0;
    }
    rope_tensor_contiguous(&s->tq_in, s->q_in, dt, sh->batch, sh->seq, sh->hq, sh->D);
    rope_tensor_contiguous(&s->tq_out, s->q_out, dt, sh->batch, sh->seq, sh->hq, sh->D);
    rope_tensor_contiguous(&s->tk_in, s->k_in, dt, sh->batch, sh->seq, sh->hk, sh->D);
    rope_tensor_contiguous(&s->tk_out, s->k_out, dt, sh->batch, sh->seq, sh->hk, sh->D);
    memset(&s->pos, 0, sizeof s->pos);
    if (sh->per_row_positions) {
        for (int64_t b = 0; b < sh->batch; b++) s->ids[b] = 17 + 123 * b;
        s->pos.ids = s->ids;
        s->pos.ids_batch_stride = 1;
    } else {
        s->pos.offset = sh->seq == 1 ? 4000 : 0;
    }
    return 1;
}

/* ----------------------------------------------------------- contenders */

typedef struct rope_ctx {
    setup *s;
    rope_apply_params p;
    rope_status status;
} rope_ctx;

static void run_rope(void *vctx) {
    rope_ctx *c = vctx;
    setup *s = c->s;
    rope_status st = rope_apply_qk(&c->p, &s->pos, &s->tq_in, &s->tq_out,
                                   s->sh->hk ? &s->tk_in : NULL, s->sh->hk ? &s->tk_out : NULL);
    if (st != ROPE_OK) c->status = st;
}

typedef struct copy_ctx {
    setup *s;
    rope_pool *pool;
    int64_t tokens, min_tokens;
} copy_ctx;

static void copy_range(void *vctx, int64_t begin, int64_t end) {
    copy_ctx *c = vctx;
    const setup *s = c->s;
    size_t qt = s->q_bytes / (size_t)c->tokens, kt = s->k_bytes / (size_t)c->tokens;
    memcpy((char *)s->q_out + (size_t)begin * qt, (const char *)s->q_in + (size_t)begin * qt,
           (size_t)(end - begin) * qt);
    if (kt)
        memcpy((char *)s->k_out + (size_t)begin * kt, (const char *)s->k_in + (size_t)begin * kt,
               (size_t)(end - begin) * kt);
}

static void run_copy(void *vctx) {
    copy_ctx *c = vctx;
    if (!c->pool || c->tokens < 2 * c->min_tokens) copy_range(c, 0, c->tokens);
    else rope_parallel_for(c->pool, c->tokens, c->min_tokens, copy_range, c);
}

/* The conversion floor of the 16-bit dtypes: load 16-bit, widen to f32,
 * narrow back (round to nearest even) and store: the same bytes, split over
 * the same threads by the same rule as the copy, with the widest conversions
 * this CPU has (AVX-512: vcvtph2ps/vcvtps2ph, bf16 by shift and vcvtneps2bf16;
 * AVX2+F16C for f16), else the library's scalar conversions. A 16-bit RoPE
 * kernel does at least this much work per element, so floor/rope says how
 * close to it the kernel is (1.00 = only the conversions cost). */
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512bf16,avx512vl"))) static void
convert_avx512(const uint16_t *in, uint16_t *out, size_t n, int bf16) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = _mm256_loadu_si256((const __m256i *)(in + i));
        if (bf16) {
            const __m512 v = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
            _mm256_storeu_si256((__m256i *)(out + i), (__m256i)_mm512_cvtneps_pbh(v));
        } else {
            const __m512 v = _mm512_cvtph_ps(h);
            _mm256_storeu_si256((__m256i *)(out + i),
                                _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
    }
    for (; i < n; i++)
        out[i] = bf16 ? rope_f32_to_bf16(rope_bf16_to_f32(in[i]))
                      : rope_f32_to_f16(rope_f16_to_f32(in[i]));
}

__attribute__((target("avx2,f16c"))) static void convert_f16c(const uint16_t *in, uint16_t *out,
                                                              size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i)));
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) out[i] = rope_f32_to_f16(rope_f16_to_f32(in[i]));
}
#endif

#if defined(__x86_64__)
/* F16C from cpuid leaf 1 (ECX bit 29): clang 14 rejects __builtin_cpu_supports("f16c") */
static int have_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

/* 0 scalar, 1 AVX2+F16C (f16 only), 2 AVX-512 (+BF16) */
static int convert_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2") && have_f16c()) return 1;
#endif
    return 0;
}

static void convert16(const void *vin, void *vout, size_t n, int bf16) {
    const uint16_t *in = vin;
    uint16_t *out = vout;
    static int level = -1;
    if (level < 0) level = convert_level();
#if defined(__x86_64__)
    if (level == 2) {
        convert_avx512(in, out, n, bf16);
        return;
    }
    if (level == 1 && !bf16) {
        convert_f16c(in, out, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = bf16 ? rope_f32_to_bf16(rope_bf16_to_f32(in[i]))
                      : rope_f32_to_f16(rope_f16_to_f32(in[i]));
}

static void floor_range(void *vctx, int64_t begin, int64_t end) {
    copy_ctx *c = vctx;
    const setup *s = c->s;
    const int bf16 = s->dt == ROPE_BF16;
    size_t qt = s->q_bytes / (size_t)c->tokens, kt = s->k_bytes / (size_t)c->tokens;
    convert16((const char *)s->q_in + (size_t)begin * qt, (char *)s->q_out + (size_t)begin * qt,
              (size_t)(end - begin) * qt / 2, bf16);
    if (kt)
        convert16((const char *)s->k_in + (size_t)begin * kt, (char *)s->k_out + (size_t)begin * kt,
                  (size_t)(end - begin) * kt / 2, bf16);
}

static void run_floor(void *vctx) {
    copy_ctx *c = vctx;
    if (!c->pool || c->tokens < 2 * c->min_tokens) floor_range(c, 0, c->tokens);
    else rope_parallel_for(c->pool, c->tokens, c->min_tokens, floor_range, c);
}

typedef struct table_ctx {
    const rope_freqs *f;
    float *cos, *sin;
    rope_status status;
    rope_pool *pool2; /* 2 threads, for rope_table_create_pool */
} table_ctx;

static void run_table_create(void *vctx) {
    table_ctx *c = vctx;
    rope_table *t = NULL;
    rope_status st = rope_table_create(c->f, TABLE_ROWS, ROPE_PRECISION_ACCURATE, &t);
    if (st != ROPE_OK) c->status = st;
    rope_table_free(t);
}

static void run_table_create2(void *vctx) {
    table_ctx *c = vctx;
    rope_table *t = NULL;
    rope_status st = rope_table_create_pool(c->f, TABLE_ROWS, ROPE_PRECISION_ACCURATE, c->pool2, &t);
    if (st != ROPE_OK) c->status = st;
    rope_table_free(t);
}

/* rope_cos_sin over consecutive positions into preallocated rows: the table
 * build without the allocation and its page faults (the addition shortcut). */
static void run_cos_sin(void *vctx) {
    table_ctx *c = vctx;
    rope_status st = rope_cos_sin(c->f, NULL, 0, TABLE_ROWS, ROPE_PRECISION_ACCURATE, c->cos, c->sin);
    if (st != ROPE_OK) c->status = st;
}

static void run_kernel_sincos(void *vctx) {
    table_ctx *c = vctx;
    const rope_kernels *k = rope_kernels_get();
    for (int64_t r = 0; r < TABLE_ROWS; r++)
        k->sincos(c->f->inv_freq, c->f->n_freqs, (double)r, c->cos + r * c->f->n_freqs,
                  c->sin + r * c->f->n_freqs);
}

/* -------------------------------------------------------------- results */

typedef struct result {
    int shape, dt, style, threads;
    double bytes; /* read + written */
    double rope_ns, copy_ns;
    double floor_ns; /* 16-bit: the conversion floor (convert-only); 0 for f32 */
    double peer_ns; /* HF (half) or Meta (interleaved) at the same dtype and threads; 0 = none */
    double peer_copy_ns; /* torch.clone of the same bytes */
    double peer_rope_ns; /* librope timed inside peers.py (ctypes, same rounds); 0 = none */
    double one_thread_ns; /* librope with 1 thread in the same interleaved rounds; 0 = not run */
    double one_thread_copy_ns; /* memcpy with 1 thread, same rounds: what more threads can gain */
    double ggml_ns;      /* ggml's rope in peer_ggml.py; 0 = none */
    double ggml_rope_ns; /* librope in peer_ggml.py's rounds (the ratio's denominator) */
    double ggml_err;     /* ggml's max |error| against float64 */
    int ggml_na;         /* 1: ggml has no such kernel (e.g. bf16); 2: its output was wrong */
} result;

typedef struct table_result {
    double create_ns, sincos_ns, scalar_ns, polar1_ns, polar2_ns, polar_out1_ns, polar_out2_ns;
    double create2_ns;     /* rope_table_create_pool, 2 threads */
    double cos_sin_ns;     /* rope_cos_sin into preallocated rows, 1 thread */
    double lib_create1_ns; /* rope_table_create timed inside peers.py, 1 thread round */
    double lib_create2_ns; /* rope_table_create_pool (2 threads) inside peers.py, 2 thread round */
} table_result;

/* ------------------------------------------------------------------ peers */

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

/* bench/<name> (peers.py, peer_ggml.py): `given`, else ./bench/<name>, else
 * next to the binary's parent (build-x/rope -> bench/<name> beside build-x). */
static int find_peers_script(char *out, size_t n, const char *given, const char *name) {
    if (given) {
        snprintf(out, n, "%s", given);
        return file_exists(out);
    }
    snprintf(out, n, "bench/%s", name);
    if (file_exists(out)) return 1;
    char exe[2048];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
            snprintf(out, n, "%s/bench/%s", exe, name);
            if (file_exists(out)) return 1;
        }
    }
    return 0;
}

/* The shared librope built with this binary: <dir of rope>/src/librope.so. */
static int find_lib(char *out, size_t n, const char *given) {
    if (given) {
        snprintf(out, n, "%s", given);
        return file_exists(out);
    }
    char exe[2048];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return 0;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = 0;
    snprintf(out, n, "%s/src/librope.so", exe);
    return file_exists(out);
}

static char *read_all(FILE *f) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    buf[len] = 0;
    return buf;
}

/* Runs cmd and parses what it prints as one JSON document; NULL with why set
 * when it cannot be run or prints no JSON. */
static cJSON *popen_json(const char *cmd, const char *what, char *why, size_t why_len) {
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(why, why_len, "cannot run %s: %s", what, strerror(errno));
        return NULL;
    }
    char *text = read_all(f);
    int rc = pclose(f);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!doc) snprintf(why, why_len, "%s printed no JSON (exit status %d)", what, rc);
    return doc;
}

static double json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "--threads 1,2 --shapes a,b --dtypes f32,f16": the selection, for a peer script. */
static void peer_selection(char *out, size_t n, const int *threads, int n_threads,
                           const int *shape_on, const int *dt_on) {
    char list[64] = "", shapes[256] = "", dts[64] = "";
    for (int i = 0; i < n_threads; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", threads[i]);
    for (int i = 0; i < N_SHAPES; i++)
        if (shape_on[i])
            snprintf(shapes + strlen(shapes), sizeof shapes - strlen(shapes), "%s%s",
                     shapes[0] ? "," : "", SHAPES[i].name);
    for (int i = 0; i < 3; i++)
        if (dt_on[i])
            snprintf(dts + strlen(dts), sizeof dts - strlen(dts), "%s%s", dts[0] ? "," : "",
                     DT_NAMES[i]);
    snprintf(out, n, "--threads %s --shapes %s --dtypes %s", list, shapes, dts);
}

/* Runs the peers and fills peer_ns / table polar times. Returns the parsed
 * document (caller frees) or NULL with a reason printed. */
static cJSON *run_peers(const char *python, const char *script, const char *lib, int quick,
                        const int *threads,
                        int n_threads, const int *shape_on, const int *dt_on, result *res,
                        int n_res, table_result *tab) {
    char cmd[16384], sel[512];
    peer_selection(sel, sizeof sel, threads, n_threads, shape_on, dt_on);
    snprintf(cmd, sizeof cmd, "'%s' '%s' --json %s%s%s%s%s", python, script, sel,
             quick ? " --quick" : "", lib ? " --lib '" : "", lib ? lib : "", lib ? "'" : "");
    fprintf(stderr, "rope bench: running peers: %s\n", cmd);
    char why[512];
    cJSON *doc = popen_json(cmd, "peers.py", why, sizeof why);
    if (!doc) {
        fprintf(stderr, "rope bench: %s\n", why);
        return NULL;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    if (cJSON_IsString(err)) {
        fprintf(stderr, "rope bench: peers unavailable: %s\n", err->valuestring);
        return doc;
    }
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(doc, "apply"), *row;
    cJSON_ArrayForEach(row, rows) {
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(row, "shape");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(row, "dtype");
        int th = (int)json_num(row, "threads");
        if (!cJSON_IsString(sh) || !cJSON_IsString(dt)) continue;
        for (int i = 0; i < n_res; i++) {
            result *r = &res[i];
            if (r->style == 2) continue; /* no PyTorch counterpart timed by peers.py */
            if (strcmp(SHAPES[r->shape].name, sh->valuestring) ||
                strcmp(DT_NAMES[r->dt], dt->valuestring) || r->threads != th)
                continue;
            r->peer_ns = 1e3 * json_num(row, r->style == 0 ? "meta_us" : "hf_us");
            r->peer_copy_ns = 1e3 * json_num(row, "clone_us");
            r->peer_rope_ns =
                1e3 * json_num(row, r->style == 0 ? "librope_interleaved_us" : "librope_half_us");
        }
    }
    const cJSON *tabs = cJSON_GetObjectItemCaseSensitive(doc, "table");
    cJSON_ArrayForEach(row, tabs) {
        int th = (int)json_num(row, "threads");
        if (th == 1) {
            tab->lib_create1_ns = 1e3 * json_num(row, "librope_table_create_us");
            tab->polar1_ns = 1e3 * json_num(row, "polar_us");
            tab->polar_out1_ns = 1e3 * json_num(row, "polar_out_us");
        }
        if (th == 2) {
            tab->lib_create2_ns = 1e3 * json_num(row, "librope_table_create_us");
            tab->polar2_ns = 1e3 * json_num(row, "polar_us");
            tab->polar_out2_ns = 1e3 * json_num(row, "polar_out_us");
        }
    }
    return doc;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope bench [options]\n"
            "       rope bench attention [options]   (attention benchmark, issue 4)\n"
            "       rope bench model [options]       (rope generate beside llama.cpp)\n\n"
            "Times rope_apply_qk against a memcpy of the same bytes and, for f16/bf16, a\n"
            "convert-only kernel (interleaved rounds,\n"
            "medians), and cos/sin table building (131072 positions x 64 frequencies, 1 and\n"
            "2 threads).\n\n"
            "  --quick            short run (fewer rounds, shorter samples)\n"
            "  --json             print one JSON document instead of the table\n"
            "  --peers            also run bench/peers.py (PyTorch) and bench/peer_ggml.py\n"
            "                     (ggml, see --ggml-python) and print ratios\n"
            "  --threads LIST     thread counts, default 1,2 (timed in the same rounds)\n"
            "  --shapes LIST      decode,decode-b32,prefill-512,prefill-4096 (default all)\n"
            "  --dtypes LIST      f32,f16,bf16 (default all)\n"
            "  --styles LIST      interleaved,half,deinterleave (default interleaved,half;\n"
            "                     deinterleave: DeepSeek-V3's layout, no peer)\n"
            "  --rounds N         rounds per measurement (default 11, quick 5)\n"
            "  --no-table         skip table building\n"
            "  --isa NAME         force a kernel set (scalar, avx2, avx512, neon)\n"
            "  --python PATH      interpreter for the peers (default /usr/bin/python3)\n"
            "  --peers-script P   path of peers.py (default: found beside the build dir)\n"
            "  --lib PATH         librope.so that peers.py times in its own rounds (ctypes);\n"
            "                     default <dir of this binary>/src/librope.so\n"
            "  --ggml-python PATH interpreter with llama-cpp-python (PyPI), whose ggml\n"
            "                     libraries bench/peer_ggml.py loads to time ggml's CPU RoPE\n"
            "                     beside librope in one process (--peers; default: the\n"
            "                     --python one); without it the ggml column is skipped\n"
            "                     with a note. ggml has no bf16 RoPE: those rows say n/a\n"
            "  --ggml-script P    path of peer_ggml.py (default: found beside the build dir)\n");
}

/* Parse a comma list of names into flags; 0 on an unknown name. */
static int parse_names(const char *arg, const char *const *names, int n, int *on) {
    for (int i = 0; i < n; i++) on[i] = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int found = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(tok, names[i])) on[i] = found = 1;
        if (!found) {
            fprintf(stderr, "rope bench: unknown name '%s'\n", tok);
            return 0;
        }
    }
    return 1;
}

/* "model name" of /proc/cpuinfo and the online CPU count, for the record. */
/* The value of a "key : value" line of /proc/cpuinfo, or 0. */
static int cpuinfo_field(const char *line, const char *key, char *out, size_t n) {
    size_t k = strlen(key);
    if (strncmp(line, key, k) || (line[k] != ' ' && line[k] != '\t' && line[k] != ':')) return 0;
    const char *c = strchr(line, ':');
    if (!c) return 0;
    snprintf(out, n, "%s", c[1] == ' ' ? c + 2 : c + 1);
    out[strcspn(out, "\n")] = 0;
    return 1;
}

/* Model name, and the family/model numbers (names like "AMD EPYC" hide which
 * core it is: family 25 is Zen 3/4, whose 512-bit operations are split in two
 * 256-bit halves, family 26 Zen 5), and the CPU count. */
static void machine(char *out, size_t n) {
    char model[256] = "unknown CPU", fam[32] = "", num[32] = "", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f) && !(model[0] != 'u' && fam[0] && num[0])) {
            if (cpuinfo_field(line, "model name", model, sizeof model)) continue;
            if (cpuinfo_field(line, "cpu family", fam, sizeof fam)) continue;
            cpuinfo_field(line, "model", num, sizeof num);
        }
        fclose(f);
    }
    if (fam[0] && num[0])
        snprintf(out, n, "%s (family %s, model %s), %ld CPUs", model, fam, num,
                 sysconf(_SC_NPROCESSORS_ONLN));
    else
        snprintf(out, n, "%s, %ld CPUs", model, sysconf(_SC_NPROCESSORS_ONLN));
}

/* The ggml columns of one row: time and ggml / librope, or why there is none. */
static void print_ggml_cell(const result *r) {
    if (r->ggml_ns > 0) printf(" %10.3f %9.2f", r->ggml_ns / 1e3, r->ggml_ns / r->ggml_rope_ns);
    else if (r->ggml_na == 1) printf(" %10s %9s", "n/a", "n/a");
    else if (r->ggml_na == 2) printf(" %10s %9s", "wrong", "-");
    else printf(" %10s %9s", "-", "-");
}

/* What the ggml column is, or why there is none. */
static void print_ggml_header(const cJSON *doc, const char *note) {
    if (!doc) {
        if (note) printf("ggml peer skipped: %s\n\n", note);
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "ggml_version");
    printf("ggml/rope = ggml %s's CPU RoPE (ggml_rope_ext, graph compute) time / librope time,"
           " both in\npeer_ggml.py's process and rounds, outputs checked against float64; each"
           " call from Python\ncosts ~%.1f us on both sides (in the times); n/a: ggml has no"
           " kernel for the dtype.\n\n",
           cJSON_IsString(v) ? v->valuestring : "?", json_num(doc, "call_overhead_us"));
}

static void print_table(const result *res, int n_res, const table_result *tab, int have_peers,
                        int table_on, const cJSON *ggml, const char *ggml_note) {
    int have_ggml = ggml != NULL;
    char m[400];
    machine(m, sizeof m);
    printf("%s\n", m);
    printf("librope %d.%d.%d, kernels %s. Median of interleaved rounds; GB/s = bytes read +"
           " written;\ncopy/rope = memcpy time of the same bytes / librope time (1.00 = at the"
           " copy limit);\nfloor/rope = convert-only time of the same 16-bit bytes / librope time;\n"
           "1thr/rope = librope with 1 thread / librope with this many (same rounds);\n"
           "1thr/copy = the same for memcpy (what more threads can gain on this machine)%s.\n\n",
           ROPE_VERSION_MAJOR, ROPE_VERSION_MINOR, ROPE_VERSION_PATCH, rope_isa_name(),
           have_peers ? ";\npeer/rope = PyTorch time / librope time (HF rotate_half for half, Meta"
                        " complex for interleaved),\nboth timed in peers.py's rounds (librope via"
                        " ctypes, which adds ~1-3 us per call) when librope.so was found"
                      : "");
    print_ggml_header(ggml, ggml_note);
    printf("%-13s %-5s %-12s %3s %12s %8s %12s %9s %10s %10s %9s %9s", "shape", "dtype", "style",
           "thr", "librope_us", "GB/s", "memcpy_us", "copy/rope", "floor_us", "floor/rope",
           "1thr/rope", "1thr/copy");
    if (have_peers) printf(" %12s %9s %12s", "torch_us", "peer/rope", "clone_us");
    if (have_ggml) printf(" %10s %9s", "ggml_us", "ggml/rope");
    printf("\n");
    for (int i = 0; i < n_res; i++) {
        const result *r = &res[i];
        printf("%-13s %-5s %-12s %3d %12.3f %8.1f %12.3f %9.2f", SHAPES[r->shape].name,
               DT_NAMES[r->dt], STYLE_NAMES[r->style], r->threads, r->rope_ns / 1e3,
               r->bytes / r->rope_ns, r->copy_ns / 1e3, r->copy_ns / r->rope_ns);
        if (r->floor_ns > 0) printf(" %10.3f %10.2f", r->floor_ns / 1e3, r->floor_ns / r->rope_ns);
        else printf(" %10s %10s", "-", "-");
        if (r->threads > 1 && r->one_thread_ns > 0)
            printf(" %9.2f %9.2f", r->one_thread_ns / r->rope_ns, r->one_thread_copy_ns / r->copy_ns);
        else printf(" %9s %9s", "-", "-");
        if (have_peers && r->peer_ns > 0)
            printf(" %12.3f %9.2f %12.3f", r->peer_ns / 1e3,
                   r->peer_ns / (r->peer_rope_ns > 0 ? r->peer_rope_ns : r->rope_ns),
                   r->peer_copy_ns / 1e3);
        else if (have_peers) printf(" %12s %9s %12s", "-", "-", "-");
        if (have_ggml) print_ggml_cell(r);
        printf("\n");
    }
    if (!table_on) return;
    printf("\ncos/sin table, %d positions x %d frequencies, accurate (float64 angles):\n",
           TABLE_ROWS, TABLE_FREQS);
    printf("  rope_table_create (allocates)       %10.3f ms (1 thread), %.3f ms (2 threads)\n",
           tab->create_ns / 1e6, tab->create2_ns / 1e6);
    printf("  rope_cos_sin, preallocated          %10.3f ms\n", tab->cos_sin_ns / 1e6);
    printf("  %-6s sincos kernel, preallocated  %10.3f ms\n", rope_isa_name(), tab->sincos_ns / 1e6);
    printf("  scalar sincos kernel, preallocated  %10.3f ms\n", tab->scalar_ns / 1e6);
    if (tab->polar1_ns > 0) {
        printf("  torch.polar(ones, outer(t, freqs))  %10.3f ms (1 thread)", tab->polar1_ns / 1e6);
        if (tab->polar2_ns > 0) printf(", %.3f ms (2 threads)", tab->polar2_ns / 1e6);
        printf("\n  torch.polar, preallocated (out=)    %10.3f ms (1 thread)",
               tab->polar_out1_ns / 1e6);
        if (tab->polar_out2_ns > 0) printf(", %.3f ms (2 threads)", tab->polar_out2_ns / 1e6);
        printf("\n");
        printf("  torch/librope (1 thread): allocating %.1fx, preallocated %.1fx (the direct "
               "kernel: %.1fx)\n", tab->polar1_ns / tab->create_ns,
               tab->polar_out1_ns / tab->cos_sin_ns, tab->polar_out1_ns / tab->sincos_ns);
        if (tab->polar2_ns > 0 && tab->create2_ns > 0)
            printf("  torch/librope (2 threads each): allocating %.1fx\n",
                   tab->polar2_ns / tab->create2_ns);
        if (tab->lib_create1_ns > 0)
            printf("  in peers.py's rounds: rope_table_create %.3f ms, torch.polar / it = %.1fx\n",
                   tab->lib_create1_ns / 1e6, tab->polar1_ns / tab->lib_create1_ns);
        if (tab->lib_create2_ns > 0 && tab->polar2_ns > 0)
            printf("  in peers.py's rounds, 2 threads each: rope_table_create_pool %.3f ms, "
                   "torch.polar / it = %.1fx\n",
                   tab->lib_create2_ns / 1e6, tab->polar2_ns / tab->lib_create2_ns);
    }
}

/* The ggml keys of one JSON row (none when the ggml peer did not run). */
static void print_ggml_json(const result *r) {
    if (r->ggml_ns > 0)
        printf(", \"ggml_us\": %.4f, \"ggml_over_rope\": %.4f, \"librope_in_ggml_us\": %.4f, "
               "\"ggml_max_err\": %.3g",
               r->ggml_ns / 1e3, r->ggml_ns / r->ggml_rope_ns, r->ggml_rope_ns / 1e3, r->ggml_err);
    else if (r->ggml_na == 1) printf(", \"ggml\": \"n/a\"");
    else if (r->ggml_na == 2)
        printf(", \"ggml\": \"wrong output, not timed\", \"ggml_max_err\": %.3g", r->ggml_err);
}

/* A note as a JSON string value (quotes and backslashes become '). */
static void print_json_note(const char *key, const char *note) {
    printf(",\n \"%s\": \"", key);
    for (const char *c = note; *c; c++)
        putchar(*c == '"' || *c == '\\' ? '\'' : *c < 32 ? ' ' : *c);
    printf("\"");
}

static void print_json(const result *res, int n_res, const table_result *tab, int table_on,
                       const cJSON *peers, int rounds, int quick, const cJSON *ggml,
                       const char *ggml_note) {
    char m[400];
    machine(m, sizeof m);
    for (char *c = m; *c; c++)
        if (*c == '"' || *c == '\\') *c = ' ';
    printf("{\"librope\": \"%d.%d.%d\", \"isa\": \"%s\", \"machine\": \"%s\", \"rounds\": %d, "
           "\"quick\": %s,\n",
           ROPE_VERSION_MAJOR, ROPE_VERSION_MINOR, ROPE_VERSION_PATCH, rope_isa_name(), m, rounds,
           quick ? "true" : "false");
    printf(" \"apply\": [\n");
    for (int i = 0; i < n_res; i++) {
        const result *r = &res[i];
        printf("  {\"shape\": \"%s\", \"dtype\": \"%s\", \"style\": \"%s\", \"threads\": %d, "
               "\"bytes\": %.0f, \"librope_us\": %.4f, \"memcpy_us\": %.4f, \"gbps\": %.3f, "
               "\"copy_over_rope\": %.4f",
               SHAPES[r->shape].name, DT_NAMES[r->dt], STYLE_NAMES[r->style], r->threads,
               r->bytes, r->rope_ns / 1e3, r->copy_ns / 1e3, r->bytes / r->rope_ns,
               r->copy_ns / r->rope_ns);
        if (r->floor_ns > 0)
            printf(", \"floor_us\": %.4f, \"floor_over_rope\": %.4f", r->floor_ns / 1e3,
                   r->floor_ns / r->rope_ns);
        if (r->threads > 1 && r->one_thread_ns > 0)
            printf(", \"speedup_over_1thread\": %.4f, \"copy_speedup_over_1thread\": %.4f",
                   r->one_thread_ns / r->rope_ns, r->one_thread_copy_ns / r->copy_ns);
        if (r->peer_ns > 0)
            printf(", \"torch_us\": %.4f, \"peer_over_rope\": %.4f, \"clone_us\": %.4f, "
                   "\"librope_in_peers_us\": %.4f",
                   r->peer_ns / 1e3,
                   r->peer_ns / (r->peer_rope_ns > 0 ? r->peer_rope_ns : r->rope_ns),
                   r->peer_copy_ns / 1e3, r->peer_rope_ns / 1e3);
        print_ggml_json(r);
        printf("}%s\n", i + 1 < n_res ? "," : "");
    }
    printf(" ]");
    if (table_on) {
        printf(",\n \"table\": {\"rows\": %d, \"freqs\": %d, \"table_create_ms\": %.4f, "
               "\"table_create_2threads_ms\": %.4f, \"cos_sin_prealloc_ms\": %.4f, "
               "\"sincos_kernel_ms\": %.4f, \"scalar_sincos_ms\": %.4f",
               TABLE_ROWS, TABLE_FREQS, tab->create_ns / 1e6, tab->create2_ns / 1e6,
               tab->cos_sin_ns / 1e6, tab->sincos_ns / 1e6, tab->scalar_ns / 1e6);
        if (tab->polar1_ns > 0)
            printf(", \"torch_polar_1thread_ms\": %.4f, \"torch_polar_2threads_ms\": %.4f, "
                   "\"torch_polar_out_1thread_ms\": %.4f, \"torch_polar_out_2threads_ms\": %.4f, "
                   "\"polar_over_table_create\": %.3f, \"polar_out_over_sincos_kernel\": %.3f",
                   tab->polar1_ns / 1e6, tab->polar2_ns / 1e6, tab->polar_out1_ns / 1e6,
                   tab->polar_out2_ns / 1e6, tab->polar1_ns / tab->create_ns,
                   tab->polar_out1_ns / tab->sincos_ns);
        if (tab->polar2_ns > 0 && tab->create2_ns > 0)
            printf(", \"polar_over_table_create_2threads\": %.3f", tab->polar2_ns / tab->create2_ns);
        if (tab->polar_out1_ns > 0 && tab->cos_sin_ns > 0)
            printf(", \"polar_out_over_cos_sin\": %.3f", tab->polar_out1_ns / tab->cos_sin_ns);
        if (tab->lib_create1_ns > 0)
            printf(", \"table_create_in_peers_ms\": %.4f, \"polar_over_table_create_in_peers\": %.3f",
                   tab->lib_create1_ns / 1e6, tab->polar1_ns / tab->lib_create1_ns);
        if (tab->lib_create2_ns > 0 && tab->polar2_ns > 0)
            printf(", \"table_create_2threads_in_peers_ms\": %.4f, "
                   "\"polar_over_table_create_2threads_in_peers\": %.3f",
                   tab->lib_create2_ns / 1e6, tab->polar2_ns / tab->lib_create2_ns);
        printf("}");
    }
    if (peers) {
        char *s = cJSON_PrintUnformatted(peers);
        if (s) printf(",\n \"peers\": %s", s);
        free(s);
    }
    if (ggml) {
        char *s = cJSON_PrintUnformatted(ggml);
        if (s) printf(",\n \"ggml_peer\": %s", s);
        free(s);
    } else if (ggml_note && ggml_note[0]) {
        print_json_note("ggml_note", ggml_note);
    }
    printf("\n}\n");
}

/* What the command line asked for. */
typedef struct bench_opts {
    int quick, json, peers, table_on, rounds;
    int threads[8], n_threads;
    int shape_on[N_SHAPES], dt_on[3], style_on[3];
    const char *isa, *python, *script, *lib_arg;
    const char *ggml_python, *ggml_script; /* the ggml peer: interpreter, peer_ggml.py */
    double target_ns;
} bench_opts;

/* --threads 1,2,4 */
static int parse_threads(const char *arg, bench_opts *o) {
    o->n_threads = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *t = strtok(buf, ","); t && o->n_threads < 8; t = strtok(NULL, ",")) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < 1 || v > 256) {
            fprintf(stderr, "rope bench: bad thread count '%s'\n", t);
            return 0;
        }
        o->threads[o->n_threads++] = (int)v;
    }
    return o->n_threads > 0;
}

/* 0: run; 1: --help printed (exit 0); 2: usage error reported. */
static int parse_args(int argc, char **argv, bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->table_on = 1;
    o->threads[0] = 1, o->threads[1] = 2, o->n_threads = 2;
    for (int i = 0; i < N_SHAPES; i++) o->shape_on[i] = 1;
    for (int i = 0; i < 3; i++) o->dt_on[i] = 1;
    o->style_on[0] = o->style_on[1] = 1;
    o->style_on[2] = 0;
    o->python = "/usr/bin/python3";
    const char *shape_names[N_SHAPES];
    for (int i = 0; i < N_SHAPES; i++) shape_names[i] = SHAPES[i].name;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--quick")) o->quick = 1;
        else if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--peers")) o->peers = 1;
        else if (!strcmp(a, "--no-table")) o->table_on = 0;
        else if (!strcmp(a, "--threads") && has_val) {
            if (!parse_threads(argv[++i], o)) return 2;
        } else if (!strcmp(a, "--shapes") && has_val) {
            if (!parse_names(argv[++i], shape_names, N_SHAPES, o->shape_on)) return 2;
        } else if (!strcmp(a, "--dtypes") && has_val) {
            if (!parse_names(argv[++i], DT_NAMES, 3, o->dt_on)) return 2;
        } else if (!strcmp(a, "--styles") && has_val) {
            if (!parse_names(argv[++i], STYLE_NAMES, 3, o->style_on)) return 2;
        } else if (!strcmp(a, "--rounds") && has_val) {
            int64_t v = 0; /* strict: atoi wrapped "4294967297" to 1 */
            o->rounds = cli_parse_i64(argv[++i], &v) || v < 1 || v > 64 ? 0 : (int)v;
            if (o->rounds < 1 || o->rounds > 64) {
                fprintf(stderr, "rope bench: --rounds must be 1..64\n");
                return 2;
            }
        } else if (!strcmp(a, "--isa") && has_val) o->isa = argv[++i];
        else if (!strcmp(a, "--python") && has_val) o->python = argv[++i];
        else if (!strcmp(a, "--peers-script") && has_val) o->script = argv[++i];
        else if (!strcmp(a, "--lib") && has_val) o->lib_arg = argv[++i];
        else if (!strcmp(a, "--ggml-python") && has_val) o->ggml_python = argv[++i];
        else if (!strcmp(a, "--ggml-script") && has_val) o->ggml_script = argv[++i];
        else {
            fprintf(stderr, "rope bench: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o->rounds) o->rounds = o->quick ? 5 : 11;
    if (!o->ggml_python) o->ggml_python = o->python;
    o->target_ns = o->quick ? 2e5 : 1e6;
    return 0;
}

/* ------------------------------------------------------------- ggml peer */

/* Fills ggml_* of the rows from peer_ggml.py's document (ggml and librope
 * timed in its process, same rounds). */
static void fill_ggml(const cJSON *doc, result *res, int n_res) {
    const cJSON *skipped = cJSON_GetObjectItemCaseSensitive(doc, "skipped");
    for (int i = 0; i < n_res; i++)
        if (res[i].style != 2 && cJSON_GetObjectItemCaseSensitive(skipped, DT_NAMES[res[i].dt]))
            res[i].ggml_na = 1;
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(doc, "apply")) {
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(row, "shape");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(row, "dtype");
        if (!cJSON_IsString(sh) || !cJSON_IsString(dt)) continue;
        for (int i = 0; i < n_res; i++) {
            result *r = &res[i];
            if (r->style == 2 || strcmp(SHAPES[r->shape].name, sh->valuestring) ||
                strcmp(DT_NAMES[r->dt], dt->valuestring) || r->threads != json_num(row, "threads"))
                continue;
            char key[64];
            const char *st = STYLE_NAMES[r->style];
            snprintf(key, sizeof key, "ggml_%s_us", st);
            r->ggml_ns = 1e3 * json_num(row, key);
            snprintf(key, sizeof key, "librope_%s_us", st);
            r->ggml_rope_ns = 1e3 * json_num(row, key);
            snprintf(key, sizeof key, "ggml_%s_max_err", st);
            r->ggml_err = json_num(row, key);
            snprintf(key, sizeof key, "ggml_%s_note", st);
            if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(row, key))) r->ggml_na = 2;
            if (r->ggml_rope_ns <= 0) r->ggml_ns = 0; /* no ratio without its denominator */
        }
    }
}

/* Runs peer_ggml.py; fills the rows. Returns its document (caller frees), or
 * NULL with `note` saying why there is no ggml column. */
static cJSON *run_ggml_peer(const char *python, const char *script, const char *lib,
                            const bench_opts *o, result *res, int n_res, char *note,
                            size_t note_len) {
    char cmd[16384], args[512];
    peer_selection(args, sizeof args, o->threads, o->n_threads, o->shape_on, o->dt_on);
    snprintf(cmd, sizeof cmd, "'%s' '%s' --json %s --rounds %d%s --lib '%s'", python, script, args,
             o->rounds, o->quick ? " --quick" : "", lib);
    fprintf(stderr, "rope bench: running the ggml peer: %s\n", cmd);
    cJSON *doc = popen_json(cmd, "peer_ggml.py", note, note_len);
    if (!doc) return NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    if (cJSON_IsString(err)) {
        snprintf(note, note_len, "%s", err->valuestring);
        cJSON_Delete(doc);
        return NULL;
    }
    fill_ggml(doc, res, n_res);
    return doc;
}

/* One shape x dtype: every style, and for each style every thread count's rope,
 * copy (and 16-bit conversion floor) in one interleaved measurement, so the
 * thread counts see the same machine load (on a shared machine a 2-thread
 * figure measured minutes after the 1-thread one says more about the load
 * than about the split). Appends to res; 0 on failure (reported). */
static int bench_shape(const bench_opts *o, int si, int di, const rope_table *table,
                       rope_pool *const *pools, result *res, int *n_res) {
    const shape *sh = &SHAPES[si];
    setup s;
    if (!setup_init(&s, sh, DTYPES[di])) {
        fprintf(stderr, "rope bench: out of memory for %s\n", sh->name);
        return 0;
    }
    if (!o->json) fprintf(stderr, "  %s %s ...\n", sh->name, DT_NAMES[di]);
    const int per = DTYPES[di] == ROPE_F32 ? 2 : 3; /* contenders per thread count */
    int64_t tokens = sh->batch * sh->seq;
    int64_t per_token = 2 * (int64_t)(s.q_bytes + s.k_bytes) / tokens;
    /* the copy is split by apply.c's rule */
    int64_t min_tok = (rope_split_min_bytes() + per_token - 1) / per_token;
    int ok = 1;
    for (int yi = 0; yi < 3 && ok; yi++) {
        if (!o->style_on[yi]) continue;
        rope_ctx rc[8];
        copy_ctx cc[8];
        bench_fn fns[24];
        void *ctxs[24];
        for (int ti = 0; ti < o->n_threads && ok; ti++) {
            rc[ti] = (rope_ctx){&s, {0}, ROPE_OK};
            rope_apply_params_init(&rc[ti].p);
            rc[ti].p.style = STYLES[yi];
            rc[ti].p.table = table;
            rc[ti].p.rotary_dim = sh->D;
            rc[ti].p.pool = pools[ti];
            cc[ti] = (copy_ctx){&s, pools[ti], tokens, min_tok};
            run_rope(&rc[ti]);
            if (rc[ti].status != ROPE_OK) {
                fprintf(stderr, "rope bench: rope_apply_qk on %s: %s\n", sh->name,
                        rope_strerror(rc[ti].status));
                ok = 0;
            }
            bench_fn f3[3] = {run_rope, run_copy, run_floor};
            void *c3[3] = {&rc[ti], &cc[ti], &cc[ti]};
            for (int j = 0; j < per; j++) {
                fns[ti * per + j] = f3[j];
                ctxs[ti * per + j] = c3[j];
            }
        }
        if (!ok) break;
        double med[24] = {0};
        measure(fns, ctxs, o->n_threads * per, o->rounds, o->target_ns, med);
        for (int ti = 0; ti < o->n_threads; ti++) {
            result *r = &res[(*n_res)++];
            r->shape = si;
            r->dt = di;
            r->style = yi;
            r->threads = o->threads[ti];
            r->bytes = 2.0 * (double)(s.q_bytes + s.k_bytes);
            r->rope_ns = med[ti * per];
            r->copy_ns = med[ti * per + 1];
            r->floor_ns = per > 2 ? med[ti * per + 2] : 0;
            r->one_thread_ns = r->one_thread_copy_ns = 0;
            for (int tj = 0; tj < o->n_threads; tj++)
                if (o->threads[tj] == 1) {
                    r->one_thread_ns = med[tj * per];
                    r->one_thread_copy_ns = med[tj * per + 1];
                }
        }
    }
    setup_free(&s);
    return ok;
}

/* The TABLE_ROWS x TABLE_FREQS accurate table: create and the kernels' sincos,
 * then the scalar kernels for comparison. 0 on failure (reported). */
static int bench_table(const bench_opts *o, table_result *tab) {
    if (!o->json) fprintf(stderr, "  table %d x %d ...\n", TABLE_ROWS, TABLE_FREQS);
    rope_config tc;
    rope_config_init(&tc);
    tc.rope_theta = 10000.0;
    tc.head_dim = 2 * TABLE_FREQS;
    rope_freqs tf;
    size_t elems = (size_t)TABLE_ROWS * TABLE_FREQS;
    table_ctx c = {&tf, malloc(elems * sizeof(float)), malloc(elems * sizeof(float)), ROPE_OK, NULL};
    int ok = 1;
    if (rope_freqs_compute(&tc, 0, &tf) != ROPE_OK || !c.cos || !c.sin ||
        rope_pool_create(2, &c.pool2) != ROPE_OK)
        ok = 0;
    else {
        bench_fn fns[4] = {run_table_create, run_table_create2, run_cos_sin, run_kernel_sincos};
        void *ctxs[4] = {&c, &c, &c, &c};
        double med[4];
        int tr = o->rounds < 7 ? o->rounds : 7;
        measure(fns, ctxs, 4, tr, o->target_ns, med);
        tab->create_ns = med[0];
        tab->create2_ns = med[1];
        tab->cos_sin_ns = med[2];
        tab->sincos_ns = med[3];
        /* the scalar kernels for comparison (fewer rounds: they are slow) */
        const char *prev = rope_isa_name();
        if (rope_isa_force("scalar") == ROPE_OK) {
            bench_fn f1[1] = {run_kernel_sincos};
            void *c1[1] = {&c};
            measure(f1, c1, 1, 3, 0, &tab->scalar_ns);
            rope_isa_force(prev);
        }
        if (c.status != ROPE_OK) {
            fprintf(stderr, "rope bench: rope_table_create: %s\n", rope_strerror(c.status));
            ok = 0;
        }
    }
    rope_pool_free(c.pool2);
    free(c.cos);
    free(c.sin);
    return ok;
}

/* Spin for a moment first, so the first shape is not timed while the core is
 * still leaving a low-power state. */
static void warm_up(int quick) {
    static unsigned char a[1 << 16], b[1 << 16];
    double t0 = now_ns();
    while (now_ns() - t0 < (quick ? 1e8 : 3e8)) {
        memcpy(b, a, sizeof a);
        __asm__ volatile("" : : "r"(b) : "memory");
    }
}

int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "attention")) {
        if (bench_attention_run) return bench_attention_run(argc - 1, argv + 1);
        fprintf(stderr, "rope bench attention: not built into this binary\n");
        return 2;
    }
    if (argc >= 2 && !strcmp(argv[1], "model")) {
        if (bench_model_run) return bench_model_run(argc - 1, argv + 1);
        fprintf(stderr, "rope bench model: the LLaMA runner is not built into this binary\n");
        return 2;
    }
    bench_opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc == 1 ? 0 : 2;
    if (o.isa && rope_isa_force(o.isa) != ROPE_OK) {
        fprintf(stderr, "rope bench: kernel set '%s' is not available here\n", o.isa);
        return 2;
    }

    /* frequencies and a table long enough for every shape (Llama-2: base 1e4) */
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.rope_theta = 10000.0;
    cfg.head_dim = 128;
    rope_freqs freqs;
    rope_table *table = NULL;
    rope_status st = rope_freqs_compute(&cfg, 0, &freqs);
    if (st == ROPE_OK) st = rope_table_create(&freqs, 8192, ROPE_PRECISION_ACCURATE, &table);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope bench: building the table failed: %s\n", rope_strerror(st));
        return 1;
    }
    rope_pool *pools[8] = {0};
    for (int t = 0; t < o.n_threads; t++)
        if (o.threads[t] > 1 && (st = rope_pool_create(o.threads[t], &pools[t])) != ROPE_OK) {
            fprintf(stderr, "rope bench: pool of %d threads: %s\n", o.threads[t], rope_strerror(st));
            return 1;
        }
    warm_up(o.quick);
    result *res = calloc((size_t)N_SHAPES * 3 * 3 * 8, sizeof *res);
    int n_res = 0, failed = !res;
    for (int si = 0; si < N_SHAPES && !failed; si++)
        for (int di = 0; di < 3 && !failed && o.shape_on[si]; di++)
            if (o.dt_on[di]) failed = !bench_shape(&o, si, di, table, pools, res, &n_res);

    table_result tab = {0};
    if (o.table_on && !failed) failed = !bench_table(&o, &tab);

    cJSON *peer_doc = NULL, *ggml_doc = NULL;
    char ggml_note[1024] = "";
    if (o.peers && !failed) {
        char path[4096], lib[4096];
        int have_lib = find_lib(lib, sizeof lib, o.lib_arg);
        if (!have_lib)
            fprintf(stderr, "rope bench: librope.so not found: peers compared across processes\n");
        if (!find_peers_script(path, sizeof path, o.script, "peers.py"))
            fprintf(stderr, "rope bench: bench/peers.py not found (use --peers-script)\n");
        else
            peer_doc = run_peers(o.python, path, have_lib ? lib : NULL, o.quick, o.threads,
                                 o.n_threads, o.shape_on, o.dt_on, res, n_res, &tab);
        /* ggml is timed only beside librope in its process: it needs librope.so */
        if (!have_lib)
            snprintf(ggml_note, sizeof ggml_note, "librope.so not found (use --lib)");
        else if (!find_peers_script(path, sizeof path, o.ggml_script, "peer_ggml.py"))
            snprintf(ggml_note, sizeof ggml_note,
                     "bench/peer_ggml.py not found (use --ggml-script)");
        else
            ggml_doc = run_ggml_peer(o.ggml_python, path, lib, &o, res, n_res, ggml_note,
                                     sizeof ggml_note);
        if (ggml_note[0]) fprintf(stderr, "rope bench: ggml peer skipped: %s\n", ggml_note);
    }
    if (!failed) {
        int have_peers = 0;
        for (int i = 0; i < n_res; i++) have_peers |= res[i].peer_ns > 0;
        if (o.json)
            print_json(res, n_res, &tab, o.table_on, peer_doc, o.rounds, o.quick, ggml_doc,
                       o.peers ? ggml_note : NULL);
        else print_table(res, n_res, &tab, have_peers, o.table_on, ggml_doc,
                         o.peers ? ggml_note : NULL);
    }
    cJSON_Delete(peer_doc);
    cJSON_Delete(ggml_doc);
    free(res);
    for (int t = 0; t < o.n_threads; t++) rope_pool_free(pools[t]);
    rope_table_free(table);
    return failed ? 1 : 0;
}
