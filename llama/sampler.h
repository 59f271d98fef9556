/*
 * Choosing the next token from logits: greedy (argmax) or temperature +
 * nucleus (top-p) sampling with a seeded PRNG (PCG32, O'Neill 2014), so a
 * given seed always gives the same text. An optional repetition penalty
 * (CTRL, Keskar et al. 2019: positive logits divided by r, negative ones
 * multiplied) applies to the last `window` tokens before either rule.
 */
#ifndef ROPE_LLAMA_SAMPLER_H
#define ROPE_LLAMA_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sampler {
    int64_t vocab;
    float temperature;      /* 0 = greedy */
    float top_p;            /* in (0, 1]; 1 = whole distribution */
    float repeat_penalty;   /* 1 = off */
    int64_t repeat_window;  /* how many recent tokens the penalty looks at */
    uint64_t state, inc;    /* PCG32 */
    struct sampler_item { float p; int32_t id; } *buf; /* vocab entries */
} sampler;

/* 0 on success, -1 on bad parameters or out of memory. */
int sampler_init(sampler *s, int64_t vocab, float temperature, float top_p, float repeat_penalty,
                 int64_t repeat_window, uint64_t seed);
void sampler_free(sampler *s);

/* A uniform 32-bit number / a float in [0, 1). */
uint32_t sampler_rand_u32(sampler *s);
float sampler_rand_f32(sampler *s);

/* Pick the next token. logits (vocab floats) may be modified by the penalty.
 * recent: the tokens so far (the penalty looks at the last repeat_window). */
int32_t sampler_sample(sampler *s, float *logits, const int32_t *recent, int64_t n_recent);

/* Index of the largest logit (the lowest index among ties). */
int32_t sampler_argmax(const float *logits, int64_t n);

#endif
