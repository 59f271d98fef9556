/* rope: the command line of librope. One subcommand per file (commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "rope.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
#ifdef ROPE_HAVE_LLAMA
    {"generate", cmd_generate, "generate text with a GGUF model (LLaMA or Gemma 3 architecture)"},
    {"ppl", cmd_ppl, "perplexity of a text file under a GGUF model"},
    {"lab", cmd_lab, "perplexity / passkey retrieval vs context length for each RoPE scaling"},
#endif
    {"inspect", cmd_inspect, "show the RoPE of a Hugging Face config.json"},
    {"table", cmd_table, "print cos/sin rows for given positions"},
    {"apply", cmd_apply, "rotate a .npy array of q or k"},
    {"check", cmd_check, "self-verification on this machine (properties, accuracy, ISAs)"},
    {"plot", cmd_plot, "wavelengths, decay bound and relative-position heatmap as PNG/SVG/PDF"},
    {"verify", cmd_verify, "is another engine's RoPE right for a model? what exactly is wrong?"},
    {"bench", cmd_bench, "benchmark against the memory-copy limit and the peers"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: rope <command> [options]   (rope <command> --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nlibrope %d.%d.%d, kernels: %s\n", ROPE_VERSION_MAJOR, ROPE_VERSION_MINOR,
            ROPE_VERSION_PATCH, rope_isa_name());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("librope %d.%d.%d\n", ROPE_VERSION_MAJOR, ROPE_VERSION_MINOR, ROPE_VERSION_PATCH);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rope: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
