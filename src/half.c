/*
 * IEEE binary16 and bfloat16 <-> binary32, portable C on the bit patterns.
 *
 * Rounding is to nearest, ties to even (IEEE 754 default), for both
 * narrowing conversions. Inf stays Inf, finite values too large for the
 * target become Inf of the same sign, and NaN stays NaN with its quiet bit
 * set (payload bits that fit are kept). f16 subnormals are produced and read
 * exactly. These are the reference conversions; the SIMD kernels use the
 * hardware instructions, which implement the same IEEE rounding.
 */
#include <string.h>

#include "rope.h"

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float rope_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;

    if (exp == 0x1f) { /* Inf or NaN: widen the payload, quiet a NaN */
        uint32_t nan = mant ? (0x400000u | (mant << 13)) : 0;
        return f32_from_bits(sign | 0x7f800000u | nan);
    }
    if (exp == 0) {
        if (mant == 0) return f32_from_bits(sign); /* ±0 */
        /* subnormal: mant · 2^-24; normalise so the leading 1 is bit 10 */
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while (!(mant & 0x400u));
        mant &= 0x3ffu;
        return f32_from_bits(sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13));
    }
    return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

uint16_t rope_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;

    if (a >= 0x7f800000u) { /* Inf or NaN */
        if (a == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    /* 65520 = halfway between 65504 (largest f16) and 2^16: ties-to-even
     * rounds it up (65504's mantissa is odd), so everything >= 65520 is Inf. */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below 2^-14: f16 subnormal (or zero) */
        uint32_t e = a >> 23;
        if (e < 102) return sign; /* < 2^-25: rounds to zero (ties included) */
        uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* value = mant · 2^(e-150) = (mant >> shift) · 2^-24 */
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q); /* q may carry into the smallest normal: correct */
    }
    /* normal: rebias the exponent, round the 13 dropped bits to nearest even;
     * a carry out of the mantissa correctly bumps the exponent */
    a -= (uint32_t)(127 - 15) << 23;
    a += 0xfffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | (a >> 13));
}

float rope_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) u |= 0x400000u; /* quiet NaN */
    return f32_from_bits(u);
}

uint16_t rope_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    /* round to nearest even on the 16 dropped bits; overflow rounds to Inf */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
