#!/usr/bin/env bash
# The Python binding and its tests, in two virtual environments:
#  1. .venv: Debian's python3, numpy, torch 1.13 and pytest (--system-site-packages);
#     `pip install ./python` (scikit-build-core, from PyPI, drives the project's CMake).
#     torch 1.13 has no torch.library.custom_op: librope's autograd.Function path runs.
#  2. .venv-torch: a current PyTorch from PyPI (used on the CPU; ~3 GB with its CUDA wheels,
#     installed once, then reused); `pip wheel ./python` builds the wheel, which is installed
#     there: the librope::apply operator, torch.compile without graph breaks, opcheck.
# Without network: (1) builds the library with CMake and runs the tests from the source tree;
# (2) is skipped with a message. LIBROPE_NO_TORCH_VENV=1 skips (2) on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
VENV="$PWD/${LIBROPE_VENV:-.venv}"            # (other places: to try a fresh or offline setup)
TVENV="$PWD/${LIBROPE_TORCH_VENV:-.venv-torch}"
PIP_TIMEOUT="${LIBROPE_PIP_TIMEOUT:-900}"

run_pytest() {  # run_pytest PYTHON [env...]: from outside the source tree, so that `import
    # librope` is the installed package (or LIBROPE_LIBRARY + PYTHONPATH below); LIBROPE_SO
    # (the library that package loads) is for tests that call C functions the binding lacks
    local py="$1"; shift
    local rc=0 so
    so="$(cd tests && env "$@" "$py" -c 'import librope; print(librope.library_path())')"
    (cd tests && env "$@" LIBROPE_SO="$so" "$py" -m pytest -q python) || rc=$?
    if [ "$rc" -eq 5 ]; then
        echo "test-python: pytest collected no tests" >&2
        rc=1
    fi
    return "$rc"
}

# The CLI of the same build, for the test that reads configs both ways (make test-python builds it).
if [ -z "${ROPE_CLI:-}" ] && [ -x "${BUILD:-build}/rope" ]; then
    ROPE_CLI="$PWD/${BUILD:-build}/rope"
    export ROPE_CLI
fi
export LIBROPE_INCLUDE="$PWD/include"

# ---------------------------------------------------------------- 1. Debian's torch
if [ ! -x "$VENV/bin/python" ]; then
    echo "test-python: creating $VENV" >&2
    "$PY" -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c "import scikit_build_core" 2>/dev/null; then
    echo "test-python: installing scikit-build-core from PyPI (builds the package through CMake)" >&2
    timeout 300 "$VENV/bin/python" -m pip install --quiet "scikit-build-core>=0.10" || true
fi

# Live conformance with Hugging Face transformers (tests/python/test_hf_transformers.py):
# 4.45.2 is pinned because it still runs on Debian's torch 1.13 (installs from PyPI in
# ~40 s). Without network the install fails, those tests skip, and conformance rests on
# the golden vectors of tests/golden/ (test_conformance_golden.py). LIBROPE_NO_TRANSFORMERS=1
# skips the install.
HF_PIN="transformers==4.45.2"
if [ -z "${LIBROPE_NO_TRANSFORMERS:-}" ] && ! "$VENV/bin/python" -c "import transformers" 2>/dev/null; then
    echo "test-python: installing $HF_PIN from PyPI (for the live conformance tests)" >&2
    if ! timeout 300 "$VENV/bin/python" -m pip install --quiet "$HF_PIN"; then
        echo "test-python: WARNING: could not install $HF_PIN; live HF tests will skip" \
             "(golden vectors still run)" >&2
    fi
fi

# The library once more under ThreadSanitizer, for the Python thread stress test (run with
# TSan's runtime preloaded into the uninstrumented interpreter); skipped without libtsan.
TSAN_ENV=()
if [ -z "${LIBROPE_NO_TSAN:-}" ] && [ -e "$(${CC:-cc} -print-file-name=libtsan.so)" ]; then
    TSBUILD="${BUILD:-build}-tsan-python"
    cmake -S . -B "$TSBUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROPE_BUILD_PYTHON=ON -DROPE_BUILD_TOOLS=OFF \
          -DROPE_BUILD_LLAMA=OFF -DROPE_BUILD_TESTS=OFF -DCMAKE_C_FLAGS=-fsanitize=thread \
          -DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=thread >/dev/null
    cmake --build "$TSBUILD" -j2 --target rope_python >/dev/null
    TSAN_ENV=(LIBROPE_TSAN_LIBRARY="$PWD/$TSBUILD/python/_librope.so")
else
    echo "test-python: no libtsan (or LIBROPE_NO_TSAN): the stress test under TSan will skip" >&2
fi

rc1=0
if "$VENV/bin/python" -c "import scikit_build_core" 2>/dev/null; then
    # --no-build-isolation: the venv's scikit-build-core and the system's CMake, nothing fetched
    "$VENV/bin/python" -m pip install --quiet --no-build-isolation --no-deps --force-reinstall ./python
    echo "test-python: [Debian torch] librope $("$VENV/bin/python" -c \
        'import librope; print(librope.__version__, "from", librope.library_path())')" >&2
    run_pytest "$VENV/bin/python" "${TSAN_ENV[@]}" || rc1=$?
else
    echo "test-python: WARNING: no scikit-build-core (offline?): testing the source tree against" \
         "a CMake build of the library instead of an installed package" >&2
    PYBUILD="${BUILD:-build}-python"
    cmake -S . -B "$PYBUILD" -DCMAKE_BUILD_TYPE=Release -DROPE_BUILD_PYTHON=ON -DROPE_BUILD_TOOLS=OFF \
          -DROPE_BUILD_LLAMA=OFF -DROPE_BUILD_TESTS=OFF >/dev/null
    cmake --build "$PYBUILD" -j2 --target rope_python
    run_pytest "$VENV/bin/python" LIBROPE_LIBRARY="$PWD/$PYBUILD/python/_librope.so" \
        PYTHONPATH="$PWD/python" "${TSAN_ENV[@]}" || rc1=$?
fi

# ---------------------------------------------------------------- 2. current PyTorch
if [ -n "${LIBROPE_NO_TORCH_VENV:-}" ]; then
    echo "test-python: LIBROPE_NO_TORCH_VENV set: current-PyTorch tests (torch.compile) skipped" >&2
    exit "$rc1"
fi
have_torch() {
    "$TVENV/bin/python" -c "import torch, numpy, pytest, scikit_build_core; import torch.library as l; \
assert hasattr(l, 'custom_op')" 2>/dev/null
}
if [ ! -x "$TVENV/bin/python" ]; then
    echo "test-python: creating $TVENV" >&2
    "$PY" -m venv "$TVENV"
fi
if ! have_torch; then
    echo "test-python: installing the current torch, numpy, pytest, scikit-build-core from PyPI" \
         "into $TVENV (~3 GB, once; at most ${PIP_TIMEOUT}s)" >&2
    timeout "$PIP_TIMEOUT" "$TVENV/bin/python" -m pip install --quiet torch numpy pytest \
        "scikit-build-core>=0.10" || true
fi
if ! have_torch; then
    echo "test-python: SKIPPED: a current PyTorch could not be installed from PyPI into $TVENV" \
         "(offline or timed out): the torch.library operator and torch.compile were NOT tested" >&2
    exit "$rc1"
fi

rm -rf .whl
"$TVENV/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation -w .whl ./python
"$TVENV/bin/python" -m pip install --quiet --no-deps --force-reinstall .whl/librope-*.whl
echo "test-python: [torch $("$TVENV/bin/python" -c 'import torch; print(torch.__version__)')]" \
     "installed $(cd .whl && ls librope-*.whl)" >&2
rc2=0
run_pytest "$TVENV/bin/python" LIBROPE_EXPECT_TORCH_OP=1 || rc2=$?
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
