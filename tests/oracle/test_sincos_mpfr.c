/*
 * The accurate-mode claim, against a 300-bit MPFR oracle (built only when
 * MPFR is found; the library itself never uses it).
 *
 * Claim (docs/precision.md): for a position m (integer, 0 <= m <= 2^53) and
 * θ = the float64 inv_freq, with |m·θ| <= 2^53, every cos/sin entry is within
 * 0.5 + 2^-20 float32 ulps (of the exact value) of cos/sin of the exact real
 * product m·θ, in every kernel set, and every kernel set gives the scalar
 * kernel's bits.
 *
 * Cases:
 *  - sweep: positions 2^k - 32 .. 2^k + 31 for k = 20..53 (capped at 2^53),
 *    all 64 frequencies of head_dim 128 for bases 1e4, 5e5 and 1e6;
 *  - random: m log-uniform in [1, 2^53], θ log-uniform in [2^-40, 1]; and θ
 *    log-uniform in [1, 2^20] with m·θ < 2^53;
 *  - hard cases (SLEEF's idea: arguments next to multiples of π/2, where the
 *    reduction cancels): from the continued fraction of (π/2)·2^-e, doubles
 *    x = M·2^e (M < 2^53) with x within ~2^-60 of a multiple of π/2, split as
 *    m·θ = x with m = 2^j or an odd divisor of M times 2^j; and products that
 *    need all 106 bits: for odd m near 2^52, θ = T·2^e from the continued
 *    fraction of (π/2)·2^-e/m, so that m·θ (not a double) nears n·π/2.
 *
 * Table shortcut (rope_cos_sin over consecutive positions, kernels/sincos.h
 * rope_sc_sum): every case above is also computed inside a run of 128
 * consecutive positions (8 lanes of the same θ), where each row comes from two
 * anchors by the addition formula; every row must be the scalar kernel's bits
 * (so the claim carries over), and the formula's double value (before the
 * rounding test) must be within the 2^-46.9 the error analysis allows.
 */
#include <math.h>
#include <mpfr.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kernel_sets.h"
#include "kernels/kernel.h"
#include "kernels/sincos.h"
#include "rope.h"

#define PREC 300
#define ULP_BOUND (0.5 + 0x1p-20)

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) { return check_rand64(&rng_state); }
static double rnd_unit(void) { return (double)(rnd() >> 11) * 0x1p-53; }


static const rope_kernels *sets[8];
static int n_sets;

static struct {
    double worst_ulp;    /* max error, float32 ulps of the exact value */
    long long entries;   /* cos and sin values checked (per kernel set) */
    long long not_rn;    /* entries != the correctly rounded float */
    long long differ;    /* entries whose bits differ from the scalar kernel */
    long long bad;       /* entries over ULP_BOUND */
    double min_dist_log2; /* smallest |m·θ − nπ/2| met, log2 */
    char first[200];     /* the first failure, for the report */
} st;

static mpfr_t x, c, s, t, halfpi;

/* the table shortcut's counts (per kernel set): runs through it, rows checked,
 * rows whose bits differ from the scalar kernel, worst |formula − truth| */
static struct {
    long long runs, rows, differ, open;
    double worst_abs;
    double worst_anchor; /* rope_scalar_sincos_d (the anchors) vs the truth, absolute */
    char first[200];
} tb;

/* |got − truth| in float32 ulps of truth (at least 2^-149). */
static double ulp_err(float got, mpfr_t truth) {
    if (mpfr_zero_p(truth)) return got == 0.0f ? 0.0 : INFINITY;
    long e = mpfr_get_exp(truth); /* truth in [2^(e-1), 2^e) */
    long ue = e - 24 < -149 ? -149 : e - 24;
    mpfr_sub_d(t, truth, (double)got, MPFR_RNDN);
    mpfr_mul_2si(t, t, -ue, MPFR_RNDN);
    return fabs(mpfr_get_d(t, MPFR_RNDN));
}

static void note(float got, mpfr_t truth, const char *what, double m, double theta) {
    double u = ulp_err(got, truth);
    if (u > st.worst_ulp) st.worst_ulp = u;
    if (got != mpfr_get_flt(truth, MPFR_RNDN)) st.not_rn++;
    st.entries++;
    if (u > ULP_BOUND && st.bad++ == 0)
        snprintf(st.first, sizeof st.first, "%s m=%.17g θ=%a: %.6f ulp", what, m, theta, u);
}

/* m·θ exactly, its distance to the nearest multiple of π/2, cos/sin of it. */
static void truth_of(double m, double theta) {
    mpfr_set_d(x, m, MPFR_RNDN);
    mpfr_mul_d(x, x, theta, MPFR_RNDN); /* exact: 106 bits < PREC */
    mpfr_sin_cos(s, c, x, MPFR_RNDN);
    mpfr_div(t, x, halfpi, MPFR_RNDN);
    mpfr_rint(t, t, MPFR_RNDN);
    mpfr_mul(t, t, halfpi, MPFR_RNDN);
    mpfr_sub(t, x, t, MPFR_RNDN);
    if (!mpfr_zero_p(t)) {
        double d = log2(fabs(mpfr_get_d(t, MPFR_RNDN)));
        if (d < st.min_dist_log2) st.min_dist_log2 = d;
    }
}

/* |v − truth| as a double (v a double). */
static double abs_err(double v, mpfr_t truth) {
    mpfr_sub_d(t, truth, v, MPFR_RNDN);
    return fabs(mpfr_get_d(t, MPFR_RNDN));
}

/* n frequencies at one position, every kernel set, against the oracle; the
 * scalar kernel's double values (before the rounding: the table shortcut's
 * anchors) too, whose error bound δ = 2^-49 the shortcut's argument uses. */
static void check_row(const double *theta, int n, double m, const char *what) {
    float cs[8][64], sn[8][64];
    double cd[64], sd[64];
    for (int k = 0; k < n_sets; k++) sets[k]->sincos(theta, n, m, cs[k], sn[k]);
    rope_scalar_sincos_d(theta, n, m, cd, sd);
    int in_range = 1;
    for (int i = 0; i < n; i++) in_range &= fabs(m * theta[i]) < 0x1p53;
    for (int k = 1; k < n_sets && in_range; k++) { /* every set's anchors: the same doubles */
        double ck[64], sk[64];
        sets[k]->sincos_d(theta, n, m, ck, sk);
        if ((memcmp(ck, cd, (size_t)n * 8) || memcmp(sk, sd, (size_t)n * 8)) && tb.differ++ == 0)
            snprintf(tb.first, sizeof tb.first, "%s: sincos_d at m=%.17g differs from scalar",
                     sets[k]->name, m);
    }
    for (int i = 0; i < n; i++) {
        truth_of(m, theta[i]);
        if (fabs(m * theta[i]) < 0x1p53) { /* the reduction's range, where anchors come from */
            double e = fmax(abs_err(cd[i], c), abs_err(sd[i], s));
            if (e > tb.worst_anchor) tb.worst_anchor = e;
        }
        for (int k = 0; k < n_sets; k++) {
            note(cs[k][i], c, what, m, theta[i]);
            note(sn[k][i], s, what, m, theta[i]);
            if (k && (memcmp(&cs[k][i], &cs[0][i], 4) || memcmp(&sn[k][i], &sn[0][i], 4)) &&
                st.differ++ == 0 && !st.bad)
                snprintf(st.first, sizeof st.first, "%s m=%.17g θ=%a: %s differs from scalar",
                         what, m, theta[i], sets[k]->name);
        }
    }
}

/* Position m with θ in every lane of 8 frequencies, inside a consecutive run of
 * 128 positions, through rope_cos_sin (the table shortcut) of every kernel set:
 * every row must be the scalar kernel's bits. Then the formula's double value
 * at m, computed from the scalar anchors as rope_cos_sin does (anchor A = the
 * start of m's 64-row block, b = the rest), against the oracle. */
static void check_run(double theta, double m) {
    enum { N = 128, L = 8, BLOCK = 64 };
    static rope_freqs f;
    memset(&f, 0, sizeof f);
    f.n_freqs = L;
    for (int i = 0; i < L; i++) f.inv_freq[i] = theta, f.inv_freq_f32[i] = (float)theta;
    double start = m >= 100 ? m - 100 : 0;
    if (start + N - 1 > 0x1p53) start = 0x1p53 - (N - 1);
    if (!(fabs((start + N - 1) * theta) < 0x1p52)) return; /* the direct route: nothing new */
    float cs[N * L], sn[N * L], rc[L], rs[L];
    for (int k = 0; k < n_sets; k++) {
        CHECK_OK(rope_isa_force(sets[k]->name));
        CHECK_OK(rope_cos_sin(&f, NULL, (int64_t)start, N, ROPE_PRECISION_ACCURATE, cs, sn));
        tb.runs++;
        for (int r = 0; r < N; r++) {
            rope_kernels_scalar.sincos(f.inv_freq, L, start + r, rc, rs);
            tb.rows++;
            if ((memcmp(rc, cs + r * L, sizeof rc) || memcmp(rs, sn + r * L, sizeof rs)) &&
                tb.differ++ == 0)
                snprintf(tb.first, sizeof tb.first, "%s: m=%.17g θ=%a differs from scalar",
                         sets[k]->name, start + r, theta);
        }
    }
    double a = start + BLOCK * floor((m - start) / BLOCK), b = m - a, ca, sa, cb, sb;
    rope_scalar_sincos_d(&theta, 1, a, &ca, &sa);
    rope_scalar_sincos_d(&theta, 1, b, &cb, &sb);
    double fc = fma(ca, cb, -(sa * sb)), fs = fma(sa, cb, ca * sb);
    float c0, s0;
    tb.open += !rope_sc_sum(ca, sa, cb, sb, &c0, &s0);
    truth_of(m, theta);
    double e = fmax(abs_err(fc, c), abs_err(fs, s));
    if (e > tb.worst_abs) tb.worst_abs = e;
}

static void sweep(void) {
    static const double bases[3] = {1e4, 5e5, 1e6};
    double theta[64];
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 64; i++) theta[i] = pow(bases[b], -2.0 * i / 128.0);
        for (int k = 20; k <= 53; k++) {
            double top = ldexp(1.0, k) + 31;
            if (top > 0x1p53) top = 0x1p53;
            for (int j = 0; j < 64; j++) check_row(theta, 64, top - j, "sweep");
        }
    }
}

static void random_cases(void) {
    for (int r = 0; r < 2000; r++) {
        double m = floor(exp2(rnd_unit() * 53.0));
        double theta[16];
        for (int i = 0; i < 16; i++) theta[i] = exp2(-40.0 * rnd_unit());
        check_row(theta, 16, m, "random");
        check_run(theta[r % 16], m);
    }
    /* θ above 1 (a scaling factor below 1): the claim holds while |m·θ| < 2^53 */
    for (int r = 0; r < 500; r++) {
        double theta[16], mx = 1;
        for (int i = 0; i < 16; i++) theta[i] = exp2(20.0 * rnd_unit()), mx = fmax(mx, theta[i]);
        double m = floor(exp2(rnd_unit() * (53.0 - log2(mx))) - 1);
        check_row(theta, 16, m < 0 ? 0 : m, "random θ > 1");
    }
}

/* Convergents p/q of a (> 0) with p < 2^53: calls f(p, q) for each. */
static void convergents(mpfr_t a, void (*f)(double p, double q, void *), void *ctx) {
    mpfr_t y, fl;
    mpfr_inits2(PREC, y, fl, (mpfr_ptr)0);
    mpfr_set(y, a, MPFR_RNDN);
    double p0 = 1, q0 = 0, p1, q1; /* p_{-1}/q_{-1} = 1/0 */
    mpfr_floor(fl, y);
    p1 = mpfr_get_d(fl, MPFR_RNDN), q1 = 1;
    for (int it = 0; it < 80 && p1 < 0x1p53; it++) {
        if (p1 > 0) f(p1, q1, ctx);
        mpfr_sub(y, y, fl, MPFR_RNDN);
        if (mpfr_zero_p(y)) break;
        mpfr_ui_div(y, 1, y, MPFR_RNDN);
        mpfr_floor(fl, y);
        double an = mpfr_get_d(fl, MPFR_RNDN);
        if (an > 0x1p53) break;
        double p2 = an * p1 + p0, q2 = an * q1 + q0; /* exact while below 2^53 */
        p0 = p1, q0 = q1, p1 = p2, q1 = q2;
    }
    mpfr_clears(y, fl, (mpfr_ptr)0);
}

/* x = M·2^e near a multiple of π/2: several splits m·θ = x. */
static void hard_double(double M, double q, void *ctx) {
    (void)q;
    int e = *(const int *)ctx;
    double odd = M, d = 1;
    while (fmod(odd, 2.0) == 0.0) odd /= 2.0;
    for (double p = 3; p < 2000 && p * p <= odd; p += 2)
        if (fmod(odd, p) == 0.0) {
            d = p;
            break;
        }
    static const int js[5] = {0, 11, 26, 40, 53};
    for (int a = 0; a < 5; a++)
        for (int useodd = 0; useodd < 2; useodd++) {
            double m = ldexp(useodd ? d : 1.0, js[a]);
            if (m > 0x1p53 || (useodd && d == 1)) continue;
            double theta = ldexp(M / (useodd ? d : 1.0), e - js[a]);
            if (fabs(theta) > 1.0 || fabs(m * theta) > 0x1p53) continue;
            check_row(&theta, 1, m, "hard-double");
            check_run(theta, m);
        }
}

struct prod_ctx {
    double m;
    int e;
};

/* θ = T·2^e with m·θ near n·π/2 (T/n a convergent of (π/2)·2^-e/m). */
static void hard_product(double T, double n, void *ctx) {
    const struct prod_ctx *p = ctx;
    (void)n;
    double theta = ldexp(T, p->e);
    if (theta > 1.0 || p->m * theta > 0x1p53) return;
    check_row(&theta, 1, p->m, "hard-product");
    check_run(theta, p->m);
}

static void hard_cases(void) {
    mpfr_t a;
    mpfr_init2(a, PREC);
    for (int e = -52; e <= 0; e++) {
        mpfr_mul_2si(a, halfpi, -e, MPFR_RNDN);
        convergents(a, hard_double, &e);
    }
    for (int r = 0; r < 60; r++) {
        struct prod_ctx p;
        p.m = ldexp((double)(rnd() >> 12 | 1), r % 3 == 0 ? 0 : -(int)(rnd() % 30));
        p.m = floor(p.m);
        if (fmod(p.m, 2.0) == 0.0) p.m += 1;
        static const int es[4] = {-53, -60, -70, -80};
        p.e = es[r % 4];
        mpfr_mul_2si(a, halfpi, -p.e, MPFR_RNDN);
        mpfr_div_d(a, a, p.m, MPFR_RNDN);
        convergents(a, hard_product, &p);
    }
    mpfr_clear(a);
}

int main(void) {
    mpfr_inits2(PREC, x, c, s, t, halfpi, (mpfr_ptr)0);
    mpfr_const_pi(halfpi, MPFR_RNDN);
    mpfr_div_2ui(halfpi, halfpi, 1, MPFR_RNDN);
    int n = 0;
    const char *const *names = rope_isa_available(&n);
    for (int i = 0; i < n && n_sets < 8; i++)
        if (table_of(names[i])) sets[n_sets++] = table_of(names[i]);
    CHECK(n_sets >= 1 && sets[0] == &rope_kernels_scalar);
    const char *parts[3] = {"sweep", "random", "hard cases"};
    void (*fn[3])(void) = {sweep, random_cases, hard_cases};
    for (int p = 0; p < 3; p++) {
        memset(&st, 0, sizeof st);
        fn[p]();
        printf("%-10s: %lld entries x %d kernel sets, worst %.7f ulp (bound 0.5 + 2^-20), "
               "%lld not the correctly rounded float, %lld differ from scalar, "
               "closest angle to a multiple of pi/2: 2^%.1f\n",
               parts[p], st.entries / n_sets, n_sets, st.worst_ulp, st.not_rn / n_sets,
               st.differ, n_sets ? st.min_dist_log2 : 0.0);
        CHECK(st.entries > 0);
        CHECK_MSG(st.bad == 0 && st.differ == 0, "%s: %lld entries over the bound, %lld differ "
                  "from scalar; first: %s", parts[p], st.bad, st.differ, st.first);
    }
    printf("anchors (the kernel in double, before rounding): worst |error| 2^%.1f over every "
           "case above (the shortcut's argument assumes 2^-49)\n", log2(tb.worst_anchor));
    CHECK_MSG(tb.worst_anchor <= 0x1p-49, "anchor error 2^%.2f over 2^-49", log2(tb.worst_anchor));
    printf("table shortcut: %lld runs of 128 positions (random and hard cases), %lld rows, "
           "%lld differ from scalar; formula before rounding: worst |error| 2^%.1f (analysis "
           "bound 2^-46.9), the rounding test left %lld of the hard positions to the direct "
           "kernel\n", tb.runs, tb.rows, tb.differ, log2(tb.worst_abs), tb.open);
    CHECK(tb.runs > 1000);
    CHECK_MSG(tb.differ == 0, "%lld shortcut rows differ; first: %s", tb.differ, tb.first);
    CHECK_MSG(tb.worst_abs < exp2(-46.9), "formula error 2^%.2f over the bound", log2(tb.worst_abs));
    mpfr_clears(x, c, s, t, halfpi, (mpfr_ptr)0);
    mpfr_free_cache();
    return check_report("test_sincos_mpfr");
}
