/*
 * Hugging Face config.json reader (see config_json.h for the mapping rules).
 * cJSON (Debian libcjson-dev) does the JSON; this file only decides which
 * field means what, and says clearly what is missing or wrong.
 */
#include "config_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (64u << 20)

typedef struct ctx {
    char *err;
    size_t errlen;
    int failed;
} ctx;

static int fail(ctx *c, const char *fmt, ...) {
    if (!c->failed && c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    c->failed = 1;
    return -1;
}

/*
 * The raw text, before cJSON sees it. cJSON keeps strings NUL-terminated
 * without their length, so "linear\u0000junk" would read as "linear" and a key
 * "factor\u0000x" as "factor"; it also passes invalid UTF-8 and raw control
 * bytes through, which `rope inspect --json` would echo. So: the text must be
 * UTF-8 (RFC 8259 section 8.1; no overlong forms, surrogates or code points
 * beyond U+10FFFF), a string may not hold a raw control byte (as Python's json)
 * and no string may contain U+0000 (Python would accept it; every comparison
 * here would silently stop at it). The error names the key. One pass: linear.
 */
static size_t utf8_len(const unsigned char *p, size_t left) {
    unsigned c = p[0];
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                             : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || n > left) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))) return 0;
    if (n == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))) return 0;
    return n;
}

/* The last key seen, for messages: printable ASCII, at most 40 bytes, escaped form. */
static void key_for_msg(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
    if (k + 4 >= cap) memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
}

static int text_check(ctx *c, const char *json, size_t len) {
    const unsigned char *t = (const unsigned char *)json;
    size_t line = 1, col = 1, str_start = 0, key_at = 0, key_n = 0;
    int in_str = 0, has_nul = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(t + i, len - i);
        if (n == 0)
            return fail(c, "config.json is not valid UTF-8 at line %zu, column %zu (byte 0x%02x)", line,
                        col, t[i]);
        if (!in_str) {
            if (t[i] == '"') in_str = 1, str_start = i + 1, has_nul = 0;
            if (t[i] == '\n') line++, col = 0;
        } else if (t[i] < 0x20) {
            return fail(c, "invalid JSON: raw control byte 0x%02x in a string at line %zu, column %zu",
                        t[i], line, col);
        } else if (t[i] == '\\' && i + 1 < len) {
            if (t[i + 1] == 'u' && i + 5 < len && !memcmp(t + i + 2, "0000", 4)) has_nul = 1;
            i += 2, col += 2; /* the escaped character is ASCII or cJSON refuses it */
            continue;
        } else if (t[i] == '"') {
            in_str = 0;
            size_t j = i + 1; /* a key is followed by ':' */
            while (j < len && (t[j] == ' ' || t[j] == '\t' || t[j] == '\n' || t[j] == '\r')) j++;
            int is_key = j < len && t[j] == ':';
            if (is_key) key_at = str_start, key_n = i - str_start;
            if (has_nul) {
                char key[48];
                key_for_msg(json + key_at, key_n, key, sizeof key);
                return fail(c, is_key ? "key \"%s\" contains a NUL character (\\u0000)"
                                      : "the value of \"%s\" contains a NUL character (\\u0000)", key);
            }
        }
        i += n;
        col++;
    }
    return 0;
}

/* Value of `key` in object o, NULL when absent or JSON null. Python's json
 * keeps the LAST of duplicate keys, so this does too. */
static const cJSON *get(const cJSON *o, const char *key) {
    const cJSON *found = NULL;
    if (!o || !cJSON_IsObject(o)) return NULL;
    for (const cJSON *it = o->child; it; it = it->next)
        if (it->string && strcmp(it->string, key) == 0) found = it;
    if (found && cJSON_IsNull(found)) return NULL;
    return found;
}

/* A number field: 1 if present (stored in *v), 0 if absent, -1 on a wrong type. */
static int get_num(ctx *c, const cJSON *o, const char *where, const char *key, double *v) {
    const cJSON *it = get(o, key);
    if (!it) return 0;
    if (!cJSON_IsNumber(it))
        return fail(c, "%s%s must be a number", where, key);
    double x = cJSON_GetNumberValue(it);
    if (!isfinite(x)) return fail(c, "%s%s is not a finite number", where, key);
    *v = x;
    return 1;
}

/* A non-negative integer field (JSON 4096 or 4096.0), at most 2^53. */
static int get_int(ctx *c, const cJSON *o, const char *where, const char *key, int64_t *v) {
    double x = 0;
    int r = get_num(c, o, where, key, &x);
    if (r <= 0) return r;
    if (x != floor(x) || x < 0 || x > 9007199254740992.0)
        return fail(c, "%s%s must be a non-negative integer (got %.17g)", where, key, x);
    *v = (int64_t)x;
    return 1;
}

static int get_bool(ctx *c, const cJSON *o, const char *where, const char *key, int *v) {
    const cJSON *it = get(o, key);
    if (!it) return 0;
    if (cJSON_IsBool(it)) {
        *v = cJSON_IsTrue(it) ? 1 : 0;
        return 1;
    }
    if (cJSON_IsNumber(it) && (it->valuedouble == 0.0 || it->valuedouble == 1.0)) {
        *v = it->valuedouble != 0.0;
        return 1;
    }
    return fail(c, "%s%s must be true or false", where, key);
}

static int get_str(ctx *c, const cJSON *o, const char *where, const char *key, const char **v) {
    const cJSON *it = get(o, key);
    if (!it) return 0;
    if (!cJSON_IsString(it) || !it->valuestring) return fail(c, "%s%s must be a string", where, key);
    *v = it->valuestring;
    return 1;
}

/* A list of finite numbers, malloc'ed into *out (n entries). */
static int get_num_list(ctx *c, const cJSON *o, const char *where, const char *key, double **out,
                        int64_t *n) {
    const cJSON *it = get(o, key);
    if (!it) return 0;
    if (!cJSON_IsArray(it)) return fail(c, "%s%s must be a list of numbers", where, key);
    int count = cJSON_GetArraySize(it);
    if (count <= 0) return fail(c, "%s%s is empty", where, key);
    if (count > ROPE_MAX_FREQS)
        return fail(c, "%s%s has %d entries, more than the %d frequencies librope supports", where,
                    key, count, ROPE_MAX_FREQS);
    double *a = malloc((size_t)count * sizeof *a);
    if (!a) return fail(c, "out of memory");
    int k = 0;
    for (const cJSON *e = it->child; e; e = e->next, k++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            free(a);
            return fail(c, "%s%s[%d] is not a finite number", where, key, k);
        }
        a[k] = e->valuedouble;
    }
    *out = a;
    *n = count;
    return 1;
}

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* Truncation (of an over-long name) backs off to a UTF-8 character boundary,
 * so what is kept stays valid UTF-8. */
static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void hf_config_free(hf_config *c) {
    if (!c) return;
    /* short_factor/long_factor point into owned[] */
    for (int k = 0; k < c->n_owned; k++) free(c->owned[k]);
    c->n_owned = 0;
    c->short_factor = c->long_factor = NULL;
    c->rope.short_factor = c->rope.long_factor = NULL;
    c->rope.n_short_factor = c->rope.n_long_factor = 0;
}

static int is_mt(const char *mt, const char *const *list, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (streq(mt, list[k])) return 1;
    return 0;
}
#define IS_MT(mt, ...) \
    is_mt(mt, (const char *const[]){__VA_ARGS__}, \
          sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* ------------------------------------------------------ family defaults */

/*
 * What transformers assumes when config.json gives no RoPE parameters, per
 * model_type, from the audit of its configuration classes
 * (tests/golden/audit_config_keys.py writes family_defaults.inc; the test
 * test_config_audit checks the reader against it):
 *   FAMILY_DEFAULTS: a default dict (used when the config has no rope dict; yarn,
 *     llama3, ...) and/or a fallback θ and partial rotary factor (used when neither
 *     the dict nor the top level gives one; the class's default_theta);
 *   FAMILY_VISION: a vision tower (default rope_type axial): refused, the reader
 *     reads text models (tables for towers: rope_table_create_axial);
 *   FAMILY_PER_LAYER_TYPE: defaults keyed by layer type that librope does not
 *     implement: refused unless the config keys rope_parameters by layer type.
 */
typedef enum { FAMILY_DEFAULTS, FAMILY_VISION, FAMILY_PER_LAYER_TYPE } family_kind;
typedef struct family_row {
    const char *model_type;
    const char *dict;  /* JSON, or NULL */
    double theta;      /* fallback base */
    double prf;        /* fallback partial_rotary_factor, -1 = none */
    family_kind kind;
} family_row;
static const family_row FAMILY_ROWS[] = {
#include "family_defaults.inc"
};

static const family_row *family_default(const char *mt) {
    for (size_t i = 0; mt && i < sizeof FAMILY_ROWS / sizeof FAMILY_ROWS[0]; i++)
        if (strcmp(FAMILY_ROWS[i].model_type, mt) == 0) return &FAMILY_ROWS[i];
    return NULL;
}

/* A vision or audio tower read as a text model would get a plain 1-D RoPE at θ 10000 that its
 * model never applies: refuse it. A tower is named so by transformers (suffix _vision,
 * _vision_model, _vision_encoder, _audio, _audio_encoder); it is refused when its configuration
 * class has no RoPE default (no row in family_defaults.inc: its RoPE, if any, is not 1-D), and
 * Llama 4's vision model always (its class carries a rope_theta, but the model builds a 2-D
 * table from patch coordinates: rope_table_create_axial). Audio encoders whose class does carry
 * a 1-D RoPE (time is one axis) are read. */
static int is_tower_without_rope(const char *mt, const family_row *fr) {
    static const char *const suffix[] = {"_vision", "_vision_model", "_vision_encoder", "_audio",
                                         "_audio_encoder"};
    if (!mt) return 0;
    if (strcmp(mt, "llama4_vision_model") == 0) return 1;
    if (fr) return 0;
    size_t n = strlen(mt);
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        size_t k = strlen(suffix[i]);
        if (n > k && strcmp(mt + n - k, suffix[i]) == 0) return 1;
    }
    return 0;
}

/* Which pairs a checkpoint of this model type rotates (pitfall 9). */
static void pick_style(hf_config *o, const cJSON *src, ctx *c) {
    const char *mt = o->model_type;
    if (streq(mt, "deepseek_v2")) {
        o->style = ROPE_STYLE_INTERLEAVED;
        o->style_note = "DeepSeek-V2 rotates q_pe/k_pe (the last qk_rope_head_dim dims of a head) "
                        "as interleaved pairs (2i, 2i+1), like Meta's complex apply_rotary_emb";
        return;
    }
    if (streq(mt, "deepseek_v3") || streq(mt, "kimi_k2") || streq(mt, "mistral4")) {
        int inter = 1;
        get_bool(c, src, "", "rope_interleave", &inter);
        if (inter) {
            o->style = ROPE_STYLE_INTERLEAVED;
            o->style_note = "DeepSeek-V3 / Mistral 4 (rope_interleave=true) read q_pe/k_pe as interleaved pairs "
                            "but writes them de-interleaved [even | odd]; scores are unchanged";
        } else {
            o->style = ROPE_STYLE_HALF;
            o->style_note = "DeepSeek-V3 with rope_interleave=false uses rotate_half on q_pe/k_pe";
        }
        return;
    }
    if (IS_MT(mt, "mistral_large4", "mistral_large4_text")) {
        o->style = ROPE_STYLE_INTERLEAVED;
        o->style_note = "Mistral Large 4 rotates its MLA rope slice as DeepSeek-V3 does "
                        "(apply_rotary_pos_emb_interleave): interleaved pairs in, [even | odd] out";
        return;
    }
    if (IS_MT(mt, "llama4_text", "llama4")) {
        o->style = ROPE_STYLE_INTERLEAVED;
        o->style_note = "Llama 4 applies RoPE as Meta's complex multiply (apply_rotary_emb): interleaved "
                        "pairs (2i, 2i+1); its checkpoints keep Meta's q/k order";
        return;
    }
    if (IS_MT(mt, "glm", "glm4", "glm4v", "glm4v_text", "chatglm")) {
        o->style = ROPE_STYLE_INTERLEAVED;
        o->style_note = "GLM / GLM-4 / GLM-4.1V rotate x[..., 0::2] with x[..., 1::2] (repeat_interleave'd "
                        "cos/sin): interleaved pairs (2i, 2i+1) over the rotary part";
        return;
    }
    if (IS_MT(mt, "cohere", "cohere2")) {
        o->style = ROPE_STYLE_INTERLEAVED;
        o->style_note = "Cohere's rotate_half takes x[..., ::2] / x[..., 1::2] and repeat_interleaves "
                        "cos/sin: interleaved pairs (2i, 2i+1)";
        return;
    }
    if (streq(mt, "gptj") || streq(mt, "codegen")) {
        o->style = ROPE_STYLE_INTERLEAVED;
        o->style_note = "GPT-J rotate_every_two: interleaved pairs (2i, 2i+1) over the first rotary_dim";
        return;
    }
    o->style = ROPE_STYLE_HALF;
    o->style_note = "Hugging Face checkpoints pair (i, i+R/2) (rotate_half; q/k weights are "
                    "pre-permuted); Meta and GGUF weights use interleaved pairs";
}

/* ----------------------------------------------------------- layer plan */

/* Which attention type each layer has and whether it rotates (before sets exist). */
typedef struct layer_plan {
    int64_t n;                                   /* layers; 0 = unknown */
    int n_types;
    char names[ROPE_MAX_SETS][ROPE_SET_NAME_MAX];
    int16_t type_of[ROPE_MAX_LAYERS];
    unsigned char rope_on[ROPE_MAX_LAYERS];
} layer_plan;

static int plan_type(ctx *c, layer_plan *p, const char *name) {
    for (int t = 0; t < p->n_types; t++)
        if (streq(p->names[t], name)) return t;
    if (p->n_types == ROPE_MAX_SETS)
        return fail(c, "layer_types has more than %d distinct types", ROPE_MAX_SETS);
    if (!name[0] || strlen(name) >= ROPE_SET_NAME_MAX)
        return fail(c, "layer_types entry '%.60s' is empty or longer than %d bytes", name,
                    ROPE_SET_NAME_MAX - 1);
    copy_str(p->names[p->n_types], ROPE_SET_NAME_MAX, name);
    return p->n_types++;
}

/* no_rope_layers (1 = RoPE, SmolLM3's polarity) or every interval-th layer NoPE. */
static int plan_nope_list(ctx *c, const cJSON *src, const char *w, const char *mt, layer_plan *p) {
    const cJSON *nl = get(src, "no_rope_layers");
    int nope_family = IS_MT(mt, "smollm3", "llama4_text", "llama4", "mistral_large4", "mistral_large4_text");
    if (!nope_family) {
        if (nl) return fail(c, "%sno_rope_layers is not understood for model_type '%s'", w, mt ? mt : "");
        if (get(src, "no_rope_layer_interval"))
            return fail(c, "%sno_rope_layer_interval is not understood for model_type '%s'", w, mt ? mt : "");
        return 0;
    }
    /* Llama 4 treats an empty list as absent (`if self.no_rope_layers`). */
    if (nl && cJSON_IsArray(nl) && cJSON_GetArraySize(nl) == 0 && IS_MT(mt, "llama4_text", "llama4"))
        nl = NULL;
    if (nl) {
        if (!cJSON_IsArray(nl)) return fail(c, "%sno_rope_layers must be a list of 0/1", w);
        int64_t k = 0;
        for (const cJSON *e = nl->child; e; e = e->next, k++) {
            int b;
            if (cJSON_IsBool(e)) b = cJSON_IsTrue(e);
            else if (cJSON_IsNumber(e) && (e->valuedouble == 0.0 || e->valuedouble == 1.0))
                b = e->valuedouble != 0.0;
            else return fail(c, "%sno_rope_layers[%lld] must be 0 or 1 (1 = the layer uses RoPE)", w,
                             (long long)k);
            if (k < ROPE_MAX_LAYERS) p->rope_on[k] = (unsigned char)b;
        }
        if (k > ROPE_MAX_LAYERS)
            return fail(c, "%sno_rope_layers has more than %d layers", w, ROPE_MAX_LAYERS);
        if (p->n == 0) p->n = k;
        if (k != p->n)
            return fail(c, "%sno_rope_layers has %lld entries for %lld layers", w, (long long)k,
                        (long long)p->n);
        return 0;
    }
    int64_t iv = 4;
    if (get_int(c, src, w, "no_rope_layer_interval", &iv) < 0) return -1;
    if (iv < 1) return fail(c, "%sno_rope_layer_interval must be >= 1", w);
    if (p->n == 0)
        return fail(c, "%snum_hidden_layers is needed: model_type %s leaves every "
                    "no_rope_layer_interval-th layer without RoPE", w, mt);
    for (int64_t i = 0; i < p->n; i++) p->rope_on[i] = (i + 1) % iv != 0;
    return 0;
}

/* The family's own layer_types when the config has none (transformers __post_init__). */
static int plan_default_types(ctx *c, const cJSON *src, const char *w, const char *mt, layer_plan *p) {
    int64_t pat = 0;
    int sw = get(src, "sliding_window") != NULL;
    const char *spat = NULL;
    if (IS_MT(mt, "gemma2")) pat = 2;
    else if (IS_MT(mt, "gemma3_text", "gemma3", "gemma4_text", "gemma4")) pat = 6;
    else if (IS_MT(mt, "cohere2", "exaone4")) pat = 4;
    if (pat && IS_MT(mt, "gemma3_text", "gemma3", "cohere2", "exaone4")) {
        const cJSON *it = get(src, "sliding_window_pattern");
        if (it && cJSON_IsString(it) && IS_MT(mt, "exaone4")) spat = it->valuestring;
        else if (get_int(c, src, w, "sliding_window_pattern", &pat) < 0) return -1;
        if (!spat && pat < 1) return fail(c, "%ssliding_window_pattern must be >= 1", w);
        if (spat && (!spat[0] || strspn(spat, "LG") != strlen(spat)))
            return fail(c, "%ssliding_window_pattern must be an integer or a string of L and G", w);
    }
    /* Qwen3-Next / Qwen3.5: every full_attention_interval-th layer (default 4) is full
     * attention, the others linear attention (Gated DeltaNet, no RoPE). */
    int64_t fai = 0;
    if (IS_MT(mt, "qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text")) {
        fai = 4;
        if (get_int(c, src, w, "full_attention_interval", &fai) < 0) return -1;
        if (fai < 1) return fail(c, "%sfull_attention_interval must be >= 1", w);
    }
    /* Mistral Large 4: every layer is "indexed_attention" (DSA) when layer_types is absent. */
    const char *base = IS_MT(mt, "mistral_large4", "mistral_large4_text") ? "indexed_attention" : "full_attention";
    int full = plan_type(c, p, base);
    if (full < 0) return -1;
    int other = -1;
    for (int64_t i = 0; i < p->n; i++) {
        const char *tn = base;
        if (fai) {
            if ((i + 1) % fai != 0) tn = "linear_attention";
        } else if (spat) {
            if (sw && spat[i % (int64_t)strlen(spat)] == 'L' && i != p->n - 1) tn = "sliding_attention";
        } else if (pat && (i + 1) % pat != 0 && !(IS_MT(mt, "exaone4") && !sw)) {
            tn = "sliding_attention";
        } else if (IS_MT(mt, "llama4_text", "llama4") && p->rope_on[i] &&
                   get(src, "attention_chunk_size")) {
            tn = "chunked_attention";
        } else if (IS_MT(mt, "smollm3") && !p->rope_on[i] && sw) {
            int usw = 0;
            if (get_bool(c, src, w, "use_sliding_window", &usw) < 0) return -1;
            if (usw) tn = "sliding_attention";
        }
        int t = streq(tn, base) ? full : (other = plan_type(c, p, tn));
        if (t < 0) return -1;
        p->type_of[i] = (int16_t)t;
    }
    (void)other;
    return 0;
}

static int plan_layers(ctx *c, const cJSON *src, const char *w, const char *mt, layer_plan *p) {
    memset(p, 0, sizeof *p);
    if (get_int(c, src, w, "num_hidden_layers", &p->n) < 0) return -1;
    if (!p->n && IS_MT(mt, "gptj", "codegen") && get_int(c, src, w, "n_layer", &p->n) < 0) return -1;
    if (!p->n && streq(mt, "chatglm") && get_int(c, src, w, "num_layers", &p->n) < 0) return -1;
    if (p->n > ROPE_MAX_LAYERS)
        return fail(c, "%snum_hidden_layers %lld is more than the %d layers librope maps", w,
                    (long long)p->n, ROPE_MAX_LAYERS);
    for (int64_t i = 0; i < ROPE_MAX_LAYERS; i++) p->rope_on[i] = 1;
    const cJSON *lt = get(src, "layer_types");
    if (lt) {
        if (!cJSON_IsArray(lt)) return fail(c, "%slayer_types must be a list of strings", w);
        int64_t k = cJSON_GetArraySize(lt);
        if (p->n == 0) p->n = k;
        if (k != p->n)
            return fail(c, "%slayer_types has %lld entries for %lld layers", w, (long long)k, (long long)p->n);
        if (k > ROPE_MAX_LAYERS)
            return fail(c, "%slayer_types has more than %d layers", w, ROPE_MAX_LAYERS);
    }
    if (plan_nope_list(c, src, w, mt, p) < 0) return -1;
    if (lt) {
        int64_t k = 0;
        for (const cJSON *e = lt->child; e; e = e->next, k++) {
            if (!cJSON_IsString(e) || !e->valuestring)
                return fail(c, "%slayer_types[%lld] must be a string", w, (long long)k);
            int t = plan_type(c, p, e->valuestring);
            if (t < 0) return -1;
            p->type_of[k] = (int16_t)t;
        }
        /* Gemma 4 forces its last layer to full attention. */
        if (IS_MT(mt, "gemma4_text", "gemma4") && k > 0) {
            int t = plan_type(c, p, "full_attention");
            if (t < 0) return -1;
            p->type_of[k - 1] = (int16_t)t;
        }
    } else if (plan_default_types(c, src, w, mt, p) < 0) {
        return -1;
    }
    /* Linear-attention layers (Qwen3-Next / Qwen3.5 Gated DeltaNet) have no RoPE. */
    for (int64_t i = 0; i < p->n; i++)
        if (streq(p->names[p->type_of[i]], "linear_attention")) p->rope_on[i] = 0;
    /* Families that rotate on sliding layers only (transformers: RoPE only where the
     * layer has a sliding window). */
    int sw = get(src, "sliding_window") != NULL;
    int cohere2 = IS_MT(mt, "cohere2"), exaone4 = IS_MT(mt, "exaone4");
    if (cohere2 || (exaone4 && sw))
        for (int64_t i = 0; i < p->n; i++)
            if (!sw || !streq(p->names[p->type_of[i]], "sliding_attention")) p->rope_on[i] = 0;
    return 0;
}

/* ------------------------------------------------- no silent misreads */

/* Every key a RoPE dict (rope_scaling / rope_parameters / a layer type's dict) may
 * hold in any transformers family. A key outside this list is refused by name:
 * transformers would only warn and ignore it, and a misspelt `factor` would then
 * give an unscaled table that looks right. Keys of another type than the dict's
 * (e.g. beta_fast in a llama3 dict) are ignored, as transformers ignores them. */
static int check_rope_dict_keys(ctx *c, const cJSON *d, const char *dn, const char *mt) {
    static const char *const known[] = {
        "rope_type", "type", "rope_theta", "factor", "original_max_position_embeddings",
        "partial_rotary_factor", "beta_fast", "beta_slow", "mscale", "mscale_all_dim",
        "attention_factor", "truncate", "low_freq_factor", "high_freq_factor", "short_factor",
        "long_factor", "mrope_section", "mrope_interleaved", "llama_4_scaling_beta",
        "max_position_embeddings"};
    if (!d || !cJSON_IsObject(d)) return 0;
    for (const cJSON *it = d->child; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= streq(k, known[i]);
        if (streq(k, "alpha"))
            ok = IS_MT(mt, "hunyuan_v1_dense", "hunyuan_v1_moe", "hunyuan_vl", "hunyuan_vl_text");
        /* HunYuanVL's legacy name of mrope_section (XD-RoPE), read in parse_set_scaling */
        if (streq(k, "xdrope_section")) ok = IS_MT(mt, "hunyuan_vl", "hunyuan_vl_text");
        if (streq(k, "interleaved")) ok = IS_MT(mt, "qwen3_omni_moe", "qwen3_omni_moe_thinker");
        if (!ok)
            return fail(c, "%s%s is not a RoPE parameter librope understands (model_type '%s'); refusing "
                        "rather than ignoring it", dn, k, mt ? mt : "");
    }
    return 0;
}

/*
 * Misspellings of the top-level keys the reader reads: a key one edit away (two for
 * names of 8 bytes or more; a swap of neighbours is one edit) from one of GUARDED,
 * and not itself a name transformers' configs use (near_names.inc, from the audit),
 * is refused: `sliding_window_patern` would otherwise leave the default pattern in
 * force without a word. Keys are bounded (64 bytes), so this is constant work per key.
 */
static const char *const GUARDED[] = {
    "rope_theta", "rope_scaling", "rope_parameters", "partial_rotary_factor", "rotary_dim", "rotary_pct",
    "rotary_emb_base", "layer_types", "sliding_window_pattern", "full_attention_interval", "no_rope_layers",
    "no_rope_layer_interval", "attention_chunk_size", "global_head_dim", "per_layer_config", "head_dim",
    "qk_rope_head_dim", "qk_nope_head_dim", "kv_channels", "max_position_embeddings",
    "original_max_position_embeddings", "num_hidden_layers", "num_attention_heads", "hidden_size",
    "rope_local_base_freq", "rope_interleave", "sliding_window", "attn_temperature_tuning", "floor_scale",
    "attn_scale", "use_sliding_window", "text_config", "thinker_config", "model_type"};
static const char *const NEAR_OK[] = {
#include "near_names.inc"
};

/* Optimal string alignment distance, or > cap as soon as it must exceed cap. */
static int edits(const char *a, const char *b, int cap) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64 || (n > m ? n - m : m - n) > (size_t)cap) return cap + 1;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int row_min = cap + 1;
        for (size_t j = 1; j <= m; j++) {
            int v = d[i - 1][j] + 1, ins = d[i][j - 1] + 1, sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (ins < v) v = ins;
            if (sub < v) v = sub;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < row_min) row_min = v;
        }
        if (row_min > cap) return cap + 1;
    }
    return d[n][m];
}

static int check_misspelt_keys(ctx *c, const cJSON *o, const char *w) {
    for (const cJSON *it = o ? o->child : NULL; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        int known = 0;
        for (size_t g = 0; g < sizeof GUARDED / sizeof GUARDED[0]; g++) known |= streq(k, GUARDED[g]);
        for (size_t g = 0; g < sizeof NEAR_OK / sizeof NEAR_OK[0]; g++) known |= streq(k, NEAR_OK[g]);
        for (size_t g = 0; !known && g < sizeof GUARDED / sizeof GUARDED[0]; g++) {
            int cap = strlen(GUARDED[g]) < 8 ? 1 : 2;
            if (edits(k, GUARDED[g], cap) <= cap)
                return fail(c, "%s%.64s is not a config key librope knows: a misspelling of %s? refusing rather "
                            "than ignoring it", w, k, GUARDED[g]);
        }
    }
    return 0;
}

/* Keys that decide which layers rotate or how wide a head is, in the families that
 * read them (transformers' audit, tests/data/config_keys.json); elsewhere refused by
 * name: the reader would not know what they change there. */
static int check_layout_keys(ctx *c, const cJSON *src, const char *w, const char *mt) {
    struct {
        const char *key;
        int ok;
    } keys[] = {
        {"sliding_window_pattern", IS_MT(mt, "gemma3_text", "gemma3", "cohere2", "exaone4")},
        {"global_head_dim", IS_MT(mt, "gemma4_text", "gemma4")},
        {"attention_chunk_size", IS_MT(mt, "llama4_text", "llama4")},
        {"full_attention_interval", IS_MT(mt, "qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe",
                                          "qwen3_5_moe_text")},
        {"kv_channels", IS_MT(mt, "chatglm")},
    };
    /* MLA head split and GPT-NeoX's names: only the families the audit found reading them
     * (scoped_keys.inc; kimi_k2 is DeepSeek-V3 under another name, remote code) */
    static const struct {
        const char *key, *mt;
    } scoped[] = {
#include "scoped_keys.inc"
        {"qk_rope_head_dim", "kimi_k2"}, {"qk_nope_head_dim", "kimi_k2"},
    };
    for (size_t i = 0; i < sizeof scoped / sizeof scoped[0]; i++) {
        /* without a model_type the reader reads them generically, as it always has */
        if (!mt || !mt[0] || !get(src, scoped[i].key) || (i > 0 && streq(scoped[i].key, scoped[i - 1].key)))
            continue;
        int ok = 0; /* first row of this key: look through all its rows */
        for (size_t j = 0; j < sizeof scoped / sizeof scoped[0]; j++)
            ok |= streq(scoped[j].key, scoped[i].key) && streq(scoped[j].mt, mt);
        if (!ok)
            return fail(c, "%s%s is not read by transformers for model_type '%s'; refusing rather than ignoring it",
                        w, scoped[i].key, mt ? mt : "");
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (get(src, keys[i].key) && !keys[i].ok)
            return fail(c, "%s%s is not understood for model_type '%s' (librope reads it only for the families "
                        "listed in docs/families.md); refusing rather than ignoring it", w, keys[i].key,
                        mt ? mt : "");
    return 0;
}

/* Top-level keys: anything naming rope/rotary/theta that librope does not read for this
 * family is refused by name, and so are models whose positions are not RoPE. */
static int check_top_level_keys(ctx *c, const cJSON *src, const char *w, const char *mt) {
    static const char *const known[] = {
        "rope_theta", "rope_scaling", "rope_parameters", "rotary_emb_base", "rotary_pct",
        "partial_rotary_factor", "qk_rope_head_dim", "no_rope_layers", "no_rope_layer_interval",
        "qk_nope_head_dim", "use_rope_scaling"};
    static const char *const no_rope[] = {"gpt2", "gpt_bigcode", "bloom", "mpt", "opt", "bert", "roberta",
                                          "t5", "gpt_neo", "jais"};
    for (size_t i = 0; i < sizeof no_rope / sizeof no_rope[0]; i++)
        if (streq(mt, no_rope[i]))
            return fail(c, "model_type '%s' has no rotary position embedding", mt);
    int alibi = 0;
    if (get_bool(c, src, w, "alibi", &alibi) < 0) return -1;
    if (alibi) return fail(c, "%salibi is true: this model uses ALiBi, not RoPE", w);
    if (!src->child) return 0;
    for (const cJSON *it = src->child; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        if (!strstr(k, "rope") && !strstr(k, "rotary") && !strstr(k, "theta")) continue;
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= streq(k, known[i]);
        if (streq(k, "rope_local_base_freq")) ok = IS_MT(mt, "gemma3_text", "gemma3");
        if (streq(k, "rotary_dim")) ok = IS_MT(mt, "gptj", "codegen", "minimax_m2");
        if (streq(k, "rope_interleave")) ok = IS_MT(mt, "deepseek_v3", "kimi_k2", "mistral4");
        if (streq(k, "rope_ratio") || streq(k, "original_rope") || streq(k, "apply_rope_fusion"))
            ok = IS_MT(mt, "chatglm");
        if (streq(k, "rope_pct"))
            return fail(c, "%srope_pct (StableLM's remote-code name) is not read by transformers; "
                        "give partial_rotary_factor instead", w);
        if (!ok)
            return fail(c, "%s%s is not a RoPE key librope understands for model_type '%s'; refusing "
                        "rather than ignoring it", w, k, mt ? mt : "");
    }
    return check_layout_keys(c, src, w, mt);
}

/* ------------------------------------------------------------- one set */

/* Where a set's parameters come from, and the family defaults that differ. */
typedef struct set_src {
    const cJSON *d;       /* the rope dict (may be NULL: defaults) */
    const char *dn;       /* its name for messages */
    int gemma3_sliding;   /* base: rope_local_base_freq, default 1e4 */
    double theta_default; /* when nothing gives one */
    double prf_default;   /* partial_rotary_factor when nothing gives one (<= 0: none) */
    int keyed;            /* d is one layer type's entry of a dict keyed by layer type */
    int64_t head_dim;     /* > 0: this layer type's head size (Gemma 4 global_head_dim) */
    const char *label;    /* layer type named in messages, NULL for a one-type model */
} set_src;

static int parse_set_type(ctx *c, const set_src *s, const char *mt, rope_config *r,
                          hf_rope_set_info *si) {
    const char *tn = NULL, *legacy = NULL;
    if (get_str(c, s->d, s->dn, "rope_type", &tn) < 0) return -1;
    if (get_str(c, s->d, s->dn, "type", &legacy) < 0) return -1;
    if (tn && legacy && !streq(tn, legacy)) { /* aliases (mrope = default, su = longrope) agree */
        rope_scaling_type a, b;
        int hy = IS_MT(mt, "hunyuan_vl", "hunyuan_vl_text"); /* its "xdrope" is "dynamic" (below) */
        int ka = rope_scaling_from_name(hy && streq(tn, "xdrope") ? "dynamic" : tn, &a) == ROPE_OK;
        int kb = rope_scaling_from_name(hy && streq(legacy, "xdrope") ? "dynamic" : legacy, &b) == ROPE_OK;
        if (ka && kb && streq(mt, "phi3")) { /* Phi3Config renames yarn to longrope */
            if (a == ROPE_SCALING_YARN) a = ROPE_SCALING_LONGROPE;
            if (b == ROPE_SCALING_YARN) b = ROPE_SCALING_LONGROPE;
        }
        if (!ka || !kb || a != b)
            return fail(c, "%stype '%s' contradicts %srope_type '%s' (transformers would take rope_type and "
                        "ignore type)", s->dn, legacy, s->dn, tn);
    }
    if (!tn) tn = legacy;
    if (!tn) tn = "default";
    /* HunYuanVLTextConfig renames XD-RoPE's "xdrope" to "dynamic" (with alpha: NTK-alpha) */
    if (streq(tn, "xdrope") && IS_MT(mt, "hunyuan_vl", "hunyuan_vl_text")) tn = "dynamic";
    copy_str(si->rope_type_name, sizeof si->rope_type_name, tn);
    rope_status st = rope_scaling_from_name(tn, &r->type);
    if (st == ROPE_E_UNSUPPORTED)
        return fail(c, "%srope_type '%s' is a real Hugging Face type that librope does not implement",
                    s->dn, tn);
    if (st != ROPE_OK)
        return fail(c, "%srope_type '%s' is unknown (expected default, linear, dynamic, yarn, llama3, "
                    "longrope, proportional; or the aliases su, mrope)", s->dn, tn);
    /* Phi3Config renames "su" and "yarn" to "longrope". */
    if (streq(mt, "phi3") && r->type == ROPE_SCALING_YARN) r->type = ROPE_SCALING_LONGROPE;
    return 0;
}

/* Base and partial rotary factor. */
/*
 * The first of several places a value may come from (transformers' precedence);
 * another place that gives a different value is refused naming it: transformers
 * would silently drop it (the top-level rope_theta beside rope_parameters.rope_theta,
 * partial_rotary_factor beside GPT-NeoX's rotary_pct, ...). 1 found, 0 none, -1 error.
 */
typedef struct val_src {
    const cJSON *o;
    const char *where, *key;
} val_src;

static int first_of(ctx *c, const val_src *vs, int n, double *v) {
    int found = -1;
    for (int i = 0; i < n; i++) {
        double x = 0;
        int got = get_num(c, vs[i].o, vs[i].where, vs[i].key, &x);
        if (got < 0) return -1;
        if (!got) continue;
        if (found < 0) {
            found = i;
            *v = x;
        } else if (x != *v) {
            return fail(c, "%s%s %.17g contradicts %s%s %.17g, which transformers would take (ignoring %s%s)",
                        vs[i].where, vs[i].key, x, vs[found].where, vs[found].key, *v, vs[i].where, vs[i].key);
        }
    }
    return found >= 0;
}

/* Does this model type's config class drop a top-level `key` (ignored_keys.inc, the audit)? */
static int top_dropped(const char *key, const char *mt) {
    static const struct {
        const char *key, *mt;
    } rows[] = {
#include "ignored_keys.inc"
    };
    for (size_t i = 0; mt && i < sizeof rows / sizeof rows[0]; i++)
        if (streq(rows[i].key, key) && streq(rows[i].mt, mt)) return 1;
    return 0;
}

/* A top-level key the family's config class drops: fine when it says what the family uses. */
static int check_dropped(ctx *c, const cJSON *src, const char *w, const char *mt, const char *key, double used) {
    double x;
    int got = top_dropped(key, mt) ? get_num(c, src, w, key, &x) : 0;
    if (got < 0) return -1;
    if (got && x != used)
        return fail(c, "%s%s %.17g is dropped by transformers' %s config (it uses %.17g); refusing rather than "
                    "ignoring it", w, key, x, mt, used);
    return 0;
}

static int parse_set_base(ctx *c, const cJSON *src, const char *w, const set_src *s, const char *mt,
                          rope_config *r) {
    const cJSON *d = s->d;
    const char *dn = s->dn;
    /* Base: the dict's rope_theta wins (HF setdefault), then Gemma 3's sliding
     * rope_local_base_freq, NeoX's rotary_emb_base, the top-level rope_theta. */
    double v;
    int got;
    if (s->gemma3_sliding) {
        val_src th[] = {{d, dn, "rope_theta"}, {src, w, "rope_local_base_freq"}};
        got = first_of(c, th, 2, &v);
    } else { /* a layer type's own entry may differ from the top level (Gemma 3's full vs sliding) */
        val_src th[] = {{d, dn, "rope_theta"}, {src, w, "rotary_emb_base"}, {src, w, "rope_theta"}};
        int drop = top_dropped("rope_theta", mt); /* then the top-level one is checked below */
        got = s->keyed ? get_num(c, d, dn, "rope_theta", &v) : first_of(c, th, 3 - drop, &v);
        if (s->keyed && !got) got = first_of(c, th + 1, 2 - drop, &v);
    }
    if (got < 0) return -1;
    if (!got && streq(mt, "chatglm")) { /* THUDM remote code: base = 10000 · rope_ratio */
        double ratio = 1.0;
        if (get_num(c, src, w, "rope_ratio", &ratio) < 0) return -1;
        if (!(ratio > 0)) return fail(c, "%srope_ratio must be > 0 (got %.17g)", w, ratio);
        v = 10000.0 * ratio;
        got = 1;
    }
    if (!got) v = s->theta_default;
    if (!(v > 0)) return fail(c, "rope_theta must be > 0 (got %.17g)", v);
    r->rope_theta = v;
    if (!s->gemma3_sliding && check_dropped(c, src, w, mt, "rope_theta", v) < 0) return -1;

    /* Partial rotary: the dict's, NeoX rotary_pct, the top-level one; NeoX default 0.25. */
    val_src pr[] = {{d, dn, "partial_rotary_factor"}, {src, w, "rotary_pct"}, {src, w, "partial_rotary_factor"}};
    int drop = top_dropped("partial_rotary_factor", mt);
    got = s->keyed ? get_num(c, d, dn, "partial_rotary_factor", &v) : first_of(c, pr, 3 - drop, &v);
    if (s->keyed && !got) got = first_of(c, pr + 1, 2 - drop, &v);
    if (got < 0) return -1;
    if (got) {
        if (!(v > 0 && v <= 1) && !(v == 0 && r->type == ROPE_SCALING_PROPORTIONAL))
            return fail(c, "partial_rotary_factor must be in (0, 1] (got %.17g)", v);
        r->partial_rotary_factor = v;
    } else if (IS_MT(mt, "gpt_neox", "qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text",
                     "stablelm")) {
        r->partial_rotary_factor = 0.25; /* the config classes' defaults when the key is absent */
    } else if (IS_MT(mt, "glm", "glm4", "glm4_moe", "glm4v_moe", "glm4v_moe_text", "phi", "persimmon",
                     "nemotron", "recurrent_gemma", "chatglm")) {
        r->partial_rotary_factor = 0.5;
    } else if (s->prf_default > 0) {
        r->partial_rotary_factor = s->prf_default; /* the audit's family table */
    }
    /* HF's own compute_default_rope_parameters of these models ignores
     * partial_rotary_factor (the ROPE_INIT_FUNCTIONS of the scaled types honour it). */
    if (r->type == ROPE_SCALING_DEFAULT && r->partial_rotary_factor != 1.0 &&
        IS_MT(mt, "llama", "mistral", "qwen2", "gemma", "gemma2", "gemma3_text", "gemma3",
              "gemma4_text", "gemma4", "deepseek_v2", "deepseek_v3"))
        r->partial_rotary_factor = 1.0;
    return check_dropped(c, src, w, mt, "partial_rotary_factor", r->partial_rotary_factor);
}

/* Sizes shared by every set (heads, hidden, max positions) and this set's head_dim. */
static int parse_set_dims(ctx *c, const cJSON *src, const char *w, const set_src *s, const char *mt,
                          rope_config *r, hf_rope_set_info *si, hf_config *o) {
    int64_t heads = 0, kv = 0, hidden = 0, hd = 0, qk_rope = 0, qk_nope = 0, maxp = 0;
    if (get_int(c, src, w, "num_attention_heads", &heads) < 0) return -1;
    if (get_int(c, src, w, "num_key_value_heads", &kv) < 0) return -1;
    if (get_int(c, src, w, "hidden_size", &hidden) < 0) return -1;
    int has_hd = get_int(c, src, w, "head_dim", &hd);
    if (has_hd < 0) return -1;
    int has_qkr = get_int(c, src, w, "qk_rope_head_dim", &qk_rope);
    if (has_qkr < 0) return -1;
    if (get_int(c, src, w, "qk_nope_head_dim", &qk_nope) < 0) return -1;
    if (get_int(c, src, w, "max_position_embeddings", &maxp) < 0) return -1;
    if (IS_MT(mt, "gptj", "codegen")) { /* their attribute_map names */
        if (!hidden && get_int(c, src, w, "n_embd", &hidden) < 0) return -1;
        if (!heads && get_int(c, src, w, "n_head", &heads) < 0) return -1;
        if (!maxp && get_int(c, src, w, "n_positions", &maxp) < 0) return -1;
    }
    if (IS_MT(mt, "hunyuan_vl", "hunyuan_vl_text")) { /* HunYuanVLTextConfig's attribute_map */
        int64_t ahd = 0;
        int got = get_int(c, src, w, "attention_head_dim", &ahd);
        if (got < 0) return -1;
        if (got && has_hd && ahd != hd)
            return fail(c, "%sattention_head_dim %lld and head_dim %lld differ (HunYuanVL reads them as "
                        "one field)", w, (long long)ahd, (long long)hd);
        if (got && !has_hd) has_hd = 1, hd = ahd;
    }
    if (streq(mt, "chatglm")) {
        if (!has_hd && (has_hd = get_int(c, src, w, "kv_channels", &hd)) < 0) return -1;
        if (!maxp && get_int(c, src, w, "seq_length", &maxp) < 0) return -1;
    }

    int64_t full = 0; /* the whole head: what the softmax scale divides by */
    if (s->head_dim > 0) full = s->head_dim;
    else if (has_hd && hd > 0) full = hd;
    else if (hidden > 0 && heads > 0) full = hidden / heads;
    if (has_qkr && qk_rope > 0) {
        si->head_dim = qk_rope;
        si->attn_head_dim = qk_rope + qk_nope;
        /* Mistral 4's rotary module builds its frequencies over int(head_dim · partial) of
         * the whole (nope + rope) head; it rotates the rope slice, so the two must agree, and
         * then the slice is rotated whole. */
        if (streq(mt, "mistral4")) {
            int64_t eff = (int64_t)((double)(qk_rope + qk_nope) * r->partial_rotary_factor);
            if (r->partial_rotary_factor != 1.0 && eff != qk_rope)
                return fail(c, "%spartial_rotary_factor %.17g of the %lld-wide head rotates %lld dims, but "
                            "qk_rope_head_dim is %lld", s->dn, r->partial_rotary_factor,
                            (long long)(qk_rope + qk_nope), (long long)eff, (long long)qk_rope);
            r->partial_rotary_factor = 1.0;
        }
    } else {
        if (full <= 0)
            return fail(c, "%shead_dim is missing: the config needs head_dim, or hidden_size and "
                        "num_attention_heads (both > 0)", w);
        si->head_dim = full;
        si->attn_head_dim = full;
    }
    r->head_dim = si->head_dim;
    r->hidden_size = hidden;
    r->num_attention_heads = heads;
    r->max_position_embeddings = maxp;
    o->num_attention_heads = heads;
    o->num_key_value_heads = kv ? kv : heads;
    o->max_position_embeddings = maxp;
    return 0;
}

/* factor, original_max_position_embeddings and the type's own parameters. */
static int parse_set_scaling(ctx *c, const cJSON *src, const char *w, const set_src *s, rope_config *r,
                             hf_rope_set_info *si) {
    const cJSON *d = s->d;
    const char *dn = s->dn;
    const char *tname = rope_scaling_name(r->type);
    int64_t maxp = r->max_position_embeddings;
    double v;
    int got = get_num(c, d, dn, "factor", &v);
    if (got < 0) return -1;
    if (got) r->factor = v;
    if (!got && (r->type == ROPE_SCALING_LINEAR || r->type == ROPE_SCALING_DYNAMIC ||
                 r->type == ROPE_SCALING_LLAMA3))
        return fail(c, "%sfactor is required for rope_type %s", dn, tname);
    if (got && !(v > 0)) return fail(c, "%sfactor must be > 0 (got %.17g)", dn, v);

    if (r->type == ROPE_SCALING_DYNAMIC && maxp <= 0)
        return fail(c, "%smax_position_embeddings is required for dynamic NTK", w);

    int needs_orig = r->type == ROPE_SCALING_YARN || r->type == ROPE_SCALING_LLAMA3 ||
                     r->type == ROPE_SCALING_LONGROPE;
    if (needs_orig) {
        int64_t orig = 0;
        got = get_int(c, src, w, "original_max_position_embeddings", &orig); /* Phi-3: top level wins */
        if (got < 0) return -1;
        if (!got || orig == 0) got = get_int(c, d, dn, "original_max_position_embeddings", &orig);
        if (got < 0) return -1;
        if (!got || orig == 0) orig = maxp;
        if (orig <= 0)
            return fail(c, "%soriginal_max_position_embeddings is required for rope_type %s (and "
                        "max_position_embeddings is absent)", dn, tname);
        r->original_max_position_embeddings = orig;
        si->original_max_position_embeddings = orig;
        if (r->factor == 0 && maxp <= 0 &&
            (r->type == ROPE_SCALING_YARN || r->type == ROPE_SCALING_LONGROPE))
            return fail(c, "%sfactor is missing and cannot be derived (no max_position_embeddings)", dn);
    }

    if (r->type == ROPE_SCALING_YARN) {
        if (get_num(c, d, dn, "beta_fast", &r->beta_fast) < 0) return -1;
        if (get_num(c, d, dn, "beta_slow", &r->beta_slow) < 0) return -1;
        if (get_num(c, d, dn, "mscale", &r->mscale) < 0) return -1;
        if (get_num(c, d, dn, "mscale_all_dim", &r->mscale_all_dim) < 0) return -1;
        if (get_bool(c, d, dn, "truncate", &r->truncate) < 0) return -1;
    }
    if (r->type == ROPE_SCALING_YARN || r->type == ROPE_SCALING_LONGROPE) {
        got = get_num(c, d, dn, "attention_factor", &v);
        if (got < 0) return -1;
        if (got) {
            if (!(v > 0)) return fail(c, "%sattention_factor must be > 0 (got %.17g)", dn, v);
            r->attention_factor = v;
        }
    }
    if (r->type == ROPE_SCALING_LLAMA3) {
        if (get_num(c, d, dn, "low_freq_factor", &r->low_freq_factor) <= 0)
            return c->failed ? -1 : fail(c, "%slow_freq_factor is required for rope_type llama3", dn);
        if (get_num(c, d, dn, "high_freq_factor", &r->high_freq_factor) <= 0)
            return c->failed ? -1 : fail(c, "%shigh_freq_factor is required for rope_type llama3", dn);
    }
    return 0;
}

static int parse_set_lists(ctx *c, const set_src *s, const char *mt, rope_config *r,
                           hf_rope_set_info *si, hf_config *o) {
    const cJSON *d = s->d;
    const char *dn = s->dn;
    si->rotary_dim = (int64_t)((double)si->head_dim * r->partial_rotary_factor);
    if (r->type == ROPE_SCALING_LONGROPE) {
        if (o->n_owned + 2 > (int)(sizeof o->owned / sizeof o->owned[0])) return fail(c, "too many lists");
        double *sf = NULL, *lf = NULL;
        int gs = get_num_list(c, d, dn, "short_factor", &sf, &r->n_short_factor);
        if (gs < 0) return -1;
        if (gs) o->owned[o->n_owned++] = sf;
        int gl = get_num_list(c, d, dn, "long_factor", &lf, &r->n_long_factor);
        if (gl < 0) return -1;
        if (gl) o->owned[o->n_owned++] = lf;
        if (!gs || !gl)
            return fail(c, "%sshort_factor and long_factor are required for rope_type longrope", dn);
        r->short_factor = sf;
        r->long_factor = lf;
        if (r->n_short_factor != si->rotary_dim / 2 || r->n_long_factor != si->rotary_dim / 2)
            return fail(c, "%sshort_factor/long_factor have %lld/%lld entries; rotary_dim %lld needs %lld",
                        dn, (long long)r->n_short_factor, (long long)r->n_long_factor,
                        (long long)si->rotary_dim, (long long)(si->rotary_dim / 2));
    }

    /* M-RoPE sections (Qwen2-VL), frequency counts per t/h/w plane. The Qwen3-VL /
     * Qwen3.5 / Qwen3-Omni text models always interleave (apply_interleaved_mrope:
     * their `mrope_interleaved` key is informative) and, like GLM-4.1V, default the
     * sections when the config has none. */
    int inter = IS_MT(mt, "qwen3_vl", "qwen3_vl_text", "qwen3_vl_moe", "qwen3_vl_moe_text", "qwen3_omni_moe",
                      "qwen3_omni_moe_thinker", "qwen3_omni_moe_text", "qwen3_5", "qwen3_5_text",
                      "qwen3_5_moe", "qwen3_5_moe_text");
    const cJSON *ms = get(d, "mrope_section");
    /* HunYuanVL XD-RoPE: xdrope_section is mrope_section's legacy name (both: they must agree);
     * 3 planes (width, height, image index) or 4 (position, width, height, image index),
     * contiguous sections whose two halves of a pair take the same plane (see docs/families.md) */
    const int hy = IS_MT(mt, "hunyuan_vl", "hunyuan_vl_text");
    const cJSON *xs = hy ? get(d, "xdrope_section") : NULL;
    if (xs && ms && !cJSON_Compare(xs, ms, 1))
        return fail(c, "%smrope_section and xdrope_section differ (HunYuanVL takes them as one field)", dn);
    if (!ms) ms = xs;
    int flag = -1;
    if (get_bool(c, d, dn, "mrope_interleaved", &flag) < 0) return -1;
    if (flag == 1 && !inter)
        return fail(c, "%smrope_interleaved is not understood for model_type '%s' (librope interleaves "
                    "M-RoPE for the Qwen3-VL / Qwen3.5 / Qwen3-Omni families, as transformers does)", dn,
                    mt ? mt : "");
    static const int64_t qwen3vl_sec[3] = {24, 20, 20}, qwen35_sec[3] = {11, 11, 10}, glm4v_sec[3] = {8, 12, 12};
    const int64_t *dflt = NULL;
    if (IS_MT(mt, "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text")) dflt = qwen35_sec;
    else if (inter) dflt = qwen3vl_sec;
    else if (IS_MT(mt, "glm4v", "glm4v_text", "glm4v_moe", "glm4v_moe_text")) dflt = glm4v_sec;
    if (!ms && dflt) {
        for (int k = 0; k < 3; k++) r->mrope_section[k] = dflt[k];
        r->n_mrope_section = 3;
        r->mrope_interleaved = inter;
        if (dflt[0] + dflt[1] + dflt[2] != si->rotary_dim / 2)
            return fail(c, "%smrope_section is absent and model_type %s's default (%lld, %lld, %lld) does not "
                        "tile rotary_dim/2 = %lld", dn, mt, (long long)dflt[0], (long long)dflt[1],
                        (long long)dflt[2], (long long)(si->rotary_dim / 2));
    }
    if (ms) {
        r->mrope_interleaved = inter;
        if (!cJSON_IsArray(ms)) return fail(c, "%smrope_section must be a list of 3 integers", dn);
        int n = cJSON_GetArraySize(ms);
        if (hy && n != 3 && n != 4)
            return fail(c, "%smrope_section/xdrope_section must have 3 or 4 entries (XD-RoPE planes), got %d",
                        dn, n);
        if (!hy && n != 3) return fail(c, "%smrope_section must have 3 entries (t, h, w), got %d", dn, n);
        int k = 0;
        int64_t sum = 0;
        for (const cJSON *e = ms->child; e; e = e->next, k++) {
            if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
                e->valuedouble > ROPE_MAX_FREQS)
                return fail(c, "%smrope_section[%d] must be an integer in [0, %d]", dn, k, ROPE_MAX_FREQS);
            r->mrope_section[k] = (int64_t)e->valuedouble;
            sum += r->mrope_section[k];
        }
        r->n_mrope_section = n;
        if (sum != si->rotary_dim / 2)
            return fail(c, "%smrope_section sums to %lld, but rotary_dim/2 is %lld", dn, (long long)sum,
                        (long long)(si->rotary_dim / 2));
    }
    return 0;
}

/*
 * Legacy fields of real families, read as their modeling code reads them:
 *   GPT-J / CodeGen / MiniMax-M2 `rotary_dim`: the first rotary_dim dims of a head
 *     rotate (default 64 for GPT-J and CodeGen), base 10000 for GPT-J and CodeGen
 *     (hard-coded in create_sinusoidal_positions);
 *   Hunyuan `"dynamic"` with `alpha` (HunYuanDenseV1RotaryEmbedding ntk_alpha): a
 *     static base θ·alpha^(d/(d-2)), not dynamic NTK.
 */
static int parse_set_legacy(ctx *c, const cJSON *src, const char *w, const set_src *s, const char *mt,
                            rope_config *r, hf_rope_set_info *si) {
    if (IS_MT(mt, "gptj", "codegen", "minimax_m2")) {
        int64_t rd = IS_MT(mt, "minimax_m2") ? 0 : 64;
        int got = get_int(c, src, w, "rotary_dim", &rd);
        if (got < 0) return -1;
        if (rd > 0) {
            if (rd > si->head_dim || rd % 2)
                return fail(c, "%srotary_dim %lld must be even and at most head_dim %lld", w, (long long)rd,
                            (long long)si->head_dim);
            r->partial_rotary_factor = (double)rd / (double)si->head_dim;
        }
        if (IS_MT(mt, "gptj", "codegen")) {
            if (get(src, "rope_theta") || get(s->d, "rope_theta"))
                return fail(c, "%srope_theta is not read by transformers' %s (its base is 10000)", w, mt);
            r->rope_theta = 10000.0;
        }
    }
    double alpha = 0;
    int got = get_num(c, s->d, s->dn, "alpha", &alpha);
    if (got < 0) return -1;
    if (got && alpha != 0) {
        if (r->type != ROPE_SCALING_DYNAMIC)
            return fail(c, "%salpha is read only with rope_type dynamic (Hunyuan's NTK-alpha)", s->dn);
        if (!(alpha > 0)) return fail(c, "%salpha must be > 0 (got %.17g)", s->dn, alpha);
        double d = (double)si->head_dim;
        if (d <= 2) return fail(c, "%salpha needs head_dim > 2", s->dn);
        r->type = ROPE_SCALING_DEFAULT;
        r->rope_theta *= pow(alpha, d / (d - 2.0));
        r->factor = 0;
        r->partial_rotary_factor = 1.0; /* compute_ntk_alpha_rope_parameters: dim = head_dim */
    }
    return 0;
}

static int parse_set(ctx *c, const cJSON *src, const char *w, const set_src *s, const char *mt,
                     rope_config *r, hf_rope_set_info *si, hf_config *o) {
    rope_config_init(r);
    memset(si, 0, sizeof *si);
    if (check_rope_dict_keys(c, s->d, s->dn, mt) < 0) return -1;
    if (parse_set_type(c, s, mt, r, si) < 0) return -1;
    if (parse_set_base(c, src, w, s, mt, r) < 0) return -1;
    if (parse_set_dims(c, src, w, s, mt, r, si, o) < 0) return -1;
    if (parse_set_legacy(c, src, w, s, mt, r, si) < 0) return -1;
    if (parse_set_scaling(c, src, w, s, r, si) < 0) return -1;
    if (parse_set_lists(c, s, mt, r, si, o) < 0) return -1;
    /* The parsed set must give frequencies: say which rule it breaks. */
    rope_freqs *f = malloc(sizeof *f);
    if (!f) return fail(c, "out of memory");
    rope_status st = rope_freqs_compute(r, 0, f);
    if (st == ROPE_OK) si->rotary_dim = f->rotary_dim;
    free(f);
    if (st != ROPE_OK)
        return fail(c, "config gives no valid RoPE%s%s%s: %s (rope_type %s, head_dim %lld, rotary_dim %lld, "
                    "rope_theta %.17g)", s->label ? " for layer type '" : "", s->label ? s->label : "",
                    s->label ? "'" : "", rope_strerror(st), rope_scaling_name(r->type),
                    (long long)si->head_dim, (long long)si->rotary_dim, r->rope_theta);
    return 0;
}

/* ------------------------------------------------------------- the model */

/* Is d a dict keyed by layer type (HF: its keys are a subset of layer_types)? */
static int keyed_by_layer_type(const cJSON *d, const layer_plan *p) {
    if (!d || !d->child) return 0;
    for (const cJSON *it = d->child; it; it = it->next) {
        int known = 0;
        for (int t = 0; t < p->n_types; t++)
            if (it->string && streq(it->string, p->names[t])) known = 1;
        if (!known || !(cJSON_IsObject(it) || cJSON_IsNull(it))) return 0;
    }
    return 1;
}

/* When layer types are unknown (no num_hidden_layers), a dict keyed by known type names. */
static int keyed_by_known_names(ctx *c, const cJSON *d, layer_plan *p) {
    if (!d || !d->child || p->n != 0) return 0;
    for (const cJSON *it = d->child; it; it = it->next)
        if (!it->string || !(cJSON_IsObject(it) || cJSON_IsNull(it)) ||
            !(streq(it->string, "full_attention") || streq(it->string, "sliding_attention") ||
              streq(it->string, "chunked_attention")))
            return 0;
    p->n_types = 0;
    for (const cJSON *it = d->child; it; it = it->next)
        if (plan_type(c, p, it->string) < 0) return -1;
    return 1;
}

/*
 * per_layer_config (transformers' heterogeneous configs; Gemma 4 saves its full
 * layers' head_dim there): {"<layer>": {"head_dim": ...}}. A head_dim must be the
 * same for every layer of a type (one frequency set per type); keys that would
 * change a layer's RoPE in other ways are refused, never ignored.
 */
static int per_layer_head_dims(ctx *c, const cJSON *src, const char *w, const layer_plan *p,
                               int64_t hd_of_type[ROPE_MAX_SETS]) {
    static const char *const rope_keys[] = {"rope_parameters", "rope_scaling", "rope_theta",
        "partial_rotary_factor", "rotary_dim", "qk_rope_head_dim", "layer_types", "no_rope_layers",
        "rope_local_base_freq", "max_position_embeddings", "hidden_size", "num_attention_heads"};
    const cJSON *pl = get(src, "per_layer_config");
    if (!pl) return 0;
    if (!cJSON_IsObject(pl)) return fail(c, "%sper_layer_config must be an object", w);
    int count[ROPE_MAX_SETS] = {0}, total[ROPE_MAX_SETS] = {0};
    for (int64_t i = 0; i < p->n; i++) total[p->type_of[i]]++;
    for (const cJSON *e = pl->child; e; e = e->next) {
        const char *k = e->string ? e->string : "";
        char *end = NULL;
        long long li = strtoll(k, &end, 10);
        if (!k[0] || *end || li < 0 || li >= p->n || !cJSON_IsObject(e))
            return fail(c, "%sper_layer_config key '%.40s' is not a layer index below num_hidden_layers "
                        "(with an object)", w, k);
        for (size_t r = 0; r < sizeof rope_keys / sizeof rope_keys[0]; r++)
            if (get(e, rope_keys[r]))
                return fail(c, "%sper_layer_config.%s.%s changes one layer's RoPE: not supported", w, k,
                            rope_keys[r]);
        int64_t hd = 0;
        int got = get_int(c, e, "per_layer_config.", "head_dim", &hd);
        if (got < 0) return -1;
        if (!got) continue;
        int t = p->type_of[li];
        if (count[t] && hd_of_type[t] != hd)
            return fail(c, "%sper_layer_config gives layers of type '%s' different head_dim values", w,
                        p->names[t]);
        hd_of_type[t] = hd;
        count[t]++;
    }
    for (int t = 0; t < p->n_types; t++)
        if (count[t] && count[t] != total[t])
            return fail(c, "%sper_layer_config sets head_dim on %d of the %d '%s' layers", w, count[t],
                        total[t], p->names[t]);
    return 0;
}

static int build_sets(ctx *c, const cJSON *src, const char *w, const char *mt, const cJSON *d,
                      const char *dn, layer_plan *p, hf_config *o) {
    int keyed = keyed_by_layer_type(d, p);
    if (!keyed) keyed = keyed_by_known_names(c, d, p);
    if (keyed < 0) return -1;
    /* An object entry in a dict that is not keyed by this model's layer types: a layer
     * type this model does not have (or misspelt), named. */
    for (const cJSON *it = d && !keyed ? d->child : NULL; it; it = it->next) {
        int known = 0;
        for (int t = 0; t < p->n_types; t++) known |= streq(it->string, p->names[t]);
        if (cJSON_IsObject(it) && !known)
            return fail(c, "%s%.64s is not a layer type of this model (its layer types: %s%s%s%s); refusing rather "
                        "than ignoring it", dn, it->string ? it->string : "", p->names[0],
                        p->n_types > 1 ? ", " : "", p->n_types > 1 ? p->names[1] : "", p->n_types > 2 ? ", ..." : "");
    }
    int gemma3 = IS_MT(mt, "gemma3_text", "gemma3");
    int gemma4 = IS_MT(mt, "gemma4_text", "gemma4");
    int64_t ghd = 0, hd_of_type[ROPE_MAX_SETS] = {0};
    if (gemma4) {
        ghd = 512;
        if (get_int(c, src, w, "global_head_dim", &ghd) < 0) return -1;
    }
    if (per_layer_head_dims(c, src, w, p, hd_of_type) < 0) return -1;
    int set_of_type[ROPE_MAX_SETS];
    char dname[ROPE_MAX_SETS][ROPE_SET_NAME_MAX + 20];
    for (int t = 0; t < p->n_types; t++) {
        set_of_type[t] = ROPE_LAYER_NOPE;
        const char *tn = p->names[t];
        int used = p->n == 0;
        for (int64_t i = 0; i < p->n; i++)
            if (p->type_of[i] == t && p->rope_on[i]) used = 1;
        const family_row *fr = family_default(mt);
        set_src s = {d, dn, 0, fr && fr->theta > 0 ? fr->theta : 10000.0, fr ? fr->prf : -1, keyed, 0,
                     p->n_types > 1 ? tn : NULL};
        if (keyed) {
            const cJSON *e = NULL;
            for (const cJSON *it = d->child; it; it = it->next)
                if (streq(it->string, tn)) e = it;
            if (!e) return fail(c, "%s has no entry for layer type '%s'", dn, tn);
            if (cJSON_IsNull(e)) used = 0; /* a null entry: that layer type has no RoPE */
            snprintf(dname[t], sizeof dname[t], "%s%s.", dn, tn);
            s.d = e;
            s.dn = dname[t];
        }
        if (gemma3 && streq(tn, "sliding_attention")) {
            s.gemma3_sliding = 1;
            if (!keyed) {
                s.d = NULL; /* rope_scaling is for the full-attention layers only */
                s.dn = "";
            }
        } else if (gemma3) {
            s.theta_default = 1e6;
        }
        if (gemma4 && streq(tn, "full_attention")) s.head_dim = ghd;
        if (hd_of_type[t]) s.head_dim = hd_of_type[t];
        if (!used) {
            for (int64_t i = 0; i < p->n; i++)
                if (p->type_of[i] == t) p->rope_on[i] = 0;
            continue;
        }
        rope_config r;
        hf_rope_set_info si;
        if (parse_set(c, src, w, &s, mt, &r, &si, o) < 0) return -1;
        int idx;
        if (rope_model_add_set(&o->model, tn, &r, &idx) != ROPE_OK)
            return fail(c, "layer type '%s' cannot be added", tn);
        o->set_info[idx] = si;
        set_of_type[t] = idx;
    }
    if (o->model.n_sets == 0) return fail(c, "%sno layer of this model uses RoPE", w);
    /* A dict keyed by layer type takes the top-level rope_theta / partial_rotary_factor only
     * where an entry lacks its own: one that no set ended up with was dropped. */
    static const char *const tops[2] = {"rope_theta", "partial_rotary_factor"};
    for (int k = 0; keyed && k < 2; k++) {
        double top;
        int got = get_num(c, src, w, tops[k], &top);
        if (got < 0) return -1;
        int used = !got;
        for (int i = 0; !used && i < o->model.n_sets; i++)
            used = (k ? o->model.set[i].partial_rotary_factor : o->model.set[i].rope_theta) == top;
        if (!used)
            return fail(c, "%s%s %.17g is not used by any layer type (each entry of %s gives its own); refusing "
                        "rather than ignoring it", w, tops[k], top, dn);
    }
    o->model.n_layers = p->n;
    for (int64_t i = 0; i < p->n; i++)
        o->model.layer_set[i] = (int16_t)(p->rope_on[i] ? set_of_type[p->type_of[i]] : ROPE_LAYER_NOPE);
    o->n_layer_types = p->n_types;
    for (int t = 0; t < p->n_types; t++) copy_str(o->layer_type_name[t], ROPE_SET_NAME_MAX, p->names[t]);
    for (int64_t i = 0; i < p->n; i++) o->layer_type[i] = p->type_of[i];
    return 0;
}

/* Llama 4 attention temperature tuning (NoPE layers) and Ministral 3's
 * llama_4_scaling_beta (every layer, positions / original_max_position_embeddings). */
static int parse_query_scaling(ctx *c, const cJSON *src, const char *w, const char *mt, const cJSON *d,
                               const char *dn, hf_config *o) {
    rope_model *m = &o->model;
    if (IS_MT(mt, "llama4_text", "llama4")) {
        int on = 1;
        double beta = 0.1;
        int64_t fl = 8192;
        if (get_bool(c, src, w, "attn_temperature_tuning", &on) < 0) return -1;
        if (get_num(c, src, w, "attn_scale", &beta) < 0) return -1;
        if (get_int(c, src, w, "floor_scale", &fl) < 0) return -1;
        if (on) {
            if (fl < 1) return fail(c, "%sfloor_scale must be >= 1", w);
            m->query_scaling = ROPE_QUERY_SCALING_NOPE_LAYERS;
            m->query_scaling_beta = beta;
            m->query_scaling_floor = fl;
            m->query_scaling_pos_offset = 1;
        }
        return 0;
    }
    double beta;
    int got = get_num(c, d, dn, "llama_4_scaling_beta", &beta);
    if (got < 0) return -1;
    if (!got) return 0;
    int64_t orig = 0;
    if (get_int(c, d, dn, "original_max_position_embeddings", &orig) < 0) return -1;
    if (orig < 1)
        return fail(c, "%sllama_4_scaling_beta needs %soriginal_max_position_embeddings >= 1", dn, dn);
    m->query_scaling = ROPE_QUERY_SCALING_ALL_LAYERS;
    m->query_scaling_beta = beta;
    m->query_scaling_floor = orig;
    m->query_scaling_pos_offset = 0;
    return 0;
}

static int parse_root(const cJSON *root, hf_config *o, ctx *c) {
    if (!cJSON_IsObject(root)) return fail(c, "config.json must be a JSON object");

    const char *mt = NULL;
    if (get_str(c, root, "", "model_type", &mt) < 0) return -1;

    /* Multimodal wrappers keep the text model in text_config. */
    const cJSON *src = root;
    const char *w = "";
    const cJSON *tc = get(root, "text_config");
    /* Qwen3-Omni keeps its language model in thinker_config.text_config. */
    const cJSON *th = get(root, "thinker_config");
    if (!tc && th && cJSON_IsObject(th) && get(th, "text_config")) {
        if (!mt && get_str(c, th, "thinker_config.", "model_type", &mt) < 0) return -1;
        tc = get(th, "text_config");
        if (!cJSON_IsObject(tc)) return fail(c, "thinker_config.text_config must be an object");
    }
    if (tc && cJSON_IsObject(tc) && !get(root, "num_attention_heads") && !get(root, "head_dim") &&
        !get(root, "hidden_size")) {
        src = tc;
        w = tc == get(root, "text_config") ? "text_config." : "thinker_config.text_config.";
        if (!mt && get_str(c, tc, w, "model_type", &mt) < 0) return -1;
    }
    if (mt) copy_str(o->model_type, sizeof o->model_type, mt);

    /* The scaling dict: HF `rope_scaling or rope_parameters or {}`. */
    const cJSON *d = NULL;
    const char *dn = "rope_scaling.";
    const cJSON *rs = get(src, "rope_scaling");
    const cJSON *rp = get(src, "rope_parameters");
    if (rs && !cJSON_IsObject(rs)) return fail(c, "%srope_scaling must be an object or null", w);
    if (rp && !cJSON_IsObject(rp)) return fail(c, "%srope_parameters must be an object or null", w);
    if (rs && rs->child) d = rs;
    else if (rp && rp->child) {
        d = rp;
        dn = "rope_parameters.";
    }

    if (check_top_level_keys(c, src, w, mt) < 0) return -1;
    if (check_misspelt_keys(c, root, "") < 0) return -1;
    if (src != root && check_misspelt_keys(c, src, w) < 0) return -1;

    /* The family's own defaults (family_defaults.inc), Gemma 4's below. */
    cJSON *dflt = NULL;
    const family_row *fr = family_default(mt);
    if (is_tower_without_rope(mt, fr))
        return fail(c, "model_type '%s' is a vision or audio tower, not a text model with a 1-D "
                    "RoPE: the config reader reads text models (see docs/families.md, \"Towers\")", mt);
    if (fr && fr->kind == FAMILY_VISION)
        return fail(c, "model_type '%s' is a vision tower (transformers' default rope_type is axial): the config "
                    "reader reads text models; build its table with rope_table_create_axial", mt);
    if (fr && fr->kind == FAMILY_PER_LAYER_TYPE && !d)
        return fail(c, "model_type '%s' defaults to a RoPE per layer type that librope does not know: give "
                    "%srope_parameters keyed by layer type (and layer_types)", mt, w);
    if (fr && fr->dict && !d) {
        dflt = cJSON_Parse(fr->dict);
        if (!dflt) return fail(c, "out of memory");
        d = dflt;
        dn = "rope_parameters (model_type default).";
    }
    if (!d && IS_MT(mt, "gemma4_text", "gemma4")) {
        dflt = cJSON_Parse("{\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0},"
                           "\"full_attention\": {\"rope_type\": \"proportional\", "
                           "\"partial_rotary_factor\": 0.25, \"rope_theta\": 1000000.0}}");
        if (!dflt) return fail(c, "out of memory");
        d = dflt;
        dn = "rope_parameters (Gemma 4 default).";
    }
    layer_plan *p = malloc(sizeof *p);
    int rc = p ? plan_layers(c, src, w, mt, p) : fail(c, "out of memory");
    if (rc == 0) rc = build_sets(c, src, w, mt, d, dn, p, o);
    if (rc == 0) rc = parse_query_scaling(c, src, w, mt, d, dn, o);
    free(p);
    cJSON_Delete(dflt);
    if (rc < 0) return -1;

    /* The primary set: full attention when there is one, else the first. */
    int prim = 0;
    if (rope_model_find_set(&o->model, "full_attention", &prim) != ROPE_OK) prim = 0;
    o->primary_set = prim;
    o->rope = o->model.set[prim];
    const hf_rope_set_info *si = &o->set_info[prim];
    copy_str(o->rope_type_name, sizeof o->rope_type_name, si->rope_type_name);
    o->head_dim = si->head_dim;
    o->rotary_dim = si->rotary_dim;
    o->attn_head_dim = si->attn_head_dim;
    o->original_max_position_embeddings = si->original_max_position_embeddings;
    o->short_factor = (double *)o->rope.short_factor;
    o->long_factor = (double *)o->rope.long_factor;

    pick_style(o, src, c);
    if (c->failed) return -1;
    rope_status st = rope_model_validate(&o->model);
    if (st != ROPE_OK) return fail(c, "the per-layer RoPE is inconsistent: %s", rope_strerror(st));
    return 0;
}

int hf_config_parse(const char *json, size_t len, hf_config *out, char *err, size_t errlen) {
    ctx c = {err, errlen, 0};
    if (err && errlen) err[0] = '\0';
    if (!out) return fail(&c, "no output");
    memset(out, 0, sizeof *out);
    rope_config_init(&out->rope);
    rope_model_init(&out->model);
    out->style = ROPE_STYLE_HALF;
    out->style_note = "";
    if (!json) return fail(&c, "no JSON text");

    /* a trailing NUL terminator is allowed (as below), nothing else after it */
    if (text_check(&c, json, len && json[len - 1] == '\0' ? len - 1 : len) != 0) return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = (at && at >= json && at <= json + len) ? (size_t)(at - json) : len;
        /* line/column of the failure, for a human */
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (json[i] == '\n') line++, col = 1;
            else col++;
        }
        return fail(&c, "invalid JSON near line %zu, column %zu", line, col);
    }
    /* Anything after the value other than whitespace is an error. */
    if (end) {
        for (const char *p = end; p < json + len; p++) {
            if (*p == '\0' && p == json + len - 1) break;
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                cJSON_Delete(root);
                return fail(&c, "invalid JSON: text after the top-level value");
            }
        }
    }
    int rc = parse_root(root, out, &c);
    cJSON_Delete(root);
    if (rc != 0) {
        hf_config_free(out);
        return -1;
    }
    return 0;
}

int hf_config_load(const char *path, hf_config *out, char *err, size_t errlen) {
    ctx c = {err, errlen, 0};
    if (err && errlen) err[0] = '\0';
    if (out) {
        memset(out, 0, sizeof *out);
        rope_config_init(&out->rope);
    }
    if (!path || !out) return fail(&c, "no path");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(&c, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return fail(&c, "out of memory");
    }
    for (;;) {
        if (n == cap) {
            if (cap >= CONFIG_MAX_BYTES) {
                free(buf);
                fclose(f);
                return fail(&c, "%s: larger than %u MiB, not a config.json", path, CONFIG_MAX_BYTES >> 20);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return fail(&c, "out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        free(buf);
        return fail(&c, "%s: read error", path);
    }
    char msg[400];
    int rc = hf_config_parse(buf, n, out, msg, sizeof msg);
    free(buf);
    if (rc != 0) return fail(&c, "%s: %s", path, msg);
    return 0;
}

int hf_config_select(hf_config *h, const char *layer_type, int64_t layer, char *err, size_t errlen) {
    ctx c = {err, errlen, 0};
    if (err && errlen) err[0] = '\0';
    if (!h) return fail(&c, "no config");
    int s = -1;
    if (layer_type) {
        if (rope_model_find_set(&h->model, layer_type, &s) != ROPE_OK) {
            char names[ROPE_MAX_SETS * (ROPE_SET_NAME_MAX + 2)] = "";
            for (int k = 0; k < h->model.n_sets; k++) {
                strcat(names, k ? ", " : "");
                strcat(names, h->model.set_name[k]);
            }
            return fail(&c, "no layer type '%.60s' with RoPE in this config (it has: %s)", layer_type, names);
        }
    } else if (layer >= 0) {
        if (rope_model_layer_set(&h->model, layer, &s) != ROPE_OK)
            return fail(&c, "layer %lld is outside the model's %lld layers", (long long)layer,
                        (long long)h->model.n_layers);
        if (s == ROPE_LAYER_NOPE) return fail(&c, "layer %lld has no RoPE (a NoPE layer)", (long long)layer);
    } else {
        return 0;
    }
    const hf_rope_set_info *si = &h->set_info[s];
    h->primary_set = s;
    h->rope = h->model.set[s];
    copy_str(h->rope_type_name, sizeof h->rope_type_name, si->rope_type_name);
    h->head_dim = si->head_dim;
    h->rotary_dim = si->rotary_dim;
    h->attn_head_dim = si->attn_head_dim;
    h->original_max_position_embeddings = si->original_max_position_embeddings;
    h->short_factor = (double *)h->rope.short_factor;
    h->long_factor = (double *)h->rope.long_factor;
    return 0;
}
