-- The chapter networks' CPU training step in luacnn: examples/sec per network.
--
--   OMP_NUM_THREADS=2 luacnn bench/cpu_nets.lua [--nets lenet,resnet18] [--steps 5] [--warmup 2]
--
-- Run with bench/cpu_nets_torch.py (the same networks in PyTorch) through bench/cpu_nets.sh,
-- which runs both back to back per network and prints the ratios.
--
-- The step: zero_grad, forward, cross-entropy, backward, SGD with momentum 0.9, on one fixed
-- batch of random inputs (the data loader is not timed). The first `warmup` steps are not
-- timed (they include the per-shape choice between im2col and oneDNN and oneDNN's JIT); then
-- steps are timed one by one (at least `steps` of them and `min_time` seconds); the fastest and the median are reported (a busy
-- shared machine disturbs the fastest least). One line per network:
--   name batch size ms_best ms_median examples_per_sec(best) examples_per_sec(median)
local lc = require 'luacnn'
local nn = lc.nn

local here = debug.getinfo(1, 'S').source:match('^@(.-)[^/]*$') or ''

-- name -> {file, input size, batch (nil: --batch_size), net options}
local NETS = {
  lenet = {'lenet_net.lua', 28},
  alexnet = {'alexnet_net.lua', 224},
  vgg = {'vgg_net.lua', 224},
  nin = {'nin_net.lua', 224},
  googlenet = {'googlenet_net.lua', 96},
  lenet_bn = {'lenet_bn_net.lua', 28},
  resnet18 = {'resnet18_net.lua', 96},
  -- the leaves CPU recipe's shape: RGB 64x64, batch 128, 176 classes
  resnet18_leaves = {'resnet18_net.lua', 64, 128, {in_channels = 3, num_classes = 176}},
}
local ORDER = {'lenet', 'alexnet', 'vgg', 'nin', 'googlenet', 'lenet_bn', 'resnet18',
               'resnet18_leaves'}

local args = lc.args{
  "The chapter networks' CPU training step (luacnn).",
  nets = {table.concat(ORDER, ','), help = 'comma-separated: ' .. table.concat(ORDER, ', ')},
  batch_size = 32,
  steps = {5, min = 1, help = 'timed steps, at least'},
  min_time = {3.0, help = 'and at least this many seconds of timed steps'},
  warmup = {2, min = 1},
  lr = 0.01,
}

local now = lc.d2l.now

local function measure(name)
  local spec = NETS[name]
  if not spec then error('cpu_nets: unknown network ' .. name .. ' (known: ' ..
                         table.concat(ORDER, ', ') .. ')') end
  lc.manual_seed(0)
  local opts = spec[4] or {}
  local net = loadfile(here .. '../examples/' .. spec[1])(opts)
  local batch, size = spec[3] or args.batch_size, spec[2]
  local cin, classes = opts.in_channels or 1, opts.num_classes or 10
  local opt = lc.optim.SGD(net:parameters(), {lr = args.lr, momentum = 0.9})
  local loss_fn = nn.CrossEntropyLoss()
  local X = lc.randn(batch, cin, size, size)
  local y = lc.randint(1, classes + 1, batch):long()
  local function step()
    opt:zero_grad()
    local l = loss_fn(net(X), y)
    l:backward()
    opt:step()
    return l:item()
  end
  for _ = 1, args.warmup do step() end
  local times, start = {}, now()
  repeat
    local t0 = now()
    step()
    times[#times + 1] = now() - t0
  until #times >= args.steps and now() - start >= args.min_time
  table.sort(times)
  local best, median = times[1], times[(#times + 1) // 2]
  print(string.format('%-16s batch %4d size %4d  ms best %9.1f median %9.1f  ex/s best %9.1f median %9.1f  steps %d',
                      name, batch, size, best * 1e3, median * 1e3, batch / best, batch / median, #times))
  io.stdout:flush()
end

for name in args.nets:gmatch('[^,%s]+') do measure(name) end
