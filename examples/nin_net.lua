-- Network in Network (d2l 7.3) for 1-channel 224x224 images: NiN blocks (a convolution and
-- two 1x1 convolutions, each with ReLU) and, instead of dense layers, a last block with
-- one channel per class averaged over the whole image.
--   local net = dofile 'examples/nin_net.lua'
-- Options (loadfile(path)(opts)): in_channels (1), num_classes (10).
local nn = require('luacnn').nn
local opts = ...
if type(opts) ~= 'table' then opts = {} end
local cin, classes = opts.in_channels or 1, opts.num_classes or 10

-- The 1x1 convolutions act as a dense layer at every pixel.
local function nin_block(in_channels, out_channels, kernel_size, stride, padding)
  return nn.Sequential{
    nn.Conv2d(in_channels, out_channels, kernel_size, {stride = stride, padding = padding}),
    nn.ReLU(),
    nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
    nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
  }
end

return nn.Sequential{
  nin_block(cin, 96, 11, 4, 0),
  nn.MaxPool2d(3, {stride = 2}),
  nin_block(96, 256, 5, 1, 2),
  nn.MaxPool2d(3, {stride = 2}),
  nin_block(256, 384, 3, 1, 1),
  nn.MaxPool2d(3, {stride = 2}),
  nn.Dropout(0.5),
  -- one output channel per class
  nin_block(384, classes, 3, 1, 1),
  nn.AdaptiveAvgPool2d({1, 1}),
  -- (batch, classes, 1, 1) -> (batch, classes)
  nn.Flatten(),
}
