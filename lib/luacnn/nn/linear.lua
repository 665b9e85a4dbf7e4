-- nn.Linear, and the shape layers nn.Identity, nn.Flatten, nn.Reshape.
local lc = require 'luacnn'
local module = require 'luacnn.nn.module'
local init = require 'luacnn.nn.initializers'
local F = require 'luacnn.functional'
local options = require 'luacnn.options'
local Module = module.Module

local M = {}

local positive_int = options.positive_int
local function integer_value(v)
  if math.type(v) == 'float' then return math.tointeger(v) or v end
  return v
end

-- nn.Linear(in_features, out_features, {bias = true, dtype, device}), or PyTorch's order
-- nn.Linear(in_features, out_features, bias): y = x w^T + b over the last dim.
local Linear = Module:extend 'Linear'
M.Linear = Linear

local linear_options = options.parser('Linear', {'in_features', 'out_features'},
                                      {'bias', 'device', 'dtype'})

function Linear:init(in_features, out_features, ...)
  local opts = linear_options(...)
  in_features = positive_int(in_features, 'Linear', 'in_features')
  out_features = positive_int(out_features, 'Linear', 'out_features')
  self.in_features, self.out_features = in_features, out_features
  local o = {dtype = opts.dtype or 'float32', device = opts.device or 'cpu'}
  self.weight = module.Parameter(lc.empty({out_features, in_features}, o))
  if opts.bias == false then
    self:register_parameter('bias', nil)
  else
    self.bias = module.Parameter(lc.empty({out_features}, o))
  end
  self:reset_parameters()
end

function Linear:reset_parameters() init._default_layer_init(self.weight, self.bias) end

function Linear:forward(x) return F.linear(x, self.weight, self.bias) end

function Linear:extra_repr()
  return string.format('in_features=%d, out_features=%d, bias=%s', self.in_features,
                       self.out_features, self.bias ~= nil and 'True' or 'False')
end

-- nn.Identity(): returns its input.
local Identity = Module:extend 'Identity'
M.Identity = Identity
function Identity:init() end
function Identity:forward(x) return x end

-- nn.Flatten({start_dim = 2, end_dim = -1}) or nn.Flatten(start_dim, end_dim): PyTorch's
-- default keeps the batch dim (its start_dim=1 is our 2).
local Flatten = Module:extend 'Flatten'
M.Flatten = Flatten

local flatten_options = options.parser('Flatten', {}, {'start_dim', 'end_dim'})

function Flatten:init(...)
  local opts = flatten_options(...)
  self.start_dim, self.end_dim = integer_value(opts.start_dim or 2), integer_value(opts.end_dim or -1)
  for _, d in ipairs{self.start_dim, self.end_dim} do
    if math.type(d) ~= 'integer' or d == 0 then
      error('Flatten: dims are 1-based integers (negative from the end), got ' .. tostring(d), 0)
    end
  end
end

function Flatten:forward(x)
  local d = x:dim()
  local s = self.start_dim < 0 and d + 1 + self.start_dim or self.start_dim
  local e = self.end_dim < 0 and d + 1 + self.end_dim or self.end_dim
  if s < 1 or s > math.max(d, 1) or e < 1 or e > math.max(d, 1) or s > e then
    error(string.format('flatten: dims %d..%d do not fit an input of shape %s', self.start_dim,
                        self.end_dim, tostring(x:shape())), 0)
  end
  return x:flatten(s, e)
end

function Flatten:extra_repr()
  return string.format('start_dim=%d, end_dim=%d', self.start_dim, self.end_dim)
end

-- nn.Reshape(-1, 1, 28, 28) or nn.Reshape{-1, 1, 28, 28}: x:reshape(sizes), one size may
-- be -1 (d2l's Reshape layer, which keeps the batch dim free with -1).
local Reshape = Module:extend 'Reshape'
M.Reshape = Reshape

function Reshape:init(...)
  local sizes = type(...) == 'table' and {table.unpack((...))} or {...}
  for i, s in ipairs(sizes) do sizes[i] = integer_value(s) end
  if #sizes == 0 then error('Reshape: expected sizes, e.g. Reshape(-1, 1, 28, 28)', 0) end
  local free = 0
  for i, s in ipairs(sizes) do
    if math.type(s) ~= 'integer' or s < -1 or s == 0 then
      error(string.format('Reshape: size %d must be a positive integer or -1, got %s', i, tostring(s)), 0)
    end
    if s == -1 then free = free + 1 end
  end
  if free > 1 then error('Reshape: at most one size can be -1', 0) end
  self.sizes = sizes
end

function Reshape:forward(x)
  local ok, y = pcall(x.reshape, x, self.sizes)
  if not ok then
    local known = 1
    for _, s in ipairs(self.sizes) do if s > 0 then known = known * s end end
    error(string.format('reshape: cannot reshape an input of shape %s (%d values) to (%s)%s',
                        tostring(x:shape()), x:numel(), table.concat(self.sizes, ', '),
                        known > 0 and x:numel() % known ~= 0 and
                          string.format(': %d is not a multiple of %d', x:numel(), known) or ''), 0)
  end
  return y
end

function Reshape:extra_repr() return table.concat(self.sizes, ', ') end

return M
