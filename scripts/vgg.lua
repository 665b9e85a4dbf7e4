-- VGG-11 with a quarter of the channels on Fashion-MNIST resized to 224x224 (d2l 7.2).
-- The reference run (batch 128, lr 0.05, 10 epochs) printed
--   `loss 0.170, train acc 0.936, test acc 0.912`.
--   luacnn scripts/vgg.lua                      the reference settings (meant for a GPU)
--   luacnn scripts/vgg.lua --subset 256 --epochs 1 --batch_size 32   a quick check on a CPU
local lc = require 'luacnn'
local d2l = lc.d2l

local args = d2l.chapter_settings{
  description = 'Train VGG-11 (channels / 4) on Fashion-MNIST resized to 224, as d2l 7.2.',
  batch_size = 128, lr = 0.05, epochs = 10, resize = 224
}
local net = d2l.example_net('vgg_net.lua')
return d2l.train_chapter_net(net, args)
