"""Conformance with Hugging Face transformers and Meta llama through the golden vectors in
tests/golden/ (outputs of the real peers, transformers 5.23.0 / llama-models 0.3.0; see its
README). Each case's config is written back as a HF config.json dict, so this also checks the
binding's config parsing. Tolerances as tests/test_golden.c states them."""
import numpy as np
import pytest
import torch

import librope
from ropref import f32, golden_cases, load_golden, ulp32

CASES = golden_cases()


def hf_config(rec):
    """The case's cfg.* fields as a HF config.json would hold them."""
    cfg, rs = {}, {}
    for key, vals in rec.items():
        if not key.startswith("cfg."):
            continue
        k = key[4:]
        if k in ("hidden_size", "num_attention_heads", "head_dim", "max_position_embeddings"):
            cfg[k] = int(vals[0])
        elif k == "rope_theta":
            cfg[k] = float(vals[0])
        elif k == "partial_rotary_factor":
            cfg[k] = float(vals[0])
        elif k == "type":
            rs["rope_type"] = vals[0]
        elif k in ("short_factor", "long_factor"):
            rs[k] = [float(v) for v in vals]
        elif k == "mrope_section":
            rs["type"] = "mrope"
            rs[k] = [int(v) for v in vals]
        elif k == "truncate":
            rs[k] = vals[0] not in ("0", "false", "False")
        elif k == "original_max_position_embeddings":
            rs[k] = int(vals[0])
        else:
            rs[k] = float(vals[0])
    if rs.get("rope_type") == "default" and "mrope_section" not in rs:
        rs = {}
    if rs.get("rope_type") == "default" and "mrope_section" in rs:
        del rs["rope_type"]
    if rs:
        cfg["rope_scaling"] = rs
    return cfg


def case_freqs(rec):
    seq_len = int(rec["seq_len"][0])
    return librope.freqs(hf_config(rec), seq_len=seq_len)


@pytest.mark.parametrize("name", CASES)
def test_inv_freq_and_attention_factor_match_hf(name):
    rec = load_golden(name)
    f = case_freqs(rec)
    hf = f32(rec, "inv_freq")
    assert f.rotary_dim == int(rec["rotary_dim"][0])
    u = np.abs(f.inv_freq_f32.astype(np.float64) - hf) / ulp32(hf)
    assert u.max() <= 1.0, f"inv_freq_f32 {u.max()} ulp from HF"
    assert f.attention_factor == pytest.approx(float(rec["attention_factor"][0]), rel=1e-12)
    if "softmax_scale_factor" in rec:
        assert f.softmax_scale_factor == pytest.approx(float(rec["softmax_scale_factor"][0]), rel=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_compat_cos_sin_match_hf_within_2_ulp(name):
    rec = load_golden(name)
    f = case_freqs(rec)
    pos = np.array([int(p) for p in rec["positions"]])
    p_, n = (int(v) for v in rec["cos_shape"])
    want_c, want_s = f32(rec, "cos", (p_, n)), f32(rec, "sin", (p_, n))
    cos, sin = librope.cos_sin(f, pos, compat=True)
    af = np.float32(f.attention_factor)
    for got, want in ((cos * af, want_c), (sin * af, want_s)):
        # θ32 may differ from torch's powf by 1 ulp in a few entries: allow pos·Δθ on top of 2 ulp
        dth = np.abs(f.inv_freq_f32.astype(np.float64) - f32(rec, "inv_freq"))
        bound = 2 * ulp32(want) + f.attention_factor * (pos[:, None] * dth + (dth > 0) * ulp32(pos[:, None] * dth + 1))
        assert np.all(np.abs(got.astype(np.float64) - want) <= bound)


def _apply_inputs(rec, key):
    shape = tuple(int(v) for v in rec[key + "_shape"]) if key + "_shape" in rec else tuple(int(v) for v in rec["q_shape"])
    return f32(rec, key, shape), shape


@pytest.mark.parametrize("name", [c for c in CASES if load_golden(c)["style"][0] == "half"
                                  and "thw" not in load_golden(c)])
def test_hf_dropin_reproduces_hf_apply_rotary_pos_emb(name):
    """librope.apply_rotary_pos_emb fed with HF's own cos/sin rows gives HF's q_out/k_out."""
    rec = load_golden(name)
    p_, n = (int(v) for v in rec["cos_shape"])
    rows = [int(r) for r in rec["apply_rows"]]
    half_c, half_s = f32(rec, "cos", (p_, n))[rows], f32(rec, "sin", (p_, n))[rows]
    cos = torch.from_numpy(np.concatenate([half_c, half_c], -1))[None]
    sin = torch.from_numpy(np.concatenate([half_s, half_s], -1))[None]
    q, k = _apply_inputs(rec, "q")[0], _apply_inputs(rec, "k")[0]
    qo, ko = librope.apply_rotary_pos_emb(torch.from_numpy(q), torch.from_numpy(k), cos, sin)
    for got, key in ((qo, "q_out"), (ko, "k_out")):
        want = f32(rec, key, got.shape)
        tol = 1e-6 * (np.abs(q).max() + 1) * 2
        assert np.max(np.abs(got.numpy() - want)) <= tol, key


@pytest.mark.parametrize("name", [c for c in CASES if load_golden(c)["style"][0] == "half"
                                  and "thw" not in load_golden(c)])
def test_librope_apply_from_config_matches_hf_outputs(name):
    """The whole path config -> freqs -> compat table -> apply, against HF's outputs."""
    rec = load_golden(name)
    f = case_freqs(rec)
    pos = np.array([int(p) for p in rec["positions"]])[[int(r) for r in rec["apply_rows"]]]
    q = _apply_inputs(rec, "q")[0]
    table = librope.Table(f, pos, compat=True)
    got = librope.apply(q, np.arange(len(pos)), style="half", table=table, layout="bhsd")
    want = f32(rec, "q_out", q.shape)
    # compat angles match HF's up to pos·Δθ (1-ulp θ differences), so allow that much rotation error
    dth = np.max(np.abs(f.inv_freq_f32.astype(np.float64) - f32(rec, "inv_freq")))
    tol = (4e-6 + pos.max() * dth * 2) * f.attention_factor * np.abs(q).max() * np.sqrt(q.shape[-1])
    assert np.max(np.abs(got - want)) <= tol


@pytest.mark.parametrize("name", [c for c in CASES if "meta_q" in load_golden(c)])
def test_meta_dropin_reproduces_meta_apply_rotary_emb(name):
    rec = load_golden(name)
    q = f32(rec, "meta_q")
    k = f32(rec, "meta_k")
    mc, ms = f32(rec, "meta_cos"), f32(rec, "meta_sin")
    # meta_q: (batch, seq, heads, head_dim) with the same sizes as q (batch, heads, seq, head_dim)
    b, h, s, d = (int(v) for v in rec["q_shape"])
    kb, kh, ks, kd = (int(v) for v in rec["k_shape"])
    q = q.reshape(b, s, h, d)
    k = k.reshape(kb, ks, kh, kd)
    rows = [int(r) for r in rec["apply_rows"]]  # freqs_cis rows of the apply call
    mc, ms = mc.reshape(-1, d // 2)[rows], ms.reshape(-1, d // 2)[rows]
    fc = torch.complex(torch.from_numpy(np.ascontiguousarray(mc)), torch.from_numpy(np.ascontiguousarray(ms)))
    qo, ko = librope.apply_rotary_emb(torch.from_numpy(q), torch.from_numpy(k), fc)
    for got, key in ((qo, "meta_q_out"), (ko, "meta_k_out")):
        want = f32(rec, key, tuple(got.shape))
        assert np.max(np.abs(got.numpy() - want)) <= 2e-6 * (np.abs(q).max() + 1), key


def test_mrope_table_matches_qwen2_vl():
    """Qwen2-VL M-RoPE: t/h/w planes over frequency sections [16, 24, 24] (HF's cos/sin for a grid)."""
    rec = load_golden("qwen2_vl_7b")
    f = case_freqs(rec)
    assert f.mrope_section == [16, 24, 24]
    p_, n = (int(v) for v in rec["cos_shape"])
    thw = np.array([int(v) for v in rec["thw"]]).reshape(3, p_)
    t = librope.Table.mrope(f, thw, compat=True)
    want_c, want_s = f32(rec, "cos_thw", (p_, n)), f32(rec, "sin_thw", (p_, n))
    dth = np.abs(f.inv_freq_f32.astype(np.float64) - f32(rec, "inv_freq"))
    bound = 2 * ulp32(want_c) + thw.max() * dth.max() + 1e-30
    assert np.all(np.abs(t.cos - want_c) <= bound) and np.all(np.abs(t.sin - want_s) <= 2 * ulp32(want_s) + thw.max() * dth.max())
    with pytest.raises(ValueError, match="3, n"):
        librope.Table.mrope(f, thw[:2])
