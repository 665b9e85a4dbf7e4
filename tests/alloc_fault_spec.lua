-- An error raised after an op has allocated leaks nothing. core._fail_alloc_after(k) makes
-- the allocation after k more (storages and tensor headers) fail as out-of-memory would; each
-- op below is run with the fault at each of its allocation points in turn, and after every
-- failure the error must be a clean Lua string and the tensor bytes and headers alive must be
-- back where they were (the run under build-asan also checks the autograd nodes and the rest
-- with LeakSanitizer at exit).
local lc = require 'luacnn'
local core = lc.core
local F = lc.nn.functional

local function settle()
  collectgarbage(); collectgarbage()
  return (lc.live_bytes()), core._live_tensors()
end

-- Runs fn with a fault at allocation 0, 1, 2, ... until it gets through; returns how many
-- allocation points failed cleanly.
local function faults_leak_nothing(name, fn, cleanup)
  cleanup = cleanup or function() end
  fn(); cleanup()                        -- warm up caches the op keeps on purpose
  local bytes0, tensors0 = settle()
  local points = 0
  for k = 0, 2000 do
    core._fail_alloc_after(k)
    local ok, err = pcall(fn)
    core._fail_alloc_after(-1)
    cleanup()                            -- gradients a leaf got before the fault are its own
    if ok then break end
    points = points + 1
    assert(type(err) == 'string' and err:find('out of memory (injected fault)', 1, true),
           name .. ' at allocation ' .. k .. ': unexpected error ' .. tostring(err))
    local bytes, tensors = settle()
    if bytes ~= bytes0 or tensors ~= tensors0 then
      error(string.format('%s: a fault at allocation %d leaked %d bytes and %d tensors', name, k,
                          bytes - bytes0, tensors - tensors0), 0)
    end
  end
  local bytes, tensors = settle()
  assert.are.equal(bytes0, bytes, name .. ': the run without a fault leaked bytes')
  assert.are.equal(tensors0, tensors, name .. ': the run without a fault leaked tensors')
  assert.is_true(points > 0, name .. ': no allocation point was reached')
  return points
end

describe('allocation faults', function()
  lc.manual_seed(0)
  local x = lc.randn(2, 3, 8, 8)
  local xt = lc.randn(2, 8, 8, 3):permute(1, 4, 2, 3)   -- not contiguous: conv copies it
  local w = lc.randn(4, 3, 3, 3, {requires_grad = true})
  local b = lc.randn(4, {requires_grad = true})
  local total = 0

  local cases = {
    {'conv2d', function() return F.conv2d(x, w, b, {padding = 1}) end},
    {'conv2d of a non-contiguous input', function() return F.conv2d(xt, w, b, {stride = 2}) end},
    {'conv2d forward and backward', function()
      local y = F.conv2d(xt, w, b, {padding = 1})
      y:sum():backward()
    end, function() w.grad = nil; b.grad = nil end},
    {'matmul', function() return lc.randn(5, 7):matmul(lc.randn(7, 3)) end},
    {'broadcast add and mul', function() return (lc.randn(4, 1) + lc.randn(1, 5)) * 2 end},
    {'linear + relu', function()
      return F.linear(lc.randn(6, 4), lc.randn(3, 4, {requires_grad = true}), lc.randn(3)):relu()
    end},
    {'cross_entropy with backward', function()
      local logits = lc.randn(5, 4, {requires_grad = true})
      local loss = F.cross_entropy(logits, lc.tensor({1, 2, 3, 4, 1}, {dtype = 'int64'}))
      loss:backward()
    end},
    {'max_pool2d', function() return F.max_pool2d(xt, 2) end},
    {'batch_norm (training)', function()
      return F.batch_norm(x, lc.zeros(3), lc.ones(3), lc.ones(3), lc.zeros(3), true, 0.1, 1e-5)
    end},
    {'softmax and sum over a dim', function() return F.softmax(x, 2):sum(3) end},
    {'cat and index_select', function()
      return lc.cat({x, xt}, 1):index_select(1, lc.tensor({1, 3}, {dtype = 'int64'}))
    end},
    {'SGD step with momentum', function()
      local net = lc.nn.Linear(4, 2)
      local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
      net(lc.randn(3, 4)):sum():backward()
      opt:step()
    end},
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ' leaks nothing when an allocation fails at any point', function()
      local n = faults_leak_nothing(c[1], c[2], c[3])
      total = total + n
    end)
  end

  it('LUACNN_FAIL_ALLOC_AFTER sets the same switch from the environment', function()
    local exe = os.getenv('LUACNN_EXE')
    if not exe then
      print('SKIPPED: LUACNN_EXE is not set (run under ctest)')
      return
    end
    local p = io.popen('LUACNN_FAIL_ALLOC_AFTER=3 ' .. exe ..
      [[ -e "local lc = require 'luacnn'; local ok, e = pcall(function() for i = 1, 10 do lc.zeros(2) end end); print(ok, e)" 2>&1]])
    local out = p:read('a'); p:close()
    assert.matches('false%s+out of memory %(injected fault%)', out)
  end)

  teardown(function() print(string.format('# %d allocation points faulted, all clean and leak-free', total)) end)
end)
