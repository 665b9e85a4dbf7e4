-- LeNet on Fashion-MNIST (d2l 6.6), the reference program: sigmoid activations, average
-- pooling, Xavier-uniform weights, plain SGD. The reference run (batch 256, lr 0.5, 20
-- epochs) printed `loss 0.417, train acc 0.847, test acc 0.836`.
--   luacnn scripts/lenet.lua                       the reference settings
--   luacnn scripts/lenet.lua --epochs 2 --subset 5000   a quick run
local lc = require 'luacnn'
local d2l = lc.d2l

local args = d2l.chapter_settings{
  description = 'Train LeNet (sigmoid, average pooling) on Fashion-MNIST, as d2l 6.6.',
  batch_size = 256, lr = 0.5, epochs = 20,
}
local net = d2l.example_net('lenet_net.lua')
return d2l.train_chapter_net(net, args)
