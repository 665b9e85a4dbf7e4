#!/bin/sh
# Leaves decode + augment throughput, luacnn against PyTorch on the same machine in one go:
# runs bench/leaves_loader_torch.py and bench/leaves_loader.lua (same images, same transforms,
# same batch size and worker counts), then prints the raw JSON lines and a table of
# images/sec per configuration with the ratio luacnn / PyTorch.
#
#   bench/leaves_loader.sh [--n 2000] [--repeats 3] [--sizes 224,64] [--workers 0,1,2]
#                          [--cache off|on|both] [--batch 64]
#
# The two sides take turns configuration by configuration (decoding, then each cache x size x
# workers), so that a neighbour's load on a shared machine falls on both about equally.
# Needs: a built ./build/luacnn (or $LUACNN), python3 with torch + torchvision + pillow, and
# the data in $LUACNN_DATA/classify-leaves (or ../shared/data). Run it on a quiet machine and
# keep its whole output (machine, load and versions are printed first): results/ has examples.
set -eu
cd "$(dirname "$0")/.."
LUACNN=${LUACNN:-./build/luacnn}
PYTHON=${PYTHON:-python3}
n=2000 repeats=3 sizes=224,64 workers=0,1,2 cache=both batch=64
while [ $# -gt 0 ]; do
  case "$1" in
    --n) n=$2 ;; --repeats) repeats=$2 ;; --sizes) sizes=$2 ;; --workers) workers=$2 ;;
    --cache) cache=$2 ;; --batch) batch=$2 ;;
    *) echo "leaves_loader.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# leaves decode + augment benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores"
echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
echo "# options: --n $n --repeats $repeats --sizes $sizes --workers $workers --cache $cache --batch $batch"
common="--n $n --repeats $repeats --batch $batch"
both() {   # one configuration on each side, PyTorch first
  echo "# load $(load): $*"
  "$PYTHON" bench/leaves_loader_torch.py $common "$@" >> "$tmp/torch.jsonl"
  "$LUACNN" bench/leaves_loader.lua $common "$@" >> "$tmp/luacnn.jsonl"
}
both --sizes none
case $cache in both) caches="off on" ;; *) caches=$cache ;; esac
for c in $caches; do
  for s in $(echo "$sizes" | tr ',' ' '); do
    for w in $(echo "$workers" | tr ',' ' '); do
      both --skip-decode --cache "$c" --sizes "$s" --workers "$w"
    done
  done
done
echo "# load $(load): done, $(date -u '+%H:%M UTC')"
echo
echo "## raw (JSON lines)"
head -n1 "$tmp/torch.jsonl"; head -n1 "$tmp/luacnn.jsonl"
grep -hv '"bench": *"info"' "$tmp/torch.jsonl" "$tmp/luacnn.jsonl" || true
echo
echo "## images/sec (median of the runs; ratio = luacnn / PyTorch)"
"$PYTHON" - "$tmp/torch.jsonl" "$tmp/luacnn.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip()]
info = {}
for r in rows:
    if r["bench"] == "info":
        info.setdefault(r["impl"], r)
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
