"""librope as a PyTorch operator (torch.library): torch.compile without graph breaks, autograd
through the operator (gradcheck), opcheck; and the autograd.Function path that older torch
(Debian's 1.13, no torch.library.custom_op) keeps using.

scripts/test-python.sh runs this file twice: with Debian's torch 1.13 (the Function path) and
with a current torch from PyPI, where LIBROPE_EXPECT_TORCH_OP=1 makes a missing operator a
failure rather than a row of skips."""
import os

import numpy as np
import pytest
import torch

import librope
from ropref import rotate

F = librope.freqs(rope_theta=10000.0, head_dim=32)
YARN = librope.freqs(rope_theta=1e6, head_dim=32, type="yarn", factor=4.0, original_max_position_embeddings=4096)
PARTIAL = librope.freqs(rope_theta=10000.0, head_dim=32, partial_rotary_factor=0.5, type="linear", factor=2.0)
HAS_OP = librope.torch_op_available()
needs_op = pytest.mark.skipif(not HAS_OP, reason=f"torch {torch.__version__} has no torch.library.custom_op "
                              "(< 2.4): the autograd.Function path is tested instead")


def test_the_operator_is_registered_exactly_where_torch_supports_it():
    lib = torch.library
    assert HAS_OP == (hasattr(lib, "custom_op") and hasattr(lib, "register_autograd")), torch.__version__
    if os.environ.get("LIBROPE_EXPECT_TORCH_OP") == "1":  # the current-PyTorch venv of test-python.sh
        assert HAS_OP, f"torch {torch.__version__}: librope::apply is not registered"


def _qk(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, 6, 4, 32, generator=g).to(dtype)
    k = torch.randn(2, 6, 2, 32, generator=g).to(dtype)
    return q, k


def _scores(q, k, pos):
    """A small attention-score function: RoPE on q and k, then q·k per head pair."""
    qr = librope.rope(q, pos, style="half", freqs=YARN)
    kr = librope.apply(k, pos, style="half", freqs=YARN)
    return torch.einsum("bshd,bskd->bhks", qr, kr) * 0.5


class _Recorder:
    """A torch.compile backend that keeps the FX graphs Dynamo hands it and runs them eagerly."""

    def __init__(self):
        self.graphs = []

    def __call__(self, gm, example_inputs):
        self.graphs.append(gm)
        return gm.forward


@needs_op
def test_compile_fullgraph_puts_the_operator_in_one_graph():
    torch._dynamo.reset()
    q, k = _qk()
    pos = torch.tensor([[0, 1, 2, 3, 4, 5], [7, 8, 9, 10, 11, 12]])
    rec = _Recorder()
    fn = torch.compile(_scores, backend=rec, fullgraph=True)  # fullgraph: a graph break raises
    got = fn(q, k, pos)
    torch.testing.assert_close(got, _scores(q, k, pos), rtol=0, atol=0)
    assert len(rec.graphs) == 1
    targets = [str(n.target) for n in rec.graphs[0].graph.nodes if n.op == "call_function"]
    assert sum("librope.apply" in t for t in targets) == 2, targets
    expl = torch._dynamo.explain(_scores)(q, k, pos)
    assert expl.graph_break_count == 0 and expl.graph_count == 1


@needs_op
def test_compile_with_inductor_matches_eager_and_the_formula():
    torch._dynamo.reset()
    q, k = _qk(1)

    def f(x, off):
        return librope.rope(x, off, style="interleaved", freqs=F) * 2.0 + 1.0

    got = torch.compile(f, fullgraph=True)(q, 100)  # default backend (inductor)
    want = rotate(q.numpy(), np.arange(100, 106), F.inv_freq, "interleaved") * 2.0 + 1.0
    assert np.max(np.abs(got.numpy() - want)) < 1e-5 * np.max(np.abs(want))


@needs_op
def test_compiled_backward_equals_eager_backward():
    torch._dynamo.reset()
    q0, k0 = _qk(2)
    pos = torch.arange(20, 26)
    grads = []
    for fn in (_scores, torch.compile(_scores, backend="aot_eager", fullgraph=True)):
        q, k = q0.clone().requires_grad_(), k0.clone().requires_grad_()
        fn(q, k, pos).square().sum().backward()
        grads.append((q.grad, k.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-6, atol=1e-6)


@needs_op
@pytest.mark.parametrize("case", ["offset", "ids", "batch_ids", "table", "inverse_bhsd"])
def test_opcheck(case):
    """torch.library.opcheck: schema, fake (meta) implementation, autograd registration, and
    AOT dispatch with static and dynamic shapes."""
    x = torch.randn(2, 5, 3, 32, requires_grad=True)
    tab = librope.Table(F, 64)
    key, ids, off, inv, layout = F._key, None, 0, False, "bshd"
    if case == "offset":
        off = 7
    elif case == "ids":
        ids = torch.tensor([3, 1, 4, 1, 5])
    elif case == "batch_ids":
        ids = torch.arange(10).reshape(2, 5)
    elif case == "table":
        key, ids = tab._key, torch.tensor([9, 8, 7, 6, 5])
    else:
        x = torch.randn(2, 3, 5, 32, requires_grad=True)
        inv, layout = True, "bhsd"
    args = (x, ids, off, key, 2, inv, 1.25, layout, 32)
    torch.library.opcheck(torch.ops.librope.apply.default, args)


def _gradcheck(fn):
    """gradcheck in float64 around the float32 library: the map is linear, so central
    differences are exact up to float32 rounding (|x|·2^-24/eps ≈ 1e-5 with eps=1e-2)."""
    x = torch.randn(2, 3, 2, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: fn(t.float()).double(), (x,), eps=1e-2, atol=1e-4, rtol=1e-3)
    assert torch.autograd.gradgradcheck(lambda t: fn(t.float()).double(), (x,), eps=1e-2, atol=1e-4, rtol=1e-3)


SMALL = librope.freqs(rope_theta=100.0, head_dim=8, type="yarn", factor=4.0, original_max_position_embeddings=64)
SMALL_PARTIAL = librope.freqs(rope_theta=100.0, head_dim=8, partial_rotary_factor=0.5)


@pytest.mark.parametrize("style", ["half", "interleaved"])
def test_gradcheck_through_librope(style):
    pos = torch.tensor([[0, 5, 9], [1000, 1, 2]])
    _gradcheck(lambda t: librope.rope(t, pos, style=style, freqs=SMALL))
    _gradcheck(lambda t: librope.apply(t, 3, style=style, freqs=SMALL_PARTIAL, inverse=True))
    _gradcheck(lambda t: librope.apply_qk(t, t[:, :, :1], pos, style=style, table=librope.Table(SMALL, 1001))[1])


def test_gradcheck_through_the_autograd_function_path(monkeypatch):
    """The path torch < 2.4 takes (no operator), forced here on any torch."""
    monkeypatch.setattr(librope, "_OP", None)
    pos = torch.tensor([4, 5, 6])
    _gradcheck(lambda t: librope.rope(t, pos, style="half", freqs=SMALL))
    x = torch.randn(1, 3, 2, 32, requires_grad=True)
    y = librope.apply(x, pos, style="interleaved", freqs=PARTIAL)
    assert y.grad_fn is not None and "RoPEFunction" in type(y.grad_fn).__name__
    y.backward(torch.ones_like(y))
    want = rotate(np.ones((1, 3, 2, 32)), pos.numpy(), PARTIAL.inv_freq, "interleaved", inverse=True)
    assert np.max(np.abs(x.grad.numpy() - want)) < 3e-6


def test_apply_of_a_tensor_that_requires_grad_is_differentiable():
    x = torch.randn(1, 4, 2, 32, requires_grad=True)
    y = librope.apply(x, None, style="half", freqs=YARN)
    assert y.requires_grad and y.grad_fn is not None
    with torch.no_grad():
        assert not librope.apply(x, None, style="half", freqs=YARN).requires_grad


@needs_op
def test_a_freed_freqs_is_a_clear_error_not_a_dangling_pointer():
    f = librope.freqs(rope_theta=10000.0, head_dim=32)
    key = f._key
    del f
    import gc
    gc.collect()
    with pytest.raises(RuntimeError, match="no live librope.Freqs/Table"):
        torch.ops.librope.apply(torch.zeros(1, 1, 1, 32), None, 0, key, 2, False, 1.0, "bshd", 32)
    with pytest.raises(TypeError, match="int64"):
        torch.ops.librope.apply(torch.zeros(1, 2, 1, 32), torch.tensor([0.5, 1.0]), 0, F._key, 2, False, 1.0,
                                "bshd", 32)


def _hf_cos_sin(inv_freq, pos, af=1.0):
    """Hugging Face's rotary embedding output: cat(freqs, freqs), cos/sin times af, float32."""
    fr = pos[..., None].float() * torch.tensor(inv_freq, dtype=torch.float32)
    emb = torch.cat((fr, fr), dim=-1)
    return emb.cos() * af, emb.sin() * af


def _dropins(q, k, cos, sin, fc):
    a, b = librope.apply_rotary_pos_emb(q, k, cos, sin)                    # (b, h, s, d)
    c, d = librope.apply_rotary_emb(q.transpose(1, 2), k.transpose(1, 2), fc)  # (b, s, h, d)
    e, f = librope.apply_qk(q, k, 3, style="interleaved", freqs=F, layout="bhsd")
    return (a * b.sum(1, keepdim=True)).sum() + (c * d.sum(2, keepdim=True)).sum() + (e - f.mean(1, True)).square().sum()


@needs_op
def test_compile_fullgraph_with_the_drop_ins_and_apply_qk():
    torch._dynamo.reset()
    g = torch.Generator().manual_seed(5)
    q0, k0 = torch.randn(2, 4, 6, 32, generator=g), torch.randn(2, 2, 6, 32, generator=g)
    cos, sin = _hf_cos_sin(F.inv_freq_f32, torch.stack([torch.arange(6), torch.arange(10, 16)]), af=1.1)
    fc = torch.polar(torch.ones(6, 16), torch.arange(6.0)[:, None] * torch.tensor(F.inv_freq_f32))
    rec = _Recorder()
    compiled = torch.compile(_dropins, backend=rec, fullgraph=True)
    outs, grads = [], []
    for fn in (_dropins, compiled):
        q, k = q0.clone().requires_grad_(), k0.clone().requires_grad_()
        y = fn(q, k, cos, sin, fc)
        y.backward()
        outs.append(y.detach())
        grads.append((q.grad, k.grad))
    targets = [str(n.target) for n in rec.graphs[0].graph.nodes if n.op == "call_function"]
    assert len(rec.graphs) == 1
    assert sum("librope.apply_rows" in t for t in targets) == 4, targets
    assert sum("librope.apply.default" in t for t in targets) == 2, targets
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-6, atol=1e-6)


@needs_op
@pytest.mark.parametrize("hf", [True, False])
def test_opcheck_rows(hf):
    pos = torch.arange(5)
    if hf:
        x = torch.randn(2, 3, 5, 32, requires_grad=True)          # (b, h, s, d), partial rotary 16
        cos, sin = _hf_cos_sin(F.inv_freq_f32[:8], pos)
        args = (x, cos, sin, 2, "bhsd", True, False)
    else:
        x = torch.randn(2, 5, 3, 32, requires_grad=True)
        fc = torch.polar(torch.ones(5, 16), pos[:, None].float() * torch.tensor(F.inv_freq_f32))
        args = (x, fc.real.contiguous(), fc.imag.contiguous(), 1, "bshd", False, True)
    torch.library.opcheck(torch.ops.librope.apply_rows.default, args)


@needs_op
def test_eager_calls_without_grad_skip_the_operator_dispatch(monkeypatch):
    """The operator where it matters (autograd, torch.compile), a direct C call otherwise."""
    calls = []
    real = librope._OP

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(librope, "_OP", counting)
    x = torch.randn(1, 3, 2, 32)
    y0 = librope.apply(x, None, style="half", freqs=F)
    assert calls == [] and y0.grad_fn is None
    y1 = librope.apply(x.clone().requires_grad_(), None, style="half", freqs=F)
    assert len(calls) == 1 and y1.grad_fn is not None
    assert torch.equal(y0, y1.detach())
