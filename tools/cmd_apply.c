/*
 * rope apply --config CONFIG.json --style half|interleaved|deinterleave --positions LIST_OR_NPY
 *            [--layout bshd|bhsd] [--inverse] [--compat] [--seq-len N]
 *            [--no-attention-factor] IN.npy OUT.npy
 *
 * Rotates q or k stored in a .npy (float32 or float16), as Hugging Face does:
 * cos and sin multiplied by the config's attention factor. The array is read
 * once and viewed with strides (no transpose copy for bhsd); OUT has IN's
 * dtype and shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "config_json.h"
#include "npy.h"
#include "rope.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope apply --config CONFIG.json --style half|interleaved|deinterleave\n"
            "                  --positions LIST_OR_NPY\n"
            "                  [--layout bshd|bhsd] [--inverse] [--compat] [--seq-len N]\n"
            "                  [--no-attention-factor] [--layer-type NAME | --layer L] IN.npy OUT.npy\n"
            "\n"
            "Rotate the array in IN.npy (float32 or float16, C order) and write OUT.npy with the\n"
            "same dtype and shape.\n"
            "\n"
            "  --config C      Hugging Face config.json (rope inspect C shows what it means)\n"
            "  --style S       half: pairs (i, i+R/2) (Hugging Face rotate_half, GPT-NeoX);\n"
            "                  interleaved: pairs (2i, 2i+1) (Meta, GPT-J, GGUF);\n"
            "                  deinterleave: pairs read as (2i, 2i+1), written to (i, i+R/2)\n"
            "                  (DeepSeek-V3 rope_interleave; --inverse reads (i, i+R/2) and\n"
            "                  writes (2i, 2i+1)). Required.\n"
            "  --positions P   comma list of seq positions, or a .npy of int64/int32 with shape\n"
            "                  (seq,) (shared by the batch) or (batch, seq)\n"
            "  --layout L      bshd (default): IN is (batch, seq, heads, head_dim);\n"
            "                  bhsd: IN is (batch, heads, seq, head_dim). A 3-D IN is batch 1.\n"
            "  --inverse       the backward pass (gradient): attention_factor x R(-theta); for a\n"
            "                  config whose attention factor is not 1 a forward+inverse round\n"
            "                  trip scales by its square (use --no-attention-factor to undo exactly)\n"
            "  --compat        Hugging Face float32 angles instead of accurate ones\n"
            "  --seq-len N     sequence length for the frequencies (dynamic NTK, longrope);\n"
            "                  default max(positions)+1, as Hugging Face's forward\n"
            "  --no-attention-factor  rotate only, cos/sin not multiplied by the attention factor\n"
            "  --layer-type NAME  the RoPE of that layer type (rope inspect lists them); default\n"
            "                  the full-attention layers'\n"
            "  --layer L       the RoPE of layer L (a layer without RoPE is an error)\n"
            "\n"
            "The first rotary_dim dims of each head are rotated, the rest copied bit for bit.\n"
            "Exit status: 0 ok, 2 usage or input error.\n");
}

/* What the command line asked for. */
typedef struct apply_opts {
    const char *cfg_path, *pos_arg, *seq_arg, *in_path, *out_path, *type_arg, *layer_arg;
    rope_style style;
    int bhsd, inverse, compat, no_af;
} apply_opts;

#define APPLY_OPTS 8

/* 0: run; 1: --help printed (exit 0); 2: usage error reported. */
static int parse_args(int argc, char **argv, apply_opts *o) {
    const char *style_arg = NULL, *layout_arg = "bshd";
    const char *files[2] = {NULL, NULL};
    int nfiles = 0;
    memset(o, 0, sizeof *o);
    static const char *const names[APPLY_OPTS] = {"--config", "--style", "--positions", "--layout",
                                                  "--seq-len", "--layer-type", "--layer", NULL};
    const char **slots[APPLY_OPTS] = {&o->cfg_path, &style_arg, &o->pos_arg, &layout_arg,
                                      &o->seq_arg, &o->type_arg, &o->layer_arg, NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--inverse")) {
            o->inverse = 1;
            continue;
        }
        if (!strcmp(argv[i], "--compat")) {
            o->compat = 1;
            continue;
        }
        if (!strcmp(argv[i], "--no-attention-factor")) {
            o->no_af = 1;
            continue;
        }
        int matched = 0;
        for (int k = 0; names[k]; k++) {
            const char *v = NULL;
            int m = cli_opt(argc, argv, &i, names[k], &v);
            if (m < 0) {
                fprintf(stderr, "rope apply: %s needs a value\n", names[k]);
                return 2;
            }
            if (m > 0) {
                *slots[k] = v;
                matched = 1;
                break;
            }
        }
        if (matched) continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "rope apply: unknown option '%s' (rope apply --help)\n", argv[i]);
            return 2;
        }
        if (nfiles == 2) {
            fprintf(stderr, "rope apply: expected IN.npy OUT.npy ('%s' is extra)\n", argv[i]);
            return 2;
        }
        files[nfiles++] = argv[i];
    }
    if (!o->cfg_path || !style_arg || !o->pos_arg || nfiles != 2) {
        fprintf(stderr, "rope apply: needs --config, --style, --positions, IN.npy and OUT.npy\n\n");
        usage(stderr);
        return 2;
    }
    o->in_path = files[0];
    o->out_path = files[1];
    if (!strcmp(style_arg, "half")) o->style = ROPE_STYLE_HALF;
    else if (!strcmp(style_arg, "interleaved")) o->style = ROPE_STYLE_INTERLEAVED;
    else if (!strcmp(style_arg, "deinterleave")) o->style = ROPE_STYLE_DEINTERLEAVE;
    else {
        fprintf(stderr, "rope apply: --style must be half, interleaved or deinterleave (got '%s')\n",
                style_arg);
        return 2;
    }
    if (!strcmp(layout_arg, "bshd")) o->bhsd = 0;
    else if (!strcmp(layout_arg, "bhsd")) o->bhsd = 1;
    else {
        fprintf(stderr, "rope apply: --layout must be bshd or bhsd (got '%s')\n", layout_arg);
        return 2;
    }
    return 0;
}

/* The array's logical (batch, seq, heads, head_dim) as a view of its own memory. */
static int array_view(const apply_opts *o, const npy_array *in, int64_t head_dim, int64_t d[4]) {
    if (in->dtype != NPY_F32 && in->dtype != NPY_F16) {
        fprintf(stderr, "rope apply: %s: dtype %s; q/k must be float32 or float16\n", o->in_path,
                npy_dtype_descr(in->dtype));
        return -1;
    }
    if (in->ndim != 4 && in->ndim != 3) {
        fprintf(stderr, "rope apply: %s: expected a 4-D array (%s), got %d dimensions\n", o->in_path,
                o->bhsd ? "batch, heads, seq, head_dim" : "batch, seq, heads, head_dim", in->ndim);
        return -1;
    }
    int64_t d4[4];
    if (in->ndim == 4) memcpy(d4, in->shape, sizeof d4);
    else d4[0] = 1, d4[1] = in->shape[0], d4[2] = in->shape[1], d4[3] = in->shape[2];
    d[0] = d4[0], d[1] = o->bhsd ? d4[2] : d4[1], d[2] = o->bhsd ? d4[1] : d4[2], d[3] = d4[3];
    if (d[0] == 0 || d[1] == 0 || d[2] == 0 || d[3] == 0) {
        fprintf(stderr, "rope apply: %s: the array is empty\n", o->in_path);
        return -1;
    }
    if (d[3] != head_dim) {
        fprintf(stderr, "rope apply: %s: head_dim %lld does not match the config's head_dim %lld\n",
                o->in_path, (long long)d[3], (long long)head_dim);
        return -1;
    }
    return 0;
}

/* Rotate the array `in` (logical dims d) at the given positions (prow rows of d[1]
 * each) into outbuf: frequencies at seq_len, one table row per position, one
 * rope_apply over a strided view. 0 or -1 (reported). */
static int rotate(const apply_opts *o, const rope_config *cfg, const npy_array *in,
                  const int64_t d[4], const int64_t *pos, int64_t prow, int64_t seq_len,
                  void *outbuf) {
    const int64_t B = d[0], S = d[1], H = d[2], D = d[3], npos = prow * S;
    int rc = -1;
    rope_table *table = NULL;
    rope_freqs *f = malloc(sizeof *f);
    int64_t *idx = malloc((size_t)npos * sizeof *idx);
    if (!f || !idx) {
        fprintf(stderr, "rope apply: out of memory\n");
        goto done;
    }
    rope_status st = rope_freqs_compute(cfg, seq_len, f);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope apply: %s: %s\n", o->cfg_path, rope_strerror(st));
        goto done;
    }
    /* One table row per given position; token (b, s) reads row b*S + s (or s). */
    st = rope_table_create_at(f, pos, npos,
                              o->compat ? ROPE_PRECISION_COMPAT_F32 : ROPE_PRECISION_ACCURATE, &table);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope apply: cos/sin table: %s\n", rope_strerror(st));
        goto done;
    }
    for (int64_t k = 0; k < npos; k++) idx[k] = k;

    rope_tensor tin, tout;
    rope_tensor_contiguous(&tin, in->data, in->dtype == NPY_F32 ? ROPE_F32 : ROPE_F16, B, S, H, D);
    if (o->bhsd) { /* array (B, H, S, D): same memory, strides of the view */
        tin.stride[0] = H * S * D;
        tin.stride[1] = D;
        tin.stride[2] = S * D;
        tin.stride[3] = 1;
    }
    tout = tin;
    tout.data = outbuf;

    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = o->style;
    p.table = table;
    p.rotary_dim = f->rotary_dim;
    p.attention_factor = o->no_af ? 1.0f : (float)f->attention_factor;
    p.inverse = o->inverse;
    rope_positions rp = {0};
    rp.ids = idx;
    rp.ids_batch_stride = prow == 1 ? 0 : S;
    st = rope_apply(&p, &rp, &tin, &tout);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope apply: %s\n", rope_strerror(st));
        goto done;
    }
    rc = 0;
done:
    rope_table_free(table);
    free(idx);
    free(f);
    return rc;
}

int cmd_apply(int argc, char **argv) {
    apply_opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc == 1 ? 0 : 2;

    char err[512];
    int rc = 2;
    hf_config h;
    npy_array in;
    int64_t *pos = NULL, prow = 0, pcol = 0;
    void *outbuf = NULL;
    memset(&in, 0, sizeof in);
    memset(&h, 0, sizeof h);

    int64_t layer = -1;
    if (o.layer_arg && (cli_parse_i64(o.layer_arg, &layer) != 0 || layer < 0 || o.type_arg)) {
        fprintf(stderr, "rope apply: --layer must be an integer >= 0, without --layer-type (got '%s')\n",
                o.layer_arg);
        return 2;
    }
    if (hf_config_load(o.cfg_path, &h, err, sizeof err) != 0 ||
        hf_config_select(&h, o.type_arg, layer, err, sizeof err) != 0) {
        fprintf(stderr, "rope apply: %s\n", err);
        hf_config_free(&h);
        return 2;
    }
    if (npy_read(o.in_path, &in, err, sizeof err) != 0) {
        fprintf(stderr, "rope apply: %s\n", err);
        goto done;
    }
    int64_t d[4];
    if (array_view(&o, &in, h.head_dim, d) != 0) goto done;
    if (cli_load_positions(o.pos_arg, &pos, &prow, &pcol, err, sizeof err) != 0) {
        fprintf(stderr, "rope apply: --positions: %s\n", err);
        goto done;
    }
    if (pcol != d[1] || (prow != 1 && prow != d[0])) {
        fprintf(stderr, "rope apply: --positions has shape (%lld, %lld); the array needs (%lld,) or "
                        "(%lld, %lld) (batch, seq)\n", (long long)prow, (long long)pcol,
                (long long)d[1], (long long)d[0], (long long)d[1]);
        goto done;
    }
    int64_t maxp = 0;
    for (int64_t k = 0; k < prow * pcol; k++)
        if (pos[k] > maxp) maxp = pos[k];
    int64_t seq_len = maxp + 1; /* as Hugging Face's forward */
    if (o.seq_arg && (cli_parse_i64(o.seq_arg, &seq_len) != 0 || seq_len < 0)) {
        fprintf(stderr, "rope apply: --seq-len must be an integer >= 0 (got '%s')\n", o.seq_arg);
        goto done;
    }
    outbuf = malloc((size_t)in.count * in.elem_size);
    if (!outbuf) {
        fprintf(stderr, "rope apply: out of memory\n");
        goto done;
    }
    if (rotate(&o, &h.rope, &in, d, pos, prow, seq_len, outbuf) != 0) goto done;
    if (npy_write(o.out_path, in.dtype, in.ndim, in.shape, outbuf, err, sizeof err) != 0) {
        fprintf(stderr, "rope apply: %s\n", err);
        goto done;
    }
    rc = 0;
done:
    free(outbuf);
    free(pos);
    npy_free(&in);
    hf_config_free(&h);
    return rc;
}
