-- valgrind memcheck on a short LeNet training run (2 epochs of 256 Fashion-MNIST images, a
-- checkpoint saved and loaded, an op failing after it allocated): no memory errors and no
-- definite, indirect or possible leaks. About a minute; skipped loudly without valgrind,
-- the data, or in the ASan tree (a sanitized binary cannot run under valgrind).
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local run = require 'luacnn.run'

local SCRIPT = [[
local lc = require 'luacnn'
local nn = lc.nn
lc.manual_seed(0)
local train_iter = lc.data.fashion_mnist{batch_size = 64, subset = {train = 256, test = 64}}
local net = nn.Sequential{
  nn.Reshape(-1, 1, 28, 28),
  nn.Conv2d(1, 6, 5, {padding = 2}), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
  nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
  nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10),
}
local opt = lc.optim.SGD(net:parameters(), {lr = 0.9})
for epoch = 1, 2 do
  for X, y in train_iter do
    opt:zero_grad()
    nn.functional.cross_entropy(net(X), y):backward()
    opt:step()
  end
end
local path = arg[1]
lc.io.save_checkpoint(path, {model = net, optimizer = opt, extra = {epoch = 2}})
lc.io.load_checkpoint(path, {model = net, optimizer = opt})
lc.core._fail_alloc_after(3)
assert(not pcall(function() return nn.functional.conv2d(lc.randn(2, 1, 8, 8), lc.randn(3, 1, 3, 3)) end))
lc.core._fail_alloc_after(-1)
print('trained')
]]

describe('valgrind memcheck', function()
  it('finds no memory errors and no leaks in a short LeNet training run', function()
    local exe = os.getenv('LUACNN_EXE')
    local data = os.getenv('LUACNN_DATA') or (H.root .. '/../shared/data')
    if os.getenv('ASAN_OPTIONS') then print('SKIPPED: valgrind_spec does not run in the ASan tree') return end
    if not exe or os.execute('command -v valgrind >/dev/null') ~= true then
      print('SKIPPED: valgrind_spec needs valgrind and LUACNN_EXE (ctest)') return
    end
    if not H.exists(data .. '/fashion-mnist/train-images-idx3-ubyte.gz') then
      print('SKIPPED: valgrind_spec needs Fashion-MNIST at ' .. data) return
    end
    local dir = os.tmpname()
    os.remove(dir)
    assert(run.mkdir(dir))
    local f = assert(io.open(dir .. '/train.lua', 'w')); f:write(SCRIPT); f:close()
    local q = run.shell_quote
    -- passive OpenMP workers: under valgrind's one-thread-at-a-time scheduler spinning only burns time
    -- OPENBLAS_CORETYPE dropped: valgrind 3.19 cannot execute AVX-512, so a kernel forced from
    -- outside (SkylakeX) dies of SIGILL under it; left alone, OpenBLAS picks what valgrind's
    -- virtual CPU reports
    local p = io.popen('env -u OPENBLAS_CORETYPE OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 LUACNN_DATA=' .. q(data) ..
                       ' valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect,possible ' ..
                       '--suppressions=' .. q(H.root .. '/tests/valgrind.supp') .. ' ' ..
                       '--error-exitcode=9 ' .. q(exe) .. ' ' .. q(dir .. '/train.lua') .. ' ' ..
                       q(dir .. '/ck.safetensors') .. ' 2>&1')
    local out = p:read('a')
    local ok = p:close()
    os.execute('rm -rf ' .. q(dir))
    assert.matches('trained', out)
    assert.matches('ERROR SUMMARY: 0 errors', out)
    assert.is_true(ok, out)
    for _, kind in ipairs{'definitely lost', 'indirectly lost', 'possibly lost'} do
      local n = out:match(kind .. ': ([%d,]+) bytes')
      assert.is_true(n == nil or n == '0', kind .. ': ' .. tostring(n))
    end
    print('# valgrind: ' .. (out:match('total heap usage: ([^\n]+)') or '?') .. '; ' ..
          (out:match('still reachable: ([^\n]+)') or 'nothing still reachable'))
  end)
end)
