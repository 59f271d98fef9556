#!/usr/bin/env bash
# Gemma 3's per-layer RoPE: the runner (which reads the GGUF, where the sliding layers' base and
# the layer pattern are absent) and librope's config reader (`rope inspect` on a gemma3_text
# config.json with the same hyperparameters and no rope_local_base_freq) must agree: θ 1e4 on
# sliding layers, θ 1e6 on every 6th, window 512. test_gemma3 checks the runner's layer map.
# $1 = the rope binary; cwd = tests/.
set -euo pipefail
ROPE=${1:?usage: test_gemma3_rope.sh path/to/rope}
case "$ROPE" in /*) ;; *) ROPE="$PWD/$ROPE" ;; esac
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MODEL=../models/gemma-3-270m-q4_k_m.gguf
if [ ! -s "$MODEL" ]; then echo "SKIP: $MODEL absent (run make deps)"; exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cat > "$T/config.json" <<'JSON'
{"model_type": "gemma3_text", "num_hidden_layers": 18, "head_dim": 256, "hidden_size": 640,
 "num_attention_heads": 4, "num_key_value_heads": 1, "rope_theta": 1000000,
 "max_position_embeddings": 32768, "sliding_window": 512}
JSON
"$ROPE" inspect "$T/config.json" --json > "$T/inspect.json"
"$ROPE" generate --model "$MODEL" --prompt "The" -n 1 -t 1 2> "$T/gen.err" > /dev/null \
    || { cat "$T/gen.err"; fail "rope generate on Gemma 3"; }
grep -q "RoPE rotate_half, base 1e+06 (sliding layers 10000, window 512)" "$T/gen.err" \
    || { cat "$T/gen.err"; fail "runner: not the per-layer RoPE the config reader gives"; }
"$PY" - "$T/inspect.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
sets = {s["name"]: s for s in d["rope_sets"]}
assert sets["sliding_attention"]["rope_theta"] == 10000, sets["sliding_attention"]["rope_theta"]
assert sets["full_attention"]["rope_theta"] == 1000000, sets["full_attention"]["rope_theta"]
want = ["full_attention" if (l + 1) % 6 == 0 else "sliding_attention" for l in range(18)]
assert d["layer_map"] == want, d["layer_map"]
print("gemma3 per-layer RoPE: runner and config reader agree")
PYEOF
