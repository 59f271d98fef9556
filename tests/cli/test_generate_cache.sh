#!/usr/bin/env bash
# rope generate --ctx N goes on past its KV cache by context shifts, with every
# cache type (q8 included); rope ppl --cache q8 stays within 1% of f32 on the
# runner's perplexity text; bad --ctx / --cache values exit 2.
# $1 = the rope binary; cwd = tests/. Skips (exit 0) without the default model.
set -euo pipefail
ROPE=${1:?usage: test_generate_cache.sh path/to/rope}
case "$ROPE" in /*) ;; *) ROPE="$PWD/$ROPE" ;; esac
cd "$(dirname "$0")/.."                  # tests/, wherever it is run from
MODEL=../models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -r "$MODEL" ]; then echo "SKIP: $MODEL absent (make deps)"; exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- generation past the context: 90 tokens through a 40-token cache
for cache in f32 q8; do
    "$ROPE" generate --model "$MODEL" --raw --prompt "The history of the printing press" \
        --repeat-penalty 1 -n 90 --ctx 40 --cache $cache -t 2 > "$T/out.txt" 2> "$T/err.txt" ||
        { cat "$T/err.txt"; fail "generate --ctx 40 --cache $cache exited non-zero"; }
    grep -q "generation: 90 tokens" "$T/err.txt" || { cat "$T/err.txt"; fail "$cache: not 90 tokens"; }
    shifts=$(sed -n "s/.*KV cache: 40 tokens, $cache, \([0-9]*\) context shift.*/\1/p" "$T/err.txt")
    [ -n "$shifts" ] && [ "$shifts" -ge 2 ] || { cat "$T/err.txt"; fail "$cache: $shifts shifts, want >= 2"; }
    [ "$(wc -c < "$T/out.txt")" -gt 200 ] || fail "$cache: output too short"
    echo "generate --ctx 40 --cache $cache: 90 tokens, $shifts shifts"
done
# the chat template keeps its system turn through the shifts
"$ROPE" generate --model "$MODEL" -n 60 --ctx 48 --cache f16 -t 2 > /dev/null 2> "$T/err.txt" ||
    { cat "$T/err.txt"; fail "generate (chat) --ctx 48 exited non-zero"; }
grep -Eq "KV cache: 48 tokens, f16, [0-9]+ context shifts? \([1-9][0-9]* tokens kept\)" "$T/err.txt" ||
    { cat "$T/err.txt"; fail "chat: no system tokens kept"; }

# --- perplexity: q8 cache within 1% of f32
TXT=data/ppl/declaration_and_notes.txt
p32=$("$ROPE" ppl --model "$MODEL" "$TXT" --ctx 128 --stride 128 --cache f32 -t 2 2>/dev/null | sed -n 's/^perplexity \([0-9.]*\).*cache f32.*/\1/p')
p8=$("$ROPE" ppl --model "$MODEL" "$TXT" --ctx 128 --stride 128 --cache q8 -t 2 2>/dev/null | sed -n 's/^perplexity \([0-9.]*\).*cache q8.*/\1/p')
[ -n "$p32" ] && [ -n "$p8" ] || fail "ppl output not parsed ('$p32', '$p8')"
awk -v a="$p32" -v b="$p8" 'BEGIN { r = b / a; print "ppl f32 " a ", q8 " b ", ratio " r; exit !(r > 0.99 && r < 1.01) }' ||
    fail "q8 perplexity not within 1% of f32"

# --- bad values: exit 2, the option named
for args in "--ctx 4" "--ctx x" "--ctx 100000000" "--cache q4" "--cache"; do
    set +e
    "$ROPE" generate --model "$MODEL" -n 1 $args > /dev/null 2> "$T/err.txt"; rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "generate $args exited $rc, want 2"
    grep -q -- "${args%% *}" "$T/err.txt" || fail "generate $args: option not named: $(cat "$T/err.txt")"
done
set +e
"$ROPE" ppl --model "$MODEL" "$TXT" --cache int4 > /dev/null 2> "$T/err.txt"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q -- "--cache" "$T/err.txt" || fail "ppl --cache int4 exited $rc"
echo "ok"
