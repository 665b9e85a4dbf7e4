#!/usr/bin/env bash
# Installs what luacnn needs from Debian's packages (if missing), then configures and
# builds into build/. CUDA is built when nvcc is found; LUACNN_CUDA=OFF switches it off.
set -euo pipefail
cd "$(dirname "$0")"

packages=(cmake make gcc pkg-config liblua5.4-dev lua5.4 lua-busted libopenblas-dev zlib1g-dev
          libpng-dev libcairo2-dev libedit-dev libturbojpeg0-dev curl libdnnl-dev
          libzmq3-dev libcjson-dev libssl-dev luarocks libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "build.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# nvcc lives outside PATH on a stock CUDA install
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLUACNN_CUDA="${LUACNN_CUDA:-AUTO}" >/dev/null
cmake --build build -j"$(nproc)"
echo "build.sh: built build/luacnn"
