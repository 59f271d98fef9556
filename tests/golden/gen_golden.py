#!/usr/bin/env python3
"""Regenerate the golden RoPE vectors in this folder by RUNNING the real peers.

Peers (see README.md for the exact versions used):
  * Hugging Face transformers: the model's own rotary-embedding module
    (LlamaRotaryEmbedding, Qwen2RotaryEmbedding, GPTNeoXRotaryEmbedding,
    Phi3RotaryEmbedding, DeepseekV2RotaryEmbedding, Qwen2VLRotaryEmbedding,
    GptOssRotaryEmbedding), whose __init__ runs ROPE_INIT_FUNCTIONS[rope_type]
    (or the class's compute_default_rope_parameters) and whose forward() builds
    cos/sin (incl. the dynamic/longrope update); then the model's
    apply_rotary_pos_emb (or apply_rotary_emb / apply_multimodal_rotary_pos_emb).
  * Meta's reference (PyPI llama-models): llama_models.llama3.model /
    llama_models.llama4.model precompute_freqs_cis and apply_rotary_emb.

Nothing here re-implements a formula: every number written is an output of
those functions. The config values are those of the real models' config.json.

Usage:  python gen_golden.py [OUTDIR]     (default: the folder of this script)
Needs:  torch, transformers (>= 5), llama-models, fairscale (llama-models imports it).

File format (plain text, parsed by tests/test_golden.c): one record per line,
`key value value ...`; numbers are decimal (float32 values with 9 significant
digits, which round-trip exactly; float64 with 17). Matrices are flattened
row-major, their shape on a `<key>_shape` line.
"""
import math
import os
import sys

import torch
import transformers
from transformers import modeling_rope_utils

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- real configs
# Phi-3.5-mini-instruct config.json (microsoft/Phi-3.5-mini-instruct), rope_scaling lists.
PHI35_LONG = [
    1.0800000429153442, 1.1100000143051147, 1.1399999856948853, 1.340000033378601, 1.5899999141693115,
    1.600000023841858, 1.6200000047683716, 2.620000123977661, 3.2300000190734863, 3.2300000190734863,
    4.789999961853027, 7.400000095367432, 7.700000286102295, 9.09000015258789, 12.199999809265137,
    17.670000076293945, 24.46000099182129, 28.57000160217285, 30.420001983642578, 30.840002059936523,
    32.590003967285156, 32.93000411987305, 42.320003509521484, 44.96000289916992, 50.340003967285156,
    50.45000457763672, 57.55000305175781, 57.93000411987305, 58.21000289916992, 60.1400032043457,
    62.61000442504883, 62.62000274658203, 62.71000289916992, 63.1400032043457, 63.1400032043457,
    63.77000427246094, 63.93000411987305, 63.96000289916992, 63.970001220703125, 64.02999877929688,
    64.06999969482422, 64.08000183105469, 64.12000274658203, 64.41000366210938, 64.4800033569336,
    64.51000213623047, 64.52999877929688, 64.83999633789062]
PHI35_SHORT = [
    1.0, 1.0199999809265137, 1.0299999713897705, 1.0299999713897705, 1.0499999523162842,
    1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0699999332427979,
    1.0999999046325684, 1.1099998950958252, 1.1599998474121094, 1.1599998474121094, 1.1699998378753662,
    1.2899998426437378, 1.339999794960022, 1.679999828338623, 1.7899998426437378, 1.8199998140335083,
    1.8499997854232788, 1.8799997568130493, 1.9099997282028198, 1.9399996995925903, 1.9899996519088745,
    2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346,
    2.0199997425079346, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
    2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
    2.0799996852874756, 2.0899996757507324, 2.189999580383301, 2.2199995517730713, 2.5899994373321533,
    2.729999542236328, 2.749999523162842, 2.8399994373321533]
# Phi-3-mini-128k-instruct / Phi-3-vision-128k-instruct ("su" era) lists.
PHI3_LONG = [
    1.0299999713897705, 1.0499999523162842, 1.0499999523162842, 1.0799999237060547, 1.2299998998641968,
    1.2299998998641968, 1.2999999523162842, 1.4499999284744263, 1.5999999046325684, 1.6499998569488525,
    1.8999998569488525, 2.859999895095825, 3.68999981880188, 5.419999599456787, 5.489999771118164,
    5.489999771118164, 9.09000015258789, 11.579999923706055, 15.65999984741211, 15.769999504089355,
    15.789999961853027, 18.360000610351562, 21.989999771118164, 23.079999923706055, 30.009998321533203,
    32.35000228881836, 32.590003967285156, 35.56000518798828, 39.95000457763672, 53.840003967285156,
    56.20000457763672, 57.95000457763672, 59.29000473022461, 59.77000427246094, 59.920005798339844,
    61.190006256103516, 61.96000671386719, 62.50000762939453, 63.3700065612793, 63.48000717163086,
    63.48000717163086, 63.66000747680664, 63.850006103515625, 64.08000946044922, 64.760009765625,
    64.80001068115234, 64.81001281738281, 64.81001281738281]
PHI3_SHORT = [
    1.05, 1.05, 1.05, 1.1, 1.1, 1.1, 1.2500000000000002, 1.2500000000000002, 1.4000000000000004,
    1.4500000000000004, 1.5500000000000005, 1.8500000000000008, 1.9000000000000008] + \
    [2.000000000000001] * 19 + [
    2.1000000000000005, 2.1000000000000005, 2.2, 2.3499999999999996, 2.3499999999999996,
    2.3499999999999996, 2.3499999999999996, 2.3999999999999995, 2.3999999999999995, 2.6499999999999986,
    2.6999999999999984, 2.8999999999999977, 2.9499999999999975, 3.049999999999997, 3.049999999999997,
    3.049999999999997]
assert len(PHI35_LONG) == len(PHI35_SHORT) == len(PHI3_LONG) == len(PHI3_SHORT) == 48

ALL_POS = [0, 1, 2, 3, 10, 100, 1000, 4095, 4096, 4097, 8191, 8192, 16383, 32767, 65535, 131071,
           1048575]


def short_pos(limit):
    return [p for p in ALL_POS if p < limit]


# --------------------------------------------------------------- the peers
from transformers.models.llama import modeling_llama as m_llama
from transformers.models.qwen2 import modeling_qwen2 as m_qwen2
from transformers.models.gpt_neox import modeling_gpt_neox as m_neox
from transformers.models.phi3 import modeling_phi3 as m_phi3
from transformers.models.deepseek_v2 import modeling_deepseek_v2 as m_dsv2
from transformers.models.qwen2_vl import modeling_qwen2_vl as m_qwen2vl
from transformers.models.gpt_oss import modeling_gpt_oss as m_gptoss

try:
    from llama_models.llama3 import model as meta3
    from llama_models.llama4 import model as meta4
    from importlib.metadata import version as _version
    META_VERSION = _version("llama-models")
except Exception as e:  # pragma: no cover - recorded in the output
    meta3 = meta4 = None
    META_VERSION = "unavailable: %r" % (e,)


def llama_cfg(hidden, heads, max_pos, theta, scaling=None, **kw):
    d = dict(hidden_size=hidden, num_attention_heads=heads, num_key_value_heads=heads,
             max_position_embeddings=max_pos, rope_theta=theta, num_hidden_layers=1,
             intermediate_size=64, vocab_size=32)
    if scaling is not None:
        d["rope_scaling"] = dict(scaling)
    d.update(kw)
    return transformers.LlamaConfig(**d)


CASES = []


def case(**kw):
    CASES.append(kw)


# 1. Llama-2-7B (default, θ = 1e4)
case(name="llama2_7b", model="meta-llama/Llama-2-7b-hf",
     cfg=lambda: llama_cfg(4096, 32, 4096, 10000.0), rot=m_llama.LlamaRotaryEmbedding,
     apply=m_llama.apply_rotary_pos_emb, style="half", positions=ALL_POS,
     ours=dict(type="default", rope_theta=10000.0, hidden_size=4096, num_attention_heads=32,
               max_position_embeddings=4096),
     meta=("llama3", dict(dim=128, theta=10000.0, use_scaled=False)))
# 2. CodeLlama-7B (θ = 1e6)
case(name="codellama_7b", model="codellama/CodeLlama-7b-hf",
     cfg=lambda: llama_cfg(4096, 32, 16384, 1000000.0), rot=m_llama.LlamaRotaryEmbedding,
     apply=m_llama.apply_rotary_pos_emb, style="half", positions=ALL_POS,
     ours=dict(type="default", rope_theta=1e6, hidden_size=4096, num_attention_heads=32,
               max_position_embeddings=16384),
     meta=("llama3", dict(dim=128, theta=1000000.0, use_scaled=False)))
# 3. Llama-3.1-8B (llama3)
L31 = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
       "original_max_position_embeddings": 8192, "rope_type": "llama3"}
case(name="llama31_8b", model="meta-llama/Llama-3.1-8B",
     cfg=lambda: llama_cfg(4096, 32, 131072, 500000.0, L31), rot=m_llama.LlamaRotaryEmbedding,
     apply=m_llama.apply_rotary_pos_emb, style="half", positions=ALL_POS,
     ours=dict(type="llama3", rope_theta=500000.0, hidden_size=4096, num_attention_heads=32,
               max_position_embeddings=131072, factor=8.0, low_freq_factor=1.0,
               high_freq_factor=4.0, original_max_position_embeddings=8192),
     meta=("llama3", dict(dim=128, theta=500000.0, use_scaled=True)))
# 4. Llama-3.2-1B (llama3, head_dim 64, factor 32)
L32 = dict(L31, factor=32.0)
case(name="llama32_1b", model="meta-llama/Llama-3.2-1B",
     cfg=lambda: llama_cfg(2048, 32, 131072, 500000.0, L32, head_dim=64),
     rot=m_llama.LlamaRotaryEmbedding, apply=m_llama.apply_rotary_pos_emb, style="half",
     positions=ALL_POS,
     ours=dict(type="llama3", rope_theta=500000.0, head_dim=64, max_position_embeddings=131072,
               factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
               original_max_position_embeddings=8192),
     meta=("llama4", dict(dim=64, theta=500000.0, use_scaled=True, scale_factor=32.0,
                          high_freq_factor=4.0)))
# 5. Qwen2.5-7B-Instruct with the YaRN block its model card recommends (factor 4)
case(name="qwen25_7b_yarn", model="Qwen/Qwen2.5-7B-Instruct + rope_scaling yarn x4",
     cfg=lambda: transformers.Qwen2Config(
         hidden_size=3584, num_attention_heads=28, num_key_value_heads=4,
         max_position_embeddings=32768, rope_theta=1000000.0, num_hidden_layers=1,
         intermediate_size=64, vocab_size=32,
         rope_scaling={"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"}),
     rot=m_qwen2.Qwen2RotaryEmbedding, apply=m_qwen2.apply_rotary_pos_emb, style="half",
     positions=ALL_POS,
     ours=dict(type="yarn", rope_theta=1e6, hidden_size=3584, num_attention_heads=28,
               max_position_embeddings=32768, factor=4.0, original_max_position_embeddings=32768))
# 6. DeepSeek-V2-Lite (yarn with mscale == mscale_all_dim; rotary part = qk_rope_head_dim 64)
DSV2 = {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
        "original_max_position_embeddings": 4096, "type": "yarn"}
case(name="deepseek_v2_lite", model="deepseek-ai/DeepSeek-V2-Lite",
     cfg=lambda: transformers.DeepseekV2Config(
         hidden_size=2048, num_attention_heads=16, num_key_value_heads=16, kv_lora_rank=512,
         q_lora_rank=None, qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128,
         max_position_embeddings=163840, rope_theta=10000, rope_scaling=dict(DSV2),
         num_hidden_layers=1, intermediate_size=64, moe_intermediate_size=32, vocab_size=32),
     rot=m_dsv2.DeepseekV2RotaryEmbedding, apply=m_dsv2.apply_rotary_emb, style="complex",
     positions=ALL_POS,
     ours=dict(type="yarn", rope_theta=10000.0, head_dim=64, max_position_embeddings=163840,
               factor=40.0, original_max_position_embeddings=4096, beta_fast=32.0, beta_slow=1.0,
               mscale=0.707, mscale_all_dim=0.707),
     softmax=lambda c: m_dsv2.yarn_apply_mscale(c.rope_parameters, 1.0))


def phi3_cfg(long_f, short_f, kind):
    return transformers.Phi3Config(
        hidden_size=3072, num_attention_heads=32, num_key_value_heads=32,
        max_position_embeddings=131072, original_max_position_embeddings=4096,
        rope_theta=10000.0, num_hidden_layers=1, intermediate_size=64, vocab_size=32,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
        rope_scaling={"long_factor": list(long_f), "short_factor": list(short_f), "type": kind,
                      "original_max_position_embeddings": 4096})


PHI_OURS = dict(type="longrope", rope_theta=10000.0, hidden_size=3072, num_attention_heads=32,
                max_position_embeddings=131072, original_max_position_embeddings=4096)
# 7. Phi-3.5-mini-instruct (longrope), a short call (all positions < 4096) and a long call
case(name="phi35_mini_short", model="microsoft/Phi-3.5-mini-instruct (seq_len <= 4096: short)",
     cfg=lambda: phi3_cfg(PHI35_LONG, PHI35_SHORT, "longrope"), rot=m_phi3.Phi3RotaryEmbedding,
     apply=m_phi3.apply_rotary_pos_emb, style="half", positions=short_pos(4096),
     ours=dict(PHI_OURS, short_factor=PHI35_SHORT, long_factor=PHI35_LONG))
case(name="phi35_mini_long", model="microsoft/Phi-3.5-mini-instruct (seq_len > 4096: long)",
     cfg=lambda: phi3_cfg(PHI35_LONG, PHI35_SHORT, "longrope"), rot=m_phi3.Phi3RotaryEmbedding,
     apply=m_phi3.apply_rotary_pos_emb, style="half", positions=short_pos(131072),
     ours=dict(PHI_OURS, short_factor=PHI35_SHORT, long_factor=PHI35_LONG))
# 7b. Phi-3-mini-128k-instruct factor lists (the original "su" release), long call
case(name="phi3_mini_128k_long", model="microsoft/Phi-3-mini-128k-instruct factor lists (long)",
     cfg=lambda: phi3_cfg(PHI3_LONG, PHI3_SHORT, "longrope"), rot=m_phi3.Phi3RotaryEmbedding,
     apply=m_phi3.apply_rotary_pos_emb, style="half", positions=short_pos(131072),
     ours=dict(PHI_OURS, short_factor=PHI3_SHORT, long_factor=PHI3_LONG))
case(name="phi3_mini_128k_short", model="microsoft/Phi-3-mini-128k-instruct factor lists (short)",
     cfg=lambda: phi3_cfg(PHI3_LONG, PHI3_SHORT, "longrope"), rot=m_phi3.Phi3RotaryEmbedding,
     apply=m_phi3.apply_rotary_pos_emb, style="half", positions=short_pos(4096),
     ours=dict(PHI_OURS, short_factor=PHI3_SHORT, long_factor=PHI3_LONG))
# 8. GPT-NeoX-20B (partial rotary: rotary_pct 0.25 of head_dim 96)
case(name="gpt_neox_20b", model="EleutherAI/gpt-neox-20b",
     cfg=lambda: transformers.GPTNeoXConfig(
         hidden_size=6144, num_attention_heads=64, rotary_pct=0.25, rotary_emb_base=10000,
         max_position_embeddings=2048, num_hidden_layers=1, intermediate_size=64, vocab_size=32),
     rot=m_neox.GPTNeoXRotaryEmbedding, apply=m_neox.apply_rotary_pos_emb, style="half",
     positions=ALL_POS,
     ours=dict(type="default", rope_theta=10000.0, hidden_size=6144, num_attention_heads=64,
               partial_rotary_factor=0.25, max_position_embeddings=2048))
# 9. linear: togethercomputer/LLaMA-2-7B-32K (factor 8)
case(name="llama2_7b_32k_linear", model="togethercomputer/LLaMA-2-7B-32K",
     cfg=lambda: llama_cfg(4096, 32, 32768, 10000.0, {"factor": 8.0, "type": "linear"}),
     rot=m_llama.LlamaRotaryEmbedding, apply=m_llama.apply_rotary_pos_emb, style="half",
     positions=ALL_POS,
     ours=dict(type="linear", rope_theta=10000.0, hidden_size=4096, num_attention_heads=32,
               max_position_embeddings=32768, factor=8.0))
# 10. dynamic NTK on Llama-2-7B (factor 2, trained 4096): a call inside the trained
#     length (init frequencies) and a call reaching 16384 (forward update)
DYN = {"factor": 2.0, "type": "dynamic"}
DYN_OURS = dict(type="dynamic", rope_theta=10000.0, hidden_size=4096, num_attention_heads=32,
                max_position_embeddings=4096, factor=2.0)
case(name="llama2_7b_dynamic_short", model="meta-llama/Llama-2-7b-hf + dynamic x2 (seq 4096)",
     cfg=lambda: llama_cfg(4096, 32, 4096, 10000.0, DYN), rot=m_llama.LlamaRotaryEmbedding,
     apply=m_llama.apply_rotary_pos_emb, style="half", positions=short_pos(4096), ours=DYN_OURS)
case(name="llama2_7b_dynamic_long", model="meta-llama/Llama-2-7b-hf + dynamic x2 (seq 16384)",
     cfg=lambda: llama_cfg(4096, 32, 4096, 10000.0, DYN), rot=m_llama.LlamaRotaryEmbedding,
     apply=m_llama.apply_rotary_pos_emb, style="half", positions=short_pos(16384), ours=DYN_OURS)
# 11. Qwen2-VL-7B M-RoPE (mrope_section [16, 24, 24])
case(name="qwen2_vl_7b", model="Qwen/Qwen2-VL-7B-Instruct",
     cfg=lambda: transformers.Qwen2VLTextConfig(
         hidden_size=3584, num_attention_heads=28, num_key_value_heads=4,
         max_position_embeddings=32768, rope_theta=1000000.0, num_hidden_layers=1,
         intermediate_size=64, vocab_size=32,
         rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}),
     rot=m_qwen2vl.Qwen2VLRotaryEmbedding, apply=m_qwen2vl.apply_rotary_pos_emb, style="mrope",
     positions=ALL_POS[:16],
     ours=dict(type="default", rope_theta=1e6, hidden_size=3584, num_attention_heads=28,
               max_position_embeddings=32768, mrope_section=[16, 24, 24]))
# 12. GPT-OSS-20B (yarn, truncate false, half-width cos/sin)
case(name="gpt_oss_20b", model="openai/gpt-oss-20b",
     cfg=lambda: transformers.GptOssConfig(
         hidden_size=2880, head_dim=64, num_attention_heads=64, num_key_value_heads=8,
         max_position_embeddings=131072, num_hidden_layers=1, intermediate_size=64,
         vocab_size=32, num_local_experts=4, num_experts_per_tok=2,
         rope_parameters={"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0,
                          "original_max_position_embeddings": 4096, "rope_theta": 150000,
                          "rope_type": "yarn", "truncate": False}),
     rot=m_gptoss.GptOssRotaryEmbedding, apply=m_gptoss.apply_rotary_pos_emb, style="halfwidth",
     positions=ALL_POS,
     ours=dict(type="yarn", rope_theta=150000.0, head_dim=64, max_position_embeddings=131072,
               factor=32.0, original_max_position_embeddings=4096, beta_fast=32.0, beta_slow=1.0,
               truncate=0))
# 13. Llama-4-Scout rope parameters (llama3 with low_freq_factor == high_freq_factor)
L4 = {"factor": 16.0, "low_freq_factor": 1.0, "high_freq_factor": 1.0,
      "original_max_position_embeddings": 8192, "rope_type": "llama3"}
case(name="llama4_scout_rope", model="meta-llama/Llama-4-Scout-17B-16E rope_scaling (LlamaRotaryEmbedding)",
     cfg=lambda: llama_cfg(5120, 40, 10485760, 500000.0, L4, head_dim=128),
     rot=m_llama.LlamaRotaryEmbedding, apply=m_llama.apply_rotary_pos_emb, style="half",
     positions=ALL_POS,
     ours=dict(type="llama3", rope_theta=500000.0, head_dim=128, max_position_embeddings=10485760,
               factor=16.0, low_freq_factor=1.0, high_freq_factor=1.0,
               original_max_position_embeddings=8192))


# ------------------------------------------------------------------ output
def f32s(t):
    return " ".join("%.9g" % float(v) for v in t.reshape(-1).tolist())


def f64(v):
    return repr(float(v))


def write_case(c):
    torch.manual_seed(0)
    cfg = c["cfg"]()
    rot = c["rot"](cfg)
    pos = c["positions"]
    P = len(pos)
    x = torch.zeros(1, dtype=torch.float32)
    lines = ["# golden RoPE vectors generated by tests/golden/gen_golden.py -- do not edit",
             "name %s" % c["name"], "model %s" % c["model"],
             "peer transformers %s %s" % (transformers.__version__, type(rot).__name__),
             "torch %s" % torch.__version__]
    o = c["ours"]
    for k, v in o.items():
        if isinstance(v, list):
            lines.append("cfg.%s %s" % (k, " ".join(repr(float(e)) if isinstance(e, float) else str(e) for e in v)))
        else:
            lines.append("cfg.%s %s" % (k, v))
    seq_len = max(pos) + 1
    lines.append("seq_len %d" % seq_len)
    lines.append("style %s" % c["style"])

    if c["style"] == "mrope":
        # text tokens: one position row broadcast to t, h, w (HF expands (1, P) to (3, 1, P))
        pid = torch.tensor([pos], dtype=torch.int64)
        cos, sin = rot(x, pid)
        # an image-like token grid: t, h, w differ
        thw = torch.tensor([[[p for p in pos]], [[p // 2 + 3 for p in pos]], [[p % 97 for p in pos]]],
                           dtype=torch.int64)
        cos3, sin3 = rot(x, thw)
    else:
        pid = torch.tensor([pos], dtype=torch.int64)
        out = rot(x, pid)
    inv = rot.inv_freq.detach().clone()
    n = inv.numel()
    af = float(rot.attention_scaling)
    lines.append("rotary_dim %d" % (2 * n))
    lines.append("inv_freq %s" % f32s(inv))
    lines.append("attention_factor %s" % f64(af))
    if "softmax" in c:
        lines.append("softmax_scale_factor %s" % f64(c["softmax"](cfg)))
    lines.append("positions %s" % " ".join(str(p) for p in pos))

    if c["style"] == "complex":
        fc = out[0]                                   # (P, n) complex64, already * attention_scaling
        cos_h, sin_h = fc.real, fc.imag
    elif c["style"] == "mrope":
        assert torch.equal(cos[0, :, :n], cos[0, :, n:])
        cos_h, sin_h = cos[0, :, :n], sin[0, :, :n]
    elif c["style"] == "halfwidth":
        cos_h, sin_h = out[0][0], out[1][0]           # GPT-OSS: width n, not duplicated
    else:
        cos, sin = out
        assert torch.equal(cos[0, :, :n], cos[0, :, n:]) and torch.equal(sin[0, :, :n], sin[0, :, n:])
        cos_h, sin_h = cos[0, :, :n], sin[0, :, :n]
    assert cos_h.dtype == torch.float32 and tuple(cos_h.shape) == (P, n)
    lines.append("cos_shape %d %d" % (P, n))
    lines.append("cos %s" % f32s(cos_h))
    lines.append("sin %s" % f32s(sin_h))
    if c["style"] == "mrope":
        lines.append("thw %s" % " ".join(str(int(v)) for v in thw.reshape(-1).tolist()))
        lines.append("cos_thw %s" % f32s(cos3[0, :, :n]))
        lines.append("sin_thw %s" % f32s(sin3[0, :, :n]))

    # one apply_rotary_pos_emb on random q (2 heads) and k (1 head), seed 1234,
    # layout (batch, heads, seq, head_dim), positions = the last 6 of the call
    head_dim = rot.inv_freq.numel() * 2
    if c["name"] == "gpt_neox_20b":
        head_dim = 96
    sel = list(range(P - 6, P))
    g = torch.Generator().manual_seed(1234)
    q = torch.randn(1, 2, len(sel), head_dim, generator=g, dtype=torch.float32)
    k = torch.randn(1, 1, len(sel), head_dim, generator=g, dtype=torch.float32)
    if c["style"] == "complex":
        # DeepSeek V2 apply_rotary_emb: (batch, heads, seq, d) with freqs_cis (batch, seq, d/2)
        qo, ko = c["apply"](q, k, out[:, sel, :])
    elif c["style"] == "mrope":
        qo, ko = c["apply"](q, k, cos3[:, sel, :], sin3[:, sel, :])
    elif c["style"] == "halfwidth":
        qo, ko = c["apply"](q, k, out[0][:, sel, :], out[1][:, sel, :])
    else:
        qo, ko = c["apply"](q, k, out[0][:, sel, :], out[1][:, sel, :])
    lines.append("apply_rows %s" % " ".join(str(r) for r in sel))
    lines.append("q_shape 1 2 %d %d" % (len(sel), head_dim))
    lines.append("q %s" % f32s(q))
    lines.append("q_out %s" % f32s(qo))
    lines.append("k_shape 1 1 %d %d" % (len(sel), head_dim))
    lines.append("k %s" % f32s(k))
    lines.append("k_out %s" % f32s(ko))

    # Meta's reference, where it applies: precompute_freqs_cis (complex64 polar of
    # the float32 outer product) and apply_rotary_emb (interleaved pairs, (b, s, h, d))
    if "meta" in c and meta3 is not None:
        which, kw = c["meta"]
        end = max(pos) + 1
        if which == "llama3":
            fc = meta3.precompute_freqs_cis(kw["dim"], end, kw["theta"], kw["use_scaled"])
            mod = meta3
        else:
            fc = meta4.precompute_freqs_cis(kw["dim"], end, kw["theta"], kw["use_scaled"],
                                            kw["scale_factor"], kw["high_freq_factor"])
            mod = meta4
        rows = fc[pos]
        lines.append("meta_peer llama-models %s %s.precompute_freqs_cis" % (META_VERSION, mod.__name__))
        lines.append("meta_cos %s" % f32s(rows.real))
        lines.append("meta_sin %s" % f32s(rows.imag))
        # apply on (batch, seq, heads, head_dim) = q/k transposed; freqs for the `sel` rows
        qm = q.transpose(1, 2).contiguous()
        km = k.transpose(1, 2).contiguous()
        fsel = rows[sel]
        qmo, kmo = mod.apply_rotary_emb(qm, km, fsel)
        lines.append("meta_q %s" % f32s(qm))
        lines.append("meta_q_out %s" % f32s(qmo))
        lines.append("meta_k %s" % f32s(km))
        lines.append("meta_k_out %s" % f32s(kmo))

    path = os.path.join(OUT, c["name"] + ".txt")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path, n, af


def main():
    names = []
    for c in CASES:
        path, n, af = write_case(c)
        names.append(c["name"])
        print("%-26s n_freqs=%3d attention_factor=%.17g -> %s" % (c["name"], n, af, os.path.basename(path)))
    with open(os.path.join(OUT, "cases.txt"), "w") as fh:
        fh.write("\n".join(names) + "\n")
    print("transformers", transformers.__version__, "torch", torch.__version__, "llama-models", META_VERSION)


if __name__ == "__main__":
    main()
