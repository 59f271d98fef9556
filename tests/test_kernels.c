/*
 * Every kernel set this CPU and build offer, against the scalar reference
 * (src/kernels/scalar.c) and a float64 oracle.
 *
 * Row kernels: outputs must be bit-identical to rope_kernels_scalar for f32,
 * f16 and bf16 (whose arithmetic test_reference_arithmetic pins: separately
 * rounded products for f32, one fused product per output for 16-bit storage) (the SIMD files keep the reference's operation order and its
 * round-to-nearest-even conversions), on every rotary_dim 2..256 (step 2) with
 * head_dim up to 260, odd head counts, odd head strides, unaligned pointers,
 * in place, scale != 1, forward and inverse, and inputs full of NaN, ±Inf,
 * ±0, subnormals and huge values. A NaN must stay a NaN (its payload may
 * differ: the hardware picks which operand's NaN propagates). Elements between
 * and after the heads are canaries that no kernel may touch.
 *
 * sincos: every entry bit-identical to the scalar kernel and within SINCOS_ULP
 * float ulps of cos/sin of the exact angle pos·θᵢ (long double libm by the
 * addition formula on hi + lo), for positions 0..2^20 (dense at both ends,
 * sampled in between) and around every 2^k up to 2^53, θ base 1e4 and 1e6,
 * any n. tests/oracle/test_sincos_mpfr.c checks the same at 300 bits.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernel_sets.h"
#include "kernels/kernel.h"
#include "rope.h"

/* Bound for sincos (float ulps vs the long double oracle): every kernel
 * evaluates to ~2^-51 relative in double and rounds once (kernels/sincos.h),
 * the oracle adds ~2^-63 absolute. */
#define SINCOS_ULP 0.501

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { return check_rand64(&rng_state); }
static double rnd_unit(void) { return (double)(rnd() >> 11) * 0x1p-53; }


/* ------------------------------------------------------------- row data */

static size_t esz(int dt) { return dt == ROPE_KDTYPE_F32 ? 4 : 2; }

static float f32_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* An interesting float: mostly ordinary values, sometimes specials. */
static float rnd_value(int specials) {
    uint64_t r = rnd();
    if (specials && r % 16 == 0) {
        static const uint32_t sp[] = {0x7fc00000u, 0xffc00001u, 0x7fa00000u /* sNaN */,
                                      0x7f800000u, 0xff800000u, 0x80000000u, 0x00000000u,
                                      0x00000001u, 0x807fffffu, 0x7f7fffffu, 0x477ff000u,
                                      0x38800000u, 0x33800000u, 0xc77fefffu};
        return f32_of(sp[(r >> 8) % (sizeof sp / sizeof sp[0])]);
    }
    /* sign, exponent in [-30, 20], random mantissa: covers f16 subnormals and overflow */
    int e = (int)((r >> 8) % 51) - 30;
    float m = (float)(1.0 + rnd_unit());
    float v = ldexpf(m, e);
    return (r >> 60) & 1 ? -v : v;
}

static void fill(void *buf, int64_t n, int dt, int specials) {
    for (int64_t i = 0; i < n; i++) {
        if (dt == ROPE_KDTYPE_F32) {
            float v = rnd_value(specials);
            memcpy((char *)buf + 4 * i, &v, 4);
        } else {
            /* any 16-bit pattern (NaN, Inf, subnormals included) when specials */
            uint16_t h;
            if (specials)
                h = (uint16_t)rnd();
            else
                h = dt == ROPE_KDTYPE_F16 ? rope_f32_to_f16(rnd_value(0) * 1e-3f)
                                          : rope_f32_to_bf16(rnd_value(0));
            memcpy((char *)buf + 2 * i, &h, 2);
        }
    }
}

static int is_nan_elem(const void *buf, int64_t i, int dt) {
    if (dt == ROPE_KDTYPE_F32) {
        uint32_t u;
        memcpy(&u, (const char *)buf + 4 * i, 4);
        return (u & 0x7fffffffu) > 0x7f800000u;
    }
    uint16_t h;
    memcpy(&h, (const char *)buf + 2 * i, 2);
    return dt == ROPE_KDTYPE_F16 ? (h & 0x7fffu) > 0x7c00u : (h & 0x7fffu) > 0x7f80u;
}

/* Elementwise comparison: bit-identical, or both NaN. Returns mismatches. */
static int64_t compare(const void *got, const void *want, int64_t n, int dt, int64_t *first) {
    int64_t bad = 0;
    *first = -1;
    for (int64_t i = 0; i < n; i++) {
        int same = !memcmp((const char *)got + esz(dt) * i, (const char *)want + esz(dt) * i,
                           esz(dt));
        if (!same && !(is_nan_elem(got, i, dt) && is_nan_elem(want, i, dt))) {
            if (bad++ == 0) *first = i;
        }
    }
    return bad;
}

typedef struct row_case {
    int style, dt;
    int64_t n_heads, head_dim, rotary_dim, in_stride, out_stride;
    int64_t in_off, out_off; /* element offsets from the allocation: unaligned starts */
    float scale;
    int inverse, in_place, specials;
    int stream; /* rope_row_args.stream: prefetch + non-temporal stores when aligned */
} row_case;

/* Runs one case on kernel set k and on the reference; 1 if identical. */
static int run_row_case(const rope_kernels *k, const row_case *c) {
    const int64_t span_in = c->in_off + c->n_heads * c->in_stride + 8;
    const int64_t span_out = c->out_off + c->n_heads * c->out_stride + 8;
    const int64_t span = span_in > span_out ? span_in : span_out;
    const size_t bytes = ((size_t)span * esz(c->dt) + 63) / 64 * 64;
    /* 64-byte aligned allocations: offset 0 gives the aligned (streaming) path */
    unsigned char *src = aligned_alloc(64, bytes), *a = aligned_alloc(64, bytes),
                  *b = aligned_alloc(64, bytes);
    float *cs = malloc(sizeof(float) * (size_t)c->rotary_dim);
    if (!src || !a || !b || !cs) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    fill(src, span, c->dt, c->specials);
    const int64_t nf = c->rotary_dim / 2;
    for (int64_t i = 0; i < nf; i++) { /* genuine cos/sin of random angles */
        double ang = (rnd_unit() - 0.5) * 100.0;
        cs[i] = (float)cos(ang);
        cs[nf + i] = (float)sin(ang);
    }
    memcpy(a, src, bytes);
    memcpy(b, src, bytes);
    rope_row_args args = {0};
    args.n_heads = c->n_heads;
    args.in_head_stride = c->in_place ? c->out_stride : c->in_stride;
    args.out_head_stride = c->out_stride;
    args.head_dim = c->head_dim;
    args.rotary_dim = c->rotary_dim;
    args.cos = cs;
    args.sin = cs + nf;
    args.scale = c->scale;
    args.inverse = c->inverse;
    args.stream = c->stream;
    int ki = c->style, kd = c->dt;

    /* out-of-place: input lives in src, output in a (kernel) / b (reference) */
    rope_row_args ak = args, ar = args;
    if (c->in_place) {
        ak.in = ak.out = a + c->out_off * (int64_t)esz(c->dt);
        ar.in = ar.out = b + c->out_off * (int64_t)esz(c->dt);
    } else {
        ak.in = ar.in = src + c->in_off * (int64_t)esz(c->dt);
        ak.out = a + c->out_off * (int64_t)esz(c->dt);
        ar.out = b + c->out_off * (int64_t)esz(c->dt);
    }
    k->row[ki][kd](&ak);
    rope_kernels_scalar.row[ki][kd](&ar);
    int64_t first;
    int64_t bad = compare(a, b, span, c->dt, &first);
    int ok = bad == 0;
    if (!ok)
        fprintf(stderr,
                "  %s style=%d dt=%d H=%lld D=%lld R=%lld strides %lld/%lld off %lld/%lld "
                "scale=%g inv=%d inplace=%d stream=%d: %lld mismatches, first at element %lld\n",
                k->name, c->style, c->dt, (long long)c->n_heads, (long long)c->head_dim,
                (long long)c->rotary_dim, (long long)c->in_stride, (long long)c->out_stride,
                (long long)c->in_off, (long long)c->out_off, c->scale, c->inverse, c->in_place,
                c->stream, (long long)bad, (long long)first);
    free(src);
    free(a);
    free(b);
    free(cs);
    return ok;
}

/* Out-of-place calls must not write their input. */
static int input_untouched(const rope_kernels *k, int style, int dt) {
    const int64_t H = 5, D = 100, R = 90;
    const size_t bytes = (size_t)(H * D) * esz(dt);
    unsigned char *in = malloc(bytes), *copy = malloc(bytes), *out = malloc(bytes);
    float cs[90];
    for (int i = 0; i < 90; i++) cs[i] = (float)cos(i * 0.37);
    fill(in, H * D, dt, 1);
    memcpy(copy, in, bytes);
    rope_row_args a = {.in = in, .out = out, .n_heads = H, .in_head_stride = D,
                       .out_head_stride = D, .head_dim = D, .rotary_dim = R, .cos = cs,
                       .sin = cs + 45, .scale = 1.0f};
    k->row[style][dt](&a);
    int ok = !memcmp(in, copy, bytes);
    free(in);
    free(copy);
    free(out);
    return ok;
}

static void test_rows(const rope_kernels *k) {
    int64_t cases = 0, failed = 0;
    for (int style = 0; style < ROPE_KSTYLE_COUNT; style++)
        for (int dt = 0; dt < ROPE_KDTYPE_COUNT; dt++) {
            /* every rotary_dim, a few head_dims, odd heads, odd strides, offsets */
            for (int64_t R = 2; R <= 256; R += 2) {
                int64_t dims[3] = {R, R + 2 + (R % 7), 260};
                for (int di = 0; di < 3; di++) {
                    int64_t D = dims[di];
                    if (D > 260 || (di == 2 && (D == dims[0] || D == dims[1]))) continue;
                    row_case c = {style, dt, 3, D, R, D + 3, D + 1, 1, 3, 1.0f, 0, 0, 1, 0};
                    c.inverse = (int)(R / 2 % 2);
                    c.scale = R % 6 == 0 ? 1.3125f : 1.0f;
                    c.in_place = di == 1 && R % 4 == 0;
                    c.stream = R % 8 == 2;
                    cases++;
                    if (!run_row_case(k, &c)) failed++;
                }
            }
            /* the specialised sizes with many heads, both directions, contiguous */
            static const int64_t Rs[] = {64, 128, 96, 80, 24, 256};
            for (int ri = 0; ri < 6; ri++)
                for (int inv = 0; inv < 2; inv++)
                    for (int ip = 0; ip < 2; ip++)
                        for (int sm = 0; sm < 2; sm++) {
                            int64_t R = Rs[ri], D = ri == 3 ? 128 : R;
                            row_case c = {style, dt, 33, D, R, D, D, 0, 0, 0.7f, inv, ip, ip, sm};
                            cases++;
                            if (!run_row_case(k, &c)) failed++;
                        }
            /* ordinary values only (no specials): catches rounding differences
             * that NaN-heavy inputs could hide */
            for (int64_t R = 2; R <= 130; R += 2) {
                int64_t D = R + R % 3 * 2;
                row_case c = {style, dt, 7, D, R, D + 5, D + 2, 5, 2, 1.0f, R % 3 == 0, 0, 0, R % 4 == 0};
                cases++;
                if (!run_row_case(k, &c)) failed++;
            }
            CHECK_MSG(input_untouched(k, style, dt), "%s style %d dtype %d wrote its input",
                      k->name, style, dt);
        }
    CHECK_MSG(failed == 0, "%s: %lld of %lld row cases differ from the scalar reference",
              k->name, (long long)failed, (long long)cases);
    printf("  %s: %lld row cases, %lld bit-identical to scalar\n", k->name, (long long)cases,
           (long long)(cases - failed));
}

/* --------------------------------------------- the reference's arithmetic */

/* The scalar reference's pair arithmetic, written out here on its own: f32 storage
 * rounds every product (x0·c' − x1·s', Hugging Face's float32 bits); f16/bf16 storage
 * fuses the first product of each output, RN16(fma(x0, c', −(x1·s'))) and
 * RN16(fma(x1, c', x0·s')) (docs/precision.md). Both conventions, forward and
 * inverse, scale != 1. The two 16-bit definitions must differ on some of these
 * pairs, or this test could not tell them apart. */
static void test_reference_arithmetic(void) {
    enum { H = 1024, R = 128, NF = R / 2 };
    float cs[NF], sn[NF];
    int64_t mismatches = 0, checked = 0, fused_vs_separate = 0;
    for (int dt = 0; dt < ROPE_KDTYPE_COUNT; dt++)
        for (int style = 0; style < 2; style++)
            for (int inv = 0; inv < 2; inv++) {
                const size_t es = esz(dt), bytes = (size_t)(H * R) * es;
                unsigned char *in = malloc(bytes), *out = malloc(bytes);
                if (!in || !out) exit(1);
                fill(in, H * R, dt, 0);
                for (int i = 0; i < NF; i++) {
                    double ang = (rnd_unit() - 0.5) * 100.0;
                    cs[i] = (float)cos(ang);
                    sn[i] = (float)sin(ang);
                }
                const float scale = inv ? 1.0f : 0.8125f;
                rope_row_args a = {.in = in, .out = out, .n_heads = H, .in_head_stride = R,
                                   .out_head_stride = R, .head_dim = R, .rotary_dim = R,
                                   .cos = cs, .sin = sn, .scale = scale, .inverse = inv};
                rope_kernels_scalar.row[style][dt](&a);
                for (int64_t h = 0; h < H; h++)
                    for (int64_t i = 0; i < NF; i++) {
                        const int64_t i0 = h * R + (style ? i : 2 * i);
                        const int64_t i1 = h * R + (style ? i + NF : 2 * i + 1);
                        float c = cs[i] * scale, s = sn[i] * scale;
                        if (inv) s = -s;
                        const float x0 = rope_ref_load(in + i0 * es, dt);
                        const float x1 = rope_ref_load(in + i1 * es, dt);
                        const float p0 = x0 * c, p1 = x1 * s, p2 = x1 * c, p3 = x0 * s;
                        float w0 = p0 - p1, w1 = p2 + p3;
                        if (dt != ROPE_KDTYPE_F32) {
                            const float f0 = fmaf(x0, c, -p1), f1 = fmaf(x1, c, p3);
                            unsigned char u[4], v[4];
                            rope_ref_store(u, f0, dt);
                            rope_ref_store(v, w0, dt);
                            fused_vs_separate += memcmp(u, v, es) != 0;
                            rope_ref_store(u, f1, dt);
                            rope_ref_store(v, w1, dt);
                            fused_vs_separate += memcmp(u, v, es) != 0;
                            w0 = f0;
                            w1 = f1;
                        }
                        unsigned char e0[4], e1[4];
                        rope_ref_store(e0, w0, dt);
                        rope_ref_store(e1, w1, dt);
                        mismatches += memcmp(out + i0 * es, e0, es) != 0;
                        mismatches += memcmp(out + i1 * es, e1, es) != 0;
                        checked += 2;
                    }
                free(in);
                free(out);
            }
    CHECK_MSG(mismatches == 0, "scalar reference: %lld of %lld elements differ from its definition",
              (long long)mismatches, (long long)checked);
    CHECK_MSG(fused_vs_separate > 0, "no 16-bit pair where fused and separate rounding differ");
    printf("  scalar: %lld elements follow the written-out definition; fused vs separately "
           "rounded 16-bit results differ in %lld\n",
           (long long)checked, (long long)fused_vs_separate);
}

/* --------------------------------------------------------------- sincos */

/* Distance in float ulps (at the magnitude of the truth) between got and truth. */
static double ulp_err(float got, double truth) {
    if (isnan(got) || isnan(truth)) return isnan(got) && isnan(truth) ? 0 : INFINITY;
    double a = fabs(truth);
    int e;
    frexp(a, &e); /* a = m·2^e, m in [0.5, 1) */
    double ulp = ldexp(1.0, e - 24);
    if (ulp < 0x1p-149) ulp = 0x1p-149;
    return fabs((double)got - truth) / ulp;
}

static double check_sincos_at(const rope_kernels *k, const double *inv, int64_t n, double pos,
                              float *c, float *s) {
    k->sincos(inv, n, pos, c, s);
    float cr[64], sr[64]; /* the scalar kernel's bits: every set must match them */
    rope_kernels_scalar.sincos(inv, n, pos, cr, sr);
    CHECK_MSG(!memcmp(c, cr, (size_t)n * 4) && !memcmp(s, sr, (size_t)n * 4),
              "%s sincos at pos %.17g differs from scalar", k->name, pos);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        /* the truth is cos/sin of the exact product pos·θᵢ = hi + lo (lo from
         * an FMA), by the addition formula in long double: lo can be ~1 near
         * 2^53, so no first-order shortcut; error ~2^-63 absolute */
        double hi = pos * inv[i], lo = fma(pos, inv[i], -hi);
        long double ch = cosl((long double)hi), sh = sinl((long double)hi);
        long double cl = cosl((long double)lo), sl = sinl((long double)lo);
        double tc = (double)(ch * cl - sh * sl), ts = (double)(sh * cl + ch * sl);
        double ec = ulp_err(c[i], tc), es = ulp_err(s[i], ts);
        if (ec > worst) worst = ec;
        if (es > worst) worst = es;
    }
    return worst;
}

static void test_sincos(const rope_kernels *k) {
    static const double bases[] = {1e4, 1e6, 5e5};
    double inv[64], worst = 0, w;
    float c[64], s[64];
    int64_t evaluated = 0;
    for (int bi = 0; bi < 3; bi++) {
        for (int i = 0; i < 64; i++) inv[i] = pow(bases[bi], -2.0 * i / 128.0);
        const int64_t top = (int64_t)1 << 20;
        for (int64_t p = 0; p <= top; p++) {
            /* every position near 0 and near 2^20; a sample (stride 97) between */
            if (p >= 4096 && p < top - 4096 && p % 151) continue;
            double w = check_sincos_at(k, inv, 64, (double)p, c, s);
            if (w > worst) worst = w;
            evaluated += 64;
        }
    }
    CHECK_MSG(worst <= SINCOS_ULP, "%s sincos: worst error %.3f ulp > %.2f", k->name, worst,
              SINCOS_ULP);
    /* odd lengths exercise the tails; large positions the far range, where
     * lo (the product's rounding error) is large: up to 1 near 2^53 */
    static const double big[] = {3e6, 1e8, 0x1p31 + 5, 1e12, 0x1p52, 0x1p52 + 12345,
                                 0x1p53 - 1, 0x1p53};
    for (int64_t n = 1; n <= 19; n += 3)
        for (int bi = 0; bi < 8; bi++) {
            for (int i = 0; i < n; i++) inv[i] = pow(1e4, -2.0 * i / (2.0 * (double)n));
            double w = check_sincos_at(k, inv, n, big[bi], c, s);
            CHECK_MSG(w <= SINCOS_ULP, "%s sincos n=%lld pos=%g: %.3f ulp", k->name,
                      (long long)n, big[bi], w);
            if (w > worst) worst = w;
        }
    /* every position 2^k - 8 .. 2^k + 7 up to 2^53 (the MPFR oracle test,
     * tests/oracle, does the same against 300 bits, with the hard cases) */
    for (int i = 0; i < 64; i++) inv[i] = pow(1e4, -2.0 * i / 128.0);
    for (int e = 21; e <= 53; e++)
        for (int j = -8; j < 8; j++) {
            double p = ldexp(1.0, e) + j;
            if (p > 0x1p53) continue;
            double w = check_sincos_at(k, inv, 64, p, c, s);
            CHECK_MSG(w <= SINCOS_ULP, "%s sincos pos %.17g: %.3f ulp", k->name, p, w);
            if (w > worst) worst = w;
            evaluated += 64;
        }
    /* a θ above 1 takes angles past 2^53: the scalar kernel's libm route */
    inv[0] = 1.75, inv[1] = 3.0, inv[2] = 1e3;
    w = check_sincos_at(k, inv, 3, 0x1p53 - 3, c, s);
    CHECK_MSG(w <= 1.0, "%s sincos beyond 2^53: %.3f ulp", k->name, w);
    /* angles close to multiples of π/2 (cancellation in the reduction) */
    for (int i = 0; i < 64; i++) inv[i] = (3.14159265358979323846 / 2) * (double)(i + 1) / 1e5 * (1 + 1e-15 * i);
    w = check_sincos_at(k, inv, 64, 1e5, c, s);
    CHECK_MSG(w <= SINCOS_ULP, "%s sincos near kπ/2: %.3f ulp", k->name, w);
    if (w > worst) worst = w;
    /* position 0: exactly cos = 1, sin = 0 */
    k->sincos(inv, 64, 0.0, c, s);
    int exact = 1;
    for (int i = 0; i < 64; i++) exact &= c[i] == 1.0f && s[i] == 0.0f;
    CHECK_MSG(exact, "%s sincos at position 0 is not (1, 0)", k->name);
    printf("  %s: sincos %lld entries, worst %.4f ulp vs the exact-angle oracle (bound %.3f)\n", k->name,
           (long long)evaluated, worst, SINCOS_ULP);
}

int main(void) {
    int n = 0;
    const char *const *names = rope_isa_available(&n);
    CHECK(n >= 1);
    CHECK(names && !strcmp(names[0], "scalar"));
    for (int i = 0; i < n; i++) {
        const rope_kernels *k = table_of(names[i]);
        CHECK_MSG(k != NULL, "no table for available kernel set %s", names[i]);
        if (!k) continue;
        CHECK(!strcmp(k->name, names[i]));
        /* a forced set is the one rope_kernels_get returns */
        CHECK_OK(rope_isa_force(names[i]));
        CHECK(rope_kernels_get() == k);
        if (k != &rope_kernels_scalar) test_rows(k);
        test_sincos(k);
    }
    test_reference_arithmetic();
    CHECK_STATUS(rope_isa_force("no-such-isa"), ROPE_E_UNSUPPORTED);
    return check_report("test_kernels");
}
