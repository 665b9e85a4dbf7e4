-- Activations and dropout: nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softmax(dim), nn.LogSoftmax(dim),
-- nn.Dropout(p); each option also by name ({dim = 2}, {p = 0.5}, {inplace = true}).
local module = require 'luacnn.nn.module'
local F = require 'luacnn.functional'
local options = require 'luacnn.options'
local Module = module.Module

local M = {}

local function simple(name, fn)
  local cls = Module:extend(name)
  local parse = options.parser(name, {}, {'inplace'})
  function cls:init(...)
    -- inplace = true is accepted for PyTorch compatibility; the result is out of place
    self.inplace = parse(...).inplace or nil
  end
  cls.forward = function(_, x) return fn(x) end
  M[name] = cls
  return cls
end

simple('ReLU', F.relu)
simple('Sigmoid', F.sigmoid)
simple('Tanh', F.tanh)

local function dim_module(name, fn)
  local cls = Module:extend(name)
  local parse = options.parser(name, {}, {'dim'})
  function cls:init(...)
    local dim = parse(...).dim
    if math.type(dim) == 'float' then dim = math.tointeger(dim) or dim end
    if math.type(dim) ~= 'integer' or dim == 0 then
      error(string.format('%s: expected the dim to normalise over (1-based, -1 for the last; ' ..
                          'e.g. %s(2) for (N, C) logits), got %s', name, name, tostring(dim)), 0)
    end
    self.dim = dim
  end
  function cls:forward(x) return fn(x, self.dim) end
  function cls:extra_repr() return 'dim=' .. self.dim end
  M[name] = cls
end

dim_module('Softmax', F.softmax)
dim_module('LogSoftmax', F.log_softmax)

-- nn.Dropout(p = 0.5) or nn.Dropout({p = 0.5}): active in training mode only.
local Dropout = Module:extend 'Dropout'
M.Dropout = Dropout
local dropout_options = options.parser('Dropout', {}, {'p', 'inplace'})

function Dropout:init(...)
  local opts = dropout_options(...)
  local p = opts.p
  if p == nil then p = 0.5 end
  if type(p) ~= 'number' or p < 0 or p > 1 then
    error('Dropout: probability has to be between 0 and 1, but got ' .. tostring(p), 0)
  end
  self.p = p
end

function Dropout:forward(x) return F.dropout(x, self.p, self.training) end
function Dropout:extra_repr() return 'p=' .. self.p end

return M
