/*
 * rope_model (per-layer RoPE): sets by name, the layer map with NoPE layers,
 * frequencies per layer equal to rope_freqs_compute of the layer's set, query
 * scaling (Llama 4 / Ministral 3 formula), and every bad use refused without
 * touching the output.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rope.h"

static void two_sets_and_nope(void) {
    rope_model m;
    rope_model_init(&m);
    CHECK_EQ_INT(m.n_sets, 0);
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM); /* no set */
    rope_config local, global;
    rope_config_init(&local);
    local.head_dim = 256;
    rope_config_init(&global);
    global.head_dim = 256;
    global.rope_theta = 1e6;
    global.type = ROPE_SCALING_LINEAR;
    global.factor = 8;
    int a = -1, b = -1;
    CHECK_OK(rope_model_add_set(&m, "sliding_attention", &local, &a));
    CHECK_OK(rope_model_add_set(&m, "full_attention", &global, &b));
    CHECK(a == 0 && b == 1);
    CHECK_STATUS(rope_model_add_set(&m, "full_attention", &global, NULL), ROPE_E_PARAM); /* duplicate */
    CHECK_STATUS(rope_model_add_set(&m, "", &global, NULL), ROPE_E_PARAM);
    char longname[ROPE_SET_NAME_MAX + 1];
    memset(longname, 'x', sizeof longname - 1);
    longname[ROPE_SET_NAME_MAX] = '\0';
    CHECK_STATUS(rope_model_add_set(&m, longname, &global, NULL), ROPE_E_PARAM);
    int idx = -1;
    CHECK_OK(rope_model_find_set(&m, "full_attention", &idx));
    CHECK_EQ_INT(idx, 1);
    CHECK_STATUS(rope_model_find_set(&m, "chunked_attention", &idx), ROPE_E_PARAM);

    /* n_layers 0 with two sets: which set a layer uses is unknown */
    int s = 7;
    CHECK_STATUS(rope_model_layer_set(&m, 0, &s), ROPE_E_PARAM);
    CHECK_EQ_INT(s, 7);

    /* Gemma 3's 5:1 pattern, with layer 3 made NoPE */
    m.n_layers = 12;
    for (int l = 0; l < 12; l++) m.layer_set[l] = (int16_t)((l + 1) % 6 ? a : b);
    m.layer_set[3] = ROPE_LAYER_NOPE;
    CHECK_OK(rope_model_validate(&m));
    CHECK_OK(rope_model_layer_set(&m, 5, &s));
    CHECK_EQ_INT(s, b);
    CHECK_OK(rope_model_layer_set(&m, 3, &s));
    CHECK_EQ_INT(s, ROPE_LAYER_NOPE);
    CHECK_STATUS(rope_model_layer_set(&m, 12, &s), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_layer_set(&m, -1, &s), ROPE_E_PARAM);

    rope_freqs f, want, sentinel;
    memset(&sentinel, 0x5a, sizeof sentinel);
    int rotated = -1;
    CHECK_OK(rope_model_layer_freqs(&m, 11, 0, &f, &rotated));
    CHECK_EQ_INT(rotated, 1);
    CHECK_OK(rope_freqs_compute(&global, 0, &want));
    CHECK(memcmp(f.inv_freq, want.inv_freq, sizeof want.inv_freq) == 0);
    CHECK(f.inv_freq[0] == 1.0 / 8);
    CHECK_OK(rope_model_layer_freqs(&m, 0, 0, &f, &rotated));
    CHECK(f.inv_freq[0] == 1.0 && f.inv_freq[1] == pow(1e4, -2.0 / 256));
    f = sentinel;
    CHECK_OK(rope_model_layer_freqs(&m, 3, 0, &f, &rotated));
    CHECK_EQ_INT(rotated, 0);
    CHECK(memcmp(&f, &sentinel, sizeof f) == 0); /* NoPE: untouched */
    CHECK_OK(rope_model_set_freqs(&m, a, 0, &f));
    CHECK_STATUS(rope_model_set_freqs(&m, 2, 0, &f), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_layer_freqs(&m, 0, 0, NULL, &rotated), ROPE_E_NULL);

    /* a bad map or a bad set is caught by validate */
    m.layer_set[4] = 2;
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_layer_set(&m, 4, &s), ROPE_E_PARAM);
    m.layer_set[4] = (int16_t)a;
    m.set[a].rope_theta = -1;
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    m.set[a].rope_theta = 1e4;
    m.n_layers = ROPE_MAX_LAYERS + 1;
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    m.n_layers = 12;

    /* full: ROPE_MAX_SETS sets at most */
    char name[16];
    for (int k = m.n_sets; k < ROPE_MAX_SETS; k++) {
        snprintf(name, sizeof name, "t%d", k);
        CHECK_OK(rope_model_add_set(&m, name, &local, NULL));
    }
    CHECK_STATUS(rope_model_add_set(&m, "one_more", &local, NULL), ROPE_E_CAPACITY);
}

static void one_set_no_map(void) {
    rope_model m;
    rope_model_init(&m);
    rope_config c;
    rope_config_init(&c);
    c.head_dim = 64;
    CHECK_OK(rope_model_add_set(&m, "full_attention", &c, NULL));
    int s = -5;
    CHECK_OK(rope_model_layer_set(&m, 1000, &s)); /* unknown depth: every layer is set 0 */
    CHECK_EQ_INT(s, 0);
    double q = 0;
    CHECK_OK(rope_model_query_scale(&m, 3, 100000, &q));
    CHECK(q == 1.0);
}

/* Llama 4: 1 + 0.1·ln(1 + floor((pos + 1)/8192)) on NoPE layers only;
 * Ministral 3: 1 + beta·ln(1 + floor(pos/orig)) on every layer. */
static void query_scaling(void) {
    rope_model m;
    rope_model_init(&m);
    rope_config c;
    rope_config_init(&c);
    c.head_dim = 128;
    CHECK_OK(rope_model_add_set(&m, "chunked_attention", &c, NULL));
    m.n_layers = 8;
    for (int l = 0; l < 8; l++) m.layer_set[l] = (int16_t)((l + 1) % 4 ? 0 : ROPE_LAYER_NOPE);
    m.query_scaling = ROPE_QUERY_SCALING_NOPE_LAYERS;
    m.query_scaling_beta = 0.1;
    m.query_scaling_floor = 8192;
    m.query_scaling_pos_offset = 1;
    CHECK_OK(rope_model_validate(&m));
    double q = 0;
    CHECK_OK(rope_model_query_scale(&m, 3, 8190, &q));
    CHECK(q == 1.0);                                   /* floor(8191/8192) = 0 */
    CHECK_OK(rope_model_query_scale(&m, 3, 8191, &q));
    CHECK(q == 1.0 + 0.1 * log(2.0));                  /* floor(8192/8192) = 1 */
    CHECK_OK(rope_model_query_scale(&m, 7, 131071, &q));
    CHECK(q == 1.0 + 0.1 * log(17.0));                 /* 131072/8192 = 16 */
    CHECK_OK(rope_model_query_scale(&m, 2, 131071, &q));
    CHECK(q == 1.0);                                   /* a RoPE layer: none */
    CHECK_STATUS(rope_model_query_scale(&m, 2, -1, &q), ROPE_E_POSITION);
    m.query_scaling = ROPE_QUERY_SCALING_ALL_LAYERS;
    m.query_scaling_pos_offset = 0;
    m.query_scaling_floor = 16384;
    CHECK_OK(rope_model_query_scale(&m, 2, 16383, &q));
    CHECK(q == 1.0);
    CHECK_OK(rope_model_query_scale(&m, 2, 16384 * 3, &q));
    CHECK(q == 1.0 + 0.1 * log(4.0));
    m.query_scaling_floor = 0;
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_query_scale(&m, 2, 5, &q), ROPE_E_PARAM);
    m.query_scaling_floor = 1;
    m.query_scaling = (rope_query_scaling_type)9;
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_query_scale(&m, 2, 5, &q), ROPE_E_PARAM);
}

int main(void) {
    two_sets_and_nope();
    one_set_no_map();
    query_scaling();
    return check_report("test_model");
}
