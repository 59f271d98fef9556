/*
 * Kernel dispatch: pick one rope_kernels table, once, from the CPU's features.
 *
 * x86-64: cpuid says what the CPU implements, XGETBV says which register
 * states the OS saves on context switch; both must agree before a wider path
 * is used. A path is offered only if the CPU has every extension its file is
 * compiled with (src/CMakeLists.txt), since the compiler may use any of them
 * anywhere in that file:
 *   avx2   = AVX2 + FMA + F16C (+ OS saves YMM)
 *   avx512 = AVX-512 F, BW, VL, DQ, BF16 (+ OS saves ZMM and opmasks); FP16
 *            is not needed: f16 <-> f32 is vcvtph2ps/vcvtps2ph (AVX-512F),
 *            so Zen 4 and Cooper Lake qualify
 * aarch64: Advanced SIMD (NEON) is part of the base architecture.
 *
 * ROPE_ISA=scalar|avx2|avx512|neon in the environment picks a set at first
 * use; an unknown or unavailable name falls back to the best available.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define ROPE_X86 1
#endif

enum { MAX_SETS = 4 };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static const rope_kernels *_Atomic active;
static const rope_kernels *sets[MAX_SETS]; /* available, best last; written once in init */
static const char *names[MAX_SETS + 1];
static int n_sets;

#ifdef ROPE_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void x86_features(int *has_avx2, int *has_avx512) {
    unsigned a, b, c, d;
    *has_avx2 = *has_avx512 = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return;
    uint64_t xcr0 = xgetbv0();
    int os_ymm = (xcr0 & 0x6) == 0x6;            /* SSE + AVX state */
    int os_zmm = (xcr0 & 0xe6) == 0xe6;          /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (!os_ymm) return;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
        avx512vl = (b >> 31) & 1;
    unsigned a1 = 0, b1, c1, d1;
    if (a >= 1) __cpuid_count(7, 1, a1, b1, c1, d1);
    int avx512bf16 = (a1 >> 5) & 1;
    *has_avx2 = avx2 && fma && f16c;
    *has_avx512 = *has_avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl &&
                  avx512bf16;
}
#endif

static void add_set(const rope_kernels *k) {
    sets[n_sets] = k;
    names[n_sets] = k->name;
    n_sets++;
    names[n_sets] = NULL;
}

static const rope_kernels *find(const char *name) {
    for (int i = 0; i < n_sets; i++)
        if (strcmp(sets[i]->name, name) == 0) return sets[i];
    return NULL;
}

static void init(void) {
    add_set(&rope_kernels_scalar);
#ifdef ROPE_X86
    int has_avx2, has_avx512;
    x86_features(&has_avx2, &has_avx512);
    if (has_avx2) add_set(&rope_kernels_avx2);
    if (has_avx512) add_set(&rope_kernels_avx512);
#endif
#if defined(__aarch64__)
    add_set(&rope_kernels_neon);
#endif
    const rope_kernels *pick = sets[n_sets - 1];
    const char *env = getenv("ROPE_ISA");
    if (env && *env) {
        const rope_kernels *k = find(env);
        if (k) pick = k;
    }
    atomic_store_explicit(&active, pick, memory_order_release);
}

const rope_kernels *rope_kernels_get(void) {
    const rope_kernels *k = atomic_load_explicit(&active, memory_order_acquire);
    if (k) return k;
    pthread_once(&init_once, init);
    return atomic_load_explicit(&active, memory_order_acquire);
}

const char *rope_isa_name(void) { return rope_kernels_get()->name; }

rope_status rope_isa_force(const char *name) {
    if (!name) return ROPE_E_NULL;
    pthread_once(&init_once, init);
    const rope_kernels *k = find(name);
    if (!k) return ROPE_E_UNSUPPORTED;
    atomic_store_explicit(&active, k, memory_order_release);
    return ROPE_OK;
}

const char *const *rope_isa_available(int *n) {
    pthread_once(&init_once, init);
    if (n) *n = n_sets;
    return names;
}
