#!/usr/bin/env bash
# The ABI is the header: librope.so must export exactly the functions that
# include/rope.h declares with ROPE_API, no internals (kernel tables, pool helpers).
# usage: check_exports.sh path/to/librope.so path/to/rope.h
set -euo pipefail
so=$1 header=$2
exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDRBVW]$/ {print $3}' | sort -u)
declared=$(grep -E '^ROPE_API ' "$header" | sed -E 's/\(.*//; s/.*[ *]([a-z_0-9]+)$/\1/' | sort -u)
if [ "$exported" != "$declared" ]; then
    echo "exported by $so but not declared ROPE_API in rope.h:"
    comm -23 <(echo "$exported") <(echo "$declared") | sed 's/^/  /'
    echo "declared ROPE_API but not exported:"
    comm -13 <(echo "$exported") <(echo "$declared") | sed 's/^/  /'
    exit 1
fi
n=$(echo "$exported" | wc -l)
soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
case "$soname" in
    librope.so.[0-9]*) ;;
    *) echo "SONAME is '$soname', expected librope.so.<major>"; exit 1 ;;
esac
echo "ok: $n exported symbols = the ROPE_API declarations of rope.h; SONAME $soname"
