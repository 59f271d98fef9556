#!/usr/bin/env bash
# Install the built tree under a temporary prefix, then build the README's C
# example against it as a user would: through pkg-config (static and shared)
# and through find_package(rope CONFIG) (rope::rope and rope::rope_shared).
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -1 | xargs dirname)
for f in include/rope.h "${libdir#$prefix/}/librope.a" "${libdir#$prefix/}/pkgconfig/librope.pc" \
         "${libdir#$prefix/}/cmake/rope/ropeConfig.cmake"; do
    [ -e "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
ls "$libdir"/librope.so.[0-9]* > /dev/null || { echo "no versioned librope.so.N"; exit 1; }

export PKG_CONFIG_PATH=$libdir/pkgconfig
cc=${CC:-cc}
echo "pkg-config: $(pkg-config --modversion librope)"
# shellcheck disable=SC2046
$cc -std=c11 -o "$tmp/qs_static" "$src/examples/quickstart.c" $(pkg-config --cflags librope) \
    "$libdir/librope.a" $(pkg-config --libs-only-other --static librope) -lm
"$tmp/qs_static" > /dev/null
# shellcheck disable=SC2046
$cc -std=c11 -o "$tmp/qs_shared" "$src/examples/quickstart.c" $(pkg-config --cflags --libs librope) \
    -lm -Wl,-rpath,"$libdir"
"$tmp/qs_shared" > /dev/null
deps=$(ldd "$tmp/qs_shared"); [[ $deps == *librope.so.[0-9]* ]] || { echo "not linked to librope.so.N"; exit 1; }
echo "pkg-config consumer: static and shared ok"

cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
      -DROPE_EXAMPLE="$src/examples/quickstart.c" > "$tmp/consumer.log"
cmake --build "$tmp/consumer" >> "$tmp/consumer.log"
"$tmp/consumer/qs_static" > /dev/null
"$tmp/consumer/qs_shared" > /dev/null
echo "find_package consumer: rope::rope and rope::rope_shared ok"
