-- GoogLeNet (d2l 7.4) for 1-channel images (96x96 in the chapter): a stem, then nine
-- Inception blocks whose four parallel paths are concatenated along the channels, global
-- average pooling and one dense layer.
--   local net = dofile 'examples/googlenet_net.lua'
--   net:summary{1, 1, 96, 96}
-- Options (loadfile(path)(opts)): in_channels (1), num_classes (10).
-- The Inception class is also the file's second result.
local lc = require 'luacnn'
local nn = lc.nn
local opts = ...
if type(opts) ~= 'table' then opts = {} end

local Inception = nn.Module:extend 'Inception'

-- c1..c4: output channels of the four paths (c2 and c3 are {reduce, out} pairs).
function Inception:init(in_channels, c1, c2, c3, c4)
  -- path 1: a 1x1 convolution
  self.p1_1 = nn.Conv2d(in_channels, c1, 1)
  -- path 2: a 1x1 convolution, then a 3x3 one
  self.p2_1 = nn.Conv2d(in_channels, c2[1], 1)
  self.p2_2 = nn.Conv2d(c2[1], c2[2], 3, {padding = 1})
  -- path 3: a 1x1 convolution, then a 5x5 one
  self.p3_1 = nn.Conv2d(in_channels, c3[1], 1)
  self.p3_2 = nn.Conv2d(c3[1], c3[2], 5, {padding = 2})
  -- path 4: a 3x3 max pool, then a 1x1 convolution
  self.p4_1 = nn.MaxPool2d(3, {stride = 1, padding = 1})
  self.p4_2 = nn.Conv2d(in_channels, c4, 1)
end

function Inception:forward(x)
  local p1 = lc.relu(self.p1_1(x))
  local p2 = lc.relu(self.p2_2(lc.relu(self.p2_1(x))))
  local p3 = lc.relu(self.p3_2(lc.relu(self.p3_1(x))))
  local p4 = lc.relu(self.p4_2(self.p4_1(x)))
  -- the paths keep height and width: join them along the channels
  return lc.cat({p1, p2, p3, p4}, 2)
end

local b1 = nn.Sequential{
  nn.Conv2d(opts.in_channels or 1, 64, 7, {stride = 2, padding = 3}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2, padding = 1}),
}
local b2 = nn.Sequential{
  nn.Conv2d(64, 64, 1), nn.ReLU(),
  nn.Conv2d(64, 192, 3, {padding = 1}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2, padding = 1}),
}
local b3 = nn.Sequential{
  Inception(192, 64, {96, 128}, {16, 32}, 32),
  Inception(256, 128, {128, 192}, {32, 96}, 64),
  nn.MaxPool2d(3, {stride = 2, padding = 1}),
}
local b4 = nn.Sequential{
  Inception(480, 192, {96, 208}, {16, 48}, 64),
  Inception(512, 160, {112, 224}, {24, 64}, 64),
  Inception(512, 128, {128, 256}, {24, 64}, 64),
  Inception(512, 112, {144, 288}, {32, 64}, 64),
  Inception(528, 256, {160, 320}, {32, 128}, 128),
  nn.MaxPool2d(3, {stride = 2, padding = 1}),
}
local b5 = nn.Sequential{
  Inception(832, 256, {160, 320}, {32, 128}, 128),
  Inception(832, 384, {192, 384}, {48, 128}, 128),
  nn.AdaptiveAvgPool2d({1, 1}), nn.Flatten(),
}

return nn.Sequential{b1, b2, b3, b4, b5, nn.Linear(1024, opts.num_classes or 10)}, Inception
