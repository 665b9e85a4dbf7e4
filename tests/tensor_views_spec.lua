-- Views share storage with their base; index tables read and write through them;
-- joins and dtype conversions copy.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

local function base() return lc.arange(24):view(2, 3, 4):float() end

describe('reshaping views', function()
  it('view and reshape accept sizes, tables and one -1', function()
    local t = lc.arange(24)
    assert.are.same({ 2, 3, 4 }, t:view(2, 3, 4):size())
    assert.are.same({ 2, 3, 4 }, t:view { 2, 3, 4 }:size())
    assert.are.same({ 4, 6 }, t:view(4, -1):size())
    assert.are.same({ 2, 12 }, t:view(-1, 12):size())
    assert.are.same({ 2, 3, 4 }, t:reshape(2, -1, 4):size())
    assert.are.same({ 24 }, t:view(2, 3, 4):view(-1):size())
    assert.are.same({ 2, 3, 4 }, t:view(lc.zeros(2, 3, 4):shape()):size())
    assert.are.same({}, lc.tensor { 5 }:view({}):size())
    assert.are.same({ { 0, 1, 2 }, { 3, 4, 5 } }, lc.arange(6):view(2, 3):totable())
  end)

  it('view shares storage; reshape copies only when it must', function()
    local t = lc.zeros(6)
    local v = t:view(2, 3)
    v[{ 2, 3 }] = 5
    assert.are.equal(5, t[6]:item())
    local r = t:reshape(3, 2)
    r[{ 1, 1 }] = 7
    assert.are.equal(7, t[1]:item())
    -- a transposed tensor cannot be viewed, but can be reshaped (a copy)
    local m = lc.arange(6):view(2, 3):t()
    check.raises(function() m:view(6) end, 'view', 'contiguous')
    local flat = m:reshape(6)
    assert.are.same({ 0, 3, 1, 4, 2, 5 }, flat:totable())
    flat[1] = 100
    assert.are.equal(0, m[{ 1, 1 }]:item())
  end)

  it('view_as and reshape_as take the other tensor\'s shape; stride reports layout', function()
    local t = lc.arange(6)
    assert.are.same({ 2, 3 }, t:view_as(lc.zeros(2, 3)):size())
    assert.are.same({ 3, 2 }, t:view(2, 3):t():reshape_as(lc.zeros(3, 2)):size())
    local m = lc.zeros(2, 3)
    assert.are.equal(3, m:stride(1))
    assert.are.equal(1, m:stride(2))
    assert.are.equal(1, m:t():stride(1))
    assert.are.equal(3, m:t():stride(-1))
  end)

  it('view rejects shapes that do not fit', function()
    check.raises(function() lc.zeros(24):view(7, -1) end, 'view: shape (7, -1) is invalid for 24 elements')
    check.raises(function() lc.zeros(24):view(5, 5) end, 'view', '(5, 5)', '24 elements')
    check.raises(function() lc.zeros(24):view(-1, -1) end, 'view', 'only one', '-1')
    check.raises(function() lc.zeros(24):view(-2, 12) end, 'view', 'invalid size -2')
    check.raises(function() lc.zeros(24):reshape(5, -1) end, 'reshape', 'invalid for 24 elements')
  end)

  it('flatten merges a range of dims', function()
    local t = base()
    assert.are.same({ 24 }, t:flatten():size())
    assert.are.same({ 2, 12 }, t:flatten(2):size())
    assert.are.same({ 6, 4 }, t:flatten(1, 2):size())
    assert.are.same({ 2, 12 }, t:flatten(-2, -1):size())
    assert.are.same({ 1 }, lc.tensor(3):flatten():size())
    local f = t:flatten()
    f[1] = -1
    assert.are.equal(-1, t[{ 1, 1, 1 }]:item())
    assert.are.same({ -1, 12, 4, 16, 8, 20, 1, 13, 5 },
                    { table.unpack(t:transpose(1, 3):flatten():totable(), 1, 9) })
    check.raises(function() t:flatten(3, 1) end, 'flatten')
  end)

  it('squeeze and unsqueeze add and drop size-1 dims', function()
    local t = lc.zeros(2, 1, 3, 1)
    assert.are.same({ 2, 3 }, t:squeeze():size())
    assert.are.same({ 2, 3, 1 }, t:squeeze(2):size())
    assert.are.same({ 2, 1, 3 }, t:squeeze(-1):size())
    assert.are.same({ 2, 1, 3, 1 }, t:squeeze(1):size()) -- not size 1: unchanged
    local u = lc.zeros(2, 3)
    assert.are.same({ 1, 2, 3 }, u:unsqueeze(1):size())
    assert.are.same({ 2, 1, 3 }, u:unsqueeze(2):size())
    assert.are.same({ 2, 3, 1 }, u:unsqueeze(3):size())
    assert.are.same({ 2, 3, 1 }, u:unsqueeze(-1):size())
    assert.are.same({ 2, 1, 3 }, u:unsqueeze(-2):size())
    local s = u:unsqueeze(2):squeeze(2)
    s[{ 2, 2 }] = 4
    assert.are.equal(4, u[{ 2, 2 }]:item())
    t:squeeze()[{ 1, 1 }] = 9
    assert.are.equal(9, t[{ 1, 1, 1, 1 }]:item())
  end)
end)

describe('permuting views', function()
  it('transpose and t() swap dims and share storage', function()
    local m = lc.arange(6):view(2, 3):float()
    local t = m:t()
    assert.are.same({ 3, 2 }, t:size())
    assert.are.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, t:totable())
    assert.is_false(t:is_contiguous())
    t[{ 3, 1 }] = 42
    assert.are.equal(42, m[{ 1, 3 }]:item())
    local b = base()
    assert.are.same({ 4, 3, 2 }, b:transpose(1, 3):size())
    assert.are.same({ 2, 4, 3 }, b:transpose(-1, -2):size())
    assert.are.equal(b[{ 2, 1, 3 }]:item(), b:transpose(1, 3)[{ 3, 1, 2 }]:item())
  end)

  it('permute reorders all dims', function()
    local b = base()
    local p = b:permute(3, 1, 2)
    assert.are.same({ 4, 2, 3 }, p:size())
    assert.are.same({ 4, 2, 3 }, b:permute { 3, 1, 2 }:size())
    for i = 1, 2 do
      for j = 1, 3 do
        for k = 1, 4 do assert.are.equal(b[{ i, j, k }]:item(), p[{ k, i, j }]:item()) end
      end
    end
    p[{ 4, 2, 3 }] = -5
    assert.are.equal(-5, b[{ 2, 3, 4 }]:item())
    check.raises(function() b:permute(1, 2) end, 'permute', '2 dims', '3 dims')
    check.raises(function() b:permute(1, 1, 2) end, 'permute', 'twice')
  end)
end)

describe('slicing views', function()
  it('narrow and select take 1-based and negative positions', function()
    local t = lc.arange(10):float()
    assert.are.same({ 2, 3, 4 }, t:narrow(1, 3, 3):totable())
    assert.are.equal(0, t:select(1, 1):item())
    assert.are.equal(9, t:select(1, -1):item())
    assert.are.equal(8, t:select(1, -2):item())
    local m = lc.arange(12):view(3, 4)
    assert.are.same({ 4, 5, 6, 7 }, m:select(1, 2):totable())
    assert.are.same({ 2, 6, 10 }, m:select(2, 3):totable())
    assert.are.same({ { 1, 2 }, { 5, 6 }, { 9, 10 } }, m:narrow(2, 2, 2):totable())
    local n = t:narrow(1, 5, 2)
    n:fill_(-1)
    assert.are.same({ 0, 1, 2, 3, -1, -1, 6, 7, 8, 9 }, t:totable())
    t:select(1, 10):fill_(99)
    assert.are.equal(99, t[10]:item())
  end)

  it('narrow and select report out-of-range positions', function()
    local t = lc.zeros(10)
    check.raises(function() t:narrow(1, 9, 3) end, 'narrow', 'out of range', 'size 10')
    check.raises(function() t:narrow(1, 0, 3) end, 'narrow', '1-based')
    check.raises(function() t:select(1, 11) end, 'index 11 is out of range for dim 1 of size 10')
    check.raises(function() t:select(1, -11) end, 'out of range')
    check.raises(function() t:select(1, 0) end, 'select', '1-based')
  end)

  it('expand repeats size-1 dims without copying', function()
    local c = lc.tensor { { 1 }, { 2 }, { 3 } }
    local e = c:expand(3, 4)
    assert.are.same({ { 1, 1, 1, 1 }, { 2, 2, 2, 2 }, { 3, 3, 3, 3 } }, e:totable())
    assert.are.same({ 2, 3, 4 }, c:expand(2, 3, 4):size())
    assert.are.same({ 3, 5 }, c:expand(-1, 5):size())
    assert.are.same({ 3, 4 }, c:expand(lc.zeros(3, 4)):size())
    assert.are.same({ 3, 4 }, c:expand_as(lc.zeros(3, 4)):size())
    c[2] = 20
    assert.are.same({ 20, 20, 20, 20 }, e[2]:totable())
    check.raises(function() c:expand(4, 4) end, 'expand', '(3, 1)', '(4, 4)')
    check.raises(function() c:expand(4) end, 'expand', 'fewer dims')
    check.raises(function() c:expand(-1, 3, 4) end, 'expand')
    check.raises(function() c:expand(3, -2) end, 'expand')
    -- several elements share memory: writes are refused as in PyTorch
    check.raises(function() e:fill_(0) end, 'in-place write', 'expanded', 'share memory')
    check.raises(function() e[{ {}, { 1, 2 } }] = 0 end, 'in-place write', 'expanded')
    check.raises(function() e:add_(1) end, 'in-place write', 'expanded')
    check.raises(function() e[2] = 7 end, 'in-place write', 'expanded') -- a row repeats one element
    e[{ {}, 1 }] = lc.tensor { 7, 8, 9 } -- a column does not: it writes c itself
    assert.are.same({ { 7 }, { 8 }, { 9 } }, c:totable())
    assert.are.same({ 8, 8, 8, 8 }, e[2]:totable())
  end)

  it('contiguous copies only non-contiguous tensors; clone always copies', function()
    local m = lc.arange(6):view(2, 3):float()
    assert.is_true(m:is_contiguous())
    local same = m:contiguous()
    same[{ 1, 1 }] = 50
    assert.are.equal(50, m[{ 1, 1 }]:item())
    local t = m:t()
    local c = t:contiguous()
    assert.is_true(c:is_contiguous())
    assert.are.same(t:totable(), c:totable())
    c[{ 1, 1 }] = -1
    assert.are.equal(50, m[{ 1, 1 }]:item())
    local k = m:clone()
    k:fill_(0)
    assert.are.equal(50, m[{ 1, 1 }]:item())
    assert.are.same(t:totable(), t:clone():totable())
    assert.is_true(t:clone():is_contiguous())
  end)

  it('copy_ broadcasts, converts dtypes and returns self', function()
    local t = lc.zeros(2, 3)
    assert.are.equal(t, t:copy_(lc.tensor { 1, 2, 3 }))
    assert.are.same({ { 1, 2, 3 }, { 1, 2, 3 } }, t:totable())
    t:copy_(lc.tensor { { 7 }, { 8 } })
    assert.are.same({ { 7, 7, 7 }, { 8, 8, 8 } }, t:totable())
    t:copy_(lc.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, { dtype = 'int64' }))
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, t:totable())
    t:copy_(2.5)
    assert.are.same({ { 2.5, 2.5, 2.5 }, { 2.5, 2.5, 2.5 } }, t:totable())
    t:t():copy_(lc.tensor { { 1, 2 }, { 3, 4 }, { 5, 6 } })
    assert.are.same({ { 1, 3, 5 }, { 2, 4, 6 } }, t:totable())
    local i = lc.zeros(3, { dtype = 'int64' })
    i:copy_(lc.tensor { 1.7, -2.7, 3 })
    assert.are.same({ 1, -2, 3 }, i:totable())
    check.raises(function() t:copy_(lc.zeros(3, 2)) end, 'copy_', '(3, 2)', '(2, 3)')
    check.raises(function() t:copy_(lc.zeros(4, 2, 3)) end, 'copy_')
    check.raises(function() t:copy_(nil) end, 'copy_', 'nil')
  end)

  it('copy_ between overlapping views reads before it writes', function()
    local t = lc.arange(6):float()
    t:narrow(1, 2, 5):copy_(t:narrow(1, 1, 5))
    assert.are.same({ 0, 0, 1, 2, 3, 4 }, t:totable())
    local m = lc.arange(4):view(2, 2):float()
    m:copy_(m:t())
    assert.are.same({ { 0, 2 }, { 1, 3 } }, m:totable())
  end)

  it('fill_ and zero_ write through views', function()
    local m = lc.ones(3, 3)
    m:select(2, 2):zero_()
    assert.are.same({ { 1, 0, 1 }, { 1, 0, 1 }, { 1, 0, 1 } }, m:totable())
    m:t()[1]:fill_(5)
    assert.are.same({ { 5, 0, 1 }, { 5, 0, 1 }, { 5, 0, 1 } }, m:totable())
  end)
end)

describe('index tables', function()
  it('reads Torch7-style: integers select, {a, b} ranges are inclusive, {} keeps a dim', function()
    local m = lc.arange(30):view(3, 10)
    assert.are.same({ 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 }, m[2]:totable())
    assert.are.equal(12, m[{ 2, 3 }]:item())
    assert.are.equal(0, m[{ 2, 3 }]:dim())
    assert.are.same({ { 2, 3, 4, 5 }, { 12, 13, 14, 15 }, { 22, 23, 24, 25 } }, m[{ {}, { 3, 6 } }]:totable())
    assert.are.same({ { 0, 1 }, { 10, 11 } }, m[{ { 1, 2 }, { 1, 2 } }]:totable())
    assert.are.same({ 3, 13, 23 }, m[{ {}, 4 }]:totable())
    assert.are.same({ { 4 }, { 14 } }, m[{ { 1, 2 }, { 5 } }]:totable())
    assert.are.same({ 3, 10 }, m[{}]:size())
    assert.are.same({ { 20, 21, 22, 23, 24, 25, 26, 27, 28, 29 } }, m[{ { 3 } }]:totable())
  end)

  it('counts negative indices and bounds from the end', function()
    local m = lc.arange(30):view(3, 10)
    assert.are.same({ 20, 21, 22, 23, 24, 25, 26, 27, 28, 29 }, m[-1]:totable())
    assert.are.equal(29, m[{ -1, -1 }]:item())
    assert.are.same({ { 7, 8, 9 }, { 17, 18, 19 } }, m[{ { 1, -2 }, { -3, -1 } }]:totable())
    assert.are.same({ { 18, 19 } }, m[{ { -2, -2 }, { 9, 10 } }]:totable())
  end)

  it('reports bad indices', function()
    local t = lc.zeros(10)
    check.raises(function() return t[11] end, 'index 11 is out of range for dim 1 of size 10')
    check.raises(function() return t[-11] end, 'out of range', 'size 10')
    check.raises(function() return t[0] end, 'index 0', '1-based')
    check.raises(function() return t[{ { 3, 11 } }] end, 'index 11 is out of range for dim 1 of size 10')
    check.raises(function() return t[{ { 5, 2 } }] end, 'index', 'empty or reversed')
    check.raises(function() return t[{ 1, 1 }] end, 'index', 'indices', '1 dims')
    check.raises(function() return lc.zeros(2, 3)[{ 1, 4 }] end, 'index 4 is out of range for dim 2 of size 3')
    check.raises(function() return t[{ { 1, 2, 3 } }] end, 'index', 'range')
    check.raises(function() return t[1.5] end, 'index')
    check.raises(function() return t[true] end, 'index')
    check.raises(function() return lc.tensor(1)[1] end, 'index')
  end)

  it('writes numbers and tensors through index tables', function()
    local m = lc.ones(3, 10)
    m[{ {}, { 3, 6 } }] = 0
    assert.are.same({ 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 }, m[2]:totable())
    m[2] = 5
    assert.are.same({ 5, 5, 5, 5, 5, 5, 5, 5, 5, 5 }, m[2]:totable())
    m[{ 3, -1 }] = -7
    assert.are.equal(-7, m[{ 3, 10 }]:item())
    m[{ 1, { 1, 3 } }] = lc.tensor { 10, 20, 30 }
    assert.are.same({ 10, 20, 30, 0, 0, 0, 1, 1, 1, 1 }, m[1]:totable())
    -- a tensor broadcast into a slice, with dtype conversion
    m[{ {}, { 9, 10 } }] = lc.tensor({ { 100 }, { 200 }, { 300 } }, { dtype = 'int64' })
    assert.are.same({ 100, 200, 300 }, m[{ {}, 9 }]:totable())
    assert.are.same({ 100, 200, 300 }, m[{ {}, 10 }]:totable())
    check.raises(function() m[{ {}, { 1, 2 } }] = lc.zeros(3, 3) end, '(3, 3)', '(3, 2)')
    check.raises(function() m[1] = 'x' end, 'string')
    check.raises(function() m[11] = 0 end, 'out of range')
  end)

  it('writes into integer tensors with conversion', function()
    local t = lc.zeros(4, { dtype = 'int64' })
    t[2] = 7
    t[{ { 3, 4 } }] = 2.9
    assert.are.same({ 0, 7, 2, 2 }, t:totable())
  end)

  it('string keys are methods and fields; an unknown name is an error naming the nearest', function()
    local t = lc.zeros(2)
    assert.is_function(t.sum)
    assert.are.equal('float32', t.dtype)
    assert.is_nil(t.grad)                 -- a field that is unset reads as nil
    check.raises(function() return t.no_such_field end, "tensor has no method or field 'no_such_field'")
    check.raises(function() return t:matmull(t) end, "(did you mean 'matmul'?)")
    check.raises(function() t.no_such_field = 1 end, 'cannot set field', 'no_such_field')
  end)
end)

describe('joins', function()
  it('cat concatenates along a dim (default 1), negative dims included', function()
    local a, b = lc.tensor { { 1, 2 }, { 3, 4 } }, lc.tensor { { 5, 6 } }
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, lc.cat { a, b }:totable())
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, lc.cat({ a, b }, 1):totable())
    local c = lc.tensor { { 7 }, { 8 } }
    assert.are.same({ { 1, 2, 7 }, { 3, 4, 8 } }, lc.cat({ a, c }, 2):totable())
    assert.are.same({ { 1, 2, 7 }, { 3, 4, 8 } }, lc.cat({ a, c }, -1):totable())
    assert.are.same({ 0, 1, 2 }, lc.cat({ lc.arange(1), lc.arange(0), lc.arange(1, 3) }):totable())
    -- many inputs, and the result owns its memory
    local parts = {}
    for i = 1, 20 do parts[i] = lc.full({ 1 }, i) end
    local big = lc.cat(parts)
    assert.are.equal(210, big:sum():item())
    parts[1]:fill_(0)
    assert.are.equal(1, big[1]:item())
    -- mixed dtypes promote
    assert.are.equal('float64', lc.cat { lc.zeros(1), lc.zeros(1, { dtype = 'float64' }) }.dtype)
    assert.are.equal('float32', lc.cat { lc.zeros(1, { dtype = 'int64' }), lc.zeros(1) }.dtype)
  end)

  it('cat rejects mismatched shapes', function()
    check.raises(function() lc.cat({ lc.zeros(2, 3), lc.zeros(2, 4) }, 1) end, 'cat', '(2, 4)', '(2, 3)')
    check.raises(function() lc.cat { lc.zeros(2, 3), lc.zeros(3) } end, 'cat', 'dims')
    check.raises(function() lc.cat {} end, 'cat', 'non-empty')
    check.raises(function() lc.cat { lc.zeros(2), 5 } end, 'cat', 'element 2', 'not a tensor')
    check.raises(function() lc.cat({ lc.zeros(2) }, 2) end, 'cat', 'out of range')
    check.raises(function() lc.cat { lc.tensor(1), lc.tensor(2) } end, 'cat', 'zero-dim')
  end)

  it('stack adds a new dim', function()
    local a, b = lc.tensor { 1, 2, 3 }, lc.tensor { 4, 5, 6 }
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, lc.stack { a, b }:totable())
    assert.are.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, lc.stack({ a, b }, 2):totable())
    assert.are.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, lc.stack({ a, b }, -1):totable())
    assert.are.same({ 1, 2 }, lc.stack { lc.tensor(1), lc.tensor(2) }:totable())
    local s = lc.stack { a, b }
    s[{ 1, 1 }] = 100
    assert.are.equal(1, a[1]:item())
    check.raises(function() lc.stack { a, lc.zeros(4) } end, 'stack', '(4)', '(3)')
    check.raises(function() lc.stack {} end, 'stack')
  end)
end)

describe('dtype conversions', function()
  it('float, double, long, byte and to() convert and copy', function()
    local t = lc.tensor { -1.5, 0.25, 2.75 }
    assert.are.equal('float64', t:double().dtype)
    assert.are.same({ -1.5, 0.25, 2.75 }, t:double():totable())
    assert.are.same({ -1, 0, 2 }, t:long():totable()) -- truncation toward zero, as C casts
    assert.are.equal('int64', t:long().dtype)
    assert.are.equal('uint8', lc.tensor { 1, 200 }:byte().dtype)
    assert.are.same({ 1, 200 }, lc.tensor { 1, 200 }:byte():totable())
    assert.are.equal('float32', lc.arange(3):float().dtype)
    assert.are.equal('float64', t:to('float64').dtype)
    assert.are.equal('float64', t:to(lc.float64).dtype)
    assert.are.equal('int64', t:to(lc.arange(2)).dtype)
    assert.are.equal('float64', t:type_as(lc.zeros(1, { dtype = 'float64' })).dtype)
    local d = t:double()
    d[1] = 9
    assert.are.equal(-1.5, t[1]:item())
    assert.are.equal(t, t:to('float32')) -- no conversion: the same tensor
    assert.are.equal(t, t:to('cpu'))
    assert.are.equal(t, t:cpu())
  end)

  it('reports bad targets', function()
    local t = lc.zeros(2)
    check.raises(function() t:to('float16') end, 'to', 'float16', 'neither a dtype')
    check.raises(function() t:to({}) end, 'to')
    if not lc.cuda.is_available() then
      check.raises(function() t:to('cuda') end, 'cuda')
      check.raises(function() t:cuda() end, 'cuda')
    end
  end)
end)

-- ---- random chains of views against an index-mapping model ----

-- The model of a view: its shape and, for every index, the position (1-based, row-major)
-- of the base element it reads. Each op is written as an index mapping, independently
-- of strides.
local function model_base(shape)
  local strides, s = {}, 1
  for d = #shape, 1, -1 do
    strides[d] = s
    s = s * shape[d]
  end
  return {
    shape = shape,
    pos = function(idx)
      local p = 1
      for d = 1, #shape do p = p + (idx[d] - 1) * strides[d] end
      return p
    end,
  }
end

local function copy(t) return { table.unpack(t) } end

local function unflatten(shape, p) -- 1-based row-major position -> index
  local idx = {}
  p = p - 1
  for d = #shape, 1, -1 do
    idx[d] = p % shape[d] + 1
    p = p // shape[d]
  end
  return idx
end

local function flat_pos(shape, idx)
  local p = 0
  for d = 1, #shape do p = p * shape[d] + (idx[d] - 1) end
  return p + 1
end

local view_ops = {
  transpose = function(m, rng)
    if #m.shape < 2 then return nil end
    local a, b = rng(#m.shape), rng(#m.shape)
    local shape = copy(m.shape)
    shape[a], shape[b] = shape[b], shape[a]
    return function(t) return t:transpose(a, b) end, {
      shape = shape,
      pos = function(idx)
        local j = copy(idx)
        j[a], j[b] = j[b], j[a]
        return m.pos(j)
      end,
    }
  end,
  permute = function(m, rng)
    local n = #m.shape
    local perm = {}
    for i = 1, n do perm[i] = i end
    for i = n, 2, -1 do
      local j = rng(i)
      perm[i], perm[j] = perm[j], perm[i]
    end
    local shape = {}
    for i = 1, n do shape[i] = m.shape[perm[i]] end
    return function(t) return t:permute(table.unpack(perm)) end, {
      shape = shape,
      pos = function(idx)
        local j = {}
        for i = 1, n do j[perm[i]] = idx[i] end
        return m.pos(j)
      end,
    }
  end,
  narrow = function(m, rng)
    if #m.shape == 0 then return nil end
    local d = rng(#m.shape)
    if m.shape[d] < 1 then return nil end
    local start = rng(m.shape[d])
    local len = rng(m.shape[d] - start + 1)
    local shape = copy(m.shape)
    shape[d] = len
    return function(t) return t:narrow(d, start, len) end, {
      shape = shape,
      pos = function(idx)
        local j = copy(idx)
        j[d] = j[d] + start - 1
        return m.pos(j)
      end,
    }
  end,
  select = function(m, rng)
    if #m.shape < 2 then return nil end
    local d = rng(#m.shape)
    local i = rng(m.shape[d])
    local shape = copy(m.shape)
    table.remove(shape, d)
    return function(t) return t[{ table.unpack((function()
      local key = {}
      for k = 1, d - 1 do key[k] = {} end
      key[d] = i
      return key
    end)()) }] end, {
      shape = shape,
      pos = function(idx)
        local j = copy(idx)
        table.insert(j, d, i)
        return m.pos(j)
      end,
    }
  end,
  unsqueeze = function(m, rng)
    if #m.shape >= 5 then return nil end
    local d = rng(#m.shape + 1)
    local shape = copy(m.shape)
    table.insert(shape, d, 1)
    return function(t) return t:unsqueeze(d) end, {
      shape = shape,
      pos = function(idx)
        local j = copy(idx)
        table.remove(j, d)
        return m.pos(j)
      end,
    }
  end,
  expand = function(m, rng)
    local shape, any = copy(m.shape), false
    for d = 1, #shape do
      if shape[d] == 1 and rng(2) == 1 then
        shape[d] = rng(3) + 1
        any = true
      end
    end
    if not any then return nil end
    return function(t) return t:expand(table.unpack(shape)) end, {
      shape = shape, expanded = true,
      pos = function(idx)
        local j = copy(idx)
        for d = 1, #shape do if m.shape[d] == 1 then j[d] = 1 end end
        return m.pos(j)
      end,
    }
  end,
  reshape = function(m, rng)
    local n = 1
    for _, s in ipairs(m.shape) do n = n * s end
    if n == 0 then return nil end
    local shape = {}
    local rest = n
    while rest > 1 and #shape < 3 do
      local divisors = {}
      for k = 2, rest do if rest % k == 0 then divisors[#divisors + 1] = k end end
      local k = divisors[rng(#divisors)]
      shape[#shape + 1] = k
      rest = rest // k
    end
    if rest > 1 then shape[#shape + 1] = rest end
    return function(t) return t:reshape(table.unpack(shape)) end, {
      shape = shape,
      pos = function(idx) return m.pos(unflatten(m.shape, flat_pos(shape, idx))) end,
    }
  end,
}
local op_names = {}
for name in pairs(view_ops) do op_names[#op_names + 1] = name end
table.sort(op_names)

local function materialise(m, values)
  local n = 1
  for _, s in ipairs(m.shape) do n = n * s end
  if #m.shape == 0 then return values[m.pos {}] end
  return check.build(m.shape, function(p) return values[m.pos(unflatten(m.shape, p))] end)
end

describe('random chains of views', function()
  it('agree with an index-mapping model for reads, math, reductions and writes', function()
    local seed = 4242
    local function rng(n) -- small deterministic LCG, independent of Lua's math.random
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    for trial = 1, 300 do
      local shape = {}
      for d = 1, rng(3) + 1 do shape[d] = rng(4) end
      local n = 1
      for _, s in ipairs(shape) do n = n * s end
      local base_t = lc.arange(1, n + 1, { dtype = 'float64' }):view(table.unpack(shape))
      local values = base_t:view(-1):totable()
      local t, m, chain, expanded, copied = base_t, model_base(shape), {}, false, false
      for _ = 1, rng(5) do
        local name = op_names[rng(#op_names)]
        local apply, next_m = view_ops[name](m, rng)
        if apply then
          -- reshape copies a non-contiguous tensor: writes no longer reach the base
          if name == 'reshape' and not t:is_contiguous() then copied = true end
          t, m = apply(t), next_m
          chain[#chain + 1] = name
          expanded = expanded or next_m.expanded
        end
      end
      local what = 'trial ' .. trial .. ': ' .. table.concat(chain, ', ')
      local expected = materialise(m, values)
      assert.are.same(m.shape, t:size(), what)
      assert.are.same(expected, t:totable(), what)
      assert.are.same(expected, t:contiguous():totable(), what)
      assert.are.same(expected, t:clone():totable(), what)
      if #m.shape > 0 then
        assert.are.same(check.build(m.shape, function(p) return 2 * check.flatten(expected)[p] + 1 end),
                        (t * 2 + 1):totable(), what)
        local d = rng(#m.shape)
        local sums = t:sum(d):view(-1):totable()
        local reduced = copy(m.shape)
        reduced[d] = 1
        local count = 1
        for _, s in ipairs(reduced) do count = count * s end
        for p = 1, count do
          local idx, acc = unflatten(reduced, p), 0
          for k = 1, m.shape[d] do
            idx[d] = k
            acc = acc + values[m.pos(idx)]
          end
          assert.are.equal(acc, sums[p], what .. ' sum over dim ' .. d)
        end
      end
      if not expanded and not copied and #m.shape > 0 then
        -- write through the view, then check the base element by element
        local size = 1
        for _, s in ipairs(m.shape) do size = size * s end
        local src = lc.arange(1000, 1000 + size, { dtype = 'float64' }):view(table.unpack(m.shape))
        local before = base_t:view(-1):totable()
        t:copy_(src)
        local after = base_t:contiguous():view(-1):totable()
        for p = 1, size do before[m.pos(unflatten(m.shape, p))] = 999 + p end
        assert.are.same(before, after, what .. ' write')
      end
    end
  end)
end)

describe('channels-last (issue 16)', function()
  it('lays (N, C, H, W) out as (N, H, W, C) with the same values, and says which layout it has', function()
    local x = lc.randn(2, 3, 4, 5)
    local y = x:contiguous(lc.channels_last)
    assert.are.same({ 60, 1, 15, 3 }, y:stride())
    assert.is_true(y:is_contiguous('channels_last'))
    assert.is_false(y:is_contiguous())
    assert.is_false(x:is_contiguous { memory_format = 'channels_last' })
    assert.are.same(x:tolist(), y:tolist())
    assert.equal(y, y:contiguous('channels_last'))      -- already so: the same tensor
    assert.are.same({ 60, 20, 5, 1 }, y:contiguous():stride())
    -- size-1 dims do not decide the layout, as PyTorch's rule
    assert.is_true(lc.randn(1, 3, 1, 1):is_contiguous('channels_last'))
  end)

  it('every layer gives the same result and gradient for either layout', function()
    lc.manual_seed(4)
    local x = lc.randn(2, 3, 8, 8, { requires_grad = true })
    local net = lc.nn.Sequential(lc.nn.Conv2d(3, 4, 3, { padding = 1 }), lc.nn.BatchNorm2d(4),
                                 lc.nn.ReLU(), lc.nn.MaxPool2d(2), lc.nn.AvgPool2d(2))
    local a = net(x)
    a:sum():backward()
    local gx = x.grad:clone()
    x.grad = nil
    local b = net(x:contiguous('channels_last'))
    b:sum():backward()
    check.close(b, a, 1e-6)
    check.close(x.grad, gx, 1e-6)
  end)

  it('refuses what it cannot lay out', function()
    check.raises(function() lc.randn(3, 4):contiguous('channels_last') end, 'contiguous', '4-D', '(3, 4)')
    check.raises(function() lc.randn(1, 1, 2, 2):contiguous('nhwc') end, 'contiguous', 'nhwc', 'channels_last')
  end)
end)
