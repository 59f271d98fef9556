/*
 * libFuzzer harness: the byte-level BPE tokenizer (llama/tokenizer.c).
 * First byte even: the rest is text for a fixed tokenizer (all 256 byte
 * tokens, a few merges, a control and a user-defined special); encoding must
 * succeed, every id must be in range, and valid UTF-8 must round-trip through
 * decode (invalid bytes are read as U+FFFD by design). First byte odd: the
 * rest is a GGUF file whose tokenizer is loaded; if accepted, it encodes and
 * decodes a fixed text and the input itself. Crash, leak or trap = bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

typedef struct fbuf {
    unsigned char *p;
    size_t n, cap;
} fbuf;

static void fput(fbuf *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void fput64(fbuf *b, uint64_t v) {
    for (int i = 0; i < 8; i++) fput(b, &(unsigned char){(unsigned char)(v >> (8 * i))}, 1);
}
static void fput32(fbuf *b, uint32_t v) {
    for (int i = 0; i < 4; i++) fput(b, &(unsigned char){(unsigned char)(v >> (8 * i))}, 1);
}
static void fstr(fbuf *b, const char *s) {
    fput64(b, strlen(s));
    fput(b, s, strlen(s));
}

/* GPT-2 bytes_to_unicode: printable bytes stand for themselves, the other
 * 68 become U+0100 + k in byte order; returned as UTF-8. */
static void byte_token(int byte, char out[4]) {
    unsigned cp;
    if ((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255)) {
        cp = (unsigned)byte;
    } else {
        unsigned k = 0;
        for (int b = 0; b < byte; b++)
            if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) k++;
        cp = 256 + k;
    }
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

static const char *const merges[] = {"t h", "th e", "\xC4\xA0 t", "\xC4\xA0t he", "a a", "aa aa", "i n",
                                     "in g", "\xC4\xA0 \xC4\xA0"};
static const char *const merged[] = {"th", "the", "\xC4\xA0t", "\xC4\xA0the", "aa", "aaaa", "in", "ing",
                                     "\xC4\xA0\xC4\xA0"};
enum { N_MERGES = sizeof merges / sizeof merges[0] };

static tokenizer *fixed_tokenizer(void) {
    fbuf b = {0};
    fput(&b, "GGUF", 4);
    fput32(&b, 3);
    fput64(&b, 0);
    fput64(&b, 5);
    fstr(&b, "tokenizer.ggml.model");
    fput32(&b, GGUF_TYPE_STRING);
    fstr(&b, "gpt2");
    fstr(&b, "tokenizer.ggml.pre");
    fput32(&b, GGUF_TYPE_STRING);
    fstr(&b, "smollm");
    const uint64_t nv = 256 + N_MERGES + 2;
    fstr(&b, "tokenizer.ggml.tokens");
    fput32(&b, GGUF_TYPE_ARRAY);
    fput32(&b, GGUF_TYPE_STRING);
    fput64(&b, nv);
    for (int i = 0; i < 256; i++) {
        char t[4];
        byte_token(i, t);
        fstr(&b, t);
    }
    for (int i = 0; i < N_MERGES; i++) fstr(&b, merged[i]);
    fstr(&b, "<|im_end|>");
    fstr(&b, "<|user|>");
    fstr(&b, "tokenizer.ggml.token_type");
    fput32(&b, GGUF_TYPE_ARRAY);
    fput32(&b, GGUF_TYPE_INT32);
    fput64(&b, nv);
    for (uint64_t i = 0; i < nv - 2; i++) fput32(&b, TOKEN_TYPE_NORMAL);
    fput32(&b, TOKEN_TYPE_CONTROL);
    fput32(&b, TOKEN_TYPE_USER_DEFINED);
    fstr(&b, "tokenizer.ggml.merges");
    fput32(&b, GGUF_TYPE_ARRAY);
    fput32(&b, GGUF_TYPE_STRING);
    fput64(&b, N_MERGES);
    for (int i = 0; i < N_MERGES; i++) fstr(&b, merges[i]);
    gguf_file *f = NULL;
    tokenizer *t = NULL;
    if (gguf_open_memory(b.p, b.n, &f, NULL, 0) != GGUF_OK || tokenizer_from_gguf(f, &t, NULL, 0) != GGUF_OK)
        abort();
    gguf_close(f);
    free(b.p);
    return t;
}

/* Strict UTF-8 (no overlongs, surrogates, or code points past U+10FFFF). */
static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!k || i + k > n) return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        if (k == 3 && ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F))) return 0;
        if (k == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))) return 0;
        i += k;
    }
    return 1;
}

static void encode_check(const tokenizer *t, const uint8_t *text, size_t n, int round_trip) {
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (tokenizer_encode(t, (const char *)text, n, 1, &ids, &n_ids, NULL, 0) != GGUF_OK) {
        free(ids);
        return; /* out of memory only */
    }
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= tokenizer_n_vocab(t)) __builtin_trap();
    char *out = NULL;
    size_t len = 0;
    if (tokenizer_decode(t, ids, n_ids, 1, &out, &len) != GGUF_OK) __builtin_trap();
    if (round_trip && (len != n || (n && memcmp(out, text, n) != 0))) __builtin_trap();
    free(out);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static tokenizer *fixed;
    if (!fixed) fixed = fixed_tokenizer(); /* kept for the process's life */
    if (size == 0) return 0;
    if (data[0] % 2 == 0) {
        encode_check(fixed, data + 1, size - 1, valid_utf8(data + 1, size - 1));
        return 0;
    }
    gguf_file *f = NULL;
    tokenizer *t = NULL;
    char err[256];
    if (gguf_open_memory(data + 1, size - 1, &f, err, sizeof err) == GGUF_OK &&
        tokenizer_from_gguf(f, &t, err, sizeof err) == GGUF_OK) {
        static const char text[] = "Hello <|im_end|> world 123 \xC3\xA9t\xC3\xA9 aaaa\n\n  x";
        encode_check(t, (const uint8_t *)text, sizeof text - 1, 0);
        encode_check(t, data + 1, size - 1 < 4096 ? size - 1 : 4096, 0);
        char piece[64];
        for (int32_t id = -1; id <= tokenizer_n_vocab(t) && id < 64; id++)
            tokenizer_token_bytes(t, id, id % 2, piece, sizeof piece);
    }
    tokenizer_free(t);
    gguf_close(f);
    return 0;
}
