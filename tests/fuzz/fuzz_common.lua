-- Shared by the Lua-level fuzz targets: a scratch folder, writing bytes to a file, and
-- the one rule every target applies: an error is allowed only when it is a clean message
-- that names the operation (a string starting with one of the given prefixes). Anything
-- else (an index-a-nil from deep inside, a non-string error, a C crash) is a bug.
local M = {}

local pid = tostring(io.open('/proc/self/stat') and io.open('/proc/self/stat'):read('n') or math.random(1 << 30))
M.dir = (os.getenv('TMPDIR') or '/tmp') .. '/luacnn-fuzz-' .. pid
os.execute("mkdir -p '" .. M.dir .. "'")

function M.write(path, bytes)
  local f = assert(io.open(path, 'wb'))
  assert(f:write(bytes))
  assert(f:close())
end

function M.split(bytes, max)
  local words = {}
  for w in (bytes .. '\0'):gmatch('([^%z\n]*)[%z\n]') do
    words[#words + 1] = w
    if #words >= (max or 64) then break end
  end
  return words
end

-- Calls fn(...); returns true, results on success, false, message on an allowed error, and
-- raises "UNCLEAN ERROR" otherwise.
function M.allowed(prefixes, fn, ...)
  local res = table.pack(pcall(fn, ...))
  if res[1] then return true, table.unpack(res, 2, res.n) end
  local e = res[2]
  if type(e) == 'string' then
    for _, p in ipairs(prefixes) do
      if e:sub(1, #p) == p then return false, e end
    end
  end
  error('UNCLEAN ERROR: ' .. (type(e) == 'string' and e or ('a ' .. type(e) .. ' error object')), 0)
end

return M
