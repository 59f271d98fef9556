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
 *     and attention (cached keys) paths, in both precisions.
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

int main(void) {
    test_table_counts();
    test_nonfinite_one_rule();
    test_angle_overflow();
    test_apply_position_arrays();
    test_attention_position_arrays();
    return check_report("test_hostile_api");
}
