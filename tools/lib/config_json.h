/*
 * Hugging Face config.json -> rope_config, mapped 1:1 the way transformers
 * reads it (docs/hf-rope.md, "From config.json to parameters"):
 *
 *   - the scaling dict is `rope_scaling` (v4) or `rope_parameters` (v5);
 *     `rope_type` and its legacy alias `type` must agree (aliases do); absent/null
 *     = "default", or the family's own default dict (family_defaults.inc);
 *     "su" -> longrope (Phi-3), "mrope" -> default with mrope_section (Qwen2-VL);
 *   - `rope_theta` inside the dict wins over the top-level one (HF setdefault); a
 *     different top-level one is refused (HF would drop it); default: the family's
 *     (default_theta in transformers; family_defaults.inc), else 10000;
 *   - partial_rotary_factor: honoured, except by the "default" type of the models
 *     whose HF compute_default_rope_parameters ignores it (llama, mistral, qwen2,
 *     gemma, gemma2, gemma3_text, deepseek_v2, deepseek_v3);
 *   - GPT-NeoX: `rotary_emb_base` is the base and `rotary_pct` the partial
 *     rotary factor (default 0.25 for model_type gpt_neox);
 *   - `original_max_position_embeddings` at the top level (Phi-3) wins over the
 *     dict's, else the dict's, else max_position_embeddings (llama3/yarn/longrope);
 *   - head_dim: DeepSeek `qk_rope_head_dim` (only that part of a head is
 *     rotated), else an explicit `head_dim`, else hidden_size / num_attention_heads;
 *   - multimodal configs whose text model sits in `text_config` (Qwen3-Omni:
 *     `thinker_config.text_config`) are read from there;
 *   - refused by name, never ignored: unknown keys of a RoPE dict, top-level keys
 *     naming rope/rotary/theta or layout keys a family does not read, keys one or
 *     two edits from a key the reader reads (misspellings), contradicting sources of
 *     one value, vision-tower model types (tests/data/config_keys.json is the audit);
 *   - layers (rope_model): `layer_types` (or the family's own default pattern:
 *     Gemma 2 alternating, Gemma 3/4 `sliding_window_pattern` 6, Cohere2 and EXAONE 4
 *     4, Qwen3-Next / Qwen3.5 `full_attention_interval` 4 with linear-attention
 *     layers that have no RoPE), one frequency set per layer type: `rope_parameters` keyed by layer type
 *     (a null entry = no RoPE), or Gemma 3's `rope_local_base_freq` (sliding, default
 *     1e4) next to `rope_theta`/`rope_scaling` (full, default 1e6), else one dict for
 *     all; Gemma 4 full layers use `global_head_dim` (default 512). NoPE layers:
 *     `no_rope_layers` (SmolLM3, Llama 4, Mistral Large 4: 1 = RoPE) or every
 *     `no_rope_layer_interval`-th (default 4); Cohere2: RoPE on sliding layers only;
 *     EXAONE 4: on sliding layers only when sliding_window is set. Llama 4
 *     `attn_temperature_tuning` / Ministral 3 `llama_4_scaling_beta`: query scaling.
 *
 * Every missing or wrong-typed field gives a message in `err` and a non-zero
 * return, never a crash; the result is also checked with rope_freqs_compute so
 * a parsed config always yields frequencies.
 */
#ifndef ROPE_CONFIG_JSON_H
#define ROPE_CONFIG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "rope.h"

/* What the reader resolved for one frequency set (one layer type). */
typedef struct hf_rope_set_info {
    char rope_type_name[32];      /* the spelling in the file */
    int64_t head_dim;             /* resolved head size of this layer type */
    int64_t rotary_dim;           /* rotated dims (proportional: the whole head) */
    int64_t attn_head_dim;        /* what the softmax scale is 1/sqrt of */
    int64_t original_max_position_embeddings; /* 0 when not needed */
} hf_rope_set_info;

typedef struct hf_config {
    /* The frequencies' parameters. rope.short_factor / rope.long_factor point
     * into short_factor / long_factor below (owned; hf_config_free). */
    rope_config rope;

    char model_type[64];          /* "" when the config has none */
    char rope_type_name[32];      /* the spelling in the file ("su", "mrope", "yarn", ...) */
    int64_t head_dim;             /* resolved: the rotated head part for DeepSeek */
    int64_t rotary_dim;           /* int(head_dim * partial_rotary_factor) */
    int64_t attn_head_dim;        /* head size the softmax scale is 1/sqrt of
                                     (DeepSeek: qk_nope_head_dim + qk_rope_head_dim) */
    int64_t num_attention_heads;  /* 0 when absent */
    int64_t num_key_value_heads;  /* HF default: num_attention_heads */
    int64_t max_position_embeddings;  /* 0 when absent */
    int64_t original_max_position_embeddings; /* resolved as above; 0 when not needed */

    /* How a checkpoint of this model pairs dimensions: half (rotate_half) for
     * Hugging Face checkpoints, interleaved for DeepSeek-V2/V3 and GPT-J. */
    rope_style style;
    const char *style_note;       /* one sentence: why that style (static string) */

    double *short_factor;         /* longrope lists of `rope` (n_short_factor / n_long_factor) */
    double *long_factor;

    /* Per-layer RoPE: one set per layer type that has RoPE (named by the type), the layer
     * map with NoPE layers, query scaling. `rope` above is model.set[primary_set]: the
     * full-attention set when there is one, else the first. */
    rope_model model;
    hf_rope_set_info set_info[ROPE_MAX_SETS];
    int primary_set;
    /* Every layer's attention type (index into layer_type_name), for display. */
    int n_layer_types;
    char layer_type_name[ROPE_MAX_SETS][ROPE_SET_NAME_MAX];
    int16_t layer_type[ROPE_MAX_LAYERS];
    double *owned[2 * ROPE_MAX_SETS]; /* longrope lists of every set */
    int n_owned;
} hf_config;

/* Parse `len` bytes of JSON text (need not be NUL-terminated). Returns 0 on
 * success; otherwise non-zero with a one-line reason in err (errlen bytes,
 * may be 0). out is always safe to hf_config_free afterwards. */
int hf_config_parse(const char *json, size_t len, hf_config *out, char *err, size_t errlen);

/* Read and parse a file (at most 64 MiB). */
int hf_config_load(const char *path, hf_config *out, char *err, size_t errlen);

void hf_config_free(hf_config *c);

/* Make `rope` (and head_dim, rotary_dim, rope_type_name, ...) describe one frequency set:
 * the set of layer type `layer_type` (non-NULL), or of layer `layer` (>= 0). 0 on success;
 * otherwise -1 and a reason in err naming the known types, or saying the layer has no RoPE. */
int hf_config_select(hf_config *h, const char *layer_type, int64_t layer, char *err, size_t errlen);

#endif
