-- lc.optim: SGD, Adam, AdamW with PyTorch's update rules, parameter groups and learning-rate
-- schedulers (lc.optim.lr_scheduler, also reachable as lc.optim.StepLR, ...).
--
--   local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9, weight_decay = 5e-4})
--   local opt = lc.optim.SGD(net:parameters(), 0.1, 0.9)   -- PyTorch's order: lr, momentum, ...
--   local opt = lc.optim.AdamW({{params = body, lr = 1e-4}, {params = head}}, {lr = 1e-3})
--   opt:zero_grad(); loss:backward(); opt:step()
--   opt.param_groups[1].lr = 0.01                      -- takes effect at the next step
--   local sched = lc.optim.lr_scheduler.CosineAnnealingLR(opt, {T_max = 100}); sched:step()
--
-- A step updates all parameters of a group that have a gradient with one call of the fused C
-- kernels (core._F.sgd_step / adam_step); parameters without a gradient are skipped.
-- Optimizer state: opt.state[param] = {momentum_buffer = t} (SGD) or {step = n, exp_avg = t,
-- exp_avg_sq = t [, max_exp_avg_sq = t]} (Adam). state_dict() gives it keyed by the
-- parameter's 1-based position across the groups, as PyTorch's (0-based) indices.
local lc = require 'luacnn'
local core = require 'luacnn.core'
local values = require 'luacnn.optim_values'
local options = require 'luacnn.options'
local copy, show_value, check_number = values.copy, values.show, values.check_number

local optim = {}

local function fused(name)
  local f = core._F and core._F[name]
  if not f then
    error(string.format('optim: this build of the luacnn core has no _F.%s; rebuild luacnn', name), 0)
  end
  return f
end

local function is_float(t) return t:is_floating_point() end

-- ---- the base class ----

local Optimizer = {}
Optimizer.__index = Optimizer
optim.Optimizer = Optimizer


-- params: a list of tensors, a module (its parameters), or a list of groups
-- {params = {...}, lr = ..., ...}; options not given in a group come from defaults.
local function param_list(x, who)
  if type(x) == 'table' and not lc.is_tensor(x) and type(x.parameters) == 'function'
     and getmetatable(x) and rawget(getmetatable(x), '__luacnn_module') then
    return x:parameters()
  end
  if lc.is_tensor(x) then return {x} end
  if type(x) ~= 'table' then
    error(string.format('%s: expected a list of parameters (net:parameters()) or of parameter ' ..
                        'groups, got %s', who, type(x)), 0)
  end
  return x
end

local function is_group_list(params)
  local first = params[1]
  return type(first) == 'table' and not lc.is_tensor(first) and first.params ~= nil
end

-- PyTorch's repr of an optimizer:
--   SGD (
--   Parameter Group 1
--       dampening: 0
--       lr: 0.1
--       ...
--   )

function Optimizer.__tostring(self)
  local lines = {(self.who or 'Optimizer') .. ' ('}
  for gi, g in ipairs(self.param_groups) do
    lines[#lines + 1] = 'Parameter Group ' .. gi
    local keys = {}
    for k in pairs(g) do if k ~= 'params' and type(k) == 'string' then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do lines[#lines + 1] = '    ' .. k .. ': ' .. show_value(g[k]) end
    lines[#lines + 1] = '    params: ' .. #g.params .. ' tensor' .. (#g.params == 1 and '' or 's')
  end
  lines[#lines + 1] = ')'
  return table.concat(lines, '\n')
end

function Optimizer.new(cls, who, params, defaults)
  -- metamethods are read raw from the class: each class gets the shared __tostring
  if rawget(cls, '__tostring') == nil then rawset(cls, '__tostring', Optimizer.__tostring) end
  if rawget(cls, '__name') == nil then rawset(cls, '__name', 'luacnn.optim.' .. who) end
  local self = setmetatable({who = who, defaults = defaults, state = {}, param_groups = {}}, cls)
  params = param_list(params, who)
  local groups = is_group_list(params) and params or {{params = params}}
  local seen = {}
  for gi, g in ipairs(groups) do
    local group = {}
    for k, v in pairs(g) do group[k] = copy(v) end
    group.params = param_list(g.params, who)
    if #group.params == 0 then
      error(string.format('%s: parameter group %d has no parameters', who, gi), 0)
    end
    for i, p in ipairs(group.params) do
      if not lc.is_tensor(p) then
        error(string.format('%s: parameter %d of group %d is a %s, not a tensor', who, i, gi, type(p)), 0)
      end
      if not is_float(p) then
        error(string.format('%s: parameter %d of group %d is %s; only float tensors can be optimised',
                            who, i, gi, p.dtype), 0)
      end
      if seen[p] then
        error(string.format('%s: some parameters appear in more than one parameter group', who), 0)
      end
      seen[p] = true
    end
    for k, v in pairs(defaults) do
      if group[k] == nil then group[k] = copy(v) end
    end
    self:check_group(group, gi)
    self.param_groups[gi] = group
  end
  return self
end

-- add_param_group{params = {...}, lr = ...}
function Optimizer:add_param_group(g)
  local seen = {}
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do seen[p] = true end
  end
  local group = {}
  for k, v in pairs(g) do group[k] = copy(v) end
  group.params = param_list(g.params, self.who)
  for _, p in ipairs(group.params) do
    if seen[p] then
      error(self.who .. ': some parameters appear in more than one parameter group', 0)
    end
  end
  for k, v in pairs(self.defaults) do
    if group[k] == nil then group[k] = copy(v) end
  end
  self:check_group(group, #self.param_groups + 1)
  self.param_groups[#self.param_groups + 1] = group
end

function Optimizer:check_group() end

function Optimizer:zero_grad(set_to_none)
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do
      local g = p.grad
      if g then
        if set_to_none == false then lc.no_grad(function() g:zero_() end) else p.grad = nil end
      end
    end
  end
end

-- step([closure]): closure re-evaluates the model and returns the loss (computed with grad
-- enabled); step returns it.
function Optimizer:step(closure)
  local loss
  if closure then loss = lc.enable_grad(closure) end
  for gi, group in ipairs(self.param_groups) do
    self:check_group(group, gi)
    self:update_group(group)
  end
  return loss
end

-- Sets the learning rate of every group.
function Optimizer:set_lr(lr)
  for _, g in ipairs(self.param_groups) do g.lr = lr end
end

function Optimizer:get_lr()
  local out = {}
  for i, g in ipairs(self.param_groups) do out[i] = g.lr end
  return out
end

-- A parameter's state, moved to the parameter's device and dtype first when the module
-- moved (net:to(...) re-points parameters in place; their state follows on the next step).
local function state_of(self, p)
  local s = self.state[p]
  if s then
    for k, v in pairs(s) do
      if lc.is_tensor(v) and (v.device ~= p.device or v.dtype ~= p.dtype) then
        s[k] = v:to(p.device, p.dtype)
      end
    end
  end
  return s
end

-- Parameters with a gradient, and their gradients.
local function with_grads(group)
  local ps, gs = {}, {}
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g then
      if g.device ~= p.device or g.dtype ~= p.dtype then
        error(string.format('optimizer: the gradient of a parameter of shape %s is %s on %s but ' ..
                            'the parameter is %s on %s', tostring(p:shape()), g.dtype, g.device,
                            p.dtype, p.device), 0)
      end
      ps[#ps + 1], gs[#gs + 1] = p, g
    end
  end
  return ps, gs
end

-- ---- state dicts ----

-- {state = {[i] = {...}}, param_groups = {{lr = ..., params = {i, ...}}, ...}}: i is the
-- parameter's 1-based position over all groups. Tensors are shared, not copied.
function Optimizer:state_dict()
  local state, groups, index = {}, {}, 0
  for gi, group in ipairs(self.param_groups) do
    local g = {}
    for k, v in pairs(group) do if k ~= 'params' then g[k] = copy(v) end end
    g.params = {}
    for _, p in ipairs(group.params) do
      index = index + 1
      g.params[#g.params + 1] = index
      if self.state[p] then
        local s = {}
        for k, v in pairs(self.state[p]) do s[k] = v end
        state[index] = s
      end
    end
    groups[gi] = g
  end
  return {state = state, param_groups = groups}
end

-- What a parameter's state may hold, per optimizer class: key -> 'tensor' | 'integer', and
-- which keys a state must have. A state dict read from a file is checked against it before
-- anything changes, so a corrupt checkpoint is an error naming what is wrong, not a crash at
-- the next step (found by the checkpoint fuzzer).
local function check_state_entry(self, who, idx, s, p)
  local schema = self.state_schema or {}
  if type(s) ~= 'table' or lc.is_tensor(s) then
    error(string.format('%s: state for parameter %s is a %s, not a table', who, tostring(idx), type(s)), 0)
  end
  for k, v in pairs(s) do
    local want = schema[k]
    if not want then
      error(string.format('%s: state for parameter %s has an unknown entry %s', who, tostring(idx), tostring(k)), 0)
    end
    if want == 'tensor' then
      if not lc.is_tensor(v) then
        error(string.format('%s: state %s of parameter %s is a %s, not a tensor', who, k, tostring(idx), type(v)), 0)
      end
      if not (v:shape() == p:shape()) then
        error(string.format('%s: state %s of parameter %s has shape %s, the parameter %s', who, k,
                            tostring(idx), tostring(v:shape()), tostring(p:shape())), 0)
      end
    elseif want == 'integer' and (type(v) ~= 'number' or math.tointeger(v) == nil or v < 0) then
      error(string.format('%s: state %s of parameter %s must be a non-negative integer, got %s', who, k,
                          tostring(idx), tostring(v)), 0)
    end
  end
  for _, k in ipairs(self.state_required or {}) do
    if s[k] == nil then
      error(string.format('%s: state for parameter %s lacks %s', who, tostring(idx), k), 0)
    end
  end
end

-- The same kind of value as the optimizer's own (numbers for numbers, lists of as many
-- numbers for lists), or, for a key it does not have, a plain number, boolean or string.
local function check_hyper(who, gi, k, v, mine)
  local function bad(what)
    error(string.format('%s: parameter group %d has %s = %s, %s', who, gi, tostring(k), tostring(v), what), 0)
  end
  if type(k) ~= 'string' then bad('not a setting name') end
  if mine == nil then
    if type(v) ~= 'number' and type(v) ~= 'boolean' and type(v) ~= 'string' then bad('not a plain value') end
  elseif type(mine) == 'table' then
    if type(v) ~= 'table' or #v ~= #mine then bad(string.format('expected a list of %d numbers', #mine)) end
    for i = 1, #mine do if type(v[i]) ~= type(mine[i]) then bad('expected a list of numbers') end end
  elseif type(v) ~= type(mine) then
    bad('expected a ' .. type(mine))
  end
end

-- Restores hyper-parameters and state (tensors cast to each parameter's dtype and device and
-- copied, so the optimizer owns them). Everything is checked first: on an error the
-- optimizer is left as it was.
function Optimizer:load_state_dict(sd)
  local who = self.who .. ':load_state_dict'
  if type(sd) ~= 'table' or type(sd.param_groups) ~= 'table' then
    error(who .. ': expected a table {state = ..., param_groups = ...} from state_dict()', 0)
  end
  if #sd.param_groups ~= #self.param_groups then
    error(string.format('%s: the state dict has %d parameter groups, the optimizer %d', who,
                        #sd.param_groups, #self.param_groups), 0)
  end
  local by_index = {}
  local new_groups = {}
  for gi, g in ipairs(sd.param_groups) do
    local mine = self.param_groups[gi]
    if type(g) ~= 'table' or type(g.params) ~= 'table' or #g.params ~= #mine.params then
      error(string.format("%s: parameter group %d holds %d parameters in the state dict but %d " ..
                          "in the optimizer", who, gi, type(g) == 'table' and type(g.params) == 'table'
                          and #g.params or 0, #mine.params), 0)
    end
    for i, idx in ipairs(g.params) do
      if math.type(idx) ~= 'integer' or idx < 1 or by_index[idx] then
        error(string.format('%s: parameter group %d lists a bad or repeated parameter index %s', who, gi,
                            tostring(idx)), 0)
      end
      by_index[idx] = mine.params[i]
    end
    local ng = {}
    for k, v in pairs(mine) do ng[k] = v end
    for k, v in pairs(g) do
      if k ~= 'params' then
        check_hyper(who, gi, k, v, mine[k])
        ng[k] = copy(v)
      end
    end
    self:check_group(ng, gi)
    new_groups[gi] = ng
  end
  if sd.state ~= nil and type(sd.state) ~= 'table' then error(who .. ': state is not a table', 0) end
  for idx, s in pairs(sd.state or {}) do
    local p = by_index[tonumber(idx)]
    if not p then error(string.format('%s: state for parameter %s, which no group holds', who, tostring(idx)), 0) end
    check_state_entry(self, who, idx, s, p)
  end
  local new_state = {}
  for idx, s in pairs(sd.state or {}) do
    local p = by_index[tonumber(idx)]
    local ns = {}
    for k, v in pairs(s) do
      if lc.is_tensor(v) then
        ns[k] = lc.no_grad(function()
          local t = v:to(p.device, is_float(v) and p.dtype or v.dtype)
          if t == v then t = v:clone() end
          return t:detach()
        end)
      else
        ns[k] = math.tointeger(v)  -- checked: an integral number
      end
    end
    new_state[p] = ns
  end
  for gi, ng in ipairs(new_groups) do
    local mine = self.param_groups[gi]
    for k, v in pairs(ng) do mine[k] = v end
  end
  self.state = new_state
end

-- ---- SGD ----

local SGD = setmetatable({}, {__index = Optimizer})
SGD.__index = SGD
optim.SGD = SGD


local sgd_options = options.parser('SGD', {'params'},
                                   {'lr', 'momentum', 'dampening', 'weight_decay', 'nesterov'})

-- SGD(params, {lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false})
-- or in PyTorch's order SGD(params, lr, momentum, dampening, weight_decay, nesterov). The
-- options table is checked (a misspelt name is an error); parameter groups may hold any key.
function SGD.new(params, ...)
  local opts = sgd_options(...)
  local defaults = {lr = opts.lr or 1e-3, momentum = opts.momentum or 0,
                    dampening = opts.dampening or 0, weight_decay = opts.weight_decay or 0,
                    nesterov = opts.nesterov or false}
  return Optimizer.new(SGD, 'SGD', params, defaults)
end

function SGD:check_group(g, gi)
  check_number(g.lr, 'SGD', 'learning rate', 0)
  check_number(g.momentum, 'SGD', 'momentum value', 0)
  check_number(g.dampening, 'SGD', 'dampening value', -math.huge)
  check_number(g.weight_decay, 'SGD', 'weight_decay value', 0)
  if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
    error('SGD: Nesterov momentum requires a momentum and zero dampening', 0)
  end
end

function SGD:update_group(g)
  local ps, gs = with_grads(g)
  if #ps == 0 then return end
  local step = fused('sgd_step')
  local nesterov = g.nesterov and true or false
  if g.momentum == 0 then
    step(ps, gs, nil, g.lr, 0, g.dampening, g.weight_decay, nesterov, false)
    return
  end
  -- parameters with a momentum buffer, and those on their first step (buffer = d)
  local old_p, old_g, old_b, new_p, new_g, new_b = {}, {}, {}, {}, {}, {}
  for i, p in ipairs(ps) do
    local s = state_of(self, p)
    if s and s.momentum_buffer then
      old_p[#old_p + 1], old_g[#old_g + 1], old_b[#old_b + 1] = p, gs[i], s.momentum_buffer
    else
      local buf = lc.zeros_like(p)
      self.state[p] = self.state[p] or {}
      self.state[p].momentum_buffer = buf
      new_p[#new_p + 1], new_g[#new_g + 1], new_b[#new_b + 1] = p, gs[i], buf
    end
  end
  if #old_p > 0 then
    step(old_p, old_g, old_b, g.lr, g.momentum, g.dampening, g.weight_decay, nesterov, false)
  end
  if #new_p > 0 then
    step(new_p, new_g, new_b, g.lr, g.momentum, g.dampening, g.weight_decay, nesterov, true)
  end
end

SGD.state_schema = {momentum_buffer = 'tensor'}
SGD.state_required = {'momentum_buffer'}
setmetatable(SGD, {__index = Optimizer, __call = function(_, ...) return SGD.new(...) end})

-- ---- Adam and AdamW ----

local function make_adam(name, decoupled, default_wd)
  local cls = {}
  cls.__index = cls
  local parse = options.parser(name, {'params'}, {'lr', 'betas', 'eps', 'weight_decay', 'amsgrad'})

  -- name(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay, amsgrad = false})
  -- or name(params, lr, betas, eps, weight_decay, amsgrad)
  function cls.new(params, ...)
    local opts = parse(...)
    local defaults = {lr = opts.lr or 1e-3, betas = opts.betas or {0.9, 0.999},
                      eps = opts.eps or 1e-8, weight_decay = opts.weight_decay or default_wd,
                      amsgrad = opts.amsgrad or false}
    return Optimizer.new(cls, name, params, defaults)
  end

  function cls:check_group(g)
    check_number(g.lr, name, 'learning rate', 0)
    check_number(g.eps, name, 'epsilon value', 0)
    check_number(g.weight_decay, name, 'weight_decay value', 0)
    if type(g.betas) ~= 'table' or #g.betas ~= 2 then
      error(string.format('%s: betas must be a pair {beta1, beta2}, got %s', name, tostring(g.betas)), 0)
    end
    for i = 1, 2 do
      if type(g.betas[i]) ~= 'number' or g.betas[i] < 0 or g.betas[i] >= 1 then
        error(string.format('%s: invalid beta parameter at index %d: %s (expected 0 <= beta < 1)',
                            name, i, tostring(g.betas[i])), 0)
      end
    end
  end

  function cls:update_group(g)
    local ps, gs = with_grads(g)
    if #ps == 0 then return end
    local step_fn = fused('adam_step')
    -- one fused call per distinct step count (all equal unless parameters joined late)
    local by_step, order = {}, {}
    for i, p in ipairs(ps) do
      local s = state_of(self, p)
      if not s then
        s = {step = 0, exp_avg = lc.zeros_like(p), exp_avg_sq = lc.zeros_like(p)}
        self.state[p] = s
      end
      if g.amsgrad and not s.max_exp_avg_sq then s.max_exp_avg_sq = lc.zeros_like(p) end
      s.step = s.step + 1
      local b = by_step[s.step]
      if not b then
        b = {p = {}, g = {}, m = {}, v = {}, vmax = {}}
        by_step[s.step] = b
        order[#order + 1] = s.step
      end
      local k = #b.p + 1
      b.p[k], b.g[k], b.m[k], b.v[k] = p, gs[i], s.exp_avg, s.exp_avg_sq
      b.vmax[k] = s.max_exp_avg_sq
    end
    for _, step in ipairs(order) do
      local b = by_step[step]
      step_fn(b.p, b.g, b.m, b.v, g.amsgrad and b.vmax or nil, g.lr, g.betas[1], g.betas[2], g.eps,
              g.weight_decay, decoupled, step)
    end
  end

  cls.state_schema = {step = 'integer', exp_avg = 'tensor', exp_avg_sq = 'tensor', max_exp_avg_sq = 'tensor'}
  cls.state_required = {'step', 'exp_avg', 'exp_avg_sq'}
  setmetatable(cls, {__index = Optimizer, __call = function(_, ...) return cls.new(...) end})
  return cls
end

optim.Adam = make_adam('Adam', false, 0)
optim.AdamW = make_adam('AdamW', true, 1e-2)

-- ---- learning-rate schedulers (lib/luacnn/lr_scheduler.lua) ----
local lr_scheduler = require 'luacnn.lr_scheduler'
optim.lr_scheduler = lr_scheduler
for name, cls in pairs(lr_scheduler) do
  if name ~= 'LRScheduler' then optim[name] = cls end
end

return optim
