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
    const char *model_path = po.model_path, *text_path = po.text_path, *scaling = po.scaling;
    int64_t ctx = po.ctx, stride = po.stride, threads = po.threads;
    rope_style style = po.style;
    rope_dtype kv_dtype = po.kv_dtype;
    const char *kv_name = po.kv_name;
    char pathbuf[4096], err[512];
    if (!(model_path = cli_model_path(model_path, pathbuf, sizeof pathbuf, err, sizeof err))) {
        fprintf(stderr, "rope ppl: %s\n", err);
        return 2;
    }

    int rc = 1;
    llama_model *m = NULL;
    llama_session *s = NULL;
    tokenizer *tok = NULL;
    gguf_file *gf = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    size_t text_len = 0;
    char *text = read_file(text_path, &text_len);
    if (!text) {
        fprintf(stderr, "rope ppl: cannot read %s\n", text_path);
        return 2;
    }
    if (llama_model_load(model_path, &m, err, sizeof err) != 0) {
        fprintf(stderr, "rope ppl: %s\n", err);
        rc = 2;
        goto done;
    }
    if (gguf_open(model_path, &gf, err, sizeof err) != GGUF_OK ||
        tokenizer_from_gguf(gf, &tok, err, sizeof err) != GGUF_OK) {
        fprintf(stderr, "rope ppl: tokenizer: %s\n", err);
        rc = 2;
        goto done;
    }
    size_t n_ids = 0;
    if (tokenizer_encode(tok, text, text_len, 0, &ids, &n_ids, err, sizeof err) != GGUF_OK) {
        fprintf(stderr, "rope ppl: cannot tokenize %s: %s\n", text_path, err);
        goto done;
    }
    const int64_t N = (int64_t)n_ids;
    if (N < 2) {
        fprintf(stderr, "rope ppl: %s has fewer than 2 tokens\n", text_path);
        rc = 2;
        goto done;
    }

    /* RoPE: the file's, or the override with the trained context as the
     * original one (what HF's rope_scaling dict means for these types). */
    rope_config rc_cfg = m->cfg.rope;
    if (po.scaling_set) { /* checked with the options */
        rc_cfg.type = po.scaling_type;
        if (po.scaling_type != ROPE_SCALING_DEFAULT) {
            rc_cfg.factor = po.scaling_factor;
            rc_cfg.max_position_embeddings = m->cfg.context_length;
            rc_cfg.original_max_position_embeddings = m->cfg.context_length;
        }
    }
    if (ctx == 0) ctx = m->cfg.context_length;
    if (ctx < 2) { /* a window of one token predicts nothing: no perplexity to report */
        fprintf(stderr, "rope ppl: the model's context_length is %lld: windows of fewer than 2 "
                        "tokens score nothing; pass --ctx N (N >= 2)\n", (long long)ctx);
        rc = 2;
        goto done;
    }
    if (ctx > N) ctx = N;
    if (stride == 0) stride = ctx / 2 > 0 ? ctx / 2 : 1;
    if (stride > ctx) stride = ctx;

    llama_session_opts so;
    llama_session_opts_init(&so);
    so.prefill_f32 = 1; /* float32 activations: the float32 path's perplexity */
    so.n_ctx = ctx;
    so.style = style;
    so.rope = &rc_cfg;
    /* Dynamic NTK: HF recomputes the base for the sequence it is given; each
     * window is one such sequence, so the frequencies follow the window length
     * (the full ctx; a shorter last window is evaluated with the same base). */
    so.freqs_seq_len = ctx;
    so.n_threads = (int)threads;
    so.kv_dtype = kv_dtype;
    if (llama_session_create(m, &so, &s, err, sizeof err) != 0) {
        fprintf(stderr, "rope ppl: %s\n", err);
        goto done;
    }
    const int64_t B = llama_session_max_batch(s), V = m->cfg.vocab_size;
    logits = malloc((size_t)B * (size_t)V * sizeof *logits);
    if (!logits) goto done;

    fprintf(stderr, "rope ppl: %s: %lld tokens, window %lld, stride %lld, RoPE %s %s (factor %g), "
                    "trained context %lld\n",
            text_path, (long long)N, (long long)ctx, (long long)stride,
            style_name(style), rope_scaling_name(rc_cfg.type),
            rc_cfg.type == ROPE_SCALING_DEFAULT ? 1.0 : rc_cfg.factor,
            (long long)m->cfg.context_length);
    double nll = 0.0, t0 = now_s();
    int64_t n_scored = 0, prev_end = 0;
    for (int64_t begin = 0; prev_end < N; begin += stride) {
        const int64_t end = begin + ctx < N ? begin + ctx : N;
        const int64_t trg = end - prev_end; /* new tokens this window scores */
        llama_session_reset(s);
        for (int64_t p = begin; p < end; p += B) {
            const int64_t nb = end - p < B ? end - p : B;
            if (llama_forward(s, ids + p, nb, logits, nb, err, sizeof err) != 0) {
                fprintf(stderr, "rope ppl: %s\n", err);
                goto done;
            }
            /* logits row j predicts token p + j + 1; score it if it is one of
             * this window's targets (index >= end - trg, and not the window's
             * first token, which nothing here predicts). */
            for (int64_t j = 0; j < nb; j++) {
                const int64_t target = p + j + 1;
                if (target >= end || target < end - trg || target <= begin) continue;
                const float *row = logits + j * V;
                float mx = row[0];
                for (int64_t v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
                double sum = 0.0;
                for (int64_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
                nll += log(sum) + mx - (double)row[ids[target]];
                n_scored++;
            }
            if (end - begin > B && p + nb < end) /* long windows: progress inside */
                fprintf(stderr, "  window [%lld, %lld): %lld tokens evaluated (%.1f s)\r",
                        (long long)begin, (long long)end, (long long)(p + nb - begin), now_s() - t0);
        }
        prev_end = end;
        fprintf(stderr, "  window [%lld, %lld): scored %lld tokens, running ppl %.4f (%.1f s)\n",
                (long long)begin, (long long)end, (long long)n_scored,
                n_scored ? exp(nll / (double)n_scored) : 0.0, now_s() - t0);
    }
    if (n_scored == 0 || !isfinite(nll)) { /* never a NaN perplexity behind exit 0 */
        fprintf(stderr, "rope ppl: %s\n", n_scored ? "the negative log-likelihood is not finite "
                "(the model gives non-finite logits)" : "no token was scored");
        rc = 2;
        goto done;
    }
    printf("perplexity %.4f over %lld tokens (window %lld, stride %lld, style %s, scaling %s, "
           "cache %s)\n",
           exp(nll / (double)n_scored), (long long)n_scored, (long long)ctx, (long long)stride,
           style_name(style), scaling ? scaling : "file",
           kv_name);
    rc = 0;
done:
    free(logits);
    free(ids);
    free(text);
    llama_session_free(s);
    tokenizer_free(tok);
    gguf_close(gf);
    llama_model_free(m);
    return rc;
}
