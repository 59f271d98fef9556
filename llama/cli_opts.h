/*
 * Option parsing of `rope generate` and `rope ppl`, apart from running them,
 * so that every check on what a user types can be exercised alone (the
 * fuzz_options harness, tests). Each parser fills its struct with defaults,
 * then the options; every value is range-checked here, and any later
 * arithmetic on them (generate_budget) cannot overflow.
 */
#ifndef ROPE_LLAMA_CLI_OPTS_H
#define ROPE_LLAMA_CLI_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rope.h"

/* Parser results: run, --help given (print usage, exit 0), bad input (exit 2;
 * the message, naming the option, went to the err stream). */
enum { CLI_OPTS_RUN = 0, CLI_OPTS_HELP = 1, CLI_OPTS_BAD = 2 };

typedef struct generate_opts {
    const char *model_path; /* NULL: the default model */
    const char *prompt;
    const char *system;     /* NULL: the model's own */
    int64_t n_gen;          /* >= 0 */
    int64_t seed;
    int64_t threads;        /* 1..256 */
    double temp;            /* [0, 100] */
    double top_p;           /* (0, 1] */
    double rep;             /* (0, 100] */
    int raw;
    int f32_weights;        /* --f32-weights */
    int64_t n_ctx;          /* --ctx: 0 = the model's context, no shifting; else [8, 2^24] */
    rope_dtype kv_dtype;    /* --cache (llama_parse_kv_dtype), default F32 */
} generate_opts;

int generate_parse_args(int argc, char **argv, generate_opts *o, FILE *err);

/* Tokens to generate after n_prompt (0 <= n_prompt < ctx) in a context of
 * ctx: min(n_gen, ctx - n_prompt); never adds n_gen to anything. */
int64_t generate_budget(int64_t n_prompt, int64_t n_gen, int64_t ctx);

typedef struct ppl_opts {
    const char *model_path, *text_path;
    int64_t ctx;            /* 0 = the model's; else [2, 2^20] */
    int64_t stride;         /* 0 = ctx / 2; else >= 1 */
    int64_t threads;        /* 1..256 */
    rope_style style;        /* ROPE_STYLE_NONE unless --style: the architecture's own */
    const char *scaling;    /* the --rope-scaling text, NULL when not given */
    int scaling_set;        /* 1: override the file's RoPE with the two below */
    rope_scaling_type scaling_type; /* DEFAULT (none), LINEAR, DYNAMIC or YARN */
    double scaling_factor;  /* [1, 1e6] */
    rope_dtype kv_dtype;    /* --cache, default F32 */
    const char *kv_name;    /* its spelling, "f32" by default */
} ppl_opts;

int ppl_parse_args(int argc, char **argv, ppl_opts *o, FILE *err);

/* The model a command runs: `given` if set, else the default model (found in the
 * current directory or beside the executable's parent, filled into buf). NULL
 * when there is none, with the reason in err (the commands exit 2). */
const char *cli_model_path(const char *given, char *buf, size_t cap, char *err, size_t errlen);

#endif
