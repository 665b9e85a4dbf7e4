-- lc.data.DataLoader (batches over a TensorDataset) and d2l's load_array.
local shared = require('luacnn.data.shared')
local data = shared.data
local lc, check_options, positive_integer = shared.lc, shared.check_options, shared.positive_integer

local TensorDataset = require('luacnn.data.tensor_dataset')
local DistributedSampler = require('luacnn.data.distributed_sampler')

local DataLoader = {}
DataLoader.__index = DataLoader
DataLoader.__name = 'DataLoader'

-- Batches over a data set (a TensorDataset, or a list of tensors made into one), as
-- PyTorch's DataLoader: opts.batch_size (1), opts.shuffle (false: a new permutation from
-- lc.randperm at the start of each epoch, so lc.manual_seed makes epochs reproducible),
-- opts.drop_last (false: the last, smaller batch is kept), opts.transform (a function applied
-- to the tensors of each batch, returning what the loop receives), opts.sampler (a
-- DistributedSampler: each epoch takes its order from it instead, see loader:set_sampler).
function data.DataLoader(dataset, opts)
  opts = check_options('DataLoader', opts, {batch_size = true, shuffle = true, drop_last = true,
                                            transform = true, sampler = true})
  if getmetatable(dataset) ~= TensorDataset then
    if type(dataset) ~= 'table' then
      error('DataLoader: expected a TensorDataset or a list of tensors, got ' .. type(dataset), 2)
    end
    dataset = data.TensorDataset(dataset)
  end
  local batch_size = positive_integer('DataLoader', 'batch_size', opts.batch_size or 1)
  if opts.transform ~= nil and type(opts.transform) ~= 'function' then
    error('DataLoader: transform must be a function, got ' .. type(opts.transform), 2)
  end
  local n = #dataset
  local batches = opts.drop_last and n // batch_size or (n + batch_size - 1) // batch_size
  local self = setmetatable({
    dataset = dataset, batch_size = batch_size, shuffle = opts.shuffle and true or false,
    drop_last = opts.drop_last and true or false, transform = opts.transform,
    num_batches = batches, num_examples = opts.drop_last and batches * batch_size or n,
    -- for-loop state: the cursor of the epoch each returned batch belongs to (see __call)
    cursors = setmetatable({}, {__mode = 'k'}),
  }, DataLoader)
  if opts.sampler ~= nil then self:set_sampler(opts.sampler) end
  return self
end

-- Takes each epoch's order from sampler (a DistributedSampler over #dataset examples; nil goes
-- back to the loader's own order): the loader then yields this rank's share, in batches.
function DataLoader:set_sampler(sampler)
  if sampler ~= nil and getmetatable(sampler) ~= DistributedSampler then
    error('DataLoader: sampler must be a DistributedSampler, got ' .. type(sampler), 2)
  end
  if sampler and sampler.n ~= #self.dataset then
    error(string.format('DataLoader: the sampler covers %d examples but the data set has %d',
                        sampler.n, #self.dataset), 2)
  end
  self.sampler = sampler
  local n, bs = sampler and #sampler or #self.dataset, self.batch_size
  self.num_batches = self.drop_last and n // bs or (n + bs - 1) // bs
  self.num_examples = self.drop_last and self.num_batches * bs or n
  return self
end

function DataLoader.__len(self) return self.num_batches end

function DataLoader.__tostring(self)
  return string.format('DataLoader(%d examples, batch_size=%d, %d batches%s)', #self.dataset,
                       self.batch_size, self.num_batches, self.shuffle and ', shuffled' or '')
end

-- The loader of one rank of a data-parallel run (what d2l.train_ch6 does under mpirun): a
-- DistributedSampler over the data set and, with opts.split_batch, batch_size / world_size
-- per rank, so the ranks' batches together are the single process's batch (same steps per
-- epoch, same learning rate). opts.eval: no shuffling and no padding, so every example counts
-- once (ranks' shares then differ by at most one). num_replicas, rank and seed go to the sampler.
-- Returns the loader; with one process it is left as it is.
function DataLoader:distribute(opts)
  opts = check_options('DataLoader:distribute', opts, {num_replicas = true, rank = true, seed = true,
                                                       eval = true, split_batch = true})
  local world = opts.num_replicas or lc().dist.init()
  if world == 1 then return self end
  local so = {num_replicas = world, rank = opts.rank, seed = opts.seed}
  if opts.eval then so.shuffle, so.pad = false, false
  else so.shuffle, so.drop_last = self.shuffle, self.drop_last end
  if opts.split_batch then
    if self.batch_size % world ~= 0 then
      error(string.format('DataLoader:distribute: batch_size %d does not split over %d ranks; '
                          .. 'choose a multiple of %d', self.batch_size, world, world), 2)
    end
    self.batch_size = self.batch_size // world
  end
  return self:set_sampler(data.DistributedSampler(#self.dataset, so))
end

-- A fresh epoch: a function returning the next batch's values, then nil.
function DataLoader:iter()
  local n, bs, ds = #self.dataset, self.batch_size, self.dataset
  local order = self.shuffle and n > 0 and lc().randperm(n) or nil
  if self.sampler then
    local list = self.sampler:indices()
    n = #list
    order = n > 0 and lc().tensor(list, {dtype = 'int64'}) or nil
  end
  local b, total, transform = 0, self.num_batches, self.transform
  return function()
    if b >= total then return nil end
    local start = b * bs + 1
    local count = math.min(bs, n - start + 1)
    b = b + 1
    local batch = order and ds:gather(order:narrow(1, start, count)) or ds:slice(start, count)
    if transform then return transform(table.unpack(batch)) end
    return table.unpack(batch)
  end
end

-- `loader()` returns a fresh epoch's iterator. As the function of a generic for
-- (`for X, y in loader do`), Lua calls it with (nil, previous first value): nil starts an
-- epoch; otherwise the previous batch's first value finds its epoch, so two loops over one
-- loader (even nested) each keep their own place, and assigning to X inside the loop body is
-- harmless (Lua passes the value it returned, not the variable).
function DataLoader.__call(self, ...)
  if select('#', ...) == 0 then return self:iter() end
  local _, previous = ...
  local cursor
  if previous == nil then
    cursor = self:iter()
  else
    cursor = self.cursors[previous]
    if not cursor then
      error('DataLoader: called with a value it did not return as the first value of a batch; '
            .. 'iterate with `for X, y in loader do` or `local it = loader()`', 2)
    end
    self.cursors[previous] = nil
  end
  local batch = table.pack(cursor())
  if batch[1] ~= nil then
    local kind = type(batch[1])
    if kind == 'userdata' or kind == 'table' or kind == 'function' then
      self.cursors[batch[1]] = cursor
    end
  end
  return table.unpack(batch, 1, batch.n)
end

-- d2l's load_array((features, labels), batch_size, is_train).
function data.load_array(tensors, batch_size, is_train)
  return data.DataLoader(data.TensorDataset(tensors), {batch_size = batch_size, shuffle = is_train})
end
