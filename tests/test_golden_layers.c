/*
 * Per-layer RoPE against the real transformers code (tests/golden/layers/NAME.txt,
 * written by tests/golden/gen_layers.py from each family's own attention and
 * rotary modules). For every bundled config of a model whose layers differ:
 *   - the layer map read by the config reader equals the modules' (which
 *     layers rotate, and the layer type whose frequencies each one reads);
 *   - per layer type: inv_freq_f32 within 1 ulp of HF's float32 buffer; the
 *     compat table within 2 ulp of HF's cos/sin (same float32 angle) and the
 *     accurate table within the float64-vs-float32 angle bound at positions up
 *     to 131071; rope_apply (the family's pairing) within 1e-6 of the pair's
 *     magnitude of the family's own apply function, identity pairs exact;
 *   - M-RoPE (Qwen3-VL interleaved planes, GLM-4.1V sections with partial rotary and
 *     interleaved pairs): an image-like grid's rows and the apply on grid tokens, same bounds;
 *   - legacy forms: GPT-J (n_embd/n_head, rotary_dim 64 of 256, its [sin | cos] table and
 *     rotate_every_two), Hunyuan's "dynamic" + alpha (a static NTK-alpha base);
 *   - DeepSeek-V3 MLA: the [nope | rope] head's rope slice rotated in place through a
 *     strided view with ROPE_STYLE_DEINTERLEAVE, element for element against
 *     apply_rotary_pos_emb_interleave (its [even | odd] output), and back (inverse);
 *   - partial rotary (Phi-2, StableLM, MiniMax-M2), Cohere, the hybrid Qwen3-Next / Qwen3.5
 *     (linear-attention layers without RoPE), Qwen3-Omni's thinker and Mistral Large 4 (MLA, NoPE);
 *   - Llama 4's NoPE-layer query scale within 1 float32 ulp of the real forward, and
 *     Ministral 3's llama_4_scaling_beta scale from its own get_llama_4_attn_scale.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config_json.h"
#include "rope.h"

#define MAXV 8192

typedef struct rec {
    char key[48];
    int nv;
    double *v;      /* numbers, or NULL */
    char *text;     /* the raw values */
} rec;

typedef struct gfile {
    rec r[256];
    int n;
} gfile;

static int gload(const char *path, gfile *g) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    static char line[1 << 20];
    g->n = 0;
    while (fgets(line, sizeof line, f) && g->n < 256) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = '\0';
        rec *r = &g->r[g->n++];
        char *sp = strchr(line, ' ');
        size_t kl = sp ? (size_t)(sp - line) : strlen(line);
        if (kl >= sizeof r->key) kl = sizeof r->key - 1;
        memcpy(r->key, line, kl);
        r->key[kl] = '\0';
        r->text = strdup(sp ? sp + 1 : "");
        r->v = malloc(sizeof(double) * MAXV);
        r->nv = 0;
        char *p = r->text, *end;
        while (*p && r->nv < MAXV) {
            double x = strtod(p, &end);
            if (end == p) break;
            r->v[r->nv++] = x;
            p = end;
        }
    }
    fclose(f);
    return 0;
}

static void gfree(gfile *g) {
    for (int i = 0; i < g->n; i++) {
        free(g->r[i].v);
        free(g->r[i].text);
    }
}

/* Record `key` at or after index `from`, before the next "end" when in_set. */
static rec *find(gfile *g, int from, const char *key, int in_set) {
    for (int i = from; i < g->n; i++) {
        if (in_set && strcmp(g->r[i].key, "end") == 0) return NULL;
        if (strcmp(g->r[i].key, key) == 0) return &g->r[i];
    }
    return NULL;
}

static double ulp32(double v) {
    float a = fabsf((float)v);
    if (a < 1.17549435e-38f) return 1.4e-45;
    return (double)(nextafterf(a, INFINITY) - a);
}

static void check_map(const char *name, gfile *g, const hf_config *h) {
    rec *nl = find(g, 0, "n_layers", 0), *lr = find(g, 0, "layer_rope", 0), *lt = find(g, 0, "layer_type", 0);
    CHECK(nl && lr && lt);
    if (!nl || !lr || !lt) return;
    CHECK_MSG(h->model.n_layers == (int64_t)nl->v[0], "%s: %lld layers vs %g", name,
              (long long)h->model.n_layers, nl->v[0]);
    char *save = NULL, *types = strdup(lt->text);
    char *tok = strtok_r(types, " ", &save);
    int bad = 0;
    for (int64_t l = 0; l < h->model.n_layers && l < lr->nv && tok; l++, tok = strtok_r(NULL, " ", &save)) {
        int s = h->model.layer_set[l];
        int rot = s != ROPE_LAYER_NOPE;
        if (rot != (int)lr->v[l]) bad++;
        else if (rot && strcmp(h->model.set_name[s], tok) != 0) bad++;
    }
    free(types);
    CHECK_MSG(bad == 0, "%s: %d layers differ from transformers' map", name, bad);
}

/* q/k of one set: rope_apply with a compat table at the apply rows vs HF's outputs. */
static void check_apply(const char *name, const char *set, gfile *g, int at, const rope_freqs *f,
                        const double *hf_inv, const int64_t *pos, rope_style style) {
    rec *rows = find(g, at, "apply_rows", 1);
    const char *ins[2] = {"q", "k"}, *outs[2] = {"q_out", "k_out"}, *shapes[2] = {"q_shape", "k_shape"};
    CHECK(rows != NULL);
    if (!rows) return;
    int64_t ap[8];
    for (int r = 0; r < rows->nv && r < 8; r++) ap[r] = pos[(int)rows->v[r]];
    rope_table *t = NULL;
    rec *thw = find(g, at, "thw", 1);
    if (thw) { /* M-RoPE: the apply rotates grid tokens (t, h, w differ) */
        int P = thw->nv / 3, nr = rows->nv;
        int64_t gp[3 * 8];
        for (int p = 0; p < 3; p++)
            for (int r = 0; r < nr; r++) {
                gp[p * nr + r] = (int64_t)thw->v[p * P + (int)rows->v[r]];
                if (gp[p * nr + r] > ap[r]) ap[r] = gp[p * nr + r]; /* the bound's position: the largest */
            }
        CHECK_OK(rope_table_create_mrope(f, gp, nr, ROPE_PRECISION_COMPAT_F32, &t));
    } else {
        CHECK_OK(rope_table_create_at(f, ap, rows->nv, ROPE_PRECISION_COMPAT_F32, &t));
    }
    if (!t) return;
    for (int w = 0; w < 2; w++) {
        rec *sh = find(g, at, shapes[w], 1), *x = find(g, at, ins[w], 1), *y = find(g, at, outs[w], 1);
        CHECK(sh && x && y);
        if (!sh || !x || !y) continue;
        int64_t H = (int64_t)sh->v[1], S = (int64_t)sh->v[2], D = (int64_t)sh->v[3];
        float *in = malloc(sizeof(float) * (size_t)(H * S * D)), *out = malloc(sizeof(float) * (size_t)(H * S * D));
        for (int64_t i = 0; i < H * S * D; i++) in[i] = (float)x->v[i];
        rope_tensor ti = {in, ROPE_F32, {1, S, H, D}, {H * S * D, D, S * D, 1}};   /* (b, h, s, d) by strides */
        rope_tensor to = {out, ROPE_F32, {1, S, H, D}, {H * S * D, D, S * D, 1}};
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = style;
        p.table = t;
        p.rotary_dim = 2 * f->n_freqs;
        p.attention_factor = (float)f->attention_factor;
        rope_positions rp = {0};
        int64_t ids[8];
        for (int64_t s = 0; s < S; s++) ids[s] = s;
        rp.ids = ids;
        CHECK_OK(rope_apply(&p, &rp, &ti, &to));
        int bad = 0;
        double worst = 0;
        int64_t R = 2 * f->n_freqs, half = R / 2;
        for (int64_t i = 0; i < H * S * D; i++) {
            int64_t d = i % D, base = i - d;
            int64_t mate = d >= R ? d : style == ROPE_STYLE_HALF ? (d < half ? d + half : d - half) : (d ^ 1);
            int64_t fi = style == ROPE_STYLE_HALF ? d % half : d / 2;
            /* as for the tables: a θ 1 ulp from torch's moves the angle by pos·Δθ */
            double dth = d < R ? fabs((double)f->inv_freq_f32[fi] - hf_inv[fi]) : 0;
            double p_ = (double)ap[(i / D) % S];
            double dang = p_ * dth + (dth > 0 ? ulp32(p_ * hf_inv[fi]) : 0);
            double tol = d >= R ? 0
                       : (1e-6 + f->attention_factor * dang) * (fabs(x->v[base + d]) + fabs(x->v[base + mate])) +
                             1e-30;
            if (d < R && f->inv_freq_f32[fi] == 0.0f) tol = 0; /* identity pair: exact */
            double e = fabs((double)out[i] - (double)(float)y->v[i]); /* 9 digits: exact once rounded to float */
            if (tol > 0 && e / tol > worst) worst = e / tol;
            if (!(e <= tol)) bad++;
        }
        CHECK_MSG(bad == 0, "%s/%s: %d %s entries off (worst %.2f of the bound)", name, set, bad, outs[w], worst);
        free(in);
        free(out);
    }
    rope_table_free(t);
}

/* M-RoPE grid rows (compat) vs HF's cos/sin of the grid: 2 ulp + the θ-ulp term. */
static void check_grid(const char *name, const char *set, gfile *g, int at, const rope_freqs *f,
                       const double *hf_inv) {
    rec *thw = find(g, at, "thw", 1), *ct = find(g, at, "cos_thw", 1), *st = find(g, at, "sin_thw", 1);
    if (!thw) return;
    CHECK_MSG(f->n_mrope_section == 3, "%s/%s: HF rotates a t/h/w grid, the reader has no M-RoPE", name, set);
    CHECK(ct && st);
    if (!ct || !st || f->n_mrope_section != 3) return;
    int P = thw->nv / 3, n = (int)f->n_freqs;
    int64_t *gp = malloc(sizeof(int64_t) * (size_t)(3 * P));
    rope_table *t = NULL;
    for (int k = 0; gp && k < 3 * P; k++) gp[k] = (int64_t)thw->v[k];
    if (gp) CHECK_OK(rope_table_create_mrope(f, gp, P, ROPE_PRECISION_COMPAT_F32, &t));
    int bad = 0;
    for (int r = 0; t && r < P; r++) {
        double pmax = fmax(fmax(thw->v[r], thw->v[P + r]), thw->v[2 * P + r]);
        for (int i = 0; i < n; i++) {
            double dth = fabs((double)f->inv_freq_f32[i] - hf_inv[i]);
            double slack = f->attention_factor * (pmax * dth + (dth > 0 ? ulp32(pmax * hf_inv[i]) : 0));
            double wc = ct->v[r * n + i], ws = st->v[r * n + i];
            if (fabs(rope_table_cos(t)[r * n + i] * f->attention_factor - wc) > 2 * ulp32(wc) + slack) bad++;
            if (fabs(rope_table_sin(t)[r * n + i] * f->attention_factor - ws) > 2 * ulp32(ws) + slack) bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s/%s: %d M-RoPE grid entries off HF", name, set, bad);
    rope_table_free(t);
    free(gp);
}

/*
 * DeepSeek-V3 MLA: heads [nope | rope]; only the rope slice rotates, here in place
 * through a strided view of the whole head (no copy). transformers'
 * apply_rotary_pos_emb_interleave reads interleaved pairs and writes them
 * de-interleaved [even | odd]; ROPE_STYLE_DEINTERLEAVE writes the same layout, so
 * every element is compared with HF's at the same index. The inverse then gives the
 * interleaved input back (within float32 rounding).
 */
static void check_apply_mla(const char *name, gfile *g, int at, const rope_freqs *f, const double *hf_inv,
                            const int64_t *pos, int64_t off) {
    rec *rows = find(g, at, "apply_rows", 1);
    const char *ins[2] = {"q", "k"}, *outs[2] = {"q_out", "k_out"}, *shapes[2] = {"q_shape", "k_shape"};
    CHECK(rows != NULL);
    if (!rows) return;
    int64_t ap[8], n = f->n_freqs;
    for (int r = 0; r < rows->nv && r < 8; r++) ap[r] = pos[(int)rows->v[r]];
    rope_table *t = NULL;
    CHECK_OK(rope_table_create_at(f, ap, rows->nv, ROPE_PRECISION_COMPAT_F32, &t));
    for (int w = 0; t && w < 2; w++) {
        rec *sh = find(g, at, shapes[w], 1), *x = find(g, at, ins[w], 1), *y = find(g, at, outs[w], 1);
        CHECK(sh && x && y);
        if (!sh || !x || !y) continue;
        int64_t S = (int64_t)sh->v[2], D = (int64_t)sh->v[3];
        float *buf = malloc(sizeof(float) * (size_t)(S * D));
        for (int64_t i = 0; i < S * D; i++) buf[i] = (float)x->v[i];
        /* the rope slice of every head, in place: data + off, shape (1, S, 1, 2n), head stride D */
        rope_tensor v = {buf + off, ROPE_F32, {1, S, 1, 2 * n}, {S * D, D, D, 1}};
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = ROPE_STYLE_DEINTERLEAVE;
        p.table = t;
        p.rotary_dim = 2 * n;
        p.attention_factor = (float)f->attention_factor;
        int64_t ids[8];
        for (int64_t s = 0; s < S; s++) ids[s] = s;
        rope_positions rp = {0};
        rp.ids = ids;
        CHECK_OK(rope_apply(&p, &rp, &v, &v));
        int bad = 0, exact = 0;
        for (int64_t s = 0; s < S; s++) {
            const double *xs = x->v + s * D, *ys = y->v + s * D;
            const float *o = buf + s * D;
            for (int64_t d = 0; d < off; d++) bad += o[d] != (float)xs[d]; /* nope dims: untouched */
            for (int64_t i = 0; i < n; i++) {
                double dth = fabs((double)f->inv_freq_f32[i] - hf_inv[i]);
                double dang = (double)ap[s] * dth + (dth > 0 ? ulp32((double)ap[s] * hf_inv[i]) : 0);
                double tol = (1e-6 + f->attention_factor * dang) *
                             (fabs(xs[off + 2 * i]) + fabs(xs[off + 2 * i + 1])) + 1e-30;
                bad += !(fabs((double)o[off + i] - (double)(float)ys[off + i]) <= tol);
                bad += !(fabs((double)o[off + n + i] - (double)(float)ys[off + n + i]) <= tol);
                exact += (o[off + i] == (float)ys[off + i]) + (o[off + n + i] == (float)ys[off + n + i]);
            }
        }
        CHECK_MSG(bad == 0, "%s: %d %s entries off (MLA rope slice in place)", name, bad, outs[w]);
        printf("  %s %s: deinterleave in place, %d of %lld rope entries bit-identical to HF\n", name,
               outs[w], exact, (long long)(S * 2 * n));
        /* the inverse reads [even | odd] and writes the interleaved pairs back (it is
         * af·R(−θ), the transpose: 1/af undoes yarn's attention factor) */
        p.inverse = 1;
        p.attention_factor = (float)(1.0 / f->attention_factor);
        CHECK_OK(rope_apply(&p, &rp, &v, &v));
        p.inverse = 0;
        p.attention_factor = (float)f->attention_factor;
        int back = 0;
        for (int64_t s = 0; s < S; s++)
            for (int64_t d = 0; d < D; d++) {
                double xv = (float)x->v[s * D + d];
                back += !(fabs((double)buf[s * D + d] - xv) <= 2e-6 * (fabs(xv) + 1.0) * (d < off ? 0 : 1));
            }
        CHECK_MSG(back == 0, "%s: %d %s entries not restored by the inverse", name, back, ins[w]);
        free(buf);
    }
    rope_table_free(t);
}

static void check_set(const char *name, gfile *g, int at, const hf_config *h, rope_style style) {
    const char *set = g->r[at].text;
    int s;
    CHECK_MSG(rope_model_find_set(&h->model, set, &s) == ROPE_OK, "%s: no set %s", name, set);
    rope_freqs f;
    if (rope_model_set_freqs(&h->model, s, 0, &f) != ROPE_OK) {
        CHECK_MSG(0, "%s/%s: no frequencies", name, set);
        return;
    }
    rec *inv = find(g, at, "inv_freq", 1), *af = find(g, at, "attention_factor", 1);
    rec *pr = find(g, at, "positions", 1), *cr = find(g, at, "cos", 1), *sr = find(g, at, "sin", 1);
    CHECK(af && pr && cr && sr);
    if (!af || !pr || !cr || !sr) return;
    /* HF's buffer is float32, written with 9 digits: exact once rounded back to float32 (the
     * decimal itself is up to 5e-10 relative away, which position 65535 would magnify) */
    for (int i = 0; inv && i < inv->nv; i++) inv->v[i] = (double)(float)inv->v[i];
    rec own; /* GPT-J keeps no inv_freq buffer: its table is checked against ours with our θ */
    double ownv[ROPE_MAX_FREQS];
    if (!inv) {
        own.nv = (int)f.n_freqs;
        own.v = ownv;
        for (int i = 0; i < own.nv; i++) ownv[i] = f.inv_freq_f32[i];
        inv = &own;
    }
    CHECK_MSG(f.n_freqs == inv->nv, "%s/%s: %lld frequencies vs HF %d", name, set, (long long)f.n_freqs, inv->nv);
    if (f.n_freqs != inv->nv) return;
    double worst = 0;
    for (int i = 0; i < inv->nv; i++) {
        double u = inv->v[i] == 0 ? (f.inv_freq_f32[i] == 0 ? 0 : 99) : fabs(f.inv_freq_f32[i] - inv->v[i]) / ulp32(inv->v[i]);
        if (u > worst) worst = u;
        CHECK_MSG((inv->v[i] == 0) == (f.inv_freq[i] == 0), "%s/%s: zero pattern at %d", name, set, i);
    }
    CHECK_MSG(worst <= 1.05, "%s/%s: inv_freq_f32 %.2f ulp from HF", name, set, worst); /* 1 ulp at a binade edge */
    CHECK_NEAR(f.attention_factor, af->v[0], 1e-15);

    int P = pr->nv, n = (int)f.n_freqs;
    int64_t pos[64];
    for (int r = 0; r < P && r < 64; r++) pos[r] = (int64_t)pr->v[r];
    rope_table *tc = NULL, *ta = NULL;
    CHECK_OK(rope_table_create_at(&f, pos, P, ROPE_PRECISION_COMPAT_F32, &tc));
    CHECK_OK(rope_table_create_at(&f, pos, P, ROPE_PRECISION_ACCURATE, &ta));
    if (!tc || !ta) return;
    int bad_c = 0, bad_a = 0;
    double a = f.attention_factor;
    for (int r = 0; r < P; r++)
        for (int i = 0; i < n; i++) {
            for (int w = 0; w < 2; w++) {
                double want = (w ? sr : cr)->v[r * n + i];
                double mine = (w ? rope_table_sin(tc) : rope_table_cos(tc))[r * n + i] * a;
                /* torch's powf may give θ 1 ulp away: that difference times the position */
                double dth = fabs((double)f.inv_freq_f32[i] - inv->v[i]);
                double own = (double)(float)((float)pos[r] * f.inv_freq_f32[i]);
                if (fabs(mine - want) > 2 * ulp32(want) + a * (pos[r] * dth + (dth > 0 ? ulp32(own) : 0)))
                    bad_c++;
                double acc = (w ? rope_table_sin(ta) : rope_table_cos(ta))[r * n + i] * a;
                double angle = (double)pos[r] * inv->v[i];
                double bound = a * ((double)pos[r] * fabs(f.inv_freq[i] - inv->v[i]) + 0.5 * ulp32(angle)) +
                               3.0 * ulp32(want);
                if (fabs(acc - want) > bound) bad_a++;
            }
        }
    CHECK_MSG(bad_c == 0, "%s/%s: %d compat entries > 2 ulp from HF", name, set, bad_c);
    CHECK_MSG(bad_a == 0, "%s/%s: %d accurate entries outside the angle bound", name, set, bad_a);
    rope_table_free(tc);
    rope_table_free(ta);
    check_grid(name, set, g, at, &f, inv->v);
    rec *off = find(g, at, "rope_offset", 1);
    if (off) check_apply_mla(name, g, at, &f, inv->v, pos, (int64_t)off->v[0]);
    else check_apply(name, set, g, at, &f, inv->v, pos, style);
}

static void check_query_scale(const char *name, gfile *g, const hf_config *h) {
    rec *l = find(g, 0, "query_scale_layer", 0), *p = find(g, 0, "query_scale_positions", 0);
    rec *v = find(g, 0, "query_scale", 0);
    if (!l) return;
    CHECK(p && v);
    if (!p || !v) return;
    for (int i = 0; i < p->nv; i++) {
        double q = 0;
        CHECK_OK(rope_model_query_scale(&h->model, (int64_t)l->v[0], (int64_t)p->v[i], &q));
        CHECK_MSG(fabs(q - v->v[i]) <= ulp32(v->v[i]), "%s: query scale at %g: %.17g vs HF %.9g", name, p->v[i],
                  q, v->v[i]);
    }
}

static void one(const char *name) {
    char path[256];
    gfile *g = calloc(1, sizeof *g);
    snprintf(path, sizeof path, "golden/layers/%s.txt", name);
    if (!g || gload(path, g) != 0) {
        CHECK_MSG(0, "cannot read %s", path);
        free(g);
        return;
    }
    rec *cf = find(g, 0, "config", 0), *st = find(g, 0, "style", 0);
    hf_config h;
    char err[512];
    snprintf(path, sizeof path, "data/configs/%s", cf ? cf->text : "?");
    int rc = hf_config_load(path, &h, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", name, err);
    if (rc == 0) {
        rope_style style = st && strcmp(st->text, "interleaved") == 0 ? ROPE_STYLE_INTERLEAVED : ROPE_STYLE_HALF;
        CHECK_MSG(h.style == style, "%s: reader's style %d, the family applies %s", name, (int)h.style, st->text);
        check_map(name, g, &h);
        int sets = 0;
        for (int i = 0; i < g->n; i++)
            if (strcmp(g->r[i].key, "set") == 0) {
                check_set(name, g, i, &h, style);
                sets++;
            }
        int rot_sets = h.model.n_sets;
        CHECK_MSG(sets == rot_sets, "%s: %d sets in HF, %d read", name, sets, rot_sets);
        check_query_scale(name, g, &h);
        hf_config_free(&h);
    }
    gfree(g);
    free(g);
}

int main(void) {
    static const char *const names[] = {"gemma2_2b", "gemma3_1b", "gemma3_4b", "gemma4_e2b", "smollm3_3b",
                                        "llama4_scout", "cohere2_command_r7b", "exaone4_32b", "qwen3_vl_8b",
                                        "glm41v_9b", "hunyuan_7b_instruct", "ministral3_8b", "gptj_6b",
                                        "deepseek_v3", "phi2", "stablelm_3b_4e1t", "minimax_m2",
                                        "cohere_command_r", "qwen3_next_80b_a3b", "qwen35_27b",
                                        "qwen3_omni_30b_a3b", "mistral_large4", "mistral4_small"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) one(names[i]);
    return check_report("test_golden_layers");
}
