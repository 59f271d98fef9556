/*
 * A LLaMA-architecture transformer on librope: weights from a GGUF file,
 * dequantised to float32, one forward function (read it like llama2.c's
 * run.c). Matrix products go through CBLAS (OpenBLAS); RoPE, the KV cache and
 * causal GQA attention are librope's (rope_apply, rope_kv_cache_append,
 * rope_attention).
 *
 * Three plain pieces:
 *   llama_config   hyperparameters read from the GGUF metadata
 *   llama_model    config + weights (immutable after loading)
 *   llama_session  what one sequence needs: RoPE table, one KV cache per
 *                  layer, scratch buffers, thread pool. forward() appends.
 *
 * Errors are values: functions return 0 on success, -1 with a one-line
 * reason in err (never abort, never print).
 */
#ifndef ROPE_LLAMA_MODEL_H
#define ROPE_LLAMA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "qmatmul.h"
#include "rope.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default model, relative to the current directory or to the parent of
 * the directory holding the executable (./build/rope from the repo root). */
#define LLAMA_DEFAULT_MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"

/* Architectures (general.architecture). gemma3: Gemma 3 text models (sliding
 * and global layers with their own RoPE, QK-norm, GeGLU, sandwich norms). */
typedef enum llama_arch { LLAMA_ARCH_LLAMA = 0, LLAMA_ARCH_GEMMA3 = 1 } llama_arch;

typedef struct llama_config {
    llama_arch arch;
    int64_t n_layers;        /* llama.block_count (gemma3.*: the same keys) */
    int64_t dim;             /* llama.embedding_length */
    int64_t hidden_dim;      /* llama.feed_forward_length (SwiGLU inner size) */
    int64_t n_heads;         /* llama.attention.head_count */
    int64_t n_kv_heads;      /* llama.attention.head_count_kv (GQA groups) */
    int64_t head_dim;        /* llama.attention.key_length, else dim / n_heads */
    int64_t rotary_dim;      /* llama.rope.dimension_count, else head_dim */
    int64_t vocab_size;      /* rows of token_embd */
    int64_t context_length;  /* llama.context_length: the trained context */
    float norm_eps;          /* llama.attention.layer_norm_rms_epsilon */
    int tied_output;         /* 1: no output.weight, the head is token_embd */
    /* RoPE as the file describes it: base, dims, scaling keys
     * (llama.rope.scaling.type/factor/original_context_length), and the
     * per-frequency divisors of tensor rope_freqs.weight (Llama 3.1/3.2 files:
     * θᵢ /= rope_freq_factors[i]); rope.freq_divisor points here when present. */
    rope_config rope;
    double rope_freq_factors[ROPE_MAX_FREQS];
    int64_t n_rope_freq_factors;
    /* Per layer: one frequency set per layer type ("full_attention" = rope
     * above; Gemma 3 adds "sliding_attention") and the layer -> set map. */
    rope_model rope_layers;
    int64_t sliding_window;  /* gemma3.attention.sliding_window (sliding layers); 0 = none */
    float embed_scale;       /* the embedding is multiplied by it: 1, Gemma sqrt(dim) */
    double attn_scale;       /* softmax scale before RoPE's factor: 1/sqrt(head_dim) */
} llama_config;

/* 1 when layer l attends through the sliding window (Gemma 3 local layers). */
int llama_layer_sliding(const llama_config *c, int64_t layer);

/* A weight matrix, row-major [out][in] as GGUF stores it (ne[0] = in is the
 * fastest dimension): y = W·x. Either the file's quantised blocks used in
 * place (q.data set, f NULL: llama/qmatmul.h) or float32 (f). */
typedef struct llama_mat {
    const float *f;
    qm_matrix q;
} llama_mat;

/* One transformer block. */
typedef struct llama_layer {
    float *attn_norm;  /* [dim] */
    llama_mat wq;      /* [n_heads*head_dim][dim] */
    llama_mat wk;      /* [n_kv_heads*head_dim][dim] */
    llama_mat wv;      /* [n_kv_heads*head_dim][dim] */
    llama_mat wo;      /* [dim][n_heads*head_dim] */
    float *ffn_norm;   /* [dim] */
    llama_mat w_gate;  /* [hidden_dim][dim] */
    llama_mat w_up;    /* [hidden_dim][dim] */
    llama_mat w_down;  /* [dim][hidden_dim] */
    /* Gemma 3 only (NULL otherwise). GGUF norm weights already hold Gemma's
     * (1 + w): llama.cpp's converter adds the 1, so x·w here is HF's x·(1+w). */
    float *q_norm;         /* [head_dim] RMSNorm of each q head before RoPE */
    float *k_norm;         /* [head_dim] */
    float *post_attn_norm; /* [dim] on the attention output, before the residual add */
    float *post_ffw_norm;  /* [dim] on the MLP output */
} llama_layer;

typedef struct llama_model {
    llama_config cfg;
    llama_mat token_embd; /* [vocab][dim] */
    llama_layer *layers;  /* [n_layers] */
    float *output_norm;   /* [dim] */
    llama_mat output;     /* [vocab][dim]; == token_embd when tied */
    float *arena;         /* one allocation holding every float32 weight */
    size_t arena_floats;
    void *file;           /* the mapped GGUF (gguf_file *) the quantised views point into */
    int64_t max_quant_elems; /* largest quantised matrix (rows × cols): prefill scratch */
} llama_model;

/* Load the model from a GGUF file (architecture "llama"). Shapes are checked
 * against the metadata. Matrices in Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K
 * stay quantised in the mapped file (memory = file size + cache); other
 * types are dequantised to float32 (those gguf.c dequantises). */
int llama_model_load(const char *path, llama_model **out, char *err, size_t errlen);
/* The same with every matrix dequantised to float32 (the reference path:
 * sgemv/sgemm only, ~4x the memory for 4-bit files). */
int llama_model_load_f32(const char *path, llama_model **out, char *err, size_t errlen);
void llama_model_free(llama_model *m);

/* Find the default model (see LLAMA_DEFAULT_MODEL); 0 and the path in buf if
 * found, -1 otherwise (buf then holds the path tried first). */
int llama_default_model_path(char *buf, size_t cap);

typedef struct llama_session_opts {
    int64_t n_ctx;           /* KV cache capacity in tokens; 0 = cfg.context_length */
    int64_t max_batch;       /* most tokens per forward call; 0 = 256 */
    rope_style style;        /* ROPE_STYLE_NONE = the right one for GGUF: interleaved */
    const rope_config *rope; /* NULL = the file's RoPE (cfg.rope) */
    int64_t freqs_seq_len;   /* seq_len given to rope_freqs_compute (dynamic NTK); 0 = n_ctx */
    rope_dtype kv_dtype;     /* KV cache storage (F32, F16, BF16, Q8); 0 = ROPE_F32 */
    int kv_shiftable;        /* 1: keep the keys' originals so llama_session_shift works
                              * (ROPE_KV_SHIFTABLE: one more key copy per layer) */
    int n_threads;           /* librope pool and OpenBLAS; 0 = 1 */
    /* Diagnostics only: reproduce the roundings of llama.cpp's CPU backend, to
     * tell its arithmetic from a bug when comparing logits. Activations are
     * rounded through 8-bit blocks of 32 (Q8_0/Q8_1: d = max|x|/127, q =
     * round(x/d), x' = q·fp16(d)) before every matrix product, and q is
     * rounded to float16 (pair with kv_dtype = ROPE_F16). */
    int emulate_q8_activations;
    /* Prompts (batches of 6 tokens or more) with quantised weights: 0 = the
     * integer matrix-matrix kernel where the kernel set has one (qm_gemm:
     * 8-bit activations, the same products as decoding token by token);
     * 1 = dequantise the weights and multiply float32 activations (sgemm):
     * the float32 path's logits, what rope ppl and rope lab report. */
    int prefill_f32;
} llama_session_opts;

void llama_session_opts_init(llama_session_opts *o);

/* "f32", "f16", "bf16", "q8" -> the KV cache dtype; -1 for anything else. */
int llama_parse_kv_dtype(const char *name, rope_dtype *out);

typedef struct llama_session llama_session;

int llama_session_create(const llama_model *m, const llama_session_opts *o, llama_session **out,
                         char *err, size_t errlen);
void llama_session_free(llama_session *s);

/* Forget every token (the caches are cleared); positions restart at 0. */
void llama_session_reset(llama_session *s);
/* The same, but the next token gets position pos (0 <= pos < n_ctx): a
 * sequence placed further along. RoPE makes attention depend only on
 * position differences, so the logits should not change (up to rounding). */
int llama_session_reset_at(llama_session *s, int64_t pos);
/*
 * Context shift (llama.cpp's): drop the n_discard entries at positions
 * [n_keep, n_keep + n_discard) of every layer's cache and move the later ones
 * down by n_discard (their keys re-rotated from the kept originals, bit-equal
 * to keys appended there); the next token's position drops by n_discard.
 * Needs kv_shiftable. -1 with a reason if the range is not inside [0, pos).
 */
int llama_session_shift(llama_session *s, int64_t n_keep, int64_t n_discard, char *err,
                        size_t errlen);
/* Tokens processed so far (= the next token's position). */
int64_t llama_session_pos(const llama_session *s);
int64_t llama_session_n_ctx(const llama_session *s);
int64_t llama_session_max_batch(const llama_session *s);
const llama_model *llama_session_model(const llama_session *s);
/* The RoPE frequencies the session uses (for reports). */
const rope_freqs *llama_session_freqs(const llama_session *s);

/*
 * Run n tokens (1 <= n <= max_batch) at positions pos .. pos+n-1 (pos =
 * llama_session_pos), appending their keys and values to the caches. If
 * n_logits > 0, logits receives n_logits × vocab floats: the logits of the
 * last n_logits of these tokens, in order. n > 1 uses matrix-matrix products
 * (prefill), n == 1 matrix-vector (decode). Fails (nothing appended) when the
 * context is full or a token id is out of range.
 */
int llama_forward(llama_session *s, const int32_t *tokens, int64_t n, float *logits,
                  int64_t n_logits, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
