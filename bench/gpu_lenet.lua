-- GPU benchmark, luacnn side: full training steps (forward, backward, SGD update) of LeNet and
-- BN-LeNet (d2l 7.6 and 8.5) on a batch of 256 synthetic 28x28 images that stay on the device,
-- so the data loader is out of the picture. bench/gpu_lenet_torch.py times the same networks in
-- PyTorch eager; bench/gpu-check.sh runs both and prints the ratio.
--
--   luacnn bench/gpu_lenet.lua [--device cuda] [--seconds 3] [--batch-size 256]
--
-- Prints "RESULT <network> luacnn <examples/s> ex/s" per network. Steps are timed in rounds of
-- 50 with one synchronisation per round (a training loop reads its loss once in a while, not
-- every step), after 20 warm-up steps, until --seconds have passed.
local lc = require 'luacnn'
local nn = lc.nn
local now = require('luacnn.run').now

local args = lc.args{
  'Examples/s of LeNet and BN-LeNet training steps.',
  device = {'auto', help = "'auto' (the first GPU, else the cpu), 'cuda', 'cpu'"},
  seconds = {3.0, help = 'timed seconds per network'},
  batch_size = 256,
  warmup = 20,
}
local device = args.device == 'auto' and lc.try_gpu() or args.device
local B = args.batch_size

local function lenet()
  return nn.Sequential{
    nn.Conv2d(1, 6, 5, {padding = 2}), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10),
  }
end

local function bn_lenet()
  return nn.Sequential{
    nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Flatten(),
    nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
    nn.Linear(84, 10),
  }
end

local function sync()
  if device ~= 'cpu' then lc.cuda.synchronize() end
end

local function bench(name, net, lr)
  net:to(device)
  net:train()
  local opt = lc.optim.SGD(net:parameters(), {lr = lr})
  local loss_fn = nn.CrossEntropyLoss()
  local X = lc.randn({B, 1, 28, 28}, {device = device})
  local y = lc.randint(1, 11, {B}, {device = device}) -- labels 1..10
  local loss
  local function step()
    opt:zero_grad()
    loss = loss_fn(net(X), y)
    loss:backward()
    opt:step()
  end
  for _ = 1, args.warmup do step() end
  sync()
  local first = loss:item()
  local t0, steps = now(), 0
  repeat
    for _ = 1, 50 do step() end
    steps = steps + 50
    sync()
  until now() - t0 >= args.seconds
  local dt = now() - t0
  local last = loss:item()
  print(string.format('%s on %s: %d steps in %.2f s, loss %.4f -> %.4f', name, device, steps, dt,
                      first, last))
  print(string.format('RESULT %s luacnn %.0f ex/s', name, steps * B / dt))
  if device ~= 'cpu' then
    local m = lc.cuda.memory_stats()
    print(string.format('  cuda memory: %.1f MiB allocated, %.1f MiB reserved, %d segments',
                        m.allocated_bytes / 2^20, m.reserved_bytes / 2^20, m.num_segments))
  end
end

if device ~= 'cpu' then lc.cuda.set_benchmark(true) end
lc.manual_seed(0)
bench('lenet', lenet(), 0.9)
bench('bn_lenet', bn_lenet(), 1.0)
