/*
 * LLaMA forward pass on librope (see model.h). The math, per token x:
 *
 *   h = E[token]                                   token embedding
 *   for each layer l:
 *     a = RMSNorm(h) ⊙ g_attn                      RMSNorm(x) = x / sqrt(mean(x²) + ε)
 *     q = Wq·a, k = Wk·a, v = Wv·a                 projections (GQA: fewer k/v heads)
 *     q, k = RoPE(q, pos), RoPE(k, pos)            rotate pairs by pos·θᵢ (librope)
 *     o = softmax(q·Kᵀ/√d + causal mask)·V         over the KV cache (librope)
 *     h = h + Wo·o                                 residual
 *     b = RMSNorm(h) ⊙ g_ffn
 *     h = h + W_down·(SiLU(W_gate·b) ⊙ (W_up·b))   SwiGLU MLP, residual
 *   logits = W_out·(RMSNorm(h) ⊙ g_out)            W_out = E when tied
 *
 * Which RoPE convention? Hugging Face LLaMA checkpoints use rotate_half (pairs
 * i, i+d/2) because their conversion from Meta's weights permuted the rows of
 * Wq and Wk per head. llama.cpp's convert_hf_to_gguf.py undoes that permutation
 * when it writes a GGUF, so the Q/K rows in the file are in Meta's original
 * order and pairs are adjacent dimensions (2i, 2i+1): ROPE_STYLE_INTERLEAVED
 * (ggml's "normal" rope for the llama architecture). Rotating them with
 * rotate_half pairs the wrong dimensions; the model still runs but attention
 * sees scrambled relative positions (tests/test_llama.c shows how much).
 */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ------------------------------------------------------------ loading */

/* Metadata keys are "<architecture>.<suffix>" (llama.block_count, gemma3.block_count). */
static int get_int(const gguf_file *f, const char *arch, const char *suffix, int64_t *out,
                   int required, char *err, size_t errlen) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int st = gguf_get_i64(f, key, out);
    if (st == GGUF_OK) return 0;
    if (st == GGUF_E_NOT_FOUND && !required) return 1;
    return fail(err, errlen, "metadata %s: %s", key, gguf_strerror(st));
}

static int get_float(const gguf_file *f, const char *arch, const char *suffix, float *out,
                     int required, char *err, size_t errlen) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int st = gguf_get_f32(f, key, out);
    if (st == GGUF_OK) return 0;
    if (st == GGUF_E_NOT_FOUND && !required) return 1;
    return fail(err, errlen, "metadata %s: %s", key, gguf_strerror(st));
}

/* ----------------------------------------------------- per-layer RoPE */

/* A LLaMA: one frequency set for every layer. */
static int layers_one_rope(llama_config *c, char *err, size_t errlen) {
    rope_model_init(&c->rope_layers);
    rope_status st = rope_model_add_set(&c->rope_layers, "full_attention", &c->rope, NULL);
    if (st == ROPE_OK) st = rope_model_validate(&c->rope_layers);
    if (st != ROPE_OK) return fail(err, errlen, "rope model: %s", rope_strerror(st));
    return 0;
}

/*
 * Gemma 3's layers as transformers builds them (Gemma3TextConfig): layer_types
 * from sliding_window_pattern 6, i.e. layer l is "full_attention" when
 * (l + 1) % 6 == 0, else "sliding_attention"; full layers use rope_theta (the
 * GGUF's gemma3.rope.freq_base, 1e6) with the model's scaling, sliding layers
 * rope_local_base_freq (default 1e4) and never any scaling. The GGUF stores
 * neither the pattern nor the local base, so they are Gemma 3's defaults, the
 * same ones librope's config reader applies to a gemma3_text config.json
 * (tools/lib/config_json.c). Described as a rope_model (rope.h): the session
 * asks it for each layer's frequencies.
 */
static int gemma3_rope_layers(llama_config *c, char *err, size_t errlen) {
    rope_model *rm = &c->rope_layers;
    rope_model_init(rm);
    rope_config local = c->rope;
    local.type = ROPE_SCALING_DEFAULT;
    local.rope_theta = 10000.0;
    int full = 0, sliding = 0;
    rope_status st = rope_model_add_set(rm, "full_attention", &c->rope, &full);
    if (st == ROPE_OK) st = rope_model_add_set(rm, "sliding_attention", &local, &sliding);
    if (st == ROPE_OK && c->n_layers > ROPE_MAX_LAYERS) st = ROPE_E_CAPACITY;
    if (st == ROPE_OK) {
        rm->n_layers = c->n_layers;
        for (int64_t l = 0; l < c->n_layers; l++)
            rm->layer_set[l] = (int16_t)((l + 1) % 6 == 0 ? full : sliding);
        st = rope_model_validate(rm);
    }
    if (st != ROPE_OK) return fail(err, errlen, "gemma3 rope model: %s", rope_strerror(st));
    return 0;
}

/* Gemma 3 (llama.cpp's gemma3 architecture): the sliding window, the
 * embedding scale sqrt(dim) (HF: hidden_size**0.5 cast to float32), RoPE
 * rotate_half pairs (HF layout, not permuted by the converter) and the
 * per-layer RoPE. The attention scale is query_pre_attn_scalar^-0.5, which
 * the GGUF does not store: llama.cpp takes 1/sqrt(head_dim) (true for the
 * 270M, 1B, 4B and 12B configs: query_pre_attn_scalar = head_dim = 256). */
static int read_gemma3(const gguf_file *f, llama_config *c, char *err, size_t errlen) {
    if (get_int(f, "gemma3", "attention.sliding_window", &c->sliding_window, 1, err, errlen) < 0)
        return -1;
    if (c->sliding_window < 1 || c->sliding_window > (1 << 24))
        return fail(err, errlen, "metadata gemma3.attention.sliding_window = %lld is outside "
                    "[1, 2^24]", (long long)c->sliding_window);
    if (c->rotary_dim != c->head_dim)
        return fail(err, errlen, "gemma3 with partial rotary (%lld of %lld) is not supported",
                    (long long)c->rotary_dim, (long long)c->head_dim);
    c->embed_scale = (float)sqrt((double)c->dim);
    return gemma3_rope_layers(c, err, errlen);
}

int llama_layer_sliding(const llama_config *c, int64_t layer) {
    int set = 0;
    if (c->arch != LLAMA_ARCH_GEMMA3 ||
        rope_model_layer_set(&c->rope_layers, layer, &set) != ROPE_OK || set < 0)
        return 0;
    return strcmp(c->rope_layers.set_name[set], "sliding_attention") == 0;
}

static const gguf_tensor *find_shaped(const gguf_file *f, const char *name, int64_t rows, int64_t cols,
                                      char *err, size_t errlen);

/*
 * rope_freqs.weight (llama.cpp's freq_factors: Llama 3.1/3.2 conversions store
 * their llama3 scaling this way): one divisor per frequency, θᵢ /= ff[i], on
 * top of the metadata's RoPE. Shape [rotary_dim/2]; every entry finite and > 0.
 */
static int read_rope_freqs(const gguf_file *f, llama_config *c, char *err, size_t errlen) {
    c->n_rope_freq_factors = 0;
    if (!gguf_find_tensor(f, "rope_freqs.weight")) return 0;
    int64_t n = c->rotary_dim / 2;
    float ff[ROPE_MAX_FREQS];
    const gguf_tensor *t = find_shaped(f, "rope_freqs.weight", 1, n, err, errlen);
    if (!t) return -1;
    char why[160];
    if (gguf_dequantize(t, ff, why, sizeof why) != GGUF_OK)
        return fail(err, errlen, "tensor rope_freqs.weight: %s", why);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(ff[i]) || !(ff[i] > 0.0f))
            return fail(err, errlen, "rope_freqs.weight[%lld] = %g: factors must be finite and > 0",
                        (long long)i, (double)ff[i]);
        c->rope_freq_factors[i] = ff[i];
    }
    c->n_rope_freq_factors = n;
    c->rope.freq_divisor = c->rope_freq_factors;
    c->rope.n_freq_divisor = n;
    return 0;
}

/* general.architecture: the config zeroed, then its arch set ('llama', 'gemma3'). */
static int read_arch(const gguf_file *f, llama_config *c, char *err, size_t errlen) {
    char arch[64];
    if (gguf_get_cstr(f, "general.architecture", arch, sizeof arch) != GGUF_OK)
        return fail(err, errlen, "metadata general.architecture missing");
    memset(c, 0, sizeof *c);
    if (!strcmp(arch, "llama")) c->arch = LLAMA_ARCH_LLAMA;
    else if (!strcmp(arch, "gemma3")) c->arch = LLAMA_ARCH_GEMMA3;
    else return fail(err, errlen, "architecture '%s' is not supported ('llama', 'gemma3')", arch);
    return 0;
}

/* The layer, width and head counts, context length and norm epsilon (keys
 * under A), each bounded; the kv heads divide the query heads. */
static int read_counts(const gguf_file *f, const char *A, llama_config *c, char *err,
                       size_t errlen) {
    if (get_int(f, A, "block_count", &c->n_layers, 1, err, errlen) < 0 ||
        get_int(f, A, "embedding_length", &c->dim, 1, err, errlen) < 0 ||
        get_int(f, A, "feed_forward_length", &c->hidden_dim, 1, err, errlen) < 0 ||
        get_int(f, A, "attention.head_count", &c->n_heads, 1, err, errlen) < 0 ||
        get_int(f, A, "context_length", &c->context_length, 1, err, errlen) < 0 ||
        get_float(f, A, "attention.layer_norm_rms_epsilon", &c->norm_eps, 1, err, errlen) < 0)
        return -1;
    int r = get_int(f, A, "attention.head_count_kv", &c->n_kv_heads, 0, err, errlen);
    if (r < 0) return -1;
    if (r == 1) c->n_kv_heads = c->n_heads;
    /* every count bounded before any size is computed from it; the key named */
    const struct { const char *key; int64_t v, hi; } lim[] = {
        {"block_count", c->n_layers, 1024},
        {"embedding_length", c->dim, 1 << 20},
        {"feed_forward_length", c->hidden_dim, 1 << 22},
        {"attention.head_count", c->n_heads, 4096},
        {"attention.head_count_kv", c->n_kv_heads, 4096},
        {"context_length", c->context_length, 1 << 24}};
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (lim[i].v < 1 || lim[i].v > lim[i].hi)
            return fail(err, errlen, "metadata %s.%s = %lld is outside [1, %lld]", A, lim[i].key,
                        (long long)lim[i].v, (long long)lim[i].hi);
    /* the normalisation epsilon reaches every RMSNorm: finite and > 0, or NaN/Inf logits */
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps))
        return fail(err, errlen, "metadata %s.attention.layer_norm_rms_epsilon = %g: must be a "
                    "finite number > 0", A, (double)c->norm_eps);
    if (c->n_heads % c->n_kv_heads != 0)
        return fail(err, errlen, "head_count %lld is not a multiple of head_count_kv %lld (GQA groups)",
                    (long long)c->n_heads, (long long)c->n_kv_heads);
    return 0;
}

/* Head dimension (key_length, else dim / heads) and rotary dimensions
 * (rope.dimension_count, else the whole head): even, within the head. */
static int read_head_dims(const gguf_file *f, const char *A, llama_config *c, char *err,
                          size_t errlen) {
    int r = get_int(f, A, "attention.key_length", &c->head_dim, 0, err, errlen);
    if (r < 0) return -1;
    if (r == 1) {
        if (c->dim % c->n_heads) return fail(err, errlen, "embedding_length %% head_count != 0");
        c->head_dim = c->dim / c->n_heads;
    }
    if (c->head_dim < 2 || c->head_dim > ROPE_MAX_HEAD_DIM)
        return fail(err, errlen, "head dimension %lld out of range", (long long)c->head_dim);
    r = get_int(f, A, "rope.dimension_count", &c->rotary_dim, 0, err, errlen);
    if (r < 0) return -1;
    if (r == 1) c->rotary_dim = c->head_dim;
    if (c->rotary_dim < 2 || c->rotary_dim > c->head_dim || c->rotary_dim % 2)
        return fail(err, errlen, "rope.dimension_count %lld invalid for head dim %lld",
                    (long long)c->rotary_dim, (long long)c->head_dim);
    return 0;
}

/* Scaling: llama.rope.scaling.type ("none", "linear", "yarn"), .factor,
 * .original_context_length; older files: llama.rope.scale_linear. stype
 * (stype_size bytes, "none" on entry) gets the type's name. */
static int read_scaling(const gguf_file *f, const char *A, rope_config *rc, char *stype,
                        size_t stype_size, char *err, size_t errlen) {
    char tkey[64];
    snprintf(tkey, sizeof tkey, "%s.rope.scaling.type", A);
    int st = gguf_get_cstr(f, tkey, stype, stype_size);
    if (st != GGUF_OK && st != GGUF_E_NOT_FOUND)
        return fail(err, errlen, "metadata %s: %s", tkey, gguf_strerror(st));
    float factor = 0.0f, lin = 0.0f;
    if (get_float(f, A, "rope.scaling.factor", &factor, 0, err, errlen) < 0) return -1;
    if (get_float(f, A, "rope.scale_linear", &lin, 0, err, errlen) < 0) return -1;
    int64_t orig = 0;
    if (get_int(f, A, "rope.scaling.original_context_length", &orig, 0, err, errlen) < 0)
        return -1;
    if (st == GGUF_E_NOT_FOUND && lin > 0 && lin != 1.0f) {
        snprintf(stype, stype_size, "linear");
        factor = lin;
    }
    if (!strcmp(stype, "none") || factor == 0.0f || factor == 1.0f) {
        rc->type = ROPE_SCALING_DEFAULT;
    } else if (!strcmp(stype, "linear")) {
        rc->type = ROPE_SCALING_LINEAR;
        rc->factor = factor;
    } else if (!strcmp(stype, "yarn")) {
        rc->type = ROPE_SCALING_YARN;
        rc->factor = factor;
        rc->original_max_position_embeddings = orig;
    } else {
        return fail(err, errlen, "rope scaling type '%s' is not supported", stype);
    }
    return 0;
}

/* c->rope from the metadata (base, scaling) and rope_freqs.weight, checked
 * to give frequencies. */
static int read_rope(const gguf_file *f, const char *A, llama_config *c, char *err,
                     size_t errlen) {
    rope_config *rc = &c->rope;
    rope_config_init(rc);
    float base = 10000.0f;
    if (get_float(f, A, "rope.freq_base", &base, 0, err, errlen) < 0) return -1;
    rc->rope_theta = base;
    rc->head_dim = c->head_dim;
    rc->partial_rotary_factor = (double)c->rotary_dim / (double)c->head_dim;
    rc->max_position_embeddings = c->context_length;
    char stype[32] = "none";
    if (read_scaling(f, A, rc, stype, sizeof stype, err, errlen) < 0) return -1;
    if (read_rope_freqs(f, c, err, errlen) < 0) return -1;
    /* the file's RoPE must give frequencies now, not when a session starts */
    rope_freqs fr;
    rope_status rs = rope_freqs_compute(rc, c->context_length, &fr);
    if (rs != ROPE_OK)
        return fail(err, errlen, "metadata %s.rope.* (freq_base %g, scaling %s): %s", A,
                    (double)base, stype, rope_strerror(rs));
    return 0;
}

/* Hyperparameters and RoPE from the metadata (llama.cpp's key names). */
static int read_config(const gguf_file *f, llama_config *c, char *err, size_t errlen) {
    if (read_arch(f, c, err, errlen) < 0) return -1;
    const char *A = c->arch == LLAMA_ARCH_GEMMA3 ? "gemma3" : "llama";
    if (read_counts(f, A, c, err, errlen) < 0 || read_head_dims(f, A, c, err, errlen) < 0 ||
        read_rope(f, A, c, err, errlen) < 0)
        return -1;
    c->embed_scale = 1.0f;
    c->attn_scale = 1.0 / sqrt((double)c->head_dim);
    if (c->arch == LLAMA_ARCH_GEMMA3) return read_gemma3(f, c, err, errlen);
    return layers_one_rope(c, err, errlen);
}

/* Tensor `name` after checking its shape is [rows][cols]. */
static const gguf_tensor *find_shaped(const gguf_file *f, const char *name, int64_t rows,
                                      int64_t cols, char *err, size_t errlen) {
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        fail(err, errlen, "tensor %s missing", name);
        return NULL;
    }
    uint64_t want_rows = t->ne[1] * t->ne[2] * t->ne[3];
    if (t->ne[0] != (uint64_t)cols || want_rows != (uint64_t)rows) {
        fail(err, errlen, "tensor %s has shape [%llu x %llu], expected [%lld x %lld]", name,
             (unsigned long long)want_rows, (unsigned long long)t->ne[0], (long long)rows,
             (long long)cols);
        return NULL;
    }
    return t;
}

/* Kept quantised (a view into the mapping) rather than dequantised? */
static int stays_quantised(const gguf_tensor *t, int64_t cols, int all_f32) {
    return !all_f32 && qm_type_supported(t->type) && qm_row_bytes(t->type, cols) != 0;
}

/* One weight: a quantised view, or float32 taken from the arena at *p. With
 * dst->f == NULL and p == NULL: only counts the floats it would need. */
static int load_mat(const gguf_file *f, const char *name, int64_t rows, int64_t cols, int all_f32,
                    llama_mat *dst, float **p, size_t *floats, char *err, size_t errlen) {
    const gguf_tensor *t = find_shaped(f, name, rows, cols, err, errlen);
    if (!t) return -1;
    memset(dst, 0, sizeof *dst);
    if (stays_quantised(t, cols, all_f32)) {
        if (!p) return 0;
        qm_matrix_init(&dst->q, t->type, rows, cols, t->data);
        const int64_t bad = qm_matrix_bad_block(&dst->q);
        if (bad >= 0)
            return fail(err, errlen, "tensor %s: block %lld has an Inf/NaN scale (malformed)", name,
                        (long long)bad);
        return 0;
    }
    *floats += (size_t)(rows * cols);
    if (!p) return 0;
    float *w = *p;
    *p += rows * cols;
    char why[160];
    if (gguf_dequantize(t, w, why, sizeof why) != GGUF_OK)
        return fail(err, errlen, "tensor %s: %s", name, why);
    dst->f = w;
    return 0;
}

/* Every weight of the model, in one order for counting (pass 0: p NULL)
 * and for loading (pass 1). */
static int load_weights(const gguf_file *f, llama_model *m, int all_f32, float **p, size_t *floats,
                        char *err, size_t errlen) {
    const llama_config *c = &m->cfg;
    const int64_t D = c->dim, F = c->hidden_dim, qd = c->n_heads * c->head_dim,
                  kvd = c->n_kv_heads * c->head_dim, V = c->vocab_size;
    llama_mat norm;
    char name[96];
    if (load_mat(f, "token_embd.weight", V, D, all_f32, &m->token_embd, p, floats, err, errlen))
        return -1;
    for (int64_t l = 0; l < c->n_layers; l++) {
        llama_layer *L = &m->layers[l];
        const struct {
            const char *t;
            llama_mat *dst;
            int64_t rows, cols;
            float **vec; /* norms: always float32 */
        } W[] = {{"attn_norm", &norm, 1, D, &L->attn_norm}, {"attn_q", &L->wq, qd, D, NULL},
                 {"attn_k", &L->wk, kvd, D, NULL},          {"attn_v", &L->wv, kvd, D, NULL},
                 {"attn_output", &L->wo, D, qd, NULL},     {"ffn_norm", &norm, 1, D, &L->ffn_norm},
                 {"ffn_gate", &L->w_gate, F, D, NULL},      {"ffn_up", &L->w_up, F, D, NULL},
                 {"ffn_down", &L->w_down, D, F, NULL}};
        for (size_t i = 0; i < sizeof W / sizeof W[0]; i++) {
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, W[i].t);
            if (load_mat(f, name, W[i].rows, W[i].cols, all_f32 || W[i].vec, W[i].dst, p, floats,
                         err, errlen))
                return -1;
            if (W[i].vec && p) *W[i].vec = (float *)norm.f;
        }
        if (c->arch != LLAMA_ARCH_GEMMA3) continue;
        /* Gemma 3: QK-norm and the post-attention / post-MLP norms (float32) */
        const struct { const char *t; int64_t cols; float **vec; } G[] = {
            {"attn_q_norm", c->head_dim, &L->q_norm}, {"attn_k_norm", c->head_dim, &L->k_norm},
            {"post_attention_norm", D, &L->post_attn_norm}, {"post_ffw_norm", D, &L->post_ffw_norm}};
        for (size_t i = 0; i < sizeof G / sizeof G[0]; i++) {
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, G[i].t);
            if (load_mat(f, name, 1, G[i].cols, 1, &norm, p, floats, err, errlen)) return -1;
            if (p) *G[i].vec = (float *)norm.f;
        }
    }
    if (load_mat(f, "output_norm.weight", 1, D, 1, &norm, p, floats, err, errlen)) return -1;
    if (p) m->output_norm = (float *)norm.f;
    if (c->tied_output) {
        if (p) m->output = m->token_embd;
    } else if (load_mat(f, "output.weight", V, D, all_f32, &m->output, p, floats, err, errlen)) {
        return -1;
    }
    return 0;
}

static int64_t mat_quant_elems(const llama_mat *w) { return w->q.data ? w->q.rows * w->q.cols : 0; }

static int model_load(const char *path, int all_f32, llama_model **out, char *err, size_t errlen) {
    if (!path || !out) return fail(err, errlen, "NULL argument");
    *out = NULL;
    gguf_file *f = NULL;
    char why[256];
    if (gguf_open(path, &f, why, sizeof why) != GGUF_OK) return fail(err, errlen, "%s", why);
    llama_model *m = calloc(1, sizeof *m);
    if (!m) {
        gguf_close(f);
        return fail(err, errlen, "out of memory");
    }
    m->file = f;
    llama_config *c = &m->cfg;
    if (read_config(f, c, err, errlen) < 0) goto fail;

    const gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    if (!te) {
        fail(err, errlen, "tensor token_embd.weight missing");
        goto fail;
    }
    c->vocab_size = (int64_t)te->ne[1];
    if (te->ne[0] != (uint64_t)c->dim || c->vocab_size < 1 || c->vocab_size > (1 << 24)) {
        fail(err, errlen, "token_embd.weight shape does not match embedding_length");
        goto fail;
    }
    c->tied_output = gguf_find_tensor(f, "output.weight") == NULL;

    /* One arena for every float32 weight: count, allocate, load. */
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    size_t total = 0;
    if (!m->layers || load_weights(f, m, all_f32, NULL, &total, err, errlen) < 0) {
        if (!m->layers) fail(err, errlen, "out of memory");
        goto fail;
    }
    m->arena = malloc((total ? total : 1) * sizeof(float));
    if (!m->arena) {
        fail(err, errlen, "out of memory (%zu MB of weights)", total * 4 >> 20);
        goto fail;
    }
    m->arena_floats = total;
    float *p = m->arena;
    size_t again = 0;
    if (load_weights(f, m, all_f32, &p, &again, err, errlen) < 0) goto fail;
    for (int64_t l = 0; l < c->n_layers; l++) {
        const llama_layer *L = &m->layers[l];
        const llama_mat *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (mat_quant_elems(ws[i]) > m->max_quant_elems) m->max_quant_elems = mat_quant_elems(ws[i]);
    }
    /* the head is dequantised in row chunks of the scratch: at least one row */
    const int64_t head = mat_quant_elems(&m->output);
    if (head && m->max_quant_elems < c->dim) m->max_quant_elems = head < (1 << 20) ? head : (1 << 20);
    *out = m;
    return 0;
fail:
    llama_model_free(m);
    return -1;
}

int llama_model_load(const char *path, llama_model **out, char *err, size_t errlen) {
    return model_load(path, 0, out, err, errlen);
}

int llama_model_load_f32(const char *path, llama_model **out, char *err, size_t errlen) {
    return model_load(path, 1, out, err, errlen);
}

void llama_model_free(llama_model *m) {
    if (!m) return;
    gguf_close(m->file);
    free(m->arena);
    free(m->layers);
    free(m);
}

int llama_default_model_path(char *buf, size_t cap) {
    if (!buf || cap == 0) return -1;
    snprintf(buf, cap, "%s", LLAMA_DEFAULT_MODEL);
    if (access(buf, R_OK) == 0) return 0;
    /* <dir of executable>/../models/... : ./build/rope run from anywhere. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[4096 + 64];
            snprintf(cand, sizeof cand, "%s/../%s", exe, LLAMA_DEFAULT_MODEL);
            if (access(cand, R_OK) == 0 && strlen(cand) < cap) {
                snprintf(buf, cap, "%s", cand);
                return 0;
            }
        }
    }
    snprintf(buf, cap, "%s", LLAMA_DEFAULT_MODEL);
    return -1;
}

/* ------------------------------------------------------------ session */

/* Quantised weights, below this many tokens: per token, quantise the
 * activation row and run the integer matrix-vector product; from it on:
 * the integer matrix-matrix kernel (qm_gemm: the weights unpacked once per 16
 * rows for all tokens), or where the kernel set has none, dequantise W once
 * (in row chunks that fit the scratch) and use sgemm. Measured on the 2-vCPU
 * dev VM (SmolLM2-135M Q4_1: unpacking 1536 x 576 costs ~5 tokens of matvec;
 * qm_gemm is 2-2.4x faster than dequantisation + sgemm at every shape of the
 * model, see docs/llama.md). */
#define QM_GEMM_MIN_TOKENS 6

struct llama_session {
    const llama_model *m;
    int64_t n_ctx, max_batch, pos;
    int n_threads;
    rope_style style;
    /* one frequency set and table per layer type (cfg.rope_layers); the
     * override of llama_session_opts.rope replaces set `primary` */
    int n_sets, primary;
    rope_freqs freqs[ROPE_MAX_SETS];
    rope_table *table[ROPE_MAX_SETS];
    rope_pool *pool;
    rope_kv_cache **cache;   /* one per layer */
    /* scratch, max_batch rows each */
    float *x;    /* residual stream [B][dim] */
    float *xb;   /* normed input     [B][dim] */
    float *q;    /* [B][n_heads*head_dim] */
    float *k;    /* [B][n_kv_heads*head_dim] */
    float *v;
    float *att;  /* attention output [B][n_heads*head_dim] */
    float *hb;   /* [B][hidden_dim] */
    float *hb2;
    float *qx;   /* activations rounded through Q8 blocks (emulate_q8_activations) */
    int emulate_q8;
    qm_act act;  /* one activation row quantised to 8 bits (quantised weights) */
    qm_act *acts; /* max_batch rows quantised, for qm_gemm (when the kernel set has one) */
    int64_t n_acts;
    float *wf;   /* prefill: a quantised matrix dequantised, max_quant_elems floats */
    int shiftable; /* caches keep the keys' originals (llama_session_shift) */
};

void llama_session_opts_init(llama_session_opts *o) {
    memset(o, 0, sizeof *o);
}

int llama_parse_kv_dtype(const char *name, rope_dtype *out) {
    static const struct { const char *name; rope_dtype dt; } names[] = {
        {"f32", ROPE_F32}, {"f16", ROPE_F16}, {"bf16", ROPE_BF16}, {"q8", ROPE_Q8}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *out = names[i].dt;
            return 0;
        }
    return -1;
}

int llama_session_create(const llama_model *m, const llama_session_opts *o, llama_session **out,
                         char *err, size_t errlen) {
    if (!m || !out) return fail(err, errlen, "NULL argument");
    *out = NULL;
    llama_session_opts def;
    if (!o) {
        llama_session_opts_init(&def);
        o = &def;
    }
    const llama_config *c = &m->cfg;
    llama_session *s = calloc(1, sizeof *s);
    if (!s) return fail(err, errlen, "out of memory");
    s->m = m;
    s->n_ctx = o->n_ctx > 0 ? o->n_ctx : c->context_length;
    s->max_batch = o->max_batch > 0 ? o->max_batch : 256;
    if (s->max_batch > s->n_ctx) s->max_batch = s->n_ctx;
    /* GGUF llama: Q/K rows permuted by the converter (interleaved pairs);
     * gemma3: HF's layout kept (rotate_half, ggml's NEOX rope) */
    s->style = o->style != ROPE_STYLE_NONE ? o->style
               : c->arch == LLAMA_ARCH_GEMMA3 ? ROPE_STYLE_HALF : ROPE_STYLE_INTERLEAVED;
    s->n_threads = o->n_threads > 0 ? o->n_threads : 1;
    if (s->n_ctx > (1 << 24) || s->max_batch > (1 << 16) || s->n_threads > 256) {
        free(s);
        return fail(err, errlen, "context, batch or thread count too large");
    }

    /* RoPE: per layer type, frequencies from the model's rope_model (the
     * full-attention set overridden by o->rope), a cos/sin table for every
     * position of the context. */
    rope_model rm = c->rope_layers;
    rope_status st = rope_model_find_set(&rm, "full_attention", &s->primary);
    if (st == ROPE_OK && o->rope) rm.set[s->primary] = *o->rope;
    s->n_sets = rm.n_sets;
    for (int k = 0; st == ROPE_OK && k < rm.n_sets; k++) {
        st = rope_model_set_freqs(&rm, k, o->freqs_seq_len > 0 ? o->freqs_seq_len : s->n_ctx,
                                  &s->freqs[k]);
        if (st == ROPE_OK && s->freqs[k].rotary_dim != c->rotary_dim) {
            free(s);
            return fail(err, errlen, "rope frequencies: rotary dim differs from the model's");
        }
    }
    if (st != ROPE_OK) {
        free(s);
        return fail(err, errlen, "rope frequencies: %s", rope_strerror(st));
    }
    for (int k = 0; st == ROPE_OK && k < s->n_sets; k++)
        st = rope_table_create(&s->freqs[k], s->n_ctx, ROPE_PRECISION_ACCURATE, &s->table[k]);
    if (st == ROPE_OK) st = rope_pool_create(s->n_threads, &s->pool);
    s->cache = calloc((size_t)c->n_layers, sizeof *s->cache);
    if (st == ROPE_OK && !s->cache) st = ROPE_E_NOMEM;
    rope_kv_cache_desc desc = {.batch = 1, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
                               .capacity = s->n_ctx,
                               .dtype = o->kv_dtype ? o->kv_dtype : ROPE_F32,
                               .mode = o->kv_shiftable ? ROPE_KV_SHIFTABLE : ROPE_KV_ROTATED};
    for (int64_t l = 0; st == ROPE_OK && l < c->n_layers; l++)
        st = rope_kv_cache_create(&desc, &s->cache[l]);
    const size_t B = (size_t)s->max_batch;
    s->x = malloc(B * (size_t)c->dim * sizeof(float));
    s->xb = malloc(B * (size_t)c->dim * sizeof(float));
    s->q = malloc(B * (size_t)(c->n_heads * c->head_dim) * sizeof(float));
    s->att = malloc(B * (size_t)(c->n_heads * c->head_dim) * sizeof(float));
    s->k = malloc(B * (size_t)(c->n_kv_heads * c->head_dim) * sizeof(float));
    s->v = malloc(B * (size_t)(c->n_kv_heads * c->head_dim) * sizeof(float));
    s->hb = malloc(B * (size_t)c->hidden_dim * sizeof(float));
    s->hb2 = malloc(B * (size_t)c->hidden_dim * sizeof(float));
    if (st == ROPE_OK && (!s->x || !s->xb || !s->q || !s->att || !s->k || !s->v || !s->hb || !s->hb2))
        st = ROPE_E_NOMEM;
    s->emulate_q8 = o->emulate_q8_activations != 0;
    s->shiftable = o->kv_shiftable != 0;
    if (st == ROPE_OK && s->emulate_q8) {
        int64_t w = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
        w = c->n_heads * c->head_dim > w ? c->n_heads * c->head_dim : w;
        s->qx = malloc(B * (size_t)w * sizeof(float));
        if (!s->qx) st = ROPE_E_NOMEM;
    }
    if (st == ROPE_OK && m->max_quant_elems > 0) {
        int64_t w = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
        w = c->n_heads * c->head_dim > w ? c->n_heads * c->head_dim : w;
        s->wf = malloc((size_t)m->max_quant_elems * sizeof(float));
        if (!s->wf || qm_act_alloc(&s->act, w) != 0) st = ROPE_E_NOMEM;
        if (st == ROPE_OK && qm_gemm_available() && !o->prefill_f32 &&
            s->max_batch >= QM_GEMM_MIN_TOKENS) {
            s->acts = calloc((size_t)s->max_batch, sizeof *s->acts);
            if (!s->acts) st = ROPE_E_NOMEM;
            for (; st == ROPE_OK && s->n_acts < s->max_batch; s->n_acts++)
                if (qm_act_alloc(&s->acts[s->n_acts], w) != 0) st = ROPE_E_NOMEM;
        }
    }
    if (st != ROPE_OK) {
        llama_session_free(s);
        return fail(err, errlen, "session: %s", rope_strerror(st));
    }
    openblas_set_num_threads(s->n_threads);
    *out = s;
    return 0;
}

void llama_session_free(llama_session *s) {
    if (!s) return;
    if (s->cache)
        for (int64_t l = 0; l < s->m->cfg.n_layers; l++) rope_kv_cache_free(s->cache[l]);
    free(s->cache);
    for (int k = 0; k < s->n_sets; k++) rope_table_free(s->table[k]);
    rope_pool_free(s->pool);
    free(s->x);
    free(s->xb);
    free(s->q);
    free(s->att);
    free(s->k);
    free(s->v);
    free(s->hb);
    free(s->hb2);
    free(s->qx);
    free(s->wf);
    qm_act_free(&s->act);
    for (int64_t i = 0; i < s->n_acts; i++) qm_act_free(&s->acts[i]);
    free(s->acts);
    free(s);
}

void llama_session_reset(llama_session *s) {
    for (int64_t l = 0; l < s->m->cfg.n_layers; l++) rope_kv_cache_clear(s->cache[l]);
    s->pos = 0;
}

int llama_session_reset_at(llama_session *s, int64_t pos) {
    if (pos < 0 || pos >= s->n_ctx) return -1;
    llama_session_reset(s);
    s->pos = pos;
    return 0;
}

/* The RoPE parameters of every append (and of the shifts, which must match). */
static int layer_set(const llama_session *s, int64_t layer) {
    int set = 0;
    if (rope_model_layer_set(&s->m->cfg.rope_layers, layer, &set) != ROPE_OK || set < 0) set = 0;
    return set; /* validated at load: every layer has a set */
}

/* Layer l's RoPE parameters for every append (and the shifts, which must match). */
static rope_apply_params session_rope(const llama_session *s, int64_t layer) {
    const int set = layer_set(s, layer);
    rope_apply_params rp;
    rope_apply_params_init(&rp);
    rp.style = s->style;
    rp.table = s->table[set];
    rp.rotary_dim = s->m->cfg.rotary_dim;
    rp.attention_factor = (float)s->freqs[set].attention_factor; /* yarn: multiplies cos and sin */
    rp.pool = s->pool;
    return rp;
}

int llama_session_shift(llama_session *s, int64_t n_keep, int64_t n_discard, char *err,
                        size_t errlen) {
    if (!s) return fail(err, errlen, "NULL argument");
    if (!s->shiftable) return fail(err, errlen, "shift: the session was created without kv_shiftable");
    if (n_keep < 0 || n_discard < 1 || n_keep > s->pos || n_discard > s->pos - n_keep)
        return fail(err, errlen, "shift: keep %lld, discard %lld of %lld tokens", (long long)n_keep,
                    (long long)n_discard, (long long)s->pos);
    for (int64_t l = 0; l < s->m->cfg.n_layers; l++) {
        const rope_apply_params rp = session_rope(s, l);
        rope_status st = rope_kv_cache_remove(s->cache[l], 0, n_keep, n_keep + n_discard);
        if (st == ROPE_OK)
            st = rope_kv_cache_shift(s->cache[l], &rp, 0, n_keep + n_discard, s->pos, -n_discard);
        if (st != ROPE_OK) /* cannot happen for a valid range of a shiftable session */
            return fail(err, errlen, "shift, layer %lld: %s", (long long)l, rope_strerror(st));
    }
    s->pos -= n_discard;
    return 0;
}

int64_t llama_session_pos(const llama_session *s) { return s->pos; }
int64_t llama_session_n_ctx(const llama_session *s) { return s->n_ctx; }
int64_t llama_session_max_batch(const llama_session *s) { return s->max_batch; }
const llama_model *llama_session_model(const llama_session *s) { return s->m; }
const rope_freqs *llama_session_freqs(const llama_session *s) { return &s->freqs[s->primary]; }

/* ------------------------------------------------------------ forward */

/* out[t] = x[t] / sqrt(mean(x[t]²) + ε) ⊙ g, for n rows of d (Zhang & Sennrich 2019).
 * The sum of squares in double, as ggml does. */
static void rmsnorm(float *out, const float *x, const float *g, int64_t n, int64_t d, float eps) {
    for (int64_t t = 0; t < n; t++) {
        const float *xr = x + t * d;
        float *o = out + t * d;
        double ss = 0.0;
        for (int64_t i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        const float scale = (float)(1.0 / sqrt(ss / (double)d + eps));
        for (int64_t i = 0; i < d; i++) o[i] = xr[i] * scale * g[i];
    }
}

/* y[n][out] = x[n][in] · W[out][in]ᵀ (+ y when accumulate): sgemv for one row
 * (decode), sgemm for many (prefill). */
static void matmul_f32(float *y, const float *x, const float *W, int64_t n, int64_t in,
                       int64_t out, int accumulate) {
    const float beta = accumulate ? 1.0f : 0.0f;
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)in, 1.0f, W, (int)in, x, 1, beta, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                    (int)in, W, (int)in, beta, y, (int)out);
}


typedef struct qm_job {
    const qm_matrix *w;
    const qm_act *a;
    const qm_act *acts; /* qm_gemm: n tokens */
    int64_t n;
    float *y, *wf;
    int64_t r0;
    int accumulate;
} qm_job;

static void qm_rows(void *ctx, int64_t b, int64_t e) {
    const qm_job *j = ctx;
    qm_matvec(j->w, j->a, j->y, b, e, j->accumulate);
}

static void qm_dequant_part(void *ctx, int64_t b, int64_t e) {
    const qm_job *j = ctx;
    qm_dequant_rows(j->w, j->r0 + b, j->r0 + e, j->wf + b * j->w->cols);
}

/* qm_gemm over 16-row tiles [b, e) of j->w (tokens in j->acts). */
static void qm_gemm_tiles(void *ctx, int64_t b, int64_t e) {
    const qm_job *j = ctx;
    const int64_t r1 = 16 * e < j->w->rows ? 16 * e : j->w->rows;
    qm_gemm(j->w, j->acts, j->n, j->y, j->w->rows, 16 * b, r1, j->accumulate);
}

/* n tokens (x[n][in]) into s->acts. */
static void quantize_rows(llama_session *s, const float *x, int64_t n, int64_t in) {
    for (int64_t t = 0; t < n; t++) qm_quantize(x + t * in, in, &s->acts[t]);
}

/* y[n][out] (+)= acts · Wᵀ by qm_gemm (the rows of x already in s->acts). */
static void gemm_q(llama_session *s, float *y, const llama_mat *W, int64_t n, int accumulate) {
    qm_job j = {.w = &W->q, .acts = s->acts, .n = n, .y = y, .accumulate = accumulate};
    rope_pool_run(s->pool, (W->q.rows + 15) / 16, 1, qm_gemm_tiles, &j);
}

static int use_gemm(const llama_session *s, const llama_mat *W, int64_t n) {
    return !W->f && n >= QM_GEMM_MIN_TOKENS && n <= s->n_acts;
}

static void matmul(llama_session *s, float *y, const float *x, const llama_mat *W, int64_t n,
                   int64_t in, int64_t out, int accumulate) {
    if (W->f) {
        matmul_f32(y, x, W->f, n, in, out, accumulate);
        return;
    }
    if (use_gemm(s, W, n)) {
        quantize_rows(s, x, n, in);
        gemm_q(s, y, W, n, accumulate);
        return;
    }
    qm_job j = {.w = &W->q, .a = &s->act, .wf = s->wf, .accumulate = accumulate};
    if (n < QM_GEMM_MIN_TOKENS) {
        for (int64_t t = 0; t < n; t++) {
            qm_quantize(x + t * in, in, &s->act);
            j.y = y + t * out;
            rope_pool_run(s->pool, out, 64, qm_rows, &j);
        }
        return;
    }
    /* dequantise as many rows as the scratch holds, then one sgemm on them */
    const int64_t chunk = s->m->max_quant_elems / in;
    for (int64_t r0 = 0; r0 < out; r0 += chunk) {
        const int64_t rows = out - r0 < chunk ? out - r0 : chunk;
        j.r0 = r0;
        rope_pool_run(s->pool, rows, 16, qm_dequant_part, &j);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)rows, (int)in, 1.0f, x,
                    (int)in, s->wf, (int)in, accumulate ? 1.0f : 0.0f, y + r0, (int)out);
    }
}

/* Up to 3 matrices applied to the same input (Wq, Wk, Wv; W_gate, W_up):
 * for one token with every matrix quantised, x is quantised once and all
 * their rows are one job for the pool (one fork/join instead of three). */
typedef struct qm_multi {
    int count;
    qm_job j[3];
    int64_t end[3]; /* cumulative rows */
} qm_multi;

static void qm_multi_rows(void *ctx, int64_t b, int64_t e) {
    const qm_multi *mj = ctx;
    int64_t start = 0;
    for (int i = 0; i < mj->count; i++) {
        const int64_t lo = b > start ? b : start, hi = e < mj->end[i] ? e : mj->end[i];
        if (lo < hi) qm_matvec(mj->j[i].w, mj->j[i].a, mj->j[i].y, lo - start, hi - start, 0);
        start = mj->end[i];
    }
}

static void matmul_same_x(llama_session *s, const float *x, int64_t n, int64_t in, int count,
                          const llama_mat *const W[], float *const y[], const int64_t out[]) {
    int gemm = 1;
    for (int i = 0; i < count; i++) gemm &= use_gemm(s, W[i], n);
    if (gemm) { /* a prompt: quantise the rows once for every matrix */
        quantize_rows(s, x, n, in);
        for (int i = 0; i < count; i++) gemm_q(s, y[i], W[i], n, 0);
        return;
    }
    int all_q = n == 1;
    for (int i = 0; i < count; i++) all_q &= W[i]->f == NULL;
    if (!all_q) {
        for (int i = 0; i < count; i++) matmul(s, y[i], x, W[i], n, in, out[i], 0);
        return;
    }
    qm_quantize(x, in, &s->act);
    qm_multi mj = {.count = count};
    int64_t total = 0;
    for (int i = 0; i < count; i++) {
        mj.j[i] = (qm_job){.w = &W[i]->q, .a = &s->act, .y = y[i]};
        mj.end[i] = total += out[i];
    }
    rope_pool_run(s->pool, total, 64, qm_multi_rows, &mj);
}

/* Row `tok` of the embedding matrix into x[dim]. */
static void embed_row(const llama_mat *E, int64_t tok, int64_t dim, float *x) {
    if (E->f) memcpy(x, E->f + tok * dim, (size_t)dim * sizeof(float));
    else qm_dequant_rows(&E->q, tok, tok + 1, x);
}

/* Diagnostics (emulate_q8_activations): x' = round(x/d)·fp16(d) per block of
 * 32, d = max|x|/127, as ggml's quantize_row_q8_0/q8_1 before a quantised
 * matrix product. Returns the buffer to multiply with. */
static const float *q8_round(llama_session *s, const float *x, int64_t n, int64_t in) {
    if (!s->emulate_q8 || in % 32) return x;
    for (int64_t b = 0; b < n * in; b += 32) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fabsf(x[b + i]) > amax ? fabsf(x[b + i]) : amax;
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const float dh = rope_f16_to_f32(rope_f32_to_f16(d));
        for (int i = 0; i < 32; i++) s->qx[b + i] = nearbyintf(x[b + i] * id) * dh;
    }
    return s->qx;
}

/* GELU, tanh approximation (HF gelu_pytorch_tanh, Gemma's hidden_activation). */
/* 0.5·x·(1 + tanh(u)) = x / (1 + e^(−2u)), one expf instead of tanhf (whose
 * expm1f made a fifth of a Gemma prompt's time); for u << 0 it also avoids
 * the cancellation in 1 + tanh(u). */
static float gelu_tanh(float x) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    const float u = k * (x + 0.044715f * x * x * x);
    return x / (1.0f + expf(-2.0f * u));
}

/* Attention block of layer l for n tokens at positions pos..: s->x += ... .
 * LLaMA: q, k rotated (k by the cache as it is written). Gemma 3: q and k
 * RMS-normalised per head then rotated, and appended, by librope's fused
 * rope_kv_cache_append_qk_norm; the output is RMS-normalised before the add. */
static rope_status attn_block(llama_session *s, int64_t l, int64_t n, const rope_positions *pos) {
    const llama_config *c = &s->m->cfg;
    const llama_layer *L = &s->m->layers[l];
    const int64_t D = c->dim, hd = c->head_dim, qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    const int set = layer_set(s, l);
    const rope_apply_params rp = session_rope(s, l);
    rope_attention_params ap;
    rope_attention_params_init(&ap);
    ap.softmax_scale = s->freqs[set].softmax_scale_factor * c->attn_scale;
    ap.sliding_window = llama_layer_sliding(c, l) ? c->sliding_window : 0;
    ap.pool = s->pool;
    rope_tensor tq, tk, tv, tatt;
    rope_tensor_contiguous(&tq, s->q, ROPE_F32, 1, n, c->n_heads, hd);
    rope_tensor_contiguous(&tatt, s->att, ROPE_F32, 1, n, c->n_heads, hd);
    rope_tensor_contiguous(&tk, s->k, ROPE_F32, 1, n, c->n_kv_heads, hd);
    rope_tensor_contiguous(&tv, s->v, ROPE_F32, 1, n, c->n_kv_heads, hd);

    rmsnorm(s->xb, s->x, L->attn_norm, n, D, c->norm_eps);
    const float *a = q8_round(s, s->xb, n, D);
    {
        const llama_mat *const W[3] = {&L->wq, &L->wk, &L->wv};
        float *const y[3] = {s->q, s->k, s->v};
        const int64_t out[3] = {qd, kvd, kvd};
        matmul_same_x(s, a, n, D, 3, W, y, out);
    }
    rope_status st;
    if (L->q_norm) {
        rope_qk_norm qn = {.q_weight = L->q_norm, .k_weight = L->k_norm, .eps = c->norm_eps,
                           .weight_plus_one = 0 /* the GGUF weights hold the 1 already */};
        st = rope_kv_cache_append_qk_norm(s->cache[l], &rp, &qn, pos, &tq, &tq, &tk, &tv);
    } else {
        st = rope_apply(&rp, pos, &tq, &tq);
        if (s->emulate_q8)
            for (int64_t i = 0; i < n * qd; i++) s->q[i] = rope_f16_to_f32(rope_f32_to_f16(s->q[i]));
        if (st == ROPE_OK) st = rope_kv_cache_append(s->cache[l], &rp, pos, &tk, &tv);
    }
    /* softmax(q·Kᵀ·scale + causal (and window) mask)·V over the cached entries;
     * q head h reads kv head h / (n_heads/n_kv_heads). */
    if (st == ROPE_OK) st = rope_attention(s->cache[l], &ap, pos, &tq, &tatt);
    if (st != ROPE_OK) return st;
    if (L->post_attn_norm) {
        matmul(s, s->xb, s->att, &L->wo, n, qd, D, 0);
        rmsnorm(s->xb, s->xb, L->post_attn_norm, n, D, c->norm_eps);
        for (int64_t i = 0; i < n * D; i++) s->x[i] += s->xb[i];
    } else {
        matmul(s, s->x, q8_round(s, s->att, n, qd), &L->wo, n, qd, D, 1); /* h += Wo·o */
    }
    return ROPE_OK;
}

/* MLP block: LLaMA SwiGLU, Gemma 3 GeGLU (gelu_tanh gate) with a post-norm. */
static void ffn_block(llama_session *s, int64_t l, int64_t n) {
    const llama_config *c = &s->m->cfg;
    const llama_layer *L = &s->m->layers[l];
    const int64_t D = c->dim, F = c->hidden_dim;
    rmsnorm(s->xb, s->x, L->ffn_norm, n, D, c->norm_eps);
    const float *a = q8_round(s, s->xb, n, D);
    {
        const llama_mat *const W[2] = {&L->w_gate, &L->w_up};
        float *const y[2] = {s->hb, s->hb2};
        const int64_t out[2] = {F, F};
        matmul_same_x(s, a, n, D, 2, W, y, out);
    }
    if (c->arch == LLAMA_ARCH_GEMMA3) {
        for (int64_t i = 0; i < n * F; i++) s->hb[i] = gelu_tanh(s->hb[i]) * s->hb2[i];
        matmul(s, s->xb, s->hb, &L->w_down, n, F, D, 0);
        rmsnorm(s->xb, s->xb, L->post_ffw_norm, n, D, c->norm_eps);
        for (int64_t i = 0; i < n * D; i++) s->x[i] += s->xb[i];
        return;
    }
    for (int64_t i = 0; i < n * F; i++) {
        const float g = s->hb[i];
        s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i]; /* SiLU(g) ⊙ u */
    }
    matmul(s, s->x, q8_round(s, s->hb, n, F), &L->w_down, n, F, D, 1); /* h += W_down·(...) */
}

int llama_forward(llama_session *s, const int32_t *tokens, int64_t n, float *logits,
                  int64_t n_logits, char *err, size_t errlen) {
    if (!s || !tokens) return fail(err, errlen, "NULL argument");
    const llama_model *m = s->m;
    const llama_config *c = &m->cfg;
    if (n < 1 || n > s->max_batch)
        return fail(err, errlen, "batch of %lld tokens (1..%lld allowed)", (long long)n,
                    (long long)s->max_batch);
    if (n_logits < 0 || n_logits > n || (n_logits > 0 && !logits))
        return fail(err, errlen, "bad logits request");
    if (s->pos + n > s->n_ctx)
        return fail(err, errlen, "context full (%lld + %lld tokens > %lld)", (long long)s->pos,
                    (long long)n, (long long)s->n_ctx);
    for (int64_t t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return fail(err, errlen, "token id %d out of range", (int)tokens[t]);

    const int64_t D = c->dim;
    int64_t len0 = 0; /* cache entries before this call (== pos unless reset_at) */
    rope_kv_cache_length(s->cache[0], 0, &len0);
    rope_positions pos = {.offset = s->pos};

    /* h = E[token] (· sqrt(dim) for Gemma) */
    for (int64_t t = 0; t < n; t++) {
        embed_row(&m->token_embd, tokens[t], D, s->x + t * D);
        if (c->embed_scale != 1.0f)
            for (int64_t i = 0; i < D; i++) s->x[t * D + i] *= c->embed_scale;
    }
    for (int64_t l = 0; l < c->n_layers; l++) {
        rope_status st = attn_block(s, l, n, &pos);
        if (st != ROPE_OK) {
            for (int64_t j = 0; j < c->n_layers; j++) rope_kv_cache_truncate(s->cache[j], 0, len0);
            return fail(err, errlen, "layer %lld attention: %s", (long long)l, rope_strerror(st));
        }
        ffn_block(s, l, n);
    }
    s->pos += n;

    if (n_logits > 0) {
        const int64_t first = n - n_logits;
        rmsnorm(s->xb, s->x + first * D, m->output_norm, n_logits, D, c->norm_eps);
        matmul(s, logits, q8_round(s, s->xb, n_logits, D), &m->output, n_logits, D, c->vocab_size, 0);
    }
    return 0;
}
