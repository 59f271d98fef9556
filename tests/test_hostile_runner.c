/*
 * Hostile input to `rope generate` / `rope ppl` end to end (issue 14), on a
 * tiny synthetic model with a byte-level tokenizer written here (1 layer,
 * dim 8, context 256 or 1): the named crash `rope generate -n
 * 9223372036854775807` (n_prompt + n_gen once overflowed and corrupted the
 * heap), `rope ppl` on a model whose context scores nothing (once a NaN
 * perplexity with exit 0), invalid model files (non-finite or zero RMS
 * epsilon, a zero head count, a negative RoPE base, truncated, not GGUF) and
 * bad option values: each must be exit 2 with the key or option named.
 * Runs the `rope` binary next to the tests (ROPE_BIN, set by ctest).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "gguf.h"
#include "tokenizer.h"

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(1);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void u32(bytes *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, x, 4);
}
static void u64(bytes *b, uint64_t v) {
    u32(b, (uint32_t)v);
    u32(b, (uint32_t)(v >> 32));
}
static void str(bytes *b, const char *s) {
    u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_u32(bytes *b, const char *k, uint32_t v) {
    str(b, k);
    u32(b, GGUF_TYPE_UINT32);
    u32(b, v);
}
static void kv_f32(bytes *b, const char *k, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    str(b, k);
    u32(b, GGUF_TYPE_FLOAT32);
    u32(b, u);
}
static void kv_str(bytes *b, const char *k, const char *v) {
    str(b, k);
    u32(b, GGUF_TYPE_STRING);
    str(b, v);
}

typedef struct tiny {
    uint32_t ctx, heads;
    float eps, base;
} tiny;

enum { VOCAB = 256 + 3, DIM = 8 };

/* GPT-2 bytes_to_unicode of one byte, as UTF-8. */
static void byte_token(int byte, char out[4]) {
#define PRINTABLE(b) (((b) >= 33 && (b) <= 126) || ((b) >= 161 && (b) <= 172) || ((b) >= 174 && (b) <= 255))
    unsigned cp = (unsigned)byte;
    if (!PRINTABLE(byte)) {
        cp = 256;
        for (int b = 0; b < byte; b++) cp += !PRINTABLE(b);
    }
#undef PRINTABLE
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

static int write_model(const char *path, const tiny *o) {
    static const struct { const char *name; uint64_t ne0, ne1; } t[] = {
        {"token_embd.weight", DIM, VOCAB}, {"blk.0.attn_norm.weight", DIM, 1},
        {"blk.0.attn_q.weight", DIM, DIM}, {"blk.0.attn_k.weight", DIM, 4},
        {"blk.0.attn_v.weight", DIM, 4},   {"blk.0.attn_output.weight", DIM, DIM},
        {"blk.0.ffn_norm.weight", DIM, 1}, {"blk.0.ffn_gate.weight", DIM, 16},
        {"blk.0.ffn_up.weight", DIM, 16},  {"blk.0.ffn_down.weight", 16, DIM},
        {"output_norm.weight", DIM, 1}};
    const int nt = (int)(sizeof t / sizeof t[0]);
    bytes b = {0};
    put(&b, "GGUF", 4);
    u32(&b, 3);
    u64(&b, (uint64_t)nt);
    u64(&b, 17); /* metadata entries below */
    kv_str(&b, "general.architecture", "llama");
    kv_u32(&b, "llama.block_count", 1);
    kv_u32(&b, "llama.embedding_length", DIM);
    kv_u32(&b, "llama.feed_forward_length", 16);
    kv_u32(&b, "llama.attention.head_count", o->heads);
    kv_u32(&b, "llama.attention.head_count_kv", 1);
    kv_u32(&b, "llama.context_length", o->ctx);
    kv_u32(&b, "llama.rope.dimension_count", 4);
    kv_f32(&b, "llama.rope.freq_base", o->base);
    kv_f32(&b, "llama.attention.layer_norm_rms_epsilon", o->eps);
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_str(&b, "tokenizer.ggml.pre", "smollm");
    str(&b, "tokenizer.ggml.tokens");
    u32(&b, GGUF_TYPE_ARRAY);
    u32(&b, GGUF_TYPE_STRING);
    u64(&b, VOCAB);
    for (int i = 0; i < 256; i++) {
        char tok[4];
        byte_token(i, tok);
        str(&b, tok);
    }
    str(&b, "<|im_start|>");
    str(&b, "<|im_end|>");
    str(&b, "<|endoftext|>");
    str(&b, "tokenizer.ggml.token_type");
    u32(&b, GGUF_TYPE_ARRAY);
    u32(&b, GGUF_TYPE_INT32);
    u64(&b, VOCAB);
    for (int i = 0; i < VOCAB; i++) u32(&b, i < 256 ? TOKEN_TYPE_NORMAL : TOKEN_TYPE_CONTROL);
    str(&b, "tokenizer.ggml.merges");
    u32(&b, GGUF_TYPE_ARRAY);
    u32(&b, GGUF_TYPE_STRING);
    u64(&b, 0);
    kv_u32(&b, "tokenizer.ggml.bos_token_id", 256);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", 258);
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        str(&b, t[i].name);
        u32(&b, 2);
        u64(&b, t[i].ne0);
        u64(&b, t[i].ne1);
        u32(&b, GGML_TYPE_F32);
        u64(&b, off);
        off += (t[i].ne0 * t[i].ne1 * 4 + 31) / 32 * 32;
    }
    while (b.n % 32) put(&b, "", 1);
    uint32_t seed = 99;
    for (int i = 0; i < nt; i++) {
        for (uint64_t e = 0; e < t[i].ne0 * t[i].ne1; e++) {
            seed = seed * 1664525u + 1013904223u;
            float x = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.5f;
            if (strstr(t[i].name, "norm")) x = 1.0f;
            put(&b, &x, 4);
        }
        while (b.n % 32) put(&b, "", 1);
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b.p, 1, b.n, f) == b.n;
    if (f) ok &= fclose(f) == 0;
    free(b.p);
    return ok ? 0 : -1;
}

static char g_bin[4096];

/* Run `rope ARGS` with stdout and stderr captured together; returns the exit code. */
static int run(const char *args, char *out, size_t cap) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", g_bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void expect(const char *args, int code, const char *needle) {
    static char out[1 << 16];
    int rc = run(args, out, sizeof out);
    CHECK_MSG(rc == code && (!needle || strstr(out, needle)), "rope %s: exit %d (want %d), output lacks \"%s\": %.300s",
              args, rc, code, needle ? needle : "", out);
}

int main(void) {
    const char *dir = getenv("ROPE_BIN");
    if (!dir) {
        printf("test_hostile_runner: ROPE_BIN unset (run it through ctest); nothing checked\n");
        return 0;
    }
    snprintf(g_bin, sizeof g_bin, "%s/../rope", dir);
    char tmpl[] = "/tmp/rope_hostile_XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    char good[256], ctx1[256], text[256], a[1024];
    snprintf(good, sizeof good, "%s/good.gguf", tmpl);
    snprintf(ctx1, sizeof ctx1, "%s/ctx1.gguf", tmpl);
    snprintf(text, sizeof text, "%s/text.txt", tmpl);
    CHECK(write_model(good, &(tiny){256, 2, 1e-5f, 10000.0f}) == 0); /* the chat prompt is ~100 byte tokens */
    CHECK(write_model(ctx1, &(tiny){1, 2, 1e-5f, 10000.0f}) == 0);
    FILE *f = fopen(text, "w");
    if (f) fputs("the quick brown fox jumps over the lazy dog, again and again.\n", f), fclose(f);

    /* the named crash: -n INT64_MAX generates at most what the context holds */
    snprintf(a, sizeof a, "generate --model %s --raw --prompt ab -n 9223372036854775807 -t 1", good);
    expect(a, 0, "generation:");
    snprintf(a, sizeof a, "generate --model %s --prompt hi -n 9223372036854775807 --temp 1 --seed 3 -t 1", good);
    expect(a, 0, "generation:");
    /* nothing to score: exit 2, never a NaN perplexity */
    snprintf(a, sizeof a, "ppl --model %s %s -t 1", ctx1, text);
    expect(a, 2, "context_length is 1");
    snprintf(a, sizeof a, "generate --model %s --raw --prompt ab -t 1", ctx1);
    expect(a, 2, "does not fit");
    snprintf(a, sizeof a, "ppl --model %s %s --ctx 2 -t 1", good, text);
    expect(a, 0, "perplexity ");

    /* invalid model files: exit 2, the key named */
    const struct { tiny t; const char *key; } badm[] = {
        {{32, 2, INFINITY, 10000.0f}, "layer_norm_rms_epsilon"},
        {{32, 2, NAN, 10000.0f}, "layer_norm_rms_epsilon"},
        {{32, 2, 0.0f, 10000.0f}, "layer_norm_rms_epsilon"},
        {{32, 0, 1e-5f, 10000.0f}, "llama.attention.head_count"},
        {{0, 2, 1e-5f, 10000.0f}, "llama.context_length"},
        {{32, 2, 1e-5f, -1.0f}, "llama.rope"},
        {{32, 2, 1e-5f, INFINITY}, "llama.rope"},
    };
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.gguf", tmpl);
    for (size_t i = 0; i < sizeof badm / sizeof badm[0]; i++) {
        CHECK(write_model(bad, &badm[i].t) == 0);
        snprintf(a, sizeof a, "generate --model %s --raw --prompt ab -n 2 -t 1", bad);
        expect(a, 2, badm[i].key);
        snprintf(a, sizeof a, "ppl --model %s %s -t 1", bad, text);
        expect(a, 2, badm[i].key);
    }
    snprintf(a, sizeof a, "generate --model %s -n 2", text); /* not GGUF */
    expect(a, 2, NULL);
    snprintf(a, sizeof a, "head -c 200 %s > %s", good, bad); /* truncated */
    CHECK(system(a) == 0);
    snprintf(a, sizeof a, "ppl --model %s %s", bad, text);
    expect(a, 2, NULL);

    /* bad option values: exit 2 with the option named, before any model is read */
    static const char *const badopt[][2] = {
        {"generate -n -1", "-n"}, {"generate -n 1e3", "-n"}, {"generate -n 99999999999999999999", "-n"},
        {"generate --temp nan", "--temp"}, {"generate --temp inf", "--temp"}, {"generate --top-p 0", "--top-p"},
        {"generate --top-p 1.5", "--top-p"}, {"generate --repeat-penalty -1", "--repeat-penalty"},
        {"generate -t 0", "-t"}, {"generate -t 257", "-t"}, {"generate --seed x", "--seed"},
        {"generate --ctx 7", "--ctx"}, {"generate --ctx 99999999999", "--ctx"}, {"generate --cache q9", "--cache"},
        {"generate --model", "--model"}, {"ppl x.txt --ctx 1", "--ctx"}, {"ppl x.txt --stride 0", "--stride"},
        {"ppl x.txt --rope-scaling yarn:0.5", "--rope-scaling"}, {"ppl x.txt --rope-scaling longrope:2", "--rope-scaling"},
        {"ppl x.txt --rope-scaling linear:nan", "--rope-scaling"}, {"ppl x.txt --style sideways", "--style"},
        {"ppl x.txt --cache f64", "--cache"}, {"ppl x.txt -t -1", "-t"}, {"ppl a.txt b.txt", "more than one"},
    };
    for (size_t i = 0; i < sizeof badopt / sizeof badopt[0]; i++) {
        snprintf(a, sizeof a, "%s --model /nonexistent/model.gguf", badopt[i][0]);
        expect(a, 2, badopt[i][1]);
    }
    snprintf(a, sizeof a, "rm -rf '%s'", tmpl);
    CHECK(system(a) == 0);
    return check_report("test_hostile_runner");
}
