/* PLACEHOLDER: replaced by the issue that implements 'rope apply'. */
#include <stdio.h>
#include "commands.h"
int cmd_apply(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope apply: not implemented yet\n");
    return 2;
}
