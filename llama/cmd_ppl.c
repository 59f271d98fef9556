/*
 * rope ppl [--model FILE.gguf] TEXT_FILE [--ctx N] [--stride S]
 *          [--rope-scaling TYPE:FACTOR] [--style half|interleaved] [-t THREADS]
 *          [--cache f32|f16|bf16|q8]
 *
 * Perplexity exp(mean NLL) of a text under the model, with Hugging Face's
 * strided sliding window ("Perplexity of fixed-length models"): windows of at
 * most ctx tokens start every `stride` tokens, each is evaluated from position
 * 0 with an empty cache, and only the tokens not scored by an earlier window
 * count, so every token is predicted once with up to ctx - stride tokens of
 * context. --rope-scaling changes the RoPE (linear, dynamic NTK, yarn, with
 * the file's context as the original one) to see what each does beyond the
 * trained context; --style half shows what the wrong convention costs.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_opts.h"
#include "cli_util.h"
#include "commands.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope ppl [--model FILE.gguf] TEXT_FILE [--ctx N] [--stride S]\n"
            "                [--rope-scaling TYPE:FACTOR] [--style half|interleaved] [-t THREADS]\n"
            "                [--cache f32|f16|bf16|q8]\n"
            "\n"
            "Perplexity of a UTF-8 text file with a strided sliding window (windows of --ctx\n"
            "tokens every --stride tokens; each token scored once). Progress on stderr.\n"
            "\n"
            "  --model FILE        default: %s\n"
            "  --ctx N             window length in tokens (default: the model's trained context)\n"
            "  --stride S          window step (default: ctx / 2)\n"
            "  --rope-scaling T:F  override RoPE scaling: linear:F, dynamic:F, yarn:F (original\n"
            "                      context = the file's), or none\n"
            "  --style S           interleaved or half (default: the model's own, interleaved\n"
            "                      for LLaMA GGUF files, half for Gemma 3; the other is a demo)\n"
            "  -t THREADS          threads (default: the CPUs, at most 16)\n"
            "  --cache T           KV cache storage: f32 (default), f16, bf16, q8 (int8 blocks of\n"
            "                      32 values with a float32 scale)\n",
            LLAMA_DEFAULT_MODEL);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        char *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static const char *style_name(rope_style st) {
    return st == ROPE_STYLE_NONE ? "model's" : st == ROPE_STYLE_INTERLEAVED ? "interleaved" : "half";
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One run's options and state, shared by the steps of cmd_ppl. */
typedef struct ppl_run {
    const char *model_path, *text_path;
    int64_t ctx, stride, threads;
    rope_style style;
    rope_dtype kv_dtype;
    llama_model *m;
    llama_session *s;
    tokenizer *tok;
    char *text;
    size_t text_len;
    int32_t *ids;         /* the text's tokens */
    int64_t N;
    rope_config rc_cfg;   /* the RoPE evaluated */
    float *logits;        /* max_batch rows */
    double nll;           /* summed over the scored tokens */
    int64_t n_scored;
    char err[512];
} ppl_run;

/* The steps below return 0, or the exit code after printing why. */

/* The text, the model and its tokenizer, and the text's tokens. */
static int load_inputs(ppl_run *r) {
    gguf_file *gf = NULL;
    r->text = read_file(r->text_path, &r->text_len);
    if (!r->text) {
        fprintf(stderr, "rope ppl: cannot read %s\n", r->text_path);
        return 2;
    }
    if (llama_model_load(r->model_path, &r->m, r->err, sizeof r->err) != 0) {
        fprintf(stderr, "rope ppl: %s\n", r->err);
        return 2;
    }
    if (gguf_open(r->model_path, &gf, r->err, sizeof r->err) != GGUF_OK ||
        tokenizer_from_gguf(gf, &r->tok, r->err, sizeof r->err) != GGUF_OK) {
        fprintf(stderr, "rope ppl: tokenizer: %s\n", r->err);
        gguf_close(gf);
        return 2;
    }
    gguf_close(gf);
    size_t n_ids = 0;
    if (tokenizer_encode(r->tok, r->text, r->text_len, 0, &r->ids, &n_ids, r->err,
                         sizeof r->err) != GGUF_OK) {
        fprintf(stderr, "rope ppl: cannot tokenize %s: %s\n", r->text_path, r->err);
        return 1;
    }
    r->N = (int64_t)n_ids;
    if (r->N < 2) {
        fprintf(stderr, "rope ppl: %s has fewer than 2 tokens\n", r->text_path);
        return 2;
    }
    return 0;
}

/* The RoPE, window and stride; the session and the logits buffer. */
static int start_session(ppl_run *r, const ppl_opts *po) {
    const llama_model *m = r->m;
    /* RoPE: the file's, or the override with the trained context as the
     * original one (what HF's rope_scaling dict means for these types). */
    r->rc_cfg = m->cfg.rope;
    if (po->scaling_set) { /* checked with the options */
        r->rc_cfg.type = po->scaling_type;
        if (po->scaling_type != ROPE_SCALING_DEFAULT) {
            r->rc_cfg.factor = po->scaling_factor;
            r->rc_cfg.max_position_embeddings = m->cfg.context_length;
            r->rc_cfg.original_max_position_embeddings = m->cfg.context_length;
        }
    }
    if (r->ctx == 0) r->ctx = m->cfg.context_length;
    if (r->ctx < 2) { /* a window of one token predicts nothing: no perplexity to report */
        fprintf(stderr, "rope ppl: the model's context_length is %lld: windows of fewer than 2 "
                        "tokens score nothing; pass --ctx N (N >= 2)\n", (long long)r->ctx);
        return 2;
    }
    if (r->ctx > r->N) r->ctx = r->N;
    if (r->stride == 0) r->stride = r->ctx / 2 > 0 ? r->ctx / 2 : 1;
    if (r->stride > r->ctx) r->stride = r->ctx;

    llama_session_opts so;
    llama_session_opts_init(&so);
    so.prefill_f32 = 1; /* float32 activations: the float32 path's perplexity */
    so.n_ctx = r->ctx;
    so.style = r->style;
    so.rope = &r->rc_cfg;
    /* Dynamic NTK: HF recomputes the base for the sequence it is given; each
     * window is one such sequence, so the frequencies follow the window length
     * (the full ctx; a shorter last window is evaluated with the same base). */
    so.freqs_seq_len = r->ctx;
    so.n_threads = (int)r->threads;
    so.kv_dtype = r->kv_dtype;
    if (llama_session_create(m, &so, &r->s, r->err, sizeof r->err) != 0) {
        fprintf(stderr, "rope ppl: %s\n", r->err);
        return 1;
    }
    const int64_t B = llama_session_max_batch(r->s), V = m->cfg.vocab_size;
    r->logits = malloc((size_t)B * (size_t)V * sizeof *r->logits);
    if (!r->logits) return 1;
    return 0;
}

/* -log softmax(row)[target] over V logits. */
static double token_nll(const float *row, int64_t V, int32_t target) {
    float mx = row[0];
    for (int64_t v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
    double sum = 0.0;
    for (int64_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
    return log(sum) + mx - (double)row[target];
}

/* Every window, from an empty cache each; the NLL of the tokens it scores
 * is added to r->nll. Progress on stderr. */
static int score_windows(ppl_run *r) {
    const int64_t N = r->N, ctx = r->ctx, stride = r->stride;
    const int64_t B = llama_session_max_batch(r->s), V = r->m->cfg.vocab_size;
    fprintf(stderr, "rope ppl: %s: %lld tokens, window %lld, stride %lld, RoPE %s %s (factor %g), "
                    "trained context %lld\n",
            r->text_path, (long long)N, (long long)ctx, (long long)stride,
            style_name(r->style), rope_scaling_name(r->rc_cfg.type),
            r->rc_cfg.type == ROPE_SCALING_DEFAULT ? 1.0 : r->rc_cfg.factor,
            (long long)r->m->cfg.context_length);
    double t0 = now_s();
    int64_t prev_end = 0;
    for (int64_t begin = 0; prev_end < N; begin += stride) {
        const int64_t end = begin + ctx < N ? begin + ctx : N;
        const int64_t trg = end - prev_end; /* new tokens this window scores */
        llama_session_reset(r->s);
        for (int64_t p = begin; p < end; p += B) {
            const int64_t nb = end - p < B ? end - p : B;
            if (llama_forward(r->s, r->ids + p, nb, r->logits, nb, r->err, sizeof r->err) != 0) {
                fprintf(stderr, "rope ppl: %s\n", r->err);
                return 1;
            }
            /* logits row j predicts token p + j + 1; score it if it is one of
             * this window's targets (index >= end - trg, and not the window's
             * first token, which nothing here predicts). */
            for (int64_t j = 0; j < nb; j++) {
                const int64_t target = p + j + 1;
                if (target >= end || target < end - trg || target <= begin) continue;
                r->nll += token_nll(r->logits + j * V, V, r->ids[target]);
                r->n_scored++;
            }
            if (end - begin > B && p + nb < end) /* long windows: progress inside */
                fprintf(stderr, "  window [%lld, %lld): %lld tokens evaluated (%.1f s)\r",
                        (long long)begin, (long long)end, (long long)(p + nb - begin), now_s() - t0);
        }
        prev_end = end;
        fprintf(stderr, "  window [%lld, %lld): scored %lld tokens, running ppl %.4f (%.1f s)\n",
                (long long)begin, (long long)end, (long long)r->n_scored,
                r->n_scored ? exp(r->nll / (double)r->n_scored) : 0.0, now_s() - t0);
    }
    return 0;
}

int cmd_ppl(int argc, char **argv) {
    ppl_opts po;
    int pr = ppl_parse_args(argc, argv, &po, stderr);
    if (pr == CLI_OPTS_HELP) {
        usage(stdout);
        return 0;
    }
    if (pr != CLI_OPTS_RUN) {
        usage(stderr);
        return 2;
    }
    ppl_run r = {0};
    r.text_path = po.text_path;
    r.ctx = po.ctx, r.stride = po.stride, r.threads = po.threads;
    r.style = po.style;
    r.kv_dtype = po.kv_dtype;
    char pathbuf[4096];
    r.model_path = cli_model_path(po.model_path, pathbuf, sizeof pathbuf, r.err, sizeof r.err);
    if (!r.model_path) {
        fprintf(stderr, "rope ppl: %s\n", r.err);
        return 2;
    }
    int rc = load_inputs(&r);
    if (!rc) rc = start_session(&r, &po);
    if (!rc) rc = score_windows(&r);
    if (!rc && (r.n_scored == 0 || !isfinite(r.nll))) { /* never a NaN perplexity behind exit 0 */
        fprintf(stderr, "rope ppl: %s\n", r.n_scored ? "the negative log-likelihood is not finite "
                "(the model gives non-finite logits)" : "no token was scored");
        rc = 2;
    }
    if (!rc)
        printf("perplexity %.4f over %lld tokens (window %lld, stride %lld, style %s, scaling %s, "
               "cache %s)\n",
               exp(r.nll / (double)r.n_scored), (long long)r.n_scored, (long long)r.ctx,
               (long long)r.stride, style_name(r.style), po.scaling ? po.scaling : "file",
               po.kv_name);
    free(r.logits);
    free(r.ids);
    free(r.text);
    llama_session_free(r.s);
    tokenizer_free(r.tok);
    llama_model_free(r.m);
    return rc;
}
