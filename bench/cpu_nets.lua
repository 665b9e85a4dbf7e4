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
--
-- The same harness serves the GPU table (issue 16; bench/gpu_nets.sh drives it there):
--   --device cuda          where the step runs (the batch is made there once)
--   --mode bf16            the forward and the loss under lc.autocast, the input channels-last
--   --preset gpu           the issue's batch sizes (LeNet 256, AlexNet 128, ...) and the leaves
--                          ResNet at 224 (the CPU preset is batch 32, leaves at 64)
--   --json FILE            also append one JSON object per network to FILE
local lc = require 'luacnn'
local json = require 'luacnn.json'
local nn = lc.nn

local here = debug.getinfo(1, 'S').source:match('^@(.-)[^/]*$') or ''

-- name -> {file, input size, batch (nil: --batch_size), net options}; PRESETS.gpu overrides
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
-- name -> {batch, input size}: issue 16's GPU table
local GPU_PRESET = {
  lenet = {256, 28}, lenet_bn = {256, 28}, alexnet = {128, 224}, vgg = {128, 224},
  nin = {128, 224}, googlenet = {128, 96}, resnet18 = {256, 96}, resnet18_leaves = {64, 224},
}

local args = lc.args{
  "The chapter networks' CPU training step (luacnn).",
  nets = {table.concat(ORDER, ','), help = 'comma-separated: ' .. table.concat(ORDER, ', ')},
  batch_size = {0, min = 0, help = "the batch for every network (0: the preset's)"},
  steps = {5, min = 1, help = 'timed steps, at least'},
  min_time = {3.0, help = 'and at least this many seconds of timed steps'},
  warmup = {2, min = 1},
  lr = 0.01,
  device = {'cpu', help = 'cpu or cuda'},
  mode = {'fp32', choices = {'fp32', 'bf16'}, help = 'bf16: lc.autocast and channels-last input'},
  preset = {'cpu', choices = {'cpu', 'gpu'}, help = "batch sizes: the CPU table's or the GPU table's"},
  json = {'', help = 'append one JSON object per network to this file'},
}

local now = lc.d2l.now

local function measure(name)
  local spec = NETS[name]
  if not spec then error('cpu_nets: unknown network ' .. name .. ' (known: ' ..
                         table.concat(ORDER, ', ') .. ')') end
  lc.manual_seed(0)
  local opts = spec[4] or {}
  local net = loadfile(here .. '../examples/' .. spec[1])(opts)
  local batch, size = spec[3] or 32, spec[2]
  if args.preset == 'gpu' then batch, size = GPU_PRESET[name][1], GPU_PRESET[name][2] end
  if args.batch_size > 0 then batch = args.batch_size end
  local cin, classes = opts.in_channels or 1, opts.num_classes or 10
  net:to(args.device)
  local opt = lc.optim.SGD(net:parameters(), {lr = args.lr, momentum = 0.9})
  local loss_fn = nn.CrossEntropyLoss()
  local X = lc.randn(batch, cin, size, size, {device = args.device})
  local y = lc.randint(1, classes + 1, batch, {device = args.device}):long()
  local bf16 = args.mode == 'bf16'
  if bf16 then X = X:contiguous(lc.channels_last) end
  local function forward_loss() return loss_fn(net(X), y) end
  local function step()
    opt:zero_grad()
    local l = bf16 and lc.autocast(forward_loss) or forward_loss()
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
  if args.json ~= '' then
    local f = assert(io.open(args.json, 'a'))
    f:write(json.encode{library = 'luacnn', net = name, device = args.device, mode = args.mode,
                        batch = batch, size = size, ms_best = best * 1e3, ms_median = median * 1e3,
                        examples_per_sec = batch / best, examples_per_sec_median = batch / median,
                        steps = #times}, '\n')
    f:close()
  end
end

for name in args.nets:gmatch('[^,%s]+') do measure(name) end
