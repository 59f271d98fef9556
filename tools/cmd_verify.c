/*
 * rope verify CONFIG.json (--cos C.npy --sin S.npy | --freqs-cis F.npy | --q-in Q.npy --q-out Q2.npy
 *             [--k-in K.npy --k-out K2.npy]) [--positions P] [--layout bshd|bhsd] [--seq-len N]
 *             [--tol T] [--style half|interleaved] [--layer N | --layer-type T] [--json]
 *             [--plot FILE.png|.svg|.pdf]
 *
 * Tells another engine whether its RoPE is right for a model and, if not, which classic fault
 * the data fits (tools/lib/verify.c does the analysis; docs/verify.md explains it).
 * Exit status: 0 right, 1 wrong (a fault or unexplained), 2 usage or input error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "config_json.h"
#include "npy.h"
#include "rope.h"
#include "verify.h"
#ifdef ROPE_HAVE_CAIRO
#include "plot.h"
#endif

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope verify CONFIG.json EVIDENCE [options]\n"
            "\n"
            "Is another engine's RoPE right for this model? Compares what the engine produced with\n"
            "librope's truth (float64-accurate and Hugging Face float32 tables) and, when it is\n"
            "wrong, tests the classic faults against the data and names the one it fits.\n"
            "\n"
            "EVIDENCE, one of:\n"
            "  --cos C.npy --sin S.npy   the engine's cos and sin tables (float32/float16), shape\n"
            "                            [..., W]: W = R/2, or R with halves duplicated (HF\n"
            "                            cat(freqs, freqs)) or each value twice (repeat_interleave);\n"
            "                            leading dims are rows (one per position)\n"
            "  --freqs-cis F.npy         complex64 [..., R/2] or float32 [..., R/2, 2] (Meta)\n"
            "  --q-in Q.npy --q-out Q2.npy [--k-in K.npy --k-out K2.npy]\n"
            "                            vectors before and after the engine's RoPE (float32/float16,\n"
            "                            (batch, seq, heads, head_dim) or 3-D (seq, heads, head_dim))\n"
            "options:\n"
            "  --positions P   comma list or .npy (int64/int32): the position of each table row, or\n"
            "                  of each token ((seq,) shared by the batch, or (batch, seq));\n"
            "                  default 0, 1, 2, ...\n"
            "  --layout L      bshd (default) or bhsd: the axis order of the q/k arrays\n"
            "  --seq-len N     the length the engine's call had (dynamic NTK, longrope);\n"
            "                  default max(position) + 1, as Hugging Face's forward\n"
            "  --tol T         absolute cos/sin error reported as 'exceeds from position'\n"
            "                  (default 1e-3)\n"
            "  --style S       half | interleaved: override the pairing the config implies\n"
            "  --layer N       the RoPE of layer N (per-layer models: Gemma 2/3/4 sliding vs\n"
            "                  global, NoPE layers of Llama 4 / SmolLM3 / Cohere2; a NoPE layer\n"
            "                  takes q/k pairs: they must come out unchanged)\n"
            "  --layer-type T  the RoPE of the layers of type T (e.g. sliding_attention);\n"
            "                  default: the full-attention layers' (rope inspect lists them)\n"
            "  --json          the report as JSON on stdout\n"
            "  --plot FILE     error vs position per frequency band and float32's own error:\n"
            "                  .png, .svg or .pdf (needs cairo)\n"
            "\n"
            "Faults tested: wrong convention, halves swapped (sin sign), cos/sin swapped, positions\n"
            "offset by k, wrong base, scaling missing / wrong factor / wrong type, dynamic NTK at the\n"
            "wrong length, longrope's other factor list, sliding/global RoPE swapped, partial rotary\n"
            "over the wrong dims or width (Gemma 4), bf16/f16 angle or table, attention factor\n"
            "missing or applied twice, RoPE missing on a RoPE layer or applied on a NoPE layer.\n"
            "Exit status: 0 right, 1 wrong (fault or unexplained), 2 usage or input error.\n");
}

/* A float .npy as doubles (float32, float16; complex64 as [..., 2] when allow_complex). */
static int load_floats(const char *path, npy_array *a, double **out, int allow_complex, char *err,
                       size_t errlen) {
    *out = NULL;
    if (npy_read(path, a, err, errlen) != 0) return -1;
    if (a->dtype != NPY_F32 && a->dtype != NPY_F16 && !(allow_complex && a->dtype == NPY_C64)) {
        snprintf(err, errlen, "%s: dtype %s; expected float32 or float16%s", path, npy_dtype_descr(a->dtype),
                 allow_complex ? " or complex64" : "");
        npy_free(a);
        return -1;
    }
    if (a->ndim < 1 || a->count < 1) {
        snprintf(err, errlen, "%s: empty array", path);
        npy_free(a);
        return -1;
    }
    int64_t n = a->dtype == NPY_C64 ? 2 * a->count : a->count;
    double *d = malloc((size_t)n * sizeof(double));
    if (!d) {
        snprintf(err, errlen, "%s: out of memory", path);
        npy_free(a);
        return -1;
    }
    for (int64_t k = 0; k < n; k++) {
        if (a->dtype == NPY_F16) {
            uint16_t h;
            memcpy(&h, (const char *)a->data + 2 * k, 2);
            d[k] = rope_f16_to_f32(h);
        } else {
            float v;
            memcpy(&v, (const char *)a->data + 4 * k, 4);
            d[k] = v;
        }
    }
    *out = d;
    return 0;
}

/* ------------------------------------------------------------------ plot */

#ifdef ROPE_HAVE_CAIRO
/* Max |error| against position + 1 (log-log), one line per frequency quarter, float32's own
 * error dashed, the tolerance dotted: PNG, SVG or PDF by the extension (tools/lib/plot.h). */
static int write_plot(const char *path, const verify_report *r, const char *cfg_path, char *err, size_t errlen) {
    double x[VERIFY_PLOT_BINS], tx[2], ty[2] = {r->tol, r->tol};
    for (int k = 0; k < r->n_plot; k++) x[k] = r->plot_pos[k] + 1;
    tx[0] = 1;
    tx[1] = (double)r->pos_max + 1;
    static const char *names[VERIFY_FBANDS] = {"highest quarter of frequencies", "second quarter",
                                               "third quarter", "lowest quarter"};
    plot_series s[VERIFY_FBANDS + 2];
    int n = 0;
    for (int b = 0; b < VERIFY_FBANDS; b++)
        s[n++] = (plot_series){names[b], x, r->plot_err[b], r->n_plot, plot_palette[b], PLOT_SOLID, 1};
    s[n++] = (plot_series){"HF float32 vs accurate", x, r->plot_f32, r->n_plot, PLOT_GREY, PLOT_DASHED, 0};
    s[n++] = (plot_series){"tolerance", tx, ty, 2, PLOT_INK, PLOT_DASHED, 0};
    char title[256], name[160];
    size_t k = 0; /* the path as printable ASCII (cairo wants valid UTF-8) */
    for (const char *q = cfg_path; *q && k + 1 < sizeof name; q++)
        name[k++] = (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f ? *q : '?';
    name[k] = 0;
    snprintf(title, sizeof title, "rope verify %s: %s", name,
             r->verdict == VERIFY_RIGHT ? "right" : r->verdict == VERIFY_FAULT ? "fault" : "unexplained");
    plot_chart c = {title, "position + 1", "max |cos/sin error| in the bin", 1, 1, s, n, PLOT_LEFT};
    return plot_line_chart_file(path, &c, 1100, 700, err, errlen);
}
#endif

/* ------------------------------------------------------------------ evidence */

typedef struct opts {
    const char *cfg, *cos, *sin, *cis, *qi, *qo, *ki, *ko, *pos, *layout, *seq, *tol, *style, *plot;
    const char *layer, *layer_type;
    int json;
} opts;

static int table_evidence(const opts *o, const verify_truth *t, int64_t nf_truth, verify_report *r, char *err,
                          size_t errlen) {
    npy_array a = {0}, b = {0};
    double *c = NULL, *s = NULL;
    int64_t *pos = NULL, prow = 0, pcol = 0;
    verify_decoded d = {0};
    int rc = -1;
    if (o->cis) {
        if (load_floats(o->cis, &a, &c, 1, err, errlen)) goto out;
        int64_t shape[NPY_MAX_DIMS + 1];
        int nd = a.ndim;
        memcpy(shape, a.shape, sizeof a.shape);
        if (a.dtype == NPY_C64) shape[nd++] = 2;
        if (verify_decode_cis(nd, shape, c, &d, err, errlen)) goto out;
    } else {
        if (load_floats(o->cos, &a, &c, 0, err, errlen) || load_floats(o->sin, &b, &s, 0, err, errlen)) goto out;
        if (a.ndim != b.ndim || memcmp(a.shape, b.shape, a.ndim * sizeof(int64_t))) {
            snprintf(err, errlen, "--cos and --sin have different shapes");
            goto out;
        }
        if (verify_decode_cos_sin(a.ndim, a.shape, c, s, nf_truth, &d, err, errlen)) goto out;
    }
    if (o->pos) {
        if (cli_load_positions(o->pos, &pos, &prow, &pcol, err, errlen)) goto out;
        if (prow * pcol != d.rows) {
            snprintf(err, errlen, "--positions has %lld entries for %lld table rows", (long long)(prow * pcol),
                     (long long)d.rows);
            goto out;
        }
    }
    verify_table vt = {d.rows, d.n_freqs, d.cos, d.sin, pos, d.implied_style, d.layout};
    rc = verify_run_table(t, &vt, r, err, errlen);
out:
    npy_free(&a), npy_free(&b);
    free(c), free(s), free(pos);
    verify_decoded_free(&d);
    return rc;
}

/* One q or k pair as (batch, seq, heads, D) dims and doubles. */
typedef struct qk {
    npy_array in, out;
    double *x, *y;
    int64_t b, s, h, d;
} qk;

static int load_qk(const char *pin, const char *pout, int bhsd, qk *q, char *err, size_t errlen) {
    memset(q, 0, sizeof *q);
    if (load_floats(pin, &q->in, &q->x, 0, err, errlen) || load_floats(pout, &q->out, &q->y, 0, err, errlen))
        return -1;
    if (q->in.ndim != q->out.ndim || memcmp(q->in.shape, q->out.shape, q->in.ndim * sizeof(int64_t))) {
        snprintf(err, errlen, "%s and %s have different shapes", pin, pout);
        return -1;
    }
    if (q->in.ndim != 3 && q->in.ndim != 4) {
        snprintf(err, errlen, "%s: expected 3 or 4 dims ((batch,) seq, heads, head_dim), got %d", pin, q->in.ndim);
        return -1;
    }
    const int64_t *sh = q->in.shape;
    int off = q->in.ndim == 4;
    q->b = off ? sh[0] : 1;
    q->s = bhsd ? sh[off + 1] : sh[off];
    q->h = bhsd ? sh[off] : sh[off + 1];
    q->d = sh[off + 2];
    return 0;
}

static void qk_free(qk *q) {
    npy_free(&q->in), npy_free(&q->out);
    free(q->x), free(q->y);
}

static int pairs_evidence(const opts *o, const verify_truth *t, verify_report *r, char *err, size_t errlen) {
    int bhsd = !strcmp(o->layout, "bhsd");
    qk q, k;
    memset(&k, 0, sizeof k);
    int have_k = o->ki != NULL;
    double *in = NULL, *out = NULL;
    int64_t *pos = NULL, *tokpos = NULL, prow = 0, pcol = 0;
    int rc = -1;
    if (load_qk(o->qi, o->qo, bhsd, &q, err, errlen)) goto out;
    if (have_k && load_qk(o->ki, o->ko, bhsd, &k, err, errlen)) goto out;
    if (have_k && (k.b != q.b || k.s != q.s || k.d != q.d)) {
        snprintf(err, errlen, "q and k disagree in batch, seq or head_dim");
        goto out;
    }
    int64_t B = q.b, S = q.s, Hq = q.h, Hk = have_k ? k.h : 0, D = q.d, H = Hq + Hk, T = B * S;
    in = malloc((size_t)(T * H * D) * sizeof(double));
    out = malloc((size_t)(T * H * D) * sizeof(double));
    tokpos = malloc((size_t)T * sizeof(int64_t));
    if (!in || !out || !tokpos) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int which = 0; which < 1 + have_k; which++) {
        const qk *z = which ? &k : &q;
        int64_t h0 = which ? Hq : 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t h = 0; h < z->h; h++) {
                    int64_t src = bhsd ? ((b * z->h + h) * S + s) * D : ((b * S + s) * z->h + h) * D;
                    int64_t dst = ((b * S + s) * H + h0 + h) * D;
                    memcpy(in + dst, z->x + src, (size_t)D * sizeof(double));
                    memcpy(out + dst, z->y + src, (size_t)D * sizeof(double));
                }
    }
    if (o->pos) {
        if (cli_load_positions(o->pos, &pos, &prow, &pcol, err, errlen)) goto out;
        if (pcol != S || (prow != 1 && prow != B)) {
            snprintf(err, errlen, "--positions of shape (%lld, %lld) for (batch, seq) = (%lld, %lld)",
                     (long long)prow, (long long)pcol, (long long)B, (long long)S);
            goto out;
        }
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < S; s++) tokpos[b * S + s] = pos ? pos[(prow == 1 ? 0 : b) * S + s] : s;
    double eps = (q.out.dtype == NPY_F16 || (have_k && k.out.dtype == NPY_F16)) ? 0x1p-11 : 0x1p-24;
    verify_pairs vp = {T, H, D, in, out, tokpos, eps};
    rc = verify_run_pairs(t, &vp, r, err, errlen);
out:
    qk_free(&q);
    if (have_k) qk_free(&k);
    free(in), free(out), free(pos), free(tokpos);
    return rc;
}

/* ------------------------------------------------------------------ layers */

/* The truth for --layer N / --layer-type T (default: the primary set, the full-attention
 * layers'); the model's other RoPE sets become the alternatives (sliding/global swap). */
static int pick_layer(const opts *o, const hf_config *hc, verify_truth *t, char *err, size_t errlen) {
    const rope_model *m = &hc->model;
    int set = hc->primary_set;
    if (o->layer && o->layer_type) {
        snprintf(err, errlen, "give --layer or --layer-type, not both");
        return -1;
    }
    if (o->layer) {
        int64_t L;
        if (cli_parse_i64(o->layer, &L) || L < 0) {
            snprintf(err, errlen, "--layer must be a layer index >= 0 (got '%s')", o->layer);
            return -1;
        }
        if (rope_model_layer_set(m, L, &set) != ROPE_OK) {
            snprintf(err, errlen, "--layer %lld: the model has %lld layers%s", (long long)L,
                     (long long)m->n_layers, m->n_layers ? "" : " (unknown: no num_hidden_layers)");
            return -1;
        }
    } else if (o->layer_type && rope_model_find_set(m, o->layer_type, &set) != ROPE_OK) {
        size_t len = (size_t)snprintf(err, errlen, "--layer-type '%s': the model's RoPE layer types are",
                                      o->layer_type);
        for (int i = 0; i < m->n_sets && len < errlen; i++)
            len += (size_t)snprintf(err + len, errlen - len, "%s %s", i ? "," : "", m->set_name[i]);
        return -1;
    }
    t->nope = set == ROPE_LAYER_NOPE;
    if (!t->nope) {
        t->cfg = m->set[set];
        if (m->n_sets > 1 || o->layer || o->layer_type)
            snprintf(t->layer_type, sizeof t->layer_type, "%s", m->set_name[set]);
    } else {
        t->cfg = hc->rope;
        snprintf(t->layer_type, sizeof t->layer_type, "none (NoPE)");
    }
    t->n_alt = 0;
    for (int i = 0; i < m->n_sets && t->n_alt < VERIFY_MAX_ALT; i++) {
        if (i == set) continue;
        verify_alt *a = &t->alt[t->n_alt++];
        a->cfg = m->set[i];
        snprintf(a->name, sizeof a->name, "%s", m->set_name[i]);
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

#define VERIFY_OPTS 16

/* argv -> o. 0: go on; 1: --help printed (exit 0); 2: usage error (printed). */
static int parse_args(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->layout = "bshd";
    static const char *const names[VERIFY_OPTS] = {"--cos", "--sin", "--freqs-cis", "--q-in", "--q-out",
                                                   "--k-in", "--k-out", "--positions", "--layout",
                                                   "--seq-len", "--tol", "--style", "--plot",
                                                   "--layer", "--layer-type", NULL};
    const char **slots[VERIFY_OPTS] = {&o->cos, &o->sin, &o->cis, &o->qi, &o->qo, &o->ki, &o->ko, &o->pos,
                                       &o->layout, &o->seq, &o->tol, &o->style, &o->plot, &o->layer,
                                       &o->layer_type, NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--json")) {
            o->json = 1;
            continue;
        }
        int matched = 0;
        for (int k = 0; names[k]; k++) {
            const char *v = NULL;
            int m = cli_opt(argc, argv, &i, names[k], &v);
            if (m < 0) {
                fprintf(stderr, "rope verify: %s needs a value\n", names[k]);
                return 2;
            }
            if (m > 0) {
                *slots[k] = v;
                matched = 1;
                break;
            }
        }
        if (matched) continue;
        if (argv[i][0] == '-' || o->cfg) {
            fprintf(stderr, "rope verify: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        o->cfg = argv[i];
    }
    if (!o->cfg) {
        fprintf(stderr, "rope verify: CONFIG.json is required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The options' values, checked; t gets --seq-len and --tol. 0, or 2 (message printed). */
static int check_opts(const opts *o, verify_truth *t, int *pairs_out) {
    int tables = (o->cos || o->sin) + (o->cis != NULL), pairs = o->qi || o->qo || o->ki || o->ko;
    *pairs_out = pairs;
    if (tables + pairs != 1 || (o->cos && !o->sin) || (o->sin && !o->cos) ||
        (o->cis && (o->cos || o->sin)) || (pairs && (!o->qi || !o->qo)) || (!o->ki != !o->ko)) {
        fprintf(stderr, "rope verify: give exactly one kind of evidence: --cos and --sin, --freqs-cis, or "
                        "--q-in and --q-out (with --k-in and --k-out optionally)\n");
        return 2;
    }
    if (strcmp(o->layout, "bshd") && strcmp(o->layout, "bhsd")) {
        fprintf(stderr, "rope verify: --layout must be bshd or bhsd (got '%s')\n", o->layout);
        return 2;
    }
    if (o->seq && (cli_parse_i64(o->seq, &t->seq_len) || t->seq_len < 1)) {
        fprintf(stderr, "rope verify: --seq-len must be a positive integer (got '%s')\n", o->seq);
        return 2;
    }
    if (o->tol && (cli_parse_f64(o->tol, &t->tol) || !(t->tol > 0) || !isfinite(t->tol))) {
        fprintf(stderr, "rope verify: --tol must be a positive number (got '%s')\n", o->tol);
        return 2;
    }
#ifdef ROPE_HAVE_CAIRO
    if (o->plot && !plot_format_of(o->plot)) {
        fprintf(stderr, "rope verify: --plot must end in .png, .svg or .pdf (got '%s')\n", o->plot);
        return 2;
    }
#else
    if (o->plot) {
        fprintf(stderr, "rope verify: --plot: this rope was built without cairo (Debian: libcairo2-dev)\n");
        return 2;
    }
#endif
    return 0;
}

int cmd_verify(int argc, char **argv) {
    opts o;
    int pa = parse_args(argc, argv, &o);
    if (pa) return pa == 1 ? 0 : 2;
    verify_truth t;
    memset(&t, 0, sizeof t);
    int pairs;
    if (check_opts(&o, &t, &pairs)) return 2;
    hf_config hc;
    char err[512];
    if (hf_config_load(o.cfg, &hc, err, sizeof err) != 0) {
        fprintf(stderr, "rope verify: %s\n", err);
        hf_config_free(&hc);
        return 2;
    }
    if (pick_layer(&o, &hc, &t, err, sizeof err)) {
        fprintf(stderr, "rope verify: %s\n", err);
        hf_config_free(&hc);
        return 2;
    }
    t.style = hc.style;
    if (o.style) {
        if (!strcmp(o.style, "half")) t.style = ROPE_STYLE_HALF;
        else if (!strcmp(o.style, "interleaved")) t.style = ROPE_STYLE_INTERLEAVED;
        else {
            fprintf(stderr, "rope verify: --style must be half or interleaved (got '%s')\n", o.style);
            hf_config_free(&hc);
            return 2;
        }
    }
    static verify_report r;
    rope_freqs f;
    int rc = !t.nope && rope_freqs_compute(&t.cfg, t.seq_len, &f) != ROPE_OK;
    if (rc) snprintf(err, sizeof err, "the config's frequencies cannot be computed");
    else if (pairs) rc = pairs_evidence(&o, &t, &r, err, sizeof err);
    else if (t.nope) {
        rc = 1;
        snprintf(err, sizeof err, "layer %s has no RoPE (NoPE): give q/k pairs (--q-in/--q-out), not a "
                 "table", o.layer);
    }
    else rc = table_evidence(&o, &t, f.n_freqs, &r, err, sizeof err);
    hf_config_free(&hc);
    if (rc) {
        fprintf(stderr, "rope verify: %s\n", err);
        return 2;
    }
    char *text = o.json ? verify_report_json(&r) : verify_report_text(&r);
    if (!text) {
        fprintf(stderr, "rope verify: out of memory\n");
        return 2;
    }
    fputs(text, stdout);
    verify_string_free(text);
#ifdef ROPE_HAVE_CAIRO
    if (o.plot && write_plot(o.plot, &r, o.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "rope verify: --plot %s: %s\n", o.plot, err);
        return 2;
    }
#endif
    return r.verdict == VERIFY_RIGHT ? 0 : 1;
}
