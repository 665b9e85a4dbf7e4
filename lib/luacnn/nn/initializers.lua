-- nn.init: PyTorch's initialisers (torch.nn.init), filling a tensor in place without
-- recording gradients, and returning it. Fans follow PyTorch: for a weight of shape
-- (out, in, k1, k2, ...) fan_in = in * k1 * k2 ..., fan_out = out * k1 * k2 ...
--   nn.init.xavier_uniform_(w [, gain])        nn.init.kaiming_normal_(w, {mode = 'fan_out',
--   nn.init.normal_(w, 0, 0.01)                                        nonlinearity = 'relu'})
-- The optional arguments go in PyTorch's order or by name in a last table (normal_(w, {std =
-- 0.01})); a misspelt name is an error naming the nearest (luacnn.options).
local lc = require 'luacnn'
local options = require 'luacnn.options'

local init = {}

local function check_float(t, who)
  if not lc.is_tensor(t) then
    error(string.format('nn.init.%s: expected a tensor, got %s', who, type(t)), 3)
  end
  if not t:is_floating_point() then
    error(string.format('nn.init.%s: expected a float tensor, got %s', who, t.dtype), 3)
  end
end

local function no_grad(fn) return lc.no_grad(fn) end

-- PyTorch's calculate_gain.
function init.calculate_gain(nonlinearity, param)
  local linear = {linear = true, conv1d = true, conv2d = true, conv3d = true,
                  conv_transpose1d = true, conv_transpose2d = true, conv_transpose3d = true,
                  sigmoid = true}
  if linear[nonlinearity] then return 1 end
  if nonlinearity == 'tanh' then return 5 / 3 end
  if nonlinearity == 'relu' then return math.sqrt(2) end
  if nonlinearity == 'leaky_relu' then
    local slope = param == nil and 0.01 or param
    if type(slope) ~= 'number' then
      error('nn.init.calculate_gain: negative_slope ' .. tostring(slope) .. ' is not a number', 2)
    end
    return math.sqrt(2 / (1 + slope * slope))
  end
  if nonlinearity == 'selu' then return 3 / 4 end
  error(string.format("nn.init.calculate_gain: unsupported nonlinearity '%s' (linear, conv2d, " ..
                      "sigmoid, tanh, relu, leaky_relu, selu)", tostring(nonlinearity)), 2)
end

function init._calculate_fan_in_and_fan_out(t, who)
  local dims = t:dim()
  if dims < 2 then
    error(string.format('nn.init.%s: fan in and fan out cannot be computed for a tensor with ' ..
                        'fewer than 2 dims (shape %s)', who or 'fan', tostring(t:shape())), 3)
  end
  local receptive = 1
  for d = 3, dims do receptive = receptive * t:size(d) end
  return t:size(2) * receptive, t:size(1) * receptive
end

local function fan(t, mode, who)
  local fan_in, fan_out = init._calculate_fan_in_and_fan_out(t, who)
  if mode == 'fan_in' then return fan_in end
  if mode == 'fan_out' then return fan_out end
  error(string.format("nn.init.%s: mode must be 'fan_in' or 'fan_out', got '%s'", who,
                      tostring(mode)), 3)
end

local uniform_options = options.parser('nn.init.uniform_', {'tensor'}, {'a', 'b'})
function init.uniform_(t, ...)
  check_float(t, 'uniform_')
  local o = uniform_options(...)
  local a, b = o.a or 0, o.b or 1
  return no_grad(function() return t:uniform_(a, b) end)
end

local normal_options = options.parser('nn.init.normal_', {'tensor'}, {'mean', 'std'})
function init.normal_(t, ...)
  check_float(t, 'normal_')
  local o = normal_options(...)
  local mean, std = o.mean or 0, o.std or 1
  return no_grad(function() return t:normal_(mean, std) end)
end

function init.constant_(t, val)
  if not lc.is_tensor(t) then error('nn.init.constant_: expected a tensor, got ' .. type(t), 2) end
  if type(val) ~= 'number' then
    error('nn.init.constant_: expected a number value, got ' .. type(val), 2)
  end
  return no_grad(function() return t:fill_(val) end)
end

function init.zeros_(t) return init.constant_(t, 0) end
function init.ones_(t) return init.constant_(t, 1) end

local xavier_uniform_options = options.parser('nn.init.xavier_uniform_', {'tensor'}, {'gain'})
function init.xavier_uniform_(t, ...)
  check_float(t, 'xavier_uniform_')
  local gain = xavier_uniform_options(...).gain
  local fan_in, fan_out = init._calculate_fan_in_and_fan_out(t, 'xavier_uniform_')
  local std = (gain or 1) * math.sqrt(2 / (fan_in + fan_out))
  local a = math.sqrt(3) * std
  return no_grad(function() return t:uniform_(-a, a) end)
end

local xavier_normal_options = options.parser('nn.init.xavier_normal_', {'tensor'}, {'gain'})
function init.xavier_normal_(t, ...)
  check_float(t, 'xavier_normal_')
  local gain = xavier_normal_options(...).gain
  local fan_in, fan_out = init._calculate_fan_in_and_fan_out(t, 'xavier_normal_')
  local std = (gain or 1) * math.sqrt(2 / (fan_in + fan_out))
  return no_grad(function() return t:normal_(0, std) end)
end

-- kaiming_*_(t, {a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu'}) or positionally
-- kaiming_*_(t, a, mode, nonlinearity), as torch.nn.init.
local kaiming_options = {
  kaiming_uniform_ = options.parser('nn.init.kaiming_uniform_', {'tensor'}, {'a', 'mode', 'nonlinearity'}),
  kaiming_normal_ = options.parser('nn.init.kaiming_normal_', {'tensor'}, {'a', 'mode', 'nonlinearity'}),
}
local function kaiming_args(who, ...)
  local o = kaiming_options[who](...)
  return o.a or 0, o.mode or 'fan_in', o.nonlinearity or 'leaky_relu'
end

function init.kaiming_uniform_(t, ...)
  check_float(t, 'kaiming_uniform_')
  local a, mode, nonlinearity = kaiming_args('kaiming_uniform_', ...)
  local std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan(t, mode, 'kaiming_uniform_'))
  local bound = math.sqrt(3) * std
  return no_grad(function() return t:uniform_(-bound, bound) end)
end

function init.kaiming_normal_(t, ...)
  check_float(t, 'kaiming_normal_')
  local a, mode, nonlinearity = kaiming_args('kaiming_normal_', ...)
  local std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan(t, mode, 'kaiming_normal_'))
  return no_grad(function() return t:normal_(0, std) end)
end

-- PyTorch's default for Conv2d and Linear: weight kaiming_uniform_ with a = sqrt(5), i.e.
-- U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
function init._default_layer_init(weight, bias)
  init.kaiming_uniform_(weight, math.sqrt(5))
  if bias then
    local fan_in = init._calculate_fan_in_and_fan_out(weight, 'reset_parameters')
    local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
    init.uniform_(bias, -bound, bound)
  end
end

return init
