-- Convolution from scratch (d2l 6.2): the cross-correlation with Lua loops, the
-- vertical-edge detector, and learning the kernel back from X and Y by gradient descent.
local lc = require 'luacnn'
local nn = lc.nn

local args = lc.args{
  'Cross-correlation from scratch, edge detection, and learning a kernel with autograd.',
  lr = {3e-2, positive = true, help = 'learning rate of the kernel-learning loop'},
  steps = {20, min = 0, help = 'gradient steps when learning the kernel back'},
  seed = 0,
}

-- Y[i, j] = sum of the window of X at (i, j) times K, every index 1-based.
local function corr2d(X, K)
  local h, w = K:size(1), K:size(2)
  local Y = lc.zeros(X:size(1) - h + 1, X:size(2) - w + 1)
  for i = 1, Y:size(1) do
    for j = 1, Y:size(2) do
      Y[{i, j}] = (X[{{i, i + h - 1}, {j, j + w - 1}}] * K):sum()
    end
  end
  return Y
end

print('corr2d of the 3x3 example (expect 19 25 / 37 43):')
local X0 = lc.arange(9, {dtype = 'float32'}):reshape(3, 3)
print(corr2d(X0, lc.tensor{{0, 1}, {2, 3}}))

-- A 6x8 image: white (1) left and right, a black (0) band in columns 3..6.
local X = lc.ones(6, 8)
X[{{}, {3, 6}}] = 0
print('\nX:')
print(X)

local K = lc.tensor{{1, -1}}
local Y = corr2d(X, K)
print('\nY = corr2d(X, K): 1 marks a white-to-black edge, -1 black-to-white')
print(Y)

print('\nThe same kernel on the transposed image finds no vertical edges:')
print(corr2d(X:t(), K))

-- Learn K back from (X, Y) with a 1x2 convolution layer, as the chapter does.
print('\nLearning the kernel with nn.Conv2d(1, 1, {1, 2}, {bias = false}):')
local conv = nn.Conv2d(1, 1, {1, 2}, {bias = false})
local Xb, Yb = X:reshape(1, 1, 6, 8), Y:reshape(1, 1, 6, 7)
local last_loss
for step = 1, args.steps do
  local l = (conv(Xb) - Yb) ^ 2
  conv:zero_grad()
  l:sum():backward()
  lc.no_grad(function() conv.weight:sub_(conv.weight.grad * args.lr) end)
  last_loss = l:sum():item()
  if step % 2 == 0 then print(string.format('epoch %d, loss %.3f', step, last_loss)) end
end
print('learned kernel:')
print(conv.weight:detach():reshape(1, 2))

-- The same descent through the from-scratch corr2d: autograd follows the slice writes.
print('\nLearning the kernel through the Lua-loop corr2d:')
local W = lc.rand(1, 2, {requires_grad = true})
for step = 1, args.steps do
  local l = ((corr2d(X, W) - Y) ^ 2):sum()
  W.grad = nil
  l:backward()
  lc.no_grad(function() W:sub_(W.grad * args.lr) end)
  if step % 2 == 0 then print(string.format('epoch %d, loss %.3f', step, l:item())) end
end
print('learned kernel:')
print(W:detach())
return last_loss
