/*
 * tools/lib/plot.h, the plotting helper: a line chart written as PNG, SVG and PDF;
 * the PNG read back through cairo shows each series' colour where its points are
 * and white away from the data; bad extensions, empty data and unwritable paths are
 * refused with a message. Exit 77 (skipped) when the tools were built without cairo.
 */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#ifndef ROPE_HAVE_CAIRO
int main(void) {
    printf("test_plot: skipped, the tools were built without cairo\n");
    return 77;
}
#else
#include <cairo.h>

#include "plot.h"

static uint32_t pixel(cairo_surface_t *s, double x, double y) {
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    uint32_t v;
    memcpy(&v, d + (size_t)(int)y * (size_t)stride + 4 * (size_t)(int)x, 4);
    return v & 0xffffff;
}

/* Some pixel within 2 px of (x, y) has exactly colour c. */
static int near_colour(cairo_surface_t *s, double x, double y, uint32_t c) {
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            if (pixel(s, x + dx, y + dy) == c) return 1;
    return 0;
}

static int starts_with_file(const char *path, const char *magic) {
    char buf[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, strlen(magic), f);
    fclose(f);
    return n == strlen(magic) && !memcmp(buf, magic, n);
}

int main(void) {
    enum { N = 50 };
    double x[N], y1[N], y2[N];
    for (int i = 0; i < N; i++) {
        x[i] = 1.0 + i * i * 4.0; /* 1 .. 9605: a log x axis */
        y1[i] = 10.0 + i;
        y2[i] = 40.0 - 0.5 * i;
    }
    y2[7] = 0.0 / 0.0; /* skipped, not drawn */
    plot_series s[2] = {{"rising θ", x, y1, N, PLOT_BLUE, PLOT_SOLID, 1},
                        {"falling", x, y2, N, PLOT_RED, PLOT_DASHED, 0}};
    plot_chart c = {"Two series", "x (log)", "y", 1, 0, s, 2, PLOT_LEFT}; /* clear of the data */
    char err[300], path[3][512];
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    static const char *ext[3] = {"png", "svg", "pdf"}, *magic[3] = {"\x89PNG", "<?xml", "%PDF-"};
    for (int f = 0; f < 3; f++) {
        snprintf(path[f], sizeof path[f], "%s/rope_test_plot_%ld.%s", dir, (long)getpid(), ext[f]);
        CHECK_MSG(plot_line_chart_file(path[f], &c, 800, 500, err, sizeof err) == 0, "%s: %s",
                  path[f], err);
        CHECK_MSG(starts_with_file(path[f], magic[f]), "%s: not a %s file", path[f], ext[f]);
    }
    /* the PNG through one plot, to know the axes, then read back */
    plot_axes a;
    plot *p = plot_open(path[0], 800, 500, err, sizeof err);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_INT(plot_line_chart(p, &c, 0, 0, 800, 500, &a), 0);
        CHECK_EQ_INT(plot_close(p, err, sizeof err), 0);
        CHECK(a.xlog && a.xmin == 1 && a.xmax == 10000 && a.ymin <= 10 && a.ymax >= 59);
        cairo_surface_t *img = cairo_image_surface_create_from_png(path[0]);
        CHECK(cairo_surface_status(img) == CAIRO_STATUS_SUCCESS);
        if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
            CHECK_EQ_INT(cairo_image_surface_get_width(img), 800);
            cairo_surface_flush(img);
            int blue = 0, red = 0;
            for (int i = 0; i < N; i++) {
                blue += near_colour(img, plot_x(&a, x[i]), plot_y(&a, y1[i]), PLOT_BLUE);
                if (i != 7) red += near_colour(img, plot_x(&a, x[i]), plot_y(&a, y2[i]), PLOT_RED);
            }
            CHECK_MSG(blue == N, "%d of %d blue points found", blue, N);
            CHECK_MSG(red >= N / 3, "%d of %d red points found", red, N - 1);
            CHECK(pixel(img, a.x0 + 5, a.y0 + 5) == PLOT_WHITE);    /* no data there */
            CHECK(pixel(img, 2, 2) == PLOT_WHITE);                  /* the margin */
            CHECK(pixel(img, a.x0, a.y0 + a.h / 2) != PLOT_WHITE);  /* the frame */
        }
        cairo_surface_destroy(img);
    }
    for (int f = 0; f < 3; f++) remove(path[f]);
    /* refused: a bad extension, nothing finite to plot (no file left), an unwritable path */
    err[0] = 0;
    CHECK(plot_open("x.jpg", 100, 100, err, sizeof err) == NULL && strstr(err, ".png"));
    double nan_y[2] = {0.0 / 0.0, 0.0 / 0.0};
    plot_series bad = {"nan", x, nan_y, 2, PLOT_BLUE, PLOT_SOLID, 0};
    plot_chart cb = {"t", "x", "y", 0, 0, &bad, 1, -1};
    CHECK(plot_line_chart_file(path[1], &cb, 300, 200, err, sizeof err) == -1);
    CHECK(!starts_with_file(path[1], "<?xml"));
    CHECK(plot_line_chart_file("/nonexistent-dir/x.png", &c, 300, 200, err, sizeof err) == -1 &&
          strstr(err, "cannot write"));
    return check_report("test_plot");
}
#endif
