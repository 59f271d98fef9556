/*
 * libFuzzer harness: Hugging Face config.json reader (tools/lib/config_json.c)
 * and, for every config it accepts, the core's frequency and cos/sin code on
 * that config. Any crash, sanitizer report or leak is a bug: bad input must be
 * an error message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_json.h"
#include "rope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hf_config h;
    char err[256];
    if (hf_config_parse((const char *)data, size, &h, err, sizeof err) != 0) {
        hf_config_free(&h);
        return 0;
    }
    /* An accepted config must give frequencies at its trained length (the
     * reader checked seq_len 0). Dynamic NTK grows the base with seq_len, so a
     * huge rope_theta may overflow float32 further out: that must be a clean
     * ROPE_E_PARAM that leaves the output untouched, never anything else. */
    static const int64_t seqs[] = {0, 1, 4097, 1 << 20};
    static const int64_t pos[] = {0, 1, 4096, 1 << 20};
    rope_freqs *f = malloc(sizeof *f);
    rope_freqs *g = malloc(sizeof *g);
    float *c = NULL, *s = NULL;
    if (!f || !g) goto out;
    if (rope_freqs_compute(&h.rope, 0, f) != ROPE_OK) __builtin_trap();
    /* and a consistent per-layer model: every set computes, every layer maps */
    if (rope_model_validate(&h.model) != ROPE_OK) __builtin_trap();
    for (size_t k = 1; k < sizeof seqs / sizeof seqs[0]; k++) {
        memcpy(g, f, sizeof *f);
        rope_status st = rope_freqs_compute(&h.rope, seqs[k], g);
        if (st == ROPE_OK) continue;
        if (h.rope.type != ROPE_SCALING_DYNAMIC || st != ROPE_E_PARAM) __builtin_trap();
        if (memcmp(g, f, sizeof *f) != 0) __builtin_trap();
    }
    c = malloc(sizeof(float) * 4 * (size_t)f->n_freqs);
    s = malloc(sizeof(float) * 4 * (size_t)f->n_freqs);
    if (c && s) {
        rope_cos_sin(f, pos, 0, 4, ROPE_PRECISION_ACCURATE, c, s);
        rope_cos_sin(f, pos, 0, 4, ROPE_PRECISION_COMPAT_F32, c, s);
    }
out:
    free(c);
    free(s);
    free(f);
    free(g);
    hf_config_free(&h);
    return 0;
}
