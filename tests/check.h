/*
 * Minimal assertions for the C tests; ctest is the runner. Each test binary
 * prints one line per failed check and exits non-zero if any failed.
 */
#ifndef ROPE_CHECK_H
#define ROPE_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Built with a sanitizer? Tests that run a real model or time a reader shorten
 * their work under one (ASan at -O0 is several times slower). */
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_UNDER_ASAN 1
#endif
#endif
#ifndef CHECK_UNDER_ASAN
#define CHECK_UNDER_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define CHECK_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHECK_UNDER_TSAN 1
#endif
#endif
#ifndef CHECK_UNDER_TSAN
#define CHECK_UNDER_TSAN 0
#endif

/* The tests' one pseudo-random generator: xorshift64 (Marsaglia, 2003). Each
 * test file keeps its own state with a fixed seed, so every run draws the same
 * inputs; a non-zero seed never reaches zero. */
static inline uint64_t check_rand64(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static int check_failures_;
static int check_count_;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        check_count_++;                                                                  \
        if (!(cond)) {                                                                   \
            check_failures_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        check_count_++;                                                                  \
        if (!(cond)) {                                                                   \
            check_failures_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b) CHECK_MSG((long long)(a) == (long long)(b), "%lld != %lld", \
                                     (long long)(a), (long long)(b))
#define CHECK_STATUS(call, expected)                                                      \
    do {                                                                                 \
        rope_status st_ = (call);                                                        \
        CHECK_MSG(st_ == (expected), "%s -> %s (%d), expected %s", #call,                \
                  rope_strerror(st_), (int)st_, rope_strerror(expected));                \
    } while (0)
#define CHECK_OK(call) CHECK_STATUS(call, ROPE_OK)
#define CHECK_NEAR(a, b, tol) CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol),       \
                                        "%.17g vs %.17g (tol %g)", (double)(a),          \
                                        (double)(b), (double)(tol))

/* Call at the end of main: prints a summary and returns the exit code. */
static inline int check_report(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

#endif
