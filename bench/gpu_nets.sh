#!/usr/bin/env bash
# Issue 16's table: every chapter network's training step, luacnn against PyTorch's best mode,
# side by side in one run. For each network: PyTorch eager in fp32 (TF32 off), tf32 and bf16
# (autocast + channels-last), PyTorch compiled in bf16 when COMPILE is set, then luacnn in
# fp32 and bf16. Raw JSON lines go to RAW, the merged objects (one per network and mode) to
# OUT, and the Markdown table (bench/nets_table.py) is printed last.
#
#   bench/gpu_nets.sh [NETS]      env: DEVICE (cuda), PRESET (gpu), LUACNN (build/luacnn),
#                                 STEPS (10), MIN_TIME (2), WARMUP (3), BATCH (0: the preset's),
#                                 COMPILE (e.g. max-autotune-no-cudagraphs; empty: no compile),
#                                 LUACNN_MODES (fp32 bf16), TORCH_MODES (fp32 tf32 bf16),
#                                 RAW, OUT (default bench/results/<date>-nets-<device>.*)
# On the CPU at tiny sizes it checks the harness itself:
#   DEVICE=cpu PRESET=cpu BATCH=2 STEPS=1 MIN_TIME=0 WARMUP=1 bench/gpu_nets.sh lenet
set -euo pipefail
cd "$(dirname "$0")/.."
exe=${LUACNN:-build/luacnn}
device=${DEVICE:-cuda}
preset=${PRESET:-gpu}
nets=${1:-lenet,lenet_bn,alexnet,vgg,nin,googlenet,resnet18,resnet18_leaves}
stamp=$(date -u +%Y-%m-%d)
raw=${RAW:-bench/results/$stamp-nets-$device.jsonl}
out=${OUT:-bench/results/$stamp-nets-$device.json}
common=(--steps "${STEPS:-10}" --warmup "${WARMUP:-3}")
: > "$raw"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') device $device preset $preset; $($exe --version 2>/dev/null | tr '\n' ' ')"
if [ "$device" != cpu ] && command -v nvidia-smi >/dev/null; then
  echo "# $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
fi
have_torch=0
python3 -c 'import torch' 2>/dev/null && have_torch=1
if [ $have_torch = 1 ]; then
  echo "# PyTorch $(python3 -c '
import torch
try:
    cudnn = torch.backends.cudnn.version()
except Exception as e:
    cudnn = "unknown (%s)" % str(e).split(".")[0]
print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", cudnn)' 2>&1)"
fi
for net in ${nets//,/ }; do
  if [ $have_torch = 1 ]; then
    for mode in ${TORCH_MODES:-fp32 tf32 bf16}; do
      python3 bench/cpu_nets_torch.py --nets "$net" --device "$device" --preset "$preset" --mode "$mode" \
        --batch-size "${BATCH:-0}" "${common[@]}" --min-time "${MIN_TIME:-2}" --json "$raw" 2>/dev/null |
        sed "s/^/torch  $mode  /"
    done
    if [ -n "${COMPILE:-}" ]; then
      timeout 600 python3 bench/cpu_nets_torch.py --nets "$net" --device "$device" --preset "$preset" \
        --mode bf16 --compile "$COMPILE" --batch-size "${BATCH:-0}" "${common[@]}" \
        --min-time "${MIN_TIME:-2}" --json "$raw" 2>/dev/null | sed "s/^/torch  bf16 compiled  /" ||
        echo "torch  bf16 compiled  $net: did not compile within 600 s"
    fi
  fi
  for mode in ${LUACNN_MODES:-fp32 bf16}; do
    "$exe" bench/cpu_nets.lua --nets "$net" --device "$device" --preset "$preset" --mode "$mode" \
      --batch_size "${BATCH:-0}" "${common[@]}" --min_time "${MIN_TIME:-2}" --json "$raw" |
      sed "s/^/luacnn $mode  /"
  done
done
echo
python3 bench/nets_table.py "$raw" --out "$out"
