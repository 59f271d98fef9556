"""ctypes mirrors of include/rope.h (LP64 layouts) for the benchmark peers.

Shared by peers.py (run with torch) and peer_ggml.py (run with llama-cpp-python, no torch):
both load librope.so by path and call the same few functions.
"""
import ctypes

ROPE_DTYPE = {"f32": 1, "f16": 2, "bf16": 3}  # rope_dtype
ROPE_STYLE = {"interleaved": 1, "half": 2}  # rope_style


class RopeTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("shape", ctypes.c_int64 * 4), ("stride", ctypes.c_int64 * 4)]


class RopePositions(ctypes.Structure):
    _fields_ = [("offset", ctypes.c_int64), ("ids", ctypes.c_void_p),
                ("ids_batch_stride", ctypes.c_int64), ("cu_seqlens", ctypes.c_void_p),
                ("n_seqs", ctypes.c_int64)]


class RopeApplyParams(ctypes.Structure):
    _fields_ = [("style", ctypes.c_int), ("table", ctypes.c_void_p), ("freqs", ctypes.c_void_p),
                ("rotary_dim", ctypes.c_int64), ("attention_factor", ctypes.c_float),
                ("inverse", ctypes.c_int), ("pool", ctypes.c_void_p)]


def load(path):
    """librope.so at path, with the signatures the peers call declared."""
    L = ctypes.CDLL(path)
    P = ctypes.c_void_p
    L.rope_config_init.argtypes = [P]
    L.rope_freqs_compute.argtypes = [P, ctypes.c_int64, P]
    L.rope_table_create.argtypes = [P, ctypes.c_int64, ctypes.c_int, ctypes.POINTER(P)]
    L.rope_table_free.argtypes = [P]
    L.rope_pool_create.argtypes = [ctypes.c_int, ctypes.POINTER(P)]
    L.rope_pool_free.argtypes = [P]
    L.rope_tensor_contiguous.argtypes = [ctypes.POINTER(RopeTensor), P, ctypes.c_int] + \
        [ctypes.c_int64] * 4
    L.rope_apply_qk.argtypes = [ctypes.POINTER(RopeApplyParams), ctypes.POINTER(RopePositions)] + \
        [ctypes.POINTER(RopeTensor)] * 4
    L.rope_isa_name.restype = ctypes.c_char_p
    return L
