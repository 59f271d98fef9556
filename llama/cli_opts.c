/* Option parsing of rope generate / rope ppl (see cli_opts.h). */
#include "cli_opts.h"

#include <string.h>

#include "cli_util.h"
#include "model.h" /* llama_parse_kv_dtype */

int64_t generate_budget(int64_t n_prompt, int64_t n_gen, int64_t ctx) {
    if (n_prompt < 0 || n_gen < 0 || ctx <= n_prompt) return 0;
    return n_gen > ctx - n_prompt ? ctx - n_prompt : n_gen; /* compared, not added */
}

static int bad_value(FILE *err, const char *cmd, const char *opt) {
    if (err) fprintf(err, "rope %s: bad value for %s\n", cmd, opt);
    return CLI_OPTS_BAD;
}

static int missing_value(FILE *err, const char *cmd, const char *opt) {
    if (err) fprintf(err, "rope %s: %s needs a value\n", cmd, opt);
    return CLI_OPTS_BAD;
}

int generate_parse_args(int argc, char **argv, generate_opts *o, FILE *err) {
    memset(o, 0, sizeof *o);
    o->n_gen = 128;
    o->seed = 42;
    o->threads = cli_default_threads();
    o->top_p = 0.9;
    o->rep = 1.1;
    o->kv_dtype = ROPE_F32;
    const char *val = NULL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        int r;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            return CLI_OPTS_HELP;
        } else if (!strcmp(opt, "--raw")) {
            o->raw = 1;
        } else if (!strcmp(opt, "--f32-weights")) {
            o->f32_weights = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--model", &val)) != 0) {
            if (r < 0) return missing_value(err, "generate", opt);
            o->model_path = val;
        } else if ((r = cli_opt(argc, argv, &i, "--prompt", &val)) != 0) {
            if (r < 0) return missing_value(err, "generate", opt);
            o->prompt = val;
        } else if ((r = cli_opt(argc, argv, &i, "--system", &val)) != 0) {
            if (r < 0) return missing_value(err, "generate", opt);
            o->system = val;
        } else if ((r = cli_opt(argc, argv, &i, "-n", &val)) != 0) {
            if (r < 0 || cli_parse_i64(val, &o->n_gen) || o->n_gen < 0) return bad_value(err, "generate", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--ctx", &val)) != 0) {
            /* the session's own limit is 2^24: refused here, named, rather than there */
            if (r < 0 || cli_parse_i64(val, &o->n_ctx) || o->n_ctx < 8 || o->n_ctx > ((int64_t)1 << 24))
                return bad_value(err, "generate", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--cache", &val)) != 0) {
            if (r < 0 || llama_parse_kv_dtype(val, &o->kv_dtype)) return bad_value(err, "generate", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &val)) != 0) {
            if (r < 0 || cli_parse_i64(val, &o->seed)) return bad_value(err, "generate", opt);
        } else if ((r = cli_opt(argc, argv, &i, "-t", &val)) != 0) {
            if (r < 0 || cli_parse_i64(val, &o->threads) || o->threads < 1 || o->threads > 256)
                return bad_value(err, "generate", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--temp", &val)) != 0) {
            if (r < 0 || cli_parse_f64(val, &o->temp) || !(o->temp >= 0) || o->temp > 100)
                return bad_value(err, "generate", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--top-p", &val)) != 0) {
            if (r < 0 || cli_parse_f64(val, &o->top_p) || !(o->top_p > 0) || o->top_p > 1)
                return bad_value(err, "generate", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--repeat-penalty", &val)) != 0) {
            if (r < 0 || cli_parse_f64(val, &o->rep) || !(o->rep > 0) || o->rep > 100)
                return bad_value(err, "generate", opt);
        } else {
            if (err) fprintf(err, "rope generate: unknown argument '%s'\n", opt);
            return CLI_OPTS_BAD;
        }
    }
    return CLI_OPTS_RUN;
}

/* TYPE:FACTOR with TYPE linear, dynamic or yarn and 1 <= FACTOR <= 1e6, or none. */
static int parse_scaling(const char *s, ppl_opts *o) {
    char name[32];
    const char *colon = strchr(s, ':');
    size_t nl = colon ? (size_t)(colon - s) : strlen(s);
    if (nl >= sizeof name) return -1;
    memcpy(name, s, nl);
    name[nl] = '\0';
    o->scaling_set = 1;
    if (!strcmp(name, "none") && !colon) {
        o->scaling_type = ROPE_SCALING_DEFAULT;
        o->scaling_factor = 1.0;
        return 0;
    }
    rope_scaling_type t;
    double f;
    if (!colon || cli_parse_f64(colon + 1, &f) || !(f >= 1.0) || f > 1e6 ||
        rope_scaling_from_name(name, &t) != ROPE_OK ||
        (t != ROPE_SCALING_LINEAR && t != ROPE_SCALING_DYNAMIC && t != ROPE_SCALING_YARN))
        return -1;
    o->scaling_type = t;
    o->scaling_factor = f;
    return 0;
}

int ppl_parse_args(int argc, char **argv, ppl_opts *o, FILE *err) {
    memset(o, 0, sizeof *o);
    o->threads = cli_default_threads();
    o->style = ROPE_STYLE_NONE; /* the architecture's own: interleaved for llama, half for gemma3 */
    o->kv_dtype = ROPE_F32;
    o->kv_name = "f32";
    const char *val = NULL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        int r;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            return CLI_OPTS_HELP;
        } else if ((r = cli_opt(argc, argv, &i, "--model", &val)) != 0) {
            if (r < 0) return missing_value(err, "ppl", opt);
            o->model_path = val;
        } else if ((r = cli_opt(argc, argv, &i, "--ctx", &val)) != 0) {
            if (r < 0 || cli_parse_i64(val, &o->ctx) || o->ctx < 2 || o->ctx > (1 << 20))
                return bad_value(err, "ppl", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--stride", &val)) != 0) {
            if (r < 0 || cli_parse_i64(val, &o->stride) || o->stride < 1) return bad_value(err, "ppl", opt);
        } else if ((r = cli_opt(argc, argv, &i, "-t", &val)) != 0) {
            if (r < 0 || cli_parse_i64(val, &o->threads) || o->threads < 1 || o->threads > 256)
                return bad_value(err, "ppl", opt);
        } else if ((r = cli_opt(argc, argv, &i, "--rope-scaling", &val)) != 0) {
            if (r < 0) return missing_value(err, "ppl", opt);
            o->scaling = val;
            if (parse_scaling(val, o) != 0) {
                if (err)
                    fprintf(err, "rope ppl: --rope-scaling wants linear:F, dynamic:F, yarn:F (F >= 1) "
                                 "or none, got '%s'\n", val);
                return CLI_OPTS_BAD;
            }
        } else if ((r = cli_opt(argc, argv, &i, "--cache", &val)) != 0) {
            if (r < 0 || llama_parse_kv_dtype(val, &o->kv_dtype)) return bad_value(err, "ppl", opt);
            o->kv_name = val;
        } else if ((r = cli_opt(argc, argv, &i, "--style", &val)) != 0) {
            if (r < 0) return missing_value(err, "ppl", opt);
            if (!strcmp(val, "interleaved")) o->style = ROPE_STYLE_INTERLEAVED;
            else if (!strcmp(val, "half")) o->style = ROPE_STYLE_HALF;
            else return bad_value(err, "ppl", opt);
        } else if (opt[0] == '-' && opt[1] != '\0') {
            if (err) fprintf(err, "rope ppl: unknown option '%s'\n", opt);
            return CLI_OPTS_BAD;
        } else if (!o->text_path) {
            o->text_path = opt;
        } else {
            if (err) fprintf(err, "rope ppl: more than one text file given ('%s')\n", opt);
            return CLI_OPTS_BAD;
        }
    }
    if (!o->text_path) {
        if (err) fprintf(err, "rope ppl: no TEXT_FILE given\n");
        return CLI_OPTS_BAD;
    }
    return CLI_OPTS_RUN;
}

const char *cli_model_path(const char *given, char *buf, size_t cap, char *err, size_t errlen) {
    if (given) return given;
    if (llama_default_model_path(buf, cap) == 0) return buf;
    snprintf(err, errlen,
             "default model %s not found (looked in the current directory and beside the "
             "executable's parent); run `make deps` (or scripts/get-model.sh) or pass --model FILE.gguf",
             LLAMA_DEFAULT_MODEL);
    return NULL;
}
