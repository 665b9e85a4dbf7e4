-- Pooling (d2l 6.5): max and average pooling from scratch, then nn.MaxPool2d with its
-- default stride, with padding and stride, with a rectangular window, and over several
-- channels (pooling keeps the channels apart). Every result is checked against the values
-- the chapter prints.
local lc = require 'luacnn'
local nn = lc.nn

local args = lc.args{
  'Max and average pooling from scratch, then the pooling layers with padding and stride.',
  seed = 0,
}

local function check(what, got, want)
  if tostring(got:shape()) ~= tostring(want:shape()) then
    error(string.format('%s: shape %s, expected %s', what, tostring(got:shape()),
                        tostring(want:shape())), 2)
  end
  local diff = (got:double() - want:double()):abs():max():item()
  if diff > 1e-6 then
    error(string.format('%s: differs from the expected values by %g', what, diff), 2)
  end
  print(string.format('check %s: ok', what))
end

-- pool2d from scratch: each output is the max (or mean) of a p_h x p_w window, stride 1.
local function pool2d(X, pool_size, mode)
  mode = mode or 'max'
  local p_h, p_w = pool_size[1], pool_size[2]
  local Y = lc.zeros(X:size(1) - p_h + 1, X:size(2) - p_w + 1)
  for i = 1, Y:size(1) do
    for j = 1, Y:size(2) do
      local window = X[{{i, i + p_h - 1}, {j, j + p_w - 1}}]
      if mode == 'max' then
        Y[{i, j}] = window:max()
      elseif mode == 'avg' then
        Y[{i, j}] = window:mean()
      else
        error("pool2d: mode must be 'max' or 'avg', got " .. tostring(mode))
      end
    end
  end
  return Y
end

local X = lc.tensor{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}}
print("pool2d(X, {2, 2}) -- max")
local Y = pool2d(X, {2, 2})
print(Y)
check('max pooling from scratch', Y, lc.tensor{{4, 5}, {7, 8}})

print("\npool2d(X, {2, 2}, 'avg')")
Y = pool2d(X, {2, 2}, 'avg')
print(Y)
check('average pooling from scratch', Y, lc.tensor{{2, 3}, {5, 6}})

print('\nPadding and stride: X = lc.arange(16):reshape(1, 1, 4, 4)')
X = lc.arange(16, {dtype = 'float32'}):reshape(1, 1, 4, 4)
print(X)

print('\nnn.MaxPool2d(3) -- the stride defaults to the window: one 3x3 window fits')
local pool = nn.MaxPool2d(3)
Y = pool(X)
print(Y)
check('MaxPool2d(3)', Y, lc.tensor{{{{10}}}})

print('\nnn.MaxPool2d(3, {padding = 1, stride = 2})')
pool = nn.MaxPool2d(3, {padding = 1, stride = 2})
Y = pool(X)
print(Y)
check('MaxPool2d(3, padding 1, stride 2)', Y, lc.tensor{{{{5, 7}, {13, 15}}}})

print('\nnn.MaxPool2d({2, 3}, {stride = {2, 3}, padding = {0, 1}})')
pool = nn.MaxPool2d({2, 3}, {stride = {2, 3}, padding = {0, 1}})
Y = pool(X)
print(Y)
check('MaxPool2d((2, 3), stride (2, 3), padding (0, 1))', Y, lc.tensor{{{{5, 7}, {13, 15}}}})

-- the window of the reference notes: padding (1, 1) adds a row above and below
print('\nnn.MaxPool2d({2, 3}, {padding = {1, 1}, stride = {2, 3}}) -- as in the notes')
pool = nn.MaxPool2d({2, 3}, {padding = {1, 1}, stride = {2, 3}})
Y = pool(X)
print(Y)
check('MaxPool2d((2, 3), padding (1, 1), stride (2, 3))', Y,
      lc.tensor{{{{1, 3}, {9, 11}, {13, 15}}}})

print('\nAverage pooling with the same window: nn.AvgPool2d(3, {padding = 1, stride = 2})')
pool = nn.AvgPool2d(3, {padding = 1, stride = 2})
Y = pool(X)
print(Y)
-- padding counts as zeros in the mean (count_include_pad, PyTorch's default)
check('AvgPool2d(3, padding 1, stride 2)', Y,
      lc.tensor{{{{(0 + 1 + 4 + 5) / 9, (1 + 2 + 3 + 5 + 6 + 7) / 9},
                   {(4 + 5 + 8 + 9 + 12 + 13) / 9, (5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15) / 9}}}})

print('\nMultiple channels: X = lc.cat({X, X + 1}, 2)')
X = lc.cat({X, X + 1}, 2)
print(X)
pool = nn.MaxPool2d(3, {padding = 1, stride = 2})
Y = pool(X)
print('nn.MaxPool2d(3, {padding = 1, stride = 2}) keeps the 2 channels:')
print(Y)
check('MaxPool2d over 2 channels', Y, lc.tensor{{{{5, 7}, {13, 15}}, {{6, 8}, {14, 16}}}})
