#!/usr/bin/env bash
# rope check and rope plot: check passes (table and JSON); plot writes PNGs that decode
# (chunk CRCs, IHDR, zlib stream, scanline filters undone, enough ink and colours), SVGs
# that parse with glyphs drawn, PDFs with a page and DejaVu fonts embedded; B(r) in --json
# matches RoFormer's numbers; the heatmap is constant along diagonals; bad input exits 2.
# $1 = the rope binary; cwd = tests/.
set -euo pipefail
ROPE=${1:?usage: test_check_plot.sh path/to/rope}
case "$ROPE" in /*) ;; *) ROPE="$PWD/$ROPE" ;; esac
cd "$(dirname "$0")/.."                  # tests/, wherever it is run from
PY=${PYTHON:-python3}
CFG=data/configs/llama2_7b.json          # head_dim 128, rope_theta 1e4
CFG_YARN=data/configs/qwen25_7b_instruct_yarn.json
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- rope check
"$ROPE" check > "$T/check.txt" 2> "$T/check.err" || { cat "$T/check.txt" "$T/check.err"; fail "rope check exited non-zero"; }
grep -q "checks passed" "$T/check.txt" || fail "rope check: no summary line"
! grep -q "FAIL" "$T/check.txt" || fail "rope check printed FAIL"
grep -q "rope check: \[" "$T/check.err" || fail "rope check: no progress on stderr"
"$ROPE" check --json --quiet > "$T/check.json"
"$PY" - "$T/check.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pass"] is True and d["failed"] == 0, d
names = [c["name"] for c in d["checks"]]
assert len(names) >= 30, len(names)
for want in ("norm kept", "relative position", "inverse", "R(a)R(b)", "table accurate  pos 2^20",
             "table compat    pos 2^20", "threads 2"):
    assert any(want in n for n in names), want
assert all(c["pass"] and c["measured"] <= c["bound"] for c in d["checks"]), d["checks"]
print("check json ok:", len(names), "checks, isa", d["isa"])
PYEOF
set +e
"$ROPE" check --bogus > /dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "rope check --bogus exited $rc, want 2"

# --- rope plot: images (cairo: PNG, SVG and PDF from one drawing path)
set +e
"$ROPE" plot "$CFG_YARN" --kind wavelength --out "$T/probe.png" > /dev/null 2> "$T/probe.err"; rc=$?
set -e
if [ "$rc" -ne 0 ] && grep -q "built without cairo" "$T/probe.err"; then
    echo "SKIP plot images: this rope was built without cairo"
else
[ "$rc" -eq 0 ] || { cat "$T/probe.err"; fail "rope plot --out probe.png exited $rc"; }
for kind in all wavelength decay heatmap; do
    for ext in png svg pdf; do
        "$ROPE" plot "$CFG_YARN" --kind "$kind" --out "$T/$kind.$ext" 2> /dev/null
    done
done
"$PY" - "$T" <<'PYEOF'
import os, struct, sys, zlib
import xml.etree.ElementTree as ET

def unfilter(raw, w, h, bpp):
    """PNG scanline filters 0-4 undone: rows of w*bpp bytes."""
    stride, out, prev = w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        assert f <= 4, f"filter {f}"
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line)); prev = line
    return out

def decode_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        typ, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(typ + body) & 0xffffffff == crc, f"CRC of {typ}"
        chunks.append((typ, body))
        pos += 12 + n
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", [c[0] for c in chunks]
    w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and ctype in (2, 6) and (comp, filt, inter) == (0, 0, 0), chunks[0][1]
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
    assert len(raw) == h * (1 + bpp * w), "scanline bytes"
    colours, ink = set(), 0
    for row in unfilter(raw, w, h, bpp)[::2]:            # every other row: enough, and fast
        px = [row[i:i + 3] for i in range(0, len(row), bpp)]
        colours.update(px)
        ink += sum(p != b"\xff\xff\xff" for p in px)
    frac = ink / (w * ((h + 1) // 2))
    assert 0.01 < frac < 0.9, f"{path}: {frac:.3f} of the pixels drawn"
    return w, h, len(colours)

T = sys.argv[1]
SVG = "{http://www.w3.org/2000/svg}"
for kind in ("all", "wavelength", "decay", "heatmap"):
    w, h, ncol = decode_png(os.path.join(T, kind + ".png"))
    assert w >= 800 and h >= 600, (kind, w, h)
    assert ncol >= 20, f"{kind}: only {ncol} colours, not an anti-aliased picture"
    root = ET.parse(os.path.join(T, kind + ".svg")).getroot()
    assert root.tag == SVG + "svg", root.tag
    glyphs = [e for e in root.iter(SVG + "use")]            # cairo draws text as glyph uses
    paths = list(root.iter(SVG + "path"))
    assert len(glyphs) >= 100 and len(paths) >= 10, (kind, len(glyphs), len(paths))
    pdf = open(os.path.join(T, kind + ".pdf"), "rb").read()
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF"), kind
    assert b"/Type /Page" in pdf and b"DejaVuSans" in pdf, f"{kind}: no page or no DejaVu font"
    print(f"plot {kind}: png {w}x{h} ({ncol} colours), svg {len(glyphs)} glyphs, pdf {len(pdf)} bytes")
big = decode_png(os.path.join(T, "all.png"))
assert big[:2] == (1600, 1300), big
PYEOF
for ext in png svg pdf; do     # an output that cannot be written: exit 2, --out named
    set +e
    "$ROPE" plot "$CFG" --out "/nonexistent-dir/x.$ext" > /dev/null 2> "$T/err"; rc=$?
    set -e
    [ "$rc" -eq 2 ] && grep -q -- "--out" "$T/err" || fail "unwritable --out x.$ext: exit $rc, $(cat "$T/err")"
done
fi

# --- rope plot --json: RoFormer §3.4.3 numbers for d=128, base 1e4; diagonals of the heatmap
"$ROPE" plot "$CFG" --json > "$T/plot.json"
"$PY" - "$T/plot.json" <<'PYEOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
at = d["decay"]["at"]
assert d["decay"]["d"] == 128 and d["rotary_dim"] == 128
assert abs(at["0"] - 32.5) < 1e-12, at["0"]
assert abs(at["100"] - 10.23) < 0.005, at["100"]
assert abs(at["1000"] - 4.47) < 0.005, at["1000"]
r, B = d["decay"]["r"], d["decay"]["B"]
assert r[0] == 0 and B[0] == at["0"] and len(r) == len(B) > 100
theta = [10000.0 ** (-2 * i / 128) for i in range(64)]
def bound(x):  # B(r) = (1/64) sum_j |sum_{k<j} e^{i r theta_k}|
    re = im = s = 0.0
    for t in theta:
        re += math.cos(x * t); im += math.sin(x * t); s += math.hypot(re, im)
    return s / 64
for i in range(0, len(r), 37):
    assert abs(B[i] - bound(r[i])) < 1e-9, (r[i], B[i])
wl = d["wavelength"]["scaled"]
assert len(wl) == 64 and abs(wl[0] - 2 * math.pi) < 1e-12 and abs(wl[-1] - 2 * math.pi / theta[-1]) < 1e-6
assert wl == d["wavelength"]["unscaled"]  # default rope: nothing scaled
s = d["heatmap"]["scores"]
n = len(s)
mx = max(abs(v) for row in s for v in row)
dev = max(abs(s[m][k] - s[m + 1][k + 1]) for m in range(n - 1) for k in range(n - 1))
assert dev <= 1e-5 * mx, dev / mx                # a function of m - n only
assert max(abs(s[0][k] - s[0][0]) for k in range(n)) > 0.1 * mx   # ... but not constant
print("plot json ok: B(0)=%.4f B(100)=%.4f B(1000)=%.4f, diagonal deviation %.2g" % (at["0"], at["100"], at["1000"], dev / mx))
PYEOF
"$ROPE" plot "$CFG_YARN" --json --kind wavelength > "$T/yarn.json"
"$PY" - "$T/yarn.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
band = d["wavelength"]["band"]
assert band.count("blend") > 0 and band.count("scaled") > 0 and band[0] == "unscaled", band
sc, un = d["wavelength"]["scaled"], d["wavelength"]["unscaled"]
assert abs(sc[-1] / un[-1] - 4.0) < 1e-9 and sc[0] == un[0]   # yarn x4: low frequencies interpolated
PYEOF

# --- bad input: exit 2 with a message
expect2() {
    set +e
    "$ROPE" plot "$@" > /dev/null 2> "$T/err"; rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "rope plot $* exited $rc, want 2"
    [ -s "$T/err" ] || fail "rope plot $*: no message"
}
expect2 /nonexistent/config.json --out "$T/x.png"
expect2 "$CFG" --kind nonsense --out "$T/x.png"
expect2 "$CFG" --out "$T/x.jpg"
expect2 "$CFG" --out "$T/x.pdfx"
expect2 "$CFG" --size 100000 --out "$T/x.png"
expect2 --out "$T/x.png"
echo '{"rope_theta": "ten", "head_dim": 64}' > "$T/bad.json"
expect2 "$T/bad.json" --out "$T/x.png"
echo "ok"
