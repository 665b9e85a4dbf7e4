-- GoogLeNet on Fashion-MNIST resized to 96x96 (d2l 7.4).
-- The reference run (batch 128, lr 0.05, 10 epochs) printed
--   `loss 0.284, train acc 0.891, test acc 0.884`.
--   luacnn scripts/googlenet.lua                      the reference settings (meant for a GPU)
--   luacnn scripts/googlenet.lua --subset 256 --epochs 1 --batch_size 32   a quick check on a CPU
local lc = require 'luacnn'
local d2l = lc.d2l

local args = lc.args{
  'Train GoogLeNet on Fashion-MNIST resized to 96, as d2l 7.4.',
  batch_size = 128,
  lr = 0.05,
  epochs = 10,
  resize = {96, help = 'image height and width the net sees'},
  device = {'auto', help = "'auto' (a GPU when there is one), 'cpu', 'cuda:0', ..."},
  subset = {0, help = 'use only this many training images (and as many test images); 0 = all'},
  data = {type = 'string', help = 'folder with the Fashion-MNIST files (default: $LUACNN_DATA/fashion-mnist)'},
  summary = {true, help = "print every layer's output shape first (the chapter's shape check)"},
}

local here = debug.getinfo(1, 'S').source:match('^@(.-)[^/]*$') or ''
local net = dofile(here .. '../examples/googlenet_net.lua')

if args.summary then net:summary{1, 1, args.resize, args.resize} end

local device = d2l.device(args.device)
local train_iter, test_iter = d2l.load_data_fashion_mnist(args.batch_size,
  args.resize ~= 28 and args.resize or nil,
  {subset = args.subset > 0 and args.subset or nil, root = args.data, device = device})
return d2l.train_ch6(net, train_iter, test_iter, args.epochs, args.lr, device, {settings = args})
