/*
 * Conformance against golden vectors produced by RUNNING the real peers
 * (Hugging Face transformers' rotary modules and apply functions, Meta's
 * llama-models precompute_freqs_cis / apply_rotary_emb); see
 * tests/golden/README.md and tests/golden/gen_golden.py. CI only reads the
 * committed files.
 *
 * Bounds (each one stated where it is checked):
 *   inv_freq_f32 (HF recipe)  vs HF inv_freq: <= 1 ulp (torch's powf vs a
 *                             correctly rounded pow), most entries bit-equal;
 *   inv_freq (float64)        vs HF inv_freq: <= 8 float32 ulp (HF rounds the
 *                             exponent 2i/d to float32 before pow);
 *   attention / softmax factors: 1e-12 absolute;
 *   compat table (θ = HF's inv_freq) × af vs HF cos/sin: <= 2 ulp of HF's value
 *                             (same float32 angle; HF's cos is <= 1 ulp, ours
 *                             correctly rounded, then one ×af rounding each);
 *   compat table with our own θ32: the same plus pos·|θ32 - θHF| (0 when equal);
 *   accurate table × af vs HF: af·(pos·|θ64 - θHF| + ½ulp(pos·θHF)) + 3 ulp,
 *                             i.e. exactly HF's own float32 error budget;
 *   apply outputs: 1e-6·(|x_i| + |x_j|) absolute (float32 rounding of two products).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rope.h"

/* ------------------------------------------------------------ the file */

typedef struct {
    char *buf;
    char **keys;
    char **vals;
    int n;
} golden;

static int golden_load(golden *g, const char *path) {
    memset(g, 0, sizeof *g);
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return 0;
    }
    long len = ftell(fp);
    rewind(fp);
    if (len < 0) {
        fclose(fp);
        return 0;
    }
    g->buf = malloc((size_t)len + 1);
    if (!g->buf || fread(g->buf, 1, (size_t)len, fp) != (size_t)len) {
        fclose(fp);
        free(g->buf);
        g->buf = NULL;
        return 0;
    }
    fclose(fp);
    g->buf[len] = 0;
    int lines = 1;
    for (long i = 0; i < len; i++) lines += g->buf[i] == '\n';
    g->keys = calloc((size_t)lines, sizeof(char *));
    g->vals = calloc((size_t)lines, sizeof(char *));
    if (!g->keys || !g->vals) return 0;
    char *p = g->buf;
    while (*p) {
        char *eol = strchr(p, '\n');
        if (eol) *eol = 0;
        if (*p && *p != '#') {
            char *sp = strchr(p, ' ');
            g->keys[g->n] = p;
            g->vals[g->n] = sp ? sp + 1 : p + strlen(p);
            if (sp) *sp = 0;
            g->n++;
        }
        if (!eol) break;
        p = eol + 1;
    }
    return 1;
}

static void golden_free(golden *g) {
    free(g->buf);
    free(g->keys);
    free(g->vals);
}

static const char *gstr(const golden *g, const char *key) {
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->keys[i], key) == 0) return g->vals[i];
    return NULL;
}

/* All numbers of a line (malloc'ed, count in *n); NULL if the key is absent. */
static double *gnums(const golden *g, const char *key, int64_t *n) {
    const char *s = gstr(g, key);
    *n = 0;
    if (!s) return NULL;
    int64_t cap = 16;
    double *v = malloc((size_t)cap * sizeof *v);
    if (!v) return NULL;
    char *end;
    for (;;) {
        double x = strtod(s, &end);
        if (end == s) break;
        if (*n == cap) {
            cap *= 2;
            double *w = realloc(v, (size_t)cap * sizeof *v);
            if (!w) {
                free(v);
                return NULL;
            }
            v = w;
        }
        v[(*n)++] = x;
        s = end;
    }
    return v;
}

/* The same, for float32 data: written with 9 significant digits, which
 * identifies the float32 value but is not it; round back to float32. */
static double *gnums32(const golden *g, const char *key, int64_t *n) {
    double *v = gnums(g, key, n);
    for (int64_t i = 0; v && i < *n; i++) v[i] = (double)(float)v[i];
    return v;
}

static double gnum(const golden *g, const char *key, double dflt) {
    int64_t n;
    double *v = gnums(g, key, &n);
    double r = (v && n > 0) ? v[0] : dflt;
    free(v);
    return r;
}

/* ------------------------------------------------------------ helpers */

static double ulp32(double v) {
    double a = fabs(v);
    if (a < 1.1754943508222875e-38) return ldexp(1.0, -149);
    int e;
    frexp(a, &e);
    return ldexp(1.0, e - 24);
}

typedef struct {
    double inv32_max_ulp, inv64_max_ulp, compat_max_ulp, acc_max_abs, acc_max_ratio, apply_max,
        meta_max_ulp, meta_apply_max, lib_apply_max;
    int inv32_equal, n;
} summary;

/* out = x rotated, half (pairs i, i+R/2) or interleaved (2i, 2i+1), with
 * C = RN(c·af), S = RN(s·af) as HF forms them; dims >= R copied. */
static void ref_rotate(const float *x, float *y, int64_t D, int64_t R, const float *c, const float *s,
                       float af, int interleaved) {
    int64_t h = R / 2;
    for (int64_t i = 0; i < h; i++) {
        float C = c[i] * af, S = s[i] * af;
        int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + h;
        float xa = x[a], xb = x[b];
        float p1 = xa * C, p2 = -xb * S, p3 = xb * C, p4 = xa * S;
        y[a] = p1 + p2;
        y[b] = p3 + p4;
    }
    for (int64_t d = R; d < D; d++) y[d] = x[d];
}

static int apply_close(const float *got, const float *want, const float *x, int64_t D, int64_t R,
                       int interleaved, double *maxerr) {
    int bad = 0;
    for (int64_t d = 0; d < D; d++) {
        double tol;
        if (d < R) {
            int64_t i = interleaved ? d / 2 : d % (R / 2);
            int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + R / 2;
            tol = 1e-6 * (fabs(x[a]) + fabs(x[b])) + 1e-30;
        } else {
            tol = 0; /* pass-through is bit for bit */
        }
        double e = fabs((double)got[d] - (double)want[d]);
        if (d < R && e / tol > *maxerr) *maxerr = e / tol; /* fraction of the bound */
        if (!(e <= tol)) bad++;
    }
    return bad;
}

/* ------------------------------------------------------------ one case */

static void run_case(const char *name, summary *sm) {
    char path[256];
    snprintf(path, sizeof path, "golden/%s.txt", name);
    golden g;
    if (!golden_load(&g, path)) {
        CHECK_MSG(0, "cannot read %s", path);
        return;
    }
    memset(sm, 0, sizeof *sm);
    sm->meta_max_ulp = -1;

    /* the config, field by field as gen_golden.py wrote it */
    rope_config c;
    rope_config_init(&c);
    const char *type = gstr(&g, "cfg.type");
    CHECK_MSG(type != NULL, "%s: no cfg.type", name);
    if (type) CHECK_OK(rope_scaling_from_name(type, &c.type));
    c.rope_theta = gnum(&g, "cfg.rope_theta", c.rope_theta);
    c.head_dim = (int64_t)gnum(&g, "cfg.head_dim", 0);
    c.hidden_size = (int64_t)gnum(&g, "cfg.hidden_size", 0);
    c.num_attention_heads = (int64_t)gnum(&g, "cfg.num_attention_heads", 0);
    c.partial_rotary_factor = gnum(&g, "cfg.partial_rotary_factor", 1.0);
    c.factor = gnum(&g, "cfg.factor", 0);
    c.max_position_embeddings = (int64_t)gnum(&g, "cfg.max_position_embeddings", 0);
    c.original_max_position_embeddings = (int64_t)gnum(&g, "cfg.original_max_position_embeddings", 0);
    c.beta_fast = gnum(&g, "cfg.beta_fast", 0);
    c.beta_slow = gnum(&g, "cfg.beta_slow", 0);
    c.mscale = gnum(&g, "cfg.mscale", 0);
    c.mscale_all_dim = gnum(&g, "cfg.mscale_all_dim", 0);
    c.truncate = (int)gnum(&g, "cfg.truncate", 1);
    c.low_freq_factor = gnum(&g, "cfg.low_freq_factor", 0);
    c.high_freq_factor = gnum(&g, "cfg.high_freq_factor", 0);
    int64_t ns, nl, nm;
    double *sf = gnums(&g, "cfg.short_factor", &ns);
    double *lf = gnums(&g, "cfg.long_factor", &nl);
    double *ms = gnums(&g, "cfg.mrope_section", &nm);
    c.short_factor = sf;
    c.n_short_factor = ns;
    c.long_factor = lf;
    c.n_long_factor = nl;
    if (ms && nm == 3) {
        c.n_mrope_section = 3;
        for (int p = 0; p < 3; p++) c.mrope_section[p] = (int64_t)ms[p];
    }
    int64_t seq_len = (int64_t)gnum(&g, "seq_len", 0);
    const char *style = gstr(&g, "style");
    int interleaved = style && strcmp(style, "complex") == 0;

    rope_freqs f;
    rope_status st = rope_freqs_compute(&c, seq_len, &f);
    CHECK_MSG(st == ROPE_OK, "%s: rope_freqs_compute: %s", name, rope_strerror(st));
    int64_t n_inv, n_pos, n_cos, n_sin, n_shape;
    double *inv = gnums32(&g, "inv_freq", &n_inv);
    double *pos = gnums(&g, "positions", &n_pos);
    double *hc = gnums32(&g, "cos", &n_cos);
    double *hs = gnums32(&g, "sin", &n_sin);
    double *shape = gnums(&g, "cos_shape", &n_shape);
    double af = gnum(&g, "attention_factor", NAN);
    if (st != ROPE_OK || !inv || !pos || !hc || !hs || !shape || n_shape != 2) goto done;
    int64_t P = (int64_t)shape[0], nf = (int64_t)shape[1];
    CHECK_EQ_INT(f.rotary_dim, (int64_t)gnum(&g, "rotary_dim", -1));
    CHECK_EQ_INT(f.n_freqs, n_inv);
    CHECK(nf == n_inv && P == n_pos && n_cos == P * nf && n_sin == P * nf);
    if (f.n_freqs != n_inv || nf != n_inv || P != n_pos || n_cos != P * nf || n_sin != P * nf) goto done;
    sm->n = (int)nf;

    /* frequencies */
    for (int64_t i = 0; i < nf; i++) {
        double u32 = fabs((double)f.inv_freq_f32[i] - inv[i]) / ulp32(inv[i]);
        double u64 = fabs(f.inv_freq[i] - inv[i]) / ulp32(inv[i]);
        sm->inv32_equal += f.inv_freq_f32[i] == (float)inv[i];
        if (u32 > sm->inv32_max_ulp) sm->inv32_max_ulp = u32;
        if (u64 > sm->inv64_max_ulp) sm->inv64_max_ulp = u64;
    }
    CHECK_MSG(sm->inv32_max_ulp <= 1.0, "%s: inv_freq_f32 %.2f ulp from HF", name, sm->inv32_max_ulp);
    CHECK_MSG(sm->inv64_max_ulp <= 8.0, "%s: inv_freq %.2f ulp from HF", name, sm->inv64_max_ulp);
    CHECK_MSG(fabs(f.attention_factor - af) <= 1e-12, "%s: attention factor %.17g vs HF %.17g", name,
              f.attention_factor, af);
    double smf = gnum(&g, "softmax_scale_factor", NAN);
    if (!isnan(smf))
        CHECK_MSG(fabs(f.softmax_scale_factor - smf) <= 1e-12, "%s: softmax factor %.17g vs %.17g",
                  name, f.softmax_scale_factor, smf);
    else
        CHECK(f.softmax_scale_factor == 1.0);

    int64_t *ipos = malloc((size_t)P * sizeof *ipos);
    float *cc = malloc((size_t)(P * nf) * sizeof(float) * 6);
    if (!ipos || !cc) {
        free(ipos);
        free(cc);
        goto done;
    }
    float *ss = cc + P * nf, *c2 = ss + P * nf, *s2 = c2 + P * nf, *ca = s2 + P * nf, *sa = ca + P * nf;
    for (int64_t r = 0; r < P; r++) ipos[r] = (int64_t)pos[r];
    const float afc = (float)af;

    /* compat, θ = HF's float32 inv_freq: the table arithmetic alone */
    rope_freqs fh = f;
    for (int64_t i = 0; i < nf; i++) fh.inv_freq_f32[i] = (float)inv[i];
    CHECK_OK(rope_cos_sin(&fh, ipos, 0, P, ROPE_PRECISION_COMPAT_F32, cc, ss));
    /* compat with our own θ32, and accurate */
    CHECK_OK(rope_cos_sin(&f, ipos, 0, P, ROPE_PRECISION_COMPAT_F32, c2, s2));
    CHECK_OK(rope_cos_sin(&f, ipos, 0, P, ROPE_PRECISION_ACCURATE, ca, sa));
    int bad_c = 0, bad_o = 0, bad_a = 0;
    for (int64_t r = 0; r < P; r++)
        for (int64_t i = 0; i < nf; i++) {
            int64_t k = r * nf + i;
            for (int w = 0; w < 2; w++) {
                double want = w ? hs[k] : hc[k];
                float mine = (w ? ss[k] : cc[k]) * afc;
                double u = fabs((double)mine - want) / ulp32(want);
                if (u > sm->compat_max_ulp) sm->compat_max_ulp = u;
                if (u > 2.0) bad_c++;
                float own = (w ? s2[k] : c2[k]) * afc;
                /* a different θ32 moves the float32 angle by pos·Δθ plus up to
                 * one rounding of the angle */
                double dtheta = fabs((double)f.inv_freq_f32[i] - inv[i]);
                double own_angle = (double)(float)(f.inv_freq_f32[i] * (float)pos[r]);
                if (fabs((double)own - want) >
                    2.0 * ulp32(want) + af * (pos[r] * dtheta + (dtheta > 0 ? ulp32(own_angle) : 0)))
                    bad_o++;
                float acc = (w ? sa[k] : ca[k]) * afc;
                double angle = (double)(float)((float)inv[i] * (float)pos[r]);
                double bound = af * (pos[r] * fabs(f.inv_freq[i] - inv[i]) + 0.5 * ulp32(angle)) +
                               3.0 * ulp32(want);
                double e = fabs((double)acc - want);
                if (e > sm->acc_max_abs) sm->acc_max_abs = e;
                if (e / bound > sm->acc_max_ratio) sm->acc_max_ratio = e / bound;
                if (e > bound) bad_a++;
            }
        }
    CHECK_MSG(bad_c == 0, "%s: %d compat entries > 2 ulp from HF", name, bad_c);
    CHECK_MSG(bad_o == 0, "%s: %d compat(own θ32) entries outside bound", name, bad_o);
    CHECK_MSG(bad_a == 0, "%s: %d accurate entries outside HF's float32 error budget", name, bad_a);

    /* M-RoPE: text tokens (t = h = w) above; an image-like grid here */
    if (c.n_mrope_section == 3) {
        int64_t nt, nct, nst;
        double *thw = gnums(&g, "thw", &nt);
        double *ct = gnums32(&g, "cos_thw", &nct);
        double *stt = gnums32(&g, "sin_thw", &nst);
        CHECK(thw && nt == 3 * P && ct && nct == P * nf && stt && nst == P * nf);
        if (thw && nt == 3 * P && ct && nct == P * nf && stt && nst == P * nf) {
            int64_t *it = malloc((size_t)(3 * P) * sizeof *it);
            rope_table *tm = NULL;
            if (it) {
                for (int64_t j = 0; j < 3 * P; j++) it[j] = (int64_t)thw[j];
                CHECK_OK(rope_table_create_mrope(&fh, it, P, ROPE_PRECISION_COMPAT_F32, &tm));
            }
            if (tm) {
                int bad = 0;
                for (int64_t k = 0; k < P * nf; k++) {
                    if (fabs((double)(rope_table_cos(tm)[k] * afc) - ct[k]) > 2 * ulp32(ct[k])) bad++;
                    if (fabs((double)(rope_table_sin(tm)[k] * afc) - stt[k]) > 2 * ulp32(stt[k])) bad++;
                }
                CHECK_MSG(bad == 0, "%s: %d M-RoPE grid entries > 2 ulp", name, bad);
            }
            rope_table_free(tm);
            free(it);
        }
        free(thw);
        free(ct);
        free(stt);
    }

    /* M-RoPE applies with the grid (t, h, w) rows; every other style with the plain rows */
    const float *ac = cc, *as = ss;
    float *grid = NULL;
    if (c.n_mrope_section == 3) {
        int64_t nt;
        double *thw = gnums(&g, "thw", &nt);
        grid = malloc((size_t)(2 * P * nf) * sizeof(float));
        rope_table *tm = NULL;
        if (thw && nt == 3 * P && grid) {
            int64_t *it = malloc((size_t)(3 * P) * sizeof *it);
            for (int64_t j = 0; it && j < 3 * P; j++) it[j] = (int64_t)thw[j];
            if (it) CHECK_OK(rope_table_create_mrope(&fh, it, P, ROPE_PRECISION_COMPAT_F32, &tm));
            free(it);
        }
        if (tm) {
            memcpy(grid, rope_table_cos(tm), (size_t)(P * nf) * sizeof(float));
            memcpy(grid + P * nf, rope_table_sin(tm), (size_t)(P * nf) * sizeof(float));
            ac = grid;
            as = grid + P * nf;
        }
        rope_table_free(tm);
        free(thw);
    }

    /* apply_rotary_pos_emb / apply_rotary_emb on q (2 heads) and k (1 head),
     * layout (batch, heads, seq, head_dim), rows `apply_rows` of the call */
    {
        int64_t nr, nqs, nq, nqo, nks, nk, nko;
        double *rows = gnums(&g, "apply_rows", &nr);
        double *qs = gnums(&g, "q_shape", &nqs), *q = gnums32(&g, "q", &nq), *qo = gnums32(&g, "q_out", &nqo);
        double *ks = gnums(&g, "k_shape", &nks), *k = gnums32(&g, "k", &nk), *ko = gnums32(&g, "k_out", &nko);
        int ok = rows && qs && nqs == 4 && q && qo && ks && nks == 4 && k && ko;
        CHECK_MSG(ok, "%s: apply vectors missing", name);
        if (ok) {
            int64_t D = (int64_t)qs[3], S = (int64_t)qs[2];
            CHECK(nr == S && nq == 2 * S * D && nqo == nq && nk == S * D && nko == nk);
            const double *xs[2] = {q, k}, *ys[2] = {qo, ko};
            int64_t heads[2] = {2, 1};
            float x[ROPE_MAX_HEAD_DIM], y[ROPE_MAX_HEAD_DIM], w[ROPE_MAX_HEAD_DIM];
            int bad = 0;
            for (int t = 0; t < 2 && nr == S; t++)
                for (int64_t h = 0; h < heads[t]; h++)
                    for (int64_t s = 0; s < S; s++) {
                        int64_t row = (int64_t)rows[s], off = (h * S + s) * D;
                        if (row < 0 || row >= P) {
                            bad++;
                            continue;
                        }
                        for (int64_t d = 0; d < D; d++) {
                            x[d] = (float)xs[t][off + d];
                            w[d] = (float)ys[t][off + d];
                        }
                        ref_rotate(x, y, D, f.rotary_dim, ac + row * nf, as + row * nf, afc, interleaved);
                        bad += apply_close(y, w, x, D, f.rotary_dim, interleaved, &sm->apply_max);
                    }
            CHECK_MSG(bad == 0, "%s: %d apply outputs differ from HF", name, bad);

            /* the library's rope_apply on the same data: a table of the applied
             * rows (compat precision, HF's θ), token s uses row s, q and k as
             * (batch, heads, seq, head_dim) views, HF's attention factor */
            rope_table *tab = NULL;
            int64_t *rp = malloc((size_t)(3 * S) * sizeof *rp);
            if (rp && nr == S) {
                if (c.n_mrope_section == 3) {
                    int64_t nt;
                    double *thw = gnums(&g, "thw", &nt);
                    for (int64_t pl = 0; thw && nt == 3 * P && pl < 3; pl++)
                        for (int64_t s = 0; s < S; s++) rp[pl * S + s] = (int64_t)thw[pl * P + (int64_t)rows[s]];
                    if (thw && nt == 3 * P)
                        CHECK_OK(rope_table_create_mrope(&fh, rp, S, ROPE_PRECISION_COMPAT_F32, &tab));
                    free(thw);
                } else {
                    for (int64_t s = 0; s < S; s++) rp[s] = ipos[(int64_t)rows[s]];
                    CHECK_OK(rope_table_create_at(&fh, rp, S, ROPE_PRECISION_COMPAT_F32, &tab));
                }
            }
            if (tab) {
                int64_t ids[64];
                for (int64_t s = 0; s < S && s < 64; s++) ids[s] = s;
                rope_apply_params ap;
                rope_apply_params_init(&ap);
                ap.style = interleaved ? ROPE_STYLE_INTERLEAVED : ROPE_STYLE_HALF;
                ap.table = tab;
                ap.rotary_dim = f.rotary_dim;
                ap.attention_factor = afc;
                rope_positions rpos = {0};
                rpos.ids = ids;
                int bad_lib = 0;
                for (int t = 0; t < 2; t++) {
                    int64_t H = heads[t], cnt = H * S * D;
                    float *xin = malloc((size_t)cnt * sizeof(float) * 2);
                    if (!xin) continue;
                    float *xout = xin + cnt;
                    for (int64_t j = 0; j < cnt; j++) xin[j] = (float)xs[t][j];
                    rope_tensor ti = {xin, ROPE_F32, {1, S, H, D}, {H * S * D, D, S * D, 1}};
                    rope_tensor to = {xout, ROPE_F32, {1, S, H, D}, {H * S * D, D, S * D, 1}};
                    rope_status ast = rope_apply(&ap, &rpos, &ti, &to);
                    CHECK_MSG(ast == ROPE_OK, "%s: rope_apply: %s", name, rope_strerror(ast));
                    for (int64_t j = 0; ast == ROPE_OK && j < cnt; j += D) {
                        float wv[ROPE_MAX_HEAD_DIM];
                        for (int64_t d = 0; d < D; d++) wv[d] = (float)ys[t][j + d];
                        bad_lib += apply_close(xout + j, wv, xin + j, D, f.rotary_dim, interleaved,
                                               &sm->lib_apply_max);
                    }
                    free(xin);
                }
                CHECK_MSG(bad_lib == 0, "%s: %d rope_apply outputs differ from HF", name, bad_lib);
                rope_table_free(tab);
            }
            free(rp);
        }
        free(rows);
        free(qs);
        free(q);
        free(qo);
        free(ks);
        free(k);
        free(ko);
    }
    free(grid);

    /* Meta's reference: freqs_cis = polar(1, RN32(t·θ32)); apply_rotary_emb
     * interleaved, layout (batch, seq, heads, head_dim) */
    if (gstr(&g, "meta_cos")) {
        int64_t nmc, nms;
        double *mc = gnums32(&g, "meta_cos", &nmc), *msn = gnums32(&g, "meta_sin", &nms);
        CHECK(mc && msn && nmc == P * nf && nms == P * nf);
        int bad = 0;
        for (int64_t kk = 0; mc && msn && nmc == P * nf && nms == P * nf && kk < P * nf; kk++) {
            double u1 = fabs((double)cc[kk] - mc[kk]) / ulp32(mc[kk]);
            double u2 = fabs((double)ss[kk] - msn[kk]) / ulp32(msn[kk]);
            if (sm->meta_max_ulp < 0) sm->meta_max_ulp = 0;
            if (u1 > sm->meta_max_ulp) sm->meta_max_ulp = u1;
            if (u2 > sm->meta_max_ulp) sm->meta_max_ulp = u2;
            if (u1 > 2 || u2 > 2) bad++;
        }
        CHECK_MSG(bad == 0, "%s: %d Meta freqs_cis entries > 2 ulp", name, bad);
        int64_t nq, nqo, nk, nko, nr;
        double *rows = gnums(&g, "apply_rows", &nr);
        double *q = gnums32(&g, "meta_q", &nq), *qo = gnums32(&g, "meta_q_out", &nqo);
        double *k = gnums32(&g, "meta_k", &nk), *ko = gnums32(&g, "meta_k_out", &nko);
        int64_t D = f.head_dim, S = nr;
        int ok = rows && q && qo && k && ko && nq == S * 2 * D && nk == S * D && nqo == nq && nko == nk;
        CHECK_MSG(ok, "%s: Meta apply vectors malformed", name);
        float x[ROPE_MAX_HEAD_DIM], y[ROPE_MAX_HEAD_DIM], w[ROPE_MAX_HEAD_DIM];
        int badm = 0;
        const double *xs[2] = {q, k}, *ys[2] = {qo, ko};
        int64_t heads[2] = {2, 1};
        for (int t = 0; ok && t < 2; t++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t h = 0; h < heads[t]; h++) {
                    int64_t row = (int64_t)rows[s], off = (s * heads[t] + h) * D;
                    for (int64_t d = 0; d < D; d++) {
                        x[d] = (float)xs[t][off + d];
                        w[d] = (float)ys[t][off + d];
                    }
                    ref_rotate(x, y, D, f.rotary_dim, cc + row * nf, ss + row * nf, 1.0f, 1);
                    badm += apply_close(y, w, x, D, f.rotary_dim, 1, &sm->meta_apply_max);
                }
        CHECK_MSG(badm == 0, "%s: %d Meta apply outputs differ", name, badm);
        free(mc);
        free(msn);
        free(rows);
        free(q);
        free(qo);
        free(k);
        free(ko);
    }
    free(ipos);
    free(cc);
done:
    free(sf);
    free(lf);
    free(ms);
    free(inv);
    free(pos);
    free(hc);
    free(hs);
    free(shape);
    golden_free(&g);
}

int main(void) {
    FILE *fp = fopen("golden/cases.txt", "r");
    CHECK_MSG(fp != NULL, "golden/cases.txt missing (run from tests/)");
    if (!fp) return check_report("test_golden");
    char name[128];
    int n = 0;
    printf("%-24s %4s %8s %7s %7s %7s %9s %7s %8s %8s %8s\n", "case", "n", "θ32==HF", "θ32ulp",
           "θ64ulp", "cmp_ulp", "acc|Δ|", "acc/bud", "meta_ulp", "app/bnd", "lib/bnd");
    while (fscanf(fp, "%127s", name) == 1) {
        summary sm;
        run_case(name, &sm);
        char meta[32];
        if (sm.meta_max_ulp < 0)
            snprintf(meta, sizeof meta, "-");
        else
            snprintf(meta, sizeof meta, "%.2f", sm.meta_max_ulp);
        printf("%-24s %4d %5d/%-3d %7.2f %7.2f %7.2f %9.2e %7.3f %8s %8.3f %8.3f\n", name, sm.n,
               sm.inv32_equal, sm.n, sm.inv32_max_ulp, sm.inv64_max_ulp, sm.compat_max_ulp,
               sm.acc_max_abs, sm.acc_max_ratio, meta, sm.apply_max, sm.lib_apply_max);
        n++;
    }
    fclose(fp);
    CHECK_MSG(n >= 10, "only %d golden cases", n);
    return check_report("test_golden");
}
