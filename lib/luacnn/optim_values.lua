-- Values in optimizer and scheduler settings: copied for state dicts, shown in printouts,
-- checked in constructors. Shared by lc.optim and lc.optim.lr_scheduler.
local lc = require 'luacnn'

local values = {}

function values.copy(t)
  if type(t) ~= 'table' or lc.is_tensor(t) then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = values.copy(v) end
  return c
end

function values.show(v)
  if type(v) == 'table' then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = values.show(x) end
    return '(' .. table.concat(parts, ', ') .. ')'
  elseif math.type(v) == 'float' then
    return string.format('%.10g', v)
  end
  return tostring(v)
end

function values.check_number(v, who, what, min)
  if type(v) ~= 'number' or v ~= v or v < min then
    error(string.format('%s: invalid %s %s (expected a number >= %s)', who, what, tostring(v),
                        tostring(min)), 0)
  end
end

return values
