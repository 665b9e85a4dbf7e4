#!/bin/sh
# Leaves decode + augment throughput, luacnn against PyTorch on the same machine in one go:
# runs bench/leaves_loader_torch.py and bench/leaves_loader.lua (same images, same transforms,
# same batch size and worker counts), then prints the raw JSON lines and a table of
# images/sec per configuration with the ratio luacnn / PyTorch.
#
#   bench/leaves_loader.sh [--n 2000] [--repeats 3] [--sizes 224,64] [--workers 0,1,2]
#                          [--cache off|on|both]          (options go to both sides)
#
# Needs: a built ./build/luacnn (or $LUACNN), python3 with torch + torchvision + pillow, and
# the data in $LUACNN_DATA/classify-leaves (or ../shared/data). Run it on a quiet machine and
# keep its whole output (machine, load and versions are printed first): results/ has examples.
set -eu
cd "$(dirname "$0")/.."
LUACNN=${LUACNN:-./build/luacnn}
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "# leaves decode + augment benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores"
echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
echo "# load before: $(uptime | sed 's/.*load average: //')"
echo "# options: ${*:-(defaults)}"

"$PYTHON" bench/leaves_loader_torch.py "$@" > "$tmp/torch.jsonl"
echo "# load between: $(uptime | sed 's/.*load average: //')"
"$LUACNN" bench/leaves_loader.lua "$@" > "$tmp/luacnn.jsonl"
echo "# load after: $(uptime | sed 's/.*load average: //')"
echo
echo "## raw (JSON lines)"
cat "$tmp/torch.jsonl" "$tmp/luacnn.jsonl"
echo
echo "## images/sec (median of the runs; ratio = luacnn / PyTorch)"
"$PYTHON" - "$tmp/torch.jsonl" "$tmp/luacnn.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip()]
info = {r["impl"]: r for r in rows if r["bench"] == "info"}
t = info.get("pytorch", {})
print(f"PyTorch {t.get('torch')}, torchvision {t.get('torchvision')}, Pillow {t.get('pillow')}, "
      f"Python {t.get('python')}; {t.get('images')} images")
def rate(r):
    return r.get("img_per_s") if r else None
def fmt(v):
    return f"{v:,.0f}" if isinstance(v, (int, float)) else "-"
def ratio(a, b):
    return f"{a / b:.2f}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"
table = [("configuration", "luacnn img/s", "PyTorch img/s", "ratio")]
dec = {(r["impl"], r["method"]): r for r in rows if r["bench"] == "decode"}
lua_full = rate(dec.get(("luacnn", "turbojpeg")))
for m in ("PIL", "decode_jpeg"):
    if ("pytorch", m) in dec:
        table.append((f"decode, 1 core: turbojpeg vs {m}", fmt(lua_full), fmt(rate(dec[("pytorch", m)])),
                      ratio(lua_full, rate(dec[("pytorch", m)]))))
for (impl, m), r in dec.items():
    if impl == "luacnn" and m != "turbojpeg":
        table.append((f"decode, 1 core: {m} (luacnn only)", fmt(rate(r)), "-", "-"))
ld = {}
for r in rows:
    if r["bench"] == "loader":
        ld[(r["impl"], r["cache"], r["size"], r["workers"])] = r
keys = sorted({k[1:] for k in ld}, key=lambda k: (k[0], -k[1], k[2]))
for cache, size, w in keys:
    a, b = ld.get(("luacnn", cache, size, w)), ld.get(("pytorch", cache, size, w))
    name = f"loader {size}px, {w} worker{'s' if w != 1 else ''}{', decoded cache' if cache else ''}"
    la = rate(a) if a and "skipped" not in a else None
    table.append((name, fmt(la) if a and "skipped" not in a else ("n/a" if a else "-"),
                  fmt(rate(b)), ratio(la, rate(b))))
wid = [max(len(str(row[i])) for row in table) for i in range(4)]
for k, row in enumerate(table):
    print("| " + " | ".join(str(c).ljust(wid[i]) if i == 0 else str(c).rjust(wid[i]) for i, c in enumerate(row)) + " |")
    if k == 0:
        print("|" + "|".join("-" * (w + 2) for w in wid) + "|")
reasons = {}
for r in rows:
    if r["bench"] == "loader" and "skipped" in r:
        reasons.setdefault(r["skipped"], []).append(f"{r['size']}px/{r['workers']}w" + ("/cache" if r["cache"] else ""))
for why, where in reasons.items():
    print(f"n/a ({', '.join(where)}): {why}")
EOF
