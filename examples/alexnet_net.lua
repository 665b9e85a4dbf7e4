-- AlexNet (d2l 7.1) for 1-channel 224x224 Fashion-MNIST images: five convolutions with
-- ReLU and max pooling, then two dropout-regularised 4096-wide dense layers.
--   local net = dofile 'examples/alexnet_net.lua'
--   net:summary{1, 1, 224, 224}
-- Options (loadfile(path)(opts)): in_channels (1), num_classes (10).
local nn = require('luacnn').nn
local opts = ...
if type(opts) ~= 'table' then opts = {} end
local cin, classes = opts.in_channels or 1, opts.num_classes or 10

return nn.Sequential{
  -- a large 11x11 window with stride 4 brings 224x224 down fast; more channels than LeNet
  nn.Conv2d(cin, 96, 11, {stride = 4, padding = 1}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2}),
  -- smaller windows, padding keeps the size; more output channels
  nn.Conv2d(96, 256, 5, {padding = 2}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2}),
  -- three 3x3 convolutions in a row
  nn.Conv2d(256, 384, 3, {padding = 1}), nn.ReLU(),
  nn.Conv2d(384, 384, 3, {padding = 1}), nn.ReLU(),
  nn.Conv2d(384, 256, 3, {padding = 1}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2}),
  nn.Flatten(),
  -- dense layers many times wider than LeNet's, with dropout against overfitting
  nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(0.5),
  nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
  nn.Linear(4096, classes),
}
