#!/usr/bin/env bash
# LeNet end to end on the CPU (issue 13): scripts/lenet.lua's examples/sec (loader, step,
# metrics and progress: everything d2l's figure counts) against the step-only figure of
# bench/lenet_cpu.lua, and both against PyTorch 2 threads: its step only (the same
# bench/lenet_cpu.lua run) and its end-to-end loop (bench/lenet_e2e_torch.py).
#
#   bench/lenet_e2e.sh [EPOCHS]        env: THREADS (2), LUACNN (build/luacnn), DATA (the
#                                      Fashion-MNIST folder; default ../shared/data/fashion-mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
exe=${LUACNN:-build/luacnn}
epochs=${1:-3}
threads=${THREADS:-2}
data=${DATA:-$(cd .. && pwd)/shared/data/fashion-mnist}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $($exe --version 2>/dev/null | tr '\n' ' ')"
echo "## step only (bench/lenet_cpu.lua, batch 256)"
step=$(OMP_NUM_THREADS=$threads "$exe" bench/lenet_cpu.lua --threads "$threads" 2>&1)
echo "$step"
echo "## luacnn end to end: scripts/lenet.lua --epochs $epochs"
e2e=$(OMP_NUM_THREADS=$threads "$exe" scripts/lenet.lua --epochs "$epochs" --data "$data" 2>&1)
echo "$e2e"
echo "## PyTorch end to end: bench/lenet_e2e_torch.py --epochs $epochs"
te2e=$(cd bench && python3 lenet_e2e_torch.py --data "$data" --epochs "$epochs" --threads "$threads" 2>&1)
echo "$te2e"
l_e2e=$(echo "$e2e" | awk '/examples\/sec on/ {print $1}' | tail -1)
t_e2e=$(echo "$te2e" | awk '/examples\/sec on/ {print $1}' | tail -1)
echo
echo "| what | luacnn ex/s | PyTorch ex/s | ratio |"
echo "|---|---|---|---|"
l_step=$(echo "$step" | awk '/LeNet train, examples\/sec/ {print $4}')
t_step=$(echo "$step" | awk '/LeNet train, examples\/sec/ {print $5}')
awk -v l="$l_step" -v t="$t_step" 'BEGIN { printf "| train step only (batch 256) | %.0f | %.0f | %.2fx |\n", l, t, l / t }'
awk -v l="$l_e2e" -v t="$t_e2e" -v e="$epochs" 'BEGIN { printf "| end to end, %d epochs (training time) | %.0f | %.0f | %.2fx |\n", e, l, t, l / t }'
awk -v l="$l_e2e" -v t="$t_step" 'BEGIN { printf "| luacnn end to end / PyTorch step only | | | %.2fx |\n", l / t }'
awk -v e="$l_e2e" -v s="$l_step" 'BEGIN { printf "\nluacnn end to end is %.1f%% of its step-only figure\n", 100 * e / s }'
# the epoch lines after the first (which also pays for oneDNN's code generation and the first
# allocations): the steady state the issue's "epoch line" figure refers to
steady=$(echo "$e2e" | awk '/^epoch [0-9]+\/[0-9]+  loss/ && !/^epoch 1\// { sub(/.*\(/, ""); s += $1; n++ } END { if (n) printf "%.1f", s / n }')
if [ -n "$steady" ]; then
  awk -v e="$steady" -v s="$l_step" 'BEGIN { printf "its epoch lines after the first: %.0f examples/sec, %.1f%% of the step-only figure\n", e, 100 * e / s }'
fi
