-- lc.optim.lr_scheduler (also reachable as lc.optim.StepLR, ...): learning-rate schedulers with
-- PyTorch's closed forms and state dicts.
--
--   local sched = lc.optim.lr_scheduler.CosineAnnealingLR(opt, {T_max = 100}); sched:step()
--   local sched = lc.optim.StepLR(opt, 30, 0.1)        -- PyTorch's order: step_size, gamma
--
-- Options as a table or in PyTorch's order (luacnn.options); a misspelt name is an error.
local values = require 'luacnn.optim_values'
local options = require 'luacnn.options'
local copy, show_value, check_number = values.copy, values.show, values.check_number

-- Each keeps last_epoch (the number of step() calls, 0 after construction, as PyTorch) and
-- sets every group's lr from the closed form of PyTorch's schedule. step() is called once per
-- epoch (or per batch for OneCycleLR and per-iteration schedules).

local lr_scheduler = {}

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
  return cls
end

local positive_int = options.positive_int

-- new(opt, ...) of a scheduler whose settings are plain fields, `names` in PyTorch's order
-- after the optimizer (then last_epoch): a missing one takes defaults[name], the class's
-- check_fields checks them all (as a loaded state dict's), and they are set on the object.
local function plain_constructor(cls, name, names, defaults)
  local order = table.move(names, 1, #names, 1, {})
  order[#order + 1] = 'last_epoch'
  local parse = options.parser(name, {'optimizer'}, order)
  return function(opt, ...)
    local opts = parse(...)
    local fields = {}
    for _, k in ipairs(names) do
      local v = opts[k]
      if not v and defaults[k] ~= nil then v = defaults[k] end
      fields[k] = v
    end
    cls.check_fields(fields, name)
    local self = Scheduler.new(cls, name, opt, opts.last_epoch)
    for k, v in pairs(fields) do self[k] = v end
    self:_initial_step()
    return self
  end
end

-- StepLR(opt, {step_size, gamma = 0.1}): lr = base_lr * gamma ^ floor(epoch / step_size)
local StepLR = scheduler_class('StepLR')
function StepLR.check_fields(f, who)
  positive_int(f.step_size, who, 'step_size')
  check_number(f.gamma, who, 'gamma', 0)
end
StepLR.new = plain_constructor(StepLR, 'StepLR', {'step_size', 'gamma'}, {gamma = 0.1})
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
local multistep_options = options.parser('MultiStepLR', {'optimizer'},
                                         {'milestones', 'gamma', 'last_epoch'})
function MultiStepLR.new(opt, ...)
  local opts = multistep_options(...)
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
CosineAnnealingLR.new = plain_constructor(CosineAnnealingLR, 'CosineAnnealingLR',
                                          {'T_max', 'eta_min'}, {eta_min = 0})
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
LinearLR.new = plain_constructor(LinearLR, 'LinearLR', {'start_factor', 'end_factor', 'total_iters'},
                                 {start_factor = 1 / 3, end_factor = 1, total_iters = 5})
function LinearLR:get_lr()
  local t = math.min(self.last_epoch, self.total_iters) / self.total_iters
  local factor = self.start_factor + (self.end_factor - self.start_factor) * t
  local out = {}
  for i, base in ipairs(self.base_lrs) do out[i] = base * factor end
  return out
end

-- LambdaLR(opt, fn [, last_epoch | {last_epoch}]): lr = base_lr * fn(epoch). Its state dict
-- leaves fn out.
local LambdaLR = scheduler_class('LambdaLR')
local lambda_options = options.parser('LambdaLR', {'optimizer', 'lr_lambda'}, {'last_epoch'})
function LambdaLR.new(opt, fn, ...)
  if type(fn) ~= 'function' then error('LambdaLR: expected a function epoch -> factor', 0) end
  local self = Scheduler.new(LambdaLR, 'LambdaLR', opt, lambda_options(...).last_epoch)
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
local one_cycle_options = options.parser('OneCycleLR', {'optimizer'},
  {'max_lr', 'total_steps', 'epochs', 'steps_per_epoch', 'pct_start', 'anneal_strategy',
   'cycle_momentum', 'base_momentum', 'max_momentum', 'div_factor', 'final_div_factor',
   'three_phase', 'last_epoch'})

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

function OneCycleLR.new(opt, ...)
  local who = 'OneCycleLR'
  check_optimizer(opt, who)
  local opts = one_cycle_options(...)
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

return lr_scheduler
