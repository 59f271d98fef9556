"""2-D (axial) vision RoPE in Python against the real transformers vision towers
(tests/golden/vision/*.txt from tests/golden/gen_vision.py): Table.axial with each family's
column map, then librope.apply (half pairs), reproduce Qwen2.5-VL's apply_rotary_pos_emb_vision,
Pixtral's apply_rotary_pos_emb and Gemma 4's apply_multidimensional_rope (two half-head views)."""
import os

import numpy as np
import pytest

import librope

GOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "vision")


def load(name):
    rec = {}
    for line in open(os.path.join(GOLD, name + ".txt")):
        if not line.startswith("#") and line.strip():
            k, _, v = line.rstrip("\n").partition(" ")
            rec[k] = v
    return rec


@pytest.mark.parametrize("name,pixtral", [("qwen25_vl_vision", False), ("qwen3_vl_vision", False),
                                          ("pixtral_12b_vision", True),
                                          ("gemma4_vision", False)])
def test_axial_table_and_apply_match_transformers(name, pixtral):
    rec = load(name)
    D = int(rec["head_dim"])
    N = int(rec["n_tokens"])
    f = librope.freqs(head_dim=D if pixtral else D // 2, rope_theta=float(rec["rope_theta"]))
    q4 = D // 4
    axis = [0] * q4 + [1] * q4
    freq = (list(range(0, 2 * q4, 2)) + list(range(1, 2 * q4, 2))) if pixtral else list(range(q4)) * 2
    coords = np.array(rec["coords"].split(), dtype=np.int64).reshape(N, 2).T.copy()     # (2, N): h, w
    t = librope.Table.axial(f, coords, axis, freq, compat=True)
    cos = np.array(rec["cos"].split(), dtype=np.float64).reshape(N, D // 2)
    pos = coords[axis, :].T                                                              # (N, cols)
    hf_theta = np.array(rec["inv_freq"].split(), dtype=np.float64)
    hf_theta = hf_theta if pixtral else np.tile(hf_theta, 2)
    dth = np.abs(f.inv_freq_f32[freq].astype(np.float64) - hf_theta)
    slack = pos * dth + np.where(dth > 0, 1.2e-7 * pos * hf_theta, 0)
    assert (np.abs(t.cos - cos) <= 2.4e-7 + slack).all()
    for w in ("q", "k"):
        x = np.array(rec[w].split(), dtype=np.float32).reshape(1, N, 1, D)
        want = np.array(rec[w + "_out"].split(), dtype=np.float32).reshape(1, N, 1, D)
        if name == "gemma4_vision":   # h half and w half, each rotate_half'd: two applies on strided views
            got = x.copy()
            for half in range(2):
                th = librope.Table.axial(f, coords, [half] * q4, list(range(q4)), compat=True)
                v = got[..., half * (D // 2):(half + 1) * (D // 2)]
                librope.apply(v, np.arange(N), style="half", table=th, out=v)
            mate = np.concatenate([(np.arange(D // 2) + q4) % (D // 2), D // 2 + (np.arange(D // 2) + q4) % (D // 2)])
            d_ang = np.concatenate([slack[:, :q4], slack[:, :q4], slack[:, q4:], slack[:, q4:]], axis=1)[None, :, None]
        else:
            got = librope.apply(x, np.arange(N), style="half", table=t)
            mate = np.concatenate([np.arange(D // 2, D), np.arange(D // 2)])
            d_ang = np.concatenate([slack, slack], axis=1)[None, :, None, :]
        tol = (1e-6 + d_ang) * (np.abs(x) + np.abs(x[..., mate]))
        assert (np.abs(got.astype(np.float64) - want) <= tol).all(), w


def test_llama4_vision_cls_unrotated_and_interleaved():
    """Llama 4 vision: patches at (x + 1, y + 1), the CLS token at (0, 0) = unrotated, columns
    [θ_j·x | θ_j·y], interleaved pairs (vision_apply_rotary_emb's complex multiply)."""
    rec = load("llama4_vision")
    D, side = int(rec["head_dim"]), int(rec["grid_side"])
    toks = np.array(rec["tokens"].split(), dtype=np.int64)
    S, cols = toks.size, D // 2
    f = librope.freqs(head_dim=cols, rope_theta=float(rec["rope_theta"]))
    cls = toks == side * side
    coords = np.stack([np.where(cls, 0, toks % side + 1), np.where(cls, 0, toks // side + 1)])
    t = librope.Table.axial(f, coords, [0] * (cols // 2) + [1] * (cols // 2), list(range(cols // 2)) * 2, compat=True)
    np.testing.assert_allclose(t.cos, np.array(rec["cos"].split(), dtype=np.float64).reshape(S, cols), atol=2.4e-7)
    for w in ("q", "k"):
        x = np.array(rec[w].split(), dtype=np.float32).reshape(1, S, 1, D)
        want = np.array(rec[w + "_out"].split(), dtype=np.float32).reshape(1, S, 1, D)
        got = librope.apply(x, np.arange(S), style="interleaved", table=t)
        mate = np.arange(D) ^ 1
        assert (np.abs(got.astype(np.float64) - want) <= 1e-6 * (np.abs(x) + np.abs(x[..., mate]))).all(), w
        assert (got[0, -1] == x[0, -1]).all()  # the CLS token is not rotated
