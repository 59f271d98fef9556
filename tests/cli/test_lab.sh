#!/usr/bin/env bash
# rope lab ppl / passkey on SmolLM2 with short lengths (seconds): the table, the JSON
# and the SVG plot are produced and decode; lab ppl equals `rope ppl` on the same text,
# window and stride; the unscaled model retrieves every passkey at 256 tokens; bad
# invocations exit 2. $1 = the rope binary; cwd = tests/.
set -euo pipefail
ROPE=${1:?usage: test_lab.sh path/to/rope}
case "$ROPE" in /*) ;; *) ROPE="$PWD/$ROPE" ;; esac
cd "$(dirname "$0")/.."                  # tests/
PY=${PYTHON:-python3}
MODEL=../models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -s "$MODEL" ]; then echo "SKIP: $MODEL absent (run make deps)"; exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- ppl: JSON + plot on the built-in text, two lengths x two scalings
"$ROPE" lab ppl --model "$MODEL" --text builtin --lengths 32,64 --scalings none,yarn --factor 2 \
    --json --plot "$T/ppl.svg" -t 2 > "$T/ppl.json" 2> "$T/ppl.err" \
    || { cat "$T/ppl.err"; fail "lab ppl exited non-zero"; }
grep -q "yarn @ 64: ppl" "$T/ppl.err" || fail "lab ppl: no progress on stderr"
"$PY" - "$T/ppl.json" "$T/ppl.svg" <<'PYEOF'
import json, math, sys, xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
assert d["command"] == "lab ppl" and d["trained_context"] == 8192 and d["factor"] == 2, d
assert d["lengths"] == [32, 64] and d["scalings"] == ["none", "yarn"], d
r = {(x["scaling"], x["length"]): x for x in d["results"]}
assert len(r) == 4, r
for x in r.values():
    assert 1.0 < x["ppl"] < 100.0 and x["scored"] == 63, x        # the same 64 tokens each time
    assert abs(math.log(x["ppl"]) - x["nll"] / x["scored"]) < 1e-9, x
    assert x["stride"] == x["length"] // 2, x
assert r[("none", 32)]["windows"] == 3 and r[("none", 64)]["windows"] == 1, r
# yarn (factor 2) changes the model: its numbers differ from none's
assert abs(r[("yarn", 64)]["ppl"] - r[("none", 64)]["ppl"]) > 1e-3, r
svg = ET.parse(sys.argv[2]).getroot()
ns = "{http://www.w3.org/2000/svg}"
lines = [e for e in svg.iter(ns + "polyline") if e.get("class") == "series"]
assert [e.get("data-name") for e in lines] == ["none", "yarn"], lines
for e in lines:
    assert len(e.get("points").split()) == 2, e.get("points")
assert any(e.get("class") == "marker" for e in svg.iter(ns + "line")), "no trained-context marker"
assert any("trained context" in (e.text or "") for e in svg.iter(ns + "text"))
print("lab ppl json + svg ok:", {k: round(v["ppl"], 3) for k, v in r.items()})
PYEOF

# --- the table
"$ROPE" lab ppl --model "$MODEL" --text builtin --lengths 32 --scalings none,linear --factor 2 \
    -t 2 > "$T/table.txt" 2>/dev/null
grep -q "^length  *none  *linear" "$T/table.txt" || { cat "$T/table.txt"; fail "no table header"; }
grep -Eq "^32  +[0-9.]+ +[0-9.]+" "$T/table.txt" || { cat "$T/table.txt"; fail "no table row"; }

# --- the same perplexity as `rope ppl` (same tokens, window 48, stride 24)
head -c 700 data/ppl/declaration_and_notes.txt > "$T/short.txt"
want=$("$ROPE" ppl --model "$MODEL" "$T/short.txt" --ctx 48 --stride 24 -t 2 2>/dev/null | awk '{print $2}')
"$ROPE" lab ppl --model "$MODEL" --text "$T/short.txt" --tokens all --lengths 48 --scalings none \
    --json -t 2 > "$T/same.json" 2>/dev/null
"$PY" - "$T/same.json" "$want" <<'PYEOF'
import json, sys
got = json.load(open(sys.argv[1]))["results"][0]["ppl"]
want = float(sys.argv[2])
assert abs(got - want) <= 5e-5 * want + 1e-4, (got, want)   # rope ppl prints 4 decimals
print("lab ppl == rope ppl:", got, want)
PYEOF

# --- --protocol truncate (the first L tokens, one window; static scalings read every length
# off the longest window) equals one window per length, i.e. --lengths L --tokens L
"$ROPE" lab ppl --model "$MODEL" --text builtin --lengths 32,64 --scalings none,dynamic,yarn \
    --factor 2 --protocol truncate --json -t 2 > "$T/tr.json" 2>/dev/null || fail "truncate"
for L in 32 64; do
    "$ROPE" lab ppl --model "$MODEL" --text builtin --lengths $L --tokens $L \
        --scalings none,dynamic,yarn --factor 2 --json -t 2 > "$T/one$L.json" 2>/dev/null
done
"$PY" - "$T/tr.json" "$T/one32.json" "$T/one64.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["protocol"] == "truncate" and d["lengths"] == [32, 64], d
got = {(x["scaling"], x["length"]): x for x in d["results"]}
assert len(got) == 6, got
for f in sys.argv[2:]:
    for x in json.load(open(f))["results"]:
        g = got[(x["scaling"], x["length"])]
        assert g["scored"] == x["scored"] == x["length"] - 1 and x["windows"] == 1, (g, x)
        assert abs(g["ppl"] - x["ppl"]) <= 1e-5 * x["ppl"], (g, x)
# inside the trained context dynamic NTK is the model's own RoPE; yarn is not
for L in (32, 64):
    assert got[("dynamic", L)]["ppl"] == got[("none", L)]["ppl"], got
    assert abs(got[("yarn", L)]["ppl"] - got[("none", L)]["ppl"]) > 1e-3, got
print("lab ppl --protocol truncate == one window per length:",
      {"%s@%d" % k: round(v["ppl"], 4) for k, v in got.items()})
PYEOF

# --- rope lab merge: runs split over processes in one JSON / table / plot; runs that do not
# compare (another protocol or factor, a result twice) are refused with exit 2
"$ROPE" lab ppl --model "$MODEL" --text builtin --lengths 32,64,128 --scalings linear --factor 2 \
    --protocol truncate --json -t 2 > "$T/tr2.json" 2>/dev/null || fail "truncate (linear)"
"$ROPE" lab merge "$T/tr2.json" "$T/tr.json" --json --plot "$T/merged.svg" > "$T/merged.json" \
    2>/dev/null || fail "lab merge"
"$PY" - "$T/merged.json" "$T/tr.json" "$T/tr2.json" "$T/merged.svg" <<'PYEOF'
import json, sys, xml.etree.ElementTree as ET
m, a, b = (json.load(open(f)) for f in sys.argv[1:4])
assert m["lengths"] == [32, 64, 128] and m["scalings"] == ["none", "linear", "dynamic", "yarn"], m
key = lambda x: (x["scaling"], x["length"])
assert sorted(map(key, m["results"])) == sorted(map(key, a["results"] + b["results"])), m
src = {key(x): x for x in a["results"] + b["results"]}
assert all(x == src[key(x)] for x in m["results"]), "a merged result differs from its run's"
ns = "{http://www.w3.org/2000/svg}"
lines = [e for e in ET.parse(sys.argv[4]).getroot().iter(ns + "polyline") if e.get("class") == "series"]
assert [len(e.get("points").split()) for e in lines] == [2, 3, 2, 2], [e.get("points") for e in lines]
print("lab merge ok")
PYEOF
"$ROPE" lab merge "$T/tr2.json" "$T/tr.json" | grep -E "^128 +- +[0-9.]+ +- +-" >/dev/null \
    || fail "lab merge table: no '-' for the lengths a scaling was not run at"
# a length that is no integer, a count past what int64 holds: refused, not cast
echo '{"command":"lab ppl","model":"m","trained_context":8192,"factor":2,"results":[{"scaling":
"none","length":1e300,"ppl":1,"nll":0,"scored":1,"windows":1,"stride":1,"seconds":0}]}' > "$T/bad.json"
sed 's/1e300/64.5/' "$T/bad.json" > "$T/bad2.json"
for pair in "tr.json one32.json" "tr.json tr.json" "tr.json ppl.json" "tr.json short.txt" \
            "bad.json" "bad2.json"; do
    set +e
    # shellcheck disable=SC2086
    out=$(cd "$T" && "$ROPE" lab merge $pair 2>&1 >/dev/null); rc=$?
    set -e
    [ "$rc" -eq 2 ] && [ -n "$out" ] || fail "rope lab merge $pair: exit $rc, '$out'"
done

# --- passkey: 100% for the unscaled model at 256 tokens; JSON and plot decode
"$ROPE" lab passkey --model "$MODEL" --lengths 256 --scalings none --trials 3 --seed 1 --json \
    --plot "$T/pk.svg" -t 2 > "$T/pk.json" 2> "$T/pk.err" || { cat "$T/pk.err"; fail "lab passkey"; }
"$PY" - "$T/pk.json" "$T/pk.svg" <<'PYEOF'
import json, sys, xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
assert d["command"] == "lab passkey" and d["factor"] == 1 and d["trials"] == 3, d
(res,) = d["results"]
assert res["scaling"] == "none" and res["length"] == 256, res
assert res["accuracy"] == 1.0 and res["correct"] == 3, d["trial_details"]
keys = [t["key"] for t in d["trial_details"]]
assert len(set(keys)) == 3 and all(10000 <= k <= 99999 for k in keys), keys
for t in d["trial_details"]:
    assert t["tokens"] <= 256 - 8 and 0 <= t["depth"] <= t["n_filler"], t
    assert t["answer"].strip().startswith(str(t["key"])), t
ET.parse(sys.argv[2])
print("lab passkey ok:", keys)
PYEOF
# the same seed gives the same trials
"$ROPE" lab passkey --model "$MODEL" --lengths 256 --scalings none --trials 3 --seed 1 --json \
    -t 2 2>/dev/null | cmp -s - "$T/pk.json" || fail "lab passkey: same seed, different output"

# --- bad invocations: exit 2 with a message
for args in "" "bogus" "ppl --lengths 0" "ppl --lengths 64,32" "ppl --scalings none,bogus" \
            "ppl --factor 0.5" "ppl --plot x.png" "ppl --text /no/such/file" \
            "ppl --text builtin --lengths 100000" "passkey --text builtin" "passkey --trials 0" \
            "ppl --model /no/such.gguf" "passkey --lengths 16 --text builtin" \
            "ppl --protocol bogus" "passkey --protocol truncate" \
            "ppl --text builtin --lengths 64 --protocol truncate --tokens 64"; do
    set +e
    # shellcheck disable=SC2086
    out=$("$ROPE" lab $args 2>&1 >/dev/null); rc=$?
    set -e
    [ "$rc" -eq 2 ] && [ -n "$out" ] || fail "rope lab $args: exit $rc, '$out'"
done
set +e
out=$("$ROPE" lab passkey --model "$MODEL" --lengths 16 --trials 1 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" -eq 2 ] && echo "$out" | grep -q "too short" || fail "passkey at 16 tokens: exit $rc, '$out'"
echo "test_lab: ok"
