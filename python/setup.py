"""Builds the librope C core (../src, ../include) into librope/_librope*.so.

The library is loaded with ctypes (no CPython API in C), so the shared object is
the plain C library. Each SIMD kernel file gets its own ISA flags, exactly as
src/CMakeLists.txt does; the runtime dispatcher only calls a kernel set the CPU
reports (cpuid / XGETBV), so one wheel runs everywhere on its architecture.
"""
import glob
import os
import platform

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("LIBROPE_ROOT", os.path.dirname(HERE))
SRC = os.path.join(ROOT, "src")
INCLUDE = os.path.join(ROOT, "include")

if not os.path.isfile(os.path.join(INCLUDE, "rope.h")):
    raise SystemExit(f"librope: C sources not found under {ROOT} (set LIBROPE_ROOT to the repository root)")

X86_AVX2 = ["-mavx2", "-mfma", "-mf16c"]
X86_AVX512 = ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16",
              "-mfma", "-mf16c"]


def core_sources():
    """(path, extra flags) for every file of the core, as in src/CMakeLists.txt."""
    files = [(p, []) for p in sorted(glob.glob(os.path.join(SRC, "*.c")))]
    k = os.path.join(SRC, "kernels")
    files += [(os.path.join(k, "scalar.c"), []), (os.path.join(k, "dispatch.c"), [])]
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        files += [(os.path.join(k, "avx2.c"), X86_AVX2), (os.path.join(k, "avx512.c"), X86_AVX512)]
    elif machine in ("aarch64", "arm64"):
        files += [(os.path.join(k, "neon.c"), [])]
    return files


class BuildCore(build_ext):
    def build_extension(self, ext):
        objects = []
        common = ["-std=c11", "-O2", "-fPIC", "-DNDEBUG"]
        for path, flags in core_sources():
            rel = os.path.relpath(path, ROOT).replace(os.sep, "_")
            out_dir = os.path.join(self.build_temp, "librope_core", os.path.splitext(rel)[0])
            objects += self.compiler.compile([path], output_dir=out_dir, include_dirs=[INCLUDE, SRC],
                                             extra_postargs=common + flags)
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self.compiler.link_shared_object(objects, target, libraries=["m", "pthread"])


setup(
    # Sources live outside this directory (setuptools refuses such paths); BuildCore lists them.
    ext_modules=[Extension("librope._librope", sources=[])],
    cmdclass={"build_ext": BuildCore},
)
