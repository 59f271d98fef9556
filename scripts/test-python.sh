#!/usr/bin/env bash
# The Python binding and its tests: a venv on Debian's python3 (numpy, torch, pytest from
# apt via --system-site-packages), `pip install ./python` (compiles the C core), pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    echo "test-python: creating $VENV" >&2
    "$PY" -m venv --system-site-packages "$VENV"
fi
# --no-build-isolation: build with the venv's / Debian's setuptools, nothing fetched.
"$VENV/bin/python" -m pip install --quiet --no-build-isolation --no-deps --force-reinstall ./python

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

LIBROPE_SO="$("$VENV/bin/python" -c 'import librope; print(librope.library_path())')"
export LIBROPE_SO
echo "test-python: librope loaded from $LIBROPE_SO" >&2

# The CLI of the same build, for the test that reads configs both ways (make test-python builds it).
if [ -z "${ROPE_CLI:-}" ] && [ -x "${BUILD:-build}/rope" ]; then
    ROPE_CLI="$PWD/${BUILD:-build}/rope"
    export ROPE_CLI
fi

# Run from outside the source tree so `import librope` is the installed package.
set +e
(cd tests && "../$VENV/bin/python" -m pytest -q python "$@")
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "test-python: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
