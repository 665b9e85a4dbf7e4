-- Multiple input and output channels (d2l 6.4): cross-correlation over several input
-- channels, then several output channels, from scratch; and the 1x1 convolution, which is a
-- fully connected layer applied at every pixel: checked against a matrix product and
-- against the library's convolution.
local lc = require 'luacnn'

local args = lc.args{
  'Multi-input and multi-output cross-correlation from scratch; 1x1 convolution as a matmul.',
  seed = 0,
}

-- Stop with a message when a result differs from what the chapter (or a second way of
-- computing it) gives.
local function check(what, got, want, tol)
  local diff = (got:double() - want:double()):abs():max():item()
  if diff > (tol or 1e-6) then
    error(string.format('%s: differs from the expected values by %g', what, diff), 2)
  end
  print(string.format('check %s: ok (max difference %.1e)', what, diff))
end

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

-- One output channel: the 2-D cross-correlations of each input channel with its kernel
-- channel, summed over the channels.
local function corr2d_multi_in(X, K)
  local Y = corr2d(X[1], K[1])
  for c = 2, X:size(1) do Y = Y + corr2d(X[c], K[c]) end
  return Y
end

-- One output channel per kernel K[o], stacked along a new first dimension.
local function corr2d_multi_in_out(X, K)
  local outs = {}
  for o = 1, K:size(1) do outs[o] = corr2d_multi_in(X, K[o]) end
  return lc.stack(outs, 1)
end

-- A 1x1 convolution: every pixel's channels times a (c_o, c_i) matrix.
local function corr2d_multi_in_out_1x1(X, K)
  local c_i, h, w = X:size(1), X:size(2), X:size(3)
  local c_o = K:size(1)
  local Xm = X:reshape(c_i, h * w)
  local Km = K:reshape(c_o, c_i)
  return lc.matmul(Km, Xm):reshape(c_o, h, w)
end

print('Multiple input channels: X is (2, 3, 3), K is (2, 2, 2)')
local X = lc.tensor{{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}},
                    {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}
local K = lc.tensor{{{0, 1}, {2, 3}}, {{1, 2}, {3, 4}}}
local Y = corr2d_multi_in(X, K)
print(Y)
check('corr2d_multi_in', Y, lc.tensor{{56, 72}, {104, 120}})

print('\nMultiple output channels: K = stack{K, K + 1, K + 2}')
K = lc.stack({K, K + 1, K + 2}, 1)
print('K:shape() = ' .. tostring(K:shape()))
Y = corr2d_multi_in_out(X, K)
print(Y)
check('corr2d_multi_in_out', Y, lc.tensor{{{56, 72}, {104, 120}},
                                          {{76, 100}, {148, 172}},
                                          {{96, 128}, {192, 224}}})
-- the library's convolution computes the same thing (with a batch dimension)
check('F.conv2d agrees', lc.F.conv2d(X:reshape(1, 2, 3, 3), K):reshape(3, 2, 2), Y, 1e-5)

print('\n1x1 convolution: X is (3, 3, 3), K is (2, 3, 1, 1), both normal(0, 1)')
X = lc.randn(3, 3, 3)
K = lc.randn(2, 3, 1, 1)
local Y1 = corr2d_multi_in_out_1x1(X, K)
local Y2 = corr2d_multi_in_out(X, K)
print('Y1 = matmul(K:reshape(2, 3), X:reshape(3, 9)):reshape(2, 3, 3)')
print(Y1)
print(string.format('sum |Y1 - Y2| = %.2e', (Y1 - Y2):abs():sum():item()))
check('1x1 conv equals the matmul', Y1, Y2, 1e-5)
check('F.conv2d 1x1 equals the matmul', lc.F.conv2d(X:reshape(1, 3, 3, 3), K):reshape(2, 3, 3), Y1, 1e-5)
