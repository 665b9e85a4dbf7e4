-- What the parts of lc.data (lib/luacnn/data/*.lua, put together by lib/luacnn/data.lua)
-- share: the one lc.data table they all fill in, so that a part calling another (data.locate,
-- data.DataLoader, ...) goes through it as before the split, and the small helpers more than
-- one part uses. It requires nothing at load time: the tensor library loads on first use.
local shared = {}

shared.data = {}

local lc_module
function shared.lc()
  lc_module = lc_module or require('luacnn')
  return lc_module
end

function shared.file_exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

-- opts (nil: {}) with every key among known (a set name -> true), else an error at the
-- caller of the loader naming the nearest (luacnn.options.check, as the layers' options).
function shared.check_options(op, opts, known)
  local checked = require('luacnn.options').check(op, opts, known, 3)
  return checked
end

function shared.positive_integer(op, what, v)
  if math.type(v) ~= 'integer' or v < 1 then
    error(string.format('%s: %s must be a positive integer, got %s', op, what, tostring(v)), 3)
  end
  return v
end

-- resize = n or {h, w} -> {h, w}; nil stays nil.
function shared.resize_size(op, resize)
  if resize == nil or resize == false then return nil end
  if type(resize) == 'number' then
    shared.positive_integer(op, 'resize', resize)
    return {resize, resize}
  end
  if type(resize) == 'table' and #resize == 2 then
    shared.positive_integer(op, 'resize[1] (height)', resize[1])
    shared.positive_integer(op, 'resize[2] (width)', resize[2])
    return {resize[1], resize[2]}
  end
  error(string.format('%s: resize must be a size n or a pair {h, w}, got %s', op, tostring(resize)), 3)
end

-- the C side of the image loader and CSV reader (luacnn.core._loader)
function shared.loader_core() return shared.lc().core._loader end

return shared
