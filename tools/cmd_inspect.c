/*
 * rope inspect CONFIG.json [--seq-len N] [--json]
 *
 * What a Hugging Face config's RoPE is: type, base, dims, the attention factor
 * and where it multiplies, the softmax scale, and per frequency θᵢ, its
 * wavelength 2π/θᵢ, its band (unscaled / blend / scaled) and the unscaled θᵢ.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "config_json.h"
#include "rope.h"

#define TWO_PI 6.28318530717958647692

static const char *band_name(int b) {
    switch (b) {
    case ROPE_BAND_UNSCALED: return "unscaled";
    case ROPE_BAND_BLEND: return "blend";
    case ROPE_BAND_SCALED: return "scaled";
    }
    return "unknown";
}

static const char *style_name(rope_style s) {
    return s == ROPE_STYLE_INTERLEAVED ? "interleaved" : s == ROPE_STYLE_HALF ? "half" : "none";
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope inspect CONFIG.json [--seq-len N] [--json]\n"
            "\n"
            "Show the RoPE of a Hugging Face config.json: rope type, base, head_dim, rotary_dim,\n"
            "attention factor (multiplies cos and sin) and softmax scale factor, and per frequency\n"
            "i: θᵢ, wavelength 2π/θᵢ (tokens per turn), band (unscaled/blend/scaled) and the\n"
            "unscaled θᵢ for comparison.\n"
            "\n"
            "  --seq-len N  evaluate at sequence length N (dynamic NTK grows its base above\n"
            "               max_position_embeddings; longrope uses long factors above\n"
            "               original_max_position_embeddings). Default 0: at initialisation.\n"
            "  --json       one JSON object (numbers with 17 significant digits): rope_type,\n"
            "               rope_theta, head_dim, rotary_dim, n_freqs, attention_factor,\n"
            "               softmax_scale_factor, softmax_scale, inv_freq, inv_freq_f32,\n"
            "               original_inv_freq, wavelength, original_wavelength, band, ...;\n"
            "               per layer: rope_sets (one per layer type with RoPE), primary_set,\n"
            "               n_layers, layer_map (set name or null = no RoPE), layer_types,\n"
            "               query_scaling\n"
            "\n"
            "Models whose layers differ (Gemma 2/3/4 sliding vs full attention, Llama 4 /\n"
            "SmolLM3 / Cohere2 / EXAONE 4 NoPE layers): the block above is the full-attention\n"
            "layers' RoPE (else the first type's); the text ends with one block per layer type\n"
            "and the layer map.\n"
            "\n"
            "Exit status: 0 ok, 2 usage or input error.\n");
}

static void json_list(FILE *f, const double *v, int64_t n) {
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        cli_json_num(f, v[i]);
    }
    fputc(']', f);
}

static void scaling_params(const rope_config *r, FILE *f, int json) {
    /* name/value pairs relevant to the type */
    const char *names[8];
    double vals[8];
    int n = 0;
    switch (r->type) {
    case ROPE_SCALING_LINEAR:
    case ROPE_SCALING_DYNAMIC: names[n] = "factor", vals[n++] = r->factor; break;
    case ROPE_SCALING_YARN:
        names[n] = "factor", vals[n++] = r->factor;
        names[n] = "beta_fast", vals[n++] = r->beta_fast ? r->beta_fast : 32;
        names[n] = "beta_slow", vals[n++] = r->beta_slow ? r->beta_slow : 1;
        names[n] = "mscale", vals[n++] = r->mscale;
        names[n] = "mscale_all_dim", vals[n++] = r->mscale_all_dim;
        names[n] = "truncate", vals[n++] = r->truncate;
        break;
    case ROPE_SCALING_LLAMA3:
        names[n] = "factor", vals[n++] = r->factor;
        names[n] = "low_freq_factor", vals[n++] = r->low_freq_factor;
        names[n] = "high_freq_factor", vals[n++] = r->high_freq_factor;
        break;
    case ROPE_SCALING_LONGROPE: names[n] = "factor", vals[n++] = r->factor; break;
    default: break;
    }
    if (json) {
        fputc('{', f);
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s\"%s\": ", i ? ", " : "", names[i]);
            if (!strcmp(names[i], "truncate")) fputs(vals[i] != 0 ? "true" : "false", f);
            else if (!strcmp(names[i], "factor") && vals[i] == 0) fputs("null", f); /* derived */
            else cli_json_num(f, vals[i]);
        }
        fputc('}', f);
    } else {
        if (n == 0) {
            fputs("none", f);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (!strcmp(names[i], "factor") && vals[i] == 0)
                fprintf(f, "%sfactor (max_position_embeddings/original)", i ? ", " : "");
            else fprintf(f, "%s%s %.15g", i ? ", " : "", names[i], vals[i]);
        }
    }
}

/* ------------------------------------------------------------ per layer */

static const char *qs_name(rope_query_scaling_type t) {
    return t == ROPE_QUERY_SCALING_NOPE_LAYERS ? "nope_layers"
         : t == ROPE_QUERY_SCALING_ALL_LAYERS ? "all_layers" : "none";
}

/* Layers of set s (ROPE_LAYER_NOPE: the NoPE layers) as "0-4, 6-10" (text) or [0, 1, ...] (JSON). */
static void layer_list(FILE *o, const rope_model *m, int s, int json) {
    int first = 1;
    if (json) fputc('[', o);
    for (int64_t l = 0; l < m->n_layers; l++) {
        if (m->layer_set[l] != s) continue;
        if (json) {
            fprintf(o, "%s%lld", first ? "" : ", ", (long long)l);
        } else {
            int64_t e = l;
            while (e + 1 < m->n_layers && m->layer_set[e + 1] == s) e++;
            if (e > l) fprintf(o, "%s%lld-%lld", first ? "" : ", ", (long long)l, (long long)e);
            else fprintf(o, "%s%lld", first ? "" : ", ", (long long)l);
            l = e;
        }
        first = 0;
    }
    if (json) fputc(']', o);
    else if (first) fputs(m->n_layers ? "none" : "all (num_hidden_layers unknown)", o);
}

static void json_set(FILE *o, const hf_config *h, int s, const rope_freqs *f) {
    const rope_config *r = &h->model.set[s];
    const hf_rope_set_info *si = &h->set_info[s];
    double *v = malloc(sizeof(double) * ROPE_MAX_FREQS);
    fputs("{\"name\": ", o);
    cli_json_str(o, h->model.set_name[s]);
    fputs(", \"rope_type\": ", o);
    cli_json_str(o, rope_scaling_name(f->type));
    fputs(", \"config_rope_type\": ", o);
    cli_json_str(o, si->rope_type_name);
    fputs(", \"rope_theta\": ", o);
    cli_json_num(o, r->rope_theta);
    fprintf(o, ", \"head_dim\": %lld, \"rotary_dim\": %lld, \"n_freqs\": %lld", (long long)f->head_dim,
            (long long)f->rotary_dim, (long long)f->n_freqs);
    fputs(", \"partial_rotary_factor\": ", o);
    cli_json_num(o, r->partial_rotary_factor);
    fputs(", \"scaling\": ", o);
    scaling_params(r, o, 1);
    fputs(", \"attention_factor\": ", o);
    cli_json_num(o, f->attention_factor);
    fputs(", \"softmax_scale_factor\": ", o);
    cli_json_num(o, f->softmax_scale_factor);
    fprintf(o, ", \"attn_head_dim\": %lld", (long long)si->attn_head_dim);
    fputs(", \"inv_freq\": ", o);
    json_list(o, f->inv_freq, f->n_freqs);
    if (v) {
        for (int64_t i = 0; i < f->n_freqs; i++) v[i] = f->inv_freq_f32[i];
        fputs(", \"inv_freq_f32\": ", o);
        json_list(o, v, f->n_freqs);
    }
    fputs(", \"band\": [", o);
    for (int64_t i = 0; i < f->n_freqs; i++) fprintf(o, "%s\"%s\"", i ? ", " : "", band_name(f->band[i]));
    fputs("], \"layers\": ", o);
    layer_list(o, &h->model, s, 1);
    fputc('}', o);
    free(v);
}

/* JSON keys for every model: rope_sets (one per layer type with RoPE), primary_set,
 * n_layers, layer_map (set name or null = no RoPE, per layer), layer_types, query_scaling. */
static int json_model(FILE *o, const hf_config *h, int64_t seq_len) {
    const rope_model *m = &h->model;
    rope_freqs *f = malloc(sizeof *f);
    if (!f) return -1;
    fputs(", \"rope_sets\": [", o);
    for (int s = 0; s < m->n_sets; s++) {
        if (rope_model_set_freqs(m, s, seq_len, f) != ROPE_OK) {
            free(f);
            return -1;
        }
        if (s) fputs(", ", o);
        json_set(o, h, s, f);
    }
    free(f);
    fputs("], \"primary_set\": ", o);
    cli_json_str(o, m->set_name[h->primary_set]);
    fprintf(o, ", \"n_layers\": %lld, \"layer_map\": [", (long long)m->n_layers);
    for (int64_t l = 0; l < m->n_layers; l++) {
        if (l) fputs(", ", o);
        if (m->layer_set[l] == ROPE_LAYER_NOPE) fputs("null", o);
        else cli_json_str(o, m->set_name[m->layer_set[l]]);
    }
    fputs("], \"layer_types\": [", o);
    for (int64_t l = 0; l < m->n_layers; l++) {
        if (l) fputs(", ", o);
        cli_json_str(o, h->layer_type_name[h->layer_type[l]]);
    }
    fputs("], \"query_scaling\": ", o);
    if (m->query_scaling == ROPE_QUERY_SCALING_NONE) {
        fputs("null", o);
    } else {
        fprintf(o, "{\"layers\": \"%s\", \"beta\": ", qs_name(m->query_scaling));
        cli_json_num(o, m->query_scaling_beta);
        fprintf(o, ", \"floor_scale\": %lld, \"pos_offset\": %lld}", (long long)m->query_scaling_floor,
                (long long)m->query_scaling_pos_offset);
    }
    return 0;
}

/* Text: one block per layer type, then the layer map. */
static int text_model(FILE *o, const hf_config *h, int64_t seq_len) {
    const rope_model *m = &h->model;
    rope_freqs *f = malloc(sizeof *f);
    if (!f) return -1;
    fputs("\nper layer type (each set of layers with its own RoPE)\n", o);
    for (int s = 0; s < m->n_sets; s++) {
        if (rope_model_set_freqs(m, s, seq_len, f) != ROPE_OK) {
            free(f);
            return -1;
        }
        const rope_config *r = &m->set[s];
        fprintf(o, "  %s%s\n", m->set_name[s], s == h->primary_set ? " (the block above)" : "");
        fprintf(o, "    rope type %s, base %.17g, head_dim %lld, rotary_dim %lld, %lld frequencies",
                rope_scaling_name(f->type), r->rope_theta, (long long)f->head_dim,
                (long long)f->rotary_dim, (long long)f->n_freqs);
        int64_t zeros = 0;
        for (int64_t i = 0; i < f->n_freqs; i++) zeros += f->inv_freq[i] == 0.0;
        if (zeros) fprintf(o, " (%lld of them 0: identity pairs)", (long long)zeros);
        fputs("\n    scaling ", o);
        scaling_params(r, o, 0);
        fprintf(o, "; attention factor %.17g\n", f->attention_factor);
        fprintf(o, "    theta_0 %.17g, theta_last %.17g\n", f->inv_freq[0], f->inv_freq[f->n_freqs - 1]);
        fputs("    layers ", o);
        layer_list(o, m, s, 0);
        fputc('\n', o);
    }
    free(f);
    int nope = 0;
    for (int64_t l = 0; l < m->n_layers; l++) nope += m->layer_set[l] == ROPE_LAYER_NOPE;
    if (nope) {
        fputs("  no RoPE (NoPE)\n    layers ", o);
        layer_list(o, m, ROPE_LAYER_NOPE, 0);
        fputc('\n', o);
    }
    if (m->n_layers) {
        fprintf(o, "layer map            %lld layers:", (long long)m->n_layers);
        int runs = 0;
        for (int64_t l = 0; l < m->n_layers; l++) {
            int s = m->layer_set[l];
            int64_t e = l;
            while (e + 1 < m->n_layers && m->layer_set[e + 1] == s) e++;
            fputs(runs++ % 6 ? "; " : "\n  ", o);
            if (e > l) fprintf(o, "%lld-%lld ", (long long)l, (long long)e);
            else fprintf(o, "%lld ", (long long)l);
            fputs(s == ROPE_LAYER_NOPE ? "no RoPE" : m->set_name[s], o);
            l = e;
        }
        fputc('\n', o);
    }
    if (m->query_scaling != ROPE_QUERY_SCALING_NONE)
        fprintf(o, "query scaling        q *= 1 + %.17g * ln(1 + floor((pos + %lld) / %lld)) on %s\n",
                m->query_scaling_beta, (long long)m->query_scaling_pos_offset,
                (long long)m->query_scaling_floor,
                m->query_scaling == ROPE_QUERY_SCALING_NOPE_LAYERS ? "the NoPE layers" : "every layer");
    return 0;
}

/* Everything rope inspect prints: the frequencies as scaled and as the same
 * base would give unscaled, per frequency. */
typedef struct inspected {
    const char *path;
    int64_t seq_len, n;
    rope_freqs f, f0;
    double orig[ROPE_MAX_FREQS], wl[ROPE_MAX_FREQS], wl0[ROPE_MAX_FREQS], f32v[ROPE_MAX_FREQS];
    int counts[3];
    double softmax_scale;
} inspected;

/* 0: run; 1: --help printed (exit 0); 2: usage error reported. */
static int parse_args(int argc, char **argv, const char **path, int64_t *seq_len, int *json) {
    const char *seq_arg = NULL;
    *path = NULL, *seq_len = 0, *json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(argv[i], "--json")) {
            *json = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--seq-len", &v)) != 0) {
            if (m < 0) {
                fprintf(stderr, "rope inspect: --seq-len needs a value\n");
                return 2;
            }
            seq_arg = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "rope inspect: unknown option '%s' (rope inspect --help)\n", argv[i]);
            return 2;
        } else if (!*path) {
            *path = argv[i];
        } else {
            fprintf(stderr, "rope inspect: one CONFIG.json only ('%s' is extra)\n", argv[i]);
            return 2;
        }
    }
    if (!*path) {
        usage(stderr);
        return 2;
    }
    if (seq_arg && (cli_parse_i64(seq_arg, seq_len) != 0 || *seq_len < 0)) {
        fprintf(stderr, "rope inspect: --seq-len must be an integer >= 0 (got '%s')\n", seq_arg);
        return 2;
    }
    return 0;
}

/* The frequencies at seq_len and the unscaled ones of the same base and dims. */
static int compute(const hf_config *h, inspected *d) {
    rope_status st = rope_freqs_compute(&h->rope, d->seq_len, &d->f);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope inspect: %s: %s\n", d->path, rope_strerror(st));
        return -1;
    }
    rope_config base = h->rope;
    base.freq_divisor = NULL;
    base.n_freq_divisor = 0;
    if (base.type == ROPE_SCALING_PROPORTIONAL) base.factor = 0; /* its zeros stay; factor 1 */
    else base.type = ROPE_SCALING_DEFAULT;
    st = rope_freqs_compute(&base, 0, &d->f0);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope inspect: %s: unscaled frequencies: %s\n", d->path, rope_strerror(st));
        return -1;
    }
    d->n = d->f.n_freqs;
    d->counts[0] = d->counts[1] = d->counts[2] = 0;
    for (int64_t i = 0; i < d->n; i++) {
        d->orig[i] = d->f0.inv_freq[i];
        d->wl[i] = TWO_PI / d->f.inv_freq[i];
        d->wl0[i] = TWO_PI / d->f0.inv_freq[i];
        d->f32v[i] = d->f.inv_freq_f32[i];
        if (d->f.band[i] < 3) d->counts[d->f.band[i]]++;
    }
    d->softmax_scale = d->f.softmax_scale_factor / sqrt((double)h->attn_head_dim);
    return 0;
}

/* The JSON contract of docs/cli.md. */
static int print_json(const hf_config *h, const inspected *d) {
    FILE *o = stdout;
    fputs("{\"config\": ", o);
    cli_json_str(o, d->path);
    fputs(", \"model_type\": ", o);
    cli_json_str(o, h->model_type);
    fputs(", \"rope_type\": ", o);
    cli_json_str(o, rope_scaling_name(d->f.type));
    fputs(", \"config_rope_type\": ", o);
    cli_json_str(o, h->rope_type_name);
    fputs(", \"rope_theta\": ", o);
    cli_json_num(o, h->rope.rope_theta);
    fprintf(o, ", \"head_dim\": %lld, \"rotary_dim\": %lld, \"n_freqs\": %lld",
            (long long)d->f.head_dim, (long long)d->f.rotary_dim, (long long)d->n);
    fputs(", \"partial_rotary_factor\": ", o);
    cli_json_num(o, h->rope.partial_rotary_factor);
    fprintf(o, ", \"attn_head_dim\": %lld, \"num_attention_heads\": %lld, "
               "\"num_key_value_heads\": %lld, \"max_position_embeddings\": %lld, "
               "\"original_max_position_embeddings\": %lld, \"seq_len\": %lld",
            (long long)h->attn_head_dim, (long long)h->num_attention_heads,
            (long long)h->num_key_value_heads, (long long)h->max_position_embeddings,
            (long long)h->original_max_position_embeddings, (long long)d->seq_len);
    fputs(", \"scaling\": ", o);
    scaling_params(&h->rope, o, 1);
    fputs(", \"attention_factor\": ", o);
    cli_json_num(o, d->f.attention_factor);
    fputs(", \"attention_factor_multiplies\": \"cos_sin\"", o);
    fputs(", \"softmax_scale_factor\": ", o);
    cli_json_num(o, d->f.softmax_scale_factor);
    fputs(", \"softmax_scale\": ", o);
    cli_json_num(o, d->softmax_scale);
    fputs(", \"mrope_section\": ", o);
    if (d->f.n_mrope_section) {
        fputc('[', o);
        for (int k = 0; k < d->f.n_mrope_section; k++)
            fprintf(o, "%s%lld", k ? ", " : "", (long long)d->f.mrope_section[k]);
        fputc(']', o);
    } else {
        fputs("null", o);
    }
    fprintf(o, ", \"mrope_interleaved\": %s", d->f.mrope_interleaved ? "true" : "false");
    fputs(", \"style\": ", o);
    cli_json_str(o, style_name(h->style));
    fputs(", \"style_note\": ", o);
    cli_json_str(o, h->style_note);
    fputs(", \"inv_freq\": ", o);
    json_list(o, d->f.inv_freq, d->n);
    fputs(", \"inv_freq_f32\": ", o);
    json_list(o, d->f32v, d->n);
    fputs(", \"original_inv_freq\": ", o);
    json_list(o, d->orig, d->n);
    fputs(", \"wavelength\": ", o);
    json_list(o, d->wl, d->n);
    fputs(", \"original_wavelength\": ", o);
    json_list(o, d->wl0, d->n);
    fputs(", \"band\": [", o);
    for (int64_t i = 0; i < d->n; i++) fprintf(o, "%s\"%s\"", i ? ", " : "", band_name(d->f.band[i]));
    fprintf(o, "], \"band_counts\": {\"unscaled\": %d, \"blend\": %d, \"scaled\": %d}",
            d->counts[0], d->counts[1], d->counts[2]);
    if (json_model(o, h, d->seq_len) != 0) {
        fprintf(stderr, "rope inspect: %s: a layer type's frequencies failed\n", d->path);
        return -1;
    }
    fputs("}\n", o);
    return 0;
}

/* The text report: summary lines, one row per frequency, then the layer types. */
static int print_text(const hf_config *h, const inspected *d) {
    FILE *o = stdout;
    fprintf(o, "config               %s%s%s%s\n", d->path, h->model_type[0] ? " (model_type " : "",
            h->model_type, h->model_type[0] ? ")" : "");
    fprintf(o, "rope type            %s", rope_scaling_name(d->f.type));
    if (strcmp(h->rope_type_name, rope_scaling_name(d->f.type)) != 0)
        fprintf(o, " (config says \"%s\")", h->rope_type_name);
    fputc('\n', o);
    fprintf(o, "base (rope_theta)    %.17g\n", h->rope.rope_theta);
    fprintf(o, "head_dim             %lld, rotary_dim %lld (partial_rotary_factor %.17g), %lld frequencies\n",
            (long long)d->f.head_dim, (long long)d->f.rotary_dim, h->rope.partial_rotary_factor,
            (long long)d->n);
    if (h->num_attention_heads)
        fprintf(o, "heads                %lld query, %lld key/value\n",
                (long long)h->num_attention_heads, (long long)h->num_key_value_heads);
    if (h->max_position_embeddings)
        fprintf(o, "positions            max_position_embeddings %lld", (long long)h->max_position_embeddings);
    if (h->original_max_position_embeddings)
        fprintf(o, ", original %lld", (long long)h->original_max_position_embeddings);
    if (h->max_position_embeddings) fputc('\n', o);
    fputs("scaling parameters   ", o);
    scaling_params(&h->rope, o, 0);
    fputc('\n', o);
    if (d->f.n_mrope_section == 3)
        fprintf(o, "M-RoPE sections      t %lld, h %lld, w %lld frequencies%s\n",
                (long long)d->f.mrope_section[0], (long long)d->f.mrope_section[1],
                (long long)d->f.mrope_section[2],
                d->f.mrope_interleaved ? " (interleaved: frequency j -> plane j % 3 within the sections)"
                                     : " (contiguous ranges)");
    else if (d->f.n_mrope_section == 4) /* HunYuanVL XD-RoPE */
        fprintf(o, "M-RoPE sections      %lld, %lld, %lld, %lld frequencies (4 planes, contiguous ranges)\n",
                (long long)d->f.mrope_section[0], (long long)d->f.mrope_section[1],
                (long long)d->f.mrope_section[2], (long long)d->f.mrope_section[3]);
    fprintf(o, "evaluated at         seq_len %lld%s\n", (long long)d->seq_len,
            d->seq_len == 0 ? " (at initialisation)" : "");
    fprintf(o, "attention factor     %.17g (multiplies cos and sin, so the rotated q and k; q.k scales by its square)\n",
            d->f.attention_factor);
    fprintf(o, "softmax scale        %.17g = %.17g / sqrt(%lld)%s\n", d->softmax_scale,
            d->f.softmax_scale_factor, (long long)h->attn_head_dim,
            d->f.softmax_scale_factor != 1.0 ? " (DeepSeek mscale_all_dim: factor multiplies 1/sqrt(d))" : "");
    fprintf(o, "apply style          %s: %s\n", style_name(h->style), h->style_note);
    fprintf(o, "bands                %d unscaled, %d blend, %d scaled\n\n", d->counts[0], d->counts[1],
            d->counts[2]);
    fprintf(o, "%4s  %-24s  %-24s  %-8s  %-24s  %s\n", "i", "theta_i", "wavelength (tokens)", "band",
            "original theta_i", "original wavelength");
    for (int64_t i = 0; i < d->n; i++)
        fprintf(o, "%4lld  %-24.17g  %-24.17g  %-8s  %-24.17g  %.17g\n", (long long)i, d->f.inv_freq[i],
                d->wl[i], band_name(d->f.band[i]), d->orig[i], d->wl0[i]);
    if (text_model(o, h, d->seq_len) != 0) {
        fprintf(stderr, "rope inspect: %s: a layer type's frequencies failed\n", d->path);
        return -1;
    }
    return 0;
}

int cmd_inspect(int argc, char **argv) {
    const char *path;
    int64_t seq_len;
    int json;
    int prc = parse_args(argc, argv, &path, &seq_len, &json);
    if (prc) return prc == 1 ? 0 : 2;
    hf_config h;
    char err[512];
    if (hf_config_load(path, &h, err, sizeof err) != 0) {
        fprintf(stderr, "rope inspect: %s\n", err);
        return 2;
    }
    int rc = 2;
    inspected *d = malloc(sizeof *d);
    if (!d) {
        fprintf(stderr, "rope inspect: out of memory\n");
    } else {
        d->path = path;
        d->seq_len = seq_len;
        if (compute(&h, d) == 0 && (json ? print_json(&h, d) : print_text(&h, d)) == 0) rc = 0;
    }
    free(d);
    hf_config_free(&h);
    return rc;
}
