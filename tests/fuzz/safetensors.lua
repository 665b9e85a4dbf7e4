-- Fuzz target: lc.load / lc.io.read_header on arbitrary bytes (the safetensors header, its
-- JSON, the offsets and the payload). Allowed: a state dict, or an error "load: ...".
-- A file that loads must save and load back to the same bytes of every tensor.
local lc = require 'luacnn'
local C = require 'fuzz_common'
local path, again = C.dir .. '/in.safetensors', C.dir .. '/again.safetensors'

return function(bytes)
  C.write(path, bytes)
  local ok, sd = C.allowed({'load: '}, lc.load, path)
  C.allowed({'read_header: '}, lc.io.read_header, path)
  if not ok then return end
  local n = 0
  for name, t in pairs(sd) do
    assert(lc.is_tensor(t), 'load returned a non-tensor')
    n = n + 1
  end
  lc.save(again, sd)
  local back = lc.load(again)
  for name, t in pairs(sd) do
    local u = back[name]
    if not (u and u.dtype == t.dtype and u:shape() == t:shape() and u:tobytes() == t:tobytes()) then
      error('UNCLEAN: tensor ' .. name .. ' did not survive save and load', 0)
    end
  end
end
