-- `luarocks make` (from the source tree) builds luacnn with CMake and installs, as Torch7's
-- packages were installed, into the LuaRocks tree of a stock Lua 5.4:
--   share/lua/5.4/luacnn/...      the Lua library          (require 'luacnn')
--   lib/lua/5.4/luacnn/core.so    its C module
--   bin/luacnn                    the luacnn executable
-- then `lua5.4 -e "local lc = require 'luacnn'; print(lc.ones(2, 2))"` works.
-- Needs what build.sh installs (Debian: liblua5.4-dev libopenblas-dev zlib1g-dev libpng-dev
-- libcairo2-dev libedit-dev libturbojpeg0-dev cmake pkg-config); CUDA is built when nvcc is
-- found. LUACNN_BUILD_DIR=DIR (a luarocks variable: `luarocks make LUACNN_BUILD_DIR=build`)
-- builds in DIR instead of build.luarocks, e.g. to reuse a configured build.
rockspec_format = "3.0"
package = "luacnn"
version = "0.1.0-1"
source = {
   url = "git+https://github.com/luacnn/luacnn.git",
   tag = "v0.1.0",
}
description = {
   summary = "A deep-learning runtime in C and CUDA driven from Lua 5.4",
   detailed = [[
      Tensors with autograd, PyTorch-shaped layers (lc.nn), optimizers, Fashion-MNIST and
      the d2l helpers for the CNN chapter of Dive into Deep Learning, in C with CUDA kernels.
   ]],
   license = "MIT",
   labels = { "deep-learning", "tensor", "cuda", "autograd" },
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "command",
   build_command = [[
B="$(LUACNN_BUILD_DIR)"; B="${B:-build.luarocks}"
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release || exit 1
fi
cmake --build "$B" -j "$(nproc 2>/dev/null || echo 2)"
]],
   -- installed as `cmake --install` lays it out, then put where LuaRocks deploys from:
   -- the rock's lua/, lib/ and bin/ folders
   install_command = [[
B="$(LUACNN_BUILD_DIR)"; B="${B:-build.luarocks}"
S="$B/rock-staging"
rm -rf "$S" && cmake --install "$B" --prefix "$S" >/dev/null || exit 1
mkdir -p "$(LUADIR)" "$(LIBDIR)" "$(BINDIR)" &&
cp -R "$S/share/lua/5.4/." "$(LUADIR)/" &&
cp -R "$S/lib/lua/5.4/." "$(LIBDIR)/" &&
cp "$S/bin/luacnn" "$(BINDIR)/luacnn" &&
rm -rf "$S"
]],
}
