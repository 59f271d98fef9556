/*
 * Tables from caller-given cos/sin rows: the bridge for drop-in replacements of
 * peers that hand over their own cos/sin (Hugging Face apply_rotary_pos_emb,
 * Meta's freqs_cis), so the library rotates with exactly the caller's values.
 */
#include <math.h>
#include <string.h>

#include "rope.h"
#include "checks.h"

rope_status rope_table_from_cos_sin(const float *cos_rows, const float *sin_rows, int64_t rows,
                                    int64_t n_freqs, rope_table **out) {
    if (!cos_rows || !sin_rows || !out) return ROPE_E_NULL;
    if (n_freqs <= 0 || n_freqs > ROPE_MAX_FREQS) return ROPE_E_DIM;
    if (rows <= 0) return ROPE_E_PARAM;
    /* both arrays proven possible before the first element is read */
    if (rows > INT64_MAX / n_freqs || !rope_array_fits(cos_rows, rows * n_freqs, sizeof(float)) ||
        !rope_array_fits(sin_rows, rows * n_freqs, sizeof(float)))
        return ROPE_E_OVERFLOW;
    for (int64_t i = 0; i < rows * n_freqs; i++)
        if (!isfinite(cos_rows[i]) || !isfinite(sin_rows[i])) return ROPE_E_PARAM;

    /* Zero frequencies allocate a table of the right size through the one
     * allocator (table.c); its rows are then replaced by the caller's. */
    rope_freqs f;
    memset(&f, 0, sizeof f);
    f.type = ROPE_SCALING_DEFAULT;
    f.head_dim = 2 * n_freqs;
    f.rotary_dim = 2 * n_freqs;
    f.n_freqs = n_freqs;
    f.attention_factor = 1.0;
    f.softmax_scale_factor = 1.0;
    rope_table *t = NULL;
    rope_status st = rope_table_create(&f, rows, ROPE_PRECISION_COMPAT_F32, &t);
    if (st != ROPE_OK) return st;
    /* The table's arrays are the library's own mutable allocation, rows × n_freqs
     * each (rope.h); const only guards them from callers. */
    memcpy((float *)rope_table_cos(t), cos_rows, (size_t)(rows * n_freqs) * sizeof(float));
    memcpy((float *)rope_table_sin(t), sin_rows, (size_t)(rows * n_freqs) * sizeof(float));
    *out = t;
    return ROPE_OK;
}
