#!/usr/bin/env bash
# rope verify end to end: engine outputs written by NumPy (the truth, and the truth with one
# fault injected) are verified as right / diagnosed as that fault in text and --json (exit 0 /
# 1); every evidence layout is read (cos/sin [pos, R/2], [b, pos, R] halves duplicated, complex
# freqs_cis, q/k pairs bshd and bhsd); the SVG plot parses; bad input exits 2.
# $1 = the rope binary; cwd = tests/.
set -euo pipefail
ROPE=${1:?usage: test_verify.sh path/to/rope}
case "$ROPE" in /*) ;; *) ROPE="$PWD/$ROPE" ;; esac
cd "$(dirname "$0")/.."                  # tests/, wherever it is run from
PY=${PYTHON:-/usr/bin/python3}       # Debian python3-numpy (scripts/install-deps.sh)
CFG=data/configs/llama2_7b.json          # head_dim 128, rope_theta 1e4, half pairs
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$PY" - "$T" <<'PYEOF'
import os, sys
import numpy as np
T = sys.argv[1]
rng = np.random.default_rng(7)
R, nf = 128, 64
pos = np.concatenate([np.arange(64), np.unique(np.geomspace(64, 60000, 40).astype(np.int64))])
np.save(os.path.join(T, "pos.npy"), pos.astype(np.int64))

def angles(base=1e4, p=pos, offset=0):
    inv = base ** (-np.arange(0, R, 2, dtype=np.float64) / R)
    return np.outer(p + offset, inv)

def save_tab(name, a, dup=False, batch=False):
    c, s = np.cos(a).astype(np.float32), np.sin(a).astype(np.float32)
    if dup:
        c, s = np.concatenate([c, c], -1), np.concatenate([s, s], -1)
    if batch:
        c, s = c[None], s[None]
    np.save(os.path.join(T, name + "_cos.npy"), c)
    np.save(os.path.join(T, name + "_sin.npy"), s)

save_tab("truth", angles())
save_tab("truthdup", angles(), dup=True, batch=True)
save_tab("base", angles(base=5e5))
save_tab("offset", angles(offset=4))
a = angles()
save_tab("neg", -a)
c, s = np.cos(a).astype(np.float32), np.sin(a).astype(np.float32)
np.save(os.path.join(T, "cis.npy"), (c + 1j * s).astype(np.complex64))
np.save(os.path.join(T, "cis2.npy"), np.stack([c, s], -1))
np.save(os.path.join(T, "garbage_cos.npy"), rng.uniform(-1, 1, c.shape).astype(np.float32))
np.save(os.path.join(T, "garbage_sin.npy"), rng.uniform(-1, 1, c.shape).astype(np.float32))
np.save(os.path.join(T, "f64_cos.npy"), np.cos(a))
open(os.path.join(T, "bad.npy"), "wb").write(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'")
nan_cos = np.cos(a).astype(np.float32)
nan_cos[3, 2] = np.nan
np.save(os.path.join(T, "nan_cos.npy"), nan_cos)

# q/k pairs: rotated half (the truth) and interleaved (the wrong convention), 2 x 8 tokens
qp = np.arange(100, 108)
ang = angles(p=qp)
cq, sq = np.cos(ang), np.sin(ang)
x = rng.standard_normal((2, 8, 4, R)).astype(np.float32)
def rot(x, half):
    x = x.astype(np.float64)
    if half:
        a, b = x[..., :nf], x[..., nf:]
    else:
        a, b = x[..., 0::2], x[..., 1::2]
    c, s = cq[None, :, None, :], sq[None, :, None, :]
    ra, rb = a * c - b * s, b * c + a * s
    y = np.empty_like(x)
    if half:
        y[..., :nf], y[..., nf:] = ra, rb
    else:
        y[..., 0::2], y[..., 1::2] = ra, rb
    return y.astype(np.float32)
np.save(os.path.join(T, "q.npy"), x)
np.save(os.path.join(T, "q_half.npy"), rot(x, True))
np.save(os.path.join(T, "q_inter.npy"), rot(x, False))
np.save(os.path.join(T, "q_bhsd.npy"), np.ascontiguousarray(x.transpose(0, 2, 1, 3)))
np.save(os.path.join(T, "q_half_bhsd.npy"), np.ascontiguousarray(rot(x, True).transpose(0, 2, 1, 3)))
np.save(os.path.join(T, "qpos.npy"), qp.astype(np.int64))

# Gemma 3 1B: sliding layers base 1e4, full-attention layers 1e6 (head_dim 256)
for name, base in (("g_global", 1e6), ("g_sliding", 1e4)):
    inv = base ** (-np.arange(0, 256, 2, dtype=np.float64) / 256)
    a = np.outer(pos, inv)
    np.save(os.path.join(T, name + "_cos.npy"), np.cos(a).astype(np.float32))
    np.save(os.path.join(T, name + "_sin.npy"), np.sin(a).astype(np.float32))
PYEOF

# verdict and diagnosis ids from --json; $1 = want exit, $2 = verdict, $3 = ids (comma), rest = args
expect() {
    local want_rc=$1 verdict=$2 ids=$3
    shift 3
    set +e
    "$ROPE" verify "$CFG" "$@" --json > "$T/out.json" 2> "$T/err.txt"
    local rc=$?
    set -e
    [ "$rc" -eq "$want_rc" ] || { cat "$T/err.txt"; fail "rope verify $* exited $rc, want $want_rc"; }
    "$PY" - "$T/out.json" "$verdict" "$ids" "$*" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
want_ids = [i for i in sys.argv[3].split(",") if i]
got = [x["id"] for x in d["diagnoses"] if x["fault"]]
assert d["verdict"] == sys.argv[2], (sys.argv[4], d["verdict"], d["summary"])
assert got == want_ids, (sys.argv[4], got, want_ids, d["summary"])
for k in ("bands", "plot", "max_abs", "f32_max_abs", "exceeds_tol_from", "layout", "storage"):
    assert k in d, k
assert len(d["plot"]["max_abs_by_freq_band"]) == 4
print("ok:", sys.argv[4][:60], "->", d["verdict"], got)
PYEOF
}

P="--positions $T/pos.npy"
expect 0 right "" --cos "$T/truth_cos.npy" --sin "$T/truth_sin.npy" $P
expect 0 right "" --cos "$T/truthdup_cos.npy" --sin "$T/truthdup_sin.npy" $P
expect 0 right "" --freqs-cis "$T/cis.npy" $P
expect 0 right "" --freqs-cis "$T/cis2.npy" $P
expect 1 fault base --cos "$T/base_cos.npy" --sin "$T/base_sin.npy" $P
expect 1 fault position_offset --cos "$T/offset_cos.npy" --sin "$T/offset_sin.npy" $P
expect 1 fault halves_swapped --cos "$T/neg_cos.npy" --sin "$T/neg_sin.npy" $P
expect 1 unexplained "" --cos "$T/garbage_cos.npy" --sin "$T/garbage_sin.npy" $P
Q="--q-in $T/q.npy --positions $T/qpos.npy"
expect 0 right "" $Q --q-out "$T/q_half.npy"
expect 0 right "" $Q --q-out "$T/q_half.npy" --k-in "$T/q.npy" --k-out "$T/q_half.npy"
expect 1 fault convention $Q --q-out "$T/q_inter.npy"
expect 0 right "" --q-in "$T/q_bhsd.npy" --q-out "$T/q_half_bhsd.npy" --layout bhsd --positions "$T/qpos.npy"
# per layer: Gemma 3's sliding layer 0 given the global base; the global layer 5 right
G3=data/configs/gemma3_1b.json
CFG=$G3 expect 1 fault layer_type_swapped --layer 0 --cos "$T/g_global_cos.npy" --sin "$T/g_global_sin.npy" $P
CFG=$G3 expect 0 right "" --layer 5 --cos "$T/g_global_cos.npy" --sin "$T/g_global_sin.npy" $P
CFG=$G3 expect 0 right "" --layer-type sliding_attention --cos "$T/g_sliding_cos.npy" --sin "$T/g_sliding_sin.npy" $P
CFG=$G3 expect 1 fault layer_type_swapped --cos "$T/g_sliding_cos.npy" --sin "$T/g_sliding_sin.npy" $P

# bad input: exit 2, a message naming the problem, nothing on stdout
bad() {
    local what=$1
    shift
    set +e
    "$ROPE" verify "$@" > "$T/bad.out" 2> "$T/bad.err"
    local rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2"
    [ -s "$T/bad.err" ] || fail "$what: no message"
    [ ! -s "$T/bad.out" ] || fail "$what: wrote to stdout"
    echo "ok: $what -> exit 2: $(head -c 100 "$T/bad.err")"
}
# the same evidence as text, and the plot (PNG, SVG, PDF through cairo; skipped without it)
"$ROPE" verify "$CFG" --cos "$T/base_cos.npy" --sin "$T/base_sin.npy" $P > "$T/out.txt" || true
grep -q "verdict: fault" "$T/out.txt" || fail "text report: no verdict line"
grep -q "wrong base: rope_theta 500000 fits" "$T/out.txt" || fail "text report: no base diagnosis"
set +e
"$ROPE" verify "$CFG" --cos "$T/truth_cos.npy" --sin "$T/truth_sin.npy" $P --plot "$T/v.png" > /dev/null 2> "$T/plot.err"
rc=$?
set -e
if grep -q "without cairo" "$T/plot.err"; then
    echo "skip: plots (rope built without cairo)"
else
    [ "$rc" -eq 0 ] || { cat "$T/plot.err"; fail "verify --plot exited $rc"; }
    for ext in svg pdf; do
        "$ROPE" verify "$CFG" --cos "$T/truth_cos.npy" --sin "$T/truth_sin.npy" $P --plot "$T/v.$ext" > /dev/null
    done
    "$PY" - "$T" <<'PYEOF'
import os, struct, sys, zlib
import xml.etree.ElementTree as ET
T = sys.argv[1]
png = open(os.path.join(T, "v.png"), "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "PNG signature"
w, h = struct.unpack(">II", png[16:24])
assert w >= 800 and h >= 500, (w, h)
root = ET.parse(os.path.join(T, "v.svg")).getroot()
assert root.tag.endswith("svg") and sum(1 for _ in root.iter()) > 50, "SVG content"
assert open(os.path.join(T, "v.pdf"), "rb").read(5) == b"%PDF-", "PDF signature"
print("plot ok: png", w, "x", h, "svg, pdf")
PYEOF
fi
bad "bad plot name" "$CFG" --freqs-cis "$T/cis.npy" --plot out.txt

bad "no evidence" "$CFG"
bad "no config" --cos "$T/truth_cos.npy" --sin "$T/truth_sin.npy"
bad "cos without sin" "$CFG" --cos "$T/truth_cos.npy"
bad "NaN in the evidence" "$CFG" --cos "$T/nan_cos.npy" --sin "$T/truth_sin.npy"
bad "two kinds of evidence" "$CFG" --freqs-cis "$T/cis.npy" --q-in "$T/q.npy" --q-out "$T/q_half.npy"
bad "malformed npy" "$CFG" --cos "$T/bad.npy" --sin "$T/truth_sin.npy"
bad "missing file" "$CFG" --cos "$T/nope.npy" --sin "$T/truth_sin.npy"
bad "float64 npy" "$CFG" --cos "$T/f64_cos.npy" --sin "$T/truth_sin.npy"
bad "shapes differ" "$CFG" --cos "$T/truth_cos.npy" --sin "$T/truthdup_sin.npy"
bad "positions count" "$CFG" --cos "$T/truth_cos.npy" --sin "$T/truth_sin.npy" --positions 0,1,2
bad "q shapes differ" "$CFG" --q-in "$T/q.npy" --q-out "$T/q_bhsd.npy"
bad "q positions" "$CFG" --q-in "$T/q.npy" --q-out "$T/q_half.npy" --positions 1,2
bad "bad tol" "$CFG" --freqs-cis "$T/cis.npy" --tol -1
bad "bad seq-len" "$CFG" --freqs-cis "$T/cis.npy" --seq-len x
bad "bad layout" "$CFG" --freqs-cis "$T/cis.npy" --layout hsdb
bad "bad style" "$CFG" --freqs-cis "$T/cis.npy" --style neox
bad "cis last dim" "$CFG" --freqs-cis "$T/truth_cos.npy"
bad "unknown option" "$CFG" --freqs-cis "$T/cis.npy" --frobnicate
bad "bad config" data/configs/nonexistent.json --freqs-cis "$T/cis.npy"
bad "layer out of range" "$G3" --layer 26 --freqs-cis "$T/cis.npy"
bad "layer not a number" "$G3" --layer x --freqs-cis "$T/cis.npy"
bad "unknown layer type" "$G3" --layer-type global --freqs-cis "$T/cis.npy"
bad "layer and layer type" "$G3" --layer 1 --layer-type sliding_attention --freqs-cis "$T/cis.npy"
bad "table for a NoPE layer" data/configs/smollm3_3b.json --layer 3 --freqs-cis "$T/cis.npy"
"$ROPE" verify --help | grep "usage: rope verify" >/dev/null || fail "--help"  # no -q: see test_bench_ggml.sh
echo "test_verify.sh: all ok"
