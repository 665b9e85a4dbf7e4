-- lc.dist: data-parallel training across processes (torch.distributed's names).
--
--   mpirun -np 2 luacnn train.lua        (or: luacnn --nproc 2 train.lua; srun under Slurm)
--
--   lc.dist.init()                          -- MPI, when a launcher started the process
--   lc.dist.rank(), lc.dist.world_size()    -- 0-based rank, as MPI and Slurm number them
--   lc.dist.all_reduce(t, 'mean')           -- in place: 'sum' (default), 'mean', 'max', 'min'
--   local net = nn.DistributedDataParallel(net)
--   local sampler = lc.data.DistributedSampler(#dataset, {seed = 0})
--
-- With one process, or a build without MPI, every collective is a no-op on a world of one, so
-- the same script runs everywhere. Tensors must be contiguous CPU float32/float64/int64 (the
-- GPU's NCCL path is not built yet). A collective that waits longer than LUACNN_DIST_TIMEOUT
-- seconds (300) raises an error naming it instead of hanging on a dead rank.
local lc = require 'luacnn'
local core = lc.core._dist
local nn_module = require 'luacnn.nn.module'
local options = require 'luacnn.options'

local dist = {}

dist.have_mpi = core.have_mpi          -- the build has the MPI transport
dist.init = core.init                  -- returns the world size; idempotent
dist.is_initialized = core.is_initialized
dist.rank = core.rank
dist.world_size = core.world_size
dist.local_rank = core.local_rank
dist.barrier = core.barrier
dist.all_reduce = core.all_reduce      -- (t, op) -> t
dist.broadcast = core.broadcast        -- (t, src = 0) -> t
dist.all_gather = core.all_gather      -- (t) -> (world_size, ...) stacked tensor
dist.timeout = core.timeout

-- Whether this process is one of several (initialising when a launcher started it).
function dist.is_distributed()
  return core.init() > 1
end

-- Rank 0, or a single process: the one that prints and writes files.
function dist.is_main()
  return core.rank() == 0
end

-- A Lua number summed (or 'max', 'min', 'mean') over the ranks.
function dist.all_reduce_number(x, op)
  if core.world_size() == 1 then return x end
  local t = lc.tensor({x}, {dtype = 'float64'})
  core.all_reduce(t, op or 'sum')
  return t[1]:item()
end

-- Several numbers at once: a list in, the reduced list out (one message).
function dist.all_reduce_numbers(list, op)
  if core.world_size() == 1 or #list == 0 then return list end
  local t = lc.tensor(list, {dtype = 'float64'})
  core.all_reduce(t, op or 'sum')
  local out = {}
  for i = 1, #list do out[i] = t[i]:item() end
  return out
end

-- A value rank src holds, on every rank: an integer (int64), anything else through a string.
function dist.broadcast_integer(v, src)
  if core.world_size() == 1 then return v end
  local t = lc.tensor({v or 0}, {dtype = 'int64'})
  core.broadcast(t, src or 0)
  return math.tointeger(t[1]:item())
end

-- A string rank src holds, on every rank (a run folder's name).
function dist.broadcast_string(s, src)
  if core.world_size() == 1 then return s end
  src = src or 0
  local mine = core.rank() == src
  local n = dist.broadcast_integer(mine and #s or 0, src)
  local t = lc.zeros({math.max(n, 1)}, {dtype = 'int64'})
  if mine then
    local codes = {s:byte(1, -1)}
    if n > 0 then t = lc.tensor(codes, {dtype = 'int64'}) end
  end
  core.broadcast(t, src)
  local out = {}
  for i, v in ipairs(t:totable()) do if i <= n then out[i] = string.char(v) end end
  return table.concat(out)
end

-- Whether this process is a rank other than 0 of a running data-parallel job: it computes
-- but writes no run folders, checkpoints or submissions (lc.run and the trainers ask this).
function dist.is_secondary()
  return core.is_initialized() and core.rank() ~= 0
end

-- ---- nn.DistributedDataParallel ----

local DDP = {}
DDP.__name = 'DistributedDataParallel'

-- DistributedDataParallel(net, {bucket_mb = 25, broadcast_buffers = true}): rank 0's
-- parameters and buffers are copied to every rank, and after each backward the parameters'
-- gradients hold their average over the ranks. The reductions run in buckets of about
-- bucket_mb megabytes, each started (MPI_Iallreduce) as soon as backward has finished its
-- gradients, so the communication of the last layers overlaps with the backward of the first.
-- Calling it runs the wrapped net's forward; parameters, state_dict, train/eval and the rest
-- are the wrapped net's (checkpoints load into a single process as they are). With
-- broadcast_buffers, a training forward first copies rank 0's buffers (batch norm's running
-- statistics) to every rank, as PyTorch does; synchronised batch norm is not provided.
function dist.DistributedDataParallel(net, opts)
  if not nn_module.is_module(net) then
    error('DistributedDataParallel: expected an nn.Module, got ' .. type(net), 2)
  end
  opts = options.check('DistributedDataParallel', opts, {'bucket_mb', 'broadcast_buffers'}, 2)
  local bucket_mb = opts.bucket_mb or 25
  if type(bucket_mb) ~= 'number' or bucket_mb <= 0 then
    error('DistributedDataParallel: bucket_mb must be a number > 0, got ' .. tostring(bucket_mb), 2)
  end
  core.init()
  local params = {}
  for _, p in ipairs(net:parameters()) do
    if p.requires_grad then params[#params + 1] = p end
  end
  local buffers = {}
  for _, b in ipairs(net:buffers()) do buffers[#buffers + 1] = b end
  -- every rank starts from rank 0's weights (in place: optimizers already holding them see it)
  lc.no_grad(function()
    for _, p in ipairs(net:parameters()) do core.broadcast(p, 0) end
    for _, b in ipairs(buffers) do core.broadcast(b, 0) end
  end)
  local self = {
    module = net, reducer = core.reducer(params, bucket_mb * 1024 * 1024),
    buffers = buffers, broadcast_buffers = opts.broadcast_buffers ~= false,
    methods = {},
  }
  return setmetatable(self, DDP)
end

function DDP.__index(self, key)
  local own = rawget(DDP, key)
  if own ~= nil then return own end
  local net = rawget(self, 'module')
  local v = net[key]
  if type(v) ~= 'function' then return v end
  -- net's methods called on the wrapper (ddp:parameters()) run on the net
  local methods = rawget(self, 'methods')
  local bound = methods[key]
  if not bound then
    bound = function(s, ...)
      if s == self then s = net end
      return v(s, ...)
    end
    methods[key] = bound
  end
  return bound
end

function DDP.__newindex(self, key, value) self.module[key] = value end

function DDP.__tostring(self)
  return 'DistributedDataParallel(' .. tostring(self.module) .. ')'
end

function DDP:forward(...)
  local net = self.module
  -- armed only when this forward records a graph: an evaluation pass has no backward
  if lc.is_grad_enabled() then
    if net.training and self.broadcast_buffers and #self.buffers > 0 and core.world_size() > 1 then
      lc.no_grad(function()
        for _, b in ipairs(self.buffers) do core.broadcast(b, 0) end
      end)
    end
    self.reducer:arm()
  end
  return net(...)
end
DDP.__call = DDP.forward

-- Waits for the gradient reductions now (backward does it by itself when it ends; this is for
-- a loop that computes gradients some other way). Returns the wrapper.
function DDP:sync_gradients()
  self.reducer:finish()
  return self
end

-- (buckets, buckets started during the last backward, before its end)
function DDP:bucket_stats() return self.reducer:stats() end

dist.DDP = DDP
return dist
