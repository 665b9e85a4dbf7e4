#!/usr/bin/env bash
# The whole test suite under every thread count and OpenBLAS kernel a user's machine may pick
# (issue 10: the README's test command must pass on any x86-64 machine). Too long for CI (each
# cell is a full ctest run); run it by hand after touching numerics, threading or the BLAS path.
#
#   tests/run_matrix.sh [BUILD_DIR] [LOG_DIR]
#   env: THREADS ("1 2 3"), CORETYPES ("unset Haswell SkylakeX Zen"), JOBS (ctest -j, 2)
#
# Each cell's ctest output goes to LOG_DIR/omp<T>-<coretype>.txt; a table of the cells is
# printed last, and the exit status is non-zero when any cell failed.
set -uo pipefail
build=${1:-build}
logs=${2:-runs/matrix-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$logs"
failed=0
rows=()
for t in ${THREADS:-1 2 3}; do
  for core in ${CORETYPES:-unset Haswell SkylakeX Zen}; do
    log="$logs/omp$t-$core.txt"
    start=$(date +%s)
    if [ "$core" = unset ]; then
      env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="$t" ctest --test-dir "$build" -j"${JOBS:-2}" --output-on-failure >"$log" 2>&1
    else
      OPENBLAS_CORETYPE="$core" OMP_NUM_THREADS="$t" ctest --test-dir "$build" -j"${JOBS:-2}" --output-on-failure >"$log" 2>&1
    fi
    rc=$?
    summary=$(grep -E 'tests passed|tests failed' "$log" | tail -1)
    skipped=$(grep -c -- '\*\*\*Skipped' "$log")
    failing=$(grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)' "$log" | sed 's/^ *//' | tr '\n' ';')
    rows+=("| $t | $core | ${summary:-no summary (rc $rc)} | $skipped | $(( $(date +%s) - start )) s | ${failing:-} |")
    echo "omp $t, OPENBLAS_CORETYPE $core: ${summary:-rc $rc} ($log)"
    [ "$rc" -eq 0 ] || failed=1
  done
done
echo
echo "| OMP_NUM_THREADS | OPENBLAS_CORETYPE | result | skipped | time | failing |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $failed
