/*
 * A small 2-D plotting helper on cairo for the tools: one drawing path to PNG, SVG or
 * PDF (chosen by the file's extension), real type (DejaVu Sans through fontconfig,
 * UTF-8: lower case, Greek, superscripts), axes with ticks and grid (linear or log),
 * legends, images (heatmaps), and a one-call line chart.
 *
 * Coordinates are pixels from the top left of a width × height canvas (PNG pixels,
 * SVG user units; PDF pages are drawn at half scale, so 1600 px = 800 pt). Colours
 * are 0xRRGGBB. Only built when cairo is found (tools/CMakeLists.txt defines
 * ROPE_HAVE_CAIRO for the users).
 *
 * Typical use (a line chart to a file in one call):
 *     plot_series s = {"B(r)", r, B, n, PLOT_BLUE, PLOT_SOLID, 0};
 *     plot_chart c = {"decay", "r", "B(r)", 1, 0, &s, 1, PLOT_RIGHT};
 *     if (plot_line_chart_file("decay.svg", &c, 900, 600, err, sizeof err)) ...
 */
#ifndef ROPE_TOOLS_PLOT_H
#define ROPE_TOOLS_PLOT_H

#include <stddef.h>
#include <stdint.h>

typedef struct plot plot; /* one output file being drawn */

enum { PLOT_PNG = 1, PLOT_SVG = 2, PLOT_PDF = 3 };
/* text anchors (legend corners too) and flags for plot_text */
enum { PLOT_LEFT = 0, PLOT_CENTER = 1, PLOT_RIGHT = 2, PLOT_VERTICAL = 4, PLOT_BOLD = 8 };
/* line kinds (series and legend entries) */
enum { PLOT_SOLID = 0, PLOT_DASHED = 1, PLOT_BOX = 2 };

enum {
    PLOT_INK = 0x222222, PLOT_GRID = 0xe6e6e6, PLOT_WHITE = 0xffffff, PLOT_GREY = 0x8a8a8a,
    PLOT_BLUE = 0x1f5fbf, PLOT_RED = 0xc0392b, PLOT_GREEN = 0x2e8b57, PLOT_ORANGE = 0xe67e22,
    PLOT_PURPLE = 0x7d3c98
};
/* Distinct series colours, in order. */
extern const uint32_t plot_palette[6];

/* PLOT_PNG / PLOT_SVG / PLOT_PDF from path's extension (any case), or 0. */
int plot_format_of(const char *path);

/* A white canvas for path. NULL with a message in err on a bad extension, size or
 * an unwritable file (SVG and PDF are opened here, PNG is written by plot_close). */
plot *plot_open(const char *path, int width, int height, char *err, size_t errlen);
/* Finish and write the file, free p. 0, or -1 with a message in err. */
int plot_close(plot *p, char *err, size_t errlen);

void plot_rect(plot *p, double x, double y, double w, double h, uint32_t rgb);
void plot_rect_outline(plot *p, double x, double y, double w, double h, uint32_t rgb, double width);
void plot_line(plot *p, double x0, double y0, double x1, double y1, uint32_t rgb, double width,
               int dashed);
void plot_polyline(plot *p, const double *xs, const double *ys, int n, uint32_t rgb, double width,
                   int dashed);
void plot_dot(plot *p, double x, double y, double radius, uint32_t rgb);
/* pw × ph pixels (row-major 0xRRGGBB) stretched over the box, nearest neighbour. */
void plot_image(plot *p, double x, double y, double w, double h, const uint32_t *px, int pw,
                int ph);
/* UTF-8 text, vertically centred on y; flags: anchor | PLOT_VERTICAL (reads bottom to
 * top, centred on (x, y) along the text) | PLOT_BOLD. size in pixels. */
void plot_text(plot *p, double x, double y, const char *utf8, double size, int flags, uint32_t rgb);
double plot_text_width(plot *p, const char *utf8, double size, int flags);

typedef struct plot_axes {
    double x0, y0, w, h; /* the plot area */
    double xmin, xmax, ymin, ymax;
    int xlog, ylog;      /* log10 axes: limits must be > 0 */
} plot_axes;

double plot_x(const plot_axes *a, double v);
double plot_y(const plot_axes *a, double v);
/* Nice linear step for about target ticks over range. */
double plot_nice_step(double range, int target);
/* White plot area and grid lines at the ticks (draw the data after this). */
void plot_grid(plot *p, const plot_axes *a);
/* Frame, ticks with labels, title above, axis labels (draw after the data). */
void plot_frame(plot *p, const plot_axes *a, const char *title, const char *xlabel,
                const char *ylabel);

typedef struct plot_legend_item {
    uint32_t rgb;
    int kind; /* PLOT_SOLID, PLOT_DASHED or PLOT_BOX */
    const char *label;
} plot_legend_item;
/* Boxed legend in the top-left (corner PLOT_LEFT) or top-right (PLOT_RIGHT) of a. */
void plot_legend(plot *p, const plot_axes *a, int corner, const plot_legend_item *items, int n);

typedef struct plot_series {
    const char *label;
    const double *x, *y;
    int n;
    uint32_t rgb;
    int kind;    /* PLOT_SOLID or PLOT_DASHED */
    int markers; /* a dot at every point */
} plot_series;

typedef struct plot_chart {
    const char *title, *xlabel, *ylabel;
    int xlog, ylog;
    const plot_series *series;
    int n_series;
    int legend; /* PLOT_LEFT or PLOT_RIGHT corner; -1: no legend */
} plot_chart;

/* Axes fitted to the data (non-finite points, and points <= 0 on a log axis, are
 * skipped), grid, series, frame, legend, inside the box (X, Y, W, H). *out (may be
 * NULL) receives the axes, to draw more on top. -1 if no series has a usable point. */
int plot_line_chart(plot *p, const plot_chart *c, double X, double Y, double W, double H,
                    plot_axes *out);
/* plot_open + plot_line_chart over the whole canvas + plot_close. */
int plot_line_chart_file(const char *path, const plot_chart *c, int width, int height, char *err,
                         size_t errlen);

#endif
