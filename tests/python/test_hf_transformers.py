"""Live conformance with Hugging Face transformers when it is importable in this environment.

CI does not install transformers (Debian's torch 1.13 is older than current transformers
supports); conformance there rests on tests/golden/ (vectors produced by running transformers
5.23.0, see test_conformance_golden.py). With transformers installed, these compare directly."""
import numpy as np
import pytest
import torch

import librope

transformers = pytest.importorskip("transformers", reason="transformers not installed; golden vectors cover HF")


def _llama_rotary(cfg_dict):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    return LlamaRotaryEmbedding(config=LlamaConfig(**cfg_dict))


@pytest.mark.parametrize("scaling", [None, {"rope_type": "linear", "factor": 4.0},
                                     {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                                     {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048}])
def test_llama_rotary_and_apply_match_transformers(scaling):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
    cfg = {"hidden_size": 512, "num_attention_heads": 8, "num_key_value_heads": 2, "rope_theta": 500000.0,
           "max_position_embeddings": 8192}
    if scaling:
        cfg["rope_scaling"] = scaling
    rot = _llama_rotary(cfg)
    f = librope.freqs(cfg)
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
