/*
 * librope: Rotary Position Embeddings (RoPE) in C11.
 *
 * The whole public API. Data flows in four stages, each one plain call:
 *
 *   rope_config ──rope_freqs_compute──> rope_freqs (θᵢ in float64, attention factor)
 *               ──rope_table_create───> rope_table (cos/sin rows, float32)
 *               ──rope_apply──────────> q, k rotated (any layout, f32/f16/bf16)
 *               ──rope_kv_cache_* / rope_attention──> causal GQA attention
 *
 * Conventions used throughout:
 *   - Every function returns rope_status; rope_strerror() explains it.
 *     On error, nothing the caller owns has been written.
 *   - Sizes, positions and strides are int64_t; strides count elements.
 *   - A count or stride no array can have (its bytes beyond 2^56, more than any
 *     64-bit address space maps, or an int64 overflow) is ROPE_E_OVERFLOW,
 *     returned before any element of a caller's array is read.
 *   - Frequencies, and every angle m·θᵢ up to the largest position a call
 *     uses, must be finite (tables, table-free apply and cached keys alike):
 *     otherwise ROPE_E_PARAM, never NaN behind ROPE_OK (docs/hostile-input.md).
 *   - Nothing aborts, prints, or keeps global mutable state (the CPU kernel
 *     choice is made once, thread-safely).
 *
 * Notation: a head vector has head_dim = D elements; the first rotary_dim = R
 * of them are rotated (R even, R <= D), the rest are copied bit for bit.
 * There are R/2 frequencies θᵢ = base^(-2i/R) (before scaling), i < R/2.
 * A position m rotates pair i by the angle m·θᵢ.
 */
#ifndef ROPE_H
#define ROPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The one place the version is written (CMake and the Python package read it here).
 * The shared library's SONAME is librope.so.MAJOR: a MAJOR bump is an ABI break. */
#define ROPE_VERSION_MAJOR 0
#define ROPE_VERSION_MINOR 2
#define ROPE_VERSION_PATCH 0
#define ROPE_VERSION_NUMBER (ROPE_VERSION_MAJOR * 10000 + ROPE_VERSION_MINOR * 100 + ROPE_VERSION_PATCH)

/* Every function of this header, and nothing else, is exported from librope.so
 * (the library is built with hidden visibility; tests/abi checks the list). */
#if defined(__GNUC__) || defined(__clang__)
#define ROPE_API __attribute__((visibility("default")))
#else
#define ROPE_API
#endif

/* Largest head_dim the library accepts (so rope_freqs can be a plain struct). */
#define ROPE_MAX_HEAD_DIM 1024
#define ROPE_MAX_FREQS (ROPE_MAX_HEAD_DIM / 2)
/* Most position planes of an M-RoPE config (t, h, w and one extra: Hunyuan XD-RoPE). */
#define ROPE_MAX_MROPE_PLANES 4

/* ------------------------------------------------------------------ errors */

typedef enum rope_status {
    ROPE_OK = 0,
    ROPE_E_NULL = 1,          /* a required pointer is NULL */
    ROPE_E_DIM = 2,           /* head_dim / rotary_dim zero, odd, or too large */
    ROPE_E_ROTARY_DIM = 3,    /* rotary_dim > head_dim, or does not match the table */
    ROPE_E_SCALING = 4,       /* unknown scaling type */
    ROPE_E_PARAM = 5,         /* a parameter is out of its domain (factor <= 0, NaN, ...) */
    ROPE_E_POSITION = 6,      /* a position is negative or outside the table */
    ROPE_E_OVERFLOW = 7,      /* a size or offset computation would overflow */
    ROPE_E_OVERLAP = 8,       /* input and output overlap without being exactly in place */
    ROPE_E_SHAPE = 9,         /* tensor shapes disagree */
    ROPE_E_DTYPE = 10,        /* unsupported or mismatched dtype */
    ROPE_E_STYLE = 11,        /* convention not given (must be explicit) */
    ROPE_E_NOMEM = 12,        /* allocation failed */
    ROPE_E_CAPACITY = 13,     /* KV cache is full */
    ROPE_E_THREADS = 14,      /* thread creation failed */
    ROPE_E_UNSUPPORTED = 15,  /* valid request the library does not implement */
    ROPE_STATUS_COUNT = 16
} rope_status;

/* A short English sentence for status s; never NULL, also for unknown values. */
ROPE_API const char *rope_strerror(rope_status s);

/* ------------------------------------------------------------------ types */

typedef enum rope_dtype {
    ROPE_F32 = 1,
    ROPE_F16 = 2,   /* IEEE binary16 */
    ROPE_BF16 = 3,  /* bfloat16; conversions round to nearest even */
    /* KV cache storage only (rope_kv_cache_desc.dtype), not a tensor dtype:
     * blocks of 32 consecutive dims of one head vector as int8 plus one float32
     * scale (llama.cpp's q8_0 with a float32 scale): 1.125 bytes per element. */
    ROPE_Q8 = 4
} rope_dtype;

/* Size in bytes of one element of tensor dtype t, 0 for an invalid dtype
 * (and for ROPE_Q8, which is not a tensor dtype). */
ROPE_API size_t rope_dtype_size(rope_dtype t);

/* Which dimensions form a rotated pair. There is no default on purpose:
 * flash-attn alone uses both as defaults in different functions. */
typedef enum rope_style {
    ROPE_STYLE_NONE = 0,        /* invalid: forces the caller to choose */
    ROPE_STYLE_INTERLEAVED = 1, /* pairs (2i, 2i+1): Meta llama, GPT-J, GGUF files */
    ROPE_STYLE_HALF = 2,        /* pairs (i, i+R/2): GPT-NeoX, Hugging Face rotate_half */
    /* DeepSeek-V3 `rope_interleave` (transformers' apply_rotary_pos_emb_interleave): pair i
     * is read from (2i, 2i+1) and written to (i, i+R/2), i.e. the output is de-interleaved
     * [even | odd], in place or not, with no copy by the caller. inverse = 1 is its exact
     * transpose (the backward): pair i read from (i, i+R/2), rotated by −θ, written to
     * (2i, 2i+1). rope_apply / rope_apply_qk and KV appends take it; the attention of a
     * ROPE_KV_UNROTATED cache (which rotates keys where they lie) refuses it:
     * ROPE_E_UNSUPPORTED. */
    ROPE_STYLE_DEINTERLEAVE = 3
} rope_style;

/* f16/bf16 <-> f32 conversions (round to nearest even, NaN/Inf preserved). */
ROPE_API float rope_f16_to_f32(uint16_t h);
ROPE_API uint16_t rope_f32_to_f16(float f);
ROPE_API float rope_bf16_to_f32(uint16_t h);
ROPE_API uint16_t rope_f32_to_bf16(float f);

/* ------------------------------------------------------------ frequencies */

/* The `rope_type` of a Hugging Face config. */
typedef enum rope_scaling_type {
    ROPE_SCALING_DEFAULT = 0,
    ROPE_SCALING_LINEAR = 1,
    ROPE_SCALING_DYNAMIC = 2,   /* dynamic NTK */
    ROPE_SCALING_YARN = 3,      /* incl. DeepSeek mscale / mscale_all_dim */
    ROPE_SCALING_LLAMA3 = 4,
    ROPE_SCALING_LONGROPE = 5,  /* Phi-3 "longrope" (legacy "su") */
    ROPE_SCALING_PROPORTIONAL = 6, /* Gemma 4 full attention: int(prf·D/2) live frequencies with
                                      exponents over the whole D, the rest 0 (identity pairs) */
    ROPE_SCALING_COUNT = 7
} rope_scaling_type;

/* Name <-> enum, using Hugging Face's spellings ("default", "linear", "dynamic",
 * "yarn", "llama3", "longrope", "proportional"; "su" and "mrope" accepted as aliases). */
ROPE_API const char *rope_scaling_name(rope_scaling_type t);
ROPE_API rope_status rope_scaling_from_name(const char *name, rope_scaling_type *out);

/*
 * Everything that decides the frequencies. Field names follow the
 * `rope_scaling` / `rope_parameters` dict of a Hugging Face config.json so a
 * config maps 1:1. Call rope_config_init() first: it sets HF's defaults.
 * A field that HF treats as optional is "unset" when 0 (or NaN where 0 is
 * meaningful, see each field).
 */
typedef struct rope_config {
    rope_scaling_type type;
    double rope_theta;                 /* base; HF default 10000 */

    /* head_dim: explicit, or (when 0) hidden_size / num_attention_heads. */
    int64_t head_dim;
    int64_t hidden_size;
    int64_t num_attention_heads;
    double partial_rotary_factor;      /* rotary_dim = int(head_dim * this); default 1 */

    double factor;                     /* linear, dynamic, yarn, llama3, longrope */
    int64_t max_position_embeddings;   /* dynamic; yarn/longrope factor fallback */
    int64_t original_max_position_embeddings; /* yarn, llama3, longrope; 0 = max_position_embeddings */

    /* yarn */
    double beta_fast;                  /* 0 = 32 (HF uses `or`) */
    double beta_slow;                  /* 0 = 1 */
    double attention_factor;           /* NaN = derive (yarn, longrope) */
    double mscale;                     /* 0 = unset */
    double mscale_all_dim;             /* 0 = unset */
    int truncate;                      /* floor/ceil the ramp bounds; default 1 */

    /* llama3 */
    double low_freq_factor;
    double high_freq_factor;

    /* longrope: R/2 factors each, caller-owned, read during rope_freqs_compute only */
    const double *short_factor;
    const double *long_factor;
    int64_t n_short_factor;
    int64_t n_long_factor;

    /* M-RoPE: frequency counts per position plane (t, h, w[, e]); n_mrope_section = 0
     * disables. The sum must equal R/2. Contiguous sections (Qwen2/2.5-VL: frequency i
     * belongs to the plane whose range holds it), or with mrope_interleaved = 1
     * (Qwen3-VL, Qwen3.5, Qwen3-Omni): frequency j < planes·min section goes to plane
     * j % planes while that plane still has frequencies left, the rest to plane 0
     * (exactly: plane p >= 1 takes j ≡ p (mod planes) for j < planes·section[p]). */
    int64_t mrope_section[ROPE_MAX_MROPE_PLANES];
    int n_mrope_section;
    int mrope_interleaved;

    /* Per-frequency divisor (GGUF rope_freqs.weight, Llama 3.1 factors, ...): after the
     * type's formula θᵢ /= freq_divisor[i]. NULL = none; else n_freq_divisor == R/2 finite
     * values > 0 (an entry of 1e30 or more, llama.cpp's marker, makes θᵢ exactly 0: an identity pair).
     * Caller-owned, read during rope_freqs_compute only. */
    const double *freq_divisor;
    int64_t n_freq_divisor;
} rope_config;

ROPE_API void rope_config_init(rope_config *cfg);

/* Which part of the spectrum a frequency falls in after scaling (for inspect/plot). */
typedef enum rope_band {
    ROPE_BAND_UNSCALED = 0,   /* extrapolated / kept (high frequency) */
    ROPE_BAND_BLEND = 1,      /* ramp region (yarn, llama3 medium band) */
    ROPE_BAND_SCALED = 2      /* interpolated (low frequency), or every freq for linear and longrope,
                                 and for dynamic once seq_len > max_position_embeddings */
} rope_band;

/*
 * θᵢ for one config, the output of the "frequencies" stage.
 *
 * attention_factor: HF's `attention_scaling`. It MULTIPLIES cos and sin (so the
 *   rotated part of q and k is scaled by it, and q·k by its square). 1 except
 *   for yarn (get_mscale) and longrope (sqrt(1 + ln s / ln L0)).
 * softmax_scale_factor: multiplies the usual 1/sqrt(head_dim) softmax scale.
 *   1 except for DeepSeek yarn (mscale_all_dim set): (0.1·mscale_all_dim·ln s + 1)².
 */
typedef struct rope_freqs {
    rope_scaling_type type;
    int64_t head_dim;                       /* D */
    int64_t rotary_dim;                     /* R */
    int64_t n_freqs;                        /* R/2 */
    double inv_freq[ROPE_MAX_FREQS];        /* θᵢ, float64, the accurate values */
    float inv_freq_f32[ROPE_MAX_FREQS];     /* θᵢ by HF's float32 recipe (compat tables) */
    unsigned char band[ROPE_MAX_FREQS];     /* rope_band per frequency */
    double attention_factor;
    double softmax_scale_factor;
    int64_t mrope_section[ROPE_MAX_MROPE_PLANES];
    int n_mrope_section;
    int mrope_interleaved;
} rope_freqs;

/*
 * Compute the frequencies of cfg for a sequence of length seq_len.
 * seq_len matters only for dynamic NTK (base grows when seq_len exceeds
 * max_position_embeddings; never below the trained base) and longrope (long
 * factors iff seq_len > original_max_position_embeddings). Pass 0 for
 * "at initialisation" (HF seq_len=None).
 */
ROPE_API rope_status rope_freqs_compute(const rope_config *cfg, int64_t seq_len, rope_freqs *out);

/* --------------------------------------------------------------- per layer */

/*
 * A model's RoPE, layer by layer (src/model.c). Real models do not have one RoPE:
 * Gemma 2/3/4 use a frequency set per layer type (sliding layers at one base, full
 * attention layers at another, Gemma 4 with proportional frequencies and a bigger
 * head); Llama 4, SmolLM3, Cohere2, EXAONE 4 leave some layers without RoPE (NoPE).
 * A rope_model is a few frequency sets, each named by the layer type it belongs to,
 * plus a map layer -> set, or -> ROPE_LAYER_NOPE for a layer that rotates nothing.
 * Scaling (yarn, llama3, ...) is part of each set's rope_config, as transformers
 * applies it per layer type. A plain struct: fill it by hand (rope_model_init, then
 * rope_model_add_set and layer_set[]) or read it from a config (the `rope` tools).
 */
#define ROPE_MAX_SETS 8
#define ROPE_MAX_LAYERS 1024
#define ROPE_SET_NAME_MAX 48
#define ROPE_LAYER_NOPE (-1)

/* Position-dependent query scaling some models multiply q by (not k):
 *   scale(pos) = 1 + beta · ln(1 + floor((pos + pos_offset) / floor_scale))
 * Llama 4 attention temperature tuning (attn_scale, floor_scale, pos_offset 1, on its
 * NoPE layers only); Ministral 3 / Mistral llama_4_scaling_beta (floor_scale =
 * original_max_position_embeddings, pos_offset 0, every layer). */
typedef enum rope_query_scaling_type {
    ROPE_QUERY_SCALING_NONE = 0,
    ROPE_QUERY_SCALING_NOPE_LAYERS = 1, /* only layers mapped to ROPE_LAYER_NOPE */
    ROPE_QUERY_SCALING_ALL_LAYERS = 2
} rope_query_scaling_type;

typedef struct rope_model {
    int n_sets;
    char set_name[ROPE_MAX_SETS][ROPE_SET_NAME_MAX]; /* layer type: "full_attention", ... */
    rope_config set[ROPE_MAX_SETS];
    /* n_layers 0 = unknown: every layer uses set 0 if it is the only set (else layer
     * queries fail). Else layer_set[L] for L < n_layers is a set index or ROPE_LAYER_NOPE. */
    int64_t n_layers;
    int16_t layer_set[ROPE_MAX_LAYERS];
    rope_query_scaling_type query_scaling;
    double query_scaling_beta;
    int64_t query_scaling_floor;
    int64_t query_scaling_pos_offset;
} rope_model;

/* No sets, no layers, no query scaling. */
ROPE_API void rope_model_init(rope_model *m);
/* Append a set (name copied, at most ROPE_SET_NAME_MAX-1 bytes, unique and non-empty;
 * cfg copied: its longrope/divisor arrays must outlive the model). Index in *index
 * (may be NULL). Full: ROPE_E_CAPACITY; bad name: ROPE_E_PARAM. */
ROPE_API rope_status rope_model_add_set(rope_model *m, const char *name, const rope_config *cfg, int *index);
/* Index of the set named `name`, ROPE_E_PARAM if there is none. */
ROPE_API rope_status rope_model_find_set(const rope_model *m, const char *name, int *index);
/* The set of layer L (0 <= L < n_layers, or any L >= 0 when n_layers is 0 and there
 * is one set), or ROPE_LAYER_NOPE; ROPE_E_PARAM for a layer outside the model. */
ROPE_API rope_status rope_model_layer_set(const rope_model *m, int64_t layer, int *set);
/* rope_freqs_compute of set s. */
ROPE_API rope_status rope_model_set_freqs(const rope_model *m, int set, int64_t seq_len, rope_freqs *out);
/* The frequencies of layer L. *rotated = 1 and *out filled for a RoPE layer; for a
 * NoPE layer *rotated = 0 and *out untouched (rotate nothing there). */
ROPE_API rope_status rope_model_layer_freqs(const rope_model *m, int64_t layer, int64_t seq_len,
                                   rope_freqs *out, int *rotated);
/* Every set computes, every layer maps to a set or NoPE, query scaling is sane. */
ROPE_API rope_status rope_model_validate(const rope_model *m);
/* Query scale factor of layer L at position pos (1 where the model has none;
 * 0 <= pos <= 2^53, else ROPE_E_POSITION). Query scaling parameters out of their
 * domain, or a beta so large the scale is not finite at position 2^53:
 * ROPE_E_PARAM (here and in rope_model_validate). */
ROPE_API rope_status rope_model_query_scale(const rope_model *m, int64_t layer, int64_t pos, double *scale);

/* ------------------------------------------------------------------ tables */

typedef enum rope_precision {
    /* angle m·θᵢ reduced in double precision: every cos/sin within ~1 ulp of
     * the float64 truth up to positions 2^20 and beyond */
    ROPE_PRECISION_ACCURATE = 0,
    /* Hugging Face / Meta float32 arithmetic: θ in float32 (inv_freq_f32),
     * angle = RN32(θ_f32 · (float)m), then float32 cos/sin. Matches their tables
     * to ~1 ulp, and shares their error (~|angle|·2^-24) at long positions. */
    ROPE_PRECISION_COMPAT_F32 = 1
} rope_precision;

/*
 * Low-level: fill cos[n][n_freqs] and sin[n][n_freqs] (row-major, float32,
 * no attention factor) for positions[0..n). positions == NULL means
 * start, start+1, ..., start+n-1.
 */
ROPE_API rope_status rope_cos_sin(const rope_freqs *f, const int64_t *positions, int64_t start,
                         int64_t n, rope_precision precision, float *cos_out, float *sin_out);

/* An owned cos/sin table. Row r holds cos/sin for the r-th position it was built for. */
typedef struct rope_table rope_table;

/* Rows for positions 0..n_positions-1 (row index == position). */
ROPE_API rope_status rope_table_create(const rope_freqs *f, int64_t n_positions, rope_precision precision,
                              rope_table **out);
/* Rows for arbitrary positions (row r == positions[r]); apply then indexes rows. */
ROPE_API rope_status rope_table_create_at(const rope_freqs *f, const int64_t *positions, int64_t n,
                                 rope_precision precision, rope_table **out);
/* M-RoPE: row r uses position pos_thw[p*n + r] of plane p (t, h, w[, e]; n_mrope_section
 * planes) for the frequencies of plane p: section p as a contiguous range, or the
 * interleaved assignment when f->mrope_interleaved (see rope_config). Text tokens
 * (all planes equal) equal plain RoPE. */
ROPE_API rope_status rope_table_create_mrope(const rope_freqs *f, const int64_t *pos_thw, int64_t n,
                                    rope_precision precision, rope_table **out);
/* Axial (2-D vision) RoPE from per-token coordinates (src/table_axial.c): row r, column i
 * is the rotation by coords[axis[i]*n + r] · θ_{freq[i]} of f (n_axes coordinate planes,
 * each n entries, e.g. h then w); axis[i] = -1 leaves column i unrotated (cos 1, sin 0).
 * n_cols columns (apply with rotary_dim 2·n_cols). Qwen2/2.5-VL vision: f of head_dim D/2,
 * columns [θ_j·h | θ_j·w]; Pixtral: f of head_dim D, columns [θ_2j·h | θ_2j+1·w]. Entries
 * equal the plain table's bit for bit. n_axes 1..8; a bad map: ROPE_E_PARAM. */
ROPE_API rope_status rope_table_create_axial(const rope_freqs *f, const int64_t *coords, int n_axes,
                                             int64_t n, const int *axis, const int *freq, int64_t n_cols,
                                             rope_precision precision, rope_table **out);
/* Rows given by the caller: cos_rows/sin_rows are rows × n_freqs float32, row-major,
 * copied (values used as given: any attention factor already in them stays). For
 * drop-ins of peers that pass their own cos/sin (HF apply_rotary_pos_emb, Meta freqs_cis).
 * Non-finite values: ROPE_E_PARAM. (src/table_import.c) */
ROPE_API rope_status rope_table_from_cos_sin(const float *cos_rows, const float *sin_rows, int64_t rows,
                                    int64_t n_freqs, rope_table **out);
ROPE_API void rope_table_free(rope_table *t);

ROPE_API int64_t rope_table_rows(const rope_table *t);
ROPE_API int64_t rope_table_n_freqs(const rope_table *t);
ROPE_API const float *rope_table_cos(const rope_table *t); /* rows × n_freqs */
ROPE_API const float *rope_table_sin(const rope_table *t);

/* ---------------------------------------------------------------- threads */

/* A pool of worker threads the caller owns; pass it to calls that may split
 * work. Calls split only when the work is large enough to pay for it, and
 * results are bit-identical whatever the thread count. */
typedef struct rope_pool rope_pool;
/* n_threads counts the calling thread (n_threads - 1 workers are started);
 * 0 = one per online CPU; negative or > 256: ROPE_E_PARAM. A pool may be
 * shared by concurrent calls: a call that finds it busy runs single-threaded.
 * After a job, workers spin for up to ~100 µs of their own CPU time, then sleep.
 * On Linux a worker that finds itself on the CPU of the thread that gave it the
 * job moves to another CPU it may use (its affinity mask is restored at once). */
ROPE_API rope_status rope_pool_create(int n_threads, rope_pool **out);
ROPE_API void rope_pool_free(rope_pool *p);
ROPE_API int rope_pool_size(const rope_pool *p);
/* The pool's parallel-for, for the caller's own loops (the LLaMA runner's
 * matrix products): fn(ctx, begin, end) over contiguous ranges covering
 * [0, n_items), the calling thread taking part; at most
 * n_items / min_items_per_thread threads, inline when p is NULL, has one
 * thread or is busy. fn must compute each item independently of the split.
 * ROPE_E_NULL when fn is NULL; n_items or min_items_per_thread < 0: ROPE_E_PARAM
 * (fn not called). */
typedef void (*rope_range_fn)(void *ctx, int64_t begin, int64_t end);
ROPE_API rope_status rope_pool_run(rope_pool *p, int64_t n_items, int64_t min_items_per_thread,
                                   rope_range_fn fn, void *ctx);

/* rope_table_create with the work split over p's threads (NULL: the calling
 * thread only); the same bits whatever the thread count. */
ROPE_API rope_status rope_table_create_pool(const rope_freqs *f, int64_t n_positions,
                                            rope_precision precision, rope_pool *p,
                                            rope_table **out);

/* ------------------------------------------------------------------- apply */

/* A strided 4-D view: shape (batch, seq, heads, head_dim), strides in elements.
 * BSHD, BHSD, SBHD and packed QKV are all just strides; so is the rotated slice of a
 * [nope | rope] head (DeepSeek MLA): data + nope, head_dim = the rope part, the head
 * stride of the whole head, rotated in place without a copy. */
typedef struct rope_tensor {
    void *data;
    rope_dtype dtype;
    int64_t shape[4];
    int64_t stride[4];
} rope_tensor;

/* Fill t as a contiguous tensor of the given shape (layout b, s, h, d). */
ROPE_API void rope_tensor_contiguous(rope_tensor *t, void *data, rope_dtype dtype, int64_t batch,
                            int64_t seq, int64_t heads, int64_t head_dim);

/*
 * Which table row each token uses. Exactly one of:
 *   - ids == NULL, cu_seqlens == NULL: token (b, s) uses offset + s;
 *   - ids != NULL: token (b, s) uses ids[b * ids_batch_stride + s]
 *     (ids_batch_stride 0 = one row of ids shared by the whole batch);
 *   - cu_seqlens != NULL (packed variable-length batch; tensor batch must be 1):
 *     sequence j spans tokens [cu_seqlens[j], cu_seqlens[j+1]) and token s in it
 *     uses offset + s - cu_seqlens[j]; n_seqs sequences, cu_seqlens[n_seqs] == seq.
 * Every resulting row must lie in [0, table rows): otherwise ROPE_E_POSITION.
 */
typedef struct rope_positions {
    int64_t offset;
    const int64_t *ids;
    int64_t ids_batch_stride;
    const int64_t *cu_seqlens;
    int64_t n_seqs;
} rope_positions;

typedef struct rope_apply_params {
    rope_style style;           /* required */
    const rope_table *table;    /* cos/sin rows; or NULL to compute angles on the fly from: */
    const rope_freqs *freqs;    /*   (table-free mode, accurate precision) */
    int64_t rotary_dim;         /* R; must equal 2 * table/freqs n_freqs */
    float attention_factor;     /* multiplies the rotated dims (HF: cos·af, sin·af); 1 = none */
    int inverse;                /* 1: backward = gradient = af·R(-θ); 0: forward */
    rope_pool *pool;            /* NULL: run on the calling thread */
} rope_apply_params;

/* style NONE, table/freqs NULL, rotary_dim 0, attention_factor 1, forward, no pool. */
ROPE_API void rope_apply_params_init(rope_apply_params *p);

/*
 * Rotate in into out (same shape and dtype). out may be exactly in (same data
 * and strides) for in place; any other overlap is ROPE_E_OVERLAP. Arithmetic
 * in float32 for every dtype.
 * Strides may be negative (and 0 in an input); an output whose elements alias
 * each other is ROPE_E_OVERLAP. pos == NULL means offset 0; ids with a non-zero
 * offset, or ids with cu_seqlens, is ROPE_E_PARAM. Table-free mode accepts
 * positions up to 2^53.
 */
ROPE_API rope_status rope_apply(const rope_apply_params *p, const rope_positions *pos,
                       const rope_tensor *in, const rope_tensor *out);

/* q and k together (same batch and seq, any head counts: MHA, GQA, MQA).
 * k_in/k_out may be NULL to rotate q only (and vice versa). */
ROPE_API rope_status rope_apply_qk(const rope_apply_params *p, const rope_positions *pos,
                          const rope_tensor *q_in, const rope_tensor *q_out,
                          const rope_tensor *k_in, const rope_tensor *k_out);

/* --------------------------------------------------------------- attention */

/* A KV cache: per batch row, up to `capacity` entries of n_kv_heads × head_dim
 * keys (stored already rotated) and values, each tagged with its position.
 * Rows fill independently (per-row lengths). Positions are per entry, so the
 * causal mask needs no assumption about order, padding or chunking. A cache may
 * be read by concurrent rope_attention calls; appends need exclusive use. */
typedef struct rope_kv_cache rope_kv_cache;

/* What the cache keeps of the keys (rope_kv_cache_desc.mode). */
typedef enum rope_kv_mode {
    /* keys stored rotated (RoPE applied once, on append); cannot be shifted */
    ROPE_KV_ROTATED = 0,
    /* rotated keys as above, plus each key as given (before rotation) in the
     * dtype it is rotated in (the cache dtype; float32 for ROPE_Q8), so
     * rope_kv_cache_shift re-rotates from the original: after any number of
     * shifts a key is bit-identical to the key a fresh append at its final
     * position stores (no drift). Costs one more key copy per entry and head:
     * D·4 bytes (f32, q8) or D·2 (f16, bf16). */
    ROPE_KV_SHIFTABLE = 1,
    /* keys stored as given (un-rotated; quantised as given for ROPE_Q8) and
     * rotated when read, by the rope_attention_params.rope of each attention
     * call: the frequencies may change after the fact (dynamic NTK growing with
     * the context, a longrope short -> long switch), and a shift only moves
     * positions. Costs the rotation of every key read by every attention call
     * (rope bench attention measures it); the append's rope is used for
     * checks only (positions inside its table), never to rotate. */
    ROPE_KV_UNROTATED = 2
} rope_kv_mode;

typedef struct rope_kv_cache_desc {
    int64_t batch;
    int64_t n_kv_heads;
    int64_t head_dim;
    int64_t capacity;
    rope_dtype dtype;           /* storage (F32, F16, BF16 or Q8); arithmetic is float32 */
    rope_kv_mode mode;          /* 0 = ROPE_KV_ROTATED */
} rope_kv_cache_desc;

/* batch, n_kv_heads, capacity >= 1 (else ROPE_E_PARAM); 1 <= head_dim <=
 * ROPE_MAX_HEAD_DIM (ROPE_E_DIM); sizes are overflow-checked (ROPE_E_OVERFLOW). */
ROPE_API rope_status rope_kv_cache_create(const rope_kv_cache_desc *desc, rope_kv_cache **out);
ROPE_API void rope_kv_cache_free(rope_kv_cache *c);

/*
 * Append k and v, shape (batch, n_new, n_kv_heads, head_dim), any dtypes, at
 * the given positions (per token): pos NULL = 0..n_new-1, offset = offset + s,
 * ids per token (ids_batch_stride per row); an id < 0 marks a padding token,
 * which is not stored (left padding: rows then differ in length); cu_seqlens is
 * ROPE_E_PARAM (use one cache row per sequence). The positions are the rows
 * rope reads (== positions for rope_table_create tables and table-free mode).
 * rope (NULL if keys are already rotated; required for ROPE_KV_SHIFTABLE:
 * ROPE_E_PARAM) rotates k once, on write: k is converted to the cache's dtype
 * (float32 for ROPE_Q8), rotated contiguously by rope_apply's kernels (the same
 * bits as rope_apply on that tensor), then stored (quantised for ROPE_Q8). Entries
 * go after each row's current length. If any row would exceed capacity:
 * ROPE_E_CAPACITY; on any error the cache is unchanged.
 */
ROPE_API rope_status rope_kv_cache_append(rope_kv_cache *c, const rope_apply_params *rope,
                                 const rope_positions *pos, const rope_tensor *k,
                                 const rope_tensor *v);
/* Keep only the first `length` entries of batch row `row` (row -1: every row);
 * a row already shorter is left as is. Rollback = truncate, then append again. */
ROPE_API rope_status rope_kv_cache_truncate(rope_kv_cache *c, int64_t row, int64_t length);
ROPE_API rope_status rope_kv_cache_clear(rope_kv_cache *c);
ROPE_API rope_status rope_kv_cache_length(const rope_kv_cache *c, int64_t row, int64_t *length);

/*
 * Context shift (llama.cpp's seq_add): the entries of batch row `row` (-1:
 * every row) whose position lies in [p0, p1) move to position + delta, and their
 * keys are re-rotated from the kept originals with `rope` (the same parameters
 * as the appends; required). Needs a ROPE_KV_SHIFTABLE cache (or
 * ROPE_KV_UNROTATED: only positions move; rope may be NULL there, and if given
 * its angles at the new positions must be finite: ROPE_E_PARAM), else
 * ROPE_E_UNSUPPORTED. p0 > p1 or a bad row: ROPE_E_PARAM; a new position < 0 or
 * outside rope's table (2^53 table-free): ROPE_E_POSITION; on any error the
 * cache is unchanged. Entry order is kept (the mask uses positions only).
 */
ROPE_API rope_status rope_kv_cache_shift(rope_kv_cache *c, const rope_apply_params *rope, int64_t row,
                                int64_t p0, int64_t p1, int64_t delta);
/* Drop the entries of row `row` (-1: every row) whose position lies in [p0, p1),
 * closing the gap (later entries move down, order kept): llama.cpp's seq_rm.
 * p0 > p1 or a bad row: ROPE_E_PARAM. */
ROPE_API rope_status rope_kv_cache_remove(rope_kv_cache *c, int64_t row, int64_t p0, int64_t p1);
/* Copy entries [entry, entry + n) of row `row` out as stored (keys rotated,
 * except in ROPE_KV_UNROTATED caches; dequantised for ROPE_Q8) into k and v, shape (1, n, n_kv_heads, head_dim),
 * any tensor dtype and strides (either may be NULL), and their positions
 * (may be NULL). Entries past the row's length: ROPE_E_PARAM. */
ROPE_API rope_status rope_kv_cache_read(const rope_kv_cache *c, int64_t row, int64_t entry, int64_t n,
                               const rope_tensor *k, const rope_tensor *v, int64_t *positions);

/*
 * Fused QK-RMSNorm + RoPE + append (Qwen3, Gemma 3: q_norm / k_norm per head
 * before RoPE). Per head vector x of q_in and k: y = (x · inv) · w (Gemma's
 * (1 + w) when weight_plus_one), inv = float32(1 / sqrt(Σx²/head_dim + eps))
 * with the sum and the square root in float64, products in float32; a NULL
 * weight leaves that tensor unnormalised. Then q_out = RoPE(norm(q_in)) (q_out
 * may be q_in exactly; q_in's dtype) and k, v are appended as by
 * rope_kv_cache_append with the normalised k. Equal to the unfused sequence
 * (norm into a tensor of q's / k's dtype, rope_apply, rope_kv_cache_append):
 * bit for bit for float32 tensors; for f16/bf16 tensors within one rounding of
 * that dtype (the fused pass does not round the normalised vector to it).
 * q_in (batch, n_new, n_q_heads, head_dim) shares k's tokens and positions; a
 * padding token's q (id < 0) is normalised, not rotated. rope is required.
 * eps <= 0 or not finite: ROPE_E_PARAM (eps 0 gives NaN for a zero vector).
 * On error the cache and q_out are unchanged.
 */
typedef struct rope_qk_norm {
    const float *q_weight;      /* head_dim floats, or NULL */
    const float *k_weight;      /* head_dim floats, or NULL */
    float eps;
    int weight_plus_one;        /* 1: multiply by (1 + w) (Gemma) */
} rope_qk_norm;

ROPE_API rope_status rope_kv_cache_append_qk_norm(rope_kv_cache *c, const rope_apply_params *rope,
                                                  const rope_qk_norm *norm, const rope_positions *pos,
                                                  const rope_tensor *q_in, const rope_tensor *q_out,
                                                  const rope_tensor *k, const rope_tensor *v);

typedef struct rope_attention_params {
    double softmax_scale;       /* 0 = 1/sqrt(head_dim) (times freqs softmax_scale_factor is the caller's) */
    int64_t sliding_window;     /* 0 = none; else a query at p sees keys at (p - window, p] */
    rope_pool *pool;
    /* ROPE_KV_UNROTATED caches only (required there, ignored otherwise): how the
     * keys are rotated as they are read (its pool is not used); an entry at a
     * position outside its table is ROPE_E_POSITION */
    const rope_apply_params *rope;
} rope_attention_params;

ROPE_API void rope_attention_params_init(rope_attention_params *p);

/*
 * Causal attention of q (batch, q_len, n_q_heads, head_dim; already rotated)
 * over the cache: a query at position p sees the cached entries whose
 * position is <= p (and inside the sliding window). q head h reads kv head
 * h / (n_q_heads / n_kv_heads); n_q_heads % n_kv_heads != 0 is ROPE_E_SHAPE.
 * A query that sees nothing (or has a negative id: padding) gets zeros.
 * qpos as for append (NULL = 0..q_len-1). out has q's shape, any dtype and
 * strides; out may be q exactly (in place), any other overlap is
 * ROPE_E_OVERLAP. softmax_scale < 0 or not finite, sliding_window < 0:
 * ROPE_E_PARAM. Float32 scores and sums (online softmax over tiles of 64 keys,
 * memory independent of the context). Decode (one query block per kv head)
 * over 2048 or more entries splits each row's keys into chunks of 1024 whose
 * softmax states are merged in order (flash-decoding), so threads share one
 * sequence; results are bit-identical whatever the pool's thread count.
 * ROPE_Q8 caches are read with the dequantisation inside the tiles;
 * ROPE_KV_UNROTATED caches rotate keys as read (p->rope). On error out is
 * untouched.
 */
ROPE_API rope_status rope_attention(const rope_kv_cache *c, const rope_attention_params *p,
                           const rope_positions *qpos, const rope_tensor *q,
                           const rope_tensor *out);

/* ---------------------------------------------------------------- kernels */

/* Name of the kernel set in use ("scalar", "avx2", "avx512", "neon").
 * ROPE_ISA=scalar|avx2|avx512|neon in the environment forces one at first use
 * (an unavailable one falls back to the best available). */
ROPE_API const char *rope_isa_name(void);

/* Names of the kernel sets this CPU and build support, best last; count in *n. */
ROPE_API const char *const *rope_isa_available(int *n);

/* ---------------------------------------------------------------- version */

/* The version of the library actually loaded, as ROPE_VERSION_NUMBER
 * (MAJOR*10000 + MINOR*100 + PATCH), and as "MAJOR.MINOR.PATCH". A program
 * compiled against one header can compare these with the macros above. */
ROPE_API unsigned rope_version(void);
ROPE_API const char *rope_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* ROPE_H */
