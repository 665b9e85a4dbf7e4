-- luacnn: tensors, autograd and layers in C, driven from Lua.
local core = require 'luacnn.core'
local format = require 'luacnn.format'

local lc = {}
for name, value in pairs(core) do
  if not name:match('^_') and name ~= 'Tensor_mt' then lc[name] = value end
end
local Tensor = core.Tensor
lc.Tensor = Tensor
lc.core = core

-- dtypes as constants and strings alike
lc.float32, lc.float64, lc.int64, lc.uint8 = 'float32', 'float64', 'int64', 'uint8'
lc.bfloat16 = 'bfloat16'
-- memory formats, for x:contiguous(lc.channels_last) and x:is_contiguous(lc.channels_last)
lc.contiguous_format, lc.channels_last = 'contiguous_format', 'channels_last'
lc.float, lc.double, lc.long = 'float32', 'float64', 'int64'

function lc.is_tensor(x) return getmetatable(x) == core.Tensor_mt end

-- Shapes print as (2, 3) and compare by value.
local Size = {}
Size.__index = Size
Size.__tostring = function(s)
  local parts = {}
  for i = 1, #s do parts[i] = tostring(s[i]) end
  return '(' .. table.concat(parts, ', ') .. ')'
end
Size.__eq = function(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end
Size.__concat = function(a, b) return tostring(a) .. tostring(b) end
function Size.numel(s)
  local n = 1
  for i = 1, #s do n = n * s[i] end
  return n
end
debug.getregistry()['luacnn.Size'] = Size
lc.Size = Size

core.Tensor_mt.__tostring = format.tensor
core.Tensor_mt.__concat = function(a, b) return tostring(a) .. tostring(b) end
core.Tensor_mt.__name = 'Tensor'

-- ---- methods written in Lua ----
function Tensor.float(t) return t:to('float32') end
function Tensor.double(t) return t:to('float64') end
function Tensor.long(t) return t:to('int64') end
function Tensor.byte(t) return t:to('uint8') end
function Tensor.bfloat16(t) return t:to('bfloat16') end
function Tensor.cuda(t, index) return t:to(index and ('cuda:' .. index) or 'cuda') end
function Tensor.cpu(t) return t:to('cpu') end
function Tensor.type_as(t, other) return t:to(other.dtype) end
function Tensor.std(t, dims, opts)
  -- checked here so that errors name std, not the var it is computed with
  if getmetatable(t) ~= core.Tensor_mt then
    error('std: expected a tensor as argument 1, got ' .. type(t), 2)
  elseif not t:is_floating_point() then
    error('std: a floating dtype was expected, got ' .. t.dtype, 2)
  end
  return t:var(dims, opts):sqrt()
end
function Tensor.expand_as(t, other) return t:expand(other) end
function Tensor.view_as(t, other) return t:view(other:shape()) end
function Tensor.reshape_as(t, other) return t:reshape(other:shape()) end
function Tensor.square(t) return t * t end
function Tensor.zero_grad(t) t.grad = nil end
function Tensor.__tostring(t) return format.tensor(t) end
Tensor.tolist = Tensor.totable            -- PyTorch's name

-- ---- PyTorch habits: x.shape, x.T; "did you mean" for a misspelt method ----
-- x.shape is a field holding the Size, and the Size is callable (returning itself), so
-- x.shape and x:shape() both work. x.T reverses the dims (the transpose of a matrix). Any
-- other missing name is an error with the nearest method or field (bindings/tensor.c calls
-- this hook after its methods and fields).
local shape_of = Tensor.shape
Tensor.shape = nil
Size.__call = function(self) return self end
local tensor_fields = {grad = true, requires_grad = true, dtype = true, device = true,
                       is_leaf = true, grad_fn = true, ndim = true, shape = true, T = true,
                       is_cuda = true}
-- the core's options tables (lc.tensor, lc.zeros, x:sum, backward, ...) refuse a misspelt key
-- with the message of every other options table (bindings/common.c, lcb_check_opts)
debug.getregistry()['luacnn.check_options'] = function(op, opts, names)
  require('luacnn.options').check(op, opts, names)
end
debug.getregistry()['luacnn.tensor_missing'] = function(t, key)
  if key == 'shape' then return shape_of(t) end
  if key == 'is_cuda' then return tostring(t.device):sub(1, 4) == 'cuda' end
  if key == 'T' then
    local n = t:dim()
    if n < 2 then return t end
    local dims = {}
    for i = n, 1, -1 do dims[#dims + 1] = i end
    return t:permute(dims)
  end
  local suggest = require 'luacnn.suggest'
  error(suggest.message('tensor', key, suggest.keys(Tensor, tensor_fields), 'method or field'), 3)
end

-- ---- creation helpers ----
local function like_opts(t, opts)
  local o = { dtype = t.dtype, device = t.device }
  for k, v in pairs(opts or {}) do o[k] = v end
  return o
end
function lc.zeros_like(t, opts) return lc.zeros(t:shape(), like_opts(t, opts)) end
function lc.ones_like(t, opts) return lc.ones(t:shape(), like_opts(t, opts)) end
function lc.rand_like(t, opts) return lc.rand(t:shape(), like_opts(t, opts)) end
function lc.randn_like(t, opts) return lc.randn(t:shape(), like_opts(t, opts)) end
function lc.full_like(t, v, opts) return lc.full(t:shape(), v, like_opts(t, opts)) end
function lc.empty_like(t, opts) return lc.empty(t:shape(), like_opts(t, opts)) end

-- Functional forms of the methods: lc.relu(x), lc.matmul(a, b), lc.exp(x), ...
for _, name in ipairs { 'relu', 'sigmoid', 'tanh', 'exp', 'log', 'sqrt', 'abs', 'neg', 'matmul',
                        'mm', 'sum', 'mean', 'max', 'min', 'argmax', 'argmin', 'var', 'std',
                        'prod', 'clamp', 'maximum', 'minimum', 'reshape', 'flatten', 'transpose',
                        'permute', 'squeeze', 'unsqueeze', 'pow', 'add', 'sub', 'mul', 'div',
                        'sign', 'reciprocal', 'gt', 'lt', 'ge', 'le', 'eq', 'ne', 'narrow',
                        'select', 'clone', 'detach' } do
  if not lc[name] then
    lc[name] = function(t, ...) return Tensor[name](t, ...) end
  end
end

-- ---- the seed ----
-- As PyTorch's default generator, ours starts from a seed drawn from the OS, so two runs
-- differ unless seeded: lc.manual_seed(n) (or a script's --seed n) fixes it, and
-- lc.initial_seed() says which seed is in use (run folders record it, so any run can be
-- repeated after the fact with --seed). LUACNN_SEED=n in the environment fixes it too.
local function os_seed()
  local f = io.open('/dev/urandom', 'rb')
  local bytes = f and f:read(4)
  if f then f:close() end
  if bytes and #bytes == 4 then return (string.unpack('<I4', bytes)) end
  return (os.time() ~ math.floor(os.clock() * 1e6) ~ math.random(0, 0x7fffffff)) & 0xffffffff
end

-- PyTorch's torch.seed(): a fresh seed from the OS, used and returned.
function lc.seed()
  local s = os_seed()
  core.manual_seed(s)
  return s
end

-- The seed of the generator (the last manual_seed, or the one drawn at start-up).
function lc.initial_seed()
  return (core.get_rng_state())
end

do
  local env = tonumber(os.getenv('LUACNN_SEED') or '')
  if env and math.tointeger(env) then core.manual_seed(math.tointeger(env)) else lc.seed() end
end

-- ---- autograd ----
-- Runs fn with gradient recording off, restoring the mode even when fn raises.
function lc.no_grad(fn, ...)
  local previous = core.set_grad_enabled(false)
  local results = table.pack(pcall(fn, ...))
  core.set_grad_enabled(previous)
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

function lc.enable_grad(fn, ...)
  local previous = core.set_grad_enabled(true)
  local results = table.pack(pcall(fn, ...))
  core.set_grad_enabled(previous)
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

-- lc.autocast([opts,] fn, ...): runs fn in mixed precision and returns its results. conv2d,
-- linear and matmul compute in bfloat16; losses, log_softmax, exp, log, pow, sum and prod in
-- float32; other ops follow their inputs (runtime/autocast.h). Parameters stay float32 and get
-- float32 gradients. opts: {dtype = 'bfloat16', enabled = true}. As torch.autocast('cpu',
-- dtype=torch.bfloat16); the previous setting comes back even when fn raises.
function lc.autocast(opts, fn, ...)
  if type(opts) == 'function' then return lc.autocast({}, opts, fn, ...) end
  if type(opts) ~= 'table' or type(fn) ~= 'function' then
    error('autocast: expected (options table, function) or (function), got (' .. type(opts) ..
          ', ' .. type(fn) .. ')', 2)
  end
  require('luacnn.options').check('autocast', opts, {'dtype', 'enabled'}, 2)
  local ok, previous = pcall(core.set_autocast, opts.enabled ~= false and (opts.dtype or 'bfloat16') or nil)
  if not ok then error(previous, 2) end
  local results = table.pack(pcall(fn, ...))
  core.set_autocast(previous)
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

-- The dtype autocast is computing in now ('bfloat16'), or nil when it is off.
function lc.autocast_dtype() return core.autocast_dtype() end

-- ---- devices ----
lc.cuda = lc.cuda or core.cuda or {}
lc.cuda.is_available = lc.cuda.is_available or function() return false end
lc.cuda.device_count = lc.cuda.device_count or function() return 0 end
function lc.device(name) return name end
function lc.try_gpu(i)
  i = i or 0
  if lc.cuda.device_count() > i then return 'cuda:' .. i end
  return 'cpu'
end
function lc.try_all_gpus()
  local out = {}
  for i = 0, lc.cuda.device_count() - 1 do out[#out + 1] = 'cuda:' .. i end
  if #out == 0 then out[1] = 'cpu' end
  return out
end

-- ---- checkpoints (safetensors) ----
-- lc.save(path, state [, metadata]) or, as torch.save(obj, path) and safetensors'
-- save_file(tensors, filename), lc.save(state, path [, metadata]): the path is the string.
function lc.save(a, b, ...)
  if type(a) ~= 'string' and type(b) == 'string' then a, b = b, a end
  return require('luacnn.io').save(a, b, ...)
end
function lc.load(...) return require('luacnn.io').load(...) end

-- ---- submodules load on first use, so `lc.nn` costs nothing until used ----
local submodules = { nn = 'luacnn.nn', F = 'luacnn.functional', optim = 'luacnn.optim',
                     data = 'luacnn.data', d2l = 'luacnn.d2l', plot = 'luacnn.plot',
                     args = 'luacnn.args', run = 'luacnn.run', io = 'luacnn.io',
                     image = 'luacnn.image', transforms = 'luacnn.transforms',
                     models = 'luacnn.models', dist = 'luacnn.dist' }
-- A misspelt name is an error at the lookup with the nearest name ("lc has no field
-- 'zeroes' (did you mean 'zeros'?)"), for lc and for lc.nn, lc.F and lc.optim (luacnn.suggest);
-- probe optional names with rawget.
local suggest = require 'luacnn.suggest'
local strict_submodules = { nn = 'lc.nn', F = 'lc.F', optim = 'lc.optim' }
suggest.strict(lc, 'lc', function(t, key)
  local path = submodules[key]
  if not path then return nil end
  local value = require(path)
  if strict_submodules[key] and type(value) == 'table' then
    suggest.strict(value, strict_submodules[key])
  end
  rawset(t, key, value)
  return value
end, function() return submodules end)
lc.submodules = submodules

return lc
