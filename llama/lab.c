/*
 * The context-extension lab (see lab.h): scalings configured as users set
 * them, strided perplexity, passkey retrieval.
 */
#define _POSIX_C_SOURCE 200809L
#include "lab.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *const scaling_names[LAB_N_SCALINGS] = {"none", "linear", "ntk", "dynamic",
                                                          "yarn", "llama3"};

const char *lab_scaling_name(lab_scaling s) {
    return (unsigned)s < LAB_N_SCALINGS ? scaling_names[s] : "?";
}

int lab_scaling_from_name(const char *name) {
    for (int i = 0; i < LAB_N_SCALINGS; i++)
        if (!strcmp(name, scaling_names[i])) return i;
    return -1;
}

int lab_scaling_config(const rope_config *base, int64_t rotary_dim, int64_t trained,
                       lab_scaling s, double factor, rope_config *out, char *err, size_t errlen) {
    if (!base || !out || trained < 1 || rotary_dim < 4) return fail(err, errlen, "bad argument");
    if (!(factor >= 1.0) || factor > 1e6)
        return fail(err, errlen, "scaling factor %g out of range [1, 1e6]", factor);
    rope_config c = *base;
    c.type = ROPE_SCALING_DEFAULT;
    c.factor = factor;
    c.max_position_embeddings = trained;
    c.original_max_position_embeddings = trained;
    switch (s) {
    case LAB_NONE: break;
    case LAB_LINEAR: c.type = ROPE_SCALING_LINEAR; break;
    case LAB_NTK:
        /* "NTK-aware" interpolation (bloc97; YaRN paper eq. 16): the base grows
         * so that the lowest frequency is interpolated by the factor. */
        c.rope_theta = base->rope_theta * pow(factor, (double)rotary_dim / (double)(rotary_dim - 2));
        break;
    case LAB_DYNAMIC: c.type = ROPE_SCALING_DYNAMIC; break;
    case LAB_YARN:
        c.type = ROPE_SCALING_YARN;
        c.beta_fast = 32.0;
        c.beta_slow = 1.0;
        c.attention_factor = NAN; /* derive: 0.1·ln(s) + 1 */
        break;
    case LAB_LLAMA3:
        c.type = ROPE_SCALING_LLAMA3;
        c.low_freq_factor = 1.0;
        c.high_freq_factor = 4.0;
        break;
    default: return fail(err, errlen, "unknown scaling %d", (int)s);
    }
    *out = c;
    return 0;
}

/* -log softmax(row)[target], in double. */
static double row_nll(const float *row, int64_t V, int32_t target) {
    float mx = row[0];
    for (int64_t v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
    double sum = 0.0;
    for (int64_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
    return log(sum) + mx - (double)row[target];
}

/* Scores the targets of one window: rows j of logits predict ids[p + j + 1];
 * a target counts when it lies in [first, end). */
static void score_rows(const float *logits, int64_t V, const int32_t *ids, int64_t p, int64_t nb,
                       int64_t first, int64_t end, double *nll, int64_t *n) {
    for (int64_t j = 0; j < nb; j++) {
        const int64_t target = p + j + 1;
        if (target >= end || target < first) continue;
        *nll += row_nll(logits + j * V, V, ids[target]);
        (*n)++;
    }
}

int lab_ppl(llama_session *s, const int32_t *ids, int64_t n, int64_t window, int64_t stride,
            int32_t bos, float *logits, lab_progress_fn progress, void *pctx,
            lab_ppl_result *res, char *err, size_t errlen) {
    if (!s || !ids || !logits || !res) return fail(err, errlen, "NULL argument");
    const int64_t text_win = bos >= 0 ? window - 1 : window;
    if (n < 2 || text_win < 2 || stride < 1 || stride > text_win)
        return fail(err, errlen, "bad window %lld / stride %lld for %lld tokens", (long long)window,
                    (long long)stride, (long long)n);
    if (window > llama_session_n_ctx(s))
        return fail(err, errlen, "window %lld exceeds the session's context %lld",
                    (long long)window, (long long)llama_session_n_ctx(s));
    const int64_t B = llama_session_max_batch(s), V = llama_session_model(s)->cfg.vocab_size;
    double t0 = now_s();
    memset(res, 0, sizeof *res);
    int64_t prev_end = 0;
    for (int64_t begin = 0; prev_end < n; begin += stride) {
        const int64_t end = begin + text_win < n ? begin + text_win : n;
        const int64_t first = prev_end > begin + 1 ? prev_end : begin + 1;
        llama_session_reset(s);
        if (bos >= 0 && llama_forward(s, &bos, 1, NULL, 0, err, errlen) != 0) return -1;
        for (int64_t p = begin; p < end; p += B) {
            const int64_t nb = end - p < B ? end - p : B;
            /* logits only for the rows that score a target (row j predicts p + j + 1): the
             * context half of a window needs none, which saves the output matmul there (for
             * Gemma's 262k vocabulary, most of a token's cost) */
            const int64_t skip = first - 1 - p <= 0 ? 0 : first - 1 - p >= nb ? nb : first - 1 - p;
            if (llama_forward(s, ids + p, nb, logits, nb - skip, err, errlen) != 0) return -1;
            score_rows(logits, V, ids, p + skip, nb - skip, first, end, &res->nll, &res->n_scored);
            if (progress && end - begin > 4 * B && p + nb < end && ((p - begin) / B) % 16 == 15) {
                char line[160];
                snprintf(line, sizeof line, "window [%lld, %lld): %lld tokens (%.0f s)",
                         (long long)begin, (long long)end, (long long)(p + nb - begin),
                         now_s() - t0);
                progress(pctx, line);
            }
        }
        prev_end = end;
        res->n_windows++;
    }
    res->seconds = now_s() - t0;
    return 0;
}

int lab_ppl_prefixes(llama_session *s, const int32_t *ids, int64_t n, const int64_t *lengths,
                     int k, int32_t bos, float *logits, lab_progress_fn progress, void *pctx,
                     lab_ppl_result *res, char *err, size_t errlen) {
    if (!s || !ids || !lengths || !logits || !res || k < 1) return fail(err, errlen, "NULL argument");
    const int64_t nb0 = bos >= 0 ? 1 : 0, T = lengths[k - 1] - nb0; /* text tokens in the window */
    for (int i = 0; i < k; i++)
        if (lengths[i] - nb0 < 2 || (i && lengths[i] <= lengths[i - 1]))
            return fail(err, errlen, "bad lengths");
    if (T > n) return fail(err, errlen, "%lld text tokens, fewer than %lld", (long long)n, (long long)T);
    if (lengths[k - 1] > llama_session_n_ctx(s))
        return fail(err, errlen, "window %lld exceeds the session's context %lld",
                    (long long)lengths[k - 1], (long long)llama_session_n_ctx(s));
    const int64_t B = llama_session_max_batch(s), V = llama_session_model(s)->cfg.vocab_size;
    const double t0 = now_s();
    memset(res, 0, (size_t)k * sizeof *res);
    double nll = 0.0;          /* over targets 1 .. p + nb - 1 so far */
    int next = 0;              /* the first checkpoint not yet reached */
    llama_session_reset(s);
    if (bos >= 0 && llama_forward(s, &bos, 1, NULL, 0, err, errlen) != 0) return -1;
    for (int64_t p = 0; p < T; p += B) {
        const int64_t nb = T - p < B ? T - p : B;
        if (llama_forward(s, ids + p, nb, logits, nb, err, errlen) != 0) return -1;
        for (int64_t j = 0; j < nb; j++) {
            const int64_t target = p + j + 1;
            /* checkpoint i holds the targets before its text length */
            while (next < k && target >= lengths[next] - nb0) {
                res[next] = (lab_ppl_result){nll, target - 1, 1, now_s() - t0};
                if (progress) {
                    char line[160];
                    snprintf(line, sizeof line, "first %lld tokens: ppl %.4f (%.0f s)",
                             (long long)lengths[next], exp(nll / (double)(target - 1)),
                             res[next].seconds);
                    progress(pctx, line);
                }
                next++;
            }
            if (next == k) break;
            nll += row_nll(logits + j * V, V, ids[target]);
        }
    }
    while (next < k) { /* the last checkpoint: the window's end */
        res[next] = (lab_ppl_result){nll, T - 1, 1, now_s() - t0};
        next++;
    }
    return 0;
}

/* ------------------------------------------------------------ passkey */

/* The prompt of the passkey test as Landmark Attention (Mohtashami & Jaggi
 * 2023) and the YaRN paper use it. */
static const char PK_PREFIX[] =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "it. I will quiz you about the important information there.";
static const char PK_FILLER[] =
    " The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
static const char PK_NEEDLE[] = " The pass key is %d. Remember it. %d is the pass key.";
static const char PK_QUESTION[] = " What is the pass key? The pass key is";
#define PK_ANSWER_ROOM 8 /* tokens kept free for the answer */

static int encode(const tokenizer *tok, const char *text, int32_t **ids, size_t *n, char *err,
                  size_t errlen) {
    char why[200];
    if (tokenizer_encode(tok, text, strlen(text), 0, ids, n, why, sizeof why) != GGUF_OK)
        return fail(err, errlen, "tokenizer: %s", why);
    return 0;
}

int lab_passkey_build(const tokenizer *tok, int64_t length, int32_t bos, int key, double depth01,
                      lab_passkey_prompt *out, char *err, size_t errlen) {
    if (!tok || !out || key < 10000 || key > 99999 || !(depth01 >= 0.0 && depth01 <= 1.0))
        return fail(err, errlen, "bad argument");
    memset(out, 0, sizeof *out);
    char needle[160];
    snprintf(needle, sizeof needle, PK_NEEDLE, key, key);
    int32_t *part[4] = {NULL, NULL, NULL, NULL};
    size_t np[4] = {0, 0, 0, 0};
    const char *text[4] = {PK_PREFIX, PK_FILLER, needle, PK_QUESTION};
    int rc = -1;
    for (int i = 0; i < 4; i++)
        if (encode(tok, text[i], &part[i], &np[i], err, errlen) != 0) goto done;
    const int64_t fixed = (bos >= 0) + (int64_t)(np[0] + np[2] + np[3]) + PK_ANSWER_ROOM;
    if (np[1] == 0 || length < fixed + (int64_t)np[1]) {
        fail(err, errlen, "length %lld is too short for a passkey prompt (needs %lld)",
             (long long)length, (long long)(fixed + (int64_t)np[1]));
        goto done;
    }
    const int64_t n_fill = (length - fixed) / (int64_t)np[1];
    int64_t depth = (int64_t)floor(depth01 * (double)(n_fill + 1));
    if (depth > n_fill) depth = n_fill;
    const int64_t total = fixed - PK_ANSWER_ROOM + n_fill * (int64_t)np[1];
    out->ids = malloc((size_t)total * sizeof *out->ids);
    if (!out->ids) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    int64_t k = 0;
    if (bos >= 0) out->ids[k++] = bos;
#define PUT(i) (memcpy(out->ids + k, part[i], np[i] * sizeof(int32_t)), k += (int64_t)np[i])
    PUT(0);
    for (int64_t f = 0; f <= n_fill; f++) {
        if (f == depth) PUT(2);
        if (f < n_fill) PUT(1);
    }
    PUT(3);
#undef PUT
    out->n = k;
    out->key = key;
    out->depth = depth;
    out->n_filler = n_fill;
    rc = 0;
done:
    for (int i = 0; i < 4; i++) free(part[i]);
    return rc;
}

void lab_passkey_free(lab_passkey_prompt *p) {
    if (!p) return;
    free(p->ids);
    p->ids = NULL;
}

static int32_t argmax(const float *row, int64_t V) {
    int32_t best = 0;
    for (int64_t v = 1; v < V; v++)
        if (row[v] > row[best]) best = (int32_t)v;
    return best;
}

int lab_passkey_run(llama_session *s, const tokenizer *tok, const lab_passkey_prompt *p,
                    float *logits, int *correct, char *answer, size_t cap, char *err,
                    size_t errlen) {
    if (!s || !tok || !p || !p->ids || !logits || !correct || !answer || cap < 16)
        return fail(err, errlen, "bad argument");
    if (p->n + PK_ANSWER_ROOM > llama_session_n_ctx(s))
        return fail(err, errlen, "prompt of %lld tokens does not fit the context %lld",
                    (long long)p->n, (long long)llama_session_n_ctx(s));
    const int64_t B = llama_session_max_batch(s), V = llama_session_model(s)->cfg.vocab_size;
    llama_session_reset(s);
    for (int64_t i = 0; i < p->n; i += B) {
        const int64_t nb = p->n - i < B ? p->n - i : B;
        const int last = i + nb == p->n;
        if (llama_forward(s, p->ids + i, nb, logits, last, err, errlen) != 0) return -1;
    }
    size_t len = 0;
    answer[0] = '\0';
    for (int t = 0; t < PK_ANSWER_ROOM; t++) {
        int32_t id = argmax(logits, V);
        if (tokenizer_is_eog(tok, id)) break;
        char piece[64];
        int nbytes = tokenizer_token_bytes(tok, id, 0, piece, sizeof piece);
        if (nbytes > 0 && len + (size_t)nbytes < cap) {
            memcpy(answer + len, piece, (size_t)nbytes);
            len += (size_t)nbytes;
            answer[len] = '\0';
        }
        /* stop once the number is complete: 5 digits and a non-digit after them */
        const char *a = answer;
        while (*a == ' ') a++;
        size_t digits = strspn(a, "0123456789");
        if (digits >= 5 && a[digits] != '\0') break;
        if (t + 1 < PK_ANSWER_ROOM && llama_forward(s, &id, 1, logits, 1, err, errlen) != 0)
            return -1;
    }
    char want[16];
    snprintf(want, sizeof want, "%d", p->key);
    const char *a = answer;
    while (*a == ' ') a++;
    *correct = strncmp(a, want, 5) == 0 && !(a[5] >= '0' && a[5] <= '9');
    return 0;
}

void lab_rng_seed(lab_rng *r, uint64_t seed) {
    r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (r->s == 0) r->s = 1;
}

double lab_rng_uniform(lab_rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

/* Genesis 1:1-2:3, King James Version (public domain), one verse an element (no
 * single string literal longer than C's guaranteed 4095 characters). */
static const char *const builtin_verses[] = {
    "In the beginning God created the heaven and the earth.\n",
    "And the earth was without form, and void; and darkness was upon the face of the deep. "
    "And the Spirit of God moved upon the face of the waters.\n",
    "And God said, Let there be light: and there was light.\n",
    "And God saw the light, that it was good: and God divided the light from the darkness.\n",
    "And God called the light Day, and the darkness he called Night. And the evening and the "
    "morning were the first day.\n",
    "And God said, Let there be a firmament in the midst of the waters, and let it divide "
    "the waters from the waters.\n",
    "And God made the firmament, and divided the waters which were under the firmament from "
    "the waters which were above the firmament: and it was so.\n",
    "And God called the firmament Heaven. And the evening and the morning were the second "
    "day.\n",
    "And God said, Let the waters under the heaven be gathered together unto one place, and "
    "let the dry land appear: and it was so.\n",
    "And God called the dry land Earth; and the gathering together of the waters called he "
    "Seas: and God saw that it was good.\n",
    "And God said, Let the earth bring forth grass, the herb yielding seed, and the fruit "
    "tree yielding fruit after his kind, whose seed is in itself, upon the earth: and it was "
    "so.\n",
    "And the earth brought forth grass, and herb yielding seed after his kind, and the tree "
    "yielding fruit, whose seed was in itself, after his kind: and God saw that it was good.\n",
    "And the evening and the morning were the third day.\n",
    "And God said, Let there be lights in the firmament of the heaven to divide the day from "
    "the night; and let them be for signs, and for seasons, and for days, and years:\n",
    "And let them be for lights in the firmament of the heaven to give light upon the earth: "
    "and it was so.\n",
    "And God made two great lights; the greater light to rule the day, and the lesser light "
    "to rule the night: he made the stars also.\n",
    "And God set them in the firmament of the heaven to give light upon the earth,\n",
    "And to rule over the day and over the night, and to divide the light from the darkness: "
    "and God saw that it was good.\n",
    "And the evening and the morning were the fourth day.\n",
    "And God said, Let the waters bring forth abundantly the moving creature that hath life, "
    "and fowl that may fly above the earth in the open firmament of heaven.\n",
    "And God created great whales, and every living creature that moveth, which the waters "
    "brought forth abundantly, after their kind, and every winged fowl after his kind: and "
    "God saw that it was good.\n",
    "And God blessed them, saying, Be fruitful, and multiply, and fill the waters in the "
    "seas, and let fowl multiply in the earth.\n",
    "And the evening and the morning were the fifth day.\n",
    "And God said, Let the earth bring forth the living creature after his kind, cattle, and "
    "creeping thing, and beast of the earth after his kind: and it was so.\n",
    "And God made the beast of the earth after his kind, and cattle after their kind, and "
    "every thing that creepeth upon the earth after his kind: and God saw that it was good.\n",
    "And God said, Let us make man in our image, after our likeness: and let them have "
    "dominion over the fish of the sea, and over the fowl of the air, and over the cattle, "
    "and over all the earth, and over every creeping thing that creepeth upon the earth.\n",
    "So God created man in his own image, in the image of God created he him; male and "
    "female created he them.\n",
    "And God blessed them, and God said unto them, Be fruitful, and multiply, and replenish "
    "the earth, and subdue it: and have dominion over the fish of the sea, and over the fowl "
    "of the air, and over every living thing that moveth upon the earth.\n",
    "And God said, Behold, I have given you every herb bearing seed, which is upon the face "
    "of all the earth, and every tree, in the which is the fruit of a tree yielding seed; to "
    "you it shall be for meat.\n",
    "And to every beast of the earth, and to every fowl of the air, and to every thing that "
    "creepeth upon the earth, wherein there is life, I have given every green herb for meat: "
    "and it was so.\n",
    "And God saw every thing that he had made, and, behold, it was very good. And the "
    "evening and the morning were the sixth day.\n",
    "Thus the heavens and the earth were finished, and all the host of them.\n",
    "And on the seventh day God ended his work which he had made; and he rested on the "
    "seventh day from all his work which he had made.\n",
    "And God blessed the seventh day, and sanctified it: because that in it he had rested "
    "from all his work which God created and made.\n",
};

char *lab_builtin_text(void) {
    const size_t n = sizeof builtin_verses / sizeof *builtin_verses;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += strlen(builtin_verses[i]);
    char *t = malloc(len + 1);
    if (!t) return NULL;
    t[0] = '\0';
    for (size_t i = 0, k = 0; i < n; i++) {
        size_t m = strlen(builtin_verses[i]);
        memcpy(t + k, builtin_verses[i], m + 1);
        k += m;
    }
    return t;
}
