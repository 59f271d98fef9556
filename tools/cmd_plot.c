/*
 * rope plot CONFIG.json [--out FILE.png|.svg|.pdf] [--kind wavelength|decay|heatmap|all] [--json]
 *
 * Pictures of a model's RoPE, drawn through tools/lib/plot.h (cairo: one drawing path
 * for PNG, SVG and PDF, DejaVu Sans type); without cairo only --json works:
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
#ifdef ROPE_HAVE_CAIRO
#include "plot.h"
#endif
#include "rope.h"

#define TWO_PI 6.28318530717958647692

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

/* ------------------------------------------------------------- main */

enum { KIND_WAVELENGTH = 1, KIND_DECAY = 2, KIND_HEATMAP = 4, KIND_ALL = 7 };

static void usage(FILE *f) {
    fprintf(f,
            "usage: rope plot CONFIG.json [--out FILE.png|.svg|.pdf] [--kind wavelength|decay|heatmap|all]\n"
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
            "  --out FILE        .png (raster), .svg or .pdf (vector); default rope_plot.png unless\n"
            "                    --json (drawing needs cairo: a rope built without it says so)\n"
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

/* ----------------------------------------------------------- panels */

#ifdef ROPE_HAVE_CAIRO

enum { BLEND_BG = 0xfff1bf, SCALED_BG = 0xfbd9d3 };

/* The plot area of a panel at (X, Y, W, H). */
static plot_axes panel_axes(double X, double Y, double W, double H) {
    plot_axes a = {X + 120, Y + 60, W - 160, H - 140, 0, 1, 0, 1, 0, 0};
    return a;
}

/* Shade each run of frequencies in one band (YaRN / Llama 3), one rectangle per run so
 * that vector viewers show no seams; sets the flags of the legend. */
static void shade_bands(plot *c, const plot_data *d, const plot_axes *a, int *has_blend, int *has_scaled) {
    *has_blend = *has_scaled = 0;
    if (d->f.type == ROPE_SCALING_DEFAULT) return;
    for (int64_t i = 0, j; i < d->f.n_freqs; i = j) {
        int b = d->f.band[i];
        for (j = i + 1; j < d->f.n_freqs && d->f.band[j] == b;) j++;
        if (b != ROPE_BAND_BLEND && b != ROPE_BAND_SCALED) continue;
        *has_blend |= b == ROPE_BAND_BLEND;
        *has_scaled |= b == ROPE_BAND_SCALED;
        double x0 = plot_x(a, (double)i - 0.5), x1 = plot_x(a, (double)j - 0.5);
        plot_rect(c, x0, a->y0, x1 - x0, a->h, b == ROPE_BAND_BLEND ? BLEND_BG : SCALED_BG);
    }
}

static void panel_wavelength(plot *c, const plot_data *d, double X, double Y, double W, double H) {
    const int64_t n = d->f.n_freqs;
    const int scaled = d->f.type != ROPE_SCALING_DEFAULT;
    plot_axes a = panel_axes(X, Y, W, H);
    a.xmin = -0.5, a.xmax = (double)n - 0.5, a.ylog = 1;
    double lo = INFINITY, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        double w1 = TWO_PI / d->f.inv_freq[i], w0 = TWO_PI / d->f0.inv_freq[i];
        lo = fmin(lo, fmin(w1, w0)), hi = fmax(hi, fmax(w1, w0));
    }
    if (d->context > 0) hi = fmax(hi, (double)d->context), lo = fmin(lo, (double)d->context);
    a.ymin = pow(10, floor(log10(lo)));
    a.ymax = pow(10, ceil(log10(hi)));
    if (a.ymax <= a.ymin * 10) a.ymax = a.ymin * 100;
    plot_grid(c, &a);
    int has_blend, has_scaled;
    shade_bands(c, d, &a, &has_blend, &has_scaled);
    double *xs = calloc((size_t)n + 1, sizeof(double)), *ys = calloc((size_t)n + 1, sizeof(double));
    if (xs && ys) {
        for (int64_t i = 0; i < n; i++) xs[i] = plot_x(&a, (double)i), ys[i] = plot_y(&a, TWO_PI / d->f0.inv_freq[i]);
        if (scaled) plot_polyline(c, xs, ys, (int)n, PLOT_GREY, 2.5, PLOT_DASHED);
        for (int64_t i = 0; i < n; i++) ys[i] = plot_y(&a, TWO_PI / d->f.inv_freq[i]);
        plot_polyline(c, xs, ys, (int)n, PLOT_BLUE, 2.5, PLOT_SOLID);
        for (int64_t i = 0; i < n; i++) plot_dot(c, xs[i], ys[i], 2.6, PLOT_BLUE);
    }
    free(xs), free(ys);
    if (d->context > 0) {
        double y = plot_y(&a, (double)d->context);
        plot_line(c, a.x0, y, a.x0 + a.w, y, PLOT_GREEN, 2, PLOT_DASHED);
    }
    char title[160], ctx[64];
    snprintf(title, sizeof title, "Wavelength 2π/θᵢ per frequency (%s)", rope_scaling_name(d->f.type));
    plot_frame(c, &a, title, "frequency index i", "wavelength (tokens)");
    snprintf(ctx, sizeof ctx, "context %lld", (long long)d->context);
    plot_legend_item it[5];
    int k = 0;
    it[k++] = (plot_legend_item){PLOT_BLUE, PLOT_SOLID, scaled ? "model, scaled" : "model (unscaled)"};
    if (scaled) it[k++] = (plot_legend_item){PLOT_GREY, PLOT_DASHED, "unscaled θᵢ = base^(−2i/d)"};
    if (d->context > 0) it[k++] = (plot_legend_item){PLOT_GREEN, PLOT_DASHED, ctx};
    if (has_blend) it[k++] = (plot_legend_item){BLEND_BG, PLOT_BOX, "blend band (ramp)"};
    if (has_scaled) it[k++] = (plot_legend_item){SCALED_BG, PLOT_BOX, "scaled band (interpolated)"};
    plot_legend(c, &a, PLOT_LEFT, it, k);
}

/* B(r) for r >= 1 (the log axis) as a polyline. */
static void decay_curve(plot *c, const plot_data *d, const plot_axes *a, const double *B, uint32_t rgb,
                        int kind) {
    double *xs = calloc((size_t)d->nr + 1, sizeof(double)), *ys = calloc((size_t)d->nr + 1, sizeof(double));
    int m = 0;
    for (int i = 0; xs && ys && i < d->nr; i++)
        if (d->r[i] >= 1) xs[m] = plot_x(a, d->r[i]), ys[m++] = plot_y(a, B[i]);
    plot_polyline(c, xs, ys, m, rgb, 2.5, kind);
    free(xs), free(ys);
}

static void panel_decay(plot *c, const plot_data *d, double X, double Y, double W, double H) {
    const int scaled = d->f.type != ROPE_SCALING_DEFAULT;
    double hi = 0;
    for (int i = 0; i < d->nr; i++) hi = fmax(hi, fmax(d->B[i], d->B0[i]));
    plot_axes a = panel_axes(X, Y, W, H);
    a.xmin = 1, a.xmax = d->r[d->nr - 1], a.xlog = 1;
    a.ymax = ceil(hi / plot_nice_step(hi, 5)) * plot_nice_step(hi, 5);
    plot_grid(c, &a);
    if (scaled) decay_curve(c, d, &a, d->B0, PLOT_GREY, PLOT_DASHED);
    decay_curve(c, d, &a, d->B, PLOT_BLUE, PLOT_SOLID);
    int ctx_shown = d->context > 0 && (double)d->context <= a.xmax;
    if (ctx_shown) {
        double x = plot_x(&a, (double)d->context);
        plot_line(c, x, a.y0, x, a.y0 + a.h, PLOT_GREEN, 2, PLOT_DASHED);
    }
    char title[160], lab[96], ctx[64];
    snprintf(title, sizeof title, "Long-term decay bound B(r), d = %lld (RoFormer §3.4.3)",
             (long long)d->f.rotary_dim);
    plot_frame(c, &a, title, "relative distance r (tokens)", "B(r)");
    snprintf(lab, sizeof lab, "B(r), model θ (B(0) = %.4g)", d->B[0]);
    snprintf(ctx, sizeof ctx, "context %lld", (long long)d->context);
    plot_legend_item it[3];
    int k = 0;
    it[k++] = (plot_legend_item){PLOT_BLUE, PLOT_SOLID, lab};
    if (scaled) it[k++] = (plot_legend_item){PLOT_GREY, PLOT_DASHED, "B(r), unscaled θ"};
    if (ctx_shown) it[k++] = (plot_legend_item){PLOT_GREEN, PLOT_DASHED, ctx};
    plot_legend(c, &a, PLOT_RIGHT, it, k);
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

/* The n × n scores as an image, one pixel per cell (stretched without smoothing), and
 * a vertical colour bar beside it. */
static void heatmap_image(plot *c, const plot_data *d, double x0, double y0, double side, double mx) {
    const int64_t n = d->hm_n;
    uint32_t *px = malloc(sizeof(uint32_t) * (size_t)(n * n)), bar[256];
    if (px) {
        for (int64_t i = 0; i < n * n; i++) px[i] = diverging(mx > 0 ? d->scores[i] / mx : 0);
        plot_image(c, x0, y0, side, side, px, (int)n, (int)n);
    }
    free(px);
    for (int i = 0; i < 256; i++) bar[i] = diverging(1 - 2.0 * i / 255.0);
    double cbx = x0 + side + 30, cbw = 24;
    plot_image(c, cbx, y0, cbw, side, bar, 1, 256);
    plot_rect_outline(c, cbx, y0, cbw, side, PLOT_INK, 1);
    char buf[32];
    snprintf(buf, sizeof buf, "%+.3g", mx);
    plot_text(c, cbx + cbw + 8, y0 + 6, buf, 14, PLOT_LEFT, PLOT_INK);
    plot_text(c, cbx + cbw + 8, y0 + side / 2, "0", 14, PLOT_LEFT, PLOT_INK);
    snprintf(buf, sizeof buf, "%+.3g", -mx);
    plot_text(c, cbx + cbw + 8, y0 + side - 6, buf, 14, PLOT_LEFT, PLOT_INK);
}

static void panel_heatmap(plot *c, const plot_data *d, double X, double Y, double W, double H) {
    const int64_t n = d->hm_n;
    double side = fmin(W - 260, H - 150);
    double x0 = X + 110, y0 = Y + 60, cell = side / (double)n, mx = 0;
    for (int64_t i = 0; i < n * n; i++) mx = fmax(mx, fabs(d->scores[i]));
    heatmap_image(c, d, x0, y0, side, mx);
    /* m downwards (query rows), n rightwards (key columns); ticks relative to the offset */
    plot_rect_outline(c, x0, y0, side, side, PLOT_INK, 1.5);
    double st = plot_nice_step((double)n, 6);
    char buf[32], lab[96];
    for (double v = 0; v <= (double)n + 1e-9; v += st) {
        double p = x0 + v * cell, q = y0 + v * cell;
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        plot_line(c, p, y0 + side, p, y0 + side + 6, PLOT_INK, 1.5, 0);
        plot_text(c, p, y0 + side + 19, buf, 14, PLOT_CENTER, PLOT_INK);
        plot_line(c, x0 - 6, q, x0, q, PLOT_INK, 1.5, 0);
        plot_text(c, x0 - 10, q, buf, 14, PLOT_RIGHT, PLOT_INK);
    }
    plot_text(c, X + W / 2, y0 - 24, "⟨R(m)q, R(n)k⟩ for random q, k: a function of m − n only", 18,
              PLOT_CENTER | PLOT_BOLD, PLOT_INK);
    if (d->hm_offset) snprintf(lab, sizeof lab, "key position n − %lld", (long long)d->hm_offset);
    else snprintf(lab, sizeof lab, "key position n");
    plot_text(c, x0 + side / 2, y0 + side + 46, lab, 15, PLOT_CENTER, PLOT_INK);
    if (d->hm_offset) snprintf(lab, sizeof lab, "query position m − %lld", (long long)d->hm_offset);
    else snprintf(lab, sizeof lab, "query position m");
    plot_text(c, x0 - 60, y0 + side / 2, lab, 15, PLOT_CENTER | PLOT_VERTICAL, PLOT_INK);
}

/* One "key  value" line of the summary. */
static void info_line(plot *c, double X, double *y, const char *key, const char *value) {
    plot_text(c, X + 20, *y, key, 15, PLOT_LEFT, PLOT_GREY);
    plot_text(c, X + 190, *y, value, 15, PLOT_LEFT, PLOT_INK);
    *y += 28;
}

static void panel_info(plot *c, const plot_data *d, const char *path, double X, double Y) {
    char v[200];
    double y = Y + 60;
    const rope_config *r = &d->hf.rope;
    plot_text(c, X + 20, y, "Config", 22, PLOT_LEFT | PLOT_BOLD, PLOT_INK), y += 42;
    const char *base = strrchr(path, '/');
    info_line(c, X, &y, "file", base ? base + 1 : path);
    if (d->hf.model_type[0]) info_line(c, X, &y, "model_type", d->hf.model_type);
    info_line(c, X, &y, "rope_type", rope_scaling_name(d->f.type));
    snprintf(v, sizeof v, "%g", r->rope_theta), info_line(c, X, &y, "rope_theta", v);
    snprintf(v, sizeof v, "%lld, rotary_dim %lld", (long long)d->f.head_dim, (long long)d->f.rotary_dim);
    info_line(c, X, &y, "head_dim", v);
    if (r->factor > 0) snprintf(v, sizeof v, "%g", r->factor), info_line(c, X, &y, "factor", v);
    if (d->context > 0)
        snprintf(v, sizeof v, "%lld (original)", (long long)d->context), info_line(c, X, &y, "context", v);
    snprintf(v, sizeof v, "%.6g (multiplies cos, sin)", d->f.attention_factor);
    info_line(c, X, &y, "attention factor", v);
    if (d->f.softmax_scale_factor != 1.0)
        snprintf(v, sizeof v, "×%.6g", d->f.softmax_scale_factor), info_line(c, X, &y, "softmax scale", v);
    int cnt[3] = {0, 0, 0};
    for (int64_t i = 0; i < d->f.n_freqs; i++) cnt[d->f.band[i] % 3]++;
    snprintf(v, sizeof v, "%d unscaled, %d blend, %d scaled", cnt[0], cnt[1], cnt[2]);
    info_line(c, X, &y, "bands", v);
    snprintf(v, sizeof v, "B(0) = %.4g, B(100) = %.4g, B(1000) = %.4g",
             decay_bound(d->f.inv_freq, d->f.n_freqs, 0), decay_bound(d->f.inv_freq, d->f.n_freqs, 100),
             decay_bound(d->f.inv_freq, d->f.n_freqs, 1000));
    info_line(c, X, &y, "decay", v);
    snprintf(v, sizeof v, "max |s(m,n) − s(m+1,n+1)| = %.2g of max |s|", d->diag_dev);
    info_line(c, X, &y, "heatmap", v);
}

/* The image: every panel through plot.h, one drawing path for PNG, SVG and PDF. */
static int render(const plot_data *d, int kind, const char *out, const char *cfg_path) {
    int w = kind == KIND_ALL ? 1600 : 900;
    int h = kind == KIND_ALL ? 1300 : (kind == KIND_HEATMAP ? 760 : 620);
    char err[300];
    plot *c = plot_open(out, w, h, err, sizeof err);
    if (!c) { /* an output path that cannot be written is a bad option value */
        fprintf(stderr, "rope plot: --out: %s\n", err);
        return 2;
    }
    if (kind == KIND_ALL) {
        panel_wavelength(c, d, 0, 10, 800, 640);
        panel_decay(c, d, 800, 10, 800, 640);
        panel_heatmap(c, d, 0, 660, 900, 640);
        panel_info(c, d, cfg_path, 930, 660);
    } else if (kind == KIND_WAVELENGTH) {
        panel_wavelength(c, d, 0, 0, 900, 620);
    } else if (kind == KIND_DECAY) {
        panel_decay(c, d, 0, 0, 900, 620);
    } else {
        panel_heatmap(c, d, 0, 0, 900, 760);
    }
    if (plot_close(c, err, sizeof err) != 0) {
        fprintf(stderr, "rope plot: --out: %s\n", err);
        return 2;
    }
    fprintf(stderr, "rope plot: wrote %s (%dx%d)\n", out, w, h);
    return 0;
}

#else /* no cairo */

static int render(const plot_data *d, int kind, const char *out, const char *cfg_path) {
    (void)d, (void)kind, (void)cfg_path;
    fprintf(stderr, "rope plot: cannot draw '%s': this rope was built without cairo (Debian: "
                    "libcairo2-dev, then rebuild); --json still prints the data\n", out);
    return 1;
}

#endif

/* The command line of rope plot. */
typedef struct plot_args {
    const char *cfg_path, *out;
    int json, kind;
    int64_t seq_len, max_dist, size, offset;
} plot_args;

/* One option at argv[*i]: 0 taken, 1 --help printed, 2 bad (message printed). */
static int parse_opt(int argc, char **argv, int *i, plot_args *pa, const char **kind_s) {
    const char *v;
    int m;
    if (!strcmp(argv[*i], "--help") || !strcmp(argv[*i], "-h")) return usage(stdout), 1;
    if (!strcmp(argv[*i], "--json")) return pa->json = 1, 0;
    if ((m = cli_opt(argc, argv, i, "--out", &v)) != 0) return m < 0 ? -1 : (pa->out = v, 0);
    if ((m = cli_opt(argc, argv, i, "--kind", &v)) != 0) return m < 0 ? -1 : (*kind_s = v, 0);
    if ((m = cli_opt(argc, argv, i, "--seq-len", &v)) != 0)
        return m < 0 ? -1 : parse_i64_opt("--seq-len", v, 0, (int64_t)1 << 53, &pa->seq_len) ? 2 : 0;
    if ((m = cli_opt(argc, argv, i, "--max-distance", &v)) != 0)
        return m < 0 ? -1 : parse_i64_opt("--max-distance", v, 10, 1000000000, &pa->max_dist) ? 2 : 0;
    if ((m = cli_opt(argc, argv, i, "--size", &v)) != 0)
        return m < 0 ? -1 : parse_i64_opt("--size", v, 2, 512, &pa->size) ? 2 : 0;
    if ((m = cli_opt(argc, argv, i, "--offset", &v)) != 0)
        return m < 0 ? -1 : parse_i64_opt("--offset", v, 0, (int64_t)1 << 40, &pa->offset) ? 2 : 0;
    if (argv[*i][0] == '-' && argv[*i][1]) {
        fprintf(stderr, "rope plot: unknown option '%s'\n", argv[*i]);
        usage(stderr);
        return 2;
    }
    if (!pa->cfg_path) return pa->cfg_path = argv[*i], 0;
    fprintf(stderr, "rope plot: one CONFIG.json expected, got also '%s'\n", argv[*i]);
    return 2;
}

/* Options into *pa: 0 to go on, otherwise the exit status (0 after --help: *help = 1). */
static int parse_args(int argc, char **argv, plot_args *pa, int *help) {
    const char *kind_s = "all";
    *pa = (plot_args){NULL, NULL, 0, 0, 0, 0, 64, 0};
    *help = 0;
    for (int i = 1; i < argc; i++) {
        int r = parse_opt(argc, argv, &i, pa, &kind_s);
        if (r == 1) return *help = 1, 0;
        if (r == 2) return 2;
        if (r < 0) return fprintf(stderr, "rope plot: %s needs a value\n", argv[i]), 2;
    }
    if (!pa->cfg_path) {
        fprintf(stderr, "rope plot: missing CONFIG.json\n");
        usage(stderr);
        return 2;
    }
    pa->kind = !strcmp(kind_s, "wavelength") ? KIND_WAVELENGTH
               : !strcmp(kind_s, "decay")    ? KIND_DECAY
               : !strcmp(kind_s, "heatmap")  ? KIND_HEATMAP
               : !strcmp(kind_s, "all")      ? KIND_ALL
                                             : 0;
    if (!pa->kind) {
        fprintf(stderr, "rope plot: --kind must be wavelength, decay, heatmap or all (got '%s')\n", kind_s);
        return 2;
    }
    if (!pa->out && !pa->json) pa->out = "rope_plot.png";
    const char *o = pa->out;
    if (o && !cli_ends_with(o, ".png") && !cli_ends_with(o, ".PNG") && !cli_ends_with(o, ".svg") &&
        !cli_ends_with(o, ".SVG") && !cli_ends_with(o, ".pdf") && !cli_ends_with(o, ".PDF")) {
        fprintf(stderr, "rope plot: --out must end in .png, .svg or .pdf (got '%s')\n", o);
        return 2;
    }
    return 0;
}

int cmd_plot(int argc, char **argv) {
    plot_args pa;
    int help, rc = parse_args(argc, argv, &pa, &help);
    if (rc || help) return rc;
    const char *cfg_path = pa.cfg_path, *out = pa.out;
    int json = pa.json, kind = pa.kind;
    int64_t seq_len = pa.seq_len, max_dist = pa.max_dist, size = pa.size, offset = pa.offset;
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
