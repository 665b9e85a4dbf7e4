-- LeNet on the CPU: training examples/sec (batch 256) and GFLOP/s of LeNet's two
-- convolutions forward and backward through lc.F, side by side with PyTorch.
--
--   OMP_NUM_THREADS=2 luacnn bench/lenet_cpu.lua [--batch_size 256] [--min_time 2] [--torch]
--
-- With --torch (the default) it first runs bench/lenet_cpu_torch.py when python3 can import
-- torch (with the same thread count), which writes runs/bench/lenet_cpu_torch.json; then it
-- measures luacnn and prints both figures and their ratio (luacnn / PyTorch: above 1 is
-- faster). --no-torch only reads a JSON left by an earlier run, if any.
--
-- Methodology (the same in the Python script): the train step is zero_grad, forward,
-- cross-entropy, backward and an SGD step of the chapter's LeNet (sigmoid, average pooling,
-- Xavier-uniform weights) on one fixed batch of random images (the data loader is not timed);
-- conv1/conv2 are timed forward (without grad) and backward (autograd, retain_graph, grads
-- cleared between calls) computing what LeNet needs: the weight and bias gradients of conv1,
-- and also the input gradient of conv2. FLOPs: 2 * n * c_out * h_out * w_out * c_in * k * k
-- per product. Every figure is the per-call time of the fastest of repeated rounds, which a
-- busy shared machine disturbs least.
local lc = require 'luacnn'
local json = require 'luacnn.json'
local run = require 'luacnn.run'
local nn, F, d2l = lc.nn, lc.F, lc.d2l

local args = lc.args{
  'LeNet training speed and conv GFLOP/s on the CPU, against PyTorch.',
  batch_size = 256,
  min_time = {2.0, help = 'seconds spent on each measurement'},
  threads = {2, help = 'threads for PyTorch (luacnn follows OMP_NUM_THREADS)'},
  torch = {true, help = 'run bench/lenet_cpu_torch.py first (when torch is installed)'},
  torch_json = {'runs/bench/lenet_cpu_torch.json', help = "PyTorch's results"},
  out = {'runs/bench/lenet_cpu.json', help = "where luacnn's results are written"},
}

local now = d2l.now

-- Per-call seconds: the fastest of rounds of calls. Rounds last >= 0.5 s, since the clock
-- may tick in 10 ms steps.
local function best_time(fn)
  fn()
  fn()
  local best, start = math.huge, now()
  repeat
    local reps, t0 = 0, now()
    repeat
      fn()
      reps = reps + 1
    until now() - t0 >= 0.5
    best = math.min(best, (now() - t0) / reps)
  until now() - start >= args.min_time
  return best
end

local here = debug.getinfo(1, 'S').source:match('^@(.-)[^/]*$') or ''

local function shell_ok(cmd) return os.execute(cmd .. ' >/dev/null 2>&1') == true end

-- PyTorch's figures: run its script (when asked and possible), then read the JSON.
local function torch_results()
  if args.torch then
    if shell_ok('python3 -c "import torch"') then
      -- PyTorch runs with its own OpenMP default, not the spin count luacnn gave itself
      local own_default = os.getenv('LUACNN_SET_GOMP_SPINCOUNT') and 'env -u GOMP_SPINCOUNT ' or ''
      local cmd = own_default .. string.format('python3 %s --threads %d --batch-size %d --min-time %s --out %s',
                                run.shell_quote(here .. 'lenet_cpu_torch.py'), args.threads,
                                args.batch_size, args.min_time, run.shell_quote(args.torch_json))
      print('running PyTorch: ' .. cmd)
      if not os.execute(cmd) then io.stderr:write('the PyTorch benchmark failed\n') end
      print()
    else
      print('PyTorch is not installed here (python3 cannot import torch): luacnn alone\n')
    end
  end
  local t = run.read_json(args.torch_json)
  if t and t.batch_size ~= args.batch_size then
    print(string.format('(%s is for batch %d, not %d: ignored)', args.torch_json, t.batch_size,
                        args.batch_size))
    return nil
  end
  return t
end

local function lenet()
  return dofile(here .. '../examples/lenet_net.lua')
end

local function bench_train_step()
  local net = lenet()
  net:apply(d2l.init_weights)
  local loss = nn.CrossEntropyLoss()
  local opt = lc.optim.SGD(net:parameters(), {lr = 0.1})
  local X = lc.rand(args.batch_size, 1, 28, 28)
  local y = lc.randint(1, 11, args.batch_size):long()
  return best_time(function()
    opt:zero_grad()
    local l = loss(net(X), y)
    l:backward()
    opt:step()
  end)
end

local function bench_conv(name, cin, hw, cout, k, pad, input_grad)
  local n = args.batch_size
  local x = lc.rand(n, cin, hw, hw)
  x.requires_grad = input_grad
  local conv = nn.Conv2d(cin, cout, k, {padding = pad})
  local hout = hw + 2 * pad - k + 1
  local flops = 2.0 * n * cout * hout * hout * cin * k * k
  local tf = best_time(function() lc.no_grad(function() return conv(x) end) end)
  local y = conv(x)
  local g = lc.rand_like(y)
  local tb = best_time(function()
    conv.weight.grad = nil
    conv.bias.grad = nil
    x.grad = nil
    y:backward(g, {retain_graph = true})
  end)
  local bflops = flops * (input_grad and 2 or 1)
  return {layer = name, shape = {n, cin, hw, hw}, out_channels = cout, kernel = k, padding = pad,
          input_grad = input_grad, forward_ms = tf * 1e3, backward_ms = tb * 1e3,
          forward_gflops = flops / tf / 1e9, backward_gflops = bflops / tb / 1e9}
end

local torch = torch_results()

local omp = os.getenv('OMP_NUM_THREADS')
print(string.format('luacnn, OMP_NUM_THREADS=%s, batch %d, %.1f s per measurement',
                    omp or '(unset: all cores)', args.batch_size, args.min_time))
lc.manual_seed(0)
local step = bench_train_step()
local result = {
  library = 'luacnn', threads = omp and tonumber(omp) or nil, batch_size = args.batch_size,
  train_step_ms = step * 1e3, train_examples_per_sec = args.batch_size / step,
  conv = {
    bench_conv('conv1', 1, 28, 6, 5, 2, false),
    bench_conv('conv2', 6, 14, 16, 5, 0, true),
  },
}
run.mkdir((args.out:match('^(.*)/[^/]*$')) or '.')
run.write_json(args.out, result)

local function ratio(a, b) return b and string.format('%.2fx', a / b) or '-' end
local function num(v, f) return v and string.format(f, v) or '-' end

print()
print(string.format('%-28s %14s %14s %9s', '', 'luacnn', torch and 'PyTorch' or '(no PyTorch)',
                    'ratio'))
print(string.format('%-28s %14s %14s %9s', 'LeNet train, examples/sec',
                    num(result.train_examples_per_sec, '%.1f'),
                    num(torch and torch.train_examples_per_sec, '%.1f'),
                    ratio(result.train_examples_per_sec, torch and torch.train_examples_per_sec)))
print(string.format('%-28s %14s %14s %9s', 'LeNet train step, ms', num(result.train_step_ms, '%.2f'),
                    num(torch and torch.train_step_ms, '%.2f'), ''))
for i, c in ipairs(result.conv) do
  local t = torch and torch.conv and torch.conv[i]
  for _, pass in ipairs{'forward', 'backward'} do
    local key = pass .. '_gflops'
    print(string.format('%-28s %14s %14s %9s', string.format('%s %s, GFLOP/s', c.layer, pass),
                        num(c[key], '%.2f'), num(t and t[key], '%.2f'),
                        ratio(c[key], t and t[key])))
  end
end
print(string.format('\nratio = luacnn / PyTorch (above 1: luacnn is faster)%s',
                    torch and (', PyTorch: ' .. tostring(torch.library) .. ', ' ..
                               tostring(torch.threads) .. ' threads') or ''))
print('wrote ' .. args.out)
return result
