-- Bad calls raise catchable Lua errors that name the op, what was expected and what was
-- given; junk arguments to any function never crash the process.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

describe('error messages', function()
  local m = lc.zeros(2, 3)

  it('are catchable strings', function()
    local ok, err = pcall(function() return m:matmul(lc.zeros(4, 5)) end)
    assert.is_false(ok)
    assert.are.equal('string', type(err))
  end)

  it('name the shapes that do not fit', function()
    check.raises(function() m:matmul(lc.zeros(4, 5)) end, 'matmul: sizes (2, 3) and (4, 5) do not align (3 vs 4)')
    check.raises(function() lc.zeros(24):view(7, -1) end, 'view: shape (7, -1) is invalid for 24 elements')
    check.raises(function() return lc.zeros(10)[11] end, 'index 11 is out of range for dim 1 of size 10')
    check.raises(function() return lc.zeros(4, 10)[{ 2, 11 }] end, 'index 11 is out of range for dim 2 of size 10')
    check.raises(function() return m + lc.zeros(4) end, 'add: shapes (2, 3) and (4) cannot be broadcast')
    check.raises(function() lc.cat { m, lc.zeros(3, 4) } end, 'cat: tensor 2 has shape (3, 4) but tensor 1 has (2, 3)')
    check.raises(function() m:expand(4, 3) end, 'expand', '(2, 3)', '(4, 3)')
    check.raises(function() m:item() end, 'item', '(2, 3)')
    check.raises(function() m:narrow(2, 3, 2) end, 'narrow', 'dim 2 of size 3')
    check.raises(function() m:copy_(lc.zeros(2)) end, 'copy_', '(2)', '(2, 3)')
  end)

  it('name wrong dtypes', function()
    local i = lc.arange(6):view(2, 3)
    check.raises(function() i:matmul(i:t()) end, 'matmul', 'float', 'int64')
    check.raises(function() i:mean() end, 'mean', 'floating', 'int64')
    check.raises(function() i:std() end, 'std: a floating dtype was expected, got int64')
    check.raises(function() lc.Tensor.std(3) end, 'std', 'tensor', 'number')
    check.raises(function() lc.rand(2, { dtype = 'int64' }) end, 'rand', 'int64')
    check.raises(function() i.requires_grad = true end, 'requires_grad', 'float', 'int64')
    check.raises(function() lc.zeros(2, { dtype = 'complex64' }) end, 'zeros', 'unknown dtype complex64', 'float32')
    check.raises(function() m:to('int32') end, 'to', 'int32')
  end)

  it('say tensor or number, and name what was given', function()
    check.raises(function() return m + 'x' end, 'add', 'tensor or a number', 'string')
    check.raises(function() return m * {} end, 'mul', 'tensor or a number', 'table')
    check.raises(function() return m:matmul(3) end, 'matmul', 'tensor', 'number')
    check.raises(function() return m:maximum('a') end, 'maximum', 'tensor or a number', 'string')
    check.raises(function() return lc.Tensor.sum(5) end, 'sum', 'tensor', 'number')
    check.raises(function() return lc.Tensor.exp('x') end, 'exp', 'tensor', 'string')
    check.raises(function() return lc.where(m:gt(0), m, 'a') end, 'where', 'string')
  end)

  it('name nil arguments', function()
    check.raises(function() return m:add(nil) end, 'add', 'nil')
    check.raises(function() return m:matmul(nil) end, 'matmul', 'nil')
    check.raises(function() return m:copy_(nil) end, 'copy_', 'nil')
    check.raises(function() return m:transpose(1, nil) end, 'transpose', 'nil')
    check.raises(function() return m:narrow(nil, 1, 1) end, 'narrow', 'nil')
    check.raises(function() return m:select(1) end, 'select')
    check.raises(function() return m:unsqueeze() end, 'unsqueeze', 'nil')
    check.raises(function() return lc.Tensor.sum(nil) end, 'sum', 'nil')
    check.raises(function() return lc.stack(nil) end, 'stack')
    check.raises(function() return lc.where(nil, m, m) end, 'where', 'nil')
  end)

  it('explain that dim 0 is invalid because dims are 1-based', function()
    for name, f in pairs {
      sum = function() return m:sum(0) end, transpose = function() return m:transpose(0, 1) end,
      unsqueeze = function() return m:unsqueeze(0) end, size = function() return m:size(0) end,
      narrow = function() return m:narrow(0, 1, 1) end, select = function() return m:select(0, 1) end,
      squeeze = function() return m:squeeze(0) end, cat = function() return lc.cat({ m, m }, 0) end,
      max = function() return m:max(0) end, argmax = function() return m:argmax(0) end,
      flatten = function() return m:flatten(0) end, permute = function() return m:permute(0, 1) end,
    } do
      check.raises(f, name, 'dim 0', '1-based')
    end
  end)

  it('name out-of-range dims and the tensor\'s rank', function()
    check.raises(function() m:transpose(1, 3) end, 'transpose: dim 3 is out of range for a tensor of 2 dimensions')
    check.raises(function() m:sum(-3) end, 'sum: dim -3 is out of range for a tensor of 2 dimensions')
    check.raises(function() m:unsqueeze(4) end, 'unsqueeze', 'out of range')
    check.raises(function() m:size(3) end, 'size', 'out of range')
    check.raises(function() m:select(5, 1) end, 'select', 'out of range')
    check.raises(function() m:max(3) end, 'max', 'out of range')
    check.raises(function() m:sum(1000) end, 'sum', 'out of range')
    check.raises(function() m:sum(math.maxinteger) end, 'sum', 'out of range')
    check.raises(function() lc.stack({ m, m }, 4) end, 'stack', 'out of range')
  end)

  it('name bad options', function()
    check.raises(function() lc.tensor({ 1 }, { dtype = 'half' }) end, 'tensor', 'unknown dtype half')
    check.raises(function() lc.ones(2, { device = 'gpu' }) end, 'ones', 'unknown device gpu')
    check.raises(function() lc.full({ 2 }, 1, { dtype = 3 }) end, 'full', 'unknown dtype 3')
    check.raises(function() m:var(1, { correction = 'x' }) end, 'correction', 'number', 'string')
    check.raises(function() lc.zeros(2, 3, 'x') end, 'zeros', 'options table', 'string')
  end)

  it('are raised for sizes that are too large, not crashes', function()
    check.raises(function() lc.zeros((1 << 62), 4) end, 'too many')
    check.raises(function() lc.arange((1 << 61)) end, 'arange')
    check.raises(function() lc.arange(0, 1 / 0) end, 'arange', 'finite')
    check.raises(function() lc.arange(0 / 0) end, 'arange', 'finite')
    check.raises(function() lc.linspace(0, 1, (1 << 61)) end, 'linspace', 'too many')
    check.raises(function() lc.ones(1):expand((1 << 62), (1 << 62)) end, 'expand', 'too many')
    check.raises(function() lc.zeros(1, 0):expand((1 << 62), 0) end, 'expand', 'too many')
    check.raises(function() lc.zeros(0):view((1 << 62), (1 << 62)) end, 'view', 'too many')
    check.raises(function() lc.ones(3):narrow(1, 2, math.maxinteger) end, 'narrow', 'out of range')
    check.raises(function() lc.ones(3):expand(-1, 3) end, 'expand', '-1')
    check.raises(function() lc.ones(1):expand(-5) end, 'expand', '-5')
    -- a table whose levels share one subtable claims 256^8 = 2^64 elements
    local level = {}
    for i = 1, 256 do level[i] = 1 end
    for _ = 1, 7 do
      local up = {}
      for i = 1, 256 do up[i] = level end
      level = up
    end
    check.raises(function() lc.tensor(level) end, 'tensor', 'too many')
  end)
end)

describe('a layer mistake', function()
  local nn, F, core = lc.nn, lc.F, lc.core
  local function msg(f, ...)
    local ok, err = pcall(f, ...)
    assert.is_false(ok)
    return err
  end

  -- the runtime validates each layer's arguments (runtime/ops_nn.c); the module, the functional
  -- form and the C function report the same mistake in the same words (a module puts its
  -- place in the network in front)
  it('gets one message whichever way the layer is called', function()
    local x, w = lc.rand(1, 1, 8, 8), lc.rand(8, 3, 5, 5)
    local expected = 'conv2d: expected input with 3 channels, got 1 (input shape (1, 1, 8, 8), ' ..
                     'weight (8, 3, 5, 5), groups 1)'
    assert.are.equal(expected, msg(F.conv2d, x, w))
    assert.are.equal(expected, msg(core._F.conv2d, x, w, nil, 1, 1, 0, 0, 1, 1, 1))
    assert.are.equal('net (Conv2d): ' .. expected, msg(function() return nn.Conv2d(3, 8, 5)(x) end))

    local bad = 'conv2d: out_channels 3 must be divisible by groups 2'
    assert.are.equal(bad, msg(nn.Conv2d, 2, 3, 3, {groups = 2}))
    assert.are.equal(bad, msg(F.conv2d, lc.rand(1, 2, 8, 8), lc.rand(3, 1, 3, 3), nil, {groups = 2}))

    local pad = 'max_pool2d: padding (2, 2) must be at most half the kernel size (2, 2)'
    assert.are.equal(pad, msg(nn.MaxPool2d, 2, {padding = 2}))
    assert.are.equal(pad, msg(F.max_pool2d, lc.rand(1, 1, 8, 8), 2, {padding = 2}))

    local size = 'adaptive_avg_pool2d: output_size must be >= 1, got (0, 0)'
    assert.are.equal(size, msg(nn.AdaptiveAvgPool2d, 0))
    assert.are.equal(size, msg(F.adaptive_avg_pool2d, lc.rand(1, 1, 4, 4), 0))

    local lin = nn.Linear(4, 2)
    local features = 'linear: expected input with 4 features in its last dim, got 5 (input shape (3, 5))'
    assert.are.equal('net (Linear): ' .. features, msg(function() return lin(lc.rand(3, 5)) end))
    assert.are.equal(features, msg(F.linear, lc.rand(3, 5), lin.weight, lin.bias))
    assert.are.equal(features, msg(core._F.linear, lc.rand(3, 5), lin.weight, lin.bias))

    local stats = 'batch_norm: running statistics are needed when not training'
    assert.are.equal(stats, msg(F.batch_norm, lc.rand(4, 3), nil, nil, {training = false}))
    assert.are.equal(stats, msg(core._F.batch_norm, lc.rand(4, 3), nil, nil, nil, nil, false))
  end)

  it('names the op, the expected and the given for every layer option', function()
    local x = lc.rand(1, 2, 6, 6)
    check.raises(function() F.conv2d(x, lc.rand(2, 2, 3, 3), nil, {stride = 0}) end,
                 'conv2d: stride must be >= 1, got (0, 0)')
    check.raises(function() F.conv2d(x, lc.rand(2, 2, 2, 2), nil, {padding = 'same'}) end,
                 "conv2d: padding='same' with kernel (2, 2)", 'uneven')
    check.raises(function() F.conv2d(x, lc.rand(3, 2, 3, 3), lc.rand(2)) end,
                 'conv2d: expected a bias of shape (3), got (2)')
    check.raises(function() F.conv2d(x:long(), lc.rand(3, 2, 3, 3)) end,
                 'conv2d: expected a float input, got int64')
    check.raises(function() F.max_pool2d(lc.rand(5, 5), 2) end,
                 'max_pool2d: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape (5, 5)')
    check.raises(function() F.avg_pool2d(x, 3, {divisor_override = -1}) end,
                 'avg_pool2d: divisor_override must be a positive integer, got -1')
    check.raises(function() F.batch_norm(lc.rand(4, 3), lc.zeros(3), nil, {training = true}) end,
                 'batch_norm: give both running_mean and running_var, or neither')
    check.raises(function() F.batch_norm(lc.rand(1, 3), nil, nil, {training = true}) end,
                 'batch_norm: expected more than 1 value per channel when training, got input shape (1, 3)')
    check.raises(function() F.linear(lc.rand(3, 4), lc.rand(2, 4, {dtype = 'float64'})) end,
                 'linear: input is float32 but weight is float64')
  end)

  it('leaves one image (C, H, W) to the runtime, which returns one image', function()
    local img = lc.rand(2, 6, 6)
    assert.are.same({4, 4, 4}, F.conv2d(img, lc.rand(4, 2, 3, 3)):shape())
    assert.are.same({2, 3, 3}, F.max_pool2d(img, 2):shape())
    assert.are.same({2, 3, 3}, F.avg_pool2d(img, 2):shape())
    assert.are.same({2, 1, 1}, F.adaptive_avg_pool2d(img, 1):shape())
    check.raises(function() F.conv2d(img, lc.rand(4, 3, 3, 3)) end,
                 'conv2d: expected input with 3 channels, got 2 (input shape (2, 6, 6)')
  end)
end)

describe('tensors reached again from a __gc finalizer after collection', function()
  it('raise errors instead of crashing', function()
    local results = {}
    do
      -- the tensor is made after the object, so Lua finalizes it first
      local obj = setmetatable({}, { __gc = function(self)
        local t = self.t
        for _, f in ipairs {
          function() return t[1] end, function() return t:sum() end, function() return #t end,
          function() return t + 1 end, function() return -t end, function() t[1] = 0 end,
          function() return t.dtype end, function() return lc.Tensor.exp(t) end,
          function() return lc.cat { t } end,
        } do
          local ok, err = pcall(f)
          results[#results + 1] = { ok, tostring(err) }
        end
      end })
      obj.t = lc.zeros(2)
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(9, #results)
    for _, r in ipairs(results) do
      assert.is_false(r[1])
      assert.is_truthy(r[2]:find('garbage-collected', 1, true) or r[2]:find('tensor', 1, true), r[2])
    end
  end)
end)

describe('junk arguments', function()
  local junk = {
    false, 'nil', 'str', {}, { 1, 2 }, { {} }, { 'a' }, { -1 }, { 1, { 2 } }, 1e300, -1e300, 1 / 0,
    -1 / 0, 0 / 0, math.maxinteger, math.mininteger, -1, 0, 1, 2, 3, 2.5, (1 << 62), -((1 << 62)),
    true, function() end, { dtype = 'int64' }, { keepdim = true }, { dim = 1 }, 'float64', 'cuda', 'cpu',
    { dtype = 'float64', requires_grad = true },
  }
  local function junk_value(k)
    local v = junk[k]
    if v == 'nil' then return nil end
    return v
  end
  local selves = {
    function() return lc.randn(2, 3) end,
    function() return lc.arange(6, { dtype = 'int64' }) end,
    function() return lc.tensor(2.5, { dtype = 'float64' }) end,
    function() return lc.zeros(0, 3) end,
    function() return lc.ones(2, 3, { requires_grad = true }) end,
    function() return lc.randn(3, 4):t() end,
    function() return lc.tensor({ 1, 2 }, { dtype = 'uint8' }) end,
  }
  -- every call must return or raise a Lua error; a crash kills the whole run
  local function survive(fn, ...)
    local n = select('#', ...)
    local args = { ... }
    local ok, err = pcall(function() return fn(table.unpack(args, 1, n)) end)
    if not ok then assert(type(err) == 'string' or type(err) == 'table', 'error is ' .. type(err)) end
    assert(lc.is_grad_enabled(), 'grad mode left off')
  end

  local methods = {}
  for name, fn in pairs(lc.Tensor) do
    if type(fn) == 'function' then methods[#methods + 1] = name end
  end
  table.sort(methods)

  it('to every tensor method never crash the process', function()
    local calls = 0
    for _, name in ipairs(methods) do
      local fn = lc.Tensor[name]
      for _, make in ipairs(selves) do
        survive(fn, make())
        for a = 1, #junk do
          survive(fn, make(), junk_value(a))
          survive(fn, junk_value(a))
          for b = 1, #junk, 3 do
            survive(fn, make(), junk_value(a), junk_value(b))
            survive(fn, make(), junk_value(b), junk_value(a), junk_value(a))
            calls = calls + 2
          end
          survive(fn, make(), make())
          survive(fn, make(), lc.randn(5), junk_value(a))
        end
      end
    end
    assert.is_true(calls > 10000)
  end)

  it('to module functions never crash the process', function()
    local names = {}
    for name, fn in pairs(lc) do
      -- (save writes files: with the path first or last, save({}, 'str') makes a file 'str')
      if type(fn) == 'function' and name ~= 'set_grad_enabled' and name ~= 'no_grad' and
         name ~= 'enable_grad' and name ~= 'save' then
        names[#names + 1] = name
      end
    end
    table.sort(names)
    local seed, offset = lc.get_rng_state()
    for _, name in ipairs(names) do
      local fn = lc[name]
      survive(fn)
      for a = 1, #junk do
        survive(fn, junk_value(a))
        for b = 1, #junk, 2 do
          survive(fn, junk_value(a), junk_value(b))
          survive(fn, junk_value(b), junk_value(a), { junk_value(a) })
          survive(fn, { lc.randn(2), junk_value(b) }, junk_value(a))
        end
      end
    end
    lc.set_rng_state(seed, offset)
    for a = 1, #junk do
      local ok = pcall(lc.no_grad, junk_value(a))
      assert.are.equal(type(junk_value(a)) == 'function', ok)
      assert.is_true(lc.is_grad_enabled())
      lc.set_grad_enabled(junk_value(a))
      lc.set_grad_enabled(true)
    end
  end)

  it('to metamethods and index tables never crash the process', function()
    local t = lc.randn(3, 4)
    for a = 1, #junk do
      local v = junk_value(a)
      survive(function() return t[v] end)
      survive(function() return t[{ v }] end)
      survive(function() return t[{ {}, v }] end)
      survive(function() return t[{ { v } }] end)
      survive(function() return t[{ { 1, v } }] end)
      survive(function() t[v] = 1 end)
      survive(function() t[{ {}, v }] = v end)
      survive(function() t[1] = v end)
      survive(function() return t + v end)
      survive(function() return v - t end)
      survive(function() return t * v end)
      survive(function() return v / t end)
      survive(function() return t ^ v end)
      survive(function() return v ^ t end)
      survive(function() return t .. v end)
      survive(function() return t < v end)
      survive(function() return t[v] and #t end)
      survive(function() t.grad = v end)
      survive(function() t.requires_grad = v end)
      survive(function() t.dtype = v end)
    end
    -- the metamethods themselves, called with anything as self
    local mt = getmetatable(t)
    for name, fn in pairs(mt) do
      if type(fn) == 'function' and name ~= '__gc' then
        for a = 1, #junk do
          survive(fn, junk_value(a), junk_value(a))
          survive(fn, junk_value(a), 1, 2)
          survive(fn, t, junk_value(a))
        end
      end
    end
    survive(mt.__gc, 'x')
    -- still a working tensor afterwards
    local x = lc.tensor({ 1, 2, 3 }, { requires_grad = true })
    ;(x * x):sum():backward()
    assert.are.same({ 2, 4, 6 }, x.grad:totable())
  end)
end)
