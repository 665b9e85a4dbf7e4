-- Pooling layers: nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d (PyTorch's semantics;
-- the stride defaults to the kernel size). Options as a table or in PyTorch's order:
-- nn.MaxPool2d(2, 2) is nn.MaxPool2d(2, {stride = 2}); nn.MaxPool2d(3, {2, 1}) a stride pair.
local module = require 'luacnn.nn.module'
local F = require 'luacnn.functional'
local core = require 'luacnn.core'
local options = require 'luacnn.options'
local Module = module.Module

local M = {}

local function pair_str(p)
  if p[1] == p[2] then return tostring(p[1]) end
  return '(' .. p[1] .. ', ' .. p[2] .. ')'
end

-- The window both poolings share: kernel, stride (the kernel by default), padding, ceil_mode,
-- and (max pooling) dilation. Their types are checked here, their values by the runtime (op's
-- words): padding at most half the kernel, as PyTorch requires.
local function set_window(self, op, kernel_size, opts)
  local ok, kh, kw, sh, sw, ph, pw, dh, dw = pcall(F._pool_args, kernel_size, opts, op)
  if not ok then error(kh, 0) end
  core._F.pool2d_check(op, kh, kw, sh, sw, ph, pw, dh, dw)
  self.kernel_size, self.stride, self.padding = {kh, kw}, {sh, sw}, {ph, pw}
  self.ceil_mode = opts.ceil_mode and true or false
  return {dh, dw}
end

-- nn.MaxPool2d(kernel_size, {stride = kernel_size, padding = 0, dilation = 1, ceil_mode = false})
-- or nn.MaxPool2d(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
local MaxPool2d = Module:extend 'MaxPool2d'
M.MaxPool2d = MaxPool2d

local max_options = options.parser('MaxPool2d', {'kernel_size'},
  {'stride', 'padding', 'dilation', 'return_indices', 'ceil_mode'}, {return_indices = false})

function MaxPool2d:init(kernel_size, ...)
  self.dilation = set_window(self, 'max_pool2d', kernel_size, max_options(...))
end

function MaxPool2d:forward(x)
  return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
end

function MaxPool2d:extra_repr()
  return string.format('kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s',
                       pair_str(self.kernel_size), pair_str(self.stride), pair_str(self.padding),
                       pair_str(self.dilation), self.ceil_mode and 'True' or 'False')
end

-- nn.AvgPool2d(kernel_size, {stride = kernel_size, padding = 0, ceil_mode = false,
--                            count_include_pad = true, divisor_override = nil})
-- or nn.AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
local AvgPool2d = Module:extend 'AvgPool2d'
M.AvgPool2d = AvgPool2d

local avg_options = options.parser('AvgPool2d', {'kernel_size'},
  {'stride', 'padding', 'ceil_mode', 'count_include_pad', 'divisor_override'})

function AvgPool2d:init(kernel_size, ...)
  local opts = avg_options(...)
  set_window(self, 'avg_pool2d', kernel_size, {stride = opts.stride, padding = opts.padding,
                                                ceil_mode = opts.ceil_mode})
  self.count_include_pad = opts.count_include_pad ~= false
  self.divisor_override = opts.divisor_override
end

function AvgPool2d:forward(x)
  return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                      self.count_include_pad, self.divisor_override)
end

function AvgPool2d:extra_repr()
  return string.format('kernel_size=%s, stride=%s, padding=%s', pair_str(self.kernel_size),
                       pair_str(self.stride), pair_str(self.padding))
end

-- nn.AdaptiveAvgPool2d(output_size): output_size a number or {h, w}.
local AdaptiveAvgPool2d = Module:extend 'AdaptiveAvgPool2d'
M.AdaptiveAvgPool2d = AdaptiveAvgPool2d

function AdaptiveAvgPool2d:init(output_size)
  local ok, h, w = pcall(F._pair, output_size, 'AdaptiveAvgPool2d', 'output_size')
  if not ok then error(h, 0) end
  core._F.adaptive_avg_pool2d_check(h, w)
  self.output_size = {h, w}
end

function AdaptiveAvgPool2d:forward(x) return F.adaptive_avg_pool2d(x, self.output_size) end

function AdaptiveAvgPool2d:extra_repr() return 'output_size=' .. pair_str(self.output_size) end

return M
