/*
 * rope_freqs_compute against known values of real configs (figures from
 * docs/hf-rope.md, measured on Hugging Face transformers)
 * and every bad input we can think of (each must fail with the right status and
 * leave *out untouched).
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rope.h"

static const double PI = 3.14159265358979323846;

static void count_bands(const rope_freqs *f, int counts[3]) {
    counts[0] = counts[1] = counts[2] = 0;
    for (int64_t i = 0; i < f->n_freqs; i++) counts[f->band[i]]++;
}

static int all_finite_positive(const rope_freqs *f) {
    for (int64_t i = 0; i < f->n_freqs; i++)
        if (!(f->inv_freq[i] > 0) || !isfinite(f->inv_freq[i]) || !(f->inv_freq_f32[i] > 0) ||
            !isfinite(f->inv_freq_f32[i]))
            return 0;
    return 1;
}

/* |a - b| <= ulps float32 ulps of b. */
static int near_f32(float a, double b, double ulps) {
    int e;
    frexp(b, &e);
    double ulp = ldexp(1.0, e - 24);
    return fabs((double)a - b) <= ulps * ulp;
}

static void test_names(void) {
    rope_scaling_type t;
    for (int i = 0; i < ROPE_SCALING_COUNT; i++) {
        CHECK_OK(rope_scaling_from_name(rope_scaling_name((rope_scaling_type)i), &t));
        CHECK_EQ_INT(t, i);
    }
    CHECK(strcmp(rope_scaling_name(ROPE_SCALING_LLAMA3), "llama3") == 0);
    CHECK(strcmp(rope_scaling_name((rope_scaling_type)99), "unknown") == 0);
    CHECK_OK(rope_scaling_from_name("su", &t));
    CHECK_EQ_INT(t, ROPE_SCALING_LONGROPE);
    CHECK_OK(rope_scaling_from_name("mrope", &t));
    CHECK_EQ_INT(t, ROPE_SCALING_DEFAULT);
    CHECK_STATUS(rope_scaling_from_name("axial", &t), ROPE_E_UNSUPPORTED);
    CHECK_OK(rope_scaling_from_name("proportional", &t));
    CHECK_EQ_INT(t, ROPE_SCALING_PROPORTIONAL);
    CHECK_STATUS(rope_scaling_from_name("Yarn", &t), ROPE_E_SCALING);
    CHECK_STATUS(rope_scaling_from_name("", &t), ROPE_E_SCALING);
    CHECK_STATUS(rope_scaling_from_name(NULL, &t), ROPE_E_NULL);
    CHECK_STATUS(rope_scaling_from_name("yarn", NULL), ROPE_E_NULL);
}

static void test_init_defaults(void) {
    rope_config c;
    memset(&c, 0x5a, sizeof c);
    rope_config_init(&c);
    CHECK_EQ_INT(c.type, ROPE_SCALING_DEFAULT);
    CHECK(c.rope_theta == 10000.0);
    CHECK(c.partial_rotary_factor == 1.0);
    CHECK(isnan(c.attention_factor));
    CHECK(c.truncate == 1);
    CHECK(c.factor == 0.0 && c.beta_fast == 0.0 && c.mscale == 0.0);
    CHECK(c.short_factor == NULL && c.n_mrope_section == 0);
    rope_config_init(NULL); /* must not crash */
}

static void test_default(void) {
    rope_config c;
    rope_freqs f;
    rope_config_init(&c);
    c.hidden_size = 4096; /* Llama-2-7B: head_dim = 4096 / 32 */
    c.num_attention_heads = 32;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_EQ_INT(f.head_dim, 128);
    CHECK_EQ_INT(f.rotary_dim, 128);
    CHECK_EQ_INT(f.n_freqs, 64);
    CHECK(f.attention_factor == 1.0 && f.softmax_scale_factor == 1.0);
    double maxrel = 0;
    int bad32 = 0;
    for (int i = 0; i < 64; i++) {
        double want = pow(10000.0, -(double)(2 * i) / 128.0);
        double rel = fabs(f.inv_freq[i] - want) / want;
        if (rel > maxrel) maxrel = rel;
        /* d = 128: 2i/d is exact in float32, so HF's recipe is within ~1 ulp */
        if (!near_f32(f.inv_freq_f32[i], want, 2.0)) bad32++;
        CHECK(f.band[i] == ROPE_BAND_UNSCALED);
    }
    CHECK_MSG(maxrel <= 2.3e-16, "max rel %g", maxrel);
    CHECK_EQ_INT(bad32, 0);
    CHECK(f.inv_freq[0] == 1.0 && f.inv_freq_f32[0] == 1.0f);

    /* explicit head_dim wins over hidden/heads */
    c.head_dim = 64;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_EQ_INT(f.n_freqs, 32);

    /* Qwen2.5-7B: 3584 / 28 = 128 */
    rope_config_init(&c);
    c.hidden_size = 3584;
    c.num_attention_heads = 28;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_EQ_INT(f.head_dim, 128);

    /* GPT-NeoX-20B: head 96, rotary_pct 0.25 -> 24 rotated dims, θ over 24 */
    rope_config_init(&c);
    c.head_dim = 96;
    c.partial_rotary_factor = 0.25;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_EQ_INT(f.rotary_dim, 24);
    CHECK_EQ_INT(f.n_freqs, 12);
    CHECK_NEAR(f.inv_freq[5], pow(10000.0, -10.0 / 24.0), 1e-17);
    /* Phi-2 style: head 80, partial 0.4 -> int(80 * 0.4) = 32 */
    c.head_dim = 80;
    c.partial_rotary_factor = 0.4;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_EQ_INT(f.rotary_dim, 32);
}

static void test_linear(void) {
    rope_config c;
    rope_freqs f, d;
    rope_config_init(&c);
    c.head_dim = 128;
    CHECK_OK(rope_freqs_compute(&c, 0, &d));
    c.type = ROPE_SCALING_LINEAR;
    c.factor = 8.0;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    for (int i = 0; i < 64; i++) {
        CHECK(f.inv_freq[i] == d.inv_freq[i] / 8.0);
        CHECK(f.inv_freq_f32[i] == d.inv_freq_f32[i] / 8.0f); /* power of two: exact */
        CHECK(f.band[i] == ROPE_BAND_SCALED);
    }
    CHECK(f.attention_factor == 1.0);
}

static void test_dynamic(void) {
    rope_config c;
    rope_freqs f, d, g;
    rope_config_init(&c);
    c.head_dim = 128;
    CHECK_OK(rope_freqs_compute(&c, 0, &d));
    c.type = ROPE_SCALING_DYNAMIC;
    c.factor = 2.0;
    c.max_position_embeddings = 4096;
    /* at and below the trained length: the trained frequencies, no NaN */
    const int64_t short_lens[] = {0, 1, 100, 4095, 4096};
    for (int k = 0; k < 5; k++) {
        CHECK_OK(rope_freqs_compute(&c, short_lens[k], &f));
        CHECK(all_finite_positive(&f));
        CHECK(memcmp(f.inv_freq, d.inv_freq, sizeof(double) * 64) == 0);
        CHECK(memcmp(f.inv_freq_f32, d.inv_freq_f32, sizeof(float) * 64) == 0);
        CHECK(f.band[10] == ROPE_BAND_UNSCALED);
    }
    /* d=128, s=2, L0=4096, L=8192: base' = 1e4 * 3^(128/126) = 30527.74 */
    CHECK_OK(rope_freqs_compute(&c, 8192, &f));
    double base = pow(f.inv_freq[1], -64.0);
    CHECK_NEAR(base, 30527.74, 0.01);
    CHECK_NEAR(base, 10000.0 * pow(3.0, 128.0 / 126.0), 1e-7);
    CHECK(near_f32(f.inv_freq_f32[40], f.inv_freq[40], 4.0));
    CHECK(f.band[10] == ROPE_BAND_SCALED);
    CHECK(f.inv_freq[0] == 1.0);
    /* the base only grows with the length */
    CHECK_OK(rope_freqs_compute(&c, 16384, &g));
    for (int i = 1; i < 64; i++) CHECK(g.inv_freq[i] < f.inv_freq[i] && f.inv_freq[i] < d.inv_freq[i]);
    /* factor below 1 (allowed, HF only warns) still no NaN below max_pos */
    c.factor = 0.5;
    CHECK_OK(rope_freqs_compute(&c, 10, &f));
    CHECK(all_finite_positive(&f));
}

static void yarn_qwen(rope_config *c) {
    rope_config_init(c);
    c->type = ROPE_SCALING_YARN;
    c->rope_theta = 1e6;
    c->head_dim = 128;
    c->factor = 4.0;
    c->original_max_position_embeddings = 32768;
    c->max_position_embeddings = 32768;
}

static void yarn_deepseek(rope_config *c) {
    rope_config_init(c);
    c->type = ROPE_SCALING_YARN;
    c->rope_theta = 10000.0;
    c->head_dim = 64; /* qk_rope_head_dim */
    c->factor = 40.0;
    c->original_max_position_embeddings = 4096;
    c->max_position_embeddings = 163840;
    c->beta_fast = 32;
    c->beta_slow = 1;
    c->mscale = 0.707;
    c->mscale_all_dim = 0.707;
}

static void test_yarn(void) {
    rope_config c;
    rope_freqs f, g;
    int n[3];

    /* Qwen2.5-7B, factor 4: correction range (23, 40) -> ramp 0 for i <= 23,
     * 1 for i >= 40; mscale 0.1 ln 4 + 1 multiplies cos and sin. */
    yarn_qwen(&c);
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    count_bands(&f, n);
    CHECK_EQ_INT(n[ROPE_BAND_UNSCALED], 24);
    CHECK_EQ_INT(n[ROPE_BAND_BLEND], 16);
    CHECK_EQ_INT(n[ROPE_BAND_SCALED], 24);
    CHECK(f.band[23] == ROPE_BAND_UNSCALED && f.band[24] == ROPE_BAND_BLEND &&
          f.band[39] == ROPE_BAND_BLEND && f.band[40] == ROPE_BAND_SCALED);
    CHECK_NEAR(f.attention_factor, 1.1386294361119890, 1e-15);
    CHECK(f.softmax_scale_factor == 1.0);
    {
        double ex = pow(1e6, -60.0 / 128.0), r = 7.0 / 17.0;
        CHECK_NEAR(f.inv_freq[30] / (ex / 4.0 * r + ex * (1.0 - r)), 1.0, 1e-15);
        CHECK_NEAR(f.inv_freq[50] / (pow(1e6, -100.0 / 128.0) / 4.0), 1.0, 1e-15);
        CHECK(near_f32(f.inv_freq_f32[30], f.inv_freq[30], 4.0));
    }
    /* beta 0 means the defaults 32 and 1 (HF uses `or`) */
    c.beta_fast = 32;
    c.beta_slow = 1;
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    CHECK(memcmp(f.inv_freq, g.inv_freq, sizeof f.inv_freq) == 0);
    /* factor unset: max_position_embeddings / original */
    yarn_qwen(&c);
    c.factor = 0;
    c.max_position_embeddings = 131072;
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    CHECK(memcmp(f.inv_freq, g.inv_freq, sizeof f.inv_freq) == 0);
    CHECK(g.attention_factor == f.attention_factor);
    /* explicit attention_factor wins */
    yarn_qwen(&c);
    c.attention_factor = 0.5;
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    CHECK(g.attention_factor == 0.5);
    /* seq_len does not matter for yarn */
    yarn_qwen(&c);
    CHECK_OK(rope_freqs_compute(&c, 1 << 20, &g));
    CHECK(memcmp(f.inv_freq, g.inv_freq, sizeof f.inv_freq) == 0);

    /* DeepSeek-V2-Lite: (10, 23), mscale == mscale_all_dim -> attention factor
     * exactly 1, softmax scale 192^-0.5 * (0.1*0.707*ln 40 + 1)^2 = 0.1147213867929261 */
    yarn_deepseek(&c);
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    count_bands(&f, n);
    CHECK_EQ_INT(n[ROPE_BAND_UNSCALED], 11);
    CHECK_EQ_INT(n[ROPE_BAND_BLEND], 12);
    CHECK_EQ_INT(n[ROPE_BAND_SCALED], 9);
    CHECK(f.attention_factor == 1.0);
    CHECK_NEAR(f.softmax_scale_factor / sqrt(192.0), 0.1147213867929261, 1e-15);
    CHECK_NEAR(f.softmax_scale_factor, pow(0.1 * 0.707 * log(40.0) + 1.0, 2.0), 1e-14);
    /* only mscale given: ignored, attention factor = get_mscale(40) */
    c.mscale_all_dim = 0;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_NEAR(f.attention_factor, 0.1 * log(40.0) + 1.0, 1e-15);
    CHECK(f.softmax_scale_factor == 1.0);

    /* GPT-OSS: truncate false keeps the fractional range (8.0928, 17.3980),
     * attention factor 0.1 ln 32 + 1 = 1.3465735902799727 */
    rope_config_init(&c);
    c.type = ROPE_SCALING_YARN;
    c.rope_theta = 150000;
    c.head_dim = 64;
    c.factor = 32;
    c.original_max_position_embeddings = 4096;
    c.truncate = 0;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    count_bands(&f, n);
    CHECK_EQ_INT(n[ROPE_BAND_UNSCALED], 9);
    CHECK_EQ_INT(n[ROPE_BAND_BLEND], 9);
    CHECK_EQ_INT(n[ROPE_BAND_SCALED], 14);
    CHECK_NEAR(f.attention_factor, 1.3465735902799727, 1e-15);
    {
        double low = 64 * log(4096 / (32 * 2 * PI)) / (2 * log(150000.0));
        double high = 64 * log(4096 / (1 * 2 * PI)) / (2 * log(150000.0));
        CHECK_NEAR(low, 8.0928, 1e-4);
        CHECK_NEAR(high, 17.3980, 1e-4);
        double r = (12.0 - low) / (high - low), ex = pow(150000.0, -24.0 / 64.0);
        CHECK_NEAR(f.inv_freq[12] / (ex / 32 * r + ex * (1 - r)), 1.0, 1e-14);
    }

    /* low == high (beta_fast == beta_slow, no truncation): widened by 0.001, no NaN */
    c.beta_fast = c.beta_slow = 4;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(all_finite_positive(&f));
    count_bands(&f, n);
    CHECK(n[ROPE_BAND_BLEND] <= 1);
    /* upper clamp is dim-1 (63), not dim/2-1 (31): with original 626000 the
     * range is about (27, 41) and frequency 31 is still in the ramp */
    rope_config_init(&c);
    c.type = ROPE_SCALING_YARN;
    c.head_dim = 64;
    c.factor = 4;
    c.original_max_position_embeddings = 626000;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    {
        double low = floor(64 * log(626000 / (32 * 2 * PI)) / (2 * log(1e4)));
        double high = ceil(64 * log(626000 / (1 * 2 * PI)) / (2 * log(1e4)));
        CHECK(low < 31 && high > 31 && high < 63);
        CHECK(f.band[31] == ROPE_BAND_BLEND);
        double r = (31 - low) / (high - low), ex = pow(1e4, -62.0 / 64.0);
        CHECK_NEAR(f.inv_freq[31] / (ex / 4 * r + ex * (1 - r)), 1.0, 1e-14);
    }
    /* and clamped at 63 when the raw bound is larger: nothing reaches ramp 1 */
    c.original_max_position_embeddings = 1000000000;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    count_bands(&f, n);
    CHECK_EQ_INT(n[ROPE_BAND_SCALED], 0);
    CHECK(all_finite_positive(&f));
}

static void llama3_cfg(rope_config *c, int64_t head_dim, double factor) {
    rope_config_init(c);
    c->type = ROPE_SCALING_LLAMA3;
    c->rope_theta = 500000.0;
    c->head_dim = head_dim;
    c->factor = factor;
    c->low_freq_factor = 1;
    c->high_freq_factor = 4;
    c->original_max_position_embeddings = 8192;
    c->max_position_embeddings = 131072;
}

static void test_llama3(void) {
    rope_config c;
    rope_freqs f;
    int n[3];
    llama3_cfg(&c, 128, 8); /* Llama-3.1-8B */
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    count_bands(&f, n);
    CHECK_EQ_INT(n[ROPE_BAND_UNSCALED], 29);
    CHECK_EQ_INT(n[ROPE_BAND_BLEND], 6);
    CHECK_EQ_INT(n[ROPE_BAND_SCALED], 29);
    for (int i = 0; i < 64; i++) {
        double inv = pow(500000.0, -(2.0 * i) / 128), wl = 2 * PI / inv, want;
        if (wl < 2048) want = inv;
        else if (wl > 8192) want = inv / 8;
        else {
            double s = (8192 / wl - 1) / 3;
            want = (1 - s) * inv / 8 + s * inv;
        }
        CHECK_NEAR(f.inv_freq[i] / want, 1.0, 1e-15);
        CHECK(near_f32(f.inv_freq_f32[i], want, 4.0));
    }
    CHECK(f.attention_factor == 1.0);

    llama3_cfg(&c, 64, 32); /* Llama-3.2-1B */
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    count_bands(&f, n);
    CHECK_EQ_INT(n[ROPE_BAND_UNSCALED], 15);
    CHECK_EQ_INT(n[ROPE_BAND_BLEND], 3);
    CHECK_EQ_INT(n[ROPE_BAND_SCALED], 14);

    /* Llama 4 Scout: low == high == 1: no blend band, and never NaN */
    llama3_cfg(&c, 128, 16);
    c.high_freq_factor = 1;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(all_finite_positive(&f));
    count_bands(&f, n);
    CHECK_EQ_INT(n[ROPE_BAND_UNSCALED], 35);
    CHECK_EQ_INT(n[ROPE_BAND_BLEND], 0);
    CHECK_EQ_INT(n[ROPE_BAND_SCALED], 29);
    /* a wavelength exactly on the single boundary: orig = 2π/θ_0 = 2π; must not be NaN */
    llama3_cfg(&c, 128, 16);
    c.high_freq_factor = 1;
    c.original_max_position_embeddings = 6; /* 6 < 2π: every wavelength > 6 */
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(all_finite_positive(&f));
    /* original unset: falls back to max_position_embeddings */
    llama3_cfg(&c, 128, 8);
    c.original_max_position_embeddings = 0;
    c.max_position_embeddings = 8192;
    rope_freqs g;
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    llama3_cfg(&c, 128, 8);
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(memcmp(f.inv_freq, g.inv_freq, sizeof f.inv_freq) == 0);
}

static double short_f[48], long_f[48];

static void longrope_cfg(rope_config *c) {
    rope_config_init(c);
    c->type = ROPE_SCALING_LONGROPE;
    c->hidden_size = 3072; /* Phi-3.5-mini: head_dim 96 */
    c->num_attention_heads = 32;
    c->max_position_embeddings = 131072;
    c->original_max_position_embeddings = 4096;
    for (int i = 0; i < 48; i++) {
        short_f[i] = 1.0 + 0.01 * i;
        long_f[i] = 2.0 + 0.5 * i;
    }
    c->short_factor = short_f;
    c->long_factor = long_f;
    c->n_short_factor = c->n_long_factor = 48;
}

static void test_longrope(void) {
    rope_config c;
    rope_freqs f;
    longrope_cfg(&c);
    const int64_t lens[] = {0, 1, 4095, 4096, 4097, 131072};
    const int want_long[] = {0, 0, 0, 0, 1, 1};
    for (int k = 0; k < 6; k++) {
        CHECK_OK(rope_freqs_compute(&c, lens[k], &f));
        const double *ext = want_long[k] ? long_f : short_f;
        for (int i = 0; i < 48; i++) {
            double want = pow(10000.0, -(2.0 * i) / 96) / ext[i];
            CHECK_MSG(fabs(f.inv_freq[i] / want - 1) <= 1e-15, "len %lld i %d", (long long)lens[k], i);
            /* d = 96: HF rounds the exponent 2i/96 to float32 first, which moves
             * base^e by up to ln(1e4) * 2^-25 relative: up to ~5 ulp */
            CHECK(near_f32(f.inv_freq_f32[i], want, 6.0));
        }
        /* Phi-3.5: factor 131072/4096 = 32 -> sqrt(1 + ln 32 / ln 4096), fixed */
        CHECK_NEAR(f.attention_factor, 1.1902380714238083, 1e-15);
    }
    c.factor = 1.0; /* explicit factor wins (v5); <= 1 -> attention factor 1 */
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(f.attention_factor == 1.0);
    c.factor = 0;
    c.attention_factor = 1.25;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK(f.attention_factor == 1.25);
}

static void test_mrope(void) {
    rope_config c;
    rope_freqs f;
    rope_config_init(&c);
    c.rope_theta = 1e6;
    c.head_dim = 128;
    c.n_mrope_section = 3;
    c.mrope_section[0] = 16;
    c.mrope_section[1] = 24;
    c.mrope_section[2] = 24;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_EQ_INT(f.n_mrope_section, 3);
    CHECK(f.mrope_section[0] == 16 && f.mrope_section[1] == 24 && f.mrope_section[2] == 24);
}

/* Every bad input: status as expected and *out byte-for-byte untouched. */
typedef void (*mutate_fn)(rope_config *c);
#define MUT(name, body) static void name(rope_config *c) { body; }

MUT(m_type, c->type = (rope_scaling_type)42)
MUT(m_type_neg, c->type = (rope_scaling_type)-1)
MUT(m_theta_one, c->rope_theta = 1.0)
MUT(m_theta_neg, c->rope_theta = -10000)
MUT(m_theta_nan, c->rope_theta = NAN)
MUT(m_theta_inf, c->rope_theta = INFINITY)
MUT(m_hd_zero, c->head_dim = 0)
MUT(m_hd_odd, c->head_dim = 127)
MUT(m_hd_neg, c->head_dim = -128)
MUT(m_hd_big, c->head_dim = ROPE_MAX_HEAD_DIM + 2)
MUT(m_hd_heads_zero, { c->head_dim = 0; c->hidden_size = 4096; c->num_attention_heads = 0; })
MUT(m_hd_div_odd, { c->head_dim = 0; c->hidden_size = 4096 + 32; c->num_attention_heads = 32; })
MUT(m_prf_zero, c->partial_rotary_factor = 0)
MUT(m_prf_neg, c->partial_rotary_factor = -0.5)
MUT(m_prf_nan, c->partial_rotary_factor = NAN)
MUT(m_prf_big, c->partial_rotary_factor = 1.5)
MUT(m_rot_odd, { c->head_dim = 10; c->partial_rotary_factor = 0.3; })
MUT(m_rot_zero, c->partial_rotary_factor = 0.01)
MUT(m_lin_factor0, { c->type = ROPE_SCALING_LINEAR; c->factor = 0; })
MUT(m_lin_factorneg, { c->type = ROPE_SCALING_LINEAR; c->factor = -2; })
MUT(m_lin_factornan, { c->type = ROPE_SCALING_LINEAR; c->factor = NAN; })
MUT(m_lin_factorinf, { c->type = ROPE_SCALING_LINEAR; c->factor = INFINITY; })
MUT(m_dyn_factor0, { c->type = ROPE_SCALING_DYNAMIC; c->max_position_embeddings = 4096; })
MUT(m_dyn_maxpos0, { c->type = ROPE_SCALING_DYNAMIC; c->factor = 2; })
MUT(m_dyn_dim2, { c->type = ROPE_SCALING_DYNAMIC; c->factor = 2; c->max_position_embeddings = 4096; c->head_dim = 2; })
MUT(m_dyn_nan, { c->type = ROPE_SCALING_DYNAMIC; c->factor = NAN; c->max_position_embeddings = 4096; })
MUT(m_yarn_noorig, { c->type = ROPE_SCALING_YARN; c->factor = 4; })
MUT(m_yarn_origneg, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = -1; })
MUT(m_yarn_factorneg, { c->type = ROPE_SCALING_YARN; c->factor = -4; c->original_max_position_embeddings = 4096; })
MUT(m_yarn_factornan, { c->type = ROPE_SCALING_YARN; c->factor = NAN; c->original_max_position_embeddings = 4096; })
MUT(m_yarn_nofactor, { c->type = ROPE_SCALING_YARN; c->original_max_position_embeddings = 4096; })
MUT(m_yarn_betaneg, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = 4096; c->beta_fast = -1; })
MUT(m_yarn_betanan, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = 4096; c->beta_slow = NAN; })
MUT(m_yarn_betaorder, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = 4096; c->beta_fast = 1; c->beta_slow = 32; })
MUT(m_yarn_afneg, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = 4096; c->attention_factor = -1; })
MUT(m_yarn_afinf, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = 4096; c->attention_factor = INFINITY; })
MUT(m_yarn_mscalenan, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = 4096; c->mscale = NAN; c->mscale_all_dim = 1; })
MUT(m_yarn_mscaleneg, { c->type = ROPE_SCALING_YARN; c->factor = 4; c->original_max_position_embeddings = 4096; c->mscale_all_dim = -1; })
MUT(m_l3_factor0, { c->type = ROPE_SCALING_LLAMA3; c->low_freq_factor = 1; c->high_freq_factor = 4; c->original_max_position_embeddings = 8192; })
MUT(m_l3_low0, { c->type = ROPE_SCALING_LLAMA3; c->factor = 8; c->high_freq_factor = 4; c->original_max_position_embeddings = 8192; })
MUT(m_l3_highlow, { c->type = ROPE_SCALING_LLAMA3; c->factor = 8; c->low_freq_factor = 4; c->high_freq_factor = 1; c->original_max_position_embeddings = 8192; })
MUT(m_l3_nan, { c->type = ROPE_SCALING_LLAMA3; c->factor = 8; c->low_freq_factor = 1; c->high_freq_factor = NAN; c->original_max_position_embeddings = 8192; })
MUT(m_l3_noorig, { c->type = ROPE_SCALING_LLAMA3; c->factor = 8; c->low_freq_factor = 1; c->high_freq_factor = 4; })
MUT(m_lr_noshort, { longrope_cfg(c); c->short_factor = NULL; })
MUT(m_lr_nolong, { longrope_cfg(c); c->long_factor = NULL; })
MUT(m_lr_count, { longrope_cfg(c); c->n_short_factor = 47; })
MUT(m_lr_countlong, { longrope_cfg(c); c->n_long_factor = 64; })
MUT(m_lr_elem, { longrope_cfg(c); short_f[7] = 0.0; })
MUT(m_lr_elemnan, { longrope_cfg(c); long_f[40] = NAN; })
MUT(m_lr_noorig, { longrope_cfg(c); c->original_max_position_embeddings = 0; c->max_position_embeddings = 0; })
MUT(m_lr_af, { longrope_cfg(c); c->attention_factor = 0; })
/* fuzz finding: a long_factor whose frequency underflows float32 is refused
 * at seq_len 0 too (the short list is in use there, but the config is bad) */
MUT(m_lr_longhuge, { longrope_cfg(c); long_f[45] = 3.3e83; })
MUT(m_lr_shorthuge, { longrope_cfg(c); short_f[3] = 1e300; })
MUT(m_mr_sum, { c->n_mrope_section = 3; c->mrope_section[0] = 16; c->mrope_section[1] = 24; c->mrope_section[2] = 23; })
MUT(m_mr_n, { c->n_mrope_section = ROPE_MAX_MROPE_PLANES + 1; })
MUT(m_mr_nneg, { c->n_mrope_section = -1; })
MUT(m_mr_neg, { c->n_mrope_section = 3; c->mrope_section[0] = 80; c->mrope_section[1] = -16; c->mrope_section[2] = 0; })

static void test_bad_inputs(void) {
    static const struct {
        const char *name;
        mutate_fn fn;
        rope_status want;
    } cases[] = {
        {"type out of range", m_type, ROPE_E_SCALING},
        {"type negative", m_type_neg, ROPE_E_SCALING},
        {"theta == 1", m_theta_one, ROPE_E_PARAM},
        {"theta < 0", m_theta_neg, ROPE_E_PARAM},
        {"theta NaN", m_theta_nan, ROPE_E_PARAM},
        {"theta Inf", m_theta_inf, ROPE_E_PARAM},
        {"head_dim 0 and no hidden/heads", m_hd_zero, ROPE_E_DIM},
        {"head_dim odd", m_hd_odd, ROPE_E_DIM},
        {"head_dim negative", m_hd_neg, ROPE_E_DIM},
        {"head_dim > ROPE_MAX_HEAD_DIM", m_hd_big, ROPE_E_DIM},
        {"num_attention_heads 0", m_hd_heads_zero, ROPE_E_DIM},
        {"hidden/heads odd", m_hd_div_odd, ROPE_E_DIM},
        {"partial_rotary_factor 0", m_prf_zero, ROPE_E_PARAM},
        {"partial_rotary_factor < 0", m_prf_neg, ROPE_E_PARAM},
        {"partial_rotary_factor NaN", m_prf_nan, ROPE_E_PARAM},
        {"rotary_dim > head_dim", m_prf_big, ROPE_E_ROTARY_DIM},
        {"rotary_dim odd", m_rot_odd, ROPE_E_DIM},
        {"rotary_dim 0", m_rot_zero, ROPE_E_DIM},
        {"linear factor 0", m_lin_factor0, ROPE_E_PARAM},
        {"linear factor < 0", m_lin_factorneg, ROPE_E_PARAM},
        {"linear factor NaN", m_lin_factornan, ROPE_E_PARAM},
        {"linear factor Inf", m_lin_factorinf, ROPE_E_PARAM},
        {"dynamic factor missing", m_dyn_factor0, ROPE_E_PARAM},
        {"dynamic max_position_embeddings missing", m_dyn_maxpos0, ROPE_E_PARAM},
        {"dynamic rotary_dim 2 (dim/(dim-2))", m_dyn_dim2, ROPE_E_DIM},
        {"dynamic factor NaN", m_dyn_nan, ROPE_E_PARAM},
        {"yarn original and max_pos missing", m_yarn_noorig, ROPE_E_PARAM},
        {"yarn original negative", m_yarn_origneg, ROPE_E_PARAM},
        {"yarn factor < 0", m_yarn_factorneg, ROPE_E_PARAM},
        {"yarn factor NaN", m_yarn_factornan, ROPE_E_PARAM},
        {"yarn factor and max_pos missing", m_yarn_nofactor, ROPE_E_PARAM},
        {"yarn beta_fast < 0", m_yarn_betaneg, ROPE_E_PARAM},
        {"yarn beta_slow NaN", m_yarn_betanan, ROPE_E_PARAM},
        {"yarn beta_fast < beta_slow", m_yarn_betaorder, ROPE_E_PARAM},
        {"yarn attention_factor < 0", m_yarn_afneg, ROPE_E_PARAM},
        {"yarn attention_factor Inf", m_yarn_afinf, ROPE_E_PARAM},
        {"yarn mscale NaN", m_yarn_mscalenan, ROPE_E_PARAM},
        {"yarn mscale_all_dim < 0", m_yarn_mscaleneg, ROPE_E_PARAM},
        {"llama3 factor missing", m_l3_factor0, ROPE_E_PARAM},
        {"llama3 low_freq_factor 0", m_l3_low0, ROPE_E_PARAM},
        {"llama3 high < low", m_l3_highlow, ROPE_E_PARAM},
        {"llama3 high_freq_factor NaN", m_l3_nan, ROPE_E_PARAM},
        {"llama3 original and max_pos missing", m_l3_noorig, ROPE_E_PARAM},
        {"longrope short_factor NULL", m_lr_noshort, ROPE_E_NULL},
        {"longrope long_factor NULL", m_lr_nolong, ROPE_E_NULL},
        {"longrope short count != R/2", m_lr_count, ROPE_E_PARAM},
        {"longrope long count != R/2", m_lr_countlong, ROPE_E_PARAM},
        {"longrope factor element 0", m_lr_elem, ROPE_E_PARAM},
        {"longrope factor element NaN", m_lr_elemnan, ROPE_E_PARAM},
        {"longrope original and max_pos missing", m_lr_noorig, ROPE_E_PARAM},
        {"longrope attention_factor 0", m_lr_af, ROPE_E_PARAM},
        {"longrope long_factor beyond float32", m_lr_longhuge, ROPE_E_PARAM},
        {"longrope short_factor beyond float32", m_lr_shorthuge, ROPE_E_PARAM},
        {"mrope sections sum != R/2", m_mr_sum, ROPE_E_PARAM},
        {"mrope 4 sections", m_mr_n, ROPE_E_PARAM},
        {"mrope negative count", m_mr_nneg, ROPE_E_PARAM},
        {"mrope negative section", m_mr_neg, ROPE_E_PARAM},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rope_config c;
        rope_config_init(&c);
        c.head_dim = 128;
        cases[k].fn(&c);
        rope_freqs out, ref;
        memset(&out, 0xA5, sizeof out);
        memcpy(&ref, &out, sizeof out);
        rope_status st = rope_freqs_compute(&c, 0, &out);
        CHECK_MSG(st == cases[k].want, "%s: got %s, want %s", cases[k].name, rope_strerror(st),
                  rope_strerror(cases[k].want));
        CHECK_MSG(memcmp(&out, &ref, sizeof out) == 0, "%s: output written on error", cases[k].name);
    }
    /* NULLs and a negative sequence length */
    rope_config c;
    rope_freqs out;
    rope_config_init(&c);
    c.head_dim = 64;
    CHECK_STATUS(rope_freqs_compute(NULL, 0, &out), ROPE_E_NULL);
    CHECK_STATUS(rope_freqs_compute(&c, 0, NULL), ROPE_E_NULL);
    CHECK_STATUS(rope_freqs_compute(&c, -1, &out), ROPE_E_PARAM);
    /* fuzz finding: dynamic NTK grows the base with seq_len; with rope_theta
     * near FLT_MAX it is valid at the trained length and overflows float32
     * further out: a clean error there, output untouched. */
    rope_config_init(&c);
    c.head_dim = 64;
    c.type = ROPE_SCALING_DYNAMIC;
    c.factor = 2.0;
    c.max_position_embeddings = 4096;
    c.rope_theta = 2.5e38;
    CHECK_STATUS(rope_freqs_compute(&c, 4096, &out), ROPE_OK);
    rope_freqs keep = out;
    CHECK_STATUS(rope_freqs_compute(&c, 1 << 20, &out), ROPE_E_PARAM);
    CHECK(memcmp(&keep, &out, sizeof out) == 0);
    printf("bad-input cases: %zu (+3 NULL/seq_len)\n", sizeof cases / sizeof cases[0]);
}


/* Gemma 4 proportional: int(prf·D/2) live θᵢ = base^(-2i/D) over the FULL D, the rest 0;
 * rotation over the whole head; /factor. */
static void test_proportional(void) {
    rope_config c;
    rope_config_init(&c);
    c.type = ROPE_SCALING_PROPORTIONAL;
    c.head_dim = 512;
    c.rope_theta = 1e6;
    c.partial_rotary_factor = 0.25;
    rope_freqs f;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    CHECK_EQ_INT(f.rotary_dim, 512);
    CHECK_EQ_INT(f.n_freqs, 256);
    int bad = 0;
    for (int i = 0; i < 256; i++) {
        double want = i < 64 ? pow(1e6, -(double)(2 * i) / 512.0) : 0.0;
        if (fabs(f.inv_freq[i] - want) > 1e-15 * want) bad++;
        if ((i < 64) != (f.inv_freq_f32[i] > 0.0f)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    c.factor = 4;
    rope_freqs g;
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    CHECK(g.inv_freq[1] == f.inv_freq[1] / 4 && g.inv_freq[100] == 0.0);
    c.partial_rotary_factor = 0.0; /* legal: every pair an identity */
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    CHECK(g.inv_freq[0] == 0.0 && g.rotary_dim == 512);
    c.partial_rotary_factor = 1.5;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &g), ROPE_E_ROTARY_DIM);
    c.partial_rotary_factor = -0.25;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &g), ROPE_E_PARAM);
    /* an identity pair leaves a vector unchanged in the table: cos 1, sin 0 */
    c.partial_rotary_factor = 0.25;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    float cs[256], sn[256];
    int64_t p = 131071;
    CHECK_OK(rope_cos_sin(&f, &p, 0, 1, ROPE_PRECISION_ACCURATE, cs, sn));
    CHECK(cs[64] == 1.0f && sn[64] == 0.0f && cs[255] == 1.0f && sn[255] == 0.0f);
    /* zero θ is refused for the other types */
    rope_config d;
    rope_config_init(&d);
    d.head_dim = 8;
    CHECK_OK(rope_freqs_compute(&d, 0, &g));
}

/* freq_divisor (GGUF rope_freqs.weight): θᵢ /= d[i] after the type; >= 1e30 = identity. */
static void test_freq_divisor(void) {
    rope_config c;
    rope_config_init(&c);
    c.head_dim = 8;
    rope_freqs f, g;
    CHECK_OK(rope_freqs_compute(&c, 0, &f));
    double d[4] = {1.0, 2.0, 8.0, 1e30};
    c.freq_divisor = d;
    c.n_freq_divisor = 4;
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    CHECK(g.inv_freq[0] == f.inv_freq[0] && g.inv_freq[1] == f.inv_freq[1] / 2 &&
          g.inv_freq[2] == f.inv_freq[2] / 8 && g.inv_freq[3] == 0.0);
    CHECK(g.inv_freq_f32[1] == f.inv_freq_f32[1] / 2.0f && g.inv_freq_f32[3] == 0.0f);
    CHECK(g.band[0] == ROPE_BAND_UNSCALED && g.band[1] == ROPE_BAND_SCALED);
    rope_freqs sentinel;
    memset(&sentinel, 0x33, sizeof sentinel);
    g = sentinel;
    c.n_freq_divisor = 3;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &g), ROPE_E_PARAM);
    c.n_freq_divisor = 4;
    d[2] = -1.0;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &g), ROPE_E_PARAM);
    d[2] = NAN;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &g), ROPE_E_PARAM);
    c.freq_divisor = NULL;
    CHECK_STATUS(rope_freqs_compute(&c, 0, &g), ROPE_E_NULL);
    CHECK(memcmp(&g, &sentinel, sizeof g) == 0);
    /* on top of a scaled type: llama3 then the divisors */
    d[2] = 8.0;
    c.freq_divisor = d;
    c.type = ROPE_SCALING_LINEAR;
    c.factor = 4;
    CHECK_OK(rope_freqs_compute(&c, 0, &g));
    CHECK(g.inv_freq[1] == f.inv_freq[1] / 4 / 2);
}

int main(void) {
    test_names();
    test_init_defaults();
    test_default();
    test_linear();
    test_dynamic();
    test_yarn();
    test_llama3();
    test_longrope();
    test_mrope();
    test_proportional();
    test_freq_divisor();
    test_bad_inputs();
    return check_report("test_freqs");
}
