/*
 * Gemma 3 270M (models/gemma-3-270m-q4_k_m.gguf, `make deps`) against Hugging
 * Face transformers float32 on the same dequantised weights
 * (golden/gemma3/gen_gemma3_golden.py, versions in golden/gemma3/versions.txt):
 *   - the SentencePiece tokenizer gives HF's ids;
 *   - per position of a short prompt: the same top-1, logits of HF's top-5
 *     within the bound below;
 *   - a 640-token prompt (past the 512-token sliding window, so the local
 *     layers' window and both RoPE bases matter): top-1, the top-20 and every
 *     64th logit within the bound;
 *   - the 24-token greedy continuation is HF's;
 *   - the per-layer RoPE (θ 1e4 on sliding layers, 1e6 on every 6th) and
 *     the wrong alternative (θ 1e6 everywhere) moving the logits;
 *   - a copy with a malformed Q4_K block and a truncated copy are refused.
 * Skipped (with a message) when the model is absent.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

#define UNDER_SANITIZER CHECK_UNDER_ASAN

#define GEMMA "../models/gemma-3-270m-q4_k_m.gguf"
#define GOLD "golden/gemma3/"
/* |ours - HF| <= LOGIT_TOL·(1 + |HF|): float32 both, different summation
 * orders (OpenBLAS vs PyTorch) over 18 layers. Measured: 1.3e-6 (16-token
 * prompt, HF's top-5 at every position), 8.6e-5 (640-token prompt: top-20
 * and every 64th logit of the last position), with GELU as x/(1 + e^(-2u));
 * with tanhf 2.1e-6 and 1.04e-4; printed on every run. */
#define LOGIT_TOL 5e-4

static int read_ids(const char *line, const char *tag, int32_t *ids, int cap) {
    size_t tl = strlen(tag);
    if (strncmp(line, tag, tl) != 0) return -1;
    int n = 0;
    const char *p = line + tl;
    char *end;
    for (;;) {
        long v = strtol(p, &end, 10);
        if (end == p || n == cap) break;
        ids[n++] = (int32_t)v;
        p = end;
    }
    return n;
}

/* "id:logit id:logit ..." after a tag; returns the count. */
static int read_pairs(const char *s, int32_t *id, double *val, int cap) {
    int n = 0;
    char *end;
    while (n < cap) {
        long a = strtol(s, &end, 10);
        if (end == s || *end != ':') break;
        double b = strtod(end + 1, &end);
        id[n] = (int32_t)a;
        val[n++] = b;
        s = end;
    }
    return n;
}

static int32_t argmax(const float *x, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return (int32_t)b;
}

static double rel_err(double ours, double ref) { return fabs(ours - ref) / (1.0 + fabs(ref)); }

/* Logits of every position of ids (n_out = n) or of the last one (n_out = 1). */
static int run(const llama_model *m, const int32_t *ids, int64_t n, int64_t n_out, float *logits,
               int wrong_rope) {
    llama_session_opts so;
    llama_session_opts_init(&so);
    so.n_ctx = n + 32;
    so.n_threads = 2;
    /* the wrong alternative: every layer at the file's global θ (one RoPE) */
    llama_model mm = *m;
    if (wrong_rope) {
        int sl = 0;
        rope_model_find_set(&mm.cfg.rope_layers, "sliding_attention", &sl);
        mm.cfg.rope_layers.set[sl] = mm.cfg.rope;
    }
    llama_session *s = NULL;
    char err[256];
    if (llama_session_create(&mm, &so, &s, err, sizeof err) != 0) {
        printf("session: %s\n", err);
        return -1;
    }
    const int64_t B = llama_session_max_batch(s), V = m->cfg.vocab_size;
    int rc = 0;
    for (int64_t p = 0; p < n && rc == 0; p += B) {
        const int64_t nb = n - p < B ? n - p : B;
        float *dst = n_out == n ? logits + p * V : logits;
        const int64_t want = n_out == n ? nb : (p + nb == n ? 1 : 0);
        rc = llama_forward(s, ids + p, nb, dst, want, err, sizeof err);
        if (rc) printf("forward: %s\n", err);
    }
    llama_session_free(s);
    return rc;
}

static void test_tokenizer(const tokenizer *tok) {
    FILE *f = fopen(GOLD "tokenizer_cases.txt", "r");
    CHECK_MSG(f != NULL, "missing " GOLD "tokenizer_cases.txt");
    if (!f) return;
    char line[8192];
    int cases = 0, same = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab || line[0] != '"') continue;
        /* the JSON string: only \" \\ \n \t and \uXXXX of the BMP occur; decode those */
        char text[2048];
        size_t k = 0;
        for (char *p = line + 1; p < tab && *p != '"' && k + 4 < sizeof text; p++) {
            if (*p != '\\') {
                text[k++] = *p;
                continue;
            }
            p++;
            if (*p == 'n') text[k++] = '\n';
            else if (*p == 't') text[k++] = '\t';
            else if (*p == 'u') {
                unsigned cp = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') { /* surrogates */
                    unsigned lo = (unsigned)strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                if (cp < 0x80) text[k++] = (char)cp;
                else if (cp < 0x800) {
                    text[k++] = (char)(0xC0 | (cp >> 6));
                    text[k++] = (char)(0x80 | (cp & 63));
                } else if (cp < 0x10000) {
                    text[k++] = (char)(0xE0 | (cp >> 12));
                    text[k++] = (char)(0x80 | ((cp >> 6) & 63));
                    text[k++] = (char)(0x80 | (cp & 63));
                } else {
                    text[k++] = (char)(0xF0 | (cp >> 18));
                    text[k++] = (char)(0x80 | ((cp >> 12) & 63));
                    text[k++] = (char)(0x80 | ((cp >> 6) & 63));
                    text[k++] = (char)(0x80 | (cp & 63));
                }
            } else text[k++] = *p;
        }
        int32_t want[512];
        int nw = read_ids(tab + 1, "", want, 512);
        int32_t *got = NULL;
        size_t ng = 0;
        char err[256];
        /* HF splits special tokens written in the text ("<bos>") by default: parse them too */
        CHECK(tokenizer_encode(tok, text, k, 1, &got, &ng, err, sizeof err) == GGUF_OK);
        int eq = (int)ng == nw && (nw == 0 || memcmp(got, want, sizeof(int32_t) * (size_t)nw) == 0);
        CHECK_MSG(eq, "tokenizer differs from HF on %.*s", (int)(tab - line), line);
        cases++;
        same += eq;
        free(got);
    }
    fclose(f);
    printf("  tokenizer: %d/%d cases equal to HF\n", same, cases);
    CHECK(cases >= 8);
}

static void test_short(const llama_model *m) {
    FILE *f = fopen(GOLD "short.txt", "r");
    CHECK_MSG(f != NULL, "missing " GOLD "short.txt");
    if (!f) return;
    static char line[1 << 16];
    int32_t ids[256];
    int n = fgets(line, sizeof line, f) ? read_ids(line, "ids ", ids, 256) : -1;
    CHECK(n > 4);
    const int64_t V = m->cfg.vocab_size;
    float *lg = n > 0 ? malloc(sizeof(float) * (size_t)(n * V)) : NULL;
    if (lg && run(m, ids, n, n, lg, 0) == 0) {
        double worst = 0;
        int top1 = 0, pos = 0;
        while (fgets(line, sizeof line, f)) {
            int p, off = 0;
            if (sscanf(line, "pos %d %n", &p, &off) != 1 || p < 0 || p >= n) continue;
            int32_t id[5];
            double val[5];
            int k = read_pairs(line + off, id, val, 5);
            CHECK_EQ_INT(k, 5);
            const float *row = lg + (int64_t)p * V;
            top1 += argmax(row, V) == id[0];
            for (int j = 0; j < k; j++) worst = fmax(worst, rel_err(row[id[j]], val[j]));
            pos++;
        }
        printf("  short prompt: %d positions, top-1 equal at %d, worst |d|/(1+|ref|) %.2e\n", pos,
               top1, worst);
        CHECK_EQ_INT(pos, n);
        CHECK_EQ_INT(top1, n);
        CHECK_MSG(worst <= LOGIT_TOL, "logits differ by %.3e", worst);
    }
    free(lg);
    fclose(f);
}

static void test_long(const llama_model *m) {
    FILE *f = fopen(GOLD "long.txt", "r");
    CHECK_MSG(f != NULL, "missing " GOLD "long.txt");
    if (!f) return;
    static char line[1 << 20];
    static int32_t ids[1024];
    int n = fgets(line, sizeof line, f) ? read_ids(line, "ids ", ids, 1024) : -1;
    CHECK(n > 512 + 64);
    const int64_t V = m->cfg.vocab_size;
    float *lg = malloc(sizeof(float) * (size_t)V), *bad = malloc(sizeof(float) * (size_t)V);
    if (n > 0 && lg && bad && run(m, ids, n, 1, lg, 0) == 0) {
        int32_t id[20];
        double val[20];
        int k = fgets(line, sizeof line, f) ? read_pairs(line + 4, id, val, 20) : 0;
        CHECK_EQ_INT(k, 20);
        double worst = 0;
        for (int j = 0; j < k; j++) worst = fmax(worst, rel_err(lg[id[j]], val[j]));
        int every = 0;
        if (fgets(line, sizeof line, f) && !strncmp(line, "every64 ", 8)) {
            char *p = line + 8, *end;
            for (int64_t v = 0; v < V; v += 64, p = end) {
                double r = strtod(p, &end);
                if (end == p) break;
                worst = fmax(worst, rel_err(lg[v], r));
                every++;
            }
        }
        printf("  %d-token prompt: top-1 %d (HF %d), %d logits compared, worst %.2e\n", n,
               argmax(lg, V), id[0], k + every, worst);
        CHECK_EQ_INT(argmax(lg, V), id[0]);
        CHECK_EQ_INT(every, (int)(V / 64));
        CHECK_MSG(worst <= LOGIT_TOL, "logits differ by %.3e", worst);
        /* one RoPE for every layer (θ 1e6) is measurably wrong past the window */
        if (run(m, ids, n, 1, bad, 1) == 0) {
            double d = 0;
            for (int j = 0; j < k; j++) d = fmax(d, rel_err(bad[id[j]], val[j]));
            printf("  same prompt with θ 1e6 on the sliding layers too: worst %.2e\n", d);
            CHECK_MSG(d > 20 * fmax(worst, 1e-4), "wrong RoPE not detected (%.3e)", d);
        }
    }
    free(lg);
    free(bad);
    fclose(f);
}

static void test_greedy(const llama_model *m) {
    FILE *f = fopen(GOLD "greedy.txt", "r");
    CHECK_MSG(f != NULL, "missing " GOLD "greedy.txt");
    if (!f) return;
    char line[8192];
    int32_t ids[256], want[64];
    int n = fgets(line, sizeof line, f) ? read_ids(line, "prompt ", ids, 200) : -1;
    int nw = fgets(line, sizeof line, f) ? read_ids(line, "greedy ", want, 64) : -1;
    fclose(f);
    CHECK(n > 2 && nw == 24);
    if (n <= 2 || nw != 24) return;
    llama_session_opts so;
    llama_session_opts_init(&so);
    so.n_ctx = 256;
    so.n_threads = 2;
    llama_session *s = NULL;
    char err[256];
    float *lg = malloc(sizeof(float) * (size_t)m->cfg.vocab_size);
    CHECK(llama_session_create(m, &so, &s, err, sizeof err) == 0 && lg);
    int same = 0;
    if (s && lg && llama_forward(s, ids, n, lg, 1, err, sizeof err) == 0) {
        for (int t = 0; t < nw; t++) {
            int32_t id = argmax(lg, m->cfg.vocab_size);
            if (id != want[t]) break;
            same++;
            if (t + 1 < nw && llama_forward(s, &id, 1, lg, 1, err, sizeof err) != 0) break;
        }
    }
    printf("  greedy: %d/%d tokens equal to HF's generate\n", same, nw);
    CHECK_EQ_INT(same, nw);
    llama_session_free(s);
    free(lg);
}

/* A copy of the file with one Q4_K super-block's scale set to Inf, and a
 * truncated copy: both refused at load with a reason. */
static void test_refused(void) {
    gguf_file *f = NULL;
    char err[256];
    CHECK(gguf_open(GEMMA, &f, err, sizeof err) == GGUF_OK);
    if (!f) return;
    const gguf_tensor *t = gguf_find_tensor(f, "blk.3.attn_output.weight");
    CHECK(t && t->type == GGML_TYPE_Q4_K);
    const uint64_t at = gguf_data_offset(f) + (t ? t->offset : 0) + 144 * 7, size = gguf_file_size(f);
    gguf_close(f);
    FILE *in = fopen(GEMMA, "rb"), *out = fopen("gemma3_malformed.tmp.gguf", "wb");
    char *buf = malloc(1 << 20);
    uint64_t done = 0;
    while (in && out && buf && done < size) {
        size_t r = fread(buf, 1, 1 << 20, in);
        if (r == 0) break;
        if (at >= done && at + 2 <= done + r) buf[at - done] = 0x00, buf[at - done + 1] = 0x7C;
        fwrite(buf, 1, r, out);
        done += r;
    }
    if (in) fclose(in);
    if (out) fclose(out);
    free(buf);
    llama_model *m = NULL;
    /* refused both where the weight is dequantised and where it is used in place */
    CHECK(llama_model_load_f32("gemma3_malformed.tmp.gguf", &m, err, sizeof err) != 0 && !m);
    CHECK_MSG(strstr(err, "blk.3.attn_output.weight") && strstr(err, "malformed"), "%s", err);
    printf("  malformed block (float32 load): %s\n", err);
    CHECK(llama_model_load("gemma3_malformed.tmp.gguf", &m, err, sizeof err) != 0 && m == NULL);
    CHECK_MSG(strstr(err, "blk.3.attn_output.weight") && strstr(err, "malformed"), "%s", err);
    printf("  malformed block (quantised load): %s\n", err);
    CHECK(truncate("gemma3_malformed.tmp.gguf", (off_t)(size - 100)) == 0);
    CHECK(llama_model_load("gemma3_malformed.tmp.gguf", &m, err, sizeof err) != 0 && m == NULL);
    printf("  truncated file: %s\n", err);
    remove("gemma3_malformed.tmp.gguf");
}

int main(void) {
    printf("test_gemma3:\n");
    FILE *probe = fopen(GEMMA, "rb");
    if (!probe) {
        printf("SKIP: %s absent (run `make deps`)\n", GEMMA);
        return check_report("test_gemma3");
    }
    fclose(probe);
    llama_model *m = NULL;
    gguf_file *gf = NULL;
    tokenizer *tok = NULL;
    char err[256];
    /* every weight dequantised to float32: the reference ran on exactly these */
    CHECK_MSG(llama_model_load_f32(GEMMA, &m, err, sizeof err) == 0, "%s", err);
    CHECK(gguf_open(GEMMA, &gf, err, sizeof err) == GGUF_OK &&
          tokenizer_from_gguf(gf, &tok, err, sizeof err) == GGUF_OK);
    if (m && tok) {
        const llama_config *c = &m->cfg;
        CHECK(c->arch == LLAMA_ARCH_GEMMA3 && c->n_layers == 18 && c->sliding_window == 512);
        for (int64_t l = 0; l < c->n_layers; l++) {
            rope_freqs fr;
            int rot = 0;
            CHECK_OK(rope_model_layer_freqs(&c->rope_layers, l, c->context_length, &fr, &rot));
            const double want = (l + 1) % 6 == 0 ? 1e6 : 1e4; /* θ_0 = 1, θ_1 = base^(-2/256) */
            CHECK_MSG(rot && fabs(fr.inv_freq[1] - pow(want, -2.0 / 256.0)) < 1e-12 &&
                      llama_layer_sliding(c, l) == ((l + 1) % 6 != 0), "layer %lld", (long long)l);
        }
        test_tokenizer(tok);
        test_short(m);
        if (!UNDER_SANITIZER || getenv("ROPE_SLOW_TESTS")) test_long(m);
        test_greedy(m);
        test_refused();
    }
    tokenizer_free(tok);
    gguf_close(gf);
    llama_model_free(m);
    return check_report("test_gemma3");
}
