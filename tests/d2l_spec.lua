-- lc.d2l (Accumulator, Timer, accuracy, evaluate_accuracy, train_ch6) and the chapter
-- scripts: every script runs with tiny settings, exits 0 and prints what the chapter prints.
-- The scripts that train need Fashion-MNIST; without it they are skipped, loudly.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local lc = require 'luacnn'
local d2l = lc.d2l
local nn = lc.nn
local run = require 'luacnn.run'

local function data_root()
  return (os.getenv('LUACNN_DATA') or (H.root .. '/../shared/data'))
end

-- nil when Fashion-MNIST can be loaded, else why not.
local function data_missing()
  local root = data_root() .. '/fashion-mnist'
  for _, f in ipairs{'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
                     't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'} do
    if not H.exists(root .. '/' .. f) then return 'no Fashion-MNIST data at ' .. root end
  end
  return nil
end

local function skip_loudly(why)
  io.stderr:write('\n*** SKIPPED (', why, '): set LUACNN_DATA or fetch the data with ',
                  '`luacnn data fetch fashion-mnist` ***\n')
  pending(why)
end

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-6) end

-- A loader over fixed tensors.
local function loader(X, y, bs)
  return lc.data.DataLoader(lc.data.TensorDataset(X, y), {batch_size = bs})
end

-- Two well separated blobs in 2-D: class 1 around (-2, -2), class 2 around (2, 2).
local function blobs(n)
  local X = lc.randn(n, 2) * 0.5
  local y = lc.ones(n, {dtype = 'int64'})
  for i = 1, n do
    if i % 2 == 0 then
      X[i] = X[i] + 2
      y[i] = 2
    else
      X[i] = X[i] - 2
    end
  end
  return X, y
end

describe('d2l.Accumulator', function()
  it('sums numbers, and tensors on their device, read back by index', function()
    local m = d2l.Accumulator(3)
    m:add(1, lc.tensor(2.5), 3)
    m:add(0.5, lc.tensor{1, 2}, lc.tensor(4, {dtype = 'int64'}))
    assert.equal(3, #m)
    assert.is_true(close(1.5, m[1]))
    assert.is_true(close(5.5, m[2]))        -- a tensor of several values adds its sum
    assert.is_true(close(7, m:get(3)))
    assert.same({1.5, 5.5, 7}, m:values())
    m:reset()
    assert.same({0, 0, 0}, m:values())
  end)

  it('keeps tensors as tensors until read (no sync per add)', function()
    local m = d2l.Accumulator(1)
    local t = lc.tensor(2.0)
    m:add(t)
    assert.is_true(lc.is_tensor(m.dev[1]))
    assert.equal('float64', m.dev[1].dtype)
    t:fill_(100)                            -- the sum does not alias what was added
    m:add(lc.tensor(1.0))
    assert.is_true(close(3, m[1]))
  end)

  it('rejects a wrong count of values and bad indices', function()
    local m = d2l.Accumulator(2)
    assert.has_error(function() m:add(1) end, 'Accumulator:add: expected 2 values, got 1')
    assert.has_error(function() m:add(1, 'x') end)
    assert.has_error(function() return m[3] end)
    assert.has_error(function() d2l.Accumulator(0) end)
  end)
end)

describe('d2l.Timer', function()
  it('records intervals and sums them', function()
    local t = d2l.Timer()
    os.execute('sleep 0.05')
    local dt = t:stop()
    assert.is_true(dt >= 0.03 and dt < 2, 'interval ' .. dt)
    t:start()
    t:stop()
    assert.equal(2, #t.times)
    assert.is_true(close(t:sum(), t.times[1] + t.times[2]))
    assert.is_true(close(t:avg(), t:sum() / 2))
    assert.is_true(close(t:cumsum()[2], t:sum()))
  end)
end)

describe('d2l.accuracy', function()
  it('counts correct predictions from scores and from labels', function()
    local y_hat = lc.tensor{{0.1, 0.3, 0.6}, {0.5, 0.2, 0.3}, {0.2, 0.7, 0.1}, {0.9, 0.05, 0.05}}
    local y = lc.tensor({3, 1, 3, 2}, {dtype = 'int64'})
    assert.equal(2, d2l.accuracy(y_hat, y))
    local c = d2l.correct(y_hat, y)
    assert.is_true(lc.is_tensor(c))
    assert.equal(2, c:item())
    -- one predicted class per example
    assert.equal(3, d2l.accuracy(lc.tensor({3, 1, 2, 2}, {dtype = 'int64'}), y))
  end)

  it('says when predictions and labels do not match in number', function()
    assert.has_error(function() d2l.accuracy(lc.zeros(4, 3), lc.ones(3, {dtype = 'int64'})) end,
                     'accuracy: 4 predictions for 3 labels (y_hat (4, 3), y (3))')
  end)
end)

describe('d2l.evaluate_accuracy', function()
  it('evaluates a tiny net in eval mode without recording gradients', function()
    -- scores = x itself: the class is the larger coordinate
    local net = nn.Sequential{nn.Linear(2, 2), nn.Dropout(0.5)}
    lc.no_grad(function()
      net[1].weight:copy_(lc.eye(2))
      net[1].bias:zero_()
    end)
    local X = lc.tensor{{1, 0}, {0, 1}, {2, 1}, {1, 3}, {5, 4}}
    local y = lc.tensor({1, 2, 2, 2, 1}, {dtype = 'int64'})   -- the third is wrong
    local seen_grad = false
    local probe = nn.Module:extend 'Probe'
    function probe:forward(x) seen_grad = seen_grad or lc.is_grad_enabled() return x end
    net:add(probe())
    net:train()
    local acc = d2l.evaluate_accuracy(net, loader(X, y, 2))
    assert.is_true(close(0.8, acc))
    assert.is_false(net.training)          -- eval mode: dropout off, so the result is exact
    assert.is_false(seen_grad)
    assert.is_true(lc.is_grad_enabled())   -- restored afterwards
  end)
end)

describe('d2l.train_ch6', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('learns a separable problem, logs every epoch to the run folder, returns the metrics', function()
    lc.manual_seed(3)
    local X, y = blobs(256)
    local Xt, yt = blobs(64)
    local net = nn.Sequential{nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)}
    local r = run.start{settings = {lr = 0.2}, dir = tmp .. '/run', script = 'blobs'}
    local seen = {}
    local res = d2l.train_ch6(net, loader(X, y, 32), loader(Xt, yt, 32), 3, 0.2, 'cpu',
                              {run = r, quiet = true, on_epoch = function(row) seen[#seen + 1] = row end})
    assert.equal(3, res.epochs)
    assert.equal(3, #res.history)
    assert.equal(3, #seen)
    assert.is_true(res.test_acc > 0.95, 'test acc ' .. res.test_acc)
    assert.is_true(res.train_acc > 0.9, 'train acc ' .. res.train_acc)
    assert.is_true(res.history[3].train_loss < res.history[1].train_loss)
    assert.is_true(res.examples_per_sec > 0)
    assert.equal(tmp .. '/run', res.run_dir)
    -- the test accuracy it reports is the net's
    assert.is_true(close(res.test_acc, d2l.evaluate_accuracy(net, loader(Xt, yt, 64))))
    local rows = assert(run.read_csv(tmp .. '/run/metrics.csv'))
    assert.equal(3, #rows)
    assert.is_true(close(rows[3].test_acc, res.test_acc, 1e-5))
    assert.is_true(close(rows[2].train_loss, res.history[2].train_loss, 1e-5))
    local summary = assert(run.read_json(tmp .. '/run/summary.json'))
    assert.equal('finished', summary.status)
    assert.equal(3, summary.epochs)
    if H.plot_available() then assert.is_true(H.exists(tmp .. '/run/curves.png')) end
  end)

  it('initialises Linear and Conv2d weights with Xavier-uniform unless told not to', function()
    local net = nn.Sequential{nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 300)}
    lc.no_grad(function()
      for _, p in ipairs(net:parameters()) do p:fill_(7) end
    end)
    d2l.init_weights(net[3])
    local w = net[3].weight
    local bound = math.sqrt(6 / (64 + 300))
    assert.is_true(w:abs():max():item() <= bound + 1e-6)
    assert.is_true(w:abs():max():item() > 0.8 * bound)
    assert.equal(7, net[3].bias[1]:item())   -- biases keep theirs, as d2l's init_weights
    net:apply(d2l.init_weights)
    assert.is_true(net[1].weight:abs():max():item() <= math.sqrt(6 / (9 + 36)) + 1e-6)
  end)

  it('stops on "interrupted!", keeps the finished epochs and marks the run', function()
    lc.manual_seed(4)
    local X, y = blobs(64)
    local net = nn.Sequential{nn.Linear(2, 2)}
    local r = run.start{settings = {}, dir = tmp .. '/int', script = 'blobs'}
    local ok, err = pcall(d2l.train_ch6, net, loader(X, y, 16), loader(X, y, 16), 5, 0.1, 'cpu',
                          {run = r, quiet = true, on_epoch = function(row)
                            if row.epoch == 2 then error('interrupted!', 0) end
                          end})
    assert.is_false(ok)
    assert.equal('interrupted!', err)
    local rows = assert(run.read_csv(tmp .. '/int/metrics.csv'))
    assert.equal(2, #rows)
    assert.equal('interrupted', assert(run.read_json(tmp .. '/int/summary.json')).status)
  end)

  it('records a failure in the run and re-raises it', function()
    local net = nn.Sequential{nn.Linear(3, 2)}          -- the data has 2 features
    local X, y = blobs(8)
    local r = run.start{settings = {}, dir = tmp .. '/fail', script = 'blobs'}
    local ok, err = pcall(d2l.train_ch6, net, loader(X, y, 4), loader(X, y, 4), 1, 0.1, 'cpu',
                          {run = r, quiet = true})
    assert.is_false(ok)
    local summary = assert(run.read_json(tmp .. '/fail/summary.json'))
    assert.equal('failed', summary.status)
    assert.equal(tostring(err), summary.error)
  end)

  it('checks its arguments', function()
    local net = nn.Sequential{nn.Linear(2, 2)}
    local X, y = blobs(4)
    local it = loader(X, y, 2)
    assert.has_error(function() d2l.train_ch6(net, it, it, 0, 0.1, 'cpu', {run = false}) end,
                     'train_ch6: num_epochs must be a positive integer, got 0')
    assert.has_error(function() d2l.train_ch6(net, it, it, 1, -1, 'cpu', {run = false}) end,
                     'train_ch6: lr must be a positive number, got -1')
    assert.has_error(function() d2l.train_ch6({}, it, it, 1, 0.1, 'cpu', {run = false}) end)
  end)

  it('prints the progress line on a terminal and the closing lines of the book', function()
    local script = tmp .. '/train.lua'
    local f = assert(io.open(script, 'w'))
    f:write([[
local lc = require 'luacnn'
local nn, d2l = lc.nn, lc.d2l
lc.manual_seed(5)
local X = lc.randn(64, 2)
local y = X:narrow(2, 1, 1):reshape(-1):gt(0):long() + 1
local it = lc.data.DataLoader(lc.data.TensorDataset(X, y), {batch_size = 16})
d2l.train_ch6(nn.Sequential{nn.Linear(2, 2)}, it, it, 2, 0.5, 'cpu')
]])
    f:close()
    -- --run_dir reaches the run folder even though the script gives train_ch6 no settings
    local out, rc = H.luacnn(H.q(script) .. ' --run_dir ' .. H.q(tmp .. '/r1'), tmp, 'LUACNN_PROGRESS=1')
    assert.equal(0, rc, out)
    assert.matches('training on cpu', out, 1, true)
    assert.matches('\r\27%[Kepoch 2/2 [^\n\r]- 4/4  loss %d%.%d%d%d  train acc %d%.%d%d%d  test acc %d%.%d%d%d', out)
    assert.matches('\nloss %d%.%d%d%d, train acc %d%.%d%d%d, test acc %d%.%d%d%d\n', out)
    assert.matches('\n%d+%.%d examples/sec on cpu\n', out)
    assert.is_true(H.exists(tmp .. '/r1/metrics.csv'))
    -- plain lines when stdout is not a terminal
    out, rc = H.luacnn(H.q(script) .. ' --run_dir ' .. H.q(tmp .. '/r2'), tmp, 'LUACNN_PROGRESS=0')
    assert.equal(0, rc, out)
    assert.is_nil(out:find('\r', 1, true))
    assert.matches('\nepoch 1/2  loss %d%.%d%d%d  train acc %d%.%d%d%d  test acc %d%.%d%d%d  %(', out)
    assert.matches('\nepoch 2/2  loss', out)
  end)
end)

-- ---- the chapter's scripts ----

-- Runs `luacnn scripts/NAME.lua ARGS` (in a fresh folder, its run folder there too) and
-- returns the output after checking the exit status.
local function script(name, args, tmp)
  local out, rc = H.luacnn(H.q(H.root .. '/scripts/' .. name .. '.lua') .. ' ' .. (args or ''), tmp,
                           'LUACNN_DATA=' .. H.q(data_root()) .. ' LUACNN_PROGRESS=0')
  assert.equal(0, rc, name .. ' failed:\n' .. out)
  return out
end

local function has(out, text) assert.matches(text, out, 1, true) end

describe('chapter scripts', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('padding_stride.lua checks output shapes against the formula', function()
    local out = script('padding_stride', '', tmp)
    has(out, 'nn.Conv2d(1, 1, 3, {padding = 1})\n  comp_conv2d(conv2d, X):shape() = (8, 8)')
    has(out, 'comp_conv2d(conv2d, X):shape() = (4, 4)')
    has(out, '{padding = {0, 1}, stride = {3, 4}})\n  comp_conv2d(conv2d, X):shape() = (2, 2)')
    has(out, 'formula: floor((8 - 3 + 0 + 3) / 3) x floor((8 - 5 + 2 + 4) / 4) = (2, 2)')
    has(out, 'every shape matches the formula')
    -- another input size, same formula
    out = script('padding_stride', '--size 13', tmp)
    has(out, 'every shape matches the formula')
  end)

  it('channels.lua computes the chapter values and the 1x1 conv as a matmul', function()
    local out = script('channels', '', tmp)
    has(out, '[[ 56.,  72.],\n        [104., 120.]]')
    has(out, 'K:shape() = (3, 2, 2, 2)')
    has(out, '[[ 96., 128.],\n         [192., 224.]]')
    for _, c in ipairs{'corr2d_multi_in', 'corr2d_multi_in_out', 'F.conv2d agrees',
                       '1x1 conv equals the matmul', 'F.conv2d 1x1 equals the matmul'} do
      has(out, 'check ' .. c .. ': ok')
    end
  end)

  it('pooling.lua pools from scratch and with the layers, as the chapter prints', function()
    local out = script('pooling', '', tmp)
    has(out, '[[4., 5.],\n        [7., 8.]]')
    has(out, '[[2., 3.],\n        [5., 6.]]')
    has(out, 'tensor([[[[10.]]]])')
    has(out, '[[[[ 5.,  7.],\n          [13., 15.]]]]')
    has(out, '[[[[ 5.,  7.],\n          [13., 15.]],\n\n         [[ 6.,  8.],\n          [14., 16.]]]]')
    local checks = select(2, out:gsub('check [^\n]*: ok', ''))
    assert.equal(8, checks)
  end)

  -- The training scripts, with two to four batches each on the CPU (the nets for 224x224
  -- inputs cost seconds per batch there).
  local training = {
    {'lenet', '--subset 256 --batch_size 64 --epochs 2', {'Conv2d     (1, 6, 28, 28)', 'total                       61,706'}},
    {'batchnorm', '--subset 256 --batch_size 64 --epochs 1', {'BatchNorm', 'net[2] gamma: tensor'}},
    {'batchnorm', '--impl builtin --subset 256 --batch_size 64 --epochs 1', {'BatchNorm1d', 'net[2] gamma: tensor'}},
    {'alexnet', '--subset 8 --batch_size 4 --epochs 1', {'Conv2d     (1, 96, 54, 54)       11,712', '46,764,746'}},
    {'vgg', '--subset 8 --batch_size 4 --epochs 1', {'(1, 128, 7, 7)'}},
    {'nin', '--subset 8 --batch_size 4 --epochs 1', {'AdaptiveAvgPool2d  (1, 10, 1, 1)'}},
    {'googlenet', '--subset 8 --batch_size 4 --epochs 1', {'(1, 832, 3, 3)', '(1, 1024)'}},
    {'resnet', '--subset 8 --batch_size 4 --epochs 1', {'(1, 512, 3, 3)', '11,178,378'}},
  }
  for _, case in ipairs(training) do
    local name, args, expect = case[1], case[2], case[3]
    it(name .. '.lua --summary prints the shape table and exits without training', function()
      local out = script(name, args .. ' --summary --device cpu', tmp)
      for _, e in ipairs(expect) do
        if not e:find('gamma', 1, true) then has(out, e) end
      end
      assert.is_nil(out:find('training on', 1, true), out)
      assert.is_false(H.exists(tmp .. '/runs'), 'a run folder was made')
    end)
    it(name .. '.lua ' .. args .. ' trains and prints the closing lines', function()
      local why = data_missing()
      if why then return skip_loudly(why) end
      local rd = tmp .. '/run'
      local out = script(name, args .. ' --run_dir ' .. H.q(rd) .. ' --device cpu', tmp)
      for _, e in ipairs(expect) do
        if e:find('gamma', 1, true) then has(out, e) end     -- the table is --summary's now
      end
      assert.is_nil(out:find('total  ', 1, true), 'the shape table is printed only by --summary')
      has(out, 'training on cpu')
      assert.matches('\nloss %d+%.%d%d%d, train acc %d%.%d%d%d, test acc %d%.%d%d%d\n', out)  -- an unseeded 8-image run's loss can pass 10
      assert.matches('\n%d+%.%d examples/sec on cpu\n', out)
      local rows = assert(run.read_csv(rd .. '/metrics.csv'))
      assert.is_true(#rows >= 1)
      assert.is_true(rows[#rows].train_loss == rows[#rows].train_loss, 'train loss is nan')
      assert.equal('finished', assert(run.read_json(rd .. '/summary.json')).status)
    end)
  end
end)
