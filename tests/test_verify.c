/*
 * rope verify's analysis (tools/lib/verify.c): for every fault it names, an engine output
 * built from the truth with exactly that fault injected is diagnosed as that fault and
 * nothing else; the truth and Hugging Face's own float32 outputs (tests/golden) verify as
 * right; random data is "unexplained", never a confident wrong diagnosis.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "verify.h"
#include "rope.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) { /* [-1, 1) */
    check_rand64(&rng);
    return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

/* ------------------------------------------------------------------ configs */

static rope_config cfg_default(double base, int64_t head_dim) {
    rope_config c;
    rope_config_init(&c);
    c.rope_theta = base;
    c.head_dim = head_dim;
    return c;
}

static verify_truth truth_of(rope_config c, rope_style style) {
    verify_truth t;
    memset(&t, 0, sizeof t);
    t.cfg = c;
    t.style = style;
    return t;
}

/* ------------------------------------------------------------------ engine tables */

enum { F_NONE, F_NEG_SIN, F_SWAP, F_BF16_TABLE, F_F16_TABLE, F_BF16_ANGLE, F_F16_ANGLE, F_GARBAGE,
       F_RANDOM_ANGLE };

typedef struct table {
    int64_t rows, nf;
    double *c, *s;
    int64_t *pos;
} table;

static void table_free(table *t) {
    free(t->c), free(t->s), free(t->pos);
    memset(t, 0, sizeof *t);
}

static float round16(int bf, float v) {
    return bf ? rope_bf16_to_f32(rope_f32_to_bf16(v)) : rope_f16_to_f32(rope_f32_to_f16(v));
}

/* cfg's table at positions (offset added) times amp, in precision prec, with a fault. */
static table make_table(const rope_config *cfg, int64_t seq_len, const int64_t *pos, int64_t n,
                        int64_t offset, rope_precision prec, double amp, int fault) {
    table t = {0};
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(cfg, seq_len, &f));
    int64_t nf = f.n_freqs;
    t.rows = n, t.nf = nf;
    t.c = malloc(n * nf * sizeof(double));
    t.s = malloc(n * nf * sizeof(double));
    t.pos = malloc(n * sizeof(int64_t));
    int64_t *pp = malloc(n * sizeof(int64_t));
    float *fc = malloc(n * nf * sizeof(float)), *fs = malloc(n * nf * sizeof(float));
    for (int64_t r = 0; r < n; r++) t.pos[r] = pos[r], pp[r] = pos[r] + offset;
    CHECK_OK(rope_cos_sin(&f, pp, 0, n, prec, fc, fs));
    for (int64_t r = 0; r < n; r++)
        for (int64_t i = 0; i < nf; i++) {
            int64_t k = r * nf + i;
            float c = fc[k], s = fs[k];
            if (fault == F_BF16_ANGLE || fault == F_F16_ANGLE) {
                int bf = fault == F_BF16_ANGLE;
                float a = round16(bf, round16(bf, f.inv_freq_f32[i]) * round16(bf, (float)pp[r]));
                c = cosf(a), s = sinf(a);
            }
            if (fault == F_RANDOM_ANGLE) {
                double a = 3.2 * urand();
                c = (float)cos(a), s = (float)sin(a);
            }
            double cv = (float)(amp * c), sv = (float)(amp * s);
            if (fault == F_NEG_SIN) sv = -sv;
            if (fault == F_SWAP) {
                double x = cv;
                cv = sv, sv = x;
            }
            if (fault == F_BF16_TABLE || fault == F_F16_TABLE) {
                cv = round16(fault == F_BF16_TABLE, (float)cv);
                sv = round16(fault == F_BF16_TABLE, (float)sv);
            }
            if (fault == F_GARBAGE) cv = urand(), sv = urand();
            t.c[k] = cv, t.s[k] = sv;
        }
    free(pp), free(fc), free(fs);
    return t;
}

static int64_t *range_pos(int64_t n, int64_t start) {
    int64_t *p = malloc(n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) p[i] = start + i;
    return p;
}

/* Positions 0..n0-1 then a geometric sweep up to pmax (what an engine test would dump). */
static int64_t *sweep_pos(int64_t n0, int64_t pmax, int64_t *n) {
    int64_t *p = malloc((n0 + 64) * sizeof(int64_t));
    int64_t k = 0;
    for (int64_t i = 0; i < n0; i++) p[k++] = i;
    for (double v = (double)n0; v <= (double)pmax && k < n0 + 64; v *= 1.5) p[k++] = (int64_t)v;
    *n = k;
    return p;
}

static void dump(const char *what, const verify_report *r) {
    char *s = verify_report_text(r);
    fprintf(stderr, "---- %s\n%s", what, s ? s : "(no memory)\n");
    verify_string_free(s);
}

/* Expect the verdict and, for faults, exactly one diagnosis: `id`. */
static void expect(const char *what, const verify_report *r, verify_verdict v, const char *id) {
    int ok = r->verdict == v;
    if (id) ok &= r->n_diag == 1 && !strcmp(r->diag[0].id, id);
    else if (v != VERIFY_UNEXPLAINED) ok &= r->n_diag == 0;
    if (v == VERIFY_UNEXPLAINED)
        for (int i = 0; i < r->n_diag; i++) ok &= !r->diag[i].fault || !strncmp(r->diag[i].id, "amplitude", 9);
    CHECK_MSG(ok, "%s: verdict %d (want %d), %d diagnoses (want %s)", what, r->verdict, v, r->n_diag,
              id ? id : "none");
    if (!ok) dump(what, r);
}

static void run_table(const char *what, const verify_truth *t, const table *e, verify_verdict v,
                      const char *id, verify_report *r) {
    verify_table vt = {e->rows, e->nf, e->c, e->s, e->pos, ROPE_STYLE_NONE, NULL};
    char err[256] = "";
    int rc = verify_run_table(t, &vt, r, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", what, err);
    if (!rc) expect(what, r, v, id);
}

/* ------------------------------------------------------------------ table faults */

static void test_table_faults(void) {
    static verify_report r;
    rope_config llama = cfg_default(10000, 128);
    verify_truth t = truth_of(llama, ROPE_STYLE_HALF);
    int64_t n;
    int64_t *pos = sweep_pos(64, 70000, &n);

    table e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_NONE);
    run_table("truth accurate", &t, &e, VERIFY_RIGHT, NULL, &r);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("truth HF float32", &t, &e, VERIFY_RIGHT, "f32_angle", &r);
    CHECK(!r.diag[0].fault);
    /* float32's error grows with the angle: over 1e-3 only at long positions */
    CHECK(r.exceeds_from > 4096);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_NEG_SIN);
    run_table("halves swapped", &t, &e, VERIFY_FAULT, "halves_swapped", &r);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_SWAP);
    run_table("cos/sin swapped", &t, &e, VERIFY_FAULT, "cos_sin_swapped", &r);
    table_free(&e);

    int64_t *pos3 = malloc(n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) pos3[i] = pos[i] + 3;
    for (int64_t k = -3; k <= 5; k += 8) {
        /* k < 0: rows for positions 3.. (an engine's rows cannot hold negative positions) */
        e = make_table(&llama, 0, k < 0 ? pos3 : pos, n, k, ROPE_PRECISION_ACCURATE, 1, F_NONE);
        run_table("position offset", &t, &e, VERIFY_FAULT, "position_offset", &r);
        if (r.n_diag) CHECK_NEAR(r.diag[0].param, (double)k, 0);
        table_free(&e);
    }
    free(pos3);

    rope_config wrong = cfg_default(500000, 128);
    e = make_table(&wrong, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("wrong base", &t, &e, VERIFY_FAULT, "base", &r);
    if (r.n_diag) CHECK_NEAR(r.diag[0].param, 500000, 0);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_BF16_TABLE);
    run_table("bf16 table", &t, &e, VERIFY_FAULT, "table_bf16", &r);
    CHECK(r.n_diag == 1 && r.diag[0].exceeds_from >= 0 && r.diag[0].exceeds_from < 64);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_F16_TABLE);
    run_table("f16 table", &t, &e, VERIFY_FAULT, "table_f16", &r);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_BF16_ANGLE);
    run_table("bf16 angle", &t, &e, VERIFY_FAULT, "angle_bf16", &r);
    table_free(&e);

    {   /* float16 angles overflow past 65504: keep the positions below */
        int64_t n16;
        int64_t *p16 = sweep_pos(64, 60000, &n16);
        e = make_table(&llama, 0, p16, n16, 0, ROPE_PRECISION_ACCURATE, 1, F_F16_ANGLE);
        run_table("f16 angle", &t, &e, VERIFY_FAULT, "angle_f16", &r);
        table_free(&e);
        free(p16);
    }

    /* ggml's float32 recipe (llama.cpp): theta = position, theta *= base^(-2/R) per pair */
    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_NONE);
    {
        float ts = powf(10000.0f, -2.0f / 128.0f);
        for (int64_t row = 0; row < n; row++) {
            float th = (float)pos[row];
            for (int64_t i = 0; i < 64; i++, th *= ts)
                e.c[row * 64 + i] = cosf(th), e.s[row * 64 + i] = sinf(th);
        }
    }
    run_table("ggml recurrence", &t, &e, VERIFY_RIGHT, "f32_theta_recurrence", &r);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 0.5, F_NONE);
    run_table("cos/sin halved", &t, &e, VERIFY_FAULT, "amplitude", &r);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 0, F_NONE);
    run_table("all zeros", &t, &e, VERIFY_UNEXPLAINED, NULL, &r);
    for (int64_t k = 0; k < n * 64; k++) e.c[k] = e.s[k] = 1;
    run_table("all ones (constant amplitude, no angles)", &t, &e, VERIFY_UNEXPLAINED, NULL, &r);
    table_free(&e);

    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_GARBAGE);
    run_table("garbage", &t, &e, VERIFY_UNEXPLAINED, NULL, &r);
    table_free(&e);
    e = make_table(&llama, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_RANDOM_ANGLE);
    run_table("random angles", &t, &e, VERIFY_UNEXPLAINED, NULL, &r);
    table_free(&e);
    free(pos);
}

static void test_scaling_faults(void) {
    static verify_report r;
    int64_t n;
    int64_t *pos = sweep_pos(64, 100000, &n);

    /* Llama 3.1: scaling missing; wrong factor; wrong type */
    rope_config l3 = cfg_default(500000, 128);
    l3.type = ROPE_SCALING_LLAMA3;
    l3.factor = 8, l3.low_freq_factor = 1, l3.high_freq_factor = 4;
    l3.original_max_position_embeddings = 8192, l3.max_position_embeddings = 131072;
    verify_truth t = truth_of(l3, ROPE_STYLE_HALF);
    rope_config c = l3;
    c.type = ROPE_SCALING_DEFAULT;
    table e = make_table(&c, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("llama3 missing", &t, &e, VERIFY_FAULT, "scaling_missing", &r);
    table_free(&e);
    c = l3;
    c.factor = 32;
    e = make_table(&c, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("llama3 factor", &t, &e, VERIFY_FAULT, "scaling_factor", &r);
    if (r.n_diag) CHECK_NEAR(r.diag[0].param, 32, 0);
    table_free(&e);
    c = l3;
    c.type = ROPE_SCALING_LINEAR;
    e = make_table(&c, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("llama3 as linear", &t, &e, VERIFY_FAULT, "scaling_type", &r);
    if (r.n_diag) CHECK_NEAR(r.diag[0].param, 8, 0);
    table_free(&e);

    /* linear x8 given x4 */
    rope_config lin = cfg_default(10000, 128);
    lin.type = ROPE_SCALING_LINEAR, lin.factor = 8;
    t = truth_of(lin, ROPE_STYLE_HALF);
    c = lin;
    c.factor = 4;
    e = make_table(&c, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_NONE);
    run_table("linear factor", &t, &e, VERIFY_FAULT, "scaling_factor", &r);
    table_free(&e);

    /* dynamic NTK: the call's length is 100001; the engine used 8192 */
    rope_config dyn = cfg_default(10000, 128);
    dyn.type = ROPE_SCALING_DYNAMIC, dyn.factor = 2, dyn.max_position_embeddings = 4096;
    t = truth_of(dyn, ROPE_STYLE_HALF);
    e = make_table(&dyn, 8192, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("dynamic length", &t, &e, VERIFY_FAULT, "dynamic_length", &r);
    if (r.n_diag) CHECK_NEAR(r.diag[0].param, 8192, 0);
    table_free(&e);
    e = make_table(&dyn, pos[n - 1] + 1, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("dynamic right", &t, &e, VERIFY_RIGHT, "f32_angle", &r);
    table_free(&e);

    /* YaRN (Qwen2.5 x4): attention factor missing / twice; yarn read as linear */
    rope_config yarn = cfg_default(1000000, 128);
    yarn.type = ROPE_SCALING_YARN, yarn.factor = 4, yarn.original_max_position_embeddings = 32768;
    yarn.max_position_embeddings = 131072;
    rope_freqs yf;
    CHECK_OK(rope_freqs_compute(&yarn, 0, &yf));
    t = truth_of(yarn, ROPE_STYLE_HALF);
    e = make_table(&yarn, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, yf.attention_factor, F_NONE);
    run_table("yarn right", &t, &e, VERIFY_RIGHT, NULL, &r);
    table_free(&e);
    e = make_table(&yarn, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, 1, F_NONE);
    run_table("yarn af missing", &t, &e, VERIFY_FAULT, "attention_factor_missing", &r);
    table_free(&e);
    e = make_table(&yarn, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, yf.attention_factor * yf.attention_factor,
                   F_NONE);
    run_table("yarn af twice", &t, &e, VERIFY_FAULT, "attention_factor_twice", &r);
    table_free(&e);
    c = yarn;
    c.type = ROPE_SCALING_LINEAR;
    e = make_table(&c, 0, pos, n, 0, ROPE_PRECISION_ACCURATE, yf.attention_factor, F_NONE);
    run_table("yarn as linear", &t, &e, VERIFY_FAULT, "scaling_type", &r);
    table_free(&e);
    /* longrope (Phi-3): a call longer than original_max_position_embeddings takes the long
     * factors for every position; the engine kept the short ones */
    static double sf[32], lf[32];
    for (int i = 0; i < 32; i++) sf[i] = 1.0 + 0.01 * i, lf[i] = 1.0 + 0.5 * i;
    rope_config lr = cfg_default(10000, 64);
    lr.type = ROPE_SCALING_LONGROPE;
    lr.short_factor = sf, lr.long_factor = lf, lr.n_short_factor = lr.n_long_factor = 32;
    lr.original_max_position_embeddings = 4096, lr.max_position_embeddings = 131072;
    rope_freqs lrf;
    CHECK_OK(rope_freqs_compute(&lr, 0, &lrf));
    t = truth_of(lr, ROPE_STYLE_HALF);
    e = make_table(&lr, 4096, pos, n, 0, ROPE_PRECISION_COMPAT_F32, lrf.attention_factor, F_NONE);
    run_table("longrope short factors for a long call", &t, &e, VERIFY_FAULT, "longrope_factors", &r);
    table_free(&e);
    e = make_table(&lr, pos[n - 1] + 1, pos, n, 0, ROPE_PRECISION_COMPAT_F32, lrf.attention_factor, F_NONE);
    run_table("longrope right", &t, &e, VERIFY_RIGHT, "f32_angle", &r);
    table_free(&e);
    free(pos);
}

/* A table of another width: GPT-NeoX (24 of 96 rotated) built 96 wide. */
static void test_width(void) {
    static verify_report r;
    rope_config neox = cfg_default(10000, 96);
    neox.partial_rotary_factor = 0.25;
    verify_truth t = truth_of(neox, ROPE_STYLE_HALF);
    rope_config full = cfg_default(10000, 96);
    int64_t *pos = range_pos(512, 0);
    table e = make_table(&full, 0, pos, 512, 0, ROPE_PRECISION_ACCURATE, 1, F_NONE);
    run_table("neox full width", &t, &e, VERIFY_FAULT, "rotary_width", &r);
    table_free(&e);
    e = make_table(&full, 0, pos, 512, 0, ROPE_PRECISION_ACCURATE, 1, F_GARBAGE);
    run_table("neox garbage of another width", &t, &e, VERIFY_UNEXPLAINED, NULL, &r);
    table_free(&e);
    free(pos);
}

/* Layouts: [pos, R] halves duplicated / interleaved, complex. */
static void test_layouts(void) {
    static verify_report r;
    rope_config llama = cfg_default(10000, 64);
    verify_truth t = truth_of(llama, ROPE_STYLE_HALF);
    int64_t *pos = range_pos(300, 0);
    table e = make_table(&llama, 0, pos, 300, 0, ROPE_PRECISION_ACCURATE, 1, F_NONE);
    const int64_t R = 64, nf = 32;
    double *hc = malloc(300 * R * sizeof(double)), *hs = malloc(300 * R * sizeof(double));
    double *cis = malloc(300 * R * sizeof(double));
    for (int inter = 0; inter < 2; inter++) {
        for (int64_t p = 0; p < 300; p++)
            for (int64_t i = 0; i < nf; i++) {
                int64_t a = inter ? 2 * i : i, b = inter ? 2 * i + 1 : i + nf;
                hc[p * R + a] = hc[p * R + b] = e.c[p * nf + i];
                hs[p * R + a] = hs[p * R + b] = e.s[p * nf + i];
                cis[(p * nf + i) * 2] = e.c[p * nf + i];
                cis[(p * nf + i) * 2 + 1] = e.s[p * nf + i];
            }
        int64_t shape[3] = {1, 300, R};
        verify_decoded d;
        char err[256];
        CHECK(verify_decode_cos_sin(3, shape, hc, hs, nf, &d, err, sizeof err) == 0);
        CHECK_EQ_INT(d.n_freqs, nf);
        CHECK_EQ_INT(d.rows, 300);
        CHECK(d.implied_style == (inter ? ROPE_STYLE_INTERLEAVED : ROPE_STYLE_HALF));
        verify_table vt = {d.rows, d.n_freqs, d.cos, d.sin, NULL, d.implied_style, d.layout};
        CHECK(verify_run_table(&t, &vt, &r, err, sizeof err) == 0);
        expect(inter ? "interleaved layout for a half model" : "half layout", &r,
               inter ? VERIFY_FAULT : VERIFY_RIGHT, inter ? "convention" : NULL);
        verify_decoded_free(&d);
    }
    int64_t cshape[3] = {300, nf, 2};
    verify_decoded d;
    char err[256];
    CHECK(verify_decode_cis(3, cshape, cis, &d, err, sizeof err) == 0);
    verify_table vt = {d.rows, d.n_freqs, d.cos, d.sin, NULL, d.implied_style, d.layout};
    CHECK(verify_run_table(&t, &vt, &r, err, sizeof err) == 0);
    expect("complex freqs_cis", &r, VERIFY_RIGHT, NULL);
    verify_decoded_free(&d);
    int64_t bad[2] = {300, 3};
    CHECK(verify_decode_cis(2, bad, cis, &d, err, sizeof err) != 0);
    /* non-finite evidence is refused by name (issue 14): skipped, a NaN once reported
     * "max error 0" */
    int64_t shape[3] = {1, 300, R};
    hc[5 * R + 3] = NAN;
    CHECK(verify_decode_cos_sin(3, shape, hc, hs, nf, &d, err, sizeof err) != 0 && strstr(err, "cos holds NaN"));
    hc[5 * R + 3] = 0.5;
    hs[299 * R + R - 1] = -INFINITY;
    CHECK(verify_decode_cos_sin(3, shape, hc, hs, nf, &d, err, sizeof err) != 0 && strstr(err, "sin holds Inf"));
    cis[7] = INFINITY;
    CHECK(verify_decode_cis(3, cshape, cis, &d, err, sizeof err) != 0 && strstr(err, "freqs_cis holds Inf"));
    e.c[17] = NAN; /* a table given directly */
    verify_table vn = {300, nf, e.c, e.s, NULL, ROPE_STYLE_NONE, "[pos, R/2]"};
    CHECK(verify_run_table(&t, &vn, &r, err, sizeof err) != 0 && strstr(err, "cos holds NaN"));
    free(hc), free(hs), free(cis), free(pos);
    table_free(&e);
}

/* Tables over 16384 rows: faults are tested on a subset, the truth's budget on every row. */
static void test_large(void) {
    static verify_report r;
    rope_config llama = cfg_default(10000, 64);
    verify_truth t = truth_of(llama, ROPE_STYLE_HALF);
    int64_t *pos = range_pos(40000, 0);
    table e = make_table(&llama, 0, pos, 40000, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("large right", &t, &e, VERIFY_RIGHT, "f32_angle", &r);
    CHECK(r.rows == 40000 && r.rows_analysed < 16385 && r.rows_analysed > 8000);
    for (int64_t row = 30001; row < 40000; row += 2) e.c[row * 32 + 5] += 1e-3; /* odd rows only */
    run_table("large, odd rows off", &t, &e, VERIFY_UNEXPLAINED, NULL, &r);
    table_free(&e);
    rope_config wrong = cfg_default(20000, 64);
    e = make_table(&wrong, 0, pos, 40000, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("large wrong base", &t, &e, VERIFY_FAULT, "base", &r);
    table_free(&e);
    free(pos);
}

/* Sliding/global: a Gemma 3 sliding layer (base 1e4) given the global base 1e6 (with the
 * global layers' linear x8 scaling, as Gemma 3 27B). */
static void test_layer_swap(void) {
    static verify_report r;
    rope_config sliding = cfg_default(10000, 128);
    rope_config global = cfg_default(1000000, 128);
    global.type = ROPE_SCALING_LINEAR, global.factor = 8;
    verify_truth t = truth_of(sliding, ROPE_STYLE_HALF);
    snprintf(t.layer_type, sizeof t.layer_type, "sliding_attention");
    t.alt[0].cfg = global;
    snprintf(t.alt[0].name, sizeof t.alt[0].name, "full_attention");
    t.n_alt = 1;
    int64_t n;
    int64_t *pos = sweep_pos(64, 30000, &n);
    table e = make_table(&global, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("sliding given global", &t, &e, VERIFY_FAULT, "layer_type_swapped", &r);
    table_free(&e);
    e = make_table(&sliding, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("sliding right", &t, &e, VERIFY_RIGHT, "f32_angle", &r);
    table_free(&e);
    free(pos);
}

/* ------------------------------------------------------------------ pairs */

typedef struct pairs {
    int64_t T, H, D;
    double *in, *out;
    int64_t *pos;
} pairs;

static void pairs_free(pairs *p) {
    free(p->in), free(p->out), free(p->pos);
    memset(p, 0, sizeof *p);
}

/* q (T tokens x H heads x D) rotated by rope_apply with cfg at positions + offset; style and
 * rotated dims [start, start + R') as the engine (mis)does it. */
static pairs make_pairs(const rope_config *cfg, const int64_t *pos, int64_t T, int64_t H, int64_t D,
                        rope_style style, int64_t start, double af, int inverse, int64_t offset,
                        int garbage) {
    pairs p = {T, H, D, malloc(T * H * D * sizeof(double)), malloc(T * H * D * sizeof(double)),
               malloc(T * sizeof(int64_t))};
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(cfg, 0, &f));
    int64_t Dv = D - start; /* the view rope_apply rotates: dims [start, D) */
    float *x = malloc(T * H * (Dv + 1) * sizeof(float)), *y = malloc(T * H * (Dv + 1) * sizeof(float));
    int64_t *ids = malloc(T * sizeof(int64_t));
    for (int64_t i = 0; i < T * H * D; i++) p.in[i] = (float)urand();
    for (int64_t t = 0; t < T; t++) p.pos[t] = pos[t], ids[t] = pos[t] + offset;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t d = 0; d < Dv; d++) x[(t * H + h) * Dv + d] = (float)p.in[(t * H + h) * D + start + d];
    rope_tensor ti, to;
    rope_tensor_contiguous(&ti, x, ROPE_F32, 1, T, H, Dv);
    rope_tensor_contiguous(&to, y, ROPE_F32, 1, T, H, Dv);
    rope_apply_params ap;
    rope_apply_params_init(&ap);
    ap.style = style;
    ap.freqs = &f;
    ap.rotary_dim = f.rotary_dim;
    ap.attention_factor = (float)af;
    ap.inverse = inverse;
    rope_positions rp = {0};
    rp.ids = ids;
    if (Dv > 0) CHECK_OK(rope_apply(&ap, &rp, &ti, &to)); /* start == D: nothing rotated */
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t d = 0; d < D; d++) {
                double v = d < start ? p.in[(t * H + h) * D + d] : y[(t * H + h) * Dv + d - start];
                p.out[(t * H + h) * D + d] = garbage ? (float)urand() : v;
            }
    free(x), free(y), free(ids);
    return p;
}

static void run_pairs(const char *what, const verify_truth *t, const pairs *p, verify_verdict v,
                      const char *id, verify_report *r) {
    verify_pairs vp = {p->T, p->H, p->D, p->in, p->out, p->pos, 0x1p-24};
    char err[256] = "";
    int rc = verify_run_pairs(t, &vp, r, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", what, err);
    if (!rc) expect(what, r, v, id);
}

static void test_pairs(void) {
    static verify_report r;
    int64_t n;
    int64_t *pos = sweep_pos(32, 20000, &n);
    rope_config llama = cfg_default(10000, 64);
    verify_truth t = truth_of(llama, ROPE_STYLE_HALF);

    pairs p = make_pairs(&llama, pos, n, 4, 64, ROPE_STYLE_HALF, 0, 1, 0, 0, 0);
    run_pairs("pairs truth", &t, &p, VERIFY_RIGHT, NULL, &r);
    CHECK(r.max_abs < 1e-5);
    CHECK_MSG(r.out_max_rel < 1e-6, "outputs vs rope_apply: %g", r.out_max_rel); /* the same rope_apply */
    { /* a NaN in the outputs, an Inf in the inputs: refused by name, not skipped */
        char err[256] = "";
        verify_pairs vp = {p.T, p.H, p.D, p.in, p.out, p.pos, 0x1p-24};
        p.out[p.T * p.H * p.D - 1] = NAN;
        CHECK(verify_run_pairs(&t, &vp, &r, err, sizeof err) != 0 && strstr(err, "output") &&
              strstr(err, "NaN"));
        p.out[p.T * p.H * p.D - 1] = 0.0;
        p.in[0] = INFINITY;
        CHECK(verify_run_pairs(&t, &vp, &r, err, sizeof err) != 0 && strstr(err, "input"));
    }
    pairs_free(&p);
    p = make_pairs(&llama, pos, n, 4, 64, ROPE_STYLE_INTERLEAVED, 0, 1, 0, 0, 0);
    run_pairs("pairs convention", &t, &p, VERIFY_FAULT, "convention", &r);
    CHECK_MSG(r.out_max_rel > 0.1, "outputs vs rope_apply: %g", r.out_max_rel);
    pairs_free(&p);
    p = make_pairs(&llama, pos, n, 4, 64, ROPE_STYLE_HALF, 0, 1, 1, 0, 0);
    run_pairs("pairs halves swapped", &t, &p, VERIFY_FAULT, "halves_swapped", &r);
    pairs_free(&p);
    p = make_pairs(&llama, pos, n, 4, 64, ROPE_STYLE_HALF, 0, 1, 0, 7, 0);
    run_pairs("pairs offset", &t, &p, VERIFY_FAULT, "position_offset", &r);
    if (r.n_diag) CHECK_NEAR(r.diag[0].param, 7, 0);
    pairs_free(&p);
    p = make_pairs(&llama, pos, n, 4, 64, ROPE_STYLE_HALF, 0, 1, 0, 0, 1);
    run_pairs("pairs garbage", &t, &p, VERIFY_UNEXPLAINED, NULL, &r);
    pairs_free(&p);

    /* yarn: the attention factor scales the outputs */
    rope_config yarn = cfg_default(1000000, 64);
    yarn.type = ROPE_SCALING_YARN, yarn.factor = 4, yarn.original_max_position_embeddings = 32768;
    rope_freqs yf;
    CHECK_OK(rope_freqs_compute(&yarn, 0, &yf));
    t = truth_of(yarn, ROPE_STYLE_HALF);
    p = make_pairs(&yarn, pos, n, 4, 64, ROPE_STYLE_HALF, 0, yf.attention_factor, 0, 0, 0);
    run_pairs("pairs yarn right", &t, &p, VERIFY_RIGHT, NULL, &r);
    pairs_free(&p);
    p = make_pairs(&yarn, pos, n, 4, 64, ROPE_STYLE_HALF, 0, 1, 0, 0, 0);
    run_pairs("pairs yarn af missing", &t, &p, VERIFY_FAULT, "attention_factor_missing", &r);
    pairs_free(&p);
    p = make_pairs(&yarn, pos, n, 4, 64, ROPE_STYLE_HALF, 0, yf.attention_factor * yf.attention_factor, 0, 0, 0);
    run_pairs("pairs yarn af twice", &t, &p, VERIFY_FAULT, "attention_factor_twice", &r);
    pairs_free(&p);

    /* partial rotary (GPT-NeoX 24 of 96): the last 24 dims rotated; every dim rotated */
    rope_config neox = cfg_default(10000, 96);
    neox.partial_rotary_factor = 0.25;
    t = truth_of(neox, ROPE_STYLE_HALF);
    p = make_pairs(&neox, pos, n, 2, 96, ROPE_STYLE_HALF, 0, 1, 0, 0, 0);
    run_pairs("pairs neox right", &t, &p, VERIFY_RIGHT, NULL, &r);
    pairs_free(&p);
    p = make_pairs(&neox, pos, n, 2, 96, ROPE_STYLE_HALF, 72, 1, 0, 0, 0);
    run_pairs("pairs neox last dims", &t, &p, VERIFY_FAULT, "rotary_dims", &r);
    pairs_free(&p);
    rope_config full = cfg_default(10000, 96);
    p = make_pairs(&full, pos, n, 2, 96, ROPE_STYLE_HALF, 0, 1, 0, 0, 0);
    run_pairs("pairs neox every dim", &t, &p, VERIFY_FAULT, "rotary_width", &r);
    pairs_free(&p);
    free(pos);
}


/* Gemma 4's full-attention layers (proportional: 64 live frequencies of 256, exponents over the
 * whole head of 512, rotate_half pairs (i, i+256)) built the way three projects did: the 64
 * frequencies as a RoPE 128 wide, paired (i, i+64). */
static void test_gemma4(void) {
    static verify_report r;
    rope_config g4;
    rope_config_init(&g4);
    g4.type = ROPE_SCALING_PROPORTIONAL;
    g4.rope_theta = 1e6;
    g4.head_dim = 512;
    g4.partial_rotary_factor = 0.25;
    rope_config wide = g4;
    wide.head_dim = 128;
    wide.partial_rotary_factor = 1.0;
    verify_truth t = truth_of(g4, ROPE_STYLE_HALF);
    int64_t n;
    int64_t *pos = sweep_pos(32, 20000, &n);
    pairs p = make_pairs(&g4, pos, n, 2, 512, ROPE_STYLE_HALF, 0, 1, 0, 0, 0);
    run_pairs("gemma4 right", &t, &p, VERIFY_RIGHT, NULL, &r);
    pairs_free(&p);
    p = make_pairs(&wide, pos, n, 2, 512, ROPE_STYLE_HALF, 0, 1, 0, 0, 0);
    run_pairs("gemma4 built 128 wide", &t, &p, VERIFY_FAULT, "rotary_width", &r);
    if (r.n_diag) CHECK_NEAR(r.diag[0].param, 128, 0);
    CHECK(strstr(r.diag[0].summary, "those of this RoPE built that wide") != NULL);
    pairs_free(&p);
    table e = make_table(&g4, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("gemma4 table right", &t, &e, VERIFY_RIGHT, "f32_angle", &r);
    table_free(&e);
    e = make_table(&wide, 0, pos, n, 0, ROPE_PRECISION_COMPAT_F32, 1, F_NONE);
    run_table("gemma4 table 64 frequencies", &t, &e, VERIFY_FAULT, "rotary_width", &r);
    table_free(&e);
    free(pos);
}

/* NoPE layers (Llama 4, SmolLM3): q/k must come out unchanged; rotated with the model's RoPE
 * there = the NoPE flag read with the wrong polarity; a RoPE layer left unrotated = RoPE missing. */
static void test_nope(void) {
    static verify_report r;
    rope_config rope = cfg_default(5e6, 64);
    verify_truth t = truth_of(rope, ROPE_STYLE_HALF);
    t.nope = 1;
    t.alt[0].cfg = rope;
    snprintf(t.alt[0].name, sizeof t.alt[0].name, "full_attention");
    t.n_alt = 1;
    int64_t *pos = range_pos(40, 10);
    pairs p = make_pairs(&rope, pos, 40, 3, 64, ROPE_STYLE_HALF, 64, 1, 0, 0, 0); /* start = D: unchanged */
    run_pairs("nope unchanged", &t, &p, VERIFY_RIGHT, NULL, &r);
    pairs_free(&p);
    p = make_pairs(&rope, pos, 40, 3, 64, ROPE_STYLE_HALF, 0, 1, 0, 0, 0);
    run_pairs("nope rotated", &t, &p, VERIFY_FAULT, "nope_rotated", &r);
    pairs_free(&p);
    p = make_pairs(&rope, pos, 40, 3, 64, ROPE_STYLE_HALF, 0, 1, 0, 0, 1);
    run_pairs("nope garbage", &t, &p, VERIFY_UNEXPLAINED, NULL, &r);
    pairs_free(&p);
    verify_truth u = truth_of(rope, ROPE_STYLE_HALF);
    p = make_pairs(&rope, pos, 40, 3, 64, ROPE_STYLE_HALF, 64, 1, 0, 0, 0);
    run_pairs("rope layer unrotated", &u, &p, VERIFY_FAULT, "rope_missing", &r);
    pairs_free(&p);
    verify_table vt = {1, 32, NULL, NULL, NULL, ROPE_STYLE_NONE, NULL};
    double one[32] = {0};
    vt.cos = vt.sin = one;
    char err[256] = "";
    CHECK(verify_run_table(&t, &vt, &r, err, sizeof err) != 0 && strstr(err, "no RoPE"));
    free(pos);
}

/* ------------------------------------------------------------------ golden (HF float32) */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) free(b), b = NULL;
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

/* The numbers after `key ` on its line (malloc'd), count in *n. */
static double *nums(const char *buf, const char *key, int64_t *n) {
    size_t kl = strlen(key);
    for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) || l[kl] != ' ') continue;
        const char *e = strchr(l, '\n');
        int64_t cap = 16, k = 0;
        double *v = malloc(cap * sizeof(double));
        const char *p = l + kl;
        while (p && (!e || p < e)) {
            char *q;
            double x = strtod(p, &q);
            if (q == p) break;
            if (k == cap) v = realloc(v, (cap *= 2) * sizeof(double));
            v[k++] = x;
            p = q;
        }
        *n = k;
        return v;
    }
    *n = 0;
    return NULL;
}

static const char *str(const char *buf, const char *key, char *out, size_t n) {
    int64_t dummy;
    (void)dummy;
    size_t kl = strlen(key);
    for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, kl) && l[kl] == ' ') {
            sscanf(l + kl + 1, "%63s", out);
            (void)n;
            return out;
        }
    return NULL;
}

static double num1(const char *buf, const char *key, double dflt) {
    int64_t n;
    double *v = nums(buf, key, &n);
    double x = v && n ? v[0] : dflt;
    free(v);
    return x;
}

/* HF's apply_rotary_pos_emb outputs (q and k, (batch, heads, seq, D), at the positions of rows
 * apply_rows) and Meta's freqs_cis rows verify as right too. */
static void golden_pairs(const char *b, const char *name, const verify_truth *t, const int64_t *pos,
                         int64_t np) {
    static verify_report r;
    int64_t nq, nk, nqo, nko, nqs, nks, nrows;
    double *q = nums(b, "q", &nq), *k = nums(b, "k", &nk), *qo = nums(b, "q_out", &nqo),
           *ko = nums(b, "k_out", &nko), *qs = nums(b, "q_shape", &nqs), *ks = nums(b, "k_shape", &nks),
           *rows = nums(b, "apply_rows", &nrows);
    if (q && k && qo && ko && qs && ks && rows && nqs == 4 && nks == 4 && qs[0] == 1 && ks[0] == 1 &&
        qs[2] == nrows && ks[2] == nrows && qs[3] == ks[3] && nq == nqo && nk == nko) {
        int64_t Hq = (int64_t)qs[1], Hk = (int64_t)ks[1], S = nrows, D = (int64_t)qs[3], H = Hq + Hk;
        double *in = malloc(S * H * D * sizeof(double)), *out = malloc(S * H * D * sizeof(double));
        int64_t *tp = malloc(S * sizeof(int64_t));
        for (int64_t s = 0; s < S; s++) {
            int64_t row = (int64_t)rows[s];
            tp[s] = row >= 0 && row < np ? pos[row] : 0;
            for (int64_t h = 0; h < H; h++)
                for (int64_t d = 0; d < D; d++) {
                    int isq = h < Hq;
                    int64_t src = ((isq ? h : h - Hq) * S + s) * D + d;
                    in[(s * H + h) * D + d] = isq ? q[src] : k[src];
                    out[(s * H + h) * D + d] = isq ? qo[src] : ko[src];
                }
        }
        verify_pairs vp = {S, H, D, in, out, tp, 0x1p-24};
        char err[256] = "";
        int rc = verify_run_pairs(t, &vp, &r, err, sizeof err);
        int ok = !rc && r.verdict == VERIFY_RIGHT;
        for (int i = 0; i < r.n_diag; i++) ok &= !r.diag[i].fault;
        CHECK_MSG(ok, "golden %s: HF's q/k outputs not verified as right (%s)", name, err);
        if (!ok && !rc) dump(name, &r);
        free(in), free(out), free(tp);
    }
    free(q), free(k), free(qo), free(ko), free(qs), free(ks), free(rows);
    int64_t nmc, nms;
    double *mc = nums(b, "meta_cos", &nmc), *ms = nums(b, "meta_sin", &nms);
    if (mc && ms && nmc == nms && nmc % np == 0) {
        verify_table vt = {np, nmc / np, mc, ms, pos, ROPE_STYLE_NONE, "complex freqs_cis"};
        verify_truth u = *t;
        u.style = ROPE_STYLE_INTERLEAVED;
        char err[256] = "";
        int rc = verify_run_table(&u, &vt, &r, err, sizeof err);
        int ok = !rc && r.verdict == VERIFY_RIGHT;
        CHECK_MSG(ok, "golden %s: Meta's freqs_cis not verified as right (%s)", name, err);
        if (!ok && !rc) dump(name, &r);
    }
    free(mc), free(ms);
}

/* HF's own cos/sin (golden: first half of each row, attention factor included) verify as
 * right: the float32 explanation, never a fault. */
static void test_golden(void) {
    static const char *cases[] = {"llama2_7b", "codellama_7b", "llama31_8b", "llama32_1b", "qwen25_7b_yarn",
                                  "gpt_neox_20b", "llama2_7b_32k_linear", "llama2_7b_dynamic_long",
                                  "phi35_mini_long", "gpt_oss_20b", "llama4_scout_rope", "deepseek_v2_lite",
                                  "llama2_7b_dynamic_short", "phi35_mini_short", "phi3_mini_128k_long",
                                  "phi3_mini_128k_short"};
    static verify_report r;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        char path[128], type[64] = "default";
        snprintf(path, sizeof path, "golden/%s.txt", cases[ci]);
        char *b = slurp(path);
        CHECK_MSG(b != NULL, "cannot read %s", path);
        if (!b) continue;
        rope_config c;
        rope_config_init(&c);
        str(b, "cfg.type", type, sizeof type);
        CHECK_OK(rope_scaling_from_name(type, &c.type));
        c.rope_theta = num1(b, "cfg.rope_theta", c.rope_theta);
        c.head_dim = (int64_t)num1(b, "cfg.head_dim", 0);
        c.hidden_size = (int64_t)num1(b, "cfg.hidden_size", 0);
        c.num_attention_heads = (int64_t)num1(b, "cfg.num_attention_heads", 0);
        c.partial_rotary_factor = num1(b, "cfg.partial_rotary_factor", 1);
        c.factor = num1(b, "cfg.factor", 0);
        c.max_position_embeddings = (int64_t)num1(b, "cfg.max_position_embeddings", 0);
        c.original_max_position_embeddings = (int64_t)num1(b, "cfg.original_max_position_embeddings", 0);
        c.beta_fast = num1(b, "cfg.beta_fast", 0);
        c.beta_slow = num1(b, "cfg.beta_slow", 0);
        c.mscale = num1(b, "cfg.mscale", 0);
        c.mscale_all_dim = num1(b, "cfg.mscale_all_dim", 0);
        c.truncate = (int)num1(b, "cfg.truncate", 1);
        c.low_freq_factor = num1(b, "cfg.low_freq_factor", 0);
        c.high_freq_factor = num1(b, "cfg.high_freq_factor", 0);
        int64_t ns, nl, np, nc, nsn, nsh;
        double *sf = nums(b, "cfg.short_factor", &ns), *lf = nums(b, "cfg.long_factor", &nl);
        c.short_factor = sf, c.n_short_factor = ns, c.long_factor = lf, c.n_long_factor = nl;
        double *posd = nums(b, "positions", &np), *hc = nums(b, "cos", &nc), *hs = nums(b, "sin", &nsn);
        double *shape = nums(b, "cos_shape", &nsh);
        char style[64] = "half";
        str(b, "style", style, sizeof style);  /* "complex": DeepSeek's interleaved pairs */
        verify_truth t = truth_of(c, strcmp(style, "complex") ? ROPE_STYLE_HALF : ROPE_STYLE_INTERLEAVED);
        t.seq_len = (int64_t)num1(b, "seq_len", 0);
        if (posd && hc && hs && shape && nsh == 2 && nc == (int64_t)(shape[0] * shape[1]) && nsn == nc &&
            np == (int64_t)shape[0]) {
            int64_t *pos = malloc(np * sizeof(int64_t));
            for (int64_t i = 0; i < np; i++) pos[i] = (int64_t)posd[i];
            verify_table vt = {np, (int64_t)shape[1], hc, hs, pos, ROPE_STYLE_NONE, NULL};
            char err[256] = "";
            int rc = verify_run_table(&t, &vt, &r, err, sizeof err);
            CHECK_MSG(rc == 0, "%s: %s", cases[ci], err);
            int ok = !rc && r.verdict == VERIFY_RIGHT;
            for (int i = 0; i < r.n_diag; i++) ok &= !r.diag[i].fault;
            CHECK_MSG(ok, "golden %s: HF float32 cos/sin not verified as right", cases[ci]);
            if (!ok) dump(cases[ci], &r);
            golden_pairs(b, cases[ci], &t, pos, np);
            free(pos);
        } else {
            CHECK_MSG(0, "%s: malformed golden file", cases[ci]);
        }
        free(sf), free(lf), free(posd), free(hc), free(hs), free(shape), free(b);
    }
}

/* JSON: parses as an object with the documented keys (a structural check by hand). */
static void test_json(void) {
    static verify_report r;
    rope_config llama = cfg_default(10000, 64);
    verify_truth t = truth_of(llama, ROPE_STYLE_HALF);
    int64_t *pos = range_pos(100, 0);
    table e = make_table(&llama, 0, pos, 100, 3, ROPE_PRECISION_ACCURATE, 1, F_NONE);
    run_table("json offset", &t, &e, VERIFY_FAULT, "position_offset", &r);
    char *j = verify_report_json(&r);
    CHECK(j != NULL);
    if (j) {
        static const char *keys[] = {"\"verdict\": \"fault\"", "\"diagnoses\"", "\"bands\"", "\"plot\"",
                                     "\"id\": \"position_offset\"", "\"max_abs_by_freq_band\""};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) CHECK_MSG(strstr(j, keys[i]) != NULL, "%s", keys[i]);
    }
    verify_string_free(j);
    table_free(&e);
    free(pos);
}

int main(void) {
    test_table_faults();
    test_scaling_faults();
    test_width();
    test_layouts();
    test_layer_swap();
    test_large();
    test_pairs();
    test_gemma4();
    test_nope();
    test_golden();
    test_json();
    return check_report("test_verify");
}
