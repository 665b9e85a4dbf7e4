-- Every op, layer and gradient on the GPU against the CPU, on random inputs (also
-- non-contiguous, broadcast, odd sizes), plus LeNet's loss curve on both devices.
-- Without a GPU every test reports itself skipped.
local lc = require 'luacnn'
local nn, F = lc.nn, lc.F

local has_gpu = lc.cuda.is_available()
if not has_gpu then
  print('SKIPPED: cuda_spec needs a GPU: ' .. tostring(lc.cuda.unavailable_reason()))
end
local test = has_gpu and it or function(name) pending('no GPU: ' .. name) end

local function max_diff(a, b)
  return (a:cpu():double() - b:cpu():double()):abs():max():item()
end

local function scale_of(t) return math.max(1, t:cpu():double():abs():max():item()) end

local function assert_close(gpu, cpu, tol, what)
  assert.are.same(cpu:shape(), gpu:shape(), what)
  assert.are.equal(cpu.dtype, gpu.dtype, what)
  local d = max_diff(gpu, cpu)
  assert.is_true(d <= (tol or 1e-5) * scale_of(cpu), string.format('%s: max diff %g', what or '', d))
end

-- Runs fn on CPU copies and GPU copies of the inputs (leaves requiring grad), compares the
-- outputs, then the gradients of sum(out * w) for a fixed random w.
local function compare(what, fn, inputs, tol)
  local cpu_in, gpu_in = {}, {}
  for i, x in ipairs(inputs) do
    local float = x.dtype == 'float32' or x.dtype == 'float64'
    cpu_in[i] = x:clone():detach()
    gpu_in[i] = x:cuda():detach()
    if float then cpu_in[i].requires_grad = true; gpu_in[i].requires_grad = true end
  end
  local yc, yg = fn(table.unpack(cpu_in)), fn(table.unpack(gpu_in))
  assert.are.equal('cuda:0', yg.device, what)
  assert_close(yg, yc, tol, what)
  if not yc.requires_grad then return end
  local w = lc.randn(yc:shape(), {dtype = yc.dtype})
  ;(yc * w):sum():backward()
  ;(yg * w:cuda()):sum():backward()
  for i = 1, #inputs do
    if cpu_in[i].grad then assert_close(gpu_in[i].grad, cpu_in[i].grad, tol, what .. ' grad ' .. i) end
  end
end

local sizes = {{1}, {3}, {17}, {1023}, {3, 17}, {2, 3, 5}}

describe('cuda tensors', function()
  test('move between devices, print their device, and refuse mixing', function()
    local x = lc.randn(3, 4)
    local g = x:cuda()
    assert.are.equal('cuda:0', g.device)
    assert.are.same(x:totable(), g:cpu():totable())
    assert.truthy(tostring(g):find('cuda:0'))
    local ok, err = pcall(function() return x + g end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find('cpu') and tostring(err):find('cuda:0'), err)
    assert.are.equal('cuda:0', lc.zeros(2, 2, {device = 'cuda'}).device)
    assert.are.equal('cuda:0', lc.try_gpu())
  end)

  test('random numbers reproduce the CPU stream for the same seed', function()
    for _, f in ipairs{'rand', 'randn'} do
      lc.manual_seed(7); local a = lc[f](1023, 3)
      lc.manual_seed(7); local b = lc[f](1023, 3, {device = 'cuda'})
      assert_close(b, a, 1e-6, f)
    end
  end)

  test('unary ops and their gradients', function()
    for _, s in ipairs(sizes) do
      local x = lc.rand(s) + 0.1
      for _, op in ipairs{'exp', 'log', 'sqrt', 'abs', 'sigmoid', 'tanh', 'relu', 'neg', 'reciprocal'} do
        compare(op .. ' ' .. #s, function(t) return t[op](t) end, {x}, 1e-5)
      end
      compare('clamp', function(t) return t:clamp(0.3, 0.7) end, {x})
      compare('scalars', function(t) return ((t * 3 + 1) / 2 - 4) ^ 2 + 2 ^ t + 1 / t end, {x}, 1e-5)
    end
  end)

  test('binary ops with broadcasting and non-contiguous inputs', function()
    local a = lc.rand(4, 1, 5) + 0.5
    local b = lc.rand(3, 1) + 0.5
    local c = (lc.rand(5, 4) + 0.5):t() -- non-contiguous (4, 5)
    for _, op in ipairs{'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'} do
      compare(op, function(x, y) return x[op](x, y) end, {a, b}, 1e-5)
      compare(op .. ' nc', function(x, y) return x[op](x, y) end, {a, c}, 1e-5)
    end
    for _, op in ipairs{'gt', 'lt', 'ge', 'le', 'eq', 'ne'} do
      compare(op, function(x, y) return x[op](x, y) end, {a, b})
    end
    compare('where', function(x, y) return lc.where(x:gt(1), x, y) end, {a, b})
  end)

  test('reductions over all and some dims', function()
    local x = lc.randn(5, 17, 3)
    compare('sum', function(t) return t:sum() end, {x}, 1e-5)
    compare('sum dims', function(t) return t:sum({1, 3}, {keepdim = true}) end, {x}, 1e-5)
    compare('mean', function(t) return t:mean(2) end, {x}, 1e-5)
    compare('var', function(t) return t:var(1) end, {x}, 1e-4)
    compare('std', function(t) return t:std() end, {x}, 1e-4)
    compare('prod', function(t) return (t * 0.1 + 1):prod(2) end, {x}, 1e-4)
    compare('max', function(t) return (t:max(2)) end, {x})
    compare('min', function(t) return (t:min(-1, true)) end, {x})
    compare('argmax', function(t) return t:argmax(2) end, {x})
    local big = lc.randn(1023, 1023)
    compare('big sum', function(t) return t:sum(1) end, {big}, 1e-4)
  end)

  test('matmul: 2-D, vectors, batched, broadcast batch, transposed', function()
    compare('mm', function(a, b) return a:matmul(b) end, {lc.randn(17, 33), lc.randn(33, 5)}, 1e-4)
    compare('mv', function(a, b) return a:matmul(b) end, {lc.randn(17, 33), lc.randn(33)}, 1e-4)
    compare('bmm', function(a, b) return a:matmul(b) end, {lc.randn(3, 4, 6), lc.randn(3, 6, 2)}, 1e-4)
    compare('broadcast', function(a, b) return a:matmul(b) end, {lc.randn(2, 3, 4, 6), lc.randn(6, 5)}, 1e-4)
    compare('transposed', function(a, b) return a:t():matmul(b:t()) end, {lc.randn(6, 4), lc.randn(5, 6)}, 1e-4)
  end)

  test('views, slices, index writes, cat and stack', function()
    local x = lc.randn(4, 6, 5)
    compare('permute', function(t) return t:permute(3, 1, 2):contiguous() end, {x})
    compare('narrow', function(t) return t:narrow(2, 2, 3) * 2 end, {x})
    compare('index', function(t) return t[{{2, 3}, 4, {}}] + 1 end, {x})
    compare('expand', function(t) return t[{{}, {1}, {}}]:expand(4, 6, 5) * t end, {x})
    compare('slice write', function(t)
      local y = lc.zeros(4, 6, 5, {device = t.device})
      y[{{}, {2, 4}}] = t[{{}, {1, 3}}] * 3
      return y
    end, {x})
    compare('cat', function(a, b) return lc.cat({a, b, a}, 2) end, {lc.randn(3, 2), lc.randn(3, 5)})
    compare('stack', function(a, b) return lc.stack({a, b}, 1) end, {lc.randn(3, 2), lc.randn(3, 2)})
    compare('to float64', function(t) return t:double() * 2 end, {lc.randn(17)})
    local u8 = lc.randint(0, 256, 3, 7, {dtype = 'uint8'})
    compare('uint8 to float', function(t) return t:float() / 255 end, {u8})
  end)
end)

describe('cuda layers', function()
  test('conv2d: padding, stride, dilation, groups, bias, odd sizes', function()
    local cases = {
      {x = {2, 3, 17, 13}, w = {4, 3, 3, 3}, o = {padding = 1}},
      {x = {1, 4, 9, 9}, w = {6, 2, 3, 3}, o = {stride = 2, groups = 2}},
      {x = {3, 2, 11, 11}, w = {5, 2, 3, 3}, o = {dilation = 2, padding = 2}},
      {x = {2, 1, 28, 28}, w = {6, 1, 5, 5}, o = {padding = 2}},
      {x = {2, 8, 7, 7}, w = {8, 1, 3, 3}, o = {padding = 1, groups = 8}},
    }
    for i, c in ipairs(cases) do
      local b = lc.randn(c.w[1])
      compare('conv ' .. i, function(x, w, bias) return F.conv2d(x, w, bias, c.o) end,
              {lc.randn(c.x), lc.randn(c.w), b}, 1e-4)
    end
  end)

  test('pooling: max, avg (count_include_pad, ceil_mode), adaptive', function()
    local x = lc.randn(2, 3, 17, 15)
    compare('max', function(t) return F.max_pool2d(t, 3, {stride = 2, padding = 1}) end, {x})
    compare('max ceil', function(t) return F.max_pool2d(t, 2, {ceil_mode = true}) end, {x})
    compare('avg', function(t) return F.avg_pool2d(t, 3, {stride = 2, padding = 1}) end, {x}, 1e-5)
    compare('avg nopad', function(t) return F.avg_pool2d(t, 3, {stride = 2, padding = 1, count_include_pad = false, ceil_mode = true}) end, {x}, 1e-5)
    compare('adaptive', function(t) return F.adaptive_avg_pool2d(t, {3, 4}) end, {x}, 1e-5)
  end)

  test('batch norm in training and evaluation, with running statistics', function()
    for _, shape in ipairs{{8, 5}, {4, 3, 7, 9}} do
      local cpu_bn = shape[3] and nn.BatchNorm2d(shape[2]) or nn.BatchNorm1d(shape[2])
      local gpu_bn = shape[3] and nn.BatchNorm2d(shape[2]) or nn.BatchNorm1d(shape[2])
      gpu_bn:load_state_dict(cpu_bn:state_dict())
      gpu_bn:to('cuda')
      local x = lc.randn(shape) * 3 + 1
      compare('bn train', function(t) return t.device == 'cpu' and cpu_bn(t) or gpu_bn(t) end, {x}, 1e-4)
      assert_close(gpu_bn.running_mean, cpu_bn.running_mean, 1e-5, 'running_mean')
      assert_close(gpu_bn.running_var, cpu_bn.running_var, 1e-5, 'running_var')
      cpu_bn:eval(); gpu_bn:eval()
      compare('bn eval', function(t) return t.device == 'cpu' and cpu_bn(t) or gpu_bn(t) end, {x}, 1e-4)
    end
  end)

  test('log-softmax, cross-entropy (label smoothing), linear, dropout', function()
    local logits = lc.randn(17, 10)
    local y = lc.randint(1, 11, 17)
    compare('log_softmax', function(t) return F.log_softmax(t, 2) end, {logits}, 1e-5)
    compare('softmax dim 1', function(t) return F.softmax(t, 1) end, {logits}, 1e-5)
    compare('cross_entropy', function(t, labels) return F.cross_entropy(t, labels, {label_smoothing = 0.1}) end,
            {logits, y}, 1e-5)
    compare('linear', function(x, w, b) return F.linear(x, w, b) end, {lc.randn(5, 7), lc.randn(3, 7), lc.randn(3)}, 1e-5)
    local x = lc.ones(1000, 100, {device = 'cuda'})
    local d = F.dropout(x, 0.3, true)
    local kept = d:gt(0):float():mean():item()
    assert.is_true(math.abs(kept - 0.7) < 0.01, 'kept ' .. kept)
    assert.is_true(math.abs(d:sum():item() / 1e5 - 1) < 0.02)
  end)

  test('optimizer steps match the CPU', function()
    for _, make in ipairs{
      function(p) return lc.optim.SGD(p, {lr = 0.1, momentum = 0.9, weight_decay = 1e-3, nesterov = true}) end,
      function(p) return lc.optim.AdamW(p, {lr = 1e-2}) end,
    } do
      local w0 = lc.randn(17, 3)
      local pc, pg = nn.Parameter(w0:clone()), nn.Parameter(w0:cuda())
      local oc, og = make({pc}), make({pg})
      for _ = 1, 3 do
        oc:zero_grad(); og:zero_grad()
        ;(pc ^ 2):sum():backward(); (pg ^ 2):sum():backward()
        oc:step(); og:step()
      end
      assert_close(pg:detach(), pc:detach(), 1e-5, 'optimizer')
    end
  end)
end)

describe('cuda training', function()
  local function lenet()
    return nn.Sequential{
      nn.Conv2d(1, 6, 5, {padding = 2}), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
      nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}), nn.Flatten(),
      nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10),
    }
  end

  local function losses(device, steps)
    lc.manual_seed(3)
    local net = lenet()
    net:to(device)
    local opt = lc.optim.SGD(net:parameters(), {lr = 0.9})
    local X = lc.rand(64, 1, 28, 28)
    local y = lc.randint(1, 11, 64)
    X, y = X:to(device), y:to(device)
    local out = {}
    for i = 1, steps do
      opt:zero_grad()
      local l = F.cross_entropy(net(X), y)
      l:backward()
      opt:step()
      out[i] = l:item()
    end
    return out
  end

  test('LeNet: the loss curve on the GPU follows the CPU one for the same seed', function()
    local c, g = losses('cpu', 30), losses('cuda', 30)
    for i = 1, 30 do
      assert.is_true(math.abs(c[i] - g[i]) < 1e-3 * math.max(1, c[i]),
                     string.format('step %d: cpu %.6f gpu %.6f', i, c[i], g[i]))
    end
    assert.is_true(g[30] < g[1])
  end)

  test('a captured training step replays like the eager one, and memory stays flat', function()
    lc.manual_seed(5)
    local net = lenet():to('cuda')
    local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
    local X, y = lc.randn(32, 1, 28, 28, {device = 'cuda'}), lc.randint(1, 11, 32, {device = 'cuda'})
    local loss
    local function step()
      opt:zero_grad()
      loss = F.cross_entropy(net(X), y)
      loss:backward()
      opt:step()
    end
    for _ = 1, 3 do step() end
    local graph = lc.cuda.graph(step)
    for _ = 1, 5 do graph:replay() end
    local replayed = loss:item()
    assert.is_true(replayed == replayed and replayed > 0)
    local before = lc.cuda.memory_stats().allocated_bytes
    for _ = 1, 200 do graph:replay() end
    lc.cuda.synchronize()
    assert.are.equal(before, lc.cuda.memory_stats().allocated_bytes)
  end)

  test('an eager loop keeps device memory flat without collectgarbage()', function()
    local net = lenet():to('cuda')
    local opt = lc.optim.SGD(net:parameters(), {lr = 0.1})
    local X, y = lc.randn(256, 1, 28, 28, {device = 'cuda'}), lc.randint(1, 11, 256, {device = 'cuda'})
    local peak = {}
    for epoch = 1, 3 do
      for _ = 1, 100 do
        opt:zero_grad()
        F.cross_entropy(net(X), y):backward()
        opt:step()
      end
      peak[epoch] = lc.cuda.memory_stats().reserved_bytes
    end
    assert.are.equal(peak[2], peak[3])
  end)
end)
