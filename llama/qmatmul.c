/*
 * Quantised matrix-vector products: activation quantisation, the scalar
 * reference, the choice of kernel set, and dequantisation for prefill. See
 * qmatmul.h for the arithmetic and qmatmul_impl.h for the block layouts.
 */
#include "qmatmul.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qmatmul_impl.h"

int64_t qm_type_block(uint32_t type) {
    switch (type) {
    case QT_Q4_0: case QT_Q4_1: case QT_Q5_0: case QT_Q5_1: case QT_Q8_0: return 32;
    case QT_Q4_K: case QT_Q5_K: case QT_Q6_K: return 256;
    }
    return 0;
}

static size_t type_block_bytes(uint32_t type) {
    switch (type) {
    case QT_Q4_0: return 18;
    case QT_Q4_1: return 20;
    case QT_Q5_0: return 22;
    case QT_Q5_1: return 24;
    case QT_Q8_0: return 34;
    case QT_Q4_K: return 144;
    case QT_Q5_K: return 176;
    case QT_Q6_K: return 210;
    }
    return 0;
}

int qm_type_supported(uint32_t type) { return qm_type_block(type) != 0; }

size_t qm_row_bytes(uint32_t type, int64_t cols) {
    const int64_t blk = qm_type_block(type);
    if (!blk || cols <= 0 || cols % blk) return 0;
    return (size_t)(cols / blk) * type_block_bytes(type);
}

int qm_matrix_init(qm_matrix *m, uint32_t type, int64_t rows, int64_t cols, const void *data) {
    const size_t rb = qm_row_bytes(type, cols);
    if (!m || !rb || rows <= 0 || !data) return -1;
    m->type = type;
    m->rows = rows;
    m->cols = cols;
    m->data = data;
    m->row_bytes = rb;
    return 0;
}

int64_t qm_matrix_bad_block(const qm_matrix *m) {
    if (m->type != QT_Q4_K && m->type != QT_Q5_K && m->type != QT_Q6_K) return -1;
    const size_t bb = type_block_bytes(m->type);
    const int64_t per_row = m->cols / 256;
    for (int64_t r = 0; r < m->rows; r++)
        for (int64_t k = 0; k < per_row; k++) {
            const uint8_t *b = (const uint8_t *)m->data + (size_t)r * m->row_bytes + (size_t)k * bb;
            const uint16_t h0 = qm_rd16(m->type == QT_Q6_K ? b + 208 : b);
            const uint16_t h1 = m->type == QT_Q6_K ? 0 : qm_rd16(b + 2);
            if ((h0 & 0x7C00) == 0x7C00 || (h1 & 0x7C00) == 0x7C00) return r * per_row + k;
        }
    return -1;
}

int qm_act_alloc(qm_act *a, int64_t cols) {
    memset(a, 0, sizeof *a);
    if (cols <= 0 || cols % QM_BLOCK) return -1;
    const int64_t nb = cols / QM_BLOCK, cap = (nb + 7) / 8 * 8;
    a->cols = cols;
    a->n_blocks = nb;
    a->cap_blocks = cap;
    a->q = calloc((size_t)cap, 32);
    a->d = calloc((size_t)cap, sizeof *a->d);
    a->s = calloc((size_t)cap, sizeof *a->s);
    a->qs16 = calloc((size_t)cap * 2, sizeof *a->qs16);
    a->qsum = calloc((size_t)cap, sizeof *a->qsum);
    a->qp = calloc((size_t)cap, 32);
    if (!a->q || !a->d || !a->s || !a->qs16 || !a->qsum || !a->qp) {
        qm_act_free(a);
        return -1;
    }
    return 0;
}

void qm_act_free(qm_act *a) {
    if (!a) return;
    free(a->q);
    free(a->d);
    free(a->s);
    free(a->qs16);
    free(a->qsum);
    free(a->qp);
    memset(a, 0, sizeof *a);
}

/* Block b's 32 codes into the regrouped copy (see qm_act.qp). */
void qm_put_qp(qm_act *a, int64_t b, const int8_t *q) {
    int8_t *g = a->qp + 128 * (b / 4) + 16 * (b % 4);
    memcpy(g, q, 16);
    memcpy(g + 64, q + 16, 16);
}

/* Zero blocks [nb, cap): the padding the AVX-512 kernels read. */
void qm_act_pad(qm_act *a, int64_t nb) {
    static const int8_t zero[32];
    for (int64_t b = nb; b < a->cap_blocks && b < (nb + 7) / 8 * 8; b++) {
        memset(a->q + 32 * b, 0, 32);
        a->d[b] = a->s[b] = 0.0f;
        a->qs16[2 * b] = a->qs16[2 * b + 1] = 0;
        a->qsum[b] = 0;
        qm_put_qp(a, b, zero);
    }
}

static void quantize_ref(const float *x, int64_t cols, qm_act *a) {
    const int64_t nb = cols / QM_BLOCK;
    /* round half to even of |v| <= 127 without a libm call: adding and
     * subtracting 1.5·2^23 leaves the integer nearest v (ties to even) */
    const float magic = 12582912.0f;
    a->cols = cols;
    a->n_blocks = nb;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + 32 * b;
        int8_t *q = a->q + 32 * b;
        float amax = 0.0f;
        int nan = 0;
        for (int i = 0; i < 32; i++) {
            const float v = fabsf(xb[i]);
            nan |= v != v;
            amax = v > amax ? v : amax;
        }
        const float d = nan ? NAN : amax / 127.0f;
        /* amax 0: every code is 0; NaN/Inf: codes 0, and d (NaN/Inf) carries
         * the non-finite value into every product */
        const int ok = d > 0.0f && isfinite(d);
        int sum[2] = {0, 0};
        for (int i = 0; i < 32; i++) {
            float v = ok ? xb[i] / d : 0.0f;
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            q[i] = (int8_t)((v + magic) - magic);
            sum[i / 16] += q[i];
        }
        a->d[b] = d;
        a->qs16[2 * b] = (int16_t)sum[0];
        a->qs16[2 * b + 1] = (int16_t)sum[1];
        a->qsum[b] = sum[0] + sum[1];
        a->s[b] = d * (float)(sum[0] + sum[1]);
        qm_put_qp(a, b, q);
    }
    qm_act_pad(a, nb);
}

float qm_dot_ref(uint32_t type, const void *row, const qm_act *a) {
    float acc[8] = {0};
    qm_ref_blocks(type, row, a, 0, a->n_blocks, acc);
    return qm_lanes_sum(acc);
}

/* ------------------------------------------------------------ dispatch */

static float dot_scalar(uint32_t type, const void *row, const qm_act *a) {
    return qm_dot_ref(type, row, a);
}

typedef struct kset {
    const char *name;
    qm_dot_fn fn;
    int (*available)(void);
    qm_dequant_fn dequant;   /* NULL: the reference */
    qm_quantize_fn quantize; /* NULL: the reference */
    qm_matvec_fn matvec;     /* NULL: fn row by row */
    qm_gemm_fn gemm;         /* NULL: none (the caller multiplies token by token) */
} kset;

static int always(void) { return 1; }

#if defined(__x86_64__) && defined(QM_HAVE_X86)
#include <cpuid.h>
/* F16C from cpuid: clang 14 (the fuzzing build) rejects __builtin_cpu_supports("f16c") */
static int have_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
static int have_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && have_f16c();
}
static int have_vnni(void) {
    __builtin_cpu_init();
    return have_avx2() && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}
#endif
#if defined(__aarch64__) && defined(QM_HAVE_NEON)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
static int have_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#endif

/* Best first. */
static const kset KSETS[] = {
#if defined(__x86_64__) && defined(QM_HAVE_X86)
    {"avx512vnni", qm_dot_avx512vnni, have_vnni, qm_dequant_avx512vnni, qm_quantize_avx512,
     qm_matvec_avx512, qm_gemm_avx512},
    {"avx2", qm_dot_avx2, have_avx2, qm_dequant_avx2, NULL, NULL, NULL},
#endif
#if defined(__aarch64__) && defined(QM_HAVE_NEON)
    {"neon-dotprod", qm_dot_neon_dotprod, have_dotprod, NULL, NULL, NULL, NULL},
    {"neon", qm_dot_neon, always, NULL, NULL, NULL, NULL},
#endif
    {"scalar", dot_scalar, always, NULL, NULL, NULL, NULL},
};
enum { N_KSETS = sizeof KSETS / sizeof KSETS[0] };

static const kset *chosen;

static const kset *pick(void) {
    if (!chosen) { /* racy but idempotent: every thread picks the same set */
        const char *env = getenv("ROPE_QM_ISA");
        const kset *best = NULL;
        for (int i = 0; i < N_KSETS && !best; i++)
            if (KSETS[i].available() && (!env || !strcmp(env, KSETS[i].name))) best = &KSETS[i];
        chosen = best ? best : &KSETS[N_KSETS - 1];
    }
    return chosen;
}

const char *qm_isa(void) { return pick()->name; }

int qm_force_isa(const char *name) {
    for (int i = 0; i < N_KSETS; i++)
        if (!strcmp(name, KSETS[i].name) && KSETS[i].available()) {
            chosen = &KSETS[i];
            return 0;
        }
    return -1;
}

float qm_dot(uint32_t type, const void *row, const qm_act *a) { return pick()->fn(type, row, a); }

void qm_quantize(const float *x, int64_t cols, qm_act *a) {
    const qm_quantize_fn f = pick()->quantize;
    if (f) f(x, cols, a);
    else quantize_ref(x, cols, a);
}

void qm_quantize_ref(const float *x, int64_t cols, qm_act *a) { quantize_ref(x, cols, a); }

void qm_matvec(const qm_matrix *m, const qm_act *a, float *y, int64_t r0, int64_t r1,
               int accumulate) {
    const qm_matvec_fn mv = pick()->matvec;
    if (mv && mv(m, a, y, r0, r1, accumulate)) return;
    const qm_dot_fn fn = pick()->fn;
    const uint8_t *base = m->data;
    for (int64_t r = r0; r < r1; r++) {
        const float v = fn(m->type, base + (size_t)r * m->row_bytes, a);
        y[r] = accumulate ? y[r] + v : v;
    }
}

int qm_gemm_available(void) { return pick()->gemm != NULL; }

int qm_gemm(const qm_matrix *m, const qm_act *acts, int64_t n, float *y, int64_t ldy, int64_t r0,
            int64_t r1, int accumulate) {
    const qm_gemm_fn g = pick()->gemm;
    return g && r0 < r1 && n > 0 ? g(m, acts, n, y, ldy, r0, r1, accumulate) : 0;
}

static void dequant_rows(const qm_matrix *m, int64_t r0, int64_t r1, float *out,
                         qm_dequant_fn fast) {
    const int64_t nk = m->cols / 32;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)m->data + (size_t)r * m->row_bytes;
        float *o = out + (r - r0) * m->cols;
        if (fast && fast(m->type, row, nk, o)) continue;
        for (int64_t k = 0; k < nk; k++) {
            int8_t w[32];
            qm_factors f;
            qm_codes(m->type, row, k, w);
            qm_block_factors(m->type, row, k, &f);
            for (int i = 0; i < 32; i++) {
                const float v = f.scale * (float)(w[i] * (i < 16 ? f.sc0 : f.sc1));
                o[32 * k + i] = f.has_min ? v + f.min : v;
            }
        }
    }
}

void qm_dequant_rows(const qm_matrix *m, int64_t r0, int64_t r1, float *out) {
    dequant_rows(m, r0, r1, out, pick()->dequant);
}

void qm_dequant_rows_ref(const qm_matrix *m, int64_t r0, int64_t r1, float *out) {
    dequant_rows(m, r0, r1, out, NULL);
}
