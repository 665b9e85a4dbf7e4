-- Pooling layers: nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d (PyTorch's semantics;
-- the stride defaults to the kernel size).
local module = require 'luacnn.nn.module'
local F = require 'luacnn.functional'
local Module = module.Module

local M = {}

local function pair(v, who, what, min)
  local ok, h, w = pcall(F._pair, v, who, what, min)
  if not ok then error(h, 0) end
  return {h, w}
end

local function pair_str(p)
  if p[1] == p[2] then return tostring(p[1]) end
  return '(' .. p[1] .. ', ' .. p[2] .. ')'
end

-- The window both poolings share: kernel, stride (the kernel by default), padding (at
-- most half the kernel, as PyTorch requires) and ceil_mode.
local function set_window(self, name, kernel_size, opts)
  self.kernel_size = pair(kernel_size, name, 'kernel_size', 1)
  self.stride = pair(opts.stride or self.kernel_size, name, 'stride', 1)
  self.padding = pair(opts.padding or 0, name, 'padding', 0)
  self.ceil_mode = opts.ceil_mode and true or false
  if 2 * self.padding[1] > self.kernel_size[1] or 2 * self.padding[2] > self.kernel_size[2] then
    error(string.format('%s: padding %s must be at most half the kernel size %s', name,
                        pair_str(self.padding), pair_str(self.kernel_size)), 0)
  end
end

-- nn.MaxPool2d(kernel_size, {stride = kernel_size, padding = 0, dilation = 1, ceil_mode = false})
local MaxPool2d = Module:extend 'MaxPool2d'
M.MaxPool2d = MaxPool2d

function MaxPool2d:init(kernel_size, opts)
  opts = opts or {}
  set_window(self, 'MaxPool2d', kernel_size, opts)
  self.dilation = pair(opts.dilation or 1, 'MaxPool2d', 'dilation', 1)
end

function MaxPool2d:forward(x) return F.max_pool2d(x, self.kernel_size, self) end

function MaxPool2d:extra_repr()
  return string.format('kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s',
                       pair_str(self.kernel_size), pair_str(self.stride), pair_str(self.padding),
                       pair_str(self.dilation), self.ceil_mode and 'True' or 'False')
end

-- nn.AvgPool2d(kernel_size, {stride = kernel_size, padding = 0, ceil_mode = false,
--                            count_include_pad = true, divisor_override = nil})
local AvgPool2d = Module:extend 'AvgPool2d'
M.AvgPool2d = AvgPool2d

function AvgPool2d:init(kernel_size, opts)
  opts = opts or {}
  set_window(self, 'AvgPool2d', kernel_size, opts)
  self.count_include_pad = opts.count_include_pad ~= false
  self.divisor_override = opts.divisor_override
end

function AvgPool2d:forward(x) return F.avg_pool2d(x, self.kernel_size, self) end

function AvgPool2d:extra_repr()
  return string.format('kernel_size=%s, stride=%s, padding=%s', pair_str(self.kernel_size),
                       pair_str(self.stride), pair_str(self.padding))
end

-- nn.AdaptiveAvgPool2d(output_size): output_size a number or {h, w}.
local AdaptiveAvgPool2d = Module:extend 'AdaptiveAvgPool2d'
M.AdaptiveAvgPool2d = AdaptiveAvgPool2d

function AdaptiveAvgPool2d:init(output_size)
  self.output_size = pair(output_size, 'AdaptiveAvgPool2d', 'output_size', 1)
end

function AdaptiveAvgPool2d:forward(x) return F.adaptive_avg_pool2d(x, self.output_size) end

function AdaptiveAvgPool2d:extra_repr() return 'output_size=' .. pair_str(self.output_size) end

return M
