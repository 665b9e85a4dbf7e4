-- Every differentiable op against central finite differences in float64, and the rules
-- of the autograd engine: accumulation, no_grad, detach, requires_grad, retain_graph,
-- version checks and in-place writes.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')
local gc = dofile(dir .. 'helpers/gradcheck.lua')
local gradcheck, leaf, randleaf, uleaf = gc.gradcheck, gc.leaf, gc.randleaf, gc.uleaf

local function F64(data) return lc.tensor(data, { dtype = 'float64' }) end

describe('gradcheck itself', function()
  it('catches a wrong gradient', function()
    -- detach hides a factor from autograd, so the analytical gradient is half the true one
    local x = randleaf(3)
    local ok, err = pcall(gradcheck, function(a) return a * a:detach() end, { x })
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find('analytical', 1, true))
  end)
end)

describe('gradients of unary ops', function()
  before_each(function() lc.manual_seed(11) end)
  local cases = {
    neg = function(x) return x:neg() end,
    unm = function(x) return -x end,
    exp = function(x) return x:exp() end,
    log = { function(x) return x:log() end, 0.5, 2 },
    sqrt = { function(x) return x:sqrt() end, 0.5, 2 },
    abs = function(x) return x:abs() end,
    sigmoid = function(x) return x:sigmoid() end,
    tanh = function(x) return x:tanh() end,
    relu = function(x) return x:relu() end,
    reciprocal = { function(x) return x:reciprocal() end, 0.5, 2 },
    square = function(x) return x:square() end,
    sign = function(x) return x:sign() * 3 + x end,
    clamp = function(x) return x:clamp(-0.5, 0.5) end,
    clamp_min = function(x) return x:clamp(0) end,
    clamp_max = function(x) return x:clamp(nil, 0.2) end,
    pow_int = function(x) return x ^ 3 end,
    pow_half = { function(x) return x ^ 0.5 end, 0.5, 2 },
    pow_negative = { function(x) return x ^ -1.5 end, 0.5, 2 },
    pow_method = function(x) return x:pow(2) end,
    rpow = function(x) return 2 ^ x end,
    add_scalar = function(x) return x + 2 end,
    radd_scalar = function(x) return 2 + x end,
    sub_scalar = function(x) return x - 2 end,
    rsub_scalar = function(x) return 2 - x end,
    mul_scalar = function(x) return x * 3 end,
    rmul_scalar = function(x) return 3 * x end,
    div_scalar = function(x) return x / 4 end,
    rdiv_scalar = { function(x) return 4 / x end, 0.5, 2 },
    add_method = function(x) return x:add(1.5):sub(0.5):mul(2):div(3) end,
    functional = function(x) return lc.tanh(lc.exp(x)) end,
  }
  for name, case in pairs(cases) do
    it(name, function()
      local f, lo, hi = case, nil, nil
      if type(case) == 'table' then f, lo, hi = case[1], case[2], case[3] end
      local x = lo and uleaf(lo, hi, 3, 4) or randleaf(3, 4)
      gradcheck(f, { x })
      -- the same op on a non-contiguous input
      local y = lo and uleaf(lo, hi, 4, 3) or randleaf(4, 3)
      gradcheck(function(a) return f(a:t()) end, { y })
    end)
  end
end)

describe('gradients of binary ops with broadcasting', function()
  before_each(function() lc.manual_seed(12) end)
  local ops = {
    add = function(a, b) return a + b end,
    sub = function(a, b) return a - b end,
    mul = function(a, b) return a * b end,
    div = function(a, b) return a / b end,
    pow = function(a, b) return a ^ b end,
    maximum = function(a, b) return a:maximum(b) end,
    minimum = function(a, b) return a:minimum(b) end,
    add_method = function(a, b) return a:add(b) end,
  }
  local shapes = { { { 2, 3 }, { 2, 3 } }, { { 2, 3 }, { 3 } }, { { 3 }, { 2, 3 } }, { { 2, 1 }, { 1, 3 } },
                   { {}, { 2, 3 } }, { { 2, 3 }, {} }, { { 2, 1, 3 }, { 4, 1 } } }
  for name, f in pairs(ops) do
    it(name, function()
      for _, s in ipairs(shapes) do
        local a, b
        if name == 'pow' or name == 'div' then
          a, b = uleaf(0.5, 2, table.unpack(s[1])), uleaf(0.5, 2, table.unpack(s[2]))
        else
          a, b = randleaf(table.unpack(s[1])), randleaf(table.unpack(s[2]))
        end
        gradcheck(f, { a, b })
      end
    end)
  end

  it('mixes float32 and float64 inputs, each gradient in its input dtype', function()
    local a = lc.randn(2, 3, { requires_grad = true })
    local b = randleaf(3)
    local y = a * b
    assert.are.equal('float64', y.dtype)
    y:sum():backward()
    assert.are.equal('float32', a.grad.dtype)
    assert.are.equal('float64', b.grad.dtype)
    check.close(a.grad, b:expand(2, 3):detach(), 1e-6)
    check.close(b.grad, a:sum(1):detach():double(), 1e-6)
  end)

  it('where', function()
    local cond = F64({ { 1, -1, 2 }, { -3, 4, -1 } }):gt(0)
    gradcheck(function(a, b) return lc.where(cond, a, b) end, { randleaf(2, 3), randleaf(2, 3) })
    gradcheck(function(a, b) return lc.where(cond, a, b) end, { randleaf(3), randleaf() })
    gradcheck(function(a) return lc.where(cond, a, 0) end, { randleaf(2, 1) })
    gradcheck(function(b) return lc.where(cond, 1, b) end, { randleaf(2, 3) })
  end)
end)

describe('gradients of reductions', function()
  before_each(function() lc.manual_seed(13) end)
  local x = function() return randleaf(2, 3, 4) end
  local cases = {
    sum_all = function(a) return a:sum() end,
    sum_dim = function(a) return a:sum(2) end,
    sum_dims_keepdim = function(a) return a:sum({ 1, 3 }, true) end,
    sum_negative = function(a) return a:sum(-1) end,
    mean_all = function(a) return a:mean() end,
    mean_dim = function(a) return a:mean(3) end,
    mean_keepdim = function(a) return a:mean({ 1, 2 }, { keepdim = true }) end,
    var_all = function(a) return a:var() end,
    var_dim = function(a) return a:var(2) end,
    var_biased = function(a) return a:var({ 1, 3 }, { unbiased = false, keepdim = true }) end,
    std_all = function(a) return a:std() end,
    std_dim = function(a) return a:std(3) end,
    max_dim = function(a) return (a:max(2)) end,
    max_keepdim = function(a) return (a:max(-1, true)) end,
    min_dim = function(a) return (a:min(1)) end,
    max_all = function(a) return a:max() end,
    min_all = function(a) return a:min() end,
    noncontiguous_sum = function(a) return a:transpose(1, 3):sum(2) end,
    noncontiguous_max = function(a) return (a:permute(3, 1, 2):max(1)) end,
  }
  for name, f in pairs(cases) do
    it(name, function() gradcheck(f, { x() }) end)
  end
  it('prod (away from zero)', function()
    gradcheck(function(a) return a:prod() end, { uleaf(0.5, 1.5, 2, 3) })
    gradcheck(function(a) return a:prod(2) end, { uleaf(0.5, 1.5, 2, 3) })
    gradcheck(function(a) return a:prod(1, true) end, { uleaf(-1.5, -0.5, 3, 2) })
  end)
  it('prod with zeros: one zero gets the product of the others, two zeros give nothing', function()
    local x = leaf { { 0, 2, 3 }, { 1, 0, 0 }, { 4, 5, 6 } }
    gradcheck(function(a) return a:prod(2) end, { x })
    gradcheck(function(a) return a:prod(1, true) end, { leaf { { 0, 2 }, { 3, 0 }, { 5, 7 } } })
    gradcheck(function(a) return a:prod() end, { leaf { 2, 0, 3 } })
    local y = leaf { 0, 2, 3 }
    y:prod():backward()
    assert.are.same({ 6, 0, 0 }, y.grad:totable())
  end)
end)

describe('gradients of matmul', function()
  before_each(function() lc.manual_seed(14) end)
  local cases = {
    ['2d x 2d'] = { { 3, 4 }, { 4, 2 } },
    ['1d x 1d'] = { { 4 }, { 4 } },
    ['2d x 1d'] = { { 3, 4 }, { 4 } },
    ['1d x 2d'] = { { 4 }, { 4, 2 } },
    ['3d x 3d'] = { { 2, 3, 4 }, { 2, 4, 2 } },
    ['3d x 2d'] = { { 2, 3, 4 }, { 4, 2 } },
    ['2d x 3d'] = { { 3, 4 }, { 2, 4, 2 } },
    ['3d x 1d'] = { { 2, 3, 4 }, { 4 } },
    ['1d x 3d'] = { { 4 }, { 2, 4, 2 } },
    ['broadcast batch'] = { { 2, 1, 3, 4 }, { 3, 4, 2 } },
  }
  for name, s in pairs(cases) do
    it(name, function()
      gradcheck(function(a, b) return a:matmul(b) end,
                { randleaf(table.unpack(s[1])), randleaf(table.unpack(s[2])) })
    end)
  end
  it('non-contiguous operands', function()
    gradcheck(function(a, b) return a:t():matmul(b:t()) end, { randleaf(4, 3), randleaf(2, 4) })
    gradcheck(function(a, b) return a:expand(3, 4):matmul(b) end, { randleaf(1, 4), randleaf(4, 2) })
    gradcheck(function(a, b) return a:transpose(2, 3):matmul(b) end, { randleaf(2, 4, 3), randleaf(4, 2) })
    gradcheck(function(a, b) return a[{ {}, { 2 }, 1 }]:matmul(b) end, { randleaf(3, 2, 2), randleaf(1, 3) })
    gradcheck(function(a, b) return lc.mm(a, b:narrow(2, 2, 3)) end, { randleaf(2, 4), randleaf(4, 5) })
  end)
end)

describe('gradients through views', function()
  before_each(function() lc.manual_seed(15) end)
  local cases = {
    view = function(a) return a:view(4, 6) * F64(lc.arange(24):view(4, 6)) end,
    view_infer = function(a) return a:view(-1, 2):exp() end,
    reshape = function(a) return a:reshape(6, 4):tanh() end,
    reshape_noncontiguous = function(a) return a:t():reshape(-1):exp() end,
    transpose = function(a) return a:transpose(1, 2):exp() end,
    t = function(a) return a:t() * F64(lc.arange(24):view(6, 4)) end,
    permute = function(a) return a:permute(2, 1):exp() end,
    narrow = function(a) return a:narrow(2, 2, 3):exp() end,
    select = function(a) return a:select(1, 3):exp() end,
    select_negative = function(a) return a:select(2, -1) * 2 end,
    expand = function(a) return a:narrow(1, 1, 1):expand(3, 6):exp() end,
    expand_new_dims = function(a) return a:expand(2, 4, 6) * F64(lc.arange(48):view(2, 4, 6)) end,
    squeeze = function(a) return a:view(4, 1, 6):squeeze():exp() end,
    squeeze_dim = function(a) return a:view(1, 4, 6):squeeze(1):exp() end,
    unsqueeze = function(a) return a:unsqueeze(2):exp() end,
    flatten = function(a) return a:flatten():exp() end,
    flatten_range = function(a) return a:view(2, 2, 6):flatten(1, 2):exp() end,
    index_range = function(a) return a[{ {}, { 2, 3 } }]:exp() end,
    index_row = function(a) return a[2]:exp() end,
    index_mixed = function(a) return a[{ -1, { 1, 2 } }]:exp() end,
    index_negative_range = function(a) return a[{ { -2, -1 }, { 5, 6 } }] * 3 end,
    view_of_view = function(a) return a:t():narrow(1, 2, 3):select(2, 2):exp() end,
    contiguous = function(a) return a:t():contiguous():exp() end,
    clone = function(a) return a:clone() * a end,
  }
  for name, f in pairs(cases) do
    it(name, function() gradcheck(f, { randleaf(4, 6) }) end)
  end
end)

describe('gradients through random chains of views', function()
  it('match finite differences', function()
    local seed = 77
    local function rng(n)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    -- each maker looks at the current shape and returns a fixed step, or nil
    local makers = {
      function(s) if #s >= 2 then local a, b = rng(#s), rng(#s) return function(t) return t:transpose(a, b) end end end,
      function(s) if #s == 0 then return end local d = rng(#s) if s[d] > 1 then local st = rng(s[d] - 1) local len = rng(s[d] - st + 1)
        return function(t) return t:narrow(d, st, len) end end end,
      function(s) if #s >= 2 then local d = rng(#s) local i = rng(s[d]) return function(t) return t:select(d, i) end end end,
      function(s) if #s < 4 then local d = rng(#s + 1) return function(t) return t:unsqueeze(d) end end end,
      function(s)
        local target, any = {}, false
        for d = 1, #s do target[d] = s[d] if s[d] == 1 then target[d] = rng(3) any = true end end
        if any then return function(t) return t:expand(table.unpack(target)) end end
      end,
      function(s) if #s >= 2 then return function(t) return t:flatten() end end end,
      function(s) return function(t) return t:reshape(-1, 1) end end,
      function(s) return function(t) return t:squeeze() end end,
      function(s) return function(t) return t[{ {} }] end end,
    }
    for _ = 1, 40 do
      local probe = lc.zeros(3, 4)
      local steps = {}
      for _ = 1, rng(4) + 1 do
        local step = makers[rng(#makers)](probe:size())
        if step then
          steps[#steps + 1] = step
          probe = step(probe)
        end
      end
      gradcheck(function(a)
        local t = a
        for _, step in ipairs(steps) do t = step(t) end
        return t:exp()
      end, { randleaf(3, 4) })
    end
  end)
end)

describe('gradients of joins, copies and conversions', function()
  before_each(function() lc.manual_seed(16) end)
  it('cat', function()
    gradcheck(function(a, b) return lc.cat { a, b } end, { randleaf(2, 3), randleaf(1, 3) })
    gradcheck(function(a, b) return lc.cat({ a, b }, 2):exp() end, { randleaf(2, 3), randleaf(2, 1) })
    gradcheck(function(a, b) return lc.cat({ a, b, a }, -1) end, { randleaf(2, 3), randleaf(2, 2) })
  end)
  it('cat of many inputs', function()
    local xs = {}
    for i = 1, 11 do xs[i] = randleaf(i % 3 + 1) end
    gradcheck(function(...) return lc.cat { ... } end, xs)
  end)
  it('stack', function()
    gradcheck(function(a, b) return lc.stack { a, b } end, { randleaf(2, 3), randleaf(2, 3) })
    gradcheck(function(a, b) return lc.stack({ a, b }, 3):exp() end, { randleaf(2, 3), randleaf(2, 3) })
  end)
  it('to(dtype) and back', function()
    gradcheck(function(a) return a:float():exp():double() end, { randleaf(2, 3) },
              { eps = 1e-2, atol = 2e-2, rtol = 1e-2 })
    local x = randleaf(3)
    local y = x:float()
    assert.are.equal('ToDtype', y.grad_fn)
    y:sum():backward()
    assert.are.equal('float64', x.grad.dtype)
    assert.are.same({ 1, 1, 1 }, x.grad:totable())
  end)
end)

describe('gradients through in-place writes', function()
  before_each(function() lc.manual_seed(17) end)
  it('of a slice of a fresh tensor: y[{2}] = x * 2', function()
    gradcheck(function(x)
      local y = lc.zeros(3, 2, { dtype = 'float64' })
      y[{ 2 }] = x * 2
      return y * y
    end, { randleaf(2) })
  end)

  it('over part of a computed tensor', function()
    gradcheck(function(x, w)
      local y = x * 1
      y[{ 1 }] = w
      y[{ {}, 2 }] = 0
      return y:exp()
    end, { randleaf(3, 2), randleaf(2) })
  end)

  it('with a broadcast tensor and an index range', function()
    gradcheck(function(x, w)
      local y = x:clone()
      y[{ { 2, 3 }, {} }] = w
      return y * x
    end, { randleaf(3, 4), randleaf(4) })
  end)

  it('by in-place arithmetic on a non-leaf', function()
    gradcheck(function(x, z)
      local y = x * 1
      y:mul_(2)
      y:add_(z)
      y:sub_(x)
      y:div_(3)
      return y * x
    end, { randleaf(2, 3), randleaf(3) })
  end)

  it('by copy_, fill_ and zero_ into views', function()
    gradcheck(function(x, w)
      local y = x:exp()
      y = y * 1 -- exp saved its output: write into a copy
      y:narrow(1, 1, 1):copy_(w)
      y:select(2, 3):fill_(0.5)
      y:t()[2]:zero_()
      return y * y
    end, { randleaf(3, 3), randleaf(1, 3) })
  end)

  it('then reading the slice written', function()
    gradcheck(function(x, w)
      local y = x * 1
      local v = y:narrow(2, 2, 2)
      v:copy_(w * 3)
      return v:exp() + y:sum()
    end, { randleaf(2, 4), randleaf(2, 2) })
  end)

  it('on a non-contiguous input', function()
    gradcheck(function(x)
      local y = x:t():contiguous()
      y[{ 1, {} }] = y[{ 2, {} }] * 2
      return y
    end, { randleaf(3, 2) })
  end)
end)

describe('the autograd engine', function()
  it('accumulates into leaves across backward calls', function()
    local x = leaf { 1, 2, 3 }
    ;(x * x):sum():backward()
    assert.are.same({ 2, 4, 6 }, x.grad:totable())
    local g = x.grad
    ;(x * 3):sum():backward()
    assert.are.same({ 5, 7, 9 }, x.grad:totable())
    assert.are.equal(g, x.grad) -- updated in place: optimizers holding it see new values
    assert.are.same({ 5, 7, 9 }, g:totable())
    x:zero_grad()
    assert.is_nil(x.grad)
    x.grad = nil
    ;(x * 2):sum():backward()
    assert.are.same({ 2, 2, 2 }, x.grad:totable())
  end)

  it('sums gradients of a tensor used several times', function()
    local x = leaf { 1, 2 }
    local y = x * x + x * 3 + x:exp():log()
    y:sum():backward()
    check.close(x.grad, { 2 * 1 + 3 + 1, 2 * 2 + 3 + 1 }, 1e-12)
  end)

  it('takes an explicit gradient for non-scalar outputs', function()
    local x = leaf { 1, 2, 3 }
    local y = x * 2
    y:backward(F64 { 1, 10, 100 })
    assert.are.same({ 2, 20, 200 }, x.grad:totable())
    check.raises(function() (x * 2):backward() end, 'backward', 'one-element', '(3)')
    check.raises(function() (x * 2):backward(F64 { 1, 2 }) end, 'backward', '(2)', '(3)')
  end)

  it("a weight used through :t() gets a contiguous gradient, x^T g, in its own layout", function()
    -- nn.Linear's product: the gradient is computed column-major so that the transpose hands
    -- the weight a contiguous one (kept without a copy)
    for _, shape in ipairs { { 5, 3, 4 }, { 1, 3, 4 }, { 5, 1, 4 } } do
      local n, k, m = shape[1], shape[2], shape[3]
      local x, w = randleaf(n, k), randleaf(m, k)
      local g = lc.randn(n, m, { dtype = 'float64' })
      x:matmul(w:t()):backward(g)
      assert.is_true(w.grad:is_contiguous())
      assert.are.same({ m, k }, { w.grad:size(1), w.grad:size(2) })
      check.close(w.grad, g:t():matmul(x:detach()), 1e-12)
      check.close(x.grad, g:matmul(w:detach()), 1e-12)
    end
    gradcheck(function(a, b) return a:t():matmul(b:t()) end, { randleaf(3, 4), randleaf(2, 3) })
    gradcheck(function(a, b) return a:transpose(2, 3):matmul(b) end, { randleaf(2, 3, 4), randleaf(2, 3, 2) })
  end)

  it("a leaf's gradient never shares memory with a tensor the user holds", function()
    local x = leaf { 1, 2, 3 }
    local g = F64 { 1, 1, 1 }
    x:backward(g)                       -- the root is the leaf: the seed is the user's g
    x.grad:add_(1)
    assert.are.same({ 1, 1, 1 }, g:totable())
    local y = leaf { 1, 2, 3 }
    local h = F64 { 1, 1, 1 }
    y:view(3):backward(h)               -- a view passes h's storage straight through
    y.grad:mul_(5)
    assert.are.same({ 1, 1, 1 }, h:totable())
    local z = leaf { 1, 2 }
    local s = z * 1
    s:backward(F64 { 2, 3 })
    local first = z.grad
    ;(z * 1):backward(F64 { 1, 1 })     -- the second pass adds into the same .grad
    assert.are.equal(first, z.grad)
    assert.are.same({ 3, 4 }, z.grad:totable())
  end)

  it('backward from a leaf seeds its gradient', function()
    local x = leaf(5)
    x:backward()
    assert.are.equal(1, x.grad:item())
  end)

  it('refuses backward on tensors without history', function()
    check.raises(function() lc.ones(1):backward() end, 'backward', 'does not require grad')
    local x = leaf { 1 }
    check.raises(function() lc.no_grad(function() return x * 2 end):backward() end, 'backward', 'require grad')
  end)

  it('follows requires_grad rules', function()
    local x = leaf { 1, 2 }
    local c = F64 { 3, 4 }
    assert.is_true(x.requires_grad)
    assert.is_true(x.is_leaf)
    assert.is_nil(x.grad_fn)
    assert.is_false(c.requires_grad)
    assert.is_false((c * 2).requires_grad)
    assert.is_nil((c * 2).grad_fn)
    local y = x * c
    assert.is_true(y.requires_grad)
    assert.is_false(y.is_leaf)
    assert.are.equal('mul', y.grad_fn)
    assert.are.equal('Sum', y:sum().grad_fn)
    assert.are.equal('MatMul', x:view(1, 2):matmul(c:view(2, 1)).grad_fn)
    -- setting it on leaves
    c.requires_grad = true
    assert.is_true(c.requires_grad)
    c.requires_grad = false
    assert.is_false(c.requires_grad)
    assert.are.equal(c, c:requires_grad_())
    assert.is_true(c.requires_grad)
    c:requires_grad_(false)
    assert.is_false(c.requires_grad)
    check.raises(function() y.requires_grad = false end, 'requires_grad', 'leaf')
    check.raises(function() lc.arange(3).requires_grad = true end, 'requires_grad', 'float', 'int64')
    check.raises(function() lc.arange(3):requires_grad_() end, 'requires_grad_', 'int64')
    -- integer results of differentiable inputs carry no history
    local idx = x:argmax()
    assert.is_false(idx.requires_grad)
    assert.is_false(x:gt(1).requires_grad)
    local _, i = x:max(1)
    assert.is_false(i.requires_grad)
  end)

  it('no_grad turns recording off, returns results and restores the mode on errors', function()
    local x = leaf { 1, 2 }
    local y, z = lc.no_grad(function() return x * 2, x + 1 end)
    assert.is_false(y.requires_grad)
    assert.is_false(z.requires_grad)
    assert.is_true(lc.is_grad_enabled())
    assert.is_false(lc.no_grad(lc.is_grad_enabled))
    local ok = pcall(lc.no_grad, function() error('boom') end)
    assert.is_false(ok)
    assert.is_true(lc.is_grad_enabled())
    -- nested, and set_grad_enabled returning the previous mode
    lc.no_grad(function()
      assert.is_true(lc.enable_grad(function() return (x * 2).requires_grad end))
      assert.is_false((x * 2).requires_grad)
    end)
    assert.is_true(lc.set_grad_enabled(false))
    assert.is_false((x * 2).requires_grad)
    assert.is_false(lc.set_grad_enabled(true))
    assert.is_true((x * 2).requires_grad)
  end)

  it('detach shares storage and cuts history', function()
    local x = leaf { 1, 2 }
    local y = x * 3
    local d = y:detach()
    assert.is_false(d.requires_grad)
    assert.is_true(d.is_leaf)
    assert.are.same({ 3, 6 }, d:totable())
    local x2 = x:detach()
    x2[1] = 10
    assert.are.equal(10, x[1]:item())
    local z = (x * d):sum()
    z:backward()
    assert.are.same({ 3, 6 }, x.grad:totable()) -- d is a constant
  end)

  it('backward twice needs retain_graph, and a refused backward leaves grad mode on', function()
    local x = leaf { 1, 2 }
    local y = (x * x):sum()
    y:backward({ retain_graph = true })
    y:backward()
    assert.are.same({ 4, 8 }, x.grad:totable())
    check.raises(function() y:backward() end, 'backward', 'second time', 'retain_graph')
    assert.is_true(lc.is_grad_enabled())
    assert.is_true((x * 2).requires_grad)
    -- retain_graph as the third argument, after an explicit gradient
    local v = x * 2
    v:backward(F64 { 1, 1 }, { retain_graph = true })
    v:backward(F64 { 1, 1 })
    assert.are.same({ 8, 12 }, x.grad:totable())
  end)

  it('detects saved tensors modified in place', function()
    local x = leaf { 1, 2 }
    local y = x:exp() -- saves its output
    local z = y:sum()
    y:add_(1)
    check.raises(function() z:backward() end, 'backward', 'modified by an in-place operation')
    assert.is_true(lc.is_grad_enabled())
    -- through a detached alias of a saved input
    local w = F64 { 3, 4 }
    local p = (x * w):sum()
    w:detach()[1] = 0
    check.raises(function() p:backward() end, 'in-place')
    -- a slice write bumps the whole storage's version
    local a = x * 1
    local b = a * a
    a[1] = 0
    check.raises(function() b:sum():backward() end, 'in-place')
    assert.is_nil(x.grad)
  end)

  it('refuses in-place writes to leaves that require grad, except under no_grad', function()
    local x = leaf { 1, 2, 3 }
    check.raises(function() x[1] = 0 end, 'in-place', 'leaf')
    check.raises(function() x:add_(1) end, 'in-place', 'leaf')
    check.raises(function() x:fill_(0) end, 'in-place', 'leaf')
    check.raises(function() x:narrow(1, 1, 2):zero_() end, 'in-place', 'leaf')
    check.raises(function() x:copy_(F64 { 1, 1, 1 }) end, 'in-place', 'leaf')
    assert.are.same({ 1, 2, 3 }, x:totable())
    lc.no_grad(function()
      x:mul_(2)
      x[1] = -1
    end)
    assert.are.same({ -1, 4, 6 }, x:totable())
    assert.is_true(x.is_leaf)
  end)

  it('handles long chains without deep recursion', function()
    local x = leaf { 1 }
    local y = x
    for _ = 1, 20000 do y = y * 1.0001 + 0 end
    y:sum():backward()
    check.close(x.grad, { 1.0001 ^ 20000 }, 1e-9)
    y = nil
    collectgarbage()
  end)
end)

describe('views of rewritten bases', function()
  -- A view taken before an in-place write to its base reads the new values, so its
  -- gradient must follow the base's new history (PyTorch regenerates the view's grad_fn).
  it('a view made before an in-place write to its base sees the new history', function()
    local x = leaf { { 1, 2 }, { 3, 4 } }
    local w = leaf { 5, 6 }
    local y = x * 1
    local v = y[1]
    y[1] = w
    v:sum():backward()
    assert.are.same({ 1, 1 }, w.grad:totable())
    assert.are.same({ { 0, 0 }, { 0, 0 } }, x.grad:totable())
  end)
end)
