"""Float64 references for the binding tests (the formulas, written out; no librope inside)."""
import os

import numpy as np

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")


def inv_freq(rotary_dim, base=10000.0):
    """θᵢ = base^(-2i/R) (RoFormer eq. 15), float64."""
    return base ** (-np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim)


def rotate(x, pos, theta, style, af=1.0, inverse=False):
    """RoPE of x (batch, seq, heads, head_dim) at positions pos ((seq,) or (batch, seq)) in float64:
    pairs (i, i+R/2) for 'half', (2i, 2i+1) for 'interleaved'; dims >= R copied; af scales the rotation."""
    x = np.asarray(x, dtype=np.float64)
    n = theta.size
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim == 1:
        pos = np.broadcast_to(pos, x.shape[:2])
    ang = pos[:, :, None, None] * theta  # (b, s, 1, n)
    c, s = np.cos(ang) * af, np.sin(ang) * af
    if inverse:
        s = -s
    y = x.copy()
    if style == "half":
        a, b = x[..., :n], x[..., n:2 * n]
        y[..., :n] = a * c - b * s
        y[..., n:2 * n] = b * c + a * s
    else:
        a, b = x[..., 0:2 * n:2], x[..., 1:2 * n:2]
        y[..., 0:2 * n:2] = a * c - b * s
        y[..., 1:2 * n:2] = b * c + a * s
    return y


def load_golden(name):
    """One tests/golden/<name>.txt as {key: list of str}."""
    rec = {}
    with open(os.path.join(GOLDEN, name + ".txt")) as fh:
        for line in fh:
            line = line.split("#", 1)[0].split()
            if line:
                rec[line[0]] = line[1:]
    return rec


def golden_cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as fh:
        return [ln.split("#", 1)[0].strip() for ln in fh if ln.split("#", 1)[0].strip()]


def f32(rec, key, shape=None):
    a = np.array([float(v) for v in rec[key]], dtype=np.float32)
    return a.reshape(shape) if shape is not None else a


def ulp32(v):
    v = np.abs(np.asarray(v, dtype=np.float32))
    return np.spacing(np.maximum(v, np.float32(np.finfo(np.float32).tiny)))
