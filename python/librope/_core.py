"""ctypes mirror of include/rope.h (the structs and the functions the binding calls)."""
import ctypes as C
import glob
import os

MAX_HEAD_DIM = 1024
MAX_FREQS = MAX_HEAD_DIM // 2

F32, F16, BF16 = 1, 2, 3
STYLE_INTERLEAVED, STYLE_HALF = 1, 2
STYLE_DEINTERLEAVE = 3  # DeepSeek-V3 rope_interleave: (2i, 2i+1) in, (i, i+R/2) out
PRECISION_ACCURATE, PRECISION_COMPAT_F32 = 0, 1
SCALING_NAMES = ["default", "linear", "dynamic", "yarn", "llama3", "longrope", "proportional"]
MAX_MROPE_PLANES = 4
BAND_NAMES = ["unscaled", "blend", "scaled"]


class RopeConfig(C.Structure):
    _fields_ = [
        ("type", C.c_int),
        ("rope_theta", C.c_double),
        ("head_dim", C.c_int64),
        ("hidden_size", C.c_int64),
        ("num_attention_heads", C.c_int64),
        ("partial_rotary_factor", C.c_double),
        ("factor", C.c_double),
        ("max_position_embeddings", C.c_int64),
        ("original_max_position_embeddings", C.c_int64),
        ("beta_fast", C.c_double),
        ("beta_slow", C.c_double),
        ("attention_factor", C.c_double),
        ("mscale", C.c_double),
        ("mscale_all_dim", C.c_double),
        ("truncate", C.c_int),
        ("low_freq_factor", C.c_double),
        ("high_freq_factor", C.c_double),
        ("short_factor", C.POINTER(C.c_double)),
        ("long_factor", C.POINTER(C.c_double)),
        ("n_short_factor", C.c_int64),
        ("n_long_factor", C.c_int64),
        ("mrope_section", C.c_int64 * MAX_MROPE_PLANES),
        ("n_mrope_section", C.c_int),
        ("mrope_interleaved", C.c_int),
        ("freq_divisor", C.POINTER(C.c_double)),
        ("n_freq_divisor", C.c_int64),
    ]


class RopeFreqs(C.Structure):
    _fields_ = [
        ("type", C.c_int),
        ("head_dim", C.c_int64),
        ("rotary_dim", C.c_int64),
        ("n_freqs", C.c_int64),
        ("inv_freq", C.c_double * MAX_FREQS),
        ("inv_freq_f32", C.c_float * MAX_FREQS),
        ("band", C.c_ubyte * MAX_FREQS),
        ("attention_factor", C.c_double),
        ("softmax_scale_factor", C.c_double),
        ("mrope_section", C.c_int64 * MAX_MROPE_PLANES),
        ("n_mrope_section", C.c_int),
        ("mrope_interleaved", C.c_int),
    ]


class RopeTensor(C.Structure):
    _fields_ = [
        ("data", C.c_void_p),
        ("dtype", C.c_int),
        ("shape", C.c_int64 * 4),
        ("stride", C.c_int64 * 4),
    ]


class RopePositions(C.Structure):
    _fields_ = [
        ("offset", C.c_int64),
        ("ids", C.POINTER(C.c_int64)),
        ("ids_batch_stride", C.c_int64),
        ("cu_seqlens", C.POINTER(C.c_int64)),
        ("n_seqs", C.c_int64),
    ]


class RopeApplyParams(C.Structure):
    _fields_ = [
        ("style", C.c_int),
        ("table", C.c_void_p),
        ("freqs", C.POINTER(RopeFreqs)),
        ("rotary_dim", C.c_int64),
        ("attention_factor", C.c_float),
        ("inverse", C.c_int),
        ("pool", C.c_void_p),
    ]


def library_path():
    """Path of the shared library this package loads: librope/_librope.so, built by CMake when
    pip builds the package, or the file LIBROPE_LIBRARY names (a librope.so of the same version)."""
    env = os.environ.get("LIBROPE_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "_librope*.so")) + glob.glob(os.path.join(here, "_librope*.dylib")))
    if not found:
        raise ImportError("librope: the C library was not built; install with `pip install ./python` "
                          "or set LIBROPE_LIBRARY to a librope.so")
    return found[0]


def _load():
    lib = C.CDLL(library_path())
    P = C.POINTER
    sigs = {
        "rope_strerror": (C.c_char_p, [C.c_int]),
        "rope_config_init": (None, [P(RopeConfig)]),
        "rope_scaling_from_name": (C.c_int, [C.c_char_p, P(C.c_int)]),
        "rope_freqs_compute": (C.c_int, [P(RopeConfig), C.c_int64, P(RopeFreqs)]),
        "rope_cos_sin": (C.c_int, [P(RopeFreqs), P(C.c_int64), C.c_int64, C.c_int64, C.c_int,
                                   C.c_void_p, C.c_void_p]),
        "rope_table_create": (C.c_int, [P(RopeFreqs), C.c_int64, C.c_int, P(C.c_void_p)]),
        "rope_table_create_at": (C.c_int, [P(RopeFreqs), P(C.c_int64), C.c_int64, C.c_int, P(C.c_void_p)]),
        "rope_table_create_mrope": (C.c_int, [P(RopeFreqs), P(C.c_int64), C.c_int64, C.c_int, P(C.c_void_p)]),
        "rope_table_create_axial": (C.c_int, [P(RopeFreqs), P(C.c_int64), C.c_int, C.c_int64, P(C.c_int), P(C.c_int),
                                              C.c_int64, C.c_int, P(C.c_void_p)]),
        "rope_table_from_cos_sin": (C.c_int, [C.c_void_p, C.c_void_p, C.c_int64, C.c_int64, P(C.c_void_p)]),
        "rope_table_free": (None, [C.c_void_p]),
        "rope_table_rows": (C.c_int64, [C.c_void_p]),
        "rope_table_n_freqs": (C.c_int64, [C.c_void_p]),
        "rope_table_cos": (P(C.c_float), [C.c_void_p]),
        "rope_table_sin": (P(C.c_float), [C.c_void_p]),
        "rope_table_create_pool": (C.c_int, [P(RopeFreqs), C.c_int64, C.c_int, C.c_void_p, P(C.c_void_p)]),
        "rope_pool_create": (C.c_int, [C.c_int, P(C.c_void_p)]),
        "rope_pool_free": (None, [C.c_void_p]),
        "rope_pool_size": (C.c_int, [C.c_void_p]),
        "rope_apply_params_init": (None, [P(RopeApplyParams)]),
        "rope_apply": (C.c_int, [P(RopeApplyParams), P(RopePositions), P(RopeTensor), P(RopeTensor)]),
        "rope_apply_qk": (C.c_int, [P(RopeApplyParams), P(RopePositions), P(RopeTensor), P(RopeTensor),
                                    P(RopeTensor), P(RopeTensor)]),
        "rope_isa_name": (C.c_char_p, []),
        "rope_isa_available": (P(C.c_char_p), [P(C.c_int)]),
        "rope_version": (C.c_uint, []),
        "rope_version_string": (C.c_char_p, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


lib = _load()


class RopeError(ValueError):
    """A librope call returned a status other than ROPE_OK."""

    def __init__(self, status, where=""):
        self.status = status
        msg = lib.rope_strerror(status).decode()
        super().__init__(f"{where}: {msg} (rope_status {status})" if where else msg)


def check(status, where=""):
    if status != 0:
        raise RopeError(status, where)
