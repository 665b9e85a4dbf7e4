-- ResNet-18 on Fashion-MNIST resized to 96x96 (d2l 7.6).
-- The reference run (batch 256, lr 0.05, 10 epochs) printed
--   `loss 0.014, train acc 0.996, test acc 0.914`.
--   luacnn scripts/resnet.lua                      the reference settings (meant for a GPU)
--   luacnn scripts/resnet.lua --subset 256 --epochs 1 --batch_size 32   a quick check on a CPU
local lc = require 'luacnn'
local d2l = lc.d2l

local args = d2l.chapter_settings{
  description = 'Train ResNet-18 on Fashion-MNIST resized to 96, as d2l 7.6.',
  batch_size = 256, lr = 0.05, epochs = 10, resize = 96
}
local net = d2l.example_net('resnet18_net.lua')
return d2l.train_chapter_net(net, args)
