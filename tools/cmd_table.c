/* PLACEHOLDER: replaced by the issue that implements 'rope table'. */
#include <stdio.h>
#include "commands.h"
int cmd_table(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope table: not implemented yet\n");
    return 2;
}
