"""Live conformance with Hugging Face transformers when it is importable.

scripts/test-python.sh installs transformers 4.45.2 into the test venv (the newest line that
still runs on Debian's torch 1.13); offline, these tests skip and conformance rests on
tests/golden/ (vectors produced by running transformers 5.23.0, test_conformance_golden.py)."""
import numpy as np
import pytest
import torch

import librope

transformers = pytest.importorskip("transformers", reason="transformers not installed; golden vectors cover HF")


def _llama_rotary(cfg_dict):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    return LlamaRotaryEmbedding(config=LlamaConfig(**cfg_dict))


# Configs whose meaning is the same in every transformers version since 4.45 (the yarn one leaves
# original_max_position_embeddings to default to max_position_embeddings: transformers <= 4.50 read
# the correction range from max_position_embeddings, >= 4.56 from original_*; see
# docs/hf-rope.md, YaRN).
CASES = [
    (None, 8192),
    ({"rope_type": "linear", "factor": 4.0}, 8192),
    ({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192}, 131072),
    ({"rope_type": "yarn", "factor": 4.0}, 2048),
    ({"rope_type": "dynamic", "factor": 2.0}, 2048),
]


@pytest.mark.parametrize("scaling,max_pos", CASES)
def test_llama_rotary_and_apply_match_transformers(scaling, max_pos):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
    cfg = {"hidden_size": 512, "num_attention_heads": 8, "num_key_value_heads": 2, "rope_theta": 500000.0,
           "max_position_embeddings": max_pos}
    if scaling:
        cfg["rope_scaling"] = scaling
    rot = _llama_rotary(cfg)
    f = librope.freqs(cfg)
    from transformers import LlamaConfig
    np.testing.assert_array_equal(librope.freqs(LlamaConfig(**cfg)).inv_freq, f.inv_freq)
    hf_inv = rot.inv_freq.numpy().astype(np.float64)
    assert np.max(np.abs(f.inv_freq_f32 - hf_inv) / np.spacing(hf_inv.astype(np.float32))) <= 1
    assert f.attention_factor == pytest.approx(float(rot.attention_scaling))
    q, k = torch.randn(1, 8, 10, 64), torch.randn(1, 2, 10, 64)
    pid = torch.arange(100, 110)[None]
    cos, sin = rot(q, pid)
    wq, wk = apply_rotary_pos_emb(q, k, cos, sin)
    gq, gk = librope.apply_rotary_pos_emb(q, k, cos, sin)
    torch.testing.assert_close(gq, wq, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gk, wk, rtol=1e-5, atol=1e-5)
    lq = librope.apply(q, pid, style="half", table=librope.Table(f, 200, compat=True), layout="bhsd")
    torch.testing.assert_close(lq, wq, rtol=1e-4, atol=1e-4)


def test_dynamic_ntk_after_a_long_call_matches_transformers():
    """HF grows the base when a call reaches past max_position_embeddings; librope.freqs(seq_len=)."""
    cfg = {"hidden_size": 512, "num_attention_heads": 8, "rope_theta": 10000.0, "max_position_embeddings": 2048,
           "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}}
    rot = _llama_rotary(cfg)
    x = torch.randn(1, 8, 1, 64)
    pid = torch.tensor([[8191]])
    cos, sin = rot(x, pid)                     # seq_len 8192 > 2048: frequencies recomputed
    f = librope.freqs(cfg, seq_len=8192)
    got_c, got_s = librope.cos_sin(f, [8191], compat=True)
    want_c = cos[0, 0, :32].numpy()
    assert np.max(np.abs(got_c[0] - want_c)) < 8192 * 4e-7
