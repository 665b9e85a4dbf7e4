#!/usr/bin/env bash
# Data-parallel scaling on this machine (issue 14): one LeNet epoch on Fashion-MNIST (60,000
# images, batch 256, the chapter's settings) with 1 rank x 2 threads and 2 ranks x 1 thread,
# then the MPI all_reduce bandwidth up to 45 MB. Output goes to stdout; keep it in
# bench/results/. Usage: bench/dist_scaling.sh [build/luacnn]
set -euo pipefail
cd "$(dirname "$0")/.."
exe="${1:-build/luacnn}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 LUACNN_PROGRESS=0 LUACNN_PROGRESS_INTERVAL=100000
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "== $(date -u '+%F %T UTC')  $("$exe" --version | head -1)"
echo "== $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in 1 2; do
  echo "== round $round: 1 rank x 2 threads"
  (cd "$tmp" && OMP_NUM_THREADS=2 "$OLDPWD/$exe" "$OLDPWD/scripts/lenet.lua" --epochs 1 --seed 1 \
      | grep -E 'epoch 1/1|examples/sec')
  echo "== round $round: 2 ranks x 1 thread (mpirun --bind-to none)"
  (cd "$tmp" && OMP_NUM_THREADS=1 mpirun -np 2 --bind-to none "$OLDPWD/$exe" \
      "$OLDPWD/scripts/lenet.lua" --epochs 1 --seed 1 | grep -E 'epoch 1/1|examples/sec')
done
echo "== all_reduce, 2 ranks x 1 thread"
OMP_NUM_THREADS=1 mpirun -np 2 --bind-to none "$exe" bench/dist_allreduce.lua --mb 45 --reps 10
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
