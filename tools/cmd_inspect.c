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
            "               original_inv_freq, wavelength, original_wavelength, band, ...\n"
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

static void scaling_params(const hf_config *h, FILE *f, int json) {
    const rope_config *r = &h->rope;
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

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *seq_arg = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--seq-len", &v)) != 0) {
            if (m < 0) {
                fprintf(stderr, "rope inspect: --seq-len needs a value\n");
                return 2;
            }
            seq_arg = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "rope inspect: unknown option '%s' (rope inspect --help)\n", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "rope inspect: one CONFIG.json only ('%s' is extra)\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    int64_t seq_len = 0;
    if (seq_arg && (cli_parse_i64(seq_arg, &seq_len) != 0 || seq_len < 0)) {
        fprintf(stderr, "rope inspect: --seq-len must be an integer >= 0 (got '%s')\n", seq_arg);
        return 2;
    }

    hf_config h;
    char err[512];
    if (hf_config_load(path, &h, err, sizeof err) != 0) {
        fprintf(stderr, "rope inspect: %s\n", err);
        return 2;
    }
    rope_freqs *f = malloc(sizeof *f);
    rope_freqs *f0 = malloc(sizeof *f0);
    double *orig = malloc(sizeof(double) * ROPE_MAX_FREQS);
    double *wl = malloc(sizeof(double) * ROPE_MAX_FREQS);
    double *wl0 = malloc(sizeof(double) * ROPE_MAX_FREQS);
    double *f32v = malloc(sizeof(double) * ROPE_MAX_FREQS);
    int rc = 2;
    if (!f || !f0 || !orig || !wl || !wl0 || !f32v) {
        fprintf(stderr, "rope inspect: out of memory\n");
        goto done;
    }
    rope_status st = rope_freqs_compute(&h.rope, seq_len, f);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope inspect: %s: %s\n", path, rope_strerror(st));
        goto done;
    }
    /* The unscaled frequencies of the same base and dims, for comparison. */
    rope_config base = h.rope;
    base.type = ROPE_SCALING_DEFAULT;
    st = rope_freqs_compute(&base, 0, f0);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope inspect: %s: unscaled frequencies: %s\n", path, rope_strerror(st));
        goto done;
    }
    int64_t n = f->n_freqs;
    int counts[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        orig[i] = f0->inv_freq[i];
        wl[i] = TWO_PI / f->inv_freq[i];
        wl0[i] = TWO_PI / f0->inv_freq[i];
        f32v[i] = f->inv_freq_f32[i];
        if (f->band[i] < 3) counts[f->band[i]]++;
    }
    double softmax_scale = f->softmax_scale_factor / sqrt((double)h.attn_head_dim);

    if (json) {
        FILE *o = stdout;
        fputs("{\"config\": ", o);
        cli_json_str(o, path);
        fputs(", \"model_type\": ", o);
        cli_json_str(o, h.model_type);
        fputs(", \"rope_type\": ", o);
        cli_json_str(o, rope_scaling_name(f->type));
        fputs(", \"config_rope_type\": ", o);
        cli_json_str(o, h.rope_type_name);
        fputs(", \"rope_theta\": ", o);
        cli_json_num(o, h.rope.rope_theta);
        fprintf(o, ", \"head_dim\": %lld, \"rotary_dim\": %lld, \"n_freqs\": %lld",
                (long long)f->head_dim, (long long)f->rotary_dim, (long long)n);
        fputs(", \"partial_rotary_factor\": ", o);
        cli_json_num(o, h.rope.partial_rotary_factor);
        fprintf(o, ", \"attn_head_dim\": %lld, \"num_attention_heads\": %lld, "
                   "\"num_key_value_heads\": %lld, \"max_position_embeddings\": %lld, "
                   "\"original_max_position_embeddings\": %lld, \"seq_len\": %lld",
                (long long)h.attn_head_dim, (long long)h.num_attention_heads,
                (long long)h.num_key_value_heads, (long long)h.max_position_embeddings,
                (long long)h.original_max_position_embeddings, (long long)seq_len);
        fputs(", \"scaling\": ", o);
        scaling_params(&h, o, 1);
        fputs(", \"attention_factor\": ", o);
        cli_json_num(o, f->attention_factor);
        fputs(", \"attention_factor_multiplies\": \"cos_sin\"", o);
        fputs(", \"softmax_scale_factor\": ", o);
        cli_json_num(o, f->softmax_scale_factor);
        fputs(", \"softmax_scale\": ", o);
        cli_json_num(o, softmax_scale);
        fputs(", \"mrope_section\": ", o);
        if (f->n_mrope_section) {
            fputc('[', o);
            for (int k = 0; k < f->n_mrope_section; k++)
                fprintf(o, "%s%lld", k ? ", " : "", (long long)f->mrope_section[k]);
            fputc(']', o);
        } else {
            fputs("null", o);
        }
        fputs(", \"style\": ", o);
        cli_json_str(o, style_name(h.style));
        fputs(", \"style_note\": ", o);
        cli_json_str(o, h.style_note);
        fputs(", \"inv_freq\": ", o);
        json_list(o, f->inv_freq, n);
        fputs(", \"inv_freq_f32\": ", o);
        json_list(o, f32v, n);
        fputs(", \"original_inv_freq\": ", o);
        json_list(o, orig, n);
        fputs(", \"wavelength\": ", o);
        json_list(o, wl, n);
        fputs(", \"original_wavelength\": ", o);
        json_list(o, wl0, n);
        fputs(", \"band\": [", o);
        for (int64_t i = 0; i < n; i++) fprintf(o, "%s\"%s\"", i ? ", " : "", band_name(f->band[i]));
        fprintf(o, "], \"band_counts\": {\"unscaled\": %d, \"blend\": %d, \"scaled\": %d}}\n",
                counts[0], counts[1], counts[2]);
    } else {
        FILE *o = stdout;
        fprintf(o, "config               %s%s%s%s\n", path, h.model_type[0] ? " (model_type " : "",
                h.model_type, h.model_type[0] ? ")" : "");
        fprintf(o, "rope type            %s", rope_scaling_name(f->type));
        if (strcmp(h.rope_type_name, rope_scaling_name(f->type)) != 0)
            fprintf(o, " (config says \"%s\")", h.rope_type_name);
        fputc('\n', o);
        fprintf(o, "base (rope_theta)    %.17g\n", h.rope.rope_theta);
        fprintf(o, "head_dim             %lld, rotary_dim %lld (partial_rotary_factor %.17g), %lld frequencies\n",
                (long long)f->head_dim, (long long)f->rotary_dim, h.rope.partial_rotary_factor,
                (long long)n);
        if (h.num_attention_heads)
            fprintf(o, "heads                %lld query, %lld key/value\n",
                    (long long)h.num_attention_heads, (long long)h.num_key_value_heads);
        if (h.max_position_embeddings)
            fprintf(o, "positions            max_position_embeddings %lld", (long long)h.max_position_embeddings);
        if (h.original_max_position_embeddings)
            fprintf(o, ", original %lld", (long long)h.original_max_position_embeddings);
        if (h.max_position_embeddings) fputc('\n', o);
        fputs("scaling parameters   ", o);
        scaling_params(&h, o, 0);
        fputc('\n', o);
        if (f->n_mrope_section)
            fprintf(o, "M-RoPE sections      t %lld, h %lld, w %lld frequencies\n",
                    (long long)f->mrope_section[0], (long long)f->mrope_section[1],
                    (long long)f->mrope_section[2]);
        fprintf(o, "evaluated at         seq_len %lld%s\n", (long long)seq_len,
                seq_len == 0 ? " (at initialisation)" : "");
        fprintf(o, "attention factor     %.17g (multiplies cos and sin, so the rotated q and k; q.k scales by its square)\n",
                f->attention_factor);
        fprintf(o, "softmax scale        %.17g = %.17g / sqrt(%lld)%s\n", softmax_scale,
                f->softmax_scale_factor, (long long)h.attn_head_dim,
                f->softmax_scale_factor != 1.0 ? " (DeepSeek mscale_all_dim: factor multiplies 1/sqrt(d))" : "");
        fprintf(o, "apply style          %s: %s\n", style_name(h.style), h.style_note);
        fprintf(o, "bands                %d unscaled, %d blend, %d scaled\n\n", counts[0], counts[1],
                counts[2]);
        fprintf(o, "%4s  %-24s  %-24s  %-8s  %-24s  %s\n", "i", "theta_i", "wavelength (tokens)", "band",
                "original theta_i", "original wavelength");
        for (int64_t i = 0; i < n; i++)
            fprintf(o, "%4lld  %-24.17g  %-24.17g  %-8s  %-24.17g  %.17g\n", (long long)i, f->inv_freq[i],
                    wl[i], band_name(f->band[i]), orig[i], wl0[i]);
    }
    rc = 0;
done:
    free(f);
    free(f0);
    free(orig);
    free(wl);
    free(wl0);
    free(f32v);
    hf_config_free(&h);
    return rc;
}
