/*
 * librope in one page: the frequencies of a Llama 3.1 config, a cos/sin table,
 * q and k of grouped-query attention rotated in the Hugging Face (half)
 * convention, and the property RoPE exists for: q·k depends only on the
 * distance between the two positions. Exits 1 if that fails.
 *
 *   cc examples/quickstart.c -Iinclude build/src/librope.a -lm -lpthread
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rope.h"

#define SEQ 64
#define NQ 4 /* query heads */
#define NK 1 /* key heads: grouped-query attention, 4 q heads per kv head */
#define D 128

static int fail(const char *what, rope_status st) {
    fprintf(stderr, "quickstart: %s: %s\n", what, rope_strerror(st));
    return 1;
}

int main(void) {
    /* Llama-3.1-8B: rope_scaling {"rope_type": "llama3", "factor": 8, ...} */
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.type = ROPE_SCALING_LLAMA3;
    cfg.rope_theta = 500000.0;
    cfg.head_dim = D;
    cfg.factor = 8.0;
    cfg.low_freq_factor = 1.0;
    cfg.high_freq_factor = 4.0;
    cfg.original_max_position_embeddings = 8192;

    rope_freqs *f = malloc(sizeof *f);
    if (!f) return 1;
    rope_status st = rope_freqs_compute(&cfg, 0, f);
    if (st != ROPE_OK) return fail("rope_freqs_compute", st);

    rope_table *table;
    st = rope_table_create(f, 8192, ROPE_PRECISION_ACCURATE, &table);
    if (st != ROPE_OK) return fail("rope_table_create", st);

    /* q: (batch 1, seq, NQ heads, D), k: (1, seq, NK, D), contiguous. Every
     * token carries the same vectors, so only the rotation differs. */
    static float q[SEQ * NQ * D], k[SEQ * NK * D];
    srand(1);
    float q0[D], k0[D];
    for (int i = 0; i < D; i++) {
        q0[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
        k0[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
    }
    for (int s = 0; s < SEQ; s++) {
        for (int h = 0; h < NQ; h++)
            for (int i = 0; i < D; i++) q[(s * NQ + h) * D + i] = q0[i];
        for (int i = 0; i < D; i++) k[s * D + i] = k0[i];
    }
    rope_tensor tq, tk;
    rope_tensor_contiguous(&tq, q, ROPE_F32, 1, SEQ, NQ, D);
    rope_tensor_contiguous(&tk, k, ROPE_F32, 1, SEQ, NK, D);

    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_HALF; /* Hugging Face checkpoints; Meta/GGUF weights: INTERLEAVED */
    p.table = table;
    p.rotary_dim = 2 * f->n_freqs;
    p.attention_factor = (float)f->attention_factor;
    rope_positions pos = {.offset = 1000}; /* tokens at positions 1000 .. 1063 */
    st = rope_apply_qk(&p, &pos, &tq, &tq, &tk, &tk); /* in place */
    if (st != ROPE_OK) return fail("rope_apply_qk", st);

    /* q at token a, k at token b: the score depends on a - b only. */
    double ref = 0, worst = 0;
    for (int a = 10, b = 3; a < SEQ; a += 7, b += 7) {
        double dot = 0;
        for (int i = 0; i < D; i++) dot += (double)q[(a * NQ + 2) * D + i] * k[b * D + i];
        if (a == 10) ref = dot;
        worst = fmax(worst, fabs(dot - ref));
        printf("q at %4d, k at %4d (distance 7): q.k = %+.6f\n", 1000 + a, 1000 + b, dot);
    }
    printf("kernels: %s, largest spread: %.2e\n", rope_isa_name(), worst);

    /* Bad input is a status, never a crash: a position beyond the table. */
    rope_positions far = {.offset = 8192};
    st = rope_apply_qk(&p, &far, &tq, &tq, &tk, &tk);
    printf("position 8192 in an 8192-row table: %s\n", rope_strerror(st));

    rope_table_free(table);
    free(f);
    return worst < 1e-4 && st == ROPE_E_POSITION ? 0 : 1;
}
