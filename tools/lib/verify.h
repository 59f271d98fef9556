/*
 * rope verify: is another engine's RoPE right for a model, and if not, what exactly is
 * wrong? The truth comes from the public librope API only (rope_freqs_compute, cos/sin in
 * accurate and HF-float32 precision, rope_apply). Depends on rope.h, libc and libm only, so
 * the Python binding compiles this file into its shared object too.
 *
 * Two kinds of evidence:
 *   - tables: the engine's cos/sin rows at known positions (any common layout: decode them
 *     with verify_decode_cos_sin / verify_decode_cis first);
 *   - pairs: vectors the engine rotated (q or k, input and output) with their positions; the
 *     per-position cos/sin the engine must have used are recovered by least squares, after
 *     finding which dimensions it paired.
 * Diagnosis = testing hypotheses: each classic fault is injected into the truth (with fitted
 * parameters where it has one: base, factor, offset, length) and it "fits" when the data is
 * within the float32 arithmetic budget of that faulty truth everywhere. docs/verify.md.
 */
#ifndef ROPE_VERIFY_H
#define ROPE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "rope.h"

#define VERIFY_MAX_ALT 4
#define VERIFY_MAX_DIAG 16
#define VERIFY_MAX_PBANDS 8     /* position bands */
#define VERIFY_FBANDS 4         /* frequency bands: quarters of the frequency index */
#define VERIFY_PLOT_BINS 48

/* Another RoPE of the same model (another layer type): the sliding/global swap hypothesis. */
typedef struct verify_alt {
    char name[ROPE_SET_NAME_MAX];
    rope_config cfg;
} verify_alt;

typedef struct verify_truth {
    rope_config cfg;            /* the model's RoPE for this layer (factor lists must outlive calls) */
    rope_style style;           /* how the model pairs dims (config_json's style) */
    int64_t seq_len;            /* the engine call's length (dynamic, longrope); 0 = max position + 1 */
    double tol;                 /* |cos/sin error| reported as "exceeds from position"; 0 = 1e-3 */
    char layer_type[ROPE_SET_NAME_MAX]; /* "" for single-RoPE models */
    verify_alt alt[VERIFY_MAX_ALT]; /* the model's other RoPEs (other layer types) */
    int n_alt;
    int nope;                   /* 1: this layer has no RoPE (q/k must come out unchanged; pairs
                                   only); cfg is then unused and alt[] the model's RoPEs */
} verify_truth;

/* An engine's table, decoded: rows x n_freqs cos and sin (attention factor included, as HF). */
typedef struct verify_table {
    int64_t rows, n_freqs;
    const double *cos, *sin;
    const int64_t *positions;   /* rows; NULL = row r is position r */
    rope_style implied_style;   /* the pairing the layout implies; NONE = the layout does not say */
    const char *layout;         /* e.g. "[pos, R] halves duplicated" (for the report) */
} verify_table;

/* Vectors the engine rotated: tokens x heads x head_dim in and out (q and k heads may be
 * stacked along heads), positions per token. */
typedef struct verify_pairs {
    int64_t tokens, heads, head_dim;
    const double *in, *out;
    const int64_t *positions;   /* tokens; NULL = 0..tokens-1 */
    double eps;                 /* unit roundoff of the outputs' dtype: 2^-24 f32, 2^-11 f16, 2^-8 bf16 */
} verify_pairs;

typedef enum verify_verdict {
    VERIFY_RIGHT = 0,           /* the truth, within what float32 arithmetic explains */
    VERIFY_FAULT = 1,           /* wrong, and the data fits the named fault(s) */
    VERIFY_UNEXPLAINED = 2      /* wrong, and no hypothesis fits */
} verify_verdict;

typedef struct verify_diag {
    char id[32];                /* convention, halves_swapped, position_offset, base, ... */
    int fault;                  /* 0: an explanation, not a fault (float32 angles as HF) */
    char summary[400];          /* one or two sentences */
    double param;               /* the fitted value (base, factor, offset, length), NaN if none */
    double score;               /* max error / budget under this hypothesis (<= 1: fits) */
    double rms_fit, rms_truth;  /* rms error against the hypothesis / against the truth */
    int64_t exceeds_from;       /* precision faults: first position whose error > tol; -1 never */
    char also[200];             /* explanations this data cannot tell apart from this one */
} verify_diag;

typedef struct verify_band {
    int64_t pos_lo, pos_hi;     /* positions in the band (inclusive) */
    int64_t f_lo, f_hi;         /* frequency indices [f_lo, f_hi) */
    int64_t n;
    double max_abs, rms_abs, max_ulp;
    double f32_abs;             /* max |HF float32 - accurate| there: what float32 explains */
} verify_band;

typedef struct verify_report {
    verify_verdict verdict;
    char mode[8];               /* "table" or "pairs" */
    char layout[80];
    char storage[8];            /* "f32", "bf16", "f16": the narrowest type holding every value */
    char layer_type[ROPE_SET_NAME_MAX];
    int64_t rows, n_freqs, n_freqs_truth, rotary_dim, head_dim, seq_len, pos_min, pos_max;
    int64_t rows_analysed;      /* tables over 16384 rows: the hypotheses see 16384 of them */
    double attention_factor;    /* the model's */
    double amplitude;           /* the data's: median |(cos, sin)| */
    double max_abs, max_ulp, f32_max_abs, tol;
    int64_t exceeds_from;       /* first position where |data - truth| > tol; -1 never */
    double out_max_abs, out_max_rel; /* pairs: outputs vs rope_apply of the truth (NaN: n/a) */
    verify_band bands[VERIFY_MAX_PBANDS * VERIFY_FBANDS];
    int n_bands;
    int n_plot;                 /* plot: max |error| per frequency band in position bins */
    double plot_pos[VERIFY_PLOT_BINS];             /* largest position of each bin */
    double plot_err[VERIFY_FBANDS][VERIFY_PLOT_BINS];
    double plot_f32[VERIFY_PLOT_BINS];
    verify_diag diag[VERIFY_MAX_DIAG];
    int n_diag;
    char summary[600];
} verify_report;

/* Analyse an engine's table / rotated pairs. 0 on success (whatever the verdict); non-zero
 * with a reason in err when the input cannot be analysed (sizes, positions, config). */
int verify_run_table(const verify_truth *t, const verify_table *e, verify_report *r, char *err,
                     size_t errlen);
int verify_run_pairs(const verify_truth *t, const verify_pairs *p, verify_report *r, char *err,
                     size_t errlen);

/* Decoded table (owned arrays). */
typedef struct verify_decoded {
    int64_t rows, n_freqs;
    double *cos, *sin;
    rope_style implied_style;
    char layout[80];
} verify_decoded;

/* cos and sin arrays of one shape [..., W] (leading dims flatten to rows): W = R/2 columns,
 * or R with halves duplicated (HF cat(freqs, freqs): half pairing) or each value twice
 * (repeat_interleave: interleaved pairing). n_freqs_truth decides W = R/2 vs duplicated. */
int verify_decode_cos_sin(int ndim, const int64_t *shape, const double *cos, const double *sin,
                          int64_t n_freqs_truth, verify_decoded *out, char *err, size_t errlen);
/* Complex freqs_cis as [..., n_freqs, 2] (real, imaginary): Meta's polar(1, m*theta). */
int verify_decode_cis(int ndim, const int64_t *shape, const double *cis, verify_decoded *out,
                      char *err, size_t errlen);
void verify_decoded_free(verify_decoded *d);

/* The report as JSON (malloc'd, NUL-terminated; NULL when out of memory). */
char *verify_report_json(const verify_report *r);
/* The report as text for a terminal (malloc'd). */
char *verify_report_text(const verify_report *r);
void verify_string_free(char *s);

/* For bindings (Python ctypes): run and return the JSON report (malloc'd), or NULL with the
 * reason in err. */
char *verify_table_json(const verify_truth *t, const verify_table *e, char *err, size_t errlen);
char *verify_pairs_json(const verify_truth *t, const verify_pairs *p, char *err, size_t errlen);

#endif
