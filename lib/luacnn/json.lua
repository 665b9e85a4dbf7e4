-- Small JSON encoder/decoder for run records (config.json, summary.json, sweep.json).
--
--   json.encode(value [, {indent = true}]) -> string
--   json.decode(text) -> value              (raises "json: ..." naming the position on bad input)
--   json.null                               -- stands for JSON null inside arrays/objects
--
-- Tables with keys 1..n only are arrays (an empty table is an empty object unless it has
-- json.array as metatable: json.array{}); object keys are written sorted, so files diff well.
-- Integers stay integers (5, not 5.0); NaN and infinities become null, as JSON has no
-- spelling for them.
local json = {}

json.null = setmetatable({}, {__tostring = function() return 'null' end})
local array_mt = {__name = 'json.array'}
function json.array(t) return setmetatable(t or {}, array_mt) end

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format('\\u%04x', c:byte())
  end) .. '"'
end

local function encode_number(x)
  if x ~= x or x == math.huge or x == -math.huge then return 'null' end
  if math.type(x) == 'integer' then return tostring(x) end
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format('%.1f', x) end
  -- shortest text that reads back to the same double
  for digits = 15, 17 do
    local s = string.format('%.' .. digits .. 'g', x)
    if tonumber(s) == x then return s end
  end
  return string.format('%.17g', x)
end

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= 'integer' or k < 1 then return false end
    n = n + 1
  end
  return n > 0 and n == #t
end

local encode_value

local function encode_table(t, opts, depth, seen)
  if seen[t] then error('json: cannot encode a table that contains itself', 0) end
  seen[t] = true
  local nl, ind, ind1 = '', '', ''
  if opts.indent then
    nl = '\n'
    ind = string.rep('  ', depth)
    ind1 = string.rep('  ', depth + 1)
  end
  local parts = {}
  local out
  if is_array(t) then
    local flat = true     -- a list of plain values stays on one line
    for i = 1, #t do
      if type(t[i]) == 'table' and t[i] ~= json.null then flat = false end
    end
    if flat then
      for i = 1, #t do parts[i] = encode_value(t[i], opts, depth + 1, seen) end
      out = '[' .. table.concat(parts, opts.indent and ', ' or ',') .. ']'
    else
      for i = 1, #t do parts[i] = ind1 .. encode_value(t[i], opts, depth + 1, seen) end
      out = '[' .. nl .. table.concat(parts, ',' .. nl) .. nl .. ind .. ']'
    end
  else
    local keys = {}
    for k in pairs(t) do
      local tk = type(k)
      if tk ~= 'string' and tk ~= 'number' then
        error('json: object keys must be strings or numbers, got ' .. tk, 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local sep = opts.indent and ': ' or ':'
    for i, k in ipairs(keys) do
      parts[i] = ind1 .. encode_string(tostring(k)) .. sep .. encode_value(t[k], opts, depth + 1, seen)
    end
    out = #parts == 0 and '{}' or ('{' .. nl .. table.concat(parts, ',' .. nl) .. nl .. ind .. '}')
  end
  seen[t] = nil
  return out
end

function encode_value(v, opts, depth, seen)
  local tv = type(v)
  if v == nil or v == json.null then return 'null'
  elseif tv == 'boolean' then return tostring(v)
  elseif tv == 'number' then return encode_number(v)
  elseif tv == 'string' then return encode_string(v)
  elseif tv == 'table' then return encode_table(v, opts, depth, seen)
  end
  error('json: cannot encode a ' .. tv, 0)
end

function json.encode(v, opts)
  return encode_value(v, opts or {}, 0, {})
end

-- Decoder: a recursive descent over the text, position in `i`.

local function decode_error(s, i, what)
  local line, col = 1, 1
  for p = 1, math.min(i - 1, #s) do
    if s:sub(p, p) == '\n' then line, col = line + 1, 1 else col = col + 1 end
  end
  error(string.format('json: %s at line %d, column %d', what, line, col), 0)
end

local function skip_ws(s, i)
  return s:find('[^ \t\r\n]', i) or #s + 1
end

local decode_value

local function utf8_char(cp) return utf8.char(cp) end

local function decode_string(s, i)
  local parts, j = {}, i + 1
  while true do
    local k = s:find('["\\%c]', j)
    if not k then decode_error(s, i, 'unterminated string') end
    parts[#parts + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then return table.concat(parts), k + 1 end
    if c ~= '\\' then decode_error(s, k, 'control character in string') end
    local e = s:sub(k + 1, k + 1)
    local simple = ({['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f',
                     n = '\n', r = '\r', t = '\t'})[e]
    if simple then
      parts[#parts + 1] = simple
      j = k + 2
    elseif e == 'u' then
      local hex = s:match('^%x%x%x%x', k + 2)
      if not hex then decode_error(s, k, 'bad \\u escape') end
      local cp = tonumber(hex, 16)
      j = k + 6
      if cp >= 0xD800 and cp <= 0xDBFF then      -- surrogate pair
        local lo = s:match('^\\u(%x%x%x%x)', j)
        if lo then
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (tonumber(lo, 16) - 0xDC00)
          j = j + 6
        end
      end
      parts[#parts + 1] = utf8_char(cp)
    else
      decode_error(s, k, 'bad escape \\' .. e)
    end
  end
end

local function decode_number(s, i)
  local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', i)
  if not num or num == '' or num == '-' then decode_error(s, i, 'bad number') end
  local v = tonumber(num)
  if not v then decode_error(s, i, 'bad number ' .. num) end
  if not num:find('[.eE]') then v = math.tointeger(v) or v end   -- 5 stays an integer
  return v, i + #num
end

function decode_value(s, i, depth)
  if depth > 200 then decode_error(s, i, 'nesting too deep') end
  i = skip_ws(s, i)
  local c = s:sub(i, i)
  if c == '{' then
    local obj = {}
    i = skip_ws(s, i + 1)
    if s:sub(i, i) == '}' then return obj, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then decode_error(s, i, 'expected a string key') end
      local k
      k, i = decode_string(s, i)
      i = skip_ws(s, i)
      if s:sub(i, i) ~= ':' then decode_error(s, i, "expected ':'") end
      local v
      v, i = decode_value(s, i + 1, depth + 1)
      if v ~= json.null then obj[k] = v end
      i = skip_ws(s, i)
      c = s:sub(i, i)
      if c == '}' then return obj, i + 1 end
      if c ~= ',' then decode_error(s, i, "expected ',' or '}'") end
      i = skip_ws(s, i + 1)
    end
  elseif c == '[' then
    local arr = json.array{}
    i = skip_ws(s, i + 1)
    if s:sub(i, i) == ']' then return arr, i + 1 end
    while true do
      local v
      v, i = decode_value(s, i, depth + 1)
      arr[#arr + 1] = v
      i = skip_ws(s, i)
      c = s:sub(i, i)
      if c == ']' then return arr, i + 1 end
      if c ~= ',' then decode_error(s, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif c == '-' or c:match('%d') then
    return decode_number(s, i)
  elseif s:sub(i, i + 3) == 'true' then return true, i + 4
  elseif s:sub(i, i + 4) == 'false' then return false, i + 5
  elseif s:sub(i, i + 3) == 'null' then return json.null, i + 4
  end
  decode_error(s, i, c == '' and 'unexpected end of input' or "unexpected '" .. c .. "'")
end

function json.decode(s)
  if type(s) ~= 'string' then error('json.decode: expected a string, got ' .. type(s), 2) end
  local v, i = decode_value(s, 1, 0)
  i = skip_ws(s, i)
  if i <= #s then decode_error(s, i, 'trailing characters') end
  if v == json.null then return nil end
  return v
end

return json
