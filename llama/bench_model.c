/*
 * rope bench model: prompt and generation tokens/s of the runner beside
 * llama.cpp on the same GGUF and the same text.
 *
 * For each thread count: prefill of the text (raw, no template; batches of
 * the session's max_batch, logits of the last token only) and greedy decode
 * of N tokens, `rounds` times, median. The quantised path (default) and,
 * with --f32, the float32-weights path. llama.cpp runs through
 * llama/bench_llamacpp.py (llama-cpp-python) in its own process, once per
 * round after ours (rounds interleaved); when it cannot be imported the peer
 * is skipped with a note. Peak resident
 * memory (VmHWM) is reported per path (a process-wide high-water mark).
 *
 * A harness, not a test: it asserts nothing about speed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "gguf.h"
#include "cli_opts.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

#define DEFAULT_TEXT "tests/data/ppl/declaration_and_notes.txt"
#define PEER_SCRIPT "llama/bench_llamacpp.py"

typedef struct bm_row {
    const char *path; /* "quantised" / "f32" / "llama.cpp" */
    int threads;
    double prompt_tok_s, gen_tok_s;
    long rss_kb;
} bm_row;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* path relative to the current directory, else to the executable's parent */
static int find_file(const char *rel, char *out, size_t n) {
    snprintf(out, n, "%s", rel);
    if (access(out, R_OK) == 0) return 1;
    char exe[2048];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return 0;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = 0;
    snprintf(out, n, "%s/../%s", exe, rel);
    return access(out, R_OK) == 0;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

/* One path (model m) with `threads` threads: medians over rounds. */
static int time_runner(const llama_model *m, const int32_t *ids, int64_t n_ids, int64_t n_gen,
                       int threads, int rounds, bm_row *row) {
    llama_session_opts o;
    llama_session_opts_init(&o);
    o.n_ctx = n_ids + n_gen + 8;
    o.n_threads = threads;
    llama_session *s = NULL;
    char err[256];
    if (llama_session_create(m, &o, &s, err, sizeof err) != 0) {
        fprintf(stderr, "rope bench model: %s\n", err);
        return -1;
    }
    const int64_t V = m->cfg.vocab_size, B = llama_session_max_batch(s);
    float *logits = malloc((size_t)V * sizeof *logits);
    double pp[16], tg[16];
    int rc = logits ? 0 : -1;
    for (int r = 0; rc == 0 && r < rounds; r++) {
        llama_session_reset(s);
        double t0 = now_s();
        for (int64_t i = 0; rc == 0 && i < n_ids; i += B) {
            int64_t n = n_ids - i < B ? n_ids - i : B;
            rc = llama_forward(s, ids + i, n, logits, i + n == n_ids ? 1 : 0, err, sizeof err);
        }
        double t1 = now_s();
        for (int64_t g = 0; rc == 0 && g < n_gen; g++) {
            int32_t tok = (int32_t)sampler_argmax(logits, V);
            rc = llama_forward(s, &tok, 1, logits, 1, err, sizeof err);
        }
        double t2 = now_s();
        pp[r] = (double)n_ids / (t1 - t0);
        tg[r] = (double)n_gen / (t2 - t1);
    }
    if (rc != 0) fprintf(stderr, "rope bench model: forward: %s\n", err);
    else {
        row->threads = threads;
        row->prompt_tok_s = median(pp, rounds);
        row->gen_tok_s = median(tg, rounds);
        row->rss_kb = peak_rss_kb();
    }
    free(logits);
    llama_session_free(s);
    return rc;
}

/* llama.cpp rows from the peer script, or a note why not. */
static int run_peer(const char *python, const char *script, const char *model, const char *text,
                    const char *threads, int64_t n_gen, int rounds, bm_row *rows, int max_rows,
                    char *note, size_t note_len, char *version, size_t vlen) {
    char cmd[20000];
    snprintf(cmd, sizeof cmd, "'%s' '%s' --json --model '%s' --prompt-file '%s' --threads %s -n %lld "
             "--rounds %d", python, script, model, text, threads, (long long)n_gen, rounds);
    fprintf(stderr, "rope bench model: running the peer: %s\n", cmd);
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(note, note_len, "cannot run %s: %s", python, strerror(errno));
        return 0;
    }
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while (buf && len + 1 < cap && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) len += got;
    int st = pclose(f);
    if (!buf) return 0;
    buf[len] = 0;
    cJSON *doc = cJSON_Parse(buf);
    free(buf);
    int n = 0;
    const cJSON *e = doc ? cJSON_GetObjectItemCaseSensitive(doc, "error") : NULL;
    if (!doc) snprintf(note, note_len, "the peer printed no JSON (exit status %d)", st);
    else if (cJSON_IsString(e)) snprintf(note, note_len, "%s", e->valuestring);
    else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "llama_cpp_python"), *r;
        if (cJSON_IsString(v)) snprintf(version, vlen, "%s", v->valuestring);
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "rows")) {
            if (n >= max_rows) break;
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "threads");
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "prompt_tok_s");
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(r, "gen_tok_s");
            if (!cJSON_IsNumber(t) || !cJSON_IsNumber(p) || !cJSON_IsNumber(g)) continue;
            rows[n] = (bm_row){"llama.cpp", t->valueint, p->valuedouble, g->valuedouble, -1};
            n++;
        }
    }
    cJSON_Delete(doc);
    return n;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope bench model [--model FILE.gguf] [--text FILE] [-n N] [--threads LIST]\n"
            "                        [--rounds R] [--f32] [--python PATH] [--no-peer] [--json]\n\n"
            "Prompt and generation tokens/s of the runner (rope generate's forward pass) beside\n"
            "llama.cpp (llama-cpp-python, optional) on the same GGUF and text: prefill of the\n"
            "text, then greedy decode of N tokens; median of the rounds.\n\n"
            "  --model FILE   default: %s\n"
            "  --text FILE    prompt text, raw (default %s)\n"
            "  -n N           tokens to generate (default 64)\n"
            "  --threads LIST thread counts (default 1,2)\n"
            "  --rounds R     rounds (default 3, at most 16); each runs every configuration\n"
            "                 once, then llama.cpp once (interleaved); medians\n"
            "  --f32          also time the float32-weights path (--f32-weights)\n"
            "  --python PATH  interpreter with llama-cpp-python (default /usr/bin/python3);\n"
            "                 without it the peer is skipped with a note\n"
            "  --no-peer      do not run llama.cpp\n"
            "  --json         one JSON document on stdout\n",
            LLAMA_DEFAULT_MODEL, DEFAULT_TEXT);
}

/* The 1-minute load average (/proc/loadavg), -1 where unknown: how shared the
 * machine was during the run. */
static double load_avg(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    double v = -1.0;
    if (f && fscanf(f, "%lf", &v) != 1) v = -1.0;
    if (f) fclose(f);
    return v;
}

static void print_rows(const bm_row *rows, int n, int json, const char *model, int64_t n_ids,
                       int64_t n_gen, const char *note, const char *version, double load0) {
    if (json) {
        printf("{\"model\": \"%s\", \"prompt_tokens\": %lld, \"gen_tokens\": %lld, "
               "\"qm_kernels\": \"%s\", \"load_avg_start\": %.2f, \"load_avg_end\": %.2f, "
               "\"rows\": [", model, (long long)n_ids, (long long)n_gen, qm_isa(), load0,
               load_avg());
        for (int i = 0; i < n; i++)
            printf("%s\n  {\"path\": \"%s\", \"threads\": %d, \"prompt_tok_s\": %.2f, "
                   "\"gen_tok_s\": %.2f, \"peak_rss_kb\": %ld}", i ? "," : "", rows[i].path,
                   rows[i].threads, rows[i].prompt_tok_s, rows[i].gen_tok_s, rows[i].rss_kb);
        printf("]");
        if (version[0]) printf(",\n \"llama_cpp_python\": \"%s\"", version);
        if (note[0]) {
            printf(",\n \"peer_note\": \"");
            for (const char *c = note; *c; c++) putchar(*c == '"' || *c == '\\' ? '\'' : *c);
            printf("\"");
        }
        printf("\n}\n");
        return;
    }
    printf("model %s, prompt %lld tokens, greedy %lld tokens, quantised kernels %s, load average "
           "%.2f -> %.2f\n", model, (long long)n_ids, (long long)n_gen, qm_isa(), load0, load_avg());
    printf("%-10s %3s %16s %16s %14s\n", "path", "thr", "prompt tok/s", "generate tok/s",
           "peak RSS MB");
    for (int i = 0; i < n; i++) {
        printf("%-10s %3d %16.1f %16.1f", rows[i].path, rows[i].threads, rows[i].prompt_tok_s,
               rows[i].gen_tok_s);
        if (rows[i].rss_kb >= 0) printf(" %14.1f", rows[i].rss_kb / 1024.0);
        printf("\n");
    }
    if (note[0]) printf("llama.cpp skipped: %s\n", note);
    else if (version[0]) printf("llama.cpp via llama-cpp-python %s, in its own process\n", version);
}

/* What the command line asked for. */
typedef struct bm_opts {
    const char *model, *text_path, *python;
    char threads_arg[128];
    int threads[8], n_threads, rounds, json, f32, peer;
    int64_t n_gen;
} bm_opts;

/* --threads 1,2 (kept as text too: the peer script takes the same list). */
static int parse_thread_list(const char *arg, bm_opts *o) {
    snprintf(o->threads_arg, sizeof o->threads_arg, "%s", arg);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", o->threads_arg);
    o->n_threads = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < 1 || v > 256 || o->n_threads == 8) return 0;
        o->threads[o->n_threads++] = (int)v;
    }
    return o->n_threads > 0;
}

/* 0: run; 1: --help printed (exit 0); 2: usage error reported. */
static int parse_args(int argc, char **argv, bm_opts *o) {
    memset(o, 0, sizeof *o);
    o->python = "/usr/bin/python3";
    snprintf(o->threads_arg, sizeof o->threads_arg, "1,2");
    o->threads[0] = 1, o->threads[1] = 2, o->n_threads = 2;
    o->rounds = 3, o->peer = 1, o->n_gen = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc, ok = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--f32")) o->f32 = 1;
        else if (!strcmp(a, "--no-peer")) o->peer = 0;
        else if (!strcmp(a, "--model") && has) o->model = argv[++i];
        else if (!strcmp(a, "--text") && has) o->text_path = argv[++i];
        else if (!strcmp(a, "--python") && has) o->python = argv[++i];
        else if (!strcmp(a, "-n") && has) {
            char *end;
            o->n_gen = strtoll(argv[++i], &end, 10);
            ok = !*end && o->n_gen >= 1 && o->n_gen <= 4096;
        } else if (!strcmp(a, "--rounds") && has) {
            char *end;
            long v = strtol(argv[++i], &end, 10); /* range-checked before the int cast */
            ok = !*end && end != argv[i] && v >= 1 && v <= 16;
            if (ok) o->rounds = (int)v;
        } else if (!strcmp(a, "--threads") && has) {
            ok = parse_thread_list(argv[++i], o);
        } else {
            fprintf(stderr, "rope bench model: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "rope bench model: bad value for %s\n", a);
            return 2;
        }
    }
    return 0;
}

/* The benchmark text as token ids, with the model's own tokenizer. 0 or 2 (reported). */
static int tokenize_text(const char *model, const char *text_path, int32_t **ids, size_t *n_ids) {
    char *text = read_text(text_path);
    if (!text) {
        fprintf(stderr, "rope bench model: cannot read --text %s\n", text_path);
        return 2;
    }
    char err[512];
    gguf_file *gf = NULL;
    tokenizer *tok = NULL;
    int rc = 0;
    if (gguf_open(model, &gf, err, sizeof err) != GGUF_OK ||
        tokenizer_from_gguf(gf, &tok, err, sizeof err) != GGUF_OK ||
        tokenizer_encode(tok, text, strlen(text), 0, ids, n_ids, err, sizeof err) != GGUF_OK) {
        fprintf(stderr, "rope bench model: %s\n", err);
        rc = 2;
    }
    free(text);
    tokenizer_free(tok);
    gguf_close(gf);
    return rc;
}

/* Per-round figures of one configuration (path × thread count). */
typedef struct bm_acc {
    double pp[16], tg[16];
    int n;
    long rss_kb;
} bm_acc;

static void acc_add(bm_acc *a, double pp, double tg) {
    if (a->n < 16) a->pp[a->n] = pp, a->tg[a->n] = tg, a->n++;
}

/* Rounds outermost: in each, every configuration of ours once, then the peer
 * once (its own process, every thread count), so that the load of a shared
 * machine falls on all of them alike; then the median of each. 0, or 2 after
 * an error it reported. */
static int run_rounds(const bm_opts *o, const int32_t *ids, int64_t n_ids, const char *script,
                      bm_row *rows, int *n_rows, char *note, size_t note_len, char *version,
                      size_t vlen) {
    static const char *const names[3] = {"quantised", "f32", "llama.cpp"};
    bm_acc acc[3][8];
    memset(acc, 0, sizeof acc);
    llama_model *models[2] = {NULL, NULL};
    char err[512];
    int rc = 0, peer_ok = script != NULL;
    for (int r = 0; r < o->rounds && rc == 0; r++) {
        for (int path = 0; path < (o->f32 ? 2 : 1) && rc == 0; path++) {
            if (!models[path] &&
                (path ? llama_model_load_f32 : llama_model_load)(o->model, &models[path], err,
                                                                 sizeof err)) {
                fprintf(stderr, "rope bench model: %s\n", err);
                rc = 2;
                break;
            }
            for (int t = 0; t < o->n_threads && rc == 0; t++) {
                if (!o->json)
                    fprintf(stderr, "  round %d: %s weights, %d thread(s) ...\n", r + 1,
                            names[path], o->threads[t]);
                bm_row one;
                if (time_runner(models[path], ids, n_ids, o->n_gen, o->threads[t], 1, &one)) {
                    rc = 2;
                    break;
                }
                acc_add(&acc[path][t], one.prompt_tok_s, one.gen_tok_s);
                if (r == 0) acc[path][t].rss_kb = one.rss_kb; /* VmHWM: before f32 loads */
            }
        }
        if (rc || !peer_ok) continue;
        bm_row peer[8];
        const int np = run_peer(o->python, script, o->model, o->text_path, o->threads_arg,
                                o->n_gen, 1, peer, 8, note, note_len, version, vlen);
        if (np == 0) peer_ok = 0; /* the note says why; no second try */
        for (int i = 0; i < np; i++)
            for (int t = 0; t < o->n_threads; t++)
                if (peer[i].threads == o->threads[t])
                    acc_add(&acc[2][t], peer[i].prompt_tok_s, peer[i].gen_tok_s);
    }
    for (int path = 0; path < 3; path++)
        for (int t = 0; t < o->n_threads; t++) {
            bm_acc *a = &acc[path][t];
            if (!a->n) continue;
            rows[*n_rows] = (bm_row){names[path], o->threads[t], median(a->pp, a->n),
                                     median(a->tg, a->n), path == 2 ? -1 : a->rss_kb};
            (*n_rows)++;
        }
    llama_model_free(models[0]);
    llama_model_free(models[1]);
    return rc;
}

int bench_model_run(int argc, char **argv) {
    bm_opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc == 1 ? 0 : 2;
    char mpath[4096], tpath[4096], spath[4096], err[512];
    if (!(o.model = cli_model_path(o.model, mpath, sizeof mpath, err, sizeof err))) {
        fprintf(stderr, "rope bench model: %s\n", err);
        return 2;
    }
    if (!o.text_path) {
        if (!find_file(DEFAULT_TEXT, tpath, sizeof tpath)) {
            fprintf(stderr, "rope bench model: %s not found (use --text)\n", DEFAULT_TEXT);
            return 2;
        }
        o.text_path = tpath;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (tokenize_text(o.model, o.text_path, &ids, &n_ids) != 0) return 2;

    char note[512] = "", version[64] = "";
    int have_peer = 0;
    if (o.peer && find_file(PEER_SCRIPT, spath, sizeof spath)) have_peer = 1;
    else snprintf(note, sizeof note, o.peer ? PEER_SCRIPT " not found" : "--no-peer");
    bm_row rows[32];
    int n_rows = 0;
    const double load0 = load_avg();
    const int rc = run_rounds(&o, ids, (int64_t)n_ids, have_peer ? spath : NULL, rows, &n_rows,
                              note, sizeof note, version, sizeof version);
    if (rc == 0)
        print_rows(rows, n_rows, o.json, o.model, (int64_t)n_ids, o.n_gen, note, version, load0);
    free(ids);
    return rc ? 1 : 0;
}
