#!/usr/bin/env bash
# The GPU check, in one command, for a machine with an NVIDIA GPU, its driver, cuBLAS, cuDNN,
# PyTorch and python3 but perhaps no Lua, busted or our other libraries:
#   1. unpacks .deps/bundle.tar.gz (made here by bench/collect-deps.sh) into .deps/x/
#   2. finds cuBLAS and cuDNN on the machine (ldconfig, /usr/local/cuda, PyTorch's nvidia wheels)
#   3. runs the GPU tests: the C programs build/tests/test_cuda_*, then the Lua specs
#      tests/*cuda*_spec.lua and tests/*gpu*_spec.lua under the carried busted
#   4. runs the GPU benchmarks: first each bench/gpu_<name>_torch.py (PyTorch) with the path
#      .deps/gpu_<name>_torch.json as its argument (where it writes its figures), then each
#      bench/gpu_<name>.lua (luacnn) with --torch_json <that path> when the file was written
#   5. prints a summary last: every step's status and time, each benchmark's closing lines,
#      and a table of the lines "RESULT <benchmark> <implementation> <value> <unit>" if any.
# Full logs go to $OUT/gpu-check.log when OUT is set (the device tool's output folder), else to
# .deps/gpu-check.log; the console gets the failures and the summary only.
#
# Usage: bench/gpu-check.sh [BUILD_DIR]   (run from anywhere; default: build-gpu if it holds a
#        luacnn, else the bundle's build/). Exit status 0 when every step passed or skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
X=$ROOT/.deps/x
LOG=${OUT:-$ROOT/.deps}/gpu-check.log
mkdir -p "$(dirname "$LOG")"
: > "$LOG"

say() { echo "$*"; echo "$*" >> "$LOG"; }

if [ -f .deps/bundle.tar.gz ] && [ ! -d "$X" ]; then
  mkdir -p "$X" && tar -xzf .deps/bundle.tar.gz -C "$X" || { say "gpu-check: cannot unpack .deps/bundle.tar.gz"; exit 2; }
fi
BUILD=${1:-}
if [ -z "$BUILD" ]; then
  if [ -x build-gpu/luacnn ]; then BUILD=build-gpu; else BUILD=$X/build; fi
fi
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
if [ ! -x "$BUILD/luacnn" ]; then
  say "gpu-check: no luacnn in $BUILD (run bench/collect-deps.sh where it was built, and carry .deps)"
  exit 2
fi

# ---- libraries: the bundle's, then cuBLAS/cuDNN from wherever this machine keeps them ----
LDPATH=$X/lib
missing() { LD_LIBRARY_PATH=$LDPATH ldd "$@" 2>/dev/null | awk '/not found/ {print $1}' | sort -u; }
SEARCH="/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib"
for sp in $(python3 -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
  [ -d "$sp/nvidia" ] && SEARCH="$SEARCH $(find "$sp/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ' ')"
done
for lib in $(missing "$BUILD/luacnn"); do
  dir=$(find $SEARCH /usr/lib /usr/local /opt -name "$lib" -print -quit 2>/dev/null | xargs -r dirname)
  if [ -n "$dir" ]; then LDPATH=$LDPATH:$dir; fi
done
still=$(missing "$BUILD/luacnn" | tr '\n' ' ')
if [ -n "$still" ]; then
  say "gpu-check: libraries not found on this machine: $still"
  exit 2
fi

LUAPATH="$X/lua/?.lua;$X/lua/?/init.lua;;"
LUACPATH="$X/clua/?.so;;"
BUSTED=$X/bin/busted
[ -f "$BUSTED" ] || BUSTED=$(command -v busted || true)

# Runs a command with the bundle's libraries and Lua paths (PyTorch runs without them).
lc_env() {
  env LD_LIBRARY_PATH="$LDPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" LUA_PATH="$LUAPATH" \
    LUA_CPATH="$LUACPATH" LUACNN_LIB="$ROOT/lib" "$@"
}

# ---- steps ----
NAMES=()
STATUS=()
TIMES=()
step() {
  local name=$1
  shift
  local t0 t1 rc status
  t0=$(date +%s.%N)
  echo "===== $name: $*" >> "$LOG"
  local out
  out=$(mktemp)
  "$@" > "$out" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  cat "$out" >> "$LOG"
  case $rc in 0) status=pass ;; 77) status=skip ;; *) status="FAIL ($rc)" ;; esac
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    say "----- $name failed (exit $rc); its failures and last lines:"
    { grep -E '^(FAIL|not ok)|[Ee]rror' "$out" | head -40; tail -n 8 "$out"; } | awk '!seen[$0]++'
  fi
  grep -E '^RESULT ' "$out" >> "$ROOT/.deps/results.$$"
  tail -n 12 "$out" > "$ROOT/.deps/tail.$$.${#NAMES[@]}"
  rm -f "$out"
  NAMES+=("$name")
  STATUS+=("$status")
  TIMES+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')")
}
: > "$ROOT/.deps/results.$$"

say "gpu-check: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
say "gpu-check: build $BUILD; libraries from $LDPATH"
step "device" lc_env "$BUILD/luacnn" -e 'local lc = require "luacnn"
print("cuda devices", lc.cuda.device_count(), lc.cuda.device_name(0) or lc.cuda.unavailable_reason())
assert(lc.cuda.device_count() > 0, "no GPU seen by luacnn")'

shopt -s nullglob
for t in "$BUILD"/tests/test_cuda_*; do
  step "c/$(basename "$t")" lc_env "$t"
done
specs=(tests/*cuda*_spec.lua tests/*gpu*_spec.lua)
for spec in "${specs[@]}"; do
  if [ -z "$BUSTED" ]; then say "gpu-check: no busted for $spec"; continue; fi
  step "lua/$(basename "$spec" .lua)" lc_env "$BUILD/luacnn" "$BUSTED" --output=TAP "$spec"
done
BENCH_TAILS=()
bench_step() { # name command...: a step whose closing lines go into the summary
  step "$@"
  BENCH_TAILS+=("$1")
}
for b in bench/gpu_*_torch.py; do
  name=$(basename "$b" .py)
  rm -f ".deps/$name.json"
  bench_step "bench/$name" env PYTHONUNBUFFERED=1 python3 "$b" ".deps/$name.json"
done
for b in bench/gpu_*.lua; do
  name=$(basename "$b" .lua)
  extra=()
  [ -s ".deps/${name}_torch.json" ] && extra=(--torch_json ".deps/${name}_torch.json")
  bench_step "bench/$name" lc_env "$BUILD/luacnn" "$b" "${extra[@]}"
done

# ---- a real training run: LeNet on Fashion-MNIST on the GPU (when the data came along) ----
DATA=${LUACNN_DATA:-$ROOT/.deps/data}
if [ -s "$DATA/fashion-mnist/train-images-idx3-ubyte.gz" ]; then
  bench_step "scripts/lenet-cuda" lc_env env LUACNN_DATA="$DATA" "$BUILD/luacnn" scripts/lenet.lua \
    --device cuda --epochs "${LENET_EPOCHS:-10}" --summary=false --run_dir "$ROOT/.deps/runs/lenet-cuda"
else
  say "gpu-check: no Fashion-MNIST under $DATA: skipping the LeNet training run"
fi

# ---- summary ----
echo
say "===== summary"
fails=0
for i in "${!NAMES[@]}"; do
  say "$(printf '  %-40s %-10s %7ss' "${NAMES[$i]}" "${STATUS[$i]}" "${TIMES[$i]}")"
  case "${STATUS[$i]}" in FAIL*) fails=$((fails + 1)) ;; esac
done
for i in "${!NAMES[@]}"; do
  for b in "${BENCH_TAILS[@]}"; do
    if [ "$b" = "${NAMES[$i]}" ]; then
      say ""
      say "  --- ${NAMES[$i]} (last lines)"
      sed 's/^/  /' "$ROOT/.deps/tail.$$.$i" | tee -a "$LOG"
    fi
  done
done
rm -f "$ROOT"/.deps/tail.$$.*
# Benchmarks: one row per benchmark, luacnn against PyTorch when both reported.
if [ -s "$ROOT/.deps/results.$$" ]; then
  say ""
  awk '
    { key = $2; impl = $3; val[key, impl] = $4; unit[key] = $5; if (!(key in order)) { order[key] = ++n; keys[n] = key } }
    END {
      printf "  %-22s %16s %16s %8s\n", "benchmark", "luacnn", "pytorch", "ratio"
      for (i = 1; i <= n; i++) {
        k = keys[i]; a = val[k, "luacnn"]; b = val[k, "pytorch"]
        r = (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2fx", a / b) : "-"
        printf "  %-22s %16s %16s %8s   %s\n", k, (a == "" ? "-" : a), (b == "" ? "-" : b), r, unit[k]
      }
    }' "$ROOT/.deps/results.$$" | tee -a "$LOG"
fi
rm -f "$ROOT/.deps/results.$$"
say "gpu-check: $fails failed step(s); full log: $LOG"
[ "$fails" = 0 ]
