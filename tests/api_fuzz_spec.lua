-- API fuzzer: random sequences of tensor ops over random shapes (0 to 3 dims, sizes 0 to 4),
-- dtypes (float32, float64, int64, uint8) and views (transpose, permute, narrow, select,
-- unsqueeze, expand), each result checked against a float64 reference computed here in plain
-- Lua. The only failure allowed is a clean Lua error (a string) that names the op. Then
-- every binary op family (elementwise, matmul, conv, losses) over every dtype pair, checked
-- against PyTorch's rule: the result has torch.promote_types' dtype, or the call is refused
-- with such an error (elementwise ops, which PyTorch always promotes, must promote).
-- Fixed seed and step count (LUACNN_API_FUZZ_SEED / _STEPS to explore); a few seconds.
local lc = require 'luacnn'
local F = lc.nn.functional

local SEED = tonumber(os.getenv('LUACNN_API_FUZZ_SEED') or 20261202)
local STEPS = tonumber(os.getenv('LUACNN_API_FUZZ_STEPS') or 3000)
local DTYPES = {'float32', 'float64', 'int64', 'uint8'}
local is_float = {float32 = true, float64 = true}

-- PyTorch's promotion of two tensors' dtypes (torch.promote_types) over these four.
local rank = {uint8 = 1, int64 = 2, float32 = 3, float64 = 4}
local function promote(a, b) return rank[a] >= rank[b] and a or b end
-- torch.result_type of two tensors with their dims: a 0-dim tensor takes part only when it
-- is of a higher category (float over integer) than the tensors with dims
local function result_type(a, adim, b, bdim)
  if (adim == 0) == (bdim == 0) then return promote(a, b) end
  local dimmed, zero = adim == 0 and b or a, adim == 0 and a or b
  if is_float[zero] and not is_float[dimmed] then return zero end
  return dimmed
end

-- ---- the reference: shape + row-major flat values (Lua numbers) ----

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

local function each_index(shape, fn)
  local n = numel(shape)
  local idx = {}
  for d = 1, #shape do idx[d] = 1 end
  for k = 1, n do
    fn(idx, k)
    for d = #shape, 1, -1 do
      idx[d] = idx[d] + 1
      if idx[d] <= shape[d] then break end
      idx[d] = 1
    end
  end
end

local function offset(shape, idx)
  local o = 0
  for d = 1, #shape do o = o * shape[d] + (idx[d] - 1) end
  return o + 1
end

local function make(shape, dtype, fn)
  local data = {}
  each_index(shape, function(idx, k) data[k] = fn(idx) end)
  return {shape = shape, dtype = dtype, data = data}
end

local function at(ref, idx) return ref.data[offset(ref.shape, idx)] end

local function f32(v) return (string.unpack('f', string.pack('f', v))) end

local function cast(v, dtype)
  if dtype == 'float32' then return f32(v) end
  if dtype == 'float64' then return v + 0.0 end
  if dtype == 'uint8' then return math.tointeger(v) % 256 end
  return math.tointeger(v)
end

local function nested(ref)
  if #ref.shape == 0 then return ref.data[1] end
  local function build(d, base)
    local out = {}
    local stride = 1
    for e = d + 1, #ref.shape do stride = stride * ref.shape[e] end
    for i = 1, ref.shape[d] do
      local o = base + (i - 1) * stride
      out[i] = d == #ref.shape and ref.data[o + 1] or build(d + 1, o)
    end
    return out
  end
  return build(1, 0)
end

local function to_tensor(ref)
  if numel(ref.shape) == 0 then
    local args = {table.unpack(ref.shape)}
    args[#args + 1] = {dtype = ref.dtype}
    return lc.zeros(table.unpack(args))
  end
  return lc.tensor(nested(ref), {dtype = ref.dtype})
end

-- ---- random inputs ----

local rnd = math.random
local function random_value(dtype)
  if dtype == 'uint8' then return rnd(0, 20) end
  if dtype == 'int64' then return rnd(-20, 20) end
  return cast((rnd() * 6 - 3), dtype)
end

local function random_shape()
  local nd = rnd(0, 3)
  local shape = {}
  for d = 1, nd do shape[d] = rnd(0, 9) == 0 and 0 or rnd(1, 4) end
  return shape
end

local function random_ref(shape, dtype)
  return make(shape, dtype, function() return random_value(dtype) end)
end

-- ---- checking ----

local failures = {}
local function fail(msg) failures[#failures + 1] = msg end

local function close(a, b, dtype)
  if a ~= a and b ~= b then return true end
  if a == b then return true end
  if math.abs(a) == math.huge or math.abs(b) == math.huge then return false end
  local tol = dtype == 'float32' and 2e-5 or dtype == 'float64' and 1e-12 or 0
  return math.abs(a - b) <= tol * (1 + math.abs(b))
end

local function flat(t)
  local v = t:dim() == 0 and t:item() or t:totable()
  local out = {}
  local function walk(x) if type(x) == 'table' then for i = 1, #x do walk(x[i]) end else out[#out + 1] = x end end
  walk(v)
  return out
end

local function same_shape(t, shape)
  local s = t:size()
  if #s ~= #shape then return false end
  for d = 1, #shape do if s[d] ~= shape[d] then return false end end
  return true
end

-- Compares tensor t with reference r (values cast to r.dtype) after `what`.
local function check(t, r, what)
  if not lc.is_tensor(t) then return fail(what .. ': returned a ' .. type(t)) end
  if t.dtype ~= r.dtype then return fail(string.format('%s: dtype %s, expected %s', what, t.dtype, r.dtype)) end
  if not same_shape(t, r.shape) then
    return fail(string.format('%s: shape %s, expected (%s)', what, tostring(t:shape()), table.concat(r.shape, ', ')))
  end
  local got = flat(t)
  for k = 1, #r.data do
    local want = r.data[k]
    if not close(got[k], want, r.dtype) then
      return fail(string.format('%s: element %d is %s, expected %s', what, k, tostring(got[k]), tostring(want)))
    end
  end
end

-- Runs fn; a clean error must be a string naming one of `names`. Returns ok, result.
local function guarded(what, names, fn)
  local ok, res = pcall(fn)
  if ok then return true, res end
  if type(res) ~= 'string' then fail(what .. ': non-string error ' .. tostring(res)) return false end
  for _, n in ipairs(names) do if res:find(n, 1, true) then return false, res end end
  fail(what .. ': error does not name the op: ' .. res)
  return false, res
end

-- ---- ops: each {name, arity, applies(refs), run(tensors), reference(refs) -> ref} ----

local function broadcast_shape(a, b)
  local n = math.max(#a, #b)
  local out = {}
  for i = 1, n do
    local x, y = a[#a - n + i] or 1, b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return nil end
    out[i] = x == 1 and y or x
  end
  return out
end

local function bcast_get(ref, idx, n)
  local sub = {}
  for d = 1, #ref.shape do
    local i = idx[n - #ref.shape + d]
    sub[d] = ref.shape[d] == 1 and 1 or i
  end
  return at(ref, sub)
end

local function elementwise(name, sym, f, result_dtype)
  return {
    name = name, arity = 2, names = {name},
    applies = function(a, b)
      if not broadcast_shape(a.shape, b.shape) then return false end
      if name == 'div' then for _, v in ipairs(b.data) do if v == 0 then return false end end end
      return true
    end,
    run = function(x, y)
      if sym == '+' then return x + y elseif sym == '-' then return x - y elseif sym == '*' then return x * y
      elseif sym == '/' then return x / y end
      return lc[name](x, y)
    end,
    reference = function(a, b)
      local shape = broadcast_shape(a.shape, b.shape)
      local dtype = result_type(a.dtype, #a.shape, b.dtype, #b.shape)
      if result_dtype then dtype = result_dtype(dtype, dtype) end
      local n = #shape
      return make(shape, dtype, function(idx)
        local u, v = bcast_get(a, idx, n), bcast_get(b, idx, n)
        -- operands are converted to the result dtype first (uint8 + int64 in int64, etc.)
        return cast(f(cast(u, dtype), cast(v, dtype)), dtype)
      end)
    end,
  }
end

local function true_div_dtype(a, b)
  local p = promote(a, b)
  return is_float[p] and p or 'float32'
end

local OPS = {
  elementwise('add', '+', function(u, v) return u + v end),
  elementwise('sub', '-', function(u, v) return u - v end),
  elementwise('mul', '*', function(u, v) return u * v end),
  elementwise('div', '/', function(u, v) return u / v end, true_div_dtype),
  elementwise('maximum', nil, function(u, v) if u ~= u or v ~= v then return 0 / 0 end return math.max(u, v) end),
  elementwise('minimum', nil, function(u, v) if u ~= u or v ~= v then return 0 / 0 end return math.min(u, v) end),
}

local function unary(name, f, float_only)
  return {
    name = name, arity = 1, names = {name},
    applies = function() return true end,
    run = function(x) return x[name](x) end,
    reference = function(a)
      local dtype = (float_only and not is_float[a.dtype]) and 'float32' or a.dtype
      return make(a.shape, dtype, function(idx) return cast(f(at(a, idx)), dtype) end)
    end,
  }
end
OPS[#OPS + 1] = unary('abs', math.abs)
OPS[#OPS + 1] = unary('relu', function(v) return math.max(v, 0) end)
OPS[#OPS + 1] = unary('exp', math.exp, true)
OPS[#OPS + 1] = unary('sigmoid', function(v) return 1 / (1 + math.exp(-v)) end, true)
OPS[#OPS + 1] = unary('tanh', function(v)
  if v ~= v then return v end
  if math.abs(v) > 20 then return v > 0 and 1.0 or -1.0 end
  return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1)
end, true)

-- views and shape ops: the reference maps output indices back to input indices
local function view_op(name, pick, apply, shape_of, source)
  return {
    name = name, arity = 1, names = {name},
    prepare = pick,
    run = function(x, p) return apply(x, p) end,
    reference = function(a, p)
      return make(shape_of(a, p), a.dtype, function(idx) return at(a, source(a, p, idx)) end)
    end,
  }
end

OPS[#OPS + 1] = view_op('transpose',
  function(a) if #a.shape >= 2 then local i = rnd(1, #a.shape); local j = rnd(1, #a.shape); return {i, j} end end,
  function(x, p) return x:transpose(p[1], p[2]) end,
  function(a, p) local s = {table.unpack(a.shape)}; s[p[1]], s[p[2]] = s[p[2]], s[p[1]]; return s end,
  function(_, p, idx) local i = {table.unpack(idx)}; i[p[1]], i[p[2]] = i[p[2]], i[p[1]]; return i end)

OPS[#OPS + 1] = view_op('narrow',
  function(a)
    if #a.shape == 0 then return nil end
    local d = rnd(1, #a.shape)
    if a.shape[d] == 0 then return nil end
    local start = rnd(1, a.shape[d]); return {d, start, rnd(0, a.shape[d] - start + 1)}
  end,
  function(x, p) return x:narrow(p[1], p[2], p[3]) end,
  function(a, p) local s = {table.unpack(a.shape)}; s[p[1]] = p[3]; return s end,
  function(_, p, idx) local i = {table.unpack(idx)}; i[p[1]] = i[p[1]] + p[2] - 1; return i end)

OPS[#OPS + 1] = view_op('select',
  function(a)
    if #a.shape == 0 then return nil end
    local d = rnd(1, #a.shape)
    if a.shape[d] == 0 then return nil end
    return {d, rnd(1, a.shape[d])}
  end,
  function(x, p) return x:select(p[1], p[2]) end,
  function(a, p) local s = {table.unpack(a.shape)}; table.remove(s, p[1]); return s end,
  function(_, p, idx) local i = {table.unpack(idx)}; table.insert(i, p[1], p[2]); return i end)

OPS[#OPS + 1] = view_op('unsqueeze',
  function(a) if #a.shape < 3 then return {rnd(1, #a.shape + 1)} end end,
  function(x, p) return x:unsqueeze(p[1]) end,
  function(a, p) local s = {table.unpack(a.shape)}; table.insert(s, p[1], 1); return s end,
  function(_, p, idx) local i = {table.unpack(idx)}; table.remove(i, p[1]); return i end)

OPS[#OPS + 1] = view_op('permute',
  function(a)
    if #a.shape < 2 then return nil end
    local perm = {}
    for d = 1, #a.shape do perm[d] = d end
    for d = #perm, 2, -1 do local j = rnd(1, d); perm[d], perm[j] = perm[j], perm[d] end
    return perm
  end,
  function(x, p) return x:permute(table.unpack(p)) end,
  function(a, p) local s = {}; for d = 1, #p do s[d] = a.shape[p[d]] end; return s end,
  function(_, p, idx) local i = {}; for d = 1, #p do i[p[d]] = idx[d] end; return i end)

OPS[#OPS + 1] = view_op('expand',
  function(a)
    local s, any = {}, false
    for d = 1, #a.shape do
      if a.shape[d] == 1 and rnd(0, 1) == 1 then s[d] = rnd(2, 3); any = true else s[d] = a.shape[d] end
    end
    return any and s or nil
  end,
  function(x, p) return x:expand(table.unpack(p)) end,
  function(_, p) return {table.unpack(p)} end,
  function(a, _, idx) local i = {}; for d = 1, #idx do i[d] = a.shape[d] == 1 and 1 or idx[d] end; return i end)

OPS[#OPS + 1] = view_op('contiguous',
  function() return {} end,
  function(x) return x:contiguous() end,
  function(a) return {table.unpack(a.shape)} end,
  function(_, _, idx) return idx end)

OPS[#OPS + 1] = view_op('reshape',
  function(a) if numel(a.shape) > 0 then return {numel(a.shape)} end end,
  function(x, p) return x:reshape(p[1]) end,
  function(_, p) return {p[1]} end,
  function(a, _, idx)
    local i, rest = {}, idx[1] - 1
    for d = #a.shape, 1, -1 do i[d] = rest % a.shape[d] + 1; rest = rest // a.shape[d] end
    return i
  end)

-- sum over a dim: PyTorch sums integers in int64
OPS[#OPS + 1] = {
  name = 'sum', arity = 1, names = {'sum'},
  prepare = function(a) if #a.shape >= 1 then return {rnd(1, #a.shape)} end end,
  run = function(x, p) return x:sum(p[1]) end,
  reference = function(a, p)
    local dtype = is_float[a.dtype] and a.dtype or 'int64'
    local s = {table.unpack(a.shape)}
    table.remove(s, p[1])
    return make(s, dtype, function(idx)
      local total = dtype == 'int64' and 0 or 0.0
      for k = 1, a.shape[p[1]] do
        local i = {table.unpack(idx)}
        table.insert(i, p[1], k)
        total = total + at(a, i)
      end
      return cast(total, dtype)
    end)
  end,
}

-- matmul of 2-D floats
OPS[#OPS + 1] = {
  name = 'matmul', arity = 2, names = {'matmul'},
  applies = function(a, b)
    return #a.shape == 2 and #b.shape == 2 and a.shape[2] == b.shape[1] and is_float[a.dtype] and is_float[b.dtype]
  end,
  run = function(x, y) return x:matmul(y) end,
  reference = function(a, b)
    local dtype = promote(a.dtype, b.dtype)
    return make({a.shape[1], b.shape[2]}, dtype, function(idx)
      local s = 0.0
      for k = 1, a.shape[2] do s = s + at(a, {idx[1], k}) * at(b, {k, idx[2]}) end
      return cast(s, dtype)
    end)
  end,
}

-- ---- the random sequences ----

describe('API fuzzer', function()
  it(string.format('%d random ops over shapes, dtypes and views match a float64 reference (seed %d)', STEPS, SEED), function()
    math.randomseed(SEED)
    local pool = {}
    local function add(t, r)
      if #pool >= 10 then table.remove(pool, rnd(1, #pool)) end
      pool[#pool + 1] = {t = t, r = r}
    end
    for _ = 1, 4 do
      local r = random_ref(random_shape(), DTYPES[rnd(1, #DTYPES)])
      add(to_tensor(r), r)
    end
    local ran, refused = 0, 0
    for step = 1, STEPS do
      if rnd(1, 6) == 1 then                  -- fresh operands now and then
        local base = pool[rnd(1, #pool)].r
        local shape = rnd(0, 1) == 1 and base.shape or random_shape()
        if rnd(0, 2) == 0 then               -- a broadcastable partner: some dims set to 1
          shape = {table.unpack(shape)}
          for d = 1, #shape do if rnd(0, 2) == 0 then shape[d] = 1 end end
        end
        local r = random_ref(shape, DTYPES[rnd(1, #DTYPES)])
        add(to_tensor(r), r)
      end
      local op = OPS[rnd(1, #OPS)]
      local a = pool[rnd(1, #pool)]
      local b = pool[rnd(1, #pool)]
      if op.arity == 1 then b = nil end
      local p = op.prepare and op.prepare(a.r)   -- drawn once: the parameters of this call
      local usable
      if op.prepare then usable = p ~= nil
      else usable = op.arity == 1 and op.applies(a.r) or (op.arity == 2 and op.applies(a.r, b.r)) end
      if usable then
        local what = string.format('step %d: %s of %s%s %s', step, op.name, a.r.dtype, tostring(a.t:shape()),
                                   b and (b.r.dtype .. tostring(b.t:shape())) or '')
        local ok, t = guarded(what, op.names, function()
          if op.arity == 1 then return op.run(a.t, p) end
          return op.run(a.t, b.t)
        end)
        if ok then
          local r = op.arity == 1 and op.reference(a.r, p) or op.reference(a.r, b.r)
          check(t, r, what)
          -- continue from the tensor's own values: each op is checked alone, rounding
          -- differences of earlier float32 steps do not pile up
          if #failures == 0 then r.data = flat(t) end
          ran = ran + 1
          if numel(r.shape) <= 64 then add(t, r) end
        else
          refused = refused + 1
        end
      elseif op.arity == 2 and not op.prepare and rnd(1, 3) == 1 then
        -- operands the op cannot take (shapes that do not broadcast or align, integer
        -- matmul, a zero divisor is fine to skip): the call must be refused by name
        local what = string.format('step %d: %s of %s%s %s%s (must be refused)', step, op.name, a.r.dtype,
                                   tostring(a.t:shape()), b.r.dtype, tostring(b.t:shape()))
        local needs_refusal = op.name == 'matmul' or not broadcast_shape(a.r.shape, b.r.shape)
        if needs_refusal then
          local ok = guarded(what, op.names, function() return op.run(a.t, b.t) end)
          if ok and op.name ~= 'matmul' then fail(what .. ': was accepted') end
          if not ok then refused = refused + 1 end
        end
      end
      if #failures > 0 then break end
    end
    print(string.format('# api fuzzer: %d ops checked against the reference, %d refused cleanly', ran, refused))
    assert.are.same({}, failures)
  end)
end)

describe('mixed dtypes follow PyTorch (promote, or refuse)', function()
  local function T(dtype, ...) local s = {...}; s[#s + 1] = {dtype = dtype}; return lc.ones(table.unpack(s)) end
  local families = {
    {'add', true, function(a, b) return T(a, 2, 3) + T(b, 3) end},
    {'sub', true, function(a, b) return T(a, 2, 3) - T(b, 2, 1) end},
    {'mul', true, function(a, b) return T(a, 3) * T(b, 2, 3) end},
    {'div', true, function(a, b) return T(a, 2, 3) / T(b, 3) end, true_div_dtype},
    {'maximum', true, function(a, b) return lc.maximum(T(a, 2, 3), T(b, 3)) end},
    {'minimum', true, function(a, b) return lc.minimum(T(a, 3), T(b, 3)) end},
    {'matmul', false, function(a, b) return T(a, 2, 3):matmul(T(b, 3, 4)) end},
    {'linear', false, function(a, b) return F.linear(T(a, 2, 3), T(b, 4, 3)) end},
    {'conv2d', false, function(a, b) return F.conv2d(T(a, 1, 1, 4, 4), T(b, 2, 1, 3, 3)) end},
    {'mse_loss', false, function(a, b) return F.mse_loss(T(a, 2, 3), T(b, 2, 3)) end},
    {'cross_entropy', false, function(a, b) return F.cross_entropy(T(a, 2, 3), T(b, 2, 3)) end},
  }
  for _, fam in ipairs(families) do
    local name, must_promote, fn, rule = fam[1], fam[2], fam[3], fam[4] or promote
    it(name .. ' over every dtype pair', function()
      local promoted, refusals = 0, 0
      for _, a in ipairs(DTYPES) do
        for _, b in ipairs(DTYPES) do
          local ok, r = pcall(fn, a, b)
          local what = string.format('%s(%s, %s)', name, a, b)
          if ok then
            assert.are.equal(rule(a, b), r.dtype, what .. ' has the wrong dtype')
            promoted = promoted + 1
          else
            assert.are.equal('string', type(r), what)
            assert.is_truthy(r:find(name, 1, true), what .. ': the error does not name the op: ' .. r)
            assert.is_false(must_promote, what .. ' was refused but PyTorch promotes: ' .. r)
            refusals = refusals + 1
          end
        end
      end
      print(string.format('# %s: %d dtype pairs promoted as PyTorch, %d refused cleanly', name, promoted, refusals))
    end)
  end
end)
