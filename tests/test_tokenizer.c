/*
 * Byte-level BPE tokenizer from the SmolLM2 GGUF: ids equal llama.cpp's for
 * varied text (tests/golden/llama/tokenizer_cases.txt, produced by
 * gen_llama_golden.py), decode(encode(text)) == text, special tokens only
 * with parse_special, per-token decoding, the ChatML prompt, and random
 * input (valid UTF-8 round-trips; arbitrary bytes never crash).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gguf.h"
#include "tokenizer.h"

#define MODEL "../models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define GOLDEN "golden/llama/"

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Parse "hex<TAB>ids" into text (malloc'd) and ids; returns 0 for comments. */
static int parse_case(char *line, char **text, size_t *tlen, int32_t *ids, size_t *nids, size_t cap) {
    if (line[0] == '#' || line[0] == '\n' || line[0] == 0) return 0;
    char *tab = strchr(line, '\t');
    if (!tab) return -1;
    size_t hl = (size_t)(tab - line);
    if (hl % 2) return -1;
    *text = malloc(hl / 2 + 1);
    for (size_t i = 0; i < hl / 2; i++) {
        int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        (*text)[i] = (char)(hi * 16 + lo);
    }
    (*text)[hl / 2] = 0;
    *tlen = hl / 2;
    *nids = 0;
    char *p = tab + 1, *end;
    for (;;) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (*nids < cap) ids[(*nids)++] = (int32_t)v;
        p = end;
    }
    return 1;
}

static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        i += k;
    }
    return 1;
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
}

static void check_golden_file(const tokenizer *t, const char *path, int parse_special) {
    FILE *fp = fopen(path, "r");
    CHECK_MSG(fp != NULL, "golden file %s missing (tests/golden/llama/gen_llama_golden.py)", path);
    if (!fp) return;
    static char line[1 << 16];
    static int32_t want[4096];
    int cases = 0;
    while (fgets(line, sizeof line, fp)) {
        char *text = NULL;
        size_t tlen = 0, nwant = 0;
        int r = parse_case(line, &text, &tlen, want, &nwant, 4096);
        CHECK_MSG(r >= 0, "bad line in %s: %s", path, line);
        if (r <= 0) {
            free(text);
            continue;
        }
        cases++;
        int32_t *ids = NULL;
        size_t n = 0;
        char err[256] = "";
        int st = tokenizer_encode(t, text, tlen, parse_special, &ids, &n, err, sizeof err);
        CHECK_MSG(st == GGUF_OK, "%s", err);
        int same = n == nwant && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
        CHECK_MSG(same, "ids differ from llama.cpp for %s case '%.60s'", path, text);
        if (!same) {
            print_ids("llama.cpp", want, nwant);
            print_ids("ours     ", ids, n);
        }
        /* round trip: decoding gives the text back (control tokens
         * rendered when they were parsed); invalid UTF-8 came in as U+FFFD,
         * so only valid text can round-trip */
        if (valid_utf8((const unsigned char *)text, tlen)) {
            char *back = NULL;
            size_t blen = 0;
            CHECK(tokenizer_decode(t, ids, n, parse_special, &back, &blen) == GGUF_OK);
            CHECK_MSG(back && blen == tlen && memcmp(back, text, tlen) == 0,
                      "round trip of '%.60s' gave '%.60s'", text, back ? back : "(null)");
            free(back);
        }
        free(ids);
        free(text);
    }
    fclose(fp);
    CHECK_MSG(cases >= 2, "%s has only %d cases", path, cases);
    printf("test_tokenizer: %d cases from %s\n", cases, path);
}

static void check_prompt(const tokenizer *t) {
    FILE *fp = fopen(GOLDEN "prompt.txt", "rb");
    FILE *fi = fopen(GOLDEN "prompt_ids.txt", "r");
    CHECK(fp && fi);
    if (!fp || !fi) {
        if (fp) fclose(fp);
        if (fi) fclose(fi);
        return;
    }
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text, fp);
    fclose(fp);
    int32_t want[256];
    size_t nwant = 0;
    while (nwant < 256 && fscanf(fi, "%d", &want[nwant]) == 1) nwant++;
    fclose(fi);
    CHECK_EQ_INT(nwant, 64);
    int32_t *ids = NULL;
    size_t n = 0;
    char err[256];
    CHECK(tokenizer_encode(t, text, len, 0, &ids, &n, err, sizeof err) == GGUF_OK);
    CHECK(n >= nwant);
    CHECK_MSG(n >= nwant && memcmp(ids, want, nwant * sizeof *ids) == 0,
              "the prompt's first 64 ids differ from llama.cpp's");
    free(ids);
}

static void check_behaviour(const tokenizer *t) {
    char err[256];
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_EQ_INT(tokenizer_n_vocab(t), 49152);
    CHECK_EQ_INT(tokenizer_bos(t), 1);
    CHECK_EQ_INT(tokenizer_eos(t), 2);
    int32_t im_start = tokenizer_find(t, "<|im_start|>"), im_end = tokenizer_find(t, "<|im_end|>");
    int32_t eot = tokenizer_find(t, "<|endoftext|>");
    CHECK_EQ_INT(im_start, 1);
    CHECK_EQ_INT(im_end, 2);
    CHECK_EQ_INT(eot, 0);
    CHECK(tokenizer_is_eog(t, im_end) && tokenizer_is_eog(t, eot) && !tokenizer_is_eog(t, im_start));
    CHECK(tokenizer_is_special(t, im_start) && !tokenizer_is_special(t, 1000));
    CHECK(tokenizer_find(t, "no such token text") == -1);

    /* special tokens only with parse_special */
    const char *s = "<|im_start|>";
    CHECK(tokenizer_encode(t, s, strlen(s), 1, &ids, &n, err, sizeof err) == GGUF_OK);
    CHECK(n == 1 && ids[0] == im_start);
    free(ids);
    CHECK(tokenizer_encode(t, s, strlen(s), 0, &ids, &n, err, sizeof err) == GGUF_OK);
    CHECK(n > 1);
    for (size_t i = 0; i < n; i++) CHECK(ids[i] != im_start);
    free(ids);

    /* empty text, bad ids */
    CHECK(tokenizer_encode(t, "", 0, 1, &ids, &n, err, sizeof err) == GGUF_OK);
    CHECK(n == 0);
    free(ids);
    char *out = NULL;
    size_t olen = 0;
    int32_t bad[2] = {5, 49152};
    CHECK(tokenizer_decode(t, bad, 2, 0, &out, &olen) == GGUF_E_ARG && out == NULL);
    CHECK(tokenizer_token_bytes(t, -1, 0, NULL, 0) == -1);

    /* control tokens render only on request; per-token bytes concatenate
     * to the full decode, and a short buffer gets a prefix + full length */
    char b[64];
    CHECK_EQ_INT(tokenizer_token_bytes(t, im_end, 0, b, sizeof b), 0);
    CHECK_EQ_INT(tokenizer_token_bytes(t, im_end, 1, b, sizeof b), 10);
    CHECK(memcmp(b, "<|im_end|>", 10) == 0);
    const char *txt = "Stream me: caf\xc3\xa9 \xf0\x9f\x98\x80 ok";
    CHECK(tokenizer_encode(t, txt, strlen(txt), 0, &ids, &n, err, sizeof err) == GGUF_OK);
    char joined[256];
    size_t jl = 0;
    for (size_t i = 0; i < n; i++) {
        int k = tokenizer_token_bytes(t, ids[i], 0, joined + jl, sizeof joined - jl);
        CHECK(k >= 0);
        jl += (size_t)k;
    }
    CHECK(jl == strlen(txt) && memcmp(joined, txt, jl) == 0);
    int whole = tokenizer_token_bytes(t, ids[0], 0, NULL, 0);
    CHECK(whole > 1 && tokenizer_token_bytes(t, ids[0], 0, b, 1) == whole && b[0] == 'S');
    free(ids);

    /* the chat prompt helper */
    char *chat = tokenizer_chat_prompt(NULL, "Hi");
    CHECK(chat && strcmp(chat, "<|im_start|>system\n" TOKENIZER_DEFAULT_SYSTEM "<|im_end|>\n"
                               "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") == 0);
    if (chat) {
        CHECK(tokenizer_encode(t, chat, strlen(chat), 1, &ids, &n, err, sizeof err) == GGUF_OK);
        CHECK(n > 10 && ids[0] == im_start && ids[n - 1] == 198);  /* ends "assistant" "\n" */
        int ends = 0;
        for (size_t i = 0; i < n; i++) ends += ids[i] == im_end;
        CHECK_EQ_INT(ends, 2);
        free(ids);
    }
    free(chat);
    chat = tokenizer_chat_prompt("", "Hi");
    CHECK(chat && strcmp(chat, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") == 0);
    free(chat);

    /* random input: arbitrary bytes never crash; valid UTF-8 round-trips */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    static const char *pieces[] = {"a", "Z", " ", "  ", "\n", "\t", "7", "'s", "'", "\xc3\xa9",
                                   "\xe6\x97\xa5", "\xf0\x9f\x98\x80", ".", ",", "<|im_end|>", "\xc2\xa0", "\xd9\xa3"};
    for (int iter = 0; iter < 300; iter++) {
        char buf[200];
        size_t len = 0;
        int mode = iter % 2;
        while (len < 150) {
            check_rand64(&x);
            if (mode) {
                buf[len++] = (char)(x & 0xFF);
            } else {
                const char *p = pieces[(x >> 8) % (sizeof pieces / sizeof *pieces)];
                memcpy(buf + len, p, strlen(p));
                len += strlen(p);
            }
        }
        CHECK(tokenizer_encode(t, buf, len, iter % 3 == 0, &ids, &n, err, sizeof err) == GGUF_OK);
        for (size_t i = 0; i < n; i++) CHECK(ids[i] >= 0 && ids[i] < 49152);
        if (!mode) {
            CHECK(tokenizer_decode(t, ids, n, 1, &out, &olen) == GGUF_OK);
            CHECK_MSG(olen == len && memcmp(out, buf, len) == 0, "random round trip %d", iter);
            free(out);
        }
        free(ids);
    }
}

static void check_bad_files(void) {
    /* a GGUF without tokenizer metadata: a clear error, no crash */
    static const unsigned char empty_gguf[24] = {'G', 'G', 'U', 'F', 3};
    gguf_file *f = NULL;
    char err[256] = "";
    CHECK(gguf_open_memory(empty_gguf, sizeof empty_gguf, &f, err, sizeof err) == GGUF_OK);
    tokenizer *t = NULL;
    CHECK(tokenizer_from_gguf(f, &t, err, sizeof err) == GGUF_E_NOT_FOUND && t == NULL);
    CHECK_MSG(strstr(err, "tokenizer.ggml.model") != NULL, "%s", err);
    gguf_close(f);
}


/* ---- special-token split on synthetic vocabularies (no model needed) ---- */

typedef struct gbuf {
    unsigned char *p;
    size_t n, cap;
} gbuf;

static void gput(gbuf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->cap + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(1);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void gput_u32(gbuf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    gput(b, x, 4);
}
static void gput_u64(gbuf *b, uint64_t v) {
    gput_u32(b, (uint32_t)v);
    gput_u32(b, (uint32_t)(v >> 32));
}
static void gput_str(gbuf *b, const char *s) {
    gput_u64(b, strlen(s));
    gput(b, s, strlen(s));
}

typedef struct spec {
    char text[16];
    int type;
} spec;

/* Vocabulary: "a", "b", "c" (ids 0-2, normal), then the specials (ids 3...);
 * no merges, so raw text becomes one id per byte. */
static tokenizer *split_tokenizer(const spec *sp, int ns) {
    gbuf b = {0};
    gput(&b, "GGUF", 4);
    gput_u32(&b, 3);
    gput_u64(&b, 0);
    gput_u64(&b, 5);
    gput_str(&b, "tokenizer.ggml.model");
    gput_u32(&b, GGUF_TYPE_STRING);
    gput_str(&b, "gpt2");
    gput_str(&b, "tokenizer.ggml.pre");
    gput_u32(&b, GGUF_TYPE_STRING);
    gput_str(&b, "gpt2");
    gput_str(&b, "tokenizer.ggml.tokens");
    gput_u32(&b, GGUF_TYPE_ARRAY);
    gput_u32(&b, GGUF_TYPE_STRING);
    gput_u64(&b, 3 + (uint64_t)ns);
    gput_str(&b, "a");
    gput_str(&b, "b");
    gput_str(&b, "c");
    for (int i = 0; i < ns; i++) gput_str(&b, sp[i].text);
    gput_str(&b, "tokenizer.ggml.token_type");
    gput_u32(&b, GGUF_TYPE_ARRAY);
    gput_u32(&b, GGUF_TYPE_INT32);
    gput_u64(&b, 3 + (uint64_t)ns);
    for (int i = 0; i < 3; i++) gput_u32(&b, TOKEN_TYPE_NORMAL);
    for (int i = 0; i < ns; i++) gput_u32(&b, (uint32_t)sp[i].type);
    gput_str(&b, "tokenizer.ggml.merges");
    gput_u32(&b, GGUF_TYPE_ARRAY);
    gput_u32(&b, GGUF_TYPE_STRING);
    gput_u64(&b, 0);
    gguf_file *f = NULL;
    tokenizer *t = NULL;
    char err[256] = "";
    int st = gguf_open_memory(b.p, b.n, &f, err, sizeof err);
    if (st == GGUF_OK) st = tokenizer_from_gguf(f, &t, err, sizeof err);
    CHECK_MSG(st == GGUF_OK, "synthetic tokenizer: %s", err);
    gguf_close(f);
    free(b.p);
    return t;
}

/* The split as first written (and as llama.cpp states it): for each special
 * in priority order (longest first, lowest id on ties; USER_DEFINED always,
 * CONTROL / UNKNOWN only with parse_special), cut every raw fragment at the
 * leftmost non-overlapping occurrences of its text. Raw bytes become the
 * vocabulary id of that one-byte text. Returns the number of ids. */
static size_t ref_encode(const tokenizer *t, const spec *sp, int ns, const char *text, size_t len,
                         int ps, int32_t *out) {
    int order[16];
    for (int i = 0; i < ns; i++) order[i] = i;
    for (int i = 0; i < ns; i++) /* insertion sort: longer first, then lower id */
        for (int j = i; j > 0; j--) {
            size_t lj = strlen(sp[order[j]].text), lp = strlen(sp[order[j - 1]].text);
            if (lj > lp) {
                int x = order[j];
                order[j] = order[j - 1];
                order[j - 1] = x;
            }
        }
    /* per byte: the special covering it (-1 raw), and the one starting there */
    int32_t *owner = malloc(2 * (len + 1) * sizeof *owner);
    if (!owner) exit(1);
    int32_t *start_id = owner + len + 1;
    for (size_t i = 0; i < len; i++) owner[i] = -1;
    for (size_t i = 0; i < len; i++) start_id[i] = -1;
    for (int k = 0; k < ns; k++) {
        const spec *s = &sp[order[k]];
        size_t sn = strlen(s->text);
        if (!ps && s->type != TOKEN_TYPE_USER_DEFINED) continue;
        size_t i = 0;
        while (i + sn <= len) {
            int free_run = 1;
            for (size_t j = 0; j < sn; j++) free_run &= owner[i + j] < 0 && text[i + j] == s->text[j];
            if (!free_run) {
                i++;
                continue;
            }
            for (size_t j = 0; j < sn; j++) owner[i + j] = 3 + order[k];
            start_id[i] = 3 + order[k];
            i += sn;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (start_id[i] >= 0) {
            out[n++] = start_id[i];
            i += strlen(sp[start_id[i] - 3].text);
        } else {
            char one[2] = {text[i], 0};
            out[n++] = tokenizer_find(t, one);
            i++;
        }
    }
    free(owner);
    return n;
}

static void check_split_case(const spec *sp, int ns, const char *text, int ps, const int32_t *want,
                             size_t nwant) {
    tokenizer *t = split_tokenizer(sp, ns);
    if (!t) return;
    int32_t *ids = NULL, ref[64];
    size_t n = 0;
    char err[256];
    CHECK(tokenizer_encode(t, text, strlen(text), ps, &ids, &n, err, sizeof err) == GGUF_OK);
    size_t nr = ref_encode(t, sp, ns, text, strlen(text), ps, ref);
    CHECK_MSG(n == nwant && nr == nwant && memcmp(ids, want, n * sizeof *ids) == 0 &&
                  memcmp(ref, want, n * sizeof *ids) == 0,
              "split of \"%s\" (parse_special %d): %zu ids, reference %zu, expected %zu", text, ps,
              n, nr, nwant);
    free(ids);
    tokenizer_free(t);
}

static void check_special_split(void) {
    enum { A = 0, B = 1, C = 2, S0 = 3, S1 = 4, S2 = 5 };
    const int CT = TOKEN_TYPE_CONTROL, UD = TOKEN_TYPE_USER_DEFINED;
    /* a longer special later in the text beats a shorter one that starts earlier */
    spec s1[] = {{"ab", CT}, {"bcc", CT}};
    check_split_case(s1, 2, "abcc", 1, (const int32_t[]){A, S1}, 2);
    /* equal lengths: the lower id first, wherever it is */
    spec s2[] = {{"bc", CT}, {"ab", CT}};
    check_split_case(s2, 2, "abc", 1, (const int32_t[]){A, S0}, 2);
    spec s3[] = {{"ab", CT}, {"bc", CT}};
    check_split_case(s3, 2, "abc", 1, (const int32_t[]){S0, C}, 2);
    /* self-overlap: leftmost, non-overlapping */
    spec s4[] = {{"aa", CT}};
    check_split_case(s4, 1, "aaaaa", 1, (const int32_t[]){S0, S0, A}, 3);
    /* the longest match ending at a position is blocked, a shorter one is not */
    spec s5[] = {{"aabb", CT}, {"bbcc", CT}, {"cc", CT}};
    check_split_case(s5, 3, "aabbcc", 1, (const int32_t[]){S0, S2}, 2);
    /* equal lengths: "bca" (lower id) beats the earlier "abc", and "a" takes the rest */
    spec s6[] = {{"bca", CT}, {"abc", CT}, {"a", CT}};
    check_split_case(s6, 3, "abcab", 1, (const int32_t[]){S2, S0, B}, 3);
    /* without parse_special only USER_DEFINED tokens are cut */
    spec s7[] = {{"ab", CT}, {"b", UD}};
    check_split_case(s7, 2, "abab", 1, (const int32_t[]){S0, S0}, 2);
    check_split_case(s7, 2, "abab", 0, (const int32_t[]){A, S1, A, S1}, 4);
    /* the same text twice: the lower id wins (of those eligible) */
    spec s8[] = {{"ca", CT}, {"ca", UD}, {"ca", UD}};
    check_split_case(s8, 3, "cac", 1, (const int32_t[]){S0, C}, 2);
    check_split_case(s8, 3, "cac", 0, (const int32_t[]){S1, C}, 2);

    /* nested specials a .. aaaaaaa: 7 of them end at each 'a' (the split once
     * listed them all, and past 4 per byte fell back to a pass per special):
     * 7-a tokens, then the rest */
    spec nest[7];
    for (int i = 0; i < 7; i++) {
        memset(nest[i].text, 'a', (size_t)i + 1);
        nest[i].text[i + 1] = 0;
        nest[i].type = CT;
    }
    tokenizer *tn = split_tokenizer(nest, 7);
    for (size_t len = 303; tn && len <= 3001; len += 2698) {
        char *text = malloc(len);
        int32_t *ids = NULL;
        size_t n = 0;
        char err[256];
        if (!text) exit(1);
        memset(text, 'a', len);
        CHECK(tokenizer_encode(tn, text, len, 1, &ids, &n, err, sizeof err) == GGUF_OK);
        size_t r7 = len % 7; /* 2 and 5 */
        int ok = n == len / 7 + 1 && ids[n - 1] == 3 + (int32_t)r7 - 1;
        for (size_t i = 0; ok && i + 1 < n; i++) ok = ids[i] == 3 + 6;
        CHECK_MSG(ok, "nested specials on %zu a's: %zu ids", len, n);
        free(ids);
        free(text);
    }
    tokenizer_free(tn);

    /* brute force against the reference on random texts and special sets */
    uint32_t r = 12345;
    int fails = 0;
    for (int iter = 0; iter < 3000 && fails < 5; iter++) {
        spec sp[6];
        int ns = 1 + (int)((r = r * 1103515245u + 12345u) >> 16) % 6;
        for (int i = 0; i < ns; i++) {
            size_t l = 1 + ((r = r * 1103515245u + 12345u) >> 16) % 4;
            for (size_t j = 0; j < l; j++)
                sp[i].text[j] = (char)('a' + ((r = r * 1103515245u + 12345u) >> 16) % 3);
            sp[i].text[l] = 0;
            static const int types[3] = {TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED,
                                         TOKEN_TYPE_UNKNOWN};
            sp[i].type = types[((r = r * 1103515245u + 12345u) >> 16) % 3];
        }
        tokenizer *t = split_tokenizer(sp, ns);
        if (!t) return;
        for (int k = 0; k < 8; k++) {
            char text[40];
            size_t len = ((r = r * 1103515245u + 12345u) >> 16) % 40;
            for (size_t j = 0; j < len; j++)
                text[j] = (char)('a' + ((r = r * 1103515245u + 12345u) >> 16) % 3);
            for (int ps = 0; ps < 2; ps++) {
                int32_t *ids = NULL, ref[64];
                size_t n = 0;
                char err[256];
                int st = tokenizer_encode(t, text, len, ps, &ids, &n, err, sizeof err);
                size_t nr = ref_encode(t, sp, ns, text, len, ps, ref);
                int ok = st == GGUF_OK && n == nr && (n == 0 || memcmp(ids, ref, n * sizeof *ids) == 0);
                CHECK_MSG(ok, "random split %d/%d (parse_special %d, %d specials, text %.*s)", iter,
                          k, ps, ns, (int)len, text);
                fails += !ok;
                free(ids);
            }
        }
        tokenizer_free(t);
    }

    /* nested specials (texts over "ab", mostly 'a', so many of them are
     * suffixes of each other and several end at each byte) on texts of up to
     * 800 bytes, mostly 'a': the split then moves past many covered starts */
    for (int iter = 0; iter < 600 && fails < 5; iter++) {
        spec sp[16];
        int ns = 1 + (int)((r = r * 1103515245u + 12345u) >> 16) % 16;
        for (int i = 0; i < ns; i++) {
            size_t l = 1 + ((r = r * 1103515245u + 12345u) >> 16) % 15;
            for (size_t j = 0; j < l; j++)
                sp[i].text[j] = ((r = r * 1103515245u + 12345u) >> 16) % 6 ? 'a' : 'b';
            sp[i].text[l] = 0;
            static const int types[3] = {TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED,
                                         TOKEN_TYPE_UNKNOWN};
            sp[i].type = types[((r = r * 1103515245u + 12345u) >> 16) % 3];
        }
        tokenizer *t = split_tokenizer(sp, ns);
        if (!t) return;
        for (int k = 0; k < 4; k++) {
            char text[800];
            size_t len = ((r = r * 1103515245u + 12345u) >> 16) % 800;
            unsigned every = 2 + ((r = r * 1103515245u + 12345u) >> 16) % 40;
            for (size_t j = 0; j < len; j++) {
                unsigned x = ((r = r * 1103515245u + 12345u) >> 16) % (2 * every);
                text[j] = x == 0 ? 'b' : x == 1 ? 'c' : 'a';
            }
            for (int ps = 0; ps < 2; ps++) {
                int32_t *ids = NULL, ref[800];
                size_t n = 0;
                char err[256];
                int st = tokenizer_encode(t, text, len, ps, &ids, &n, err, sizeof err);
                size_t nr = ref_encode(t, sp, ns, text, len, ps, ref);
                int ok = st == GGUF_OK && n == nr && (n == 0 || !memcmp(ids, ref, n * sizeof *ids));
                CHECK_MSG(ok, "nested split %d/%d (parse_special %d, %d specials, %zu bytes)", iter,
                          k, ps, ns, len);
                fails += !ok;
                free(ids);
            }
        }
        tokenizer_free(t);
    }
}

int main(void) {
    check_bad_files();
    check_special_split();
    FILE *fp = fopen(MODEL, "rb");
    if (!fp) {
        printf("test_tokenizer: SKIP model checks: %s not found (run `make deps`)\n", MODEL);
        return check_report("test_tokenizer");
    }
    fclose(fp);
    gguf_file *f = NULL;
    char err[256] = "";
    int st = gguf_open(MODEL, &f, err, sizeof err);
    CHECK_MSG(st == GGUF_OK, "%s", err);
    if (st) return check_report("test_tokenizer");
    tokenizer *t = NULL;
    st = tokenizer_from_gguf(f, &t, err, sizeof err);
    gguf_close(f);  /* the tokenizer keeps its own copies */
    CHECK_MSG(st == GGUF_OK, "%s", err);
    if (st) return check_report("test_tokenizer");
    check_golden_file(t, GOLDEN "tokenizer_cases.txt", 0);
    check_golden_file(t, GOLDEN "tokenizer_special_cases.txt", 1);
    check_golden_file(t, GOLDEN "tokenizer_random_cases.txt", 0);
    check_prompt(t);
    check_behaviour(t);
    tokenizer_free(t);
    return check_report("test_tokenizer");
}
