/*
 * config.json reader: every bundled real config maps to the expected
 * rope_config fields; HF's plumbing rules (rope_scaling vs rope_parameters,
 * `type` alias, theta inside/outside, NeoX rotary_pct/rotary_emb_base, Phi-3
 * top-level original_max_position_embeddings, DeepSeek qk_rope_head_dim,
 * text_config) hold; malformed or wrong-typed JSON gives an error message.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config_json.h"
#include "rope.h"

static char err[512];

static int load(const char *name, hf_config *h) {
    char path[256];
    snprintf(path, sizeof path, "data/configs/%s", name);
    int rc = hf_config_load(path, h, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", name, err);
    return rc;
}

static int parse(const char *json, hf_config *h) {
    return hf_config_parse(json, strlen(json), h, err, sizeof err);
}

static void bundled(void) {
    hf_config h;

    if (load("llama2_7b.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.type, ROPE_SCALING_DEFAULT);
        CHECK(h.rope.rope_theta == 10000.0); /* absent: HF default */
        CHECK_EQ_INT(h.head_dim, 128);
        CHECK_EQ_INT(h.rotary_dim, 128);
        CHECK_EQ_INT(h.num_key_value_heads, 32);
        CHECK_EQ_INT(h.max_position_embeddings, 4096);
        CHECK_EQ_INT(h.style, ROPE_STYLE_HALF);
        CHECK(strcmp(h.model_type, "llama") == 0);
    }
    hf_config_free(&h);

    if (load("codellama_7b.json", &h) == 0) CHECK(h.rope.rope_theta == 1e6);
    hf_config_free(&h);

    if (load("llama31_8b.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.type, ROPE_SCALING_LLAMA3);
        CHECK(h.rope.rope_theta == 500000.0);
        CHECK(h.rope.factor == 8.0 && h.rope.low_freq_factor == 1.0 && h.rope.high_freq_factor == 4.0);
        CHECK_EQ_INT(h.rope.original_max_position_embeddings, 8192);
        CHECK_EQ_INT(h.num_key_value_heads, 8);
    }
    hf_config_free(&h);

    if (load("llama32_1b.json", &h) == 0) {
        CHECK_EQ_INT(h.head_dim, 64); /* explicit head_dim, not 2048/32 */
        CHECK(h.rope.factor == 32.0);
    }
    hf_config_free(&h);

    if (load("qwen25_7b_instruct_yarn.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.type, ROPE_SCALING_YARN);
        CHECK(strcmp(h.rope_type_name, "yarn") == 0);
        CHECK(h.rope.factor == 4.0);
        CHECK_EQ_INT(h.rope.original_max_position_embeddings, 32768);
        CHECK(isnan(h.rope.attention_factor)); /* derived */
        rope_freqs f;
        CHECK_OK(rope_freqs_compute(&h.rope, 0, &f));
        CHECK(f.attention_factor == 0.1 * log(4.0) + 1.0);
        CHECK_NEAR(f.attention_factor, 1.1386294361119890, 1e-16);
    }
    hf_config_free(&h);

    if (load("deepseek_v2_lite.json", &h) == 0) {
        CHECK_EQ_INT(h.head_dim, 64);        /* qk_rope_head_dim */
        CHECK_EQ_INT(h.attn_head_dim, 192);  /* nope 128 + rope 64 */
        CHECK(h.rope.mscale == 0.707 && h.rope.mscale_all_dim == 0.707);
        CHECK(h.rope.beta_fast == 32 && h.rope.beta_slow == 1 && h.rope.factor == 40);
        CHECK_EQ_INT(h.style, ROPE_STYLE_INTERLEAVED);
        rope_freqs f;
        CHECK_OK(rope_freqs_compute(&h.rope, 0, &f));
        CHECK(f.attention_factor == 1.0);
        double m = 0.1 * 0.707 * log(40.0) + 1.0;
        CHECK_NEAR(f.softmax_scale_factor, m * m, 1e-15);
    }
    hf_config_free(&h);

    if (load("phi3_mini_128k_instruct.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.type, ROPE_SCALING_LONGROPE); /* "su" */
        CHECK(strcmp(h.rope_type_name, "su") == 0);
        CHECK_EQ_INT(h.rope.original_max_position_embeddings, 4096); /* top level */
        CHECK_EQ_INT(h.rope.n_short_factor, 48);
        CHECK_EQ_INT(h.rope.n_long_factor, 48);
        CHECK(h.rope.short_factor == h.short_factor && h.rope.long_factor == h.long_factor);
        CHECK(h.short_factor[0] == 1.05 && h.long_factor[47] == 64.81001281738281);
        CHECK(h.rope.factor == 0); /* derived: 131072 / 4096 */
        rope_freqs f;
        CHECK_OK(rope_freqs_compute(&h.rope, 0, &f));
        CHECK_NEAR(f.attention_factor, sqrt(1 + log(32.0) / log(4096.0)), 1e-15);
    }
    hf_config_free(&h);
    CHECK(h.short_factor == NULL && h.rope.short_factor == NULL); /* free clears */

    if (load("gpt_neox_20b.json", &h) == 0) {
        CHECK_EQ_INT(h.head_dim, 96);
        CHECK(h.rope.partial_rotary_factor == 0.25);
        CHECK_EQ_INT(h.rotary_dim, 24);
        CHECK(h.rope.rope_theta == 10000.0);
        CHECK_EQ_INT(h.num_key_value_heads, 64); /* defaults to the query heads */
    }
    hf_config_free(&h);

    if (load("smollm2_135m.json", &h) == 0) {
        CHECK(h.rope.rope_theta == 100000.0);
        CHECK_EQ_INT(h.head_dim, 64); /* 576 / 9 */
        CHECK_EQ_INT(h.num_attention_heads, 9);
        CHECK_EQ_INT(h.num_key_value_heads, 3);
    }
    hf_config_free(&h);

    if (load("qwen2_vl_7b_instruct.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.type, ROPE_SCALING_DEFAULT); /* "mrope" */
        CHECK_EQ_INT(h.rope.n_mrope_section, 3);
        CHECK(h.rope.mrope_section[0] == 16 && h.rope.mrope_section[1] == 24 && h.rope.mrope_section[2] == 24);
    }
    hf_config_free(&h);

    if (load("llama2_7b_32k_linear.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.type, ROPE_SCALING_LINEAR);
        CHECK(h.rope.factor == 8.0);
    }
    hf_config_free(&h);

    if (load("llama2_7b_dynamic.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.type, ROPE_SCALING_DYNAMIC);
        CHECK(h.rope.factor == 2.0);
        CHECK_EQ_INT(h.rope.max_position_embeddings, 4096);
    }
    hf_config_free(&h);

    if (load("gpt_oss_20b.json", &h) == 0) {
        CHECK_EQ_INT(h.rope.truncate, 0);
        CHECK(h.rope.rope_theta == 150000.0);
        CHECK_EQ_INT(h.head_dim, 64);
    }
    hf_config_free(&h);
}

static void plumbing(void) {
    hf_config h;
    /* v5 rope_parameters with rope_theta inside; transformers takes the inside one and drops a
     * different top-level one, so a contradiction is refused naming it; equal values are fine */
    CHECK(parse("{\"head_dim\": 64, \"rope_theta\": 1, \"rope_parameters\": {\"rope_type\": \"linear\", "
                "\"factor\": 2, \"rope_theta\": 500000}}", &h) != 0);
    CHECK(strstr(err, "rope_theta 1 contradicts rope_parameters.rope_theta 500000") != NULL);
    hf_config_free(&h);
    CHECK(parse("{\"head_dim\": 64, \"rope_theta\": 500000, \"rope_parameters\": {\"rope_type\": \"linear\", "
                "\"factor\": 2, \"rope_theta\": 500000}}", &h) == 0);
    CHECK(h.rope.rope_theta == 500000 && h.rope.type == ROPE_SCALING_LINEAR && h.rope.factor == 2);
    hf_config_free(&h);
    /* rope_type and its alias type: equal (or aliases of each other) is fine, a contradiction
     * is refused naming `type` (transformers would silently take rope_type) */
    CHECK(parse("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"yarn\", \"rope_type\": \"linear\", "
                "\"factor\": 2}}", &h) != 0);
    CHECK(strstr(err, "rope_scaling.type 'yarn' contradicts") != NULL);
    hf_config_free(&h);
    CHECK(parse("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"mrope\", \"rope_type\": \"default\", "
                "\"mrope_section\": [8, 12, 12]}}", &h) == 0);
    CHECK_EQ_INT(h.rope.type, ROPE_SCALING_DEFAULT);
    hf_config_free(&h);
    /* rope_scaling {} (falsy in HF) falls back to rope_parameters */
    CHECK(parse("{\"head_dim\": 64, \"rope_scaling\": {}, \"rope_parameters\": {\"rope_type\": \"linear\", "
                "\"factor\": 3}}", &h) == 0);
    CHECK(h.rope.factor == 3);
    hf_config_free(&h);
    /* GPT-NeoX without rotary_pct: 0.25; head_dim null -> hidden/heads */
    CHECK(parse("{\"model_type\": \"gpt_neox\", \"hidden_size\": 512, \"num_attention_heads\": 8, "
                "\"head_dim\": null}", &h) == 0);
    CHECK(h.rope.partial_rotary_factor == 0.25 && h.head_dim == 64 && h.rotary_dim == 16);
    hf_config_free(&h);
    /* partial_rotary_factor (Phi-2, StableLM) */
    CHECK(parse("{\"hidden_size\": 2560, \"num_attention_heads\": 32, \"partial_rotary_factor\": 0.4}", &h) == 0);
    CHECK_EQ_INT(h.rotary_dim, 32);
    hf_config_free(&h);
    /* ... but Llama's default RoPE ignores it (HF compute_default_rope_parameters); its linear honours it */
    CHECK(parse("{\"model_type\": \"llama\", \"head_dim\": 64, \"partial_rotary_factor\": 0.5}", &h) == 0);
    CHECK_EQ_INT(h.rotary_dim, 64);
    hf_config_free(&h);
    CHECK(parse("{\"model_type\": \"llama\", \"head_dim\": 64, \"partial_rotary_factor\": 0.5, "
                "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}}", &h) == 0);
    CHECK_EQ_INT(h.rotary_dim, 32);
    hf_config_free(&h);
    /* Phi-3: top-level original_max_position_embeddings wins over the dict's */
    CHECK(parse("{\"model_type\": \"phi3\", \"head_dim\": 4, \"max_position_embeddings\": 64, "
                "\"original_max_position_embeddings\": 16, \"rope_scaling\": {\"type\": \"longrope\", "
                "\"original_max_position_embeddings\": 8, \"short_factor\": [1, 1], \"long_factor\": [2, 3]}}",
                &h) == 0);
    CHECK_EQ_INT(h.rope.original_max_position_embeddings, 16);
    hf_config_free(&h);
    /* yarn without original: max_position_embeddings */
    CHECK(parse("{\"head_dim\": 64, \"max_position_embeddings\": 2048, \"rope_scaling\": {\"type\": \"yarn\", "
                "\"factor\": 4}}", &h) == 0);
    CHECK_EQ_INT(h.rope.original_max_position_embeddings, 2048);
    hf_config_free(&h);
    /* explicit attention_factor and truncate */
    CHECK(parse("{\"head_dim\": 64, \"max_position_embeddings\": 2048, \"rope_scaling\": {\"type\": \"yarn\", "
                "\"factor\": 4, \"attention_factor\": 1.5, \"truncate\": false}}", &h) == 0);
    CHECK(h.rope.attention_factor == 1.5 && h.rope.truncate == 0);
    hf_config_free(&h);
    /* multimodal wrapper: text_config */
    CHECK(parse("{\"model_type\": \"llava\", \"text_config\": {\"hidden_size\": 1024, \"num_attention_heads\": 8, "
                "\"num_key_value_heads\": 2, \"rope_theta\": 1e6}}", &h) == 0);
    CHECK(h.head_dim == 128 && h.num_key_value_heads == 2 && h.rope.rope_theta == 1e6);
    CHECK(strcmp(h.model_type, "llava") == 0);
    hf_config_free(&h);
    /* Gemma 3 style per-layer-type dict: the full-attention entry */
    CHECK(parse("{\"head_dim\": 256, \"rope_parameters\": {\"full_attention\": {\"rope_type\": \"linear\", "
                "\"factor\": 8, \"rope_theta\": 1000000}, \"sliding_attention\": {\"rope_type\": \"default\", "
                "\"rope_theta\": 10000}}}", &h) == 0);
    CHECK(h.rope.type == ROPE_SCALING_LINEAR && h.rope.rope_theta == 1e6);
    hf_config_free(&h);
    /* duplicate keys: the last wins (Python json) */
    CHECK(parse("{\"head_dim\": 32, \"head_dim\": 64}", &h) == 0);
    CHECK_EQ_INT(h.head_dim, 64);
    hf_config_free(&h);
    /* DeepSeek-V3 rope_interleave false: half */
    CHECK(parse("{\"model_type\": \"deepseek_v3\", \"qk_rope_head_dim\": 64, \"qk_nope_head_dim\": 128, "
                "\"rope_interleave\": false}", &h) == 0);
    CHECK_EQ_INT(h.style, ROPE_STYLE_HALF);
    hf_config_free(&h);
    /* length-bounded text: no NUL terminator needed, trailing NUL tolerated */
    const char buf[] = "{\"head_dim\": 8}XXXX";
    CHECK(hf_config_parse(buf, 15, &h, err, sizeof err) == 0);
    hf_config_free(&h);
}

static void expect_error(const char *json, const char *needle) {
    hf_config h;
    err[0] = '\0';
    int rc = parse(json, &h);
    CHECK_MSG(rc != 0, "accepted: %s", json);
    CHECK_MSG(err[0] != '\0', "no message for: %s", json);
    if (needle) CHECK_MSG(strstr(err, needle) != NULL, "'%s' lacks '%s' (for %s)", err, needle, json);
    CHECK(h.short_factor == NULL && h.long_factor == NULL);
    hf_config_free(&h);
}

static void malformed(void) {
    expect_error("", "invalid JSON");
    expect_error("{", "invalid JSON");
    expect_error("{\"head_dim\": 64,}", "invalid JSON");
    expect_error("{\"head_dim\": 64} {}", "after the top-level value");
    expect_error("[]", "JSON object");
    expect_error("42", "JSON object");
    expect_error("{}", "head_dim");
    expect_error("{\"hidden_size\": 4096}", "head_dim");
    expect_error("{\"head_dim\": \"64\"}", "head_dim must be a number");
    expect_error("{\"head_dim\": 64.5}", "integer");
    expect_error("{\"head_dim\": -64}", "integer");
    expect_error("{\"head_dim\": 1e300}", "integer");
    expect_error("{\"head_dim\": 63}", "no valid RoPE");
    expect_error("{\"head_dim\": 4096}", "no valid RoPE");
    expect_error("{\"head_dim\": 64, \"partial_rotary_factor\": 1.5}", "partial_rotary_factor");
    expect_error("{\"head_dim\": 64, \"partial_rotary_factor\": 0}", "partial_rotary_factor");
    expect_error("{\"head_dim\": 64, \"rope_theta\": 0}", "rope_theta");
    expect_error("{\"head_dim\": 64, \"rope_theta\": [1]}", "rope_theta must be a number");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": 5}", "rope_scaling must be");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"type\": 5}}", "type must be a string");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"ntk-by-parts\"}}", "unknown");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"rope_type\": \"axial\"}}", "does not implement");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"linear\"}}", "factor is required");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"linear\", \"factor\": -2}}", "factor must be > 0");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}}",
                 "max_position_embeddings");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2}}",
                 "original_max_position_embeddings");
    expect_error("{\"head_dim\": 64, \"rope_scaling\": {\"type\": \"llama3\", \"factor\": 8, "
                 "\"original_max_position_embeddings\": 8192, \"high_freq_factor\": 4}}", "low_freq_factor");
    expect_error("{\"head_dim\": 64, \"max_position_embeddings\": 9, \"rope_scaling\": {\"type\": \"yarn\", "
                 "\"factor\": 2, \"truncate\": \"no\"}}", "truncate");
    expect_error("{\"head_dim\": 4, \"max_position_embeddings\": 64, \"rope_scaling\": {\"type\": \"longrope\", "
                 "\"original_max_position_embeddings\": 8, \"short_factor\": [1, 1]}}", "long_factor");
    expect_error("{\"head_dim\": 4, \"max_position_embeddings\": 64, \"rope_scaling\": {\"type\": \"longrope\", "
                 "\"original_max_position_embeddings\": 8, \"short_factor\": [1, 1, 1], \"long_factor\": [1, 1]}}",
                 "entries");
    expect_error("{\"head_dim\": 4, \"max_position_embeddings\": 64, \"rope_scaling\": {\"type\": \"longrope\", "
                 "\"original_max_position_embeddings\": 8, \"short_factor\": [1, \"x\"], \"long_factor\": [1, 1]}}",
                 "short_factor[1]");
    expect_error("{\"head_dim\": 128, \"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24]}}",
                 "3 entries");
    expect_error("{\"head_dim\": 128, \"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24, 25]}}",
                 "sums to");
    expect_error("{\"head_dim\": 128, \"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, -1, 49]}}",
                 "mrope_section[1]");
    expect_error("{\"model_type\": 3, \"head_dim\": 64}", "model_type must be a string");
    /* deep nesting is refused by cJSON's limit, not a stack overflow */
    static char deep[8192];
    size_t n = 0;
    for (; n < 3000; n++) deep[n] = '[';
    deep[n] = '\0';
    expect_error(deep, "invalid JSON");
    /* NULL / file errors */
    hf_config h;
    CHECK(hf_config_parse(NULL, 0, &h, err, sizeof err) != 0);
    hf_config_free(&h);
    CHECK(hf_config_load("data/configs/does-not-exist.json", &h, err, sizeof err) != 0);
    CHECK(strstr(err, "does-not-exist") != NULL);
    hf_config_free(&h);
    CHECK(hf_config_parse("{\"head_dim\": 8}", 15, &h, NULL, 0) == 0); /* err may be NULL */
    hf_config_free(&h);
}

int main(void) {
    bundled();
    plumbing();
    malformed();
    return check_report("test_config_json");
}
