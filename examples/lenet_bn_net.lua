-- LeNet with batch normalisation (d2l 7.5), the concise version with the library's layers:
-- BatchNorm2d after each convolution and BatchNorm1d after each dense layer (the reference
-- notes put BatchNorm2d there, which PyTorch rejects for (N, C) inputs; the book uses 1d).
-- Max pooling as in the reference notes, whose run gave the chapter's figures (the book's
-- version averages). 28x28 inputs.
--   local net = dofile 'examples/lenet_bn_net.lua'
local nn = require('luacnn').nn

return nn.Sequential{
  nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(),
  nn.MaxPool2d(2, {stride = 2}),
  nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(),
  nn.MaxPool2d(2, {stride = 2}),
  nn.Flatten(),
  nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
  nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
  nn.Linear(84, 10),
}
