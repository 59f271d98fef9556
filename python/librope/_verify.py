"""librope.verify: is another engine's RoPE right for a model? (the C analysis of `rope verify`,
tools/lib/verify.c, compiled into this package's library; docs/verify.md)."""
import ctypes as C
import json

import numpy as np

from ._core import RopeConfig, lib

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

STYLE_INTERLEAVED, STYLE_HALF = 1, 2


class VerifyAlt(C.Structure):
    _fields_ = [("name", C.c_char * 48), ("cfg", RopeConfig)]  # 48 = ROPE_SET_NAME_MAX


class VerifyTruth(C.Structure):
    _fields_ = [
        ("cfg", RopeConfig),
        ("style", C.c_int),
        ("seq_len", C.c_int64),
        ("tol", C.c_double),
        ("layer_type", C.c_char * 48),
        ("alt", VerifyAlt * 4),
        ("n_alt", C.c_int),
        ("nope", C.c_int),
    ]


class VerifyTable(C.Structure):
    _fields_ = [
        ("rows", C.c_int64),
        ("n_freqs", C.c_int64),
        ("cos", C.POINTER(C.c_double)),
        ("sin", C.POINTER(C.c_double)),
        ("positions", C.POINTER(C.c_int64)),
        ("implied_style", C.c_int),
        ("layout", C.c_char_p),
    ]


class VerifyPairs(C.Structure):
    _fields_ = [
        ("tokens", C.c_int64),
        ("heads", C.c_int64),
        ("head_dim", C.c_int64),
        ("inp", C.POINTER(C.c_double)),
        ("out", C.POINTER(C.c_double)),
        ("positions", C.POINTER(C.c_int64)),
        ("eps", C.c_double),
    ]


class VerifyDecoded(C.Structure):
    _fields_ = [
        ("rows", C.c_int64),
        ("n_freqs", C.c_int64),
        ("cos", C.POINTER(C.c_double)),
        ("sin", C.POINTER(C.c_double)),
        ("implied_style", C.c_int),
        ("layout", C.c_char * 80),
    ]


def _sigs():
    P = C.POINTER
    sigs = {
        "verify_table_json": (C.c_void_p, [P(VerifyTruth), P(VerifyTable), C.c_char_p, C.c_size_t]),
        "verify_pairs_json": (C.c_void_p, [P(VerifyTruth), P(VerifyPairs), C.c_char_p, C.c_size_t]),
        "verify_decode_cos_sin": (C.c_int, [C.c_int, P(C.c_int64), P(C.c_double), P(C.c_double), C.c_int64,
                                            P(VerifyDecoded), C.c_char_p, C.c_size_t]),
        "verify_decode_cis": (C.c_int, [C.c_int, P(C.c_int64), P(C.c_double), P(VerifyDecoded), C.c_char_p,
                                        C.c_size_t]),
        "verify_decoded_free": (None, [P(VerifyDecoded)]),
        "verify_string_free": (None, [C.c_void_p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


_sigs()


def _dptr(a):
    return a.ctypes.data_as(C.POINTER(C.c_double))


def _iptr(a):
    return a.ctypes.data_as(C.POINTER(C.c_int64)) if a is not None else None


def _eps_of(x):
    """Unit roundoff of an output's dtype: what its rounding alone explains."""
    if torch is not None and isinstance(x, torch.Tensor):
        return {torch.float16: 2.0 ** -11, torch.bfloat16: 2.0 ** -8}.get(x.dtype, 2.0 ** -24)
    dt = np.asarray(x).dtype
    return 2.0 ** -11 if dt == np.float16 else 2.0 ** -24


def _f64(x, name, allow_complex=False):
    """A NumPy array / torch tensor as a contiguous float64 array (complex kept if allowed)."""
    if x is None:
        return None
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_complex():
            x = x.to(torch.complex128)
        elif x.is_floating_point():
            x = x.to(torch.float64)
        x = x.numpy()
    a = np.asarray(x)
    if np.iscomplexobj(a):
        if not allow_complex:
            raise TypeError(f"librope.verify: {name} must be real")
        return np.ascontiguousarray(np.stack([a.real, a.imag], -1), dtype=np.float64)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"librope.verify: {name} must be a float array, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim == 0 or a.size == 0:
        raise ValueError(f"librope.verify: {name} is empty")
    return a


def _positions(positions):
    if positions is None:
        return None
    if torch is not None and isinstance(positions, torch.Tensor):
        positions = positions.detach().cpu().numpy()
    p = np.asarray(positions)
    if p.dtype.kind not in "iu":
        raise TypeError("librope.verify: positions must be integers")
    if p.size and (p.min() < 0 or p.max() > 2 ** 53):
        raise ValueError("librope.verify: positions must lie in [0, 2^53]")
    return np.ascontiguousarray(p, dtype=np.int64)


def model_style(config_dict):
    """The pairing a checkpoint of this model uses, as tools/lib/config_json.c decides it."""
    d = config_dict.get("text_config") if isinstance(config_dict.get("text_config"), dict) else config_dict
    mt = d.get("model_type") or config_dict.get("model_type") or ""
    if mt == "deepseek_v2" or mt == "gptj":
        return STYLE_INTERLEAVED
    if mt == "deepseek_v3":
        return STYLE_INTERLEAVED if d.get("rope_interleave", True) else STYLE_HALF
    return STYLE_HALF


def _err():
    return C.create_string_buffer(512)


def _result(ptr, err):
    if not ptr:
        raise ValueError("librope.verify: " + err.value.decode(errors="replace"))
    try:
        return json.loads(C.string_at(ptr).decode())
    finally:
        lib.verify_string_free(ptr)


def run(cfg, keep, style, seq_len, tol, cos, sin, freqs_cis, q, q_out, k, k_out, positions, layout, n_freqs,
        layer_type="", alts=(), nope=False):
    t = VerifyTruth()
    t.cfg = cfg
    t.layer_type = layer_type.encode()[:47]
    for i, (name, c) in enumerate(alts):
        t.alt[i].name = name.encode()[:47]
        t.alt[i].cfg = c
    t.n_alt = len(alts)
    t.nope = 1 if nope else 0
    t.style = style
    t.seq_len = 0 if seq_len is None else int(seq_len)
    t.tol = 0.0 if tol is None else float(tol)
    if t.seq_len < 0 or not t.tol >= 0:
        raise ValueError("librope.verify: seq_len and tol must be >= 0")
    pos = _positions(positions)
    tables = cos is not None or sin is not None or freqs_cis is not None
    pairs = any(v is not None for v in (q, q_out, k, k_out))
    if tables == pairs or (cos is None) != (sin is None) or (freqs_cis is not None and cos is not None) or \
            (pairs and (q is None or q_out is None)) or ((k is None) != (k_out is None)):
        raise ValueError("librope.verify: give exactly one kind of evidence: cos= and sin=, freqs_cis=, "
                         "or q= and q_out= (with k= and k_out= optionally)")
    err = _err()
    if tables:
        d = VerifyDecoded()
        if freqs_cis is not None:
            a = _f64(freqs_cis, "freqs_cis", allow_complex=True)
            shape = (C.c_int64 * a.ndim)(*a.shape)
            rc = lib.verify_decode_cis(a.ndim, shape, _dptr(a), C.byref(d), err, len(err))
        else:
            c, s = _f64(cos, "cos"), _f64(sin, "sin")
            if c.shape != s.shape:
                raise ValueError(f"librope.verify: cos {c.shape} and sin {s.shape} differ in shape")
            shape = (C.c_int64 * c.ndim)(*c.shape)
            rc = lib.verify_decode_cos_sin(c.ndim, shape, _dptr(c), _dptr(s), n_freqs, C.byref(d), err, len(err))
        if rc:
            raise ValueError("librope.verify: " + err.value.decode(errors="replace"))
        try:
            if pos is not None:
                pos = pos.reshape(-1)
                if pos.size != d.rows:
                    raise ValueError(f"librope.verify: {pos.size} positions for {d.rows} table rows")
            e = VerifyTable(d.rows, d.n_freqs, d.cos, d.sin, _iptr(pos), d.implied_style, d.layout)
            return _result(lib.verify_table_json(C.byref(t), C.byref(e), err, len(err)), err)
        finally:
            lib.verify_decoded_free(C.byref(d))
    eps = max(_eps_of(q_out), _eps_of(k_out) if k_out is not None else 0.0)
    xs = []
    for name, a in (("q", q), ("q_out", q_out), ("k", k), ("k_out", k_out)):
        a = _f64(a, name)
        if a is not None:
            if a.ndim == 3:
                a = a[None]
            if a.ndim != 4:
                raise ValueError(f"librope.verify: {name} must be 3-D or 4-D, got shape {a.shape}")
            if layout == "bhsd":
                a = a.transpose(0, 2, 1, 3)
            elif layout != "bshd":
                raise ValueError("librope.verify: layout must be 'bshd' or 'bhsd'")
        xs.append(a)
    qi, qo, ki, ko = xs
    if qi.shape != qo.shape or (ki is not None and ki.shape != ko.shape):
        raise ValueError("librope.verify: inputs and outputs differ in shape")
    if ki is not None and (ki.shape[0], ki.shape[1], ki.shape[3]) != (qi.shape[0], qi.shape[1], qi.shape[3]):
        raise ValueError("librope.verify: q and k differ in batch, seq or head_dim")
    inp = qi if ki is None else np.concatenate([qi, ki], axis=2)
    out = qo if ko is None else np.concatenate([qo, ko], axis=2)
    B, S, H, D = inp.shape
    inp = np.ascontiguousarray(inp.reshape(B * S, H, D))
    out = np.ascontiguousarray(out.reshape(B * S, H, D))
    if pos is None:
        tok = np.tile(np.arange(S, dtype=np.int64), B)
    else:
        if pos.ndim == 1 and pos.size == S:
            tok = np.tile(pos, B)
        elif pos.ndim == 2 and pos.shape[1] == S and pos.shape[0] in (1, B):
            tok = np.ascontiguousarray(np.broadcast_to(pos, (B, S)).reshape(-1))
        else:
            raise ValueError(f"librope.verify: positions of shape {pos.shape} for (batch, seq) = ({B}, {S})")
    p = VerifyPairs(B * S, H, D, _dptr(inp), _dptr(out), _iptr(tok), eps)
    return _result(lib.verify_pairs_json(C.byref(t), C.byref(p), err, len(err)), err)
