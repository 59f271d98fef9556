/* rope_table_from_cos_sin: caller-given rows are used exactly as given; bad input is refused. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rope.h"

enum { NF = 8, ROWS = 5, D = 2 * NF };

static void rows_equal_the_given_values(void) {
    float c[ROWS * NF], s[ROWS * NF];
    for (int i = 0; i < ROWS * NF; i++) c[i] = 0.25f * (float)i - 3.0f, s[i] = 1.5f - 0.125f * (float)i;
    rope_table *t = NULL;
    CHECK_OK(rope_table_from_cos_sin(c, s, ROWS, NF, &t));
    CHECK_EQ_INT(rope_table_rows(t), ROWS);
    CHECK_EQ_INT(rope_table_n_freqs(t), NF);
    CHECK(t && memcmp(rope_table_cos(t), c, sizeof c) == 0);
    CHECK(t && memcmp(rope_table_sin(t), s, sizeof s) == 0);
    rope_table_free(t);
}

/* A table imported from rope_cos_sin's own rows rotates exactly like rope_table_create's. */
static void imported_rows_apply_like_a_built_table(void) {
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = D;
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(&cfg, 0, &f));
    float c[ROWS * NF], s[ROWS * NF];
    CHECK_OK(rope_cos_sin(&f, NULL, 0, ROWS, ROPE_PRECISION_ACCURATE, c, s));
    rope_table *built = NULL, *imported = NULL;
    CHECK_OK(rope_table_create(&f, ROWS, ROPE_PRECISION_ACCURATE, &built));
    CHECK_OK(rope_table_from_cos_sin(c, s, ROWS, NF, &imported));
    float x[ROWS * 3 * D], y1[ROWS * 3 * D], y2[ROWS * 3 * D];
    for (int i = 0; i < ROWS * 3 * D; i++) x[i] = sinf(0.37f * (float)i);
    for (int style = 1; style <= 2; style++) {
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = (rope_style)style;
        p.rotary_dim = D;
        p.attention_factor = 1.5f;
        rope_tensor tx, t1, t2;
        rope_tensor_contiguous(&tx, x, ROPE_F32, 1, ROWS, 3, D);
        rope_tensor_contiguous(&t1, y1, ROPE_F32, 1, ROWS, 3, D);
        rope_tensor_contiguous(&t2, y2, ROPE_F32, 1, ROWS, 3, D);
        p.table = built;
        CHECK_OK(rope_apply(&p, NULL, &tx, &t1));
        p.table = imported;
        CHECK_OK(rope_apply(&p, NULL, &tx, &t2));
        CHECK(memcmp(y1, y2, sizeof y1) == 0);
    }
    rope_table_free(built);
    rope_table_free(imported);
}

static void bad_input_is_refused_and_out_untouched(void) {
    float c[ROWS * NF] = {0}, s[ROWS * NF] = {0};
    rope_table *t = (rope_table *)&c; /* sentinel: must not be overwritten on error */
    CHECK_STATUS(rope_table_from_cos_sin(NULL, s, ROWS, NF, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_from_cos_sin(c, NULL, ROWS, NF, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_from_cos_sin(c, s, ROWS, NF, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_table_from_cos_sin(c, s, ROWS, 0, &t), ROPE_E_DIM);
    CHECK_STATUS(rope_table_from_cos_sin(c, s, ROWS, ROPE_MAX_FREQS + 1, &t), ROPE_E_DIM);
    CHECK_STATUS(rope_table_from_cos_sin(c, s, 0, NF, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_from_cos_sin(c, s, -1, NF, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_from_cos_sin(c, s, INT64_MAX, NF, &t), ROPE_E_OVERFLOW);
    c[7] = NAN;
    CHECK_STATUS(rope_table_from_cos_sin(c, s, ROWS, NF, &t), ROPE_E_PARAM);
    c[7] = 0;
    s[3] = INFINITY;
    CHECK_STATUS(rope_table_from_cos_sin(c, s, ROWS, NF, &t), ROPE_E_PARAM);
    CHECK(t == (rope_table *)&c);
}

int main(void) {
    rows_equal_the_given_values();
    imported_rows_apply_like_a_built_table();
    bad_input_is_refused_and_out_untouched();
    return check_report("test_table_import");
}
