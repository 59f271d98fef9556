/*
 * rope check: self-verification on this machine, through the public API only.
 *
 *   1. properties of the rotation (RoFormer §3.4): norm kept, scores depend only on
 *      m − n, inverse undoes forward, R(a)·R(b) = R(a+b); both styles, f32/f16/bf16;
 *   2. accuracy against float64 by position (2^10, 2^16, 2^20): cos/sin tables in both
 *      precision modes and the rotated vectors, maximum error measured and printed;
 *   3. every kernel set this CPU runs (rope_isa_available) against the scalar
 *      reference: bit for bit, every style and dtype, table and table-free, strided;
 *   4. thread-count determinism: a pool of 1 against pools of 2 and 4.
 *
 * A pass/fail table on stdout (or --json), progress on stderr, exit 1 if anything fails.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kernels/kernel.h"  /* rope_isa_force: test hook */
#include "rope.h"

#define MAX_CHECKS 128

typedef struct {
    char name[96];
    int pass;
    double measured;
    double bound;
    const char *unit;
} check_row;

typedef struct {
    check_row rows[MAX_CHECKS];
    int n;
    int quiet;
} check_log;

static void add(check_log *L, int pass, double measured, double bound, const char *unit, const char *fmt,
                ...) __attribute__((format(printf, 6, 7)));

static void add(check_log *L, int pass, double measured, double bound, const char *unit, const char *fmt,
                ...) {
    if (L->n >= MAX_CHECKS) return;
    check_row *r = &L->rows[L->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof r->name, fmt, ap);
    va_end(ap);
    r->pass = pass;
    r->measured = measured;
    r->bound = bound;
    r->unit = unit;
    if (!L->quiet) fprintf(stderr, "rope check: [%2d] %-52s %s\n", L->n, r->name, pass ? "ok" : "FAIL");
}

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

static const char *dtype_name(rope_dtype t) {
    return t == ROPE_F32 ? "f32" : t == ROPE_F16 ? "f16" : "bf16";
}
static const char *style_name(rope_style s) { return s == ROPE_STYLE_HALF ? "half" : "interleaved"; }

/* Unit roundoff of the storage type: the error bounds below are multiples of it. */
static double dtype_eps(rope_dtype t) {
    return t == ROPE_F32 ? 0x1p-24 : t == ROPE_F16 ? 0x1p-11 : 0x1p-8;
}

static void store(rope_dtype t, void *buf, size_t i, double v) {
    if (t == ROPE_F32) ((float *)buf)[i] = (float)v;
    else if (t == ROPE_F16) ((uint16_t *)buf)[i] = rope_f32_to_f16((float)v);
    else ((uint16_t *)buf)[i] = rope_f32_to_bf16((float)v);
}
static double load(rope_dtype t, const void *buf, size_t i) {
    if (t == ROPE_F32) return ((const float *)buf)[i];
    if (t == ROPE_F16) return rope_f16_to_f32(((const uint16_t *)buf)[i]);
    return rope_bf16_to_f32(((const uint16_t *)buf)[i]);
}

static double ulp32(double v) {
    float a = fabsf((float)v);
    if (a < FLT_MIN) return 0x1p-149;
    return (double)(nextafterf(a, INFINITY) - a);
}

/* The test geometry: (batch 1, seq S, heads H, head_dim D), rotary_dim = D. */
enum { S = 8, H = 3, D = 128, N = S * H * D };

typedef struct {
    rope_dtype dtype;
    unsigned char buf[N * 4];
    rope_tensor t;
} tens;

static void tens_init(tens *x, rope_dtype dt) {
    x->dtype = dt;
    rope_tensor_contiguous(&x->t, x->buf, dt, 1, S, H, D);
}
static void tens_random(tens *x, rope_dtype dt) {
    tens_init(x, dt);
    for (size_t i = 0; i < N; i++) store(dt, x->buf, i, urand());
}

static rope_status rotate(const rope_freqs *f, rope_style st, int64_t offset, int inverse, const tens *in,
                          tens *out) {
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = st;
    p.freqs = f;
    p.rotary_dim = f->rotary_dim;
    p.inverse = inverse;
    rope_positions pos = {0};
    pos.offset = offset;
    tens_init(out, in->dtype);
    return rope_apply(&p, &pos, &in->t, &out->t);
}

/* ------------------------------------------------------ 1. properties */

/* |R(m)x| = |x| per head vector, with m up to 10^5: the worst relative change. */
static double norm_change(const rope_freqs *f, rope_style st, rope_dtype dt, const tens *x, tens *y,
                          int *ok) {
    *ok &= rotate(f, st, 100000, 0, x, y) == ROPE_OK;
    double worst = 0;
    for (int v = 0; v < S * H; v++) {
        double a = 0, b = 0;
        for (int i = 0; i < D; i++) {
            double xi = load(dt, x->buf, (size_t)v * D + i), yi = load(dt, y->buf, (size_t)v * D + i);
            a += xi * xi;
            b += yi * yi;
        }
        double e = fabs(sqrt(b) - sqrt(a)) / sqrt(a);
        if (e > worst) worst = e;
    }
    return worst;
}

/* <R(m)q, R(n)k> = <R(m+t)q, R(n+t)k>, q = head 0, k = head 1: the worst change
 * of a score relative to |q||k|. */
static double relpos_change(const rope_freqs *f, rope_style st, rope_dtype dt, const tens *x, tens *y,
                            tens *z, int *ok) {
    *ok &= rotate(f, st, 37, 0, x, y) == ROPE_OK;
    *ok &= rotate(f, st, 37 + 5000, 0, x, z) == ROPE_OK;
    double worst = 0;
    for (int m = 0; m < S; m++)
        for (int n = 0; n < S; n++) {
            double s1 = 0, s2 = 0, nq = 0, nk = 0;
            for (int i = 0; i < D; i++) {
                size_t qi = ((size_t)m * H + 0) * D + i, ki = ((size_t)n * H + 1) * D + i;
                s1 += load(dt, y->buf, qi) * load(dt, y->buf, ki);
                s2 += load(dt, z->buf, qi) * load(dt, z->buf, ki);
                nq += load(dt, x->buf, qi) * load(dt, x->buf, qi);
                nk += load(dt, x->buf, ki) * load(dt, x->buf, ki);
            }
            double e = fabs(s1 - s2) / sqrt(nq * nk);
            if (e > worst) worst = e;
        }
    return worst;
}

static double max_abs_diff(rope_dtype dt, const tens *a, const tens *b) {
    double worst = 0;
    for (size_t i = 0; i < N; i++) {
        double e = fabs(load(dt, a->buf, i) - load(dt, b->buf, i));
        if (e > worst) worst = e;
    }
    return worst;
}

/* Composition with a per-head offset is apply at offset a, then at offset b: the
 * rotation for token s is R(a+s) then R(b+s), i.e. R(a+b+2s), which the
 * reference applies to x token by token through ids. */
static double composition_change(const rope_freqs *f, rope_style st, rope_dtype dt, const tens *x,
                                 tens *q2, tens *k2, tens *w, int *ok) {
    *ok &= rotate(f, st, 1000, 0, x, q2) == ROPE_OK;
    *ok &= rotate(f, st, 3000, 0, q2, k2) == ROPE_OK;
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = st;
    p.freqs = f;
    p.rotary_dim = f->rotary_dim;
    int64_t ids[S];
    for (int s = 0; s < S; s++) ids[s] = 4000 + 2 * s;
    rope_positions pos = {0};
    pos.ids = ids;
    tens_init(w, dt);
    *ok &= rope_apply(&p, &pos, &x->t, &w->t) == ROPE_OK;
    return max_abs_diff(dt, k2, w);
}

static void check_properties(check_log *L, const rope_freqs *f) {
    static const rope_style styles[2] = {ROPE_STYLE_HALF, ROPE_STYLE_INTERLEAVED};
    static const rope_dtype dtypes[3] = {ROPE_F32, ROPE_F16, ROPE_BF16};
    static tens x, y, z, w, q2, k2;
    for (int si = 0; si < 2; si++)
        for (int di = 0; di < 3; di++) {
            rope_style st = styles[si];
            rope_dtype dt = dtypes[di];
            const double eps = dtype_eps(dt);
            tens_random(&x, dt);
            int ok = 1;
            double worst = norm_change(f, st, dt, &x, &y, &ok), bound = 4 * eps;
            add(L, ok && worst <= bound, worst, bound, "rel", "norm kept         %-11s %s", style_name(st),
                dtype_name(dt));
            ok = 1;
            worst = relpos_change(f, st, dt, &x, &y, &z, &ok);
            bound = 8 * eps;
            add(L, ok && worst <= bound, worst, bound, "rel", "relative position %-11s %s", style_name(st),
                dtype_name(dt));

            /* inverse: R(m)^-1 R(m) x = x. |x| < 1; each rotation: float32 products and
             * sum (~2u) plus the stored type's rounding (u); two or three rotations in
             * a chain: 8u */
            ok = rotate(f, st, 777, 0, &x, &y) == ROPE_OK;
            ok &= rotate(f, st, 777, 1, &y, &z) == ROPE_OK;
            worst = max_abs_diff(dt, &z, &x);
            add(L, ok && worst <= bound, worst, bound, "abs", "inverse           %-11s %s", style_name(st),
                dtype_name(dt));
            ok = 1;
            worst = composition_change(f, st, dt, &x, &q2, &k2, &w, &ok);
            add(L, ok && worst <= bound, worst, bound, "abs", "R(a)R(b) = R(a+b) %-11s %s", style_name(st),
                dtype_name(dt));
        }
}

/* ------------------------------------------------------- 2. accuracy */

enum { ACC_NP = 64 };

/* The tables (accurate and compat) at 64 positions around 2^e against float64. */
static void table_errors(check_log *L, const rope_freqs *f, int e) {
    static float c[ACC_NP * D / 2], s[ACC_NP * D / 2];
    const int64_t nf = f->n_freqs;
    int64_t pos[ACC_NP];
    for (int r = 0; r < ACC_NP; r++) pos[r] = ((int64_t)1 << e) - ACC_NP / 2 + r;
    for (int mode = 0; mode < 2; mode++) {
        rope_precision prec = mode ? ROPE_PRECISION_COMPAT_F32 : ROPE_PRECISION_ACCURATE;
        rope_status st = rope_cos_sin(f, pos, 0, ACC_NP, prec, c, s);
        double worst_abs = 0, worst_ulp = 0, worst_ratio = 0;
        for (int r = 0; r < ACC_NP; r++)
            for (int64_t i = 0; i < nf; i++) {
                double ang = (double)pos[r] * f->inv_freq[i];
                double tc = cos(ang), ts = sin(ang);
                double ec = fabs(c[r * nf + i] - tc), es = fabs(s[r * nf + i] - ts);
                double ea = ec > es ? ec : es;
                double u = fmax(ec / ulp32(tc), es / ulp32(ts));
                if (ea > worst_abs) worst_abs = ea;
                if (u > worst_ulp) worst_ulp = u;
                /* compat: float32 θ (rel 2^-24) and a float32 angle (½ ulp) make an
                 * angle error up to |m·θ|·2^-23 + ½ulp(m·θ), plus 2 ulp of cos/sin */
                double budget = fabs(ang) * 0x1p-23 + 0.5 * ulp32(ang) + 2 * ulp32(1.0);
                if (ea / budget > worst_ratio) worst_ratio = ea / budget;
            }
        if (!mode)
            add(L, st == ROPE_OK && worst_ulp <= 1.0, worst_ulp, 1.0, "ulp",
                "table accurate  pos 2^%d (max |err| %.1e)", e, worst_abs);
        else
            add(L, st == ROPE_OK && worst_ratio <= 1.0, worst_abs, worst_ratio > 0 ? worst_abs / worst_ratio : 0,
                "abs", "table compat    pos 2^%d (HF float32 error)", e);
    }
}

/* Worst error of y = R(offset + t) x (half style) against a float64 rotation,
 * relative to the pair's magnitude. */
static double rotation_error(const rope_freqs *f, const tens *x, const tens *y, int64_t offset) {
    const int64_t nf = f->n_freqs;
    const float *xf = (const float *)x->buf, *yf = (const float *)y->buf;
    double worst = 0;
    for (int t = 0; t < S; t++)
        for (int h = 0; h < H; h++) {
            const float *xv = xf + ((size_t)t * H + h) * D;
            const float *yv = yf + ((size_t)t * H + h) * D;
            for (int64_t i = 0; i < nf; i++) {
                double ang = (double)(offset + t) * f->inv_freq[i];
                double a = xv[i], b = xv[i + nf];
                double r0 = a * cos(ang) - b * sin(ang), r1 = b * cos(ang) + a * sin(ang);
                double err = fmax(fabs(yv[i] - r0), fabs(yv[i + nf] - r1)) / sqrt(a * a + b * b);
                if (err > worst) worst = err;
            }
        }
    return worst;
}

/* Table-free apply near 2^e against float64, and an accurate table giving the
 * same bits (table.c and table-free apply share one sincos). */
static void apply_errors(check_log *L, const rope_freqs *f, int e) {
    static tens x, y, z;
    tens_random(&x, ROPE_F32);
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_HALF;
    p.freqs = f;
    p.rotary_dim = f->rotary_dim;
    rope_positions pp = {0};
    pp.offset = ((int64_t)1 << e) - S / 2;
    tens_init(&y, ROPE_F32);
    rope_status st = rope_apply(&p, &pp, &x.t, &y.t);
    double worst = rotation_error(f, &x, &y, pp.offset), bound = 4 * 0x1p-24;
    add(L, st == ROPE_OK && worst <= bound, worst, bound, "rel", "apply accurate  pos 2^%d vs float64", e);
    int64_t tpos[S];
    for (int t = 0; t < S; t++) tpos[t] = pp.offset + t;
    rope_table *tab = NULL;
    rope_status st2 = rope_table_create_at(f, tpos, S, ROPE_PRECISION_ACCURATE, &tab);
    size_t diff = 0;
    if (st2 == ROPE_OK) {
        rope_apply_params pt = p;
        pt.freqs = NULL;
        pt.table = tab;
        rope_positions rows = {0}; /* row r of the table is position offset + r */
        tens_init(&z, ROPE_F32);
        st2 = rope_apply(&pt, &rows, &x.t, &z.t);
        for (size_t i = 0; i < N; i++)
            diff += memcmp(&((float *)z.buf)[i], &((const float *)y.buf)[i], sizeof(float)) != 0;
    }
    rope_table_free(tab);
    add(L, st == ROPE_OK && st2 == ROPE_OK && diff == 0, (double)diff, 0, "values",
        "table = table-free pos 2^%d, bit for bit", e);
}

static void check_accuracy(check_log *L, const rope_freqs *f) {
    static const int exps[3] = {10, 16, 20};
    for (int e = 0; e < 3; e++) {
        table_errors(L, f, exps[e]);
        apply_errors(L, f, exps[e]);
    }
}

/* --------------------------------------------------- 3. kernel sets */

/* One run of everything a kernel set does: both styles, three dtypes, table and
 * table-free, contiguous and strided (heads and tokens interleaved with padding). */
enum { RUN_ELEMS = 2 * 2 * 3 * 2 * 2 * N };

static int isa_run(const rope_freqs *f, const rope_table *tab, float *res) {
    static tens x, y;
    static unsigned char pad_in[2 * N * 4], pad_out[2 * N * 4];
    size_t k = 0;
    for (int si = 0; si < 2; si++)
        for (int di = 0; di < 3; di++)
            for (int use_table = 0; use_table < 2; use_table++)
                for (int strided = 0; strided < 2; strided++)
                    for (int inverse = 0; inverse < 2; inverse++) {
                        rope_dtype dt = di == 0 ? ROPE_F32 : di == 1 ? ROPE_F16 : ROPE_BF16;
                        rope_apply_params p;
                        rope_apply_params_init(&p);
                        p.style = si ? ROPE_STYLE_HALF : ROPE_STYLE_INTERLEAVED;
                        if (use_table) p.table = tab;
                        else p.freqs = f;
                        p.rotary_dim = f->rotary_dim;
                        p.attention_factor = 1.25f;
                        p.inverse = inverse;
                        rope_positions pos = {0};
                        pos.offset = 65000;
                        rng_state = 0x1234567ull + (uint64_t)(si * 7 + di);
                        rope_tensor tin, tout;
                        if (!strided) {
                            tens_random(&x, dt);
                            tens_init(&y, dt);
                            tin = x.t;
                            tout = y.t;
                        } else {
                            /* head_dim contiguous, heads and tokens 2x spread: the padded layout */
                            for (size_t i = 0; i < 2 * (size_t)N; i++) store(dt, pad_in, i, urand());
                            memset(pad_out, 0, sizeof pad_out);
                            rope_tensor_contiguous(&tin, pad_in, dt, 1, S, H, D);
                            tin.stride[2] = 2 * D;
                            tin.stride[1] = 2 * H * D;
                            tout = tin;
                            tout.data = pad_out;
                        }
                        if (rope_apply(&p, &pos, &tin, &tout) != ROPE_OK) return -1;
                        for (int t = 0; t < S; t++)
                            for (int h = 0; h < H; h++)
                                for (int i = 0; i < D; i++) {
                                    size_t at = (size_t)(t * tout.stride[1] + h * tout.stride[2] + i);
                                    res[k++] = (float)load(dt, tout.data, at);
                                }
                    }
    return (int)k;
}

static void check_isas(check_log *L, const rope_freqs *f) {
    int n = 0;
    const char *const *names = rope_isa_available(&n);
    const char *initial = rope_isa_name();
    char initial_name[32];
    snprintf(initial_name, sizeof initial_name, "%s", initial);
    rope_table *tab = NULL;
    float *ref = malloc(sizeof(float) * RUN_ELEMS), *got = malloc(sizeof(float) * RUN_ELEMS);
    if (!ref || !got || rope_table_create(f, 70000, ROPE_PRECISION_ACCURATE, &tab) != ROPE_OK ||
        rope_isa_force("scalar") != ROPE_OK) {
        add(L, 0, 0, 0, "", "kernel sets: setup failed");
        free(ref);
        free(got);
        rope_table_free(tab);
        return;
    }
    int nref = isa_run(f, tab, ref);
    for (int i = 0; i < n; i++) {
        if (!strcmp(names[i], "scalar")) continue;
        int ok = rope_isa_force(names[i]) == ROPE_OK;
        int ng = ok ? isa_run(f, tab, got) : -1;
        ok = ok && ng == nref && nref > 0;
        double worst = 0;
        size_t diff = 0;
        for (int k = 0; ok && k < nref; k++)
            if (memcmp(&ref[k], &got[k], sizeof(float)) != 0) {
                diff++;
                double u = fabs((double)ref[k] - got[k]) / ulp32(ref[k]);
                if (u > worst) worst = u;
            }
        /* the kernels are specified bit-identical to scalar (src/kernels/kernel.h) */
        add(L, ok && diff == 0, worst, 0, "ulp", "kernels %-7s = scalar, bit for bit (%d values)", names[i],
            nref);
    }
    if (n <= 1) add(L, nref > 0, 0, 0, "ulp", "kernels: only scalar on this CPU (%d values)", nref);
    rope_isa_force(initial_name);
    rope_table_free(tab);
    free(ref);
    free(got);
}

/* ----------------------------------------------------- 4. threads */

static void check_threads(check_log *L, const rope_freqs *f) {
    const int64_t b = 4, s = 512, h = 16;
    const size_t n = (size_t)(b * s * h * D);
    float *x = malloc(n * sizeof *x), *y1 = malloc(n * sizeof *y1), *y2 = malloc(n * sizeof *y2);
    if (!x || !y1 || !y2) {
        add(L, 0, 0, 0, "", "threads: out of memory");
        free(x), free(y1), free(y2);
        return;
    }
    for (size_t i = 0; i < n; i++) x[i] = (float)urand();
    static const int counts[3] = {1, 2, 4};
    for (int c = 0; c < 3; c++) {
        rope_pool *pool = NULL;
        rope_status st = rope_pool_create(counts[c], &pool);
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = ROPE_STYLE_HALF;
        p.freqs = f;
        p.rotary_dim = f->rotary_dim;
        p.pool = pool;
        rope_tensor ti, to;
        rope_tensor_contiguous(&ti, x, ROPE_F32, b, s, h, D);
        rope_tensor_contiguous(&to, c == 0 ? y1 : y2, ROPE_F32, b, s, h, D);
        if (st == ROPE_OK) st = rope_apply(&p, NULL, &ti, &to);
        rope_pool_free(pool);
        if (c == 0) {
            if (st != ROPE_OK) {
                add(L, 0, 0, 0, "", "threads: 1-thread run failed: %s", rope_strerror(st));
                break;
            }
            continue;
        }
        size_t diff = 0;
        for (size_t i = 0; i < n; i++) diff += memcmp(&y1[i], &y2[i], sizeof(float)) != 0;
        add(L, st == ROPE_OK && diff == 0, (double)diff, 0, "values",
            "threads %d = 1, bit for bit (%lld values)", counts[c], (long long)n);
    }
    free(x), free(y1), free(y2);
}

/* ------------------------------------------------------------- main */

static void usage(FILE *o) {
    fprintf(o,
            "usage: rope check [--json] [--quiet]\n\n"
            "Self-verification of librope on this machine:\n"
            "  properties   norm, relative position, inverse, R(a)R(b)=R(a+b); both styles, f32/f16/bf16\n"
            "  accuracy     cos/sin tables (accurate and HF-compat modes) and apply vs float64\n"
            "               at positions 2^10, 2^16, 2^20, measured errors printed\n"
            "  kernels      every kernel set this CPU runs vs the scalar reference, bit for bit\n"
            "  threads      1 vs 2 and 4 threads, bit for bit\n\n"
            "  --json    print the results as JSON on stdout\n"
            "  --quiet   no progress on stderr\n"
            "Exit status 0 if every check passes, 1 otherwise.\n");
}

static void json_num(double v) {
    if (isfinite(v)) printf("%.6g", v);
    else printf("null");
}

int cmd_check(int argc, char **argv) {
    int json = 0;
    static check_log L;
    L.n = 0;
    L.quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--quiet")) L.quiet = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rope check: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.rope_theta = 10000.0;
    cfg.head_dim = D;
    rope_freqs f;
    rope_status st = rope_freqs_compute(&cfg, 0, &f);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope check: rope_freqs_compute failed: %s\n", rope_strerror(st));
        return 1;
    }
    if (!L.quiet) fprintf(stderr, "rope check: head_dim %d, base 1e4, kernels %s\n", D, rope_isa_name());
    check_properties(&L, &f);
    check_accuracy(&L, &f);
    check_isas(&L, &f);
    check_threads(&L, &f);

    int failed = 0;
    for (int i = 0; i < L.n; i++) failed += !L.rows[i].pass;
    if (json) {
        printf("{\"pass\": %s, \"failed\": %d, \"isa\": \"%s\", \"checks\": [", failed ? "false" : "true", failed,
               rope_isa_name());
        for (int i = 0; i < L.n; i++) {
            const check_row *r = &L.rows[i];
            printf("%s\n  {\"name\": \"", i ? "," : "");
            for (const char *c = r->name; *c; c++) {
                if (*c == '"' || *c == '\\') putchar('\\');
                putchar(*c);
            }
            printf("\", \"pass\": %s, \"measured\": ", r->pass ? "true" : "false");
            json_num(r->measured);
            printf(", \"bound\": ");
            json_num(r->bound);
            printf(", \"unit\": \"%s\"}", r->unit);
        }
        printf("\n]}\n");
    } else {
        printf("%-54s %-6s %12s %12s\n", "check", "result", "measured", "bound");
        for (int i = 0; i < L.n; i++) {
            const check_row *r = &L.rows[i];
            printf("%-54s %-6s %12.3g %12.3g %s\n", r->name, r->pass ? "PASS" : "FAIL", r->measured, r->bound,
                   r->unit);
        }
        printf("\n%d of %d checks passed (kernels in use: %s)\n", L.n - failed, L.n, rope_isa_name());
    }
    return failed ? 1 : 0;
}
