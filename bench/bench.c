/* PLACEHOLDER: replaced by the issue that implements 'rope bench'. */
#include <stdio.h>
#include "commands.h"
int cmd_bench(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope bench: not implemented yet\n");
    return 2;
}
