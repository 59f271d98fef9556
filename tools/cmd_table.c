/*
 * rope table CONFIG.json --positions 0,1,4096 [--seq-len N] [--compat] [--json]
 *
 * cos/sin rows (float32, without the attention factor) for the given positions:
 * one row per position, one column per frequency (rotary_dim/2 columns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "config_json.h"
#include "rope.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope table CONFIG.json --positions LIST_OR_NPY [--seq-len N] [--compat]\n"
            "                  [--layer-type NAME | --layer L] [--json]\n"
            "\n"
            "cos and sin (float32, WITHOUT the attention factor) of position x θᵢ for each\n"
            "position: one row per position, rotary_dim/2 columns (frequency i).\n"
            "\n"
            "  --positions P  comma list (0,1,4096) or a .npy of int64/int32 positions, shape (n,)\n"
            "  --seq-len N    sequence length the frequencies are evaluated at (dynamic NTK,\n"
            "                 longrope switch); default max(positions)+1, as a Hugging Face\n"
            "                 forward call over these positions\n"
            "  --layer-type NAME  the RoPE of that layer type (sliding_attention, full_attention,\n"
            "                 ...: rope inspect lists them); default the full-attention layers'\n"
            "  --layer L      the RoPE of layer L (a layer without RoPE is an error)\n"
            "  --compat       Hugging Face / Meta float32 arithmetic (θ and position x θ rounded\n"
            "                 to float32) instead of the accurate double-precision angle\n"
            "  --json         {\"positions\": [...], \"cos\": [[...]], \"sin\": [[...]], ...};\n"
            "                 float32 values with 9 significant digits (exact round trip)\n"
            "\n"
            "Exit status: 0 ok, 2 usage or input error.\n");
}

static void json_row(FILE *o, const float *v, int64_t n) {
    fputc('[', o);
    for (int64_t j = 0; j < n; j++) fprintf(o, "%s%.9g", j ? ", " : "", (double)v[j]);
    fputc(']', o);
}

/* What the command line asked for. */
typedef struct table_opts {
    const char *path, *pos_arg, *seq_arg, *type_arg, *layer_arg;
    int json, compat;
} table_opts;

/* 0: run; 1: --help printed (exit 0); 2: usage error reported. */
static int parse_args(int argc, char **argv, table_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(argv[i], "--json")) {
            o->json = 1;
        } else if (!strcmp(argv[i], "--compat")) {
            o->compat = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--positions", &v)) != 0) {
            if (m < 0) {
                fprintf(stderr, "rope table: --positions needs a value\n");
                return 2;
            }
            o->pos_arg = v;
        } else if ((m = cli_opt(argc, argv, &i, "--seq-len", &v)) != 0) {
            if (m < 0) {
                fprintf(stderr, "rope table: --seq-len needs a value\n");
                return 2;
            }
            o->seq_arg = v;
        } else if ((m = cli_opt(argc, argv, &i, "--layer-type", &v)) != 0) {
            if (m < 0) {
                fprintf(stderr, "rope table: --layer-type needs a value\n");
                return 2;
            }
            o->type_arg = v;
        } else if ((m = cli_opt(argc, argv, &i, "--layer", &v)) != 0) {
            if (m < 0) {
                fprintf(stderr, "rope table: --layer needs a value\n");
                return 2;
            }
            o->layer_arg = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "rope table: unknown option '%s' (rope table --help)\n", argv[i]);
            return 2;
        } else if (!o->path) {
            o->path = argv[i];
        } else {
            fprintf(stderr, "rope table: one CONFIG.json only ('%s' is extra)\n", argv[i]);
            return 2;
        }
    }
    if (!o->path || !o->pos_arg) {
        if (o->path && !o->pos_arg) fprintf(stderr, "rope table: --positions is required\n\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The rows: JSON (--json) or a text table, position by frequency. */
static void print_rows(const table_opts *opt, const rope_freqs *f, const int64_t *pos, int64_t n,
                       int64_t seq_len, const float *cs, const float *sn) {
    const int64_t nf = f->n_freqs;
    const char *path = opt->path;
    const int compat = opt->compat;
    FILE *o = stdout;
    if (opt->json) {
        fputs("{\"positions\": [", o);
        for (int64_t k = 0; k < n; k++) fprintf(o, "%s%lld", k ? ", " : "", (long long)pos[k]);
        fprintf(o, "], \"rope_type\": \"%s\", \"rotary_dim\": %lld, \"n_freqs\": %lld, \"seq_len\": %lld, "
                   "\"precision\": \"%s\", \"attention_factor_applied\": false, \"attention_factor\": ",
                rope_scaling_name(f->type), (long long)f->rotary_dim, (long long)nf, (long long)seq_len,
                compat ? "compat_f32" : "accurate");
        cli_json_num(o, f->attention_factor);
        fputs(", \"cos\": [", o);
        for (int64_t k = 0; k < n; k++) {
            if (k) fputs(", ", o);
            json_row(o, cs + k * nf, nf);
        }
        fputs("], \"sin\": [", o);
        for (int64_t k = 0; k < n; k++) {
            if (k) fputs(", ", o);
            json_row(o, sn + k * nf, nf);
        }
        fputs("]}\n", o);
    } else {
        fprintf(o, "# %s: %s, rotary_dim %lld, seq_len %lld, %s angles; attention factor %.17g NOT applied\n",
                path, rope_scaling_name(f->type), (long long)f->rotary_dim, (long long)seq_len,
                compat ? "float32 (compat)" : "accurate", f->attention_factor);
        fprintf(o, "%12s  %4s  %-16s  %-16s  %s\n", "position", "i", "theta_i", "cos", "sin");
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < nf; j++)
                fprintf(o, "%12lld  %4lld  %-16.9g  %-16.9g  %.9g\n", (long long)pos[k], (long long)j,
                        compat ? (double)f->inv_freq_f32[j] : f->inv_freq[j], (double)cs[k * nf + j],
                        (double)sn[k * nf + j]);
    }
}

int cmd_table(int argc, char **argv) {
    table_opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc == 1 ? 0 : 2;
    char err[512];
    int64_t *pos = NULL, rows = 0, n = 0;
    if (cli_load_positions(o.pos_arg, &pos, &rows, &n, err, sizeof err) != 0) {
        fprintf(stderr, "rope table: --positions: %s\n", err);
        return 2;
    }
    if (rows != 1) {
        fprintf(stderr, "rope table: --positions must be one list (shape (n,)), got %lld rows\n",
                (long long)rows);
        free(pos);
        return 2;
    }
    int64_t maxp = 0;
    for (int64_t k = 0; k < n; k++)
        if (pos[k] > maxp) maxp = pos[k];
    int64_t seq_len = maxp + 1;
    if (o.seq_arg && (cli_parse_i64(o.seq_arg, &seq_len) != 0 || seq_len < 0)) {
        fprintf(stderr, "rope table: --seq-len must be an integer >= 0 (got '%s')\n", o.seq_arg);
        free(pos);
        return 2;
    }

    int64_t layer = -1;
    if (o.layer_arg && (cli_parse_i64(o.layer_arg, &layer) != 0 || layer < 0 || o.type_arg)) {
        fprintf(stderr, "rope table: --layer must be an integer >= 0, without --layer-type (got '%s')\n",
                o.layer_arg);
        free(pos);
        return 2;
    }
    hf_config h;
    if (hf_config_load(o.path, &h, err, sizeof err) != 0 ||
        hf_config_select(&h, o.type_arg, layer, err, sizeof err) != 0) {
        fprintf(stderr, "rope table: %s\n", err);
        hf_config_free(&h);
        free(pos);
        return 2;
    }
    int rc = 2;
    rope_freqs *f = malloc(sizeof *f);
    float *cs = NULL, *sn = NULL;
    if (!f) {
        fprintf(stderr, "rope table: out of memory\n");
        goto done;
    }
    rope_status st = rope_freqs_compute(&h.rope, seq_len, f);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope table: %s: %s\n", o.path, rope_strerror(st));
        goto done;
    }
    int64_t nf = f->n_freqs;
    cs = malloc((size_t)n * (size_t)nf * sizeof *cs);
    sn = malloc((size_t)n * (size_t)nf * sizeof *sn);
    if (!cs || !sn) {
        fprintf(stderr, "rope table: out of memory for %lld x %lld rows\n", (long long)n, (long long)nf);
        goto done;
    }
    rope_precision prec = o.compat ? ROPE_PRECISION_COMPAT_F32 : ROPE_PRECISION_ACCURATE;
    st = rope_cos_sin(f, pos, 0, n, prec, cs, sn);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope table: %s\n", rope_strerror(st));
        goto done;
    }
    print_rows(&o, f, pos, n, seq_len, cs, sn);
    rc = 0;
done:
    free(cs);
    free(sn);
    free(f);
    free(pos);
    hf_config_free(&h);
    return rc;
}
