"""librope.verify on NumPy arrays and torch tensors: the truth and HF-style tables verify as right,
each injected fault is named (and nothing else), random data is unexplained, bad input raises."""
import os

import numpy as np
import pytest
import torch

import librope

HERE = os.path.dirname(os.path.abspath(__file__))
LLAMA2 = os.path.join(HERE, "..", "data", "configs", "llama2_7b.json")
YARN = os.path.join(HERE, "..", "data", "configs", "qwen25_7b_instruct_yarn.json")
POS = np.concatenate([np.arange(64), np.unique(np.geomspace(64, 50000, 30).astype(np.int64))])
RNG = np.random.default_rng(3)


def table(base=1e4, dim=128, pos=POS, offset=0):
    inv = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    a = np.outer(pos + offset, inv)
    return np.cos(a).astype(np.float32), np.sin(a).astype(np.float32)


def faults(r):
    return [d["id"] for d in r["diagnoses"] if d["fault"]]


def test_truth_numpy_and_hf_layout_torch_are_right():
    c, s = table()
    r = librope.verify(LLAMA2, cos=c, sin=s, positions=POS)
    assert r["verdict"] == "right" and faults(r) == [], r["summary"]
    # HF's rotary embedding output: (batch, seq, R) with halves duplicated, float32 arithmetic
    f = librope.freqs(LLAMA2)
    hc, hs = librope.cos_sin(f, POS, compat=True)
    tc = torch.from_numpy(np.concatenate([hc, hc], -1))[None]
    ts = torch.from_numpy(np.concatenate([hs, hs], -1))[None]
    r = librope.verify(LLAMA2, cos=tc, sin=ts, positions=torch.from_numpy(POS))
    assert r["verdict"] == "right" and faults(r) == [], r["summary"]
    assert r["layout"].startswith("[pos, R] halves duplicated")
    assert [d["id"] for d in r["diagnoses"]] in ([], ["f32_angle"])


def test_faults_are_named():
    c, s = table(base=5e5)
    r = librope.verify(LLAMA2, cos=c, sin=s, positions=POS)
    assert r["verdict"] == "fault" and faults(r) == ["base"] and r["diagnoses"][0]["param"] == 5e5
    c, s = table(offset=2)
    r = librope.verify(LLAMA2, cos=c, sin=s, positions=POS)
    assert faults(r) == ["position_offset"] and r["diagnoses"][0]["param"] == 2
    c, s = table()
    r = librope.verify(LLAMA2, cos=torch.from_numpy(c).bfloat16(), sin=torch.from_numpy(s).bfloat16(),
                       positions=POS)
    assert faults(r) == ["table_bf16"] and r["storage"] == "bf16"
    r = librope.verify(LLAMA2, freqs_cis=torch.polar(torch.ones(len(POS), 64), torch.from_numpy(np.outer(
        POS, 1e4 ** (-np.arange(0, 128, 2) / 128))).float()).conj(), positions=POS)
    assert faults(r) == ["halves_swapped"]
    f = librope.freqs(YARN)
    ac, as_ = librope.cos_sin(f, POS)
    r = librope.verify(YARN, cos=ac, sin=as_, positions=POS)  # cos/sin without the attention factor
    assert faults(r) == ["attention_factor_missing"]
    r = librope.verify(YARN, cos=ac * f.attention_factor, sin=as_ * f.attention_factor, positions=POS)
    assert r["verdict"] == "right"


def test_random_data_is_unexplained():
    c = RNG.uniform(-1, 1, (len(POS), 64))
    s = RNG.uniform(-1, 1, (len(POS), 64))
    r = librope.verify(LLAMA2, cos=c, sin=s, positions=POS)
    assert r["verdict"] == "unexplained" and faults(r) == []
    a = RNG.uniform(-3, 3, (len(POS), 64))
    r = librope.verify(LLAMA2, cos=np.cos(a), sin=np.sin(a), positions=POS)
    assert r["verdict"] == "unexplained" and faults(r) == []


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_pairs_from_torch(dtype):
    f = librope.freqs(LLAMA2)
    q = torch.randn(2, 16, 4, 128, dtype=torch.float32)
    k = torch.randn(2, 16, 2, 128, dtype=torch.float32)
    pos = np.arange(300, 316)
    qr, kr = librope.apply_qk(q.to(dtype), k.to(dtype), pos, style="half", freqs=f)
    r = librope.verify(LLAMA2, q=q.to(dtype), q_out=qr, k=k.to(dtype), k_out=kr, positions=pos)
    assert r["verdict"] == "right", r["summary"]
    qr, kr = librope.apply_qk(q.to(dtype), k.to(dtype), pos, style="interleaved", freqs=f)
    r = librope.verify(LLAMA2, q=q.to(dtype), q_out=qr, k=k.to(dtype), k_out=kr, positions=pos)
    assert faults(r) == ["convention"], r["summary"]
    # (batch, heads, seq, D) with per-row positions
    qb = q.transpose(1, 2).contiguous()
    pos2 = np.stack([pos, pos + 7])
    qr = librope.apply(q, pos2, style="half", freqs=f)
    r = librope.verify(LLAMA2, q=qb, q_out=qr.transpose(1, 2).contiguous(), positions=pos2, layout="bhsd")
    assert r["verdict"] == "right", r["summary"]


def test_bad_input_raises():
    c, s = table()
    with pytest.raises(ValueError):
        librope.verify(LLAMA2, cos=c)                       # no sin
    with pytest.raises(ValueError):
        librope.verify(LLAMA2, cos=c, sin=s[:, :10])        # shapes differ
    with pytest.raises(ValueError):
        librope.verify(LLAMA2, cos=c, sin=s, positions=[0, 1])
    with pytest.raises(ValueError):
        librope.verify(LLAMA2, cos=c, sin=s, q=c, q_out=c)  # two kinds of evidence
    with pytest.raises(ValueError):
        librope.verify(LLAMA2, freqs_cis=c)                 # last dim not 2
    with pytest.raises(TypeError):
        librope.verify(LLAMA2, cos=c.astype(str), sin=s)
    with pytest.raises(ValueError):
        librope.verify(LLAMA2, q=np.zeros((4, 2, 64)), q_out=np.zeros((4, 2, 64)))  # head_dim 64 != 128


def test_per_layer_gemma3_and_nope_smollm3():
    g3 = os.path.join(HERE, "..", "data", "configs", "gemma3_1b.json")
    c, s = table(base=1e6, dim=256)  # the full-attention layers' RoPE
    r = librope.verify(g3, cos=c, sin=s, positions=POS, layer=0)  # a sliding layer
    assert faults(r) == ["layer_type_swapped"] and r["layer_type"] == "sliding_attention", r["summary"]
    r = librope.verify(g3, cos=c, sin=s, positions=POS, layer_type="full_attention")
    assert r["verdict"] == "right", r["summary"]
    with pytest.raises(ValueError):
        librope.verify(g3, cos=c, sin=s, positions=POS, layer=26)
    with pytest.raises(ValueError):
        librope.verify(g3, cos=c, sin=s, positions=POS, layer_type="global")
    s3 = os.path.join(HERE, "..", "data", "configs", "smollm3_3b.json")
    m = librope.model(s3)
    nope = [i for i in range(m.n_layers) if m.layer_set(i) is None][0]
    rope_layer = [i for i in range(m.n_layers) if m.layer_set(i) is not None][0]
    f = m.layer_freqs(rope_layer)
    q = np.random.default_rng(5).standard_normal((1, 12, 2, f.head_dim)).astype(np.float32)
    r = librope.verify(s3, q=q, q_out=q.copy(), layer=nope)
    assert r["verdict"] == "right", r["summary"]
    qr = librope.apply(q, np.arange(12), style="half", freqs=f)
    r = librope.verify(s3, q=q, q_out=qr, layer=nope)
    assert faults(r) == ["nope_rotated"], r["summary"]
    r = librope.verify(s3, q=q, q_out=q.copy(), layer=rope_layer)
    assert faults(r) == ["rope_missing"], r["summary"]
    with pytest.raises(ValueError):
        librope.verify(s3, cos=c, sin=s, layer=nope)  # a table for a NoPE layer
