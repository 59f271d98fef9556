"""Per-layer RoPE in Python against the real transformers code (tests/golden/layers/*.txt from
tests/golden/gen_layers.py): librope.model(config) gives the same layer map as each family's
attention modules, and librope.apply with a layer's frequencies reproduces the family's own
apply function (rotate_half, Gemma 4's proportional head, Llama 4's complex multiply, Cohere2's
interleaved pairs, Qwen3-VL's interleaved M-RoPE, GLM-4.1V's sections) at positions up to 131071,
within the float32 angle bound."""
import os

import numpy as np
import pytest

import librope

HERE = os.path.dirname(os.path.abspath(__file__))
GOLD = os.path.join(HERE, "..", "golden", "layers")
CFG = os.path.join(HERE, "..", "data", "configs")
NAMES = sorted(f[:-4] for f in os.listdir(GOLD) if f.endswith(".txt"))


def load(name):
    top, sets, cur = {}, {}, None
    for line in open(os.path.join(GOLD, name + ".txt")):
        if line.startswith("#") or not line.strip():
            continue
        k, _, v = line.rstrip("\n").partition(" ")
        if k == "set":
            cur = sets.setdefault(v, {})
        elif k == "end":
            cur = None
        else:
            (cur if cur is not None else top)[k] = v
    return top, sets


def nums(s, dtype=np.float64):
    return np.array(s.split(), dtype=dtype)


@pytest.mark.parametrize("name", NAMES)
def test_layer_map_and_apply_match_transformers(name):
    top, sets = load(name)
    m = librope.model(os.path.join(CFG, top["config"]))
    rope = nums(top["layer_rope"], np.int64)
    types = top["layer_type"].split()
    assert m.layers == [t if r else None for t, r in zip(types, rope)]
    assert sorted(m.sets) == sorted(sets)
    style = top["style"]
    for sname, rec in sets.items():
        f = m.sets[sname]
        hf_inv = nums(rec["inv_freq"]).astype(np.float32) if "inv_freq" in rec else f.inv_freq_f32  # GPT-J: none
        assert f.n_freqs == hf_inv.size
        assert ((f.inv_freq == 0) == (hf_inv == 0)).all()
        pos = nums(rec["positions"], np.int64)
        rows = nums(rec["apply_rows"], np.int64)
        ap = pos[rows]
        _, _, s, d = nums(rec["q_shape"], np.int64)
        table = librope.Table(f, ap, compat=True)                     # row r = ap[r]
        if "thw" in rec:   # M-RoPE: HF's apply rotated grid tokens (t, h, w differ)
            grid = nums(rec["thw"], np.int64).reshape(3, -1)[:, rows]
            table = librope.Table.mrope(f, grid, compat=True)
            ap = grid.max(axis=0)                                     # the bound's position
            P = len(pos)
            want_c = nums(rec["cos_thw"]).reshape(P, -1)
            full = librope.Table.mrope(f, nums(rec["thw"], np.int64).reshape(3, -1), compat=True)
            pm = nums(rec["thw"], np.int64).reshape(3, -1).max(axis=0)
            dth = np.abs(f.inv_freq_f32.astype(np.float64) - hf_inv)
            slack = pm[:, None] * dth[None, :] + np.where(dth > 0, 1e-7 * pm[:, None] * hf_inv[None, :], 0)
            assert (np.abs(full.cos.astype(np.float64) - want_c) <= 2.4e-7 + slack).all(), (name, "grid cos")
        if "rope_offset" in rec:   # DeepSeek-V3 MLA: rotate the [nope | rope] slice in place, compare pairs
            off, n = int(rec["rope_offset"]), f.n_freqs
            for w in ("q", "k"):
                x = nums(rec[w], np.float32).reshape(1, s, 1, d)       # one head: (b, s, h, d)
                want = nums(rec[w + "_out"], np.float32).reshape(s, d)
                buf = x.copy()
                view = buf[..., off:]                                  # strided, no copy
                librope.apply(view, np.arange(s), style="interleaved", table=table, out=view)
                got = buf.reshape(s, d)
                assert (got[:, :off] == x.reshape(s, d)[:, :off]).all()
                hf_pairs = np.stack([want[:, off:off + n], want[:, off + n:]], axis=-1).reshape(s, 2 * n)
                xr = x.reshape(s, d)[:, off:].astype(np.float64)
                mag = np.repeat(np.abs(xr[:, 0::2]) + np.abs(xr[:, 1::2]), 2, axis=1)
                dth = np.repeat(np.abs(f.inv_freq_f32.astype(np.float64) - hf_inv), 2)
                dang = ap[:, None] * dth[None, :] + np.where(dth > 0, 1.2e-7 * ap[:, None] * np.repeat(hf_inv, 2), 0)
                assert (np.abs(got[:, off:].astype(np.float64) - hf_pairs) <= (1e-6 + dang) * mag).all(), w
            continue
        for w in ("q", "k"):
            x = nums(rec[w], np.float32).reshape(-1, s, d)            # (heads, seq, d)
            want = nums(rec[w + "_out"], np.float32).reshape(-1, s, d)
            got = librope.apply(np.ascontiguousarray(x.transpose(1, 0, 2))[None], np.arange(s), style=style,
                                table=table)[0].transpose(1, 0, 2)
            r = f.rotary_dim
            idx = np.arange(d)
            fi = np.where(idx < r, (idx % (r // 2)) if style == "half" else idx // 2, 0)
            mate = np.where(idx >= r, idx, (idx + r // 2) % r if style == "half" else idx ^ 1)
            dth = np.where(idx < r, np.abs(f.inv_freq_f32[fi].astype(np.float64) - hf_inv[fi]), 0.0)
            dang = ap[None, :, None] * dth[None, None, :] + np.where(dth > 0, 1e-7 * ap[None, :, None]
                                                                      * hf_inv[fi][None, None, :], 0)
            tol = (1e-6 + dang) * (np.abs(x) + np.abs(x[..., mate])) + 1e-30
            identity = (idx >= r) | (f.inv_freq_f32[fi] == 0)
            tol = np.where(identity[None, None, :], 0, tol)
            assert (np.abs(got.astype(np.float64) - want) <= tol).all(), (name, sname, w)
    if "query_scale" in top:
        layer = int(top["query_scale_layer"])
        p = nums(top["query_scale_positions"], np.int64)
        np.testing.assert_allclose(m.query_scale(layer, p), nums(top["query_scale"]), rtol=1.2e-7)
