-- LeNet on Fashion-MNIST (d2l 6.6), the reference program: sigmoid activations, average
-- pooling, Xavier-uniform weights, plain SGD. The reference run (batch 256, lr 0.5, 20
-- epochs) printed `loss 0.417, train acc 0.847, test acc 0.836`.
--   luacnn scripts/lenet.lua                       the reference settings
--   luacnn scripts/lenet.lua --epochs 2 --subset 5000   a quick run
local lc = require 'luacnn'
local d2l = lc.d2l

local args = lc.args{
  'Train LeNet (sigmoid, average pooling) on Fashion-MNIST, as d2l 6.6.',
  batch_size = 256,
  lr = 0.5,
  epochs = 20,
  device = {'auto', help = "'auto' (a GPU when there is one), 'cpu', 'cuda:0', ..."},
  subset = {0, help = 'use only this many training images (and as many test images); 0 = all'},
  data = {type = 'string', help = 'folder with the Fashion-MNIST files (default: $LUACNN_DATA/fashion-mnist)'},
  summary = {true, help = "print every layer's output shape first (the chapter's shape check)"},
}

local here = debug.getinfo(1, 'S').source:match('^@(.-)[^/]*$') or ''
local net = dofile(here .. '../examples/lenet_net.lua')

if args.summary then
  -- the chapter's loop over the layers, printing each output shape, in one call
  net:summary{1, 1, 28, 28}
end

local device = d2l.device(args.device)
local train_iter, test_iter = d2l.load_data_fashion_mnist(args.batch_size, nil, {
  subset = args.subset > 0 and args.subset or nil, root = args.data, device = device})
return d2l.train_ch6(net, train_iter, test_iter, args.epochs, args.lr, device, {settings = args})
