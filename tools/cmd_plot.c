/*
 * rope plot CONFIG.json [--out FILE.png|FILE.svg] [--kind wavelength|decay|heatmap|all] [--json]
 *
 * Pictures of a model's RoPE, drawn by hand into a raster (PNG, tools/lib/png.c) or
 * written as SVG text:
 *   (a) wavelength 2π/θᵢ per frequency index, the model's scaling next to the
 *       unscaled θᵢ, log y axis, YaRN / Llama 3 bands shaded, the context length marked;
 *   (b) the long-term decay bound of RoFormer §3.4.3 (Su et al. 2021, eq. 37):
 *       B(r) = (1/(d/2)) Σ_{j=1}^{d/2} |S_j|,  S_j = Σ_{k=0}^{j-1} e^{i r θ_k};
 *   (c) a heatmap of ⟨R(m)q, R(n)k⟩ over query/key positions for random q, k, rotated by
 *       librope itself: constant along diagonals, i.e. a function of m − n only (eq. 16).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "config_json.h"
#include "png.h"
#include "rope.h"

#define TWO_PI 6.28318530717958647692

/* ------------------------------------------------------------ font */

/* 5×7 glyphs for ASCII 32..126, one byte per row, bit 4 = leftmost column.
 * Lower case is drawn with the upper-case shapes. */
static const unsigned char font5x7[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' ' */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* '!' */
    {0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00}, /* '"' */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a}, /* '#' */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04}, /* '$' */
    {0x19, 0x19, 0x02, 0x04, 0x08, 0x13, 0x13}, /* '%' */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d}, /* '&' */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}, /* "'" */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* '(' */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ')' */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00}, /* 0x2a */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}, /* '+' */
    {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}, /* ',' */
    {0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00}, /* '-' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}, /* '.' */
    {0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10}, /* 0x2f */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* '0' */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* '1' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* '2' */
    {0x1e, 0x01, 0x01, 0x0e, 0x01, 0x01, 0x1e}, /* '3' */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* '4' */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* '5' */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* '6' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* '7' */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* '8' */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* '9' */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}, /* ':' */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08}, /* ';' */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* '<' */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}, /* '=' */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* '>' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* '?' */
    {0x0e, 0x11, 0x17, 0x15, 0x17, 0x10, 0x0f}, /* '@' */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'A' */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* 'B' */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* 'C' */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}, /* 'D' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* 'E' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* 'F' */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* 'G' */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'H' */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 'I' */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* 'J' */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* 'K' */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* 'L' */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* 'M' */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* 'N' */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'O' */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* 'P' */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* 'Q' */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* 'R' */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* 'S' */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* 'T' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'U' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* 'V' */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* 'W' */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* 'X' */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}, /* 'Y' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* 'Z' */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e}, /* '[' */
    {0x10, 0x08, 0x08, 0x04, 0x02, 0x02, 0x01}, /* 0x5c */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e}, /* ']' */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00}, /* '^' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* '_' */
    {0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}, /* '`' */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'a' */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* 'b' */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* 'c' */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}, /* 'd' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* 'e' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* 'f' */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* 'g' */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'h' */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 'i' */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* 'j' */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* 'k' */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* 'l' */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* 'm' */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* 'n' */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'o' */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* 'p' */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* 'q' */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* 'r' */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* 's' */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* 't' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'u' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* 'v' */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* 'w' */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* 'x' */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}, /* 'y' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* 'z' */
    {0x03, 0x04, 0x04, 0x18, 0x04, 0x04, 0x03}, /* '{' */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* '|' */
    {0x18, 0x04, 0x04, 0x03, 0x04, 0x04, 0x18}, /* '}' */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00}, /* '~' */
};

/* ------------------------------------------------------------ canvas */

/* One drawing surface, two back ends: an RGB raster (PNG) or an SVG text stream. */
typedef struct canvas {
    int svg;
    FILE *f;             /* SVG output */
    int w, h;
    unsigned char *px;   /* raster: w*h*3 */
} canvas;

enum { ANCHOR_LEFT = 0, ANCHOR_CENTER = 1, ANCHOR_RIGHT = 2 };

static void col_rgb(uint32_t c, unsigned char *r, unsigned char *g, unsigned char *b) {
    *r = (unsigned char)(c >> 16);
    *g = (unsigned char)(c >> 8);
    *b = (unsigned char)c;
}

static void put_px(canvas *c, int x, int y, uint32_t col) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    col_rgb(col, &p[0], &p[1], &p[2]);
}

static void cv_rect(canvas *c, double x, double y, double w, double h, uint32_t col) {
    if (c->svg) {
        fprintf(c->f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%06x\" shape-rendering=\"crispEdges\"/>\n", x, y, w,
                h, (unsigned)col);
        return;
    }
    int x0 = (int)floor(x + 0.5), y0 = (int)floor(y + 0.5);
    int x1 = (int)floor(x + w + 0.5), y1 = (int)floor(y + h + 0.5);
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) put_px(c, xx, yy, col);
}

/* A straight segment, width px, optionally dashed (6 on, 4 off). */
static void raster_segment(canvas *c, double x0, double y0, double x1, double y1, uint32_t col, double width,
                           int dashed, double *dash_pos) {
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    int steps = (int)(len * 2) + 1;
    int half = (int)(width / 2);
    for (int s = 0; s <= steps; s++) {
        double t = (double)s / steps;
        double along = *dash_pos + t * len;
        if (dashed && fmod(along, 10.0) >= 6.0) continue;
        int px = (int)floor(x0 + t * dx + 0.5), py = (int)floor(y0 + t * dy + 0.5);
        for (int oy = -half; oy <= (int)width - 1 - half; oy++)
            for (int ox = -half; ox <= (int)width - 1 - half; ox++) put_px(c, px + ox, py + oy, col);
    }
    *dash_pos += len;
}

static void cv_polyline(canvas *c, const double *xs, const double *ys, int n, uint32_t col, double width,
                        int dashed) {
    if (n < 2) return;
    if (c->svg) {
        fprintf(c->f, "<polyline fill=\"none\" stroke=\"#%06x\" stroke-width=\"%.1f\"%s points=\"", (unsigned)col,
                width, dashed ? " stroke-dasharray=\"6,4\"" : "");
        for (int i = 0; i < n; i++) fprintf(c->f, "%s%.2f,%.2f", i ? " " : "", xs[i], ys[i]);
        fprintf(c->f, "\"/>\n");
        return;
    }
    double dash = 0;
    for (int i = 0; i + 1 < n; i++) raster_segment(c, xs[i], ys[i], xs[i + 1], ys[i + 1], col, width, dashed, &dash);
}

static void cv_line(canvas *c, double x0, double y0, double x1, double y1, uint32_t col, double width, int dashed) {
    double xs[2] = {x0, x1}, ys[2] = {y0, y1};
    cv_polyline(c, xs, ys, 2, col, width, dashed);
}

/* Text centred vertically on y; scale 2 = 10×14 px glyphs on a 12 px advance.
 * vertical: rotated 90° counter-clockwise (reads bottom to top), centred on (x, y). */
static void cv_text(canvas *c, double x, double y, const char *s, int scale, int anchor, int vertical,
                    uint32_t col) {
    int n = (int)strlen(s);
    double width = n * 6.0 * scale - scale;
    if (c->svg) {
        static const char *anch[3] = {"start", "middle", "end"};
        fprintf(c->f, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"monospace\" font-size=\"%d\" fill=\"#%06x\" "
                      "text-anchor=\"%s\" dominant-baseline=\"central\" xml:space=\"preserve\"",
                x, y, 7 * scale + 3, (unsigned)col, anch[anchor]);
        if (vertical) fprintf(c->f, " transform=\"rotate(-90 %.2f %.2f)\"", x, y);
        fputc('>', c->f);
        for (const char *p = s; *p; p++) {
            if (*p == '<') fputs("&lt;", c->f);
            else if (*p == '>') fputs("&gt;", c->f);
            else if (*p == '&') fputs("&amp;", c->f);
            else fputc(*p, c->f);
        }
        fputs("</text>\n", c->f);
        return;
    }
    double start = anchor == ANCHOR_LEFT ? 0 : anchor == ANCHOR_CENTER ? -width / 2 : -width;
    for (int i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 32 || ch > 126) ch = '?';
        const unsigned char *g = font5x7[ch - 32];
        for (int row = 0; row < 7; row++)
            for (int colm = 0; colm < 5; colm++) {
                if (!(g[row] & (0x10 >> colm))) continue;
                double u = start + (i * 6 + colm) * scale; /* along the text */
                double v = (row - 3.5) * scale;            /* across, centred */
                for (int a = 0; a < scale; a++)
                    for (int b = 0; b < scale; b++) {
                        if (!vertical) put_px(c, (int)floor(x + u) + a, (int)floor(y + v) + b, col);
                        else put_px(c, (int)floor(x + v) + b, (int)floor(y - u) - a, col);
                    }
            }
    }
}

/* ------------------------------------------------------------- axes */

typedef struct axes {
    double x0, y0, w, h;        /* plot area in pixels */
    double xmin, xmax, ymin, ymax;
    int xlog, ylog;
} axes;

static double ax_x(const axes *a, double v) {
    double t = a->xlog ? (log10(v) - log10(a->xmin)) / (log10(a->xmax) - log10(a->xmin))
                       : (v - a->xmin) / (a->xmax - a->xmin);
    return a->x0 + t * a->w;
}
static double ax_y(const axes *a, double v) {
    double t = a->ylog ? (log10(v) - log10(a->ymin)) / (log10(a->ymax) - log10(a->ymin))
                       : (v - a->ymin) / (a->ymax - a->ymin);
    return a->y0 + a->h - t * a->h;
}

static double nice_step(double range, int target) {
    double raw = range / target, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void tick_label(char *buf, size_t n, double v, int logscale) {
    if (logscale) {
        int e = (int)lround(log10(v));
        if (e >= 0 && e <= 4) snprintf(buf, n, "%g", pow(10, e));
        else snprintf(buf, n, "1e%d", e);
    } else {
        snprintf(buf, n, "%g", fabs(v) < 1e-12 ? 0.0 : v);
    }
}

enum { GRID = 0xe6e6e6, INK = 0x222222, BLUE = 0x1f5fbf, GREY = 0x8a8a8a, RED = 0xc0392b, GREEN = 0x2e8b57,
       BLEND_BG = 0xfff1bf, SCALED_BG = 0xfbd9d3, WHITE = 0xffffff };

/* Frame, grid, ticks and labels; the data is drawn by the caller on top. */
static void draw_axes(canvas *c, const axes *a, const char *title, const char *xlabel, const char *ylabel,
                      int grid_first) {
    char buf[32];
    /* ticks: x */
    double xt[64], yt[64];
    int nx = 0, ny = 0;
    if (a->xlog) {
        for (int e = (int)ceil(log10(a->xmin) - 1e-9); e <= (int)floor(log10(a->xmax) + 1e-9) && nx < 64; e++)
            xt[nx++] = pow(10, e);
    } else {
        double st = nice_step(a->xmax - a->xmin, 6);
        for (double v = ceil(a->xmin / st) * st; v <= a->xmax + st * 1e-9 && nx < 64; v += st) xt[nx++] = v;
    }
    if (a->ylog) {
        for (int e = (int)ceil(log10(a->ymin) - 1e-9); e <= (int)floor(log10(a->ymax) + 1e-9) && ny < 64; e++)
            yt[ny++] = pow(10, e);
    } else {
        double st = nice_step(a->ymax - a->ymin, 5);
        for (double v = ceil(a->ymin / st) * st; v <= a->ymax + st * 1e-9 && ny < 64; v += st) yt[ny++] = v;
    }
    if (grid_first) {
        for (int i = 0; i < nx; i++) cv_line(c, ax_x(a, xt[i]), a->y0, ax_x(a, xt[i]), a->y0 + a->h, GRID, 1, 0);
        for (int i = 0; i < ny; i++) cv_line(c, a->x0, ax_y(a, yt[i]), a->x0 + a->w, ax_y(a, yt[i]), GRID, 1, 0);
        return;
    }
    cv_line(c, a->x0, a->y0 + a->h, a->x0 + a->w, a->y0 + a->h, INK, 2, 0);
    cv_line(c, a->x0, a->y0, a->x0, a->y0 + a->h, INK, 2, 0);
    cv_line(c, a->x0 + a->w, a->y0, a->x0 + a->w, a->y0 + a->h, INK, 1, 0);
    cv_line(c, a->x0, a->y0, a->x0 + a->w, a->y0, INK, 1, 0);
    for (int i = 0; i < nx; i++) {
        double x = ax_x(a, xt[i]);
        cv_line(c, x, a->y0 + a->h, x, a->y0 + a->h + 6, INK, 2, 0);
        tick_label(buf, sizeof buf, xt[i], a->xlog);
        cv_text(c, x, a->y0 + a->h + 18, buf, 2, ANCHOR_CENTER, 0, INK);
    }
    for (int i = 0; i < ny; i++) {
        double y = ax_y(a, yt[i]);
        cv_line(c, a->x0 - 6, y, a->x0, y, INK, 2, 0);
        tick_label(buf, sizeof buf, yt[i], a->ylog);
        cv_text(c, a->x0 - 10, y, buf, 2, ANCHOR_RIGHT, 0, INK);
    }
    cv_text(c, a->x0 + a->w / 2, a->y0 - 22, title, 2, ANCHOR_CENTER, 0, INK);
    cv_text(c, a->x0 + a->w / 2, a->y0 + a->h + 42, xlabel, 2, ANCHOR_CENTER, 0, INK);
    cv_text(c, a->x0 - 94, a->y0 + a->h / 2, ylabel, 2, ANCHOR_CENTER, 1, INK);
}

/* White box behind a legend of n entries whose longest label has len characters. */
static void legend_box(canvas *c, double x, double y, int n, size_t len) {
    double w = 36 + 12.0 * (double)len + 12, h = 22.0 * n + 8;
    cv_rect(c, x - 6, y - 15, w, h, WHITE);
    cv_line(c, x - 6, y - 15, x - 6 + w, y - 15, GREY, 1, 0);
    cv_line(c, x - 6, y - 15 + h, x - 6 + w, y - 15 + h, GREY, 1, 0);
    cv_line(c, x - 6, y - 15, x - 6, y - 15 + h, GREY, 1, 0);
    cv_line(c, x - 6 + w, y - 15, x - 6 + w, y - 15 + h, GREY, 1, 0);
}

static void legend_entry(canvas *c, double x, double y, uint32_t col, int kind, const char *label) {
    /* kind 0: solid line, 1: dashed line, 2: filled box */
    if (kind == 2) cv_rect(c, x, y - 7, 28, 14, col);
    else cv_line(c, x, y, x + 28, y, col, 3, kind == 1);
    cv_text(c, x + 36, y, label, 2, ANCHOR_LEFT, 0, INK);
}

/* ------------------------------------------------------------ data */

typedef struct plot_data {
    hf_config hf;
    rope_freqs f, f0;           /* the model's and the unscaled frequencies */
    int64_t context;            /* original (pre-scaling) context length */
    /* decay */
    int nr;
    double *r, *B, *B0;
    /* heatmap */
    int64_t hm_n, hm_offset;
    double *scores;             /* hm_n × hm_n, row = query position m, column = key position n */
    double diag_dev;            /* max |s(m,n) − s(m+1,n+1)| / max|s| */
} plot_data;

/* RoFormer §3.4.3: B(r) = (1/(d/2)) Σ_{j=1}^{d/2} |S_j|, S_j = Σ_{k<j} e^{i r θ_k}. */
static double decay_bound(const double *theta, int64_t n, double r) {
    double re = 0, im = 0, sum = 0;
    for (int64_t k = 0; k < n; k++) {
        re += cos(r * theta[k]);
        im += sin(r * theta[k]);
        sum += sqrt(re * re + im * im);
    }
    return sum / (double)n;
}

static uint64_t xs_state = 0x2545F4914F6CDD1Dull;
static double xs_gauss(void) { /* Box-Muller on xorshift64 */
    double u[2];
    for (int i = 0; i < 2; i++) {
        xs_state ^= xs_state << 13;
        xs_state ^= xs_state >> 7;
        xs_state ^= xs_state << 17;
        u[i] = ((double)(xs_state >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(TWO_PI * u[1]);
}

/* ⟨R(m)q, R(n)k⟩ for m, n in [offset, offset + n): q and k rotated by rope_apply. */
static int heatmap_scores(plot_data *d) {
    const int64_t n = d->hm_n, D = d->f.head_dim, R = d->f.rotary_dim;
    float *q = malloc(sizeof(float) * (size_t)(n * D)), *k = malloc(sizeof(float) * (size_t)(n * D));
    float *qr = malloc(sizeof(float) * (size_t)(n * D)), *kr = malloc(sizeof(float) * (size_t)(n * D));
    d->scores = malloc(sizeof(double) * (size_t)(n * n));
    if (!q || !k || !qr || !kr || !d->scores) {
        free(q), free(k), free(qr), free(kr);
        return -1;
    }
    for (int64_t i = 0; i < D; i++) {
        q[i] = (float)xs_gauss();
        k[i] = (float)xs_gauss();
    }
    for (int64_t s = 1; s < n; s++) {
        memcpy(q + s * D, q, sizeof(float) * (size_t)D);
        memcpy(k + s * D, k, sizeof(float) * (size_t)D);
    }
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_HALF;
    p.freqs = &d->f;
    p.rotary_dim = R;
    rope_positions pos = {0};
    pos.offset = d->hm_offset;
    rope_tensor tq, tqo, tk, tko;
    rope_tensor_contiguous(&tq, q, ROPE_F32, 1, n, 1, D);
    rope_tensor_contiguous(&tqo, qr, ROPE_F32, 1, n, 1, D);
    rope_tensor_contiguous(&tk, k, ROPE_F32, 1, n, 1, D);
    rope_tensor_contiguous(&tko, kr, ROPE_F32, 1, n, 1, D);
    rope_status st = rope_apply_qk(&p, &pos, &tq, &tqo, &tk, &tko);
    if (st == ROPE_OK) {
        double mx = 0;
        for (int64_t m = 0; m < n; m++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                /* only the rotated part carries position; the tail adds a constant */
                for (int64_t i = 0; i < D; i++) s += (double)qr[m * D + i] * kr[j * D + i];
                d->scores[m * n + j] = s;
                if (fabs(s) > mx) mx = fabs(s);
            }
        double dev = 0;
        for (int64_t m = 0; m + 1 < n; m++)
            for (int64_t j = 0; j + 1 < n; j++) {
                double e = fabs(d->scores[m * n + j] - d->scores[(m + 1) * n + j + 1]);
                if (e > dev) dev = e;
            }
        d->diag_dev = mx > 0 ? dev / mx : 0;
    }
    free(q), free(k), free(qr), free(kr);
    if (st != ROPE_OK) fprintf(stderr, "rope plot: rope_apply_qk failed: %s\n", rope_strerror(st));
    return st == ROPE_OK ? 0 : -1;
}

/* ----------------------------------------------------------- panels */

static void panel_wavelength(canvas *c, const plot_data *d, double X, double Y, double W, double H) {
    const int64_t n = d->f.n_freqs;
    axes a = {X + 125, Y + 60, W - 165, H - 140, -0.5, (double)n - 0.5, 0, 0, 0, 1};
    double lo = INFINITY, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        double w1 = TWO_PI / d->f.inv_freq[i], w0 = TWO_PI / d->f0.inv_freq[i];
        lo = fmin(lo, fmin(w1, w0));
        hi = fmax(hi, fmax(w1, w0));
    }
    if (d->context > 0) hi = fmax(hi, (double)d->context), lo = fmin(lo, (double)d->context);
    a.ymin = pow(10, floor(log10(lo)));
    a.ymax = pow(10, ceil(log10(hi)));
    if (a.ymax <= a.ymin * 10) a.ymax = a.ymin * 100;
    cv_rect(c, a.x0, a.y0, a.w, a.h, WHITE);
    /* bands: shade each frequency's column by its band */
    int has_blend = 0, has_scaled = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t col = d->f.band[i] == ROPE_BAND_BLEND ? BLEND_BG : d->f.band[i] == ROPE_BAND_SCALED ? SCALED_BG : 0;
        if (!col || d->f.type == ROPE_SCALING_DEFAULT) continue;
        has_blend |= d->f.band[i] == ROPE_BAND_BLEND;
        has_scaled |= d->f.band[i] == ROPE_BAND_SCALED;
        double x0 = ax_x(&a, (double)i - 0.5), x1 = ax_x(&a, (double)i + 0.5);
        cv_rect(c, x0, a.y0, x1 - x0, a.h, col);
    }
    draw_axes(c, &a, "", "", "", 1);
    double *xs = calloc((size_t)n + 1, sizeof(double)), *ys = calloc((size_t)n + 1, sizeof(double));
    if (xs && ys) {
        for (int64_t i = 0; i < n; i++) xs[i] = ax_x(&a, (double)i), ys[i] = ax_y(&a, TWO_PI / d->f0.inv_freq[i]);
        if (d->f.type != ROPE_SCALING_DEFAULT) cv_polyline(c, xs, ys, (int)n, GREY, 3, 1);
        for (int64_t i = 0; i < n; i++) ys[i] = ax_y(&a, TWO_PI / d->f.inv_freq[i]);
        cv_polyline(c, xs, ys, (int)n, BLUE, 3, 0);
        for (int64_t i = 0; i < n; i++) cv_rect(c, xs[i] - 2, ys[i] - 2, 5, 5, BLUE);
    }
    free(xs), free(ys);
    if (d->context > 0) {
        double y = ax_y(&a, (double)d->context);
        cv_line(c, a.x0, y, a.x0 + a.w, y, GREEN, 2, 1);
    }
    char title[160];
    snprintf(title, sizeof title, "Wavelength 2pi/theta_i per frequency (%s)", rope_scaling_name(d->f.type));
    draw_axes(c, &a, title, "frequency index i", "wavelength (tokens, log)", 0);
    /* legend, top left inside the plot */
    double lx = a.x0 + 14, ly = a.y0 + 22;
    char lab[96];
    snprintf(lab, sizeof lab, "%s", d->f.type == ROPE_SCALING_DEFAULT ? "model (unscaled)" : "model, scaled");
    int scaled = d->f.type != ROPE_SCALING_DEFAULT;
    legend_box(c, lx, ly, 1 + scaled + (d->context > 0) + has_blend + has_scaled, 26);
    legend_entry(c, lx, ly, BLUE, 0, lab), ly += 22;
    if (scaled) legend_entry(c, lx, ly, GREY, 1, "unscaled base^(-2i/d)"), ly += 22;
    if (d->context > 0) {
        snprintf(lab, sizeof lab, "context %lld", (long long)d->context);
        legend_entry(c, lx, ly, GREEN, 1, lab), ly += 22;
    }
    if (has_blend) legend_entry(c, lx, ly, BLEND_BG, 2, "blend band (ramp)"), ly += 22;
    if (has_scaled) legend_entry(c, lx, ly, SCALED_BG, 2, "scaled band (interpolated)");
}

static void panel_decay(canvas *c, const plot_data *d, double X, double Y, double W, double H) {
    double hi = 0;
    for (int i = 0; i < d->nr; i++) hi = fmax(hi, fmax(d->B[i], d->B0[i]));
    axes a = {X + 125, Y + 60, W - 165, H - 140, 1, d->r[d->nr - 1], 0, 0, 1, 0};
    a.ymax = ceil(hi / nice_step(hi, 5)) * nice_step(hi, 5);
    cv_rect(c, a.x0, a.y0, a.w, a.h, WHITE);
    draw_axes(c, &a, "", "", "", 1);
    double *xs = calloc((size_t)d->nr + 1, sizeof(double)), *ys = calloc((size_t)d->nr + 1, sizeof(double));
    int m = 0;
    if (xs && ys) {
        for (int i = 0; i < d->nr; i++)
            if (d->r[i] >= 1) xs[m] = ax_x(&a, d->r[i]), ys[m++] = ax_y(&a, d->B0[i]);
        if (d->f.type != ROPE_SCALING_DEFAULT) cv_polyline(c, xs, ys, m, GREY, 3, 1);
        m = 0;
        for (int i = 0; i < d->nr; i++)
            if (d->r[i] >= 1) xs[m] = ax_x(&a, d->r[i]), ys[m++] = ax_y(&a, d->B[i]);
        cv_polyline(c, xs, ys, m, BLUE, 3, 0);
    }
    free(xs), free(ys);
    if (d->context > 0 && (double)d->context <= a.xmax) {
        double x = ax_x(&a, (double)d->context);
        cv_line(c, x, a.y0, x, a.y0 + a.h, GREEN, 2, 1);
    }
    char title[160], lab[96];
    snprintf(title, sizeof title, "Long-term decay bound B(r), d=%lld (RoFormer 3.4.3)", (long long)d->f.rotary_dim);
    draw_axes(c, &a, title, "relative distance r (tokens, log)", "B(r)", 0);
    snprintf(lab, sizeof lab, "B(r), model theta (B(0)=%.4g)", d->B[0]);
    int ctx_shown = d->context > 0 && (double)d->context <= a.xmax;
    int entries = 1 + (d->f.type != ROPE_SCALING_DEFAULT) + ctx_shown;
    double lx = a.x0 + a.w - (36 + 12.0 * (double)strlen(lab) + 12), ly = a.y0 + 22;
    legend_box(c, lx, ly, entries, strlen(lab));
    legend_entry(c, lx, ly, BLUE, 0, lab), ly += 22;
    if (d->f.type != ROPE_SCALING_DEFAULT) legend_entry(c, lx, ly, GREY, 1, "B(r), unscaled theta"), ly += 22;
    if (ctx_shown) {
        snprintf(lab, sizeof lab, "context %lld", (long long)d->context);
        legend_entry(c, lx, ly, GREEN, 1, lab);
    }
}

/* Diverging colour: blue (−1) .. white (0) .. red (+1). */
static uint32_t diverging(double t) {
    if (t > 1) t = 1;
    if (t < -1) t = -1;
    double r, g, b;
    if (t >= 0) r = 1 - t * (1 - 0.70), g = 1 - t * (1 - 0.09), b = 1 - t * (1 - 0.17);
    else t = -t, r = 1 - t * (1 - 0.13), g = 1 - t * (1 - 0.30), b = 1 - t * (1 - 0.68);
    return ((uint32_t)lround(r * 255) << 16) | ((uint32_t)lround(g * 255) << 8) | (uint32_t)lround(b * 255);
}

static void panel_heatmap(canvas *c, const plot_data *d, double X, double Y, double W, double H) {
    const int64_t n = d->hm_n;
    double side = fmin(W - 260, H - 150);
    double x0 = X + 110, y0 = Y + 60, cell = side / (double)n;
    double mx = 0;
    for (int64_t i = 0; i < n * n; i++) mx = fmax(mx, fabs(d->scores[i]));
    for (int64_t m = 0; m < n; m++)
        for (int64_t j = 0; j < n; j++)
            cv_rect(c, x0 + j * cell, y0 + m * cell, cell + 0.02, cell + 0.02,
                    diverging(mx > 0 ? d->scores[m * n + j] / mx : 0));
    /* axes: positions, m downwards (query rows), n rightwards (key columns) */
    axes a = {x0, y0, side, side, (double)d->hm_offset, (double)(d->hm_offset + n), (double)(d->hm_offset + n),
              (double)d->hm_offset, 0, 0};
    /* draw_axes expects ymin at the bottom: the rows grow downwards, so ymin > ymax here */
    axes b = a;
    b.ymin = (double)(d->hm_offset + n);
    b.ymax = (double)d->hm_offset;
    char title[160];
    snprintf(title, sizeof title, "<R(m)q, R(n)k> for random q, k: depends on m-n only");
    /* ticks by hand (decreasing y axis) */
    double st = nice_step((double)n, 6);
    char buf[32];
    cv_line(c, x0, y0, x0 + side, y0, INK, 2, 0);
    cv_line(c, x0, y0 + side, x0 + side, y0 + side, INK, 2, 0);
    cv_line(c, x0, y0, x0, y0 + side, INK, 2, 0);
    cv_line(c, x0 + side, y0, x0 + side, y0 + side, INK, 2, 0);
    for (double v = 0; v <= (double)n + 1e-9; v += st) {
        double p = x0 + v * cell, q = y0 + v * cell;
        snprintf(buf, sizeof buf, "%lld", (long long)v); /* relative to the offset (axis label) */
        cv_line(c, p, y0 + side, p, y0 + side + 6, INK, 2, 0);
        cv_text(c, p, y0 + side + 18, buf, 2, ANCHOR_CENTER, 0, INK);
        cv_line(c, x0 - 6, q, x0, q, INK, 2, 0);
        cv_text(c, x0 - 10, q, buf, 2, ANCHOR_RIGHT, 0, INK);
    }
    cv_text(c, X + W / 2, y0 - 22, title, 2, ANCHOR_CENTER, 0, INK);
    char lab[96];
    if (d->hm_offset) snprintf(lab, sizeof lab, "key position n - %lld", (long long)d->hm_offset);
    else snprintf(lab, sizeof lab, "key position n");
    cv_text(c, x0 + side / 2, y0 + side + 42, lab, 2, ANCHOR_CENTER, 0, INK);
    if (d->hm_offset) snprintf(lab, sizeof lab, "query position m - %lld", (long long)d->hm_offset);
    else snprintf(lab, sizeof lab, "query position m");
    cv_text(c, x0 - 70, y0 + side / 2, lab, 2, ANCHOR_CENTER, 1, INK);
    /* colour bar */
    double cbx = x0 + side + 30, cbw = 24;
    for (int i = 0; i < 200; i++) {
        double t = 1 - 2.0 * i / 199.0;
        cv_rect(c, cbx, y0 + side * i / 200.0, cbw, side / 200.0 + 0.6, diverging(t));
    }
    cv_line(c, cbx, y0, cbx, y0 + side, INK, 1, 0);
    cv_line(c, cbx + cbw, y0, cbx + cbw, y0 + side, INK, 1, 0);
    snprintf(buf, sizeof buf, "%+.3g", mx);
    cv_text(c, cbx + cbw + 6, y0 + 6, buf, 2, ANCHOR_LEFT, 0, INK);
    cv_text(c, cbx + cbw + 6, y0 + side / 2, "0", 2, ANCHOR_LEFT, 0, INK);
    snprintf(buf, sizeof buf, "%+.3g", -mx);
    cv_text(c, cbx + cbw + 6, y0 + side - 6, buf, 2, ANCHOR_LEFT, 0, INK);
    (void)b;
}

static void panel_info(canvas *c, const plot_data *d, const char *path, double X, double Y) {
    char line[200];
    double y = Y + 60;
    const rope_config *r = &d->hf.rope;
    cv_text(c, X + 20, y, "Config", 3, ANCHOR_LEFT, 0, INK), y += 40;
#define INFO(...)                                                                                                      \
    do {                                                                                                               \
        snprintf(line, sizeof line, __VA_ARGS__);                                                                      \
        cv_text(c, X + 20, y, line, 2, ANCHOR_LEFT, 0, INK);                                                           \
        y += 26;                                                                                                       \
    } while (0)
    const char *base = strrchr(path, '/');
    INFO("file          %s", base ? base + 1 : path);
    if (d->hf.model_type[0]) INFO("model_type    %s", d->hf.model_type);
    INFO("rope_type     %s", rope_scaling_name(d->f.type));
    INFO("rope_theta    %g", r->rope_theta);
    INFO("head_dim      %lld, rotary_dim %lld", (long long)d->f.head_dim, (long long)d->f.rotary_dim);
    if (r->factor > 0) INFO("factor        %g", r->factor);
    if (d->context > 0) INFO("context       %lld (original)", (long long)d->context);
    INFO("attn factor   %.6g (multiplies cos, sin)", d->f.attention_factor);
    if (d->f.softmax_scale_factor != 1.0) INFO("softmax scale x%.6g", d->f.softmax_scale_factor);
    int cnt[3] = {0, 0, 0};
    for (int64_t i = 0; i < d->f.n_freqs; i++) cnt[d->f.band[i] % 3]++;
    INFO("bands         %d unscaled, %d blend, %d scaled", cnt[0], cnt[1], cnt[2]);
    INFO("B(0)=%.4g  B(100)=%.4g  B(1000)=%.4g", decay_bound(d->f.inv_freq, d->f.n_freqs, 0),
         decay_bound(d->f.inv_freq, d->f.n_freqs, 100), decay_bound(d->f.inv_freq, d->f.n_freqs, 1000));
    INFO("heatmap: max |s(m,n)-s(m+1,n+1)|");
    INFO("         = %.2g of max |s|", d->diag_dev);
#undef INFO
}

/* ------------------------------------------------------------- main */

enum { KIND_WAVELENGTH = 1, KIND_DECAY = 2, KIND_HEATMAP = 4, KIND_ALL = 7 };

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope plot CONFIG.json [--out FILE.png|FILE.svg] [--kind wavelength|decay|heatmap|all]\n"
            "                 [--json] [--seq-len N] [--max-distance R] [--size N] [--offset P]\n"
            "\n"
            "Draw a model's RoPE (a Hugging Face config.json):\n"
            "  wavelength  2pi/theta_i per frequency, scaled next to unscaled, log axis; YaRN/Llama 3\n"
            "              blend and scaled bands shaded; the original context length marked\n"
            "  decay       RoFormer's long-term decay bound B(r) over relative distance r (log axis)\n"
            "  heatmap     <R(m)q, R(n)k> over positions m, n for random q, k (diagonal stripes:\n"
            "              the score depends only on m - n)\n"
            "  all         the three panels and a config summary in one image (default)\n"
            "\n"
            "  --out FILE        .png (raster) or .svg (vector); default rope_plot.png unless --json\n"
            "  --json            print the plotted data as JSON on stdout\n"
            "  --seq-len N       sequence length for dynamic / longrope frequencies (default: initial)\n"
            "  --max-distance R  largest r of the decay plot (default: max(4096, 2 x context))\n"
            "  --size N          heatmap positions (default 64, at most 512)\n"
            "  --offset P        heatmap start position (default 0)\n");
}

static int parse_i64_opt(const char *name, const char *v, int64_t lo, int64_t hi, int64_t *out) {
    if (cli_parse_i64(v, out) != 0 || *out < lo || *out > hi) {
        fprintf(stderr, "rope plot: %s must be an integer in [%lld, %lld] (got '%s')\n", name, (long long)lo,
                (long long)hi, v);
        return -1;
    }
    return 0;
}

static void json_array(const double *v, int64_t n) {
    putchar('[');
    for (int64_t i = 0; i < n; i++) {
        if (i) putchar(',');
        cli_json_num(stdout, v[i]);
    }
    putchar(']');
}

static void print_json(const plot_data *d, int kind) {
    const int64_t n = d->f.n_freqs;
    printf("{\"rope_type\": ");
    cli_json_str(stdout, rope_scaling_name(d->f.type));
    printf(", \"rope_theta\": ");
    cli_json_num(stdout, d->hf.rope.rope_theta);
    printf(", \"head_dim\": %lld, \"rotary_dim\": %lld, \"context\": %lld, \"attention_factor\": ",
           (long long)d->f.head_dim, (long long)d->f.rotary_dim, (long long)d->context);
    cli_json_num(stdout, d->f.attention_factor);
    if (kind & KIND_WAVELENGTH) {
        double *w = malloc(sizeof(double) * (size_t)n), *w0 = malloc(sizeof(double) * (size_t)n);
        if (w && w0) {
            for (int64_t i = 0; i < n; i++) w[i] = TWO_PI / d->f.inv_freq[i], w0[i] = TWO_PI / d->f0.inv_freq[i];
            printf(",\n \"wavelength\": {\"scaled\": ");
            json_array(w, n);
            printf(",\n  \"unscaled\": ");
            json_array(w0, n);
            printf(",\n  \"band\": [");
            for (int64_t i = 0; i < n; i++)
                printf("%s\"%s\"", i ? "," : "",
                       d->f.band[i] == ROPE_BAND_BLEND ? "blend" : d->f.band[i] == ROPE_BAND_SCALED ? "scaled" : "unscaled");
            printf("]}");
        }
        free(w), free(w0);
    }
    if (kind & KIND_DECAY) {
        printf(",\n \"decay\": {\"d\": %lld, \"at\": {", (long long)(2 * n));
        static const int at[] = {0, 1, 10, 100, 1000, 10000};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            printf("%s\"%d\": ", i ? ", " : "", at[i]);
            cli_json_num(stdout, decay_bound(d->f.inv_freq, n, at[i]));
        }
        printf("},\n  \"r\": ");
        json_array(d->r, d->nr);
        printf(",\n  \"B\": ");
        json_array(d->B, d->nr);
        printf(",\n  \"B_unscaled\": ");
        json_array(d->B0, d->nr);
        printf("}");
    }
    if (kind & KIND_HEATMAP) {
        printf(",\n \"heatmap\": {\"offset\": %lld, \"size\": %lld, \"max_diagonal_deviation\": ", (long long)d->hm_offset,
               (long long)d->hm_n);
        cli_json_num(stdout, d->diag_dev);
        printf(",\n  \"scores\": [");
        for (int64_t m = 0; m < d->hm_n; m++) {
            printf("%s\n   ", m ? "," : "");
            json_array(d->scores + m * d->hm_n, d->hm_n);
        }
        printf("]}");
    }
    printf("}\n");
}

static int render(const plot_data *d, int kind, const char *out, const char *cfg_path) {
    canvas c = {0};
    int svg = cli_ends_with(out, ".svg") || cli_ends_with(out, ".SVG");
    if (!svg && !cli_ends_with(out, ".png") && !cli_ends_with(out, ".PNG")) {
        fprintf(stderr, "rope plot: --out must end in .png or .svg (got '%s')\n", out);
        return 2;
    }
    c.svg = svg;
    c.w = kind == KIND_ALL ? 1600 : 900;
    c.h = kind == KIND_ALL ? 1300 : (kind == KIND_HEATMAP ? 760 : 620);
    if (svg) {
        c.f = fopen(out, "w");
        if (!c.f) {
            fprintf(stderr, "rope plot: --out: cannot write '%s'\n", out);
            return 2; /* an output path that cannot be written is a bad option value */
        }
        fprintf(c.f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
                c.w, c.h, c.w, c.h);
    } else {
        c.px = malloc((size_t)c.w * (size_t)c.h * 3);
        if (!c.px) {
            fprintf(stderr, "rope plot: out of memory\n");
            return 1;
        }
    }
    cv_rect(&c, 0, 0, c.w, c.h, WHITE);
    if (kind == KIND_ALL) {
        panel_wavelength(&c, d, 0, 10, 800, 640);
        panel_decay(&c, d, 800, 10, 800, 640);
        panel_heatmap(&c, d, 0, 660, 900, 640);
        panel_info(&c, d, cfg_path, 930, 660);
    } else if (kind == KIND_WAVELENGTH) {
        panel_wavelength(&c, d, 0, 0, 900, 620);
    } else if (kind == KIND_DECAY) {
        panel_decay(&c, d, 0, 0, 900, 620);
    } else {
        panel_heatmap(&c, d, 0, 0, 900, 760);
    }
    int rc = 0;
    if (svg) {
        fprintf(c.f, "</svg>\n");
        if (fclose(c.f) != 0) rc = 2;
    } else {
        if (png_write_rgb(out, c.px, c.w, c.h) != 0) rc = 2;
        free(c.px);
    }
    if (rc) fprintf(stderr, "rope plot: --out: cannot write '%s'\n", out);
    else fprintf(stderr, "rope plot: wrote %s (%dx%d)\n", out, c.w, c.h);
    return rc;
}

int cmd_plot(int argc, char **argv) {
    const char *cfg_path = NULL, *out = NULL, *kind_s = "all", *v;
    int json = 0;
    int64_t seq_len = 0, max_dist = 0, size = 64, offset = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            if (m < 0) goto missing;
            out = v;
        } else if ((m = cli_opt(argc, argv, &i, "--kind", &v)) != 0) {
            if (m < 0) goto missing;
            kind_s = v;
        } else if ((m = cli_opt(argc, argv, &i, "--seq-len", &v)) != 0) {
            if (m < 0 || parse_i64_opt("--seq-len", v, 0, (int64_t)1 << 53, &seq_len)) return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--max-distance", &v)) != 0) {
            if (m < 0 || parse_i64_opt("--max-distance", v, 10, 1000000000, &max_dist)) return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--size", &v)) != 0) {
            if (m < 0 || parse_i64_opt("--size", v, 2, 512, &size)) return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--offset", &v)) != 0) {
            if (m < 0 || parse_i64_opt("--offset", v, 0, (int64_t)1 << 40, &offset)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "rope plot: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!cfg_path) {
            cfg_path = argv[i];
        } else {
            fprintf(stderr, "rope plot: one CONFIG.json expected, got also '%s'\n", argv[i]);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "rope plot: %s needs a value\n", argv[i]);
        return 2;
    }
    if (!cfg_path) {
        fprintf(stderr, "rope plot: missing CONFIG.json\n");
        usage(stderr);
        return 2;
    }
    int kind = !strcmp(kind_s, "wavelength") ? KIND_WAVELENGTH
               : !strcmp(kind_s, "decay")    ? KIND_DECAY
               : !strcmp(kind_s, "heatmap")  ? KIND_HEATMAP
               : !strcmp(kind_s, "all")      ? KIND_ALL
                                             : 0;
    if (!kind) {
        fprintf(stderr, "rope plot: --kind must be wavelength, decay, heatmap or all (got '%s')\n", kind_s);
        return 2;
    }
    if (!out && !json) out = "rope_plot.png";

    static plot_data d;
    memset(&d, 0, sizeof d);
    char err[256];
    if (hf_config_load(cfg_path, &d.hf, err, sizeof err) != 0) {
        fprintf(stderr, "rope plot: %s: %s\n", cfg_path, err);
        hf_config_free(&d.hf);
        return 2;
    }
    rope_status st = rope_freqs_compute(&d.hf.rope, seq_len, &d.f);
    rope_config c0 = d.hf.rope;
    c0.type = ROPE_SCALING_DEFAULT;
    if (st == ROPE_OK) st = rope_freqs_compute(&c0, 0, &d.f0);
    if (st != ROPE_OK) {
        fprintf(stderr, "rope plot: %s: frequencies: %s\n", cfg_path, rope_strerror(st));
        hf_config_free(&d.hf);
        return 2;
    }
    d.context = d.hf.original_max_position_embeddings > 0 ? d.hf.original_max_position_embeddings
                                                          : d.hf.max_position_embeddings;
    int rc = 0;
    /* decay samples: r = 0 and ~400 log-spaced integers up to max_dist */
    if (!max_dist) max_dist = d.context * 2 > 4096 ? d.context * 2 : 4096;
    enum { NR = 400 };
    d.r = malloc(sizeof(double) * (NR + 1));
    d.B = malloc(sizeof(double) * (NR + 1));
    d.B0 = malloc(sizeof(double) * (NR + 1));
    if (!d.r || !d.B || !d.B0) {
        fprintf(stderr, "rope plot: out of memory\n");
        rc = 1;
        goto done;
    }
    d.r[0] = 0;
    d.nr = 1;
    for (int i = 0; i < NR; i++) {
        double r = floor(pow((double)max_dist, (double)i / (NR - 1)) + 0.5);
        if (r > d.r[d.nr - 1]) d.r[d.nr++] = r;
    }
    for (int i = 0; i < d.nr; i++) {
        d.B[i] = decay_bound(d.f.inv_freq, d.f.n_freqs, d.r[i]);
        d.B0[i] = decay_bound(d.f0.inv_freq, d.f0.n_freqs, d.r[i]);
    }
    d.hm_n = size;
    d.hm_offset = offset;
    if (heatmap_scores(&d) != 0) {
        rc = 1;
        goto done;
    }
    if (json) print_json(&d, kind);
    if (out) rc = render(&d, kind, out, cfg_path);
done:
    free(d.r), free(d.B), free(d.B0), free(d.scores);
    hf_config_free(&d.hf);
    return rc;
}
