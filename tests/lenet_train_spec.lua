-- The CI-sized training test on real data: LeNet trained by d2l.train_ch6 for one epoch on
-- 8,000 Fashion-MNIST training images must beat 60% accuracy on 2,000 test images (chance
-- is 10%), so a broken gradient, loss, optimizer step or data pipeline cannot pass.
-- About 10 s on 2 cores. Skips loudly when the data is absent.
--
-- The net is the chapter's LeNet with ReLU in place of the sigmoid and SGD with momentum:
-- the sigmoid LeNet with plain SGD needs a few hundred steps before it starts to learn at
-- all (PyTorch behaves the same), too many for a quick test.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local lc = require 'luacnn'
local nn, d2l = lc.nn, lc.d2l

local TRAIN, TEST = 8000, 2000

local function data_root()
  return (os.getenv('LUACNN_DATA') or (H.root .. '/../shared/data')) .. '/fashion-mnist'
end

local function data_missing()
  for _, f in ipairs{'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
                     't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'} do
    if not H.exists(data_root() .. '/' .. f) then return 'no Fashion-MNIST data at ' .. data_root() end
  end
  return nil
end

local function lenet()
  return nn.Sequential{
    nn.Reshape(-1, 1, 28, 28),
    nn.Conv2d(1, 6, 5, {padding = 2}), nn.ReLU(), nn.AvgPool2d(2, {stride = 2}),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2, {stride = 2}),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
    nn.Linear(120, 84), nn.ReLU(),
    nn.Linear(84, 10),
  }
end

describe('LeNet on real Fashion-MNIST (CI-sized)', function()
  it(string.format('beats 60%% test accuracy after one epoch on %d images', TRAIN), function()
    local why = data_missing()
    if why then
      io.stderr:write('\n*** SKIPPED: ', why, ' -- the real-data training test did not run. ',
                      'Set LUACNN_DATA or run `luacnn data fetch fashion-mnist`. ***\n')
      pending(why)
      return
    end
    lc.manual_seed(2)
    local train_iter, test_iter = lc.data.fashion_mnist{
      batch_size = 32, root = data_root(), subset = {train = TRAIN, test = TEST}}
    assert.equal(TRAIN // 32, #train_iter)
    local net = lenet()
    local optimizer = lc.optim.SGD(net:parameters(), {lr = 0.05, momentum = 0.9})
    local t0 = d2l.now()
    local res = d2l.train_ch6(net, train_iter, test_iter, 1, 0.05, 'cpu',
                              {optimizer = optimizer, run = false, quiet = true})
    local seconds = d2l.now() - t0
    io.stderr:write(string.format('\nLeNet, 1 epoch on %d images: loss %.3f, train acc %.3f, ' ..
                                  'test acc %.3f (%d images), %.1f examples/sec, %.1f s\n',
                                  TRAIN, res.train_loss, res.train_acc, res.test_acc, TEST,
                                  res.examples_per_sec, seconds))
    assert.is_true(res.test_acc > 0.6, string.format('test accuracy %.3f, expected > 0.6', res.test_acc))
    -- the loss fell well below chance's log(10) = 2.303
    assert.is_true(res.train_loss < 1.6, string.format('train loss %.3f', res.train_loss))
    -- evaluation is deterministic: evaluating again gives the same accuracy
    assert.is_true(math.abs(d2l.evaluate_accuracy(net, test_iter) - res.test_acc) < 1e-9)
  end)
end)
