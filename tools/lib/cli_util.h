/*
 * Small helpers shared by the `rope` subcommands: strict number parsing,
 * position lists, and JSON number output that round-trips.
 */
#ifndef ROPE_CLI_UTIL_H
#define ROPE_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Whole-string integer / float parsing: 0 on success, -1 on junk, empty, overflow. */
int cli_parse_i64(const char *s, int64_t *out);
int cli_parse_f64(const char *s, double *out);

/* "0,1,4096" -> malloc'ed array (*n entries). Each entry an integer in
 * [0, 2^53]; empty entries, junk, negatives or more than max_n entries are an
 * error with a reason in err. */
int cli_parse_positions(const char *s, int64_t **out, int64_t *n, int64_t max_n, char *err,
                        size_t errlen);

/* 1 if s ends with suffix. */
int cli_ends_with(const char *s, const char *suffix);

/* A JSON number with 17 significant digits (round-trips); null if not finite. */
void cli_json_num(FILE *f, double x);
/* A JSON string with the required escapes. */
void cli_json_str(FILE *f, const char *s);

/* Positions from a comma list ("0,1,4096": rows 1) or a .npy of int64/int32
 * with shape (n,) (rows 1) or (rows, n). Values must lie in [0, 2^53].
 * *out is malloc'ed, rows*cols entries, row-major. */
int cli_load_positions(const char *arg, int64_t **out, int64_t *rows, int64_t *cols, char *err,
                       size_t errlen);

/* Threads of the long-running commands when -t is not given: the online CPUs, at most 16. */
int cli_default_threads(void);

/* Option matching: if argv[*i] is `name` (value in argv[*i+1]) or `name=value`,
 * sets *val, advances *i past a separate value and returns 1; returns -1 when
 * the value is missing; 0 when argv[*i] is another argument. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);

#endif
