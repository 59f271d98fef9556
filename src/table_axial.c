/*
 * Axial (2-D / 3-D vision) cos/sin tables from per-token coordinates: one generic
 * builder for the vision towers whose heads rotate different frequency columns by
 * different coordinates (Qwen2/2.5/3-VL: [θ·h | θ·w]; Pixtral: [θ_even·h | θ_odd·w];
 * a column may also be left unrotated). Every entry is computed by rope_cos_sin,
 * so it is bit for bit the plain table's entry for that coordinate and θ.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rope.h"

#define ROPE_MAX_AXES 8

static rope_status check_maps(const rope_freqs *f, int n_axes, const int *axis, const int *freq,
                              int64_t n_cols) {
    if (n_axes < 1 || n_axes > ROPE_MAX_AXES) return ROPE_E_PARAM;
    if (n_cols < 1 || n_cols > ROPE_MAX_FREQS) return ROPE_E_DIM;
    for (int64_t i = 0; i < n_cols; i++) {
        if (axis[i] < -1 || axis[i] >= n_axes) return ROPE_E_PARAM;
        if (axis[i] >= 0 && (freq[i] < 0 || freq[i] >= f->n_freqs)) return ROPE_E_PARAM;
    }
    return ROPE_OK;
}

rope_status rope_table_create_axial(const rope_freqs *f, const int64_t *coords, int n_axes, int64_t n,
                                    const int *axis, const int *freq, int64_t n_cols,
                                    rope_precision precision, rope_table **out) {
    if (!f || !coords || !axis || !freq || !out) return ROPE_E_NULL;
    if (f->n_freqs <= 0 || f->n_freqs > ROPE_MAX_FREQS) return ROPE_E_DIM;
    if (n <= 0) return ROPE_E_PARAM;
    rope_status st = check_maps(f, n_axes, axis, freq, n_cols);
    if (st != ROPE_OK) return st;
    const int64_t nf = f->n_freqs;
    /* n_axes·n·nf (each plane's plain rows) and n·n_cols floats, twice: overflow-checked */
    if ((uint64_t)n > (SIZE_MAX / 4 / sizeof(float)) / (uint64_t)(ROPE_MAX_AXES * ROPE_MAX_FREQS))
        return ROPE_E_OVERFLOW;
    size_t plane = (size_t)n * (size_t)nf, outsz = (size_t)n * (size_t)n_cols;
    float *ca = malloc(2 * (size_t)n_axes * plane * sizeof(float));
    float *co = malloc(2 * outsz * sizeof(float));
    if (!ca || !co) {
        free(ca);
        free(co);
        return ROPE_E_NOMEM;
    }
    float *sa = ca + (size_t)n_axes * plane, *so = co + outsz;
    for (int a = 0; a < n_axes && st == ROPE_OK; a++)
        st = rope_cos_sin(f, coords + (int64_t)a * n, 0, n, precision, ca + (size_t)a * plane,
                          sa + (size_t)a * plane);
    if (st == ROPE_OK) {
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < n_cols; i++) {
                size_t o = (size_t)(r * n_cols + i);
                if (axis[i] < 0) { /* unrotated column: identity pair */
                    co[o] = 1.0f;
                    so[o] = 0.0f;
                    continue;
                }
                size_t k = (size_t)axis[i] * plane + (size_t)(r * nf + freq[i]);
                co[o] = ca[k];
                so[o] = sa[k];
            }
        st = rope_table_from_cos_sin(co, so, n, n_cols, out);
    }
    free(ca);
    free(co);
    return st;
}
