/*
 * The plotting helper of plot.h on cairo: image surface + cairo's PNG writer, SVG
 * surface, PDF surface; the same drawing calls for all three.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strcasecmp */
#include "plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PLOT_FONT "DejaVu Sans"
#define PLOT_PI 3.14159265358979323846

struct plot {
    int format;
    char *path;
    cairo_surface_t *surface;
    cairo_t *cr;
};

const uint32_t plot_palette[6] = {PLOT_BLUE, PLOT_RED, PLOT_GREEN, PLOT_ORANGE, PLOT_PURPLE,
                                  PLOT_GREY};

static int ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int plot_format_of(const char *path) {
    if (ends_with_ci(path, ".png")) return PLOT_PNG;
    if (ends_with_ci(path, ".svg")) return PLOT_SVG;
    if (ends_with_ci(path, ".pdf")) return PLOT_PDF;
    return 0;
}

static cairo_surface_t *make_surface(int format, const char *path, int w, int h) {
    if (format == PLOT_PNG) return cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (format == PLOT_SVG) return cairo_svg_surface_create(path, w, h);
    return cairo_pdf_surface_create(path, w * 0.5, h * 0.5);
}

plot *plot_open(const char *path, int width, int height, char *err, size_t errlen) {
    int format = plot_format_of(path);
    if (!format) {
        snprintf(err, errlen, "'%s': the file name must end in .png, .svg or .pdf", path);
        return NULL;
    }
    if (width < 16 || height < 16 || width > 16384 || height > 16384) {
        snprintf(err, errlen, "canvas %dx%d outside 16..16384", width, height);
        return NULL;
    }
    plot *p = calloc(1, sizeof *p);
    if (p) p->path = strdup(path);
    if (!p || !p->path) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->format = format;
    p->surface = make_surface(format, path, width, height);
    if (cairo_surface_status(p->surface) != CAIRO_STATUS_SUCCESS) {
        snprintf(err, errlen, "cannot write '%s': %s", path,
                 cairo_status_to_string(cairo_surface_status(p->surface)));
        cairo_surface_destroy(p->surface);
        free(p->path);
        free(p);
        return NULL;
    }
    p->cr = cairo_create(p->surface);
    if (format == PLOT_PDF) cairo_scale(p->cr, 0.5, 0.5);
    cairo_select_font_face(p->cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    plot_rect(p, 0, 0, width, height, PLOT_WHITE);
    return p;
}

int plot_close(plot *p, char *err, size_t errlen) {
    if (!p) return -1;
    cairo_status_t st = cairo_status(p->cr);
    cairo_destroy(p->cr);
    cairo_surface_flush(p->surface);
    if (st == CAIRO_STATUS_SUCCESS && p->format == PLOT_PNG)
        st = cairo_surface_write_to_png(p->surface, p->path);
    cairo_surface_finish(p->surface); /* SVG, PDF: written here */
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(p->surface);
    cairo_surface_destroy(p->surface);
    if (st != CAIRO_STATUS_SUCCESS)
        snprintf(err, errlen, "cannot write '%s': %s", p->path, cairo_status_to_string(st));
    free(p->path);
    free(p);
    /* give back cairo's and fontconfig's caches (they are rebuilt by the next plot_open):
     * a tool that plots leaves nothing behind for the leak checker */
    cairo_debug_reset_static_data();
    FcFini();
    return st == CAIRO_STATUS_SUCCESS ? 0 : -1;
}

/* ------------------------------------------------------------ primitives */

static void set_rgb(plot *p, uint32_t c) {
    cairo_set_source_rgb(p->cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0,
                         (c & 255) / 255.0);
}

void plot_rect(plot *p, double x, double y, double w, double h, uint32_t rgb) {
    set_rgb(p, rgb);
    cairo_rectangle(p->cr, x, y, w, h);
    cairo_fill(p->cr);
}

void plot_rect_outline(plot *p, double x, double y, double w, double h, uint32_t rgb, double width) {
    set_rgb(p, rgb);
    cairo_set_line_width(p->cr, width);
    cairo_rectangle(p->cr, x, y, w, h);
    cairo_stroke(p->cr);
}

void plot_polyline(plot *p, const double *xs, const double *ys, int n, uint32_t rgb, double width,
                   int dashed) {
    if (n < 2) return;
    static const double dash[2] = {7, 4};
    set_rgb(p, rgb);
    cairo_set_line_width(p->cr, width);
    cairo_set_line_join(p->cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(p->cr, dashed ? CAIRO_LINE_CAP_BUTT : CAIRO_LINE_CAP_ROUND);
    cairo_set_dash(p->cr, dash, dashed ? 2 : 0, 0);
    cairo_move_to(p->cr, xs[0], ys[0]);
    for (int i = 1; i < n; i++) cairo_line_to(p->cr, xs[i], ys[i]);
    cairo_stroke(p->cr);
    cairo_set_dash(p->cr, dash, 0, 0);
}

void plot_line(plot *p, double x0, double y0, double x1, double y1, uint32_t rgb, double width,
               int dashed) {
    double xs[2] = {x0, x1}, ys[2] = {y0, y1};
    plot_polyline(p, xs, ys, 2, rgb, width, dashed);
}

void plot_dot(plot *p, double x, double y, double radius, uint32_t rgb) {
    set_rgb(p, rgb);
    cairo_new_sub_path(p->cr);
    cairo_arc(p->cr, x, y, radius, 0, 2 * PLOT_PI);
    cairo_fill(p->cr);
}

/* The cairo image of pw × ph pixels replicated to at least the box's size, so that no
 * viewer smooths the cells (SVG and PDF viewers interpolate a scaled image). */
static cairo_surface_t *image_of(const uint32_t *px, int pw, int ph, int tw, int th) {
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, tw, th);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) return img;
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int r = 0; r < th; r++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)r * (size_t)stride);
        const uint32_t *src = px + (size_t)((int64_t)r * ph / th) * (size_t)pw;
        for (int c = 0; c < tw; c++) row[c] = src[(int64_t)c * pw / tw]; /* RGB24: 0x00RRGGBB */
    }
    cairo_surface_mark_dirty(img);
    return img;
}

void plot_image(plot *p, double x, double y, double w, double h, const uint32_t *px, int pw,
                int ph) {
    if (pw <= 0 || ph <= 0 || !(w > 0) || !(h > 0)) return;
    int tw = (int)ceil(w) > pw ? (int)ceil(w) : pw, th = (int)ceil(h) > ph ? (int)ceil(h) : ph;
    if (tw > 8192 || th > 8192) tw = pw, th = ph;
    cairo_surface_t *img = image_of(px, pw, ph, tw, th);
    if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
        cairo_save(p->cr);
        cairo_translate(p->cr, x, y);
        cairo_scale(p->cr, w / tw, h / th);
        cairo_set_source_surface(p->cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(p->cr), CAIRO_FILTER_NEAREST);
        cairo_rectangle(p->cr, 0, 0, tw, th);
        cairo_fill(p->cr);
        cairo_restore(p->cr);
    }
    cairo_surface_destroy(img);
}

static void set_font(plot *p, double size, int flags) {
    cairo_select_font_face(p->cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                           flags & PLOT_BOLD ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(p->cr, size);
}

double plot_text_width(plot *p, const char *utf8, double size, int flags) {
    cairo_text_extents_t te;
    set_font(p, size, flags);
    cairo_text_extents(p->cr, utf8, &te);
    return te.x_advance;
}

void plot_text(plot *p, double x, double y, const char *utf8, double size, int flags, uint32_t rgb) {
    cairo_font_extents_t fe;
    double w = plot_text_width(p, utf8, size, flags); /* also selects the font */
    cairo_font_extents(p->cr, &fe);
    int anchor = flags & 3;
    double u = anchor == PLOT_LEFT ? 0 : anchor == PLOT_CENTER ? -w / 2 : -w;
    double v = (fe.ascent - fe.descent) / 2; /* baseline below the centre line */
    cairo_save(p->cr);
    cairo_translate(p->cr, x, y);
    if (flags & PLOT_VERTICAL) cairo_rotate(p->cr, -PLOT_PI / 2);
    set_rgb(p, rgb);
    cairo_move_to(p->cr, u, v);
    cairo_show_text(p->cr, utf8);
    cairo_restore(p->cr);
}

/* ------------------------------------------------------------------ axes */

double plot_x(const plot_axes *a, double v) {
    double t = a->xlog ? (log10(v) - log10(a->xmin)) / (log10(a->xmax) - log10(a->xmin))
                       : (v - a->xmin) / (a->xmax - a->xmin);
    return a->x0 + t * a->w;
}

double plot_y(const plot_axes *a, double v) {
    double t = a->ylog ? (log10(v) - log10(a->ymin)) / (log10(a->ymax) - log10(a->ymin))
                       : (v - a->ymin) / (a->ymax - a->ymin);
    return a->y0 + a->h - t * a->h;
}

double plot_nice_step(double range, int target) {
    double raw = range / target, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* Tick values of one axis: decades on a log axis, nice steps on a linear one. */
static int ticks(double lo, double hi, int logscale, int target, double *t, int max) {
    int n = 0;
    if (logscale) {
        for (int e = (int)ceil(log10(lo) - 1e-9); e <= (int)floor(log10(hi) + 1e-9) && n < max; e++)
            t[n++] = pow(10, e);
        return n;
    }
    double st = plot_nice_step(hi - lo, target);
    for (double v = ceil(lo / st - 1e-9) * st; v <= hi + st * 1e-9 && n < max; v += st)
        t[n++] = fabs(v) < st * 1e-9 ? 0 : v;
    return n;
}

/* "1", "10", "100", "1000", then 10⁴, 10⁻³ ... with superscript digits. */
static void tick_label(char *buf, size_t n, double v, int logscale) {
    if (!logscale) {
        snprintf(buf, n, "%g", v);
        return;
    }
    int e = (int)lround(log10(v));
    if (e >= 0 && e <= 3) {
        snprintf(buf, n, "%g", pow(10, e));
        return;
    }
    static const char *sup[10] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
    char digits[16];
    snprintf(digits, sizeof digits, "%d", abs(e));
    size_t k = (size_t)snprintf(buf, n, "10%s", e < 0 ? "⁻" : "");
    for (const char *d = digits; *d && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s", sup[*d - '0']);
}

void plot_grid(plot *p, const plot_axes *a) {
    double t[64];
    plot_rect(p, a->x0, a->y0, a->w, a->h, PLOT_WHITE);
    int nx = ticks(a->xmin, a->xmax, a->xlog, 6, t, 64);
    for (int i = 0; i < nx; i++) {
        double x = plot_x(a, t[i]);
        plot_line(p, x, a->y0, x, a->y0 + a->h, PLOT_GRID, 1, 0);
    }
    int ny = ticks(a->ymin, a->ymax, a->ylog, 5, t, 64);
    for (int i = 0; i < ny; i++) {
        double y = plot_y(a, t[i]);
        plot_line(p, a->x0, y, a->x0 + a->w, y, PLOT_GRID, 1, 0);
    }
}

/* Minor ticks at 2..9 × 10^e on a log axis. */
static void minor_ticks(plot *p, const plot_axes *a, int yaxis) {
    double lo = yaxis ? a->ymin : a->xmin, hi = yaxis ? a->ymax : a->xmax;
    for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)); e++)
        for (int m = 2; m <= 9; m++) {
            double v = m * pow(10, e);
            if (v < lo || v > hi) continue;
            if (yaxis) plot_line(p, a->x0 - 3, plot_y(a, v), a->x0, plot_y(a, v), PLOT_INK, 1, 0);
            else plot_line(p, plot_x(a, v), a->y0 + a->h, plot_x(a, v), a->y0 + a->h + 3, PLOT_INK, 1, 0);
        }
}

void plot_frame(plot *p, const plot_axes *a, const char *title, const char *xlabel,
                const char *ylabel) {
    double t[64], widest = 0;
    char buf[48];
    plot_rect_outline(p, a->x0, a->y0, a->w, a->h, PLOT_INK, 1.5);
    int nx = ticks(a->xmin, a->xmax, a->xlog, 6, t, 64);
    for (int i = 0; i < nx; i++) {
        double x = plot_x(a, t[i]);
        plot_line(p, x, a->y0 + a->h, x, a->y0 + a->h + 6, PLOT_INK, 1.5, 0);
        tick_label(buf, sizeof buf, t[i], a->xlog);
        plot_text(p, x, a->y0 + a->h + 19, buf, 14, PLOT_CENTER, PLOT_INK);
    }
    int ny = ticks(a->ymin, a->ymax, a->ylog, 5, t, 64);
    for (int i = 0; i < ny; i++) {
        double y = plot_y(a, t[i]);
        plot_line(p, a->x0 - 6, y, a->x0, y, PLOT_INK, 1.5, 0);
        tick_label(buf, sizeof buf, t[i], a->ylog);
        plot_text(p, a->x0 - 10, y, buf, 14, PLOT_RIGHT, PLOT_INK);
        widest = fmax(widest, plot_text_width(p, buf, 14, 0));
    }
    if (a->xlog) minor_ticks(p, a, 0);
    if (a->ylog) minor_ticks(p, a, 1);
    if (title && *title) plot_text(p, a->x0 + a->w / 2, a->y0 - 24, title, 18, PLOT_CENTER | PLOT_BOLD, PLOT_INK);
    if (xlabel && *xlabel) plot_text(p, a->x0 + a->w / 2, a->y0 + a->h + 46, xlabel, 15, PLOT_CENTER, PLOT_INK);
    if (ylabel && *ylabel)
        plot_text(p, a->x0 - 26 - widest, a->y0 + a->h / 2, ylabel, 15, PLOT_CENTER | PLOT_VERTICAL,
                  PLOT_INK);
}

void plot_legend(plot *p, const plot_axes *a, int corner, const plot_legend_item *items, int n) {
    if (n <= 0) return;
    double tw = 0, row = 24, size = 14;
    for (int i = 0; i < n; i++) tw = fmax(tw, plot_text_width(p, items[i].label, size, 0));
    double w = 12 + 32 + 10 + tw + 12, h = row * n + 12;
    double x = corner == PLOT_RIGHT ? a->x0 + a->w - 12 - w : a->x0 + 12, y = a->y0 + 12;
    plot_rect(p, x, y, w, h, PLOT_WHITE);
    plot_rect_outline(p, x, y, w, h, PLOT_GREY, 1);
    for (int i = 0; i < n; i++) {
        double cy = y + 6 + row * (i + 0.5), lx = x + 12;
        if (items[i].kind == PLOT_BOX) plot_rect(p, lx, cy - 7, 32, 14, items[i].rgb);
        else plot_line(p, lx, cy, lx + 32, cy, items[i].rgb, 3, items[i].kind == PLOT_DASHED);
        plot_text(p, lx + 42, cy, items[i].label, size, PLOT_LEFT, PLOT_INK);
    }
}

/* --------------------------------------------------------------- charts */

/* Data limits of the usable points; 0 if there is none. */
static int data_limits(const plot_chart *c, double *lim) {
    lim[0] = lim[2] = INFINITY, lim[1] = lim[3] = -INFINITY;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double x = c->series[s].x[i], y = c->series[s].y[i];
            if (!isfinite(x) || !isfinite(y) || (c->xlog && x <= 0) || (c->ylog && y <= 0)) continue;
            lim[0] = fmin(lim[0], x), lim[1] = fmax(lim[1], x);
            lim[2] = fmin(lim[2], y), lim[3] = fmax(lim[3], y);
        }
    return lim[0] <= lim[1];
}

/* Widen [*lo, *hi] to whole decades (log) or nice steps (linear), never empty. */
static void fit_range(double *lo, double *hi, int logscale, int tight) {
    if (logscale) {
        *lo = pow(10, floor(log10(*lo) + 1e-9));
        *hi = pow(10, ceil(log10(*hi) - 1e-9));
        if (*hi <= *lo) *hi = *lo * 10;
        return;
    }
    if (*hi <= *lo) *lo -= 1, *hi += 1;
    if (tight) return;
    double st = plot_nice_step(*hi - *lo, 5);
    *lo = floor(*lo / st) * st, *hi = ceil(*hi / st) * st;
}

/* One series as a polyline of its usable points (and dots). */
static void draw_series(plot *p, const plot_axes *a, const plot_series *s) {
    double *xs = malloc(sizeof(double) * (size_t)(s->n > 0 ? s->n : 1));
    double *ys = malloc(sizeof(double) * (size_t)(s->n > 0 ? s->n : 1));
    int m = 0;
    for (int i = 0; xs && ys && i < s->n; i++) {
        double x = s->x[i], y = s->y[i];
        if (!isfinite(x) || !isfinite(y) || (a->xlog && x <= 0) || (a->ylog && y <= 0)) continue;
        xs[m] = plot_x(a, x), ys[m++] = plot_y(a, y);
    }
    cairo_save(p->cr);
    cairo_rectangle(p->cr, a->x0, a->y0, a->w, a->h);
    cairo_clip(p->cr);
    plot_polyline(p, xs, ys, m, s->rgb, 2.5, s->kind == PLOT_DASHED);
    for (int i = 0; s->markers && i < m; i++) plot_dot(p, xs[i], ys[i], 3, s->rgb);
    cairo_restore(p->cr);
    free(xs), free(ys);
}

int plot_line_chart(plot *p, const plot_chart *c, double X, double Y, double W, double H,
                    plot_axes *out) {
    double lim[4];
    if (!data_limits(c, lim)) return -1;
    plot_axes a = {X + 100, Y + 56, W - 130, H - 136, lim[0], lim[1], lim[2], lim[3], c->xlog, c->ylog};
    fit_range(&a.xmin, &a.xmax, a.xlog, 1);
    fit_range(&a.ymin, &a.ymax, a.ylog, 0);
    plot_grid(p, &a);
    for (int s = 0; s < c->n_series; s++) draw_series(p, &a, &c->series[s]);
    plot_frame(p, &a, c->title, c->xlabel, c->ylabel);
    if (c->legend >= 0) {
        plot_legend_item it[16];
        int n = 0;
        for (int s = 0; s < c->n_series && n < 16; s++)
            if (c->series[s].label && *c->series[s].label)
                it[n++] = (plot_legend_item){c->series[s].rgb, c->series[s].kind, c->series[s].label};
        plot_legend(p, &a, c->legend, it, n);
    }
    if (out) *out = a;
    return 0;
}

int plot_line_chart_file(const char *path, const plot_chart *c, int width, int height, char *err,
                         size_t errlen) {
    plot *p = plot_open(path, width, height, err, errlen);
    if (!p) return -1;
    if (plot_line_chart(p, c, 0, 0, width, height, NULL) != 0) {
        snprintf(err, errlen, "nothing to plot: no finite point in any series");
        char ignore[8];
        plot_close(p, ignore, sizeof ignore);
        remove(path);
        return -1;
    }
    return plot_close(p, err, errlen);
}
