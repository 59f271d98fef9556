"""librope: rotary position embeddings (RoPE) for NumPy arrays and PyTorch CPU tensors.

The arithmetic runs in the librope C library (built by `pip install ./python`); arrays and
tensors are passed by data pointer and strides, never copied. Mirrors include/rope.h:

    f = librope.freqs(hf_config_dict)                  # θᵢ (float64), attention factor
    cos, sin = librope.cos_sin(f, 4096)                # float32 rows (no attention factor)
    t = librope.Table(f, 4096)                         # an owned cos/sin table
    y = librope.apply(q, positions, style="half", freqs=f)   # q: (batch, seq, heads, head_dim)
    g = librope.apply(grad, positions, style="half", freqs=f, inverse=True)   # backward

Drop-ins: `apply_rotary_pos_emb` (Hugging Face), `apply_rotary_emb` (Meta llama);
autograd: `RoPEFunction` / `rope` (backward = the library's inverse rotation).
"""
import ctypes as C
import json
import math
import os

import numpy as np

from . import _config
from ._core import (BAND_NAMES, BF16, F16, F32, MAX_FREQS, PRECISION_ACCURATE, PRECISION_COMPAT_F32,
                    SCALING_NAMES, STYLE_HALF, STYLE_INTERLEAVED, RopeApplyParams, RopeConfig, RopeError,
                    RopeFreqs, RopePositions, RopeTensor, check, lib, library_path)

__version__ = "0.1.0"
__all__ = [
    "Freqs", "Table", "RopeError", "freqs", "config_from_hf", "cos_sin", "apply", "apply_qk",
    "apply_rotary_pos_emb", "apply_rotary_emb", "RoPEFunction", "rope", "isa_name", "isa_available",
    "isa_force", "set_num_threads", "library_path",
]

try:  # torch is optional
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    torch = None


# ----------------------------------------------------------------- frequencies

def config_from_hf(config):
    """The librope rope_config fields of a Hugging Face config dict, config.json path, or
    transformers PretrainedConfig."""
    if isinstance(config, (str, os.PathLike)):
        with open(config) as fh:
            config = json.load(fh)
    elif hasattr(config, "to_dict") and not isinstance(config, dict):  # transformers PretrainedConfig
        config = config.to_dict()
    return _config.from_hf(config)


class Freqs:
    """θᵢ of one config (rope_freqs): inv_freq (float64), inv_freq_f32 (HF's float32 recipe),
    band per frequency, attention_factor (multiplies cos and sin), softmax_scale_factor."""

    def __init__(self, cstruct):
        self._c = cstruct
        n = cstruct.n_freqs
        self.type = SCALING_NAMES[cstruct.type] if 0 <= cstruct.type < len(SCALING_NAMES) else str(cstruct.type)
        self.head_dim = int(cstruct.head_dim)
        self.rotary_dim = int(cstruct.rotary_dim)
        self.n_freqs = int(n)
        self.inv_freq = np.array(cstruct.inv_freq[:n], dtype=np.float64)
        self.inv_freq_f32 = np.array(cstruct.inv_freq_f32[:n], dtype=np.float32)
        self.band = [BAND_NAMES[b] for b in cstruct.band[:n]]
        self.attention_factor = float(cstruct.attention_factor)
        self.softmax_scale_factor = float(cstruct.softmax_scale_factor)
        self.mrope_section = list(cstruct.mrope_section[:cstruct.n_mrope_section])

    @property
    def wavelength(self):
        """2π/θᵢ in positions, per frequency."""
        return 2 * math.pi / self.inv_freq

    def __repr__(self):
        return (f"librope.Freqs(type={self.type!r}, head_dim={self.head_dim}, rotary_dim={self.rotary_dim}, "
                f"attention_factor={self.attention_factor:.6g})")


def freqs(config=None, seq_len=None, **fields):
    """Frequencies for a HF config dict / config.json path and/or rope_config fields given as
    keywords (rope_theta=, head_dim=, type=, factor=, ...; keywords win). seq_len matters for
    dynamic NTK and longrope only (None = at initialisation, as HF's seq_len=None)."""
    vals = config_from_hf(config) if config is not None else {}
    for k, v in fields.items():
        if k not in _config.FIELDS:
            raise TypeError(f"librope.freqs: unknown field '{k}' (known: {', '.join(_config.FIELDS)})")
        vals[k] = v
    cfg = RopeConfig()
    lib.rope_config_init(C.byref(cfg))
    keep = []  # factor arrays must outlive rope_freqs_compute
    for k, v in vals.items():
        if v is None:
            continue
        if k == "type":
            t = C.c_int()
            check(lib.rope_scaling_from_name(str(v).encode(), C.byref(t)), f"rope_type '{v}'")
            cfg.type = t.value
        elif k in ("short_factor", "long_factor"):
            arr = np.ascontiguousarray(v, dtype=np.float64)
            keep.append(arr)
            setattr(cfg, k, arr.ctypes.data_as(C.POINTER(C.c_double)))
            setattr(cfg, "n_" + k, arr.size)
        elif k == "mrope_section":
            if not 1 <= len(v) <= 3:
                raise ValueError("librope.freqs: mrope_section takes 1 to 3 integers")
            for i, s in enumerate(v):
                cfg.mrope_section[i] = int(s)
            cfg.n_mrope_section = len(v)
        elif k == "truncate":
            cfg.truncate = 1 if v else 0
        elif k == "attention_factor":
            cfg.attention_factor = float(v)
        elif k in ("head_dim", "hidden_size", "num_attention_heads", "max_position_embeddings",
                   "original_max_position_embeddings"):
            cfg_int = int(v)
            if cfg_int != v:
                raise ValueError(f"librope.freqs: {k} must be an integer")
            setattr(cfg, k, cfg_int)
        else:
            setattr(cfg, k, float(v))
    out = RopeFreqs()
    sl = 0 if seq_len is None else int(seq_len)
    if sl < 0:
        raise ValueError("librope.freqs: seq_len must be >= 0")
    check(lib.rope_freqs_compute(C.byref(cfg), sl, C.byref(out)), "rope_freqs_compute")
    del keep
    return Freqs(out)


def _positions_array(positions):
    if isinstance(positions, (int, np.integer)):
        if positions < 0:
            raise ValueError("librope: a position count must be >= 0")
        return None, int(positions)
    if torch is not None and isinstance(positions, torch.Tensor):
        positions = positions.detach().cpu().numpy()
    arr = np.ascontiguousarray(positions, dtype=np.int64).reshape(-1)
    return arr, arr.size


def _ptr64(arr):
    return arr.ctypes.data_as(C.POINTER(C.c_int64)) if arr is not None else None


def cos_sin(f, positions, compat=False):
    """cos and sin rows (float32, shape (n, n_freqs), no attention factor) for positions
    (an int n = 0..n-1, or a sequence of positions). compat=True: HF/Meta float32 arithmetic."""
    arr, n = _positions_array(positions)
    cos = np.empty((n, f.n_freqs), np.float32)
    sin = np.empty((n, f.n_freqs), np.float32)
    prec = PRECISION_COMPAT_F32 if compat else PRECISION_ACCURATE
    check(lib.rope_cos_sin(C.byref(f._c), _ptr64(arr), 0, n, prec, cos.ctypes.data, sin.ctypes.data),
          "rope_cos_sin")
    return cos, sin


# ---------------------------------------------------------------------- tables

class Table:
    """An owned cos/sin table (rope_table). Table(f, n) has rows for positions 0..n-1
    (row == position); Table(f, [p0, p1, ...]) one row per listed position (apply's positions
    then index rows). attention_factor defaults to f's when applying with this table."""

    def __init__(self, f, positions, compat=False, _handle=None, attention_factor=None):
        self._h = None
        if _handle is not None:
            self._h = _handle
            self.attention_factor = 1.0 if attention_factor is None else float(attention_factor)
            return
        prec = PRECISION_COMPAT_F32 if compat else PRECISION_ACCURATE
        h = C.c_void_p()
        arr, n = _positions_array(positions)
        if arr is None:
            check(lib.rope_table_create(C.byref(f._c), n, prec, C.byref(h)), "rope_table_create")
        else:
            check(lib.rope_table_create_at(C.byref(f._c), _ptr64(arr), n, prec, C.byref(h)),
                  "rope_table_create_at")
        self._h = h
        self.attention_factor = f.attention_factor if attention_factor is None else float(attention_factor)

    @classmethod
    def from_cos_sin(cls, cos, sin, attention_factor=1.0):
        """A table whose rows are the given cos/sin (rows × n_freqs, float32 after conversion)."""
        cos = np.ascontiguousarray(cos, dtype=np.float32)
        sin = np.ascontiguousarray(sin, dtype=np.float32)
        if cos.ndim != 2 or cos.shape != sin.shape:
            raise ValueError("librope.Table.from_cos_sin: cos and sin must be 2-D and of one shape")
        h = C.c_void_p()
        check(lib.rope_table_from_cos_sin(cos.ctypes.data, sin.ctypes.data, cos.shape[0], cos.shape[1],
                                          C.byref(h)), "rope_table_from_cos_sin")
        return cls(None, None, _handle=h, attention_factor=attention_factor)

    @classmethod
    def mrope(cls, f, pos_thw, compat=False):
        """M-RoPE (Qwen2-VL) rows: pos_thw of shape (3, n) = temporal, height, width positions;
        frequency section p of f.mrope_section uses plane p. Text tokens (t = h = w) are plain RoPE."""
        arr = np.ascontiguousarray(pos_thw, dtype=np.int64)
        if arr.ndim != 2 or arr.shape[0] != 3:
            raise ValueError("librope.Table.mrope: pos_thw must have shape (3, n)")
        prec = PRECISION_COMPAT_F32 if compat else PRECISION_ACCURATE
        h = C.c_void_p()
        check(lib.rope_table_create_mrope(C.byref(f._c), _ptr64(arr), arr.shape[1], prec, C.byref(h)),
              "rope_table_create_mrope")
        return cls(None, None, _handle=h, attention_factor=f.attention_factor)

    @property
    def rows(self):
        return int(lib.rope_table_rows(self._h))

    @property
    def n_freqs(self):
        return int(lib.rope_table_n_freqs(self._h))

    def _array(self, getter):
        n = self.rows * self.n_freqs
        p = getter(self._h)
        return np.ctypeslib.as_array(p, shape=(n,)).reshape(self.rows, self.n_freqs).copy()

    @property
    def cos(self):
        return self._array(lib.rope_table_cos)

    @property
    def sin(self):
        return self._array(lib.rope_table_sin)

    def __del__(self):
        if getattr(self, "_h", None):
            lib.rope_table_free(self._h)
            self._h = None


# ------------------------------------------------------------------- threads

_pool = None


def set_num_threads(n):
    """Threads for apply (1 = the calling thread only; 0 = one per CPU). Results are
    bit-identical whatever the count."""
    global _pool
    if _pool is not None:
        lib.rope_pool_free(_pool)
        _pool = None
    if n != 1:
        h = C.c_void_p()
        check(lib.rope_pool_create(int(n), C.byref(h)), "rope_pool_create")
        _pool = h


def isa_name():
    """The kernel set in use: scalar, avx2, avx512 or neon."""
    return lib.rope_isa_name().decode()


def isa_available():
    n = C.c_int()
    p = lib.rope_isa_available(C.byref(n))
    return [p[i].decode() for i in range(n.value)]


def isa_force(name):
    check(lib.rope_isa_force(name.encode()), f"rope_isa_force('{name}')")


# ---------------------------------------------------------------------- apply

_NP_DTYPES = {np.dtype(np.float32): F32, np.dtype(np.float16): F16}


def _is_torch(x):
    return torch is not None and isinstance(x, torch.Tensor)


def _dtype_code(x):
    if _is_torch(x):
        m = {torch.float32: F32, torch.float16: F16, torch.bfloat16: BF16}
        if x.dtype not in m:
            raise TypeError(f"librope: unsupported tensor dtype {x.dtype} (float32, float16, bfloat16)")
        if x.device.type != "cpu":
            raise TypeError("librope: tensors must be on the CPU")
        return m[x.dtype]
    if isinstance(x, np.ndarray):
        if x.dtype not in _NP_DTYPES:
            raise TypeError(f"librope: unsupported array dtype {x.dtype} (float32, float16; "
                            "use torch for bfloat16)")
        return _NP_DTYPES[x.dtype]
    raise TypeError(f"librope: expected a numpy.ndarray or torch.Tensor, got {type(x).__name__}")


_LAYOUTS = {"bshd": (0, 1, 2, 3), "bhsd": (0, 2, 1, 3), "sbhd": (1, 0, 2, 3)}


def _tensor(x, layout="bshd", writable=False):
    """A rope_tensor describing x in place: data pointer, shape and strides in elements."""
    code = _dtype_code(x)
    if _is_torch(x):
        shape, ptr, strides = tuple(x.shape), x.data_ptr(), tuple(x.stride())
    else:
        if writable and not x.flags.writeable:
            raise ValueError("librope: output array is read-only")
        shape, ptr = x.shape, x.__array_interface__["data"][0]
        isz = x.itemsize
        if any(s % isz for s in x.strides):
            raise ValueError("librope: array strides must be whole elements")
        strides = tuple(s // isz for s in x.strides)
    if len(shape) == 3:  # (seq, heads, head_dim) in the given layout without batch
        shape, strides = (1,) + tuple(shape), (0,) + tuple(strides)
        layout = {"bshd": "bshd", "shd": "bshd", "hsd": "bhsd"}.get(layout, layout)
    if len(shape) != 4:
        raise ValueError(f"librope: expected a 4-D (batch, seq, heads, head_dim) tensor, got shape {shape}")
    if layout not in _LAYOUTS:
        raise ValueError(f"librope: layout must be one of {', '.join(_LAYOUTS)}")
    perm = _LAYOUTS[layout]
    t = RopeTensor()
    t.data = ptr
    t.dtype = code
    for i, j in enumerate(perm):
        t.shape[i] = shape[j]
        t.stride[i] = strides[j]
    return t


def _empty_like(x):
    if _is_torch(x):
        return torch.empty(x.shape, dtype=x.dtype)
    return np.empty(x.shape, dtype=x.dtype)


def _style(style):
    if style in ("half", "neox", STYLE_HALF):
        return STYLE_HALF
    if style in ("interleaved", "gptj", STYLE_INTERLEAVED):
        return STYLE_INTERLEAVED
    raise ValueError("librope: style must be 'half' (HF rotate_half / NeoX) or 'interleaved' (Meta / GPT-J)")


def _make_positions(positions, batch, seq):
    """(rope_positions, keep-alive array) from None / int offset / ids (seq,) or (batch, seq)."""
    pos = RopePositions()
    if positions is None:
        return pos, None
    if isinstance(positions, (int, np.integer)):
        pos.offset = int(positions)
        return pos, None
    if torch is not None and isinstance(positions, torch.Tensor):
        positions = positions.detach().cpu().numpy()
    ids = np.ascontiguousarray(positions, dtype=np.int64)
    if ids.ndim == 1:
        if ids.shape[0] != seq:
            raise ValueError(f"librope: {ids.shape[0]} positions for a sequence of {seq}")
        pos.ids_batch_stride = 0
    elif ids.ndim == 2:
        if ids.shape != (batch, seq) and ids.shape != (1, seq):
            raise ValueError(f"librope: positions of shape {ids.shape} for (batch, seq) = ({batch}, {seq})")
        pos.ids_batch_stride = seq if ids.shape[0] == batch and batch > 1 else 0
    else:
        raise ValueError("librope: positions must be an int offset or ids of shape (seq,) or (batch, seq)")
    pos.ids = _ptr64(ids)
    return pos, ids


def _params(style, freqs, table, inverse, attention_factor, rotary_dim):
    if (freqs is None) == (table is None):
        raise ValueError("librope: give exactly one of freqs= or table=")
    p = RopeApplyParams()
    lib.rope_apply_params_init(C.byref(p))
    p.style = _style(style)
    if table is not None:
        p.table = table._h
        nf = table.n_freqs
        af = table.attention_factor
    else:
        p.freqs = C.pointer(freqs._c)
        nf = freqs.n_freqs
        af = freqs.attention_factor
    p.rotary_dim = 2 * nf if rotary_dim is None else int(rotary_dim)
    p.attention_factor = af if attention_factor is None else float(attention_factor)
    p.inverse = 1 if inverse else 0
    p.pool = _pool
    return p


def apply(x, positions=None, *, style, freqs=None, table=None, inverse=False, attention_factor=None,
          out=None, layout="bshd", rotary_dim=None):
    """Rotate x, a 4-D (batch, seq, heads, head_dim) array/tensor with any strides (layout="bhsd"
    or "sbhd" for other axis orders), f32/f16 (numpy) or f32/f16/bf16 (torch), in float32.

    positions: None (0..seq-1), an int offset, or ids of shape (seq,) or (batch, seq) indexing
    positions (freqs=) or table rows (table=). attention_factor: default the model's (freqs or
    table); it multiplies the rotated dims as HF multiplies cos and sin. inverse=True is the
    backward (gradient) rotation. out: None = a new array; pass out=x to rotate in place."""
    p = _params(style, freqs, table, inverse, attention_factor, rotary_dim)
    if out is None:
        out = _empty_like(x)
    elif type(out) is not type(x) or out.shape != x.shape or out.dtype != x.dtype:
        raise ValueError("librope: out must have x's type, shape and dtype")
    tin = _tensor(x, layout)
    tout = _tensor(out, layout, writable=True)
    pos, keep = _make_positions(positions, tin.shape[0], tin.shape[1])
    check(lib.rope_apply(C.byref(p), C.byref(pos), C.byref(tin), C.byref(tout)), "rope_apply")
    del keep
    return out


def apply_qk(q, k, positions=None, *, style, freqs=None, table=None, inverse=False, attention_factor=None,
             out_q=None, out_k=None, layout="bshd", rotary_dim=None):
    """q and k in one call (any head counts: MHA, GQA, MQA). Returns (q_out, k_out)."""
    p = _params(style, freqs, table, inverse, attention_factor, rotary_dim)
    out_q = _empty_like(q) if out_q is None else out_q
    out_k = _empty_like(k) if out_k is None else out_k
    tq, tqo = _tensor(q, layout), _tensor(out_q, layout, writable=True)
    tk, tko = _tensor(k, layout), _tensor(out_k, layout, writable=True)
    pos, keep = _make_positions(positions, tq.shape[0], tq.shape[1])
    check(lib.rope_apply_qk(C.byref(p), C.byref(pos), C.byref(tq), C.byref(tqo), C.byref(tk), C.byref(tko)),
          "rope_apply_qk")
    del keep
    return out_q, out_k


# ------------------------------------------------------------------- drop-ins

def _cos_sin_rows(cos, sin, name):
    """cos/sin given as a peer gives them -> float32 numpy (rows, width)."""
    if _is_torch(cos):
        cos = cos.detach().to(torch.float32).cpu().numpy()
        sin = sin.detach().to(torch.float32).cpu().numpy()
    cos = np.asarray(cos, dtype=np.float32)
    sin = np.asarray(sin, dtype=np.float32)
    if cos.shape != sin.shape:
        raise ValueError(f"{name}: cos and sin shapes differ: {cos.shape} vs {sin.shape}")
    return cos, sin


def apply_rotary_pos_emb(q, k, cos, sin, position_ids=None, unsqueeze_dim=1):
    """Drop-in for Hugging Face's `apply_rotary_pos_emb` (rotate_half convention): cos/sin of shape
    (batch, seq, rotary_dim) or (seq, rotary_dim) as HF's rotary embedding returns them (halves
    duplicated, attention factor included); q/k (batch, heads, seq, head_dim) for unsqueeze_dim=1 or
    (batch, seq, heads, head_dim) for unsqueeze_dim=2. rotary_dim < head_dim rotates the first
    rotary_dim features (GPT-NeoX partial) and copies the rest. position_ids is ignored, as in HF.
    Returns new (q_embed, k_embed) of q's and k's dtype; arithmetic in float32."""
    del position_ids
    c, s = _cos_sin_rows(cos, sin, "apply_rotary_pos_emb")
    if c.ndim == 2:
        c, s = c[None], s[None]
    if c.ndim != 3 or c.shape[-1] % 2:
        raise ValueError(f"apply_rotary_pos_emb: cos must be (batch, seq, rotary_dim), got {c.shape}")
    n = c.shape[-1] // 2
    if not (np.array_equal(c[..., :n], c[..., n:]) and np.array_equal(s[..., :n], s[..., n:])):
        raise ValueError("apply_rotary_pos_emb: cos/sin halves differ; librope rotates pairs (i, i+d/2) "
                         "by one angle, as HF's rotary embeddings produce (cat(freqs, freqs))")
    if unsqueeze_dim == 1:
        layout = "bhsd"
    elif unsqueeze_dim == 2:
        layout = "bshd"
    else:
        raise ValueError("apply_rotary_pos_emb: unsqueeze_dim must be 1 (b, h, s, d) or 2 (b, s, h, d)")
    cb, cs = c.shape[0], c.shape[1]
    table = Table.from_cos_sin(c[..., :n].reshape(cb * cs, n), s[..., :n].reshape(cb * cs, n))
    tq = _tensor(q, layout)
    batch, seq = tq.shape[0], tq.shape[1]
    if cs != seq or cb not in (1, batch):
        raise ValueError(f"apply_rotary_pos_emb: cos {c.shape} does not match (batch, seq) = ({batch}, {seq})")
    positions = None if cb == 1 else np.arange(cb * cs, dtype=np.int64).reshape(cb, cs)
    return apply_qk(q, k, positions, style="half", table=table, attention_factor=1.0, layout=layout,
                    rotary_dim=2 * n)


def apply_rotary_emb(xq, xk, freqs_cis):
    """Drop-in for Meta llama's `apply_rotary_emb(xq, xk, freqs_cis)`: x (batch, seq, heads, head_dim),
    freqs_cis complex (seq, head_dim/2) (polar(1, m·θᵢ)), interleaved pairs (2i, 2i+1).
    Returns new (xq_out, xk_out) of xq's and xk's dtype; arithmetic in float32."""
    if _is_torch(freqs_cis):
        fc = freqs_cis.detach().cpu().numpy()
    else:
        fc = np.asarray(freqs_cis)
    if not np.iscomplexobj(fc):
        raise TypeError("apply_rotary_emb: freqs_cis must be complex (torch.polar / precompute_freqs_cis)")
    seq = xq.shape[1]
    if fc.ndim != 2 or fc.shape[0] != seq or fc.shape[1] * 2 != xq.shape[-1]:
        raise ValueError(f"apply_rotary_emb: freqs_cis {tuple(fc.shape)} must be (seq, head_dim/2) = "
                         f"({seq}, {xq.shape[-1] // 2})")
    table = Table.from_cos_sin(fc.real, fc.imag)
    return apply_qk(xq, xk, None, style="interleaved", table=table, attention_factor=1.0)


# ------------------------------------------------------------------- autograd

if torch is not None:
    class RoPEFunction(torch.autograd.Function):
        """y = RoPE(x); the backward is the library's inverse rotation (af·R(-θ), the transpose).
        RoPEFunction.apply(x, positions, style, freqs, table, attention_factor, layout)."""

        @staticmethod
        def forward(ctx, x, positions, style, freqs=None, table=None, attention_factor=None, layout="bshd"):
            ctx.args = (positions, style, freqs, table, attention_factor, layout)
            return apply(x.detach(), positions, style=style, freqs=freqs, table=table,
                         attention_factor=attention_factor, layout=layout)

        @staticmethod
        def backward(ctx, grad):
            positions, style, freqs, table, af, layout = ctx.args
            gx = apply(grad, positions, style=style, freqs=freqs, table=table, attention_factor=af,
                       layout=layout, inverse=True)
            return gx, None, None, None, None, None, None

    def rope(x, positions=None, *, style, freqs=None, table=None, attention_factor=None, layout="bshd"):
        """Differentiable apply (torch): RoPEFunction.apply with keyword arguments."""
        return RoPEFunction.apply(x, positions, style, freqs, table, attention_factor, layout)
else:  # pragma: no cover
    RoPEFunction = None

    def rope(*args, **kwargs):
        raise ImportError("librope.rope needs torch")
