-- Batch normalisation: nn.BatchNorm1d(num_features) for (N, C) or (N, C, L) inputs and
-- nn.BatchNorm2d(num_features) for (N, C, H, W), with PyTorch's options and defaults:
--   {eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true, dtype, device}
-- as a table or in PyTorch's order: nn.BatchNorm2d(3, 1e-3) is nn.BatchNorm2d(3, {eps = 1e-3}).
-- momentum = false gives the cumulative moving average (PyTorch's momentum=None).
-- In training mode the batch statistics normalise and the running ones move towards them
-- (the variance unbiased); in eval mode the running statistics are used.
local lc = require 'luacnn'
local module = require 'luacnn.nn.module'
local F = require 'luacnn.functional'
local options = require 'luacnn.options'
local Module = module.Module

local M = {}

local function make(name, dims_ok, dims_text)
  local cls = Module:extend(name)
  M[name] = cls
  local parse = options.parser(name, {'num_features'},
    {'eps', 'momentum', 'affine', 'track_running_stats', 'device', 'dtype'})

  function cls:init(num_features, ...)
    local opts = parse(...)
    if math.type(num_features) == 'float' then num_features = math.tointeger(num_features) or num_features end
    if math.type(num_features) ~= 'integer' or num_features < 1 then
      error(string.format('%s: num_features must be a positive integer, got %s', name,
                          tostring(num_features)), 0)
    end
    self.num_features = num_features
    self.eps = opts.eps or 1e-5
    if opts.momentum == nil then self.momentum = 0.1 else self.momentum = opts.momentum end
    self.affine = opts.affine ~= false
    self.track_running_stats = opts.track_running_stats ~= false
    local o = {dtype = opts.dtype or 'float32', device = opts.device or 'cpu'}
    if self.affine then
      self.weight = module.Parameter(lc.ones({num_features}, o))
      self.bias = module.Parameter(lc.zeros({num_features}, o))
    else
      self:register_parameter('weight', nil)
      self:register_parameter('bias', nil)
    end
    if self.track_running_stats then
      self:register_buffer('running_mean', lc.zeros({num_features}, o))
      self:register_buffer('running_var', lc.ones({num_features}, o))
      self:register_buffer('num_batches_tracked', lc.zeros({}, {dtype = 'int64', device = o.device}))
    else
      self:register_buffer('running_mean', nil)
      self:register_buffer('running_var', nil)
      self:register_buffer('num_batches_tracked', nil)
    end
  end

  function cls:reset_running_stats()
    if self.track_running_stats then
      lc.no_grad(function()
        self.running_mean:zero_(); self.running_var:fill_(1); self.num_batches_tracked:zero_()
      end)
    end
  end

  function cls:reset_parameters()
    self:reset_running_stats()
    if self.affine then
      lc.no_grad(function() self.weight:fill_(1); self.bias:zero_() end)
    end
  end

  function cls:forward(x)
    if not dims_ok[x:dim()] then
      error(string.format('%s: expected %s input, got shape %s', name:lower(), dims_text,
                          tostring(x:shape())), 0)
    end
    if x:size(2) ~= self.num_features then
      error(string.format('%s: expected input with %d channels (num_features), got %d (input ' ..
                          'shape %s)', name:lower(), self.num_features, x:size(2),
                          tostring(x:shape())), 0)
    end
    local factor = self.momentum or 0
    if self.training and self.track_running_stats and self.num_batches_tracked ~= nil then
      self.num_batches_tracked:add_(1)
      if self.momentum == false then
        factor = 1 / self.num_batches_tracked:item()
      end
    end
    local use_batch = self.training or (self.running_mean == nil and self.running_var == nil)
    local rm, rv = self.running_mean, self.running_var
    if self.training and not self.track_running_stats then rm, rv = nil, nil end
    return F.batch_norm(x, rm, rv, self.weight, self.bias, use_batch, factor, self.eps)
  end

  function cls:extra_repr()
    return string.format('%d, eps=%s, momentum=%s, affine=%s, track_running_stats=%s',
                         self.num_features, tostring(self.eps),
                         self.momentum == false and 'None' or tostring(self.momentum),
                         self.affine and 'True' or 'False',
                         self.track_running_stats and 'True' or 'False')
  end
  return cls
end

make('BatchNorm1d', {[2] = true, [3] = true}, '2-D (N, C) or 3-D (N, C, L)')
make('BatchNorm2d', {[4] = true}, '4-D (N, C, H, W)')

return M
