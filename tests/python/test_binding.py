"""librope.apply / cos_sin / Table on NumPy arrays and torch tensors against the float64 formula."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import librope
from ropref import inv_freq, rotate

RNG = np.random.default_rng(7)
F = librope.freqs(rope_theta=10000.0, head_dim=64)


def rel_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    return np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30)


def test_freqs_match_the_formula_and_report_the_model():
    assert F.head_dim == 64 and F.rotary_dim == 64 and F.n_freqs == 32
    np.testing.assert_allclose(F.inv_freq, inv_freq(64), rtol=1e-15)
    assert F.attention_factor == 1.0 and F.type == "default"
    y = librope.freqs(rope_theta=1e6, head_dim=128, type="yarn", factor=4.0, original_max_position_embeddings=32768)
    assert y.attention_factor == pytest.approx(0.1 * np.log(4.0) + 1)
    assert set(y.band) == {"unscaled", "blend", "scaled"}


def test_cos_sin_accurate_within_an_ulp_of_float64_at_position_one_million():
    pos = np.array([0, 1, 4095, 65536, 1_000_000])
    cos, sin = librope.cos_sin(F, pos)
    ang = pos[:, None].astype(np.float64) * F.inv_freq
    assert cos.dtype == np.float32 and cos.shape == (5, 32)
    assert np.max(np.abs(cos - np.cos(ang)) / np.spacing(np.float32(1))) <= 1.0
    assert np.max(np.abs(sin - np.sin(ang)) / np.spacing(np.float32(1))) <= 1.0
    c2, s2 = librope.cos_sin(F, pos, compat=True)  # HF float32 arithmetic: visibly worse far out
    assert np.max(np.abs(c2[-1] - np.cos(ang[-1]))) > 1e-3


def test_table_rows_equal_cos_sin():
    t = librope.Table(F, 100)
    cos, sin = librope.cos_sin(F, 100)
    assert t.rows == 100 and t.n_freqs == 32
    np.testing.assert_array_equal(t.cos, cos)
    np.testing.assert_array_equal(t.sin, sin)
    t2 = librope.Table(F, [5, 7, 1000])
    np.testing.assert_array_equal(t2.cos, librope.cos_sin(F, [5, 7, 1000])[0])


@pytest.mark.parametrize("style", ["half", "interleaved"])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float16, 2e-3)])
def test_numpy_apply_matches_float64_formula(style, dtype, tol):
    x = RNG.standard_normal((2, 9, 3, 64)).astype(dtype)
    pos = np.array([0, 1, 2, 3, 100, 4095, 4096, 70000, 1 << 20])
    y = librope.apply(x, pos, style=style, freqs=F)
    assert y.dtype == dtype and y.shape == x.shape
    assert rel_err(y, rotate(x, pos, F.inv_freq, style)) < tol
    # through a table: same rows, same result
    yt = librope.apply(x, pos, style=style, table=librope.Table(F, (1 << 20) + 1))
    assert rel_err(yt, rotate(x, pos, F.inv_freq, style)) < tol


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)])
def test_torch_apply_dtypes(dtype, tol):
    x = torch.randn(2, 5, 4, 64).to(dtype)
    pos = torch.tensor([[3, 4, 5, 6, 7], [0, 10, 20, 30, 40]])
    y = librope.apply(x, pos, style="half", freqs=F)
    assert y.dtype == dtype
    want = rotate(x.float().numpy(), pos.numpy(), F.inv_freq, "half")
    assert rel_err(y.float().numpy(), want) < tol


def test_strided_views_are_used_without_copies_and_rotated_correctly():
    # packed QKV buffer (b, s, 3, h, d) in bhsd order: q is a strided view
    buf = torch.randn(2, 3, 6, 4, 64)            # (b, qkv, s, h, d)
    q = buf[:, 0].permute(0, 1, 2, 3)             # (b, s, h, d) view
    k_bhsd = torch.randn(2, 4, 6, 64)             # (b, h, s, d)
    before = buf.clone()
    librope.apply(q, 7, style="interleaved", freqs=F, out=q)   # in place, offset 7
    want = rotate(before[:, 0].numpy(), np.arange(7, 13), F.inv_freq, "interleaved")
    assert rel_err(buf[:, 0].numpy(), want) < 2e-6
    torch.testing.assert_close(buf[:, 1:], before[:, 1:], rtol=0, atol=0)  # k, v untouched
    y = librope.apply(k_bhsd, None, style="half", freqs=F, layout="bhsd")
    want = rotate(k_bhsd.transpose(1, 2).numpy(), np.arange(6), F.inv_freq, "half")
    assert rel_err(y.transpose(1, 2).numpy(), want) < 2e-6


def test_numpy_negative_and_odd_strides():
    base = RNG.standard_normal((2, 8, 3, 130)).astype(np.float32)
    x = base[:, ::-2, :, 1:65]                    # reversed seq, skip rows, offset head dims
    pos = np.array([5, 6, 7, 8])
    y = librope.apply(x, pos, style="half", freqs=F)
    assert rel_err(y, rotate(x, pos, F.inv_freq, "half")) < 2e-6
    x2 = x.copy()
    out = base.copy()[:, ::-2, :, 1:65]
    librope.apply(x2, pos, style="half", freqs=F, out=out)
    np.testing.assert_array_equal(out, y)


def test_in_place_numpy_and_inverse_round_trip():
    x = RNG.standard_normal((1, 16, 2, 64)).astype(np.float32)
    orig = x.copy()
    librope.apply(x, 1000, style="interleaved", freqs=F, out=x)
    assert not np.allclose(x, orig)
    librope.apply(x, 1000, style="interleaved", freqs=F, out=x, inverse=True)
    np.testing.assert_allclose(x, orig, atol=3e-6)


def test_partial_rotary_copies_the_tail_bit_for_bit():
    f = librope.freqs(rope_theta=10000.0, hidden_size=6144, num_attention_heads=64, partial_rotary_factor=0.25)
    assert f.rotary_dim == 24 and f.head_dim == 96
    x = torch.randn(1, 4, 2, 96)
    y = librope.apply(x, None, style="half", freqs=f)
    assert torch.equal(y[..., 24:], x[..., 24:])
    want = rotate(x.numpy(), np.arange(4), f.inv_freq, "half")
    assert rel_err(y.numpy(), want) < 2e-6


def test_attention_factor_defaults_to_the_models_and_can_be_overridden():
    f = librope.freqs(rope_theta=1e6, head_dim=64, type="yarn", factor=4.0, original_max_position_embeddings=4096)
    x = RNG.standard_normal((1, 3, 1, 64)).astype(np.float32)
    y = librope.apply(x, None, style="half", freqs=f)
    assert rel_err(y, rotate(x, np.arange(3), f.inv_freq, "half", af=f.attention_factor)) < 2e-6
    y1 = librope.apply(x, None, style="half", freqs=f, attention_factor=1.0)
    assert rel_err(y1, rotate(x, np.arange(3), f.inv_freq, "half")) < 2e-6


def test_qk_gqa_in_one_call():
    q, k = torch.randn(2, 5, 8, 64), torch.randn(2, 5, 2, 64)
    qo, ko = librope.apply_qk(q, k, 3, style="half", freqs=F)
    assert rel_err(qo.numpy(), rotate(q.numpy(), np.arange(3, 8), F.inv_freq, "half")) < 2e-6
    assert rel_err(ko.numpy(), rotate(k.numpy(), np.arange(3, 8), F.inv_freq, "half")) < 2e-6


def test_results_do_not_depend_on_threads():
    x = torch.randn(4, 256, 8, 64)
    y1 = librope.apply(x, None, style="half", freqs=F)
    librope.set_num_threads(2)
    try:
        y2 = librope.apply(x, None, style="half", freqs=F)
    finally:
        librope.set_num_threads(1)
    assert torch.equal(y1, y2)


ISA_RUN = """
import sys
sys.modules["torch"] = None  # librope without torch: a faster start, and that path too
import numpy as np, librope
f = librope.freqs(rope_theta=10000.0, head_dim=64)
x = np.random.default_rng(3).standard_normal((2, 33, 3, 64)).astype(np.float32)
y = librope.apply(x, np.arange(100000, 100033), style="interleaved", freqs=f)
np.save(sys.argv[1], y)
print(librope.isa_name())
"""


def test_every_isa_agrees_with_scalar(tmp_path):
    """Each kernel set, picked by ROPE_ISA in a fresh process (the library's only switch)."""
    res = {}
    for name in librope.isa_available():
        out = tmp_path / f"{name}.npy"
        r = subprocess.run([sys.executable, "-c", ISA_RUN, str(out)], capture_output=True, text=True,
                           env=dict(os.environ, ROPE_ISA=name), timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == name
        res[name] = np.load(out)
    assert "scalar" in res
    for name, y in res.items():
        np.testing.assert_array_equal(y, res["scalar"], err_msg=name)


def test_bad_input_gives_clear_errors():
    x = np.zeros((1, 2, 1, 64), np.float32)
    with pytest.raises(ValueError, match="style"):
        librope.apply(x, None, style="rotate", freqs=F)
    with pytest.raises(TypeError, match="float64"):
        librope.apply(x.astype(np.float64), None, style="half", freqs=F)
    with pytest.raises(librope.RopeError, match="position"):
        librope.apply(x, None, style="half", table=librope.Table(F, 1))
    with pytest.raises(librope.RopeError):
        librope.apply(x, np.array([-1, 0]), style="half", freqs=F)
    with pytest.raises(ValueError, match="exactly one"):
        librope.apply(x, None, style="half")
    with pytest.raises(ValueError, match="4-D"):
        librope.apply(np.zeros((2, 64), np.float32), None, style="half", freqs=F)
    with pytest.raises(librope.RopeError):
        librope.freqs(rope_theta=10000.0, head_dim=63)
    with pytest.raises(librope.RopeError):
        librope.freqs(rope_theta=10000.0, head_dim=64, type="nonsense")
    with pytest.raises(TypeError, match="unknown field"):
        librope.freqs(rope_theta=10000.0, head_dim=64, rope_thetta=1.0)
    buf = np.zeros((1, 2, 1, 65), np.float32)
    with pytest.raises(librope.RopeError, match="overlap"):  # overlapping, not exactly in place
        librope.apply(buf[..., :64], None, style="half", freqs=F, out=buf[..., 1:])
