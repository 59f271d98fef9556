#!/usr/bin/env bash
# The long text of `rope lab`: the King James Bible from Debian's bible-kjv-text
# (installed by install-deps.sh). Its /usr/lib/bible.data is in the package's
# own compressed format, read by the `bible` program of bible-kjv: with -f
# (pretty-printing off) it prints one verse a line, "Ge1:1 In the beginning
# ...". The reference is stripped, leaving ~4.1 MB of plain text, one verse a
# line (~1 M tokens for SmolLM2), written to models/kjv.txt. Nothing is
# downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
out=models/kjv.txt
[ -s "$out" ] && exit 0
mkdir -p models
command -v bible >/dev/null || { echo "get-text: 'bible' missing (apt-get install bible-kjv bible-kjv-text)" >&2; exit 1; }
bible -f gen1:1-rev22:21 | sed -E 's/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ //' > "$out.part"
n=$(wc -l < "$out.part")
if [ "$n" -ne 31102 ]; then
  echo "get-text: expected 31102 verses, got $n" >&2
  rm -f "$out.part"
  exit 1
fi
mv "$out.part" "$out"
echo "text: $out ($n verses)"
