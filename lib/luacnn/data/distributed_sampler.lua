-- lc.data.DistributedSampler: each rank's share of every epoch. Returns its class (the
-- metatable), which DataLoader checks for.
local shared = require('luacnn.data.shared')
local data = shared.data
local lc, check_options = shared.lc, shared.check_options

local DistributedSampler = {}
DistributedSampler.__index = DistributedSampler
DistributedSampler.__name = 'DistributedSampler'

-- PyTorch's DistributedSampler over n examples: each rank gets its share of every epoch,
-- disjoint from the other ranks'. opts: num_replicas and rank (default lc.dist's world size
-- and rank), shuffle (true: epoch e's order is the Philox permutation of (seed, e), the one
-- ImageLoader uses, the same on every rank), seed (default: rank 0's lc.initial_seed(), sent
-- to all, so --seed N repeats a run), drop_last (false: the order is padded with its first
-- examples to a multiple of num_replicas, so every rank has the same number of batches; true
-- drops the tail instead), pad (true; false gives ranks shares that differ by at most one, for
-- evaluation, where every example should count once). Rank r takes positions r+1,
-- r+1+num_replicas, ... of the epoch's order. Each use (sampler:indices(), a DataLoader loop)
-- is a new epoch unless sampler:set_epoch(e) names it.
function data.DistributedSampler(n, opts)
  opts = check_options('DistributedSampler', opts, {num_replicas = true, rank = true,
                       shuffle = true, seed = true, drop_last = true, pad = true})
  if math.type(n) ~= 'integer' or n < 0 then
    error('DistributedSampler: n (the number of examples) must be an integer >= 0, got '
          .. tostring(n), 2)
  end
  local dist = lc().dist
  local replicas = opts.num_replicas or dist.init()   -- MPI starts here under a launcher
  local rank = opts.rank or dist.rank()
  if math.type(replicas) ~= 'integer' or replicas < 1 then
    error('DistributedSampler: num_replicas must be an integer >= 1, got ' .. tostring(replicas), 2)
  end
  if math.type(rank) ~= 'integer' or rank < 0 or rank >= replicas then
    error(string.format('DistributedSampler: rank must be an integer in [0, %d], got %s',
                        replicas - 1, tostring(rank)), 2)
  end
  local seed = opts.seed
  if seed ~= nil and math.type(seed) ~= 'integer' then
    error('DistributedSampler: seed must be an integer, got ' .. tostring(seed), 2)
  end
  if seed == nil then seed = dist.broadcast_integer(lc().initial_seed(), 0) end
  local drop_last, pad = opts.drop_last and true or false, opts.pad ~= false
  local per_rank
  if drop_last then per_rank = n // replicas
  elseif pad then per_rank = (n + replicas - 1) // replicas
  else per_rank = n // replicas + (rank < n % replicas and 1 or 0) end
  return setmetatable({n = n, num_replicas = replicas, rank = rank, seed = seed,
                       shuffle = opts.shuffle ~= false, drop_last = drop_last, pad = pad,
                       num_samples = per_rank, epoch = 0}, DistributedSampler)
end

function DistributedSampler.__len(self) return self.num_samples end

function DistributedSampler.__tostring(self)
  return string.format('DistributedSampler(%d examples, rank %d of %d, %d each%s)', self.n,
                       self.rank, self.num_replicas, self.num_samples,
                       self.shuffle and ', shuffled' or '')
end

-- The epoch the next use gives (0, 1, ...).
function DistributedSampler:set_epoch(e)
  if math.type(e) ~= 'integer' or e < 0 then
    error('DistributedSampler:set_epoch: expected an integer >= 0, got ' .. tostring(e), 2)
  end
  self.epoch = e
end

-- This rank's 1-based indices for the next epoch (a Lua list), and that epoch's number.
function DistributedSampler:indices()
  local e = self.epoch
  self.epoch = e + 1
  local n, R = self.n, self.num_replicas
  local order
  if self.shuffle then order = lc().core._loader.permutation(n, self.seed, e)
  else
    order = {}
    for i = 1, n do order[i] = i end
  end
  local out, k = {}, 0
  for pos = self.rank + 1, R * self.num_samples, R do
    local i = pos
    if i > n then
      if self.drop_last or not self.pad then break end
      i = (i - 1) % n + 1    -- padding: the order again from its start
    end
    k = k + 1
    out[k] = order[i]
  end
  return out, e
end

return DistributedSampler
