"""Drop-ins against pure-torch re-implementations of the peers' formulas, and autograd."""
import numpy as np
import pytest
import torch

import librope
from ropref import rotate

torch.manual_seed(0)


# --- the peers' formulas, written out in torch (Hugging Face modeling_llama, Meta llama/model.py)
def hf_rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_apply(q, k, cos, sin, unsqueeze_dim=1):
    cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
    return q * cos + hf_rotate_half(q) * sin, k * cos + hf_rotate_half(k) * sin


def hf_cos_sin(inv_freq, position_ids, af=1.0, dtype=torch.float32):
    freqs = (inv_freq[None, :, None].float() @ position_ids[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * af).to(dtype), (emb.sin() * af).to(dtype)


def meta_freqs_cis(dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = torch.arange(end, device=freqs.device, dtype=torch.float32)
    return torch.polar(torch.ones(end, dim // 2), torch.outer(t, freqs))


def meta_apply(xq, xk, freqs_cis):
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    fc = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
    return (torch.view_as_real(xq_ * fc).flatten(3).type_as(xq),
            torch.view_as_real(xk_ * fc).flatten(3).type_as(xk))


F = librope.freqs(rope_theta=10000.0, head_dim=64)
INV = torch.tensor(F.inv_freq_f32)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float16, 2e-3), (torch.bfloat16, 2e-2)])
def test_hf_apply_rotary_pos_emb_dropin(dtype, tol):
    b, h, kvh, s, d = 2, 4, 2, 7, 64
    q, k = torch.randn(b, h, s, d).to(dtype), torch.randn(b, kvh, s, d).to(dtype)
    pid = torch.stack([torch.arange(s), torch.arange(100, 100 + s)])  # per-row positions
    cos, sin = hf_cos_sin(INV, pid, af=1.25, dtype=dtype)
    wq, wk = hf_apply(q.float(), k.float(), cos.float(), sin.float())  # the formula, in float32
    gq, gk = librope.apply_rotary_pos_emb(q, k, cos, sin)
    assert gq.dtype == dtype and gq.shape == q.shape and gk.shape == k.shape
    scale = float(wq.abs().max())
    assert float((gq.float() - wq).abs().max()) <= tol * scale
    assert float((gk.float() - wk).abs().max()) <= tol * scale


def test_hf_dropin_bshd_shared_cos_and_partial_rotary():
    q, k = torch.randn(1, 5, 3, 96), torch.randn(1, 5, 1, 96)  # (b, s, h, d), unsqueeze_dim=2
    cos, sin = hf_cos_sin(INV[:12], torch.arange(5)[None])        # rotary_dim 24 of 96 (NeoX)
    gq, gk = librope.apply_rotary_pos_emb(q, k, cos[0], sin[0], unsqueeze_dim=2)
    cq, sq = cos.unsqueeze(2), sin.unsqueeze(2)
    r = 24
    wq = torch.cat([q[..., :r] * cq + hf_rotate_half(q[..., :r]) * sq, q[..., r:]], dim=-1)
    torch.testing.assert_close(gq, wq, rtol=0, atol=2e-6)
    assert torch.equal(gk[..., r:], k[..., r:])


def test_hf_dropin_rejects_non_duplicated_halves():
    q = torch.randn(1, 1, 2, 8)
    cos, sin = torch.rand(1, 2, 8), torch.rand(1, 2, 8)
    with pytest.raises(ValueError, match="halves"):
        librope.apply_rotary_pos_emb(q, q, cos, sin)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.bfloat16, 2e-2)])
def test_meta_apply_rotary_emb_dropin(dtype, tol):
    xq, xk = torch.randn(2, 9, 4, 64).to(dtype), torch.randn(2, 9, 2, 64).to(dtype)
    fc = meta_freqs_cis(64, 9)
    wq, wk = meta_apply(xq.float(), xk.float(), fc)
    gq, gk = librope.apply_rotary_emb(xq, xk, fc)
    assert gq.dtype == dtype and gk.shape == xk.shape
    scale = float(wq.abs().max())
    assert float((gq.float() - wq).abs().max()) <= tol * scale
    assert float((gk.float() - wk).abs().max()) <= tol * scale


def test_meta_dropin_checks_freqs_cis():
    x = torch.randn(1, 4, 1, 8)
    with pytest.raises(TypeError, match="complex"):
        librope.apply_rotary_emb(x, x, torch.ones(4, 4))
    with pytest.raises(ValueError, match="seq"):
        librope.apply_rotary_emb(x, x, meta_freqs_cis(8, 3))


# --- autograd: backward is the library's inverse rotation

@pytest.mark.parametrize("style", ["half", "interleaved"])
def test_backward_is_the_transposed_rotation(style):
    f = librope.freqs(rope_theta=1e6, head_dim=64, type="yarn", factor=4.0, original_max_position_embeddings=4096)
    x = torch.randn(2, 6, 3, 64, requires_grad=True)
    pos = torch.arange(50, 56)
    y = librope.rope(x, pos, style=style, freqs=f)
    g = torch.randn_like(y)
    y.backward(g)
    # dy/dx = af·R(θ); its transpose applied to g is af·R(-θ)·g
    want = rotate(g.numpy(), pos.numpy(), f.inv_freq, style, af=f.attention_factor, inverse=True)
    got = x.grad.numpy()
    assert np.max(np.abs(got - want)) <= 3e-6 * np.max(np.abs(want))
    # and <R x, g> == <x, R^T g> (adjoint identity)
    lhs = float((y.detach().double() * g.double()).sum())
    rhs = float((x.detach().double() * x.grad.double()).sum())
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_gradcheck_against_finite_differences():
    """torch.autograd.gradcheck in float64 around the float32 library: the map is linear, so
    central differences are exact up to float32 rounding (|x|·2^-24/eps ≈ 1e-5 with eps=1e-2)."""
    f = librope.freqs(rope_theta=10000.0, head_dim=16)

    class F64(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return librope.RoPEFunction.forward(ctx, x.float(), 3, "half", f, None, None, "bshd").double()

        @staticmethod
        def backward(ctx, g):
            return librope.RoPEFunction.backward(ctx, g.float())[0].double()

    x = torch.randn(1, 3, 2, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(F64.apply, (x,), eps=1e-2, atol=1e-4, rtol=1e-3)


def test_backward_handles_broadcast_and_strided_gradients():
    x = torch.randn(1, 4, 2, 32, requires_grad=True)
    f = librope.freqs(rope_theta=10000.0, head_dim=32)
    librope.rope(x, None, style="interleaved", freqs=f).sum().backward()  # grad: expanded ones, stride 0
    want = rotate(np.ones((1, 4, 2, 32)), np.arange(4), f.inv_freq, "interleaved", inverse=True)
    assert np.max(np.abs(x.grad.numpy() - want)) < 3e-6


def test_rope_in_a_small_training_step_matches_the_torch_formula():
    f = librope.freqs(rope_theta=10000.0, head_dim=64)
    q = torch.randn(1, 8, 2, 64, requires_grad=True)
    k = torch.randn(1, 8, 2, 64, requires_grad=True)
    pos = torch.arange(8)[None]
    cos, sin = hf_cos_sin(torch.tensor(f.inv_freq_f32), pos)
    ql, kl = librope.rope(q, pos, style="half", freqs=f), librope.rope(k, pos, style="half", freqs=f)
    (ql * kl).sum().backward()
    ga = (q.grad.clone(), k.grad.clone())
    q.grad = k.grad = None
    qr, kr = hf_apply(q, k, cos, sin, unsqueeze_dim=2)
    (qr * kr).sum().backward()
    torch.testing.assert_close(ga[0], q.grad, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ga[1], k.grad, atol=2e-5, rtol=1e-5)
