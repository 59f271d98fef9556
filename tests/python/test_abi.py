"""The ctypes mirror (librope/_core.py) against include/rope.h as a C compiler sees it: size and
every field's offset of each mirrored struct, the enum values and constants the binding uses,
and the version of the library actually loaded."""
import ctypes as C
import os
import shutil
import subprocess

import pytest

import librope
from librope import _core

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = os.environ.get("LIBROPE_INCLUDE", os.path.join(HERE, "..", "..", "include"))

STRUCTS = [("rope_config", _core.RopeConfig), ("rope_freqs", _core.RopeFreqs), ("rope_tensor", _core.RopeTensor),
           ("rope_positions", _core.RopePositions), ("rope_apply_params", _core.RopeApplyParams)]

# test_attention_torch.py mirrors rope.h on its own (it calls C without the binding): its
# structs are checked here too (a mirror smaller than the C struct lets C write past it)
os.environ.setdefault("LIBROPE_SO", librope.library_path())
try:
    import test_attention_torch as _ta
    STRUCTS += [("rope_config", _ta.Config), ("rope_freqs", _ta.Freqs), ("rope_tensor", _ta.Tensor),
                ("rope_positions", _ta.Positions), ("rope_apply_params", _ta.ApplyParams),
                ("rope_kv_cache_desc", _ta.CacheDesc), ("rope_attention_params", _ta.AttnParams)]
except (ImportError, pytest.skip.Exception):  # no torch
    pass
CONSTANTS = {"ROPE_F32": _core.F32, "ROPE_F16": _core.F16, "ROPE_BF16": _core.BF16,
             "ROPE_STYLE_INTERLEAVED": _core.STYLE_INTERLEAVED, "ROPE_STYLE_HALF": _core.STYLE_HALF,
             "ROPE_STYLE_DEINTERLEAVE": _core.STYLE_DEINTERLEAVE,
             "ROPE_PRECISION_ACCURATE": _core.PRECISION_ACCURATE,
             "ROPE_PRECISION_COMPAT_F32": _core.PRECISION_COMPAT_F32,
             "ROPE_MAX_HEAD_DIM": _core.MAX_HEAD_DIM, "ROPE_MAX_FREQS": _core.MAX_FREQS,
             "ROPE_SCALING_COUNT": len(_core.SCALING_NAMES),
             **{f"ROPE_BAND_{n.upper()}": i for i, n in enumerate(_core.BAND_NAMES)}}


def _c_layout(tmp_path):
    """{name: value} printed by a C program compiled against rope.h: sizeof(struct), offsetof
    of each field the ctypes mirror names, and the constants."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc or not os.path.isfile(os.path.join(INCLUDE, "rope.h")):
        pytest.skip(f"needs a C compiler and rope.h (LIBROPE_INCLUDE={INCLUDE})")
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include \"rope.h\"", "int main(void) {"]
    for cname, cls in STRUCTS:
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{cname}.{field} %zu\\n", offsetof({cname}, {field}));')
    for name in CONSTANTS:
        lines.append(f'printf("{name} %lld\\n", (long long){name});')
    lines += ["return 0;", "}"]
    src, exe = tmp_path / "layout.c", tmp_path / "layout"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-I", INCLUDE, str(src), "-o", str(exe)], check=True, timeout=120)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60).stdout
    return {k: int(v) for k, v in (ln.split() for ln in out.splitlines())}


def test_struct_sizes_offsets_and_constants_match_the_header(tmp_path):
    c = _c_layout(tmp_path)
    mismatches = []
    for cname, cls in STRUCTS:
        if C.sizeof(cls) != c[cname]:
            mismatches.append(f"sizeof({cname}) ({cls.__module__}.{cls.__name__}): ctypes {C.sizeof(cls)}, "
                              f"C {c[cname]}")
        for field, _ in cls._fields_:
            off = getattr(cls, field).offset
            if off != c[f"{cname}.{field}"]:
                mismatches.append(f"offsetof({cname}, {field}) ({cls.__module__}.{cls.__name__}): ctypes {off}, "
                                  f"C {c[cname + '.' + field]}")
    for name, value in CONSTANTS.items():
        if value != c[name]:
            mismatches.append(f"{name}: binding {value}, header {c[name]}")
    assert not mismatches, "\n".join(mismatches)


def test_scaling_names_in_the_enum_order():
    lib = _core.lib
    lib.rope_scaling_name.restype = C.c_char_p
    lib.rope_scaling_name.argtypes = [C.c_int]
    assert [lib.rope_scaling_name(i).decode() for i in range(len(_core.SCALING_NAMES))] == _core.SCALING_NAMES


def test_the_loaded_library_is_the_version_of_the_header():
    text = open(os.path.join(INCLUDE, "rope.h")).read() if os.path.isfile(os.path.join(INCLUDE, "rope.h")) \
        else pytest.skip("rope.h not found")
    ver = [int(text.split(f"#define ROPE_VERSION_{p} ")[1].split()[0]) for p in ("MAJOR", "MINOR", "PATCH")]
    assert librope.__version__ == "%d.%d.%d" % tuple(ver)
    assert _core.lib.rope_version() == ver[0] * 10000 + ver[1] * 100 + ver[2]
    if not os.environ.get("LIBROPE_LIBRARY"):  # an installed package: its metadata says so too
        from importlib.metadata import version
        assert version("librope") == librope.__version__
