/*
 * The context-extension lab (`rope lab`): what each RoPE scaling does to a
 * real model past its trained context.
 *
 *   lab_scaling_config  the RoPE a user would configure for a scaling type and
 *                       a factor (factor = target length / trained context)
 *   lab_ppl             perplexity of a token stream with windows of L tokens
 *                       (Hugging Face's strided sliding window, the same
 *                       arithmetic as `rope ppl`)
 *   lab_passkey_*       the passkey-retrieval test: a 5-digit number hidden at
 *                       a random depth in filler text, asked for at the end
 *
 * Errors are values: 0 on success, -1 with a one-line reason in err.
 */
#ifndef ROPE_LLAMA_LAB_H
#define ROPE_LLAMA_LAB_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The scalings the lab compares. NTK is the static "NTK-aware" base change
 * of the YaRN paper's comparisons (θ' = θ·s^(R/(R-2)), R = rotary dims; what
 * Code Llama's larger θ amounts to), not a transformers rope_type. */
typedef enum lab_scaling {
    LAB_NONE = 0,
    LAB_LINEAR,
    LAB_NTK,
    LAB_DYNAMIC,
    LAB_YARN,
    LAB_LLAMA3,
    LAB_N_SCALINGS
} lab_scaling;

const char *lab_scaling_name(lab_scaling s);
/* -1 when the name is none of the above. */
int lab_scaling_from_name(const char *name);

/* The RoPE of `base` (the model's own, unscaled) with scaling s and factor
 * (>= 1) on a model trained at `trained` tokens, as a user sets it in a
 * config.json rope_scaling: linear/dynamic/yarn/llama3 with that factor and
 * original_max_position_embeddings = trained (yarn: β 32/1 and its default
 * attention factor; llama3: low/high frequency factors 1 and 4). */
int lab_scaling_config(const rope_config *base, int64_t rotary_dim, int64_t trained,
                       lab_scaling s, double factor, rope_config *out, char *err, size_t errlen);

/* A short public-domain passage (Genesis 1-2:3, King James Version, ~4.4 kB)
 * for quick runs and CI: malloc'd, NUL-terminated (free() it); NULL if out of
 * memory. */
char *lab_builtin_text(void);

typedef void (*lab_progress_fn)(void *ctx, const char *line);

typedef struct lab_ppl_result {
    double nll;          /* sum of -log p over the scored tokens */
    int64_t n_scored;
    int64_t n_windows;
    double seconds;
} lab_ppl_result;

/*
 * Perplexity of ids[0..n) with windows of `window` tokens every `stride`
 * tokens (each window from position 0 with an empty cache; only tokens not
 * scored by an earlier window count; a window's first token is never scored).
 * bos >= 0: that token is put before every window (the window then holds
 * window - 1 text tokens), for models that expect it. The session's context
 * must hold `window` tokens. logits: max_batch × vocab floats of scratch.
 */
int lab_ppl(llama_session *s, const int32_t *ids, int64_t n, int64_t window, int64_t stride,
            int32_t bos, float *logits, lab_progress_fn progress, void *pctx,
            lab_ppl_result *res, char *err, size_t errlen);

/*
 * The YaRN paper's protocol: for each length L, the perplexity of the first L
 * tokens in one window of L (BOS first when bos >= 0: then L - 1 text tokens;
 * a window's first token is never scored). lengths ascending; res[i] for
 * lengths[i]. One window of the longest length gives them all, since with
 * causal attention and a RoPE that depends on the position only (every
 * scaling but dynamic NTK, whose base follows the sequence length) a token's
 * logits do not depend on the tokens after it: the numbers equal k separate
 * windows. res[i].seconds is the time to reach that length.
 */
int lab_ppl_prefixes(llama_session *s, const int32_t *ids, int64_t n, const int64_t *lengths,
                     int k, int32_t bos, float *logits, lab_progress_fn progress, void *pctx,
                     lab_ppl_result *res, char *err, size_t errlen);

/* One passkey prompt of at most `length` tokens (BOS included when bos >= 0),
 * leaving room for the answer: the key (10000..99999) and the depth (the
 * number of filler sentences before the needle, 0..n_filler) come from the
 * caller's random draws. */
typedef struct lab_passkey_prompt {
    int32_t *ids;
    int64_t n;
    int key;
    int64_t depth, n_filler;   /* needle after `depth` of `n_filler` filler units */
} lab_passkey_prompt;

int lab_passkey_build(const tokenizer *tok, int64_t length, int32_t bos, int key, double depth01,
                      lab_passkey_prompt *out, char *err, size_t errlen);
void lab_passkey_free(lab_passkey_prompt *p);

/* Run the prompt through a fresh session, decode greedily up to 8 tokens and
 * report whether the answer starts with the key (leading spaces skipped).
 * answer receives the decoded continuation (NUL-terminated, cut to cap). */
int lab_passkey_run(llama_session *s, const tokenizer *tok, const lab_passkey_prompt *p,
                    float *logits, int *correct, char *answer, size_t cap, char *err,
                    size_t errlen);

/* A xorshift64* generator for the seeded trials (same draws on every machine). */
typedef struct lab_rng {
    uint64_t s;
} lab_rng;
void lab_rng_seed(lab_rng *r, uint64_t seed);
double lab_rng_uniform(lab_rng *r);   /* [0, 1) */

#ifdef __cplusplus
}
#endif

#endif
