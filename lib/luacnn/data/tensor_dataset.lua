-- lc.data.TensorDataset: a data set over in-memory tensors. Returns its class (the
-- metatable), which DataLoader checks for.
local shared = require('luacnn.data.shared')
local data = shared.data
local lc = shared.lc

local TensorDataset = {}
TensorDataset.__name = 'TensorDataset'

-- A data set over in-memory tensors that share their first dimension (examples):
-- TensorDataset(X, y) or TensorDataset{X, y}. ds[i] is the list of the tensors' i-th
-- slices; #ds is the number of examples.
function data.TensorDataset(...)
  local tensors = {...}
  if select('#', ...) == 1 and type(tensors[1]) == 'table' and not lc().is_tensor(tensors[1]) then
    tensors = tensors[1]
  end
  if #tensors == 0 then error('TensorDataset: expected at least one tensor', 2) end
  local n
  for i, t in ipairs(tensors) do
    if not lc().is_tensor(t) then
      error(string.format('TensorDataset: argument %d is a %s, not a tensor', i, type(t)), 2)
    end
    if t:dim() == 0 then error(string.format('TensorDataset: tensor %d is 0-dimensional', i), 2) end
    if n and t:size(1) ~= n then
      error(string.format('TensorDataset: tensor %d has %d examples (size %s) but tensor 1 has %d',
                          i, t:size(1), tostring(t:shape()), n), 2)
    end
    n = n or t:size(1)
  end
  return setmetatable({tensors = tensors, n = n}, TensorDataset)
end

function TensorDataset.__len(ds) return ds.n end

function TensorDataset.__index(ds, key)
  if math.type(key) == 'integer' then
    if key < 1 or key > ds.n then
      error(string.format('TensorDataset: index %d is out of range 1..%d', key, ds.n), 2)
    end
    local out = {}
    for i, t in ipairs(ds.tensors) do out[i] = t[key] end
    return out
  end
  return TensorDataset[key]
end

-- The examples at `idx` (1-based int64 tensor) of every tensor, as a list of new tensors.
function TensorDataset:gather(idx)
  local out = {}
  for i, t in ipairs(self.tensors) do out[i] = t:index_select(1, idx) end
  return out
end

-- Examples start .. start + count - 1 of every tensor, as new tensors (never views of the
-- data set, so a caller may change a batch in place).
function TensorDataset:slice(start, count)
  local out = {}
  for i, t in ipairs(self.tensors) do out[i] = t:narrow(1, start, count):clone() end
  return out
end

return TensorDataset
