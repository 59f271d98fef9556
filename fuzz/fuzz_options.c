/*
 * libFuzzer harness: what a user types on the command line. The input is
 * split at NUL bytes into an argv, which goes through the option parsers of
 * `rope generate` and `rope ppl` (llama/cli_opts.c) and the shared helpers
 * (tools/lib/cli_util.c: numbers, position lists, JSON strings). Every value a
 * parser accepts must lie in its documented range, and the generation budget
 * computed from it must fit the context without overflow (the class of
 * `rope generate -n 9223372036854775807`). Crash, sanitizer report or trap =
 * bug; a refusal is just a refusal.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "cli_util.h"

enum { MAX_ARGS = 64 };

static void check_generate(int argc, char **argv) {
    generate_opts o;
    if (generate_parse_args(argc, argv, &o, NULL) != CLI_OPTS_RUN) return;
    if (o.n_gen < 0 || o.threads < 1 || o.threads > 256 || !(o.temp >= 0 && o.temp <= 100) ||
        !(o.top_p > 0 && o.top_p <= 1) || !(o.rep > 0 && o.rep <= 100) ||
        (o.n_ctx != 0 && (o.n_ctx < 8 || o.n_ctx > ((int64_t)1 << 24))))
        __builtin_trap();
    /* every context the runner accepts (1 .. 2^24) and prompt length in it */
    static const int64_t ctxs[] = {1, 2, 8192, (int64_t)1 << 24};
    for (size_t i = 0; i < sizeof ctxs / sizeof ctxs[0]; i++)
        for (int64_t np = 0; np < ctxs[i] && np < 3; np++) {
            int64_t g = generate_budget(np, o.n_gen, ctxs[i]);
            if (g < 0 || g > o.n_gen || g > ctxs[i] - np) __builtin_trap();
            /* the buffer the runner sizes from it: n_prompt + g + 1 ids */
            if ((uint64_t)np + (uint64_t)g + 1 > (uint64_t)ctxs[i] + 1) __builtin_trap();
        }
}

static void check_ppl(int argc, char **argv) {
    ppl_opts o;
    if (ppl_parse_args(argc, argv, &o, NULL) != CLI_OPTS_RUN) return;
    if (!o.text_path || (o.ctx != 0 && (o.ctx < 2 || o.ctx > (1 << 20))) || o.stride < 0 ||
        o.threads < 1 || o.threads > 256 ||
        (o.style != ROPE_STYLE_NONE /* default: the model's own */ &&
         o.style != ROPE_STYLE_INTERLEAVED && o.style != ROPE_STYLE_HALF))
        __builtin_trap();
    if (o.scaling_set && o.scaling_type != ROPE_SCALING_DEFAULT &&
        !(o.scaling_factor >= 1.0 && o.scaling_factor <= 1e6))
        __builtin_trap();
}

static void check_helpers(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        int64_t v;
        double d;
        if (cli_parse_f64(argv[i], &d) == 0 && !isfinite(d)) __builtin_trap();
        (void)cli_parse_i64(argv[i], &v);
        int64_t *pos = NULL, n = 0;
        char err[128];
        if (cli_parse_positions(argv[i], &pos, &n, 1 << 16, err, sizeof err) == 0) {
            if (n < 1 || n > (1 << 16)) __builtin_trap();
            for (int64_t k = 0; k < n; k++)
                if (pos[k] < 0 || pos[k] > ((int64_t)1 << 53)) __builtin_trap();
        }
        free(pos);
        /* JSON output of any bytes: no raw control byte may come out */
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (f) {
            cli_json_str(f, argv[i]);
            fclose(f);
            for (size_t k = 0; k < len; k++)
                if ((unsigned char)out[k] < 0x20) __builtin_trap();
            free(out);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "rope";
    for (size_t i = 0; i <= size && argc < MAX_ARGS;) { /* NUL-separated arguments */
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    argv[argc] = NULL;
    check_generate(argc, argv);
    check_ppl(argc, argv);
    check_helpers(argc - 1, argv + 1);
    free(copy);
    return 0;
}
