-- Containers: Sequential (children named 1, 2, ... run in order) and ModuleList (a list of
-- modules whose parameters register, without a forward of its own).
--   nn.Sequential{a, b, c} or nn.Sequential(a, b, c); net[3], net[-1], #net, ipairs(net),
--   net:add(m), net:add_module('name', m)
local module = require 'luacnn.nn.module'
local Module, is_module, class_name = module.Module, module.is_module, module.class_name

local M = {}

-- The modules given as one list or as varargs.
local function module_args(who, ...)
  local first = ...
  local list
  if select('#', ...) == 1 and type(first) == 'table' and not is_module(first) then
    list = first
  else
    list = table.pack(...)
    list.n = nil
  end
  local n = 0
  for k in pairs(list) do
    if math.type(k) ~= 'integer' then
      error(string.format("%s: expected a list of modules, got a table with key '%s' (use " ..
                          ":add_module(name, m) for named children)", who, tostring(k)), 3)
    end
    n = math.max(n, k)
  end
  for i = 1, n do
    if not is_module(list[i]) then
      error(string.format('%s: element %d is a %s, not a module (nil holes are not allowed)',
                          who, i, type(list[i])), 3)
    end
  end
  return list, n
end

local function count(self) return #self._modules.keys end

-- ---- Sequential ----

local Sequential = Module:extend 'Sequential'
M.Sequential = Sequential

function Sequential:init(...)
  local list, n = module_args('Sequential', ...)
  for i = 1, n do self:add_module(tostring(i), list[i]) end
end

function Sequential:add(m, name)
  if not is_module(m) then
    error('Sequential:add: expected a module, got ' .. type(m), 2)
  end
  self:add_module(name or tostring(count(self) + 1), m)
  return self
end
Sequential.append = Sequential.add

-- As PyTorch's: one value goes in, each layer's (first) result goes to the next.
function Sequential:forward(x)
  local r = self._modules
  local keys, vals = r.keys, r.vals
  for i = 1, #keys do
    local m = vals[keys[i]]
    if m then x = m(x) end
  end
  return x
end

Sequential.__len = count

-- ---- ModuleList ----

local ModuleList = Module:extend 'ModuleList'
M.ModuleList = ModuleList

function ModuleList:init(list)
  if list ~= nil then
    local l, n = module_args('ModuleList', list)
    for i = 1, n do self:add_module(tostring(i), l[i]) end
  end
end

function ModuleList:append(m)
  if not is_module(m) then
    error('ModuleList:append: expected a module, got ' .. type(m), 2)
  end
  self:add_module(tostring(count(self) + 1), m)
  return self
end
ModuleList.add = ModuleList.append

-- ModuleList:extend(list) appends (PyTorch's name); ModuleList:extend 'Name' subclasses.
function ModuleList:extend(list)
  if type(list) == 'string' then return Module.extend(self, list) end
  local l, n = module_args('ModuleList:extend', list)
  for i = 1, n do self:append(l[i]) end
  return self
end

function ModuleList:forward()
  error('ModuleList has no forward: iterate over it (for i, m in ipairs(list) do x = m(x) end)', 0)
end

ModuleList.__len = count

M.class_name = class_name
return M
