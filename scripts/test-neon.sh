#!/usr/bin/env bash
# Cross-build the core library with the NEON kernels for aarch64 and run the C
# tests that need only the core (test_kernels first) under qemu-aarch64.
# Needs Debian's gcc-aarch64-linux-gnu and qemu-user (scripts/install-deps.sh).
# Exit status: 0 all passed, 1 a build or test failed, 77 tools missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${BUILD_NEON:-$root/build-neon}
cc=${CC_AARCH64:-aarch64-linux-gnu-gcc}
qemu=${QEMU_AARCH64:-qemu-aarch64}
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}

for tool in "$cc" "$qemu"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "test-neon: $tool not found (apt-get install gcc-aarch64-linux-gnu qemu-user)" >&2
        exit 77
    fi
done

mkdir -p "$out/obj"
cflags=(-std=c11 -O2 -Wall -Wextra -Wpedantic -I"$root/include" -I"$root/src")

# The core: src/*.c plus the portable kernels and neon.c (as src/CMakeLists.txt
# does on aarch64).
objs=()
for src in "$root"/src/*.c "$root"/src/kernels/scalar.c "$root"/src/kernels/dispatch.c \
           "$root"/src/kernels/neon.c; do
    obj="$out/obj/$(basename "${src%.c}").o"
    "$cc" "${cflags[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
done
rm -f "$out/librope.a"
ar rcs "$out/librope.a" "${objs[@]}"

# test_kernels must build; the other core-only tests run when they build
# without the tools library (cJSON etc. are not installed for aarch64).
status=0
for name in test_kernels test_half test_freqs test_table test_apply test_attention; do
    src="$root/tests/$name.c"
    [ -f "$src" ] || continue
    if ! "$cc" "${cflags[@]}" -I"$root/tests" -I"$root/tools" "$src" "$out/librope.a" \
            -lm -lpthread -o "$out/$name" 2>"$out/$name.build.log"; then
        if [ "$name" = test_kernels ]; then
            cat "$out/$name.build.log" >&2
            exit 1
        fi
        echo "test-neon: $name does not build for aarch64 here, skipped (see $out/$name.build.log)"
        continue
    fi
    echo "== $name (aarch64, qemu)"
    if ! (cd "$root/tests" && "$qemu" -L "$sysroot" "$out/$name"); then
        echo "test-neon: $name FAILED" >&2
        status=1
    fi
done
exit $status
