/*
 * Accurate-mode cos/sin of the exact angle pos·θ: the constants and the one
 * scalar definition that every kernel set (scalar.c, avx2.c, avx512.c,
 * neon.c) reproduces operation for operation, so all of them give the same
 * bits. Only IEEE double operations with one rounding each (+, −, ×, fma,
 * round-to-integer) are used: they are exact-rounded identically everywhere.
 *
 * 1. The angle. hi = RN(pos·θ), lo = fma(pos, θ, −hi): hi + lo == pos·θ
 *    exactly (pos is an integer ≤ 2^53, θ any double). |lo| ≤ ulp(hi)/2,
 *    which is up to 1 near 2^53: lo must be reduced with hi, not added as a
 *    first-order correction after the reduction (that was the old scheme; its
 *    second-order error lo²/2 passed one float ulp beyond ~2^42).
 * 2. The quadrant. k = the integer nearest (hi + lo)·2/π: k0 = rint(hi·C1)
 *    (C1 + C2 = 2/π to 2^-107 relative); beyond |hi| = 2^30 the fraction
 *    f = (hi·C1 − k0) + (hi·C2 + lo·C1), good to ~2^-52, moves k0 by rint(f).
 *    |hi + lo − k·π/2| ≤ π/4 + 2^-22. k < 2^53 needs |hi| < ROPE_SC_LIMIT.
 * 3. The reduction, r = hi + lo − k·π/2 with π/2 = P1 + P2 + P3 (+ 2^-163):
 *    s1 = hi − k·P1 is exact in one fma (it is a multiple of 2^-52 below 2 in
 *    magnitude, or of 2^-53 below 1 when |hi| < 1); k·P2 = a2 + e2 exactly;
 *    s1 − a2 = s2 + t2 exactly by TwoSum (s1 and a2 can cancel: the hard cases
 *    next to multiples of π/2). r = (s2 + lo) + (t2 − (e2 + k·P3)): s2 + lo is
 *    exact when it cancels (Sterbenz) and otherwise rounds relative to itself,
 *    so r is within 2^-53·|r| + 2^-103 of the truth for |hi| < 2^53.
 * 4. sin/cos on |r| ≤ π/4 + 2^-22: Taylor polynomials to degree 15 (sin) and
 *    16 (cos), truncation below 2^-54 relative, evaluated by Horner with fma.
 *    Relative error before the final rounding ≈ 2^-51.
 * 5. Quadrant q = k mod 4: sin = (s, c, −s, −c)[q], cos = (c, −s, −c, s)[q],
 *    rounded once to float32. (q and the sign flips are exact, so the SIMD
 *    files may find them by any exact means, e.g. k converted to an integer.)
 *
 * So each entry is within 0.5 ulp + 2^-26 ulp of cos/sin of the exact angle
 * unless that value is below ~2^-75 (an angle within 2^-75 of a multiple of
 * π/2, where the 2^-103 absolute error of r dominates); docs/precision.md has
 * the measured figures (tests/oracle/test_sincos_mpfr.c, 300-bit MPFR).
 * Angles from ROPE_SC_LIMIT on (θ > 1, or m·θ = 2^53) and NaN take a libm
 * route in rope_scalar_sincos (cos(hi+lo) by the addition formula): within a
 * few 1e-16 absolute, not covered by the claim above.
 */
#ifndef ROPE_SINCOS_H
#define ROPE_SINCOS_H

#include <math.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* every fma is written out; nothing else may fuse */
#endif

/* π/2 = P1 + P2 + P3 + ~5.6e-50 */
#define ROPE_SC_P1 0x1.921fb54442d18p+0
#define ROPE_SC_P2 0x1.1a62633145c07p-54
#define ROPE_SC_P3 (-0x1.f1976b7ed8fbcp-110)
/* 2/π = C1 + C2 + ~-2.1e-33 */
#define ROPE_SC_C1 0x1.45f306dc9c883p-1
#define ROPE_SC_C2 (-0x1.6b01ec5417056p-55)
/* |hi| below this takes the reduction above (k < 2^53 − 1, |s1| < 2) */
#define ROPE_SC_LIMIT 0x1p53
/* |hi| above this needs the second step of k (below, rint(hi·C1) alone is
 * within 0.5 + 2^-22 of (hi + lo)·2/π: |r| ≤ π/4 + 2^-22, as good) */
#define ROPE_SC_KFIX 0x1p30

/* Taylor coefficients, highest degree first (Horner order) */
#define ROPE_SC_S7 (-1.0 / 1307674368000.0) /* −1/15! */
#define ROPE_SC_S6 (1.0 / 6227020800.0)     /*  1/13! */
#define ROPE_SC_S5 (-1.0 / 39916800.0)
#define ROPE_SC_S4 (1.0 / 362880.0)
#define ROPE_SC_S3 (-1.0 / 5040.0)
#define ROPE_SC_S2 (1.0 / 120.0)
#define ROPE_SC_S1 (-1.0 / 6.0)
#define ROPE_SC_C8 (1.0 / 20922789888000.0) /*  1/16! */
#define ROPE_SC_C7 (-1.0 / 87178291200.0)   /* −1/14! */
#define ROPE_SC_C6 (1.0 / 479001600.0)
#define ROPE_SC_C5 (-1.0 / 3628800.0)
#define ROPE_SC_C4 (1.0 / 40320.0)
#define ROPE_SC_C3 (-1.0 / 720.0)
#define ROPE_SC_C2P (1.0 / 24.0)
#define ROPE_SC_C1P (-0.5)

/* a + b = *s + *e exactly (Knuth's TwoSum, no ordering needed) */
static inline void rope_sc_two_sum(double a, double b, double *s, double *e) {
    double x = a + b, bb = x - a;
    *e = (a - (x - bb)) + (b - bb);
    *s = x;
}

/* Steps 2-5 for one angle hi + lo with |hi| < ROPE_SC_LIMIT (not NaN), in
 * double: the values before the final rounding to float32 (the anchors of the
 * table build below use them as they are). */
static inline void rope_sc_reduced_d(double hi, double lo, double *cos_out, double *sin_out) {
    double k = nearbyint(hi * ROPE_SC_C1);
    if (fabs(hi) > ROPE_SC_KFIX) {
        double f = fma(hi, ROPE_SC_C1, -k) + fma(hi, ROPE_SC_C2, lo * ROPE_SC_C1);
        k = k + nearbyint(f);
    }
    double s1 = fma(-k, ROPE_SC_P1, hi); /* exact */
    double a2 = k * ROPE_SC_P2, e2 = fma(k, ROPE_SC_P2, -a2);
    double s2, t2;
    rope_sc_two_sum(s1, -a2, &s2, &t2);
    double r = (s2 + lo) + (t2 - (e2 + k * ROPE_SC_P3));
    double z = r * r;
    double ps = fma(ROPE_SC_S7, z, ROPE_SC_S6);
    ps = fma(ps, z, ROPE_SC_S5);
    ps = fma(ps, z, ROPE_SC_S4);
    ps = fma(ps, z, ROPE_SC_S3);
    ps = fma(ps, z, ROPE_SC_S2);
    ps = fma(ps, z, ROPE_SC_S1);
    double sn = fma(ps * z, r, r);
    double pc = fma(ROPE_SC_C8, z, ROPE_SC_C7);
    pc = fma(pc, z, ROPE_SC_C6);
    pc = fma(pc, z, ROPE_SC_C5);
    pc = fma(pc, z, ROPE_SC_C4);
    pc = fma(pc, z, ROPE_SC_C3);
    pc = fma(pc, z, ROPE_SC_C2P);
    pc = fma(pc, z, ROPE_SC_C1P);
    double cs = fma(pc, z, 1.0);
    double q = k - 4.0 * floor(k * 0.25); /* 0, 1, 2 or 3, exactly */
    double so = q == 1.0 || q == 3.0 ? cs : sn;
    double co = q == 1.0 || q == 3.0 ? sn : cs;
    if (q >= 2.0) so = -so;
    if (q == 1.0 || q == 2.0) co = -co;
    *cos_out = co;
    *sin_out = so;
}

/* The same, rounded once to float32: the accurate-mode entry. */
static inline void rope_sc_reduced(double hi, double lo, float *cos_out, float *sin_out) {
    double co, so;
    rope_sc_reduced_d(hi, lo, &co, &so);
    *cos_out = (float)co;
    *sin_out = (float)so;
}

/*
 * The table build's shortcut (rope_cos_sin over consecutive positions,
 * src/table.c): the SAME float32 bits as rope_sc_reduced, for less work.
 *
 * The exact angle of position p = A + b splits exactly into two exact angles,
 * p·θ = A·θ + b·θ (real numbers, nothing rounded). With the double anchors
 * ca, sa = cos/sin(A·θ) and cb, sb = cos/sin(b·θ) from rope_sc_reduced_d,
 *     c = fma(ca, cb, −(sa·sb)),   s = fma(sa, cb, ca·sb)
 * is within E_f of the truth: each anchor is within δ = 2^-49 (0.5 + 2^-26
 * float ulp above means a double error ≤ 2^-26·2^-23·|v|, |v| ≤ 1), which the
 * products carry as ≤ 4δ + 2δ², plus two double roundings ≤ 2^-54 each:
 * E_f < 2^-46.9. The direct evaluation of rope_sc_reduced is within E_k =
 * δ of the truth too, so both lie in [c − E, c + E] with E = E_f + E_k <
 * 2^-46.6. Rounding to float32 is monotone: if RN32(c − TOL) == RN32(c + TOL)
 * for TOL = 2^-45 (more than E plus the ≤ 2^-53 rounding of c ± TOL), then
 * every value in between, the direct evaluation included, rounds to that same
 * float, so it IS rope_sc_reduced's result. Otherwise (c within TOL of a
 * rounding boundary, which includes every |c| < TOL, e.g. sin 0) the caller
 * evaluates the entry directly. With |v| ≈ 2^-e the test fails with
 * probability ~2^(e−22): a few entries per million over a table.
 * Returns 1 when c, s were decided (and stored), 0 when the caller must redo.
 * The SIMD kernels make the same decision lane by lane (every step is one
 * IEEE rounding), but any decision gives the same bits: the test only chooses
 * the route.
 */
#define ROPE_SC_SUM_TOL 0x1p-45

static inline int rope_sc_sum(double ca, double sa, double cb, double sb, float *cos_out,
                              float *sin_out) {
    double c = fma(ca, cb, -(sa * sb));
    double s = fma(sa, cb, ca * sb);
    float c0 = (float)(c - ROPE_SC_SUM_TOL), c1 = (float)(c + ROPE_SC_SUM_TOL);
    float s0 = (float)(s - ROPE_SC_SUM_TOL), s1 = (float)(s + ROPE_SC_SUM_TOL);
    *cos_out = c0;
    *sin_out = s0;
    return c0 == c1 && s0 == s1; /* never both ±0: |c ± TOL| cannot both be tiny */
}

#endif
