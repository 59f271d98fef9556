/*
 * rope lab ppl|passkey: the context-extension lab (llama/lab.h).
 *
 * For every context length × scaling: the perplexity of a long text (Hugging
 * Face's strided sliding window, stride = length/2, over the same first
 * --tokens tokens at every length, so the numbers compare), or the accuracy of
 * passkey retrieval over seeded trials. The scalings are configured as a user
 * would for the longest length: factor = longest / trained context (at least
 * 1), original context = the trained one. Progress on stderr; a table (or
 * --json) on stdout; --plot FILE.svg draws one line per scaling against the
 * length, with the trained context marked.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "commands.h"
#include "gguf.h"
#include "lab.h"
#include "lab_plot.h"
#include "cli_opts.h"
#include "model.h"
#include "tokenizer.h"

#define LAB_DEFAULT_TEXT "models/kjv.txt"
#define MAX_LENGTHS 16

typedef struct lab_opts {
    int passkey;
    const char *model_path, *text_path, *plot_path;
    int64_t lengths[MAX_LENGTHS];
    int n_lengths;
    int use[LAB_N_SCALINGS];
    double factor;            /* 0 = derived */
    int64_t tokens, trials, seed, threads;
    int json;
    int truncate;             /* --protocol truncate: the first L tokens, one window */
    int tokens_set;
} lab_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope lab ppl     [--model FILE.gguf] [--text FILE|builtin] [--lengths L,L,...]\n"
            "                        [--scalings S,S,...|all] [--factor F] [--tokens N]\n"
            "                        [--protocol sliding|truncate]\n"
            "                        [--json] [--plot FILE.svg] [-t THREADS]\n"
            "       rope lab passkey [--model FILE.gguf] [--lengths L,L,...] [--scalings ...]\n"
            "                        [--factor F] [--trials K] [--seed S] [--json] [--plot FILE.svg]\n"
            "       rope lab merge   RUN.json [RUN.json ...] [--json] [--plot FILE.svg]\n"
            "\n"
            "What each RoPE scaling does to a model past its trained context.\n"
            "  ppl      perplexity of a text at each context length (strided sliding window,\n"
            "           stride = length/2, the same first N tokens scored at every length)\n"
            "  passkey  retrieval of a 5-digit number hidden at a random depth in filler text\n"
            "           (accuracy over K seeded trials, greedy answer)\n"
            "  merge    one table / JSON / plot from the --json of several runs (same model,\n"
            "           factor, text and protocol; e.g. scalings run in separate processes)\n"
            "\n"
            "  --model FILE      default: %s\n"
            "  --text FILE       UTF-8 text (default: %s from `make deps`, the King\n"
            "                    James Bible); builtin = Genesis 1 (short, for quick runs)\n"
            "  --lengths L,...   context lengths in tokens (default 2048,4096,8192,16384,32768)\n"
            "  --scalings S,...  none, linear, ntk (static NTK-aware base), dynamic (NTK),\n"
            "                    yarn, llama3, or all (default all)\n"
            "  --factor F        scaling factor (default: longest length / trained context, at\n"
            "                    least 1; at 1 every scaling equals none and only none runs)\n"
            "  --tokens N|all    ppl: the first N tokens of the text are scored at every length\n"
            "                    (default: the longest length; all = the whole text)\n"
            "  --protocol P      ppl: sliding (default; the above) or truncate (the YaRN paper's:\n"
            "                    the perplexity of the first L tokens, one window of L; one\n"
            "                    window of the longest length gives every length, except for\n"
            "                    dynamic, whose RoPE follows the window length)\n"
            "  --trials K        passkey: trials per length and scaling (default 10)\n"
            "  --seed S          passkey: seed of the keys and depths (default 1)\n"
            "  --json            JSON on stdout instead of the table\n"
            "  --plot FILE.svg   the curves, one line per scaling, the trained context marked\n"
            "  -t THREADS        threads (default: the CPUs, at most 16)\n",
            LLAMA_DEFAULT_MODEL, LAB_DEFAULT_TEXT);
}

static int parse_lengths(const char *s, lab_opts *o) {
    int64_t *v = NULL, n = 0;
    char why[200];
    if (cli_parse_positions(s, &v, &n, MAX_LENGTHS, why, sizeof why) != 0) return -1;
    int ok = n >= 1;
    for (int64_t i = 0; ok && i < n; i++) {
        ok = v[i] >= 16 && v[i] <= (1 << 20) && (i == 0 || v[i] > v[i - 1]);
        o->lengths[i] = v[i];
    }
    o->n_lengths = (int)n;
    free(v);
    return ok ? 0 : -1;
}

static int parse_scalings(const char *s, lab_opts *o) {
    memset(o->use, 0, sizeof o->use);
    if (!strcmp(s, "all")) {
        for (int i = 0; i < LAB_N_SCALINGS; i++) o->use[i] = 1;
        return 0;
    }
    char buf[256];
    if (strlen(s) >= sizeof buf || !*s) return -1;
    strcpy(buf, s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int k = lab_scaling_from_name(tok);
        if (k < 0) return -1;
        o->use[k] = 1;
    }
    return 0;
}

/* Options; 0 ok, 1 help printed, 2 usage error (message printed). */
static int parse_args(int argc, char **argv, lab_opts *o) {
    const char *val = NULL;
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        int r;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(opt, "--json")) {
            o->json = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--model", &val)) != 0) {
            if (r < 0) goto missing;
            o->model_path = val;
        } else if ((r = cli_opt(argc, argv, &i, "--text", &val)) != 0) {
            if (r < 0 || o->passkey) goto bad;
            o->text_path = val;
        } else if ((r = cli_opt(argc, argv, &i, "--plot", &val)) != 0) {
            if (r < 0 || !cli_ends_with(val, ".svg")) goto bad;
            o->plot_path = val;
        } else if ((r = cli_opt(argc, argv, &i, "--lengths", &val)) != 0) {
            if (r < 0 || parse_lengths(val, o) != 0) goto bad;
        } else if ((r = cli_opt(argc, argv, &i, "--scalings", &val)) != 0) {
            if (r < 0 || parse_scalings(val, o) != 0) goto bad;
        } else if ((r = cli_opt(argc, argv, &i, "--factor", &val)) != 0) {
            if (r < 0 || cli_parse_f64(val, &o->factor) || !(o->factor >= 1.0) || o->factor > 1e6)
                goto bad;
        } else if ((r = cli_opt(argc, argv, &i, "--tokens", &val)) != 0) {
            if (r < 0 || o->passkey) goto bad;
            if (!strcmp(val, "all")) o->tokens = -1;
            else if (cli_parse_i64(val, &o->tokens) || o->tokens < 16) goto bad;
            o->tokens_set = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--protocol", &val)) != 0) {
            if (r < 0 || o->passkey || (strcmp(val, "sliding") && strcmp(val, "truncate"))) goto bad;
            o->truncate = !strcmp(val, "truncate");
        } else if ((r = cli_opt(argc, argv, &i, "--trials", &val)) != 0) {
            if (r < 0 || !o->passkey || cli_parse_i64(val, &o->trials) || o->trials < 1 ||
                o->trials > 100000)
                goto bad;
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &val)) != 0) {
            if (r < 0 || !o->passkey || cli_parse_i64(val, &o->seed) || o->seed < 0) goto bad;
        } else if ((r = cli_opt(argc, argv, &i, "-t", &val)) != 0) {
            if (r < 0 || cli_parse_i64(val, &o->threads) || o->threads < 1 || o->threads > 256)
                goto bad;
        } else {
            fprintf(stderr, "rope lab: unknown argument '%s'\n", opt);
            usage(stderr);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "rope lab: %s needs a value\n", opt);
        return 2;
    bad:
        fprintf(stderr, "rope lab: bad value for %s\n", opt);
        return 2;
    }
    return 0;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            char *nb = cap <= ((size_t)1 << 30) ? realloc(buf, cap) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void progress(void *ctx, const char *line) {
    fprintf(stderr, "  %s: %s\n", (const char *)ctx, line);
}

/* One row of results: a scaling at a length. */
typedef struct lab_cell {
    int scaling;
    int64_t length;
    double value;      /* ppl, or passkey accuracy */
    double nll;
    int64_t scored, windows, correct, trials, stride;
    double seconds;
} lab_cell;

typedef struct lab_run {
    lab_opts o;
    llama_model *m;
    tokenizer *tok;
    int32_t bos;              /* -1 when the model wants none */
    double factor;
    lab_cell *cells;
    int n_cells;
    /* passkey: per-trial details for --json */
    FILE *trials_json;        /* memstream */
    char *trials_buf;
    size_t trials_len;
    int64_t n_trials_json;
    int64_t n_text_tokens;
    int64_t trained;          /* the model's trained context */
} lab_run;

static int make_session(lab_run *R, int sc, int64_t length, llama_session **s, float **logits,
                        char *err, size_t errlen) {
    const llama_config *c = &R->m->cfg;
    rope_config rc;
    if (lab_scaling_config(&c->rope, c->rotary_dim, c->context_length, (lab_scaling)sc,
                           R->factor, &rc, err, errlen) != 0)
        return -1;
    llama_session_opts so;
    llama_session_opts_init(&so);
    so.prefill_f32 = 1; /* float32 activations: the float32 path's perplexity */
    so.n_ctx = length;
    so.rope = &rc;
    so.freqs_seq_len = length; /* dynamic NTK: the base follows the window */
    so.n_threads = (int)R->o.threads;
    /* logits of a whole batch: keep them near 64 MB for large vocabularies */
    int64_t B = (16 << 20) / c->vocab_size;
    so.max_batch = B < 16 ? 16 : B > 256 ? 256 : B;
    if (llama_session_create(R->m, &so, s, err, errlen) != 0) return -1;
    *logits = malloc((size_t)llama_session_max_batch(*s) * (size_t)c->vocab_size * sizeof(float));
    if (!*logits) {
        llama_session_free(*s);
        *s = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static lab_cell *add_cell(lab_run *R, int sc, int64_t L, const lab_ppl_result *res) {
    lab_cell *c = &R->cells[R->n_cells++];
    memset(c, 0, sizeof *c);
    c->scaling = sc;
    c->length = L;
    c->nll = res->nll;
    c->scored = res->n_scored;
    c->windows = res->n_windows;
    c->seconds = res->seconds;
    c->value = exp(res->nll / (double)res->n_scored);
    const int64_t text_win = R->bos >= 0 ? L - 1 : L;
    c->stride = R->o.truncate ? text_win : text_win / 2;
    return c;
}

/* --protocol truncate: per scaling, one window of the longest length gives
 * every length (lab_ppl_prefixes); dynamic NTK gets a window per length. */
static int run_ppl_truncate(lab_run *R, const int32_t *ids, int64_t n, char *err, size_t errlen) {
    const int k = R->o.n_lengths;
    for (int sc = 0; sc < LAB_N_SCALINGS; sc++) {
        if (!R->o.use[sc]) continue;
        const int per_length = sc == LAB_DYNAMIC;
        for (int li = per_length ? 0 : k - 1; li < k; li++) {
            const int64_t L = R->o.lengths[li];
            llama_session *s = NULL;
            float *logits = NULL;
            if (make_session(R, sc, L, &s, &logits, err, errlen) != 0) return -1;
            char tag[64];
            snprintf(tag, sizeof tag, "%s @ %s%lld", lab_scaling_name((lab_scaling)sc),
                     per_length ? "" : "<= ", (long long)L);
            fprintf(stderr, "rope lab ppl: %s ...\n", tag);
            lab_ppl_result res[MAX_LENGTHS];
            const int64_t *lens = per_length ? &R->o.lengths[li] : R->o.lengths;
            const int nl = per_length ? 1 : k;
            int rc = lab_ppl_prefixes(s, ids, n, lens, nl, R->bos, logits, progress, tag, res,
                                      err, errlen);
            llama_session_free(s);
            free(logits);
            if (rc != 0) return -1;
            for (int j = 0; j < nl; j++) {
                const lab_cell *c = add_cell(R, sc, lens[j], &res[j]);
                fprintf(stderr, "rope lab ppl: %s @ %lld: ppl %.4f over %lld tokens (%.1f s)\n",
                        lab_scaling_name((lab_scaling)sc), (long long)c->length, c->value,
                        (long long)c->scored, c->seconds);
            }
        }
    }
    return 0;
}

static int run_ppl(lab_run *R, const int32_t *ids, int64_t n, char *err, size_t errlen) {
    if (R->o.truncate) return run_ppl_truncate(R, ids, n, err, errlen);
    for (int li = 0; li < R->o.n_lengths; li++) {
        const int64_t L = R->o.lengths[li];
        for (int sc = 0; sc < LAB_N_SCALINGS; sc++) {
            if (!R->o.use[sc]) continue;
            llama_session *s = NULL;
            float *logits = NULL;
            if (make_session(R, sc, L, &s, &logits, err, errlen) != 0) return -1;
            char tag[64];
            snprintf(tag, sizeof tag, "%s @ %lld", lab_scaling_name((lab_scaling)sc), (long long)L);
            fprintf(stderr, "rope lab ppl: %s ...\n", tag);
            lab_ppl_result res;
            const int64_t text_win = R->bos >= 0 ? L - 1 : L;
            int rc = lab_ppl(s, ids, n, L, text_win / 2, R->bos, logits, progress, tag, &res, err,
                             errlen);
            llama_session_free(s);
            free(logits);
            if (rc != 0) return -1;
            const lab_cell *c = add_cell(R, sc, L, &res);
            fprintf(stderr, "rope lab ppl: %s: ppl %.4f over %lld tokens, %lld windows (%.1f s)\n",
                    tag, c->value, (long long)c->scored, (long long)c->windows, c->seconds);
        }
    }
    return 0;
}

static int run_passkey(lab_run *R, char *err, size_t errlen) {
    for (int li = 0; li < R->o.n_lengths; li++) {
        const int64_t L = R->o.lengths[li];
        for (int sc = 0; sc < LAB_N_SCALINGS; sc++) {
            if (!R->o.use[sc]) continue;
            llama_session *s = NULL;
            float *logits = NULL;
            if (make_session(R, sc, L, &s, &logits, err, errlen) != 0) return -1;
            lab_cell *c = &R->cells[R->n_cells++];
            memset(c, 0, sizeof *c);
            c->scaling = sc;
            c->length = L;
            /* the same keys and depths for every scaling at this length */
            lab_rng rng;
            lab_rng_seed(&rng, (uint64_t)R->o.seed * 1000003u + (uint64_t)L);
            int rc = 0;
            for (int64_t t = 0; rc == 0 && t < R->o.trials; t++) {
                const int key = 10000 + (int)(lab_rng_uniform(&rng) * 90000.0);
                const double depth = lab_rng_uniform(&rng);
                lab_passkey_prompt p = {0};
                char answer[96];
                int ok = 0;
                rc = lab_passkey_build(R->tok, L, R->bos, key, depth, &p, err, errlen);
                if (rc == 0) rc = lab_passkey_run(s, R->tok, &p, logits, &ok, answer, sizeof answer,
                                                  err, errlen);
                if (rc == 0) {
                    c->correct += ok;
                    c->trials++;
                    fprintf(stderr, "rope lab passkey: %s @ %lld: trial %lld: key %d at depth "
                                    "%lld/%lld -> \"%s\" %s\n",
                            lab_scaling_name((lab_scaling)sc), (long long)L, (long long)t + 1, key,
                            (long long)p.depth, (long long)p.n_filler, answer, ok ? "ok" : "WRONG");
                    if (R->trials_json) {
                        fprintf(R->trials_json, "%s{\"scaling\":\"%s\",\"length\":%lld,\"key\":%d,"
                                                "\"depth\":%lld,\"n_filler\":%lld,\"tokens\":%lld,"
                                                "\"answer\":",
                                R->n_trials_json++ ? "," : "", lab_scaling_name((lab_scaling)sc),
                                (long long)L, key, (long long)p.depth, (long long)p.n_filler,
                                (long long)p.n);
                        cli_json_str(R->trials_json, answer);
                        fprintf(R->trials_json, ",\"correct\":%s}", ok ? "true" : "false");
                    }
                }
                lab_passkey_free(&p);
            }
            llama_session_free(s);
            free(logits);
            if (rc != 0) return -1;
            c->value = (double)c->correct / (double)c->trials;
        }
    }
    return 0;
}

static const lab_cell *find_cell(const lab_run *R, int sc, int64_t L) {
    for (int k = 0; k < R->n_cells; k++)
        if (R->cells[k].scaling == sc && R->cells[k].length == L) return &R->cells[k];
    return NULL;
}

static void print_table(const lab_run *R) {
    printf("rope lab %s: trained context %lld, factor %g%s\n", R->o.passkey ? "passkey" : "ppl",
           (long long)R->trained, R->factor,
           R->o.passkey ? " (accuracy)" : " (perplexity)");
    printf("%-8s", "length");
    for (int sc = 0; sc < LAB_N_SCALINGS; sc++)
        if (R->o.use[sc]) printf(" %10s", lab_scaling_name((lab_scaling)sc));
    printf("\n");
    for (int li = 0; li < R->o.n_lengths; li++) {
        printf("%-8lld", (long long)R->o.lengths[li]);
        for (int sc = 0; sc < LAB_N_SCALINGS; sc++) {
            if (!R->o.use[sc]) continue;
            const lab_cell *x = find_cell(R, sc, R->o.lengths[li]);
            if (!x) printf(" %10s", "-"); /* merged runs: not measured */
            else if (R->o.passkey) printf(" %9.0f%%", 100.0 * x->value);
            else printf(" %10.4f", x->value);
        }
        printf("%s\n", R->o.lengths[li] > R->trained ? "   (beyond trained)" : "");
    }
}

static void print_json(const lab_run *R) {
    printf("{\"command\":\"lab %s\",\"model\":", R->o.passkey ? "passkey" : "ppl");
    cli_json_str(stdout, R->o.model_path);
    printf(",\"trained_context\":%lld,\"factor\":", (long long)R->trained);
    cli_json_num(stdout, R->factor);
    if (!R->o.passkey) {
        printf(",\"text\":");
        cli_json_str(stdout, R->o.text_path);
        printf(",\"text_tokens\":%lld,\"tokens\":%lld,\"protocol\":\"%s\",\"stride\":\"%s\"",
               (long long)R->n_text_tokens, (long long)R->o.tokens,
               R->o.truncate ? "truncate" : "sliding", R->o.truncate ? "none" : "length/2");
    } else {
        printf(",\"trials\":%lld,\"seed\":%lld", (long long)R->o.trials, (long long)R->o.seed);
    }
    printf(",\"lengths\":[");
    for (int li = 0; li < R->o.n_lengths; li++) printf("%s%lld", li ? "," : "", (long long)R->o.lengths[li]);
    printf("],\"scalings\":[");
    for (int sc = 0, k = 0; sc < LAB_N_SCALINGS; sc++)
        if (R->o.use[sc]) printf("%s\"%s\"", k++ ? "," : "", lab_scaling_name((lab_scaling)sc));
    printf("],\"results\":[");
    for (int k = 0; k < R->n_cells; k++) {
        const lab_cell *x = &R->cells[k];
        printf("%s{\"scaling\":\"%s\",\"length\":%lld,", k ? "," : "",
               lab_scaling_name((lab_scaling)x->scaling), (long long)x->length);
        if (R->o.passkey) {
            printf("\"accuracy\":");
            cli_json_num(stdout, x->value);
            printf(",\"correct\":%lld,\"trials\":%lld}", (long long)x->correct, (long long)x->trials);
        } else {
            printf("\"ppl\":");
            cli_json_num(stdout, x->value);
            printf(",\"nll\":");
            cli_json_num(stdout, x->nll);
            printf(",\"scored\":%lld,\"windows\":%lld,\"stride\":%lld,\"seconds\":",
                   (long long)x->scored, (long long)x->windows, (long long)x->stride);
            cli_json_num(stdout, x->seconds);
            printf("}");
        }
    }
    printf("]");
    if (R->o.passkey) printf(",\"trial_details\":[%.*s]", (int)R->trials_len, R->trials_buf ? R->trials_buf : "");
    printf("}\n");
}

static int write_plot(const lab_run *R) {
    lab_plot_series series[LAB_N_SCALINGS];
    double xs[LAB_N_SCALINGS][MAX_LENGTHS], ys[LAB_N_SCALINGS][MAX_LENGTHS];
    int ns = 0;
    for (int sc = 0; sc < LAB_N_SCALINGS; sc++) {
        if (!R->o.use[sc]) continue;
        int n = 0;
        for (int k = 0; k < R->n_cells; k++)
            if (R->cells[k].scaling == sc) {
                xs[ns][n] = (double)R->cells[k].length;
                ys[ns][n] = R->o.passkey ? 100.0 * R->cells[k].value : R->cells[k].value;
                n++;
            }
        series[ns] = (lab_plot_series){lab_scaling_name((lab_scaling)sc), xs[ns], ys[ns], n};
        ns++;
    }
    char title[256];
    const char *base = strrchr(R->o.model_path, '/');
    snprintf(title, sizeof title, "%s: %s vs context length (factor %g)", base ? base + 1 : R->o.model_path,
             R->o.passkey ? "passkey accuracy" : "perplexity", R->factor);
    lab_plot_spec spec = {.title = title,
                          .ylabel = R->o.passkey ? "passkey accuracy (%)" : "perplexity (log scale)",
                          .log_y = !R->o.passkey,
                          .y_min = R->o.passkey ? 0.0 : NAN,
                          .y_max = R->o.passkey ? 100.0 : NAN,
                          .marker_x = (double)R->trained,
                          .marker_label = "trained context"};
    if (lab_plot_svg(R->o.plot_path, &spec, series, ns) != 0) {
        fprintf(stderr, "rope lab: cannot write %s\n", R->o.plot_path);
        return -1;
    }
    fprintf(stderr, "rope lab: wrote %s\n", R->o.plot_path);
    return 0;
}

/* Model, tokenizer, BOS (tokenizer.ggml.add_bos_token), factor and the
 * scalings that apply. */
static int setup(lab_run *R, char *pathbuf, size_t cap, char *err, size_t errlen) {
    lab_opts *o = &R->o;
    if (!(o->model_path = cli_model_path(o->model_path, pathbuf, cap, err, errlen))) return 2;
    if (llama_model_load(o->model_path, &R->m, err, errlen) != 0) return 2;
    gguf_file *gf = NULL;
    int st = gguf_open(o->model_path, &gf, err, errlen);
    if (st == GGUF_OK) st = tokenizer_from_gguf(gf, &R->tok, err, errlen);
    int add_bos = 0;
    if (st == GGUF_OK && gguf_get_bool(gf, "tokenizer.ggml.add_bos_token", &add_bos) != GGUF_OK)
        add_bos = 0;
    gguf_close(gf);
    if (st != GGUF_OK) return 2;
    R->bos = add_bos ? tokenizer_bos(R->tok) : -1;
    R->trained = R->m->cfg.context_length;
    const int64_t T = R->m->cfg.context_length, Lmax = o->lengths[o->n_lengths - 1];
    R->factor = o->factor > 0 ? o->factor : (Lmax > T ? (double)Lmax / (double)T : 1.0);
    if (R->factor == 1.0) {
        int others = 0;
        for (int sc = 1; sc < LAB_N_SCALINGS; sc++) others += o->use[sc];
        if (others)
            fprintf(stderr, "rope lab: factor 1 (the longest length is within the trained context "
                            "%lld): every scaling equals none, so only none runs; --factor F "
                            "forces one\n", (long long)T);
        memset(o->use, 0, sizeof o->use);
        o->use[LAB_NONE] = 1;
    }
    return 0;
}

static int tokenize_text(lab_run *R, int32_t **ids, int64_t *n, char *err, size_t errlen) {
    lab_opts *o = &R->o;
    size_t len = 0;
    char *text = NULL;
    if (!strcmp(o->text_path, "builtin")) {
        text = lab_builtin_text();
        len = text ? strlen(text) : 0;
    } else {
        text = read_text(o->text_path, &len);
    }
    if (!text) {
        snprintf(err, errlen, "cannot read %s%s", o->text_path,
                 strcmp(o->text_path, LAB_DEFAULT_TEXT) ? "" : " (run `make deps`, or --text builtin)");
        return 2;
    }
    size_t nn = 0;
    int st = tokenizer_encode(R->tok, text, len, 0, ids, &nn, err, errlen);
    free(text);
    if (st != GGUF_OK) return 1;
    R->n_text_tokens = (int64_t)nn;
    const int64_t Lmax = o->lengths[o->n_lengths - 1];
    if (o->truncate && o->tokens_set) {
        snprintf(err, errlen, "--tokens applies to --protocol sliding (truncate scores the first "
                              "L tokens at each length)");
        return 2;
    }
    if (o->tokens == 0) o->tokens = Lmax;
    if (o->tokens < 0) o->tokens = (int64_t)nn;
    if ((int64_t)nn < o->tokens) {
        snprintf(err, errlen, "%s has %zu tokens, fewer than the %lld to score (--tokens, or the "
                              "longest length)", o->text_path, nn, (long long)o->tokens);
        return 2;
    }
    if (o->tokens < Lmax) {
        snprintf(err, errlen, "--tokens %lld is shorter than the longest length %lld",
                 (long long)o->tokens, (long long)Lmax);
        return 2;
    }
    *n = o->tokens;
    return 0;
}

/* ------------------------------------------------------------ merge */

/* rope lab merge: the results of several runs (split over processes or
 * machines) in one table / JSON / plot. The runs must agree on what makes
 * their numbers comparable: command, model, trained context, factor and
 * (ppl) text and protocol, and, for the sliding protocol, the scored tokens. */
static int merge_fail(char *err, size_t errlen, const char *file, const char *what) {
    snprintf(err, errlen, "%s: %s", file, what);
    return 2;
}

/* A JSON number that converts to int64 without loss (no out-of-range cast). */
static int json_i64(const cJSON *f, int64_t *out) {
    if (!cJSON_IsNumber(f) || !(fabs(f->valuedouble) <= 9007199254740992.0) ||
        f->valuedouble != floor(f->valuedouble))
        return 0;
    *out = (int64_t)f->valuedouble;
    return 1;
}

static int json_same(const cJSON *a, const cJSON *b) {
    return (!a && !b) || (a && b && cJSON_Compare(a, b, 1));
}

static int merge_one(lab_run *R, const cJSON *d, const cJSON *first, const char *file,
                     FILE *trials, char *err, size_t errlen) {
    static const char *const same[] = {"command", "model", "trained_context", "factor", "text",
                                       "protocol", "seed"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (!json_same(cJSON_GetObjectItemCaseSensitive(d, same[i]),
                       cJSON_GetObjectItemCaseSensitive(first, same[i]))) {
            char what[96];
            snprintf(what, sizeof what, "\"%s\" differs from the first file's", same[i]);
            return merge_fail(err, errlen, file, what);
        }
    const cJSON *proto = cJSON_GetObjectItemCaseSensitive(d, "protocol");
    if (!R->o.passkey && !(cJSON_IsString(proto) && !strcmp(proto->valuestring, "truncate")) &&
        !json_same(cJSON_GetObjectItemCaseSensitive(d, "tokens"),
                   cJSON_GetObjectItemCaseSensitive(first, "tokens")))
        return merge_fail(err, errlen, file, "\"tokens\" differs (sliding protocol)");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(d, "results"), *x;
    if (!cJSON_IsArray(res)) return merge_fail(err, errlen, file, "no \"results\" array");
    cJSON_ArrayForEach(x, res) {
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(x, "scaling");
        const int k = cJSON_IsString(sc) ? lab_scaling_from_name(sc->valuestring) : -1;
        const char *names[] = {"length", R->o.passkey ? "accuracy" : "ppl", "nll", "scored",
                               "windows", "stride", "seconds", "correct", "trials"};
        double v[9] = {0};
        int64_t iv[9] = {0};
        for (int i = 0; i < 9; i++) { /* 1, 2, 6: real numbers; the others counts */
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(x, names[i]);
            const int needed = R->o.passkey ? (i < 2 || i >= 7) : i < 7, real = i == 1 || i == 2 || i == 6;
            if (!f && !needed) continue;
            if (real ? !cJSON_IsNumber(f) || !isfinite(f->valuedouble) : !json_i64(f, &iv[i]))
                return merge_fail(err, errlen, file, "bad result");
            v[i] = f->valuedouble;
        }
        const int64_t L = iv[0];
        if (k < 0 || L < 16 || L > (1 << 20) || R->n_cells >= MAX_LENGTHS * LAB_N_SCALINGS)
            return merge_fail(err, errlen, file, "bad result (scaling, length or count)");
        if (find_cell(R, k, L)) return merge_fail(err, errlen, file, "a result appears twice");
        int li = 0;
        while (li < R->o.n_lengths && R->o.lengths[li] < L) li++;
        if (li == R->o.n_lengths || R->o.lengths[li] != L) { /* a new length, kept sorted */
            if (R->o.n_lengths == MAX_LENGTHS) return merge_fail(err, errlen, file, "too many lengths");
            memmove(&R->o.lengths[li + 1], &R->o.lengths[li],
                    (size_t)(R->o.n_lengths - li) * sizeof *R->o.lengths);
            R->o.lengths[li] = L;
            R->o.n_lengths++;
        }
        R->o.use[k] = 1;
        R->cells[R->n_cells++] = (lab_cell){.scaling = k, .length = L, .value = v[1], .nll = v[2],
                                            .scored = iv[3], .windows = iv[4], .stride = iv[5],
                                            .seconds = v[6], .correct = iv[7], .trials = iv[8]};
    }
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(d, "trial_details");
    if (trials && cJSON_IsArray(td))
        cJSON_ArrayForEach(x, td) {
            char *t = cJSON_PrintUnformatted(x);
            if (!t) return merge_fail(err, errlen, file, "out of memory");
            fprintf(trials, "%s%s", R->n_trials_json++ ? "," : "", t);
            cJSON_free(t);
        }
    return 0;
}

static int cell_cmp(const void *a, const void *b) {
    const lab_cell *x = a, *y = b;
    if (x->length != y->length) return x->length < y->length ? -1 : 1;
    return (x->scaling > y->scaling) - (x->scaling < y->scaling);
}

/* Fills R from the first file's header and every file's results. */
static int merge_files(lab_run *R, char **files, int nf, cJSON **first, char *err, size_t errlen) {
    for (int i = 0; i < nf; i++) {
        size_t len = 0;
        char *text = read_text(files[i], &len);
        if (!text) return merge_fail(err, errlen, files[i], "cannot read");
        cJSON *d = cJSON_ParseWithLength(text, len);
        free(text);
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(d, "command");
        if (!cJSON_IsString(cmd) || (strcmp(cmd->valuestring, "lab ppl") &&
                                     strcmp(cmd->valuestring, "lab passkey"))) {
            cJSON_Delete(d);
            return merge_fail(err, errlen, files[i], "not the --json of rope lab ppl / passkey");
        }
        if (i == 0) {
            *first = d;
            R->o.passkey = !strcmp(cmd->valuestring, "lab passkey");
            const cJSON *f;
            if (!json_i64(cJSON_GetObjectItemCaseSensitive(d, "trained_context"), &R->trained))
                return merge_fail(err, errlen, files[i], "no trained_context");
            f = cJSON_GetObjectItemCaseSensitive(d, "factor");
            if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble))
                return merge_fail(err, errlen, files[i], "no factor");
            R->factor = f->valuedouble;
            if (!cJSON_IsString(f = cJSON_GetObjectItemCaseSensitive(d, "model")))
                return merge_fail(err, errlen, files[i], "no model");
            R->o.model_path = f->valuestring;
            if (cJSON_IsString(f = cJSON_GetObjectItemCaseSensitive(d, "text")))
                R->o.text_path = f->valuestring;
            f = cJSON_GetObjectItemCaseSensitive(d, "protocol");
            R->o.truncate = cJSON_IsString(f) && !strcmp(f->valuestring, "truncate");
            json_i64(cJSON_GetObjectItemCaseSensitive(d, "text_tokens"), &R->n_text_tokens);
            json_i64(cJSON_GetObjectItemCaseSensitive(d, "tokens"), &R->o.tokens);
            json_i64(cJSON_GetObjectItemCaseSensitive(d, "trials"), &R->o.trials);
            json_i64(cJSON_GetObjectItemCaseSensitive(d, "seed"), &R->o.seed);
            if (R->o.passkey && R->o.json && !(R->trials_json = open_memstream(&R->trials_buf, &R->trials_len)))
                return merge_fail(err, errlen, files[i], "out of memory");
        }
        int rc = merge_one(R, d, *first, files[i], R->trials_json, err, errlen);
        if (i > 0) cJSON_Delete(d);
        if (rc) return rc;
    }
    /* by length: each scaling's points in order for the plot, whatever the files' order */
    qsort(R->cells, (size_t)R->n_cells, sizeof *R->cells, cell_cmp);
    if (R->o.truncate) R->o.tokens = R->o.lengths[R->o.n_lengths - 1]; /* the longest window */
    if (R->trials_json) fflush(R->trials_json);
    return 0;
}

static int cmd_lab_merge(int argc, char **argv) {
    lab_run R;
    memset(&R, 0, sizeof R);
    char *files[64];
    int nf = 0, rc = 0;
    for (int i = 2; i < argc && rc == 0; i++) {
        if (!strcmp(argv[i], "--json")) R.o.json = 1;
        else if (!strcmp(argv[i], "--plot") && i + 1 < argc && cli_ends_with(argv[i + 1], ".svg"))
            R.o.plot_path = argv[++i];
        else if (argv[i][0] != '-' && nf < 64) files[nf++] = argv[i];
        else rc = 2;
    }
    if (rc || nf == 0) {
        fprintf(stderr, "usage: rope lab merge RUN.json [RUN.json ...] [--json] [--plot FILE.svg]\n");
        return 2;
    }
    char err[512] = "";
    cJSON *first = NULL;
    R.cells = calloc((size_t)MAX_LENGTHS * LAB_N_SCALINGS, sizeof *R.cells);
    if (!R.cells) snprintf(err, sizeof err, "out of memory"), rc = 1;
    if (rc == 0) rc = merge_files(&R, files, nf, &first, err, sizeof err);
    if (rc == 0) {
        if (R.o.json) print_json(&R);
        else print_table(&R);
        if (R.o.plot_path && write_plot(&R) != 0) rc = 1;
    } else {
        fprintf(stderr, "rope lab merge: %s\n", err);
    }
    if (R.trials_json) fclose(R.trials_json);
    free(R.trials_buf);
    free(R.cells);
    cJSON_Delete(first);
    return rc;
}

int cmd_lab(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "merge")) return cmd_lab_merge(argc, argv);
    if (argc < 2 || (strcmp(argv[1], "ppl") && strcmp(argv[1], "passkey"))) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }
    lab_run R;
    memset(&R, 0, sizeof R);
    lab_opts *o = &R.o;
    o->passkey = !strcmp(argv[1], "passkey");
    o->text_path = LAB_DEFAULT_TEXT;
    static const int64_t def_lengths[] = {2048, 4096, 8192, 16384, 32768};
    memcpy(o->lengths, def_lengths, sizeof def_lengths);
    o->n_lengths = 5;
    for (int i = 0; i < LAB_N_SCALINGS; i++) o->use[i] = 1;
    o->trials = 10;
    o->seed = 1;
    o->threads = cli_default_threads();
    int rc = parse_args(argc, argv, o);
    if (rc) return rc == 1 ? 0 : rc;

    char err[512] = "", pathbuf[4096];
    int32_t *ids = NULL;
    int64_t n = 0;
    rc = setup(&R, pathbuf, sizeof pathbuf, err, sizeof err);
    if (rc == 0 && !o->passkey) rc = tokenize_text(&R, &ids, &n, err, sizeof err);
    for (int li = 0; rc == 0 && o->passkey && li < o->n_lengths; li++) { /* lengths that fit */
        lab_passkey_prompt p = {0};
        if (lab_passkey_build(R.tok, o->lengths[li], R.bos, 10000, 0.0, &p, err, sizeof err) != 0)
            rc = 2;
        lab_passkey_free(&p);
    }
    if (rc == 0) {
        R.cells = calloc((size_t)o->n_lengths * LAB_N_SCALINGS, sizeof *R.cells);
        if (o->passkey && o->json)
            R.trials_json = open_memstream(&R.trials_buf, &R.trials_len);
        if (!R.cells || (o->passkey && o->json && !R.trials_json)) {
            snprintf(err, sizeof err, "out of memory");
            rc = 1;
        }
    }
    if (rc == 0) {
        fprintf(stderr, "rope lab %s: %s, trained context %lld, factor %g, %d thread(s)%s\n",
                argv[1], o->model_path, (long long)R.m->cfg.context_length, R.factor,
                (int)o->threads, R.bos >= 0 ? ", BOS before every window" : "");
        int r = o->passkey ? run_passkey(&R, err, sizeof err) : run_ppl(&R, ids, n, err, sizeof err);
        if (R.trials_json) fflush(R.trials_json);
        if (r != 0) rc = 1;
    }
    if (rc == 0) {
        if (o->json) print_json(&R);
        else print_table(&R);
        if (o->plot_path && write_plot(&R) != 0) rc = 1;
    } else {
        fprintf(stderr, "rope lab: %s\n", err);
    }
    if (R.trials_json) fclose(R.trials_json);
    free(R.trials_buf);
    free(R.cells);
    free(ids);
    tokenizer_free(R.tok);
    llama_model_free(R.m);
    return rc;
}
