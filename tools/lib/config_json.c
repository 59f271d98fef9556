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
    free(c->short_factor);
    free(c->long_factor);
    c->short_factor = c->long_factor = NULL;
    c->rope.short_factor = c->rope.long_factor = NULL;
    c->rope.n_short_factor = c->rope.n_long_factor = 0;
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
    if (streq(mt, "deepseek_v3") || streq(mt, "kimi_k2")) {
        int inter = 1;
        get_bool(c, src, "", "rope_interleave", &inter);
        if (inter) {
            o->style = ROPE_STYLE_INTERLEAVED;
            o->style_note = "DeepSeek-V3 (rope_interleave=true) reads q_pe/k_pe as interleaved pairs "
                            "but writes them de-interleaved [even | odd]; scores are unchanged";
        } else {
            o->style = ROPE_STYLE_HALF;
            o->style_note = "DeepSeek-V3 with rope_interleave=false uses rotate_half on q_pe/k_pe";
        }
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

static int parse_root(const cJSON *root, hf_config *o, ctx *c) {
    if (!cJSON_IsObject(root)) return fail(c, "config.json must be a JSON object");

    const char *mt = NULL;
    if (get_str(c, root, "", "model_type", &mt) < 0) return -1;

    /* Multimodal wrappers keep the text model in text_config. */
    const cJSON *src = root;
    const char *w = "";
    const cJSON *tc = get(root, "text_config");
    if (tc && cJSON_IsObject(tc) && !get(root, "num_attention_heads") && !get(root, "head_dim") &&
        !get(root, "hidden_size")) {
        src = tc;
        w = "text_config.";
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
    /* Per-layer-type dicts (Gemma 3): the full-attention layers carry the scaling. */
    const cJSON *fa = get(d, "full_attention");
    if (fa) {
        if (!cJSON_IsObject(fa)) return fail(c, "%sfull_attention must be an object", dn);
        d = fa;
        dn = "rope_parameters.full_attention.";
    }

    /* rope_type, with `type` as its legacy alias. */
    const char *tn = NULL;
    if (get_str(c, d, dn, "rope_type", &tn) < 0) return -1;
    if (!tn && get_str(c, d, dn, "type", &tn) < 0) return -1;
    if (!tn) tn = "default";
    copy_str(o->rope_type_name, sizeof o->rope_type_name, tn);
    rope_config *r = &o->rope;
    rope_status st = rope_scaling_from_name(tn, &r->type);
    if (st == ROPE_E_UNSUPPORTED)
        return fail(c, "%srope_type '%s' is a real Hugging Face type that librope does not implement",
                    dn, tn);
    if (st != ROPE_OK)
        return fail(c, "%srope_type '%s' is unknown (expected default, linear, dynamic, yarn, llama3, "
                    "longrope; or the aliases su, mrope)", dn, tn);
    /* Phi3Config renames "su" and "yarn" to "longrope". */
    if (streq(mt, "phi3") && r->type == ROPE_SCALING_YARN) r->type = ROPE_SCALING_LONGROPE;

    int is_neox = streq(mt, "gpt_neox");

    /* Base: the dict's rope_theta wins (HF setdefault), then NeoX's rotary_emb_base,
     * then the top-level rope_theta, then 10000. */
    double v;
    int got = get_num(c, d, dn, "rope_theta", &v);
    if (got < 0) return -1;
    if (!got) got = get_num(c, src, w, "rotary_emb_base", &v);
    if (got < 0) return -1;
    if (!got) got = get_num(c, src, w, "rope_theta", &v);
    if (got < 0) return -1;
    if (got) {
        if (!(v > 0)) return fail(c, "rope_theta must be > 0 (got %.17g)", v);
        r->rope_theta = v;
    }

    /* Partial rotary: the dict's, NeoX rotary_pct, the top-level one; NeoX default 0.25. */
    got = get_num(c, d, dn, "partial_rotary_factor", &v);
    if (got < 0) return -1;
    if (!got) got = get_num(c, src, w, "rotary_pct", &v);
    if (got < 0) return -1;
    if (!got) got = get_num(c, src, w, "partial_rotary_factor", &v);
    if (got < 0) return -1;
    if (got) {
        if (!(v > 0 && v <= 1))
            return fail(c, "partial_rotary_factor must be in (0, 1] (got %.17g)", v);
        r->partial_rotary_factor = v;
    } else if (is_neox) {
        r->partial_rotary_factor = 0.25;
    }

    /* HF's own compute_default_rope_parameters of these models ignores
     * partial_rotary_factor (the ROPE_INIT_FUNCTIONS of the scaled types honour it). */
    static const char *const full_default[] = {"llama", "mistral", "qwen2", "gemma", "gemma2",
                                               "gemma3_text", "deepseek_v2", "deepseek_v3"};
    if (r->type == ROPE_SCALING_DEFAULT && r->partial_rotary_factor != 1.0)
        for (size_t k = 0; k < sizeof full_default / sizeof full_default[0]; k++)
            if (streq(mt, full_default[k])) r->partial_rotary_factor = 1.0;

    /* Model sizes. */
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

    int64_t full = 0; /* the whole head: what the softmax scale divides by */
    if (has_hd && hd > 0) full = hd;
    else if (hidden > 0 && heads > 0) full = hidden / heads;
    if (has_qkr && qk_rope > 0) {
        o->head_dim = qk_rope;
        o->attn_head_dim = qk_rope + qk_nope;
    } else {
        if (full <= 0)
            return fail(c, "%shead_dim is missing: the config needs head_dim, or hidden_size and "
                        "num_attention_heads (both > 0)", w);
        o->head_dim = full;
        o->attn_head_dim = full;
    }
    r->head_dim = o->head_dim;
    r->hidden_size = hidden;
    r->num_attention_heads = heads;
    o->num_attention_heads = heads;
    o->num_key_value_heads = kv ? kv : heads;
    o->max_position_embeddings = maxp;
    r->max_position_embeddings = maxp;

    /* Scaling parameters, by type. */
    const char *tname = rope_scaling_name(r->type);
    got = get_num(c, d, dn, "factor", &v);
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
        o->original_max_position_embeddings = orig;
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

    o->rotary_dim = (int64_t)((double)o->head_dim * r->partial_rotary_factor);
    if (r->type == ROPE_SCALING_LONGROPE) {
        int gs = get_num_list(c, d, dn, "short_factor", &o->short_factor, &r->n_short_factor);
        if (gs < 0) return -1;
        int gl = get_num_list(c, d, dn, "long_factor", &o->long_factor, &r->n_long_factor);
        if (gl < 0) return -1;
        if (!gs || !gl)
            return fail(c, "%sshort_factor and long_factor are required for rope_type longrope", dn);
        r->short_factor = o->short_factor;
        r->long_factor = o->long_factor;
        if (r->n_short_factor != o->rotary_dim / 2 || r->n_long_factor != o->rotary_dim / 2)
            return fail(c, "%sshort_factor/long_factor have %lld/%lld entries; rotary_dim %lld needs %lld",
                        dn, (long long)r->n_short_factor, (long long)r->n_long_factor,
                        (long long)o->rotary_dim, (long long)(o->rotary_dim / 2));
    }

    /* M-RoPE sections (Qwen2-VL), frequency counts per t/h/w plane. */
    const cJSON *ms = get(d, "mrope_section");
    if (ms) {
        if (!cJSON_IsArray(ms)) return fail(c, "%smrope_section must be a list of 3 integers", dn);
        int n = cJSON_GetArraySize(ms);
        if (n != 3) return fail(c, "%smrope_section must have 3 entries (t, h, w), got %d", dn, n);
        int k = 0;
        int64_t sum = 0;
        for (const cJSON *e = ms->child; e; e = e->next, k++) {
            if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
                e->valuedouble > ROPE_MAX_FREQS)
                return fail(c, "%smrope_section[%d] must be an integer in [0, %d]", dn, k, ROPE_MAX_FREQS);
            r->mrope_section[k] = (int64_t)e->valuedouble;
            sum += r->mrope_section[k];
        }
        r->n_mrope_section = 3;
        if (sum != o->rotary_dim / 2)
            return fail(c, "%smrope_section sums to %lld, but rotary_dim/2 is %lld", dn, (long long)sum,
                        (long long)(o->rotary_dim / 2));
    }

    pick_style(o, src, c);
    if (c->failed) return -1;

    /* The parsed config must give frequencies: say which rule it breaks. */
    rope_freqs *f = malloc(sizeof *f);
    if (!f) return fail(c, "out of memory");
    st = rope_freqs_compute(r, 0, f);
    free(f);
    if (st != ROPE_OK)
        return fail(c, "config gives no valid RoPE: %s (rope_type %s, head_dim %lld, rotary_dim %lld, "
                    "rope_theta %.17g)", rope_strerror(st), tname, (long long)o->head_dim,
                    (long long)o->rotary_dim, r->rope_theta);
    return 0;
}

int hf_config_parse(const char *json, size_t len, hf_config *out, char *err, size_t errlen) {
    ctx c = {err, errlen, 0};
    if (err && errlen) err[0] = '\0';
    if (!out) return fail(&c, "no output");
    memset(out, 0, sizeof *out);
    rope_config_init(&out->rope);
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
