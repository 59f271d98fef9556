/*
 * 2-D (axial) vision RoPE against the real transformers vision towers
 * (tests/golden/vision/NAME.txt from tests/golden/gen_vision.py): rope_table_create_axial
 * with each family's column map reproduces HF's cos/sin (compat within 2 ulp plus the
 * θ-ulp term) and rope_apply (half pairs over 2·columns) reproduces its vision apply
 * function on random q/k within 1e-6 of the pair magnitude (plus that term).
 *   Qwen2.5-VL: θ_j = base^(-2j/(D/2)), columns [θ_j·h | θ_j·w];
 *   Pixtral:    θ_j = base^(-2j/D), columns [θ_2j·h | θ_2j+1·w];
 *   Gemma 4:    θ_j = base^(-2j/(D/2)), θ 100; the head split in an h half and a w half,
 *               each rotate_half'd by its axis: two applies on strided half-head views.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rope.h"

static double *nums(FILE *f, const char *key, int *n) {
    static char line[1 << 20];
    rewind(f);
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0 || line[kl] != ' ') continue;
        double *v = malloc(sizeof(double) * 65536);
        int k = 0;
        char *p = line + kl, *e;
        while (v && k < 65536) {
            double x = strtod(p, &e);
            if (e == p) break;
            v[k++] = x;
            p = e;
        }
        *n = k;
        return v;
    }
    *n = 0;
    return NULL;
}

static double ulp32(double v) {
    float a = fabsf((float)v);
    if (a < 1.17549435e-38f) return 1.4e-45;
    return (double)(nextafterf(a, INFINITY) - a);
}

static void one(const char *name, int pixtral) {
    char path[256];
    snprintf(path, sizeof path, "golden/vision/%s.txt", name);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot read %s", path);
    if (!f) return;
    int nhd, nth, ninv, nc, ncos, nsin, nq, nqo, nk, nko, nt;
    double *hd = nums(f, "head_dim", &nhd), *th = nums(f, "rope_theta", &nth), *inv = nums(f, "inv_freq", &ninv);
    double *co = nums(f, "coords", &nc), *cs = nums(f, "cos", &ncos), *sn = nums(f, "sin", &nsin);
    double *q = nums(f, "q", &nq), *qo = nums(f, "q_out", &nqo), *k = nums(f, "k", &nk), *ko = nums(f, "k_out", &nko);
    double *ntok = nums(f, "n_tokens", &nt);
    fclose(f);
    CHECK(hd && th && inv && co && cs && sn && q && qo && k && ko && ntok);
    if (!(hd && th && inv && co && cs && sn && q && qo && k && ko && ntok)) goto out;
    int D = (int)hd[0], N = (int)ntok[0], cols = D / 2, quarter = D / 4;

    rope_config c;
    rope_config_init(&c);
    c.rope_theta = th[0];
    c.head_dim = pixtral == 1 ? D : D / 2;
    rope_freqs fr;
    CHECK_OK(rope_freqs_compute(&c, 0, &fr));
    int axis[ROPE_MAX_FREQS], freq[ROPE_MAX_FREQS];
    double hf_theta[ROPE_MAX_FREQS]; /* HF's θ of each column, for the bound */
    for (int i = 0; i < cols; i++) {
        axis[i] = i < quarter ? 0 : 1;
        freq[i] = pixtral == 1 ? (i < quarter ? 2 * i : 2 * (i - quarter) + 1) : i % quarter;
        hf_theta[i] = inv[pixtral == 1 ? i : i % quarter];
    }
    int64_t *coords = malloc(sizeof(int64_t) * 2 * (size_t)N);
    for (int r = 0; r < N; r++) {
        coords[r] = (int64_t)co[2 * r];         /* plane 0: h */
        coords[N + r] = (int64_t)co[2 * r + 1]; /* plane 1: w */
    }
    rope_table *t = NULL;
    CHECK_OK(rope_table_create_axial(&fr, coords, 2, N, axis, freq, cols, ROPE_PRECISION_COMPAT_F32, &t));
    if (!t) {
        free(coords);
        goto out;
    }
    int bad = 0;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < cols; i++) {
            double p = (double)coords[axis[i] * N + r];
            double dth = fabs((double)fr.inv_freq_f32[freq[i]] - hf_theta[i]);
            double slack = p * dth + (dth > 0 ? ulp32(p * hf_theta[i]) : 0);
            double wc = cs[r * cols + i], ws = sn[r * cols + i];
            if (fabs(rope_table_cos(t)[r * cols + i] - wc) > 2 * ulp32(wc) + slack) bad++;
            if (fabs(rope_table_sin(t)[r * cols + i] - ws) > 2 * ulp32(ws) + slack) bad++;
        }
    CHECK_MSG(bad == 0, "%s: %d table entries off HF", name, bad);

    /* Gemma 4: the head is an h half and a w half, each rotate_half'd by its own axis:
     * two applies on strided half-head views (no copy), each with a one-axis table. */
    rope_table *tbh = NULL, *tbw = NULL;
    if (pixtral == 2) {
        int ax_h[ROPE_MAX_FREQS], ax_w[ROPE_MAX_FREQS], fq[ROPE_MAX_FREQS];
        for (int i = 0; i < quarter; i++) ax_h[i] = 0, ax_w[i] = 1, fq[i] = i;
        CHECK_OK(rope_table_create_axial(&fr, coords, 2, N, ax_h, fq, quarter, ROPE_PRECISION_COMPAT_F32, &tbh));
        CHECK_OK(rope_table_create_axial(&fr, coords, 2, N, ax_w, fq, quarter, ROPE_PRECISION_COMPAT_F32, &tbw));
    }
    /* apply: (seq, 1 head, D) rows r use table row r */
    for (int w = 0; w < 2; w++) {
        const double *x = w ? k : q, *y = w ? ko : qo;
        float *in = malloc(sizeof(float) * (size_t)(N * D)), *out = malloc(sizeof(float) * (size_t)(N * D));
        for (int i = 0; i < N * D; i++) in[i] = (float)x[i];
        rope_tensor ti, to;
        rope_tensor_contiguous(&ti, in, ROPE_F32, 1, N, 1, D);
        rope_tensor_contiguous(&to, out, ROPE_F32, 1, N, 1, D);
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = ROPE_STYLE_HALF;
        p.table = t;
        p.rotary_dim = D;
        if (pixtral == 2 && tbh && tbw) {
            for (int half = 0; half < 2; half++) {
                rope_tensor vi = {in + half * cols, ROPE_F32, {1, N, 1, cols}, {(int64_t)N * D, D, D, 1}};
                rope_tensor vo = {out + half * cols, ROPE_F32, {1, N, 1, cols}, {(int64_t)N * D, D, D, 1}};
                p.table = half ? tbw : tbh;
                p.rotary_dim = cols;
                CHECK_OK(rope_apply(&p, NULL, &vi, &vo));
            }
        } else {
            CHECK_OK(rope_apply(&p, NULL, &ti, &to));
        }
        int badq = 0;
        for (int r = 0; r < N; r++)
            for (int d = 0; d < D; d++) {
                /* the column d's frequency uses, and its pair partner */
                int i = pixtral == 2 ? (d / cols) * quarter + (d % cols) % quarter : d % cols;
                int mate = pixtral == 2 ? (d / cols) * cols + ((d % cols) + quarter) % cols
                                        : d < cols ? d + cols : d - cols;
                double pp = (double)coords[axis[i] * N + r];
                double dth = fabs((double)fr.inv_freq_f32[freq[i]] - hf_theta[i]);
                double dang = pp * dth + (dth > 0 ? ulp32(pp * hf_theta[i]) : 0);
                double tol = (1e-6 + dang) * (fabs(x[r * D + d]) + fabs(x[r * D + mate])) + 1e-30;
                if (!(fabs((double)out[r * D + d] - (double)(float)y[r * D + d]) <= tol)) badq++;
            }
        CHECK_MSG(badq == 0, "%s: %d %s entries off HF's vision apply", name, badq, w ? "k" : "q");
        free(in);
        free(out);
    }
    /* bad maps are refused, the output untouched */
    rope_table *sentinel = (rope_table *)&bad, *t2 = sentinel;
    axis[0] = 2;
    CHECK_STATUS(rope_table_create_axial(&fr, coords, 2, N, axis, freq, cols, ROPE_PRECISION_ACCURATE, &t2),
                 ROPE_E_PARAM);
    axis[0] = 0;
    freq[0] = (int)fr.n_freqs;
    CHECK_STATUS(rope_table_create_axial(&fr, coords, 2, N, axis, freq, cols, ROPE_PRECISION_ACCURATE, &t2),
                 ROPE_E_PARAM);
    freq[0] = 0;
    axis[0] = -1; /* unrotated column: cos 1, sin 0 */
    CHECK_OK(rope_table_create_axial(&fr, coords, 2, N, axis, freq, cols, ROPE_PRECISION_ACCURATE, &t2));
    CHECK(t2 != sentinel && rope_table_cos(t2)[cols * (N - 1)] == 1.0f && rope_table_sin(t2)[0] == 0.0f);
    if (t2 != sentinel) rope_table_free(t2);
    rope_table_free(tbh);
    rope_table_free(tbw);
    rope_table_free(t);
    free(coords);
out:
    free(hd), free(th), free(inv), free(co), free(cs), free(sn), free(q), free(qo), free(k), free(ko), free(ntok);
}

/* Llama 4 vision: patches at (x + 1, y + 1) of the grid, the CLS token at (0, 0) (cos 1,
 * sin 0: unrotated); columns [θ_j·x | θ_j·y] of f with head_dim D/2; interleaved pairs
 * (its complex multiply). */
static void llama4(void) {
    FILE *f = fopen("golden/vision/llama4_vision.txt", "r");
    CHECK_MSG(f != NULL, "cannot read llama4_vision.txt");
    if (!f) return;
    int a, b, c_, d, e, g_, h, i_;
    double *hd = nums(f, "head_dim", &a), *th = nums(f, "rope_theta", &b), *side = nums(f, "grid_side", &c_);
    double *tk = nums(f, "tokens", &d), *cs = nums(f, "cos", &e), *sn = nums(f, "sin", &g_);
    double *q = nums(f, "q", &h), *qo = nums(f, "q_out", &i_);
    int nk, nko;
    double *k = nums(f, "k", &nk), *ko = nums(f, "k_out", &nko);
    fclose(f);
    CHECK(hd && th && side && tk && cs && sn && q && qo && k && ko);
    if (hd && th && side && tk && cs && sn && q && qo && k && ko) {
        int D = (int)hd[0], S = d, cols = D / 2, half = cols / 2, sd = (int)side[0];
        rope_config c;
        rope_config_init(&c);
        c.rope_theta = th[0];
        c.head_dim = cols;
        rope_freqs fr;
        CHECK_OK(rope_freqs_compute(&c, 0, &fr));
        int64_t coords[2 * 16];
        int axis[ROPE_MAX_FREQS], freq[ROPE_MAX_FREQS];
        for (int r = 0; r < S; r++) {
            int t = (int)tk[r];
            int cls = t == sd * sd;
            coords[r] = cls ? 0 : t % sd + 1;
            coords[S + r] = cls ? 0 : t / sd + 1;
        }
        for (int i = 0; i < cols; i++) axis[i] = i < half ? 0 : 1, freq[i] = i % half;
        rope_table *t = NULL;
        CHECK_OK(rope_table_create_axial(&fr, coords, 2, S, axis, freq, cols, ROPE_PRECISION_COMPAT_F32, &t));
        int bad = 0;
        for (int r = 0; t && r < S; r++)
            for (int i = 0; i < cols; i++) {
                double wc = cs[r * cols + i], ws = sn[r * cols + i];
                /* HF: cos/sin of the float32 angle (torch), ours: correctly rounded: 2 ulp */
                if (fabs(rope_table_cos(t)[r * cols + i] - wc) > 2 * ulp32(wc)) bad++;
                if (fabs(rope_table_sin(t)[r * cols + i] - ws) > 2 * ulp32(ws)) bad++;
            }
        CHECK_MSG(bad == 0, "llama4_vision: %d table entries off HF", bad);
        for (int w = 0; t && w < 2; w++) {
            const double *x = w ? k : q, *y = w ? ko : qo;
            float in[16 * 256], out[16 * 256];
            for (int i = 0; i < S * D; i++) in[i] = (float)x[i];
            rope_tensor ti, to;
            rope_tensor_contiguous(&ti, in, ROPE_F32, 1, S, 1, D);
            rope_tensor_contiguous(&to, out, ROPE_F32, 1, S, 1, D);
            rope_apply_params p;
            rope_apply_params_init(&p);
            p.style = ROPE_STYLE_INTERLEAVED;
            p.table = t;
            p.rotary_dim = D;
            CHECK_OK(rope_apply(&p, NULL, &ti, &to));
            int badq = 0;
            for (int i = 0; i < S * D; i++) {
                int dd = i % D, mate = dd ^ 1;
                double tol = 1e-6 * (fabs(x[i]) + fabs(x[i - dd + mate])) + 1e-30;
                if (!(fabs((double)out[i] - (double)(float)y[i]) <= tol)) badq++;
            }
            CHECK_MSG(badq == 0, "llama4_vision: %d %s entries off vision_apply_rotary_emb", badq, w ? "k" : "q");
            /* the CLS token (last row) leaves q and k unchanged */
            CHECK(memcmp(out + (S - 1) * D, in + (S - 1) * D, sizeof(float) * (size_t)D) == 0);
        }
        rope_table_free(t);
    }
    free(hd), free(th), free(side), free(tk), free(cs), free(sn), free(q), free(qo), free(k), free(ko);
}

int main(void) {
    one("qwen25_vl_vision", 0);
    one("qwen3_vl_vision", 0);
    one("pixtral_12b_vision", 1);
    one("gemma4_vision", 2);
    llama4();
    return check_report("test_golden_vision");
}
