/* SVG line charts for `rope lab`: x = context length (log2 axis), one line per
 * series, a dashed vertical marker (the trained context). */
#ifndef ROPE_LLAMA_LAB_PLOT_H
#define ROPE_LLAMA_LAB_PLOT_H

typedef struct lab_plot_series {
    const char *name;
    const double *x, *y;   /* n points; non-finite or non-positive (log axis) y are skipped */
    int n;
} lab_plot_series;

typedef struct lab_plot_spec {
    const char *title, *ylabel;
    int log_y;
    double y_min, y_max;   /* NaN = from the data */
    double marker_x;       /* <= 0: no marker */
    const char *marker_label;
} lab_plot_spec;

/* 0, or -1 when the file cannot be written. */
int lab_plot_svg(const char *path, const lab_plot_spec *spec, const lab_plot_series *s, int ns);

#endif
