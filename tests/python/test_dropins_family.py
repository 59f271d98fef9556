"""The per-family drop-ins (librope.gptj, librope.gemma4, librope.deepseek_v3, the last also on
Mistral Large 4, whose attention calls the same function) against each
family's own transformers apply function, through the golden vectors of tests/golden/layers/
(written by tests/golden/gen_layers.py from transformers 5.24.0): called with the rows the
family's rotary embedding produced, they must give HF's outputs bit for bit (the same float32
products and sum in the same order). With torch: the same against a torch transcription of
each formula written here, on random data, and the gradients (librope's inverse rotation)
against torch autograd of that transcription."""
import numpy as np
import pytest

import librope
from librope import deepseek_v3, gemma4, gptj

from test_conformance_layers import load, nums

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _rows(rec, key):
    """The stored cos/sin rows (first halves) of the positions the apply used."""
    P = len(rec["positions"].split())
    return nums(rec[key], np.float32).reshape(P, -1)[nums(rec["apply_rows"], np.int64)]


def _qk(rec, w):
    shape = tuple(nums(rec[w + "_shape"], np.int64))
    return nums(rec[w], np.float32).reshape(shape), nums(rec[w + "_out"], np.float32).reshape(shape)


def test_gptj_matches_transformers_bitwise():
    _, sets = load("gptj_6b")
    rec = sets["full_attention"]
    cos, sin = _rows(rec, "cos"), _rows(rec, "sin")          # (S, rotary_dim/2)
    r = 2 * cos.shape[1]
    for w in ("q", "k"):
        x, want = _qk(rec, w)                                # (b, h, s, d): GPT-J wants (b, s, h, d)
        x, want = x.transpose(0, 2, 1, 3), want.transpose(0, 2, 1, 3)
        got = gptj.apply_rotary_pos_emb(np.ascontiguousarray(x[..., :r]), sin[None], cos[None])
        assert got.dtype == np.float32 and got.shape == x[..., :r].shape
        assert np.array_equal(got, want[..., :r]), w        # GPTJAttention rotates [:rotary_dim] only
        assert np.array_equal(x[..., r:], want[..., r:])    # (the golden's pass-through part)


def test_gemma4_proportional_matches_transformers_bitwise():
    _, sets = load("gemma4_e2b")
    for name in ("full_attention", "sliding_attention"):   # proportional (identity pairs), default
        rec = sets[name]
        cos, sin = _rows(rec, "cos"), _rows(rec, "sin")
        hc, hs = np.concatenate([cos, cos], -1)[None], np.concatenate([sin, sin], -1)[None]  # HF's rows
        for w in ("q", "k"):
            x, want = _qk(rec, w)                            # (b, h, s, d): unsqueeze_dim=1
            got = gemma4.apply_rotary_pos_emb(x, hc, hs)
            assert np.array_equal(got, want), (name, w)
            got2 = gemma4.apply_rotary_pos_emb(np.ascontiguousarray(x.transpose(0, 2, 1, 3)), hc, hs,
                                               unsqueeze_dim=2)
            assert np.array_equal(got2.transpose(0, 2, 1, 3), want), (name, w)
    full = sets["full_attention"]
    n_live = int((nums(full["inv_freq"]) != 0).sum())
    assert 0 < n_live < len(full["inv_freq"].split())       # the identity pairs were exercised


@pytest.mark.parametrize("name", ["deepseek_v3", "mistral_large4"])  # both call apply_rotary_pos_emb_interleave
def test_deepseek_v3_interleave_matches_transformers_bitwise(name):
    _, sets = load(name)
    rec = next(r for r in sets.values() if "rope_offset" in r)
    off = int(rec["rope_offset"])
    cos, sin = _rows(rec, "cos"), _rows(rec, "sin")
    hc, hs = np.concatenate([cos, cos], -1)[None], np.concatenate([sin, sin], -1)[None]
    (q, qw), (k, kw) = _qk(rec, "q"), _qk(rec, "k")
    qr, kr = np.ascontiguousarray(q[..., off:]), np.ascontiguousarray(k[..., off:])
    gq, gk = deepseek_v3.apply_rotary_pos_emb_interleave(qr, kr, hc, hs)
    assert np.array_equal(gq, qw[..., off:]) and np.array_equal(gk, kw[..., off:])
    # transformers reads only the first half of cos/sin: a different second half changes nothing
    gq2, _ = deepseek_v3.apply_rotary_pos_emb_interleave(qr, kr, np.concatenate([cos, 0 * cos], -1)[None], hs)
    assert np.array_equal(gq2, gq)
    # the whole [nope | rope] head without a copy: librope.apply on the rope slice, in place
    buf = q.copy()
    view = buf[..., off:]
    librope.apply(view, None, style="deinterleave", table=librope.Table.from_cos_sin(cos, sin),
                  layout="bhsd", out=view)
    assert np.array_equal(buf, qw)


def test_dropins_refuse_bad_shapes():
    x = np.zeros((1, 2, 3, 8), np.float32)
    c = np.ones((1, 3, 8), np.float32)
    with pytest.raises(ValueError):
        gemma4.apply_rotary_pos_emb(x, c, c, unsqueeze_dim=3)
    with pytest.raises(ValueError):
        gemma4.apply_rotary_pos_emb(x, c[..., :6], c[..., :6])               # width != head_dim
    with pytest.raises(ValueError):
        gemma4.apply_rotary_pos_emb(x, np.concatenate([c[..., :4], 0 * c[..., :4]], -1), c)  # halves differ
    with pytest.raises(ValueError):
        gptj.apply_rotary_pos_emb(x, c[..., :3], c[..., :3])                  # needs dim/2 = 4 angles
    with pytest.raises(ValueError):
        deepseek_v3.apply_rotary_pos_emb_interleave(x, x, c[:, :2], c[:, :2])  # rows for 2 of 3 tokens
    with pytest.raises(TypeError):
        deepseek_v3.apply_rotary_pos_emb_interleave(x.astype(np.float64), x, c, c)


# ------------------------------------------------------------------------------- torch

def _ref_gptj(x, sin, cos):        # (b, s, h, d), (b, s, d/2): pairs (2i, 2i+1)
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * c - x1 * s, x1 * c + x0 * s], dim=-1).flatten(-2)


def _ref_half(x, cos, sin):        # (b, h, s, d), (b, s, d) halves equal: pairs (i, i + d/2)
    n = x.shape[-1] // 2
    c, s = cos[:, None, :, :n], sin[:, None, :, :n]
    x0, x1 = x[..., :n], x[..., n:]
    return torch.cat([x0 * c - x1 * s, x1 * c + x0 * s], dim=-1)


def _ref_deint(x, cos, sin):       # (b, h, s, d): pairs (2i, 2i+1) in, [even | odd] out
    n = x.shape[-1] // 2
    c, s = cos[:, None, :, :n], sin[:, None, :, :n]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.cat([x0 * c - x1 * s, x1 * c + x0 * s], dim=-1)


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("family", ["gptj", "gemma4", "deepseek_v3"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_dropins_match_torch_formula_and_gradients(family, dtype):
    g = torch.Generator().manual_seed(7)
    dt = getattr(torch, dtype)
    B, H, S, D = 2, 3, 5, 48
    ang = torch.rand(B, S, D // 2, generator=g, dtype=torch.float64) * 50
    cos, sin = ang.cos().float(), ang.sin().float()
    x = torch.randn(B, H, S, D, generator=g).to(dt)
    if family == "gptj":
        x = x.transpose(1, 2).contiguous()
        ours = lambda t: gptj.apply_rotary_pos_emb(t, sin, cos)
        ref = lambda t: _ref_gptj(t, sin, cos)
    else:
        hc, hs = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
        if family == "gemma4":
            ours = lambda t: gemma4.apply_rotary_pos_emb(t, hc, hs)
            ref = lambda t: _ref_half(t, hc, hs)
        else:
            ours = lambda t: deepseek_v3.apply_rotary_pos_emb_interleave(t, t, hc, hs)[1]
            ref = lambda t: _ref_deint(t, hc, hs)
    xa = x.clone().requires_grad_(True)
    xb = x.float().clone().requires_grad_(True)
    ya, yb = ours(xa), ref(xb)
    assert ya.dtype == dt and ya.shape == x.shape
    if dt == torch.float32:
        assert torch.equal(ya, yb)                       # same products, same order
    else:                                                # one bf16 rounding of the f32 result
        assert torch.equal(ya, yb.to(dt))
    w = torch.randn(x.shape, generator=g)
    (ya.float() * w).sum().backward()
    (yb * w).sum().backward()
    tol = 1e-5 if dt == torch.float32 else 2e-2
    assert torch.allclose(xa.grad.float(), xb.grad, atol=tol, rtol=tol), family
