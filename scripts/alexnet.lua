-- AlexNet on Fashion-MNIST resized to 224x224 (d2l 7.1): ReLU, max pooling, dropout.
-- The reference run (batch 128, lr 0.01, 10 epochs) printed
--   `loss 0.328, train acc 0.881, test acc 0.881`.
--   luacnn scripts/alexnet.lua                      the reference settings (meant for a GPU)
--   luacnn scripts/alexnet.lua --subset 256 --epochs 1 --batch_size 32   a quick check on a CPU
local lc = require 'luacnn'
local d2l = lc.d2l

local args = d2l.chapter_settings{
  description = 'Train AlexNet on Fashion-MNIST resized to 224, as d2l 7.1.',
  batch_size = 128, lr = 0.01, epochs = 10, resize = 224
}
local net = d2l.example_net('alexnet_net.lua')
return d2l.train_chapter_net(net, args)
