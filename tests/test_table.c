/*
 * cos/sin tables against a higher-precision oracle, and their structural
 * properties (R(0) = I, M-RoPE text tokens == plain RoPE, rows by position ==
 * dense rows), plus every bad input.
 *
 * Oracle: the exact product m·θᵢ (θᵢ = the float64 inv_freq) is split into
 * hi + lo with fma (exact), and cos/sin(hi + lo) taken by the addition formula
 * with cosl/sinl (x87 80-bit, accurate reduction): error ~2^-63 absolute at
 * any angle. tests/oracle/test_sincos_mpfr.c has the 300-bit MPFR oracle.
 * Errors are reported in float32 ulps of the true value and absolute.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rope.h"
#include "kernels/kernel.h"  /* rope_isa_force: test hook */

static double ulp_of(double v) {
    double a = fabs(v);
    if (a < FLT_MIN) return ldexp(1.0, -149);
    int e;
    frexp(a, &e);
    return ldexp(1.0, e - 24);
}

static void oracle(double theta, int64_t pos, long double *c, long double *s) {
    double hi = (double)pos * theta;
    double lo = fma((double)pos, theta, -hi);
    long double ch = cosl((long double)hi), sh = sinl((long double)hi);
    long double cl = cosl((long double)lo), sl = sinl((long double)lo);
    *c = ch * cl - sh * sl;
    *s = sh * cl + ch * sl;
}

static void default_freqs(double theta, int64_t head_dim, rope_freqs *f) {
    rope_config c;
    rope_config_init(&c);
    c.rope_theta = theta;
    c.head_dim = head_dim;
    rope_status st = rope_freqs_compute(&c, 0, f);
    CHECK_OK(st);
}

typedef struct {
    double max_ulp, max_abs;
} err_stat;

static void measure(const rope_freqs *f, int64_t center, rope_precision prec, err_stat *cs) {
    /* the 64 positions center-32 .. center+31, every frequency */
    enum { NP = 64 };
    int64_t pos[NP];
    for (int r = 0; r < NP; r++) pos[r] = center - NP / 2 + r;
    static float cbuf[NP * ROPE_MAX_FREQS], sbuf[NP * ROPE_MAX_FREQS];
    CHECK_OK(rope_cos_sin(f, pos, 0, NP, prec, cbuf, sbuf));
    /* the same rows inside a consecutive run of 2·NP (rope_table_create's route,
     * the addition-formula shortcut in accurate mode): the same bits */
    static float cw[2 * NP * ROPE_MAX_FREQS], sw[2 * NP * ROPE_MAX_FREQS];
    int64_t start = pos[0] - NP / 2, top = ((int64_t)1 << 53) - (2 * NP - 1);
    if (start > top) start = top;
    CHECK_OK(rope_cos_sin(f, NULL, start, 2 * NP, prec, cw, sw));
    size_t off = (size_t)(pos[0] - start) * (size_t)f->n_freqs, len = NP * (size_t)f->n_freqs;
    CHECK_MSG(!memcmp(cw + off, cbuf, len * 4) && !memcmp(sw + off, sbuf, len * 4),
              "consecutive rows around %lld differ from rows by position", (long long)center);
    cs->max_ulp = cs->max_abs = 0;
    for (int r = 0; r < NP; r++)
        for (int64_t i = 0; i < f->n_freqs; i++) {
            long double c, s;
            oracle(f->inv_freq[i], pos[r], &c, &s);
            double ec = fabs((double)((long double)cbuf[r * f->n_freqs + i] - c));
            double es = fabs((double)((long double)sbuf[r * f->n_freqs + i] - s));
            double uc = ec / ulp_of((double)c), us = es / ulp_of((double)s);
            if (uc > cs->max_ulp) cs->max_ulp = uc;
            if (us > cs->max_ulp) cs->max_ulp = us;
            if (ec > cs->max_abs) cs->max_abs = ec;
            if (es > cs->max_abs) cs->max_abs = es;
        }
}

/* The precision table quoted in docs/precision.md (for the kernel set in use). */
static void test_accuracy(void) {
    printf("kernel set: %s\n", rope_isa_name());
    const double thetas[2] = {1e4, 1e6};
    enum { NLOG = 9 };
    const int logs[NLOG] = {10, 16, 20, 24, 30, 36, 42, 48, 53};
    printf("| theta | position | accurate max err (ulp) | accurate max abs | compat max err (ulp) | compat max abs |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int t = 0; t < 2; t++) {
        rope_freqs f;
        default_freqs(thetas[t], 128, &f);
        for (int k = 0; k < NLOG; k++) {
            int64_t p = (int64_t)1 << logs[k];
            if (logs[k] == 53) p -= 32; /* positions stop at 2^53 */
            err_stat acc, cmp;
            measure(&f, p, ROPE_PRECISION_ACCURATE, &acc);
            measure(&f, p, ROPE_PRECISION_COMPAT_F32, &cmp);
            printf("| %g | 2^%d | %.4f | %.2e | %.3g | %.2e |\n", thetas[t], logs[k], acc.max_ulp,
                   acc.max_abs, cmp.max_ulp, cmp.max_abs);
            /* accurate: correctly rounded up to ~2^-26 ulp plus the oracle's noise */
            CHECK_MSG(acc.max_ulp <= 0.501, "theta %g pos 2^%d: %.3f ulp", thetas[t], logs[k], acc.max_ulp);
            /* compat: the float32 angle is off by |θ32 - θ|·m + half an ulp of the
             * angle; with θ32 within ~2 ulp of θ that is <= 3·2^-24 relative of the
             * largest angle m·θ0 = m, plus cos/sin rounding. Positions > 2^24 also
             * lose the position itself in (float)m, so the bound is for <= 2^24. */
            if (logs[k] <= 24)
                CHECK_MSG(cmp.max_abs <= 3.0 * ldexp((double)p + 4, -24) + ldexp(1, -24),
                          "compat theta %g pos 2^%d abs %.3g", thetas[t], logs[k], cmp.max_abs);
        }
    }
    /* θ up to 1e7 and scaled types are accurate too */
    rope_freqs f;
    default_freqs(1e7, 128, &f);
    err_stat acc;
    measure(&f, (int64_t)1 << 20, ROPE_PRECISION_ACCURATE, &acc);
    CHECK_MSG(acc.max_ulp <= 0.501, "theta 1e7: %.3f ulp", acc.max_ulp);
    rope_config c;
    rope_config_init(&c);
    c.type = ROPE_SCALING_LLAMA3;
    c.rope_theta = 500000;
    c.head_dim = 128;
    c.factor = 8;
    c.low_freq_factor = 1;
    c.high_freq_factor = 4;
    c.original_max_position_embeddings = 8192;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    measure(&f, 131071, ROPE_PRECISION_ACCURATE, &acc);
    CHECK_MSG(acc.max_ulp <= 0.501, "llama3: %.3f ulp", acc.max_ulp);
}

static void test_compat_matches_float32(void) {
    /* compat == float32 angle arithmetic: cosf/sinf of RN32(θ32·(float)m),
     * within 1 ulp (our value is the correctly rounded one; libm's cosf is < 1 ulp) */
    rope_freqs f;
    default_freqs(1e4, 128, &f);
    const int64_t pos[4] = {3, 4095, 65537, 1 << 20};
    float cb[4 * 64], sb[4 * 64];
    CHECK_OK(rope_cos_sin(&f, pos, 0, 4, ROPE_PRECISION_COMPAT_F32, cb, sb));
    int bad = 0;
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 64; i++) {
            volatile float a = f.inv_freq_f32[i] * (float)pos[r];
            float c = cosf(a), s = sinf(a);
            if (fabs((double)c - cb[r * 64 + i]) > ulp_of(c) ||
                fabs((double)s - sb[r * 64 + i]) > ulp_of(s))
                bad++;
        }
    CHECK_EQ_INT(bad, 0);
}

static void test_identity_at_zero(void) {
    const double thetas[3] = {1e4, 5e5, 1e7};
    for (int t = 0; t < 3; t++)
        for (int prec = 0; prec < 2; prec++) {
            rope_freqs f;
            default_freqs(thetas[t], 128, &f);
            rope_table *tab = NULL;
            CHECK_OK(rope_table_create(&f, 4, (rope_precision)prec, &tab));
            if (!tab) continue;
            CHECK_EQ_INT(rope_table_rows(tab), 4);
            CHECK_EQ_INT(rope_table_n_freqs(tab), 64);
            const float *c = rope_table_cos(tab), *s = rope_table_sin(tab);
            for (int i = 0; i < 64; i++) CHECK(c[i] == 1.0f && s[i] == 0.0f);
            /* row 1 is the angle θᵢ itself */
            CHECK(c[64] == (float)cos(1.0) && s[64] == (float)sin(1.0));
            rope_table_free(tab);
        }
}

static int64_t lcg(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (int64_t)(*st >> 33);
}

static void test_rows_by_position(void) {
    rope_freqs f;
    default_freqs(1e6, 96, &f);
    const int64_t n = 300;
    for (int prec = 0; prec < 2; prec++) {
        rope_table *dense = NULL, *at = NULL;
        CHECK_OK(rope_table_create(&f, n, (rope_precision)prec, &dense));
        int64_t pos[64];
        uint64_t st = 12345;
        for (int r = 0; r < 64; r++) pos[r] = lcg(&st) % n;
        pos[0] = 0;
        pos[1] = n - 1;
        pos[2] = pos[3] = 17; /* repeats are fine */
        CHECK_OK(rope_table_create_at(&f, pos, 64, (rope_precision)prec, &at));
        if (!dense || !at) {
            rope_table_free(dense);
            rope_table_free(at);
            continue;
        }
        CHECK_EQ_INT(rope_table_rows(at), 64);
        int mism = 0;
        for (int r = 0; r < 64; r++)
            if (memcmp(rope_table_cos(at) + r * 48, rope_table_cos(dense) + pos[r] * 48, 48 * 4) ||
                memcmp(rope_table_sin(at) + r * 48, rope_table_sin(dense) + pos[r] * 48, 48 * 4))
                mism++;
        CHECK_EQ_INT(mism, 0);
        /* rope_cos_sin with a start offset == dense rows start.. */
        float cb[10 * 48], sb[10 * 48];
        CHECK_OK(rope_cos_sin(&f, NULL, 100, 10, (rope_precision)prec, cb, sb));
        CHECK(memcmp(cb, rope_table_cos(dense) + 100 * 48, sizeof cb) == 0);
        CHECK(memcmp(sb, rope_table_sin(dense) + 100 * 48, sizeof sb) == 0);
        rope_table_free(dense);
        rope_table_free(at);
    }
}

static void test_mrope(void) {
    rope_config c;
    rope_config_init(&c);
    c.rope_theta = 1e6;
    c.head_dim = 128;
    c.n_mrope_section = 3;
    c.mrope_section[0] = 16;
    c.mrope_section[1] = 24;
    c.mrope_section[2] = 24;
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    enum { N = 40 };
    int64_t thw[3 * N], plain[N];
    for (int r = 0; r < N; r++) plain[r] = thw[r] = thw[N + r] = thw[2 * N + r] = 1000 * r + 7;
    for (int prec = 0; prec < 2; prec++) {
        rope_table *m = NULL, *p = NULL;
        CHECK_OK(rope_table_create_mrope(&f, thw, N, (rope_precision)prec, &m));
        CHECK_OK(rope_table_create_at(&f, plain, N, (rope_precision)prec, &p));
        if (m && p) {
            CHECK(memcmp(rope_table_cos(m), rope_table_cos(p), N * 64 * 4) == 0);
            CHECK(memcmp(rope_table_sin(m), rope_table_sin(p), N * 64 * 4) == 0);
        }
        rope_table_free(m);
        rope_table_free(p);
    }
    /* distinct planes: frequency i takes the position of its section's plane */
    int64_t t3[3] = {5, 60, 900};
    rope_table *m = NULL, *p = NULL;
    CHECK_OK(rope_table_create_mrope(&f, t3, 1, ROPE_PRECISION_ACCURATE, &m));
    CHECK_OK(rope_table_create_at(&f, t3, 3, ROPE_PRECISION_ACCURATE, &p));
    if (m && p) {
        int bad = 0;
        for (int i = 0; i < 64; i++) {
            int plane = i < 16 ? 0 : i < 40 ? 1 : 2;
            if (rope_table_cos(m)[i] != rope_table_cos(p)[plane * 64 + i] ||
                rope_table_sin(m)[i] != rope_table_sin(p)[plane * 64 + i])
                bad++;
        }
        CHECK_EQ_INT(bad, 0);
    }
    rope_table_free(m);
    rope_table_free(p);
}

static void test_bad_inputs(void) {
    rope_freqs f;
    default_freqs(1e4, 64, &f);
    rope_table *sentinel = (rope_table *)&f, *t = sentinel;
    float cb[4 * 32], sb[4 * 32], ref[4 * 32];
    for (int i = 0; i < 4 * 32; i++) cb[i] = sb[i] = ref[i] = -7.0f;
    int64_t neg[4] = {0, 1, 2, -1};
    int64_t ok4[4] = {0, 1, 2, 3};

    CHECK_STATUS(rope_table_create(NULL, 4, ROPE_PRECISION_ACCURATE, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create(&f, 4, ROPE_PRECISION_ACCURATE, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create(&f, 0, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_create(&f, -5, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_create(&f, 4, (rope_precision)7, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_create(&f, INT64_MAX / 2, ROPE_PRECISION_ACCURATE, &t), ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_table_create(&f, ((int64_t)1 << 53) + 2, ROPE_PRECISION_ACCURATE, &t),
                 ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_table_create_at(&f, NULL, 4, ROPE_PRECISION_ACCURATE, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create_at(&f, neg, 4, ROPE_PRECISION_ACCURATE, &t), ROPE_E_POSITION);
    CHECK_STATUS(rope_table_create_mrope(&f, ok4, 1, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
    {
        rope_freqs g = f;
        g.n_freqs = 0;
        CHECK_STATUS(rope_table_create(&g, 4, ROPE_PRECISION_ACCURATE, &t), ROPE_E_DIM);
        g.n_freqs = ROPE_MAX_FREQS + 1;
        CHECK_STATUS(rope_table_create(&g, 4, ROPE_PRECISION_ACCURATE, &t), ROPE_E_DIM);
        g = f;
        g.n_mrope_section = 2;
        g.mrope_section[0] = 10;
        g.mrope_section[1] = 10; /* 20 != 32 */
        CHECK_STATUS(rope_table_create_mrope(&g, ok4, 2, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
        g.mrope_section[1] = 22;
        int64_t negp[4] = {1, 2, 3, -4};
        CHECK_STATUS(rope_table_create_mrope(&g, negp, 2, ROPE_PRECISION_ACCURATE, &t), ROPE_E_POSITION);
        CHECK_STATUS(rope_table_create_mrope(&g, NULL, 2, ROPE_PRECISION_ACCURATE, &t), ROPE_E_NULL);
        g.n_mrope_section = ROPE_MAX_MROPE_PLANES + 1;
        CHECK_STATUS(rope_table_create_mrope(&g, ok4, 1, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
    }
    CHECK(t == sentinel); /* never written on error */

    CHECK_STATUS(rope_cos_sin(&f, neg, 0, 4, ROPE_PRECISION_ACCURATE, cb, sb), ROPE_E_POSITION);
    CHECK_STATUS(rope_cos_sin(&f, NULL, -3, 4, ROPE_PRECISION_ACCURATE, cb, sb), ROPE_E_POSITION);
    CHECK_STATUS(rope_cos_sin(&f, NULL, INT64_MAX - 1, 4, ROPE_PRECISION_ACCURATE, cb, sb),
                 ROPE_E_POSITION);
    CHECK_STATUS(rope_cos_sin(&f, NULL, ((int64_t)1 << 53) - 1, 4, ROPE_PRECISION_ACCURATE, cb, sb),
                 ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_cos_sin(&f, NULL, 0, -1, ROPE_PRECISION_ACCURATE, cb, sb), ROPE_E_PARAM);
    CHECK_STATUS(rope_cos_sin(&f, NULL, 0, 4, ROPE_PRECISION_ACCURATE, NULL, sb), ROPE_E_NULL);
    CHECK_STATUS(rope_cos_sin(&f, NULL, 0, 4, ROPE_PRECISION_ACCURATE, cb, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_cos_sin(NULL, NULL, 0, 4, ROPE_PRECISION_ACCURATE, cb, sb), ROPE_E_NULL);
    CHECK_STATUS(rope_cos_sin(&f, NULL, 0, 4, (rope_precision)-1, cb, sb), ROPE_E_PARAM);
    CHECK_STATUS(rope_cos_sin(&f, NULL, 0, INT64_MAX / 4, ROPE_PRECISION_ACCURATE, cb, sb),
                 ROPE_E_OVERFLOW);
    CHECK(memcmp(cb, ref, sizeof cb) == 0 && memcmp(sb, ref, sizeof sb) == 0);
    CHECK_OK(rope_cos_sin(&f, NULL, 0, 0, ROPE_PRECISION_ACCURATE, cb, sb)); /* nothing to do */
    CHECK(memcmp(cb, ref, sizeof cb) == 0);

    CHECK(rope_table_rows(NULL) == 0 && rope_table_n_freqs(NULL) == 0);
    CHECK(rope_table_cos(NULL) == NULL && rope_table_sin(NULL) == NULL);
    rope_table_free(NULL);
}


/* Qwen3-VL interleaved M-RoPE: frequency j takes plane h when j % 3 == 1 and j < 3·s_h,
 * plane w when j % 3 == 2 and j < 3·s_w, else t; a 4-plane contiguous config too. */
static void test_mrope_interleaved(void) {
    rope_config c;
    rope_config_init(&c);
    c.head_dim = 128;
    c.rope_theta = 5e6;
    c.n_mrope_section = 3;
    c.mrope_section[0] = 24;
    c.mrope_section[1] = 20;
    c.mrope_section[2] = 20;
    c.mrope_interleaved = 1;
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(f.mrope_interleaved == 1);
    int64_t thw[3 * 2] = {5, 40000, 7, 40000, 9, 40000}; /* row 0: t5 h7 w9; row 1: text */
    rope_table *t = NULL;
    CHECK_OK(rope_table_create_mrope(&f, thw, 2, ROPE_PRECISION_ACCURATE, &t));
    float cs[3][64], sn[3][64];
    int64_t planes[3] = {5, 7, 9};
    for (int p = 0; p < 3; p++) CHECK_OK(rope_cos_sin(&f, &planes[p], 0, 1, ROPE_PRECISION_ACCURATE, cs[p], sn[p]));
    int bad = 0, used[3] = {0, 0, 0};
    for (int j = 0; t && j < 64; j++) {
        int p = (j % 3 == 1 && j < 60) ? 1 : (j % 3 == 2 && j < 60) ? 2 : 0;
        used[p]++;
        if (rope_table_cos(t)[j] != cs[p][j] || rope_table_sin(t)[j] != sn[p][j]) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(used[0] == 24 && used[1] == 20 && used[2] == 20);
    /* text tokens: identical to a plain row */
    float pc[64], ps[64];
    int64_t p40k = 40000;
    CHECK_OK(rope_cos_sin(&f, &p40k, 0, 1, ROPE_PRECISION_ACCURATE, pc, ps));
    CHECK(t && memcmp(rope_table_cos(t) + 64, pc, sizeof pc) == 0 && memcmp(rope_table_sin(t) + 64, ps, sizeof ps) == 0);
    rope_table_free(t);
    /* 4 planes, contiguous (16 + 16 + 16 + 16) */
    c.mrope_interleaved = 0;
    c.n_mrope_section = 4;
    c.mrope_section[0] = c.mrope_section[1] = c.mrope_section[2] = c.mrope_section[3] = 16;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    int64_t four[4] = {1, 2, 3, 4};
    CHECK_OK(rope_table_create_mrope(&f, four, 1, ROPE_PRECISION_ACCURATE, &t));
    bad = 0;
    for (int p = 0; t && p < 4; p++) {
        float c4[64], s4[64];
        CHECK_OK(rope_cos_sin(&f, &four[p], 0, 1, ROPE_PRECISION_ACCURATE, c4, s4));
        for (int j = 16 * p; j < 16 * p + 16; j++) bad += rope_table_cos(t)[j] != c4[j];
    }
    CHECK_EQ_INT(bad, 0);
    rope_table_free(t);
    c.mrope_interleaved = 2;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &f), ROPE_E_PARAM);
}

/* Consecutive rows (rope_cos_sin with positions NULL, rope_table_create[_pool]) take
 * the addition-formula shortcut of kernels/sincos.h in accurate mode: every entry
 * must be the bits of the kernel set's direct sincos of its position, for any
 * start, length, frequency count (vector tails) and θ (θ > 1: angles reaching
 * 2^52 take the direct route), and a pool must not change a bit. */
static int direct_mismatch(const rope_freqs *f, int64_t start, int64_t n, const float *cb,
                           const float *sb) {
    float c[ROPE_MAX_FREQS], s[ROPE_MAX_FREQS];
    const int64_t nf = f->n_freqs;
    int bad = 0;
    for (int64_t r = 0; r < n; r++) {
        rope_kernels_get()->sincos(f->inv_freq, nf, (double)(start + r), c, s);
        bad += memcmp(c, cb + r * nf, (size_t)nf * 4) || memcmp(s, sb + r * nf, (size_t)nf * 4);
    }
    return bad;
}

static void test_consecutive_shortcut(void) {
    static float cb[700 * ROPE_MAX_FREQS], sb[700 * ROPE_MAX_FREQS];
    const int64_t dims[5] = {128, 96, 36, 130, 2}; /* 64, 48, 18, 65, 1 frequencies */
    const int64_t starts[7] = {0, 1000, ((int64_t)1 << 30) - 77, ((int64_t)1 << 45) + 3,
                               ((int64_t)1 << 52) - 350, ((int64_t)1 << 53) - 699,
                               ((int64_t)1 << 53) - 127};
    const int64_t lens[3] = {700, 129, 127};
    for (int d = 0; d < 5; d++)
        for (int scale = 0; scale < 2; scale++) {
            rope_freqs f;
            default_freqs(d == 3 ? 5e5 : 1e4, dims[d], &f);
            if (scale) /* θ up to 3 (a scaling factor below 1): top angles pass 2^52 */
                for (int64_t i = 0; i < f.n_freqs; i++) f.inv_freq[i] *= 3.0;
            for (int si = 0; si < 7; si++)
                for (int li = 0; li < 3; li++) {
                    int64_t n = lens[li], start = starts[si];
                    if (start + n - 1 > ((int64_t)1 << 53)) continue;
                    if (scale && (double)(start + n - 1) * 3.0 > 0x1p53) continue; /* refused */
                    CHECK_OK(rope_cos_sin(&f, NULL, start, n, ROPE_PRECISION_ACCURATE, cb, sb));
                    CHECK_MSG(direct_mismatch(&f, start, n, cb, sb) == 0,
                              "%s: head_dim %lld x%d start %lld n %lld: rows differ from the "
                              "direct kernel", rope_isa_name(), (long long)dims[d], scale ? 3 : 1,
                              (long long)start, (long long)n);
                }
        }
    /* a pool splits the rows; 1, 2 and 3 threads give rope_table_create's bits */
    rope_freqs f;
    default_freqs(1e4, 32, &f);
    const int64_t n = 70001;
    rope_table *ref = NULL;
    CHECK_OK(rope_table_create(&f, n, ROPE_PRECISION_ACCURATE, &ref));
    CHECK_EQ_INT(direct_mismatch(&f, 0, n, rope_table_cos(ref), rope_table_sin(ref)), 0);
    for (int th = 1; th <= 3 && ref; th++) {
        rope_pool *pool = NULL;
        rope_table *t = NULL;
        CHECK_OK(rope_pool_create(th, &pool));
        CHECK_OK(rope_table_create_pool(&f, n, ROPE_PRECISION_ACCURATE, pool, &t));
        if (t) {
            CHECK_EQ_INT(rope_table_rows(t), n);
            CHECK(!memcmp(rope_table_cos(t), rope_table_cos(ref), (size_t)n * 16 * 4));
            CHECK(!memcmp(rope_table_sin(t), rope_table_sin(ref), (size_t)n * 16 * 4));
        }
        rope_table_free(t);
        /* compat tables and bad input through the pool entry */
        CHECK_OK(rope_table_create_pool(&f, 300, ROPE_PRECISION_COMPAT_F32, pool, &t));
        rope_table_free(t);
        t = NULL;
        CHECK_STATUS(rope_table_create_pool(&f, 0, ROPE_PRECISION_ACCURATE, pool, &t),
                     ROPE_E_PARAM);
        CHECK_STATUS(rope_table_create_pool(NULL, 10, ROPE_PRECISION_ACCURATE, pool, &t),
                     ROPE_E_NULL);
        CHECK_STATUS(rope_table_create_pool(&f, 10, ROPE_PRECISION_ACCURATE, pool, NULL),
                     ROPE_E_NULL);
        CHECK(t == NULL);
        rope_pool_free(pool);
    }
    rope_table_free(ref);
}

int main(void) {
    /* accurate tables go through the kernel set's sincos: every property for
     * every set this CPU and build support */
    int n_isa = 0;
    const char *const *isas = rope_isa_available(&n_isa);
    for (int k = 0; k < n_isa; k++) {
        CHECK_OK(rope_isa_force(isas[k]));
        test_accuracy();
        test_compat_matches_float32();
        test_identity_at_zero();
        test_rows_by_position();
        test_mrope();
        test_mrope_interleaved();
        test_consecutive_shortcut();
    }
    test_bad_inputs();
    return check_report("test_table");
}
