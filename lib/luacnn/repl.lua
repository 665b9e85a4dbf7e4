-- What the luacnn REPL (cli/) asks of the library: hints for tab completion.
--
-- Completion lists a value's fields without running any code: its own keys and
-- those of its metatables' __index tables. Where fields come from an __index
-- *function* instead, the metatable's __fields table names them (its keys are
-- the field names, its values what they hold, so that after ':' only callable
-- ones are offered). Two such places in luacnn:
--   tensors: methods live in lc.Tensor, reached through a C __index
--   lc:      submodules (nn, optim, data, ...) load on first use
-- The executable calls setup(lc) once luacnn is loaded as the global `lc`.

local M = {}

local function hint(mt, fields)
  if type(mt) == 'table' and type(fields) == 'table' and rawget(mt, '__fields') == nil then
    rawset(mt, '__fields', fields)
  end
end

function M.setup(lc)
  if type(lc) ~= 'table' then return end
  hint(getmetatable(lc), rawget(lc, 'submodules'))
  local core = rawget(lc, 'core')
  local methods = rawget(lc, 'Tensor')
  if type(core) == 'table' and type(methods) == 'table' then
    -- the methods, and the names the tensor hook answers (x.shape, callable; x.T)
    local fields = {}
    for k, v in pairs(methods) do fields[k] = v end
    fields.shape = fields.shape or function() end
    fields.T = fields.T or true
    hint(rawget(core, 'Tensor_mt'), fields)
  end
end

-- Why there is no GPU, in a few words, from lc.cuda.unavailable_reason()'s longer text
-- (which quotes the CUDA error): 'built without CUDA', 'no NVIDIA driver found', ...
function M.short_cuda_reason(reason)
  reason = tostring(reason or '')
  if reason:find('without CUDA', 1, true) then return 'built without CUDA' end
  if reason:find('InsufficientDriver', 1, true) or reason:find('NoDriver', 1, true) or
     reason:find('driver', 1, true) and not reason:find('GPU', 1, true) then
    local f = io.open('/proc/driver/nvidia/version', 'r')
    if f then f:close(); return 'the NVIDIA driver is too old for this build' end
    return 'no NVIDIA driver found'
  end
  if reason:find('NoDevice', 1, true) or reason:find('no CUDA device', 1, true) then
    return 'no GPU found'
  end
  if reason:find('usable CUDA driver or GPU', 1, true) then
    local f = io.open('/proc/driver/nvidia/version', 'r')
    if not f then return 'no NVIDIA driver found' end
    f:close()
    return 'no usable GPU'
  end
  local short = reason:match('^(.-)%s*%(') or reason
  if short == '' then short = 'no GPU' end
  return short
end

-- The REPL banner's device part: 'cuda:0 NVIDIA H200' or 'CPU only: no NVIDIA driver found'.
function M.devices(lc)
  local cuda = type(lc) == 'table' and rawget(lc, 'cuda') or nil
  local n = 0
  if type(cuda) == 'table' and type(cuda.device_count) == 'function' then
    local ok, c = pcall(cuda.device_count)
    if ok and math.type(c) == 'integer' then n = c end
  end
  if n <= 0 then
    local why = type(cuda) == 'table' and type(cuda.unavailable_reason) == 'function' and
                cuda.unavailable_reason() or 'built without CUDA'
    return 'CPU only: ' .. M.short_cuda_reason(why)
  end
  local parts = {}
  for i = 0, n - 1 do
    local name = type(cuda.device_name) == 'function' and cuda.device_name(i) or nil
    parts[#parts + 1] = 'cuda:' .. i .. (name and (' ' .. name) or '')
  end
  return table.concat(parts, ', ')
end

return M
