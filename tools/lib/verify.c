/*
 * rope verify: the analysis (see verify.h and docs/verify.md).
 *
 * Everything is compared in the engine's scale: the engine's value E against g*H, where H is
 * a unit cos/sin table (the truth or a faulty truth) and g the amplitude the data shows. An
 * entry's budget is what float32 arithmetic can explain at that angle:
 *     g * (|angle| * 2^-21 + 16 * 2^-24)  (+ the storage type's rounding, + pair-fit noise)
 * i.e. a few ulp of theta and of the angle product plus a few ulp of cos/sin. A hypothesis
 * fits when every entry is within its budget (score <= 1). The truth's score decides
 * "right"; when it fails, only a hypothesis that fits everywhere is named, so random data
 * is "unexplained" rather than the nearest wrong story.
 */
#include "verify.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define INF_SCORE 1e300

enum { ST_F32 = 0, ST_BF16 = 1, ST_F16 = 2 };
enum { CAND_PLAIN = 0, CAND_NEG_SIN, CAND_SWAP, CAND_ANGLE_BF16, CAND_ANGLE_F16, CAND_IDENTITY,
       CAND_THETA_RECURRENCE };

typedef struct cand {
    rope_config cfg;
    int64_t seq_len;
    int64_t offset;
    int mode;
} cand;

typedef struct vctx {
    const verify_truth *t;
    rope_config cfg;            /* the reference for this run (the truth, or a width variant) */
    rope_freqs f;
    int64_t nf, rows, seq_len;
    const double *ec, *es;      /* engine values, rows x nf */
    const double *noise;        /* rows x nf absolute uncertainty (pairs) or NULL */
    int64_t *pos;               /* rows */
    int64_t *order;             /* rows sorted by position */
    double g;                   /* the data's amplitude */
    double noise_med;           /* median of noise[] (pairs), 0 for tables */
    int storage;
    double *tc, *ts, *tang;     /* truth, accurate, unit */
    double *cc, *cs;            /* truth, HF float32 path, unit */
    double *hc, *hs, *hang;     /* scratch candidate */
    float *fc, *fs;             /* rope_cos_sin output */
    int64_t *ppos;              /* shifted positions */
    double *theta_hat;
    int have_theta;
} vctx;

/* ------------------------------------------------------------------ small helpers */

static void errf(char *err, size_t n, const char *fmt, ...) {
    if (!err || !n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

/* Evidence must be finite (issue 14: every float that reaches the math is
 * checked): a NaN or Inf has no error the analysis can measure, and skipping
 * it reported "max error 0". Names the array and the first bad index. */
static int all_finite(const double *v, int64_t n, const char *name, char *err, size_t errlen) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            errf(err, errlen, "%s holds %s at flat index %lld: NaN and Inf cannot be analysed (an engine "
                 "that produces them is broken before any RoPE question)", name, isnan(v[i]) ? "NaN" : "Inf",
                 (long long)i);
            return 0;
        }
    return 1;
}

static double ulp32(double v) {
    float a = fabsf((float)v);
    if (!(a >= FLT_MIN)) return 0x1p-149;
    if (isinf(a)) return INFINITY;
    return (double)(nextafterf(a, INFINITY) - a);
}

static double wrap(double a) { return a - 2 * PI * floor((a + PI) / (2 * PI)); }

static double st_round(int st, double v) {
    if (st == ST_BF16) return rope_bf16_to_f32(rope_f32_to_bf16((float)v));
    if (st == ST_F16) return rope_f16_to_f32(rope_f32_to_f16((float)v));
    return v;
}

static double st_eps(int st) { return st == ST_BF16 ? 0x1p-8 : st == ST_F16 ? 0x1p-11 : 0x1p-24; }
static const char *st_name(int st) { return st == ST_BF16 ? "bf16" : st == ST_F16 ? "f16" : "f32"; }

/* order[] = 0..n-1 sorted by keys[] (stable); keys NULL = identity. No global state. */
typedef struct keyed {
    int64_t key, idx;
} keyed;
static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}
static int sort_order(const int64_t *keys, int64_t n, int64_t *order) {
    keyed *k = malloc((size_t)n * sizeof *k);
    if (!k) return -1;
    for (int64_t i = 0; i < n; i++) k[i].key = keys ? keys[i] : i, k[i].idx = i;
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int64_t i = 0; i < n; i++) order[i] = k[i].idx;
    free(k);
    return 0;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void add_diag(verify_report *r, const char *id, int fault, double param, double score,
                     double rms_fit, double rms_truth, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static void add_diag(verify_report *r, const char *id, int fault, double param, double score,
                     double rms_fit, double rms_truth, const char *fmt, ...) {
    if (r->n_diag >= VERIFY_MAX_DIAG) return;
    verify_diag *d = &r->diag[r->n_diag++];
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", id);
    d->fault = fault;
    d->param = param;
    d->score = score;
    d->rms_fit = rms_fit;
    d->rms_truth = rms_truth;
    d->exceeds_from = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->summary, sizeof d->summary, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ candidates */

static double round_to(double x, int bits_mode) {
    if (bits_mode == ST_BF16) return rope_bf16_to_f32(rope_f32_to_bf16((float)x));
    return rope_f16_to_f32(rope_f32_to_f16((float)x));
}

/* Unit cos/sin of candidate c at the run's positions into hc/hs, |angle| into hang. */
static int build(vctx *x, const cand *c, double *hc, double *hs, double *hang) {
    rope_freqs f;
    if (rope_freqs_compute(&c->cfg, c->seq_len, &f) != ROPE_OK || f.n_freqs != x->nf) return -1;
    const int64_t nf = x->nf;
    if (c->mode == CAND_ANGLE_BF16 || c->mode == CAND_ANGLE_F16) {
        /* the angle product in a 16-bit type: theta and position rounded to it, the product
         * too (autocast of inv_freq @ positions); cos/sin of that angle in float32 */
        int st = c->mode == CAND_ANGLE_BF16 ? ST_BF16 : ST_F16;
        for (int64_t r = 0; r < x->rows; r++) {
            double p = round_to((double)(x->pos[r] + c->offset), st);
            for (int64_t i = 0; i < nf; i++) {
                double th = round_to(f.inv_freq_f32[i], st);
                double a = round_to(th * p, st);
                hc[r * nf + i] = (float)cos(a);
                hs[r * nf + i] = (float)sin(a);
                hang[r * nf + i] = fabs((double)(x->pos[r] + c->offset) * f.inv_freq[i]);
            }
        }
        return 0;
    }
    if (c->mode == CAND_THETA_RECURRENCE) {
        /* ggml's float32 recipe: theta = position, then theta *= base^(-2/R) pair after pair
         * (each product rounded to float32); linear scaling multiplies by 1/factor in float32 */
        if (c->cfg.type != ROPE_SCALING_DEFAULT && c->cfg.type != ROPE_SCALING_LINEAR) return -1;
        float ts = (float)pow(c->cfg.rope_theta, -2.0 / (double)(2 * nf));
        float fs = c->cfg.type == ROPE_SCALING_LINEAR ? (float)(1.0 / c->cfg.factor) : 1.0f;
        for (int64_t r = 0; r < x->rows; r++) {
            float th = (float)(x->pos[r] + c->offset);
            for (int64_t i = 0; i < nf; i++) {
                float a = fs * th;
                hc[r * nf + i] = (float)cos((double)a);
                hs[r * nf + i] = (float)sin((double)a);
                hang[r * nf + i] = fabs((double)(x->pos[r] + c->offset) * f.inv_freq[i]);
                th *= ts;
            }
        }
        return 0;
    }
    if (c->mode == CAND_IDENTITY) { /* no rotation at all */
        for (int64_t k = 0; k < x->rows * nf; k++) hc[k] = 1, hs[k] = 0, hang[k] = 0;
        return 0;
    }
    for (int64_t r = 0; r < x->rows; r++) {
        int64_t p = x->pos[r] + c->offset;
        x->ppos[r] = p < 0 ? -p : p;
    }
    if (rope_cos_sin(&f, x->ppos, 0, x->rows, ROPE_PRECISION_ACCURATE, x->fc, x->fs) != ROPE_OK)
        return -1;
    for (int64_t r = 0; r < x->rows; r++) {
        double sgn = x->pos[r] + c->offset < 0 ? -1.0 : 1.0;
        for (int64_t i = 0; i < nf; i++) {
            double cv = x->fc[r * nf + i], sv = sgn * x->fs[r * nf + i];
            if (c->mode == CAND_NEG_SIN) sv = -sv;
            if (c->mode == CAND_SWAP) {
                double tmp = cv;
                cv = sv;
                sv = tmp;
            }
            hc[r * nf + i] = cv;
            hs[r * nf + i] = sv;
            hang[r * nf + i] = fabs((double)x->ppos[r] * f.inv_freq[i]);
        }
    }
    return 0;
}

/* Budget of one entry: float32 arithmetic at that angle, the storage rounding, fit noise. */
static double budget(const vctx *x, int64_t k, double ang, double gc, double gs, double angle_coef) {
    double v = fmax(fabs(gc), fabs(gs));
    double b = x->g * (ang * angle_coef + 16 * 0x1p-24);
    if (x->storage != ST_F32) b += 2 * st_eps(x->storage) * fmax(v, 0x1p-14);
    if (x->noise) b += 4 * x->noise[k];
    return b;
}

/* max over entries of error / budget; rms error into *rms. */
static double score_coef(const vctx *x, const double *hc, const double *hs, const double *hang,
                         double angle_coef, double *rms) {
    double worst = 0, sum = 0;
    int64_t n = x->rows * x->nf;
    for (int64_t k = 0; k < n; k++) {
        double gc = st_round(x->storage, x->g * hc[k]), gs = st_round(x->storage, x->g * hs[k]);
        double ec = x->ec[k], es = x->es[k];
        int fin_e = isfinite(ec) && isfinite(es), fin_h = isfinite(gc) && isfinite(gs);
        if (!fin_e || !fin_h) {
            if (fin_e != fin_h) worst = INF_SCORE, sum += 4;
            continue;
        }
        double d = fmax(fabs(ec - gc), fabs(es - gs));
        sum += d * d;
        double s = d / budget(x, k, hang[k], gc, gs, angle_coef);
        if (s > worst) worst = s;
    }
    if (rms) *rms = n ? sqrt(sum / (double)n) : 0;
    return worst;
}

static double score(const vctx *x, const double *hc, const double *hs, const double *hang, double *rms) {
    return score_coef(x, hc, hs, hang, 0x1p-21, rms);
}

/* ------------------------------------------------------------------ parameter fits */

/* theta_hat[i]: the engine's frequency, from the phase unwrapped along increasing positions. */
static void estimate_theta(vctx *x) {
    x->have_theta = 0;
    if (x->rows < 2 || x->pos[x->order[0]] == x->pos[x->order[x->rows - 1]]) return;
    for (int64_t i = 0; i < x->nf; i++) {
        int64_t r0 = x->order[0];
        double p0 = (double)x->pos[r0];
        double phi0 = atan2(x->es[r0 * x->nf + i], x->ec[r0 * x->nf + i]);
        double prev_phi = phi0, prev_p = p0, th = NAN;
        for (int64_t j = 1; j < x->rows; j++) {
            int64_t r = x->order[j];
            double p = (double)x->pos[r];
            if (p == prev_p) continue;
            double phi = atan2(x->es[r * x->nf + i], x->ec[r * x->nf + i]);
            if (!isfinite(phi)) break;
            double pred = prev_phi + (p - prev_p) * (isnan(th) ? 0 : th);
            double unwrapped = pred + wrap(phi - pred);
            th = (unwrapped - phi0) / (p - p0);
            prev_phi = unwrapped;
            prev_p = p;
        }
        x->theta_hat[i] = th;
    }
    x->have_theta = 1;
}

typedef void (*setter_fn)(cand *c, double v);

static double fit_obj(const vctx *x, const cand *base, setter_fn set, double v) {
    cand c = *base;
    set(&c, v);
    rope_freqs f;
    if (rope_freqs_compute(&c.cfg, c.seq_len, &f) != ROPE_OK || f.n_freqs != x->nf) return INFINITY;
    double j = 0;
    for (int64_t i = 0; i < x->nf; i++) {
        if (!isfinite(x->theta_hat[i])) continue;
        double d = x->theta_hat[i] - f.inv_freq[i];
        j += d * d;
    }
    return j;
}

/* Minimise the frequency mismatch over v in [lo, hi] (log-spaced grid, then golden section). */
static double fit1d(const vctx *x, const cand *base, setter_fn set, double lo, double hi) {
    enum { GRID = 400 };
    double best = NAN, bestj = INFINITY;
    int bi = -1;
    double ll = log(lo), lh = log(hi);
    for (int k = 0; k <= GRID; k++) {
        double v = exp(ll + (lh - ll) * k / GRID);
        double j = fit_obj(x, base, set, v);
        if (j < bestj) bestj = j, best = v, bi = k;
    }
    if (bi < 0) return NAN;
    double a = ll + (lh - ll) * (bi > 0 ? bi - 1 : 0) / GRID;
    double b = ll + (lh - ll) * (bi < GRID ? bi + 1 : GRID) / GRID;
    const double gr = 0.6180339887498949;
    double c1 = b - gr * (b - a), c2 = a + gr * (b - a);
    double j1 = fit_obj(x, base, set, exp(c1)), j2 = fit_obj(x, base, set, exp(c2));
    for (int it = 0; it < 80; it++) {
        if (j1 < j2) {
            b = c2, c2 = c1, j2 = j1;
            c1 = b - gr * (b - a);
            j1 = fit_obj(x, base, set, exp(c1));
        } else {
            a = c1, c1 = c2, j1 = j2;
            c2 = a + gr * (b - a);
            j2 = fit_obj(x, base, set, exp(c2));
        }
    }
    double v = exp(0.5 * (a + b));
    return fit_obj(x, base, set, v) <= bestj ? v : best;
}

static void set_base(cand *c, double v) { c->cfg.rope_theta = v; }
static void set_factor(cand *c, double v) { c->cfg.factor = v; }
static void set_seq_len(cand *c, double v) { c->seq_len = (int64_t)llround(v); }

/* Score of c with its parameter v (through set); hc/hs/hang hold the candidate afterwards. */
static double try_param(vctx *x, const cand *base, setter_fn set, double v, double *rms) {
    cand c = *base;
    set(&c, v);
    if (build(x, &c, x->hc, x->hs, x->hang)) return INF_SCORE;
    return score(x, x->hc, x->hs, x->hang, rms);
}

/* The fitted v, or the roundest value near it that fits as well (500000, not 499999.7). */
static double nice_param(vctx *x, const cand *base, setter_fn set, double v, int integer, double *sc,
                         double *rms) {
    for (int d = 1; d <= 7 && isfinite(v) && v > 0; d++) {
        double m = pow(10, floor(log10(v)) - d + 1);
        double r = round(v / m) * m;
        if (integer) r = round(r);
        if (r <= 0) continue;
        double s = try_param(x, base, set, r, rms);
        if (s <= 1) {
            *sc = s;
            return r;
        }
    }
    *sc = try_param(x, base, set, integer ? round(v) : v, rms);
    return integer ? round(v) : v;
}

/* ------------------------------------------------------------------ hypotheses */

typedef struct kept {
    double *c, *s, *ang;
    int diag;
} kept;

typedef struct hyp_state {
    kept k[VERIFY_MAX_DIAG];
    int n;
    double rms_truth;
} hyp_state;

/* A fitting hypothesis whose candidate equals an earlier one within the budget is the same
 * story told differently (e.g. dynamic NTK length vs base): it is listed under `also`. */
static int record(vctx *x, verify_report *r, hyp_state *h, const char *id, double param, double sc,
                  double rms, const char *text) {
    int64_t n = x->rows * x->nf;
    for (int j = 0; j < h->n; j++) {
        double worst = 0;
        for (int64_t q = 0; q < n && worst <= 1; q++) {
            double d = fmax(fabs(h->k[j].c[q] - x->hc[q]), fabs(h->k[j].s[q] - x->hs[q]));
            double b = budget(x, q, fmax(h->k[j].ang[q], x->hang[q]), x->hc[q], x->hs[q], 0x1p-21) / (x->g > 0 ? x->g : 1);
            if (isfinite(d) && d / b > worst) worst = d / b;
        }
        if (worst <= 1) {
            verify_diag *d = &r->diag[h->k[j].diag];
            size_t len = strlen(d->also);
            snprintf(d->also + len, sizeof d->also - len, "%s%s", len ? "; " : "", text);
            return 0;
        }
    }
    if (h->n >= VERIFY_MAX_DIAG || r->n_diag >= VERIFY_MAX_DIAG) return 0;
    kept *k = &h->k[h->n];
    k->c = malloc(n * sizeof(double));
    k->s = malloc(n * sizeof(double));
    k->ang = malloc(n * sizeof(double));
    if (!k->c || !k->s || !k->ang) {
        free(k->c), free(k->s), free(k->ang);
        return -1;
    }
    memcpy(k->c, x->hc, n * sizeof(double));
    memcpy(k->s, x->hs, n * sizeof(double));
    memcpy(k->ang, x->hang, n * sizeof(double));
    k->diag = r->n_diag;
    h->n++;
    add_diag(r, id, 1, param, sc, rms, h->rms_truth, "%s", text);
    return 0;
}

/* "N times closer than the truth" (or "exactly" when the data is the hypothesis bit for bit). */
static const char *closer(double rms_truth, double rms_fit, char *buf, size_t n) {
    if (rms_fit > 0) snprintf(buf, n, "%.3g times closer than the truth", rms_truth / rms_fit);
    else snprintf(buf, n, "exactly; the truth is off by %.2g rms", rms_truth);
    return buf;
}

static void hyp_fixed(vctx *x, verify_report *r, hyp_state *h) {
    static const struct { int mode; const char *id, *text; } fixed[] = {
        {CAND_NEG_SIN, "halves_swapped",
         "sin has the wrong sign: the engine rotates by -m*theta (rotate_half written cat(x2, -x1), "
         "the two halves' roles swapped, or freqs_cis conjugated)"},
        {CAND_SWAP, "cos_sin_swapped", "cos and sin are swapped"},
        {CAND_IDENTITY, "rope_missing",
         "no rotation at all: this layer has RoPE and the engine left it out (a NoPE flag read "
         "with the wrong polarity, or RoPE skipped)"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        cand c = {x->cfg, x->seq_len, 0, fixed[i].mode};
        double rms;
        if (build(x, &c, x->hc, x->hs, x->hang)) continue;
        double sc = score(x, x->hc, x->hs, x->hang, &rms);
        if (sc <= 1) {
            char t[400], cb[64];
            snprintf(t, sizeof t, "%s; fits (error %.2g rms, %s)",
                     fixed[i].text, rms, closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, fixed[i].id, NAN, sc, rms, t);
        }
    }
}

static void hyp_offset(vctx *x, verify_report *r, hyp_state *h) {
    /* angle - m*theta at the lowest frequencies gives k*theta: k in a wide unambiguous range */
    int64_t tried[4];
    int nt = 0;
    int64_t r0 = x->order[0];
    for (int64_t i = x->nf - 1; i >= 0 && nt < 3; i -= x->nf > 8 ? x->nf / 4 : 1) {
        double th = x->f.inv_freq[i];
        if (!(th > 0)) continue;
        double phi = atan2(x->es[r0 * x->nf + i], x->ec[r0 * x->nf + i]);
        double k = wrap(phi - (double)x->pos[r0] * th) / th;
        if (!isfinite(k) || fabs(k) > 1e15) continue;
        int64_t kk = (int64_t)llround(k);
        int dup = 0;
        for (int j = 0; j < nt; j++) dup |= tried[j] == kk;
        if (dup || kk == 0) continue;
        tried[nt++] = kk;
        cand c = {x->cfg, x->seq_len, kk, CAND_PLAIN};
        double rms;
        if (build(x, &c, x->hc, x->hs, x->hang)) continue;
        double sc = score(x, x->hc, x->hs, x->hang, &rms);
        if (sc <= 1) {
            char t[400], cb[64];
            snprintf(t, sizeof t,
                     "positions offset by %+lld: the engine's row for position m holds position m%+lld "
                     "(error %.2g rms, %s)",
                     (long long)kk, (long long)kk, rms, closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, "position_offset", (double)kk, sc, rms, t);
            return;
        }
    }
}

static void hyp_alt(vctx *x, verify_report *r, hyp_state *h) {
    for (int a = 0; a < x->t->n_alt; a++) {
        cand c = {x->t->alt[a].cfg, x->seq_len, 0, CAND_PLAIN};
        double rms;
        if (build(x, &c, x->hc, x->hs, x->hang)) continue;
        double sc = score(x, x->hc, x->hs, x->hang, &rms);
        if (sc > 1) continue;
        char t[400], cb[64];
        snprintf(t, sizeof t,
                 "the %s layers' RoPE (base %.9g) was used for a %s layer (base %.9g): sliding/global "
                 "swapped (error %.2g rms, %s)",
                 x->t->alt[a].name, x->t->alt[a].cfg.rope_theta,
                 x->t->layer_type[0] ? x->t->layer_type : "this", x->cfg.rope_theta, rms,
                 closer(h->rms_truth, rms, cb, sizeof cb));
        record(x, r, h, "layer_type_swapped", x->t->alt[a].cfg.rope_theta, sc, rms, t);
    }
}

static void hyp_dynamic_length(vctx *x, verify_report *r, hyp_state *h) {
    const rope_config *cfg = &x->cfg;
    char t[400], cb[64];
    double rms, sc;
    /* dynamic NTK at another length (HF: max(position_ids)+1 of the call) */
    if (cfg->type == ROPE_SCALING_DYNAMIC && cfg->max_position_embeddings > 0) {
        cand c = {*cfg, x->seq_len, 0, CAND_PLAIN};
        double lo = (double)cfg->max_position_embeddings, hi = 0x1p40;
        double v = fit1d(x, &c, set_seq_len, lo, hi);
        v = nice_param(x, &c, set_seq_len, v, 1, &sc, &rms);
        if (sc > 1) { /* maybe not applied at all: the length at or below the trained one */
            v = (double)cfg->max_position_embeddings;
            sc = try_param(x, &c, set_seq_len, v, &rms);
        }
        if (v <= (double)cfg->max_position_embeddings) v = (double)cfg->max_position_embeddings;
        if (sc <= 1 && (int64_t)v != x->seq_len) {
            snprintf(t, sizeof t,
                     "dynamic NTK evaluated at length %lld instead of %lld%s (error %.2g rms, %s)",
                     (long long)v, (long long)x->seq_len,
                     v <= (double)cfg->max_position_embeddings ? " (i.e. not applied)" : "", rms,
                     closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, "dynamic_length", v, sc, rms, t);
        }
    }
}

static void hyp_longrope(vctx *x, verify_report *r, hyp_state *h) {
    const rope_config *cfg = &x->cfg;
    char t[400], cb[64];
    double rms, sc;
    /* longrope: the other factor list (HF switches to the long list for the whole call when its
     * length exceeds original_max_position_embeddings) */
    if (cfg->type == ROPE_SCALING_LONGROPE && cfg->original_max_position_embeddings > 0) {
        int64_t om = cfg->original_max_position_embeddings;
        int long_now = x->seq_len > om;
        cand c = {*cfg, long_now ? om : om + 1, 0, CAND_PLAIN};
        if (!build(x, &c, x->hc, x->hs, x->hang) && (sc = score(x, x->hc, x->hs, x->hang, &rms)) <= 1) {
            snprintf(t, sizeof t,
                     "longrope's %s factors used where the call (length %lld, original_max_position_"
                     "embeddings %lld) takes the %s ones (error %.2g rms, %s)",
                     long_now ? "short" : "long", (long long)x->seq_len, (long long)om,
                     long_now ? "long" : "short", rms, closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, "longrope_factors", (double)c.seq_len, sc, rms, t);
        }
    }
}

static void hyp_scaling_missing(vctx *x, verify_report *r, hyp_state *h) {
    const rope_config *cfg = &x->cfg;
    const char *tn = rope_scaling_name(cfg->type);
    char t[400], cb[64];
    double rms, sc;
    /* scaling missing */
    if (cfg->type != ROPE_SCALING_DEFAULT) {
        cand c = {*cfg, x->seq_len, 0, CAND_PLAIN};
        c.cfg.type = ROPE_SCALING_DEFAULT;
        if (!build(x, &c, x->hc, x->hs, x->hang) && (sc = score(x, x->hc, x->hs, x->hang, &rms)) <= 1) {
            snprintf(t, sizeof t,
                     "the %s scaling is missing: plain RoPE with base %.9g fits (error %.2g rms, %s)",
                     tn, cfg->rope_theta, rms, closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, "scaling_missing", NAN, sc, rms, t);
        }
    }
}

static void hyp_scaling_factor(vctx *x, verify_report *r, hyp_state *h) {
    const rope_config *cfg = &x->cfg;
    const char *tn = rope_scaling_name(cfg->type);
    char t[400], cb[64];
    double rms, sc;
    /* the same type with another factor */
    if (cfg->type != ROPE_SCALING_DEFAULT && cfg->type != ROPE_SCALING_LONGROPE) {
        cand c = {*cfg, x->seq_len, 0, CAND_PLAIN};
        double v = fit1d(x, &c, set_factor, 1.0, 4096);
        v = nice_param(x, &c, set_factor, v, 0, &sc, &rms);
        if (sc <= 1 && fabs(v - cfg->factor) > 1e-9 * cfg->factor) {
            snprintf(t, sizeof t,
                     "wrong %s factor: %.6g fits, the model's is %.6g (error %.2g rms, %s)",
                     tn, v, cfg->factor, rms, closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, "scaling_factor", v, sc, rms, t);
        }
    }
}

static void hyp_base(vctx *x, verify_report *r, hyp_state *h) {
    const rope_config *cfg = &x->cfg;
    char t[400], cb[64];
    double rms, sc;
    /* another base */
    {
        cand c = {*cfg, x->seq_len, 0, CAND_PLAIN};
        double v = fit1d(x, &c, set_base, 2, 1e12);
        v = nice_param(x, &c, set_base, v, 0, &sc, &rms);
        if (sc <= 1 && fabs(v - cfg->rope_theta) > 1e-9 * cfg->rope_theta) {
            snprintf(t, sizeof t,
                     "wrong base: rope_theta %.9g fits, the model's is %.9g (error %.2g rms, %s)",
                     v, cfg->rope_theta, rms, closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, "base", v, sc, rms, t);
        }
    }
}

static void hyp_scaling_type(vctx *x, verify_report *r, hyp_state *h) {
    const rope_config *cfg = &x->cfg;
    const char *tn = rope_scaling_name(cfg->type);
    char t[400], cb[64];
    double rms, sc;
    /* another scaling type (factor fitted) */
    static const rope_scaling_type types[] = {ROPE_SCALING_LINEAR, ROPE_SCALING_DYNAMIC,
                                              ROPE_SCALING_YARN, ROPE_SCALING_LLAMA3};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        if (types[k] == cfg->type) continue;
        cand c = {*cfg, x->seq_len, 0, CAND_PLAIN};
        c.cfg.type = types[k];
        if (c.cfg.max_position_embeddings <= 0) c.cfg.max_position_embeddings = 4096;
        if (types[k] == ROPE_SCALING_LLAMA3) {
            if (!(c.cfg.low_freq_factor > 0)) c.cfg.low_freq_factor = 1;
            if (!(c.cfg.high_freq_factor > 0)) c.cfg.high_freq_factor = 4;
        }
        if (types[k] == ROPE_SCALING_DYNAMIC && c.seq_len <= c.cfg.max_position_embeddings) continue;
        double v = fit1d(x, &c, set_factor, 1.01, 4096);
        if (!isfinite(v)) continue;
        v = nice_param(x, &c, set_factor, v, 0, &sc, &rms);
        if (sc <= 1) {
            snprintf(t, sizeof t,
                     "wrong scaling type: %s x%.6g fits, the model's is %s (error %.2g rms, %s)",
                     rope_scaling_name(types[k]), v, tn, rms, closer(h->rms_truth, rms, cb, sizeof cb));
            record(x, r, h, "scaling_type", v, sc, rms, t);
        }
    }
}

/* The scaling hypotheses, most specific first (dedup keeps the first that fits). */
static void hyp_scaling(vctx *x, verify_report *r, hyp_state *h) {
    if (!x->have_theta) return;
    hyp_dynamic_length(x, r, h);
    hyp_longrope(x, r, h);
    hyp_scaling_missing(x, r, h);
    hyp_scaling_factor(x, r, h);
    hyp_base(x, r, h);
    hyp_scaling_type(x, r, h);
}

static void hyp_precision(vctx *x, verify_report *r, hyp_state *h) {
    static const struct { int mode; const char *id, *name; } p[] = {
        {CAND_ANGLE_BF16, "angle_bf16", "bfloat16"},
        {CAND_ANGLE_F16, "angle_f16", "float16"},
    };
    for (int i = 0; i < 2; i++) {
        cand c = {x->cfg, x->seq_len, 0, p[i].mode};
        double rms;
        if (build(x, &c, x->hc, x->hs, x->hang)) continue;
        double sc = score(x, x->hc, x->hs, x->hang, &rms);
        if (sc > 1) continue;
        char t[400], cb[64];
        snprintf(t, sizeof t,
                 "the angle m*theta is computed in %s (theta, the position and the product rounded "
                 "to it, e.g. under autocast); error %.2g rms, %s",
                 p[i].name, rms, closer(h->rms_truth, rms, cb, sizeof cb));
        record(x, r, h, p[i].id, NAN, sc, rms, t);
    }
}

/* ------------------------------------------------------------------ report numbers */

static void band_edges(int64_t pmin, int64_t pmax, int64_t *edges, int *n) {
    /* powers of 8 from 64: [0,64) [64,512) [512,4096) ... the last band open */
    static const int64_t lim[] = {64, 512, 4096, 32768, 262144, 2097152, 16777216};
    int k = 0;
    edges[k++] = pmin;
    for (size_t i = 0; i < sizeof lim / sizeof lim[0] && k < VERIFY_MAX_PBANDS; i++)
        if (lim[i] > pmin && lim[i] <= pmax) edges[k++] = lim[i];
    edges[k] = pmax + 1;
    *n = k;
}

static void fill_numbers(vctx *x, verify_report *r) {
    const int64_t nf = x->nf;
    const double af = x->f.attention_factor;
    const double tol = r->tol;
    int64_t edges[VERIFY_MAX_PBANDS + 1];
    int npb;
    int64_t pmin = x->pos[x->order[0]], pmax = x->pos[x->order[x->rows - 1]];
    band_edges(pmin, pmax, edges, &npb);
    int nfb = nf >= VERIFY_FBANDS ? VERIFY_FBANDS : (int)nf;
    r->n_bands = 0;
    for (int pb = 0; pb < npb; pb++)
        for (int fb = 0; fb < nfb; fb++) {
            verify_band *b = &r->bands[r->n_bands++];
            memset(b, 0, sizeof *b);
            b->pos_lo = edges[pb];
            b->pos_hi = edges[pb + 1] - 1;
            b->f_lo = nf * fb / nfb;
            b->f_hi = nf * (fb + 1) / nfb;
        }
    /* plot bins: log-spaced over [1, pmax+1] (position 0 in the first) */
    int nbins = x->rows < VERIFY_PLOT_BINS ? (int)x->rows : VERIFY_PLOT_BINS;
    if (nbins < 1) nbins = 1;
    r->n_plot = nbins;
    double lmax = log((double)pmax + 2), lmin = log((double)pmin + 1);
    for (int k = 0; k < nbins; k++) {
        r->plot_pos[k] = -1;
        r->plot_f32[k] = 0;
        for (int fb = 0; fb < VERIFY_FBANDS; fb++) r->plot_err[fb][k] = 0;
    }
    r->max_abs = r->max_ulp = r->f32_max_abs = 0;
    r->exceeds_from = -1;
    for (int64_t j = 0; j < x->rows; j++) {
        int64_t row = x->order[j], p = x->pos[row];
        int pb = 0;
        while (pb + 1 < npb && p >= edges[pb + 1]) pb++;
        int bin = lmax > lmin ? (int)((log((double)p + 1) - lmin) / (lmax - lmin) * nbins) : 0;
        if (bin >= nbins) bin = nbins - 1;
        if (bin < 0) bin = 0;
        if ((double)p > r->plot_pos[bin]) r->plot_pos[bin] = (double)p;
        for (int64_t i = 0; i < nf; i++) {
            int64_t k = row * nf + i;
            double tcv = af * x->tc[k], tsv = af * x->ts[k];
            double e = fmax(fabs(x->ec[k] - tcv), fabs(x->es[k] - tsv));
            if (!isfinite(e)) e = INFINITY;
            /* ulps of the true value; below 1/16 in ulps of 1/16, so that the tiny ulps near a
             * zero crossing do not turn an absolute error of float32 size into millions */
            double u = fmax(fabs(x->ec[k] - tcv) / ulp32(fmax(fabs(tcv), 0.0625)),
                            fabs(x->es[k] - tsv) / ulp32(fmax(fabs(tsv), 0.0625)));
            if (!isfinite(u)) u = INFINITY;
            double f32 = fmax(fabs(af * x->cc[k] - tcv), fabs(af * x->cs[k] - tsv));
            int fb = (int)(i * nfb / nf);
            verify_band *b = &r->bands[pb * nfb + fb];
            b->n++;
            b->rms_abs += e * e;
            if (e > b->max_abs) b->max_abs = e;
            if (u > b->max_ulp) b->max_ulp = u;
            if (f32 > b->f32_abs) b->f32_abs = f32;
            if (e > r->max_abs) r->max_abs = e;
            if (u > r->max_ulp) r->max_ulp = u;
            if (f32 > r->f32_max_abs) r->f32_max_abs = f32;
            if (e > r->plot_err[fb][bin]) r->plot_err[fb][bin] = e;
            if (f32 > r->plot_f32[bin]) r->plot_f32[bin] = f32;
            if (e > tol && r->exceeds_from < 0) r->exceeds_from = p;
        }
    }
    for (int k = 0; k < r->n_bands; k++)
        r->bands[k].rms_abs = r->bands[k].n ? sqrt(r->bands[k].rms_abs / r->bands[k].n) : 0;
    /* drop empty plot bins */
    int w = 0;
    for (int k = 0; k < nbins; k++) {
        if (r->plot_pos[k] < 0) continue;
        r->plot_pos[w] = r->plot_pos[k];
        r->plot_f32[w] = r->plot_f32[k];
        for (int fb = 0; fb < VERIFY_FBANDS; fb++) r->plot_err[fb][w] = r->plot_err[fb][k];
        w++;
    }
    r->n_plot = w;
}

/* ------------------------------------------------------------------ the analysis */

static void ctx_free(vctx *x) {
    free(x->pos), free(x->order), free(x->tc), free(x->ts), free(x->tang), free(x->cc), free(x->cs);
    free(x->hc), free(x->hs), free(x->hang), free(x->fc), free(x->fs), free(x->ppos), free(x->theta_hat);
}

static int ctx_init(vctx *x, const verify_truth *t, const rope_config *cfg, int64_t rows, int64_t nf,
                    const double *ec, const double *es, const int64_t *positions, char *err, size_t errlen) {
    memset(x, 0, sizeof *x);
    x->t = t;
    x->cfg = *cfg;
    x->rows = rows;
    x->nf = nf;
    x->ec = ec;
    x->es = es;
    if (rows < 1 || nf < 1) {
        errf(err, errlen, "no data: %lld rows of %lld frequencies", (long long)rows, (long long)nf);
        return -1;
    }
    if (rows > ((int64_t)1 << 40) / nf) {
        errf(err, errlen, "table too large: %lld x %lld", (long long)rows, (long long)nf);
        return -1;
    }
    size_t n = (size_t)(rows * nf);
    x->pos = malloc(rows * sizeof(int64_t));
    x->order = malloc(rows * sizeof(int64_t));
    x->ppos = malloc(rows * sizeof(int64_t));
    x->theta_hat = malloc(nf * sizeof(double));
    double **arrs[] = {&x->tc, &x->ts, &x->tang, &x->cc, &x->cs, &x->hc, &x->hs, &x->hang};
    int ok = x->pos && x->order && x->ppos && x->theta_hat;
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) ok &= (*arrs[i] = malloc(n * sizeof(double))) != NULL;
    x->fc = malloc(n * sizeof(float));
    x->fs = malloc(n * sizeof(float));
    if (!ok || !x->fc || !x->fs) {
        ctx_free(x);
        errf(err, errlen, "out of memory");
        return -1;
    }
    int64_t pmax = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t p = positions ? positions[r] : r;
        if (p < 0 || p > ((int64_t)1 << 53)) {
            ctx_free(x);
            errf(err, errlen, "position %lld out of range [0, 2^53]", (long long)p);
            return -1;
        }
        x->pos[r] = p;
        x->order[r] = r;
        if (p > pmax) pmax = p;
    }
    if (sort_order(x->pos, rows, x->order)) {
        ctx_free(x);
        errf(err, errlen, "out of memory");
        return -1;
    }
    x->seq_len = t->seq_len > 0 ? t->seq_len : pmax + 1;
    rope_status st = rope_freqs_compute(cfg, x->seq_len, &x->f);
    if (st != ROPE_OK) {
        ctx_free(x);
        errf(err, errlen, "the model's frequencies: %s", rope_strerror(st));
        return -1;
    }
    return 0;
}

static void amplitude_and_storage(vctx *x, int *amp_consistent) {
    int64_t n = x->rows * x->nf, nfin = 0;
    double *a = malloc(n * sizeof(double));
    int bf16 = 1, f16 = 1;
    int64_t nontrivial = 0;
    for (int64_t k = 0; k < n; k++) {
        double c = x->ec[k], s = x->es[k];
        if (!isfinite(c) || !isfinite(s)) continue;
        if (a) a[nfin] = sqrt(c * c + s * s);
        nfin++;
        for (int j = 0; j < 2; j++) {
            double v = j ? s : c;
            if (v == 0 || fabs(v) == 1) continue;
            nontrivial++;
            if (st_round(ST_BF16, v) != v) bf16 = 0;
            if (st_round(ST_F16, v) != v) f16 = 0;
        }
    }
    x->storage = nontrivial >= 16 ? (bf16 ? ST_BF16 : f16 ? ST_F16 : ST_F32) : ST_F32;
    x->g = x->f.attention_factor;
    *amp_consistent = 1;
    if (a && nfin) {
        qsort(a, nfin, sizeof(double), cmp_double);
        x->g = a[nfin / 2];
        double worst = 0;
        for (int64_t k = 0; k < nfin; k++) worst = fmax(worst, fabs(a[k] - x->g));
        /* |(c, s)| of float32 values: a few ulp; 16-bit storage: its rounding; pairs: fit noise */
        double allowed = x->g * (1e-5 + 4 * st_eps(x->storage));
        if (x->noise) {
            double nm = 0;
            for (int64_t k = 0; k < n; k++) {
                nm = fmax(nm, x->noise[k]);
                a[k] = x->noise[k];
            }
            allowed += 8 * nm;
            qsort(a, n, sizeof(double), cmp_double);
            x->noise_med = a[n / 2];
        }
        if (worst > allowed) *amp_consistent = 0;
    }
    if (!(x->g > 1e-6 * fabs(x->f.attention_factor)) || !isfinite(x->g)) *amp_consistent = 0; /* zeros */
    free(a);
}

static void amplitude_diag(vctx *x, verify_report *r) {
    double af = x->f.attention_factor, g = x->g;
    /* the amplitude is a median: a few units of rounding, and of the pair fit's noise */
    double tol = 1e-5 + 4 * st_eps(x->storage) + 4 * x->noise_med / (g > 0 ? g : 1);
    if (fabs(g / af - 1) <= tol) return;
    if (af != 1 && fabs(g - 1) <= tol)
        add_diag(r, "attention_factor_missing", 1, g, 0, 0, 0,
                 "attention factor missing: cos/sin have amplitude %.6g, the model's attention "
                 "factor is %.6g (HF multiplies cos and sin by it; an engine may apply it elsewhere "
                 "instead, then this table is right)",
                 g, af);
    else if (af != 1 && fabs(g / (af * af) - 1) <= tol)
        add_diag(r, "attention_factor_twice", 1, g, 0, 0, 0,
                 "attention factor applied twice: amplitude %.6g = %.6g squared", g, af);
    else
        add_diag(r, "amplitude", 1, g, 0, 0, 0,
                 "cos/sin scaled by %.6g; the model's attention factor is %.6g", g, af);
}

/* Angles nobody explains make the whole verdict unexplained, even when the amplitude alone is
 * recognised (it is still listed: a fact about the data, not a diagnosis of the angles). */
static void finish_summary(verify_report *r, int angle_right) {
    int faults = 0;
    for (int i = 0; i < r->n_diag; i++) faults += r->diag[i].fault;
    if (!angle_right) r->verdict = VERIFY_UNEXPLAINED;
    else if (faults) r->verdict = VERIFY_FAULT;
    else r->verdict = VERIFY_RIGHT;
}

/* The truth fits: say how (16-bit storage is a fault; float32 angles a note). */
static void explain_right(vctx *x, verify_report *r, double s_truth, double rms_truth) {
    if (x->storage != ST_F32) {
        add_diag(r, x->storage == ST_BF16 ? "table_bf16" : "table_f16", 1, NAN, s_truth, rms_truth,
                 rms_truth,
                 "the table is stored in %s: right angles, rounded values (max error %.3g)%s",
                 st_name(x->storage), r->max_abs,
                 r->exceeds_from >= 0 ? "; it exceeds the tolerance" : "");
        r->diag[r->n_diag - 1].exceeds_from = r->exceeds_from;
    } else if (score_coef(x, x->tc, x->ts, x->tang, 0, NULL) > 1) {
        double s_c = score_coef(x, x->cc, x->cs, x->tang, 0, NULL);
        add_diag(r, "f32_angle", 0, NAN, s_truth, rms_truth, rms_truth,
                 "float32 angle arithmetic%s: error up to %.3g, explained by float32 (the HF "
                 "float32 path differs from the truth by up to %.3g here)",
                 s_c <= 1 ? " (matches HF's float32 path to a few ulp)" : "", r->max_abs,
                 r->f32_max_abs);
        r->diag[r->n_diag - 1].exceeds_from = r->exceeds_from;
    }
}

/* float32 theta by recurrence (ggml, llama.cpp): float32 arithmetic, not a fault, though less
 * accurate than HF's float32 path. 1 when it fits (the note added). */
static int ggml_recurrence(vctx *x, verify_report *r, double rms_truth) {
    cand c = {x->cfg, x->seq_len, 0, CAND_THETA_RECURRENCE};
    double rms;
    if (build(x, &c, x->hc, x->hs, x->hang) || score(x, x->hc, x->hs, x->hang, &rms) > 1) return 0;
    add_diag(r, "f32_theta_recurrence", 0, NAN, 0, rms, rms_truth,
             "float32 theta by recurrence (ggml / llama.cpp: theta *= base^(-2/R) pair after "
             "pair): explained by float32 arithmetic; error up to %.3g, %.2g times HF's "
             "float32 path here",
             r->max_abs, r->f32_max_abs > 0 ? r->max_abs / r->f32_max_abs : INFINITY);
    r->diag[r->n_diag - 1].exceeds_from = r->exceeds_from;
    return 1;
}

/* The analysis of a decoded table against cfg. angle_right out: the truth fits. */
static int analyse(const verify_truth *t, const rope_config *cfg, int64_t rows, int64_t nf,
                   const double *ec, const double *es, const int64_t *positions, const double *noise,
                   verify_report *r, char *err, size_t errlen) {
    vctx x;
    if (ctx_init(&x, t, cfg, rows, nf, ec, es, positions, err, errlen)) return -1;
    x.noise = noise;
    if (x.f.n_freqs != nf) {
        ctx_free(&x);
        errf(err, errlen, "internal: %lld frequencies against %lld", (long long)nf, (long long)x.f.n_freqs);
        return -1;
    }
    r->n_freqs = nf;
    r->rows = rows;
    r->seq_len = x.seq_len;
    r->pos_min = x.pos[x.order[0]];
    r->pos_max = x.pos[x.order[rows - 1]];
    r->attention_factor = x.f.attention_factor;
    /* the truth, accurate and HF float32 */
    rope_status st = rope_cos_sin(&x.f, x.pos, 0, rows, ROPE_PRECISION_ACCURATE, x.fc, x.fs);
    for (int64_t k = 0; st == ROPE_OK && k < rows * nf; k++) {
        x.tc[k] = x.fc[k], x.ts[k] = x.fs[k];
        x.tang[k] = (double)x.pos[k / nf] * x.f.inv_freq[k % nf];
    }
    if (st == ROPE_OK) st = rope_cos_sin(&x.f, x.pos, 0, rows, ROPE_PRECISION_COMPAT_F32, x.fc, x.fs);
    for (int64_t k = 0; st == ROPE_OK && k < rows * nf; k++) x.cc[k] = x.fc[k], x.cs[k] = x.fs[k];
    if (st != ROPE_OK) {
        ctx_free(&x);
        errf(err, errlen, "the truth's table: %s", rope_strerror(st));
        return -1;
    }
    int amp_ok;
    amplitude_and_storage(&x, &amp_ok);
    r->amplitude = x.g;
    snprintf(r->storage, sizeof r->storage, "%s", st_name(x.storage));
    fill_numbers(&x, r);
    double rms_truth;
    double s_truth = score(&x, x.tc, x.ts, x.tang, &rms_truth);
    int angle_right = amp_ok && s_truth <= 1;
    if (!amp_ok) {
        if (!(x.g > 1e-6 * fabs(x.f.attention_factor)))
            snprintf(r->summary, sizeof r->summary,
                     "unexplained: cos and sin are (nearly all) zero, not the rotations of any RoPE");
        else
            snprintf(r->summary, sizeof r->summary,
                     "unexplained: |(cos, sin)| is not constant (median %.6g, the model's attention "
                     "factor %.6g), so these are not the rotations of any RoPE tried",
                     x.g, x.f.attention_factor);
        finish_summary(r, 0);
        ctx_free(&x);
        return 0;
    }
    if (angle_right) {
        explain_right(&x, r, s_truth, rms_truth);
        amplitude_diag(&x, r);
        finish_summary(r, 1);
        ctx_free(&x);
        return 0;
    }
    if (ggml_recurrence(&x, r, rms_truth)) {
        amplitude_diag(&x, r);
        finish_summary(r, 1);
        ctx_free(&x);
        return 0;
    }
    /* the truth does not fit: test the faults */
    hyp_state h;
    memset(&h, 0, sizeof h);
    h.rms_truth = rms_truth;
    estimate_theta(&x);
    int before = r->n_diag;
    hyp_fixed(&x, r, &h);
    hyp_offset(&x, r, &h);
    hyp_alt(&x, r, &h);
    hyp_scaling(&x, r, &h);
    hyp_precision(&x, r, &h);
    for (int i = 0; i < h.n; i++) free(h.k[i].c), free(h.k[i].s), free(h.k[i].ang);
    int found = r->n_diag > before;
    for (int i = before; i < r->n_diag; i++)
        if (!strncmp(r->diag[i].id, "angle_", 6)) r->diag[i].exceeds_from = r->exceeds_from;
    amplitude_diag(&x, r);
    finish_summary(r, found);
    ctx_free(&x);
    return 0;
}

static void report_init(const verify_truth *t, verify_report *r, const char *mode) {
    memset(r, 0, sizeof *r);
    r->out_max_abs = r->out_max_rel = NAN;
    snprintf(r->mode, sizeof r->mode, "%s", mode);
    snprintf(r->layer_type, sizeof r->layer_type, "%s", t->layer_type);
    r->tol = t->tol > 0 ? t->tol : 1e-3;
    r->exceeds_from = -1;
    snprintf(r->storage, sizeof r->storage, "f32");
}

static void write_summary(verify_report *r) {
    if (r->summary[0]) return;
    if (r->verdict == VERIFY_RIGHT) {
        snprintf(r->summary, sizeof r->summary,
                 "right: within what float32 arithmetic explains (max error %.3g; HF's float32 path "
                 "differs from the accurate truth by up to %.3g at these positions)",
                 r->max_abs, r->f32_max_abs);
    } else if (r->verdict == VERIFY_FAULT) {
        size_t len = 0;
        len += snprintf(r->summary + len, sizeof r->summary - len, "wrong: ");
        int first = 1;
        for (int i = 0; i < r->n_diag && len < sizeof r->summary; i++) {
            if (!r->diag[i].fault) continue;
            len += snprintf(r->summary + len, sizeof r->summary - len, "%s%s", first ? "" : ", ",
                            r->diag[i].id);
            first = 0;
        }
    } else {
        snprintf(r->summary, sizeof r->summary,
                 "unexplained: max error %.3g against the truth, and none of the faults tried fits "
                 "the data within float32 arithmetic",
                 r->max_abs);
    }
}

/* A variant of the truth built `width` wide (head_dim = width, every dim rotated). */
static rope_config width_variant(const rope_config *cfg, int64_t width) {
    rope_config c = *cfg;
    c.head_dim = width;
    c.partial_rotary_factor = 1.0;
    return c;
}

static int run_table(const verify_truth *t, const verify_table *e, verify_report *r, char *err,
                     size_t errlen) {
    report_init(t, r, "table");
    snprintf(r->layout, sizeof r->layout, "%s", e->layout ? e->layout : "[pos, R/2]");
    rope_freqs f;
    rope_status st = rope_freqs_compute(&t->cfg, t->seq_len, &f);
    if (st != ROPE_OK) {
        errf(err, errlen, "the model's frequencies: %s", rope_strerror(st));
        return -1;
    }
    r->n_freqs_truth = f.n_freqs;
    r->rotary_dim = f.rotary_dim;
    r->head_dim = f.head_dim;
    int rc;
    if (e->n_freqs != f.n_freqs) {
        /* a table of another width: is it the model's RoPE built that wide? */
        rope_config wc = width_variant(&t->cfg, 2 * e->n_freqs);
        rc = analyse(t, &wc, e->rows, e->n_freqs, e->cos, e->sin, e->positions, NULL, r, err, errlen);
        if (rc) return rc;
        int fits = r->verdict != VERIFY_UNEXPLAINED;
        r->n_diag = 0;
        if (fits)
            add_diag(r, "rotary_width", 1, (double)(2 * e->n_freqs), 0, 0, 0,
                     "the table has %lld frequencies where the model has %lld (rotary_dim %lld of "
                     "head_dim %lld): it is this RoPE built %lld wide (theta_i = base^(-2i/%lld)), "
                     "partial rotary or the rotated width wrong",
                     (long long)e->n_freqs, (long long)f.n_freqs, (long long)f.rotary_dim,
                     (long long)f.head_dim, (long long)(2 * e->n_freqs), (long long)(2 * e->n_freqs));
        r->verdict = fits ? VERIFY_FAULT : VERIFY_UNEXPLAINED;
        r->summary[0] = 0;
        if (!fits)
            snprintf(r->summary, sizeof r->summary,
                     "unexplained: the table has %lld frequencies, the model %lld, and it is not "
                     "this RoPE built %lld wide either",
                     (long long)e->n_freqs, (long long)f.n_freqs, (long long)(2 * e->n_freqs));
        write_summary(r);
        return 0;
    }
    rc = analyse(t, &t->cfg, e->rows, e->n_freqs, e->cos, e->sin, e->positions, NULL, r, err, errlen);
    if (rc) return rc;
    if (e->implied_style != ROPE_STYLE_NONE && t->style != ROPE_STYLE_NONE && e->implied_style != t->style) {
        add_diag(r, "convention", 1, NAN, 0, 0, 0,
                 "wrong convention: the table's layout (%s) is for %s pairs, the model pairs %s",
                 r->layout, e->implied_style == ROPE_STYLE_HALF ? "half (i, i+R/2)" : "interleaved (2i, 2i+1)",
                 t->style == ROPE_STYLE_HALF ? "half (i, i+R/2)" : "interleaved (2i, 2i+1)");
        if (r->verdict == VERIFY_RIGHT) r->verdict = VERIFY_FAULT;
    }
    write_summary(r);
    return 0;
}

/* Large tables: the hypotheses are tested on VERIFY_MAX_ROWS rows (the first 1024 positions and
 * the rest spread geometrically, the last included), so memory and time stay bounded; the
 * truth's budget, the max error and the tolerance position are then checked on every row. */
#define VERIFY_MAX_ROWS 16384

static int all_rows(const verify_truth *t, const verify_table *e, verify_report *r, char *err,
                    size_t errlen) {
    rope_freqs f;
    if (rope_freqs_compute(&t->cfg, r->seq_len, &f) != ROPE_OK || f.n_freqs != e->n_freqs) return 0;
    enum { CH = 4096 };
    const int64_t nf = e->n_freqs;
    float *c = malloc(CH * nf * sizeof(float)), *s = malloc(CH * nf * sizeof(float));
    int64_t *pp = malloc(CH * sizeof(int64_t));
    if (!c || !s || !pp) {
        free(c), free(s), free(pp);
        errf(err, errlen, "out of memory");
        return -1;
    }
    int st = !strcmp(r->storage, "bf16") ? ST_BF16 : !strcmp(r->storage, "f16") ? ST_F16 : ST_F32;
    double g = r->amplitude, af = r->attention_factor, worst = 0;
    int64_t bad_from = -1;
    r->max_abs = 0;
    r->exceeds_from = -1;
    for (int64_t r0 = 0; r0 < e->rows; r0 += CH) {
        int64_t n = e->rows - r0 < CH ? e->rows - r0 : CH;
        for (int64_t j = 0; j < n; j++) pp[j] = e->positions ? e->positions[r0 + j] : r0 + j;
        if (rope_cos_sin(&f, pp, 0, n, ROPE_PRECISION_ACCURATE, c, s) != ROPE_OK) break;
        for (int64_t k = 0; k < n * nf; k++) {
            double ec = e->cos[r0 * nf + k], es = e->sin[r0 * nf + k];
            double d = fmax(fabs(ec - af * c[k]), fabs(es - af * s[k]));
            if (!isfinite(d)) d = INFINITY;
            int64_t p = pp[k / nf];
            if (d > r->max_abs) r->max_abs = d;
            if (d > r->tol && (r->exceeds_from < 0 || p < r->exceeds_from)) r->exceeds_from = p;
            double gc = st_round(st, g * c[k]), gs = st_round(st, g * s[k]);
            double dg = fmax(fabs(ec - gc), fabs(es - gs));
            double b = g * ((double)p * f.inv_freq[k % nf] * 0x1p-21 + 16 * 0x1p-24);
            if (st != ST_F32) b += 2 * st_eps(st) * fmax(fmax(fabs(gc), fabs(gs)), 0x1p-14);
            double q = isfinite(dg) ? dg / b : INFINITY;
            if (q > worst) worst = q;
            if (q > 1 && (bad_from < 0 || p < bad_from)) bad_from = p;
        }
    }
    free(c), free(s), free(pp);
    if (r->verdict == VERIFY_RIGHT && worst > 1) {
        r->verdict = VERIFY_UNEXPLAINED;
        snprintf(r->summary, sizeof r->summary,
                 "unexplained: right on the %lld rows analysed, but other rows are off the truth (from "
                 "position %lld)",
                 (long long)r->rows_analysed, (long long)bad_from);
    }
    return 0;
}

int verify_run_table(const verify_truth *t, const verify_table *e, verify_report *r, char *err,
                     size_t errlen) {
    if (!t || !e || !r || !e->cos || !e->sin) {
        errf(err, errlen, "verify: NULL argument");
        return -1;
    }
    if (e->rows < 0 || e->n_freqs < 0 || (e->n_freqs && e->rows > INT64_MAX / e->n_freqs)) {
        errf(err, errlen, "verify: table shape overflows");
        return -1;
    }
    if (!all_finite(e->cos, e->rows * e->n_freqs, "cos", err, errlen) ||
        !all_finite(e->sin, e->rows * e->n_freqs, "sin", err, errlen))
        return -1;
    if (t->nope) {
        errf(err, errlen, "this layer has no RoPE (NoPE): a cos/sin table cannot be checked for it; give "
             "q/k before and after the engine's attention input instead");
        return -1;
    }
    if (e->rows <= VERIFY_MAX_ROWS) {
        int rc = run_table(t, e, r, err, errlen);
        r->rows_analysed = r->rows;
        return rc;
    }
    const int64_t nf = e->n_freqs, M = VERIFY_MAX_ROWS, head = 1024;
    int64_t *order = malloc(e->rows * sizeof(int64_t)), *pos = malloc(M * sizeof(int64_t));
    double *c = malloc(M * nf * sizeof(double)), *s = malloc(M * nf * sizeof(double));
    if (!order || !pos || !c || !s || sort_order(e->positions, e->rows, order)) {
        free(order), free(pos), free(c), free(s);
        errf(err, errlen, "out of memory");
        return -1;
    }
    int64_t n = 0, last = -1;
    for (int64_t k = 0; k < M; k++) {
        int64_t j = k < head ? k
                             : (int64_t)llround(head * pow((double)(e->rows - 1) / head,
                                                           (double)(k - head) / (double)(M - head - 1)));
        if (j <= last) continue;
        last = j;
        int64_t row = order[j];
        pos[n] = e->positions ? e->positions[row] : row;
        memcpy(c + n * nf, e->cos + row * nf, nf * sizeof(double));
        memcpy(s + n * nf, e->sin + row * nf, nf * sizeof(double));
        n++;
    }
    verify_table sub = *e;
    sub.rows = n, sub.cos = c, sub.sin = s, sub.positions = pos;
    int rc = run_table(t, &sub, r, err, errlen);
    if (!rc) {
        r->rows = e->rows;
        r->rows_analysed = n;
        if (r->n_freqs == r->n_freqs_truth) rc = all_rows(t, e, r, err, errlen);
    }
    free(order), free(pos), free(c), free(s);
    return rc;
}

/* ------------------------------------------------------------------ pairs */

typedef struct layout_cand {
    int64_t start, width;       /* rotated dims [start, start + width) */
    rope_style style;
} layout_cand;

/* Per (position, pair) least squares of out = [[c, -s], [s, c]] in over every head of every
 * token at that position; residual relative to the outputs' energy (copied dims included). */
static int extract(const verify_pairs *p, const int64_t *order, const layout_cand *L, int64_t *urows,
                   int64_t *upos, double *c, double *s, double *noise, double *rel) {
    const int64_t D = p->head_dim, H = p->heads, nf = L->width / 2;
    double res = 0, energy = 0;
    int64_t u = -1, prevp = -1;
    double *sxx = calloc(nf, sizeof(double)), *sc = calloc(nf, sizeof(double)),
           *ss = calloc(nf, sizeof(double)), *syy = calloc(nf, sizeof(double));
    if (!sxx || !sc || !ss || !syy) {
        free(sxx), free(sc), free(ss), free(syy);
        return -1;
    }
    for (int64_t j = 0; j <= p->tokens; j++) {
        int64_t tok = j < p->tokens ? order[j] : -1;
        int64_t pp = tok >= 0 ? (p->positions ? p->positions[tok] : tok) : -2;
        if (pp != prevp && u >= 0) { /* close row u */
            for (int64_t i = 0; i < nf; i++) {
                double den = sxx[i] > 0 ? sxx[i] : 1;
                c[u * nf + i] = sc[i] / den;
                s[u * nf + i] = ss[i] / den;
                double rr = syy[i] - (sc[i] * sc[i] + ss[i] * ss[i]) / den;
                if (rr < 0) rr = 0;
                res += rr;
                noise[u * nf + i] = sqrt(rr / den) + 2 * p->eps * sqrt(syy[i] / den);
            }
        }
        if (tok < 0) break;
        if (pp != prevp) {
            u++;
            upos[u] = pp;
            prevp = pp;
            memset(sxx, 0, nf * sizeof(double));
            memset(sc, 0, nf * sizeof(double));
            memset(ss, 0, nf * sizeof(double));
            memset(syy, 0, nf * sizeof(double));
        }
        for (int64_t h = 0; h < H; h++) {
            const double *xi = p->in + (tok * H + h) * D, *yo = p->out + (tok * H + h) * D;
            for (int64_t d = 0; d < D; d++) {
                energy += yo[d] * yo[d];
                if (d < L->start || d >= L->start + L->width) res += (yo[d] - xi[d]) * (yo[d] - xi[d]);
            }
            for (int64_t i = 0; i < nf; i++) {
                int64_t d0 = L->start + (L->style == ROPE_STYLE_HALF ? i : 2 * i);
                int64_t d1 = L->start + (L->style == ROPE_STYLE_HALF ? i + nf : 2 * i + 1);
                double a = xi[d0], b = xi[d1], a2 = yo[d0], b2 = yo[d1];
                sxx[i] += a * a + b * b;
                sc[i] += a * a2 + b * b2;
                ss[i] += a * b2 - b * a2;
                syy[i] += a2 * a2 + b2 * b2;
            }
        }
    }
    free(sxx), free(sc), free(ss), free(syy);
    *urows = u + 1;
    *rel = energy > 0 ? sqrt(res / energy) : (res > 0 ? INFINITY : 0);
    if (!isfinite(*rel)) *rel = INFINITY;
    return 0;
}

static void layout_name(const layout_cand *L, char *buf, size_t n) {
    if (L->style == ROPE_STYLE_HALF)
        snprintf(buf, n, "dims [%lld, %lld) in half pairs (i, i+%lld)", (long long)L->start,
                 (long long)(L->start + L->width), (long long)(L->width / 2));
    else
        snprintf(buf, n, "dims [%lld, %lld) in interleaved pairs (2i, 2i+1)", (long long)L->start,
                 (long long)(L->start + L->width));
}

/* A layer without RoPE: q/k must come out unchanged. If they do not, is it one of the model's
 * RoPEs applied where none belongs (the NoPE flag read with the wrong polarity)? */
static int run_nope(const verify_truth *t, const verify_pairs *p, verify_report *r, char *err,
                    size_t errlen) {
    if (p->tokens < 1 || p->heads < 1 || p->head_dim < 1) {
        errf(err, errlen, "no vectors (%lld tokens, %lld heads, head_dim %lld)", (long long)p->tokens,
             (long long)p->heads, (long long)p->head_dim);
        return -1;
    }
    double res = 0, energy = 0;
    int64_t n = p->tokens * p->heads * p->head_dim;
    for (int64_t k = 0; k < n; k++) {
        res += (p->out[k] - p->in[k]) * (p->out[k] - p->in[k]);
        energy += p->out[k] * p->out[k];
    }
    double rel = energy > 0 ? sqrt(res / energy) : (res > 0 ? INFINITY : 0);
    snprintf(r->layout, sizeof r->layout, "no RoPE (NoPE layer)");
    r->head_dim = p->head_dim;
    r->amplitude = r->attention_factor = 1;
    if (rel <= 4 * p->eps) {
        r->verdict = VERIFY_RIGHT;
        snprintf(r->summary, sizeof r->summary,
                 "right: this layer has no RoPE and the engine left q/k unchanged");
        return 0;
    }
    for (int a = 0; a < t->n_alt; a++) {
        verify_truth u = *t;
        u.nope = 0;
        u.cfg = t->alt[a].cfg;
        u.n_alt = 0;
        verify_report *tmp = malloc(sizeof *tmp);
        if (!tmp) {
            errf(err, errlen, "out of memory");
            return -1;
        }
        int rc = verify_run_pairs(&u, p, tmp, err, errlen);
        if (!rc && tmp->verdict == VERIFY_RIGHT) {
            *r = *tmp;
            free(tmp);
            snprintf(r->layer_type, sizeof r->layer_type, "%s", t->layer_type);
            r->n_diag = 0;
            add_diag(r, "nope_rotated", 1, NAN, 0, 0, 0,
                     "this layer has no RoPE, and the engine rotated it with the %s layers' RoPE "
                     "(a NoPE flag read with the wrong polarity, e.g. SmolLM3's no_rope_layers: 1 = "
                     "RoPE)",
                     t->alt[a].name);
            r->verdict = VERIFY_FAULT;
            r->summary[0] = 0;
            write_summary(r);
            return 0;
        }
        free(tmp);
    }
    r->verdict = VERIFY_UNEXPLAINED;
    snprintf(r->summary, sizeof r->summary,
             "unexplained: this layer has no RoPE, the engine changed q/k (by %.3g relative), and "
             "not by any of the model's RoPEs",
             rel);
    return 0;
}

/* The outputs themselves against rope_apply of the truth on the same inputs (float32, accurate
 * angles, the attention factor): max |error| and that relative to each head vector's norm. */
static void output_error(const verify_truth *t, const verify_pairs *p, verify_report *r) {
    rope_freqs f;
    r->out_max_abs = r->out_max_rel = NAN;
    if (rope_freqs_compute(&t->cfg, r->seq_len > 0 ? r->seq_len : t->seq_len, &f) != ROPE_OK ||
        p->head_dim != f.head_dim || p->tokens > ((int64_t)1 << 40) / (p->heads * p->head_dim))
        return;
    size_t n = (size_t)(p->tokens * p->heads * p->head_dim);
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    int64_t *ids = malloc((size_t)p->tokens * sizeof(int64_t));
    if (x && y && ids) {
        for (size_t k = 0; k < n; k++) x[k] = (float)p->in[k];
        for (int64_t i = 0; i < p->tokens; i++) ids[i] = p->positions ? p->positions[i] : i;
        rope_tensor ti, to;
        rope_tensor_contiguous(&ti, x, ROPE_F32, 1, p->tokens, p->heads, p->head_dim);
        rope_tensor_contiguous(&to, y, ROPE_F32, 1, p->tokens, p->heads, p->head_dim);
        rope_apply_params ap;
        rope_apply_params_init(&ap);
        ap.style = t->style;
        ap.freqs = &f;
        ap.rotary_dim = f.rotary_dim;
        ap.attention_factor = (float)f.attention_factor;
        rope_positions rp = {0};
        rp.ids = ids;
        if (rope_apply(&ap, &rp, &ti, &to) == ROPE_OK) {
            double ma = 0, mr = 0;
            for (int64_t v = 0; v < p->tokens * p->heads; v++) {
                double e = 0, nn = 0;
                for (int64_t d = 0; d < p->head_dim; d++) {
                    size_t k = (size_t)(v * p->head_dim + d);
                    double dd = fabs(p->out[k] - y[k]);
                    if (!(dd <= e)) e = dd; /* NaN propagates */
                    nn += p->in[k] * p->in[k];
                }
                if (!(e <= ma)) ma = e;
                if (nn > 0 && !(e / sqrt(nn) <= mr)) mr = e / sqrt(nn);
            }
            r->out_max_abs = ma;
            r->out_max_rel = mr;
        }
    }
    free(x), free(y), free(ids);
}

/* The pairings tried: the model's, the other convention, every dim, the last R dims, and
 * (models with unrotated zero frequencies, Gemma 4) the live frequencies alone. */
static int pairing_candidates(const verify_truth *t, const rope_freqs *f, int64_t D, layout_cand *cands) {
    const int64_t R = f->rotary_dim;
    rope_style other = t->style == ROPE_STYLE_HALF ? ROPE_STYLE_INTERLEAVED : ROPE_STYLE_HALF;
    int nc = 0;
    cands[nc++] = (layout_cand){0, R, t->style};
    cands[nc++] = (layout_cand){0, R, other};
    if (R < D) {
        cands[nc++] = (layout_cand){0, D, t->style};
        cands[nc++] = (layout_cand){0, D, other};
        cands[nc++] = (layout_cand){D - R, R, t->style};
    }
    int64_t live = 0;
    for (int64_t i = 0; i < f->n_freqs; i++) live += f->inv_freq[i] > 0;
    if (live < f->n_freqs && live > 0) cands[nc++] = (layout_cand){0, 2 * live, t->style};
    return nc;
}

/* The outputs are a rotation in pairing cands[best]: analyse the cos/sin recovered (c, s) and
 * name a pairing that is not the model's. */
static int judge_pairing(const verify_truth *t, const layout_cand *cands, int best, double relbest,
                         int64_t urows, const double *c, const double *s, const int64_t *upos,
                         const double *nz, verify_report *r, char *err, size_t errlen) {
    const layout_cand *L = &cands[best];
    const int64_t R = cands[0].width;
    rope_style other = cands[1].style;
    int rc = 0;
    if (L->width == R) {
        rc = analyse(t, &t->cfg, urows, R / 2, c, s, upos, nz, r, err, errlen);
        if (rc) return rc;
        if (best == 1) {
            add_diag(r, "convention", 1, NAN, 0, 0, 0,
                     "wrong convention: the engine pairs %s, the model %s (the outputs fit the "
                     "engine's pairing to %.2g)",
                     other == ROPE_STYLE_HALF ? "half (i, i+R/2) as rotate_half" : "interleaved (2i, 2i+1)",
                     t->style == ROPE_STYLE_HALF ? "half (i, i+R/2)" : "interleaved (2i, 2i+1)", relbest);
            if (r->verdict == VERIFY_RIGHT) r->verdict = VERIFY_FAULT;
        } else if (best != 0) {
            char want[96];
            layout_name(&cands[0], want, sizeof want);
            add_diag(r, "rotary_dims", 1, (double)L->start, 0, 0, 0,
                     "partial rotary over the wrong dims: the engine rotates %s, the model %s",
                     r->layout, want);
            if (r->verdict == VERIFY_RIGHT) r->verdict = VERIFY_FAULT;
        }
    } else {
        /* rotated over another width: the Gemma 4 fault (live frequencies paired within their
         * own width) or partial rotary ignored. Which frequencies did it use? */
        rope_config wc = width_variant(&t->cfg, L->width);
        verify_report tmp = *r;
        rc = analyse(t, &wc, urows, L->width / 2, c, s, upos, nz, &tmp, err, errlen);
        if (rc) return rc;
        char want[96];
        layout_name(&cands[0], want, sizeof want);
        *r = tmp;
        r->n_diag = 0;
        add_diag(r, "rotary_width", 1, (double)L->width, 0, 0, 0,
                 "paired within the wrong width: the engine rotates %s, the model %s%s",
                 r->layout, want,
                 tmp.verdict == VERIFY_RIGHT ? "; its angles are those of this RoPE built that wide"
                                             : "; its angles are not this RoPE's either");
        r->verdict = VERIFY_FAULT;
        r->summary[0] = 0;
    }
    return rc;
}

int verify_run_pairs(const verify_truth *t, const verify_pairs *p, verify_report *r, char *err,
                     size_t errlen) {
    if (!t || !p || !r || !p->in || !p->out) {
        errf(err, errlen, "verify: NULL argument");
        return -1;
    }
    int64_t n = 0;
    if (p->tokens < 0 || p->heads < 0 || p->head_dim < 0 ||
        __builtin_mul_overflow(p->tokens, p->heads, &n) || __builtin_mul_overflow(n, p->head_dim, &n)) {
        errf(err, errlen, "verify: q/k shape overflows");
        return -1;
    }
    if (!all_finite(p->in, n, "the input (q, k)", err, errlen) ||
        !all_finite(p->out, n, "the output (q_out, k_out)", err, errlen))
        return -1;
    report_init(t, r, "pairs");
    if (t->nope) return run_nope(t, p, r, err, errlen);
    rope_freqs f;
    rope_status st = rope_freqs_compute(&t->cfg, t->seq_len, &f);
    if (st != ROPE_OK) {
        errf(err, errlen, "the model's frequencies: %s", rope_strerror(st));
        return -1;
    }
    r->n_freqs_truth = f.n_freqs;
    r->rotary_dim = f.rotary_dim;
    r->head_dim = f.head_dim;
    const int64_t D = p->head_dim, R = f.rotary_dim;
    if (p->tokens < 1 || p->heads < 1 || D < 2) {
        errf(err, errlen, "no vectors (%lld tokens, %lld heads, head_dim %lld)", (long long)p->tokens,
             (long long)p->heads, (long long)D);
        return -1;
    }
    if (D != f.head_dim && D != R) {
        errf(err, errlen, "vectors of %lld dims; the model's head_dim is %lld (rotary_dim %lld)",
             (long long)D, (long long)f.head_dim, (long long)R);
        return -1;
    }
    for (int64_t i = 0; p->positions && i < p->tokens; i++)
        if (p->positions[i] < 0 || p->positions[i] > ((int64_t)1 << 53)) {
            errf(err, errlen, "position %lld out of range [0, 2^53]", (long long)p->positions[i]);
            return -1;
        }
    layout_cand cands[8];
    int nc = pairing_candidates(t, &f, D, cands);

    int64_t *order = malloc(p->tokens * sizeof(int64_t));
    int64_t *upos = malloc(p->tokens * sizeof(int64_t));
    size_t cap = (size_t)p->tokens * (size_t)(D / 2);
    double *c = malloc(cap * sizeof(double)), *s = malloc(cap * sizeof(double)),
           *nz = malloc(cap * sizeof(double));
    if (!order || !upos || !c || !s || !nz) {
        free(order), free(upos), free(c), free(s), free(nz);
        errf(err, errlen, "out of memory");
        return -1;
    }
    if (sort_order(p->positions, p->tokens, order)) {
        free(order), free(upos), free(c), free(s), free(nz);
        errf(err, errlen, "out of memory");
        return -1;
    }
    double rel[8];
    int best = -1;
    int64_t urows = 0;
    for (int k = 0; k < nc; k++) {
        if (extract(p, order, &cands[k], &urows, upos, c, s, nz, &rel[k])) {
            rel[k] = INFINITY;
            continue;
        }
        if (best < 0 || rel[k] < rel[best]) best = k;
    }
    /* a rotation (of any angles) explains the outputs to the outputs' rounding */
    double thresh = fmax(64 * p->eps, 1e-5);
    int rc = 0;
    if (best < 0 || rel[best] > thresh) {
        snprintf(r->layout, sizeof r->layout, "none fits");
        r->verdict = VERIFY_UNEXPLAINED;
        snprintf(r->summary, sizeof r->summary,
                 "unexplained: the outputs are not a rotation of the inputs in any pairing tried (the "
                 "model's pairing leaves %.3g of the output unexplained)",
                 rel[0]);
        goto done;
    }
    if (rel[0] <= thresh) best = 0; /* the model's pairing fits: prefer it */
    layout_name(&cands[best], r->layout, sizeof r->layout);
    extract(p, order, &cands[best], &urows, upos, c, s, nz, &rel[best]);
    rc = judge_pairing(t, cands, best, rel[best], urows, c, s, upos, nz, r, err, errlen);
done:
    r->rows_analysed = r->rows;
    if (!rc) output_error(t, p, r);
    if (!rc) write_summary(r);
    free(order), free(upos), free(c), free(s), free(nz);
    return rc;
}

/* ------------------------------------------------------------------ layouts */

int verify_decode_cos_sin(int ndim, const int64_t *shape, const double *cos, const double *sin,
                          int64_t n_freqs_truth, verify_decoded *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (ndim < 1 || ndim > 8) {
        errf(err, errlen, "cos/sin must have 1 to 8 dimensions (got %d)", ndim);
        return -1;
    }
    int64_t W = shape[ndim - 1], rows = 1;
    for (int i = 0; i < ndim - 1; i++) {
        if (shape[i] < 0 || (shape[i] && rows > INT64_MAX / shape[i])) {
            errf(err, errlen, "cos/sin shape overflows");
            return -1;
        }
        rows *= shape[i];
    }
    if (W < 1 || rows < 1) {
        errf(err, errlen, "cos/sin are empty");
        return -1;
    }
    if (rows > INT64_MAX / W) {
        errf(err, errlen, "cos/sin shape overflows");
        return -1;
    }
    if (!all_finite(cos, rows * W, "cos", err, errlen) || !all_finite(sin, rows * W, "sin", err, errlen))
        return -1;
    int half = W % 2 == 0, inter = W % 2 == 0;
    if (W == n_freqs_truth) half = inter = 0;
    for (int64_t r = 0; r < rows && (half || inter); r++)
        for (int64_t i = 0; i < W / 2; i++) {
            const double *c = cos + r * W, *s = sin + r * W;
            if (c[i] != c[i + W / 2] || s[i] != s[i + W / 2]) half = 0;
            if (c[2 * i] != c[2 * i + 1] || s[2 * i] != s[2 * i + 1]) inter = 0;
        }
    int64_t nf = (half || inter) ? W / 2 : W;
    out->cos = malloc((size_t)(rows * nf) * sizeof(double));
    out->sin = malloc((size_t)(rows * nf) * sizeof(double));
    if (!out->cos || !out->sin) {
        verify_decoded_free(out);
        errf(err, errlen, "out of memory");
        return -1;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < nf; i++) {
            int64_t src = half ? i : inter ? 2 * i : i;
            out->cos[r * nf + i] = cos[r * W + src];
            out->sin[r * nf + i] = sin[r * W + src];
        }
    out->rows = rows;
    out->n_freqs = nf;
    out->implied_style = half ? ROPE_STYLE_HALF : inter ? ROPE_STYLE_INTERLEAVED : ROPE_STYLE_NONE;
    snprintf(out->layout, sizeof out->layout, "%s",
             half    ? "[pos, R] halves duplicated (HF cat(freqs, freqs))"
             : inter ? "[pos, R] each value twice (repeat_interleave)"
                     : "[pos, R/2]");
    return 0;
}

int verify_decode_cis(int ndim, const int64_t *shape, const double *cis, verify_decoded *out,
                      char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (ndim < 2 || ndim > 8 || shape[ndim - 1] != 2) {
        errf(err, errlen, "freqs_cis must be complex, or real with a last dimension of 2 (real, imag)");
        return -1;
    }
    int64_t nf = shape[ndim - 2], rows = 1;
    for (int i = 0; i < ndim - 2; i++) {
        if (shape[i] < 0 || (shape[i] && rows > INT64_MAX / shape[i])) {
            errf(err, errlen, "freqs_cis shape overflows");
            return -1;
        }
        rows *= shape[i];
    }
    if (nf < 1 || rows < 1) {
        errf(err, errlen, "freqs_cis is empty");
        return -1;
    }
    if (rows > INT64_MAX / 2 / nf) {
        errf(err, errlen, "freqs_cis shape overflows");
        return -1;
    }
    if (!all_finite(cis, rows * nf * 2, "freqs_cis", err, errlen)) return -1;
    out->cos = malloc((size_t)(rows * nf) * sizeof(double));
    out->sin = malloc((size_t)(rows * nf) * sizeof(double));
    if (!out->cos || !out->sin) {
        verify_decoded_free(out);
        errf(err, errlen, "out of memory");
        return -1;
    }
    for (int64_t k = 0; k < rows * nf; k++) {
        out->cos[k] = cis[2 * k];
        out->sin[k] = cis[2 * k + 1];
    }
    out->rows = rows;
    out->n_freqs = nf;
    out->implied_style = ROPE_STYLE_NONE;
    snprintf(out->layout, sizeof out->layout, "complex freqs_cis [pos, R/2]");
    return 0;
}

void verify_decoded_free(verify_decoded *d) {
    if (!d) return;
    free(d->cos);
    free(d->sin);
    d->cos = d->sin = NULL;
}

/* ------------------------------------------------------------------ output */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void sb_num(sbuf *b, double v) {
    if (isfinite(v)) sb_printf(b, "%.17g", v);
    else sb_printf(b, "null");
}

static void sb_str(sbuf *b, const char *s) {
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') sb_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x80) sb_printf(b, "\\u%04x", ch);
        else sb_printf(b, "%c", ch);
    }
    sb_printf(b, "\"");
}

static const char *verdict_name(verify_verdict v) {
    return v == VERIFY_RIGHT ? "right" : v == VERIFY_FAULT ? "fault" : "unexplained";
}

static void json_diagnoses(sbuf *sb, const verify_report *r) {
    sb_printf(sb, ",\n \"diagnoses\": [");
    for (int i = 0; i < r->n_diag; i++) {
        const verify_diag *d = &r->diag[i];
        sb_printf(sb, "%s\n  {\"id\": \"%s\", \"fault\": %s, \"summary\": ", i ? "," : "", d->id,
                  d->fault ? "true" : "false");
        sb_str(sb, d->summary);
        sb_printf(sb, ", \"param\": ");
        sb_num(sb, d->param);
        sb_printf(sb, ", \"score\": ");
        sb_num(sb, d->score);
        sb_printf(sb, ", \"rms_fit\": ");
        sb_num(sb, d->rms_fit);
        sb_printf(sb, ", \"rms_truth\": ");
        sb_num(sb, d->rms_truth);
        sb_printf(sb, ", \"exceeds_tol_from\": ");
        if (d->exceeds_from >= 0) sb_printf(sb, "%lld", (long long)d->exceeds_from);
        else sb_printf(sb, "null");
        sb_printf(sb, ", \"also\": ");
        sb_str(sb, d->also);
        sb_printf(sb, "}");
    }
}

static void json_bands(sbuf *sb, const verify_report *r) {
    sb_printf(sb, "],\n \"bands\": [");
    for (int i = 0; i < r->n_bands; i++) {
        const verify_band *x = &r->bands[i];
        sb_printf(sb, "%s\n  {\"positions\": [%lld, %lld], \"freqs\": [%lld, %lld], \"n\": %lld, \"max_abs\": ",
                  i ? "," : "", (long long)x->pos_lo, (long long)x->pos_hi, (long long)x->f_lo,
                  (long long)x->f_hi, (long long)x->n);
        sb_num(sb, x->max_abs);
        sb_printf(sb, ", \"rms_abs\": ");
        sb_num(sb, x->rms_abs);
        sb_printf(sb, ", \"max_ulp\": ");
        sb_num(sb, x->max_ulp);
        sb_printf(sb, ", \"f32_abs\": ");
        sb_num(sb, x->f32_abs);
        sb_printf(sb, "}");
    }
}

static void json_plot(sbuf *sb, const verify_report *r) {
    sb_printf(sb, "],\n \"plot\": {\"position\": [");
    for (int k = 0; k < r->n_plot; k++) {
        sb_printf(sb, k ? ", " : "");
        sb_num(sb, r->plot_pos[k]);
    }
    sb_printf(sb, "], \"f32\": [");
    for (int k = 0; k < r->n_plot; k++) {
        sb_printf(sb, k ? ", " : "");
        sb_num(sb, r->plot_f32[k]);
    }
    sb_printf(sb, "], \"max_abs_by_freq_band\": [");
    for (int fb = 0; fb < VERIFY_FBANDS; fb++) {
        sb_printf(sb, "%s[", fb ? ", " : "");
        for (int k = 0; k < r->n_plot; k++) {
            sb_printf(sb, k ? ", " : "");
            sb_num(sb, r->plot_err[fb][k]);
        }
        sb_printf(sb, "]");
    }
    sb_printf(sb, "]}}\n");
}

char *verify_report_json(const verify_report *r) {
    sbuf b = {0};
    sb_printf(&b, "{\"verdict\": \"%s\", \"summary\": ", verdict_name(r->verdict));
    sb_str(&b, r->summary);
    sb_printf(&b, ", \"mode\": \"%s\", \"layout\": ", r->mode);
    sb_str(&b, r->layout);
    sb_printf(&b, ", \"layer_type\": ");
    if (r->layer_type[0]) sb_str(&b, r->layer_type);
    else sb_printf(&b, "null");
    sb_printf(&b,
              ", \"storage\": \"%s\", \"rows\": %lld, \"rows_analysed\": %lld, \"n_freqs\": %lld, \"n_freqs_model\": %lld, "
              "\"rotary_dim\": %lld, \"head_dim\": %lld, \"seq_len\": %lld, \"positions\": [%lld, %lld], "
              "\"attention_factor\": ",
              r->storage, (long long)r->rows, (long long)r->rows_analysed, (long long)r->n_freqs,
              (long long)r->n_freqs_truth,
              (long long)r->rotary_dim, (long long)r->head_dim, (long long)r->seq_len,
              (long long)r->pos_min, (long long)r->pos_max);
    sb_num(&b, r->attention_factor);
    sb_printf(&b, ", \"amplitude\": ");
    sb_num(&b, r->amplitude);
    sb_printf(&b, ", \"max_abs\": ");
    sb_num(&b, r->max_abs);
    sb_printf(&b, ", \"max_ulp\": ");
    sb_num(&b, r->max_ulp);
    sb_printf(&b, ", \"f32_max_abs\": ");
    sb_num(&b, r->f32_max_abs);
    sb_printf(&b, ", \"output_max_abs\": ");
    sb_num(&b, r->out_max_abs);
    sb_printf(&b, ", \"output_max_rel\": ");
    sb_num(&b, r->out_max_rel);
    sb_printf(&b, ", \"tol\": ");
    sb_num(&b, r->tol);
    sb_printf(&b, ", \"exceeds_tol_from\": ");
    if (r->exceeds_from >= 0) sb_printf(&b, "%lld", (long long)r->exceeds_from);
    else sb_printf(&b, "null");
    json_diagnoses(&b, r);
    json_bands(&b, r);
    json_plot(&b, r);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *verify_report_text(const verify_report *r) {
    sbuf b = {0};
    sb_printf(&b, "verdict: %s\n%s\n\n", verdict_name(r->verdict), r->summary);
    for (int i = 0; i < r->n_diag; i++) {
        const verify_diag *d = &r->diag[i];
        sb_printf(&b, "  [%s] %s: %s\n", d->fault ? "fault" : "note", d->id, d->summary);
        if (d->exceeds_from >= 0)
            sb_printf(&b, "      error exceeds %.3g from position %lld\n", r->tol, (long long)d->exceeds_from);
        if (d->also[0]) sb_printf(&b, "      equally fits: %s\n", d->also);
    }
    if (r->n_diag) sb_printf(&b, "\n");
    sb_printf(&b, "%s: %lld rows x %lld frequencies (model: %lld, rotary_dim %lld of %lld), layout %s,\n",
              r->mode, (long long)r->rows, (long long)r->n_freqs, (long long)r->n_freqs_truth,
              (long long)r->rotary_dim, (long long)r->head_dim, r->layout);
    if (r->rows_analysed < r->rows)
        sb_printf(&b, "faults tested on %lld of the rows (the first 1024 positions, the rest spread "
                  "geometrically); the truth's budget and the max error on all of them\n",
                  (long long)r->rows_analysed);
    sb_printf(&b, "positions %lld..%lld, seq_len %lld, values %s, amplitude %.6g (model's attention "
              "factor %.6g)\n",
              (long long)r->pos_min, (long long)r->pos_max, (long long)r->seq_len, r->storage,
              r->amplitude, r->attention_factor);
    sb_printf(&b, "max |error| %.3g (%.3g ulp); HF float32 vs accurate: %.3g; > %.3g from position ",
              r->max_abs, r->max_ulp, r->f32_max_abs, r->tol);
    if (r->exceeds_from >= 0) sb_printf(&b, "%lld\n\n", (long long)r->exceeds_from);
    else sb_printf(&b, "never\n\n");
    if (isfinite(r->out_max_abs))
        sb_printf(&b, "outputs vs rope_apply of the truth on the same inputs: max |error| %.3g, %.3g of "
                  "the vector's norm\n\n",
                  r->out_max_abs, r->out_max_rel);
    if (r->n_bands) {
        sb_printf(&b, "%-21s %-11s %11s %11s %11s %11s\n", "positions", "freqs", "max |err|", "rms",
                  "max ulp", "f32 explains");
        for (int i = 0; i < r->n_bands; i++) {
            const verify_band *x = &r->bands[i];
            char pr[32], fr[24];
            snprintf(pr, sizeof pr, "%lld..%lld", (long long)x->pos_lo, (long long)x->pos_hi);
            snprintf(fr, sizeof fr, "%lld..%lld", (long long)x->f_lo, (long long)(x->f_hi - 1));
            sb_printf(&b, "%-21s %-11s %11.3g %11.3g %11.3g %11.3g\n", pr, fr, x->max_abs, x->rms_abs,
                      x->max_ulp, x->f32_abs);
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void verify_string_free(char *s) { free(s); }

static char *json_of(int rc, verify_report *r, char *err, size_t errlen) {
    char *j = rc ? NULL : verify_report_json(r);
    if (!rc && !j) errf(err, errlen, "out of memory");
    free(r);
    return j;
}

char *verify_table_json(const verify_truth *t, const verify_table *e, char *err, size_t errlen) {
    verify_report *r = malloc(sizeof *r);
    if (!r) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    return json_of(verify_run_table(t, e, r, err, errlen), r, err, errlen);
}

char *verify_pairs_json(const verify_truth *t, const verify_pairs *p, char *err, size_t errlen) {
    verify_report *r = malloc(sizeof *r);
    if (!r) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    return json_of(verify_run_pairs(t, p, r, err, errlen), r, err, errlen);
}
