/*
 * llama/qmatmul: quantised dot products.
 *   - every kernel set available here (AVX2, AVX-512 VNNI, NEON) gives exactly
 *     the scalar reference's bits, for the eight block types, on random blocks
 *     with ordinary and extreme scales (f16 max, subnormal, zero, negative)
 *     and activations from 1e-30 to 1e30, zero blocks included;
 *   - the reference against float64: Σ dequantised weight × dequantised
 *     activation, within float rounding;
 *   - dequantisation against the gguf package (golden/llama/dequant, from
 *     gen_dequant_golden.py and gen_kquant_golden.py);
 *   - activation quantisation: codes in [-127, 127], error <= d/2;
 *   - matvec over split row ranges = whole.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "qmatmul.h"
#include "rope.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    check_rand64(&rng_state);
    return rng_state;
}
static double urand(void) { return (double)(rnd() >> 11) * 0x1p-53; }

static const uint32_t TYPES[] = {2, 3, 6, 7, 8, 12, 13, 14};
static const char *const NAMES[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"};
enum { N_TYPES = 8 };

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* An f16 scale: mostly ordinary, sometimes extreme. */
static uint16_t rand_scale(int extreme) {
    if (extreme) {
        static const uint16_t ex[] = {0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x0000, 0x0400, 0x3C00};
        return ex[rnd() % 7];
    }
    return rope_f32_to_f16((float)(urand() * 4.0 - 2.0) * 0.05f);
}

/* Offsets of the f16 fields of each type's block (the rest: random bytes). */
static void fill_block(uint32_t type, uint8_t *b, size_t bytes, int extreme) {
    for (size_t i = 0; i < bytes; i++) b[i] = (uint8_t)rnd();
    switch (type) {
    case 2: case 6: case 8: put16(b, rand_scale(extreme)); break;
    case 3: case 7: case 12: case 13:
        put16(b, rand_scale(extreme));
        put16(b + 2, rand_scale(extreme));
        break;
    case 14: put16(b + 208, rand_scale(extreme)); break;
    }
}

static int same_float(float a, float b) {
    if (isnan(a) && isnan(b)) return 1;
    return memcmp(&a, &b, sizeof a) == 0;
}

static void fill_act(float *x, int64_t n, int extreme) {
    for (int64_t b = 0; b < n / 32; b++) {
        double mag = 1.0;
        if (extreme) {
            static const double mags[] = {1e-30, 1e30, 0.0, 1e-3, 1e3, 1.0};
            mag = mags[rnd() % 6];
        }
        for (int i = 0; i < 32; i++) x[32 * b + i] = (float)((urand() * 2.0 - 1.0) * mag);
    }
}

/* Kernels against the reference, and the reference against float64, for rows
 * of COLS values: a multiple of 8 blocks or not (the kernels take 8 blocks at
 * a time, then the rest with masked loads), and a whole matrix-vector product
 * (rows two at a time, then one) against the reference row by row. */
static void test_dots_cols(const char *isa, int64_t COLS) {
    enum { ROWS = 23 };
    qm_act a;
    CHECK(qm_act_alloc(&a, 1024) == 0); /* larger than COLS: the padding is redone */
    float x[1024], y[ROWS];
    for (int t = 0; t < N_TYPES; t++) {
        const uint32_t type = TYPES[t];
        const size_t rb = qm_row_bytes(type, COLS);
        const int64_t blk = qm_type_block(type);
        if (COLS % blk) continue;
        const size_t bb = rb / (size_t)(COLS / blk);
        uint8_t *rows = malloc(rb * ROWS);
        float *w = malloc(sizeof(float) * COLS);
        int mismatches = 0, far = 0;
        for (int rep = 0; rep < 6; rep++) {
            const int extreme = rep >= 3;
            for (int r = 0; r < ROWS; r++)
                for (int64_t k = 0; k < COLS / blk; k++)
                    fill_block(type, rows + r * rb + (size_t)k * bb, bb, extreme && r % 2);
            fill_act(x, 1024, extreme);
            qm_quantize(x, 1024, &a); /* then a shorter row: padding past COLS */
            qm_quantize(x, COLS, &a);
            qm_matrix m;
            CHECK(qm_matrix_init(&m, type, ROWS, COLS, rows) == 0);
            qm_matvec(&m, &a, y, 0, ROWS, 0);
            for (int r = 0; r < ROWS; r++) {
                const uint8_t *row = rows + r * rb;
                const float ref = qm_dot_ref(type, row, &a), got = qm_dot(type, row, &a);
                if (!same_float(ref, got) || !same_float(ref, y[r])) {
                    if (mismatches++ < 3)
                        fprintf(stderr, "%s %s cols %lld rep %d row %d: kernel %.9g, matvec %.9g, "
                                "reference %.9g\n", isa, NAMES[t], (long long)COLS, rep, r, got,
                                y[r], ref);
                }
                if (extreme) continue;
                /* float64: Σ_k d_k Σ_i w_i q_i with the dequantised weights */
                qm_dequant_rows(&m, r, r + 1, w);
                double sum = 0.0, mag = 0.0;
                for (int64_t i = 0; i < COLS; i++) {
                    const double v = (double)w[i] * a.q[i] * a.d[i / 32];
                    sum += v;
                    mag += fabs(v);
                }
                if (fabs(sum - ref) > 1e-5 * mag + 1e-30) {
                    if (far++ < 3)
                        fprintf(stderr, "%s row %d: reference %.9g, float64 %.9g (mag %.3g)\n",
                                NAMES[t], r, ref, sum, mag);
                }
            }
        }
        CHECK_MSG(mismatches == 0, "%s %s cols %lld: %d dot products differ from the reference",
                  isa, NAMES[t], (long long)COLS, mismatches);
        CHECK_MSG(far == 0, "%s: %d reference dots far from float64", NAMES[t], far);
        free(rows);
        free(w);
    }
    qm_act_free(&a);
}

static void test_dots(const char *isa) {
    static const int64_t cols[] = {1024, 768, 576, 608, 640, 736, 160, 96, 32};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) test_dots_cols(isa, cols[i]);
}

/* qm_gemm (rows × several tokens) against the reference for every (row,
 * token): 37 rows (two tiles of 16 and 5 more), 1 to 9 tokens (groups of 4
 * and the rest), extreme scales and activations, accumulate. */
static void test_gemm(const char *isa) {
    enum { ROWS = 37, NT = 9 };
    static const int64_t cols[] = {1024, 576, 160};
    if (!qm_gemm_available()) {
        printf("%s: no matrix-matrix kernel\n", isa);
        return;
    }
    qm_act acts[NT];
    for (int t = 0; t < NT; t++) CHECK(qm_act_alloc(&acts[t], 1024) == 0);
    float x[1024], y[NT][ROWS + 3];
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        for (int ty = 0; ty < N_TYPES; ty++) {
            const uint32_t type = TYPES[ty];
            const int64_t COLS = cols[c], blk = qm_type_block(type);
            if (COLS % blk) continue;
            const size_t rb = qm_row_bytes(type, COLS), bb = rb / (size_t)(COLS / blk);
            uint8_t *rows = malloc(rb * ROWS);
            int bad = 0;
            for (int rep = 0; rep < 4; rep++) {
                const int extreme = rep >= 2;
                for (int r = 0; r < ROWS; r++)
                    for (int64_t k = 0; k < COLS / blk; k++)
                        fill_block(type, rows + r * rb + (size_t)k * bb, bb, extreme && r % 2);
                for (int t = 0; t < NT; t++) {
                    fill_act(x, COLS, extreme);
                    qm_quantize(x, COLS, &acts[t]);
                }
                qm_matrix m;
                CHECK(qm_matrix_init(&m, type, ROWS, COLS, rows) == 0);
                static const int ns[4] = {1, 4, 7, 9};
                const int n = ns[rep];
                for (int t = 0; t < NT; t++)
                    for (int r = 0; r < ROWS + 3; r++) y[t][r] = (float)r;
                CHECK(qm_gemm(&m, acts, n, &y[0][0], ROWS + 3, 1, ROWS, rep == 1) == 1);
                for (int t = 0; t < NT; t++)
                    for (int r = 0; r < ROWS + 3; r++) {
                        float want = (float)r; /* untouched outside rows 1..36, tokens < n */
                        if (t < n && r >= 1 && r < ROWS) {
                            const float d = qm_dot_ref(type, rows + r * rb, &acts[t]);
                            want = rep == 1 ? (float)r + d : d;
                        }
                        bad += !same_float(y[t][r], want);
                    }
            }
            CHECK_MSG(bad == 0, "%s gemm %s cols %lld: %d products differ from the reference", isa,
                      NAMES[ty], (long long)COLS, bad);
            free(rows);
        }
    for (int t = 0; t < NT; t++) qm_act_free(&acts[t]);
}

/* The kernel set's quantiser: the reference's bits, padding included. */
static void test_quantize_same(const char *isa) {
    enum { N = 1024 };
    static const int64_t cols[] = {1024, 576, 96, 32};
    float x[N];
    qm_act a, b;
    CHECK(qm_act_alloc(&a, N) == 0 && qm_act_alloc(&b, N) == 0);
    int bad = 0;
    for (int rep = 0; rep < 4; rep++) {
        fill_act(x, N, rep >= 2);
        if (rep == 3) x[100] = NAN, x[300] = -INFINITY, x[600] = INFINITY;
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            qm_quantize(x, N, &a);
            qm_quantize_ref(x, N, &b);
            qm_quantize(x, cols[c], &a);
            qm_quantize_ref(x, cols[c], &b);
            const size_t cap = (size_t)a.cap_blocks;
            bad += a.n_blocks != b.n_blocks;
            bad += memcmp(a.q, b.q, 32 * cap) != 0;
            bad += memcmp(a.qp, b.qp, 32 * cap) != 0;
            bad += memcmp(a.qsum, b.qsum, 4 * cap) != 0;
            bad += memcmp(a.qs16, b.qs16, 4 * cap) != 0;
            for (size_t k = 0; k < cap; k++)
                bad += !same_float(a.d[k], b.d[k]) || !same_float(a.s[k], b.s[k]);
        }
    }
    CHECK_MSG(bad == 0, "%s: quantisation differs from the reference (%d)", isa, bad);
    qm_act_free(&a);
    qm_act_free(&b);
}

/* Codes in [-127, 127]; |x - q·d| <= d/2 (+ rounding of the division). */
static void test_quantize(void) {
    enum { N = 256 };
    float x[N];
    qm_act a;
    CHECK(qm_act_alloc(&a, N) == 0);
    fill_act(x, N, 1);
    x[5] = 0.0f;
    qm_quantize(x, N, &a);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const float d = a.d[i / 32];
        if (a.q[i] == -128) bad++; /* int8 holds the rest of [-127, 127] */
        if (fabs((double)x[i] - (double)a.q[i] * d) > 0.5001 * d) bad++;
    }
    for (int b = 0; b < N / 32; b++) {
        int s0 = 0, s1 = 0;
        for (int i = 0; i < 16; i++) s0 += a.q[32 * b + i], s1 += a.q[32 * b + 16 + i];
        if (a.qs16[2 * b] != s0 || a.qs16[2 * b + 1] != s1) bad++;
        if (!same_float(a.s[b], a.d[b] * (float)(s0 + s1))) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* a NaN or an Inf in a block: codes 0 and a non-finite scale, so every
     * product with that block is NaN/Inf, never a silently finite value */
    x[40] = NAN;
    x[70] = INFINITY;
    qm_quantize(x, N, &a);
    CHECK(isnan(a.d[1]) && !isfinite(a.d[2]) && isfinite(a.d[0]));
    for (int i = 32; i < 96; i++) bad += a.q[i] != 0;
    CHECK_EQ_INT(bad, 0);
    qm_act_free(&a);
}

static long read_file(const char *path, void *buf, long cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

/* qm_dequant_rows against the gguf package's numpy dequantisation. */
static void test_dequant_golden(void) {
    static const struct {
        uint32_t type;
        const char *dir, *name;
    } G[] = {{2, "dequant", "Q4_0"}, {3, "dequant", "Q4_1"}, {6, "dequant", "Q5_0"},
             {7, "dequant", "Q5_1"}, {8, "dequant", "Q8_0"}, {12, "dequant", "Q4_K"},
             {13, "dequant", "Q5_K"}, {14, "dequant", "Q6_K"}};
    static uint8_t raw[8192];
    static float want[8192], got[8192];
    for (size_t g = 0; g < sizeof G / sizeof G[0]; g++) {
        char path[256];
        snprintf(path, sizeof path, "golden/llama/%s/%s.bin", G[g].dir, G[g].name);
        long nb = read_file(path, raw, sizeof raw);
        snprintf(path, sizeof path, "golden/llama/%s/%s.f32", G[g].dir, G[g].name);
        long nf = read_file(path, want, sizeof want);
        CHECK_MSG(nb > 0 && nf > 0, "%s: golden files missing", G[g].name);
        if (nb <= 0 || nf <= 0) continue;
        const int64_t cols = nf / 4;
        qm_matrix m;
        CHECK(qm_matrix_init(&m, G[g].type, 1, cols, raw) == 0);
        CHECK_EQ_INT((long)m.row_bytes, nb);
        qm_dequant_rows(&m, 0, 1, got);
        int bad = 0;
        for (int64_t i = 0; i < cols; i++) {
            /* the package multiplies in another order for the K-quants: 1 ulp */
            const double tol = 2.0 * fabs((double)want[i]) * 0x1p-24 + 1e-30;
            if (!(fabs((double)got[i] - want[i]) <= tol)) {
                if (bad++ < 3)
                    fprintf(stderr, "%s[%lld]: %.9g, gguf %.9g\n", G[g].name, (long long)i,
                            got[i], want[i]);
            }
        }
        CHECK_MSG(bad == 0, "%s: %d values differ from the gguf package", G[g].name, bad);
    }
}

static void test_matvec_split(void) {
    enum { COLS = 512, ROWS = 37 };
    qm_act a;
    CHECK(qm_act_alloc(&a, COLS) == 0);
    float x[COLS], y1[ROWS], y2[ROWS];
    fill_act(x, COLS, 0);
    qm_quantize(x, COLS, &a);
    for (int t = 0; t < N_TYPES; t++) {
        const size_t rb = qm_row_bytes(TYPES[t], COLS);
        uint8_t *rows = malloc(rb * ROWS);
        const size_t bb = rb / (size_t)(COLS / qm_type_block(TYPES[t]));
        for (int r = 0; r < ROWS; r++)
            for (size_t k = 0; k < rb / bb; k++) fill_block(TYPES[t], rows + r * rb + k * bb, bb, 0);
        qm_matrix m;
        CHECK(qm_matrix_init(&m, TYPES[t], ROWS, COLS, rows) == 0);
        qm_matvec(&m, &a, y1, 0, ROWS, 0);
        qm_matvec(&m, &a, y2, 0, 11, 0);
        qm_matvec(&m, &a, y2, 11, ROWS, 0);
        CHECK(memcmp(y1, y2, sizeof y1) == 0);
        /* dequantisation: the kernel set's = the reference's bits */
        float *d1 = malloc(sizeof(float) * COLS * ROWS), *d2 = malloc(sizeof(float) * COLS * ROWS);
        qm_dequant_rows(&m, 0, ROWS, d1);
        qm_dequant_rows_ref(&m, 0, ROWS, d2);
        CHECK_MSG(memcmp(d1, d2, sizeof(float) * COLS * ROWS) == 0, "%s: %s dequantisation",
                  qm_isa(), NAMES[t]);
        free(d1);
        free(d2);
        qm_matvec(&m, &a, y2, 0, ROWS, 1); /* accumulate: y + y */
        int bad = 0;
        for (int r = 0; r < ROWS; r++) bad += !same_float(y2[r], y1[r] + y1[r]);
        CHECK_EQ_INT(bad, 0);
        free(rows);
    }
    qm_act_free(&a);
    /* a K-quant block with an Inf/NaN scale is found (the runner refuses it) */
    {
        enum { KC = 512, KR = 3 };
        static const uint32_t kt[3] = {12, 13, 14};
        for (int t = 0; t < 3; t++) {
            const size_t rb = qm_row_bytes(kt[t], KC), bb = rb / 2;
            uint8_t *rows = malloc(rb * KR);
            for (int r = 0; r < KR; r++)
                for (int k = 0; k < 2; k++) fill_block(kt[t], rows + r * rb + k * bb, bb, 0);
            qm_matrix km;
            CHECK(qm_matrix_init(&km, kt[t], KR, KC, rows) == 0);
            CHECK_EQ_INT(qm_matrix_bad_block(&km), -1);
            put16(rows + rb + bb + (kt[t] == 14 ? 208 : 2), 0x7E00); /* NaN: row 1, block 1 */
            CHECK_EQ_INT(qm_matrix_bad_block(&km), 3);
            put16(rows + (kt[t] == 14 ? 208 : 0), 0xFC00); /* -Inf: row 0, block 0 */
            CHECK_EQ_INT(qm_matrix_bad_block(&km), 0);
            free(rows);
        }
        qm_matrix q4;
        uint8_t blk[20] = {0};
        put16(blk, 0x7C00);
        CHECK(qm_matrix_init(&q4, 3, 1, 32, blk) == 0);
        CHECK_EQ_INT(qm_matrix_bad_block(&q4), -1); /* 32-block types: not checked */
    }
    /* bad shapes are refused */
    qm_matrix m;
    uint8_t dummy[64];
    CHECK(qm_matrix_init(&m, 12, 1, 128, dummy) == -1); /* K-quant needs 256 | cols */
    CHECK(qm_matrix_init(&m, 99, 1, 256, dummy) == -1);
    CHECK(qm_act_alloc(&a, 100) == -1);
}

int main(void) {
    static const char *const sets[] = {"avx512vnni", "avx2", "neon-dotprod", "neon"};
    int ran = 0;
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (qm_force_isa(sets[i]) != 0) continue;
        printf("kernel set %s\n", sets[i]);
        test_dots(sets[i]);
        test_quantize_same(sets[i]);
        test_gemm(sets[i]);
        test_matvec_split();
        ran++;
    }
    if (!ran) printf("no SIMD kernel set here: the reference only\n");
    CHECK(qm_force_isa("scalar") == 0);
    test_dots("scalar");
    test_quantize();
    test_dequant_golden();
    test_matvec_split();
    printf("%d checks, %d failed\n", check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}
