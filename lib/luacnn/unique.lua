-- unique() -> a hex string no other process or call is expected to produce: checkpoint ids
-- and temporary file names. Lua's math.random is no source for them: `--seed N` seeds it, so
-- two runs with one seed drew the same "random" names, and where addresses do not vary
-- (AddressSanitizer's allocator) two processes started in one second drew the same ids, and a
-- killed save's optimizer file passed as the older model's (found by fault_tolerance_spec).
local counter = 0

local function urandom_hex(n)
  local f = io.open('/dev/urandom', 'rb')
  if not f then return nil end
  local bytes = f:read(n)
  f:close()
  if not bytes or #bytes ~= n then return nil end
  return (bytes:gsub('.', function(c) return string.format('%02x', c:byte()) end))
end

-- without /dev/urandom: the time, CPU time, a per-process counter and a table's address
local function fallback_hex()
  local address = tostring({}):match('0x(%x+)') or '0'
  return string.format('%x%x%s', os.time(), math.floor(os.clock() * 1e6), address)
end

return function()
  counter = counter + 1
  return string.format('%s-%x', urandom_hex(8) or fallback_hex(), counter)
end
