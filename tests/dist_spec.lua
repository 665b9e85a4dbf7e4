-- lc.dist in one process (issue 14): the same script must run without a launcher, so every
-- collective is a no-op on a world of one; the DistributedSampler's shares; the autograd
-- grad-ready hook and DistributedDataParallel's buckets, which run (without MPI traffic) in a
-- single process too. The multi-process checks are in dist_mpi_spec.lua.
local lc = require 'luacnn'
local nn, dist = lc.nn, lc.dist

local function has(text, err) assert.matches(text, tostring(err), 1, true) end

describe('lc.dist in a single process', function()
  it('is a world of one without a launcher, and MPI stays untouched', function()
    -- ctest starts this without mpirun: no launcher variables, so no MPI_Init
    if not os.getenv('OMPI_COMM_WORLD_SIZE') and not os.getenv('PMIX_RANK') then
      assert.equal(1, dist.init())
      assert.is_false(dist.is_initialized())
    end
    assert.equal(0, dist.rank())
    assert.equal(1, dist.world_size())
    assert.equal(0, dist.local_rank())
    assert.is_true(dist.is_main())
    assert.is_boolean(dist.have_mpi())
    dist.barrier()
  end)

  it('collectives return their input unchanged', function()
    local t = lc.tensor{1, 2, 3}
    for _, op in ipairs{'sum', 'mean', 'max', 'min'} do
      assert.equal(t, dist.all_reduce(t, op))
      assert.same({1, 2, 3}, t:totable())
    end
    local i = lc.tensor({4, 5}, {dtype = 'int64'})
    dist.all_reduce(i)
    assert.same({4, 5}, i:totable())
    dist.broadcast(t, 0)
    assert.same({1, 2, 3}, t:totable())
    local g = dist.all_gather(lc.tensor{{1, 2}, {3, 4}})
    assert.equal('(1, 2, 2)', tostring(g:shape()))
    assert.same({{{1, 2}, {3, 4}}}, g:totable())
    assert.equal(5, dist.all_reduce_number(5))
    assert.same({1, 2}, dist.all_reduce_numbers({1, 2}))
  end)

  it('refuses what MPI cannot send, naming the op', function()
    has('all_reduce: expected a contiguous tensor', select(2, pcall(dist.all_reduce, lc.ones(3, 4):t())))
    has('broadcast: expected a float32, float64 or int64 tensor, got uint8',
        select(2, pcall(dist.broadcast, lc.ones(3):to('uint8'), 0)))
    has('all_gather: expected a tensor as argument 1, got number', select(2, pcall(dist.all_gather, 3)))
    has("all_reduce: op must be 'sum', 'mean', 'max' or 'min', got 'avg'",
        select(2, pcall(dist.all_reduce, lc.ones(2), 'avg')))
    has("all_reduce: op 'mean' needs a float32 or float64 tensor, got int64",
        select(2, pcall(dist.all_reduce, lc.ones(2):long(), 'mean')))
    has('broadcast: src must be a rank in [0, 0]', select(2, pcall(dist.broadcast, lc.ones(2), 1)))
  end)
end)

describe('lc.data.DistributedSampler', function()
  local S = lc.data.DistributedSampler

  local function shares(n, R, opts)
    local out = {}
    for r = 0, R - 1 do
      local o = {num_replicas = R, rank = r, seed = 11}
      for k, v in pairs(opts or {}) do o[k] = v end
      local s = S(n, o)
      out[r + 1] = s:indices()
      assert.equal(#s, #out[r + 1])
    end
    return out
  end

  it('gives ranks disjoint shares that cover the epoch, padded to equal length', function()
    for _, c in ipairs{{10, 3}, {12, 4}, {7, 2}, {1, 3}, {100, 7}} do
      local n, R = c[1], c[2]
      local got, count = shares(n, R), {}
      for r = 1, R do
        assert.equal((n + R - 1) // R, #got[r])
        for _, i in ipairs(got[r]) do count[i] = (count[i] or 0) + 1 end
      end
      local padded = R * ((n + R - 1) // R) - n
      local twice = 0
      for i = 1, n do
        assert.is_truthy(count[i], 'example ' .. i .. ' of ' .. n .. ' missing')
        twice = twice + count[i] - 1
      end
      assert.equal(padded, twice)       -- only the padding repeats
    end
  end)

  it('drop_last drops the tail; pad = false gives every example exactly once', function()
    local got, seen = shares(10, 3, {drop_last = true}), {}
    for r = 1, 3 do
      assert.equal(3, #got[r])
      for _, i in ipairs(got[r]) do assert.is_nil(seen[i]); seen[i] = true end
    end
    got, seen = shares(10, 3, {pad = false, shuffle = false}), {}
    assert.same({{1, 4, 7, 10}, {2, 5, 8}, {3, 6, 9}}, got)
  end)

  it('is reproducible under its seed, and set_epoch reshuffles', function()
    local a = S(50, {num_replicas = 2, rank = 1, seed = 4})
    local b = S(50, {num_replicas = 2, rank = 1, seed = 4})
    local e0 = a:indices()
    assert.same(e0, b:indices())
    local e1 = a:indices()              -- each use is the next epoch
    assert.are_not.same(e0, e1)
    a:set_epoch(0)
    assert.same(e0, a:indices())
    b:set_epoch(1)
    assert.same(e1, b:indices())
    assert.are_not.same(e0, S(50, {num_replicas = 2, rank = 1, seed = 5}):indices())
  end)

  it('drives a DataLoader: this rank\'s share, in batches', function()
    local X = lc.arange(1, 11):float()
    local dl = lc.data.DataLoader({X}, {batch_size = 2,
      sampler = S(10, {num_replicas = 2, rank = 0, shuffle = false})})
    assert.equal(3, #dl)
    local seen = {}
    for x in dl do for _, v in ipairs(x:totable()) do seen[#seen + 1] = v end end
    assert.same({1, 3, 5, 7, 9}, seen)
    -- distribute() on one process leaves the loader alone
    local plain = lc.data.DataLoader({X}, {batch_size = 4})
    assert.equal(plain, plain:distribute{split_batch = true})
    assert.equal(3, #plain)
    -- and with two (simulated) ranks, splits the batch and shards
    plain:distribute{split_batch = true, num_replicas = 2, rank = 1, seed = 0}
    assert.equal(2, plain.batch_size)
    assert.equal(3, #plain)
  end)

  it('checks its arguments', function()
    has('rank must be an integer in [0, 1], got 2', select(2, pcall(S, 10, {num_replicas = 2, rank = 2})))
    has('n (the number of examples) must be an integer >= 0', select(2, pcall(S, -1)))
    has('unknown option', select(2, pcall(S, 10, {shufle = true})))
    local dl = lc.data.DataLoader({lc.ones(4)}, {batch_size = 2})
    has('the sampler covers 5 examples but the data set has 4',
        select(2, pcall(dl.set_sampler, dl, S(5, {num_replicas = 1, rank = 0}))))
  end)
end)

describe('nn.DistributedDataParallel in a single process', function()
  local function net()
    lc.manual_seed(1)
    return nn.Sequential{nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)}
  end

  it('starts every bucket during backward, and leaves the gradients as they are', function()
    local plain, wrapped = net(), net()
    local ddp = nn.DistributedDataParallel(wrapped, {bucket_mb = 1e-4})  -- ~100 bytes a bucket
    local x = lc.randn(8, 6)
    plain(x):pow(2):sum():backward()
    ddp(x):pow(2):sum():backward()
    local buckets, early = ddp:bucket_stats()
    assert.is_true(buckets >= 3, 'buckets ' .. buckets)
    assert.equal(buckets, early)       -- each started from the grad-ready hook, not at the end
    local a, b = plain:parameters(), wrapped:parameters()
    for i = 1, #a do
      assert.is_true((a[i].grad - b[i].grad):abs():max():item() < 1e-6)
    end
  end)

  it('is the wrapped net for parameters, state_dict, train/eval and printing', function()
    local m = net()
    local ddp = nn.DistributedDataParallel(m)
    assert.equal(m, ddp.module)
    local k1, k2 = {}, {}
    for k in pairs(m:state_dict()) do k1[#k1 + 1] = k end
    for k in pairs(ddp:state_dict()) do k2[#k2 + 1] = k end
    table.sort(k1); table.sort(k2)
    assert.same(k1, k2)                -- no 'module.' prefix: a single process loads it
    assert.equal(#m:parameters(), #ddp:parameters())
    assert.equal(m:parameters()[1], ddp:parameters()[1])
    ddp:eval()
    assert.is_false(m.training)
    ddp:train()
    assert.is_true(m.training)
    assert.matches('DistributedDataParallel%(', tostring(ddp))
    has('DistributedDataParallel: expected an nn.Module, got number',
        select(2, pcall(nn.DistributedDataParallel, 3)))
    has("DistributedDataParallel: unknown option 'bucket' (did you mean 'bucket_mb'?)",
        select(2, pcall(nn.DistributedDataParallel, m, {bucket = 1})))
  end)

  it('an evaluation forward (no_grad) does not arm it; a shared weight still completes', function()
    local lin = nn.Linear(3, 3)
    local shared = nn.Sequential{lin, nn.ReLU(), lin}   -- one weight, two uses
    local ddp = nn.DistributedDataParallel(shared, {bucket_mb = 1e-6})
    lc.no_grad(function() ddp(lc.randn(2, 3)) end)
    ddp(lc.randn(2, 3)):sum():backward()
    local buckets, early = ddp:bucket_stats()
    assert.equal(buckets, early)
    assert.is_not_nil(lin.weight.grad)
  end)
end)
