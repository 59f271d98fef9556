/* PLACEHOLDER: replaced by the issue that implements 'rope check'. */
#include <stdio.h>
#include "commands.h"
int cmd_check(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope check: not implemented yet\n");
    return 2;
}
