/*
 * Matrix-vector products straight from GGUF's quantised blocks (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K): the weights stay as the file stores
 * them (memory-mapped, never expanded to float32), the activation vector is
 * quantised to 8 bits per block of 32 (qm_act), and each block's product is
 * an exact integer dot product scaled once.
 *
 * The arithmetic is defined by the scalar reference (qm_dot_ref) down to the
 * last bit, and every SIMD kernel (AVX2, AVX-512 VNNI, NEON) reproduces it
 * exactly:
 *   - activation block j (32 values x): d_j = max|x| / 127 (float),
 *     q = round-half-even(x / d_j) in [-127, 127], s_j = d_j · Σq (float);
 *   - weight block b against activation block b: an exact int32 sum of
 *     w_int · q (w_int the block's integer codes, offset included, e.g.
 *     nibble − 8 for Q4_0; Q6_K's 16-value sub-scales folded in as integers);
 *   - float part, into lane b mod 8 of 8 float accumulators:
 *       acc = fma(scale_b · d_j, (float)isum, acc)      every type
 *       acc = fma(min_b, s_j, acc)                       Q4_1, Q5_1 (min_b = m)
 *       acc = fma(−min_b, s_j, acc)                      Q4_K, Q5_K (min_b = dmin·m)
 *     (scale_b = d for the 32-blocks, d·sc for K-quant sub-blocks);
 *   - the 8 lanes are summed as ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
 * So results do not depend on the ISA or on how rows are split over threads.
 *
 * Error against float32 weights·activations: only the 8-bit rounding of the
 * activations (≤ d_j/2 per value, i.e. ≤ max|x|/254 per block) plus float
 * rounding; docs/llama.md states the measured bound on the model's logits.
 */
#ifndef ROPE_LLAMA_QMATMUL_H
#define ROPE_LLAMA_QMATMUL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QM_BLOCK 32 /* activation block (and the unit of every weight type) */

/* A quantised matrix [rows][cols] in GGUF blocks, row-major (a view: data is
 * not owned). */
typedef struct qm_matrix {
    uint32_t type;    /* gguf_tensor_type */
    int64_t rows, cols;
    const void *data; /* rows · row_bytes bytes */
    size_t row_bytes;
} qm_matrix;

/* An activation vector quantised to 8 bits per block of 32. */
typedef struct qm_act {
    int64_t cols, n_blocks; /* cols = 32 · n_blocks */
    int8_t *q;              /* [cols] */
    float *d;               /* [n_blocks] block scales */
    float *s;               /* [n_blocks] d · Σq */
    int16_t *qs16;          /* [2 · n_blocks] Σq over each half block (16 values) */
    /* For the AVX-512 kernels, padded with zeros to a multiple of 8 blocks
     * (also q, d and s): qsum[b] = Σq of block b, and qp the codes regrouped
     * per 4 blocks as the 4-bit weights unpack: the first halves (values
     * 0..15) of the 4 blocks, then their second halves (16..31). */
    int32_t *qsum;          /* [8 · ⌈n_blocks/8⌉] */
    int8_t *qp;             /* [256 · ⌈n_blocks/8⌉] */
    int64_t cap_blocks;     /* blocks allocated (a multiple of 8) */
} qm_act;

/* 1 if the type is one of the eight above. */
int qm_type_supported(uint32_t type);
/* Elements per block of the type (32 or 256), 0 if unsupported. */
int64_t qm_type_block(uint32_t type);
/* Bytes of one row of `cols` elements; 0 if unsupported or cols is not a
 * multiple of the type's block. */
size_t qm_row_bytes(uint32_t type, int64_t cols);

/* A view over GGUF tensor data; 0, or -1 when the type/shape does not fit. */
int qm_matrix_init(qm_matrix *m, uint32_t type, int64_t rows, int64_t cols, const void *data);

/* The first K-quant super-block (Q4_K/Q5_K/Q6_K) whose f16 scales are Inf or
 * NaN, as a block index over the whole matrix, or -1 when none (always -1 for
 * the 32-block types). Such a block cannot come from a quantiser; the runner
 * refuses the file, as gguf_dequantize does. Reads every block's scales once. */
int64_t qm_matrix_bad_block(const qm_matrix *m);

/* Allocate / free the buffers of an activation of `cols` (a multiple of 32).
 * Returns 0 or -1 (out of memory / bad cols). */
int qm_act_alloc(qm_act *a, int64_t cols);
void qm_act_free(qm_act *a);
/* Quantise x[cols] into a (allocated for at least cols). qm_quantize_ref is
 * the scalar reference; the dispatched one gives the same bits. */
void qm_quantize(const float *x, int64_t cols, qm_act *a);
void qm_quantize_ref(const float *x, int64_t cols, qm_act *a);

/* One row · activation: the scalar reference and the dispatched kernel
 * (bit-identical). row points at the row's first block. */
float qm_dot_ref(uint32_t type, const void *row, const qm_act *a);
float qm_dot(uint32_t type, const void *row, const qm_act *a);

/* y[r] (+)= row r · a for r in [r0, r1) (accumulate: add to y). */
void qm_matvec(const qm_matrix *m, const qm_act *a, float *y, int64_t r0, int64_t r1,
               int accumulate);

/* Rows [r0, r1) times n tokens (acts[t] quantised like a for qm_matvec):
 * y[t·ldy + r] (+)= row r · acts[t], the bits of qm_dot for every (row,
 * token): a prompt gets the same products as decoding it token by token.
 * The weights are unpacked once per 16 rows and reused for every token.
 * Returns 1 if done, 0 when this kernel set has none (qm_gemm_available 0)
 * or memory ran out: then use qm_matvec per token or dequantise + sgemm. */
int qm_gemm_available(void);
int qm_gemm(const qm_matrix *m, const qm_act *acts, int64_t n, float *y, int64_t ldy, int64_t r0,
            int64_t r1, int accumulate);

/* Dequantise rows [r0, r1) to float32 (out: (r1 − r0) · cols), for prompt
 * processing through sgemm: value = scale · code (+ min), the same bits with
 * every kernel set (qm_dequant_rows_ref is the scalar one). */
void qm_dequant_rows(const qm_matrix *m, int64_t r0, int64_t r1, float *out);
void qm_dequant_rows_ref(const qm_matrix *m, int64_t r0, int64_t r1, float *out);

/* Which kernel set qm_dot uses: "scalar", "avx2", "avx512vnni", "neon",
 * "neon-dotprod". qm_force_isa selects one for tests ("scalar" always
 * works); 0, or -1 if not available here. */
const char *qm_isa(void);
int qm_force_isa(const char *name);

#ifdef __cplusplus
}
#endif

#endif
