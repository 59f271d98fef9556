/*
 * Readers of untrusted input take near-linear time (issue 14): each is timed
 * on inputs of 1, 4 and 16 MiB built to hit its worst case, and the growth
 * from 1 to 16 MiB must stay far below quadratic. The check is a RATIO within
 * one run of thread CPU times (minimum of repeats, sizes interleaved, so other
 * work on a shared machine inflates it least): linear growth is 16x, n log n about 19x,
 * quadratic 256x; the bound is 128x, with times below 1 ms counted as 1 ms. No absolute time is asserted. Under sanitizers (whose allocator and
 * shadow memory add steps that have nothing to do with the readers) the sizes
 * are 64x smaller, each run once, and only the results are checked.
 *
 * Inputs:
 *   tokenizer  one word of 16 Mi 'a' (BPE merges; the scan-per-merge loop was
 *              quadratic), text made of near-misses of a special token, of
 *              bytes/64 specials, and runs of 'a' under nested specials
 *   GGUF       a file of nothing but distinct metadata keys, and one of
 *              nothing but tensors (duplicate checks were quadratic)
 *   config     config.json with a huge array, and with many keys
 *   .npy       one big float32 array
 *   positions  a long "0,1,2,..." list
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cli_util.h"
#include "config_json.h"
#include "gguf.h"
#include "npy.h"
#include "tokenizer.h"

#define UNDER_SANITIZER (CHECK_UNDER_ASAN || CHECK_UNDER_TSAN)

/* 16x the input: linear 16x, n log n ~19x, quadratic 256x. Measured on the
 * 2-core dev VM under load: 14x-58x (the sorts' and heaps' working sets leave
 * the caches as they grow: per-byte costs rise from cache to DRAM speed); the
 * quadratic versions these replace did not finish 16 MiB in minutes. */
#define MAX_RATIO 128.0

/* CPU time of this thread: on a shared machine the wall clock of a long run
 * also counts the time other processes held the core (the longer the run, the
 * more of it), which would inflate exactly the ratio measured here. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ byte buffers */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    struct tokenizer *tok; /* the tokenizer built for this input, if any */
    uint32_t nested;       /* R_TOK_NESTED: the longest nested special's length */
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = (b->cap + n) * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) exit(1);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, x, 4);
}
static void put_u64(buf *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}
static void put_gstr(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void put_s(buf *b, const char *s) { put(b, s, strlen(s)); }

/* ------------------------------------------------------------ inputs */

/* A byte-level BPE tokenizer in GGUF form: "a" and its doublings up to 1024
 * a's with the merges that build them, and one control token <|im_end|>. */
static tokenizer *make_tokenizer(void) {
    enum { LEVELS = 11 };
    buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 0); /* tensors */
    put_u64(&b, 5); /* metadata */
    put_gstr(&b, "tokenizer.ggml.model");
    put_u32(&b, GGUF_TYPE_STRING);
    put_gstr(&b, "gpt2");
    put_gstr(&b, "tokenizer.ggml.pre");
    put_u32(&b, GGUF_TYPE_STRING);
    put_gstr(&b, "gpt2");
    char tok[1100], mer[2200];
    put_gstr(&b, "tokenizer.ggml.tokens");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, LEVELS + 1);
    for (int l = 0; l < LEVELS; l++) {
        memset(tok, 'a', (size_t)1 << l);
        tok[(size_t)1 << l] = '\0';
        put_gstr(&b, tok);
    }
    put_gstr(&b, "<|im_end|>");
    put_gstr(&b, "tokenizer.ggml.token_type");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_INT32);
    put_u64(&b, LEVELS + 1);
    for (int l = 0; l < LEVELS; l++) put_u32(&b, 1); /* normal */
    put_u32(&b, 3);                                  /* control */
    put_gstr(&b, "tokenizer.ggml.merges");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, LEVELS - 1);
    for (int l = 0; l + 1 < LEVELS; l++) {
        size_t h = (size_t)1 << l;
        memset(mer, 'a', 2 * h + 1);
        mer[h] = ' ';
        mer[2 * h + 1] = '\0';
        put_gstr(&b, mer);
    }
    gguf_file *f = NULL;
    tokenizer *t = NULL;
    char err[256];
    if (gguf_open_memory(b.p, b.n, &f, err, sizeof err) != GGUF_OK ||
        tokenizer_from_gguf(f, &t, err, sizeof err) != GGUF_OK) {
        fprintf(stderr, "synthetic tokenizer: %s\n", err);
        exit(1);
    }
    gguf_close(f); /* the tokenizer keeps copies */
    free(b.p);
    return t;
}

/* GGUF of about `bytes` bytes: only metadata keys (tensors = 0), or only tensors. */
static buf make_gguf(size_t bytes, int tensors) {
    const size_t per = tensors ? 8 + 10 + 4 + 8 + 4 + 8 : 8 + 10 + 4 + 1;
    const uint64_t n = bytes / per;
    buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, tensors ? n : 0);
    put_u64(&b, tensors ? 0 : n);
    char name[16];
    for (uint64_t i = 0; i < n; i++) {
        /* names share prefixes, in an order that is not sorted */
        snprintf(name, sizeof name, "k.%08llx", (unsigned long long)((i * 2654435761u) & 0xFFFFFFFFu));
        put_gstr(&b, name);
        if (tensors) {
            put_u32(&b, 1);  /* dims */
            put_u64(&b, 0);  /* ne[0] = 0: no data */
            put_u32(&b, 0);  /* F32 */
            put_u64(&b, 0);  /* offset */
        } else {
            put_u32(&b, GGUF_TYPE_UINT8);
            put(&b, "\x01", 1);
        }
    }
    while (b.n % 32) put(&b, "", 1);
    return b;
}

static buf make_config(size_t bytes, int many_keys) {
    buf b = {0};
    put_s(&b, "{\"model_type\":\"llama\",\"head_dim\":64");
    char item[32];
    for (uint64_t i = 0; b.n < bytes; i++) {
        if (many_keys) snprintf(item, sizeof item, ",\"key_%llu\":%llu", (unsigned long long)i,
                                (unsigned long long)i);
        else snprintf(item, sizeof item, "%s%llu", i ? "," : ",\"x\":[", (unsigned long long)(i % 1000));
        put_s(&b, item);
    }
    put_s(&b, many_keys ? "}" : "]}");
    return b;
}

static buf make_npy(size_t bytes) {
    char head[128];
    size_t n = bytes / 4;
    int hl = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu,), }", n);
    size_t total = 10 + (size_t)hl + 1, padded = (total + 63) / 64 * 64;
    buf b = {0};
    put(&b, "\x93NUMPY\x01\x00", 8);
    unsigned char l[2] = {(unsigned char)((padded - 10) & 0xFF), (unsigned char)((padded - 10) >> 8)};
    put(&b, l, 2);
    put(&b, head, (size_t)hl);
    while (b.n < padded - 1) put(&b, " ", 1);
    put(&b, "\n", 1);
    unsigned char *z = calloc(1, n * 4);
    put(&b, z, n * 4);
    free(z);
    return b;
}

static buf make_positions(size_t bytes) {
    buf b = {0};
    char item[24];
    for (uint64_t i = 0; b.n < bytes; i++) {
        snprintf(item, sizeof item, "%s%llu", i ? "," : "", (unsigned long long)(i % 100000));
        put_s(&b, item);
    }
    put(&b, "", 1);
    return b;
}

/* A tokenizer with n control tokens "<|%06x|>" (after "a", id 0), then
 * `nested` more: "aa", "aaa", ... (2 to nested + 1 a's, ids n + 1 ...): the
 * special-token split once made one pass over the text per special. */
static tokenizer *make_many_specials(uint32_t n, uint32_t nested) {
    buf b = {0};
    char tok[16];
    uint32_t total = n + nested;
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 0);
    put_u64(&b, 5);
    put_gstr(&b, "tokenizer.ggml.model");
    put_u32(&b, GGUF_TYPE_STRING);
    put_gstr(&b, "gpt2");
    put_gstr(&b, "tokenizer.ggml.pre");
    put_u32(&b, GGUF_TYPE_STRING);
    put_gstr(&b, "gpt2");
    put_gstr(&b, "tokenizer.ggml.tokens");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, 1 + (uint64_t)total);
    put_gstr(&b, "a");
    for (uint32_t i = 0; i < n; i++) {
        snprintf(tok, sizeof tok, "<|%06x|>", (unsigned)i);
        put_gstr(&b, tok);
    }
    char *run = malloc((size_t)nested + 2);
    if (!run) exit(1);
    for (uint32_t i = 0; i < nested; i++) {
        memset(run, 'a', (size_t)i + 2);
        put_u64(&b, (uint64_t)i + 2);
        put(&b, run, (size_t)i + 2);
    }
    free(run);
    put_gstr(&b, "tokenizer.ggml.token_type");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_INT32);
    put_u64(&b, 1 + (uint64_t)total);
    put_u32(&b, 1);                                      /* normal */
    for (uint32_t i = 0; i < total; i++) put_u32(&b, 3); /* control */
    put_gstr(&b, "tokenizer.ggml.merges");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, 0);
    gguf_file *f = NULL;
    tokenizer *t = NULL;
    char err[256];
    if (gguf_open_memory(b.p, b.n, &f, err, sizeof err) != GGUF_OK ||
        tokenizer_from_gguf(f, &t, err, sizeof err) != GGUF_OK) {
        fprintf(stderr, "synthetic tokenizer (%u specials): %s\n", (unsigned)n, err);
        exit(1);
    }
    gguf_close(f);
    free(b.p);
    return t;
}

/* ------------------------------------------------------------ the readers */

enum { R_TOK_RUN, R_TOK_SPECIAL, R_TOK_MANY, R_TOK_NESTED, R_GGUF_KV, R_GGUF_TENSORS, R_CONFIG_ARRAY, R_CONFIG_KEYS, R_NPY,
       R_POSITIONS, R_COUNT };
static const char *const names[R_COUNT] = {
    "tokenizer: one word of 'a'", "tokenizer: special-token near misses",
    "tokenizer: bytes/64 specials, near misses", "tokenizer: nested specials, runs of a",
    "GGUF: metadata keys",
    "GGUF: tensors", "config.json: one big array", "config.json: many keys", ".npy: float32 data",
    "positions: comma list"};

static tokenizer *g_tok;

static buf make_input(int r, size_t bytes) {
    buf b = {0};
    switch (r) {
    case R_TOK_RUN:
        b.p = malloc(bytes);
        memset(b.p, 'a', bytes);
        b.n = bytes;
        return b;
    case R_TOK_SPECIAL:
        while (b.n + 9 <= bytes) put_s(&b, "<|im_end|"); /* the token less its last byte */
        return b;
    case R_TOK_MANY: {
        /* specials grow with the text (2^14, 2^16, 2^18 at 1, 4, 16 MiB), so a
         * pass per special would grow 256x; near misses of each in turn, and
         * every 16th one whole (the run checks they are all found) */
        uint32_t ns = (uint32_t)(bytes / 64);
        char s[16];
        b.tok = make_many_specials(ns, 0);
        for (uint32_t i = 0; b.n + 10 <= bytes; i++) {
            snprintf(s, sizeof s, "<|%06x|%s", (unsigned)(i % ns), i % 16 == 15 ? ">" : "");
            put_s(&b, s);
        }
        return b;
    }
    case R_TOK_NESTED: {
        /* bytes/64 specials "<|%06x|>" and 31 nested ones "aa" ... a x 32 (about
         * 20 of them end at an average 'a'); runs of 49 a's (split: 32 a's,
         * then 17), between uppercase near misses of the others. Past 4
         * occurrences per byte the split once fell back to a pass per special:
         * time text x specials, quadratic here (1.5 s at 1 MiB). */
        uint32_t ns = (uint32_t)(bytes / 64), m = 32;
        b.tok = make_many_specials(ns, m - 1);
        char s[16], *run = malloc(3 * (size_t)m / 2 + 1);
        if (!run) exit(1);
        memset(run, 'a', 3 * (size_t)m / 2 + 1);
        for (uint32_t i = 0; b.n + 3 * (size_t)m / 2 + 1 + 8 <= bytes; i++) {
            snprintf(s, sizeof s, "<|%06X|", (unsigned)(i % ns));
            put_s(&b, s);
            put(&b, run, 3 * (size_t)m / 2 + 1);
        }
        free(run);
        b.nested = m;
        return b;
    }
    case R_GGUF_KV: return make_gguf(bytes, 0);
    case R_GGUF_TENSORS: return make_gguf(bytes, 1);
    case R_CONFIG_ARRAY: return make_config(bytes, 0);
    case R_CONFIG_KEYS: return make_config(bytes, 1);
    case R_NPY: return make_npy(bytes);
    default: return make_positions(bytes);
    }
}

/* One run of reader r on input b; returns 0 if it accepted it as expected. */
static int run_reader(int r, const buf *b) {
    char err[400];
    switch (r) {
    case R_TOK_RUN:
    case R_TOK_SPECIAL: {
        int32_t *ids = NULL;
        size_t n = 0;
        int st = tokenizer_encode(g_tok, (const char *)b->p, b->n, r == R_TOK_SPECIAL, &ids, &n, err,
                                  sizeof err);
        /* the run becomes tokens of 1024 a's (the longest), the near misses nothing */
        int ok = st == GGUF_OK && (r == R_TOK_SPECIAL || (n >= b->n / 1024 && ids[0] == 10));
        free(ids);
        return ok ? 0 : -1;
    }
    case R_TOK_MANY: {
        int32_t *ids = NULL;
        size_t n = 0, found = 0, whole = 0;
        int st = tokenizer_encode(b->tok, (const char *)b->p, b->n, 1, &ids, &n, err, sizeof err);
        for (size_t i = 0; i < n; i++) found += ids[i] > 0;
        /* the whole ones: every 16th segment, segments of 9 bytes and 10 for a whole one */
        for (size_t off = 0, i = 0; off < b->n; i++) {
            size_t len = i % 16 == 15 ? 10 : 9;
            if (off + len > b->n) break;
            whole += len == 10;
            off += len;
        }
        free(ids);
        if (st != GGUF_OK || found != whole)
            fprintf(stderr, "  %zu specials found, %zu in the text\n", found, whole);
        return st == GGUF_OK && found == whole && whole > 0 ? 0 : -1;
    }
    case R_TOK_NESTED: {
        /* each run: the m-a token, then the (m/2 + 1)-a token, nothing else
         * special (raw bytes other than 'a' have no id > 0 here) */
        int32_t *ids = NULL;
        size_t n = 0, runs = 0, good = 0;
        uint32_t m = b->nested;
        int st = tokenizer_encode(b->tok, (const char *)b->p, b->n, 1, &ids, &n, err, sizeof err);
        for (size_t i = 0; i < b->n; i++) runs += b->p[i] == '<';
        for (size_t i = 0; i + 1 < n; i++)
            good += ids[i] > 0 && ids[i + 1] > 0 && tokenizer_token_text(b->tok, ids[i]) &&
                    strlen(tokenizer_token_text(b->tok, ids[i])) == m &&
                    strlen(tokenizer_token_text(b->tok, ids[i + 1])) == m / 2 + 1;
        free(ids);
        if (st != GGUF_OK || good != runs) fprintf(stderr, "  %zu runs split right of %zu\n", good, runs);
        return st == GGUF_OK && good == runs && runs > 0 ? 0 : -1;
    }
    case R_GGUF_KV:
    case R_GGUF_TENSORS: {
        gguf_file *f = NULL;
        if (gguf_open_memory(b->p, b->n, &f, err, sizeof err) != GGUF_OK) {
            fprintf(stderr, "  %s\n", err);
            return -1;
        }
        int ok = r == R_GGUF_KV ? gguf_find_kv(f, "k.00000000") != NULL
                                : gguf_find_tensor(f, "k.00000000") != NULL;
        gguf_close(f);
        return ok ? 0 : -1;
    }
    case R_CONFIG_ARRAY:
    case R_CONFIG_KEYS: {
        hf_config h;
        int rc = hf_config_parse((const char *)b->p, b->n, &h, err, sizeof err);
        hf_config_free(&h);
        if (rc) fprintf(stderr, "  %s\n", err);
        return rc ? -1 : 0;
    }
    case R_NPY: {
        npy_array a;
        int rc = npy_parse(b->p, b->n, &a, err, sizeof err);
        npy_free(&a);
        return rc;
    }
    default: {
        int64_t *pos = NULL, n = 0;
        int rc = cli_parse_positions((const char *)b->p, &pos, &n, INT64_MAX, err, sizeof err);
        free(pos);
        return rc;
    }
    }
}

int main(void) {
    const size_t mib = UNDER_SANITIZER ? (size_t)16 << 10 : (size_t)1 << 20;
    const size_t sizes[3] = {mib, 4 * mib, 16 * mib};
    const int repeats = UNDER_SANITIZER ? 1 : 3;
    g_tok = make_tokenizer();
    printf("test_linear_time: min of %d runs (sizes interleaved) at %zu, %zu, %zu KiB; "
           "bound t(16x)/max(t(1x), 1 ms) <= %.0f%s\n", repeats, sizes[0] >> 10, sizes[1] >> 10,
           sizes[2] >> 10, MAX_RATIO, UNDER_SANITIZER ? " (sanitizer build: not asserted)" : "");
    for (int r = 0; r < R_COUNT; r++) {
        double t[3] = {1e30, 1e30, 1e30};
        buf b[3];
        for (int k = 0; k < 3; k++) b[k] = make_input(r, sizes[k]);
        /* sizes interleaved, so that a burst of other work on the machine
         * inflates every size alike rather than only the largest */
        for (int rep = 0; rep < repeats; rep++)
            for (int k = 0; k < 3; k++) {
                double t0 = now_s();
                int rc = run_reader(r, &b[k]);
                double dt = now_s() - t0;
                CHECK_MSG(rc == 0, "%s: reader refused its %zu-byte input", names[r], b[k].n);
                if (dt < t[k]) t[k] = dt;
            }
        for (int k = 0; k < 3; k++) {
            free(b[k].p);
            tokenizer_free(b[k].tok);
        }
        /* below 1 ms a time is mostly cache state and timer noise, not the reader */
        double ratio = t[2] / (t[0] > 1e-3 ? t[0] : 1e-3);
        printf("  %-40s %9.2f %9.2f %9.2f ms   x%.1f\n", names[r], 1e3 * t[0], 1e3 * t[1], 1e3 * t[2],
               ratio);
        if (!UNDER_SANITIZER)
            CHECK_MSG(ratio <= MAX_RATIO, "%s: 16x the input took %.1fx the time", names[r], ratio);
    }
    tokenizer_free(g_tok);
    return check_report("test_linear_time");
}
