#!/usr/bin/env bash
# The ggml peer of `rope bench --peers` without ggml: bench/peer_ggml.py refuses bad options
# (exit 2, option named) and reports ggml absent as {"error"} (exit 0); its float64 reference
# agrees with librope on both conventions and flags the swapped convention; its bf16 rounding
# is to nearest even; `rope bench --peers` with the peer absent says so (text and --json) and
# exits 0; a stand-in peer's document becomes the ggml columns (ratio, n/a, wrong output).
# $1 = the rope binary; cwd = tests/.
set -euo pipefail
ROPE=${1:?usage: test_bench_ggml.sh path/to/rope}
case "$ROPE" in /*) ;; *) ROPE="$PWD/$ROPE" ;; esac
cd "$(dirname "$0")/.."                  # tests/, wherever it is run from
PY=${PYTHON:-/usr/bin/python3}           # Debian python3-numpy (scripts/install-deps.sh)
SCRIPT=$PWD/../bench/peer_ggml.py
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- the script's options: exit 2 naming the option
for bad in "--shapes nope" "--dtypes f64" "--threads 0" "--threads x" "--rounds 65" \
           "--settle-ms -1"; do
    set +e
    "$PY" "$SCRIPT" $bad >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    [ $rc -eq 2 ] || fail "peer_ggml.py $bad: exit $rc, want 2"
    grep -q -- "${bad%% *}" "$T/err" || fail "peer_ggml.py $bad: option not named: $(cat "$T/err")"
done

# --- ggml absent: python -S sees no site-packages, so no llama-cpp-python whatever is installed
printf '#!/bin/sh\nexec %s -S "$@"\n' "$PY" >"$T/nosite-python"
chmod +x "$T/nosite-python"
"$T/nosite-python" "$SCRIPT" --json >"$T/out" || fail "absent ggml: nonzero exit"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "llama-cpp-python" in d["error"]' \
    "$T/out" || fail "absent ggml: no error document: $(cat "$T/out")"

# --- a llama_cpp package without ggml's libraries: an error document, exit 0
mkdir -p "$T/stub/llama_cpp/lib"
: >"$T/stub/llama_cpp/__init__.py"
PYTHONPATH="$T/stub" "$PY" "$SCRIPT" --json >"$T/out" || fail "stub llama_cpp: nonzero exit"
grep -q '"error": "ggml not loadable' "$T/out" || fail "stub llama_cpp: $(cat "$T/out")"

# --- the float64 reference and the bf16 rounding, against librope (needs librope.so, numpy)
LIB=$(dirname "$ROPE")/src/librope.so
if [ ! -f "$LIB" ]; then
    echo "note: $LIB absent: reference check skipped"
# grep without -q reads all of ldd's output: -q exits at the first match, and under pipefail
# ldd, killed by SIGPIPE for writing on, would make the test take the Python path by chance
elif ldd "$LIB" 2>/dev/null | grep -E 'lib(a|t|ub)san' >/dev/null; then
    echo "note: $LIB is a sanitizer build (Python cannot load it): reference check skipped"
else
"$PY" - "$SCRIPT" "$LIB" <<'PYEOF'
import ctypes, importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("peer_ggml", sys.argv[1])
pg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pg)
# bf16 round to nearest even: 1 + 2^-8 is a tie (to 1.0), 1 + 3*2^-8 a tie (up, to even)
x = np.array([1.0, 1.00390625, 1.01171875, -2.5], dtype=np.float32)
bits = list(pg.from_f32(np, x, "bf16"))
assert bits == [0x3F80, 0x3F80, 0x3F82, 0xC020], bits
lib = pg.Librope(sys.argv[2], 128)
rng = np.random.default_rng(1)
for name in ("decode", "decode-b32", "prefill-512"):
    b, s, hq, hk, d, per_row = shape = pg.SHAPES[name]
    pos = pg.positions(name)
    assert len(pos) == b * s
    for dname in ("f32", "f16", "bf16"):
        q = pg.from_f32(np, rng.uniform(-1, 1, (b * s, hq, d)).astype(np.float32), dname)
        k = pg.from_f32(np, rng.uniform(-1, 1, (b * s, hk, d)).astype(np.float32), dname)
        qo, ko = np.empty_like(q), np.empty_like(k)
        ptrs = (q.ctypes.data, qo.ctypes.data, k.ctypes.data, ko.ctypes.data)
        for style, other in (("interleaved", "half"), ("half", "interleaved")):
            lib.fn(style, 1, shape, pos, ptrs, dname)
            for x, y in ((q, qo), (k, ko)):
                err = pg.max_error(np, x, y, pos, style, dname)
                assert err < pg.TOL[dname] / 4, (name, dname, style, err)
                # the checker can fail: the other convention's reference is far off
                assert pg.max_error(np, x, y, pos, other, dname) > 0.1, (name, dname, style)
print("reference ok")
PYEOF
fi

# --- rope bench --peers, ggml absent: a note, exit 0, no ggml column
: >"$T/fake.so"   # --lib must name a file; neither stand-in peer below loads it
COMMON=(bench --quick --no-table --peers --shapes decode --dtypes f32,bf16 --threads 1
        --rounds 3 --python /bin/false --lib "$T/fake.so")
"$ROPE" "${COMMON[@]}" --ggml-python "$T/nosite-python" >"$T/out" 2>"$T/err" \
    || fail "bench, ggml absent: nonzero exit"
grep -q "ggml peer skipped: llama-cpp-python" "$T/out" || fail "no note: $(cat "$T/out")"
grep -q "ggml/rope" "$T/out" && fail "bench text: a ggml column without ggml"
"$ROPE" "${COMMON[@]}" --ggml-python "$T/nosite-python" --json >"$T/out" 2>"$T/err" \
    || fail "bench --json, ggml absent: nonzero exit"
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert "llama-cpp-python" in d["ggml_note"], d.get("ggml_note")
assert "ggml_peer" not in d and not any("ggml_us" in r for r in d["apply"]), d
' "$T/out" || fail "bench --json, ggml absent"
"$ROPE" "${COMMON[@]}" --ggml-python /nonexistent/python --json >"$T/out" 2>"$T/err" \
    || fail "bench, missing interpreter: nonzero exit"
grep -q '"ggml_note"' "$T/out" || fail "bench, missing interpreter: no note"

# --- a stand-in peer: its document becomes the columns (ratio, n/a, wrong output)
cat >"$T/standin.py" <<'PYEOF'
import json, sys
open(sys.argv[0] + ".args", "w").write(" ".join(sys.argv[1:]))
print(json.dumps({"peer": "ggml", "skipped": {"bf16": "no bf16 kernel"}, "apply": [
    {"shape": "decode", "dtype": "f32", "threads": 1,
     "ggml_interleaved_us": 30.0, "librope_interleaved_us": 10.0,
     "ggml_interleaved_max_err": 5e-4, "librope_half_us": 8.0,
     "ggml_half_max_err": 0.9, "ggml_half_note": "not timed: max error 0.9 > 0.005"}]}))
PYEOF
"$ROPE" "${COMMON[@]}" --ggml-python "$PY" --ggml-script "$T/standin.py" --json >"$T/out" \
    2>"$T/err" || fail "bench, stand-in peer: nonzero exit"
args=$(cat "$T/standin.py.args")
for want in "--threads 1" "--shapes decode" "--dtypes f32,bf16" "--rounds 3" "--quick" \
            "--lib $T/fake.so"; do
    case "$args" in *"$want"*) ;; *) fail "stand-in got '$args', missing '$want'" ;; esac
done
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
rows = {(r["dtype"], r["style"]): r for r in d["apply"]}
r = rows["f32", "interleaved"]
assert (r["ggml_us"], r["librope_in_ggml_us"], r["ggml_over_rope"]) == (30, 10, 3), r
assert r["ggml_max_err"] == 5e-4, r
assert rows["f32", "half"]["ggml"].startswith("wrong output"), rows["f32", "half"]
assert rows["f32", "half"]["ggml_max_err"] == 0.9 and "ggml_us" not in rows["f32", "half"]
assert rows["bf16", "interleaved"]["ggml"] == "n/a" and rows["bf16", "half"]["ggml"] == "n/a"
assert d["ggml_peer"]["skipped"]["bf16"] == "no bf16 kernel"
' "$T/out" || fail "bench --json, stand-in peer: $(cat "$T/out")"
"$ROPE" "${COMMON[@]}" --ggml-python "$PY" --ggml-script "$T/standin.py" >"$T/out" 2>"$T/err" \
    || fail "bench text, stand-in peer: nonzero exit"
grep -Eq "^decode +f32 +interleaved .* 30\.000 +3\.00$" "$T/out" || fail "ratio: $(cat "$T/out")"
grep -Eq "^decode +f32 +half .* wrong +-$" "$T/out" || fail "text wrong: $(cat "$T/out")"
grep -Eq "^decode +bf16 +half .* n/a +n/a$" "$T/out" || fail "text n/a: $(cat "$T/out")"
echo "ok"
