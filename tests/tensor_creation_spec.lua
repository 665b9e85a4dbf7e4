-- Creation functions, dtypes and options, randomness, basic accessors and printing.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

local function shape(t) return t:shape() end

describe('lc.tensor', function()
  it('builds float32 tensors from nested tables, integers included', function()
    local t = lc.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.equal('float32', t.dtype)
    assert.are.equal('cpu', t.device)
    assert.are.same({ 2, 3 }, t:size())
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, t:totable())
    assert.is_true(math.type(t:totable()[1][1]) == 'float')
  end)

  it('honours dtype options, as strings and constants', function()
    assert.are.equal('float64', lc.tensor({ 1.5 }, { dtype = 'float64' }).dtype)
    assert.are.equal('float64', lc.tensor({ 1.5 }, { dtype = lc.float64 }).dtype)
    assert.are.equal('float64', lc.tensor({ 1.5 }, { dtype = 'double' }).dtype)
    local i = lc.tensor({ -3, 7 }, { dtype = 'int64' })
    assert.are.equal('int64', i.dtype)
    assert.are.same({ -3, 7 }, i:totable())
    assert.are.equal('integer', math.type(i:totable()[1]))
    -- int64 keeps Lua integers exact beyond 2^53, in and out
    local big = lc.tensor({ math.maxinteger, (1 << 53) + 1, math.mininteger }, { dtype = 'int64' })
    assert.are.same({ math.maxinteger, (1 << 53) + 1, math.mininteger }, big:totable())
    assert.are.equal((1 << 53) + 1, big[2]:item())
    assert.are.same({ 2, -2, 1 }, lc.tensor({ 2.7, -2.7, true }, { dtype = 'int64' }):totable())
    local u = lc.tensor({ 0, 255, 7 }, { dtype = 'uint8' })
    assert.are.equal('uint8', u.dtype)
    assert.are.same({ 0, 255, 7 }, u:totable())
    -- float64 keeps full precision, float32 rounds
    assert.are.equal(0.1, lc.tensor({ 0.1 }, { dtype = 'float64' })[1]:item())
    assert.are_not.equal(0.1, lc.tensor({ 0.1 })[1]:item())
  end)

  it('makes 0-dim tensors from numbers and empty tensors from empty tables', function()
    local s = lc.tensor(3.5)
    assert.are.equal(0, s:dim())
    assert.are.equal(1, s:numel())
    assert.are.equal(3.5, s:item())
    assert.are.same({}, s:size())
    local e = lc.tensor {}
    assert.are.same({ 0 }, e:size())
    assert.are.equal(0, e:numel())
    local e2 = lc.tensor { {}, {} }
    assert.are.same({ 2, 0 }, e2:size())
  end)

  it('accepts booleans as 0/1 and deep nesting', function()
    assert.are.same({ 1, 0 }, lc.tensor { true, false }:totable())
    local t = lc.tensor { { { { 1 }, { 2 } } } }
    assert.are.same({ 1, 1, 2, 1 }, t:size())
  end)

  it('copies a tensor argument (no shared storage)', function()
    local a = lc.tensor { 1, 2, 3 }
    local b = lc.tensor(a)
    b[1] = 10
    assert.are.equal(1, a[1]:item())
    assert.are.equal('float64', lc.tensor(a, { dtype = 'float64' }).dtype)
  end)

  it('honours requires_grad and refuses it for integer dtypes', function()
    local t = lc.tensor({ 1, 2 }, { requires_grad = true })
    assert.is_true(t.requires_grad)
    assert.is_true(t.is_leaf)
    check.raises(function() lc.tensor({ 1, 2 }, { dtype = 'int64', requires_grad = true }) end,
                 'requires_grad', 'float')
  end)

  it('rejects ragged tables with a clear message', function()
    check.raises(function() lc.tensor { { 1, 2 }, { 3 } } end, 'tensor', 'ragged', 'expected 2 entries')
    check.raises(function() lc.tensor { { 1, 2 }, 3 } end, 'tensor', 'ragged')
    check.raises(function() lc.tensor { 1, { 2 } } end, 'tensor', 'ragged', 'number')
    check.raises(function() lc.tensor { { 1 }, { 'x' } } end, 'tensor', 'string')
    check.raises(function() lc.tensor { 'a' } end, 'tensor', 'string')
    check.raises(function() lc.tensor(nil) end, 'tensor', 'nil')
    local loop = {}
    loop[1] = loop
    check.raises(function() lc.tensor(loop) end, 'tensor', 'deeper')
  end)
end)

describe('filled creation functions', function()
  for _, case in ipairs { { 'zeros', 0 }, { 'ones', 1 } } do
    local name, value = case[1], case[2]
    it(name .. ' takes varargs, a table or a shape, and options', function()
      local a, b = lc[name](2, 3), lc[name] { 2, 3 }
      local c = lc[name](a:shape())
      for _, t in ipairs { a, b, c } do
        assert.are.same({ 2, 3 }, t:size())
        assert.are.equal('float32', t.dtype)
        assert.are.same({ { value, value, value }, { value, value, value } }, t:totable())
      end
      local d = lc[name]({ 4 }, { dtype = 'int64' })
      assert.are.equal('int64', d.dtype)
      assert.are.same({ value, value, value, value }, d:totable())
      local e = lc[name](2, 2, { dtype = 'float64', requires_grad = true })
      assert.are.equal('float64', e.dtype)
      assert.is_true(e.requires_grad)
      local s = lc[name]()
      assert.are.equal(0, s:dim())
      assert.are.equal(value, s:item())
      assert.are.same({ 0, 3 }, lc[name](0, 3):size())
    end)
  end

  it('empty has the requested shape and dtype', function()
    local t = lc.empty(3, 4, { dtype = 'uint8' })
    assert.are.same({ 3, 4 }, t:size())
    assert.are.equal('uint8', t.dtype)
  end)

  it('full fills with the value', function()
    assert.are.same({ { 7, 7 }, { 7, 7 } }, lc.full({ 2, 2 }, 7):totable())
    assert.are.same({ 2.5, 2.5, 2.5 }, lc.full({ 3 }, 2.5, { dtype = 'float64' }):totable())
    local i = lc.full({ 2 }, -4, { dtype = 'int64' })
    assert.are.equal('int64', i.dtype)
    assert.are.same({ -4, -4 }, i:totable())
    assert.are.equal(9, lc.full({}, 9):item())
    assert.are.equal(0, lc.full({}, 9):dim())
  end)

  it('rejects negative sizes and bad options', function()
    check.raises(function() lc.zeros(2, -1) end, 'zeros', 'negative')
    check.raises(function() lc.ones { -3 } end, 'ones', 'negative')
    check.raises(function() lc.zeros(2, { dtype = 'float16' }) end, 'zeros', 'unknown dtype', 'float16')
    check.raises(function() lc.zeros(2, { device = 'tpu' }) end, 'zeros', 'unknown device', 'tpu')
    check.raises(function() lc.zeros(2, 'x') end, 'zeros', 'string')
    check.raises(function() lc.zeros(2.5) end, 'zeros', 'integer')
  end)

  it('arange follows PyTorch: int64 for integer arguments, float otherwise', function()
    local a = lc.arange(5)
    assert.are.equal('int64', a.dtype)
    assert.are.same({ 0, 1, 2, 3, 4 }, a:totable())
    assert.are.same({ 2, 3, 4 }, lc.arange(2, 5):totable())
    assert.are.same({ 10, 7, 4, 1 }, lc.arange(10, 0, -3):totable())
    local f = lc.arange(0, 1, 0.25)
    assert.are.equal('float32', f.dtype)
    assert.are.same({ 0, 0.25, 0.5, 0.75 }, f:totable())
    assert.are.equal('float64', lc.arange(3, { dtype = 'float64' }).dtype)
    assert.are.equal(0, lc.arange(0):numel())
    check.raises(function() lc.arange(0, 5, 0) end, 'arange', 'step')
    check.raises(function() lc.arange(5, 0, 1) end, 'arange')
    check.raises(function() lc.arange() end, 'arange')
  end)

  it('linspace includes both ends', function()
    check.close(lc.linspace(0, 1, 5), { 0, 0.25, 0.5, 0.75, 1 })
    check.close(lc.linspace(-1, 1, 3, { dtype = 'float64' }), { -1, 0, 1 })
    assert.are.same({ 3 }, lc.linspace(3, 9, 1):totable())
    assert.are.equal(0, lc.linspace(0, 1, 0):numel())
    assert.are.equal('float64', lc.linspace(0, 1, 2, { dtype = 'float64' }).dtype)
    check.raises(function() lc.linspace(0, 1, -1) end, 'linspace')
  end)

  it('eye makes identity matrices, square or not', function()
    assert.are.same({ { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }, lc.eye(3):totable())
    assert.are.same({ { 1, 0, 0 }, { 0, 1, 0 } }, lc.eye(2, 3):totable())
    assert.are.same({ { 1, 0 }, { 0, 1 }, { 0, 0 } }, lc.eye(3, 2):totable())
    assert.are.equal('int64', lc.eye(2, { dtype = 'int64' }).dtype)
    assert.are.equal('float64', lc.eye(2, 2, { dtype = 'float64' }).dtype)
    check.raises(function() lc.eye(-1) end, 'eye')
  end)
end)

describe('*_like', function()
  it('keeps shape, dtype and device, and takes overrides', function()
    local x = lc.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, { dtype = 'float64' })
    local cases = {
      zeros_like = lc.zeros_like(x), ones_like = lc.ones_like(x), rand_like = lc.rand_like(x),
      randn_like = lc.randn_like(x), empty_like = lc.empty_like(x), full_like = lc.full_like(x, 3),
    }
    for name, t in pairs(cases) do
      assert.are.same({ 2, 3 }, t:size(), name)
      assert.are.equal('float64', t.dtype, name)
      assert.are.equal('cpu', t.device, name)
      assert.is_false(t.requires_grad, name)
    end
    assert.are.same({ { 0, 0, 0 }, { 0, 0, 0 } }, cases.zeros_like:totable())
    assert.are.same({ { 1, 1, 1 }, { 1, 1, 1 } }, cases.ones_like:totable())
    assert.are.same({ { 3, 3, 3 }, { 3, 3, 3 } }, cases.full_like:totable())
    assert.are.equal('int64', lc.zeros_like(x, { dtype = 'int64' }).dtype)
    assert.is_true(lc.ones_like(x, { requires_grad = true }).requires_grad)
  end)

  it('works on 0-dim tensors', function()
    local s = lc.tensor(2, { dtype = 'float64' })
    for _, t in ipairs { lc.zeros_like(s), lc.ones_like(s), lc.full_like(s, 4), lc.rand_like(s),
                         lc.randn_like(s), lc.empty_like(s) } do
      assert.are.equal(0, t:dim())
      assert.are.equal('float64', t.dtype)
    end
    assert.are.equal(4, lc.full_like(s, 4):item())
    assert.is_true(lc.zeros_like(s, { requires_grad = true }).requires_grad)
  end)
end)

describe('randomness', function()
  it('is reproducible under manual_seed', function()
    for _, gen in ipairs {
      function() return lc.rand(50):totable() end,
      function() return lc.randn(5, 10, { dtype = 'float64' }):totable() end,
      function() return lc.randint(0, 100, 50):totable() end,
      function() return lc.empty(30):uniform_(-2, 3):totable() end,
      function() return lc.empty(30):normal_(1, 0.5):totable() end,
    } do
      lc.manual_seed(1234)
      local a, a2 = gen(), gen()
      lc.manual_seed(1234)
      local b, b2 = gen(), gen()
      assert.are.same(a, b)
      assert.are.same(a2, b2)
      assert.are_not.same(a, a2) -- the stream moves on between draws
      lc.manual_seed(99)
      assert.are_not.same(a, gen())
    end
  end)

  it('replays from get_rng_state/set_rng_state', function()
    lc.manual_seed(7)
    lc.rand(10)
    local seed, offset = lc.get_rng_state()
    local a = lc.randn(20):totable()
    lc.rand(5)
    lc.set_rng_state(seed, offset)
    assert.are.same(a, lc.randn(20):totable())
  end)

  it('rand is uniform in [0, 1)', function()
    lc.manual_seed(0)
    local v = lc.rand(100000, { dtype = 'float64' })
    assert.is_true(v:min():item() >= 0)
    assert.is_true(v:max():item() < 1)
    assert.is_true(math.abs(v:mean():item() - 0.5) < 0.005)
    assert.is_true(math.abs(v:var():item() - 1 / 12) < 0.002)
    local f = lc.rand(1000, 10)
    assert.are.equal('float32', f.dtype)
    assert.is_true(f:min():item() >= 0 and f:max():item() < 1)
  end)

  it('rand never returns 1, even where float32 rounding would give it', function()
    -- Philox block 17758991 of seed 0 has a lane with the raw value 121, which maps to
    -- 1 - 122 / 2^32 and rounds to 1.0 in float32.
    for _, dtype in ipairs { 'float32', 'float64' } do
      lc.set_rng_state(0, 17758991)
      local v = lc.rand(8, { dtype = dtype })
      assert.is_true(v:max():item() < 1, dtype)
      lc.set_rng_state(0, 17758991)
      local u = lc.empty(8, { dtype = dtype }):uniform_(0, 1)
      assert.is_true(u:max():item() < 1, dtype)
    end
  end)

  it('randn has mean 0 and standard deviation 1', function()
    lc.manual_seed(3)
    local v = lc.randn(200000, { dtype = 'float64' })
    assert.is_true(math.abs(v:mean():item()) < 0.01)
    assert.is_true(math.abs(v:std():item() - 1) < 0.01)
    -- about 68.27% within one standard deviation
    local inside = v:abs():le(1):sum():item() / v:numel()
    assert.is_true(math.abs(inside - 0.6827) < 0.005)
    local n = lc.empty(100000, { dtype = 'float64' }):normal_(3, 2)
    assert.is_true(math.abs(n:mean():item() - 3) < 0.03)
    assert.is_true(math.abs(n:std():item() - 2) < 0.03)
  end)

  it('randint draws int64 in [low, high), every value', function()
    lc.manual_seed(5)
    local r = lc.randint(-3, 7, 20000)
    assert.are.equal('int64', r.dtype)
    assert.are.equal(-3, r:min():item())
    assert.are.equal(6, r:max():item())
    local counts = {}
    for _, v in ipairs(r:totable()) do counts[v] = (counts[v] or 0) + 1 end
    for v = -3, 6 do assert.is_true(counts[v] > 1700 and counts[v] < 2300, 'value ' .. v) end
    assert.are.same({ 2, 3 }, lc.randint(0, 2, 2, 3):size())
    assert.are.same({ 4 }, lc.randint(0, 2, { 4 }):size())
    check.raises(function() lc.randint(5, 5, 3) end, 'randint', 'less than')
  end)

  it('refuses random floats of integer dtypes', function()
    check.raises(function() lc.rand(3, { dtype = 'int64' }) end, 'rand', 'int64')
    check.raises(function() lc.randn(3, { dtype = 'uint8' }) end, 'randn', 'uint8')
    check.raises(function() lc.zeros(3, { dtype = 'int64' }):uniform_() end, 'uniform_', 'int64')
  end)
end)

describe('accessors', function()
  local t = lc.arange(24):view(2, 3, 4)

  it('size, shape, dim, numel', function()
    assert.are.equal(3, t:dim())
    assert.are.equal(24, t:numel())
    assert.are.equal(2, t:size(1))
    assert.are.equal(4, t:size(3))
    assert.are.equal(4, t:size(-1))
    assert.are.equal(2, t:size(-3))
    assert.are.same({ 2, 3, 4 }, t:size())
    local s = t:shape()
    assert.are.equal('(2, 3, 4)', tostring(s))
    assert.is_true(s == lc.tensor(lc.zeros(2, 3, 4)):shape())
    assert.is_false(s == lc.zeros(2, 3):shape())
    assert.are.equal(24, s:numel())
    assert.are.equal(3, t.ndim)
    assert.are.equal(2, #t)
  end)

  it('item returns Lua integers for integer dtypes and floats otherwise', function()
    assert.are.equal('integer', math.type(lc.tensor(3, { dtype = 'int64' }):item()))
    assert.are.equal('float', math.type(lc.tensor(3):item()))
    assert.are.equal(23, t[{ 2, 3, 4 }]:item())
    assert.are.equal(5, lc.tensor { { 5 } }:item())
    check.raises(function() t:item() end, 'item', 'one element', '(2, 3, 4)')
  end)

  it('totable nests like the tensor', function()
    assert.are.same({ { 0, 1 }, { 2, 3 } }, lc.arange(4):view(2, 2):totable())
    assert.are.equal(7, lc.tensor(7):totable())
    assert.are.same({ { 0, 2 }, { 1, 3 } }, lc.arange(4):view(2, 2):t():totable())
  end)
end)

describe('printing', function()
  local function body(t) return (tostring(t):gsub('\n%[.*%]$', '')) end
  local function info(t) return tostring(t):match('\n(%[[^\n]*%])$') end

  it('prints small tensors like PyTorch, then dtype and shape', function()
    assert.are.equal('tensor([[1., 2.],\n        [3., 4.]])\n[float32, shape (2, 2)]',
                     tostring(lc.tensor { { 1, 2 }, { 3, 4 } }))
    assert.are.equal('tensor([ 1.5000, -2.2500])', body(lc.tensor { 1.5, -2.25 }))
    assert.are.equal('tensor([ 1, -2,  3])', body(lc.tensor({ 1, -2, 3 }, { dtype = 'int64' })))
    assert.are.equal('tensor(3.5000)', body(lc.tensor(3.5)))
    assert.are.equal('[float32, shape ()]', info(lc.tensor(3.5)))
    assert.are.equal('tensor([   nan,    inf,   -inf, 1.5000])', body(lc.tensor { 0 / 0, 1 / 0, -1 / 0, 1.5 }))
    assert.are.equal('tensor([])', body(lc.zeros(0)))
    assert.are.equal('[int64, shape (3)]', info(lc.arange(3)))
    assert.are.equal('[float64, shape (2, 3)]', info(lc.zeros(2, 3, { dtype = 'float64' })))
  end)

  it('switches to scientific notation as PyTorch does', function()
    assert.are.equal('tensor([1.0000e+10, 1.0000e+00])', body(lc.tensor { 1e10, 1 }))
    assert.are.equal('tensor([1.0000e-05, 1.0000e+00])', body(lc.tensor { 1e-5, 1 }))
    -- a ratio above 1000 between the largest and the smallest magnitude
    assert.are.equal('tensor([1.0000e-03, 2.0000e+00])', body(lc.tensor { 0.001, 2 }))
    assert.are.equal('tensor([0.0100, 2.0000])', body(lc.tensor { 0.01, 2 }))
  end)

  it('separates the matrices of a 3-d tensor by a blank line', function()
    assert.are.equal('tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])',
                     body(lc.arange(8):view(2, 2, 2)))
  end)

  it('wraps long rows at 80 columns', function()
    assert.are.equal(
      'tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n' ..
      '        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n' ..
      '        28., 29.])', body(lc.arange(30):float()))
  end)

  it('abbreviates large tensors with ...', function()
    assert.are.equal('tensor([   0,    1,    2,  ..., 9997, 9998, 9999])', body(lc.arange(10000)))
    assert.are.equal('[int64, shape (10000)]', info(lc.arange(10000)))
    assert.are.equal(table.concat({
      'tensor([[   0,    1,    2,  ...,   47,   48,   49],',
      '        [  50,   51,   52,  ...,   97,   98,   99],',
      '        [ 100,  101,  102,  ...,  147,  148,  149],',
      '        ...,',
      '        [1850, 1851, 1852,  ..., 1897, 1898, 1899],',
      '        [1900, 1901, 1902,  ..., 1947, 1948, 1949],',
      '        [1950, 1951, 1952,  ..., 1997, 1998, 1999]])' }, '\n'), body(lc.arange(2000):view(40, 50)))
    -- small tensors are never abbreviated
    assert.is_nil(tostring(lc.zeros(10, 100)):find('...', 1, true))
  end)

  it('shows autograd state', function()
    local x = lc.tensor({ 1, 2 }, { requires_grad = true })
    assert.are.equal('[float32, shape (2), requires_grad]', info(x))
    assert.are.equal('[float32, shape (2), grad_fn=mul]', info(x * 2))
  end)

  it('prints through print() and concatenation', function()
    local t = lc.tensor { 1 }
    assert.are.equal('x' .. tostring(t), 'x' .. t)
    assert.is_truthy(('>' .. t):find('^>tensor%(%[1%.%]%)'))
  end)
end)
