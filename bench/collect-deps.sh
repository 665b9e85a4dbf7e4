#!/usr/bin/env bash
# Packs what bench/gpu-check.sh needs on the GPU machine into .deps/bundle.tar.gz (.deps/ is
# git-ignored; carry it). That machine has the CUDA driver, cuBLAS, cuDNN, PyTorch and python3,
# but no Lua, no busted, and maybe not our other shared libraries; and a build folder is too big
# to carry whole. So the bundle holds:
#   build/   the runnables of the build: luacnn, tests/test_cuda_*, lib -> the repo's lib/
#   lib/     the shared libraries they load (ldd), except glibc's, libstdc++/libgcc_s, the CUDA
#            driver's, cuBLAS and cuDNN (hundreds of MB; gpu-check.sh finds the machine's own)
#   lua/     Debian's Lua 5.4 modules (busted, luassert, penlight, say, ...), symlinks resolved
#   clua/    the Lua C modules busted loads (lfs, system, term, ...), and their libraries in lib/
#   bin/     the busted runner script
#
# Usage: bench/collect-deps.sh [BUILD_DIR]     (default build-gpu; run from anywhere)
# Then:  run with carry [".deps"] the command: bench/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
if [ ! -x "$BUILD/luacnn" ]; then
  echo "collect-deps: no $BUILD/luacnn; build it first:" >&2
  echo "  cmake -S . -B $BUILD -DLUACNN_CUDA=ON && cmake --build $BUILD -j2" >&2
  exit 1
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{build/tests,lib,lua,clua,bin}

# 1. the runnables (lib/ is found through LUACNN_LIB or this relative link, valid once unpacked
#    in .deps/x/ of any checkout)
cp "$BUILD/luacnn" "$STAGE/build/"
ln -s ../../../lib "$STAGE/build/lib"
shopt -s nullglob
for t in "$BUILD"/tests/test_cuda_*; do
  [ -x "$t" ] && cp "$t" "$STAGE/build/tests/"
done

# 2. Lua modules and busted
LUA_SHARE=/usr/share/lua/5.4
LUA_CLIB=/usr/lib/x86_64-linux-gnu/lua/5.4
cp -rL "$LUA_SHARE"/. "$STAGE/lua/"
cp -rL "$LUA_CLIB"/. "$STAGE/clua/"
cp -L "$(command -v busted)" "$STAGE/bin/busted"

# 3. shared libraries of everything above
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv|libutil\.so|libstdc\+\+|libgcc_s|libcuda\.so|libnvidia|libcudnn|libcublas)'
objects=("$STAGE/build/luacnn" "$STAGE"/build/tests/* )
while IFS= read -r so; do objects+=("$so"); done < <(find "$STAGE/clua" -name '*.so')
declare -A seen
for obj in "${objects[@]}"; do
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    [[ "$name" =~ $skip ]] && continue
    [ -n "${seen[$name]:-}" ] && continue
    if [ ! -f "$path" ]; then
      echo "collect-deps: $obj needs $name, which is not found here" >&2
      exit 1
    fi
    seen[$name]=1
    cp -L "$path" "$STAGE/lib/$name"
  done < <(ldd "$obj")
done

mkdir -p .deps
rm -rf .deps/x
(cd "$STAGE" && find . -type f -o -type l | sort > MANIFEST)
tar -czf .deps/bundle.tar.gz -C "$STAGE" .
echo "collect-deps: .deps/bundle.tar.gz $(du -h .deps/bundle.tar.gz | cut -f1) from $BUILD:"
echo "  $(ls "$STAGE/build/tests" | wc -l) GPU test programs, $(ls "$STAGE/lib" | wc -l) shared libraries ($(du -sh "$STAGE/lib" | cut -f1) unpacked)"
echo "  carry [\".deps\"] and run: bench/gpu-check.sh"
