-- VGG-11 (d2l 7.2) with a quarter of the channels, as the chapter trains it on Fashion-MNIST
-- (224x224, 1 channel): five VGG blocks of 3x3 convolutions and a 2x2 max pool, then the
-- dense layers.
--   local net = dofile 'examples/vgg_net.lua'
-- Options (loadfile(path)(opts)): ratio (4: channels divided by it; 1 gives VGG-11),
-- conv_arch ({{1, 64}, {1, 128}, {2, 256}, {2, 512}, {2, 512}}), in_channels, num_classes.
local nn = require('luacnn').nn
local opts = ...
if type(opts) ~= 'table' then opts = {} end
local ratio = opts.ratio or 4

-- num_convs 3x3 convolutions (padding 1 keeps the size), each with ReLU, then a max pool
-- that halves height and width.
local function vgg_block(num_convs, in_channels, out_channels)
  local layers = {}
  for _ = 1, num_convs do
    layers[#layers + 1] = nn.Conv2d(in_channels, out_channels, 3, {padding = 1})
    layers[#layers + 1] = nn.ReLU()
    in_channels = out_channels
  end
  layers[#layers + 1] = nn.MaxPool2d(2, {stride = 2})
  return nn.Sequential(layers)
end

local function vgg(conv_arch, in_channels, num_classes)
  local blocks = {}
  local out_channels
  for _, arch in ipairs(conv_arch) do
    out_channels = arch[2]
    blocks[#blocks + 1] = vgg_block(arch[1], in_channels, out_channels)
    in_channels = out_channels
  end
  local layers = {}
  for _, b in ipairs(blocks) do layers[#layers + 1] = b end
  for _, m in ipairs{
    nn.Flatten(),
    -- five halvings take 224 down to 7
    nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
    nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
    nn.Linear(4096, num_classes),
  } do layers[#layers + 1] = m end
  return nn.Sequential(layers)
end

local conv_arch = opts.conv_arch or {{1, 64}, {1, 128}, {2, 256}, {2, 512}, {2, 512}}
local small = {}
for i, pair in ipairs(conv_arch) do small[i] = {pair[1], pair[2] // ratio} end

return vgg(small, opts.in_channels or 1, opts.num_classes or 10)
