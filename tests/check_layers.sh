#!/bin/sh
# The layering rules of docs/architecture.md, checked on every #include "..." of the C and
# CUDA sources (data flows down: bindings -> runtime -> kernels; plot beside runtime):
#   kernels/        includes nothing outside kernels/ (no runtime/, bindings/, plot/)
#   kernels/common/ includes only kernels/common/ (shared by every device)
#   kernels/cuda/   includes nothing of kernels/cpu/, and kernels/cpu/ nothing of kernels/cuda/
#   runtime/cuda/   includes nothing of kernels/cpu/ (the GPU path never detours through it)
#   runtime/        includes nothing of bindings/ or plot/
#   plot/           includes only plot/ (drawing knows no tensors)
#   runtime/'s backends (backend_cpu.c, runtime/cuda/, dispatch.c) include no tensor-level
#   header (ops*.h, autograd.h, random.h); the calls
#   themselves are checked on the objects by check_runtime_calls.sh
# Prints every offending include and exits 1 when there is one. Run from anywhere:
#   sh tests/check_layers.sh [source-root]
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

bad=0
check() { # check <dir> <forbidden-prefix regex> <rule>
  hits=$(grep -rnE --include='*.c' --include='*.h' --include='*.cu' --include='*.cuh' \
           --include='*.inc' "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"($2)" "$1" 2>/dev/null)
  if [ -n "$hits" ]; then
    printf '%s\n' "$hits" | sed "s|\$|    <- $3|"
    bad=1
  fi
}

check kernels 'runtime/|bindings/|plot/|cli/' 'kernels/ must not include from above'
check kernels/common 'kernels/cpu/|kernels/cuda/' 'kernels/common/ is shared: device headers stay out'
check kernels/cuda 'kernels/cpu/' 'kernels/cuda/ must not include kernels/cpu/ (shared parts go to kernels/common/)'
check kernels/cpu 'kernels/cuda/' 'kernels/cpu/ must not include kernels/cuda/'
check runtime/cuda 'kernels/cpu/' 'runtime/cuda/ must not include kernels/cpu/ (use kernels/common/)'
check runtime 'bindings/|plot/|cli/' 'runtime/ must not include bindings/, plot/ or cli/'
check plot 'runtime/|kernels/|bindings/|cli/' 'plot/ must not include other layers'
for f in runtime/backend_cpu.c runtime/conv_cpu_select.c runtime/cpu_block_cache.c \
         runtime/cpu_sgemm.c runtime/cuda_api.c runtime/dispatch.c runtime/cuda; do
  check "$f" 'runtime/(ops[a-z_]*|autograd|random)\.h' 'backends must not reach tensor-level code'
done

if [ "$bad" -ne 0 ]; then
  echo "check_layers: include edges that go up or sideways (see docs/architecture.md)"
  exit 1
fi
echo "check_layers: ok"
