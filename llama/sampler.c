#include "sampler.h"

#include <math.h>
#include <stdlib.h>

int sampler_init(sampler *s, int64_t vocab, float temperature, float top_p, float repeat_penalty,
                 int64_t repeat_window, uint64_t seed) {
    if (!s || vocab < 1 || !(temperature >= 0.0f) || !isfinite(temperature) || !(top_p > 0.0f) ||
        !(top_p <= 1.0f) || !(repeat_penalty > 0.0f) || !isfinite(repeat_penalty) ||
        repeat_window < 0)
        return -1;
    s->vocab = vocab;
    s->temperature = temperature;
    s->top_p = top_p;
    s->repeat_penalty = repeat_penalty;
    s->repeat_window = repeat_window;
    /* PCG32 seeding as in the reference pcg32_srandom_r. */
    s->state = 0;
    s->inc = (seed << 1u) | 1u;
    sampler_rand_u32(s);
    s->state += seed ^ 0x853c49e6748fea9bULL;
    sampler_rand_u32(s);
    s->buf = malloc((size_t)vocab * sizeof *s->buf);
    return s->buf ? 0 : -1;
}

void sampler_free(sampler *s) {
    if (s) {
        free(s->buf);
        s->buf = NULL;
    }
}

uint32_t sampler_rand_u32(sampler *s) {
    uint64_t old = s->state;
    s->state = old * 6364136223846793005ULL + s->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

float sampler_rand_f32(sampler *s) {
    return (float)(sampler_rand_u32(s) >> 8) * (1.0f / 16777216.0f);
}

int32_t sampler_argmax(const float *logits, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return (int32_t)best;
}

static int cmp_desc(const void *a, const void *b) {
    const struct sampler_item *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id; /* stable order among ties */
}

int32_t sampler_sample(sampler *s, float *logits, const int32_t *recent, int64_t n_recent) {
    if (s->repeat_penalty != 1.0f && recent) {
        int64_t from = n_recent > s->repeat_window ? n_recent - s->repeat_window : 0;
        /* Each distinct token once, however often it occurred. */
        for (int64_t i = from; i < n_recent; i++) {
            int32_t id = recent[i];
            if (id < 0 || id >= s->vocab) continue;
            int seen = 0;
            for (int64_t j = from; j < i && !seen; j++) seen = recent[j] == id;
            if (seen) continue;
            logits[id] = logits[id] > 0 ? logits[id] / s->repeat_penalty
                                        : logits[id] * s->repeat_penalty;
        }
    }
    if (s->temperature == 0.0f) return sampler_argmax(logits, s->vocab);

    /* softmax(logits / T) */
    float mx = logits[0];
    for (int64_t i = 1; i < s->vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int64_t i = 0; i < s->vocab; i++) {
        float p = expf((logits[i] - mx) / s->temperature);
        s->buf[i].p = p;
        s->buf[i].id = (int32_t)i;
        sum += p;
    }
    /* Nucleus: the smallest set of most likely tokens whose mass reaches
     * top_p (Holtzman et al. 2020). Candidates below (1 - top_p)/(V - 1)
     * cannot be in it, which keeps the sort short. */
    int64_t n = s->vocab;
    if (s->top_p < 1.0f) {
        const float cutoff = (float)((1.0 - s->top_p) / (double)(s->vocab - 1 > 0 ? s->vocab - 1 : 1) * sum);
        int64_t k = 0;
        for (int64_t i = 0; i < s->vocab; i++)
            if (s->buf[i].p >= cutoff) s->buf[k++] = s->buf[i];
        n = k;
        qsort(s->buf, (size_t)n, sizeof *s->buf, cmp_desc);
        double acc = 0.0;
        int64_t last = n - 1;
        for (int64_t i = 0; i < n; i++) {
            acc += s->buf[i].p;
            if (acc >= s->top_p * sum) {
                last = i;
                break;
            }
        }
        n = last + 1;
        sum = 0.0;
        for (int64_t i = 0; i < n; i++) sum += s->buf[i].p;
    }
    const double r = (double)sampler_rand_f32(s) * sum;
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        acc += s->buf[i].p;
        if (r < acc) return s->buf[i].id;
    }
    return s->buf[n - 1].id;
}
