-- Batch normalisation (d2l 7.5): batch norm written from scratch with tensor operations
-- (autograd gives its backward), in LeNet after every convolution and dense layer, as the
-- reference program does; --impl builtin trains the same net with nn.BatchNorm2d/1d
-- (examples/lenet_bn_net.lua) instead. The reference run (batch 256, lr 1.0, 10 epochs)
-- printed `loss 0.251, train acc 0.908, test acc 0.883`.
--   luacnn scripts/batchnorm.lua --subset 2000 --epochs 1   a quick run
local lc = require 'luacnn'
local nn, d2l = lc.nn, lc.d2l

local args = lc.args{
  'LeNet with batch normalisation (from scratch or built in) on Fashion-MNIST, as d2l 7.5.',
  batch_size = {256, min = 1, help = 'examples per step'},
  lr = {1.0, positive = true, help = 'learning rate'},
  epochs = {10, min = 1, help = 'passes over the training set'},
  impl = {'scratch', choices = {'scratch', 'builtin'}, help = 'batch norm from scratch or nn.BatchNorm2d/1d'},
  device = d2l.device_setting(),
  subset = {0, min = 0, help = 'use only this many training images (and as many test images); 0 = all'},
  data = {type = 'string', help = 'folder with the Fashion-MNIST files (default: where `luacnn data list` finds it)'},
  summary = {false, help = "print every layer's output shape (the chapter's shape check) and exit"},
}

-- Normalise X with the batch's statistics while training (and move the running ones
-- towards them), with the running statistics at prediction time. As the book, the mode
-- is told by whether gradients are being recorded.
local function batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum)
  if not lc.is_grad_enabled() then
    local X_hat = (X - moving_mean) / (moving_var + eps):sqrt()
    return gamma * X_hat + beta, moving_mean, moving_var
  end
  local n = X:dim()
  assert(n == 2 or n == 4, 'batch_norm: expected a (N, C) or (N, C, H, W) input')
  -- over the batch for a dense layer; over the batch and every pixel for a convolution
  local dims = n == 2 and {1} or {1, 3, 4}
  local mean = X:mean(dims, {keepdim = true})
  local var = ((X - mean) ^ 2):mean(dims, {keepdim = true})
  local X_hat = (X - mean) / (var + eps):sqrt()
  local Y = gamma * X_hat + beta
  moving_mean = momentum * moving_mean + (1 - momentum) * mean:detach()
  moving_var = momentum * moving_var + (1 - momentum) * var:detach()
  return Y, moving_mean, moving_var
end

local BatchNorm = nn.Module:extend 'BatchNorm'

-- num_dims: 2 after a dense layer, 4 after a convolution.
function BatchNorm:init(num_features, num_dims)
  local shape = num_dims == 2 and {1, num_features} or {1, num_features, 1, 1}
  -- the scale and shift are learned; the moving statistics are buffers (they follow the
  -- net to its device and into its state_dict, but get no gradient)
  self.gamma = nn.Parameter(lc.ones(shape))
  self.beta = nn.Parameter(lc.zeros(shape))
  self:register_buffer('moving_mean', lc.zeros(shape))
  self:register_buffer('moving_var', lc.ones(shape))
end

function BatchNorm:forward(X)
  local Y
  Y, self.moving_mean, self.moving_var = batch_norm(X, self.gamma, self.beta, self.moving_mean,
                                                    self.moving_var, 1e-5, 0.9)
  return Y
end

local net
if args.impl == 'scratch' then
  net = nn.Sequential{
    nn.Conv2d(1, 6, 5), BatchNorm(6, 4), nn.Sigmoid(),
    nn.MaxPool2d(2, {stride = 2}),
    nn.Conv2d(6, 16, 5), BatchNorm(16, 4), nn.Sigmoid(),
    nn.MaxPool2d(2, {stride = 2}),
    nn.Flatten(),
    nn.Linear(16 * 4 * 4, 120), BatchNorm(120, 2), nn.Sigmoid(),
    nn.Linear(120, 84), BatchNorm(84, 2), nn.Sigmoid(),
    nn.Linear(84, 10),
  }
else
  local here = debug.getinfo(1, 'S').source:match('^@(.-)[^/]*$') or ''
  net = dofile(here .. '../examples/lenet_bn_net.lua')
end

d2l.summary_and_exit(net, args, {1, 1, 28, 28})

local device = d2l.device(args.device)
local train_iter, test_iter = d2l.load_data_fashion_mnist(args.batch_size, nil, {
  subset = args.subset > 0 and args.subset or nil, root = args.data, device = device})
local result = d2l.train_ch6(net, train_iter, test_iter, args.epochs, args.lr, device,
                             {settings = args})

-- the scale and shift the first batch-norm layer learned, as the chapter prints them
local bn = net[2]
local gamma = bn.gamma or bn.weight
local beta = bn.beta or bn.bias
print('net[2] gamma: ' .. tostring(gamma:detach():reshape(-1)))
print('net[2] beta:  ' .. tostring(beta:detach():reshape(-1)))
return result
