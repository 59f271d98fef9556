/* SVG line charts for `rope lab` (see lab_plot.h). Plain SVG 1.1 text. */
#include "lab_plot.h"

#include <math.h>
#include <stdio.h>

#define W 880.0
#define H 560.0
#define X0 90.0   /* plot area */
#define Y0 60.0
#define PW 600.0
#define PH 420.0

static const char *const colours[] = {"#222222", "#1f77b4", "#ff7f0e", "#2ca02c",
                                      "#d62728", "#9467bd", "#8c564b", "#e377c2"};

typedef struct axes {
    double xlo, xhi, ylo, yhi;
    int log_y;
} axes;

static double px(const axes *a, double x) {
    return X0 + PW * (log2(x) - a->xlo) / (a->xhi - a->xlo);
}

static double py(const axes *a, double y) {
    double v = a->log_y ? log10(y) : y;
    return Y0 + PH * (1.0 - (v - a->ylo) / (a->yhi - a->ylo));
}

static int usable(const axes *a, double y) { return isfinite(y) && (!a->log_y || y > 0); }

static void text(FILE *f, double x, double y, const char *anchor, int size, const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"%d\" "
               "text-anchor=\"%s\">", x, y, size, anchor);
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
    fputs("</text>\n", f);
}

/* Data range: x in log2 units (marker included), y in the axis' units. */
static void ranges(axes *a, const lab_plot_spec *sp, const lab_plot_series *s, int ns) {
    a->log_y = sp->log_y;
    a->xlo = INFINITY, a->xhi = -INFINITY, a->ylo = INFINITY, a->yhi = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < s[i].n; k++) {
            if (s[i].x[k] > 0) {
                a->xlo = fmin(a->xlo, log2(s[i].x[k]));
                a->xhi = fmax(a->xhi, log2(s[i].x[k]));
            }
            if (usable(a, s[i].y[k])) {
                double v = a->log_y ? log10(s[i].y[k]) : s[i].y[k];
                a->ylo = fmin(a->ylo, v);
                a->yhi = fmax(a->yhi, v);
            }
        }
    if (sp->marker_x > 0) {
        a->xlo = fmin(a->xlo, log2(sp->marker_x));
        a->xhi = fmax(a->xhi, log2(sp->marker_x));
    }
    if (!isnan(sp->y_min)) a->ylo = a->log_y ? log10(sp->y_min) : sp->y_min;
    if (!isnan(sp->y_max)) a->yhi = a->log_y ? log10(sp->y_max) : sp->y_max;
    if (!(a->xhi > a->xlo)) a->xlo = isfinite(a->xlo) ? a->xlo - 1 : 0, a->xhi = a->xlo + 2;
    if (!(a->yhi > a->ylo)) a->ylo = isfinite(a->ylo) ? a->ylo - 1 : 0, a->yhi = a->ylo + 2;
    double pad = 0.05 * (a->yhi - a->ylo);
    if (isnan(sp->y_min)) a->ylo -= pad;
    if (isnan(sp->y_max)) a->yhi += pad;
    a->xlo -= 0.25, a->xhi += 0.25;
}

static void grid(FILE *f, const axes *a) {
    char lab[32];
    for (double e = ceil(a->xlo); e <= a->xhi; e += 1.0) {
        double x = X0 + PW * (e - a->xlo) / (a->xhi - a->xlo), v = exp2(e);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", x,
                Y0, x, Y0 + PH);
        if (v >= 1024) snprintf(lab, sizeof lab, "%gk", v / 1024);
        else snprintf(lab, sizeof lab, "%g", v);
        text(f, x, Y0 + PH + 20, "middle", 13, lab);
    }
    double step = a->log_y ? 1.0 : pow(10, floor(log10((a->yhi - a->ylo) / 2)));
    if (a->log_y && a->yhi - a->ylo < 1.5) step = log10(2.0);
    for (double v = ceil(a->ylo / step) * step; v <= a->yhi + 1e-9; v += step) {
        double y = Y0 + PH * (1.0 - (v - a->ylo) / (a->yhi - a->ylo));
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", X0,
                y, X0 + PW, y);
        snprintf(lab, sizeof lab, "%.3g", a->log_y ? pow(10, v) : v);
        text(f, X0 - 8, y + 4, "end", 13, lab);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#000000\"/>\n", X0, Y0, PW, PH);
}

int lab_plot_svg(const char *path, const lab_plot_spec *sp, const lab_plot_series *s, int ns) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    axes a;
    ranges(&a, sp, s, ns);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n", W, H, W, H);
    text(f, W / 2, 30, "middle", 16, sp->title);
    grid(f, &a);
    text(f, X0 + PW / 2, Y0 + PH + 45, "middle", 14, "context length (tokens, log scale)");
    fprintf(f, "<text x=\"20\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"14\" "
               "text-anchor=\"middle\" transform=\"rotate(-90 20 %.1f)\">%s</text>\n",
            Y0 + PH / 2, Y0 + PH / 2, sp->ylabel);
    if (sp->marker_x > 0) {
        double x = px(&a, sp->marker_x);
        fprintf(f, "<line class=\"marker\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#888888\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n",
                x, Y0, x, Y0 + PH);
        text(f, x + 4, Y0 + 14, "start", 12, sp->marker_label);
    }
    for (int i = 0; i < ns; i++) {
        const char *col = colours[i % 8];
        fprintf(f, "<polyline class=\"series\" data-name=\"%s\" fill=\"none\" stroke=\"%s\" "
                   "stroke-width=\"2.5\" points=\"", s[i].name, col);
        for (int k = 0; k < s[i].n; k++)
            if (usable(&a, s[i].y[k]))
                fprintf(f, "%.1f,%.1f ", px(&a, s[i].x[k]),
                        fmax(Y0, fmin(Y0 + PH, py(&a, s[i].y[k]))));
        fputs("\"/>\n", f);
        for (int k = 0; k < s[i].n; k++)
            if (usable(&a, s[i].y[k]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
                        px(&a, s[i].x[k]), fmax(Y0, fmin(Y0 + PH, py(&a, s[i].y[k]))), col);
        double ly = Y0 + 20 + 24 * i;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"3\"/>\n", X0 + PW + 20, ly, X0 + PW + 50, ly, col);
        text(f, X0 + PW + 58, ly + 5, "start", 14, s[i].name);
    }
    fputs("</svg>\n", f);
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}
