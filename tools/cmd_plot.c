/* PLACEHOLDER: replaced by the issue that implements 'rope plot'. */
#include <stdio.h>
#include "commands.h"
int cmd_plot(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope plot: not implemented yet\n");
    return 2;
}
