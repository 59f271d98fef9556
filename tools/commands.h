/* The `rope` subcommands: each lives in its own file and returns the process
 * exit status (0 ok, 1 failure/check failed, 2 usage or input error). */
#ifndef ROPE_COMMANDS_H
#define ROPE_COMMANDS_H

int cmd_inspect(int argc, char **argv);   /* tools/cmd_inspect.c */
int cmd_table(int argc, char **argv);     /* tools/cmd_table.c */
int cmd_apply(int argc, char **argv);     /* tools/cmd_apply.c */
int cmd_check(int argc, char **argv);     /* tools/cmd_check.c */
int cmd_plot(int argc, char **argv);      /* tools/cmd_plot.c */
int cmd_verify(int argc, char **argv);    /* tools/cmd_verify.c */
int cmd_bench(int argc, char **argv);     /* bench/bench.c */
int cmd_generate(int argc, char **argv);  /* llama/cmd_generate.c (runner module) */
int cmd_ppl(int argc, char **argv);       /* llama/cmd_ppl.c */
int cmd_lab(int argc, char **argv);       /* llama/cmd_lab.c */

#endif
