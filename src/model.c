/*
 * Per-layer RoPE (rope_model): frequency sets named by layer type, a layer ->
 * set map with NoPE layers, and the position-dependent query scaling of
 * Llama 4 / Ministral 3. Plain bookkeeping over rope_freqs_compute.
 */
#include <math.h>
#include <string.h>

#include "rope.h"

void rope_model_init(rope_model *m) {
    if (!m) return;
    memset(m, 0, sizeof *m);
    m->query_scaling = ROPE_QUERY_SCALING_NONE;
    m->query_scaling_floor = 1;
}

/* Non-empty and shorter than ROPE_SET_NAME_MAX (read byte by byte: never past its NUL). */
static int name_ok(const char *name) {
    if (!name || !name[0]) return 0;
    for (int k = 0; k < ROPE_SET_NAME_MAX; k++)
        if (name[k] == '\0') return 1;
    return 0;
}

rope_status rope_model_find_set(const rope_model *m, const char *name, int *index) {
    if (!m || !name || !index) return ROPE_E_NULL;
    if (m->n_sets < 0 || m->n_sets > ROPE_MAX_SETS) return ROPE_E_PARAM;
    for (int s = 0; s < m->n_sets; s++) {
        if (strncmp(m->set_name[s], name, ROPE_SET_NAME_MAX) == 0) {
            *index = s;
            return ROPE_OK;
        }
    }
    return ROPE_E_PARAM;
}

rope_status rope_model_add_set(rope_model *m, const char *name, const rope_config *cfg, int *index) {
    if (!m || !name || !cfg) return ROPE_E_NULL;
    if (m->n_sets < 0 || m->n_sets > ROPE_MAX_SETS) return ROPE_E_PARAM;
    if (!name_ok(name)) return ROPE_E_PARAM;
    int dup;
    if (rope_model_find_set(m, name, &dup) == ROPE_OK) return ROPE_E_PARAM;
    if (m->n_sets == ROPE_MAX_SETS) return ROPE_E_CAPACITY;
    int s = m->n_sets;
    memset(m->set_name[s], 0, ROPE_SET_NAME_MAX);
    memcpy(m->set_name[s], name, strlen(name));
    m->set[s] = *cfg;
    m->n_sets = s + 1;
    if (index) *index = s;
    return ROPE_OK;
}

rope_status rope_model_layer_set(const rope_model *m, int64_t layer, int *set) {
    if (!m || !set) return ROPE_E_NULL;
    if (m->n_sets < 0 || m->n_sets > ROPE_MAX_SETS) return ROPE_E_PARAM;
    if (m->n_layers < 0 || m->n_layers > ROPE_MAX_LAYERS) return ROPE_E_PARAM;
    if (layer < 0) return ROPE_E_PARAM;
    if (m->n_layers == 0) {
        if (m->n_sets != 1) return ROPE_E_PARAM; /* no map: only a one-set model is unambiguous */
        *set = 0;
        return ROPE_OK;
    }
    if (layer >= m->n_layers) return ROPE_E_PARAM;
    int s = m->layer_set[layer];
    if (s != ROPE_LAYER_NOPE && (s < 0 || s >= m->n_sets)) return ROPE_E_PARAM;
    *set = s;
    return ROPE_OK;
}

rope_status rope_model_set_freqs(const rope_model *m, int set, int64_t seq_len, rope_freqs *out) {
    if (!m || !out) return ROPE_E_NULL;
    if (m->n_sets < 0 || m->n_sets > ROPE_MAX_SETS || set < 0 || set >= m->n_sets)
        return ROPE_E_PARAM;
    return rope_freqs_compute(&m->set[set], seq_len, out);
}

rope_status rope_model_layer_freqs(const rope_model *m, int64_t layer, int64_t seq_len,
                                   rope_freqs *out, int *rotated) {
    if (!m || !out || !rotated) return ROPE_E_NULL;
    int s;
    rope_status st = rope_model_layer_set(m, layer, &s);
    if (st != ROPE_OK) return st;
    if (s == ROPE_LAYER_NOPE) {
        *rotated = 0;
        return ROPE_OK;
    }
    st = rope_model_set_freqs(m, s, seq_len, out);
    if (st != ROPE_OK) return st;
    *rotated = 1;
    return ROPE_OK;
}

/* Query scaling parameters in their domain, and the scale finite at every
 * position query_scale accepts (up to 2^53): ln grows with the position, so
 * the largest one decides; a finite beta of 1e307 still gives Inf there. */
static int query_scaling_ok(const rope_model *m) {
    if (m->query_scaling_floor < 1 || m->query_scaling_pos_offset < 0 ||
        m->query_scaling_pos_offset > 1 || !isfinite(m->query_scaling_beta))
        return 0;
    int64_t q = (((int64_t)1 << 53) + m->query_scaling_pos_offset) / m->query_scaling_floor;
    return isfinite(1.0 + m->query_scaling_beta * log1p((double)q));
}

rope_status rope_model_validate(const rope_model *m) {
    if (!m) return ROPE_E_NULL;
    if (m->n_sets < 1 || m->n_sets > ROPE_MAX_SETS) return ROPE_E_PARAM;
    if (m->n_layers < 0 || m->n_layers > ROPE_MAX_LAYERS) return ROPE_E_PARAM;
    for (int s = 0; s < m->n_sets; s++) {
        if (!name_ok(m->set_name[s])) return ROPE_E_PARAM;
        for (int t = 0; t < s; t++)
            if (strncmp(m->set_name[s], m->set_name[t], ROPE_SET_NAME_MAX) == 0) return ROPE_E_PARAM;
        rope_freqs f;
        rope_status st = rope_freqs_compute(&m->set[s], 0, &f);
        if (st != ROPE_OK) return st;
    }
    for (int64_t l = 0; l < m->n_layers; l++) {
        int s = m->layer_set[l];
        if (s != ROPE_LAYER_NOPE && (s < 0 || s >= m->n_sets)) return ROPE_E_PARAM;
    }
    switch (m->query_scaling) {
    case ROPE_QUERY_SCALING_NONE: break;
    case ROPE_QUERY_SCALING_NOPE_LAYERS:
    case ROPE_QUERY_SCALING_ALL_LAYERS:
        if (!query_scaling_ok(m)) return ROPE_E_PARAM;
        break;
    default: return ROPE_E_PARAM;
    }
    return ROPE_OK;
}

/*
 * 1 + beta·ln(1 + floor((pos + offset) / floor_scale)). Evaluated in double:
 * the floor of an exact integer quotient, then log1p. transformers computes
 * the same formula in float32 (within a few float32 ulp of this).
 */
rope_status rope_model_query_scale(const rope_model *m, int64_t layer, int64_t pos, double *scale) {
    if (!m || !scale) return ROPE_E_NULL;
    if (pos < 0 || pos > ((int64_t)1 << 53)) return ROPE_E_POSITION;
    int s;
    rope_status st = rope_model_layer_set(m, layer, &s);
    if (st != ROPE_OK) return st;
    if ((unsigned)m->query_scaling > ROPE_QUERY_SCALING_ALL_LAYERS) return ROPE_E_PARAM;
    int on = m->query_scaling == ROPE_QUERY_SCALING_ALL_LAYERS ||
             (m->query_scaling == ROPE_QUERY_SCALING_NOPE_LAYERS && s == ROPE_LAYER_NOPE);
    if (m->query_scaling != ROPE_QUERY_SCALING_NONE && !query_scaling_ok(m)) return ROPE_E_PARAM;
    if (!on) {
        *scale = 1.0;
        return ROPE_OK;
    }
    int64_t q = (pos + m->query_scaling_pos_offset) / m->query_scaling_floor;
    *scale = 1.0 + m->query_scaling_beta * log1p((double)q);
    return ROPE_OK;
}
