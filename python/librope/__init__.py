"""librope: rotary position embeddings (RoPE) for NumPy arrays and PyTorch CPU tensors.

The arithmetic runs in the librope C library (built by `pip install ./python`); arrays and
tensors are passed by data pointer and strides, never copied. Mirrors include/rope.h:

    f = librope.freqs(hf_config_dict)                  # θᵢ (float64), attention factor
    cos, sin = librope.cos_sin(f, 4096)                # float32 rows (no attention factor)
    t = librope.Table(f, 4096)                         # an owned cos/sin table
    y = librope.apply(q, positions, style="half", freqs=f)   # q: (batch, seq, heads, head_dim)
    g = librope.apply(grad, positions, style="half", freqs=f, inverse=True)   # backward

Drop-ins: `apply_rotary_pos_emb` (Hugging Face), `apply_rotary_emb` (Meta llama); per family, with
the family's own signature: librope.gptj, librope.gemma4, librope.deepseek_v3 (style "deinterleave");
autograd: `apply`/`rope` of a tensor (backward = the library's inverse rotation), through the
torch.library operator librope::apply (torch >= 2.4, torch.compile without graph breaks) or
`RoPEFunction` (older torch).
"""
import contextlib
import ctypes as C
import itertools
import json
import math
import os
import threading
import weakref

import numpy as np

from . import _checks as _ck
from . import _config
from ._core import (BAND_NAMES, BF16, F16, F32, MAX_FREQS, MAX_MROPE_PLANES, PRECISION_ACCURATE, PRECISION_COMPAT_F32,
                    SCALING_NAMES, STYLE_HALF, STYLE_INTERLEAVED, RopeApplyParams, RopeConfig, RopeError,
                    RopeFreqs, RopePositions, RopeTensor, check, lib, library_path)
from ._core import STYLE_DEINTERLEAVE

__version__ = lib.rope_version_string().decode()  # the C library's (include/rope.h ROPE_VERSION_*)
__all__ = [
    "Freqs", "Table", "RopeError", "freqs", "config_from_hf", "Model", "model", "cos_sin", "apply", "apply_qk",
    "apply_rotary_pos_emb", "apply_rotary_emb", "RoPEFunction", "rope", "isa_name", "isa_available",
    "set_num_threads", "get_num_threads", "library_path", "torch_op_available",
    "verify",
]

try:  # torch is optional
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    torch = None

# Freqs and Table objects by a small integer key: the torch operator (librope::apply) takes
# plain ints, strings and tensors, so it names the Freqs/Table by key. Weak: a key outliving
# its object gives a clear error, never a dangling pointer.
_LIVE = weakref.WeakValueDictionary()
_KEYS = itertools.count(1)


def _register(obj):
    obj._key = next(_KEYS)
    _LIVE[obj._key] = obj


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
        _register(self)
        self.mrope_interleaved = bool(cstruct.mrope_interleaved)

    @property
    def wavelength(self):
        """2π/θᵢ in positions, per frequency."""
        return 2 * math.pi / self.inv_freq

    def __repr__(self):
        return (f"librope.Freqs(type={self.type!r}, head_dim={self.head_dim}, rotary_dim={self.rotary_dim}, "
                f"attention_factor={self.attention_factor:.6g})")


_INT_FIELDS = ("head_dim", "hidden_size", "num_attention_heads", "max_position_embeddings",
               "original_max_position_embeddings")


def _set_field(cfg, k, v, keep):
    """One rope_config field from a Python value, checked (see _checks: ctypes would truncate
    floats, wrap integers and cut strings at NUL)."""
    w = f"librope.freqs: {k}"
    if k == "type":
        t = C.c_int()
        check(lib.rope_scaling_from_name(_ck.text(v, w), C.byref(t)), f"rope_type {v!r}")
        cfg.type = t.value
    elif k in ("short_factor", "long_factor", "freq_divisor"):
        if isinstance(v, (str, bytes)):
            raise TypeError(f"{w} must be a list of numbers, got a string")
        arr = np.asarray(v)
        if arr.dtype.kind not in "iuf" or arr.ndim != 1:
            raise TypeError(f"{w} must be a 1-D list of numbers, got dtype {arr.dtype}, shape {arr.shape}")
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        keep.append(arr)  # must outlive rope_freqs_compute
        setattr(cfg, k, arr.ctypes.data_as(C.POINTER(C.c_double)))
        setattr(cfg, "n_" + k, arr.size)
    elif k == "mrope_section":
        if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or not 1 <= len(v) <= MAX_MROPE_PLANES:
            raise ValueError(f"{w} takes 1 to {MAX_MROPE_PLANES} integers")
        for i, s in enumerate(v):
            cfg.mrope_section[i] = _ck.int64(s, f"{w}[{i}]")
        cfg.n_mrope_section = len(v)
    elif k in ("truncate", "mrope_interleaved"):
        if not isinstance(v, (bool, np.bool_)) and v not in (0, 1):
            raise TypeError(f"{w} must be a bool, got {v!r}")
        setattr(cfg, k, 1 if v else 0)
    elif k in _INT_FIELDS:
        if isinstance(v, (float, np.floating)) and math.isfinite(v) and v == int(v):
            v = int(v)  # JSON writes 4096.0 for some configs; 4096.5 is still refused below
        setattr(cfg, k, _ck.int64(v, w))
    else:
        setattr(cfg, k, _ck.real(v, w))


def _rope_config(config, fields, where="librope.freqs"):
    """(RopeConfig, keep-alive arrays) for a HF config and/or rope_config fields (keywords win)."""
    vals = config_from_hf(config) if config is not None else {}
    for k, v in fields.items():
        if k not in _config.FIELDS:
            raise TypeError(f"{where}: unknown field '{k}' (known: {', '.join(_config.FIELDS)})")
        vals[k] = v
    cfg = RopeConfig()
    lib.rope_config_init(C.byref(cfg))
    keep = []
    for k, v in vals.items():
        if v is not None:
            _set_field(cfg, k, v, keep)
    return cfg, keep


def freqs(config=None, seq_len=None, **fields):
    """Frequencies for a HF config dict / config.json path and/or rope_config fields given as
    keywords (rope_theta=, head_dim=, type=, factor=, ...; keywords win). seq_len matters for
    dynamic NTK and longrope only (None = at initialisation, as HF's seq_len=None)."""
    cfg, keep = _rope_config(config, fields)
    out = RopeFreqs()
    sl = 0 if seq_len is None else _ck.int64(seq_len, "librope.freqs: seq_len", lo=0)
    check(lib.rope_freqs_compute(C.byref(cfg), sl, C.byref(out)), "rope_freqs_compute")
    del keep
    return Freqs(out)


class Model:
    """A model's RoPE layer by layer (rope_model): frequency sets named by layer type and a
    layer -> set map where a layer may have no RoPE. model(config) builds one from a HF config."""

    def __init__(self, desc, seq_len=None):
        self.set_names = [s["name"] for s in desc["sets"]]
        self.sets = {s["name"]: freqs(None, seq_len, **s["fields"]) for s in desc["sets"]}
        self.fields = {s["name"]: dict(s["fields"]) for s in desc["sets"]}
        self.primary = self.set_names[desc["primary"]]
        self.layers = [None if i is None else self.set_names[i] for i in desc["layers"]]
        self.layer_types = list(desc["layer_types"])
        self.query_scaling = desc["query_scaling"]

    @property
    def n_layers(self):
        return len(self.layers)

    def layer_set(self, layer):
        """Name of the set layer `layer` uses, None for a layer without RoPE."""
        layer = _ck.int64(layer, "librope.Model: layer")  # not a bool, not a float (as the C API's int64)
        if not self.layers:
            if len(self.set_names) == 1 and layer >= 0:
                return self.set_names[0]
            raise ValueError("librope.Model: the layer map is unknown (no num_hidden_layers)")
        if not 0 <= layer < len(self.layers):
            raise ValueError(f"librope.Model: layer {layer} is outside 0..{len(self.layers) - 1}")
        return self.layers[layer]

    def layer_freqs(self, layer):
        """Freqs of a layer, None for a NoPE layer."""
        s = self.layer_set(layer)
        return None if s is None else self.sets[s]

    def query_scale(self, layer, positions):
        """Per-position factor q is multiplied by (Llama 4 temperature tuning, Ministral 3), float64."""
        pos = _ids_array(positions, "librope.Model.query_scale: positions")  # no float truncation
        # rope_model_query_scale's domain: 0 <= pos <= 2^53 (below 0 the floor turns negative and
        # log1p gives -Inf or NaN), and the layer checked whether or not it is scaled
        if pos.size and (pos.min() < 0 or pos.max() > 2 ** 53):
            raise ValueError("librope.Model.query_scale: positions must lie in [0, 2^53]")
        nope = self.layer_set(layer) is None
        qs = self.query_scaling
        on = qs is not None and (qs["layers"] == "all_layers" or nope)
        if not on:
            return np.ones(pos.shape)
        return 1.0 + qs["beta"] * np.log1p(np.floor_divide(pos + qs["pos_offset"], qs["floor_scale"]))

    def __repr__(self):
        return f"librope.Model(sets={self.set_names}, n_layers={self.n_layers}, primary={self.primary!r})"


def model(config, seq_len=None):
    """The per-layer RoPE of a HF config dict / config.json path / PretrainedConfig."""
    if isinstance(config, (str, os.PathLike)):
        with open(config) as fh:
            config = json.load(fh)
    elif hasattr(config, "to_dict") and not isinstance(config, dict):
        config = config.to_dict()
    return Model(_config.model_from_hf(config), seq_len)


def _ids_array(positions, what):
    """Position ids (list, NumPy array, torch tensor) as int64: floats refused, not truncated;
    values beyond int64 refused, not wrapped."""
    if torch is not None and isinstance(positions, torch.Tensor):
        if positions.is_floating_point() or positions.is_complex() or positions.dtype == torch.bool:
            raise TypeError(f"{what} must be integers, got a {positions.dtype} tensor")
        positions = positions.detach().cpu().numpy()
    return _ck.int64_array(positions, what)


def _positions_array(positions):
    """(ids or None, n) for cos_sin and Table: an int n (positions 0..n-1) or ids."""
    if _ck.is_int(positions):
        return None, _ck.int64(positions, "librope: a position count", lo=0)
    arr = _ids_array(positions, "librope: positions").reshape(-1)
    return arr, arr.size


def _freqs_arg(f, where):
    if not isinstance(f, Freqs):
        raise TypeError(f"{where}: expected a librope.Freqs (from librope.freqs), got {type(f).__name__}")
    return f


def _ptr64(arr):
    return arr.ctypes.data_as(C.POINTER(C.c_int64)) if arr is not None else None


def cos_sin(f, positions, compat=False):
    """cos and sin rows (float32, shape (n, n_freqs), no attention factor) for positions
    (an int n = 0..n-1, or a sequence of positions). compat=True: HF/Meta float32 arithmetic."""
    _freqs_arg(f, "librope.cos_sin")
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
    then index rows). attention_factor defaults to f's when applying with this table.
    Table(f, n) splits its rows over threads (rope_table_create_pool; the same bits whatever the
    count): threads=None uses set_num_threads' pool, as apply does; an integer n (0 = one per
    CPU, 1 = the calling thread, at most 256) a pool of n threads made for this call only."""

    def __init__(self, f, positions, compat=False, _handle=None, attention_factor=None, *,
                 threads=None):
        self._h = None
        if _handle is None:
            _freqs_arg(f, "librope.Table")
            prec = PRECISION_COMPAT_F32 if compat else PRECISION_ACCURATE
            h = C.c_void_p()
            arr, n = _positions_array(positions)
            if threads is not None:
                threads = _ck.int64(threads, "librope.Table: threads", lo=0, hi=256)
                if arr is not None:  # rope_table_create_at has no pool variant
                    raise ValueError("librope.Table: threads= applies to Table(f, n) only, "
                                     "not to a list of positions")
            if arr is None:
                _table_create_pool(f, n, prec, threads, h)
            else:
                check(lib.rope_table_create_at(C.byref(f._c), _ptr64(arr), n, prec, C.byref(h)),
                      "rope_table_create_at")
            _handle = h
            if attention_factor is None:
                attention_factor = f.attention_factor
        self._h = _handle
        self.attention_factor = 1.0 if attention_factor is None else \
            _ck.real(attention_factor, "librope.Table: attention_factor")
        # plain attributes (no C call) so that traced code (torch.compile) can read them
        self.rows = int(lib.rope_table_rows(self._h))
        self.n_freqs = int(lib.rope_table_n_freqs(self._h))
        _register(self)

    @staticmethod
    def _rows_arg(v, what, where="librope.Table.from_cos_sin"):
        """cos or sin rows as finite float32 NumPy (torch tensors and array-likes accepted)."""
        if torch is not None and isinstance(v, torch.Tensor):
            if v.is_complex():
                raise TypeError(f"{where}: {what} must be real numbers, got dtype {v.dtype}")
            v = v.detach().to(device="cpu", dtype=torch.float32).numpy()
        try:
            v = np.asarray(v)
        except ValueError as e:
            raise ValueError(f"{where}: {what} is not a rectangular array ({e})") from None
        if v.dtype.kind not in "iuf":
            raise TypeError(f"{where}: {what} must be real numbers, got dtype {v.dtype}")
        v = np.ascontiguousarray(v, dtype=np.float32)
        if not np.isfinite(v).all():
            raise ValueError(f"{where}: {what} has a non-finite value")
        return v

    @classmethod
    def from_cos_sin(cls, cos, sin, attention_factor=1.0):
        """A table whose rows are the given cos/sin (rows × n_freqs, float32 after conversion)."""
        cos, sin = cls._rows_arg(cos, "cos"), cls._rows_arg(sin, "sin")
        if cos.ndim != 2 or cos.shape != sin.shape:
            raise ValueError("librope.Table.from_cos_sin: cos and sin must be 2-D and of one shape")
        h = C.c_void_p()
        check(lib.rope_table_from_cos_sin(cos.ctypes.data, sin.ctypes.data, cos.shape[0], cos.shape[1],
                                          C.byref(h)), "rope_table_from_cos_sin")
        return cls(None, None, _handle=h, attention_factor=attention_factor)

    @classmethod
    def mrope(cls, f, pos_thw, compat=False):
        """M-RoPE rows: pos_thw of shape (planes, n) = temporal, height, width (, extra) positions;
        the frequencies of plane p (section p of f.mrope_section, contiguous or, with
        f.mrope_interleaved, Qwen3-VL's interleaving) use plane p. Text tokens (all planes equal)
        are plain RoPE."""
        _freqs_arg(f, "librope.Table.mrope")
        arr = _ids_array(pos_thw, "librope.Table.mrope: pos_thw")
        planes = len(f.mrope_section)
        if arr.ndim != 2 or arr.shape[0] != planes:
            raise ValueError(f"librope.Table.mrope: pos_thw must have shape ({planes}, n)")
        prec = PRECISION_COMPAT_F32 if compat else PRECISION_ACCURATE
        h = C.c_void_p()
        check(lib.rope_table_create_mrope(C.byref(f._c), _ptr64(arr), arr.shape[1], prec, C.byref(h)),
              "rope_table_create_mrope")
        return cls(None, None, _handle=h, attention_factor=f.attention_factor)

    @classmethod
    def axial(cls, f, coords, axis, freq, compat=False):
        """Axial (2-D vision) rows: coords of shape (n_axes, n) (e.g. h, w per token); column i rotates by
        coords[axis[i]] · θ[freq[i]] of f, axis[i] = -1 leaves it unrotated (rope_table_create_axial).
        Qwen2/2.5-VL vision: f of head_dim D/2, axis [0]*D/4 + [1]*D/4, freq [0..D/4) twice;
        Pixtral: f of head_dim D, freq [0, 2, 4, ...] then [1, 3, 5, ...]."""
        _freqs_arg(f, "librope.Table.axial")
        arr = _ids_array(coords, "librope.Table.axial: coords")
        if arr.ndim != 2:
            raise ValueError("librope.Table.axial: coords must have shape (n_axes, n)")
        ax = _ck.int32_array(axis, "librope.Table.axial: axis").reshape(-1)  # no truncation, no wrap
        fq = _ck.int32_array(freq, "librope.Table.axial: freq").reshape(-1)
        if ax.size != fq.size:
            raise ValueError("librope.Table.axial: axis and freq must have one entry per column")
        prec = PRECISION_COMPAT_F32 if compat else PRECISION_ACCURATE
        h = C.c_void_p()
        check(lib.rope_table_create_axial(C.byref(f._c), _ptr64(arr), arr.shape[0], arr.shape[1],
                                          ax.ctypes.data_as(C.POINTER(C.c_int)), fq.ctypes.data_as(C.POINTER(C.c_int)),
                                          ax.size, prec, C.byref(h)), "rope_table_create_axial")
        return cls(None, None, _handle=h, attention_factor=f.attention_factor)

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

def _table_create_pool(f, n, prec, threads, h):
    """rope_table_create_pool into h: on the apply pool (threads None) or on a pool of its own."""
    if threads is None:
        with _using_pool() as p:
            check(lib.rope_table_create_pool(C.byref(f._c), n, prec, p, C.byref(h)),
                  "rope_table_create_pool")
        return
    p = C.c_void_p()
    if threads != 1:
        check(lib.rope_pool_create(threads, C.byref(p)), "rope_pool_create")
    try:
        check(lib.rope_table_create_pool(C.byref(f._c), n, prec, p, C.byref(h)),
              "rope_table_create_pool")
    finally:
        if p:
            lib.rope_pool_free(p)


class _Pool:
    """A rope_pool and the number of calls using it. ctypes releases the GIL during a call, so
    set_num_threads may run while other threads are inside apply: the pool it replaces is
    freed by whichever of them finishes last, never under a running call."""

    def __init__(self, handle):
        self.handle = handle
        self.users = 0
        self.retired = False


_pool_lock = threading.Lock()
_pool = None  # the current _Pool, or None (run on the calling thread)


def _release(p):
    with _pool_lock:
        p.users -= 1
        last = p.retired and p.users == 0
    if last:
        lib.rope_pool_free(p.handle)  # joins the workers: outside the lock


@contextlib.contextmanager
def _using_pool():
    """The current pool's handle (or None), kept alive until the with-block ends."""
    with _pool_lock:
        p = _pool
        if p is not None:
            p.users += 1
    try:
        yield None if p is None else p.handle
    finally:
        if p is not None:
            _release(p)


def set_num_threads(n):
    """Threads for apply (1 = the calling thread only; 0 = one per CPU; at most 256). Results
    are bit-identical whatever the count. Safe while other threads are inside apply: they
    finish on the pool they started with."""
    global _pool
    n = _ck.int64(n, "librope.set_num_threads: n", lo=0, hi=256)
    new = None
    if n != 1:
        h = C.c_void_p()
        check(lib.rope_pool_create(n, C.byref(h)), "rope_pool_create")
        new = _Pool(h)
    with _pool_lock:
        old, _pool = _pool, new
        free_old = old is not None and old.users == 0
        if old is not None:
            old.retired = True
    if free_old:
        lib.rope_pool_free(old.handle)


def get_num_threads():
    """The thread count apply uses (1 without a pool)."""
    with _using_pool() as h:
        return 1 if h is None else int(lib.rope_pool_size(h))


def isa_name():
    """The kernel set in use: scalar, avx2, avx512 or neon. The environment variable ROPE_ISA,
    set before the first librope call, picks another one of isa_available() (tests do this in a
    subprocess; there is no switch at run time, which would change every thread's kernels)."""
    return lib.rope_isa_name().decode()


def isa_available():
    """The kernel sets this CPU and build support, best last."""
    n = C.c_int()
    p = lib.rope_isa_available(C.byref(n))
    return [p[i].decode() for i in range(n.value)]


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
            raise TypeError(f"librope: tensors must be on the CPU, got device {x.device}")
        if x.layout != torch.strided or x.is_quantized:
            raise TypeError(f"librope: tensors must be dense (strided), got layout {x.layout}")
        return m[x.dtype]
    if isinstance(x, np.ndarray):
        if x.dtype not in _NP_DTYPES:
            raise TypeError(f"librope: unsupported array dtype {x.dtype} (float32, float16; "
                            "use torch for bfloat16)")
        return _NP_DTYPES[x.dtype]
    raise TypeError(f"librope: expected a numpy.ndarray or torch.Tensor, got {type(x).__name__}")


_LAYOUTS = {"bshd": (0, 1, 2, 3), "bhsd": (0, 2, 1, 3), "sbhd": (1, 0, 2, 3)}


def _layout(layout):
    if not isinstance(layout, str) or layout not in _LAYOUTS:
        raise ValueError(f"librope: layout must be one of {', '.join(_LAYOUTS)}, got {layout!r}")
    return layout


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
    perm = _LAYOUTS[_layout(layout)]
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
    if isinstance(style, str) or _ck.is_int(style):  # not True or 1.0, which == 1 (INTERLEAVED)
        if style in ("half", "neox", STYLE_HALF):
            return STYLE_HALF
        if style in ("interleaved", "gptj", STYLE_INTERLEAVED):
            return STYLE_INTERLEAVED
        if style in ("deinterleave", STYLE_DEINTERLEAVE):
            return STYLE_DEINTERLEAVE
    raise ValueError("librope: style must be 'half' (HF rotate_half / NeoX), 'interleaved' (Meta / GPT-J) or "
                     "'deinterleave' (DeepSeek-V3 rope_interleave: interleaved pairs in, [even | odd] out)")


def _positions_arg(positions):
    """(ids as int64 NumPy or None, offset) from None / an int offset / ids."""
    if positions is None:
        return None, 0
    if _ck.is_int(positions):
        return None, _ck.int64(positions, "librope: position offset")
    ids = _ids_array(positions, "librope: positions")
    if ids.ndim not in (1, 2):
        raise ValueError("librope: positions must be an int offset or ids of shape (seq,) or (batch, seq)")
    return ids, 0


def _make_positions(ids, offset, batch, seq):
    """rope_positions for checked ids (int64 NumPy, (seq,) or (batch, seq)) or an offset."""
    pos = RopePositions()
    pos.offset = offset
    if ids is None:
        return pos
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
    return pos


def _source(freqs, table, where):
    """The Freqs or Table of a call (exactly one)."""
    if (freqs is None) == (table is None):
        raise ValueError(f"{where}: give exactly one of freqs= or table=")
    if table is not None and not isinstance(table, Table):
        raise TypeError(f"{where}: table= must be a librope.Table, got {type(table).__name__}")
    return table if table is not None else _freqs_arg(freqs, where)


def _resolve(src, attention_factor, rotary_dim, where):
    """attention_factor and rotary_dim with their defaults (the model's; all pairs), checked."""
    af = src.attention_factor if attention_factor is None else \
        _ck.real(attention_factor, f"{where}: attention_factor")
    rd = 2 * src.n_freqs if rotary_dim is None else \
        _ck.int64(rotary_dim, f"{where}: rotary_dim", lo=0, hi=1 << 30)
    return af, rd


def _params(src, style, inverse, af, rd):
    p = RopeApplyParams()
    lib.rope_apply_params_init(C.byref(p))
    p.style = style
    if isinstance(src, Table):
        p.table = src._h
    else:
        p.freqs = C.pointer(src._c)
    p.rotary_dim = rd
    p.attention_factor = af
    p.inverse = 1 if inverse else 0
    return p


def _rope_c(src, style, inverse, af, rd, layout, ids, offset, pairs):
    """The C call: pairs = [(x, out), ...] (one: rope_apply; two: rope_apply_qk). src (and so
    its table or freqs) is referenced here until the call returns; the pool by _using_pool."""
    p = _params(src, style, inverse, af, rd)
    ts = [(_tensor(x, layout), _tensor(o, layout, writable=True)) for x, o in pairs]
    pos = _make_positions(ids, offset, ts[0][0].shape[0], ts[0][0].shape[1])
    args = [C.byref(t) for io in ts for t in io]
    with _using_pool() as h:
        p.pool = h
        if len(ts) == 1:
            check(lib.rope_apply(C.byref(p), C.byref(pos), *args), "rope_apply")
        else:
            check(lib.rope_apply_qk(C.byref(p), C.byref(pos), *args), "rope_apply_qk")
    del ids  # the positions array lives until here


def _check_out(x, out, name):
    """out= must match x; a torch out may not be written behind autograd's back."""
    if _is_torch(x) != _is_torch(out) or not (_is_torch(out) or isinstance(out, np.ndarray)) \
            or tuple(out.shape) != tuple(x.shape) or out.dtype != x.dtype:
        raise ValueError(f"librope: {name} must have the input's type, shape and dtype")
    if _is_torch(out) and torch.is_grad_enabled() and (out.requires_grad or x.requires_grad):
        raise ValueError(f"librope: {name}= cannot be used when the input or {name} requires grad "
                         "(autograd would not see the write); use the returned tensor, or torch.no_grad()")
    if _is_torch(out) and out.is_inference() and not torch.is_inference_mode_enabled():
        raise ValueError(f"librope: {name}= is an inference tensor, which torch does not let change "
                         "outside torch.inference_mode()")
    return out


def _written(t):
    """Tell autograd a torch tensor changed in place (its version counter), where torch can."""
    if _is_torch(t):
        bump = getattr(getattr(torch.autograd, "graph", None), "increment_version", None)
        if bump is not None:
            bump(t)


def _tracing():
    if torch is None:
        return False
    comp = getattr(torch, "compiler", None)
    if comp is not None and hasattr(comp, "is_compiling"):
        return comp.is_compiling()
    return False


_TORCH_ID_DTYPES = () if torch is None else (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _torch_ids(positions):
    """(ids as an int64 CPU tensor or None, offset) for the torch operator."""
    if positions is None:
        return None, 0
    if _ck.is_int(positions):
        return None, _ck.int64(positions, "librope: position offset")
    if isinstance(positions, torch.Tensor):
        if positions.dtype not in _TORCH_ID_DTYPES:
            raise TypeError(f"librope: positions must be integers, got a {positions.dtype} tensor")
        if positions.dim() not in (1, 2):
            raise ValueError("librope: positions must be an int offset or ids of shape (seq,) or (batch, seq)")
        return positions.detach().to(device="cpu", dtype=torch.int64), 0
    ids, offset = _positions_arg(positions)
    return torch.from_numpy(ids), offset


def _op_kernel(x, ids, offset, key, style, inverse, af, layout, rd):
    """The CPU kernel of librope::apply (see _torch_op)."""
    src = _LIVE.get(key)
    if src is None:
        raise RuntimeError(f"librope::apply: no live librope.Freqs/Table with key {key} (it was freed)")
    if ids is not None and ids.dtype != torch.int64:
        raise TypeError(f"librope::apply: ids must be int64, got {ids.dtype}")
    out = torch.empty(x.shape, dtype=x.dtype)
    _rope_c(src, style, inverse, af, rd, layout, None if ids is None else ids.contiguous().numpy(), offset,
            [(x, out)])
    return out


_OP = _ROWS_OP = None
if torch is not None:
    from . import _torch_op
    _OP, _ROWS_OP = _torch_op.build(_op_kernel, _LIVE.get, lambda *a: _rows_kernel(*a))


def _torch_apply(x, positions, src, style, inverse, af, layout, rd):
    """apply() of a torch tensor into a new tensor. Through the librope::apply operator
    (torch >= 2.4) where it matters: inside torch.compile (no graph break), when x requires
    grad (autograd), for tensor subclasses; else a direct C call, since the operator's Python
    dispatch costs more than the rotation of a decode step (measured ~27 µs a call here).
    Older torch: RoPEFunction when x requires grad."""
    _dtype_code(x)
    ids, offset = _torch_ids(positions)
    grad = torch.is_grad_enabled() and x.requires_grad
    if _OP is not None and (grad or _tracing() or type(x) not in (torch.Tensor, torch.nn.Parameter)):
        return _OP(x, ids, offset, src._key, style, inverse, af, layout, rd)
    if grad:
        return RoPEFunction.apply(x, ids if ids is not None else offset, style, *(
            (None, src) if isinstance(src, Table) else (src, None)), af, layout, inverse, rd)
    out = torch.empty(x.shape, dtype=x.dtype)
    _rope_c(src, style, inverse, af, rd, layout, None if ids is None else ids.numpy(), offset, [(x, out)])
    return out


def apply(x, positions=None, *, style, freqs=None, table=None, inverse=False, attention_factor=None,
          out=None, layout="bshd", rotary_dim=None):
    """Rotate x, a 4-D (batch, seq, heads, head_dim) array/tensor with any strides (layout="bhsd"
    or "sbhd" for other axis orders), f32/f16 (numpy) or f32/f16/bf16 (torch), in float32.

    positions: None (0..seq-1), an int offset, or integer ids of shape (seq,) or (batch, seq)
    indexing positions (freqs=) or table rows (table=). attention_factor: default the model's
    (freqs or table); it multiplies the rotated dims as HF multiplies cos and sin. inverse=True is
    the backward (gradient) rotation. out: None = a new array; pass out=x to rotate in place.
    A torch tensor with out=None gives a differentiable result (torch.ops.librope.apply)."""
    _dtype_code(x)
    src = _source(freqs, table, "librope.apply")
    st = _style(style)
    af, rd = _resolve(src, attention_factor, rotary_dim, "librope.apply")
    _layout(layout)
    if _is_torch(x) and out is None:
        return _torch_apply(x, positions, src, st, bool(inverse), af, layout, rd)
    ids, offset = _positions_arg(positions)
    out = _empty_like(x) if out is None else _check_out(x, out, "out")
    _rope_c(src, st, bool(inverse), af, rd, layout, ids, offset, [(x, out)])
    _written(out)
    return out


def apply_qk(q, k, positions=None, *, style, freqs=None, table=None, inverse=False, attention_factor=None,
             out_q=None, out_k=None, layout="bshd", rotary_dim=None):
    """q and k in one call (any head counts: MHA, GQA, MQA). Returns (q_out, k_out). Torch
    tensors that require grad (or inside torch.compile) go through apply, one per tensor."""
    _dtype_code(q)
    _dtype_code(k)
    src = _source(freqs, table, "librope.apply_qk")
    st = _style(style)
    af, rd = _resolve(src, attention_factor, rotary_dim, "librope.apply_qk")
    _layout(layout)
    if _is_torch(q) and _is_torch(k) and out_q is None and out_k is None and (
            _tracing() or (torch.is_grad_enabled() and (q.requires_grad or k.requires_grad))):
        return (_torch_apply(q, positions, src, st, bool(inverse), af, layout, rd),
                _torch_apply(k, positions, src, st, bool(inverse), af, layout, rd))
    ids, offset = _positions_arg(positions)
    out_q = _empty_like(q) if out_q is None else _check_out(q, out_q, "out_q")
    out_k = _empty_like(k) if out_k is None else _check_out(k, out_k, "out_k")
    if _is_torch(q) and torch.is_grad_enabled() and q.requires_grad or \
            _is_torch(k) and torch.is_grad_enabled() and k.requires_grad:
        raise ValueError("librope.apply_qk: out_q=/out_k= cannot be used when q or k requires grad")
    _rope_c(src, st, bool(inverse), af, rd, layout, ids, offset, [(q, out_q), (k, out_k)])
    _written(out_q)
    _written(out_k)
    return out_q, out_k


# ------------------------------------------------------------------- drop-ins

def _cos_sin_rows(cos, sin, name):
    """cos/sin given as a peer gives them -> float32 numpy (rows, width), finite."""
    cos, sin = Table._rows_arg(cos, "cos", name), Table._rows_arg(sin, "sin", name)
    if cos.shape != sin.shape:
        raise ValueError(f"{name}: cos and sin shapes differ: {cos.shape} vs {sin.shape}")
    return cos, sin


def _rows_table(cos, sin, hf, batch, seq, head_dim, where):
    """(Table, positions, rotary_dim) for rows a drop-in is given: hf = Hugging Face's cos/sin
    ((seq, R) or (batch, seq, R), halves duplicated); else Meta's freqs_cis as (real, imag),
    (seq, head_dim/2)."""
    c, s = _cos_sin_rows(cos, sin, where)
    if not hf:
        if c.ndim != 2 or c.shape[0] != seq or c.shape[1] * 2 != head_dim:
            raise ValueError(f"{where}: freqs_cis {c.shape} must be (seq, head_dim/2) = ({seq}, {head_dim // 2})")
        return Table.from_cos_sin(c, s), None, 2 * c.shape[1]
    if c.ndim == 2:
        c, s = c[None], s[None]
    if c.ndim != 3 or c.shape[-1] % 2:
        raise ValueError(f"{where}: cos must be (batch, seq, rotary_dim), got {c.shape}")
    n = c.shape[-1] // 2
    if not (np.array_equal(c[..., :n], c[..., n:]) and np.array_equal(s[..., :n], s[..., n:])):
        raise ValueError(f"{where}: cos/sin halves differ; librope rotates pairs (i, i+d/2) "
                         "by one angle, as HF's rotary embeddings produce (cat(freqs, freqs))")
    cb, cs = c.shape[0], c.shape[1]
    if cs != seq or cb not in (1, batch):
        raise ValueError(f"{where}: cos {c.shape} does not match (batch, seq) = ({batch}, {seq})")
    table = Table.from_cos_sin(c[..., :n].reshape(cb * cs, n), s[..., :n].reshape(cb * cs, n))
    positions = None if cb == 1 else np.arange(cb * cs, dtype=np.int64).reshape(cb, cs)
    return table, positions, 2 * n


def _rows_kernel(x, cos, sin, style, layout, hf, inverse):
    """The CPU kernel of librope::apply_rows (see _torch_op)."""
    t = _tensor(x, layout)
    table, positions, rd = _rows_table(cos, sin, hf, t.shape[0], t.shape[1], t.shape[3],
                                       "librope::apply_rows")
    out = torch.empty(x.shape, dtype=x.dtype)
    _rope_c(table, style, inverse, 1.0, rd, layout, positions, 0, [(x, out)])
    return out


def _rows_op_pair(q, k, cos, sin, style, layout, hf, where):
    """Both tensors through librope::apply_rows (inside torch.compile)."""
    if torch.is_grad_enabled() and (getattr(cos, "requires_grad", False) or getattr(sin, "requires_grad", False)):
        raise ValueError(f"{where}: no gradient flows to cos/sin; detach them")
    return (_ROWS_OP(q, cos, sin, style, layout, hf, False), _ROWS_OP(k, cos, sin, style, layout, hf, False))


def apply_rotary_pos_emb(q, k, cos, sin, position_ids=None, unsqueeze_dim=1):
    """Drop-in for Hugging Face's `apply_rotary_pos_emb` (rotate_half convention): cos/sin of shape
    (batch, seq, rotary_dim) or (seq, rotary_dim) as HF's rotary embedding returns them (halves
    duplicated, attention factor included); q/k (batch, heads, seq, head_dim) for unsqueeze_dim=1 or
    (batch, seq, heads, head_dim) for unsqueeze_dim=2. rotary_dim < head_dim rotates the first
    rotary_dim features (GPT-NeoX partial) and copies the rest. position_ids is ignored, as in HF.
    Returns new (q_embed, k_embed) of q's and k's dtype; arithmetic in float32. Differentiable in
    q and k; inside torch.compile it runs as the operator librope::apply_rows (no graph break)."""
    del position_ids
    if _ck.is_int(unsqueeze_dim) and unsqueeze_dim == 1:
        layout = "bhsd"
    elif _ck.is_int(unsqueeze_dim) and unsqueeze_dim == 2:
        layout = "bshd"
    else:
        raise ValueError("apply_rotary_pos_emb: unsqueeze_dim must be 1 (b, h, s, d) or 2 (b, s, h, d)")
    _dtype_code(q)
    _dtype_code(k)
    if _ROWS_OP is not None and _is_torch(q) and _is_torch(k) and _tracing():
        return _rows_op_pair(q, k, cos, sin, STYLE_HALF, layout, True, "apply_rotary_pos_emb")
    tq = _tensor(q, layout)
    table, positions, rd = _rows_table(cos, sin, True, tq.shape[0], tq.shape[1], tq.shape[3],
                                       "apply_rotary_pos_emb")
    return apply_qk(q, k, positions, style="half", table=table, attention_factor=1.0, layout=layout,
                    rotary_dim=rd)


def apply_rotary_emb(xq, xk, freqs_cis):
    """Drop-in for Meta llama's `apply_rotary_emb(xq, xk, freqs_cis)`: x (batch, seq, heads, head_dim),
    freqs_cis complex (seq, head_dim/2) (polar(1, m·θᵢ)), interleaved pairs (2i, 2i+1).
    Returns new (xq_out, xk_out) of xq's and xk's dtype; arithmetic in float32. Differentiable in
    xq and xk; inside torch.compile it runs as the operator librope::apply_rows (no graph break)."""
    _dtype_code(xq)
    _dtype_code(xk)
    if len(xq.shape) != 4:
        raise ValueError(f"apply_rotary_emb: xq must be (batch, seq, heads, head_dim), got shape {tuple(xq.shape)}")
    if _is_torch(freqs_cis):
        if not freqs_cis.is_complex():
            raise TypeError("apply_rotary_emb: freqs_cis must be complex (torch.polar / precompute_freqs_cis)")
        if _ROWS_OP is not None and _is_torch(xq) and _is_torch(xk) and _tracing():
            return _rows_op_pair(xq, xk, freqs_cis.real, freqs_cis.imag, STYLE_INTERLEAVED, "bshd", False,
                                 "apply_rotary_emb")
        fc = freqs_cis.detach().cpu().numpy()
    else:
        fc = np.asarray(freqs_cis)
    if not np.iscomplexobj(fc):
        raise TypeError("apply_rotary_emb: freqs_cis must be complex (torch.polar / precompute_freqs_cis)")
    table, _, rd = _rows_table(fc.real, fc.imag, False, xq.shape[0], xq.shape[1], xq.shape[-1], "apply_rotary_emb")
    return apply_qk(xq, xk, None, style="interleaved", table=table, attention_factor=1.0, rotary_dim=rd)


# ------------------------------------------------------------------- autograd

if torch is not None:
    class RoPEFunction(torch.autograd.Function):
        """y = RoPE(x); the backward is the library's inverse rotation (af·R(-θ), the transpose).
        RoPEFunction.apply(x, positions, style, freqs, table, attention_factor, layout[, inverse,
        rotary_dim]). The path of torch without torch.library.custom_op (< 2.4); with a newer
        torch, librope.rope / librope.apply use the librope::apply operator instead."""

        @staticmethod
        def forward(ctx, x, positions, style, freqs=None, table=None, attention_factor=None, layout="bshd",
                    inverse=False, rotary_dim=None):
            ctx.args = (positions, style, freqs, table, attention_factor, layout, inverse, rotary_dim)
            return apply(x.detach(), positions, style=style, freqs=freqs, table=table,
                         attention_factor=attention_factor, layout=layout, inverse=inverse,
                         rotary_dim=rotary_dim)

        @staticmethod
        def backward(ctx, grad):
            positions, style, freqs, table, af, layout, inverse, rd = ctx.args
            gx = apply(grad, positions, style=style, freqs=freqs, table=table, attention_factor=af,
                       layout=layout, inverse=not inverse, rotary_dim=rd)
            return gx, None, None, None, None, None, None, None, None

    def rope(x, positions=None, *, style, freqs=None, table=None, attention_factor=None, layout="bshd"):
        """Differentiable apply (torch): librope.apply of a tensor, under the name the old API used."""
        if not _is_torch(x):
            raise TypeError(f"librope.rope: expected a torch.Tensor, got {type(x).__name__}")
        return apply(x, positions, style=style, freqs=freqs, table=table, attention_factor=attention_factor,
                     layout=layout)
else:  # pragma: no cover
    RoPEFunction = None

    def rope(*args, **kwargs):
        raise ImportError("librope.rope needs torch")


def torch_op_available():
    """True when librope.apply / librope.rope run as the torch.library operator librope::apply
    (torch >= 2.4: torch.compile without graph breaks); False on older torch or without torch."""
    return _OP is not None


# --------------------------------------------------------------------- verify

def verify(config, cos=None, sin=None, *, freqs_cis=None, q=None, q_out=None, k=None, k_out=None,
           positions=None, layout="bshd", seq_len=None, tol=None, style=None, layer=None, layer_type=None,
           **fields):
    """Is another engine's RoPE right for this model? The analysis of `rope verify`
    (docs/verify.md): returns its JSON report as a dict (`verdict` "right" / "fault" /
    "unexplained", `diagnoses`, per-band errors, plot data).

    config: a HF config dict / config.json path / PretrainedConfig (rope_config keywords win).
    Evidence, one of: cos= and sin= ([..., R/2], or [..., R] with halves duplicated as HF's or
    values repeated as repeat_interleave; leading dims are rows), freqs_cis= (complex [..., R/2]
    or real [..., R/2, 2]), or q= and q_out= (and k=, k_out=) before/after the engine's RoPE,
    (batch, seq, heads, head_dim) or layout="bhsd" (3-D: batch 1). NumPy or torch (any float
    dtype, bfloat16 included). positions: one per table row, or per token ((seq,) or (batch, seq));
    default 0, 1, ... seq_len: the engine call's length (dynamic NTK, longrope; default max
    position + 1). tol: |cos/sin error| reported as "exceeds from position" (default 1e-3).
    style: "half" / "interleaved" overrides the model's pairing. layer / layer_type: the RoPE of
    that layer (per-layer models: Gemma 2/3/4, NoPE layers; default the full-attention layers')."""
    from . import _verify
    if isinstance(config, (str, os.PathLike)):
        with open(config) as fh:
            config = json.load(fh)
    elif hasattr(config, "to_dict") and not isinstance(config, dict):
        config = config.to_dict()
    if not isinstance(config, dict):
        raise TypeError("librope.verify: config must be a HF config dict, a config.json path or a "
                        "PretrainedConfig")
    desc = _config.model_from_hf(config)
    names = [x["name"] for x in desc["sets"]]
    if layer is not None and layer_type is not None:
        raise ValueError("librope.verify: give layer= or layer_type=, not both")
    si, nope = desc["primary"], False
    if layer is not None:
        layer = _ck.int64(layer, "librope.verify: layer", lo=0)
        if desc["layers"]:
            if layer >= len(desc["layers"]):
                raise ValueError(f"librope.verify: layer {layer} is outside 0..{len(desc['layers']) - 1}")
            si = desc["layers"][layer]
            nope = si is None
        elif len(names) > 1:
            raise ValueError("librope.verify: the layer map is unknown (no num_hidden_layers)")
    elif layer_type is not None:
        if layer_type not in names:
            raise ValueError(f"librope.verify: layer_type {layer_type!r}: the model's RoPE layer types are "
                             f"{', '.join(names)}")
        si = names.index(layer_type)
    set_fields = dict(desc["sets"][desc["primary"] if nope else si]["fields"])
    set_fields.update(fields)
    cfg, keep = _rope_config(None, set_fields, "librope.verify")
    alts = []
    for j, x in enumerate(desc["sets"]):
        if j != si and len(alts) < 4:
            c2, k2 = _rope_config(None, x["fields"], "librope.verify")
            alts.append((x["name"], c2))
            keep += k2
    lt = "none (NoPE)" if nope else (names[si] if len(names) > 1 or layer is not None or layer_type is not None
                                      else "")
    if not isinstance(layout, str) or layout not in ("bshd", "bhsd"):  # also when the evidence is a table
        raise ValueError(f"librope.verify: layout must be 'bshd' or 'bhsd', got {layout!r}")
    st = _verify.model_style(config)
    if style is not None:
        st = _style(style)
        if st == STYLE_DEINTERLEAVE:
            raise ValueError("librope.verify: style must be 'half' or 'interleaved' (a pairing, not a layout)")
    seq_len = None if seq_len is None else _ck.int64(seq_len, "librope.verify: seq_len", lo=0)
    tol = None if tol is None else _ck.real(tol, "librope.verify: tol")
    f = RopeFreqs()
    check(lib.rope_freqs_compute(C.byref(cfg), 0 if seq_len is None else seq_len, C.byref(f)),
          "rope_freqs_compute")
    report = _verify.run(cfg, keep, st, seq_len, tol, cos, sin, freqs_cis, q, q_out, k, k_out, positions,
                         layout, f.n_freqs, layer_type=lt, alts=alts, nope=nope)
    del keep
    return report
