/*
 * The kernel tables by name, for the tests that call an ISA's kernels directly
 * (test_kernels.c, oracle/test_sincos_mpfr.c). NULL for a set this build lacks.
 */
#ifndef ROPE_TEST_KERNEL_SETS_H
#define ROPE_TEST_KERNEL_SETS_H

#include <string.h>

#include "kernels/kernel.h"

static inline const rope_kernels *table_of(const char *name) {
    if (!strcmp(name, "scalar")) return &rope_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
    if (!strcmp(name, "avx2")) return &rope_kernels_avx2;
    if (!strcmp(name, "avx512")) return &rope_kernels_avx512;
#endif
#if defined(__aarch64__)
    if (!strcmp(name, "neon")) return &rope_kernels_neon;
#endif
    return NULL;
}

#endif
