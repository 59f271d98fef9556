/*
 * GGUF reader: the real SmolLM2 file's metadata and shapes, dequantisation of
 * every supported type against hand-built blocks whose values follow from
 * the ggml block layouts, and malformed files (every truncation of a small
 * valid file, forged counts and lengths, bad magic/version/alignment...)
 * giving an error, never a crash (run under ASan in CI).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gguf.h"
#include "rope.h"

#define MODEL "../models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define GEMMA "../models/gemma-3-270m-q4_k_m.gguf"

#define CHECK_OK_G(call)                                                          \
    do {                                                                          \
        int st_g_ = (call);                                                       \
        CHECK_MSG(st_g_ == GGUF_OK, "-> %s", gguf_strerror(st_g_));               \
    } while (0)

/* ------------------------------------------------------------ builder */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u8(buf *b, uint8_t v) { put(b, &v, 1); }
static void put_u16(buf *b, uint16_t v) { uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; put(b, x, 2); }
static void put_u32(buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}
static void put_u64(buf *b, uint64_t v) { put_u32(b, (uint32_t)v); put_u32(b, (uint32_t)(v >> 32)); }
static void put_f32(buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); put_u32(b, u); }
static void put_str(buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void put_header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}
static void pad_to(buf *b, size_t align) {
    while (b->n % align) put_u8(b, 0);
}

/* Open a private exact-size copy so that any over-read is caught by ASan. */
static int open_copy(const buf *b, size_t n, gguf_file **f, char *err, size_t errlen) {
    void *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, b->p, n);
    int st = gguf_open_memory(copy, n, f, err, errlen);
    if (st == GGUF_OK) return st;  /* caller frees copy after gguf_close via leak-free path */
    free(copy);
    return st;
}

/* A small but complete file: every metadata value type, an array of
 * strings, a nested array, two tensors (F32 and Q8_0), the last tensor
 * ending exactly at the end of the file. */
static buf small_file(uint32_t version) {
    buf b = {0};
    put_header(&b, version, 2, 17);
    put_str(&b, "u8"); put_u32(&b, GGUF_TYPE_UINT8); put_u8(&b, 200);
    put_str(&b, "i8"); put_u32(&b, GGUF_TYPE_INT8); put_u8(&b, 0xFE);
    put_str(&b, "u16"); put_u32(&b, GGUF_TYPE_UINT16); put_u16(&b, 60000);
    put_str(&b, "i16"); put_u32(&b, GGUF_TYPE_INT16); put_u16(&b, 0x8000);
    put_str(&b, "u32"); put_u32(&b, GGUF_TYPE_UINT32); put_u32(&b, 4000000000u);
    put_str(&b, "i32"); put_u32(&b, GGUF_TYPE_INT32); put_u32(&b, (uint32_t)-7);
    put_str(&b, "f32"); put_u32(&b, GGUF_TYPE_FLOAT32); put_f32(&b, 0.25f);
    put_str(&b, "bool"); put_u32(&b, GGUF_TYPE_BOOL); put_u8(&b, 1);
    put_str(&b, "str"); put_u32(&b, GGUF_TYPE_STRING); put_str(&b, "h\xc3\xa9llo");
    put_str(&b, "u64"); put_u32(&b, GGUF_TYPE_UINT64); put_u64(&b, 1ull << 40);
    put_str(&b, "i64"); put_u32(&b, GGUF_TYPE_INT64); put_u64(&b, (uint64_t)-5);
    put_str(&b, "f64"); put_u32(&b, GGUF_TYPE_FLOAT64);
    { double d = -1.5; uint64_t u; memcpy(&u, &d, 8); put_u64(&b, u); }
    put_str(&b, "arr.i32"); put_u32(&b, GGUF_TYPE_ARRAY); put_u32(&b, GGUF_TYPE_INT32); put_u64(&b, 3);
    put_u32(&b, 1); put_u32(&b, (uint32_t)-2); put_u32(&b, 3);
    put_str(&b, "arr.str"); put_u32(&b, GGUF_TYPE_ARRAY); put_u32(&b, GGUF_TYPE_STRING); put_u64(&b, 2);
    put_str(&b, "a"); put_str(&b, "");
    put_str(&b, "arr.nested"); put_u32(&b, GGUF_TYPE_ARRAY); put_u32(&b, GGUF_TYPE_ARRAY); put_u64(&b, 2);
    put_u32(&b, GGUF_TYPE_FLOAT32); put_u64(&b, 2); put_f32(&b, 1.0f); put_f32(&b, 2.0f);
    put_u32(&b, GGUF_TYPE_STRING); put_u64(&b, 1); put_str(&b, "x");
    put_str(&b, "arr.empty"); put_u32(&b, GGUF_TYPE_ARRAY); put_u32(&b, GGUF_TYPE_UINT8); put_u64(&b, 0);
    put_str(&b, "general.alignment"); put_u32(&b, GGUF_TYPE_UINT32); put_u32(&b, 64);
    /* tensors: w (F32 [4 x 2]) at 0, q (Q8_0 [32 x 2]) at 64 */
    put_str(&b, "w"); put_u32(&b, 2); put_u64(&b, 4); put_u64(&b, 2); put_u32(&b, GGML_TYPE_F32); put_u64(&b, 0);
    put_str(&b, "q"); put_u32(&b, 2); put_u64(&b, 32); put_u64(&b, 2); put_u32(&b, GGML_TYPE_Q8_0); put_u64(&b, 64);
    pad_to(&b, 64);
    for (int i = 0; i < 8; i++) put_f32(&b, (float)i - 3.5f);
    pad_to(&b, 64);  /* 32 bytes of F32 data, then padding to offset 64 */
    for (int blk = 0; blk < 2; blk++) {
        put_u16(&b, rope_f32_to_f16(blk ? 0.5f : -2.0f));
        for (int j = 0; j < 32; j++) put_u8(&b, (uint8_t)(int8_t)(j - 16));
    }
    return b;
}

static void test_small_file(uint32_t version) {
    buf b = small_file(version);
    gguf_file *f = NULL;
    char err[256] = "";
    void *copy = malloc(b.n);
    memcpy(copy, b.p, b.n);
    int st = gguf_open_memory(copy, b.n, &f, err, sizeof err);
    CHECK_MSG(st == GGUF_OK, "v%u: %s", version, err);
    if (st) {
        free(copy);
        free(b.p);
        return;
    }
    CHECK_EQ_INT(gguf_version(f), version);
    CHECK_EQ_INT(gguf_n_kv(f), 17);
    CHECK_EQ_INT(gguf_n_tensors(f), 2);
    CHECK_EQ_INT(gguf_alignment(f), 64);
    CHECK_EQ_INT(gguf_data_offset(f) % 64, 0);

    int64_t iv = 0;
    uint32_t u = 0;
    float fv = 0;
    int bv = 0;
    CHECK_OK_G(gguf_get_i64(f, "u8", &iv)); CHECK_EQ_INT(iv, 200);
    CHECK_OK_G(gguf_get_i64(f, "i8", &iv)); CHECK_EQ_INT(iv, -2);
    CHECK_OK_G(gguf_get_i64(f, "u16", &iv)); CHECK_EQ_INT(iv, 60000);
    CHECK_OK_G(gguf_get_i64(f, "i16", &iv)); CHECK_EQ_INT(iv, -32768);
    CHECK_OK_G(gguf_get_u32(f, "u32", &u)); CHECK_EQ_INT(u, 4000000000u);
    CHECK_OK_G(gguf_get_i64(f, "i32", &iv)); CHECK_EQ_INT(iv, -7);
    CHECK_EQ_INT(gguf_get_u32(f, "i32", &u), GGUF_E_TYPE);  /* negative does not fit */
    CHECK_OK_G(gguf_get_f32(f, "f32", &fv)); CHECK(fv == 0.25f);
    CHECK_OK_G(gguf_get_bool(f, "bool", &bv)); CHECK_EQ_INT(bv, 1);
    CHECK_OK_G(gguf_get_i64(f, "u64", &iv)); CHECK_EQ_INT(iv, 1ll << 40);
    CHECK_EQ_INT(gguf_get_u32(f, "u64", &u), GGUF_E_TYPE);
    CHECK_OK_G(gguf_get_i64(f, "i64", &iv)); CHECK_EQ_INT(iv, -5);
    CHECK_OK_G(gguf_get_f32(f, "f64", &fv)); CHECK(fv == -1.5f);
    gguf_str s;
    CHECK_OK_G(gguf_get_str(f, "str", &s));
    CHECK(gguf_str_eq(s, "h\xc3\xa9llo"));
    char cs[4];
    CHECK_OK_G(gguf_get_cstr(f, "str", cs, sizeof cs));
    CHECK(strcmp(cs, "h\xc3\xa9") == 0);  /* truncated to cap - 1 bytes */
    CHECK_EQ_INT(gguf_get_str(f, "u8", &s), GGUF_E_TYPE);
    CHECK_EQ_INT(gguf_get_f32(f, "str", &fv), GGUF_E_TYPE);
    CHECK_EQ_INT(gguf_get_i64(f, "missing", &iv), GGUF_E_NOT_FOUND);
    CHECK(gguf_find_kv(f, "st") == NULL);  /* no prefix matches */

    const gguf_value *a;
    CHECK_OK_G(gguf_get_array(f, "arr.i32", &a));
    CHECK_EQ_INT(gguf_array_len(a), 3);
    CHECK_OK_G(gguf_array_get_i64(a, 1, &iv)); CHECK_EQ_INT(iv, -2);
    double dv;
    CHECK_OK_G(gguf_array_get_f64(a, 2, &dv)); CHECK(dv == 3.0);
    CHECK_EQ_INT(gguf_array_get_i64(a, 3, &iv), GGUF_E_ARG);
    CHECK_EQ_INT(gguf_array_get_str(a, 0, &s), GGUF_E_TYPE);
    CHECK_OK_G(gguf_get_array(f, "arr.str", &a));
    CHECK_OK_G(gguf_array_get_str(a, 0, &s)); CHECK(gguf_str_eq(s, "a"));
    CHECK_OK_G(gguf_array_get_str(a, 1, &s)); CHECK(s.len == 0);
    CHECK_OK_G(gguf_get_array(f, "arr.nested", &a));
    CHECK_EQ_INT(gguf_array_len(a), 2);
    if (gguf_array_len(a) == 2) {
        const gguf_value *in0 = &a->v.arr.items[0], *in1 = &a->v.arr.items[1];
        CHECK_EQ_INT(in0->v.arr.type, GGUF_TYPE_FLOAT32);
        CHECK_OK_G(gguf_array_get_f64(in0, 1, &dv)); CHECK(dv == 2.0);
        CHECK_OK_G(gguf_array_get_str(in1, 0, &s)); CHECK(gguf_str_eq(s, "x"));
    }
    CHECK_OK_G(gguf_get_array(f, "arr.empty", &a));
    CHECK_EQ_INT(gguf_array_len(a), 0);

    const gguf_tensor *w = gguf_find_tensor(f, "w"), *q = gguf_find_tensor(f, "q");
    CHECK(w && q && !gguf_find_tensor(f, "qq"));
    if (w && q) {
        CHECK_EQ_INT(w->n_dims, 2); CHECK_EQ_INT(w->ne[0], 4); CHECK_EQ_INT(w->ne[1], 2);
        CHECK_EQ_INT(w->ne[2], 1); CHECK_EQ_INT(w->n_elements, 8); CHECK_EQ_INT(w->n_bytes, 32);
        CHECK_EQ_INT(q->n_bytes, 68);
        float out[64];
        CHECK_OK_G(gguf_dequantize(w, out, err, sizeof err));
        for (int i = 0; i < 8; i++) CHECK(out[i] == (float)i - 3.5f);
        CHECK_OK_G(gguf_dequantize_rows(w, 1, 1, out, err, sizeof err));
        CHECK(out[0] == 0.5f && out[3] == 3.5f);
        CHECK_EQ_INT(gguf_dequantize_rows(w, 1, 2, out, err, sizeof err), GGUF_E_ARG);
        CHECK_EQ_INT(gguf_dequantize_rows(w, 3, 0, out, err, sizeof err), GGUF_E_ARG);
        CHECK_OK_G(gguf_dequantize(q, out, err, sizeof err));
        for (int j = 0; j < 32; j++) {
            CHECK(out[j] == -2.0f * (float)(j - 16));
            CHECK(out[32 + j] == 0.5f * (float)(j - 16));
        }
    }
    gguf_close(f);
    free(copy);

    /* Every truncation of the file is an error (the last tensor ends at the
     * end of the file, so no prefix is a complete file). */
    int all_fail = 1;
    for (size_t n = 0; n < b.n; n++) {
        gguf_file *g = NULL;
        err[0] = 0;
        st = open_copy(&b, n, &g, err, sizeof err);
        if (st == GGUF_OK || g != NULL || err[0] == 0) {
            all_fail = 0;
            fprintf(stderr, "truncated at %zu of %zu: status %d '%s'\n", n, b.n, st, err);
            gguf_close(g);
        }
    }
    CHECK_MSG(all_fail, "some truncation of the v%u file did not fail with a message", version);
    free(b.p);
}

/* -------------------------------------------------------- malformed */

static int expect_fail(buf *b, const char *needle, const char *what) {
    gguf_file *f = NULL;
    char err[256] = "";
    int st = open_copy(b, b->n, &f, err, sizeof err);
    CHECK_MSG(st != GGUF_OK && f == NULL, "%s: opened", what);
    CHECK_MSG(needle == NULL || strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", what,
              err, needle);
    if (f) gguf_close(f);
    free(b->p);
    b->p = NULL;
    return st;
}

static void test_malformed(void) {
    buf b = {0};

    put(&b, "GGUX", 4); put_u32(&b, 3); put_u64(&b, 0); put_u64(&b, 0);
    expect_fail(&b, "magic", "bad magic");
    b = (buf){0};
    put_header(&b, 1, 0, 0);
    expect_fail(&b, "version 1", "version 1");
    b = (buf){0};
    put_header(&b, 4, 0, 0);
    expect_fail(&b, "version 4", "version 4");
    b = (buf){0};
    put_header(&b, 0x03000000u, 0, 0);
    expect_fail(&b, "big-endian", "big-endian");
    b = (buf){0};
    put_header(&b, 3, 0, UINT64_MAX);
    expect_fail(&b, "metadata count", "n_kv = 2^64-1");
    b = (buf){0};
    put_header(&b, 3, 1ull << 62, 0);
    expect_fail(&b, "tensor count", "n_tensors = 2^62");

    /* key length past EOF and length that would overflow pos + len */
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_u64(&b, 1000); put(&b, "abcdefghijklmnop", 16);
    expect_fail(&b, "past the end", "key past EOF");
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_u64(&b, UINT64_MAX); put(&b, "abcdefghijklmnop", 16);
    expect_fail(&b, "past the end", "key length 2^64-1");
    /* string value past EOF */
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "k"); put_u32(&b, GGUF_TYPE_STRING); put_u64(&b, UINT64_MAX - 3);
    put(&b, "0123456789abcdef", 16);
    expect_fail(&b, "past the end", "string value length overflow");
    /* unknown value type */
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "k"); put_u32(&b, 13); put_u64(&b, 0);
    expect_fail(&b, "unknown value type", "value type 13");
    /* array of unknown element type / huge count */
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "k"); put_u32(&b, GGUF_TYPE_ARRAY); put_u32(&b, 99); put_u64(&b, 1);
    put_u64(&b, 0);
    expect_fail(&b, "element type", "array element type 99");
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "k"); put_u32(&b, GGUF_TYPE_ARRAY); put_u32(&b, GGUF_TYPE_UINT64);
    put_u64(&b, 1ull << 61); put_u64(&b, 0);
    expect_fail(&b, "cannot fit", "array count 2^61 of u64 (n*8 overflows)");
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "k"); put_u32(&b, GGUF_TYPE_ARRAY); put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, UINT64_MAX); put_u64(&b, 0);
    expect_fail(&b, "cannot fit", "string array count 2^64-1");
    /* nested arrays deeper than the limit */
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "k"); put_u32(&b, GGUF_TYPE_ARRAY);
    for (int i = 0; i < 40; i++) { put_u32(&b, GGUF_TYPE_ARRAY); put_u64(&b, 1); }
    put_u32(&b, GGUF_TYPE_UINT8); put_u64(&b, 0);
    expect_fail(&b, "nested", "deep nesting");
    /* bool that is not 0/1, duplicate keys */
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "k"); put_u32(&b, GGUF_TYPE_BOOL); put_u8(&b, 2);
    expect_fail(&b, "bool", "bool 2");
    b = (buf){0};
    put_header(&b, 3, 0, 2);
    put_str(&b, "k"); put_u32(&b, GGUF_TYPE_UINT8); put_u8(&b, 1);
    put_str(&b, "k"); put_u32(&b, GGUF_TYPE_UINT8); put_u8(&b, 2);
    expect_fail(&b, "duplicate", "duplicate key");
    /* alignment */
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "general.alignment"); put_u32(&b, GGUF_TYPE_UINT32); put_u32(&b, 48);
    expect_fail(&b, "power of two", "alignment 48");
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "general.alignment"); put_u32(&b, GGUF_TYPE_UINT32); put_u32(&b, 0);
    expect_fail(&b, "power of two", "alignment 0");
    b = (buf){0};
    put_header(&b, 3, 0, 1); put_str(&b, "general.alignment"); put_u32(&b, GGUF_TYPE_UINT8); put_u8(&b, 32);
    expect_fail(&b, "uint32", "alignment as uint8");

    /* tensor infos: too many dims, dims product overflow, row not a block
     * multiple, misaligned offset, data past EOF (offset and size) */
    b = (buf){0};
    put_header(&b, 3, 1, 0); put_str(&b, "t"); put_u32(&b, 5);
    for (int i = 0; i < 5; i++) put_u64(&b, 1);
    put_u32(&b, 0); put_u64(&b, 0);
    expect_fail(&b, "dimensions", "5 dims");
    b = (buf){0};
    put_header(&b, 3, 1, 0); put_str(&b, "t"); put_u32(&b, 3);
    put_u64(&b, 1ull << 32); put_u64(&b, 1ull << 32); put_u64(&b, 1ull << 32);
    put_u32(&b, 0); put_u64(&b, 0);
    expect_fail(&b, "overflow", "dims product 2^96");
    b = (buf){0};
    put_header(&b, 3, 1, 0); put_str(&b, "t"); put_u32(&b, 2);
    put_u64(&b, 1ull << 31); put_u64(&b, 1ull << 31);
    put_u32(&b, GGML_TYPE_F32); put_u64(&b, 0);
    expect_fail(&b, "byte size overflows", "2^62 floats: 2^64 bytes");
    b = (buf){0};
    put_header(&b, 3, 1, 0); put_str(&b, "t"); put_u32(&b, 2);
    put_u64(&b, 1ull << 31); put_u64(&b, 1ull << 20);
    put_u32(&b, GGML_TYPE_F32); put_u64(&b, 0);
    expect_fail(&b, "past the end", "2^51 floats of data in a tiny file");
    b = (buf){0};
    put_header(&b, 3, 1, 0); put_str(&b, "t"); put_u32(&b, 1); put_u64(&b, 31);
    put_u32(&b, GGML_TYPE_Q4_0); put_u64(&b, 0);
    expect_fail(&b, "block size", "Q4_0 row of 31");
    b = (buf){0};
    put_header(&b, 3, 1, 0); put_str(&b, "t"); put_u32(&b, 1); put_u64(&b, 1);
    put_u32(&b, GGML_TYPE_F32); put_u64(&b, 4);
    expect_fail(&b, "alignment", "offset 4 with alignment 32");
    b = (buf){0};
    put_header(&b, 3, 1, 0); put_str(&b, "t"); put_u32(&b, 1); put_u64(&b, 4);
    put_u32(&b, GGML_TYPE_F32); put_u64(&b, UINT64_MAX - 31);
    pad_to(&b, 32); for (int i = 0; i < 4; i++) put_f32(&b, 1.0f);
    expect_fail(&b, "past the end", "offset near 2^64");
    b = (buf){0};
    put_header(&b, 3, 2, 0);
    put_str(&b, "t"); put_u32(&b, 1); put_u64(&b, 4); put_u32(&b, GGML_TYPE_F32); put_u64(&b, 0);
    put_str(&b, "t"); put_u32(&b, 1); put_u64(&b, 4); put_u32(&b, GGML_TYPE_F32); put_u64(&b, 32);
    pad_to(&b, 32); for (int i = 0; i < 16; i++) put_f32(&b, 1.0f);
    expect_fail(&b, "duplicate", "duplicate tensor name");

    /* unknown and unsupported tensor types open, and dequantising names them */
    b = (buf){0};
    put_header(&b, 3, 2, 0);
    put_str(&b, "k4"); put_u32(&b, 1); put_u64(&b, 256); put_u32(&b, GGML_TYPE_Q3_K); put_u64(&b, 0);
    put_str(&b, "zz"); put_u32(&b, 1); put_u64(&b, 7); put_u32(&b, 77); put_u64(&b, 160);
    pad_to(&b, 32); for (int i = 0; i < 144; i++) put_u8(&b, 0);
    {
        gguf_file *f = NULL;
        char err[256] = "";
        void *copy = malloc(b.n);
        memcpy(copy, b.p, b.n);
        int st = gguf_open_memory(copy, b.n, &f, err, sizeof err);
        CHECK_MSG(st == GGUF_OK, "%s", err);
        if (f) {
            float out[256];
            const gguf_tensor *k4 = gguf_find_tensor(f, "k4"), *zz = gguf_find_tensor(f, "zz");
            CHECK(k4 && zz && zz->data == NULL);
            CHECK_EQ_INT(gguf_dequantize(k4, out, err, sizeof err), GGUF_E_UNSUPPORTED);
            CHECK_MSG(strstr(err, "Q3_K") && strstr(err, "k4"), "%s", err);
            CHECK_EQ_INT(gguf_dequantize(zz, out, err, sizeof err), GGUF_E_UNSUPPORTED);
            CHECK_MSG(strstr(err, "77"), "%s", err);
            gguf_close(f);
        }
        free(copy);
        free(b.p);
    }

    /* files that are not there / not regular */
    gguf_file *f = NULL;
    char err[256] = "";
    CHECK_EQ_INT(gguf_open("no/such/file.gguf", &f, err, sizeof err), GGUF_E_IO);
    CHECK(f == NULL && strstr(err, "no/such/file.gguf"));
    CHECK_EQ_INT(gguf_open(".", &f, err, sizeof err), GGUF_E_IO);
    CHECK_EQ_INT(gguf_open_memory(NULL, 0, &f, err, sizeof err), GGUF_E_FORMAT);
}

/* --------------------------------------------------- dequantisation */

/* f16 scales that are exact in half precision, so the expected values are
 * exact float products. */
static void test_dequant_blocks(void) {
    const float d = 0.375f, m = -1.25f;
    uint8_t blk[64];
    float out[64], want[64];
    char err[256];
    int q[32];

    /* Q4_0 / Q4_1: weight j < 16 is the low nibble of qs[j], j + 16 the high one */
    for (int j = 0; j < 32; j++) q[j] = (j * 7 + 3) % 16;
    memset(blk, 0, sizeof blk);
    uint16_t hd = rope_f32_to_f16(d), hm = rope_f32_to_f16(m);
    blk[0] = (uint8_t)hd; blk[1] = (uint8_t)(hd >> 8);
    for (int j = 0; j < 16; j++) blk[2 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
    for (int j = 0; j < 32; j++) want[j] = d * (float)(q[j] - 8);
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_Q4_0, blk, 32, out, err, sizeof err));
    CHECK(memcmp(out, want, sizeof(float) * 32) == 0);

    memset(blk, 0, sizeof blk);
    blk[0] = (uint8_t)hd; blk[1] = (uint8_t)(hd >> 8); blk[2] = (uint8_t)hm; blk[3] = (uint8_t)(hm >> 8);
    for (int j = 0; j < 16; j++) blk[4 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
    for (int j = 0; j < 32; j++) want[j] = d * (float)q[j] + m;
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_Q4_1, blk, 32, out, err, sizeof err));
    CHECK(memcmp(out, want, sizeof(float) * 32) == 0);

    /* Q5_0 / Q5_1: bit 4 of weight j is bit j of the little-endian u32 qh */
    for (int j = 0; j < 32; j++) q[j] = (j * 11 + 5) % 32;
    uint32_t qh = 0;
    for (int j = 0; j < 32; j++) qh |= (uint32_t)(q[j] >> 4) << j;
    memset(blk, 0, sizeof blk);
    blk[0] = (uint8_t)hd; blk[1] = (uint8_t)(hd >> 8);
    for (int k = 0; k < 4; k++) blk[2 + k] = (uint8_t)(qh >> (8 * k));
    for (int j = 0; j < 16; j++) blk[6 + j] = (uint8_t)((q[j] & 15) | ((q[j + 16] & 15) << 4));
    for (int j = 0; j < 32; j++) want[j] = d * (float)(q[j] - 16);
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_Q5_0, blk, 32, out, err, sizeof err));
    CHECK(memcmp(out, want, sizeof(float) * 32) == 0);

    memset(blk, 0, sizeof blk);
    blk[0] = (uint8_t)hd; blk[1] = (uint8_t)(hd >> 8); blk[2] = (uint8_t)hm; blk[3] = (uint8_t)(hm >> 8);
    for (int k = 0; k < 4; k++) blk[4 + k] = (uint8_t)(qh >> (8 * k));
    for (int j = 0; j < 16; j++) blk[8 + j] = (uint8_t)((q[j] & 15) | ((q[j + 16] & 15) << 4));
    for (int j = 0; j < 32; j++) want[j] = d * (float)q[j] + m;
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_Q5_1, blk, 32, out, err, sizeof err));
    CHECK(memcmp(out, want, sizeof(float) * 32) == 0);

    /* Q8_0: f16 scale + 32 signed bytes */
    memset(blk, 0, sizeof blk);
    blk[0] = (uint8_t)hd; blk[1] = (uint8_t)(hd >> 8);
    for (int j = 0; j < 32; j++) {
        int v = (j * 37) % 256 - 128;
        blk[2 + j] = (uint8_t)(int8_t)v;
        want[j] = d * (float)v;
    }
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_Q8_0, blk, 32, out, err, sizeof err));
    CHECK(memcmp(out, want, sizeof(float) * 32) == 0);

    /* F16 / BF16 / F32 element-wise, little-endian */
    const float vals[4] = {1.0f, -2.5f, 65504.0f, 0.0f};
    for (int i = 0; i < 4; i++) {
        uint16_t h = rope_f32_to_f16(vals[i]), bf = rope_f32_to_bf16(vals[i]);
        blk[2 * i] = (uint8_t)h; blk[2 * i + 1] = (uint8_t)(h >> 8);
        blk[8 + 2 * i] = (uint8_t)bf; blk[8 + 2 * i + 1] = (uint8_t)(bf >> 8);
    }
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_F16, blk, 4, out, err, sizeof err));
    CHECK(memcmp(out, vals, sizeof vals) == 0);
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_BF16, blk + 8, 3, out, err, sizeof err));
    CHECK(out[0] == 1.0f && out[1] == -2.5f && out[2] == 65536.0f);  /* bf16 rounds 65504 up */
    memcpy(blk, vals, sizeof vals);
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_F32, blk, 4, out, err, sizeof err));
    CHECK(memcmp(out, vals, sizeof vals) == 0);

    CHECK_EQ_INT(gguf_dequantize_raw(GGML_TYPE_Q4_0, blk, 31, out, err, sizeof err), GGUF_E_ARG);
    CHECK_EQ_INT(gguf_dequantize_raw(GGML_TYPE_Q2_K, blk, 256, out, err, sizeof err), GGUF_E_UNSUPPORTED);
    CHECK_MSG(strstr(err, "Q2_K") != NULL, "%s", err);
    CHECK(gguf_type_supported(GGML_TYPE_Q5_1) && !gguf_type_supported(GGML_TYPE_Q2_K));
    CHECK(strcmp(gguf_type_name(GGML_TYPE_BF16), "BF16") == 0 && gguf_type_name(200) == NULL);
}


/* ------------------------------------ against the gguf Python package */

static long read_file(const char *path, void **out) {
    FILE *fp = fopen(path, "rb");
    *out = NULL;
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *out = malloc(n > 0 ? (size_t)n : 1);
    if (n < 0 || fread(*out, 1, (size_t)n, fp) != (size_t)n) n = -1;
    fclose(fp);
    return n;
}

/* Same bits as the reference (NaNs: both NaN). */
static long count_mismatch(const float *a, const float *b, long n) {
    long bad = 0;
    for (long i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) != 0 && !(a[i] != a[i] && b[i] != b[i])) bad++;
    return bad;
}

/* tests/golden/llama/dequant: random blocks dequantised by ggml's numpy
 * reference (gen_dequant_golden.py); ours must give the same bits. */
static void test_dequant_golden(void) {
    static const struct { const char *name; uint32_t type; } types[] = {
        {"Q4_0", GGML_TYPE_Q4_0}, {"Q4_1", GGML_TYPE_Q4_1}, {"Q5_0", GGML_TYPE_Q5_0},
        {"Q5_1", GGML_TYPE_Q5_1}, {"Q8_0", GGML_TYPE_Q8_0}, {"F16", GGML_TYPE_F16},
        {"BF16", GGML_TYPE_BF16}, {"Q4_K", GGML_TYPE_Q4_K}, {"Q5_K", GGML_TYPE_Q5_K},
        {"Q6_K", GGML_TYPE_Q6_K}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char path[256], err[256];
        void *raw, *ref;
        snprintf(path, sizeof path, "golden/llama/dequant/%s.bin", types[i].name);
        long nraw = read_file(path, &raw);
        snprintf(path, sizeof path, "golden/llama/dequant/%s.f32", types[i].name);
        long nref = read_file(path, &ref);
        CHECK_MSG(nraw > 0 && nref > 0, "missing golden/llama/dequant/%s.*", types[i].name);
        if (nraw > 0 && nref > 0) {
            long n = nref / 4;
            CHECK_EQ_INT((uint64_t)nraw, n / gguf_type_block_size(types[i].type) * gguf_type_block_bytes(types[i].type));
            float *out = malloc(sizeof(float) * (size_t)n);
            CHECK_OK_G(gguf_dequantize_raw(types[i].type, raw, (uint64_t)n, out, err, sizeof err));
            long bad = count_mismatch(out, ref, n);
            CHECK_MSG(bad == 0, "%s: %ld of %ld values differ from the gguf package", types[i].name, bad, n);
            free(out);
        }
        free(raw);
        free(ref);
    }
}

/* K-quants by hand: values that follow from the layout alone (gguf.c's
 * comment), then a malformed super-block (Inf/NaN f16 scale) of each type is
 * refused with GGUF_E_FORMAT and the output left untouched. */
static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void test_kquant_blocks(void) {
    uint8_t blk[2 * 210];
    float out[512];
    char err[256];
    /* Q4_K: d = 0.5, dmin = 0.25; sub-block 0 scale 3 min 2, sub-block 5
     * scale 7 + 16 (top bits from byte 1) min 1 + 32 (top bits of byte 5). */
    memset(blk, 0, sizeof blk);
    put16(blk, 0x3800); put16(blk + 2, 0x3400);
    blk[4 + 0] = 3; blk[4 + 4] = 2;
    blk[4 + 1] = 1 << 6; blk[4 + 5] = 2 << 6; blk[4 + 9] = 7 | (1 << 4);
    for (int i = 0; i < 128; i++) blk[16 + i] = (uint8_t)((i % 16) | ((15 - i % 16) << 4));
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_Q4_K, blk, 256, out, err, sizeof err));
    CHECK(out[0] == 0.5f * 3 * 0 - 0.25f * 2 && out[7] == 0.5f * 3 * 7 - 0.25f * 2);
    /* weight 160 + l: sub-block 5 = high nibbles of qs[64 + l], scale 23, min 33 */
    CHECK_MSG(out[160 + 2] == 0.5f * 23 * 13 - 0.25f * 33, "%g", out[162]);
    /* Q6_K: d = 2 at the end, scales[0] = -3, ql[0] = 0x21, qh[0] = 0b11 -> q = 0x31 - 32 */
    memset(blk, 0, sizeof blk);
    put16(blk + 208, 0x4000);
    blk[192] = (uint8_t)(int8_t)-3; blk[194] = 5; blk[196] = (uint8_t)(int8_t)-3;
    blk[0] = 0x21; blk[128] = 0x03 | (0x2 << 2);
    CHECK_OK_G(gguf_dequantize_raw(GGML_TYPE_Q6_K, blk, 256, out, err, sizeof err));
    CHECK_MSG(out[0] == 2.0f * -3 * (float)(0x31 - 32), "%g", out[0]);
    CHECK_MSG(out[32] == 2.0f * 5 * (float)((0 | (2 << 4)) - 32), "%g", out[32]);
    CHECK(out[64] == 2.0f * -3 * (float)((0x2 | (0 << 4)) - 32));

    static const struct { uint32_t type; int bytes, scale_at; } kt[] = {
        {GGML_TYPE_Q4_K, 144, 2}, {GGML_TYPE_Q5_K, 176, 0}, {GGML_TYPE_Q6_K, 210, 208}};
    for (int i = 0; i < 3; i++) {
        for (int bad = 0; bad < 2; bad++) {
            memset(blk, 0, sizeof blk);
            /* the second block is the malformed one: Inf, then NaN */
            put16(blk + kt[i].bytes + kt[i].scale_at, bad ? 0x7E00 : 0x7C00);
            for (int j = 0; j < 512; j++) out[j] = 42.0f;
            CHECK_EQ_INT(gguf_dequantize_raw(kt[i].type, blk, 512, out, err, sizeof err),
                         GGUF_E_FORMAT);
            CHECK_MSG(strstr(err, "block 1") && strstr(err, "malformed"), "%s", err);
            int untouched = 1;
            for (int j = 0; j < 512; j++) untouched &= out[j] == 42.0f;
            CHECK_MSG(untouched, "%s: output written before the error", gguf_type_name(kt[i].type));
        }
    }
}

/* The Gemma 3 270M file (make deps): its Q4_K and Q6_K rows equal the gguf
 * package's (gen_kquant_golden.py); the file truncated anywhere is refused. */
static void test_gemma_file(void) {
    FILE *fp = fopen(GEMMA, "rb");
    if (!fp) {
        printf("test_gguf: SKIP Gemma checks: %s not found (run `make deps`)\n", GEMMA);
        return;
    }
    fclose(fp);
    gguf_file *f = NULL;
    char err[256];
    CHECK_OK_G(gguf_open(GEMMA, &f, err, sizeof err));
    if (!f) return;
    static const struct { const char *tensor, *file; uint64_t row, len; uint32_t type; } ref[] = {
        {"blk.0.attn_output.weight", "golden/llama/dequant/gemma_blk.0.attn_output.weight_row5.f32",
         5, 1024, GGML_TYPE_Q4_K},
        {"blk.0.ffn_down.weight", "golden/llama/dequant/gemma_blk.0.ffn_down.weight_row600.f32",
         600, 2048, GGML_TYPE_Q6_K}};
    float row[2048];
    for (int r = 0; r < 2; r++) {
        const gguf_tensor *t = gguf_find_tensor(f, ref[r].tensor);
        void *want = NULL;
        long n = read_file(ref[r].file, &want);
        CHECK_MSG(t && n == (long)ref[r].len * 4, "%s", ref[r].file);
        if (t && n == (long)ref[r].len * 4) {
            CHECK_EQ_INT(t->type, ref[r].type);
            CHECK_OK_G(gguf_dequantize_rows(t, ref[r].row, 1, row, err, sizeof err));
            CHECK_MSG(count_mismatch(row, want, (long)ref[r].len) == 0, "%s differs", ref[r].file);
        }
        free(want);
    }
    /* truncated copies: the header and tensor table parse, the data does not fit */
    const uint64_t size = gguf_file_size(f), data = gguf_data_offset(f);
    gguf_close(f);
    void *whole = NULL;
    long n = read_file(GEMMA, &whole);
    CHECK(n == (long)size);
    const uint64_t cuts[] = {size - 1, size - 4096, data + 1, data - 1, 1000};
    for (size_t i = 0; n == (long)size && i < sizeof cuts / sizeof *cuts; i++) {
        f = NULL;
        int st = gguf_open_memory(whole, cuts[i], &f, err, sizeof err);
        CHECK_MSG(st == GGUF_E_FORMAT && f == NULL, "cut at %llu: %d", (unsigned long long)cuts[i], st);
        gguf_close(f);
    }
    free(whole);
}

/* ----------------------------------------------------------- real file */

static void test_real_model(void) {
    FILE *fp = fopen(MODEL, "rb");
    if (!fp) {
        printf("test_gguf: SKIP real-model checks: %s not found (run `make deps`)\n", MODEL);
        return;
    }
    fclose(fp);
    gguf_file *f = NULL;
    char err[256] = "";
    int st = gguf_open(MODEL, &f, err, sizeof err);
    CHECK_MSG(st == GGUF_OK, "%s", err);
    if (st) return;
    char arch[32];
    uint32_t u = 0;
    float fv = 0;
    CHECK_EQ_INT(gguf_version(f), 3);
    CHECK_OK_G(gguf_get_cstr(f, "general.architecture", arch, sizeof arch));
    CHECK(strcmp(arch, "llama") == 0);
    CHECK_OK_G(gguf_get_u32(f, "llama.block_count", &u)); CHECK_EQ_INT(u, 30);
    CHECK_OK_G(gguf_get_u32(f, "llama.embedding_length", &u)); CHECK_EQ_INT(u, 576);
    CHECK_OK_G(gguf_get_u32(f, "llama.feed_forward_length", &u)); CHECK_EQ_INT(u, 1536);
    CHECK_OK_G(gguf_get_u32(f, "llama.attention.head_count", &u)); CHECK_EQ_INT(u, 9);
    CHECK_OK_G(gguf_get_u32(f, "llama.attention.head_count_kv", &u)); CHECK_EQ_INT(u, 3);
    CHECK_OK_G(gguf_get_u32(f, "llama.rope.dimension_count", &u)); CHECK_EQ_INT(u, 64);
    CHECK_OK_G(gguf_get_u32(f, "llama.context_length", &u)); CHECK_EQ_INT(u, 8192);
    CHECK_OK_G(gguf_get_u32(f, "llama.vocab_size", &u)); CHECK_EQ_INT(u, 49152);
    CHECK_OK_G(gguf_get_f32(f, "llama.rope.freq_base", &fv)); CHECK(fv == 100000.0f);
    CHECK_OK_G(gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &fv)); CHECK(fv == 1e-5f);
    const gguf_value *toks;
    CHECK_OK_G(gguf_get_array(f, "tokenizer.ggml.tokens", &toks));
    CHECK_EQ_INT(gguf_array_len(toks), 49152);
    gguf_str s;
    CHECK_OK_G(gguf_array_get_str(toks, 2, &s)); CHECK(gguf_str_eq(s, "<|im_end|>"));
    CHECK_EQ_INT(gguf_n_tensors(f), 272);  /* 30 layers x 9 + token_embd + output_norm */

    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    const gguf_tensor *wq = gguf_find_tensor(f, "blk.0.attn_q.weight");
    const gguf_tensor *wk = gguf_find_tensor(f, "blk.29.attn_k.weight");
    const gguf_tensor *nrm = gguf_find_tensor(f, "output_norm.weight");
    const gguf_tensor *down = gguf_find_tensor(f, "blk.7.ffn_down.weight");
    CHECK(emb && wq && wk && nrm && down);
    if (emb && wq && wk && nrm && down) {
        CHECK_EQ_INT(emb->type, GGML_TYPE_Q8_0);
        CHECK_EQ_INT(emb->ne[0], 576); CHECK_EQ_INT(emb->ne[1], 49152);
        CHECK_EQ_INT(wq->type, GGML_TYPE_Q4_1);
        CHECK_EQ_INT(wq->ne[0], 576); CHECK_EQ_INT(wq->ne[1], 576);
        CHECK_EQ_INT(wk->ne[0], 576); CHECK_EQ_INT(wk->ne[1], 192);
        CHECK_EQ_INT(down->ne[0], 1536); CHECK_EQ_INT(down->ne[1], 576);
        CHECK_EQ_INT(nrm->type, GGML_TYPE_F32); CHECK_EQ_INT(nrm->n_dims, 1);
        /* rows of a dequantised matrix match the whole-tensor dequantisation,
         * and the values are finite and of weight-like size */
        float *all = malloc(sizeof(float) * 576 * 576), *rows = malloc(sizeof(float) * 576 * 3);
        CHECK_OK_G(gguf_dequantize(wq, all, err, sizeof err));
        CHECK_OK_G(gguf_dequantize_rows(wq, 100, 3, rows, err, sizeof err));
        CHECK(memcmp(all + 100 * 576, rows, sizeof(float) * 576 * 3) == 0);
        double sum2 = 0, maxabs = 0;
        for (int i = 0; i < 576 * 576; i++) {
            sum2 += (double)all[i] * all[i];
            if (fabs(all[i]) > maxabs) maxabs = fabs(all[i]);
        }
        double rms = sqrt(sum2 / (576.0 * 576.0));
        CHECK_MSG(rms > 1e-3 && rms < 1.0 && maxabs < 64.0, "rms %g max %g", rms, maxabs);
        /* rows dequantised by the gguf package (gen_dequant_golden.py) */
        static const struct { const char *file; uint64_t row; } ref_rows[] = {
            {"golden/llama/dequant/model_token_embd.weight_row1234.f32", 1234},
            {"golden/llama/dequant/model_blk.3.attn_q.weight_row7.f32", 7}};
        for (int r = 0; r < 2; r++) {
            const gguf_tensor *t = r == 0 ? emb : gguf_find_tensor(f, "blk.3.attn_q.weight");
            void *ref;
            long n = read_file(ref_rows[r].file, &ref);
            CHECK_MSG(n == 576 * 4 && t, "%s", ref_rows[r].file);
            if (n == 576 * 4 && t) {
                CHECK_OK_G(gguf_dequantize_rows(t, ref_rows[r].row, 1, rows, err, sizeof err));
                CHECK_MSG(count_mismatch(rows, ref, 576) == 0, "%s differs", ref_rows[r].file);
            }
            free(ref);
        }
        CHECK_OK_G(gguf_dequantize_rows(emb, 49151, 1, rows, err, sizeof err));
        CHECK_EQ_INT(gguf_dequantize_rows(emb, 49151, 2, rows, err, sizeof err), GGUF_E_ARG);
        free(all);
        free(rows);
    }
    gguf_close(f);
}

int main(void) {
    test_small_file(3);
    test_small_file(2);
    test_malformed();
    test_dequant_blocks();
    test_dequant_golden();
    test_kquant_blocks();
    test_real_model();
    test_gemma_file();
    return check_report("test_gguf");
}
