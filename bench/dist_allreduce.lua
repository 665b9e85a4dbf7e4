-- MPI all_reduce bandwidth through lc.dist, for the data-parallel model of bench/RESULTS.md.
--
--   mpirun --oversubscribe -np 2 luacnn bench/dist_allreduce.lua [--mb 45] [--reps 10]
--
-- Each size is all-reduced (sum, float32, in place) reps times after 2 warm-up calls; rank 0
-- prints the fastest and the median time and two bandwidths: algbw = bytes / time and busbw =
-- algbw * 2 (n - 1) / n (NCCL's convention: what each link carries in a ring all-reduce, the
-- figure that compares across rank counts). 45 MB is ResNet-18's gradients (11.2 M floats).
local lc = require 'luacnn'
local dist = lc.dist
local d2l = lc.d2l

local args = lc.args{
  'lc.dist all_reduce bandwidth (run it under mpirun).',
  mb = {45.0, help = 'the largest message, in MB (10^6 bytes)'},
  reps = {10, help = 'timed calls per size'},
}

local world = dist.init()
local main = dist.rank() == 0
if main then
  print(string.format('all_reduce float32 sum, %d ranks, MPI %s', world, dist.have_mpi() and 'yes' or 'no'))
  print(string.format('%10s %10s %10s %12s %12s', 'MB', 'best ms', 'median ms', 'algbw GB/s', 'busbw GB/s'))
end
local sizes = {}
for _, mb in ipairs{0.001, 0.1, 1, 10} do if mb < args.mb then sizes[#sizes + 1] = mb end end
sizes[#sizes + 1] = args.mb
for _, mb in ipairs(sizes) do
  local n = math.max(1, math.floor(mb * 1e6 / 4))
  local t = lc.ones(n)
  for _ = 1, 2 do dist.all_reduce(t) end
  local times = {}
  for k = 1, args.reps do
    dist.barrier()
    local t0 = d2l.now()
    dist.all_reduce(t)
    times[k] = dist.all_reduce_number(d2l.now() - t0, 'max')   -- the slowest rank's time
  end
  table.sort(times)
  local best, median = times[1], times[(#times + 1) // 2]
  local bytes = n * 4
  local algbw = bytes / median / 1e9
  local busbw = algbw * 2 * (world - 1) / world
  if main then
    print(string.format('%10.3f %10.3f %10.3f %12.3f %12.3f', bytes / 1e6, best * 1e3, median * 1e3,
                        algbw, busbw))
  end
end
