-- nn.Module: the base of every layer and network, with PyTorch's semantics in a 1-based world.
--
--   local Block = nn.Module:extend 'Block'        -- a subclass
--   function Block:init(c) self.conv = nn.Conv2d(c, c, 3, {padding = 1}) end
--   function Block:forward(x) return lc.relu(self.conv(x)) end
--   local b = Block(16); b(x)                       -- calling a module runs forward
--
-- Fields assigned to an instance are routed by __newindex: modules become children,
-- nn.Parameter tensors become parameters, tensors assigned to a registered buffer's name
-- replace that buffer, anything else is a plain attribute. Each kind is kept in an ordered
-- registry so parameters, state dicts and printing follow the order of assignment.
-- Only the registries and `training` live in the instance table itself; everything else is
-- reached through __index.
local lc = require 'luacnn'
local options = require 'luacnn.options'

local M = {}

-- ---- parameters ----

-- Tensors made parameters by nn.Parameter. Weak keys: a parameter's mark goes with it.
-- (The bindings return the same userdata for the same C tensor, so identity holds.)
local parameter_marks = setmetatable({}, {__mode = 'k'})

function M.Parameter(t, requires_grad)
  if not lc.is_tensor(t) then
    error('nn.Parameter: expected a tensor, got ' .. type(t), 2)
  end
  if t.grad_fn then t = t:detach() end          -- a parameter is a leaf
  if requires_grad == nil then requires_grad = true end
  t.requires_grad = requires_grad
  parameter_marks[t] = true
  return t
end

function M.is_parameter(t) return parameter_marks[t] == true end

-- ---- ordered registries ----

local function registry() return {keys = {}, vals = {}} end

local function reg_has(r, k)
  if r.vals[k] ~= nil then return true end
  for _, name in ipairs(r.keys) do if name == k then return true end end
  return false
end

local function reg_set(r, k, v)
  if not reg_has(r, k) then r.keys[#r.keys + 1] = k end
  r.vals[k] = v
end

-- Forgets a name altogether (assigning nil instead keeps the slot, and so the order, as
-- PyTorch does for `self.bias = None`).
local function reg_remove(r, k)
  r.vals[k] = nil
  for i, name in ipairs(r.keys) do
    if name == k then table.remove(r.keys, i) return end
  end
end

-- ---- the class ----

local Module = {}
Module.__name = 'Module'
Module.__luacnn_module = true
M.Module = Module

local function is_module(v)
  if type(v) ~= 'table' then return false end
  local mt = getmetatable(v)
  return type(mt) == 'table' and rawget(mt, '__luacnn_module') == true and rawget(v, '_modules') ~= nil
end
M.is_module = is_module

local function class_name(m)
  local mt = getmetatable(m)
  return mt and rawget(mt, '__name') or 'Module'
end
M.class_name = class_name

-- Positional access to children: net[3], net[-1]. Children of Sequential are named
-- '1', '2', ...; positions count children whatever their names.
local function child_at(self, i)
  local keys = rawget(self, '_modules').keys
  if i < 0 then i = #keys + 1 + i end
  local name = keys[i]
  if name == nil then return nil end
  return self._modules.vals[name]
end

function Module.__index(self, k)
  local v = self._parameters.vals[k]
  if v ~= nil then return v end
  v = self._modules.vals[k]
  if v ~= nil then return v end
  v = self._buffers.vals[k]
  if v ~= nil then return v end
  v = self._attrs[k]
  if v ~= nil then return v end
  if math.type(k) == 'integer' then return child_at(self, k) end
  return getmetatable(self)[k]
end

local function assign_parameter(self, k, v)
  if not parameter_marks[v] then
    if v.grad_fn then
      error(string.format("%s: cannot assign a computed tensor (it has grad_fn %s) as parameter " ..
                          "'%s': use nn.Parameter(t), or copy values in with " ..
                          "lc.no_grad(function() self.%s:copy_(t) end)",
                          class_name(self), v.grad_fn, k, k), 3)
    end
    M.Parameter(v, lc.is_tensor(v) and v:is_floating_point())
  end
  self._buffers.vals[k], self._modules.vals[k], self._attrs[k] = nil, nil, nil
  reg_remove(self._buffers, k); reg_remove(self._modules, k)
  reg_set(self._parameters, k, v)
end

function Module.__newindex(self, k, v)
  if math.type(k) == 'integer' then
    local keys = self._modules.keys
    local i = k < 0 and #keys + 1 + k or k
    if keys[i] == nil or not is_module(v) then
      error(string.format('%s: can only replace an existing child by position (1..%d) with a module',
                          class_name(self), #keys), 2)
    end
    self._modules.vals[keys[i]] = v
    return
  end
  if type(k) ~= 'string' then
    error(class_name(self) .. ': field names must be strings, got ' .. type(k), 2)
  end
  if is_module(v) then
    self._attrs[k] = nil
    reg_remove(self._parameters, k); reg_remove(self._buffers, k)
    reg_set(self._modules, k, v)
  elseif lc.is_tensor(v) and (parameter_marks[v] or reg_has(self._parameters, k)) then
    assign_parameter(self, k, v)
  elseif lc.is_tensor(v) and reg_has(self._buffers, k) then
    self._buffers.vals[k] = v
  elseif v == nil then
    -- `self.bias = nil`: the name stays registered (as PyTorch's None) so the order holds
    self._parameters.vals[k], self._buffers.vals[k], self._modules.vals[k] = nil, nil, nil
    self._attrs[k] = nil
  elseif reg_has(self._parameters, k) or reg_has(self._modules, k) then
    local kind = reg_has(self._parameters, k) and 'parameter' or 'child module'
    error(string.format("%s: cannot assign a %s as %s '%s' (a %s or nil expected)",
                        class_name(self), type(v), kind, k,
                        kind == 'parameter' and 'tensor' or 'module'), 2)
  else
    self._attrs[k] = v
  end
end

-- Subclassing: metamethods are copied down so instances of every class get them.
local function make_class(parent, name)
  if type(name) ~= 'string' then
    error('Module:extend: expected a class name string, got ' .. type(name), 3)
  end
  local cls = {}
  for k, v in pairs(parent) do
    if type(k) == 'string' and k:sub(1, 2) == '__' then cls[k] = v end
  end
  cls.__name = name
  cls.super = parent
  return setmetatable(cls, {
    __index = parent,
    __call = function(c, ...) return c.new(c, ...) end,
    __tostring = function() return 'class ' .. name end,
  })
end

function Module.extend(parent, name) return make_class(parent, name) end

setmetatable(Module, {
  __call = function(c, ...) return c.new(c, ...) end,
  __tostring = function() return 'class Module' end,
})

function Module.new(cls, ...)
  local self = setmetatable({
    _parameters = registry(), _buffers = registry(), _modules = registry(),
    _attrs = {}, _non_persistent = {}, training = true,
  }, cls)
  self:init(...)
  return self
end

function Module:init() end

function Module:forward()
  error(class_name(self) .. ': forward is not implemented (define ' .. class_name(self) ..
        ':forward(...))', 0)
end

-- ---- calling: forward, with errors naming the layer's path ----

-- The modules being called, outermost first. An error is annotated once, by the innermost
-- module, with the path from the outermost one: "net[3].conv1 (Conv2d): ...".
local call_stack, call_depth = {}, 0
local annotated = {}
local recorder = nil  -- set by summary(): sees every call

local function child_name(parent, child)
  for _, name in ipairs(parent._modules.keys) do
    if parent._modules.vals[name] == child then return name end
  end
  return nil
end

local function path_part(name)
  if name:match('^%d+$') then return '[' .. name .. ']' end
  if name:match('^[%a_][%w_]*$') then return '.' .. name end
  return '[' .. string.format('%q', name) .. ']'
end

local function call_path(depth)
  local parts = {'net'}
  for i = 2, depth do
    local name = child_name(call_stack[i - 1], call_stack[i])
    parts[#parts + 1] = name and path_part(name) or ('.<' .. class_name(call_stack[i]) .. '>')
  end
  return table.concat(parts)
end

local function finish_call(self, depth, ok, ...)
  if recorder then recorder('exit', self, depth, ok, ...) end
  if ok then
    call_stack[depth] = nil
    call_depth = depth - 1
    return ...
  end
  local err = ...
  if type(err) == 'string' and not annotated[err] then
    err = string.format('%s (%s): %s', call_path(depth), class_name(self), err)
    annotated[err] = true
  end
  call_stack[depth] = nil
  call_depth = depth - 1
  if call_depth == 0 then annotated = {} end
  error(err, 0)
end

function Module.__call(self, ...)
  local depth = call_depth + 1
  call_depth = depth
  call_stack[depth] = self
  if recorder then recorder('enter', self, depth) end
  return finish_call(self, depth, pcall(self.forward, self, ...))
end

-- ---- registration ----

function Module:register_parameter(name, t)
  if t ~= nil and not lc.is_tensor(t) then
    error(string.format("%s: register_parameter('%s'): expected a tensor or nil, got %s",
                        class_name(self), name, type(t)), 2)
  end
  if t ~= nil then
    assign_parameter(self, name, t)
  else
    self._attrs[name] = nil
    reg_remove(self._buffers, name); reg_remove(self._modules, name)
    reg_set(self._parameters, name, nil)
  end
  return t
end

function Module:register_buffer(name, t, persistent)
  if t ~= nil and not lc.is_tensor(t) then
    error(string.format("%s: register_buffer('%s'): expected a tensor or nil, got %s",
                        class_name(self), name, type(t)), 2)
  end
  self._attrs[name] = nil
  reg_remove(self._parameters, name); reg_remove(self._modules, name)
  if not reg_has(self._buffers, name) then self._buffers.keys[#self._buffers.keys + 1] = name end
  self._buffers.vals[name] = t
  self._non_persistent[name] = (persistent == false) or nil
  return t
end

function Module:add_module(name, m)
  if not is_module(m) then
    error(string.format("%s: add_module('%s'): expected a module, got %s", class_name(self),
                        tostring(name), type(m)), 2)
  end
  name = tostring(name)
  self._attrs[name] = nil
  reg_set(self._modules, name, m)
  return m
end
Module.register_module = Module.add_module

-- ---- traversal ----

local function list_iter(list)
  local i = 0
  return function()
    i = i + 1
    local e = list[i]
    if e then return e[1], e[2] end
  end
end

-- {name, module} for self and every descendant, pre-order, each module once.
local function named_modules_list(self, prefix, memo, out)
  if memo[self] then return out end
  memo[self] = true
  out[#out + 1] = {prefix, self}
  for _, name in ipairs(self._modules.keys) do
    local child = self._modules.vals[name]
    if child then
      named_modules_list(child, prefix == '' and name or (prefix .. '.' .. name), memo, out)
    end
  end
  return out
end

local function join(prefix, name) return prefix == '' and name or (prefix .. '.' .. name) end

local function named_members(self, kind, recurse, include_non_persistent)
  local mods = recurse == false and {{'', self}} or named_modules_list(self, '', {}, {})
  local out, seen = {}, {}
  for _, pm in ipairs(mods) do
    local prefix, m = pm[1], pm[2]
    local r = m[kind]
    for _, name in ipairs(r.keys) do
      local t = r.vals[name]
      if t ~= nil and not seen[t]
         and (include_non_persistent ~= false or not m._non_persistent[name]) then
        seen[t] = true
        out[#out + 1] = {join(prefix, name), t}
      end
    end
  end
  return out
end

-- Lists (for optimizers, #, ipairs) and iterators (for `for name, x in ...`).
function Module:parameters(recurse)
  local out = {}
  for i, e in ipairs(named_members(self, '_parameters', recurse)) do out[i] = e[2] end
  return out
end

function Module:named_parameters(recurse)
  return list_iter(named_members(self, '_parameters', recurse))
end

function Module:buffers(recurse)
  local out = {}
  for i, e in ipairs(named_members(self, '_buffers', recurse)) do out[i] = e[2] end
  return out
end

function Module:named_buffers(recurse)
  return list_iter(named_members(self, '_buffers', recurse))
end

function Module:children()
  local out = {}
  for _, name in ipairs(self._modules.keys) do
    local m = self._modules.vals[name]
    if m then out[#out + 1] = m end
  end
  return out
end

function Module:named_children()
  local out = {}
  for _, name in ipairs(self._modules.keys) do
    local m = self._modules.vals[name]
    if m then out[#out + 1] = {name, m} end
  end
  return list_iter(out)
end

function Module:modules()
  local out = {}
  for i, e in ipairs(named_modules_list(self, '', {}, {})) do out[i] = e[2] end
  return out
end

function Module:named_modules()
  return list_iter(named_modules_list(self, '', {}, {}))
end

-- net:get_submodule('b3.1.conv1')
function Module:get_submodule(path)
  local m = self
  if path == '' then return m end
  for part in tostring(path):gmatch('[^.]+') do
    local child = m._modules.vals[part]
    if not child then
      error(string.format("get_submodule: %s has no child '%s' (in path '%s')",
                          class_name(m), part, path), 2)
    end
    m = child
  end
  return m
end

-- m:is_a(nn.Conv2d): whether m is an instance of that class or of a subclass of it.
function Module:is_a(cls)
  local c = getmetatable(self)
  while c do
    if c == cls then return true end
    c = rawget(c, 'super')
  end
  return false
end

-- The number of parameter values (each shared tensor counted once).
function Module:num_parameters(only_trainable)
  local n = 0
  for _, p in ipairs(self:parameters()) do
    if not only_trainable or p.requires_grad then n = n + p:numel() end
  end
  return n
end

-- ---- modes and bulk operations ----

function Module:train(mode)
  if mode == nil then mode = true end
  rawset(self, 'training', mode and true or false)
  for _, m in ipairs(self:children()) do m:train(mode) end
  return self
end

function Module:eval() return self:train(false) end

function Module:requires_grad_(on)
  if on == nil then on = true end
  for _, p in ipairs(self:parameters()) do p.requires_grad = on end
  return self
end

function Module:zero_grad(set_to_none)
  for _, p in ipairs(self:parameters()) do
    local g = p.grad
    if g then
      if set_to_none == false then lc.no_grad(function() g:zero_() end) else p.grad = nil end
    end
  end
end

function Module:apply(fn)
  for _, m in ipairs(self:children()) do m:apply(fn) end
  fn(self)
  return self
end

local function is_float(t) return t:is_floating_point() end

-- to('cuda'), to('float64'), to('cuda', 'float64'), to(tensor). Parameters keep their
-- registration (the new tensors are parameters under the same names, with the same
-- requires_grad); dtype changes touch floating-point tensors only, as PyTorch.
local function convert(t, device, dtype)
  local args = {}
  if device then args[#args + 1] = device end
  if dtype and is_float(t) then args[#args + 1] = dtype end
  if #args == 0 then return t end
  return lc.no_grad(function() return t:to(table.unpack(args)) end)
end

local dtypes = {float32 = true, float64 = true, int64 = true, uint8 = true, bfloat16 = true}

function Module:to(a, b)
  local device, dtype
  if lc.is_tensor(a) then
    device, dtype = a.device, a.dtype
  else
    for _, x in ipairs{a, b} do
      if dtypes[x] then dtype = x elseif x ~= nil then device = x end
    end
  end
  -- Parameters and buffers are re-pointed in place (set_), as PyTorch's module.to does:
  -- optimizers and anything else holding them keep working. One conversion per tensor,
  -- so parameters shared between modules stay shared.
  local done = {}
  for _, m in ipairs(self:modules()) do
    for _, name in ipairs(m._parameters.keys) do
      local p = m._parameters.vals[name]
      if p ~= nil then
        local q = done[p]
        if not q then
          q = convert(p, device, dtype)
          if q ~= p then
            local g = p.grad
            p.grad = nil
            p:set_(q:detach())
            if g then p.grad = convert(g, device, dtype) end
          end
          q = p
          done[p] = p
        end
        m._parameters.vals[name] = q
      end
    end
    for _, name in ipairs(m._buffers.keys) do
      local t = m._buffers.vals[name]
      if t ~= nil and not done[t] then
        local moved = convert(t, device, dtype)
        if moved ~= t then t:set_(moved) end
        done[t] = t
      end
    end
  end
  return self
end

function Module:cuda(index) return self:to(index and ('cuda:' .. index) or 'cuda') end
function Module:cpu() return self:to('cpu') end
function Module:double() return self:to('float64') end
function Module:float() return self:to('float32') end

-- ---- state dicts ----

-- State dicts are plain tables name -> tensor whose pairs() follow the model's order
-- (parameters then buffers of each module, then its children), like PyTorch's OrderedDict.
local state_dict_order = setmetatable({}, {__mode = 'k'})

local function ordered_pairs(sd)
  local keys, seen = {}, {}
  for _, k in ipairs(state_dict_order[sd] or {}) do
    if rawget(sd, k) ~= nil and not seen[k] then keys[#keys + 1] = k; seen[k] = true end
  end
  local extra = {}
  for k in next, sd do if not seen[k] then extra[#extra + 1] = k end end
  table.sort(extra, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(extra) do keys[#keys + 1] = k end
  local i = 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then return k, rawget(sd, k) end
  end, sd, nil
end

local StateDict = {__pairs = ordered_pairs, __name = 'StateDict'}

-- An ordered name -> tensor table (keys: the order, a list of names).
function M.ordered_dict(keys, map)
  local sd = setmetatable({}, StateDict)
  for _, k in ipairs(keys) do sd[k] = map[k] end
  state_dict_order[sd] = {table.unpack(keys)}
  return sd
end

-- The keys of a state dict in order (any table: plain tables come sorted).
function M.state_dict_keys(sd)
  local keys = {}
  for k in ordered_pairs(sd) do keys[#keys + 1] = k end
  return keys
end

local function collect_state(m, prefix, keys, map, keep_vars)
  for _, name in ipairs(m._parameters.keys) do
    local p = m._parameters.vals[name]
    if p ~= nil then
      keys[#keys + 1] = prefix .. name
      map[prefix .. name] = keep_vars and p or p:detach()
    end
  end
  for _, name in ipairs(m._buffers.keys) do
    local b = m._buffers.vals[name]
    if b ~= nil and not m._non_persistent[name] then
      keys[#keys + 1] = prefix .. name
      map[prefix .. name] = keep_vars and b or b:detach()
    end
  end
  for _, name in ipairs(m._modules.keys) do
    local child = m._modules.vals[name]
    if child then collect_state(child, prefix .. name .. '.', keys, map, keep_vars) end
  end
end

-- state_dict([{prefix = '', keep_vars = false}]) -> ordered table name -> tensor (detached,
-- sharing storage with the model; keep_vars: the parameters themselves).
function Module:state_dict(opts)
  opts = options.check('state_dict', opts, {'prefix', 'keep_vars'}, 2)
  local keys, map = {}, {}
  collect_state(self, opts.prefix or '', keys, map, opts.keep_vars)
  return M.ordered_dict(keys, map)
end

local function shape_str(t) return tostring(t:shape()) end

local function summarise_keys(keys)
  local quoted = {}
  for i, k in ipairs(keys) do quoted[i] = '"' .. k .. '"' end
  return table.concat(quoted, ', ')
end

-- load_state_dict(sd [, strict]) or load_state_dict(sd, {strict = true}), as PyTorch's:
-- checks everything before copying anything. Returns {missing_keys = {...},
-- unexpected_keys = {...}}.
local load_state_dict_options = options.parser('load_state_dict', {'state_dict'}, {'strict'})
function Module:load_state_dict(sd, ...)
  if type(sd) ~= 'table' then
    error('load_state_dict: expected a table name -> tensor, got ' .. type(sd), 2)
  end
  local strict = load_state_dict_options(...).strict ~= false
  local own = self:state_dict({keep_vars = true})
  local own_keys = M.state_dict_keys(own)
  local missing, unexpected, problems = {}, {}, {}
  for _, k in ipairs(own_keys) do
    local v = sd[k]
    if v == nil then
      missing[#missing + 1] = k
    elseif not lc.is_tensor(v) then
      problems[#problems + 1] = string.format('value for %s is a %s, not a tensor', k, type(v))
    elseif not (v:shape() == own[k]:shape()) then
      problems[#problems + 1] = string.format(
        'size mismatch for %s: copying a tensor with shape %s from the checkpoint, ' ..
        'the shape in the current model is %s', k, shape_str(v), shape_str(own[k]))
    end
  end
  for _, k in ipairs(M.state_dict_keys(sd)) do
    if own[k] == nil then unexpected[#unexpected + 1] = k end
  end
  local lines = {}
  if strict and #missing > 0 then lines[#lines + 1] = 'Missing key(s) in state_dict: ' .. summarise_keys(missing) .. '.' end
  if strict and #unexpected > 0 then lines[#lines + 1] = 'Unexpected key(s) in state_dict: ' .. summarise_keys(unexpected) .. '.' end
  for _, p in ipairs(problems) do lines[#lines + 1] = p .. '.' end
  if #lines > 0 then
    error(string.format('load_state_dict: error(s) in loading state_dict for %s:\n\t%s',
                        class_name(self), table.concat(lines, '\n\t')), 2)
  end
  lc.no_grad(function()
    for _, k in ipairs(own_keys) do
      local v = sd[k]
      if v ~= nil then own[k]:copy_(v) end
    end
  end)
  return {missing_keys = missing, unexpected_keys = unexpected}
end

-- ---- printing ----

-- One line of settings shown inside the parentheses: Conv2d(1, 6, kernel_size=(5, 5), ...).
function Module:extra_repr() return '' end

local function indent(s, pad)
  return (s:gsub('\n', '\n' .. pad))
end

function Module.__tostring(self)
  local name = class_name(self)
  local extra = self:extra_repr()
  local lines = {}
  for _, k in ipairs(self._modules.keys) do
    local child = self._modules.vals[k]
    if child then lines[#lines + 1] = '(' .. k .. '): ' .. indent(tostring(child), '  ') end
  end
  if #lines == 0 then return name .. '(' .. extra .. ')' end
  local head = name .. '('
  if extra ~= '' then head = head .. '\n  ' .. indent(extra, '  ') end
  return head .. '\n  ' .. table.concat(lines, '\n  ') .. '\n)'
end

Module.__concat = function(a, b) return tostring(a) .. tostring(b) end

-- ---- summary: the chapter's shape-check loop in one call ----

local function thousands(n)
  local s = tostring(math.tointeger(n) or n)
  local sign, digits = s:match('^(-?)(%d+)$')
  if not digits then return s end
  digits = digits:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', '')
  return sign .. digits
end
M.thousands = thousands

local function output_shape(...)
  local n = select('#', ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    if lc.is_tensor(v) then
      parts[#parts + 1] = tostring(v:shape())
    elseif type(v) == 'table' then
      local inner = {}
      for _, x in ipairs(v) do inner[#inner + 1] = lc.is_tensor(x) and tostring(x:shape()) or type(x) end
      parts[#parts + 1] = '{' .. table.concat(inner, ', ') .. '}'
    else
      parts[#parts + 1] = type(v)
    end
  end
  return table.concat(parts, ', ')
end

-- net:summary(input_shape [, {depth = 1, dtype, device, print = true}]) prints, for each
-- layer called while a zero input of that shape goes through the net (in eval mode, without
-- grad), its output shape and its parameter count, then the total. depth = 2 also shows the
-- layers inside the children, and so on. With {print = false} it returns the text instead.
function Module:summary(shape, opts)
  opts = options.check('summary', opts, {'depth', 'dtype', 'device', 'print'}, 2)
  local input
  if lc.is_tensor(shape) then
    input = shape
  else
    if type(shape) ~= 'table' then
      error('summary: expected an input shape such as {1, 1, 28, 28}, got ' .. type(shape), 2)
    end
    local first = self:parameters()[1]
    input = lc.zeros(shape, {dtype = opts.dtype or (first and is_float(first) and first.dtype) or 'float32',
                              device = opts.device or (first and first.device) or 'cpu'})
  end
  local max_depth = opts.depth or 1
  local rows, open = {}, {}
  local root_depth
  local saved_training = {}
  for _, m in ipairs(self:modules()) do saved_training[m] = m.training end
  self:eval()
  local previous = recorder
  recorder = function(event, m, depth, ok, ...)
    if event == 'enter' then
      if m == self and not root_depth then root_depth = depth return end
      if not root_depth then return end
      local rel = depth - root_depth
      if rel < 1 or rel > max_depth then return end
      local parent_label = open[depth - 1] and open[depth - 1].label
      local name = child_name(call_stack[depth - 1], m) or ('<' .. class_name(m) .. '>')
      local row = {label = parent_label and (parent_label .. '.' .. name) or name,
                   layer = string.rep('  ', rel - 1) .. class_name(m), params = m:num_parameters(),
                   shape = ''}
      rows[#rows + 1] = row
      open[depth] = row
    elseif event == 'exit' and open[depth] then
      if ok then open[depth].shape = output_shape(...) end
      open[depth] = nil
    end
  end
  local ok, err = pcall(function() return lc.no_grad(function() return self(input) end) end)
  recorder = previous
  for m, t in pairs(saved_training) do rawset(m, 'training', t) end
  if not ok then error(err, 0) end
  local header = {'#', 'layer', 'output shape', 'params'}
  local w = {#header[1], #header[2], #header[3], #header[4]}
  local total = thousands(self:num_parameters())
  for _, r in ipairs(rows) do
    r.params_s = thousands(r.params)
    w[1] = math.max(w[1], #r.label); w[2] = math.max(w[2], #r.layer)
    w[3] = math.max(w[3], #r.shape); w[4] = math.max(w[4], #r.params_s)
  end
  w[4] = math.max(w[4], #total)
  local function line(a, b, c, d)
    return string.format(' %-' .. w[1] .. 's  %-' .. w[2] .. 's  %-' .. w[3] .. 's  %' .. w[4] .. 's',
                         a, b, c, d)
  end
  local out = {line(header[1], header[2], header[3], header[4])}
  out[#out + 1] = line('', 'input', tostring(input:shape()), '')
  for _, r in ipairs(rows) do out[#out + 1] = line(r.label, r.layer, r.shape, r.params_s) end
  out[#out + 1] = line('', 'total', '', total)
  local text = table.concat(out, '\n')
  if opts.print == false then return text end
  print(text)   -- and no result, so that the REPL prints no `nil` after the table
end

return M
