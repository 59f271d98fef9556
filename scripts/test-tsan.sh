#!/usr/bin/env bash
# ThreadSanitizer build of every C test that runs threads (`make test-tsan`,
# part of `make test`): the pool's hand-off (test_apply, test_kv_cache), the
# attention work split and its scratch slots (test_attention), and one pool
# shared by concurrent callers (test_pool_shared). The core only (tools and
# runner off), -O1 -g; any race report fails the run (halt_on_error).
# Tests are found by grepping tests/*.c for threads, so a new threaded test is
# picked up without editing this list.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BUILD_TSAN:-build-tsan}
CC=${TSAN_CC:-${CC:-cc}}
JOBS=${JOBS:-$(nproc)}
tests=$(grep -l -E 'rope_pool_create|pthread_create' tests/test_*.c | xargs -n1 basename | sed 's/\.c$//' | sort)
[ -n "$tests" ] || { echo "test-tsan: no threaded tests found" >&2; exit 1; }
cmake -S . -B "$OUT" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Debug -DROPE_BUILD_TOOLS=OFF \
      -DROPE_BUILD_LLAMA=OFF "-DCMAKE_C_FLAGS=-fsanitize=thread -O1 -g" \
      -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
      >/dev/null || exit 2
# shellcheck disable=SC2086
cmake --build "$OUT" -j"$JOBS" --target $tests
regex="^($(echo $tests | tr ' ' '|'))\$"
cd "$OUT"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
  ctest --output-on-failure -j"$JOBS" -R "$regex"
