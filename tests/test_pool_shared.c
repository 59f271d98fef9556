/*
 * One pool shared by several caller threads at once (rope.h: "a pool may be
 * shared by concurrent calls: a call that finds it busy runs single-threaded";
 * "a cache may be read by concurrent rope_attention calls"). Four threads call
 * rope_apply (large enough to be split over the pool) and rope_attention on
 * one shared cache, each many times, on its own data; every result must be
 * bit-identical to a single-threaded reference computed first. Built and run
 * under ThreadSanitizer by `make test-tsan` (issue 14), where any data race in
 * the pool's hand-off or the attention scratch slots is a report.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rope.h"

enum { CALLERS = 4, ROUNDS = 6, SEQ = 64, HEADS = 32, D = 128, KV_LEN = 256 };

static rope_pool *g_pool;
static rope_table *g_table;
static rope_kv_cache *g_cache;
static float *g_in[CALLERS], *g_ref[CALLERS], *g_q, *g_attn_ref;

static void apply_one(const float *in, float *out, rope_pool *pool) {
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_HALF;
    p.table = g_table;
    p.rotary_dim = D;
    p.pool = pool;
    rope_tensor ti, to;
    rope_tensor_contiguous(&ti, (void *)in, ROPE_F32, 1, SEQ, HEADS, D);
    rope_tensor_contiguous(&to, out, ROPE_F32, 1, SEQ, HEADS, D);
    rope_positions pos = {0};
    pos.offset = 100;
    if (rope_apply(&p, &pos, &ti, &to) != ROPE_OK) memset(out, 0xFF, sizeof(float) * SEQ * HEADS * D);
}

static void attend(float *out, rope_pool *pool) {
    rope_attention_params ap;
    rope_attention_params_init(&ap);
    ap.pool = pool;
    rope_tensor q, o;
    rope_tensor_contiguous(&q, g_q, ROPE_F32, 1, 16, 8, D);
    rope_tensor_contiguous(&o, out, ROPE_F32, 1, 16, 8, D);
    rope_positions qp = {0};
    qp.offset = KV_LEN - 16;
    if (rope_attention(g_cache, &ap, &qp, &q, &o) != ROPE_OK) memset(out, 0xFF, sizeof(float) * 16 * 8 * D);
}

typedef struct job {
    int id;
    int mismatches;
} job;

static void *caller(void *arg) {
    job *j = arg;
    float *out = malloc(sizeof(float) * SEQ * HEADS * D), *att = malloc(sizeof(float) * 16 * 8 * D);
    if (!out || !att) {
        j->mismatches = -1;
        return NULL;
    }
    for (int r = 0; r < ROUNDS; r++) {
        apply_one(g_in[j->id], out, g_pool);
        if (memcmp(out, g_ref[j->id], sizeof(float) * SEQ * HEADS * D)) j->mismatches++;
        attend(att, g_pool);
        if (memcmp(att, g_attn_ref, sizeof(float) * 16 * 8 * D)) j->mismatches++;
    }
    free(out);
    free(att);
    return NULL;
}

int main(void) {
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = D;
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(&cfg, 0, &f));
    CHECK_OK(rope_table_create(&f, 1024, ROPE_PRECISION_ACCURATE, &g_table));
    CHECK_OK(rope_pool_create(4, &g_pool));
    if (!g_table || !g_pool) return check_report("test_pool_shared");

    uint32_t seed = 7;
    for (int c = 0; c < CALLERS; c++) {
        g_in[c] = malloc(sizeof(float) * SEQ * HEADS * D);
        g_ref[c] = malloc(sizeof(float) * SEQ * HEADS * D);
        if (!g_in[c] || !g_ref[c]) return 1;
        for (int i = 0; i < SEQ * HEADS * D; i++) {
            seed = seed * 1664525u + 1013904223u;
            g_in[c][i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
        }
        apply_one(g_in[c], g_ref[c], NULL); /* reference: calling thread only */
    }

    /* a cache of KV_LEN rotated keys, 8 query heads over 2 kv heads */
    rope_kv_cache_desc d = {1, 2, D, KV_LEN, ROPE_F32, ROPE_KV_ROTATED};
    CHECK_OK(rope_kv_cache_create(&d, &g_cache));
    float *kv = malloc(sizeof(float) * KV_LEN * 2 * D);
    g_q = malloc(sizeof(float) * 16 * 8 * D);
    g_attn_ref = malloc(sizeof(float) * 16 * 8 * D);
    if (!g_cache || !kv || !g_q || !g_attn_ref) return 1;
    for (int i = 0; i < KV_LEN * 2 * D; i++) {
        seed = seed * 1664525u + 1013904223u;
        kv[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    for (int i = 0; i < 16 * 8 * D; i++) g_q[i] = kv[i] * 0.5f;
    rope_apply_params rp;
    rope_apply_params_init(&rp);
    rp.style = ROPE_STYLE_HALF;
    rp.table = g_table;
    rp.rotary_dim = D;
    rope_tensor k, v;
    rope_tensor_contiguous(&k, kv, ROPE_F32, 1, KV_LEN, 2, D);
    rope_tensor_contiguous(&v, kv, ROPE_F32, 1, KV_LEN, 2, D);
    CHECK_OK(rope_kv_cache_append(g_cache, &rp, NULL, &k, &v));
    attend(g_attn_ref, NULL);

    pthread_t th[CALLERS];
    job jobs[CALLERS];
    for (int c = 0; c < CALLERS; c++) {
        jobs[c] = (job){c, 0};
        CHECK(pthread_create(&th[c], NULL, caller, &jobs[c]) == 0);
    }
    for (int c = 0; c < CALLERS; c++) {
        pthread_join(th[c], NULL);
        CHECK_MSG(jobs[c].mismatches == 0, "caller %d: %d results differ from the reference", c,
                  jobs[c].mismatches);
    }
    printf("test_pool_shared: %d callers x %d rounds of apply + attention on one pool of %d\n", CALLERS,
           ROUNDS, rope_pool_size(g_pool));

    for (int c = 0; c < CALLERS; c++) free(g_in[c]), free(g_ref[c]);
    free(kv);
    free(g_q);
    free(g_attn_ref);
    rope_kv_cache_free(g_cache);
    rope_pool_free(g_pool);
    rope_table_free(g_table);
    return check_report("test_pool_shared");
}
