/*
 * config.json -> rope_model: the layer map and the frequency set of every
 * layer type, for each config form real models use (HF v5 rope_parameters keyed
 * by layer type, Gemma 2/3 patterns and rope_local_base_freq, Gemma 4
 * proportional + global_head_dim / per_layer_config, no_rope_layers with
 * SmolLM3's polarity, no_rope_layer_interval, Cohere2 and EXAONE 4 RoPE on
 * sliding layers only, Llama 4 / Ministral 3 query scaling), and the errors
 * that name the key. tests/golden/layers/ checks the same maps against the
 * real transformers modules.
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

/* The layer map as a string: one char per layer, the set's first letter or '-' for NoPE. */
static void map_string(const hf_config *h, char *out, size_t cap) {
    size_t k = 0;
    for (int64_t l = 0; l < h->model.n_layers && k + 1 < cap; l++) {
        int s = h->model.layer_set[l];
        out[k++] = s == ROPE_LAYER_NOPE ? '-' : h->model.set_name[s][0];
    }
    out[k] = '\0';
}

static const rope_config *set_named(const hf_config *h, const char *name) {
    int s;
    if (rope_model_find_set(&h->model, name, &s) != ROPE_OK) return NULL;
    return &h->model.set[s];
}

static void expect_map(const char *file, const char *map) {
    hf_config h;
    if (load(file, &h) != 0) return;
    char got[ROPE_MAX_LAYERS + 1];
    map_string(&h, got, sizeof got);
    CHECK_MSG(strcmp(got, map) == 0, "%s: map %s, expected %s", file, got, map);
    CHECK_OK(rope_model_validate(&h.model));
    hf_config_free(&h);
}

static void bundled_maps(void) {
    expect_map("gemma2_2b.json", "sfsfsfsfsfsfsfsfsfsfsfsfsf");
    expect_map("gemma3_1b.json", "sssssfsssssfsssssfsssssfss");
    expect_map("gemma3_4b.json", "sssssfsssssfsssssfsssssfsssssfssss");
    expect_map("gemma4_e2b.json", "sssssfsssssfsssssfsssssfsssssf");
    expect_map("smollm3_3b.json", "fff-fff-fff-fff-fff-fff-fff-fff-fff-");
    expect_map("llama4_scout.json", "ccc-ccc-ccc-ccc-ccc-ccc-ccc-ccc-ccc-ccc-ccc-ccc-");
    expect_map("cohere2_command_r7b.json", "sss-sss-sss-sss-sss-sss-sss-sss-");
    expect_map("exaone4_32b.json",
               "sss-sss-sss-sss-sss-sss-sss-sss-sss-sss-sss-sss-sss-sss-sss-sss-");
    expect_map("llama31_8b.json", "ffffffffffffffffffffffffffffffff");

    hf_config h;
    if (load("gemma3_4b.json", &h) == 0) {
        const rope_config *f = set_named(&h, "full_attention"), *s = set_named(&h, "sliding_attention");
        CHECK(f && s);
        if (f && s) {
            CHECK(f->type == ROPE_SCALING_LINEAR && f->factor == 8 && f->rope_theta == 1e6);
            CHECK(s->type == ROPE_SCALING_DEFAULT && s->rope_theta == 1e4); /* rope_scaling: full only */
        }
        CHECK(h.rope.type == ROPE_SCALING_LINEAR); /* the primary set stays the full layers' */
        hf_config_free(&h);
    }
    if (load("gemma4_e2b.json", &h) == 0) {
        const rope_config *f = set_named(&h, "full_attention");
        CHECK(f && f->type == ROPE_SCALING_PROPORTIONAL && f->head_dim == 512 &&
              f->partial_rotary_factor == 0.25);
        rope_freqs fr;
        int rotated = 0;
        CHECK_OK(rope_model_layer_freqs(&h.model, 5, 0, &fr, &rotated));
        CHECK(rotated && fr.rotary_dim == 512 && fr.n_freqs == 256);
        CHECK(fr.inv_freq[63] > 0 && fr.inv_freq[64] == 0 && fr.inv_freq[255] == 0);
        CHECK_OK(rope_model_layer_freqs(&h.model, 0, 0, &fr, &rotated));
        CHECK(fr.rotary_dim == 256 && fr.inv_freq[127] > 0);
        CHECK_EQ_INT(h.set_info[h.primary_set].head_dim, 512);
        hf_config_free(&h);
    }
    if (load("llama4_scout.json", &h) == 0) {
        CHECK_EQ_INT(h.model.query_scaling, ROPE_QUERY_SCALING_NOPE_LAYERS);
        CHECK(h.model.query_scaling_beta == 0.1 && h.model.query_scaling_floor == 8192 &&
              h.model.query_scaling_pos_offset == 1);
        hf_config_free(&h);
    }
}

static void expect_parse_map(const char *json, const char *map) {
    hf_config h;
    int rc = parse(json, &h);
    CHECK_MSG(rc == 0, "%s: %s", json, err);
    if (rc == 0) {
        char got[ROPE_MAX_LAYERS + 1];
        map_string(&h, got, sizeof got);
        CHECK_MSG(strcmp(got, map) == 0, "map %s, expected %s for %s", got, map, json);
    }
    hf_config_free(&h);
}

static void forms(void) {
    /* SmolLM3 without no_rope_layers: every 4th layer NoPE (its default interval) */
    expect_parse_map("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":8}", "fff-fff-");
    expect_parse_map("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":6,"
                     "\"no_rope_layer_interval\":3}", "ff-ff-");
    /* polarity: 1 = RoPE */
    expect_parse_map("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":4,"
                     "\"no_rope_layers\":[0,1,1,0]}", "-ff-");
    /* SmolLM3 NoPE layers become sliding when use_sliding_window */
    expect_parse_map("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":4,"
                     "\"use_sliding_window\":true,\"sliding_window\":4096}", "fff-");
    /* Llama 4 without attention_chunk_size: RoPE layers are full_attention */
    expect_parse_map("{\"model_type\":\"llama4_text\",\"head_dim\":64,\"num_hidden_layers\":4}", "fff-");
    /* v5 rope_parameters keyed by layer type with explicit layer_types; a null entry = NoPE */
    expect_parse_map("{\"model_type\":\"foo\",\"head_dim\":64,\"layer_types\":[\"sliding_attention\","
                     "\"full_attention\",\"sliding_attention\"],\"rope_parameters\":{\"sliding_attention\":"
                     "{\"rope_type\":\"default\",\"rope_theta\":10000},\"full_attention\":null}}", "s-s");
    /* Gemma 3 sliding_window_pattern, and the v5 keyed form with Gemma 3's theta defaults */
    expect_parse_map("{\"model_type\":\"gemma3_text\",\"head_dim\":64,\"num_hidden_layers\":4,"
                     "\"sliding_window_pattern\":2}", "sfsf");
    hf_config h;
    if (parse("{\"model_type\":\"gemma3_text\",\"head_dim\":64,\"num_hidden_layers\":6,"
              "\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"default\"},"
              "\"sliding_attention\":{\"rope_type\":\"default\"}}}", &h) == 0) {
        CHECK(set_named(&h, "full_attention")->rope_theta == 1e6);
        CHECK(set_named(&h, "sliding_attention")->rope_theta == 1e4);
    } else {
        CHECK_MSG(0, "%s", err);
    }
    hf_config_free(&h);
    /* EXAONE 4: without sliding_window every layer has RoPE; with it only the sliding ones */
    expect_parse_map("{\"model_type\":\"exaone4\",\"head_dim\":64,\"num_hidden_layers\":4,"
                     "\"sliding_window\":null}", "ffff");
    expect_parse_map("{\"model_type\":\"exaone4\",\"head_dim\":64,\"num_hidden_layers\":8,"
                     "\"sliding_window\":4096,\"sliding_window_pattern\":4}", "sss-sss-");
    expect_parse_map("{\"model_type\":\"exaone4\",\"head_dim\":64,\"sliding_window\":4096,"
                     "\"layer_types\":[\"sliding_attention\",\"full_attention\"]}", "s-");
    /* Gemma 4: global_head_dim and the last layer forced to full attention */
    if (parse("{\"model_type\":\"gemma4_text\",\"head_dim\":256,\"global_head_dim\":384,"
              "\"layer_types\":[\"sliding_attention\",\"sliding_attention\"],\"rope_parameters\":{"
              "\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":10000},"
              "\"full_attention\":{\"rope_type\":\"proportional\",\"partial_rotary_factor\":0.25,"
              "\"rope_theta\":1000000}}}", &h) == 0) {
        const rope_config *f = set_named(&h, "full_attention");
        CHECK(f && f->head_dim == 384);
        CHECK(h.model.layer_set[1] == h.primary_set);
    } else {
        CHECK_MSG(0, "%s", err);
    }
    hf_config_free(&h);
    /* Ministral 3 query scaling from rope_parameters */
    if (parse("{\"model_type\":\"ministral3\",\"head_dim\":128,\"max_position_embeddings\":262144,"
              "\"rope_parameters\":{\"rope_type\":\"yarn\",\"factor\":16,\"rope_theta\":1000000,"
              "\"original_max_position_embeddings\":16384,\"llama_4_scaling_beta\":0.1}}", &h) == 0) {
        CHECK_EQ_INT(h.model.query_scaling, ROPE_QUERY_SCALING_ALL_LAYERS);
        CHECK(h.model.query_scaling_floor == 16384 && h.model.query_scaling_pos_offset == 0);
    } else {
        CHECK_MSG(0, "%s", err);
    }
    hf_config_free(&h);
}

static void expect_error(const char *json, const char *needle) {
    hf_config h;
    err[0] = '\0';
    int rc = parse(json, &h);
    CHECK_MSG(rc != 0, "accepted: %s", json);
    CHECK_MSG(strstr(err, needle) != NULL, "'%s' lacks '%s' (for %s)", err, needle, json);
    hf_config_free(&h);
}

static void errors(void) {
    expect_error("{\"model_type\":\"llama\",\"head_dim\":64,\"num_hidden_layers\":2,\"no_rope_layers\":[1,0]}",
                 "no_rope_layers");
    expect_error("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":3,\"no_rope_layers\":[1,0]}",
                 "no_rope_layers has 2 entries for 3 layers");
    expect_error("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":2,\"no_rope_layers\":[1,2]}",
                 "no_rope_layers[1]");
    expect_error("{\"model_type\":\"smollm3\",\"head_dim\":64}", "num_hidden_layers");
    expect_error("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":4,"
                 "\"no_rope_layer_interval\":0}", "no_rope_layer_interval");
    expect_error("{\"head_dim\":64,\"num_hidden_layers\":3,\"layer_types\":[\"full_attention\"]}",
                 "layer_types has 1 entries for 3 layers");
    expect_error("{\"head_dim\":64,\"layer_types\":[\"full_attention\",7]}", "layer_types[1]");
    expect_error("{\"head_dim\":64,\"layer_types\":[\"full_attention\",\"sliding_attention\"],"
                 "\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"default\"}}}",
                 "no entry for layer type 'sliding_attention'");
    expect_error("{\"head_dim\":64,\"num_hidden_layers\":2000}", "num_hidden_layers");
    {   /* a no_rope_layers list longer than the layers librope maps, and no num_hidden_layers */
        static char big[16 + 4 * ROPE_MAX_LAYERS + 200];
        int k = snprintf(big, sizeof big, "{\"model_type\":\"smollm3\",\"head_dim\":64,\"no_rope_layers\":[1");
        for (int i = 0; i < ROPE_MAX_LAYERS + 5; i++) k += snprintf(big + k, sizeof big - (size_t)k, ",1");
        snprintf(big + k, sizeof big - (size_t)k, "]}");
        expect_error(big, "no_rope_layers has more than");
    }
    expect_error("{\"model_type\":\"cohere2\",\"head_dim\":64,\"num_hidden_layers\":4}",
                 "no layer of this model uses RoPE"); /* cohere2 without sliding_window */
    expect_error("{\"model_type\":\"gemma3_text\",\"head_dim\":64,\"num_hidden_layers\":4,"
                 "\"sliding_window_pattern\":0}", "sliding_window_pattern");
    expect_error("{\"model_type\":\"gemma4_text\",\"head_dim\":64,\"layer_types\":[\"sliding_attention\","
                 "\"full_attention\"],\"per_layer_config\":{\"1\":{\"rope_theta\":5}},\"rope_parameters\":{"
                 "\"sliding_attention\":{\"rope_type\":\"default\"},\"full_attention\":{\"rope_type\":"
                 "\"default\"}}}", "per_layer_config.1.rope_theta");
    expect_error("{\"head_dim\":64,\"layer_types\":[\"a\",\"a\"],\"per_layer_config\":{\"0\":{\"head_dim\":32}}}",
                 "head_dim on 1 of the 2");
    expect_error("{\"model_type\":\"ministral3\",\"head_dim\":64,\"rope_parameters\":{\"rope_type\":\"default\","
                 "\"llama_4_scaling_beta\":0.1}}", "original_max_position_embeddings");
}

/* No silent misreads: a RoPE key that is misspelt, or known but not read for this
 * family, is refused with its name; non-RoPE models are refused. */
static void misreads(void) {
    expect_error("{\"model_type\":\"llama\",\"head_dim\":128,\"max_position_embeddings\":131072,"
                 "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,"
                 "\"high_freq_factor\":4,\"low_freq_factors\":2,\"original_max_position_embeddings\":8192}}",
                 "rope_scaling.low_freq_factors");
    expect_error("{\"model_type\":\"qwen2\",\"head_dim\":128,\"max_position_embeddings\":131072,"
                 "\"rope_scaling\":{\"type\":\"yarn\",\"factor\":4,\"beta_fst\":32,"
                 "\"original_max_position_embeddings\":32768}}", "rope_scaling.beta_fst");
    expect_error("{\"model_type\":\"gemma3_text\",\"head_dim\":256,\"num_hidden_layers\":6,"
                 "\"rope_local_base_frequency\":10000}", "rope_local_base_frequency");
    expect_error("{\"model_type\":\"llama\",\"head_dim\":64,\"rope_local_base_freq\":10000}",
                 "rope_local_base_freq");
    expect_error("{\"model_type\":\"smollm3\",\"head_dim\":64,\"num_hidden_layers\":4,"
                 "\"no_rope_layer\":[1,1,1,0]}", "no_rope_layer ");
    expect_error("{\"model_type\":\"llama\",\"head_dim\":128,\"rotary_dim\":64}", "rotary_dim");
    expect_error("{\"model_type\":\"llama\",\"head_dim\":128,\"rope_interleave\":true}", "rope_interleave");
    expect_error("{\"model_type\":\"qwen2_vl\",\"hidden_size\":3584,\"num_attention_heads\":28,"
                 "\"rope_scaling\":{\"type\":\"mrope\",\"mrope_section\":[16,24,24],\"mrope_interleaved\":true}}",
                 "mrope_interleaved");
    expect_error("{\"model_type\":\"llama\",\"head_dim\":128,\"rope_scaling\":{\"type\":\"dynamic\","
                 "\"factor\":2,\"alpha\":1000},\"max_position_embeddings\":4096}", "rope_scaling.alpha");
    expect_error("{\"model_type\":\"hunyuan_v1_dense\",\"head_dim\":128,\"max_position_embeddings\":4096,"
                 "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2,\"alpha\":1000}}", "alpha is read only");
    expect_error("{\"model_type\":\"stablelm\",\"hidden_size\":2560,\"num_attention_heads\":32,"
                 "\"rope_pct\":0.25}", "rope_pct");
    expect_error("{\"model_type\":\"falcon\",\"hidden_size\":4544,\"num_attention_heads\":71,\"alibi\":true}",
                 "ALiBi");
    expect_error("{\"model_type\":\"bloom\",\"hidden_size\":1024,\"num_attention_heads\":16}",
                 "no rotary position embedding");
    expect_error("{\"model_type\":\"gptj\",\"n_embd\":4096,\"n_head\":16,\"rope_theta\":500000}",
                 "rope_theta is not read");
    expect_error("{\"model_type\":\"gptj\",\"n_embd\":4096,\"n_head\":16,\"rotary_dim\":300}", "rotary_dim 300");
    expect_error("{\"model_type\":\"gemma4_text\",\"head_dim\":256,\"num_hidden_layers\":6,"
                 "\"rope_parameters\":{\"sliding_attention\":{\"rope_type\":\"default\"},"
                 "\"full_attention\":{\"rope_type\":\"proportional\",\"partial_rotary_factr\":0.25}}}",
                 "rope_parameters.full_attention.partial_rotary_factr");

    /* GPT-NeoX's config class drops a top-level rope_theta / partial_rotary_factor (it reads
     * rotary_emb_base / rotary_pct): a different value is refused, the value it uses passes */
    expect_error("{\"model_type\":\"gpt_neox\",\"hidden_size\":6144,\"num_attention_heads\":64,"
                 "\"rotary_emb_base\":10000,\"rope_theta\":500000}", "rope_theta 500000 is dropped");
    expect_error("{\"model_type\":\"gpt_neox\",\"hidden_size\":6144,\"num_attention_heads\":64,"
                 "\"partial_rotary_factor\":0.5}", "partial_rotary_factor 0.5 is dropped");
    {
        hf_config h0;
        CHECK(parse("{\"model_type\":\"gpt_neox\",\"hidden_size\":6144,\"num_attention_heads\":64,"
                    "\"rope_theta\":10000,\"partial_rotary_factor\":0.25}", &h0) == 0);
        hf_config_free(&h0);
    }
    /* misspellings of keys read at the top level, and a layer type misspelt in a keyed dict */
    expect_error("{\"model_type\":\"gemma3_text\",\"head_dim\":256,\"num_hidden_layers\":6,"
                 "\"sliding_window_patern\":3}", "sliding_window_patern is not a config key");
    expect_error("{\"model_type\":\"qwen3_next\",\"head_dim\":256,\"num_hidden_layers\":8,"
                 "\"full_attention_intervall\":2}", "full_attention_intervall");
    expect_error("{\"model_type\":\"gemma4_text\",\"head_dim\":256,\"num_hidden_layers\":6,"
                 "\"rope_parameters\":{\"sliding_attention\":{\"rope_type\":\"default\"},"
                 "\"full_atention\":{\"rope_type\":\"proportional\"}}}", "full_atention is not a layer type");
    expect_error("{\"model_type\":\"llama\",\"head_dim\":64,\"qk_rope_head_dim\":32}", "qk_rope_head_dim");
    expect_error("{\"model_type\":\"pixtral\",\"head_dim\":64}", "vision tower");
    /* towers whose class has no 1-D RoPE, and Llama 4's 2-D vision RoPE: refused, never read as 1-D */
    expect_error("{\"model_type\":\"llama4_vision_model\",\"head_dim\":88}", "vision or audio tower");
    expect_error("{\"model_type\":\"gemma4_audio\",\"head_dim\":64}", "vision or audio tower");
    expect_error("{\"model_type\":\"videoprism_vision_model\",\"head_dim\":64}", "vision or audio tower");
    /* an audio encoder whose class carries a 1-D RoPE over time is read */
    {
        hf_config h0;
        if (parse("{\"model_type\":\"dots3_note_audio_encoder\",\"head_dim\":64}", &h0) == 0)
            CHECK(h0.rotary_dim == 32 && h0.rope.rope_theta == 10000.0);
        else
            CHECK_MSG(0, "dots3_note_audio_encoder: %s", err);
        hf_config_free(&h0);
    }

    /* legacy names read as their families read them */
    hf_config h;
    if (parse("{\"model_type\":\"chatglm\",\"hidden_size\":4096,\"num_attention_heads\":32,\"kv_channels\":128,"
              "\"num_layers\":40,\"seq_length\":131072,\"rope_ratio\":500}", &h) == 0) {
        CHECK(h.rope.rope_theta == 5e6 && h.rotary_dim == 64 && h.style == ROPE_STYLE_INTERLEAVED);
        CHECK_EQ_INT(h.model.n_layers, 40);
    } else {
        CHECK_MSG(0, "chatglm: %s", err);
    }
    hf_config_free(&h);
    if (parse("{\"model_type\":\"qwen3_next\",\"head_dim\":256,\"rope_theta\":10000000}", &h) == 0)
        CHECK_EQ_INT(h.rotary_dim, 64); /* Qwen3NextConfig's partial_rotary_factor default 0.25 */
    else
        CHECK_MSG(0, "qwen3_next: %s", err);
    hf_config_free(&h);
    if (parse("{\"model_type\":\"phi\",\"hidden_size\":2560,\"num_attention_heads\":32}", &h) == 0)
        CHECK_EQ_INT(h.rotary_dim, 40); /* Phi-2: PhiConfig default 0.5 of 80 */
    else
        CHECK_MSG(0, "phi: %s", err);
    hf_config_free(&h);
    if (parse("{\"model_type\":\"hunyuan_v1_dense\",\"head_dim\":128,\"max_position_embeddings\":32768,"
              "\"rope_theta\":10000,\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":1,\"alpha\":1000}}", &h) == 0) {
        CHECK(h.rope.type == ROPE_SCALING_DEFAULT); /* static NTK-alpha, not dynamic NTK */
        CHECK_NEAR(h.rope.rope_theta, 1e4 * pow(1000.0, 128.0 / 126.0), 1e-6);
    } else {
        CHECK_MSG(0, "hunyuan: %s", err);
    }
    hf_config_free(&h);
    if (parse("{\"model_type\":\"qwen3_vl\",\"text_config\":{\"head_dim\":128,\"rope_theta\":5000000,"
              "\"rope_scaling\":{\"rope_type\":\"default\",\"mrope_interleaved\":false}}}", &h) == 0) {
        /* transformers interleaves Qwen3-VL whatever the flag says, sections [24, 20, 20] by default */
        CHECK(h.rope.mrope_interleaved == 1 && h.rope.n_mrope_section == 3 && h.rope.mrope_section[0] == 24);
    } else {
        CHECK_MSG(0, "qwen3_vl: %s", err);
    }
    hf_config_free(&h);
}

/*
 * HunYuanVL XD-RoPE (transformers 5.24.0 HunYuanVLTextConfig / HunYuanVLRotaryEmbedding): the flat
 * Tencent layout (attention_head_dim, rope_scaling type "xdrope" + alpha + xdrope_section) and the
 * nested one (text_config, rope_parameters, mrope_section); 4 planes (position, width, height,
 * image index) or 3. Frequency j belongs to the plane whose section holds it, the same plane for
 * both halves of its pair: an image token's rows equal the plain table's rows at each plane's
 * position, column by column, bit for bit; a text token's equal plain RoPE.
 */
static void hunyuan_xdrope(void) {
    hf_config h;
    const char *flat = "{\"model_type\":\"hunyuan_vl\",\"hidden_size\":1024,\"num_attention_heads\":16,"
                       "\"attention_head_dim\":128,\"rope_theta\":10000,\"max_position_embeddings\":32768,"
                       "\"rope_scaling\":{\"alpha\":1000.0,\"beta_fast\":32,\"beta_slow\":1,\"factor\":1.0,"
                       "\"mscale\":1.0,\"mscale_all_dim\":1.0,\"type\":\"xdrope\",\"xdrope_section\":[16,16,24,8]}}";
    if (parse(flat, &h) != 0) {
        CHECK_MSG(0, "hunyuan_vl flat: %s", err);
        return;
    }
    CHECK(h.rope.type == ROPE_SCALING_DEFAULT); /* "xdrope" = "dynamic" + alpha = NTK-alpha */
    CHECK_NEAR(h.rope.rope_theta, 1e4 * pow(1000.0, 128.0 / 126.0), 1e-6);
    CHECK_EQ_INT(h.head_dim, 128); /* attention_head_dim, not hidden_size / heads = 64 */
    CHECK(h.rope.n_mrope_section == 4 && h.rope.mrope_interleaved == 0);
    CHECK(h.rope.mrope_section[0] == 16 && h.rope.mrope_section[2] == 24 && h.rope.mrope_section[3] == 8);
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(&h.rope, 0, &f));
    hf_config_free(&h);
    /* two tokens: text (all planes 700) and image (position 5, width 7, height 11, image 2) */
    const int64_t pos[8] = {700, 5, 700, 7, 700, 11, 700, 2}, plane_pos[4] = {5, 7, 11, 2};
    rope_table *xd = NULL, *plain = NULL;
    CHECK_OK(rope_table_create_mrope(&f, pos, 2, ROPE_PRECISION_ACCURATE, &xd));
    CHECK_OK(rope_table_create(&f, 701, ROPE_PRECISION_ACCURATE, &plain));
    if (xd && plain) {
        const int64_t n = f.n_freqs, bounds[4] = {16, 32, 56, 64};
        int bad = 0;
        for (int64_t j = 0; j < n; j++) {
            int p = 0;
            while (j >= bounds[p]) p++;
            const int64_t r = plane_pos[p] * n + j;
            bad += rope_table_cos(xd)[j] != rope_table_cos(plain)[700 * n + j];
            bad += rope_table_cos(xd)[n + j] != rope_table_cos(plain)[r];
            bad += rope_table_sin(xd)[n + j] != rope_table_sin(plain)[r];
        }
        CHECK_MSG(bad == 0, "XD-RoPE rows: %d entries differ from the plane's plain row", bad);
    }
    rope_table_free(xd);
    rope_table_free(plain);
    /* nested: text_config with rope_parameters, 3 planes (width, height, image index) */
    if (parse("{\"model_type\":\"hunyuan_vl\",\"text_config\":{\"model_type\":\"hunyuan_vl_text\","
              "\"hidden_size\":1024,\"num_attention_heads\":8,\"head_dim\":128,\"rope_parameters\":{"
              "\"rope_type\":\"xdrope\",\"rope_theta\":10000,\"factor\":1,\"alpha\":1000,"
              "\"mrope_section\":[16,24,24],\"xdrope_section\":[16,24,24]}}}", &h) == 0)
        CHECK(h.rope.n_mrope_section == 3 && h.rope.mrope_section[1] == 24 && h.rope.type == ROPE_SCALING_DEFAULT);
    else
        CHECK_MSG(0, "hunyuan_vl nested: %s", err);
    hf_config_free(&h);
    /* refused by name, never ignored */
    expect_error("{\"model_type\":\"hunyuan_vl\",\"head_dim\":128,\"rope_scaling\":{\"type\":\"xdrope\","
                 "\"factor\":1,\"alpha\":1000,\"mrope_section\":[16,16,16,16],\"xdrope_section\":[16,16,24,8]}}",
                 "mrope_section and xdrope_section differ");
    expect_error("{\"model_type\":\"hunyuan_vl\",\"head_dim\":128,\"rope_scaling\":{\"type\":\"xdrope\","
                 "\"factor\":1,\"alpha\":1000,\"xdrope_section\":[16,16,16,8,8]}}", "3 or 4 entries");
    expect_error("{\"model_type\":\"hunyuan_vl\",\"head_dim\":128,\"rope_scaling\":{\"type\":\"xdrope\","
                 "\"factor\":1,\"alpha\":1000,\"xdrope_section\":[16,16,16,8]}}", "sums to 56");
    expect_error("{\"model_type\":\"hunyuan_vl\",\"head_dim\":128,\"attention_head_dim\":64,"
                 "\"rope_theta\":10000}", "attention_head_dim 64 and head_dim 128 differ");
    expect_error("{\"model_type\":\"hunyuan_v1_dense\",\"head_dim\":128,\"rope_scaling\":{\"type\":\"dynamic\","
                 "\"factor\":1,\"alpha\":1000,\"xdrope_section\":[16,16,16,16]}}", "xdrope_section");
    expect_error("{\"model_type\":\"hunyuan_v1_dense\",\"head_dim\":128,\"rope_scaling\":{\"type\":\"xdrope\","
                 "\"factor\":1,\"alpha\":1000}}", "xdrope");
}

int main(void) {
    misreads();
    hunyuan_xdrope();
    bundled_maps();
    forms();
    errors();
    return check_report("test_config_layers");
}
