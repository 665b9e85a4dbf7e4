-- Tensor memory is released when Lua collects the tensors, and the GC is paced by the
-- bytes tensors hold, so loops need no collectgarbage().
local lc = require 'luacnn'

local MB = 1024 * 1024

local function live()
  local cpu, cuda = lc.live_bytes()
  return cpu, cuda
end

local function settle()
  collectgarbage()
  collectgarbage()
  return (live())
end

describe('tensor memory', function()
  it('live_bytes reports cpu and cuda bytes', function()
    local cpu, cuda = live()
    assert.are.equal('integer', math.type(cpu))
    assert.are.equal('integer', math.type(cuda))
    if not lc.cuda.is_available() then assert.are.equal(0, cuda) end
  end)

  it('counts storage bytes and releases them on collection', function()
    local before = settle()
    local t = lc.empty(1000, 250) -- 1 MB of float32
    assert.are.equal(before + 1000000, live())
    local d = lc.zeros(1000, { dtype = 'float64' })
    assert.are.equal(before + 1000000 + 8000, live())
    t, d = nil, nil
    assert.are.equal(before, settle())
  end)

  it('views share storage and keep it alive', function()
    local before = settle()
    local t = lc.zeros(1000, 1000)
    local grown = live() - before
    assert.are.equal(4000000, grown)
    local v = t:t():narrow(1, 1, 10):select(2, 3)
    local e = t[1]:expand(5, 1000)
    assert.are.equal(before + grown, live())
    t = nil
    assert.are.equal(before + grown, settle()) -- v still holds the storage
    v, e = nil, nil
    assert.are.equal(before, settle())
  end)

  it('releases autograd graphs and gradients with their tensors', function()
    local before = settle()
    do
      local w = lc.randn(500, 500, { requires_grad = true })
      local x = lc.randn(500, 500)
      for _ = 1, 3 do
        local y = (w:matmul(x):tanh() * x):sum()
        y:backward()
      end
      assert.is_not_nil(w.grad)
    end
    assert.are.equal(before, settle())
    -- a graph kept alive by its output is freed with it
    local x = lc.randn(1000, 1000, { requires_grad = true })
    local y = (x * 2):exp():sum()
    assert.is_true(live() > before + 8000000) -- saved exp output and x
    x, y = nil, nil
    assert.are.equal(before, settle())
  end)

  it('survives tensors made inside __gc finalizers and errors inside coroutines', function()
    local before = settle()
    local made = 0
    for _ = 1, 10 do
      setmetatable({}, { __gc = function()
        for _ = 1, 40 do -- enough to cross the GC pacing threshold from inside a finalizer
          local t = lc.zeros(262144)
          made = made + 1
        end
      end })
    end
    for _ = 1, 100 do local _ = lc.empty(262144) end
    settle()
    assert.are.equal(400, made)
    local co = coroutine.create(function()
      local x = lc.zeros(3)
      coroutine.yield(x)
      return lc.zeros(2):view(5)
    end)
    assert.is_true((coroutine.resume(co)))
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.is_truthy(err:find('view', 1, true))
    co = nil
    assert.is_false(pcall(function() return lc.zeros(2):view(7) end))
    assert.are.equal(before, settle())
  end)

  it('leaks nothing when an op raises', function()
    local failing = {
      index_read = function(big) return big[{ { 1, 99999 } }] end,
      index_write = function(big) big[1] = lc.zeros(5, 7) end,
      index_write_src = function(big) big[{ {}, 1 }] = lc.zeros(3, 3) end,
      copy = function(big) lc.zeros(3):copy_(big) end,
      fill_leaf = function(big) big:requires_grad_():fill_(1) end,
      write_leaf = function(big) big:requires_grad_()[1] = big[2] end,
      where = function(big) return lc.where(lc.zeros(3):gt(0), big, big) end,
      maximum = function(big) return lc.zeros(3):maximum(big) end,
      cat = function(big) return lc.cat { big, lc.zeros(3) } end,
      cat_many = function(big)
        local list = {}
        for i = 1, 12 do list[i] = big end
        list[12] = lc.zeros(3)
        return lc.cat(list)
      end,
      matmul_batch = function(big) return big:view(2, 500, 1000):matmul(lc.zeros(3, 1000, 2)) end,
      ragged = function() return lc.tensor { { 1, 2 }, { 3 } } end,
    }
    if not lc.cuda.is_available() then -- moving to a missing device fails after the copy began
      failing.to_device = function(big) return big:to('cuda') end
      failing.tensor_device = function(big) return lc.tensor(big, { device = 'cuda' }) end
    end
    for name, f in pairs(failing) do
      local before = settle()
      for _ = 1, 3 do
        local big = lc.zeros(1000, 1000)
        assert.is_false(pcall(f, big), name)
      end
      assert.are.equal(before, settle(), name)
    end
  end)

  it('returns the same Lua object for the same C tensor', function()
    local x = lc.tensor({ 1, 2 }, { requires_grad = true })
    ;(x * 2):sum():backward()
    assert.are.equal(x.grad, x.grad)
    assert.is_true(rawequal(x.grad, x.grad))
  end)

  it('keeps live bytes bounded in a loop of 10,000 1 MB tensors without collectgarbage()', function()
    collectgarbage('restart')
    local before = settle()
    local peak = 0
    for i = 1, 10000 do
      local t = lc.empty(262144) -- 1 MiB
      if i % 8 == 0 then t:fill_(i) end -- touch some of them
      local now = live()
      if now > peak then peak = now end
    end
    -- 10 GB were allocated in total; the pacing collects at a few hundred MB at most
    assert.is_true(peak - before < 256 * MB, string.format('peak %.0f MB', (peak - before) / MB))
    assert.are.equal(before, settle())
  end)

  it('keeps a training-like loop with autograd bounded too', function()
    local before = settle()
    -- 128 KiB tensors: small enough for the kernels to stay on one thread, so the test
    -- is quick even on a loaded machine
    local w = lc.randn(128, 256, { requires_grad = true })
    local x = lc.randn(128, 256)
    local peak = 0
    for _ = 1, 800 do -- each step makes about ten 128 KiB tensors: 1 GB in all
      local loss = ((x * w):relu() - x):square():mean()
      loss:backward()
      lc.no_grad(function() w:sub_(w.grad * 1e-3) end)
      w.grad = nil
      local now = live()
      if now > peak then peak = now end
    end
    assert.is_true(peak - before < 256 * MB, string.format('peak %.0f MB', (peak - before) / MB))
    w, x = nil, nil
    assert.are.equal(before, settle())
  end)
end)
