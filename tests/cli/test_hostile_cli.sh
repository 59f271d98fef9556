#!/usr/bin/env bash
# Hostile input through the rope command (issue 14): config.json strings with an
# embedded NUL (value and key), invalid UTF-8 and raw control bytes are exit 2 with
# the key or place named; a path that is not UTF-8 still gives valid UTF-8 JSON;
# an over-long model_type is cut at a character boundary in the JSON output.
# $1 = the rope binary; cwd = tests/.
set -euo pipefail
ROPE=${1:?usage: test_hostile_cli.sh path/to/rope}
case "$ROPE" in /*) ;; *) ROPE="$PWD/$ROPE" ;; esac
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_refusal FILE NEEDLE: exit 2 and NEEDLE in the message
expect_refusal() {
  local rc=0
  "$ROPE" inspect "$1" --json > "$T/out" 2> "$T/err" || rc=$?
  [ "$rc" = 2 ] || fail "rope inspect $1: exit $rc, want 2 ($(cat "$T/err"))"
  grep -qF -- "$2" "$T/err" || fail "rope inspect $1: message lacks '$2': $(cat "$T/err")"
  [ ! -s "$T/out" ] || fail "rope inspect $1: wrote to stdout on error"
}
printf '{"model_type":"llama","head_dim":64,"rope_scaling":{"rope_type":"linear\\u0000yarn","factor":2}}' > "$T/nul_value.json"
expect_refusal "$T/nul_value.json" '"rope_type" contains a NUL'
printf '{"model_type":"llama","head_dim":64,"rope_scaling":{"rope_type":"linear","factor\\u0000x":2}}' > "$T/nul_key.json"
expect_refusal "$T/nul_key.json" 'key "factor\u0000x" contains a NUL'
printf '{"model_type":"ll\xffama","head_dim":64}' > "$T/utf8.json"
expect_refusal "$T/utf8.json" 'not valid UTF-8 at line 1, column 18'
printf '{"model_type":"ll\x01ama","head_dim":64}' > "$T/ctl.json"
expect_refusal "$T/ctl.json" 'control byte 0x01'

# a path that is not UTF-8: the JSON output still is (each bad byte as \ufffd)
BAD="$T/$(printf 'cfg\xff\xfe').json"
cp data/configs/llama2_7b.json "$BAD"
"$ROPE" inspect "$BAD" --json > "$T/path.json"
iconv -f UTF-8 -t UTF-8 "$T/path.json" > /dev/null || fail "JSON output is not UTF-8"
grep -qF 'cfg\ufffd\ufffd.json' "$T/path.json" || fail "bad path bytes not escaped as \\ufffd"

# 40 euro signs (120 bytes) in model_type: kept to 63 bytes = 21 whole characters
EUROS=$(printf '\xe2\x82\xac%.0s' $(seq 40))
printf '{"model_type":"%s","head_dim":64}' "$EUROS" > "$T/long.json"
"$ROPE" inspect "$T/long.json" --json > "$T/long.out"
iconv -f UTF-8 -t UTF-8 "$T/long.out" > /dev/null || fail "truncated model_type is not UTF-8"
grep -qF "\"model_type\": \"$(printf '\xe2\x82\xac%.0s' $(seq 21))\"" "$T/long.out" ||
  fail "model_type not cut at a character boundary: $(head -c 300 "$T/long.out")"
echo "test_hostile_cli: ok"
