-- GoogLeNet on Fashion-MNIST resized to 96x96 (d2l 7.4).
-- The reference run (batch 128, lr 0.05, 10 epochs) printed
--   `loss 0.284, train acc 0.891, test acc 0.884`.
--   luacnn scripts/googlenet.lua                      the reference settings (meant for a GPU)
--   luacnn scripts/googlenet.lua --subset 256 --epochs 1 --batch_size 32   a quick check on a CPU
local lc = require 'luacnn'
local d2l = lc.d2l

local args = d2l.chapter_settings{
  description = 'Train GoogLeNet on Fashion-MNIST resized to 96, as d2l 7.4.',
  batch_size = 128, lr = 0.05, epochs = 10, resize = 96
}
local net = d2l.example_net('googlenet_net.lua')
return d2l.train_chapter_net(net, args)
