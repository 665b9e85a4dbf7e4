-- ResNet-18 (d2l 7.6): a stem, four stages of two residual blocks each (the first block of
-- stages 2..4 halves height and width and doubles the channels, with a 1x1 convolution on
-- the shortcut), global average pooling and one dense layer. 96x96 inputs in the chapter.
--   local net = dofile 'examples/resnet18_net.lua'
--   local net = loadfile('examples/resnet18_net.lua'){in_channels = 3, num_classes = 176}
-- Options: in_channels (1), num_classes (10). The Residual class is the second result.
local lc = require 'luacnn'
local nn = lc.nn
local opts = ...
if type(opts) ~= 'table' then opts = {} end

local Residual = nn.Module:extend 'Residual'

-- Two 3x3 convolutions with batch norm; the input is added back before the last ReLU.
-- use_1x1conv: a 1x1 convolution on the shortcut, to match a change of channels or stride.
function Residual:init(input_channels, num_channels, o)
  o = o or {}
  local stride = o.stride or 1
  self.conv1 = nn.Conv2d(input_channels, num_channels, 3, {padding = 1, stride = stride})
  self.conv2 = nn.Conv2d(num_channels, num_channels, 3, {padding = 1})
  if o.use_1x1conv then
    self.conv3 = nn.Conv2d(input_channels, num_channels, 1, {stride = stride})
  end
  self.bn1 = nn.BatchNorm2d(num_channels)
  self.bn2 = nn.BatchNorm2d(num_channels)
end

function Residual:forward(X)
  local Y = lc.relu(self.bn1(self.conv1(X)))
  Y = self.bn2(self.conv2(Y))
  if self.conv3 then X = self.conv3(X) end
  return lc.relu(Y + X)
end

-- A stage of num_residuals blocks; all but the first stage start by halving the size.
local function resnet_block(input_channels, num_channels, num_residuals, first_block)
  local blk = {}
  for i = 1, num_residuals do
    if i == 1 and not first_block then
      blk[#blk + 1] = Residual(input_channels, num_channels, {use_1x1conv = true, stride = 2})
    else
      blk[#blk + 1] = Residual(num_channels, num_channels)
    end
  end
  return nn.Sequential(blk)
end

local b1 = nn.Sequential{
  nn.Conv2d(opts.in_channels or 1, 64, 7, {stride = 2, padding = 3}),
  nn.BatchNorm2d(64), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2, padding = 1}),
}

return nn.Sequential{
  b1,
  resnet_block(64, 64, 2, true),
  resnet_block(64, 128, 2),
  resnet_block(128, 256, 2),
  resnet_block(256, 512, 2),
  nn.AdaptiveAvgPool2d({1, 1}),
  nn.Flatten(),
  nn.Linear(512, opts.num_classes or 10),
}, Residual
