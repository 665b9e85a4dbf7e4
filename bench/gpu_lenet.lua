-- GPU training throughput of LeNet and BN-LeNet (d2l 6.6 and 8.5): batch 256 of 28x28
-- synthetic data already on the device, full step (forward, backward, SGD update).
-- Prints examples/sec for each mode; with --torch_json FILE (written by
-- bench/gpu_lenet_torch.py in the same session) it prints PyTorch's figures and the ratios.
local lc = require 'luacnn'
local nn = lc.nn

local args = lc.args{
  'LeNet / BN-LeNet training throughput on the GPU.',
  device = 'cuda', batch_size = 256, steps = 300, warmup = 20, lr = 0.9,
  graph = {true, help = 'also time the step captured as a CUDA graph'},
  torch_json = {type = 'string', help = "PyTorch's figures (bench/gpu_lenet_torch.py)"},
}

local function lenet()
  return nn.Sequential{
    nn.Conv2d(1, 6, 5, {padding = 2}), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10),
  }
end

local function bn_lenet()
  return nn.Sequential{
    nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Flatten(),
    nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10),
  }
end

local function measure(name, make_net, use_graph)
  lc.manual_seed(0)
  local device = args.device
  local net = make_net():to(device)
  local opt = lc.optim.SGD(net:parameters(), {lr = args.lr})
  local loss_fn = nn.CrossEntropyLoss()
  local X = lc.randn(args.batch_size, 1, 28, 28, {device = device})
  local y = lc.randint(1, 11, args.batch_size, {device = device})
  local last_loss
  local function step()
    opt:zero_grad()
    last_loss = loss_fn(net(X), y)
    last_loss:backward()
    opt:step()
  end
  for _ = 1, args.warmup do step() end
  local run = step
  if use_graph then
    local graph = lc.cuda.graph(step)
    run = function() graph:replay() end
    for _ = 1, 3 do run() end
  end
  lc.cuda.synchronize()
  local t0 = lc.clock()
  for _ = 1, args.steps do run() end
  lc.cuda.synchronize()
  local seconds = lc.clock() - t0
  local rate = args.steps * args.batch_size / seconds
  print(string.format('%-9s %-6s %10.1f examples/sec  (%.3f ms/step, loss %.4f)', name,
                      use_graph and 'graph' or 'eager', rate, 1e3 * seconds / args.steps,
                      last_loss:item()))
  return rate
end

lc.cuda.set_benchmark(true)
print(string.format('device %s (%s)', args.device, lc.cuda.device_name(0) or '?'))
local results = {}
for _, case in ipairs{{'lenet', lenet}, {'bn_lenet', bn_lenet}} do
  results[case[1]] = {eager = measure(case[1], case[2], false)}
  if args.graph and lc.cuda.graph then
    local ok, rate = pcall(measure, case[1], case[2], true)
    if ok then results[case[1]].graph = rate
    else print(case[1] .. ' graph capture failed: ' .. tostring(rate)) end
  end
end

if args.torch_json then
  local f = io.open(args.torch_json)
  if not f then error('no PyTorch results at ' .. args.torch_json) end
  local torch = require('luacnn.json').decode(f:read('a'))
  f:close()
  print('\nnetwork   luacnn eager  luacnn graph  pytorch eager  ratio (best/pytorch)')
  for _, name in ipairs{'lenet', 'bn_lenet'} do
    local r, t = results[name], torch[name]
    local best = math.max(r.eager, r.graph or 0)
    print(string.format('%-9s %12.0f  %12s  %13.0f  %6.2fx', name, r.eager,
                        r.graph and string.format('%.0f', r.graph) or '-', t, best / t))
  end
end
