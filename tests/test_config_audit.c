/*
 * "Never ignored", checked against the audit of transformers' sources
 * (tests/data/config_keys.json, written by tests/golden/audit_config_keys.py):
 * every key that some family's configuration / modeling code reads for its RoPE
 * is fed to the config reader for each model_type of that family, with a few
 * probe values, on top of a small base config. For every (model_type, key) at
 * least one probe must
 *   - change the result (the layer map, a set's frequencies, attention factor,
 *     rotary width, M-RoPE sections, pair style or query scaling), or
 *   - be refused with an error that names the key (unsupported, or a value
 *     validated and rejected);
 * a key whose every probe is accepted and changes nothing was ignored: a failure.
 * A model_type the reader refuses outright (a vision tower, unknown per-layer
 * defaults, no RoPE) misreads nothing: its keys pass.
 * RoPE-dict keys are probed inside rope_parameters of each rope_type (a key of
 * another type's dict is ignored by transformers too, so one type that reads it
 * suffices). The family defaults recorded by the audit (θ, partial rotary factor,
 * rope_type when config.json has none) must be what the reader gives, or the
 * reader must refuse the model_type.
 * On every bundled real config (tests/data/configs): each RoPE key misspelt three
 * ways (a letter dropped, neighbours swapped, a letter doubled), at the top level
 * or in the RoPE dict, is refused naming the misspelling; and each top-level key of
 * any audited family, added to a family that lacks it, changes the result or is
 * refused naming it.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config_json.h"
#include "rope.h"

static char err[512];

/* FNV-1a over what the reader produced that matters for RoPE. */
typedef struct fp {
    uint64_t h;
} fp;
static void fp_bytes(fp *f, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) f->h = (f->h ^ b[i]) * 1099511628211ull;
}
static void fp_d(fp *f, double v) { fp_bytes(f, &v, sizeof v); }
static void fp_i(fp *f, int64_t v) { fp_bytes(f, &v, sizeof v); }

static uint64_t fingerprint(const hf_config *h) {
    fp f = {1469598103934665603ull};
    const rope_model *m = &h->model;
    fp_i(&f, h->style);
    fp_i(&f, m->n_layers);
    for (int64_t l = 0; l < m->n_layers; l++) {
        fp_i(&f, m->layer_set[l]);
        fp_bytes(&f, h->layer_type_name[h->layer_type[l]], strlen(h->layer_type_name[h->layer_type[l]]));
    }
    fp_i(&f, m->query_scaling);
    fp_d(&f, m->query_scaling_beta);
    fp_i(&f, m->query_scaling_floor);
    fp_i(&f, m->query_scaling_pos_offset);
    for (int s = 0; s < m->n_sets; s++) {
        const rope_config *c = &m->set[s];
        fp_bytes(&f, m->set_name[s], strlen(m->set_name[s]));
        fp_i(&f, h->set_info[s].attn_head_dim);
        /* the scaled types' parameters that act only past some length */
        fp_i(&f, c->type);
        fp_d(&f, c->factor);
        fp_i(&f, c->max_position_embeddings);
        fp_i(&f, c->original_max_position_embeddings);
        rope_freqs *q = malloc(sizeof *q);
        if (q && rope_freqs_compute(c, 0, q) == ROPE_OK) {
            fp_i(&f, q->n_freqs);
            fp_i(&f, q->rotary_dim);
            fp_d(&f, q->attention_factor);
            for (int64_t i = 0; i < q->n_freqs; i++) fp_d(&f, q->inv_freq[i]);
            fp_i(&f, q->n_mrope_section);
            for (int k = 0; k < q->n_mrope_section; k++) fp_i(&f, q->mrope_section[k]);
            fp_i(&f, q->mrope_interleaved);
        }
        free(q);
    }
    return f.h;
}

/* Parse json; 0 with *out = fingerprint, or -1 with err set. */
static int read_json(const char *json, uint64_t *out) {
    hf_config h;
    int rc = hf_config_parse(json, strlen(json), &h, err, sizeof err);
    if (rc == 0) *out = fingerprint(&h);
    hf_config_free(&h);
    return rc;
}

/* Does err name `key` as a key (not as part of a longer name)? */
static int names_key(const char *e, const char *key) {
    size_t n = strlen(key);
    for (const char *p = strstr(e, key); p; p = strstr(p + 1, key)) {
        int left = p == e || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z'));
        char r = p[n];
        int right = !(r == '_' || (r >= 'a' && r <= 'z'));
        if (left && right) return 1;
    }
    return 0;
}

static const char *const PROBES[] = {
    "0.5", "0.25", "3", "48", "100000.0", "true", "false", "\"LLLG\"", "\"linear\"", "\"yarn\"",
    "[1, 1, 1, 0, 1, 1, 1, 0]",
    "[\"sliding_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\", "
    "\"sliding_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\"]",
    "[24, 20, 20]", "[8, 12, 12]", "{\"0\": {\"head_dim\": 64}}",
    "{\"rope_type\": \"linear\", \"factor\": 2.0}", "\"x\""};
#define N_PROBES (sizeof PROBES / sizeof PROBES[0])

/* Base dicts for RoPE-dict keys (head_dim 128: longrope needs 64 factors). */
static const char *const DICTS[] = {
    "\"rope_type\": \"default\", \"rope_theta\": 10000.0",
    "\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 10000.0",
    "\"rope_type\": \"dynamic\", \"factor\": 2.0, \"rope_theta\": 10000.0",
    "\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 2048, \"rope_theta\": 10000.0",
    "\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
    "\"original_max_position_embeddings\": 2048, \"rope_theta\": 500000.0",
    "\"rope_type\": \"longrope\", \"original_max_position_embeddings\": 2048, \"rope_theta\": 10000.0, "
    "\"short_factor\": [@], \"long_factor\": [@]"};
#define N_DICTS (sizeof DICTS / sizeof DICTS[0])

#define BASE "\"hidden_size\": 1024, \"num_attention_heads\": 8, \"head_dim\": 128, " \
             "\"num_hidden_layers\": 8, \"max_position_embeddings\": 8192"

static char *buf_json(size_t cap) { return malloc(cap); }

/* The longrope lists (64 entries, distinct values so a swap shows). */
static void expand_lists(const char *dict, char *out, size_t cap) {
    char ones[64 * 6] = "";
    for (int i = 0; i < 64; i++) strcat(ones, i ? ", 1.5" : "1.0");
    size_t k = 0;
    for (const char *p = dict; *p && k + sizeof ones + 1 < cap; p++) {
        if (*p == '@') {
            memcpy(out + k, ones, strlen(ones));
            k += strlen(ones);
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

static int stats_ok, stats_refused, stats_ignored;

/* Returns 1 when some probe of `key` changed the result or was refused naming it. */
static int probe_key(const char *mt, const char *key, int in_dict, char *why, size_t wcap) {
    char *json = buf_json(8192), dict[2048];
    int good = 0, unnamed = 0;
    for (size_t d = 0; d < (in_dict ? N_DICTS : 1) && !good; d++) {
        uint64_t base = 0;
        int base_rc;
        if (in_dict) {
            expand_lists(DICTS[d], dict, sizeof dict);
            snprintf(json, 8192, "{\"model_type\": \"%s\", " BASE ", \"rope_parameters\": {%s}}", mt, dict);
        } else {
            snprintf(json, 8192, "{\"model_type\": \"%s\", " BASE "}", mt);
        }
        base_rc = read_json(json, &base);
        for (size_t p = 0; p < N_PROBES && !good; p++) {
            uint64_t got = 0;
            if (in_dict)
                snprintf(json, 8192, "{\"model_type\": \"%s\", " BASE ", \"rope_parameters\": {%s, \"%s\": %s}}",
                         mt, dict, key, PROBES[p]);
            else if (strcmp(key, "head_dim") == 0 || strcmp(key, "rope_parameters") == 0)
                snprintf(json, 8192, "{\"model_type\": \"%s\", \"hidden_size\": 1024, \"num_attention_heads\": 8, "
                         "\"num_hidden_layers\": 8, \"max_position_embeddings\": 8192, \"%s\": %s}", mt, key,
                         PROBES[p]);
            else
                snprintf(json, 8192, "{\"model_type\": \"%s\", " BASE ", \"%s\": %s}", mt, key, PROBES[p]);
            int rc = read_json(json, &got);
            if (rc != 0) {
                /* refused naming the key; or the model_type is refused whatever the key says */
                if (names_key(err, key) || base_rc != 0) good = 1;
                else unnamed = 1;
            } else if (base_rc != 0 || got != base) {
                good = 1;
            }
        }
    }
    if (!good)
        snprintf(why, wcap, "%s", unnamed ? "refused, but no error names the key" : "accepted and ignored");
    free(json);
    return good;
}

static void audit_family(const char *fam, const cJSON *f) {
    const cJSON *mts = cJSON_GetObjectItemCaseSensitive(f, "model_types");
    const char *lists[2] = {"top_level_keys", "rope_dict_keys"};
    const cJSON *m;
    cJSON_ArrayForEach(m, mts) {
        for (int in_dict = 0; in_dict < 2; in_dict++) {
            const cJSON *k;
            cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(f, lists[in_dict])) {
                char why[80];
                int ok = probe_key(m->valuestring, k->valuestring, in_dict, why, sizeof why);
                if (ok) stats_ok++;
                else stats_ignored++;
                CHECK_MSG(ok, "family %s, model_type %s: %s%s: %s", fam, m->valuestring,
                          in_dict ? "rope_parameters." : "", k->valuestring, why);
            }
        }
    }
}

/* The shared RoPE-dict keys (modeling_rope_utils.py), on a Llama config. */
static void audit_shared(const cJSON *f) {
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(f, "rope_dict_keys")) {
        char why[80];
        int ok = probe_key("llama", k->valuestring, 1, why, sizeof why);
        CHECK_MSG(ok, "shared rope_parameters.%s (llama): %s", k->valuestring, why);
    }
}

/* Family defaults when config.json has no RoPE key: θ, partial factor, type. */
static void audit_defaults(const char *fam, const cJSON *f) {
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(f, "defaults")) {
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(d, "rope_theta");
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(d, "partial_rotary_factor");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(d, "rope_type");
        if (!cJSON_IsNumber(th)) continue; /* nested per layer type, or no RoPE parameters */
        char json[512];
        snprintf(json, sizeof json, "{\"model_type\": \"%s\", " BASE "}", d->string);
        hf_config h;
        int rc = hf_config_parse(json, strlen(json), &h, err, sizeof err);
        if (rc != 0) { /* refused outright: nothing is misread */
            stats_refused++;
            hf_config_free(&h);
            continue;
        }
        const rope_config *c = &h.rope;
        CHECK_MSG(c->rope_theta == th->valuedouble, "family %s, model_type %s without rope_theta: θ %.17g, "
                  "transformers' default %.17g", fam, d->string, c->rope_theta, th->valuedouble);
        double want_p = cJSON_IsNumber(pr) ? pr->valuedouble : 1.0;
        /* the default type of some families ignores partial_rotary_factor (rotary_dim says) */
        CHECK_MSG(c->partial_rotary_factor == want_p || h.rotary_dim == (int64_t)(h.head_dim * want_p) ||
                      c->type == ROPE_SCALING_DEFAULT,
                  "family %s, model_type %s: partial_rotary_factor %.17g, transformers' default %.17g", fam,
                  d->string, c->partial_rotary_factor, want_p);
        if (cJSON_IsString(ty)) {
            rope_scaling_type t;
            int known = rope_scaling_from_name(ty->valuestring, &t) == ROPE_OK;
            CHECK_MSG(known && t == c->type, "family %s, model_type %s without rope_parameters: rope_type %s, "
                      "transformers' default %s", fam, d->string, rope_scaling_name(c->type), ty->valuestring);
        }
        hf_config_free(&h);
    }
}

/* ---------------------------------------------- the bundled real configs */

/* The object that holds the text model's keys (text_config, thinker_config.text_config). */
static cJSON *text_part(cJSON *root) {
    cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thinker_config");
    if (cJSON_IsObject(th) && cJSON_GetObjectItemCaseSensitive(th, "text_config"))
        return cJSON_GetObjectItemCaseSensitive(th, "text_config");
    cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    return cJSON_IsObject(tc) ? tc : root;
}

static int parse_obj(const cJSON *root, uint64_t *fpr) {
    char *json = cJSON_PrintUnformatted(root);
    int rc = json ? read_json(json, fpr) : -1;
    free(json);
    return rc;
}

static int guarded(const char *k) {
    static const char *const g[] = {
        "rope_theta", "rope_scaling", "rope_parameters", "partial_rotary_factor", "rotary_dim", "rotary_pct",
        "rotary_emb_base", "layer_types", "sliding_window_pattern", "full_attention_interval", "no_rope_layers",
        "no_rope_layer_interval", "attention_chunk_size", "global_head_dim", "per_layer_config", "head_dim",
        "qk_rope_head_dim", "qk_nope_head_dim", "kv_channels", "max_position_embeddings",
        "original_max_position_embeddings", "num_hidden_layers", "num_attention_heads", "hidden_size",
        "rope_local_base_freq", "rope_interleave", "sliding_window", "attn_temperature_tuning", "floor_scale",
        "attn_scale", "use_sliding_window"};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (strcmp(k, g[i]) == 0) return 1;
    return 0;
}

/* Three misspellings of k: a letter dropped, two neighbours swapped, a letter doubled. */
static void misspell(const char *k, int how, char *out, size_t cap) {
    size_t n = strlen(k), at = n / 2;
    snprintf(out, cap, "%s", k);
    if (n < 4 || n + 2 > cap) return;
    if (how == 0) memmove(out + at, out + at + 1, n - at);
    if (how == 1) {
        while (at + 1 < n && out[at] == out[at + 1]) at++;
        char t = out[at];
        out[at] = out[at + 1];
        out[at + 1] = t;
    }
    if (how == 2) {
        memmove(out + at + 1, out + at, n - at + 1);
    }
}

/* Every RoPE key of a real config, misspelt three ways, is refused naming the misspelling
 * (in a RoPE dict as at the top level). */
static int misspellings_of(const char *file, cJSON *root) {
    cJSON *part = text_part(root);
    int n = 0;
    for (int in_dict = 0; in_dict < 2; in_dict++) {
        cJSON *obj = part;
        if (in_dict) {
            obj = cJSON_GetObjectItemCaseSensitive(part, "rope_parameters");
            if (!cJSON_IsObject(obj) || !obj->child) obj = cJSON_GetObjectItemCaseSensitive(part, "rope_scaling");
            if (!cJSON_IsObject(obj)) continue;
        }
        for (cJSON *it = obj->child; it; it = it->next) {
            if (!in_dict && !guarded(it->string)) continue;
            char *orig = strdup(it->string);
            for (int how = 0; how < 3 && orig; how++) {
                char bad[96];
                misspell(orig, how, bad, sizeof bad);
                if (strcmp(bad, orig) == 0 || guarded(bad)) continue;
                free(it->string);
                it->string = strdup(bad);
                uint64_t fpr;
                int rc = parse_obj(root, &fpr);
                /* a misspelling that is a real name elsewhere (layer_type) may be accepted: it is
                 * then another family's key, which the audit test covers */
                int named = rc != 0 && names_key(err, bad);
                CHECK_MSG(named || (rc == 0 && strcmp(bad, "layer_type") == 0),
                          "%s: %s%s misspelt as %s: %s", file, in_dict ? "rope dict " : "", orig, bad,
                          rc ? err : "accepted");
                n++;
            }
            free(it->string);
            it->string = orig;
        }
    }
    return n;
}

/* Each top-level RoPE key of any family (the audit's union), added to a real config whose
 * family does not have it, changes the result or is refused naming it. */
static int added_keys(const char *file, cJSON *root, const cJSON *fams) {
    cJSON *part = text_part(root);
    uint64_t base = 0;
    int n = 0, base_rc = parse_obj(root, &base);
    CHECK_MSG(base_rc == 0, "%s: %s", file, err);
    const cJSON *f, *k;
    cJSON_ArrayForEach(f, fams) {
        cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(f, "top_level_keys")) {
            const char *key = k->valuestring;
            if (cJSON_GetObjectItemCaseSensitive(part, key)) continue;
            int good = 0;
            for (size_t p = 0; p < N_PROBES && !good; p++) {
                cJSON *v = cJSON_Parse(PROBES[p]);
                cJSON_AddItemToObject(part, key, v);
                uint64_t got = 0;
                int rc = parse_obj(root, &got);
                good = rc != 0 ? names_key(err, key) : got != base;
                cJSON_DeleteItemFromObjectCaseSensitive(part, key);
            }
            CHECK_MSG(good, "%s: %s added and ignored", file, key);
            n++;
        }
    }
    return n;
}

static char *slurp(const char *path) {
    FILE *fh = fopen(path, "rb");
    if (!fh) return NULL;
    fseek(fh, 0, SEEK_END);
    long n = ftell(fh);
    fseek(fh, 0, SEEK_SET);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = text ? fread(text, 1, (size_t)n, fh) : 0;
    fclose(fh);
    if (text) text[got] = '\0';
    return text;
}

static void bundled(const cJSON *fams) {
    DIR *dir = opendir("data/configs");
    CHECK(dir != NULL);
    int files = 0, spelt = 0, added = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "data/configs/%s", e->d_name);
        char *text = slurp(path);
        cJSON *root = text ? cJSON_Parse(text) : NULL;
        free(text);
        CHECK_MSG(root != NULL, "%s", path);
        if (!root) continue;
        cJSON_DeleteItemFromObjectCaseSensitive(root, "_source");
        files++;
        spelt += misspellings_of(e->d_name, root);
        added += added_keys(e->d_name, root, fams);
        cJSON_Delete(root);
    }
    if (dir) closedir(dir);
    CHECK_MSG(files >= 35 && spelt > 300 && added > 1000, "%d files, %d misspellings, %d added keys", files, spelt,
              added);
    printf("bundled configs: %d files, %d misspelt keys refused by name, %d keys of other families added\n", files,
           spelt, added);
}

int main(void) {
    FILE *fh = fopen("data/config_keys.json", "rb");
    CHECK_MSG(fh != NULL, "cannot open data/config_keys.json");
    if (!fh) return check_report("test_config_audit");
    fseek(fh, 0, SEEK_END);
    long n = ftell(fh);
    fseek(fh, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    size_t got = text ? fread(text, 1, (size_t)n, fh) : 0;
    fclose(fh);
    if (!text) return 1;
    text[got] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    CHECK(root != NULL);
    const cJSON *fams = cJSON_GetObjectItemCaseSensitive(root, "families"), *f;
    int n_fam = 0;
    cJSON_ArrayForEach(f, fams) {
        n_fam++;
        if (strcmp(f->string, "_shared") == 0) audit_shared(f);
        else audit_family(f->string, f);
        audit_defaults(f->string, f);
    }
    bundled(fams);
    CHECK_MSG(n_fam > 100, "only %d families in the audit", n_fam);
    printf("config audit: %d families; (model_type, key) pairs: %d understood or refused by name, %d ignored; "
           "%d model types refused outright\n", n_fam, stats_ok, stats_ignored, stats_refused);
    cJSON_Delete(root);
    return check_report("test_config_audit");
}
