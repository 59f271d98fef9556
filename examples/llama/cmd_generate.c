/* PLACEHOLDER: replaced by the issue that implements 'rope generate'. */
#include <stdio.h>
#include "commands.h"
int cmd_generate(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope generate: not implemented yet\n");
    return 2;
}
