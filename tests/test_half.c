/*
 * f16/bf16 conversions, checked exhaustively over all 65536 bit patterns and
 * against an independent reference computed in double arithmetic:
 *   - widening: value == mantissa · 2^exponent built with ldexp;
 *   - narrowing: nearest representable value found by scaling to the target
 *     quantum and rounding with nearbyint (ties to even in the default mode);
 *   - round trip narrow(widen(h)) == h for every non-NaN h;
 *   - every midpoint between neighbours, and one float ulp either side.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rope.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* f16 value from its fields, in double. */
static double f16_ref_value(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    double v;
    if (exp == 31) v = mant ? NAN : INFINITY;
    else if (exp == 0) v = ldexp((double)mant, -24);
    else v = ldexp((double)(1024 + mant), exp - 25);
    return sign ? -v : v;
}

static double bf16_ref_value(uint16_t h) {
    int sign = h >> 15, exp = (h >> 7) & 255, mant = h & 127;
    double v;
    if (exp == 255) v = mant ? NAN : INFINITY;
    else if (exp == 0) v = ldexp((double)mant, -133);
    else v = ldexp((double)(128 + mant), exp - 134);
    return sign ? -v : v;
}

/* Round x to a binary format with `mbits` stored mantissa bits, minimum normal
 * exponent emin, and largest finite value maxv; ties to even. Done in double:
 * x / quantum is exact (power-of-two scaling), nearbyint rounds to even. */
static double round_ref(double x, int mbits, int emin, double maxv) {
    if (isnan(x) || isinf(x) || x == 0) return x;
    int e;
    frexp(fabs(x), &e); /* |x| in [2^(e-1), 2^e) */
    int qexp = (e - 1) - mbits;
    if (e - 1 < emin) qexp = emin - mbits; /* subnormal range: fixed quantum */
    double q = ldexp(1.0, qexp);
    double r = nearbyint(x / q) * q;
    /* overflow: IEEE rounds to Inf when the rounded magnitude (with unbounded
     * exponent) exceeds maxv */
    if (fabs(r) > maxv) return x < 0 ? -INFINITY : INFINITY;
    return r;
}

static int f16_matches_ref(float f) {
    uint16_t h = rope_f32_to_f16(f);
    double want = round_ref((double)f, 10, -14, 65504.0);
    double got = f16_ref_value(h);
    if (isnan(want)) return isnan(got);
    if (got != want) return 0;
    /* sign of zero kept */
    return !signbit(got) == !signbit((double)f);
}

static int bf16_matches_ref(float f) {
    uint16_t h = rope_f32_to_bf16(f);
    /* bf16 max finite is (2 - 2^-7) · 2^127 = 255 · 2^120 */
    double want = round_ref((double)f, 7, -126, ldexp(255.0, 120));
    double got = bf16_ref_value(h);
    if (isnan(want)) return isnan(got);
    if (got != want) return 0;
    return !signbit(got) == !signbit((double)f);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void) {
    check_rand64(&rng);
    return (uint32_t)(rng >> 16);
}

static void test_f16_widen_exhaustive(void) {
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float f = rope_f16_to_f32(h);
        double ref = f16_ref_value(h);
        if (isnan(ref)) {
            /* NaN stays NaN and comes out quiet */
            if (!isnan(f) || !(bits(f) & 0x400000u)) bad++;
            uint16_t back = rope_f32_to_f16(f);
            if ((back & 0x7c00u) != 0x7c00u || !(back & 0x3ffu) || (back & 0x8000u) != (h & 0x8000u))
                bad++;
        } else {
            if ((double)f != ref || !signbit(f) != !signbit(ref)) bad++;
            if (rope_f32_to_f16(f) != h) bad++; /* round trip identity */
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_bf16_widen_exhaustive(void) {
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float f = rope_bf16_to_f32(h);
        double ref = bf16_ref_value(h);
        if (isnan(ref)) {
            if (!isnan(f)) bad++;
            if (!isnan(rope_bf16_to_f32(rope_f32_to_bf16(f)))) bad++;
        } else {
            if ((double)f != ref || !signbit(f) != !signbit(ref)) bad++;
            if (rope_f32_to_bf16(f) != h) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* Every f16 value, every midpoint to its upper neighbour, and the floats one
 * ulp either side of those: the places where rounding can go wrong. */
static void test_f16_narrow_edges(void) {
    int bad = 0, n = 0;
    for (uint32_t i = 0; i < 0x7c00u; i++) {
        for (int s = 0; s < 2; s++) {
            float lo = rope_f16_to_f32((uint16_t)i);
            float hi = rope_f16_to_f32((uint16_t)(i + 1)); /* 0x7c00 = Inf for the last */
            double mid = isinf(hi) ? 65520.0 : ((double)lo + (double)hi) / 2;
            float m = (float)mid; /* exact: midpoints need 12 mantissa bits */
            if ((double)m != mid) bad++;
            float cand[5] = {lo, m, nextafterf(m, -INFINITY), nextafterf(m, INFINITY), hi};
            for (int c = 0; c < 5; c++) {
                float v = s ? -cand[c] : cand[c];
                if (!f16_matches_ref(v)) {
                    if (bad < 5) fprintf(stderr, "f16 narrow mismatch at %a\n", (double)v);
                    bad++;
                }
                n++;
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(n > 100000);
}

static void test_bf16_narrow_edges(void) {
    int bad = 0;
    for (uint32_t i = 0; i < 0x7f80u; i++) {
        for (int s = 0; s < 2; s++) {
            uint32_t lo = (uint32_t)i << 16;
            uint32_t mid = lo + 0x8000u;
            uint32_t cand[4] = {lo, mid, mid - 1, mid + 1};
            for (int c = 0; c < 4; c++) {
                float v = from_bits(cand[c] | (s ? 0x80000000u : 0));
                if (!bf16_matches_ref(v)) {
                    if (bad < 5) fprintf(stderr, "bf16 narrow mismatch at %a\n", (double)v);
                    bad++;
                }
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_narrow_random(void) {
    int bad16 = 0, badb = 0;
    for (int i = 0; i < 2000000; i++) {
        float f = from_bits(rnd32());
        if (!f16_matches_ref(f)) bad16++;
        if (!bf16_matches_ref(f)) badb++;
        /* also values concentrated in the f16 range */
        float g = ldexpf((float)(rnd32() & 0xffffff) / 16777216.0f, (int)(rnd32() % 44) - 28);
        if (!f16_matches_ref(g)) bad16++;
    }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(badb, 0);
}

static void test_specials(void) {
    CHECK(rope_f32_to_f16(INFINITY) == 0x7c00);
    CHECK(rope_f32_to_f16(-INFINITY) == 0xfc00);
    CHECK(rope_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(rope_f32_to_f16(65519.996f) == 0x7bff);
    CHECK(rope_f32_to_f16(65520.0f) == 0x7c00); /* tie rounds to even = Inf */
    CHECK(rope_f32_to_f16(1e9f) == 0x7c00);
    CHECK(rope_f32_to_f16(FLT_MAX) == 0x7c00);
    CHECK(rope_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001);  /* smallest subnormal */
    CHECK(rope_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);  /* tie to even: 0 */
    CHECK(rope_f32_to_f16(ldexpf(3.0f, -26)) == 0x0001);  /* 0.75 quantum: 1 */
    CHECK(rope_f32_to_f16(ldexpf(3.0f, -25)) == 0x0002);  /* 1.5 quantum: tie to even 2 */
    CHECK(rope_f32_to_f16(-0.0f) == 0x8000);
    CHECK(rope_f32_to_f16(1.0f) == 0x3c00);
    CHECK(rope_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00); /* tie to even */
    CHECK(rope_f32_to_f16(1.0f + ldexpf(3.0f, -11)) == 0x3c02);
    CHECK(isnan(rope_f16_to_f32(rope_f32_to_f16(NAN))));
    /* a signalling f32 NaN whose payload lives only in the low 13 bits stays NaN */
    CHECK((rope_f32_to_f16(from_bits(0x7f800001u)) & 0x7fffu) > 0x7c00u);
    CHECK(rope_f32_to_bf16(INFINITY) == 0x7f80);
    CHECK(rope_f32_to_bf16(FLT_MAX) == 0x7f80); /* rounds up past bf16 max */
    CHECK(rope_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(rope_f32_to_bf16(from_bits(0x3f808000u)) == 0x3f80); /* tie to even (down) */
    CHECK(rope_f32_to_bf16(from_bits(0x3f818000u)) == 0x3f82); /* tie to even (up) */
    CHECK((rope_f32_to_bf16(from_bits(0x7f800001u)) & 0x7fffu) > 0x7f80u);
    CHECK(isnan(rope_bf16_to_f32(0x7f81)));
    CHECK(bits(rope_bf16_to_f32(0x7f81)) & 0x400000u); /* comes out quiet */
    CHECK(rope_bf16_to_f32(0x0001) == ldexpf(1.0f, -133));
}

int main(void) {
    test_f16_widen_exhaustive();
    test_bf16_widen_exhaustive();
    test_f16_narrow_edges();
    test_bf16_narrow_edges();
    test_narrow_random();
    test_specials();
    return check_report("test_half");
}
