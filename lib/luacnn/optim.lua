-- lc.optim: SGD, Adam, AdamW with PyTorch's update rules, parameter groups and learning-rate
-- schedulers (lc.optim.lr_scheduler, also reachable as lc.optim.StepLR, ...).
--
--   local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9, weight_decay = 5e-4})
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

local function copy(t)
  if type(t) ~= 'table' or lc.is_tensor(t) then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

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
local function show_value(v)
  if type(v) == 'table' then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = show_value(x) end
    return '(' .. table.concat(parts, ', ') .. ')'
  elseif math.type(v) == 'float' then
    return string.format('%.10g', v)
  end
  return tostring(v)
end

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

local function check_number(v, who, what, min)
  if type(v) ~= 'number' or v ~= v or v < min then
    error(string.format('%s: invalid %s %s (expected a number >= %s)', who, what, tostring(v),
                        tostring(min)), 0)
  end
end

-- SGD(params, {lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false})
-- or SGD(params, lr).
function SGD.new(params, opts)
  if type(opts) == 'number' then opts = {lr = opts} end
  opts = opts or {}
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
  -- name(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay, amsgrad = false})
  function cls.new(params, opts)
    if type(opts) == 'number' then opts = {lr = opts} end
    opts = opts or {}
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

-- ---- learning-rate schedulers ----
-- Each keeps last_epoch (the number of step() calls, 0 after construction, as PyTorch) and
-- sets every group's lr from the closed form of PyTorch's schedule. step() is called once per
-- epoch (or per batch for OneCycleLR and per-iteration schedules).

local lr_scheduler = {}
optim.lr_scheduler = lr_scheduler

local Scheduler = {}
Scheduler.__index = Scheduler
lr_scheduler.LRScheduler = Scheduler

local function check_optimizer(opt, who)
  if type(opt) ~= 'table' or type(opt.param_groups) ~= 'table' then
    error(who .. ': expected an optimizer (lc.optim.SGD(...), ...) as first argument', 0)
  end
end

-- StepLR(step_size=30, gamma=0.1, last_epoch=0, last_lr=(0.05))
function Scheduler.__tostring(self)
  local keys = {}
  for k, v in pairs(self) do
    if type(k) == 'string' and not k:match('^_') and k ~= 'who' and k ~= 'optimizer' and
       k ~= 'base_lrs' and k ~= 'last_epoch' and type(v) ~= 'function' and
       (type(v) ~= 'table' or (#v > 0 and type(v[1]) == 'number')) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. show_value(self[k]) end
  parts[#parts + 1] = 'last_epoch=' .. tostring(self.last_epoch)
  parts[#parts + 1] = 'last_lr=' .. show_value(self._last_lr or {})
  return (self.who or 'LRScheduler') .. '(' .. table.concat(parts, ', ') .. ')'
end

function Scheduler.new(cls, who, opt, last_epoch)
  check_optimizer(opt, who)
  if rawget(cls, '__tostring') == nil then rawset(cls, '__tostring', Scheduler.__tostring) end
  if rawget(cls, '__name') == nil then rawset(cls, '__name', 'luacnn.optim.' .. who) end
  local self = setmetatable({who = who, optimizer = opt}, cls)
  last_epoch = last_epoch or -1
  for i, g in ipairs(opt.param_groups) do
    if last_epoch == -1 then
      g.initial_lr = g.lr
    elseif g.initial_lr == nil then
      error(string.format("%s: param 'initial_lr' is not specified in param_groups[%d] when " ..
                          'resuming an optimizer', who, i), 0)
    end
  end
  self.base_lrs = {}
  for i, g in ipairs(opt.param_groups) do self.base_lrs[i] = g.initial_lr end
  self.last_epoch = last_epoch
  return self
end

-- The first step, done by the constructors once their fields are set.
function Scheduler:_initial_step() self:step() end

function Scheduler:step(epoch)
  if epoch ~= nil then self.last_epoch = epoch else self.last_epoch = self.last_epoch + 1 end
  local lrs = self:get_lr()
  for i, g in ipairs(self.optimizer.param_groups) do g.lr = lrs[i] end
  self._last_lr = lrs
end

function Scheduler:get_last_lr()
  local out = {}
  for i, v in ipairs(self._last_lr or {}) do out[i] = v end
  return out
end

local scheduler_skip = {optimizer = true, who = true}

-- Plain values only (numbers, strings, tables of numbers): fits a JSON checkpoint.
function Scheduler:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if not scheduler_skip[k] and type(v) ~= 'function' then sd[k] = copy(v) end
  end
  return sd
end

-- Values are checked against the scheduler's own (same kind, lists of as many numbers)
-- before any is taken, so a corrupt checkpoint cannot leave a half-restored schedule.
function Scheduler:load_state_dict(sd)
  local who = self.who .. ':load_state_dict'
  if type(sd) ~= 'table' then error(who .. ': expected a table from state_dict()', 0) end
  for k, v in pairs(sd) do
    if not scheduler_skip[k] then
      local mine = self[k]
      local ok = mine == nil and (type(v) == 'number' or type(v) == 'boolean' or type(v) == 'string')
      if type(mine) == 'table' then
        ok = type(v) == 'table' and #v == #mine
        for i = 1, #mine do ok = ok and type(v[i]) == type(mine[i]) end
      elseif mine ~= nil then
        ok = type(v) == type(mine) and (math.type(mine) ~= 'integer' or math.tointeger(v) ~= nil)
      end
      if not ok or type(k) ~= 'string' then
        error(string.format('%s: %s = %s does not fit this scheduler (it has %s)', who, tostring(k),
                            tostring(v), tostring(mine)), 0)
      end
    end
  end
  local fields = {}
  for k, v in pairs(self) do fields[k] = v end
  for k, v in pairs(sd) do
    if not scheduler_skip[k] then
      fields[k] = math.type(self[k]) == 'integer' and math.tointeger(v) or copy(v)
    end
  end
  -- the constructor's own rules (a step_size of 0 would only fail at the next step)
  if self.check_fields then self.check_fields(fields, who) end
  for k, v in pairs(fields) do self[k] = v end
end

local function scheduler_class(name)
  local cls = setmetatable({}, {__index = Scheduler})
  cls.__index = cls
  getmetatable(cls).__call = function(_, ...) return cls.new(...) end
  lr_scheduler[name] = cls
  optim[name] = cls
  return cls
end

local function positive_int(v, who, what)
  local i = math.type(v) == 'float' and math.tointeger(v) or v
  if math.type(i) ~= 'integer' or i < 1 then
    error(string.format('%s: %s must be a positive integer, got %s', who, what, tostring(v)), 0)
  end
  return i
end

-- StepLR(opt, {step_size, gamma = 0.1}): lr = base_lr * gamma ^ floor(epoch / step_size)
local StepLR = scheduler_class('StepLR')
function StepLR.check_fields(f, who)
  positive_int(f.step_size, who, 'step_size')
  check_number(f.gamma, who, 'gamma', 0)
end
function StepLR.new(opt, opts)
  opts = opts or {}
  StepLR.check_fields({step_size = opts.step_size, gamma = opts.gamma or 0.1}, 'StepLR')
  local self = Scheduler.new(StepLR, 'StepLR', opt, opts.last_epoch)
  self.step_size, self.gamma = opts.step_size, opts.gamma or 0.1
  self:_initial_step()
  return self
end
function StepLR:get_lr()
  local out = {}
  for i, base in ipairs(self.base_lrs) do
    out[i] = base * self.gamma ^ (self.last_epoch // self.step_size)
  end
  return out
end

-- MultiStepLR(opt, {milestones = {30, 80}, gamma = 0.1}): lr = base_lr * gamma ^ (number of
-- milestones reached)
local MultiStepLR = scheduler_class('MultiStepLR')
function MultiStepLR.check_fields(f, who)
  for i, m in ipairs(f.milestones) do
    if math.type(m) ~= 'integer' then
      error(string.format('%s: milestone %d must be an integer epoch, got %s', who, i, tostring(m)), 0)
    end
  end
  check_number(f.gamma, who, 'gamma', 0)
end
function MultiStepLR.new(opt, opts)
  opts = opts or {}
  if type(opts.milestones) ~= 'table' then
    error('MultiStepLR: milestones must be a list of epochs, e.g. {30, 80}', 0)
  end
  local fields = {milestones = copy(opts.milestones), gamma = opts.gamma or 0.1}
  MultiStepLR.check_fields(fields, 'MultiStepLR')
  table.sort(fields.milestones)
  local self = Scheduler.new(MultiStepLR, 'MultiStepLR', opt, opts.last_epoch)
  for k, v in pairs(fields) do self[k] = v end
  self:_initial_step()
  return self
end
function MultiStepLR:get_lr()
  local reached = 0
  for _, m in ipairs(self.milestones) do if self.last_epoch >= m then reached = reached + 1 end end
  local out = {}
  for i, base in ipairs(self.base_lrs) do out[i] = base * self.gamma ^ reached end
  return out
end

-- CosineAnnealingLR(opt, {T_max, eta_min = 0}):
--   lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
local CosineAnnealingLR = scheduler_class('CosineAnnealingLR')
function CosineAnnealingLR.check_fields(f, who)
  positive_int(f.T_max, who, 'T_max')
  check_number(f.eta_min, who, 'eta_min', 0)
end
function CosineAnnealingLR.new(opt, opts)
  opts = opts or {}
  CosineAnnealingLR.check_fields({T_max = opts.T_max, eta_min = opts.eta_min or 0}, 'CosineAnnealingLR')
  local self = Scheduler.new(CosineAnnealingLR, 'CosineAnnealingLR', opt, opts.last_epoch)
  self.T_max, self.eta_min = opts.T_max, opts.eta_min or 0
  self:_initial_step()
  return self
end
function CosineAnnealingLR:get_lr()
  local out = {}
  for i, base in ipairs(self.base_lrs) do
    out[i] = self.eta_min + (base - self.eta_min) *
             (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
  end
  return out
end

-- LinearLR(opt, {start_factor = 1/3, end_factor = 1, total_iters = 5}): a linear warmup (or
-- decay): lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)
local LinearLR = scheduler_class('LinearLR')
function LinearLR.check_fields(f, who)
  local s, e = f.start_factor, f.end_factor
  if type(s) ~= 'number' or not (s > 0 and s <= 1) then
    error(who .. ': start_factor must be in (0, 1], got ' .. tostring(s), 0)
  end
  if type(e) ~= 'number' or not (e >= 0 and e <= 1) then
    error(who .. ': end_factor must be in [0, 1], got ' .. tostring(e), 0)
  end
  positive_int(f.total_iters, who, 'total_iters')
end
function LinearLR.new(opt, opts)
  opts = opts or {}
  local fields = {start_factor = opts.start_factor or 1 / 3, end_factor = opts.end_factor or 1,
                  total_iters = opts.total_iters or 5}
  LinearLR.check_fields(fields, 'LinearLR')
  local self = Scheduler.new(LinearLR, 'LinearLR', opt, opts.last_epoch)
  for k, v in pairs(fields) do self[k] = v end
  self:_initial_step()
  return self
end
function LinearLR:get_lr()
  local t = math.min(self.last_epoch, self.total_iters) / self.total_iters
  local factor = self.start_factor + (self.end_factor - self.start_factor) * t
  local out = {}
  for i, base in ipairs(self.base_lrs) do out[i] = base * factor end
  return out
end

-- LambdaLR(opt, fn): lr = base_lr * fn(epoch). Its state dict leaves fn out.
local LambdaLR = scheduler_class('LambdaLR')
function LambdaLR.new(opt, fn, opts)
  if type(fn) ~= 'function' then error('LambdaLR: expected a function epoch -> factor', 0) end
  local self = Scheduler.new(LambdaLR, 'LambdaLR', opt, opts and opts.last_epoch)
  self.lr_lambda = fn
  self:_initial_step()
  return self
end
function LambdaLR:get_lr()
  local out = {}
  for i, base in ipairs(self.base_lrs) do out[i] = base * self.lr_lambda(self.last_epoch) end
  return out
end

-- OneCycleLR(opt, {max_lr, total_steps | epochs and steps_per_epoch, pct_start = 0.3,
--   anneal_strategy = 'cos', div_factor = 25, final_div_factor = 1e4, three_phase = false,
--   cycle_momentum = true, base_momentum = 0.85, max_momentum = 0.95}), stepped once per
-- batch, with PyTorch's phases: initial_lr = max_lr / div_factor rises to max_lr over
-- pct_start of the steps, then falls to initial_lr / final_div_factor; momentum (or Adam's
-- beta1) moves the opposite way between max_momentum and base_momentum.
local OneCycleLR = scheduler_class('OneCycleLR')

local function per_group(v, n, who, what)
  if type(v) == 'table' then
    if #v ~= n then
      error(string.format('%s: expected %d values for %s (one per group), got %d', who, n, what, #v), 0)
    end
    return copy(v)
  end
  local out = {}
  for i = 1, n do out[i] = v end
  return out
end

local one_cycle_keys = {initial_lr = true, max_lr = true, min_lr = true, max_momentum = true,
                        base_momentum = true}
function OneCycleLR.check_fields(f, who)
  positive_int(f.total_steps, who, 'total_steps')
  if f.anneal_strategy ~= 'cos' and f.anneal_strategy ~= 'linear' then
    error(who .. ": anneal_strategy must be 'cos' or 'linear', got " .. tostring(f.anneal_strategy), 0)
  end
  for i, phase in ipairs(f.phases) do
    local ok = type(phase) == 'table' and type(phase.end_step) == 'number'
    for _, k in ipairs({'start', 'stop', 'm_start', 'm_stop'}) do
      ok = ok and one_cycle_keys[phase[k]]
    end
    if not ok then error(string.format('%s: phase %d of the schedule is malformed', who, i), 0) end
  end
end

function OneCycleLR.new(opt, opts)
  local who = 'OneCycleLR'
  check_optimizer(opt, who)
  opts = opts or {}
  if opts.max_lr == nil then error(who .. ': max_lr is required', 0) end
  local total = opts.total_steps
  if total == nil then
    if opts.epochs == nil or opts.steps_per_epoch == nil then
      error(who .. ': give total_steps, or epochs and steps_per_epoch', 0)
    end
    positive_int(opts.epochs, who, 'epochs')
    positive_int(opts.steps_per_epoch, who, 'steps_per_epoch')
    total = opts.epochs * opts.steps_per_epoch
  end
  positive_int(total, who, 'total_steps')
  local pct = opts.pct_start or 0.3
  if type(pct) ~= 'number' or pct < 0 or pct > 1 then
    error(who .. ': pct_start must be a number in [0, 1], got ' .. tostring(pct), 0)
  end
  local strategy = opts.anneal_strategy or 'cos'
  if strategy ~= 'cos' and strategy ~= 'linear' then
    error(who .. ": anneal_strategy must be 'cos' or 'linear', got " .. tostring(strategy), 0)
  end
  local div, final_div = opts.div_factor or 25, opts.final_div_factor or 1e4
  local n = #opt.param_groups
  local max_lrs = per_group(opts.max_lr, n, who, 'max_lr')
  local last_epoch = opts.last_epoch or -1
  local self = setmetatable({who = who, optimizer = opt, total_steps = total,
                             anneal_strategy = strategy, three_phase = opts.three_phase or false},
                            OneCycleLR)
  if self.three_phase then
    self.phases = {
      {end_step = pct * total - 1, start = 'initial_lr', stop = 'max_lr', m_start = 'max_momentum', m_stop = 'base_momentum'},
      {end_step = 2 * pct * total - 2, start = 'max_lr', stop = 'initial_lr', m_start = 'base_momentum', m_stop = 'max_momentum'},
      {end_step = total - 1, start = 'initial_lr', stop = 'min_lr', m_start = 'max_momentum', m_stop = 'max_momentum'},
    }
  else
    self.phases = {
      {end_step = pct * total - 1, start = 'initial_lr', stop = 'max_lr', m_start = 'max_momentum', m_stop = 'base_momentum'},
      {end_step = total - 1, start = 'max_lr', stop = 'min_lr', m_start = 'base_momentum', m_stop = 'max_momentum'},
    }
  end
  if last_epoch == -1 then
    for i, g in ipairs(opt.param_groups) do
      g.initial_lr = max_lrs[i] / div
      g.max_lr = max_lrs[i]
      g.min_lr = g.initial_lr / final_div
    end
  end
  self.cycle_momentum = opts.cycle_momentum ~= false
  if self.cycle_momentum then
    local g1 = opt.param_groups[1]
    if g1.momentum == nil and g1.betas == nil then
      error(who .. ': the optimizer has no momentum or betas to cycle; use cycle_momentum = false', 0)
    end
    self.use_beta1 = g1.betas ~= nil
    local base_m = per_group(opts.base_momentum or 0.85, n, who, 'base_momentum')
    local max_m = per_group(opts.max_momentum or 0.95, n, who, 'max_momentum')
    if last_epoch == -1 then
      for i, g in ipairs(opt.param_groups) do
        if self.use_beta1 then g.betas = {max_m[i], g.betas[2]} else g.momentum = max_m[i] end
        g.max_momentum, g.base_momentum = max_m[i], base_m[i]
      end
    end
  end
  self.base_lrs = {}
  for i, g in ipairs(opt.param_groups) do self.base_lrs[i] = g.initial_lr end
  self.last_epoch = last_epoch
  self:_initial_step()
  return self
end

local function anneal(strategy, start, stop, pct)
  if strategy == 'cos' then return stop + (start - stop) / 2 * (math.cos(math.pi * pct) + 1) end
  return (stop - start) * pct + start
end

function OneCycleLR:get_lr()
  local step = self.last_epoch
  if step > self.total_steps then
    error(string.format('OneCycleLR: tried to step %d times; the schedule has total_steps = %d',
                        step, self.total_steps), 0)
  end
  local out = {}
  for i, g in ipairs(self.optimizer.param_groups) do
    local start_step = 0
    for k, phase in ipairs(self.phases) do
      local end_step = phase.end_step
      if step <= end_step or k == #self.phases then
        local pct = (step - start_step) / (end_step - start_step)
        out[i] = anneal(self.anneal_strategy, g[phase.start], g[phase.stop], pct)
        if self.cycle_momentum then
          local m = anneal(self.anneal_strategy, g[phase.m_start], g[phase.m_stop], pct)
          if self.use_beta1 then g.betas = {m, g.betas[2]} else g.momentum = m end
        end
        break
      end
      start_step = end_step
    end
  end
  return out
end

return optim
