-- LeNet-5 as the chapter writes it (d2l 6.6): sigmoid activations and average pooling,
-- for 28x28 Fashion-MNIST images (any (N, 784) or (N, 1, 28, 28) input).
--   local net = dofile 'examples/lenet_net.lua'
--   net:summary{1, 1, 28, 28}
local nn = require('luacnn').nn

return nn.Sequential{
  nn.Reshape(-1, 1, 28, 28),
  nn.Conv2d(1, 6, 5, {padding = 2}), nn.Sigmoid(),
  nn.AvgPool2d(2, {stride = 2}),
  nn.Conv2d(6, 16, 5), nn.Sigmoid(),
  nn.AvgPool2d(2, {stride = 2}),
  nn.Flatten(),
  nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
  nn.Linear(120, 84), nn.Sigmoid(),
  nn.Linear(84, 10),
}
