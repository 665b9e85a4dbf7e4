#!/bin/sh
# The call order inside runtime/ (docs/architecture.md, "Inside runtime/"), checked on the
# compiled objects: file A calls file B when A's object needs a symbol B's object defines.
# Levels, bottom up; a file calls only files of its own level or below:
#   0 error      runtime/error.c                     (lc_error: calls nothing in runtime/)
#   1 geometry   runtime/geometry.c                  (dtypes, devices, sizes: no allocation)
#   2 backends   backend_cpu.c conv_cpu_select.c cpu_block_cache.c cpu_sgemm.c cuda_api.c cuda/*
#   3 dispatch   runtime/dispatch.c                  (which backend computes for a device)
#   4 tensors    runtime/tensor.c                    (storages, tensors, nodes' lifetime)
#   5 tape       runtime/autograd.c                  (grad mode, recording nodes)
#   6 the rest   ops_*.c, random.c, backward.c (the engine, above the ops), I/O
# and the call graph has no cycle at all (within level 6 too). So a backend never calls back
# into tensor-level code, the ops never call the engine, and a new file that closes a cycle
# fails here.
#   sh tests/check_runtime_calls.sh <object-dir>     (build/CMakeFiles/luacnn_core.dir)
objdir=${1:?usage: check_runtime_calls.sh <object-dir of luacnn_core>}
cd "$objdir" || exit 2
ls runtime/*.o >/dev/null 2>&1 || { echo "check_runtime_calls: no objects under $objdir/runtime"; exit 2; }
command -v nm >/dev/null || { echo "SKIPPED: nm (binutils) is not installed"; exit 77; }

for o in runtime/*.o runtime/cuda/*.o; do
  [ -f "$o" ] || continue
  nm -P "$o" | awk -v f="${o%.o}" '$2 == "U" { print "U", f, $1; next }
                                   $2 ~ /^[TDBRVWC]$/ { print "D", f, $1 }'
done | awk '
function level(f) {
  if (f == "runtime/error.c") return 0
  if (f == "runtime/geometry.c") return 1
  if (f ~ /^runtime\/(backend_cpu|conv_cpu_select|cpu_block_cache|cpu_sgemm|cuda_api)\.c$/ ||
      f ~ /^runtime\/cuda\//) return 2
  if (f == "runtime/dispatch.c") return 3
  if (f == "runtime/tensor.c") return 4
  if (f == "runtime/autograd.c") return 5
  return 6
}
$1 == "D" { def[$3] = $2; files[$2] = 1; next }
{ need[NR] = $2 " " $3; files[$2] = 1 }
END {
  bad = 0
  for (k in need) {
    split(need[k], p, " "); a = p[1]; b = def[p[2]]
    if (b == "" || a == b || ((a, b) in edge)) continue
    edge[a, b] = 1; why[a, b] = p[2]; nedges++
    if (level(b) > level(a)) {
      printf "%s calls %s (%s): a level-%d file calls up into level %d\n", a, b, p[2], level(a), level(b)
      bad = 1
    }
  }
  # cycles: reachability by Floyd-Warshall (a few dozen files)
  n = 0
  for (f in files) name[++n] = f
  for (i = 1; i <= n; i++) for (j = 1; j <= n; j++) r[i, j] = ((name[i], name[j]) in edge)
  for (k = 1; k <= n; k++) for (i = 1; i <= n; i++) if (r[i, k]) for (j = 1; j <= n; j++)
    if (r[k, j]) r[i, j] = 1
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
    if (r[i, j] && r[j, i]) {
      printf "%s and %s call each other (a cycle)\n", name[i], name[j]
      bad = 1
    }
  if (bad) { print "check_runtime_calls: the runtime call order is broken (docs/architecture.md)"; exit 1 }
  printf "check_runtime_calls: ok (%d call edges between %d runtime files)\n", nedges, n
}'
