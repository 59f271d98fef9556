/*
 * rope_apply / rope_apply_qk against a float64 reference, and the algebra of
 * rotations, for every kernel set this CPU offers (rope_isa_force), both
 * conventions, f32/f16/bf16, several layouts (BSHD, BHSD, SBHD, packed QKV,
 * padded rows, negative seq stride, non-unit head_dim stride) and partial
 * rotary; then bad inputs, each with its status and the output untouched.
 *
 * Tolerances (per output element, relative to |x0|+|x1| of its pair, times the
 * attention factor): f32 1e-6 (cos/sin within 1 ulp, three roundings); f16
 * adds half an f16 ulp of the result (2^-11 relative + 2^-25 absolute); bf16
 * adds 2^-8 relative.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rope.h"
#include "kernels/kernel.h"  /* rope_isa_force: test hook */

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint32_t rnd(void) {
    check_rand64(&rng_state);
    return (uint32_t)(rng_state >> 11);
}
static float urand(void) { return (float)(rnd() & 0xffffff) / 8388608.0f - 1.0f; } /* [-1, 1) */

static size_t esize(rope_dtype t) { return rope_dtype_size(t); }

static float get_el(const unsigned char *buf, int64_t idx, rope_dtype t) {
    if (t == ROPE_F32) {
        float v;
        memcpy(&v, buf + idx * 4, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, buf + idx * 2, 2);
    return t == ROPE_F16 ? rope_f16_to_f32(h) : rope_bf16_to_f32(h);
}

static void set_el(unsigned char *buf, int64_t idx, rope_dtype t, float v) {
    if (t == ROPE_F32) {
        memcpy(buf + idx * 4, &v, 4);
        return;
    }
    uint16_t h = t == ROPE_F16 ? rope_f32_to_f16(v) : rope_f32_to_bf16(v);
    memcpy(buf + idx * 2, &h, 2);
}

static void make_freqs(rope_freqs *f, int64_t D, int64_t R, double base) {
    memset(f, 0, sizeof *f);
    f->type = ROPE_SCALING_DEFAULT;
    f->head_dim = D;
    f->rotary_dim = R;
    f->n_freqs = R / 2;
    for (int64_t i = 0; i < R / 2; i++) {
        f->inv_freq[i] = pow(base, -2.0 * (double)i / (double)R);
        f->inv_freq_f32[i] = (float)f->inv_freq[i];
    }
    f->attention_factor = 1.0;
    f->softmax_scale_factor = 1.0;
}

/* ------------------------------------------------------------ layouts */

enum {
    L_BSHD,
    L_BHSD,
    L_SBHD,
    L_QKV,     /* the k view of a packed (b, s, 3h, d) buffer */
    L_PAD,     /* gaps between heads, tokens and batch rows: canaries */
    L_NEGSEQ,  /* seq stride negative */
    L_STRIDED, /* head_dim stride 2: the strided path */
    L_COUNT
};
static const char *layout_name[L_COUNT] = {"bshd", "bhsd", "sbhd", "qkv", "pad", "negseq",
                                           "strided"};

/* A tensor in its own buffer, with room after it for canaries. */
typedef struct tbuf {
    unsigned char *mem;  /* allocation */
    size_t bytes;        /* whole allocation */
    rope_tensor t;
    int64_t base;        /* element offset of t.data in mem (after misalignment) */
} tbuf;

enum { TAIL_CANARY = 64 };

static void tbuf_make(tbuf *tb, int layout, rope_dtype dt, int64_t B, int64_t S, int64_t H,
                      int64_t D, int misalign) {
    int64_t st[4], total, off = 0;
    switch (layout) {
    case L_BHSD: st[0] = H * S * D, st[1] = D, st[2] = S * D, st[3] = 1, total = B * H * S * D; break;
    case L_SBHD: st[0] = H * D, st[1] = B * H * D, st[2] = D, st[3] = 1, total = B * S * H * D; break;
    case L_QKV:
        st[0] = S * 3 * H * D, st[1] = 3 * H * D, st[2] = D, st[3] = 1, total = B * S * 3 * H * D;
        off = H * D;
        break;
    case L_PAD:
        st[3] = 1, st[2] = D + 3, st[1] = H * (D + 3) + 5, st[0] = S * st[1] + 7;
        total = B * st[0];
        break;
    case L_NEGSEQ:
        st[0] = S * H * D, st[1] = -H * D, st[2] = D, st[3] = 1, total = B * S * H * D;
        off = (S - 1) * H * D;
        break;
    case L_STRIDED:
        st[0] = S * H * 2 * D, st[1] = H * 2 * D, st[2] = 2 * D, st[3] = 2, total = B * S * H * 2 * D;
        break;
    default: st[0] = S * H * D, st[1] = H * D, st[2] = D, st[3] = 1, total = B * S * H * D; break;
    }
    size_t es = esize(dt);
    tb->bytes = (size_t)(total + misalign) * es + TAIL_CANARY;
    tb->mem = malloc(tb->bytes);
    tb->base = off + misalign;
    /* canary pattern everywhere; callers fill the view */
    for (size_t i = 0; i < tb->bytes; i++) tb->mem[i] = (unsigned char)(i * 37 + 11);
    tb->t.data = tb->mem + tb->base * (int64_t)es;
    tb->t.dtype = dt;
    tb->t.shape[0] = B, tb->t.shape[1] = S, tb->t.shape[2] = H, tb->t.shape[3] = D;
    memcpy(tb->t.stride, st, sizeof st);
}

static int64_t tidx(const tbuf *tb, int64_t b, int64_t s, int64_t h, int64_t d) {
    const int64_t *st = tb->t.stride;
    return tb->base + b * st[0] + s * st[1] + h * st[2] + d * st[3];
}

static void tbuf_fill_random(tbuf *tb) {
    const int64_t *sh = tb->t.shape;
    for (int64_t b = 0; b < sh[0]; b++)
        for (int64_t s = 0; s < sh[1]; s++)
            for (int64_t h = 0; h < sh[2]; h++)
                for (int64_t d = 0; d < sh[3]; d++) {
                    float v = urand();
                    if (v == 0) v = 0.5f;
                    set_el(tb->mem, tidx(tb, b, s, h, d), tb->t.dtype, v);
                }
}

/* Bytes outside the view must still hold the canary pattern. */
static int tbuf_canaries_ok(const tbuf *tb) {
    unsigned char *in_view = calloc(tb->bytes, 1);
    const int64_t *sh = tb->t.shape;
    size_t es = esize(tb->t.dtype);
    for (int64_t b = 0; b < sh[0]; b++)
        for (int64_t s = 0; s < sh[1]; s++)
            for (int64_t h = 0; h < sh[2]; h++)
                for (int64_t d = 0; d < sh[3]; d++)
                    memset(in_view + tidx(tb, b, s, h, d) * (int64_t)es, 1, es);
    int ok = 1;
    for (size_t i = 0; i < tb->bytes; i++)
        if (!in_view[i] && tb->mem[i] != (unsigned char)(i * 37 + 11)) ok = 0;
    free(in_view);
    return ok;
}

static tbuf tbuf_clone(const tbuf *src) {
    tbuf c = *src;
    c.mem = malloc(src->bytes);
    memcpy(c.mem, src->mem, src->bytes);
    c.t.data = c.mem + ((unsigned char *)src->t.data - src->mem);
    return c;
}

static void tbuf_free(tbuf *tb) { free(tb->mem); }

/* Same view elements, byte for byte. */
static int tbuf_view_equal(const tbuf *a, const tbuf *b) {
    const int64_t *sh = a->t.shape;
    size_t es = esize(a->t.dtype);
    for (int64_t bb = 0; bb < sh[0]; bb++)
        for (int64_t s = 0; s < sh[1]; s++)
            for (int64_t h = 0; h < sh[2]; h++)
                for (int64_t d = 0; d < sh[3]; d++)
                    if (memcmp(a->mem + tidx(a, bb, s, h, d) * (int64_t)es,
                               b->mem + tidx(b, bb, s, h, d) * (int64_t)es, es))
                        return 0;
    return 1;
}

/* ------------------------------------------------------------ reference */

/* Position of token (b, s) under pos (NULL = offset 0). */
static int64_t ref_position(const rope_positions *pos, int64_t b, int64_t s) {
    if (!pos) return s;
    if (pos->ids) return pos->ids[b * pos->ids_batch_stride + s];
    if (pos->cu_seqlens) {
        int64_t j = 0;
        while (s >= pos->cu_seqlens[j + 1]) j++;
        return pos->offset + s - pos->cu_seqlens[j];
    }
    return pos->offset + s;
}

/* Compare out with the float64 rotation of in; checks the tail bit for bit.
 * Returns the number of bad elements. */
static int check_against_reference(const tbuf *in, const tbuf *out, const rope_freqs *f,
                                   const rope_positions *pos, rope_style style, int64_t R,
                                   double af, int inverse) {
    const int64_t *sh = in->t.shape;
    rope_dtype dt = in->t.dtype;
    size_t es = esize(dt);
    double rel = dt == ROPE_F32 ? 0 : dt == ROPE_F16 ? ldexp(1, -11) : ldexp(1, -8);
    int bad = 0;
    for (int64_t b = 0; b < sh[0]; b++)
        for (int64_t s = 0; s < sh[1]; s++) {
            double m = (double)ref_position(pos, b, s);
            for (int64_t h = 0; h < sh[2]; h++) {
                for (int64_t i = 0; i < R / 2; i++) {
                    /* DEINTERLEAVE reads one pairing and writes the other (inverse: swapped) */
                    int in_inter = style == ROPE_STYLE_INTERLEAVED ||
                                   (style == ROPE_STYLE_DEINTERLEAVE && !inverse);
                    int out_inter = style == ROPE_STYLE_INTERLEAVED ||
                                    (style == ROPE_STYLE_DEINTERLEAVE && inverse);
                    int64_t e0 = in_inter ? 2 * i : i, e1 = in_inter ? 2 * i + 1 : i + R / 2;
                    int64_t d0 = out_inter ? 2 * i : i, d1 = out_inter ? 2 * i + 1 : i + R / 2;
                    double x0 = get_el(in->mem, tidx(in, b, s, h, e0), dt);
                    double x1 = get_el(in->mem, tidx(in, b, s, h, e1), dt);
                    double ang = m * f->inv_freq[i];
                    double c = cos(ang), sn = inverse ? -sin(ang) : sin(ang);
                    double y0 = af * (x0 * c - x1 * sn), y1 = af * (x1 * c + x0 * sn);
                    double g0 = get_el(out->mem, tidx(out, b, s, h, d0), dt);
                    double g1 = get_el(out->mem, tidx(out, b, s, h, d1), dt);
                    double mag = af * (fabs(x0) + fabs(x1));
                    double tol0 = 1e-6 * mag + rel * fabs(y0) + 1e-7;
                    double tol1 = 1e-6 * mag + rel * fabs(y1) + 1e-7;
                    if (!(fabs(g0 - y0) <= tol0) || !(fabs(g1 - y1) <= tol1)) {
                        if (bad < 3)
                            fprintf(stderr, "  ref mismatch b%lld s%lld h%lld i%lld: %.9g %.9g vs %.9g %.9g\n",
                                    (long long)b, (long long)s, (long long)h, (long long)i, g0, g1,
                                    y0, y1);
                        bad++;
                    }
                }
                for (int64_t d = R; d < sh[3]; d++)
                    if (memcmp(in->mem + tidx(in, b, s, h, d) * (int64_t)es,
                               out->mem + tidx(out, b, s, h, d) * (int64_t)es, es))
                        bad++;
            }
        }
    return bad;
}

/* ------------------------------------------------------------ the matrix */

static const int64_t dims[][2] = {{8, 8}, {10, 8}, {16, 6}, {64, 64}, {80, 20}, {128, 96}};
static const rope_dtype dtypes[] = {ROPE_F32, ROPE_F16, ROPE_BF16};
/* test_layouts runs all three; the other tests the first two */
static const rope_style styles[] = {ROPE_STYLE_INTERLEAVED, ROPE_STYLE_HALF, ROPE_STYLE_DEINTERLEAVE};
static const char *style_name[] = {"interleaved", "half", "deinterleave"};
static const char *dtype_name(rope_dtype t) { return t == ROPE_F32 ? "f32" : t == ROPE_F16 ? "f16" : "bf16"; }

/* One apply through every layout: reference, tail, canaries, in place ==
 * out of place, table mode == table-free (scalar: bitwise). */
static void test_layouts(const char *isa) {
    int bad_total = 0, runs = 0;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int64_t D = dims[di][0], R = dims[di][1];
        rope_freqs f;
        make_freqs(&f, D, R, di % 2 ? 1e6 : 1e4);
        rope_table *table = NULL;
        CHECK_OK(rope_table_create(&f, 4200, ROPE_PRECISION_ACCURATE, &table));
        for (size_t ti = 0; ti < 3; ti++)
            for (size_t si = 0; si < 3; si++)
                for (int layout = 0; layout < L_COUNT; layout++) {
                    int64_t B = 2, S = 3 + (int64_t)(layout % 3), H = 1 + (int64_t)(di % 3);
                    rope_dtype dt = dtypes[ti];
                    tbuf in, out;
                    int mis = (int)((layout + di) % 3);
                    tbuf_make(&in, layout, dt, B, S, H, D, mis);
                    tbuf_make(&out, layout, dt, B, S, H, D, (mis + 1) % 3);
                    tbuf_fill_random(&in);
                    rope_apply_params p;
                    rope_apply_params_init(&p);
                    p.style = styles[si];
                    p.rotary_dim = R;
                    p.attention_factor = layout % 2 ? 1.0f : 1.25f;
                    p.inverse = (int)(di % 2);
                    rope_positions pos = {0};
                    pos.offset = 4096 - (int64_t)layout * 7;
                    int use_table = (layout + (int)si) % 2;
                    if (use_table) p.table = table;
                    else p.freqs = &f;
                    CHECK_OK(rope_apply(&p, &pos, &in.t, &out.t));
                    int bad = check_against_reference(&in, &out, &f, &pos, p.style, R,
                                                      p.attention_factor, p.inverse);
                    int canary = tbuf_canaries_ok(&out);
                    /* in place gives the same bytes */
                    tbuf ip = tbuf_clone(&in);
                    CHECK_OK(rope_apply(&p, &pos, &ip.t, &ip.t));
                    int same_ip = tbuf_view_equal(&ip, &out);
                    int ip_canary = tbuf_canaries_ok(&ip); /* the gaps of in place keep their canaries */
                    /* the other angle source gives the same result */
                    tbuf other;
                    tbuf_make(&other, layout, dt, B, S, H, D, 0);
                    p.table = use_table ? NULL : table;
                    p.freqs = use_table ? &f : NULL;
                    CHECK_OK(rope_apply(&p, &pos, &in.t, &other.t));
                    int same_src = tbuf_view_equal(&other, &out);
                    if (bad || !canary || !same_ip || !ip_canary ||
                        (!same_src && strcmp(isa, "scalar") == 0)) {
                        fprintf(stderr,
                                "[%s] D%lld R%lld %s %s %s: ref bad %d, canary %d, in-place %d, table==free %d\n",
                                isa, (long long)D, (long long)R, dtype_name(dt),
                                style_name[si],
                                layout_name[layout], bad, canary, same_ip, same_src);
                        bad_total++;
                    }
                    runs++;
                    tbuf_free(&other);
                    tbuf_free(&ip);
                    tbuf_free(&in);
                    tbuf_free(&out);
                }
        rope_table_free(table);
    }
    CHECK_EQ_INT(bad_total, 0);
    CHECK(runs == 6 * 3 * 3 * L_COUNT);
}

/* ------------------------------------------------------------ algebra */

/* Rotate a contiguous (1, S, H, D) f32/f16/bf16 tensor with table-free angles. */
static rope_status rot(rope_style style, const rope_freqs *f, int64_t R, const rope_positions *pos,
                       int inverse, float af, rope_dtype dt, void *in, void *out, int64_t S,
                       int64_t H, int64_t D) {
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = style;
    p.freqs = f;
    p.rotary_dim = R;
    p.inverse = inverse;
    p.attention_factor = af;
    rope_tensor ti, to;
    rope_tensor_contiguous(&ti, in, dt, 1, S, H, D);
    rope_tensor_contiguous(&to, out, dt, 1, S, H, D);
    return rope_apply(&p, pos, &ti, &to);
}

/* ------------------------------------------------------------ de-interleave */

/* ROPE_STYLE_DEINTERLEAVE, bit for bit: forward = the interleaved rotation with pair i
 * moved to (i, i+R/2); inverse = the half rotation (−θ) with pair i moved to (2i, 2i+1);
 * in place == out of place; the rope slice of [nope | rope] heads rotated through a
 * strided view (data + nope, head stride of the whole head) leaves the nope dims and
 * the other heads alone; inverse(forward(x)) == x within f32 rounding. */
static void test_deinterleave(const char *isa) {
    enum { S = 3, H = 5, NOPE = 24, MAXD = 160 };
    static const int64_t Rs[][2] = {{64, 64}, {128, 128}, {96, 100}, {40, 40}, {6, 10}, {34, 34}};
    int bad_perm = 0, bad_ip = 0, bad_mla = 0, bad_trip = 0, runs = 0;
    for (size_t ri = 0; ri < sizeof Rs / sizeof Rs[0]; ri++)
        for (size_t ti = 0; ti < 3; ti++)
            for (int inv = 0; inv < 2; inv++) {
                const int64_t R = Rs[ri][0], D = Rs[ri][1], n = S * H * D, es = (int64_t)esize(dtypes[ti]);
                rope_dtype dt = dtypes[ti];
                rope_freqs f;
                make_freqs(&f, D, R, 1e4);
                unsigned char x[S * H * MAXD * 4], y[S * H * MAXD * 4], w[S * H * MAXD * 4];
                for (int64_t i = 0; i < n; i++) set_el(x, i, dt, urand());
                rope_positions pos = {.offset = 1000 + (int64_t)ri};
                float af = ri % 2 ? 1.25f : 1.0f;
                CHECK_OK(rot(ROPE_STYLE_DEINTERLEAVE, &f, R, &pos, inv, af, dt, x, y, S, H, D));
                CHECK_OK(rot(inv ? ROPE_STYLE_HALF : ROPE_STYLE_INTERLEAVED, &f, R, &pos, inv, af, dt,
                             x, w, S, H, D));
                for (int64_t v = 0; v < S * H; v++)
                    for (int64_t i = 0; i < R / 2; i++) {
                        int64_t a0 = inv ? i : 2 * i, a1 = inv ? i + R / 2 : 2 * i + 1; /* w */
                        int64_t b0 = inv ? 2 * i : i, b1 = inv ? 2 * i + 1 : i + R / 2; /* y */
                        bad_perm += memcmp(y + (v * D + b0) * es, w + (v * D + a0) * es, (size_t)es) != 0;
                        bad_perm += memcmp(y + (v * D + b1) * es, w + (v * D + a1) * es, (size_t)es) != 0;
                    }
                for (int64_t v = 0; v < S * H; v++) /* the tail, bit for bit */
                    bad_perm += memcmp(y + (v * D + R) * es, x + (v * D + R) * es, (size_t)((D - R) * es)) != 0;
                memcpy(w, x, (size_t)(n * es)); /* in place */
                CHECK_OK(rot(ROPE_STYLE_DEINTERLEAVE, &f, R, &pos, inv, af, dt, w, w, S, H, D));
                bad_ip += memcmp(w, y, (size_t)(n * es)) != 0;
                if (dt == ROPE_F32 && af == 1.0f) { /* round trip */
                    CHECK_OK(rot(ROPE_STYLE_DEINTERLEAVE, &f, R, &pos, !inv, af, dt, y, w, S, H, D));
                    for (int64_t i = 0; i < n; i++)
                        bad_trip += !(fabs(get_el(w, i, dt) - get_el(x, i, dt)) <= 4e-7);
                }
                /* MLA: heads [nope | rope], the rope slice in place through a view */
                const int64_t W = NOPE + R;
                unsigned char m[S * H * (NOPE + 128) * 4], m0[S * H * (NOPE + 128) * 4];
                for (int64_t i = 0; i < S * H * W; i++) set_el(m, i, dt, urand());
                memcpy(m0, m, (size_t)(S * H * W * es));
                rope_tensor slice = {m + NOPE * es, dt, {1, S, H, R}, {S * H * W, H * W, W, 1}};
                rope_apply_params p;
                rope_apply_params_init(&p);
                p.style = ROPE_STYLE_DEINTERLEAVE;
                p.freqs = &f;
                p.rotary_dim = R;
                p.inverse = inv;
                p.attention_factor = af;
                f.head_dim = R;
                CHECK_OK(rope_apply(&p, &pos, &slice, &slice));
                unsigned char c[(NOPE + 128) * 4], o[(NOPE + 128) * 4]; /* one head, copied out */
                for (int64_t v = 0; v < S * H; v++) {
                    bad_mla += memcmp(m + v * W * es, m0 + v * W * es, (size_t)(NOPE * es)) != 0;
                    memcpy(c, m0 + (v * W + NOPE) * es, (size_t)(R * es));
                    CHECK_OK(rot(ROPE_STYLE_DEINTERLEAVE, &f, R, &(rope_positions){.offset = pos.offset + v / H},
                                 inv, af, dt, c, o, 1, 1, R));
                    bad_mla += memcmp(m + (v * W + NOPE) * es, o, (size_t)(R * es)) != 0;
                }
                runs++;
            }
    CHECK_MSG(bad_perm == 0, "[%s] deinterleave: %d elements differ from the permuted interleaved/half result", isa, bad_perm);
    CHECK_MSG(bad_ip == 0, "[%s] deinterleave: %d in-place results differ from out of place", isa, bad_ip);
    CHECK_MSG(bad_trip == 0, "[%s] deinterleave: %d elements off after inverse(forward(x))", isa, bad_trip);
    CHECK_MSG(bad_mla == 0, "[%s] deinterleave: %d MLA slice heads wrong", isa, bad_mla);
    CHECK(runs == 6 * 3 * 2);
}

static void test_algebra(const char *isa) {
    enum { D = 64, H = 4, S = 6 };
    int bad_norm = 0, bad_id = 0, bad_comp = 0, bad_rel = 0, bad_inv = 0, bad_meta = 0;
    for (size_t si = 0; si < 2; si++)
        for (size_t ti = 0; ti < 3; ti++) {
            rope_style style = styles[si];
            rope_dtype dt = dtypes[ti];
            size_t es = esize(dt);
            double tol = dt == ROPE_F32 ? 2e-6 : dt == ROPE_F16 ? 4e-3 : 3e-2;
            for (int64_t R = 16; R <= D; R += 48) { /* partial 16 and full 64 */
                rope_freqs f;
                make_freqs(&f, D, R, 10000.0);
                unsigned char x[S * H * D * 4], y[S * H * D * 4], z[S * H * D * 4], w[S * H * D * 4];
                for (int i = 0; i < S * H * D; i++) set_el(x, i, dt, urand());
                rope_positions pa = {0}, pb = {0}, pab = {0};
                pa.offset = 37;
                pb.offset = 1000;
                pab.offset = 1037;

                /* norm preserved (af = 1) */
                CHECK_OK(rot(style, &f, R, &pa, 0, 1.0f, dt, x, y, S, H, D));
                for (int t = 0; t < S * H; t++) {
                    double nx = 0, ny = 0;
                    for (int d = 0; d < D; d++) {
                        double a = get_el(x, t * D + d, dt), b = get_el(y, t * D + d, dt);
                        nx += a * a;
                        ny += b * b;
                    }
                    if (!(fabs(sqrt(ny) - sqrt(nx)) <= tol * sqrt(nx))) bad_norm++;
                }

                /* R(0) = I, bit for bit (inputs are nonzero) */
                rope_positions p0 = {0};
                CHECK_OK(rot(style, &f, R, &p0, 0, 1.0f, dt, x, y, S, H, D));
                /* token 0 of offset 0 has angle 0 */
                if (memcmp(x, y, (size_t)(H * D) * es)) bad_id++;

                /* R(b)·R(a) = R(a+b): rotate by a, then by b (positions add) */
                CHECK_OK(rot(style, &f, R, &pa, 0, 1.0f, dt, x, y, S, H, D));
                rope_positions pbb = {0};
                int64_t ids_b[S];
                for (int s = 0; s < S; s++) ids_b[s] = 1000; /* same extra angle for every token */
                pbb.ids = ids_b;
                CHECK_OK(rot(style, &f, R, &pbb, 0, 1.0f, dt, y, z, S, H, D));
                CHECK_OK(rot(style, &f, R, &pab, 0, 1.0f, dt, x, w, S, H, D));
                for (int i = 0; i < S * H * D; i++)
                    if (!(fabs(get_el(z, i, dt) - get_el(w, i, dt)) <= 2 * tol)) bad_comp++;

                /* inverse ∘ forward = identity */
                CHECK_OK(rot(style, &f, R, &pb, 0, 1.0f, dt, x, y, S, H, D));
                CHECK_OK(rot(style, &f, R, &pb, 1, 1.0f, dt, y, z, S, H, D));
                for (int i = 0; i < S * H * D; i++)
                    if (!(fabs(get_el(z, i, dt) - get_el(x, i, dt)) <= 2 * tol)) bad_inv++;

                /* <R(m)q, R(n)k> depends only on n - m: (m, n) = (3, 10) and (503, 510) */
                {
                    float q[D], k[D], rq[D], rk[D];
                    for (int d = 0; d < D; d++) q[d] = urand(), k[d] = urand();
                    double dots[2];
                    int64_t shift[2] = {0, 500};
                    for (int c = 0; c < 2; c++) {
                        rope_positions pm = {0}, pn = {0};
                        pm.offset = 3 + shift[c];
                        pn.offset = 10 + shift[c];
                        CHECK_OK(rot(style, &f, R, &pm, 0, 1.0f, ROPE_F32, q, rq, 1, 1, D));
                        CHECK_OK(rot(style, &f, R, &pn, 0, 1.0f, ROPE_F32, k, rk, 1, 1, D));
                        dots[c] = 0;
                        for (int d = 0; d < D; d++) dots[c] += (double)rq[d] * rk[d];
                    }
                    if (!(fabs(dots[0] - dots[1]) <= 1e-5 * D)) bad_rel++;
                }

                /* Meta-permuted weights: rotating P·x in the half convention
                 * equals P·(x rotated interleaved), P: interleaved 2i -> i,
                 * 2i+1 -> i + R/2 (per head; the tail stays). */
                if (style == ROPE_STYLE_HALF) {
                    unsigned char px[S * H * D * 4], py[S * H * D * 4];
                    for (int t = 0; t < S * H; t++)
                        for (int d = 0; d < D; d++) {
                            int src = d < R ? (d < R / 2 ? 2 * d : 2 * (d - R / 2) + 1) : d;
                            memcpy(px + (size_t)(t * D + d) * es, x + (size_t)(t * D + src) * es, es);
                        }
                    CHECK_OK(rot(ROPE_STYLE_INTERLEAVED, &f, R, &pb, 0, 1.3f, dt, x, y, S, H, D));
                    CHECK_OK(rot(ROPE_STYLE_HALF, &f, R, &pb, 0, 1.3f, dt, px, py, S, H, D));
                    for (int t = 0; t < S * H; t++)
                        for (int d = 0; d < D; d++) {
                            int src = d < R ? (d < R / 2 ? 2 * d : 2 * (d - R / 2) + 1) : d;
                            float a = get_el(py, t * D + d, dt), b = get_el(y, t * D + src, dt);
                            /* the scalar kernels do the same operations: bitwise */
                            int exact = strcmp(isa, "scalar") == 0;
                            if (exact ? a != b : !(fabs(a - b) <= tol * 2)) bad_meta++;
                        }
                }
            }
        }
    CHECK_EQ_INT(bad_norm, 0);
    CHECK_EQ_INT(bad_id, 0);
    CHECK_EQ_INT(bad_comp, 0);
    CHECK_EQ_INT(bad_inv, 0);
    CHECK_EQ_INT(bad_rel, 0);
    CHECK_EQ_INT(bad_meta, 0);
    if (bad_norm + bad_id + bad_comp + bad_inv + bad_rel + bad_meta)
        fprintf(stderr, "[%s] algebra failures: norm %d id %d comp %d inv %d rel %d meta %d\n", isa,
                bad_norm, bad_id, bad_comp, bad_inv, bad_rel, bad_meta);
}

/* Table-free angles at huge positions: R(b)·R(a) = R(a+b) with a, b ~ 2^44.
 * An angle formed as RN64(m·θ) alone is off by up to |m·θ|·2^-53 ~ 2e-3 rad
 * there, which breaks the identity far beyond float rounding. */
/*
 * Element offsets beyond 2^31 (a 32-bit index would wrap): a view whose batch
 * and head strides are ~2^31 + a little elements, in a sparse 24 GiB mapping
 * of which only the touched pages become memory. Each row must come out as
 * the same row rotated in a small contiguous tensor, bit for bit.
 */
static void test_huge_strides(const char *isa) {
    enum { D = 128, B = 2, H = 2, S = 2 };
    const int64_t big = ((int64_t)1 << 31) + 4096 + 64; /* elements */
    const size_t bytes = (size_t)(B * 2 * big + 4096) * sizeof(float) + ((size_t)1 << 20);
    unsigned char *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        printf("[%s] huge strides: no 24 GiB address range here, not run\n", isa);
        return;
    }
    float *mem = (float *)(void *)map;
    rope_freqs f;
    make_freqs(&f, D, D, 10000.0);
    float x[B * S * H * D], ref[B * S * H * D];
    for (int i = 0; i < B * S * H * D; i++) x[i] = urand();
    rope_tensor big_view = {.data = mem, .dtype = ROPE_F32,
                            .shape = {B, S, H, D}, .stride = {2 * big, D, big, 1}};
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < S; s++)
            for (int64_t h = 0; h < H; h++)
                memcpy(mem + b * 2 * big + s * D + h * big, x + ((b * S + s) * H + h) * D,
                       sizeof(float) * D);
    int bad = 0;
    for (size_t si = 0; si < 2; si++) {
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = styles[si];
        p.freqs = &f;
        p.rotary_dim = D;
        rope_positions pos = {.offset = 77};
        rope_tensor small_in, small_out;
        rope_tensor_contiguous(&small_in, x, ROPE_F32, B, S, H, D);
        rope_tensor_contiguous(&small_out, ref, ROPE_F32, B, S, H, D);
        CHECK_OK(rope_apply(&p, &pos, &small_in, &small_out));
        CHECK_OK(rope_apply(&p, &pos, &big_view, &big_view)); /* in place */
        for (int64_t b = 0; b < B; b++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t h = 0; h < H; h++) {
                    float *row = mem + b * 2 * big + s * D + h * big;
                    if (memcmp(row, ref + ((b * S + s) * H + h) * D, sizeof(float) * D)) bad++;
                    memcpy(row, x + ((b * S + s) * H + h) * D, sizeof(float) * D); /* restore */
                }
    }
    CHECK_MSG(bad == 0, "[%s] %d rows differ with element offsets beyond 2^31", isa, bad);
    munmap(map, bytes);
}

static void test_large_positions(const char *isa) {
    enum { D = 64, H = 3, S = 4 };
    rope_freqs f;
    make_freqs(&f, D, D, 10000.0);
    float x[S * H * D], y[S * H * D], z[S * H * D], w[S * H * D];
    for (int i = 0; i < S * H * D; i++) x[i] = urand();
    int64_t a = ((int64_t)1 << 44) + 12345, b = ((int64_t)1 << 44) - 999;
    rope_positions pa = {0}, pab = {0}, pb = {0};
    pa.offset = a;
    pab.offset = a + b;
    int64_t ids_b[S];
    for (int s = 0; s < S; s++) ids_b[s] = b;
    pb.ids = ids_b;
    int bad = 0;
    for (size_t si = 0; si < 2; si++) {
        CHECK_OK(rot(styles[si], &f, D, &pa, 0, 1.0f, ROPE_F32, x, y, S, H, D));
        CHECK_OK(rot(styles[si], &f, D, &pb, 0, 1.0f, ROPE_F32, y, z, S, H, D));
        CHECK_OK(rot(styles[si], &f, D, &pab, 0, 1.0f, ROPE_F32, x, w, S, H, D));
        for (int i = 0; i < S * H * D; i++)
            if (!(fabs(z[i] - w[i]) <= 4e-6)) bad++;
    }
    CHECK_MSG(bad == 0, "[%s] %d elements break R(b)R(a) = R(a+b) at positions ~2^44", isa, bad);
    /* the limit itself is accepted, one past it is not */
    rope_positions top = {0};
    top.offset = (int64_t)1 << 53;
    CHECK_OK(rot(ROPE_STYLE_HALF, &f, D, &top, 0, 1.0f, ROPE_F32, x, y, 1, H, D));
    top.offset++;
    CHECK_STATUS(rot(ROPE_STYLE_HALF, &f, D, &top, 0, 1.0f, ROPE_F32, x, y, 1, H, D),
                 ROPE_E_POSITION);
}

/* ------------------------------------------------------------ positions */

static void test_positions(const char *isa) {
    enum { D = 32, H = 2, S = 7, B = 3 };
    rope_freqs f;
    make_freqs(&f, D, D, 10000.0);
    rope_table *table = NULL;
    CHECK_OK(rope_table_create(&f, 64, ROPE_PRECISION_ACCURATE, &table));
    float x[B * S * H * D], y[B * S * H * D], z[B * S * H * D];
    for (int i = 0; i < B * S * H * D; i++) x[i] = urand();
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_HALF;
    p.table = table;
    p.rotary_dim = D;
    rope_tensor tx, ty, tz;
    rope_tensor_contiguous(&tx, x, ROPE_F32, B, S, H, D);
    rope_tensor_contiguous(&ty, y, ROPE_F32, B, S, H, D);

    /* ids per batch row == each row alone with its own ids */
    int64_t ids[B * S];
    for (int i = 0; i < B * S; i++) ids[i] = (int64_t)(rnd() % 64);
    rope_positions pi = {0};
    pi.ids = ids;
    pi.ids_batch_stride = S;
    CHECK_OK(rope_apply(&p, &pi, &tx, &ty));
    tbuf tin = {(unsigned char *)x, sizeof x, tx, 0}, tout = {(unsigned char *)y, sizeof y, ty, 0};
    CHECK_EQ_INT(check_against_reference(&tin, &tout, &f, &pi, p.style, D, 1.0, 0), 0);
    int bad = 0;
    for (int b = 0; b < B; b++) {
        rope_positions one = {0};
        one.ids = ids + b * S;
        rope_tensor_contiguous(&tx, x + b * S * H * D, ROPE_F32, 1, S, H, D);
        rope_tensor_contiguous(&tz, z, ROPE_F32, 1, S, H, D);
        CHECK_OK(rope_apply(&p, &one, &tx, &tz));
        if (memcmp(z, y + b * S * H * D, sizeof(float) * S * H * D)) bad++;
    }
    CHECK_EQ_INT(bad, 0);

    /* shared ids (batch stride 0) == the same ids repeated per row */
    rope_tensor_contiguous(&tx, x, ROPE_F32, B, S, H, D);
    rope_positions ps = {0};
    ps.ids = ids;
    ps.ids_batch_stride = 0;
    CHECK_OK(rope_apply(&p, &ps, &tx, &ty));
    int64_t rep[B * S];
    for (int b = 0; b < B; b++) memcpy(rep + b * S, ids, sizeof(int64_t) * S);
    rope_positions pr = {0};
    pr.ids = rep;
    pr.ids_batch_stride = S;
    rope_tensor_contiguous(&tz, z, ROPE_F32, B, S, H, D);
    CHECK_OK(rope_apply(&p, &pr, &tx, &tz));
    CHECK(memcmp(y, z, sizeof y) == 0);

    /* offset == ids offset+s */
    rope_positions po = {0};
    po.offset = 11;
    CHECK_OK(rope_apply(&p, &po, &tx, &ty));
    int64_t oid[S];
    for (int s = 0; s < S; s++) oid[s] = 11 + s;
    rope_positions pio = {0};
    pio.ids = oid;
    CHECK_OK(rope_apply(&p, &pio, &tx, &tz));
    CHECK(memcmp(y, z, sizeof y) == 0);

    /* cu_seqlens: packed sequences of lengths 3, 0, 1, 3 (all 7 tokens of
     * batch row 0... laid out as one row) == each sequence with its offset */
    int64_t cu[5] = {0, 3, 3, 4, 7};
    rope_positions pc = {0};
    pc.cu_seqlens = cu;
    pc.n_seqs = 4;
    pc.offset = 5;
    rope_tensor_contiguous(&tx, x, ROPE_F32, 1, S, H, D);
    rope_tensor_contiguous(&ty, y, ROPE_F32, 1, S, H, D);
    CHECK_OK(rope_apply(&p, &pc, &tx, &ty));
    bad = 0;
    for (int j = 0; j < 4; j++) {
        int64_t len = cu[j + 1] - cu[j];
        if (!len) continue;
        rope_positions one = {0};
        one.offset = 5;
        rope_tensor a, c;
        rope_tensor_contiguous(&a, x + cu[j] * H * D, ROPE_F32, 1, len, H, D);
        rope_tensor_contiguous(&c, z, ROPE_F32, 1, len, H, D);
        CHECK_OK(rope_apply(&p, &one, &a, &c));
        if (memcmp(z, y + cu[j] * H * D, sizeof(float) * (size_t)(len * H * D))) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* and it is not the unpacked offset run (positions restart per sequence) */
    rope_tensor_contiguous(&tz, z, ROPE_F32, 1, S, H, D);
    CHECK_OK(rope_apply(&p, &po, &tx, &tz));
    CHECK(memcmp(y, z, sizeof(float) * S * H * D) != 0);

    /* table rows at arbitrary positions: row r == positions[r] */
    (void)isa;
    rope_table_free(table);
}

/* ------------------------------------------------------------ q and k together */

static void test_qk(const char *isa) {
    /* GQA shapes, and packed QKV rotated in place in one call */
    static const int64_t heads[][2] = {{32, 8}, {8, 1}, {4, 4}, {73, 2}};
    enum { D = 64, S = 5, B = 2 };
    rope_freqs f;
    make_freqs(&f, D, 48, 10000.0);
    int bad = 0;
    for (int c = 0; c < 4; c++) {
        int64_t hq = heads[c][0], hk = heads[c][1], ht = hq + 2 * hk;
        size_t n = (size_t)(B * S * ht * D);
        float *qkv = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) qkv[i] = ref[i] = urand();
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = c % 2 ? ROPE_STYLE_INTERLEAVED : ROPE_STYLE_HALF;
        p.freqs = &f;
        p.rotary_dim = 48;
        rope_positions pos = {0};
        pos.offset = 100;
        rope_tensor q, k;
        rope_tensor_contiguous(&q, qkv, ROPE_F32, B, S, hq, D);
        q.stride[1] = ht * D;
        q.stride[0] = S * ht * D;
        k = q;
        k.data = qkv + hq * D;
        k.shape[2] = hk;
        CHECK_OK(rope_apply_qk(&p, &pos, &q, &q, &k, &k));
        /* separately, in place, on the copy */
        rope_tensor q2 = q, k2 = k;
        q2.data = ref;
        k2.data = ref + hq * D;
        CHECK_OK(rope_apply(&p, &pos, &q2, &q2));
        CHECK_OK(rope_apply(&p, &pos, &k2, &k2));
        if (memcmp(qkv, ref, n * sizeof(float))) bad++;
        /* (v untouched: the separate runs never touch it, and the buffers
         * are compared whole) */
        /* q only then k only, on the already rotated buffer and on the
         * reference: the same second rotation of q, then of k */
        CHECK_OK(rope_apply_qk(&p, &pos, &q, &q, NULL, NULL));
        CHECK_OK(rope_apply(&p, &pos, &q2, &q2));
        if (memcmp(qkv, ref, n * sizeof(float))) bad++;
        CHECK_OK(rope_apply_qk(&p, &pos, NULL, NULL, &k, &k));
        CHECK_OK(rope_apply(&p, &pos, &k2, &k2));
        if (memcmp(qkv, ref, n * sizeof(float))) bad++;
        free(qkv);
        free(ref);
    }
    CHECK_EQ_INT(bad, 0);
    (void)isa;
}

/* ------------------------------------------------------------ threads */

static void test_pool(const char *isa) {
    enum { B = 4, S = 512, H = 8, D = 128 }; /* 8-16 MiB read + written: 2 threads split it even when woken from sleep */
    rope_pool *p1 = NULL, *p2 = NULL;
    CHECK_OK(rope_pool_create(1, &p1));
    CHECK_OK(rope_pool_create(2, &p2));
    CHECK_EQ_INT(rope_pool_size(p1), 1);
    CHECK_EQ_INT(rope_pool_size(p2), 2);
    rope_freqs f;
    make_freqs(&f, D, D, 500000.0);
    size_t n = (size_t)B * S * H * D;
    for (size_t ti = 0; ti < 3; ti++) {
        rope_dtype dt = dtypes[ti];
        size_t es = esize(dt);
        unsigned char *x = malloc(n * es), *y1 = malloc(n * es), *y2 = malloc(n * es),
                      *y0 = malloc(n * es);
        for (size_t i = 0; i < n; i++) set_el(x, (int64_t)i, dt, urand());
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = ti % 2 ? ROPE_STYLE_HALF : ROPE_STYLE_INTERLEAVED;
        p.freqs = &f;
        p.rotary_dim = D;
        int64_t ids[B * S];
        for (int i = 0; i < B * S; i++) ids[i] = (int64_t)(rnd() % 100000);
        rope_positions pos = {0};
        pos.ids = ids;
        pos.ids_batch_stride = S;
        rope_tensor tx, t0, t1, t2;
        rope_tensor_contiguous(&tx, x, dt, B, S, H, D);
        rope_tensor_contiguous(&t0, y0, dt, B, S, H, D);
        rope_tensor_contiguous(&t1, y1, dt, B, S, H, D);
        rope_tensor_contiguous(&t2, y2, dt, B, S, H, D);
        CHECK_OK(rope_apply(&p, &pos, &tx, &t0));
        p.pool = p1;
        CHECK_OK(rope_apply(&p, &pos, &tx, &t1));
        p.pool = p2;
        for (int rep = 0; rep < 2; rep++) { /* again: the workers reuse their state */
            memset(y2, 0, n * es);
            CHECK_OK(rope_apply(&p, &pos, &tx, &t2));
            CHECK(memcmp(y0, y2, n * es) == 0);
        }
        CHECK(memcmp(y0, y1, n * es) == 0);
        /* 3 and 4 threads, and a decode batch of 128 single tokens (0.5-1 MiB
         * read + written: split over 2 threads by the L2 rule): same bits */
        for (int th = 3; th <= 4; th++) {
            rope_pool *pn = NULL;
            CHECK_OK(rope_pool_create(th, &pn));
            p.pool = pn;
            memset(y2, 0, n * es);
            CHECK_OK(rope_apply(&p, &pos, &tx, &t2));
            CHECK(memcmp(y0, y2, n * es) == 0);
            rope_tensor sx, s0, s2;
            rope_tensor_contiguous(&sx, x, dt, 128, 1, H, D);
            rope_tensor_contiguous(&s0, y0, dt, 128, 1, H, D);
            rope_tensor_contiguous(&s2, y2, dt, 128, 1, H, D);
            rope_positions dp = {0};
            dp.ids = ids;
            dp.ids_batch_stride = 1;
            p.pool = NULL;
            CHECK_OK(rope_apply(&p, &dp, &sx, &s0));
            for (int rep = 0; rep < 3; rep++) {
                p.pool = rep ? pn : p2;
                memset(y2, 0, n * es);
                CHECK_OK(rope_apply(&p, &dp, &sx, &s2));
                CHECK(memcmp(y0, y2, (size_t)128 * H * D * es) == 0);
            }
            rope_pool_free(pn);
        }
        p.pool = NULL;
        CHECK_OK(rope_apply(&p, &pos, &tx, &t0)); /* y0 back to the whole reference */
        /* out of place this big streams (non-temporal stores); in place never
         * does: same bits */
        memcpy(y1, x, n * es);
        p.pool = NULL;
        CHECK_OK(rope_apply(&p, &pos, &t1, &t1));
        CHECK(memcmp(y0, y1, n * es) == 0);
        free(x), free(y0), free(y1), free(y2);
    }
    rope_pool_free(p1);
    rope_pool_free(p2);
    (void)isa;
}

/* ------------------------------------------------------------ NaN / Inf */

static void test_nonfinite(const char *isa) {
    enum { D = 16 };
    rope_freqs f;
    make_freqs(&f, D, 12, 10000.0);
    for (size_t ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < 2; si++) {
            rope_dtype dt = dtypes[ti];
            unsigned char x[D * 4], y[D * 4];
            for (int d = 0; d < D; d++) set_el(x, d, dt, urand());
            rope_style style = styles[si];
            /* NaN in pair 1, Inf in pair 3, NaN and Inf in the tail */
            int a0 = style == ROPE_STYLE_INTERLEAVED ? 2 : 1;
            int b0 = style == ROPE_STYLE_INTERLEAVED ? 6 : 3;
            set_el(x, a0, dt, NAN);
            set_el(x, b0, dt, INFINITY);
            set_el(x, 13, dt, NAN);
            set_el(x, 15, dt, -INFINITY);
            rope_positions pos = {0};
            pos.offset = 3;
            CHECK_OK(rot(style, &f, 12, &pos, 0, 1.0f, dt, x, y, 1, 1, D));
            int bad = 0;
            for (int i = 0; i < 6; i++) {
                int d0 = style == ROPE_STYLE_INTERLEAVED ? 2 * i : i;
                int d1 = style == ROPE_STYLE_INTERLEAVED ? 2 * i + 1 : i + 6;
                int poisoned = i == 1 || i == 3;
                float y0 = get_el(y, d0, dt), y1 = get_el(y, d1, dt);
                if (i == 1 && !(isnan(y0) && isnan(y1))) bad++;
                if (i == 3 && !(isinf(y0) || isnan(y0))) bad++;
                if (!poisoned && !(isfinite(y0) && isfinite(y1))) bad++;
            }
            size_t es = esize(dt);
            if (memcmp(x + 12 * es, y + 12 * es, 4 * es)) bad++; /* tail bit for bit */
            CHECK_MSG(bad == 0, "[%s] %s %s nonfinite", isa, dtype_name(dt),
                      style == ROPE_STYLE_HALF ? "half" : "interleaved");
        }
}

/* ------------------------------------------------------------ random views */

/* A random view into a buffer of n_el elements: nested (a permutation of the
 * dims with random padding, some dims reversed) or arbitrary small strides
 * (which may alias); -1 if it does not fit. */
static int random_view(rope_tensor *t, unsigned char *buf, int64_t n_el, rope_dtype dt,
                       const int64_t shape[4]) {
    int64_t st[4];
    if (rnd() % 4) {
        int perm[4] = {0, 1, 2, 3};
        for (int i = 3; i > 0; i--) {
            int j = (int)(rnd() % (uint32_t)(i + 1)), tmp = perm[i];
            perm[i] = perm[j], perm[j] = tmp;
        }
        if (rnd() % 2) perm[0] = 0, perm[1] = 1, perm[2] = 2, perm[3] = 3;
        int64_t span = 1;
        for (int i = 3; i >= 0; i--) {
            int d = perm[i];
            int64_t step = span + (int64_t)(rnd() % 3 == 0 ? rnd() % 3 : 0);
            st[d] = rnd() % 5 == 0 ? -step : step;
            span = (shape[d] - 1) * step + span;
        }
    } else {
        for (int d = 0; d < 4; d++) st[d] = (int64_t)(rnd() % 9) - 4;
    }
    int64_t lo = 0, hi = 0;
    for (int d = 0; d < 4; d++) {
        int64_t span = (shape[d] - 1) * st[d];
        if (span < 0) lo += span;
        else hi += span;
    }
    if (hi - lo + 1 > n_el) return -1;
    int64_t base = -lo + (int64_t)(rnd() % (uint64_t)(n_el - (hi - lo)));
    t->data = buf + base * (int64_t)esize(dt);
    t->dtype = dt;
    memcpy(t->shape, shape, sizeof t->shape);
    memcpy(t->stride, st, sizeof t->stride);
    return 0;
}

static int64_t view_index(const rope_tensor *t, const unsigned char *buf, int64_t b, int64_t s,
                          int64_t h, int64_t d) {
    return ((const unsigned char *)t->data - buf) / (int64_t)esize(t->dtype) + b * t->stride[0] +
           s * t->stride[1] + h * t->stride[2] + d * t->stride[3];
}

/* Soundness of the checks under random (often overlapping) views: whenever a
 * call succeeds, every output element is the rotation of the input as it was
 * before the call, and no byte outside the outputs changed; whenever it fails,
 * no byte changed at all. */
static void test_random_views(void) {
    enum { N_EL = 700 };
    rope_freqs f8, f4;
    make_freqs(&f8, 8, 8, 100.0);
    make_freqs(&f4, 8, 4, 100.0);
    int accepted = 0, rejected = 0, bad = 0;
    for (int iter = 0; iter < 2000; iter++) {
        rope_dtype dt = iter % 3 ? ROPE_F32 : ROPE_F16;
        size_t es = esize(dt);
        unsigned char buf[2][N_EL * 4], snap[2][N_EL * 4];
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < N_EL; i++) set_el(buf[j], i, dt, urand());
        memcpy(snap, buf, sizeof buf);
        int64_t D = 8, R = iter % 2 ? 8 : 4;
        int64_t shq[4] = {1 + rnd() % 2, 1 + rnd() % 3, 1 + rnd() % 3, D};
        int64_t shk[4] = {shq[0], shq[1], 1 + rnd() % 2, D};
        int qk = iter % 4 == 0;
        rope_tensor qi, qo, ki, ko;
        /* buffers: q_in in 0; q_out in place, in 0 or in 1; k likewise */
        int bqo = (int)(rnd() % 2), bki = (int)(rnd() % 2), bko = (int)(rnd() % 2);
        if (random_view(&qi, buf[0], N_EL, dt, shq)) continue;
        if (rnd() % 3 == 0) qo = qi;
        else if (random_view(&qo, buf[bqo], N_EL, dt, shq)) continue;
        if (qk) {
            if (random_view(&ki, buf[bki], N_EL, dt, shk)) continue;
            if (rnd() % 3 == 0) ko = ki;
            else if (random_view(&ko, buf[bko], N_EL, dt, shk)) continue;
        }
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = iter % 5 < 2 ? ROPE_STYLE_HALF : ROPE_STYLE_INTERLEAVED;
        p.freqs = R == 8 ? &f8 : &f4;
        p.rotary_dim = R;
        rope_positions pos = {0};
        pos.offset = rnd() % 50;
        rope_status st = qk ? rope_apply_qk(&p, &pos, &qi, &qo, &ki, &ko) : rope_apply(&p, &pos, &qi, &qo);
        if (st != ROPE_OK) {
            rejected++;
            if (st != ROPE_E_OVERLAP || memcmp(buf, snap, sizeof buf)) bad++;
            continue;
        }
        accepted++;
        /* expected bytes: the snapshot with every output element replaced */
        unsigned char want[2][N_EL * 4];
        unsigned char written[2][N_EL];
        memcpy(want, snap, sizeof snap);
        memset(written, 0, sizeof written);
        const rope_tensor *vin[2] = {&qi, &ki}, *vout[2] = {&qo, &ko};
        unsigned char *bufs_in[2] = {buf[0], buf[bki]};
        int n_views = qk ? 2 : 1;
        double tol = dt == ROPE_F32 ? 1e-6 : 2e-3;
        for (int v = 0; v < n_views; v++) {
            const rope_tensor *ti = vin[v], *to = vout[v];
            int bi = bufs_in[v] == buf[0] ? 0 : 1;
            int bo = (unsigned char *)to->data >= buf[1] && (unsigned char *)to->data < buf[1] + sizeof buf[1];
            for (int64_t b = 0; b < ti->shape[0]; b++)
                for (int64_t sq = 0; sq < ti->shape[1]; sq++)
                    for (int64_t h = 0; h < ti->shape[2]; h++)
                        for (int64_t d = 0; d < D; d++) {
                            int64_t oi = view_index(to, buf[bo], b, sq, h, d);
                            float got = get_el(buf[bo], oi, dt);
                            if (written[bo][oi]++) bad++; /* two outputs on one element */
                            int64_t ii = view_index(ti, buf[bi], b, sq, h, d);
                            if (d >= R) {
                                memcpy(want[bo] + oi * (int64_t)es, snap[bi] + ii * (int64_t)es, es);
                                continue;
                            }
                            int64_t half = R / 2, pair = p.style == ROPE_STYLE_HALF ? d % half : d / 2;
                            int first = p.style == ROPE_STYLE_HALF ? d < half : d % 2 == 0;
                            int64_t d0 = p.style == ROPE_STYLE_HALF ? pair : 2 * pair;
                            int64_t d1 = p.style == ROPE_STYLE_HALF ? pair + half : 2 * pair + 1;
                            double x0 = get_el(snap[bi], view_index(ti, buf[bi], b, sq, h, d0), dt);
                            double x1 = get_el(snap[bi], view_index(ti, buf[bi], b, sq, h, d1), dt);
                            double ang = (double)(pos.offset + sq) * p.freqs->inv_freq[pair];
                            double y = first ? x0 * cos(ang) - x1 * sin(ang) : x1 * cos(ang) + x0 * sin(ang);
                            if (!(fabs(got - y) <= tol * (fabs(x0) + fabs(x1)) + 1e-6)) bad++;
                            memcpy(want[bo] + oi * (int64_t)es, buf[bo] + oi * (int64_t)es, es);
                        }
        }
        if (memcmp(buf, want, sizeof buf)) bad++; /* nothing else written */
    }
    CHECK_EQ_INT(bad, 0);
    /* both outcomes were exercised */
    CHECK(accepted > 200);
    CHECK(rejected > 200);
}

/* ------------------------------------------------------------ bad inputs */

static void test_bad_inputs(void) {
    enum { B = 2, S = 4, H = 2, D = 16 };
    rope_freqs f;
    make_freqs(&f, D, D, 10000.0);
    rope_table *table = NULL;
    CHECK_OK(rope_table_create(&f, 8, ROPE_PRECISION_ACCURATE, &table));
    float x[B * S * H * D], y[B * S * H * D + 64], y_copy[B * S * H * D + 64];
    for (int i = 0; i < B * S * H * D; i++) x[i] = urand();
    for (size_t i = 0; i < sizeof y / sizeof y[0]; i++) y[i] = (float)i * 0.25f;
    memcpy(y_copy, y, sizeof y);
    rope_apply_params good;
    rope_apply_params_init(&good);
    good.style = ROPE_STYLE_HALF;
    good.table = table;
    good.rotary_dim = D;
    rope_tensor tx, ty;
    rope_tensor_contiguous(&tx, x, ROPE_F32, B, S, H, D);
    rope_tensor_contiguous(&ty, y, ROPE_F32, B, S, H, D);
    rope_positions pos = {0};

#define EXPECT(st, P, POS, IN, OUT)                                                       \
    do {                                                                                  \
        CHECK_STATUS(rope_apply(P, POS, IN, OUT), st);                                    \
        CHECK_MSG(memcmp(y, y_copy, sizeof y) == 0, "output written on error, line %d",   \
                  __LINE__);                                                              \
        memcpy(y, y_copy, sizeof y);                                                      \
    } while (0)

    rope_apply_params p;
    rope_tensor a, b;
    rope_positions q;

    EXPECT(ROPE_E_NULL, NULL, &pos, &tx, &ty);
    EXPECT(ROPE_E_NULL, &good, &pos, NULL, &ty);
    EXPECT(ROPE_E_NULL, &good, &pos, &tx, NULL);
    a = tx, a.data = NULL;
    EXPECT(ROPE_E_NULL, &good, &pos, &a, &ty);
    p = good, p.table = NULL;
    EXPECT(ROPE_E_NULL, &p, &pos, &tx, &ty);
    p = good, p.style = ROPE_STYLE_NONE;
    EXPECT(ROPE_E_STYLE, &p, &pos, &tx, &ty);
    p = good, p.style = (rope_style)7;
    EXPECT(ROPE_E_STYLE, &p, &pos, &tx, &ty);
    a = tx, a.dtype = (rope_dtype)9;
    EXPECT(ROPE_E_DTYPE, &good, &pos, &a, &ty);
    a = tx, a.dtype = ROPE_F16; /* mismatch in/out */
    EXPECT(ROPE_E_DTYPE, &good, &pos, &a, &ty);
    a = tx, a.shape[2] = 1;
    EXPECT(ROPE_E_SHAPE, &good, &pos, &a, &ty);
    a = tx, b = ty, a.shape[0] = b.shape[0] = -1;
    EXPECT(ROPE_E_SHAPE, &good, &pos, &a, &b);
    a = tx, b = ty, a.shape[3] = b.shape[3] = 15; /* odd head_dim */
    EXPECT(ROPE_E_DIM, &good, &pos, &a, &b);
    a = tx, b = ty, a.shape[3] = b.shape[3] = 0;
    EXPECT(ROPE_E_DIM, &good, &pos, &a, &b);
    a = tx, b = ty, a.shape[3] = b.shape[3] = ROPE_MAX_HEAD_DIM + 2;
    EXPECT(ROPE_E_DIM, &good, &pos, &a, &b);
    p = good, p.rotary_dim = 0;
    EXPECT(ROPE_E_DIM, &p, &pos, &tx, &ty);
    p = good, p.rotary_dim = 7;
    EXPECT(ROPE_E_DIM, &p, &pos, &tx, &ty);
    p = good, p.rotary_dim = 18; /* > head_dim */
    EXPECT(ROPE_E_ROTARY_DIM, &p, &pos, &tx, &ty);
    {
        rope_freqs g;
        make_freqs(&g, D, D + 2, 10000.0); /* consistent with R, but R > head_dim */
        p = good, p.table = NULL, p.freqs = &g, p.rotary_dim = D + 2;
        EXPECT(ROPE_E_ROTARY_DIM, &p, &pos, &tx, &ty);
    }
    p = good, p.rotary_dim = 8; /* != 2 * table n_freqs */
    EXPECT(ROPE_E_ROTARY_DIM, &p, &pos, &tx, &ty);
    p = good, p.table = NULL, p.freqs = &f, p.rotary_dim = 8;
    EXPECT(ROPE_E_ROTARY_DIM, &p, &pos, &tx, &ty);
    p = good, p.freqs = &f; /* both table and freqs */
    EXPECT(ROPE_E_PARAM, &p, &pos, &tx, &ty);
    p = good, p.attention_factor = 0;
    EXPECT(ROPE_E_PARAM, &p, &pos, &tx, &ty);
    p = good, p.attention_factor = -1;
    EXPECT(ROPE_E_PARAM, &p, &pos, &tx, &ty);
    p = good, p.attention_factor = NAN;
    EXPECT(ROPE_E_PARAM, &p, &pos, &tx, &ty);
    p = good, p.attention_factor = INFINITY;
    EXPECT(ROPE_E_PARAM, &p, &pos, &tx, &ty);
    {
        rope_freqs g = f;
        g.inv_freq[3] = NAN;
        p = good, p.table = NULL, p.freqs = &g;
        EXPECT(ROPE_E_PARAM, &p, &pos, &tx, &ty);
    }
    /* positions */
    q = pos, q.offset = 5; /* 5 + 3 = 8 = table rows: out */
    EXPECT(ROPE_E_POSITION, &good, &q, &tx, &ty);
    q = pos, q.offset = -1;
    EXPECT(ROPE_E_POSITION, &good, &q, &tx, &ty);
    q = pos, q.offset = INT64_MAX;
    EXPECT(ROPE_E_POSITION, &good, &q, &tx, &ty);
    {
        int64_t ids[B * S] = {0, 1, 2, 3, 4, 5, 6, 8}; /* last row, last token: 8 */
        q = pos, q.ids = ids, q.ids_batch_stride = S;
        EXPECT(ROPE_E_POSITION, &good, &q, &tx, &ty);
        ids[7] = -3;
        EXPECT(ROPE_E_POSITION, &good, &q, &tx, &ty);
        ids[7] = 7;
        q.ids_batch_stride = -1;
        EXPECT(ROPE_E_PARAM, &good, &q, &tx, &ty);
        q.ids_batch_stride = S, q.offset = 1; /* ids with an offset: ambiguous */
        EXPECT(ROPE_E_PARAM, &good, &q, &tx, &ty);
        q.offset = 0, q.ids_batch_stride = INT64_MAX;
        EXPECT(ROPE_E_OVERFLOW, &good, &q, &tx, &ty);
        p = good, p.table = NULL, p.freqs = &f;
        ids[7] = ((int64_t)1 << 53) + 1; /* table-free limit */
        q.ids_batch_stride = S;
        EXPECT(ROPE_E_POSITION, &p, &q, &tx, &ty);
    }
    {
        int64_t cu[3] = {0, 2, 4};
        rope_tensor a1 = tx, b1 = ty;
        a1.shape[0] = b1.shape[0] = 1;
        q = pos, q.cu_seqlens = cu, q.n_seqs = 2;
        EXPECT(ROPE_E_SHAPE, &good, &q, &tx, &ty); /* batch must be 1 */
        cu[2] = 3;
        EXPECT(ROPE_E_SHAPE, &good, &q, &a1, &b1); /* cu[n] != seq */
        cu[2] = 4, cu[0] = 1;
        EXPECT(ROPE_E_PARAM, &good, &q, &a1, &b1);
        cu[0] = 0, cu[1] = 5, cu[2] = 4;
        EXPECT(ROPE_E_PARAM, &good, &q, &a1, &b1); /* not monotone */
        cu[1] = 2;
        q.offset = 7; /* 7 + 1 = 8: out of table */
        EXPECT(ROPE_E_POSITION, &good, &q, &a1, &b1);
        q.offset = 6; /* fits: must succeed (then undo the write) */
        CHECK_OK(rope_apply(&good, &q, &a1, &b1));
        memcpy(y, y_copy, sizeof y);
        q.offset = 0, q.ids = cu;
        EXPECT(ROPE_E_PARAM, &good, &q, &a1, &b1); /* ids and cu_seqlens */
    }
    /* overflow of shape × stride */
    a = tx, b = ty;
    a.stride[0] = INT64_MAX / 2;
    EXPECT(ROPE_E_OVERFLOW, &good, &pos, &a, &b);
    a = tx, b = ty;
    b.stride[1] = INT64_MAX / 3 + 1;
    EXPECT(ROPE_E_OVERFLOW, &good, &pos, &a, &b);
    a = tx, b = ty;
    b.stride[2] = -(INT64_MAX / 4); /* would reach below address 0 */
    EXPECT(ROPE_E_OVERFLOW, &good, &pos, &a, &b);
    /* overlap */
    a = ty, b = ty; /* in = out shifted by one element */
    b.data = y + 1;
    EXPECT(ROPE_E_OVERLAP, &good, &pos, &a, &b);
    /* same data pointer, different strides: not in place, and overlapping */
    a = ty, b = ty;
    a.shape[2] = b.shape[2] = 1, a.stride[2] = b.stride[2] = D;
    b.stride[1] = D + 2; /* b's tokens interleave with a's */
    EXPECT(ROPE_E_OVERLAP, &good, &pos, &a, &b);
    a = tx, b = ty, b.stride[0] = 0; /* output rows alias each other */
    EXPECT(ROPE_E_OVERLAP, &good, &pos, &a, &b);
    a = tx, b = ty, b.stride[2] = D / 2; /* heads overlap within the output */
    EXPECT(ROPE_E_OVERLAP, &good, &pos, &a, &b);

    /* rope_apply_qk */
    CHECK_STATUS(rope_apply_qk(&good, &pos, NULL, NULL, NULL, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_apply_qk(&good, &pos, &tx, NULL, NULL, NULL), ROPE_E_NULL);
    {
        float k[B * S * 1 * D];
        rope_tensor tk;
        rope_tensor_contiguous(&tk, k, ROPE_F32, B, S - 1, 1, D); /* seq differs */
        CHECK_STATUS(rope_apply_qk(&good, &pos, &tx, &ty, &tk, &tk), ROPE_E_SHAPE);
        CHECK(memcmp(y, y_copy, sizeof y) == 0);
        /* k's output is q's output */
        CHECK_STATUS(rope_apply_qk(&good, &pos, &tx, &ty, &tx, &ty), ROPE_E_OVERLAP);
        CHECK(memcmp(y, y_copy, sizeof y) == 0);
        /* k written into q's input: out-of-place q would read rotated k */
        CHECK_STATUS(rope_apply_qk(&good, &pos, &ty, &ty, &tx, &ty), ROPE_E_OVERLAP);
        CHECK(memcmp(y, y_copy, sizeof y) == 0);
    }
    /* a good call works (the checks above are not just always failing) */
    CHECK_OK(rope_apply(&good, &pos, &tx, &ty));
    CHECK(memcmp(y, y_copy, sizeof y) != 0);
    /* empty tensors are fine */
    a = tx, b = ty, a.shape[1] = b.shape[1] = 0;
    memcpy(y, y_copy, sizeof y);
    EXPECT(ROPE_OK, &good, &pos, &a, &b);
    /* pools */
    CHECK_STATUS(rope_pool_create(-1, NULL), ROPE_E_NULL);
    rope_pool *pp = NULL;
    CHECK_STATUS(rope_pool_create(-1, &pp), ROPE_E_PARAM);
    CHECK(pp == NULL);
    CHECK_EQ_INT(rope_pool_size(NULL), 1);
    rope_table_free(table);
#undef EXPECT
}

/* Two threads sharing one pool at the same time: each call either gets the
 * workers or runs inline; both results equal the single-threaded one. */
typedef struct shared_job {
    const rope_apply_params *p;
    const rope_positions *pos;
    const rope_tensor *in, *out;
    int reps;
    rope_status st;
} shared_job;

static void *shared_worker(void *arg) {
    shared_job *j = arg;
    j->st = ROPE_OK;
    for (int r = 0; r < j->reps && j->st == ROPE_OK; r++) j->st = rope_apply(j->p, j->pos, j->in, j->out);
    return NULL;
}

static void test_pool_shared(void) {
    enum { S = 2048, H = 8, D = 64 }; /* 8 MiB read + written: splits */
    rope_freqs f;
    make_freqs(&f, D, D, 10000.0);
    rope_pool *pool = NULL;
    CHECK_OK(rope_pool_create(2, &pool));
    size_t n = (size_t)S * H * D;
    float *x = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
    float *y[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    for (size_t i = 0; i < n; i++) x[i] = urand();
    rope_apply_params p;
    rope_apply_params_init(&p);
    p.style = ROPE_STYLE_INTERLEAVED;
    p.freqs = &f;
    p.rotary_dim = D;
    rope_positions pos = {0};
    pos.offset = 9;
    rope_tensor tx, tr, ty[2];
    rope_tensor_contiguous(&tx, x, ROPE_F32, 1, S, H, D);
    rope_tensor_contiguous(&tr, ref, ROPE_F32, 1, S, H, D);
    CHECK_OK(rope_apply(&p, &pos, &tx, &tr));
    p.pool = pool;
    shared_job jobs[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        rope_tensor_contiguous(&ty[i], y[i], ROPE_F32, 1, S, H, D);
        jobs[i] = (shared_job){&p, &pos, &tx, &ty[i], 20, ROPE_OK};
        CHECK(pthread_create(&th[i], NULL, shared_worker, &jobs[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_OK(jobs[i].st);
        CHECK(memcmp(y[i], ref, n * sizeof(float)) == 0);
    }
    free(x), free(ref), free(y[0]), free(y[1]);
    rope_pool_free(pool);
    /* 0 threads = one per online CPU */
    CHECK_OK(rope_pool_create(0, &pool));
    CHECK(rope_pool_size(pool) >= 1);
    rope_pool_free(pool);
}

static void test_dispatch(void) {
    int n = 0;
    const char *const *names = rope_isa_available(&n);
    CHECK(n >= 1);
    CHECK(strcmp(names[0], "scalar") == 0);
    CHECK(names[n] == NULL);
    CHECK_STATUS(rope_isa_force("no-such-isa"), ROPE_E_UNSUPPORTED);
    CHECK_STATUS(rope_isa_force(NULL), ROPE_E_NULL);
    for (int i = 0; i < n; i++) {
        CHECK_OK(rope_isa_force(names[i]));
        CHECK(strcmp(rope_isa_name(), names[i]) == 0);
    }
    rope_apply_params p;
    rope_apply_params_init(&p);
    CHECK(p.style == ROPE_STYLE_NONE && p.table == NULL && p.freqs == NULL && p.rotary_dim == 0 &&
          p.attention_factor == 1.0f && p.inverse == 0 && p.pool == NULL);
}

int main(void) {
    /* ROPE_ISA picks the set at first use (CI may set it; otherwise ask for
     * scalar, which every build has, and which is never the best on x86-64
     * with AVX2 or on aarch64) */
    const char *env = getenv("ROPE_ISA");
    if (!env || !*env) {
        setenv("ROPE_ISA", "scalar", 1);
        env = "scalar";
    }
    {
        int n = 0;
        const char *const *names = rope_isa_available(&n);
        int listed = 0;
        for (int i = 0; i < n; i++) listed |= strcmp(names[i], env) == 0;
        const char *want = listed ? env : names[n - 1]; /* unavailable: the best */
        CHECK_MSG(strcmp(rope_isa_name(), want) == 0, "ROPE_ISA=%s gave %s", env, rope_isa_name());
    }
    test_dispatch();
    int n = 0;
    const char *const *names = rope_isa_available(&n);
    for (int i = 0; i < n; i++) {
        CHECK_OK(rope_isa_force(names[i]));
        printf("kernel set %s\n", rope_isa_name());
        test_layouts(names[i]);
        test_algebra(names[i]);
        test_deinterleave(names[i]);
        test_positions(names[i]);
        test_large_positions(names[i]);
        test_huge_strides(names[i]);
        test_qk(names[i]);
        test_pool(names[i]);
        test_nonfinite(names[i]);
    }
    test_bad_inputs();
    test_random_views();
    test_pool_shared();
    return check_report("test_apply");
}
