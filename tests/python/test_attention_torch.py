"""librope's KV cache + causal GQA attention against PyTorch eager attention.

The PyTorch side is the seeds' LLaMA attention with its bugs fixed: RoPE by
Hugging Face's rotate_half (cos/sin from float64 angles), keys rotated before
they are cached, repeat_kv for grouped-query heads, q·kᵀ/√d plus a causal mask
aligned bottom-right (a query at absolute position p sees keys at positions
<= p, also when q_len != kv_len), float32 softmax, ·v; padding and sliding
windows as extra masks. librope gets the same raw q, k, v through ctypes only
(no dependency on the Python binding): the library path comes from LIBROPE_SO.

Run: LIBROPE_SO=build/src/librope.so python3 -m pytest tests/python/test_attention_torch.py
"""
import ctypes as C
import math
import os

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not importable")

SO = os.environ.get("LIBROPE_SO")
if not SO:
    pytest.skip("LIBROPE_SO is not set (path to librope.so)", allow_module_level=True)
if not os.path.exists(SO):
    pytest.skip(f"LIBROPE_SO={SO} does not exist", allow_module_level=True)

# ------------------------------------------------------------------ C types (rope.h)

F32, F16, BF16 = 1, 2, 3
STYLE_HALF = 2
MAX_FREQS = 512
I64 = C.c_int64


# The public structs as the binding mirrors them (python/librope/_core.py; their
# sizes and offsets are checked against rope.h by test_abi.py).
from librope._core import (RopeApplyParams as ApplyParams, RopeConfig as Config,  # noqa: E402
                           RopeFreqs as Freqs, RopePositions as Positions, RopeTensor as Tensor)


class CacheDesc(C.Structure):
    _fields_ = [("batch", I64), ("n_kv_heads", I64), ("head_dim", I64), ("capacity", I64),
                ("dtype", C.c_int), ("mode", C.c_int)]


class AttnParams(C.Structure):
    _fields_ = [("softmax_scale", C.c_double), ("sliding_window", I64), ("pool", C.c_void_p),
                ("rope", C.c_void_p)]


@pytest.fixture(scope="module")
def lib():
    L = C.CDLL(SO)
    L.rope_strerror.restype = C.c_char_p
    L.rope_config_init.argtypes = [C.POINTER(Config)]
    L.rope_freqs_compute.argtypes = [C.POINTER(Config), I64, C.POINTER(Freqs)]
    L.rope_apply_params_init.argtypes = [C.POINTER(ApplyParams)]
    L.rope_apply.argtypes = [C.POINTER(ApplyParams), C.POINTER(Positions), C.POINTER(Tensor), C.POINTER(Tensor)]
    L.rope_kv_cache_create.argtypes = [C.POINTER(CacheDesc), C.POINTER(C.c_void_p)]
    L.rope_kv_cache_free.argtypes = [C.c_void_p]
    L.rope_kv_cache_free.restype = None
    L.rope_kv_cache_append.argtypes = [C.c_void_p, C.POINTER(ApplyParams), C.POINTER(Positions),
                                       C.POINTER(Tensor), C.POINTER(Tensor)]
    L.rope_kv_cache_length.argtypes = [C.c_void_p, I64, C.POINTER(I64)]
    L.rope_attention_params_init.argtypes = [C.POINTER(AttnParams)]
    L.rope_attention.argtypes = [C.c_void_p, C.POINTER(AttnParams), C.POINTER(Positions),
                                 C.POINTER(Tensor), C.POINTER(Tensor)]
    return L


def ok(lib, status):
    assert status == 0, lib.rope_strerror(status).decode()


def tensor(t, dtype_code):
    """A rope_tensor view of a contiguous 4-D torch tensor (b, s, h, d)."""
    assert t.is_contiguous() and t.dim() == 4
    v = Tensor()
    v.data = t.data_ptr()
    v.dtype = dtype_code
    for i in range(4):
        v.shape[i] = t.shape[i]
        v.stride[i] = t.stride(i)
    return v


def ids_of(pos):
    """rope_positions with per-token ids from an int64 (b, s) tensor (kept alive by the caller)."""
    p = Positions()
    p.ids = C.cast(C.c_void_p(pos.data_ptr()), C.POINTER(I64))
    p.ids_batch_stride = pos.shape[1]
    return p


TORCH_DT = {F32: torch.float32, F16: torch.float16, BF16: torch.bfloat16}

# --------------------------------------------------------------- PyTorch reference


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_rope(x, pos, theta=10000.0):
    """x (b, s, h, d) at positions pos (b, s): HF apply_rotary_pos_emb, angles in float64."""
    d = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = pos.to(torch.float64)[..., None] * inv_freq  # (b, s, d/2)
    emb = torch.cat((ang, ang), dim=-1)[:, :, None, :]
    x = x.to(torch.float64)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def repeat_kv(x, n_rep):
    b, h, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, h, n_rep, s, d).reshape(b, h * n_rep, s, d)


def torch_attention(q, k, v, qpos, kpos, kvalid=None, window=0):
    """Eager attention, (b, s, h, d) in, (b, s, h, d) out; q, k already rotated.
    Mask: key visible iff kpos <= qpos (bottom-right causal) [and qpos - window < kpos]."""
    b, sq, hq, d = q.shape
    hkv = k.shape[2]
    qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    kh, vh = repeat_kv(kh, hq // hkv), repeat_kv(vh, hq // hkv)
    scores = torch.matmul(qh, kh.transpose(2, 3)) / math.sqrt(d)
    vis = kpos[:, None, :] <= qpos[:, :, None]  # (b, sq, sk)
    if window:
        vis &= kpos[:, None, :] > qpos[:, :, None] - window
    if kvalid is not None:
        vis &= kvalid[:, None, :]
    vis &= (qpos >= 0)[:, :, None]
    scores = scores.masked_fill(~vis[:, None], float("-inf"))
    p = torch.softmax(scores.to(torch.float32), dim=-1).to(scores.dtype)
    p = torch.nan_to_num(p, nan=0.0)  # a fully masked row attends to nothing: zeros
    return torch.matmul(p, vh).transpose(1, 2)


# ---------------------------------------------------------------------- librope side


class Rope:
    def __init__(self, lib, head_dim):
        self.lib = lib
        cfg = Config()
        lib.rope_config_init(C.byref(cfg))
        cfg.head_dim = head_dim
        cfg.rope_theta = 10000.0
        self.freqs = Freqs()
        ok(lib, lib.rope_freqs_compute(C.byref(cfg), 0, C.byref(self.freqs)))
        assert self.freqs.head_dim == head_dim and self.freqs.n_freqs == head_dim // 2  # struct layout
        self.ap = ApplyParams()
        lib.rope_apply_params_init(C.byref(self.ap))
        self.ap.style = STYLE_HALF
        self.ap.freqs = C.pointer(self.freqs)
        self.ap.rotary_dim = head_dim

    def rotate_q(self, q, qpos):
        out = q.clone()
        t = tensor(out, F32)
        p = ids_of(qpos)
        ok(self.lib, self.lib.rope_apply(C.byref(self.ap), C.byref(p), C.byref(t), C.byref(t)))
        return out


def run_librope(lib, q, k, v, qpos, kpos, chunks, cache_dtype, window=0, batch_rows=None):
    """Append k, v chunk by chunk (keys rotated on write), then attend q at qpos."""
    b, _, hkv, d = k.shape
    rope = Rope(lib, d)
    desc = CacheDesc(b, hkv, d, k.shape[1] + 1, cache_dtype)
    cache = C.c_void_p()
    ok(lib, lib.rope_kv_cache_create(C.byref(desc), C.byref(cache)))
    try:
        s0 = 0
        for n in chunks:
            kc, vc = k[:, s0:s0 + n].contiguous(), v[:, s0:s0 + n].contiguous()
            pc = kpos[:, s0:s0 + n].contiguous()
            tk, tv, p = tensor(kc, F32), tensor(vc, F32), ids_of(pc)
            ok(lib, lib.rope_kv_cache_append(cache, C.byref(rope.ap), C.byref(p), C.byref(tk), C.byref(tv)))
            s0 += n
        qr = rope.rotate_q(q, qpos.clamp(min=0))
        out = torch.full_like(q, float("nan"))
        ap = AttnParams()
        lib.rope_attention_params_init(C.byref(ap))
        ap.sliding_window = window
        p = ids_of(qpos)
        tq, to = tensor(qr, F32), tensor(out, F32)
        ok(lib, lib.rope_attention(cache, C.byref(ap), C.byref(p), C.byref(tq), C.byref(to)))
        return out
    finally:
        lib.rope_kv_cache_free(cache)


TOL = {F32: 1e-4, F16: 3e-3, BF16: 2e-2}


def compare(lib, b, hq, hkv, d, n_prefix, n_q, cache_dtype, window=0, start=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = n_prefix + n_q
    q = torch.rand(b, n_q, hq, d, generator=g) * 4 - 2
    k = torch.rand(b, n, hkv, d, generator=g) * 2 - 1
    v = torch.rand(b, n, hkv, d, generator=g) * 2 - 1
    # what the cache stores: k, v rounded to its dtype, then (k) rotated
    k = k.to(TORCH_DT[cache_dtype]).to(torch.float32)
    v = v.to(TORCH_DT[cache_dtype]).to(torch.float32)
    kpos = (torch.arange(n, dtype=torch.int64) + start).expand(b, n).contiguous()
    qpos = kpos[:, n_prefix:].contiguous()
    chunks = [c for c in (n_prefix, n_q) if c]
    got = run_librope(lib, q, k, v, qpos, kpos, chunks, cache_dtype, window)
    want = torch_attention(hf_rope(q, qpos), hf_rope(k, kpos), v.to(torch.float64), qpos, kpos, window=window)
    err = (got.to(torch.float64) - want).abs().max().item()
    assert err <= TOL[cache_dtype], f"max |librope - torch| = {err}"


@pytest.mark.parametrize("cache_dtype", [F32, F16, BF16], ids=["f32", "f16", "bf16"])
@pytest.mark.parametrize("b,hq,hkv,d,n_prefix,n_q", [
    (1, 4, 4, 64, 0, 50),      # MHA prefill
    (2, 8, 2, 128, 100, 1),    # GQA decode after a prefix, batch 2
    (1, 8, 2, 128, 37, 90),    # GQA chunked prefill: q_len != kv_len, mask bottom-right
    (1, 6, 1, 32, 5, 70),      # MQA
    (1, 3, 3, 18, 0, 33),      # odd head count, head_dim not a multiple of 16
])
def test_matches_torch_eager(lib, cache_dtype, b, hq, hkv, d, n_prefix, n_q):
    compare(lib, b, hq, hkv, d, n_prefix, n_q, cache_dtype)


def test_long_context_decode(lib):
    compare(lib, 1, 8, 2, 64, 1500, 3, F32, seed=1)


def test_sliding_window(lib):
    compare(lib, 1, 4, 2, 32, 60, 70, F32, window=23, seed=2)


def test_positions_far_out(lib):
    """RoPE is relative: at positions ~10^6 librope still matches a float64-angle torch."""
    compare(lib, 1, 4, 2, 64, 40, 20, F32, start=1_000_000, seed=3)


def test_left_padded_batch(lib):
    """Rows of different lengths, left padded: pad tokens have id -1 (not cached, zero output);
    torch masks the pad keys with an attention mask, as HF does with left padding."""
    b, hq, hkv, d, n = 3, 4, 2, 32, 24
    lens = [5, 24, 13]
    g = torch.Generator().manual_seed(4)
    q = torch.rand(b, n, hq, d, generator=g) * 4 - 2
    k = torch.rand(b, n, hkv, d, generator=g) * 2 - 1
    v = torch.rand(b, n, hkv, d, generator=g) * 2 - 1
    pos = torch.full((b, n), -1, dtype=torch.int64)
    for i, L in enumerate(lens):
        pos[i, n - L:] = torch.arange(L)
    got = run_librope(lib, q, k, v, pos, pos, [n], F32)
    valid = pos >= 0
    want = torch_attention(hf_rope(q, pos.clamp(min=0)), hf_rope(k, pos.clamp(min=0)), v.to(torch.float64),
                           pos, pos, kvalid=valid)
    assert (got[~valid] == 0).all(), "padded queries must give zeros"
    err = (got.to(torch.float64) - want)[valid].abs().max().item()
    assert err <= 1e-4, err
