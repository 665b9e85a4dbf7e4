-- nn.Conv2d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0, dilation = 1,
-- groups = 1, bias = true, dtype, device}), or the options in PyTorch's order:
-- nn.Conv2d(1, 6, 5, 1, 2) is nn.Conv2d(1, 6, 5, {stride = 1, padding = 2}). Sizes are a
-- number or an {h, w} pair; padding may also be 'valid' or 'same'; padding_mode is 'zeros'
-- only. Initialised as PyTorch's layer.
local lc = require 'luacnn'
local module = require 'luacnn.nn.module'
local init = require 'luacnn.nn.initializers'
local F = require 'luacnn.functional'
local core = require 'luacnn.core'
local options = require 'luacnn.options'

local Conv2d = module.Module:extend 'Conv2d'

local function positive_int(v, what) return options.positive_int(v, 'Conv2d', what) end

local function pair_table(h, w) return {h, w} end

local conv_options = options.parser('Conv2d', {'in_channels', 'out_channels', 'kernel_size'},
  {'stride', 'padding', 'dilation', 'groups', 'bias', 'padding_mode', 'device', 'dtype'},
  {padding_mode = 'zeros'})

-- The options' types are checked here, their values by the runtime's conv2d (its words).
function Conv2d:init(in_channels, out_channels, kernel_size, ...)
  local opts = conv_options(...)
  in_channels = positive_int(in_channels, 'in_channels')
  out_channels = positive_int(out_channels, 'out_channels')
  local function checked_pair(v, what)
    local ok, h, w = pcall(F._pair, v, 'Conv2d', what)
    if not ok then error(h, 0) end
    return pair_table(h, w)
  end
  local k = checked_pair(kernel_size, 'kernel_size')
  local kh, kw = k[1], k[2]
  local groups = positive_int(opts.groups or 1, 'groups')
  self.in_channels, self.out_channels = in_channels, out_channels
  self.kernel_size = k
  self.stride = checked_pair(opts.stride or 1, 'stride')
  local same = opts.padding == 'same' or opts.padding == 'valid'
  if same then
    self.padding = opts.padding
  else
    self.padding = checked_pair(opts.padding or 0, 'padding')
  end
  self.dilation = checked_pair(opts.dilation or 1, 'dilation')
  self.groups = groups
  local p = same and {0, 0} or self.padding
  core._F.conv2d_check(in_channels, out_channels, kh, kw, self.stride[1], self.stride[2], p[1], p[2],
                       self.dilation[1], self.dilation[2], groups, opts.padding == 'same')
  local dtype, device = opts.dtype or 'float32', opts.device or 'cpu'
  self.weight = module.Parameter(lc.empty({out_channels, in_channels // groups, kh, kw},
                                          {dtype = dtype, device = device}))
  if opts.bias == false then
    self:register_parameter('bias', nil)
  else
    self.bias = module.Parameter(lc.empty({out_channels}, {dtype = dtype, device = device}))
  end
  self:reset_parameters()
end

function Conv2d:reset_parameters()
  init._default_layer_init(self.weight, self.bias)
end

function Conv2d:forward(x)
  return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
end

local function pair_str(p) return '(' .. p[1] .. ', ' .. p[2] .. ')' end

function Conv2d:extra_repr()
  local s = string.format('%d, %d, kernel_size=%s, stride=%s', self.in_channels, self.out_channels,
                          pair_str(self.kernel_size), pair_str(self.stride))
  if type(self.padding) == 'string' then
    s = s .. ", padding='" .. self.padding .. "'"
  elseif self.padding[1] ~= 0 or self.padding[2] ~= 0 then
    s = s .. ', padding=' .. pair_str(self.padding)
  end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ', dilation=' .. pair_str(self.dilation) end
  if self.groups ~= 1 then s = s .. ', groups=' .. self.groups end
  if self.bias == nil then s = s .. ', bias=False' end
  return s
end

return {Conv2d = Conv2d}
