-- Printing tensors the way PyTorch does: aligned columns, a shared number format,
-- and "..." in the middle of large tensors, followed by a line naming dtype and shape.
local format = {}

local EDGE = 3          -- items shown at each end of a summarised dim
local THRESHOLD = 1000  -- tensors with more elements are summarised

local function shape_string(t)
  local s = {}
  for d = 1, t:dim() do s[d] = tostring(t:size(d)) end
  return '(' .. table.concat(s, ', ') .. ')'
end
format.shape_string = shape_string

-- Collects the values that will be shown (all of them, or the edges), as nested lists
-- with false marking an elided run.
local function gather(t, summarise)
  if t:dim() == 0 then return t:item() end
  local n = t:size(1)
  if t:dim() == 1 then
    if summarise and n > 2 * EDGE then
      local head, tail = t:narrow(1, 1, EDGE):totable(), t:narrow(1, n - EDGE + 1, EDGE):totable()
      local out = {}
      for _, v in ipairs(head) do out[#out + 1] = v end
      out[#out + 1] = false
      for _, v in ipairs(tail) do out[#out + 1] = v end
      return out
    end
    return t:totable()
  end
  local out = {}
  local function add(i) out[#out + 1] = gather(t:select(1, i), summarise) end
  if summarise and n > 2 * EDGE then
    for i = 1, EDGE do add(i) end
    out[#out + 1] = false
    for i = n - EDGE + 1, n do add(i) end
  else
    for i = 1, n do add(i) end
  end
  return out
end

local function each_value(data, fn)
  if type(data) == 'table' then
    for _, v in ipairs(data) do if v ~= false then each_value(v, fn) end end
  else
    fn(data)
  end
end

-- One formatter for every element, chosen from all shown values as PyTorch does.
local function number_formatter(data, is_float)
  if not is_float then
    return function(v) return string.format('%d', v) end
  end
  local all_int, max_abs, min_abs = true, 0, math.huge
  each_value(data, function(v)
    if v ~= v or v == math.huge or v == -math.huge then return end
    if v ~= math.floor(v) then all_int = false end
    local a = math.abs(v)
    if a > max_abs then max_abs = a end
    if a > 0 and a < min_abs then min_abs = a end
  end)
  local function special(v)
    if v ~= v then return 'nan' end
    if v == math.huge then return 'inf' end
    if v == -math.huge then return '-inf' end
  end
  -- PyTorch's rule, over the nonzero finite values shown
  local sci = min_abs ~= math.huge and
              (max_abs / min_abs > 1000 or max_abs > 1e8 or (not all_int and min_abs < 1e-4))
  if sci then
    return function(v) return special(v) or string.format('%.4e', v) end
  elseif all_int then
    return function(v) return special(v) or string.format('%.0f.', v) end
  end
  return function(v) return special(v) or string.format('%.4f', v) end
end

local LINE_WIDTH = 80

-- A 1-d row: elements joined by ", ", wrapped to LINE_WIDTH as PyTorch wraps them.
local function render_vector(data, fmt, indent, width)
  local items = {}
  for _, v in ipairs(data) do
    if v == false then
      items[#items + 1] = ' ...'
    else
      local s = fmt(v)
      items[#items + 1] = string.rep(' ', width - #s) .. s
    end
  end
  local per_line = math.max(1, (LINE_WIDTH - indent) // (width + 2))
  local lines = {}
  for i = 1, #items, per_line do
    lines[#lines + 1] = table.concat(items, ', ', i, math.min(i + per_line - 1, #items))
  end
  return '[' .. table.concat(lines, ',\n' .. string.rep(' ', indent + 1)) .. ']'
end

-- Sub-tensors one per line, with ndim - 1 newlines between them (a blank line between
-- the matrices of a 3-d tensor), and "..." standing for the elided ones.
local function render(data, fmt, indent, width, ndim)
  if ndim == 0 then
    local s = fmt(data)
    return string.rep(' ', width - #s) .. s
  end
  if ndim == 1 then return render_vector(data, fmt, indent, width) end
  local items = {}
  for _, v in ipairs(data) do
    items[#items + 1] = v == false and '...' or render(v, fmt, indent + 1, width, ndim - 1)
  end
  local sep = ',' .. string.rep('\n', ndim - 1) .. string.rep(' ', indent + 1)
  return '[' .. table.concat(items, sep) .. ']'
end

function format.tensor(t)
  local is_float = t:is_floating_point()
  local summarise = t:numel() > THRESHOLD
  local body = '[]'
  if t:numel() > 0 then
    local data = gather(t, summarise)
    local fmt = number_formatter(data, is_float)
    local width = 0
    each_value(data, function(v) width = math.max(width, #fmt(v)) end)
    body = render(data, fmt, #'tensor(', width, t:dim())
  end
  local info = { t.dtype, 'shape ' .. shape_string(t) }
  if t.device ~= 'cpu' then info[#info + 1] = t.device end
  if t.grad_fn then
    info[#info + 1] = 'grad_fn=' .. t.grad_fn
  elseif t.requires_grad then
    info[#info + 1] = 'requires_grad'
  end
  return 'tensor(' .. body .. ')\n[' .. table.concat(info, ', ') .. ']'
end

return format
