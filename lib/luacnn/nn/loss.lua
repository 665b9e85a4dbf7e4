-- Losses: nn.CrossEntropyLoss({reduction = 'mean', label_smoothing = 0}) over logits (N, C)
-- and int64 class labels 1..C (or class probabilities), and nn.MSELoss({reduction = 'mean'}).
-- Options by name only (PyTorch's positional order starts with ones luacnn lacks: weight,
-- size_average); a misspelt one is an error.
local module = require 'luacnn.nn.module'
local F = require 'luacnn.functional'
local options = require 'luacnn.options'
local Module = module.Module

local M = {}

local function check_reduction(r, who)
  if r ~= nil and r ~= 'mean' and r ~= 'sum' and r ~= 'none' then
    error(string.format("%s: reduction must be 'mean', 'sum' or 'none', got '%s'", who, tostring(r)), 0)
  end
  return r or 'mean'
end

local CrossEntropyLoss = Module:extend 'CrossEntropyLoss'
M.CrossEntropyLoss = CrossEntropyLoss

local ce_options = options.parser('CrossEntropyLoss', {}, {reduction = true, label_smoothing = true})

function CrossEntropyLoss:init(...)
  local opts = ce_options(...)
  self.reduction = check_reduction(opts.reduction, 'CrossEntropyLoss')
  self.label_smoothing = opts.label_smoothing or 0
  if type(self.label_smoothing) ~= 'number' or self.label_smoothing < 0 or self.label_smoothing > 1 then
    error('CrossEntropyLoss: label_smoothing must be in [0, 1], got ' .. tostring(opts.label_smoothing), 0)
  end
end

function CrossEntropyLoss:forward(logits, target)
  return F.cross_entropy(logits, target, {reduction = self.reduction,
                                          label_smoothing = self.label_smoothing})
end

function CrossEntropyLoss:extra_repr()
  if self.label_smoothing ~= 0 then return 'label_smoothing=' .. self.label_smoothing end
  return ''
end

local MSELoss = Module:extend 'MSELoss'
M.MSELoss = MSELoss

local mse_options = options.parser('MSELoss', {}, {reduction = true})

function MSELoss:init(...)
  self.reduction = check_reduction(mse_options(...).reduction, 'MSELoss')
end

function MSELoss:forward(input, target) return F.mse_loss(input, target, {reduction = self.reduction}) end

return M
