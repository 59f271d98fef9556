/*
 * The KV cache beyond append + attend: keys written through the SIMD kernels
 * (bit-identical to rope_apply), context shift without drift (1000 random
 * shifts, then bit-equal to a fresh append at the final positions), removal,
 * errors that leave the cache unchanged, and the 8-bit cache (quantisation
 * fuzz incl. all-zero and non-finite blocks, attention within a derived bound
 * of the float32 cache).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rope.h"
#include "kernels/kernel.h" /* rope_isa_force, rope_isa_available: test hooks */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
    check_rand64(&rng_state);
    return (uint32_t)(rng_state >> 11);
}
static float urand(void) { return (float)(rnd() & 0xffffff) / 8388608.0f - 1.0f; } /* [-1, 1) */
static void fill(float *x, int64_t n, float amp) {
    for (int64_t i = 0; i < n; i++) x[i] = amp * urand();
}
static const char *dname(rope_dtype t) {
    return t == ROPE_F32 ? "f32" : t == ROPE_F16 ? "f16" : t == ROPE_BF16 ? "bf16" : "q8";
}

static rope_freqs g_freqs;
static rope_table *g_table;

/* RoPE params: table of 4096 rows (table != 0) or table-free; given style. */
static void setup_rope(int64_t D, int64_t R, rope_style style, int table, rope_apply_params *ap) {
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = D;
    cfg.partial_rotary_factor = (double)R / (double)D;
    cfg.rope_theta = 10000.0;
    CHECK_OK(rope_freqs_compute(&cfg, 0, &g_freqs));
    rope_table_free(g_table);
    g_table = NULL;
    if (table) CHECK_OK(rope_table_create(&g_freqs, 4096, ROPE_PRECISION_ACCURATE, &g_table));
    rope_apply_params_init(ap);
    ap->style = style;
    ap->freqs = table ? NULL : &g_freqs;
    ap->table = g_table;
    ap->rotary_dim = g_freqs.rotary_dim;
}

/* Everything a row holds, read back in the cache's own bits (f32 for q8). */
typedef struct snap {
    int64_t n;
    void *k, *v;
    int64_t *pos;
} snap;

static rope_dtype read_dtype(rope_dtype dt) { return dt == ROPE_Q8 ? ROPE_F32 : dt; }

static snap take(const rope_kv_cache *c, int64_t row, int64_t H, int64_t D, rope_dtype dt) {
    snap s = {0};
    CHECK_OK(rope_kv_cache_length(c, row, &s.n));
    rope_dtype rd = read_dtype(dt);
    size_t bytes = (size_t)(s.n * H * D) * rope_dtype_size(rd) + 1;
    s.k = calloc(1, bytes);
    s.v = calloc(1, bytes);
    s.pos = calloc((size_t)s.n + 1, sizeof(int64_t));
    rope_tensor tk, tv;
    rope_tensor_contiguous(&tk, s.k, rd, 1, s.n, H, D);
    rope_tensor_contiguous(&tv, s.v, rd, 1, s.n, H, D);
    CHECK_OK(rope_kv_cache_read(c, row, 0, s.n, &tk, &tv, s.pos));
    return s;
}
static int snap_eq(const snap *a, const snap *b, int64_t H, int64_t D, rope_dtype dt) {
    size_t bytes = (size_t)(a->n * H * D) * rope_dtype_size(read_dtype(dt));
    return a->n == b->n && !memcmp(a->k, b->k, bytes) && !memcmp(a->v, b->v, bytes) &&
           !memcmp(a->pos, b->pos, sizeof(int64_t) * (size_t)a->n);
}
static void snap_free(snap *s) {
    free(s->k);
    free(s->v);
    free(s->pos);
}

static rope_status append_at(rope_kv_cache *c, const rope_apply_params *ap, const int64_t *ids,
                             int64_t n, int64_t H, int64_t D, const float *k, const float *v) {
    rope_tensor tk, tv;
    rope_tensor_contiguous(&tk, (void *)k, ROPE_F32, 1, n, H, D);
    rope_tensor_contiguous(&tv, (void *)v, ROPE_F32, 1, n, H, D);
    rope_positions pos = {0};
    pos.ids = ids;
    return rope_kv_cache_append(c, ap, &pos, &tk, &tv);
}

/* ----------------------------------------- append: SIMD == rope_apply bits */

/* Keys read back equal rope_apply of the keys (converted to the cache dtype
 * first, as append documents) at the same positions, bit for bit, for every
 * kernel set, style, cache dtype, a strided f16 input and partial rotary dims. */
static void test_append_bits(const char *const *isas, int n_isa) {
    const int64_t H = 3, D = 40, N = 37;
    const rope_dtype dts[3] = {ROPE_F32, ROPE_F16, ROPE_BF16};
    float *k = malloc(sizeof(float) * N * H * D), *v = malloc(sizeof(float) * N * H * D);
    uint16_t *k16 = malloc(2 * N * H * D * 2);
    int64_t ids[37];
    for (int64_t i = 0; i < N; i++) ids[i] = (i * 977) % 4000;
    fill(k, N * H * D, 3.0f);
    fill(v, N * H * D, 1.0f);
    for (int ii = 0; ii < n_isa; ii++)
        for (int st = 1; st <= 2; st++)
            for (int di = 0; di < 3; di++)
                for (int R = 24; R <= 40; R += 16) {
                    CHECK_OK(rope_isa_force(isas[ii]));
                    rope_apply_params ap;
                    setup_rope(D, R, (rope_style)st, ii % 2, &ap);
                    const rope_dtype dt = dts[di];
                    rope_kv_cache_desc desc = {1, H, D, 2 * N, dt, ROPE_KV_ROTATED};
                    rope_kv_cache *c = NULL;
                    CHECK_OK(rope_kv_cache_create(&desc, &c));
                    if (!c) return;
                    /* first half f32 contiguous, second half f16 with element stride 2 */
                    const int64_t n1 = 20, n2 = N - n1;
                    CHECK_OK(append_at(c, &ap, ids, n1, H, D, k, v));
                    for (int64_t i = 0; i < n2 * H * D; i++) k16[2 * i] = rope_f32_to_f16(k[n1 * H * D + i]);
                    rope_tensor tk, tv;
                    rope_tensor_contiguous(&tk, k16, ROPE_F16, 1, n2, H, D);
                    for (int d = 0; d < 4; d++) tk.stride[d] *= 2;
                    rope_tensor_contiguous(&tv, v + n1 * H * D, ROPE_F32, 1, n2, H, D);
                    rope_positions pos = {0};
                    pos.ids = ids + n1;
                    CHECK_OK(rope_kv_cache_append(c, &ap, &pos, &tk, &tv));
                    /* expected: the keys as the cache dtype, rotated by rope_apply */
                    const size_t es = rope_dtype_size(dt);
                    unsigned char *want = malloc((size_t)(N * H * D) * es), *got = malloc((size_t)(N * H * D) * es);
                    for (int64_t i = 0; i < N * H * D; i++) {
                        float x = i < n1 * H * D ? k[i] : rope_f16_to_f32(k16[2 * (i - n1 * H * D)]);
                        if (dt == ROPE_F32) memcpy(want + 4 * i, &x, 4);
                        else {
                            uint16_t h = dt == ROPE_F16 ? rope_f32_to_f16(x) : rope_f32_to_bf16(x);
                            memcpy(want + 2 * i, &h, 2);
                        }
                    }
                    rope_tensor tw;
                    rope_tensor_contiguous(&tw, want, dt, 1, N, H, D);
                    rope_positions wp = {0};
                    wp.ids = ids;
                    CHECK_OK(rope_isa_force("scalar"));
                    CHECK_OK(rope_apply(&ap, &wp, &tw, &tw));
                    rope_tensor tg;
                    rope_tensor_contiguous(&tg, got, dt, 1, N, H, D);
                    CHECK_OK(rope_kv_cache_read(c, 0, 0, N, &tg, NULL, NULL));
                    CHECK_MSG(!memcmp(want, got, (size_t)(N * H * D) * es), "append bits: %s style %d %s R=%d",
                              isas[ii], st, dname(dt), R);
                    free(want);
                    free(got);
                    rope_kv_cache_free(c);
                }
    free(k);
    free(v);
    free(k16);
}

/* ------------------------------------------------------------------ shift */

/*
 * 1000 random shifts of random position ranges (mid-row ones included) of a
 * 2-row SHIFTABLE cache; some would push a position out of the table or below
 * 0 and must fail with the cache unchanged. At the end every row equals, bit
 * for bit, a fresh cache that appended the same keys and values at the final
 * positions (entry order kept); attention outputs are then equal too.
 */
static void test_shift_no_drift(rope_dtype dt) {
    const int64_t B = 2, H = 2, D = 64, N = 50, Hq = 4;
    rope_apply_params ap;
    setup_rope(D, D, ROPE_STYLE_HALF, 1, &ap); /* table of 4096 rows */
    rope_kv_cache_desc desc = {B, H, D, N, dt, ROPE_KV_SHIFTABLE};
    rope_kv_cache *c = NULL;
    CHECK_OK(rope_kv_cache_create(&desc, &c));
    if (!c) return;
    float *k = malloc(sizeof(float) * B * N * H * D), *v = malloc(sizeof(float) * B * N * H * D);
    fill(k, B * N * H * D, 2.0f);
    fill(v, B * N * H * D, 1.0f);
    int64_t pos[2][50];
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < N; i++) pos[b][i] = 1000 + 3 * i + b;
        rope_tensor tk, tv;
        rope_tensor_contiguous(&tk, k + b * N * H * D, ROPE_F32, 1, N, H, D);
        rope_tensor_contiguous(&tv, v + b * N * H * D, ROPE_F32, 1, N, H, D);
        (void)tk;
        (void)tv;
    }
    {
        rope_tensor tk, tv;
        rope_tensor_contiguous(&tk, k, ROPE_F32, B, N, H, D);
        rope_tensor_contiguous(&tv, v, ROPE_F32, B, N, H, D);
        rope_positions rp = {0};
        rp.ids = &pos[0][0];
        rp.ids_batch_stride = N;
        CHECK_OK(rope_kv_cache_append(c, &ap, &rp, &tk, &tv));
    }
    int n_bad = 0, n_ok = 0;
    for (int it = 0; it < 1000; it++) {
        const int64_t row = (int64_t)(rnd() % 3) - 1; /* -1, 0, 1 */
        int64_t p0 = (int64_t)(rnd() % 4200), p1 = p0 + (int64_t)(rnd() % 600);
        int64_t delta = (int64_t)(rnd() % 801) - 400;
        if (it % 10 == 5) { /* one in ten: a range that certainly leaves the table */
            p0 = 0;
            p1 = 4096;
            delta = it % 20 == 5 ? 4000 : -4000;
        }
        int expect_bad = 0, touched = 0;
        for (int64_t b = 0; b < B; b++) {
            if (row >= 0 && b != row) continue;
            for (int64_t i = 0; i < N; i++)
                if (pos[b][i] >= p0 && pos[b][i] < p1) {
                    touched = 1;
                    if (pos[b][i] + delta < 0 || pos[b][i] + delta > 4095) expect_bad = 1;
                }
        }
        snap before = {0};
        if (expect_bad) before = take(c, 0, H, D, dt);
        rope_status st = rope_kv_cache_shift(c, &ap, row, p0, p1, delta);
        if (expect_bad) {
            CHECK_STATUS(st, ROPE_E_POSITION);
            snap after = take(c, 0, H, D, dt);
            CHECK(snap_eq(&before, &after, H, D, dt));
            snap_free(&before);
            snap_free(&after);
            n_bad++;
            continue;
        }
        CHECK_OK(st);
        n_ok += touched;
        for (int64_t b = 0; b < B; b++) {
            if (row >= 0 && b != row) continue;
            for (int64_t i = 0; i < N; i++)
                if (pos[b][i] >= p0 && pos[b][i] < p1) pos[b][i] += delta;
        }
    }
    CHECK_MSG(n_bad >= 100 && n_ok > 150, "shift mix: %d rejected, %d applied", n_bad, n_ok);
    /* the fresh cache: same keys at the final positions */
    rope_kv_cache *f = NULL;
    desc.mode = ROPE_KV_ROTATED;
    CHECK_OK(rope_kv_cache_create(&desc, &f));
    rope_tensor tk, tv;
    rope_tensor_contiguous(&tk, k, ROPE_F32, B, N, H, D);
    rope_tensor_contiguous(&tv, v, ROPE_F32, B, N, H, D);
    rope_positions rp = {0};
    rp.ids = &pos[0][0];
    rp.ids_batch_stride = N;
    CHECK_OK(rope_kv_cache_append(f, &ap, &rp, &tk, &tv));
    for (int64_t b = 0; b < B; b++) {
        snap a = take(c, b, H, D, dt), w = take(f, b, H, D, dt);
        CHECK_MSG(snap_eq(&a, &w, H, D, dt), "%s row %lld: shifted != fresh", dname(dt), (long long)b);
        snap_free(&a);
        snap_free(&w);
    }
    /* attention sees the same cache: same bits out */
    float q[2 * 4 * 64], o1[2 * 4 * 64], o2[2 * 4 * 64];
    fill(q, B * Hq * D, 1.0f);
    rope_tensor tq, to1, to2;
    rope_tensor_contiguous(&tq, q, ROPE_F32, B, 1, Hq, D);
    rope_tensor_contiguous(&to1, o1, ROPE_F32, B, 1, Hq, D);
    rope_tensor_contiguous(&to2, o2, ROPE_F32, B, 1, Hq, D);
    rope_positions qp = {0};
    qp.offset = 2500;
    CHECK_OK(rope_attention(c, NULL, &qp, &tq, &to1));
    CHECK_OK(rope_attention(f, NULL, &qp, &tq, &to2));
    CHECK(!memcmp(o1, o2, sizeof o1));
    rope_kv_cache_free(f);

    /* remove: drop a mid-row position range, equal to a fresh cache of the rest */
    const int64_t r0 = pos[1][10], r1 = pos[1][10] + 1; /* at least one entry */
    CHECK_OK(rope_kv_cache_remove(c, 1, r0, r1));
    int64_t keep[50], m = 0;
    float *k2 = malloc(sizeof(float) * N * H * D), *v2 = malloc(sizeof(float) * N * H * D);
    for (int64_t i = 0; i < N; i++) {
        if (pos[1][i] >= r0 && pos[1][i] < r1) continue;
        memcpy(k2 + m * H * D, k + (N + i) * H * D, sizeof(float) * H * D);
        memcpy(v2 + m * H * D, v + (N + i) * H * D, sizeof(float) * H * D);
        keep[m++] = pos[1][i];
    }
    CHECK(m < N);
    rope_kv_cache_desc d1 = {1, H, D, N, dt, ROPE_KV_ROTATED};
    CHECK_OK(rope_kv_cache_create(&d1, &f));
    CHECK_OK(append_at(f, &ap, keep, m, H, D, k2, v2));
    snap a = take(c, 1, H, D, dt), w = take(f, 0, H, D, dt);
    CHECK_MSG(snap_eq(&a, &w, H, D, dt), "%s: remove != fresh", dname(dt));
    snap_free(&a);
    snap_free(&w);
    /* and shifting after a removal still re-rotates from the right originals */
    CHECK_OK(rope_kv_cache_shift(c, &ap, 1, 0, 4096, -1));
    for (int64_t i = 0; i < m; i++) keep[i] -= 1;
    rope_kv_cache_clear(f);
    CHECK_OK(append_at(f, &ap, keep, m, H, D, k2, v2));
    a = take(c, 1, H, D, dt);
    w = take(f, 0, H, D, dt);
    CHECK_MSG(snap_eq(&a, &w, H, D, dt), "%s: shift after remove != fresh", dname(dt));
    snap_free(&a);
    snap_free(&w);
    rope_kv_cache_free(f);
    free(k2);
    free(v2);
    free(k);
    free(v);
    rope_kv_cache_free(c);
}

static void test_shift_errors(void) {
    const int64_t H = 1, D = 8;
    rope_apply_params ap;
    setup_rope(D, D, ROPE_STYLE_INTERLEAVED, 1, &ap);
    rope_kv_cache_desc desc = {1, H, D, 8, ROPE_F32, ROPE_KV_ROTATED};
    rope_kv_cache *c = NULL;
    float k[4 * 8], v[4 * 8];
    fill(k, 32, 1.0f);
    fill(v, 32, 1.0f);
    int64_t ids[4] = {0, 1, 2, 3};
    CHECK_OK(rope_kv_cache_create(&desc, &c));
    CHECK_OK(append_at(c, &ap, ids, 4, H, D, k, v));
    CHECK_STATUS(rope_kv_cache_shift(c, &ap, 0, 0, 4, 1), ROPE_E_UNSUPPORTED); /* ROTATED */
    rope_kv_cache_free(c);
    desc.mode = (rope_kv_mode)7;
    CHECK_STATUS(rope_kv_cache_create(&desc, &c), ROPE_E_PARAM);
    desc.mode = ROPE_KV_SHIFTABLE;
    CHECK_OK(rope_kv_cache_create(&desc, &c));
    if (!c) return;
    /* SHIFTABLE needs the raw keys: no pre-rotated appends */
    CHECK_STATUS(append_at(c, NULL, ids, 4, H, D, k, v), ROPE_E_PARAM);
    CHECK_OK(append_at(c, &ap, ids, 4, H, D, k, v));
    snap s0 = take(c, 0, H, D, ROPE_F32);
    CHECK_STATUS(rope_kv_cache_shift(NULL, &ap, 0, 0, 4, 1), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_shift(c, NULL, 0, 0, 4, 1), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_shift(c, &ap, 1, 0, 4, 1), ROPE_E_PARAM);   /* no row 1 */
    CHECK_STATUS(rope_kv_cache_shift(c, &ap, -2, 0, 4, 1), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_shift(c, &ap, 0, 3, 2, 1), ROPE_E_PARAM);   /* p0 > p1 */
    CHECK_STATUS(rope_kv_cache_shift(c, &ap, 0, 1, 4, -2), ROPE_E_POSITION); /* 1 -> -1 */
    CHECK_STATUS(rope_kv_cache_shift(c, &ap, 0, 0, 4, 4093), ROPE_E_POSITION); /* 3 -> 4096 */
    CHECK_STATUS(rope_kv_cache_shift(c, &ap, 0, 0, 4, INT64_MAX), ROPE_E_POSITION);
    rope_apply_params bad = ap;
    bad.rotary_dim = 4; /* mismatched with the table: rope_apply's error, nothing moved */
    CHECK(rope_kv_cache_shift(c, &bad, 0, 0, 4, 1) != ROPE_OK);
    bad = ap;
    bad.table = NULL;
    CHECK_STATUS(rope_kv_cache_shift(c, &bad, 0, 0, 4, 1), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_remove(c, 0, 2, 1), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_remove(c, 3, 0, 1), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_remove(NULL, 0, 0, 1), ROPE_E_NULL);
    snap s1 = take(c, 0, H, D, ROPE_F32);
    CHECK(snap_eq(&s0, &s1, H, D, ROPE_F32));
    snap_free(&s1);
    /* an empty range and a zero delta change nothing */
    CHECK_OK(rope_kv_cache_shift(c, &ap, 0, 10, 10, 5));
    CHECK_OK(rope_kv_cache_shift(c, &ap, 0, 0, 4, 0));
    CHECK_OK(rope_kv_cache_remove(c, 0, 100, 200));
    s1 = take(c, 0, H, D, ROPE_F32);
    CHECK(snap_eq(&s0, &s1, H, D, ROPE_F32));
    snap_free(&s1);
    /* read: bad ranges and shapes */
    float out[8 * 8];
    rope_tensor t;
    rope_tensor_contiguous(&t, out, ROPE_F32, 1, 5, H, D);
    CHECK_STATUS(rope_kv_cache_read(c, 0, 0, 5, &t, NULL, NULL), ROPE_E_PARAM);
    rope_tensor_contiguous(&t, out, ROPE_F32, 1, 3, H, D);
    CHECK_STATUS(rope_kv_cache_read(c, 0, 2, 3, &t, NULL, NULL), ROPE_E_PARAM);
    CHECK_STATUS(rope_kv_cache_read(c, 0, 0, 2, &t, NULL, NULL), ROPE_E_SHAPE);
    CHECK_STATUS(rope_kv_cache_read(c, 0, -1, 2, NULL, NULL, NULL), ROPE_E_PARAM);
    snap_free(&s0);
    rope_kv_cache_free(c);
}

/* ------------------------------------------------------------------- q8 */

/*
 * Quantisation fuzz: blocks of random magnitude (2^-40 .. 2^40), all-zero
 * blocks, and head_dim not a multiple of 32. Every value read back is within
 * half a quantisation step (max|block| / 254, plus float rounding) of the
 * float32 value stored (the rotated key; the value as given), zero blocks come
 * back exactly zero, and a NaN or infinity makes its block NaN.
 */
static void test_q8_fuzz(void) {
    const int64_t H = 2, N = 70;
    const int64_t dims[3] = {32, 80, 10};
    for (int di = 0; di < 3; di++) {
        const int64_t D = dims[di];
        rope_apply_params ap;
        setup_rope(D, D, ROPE_STYLE_HALF, 0, &ap);
        float *k = malloc(sizeof(float) * N * H * D), *v = malloc(sizeof(float) * N * H * D);
        float *kr = malloc(sizeof(float) * N * H * D), *rk = malloc(sizeof(float) * N * H * D);
        float *rv = malloc(sizeof(float) * N * H * D);
        for (int64_t e = 0; e < N * H; e++)
            for (int64_t d0 = 0; d0 < D; d0 += 32) {
                const int64_t d1 = d0 + 32 < D ? d0 + 32 : D;
                const uint32_t kind = rnd() % 8;
                const float amp = ldexpf(1.0f, (int)(rnd() % 81) - 40);
                for (int64_t d = d0; d < d1; d++) {
                    k[e * D + d] = kind == 0 ? 0.0f : amp * urand();
                    v[e * D + d] = kind == 1 ? 0.0f : amp * urand();
                }
            }
        /* the half-rotation mixes dims d and d + D/2: make some keys wholly zero */
        for (int64_t e = 0; e < N * H; e += 5) memset(k + e * D, 0, sizeof(float) * (size_t)D);
        int64_t ids[70];
        for (int64_t i = 0; i < N; i++) ids[i] = i * 37;
        memcpy(kr, k, sizeof(float) * N * H * D);
        rope_tensor t;
        rope_tensor_contiguous(&t, kr, ROPE_F32, 1, N, H, D);
        rope_positions rp = {0};
        rp.ids = ids;
        CHECK_OK(rope_apply(&ap, &rp, &t, &t));
        rope_kv_cache_desc desc = {1, H, D, N, ROPE_Q8, ROPE_KV_ROTATED};
        rope_kv_cache *c = NULL;
        CHECK_OK(rope_kv_cache_create(&desc, &c));
        if (!c) return;
        CHECK_OK(append_at(c, &ap, ids, N, H, D, k, v));
        rope_tensor tk, tv;
        rope_tensor_contiguous(&tk, rk, ROPE_F32, 1, N, H, D);
        rope_tensor_contiguous(&tv, rv, ROPE_F32, 1, N, H, D);
        CHECK_OK(rope_kv_cache_read(c, 0, 0, N, &tk, &tv, NULL));
        int bad = 0, zeros = 0;
        for (int which = 0; which < 2; which++) {
            const float *x = which ? v : kr, *y = which ? rv : rk;
            for (int64_t e = 0; e < N * H; e++)
                for (int64_t d0 = 0; d0 < D; d0 += 32) {
                    const int64_t d1 = d0 + 32 < D ? d0 + 32 : D;
                    float amax = 0.0f;
                    for (int64_t d = d0; d < d1; d++) amax = fmaxf(amax, fabsf(x[e * D + d]));
                    if (amax == 0.0f) zeros++;
                    for (int64_t d = d0; d < d1; d++) {
                        double err = fabs((double)y[e * D + d] - (double)x[e * D + d]);
                        double bound = (double)amax / 254.0 * (1.0 + 1e-5) + 1e-44;
                        if (amax == 0.0f ? y[e * D + d] != 0.0f || signbit(y[e * D + d]) : !(err <= bound)) {
                            if (bad++ < 5)
                                fprintf(stderr, "q8 D=%lld %s e=%lld d=%lld: %g vs %g (amax %g)\n",
                                        (long long)D, which ? "v" : "k", (long long)e, (long long)d,
                                        (double)y[e * D + d], (double)x[e * D + d], (double)amax);
                        }
                    }
                }
        }
        CHECK_MSG(bad == 0, "q8 D=%lld: %d values outside half a step", (long long)D, bad);
        CHECK(zeros > 10);
        /* a non-finite value: its block reads back NaN, the others are unaffected */
        rope_kv_cache_clear(c);
        k[3] = INFINITY;
        v[D + 1] = NAN;
        CHECK_OK(append_at(c, NULL, ids, 1, H, D, k, v));
        CHECK_OK(rope_kv_cache_read(c, 0, 0, 1, NULL, NULL, NULL));
        rope_tensor_contiguous(&tk, rk, ROPE_F32, 1, 1, H, D);
        rope_tensor_contiguous(&tv, rv, ROPE_F32, 1, 1, H, D);
        CHECK_OK(rope_kv_cache_read(c, 0, 0, 1, &tk, &tv, NULL));
        CHECK(isnan(rk[0]) && isnan(rk[3]) && isnan(rv[D + 1]) && isnan(rv[D]));
        CHECK(!isnan(rk[D]) && !isnan(rv[0]));
        free(k);
        free(v);
        free(kr);
        free(rk);
        free(rv);
        rope_kv_cache_free(c);
    }
}

/*
 * Attention over a q8 cache vs the same data in an f32 cache, every kernel set.
 * The bound, derived: a key element is off by at most max|k| / 254, so a score
 * q·k·scale by at most Δ = scale · Σ|q_d| · max|k| / 254; probabilities then
 * change by a factor within e^(±2Δ), so the output moves by at most
 * max|v| · (e^(2Δ) − 1), plus max|v| / 254 from the values themselves
 * (+ 1e-4 for the float32 arithmetic of the two runs). The check also
 * reports the measured error against that bound.
 */
static void test_q8_attention(const char *const *isas, int n_isa, int64_t D) {
    const int64_t Hq = 8, H = 2, N = 1100, QL = 3;
    rope_apply_params ap;
    setup_rope(D, D, ROPE_STYLE_HALF, 0, &ap);
    float *k = malloc(sizeof(float) * N * H * D), *v = malloc(sizeof(float) * N * H * D);
    float *q = malloc(sizeof(float) * QL * Hq * D);
    float *o8 = malloc(sizeof(float) * QL * Hq * D), *o32 = malloc(sizeof(float) * QL * Hq * D);
    fill(k, N * H * D, 1.0f);
    fill(v, N * H * D, 1.0f);
    fill(q, QL * Hq * D, 1.0f);
    int64_t ids[1100];
    for (int64_t i = 0; i < N; i++) ids[i] = i;
    rope_tensor tq, to;
    rope_tensor_contiguous(&tq, q, ROPE_F32, 1, QL, Hq, D);
    rope_positions qp = {0};
    qp.offset = N - QL;
    CHECK_OK(rope_apply(&ap, &qp, &tq, &tq)); /* rotated queries */
    double kmax = 0, vmax = 0, q1 = 0;
    for (int64_t i = 0; i < N * H * D; i++) vmax = fmax(vmax, fabs(v[i]));
    kmax = sqrt(2.0); /* a rotated pair of |x| <= 1 stays within sqrt(2) */
    for (int64_t r = 0; r < QL * Hq; r++) {
        double s = 0;
        for (int64_t d = 0; d < D; d++) s += fabs(q[r * D + d]);
        q1 = fmax(q1, s);
    }
    const double delta = q1 / sqrt((double)D) * kmax / 254.0;
    const double bound = vmax * (exp(2 * delta) - 1) + vmax / 254.0 + 1e-4;
    for (int ii = 0; ii < n_isa; ii++) {
        CHECK_OK(rope_isa_force(isas[ii]));
        rope_kv_cache *c8 = NULL, *c32 = NULL;
        rope_kv_cache_desc d8 = {1, H, D, N, ROPE_Q8, ROPE_KV_ROTATED}, d32 = d8;
        d32.dtype = ROPE_F32;
        CHECK_OK(rope_kv_cache_create(&d8, &c8));
        CHECK_OK(rope_kv_cache_create(&d32, &c32));
        if (!c8 || !c32) return;
        CHECK_OK(append_at(c8, &ap, ids, N, H, D, k, v));
        CHECK_OK(append_at(c32, &ap, ids, N, H, D, k, v));
        rope_tensor_contiguous(&to, o8, ROPE_F32, 1, QL, Hq, D);
        CHECK_OK(rope_attention(c8, NULL, &qp, &tq, &to));
        rope_tensor_contiguous(&to, o32, ROPE_F32, 1, QL, Hq, D);
        CHECK_OK(rope_attention(c32, NULL, &qp, &tq, &to));
        double err = 0, mean = 0;
        for (int64_t i = 0; i < QL * Hq * D; i++) {
            double e = fabs((double)o8[i] - (double)o32[i]);
            if (!(e <= err)) err = e;
            mean += e;
        }
        mean /= (double)(QL * Hq * D);
        CHECK_MSG(err <= bound, "%s q8 vs f32: max err %.3g > bound %.3g", isas[ii], err, bound);
        if (ii == n_isa - 1)
            printf("q8 vs f32 attention (D=%lld, %lld keys, |q|,|k|,|v|<=1): max %.2e mean %.2e, "
                   "bound %.2e\n", (long long)D, (long long)N, err, mean, bound);
        rope_kv_cache_free(c8);
        rope_kv_cache_free(c32);
    }
    free(k);
    free(v);
    free(q);
    free(o8);
    free(o32);
}

/*
 * Decode over a long context splits the keys into chunks (flash-decoding) and
 * merges the partial softmax states: the result is the same bits for 1, 2 and
 * 3 threads, every cache dtype; a NaN key in one chunk makes the rows that see
 * it NaN; a padding query (id -1) gets zeros.
 */
static void test_split_decode(void) {
    const int64_t Hq = 6, H = 3, D = 64, N = 5000;
    const rope_dtype dts[4] = {ROPE_F32, ROPE_F16, ROPE_BF16, ROPE_Q8};
    float *k = malloc(sizeof(float) * N * H * D), *v = malloc(sizeof(float) * N * H * D);
    float q[2 * 6 * 64], o[3][2 * 6 * 64];
    fill(k, N * H * D, 1.0f);
    fill(v, N * H * D, 1.0f);
    fill(q, Hq * D, 1.0f);
    memcpy(q + Hq * D, q, sizeof(float) * Hq * D);
    int64_t *ids = malloc(sizeof(int64_t) * N);
    for (int64_t i = 0; i < N; i++) ids[i] = i;
    rope_pool *pools[3] = {NULL, NULL, NULL};
    CHECK_OK(rope_pool_create(2, &pools[1]));
    CHECK_OK(rope_pool_create(3, &pools[2]));
    for (int di = 0; di < 4; di++) {
        rope_kv_cache_desc desc = {2, H, D, N, dts[di], ROPE_KV_ROTATED};
        rope_kv_cache *c = NULL;
        CHECK_OK(rope_kv_cache_create(&desc, &c));
        if (!c) break;
        rope_positions rp = {0};
        rp.ids = ids;
        /* both rows hold the same keys and queries; row 1 has a NaN in the key
         * of entry 3000, kv head 0 (read by q heads 0 and 1) */
        rope_tensor tk2, tv2;
        float *k2 = malloc(sizeof(float) * 2 * N * H * D), *v2 = malloc(sizeof(float) * 2 * N * H * D);
        memcpy(k2, k, sizeof(float) * N * H * D);
        memcpy(k2 + N * H * D, k, sizeof(float) * N * H * D);
        memcpy(v2, v, sizeof(float) * N * H * D);
        memcpy(v2 + N * H * D, v, sizeof(float) * N * H * D);
        k2[N * H * D + 3000 * H * D + 5] = NAN;
        rope_tensor_contiguous(&tk2, k2, ROPE_F32, 2, N, H, D);
        rope_tensor_contiguous(&tv2, v2, ROPE_F32, 2, N, H, D);
        rp.ids_batch_stride = 0;
        CHECK_OK(rope_kv_cache_append(c, NULL, &rp, &tk2, &tv2));
        int64_t qid[2] = {N - 1, N - 1};
        for (int t = 0; t < 3; t++) {
            rope_attention_params ap;
            rope_attention_params_init(&ap);
            ap.pool = pools[t];
            rope_tensor tq, to;
            rope_tensor_contiguous(&tq, q, ROPE_F32, 2, 1, Hq, D);
            rope_tensor_contiguous(&to, o[t], ROPE_F32, 2, 1, Hq, D);
            rope_positions qp = {0};
            qp.ids = qid;
            qp.ids_batch_stride = 1;
            CHECK_OK(rope_attention(c, &ap, &qp, &tq, &to));
        }
        CHECK_MSG(!memcmp(o[0], o[1], sizeof o[0]) && !memcmp(o[0], o[2], sizeof o[0]),
                  "%s: split decode differs between thread counts", dname(dts[di]));
        /* row 0: finite; row 1: q heads 0, 1 (kv head 0) NaN, the others equal row 0 */
        int fin = 1, nan_ok = 1, same = 1;
        for (int64_t i = 0; i < Hq * D; i++) fin &= isfinite(o[0][i]);
        for (int64_t i = 0; i < 2 * D; i++) nan_ok &= isnan(o[0][Hq * D + i]);
        for (int64_t i = 2 * D; i < Hq * D; i++) same &= o[0][Hq * D + i] == o[0][i];
        CHECK_MSG(fin && nan_ok && same, "%s: NaN in one chunk: finite %d nan %d same %d",
                  dname(dts[di]), fin, nan_ok, same);
        /* a padding query in row 1 gets zeros, row 0 unchanged */
        qid[1] = -1;
        float o2[2 * 6 * 64];
        rope_tensor tq, to;
        rope_tensor_contiguous(&tq, q, ROPE_F32, 2, 1, Hq, D);
        rope_tensor_contiguous(&to, o2, ROPE_F32, 2, 1, Hq, D);
        rope_positions qp = {0};
        qp.ids = qid;
        qp.ids_batch_stride = 1;
        CHECK_OK(rope_attention(c, NULL, &qp, &tq, &to));
        int zeros = 1;
        for (int64_t i = 0; i < Hq * D; i++) zeros &= o2[Hq * D + i] == 0.0f;
        CHECK(zeros && !memcmp(o2, o[0], sizeof(float) * Hq * D));
        free(k2);
        free(v2);
        rope_kv_cache_free(c);
    }
    rope_pool_free(pools[1]);
    rope_pool_free(pools[2]);
    free(k);
    free(v);
    free(ids);
}

/* ----------------------------------------------------- fused QK-norm path */

/* The documented RMSNorm, written out: float64 sum and root, float32 products. */
static void ref_norm(const float *x, int64_t D, const float *w, float eps, int plus1, float *y) {
    double ss = 0.0;
    for (int64_t d = 0; d < D; d++) ss += (double)x[d] * (double)x[d];
    const float inv = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
    for (int64_t d = 0; d < D; d++) y[d] = (x[d] * inv) * (plus1 ? 1.0f + w[d] : w[d]);
}

static float ld(const void *p, int64_t i, rope_dtype dt) {
    if (dt == ROPE_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return dt == ROPE_F16 ? rope_f16_to_f32(h) : rope_bf16_to_f32(h);
}
static void st1(void *p, int64_t i, rope_dtype dt, float x) {
    if (dt == ROPE_F32) ((float *)p)[i] = x;
    else ((uint16_t *)p)[i] = dt == ROPE_F16 ? rope_f32_to_f16(x) : rope_f32_to_bf16(x);
}

/*
 * rope_kv_cache_append_qk_norm vs norm + rope_apply + rope_kv_cache_append,
 * for every cache dtype, f32 and f16 tensors, three head layouts (BSHD, BHSD and
 * one packed QKV buffer, heads of q, k, v interleaved per token), Qwen-style and
 * Gemma-style (1 + w) weights, and q without a norm. f32 tensors: same bits
 * (q_out and the cache); f16 tensors: within one f16 rounding (plus one step
 * of the cache's own rounding where it rounds again).
 */
static void test_fused_qk_norm(void) {
    const int64_t B = 2, n = 9, Hq = 4, H = 2, D = 64;
    const rope_dtype cdts[4] = {ROPE_F32, ROPE_F16, ROPE_BF16, ROPE_Q8};
    const rope_dtype tdts[2] = {ROPE_F32, ROPE_F16};
    float wq[64], wk[64];
    fill(wq, D, 1.5f);
    fill(wk, D, 1.5f);
    rope_apply_params ap;
    setup_rope(D, D, ROPE_STYLE_INTERLEAVED, 1, &ap);
    const int64_t tot = B * n * (Hq + 2 * H) * D;
    float *src = malloc(sizeof(float) * tot);
    fill(src, tot, 4.0f);
    int64_t ids[2 * 9];
    for (int64_t i = 0; i < B * n; i++) ids[i] = 100 + 7 * i;
    ids[n + 3] = -1; /* a padding token in row 1 */
    for (int ci = 0; ci < 4; ci++)
        for (int ti = 0; ti < 2; ti++)
            for (int layout = 0; layout < 3; layout++)
                for (int variant = 0; variant < 3; variant++) {
                    const rope_dtype cd = cdts[ci], td = tdts[ti];
                    const size_t es = rope_dtype_size(td);
                    /* one buffer per token: q heads, k heads, v heads (packed QKV) */
                    unsigned char *buf = malloc((size_t)tot * es), *buf2 = malloc((size_t)tot * es);
                    for (int64_t i = 0; i < tot; i++) st1(buf, i, td, src[i]);
                    rope_tensor tq, tk, tv;
                    const int64_t HT = Hq + 2 * H;
                    if (layout == 0) { /* separate BSHD tensors inside the buffer */
                        rope_tensor_contiguous(&tq, buf, td, B, n, Hq, D);
                        rope_tensor_contiguous(&tk, buf + (size_t)(B * n * Hq * D) * es, td, B, n, H, D);
                        rope_tensor_contiguous(&tv, buf + (size_t)(B * n * (Hq + H) * D) * es, td, B, n, H, D);
                    } else if (layout == 2) { /* BHSD: heads outer, tokens inner */
                        rope_tensor_contiguous(&tq, buf, td, B, n, Hq, D);
                        rope_tensor_contiguous(&tk, buf + (size_t)(B * n * Hq * D) * es, td, B, n, H, D);
                        rope_tensor_contiguous(&tv, buf + (size_t)(B * n * (Hq + H) * D) * es, td, B, n, H, D);
                        for (rope_tensor *t = &tq; t; t = t == &tq ? &tk : t == &tk ? &tv : NULL) {
                            t->stride[1] = D;
                            t->stride[2] = n * D;
                        }
                    } else { /* packed: token stride (Hq + 2H)·D */
                        rope_tensor_contiguous(&tq, buf, td, B, n, Hq, D);
                        tk = tq;
                        tv = tq;
                        tk.data = buf + (size_t)(Hq * D) * es;
                        tv.data = buf + (size_t)((Hq + H) * D) * es;
                        tk.shape[2] = tv.shape[2] = H;
                        for (rope_tensor *t = &tq; t; t = t == &tq ? &tk : t == &tk ? &tv : NULL) {
                            t->stride[0] = n * HT * D;
                            t->stride[1] = HT * D;
                        }
                    }
                    memcpy(buf2, buf, (size_t)tot * es);
                    rope_qk_norm nm = {variant == 2 ? NULL : wq, wk, 1e-6f, variant == 1};
                    rope_kv_cache_desc desc = {B, H, D, n, cd, ROPE_KV_ROTATED};
                    rope_kv_cache *cf = NULL, *cu = NULL;
                    CHECK_OK(rope_kv_cache_create(&desc, &cf));
                    CHECK_OK(rope_kv_cache_create(&desc, &cu));
                    if (!cf || !cu) return;
                    rope_positions rp = {0};
                    rp.ids = ids;
                    rp.ids_batch_stride = n;
                    CHECK_OK(rope_kv_cache_append_qk_norm(cf, &ap, &nm, &rp, &tq, &tq, &tk, &tv));
                    /* unfused on the copy: norm in place (rounded to td), rope q, append */
                    rope_tensor uq = tq, uk = tk, uv = tv;
                    uq.data = buf2 + ((unsigned char *)tq.data - buf);
                    uk.data = buf2 + ((unsigned char *)tk.data - buf);
                    uv.data = buf2 + ((unsigned char *)tv.data - buf);
                    float x[64];
                    for (int which = 0; which < 2; which++) {
                        const rope_tensor *t = which ? &uk : &uq;
                        const float *w = which ? nm.k_weight : nm.q_weight;
                        if (!w) continue;
                        for (int64_t b = 0; b < B; b++)
                            for (int64_t s2 = 0; s2 < n; s2++)
                                for (int64_t h = 0; h < t->shape[2]; h++) {
                                    int64_t o = b * t->stride[0] + s2 * t->stride[1] + h * t->stride[2];
                                    for (int64_t d = 0; d < D; d++) x[d] = ld(t->data, o + d, td);
                                    ref_norm(x, D, w, nm.eps, nm.weight_plus_one, x);
                                    for (int64_t d = 0; d < D; d++) st1(t->data, o + d, td, x[d]);
                                }
                    }
                    for (int64_t b = 0; b < B; b++)
                        for (int64_t s2 = 0; s2 < n; s2++) {
                            if (ids[b * n + s2] < 0) continue;
                            rope_tensor one = uq;
                            one.data = (unsigned char *)uq.data + (size_t)(b * uq.stride[0] + s2 * uq.stride[1]) * es;
                            one.shape[0] = one.shape[1] = 1;
                            rope_positions op = {0};
                            op.offset = ids[b * n + s2];
                            CHECK_OK(rope_apply(&ap, &op, &one, &one));
                        }
                    CHECK_OK(rope_kv_cache_append(cu, &ap, &rp, &uk, &uv));
                    /* compare q_out */
                    double qerr = 0, kerr = 0;
                    for (int64_t b = 0; b < B; b++)
                        for (int64_t s2 = 0; s2 < n; s2++)
                            for (int64_t h = 0; h < Hq; h++) {
                                int64_t o = b * tq.stride[0] + s2 * tq.stride[1] + h * tq.stride[2];
                                double mx = 0;
                                for (int64_t d = 0; d < D; d++) mx = fmax(mx, fabs(ld(buf2, o + d, td)));
                                for (int64_t d = 0; d < D; d++) {
                                    double a = ld(buf, o + d, td), u = ld(buf2, o + d, td);
                                    double e = fabs(a - u) / (mx > 0 ? mx : 1);
                                    if (!(e <= qerr)) qerr = e;
                                }
                            }
                    for (int64_t b = 0; b < B; b++) {
                        int64_t lf = -1, lu = -2;
                        CHECK_OK(rope_kv_cache_length(cf, b, &lf));
                        CHECK_OK(rope_kv_cache_length(cu, b, &lu));
                        CHECK_EQ_INT(lf, lu);
                        float *kf = malloc(sizeof(float) * (size_t)(lf * H * D)), *ku = malloc(sizeof(float) * (size_t)(lf * H * D));
                        rope_tensor a1, a2;
                        rope_tensor_contiguous(&a1, kf, ROPE_F32, 1, lf, H, D);
                        rope_tensor_contiguous(&a2, ku, ROPE_F32, 1, lf, H, D);
                        CHECK_OK(rope_kv_cache_read(cf, b, 0, lf, &a1, NULL, NULL));
                        CHECK_OK(rope_kv_cache_read(cu, b, 0, lf, &a2, NULL, NULL));
                        for (int64_t r = 0; r < lf * H; r++) {
                            double mx = 0;
                            for (int64_t d = 0; d < D; d++) mx = fmax(mx, fabs(ku[r * D + d]));
                            for (int64_t d = 0; d < D; d++) {
                                double e = fabs((double)kf[r * D + d] - ku[r * D + d]) / (mx > 0 ? mx : 1);
                                if (!(e <= kerr)) kerr = e;
                            }
                        }
                        free(kf);
                        free(ku);
                    }
                    const double ctol = cd == ROPE_F32 ? 0 : cd == ROPE_F16 ? 0x1p-10 : cd == ROPE_BF16 ? 0x1p-7 : 1.0 / 127;
                    const double qtol = td == ROPE_F32 ? 0 : 0x1p-9;
                    CHECK_MSG(qerr <= qtol && kerr <= (td == ROPE_F32 ? 0 : qtol + ctol),
                              "fused qk-norm cache %s tensors %s layout %d variant %d: q %.3g k %.3g",
                              dname(cd), dname(td), layout, variant, qerr, kerr);
                    rope_kv_cache_free(cf);
                    rope_kv_cache_free(cu);
                    free(buf);
                    free(buf2);
                }
    free(src);
    /* errors: nothing written */
    rope_kv_cache_desc desc = {1, H, D, 4, ROPE_F32, ROPE_KV_ROTATED};
    rope_kv_cache *c = NULL;
    CHECK_OK(rope_kv_cache_create(&desc, &c));
    float q[8 * 4 * 64], k[8 * 2 * 64], v[8 * 2 * 64];
    fill(q, 8 * Hq * D, 1.0f);
    fill(k, 8 * H * D, 1.0f);
    fill(v, 8 * H * D, 1.0f);
    float q0[8 * 4 * 64];
    memcpy(q0, q, sizeof q);
    rope_tensor tq, tk, tv;
    rope_tensor_contiguous(&tq, q, ROPE_F32, 1, 5, Hq, D);
    rope_tensor_contiguous(&tk, k, ROPE_F32, 1, 5, H, D);
    rope_tensor_contiguous(&tv, v, ROPE_F32, 1, 5, H, D);
    rope_qk_norm nm = {wq, wk, 1e-6f, 0};
    CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &ap, &nm, NULL, &tq, &tq, &tk, &tv), ROPE_E_CAPACITY);
    nm.eps = -1.0f;
    rope_tensor_contiguous(&tq, q, ROPE_F32, 1, 3, Hq, D);
    rope_tensor_contiguous(&tk, k, ROPE_F32, 1, 3, H, D);
    rope_tensor_contiguous(&tv, v, ROPE_F32, 1, 3, H, D);
    CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &ap, &nm, NULL, &tq, &tq, &tk, &tv), ROPE_E_PARAM);
    nm.eps = 1e-6f;
    CHECK_STATUS(rope_kv_cache_append_qk_norm(c, NULL, &nm, NULL, &tq, &tq, &tk, &tv), ROPE_E_NULL);
    rope_positions far = {0};
    far.offset = 4094; /* 4094..4096: leaves the 4096-row table */
    CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &ap, &nm, &far, &tq, &tq, &tk, &tv), ROPE_E_POSITION);
    rope_tensor shifted = tq;
    shifted.data = q + 1; /* overlaps q_in without being it */
    CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &ap, &nm, NULL, &tq, &shifted, &tk, &tv), ROPE_E_OVERLAP);
    rope_tensor bad = tq;
    bad.shape[1] = 2;
    CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &ap, &nm, NULL, &bad, &bad, &tk, &tv), ROPE_E_SHAPE);
    int64_t len = -1;
    CHECK_OK(rope_kv_cache_length(c, 0, &len));
    CHECK_EQ_INT(len, 0);
    CHECK(!memcmp(q, q0, sizeof q));
    rope_kv_cache_free(c);
}

/* ----------------------------------------------------- rotate when read */

static rope_status attend(const rope_kv_cache *c, const rope_apply_params *rope, rope_pool *pool,
                          const float *q, int64_t B, int64_t L, int64_t Hq, int64_t D,
                          int64_t q0, float *out) {
    rope_attention_params p;
    rope_attention_params_init(&p);
    p.rope = rope;
    p.pool = pool;
    rope_tensor tq, to;
    rope_tensor_contiguous(&tq, (void *)q, ROPE_F32, B, L, Hq, D);
    rope_tensor_contiguous(&to, out, ROPE_F32, B, L, Hq, D);
    rope_positions qp = {0};
    qp.offset = q0;
    return rope_attention(c, &p, &qp, &tq, &to);
}

/*
 * ROPE_KV_UNROTATED: keys kept as given, rotated by the attention call's rope.
 * Against a ROTATED cache appended with the same rope: the same bits for f32
 * (prefill chunk and split decode), within the stored dtype's rounding
 * otherwise; with other frequencies (a larger base, as dynamic NTK gives when
 * the context grows) it equals a ROTATED cache built with those. A shift moves
 * positions only (rope may be NULL), equal to appending at the new positions.
 * Errors: no rope, a position outside the rope's table, both leave out untouched.
 */
static void test_unrotated(const char *const *isas, int n_isa) {
    const int64_t B = 2, Hq = 4, H = 2, D = 64, N = 2600, L = 5;
    const rope_dtype dts[4] = {ROPE_F32, ROPE_F16, ROPE_BF16, ROPE_Q8};
    float *k = malloc(sizeof(float) * B * N * H * D), *v = malloc(sizeof(float) * B * N * H * D);
    float q[2 * 5 * 4 * 64], o1[2 * 5 * 4 * 64], o2[2 * 5 * 4 * 64];
    fill(k, B * N * H * D, 1.0f);
    fill(v, B * N * H * D, 1.0f);
    fill(q, B * L * Hq * D, 1.0f);
    rope_freqs fb;
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = D;
    cfg.rope_theta = 40000.0; /* "after the context grew" */
    CHECK_OK(rope_freqs_compute(&cfg, 0, &fb));
    rope_pool *pool = NULL;
    CHECK_OK(rope_pool_create(2, &pool));
    for (int ii = 0; ii < n_isa; ii++)
        for (int di = 0; di < 4; di++) {
            CHECK_OK(rope_isa_force(isas[ii]));
            rope_apply_params ra, rb;
            setup_rope(D, D, ROPE_STYLE_HALF, 1, &ra); /* table of 4096 rows, base 1e4 */
            rb = ra;
            rb.table = NULL;
            rb.freqs = &fb;
            const rope_dtype dt = dts[di];
            const double tol = dt == ROPE_F32 ? 0.0 : dt == ROPE_F16 ? 2e-3 : dt == ROPE_BF16 ? 2e-2 : 5e-3;
            for (int which = 0; which < 2; which++) {
                const rope_apply_params *rp = which ? &rb : &ra;
                rope_kv_cache_desc du = {B, H, D, N, dt, ROPE_KV_UNROTATED}, dr = du;
                dr.mode = ROPE_KV_ROTATED;
                rope_kv_cache *cu = NULL, *cr = NULL;
                CHECK_OK(rope_kv_cache_create(&du, &cu));
                CHECK_OK(rope_kv_cache_create(&dr, &cr));
                if (!cu || !cr) return;
                rope_tensor tk, tv;
                rope_tensor_contiguous(&tk, k, ROPE_F32, B, N, H, D);
                rope_tensor_contiguous(&tv, v, ROPE_F32, B, N, H, D);
                rope_positions p0 = {0};
                p0.offset = 10;
                CHECK_OK(rope_kv_cache_append(cu, &ra, &p0, &tk, &tv)); /* ra: checks only */
                CHECK_OK(rope_kv_cache_append(cr, rp, &p0, &tk, &tv));
                for (int dec = 0; dec < 2; dec++) {
                    const int64_t LL = dec ? 1 : L, qpos = dec ? N + 9 : N + 5 - L;
                    CHECK_OK(attend(cu, rp, dec ? pool : NULL, q, B, LL, Hq, D, qpos, o1));
                    CHECK_OK(attend(cr, NULL, NULL, q, B, LL, Hq, D, qpos, o2));
                    double err = 0;
                    for (int64_t i = 0; i < B * LL * Hq * D; i++) {
                        double e = fabs((double)o1[i] - o2[i]);
                        if (!(e <= err)) err = e;
                    }
                    CHECK_MSG(err <= tol, "%s %s unrotated vs rotated (%s freqs, %s): %.3g", isas[ii],
                              dname(dt), which ? "new" : "same", dec ? "split decode" : "chunk", err);
                }
                if (which == 0 && ii == 0) {
                    /* shift: positions only, no rope needed */
                    CHECK_OK(rope_kv_cache_shift(cu, NULL, 1, 0, 1000, 3000));
                    CHECK_STATUS(rope_kv_cache_shift(cu, NULL, 0, 0, 100, -11), ROPE_E_POSITION);
                    CHECK_STATUS(rope_kv_cache_shift(cu, &ra, 0, 2000, 3000, 2000), ROPE_E_POSITION);
                    int64_t *pos = malloc(sizeof(int64_t) * N);
                    CHECK_OK(rope_kv_cache_read(cu, 1, 0, N, NULL, NULL, pos));
                    int ok = 1;
                    for (int64_t i = 0; i < N; i++) ok &= pos[i] == (i + 10 < 1000 ? i + 3010 : i + 10);
                    CHECK(ok);
                    free(pos);
                    /* errors: no rope, a position outside the table; out untouched */
                    memset(o1, 0x5a, sizeof o1);
                    memcpy(o2, o1, sizeof o1);
                    CHECK_STATUS(attend(cu, NULL, NULL, q, B, 1, Hq, D, N, o1), ROPE_E_NULL);
                    rope_kv_cache_clear(cu);
                    p0.offset = 4093; /* 4093..4097: past the 4096-row table */
                    rope_tensor_contiguous(&tk, k, ROPE_F32, B, 5, H, D);
                    rope_tensor_contiguous(&tv, v, ROPE_F32, B, 5, H, D);
                    CHECK_OK(rope_kv_cache_append(cu, NULL, &p0, &tk, &tv)); /* no rope: no check */
                    CHECK_STATUS(attend(cu, &ra, NULL, q, B, 1, Hq, D, 5000, o1), ROPE_E_POSITION);
                    CHECK(!memcmp(o1, o2, sizeof o1));
                    /* DeepSeek-V3's de-interleaving layout moves dims: not rotated inside a tile */
                    rope_apply_params rd = ra;
                    rd.style = ROPE_STYLE_DEINTERLEAVE;
                    CHECK_STATUS(attend(cu, &rd, NULL, q, B, 1, Hq, D, 4000, o1), ROPE_E_UNSUPPORTED);
                    CHECK(!memcmp(o1, o2, sizeof o1));
                }
                rope_kv_cache_free(cu);
                rope_kv_cache_free(cr);
            }
        }
    rope_pool_free(pool);
    free(k);
    free(v);
}

int main(void) {
    int n_isa = 0;
    const char *const *isas = rope_isa_available(&n_isa);
    test_append_bits(isas, n_isa);
    const rope_dtype dts[4] = {ROPE_F32, ROPE_F16, ROPE_BF16, ROPE_Q8};
    for (int i = 0; i < n_isa; i++) {
        CHECK_OK(rope_isa_force(isas[i]));
        for (int d = 0; d < 4; d++) test_shift_no_drift(dts[d]);
    }
    test_shift_errors();
    test_q8_fuzz();
    test_q8_attention(isas, n_isa, 128);
    test_q8_attention(isas, n_isa, 40); /* a partial scale block */
    test_q8_attention(isas, n_isa, 10); /* head_dim below one vector */
    test_split_decode();
    test_fused_qk_norm();
    test_unrotated(isas, n_isa);
    rope_table_free(g_table);
    return check_report("test_kv_cache");
}
