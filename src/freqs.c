/*
 * Frequencies θᵢ for every RoPE scaling type that real models use, with the
 * semantics of Hugging Face transformers v5 `modeling_rope_utils.py` (the
 * `ROPE_INIT_FUNCTIONS`); docs/hf-rope.md has the facts this follows and
 * docs/precision.md the error figures.
 *
 * Two results per frequency:
 *   inv_freq[i]     the formula evaluated in float64 (the accurate θᵢ);
 *   inv_freq_f32[i] Hugging Face's float32 recipe, step by step (every torch
 *                   float32 op is one RN32 rounding), for the compat tables.
 * The band[] and every discrete decision (yarn ramp, llama3 bands) come from the
 * float64 evaluation.
 *
 * Single-precision helpers: pow/cos are evaluated in double and rounded once
 * (a correctly rounded float32 result in all but astronomically rare cases).
 * torch's own float32 pow (Sleef, <= 1 ulp) can differ from that by 1 ulp in
 * rare entries; using double here keeps the result identical on every libm.
 */
#include <math.h>
#include <string.h>

#include "rope.h"

#define ROPE_PI 3.14159265358979323846

/* One float32 rounding (what every torch float32 op does). */
static float rn32(double x) { return (float)x; }

static float pow32(float b, float e) { return (float)pow((double)b, (double)e); }

void rope_config_init(rope_config *cfg) {
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->type = ROPE_SCALING_DEFAULT;
    cfg->rope_theta = 10000.0;          /* RotaryEmbeddingConfigMixin.default_theta */
    cfg->partial_rotary_factor = 1.0;
    cfg->attention_factor = NAN;        /* derive (yarn, longrope) */
    cfg->truncate = 1;                  /* HF: rope_parameters.get("truncate", True) */
    /* factor, max/original positions, betas, mscales, llama3 band factors:
     * 0 = unset (HF has no default; required where the type needs them). */
}

static const char *const scaling_names[ROPE_SCALING_COUNT] = {
    [ROPE_SCALING_DEFAULT] = "default", [ROPE_SCALING_LINEAR] = "linear",
    [ROPE_SCALING_DYNAMIC] = "dynamic", [ROPE_SCALING_YARN] = "yarn",
    [ROPE_SCALING_LLAMA3] = "llama3",   [ROPE_SCALING_LONGROPE] = "longrope",
    [ROPE_SCALING_PROPORTIONAL] = "proportional",
};

const char *rope_scaling_name(rope_scaling_type t) {
    if ((unsigned)t >= ROPE_SCALING_COUNT) return "unknown";
    return scaling_names[t];
}

rope_status rope_scaling_from_name(const char *name, rope_scaling_type *out) {
    if (!name || !out) return ROPE_E_NULL;
    for (int t = 0; t < ROPE_SCALING_COUNT; t++) {
        if (strcmp(name, scaling_names[t]) == 0) {
            *out = (rope_scaling_type)t;
            return ROPE_OK;
        }
    }
    /* Legacy spellings: Phi-3 "su" is longrope; Qwen2-VL "mrope" is default
     * frequencies with sections. */
    if (strcmp(name, "su") == 0) {
        *out = ROPE_SCALING_LONGROPE;
        return ROPE_OK;
    }
    if (strcmp(name, "mrope") == 0) {
        *out = ROPE_SCALING_DEFAULT;
        return ROPE_OK;
    }
    /* A real Hugging Face type this library does not implement as a text RoPE
     * (Gemma 4's vision "axial"): a valid request, not a typo. */
    if (strcmp(name, "axial") == 0) return ROPE_E_UNSUPPORTED;
    return ROPE_E_SCALING;
}

static int finite_pos(double x) { return isfinite(x) && x > 0.0; }

/* HF get_mscale(scale, mscale=1) (yarn, DeepSeek). */
static double get_mscale(double scale, double m) {
    if (scale <= 1.0) return 1.0;
    return 0.1 * m * log(scale) + 1.0;
}

/* ---------------------------------------------------------------- default */

/* θᵢ = base^(-2i/dim) in float64. */
static double theta64(double base, int64_t i, int64_t dim) {
    return pow(base, -(double)(2 * i) / (double)dim);
}

/* HF's float32 exponent: arange(0, dim, 2).float() / dim. */
static float exp32(int64_t i, int64_t dim) { return rn32((double)(float)(2 * i) / (double)(float)dim); }

/* HF default recipe: 1.0 / (base ** (arange(0,dim,2).float()/dim)), all float32. */
static float theta32(float base_f, int64_t i, int64_t dim) {
    return rn32(1.0 / (double)pow32(base_f, exp32(i, dim)));
}

/* -------------------------------------------------------- validation helpers */

/* Head and rotary dims, as HF: head_dim explicit, else hidden_size // heads;
 * rotary_dim = int(head_dim * partial_rotary_factor). */
static rope_status resolve_dims(const rope_config *c, int64_t *head_dim, int64_t *rot) {
    int64_t d = c->head_dim;
    if (d < 0) return ROPE_E_DIM;
    if (d == 0) {
        if (c->hidden_size <= 0 || c->num_attention_heads <= 0) return ROPE_E_DIM;
        d = c->hidden_size / c->num_attention_heads;
    }
    if (d == 0 || d % 2 != 0 || d > ROPE_MAX_HEAD_DIM) return ROPE_E_DIM;
    double prf = c->partial_rotary_factor;
    if (!finite_pos(prf)) return ROPE_E_PARAM;
    if (prf > 1.0) return ROPE_E_ROTARY_DIM;
    /* Python int() truncates toward zero; d * prf is evaluated in double as HF. */
    int64_t r = (int64_t)((double)d * prf);
    if (r > d) return ROPE_E_ROTARY_DIM;
    if (r < 2 || r % 2 != 0) return ROPE_E_DIM;
    *head_dim = d;
    *rot = r;
    return ROPE_OK;
}

/* original_max_position_embeddings, with HF's standardize_rope_params fallback
 * to max_position_embeddings. */
static rope_status resolve_original(const rope_config *c, double *orig) {
    if (c->original_max_position_embeddings < 0 || c->max_position_embeddings < 0)
        return ROPE_E_PARAM;
    int64_t o = c->original_max_position_embeddings;
    if (o == 0) o = c->max_position_embeddings;
    if (o <= 0) return ROPE_E_PARAM;
    *orig = (double)o;
    return ROPE_OK;
}

/* yarn/longrope `factor`: explicit (v5: wins), else max_position_embeddings / original. */
static rope_status resolve_factor_or_ratio(const rope_config *c, double orig, double *factor) {
    double f = c->factor;
    if (f == 0.0) {
        if (c->max_position_embeddings <= 0) return ROPE_E_PARAM;
        f = (double)c->max_position_embeddings / orig;
    }
    if (!finite_pos(f)) return ROPE_E_PARAM;
    *factor = f;
    return ROPE_OK;
}

/* ------------------------------------------------------------- the types */

static void fill_default(rope_freqs *o, double base, int64_t dim, double div) {
    float base_f = rn32(base);
    float div_f = rn32(div);
    for (int64_t i = 0; i < dim / 2; i++) {
        o->inv_freq[i] = theta64(base, i, dim) / div;
        float t = theta32(base_f, i, dim);
        /* linear: `inv_freq /= factor`, a float32 divide (skipped when div is 1). */
        o->inv_freq_f32[i] = div == 1.0 ? t : rn32((double)t / (double)div_f);
        o->band[i] = div == 1.0 ? ROPE_BAND_UNSCALED : ROPE_BAND_SCALED;
    }
}

/*
 * Dynamic NTK (HF _compute_dynamic_ntk_parameters):
 *   L = max(seq_len, max_position_embeddings)   (seq_len None -> max_pos)
 *   base' = base * (factor*L/max_pos - (factor-1)) ** (dim/(dim-2))
 * Since L >= max_pos and factor > 0 the inner term is >= 1: never NaN, and
 * base' == base at or below the trained length.
 * f32 recipe: at or below max_pos HF uses the value from __init__ (Python
 * float64 base', then float32 pow); above it the forward path evaluates base'
 * in float32 tensor arithmetic (seq_len is an int64 tensor there).
 */
static rope_status fill_dynamic(rope_freqs *o, const rope_config *c, int64_t dim, int64_t seq_len) {
    double factor = c->factor;
    if (!finite_pos(factor)) return ROPE_E_PARAM;
    if (c->max_position_embeddings <= 0) return ROPE_E_PARAM;
    if (dim <= 2) return ROPE_E_DIM; /* exponent dim/(dim-2) undefined */
    double maxp = (double)c->max_position_embeddings;
    int64_t L = seq_len > c->max_position_embeddings ? seq_len : c->max_position_embeddings;
    double ex = (double)dim / (double)(dim - 2);
    /* float64: 1 + factor*(L - maxp)/maxp, exact 1 at L == maxp. */
    double base64 = c->rope_theta * pow(1.0 + factor * (double)(L - c->max_position_embeddings) / maxp, ex);
    if (!isfinite(base64) || base64 <= 1.0) return ROPE_E_PARAM;
    float base_f;
    if (L <= c->max_position_embeddings) {
        double b = c->rope_theta * pow((factor * maxp / maxp) - (factor - 1.0), ex);
        base_f = rn32(b);
    } else {
        float t = rn32((double)rn32(factor) * (double)(float)L);
        t = rn32((double)t / (double)(float)maxp);
        t = rn32((double)t - (double)rn32(factor - 1.0));
        /* tensor ** Python float: torch keeps the scalar exponent in double
         * (measured: RN32(7^(128/126)), not RN32(7^RN32(128/126))) */
        t = rn32(pow((double)t, ex));
        base_f = rn32((double)rn32(c->rope_theta) * (double)t);
    }
    if (!isfinite(base_f)) return ROPE_E_PARAM;
    for (int64_t i = 0; i < dim / 2; i++) {
        o->inv_freq[i] = theta64(base64, i, dim);
        o->inv_freq_f32[i] = theta32(base_f, i, dim);
        /* Every frequency is rescaled once the base grows; none below max_pos. */
        o->band[i] = L > c->max_position_embeddings ? ROPE_BAND_SCALED : ROPE_BAND_UNSCALED;
    }
    return ROPE_OK;
}

/*
 * YaRN (HF _compute_yarn_parameters, v5 semantics: explicit factor wins;
 * beta_fast/beta_slow use Python `or` defaults 32/1; truncate floors/ceils the
 * correction range; the upper bound clamps to dim-1 (not dim/2-1); low == high
 * is widened by 0.001 to avoid the singularity).
 * attention_factor: explicit, else get_mscale(f, mscale)/get_mscale(f, mscale_all_dim)
 * when both are set (non-zero), else get_mscale(f) (an mscale alone is ignored).
 */
static rope_status fill_yarn(rope_freqs *o, const rope_config *c, int64_t dim) {
    double orig, factor;
    rope_status st = resolve_original(c, &orig);
    if (st != ROPE_OK) return st;
    st = resolve_factor_or_ratio(c, orig, &factor);
    if (st != ROPE_OK) return st;
    double bf = c->beta_fast, bs = c->beta_slow;
    if (!isfinite(bf) || !isfinite(bs) || bf < 0.0 || bs < 0.0) return ROPE_E_PARAM;
    if (bf == 0.0) bf = 32.0;
    if (bs == 0.0) bs = 1.0;
    if (bf < bs) return ROPE_E_PARAM; /* HF warns: beta_fast must be >= beta_slow */
    double ms = c->mscale, msa = c->mscale_all_dim;
    if (!isfinite(ms) || !isfinite(msa) || ms < 0.0 || msa < 0.0) return ROPE_E_PARAM;
    double af = c->attention_factor;
    if (isnan(af)) {
        if (ms != 0.0 && msa != 0.0)
            af = get_mscale(factor, ms) / get_mscale(factor, msa);
        else
            af = get_mscale(factor, 1.0);
    } else if (!finite_pos(af)) {
        return ROPE_E_PARAM;
    }

    /* Correction range, in Python float64 (find_correction_dim/range). */
    double base = c->rope_theta;
    double low = (double)dim * log(orig / (bf * 2.0 * ROPE_PI)) / (2.0 * log(base));
    double high = (double)dim * log(orig / (bs * 2.0 * ROPE_PI)) / (2.0 * log(base));
    if (c->truncate) {
        low = floor(low);
        high = ceil(high);
    }
    if (low < 0.0) low = 0.0;
    if (high > (double)(dim - 1)) high = (double)(dim - 1);
    if (low == high) high += 0.001;
    double span = high - low;

    float base_f = rn32(base), factor_f = rn32(factor);
    float low_f = rn32(low), span_f = rn32(span);
    for (int64_t i = 0; i < dim / 2; i++) {
        /* float64: inv = interp*ramp + extrap*(1-ramp) (HF: e = 1 - ramp). */
        double ramp = ((double)i - low) / span;
        if (ramp < 0.0) ramp = 0.0;
        if (ramp > 1.0) ramp = 1.0;
        double extrap = theta64(base, i, dim);
        double interp = extrap / factor;
        o->inv_freq[i] = interp * ramp + extrap * (1.0 - ramp);
        o->band[i] = ramp <= 0.0 ? ROPE_BAND_UNSCALED
                   : ramp >= 1.0 ? ROPE_BAND_SCALED : ROPE_BAND_BLEND;

        /* float32, op by op as HF. */
        float pos = pow32(base_f, exp32(i, dim));
        float ex = rn32(1.0 / (double)pos);
        float in = rn32(1.0 / (double)rn32((double)factor_f * (double)pos));
        float r = rn32((double)rn32((double)(float)i - (double)low_f) / (double)span_f);
        if (r < 0.0f) r = 0.0f;
        if (r > 1.0f) r = 1.0f;
        float e = rn32(1.0 - (double)r);
        float one_m_e = rn32(1.0 - (double)e);
        o->inv_freq_f32[i] = rn32((double)rn32((double)in * (double)one_m_e) +
                                  (double)rn32((double)ex * (double)e));
    }
    o->attention_factor = af;
    /* DeepSeek V2/V3 (yarn_apply_mscale): softmax scale *= get_mscale(f, mscale_all_dim)^2. */
    if (msa != 0.0) {
        double m = get_mscale(factor, msa);
        o->softmax_scale_factor = m * m;
    }
    return ROPE_OK;
}

/*
 * Llama 3.1 (HF _compute_llama3_parameters): wavelength bands of the default
 * frequencies. wavelen < original/high_ff: unchanged; wavelen > original/low_ff:
 * divided by factor; in between (both bounds inclusive) a smooth blend.
 * low_ff == high_ff (Llama 4) makes HF compute 0/0 in the blend and discard it
 * by `where`; here the blend is only evaluated when the band is non-empty, so
 * no NaN can appear (a wavelength exactly on the single boundary stays unscaled).
 */
static rope_status fill_llama3(rope_freqs *o, const rope_config *c, int64_t dim) {
    double factor = c->factor, lo = c->low_freq_factor, hi = c->high_freq_factor;
    if (!finite_pos(factor) || !finite_pos(lo) || !finite_pos(hi)) return ROPE_E_PARAM;
    if (hi < lo) return ROPE_E_PARAM; /* HF warns: high_freq_factor must exceed low_freq_factor */
    double orig;
    rope_status st = resolve_original(c, &orig);
    if (st != ROPE_OK) return st;
    double lw = orig / lo, hw = orig / hi;
    int blend = hi > lo;

    float base_f = rn32(c->rope_theta), factor_f = rn32(factor);
    float lw_f = rn32(lw), hw_f = rn32(hw), two_pi_f = rn32(2.0 * ROPE_PI);
    float orig_f = rn32(orig), lo_f = rn32(lo), d_f = rn32(hi - lo);
    for (int64_t i = 0; i < dim / 2; i++) {
        double inv = theta64(c->rope_theta, i, dim);
        double wl = 2.0 * ROPE_PI / inv;
        if (wl < hw) {
            o->inv_freq[i] = inv;
            o->band[i] = ROPE_BAND_UNSCALED;
        } else if (wl > lw) {
            o->inv_freq[i] = inv / factor;
            o->band[i] = ROPE_BAND_SCALED;
        } else if (blend) {
            double s = (orig / wl - lo) / (hi - lo);
            o->inv_freq[i] = (1.0 - s) * inv / factor + s * inv;
            o->band[i] = ROPE_BAND_BLEND;
        } else {
            o->inv_freq[i] = inv;
            o->band[i] = ROPE_BAND_UNSCALED;
        }

        float inv_f = theta32(base_f, i, dim);
        float wl_f = rn32((double)two_pi_f / (double)inv_f);
        float x = wl_f > lw_f ? rn32((double)inv_f / (double)factor_f) : inv_f;
        int medium = !(wl_f < hw_f) && !(wl_f > lw_f);
        if (medium && blend) {
            float s = rn32((double)rn32((double)rn32((double)orig_f / (double)wl_f) - (double)lo_f) /
                           (double)d_f);
            float a = rn32((double)rn32((double)rn32(1.0 - (double)s) * (double)x) / (double)factor_f);
            x = rn32((double)a + (double)rn32((double)s * (double)x));
        }
        o->inv_freq_f32[i] = x;
    }
    return ROPE_OK;
}

/*
 * LongRoPE / Phi-3 (HF _compute_longrope_parameters): long_factor iff
 * seq_len > original_max_position_embeddings (seq_len 0 = init = short), then
 * inv = 1 / (ext_i * base^(2i/dim)). attention_factor: explicit, else
 * sqrt(1 + ln(factor)/ln(original)) for factor > 1, else 1; it does not depend
 * on the short/long switch.
 */
static rope_status fill_longrope(rope_freqs *o, const rope_config *c, int64_t dim, int64_t seq_len) {
    double orig, factor;
    rope_status st = resolve_original(c, &orig);
    if (st != ROPE_OK) return st;
    st = resolve_factor_or_ratio(c, orig, &factor);
    if (st != ROPE_OK) return st;
    if (!c->short_factor || !c->long_factor) return ROPE_E_NULL;
    if (c->n_short_factor != dim / 2 || c->n_long_factor != dim / 2) return ROPE_E_PARAM;
    for (int64_t i = 0; i < dim / 2; i++)
        if (!finite_pos(c->short_factor[i]) || !finite_pos(c->long_factor[i])) return ROPE_E_PARAM;
    double af = c->attention_factor;
    if (isnan(af)) {
        if (factor <= 1.0) {
            af = 1.0;
        } else {
            if (orig <= 1.0) return ROPE_E_PARAM; /* ln(original) = 0 */
            af = sqrt(1.0 + log(factor) / log(orig));
        }
    } else if (!finite_pos(af)) {
        return ROPE_E_PARAM;
    }
    /* Both lists are part of the config: each must give valid frequencies in
     * both precisions whichever one seq_len picks (a long_factor that
     * overflows float32 is a bad config even while the short one is in use). */
    int use_long = seq_len > 0 && (double)seq_len > orig;
    float base_f = rn32(c->rope_theta);
    for (int list = 0; list < 2; list++) {
        const double *ext = list ? c->long_factor : c->short_factor;
        for (int64_t i = 0; i < dim / 2; i++) {
            double inv = theta64(c->rope_theta, i, dim) / ext[i];
            float p = pow32(base_f, exp32(i, dim));
            float inv_f = rn32(1.0 / (double)rn32((double)rn32(ext[i]) * (double)p));
            if (!(inv > 0.0) || !isfinite(inv) || !(inv_f > 0.0f) || !isfinite(inv_f)) return ROPE_E_PARAM;
            if (list != use_long) continue;
            o->inv_freq[i] = inv;
            o->inv_freq_f32[i] = inv_f;
            o->band[i] = ROPE_BAND_SCALED;
        }
    }
    o->attention_factor = af;
    return ROPE_OK;
}

/*
 * Proportional (Gemma 4 full attention, HF _compute_proportional_rope_parameters):
 * n = int(partial_rotary_factor·D // 2) live frequencies θᵢ = base^(-2i/D) with the
 * exponent over the FULL head_dim D, then D/2 - n zeros (cos 1, sin 0: identity
 * pairs), all divided by factor (default 1). The rotation spans the whole head.
 */
static rope_status fill_proportional(rope_freqs *o, const rope_config *c, int64_t head_dim) {
    double factor = c->factor == 0.0 ? 1.0 : c->factor;
    if (!finite_pos(factor)) return ROPE_E_PARAM;
    double live = floor(c->partial_rotary_factor * (double)head_dim / 2.0);
    int64_t n = (int64_t)live;
    if (n < 0 || n > head_dim / 2) return ROPE_E_ROTARY_DIM;
    float base_f = rn32(c->rope_theta), factor_f = rn32(factor);
    for (int64_t i = 0; i < head_dim / 2; i++) {
        double t = i < n ? theta64(c->rope_theta, i, head_dim) : 0.0;
        float t32 = i < n ? theta32(base_f, i, head_dim) : 0.0f;
        o->inv_freq[i] = t / factor;
        o->inv_freq_f32[i] = rn32((double)t32 / (double)factor_f); /* `inv_freq /= factor` */
        o->band[i] = factor == 1.0 ? ROPE_BAND_UNSCALED : ROPE_BAND_SCALED;
    }
    return ROPE_OK;
}

/* Per-frequency divisors (GGUF rope_freqs.weight): θᵢ /= d[i] after the type's
 * formula (float32 divide in the compat recipe). A divisor of 1e30 or more marks
 * an identity pair (llama.cpp's convention): θᵢ is then exactly 0. */
#define ROPE_DIVISOR_IDENTITY 1e30
static rope_status apply_divisor(rope_freqs *o, const rope_config *c) {
    if (!c->freq_divisor) return c->n_freq_divisor == 0 ? ROPE_OK : ROPE_E_NULL;
    if (c->n_freq_divisor != o->n_freqs) return ROPE_E_PARAM;
    for (int64_t i = 0; i < o->n_freqs; i++)
        if (!finite_pos(c->freq_divisor[i])) return ROPE_E_PARAM;
    for (int64_t i = 0; i < o->n_freqs; i++) {
        double d = c->freq_divisor[i];
        if (d >= ROPE_DIVISOR_IDENTITY) {
            o->inv_freq[i] = 0.0;
            o->inv_freq_f32[i] = 0.0f;
        } else {
            o->inv_freq[i] /= d;
            o->inv_freq_f32[i] = rn32((double)o->inv_freq_f32[i] / (double)rn32(d));
        }
        if (d != 1.0) o->band[i] = ROPE_BAND_SCALED;
    }
    return ROPE_OK;
}

/* M-RoPE planes: 1..ROPE_MAX_MROPE_PLANES sections tiling the R/2 frequencies. */
static rope_status check_mrope(const rope_config *cfg, int64_t n_freqs) {
    if (cfg->n_mrope_section < 0 || cfg->n_mrope_section > ROPE_MAX_MROPE_PLANES) return ROPE_E_PARAM;
    if (cfg->mrope_interleaved != 0 && cfg->mrope_interleaved != 1) return ROPE_E_PARAM;
    if (cfg->mrope_interleaved && cfg->n_mrope_section == 0) return ROPE_E_PARAM;
    int64_t msum = 0;
    for (int p = 0; p < cfg->n_mrope_section; p++) {
        if (cfg->mrope_section[p] < 0 || cfg->mrope_section[p] > ROPE_MAX_FREQS) return ROPE_E_PARAM;
        msum += cfg->mrope_section[p];
    }
    if (cfg->n_mrope_section > 0 && msum != n_freqs) return ROPE_E_PARAM;
    return ROPE_OK;
}

rope_status rope_freqs_compute(const rope_config *cfg, int64_t seq_len, rope_freqs *out) {
    if (!cfg || !out) return ROPE_E_NULL;
    if ((unsigned)cfg->type >= ROPE_SCALING_COUNT) return ROPE_E_SCALING;
    if (seq_len < 0) return ROPE_E_PARAM;
    int64_t head_dim = 0, rot = 0;
    rope_status st;
    if (cfg->type == ROPE_SCALING_PROPORTIONAL) {
        /* Rotates the whole head; its partial factor only counts live frequencies
         * (0 is legal: every pair an identity). */
        if (!(isfinite(cfg->partial_rotary_factor) && cfg->partial_rotary_factor >= 0.0))
            return ROPE_E_PARAM;
        if (cfg->partial_rotary_factor > 1.0) return ROPE_E_ROTARY_DIM;
        rope_config whole = *cfg;
        whole.partial_rotary_factor = 1.0;
        st = resolve_dims(&whole, &head_dim, &rot);
    } else {
        st = resolve_dims(cfg, &head_dim, &rot);
    }
    if (st != ROPE_OK) return st;
    /* theta <= 1 gives non-decaying or growing "frequencies" (and ln(base) <= 0 in yarn). */
    if (!isfinite(cfg->rope_theta) || cfg->rope_theta <= 1.0) return ROPE_E_PARAM;

    /* M-RoPE sections (Qwen2-VL mrope_section): t, h, w ranges of frequency
     * indices; they must tile the R/2 frequencies. */
    st = check_mrope(cfg, rot / 2);
    if (st != ROPE_OK) return st;

    /* Work on a private copy: *out is untouched on every error path. */
    rope_freqs f;
    memset(&f, 0, sizeof f);
    f.type = cfg->type;
    f.head_dim = head_dim;
    f.rotary_dim = rot;
    f.n_freqs = rot / 2;
    f.attention_factor = 1.0;
    f.softmax_scale_factor = 1.0;
    f.n_mrope_section = cfg->n_mrope_section;
    f.mrope_interleaved = cfg->mrope_interleaved;
    for (int p = 0; p < cfg->n_mrope_section; p++) f.mrope_section[p] = cfg->mrope_section[p];

    switch (cfg->type) {
    case ROPE_SCALING_DEFAULT:
        fill_default(&f, cfg->rope_theta, rot, 1.0);
        st = ROPE_OK;
        break;
    case ROPE_SCALING_LINEAR:
        if (!finite_pos(cfg->factor)) return ROPE_E_PARAM;
        fill_default(&f, cfg->rope_theta, rot, cfg->factor);
        st = ROPE_OK;
        break;
    case ROPE_SCALING_DYNAMIC: st = fill_dynamic(&f, cfg, rot, seq_len); break;
    case ROPE_SCALING_YARN: st = fill_yarn(&f, cfg, rot); break;
    case ROPE_SCALING_LLAMA3: st = fill_llama3(&f, cfg, rot); break;
    case ROPE_SCALING_LONGROPE: st = fill_longrope(&f, cfg, rot, seq_len); break;
    case ROPE_SCALING_PROPORTIONAL: st = fill_proportional(&f, cfg, head_dim); break;
    default: return ROPE_E_SCALING;
    }
    if (st != ROPE_OK) return st;
    st = apply_divisor(&f, cfg);
    if (st != ROPE_OK) return st;
    /* Zero is legal only where asked for: proportional's padding and identity divisors. */
    int zero_ok = cfg->type == ROPE_SCALING_PROPORTIONAL || cfg->freq_divisor != NULL;
    for (int64_t i = 0; i < f.n_freqs; i++) {
        int z = zero_ok && f.inv_freq[i] == 0.0 && f.inv_freq_f32[i] == 0.0f;
        if (!z && (!(f.inv_freq[i] > 0.0) || !isfinite(f.inv_freq[i]) || !(f.inv_freq_f32[i] > 0.0f) ||
                   !isfinite(f.inv_freq_f32[i])))
            return ROPE_E_PARAM;
    }
    *out = f;
    return ROPE_OK;
}
