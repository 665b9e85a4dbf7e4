-- Network in Network on Fashion-MNIST resized to 224x224 (d2l 7.3).
-- The reference run (batch 128, lr 0.1, 10 epochs) printed
--   `loss 0.383, train acc 0.857, test acc 0.847`.
--   luacnn scripts/nin.lua                      the reference settings (meant for a GPU)
--   luacnn scripts/nin.lua --subset 256 --epochs 1 --batch_size 32   a quick check on a CPU
local lc = require 'luacnn'
local d2l = lc.d2l

local args = d2l.chapter_settings{
  description = 'Train NiN on Fashion-MNIST resized to 224, as d2l 7.3.',
  batch_size = 128, lr = 0.1, epochs = 10, resize = 224
}
local net = d2l.example_net('nin_net.lua')
return d2l.train_chapter_net(net, args)
