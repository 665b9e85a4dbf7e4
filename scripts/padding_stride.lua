-- Padding and stride (d2l 6.3): the output shape of a convolution, checked against the
-- chapter's formula
--   floor((n_h - k_h + p_h + s_h) / s_h) x floor((n_w - k_w + p_w + s_w) / s_w)
-- where p_h, p_w count the padding rows and columns of both sides together.
local lc = require 'luacnn'
local nn = lc.nn

local args = lc.args{
  'Output shapes of convolutions with padding and stride, against the formula.',
  size = {8, min = 3, help = 'height and width of the input X (at least 3: the 3x5 kernel with padding 1 fits)'},
  seed = 0,
}

local function pair(v) return type(v) == 'table' and v or {v, v} end

-- The chapter's helper: a batch and a channel dimension around X, and back.
local function comp_conv2d(conv2d, X)
  X = X:reshape(1, 1, X:size(1), X:size(2))
  local Y = conv2d(X)
  return Y:reshape(Y:size(3), Y:size(4))
end

local function formula(n, k, p, s)
  return (n - k + 2 * p + s) // s
end

local n = args.size
local X = lc.rand(n, n)
print(string.format('X = lc.rand(%d, %d)', n, n))
print('output shape = floor((n_h - k_h + p_h + s_h) / s_h) x floor((n_w - k_w + p_w + s_w) / s_w)')
print('  (p_h, p_w: padding rows and columns of both sides together)\n')

local cases = {
  {'nn.Conv2d(1, 1, 3, {padding = 1})', 3, 1, 1},
  {'nn.Conv2d(1, 1, {5, 3}, {padding = {2, 1}})', {5, 3}, {2, 1}, 1},
  {'nn.Conv2d(1, 1, 3, {padding = 1, stride = 2})', 3, 1, 2},
  {'nn.Conv2d(1, 1, {3, 5}, {padding = {0, 1}, stride = {3, 4}})', {3, 5}, {0, 1}, {3, 4}},
}

for _, c in ipairs(cases) do
  local text, k, p, s = c[1], pair(c[2]), pair(c[3]), pair(c[4])
  local conv2d = nn.Conv2d(1, 1, c[2], {padding = c[3], stride = c[4]})
  local shape = comp_conv2d(conv2d, X):shape()
  local want = {formula(n, k[1], p[1], s[1]), formula(n, k[2], p[2], s[2])}
  print(text)
  print(string.format('  comp_conv2d(conv2d, X):shape() = %s', tostring(shape)))
  print(string.format('  formula: floor((%d - %d + %d + %d) / %d) x floor((%d - %d + %d + %d) / %d) = (%d, %d)',
                      n, k[1], 2 * p[1], s[1], s[1], n, k[2], 2 * p[2], s[2], s[2], want[1], want[2]))
  if shape[1] ~= want[1] or shape[2] ~= want[2] then
    error(string.format('%s: output shape %s, the formula gives (%d, %d)', text, tostring(shape),
                        want[1], want[2]))
  end
end
print('\nevery shape matches the formula')
