/* PLACEHOLDER: replaced by the issue that implements 'rope ppl'. */
#include <stdio.h>
#include "commands.h"
int cmd_ppl(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rope ppl: not implemented yet\n");
    return 2;
}
