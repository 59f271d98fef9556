/*
 * Argument checks shared by the entry points (internal).
 *
 * A caller's array is described by a pointer and a count; before the library
 * reads a single element it must know that the count is possible at all: that
 * n elements of es bytes fit in the address space from p. An impossible count
 * (negative, or one whose byte size overflows or wraps the address space) is
 * ROPE_E_OVERFLOW, returned before the array is touched, so a wrong count never
 * turns into a read past the caller's memory.
 */
#ifndef ROPE_CHECKS_H
#define ROPE_CHECKS_H

#include <stddef.h>
#include <stdint.h>

/* No 64-bit CPU maps more than 2^57 bytes of virtual memory (x86-64 with
 * 5-level paging; ARM64 has 52 bits), half of it for user space: an array
 * larger than 2^56 bytes cannot exist, whatever int64 arithmetic allows. */
#define ROPE_MAX_ARRAY_BYTES ((uint64_t)1 << 56)

/* 1 if p[0..n) of es-byte elements can exist (n >= 0, at most
 * ROPE_MAX_ARRAY_BYTES, no wrap of the address space). */
static inline int rope_array_fits(const void *p, int64_t n, size_t es) {
    if (n < 0 || es == 0) return 0;
    uint64_t lim = ROPE_MAX_ARRAY_BYTES < (uint64_t)PTRDIFF_MAX ? ROPE_MAX_ARRAY_BYTES : (uint64_t)PTRDIFF_MAX;
    if ((uint64_t)n > lim / es) return 0;
    return (uintptr_t)p <= UINTPTR_MAX - (uintptr_t)((size_t)n * es);
}

#endif
