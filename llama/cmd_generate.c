/*
 * rope generate [--model FILE.gguf] [--prompt TEXT] [-n N] [--temp T] [--top-p P]
 *               [--seed S] [--repeat-penalty R] [-t THREADS] [--raw] [--system TEXT]
 *               [--ctx N] [--cache f32|f16|bf16|q8]
 *
 * Text generation with a LLaMA-architecture GGUF model on librope: the prompt
 * (in the model's ChatML chat template unless --raw) is processed in one
 * matrix-matrix pass (prefill), then tokens are decoded one at a time and
 * streamed to stdout. Speeds go to stderr at the end. With --ctx N the KV cache
 * holds N tokens and generation goes on past it by context shifts: when the
 * cache is full, the older half of the entries after the system turn is
 * dropped and the rest move down (keys re-rotated from their originals, so
 * they equal keys written at the new positions: no drift however many shifts).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_opts.h"
#include "cli_util.h"
#include "commands.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"
#include "gguf.h"

#define DEFAULT_PROMPT "Give me three short tips for learning a new language."

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope generate [--model FILE.gguf] [--prompt TEXT] [-n N] [--temp T]\n"
            "                     [--top-p P] [--seed S] [--repeat-penalty R] [-t THREADS]\n"
            "                     [--raw] [--system TEXT] [--f32-weights] [--ctx N]\n"
            "                     [--cache f32|f16|bf16|q8]\n"
            "\n"
            "Generate text with a LLaMA-architecture GGUF model (RoPE and attention by librope;\n"
            "matrix-vector products straight from the file's quantised blocks, prompt batches\n"
            "through OpenBLAS). Tokens stream to stdout; speeds go to stderr.\n"
            "\n"
            "  --model FILE     default: %s (from the current directory, else\n"
            "                   next to the executable's parent; `make deps` downloads it)\n"
            "  --prompt TEXT    default: \"%s\"\n"
            "  -n N             tokens to generate at most (default 128; stops at end of turn)\n"
            "  --temp T         0 = greedy (default 0: deterministic); else softmax(logits/T)\n"
            "  --top-p P        nucleus sampling mass (default 0.9; used when T > 0)\n"
            "  --seed S         PRNG seed for sampling (default 42)\n"
            "  --repeat-penalty R  divide the logits of the last 64 tokens by R (default 1.1;\n"
            "                   1 = off: plain greedy, what llama.cpp gives at temperature 0)\n"
            "  -t THREADS       librope pool and OpenBLAS threads (default: the CPUs, at most 16)\n"
            "  --raw            no chat template: the prompt is plain text to continue\n"
            "  --system TEXT    system message of the chat template (\"\" = none;\n"
            "                   default: the model's own)\n"
            "  --f32-weights    dequantise every matrix to float32 at load (OpenBLAS only;\n"
            "                   the reference path, ~4x the memory of a 4-bit file)\n"
            "  --ctx N          KV cache of N tokens (8 .. the trained context); generation goes\n"
            "                   past it by context shifts: when full, the older half of the tokens\n"
            "                   after the system turn (after BOS with --raw) is dropped and the rest\n"
            "                   re-rotated to close the gap. -n is then capped at 2^24 only.\n"
            "                   Default: prompt + n tokens, at most the trained context (no shifts)\n"
            "  --cache T        KV cache storage: f32 (default), f16, bf16, q8 (int8 blocks of 32\n"
            "                   with a float32 scale: 1.125 bytes per value)\n",
            LLAMA_DEFAULT_MODEL, DEFAULT_PROMPT);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *kv_name(rope_dtype t) {
    return t == ROPE_F16 ? "f16" : t == ROPE_BF16 ? "bf16" : t == ROPE_Q8 ? "q8" : "f32";
}

/* Tokens a context shift keeps: with the chat template, those of the system
 * turn (the prompt's tokens that the system part alone tokenizes to); with
 * --raw, the BOS token if the prompt starts with one (else none). */
static int64_t keep_count(const tokenizer *tok, int raw, const char *system, const int32_t *ids,
                          size_t n_prompt) {
    if (raw) return n_prompt > 0 && ids[0] == tokenizer_bos(tok) ? 1 : 0;
    char *full = tokenizer_chat_prompt(system, "");
    if (!full) return 0;
    char *user = strstr(full, "<|im_start|>user");
    int64_t keep = 0;
    if (user && user != full) {
        *user = '\0';
        int32_t *sys = NULL;
        size_t n = 0;
        char err[128];
        if (!tokenizer_encode(tok, full, strlen(full), 1, &sys, &n, err, sizeof err) && n <= n_prompt &&
            !memcmp(sys, ids, n * sizeof *ids))
            keep = (int64_t)n;
        free(sys);
    }
    free(full);
    return keep;
}

/* One run's options and state, shared by the steps of cmd_generate. */
typedef struct gen_run {
    const char *model_path, *prompt, *system;
    int64_t n_gen, seed, threads;
    double temp, top_p, rep;
    int raw, f32_weights, add_bos;
    int64_t n_ctx_opt; /* --ctx: 0 = none */
    rope_dtype kv_dtype;
    llama_model *m;
    llama_session *s;
    tokenizer *tok;
    sampler smp;
    char *text;           /* the prompt as given to the tokenizer */
    int32_t *ids;         /* prompt, then generated tokens */
    size_t n_prompt;
    float *logits;
    int64_t ctx, n_keep;  /* cache size; tokens a context shift keeps */
    int64_t n_done, n_shifts;
    double t_load, t_prompt, t_gen;
    char err[512];
} gen_run;

/* The steps below return 0, or the exit code after printing why. */

/* Model and tokenizer. */
static int load_model(gen_run *r) {
    gguf_file *gf = NULL;
    double t0 = now_s();
    if ((r->f32_weights ? llama_model_load_f32 : llama_model_load)(r->model_path, &r->m, r->err,
                                                                  sizeof r->err)) {
        fprintf(stderr, "rope generate: %s\n", r->err);
        return 2;
    }
    if (gguf_open(r->model_path, &gf, r->err, sizeof r->err) != GGUF_OK ||
        tokenizer_from_gguf(gf, &r->tok, r->err, sizeof r->err) != GGUF_OK) {
        fprintf(stderr, "rope generate: tokenizer: %s\n", r->err);
        gguf_close(gf);
        return 2;
    }
    /* Gemma 3 270M is a base model: plain continuation after BOS (the chat
     * template below is SmolLM2-Instruct's ChatML). */
    r->add_bos = 0;
    if (gguf_get_bool(gf, "tokenizer.ggml.add_bos_token", &r->add_bos) != GGUF_OK) r->add_bos = 0;
    if (r->m->cfg.arch == LLAMA_ARCH_GEMMA3) r->raw = 1;
    gguf_close(gf);
    r->t_load = now_s() - t0;
    return 0;
}

/* Prompt -> ids, and the sizes that follow from it: the cache, -n, the
 * tokens a context shift keeps (ids gets room for the generated tokens). */
static int tokenize_prompt(gen_run *r) {
    const llama_model *m = r->m;
    if (r->raw) {
        r->text = strdup(r->prompt);
    } else {
        r->text = tokenizer_chat_prompt(r->system, r->prompt);
    }
    if (!r->text || tokenizer_encode(r->tok, r->text, strlen(r->text), !r->raw, &r->ids,
                                     &r->n_prompt, r->err, sizeof r->err)) {
        fprintf(stderr, "rope generate: cannot tokenize the prompt: %s\n",
                r->text ? r->err : "out of memory");
        return 1;
    }
    if (r->n_prompt == 0) {
        fprintf(stderr, "rope generate: the prompt is empty\n");
        return 2;
    }
    if (r->add_bos && tokenizer_bos(r->tok) >= 0) { /* the model was trained with BOS first */
        int32_t *b = realloc(r->ids, (r->n_prompt + 1) * sizeof *b);
        if (!b) return 1;
        r->ids = b;
        memmove(r->ids + 1, r->ids, r->n_prompt * sizeof *r->ids);
        r->ids[0] = tokenizer_bos(r->tok);
        r->n_prompt++;
    }
    const int64_t n_ctx_opt = r->n_ctx_opt;
    if (n_ctx_opt > m->cfg.context_length) {
        fprintf(stderr, "rope generate: --ctx %lld exceeds the trained context (%lld)\n",
                (long long)n_ctx_opt, (long long)m->cfg.context_length);
        return 2;
    }
    const int64_t ctx = n_ctx_opt ? n_ctx_opt : m->cfg.context_length;
    r->ctx = ctx;
    if ((int64_t)r->n_prompt >= ctx) {
        fprintf(stderr, "rope generate: prompt of %zu tokens does not fit the context (%lld)\n",
                r->n_prompt, (long long)ctx);
        return 2;
    }
    /* -n may be as large as INT64_MAX: compared, never added */
    if (!n_ctx_opt) r->n_gen = generate_budget((int64_t)r->n_prompt, r->n_gen, ctx);
    else if (r->n_gen > ((int64_t)1 << 24)) r->n_gen = (int64_t)1 << 24;
    /* tokens a context shift keeps: the system turn (chat), else BOS if any */
    r->n_keep = n_ctx_opt ? keep_count(r->tok, r->raw, r->system, r->ids, r->n_prompt) : 0;
    if (n_ctx_opt && r->n_keep + 2 > ctx) {
        fprintf(stderr, "rope generate: --ctx %lld leaves no room after the %lld kept tokens\n",
                (long long)ctx, (long long)r->n_keep);
        return 2;
    }
    int32_t *all = realloc(r->ids, (r->n_prompt + (size_t)r->n_gen + 1) * sizeof *all);
    if (!all) return 1;
    r->ids = all;
    return 0;
}

/* Session (KV cache), sampler and the logits buffer. */
static int start_session(gen_run *r) {
    const llama_model *m = r->m;
    const int64_t n_prompt = (int64_t)r->n_prompt, n_gen = r->n_gen, ctx = r->ctx;
    llama_session_opts so;
    llama_session_opts_init(&so);
    so.n_ctx = r->n_ctx_opt ? ctx : n_prompt + n_gen + 1 < ctx ? n_prompt + n_gen + 1 : ctx;
    so.freqs_seq_len = m->cfg.context_length; /* frequencies as trained, whatever the cache size */
    so.kv_dtype = r->kv_dtype;
    so.kv_shiftable = r->n_ctx_opt > 0;
    so.n_threads = (int)r->threads; /* style: the architecture's own (ROPE_STYLE_NONE) */
    if (llama_session_create(m, &so, &r->s, r->err, sizeof r->err) != 0 ||
        sampler_init(&r->smp, m->cfg.vocab_size, (float)r->temp, (float)r->top_p, (float)r->rep, 64,
                     (uint64_t)r->seed) != 0) {
        fprintf(stderr, "rope generate: %s\n", r->s ? "bad sampling parameters" : r->err);
        return 1;
    }
    r->logits = malloc((size_t)m->cfg.vocab_size * sizeof *r->logits);
    if (!r->logits) return 1;
    return 0;
}

/* Prefill: the whole prompt, max_batch tokens per matrix-matrix pass. */
static int prefill(gen_run *r) {
    if (r->raw) { /* echo the prompt being continued */
        fputs(r->prompt, stdout);
        fflush(stdout);
    }
    double t1 = now_s();
    const int64_t B = llama_session_max_batch(r->s), n_prompt = (int64_t)r->n_prompt;
    for (int64_t p = 0; p < n_prompt; p += B) {
        int64_t nb = n_prompt - p < B ? n_prompt - p : B;
        int last = p + nb == n_prompt;
        if (llama_forward(r->s, r->ids + p, nb, r->logits, last ? 1 : 0, r->err,
                          sizeof r->err) != 0) {
            fprintf(stderr, "\nrope generate: %s\n", r->err);
            return 1;
        }
    }
    r->t_prompt = now_s() - t1;
    return 0;
}

/* Decode: sample, stream, feed back. */
static int decode(gen_run *r) {
    llama_session *s = r->s;
    double t2 = now_s();
    int64_t n_tok = (int64_t)r->n_prompt;
    char piece[256];
    while (r->n_done < r->n_gen) {
        int32_t next = sampler_sample(&r->smp, r->logits, r->ids, n_tok);
        r->ids[n_tok++] = next;
        r->n_done++;
        if (tokenizer_is_eog(r->tok, next)) break;
        int nbytes = tokenizer_token_bytes(r->tok, next, 0, piece, sizeof piece);
        if (nbytes > 0) {
            fwrite(piece, 1, (size_t)(nbytes < (int)sizeof piece ? nbytes : (int)sizeof piece), stdout);
            fflush(stdout);
        }
        if (r->n_done == r->n_gen) break;
        if (llama_session_pos(s) == llama_session_n_ctx(s)) { /* full: shift (--ctx only) */
            const int64_t n_discard = (llama_session_pos(s) - r->n_keep) / 2;
            if (llama_session_shift(s, r->n_keep, n_discard, r->err, sizeof r->err) != 0) {
                fprintf(stderr, "\nrope generate: %s\n", r->err);
                return 1;
            }
            r->n_shifts++;
        }
        if (llama_forward(s, &next, 1, r->logits, 1, r->err, sizeof r->err) != 0) {
            fprintf(stderr, "\nrope generate: %s\n", r->err);
            return 1;
        }
    }
    r->t_gen = now_s() - t2;
    return 0;
}

/* The closing newline on stdout; the model, speeds and cache on stderr. */
static void report(const gen_run *r) {
    const llama_model *m = r->m;
    fputc('\n', stdout);
    fflush(stdout);
    char layers_note[96] = ""; /* Gemma 3: the sliding layers' own RoPE and window */
    int sl = 0;
    if (m->cfg.arch == LLAMA_ARCH_GEMMA3 &&
        rope_model_find_set(&m->cfg.rope_layers, "sliding_attention", &sl) == ROPE_OK)
        snprintf(layers_note, sizeof layers_note, " (sliding layers %g, window %lld)",
                 m->cfg.rope_layers.set[sl].rope_theta, (long long)m->cfg.sliding_window);
    /* Decode speed counts the forward passes: one per generated token but the last. */
    int64_t n_fwd = r->n_done > 0 ? r->n_done - 1 : 0;
    fprintf(stderr,
            "\n[%s: %lld layers, dim %lld, %lld/%lld heads, RoPE %s, base %g%s, kernels %s, "
            "%lld thread%s]\n"
            "[load %.2f s | prompt: %zu tokens, %.1f tokens/s | generation: %lld tokens, %.1f tokens/s]\n"
            "[KV cache: %lld tokens, %s, %lld context shift%s (%lld tokens kept)]\n",
            r->model_path, (long long)m->cfg.n_layers, (long long)m->cfg.dim,
            (long long)m->cfg.n_heads, (long long)m->cfg.n_kv_heads,
            m->cfg.arch == LLAMA_ARCH_GEMMA3 ? "rotate_half" : "interleaved", m->cfg.rope.rope_theta,
            layers_note,
            rope_isa_name(), (long long)r->threads, r->threads == 1 ? "" : "s", r->t_load,
            r->n_prompt, (double)r->n_prompt / r->t_prompt, (long long)r->n_done,
            n_fwd > 0 && r->t_gen > 0 ? (double)n_fwd / r->t_gen : 0.0,
            (long long)llama_session_n_ctx(r->s), kv_name(r->kv_dtype), (long long)r->n_shifts,
            r->n_shifts == 1 ? "" : "s", (long long)r->n_keep);
}

int cmd_generate(int argc, char **argv) {
    generate_opts go;
    int pr = generate_parse_args(argc, argv, &go, stderr);
    if (pr == CLI_OPTS_HELP) {
        usage(stdout);
        return 0;
    }
    if (pr != CLI_OPTS_RUN) {
        usage(stderr);
        return 2;
    }
    gen_run r = {0};
    r.prompt = go.prompt ? go.prompt : DEFAULT_PROMPT;
    r.system = go.system;
    r.n_gen = go.n_gen, r.seed = go.seed, r.threads = go.threads;
    r.temp = go.temp, r.top_p = go.top_p, r.rep = go.rep;
    r.raw = go.raw, r.f32_weights = go.f32_weights;
    r.n_ctx_opt = go.n_ctx;
    r.kv_dtype = go.kv_dtype;

    char pathbuf[4096];
    r.model_path = cli_model_path(go.model_path, pathbuf, sizeof pathbuf, r.err, sizeof r.err);
    if (!r.model_path) {
        fprintf(stderr, "rope generate: %s\n", r.err);
        return 2;
    }
    int rc = load_model(&r);
    if (!rc) rc = tokenize_prompt(&r);
    if (!rc) rc = start_session(&r);
    if (!rc) rc = prefill(&r);
    if (!rc) rc = decode(&r);
    if (!rc) report(&r);
    sampler_free(&r.smp);
    free(r.logits);
    free(r.ids);
    free(r.text);
    llama_session_free(r.s);
    tokenizer_free(r.tok);
    llama_model_free(r.m);
    return rc;
}
