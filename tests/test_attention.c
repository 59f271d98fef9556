/*
 * KV cache + causal GQA attention against a float64 reference
 * softmax(q·kᵀ·scale + mask)·v, whose RoPE is computed here in float64
 * (HF rotate_half convention, θᵢ = 10000^(-2i/D)); for every kernel set the
 * CPU offers and every cache dtype. Then the properties that only hold if
 * RoPE and the cache are right (position shift, chunked prefill, batches of
 * different lengths, rollback), and bad inputs, each with its status and the
 * output / cache untouched.
 *
 * Tolerances (absolute, outputs are averages of values in [-1, 1]): f32 cache
 * 1e-4 (float32 scores and sums over up to 2000 keys); f16 3e-3 and bf16
 * 2e-2 (keys and values rounded to 11 / 8 significant bits when stored).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rope.h"
#include "kernels/kernel.h"  /* rope_isa_force: test hook */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    check_rand64(&rng_state);
    return (uint32_t)(rng_state >> 11);
}
static float urand(void) { return (float)(rnd() & 0xffffff) / 8388608.0f - 1.0f; } /* [-1, 1) */
static void fill(float *x, int64_t n, float amp) {
    for (int64_t i = 0; i < n; i++) x[i] = amp * urand();
}

static double tol_for(rope_dtype t) { return t == ROPE_F32 ? 1e-4 : t == ROPE_F16 ? 3e-3 : 2e-2; }
static const char *dname(rope_dtype t) { return t == ROPE_F32 ? "f32" : t == ROPE_F16 ? "f16" : "bf16"; }

/* ------------------------------------------------------- float64 reference */

/* HF rotate_half RoPE of one head vector at position p, in float64. */
static void rope_ref(const float *x, int64_t D, int64_t p, double *y) {
    int64_t h = D / 2;
    for (int64_t i = 0; i < h; i++) {
        double th = pow(10000.0, -2.0 * (double)i / (double)D), a = (double)p * th;
        double c = cos(a), s = sin(a);
        y[i] = x[i] * c - x[i + h] * s;
        y[i + h] = x[i + h] * c + x[i] * s;
    }
}

/* What one batch row of the cache should hold: raw (unrotated) keys, values
 * and positions, n entries of Hkv × D. */
typedef struct hist {
    int64_t n, cap, Hkv, D;
    float *k, *v;
    double *kr; /* k rotated at its position, float64 */
    int64_t *pos;
} hist;

static void hist_init(hist *h, int64_t cap, int64_t Hkv, int64_t D) {
    h->n = 0;
    h->cap = cap;
    h->Hkv = Hkv;
    h->D = D;
    h->k = malloc(sizeof(float) * (size_t)(cap * Hkv * D));
    h->v = malloc(sizeof(float) * (size_t)(cap * Hkv * D));
    h->kr = malloc(sizeof(double) * (size_t)(cap * Hkv * D));
    h->pos = malloc(sizeof(int64_t) * (size_t)cap);
}
static void hist_free(hist *h) {
    free(h->k);
    free(h->v);
    free(h->kr);
    free(h->pos);
}
static void hist_push(hist *h, const float *k, const float *v, int64_t p) {
    memcpy(h->k + h->n * h->Hkv * h->D, k, sizeof(float) * (size_t)(h->Hkv * h->D));
    memcpy(h->v + h->n * h->Hkv * h->D, v, sizeof(float) * (size_t)(h->Hkv * h->D));
    for (int64_t j = 0; j < h->Hkv; j++)
        rope_ref(k + j * h->D, h->D, p, h->kr + (h->n * h->Hkv + j) * h->D);
    h->pos[h->n++] = p;
}

/* out[Hq][D] for one query token (raw q[Hq][D]) at position p over hist. */
static void ref_attend(const hist *h, const float *q, int64_t Hq, int64_t p, double scale,
                       int64_t window, double *out) {
    const int64_t D = h->D, G = Hq / h->Hkv;
    double *qr = malloc(sizeof(double) * (size_t)D);
    double *w = malloc(sizeof(double) * (size_t)(h->n + 1));
    for (int64_t hq = 0; hq < Hq; hq++) {
        const int64_t hk = hq / G;
        rope_ref(q + hq * D, D, p, qr);
        double mx = -INFINITY;
        for (int64_t e = 0; e < h->n; e++) {
            int64_t t = h->pos[e];
            int vis = p >= 0 && t <= p && (window == 0 || t > p - window);
            if (!vis) {
                w[e] = -INFINITY;
                continue;
            }
            const double *kr = h->kr + (e * h->Hkv + hk) * D;
            double s = 0;
            for (int64_t d = 0; d < D; d++) s += qr[d] * kr[d];
            w[e] = s * scale;
            if (w[e] > mx) mx = w[e];
        }
        double sum = 0;
        for (int64_t e = 0; e < h->n; e++) {
            w[e] = w[e] == -INFINITY ? 0.0 : exp(w[e] - mx);
            sum += w[e];
        }
        for (int64_t d = 0; d < D; d++) {
            double a = 0;
            for (int64_t e = 0; e < h->n; e++)
                if (w[e] != 0.0) a += w[e] * h->v[(e * h->Hkv + hk) * D + d];
            out[hq * D + d] = sum > 0 ? a / sum : 0.0;
        }
    }
    free(qr);
    free(w);
}

/* ------------------------------------------------------------- the library */

static rope_freqs g_freqs;

static void setup_rope(int64_t D, rope_apply_params *ap) {
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = D;
    cfg.rope_theta = 10000.0;
    rope_status st = rope_freqs_compute(&cfg, 0, &g_freqs);
    CHECK_OK(st);
    rope_apply_params_init(ap);
    ap->style = ROPE_STYLE_HALF;
    ap->freqs = &g_freqs;
    ap->rotary_dim = D;
}

/* Append n tokens (B × n × Hkv × D raw f32 k, v) at per-token ids (B × n). */
static rope_status append(rope_kv_cache *c, const rope_apply_params *ap, const int64_t *ids,
                          int64_t B, int64_t n, int64_t Hkv, int64_t D, float *k, float *v) {
    rope_tensor tk, tv;
    rope_tensor_contiguous(&tk, k, ROPE_F32, B, n, Hkv, D);
    rope_tensor_contiguous(&tv, v, ROPE_F32, B, n, Hkv, D);
    rope_positions pos = {0};
    pos.ids = ids;
    pos.ids_batch_stride = n;
    return rope_kv_cache_append(c, ap, &pos, &tk, &tv);
}

/* Rotate raw q (B × n × Hq × D) with rope_apply (pads: left raw, never read
 * for their output), then attend; out is B × n × Hq × D f32. */
static rope_status attend(const rope_kv_cache *c, const rope_apply_params *ap,
                          const rope_attention_params *p, const int64_t *ids, int64_t B, int64_t n,
                          int64_t Hq, int64_t D, const float *q, float *out) {
    float *qr = malloc(sizeof(float) * (size_t)(B * n * Hq * D));
    memcpy(qr, q, sizeof(float) * (size_t)(B * n * Hq * D));
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < n; s++) {
            int64_t pp = ids[b * n + s];
            if (pp < 0) continue;
            rope_tensor t;
            rope_tensor_contiguous(&t, qr + (b * n + s) * Hq * D, ROPE_F32, 1, 1, Hq, D);
            rope_positions pos = {0};
            pos.offset = pp;
            CHECK_OK(rope_apply(ap, &pos, &t, &t));
        }
    rope_tensor tq, to;
    rope_tensor_contiguous(&tq, qr, ROPE_F32, B, n, Hq, D);
    rope_tensor_contiguous(&to, out, ROPE_F32, B, n, Hq, D);
    rope_positions pos = {0};
    pos.ids = ids;
    pos.ids_batch_stride = n;
    rope_status st = rope_attention(c, p, &pos, &tq, &to);
    free(qr);
    return st;
}

static double max_abs_diff_f(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

/* ------------------------------------------------------------------- tests */

typedef struct scen {
    int64_t B, Hq, Hkv, D, prefix, qlen;
    int64_t window;
    double scale; /* 0 = default */
} scen;

/* Prefix tokens then qlen new tokens appended at consecutive positions
 * (starting at `start`), the new ones attended, with every kernel set;
 * compared with the reference (computed once). */
static void test_vs_reference(const scen *sc, rope_dtype dt, int64_t start, const char *const *isas,
                              int n_isa) {
    const int64_t B = sc->B, Hq = sc->Hq, Hkv = sc->Hkv, D = sc->D, QL = sc->qlen;
    const int64_t N = sc->prefix + QL;
    rope_apply_params ap;
    setup_rope(D, &ap);
    float *k = malloc(sizeof(float) * (size_t)(B * N * Hkv * D));
    float *v = malloc(sizeof(float) * (size_t)(B * N * Hkv * D));
    float *q = malloc(sizeof(float) * (size_t)(B * QL * Hq * D));
    float *out = malloc(sizeof(float) * (size_t)(B * QL * Hq * D));
    double *ref = malloc(sizeof(double) * (size_t)(B * QL * Hq * D));
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)(B * N));
    fill(k, B * N * Hkv * D, 1.0f);
    fill(v, B * N * Hkv * D, 1.0f);
    fill(q, B * QL * Hq * D, 2.0f);
    const double scale = sc->scale > 0 ? sc->scale : 1.0 / sqrt((double)D);
    for (int64_t b = 0; b < B; b++) {
        hist h;
        hist_init(&h, N, Hkv, D);
        for (int64_t s = 0; s < N; s++) {
            hist_push(&h, k + (b * N + s) * Hkv * D, v + (b * N + s) * Hkv * D, start + s);
            if (s >= sc->prefix) /* entries after the query are masked anyway */
                ref_attend(&h, q + (b * QL + s - sc->prefix) * Hq * D, Hq, start + s, scale,
                           sc->window, ref + (b * QL + s - sc->prefix) * Hq * D);
        }
        hist_free(&h);
    }
    for (int ii = 0; ii < n_isa; ii++) {
        CHECK_OK(rope_isa_force(isas[ii]));
        rope_kv_cache_desc desc = {B, Hkv, D, N + 3, dt, ROPE_KV_ROTATED};
        rope_kv_cache *c = NULL;
        CHECK_OK(rope_kv_cache_create(&desc, &c));
        if (!c) break;
        /* two appends: the prefix, then the new tokens (k, v re-packed per chunk) */
        const int64_t chunks[2][2] = {{0, sc->prefix}, {sc->prefix, N}};
        for (int ci = 0; ci < 2; ci++) {
            int64_t s0 = chunks[ci][0], n = chunks[ci][1] - s0;
            if (n == 0) continue;
            float *kc = malloc(sizeof(float) * (size_t)(B * n * Hkv * D));
            float *vc = malloc(sizeof(float) * (size_t)(B * n * Hkv * D));
            for (int64_t b = 0; b < B; b++) {
                memcpy(kc + b * n * Hkv * D, k + (b * N + s0) * Hkv * D, sizeof(float) * (size_t)(n * Hkv * D));
                memcpy(vc + b * n * Hkv * D, v + (b * N + s0) * Hkv * D, sizeof(float) * (size_t)(n * Hkv * D));
                for (int64_t s = 0; s < n; s++) ids[b * n + s] = start + s0 + s;
            }
            CHECK_OK(append(c, &ap, ids, B, n, Hkv, D, kc, vc));
            free(kc);
            free(vc);
        }
        for (int64_t b = 0; b < B; b++) {
            int64_t len = -1;
            CHECK_OK(rope_kv_cache_length(c, b, &len));
            CHECK_EQ_INT(len, N);
            for (int64_t s = 0; s < QL; s++) ids[b * QL + s] = start + sc->prefix + s;
        }
        rope_attention_params p;
        rope_attention_params_init(&p);
        p.sliding_window = sc->window;
        p.softmax_scale = sc->scale;
        CHECK_OK(attend(c, &ap, &p, ids, B, QL, Hq, D, q, out));
        double err = 0;
        for (int64_t i = 0; i < B * QL * Hq * D; i++) {
            double d = fabs(ref[i] - out[i]);
            if (!(d <= err)) err = d;
        }
        CHECK_MSG(err <= tol_for(dt),
                  "%s %s B=%lld Hq=%lld Hkv=%lld D=%lld prefix=%lld q=%lld win=%lld start=%lld: err %.3g",
                  isas[ii], dname(dt), (long long)B, (long long)Hq, (long long)Hkv, (long long)D,
                  (long long)sc->prefix, (long long)QL, (long long)sc->window, (long long)start, err);
        rope_kv_cache_free(c);
    }
    free(k);
    free(v);
    free(q);
    free(out);
    free(ref);
    free(ids);
}

/* Full forward over N tokens at `start` (f32 cache), outputs into out. */
static void forward(int64_t start, int64_t N, int64_t Hq, int64_t Hkv, int64_t D, const float *q,
                    float *k, float *v, const int64_t *chunking, int n_chunks, rope_pool *pool,
                    float *out) {
    rope_apply_params ap;
    setup_rope(D, &ap);
    rope_kv_cache_desc desc = {1, Hkv, D, N, ROPE_F32, ROPE_KV_ROTATED};
    rope_kv_cache *c = NULL;
    CHECK_OK(rope_kv_cache_create(&desc, &c));
    if (!c) return;
    rope_attention_params p;
    rope_attention_params_init(&p);
    p.pool = pool;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)N);
    int64_t s0 = 0;
    for (int ci = 0; s0 < N; ci++) {
        int64_t n = ci < n_chunks ? chunking[ci] : 1; /* then decode one by one */
        if (n > N - s0) n = N - s0;
        for (int64_t s = 0; s < n; s++) ids[s] = start + s0 + s;
        CHECK_OK(append(c, &ap, ids, 1, n, Hkv, D, k + s0 * Hkv * D, v + s0 * Hkv * D));
        CHECK_OK(attend(c, &ap, &p, ids, 1, n, Hq, D, q + s0 * Hq * D, out + s0 * Hq * D));
        s0 += n;
    }
    free(ids);
    rope_kv_cache_free(c);
}

static void test_properties(void) {
    const int64_t N = 150, Hq = 6, Hkv = 2, D = 32;
    float *q = malloc(sizeof(float) * N * Hq * D), *k = malloc(sizeof(float) * N * Hkv * D);
    float *v = malloc(sizeof(float) * N * Hkv * D);
    float *o1 = malloc(sizeof(float) * N * Hq * D), *o2 = malloc(sizeof(float) * N * Hq * D);
    fill(q, N * Hq * D, 2.0f);
    fill(k, N * Hkv * D, 1.0f);
    fill(v, N * Hkv * D, 1.0f);
    const int64_t whole[1] = {N};
    forward(0, N, Hq, Hkv, D, q, k, v, whole, 1, NULL, o1);

    /* shifting every position by the same offset changes nothing (RoPE is
     * relative); needs accurate angles at 10^6 */
    const int64_t shifts[3] = {1, 1000, 1000003};
    for (int i = 0; i < 3; i++) {
        forward(shifts[i], N, Hq, Hkv, D, q, k, v, whole, 1, NULL, o2);
        double e = max_abs_diff_f(o1, o2, N * Hq * D);
        CHECK_MSG(e <= 2e-5, "shift %lld: max diff %.3g", (long long)shifts[i], e);
    }
    /* chunked prefill (chunks of 7, 64, 13) then one-token decode == one pass */
    const int64_t chunks[3] = {7, 64, 13};
    forward(0, N, Hq, Hkv, D, q, k, v, chunks, 3, NULL, o2);
    double e = max_abs_diff_f(o1, o2, N * Hq * D);
    CHECK_MSG(e <= 1e-6, "chunked prefill + decode vs full: %.3g", e);
    /* threads change nothing, bit for bit */
    rope_pool *pool = NULL;
    CHECK_OK(rope_pool_create(2, &pool));
    forward(0, N, Hq, Hkv, D, q, k, v, whole, 1, pool, o2);
    CHECK_MSG(memcmp(o1, o2, sizeof(float) * N * Hq * D) == 0, "2 threads differ from 1");
    forward(0, N, Hq, Hkv, D, q, k, v, chunks, 3, pool, o2);
    CHECK_MSG(max_abs_diff_f(o1, o2, N * Hq * D) <= 1e-6, "chunked with pool");
    rope_pool_free(pool);
    free(q);
    free(k);
    free(v);
    free(o1);
    free(o2);
}

/* Left-padded batch of 3 prompts (lengths 5, 17, 40) and 3 decode steps
 * equals each sequence run alone. Pads: id -1 (not stored, zeros out). */
static void test_batch_lengths(rope_dtype dt) {
    const int64_t B = 3, P = 40, Hq = 4, Hkv = 4, D = 16, steps = 3;
    const int64_t lens[3] = {5, 17, 40};
    rope_apply_params ap;
    setup_rope(D, &ap);
    float *q = malloc(sizeof(float) * B * (P + steps) * Hq * D);
    float *k = malloc(sizeof(float) * B * (P + steps) * Hkv * D);
    float *v = malloc(sizeof(float) * B * (P + steps) * Hkv * D);
    fill(q, B * (P + steps) * Hq * D, 2.0f);
    fill(k, B * (P + steps) * Hkv * D, 1.0f);
    fill(v, B * (P + steps) * Hkv * D, 1.0f);
    float *ob = malloc(sizeof(float) * B * P * Hq * D), *os = malloc(sizeof(float) * P * Hq * D);
    int64_t ids[3 * 40];
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < P; s++) ids[b * P + s] = s < P - lens[b] ? -1 : s - (P - lens[b]);
    rope_kv_cache_desc desc = {B, Hkv, D, P + steps, dt, ROPE_KV_ROTATED};
    rope_kv_cache *cb = NULL;
    CHECK_OK(rope_kv_cache_create(&desc, &cb));
    if (!cb) return;
    rope_attention_params p;
    rope_attention_params_init(&p);
    /* batch: the prompt block is q/k/v[b][0..P) */
    float *qb = malloc(sizeof(float) * B * P * Hq * D), *kb = malloc(sizeof(float) * B * P * Hkv * D);
    float *vb = malloc(sizeof(float) * B * P * Hkv * D);
    for (int64_t b = 0; b < B; b++) {
        memcpy(qb + b * P * Hq * D, q + b * (P + steps) * Hq * D, sizeof(float) * P * Hq * D);
        memcpy(kb + b * P * Hkv * D, k + b * (P + steps) * Hkv * D, sizeof(float) * P * Hkv * D);
        memcpy(vb + b * P * Hkv * D, v + b * (P + steps) * Hkv * D, sizeof(float) * P * Hkv * D);
    }
    CHECK_OK(append(cb, &ap, ids, B, P, Hkv, D, kb, vb));
    for (int64_t b = 0; b < B; b++) {
        int64_t len = -1;
        CHECK_OK(rope_kv_cache_length(cb, b, &len));
        CHECK_EQ_INT(len, lens[b]);
    }
    for (int64_t i = 0; i < B * P * Hq * D; i++) ob[i] = NAN;
    CHECK_OK(attend(cb, &ap, &p, ids, B, P, Hq, D, qb, ob));
    float dec_b[3][3 * 4 * 16];
    for (int64_t st = 0; st < steps; st++) {
        int64_t dids[3];
        float qd[3 * 4 * 16], kd[3 * 4 * 16], vd[3 * 4 * 16];
        for (int64_t b = 0; b < B; b++) {
            dids[b] = lens[b] + st;
            memcpy(qd + b * Hq * D, q + (b * (P + steps) + P + st) * Hq * D, sizeof(float) * Hq * D);
            memcpy(kd + b * Hkv * D, k + (b * (P + steps) + P + st) * Hkv * D, sizeof(float) * Hkv * D);
            memcpy(vd + b * Hkv * D, v + (b * (P + steps) + P + st) * Hkv * D, sizeof(float) * Hkv * D);
        }
        CHECK_OK(append(cb, &ap, dids, B, 1, Hkv, D, kd, vd));
        CHECK_OK(attend(cb, &ap, &p, dids, B, 1, Hq, D, qd, dec_b[st]));
    }
    /* each sequence alone, no padding */
    for (int64_t b = 0; b < B; b++) {
        rope_kv_cache_desc d1 = {1, Hkv, D, P + steps, dt, ROPE_KV_ROTATED};
        rope_kv_cache *c1 = NULL;
        CHECK_OK(rope_kv_cache_create(&d1, &c1));
        if (!c1) continue;
        const int64_t L = lens[b], pad = P - L;
        int64_t sid[43];
        for (int64_t s = 0; s < L + steps; s++) sid[s] = s;
        float *qs = malloc(sizeof(float) * (L + steps) * Hq * D);
        float *ks = malloc(sizeof(float) * (L + steps) * Hkv * D);
        float *vs = malloc(sizeof(float) * (L + steps) * Hkv * D);
        memcpy(qs, q + (b * (P + steps) + pad) * Hq * D, sizeof(float) * (L + steps) * Hq * D);
        memcpy(ks, k + (b * (P + steps) + pad) * Hkv * D, sizeof(float) * (L + steps) * Hkv * D);
        memcpy(vs, v + (b * (P + steps) + pad) * Hkv * D, sizeof(float) * (L + steps) * Hkv * D);
        CHECK_OK(append(c1, &ap, sid, 1, L, Hkv, D, ks, vs));
        CHECK_OK(attend(c1, &ap, &p, sid, 1, L, Hq, D, qs, os));
        double e = max_abs_diff_f(os, ob + (b * P + pad) * Hq * D, L * Hq * D);
        CHECK_MSG(e <= 1e-6, "%s batch row %lld prompt vs alone: %.3g", dname(dt), (long long)b, e);
        int zeros = 1;
        for (int64_t i = 0; i < pad * Hq * D; i++) zeros &= ob[b * P * Hq * D + i] == 0.0f;
        CHECK_MSG(zeros, "%s row %lld: padded queries must give zeros", dname(dt), (long long)b);
        for (int64_t st = 0; st < steps; st++) {
            float od[4 * 16];
            CHECK_OK(append(c1, &ap, sid + L + st, 1, 1, Hkv, D, ks + (L + st) * Hkv * D, vs + (L + st) * Hkv * D));
            CHECK_OK(attend(c1, &ap, &p, sid + L + st, 1, 1, Hq, D, qs + (L + st) * Hq * D, od));
            e = max_abs_diff_f(od, dec_b[st] + b * Hq * D, Hq * D);
            CHECK_MSG(e <= 1e-6, "%s batch row %lld decode %lld vs alone: %.3g", dname(dt),
                      (long long)b, (long long)st, e);
        }
        free(qs);
        free(ks);
        free(vs);
        rope_kv_cache_free(c1);
    }
    rope_kv_cache_free(cb);
    free(q);
    free(k);
    free(v);
    free(ob);
    free(os);
    free(qb);
    free(kb);
    free(vb);
}

/* A query that sees nothing gets zeros (not NaN); truncate + re-append is
 * the same as never having appended. */
static void test_masked_and_rollback(void) {
    const int64_t Hq = 4, Hkv = 2, D = 8, N = 70;
    rope_apply_params ap;
    setup_rope(D, &ap);
    float k[70 * 2 * 8], v[70 * 2 * 8], q[70 * 4 * 8], o1[70 * 4 * 8], o2[70 * 4 * 8];
    fill(k, N * Hkv * D, 1.0f);
    fill(v, N * Hkv * D, 1.0f);
    fill(q, N * Hq * D, 1.0f);
    int64_t ids[70];
    for (int64_t s = 0; s < N; s++) ids[s] = 10 + s;
    rope_kv_cache_desc desc = {1, Hkv, D, N + 10, ROPE_F32, ROPE_KV_ROTATED};
    rope_kv_cache *c = NULL, *c2 = NULL;
    CHECK_OK(rope_kv_cache_create(&desc, &c));
    CHECK_OK(rope_kv_cache_create(&desc, &c2));
    if (!c || !c2) return;
    rope_attention_params p;
    rope_attention_params_init(&p);
    CHECK_OK(append(c, &ap, ids, 1, N, Hkv, D, k, v));
    /* queries at positions 0..9: every cached entry is in their future */
    int64_t early[3] = {0, 5, 9};
    for (int i = 0; i < 3 * Hq * D; i++) o1[i] = NAN;
    CHECK_OK(attend(c, &ap, &p, early, 1, 3, Hq, D, q, o1));
    int ok = 1;
    for (int i = 0; i < 3 * Hq * D; i++) ok &= o1[i] == 0.0f;
    CHECK_MSG(ok, "fully masked queries must give exact zeros");
    /* an empty cache row: zeros too */
    for (int i = 0; i < 3 * Hq * D; i++) o1[i] = NAN;
    CHECK_OK(attend(c2, &ap, &p, early, 1, 3, Hq, D, q, o1));
    ok = 1;
    for (int i = 0; i < 3 * Hq * D; i++) ok &= o1[i] == 0.0f;
    CHECK_MSG(ok, "empty cache must give zeros");
    /* sliding window of 1: a query sees only the key at its own position */
    p.sliding_window = 1;
    int64_t at[1] = {10 + 33};
    float one[4 * 8];
    CHECK_OK(attend(c, &ap, &p, at, 1, 1, Hq, D, q, one));
    double e = 0;
    for (int64_t h = 0; h < Hq; h++)
        for (int64_t d = 0; d < D; d++) {
            double dd = fabs(one[h * D + d] - v[(33 * Hkv + h / 2) * D + d]);
            e = dd > e ? dd : e;
        }
    CHECK_MSG(e <= 1e-6, "window 1 must return the value at the query's own position: %.3g", e);
    p.sliding_window = 0;

    /* a NaN in q reaches that head's output (never silently zero or finite) */
    {
        float qn[4 * 8];
        memcpy(qn, q, sizeof qn);
        qn[1 * D + 3] = NAN; /* head 1 */
        int64_t at2[1] = {10 + 50};
        CHECK_OK(attend(c, &ap, &p, at2, 1, 1, Hq, D, qn, one));
        int nan1 = 1, fin0 = 1;
        for (int64_t d = 0; d < D; d++) {
            nan1 &= isnan(one[1 * D + d]);
            fin0 &= isfinite(one[0 * D + d]);
        }
        CHECK_MSG(nan1 && fin0, "NaN in q head 1 must give NaN in head 1 only");
    }

    /* rollback: c2 gets 40 real, 30 junk (truncated away), then the real 30 */
    CHECK_OK(append(c2, &ap, ids, 1, 40, Hkv, D, k, v));
    float junk_k[30 * 2 * 8], junk_v[30 * 2 * 8];
    fill(junk_k, 30 * Hkv * D, 5.0f);
    fill(junk_v, 30 * Hkv * D, 5.0f);
    CHECK_OK(append(c2, &ap, ids + 40, 1, 30, Hkv, D, junk_k, junk_v));
    CHECK_OK(rope_kv_cache_truncate(c2, 0, 40));
    int64_t len = -1;
    CHECK_OK(rope_kv_cache_length(c2, 0, &len));
    CHECK_EQ_INT(len, 40);
    CHECK_OK(append(c2, &ap, ids + 40, 1, 30, Hkv, D, k + 40 * Hkv * D, v + 40 * Hkv * D));
    CHECK_OK(attend(c, &ap, &p, ids, 1, N, Hq, D, q, o1));
    CHECK_OK(attend(c2, &ap, &p, ids, 1, N, Hq, D, q, o2));
    CHECK_MSG(memcmp(o1, o2, sizeof(float) * N * Hq * D) == 0, "truncate + re-append differs");
    /* truncate to more than the length keeps everything; -1 = every row; clear */
    CHECK_OK(rope_kv_cache_truncate(c2, -1, 1000));
    CHECK_OK(rope_kv_cache_length(c2, 0, &len));
    CHECK_EQ_INT(len, N);
    CHECK_OK(rope_kv_cache_clear(c2));
    CHECK_OK(rope_kv_cache_length(c2, 0, &len));
    CHECK_EQ_INT(len, 0);
    /* reuse after clear: same outputs again */
    CHECK_OK(append(c2, &ap, ids, 1, N, Hkv, D, k, v));
    CHECK_OK(attend(c2, &ap, &p, ids, 1, N, Hq, D, q, o2));
    CHECK_MSG(memcmp(o1, o2, sizeof(float) * N * Hq * D) == 0, "reuse after clear differs");
    rope_kv_cache_free(c);
    rope_kv_cache_free(c2);
}

/* Caller dtypes: f16 k/v into an f16 cache are copied bit for bit; f16 q
 * and out; out == q in place. */
static void test_dtypes_and_layouts(void) {
    const int64_t Hq = 2, Hkv = 1, D = 16, N = 20;
    uint16_t kh[20 * 16], vh[20 * 16], qh[20 * 2 * 16], oh[20 * 2 * 16];
    float kf[20 * 16], vf[20 * 16], qf[20 * 2 * 16], of[20 * 2 * 16];
    for (int i = 0; i < N * Hkv * D; i++) {
        kh[i] = rope_f32_to_f16(urand());
        vh[i] = rope_f32_to_f16(urand());
        kf[i] = rope_f16_to_f32(kh[i]);
        vf[i] = rope_f16_to_f32(vh[i]);
    }
    for (int i = 0; i < N * Hq * D; i++) {
        qh[i] = rope_f32_to_f16(urand());
        qf[i] = rope_f16_to_f32(qh[i]);
    }
    rope_kv_cache_desc desc = {1, Hkv, D, N, ROPE_F16, ROPE_KV_ROTATED};
    rope_kv_cache *c1 = NULL, *c2 = NULL;
    CHECK_OK(rope_kv_cache_create(&desc, &c1));
    CHECK_OK(rope_kv_cache_create(&desc, &c2));
    if (!c1 || !c2) return;
    rope_tensor tk, tv, tq, to;
    rope_tensor_contiguous(&tk, kh, ROPE_F16, 1, N, Hkv, D);
    rope_tensor_contiguous(&tv, vh, ROPE_F16, 1, N, Hkv, D);
    CHECK_OK(rope_kv_cache_append(c1, NULL, NULL, &tk, &tv)); /* pos NULL = 0..N-1 */
    rope_tensor_contiguous(&tk, kf, ROPE_F32, 1, N, Hkv, D);
    rope_tensor_contiguous(&tv, vf, ROPE_F32, 1, N, Hkv, D);
    CHECK_OK(rope_kv_cache_append(c2, NULL, NULL, &tk, &tv));
    rope_tensor_contiguous(&tq, qf, ROPE_F32, 1, N, Hq, D);
    rope_tensor_contiguous(&to, of, ROPE_F32, 1, N, Hq, D);
    CHECK_OK(rope_attention(c1, NULL, NULL, &tq, &to));
    rope_tensor_contiguous(&tq, qh, ROPE_F16, 1, N, Hq, D);
    rope_tensor_contiguous(&to, oh, ROPE_F16, 1, N, Hq, D);
    CHECK_OK(rope_attention(c2, NULL, NULL, &tq, &to));
    int ok = 1;
    for (int i = 0; i < N * Hq * D; i++) ok &= oh[i] == rope_f32_to_f16(of[i]);
    CHECK_MSG(ok, "f16 k/v/q/out must equal f32 inputs holding the same values");
    /* in place: out is q */
    memcpy(oh, qh, sizeof qh);
    rope_tensor_contiguous(&to, oh, ROPE_F16, 1, N, Hq, D);
    CHECK_OK(rope_attention(c2, NULL, NULL, &to, &to));
    ok = 1;
    for (int i = 0; i < N * Hq * D; i++) ok &= oh[i] == rope_f32_to_f16(of[i]);
    CHECK_MSG(ok, "in-place attention must equal out of place");
    /* strided q (BHSD) and out (SBHD-like with padding) give the same numbers */
    float qt[2 * 20 * 16], ot[20 * 2 * 20];
    for (int64_t s = 0; s < N; s++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t d = 0; d < D; d++) qt[(h * N + s) * D + d] = qf[(s * Hq + h) * D + d];
    rope_tensor sq = {qt, ROPE_F32, {1, N, Hq, D}, {0, D, N * D, 1}};
    rope_tensor so = {ot, ROPE_F32, {1, N, Hq, D}, {0, Hq * 20, 20, 1}};
    CHECK_OK(rope_attention(c1, NULL, NULL, &sq, &so));
    ok = 1;
    for (int64_t s = 0; s < N; s++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t d = 0; d < D; d++) ok &= ot[s * Hq * 20 + h * 20 + d] == of[(s * Hq + h) * D + d];
    CHECK_MSG(ok, "strided q/out must equal contiguous");
    rope_kv_cache_free(c1);
    rope_kv_cache_free(c2);
}

static void test_bad_inputs(void) {
    const int64_t Hq = 4, Hkv = 2, D = 8;
    rope_apply_params ap;
    setup_rope(D, &ap);
    rope_kv_cache *c = NULL;
    rope_kv_cache_desc desc = {2, Hkv, D, 10, ROPE_F32, ROPE_KV_ROTATED};
    /* creation */
    CHECK_STATUS(rope_kv_cache_create(NULL, &c), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_create(&desc, NULL), ROPE_E_NULL);
    rope_kv_cache_desc bad = desc;
    bad.dtype = (rope_dtype)9;
    CHECK_STATUS(rope_kv_cache_create(&bad, &c), ROPE_E_DTYPE);
    bad = desc;
    bad.head_dim = 0;
    CHECK_STATUS(rope_kv_cache_create(&bad, &c), ROPE_E_DIM);
    bad = desc;
    bad.capacity = 0;
    CHECK_STATUS(rope_kv_cache_create(&bad, &c), ROPE_E_PARAM);
    bad = desc;
    bad.n_kv_heads = -1;
    CHECK_STATUS(rope_kv_cache_create(&bad, &c), ROPE_E_PARAM);
    bad = desc;
    bad.capacity = INT64_MAX / 4;
    CHECK_STATUS(rope_kv_cache_create(&bad, &c), ROPE_E_OVERFLOW);
    bad.capacity = INT64_MAX;
    CHECK_STATUS(rope_kv_cache_create(&bad, &c), ROPE_E_OVERFLOW);
    CHECK(c == NULL);
    CHECK_OK(rope_kv_cache_create(&desc, &c));
    if (!c) return;
    rope_kv_cache_free(NULL);

    float k[2 * 12 * 2 * 8], v[2 * 12 * 2 * 8], q[2 * 3 * 4 * 8], o[2 * 3 * 4 * 8];
    fill(k, 2 * 12 * Hkv * D, 1.0f);
    fill(v, 2 * 12 * Hkv * D, 1.0f);
    fill(q, 2 * 3 * Hq * D, 1.0f);
    int64_t ids[2 * 12];
    for (int i = 0; i < 24; i++) ids[i] = i % 12;
    CHECK_OK(append(c, &ap, ids, 2, 6, Hkv, D, k, v));
    /* capacity: 6 + 5 > 10 -> nothing written, lengths unchanged */
    CHECK_STATUS(append(c, &ap, ids, 2, 5, Hkv, D, k, v), ROPE_E_CAPACITY);
    int64_t len = -1;
    CHECK_OK(rope_kv_cache_length(c, 1, &len));
    CHECK_EQ_INT(len, 6);
    /* row 0 fits only if row 1's pads are skipped: -1 ids are not stored */
    int64_t pid[2 * 5] = {6, 7, 8, 9, -1, -1, -1, -1, -1, 6};
    CHECK_OK(append(c, &ap, pid, 2, 5, Hkv, D, k, v));
    CHECK_OK(rope_kv_cache_length(c, 0, &len));
    CHECK_EQ_INT(len, 10);
    CHECK_OK(rope_kv_cache_length(c, 1, &len));
    CHECK_EQ_INT(len, 7);
    CHECK_STATUS(rope_kv_cache_length(c, 2, &len), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_length(c, -1, &len), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_length(NULL, 0, &len), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_truncate(c, 2, 0), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_truncate(c, 0, -1), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_truncate(NULL, 0, 0), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_clear(NULL), ROPE_E_NULL);
    CHECK_OK(rope_kv_cache_truncate(c, 0, 6));

    rope_tensor tk, tv;
    rope_tensor_contiguous(&tk, k, ROPE_F32, 2, 1, Hkv, D);
    rope_tensor_contiguous(&tv, v, ROPE_F32, 2, 1, Hkv, D);
    rope_positions pos = {0};
    pos.offset = 7;
    CHECK_STATUS(rope_kv_cache_append(NULL, &ap, &pos, &tk, &tv), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, NULL, &tv), ROPE_E_NULL);
    rope_tensor t2 = tk;
    t2.shape[2] = Hq; /* q's head count for k */
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &t2, &tv), ROPE_E_SHAPE);
    t2 = tk;
    t2.shape[0] = 1;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &t2, &tv), ROPE_E_SHAPE);
    t2 = tv;
    t2.shape[1] = 2;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &tk, &t2), ROPE_E_SHAPE);
    t2 = tk;
    t2.dtype = (rope_dtype)0;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &t2, &tv), ROPE_E_DTYPE);
    t2 = tk;
    t2.data = NULL;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &t2, &tv), ROPE_E_NULL);
    t2 = tk;
    t2.stride[1] = INT64_MAX / 2;
    t2.shape[1] = 1;
    t2.stride[0] = INT64_MAX / 2;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &t2, &tv), ROPE_E_OVERFLOW);
    pos.offset = -1;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &tk, &tv), ROPE_E_POSITION);
    pos.offset = INT64_MAX; /* the second token's position overflows */
    rope_tensor tk2 = tk, tv2 = tv;
    rope_tensor_contiguous(&tk2, k, ROPE_F32, 2, 2, Hkv, D);
    rope_tensor_contiguous(&tv2, v, ROPE_F32, 2, 2, Hkv, D);
    CHECK_STATUS(rope_kv_cache_append(c, NULL, &pos, &tk2, &tv2), ROPE_E_OVERFLOW);
    pos.offset = 7;
    pos.ids = ids;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &tk, &tv), ROPE_E_PARAM);
    pos.offset = 0;
    int64_t cu[2] = {0, 1};
    pos.cu_seqlens = cu;
    pos.n_seqs = 1;
    CHECK_STATUS(rope_kv_cache_append(c, &ap, &pos, &tk, &tv), ROPE_E_PARAM);
    /* a rope with a 5-row table cannot rotate position 7; bad style */
    rope_table *tab = NULL;
    CHECK_OK(rope_table_create(&g_freqs, 5, ROPE_PRECISION_ACCURATE, &tab));
    rope_apply_params ap2 = ap;
    ap2.freqs = NULL;
    ap2.table = tab;
    pos.cu_seqlens = NULL;
    pos.ids = NULL;
    pos.offset = 7;
    CHECK_STATUS(rope_kv_cache_append(c, &ap2, &pos, &tk, &tv), ROPE_E_POSITION);
    ap2 = ap;
    ap2.style = ROPE_STYLE_NONE;
    CHECK_STATUS(rope_kv_cache_append(c, &ap2, &pos, &tk, &tv), ROPE_E_STYLE);
    ap2 = ap;
    ap2.freqs = NULL;
    CHECK_STATUS(rope_kv_cache_append(c, &ap2, &pos, &tk, &tv), ROPE_E_NULL);
    rope_table_free(tab);
    CHECK_OK(rope_kv_cache_length(c, 0, &len));
    CHECK_EQ_INT(len, 6);
    CHECK_OK(rope_kv_cache_length(c, 1, &len));
    CHECK_EQ_INT(len, 7);

    /* attention: every error leaves out untouched */
    rope_tensor tq, to;
    rope_tensor_contiguous(&tq, q, ROPE_F32, 2, 3, Hq, D);
    rope_tensor_contiguous(&to, o, ROPE_F32, 2, 3, Hq, D);
    for (int i = 0; i < 2 * 3 * Hq * D; i++) o[i] = 12345.0f;
    rope_attention_params p;
    rope_attention_params_init(&p);
    pos = (rope_positions){0};
    pos.offset = 3;
    CHECK_STATUS(rope_attention(NULL, &p, &pos, &tq, &to), ROPE_E_NULL);
    CHECK_STATUS(rope_attention(c, &p, &pos, NULL, &to), ROPE_E_NULL);
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, NULL), ROPE_E_NULL);
    rope_tensor bq = tq, bo = to;
    bq.shape[2] = 3;
    bo.shape[2] = 3; /* 3 q heads over 2 kv heads */
    CHECK_STATUS(rope_attention(c, &p, &pos, &bq, &bo), ROPE_E_SHAPE);
    bq = tq;
    bq.shape[3] = 6;
    bo = to;
    bo.shape[3] = 6;
    CHECK_STATUS(rope_attention(c, &p, &pos, &bq, &bo), ROPE_E_SHAPE);
    bo = to;
    bo.shape[1] = 2;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &bo), ROPE_E_SHAPE);
    bq = tq;
    bq.shape[0] = 1;
    bo = to;
    bo.shape[0] = 1;
    CHECK_STATUS(rope_attention(c, &p, &pos, &bq, &bo), ROPE_E_SHAPE);
    bo = to;
    bo.dtype = (rope_dtype)7;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &bo), ROPE_E_DTYPE);
    bo = to;
    bo.data = (float *)to.data + 1; /* stride 0: every d writes one element */
    bo.stride[3] = 0;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &bo), ROPE_E_OVERLAP);
    bo = to;
    bo.data = q + 4; /* partial overlap with q */
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &bo), ROPE_E_OVERLAP);
    p.sliding_window = -1;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &to), ROPE_E_PARAM);
    p.sliding_window = 0;
    p.softmax_scale = NAN;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &to), ROPE_E_PARAM);
    p.softmax_scale = -1.0;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &to), ROPE_E_PARAM);
    p.softmax_scale = 1e300; /* not representable in float32 */
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &to), ROPE_E_PARAM);
    p.softmax_scale = 0.0;
    pos.offset = -2;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &to), ROPE_E_POSITION);
    pos.offset = INT64_MAX - 1;
    CHECK_STATUS(rope_attention(c, &p, &pos, &tq, &to), ROPE_E_OVERFLOW);
    int untouched = 1;
    for (int i = 0; i < 2 * 3 * Hq * D; i++) untouched &= o[i] == 12345.0f;
    CHECK_MSG(untouched, "a failed rope_attention wrote its output");
    /* and it still works */
    pos.offset = 3;
    CHECK_OK(rope_attention(c, &p, &pos, &tq, &to));
    untouched = 1;
    for (int i = 0; i < 2 * 3 * Hq * D; i++) untouched &= o[i] == 12345.0f;
    CHECK(!untouched);
    rope_attention_params_init(NULL);
    rope_kv_cache_free(c);
}

int main(void) {
    int n_isa = 0;
    const char *const *isas = rope_isa_available(&n_isa);
    static const scen scens[] = {
        /* B  Hq Hkv  D  prefix qlen win scale */
        {1, 3, 3, 64, 0, 37, 0, 0},      /* MHA prefill, odd head count */
        {2, 8, 2, 128, 130, 1, 0, 0},    /* GQA decode over a prefix, batch 2 */
        {2, 8, 2, 128, 61, 70, 0, 0},    /* GQA chunk after a prefix */
        {1, 5, 1, 34, 20, 45, 0, 0},     /* MQA, head_dim not a multiple of 16 */
        {1, 9, 3, 10, 3, 90, 0, 0.3},    /* tiny odd dims, explicit scale */
        {1, 4, 2, 64, 1999, 2, 0, 0},    /* kv_len 2001 decode */
        {1, 6, 2, 48, 100, 80, 17, 0},   /* sliding window */
        {1, 2, 1, 16, 0, 1, 0, 0},       /* one token */
        {1, 4, 2, 64, 3000, 1, 0, 0},    /* decode over 3001 keys: split in 3 chunks, merged */
        {2, 3, 1, 32, 2500, 2, 700, 0},  /* split decode with a sliding window (chunks unseen) */
    };
    const rope_dtype dts[3] = {ROPE_F32, ROPE_F16, ROPE_BF16};
    for (size_t s = 0; s < sizeof scens / sizeof scens[0]; s++)
        for (int d = 0; d < 3; d++)
            test_vs_reference(&scens[s], dts[d], s == 2 ? 5000 : 0, isas, n_isa);
    for (int i = 0; i < n_isa; i++) {
        CHECK_OK(rope_isa_force(isas[i]));
        test_properties();
        test_masked_and_rollback();
    }
    for (int d = 0; d < 3; d++) test_batch_lengths(dts[d]);
    test_dtypes_and_layouts();
    test_bad_inputs();
    return check_report("test_attention");
}
