/*
 * Hostile calls to the C API (issue 14): impossible counts and strides next to
 * arrays that really are short, non-finite parameters on every path, overflow
 * bait. Each caller array lies at the very end of a readable page followed by
 * an inaccessible one, so a single read past it is a SIGSEGV (also without
 * ASan); every output is filled with a pattern, with guard bytes on both sides,
 * and checked untouched after each refused call.
 *
 * Classes checked:
 *   - an array walked before an impossible count/stride is refused
 *     (rope_table_create_at, rope_table_create_mrope, rope_table_from_cos_sin,
 *     rope_cos_sin, rope_apply ids and cu_seqlens, rope_kv_cache_append and
 *     rope_attention ids) -> ROPE_E_OVERFLOW before the first read;
 *   - a signed overflow (M-RoPE sections whose sum wraps to n_freqs);
 *   - non-finite frequencies: one rule (ROPE_E_PARAM) for the table, table-free
 *     and attention (cached keys) paths, in both precisions;
 *   - the entry points added later: per-layer model (corrupted counts and
 *     indices, names at a page end, a query scale that overflows to Inf),
 *     rope_pool_run counts, axial tables, M-RoPE with four planes (n·4
 *     positions at a page end), freq_divisor arrays at a page end (counts
 *     other than R/2 refused unread; also through a model), cache
 *     shift/remove/read/truncate in all three modes and both f32 and q8
 *     (int64 extremes; the cache compared entry by entry after each refusal),
 *     angles that overflow only where UNROTATED / ROPE_Q8 caches rotate keys
 *     on read or the fused QK-norm append rotates q, and the small helpers.
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "rope.h"

/* ------------------------------------------------------------ guarded memory */

/* n elements of es bytes ending exactly at an inaccessible page. */
static void *tail_array(size_t n, size_t es) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = n * es;
    size_t pages = (bytes + page - 1) / page + 1;
    unsigned char *m = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    if (mprotect(m + (pages - 1) * page, page, PROT_NONE) != 0) {
        perror("mprotect");
        exit(1);
    }
    return m + (pages - 1) * page - bytes;
}

/* An output buffer with GUARD pattern bytes before and after. */
enum { GUARD = 64 };
typedef struct outbuf {
    unsigned char *raw;
    size_t bytes;
} outbuf;

static void *out_new(outbuf *o, size_t bytes) {
    o->bytes = bytes;
    o->raw = malloc(bytes + 2 * GUARD);
    if (!o->raw) exit(1);
    memset(o->raw, 0xA5, bytes + 2 * GUARD);
    return o->raw + GUARD;
}

static int out_untouched(const outbuf *o) {
    for (size_t i = 0; i < o->bytes + 2 * GUARD; i++)
        if (o->raw[i] != 0xA5) return 0;
    return 1;
}

/* ------------------------------------------------------------ fixtures */

static void freqs_for(rope_freqs *f, int64_t head_dim) {
    rope_config c;
    rope_config_init(&c);
    c.head_dim = head_dim;
    if (rope_freqs_compute(&c, 0, f) != ROPE_OK) {
        fprintf(stderr, "fixture: rope_freqs_compute failed\n");
        exit(1);
    }
}

/* ------------------------------------------------------------ tables */

static void test_table_counts(void) {
    rope_freqs f;
    freqs_for(&f, 8);
    int64_t *pos = tail_array(4, sizeof *pos);
    for (int i = 0; i < 4; i++) pos[i] = i;
    rope_table *t = (rope_table *)(uintptr_t)0x1; /* must stay as it is on error */
    rope_table *const sentinel = t;

    /* counts no array can have: refused before positions[4] is read */
    CHECK_STATUS(rope_table_create_at(&f, pos, INT64_MAX / 4, ROPE_PRECISION_ACCURATE, &t),
                 ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_table_create_at(&f, pos, INT64_MAX, ROPE_PRECISION_COMPAT_F32, &t),
                 ROPE_E_OVERFLOW);
    CHECK(t == sentinel);
    /* the same count with a real array still works */
    rope_table *ok = NULL;
    CHECK_OK(rope_table_create_at(&f, pos, 4, ROPE_PRECISION_ACCURATE, &ok));
    rope_table_free(ok);

    /* rope_cos_sin: impossible n with short outputs and positions */
    outbuf oc, os;
    float *cs = out_new(&oc, 4 * 4 * sizeof(float)), *sn = out_new(&os, 4 * 4 * sizeof(float));
    CHECK_STATUS(rope_cos_sin(&f, pos, 0, INT64_MAX / 8, ROPE_PRECISION_ACCURATE, cs, sn),
                 ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_cos_sin(&f, NULL, 0, INT64_MAX, ROPE_PRECISION_ACCURATE, cs, sn),
                 ROPE_E_OVERFLOW);
    CHECK(out_untouched(&oc) && out_untouched(&os));
    free(oc.raw);
    free(os.raw);

    /* M-RoPE: an impossible n (n·3 positions) */
    rope_freqs fm = f;
    fm.n_mrope_section = 3;
    fm.mrope_section[0] = 2;
    fm.mrope_section[1] = 1;
    fm.mrope_section[2] = 1;
    int64_t *thw = tail_array(6, sizeof *thw);
    for (int i = 0; i < 6; i++) thw[i] = 0;
    CHECK_STATUS(rope_table_create_mrope(&fm, thw, INT64_MAX / 16, ROPE_PRECISION_ACCURATE, &t),
                 ROPE_E_OVERFLOW);
    CHECK(t == sentinel);
    CHECK_OK(rope_table_create_mrope(&fm, thw, 2, ROPE_PRECISION_ACCURATE, &ok));
    rope_table_free(ok);

    /* sections whose int64 sum wraps around to n_freqs (a signed overflow) */
    fm.mrope_section[0] = INT64_MAX;
    fm.mrope_section[1] = INT64_MAX;
    fm.mrope_section[2] = (int64_t)f.n_freqs + 2; /* 2·(2^63-1) + n + 2 == n (mod 2^64) */
    CHECK_STATUS(rope_table_create_mrope(&fm, thw, 2, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
    fm.mrope_section[0] = (int64_t)f.n_freqs + 1; /* one section larger than all frequencies */
    fm.mrope_section[1] = -1;
    fm.mrope_section[2] = 0;
    CHECK_STATUS(rope_table_create_mrope(&fm, thw, 2, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
    CHECK(t == sentinel);

    /* caller rows: an impossible rows x n_freqs next to two 8-float arrays */
    float *c8 = tail_array(8, sizeof(float)), *s8 = tail_array(8, sizeof(float));
    for (int i = 0; i < 8; i++) c8[i] = 1.0f, s8[i] = 0.0f;
    CHECK_STATUS(rope_table_from_cos_sin(c8, s8, INT64_MAX / 4, 4, &t), ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_table_from_cos_sin(c8, s8, INT64_MAX / 32, 4, &t), ROPE_E_OVERFLOW);
    CHECK(t == sentinel);
    CHECK_OK(rope_table_from_cos_sin(c8, s8, 2, 4, &ok));
    rope_table_free(ok);
}

/* ------------------------------------------------------------ non-finite */

static void test_nonfinite_one_rule(void) {
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++) {
        for (int prec = 0; prec < 2; prec++) {
            rope_freqs f;
            freqs_for(&f, 8);
            if (prec == ROPE_PRECISION_ACCURATE) f.inv_freq[2] = bad[b];
            else f.inv_freq_f32[2] = (float)bad[b];
            rope_table *t = NULL;
            CHECK_STATUS(rope_table_create(&f, 16, (rope_precision)prec, &t), ROPE_E_PARAM);
            CHECK(t == NULL);
            int64_t at[2] = {0, 5};
            CHECK_STATUS(rope_table_create_at(&f, at, 2, (rope_precision)prec, &t), ROPE_E_PARAM);
            outbuf oc, os;
            float *cs = out_new(&oc, 16 * sizeof(float)), *sn = out_new(&os, 16 * sizeof(float));
            CHECK_STATUS(rope_cos_sin(&f, NULL, 0, 4, (rope_precision)prec, cs, sn), ROPE_E_PARAM);
            CHECK(out_untouched(&oc) && out_untouched(&os));
            free(oc.raw);
            free(os.raw);
        }

        /* table-free apply and keys rotated on their way into a cache: the same answer */
        rope_freqs f;
        freqs_for(&f, 8);
        f.inv_freq[1] = bad[b];
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = ROPE_STYLE_HALF;
        p.freqs = &f;
        p.rotary_dim = 8;
        outbuf ox;
        float *x = out_new(&ox, 2 * 8 * sizeof(float));
        rope_tensor tx;
        rope_tensor_contiguous(&tx, x, ROPE_F32, 1, 2, 1, 8);
        CHECK_STATUS(rope_apply(&p, NULL, &tx, &tx), ROPE_E_PARAM);
        CHECK(out_untouched(&ox));

        rope_kv_cache_desc d = {1, 1, 8, 16, ROPE_F32, ROPE_KV_ROTATED};
        rope_kv_cache *c = NULL;
        CHECK_OK(rope_kv_cache_create(&d, &c));
        float kv[16] = {0};
        rope_tensor k, v;
        rope_tensor_contiguous(&k, kv, ROPE_F32, 1, 2, 1, 8);
        rope_tensor_contiguous(&v, kv, ROPE_F32, 1, 2, 1, 8);
        CHECK_STATUS(rope_kv_cache_append(c, &p, NULL, &k, &v), ROPE_E_PARAM);
        int64_t len = -1;
        CHECK_OK(rope_kv_cache_length(c, 0, &len));
        CHECK_EQ_INT(len, 0);
        /* and a non-finite attention factor, on the cache path too */
        freqs_for(&f, 8);
        p.attention_factor = (float)bad[b];
        CHECK_STATUS(rope_kv_cache_append(c, &p, NULL, &k, &v), ROPE_E_PARAM);
        CHECK_STATUS(rope_apply(&p, NULL, &tx, &tx), ROPE_E_PARAM);
        CHECK(out_untouched(&ox));
        CHECK_OK(rope_kv_cache_length(c, 0, &len));
        CHECK_EQ_INT(len, 0);
        rope_kv_cache_free(c);
        free(ox.raw);
    }
}

/* Finite frequencies whose angle at a far position overflows (Inf, then NaN
 * cos/sin): refused by tables in both precisions and by table-free apply,
 * while the same frequencies at near positions still work. Found by fuzz_api
 * (fuzz/corpus/api/regress-compat-angle-overflow). */
static void test_angle_overflow(void) {
    rope_freqs f;
    freqs_for(&f, 8);
    f.inv_freq_f32[0] = 1e30f; /* float32: 1e30 · 2^30 > FLT_MAX */
    int64_t far[2] = {1, (int64_t)1 << 30}, near[2] = {0, 1};
    rope_table *t = NULL;
    CHECK_STATUS(rope_table_create_at(&f, far, 2, ROPE_PRECISION_COMPAT_F32, &t), ROPE_E_PARAM);
    CHECK_OK(rope_table_create_at(&f, far, 2, ROPE_PRECISION_ACCURATE, &t)); /* double: no overflow */
    rope_table_free(t);
    t = NULL;
    CHECK_OK(rope_table_create_at(&f, near, 2, ROPE_PRECISION_COMPAT_F32, &t));
    rope_table_free(t);
    t = NULL;
    freqs_for(&f, 8);
    f.inv_freq[3] = 1e300; /* double: 1e300 · 2^53 > DBL_MAX */
    int64_t far53[1] = {(int64_t)1 << 53};
    CHECK_STATUS(rope_table_create_at(&f, far53, 1, ROPE_PRECISION_ACCURATE, &t), ROPE_E_PARAM);
    CHECK(t == NULL);
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_INTERLEAVED;
    p.freqs = &f;
    p.rotary_dim = 8;
    outbuf ox;
    float *x = out_new(&ox, 8 * sizeof(float));
    rope_tensor tx;
    rope_tensor_contiguous(&tx, x, ROPE_F32, 1, 1, 1, 8);
    rope_positions pos = {0};
    pos.ids = far53;
    CHECK_STATUS(rope_apply(&p, &pos, &tx, &tx), ROPE_E_PARAM);
    pos.ids = NULL;
    pos.offset = ((int64_t)1 << 53);
    CHECK_STATUS(rope_apply(&p, &pos, &tx, &tx), ROPE_E_PARAM);
    CHECK(out_untouched(&ox));
    pos.offset = 0; /* angle 0: fine */
    CHECK_OK(rope_apply(&p, &pos, &tx, &tx));
    free(ox.raw);
}

/* ------------------------------------------------------------ M-RoPE planes */

/* Four position planes (Qwen3-Omni / Hunyuan XD-RoPE), contiguous and
 * interleaved: the n·4 positions end at a page end, counts whose n·4 cannot
 * exist are refused before the first read, bad plane counts and sections are
 * refused, and text tokens (every plane equal) still equal the plain table. */
static void test_mrope_planes(void) {
    rope_freqs f;
    freqs_for(&f, 16); /* 8 frequencies */
    rope_freqs fm = f;
    fm.n_mrope_section = 4;
    for (int p = 0; p < 4; p++) fm.mrope_section[p] = 2;
    enum { N = 3 };
    int64_t *thw = tail_array(4 * N, sizeof *thw);
    for (int i = 0; i < 4 * N; i++) thw[i] = i % N; /* token r at r in every plane */
    rope_table *t = (rope_table *)(uintptr_t)0x1;
    rope_table *const sentinel = t;
    const rope_precision A = ROPE_PRECISION_ACCURATE;
    for (int il = 0; il < 2; il++) {
        fm.mrope_interleaved = il;
        rope_table *ok = NULL, *plain = NULL;
        CHECK_OK(rope_table_create_mrope(&fm, thw, N, A, &ok)); /* reads exactly 4·N */
        CHECK_OK(rope_table_create(&f, N, A, &plain));
        CHECK(ok && plain && memcmp(rope_table_cos(ok), rope_table_cos(plain), N * 8 * 4) == 0 &&
              memcmp(rope_table_sin(ok), rope_table_sin(plain), N * 8 * 4) == 0);
        rope_table_free(ok);
        rope_table_free(plain);
        /* n·4 wraps int64, or spans more than 2^56 bytes */
        const int64_t huge[] = {INT64_MAX / 4 + 1, INT64_MAX, (int64_t)1 << 53, (int64_t)1 << 60};
        for (int i = 0; i < 4; i++)
            CHECK_STATUS(rope_table_create_mrope(&fm, thw, huge[i], A, &t), ROPE_E_OVERFLOW);
        /* a negative position in the last plane; an angle there that overflows */
        thw[4 * N - 1] = -5;
        CHECK_STATUS(rope_table_create_mrope(&fm, thw, N, A, &t), ROPE_E_POSITION);
        thw[4 * N - 1] = (int64_t)1 << 53;
        rope_freqs fb = fm;
        fb.inv_freq[7] = 1e300;
        CHECK_STATUS(rope_table_create_mrope(&fb, thw, N, A, &t), ROPE_E_PARAM);
        fb = fm;
        fb.inv_freq_f32[7] = 1e30f;
        CHECK_STATUS(rope_table_create_mrope(&fb, thw, N, ROPE_PRECISION_COMPAT_F32, &t),
                     ROPE_E_PARAM);
        thw[4 * N - 1] = (N - 1);
    }
    /* plane counts and sections outside their arrays and sums */
    const int bad_planes[] = {0, -1, 5, ROPE_MAX_MROPE_PLANES + 1, 1 << 30};
    for (int i = 0; i < 5; i++) {
        rope_freqs fb = fm;
        fb.n_mrope_section = bad_planes[i];
        CHECK_STATUS(rope_table_create_mrope(&fb, thw, N, A, &t), ROPE_E_PARAM);
    }
    rope_freqs fb = fm;
    fb.mrope_interleaved = 2;
    CHECK_STATUS(rope_table_create_mrope(&fb, thw, N, A, &t), ROPE_E_PARAM);
    fb = fm;
    fb.mrope_section[0] = fb.mrope_section[1] = fb.mrope_section[2] = INT64_MAX;
    fb.mrope_section[3] = 8 + 3; /* 3·(2^63-1) + 11 == 8 (mod 2^64) */
    CHECK_STATUS(rope_table_create_mrope(&fb, thw, N, A, &t), ROPE_E_PARAM);
    fb = fm;
    fb.mrope_section[3] = 3; /* sum 9 of 8 frequencies */
    CHECK_STATUS(rope_table_create_mrope(&fb, thw, N, A, &t), ROPE_E_PARAM);
    CHECK(t == sentinel);
    /* the same rules where the sections are born: rope_freqs_compute */
    rope_config c;
    rope_config_init(&c);
    c.head_dim = 16;
    c.n_mrope_section = 4;
    for (int p = 0; p < 4; p++) c.mrope_section[p] = 2;
    rope_freqs out;
    memset(&out, 0x5A, sizeof out);
    rope_freqs out0 = out;
    c.n_mrope_section = 5;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &out), ROPE_E_PARAM);
    c.n_mrope_section = 4;
    c.mrope_section[3] = INT64_MIN;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &out), ROPE_E_PARAM);
    c.mrope_section[0] = c.mrope_section[1] = c.mrope_section[2] = INT64_MAX;
    c.mrope_section[3] = 8 + 3;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &out), ROPE_E_PARAM);
    c.mrope_section[0] = c.mrope_section[1] = c.mrope_section[2] = c.mrope_section[3] = 2;
    c.mrope_interleaved = -1;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &out), ROPE_E_PARAM);
    CHECK(memcmp(&out, &out0, sizeof out) == 0);
    c.mrope_interleaved = 1;
    CHECK_OK(rope_freqs_compute(&c, 0, &out));
    CHECK_EQ_INT(out.n_mrope_section, 4);
}

/* ------------------------------------------------------------ freq_divisor */

/* rope_config.freq_divisor (GGUF rope_freqs.weight): a caller's array of
 * n_freq_divisor doubles, at a page end. A count other than R/2 is refused
 * before it is read; so is any divisor that is not finite and > 0, or one so
 * small that θ/d overflows; *out stays as it was. Also through a rope_model. */
static void test_freq_divisor(void) {
    rope_config c;
    rope_config_init(&c);
    c.head_dim = 8; /* 4 frequencies */
    double *div = tail_array(4, sizeof *div);
    div[0] = 1.0, div[1] = 2.0, div[2] = 1e30, div[3] = 4.0; /* 1e30: identity pair */
    c.freq_divisor = div;
    c.n_freq_divisor = 4;
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(f.inv_freq[2] == 0.0 && f.inv_freq_f32[2] == 0.0f && f.inv_freq[1] > 0.0);
    rope_freqs out;
    memset(&out, 0x5A, sizeof out);
    rope_freqs out0 = out;
    const int64_t counts[] = {5, 3, 0, -1, INT64_MAX, INT64_MIN};
    for (int i = 0; i < 6; i++) {
        c.n_freq_divisor = counts[i];
        CHECK_STATUS(rope_freqs_compute(&c, 0, &out), ROPE_E_PARAM);
    }
    c.n_freq_divisor = 4;
    c.freq_divisor = NULL;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &out), ROPE_E_NULL);
    c.freq_divisor = div;
    const double bad[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, -2.0, 5e-324, 1e-300};
    for (int i = 0; i < 8; i++) {
        double keep = div[3];
        div[3] = bad[i];
        CHECK_STATUS(rope_freqs_compute(&c, 0, &out), ROPE_E_PARAM);
        for (int64_t seq = 1; seq < 1000000; seq *= 1000) { /* every seq_len, every type */
            c.type = ROPE_SCALING_LINEAR;
            c.factor = 2.0;
            CHECK_STATUS(rope_freqs_compute(&c, seq, &out), ROPE_E_PARAM);
            c.type = ROPE_SCALING_DEFAULT;
        }
        div[3] = keep;
    }
    CHECK(memcmp(&out, &out0, sizeof out) == 0);

    /* a model whose set carries a bad divisor: refused by every model call */
    rope_model m;
    rope_model_init(&m);
    div[1] = NAN;
    CHECK_OK(rope_model_add_set(&m, "full_attention", &c, NULL));
    int rot = -7;
    CHECK_STATUS(rope_model_layer_freqs(&m, 0, 0, &out, &rot), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_set_freqs(&m, 0, 0, &out), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    CHECK(rot == -7 && memcmp(&out, &out0, sizeof out) == 0);
    div[1] = 2.0;
    CHECK_OK(rope_model_validate(&m));
    CHECK_OK(rope_model_layer_freqs(&m, 5, 0, &out, &rot));
    CHECK(rot == 1 && out.inv_freq[2] == 0.0);
}

/* ------------------------------------------------------------ apply positions */

static void test_apply_position_arrays(void) {
    rope_freqs f;
    freqs_for(&f, 8);
    rope_table *tab = NULL;
    CHECK_OK(rope_table_create(&f, 64, ROPE_PRECISION_ACCURATE, &tab));
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_INTERLEAVED;
    p.table = tab;
    p.rotary_dim = 8;

    outbuf oin, oout;
    float *in = out_new(&oin, 2 * 3 * 8 * sizeof(float));
    float *out = out_new(&oout, 2 * 3 * 8 * sizeof(float));
    rope_tensor ti, to;
    rope_tensor_contiguous(&ti, in, ROPE_F32, 2, 3, 1, 8);
    rope_tensor_contiguous(&to, out, ROPE_F32, 2, 3, 1, 8);

    /* ids: two batch rows with a stride no array can span */
    int64_t *ids = tail_array(6, sizeof *ids);
    for (int i = 0; i < 6; i++) ids[i] = i;
    rope_positions pos = {0};
    pos.ids = ids;
    const int64_t strides[] = {INT64_MAX / 4, INT64_MAX / 8 + 1, INT64_MAX - 2, (int64_t)1 << 61};
    for (int i = 0; i < 4; i++) {
        pos.ids_batch_stride = strides[i];
        CHECK_STATUS(rope_apply(&p, &pos, &ti, &to), ROPE_E_OVERFLOW);
        CHECK_STATUS(rope_apply_qk(&p, &pos, &ti, &to, NULL, NULL), ROPE_E_OVERFLOW);
    }
    CHECK(out_untouched(&oout));
    pos.ids_batch_stride = 3; /* the real layout works */
    CHECK_OK(rope_apply(&p, &pos, &ti, &to));

    /* a view spanning more than any address space (2^56 bytes): a stride that
     * int64 and the pointer still allow, over two batch rows */
    rope_tensor big = ti;
    big.stride[0] = (int64_t)1 << 55; /* x 4 bytes: 2^57 */
    CHECK_STATUS(rope_apply(&p, NULL, &big, &big), ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_apply(&p, NULL, &ti, &big), ROPE_E_OVERFLOW);
    CHECK(out_untouched(&oin));

    /* cu_seqlens: n_seqs + 1 entries cannot exist */
    rope_tensor t1i, t1o;
    outbuf o1;
    float *y = out_new(&o1, 4 * 8 * sizeof(float));
    rope_tensor_contiguous(&t1i, in, ROPE_F32, 1, 4, 1, 8);
    rope_tensor_contiguous(&t1o, y, ROPE_F32, 1, 4, 1, 8);
    int64_t *cu = tail_array(2, sizeof *cu);
    cu[0] = 0;
    cu[1] = 4;
    rope_positions pc = {0};
    pc.cu_seqlens = cu;
    const int64_t counts[] = {INT64_MAX, INT64_MAX / 8, INT64_MAX / 2};
    for (int i = 0; i < 3; i++) {
        pc.n_seqs = counts[i];
        CHECK_STATUS(rope_apply(&p, &pc, &t1i, &t1o), ROPE_E_OVERFLOW);
    }
    CHECK(out_untouched(&o1));
    pc.n_seqs = 1;
    CHECK_OK(rope_apply(&p, &pc, &t1i, &t1o));
    free(o1.raw);
    free(oin.raw);
    free(oout.raw);
    rope_table_free(tab);
}

/* ------------------------------------------------------------ attention */

static void test_attention_position_arrays(void) {
    rope_kv_cache_desc d = {2, 1, 8, 16, ROPE_F32, ROPE_KV_ROTATED};
    rope_kv_cache *c = NULL;
    CHECK_OK(rope_kv_cache_create(&d, &c));
    float kv[2 * 2 * 8];
    for (int i = 0; i < 32; i++) kv[i] = (float)i / 32.0f;
    rope_tensor k, v;
    rope_tensor_contiguous(&k, kv, ROPE_F32, 2, 2, 1, 8);
    rope_tensor_contiguous(&v, kv, ROPE_F32, 2, 2, 1, 8);

    int64_t *ids = tail_array(4, sizeof *ids);
    for (int i = 0; i < 4; i++) ids[i] = i % 2;
    rope_positions pos = {0};
    pos.ids = ids;
    /* batch row 1 at ids + stride: b·stride overflows, or lies beyond any array */
    const int64_t strides[] = {INT64_MAX, INT64_MAX / 2 + 1, (int64_t)1 << 61};
    for (int i = 0; i < 3; i++) {
        pos.ids_batch_stride = strides[i];
        CHECK_STATUS(rope_kv_cache_append(c, NULL, &pos, &k, &v), ROPE_E_OVERFLOW);
    }
    int64_t len = -1;
    CHECK_OK(rope_kv_cache_length(c, 1, &len));
    CHECK_EQ_INT(len, 0);
    pos.ids_batch_stride = 2;
    CHECK_OK(rope_kv_cache_append(c, NULL, &pos, &k, &v));

    outbuf oo;
    float *o = out_new(&oo, sizeof kv);
    rope_tensor q, out;
    rope_tensor_contiguous(&q, kv, ROPE_F32, 2, 2, 1, 8);
    rope_tensor_contiguous(&out, o, ROPE_F32, 2, 2, 1, 8);
    for (int i = 0; i < 3; i++) {
        pos.ids_batch_stride = strides[i];
        CHECK_STATUS(rope_attention(c, NULL, &pos, &q, &out), ROPE_E_OVERFLOW);
    }
    CHECK(out_untouched(&oo));
    rope_tensor qbig = q;
    qbig.stride[0] = -((int64_t)1 << 55); /* negative: the span is what counts */
    CHECK_STATUS(rope_attention(c, NULL, NULL, &qbig, &out), ROPE_E_OVERFLOW);
    CHECK(out_untouched(&oo));
    pos.ids_batch_stride = 2;
    CHECK_OK(rope_attention(c, NULL, &pos, &q, &out));
    CHECK(!out_untouched(&oo));
    free(oo.raw);
    rope_kv_cache_free(c);
}

/* ------------------------------------------------------------ per-layer model */

static void test_model_entry_points(void) {
    rope_model m;
    rope_model_init(NULL); /* no crash */
    rope_model_init(&m);
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = 8;
    int idx = -7, set = -7, rot = -7;
    double scale = -7.0;
    rope_freqs f;
    memset(&f, 0xA5, sizeof f);
    rope_freqs f0 = f;
    CHECK_STATUS(rope_model_add_set(NULL, "a", &cfg, &idx), ROPE_E_NULL);
    CHECK_STATUS(rope_model_add_set(&m, NULL, &cfg, &idx), ROPE_E_NULL);
    CHECK_STATUS(rope_model_add_set(&m, "a", NULL, &idx), ROPE_E_NULL);
    CHECK_STATUS(rope_model_find_set(&m, NULL, &idx), ROPE_E_NULL);
    CHECK_STATUS(rope_model_layer_set(&m, 0, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_model_set_freqs(NULL, 0, 0, &f), ROPE_E_NULL);
    CHECK_STATUS(rope_model_layer_freqs(&m, 0, 0, NULL, &rot), ROPE_E_NULL);
    CHECK_STATUS(rope_model_validate(NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_model_query_scale(&m, 0, 0, NULL), ROPE_E_NULL);

    /* set names at the end of a page: a 47-byte name ends at its NUL, a name of
     * ROPE_SET_NAME_MAX bytes without one is refused after reading just those */
    char *name = tail_array(4, 1);
    memcpy(name, "ful", 4);
    CHECK_OK(rope_model_add_set(&m, name, &cfg, &idx));
    CHECK_EQ_INT(idx, 0);
    char *longname = tail_array(ROPE_SET_NAME_MAX, 1);
    memset(longname, 'x', ROPE_SET_NAME_MAX);
    idx = -7;
    CHECK_STATUS(rope_model_add_set(&m, longname, &cfg, &idx), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_find_set(&m, longname, &idx), ROPE_E_PARAM);
    CHECK_EQ_INT(idx, -7);
    CHECK_EQ_INT(m.n_sets, 1);

    /* a corrupted struct: counts and indices outside the fixed arrays */
    m.n_layers = 2;
    m.layer_set[0] = 0;
    m.layer_set[1] = ROPE_LAYER_NOPE;
    CHECK_OK(rope_model_validate(&m));
    const int64_t bad_layers[] = {-1, ROPE_MAX_LAYERS + 1, INT64_MAX};
    for (int i = 0; i < 3; i++) {
        rope_model mb = m;
        mb.n_layers = bad_layers[i];
        CHECK_STATUS(rope_model_layer_set(&mb, ROPE_MAX_LAYERS, &set), ROPE_E_PARAM);
        CHECK_STATUS(rope_model_validate(&mb), ROPE_E_PARAM);
    }
    const int bad_sets[] = {-1, ROPE_MAX_SETS + 1};
    for (int i = 0; i < 2; i++) {
        rope_model mb = m;
        mb.n_sets = bad_sets[i];
        CHECK_STATUS(rope_model_set_freqs(&mb, 0, 0, &f), ROPE_E_PARAM);
        CHECK_STATUS(rope_model_find_set(&mb, "ful", &idx), ROPE_E_PARAM);
        CHECK_STATUS(rope_model_add_set(&mb, "b", &cfg, &idx), ROPE_E_PARAM);
    }
    CHECK_STATUS(rope_model_layer_set(&m, -1, &set), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_layer_set(&m, 2, &set), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_set_freqs(&m, -1, 0, &f), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_set_freqs(&m, 1, 0, &f), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_set_freqs(&m, 0, -1, &f), ROPE_E_PARAM);
    m.layer_set[1] = 5; /* a set that does not exist */
    CHECK_STATUS(rope_model_layer_set(&m, 1, &set), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_layer_freqs(&m, 1, 0, &f, &rot), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    m.layer_set[1] = ROPE_LAYER_NOPE;
    /* a set whose config cannot compute: out and rotated untouched */
    m.set[0].rope_theta = NAN;
    CHECK_STATUS(rope_model_layer_freqs(&m, 0, 0, &f, &rot), ROPE_E_PARAM);
    CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    m.set[0].rope_theta = 10000.0;
    CHECK_EQ_INT(set, -7);
    CHECK_EQ_INT(rot, -7);
    CHECK(memcmp(&f, &f0, sizeof f) == 0);

    /* query scaling: non-finite, out of domain, or finite but so large that the
     * scale overflows to Inf at a far position: ROPE_E_PARAM, scale untouched */
    m.query_scaling = ROPE_QUERY_SCALING_ALL_LAYERS;
    m.query_scaling_floor = 8192;
    m.query_scaling_pos_offset = 0;
    const double bad_beta[] = {NAN, INFINITY, -INFINITY, 1e307, -1e307};
    for (int i = 0; i < 5; i++) {
        m.query_scaling_beta = bad_beta[i];
        CHECK_STATUS(rope_model_query_scale(&m, 0, (int64_t)1 << 53, &scale), ROPE_E_PARAM);
        CHECK_STATUS(rope_model_query_scale(&m, 0, 0, &scale), ROPE_E_PARAM);
        CHECK_STATUS(rope_model_validate(&m), ROPE_E_PARAM);
    }
    m.query_scaling_beta = 0.1;
    m.query_scaling_floor = 0; /* a division by zero */
    CHECK_STATUS(rope_model_query_scale(&m, 0, 5, &scale), ROPE_E_PARAM);
    m.query_scaling_floor = 8192;
    m.query_scaling_pos_offset = 2;
    CHECK_STATUS(rope_model_query_scale(&m, 0, 5, &scale), ROPE_E_PARAM);
    m.query_scaling_pos_offset = 1;
    m.query_scaling = (rope_query_scaling_type)7;
    CHECK_STATUS(rope_model_query_scale(&m, 0, 5, &scale), ROPE_E_PARAM);
    m.query_scaling = ROPE_QUERY_SCALING_ALL_LAYERS;
    CHECK_STATUS(rope_model_query_scale(&m, 0, -1, &scale), ROPE_E_POSITION);
    CHECK_STATUS(rope_model_query_scale(&m, 0, ((int64_t)1 << 53) + 1, &scale), ROPE_E_POSITION);
    CHECK(scale == -7.0);
    CHECK_OK(rope_model_validate(&m));
    CHECK_OK(rope_model_query_scale(&m, 1, (int64_t)1 << 53, &scale));
    CHECK(isfinite(scale) && scale > 1.0);
}

/* ------------------------------------------------------------ pool */

static void count_items(void *ctx, int64_t begin, int64_t end) {
    __atomic_fetch_add((int64_t *)ctx, end - begin, __ATOMIC_RELAXED);
}

static void test_pool_run(void) {
    rope_pool *p = NULL;
    CHECK_OK(rope_pool_create(2, &p));
    int64_t n = 0;
    CHECK_STATUS(rope_pool_run(p, 10, 1, NULL, &n), ROPE_E_NULL);
    CHECK_STATUS(rope_pool_run(NULL, 10, 1, NULL, &n), ROPE_E_NULL);
    /* negative counts are refused, fn never called */
    CHECK_STATUS(rope_pool_run(p, -1, 1, count_items, &n), ROPE_E_PARAM);
    CHECK_STATUS(rope_pool_run(p, INT64_MIN, 1, count_items, &n), ROPE_E_PARAM);
    CHECK_STATUS(rope_pool_run(p, 10, -1, count_items, &n), ROPE_E_PARAM);
    CHECK_STATUS(rope_pool_run(NULL, -5, 1, count_items, &n), ROPE_E_PARAM);
    CHECK_EQ_INT(n, 0);
    /* the largest count splits without overflow and covers every item once */
    CHECK_OK(rope_pool_run(p, INT64_MAX, INT64_MAX / 2, count_items, &n));
    CHECK(n == INT64_MAX);
    n = 0;
    CHECK_OK(rope_pool_run(p, INT64_MAX, 0, count_items, &n));
    CHECK(n == INT64_MAX);
    rope_pool_free(p);
}

/* ------------------------------------------------------------ axial tables */

static void test_axial(void) {
    rope_freqs f;
    freqs_for(&f, 8); /* 4 frequencies */
    int64_t *coords = tail_array(4, sizeof *coords); /* 2 axes x 2 tokens */
    for (int i = 0; i < 4; i++) coords[i] = i;
    int *axis = tail_array(2, sizeof(int)), *freq = tail_array(2, sizeof(int));
    axis[0] = 0, axis[1] = 1, freq[0] = 0, freq[1] = 3;
    rope_table *t = (rope_table *)(uintptr_t)0x1;
    rope_table *const sentinel = t;
    const rope_precision A = ROPE_PRECISION_ACCURATE;
    CHECK_STATUS(rope_table_create_axial(NULL, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create_axial(&f, NULL, 2, 2, axis, freq, 2, A, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, NULL, freq, 2, A, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, NULL, 2, A, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, 2, A, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 0, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 9, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 0, axis, freq, 2, A, &t), ROPE_E_PARAM);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, -1, axis, freq, 2, A, &t), ROPE_E_PARAM);
    /* column counts beyond the 2-entry maps: refused before they are walked */
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, ROPE_MAX_FREQS + 1, A, &t),
                 ROPE_E_DIM);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, INT64_MAX, A, &t),
                 ROPE_E_DIM);
    /* token counts beyond the 4-entry coordinates (and any address space) */
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, INT64_MAX, axis, freq, 2, A, &t),
                 ROPE_E_OVERFLOW);
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, (int64_t)1 << 54, axis, freq, 2, A, &t),
                 ROPE_E_OVERFLOW);
    /* maps outside the axes or the frequencies */
    axis[1] = 2;
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    axis[1] = -2;
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    axis[1] = 1;
    freq[1] = 4;
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    freq[1] = -1;
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    freq[1] = 3;
    /* a negative coordinate, a non-finite frequency, an angle that overflows */
    coords[3] = -1;
    CHECK_STATUS(rope_table_create_axial(&f, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_POSITION);
    coords[3] = 3;
    rope_freqs fb = f;
    fb.inv_freq[3] = NAN;
    CHECK_STATUS(rope_table_create_axial(&fb, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    fb = f;
    fb.inv_freq[3] = 1e300;
    coords[3] = (int64_t)1 << 53;
    CHECK_STATUS(rope_table_create_axial(&fb, coords, 2, 2, axis, freq, 2, A, &t), ROPE_E_PARAM);
    CHECK(t == sentinel);
    coords[3] = 3;
    rope_table *ok = NULL;
    CHECK_OK(rope_table_create_axial(&f, coords, 2, 2, axis, freq, 2, A, &ok));
    CHECK_EQ_INT(rope_table_rows(ok), 2);
    CHECK_EQ_INT(rope_table_n_freqs(ok), 2);
    rope_table_free(ok);
    CHECK_EQ_INT(rope_table_rows(NULL), 0);
    CHECK(rope_table_cos(NULL) == NULL && rope_table_sin(NULL) == NULL);
}

/* ------------------------------------------------------------ KV cache edits */

/* Every entry of every row (positions, keys and values as stored), to prove a
 * refused call left the cache as it was. */
typedef struct kv_snap {
    int64_t len[2], pos[2][8];
    float k[2][8 * 32], v[2][8 * 32];
} kv_snap;

static void kv_snapshot(const rope_kv_cache *c, int64_t batch, int64_t D, kv_snap *s) {
    memset(s, 0, sizeof *s);
    for (int64_t b = 0; b < batch; b++) {
        CHECK_OK(rope_kv_cache_length(c, b, &s->len[b]));
        rope_tensor k, v;
        rope_tensor_contiguous(&k, s->k[b], ROPE_F32, 1, s->len[b], 1, D);
        rope_tensor_contiguous(&v, s->v[b], ROPE_F32, 1, s->len[b], 1, D);
        CHECK_OK(rope_kv_cache_read(c, b, 0, s->len[b], &k, &v, s->pos[b]));
    }
}

static int kv_same(const rope_kv_cache *c, int64_t batch, int64_t D, const kv_snap *s0) {
    kv_snap s;
    kv_snapshot(c, batch, D, &s);
    return memcmp(&s, s0, sizeof s) == 0;
}

static void rope_free_params(rope_apply_params *p, const rope_freqs *f) {
    rope_apply_params_init(p);
    p->style = ROPE_STYLE_HALF;
    p->freqs = f;
    p->rotary_dim = 2 * f->n_freqs;
}

static void test_kv_edits(void) {
    const int64_t D = 8;
    rope_freqs f;
    freqs_for(&f, D);
    rope_apply_params rp;
    rope_free_params(&rp, &f);
    CHECK_STATUS(rope_kv_cache_shift(NULL, &rp, 0, 0, 1, 1), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_remove(NULL, 0, 0, 1), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_read(NULL, 0, 0, 0, NULL, NULL, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_truncate(NULL, 0, 0), ROPE_E_NULL);
    CHECK_STATUS(rope_kv_cache_clear(NULL), ROPE_E_NULL);

    const rope_dtype dts[] = {ROPE_F32, ROPE_Q8};
    for (int dm = 0; dm < 6; dm++) { /* both dtypes x the three modes */
        const int di = dm % 2;
        const rope_kv_mode mode = (rope_kv_mode)(dm / 2);
        const int64_t Dc = dts[di] == ROPE_Q8 ? 32 : D; /* q8: a whole block */
        rope_freqs fc;
        freqs_for(&fc, Dc);
        rope_apply_params rc;
        rope_free_params(&rc, &fc);
        rope_kv_cache_desc d = {2, 1, Dc, 8, dts[di], mode};
        /* a ROTATED cache cannot shift at all: its refusal comes after the
         * row and range checks */
        const rope_status e_pos = mode == ROPE_KV_ROTATED ? ROPE_E_UNSUPPORTED : ROPE_E_POSITION;
        const rope_status e_par = mode == ROPE_KV_ROTATED ? ROPE_E_UNSUPPORTED : ROPE_E_PARAM;
        rope_kv_cache *c = NULL;
        CHECK_OK(rope_kv_cache_create(&d, &c));
        float kv[2 * 4 * 32];
        for (int i = 0; i < 2 * 4 * 32; i++) kv[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
        rope_tensor k, v;
        rope_tensor_contiguous(&k, kv, ROPE_F32, 2, 4, 1, Dc);
        rope_tensor_contiguous(&v, kv, ROPE_F32, 2, 4, 1, Dc);
        CHECK_OK(rope_kv_cache_append(c, &rc, NULL, &k, &v));
        kv_snap s0;
        kv_snapshot(c, 2, Dc, &s0);
        CHECK_EQ_INT(s0.len[1], 4);

        /* shift: bad rows, p0 > p1, new positions that overflow int64, go negative or
         * past 2^53, a missing rope: refused, nothing moved */
        CHECK_STATUS(rope_kv_cache_shift(c, &rc, 2, 0, 4, 1), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_shift(c, &rc, -2, 0, 4, 1), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_shift(c, &rc, -1, 3, 1, 1), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_shift(c, &rc, -1, 0, INT64_MAX, INT64_MAX), e_pos);
        CHECK_STATUS(rope_kv_cache_shift(c, &rc, 0, INT64_MIN, INT64_MAX, INT64_MIN), e_pos);
        CHECK_STATUS(rope_kv_cache_shift(c, &rc, -1, 2, 4, -3), e_pos);
        CHECK_STATUS(rope_kv_cache_shift(c, &rc, 1, 0, 4, (int64_t)1 << 53), e_pos);
        if (mode != ROPE_KV_UNROTATED) /* UNROTATED may shift without a rope */
            CHECK_STATUS(rope_kv_cache_shift(c, NULL, -1, 0, 4, 1),
                         mode == ROPE_KV_ROTATED ? ROPE_E_UNSUPPORTED : ROPE_E_NULL);
        /* a finite frequency whose angle at the new position is Inf */
        rope_freqs fcb = fc;
        fcb.inv_freq[0] = 1e300;
        rope_apply_params rcb;
        rope_free_params(&rcb, &fcb);
        CHECK_STATUS(rope_kv_cache_shift(c, &rcb, -1, 0, 4, (int64_t)1 << 40), e_par);
        /* a rope that cannot rotate these keys (rotary_dim, style, no source) */
        rope_apply_params rbad = rc;
        rbad.rotary_dim = Dc + 2;
        CHECK_STATUS(rope_kv_cache_shift(c, &rbad, -1, 0, 4, 1),
                     mode == ROPE_KV_ROTATED ? ROPE_E_UNSUPPORTED : ROPE_E_ROTARY_DIM);
        rbad = rc;
        rbad.freqs = NULL;
        CHECK_STATUS(rope_kv_cache_shift(c, &rbad, -1, 0, 4, 1),
                     mode == ROPE_KV_ROTATED ? ROPE_E_UNSUPPORTED : ROPE_E_NULL);
        CHECK(kv_same(c, 2, Dc, &s0));

        /* remove: bad rows and ranges */
        CHECK_STATUS(rope_kv_cache_remove(c, 2, 0, 4), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_remove(c, INT64_MIN, 0, 4), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_remove(c, -1, 4, 0), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_truncate(c, 2, 0), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_truncate(c, 0, -1), ROPE_E_PARAM);
        CHECK(kv_same(c, 2, Dc, &s0));

        /* read: ranges past the row (int64 extremes), impossible or mismatched
         * outputs: refused with the outputs and positions untouched */
        outbuf ok_, ov, op;
        float *ko = out_new(&ok_, 4 * 32 * sizeof(float));
        float *vo = out_new(&ov, 4 * 32 * sizeof(float));
        int64_t *po = out_new(&op, 4 * sizeof(int64_t));
        rope_tensor kt, vt;
        rope_tensor_contiguous(&kt, ko, ROPE_F32, 1, 4, 1, Dc);
        rope_tensor_contiguous(&vt, vo, ROPE_F32, 1, 4, 1, Dc);
        const int64_t ranges[][2] = {{-1, 1}, {0, -1}, {1, 4}, {5, 0}, {INT64_MAX, 1},
                                     {1, INT64_MAX}, {INT64_MAX, INT64_MAX}, {INT64_MIN, 4}};
        for (int i = 0; i < 8; i++) {
            rope_tensor k1 = kt, v1 = vt;
            k1.shape[1] = v1.shape[1] = ranges[i][1];
            CHECK_STATUS(rope_kv_cache_read(c, 0, ranges[i][0], ranges[i][1], &k1, &v1, po),
                         ROPE_E_PARAM);
        }
        CHECK_STATUS(rope_kv_cache_read(c, 2, 0, 4, &kt, &vt, po), ROPE_E_PARAM);
        CHECK_STATUS(rope_kv_cache_read(c, -1, 0, 4, &kt, &vt, po), ROPE_E_PARAM);
        rope_tensor kbig = kt;
        kbig.stride[1] = (int64_t)1 << 55; /* x 4 bytes x 3 entries: beyond 2^56 */
        CHECK_STATUS(rope_kv_cache_read(c, 0, 0, 4, &kbig, &vt, po), ROPE_E_OVERFLOW);
        CHECK_STATUS(rope_kv_cache_read(c, 0, 0, 4, &kt, &kbig, po), ROPE_E_OVERFLOW);
        kbig = kt;
        kbig.shape[3] = Dc + 1;
        CHECK_STATUS(rope_kv_cache_read(c, 0, 0, 4, &kbig, &vt, po), ROPE_E_SHAPE);
        kbig = kt;
        kbig.dtype = ROPE_Q8; /* storage only, not a tensor dtype */
        CHECK_STATUS(rope_kv_cache_read(c, 0, 0, 4, &kbig, &vt, po), ROPE_E_DTYPE);
        kbig = kt;
        kbig.data = NULL;
        CHECK_STATUS(rope_kv_cache_read(c, 0, 0, 4, &kbig, &vt, po), ROPE_E_NULL);
        CHECK(out_untouched(&ok_) && out_untouched(&ov) && out_untouched(&op));
        CHECK_OK(rope_kv_cache_read(c, 0, 0, 4, &kt, &vt, po));
        CHECK(po[3] == 3);
        /* and the edits still work after every refusal: drop position 1 of row 1,
         * then (where the mode can) move positions 2..3 of row 1 down by one */
        CHECK_OK(rope_kv_cache_remove(c, 1, 1, 2));
        int64_t l1 = -1;
        CHECK_OK(rope_kv_cache_length(c, 1, &l1));
        CHECK_EQ_INT(l1, 3);
        if (mode != ROPE_KV_ROTATED) {
            CHECK_OK(rope_kv_cache_shift(c, mode == ROPE_KV_UNROTATED ? NULL : &rc, 1, 2, 4, -1));
            int64_t p3[3] = {-1, -1, -1};
            CHECK_OK(rope_kv_cache_read(c, 1, 0, 3, NULL, NULL, p3));
            CHECK(p3[0] == 0 && p3[1] == 1 && p3[2] == 2);
        }
        free(ok_.raw);
        free(ov.raw);
        free(op.raw);
        rope_kv_cache_free(c);
    }

    /* a ROTATED cache cannot shift; unknown modes are not caches */
    rope_kv_cache_desc dr = {1, 1, D, 4, ROPE_F32, ROPE_KV_ROTATED};
    rope_kv_cache *cr = NULL;
    CHECK_OK(rope_kv_cache_create(&dr, &cr));
    CHECK_STATUS(rope_kv_cache_shift(cr, &rp, 0, 0, 4, 1), ROPE_E_UNSUPPORTED);
    rope_kv_cache_free(cr);
    const int bad_modes[] = {-1, 3, 1 << 30};
    for (int i = 0; i < 3; i++) {
        dr.mode = (rope_kv_mode)bad_modes[i];
        cr = (rope_kv_cache *)(uintptr_t)0x1;
        CHECK_STATUS(rope_kv_cache_create(&dr, &cr), ROPE_E_PARAM);
        CHECK(cr == (rope_kv_cache *)(uintptr_t)0x1);
    }
}

/* UNROTATED caches rotate keys when attention reads them, and the fused
 * QK-norm append rotates q after storing k: a finite frequency whose angle at
 * a cached or query position is Inf must be refused before anything is
 * written (it once gave NaN behind ROPE_OK, and a half-written q_out). */
static void test_unrotated_angles(void) {
    const rope_dtype dts[] = {ROPE_F32, ROPE_Q8};
    for (int di = 0; di < 2; di++) {
        const int64_t D = 32;
        rope_freqs f, fbig;
        freqs_for(&f, D);
        fbig = f;
        fbig.inv_freq[0] = 1e300;
        rope_apply_params rp, rbig;
        rope_free_params(&rp, &f);
        rope_free_params(&rbig, &fbig);
        rope_kv_cache_desc d = {2, 1, D, 8, dts[di], ROPE_KV_UNROTATED};
        rope_kv_cache *c = NULL;
        CHECK_OK(rope_kv_cache_create(&d, &c));
        float kv[2 * 1 * 32];
        for (int i = 0; i < 64; i++) kv[i] = (float)(i % 5) / 5.0f;
        rope_tensor k, v;
        rope_tensor_contiguous(&k, kv, ROPE_F32, 2, 1, 1, D);
        rope_tensor_contiguous(&v, kv, ROPE_F32, 2, 1, 1, D);
        int64_t ids[2] = {1, (int64_t)1 << 40}; /* row 0 at 1 (fine), row 1 far */
        rope_positions pos = {0};
        pos.ids = ids;
        pos.ids_batch_stride = 1;

        /* fused append: q row 0 would be written before row 1 fails */
        float qin[64];
        for (int i = 0; i < 64; i++) qin[i] = 0.25f;
        outbuf oq;
        float *qo = out_new(&oq, sizeof qin);
        rope_tensor tqi, tqo;
        rope_tensor_contiguous(&tqi, qin, ROPE_F32, 2, 1, 1, D);
        rope_tensor_contiguous(&tqo, qo, ROPE_F32, 2, 1, 1, D);
        rope_qk_norm nm = {NULL, NULL, 1e-6f, 0};
        CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &rbig, &nm, &pos, &tqi, &tqo, &k, &v),
                     ROPE_E_PARAM);
        /* eps 0: an all-zero head vector would be 0·Inf = NaN behind ROPE_OK */
        const float bad_eps[] = {NAN, INFINITY, -INFINITY, -1.0f, 0.0f, -0.0f};
        for (int i = 0; i < 6; i++) {
            nm.eps = bad_eps[i];
            CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &rp, &nm, &pos, &tqi, &tqo, &k, &v),
                         ROPE_E_PARAM);
        }
        nm.eps = 1e-6f;
        CHECK_STATUS(rope_kv_cache_append_qk_norm(NULL, &rp, &nm, &pos, &tqi, &tqo, &k, &v),
                     ROPE_E_NULL);
        CHECK_STATUS(rope_kv_cache_append_qk_norm(c, NULL, &nm, &pos, &tqi, &tqo, &k, &v),
                     ROPE_E_NULL);
        CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &rp, NULL, &pos, &tqi, &tqo, &k, &v),
                     ROPE_E_NULL);
        /* ids no array can hold (row 1 at ids + stride), next to a 2-entry array */
        int64_t *tids = tail_array(2, sizeof *tids);
        tids[0] = 1, tids[1] = 2;
        rope_positions pbig = {0};
        pbig.ids = tids;
        pbig.ids_batch_stride = INT64_MAX / 2 + 1;
        CHECK_STATUS(rope_kv_cache_append_qk_norm(c, &rp, &nm, &pbig, &tqi, &tqo, &k, &v),
                     ROPE_E_OVERFLOW);
        CHECK(out_untouched(&oq));
        int64_t len = -1;
        CHECK_OK(rope_kv_cache_length(c, 0, &len));
        CHECK_EQ_INT(len, 0);

        /* attention reading keys at 2^40 with the big frequency */
        CHECK_OK(rope_kv_cache_append(c, &rp, &pos, &k, &v));
        rope_attention_params ap;
        rope_attention_params_init(&ap);
        ap.rope = &rbig;
        outbuf oo;
        float *o = out_new(&oo, sizeof qin);
        rope_tensor to;
        rope_tensor_contiguous(&to, o, ROPE_F32, 2, 1, 1, D);
        int64_t qids[2] = {2, ((int64_t)1 << 40) + 1};
        rope_positions qp = {0};
        qp.ids = qids;
        qp.ids_batch_stride = 1;
        CHECK_STATUS(rope_attention(c, &ap, &qp, &tqi, &to), ROPE_E_PARAM);
        /* a shift of an UNROTATED cache moves positions only, but proves the
         * angles there as an append does: refused, nothing moved */
        int64_t p0s[2] = {-1, -1};
        CHECK_STATUS(rope_kv_cache_shift(c, &rbig, 0, 0, 2, (int64_t)1 << 41), ROPE_E_PARAM);
        CHECK_OK(rope_kv_cache_read(c, 0, 0, 1, NULL, NULL, p0s));
        CHECK_EQ_INT(p0s[0], 1);
        ap.rope = NULL;
        CHECK_STATUS(rope_attention(c, &ap, &qp, &tqi, &to), ROPE_E_NULL);
        CHECK(out_untouched(&oo));
        ap.rope = &rp; /* the same cache with sane frequencies: finite results */
        CHECK_OK(rope_attention(c, &ap, &qp, &tqi, &to));
        int finite = 1;
        for (int i = 0; i < 64; i++) finite &= isfinite(o[i]) != 0;
        CHECK(finite);
        /* and the fused append at sane frequencies writes q */
        CHECK_OK(rope_kv_cache_append_qk_norm(c, &rp, &nm, &pos, &tqi, &tqo, &k, &v));
        CHECK(!out_untouched(&oq));
        free(oo.raw);
        free(oq.raw);
        rope_kv_cache_free(c);
    }
}

/* ------------------------------------------------------------ the small ones */

/* Names, enums and sizes out of range: an answer, never a read outside a table. */
static void test_small_entry_points(void) {
    rope_scaling_type st = (rope_scaling_type)99;
    CHECK_STATUS(rope_scaling_from_name(NULL, &st), ROPE_E_NULL);
    CHECK_STATUS(rope_scaling_from_name("yarn", NULL), ROPE_E_NULL);
    char *nm = tail_array(3, 1);
    memcpy(nm, "su", 3); /* ends at the page end: compared up to its NUL only */
    CHECK_OK(rope_scaling_from_name(nm, &st));
    CHECK_EQ_INT(st, ROPE_SCALING_LONGROPE);
    st = (rope_scaling_type)99;
    CHECK_STATUS(rope_scaling_from_name("", &st), ROPE_E_SCALING);
    CHECK_STATUS(rope_scaling_from_name("yarn ", &st), ROPE_E_SCALING);
    CHECK_STATUS(rope_scaling_from_name("axial", &st), ROPE_E_UNSUPPORTED);
    CHECK_EQ_INT(st, 99);
    CHECK(strcmp(rope_scaling_name((rope_scaling_type)-1), "unknown") == 0);
    CHECK(strcmp(rope_scaling_name(ROPE_SCALING_COUNT), "unknown") == 0);
    CHECK(rope_strerror((rope_status)-1) != NULL && rope_strerror(ROPE_STATUS_COUNT) != NULL);
    CHECK(rope_dtype_size(ROPE_Q8) == 0 && rope_dtype_size((rope_dtype)0) == 0 &&
          rope_dtype_size((rope_dtype)-3) == 0);
    rope_pool *p = (rope_pool *)(uintptr_t)0x1;
    CHECK_STATUS(rope_pool_create(-1, &p), ROPE_E_PARAM);
    CHECK_STATUS(rope_pool_create(257, &p), ROPE_E_PARAM);
    CHECK_STATUS(rope_pool_create(INT32_MIN, &p), ROPE_E_PARAM);
    CHECK_STATUS(rope_pool_create(2, NULL), ROPE_E_NULL);
    CHECK(p == (rope_pool *)(uintptr_t)0x1);
    CHECK_EQ_INT(rope_pool_size(NULL), 1);
    rope_pool_free(NULL);
    rope_attention_params_init(NULL);
    rope_kv_cache_free(NULL);
    int n = -1;
    CHECK(rope_isa_available(NULL) != NULL);
    CHECK(rope_isa_available(&n) != NULL && n >= 1);
    CHECK(rope_isa_name() != NULL);
    CHECK(rope_version() == ROPE_VERSION_NUMBER && rope_version_string() != NULL);
    /* conversions of every special value are defined (NaN stays NaN) */
    CHECK(isnan(rope_f16_to_f32(rope_f32_to_f16(NAN))));
    CHECK(isnan(rope_bf16_to_f32(rope_f32_to_bf16(NAN))));
    CHECK(isinf(rope_f16_to_f32(rope_f32_to_f16(1e30f))));
    CHECK(isinf(rope_bf16_to_f32(rope_f32_to_bf16(INFINITY))));
}

int main(void) {
    test_table_counts();
    test_nonfinite_one_rule();
    test_angle_overflow();
    test_mrope_planes();
    test_freq_divisor();
    test_apply_position_arrays();
    test_attention_position_arrays();
    test_model_entry_points();
    test_pool_run();
    test_axial();
    test_kv_edits();
    test_unrotated_angles();
    test_small_entry_points();
    return check_report("test_hostile_api");
}
