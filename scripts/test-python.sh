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

LIBROPE_SO="$("$VENV/bin/python" -c 'import librope; print(librope.library_path())')"
export LIBROPE_SO
echo "test-python: librope loaded from $LIBROPE_SO" >&2

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
