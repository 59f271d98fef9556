/* PLACEHOLDER: replaced by the issue that implements 'rope inspect'. */
#include <stdio.h>
#include "commands.h"
int cmd_inspect(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope inspect: not implemented yet\n");
    return 2;
}
