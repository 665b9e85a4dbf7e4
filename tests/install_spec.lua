-- Installing luacnn the way Lua and C libraries install (issue 11): `cmake --install` into a
-- scratch prefix and `luarocks make` into a scratch tree, each then used from a stock lua5.4
-- and through the installed executable. Both install from the build that ctest tests (the
-- folder of $LUACNN_EXE), so nothing is compiled here. Without luarocks or lua5.4 the part
-- that needs them reports itself skipped, loudly.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')

local function has(out, text) assert.matches(text, out, 1, true) end

local function build_dir()
  local exe = os.getenv('LUACNN_EXE')
  if not exe or exe == '' then return nil end
  local dir = exe:match('^(.*)/[^/]+$')
  if dir and H.exists(dir .. '/CMakeCache.txt') then return dir end
  return nil
end

-- A sanitizer build's C module needs the ASan runtime loaded first, which a stock lua5.4 does
-- not do; the main (unsanitized) tree runs these installs.
local function sanitized(build)
  local f = io.open(build .. '/CMakeCache.txt', 'r')
  if not f then return false end
  local text = f:read('a')
  f:close()
  return text:match('\nLUACNN_SANITIZE:BOOL=ON') ~= nil
end

local function which(cmd)
  local out, rc = H.sh('command -v ' .. cmd)
  return rc == 0 and out:match('[^\n]+') or nil
end

local function skip_loudly(why)
  io.stderr:write('\n*** SKIPPED (', why, ') ***\n')
  pending(why)
end

-- `lua5.4 -e CODE` with the Lua and C paths of an install prefix (or rocks tree).
local function stock_lua(prefix, code, dir)
  return H.sh(string.format("cd %s && env -u LUACNN_LIB LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s",
    H.q(dir), H.q(prefix .. '/share/lua/5.4/?.lua;' .. prefix .. '/share/lua/5.4/?/init.lua;;'),
    H.q(prefix .. '/lib/lua/5.4/?.so;;'), H.q(code)))
end

-- The installed executable, run from a folder outside the source tree.
local function installed_luacnn(prefix, args, dir)
  return H.sh(string.format('cd %s && env -u LUACNN_LIB -u LUA_PATH -u LUA_CPATH %s %s', H.q(dir),
                            H.q(prefix .. '/bin/luacnn'), args))
end

describe('installing', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('luacnn --version prints the version, the commit and what the build has', function()
    local out, rc = H.luacnn('--version', tmp)
    assert.equal(0, rc, out)
    assert.matches('^luacnn %d+%.%d+%.%d+ %(commit [%w%-]+, Lua 5%.4', out)
    assert.matches('\nbuilt with: CUDA (%a+), cuDNN %1, libjpeg%-turbo %a+, libpng yes, oneDNN %a+, MPI %a+\n', out)
    assert.is_nil(out:match('commit unknown'), 'a build from a git checkout knows its commit')
  end)

  it('cmake --install --prefix DIR puts the executable, the Lua library and the C module where they are looked for', function()
    local build = build_dir()
    if not build then return skip_loudly('no build folder: LUACNN_EXE is not set to build/luacnn') end
    if sanitized(build) then return skip_loudly('sanitizer build: a stock lua5.4 cannot load its module') end
    if not which('lua5.4') then return skip_loudly('no lua5.4 to load the installed module with') end
    local prefix = tmp .. '/prefix'
    local out, rc = H.sh(string.format('cmake --install %s --prefix %s', H.q(build), H.q(prefix)))
    assert.equal(0, rc, out)
    for _, f in ipairs{'/bin/luacnn', '/share/lua/5.4/luacnn/init.lua', '/share/lua/5.4/luacnn/nn/init.lua',
                       '/lib/lua/5.4/luacnn/core.so', '/share/luacnn/scripts/lenet.lua',
                       '/share/luacnn/examples/lenet_net.lua', '/share/doc/luacnn/README.md'} do
      assert.is_true(H.exists(prefix .. f), f .. ' was not installed')
    end
    -- a stock Lua 5.4 loads it, C module included
    out, rc = stock_lua(prefix, "local lc = require 'luacnn'; print(lc.ones(2, 2):sum():item(), " ..
                                "package.searchpath('luacnn.core', package.cpath))", tmp)
    assert.equal(0, rc, out)
    has(out, '4.0\t' .. prefix .. '/lib/lua/5.4/luacnn/core.so')
    -- the installed executable uses the installed library, not the source tree's
    out, rc = installed_luacnn(prefix, [[-e "print(package.searchpath('luacnn', package.path))"]], tmp)
    assert.equal(0, rc, out)
    has(out, prefix .. '/share/lua/5.4/luacnn/init.lua')
    out, rc = installed_luacnn(prefix, H.q(prefix .. '/share/luacnn/scripts/lenet.lua') .. ' --summary', tmp)
    assert.equal(0, rc, out)
    has(out, '61,706')
  end)

  it('luarocks make installs luacnn into a stock Lua 5.4 tree', function()
    local build = build_dir()
    if not build then return skip_loudly('no build folder: LUACNN_EXE is not set to build/luacnn') end
    if sanitized(build) then return skip_loudly('sanitizer build: a stock lua5.4 cannot load its module') end
    if not which('luarocks') then
      return skip_loudly('luarocks is not installed (Debian: apt-get install luarocks)')
    end
    if not which('lua5.4') then return skip_loudly('no lua5.4 for the rocks tree') end
    local tree = tmp .. '/tree'
    local rockspec
    for f in io.popen('ls ' .. H.q(H.root) .. '/luacnn-*.rockspec'):lines() do rockspec = f end
    assert.is_not_nil(rockspec, 'no luacnn-*.rockspec in the source tree')
    -- from the source tree, as a user runs it; the build is the tested one (LUACNN_BUILD_DIR)
    local out, rc = H.sh(string.format('cd %s && HOME=%s luarocks --lua-version 5.4 make --tree=%s %s LUACNN_BUILD_DIR=%s',
                                       H.q(H.root), H.q(tmp), H.q(tree), H.q(rockspec), H.q(build)))
    assert.equal(0, rc, out)
    has(out, 'luacnn 0.1.0-1 is now installed in ' .. tree)
    out, rc = H.sh(string.format('HOME=%s luarocks --lua-version 5.4 --tree=%s list', H.q(tmp), H.q(tree)))
    assert.equal(0, rc, out)
    has(out, 'luacnn')
    -- `luarocks path` gives a stock lua5.4 the tree: require 'luacnn' works
    out, rc = H.sh(string.format([[cd %s && eval "$(HOME=%s luarocks --lua-version 5.4 --tree=%s path)" && ]] ..
                                 [[lua5.4 -e "local lc = require 'luacnn'; print(lc.ones(2, 2))"]],
                                 H.q(tmp), H.q(tmp), H.q(tree)))
    assert.equal(0, rc, out)
    has(out, 'tensor([[1., 1.],\n        [1., 1.]])')
    out, rc = installed_luacnn(tree, '--version', tmp)
    assert.equal(0, rc, out)
    assert.matches('^luacnn %d', out)
    out, rc = installed_luacnn(tree, [[-e "print(package.searchpath('luacnn', package.path))"]], tmp)
    assert.equal(0, rc, out)
    has(out, tree .. '/share/lua/5.4/luacnn/init.lua')
  end)
end)
