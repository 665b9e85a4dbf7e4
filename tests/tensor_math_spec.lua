-- Elementwise math, promotion, comparisons, reductions and matmul, checked against values
-- computed independently in plain Lua.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

math.randomseed(20240601)

-- ---- plain-Lua reference machinery ----

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

-- Random nested table of the shape, values in [lo, hi).
local function rnd(shape, lo, hi)
  lo, hi = lo or -2, hi or 2
  if #shape == 0 then return lo + (hi - lo) * math.random() end
  return check.build(shape, function() return lo + (hi - lo) * math.random() end)
end

local function get(data, idx)
  local v = data
  for _, i in ipairs(idx) do v = v[i] end
  return v
end

-- Elementwise fn over nested tables a (shape sa) and b (shape sb), NumPy broadcasting.
local function broadcast(a, sa, b, sb, fn)
  local nd = math.max(#sa, #sb)
  local out = {}
  for i = 1, nd do
    local x, y = sa[#sa - nd + i] or 1, sb[#sb - nd + i] or 1
    assert(x == y or x == 1 or y == 1)
    out[i] = math.max(x, y)
    if x == 0 or y == 0 then out[i] = 0 end
  end
  local function pick(data, s, idx)
    local sub = {}
    for i = 1, #s do
      local k = idx[nd - #s + i]
      sub[i] = s[i] == 1 and 1 or k
    end
    return get(data, sub)
  end
  local function level(d, idx)
    if d > nd then return fn(pick(a, sa, idx), pick(b, sb, idx)) end
    local t = {}
    for i = 1, out[d] do
      idx[d] = i
      t[i] = level(d + 1, idx)
    end
    idx[d] = nil
    return t
  end
  return level(1, {}), out
end

local function map(data, fn)
  if type(data) ~= 'table' then return fn(data) end
  local t = {}
  for i, v in ipairs(data) do t[i] = map(v, fn) end
  return t
end

local function T(data, dtype) return lc.tensor(data, { dtype = dtype or 'float64' }) end

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end
local function sign(x) return x > 0 and 1 or x < 0 and -1 or 0 end

-- ---- elementwise ----

describe('unary ops', function()
  local cases = {
    { 'neg', function(x) return -x end },
    { 'exp', math.exp },
    { 'log', math.log, 0.1, 5 },
    { 'sqrt', math.sqrt, 0, 5 },
    { 'abs', math.abs },
    { 'sigmoid', sigmoid, -30, 30 },
    { 'tanh', function(x) return (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end, -5, 5 },
    { 'relu', function(x) return math.max(x, 0) end },
    { 'sign', sign },
    { 'reciprocal', function(x) return 1 / x end, 0.5, 3 },
  }
  for _, case in ipairs(cases) do
    local name, fn, lo, hi = case[1], case[2], case[3], case[4]
    it(name .. ' matches plain Lua in float64 and float32, contiguous or not', function()
      local data = rnd({ 3, 4 }, lo, hi)
      local expected = map(data, fn)
      check.close(T(data)[name](T(data)), expected, 1e-12, name)
      check.close(T(data, 'float32')[name](T(data, 'float32')), expected, 2e-6, name .. ' float32')
      local t = T(data):t() -- non-contiguous input
      check.close(t[name](t):t(), expected, 1e-12, name .. ' transposed')
      check.close(lc[name](T(data)), expected, 1e-12, 'lc.' .. name)
    end)
  end

  it('sigmoid is finite and exact at the extremes', function()
    local s = lc.tensor({ -1000, 1000, 0 }, { dtype = 'float64' }):sigmoid():totable()
    assert.are.same({ 0, 1, 0.5 }, s)
  end)

  it('unary minus, square and the methods neg/pow agree', function()
    local data = rnd { 5 }
    check.close(-T(data), map(data, function(x) return -x end), 0)
    check.close(T(data):square(), map(data, function(x) return x * x end), 1e-15)
  end)

  it('clamp limits to [min, max], either bound optional', function()
    local data = { -3, -1, 0, 0.5, 2, 7 }
    assert.are.same({ -1, -1, 0, 0.5, 2, 2 }, T(data):clamp(-1, 2):totable())
    assert.are.same({ 0, 0, 0, 0.5, 2, 7 }, T(data):clamp(0):totable())
    assert.are.same({ -3, -1, 0, 0.5, 1, 1 }, T(data):clamp(nil, 1):totable())
    check.raises(function() T(data):clamp() end, 'clamp')
  end)
end)

describe('binary ops', function()
  local ops = {
    { '+', function(a, b) return a + b end, function(a, b) return a + b end, 'add' },
    { '-', function(a, b) return a - b end, function(a, b) return a - b end, 'sub' },
    { '*', function(a, b) return a * b end, function(a, b) return a * b end, 'mul' },
    { '/', function(a, b) return a / b end, function(a, b) return a / b end, 'div' },
    { '^', function(a, b) return a ^ b end, function(a, b) return a ^ b end, 'pow' },
    { 'maximum', function(a, b) return a:maximum(b) end, math.max },
    { 'minimum', function(a, b) return a:minimum(b) end, math.min },
  }
  local shapes = {
    { { 2, 3 }, { 2, 3 } }, { { 2, 3 }, { 3 } }, { { 3 }, { 2, 3 } }, { { 2, 1 }, { 1, 3 } },
    { { 4, 1, 3 }, { 2, 1 } }, { {}, { 2, 3 } }, { { 2, 3 }, {} }, { { 1 }, { 5 } },
    { { 2, 0 }, { 1 } },
  }
  for _, op in ipairs(ops) do
    local name, tensor_fn, lua_fn, method = op[1], op[2], op[3], op[4]
    it(name .. ' broadcasts like NumPy', function()
      for _, s in ipairs(shapes) do
        local positive = name == '^' or name == '/'
        local a, b = rnd(s[1], positive and 0.5 or -2, 2), rnd(s[2], positive and 0.5 or -2, 2)
        local expected, out_shape = broadcast(a, s[1], b, s[2], lua_fn)
        local got = tensor_fn(T(a), T(b))
        assert.are.same(out_shape, got:size())
        if numel(out_shape) > 0 then check.close(got, expected, 1e-12, name) end
        if method then check.close(T(a)[method](T(a), T(b)), got, 0, name .. ' method') end
      end
    end)
  end

  it('broadcasting errors name the op and both shapes', function()
    check.raises(function() return lc.zeros(2, 3) + lc.zeros(4) end,
                 'add', '(2, 3)', '(4)', 'cannot be broadcast')
    check.raises(function() return lc.zeros(2, 3) * lc.zeros(3, 2) end, 'mul', '(2, 3)', '(3, 2)')
  end)

  it('takes Lua numbers on either side', function()
    local data = rnd({ 2, 3 }, 0.5, 2)
    local t = T(data)
    local function f(fn) return map(data, fn) end
    check.close(t + 2, f(function(x) return x + 2 end), 1e-15)
    check.close(2 + t, f(function(x) return 2 + x end), 1e-15)
    check.close(t - 2, f(function(x) return x - 2 end), 1e-15)
    check.close(2 - t, f(function(x) return 2 - x end), 1e-15)
    check.close(t * 3, f(function(x) return x * 3 end), 1e-15)
    check.close(3 * t, f(function(x) return 3 * x end), 1e-15)
    check.close(t / 4, f(function(x) return x / 4 end), 1e-15)
    check.close(4 / t, f(function(x) return 4 / x end), 1e-15)
    check.close(t ^ 3, f(function(x) return x ^ 3 end), 1e-14)
    check.close(t ^ 0.5, f(function(x) return x ^ 0.5 end), 1e-14)
    check.close(2 ^ t, f(function(x) return 2 ^ x end), 1e-14)
    check.close(t:add(1.5), f(function(x) return x + 1.5 end), 1e-15)
    check.close(t:sub(1.5), f(function(x) return x - 1.5 end), 1e-15)
    check.close(t:mul(-2), f(function(x) return -2 * x end), 1e-15)
    check.close(t:div(8), f(function(x) return x / 8 end), 1e-15)
    check.close(t:pow(2), f(function(x) return x * x end), 1e-15)
    check.close(t:maximum(1), f(function(x) return math.max(x, 1) end), 0)
    check.close(t:minimum(1), f(function(x) return math.min(x, 1) end), 0)
  end)

  it('rejects what is neither a tensor nor a number', function()
    check.raises(function() return lc.zeros(2) + 'a' end, 'add', 'tensor or a number', 'string')
    check.raises(function() return {} * lc.zeros(2) end, 'mul', 'tensor or a number', 'table')
    check.raises(function() return lc.zeros(2):add(nil) end, 'add', 'nil')
    check.raises(function() return lc.zeros(2) < lc.zeros(2) end, 'lt')
  end)
end)

describe('dtype promotion (PyTorch rules)', function()
  local i64, f32, f64, u8 = lc.arange(3), lc.ones(3), lc.ones(3, { dtype = 'float64' }),
                            lc.ones(3, { dtype = 'uint8' })
  it('tensor with tensor: floats win, the wider float wins', function()
    assert.are.equal('int64', (i64 + i64).dtype)
    assert.are.equal('float32', (i64 + f32).dtype)
    assert.are.equal('float32', (f32 * i64).dtype)
    assert.are.equal('float64', (f32 + f64).dtype)
    assert.are.equal('float64', (i64 - f64).dtype)
    assert.are.equal('int64', (u8 + i64).dtype)
    assert.are.equal('uint8', (u8 + u8).dtype)
  end)

  it('a 0-dim tensor does not widen a dimensioned one of its kind, as in PyTorch', function()
    local f64_scalar, f32_scalar = lc.tensor(2, { dtype = 'float64' }), lc.tensor(0.5)
    assert.are.equal('float32', (f32 + f64_scalar).dtype)
    assert.are.equal('float32', (f64_scalar * f32).dtype)
    assert.are.equal('float32', (i64 + f32_scalar).dtype)   -- a float scalar makes ints float
    assert.are.equal('int64', (i64 + lc.tensor(2, { dtype = 'int64' })).dtype)
    assert.are.equal('float64', (lc.tensor(1) + f64_scalar).dtype) -- both 0-dim: the wider wins
    assert.are.same({ 1.5, 1.5, 1.5 }, (f32 + lc.tensor(0.5, { dtype = 'float64' })):totable())
  end)

  it('uint8 with an integer number stays uint8 and wraps, as in PyTorch', function()
    local u = lc.tensor({ 0, 200, 255 }, { dtype = 'uint8' })
    assert.are.equal('uint8', (u + 1).dtype)
    assert.are.same({ 100, 44, 99 }, (u + 100):totable())
    assert.are.same({ 255, 199, 254 }, (u - 1):totable())
    assert.are.same({ 0, 144, 254 }, (u * 2):totable())
    assert.are.equal('float32', (u + 0.5).dtype)
  end)

  it('true division of integers gives floats', function()
    local q = lc.tensor({ 7, -7, 1 }, { dtype = 'int64' }) / lc.tensor({ 2, 2, 3 }, { dtype = 'int64' })
    assert.are.equal('float32', q.dtype)
    check.close(q, { 3.5, -3.5, 1 / 3 }, 1e-7)
    local h = lc.tensor({ 7, 1 }, { dtype = 'int64' }) / 2
    assert.are.equal('float32', h.dtype)
    assert.are.same({ 3.5, 0.5 }, h:totable())
    assert.are.equal('float32', (1 / lc.tensor({ 2 }, { dtype = 'int64' })).dtype)
  end)

  it('tensor with Lua number: the number does not widen a float tensor', function()
    assert.are.equal('float32', (f32 + 2).dtype)
    assert.are.equal('float32', (f32 * 2.5).dtype)
    assert.are.equal('float64', (f64 + 2).dtype)
    assert.are.equal('int64', (i64 + 2).dtype)
    assert.are.equal('int64', (i64 * 3).dtype)
    assert.are.equal('int64', (2 - i64).dtype)
    assert.are.equal('int64', (i64 ^ 2).dtype)
  end)

  it('a Lua float (2.0 as well as 2.5) makes an integer tensor float', function()
    assert.are.equal('float32', (i64 + 2.5).dtype)
    assert.are.same({ 2.5, 3.5, 4.5 }, (i64 + 2.5):totable())
    assert.are.equal('float32', (i64 * 0.5).dtype)
    assert.are.equal('float32', (i64 + 2.0).dtype)
    assert.are.equal('float32', (i64 * 2.0).dtype)
    assert.are.equal('float32', (2.0 - i64).dtype)
    assert.are.equal('float32', (i64 ^ 0.5).dtype)
    assert.are.equal('float32', i64:add(1.0).dtype)
  end)

  it('float-valued unary ops send integers to float32; sign-like ones keep them', function()
    for _, name in ipairs { 'exp', 'log', 'sqrt', 'sigmoid', 'tanh', 'reciprocal' } do
      assert.are.equal('float32', i64[name](i64).dtype, name)
    end
    for _, name in ipairs { 'neg', 'abs', 'relu', 'sign' } do
      assert.are.equal('int64', i64[name](i64).dtype, name)
    end
    assert.are.same({ 0, -1, -2 }, (-i64):totable())
    assert.are.equal('int64', i64:clamp(1, 2).dtype)
    assert.are.equal('int64', i64:clamp(1).dtype)
    assert.are.equal('int64', i64:clamp(nil, 1).dtype)
    assert.are.same({ 1, 1, 2 }, i64:clamp(1):totable())
    assert.are.equal('float32', i64:clamp(0.5, 1.5).dtype)
  end)
end)

describe('comparisons', function()
  local a = lc.tensor { { 1, 5, 3 }, { 4, 2, 6 } }
  local b = lc.tensor { 3, 2, 3 }
  it('compare elementwise with broadcasting, giving uint8', function()
    local cases = {
      gt = { { 0, 1, 0 }, { 1, 0, 1 } }, lt = { { 1, 0, 0 }, { 0, 0, 0 } },
      ge = { { 0, 1, 1 }, { 1, 1, 1 } }, le = { { 1, 0, 1 }, { 0, 1, 0 } },
      eq = { { 0, 0, 1 }, { 0, 1, 0 } }, ne = { { 1, 1, 0 }, { 1, 0, 1 } },
    }
    for name, expected in pairs(cases) do
      local r = a[name](a, b)
      assert.are.equal('uint8', r.dtype, name)
      assert.are.same(expected, r:totable(), name)
      assert.are.same(expected, lc[name](a, b):totable(), name)
    end
  end)

  it('compare with numbers, and across dtypes', function()
    assert.are.same({ { 0, 1, 0 }, { 1, 0, 1 } }, a:gt(3):totable())
    assert.are.same({ { 1, 0, 1 }, { 0, 1, 0 } }, a:le(3):totable())
    assert.are.same({ { 0, 0, 1 }, { 0, 0, 0 } }, a:eq(3):totable())
    assert.are.same({ 0, 1, 1 }, lc.arange(3):gt(0.5):totable())
    assert.are.same({ 1, 0, 0 }, lc.arange(3):lt(lc.tensor { 0.5, 0.5, 0.5 }):totable())
    assert.are.same({ 1, 0 }, lc.tensor { 0 / 0, 1 }:ne(lc.tensor { 0 / 0, 1 }):totable())
  end)
end)

describe('where', function()
  it('picks from a where cond holds, else from b, with broadcasting', function()
    local cond = lc.tensor { { 1, 0, 1 }, { 0, 0, 1 } }:gt(0)
    local a, b = lc.tensor { { 1, 2, 3 }, { 4, 5, 6 } }, lc.tensor { -1, -2, -3 }
    assert.are.same({ { 1, -2, 3 }, { -1, -2, 6 } }, lc.where(cond, a, b):totable())
    assert.are.same({ { 1, 0, 3 }, { 0, 0, 6 } }, lc.where(cond, a, 0):totable())
    assert.are.same({ { 9, -2, 9 }, { -1, -2, 9 } }, lc.where(cond, 9, b):totable())
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, lc.where(lc.tensor { 1 }:gt(0), a, b):totable())
    -- a non-uint8 condition counts nonzero as true
    assert.are.same({ 1, -2 }, lc.where(lc.tensor { 0.5, 0 }, lc.tensor { 1, 2 }, lc.tensor { -1, -2 }):totable())
    assert.are.equal('float64', lc.where(cond, a, lc.zeros(3, { dtype = 'float64' })).dtype)
    check.raises(function() lc.where(cond, a, lc.zeros(4)) end, 'where', 'broadcast')
    check.raises(function() lc.where(cond, a) end, 'where', 'nil')
  end)
end)

-- ---- reductions ----

-- Reference reductions over nested tables of shape (2, 3, 4): reduce the dims in `dims`
-- (a set), returning the kept-shape nested table (keepdim) as a flat list + shape.
local function reduce_ref(data, shape, dims, init, step, finish)
  local groups, order = {}, {}
  local function walk(d, idx)
    if d > #shape then
      local key = {}
      for i = 1, #shape do key[i] = dims[i] and 1 or idx[i] end
      local k = table.concat(key, ',')
      if not groups[k] then
        groups[k] = { acc = init, n = 0, values = {} }
        order[#order + 1] = k
      end
      local g = groups[k]
      local v = get(data, idx)
      g.acc = step(g.acc, v)
      g.n = g.n + 1
      g.values[#g.values + 1] = v
      return
    end
    for i = 1, shape[d] do
      idx[d] = i
      walk(d + 1, idx)
    end
    idx[d] = nil
  end
  walk(1, {})
  table.sort(order, function(x, y)
    local a, b = {}, {}
    for n in x:gmatch('%d+') do a[#a + 1] = tonumber(n) end
    for n in y:gmatch('%d+') do b[#b + 1] = tonumber(n) end
    for i = 1, #a do if a[i] ~= b[i] then return a[i] < b[i] end end
    return false
  end)
  local out = {}
  for i, k in ipairs(order) do out[i] = finish(groups[k]) end
  return out
end

local function ref_sum(g) return g.acc end
local function ref_mean(g) return g.acc / g.n end
local function ref_var(correction)
  return function(g)
    local m = g.acc / g.n
    local s = 0
    for _, v in ipairs(g.values) do s = s + (v - m) ^ 2 end
    return s / (g.n - correction)
  end
end
local function add(a, b) return a + b end
local function mul(a, b) return a * b end

describe('reductions', function()
  local shape = { 2, 3, 4 }
  local data = rnd(shape, 0.5, 1.5)
  local x = T(data)
  local dim_sets = { {}, { 1 }, { 2 }, { 3 }, { 1, 3 }, { 2, 3 }, { 1, 2, 3 }, { -1 }, { -3, -2 } }

  local function kept_shape(dims, keepdim)
    local s = {}
    for d = 1, #shape do
      if dims[d] then
        if keepdim then s[#s + 1] = 1 end
      else
        s[#s + 1] = shape[d]
      end
    end
    return s
  end

  local reductions = {
    sum = { 0, add, ref_sum }, mean = { 0, add, ref_mean }, prod = { 1, mul, ref_sum },
    var = { 0, add, ref_var(1) }, std = { 0, add, function(g) return math.sqrt(ref_var(1)(g)) end },
  }
  for name, r in pairs(reductions) do
    it(name .. ' over all or some dims, keepdim or not', function()
      for _, list in ipairs(dim_sets) do
        local set = {}
        for _, d in ipairs(list) do set[d < 0 and #shape + d + 1 or d] = true end
        local all = #list == 0
        if all then set = { true, true, true } end
        local expected = reduce_ref(data, shape, set, r[1], r[2], r[3])
        for _, keepdim in ipairs { false, true } do
          local got
          if all then got = keepdim and x[name](x, { keepdim = true }) or x[name](x)
          elseif #list == 1 then got = x[name](x, list[1], keepdim)
          else got = x[name](x, list, { keepdim = keepdim }) end
          assert.are.same(kept_shape(set, keepdim), got:size(), name)
          check.close(got:contiguous():view(-1), expected, 1e-12, name .. ' dims {' .. table.concat(list, ',') .. '}')
        end
      end
    end)
  end

  it('var and std are unbiased by default, biased on request', function()
    local v = T { 1, 2, 3, 4 }
    assert.is_true(math.abs(v:var():item() - 5 / 3) < 1e-12)
    assert.is_true(math.abs(v:var(nil, { unbiased = false }):item() - 1.25) < 1e-12)
    assert.is_true(math.abs(v:var(1, { unbiased = false }):item() - 1.25) < 1e-12)
    assert.is_true(math.abs(v:std():item() - math.sqrt(5 / 3)) < 1e-12)
    assert.is_true(math.abs(v:std(1, { unbiased = false }):item() - math.sqrt(1.25)) < 1e-12)
    assert.is_true(math.abs(v:var(1, { correction = 0 }):item() - 1.25) < 1e-12)
  end)

  it('sums integers into int64 and reduces empty tensors to the identity', function()
    local i = lc.tensor({ { 1, 2 }, { 3, 4 } }, { dtype = 'int64' })
    assert.are.equal('int64', i:sum().dtype)
    assert.are.equal(10, i:sum():item())
    assert.are.same({ 4, 6 }, i:sum(1):totable())
    assert.are.equal(24, i:prod():item())
    local u = lc.full({ 300 }, 200, { dtype = 'uint8' })
    assert.are.equal('int64', u:sum().dtype)
    assert.are.equal(60000, u:sum():item())
    assert.are.equal(0, lc.zeros(0):sum():item())
    assert.are.equal(1, lc.zeros(0):prod():item())
    assert.are.same({ 0, 0, 0 }, lc.zeros(0, 3):sum(1):totable())
    check.raises(function() i:mean() end, 'mean', 'int64')
    check.raises(function() i:var() end, 'var', 'int64')
  end)

  it('sums float32 accurately', function()
    local n = 1000000
    local s = lc.full({ n }, 0.1):sum():item()
    assert.is_true(math.abs(s - n * 0.1) < 1, tostring(s))
  end)

  it('reduces non-contiguous and expanded tensors', function()
    local t = x:permute(3, 1, 2)
    check.close(t:sum(1), x:sum(3), 1e-12)
    check.close(t:mean({ 2, 3 }), x:mean({ 1, 2 }), 1e-12)
    local e = T { 1, 2, 3 }:expand(4, 3)
    assert.are.same({ 4, 8, 12 }, e:sum(1):totable())
    assert.are.equal(24, e:sum():item())
  end)

  it('max and min over everything return a 0-dim tensor', function()
    local flat = check.flatten(data)
    local mx, mn = -math.huge, math.huge
    for _, v in ipairs(flat) do mx, mn = math.max(mx, v), math.min(mn, v) end
    assert.are.equal(0, x:max():dim())
    assert.are.equal(mx, x:max():item())
    assert.are.equal(mn, x:min():item())
    assert.are.equal(mx, lc.max(x):item())
  end)

  it('max and min along a dim return values and 1-based indices', function()
    local m = T { { 3, 9, 1 }, { 7, 2, 8 } }
    local v, i = m:max(2)
    assert.are.same({ 9, 8 }, v:totable())
    assert.are.same({ 2, 3 }, i:totable())
    assert.are.equal('int64', i.dtype)
    v, i = m:min(1)
    assert.are.same({ 3, 2, 1 }, v:totable())
    assert.are.same({ 1, 2, 1 }, i:totable())
    v, i = m:max(-1, true)
    assert.are.same({ { 9 }, { 8 } }, v:totable())
    assert.are.same({ { 2 }, { 3 } }, i:totable())
    v, i = m:min(1, { keepdim = true })
    assert.are.same({ { 3, 2, 1 } }, v:totable())
    assert.are.same({ { 1, 2, 1 } }, i:totable())
    -- the indices select the values
    local vals, idx = x:max(2)
    for a = 1, 2 do
      for c = 1, 4 do
        assert.are.equal(vals[{ a, c }]:item(), x[{ a, idx[{ a, c }]:item(), c }]:item())
      end
    end
  end)

  it('argmax and argmin are 1-based, over a dim or the flattened tensor', function()
    local m = T { { 3, 9, 1 }, { 7, 2, 8 } }
    assert.are.same({ 2, 3 }, m:argmax(2):totable())
    assert.are.same({ 2, 1, 2 }, m:argmax(1):totable())
    assert.are.same({ 3, 2 }, m:argmin(2):totable())
    assert.are.same({ { 2 }, { 3 } }, m:argmax(2, true):totable())
    assert.are.equal(2, m:argmax():item())
    assert.are.equal(3, m:argmin():item())
    assert.are.equal(1, lc.tensor({ 5, 5, 5 }):argmax():item()) -- ties: the first
    assert.are.same({ 2, 1 }, lc.tensor({ { 0, 1 }, { 1, 0 } }, { dtype = 'int64' }):argmax(2):totable())
  end)

  it('reduction dims are checked', function()
    check.raises(function() x:sum(4) end, 'sum', 'dim 4', 'out of range')
    check.raises(function() x:sum(0) end, 'sum', 'dim 0', '1-based')
    check.raises(function() x:mean({ 1, 1 }) end, 'mean', 'twice')
    check.raises(function() x:max(5) end, 'max', 'out of range')
    check.raises(function() x:sum('a') end, 'sum', 'string')
    check.raises(function() lc.zeros(0):max() end, 'max', 'empty')
  end)
end)

-- ---- matmul ----

local function mm_ref(a, b) -- plain nested tables (m, k) x (k, n)
  local m, k, n = #a, #b, #b[1]
  local c = {}
  for i = 1, m do
    c[i] = {}
    for j = 1, n do
      local s = 0
      for l = 1, k do s = s + a[i][l] * b[l][j] end
      c[i][j] = s
    end
  end
  return c
end

describe('matmul', function()
  it('multiplies 2-d matrices', function()
    local a, b = rnd { 3, 4 }, rnd { 4, 5 }
    check.close(T(a):matmul(T(b)), mm_ref(a, b), 1e-12)
    check.close(T(a):mm(T(b)), mm_ref(a, b), 1e-12)
    check.close(lc.matmul(T(a, 'float32'), T(b, 'float32')), mm_ref(a, b), 1e-5)
    assert.are.equal('float32', lc.matmul(T(a, 'float32'), T(b, 'float32')).dtype)
    assert.are.equal('float64', lc.matmul(T(a, 'float32'), T(b)).dtype)
  end)

  it('handles vectors as PyTorch does', function()
    local a, v, w = rnd { 3, 4 }, rnd { 4 }, rnd { 3 }
    local dot = 0
    for i = 1, 4 do dot = dot + v[i] * v[i] end
    local d = T(v):matmul(T(v))
    assert.are.equal(0, d:dim())
    assert.is_true(math.abs(d:item() - dot) < 1e-12)
    local col = {}
    for i = 1, 4 do col[i] = { v[i] } end
    local mv = T(a):matmul(T(v))
    assert.are.same({ 3 }, mv:size())
    local expected = {}
    for i, row in ipairs(mm_ref(a, col)) do expected[i] = row[1] end
    check.close(mv, expected, 1e-12)
    local vm = T(w):matmul(T(a))
    assert.are.same({ 4 }, vm:size())
    check.close(vm, mm_ref({ w }, a)[1], 1e-12)
  end)

  it('multiplies batches, broadcasting batch dims', function()
    local a, b = rnd { 2, 3, 4 }, rnd { 2, 4, 5 }
    local c = T(a):matmul(T(b))
    assert.are.same({ 2, 3, 5 }, c:size())
    for i = 1, 2 do check.close(c[i], mm_ref(a[i], b[i]), 1e-12) end
    -- (2, 1, 3, 4) x (5, 4, 2) -> (2, 5, 3, 2)
    local p, q = rnd { 2, 1, 3, 4 }, rnd { 5, 4, 2 }
    local r = T(p):matmul(T(q))
    assert.are.same({ 2, 5, 3, 2 }, r:size())
    for i = 1, 2 do
      for j = 1, 5 do check.close(r[{ i, j }], mm_ref(p[i][1], q[j]), 1e-12) end
    end
    -- 3-d x 2-d, 2-d x 3-d, 3-d x 1-d, 1-d x 3-d
    local m2 = rnd { 4, 5 }
    local r2 = T(a):matmul(T(m2))
    for i = 1, 2 do check.close(r2[i], mm_ref(a[i], m2), 1e-12) end
    local m3 = rnd { 6, 3 }
    local r3 = T(m3):matmul(T(a))
    assert.are.same({ 2, 6, 4 }, r3:size())
    for i = 1, 2 do check.close(r3[i], mm_ref(m3, a[i]), 1e-12) end
    local v = rnd { 4 }
    local r4 = T(a):matmul(T(v))
    assert.are.same({ 2, 3 }, r4:size())
    check.close(r4[2], T(a[2]):matmul(T(v)), 1e-12)
    local u = rnd { 3 }
    local r5 = T(u):matmul(T(a))
    assert.are.same({ 2, 4 }, r5:size())
    check.close(r5[1], T(u):matmul(T(a[1])), 1e-12)
  end)

  it('accepts non-contiguous operands of every layout', function()
    local a, b = rnd { 4, 3 }, rnd { 5, 4 }
    -- transposed operands
    check.close(T(a):t():matmul(T(b):t()), mm_ref(T(a):t():totable(), T(b):t():totable()), 1e-12)
    -- rows repeated by expand (a stride of 0)
    local row = rnd { 1, 3 }
    local e = T(row):expand(4, 3)
    local bb = rnd { 3, 2 }
    check.close(e:matmul(T(bb)), mm_ref(e:totable(), bb), 1e-12)
    check.close(T(bb):t():matmul(e:t()), mm_ref(T(bb):t():totable(), e:t():totable()), 1e-12)
    -- a single column whose elements are far apart
    local cube = T(rnd { 6, 2, 3 })
    local col = cube[{ {}, { 1 }, 2 }] -- (6, 1), strides (6, 3)
    local w = rnd { 1, 4 }
    check.close(col:matmul(T(w)), mm_ref(col:totable(), w), 1e-12)
    local colT = cube[{ {}, 1, { 2 } }]:t() -- (1, 6)
    local z = rnd { 6, 2 }
    check.close(colT:matmul(T(z)), mm_ref(colT:totable(), z), 1e-12)
    -- narrowed columns (a leading dimension larger than the width)
    local wide = T(rnd { 3, 10 })
    local n1 = wide:narrow(2, 3, 4)
    local right = rnd { 4, 2 }
    check.close(n1:matmul(T(right)), mm_ref(n1:totable(), right), 1e-12)
    local left = rnd { 2, 3 }
    check.close(T(left):matmul(n1), mm_ref(left, n1:totable()), 1e-12)
    -- a batch of non-contiguous matrices
    local batch = T(rnd { 3, 4, 2 }):transpose(2, 3) -- (3, 2, 4)
    local rb = rnd { 4, 3 }
    local out = batch:matmul(T(rb))
    for i = 1, 3 do check.close(out[i], mm_ref(batch[i]:totable(), rb), 1e-12) end
  end)

  it('handles empty operands', function()
    assert.are.same({ { 0, 0 }, { 0, 0 } }, lc.zeros(2, 0):matmul(lc.zeros(0, 2)):totable())
    assert.are.same({ 0, 3 }, lc.zeros(0, 2):matmul(lc.zeros(2, 3)):size())
  end)

  it('reports shapes that do not align', function()
    check.raises(function() lc.zeros(2, 3):matmul(lc.zeros(4, 5)) end,
                 'matmul: sizes (2, 3) and (4, 5) do not align (3 vs 4)')
    check.raises(function() lc.zeros(3):matmul(lc.zeros(4)) end, 'matmul', 'do not align')
    check.raises(function() lc.zeros(2, 2, 3):matmul(lc.zeros(3, 3, 2)) end, 'matmul', 'broadcast')
    check.raises(function() lc.zeros(2, 3):matmul(lc.tensor(1)) end, 'matmul', 'at least 1 dim')
    check.raises(function() lc.arange(4):view(2, 2):matmul(lc.arange(4):view(2, 2)) end, 'matmul', 'int64')
    check.raises(function() lc.zeros(2, 3):matmul(2) end, 'matmul', 'tensor', 'number')
  end)
end)
