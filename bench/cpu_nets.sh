#!/usr/bin/env bash
# The chapter networks' CPU training step, luacnn against PyTorch, back to back per network
# (PyTorch first, then luacnn, so both see about the same machine load), with the ratios.
#
#   bench/cpu_nets.sh [NETS]          NETS: comma-separated, default all (see bench/cpu_nets.lua)
#   env: THREADS (2), STEPS (5), MIN_TIME (3 s; timed steps: at least STEPS and MIN_TIME), WARMUP (2), LUACNN (build/luacnn), ROUNDS (1: each network
#        measured ROUNDS times, alternating), anything luacnn reads (LUACNN_CPU_CONV,
#        OPENBLAS_CORETYPE, OMP_WAIT_POLICY for both, ...), TORCH_OMP_WAIT_POLICY (PyTorch's
#        alone; PASSIVE is what a machine shared with other busy processes needs for a fair
#        comparison: spinning OpenMP threads lose their time slices there, and PyTorch's step
#        then varies threefold)
#
# Prints both libraries' lines, then a Markdown table: examples/sec (fastest step and median
# step) and luacnn / PyTorch (above 1: luacnn is faster). The machine's load (uptime) is
# printed before each network, since a shared machine's figures mean little without it.
set -euo pipefail
cd "$(dirname "$0")/.."
exe=${LUACNN:-build/luacnn}
threads=${THREADS:-2}
steps=${STEPS:-5}
warmup=${WARMUP:-2}
min_time=${MIN_TIME:-3}
rounds=${ROUNDS:-1}
nets=${1:-lenet,alexnet,vgg,nin,googlenet,lenet_bn,resnet18,resnet18_leaves}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(uname -n), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# $($exe --version 2>/dev/null | tr '\n' ' ')"
echo "# PyTorch $(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null || echo 'not installed')"
echo "# threads $threads, steps >= $steps and >= $min_time s (after $warmup warm-up), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)}, LUACNN_CPU_CONV=${LUACNN_CPU_CONV-(unset: auto)}, LUACNN_CPU_GEMM=${LUACNN_CPU_GEMM-(unset)}, PyTorch OMP_WAIT_POLICY=${TORCH_OMP_WAIT_POLICY-${OMP_WAIT_POLICY-(default)}}, luacnn OMP_WAIT_POLICY=${OMP_WAIT_POLICY-(unset)} GOMP_SPINCOUNT=${GOMP_SPINCOUNT-(unset: luacnn sets 10000)}"
summary=()
for round in $(seq "$rounds"); do
  for net in ${nets//,/ }; do
    echo "# round $round, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    t=$(env ${TORCH_OMP_WAIT_POLICY:+OMP_WAIT_POLICY=$TORCH_OMP_WAIT_POLICY} python3 bench/cpu_nets_torch.py --nets "$net" --threads "$threads" --steps "$steps" --min-time "$min_time" --warmup "$warmup")
    echo "torch  $t"
    l=$(OMP_NUM_THREADS=$threads "$exe" bench/cpu_nets.lua --nets "$net" --steps "$steps" --min_time "$min_time" --warmup "$warmup")
    echo "luacnn $l"
    # fields: name batch B size S ms best X median Y ex/s best E median M
    summary+=("$(awk -v t="$t" -v l="$l" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
      split(t, a, " +"); split(l, b, " +");
      printf "| %s | %s | %s | %.1f | %.1f | %.1f | %.1f | **%.2fx** | %.2fx | %s |", b[1], b[3], b[5],
             b[13], a[13], b[15], a[15], b[13] / a[13], b[15] / a[15], load }')")
  done
done
echo
echo "| network | batch | size | luacnn ex/s (best) | PyTorch ex/s (best) | luacnn ex/s (median) | PyTorch ex/s (median) | ratio best | ratio median | load |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
