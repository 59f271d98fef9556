#!/usr/bin/env bash
# Bounded libFuzzer runs (`make test-fuzz`) of every harness in fuzz/:
# config.json (fuzz_config, which also drives the core's frequency/table code
# with every config it accepts), .npy (fuzz_npy), GGUF (fuzz_gguf), the
# tokenizer (fuzz_tokenizer), the runner's options and the CLI helpers
# (fuzz_options), the C API's size/stride/position checks (fuzz_api) and the
# entry points added after it (fuzz_api_ext: model, divisors, M-RoPE planes,
# pool, axial tables, KV cache edits).
#
# Builds with clang through CMake (-DROPE_FUZZ=ON: libraries with coverage and
# ASan+UBSan, harnesses with -fsanitize=fuzzer) in build-fuzz/ and runs each
# harness for FUZZ_SECONDS (default 30) from its committed seed corpus
# fuzz/corpus/<name>/ (new inputs go to build-fuzz/corpus/<name>/, the
# committed seeds are not modified). Prints each run's execution count; exits
# non-zero if any harness finds a crash, sanitizer report, leak or timeout
# (the input is saved as build-fuzz/artifacts/<name>-crash-*). ctest replays
# the committed corpora with any compiler (fuzz/replay.c), so a finding added
# there stays a regression test.
#
# The runs use a fixed seed (FUZZ_SEED, default 1) so that CI explores the
# same inputs each time; FUZZ_SEED=0 lets libFuzzer pick one (exploration).
#
#   make test-fuzz-long                                  # an hour per harness, new seed
#   FUZZ_SECONDS=600 FUZZ_SEED=0 bash scripts/fuzz.sh    # longer, new seed
#   FUZZ_TARGETS="fuzz_npy" bash scripts/fuzz.sh         # one harness
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-30}
SEED=${FUZZ_SEED:-1}
TARGETS=${FUZZ_TARGETS:-"fuzz_config fuzz_npy fuzz_gguf fuzz_tokenizer fuzz_options fuzz_api fuzz_api_ext"}
OUT=build-fuzz
CC=${FUZZ_CC:-clang}
JOBS=${JOBS:-$(nproc)}

if ! command -v "$CC" >/dev/null; then
  echo "fuzz.sh: $CC not found (make deps installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi
mkdir -p "$OUT"
# libFuzzer's runtime present?
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' |
     "$CC" -x c -fsanitize=fuzzer - -o "$OUT/.probe" 2>"$OUT/.probe.log"; then
  echo "fuzz.sh: $CC cannot link -fsanitize=fuzzer (install libclang-rt-14-dev):" >&2
  cat "$OUT/.probe.log" >&2
  exit 2
fi

# Everything through CMake with ROPE_FUZZ=ON: the libraries get libFuzzer's
# coverage and ASan+UBSan, the harnesses fuzz/fuzz_<name>.c link -fsanitize=fuzzer.
cmake -S . -B "$OUT" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Debug -DROPE_FUZZ=ON \
      -DCMAKE_C_FLAGS="-O1 -g" >"$OUT/cmake.log" 2>&1 || { cat "$OUT/cmake.log" >&2; exit 2; }
# shellcheck disable=SC2086
cmake --build "$OUT" -j"$JOBS" --target $TARGETS >"$OUT/build.log" 2>&1 ||
  { tail -40 "$OUT/build.log" >&2; exit 2; }

status=0
for t in $TARGETS; do
  case $t in
    fuzz_config)    dict=fuzz/config.dict; maxlen=8192 ;;
    fuzz_npy)       dict=fuzz/npy.dict; maxlen=4096 ;;
    fuzz_gguf)      dict=; maxlen=8192 ;;
    fuzz_tokenizer) dict=; maxlen=8192 ;;
    fuzz_options)   dict=fuzz/options.dict; maxlen=1024 ;;
    fuzz_api)       dict=; maxlen=1024 ;;
    fuzz_api_ext)   dict=; maxlen=1024 ;;
    *) echo "fuzz.sh: unknown target $t" >&2; exit 2 ;;
  esac
  [ -x "$OUT/fuzz/$t" ] || { echo "fuzz.sh: $OUT/fuzz/$t was not built (module off?)" >&2; exit 2; }
  name=${t#fuzz_}
  mkdir -p "$OUT/corpus/$name" "$OUT/artifacts"
  log="$OUT/$t.log"
  args=(-max_total_time="$SECONDS_EACH" -seed="$SEED" -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$name-")
  [ -n "$dict" ] && args+=(-dict="$dict")
  echo "== $t: ${SECONDS_EACH}s from fuzz/corpus/$name ($(ls fuzz/corpus/$name | wc -l) seeds)"
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$OUT/fuzz/$t" "${args[@]}" "$OUT/corpus/$name" "fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  corp=$(ls "$OUT/corpus/$name" | wc -l)
  if [ $rc -ne 0 ]; then
    echo "FAIL $t: exit $rc after ${execs:-?} executions; log $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 >&2 || true
    status=1
  else
    echo "ok   $t: ${execs:-?} executions, 0 crashes, ${cov:-cov ?}, corpus $corp"
  fi
done
exit $status
