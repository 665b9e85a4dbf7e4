-- The layers and losses: forward against values computed independently here (plain Lua
-- loops over the numbers), backward against finite differences in float64, PyTorch's
-- defaults and initialisation, and the error messages.
local lc = require 'luacnn'
local nn, F = lc.nn, lc.F
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')
local gc = dofile(dir .. 'helpers/gradcheck.lua')

local function f64(...) return lc.randn({...}, {dtype = 'float64'}) end

-- ---- references in plain Lua ----

-- A number or {h, w} -> {h, w}; the references read the options from here, never from the
-- layer, so a wrong default in a layer shows up.
local function pr(v, default)
  if v == nil then v = default end
  if type(v) == 'number' then return {v, v} end
  return v
end

-- Cross-correlation as PyTorch's conv2d, on nested tables x[n][c][h][w], w[o][c][kh][kw].
local function conv_ref(x, w, b, o)
  local sh, sw = o.stride[1], o.stride[2]
  local ph, pw = o.padding[1], o.padding[2]
  local dh, dw = o.dilation[1], o.dilation[2]
  local g = o.groups
  local N, C, H, W = #x, #x[1], #x[1][1], #x[1][1][1]
  local O, Cg, KH, KW = #w, #w[1], #w[1][1], #w[1][1][1]
  local OH = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
  local OW = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
  local out = {}
  for n = 1, N do
    out[n] = {}
    for oc = 1, O do
      out[n][oc] = {}
      local group = (oc - 1) // (O // g)
      for i = 1, OH do
        out[n][oc][i] = {}
        for j = 1, OW do
          local s = b and b[oc] or 0
          for c = 1, Cg do
            local ic = group * Cg + c
            for ki = 1, KH do
              for kj = 1, KW do
                local r = (i - 1) * sh - ph + (ki - 1) * dh + 1
                local q = (j - 1) * sw - pw + (kj - 1) * dw + 1
                if r >= 1 and r <= H and q >= 1 and q <= W then
                  s = s + x[n][ic][r][q] * w[oc][c][ki][kj]
                end
              end
            end
          end
          out[n][oc][i][j] = s
        end
      end
    end
  end
  return out
end

local function pool_size(n, k, s, p, d, ceil_mode)
  local span = n + 2 * p - d * (k - 1) - 1
  local out = ceil_mode and (-((-span) // s) + 1) or (span // s + 1)
  if ceil_mode and (out - 1) * s >= n + p then out = out - 1 end
  return out
end

-- Max and average pooling as PyTorch, on x[n][c][h][w].
local function pool_ref(x, kind, k, s, p, o)
  o = o or {}
  local d = o.dilation or {1, 1}
  local H, W = #x[1][1], #x[1][1][1]
  local OH = pool_size(H, k[1], s[1], p[1], d[1], o.ceil_mode)
  local OW = pool_size(W, k[2], s[2], p[2], d[2], o.ceil_mode)
  local out = {}
  for n = 1, #x do
    out[n] = {}
    for c = 1, #x[1] do
      out[n][c] = {}
      local plane = x[n][c]
      for i = 1, OH do
        out[n][c][i] = {}
        for j = 1, OW do
          local h0, w0 = (i - 1) * s[1] - p[1], (j - 1) * s[2] - p[2]   -- 0-based
          if kind == 'max' then
            local m = -math.huge
            for ki = 0, k[1] - 1 do
              for kj = 0, k[2] - 1 do
                local r, q = h0 + ki * d[1], w0 + kj * d[2]
                if r >= 0 and r < H and q >= 0 and q < W then m = math.max(m, plane[r + 1][q + 1]) end
              end
            end
            out[n][c][i][j] = m
          else
            local h1 = math.min(h0 + k[1], H + p[1])
            local w1 = math.min(w0 + k[2], W + p[2])
            local size = (h1 - h0) * (w1 - w0)
            local hs, ws = math.max(h0, 0), math.max(w0, 0)
            h1, w1 = math.min(h1, H), math.min(w1, W)
            local sum = 0
            for r = hs, h1 - 1 do for q = ws, w1 - 1 do sum = sum + plane[r + 1][q + 1] end end
            local div = o.divisor_override or (o.count_include_pad == false and (h1 - hs) * (w1 - ws) or size)
            out[n][c][i][j] = sum / div
          end
        end
      end
    end
  end
  return out
end

local function adaptive_ref(x, oh, ow)
  local H, W = #x[1][1], #x[1][1][1]
  local out = {}
  for n = 1, #x do
    out[n] = {}
    for c = 1, #x[1] do
      out[n][c] = {}
      for i = 0, oh - 1 do
        out[n][c][i + 1] = {}
        local h0, h1 = (i * H) // oh, -((-(i + 1) * H) // oh)
        for j = 0, ow - 1 do
          local w0, w1 = (j * W) // ow, -((-(j + 1) * W) // ow)
          local sum = 0
          for r = h0, h1 - 1 do for q = w0, w1 - 1 do sum = sum + x[n][c][r + 1][q + 1] end end
          out[n][c][i + 1][j + 1] = sum / ((h1 - h0) * (w1 - w0))
        end
      end
    end
  end
  return out
end

-- Per-channel mean and biased variance of x (N, C, ...) as Lua numbers.
local function channel_stats(x)
  local C = x:size(2)
  local flat = x:transpose(1, 2):contiguous():view(C, -1):totable()
  local means, vars = {}, {}
  for c = 1, C do
    local s, n = 0, #flat[c]
    for _, v in ipairs(flat[c]) do s = s + v end
    local m = s / n
    local q = 0
    for _, v in ipairs(flat[c]) do q = q + (v - m) ^ 2 end
    means[c], vars[c] = m, q / n
  end
  return means, vars, #flat[1]
end

local function log_softmax_rows(rows)
  local out = {}
  for i, r in ipairs(rows) do
    local m = -math.huge
    for _, v in ipairs(r) do m = math.max(m, v) end
    local s = 0
    for _, v in ipairs(r) do s = s + math.exp(v - m) end
    out[i] = {}
    for j, v in ipairs(r) do out[i][j] = v - m - math.log(s) end
  end
  return out
end

-- ---- convolution ----

describe('Conv2d', function()
  local cases = {
    {name = 'plain', cin = 2, cout = 3, k = {3, 3}, opts = {}, H = 5, W = 6},
    {name = 'padding and stride', cin = 2, cout = 2, k = {3, 3}, opts = {padding = 1, stride = 2}, H = 5, W = 5},
    {name = 'rectangular kernel, stride and padding', cin = 1, cout = 2, k = {2, 3},
     opts = {stride = {2, 1}, padding = {1, 0}}, H = 5, W = 4},
    {name = 'dilation', cin = 2, cout = 2, k = {3, 3}, opts = {dilation = 2, padding = 2}, H = 6, W = 5},
    {name = 'groups', cin = 4, cout = 6, k = {3, 3}, opts = {groups = 2, padding = 1}, H = 4, W = 4},
    {name = 'depthwise', cin = 3, cout = 3, k = {3, 3}, opts = {groups = 3}, H = 4, W = 5},
    {name = 'no bias, 1x1', cin = 3, cout = 2, k = {1, 1}, opts = {bias = false}, H = 3, W = 3},
  }
  for _, case in ipairs(cases) do
    it('matches the loop reference: ' .. case.name, function()
      lc.manual_seed(7)
      local conv = nn.Conv2d(case.cin, case.cout, case.k, case.opts):double()
      local x = f64(2, case.cin, case.H, case.W)
      local y = conv(x)
      local o = {stride = pr(case.opts.stride, 1), padding = pr(case.opts.padding, 0),
                 dilation = pr(case.opts.dilation, 1), groups = case.opts.groups or 1}
      local expected = conv_ref(x:totable(), conv.weight:totable(), conv.bias and conv.bias:totable(), o)
      check.close(y, expected, 1e-10)
    end)
    it('has gradients matching finite differences: ' .. case.name, function()
      lc.manual_seed(8)
      local conv = nn.Conv2d(case.cin, case.cout, case.k, case.opts):double()
      local x = gc.randleaf(1, case.cin, case.H, case.W)
      local params = {x, conv.weight}
      if conv.bias then params[3] = conv.bias end
      gc.gradcheck(function() return conv(x) end, params)
    end)
  end

  it('accepts non-contiguous inputs', function()
    lc.manual_seed(9)
    local conv = nn.Conv2d(2, 3, 3, {padding = 1}):double()
    local base = f64(2, 2, 6, 5)
    local x = base:transpose(3, 4)          -- (2, 2, 5, 6), strided
    assert.is_false(x:is_contiguous())
    check.close(conv(x), conv(x:contiguous()), 1e-12)
    local leaf = gc.randleaf(2, 5, 4, 4)
    gc.gradcheck(function(t) return conv(t:narrow(2, 2, 2)) end, {leaf})
  end)

  it("supports padding = 'same' and unbatched (C, H, W) inputs", function()
    local conv = nn.Conv2d(2, 4, 5, {padding = 'same'})
    assert.are.same({1, 4, 9, 7}, conv(lc.rand(1, 2, 9, 7)):shape())
    assert.are.same({4, 9, 7}, conv(lc.rand(2, 9, 7)):shape())
  end)

  it('is initialised as PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias', function()
    lc.manual_seed(3)
    local conv = nn.Conv2d(16, 64, 3)
    local bound = 1 / math.sqrt(16 * 9)
    local w = conv.weight
    assert.are.same({64, 16, 3, 3}, w:shape())
    assert.is_true(w:abs():max():item() <= bound)
    assert.is_true(w:abs():max():item() > 0.98 * bound)
    -- a uniform on [-b, b] has variance b^2 / 3
    assert.is_true(math.abs(w:var():item() / (bound * bound / 3) - 1) < 0.05)
    assert.is_true(math.abs(w:mean():item()) < 0.02 * bound * 10)
    assert.is_true(conv.bias:abs():max():item() <= bound)
    assert.is_true(conv.weight.requires_grad)
  end)

  it('names what was expected when the input does not fit', function()
    local conv = nn.Conv2d(3, 8, 5)
    check.raises(function() conv(lc.rand(1, 1, 28, 28)) end,
                 'conv2d: expected input with 3 channels, got 1')
    check.raises(function() conv(lc.rand(1, 3, 4, 4)) end, 'smaller than the (dilated) kernel 5x5')
    check.raises(function() conv(lc.rand(3, 28)) end, 'expected a 4-D input')
    check.raises(function() conv(lc.rand(1, 3, 8, 8, {dtype = 'float64'})) end,
                 'input is float64 but weight is float32')
    check.raises(function() nn.Conv2d(3, 8, 3, {groups = 2}) end, 'in_channels 3 must be divisible by groups 2')
    check.raises(function() nn.Conv2d(4, 8, {3, 0}) end, 'kernel_size must be >= 1')
    check.raises(function() nn.Conv2d(4, 8, 3, {stride = 'x'}) end, 'stride must be an integer or a {h, w} pair')
  end)

  it('F.conv2d takes the same options', function()
    local x, w = f64(1, 1, 4, 4), f64(1, 1, 2, 2)
    local y = F.conv2d(x, w, nil, {stride = {2, 2}})
    check.close(y, conv_ref(x:totable(), w:totable(), nil,
                            {stride = {2, 2}, padding = {0, 0}, dilation = {1, 1}, groups = 1}), 1e-12)
  end)
end)

-- ---- pooling ----

describe('MaxPool2d', function()
  local cases = {
    {name = 'kernel 2', k = 2, opts = {}, H = 4, W = 6},
    {name = 'kernel 3 stride 2 padding 1', k = 3, opts = {stride = 2, padding = 1}, H = 7, W = 6},
    {name = 'rectangular', k = {2, 3}, opts = {stride = {1, 2}}, H = 4, W = 7},
    {name = 'dilation', k = 2, opts = {stride = 1, dilation = 2}, H = 5, W = 5},
    {name = 'ceil_mode', k = 3, opts = {stride = 2, ceil_mode = true}, H = 6, W = 8},
  }
  for _, case in ipairs(cases) do
    it('matches the loop reference and finite differences: ' .. case.name, function()
      lc.manual_seed(11)
      local pool = nn.MaxPool2d(case.k, case.opts)
      local x = f64(2, 2, case.H, case.W)
      local k = pr(case.k)
      local expected = pool_ref(x:totable(), 'max', k, pr(case.opts.stride, k), pr(case.opts.padding, 0),
                                {dilation = pr(case.opts.dilation, 1), ceil_mode = case.opts.ceil_mode})
      check.close(pool(x), expected, 0)
      local leaf = gc.randleaf(1, 2, case.H, case.W)   -- continuous values: no ties
      gc.gradcheck(function(t) return pool(t) end, {leaf})
    end)
  end

  it('defaults the stride to the kernel size and checks the padding', function()
    assert.are.same({1, 1, 3, 3}, nn.MaxPool2d(3)(lc.rand(1, 1, 9, 10)):shape())
    check.raises(function() nn.MaxPool2d(2, {padding = 2}) end, 'at most half the kernel size')
    check.raises(function() nn.MaxPool2d(5)(lc.rand(1, 1, 3, 3)) end, 'too small')
  end)
end)

describe('AvgPool2d', function()
  local cases = {
    {name = 'kernel 2', k = 2, opts = {}, H = 4, W = 4},
    {name = 'padding, count_include_pad', k = 3, opts = {stride = 2, padding = 1}, H = 5, W = 6},
    {name = 'padding, count_include_pad = false', k = 3,
     opts = {stride = 2, padding = 1, count_include_pad = false}, H = 5, W = 6},
    {name = 'ceil_mode with padding', k = 3, opts = {stride = 2, padding = 1, ceil_mode = true}, H = 6, W = 6},
    {name = 'ceil_mode without counting padding', k = {2, 3},
     opts = {stride = 2, padding = {1, 1}, ceil_mode = true, count_include_pad = false}, H = 5, W = 6},
    {name = 'divisor_override', k = 2, opts = {divisor_override = 3}, H = 4, W = 4},
  }
  for _, case in ipairs(cases) do
    it('matches the loop reference and finite differences: ' .. case.name, function()
      lc.manual_seed(12)
      local pool = nn.AvgPool2d(case.k, case.opts)
      local x = f64(2, 3, case.H, case.W)
      local k = pr(case.k)
      local expected = pool_ref(x:totable(), 'avg', k, pr(case.opts.stride, k), pr(case.opts.padding, 0),
                                {ceil_mode = case.opts.ceil_mode, count_include_pad = case.opts.count_include_pad,
                                 divisor_override = case.opts.divisor_override})
      check.close(pool(x), expected, 1e-12)
      gc.gradcheck(function(t) return pool(t) end, {gc.randleaf(1, 2, case.H, case.W)})
    end)
  end

  it('averages the chapter example', function()
    local X = lc.arange(16, {dtype = 'float32'}):reshape(1, 1, 4, 4)
    check.close(nn.AvgPool2d(3, {padding = 1, stride = 2})(X),
                {{{{10 / 9, 24 / 9}, {51 / 9, 90 / 9}}}}, 1e-6)
    check.close(nn.MaxPool2d(3, {padding = 1, stride = 2})(X), {{{{5, 7}, {13, 15}}}})
  end)
end)

describe('AdaptiveAvgPool2d', function()
  for _, case in ipairs{{7, 7, 1, 1}, {5, 7, 3, 2}, {6, 6, 4, 4}, {4, 5, 4, 5}} do
    local H, W, oh, ow = table.unpack(case)
    it(string.format('pools %dx%d to %dx%d like PyTorch', H, W, oh, ow), function()
      lc.manual_seed(13)
      local pool = nn.AdaptiveAvgPool2d({oh, ow})
      local x = f64(2, 2, H, W)
      check.close(pool(x), adaptive_ref(x:totable(), oh, ow), 1e-12)
      gc.gradcheck(function(t) return pool(t) end, {gc.randleaf(1, 2, H, W)})
    end)
  end

  it('takes a single size', function()
    assert.are.same({2, 3, 1, 1}, nn.AdaptiveAvgPool2d(1)(lc.rand(2, 3, 5, 5)):shape())
  end)
end)

-- ---- batch norm ----

describe('BatchNorm2d', function()
  it('normalises with the batch statistics in training and updates the running ones', function()
    lc.manual_seed(21)
    local bn = nn.BatchNorm2d(3):double()
    lc.no_grad(function()
      bn.weight:copy_(lc.tensor({1.5, -0.5, 2}, {dtype = 'float64'}))
      bn.bias:copy_(lc.tensor({0.1, 0.2, -0.3}, {dtype = 'float64'}))
    end)
    local x = f64(4, 3, 3, 2) * 2 + 1
    local y = bn(x)
    local means, vars, n = channel_stats(x)
    local xt, yt = x:totable(), y:totable()
    local g, b = bn.weight:totable(), bn.bias:totable()
    for i = 1, 4 do
      for c = 1, 3 do
        for h = 1, 3 do
          for w = 1, 2 do
            local e = (xt[i][c][h][w] - means[c]) / math.sqrt(vars[c] + 1e-5) * g[c] + b[c]
            assert.is_true(math.abs(yt[i][c][h][w] - e) < 1e-10)
          end
        end
      end
    end
    local rm, rv = {}, {}
    for c = 1, 3 do
      rm[c] = 0.9 * 0 + 0.1 * means[c]
      rv[c] = 0.9 * 1 + 0.1 * vars[c] * n / (n - 1)   -- the running variance is unbiased
    end
    check.close(bn.running_mean, rm, 1e-12)
    check.close(bn.running_var, rv, 1e-12)
    check.close(bn.num_batches_tracked, 1)
    bn(x)
    check.close(bn.num_batches_tracked, 2)
  end)

  it('uses the running statistics in eval mode', function()
    lc.manual_seed(22)
    local bn = nn.BatchNorm2d(2):double()
    lc.no_grad(function()
      bn.running_mean:copy_(lc.tensor({0.5, -1}, {dtype = 'float64'}))
      bn.running_var:copy_(lc.tensor({4, 0.25}, {dtype = 'float64'}))
      bn.weight:copy_(lc.tensor({2, 3}, {dtype = 'float64'}))
    end)
    bn:eval()
    local x = f64(2, 2, 2, 2)
    local y = bn(x):totable()
    local xt = x:totable()
    local m, v, g = {0.5, -1}, {4, 0.25}, {2, 3}
    for c = 1, 2 do
      local e = (xt[2][c][1][2] - m[c]) / math.sqrt(v[c] + 1e-5) * g[c]
      assert.is_true(math.abs(y[2][c][1][2] - e) < 1e-12)
    end
    check.close(bn.num_batches_tracked, 0)
    check.close(bn.running_mean, m, 0)
  end)

  it('has gradients matching finite differences in train and eval mode', function()
    lc.manual_seed(23)
    local bn = nn.BatchNorm2d(2, {momentum = 0}):double()   -- momentum 0: repeatable runs
    lc.no_grad(function() bn.weight:uniform_(0.5, 1.5); bn.bias:uniform_(-1, 1) end)
    local x = gc.randleaf(3, 2, 2, 2)
    gc.gradcheck(function(t) return bn(t) end, {x, bn.weight, bn.bias})
    bn:eval()
    lc.no_grad(function() bn.running_var:fill_(0.7); bn.running_mean:fill_(0.2) end)
    gc.gradcheck(function(t) return bn(t) end, {x, bn.weight, bn.bias})
  end)

  it('supports affine = false, track_running_stats = false and a cumulative average', function()
    local bn = nn.BatchNorm2d(2, {affine = false})
    assert.are.equal(0, #bn:parameters())
    assert.are.equal(3, #bn:buffers())
    local x = lc.randn(4, 2, 3, 3)
    local y = bn(x)
    check.close(y:mean({1, 3, 4}), {0, 0}, 1e-5)
    local free = nn.BatchNorm2d(2, {track_running_stats = false})
    assert.are.equal(0, #free:buffers())
    free:eval()   -- no running statistics: the batch ones are used even in eval mode
    check.close(free(x):mean({1, 3, 4}), {0, 0}, 1e-5)
    local cum = nn.BatchNorm2d(1, {momentum = false}):double()
    local a, b = f64(5, 1, 2, 2), f64(5, 1, 2, 2) + 3
    cum(a); cum(b)
    local ma, mb = channel_stats(a), channel_stats(b)
    check.close(cum.running_mean, {(ma[1] + mb[1]) / 2}, 1e-12)
  end)

  it('checks the input', function()
    local bn = nn.BatchNorm2d(16)
    check.raises(function() bn(lc.rand(2, 6, 4, 4)) end,
                 'batchnorm2d: expected input with 16 channels (num_features), got 6')
    check.raises(function() bn(lc.rand(2, 16)) end, 'expected 4-D (N, C, H, W) input')
    check.raises(function() bn(lc.rand(1, 16, 1, 1)) end, 'more than 1 value per channel')
  end)
end)

describe('BatchNorm1d', function()
  it('normalises (N, C) and (N, C, L) inputs per channel', function()
    lc.manual_seed(24)
    local bn = nn.BatchNorm1d(3):double()
    local x = f64(6, 3) * 3 + 2
    local y = bn(x)
    check.close(y:mean(1), {0, 0, 0}, 1e-10)
    check.close(y:var(1, {unbiased = false}), {1, 1, 1}, 1e-4)
    local means = channel_stats(x)
    check.close(bn.running_mean, {0.1 * means[1], 0.1 * means[2], 0.1 * means[3]}, 1e-12)
    local y3 = bn(f64(4, 3, 5))
    assert.are.same({4, 3, 5}, y3:shape())
    gc.gradcheck(function(t) return bn(t) end, {gc.randleaf(4, 3), bn.weight, bn.bias})
    check.raises(function() bn(lc.rand(2, 3, 4, 4, {dtype = 'float64'})) end, 'expected 2-D (N, C) or 3-D (N, C, L) input')
  end)
end)

-- ---- linear, dropout, activations, shapes ----

describe('Linear', function()
  it('computes x w^T + b over the last dim, any leading dims', function()
    lc.manual_seed(31)
    local lin = nn.Linear(4, 3):double()
    local x = f64(2, 5, 4)
    local y = lin(x)
    assert.are.same({2, 5, 3}, y:shape())
    local xt, wt, bt = x:totable(), lin.weight:totable(), lin.bias:totable()
    local yt = y:totable()
    for i = 1, 3 do
      local s = bt[i]
      for k = 1, 4 do s = s + xt[2][4][k] * wt[i][k] end
      assert.is_true(math.abs(yt[2][4][i] - s) < 1e-12)
    end
    gc.gradcheck(function(t) return lin(t) end, {gc.randleaf(3, 4), lin.weight, lin.bias})
  end)

  it('is initialised as PyTorch and names a wrong input size', function()
    lc.manual_seed(32)
    local lin = nn.Linear(400, 120)
    local bound = 1 / math.sqrt(400)
    assert.is_true(lin.weight:abs():max():item() <= bound)
    assert.is_true(lin.weight:abs():max():item() > 0.99 * bound)
    assert.is_true(lin.bias:abs():max():item() <= bound)
    assert.is_nil(nn.Linear(3, 2, {bias = false}).bias)
    check.raises(function() lin(lc.rand(8, 256)) end,
                 'linear: expected input with 400 features in its last dim, got 256 (input shape (8, 256))')
  end)
end)

describe('Dropout', function()
  it('is the identity in eval mode and scales the kept values in training', function()
    lc.manual_seed(41)
    local d = nn.Dropout(0.3)
    local x = lc.ones(200, 100)
    local y = d(x)
    local zeros = y:eq(0):sum():item() / x:numel()
    assert.is_true(math.abs(zeros - 0.3) < 0.01)
    check.close(y:max(), 1 / 0.7, 1e-6)
    local kept = y:gt(0):to('float32')
    check.close((y * kept):sum(), kept:sum() / 0.7, 1e-4)
    d:eval()
    assert.are.equal(x, d(x))
    assert.are.equal(x, nn.Dropout(0)(x))
    check.close(nn.Dropout(1)(lc.ones(3)), {0, 0, 0})
    check.raises(function() nn.Dropout(1.5) end, 'between 0 and 1')
  end)
end)

describe('activations', function()
  it('ReLU, Sigmoid, Tanh', function()
    local x = lc.tensor({-2, 0, 0.5, 3}, {dtype = 'float64'})
    check.close(nn.ReLU()(x), {0, 0, 0.5, 3})
    check.close(nn.Sigmoid()(x), {1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(-3))}, 1e-12)
    check.close(nn.Tanh()(x), {math.tanh(-2), 0, math.tanh(0.5), math.tanh(3)}, 1e-12)
  end)

  it('Softmax and LogSoftmax over a dim, stable for large values', function()
    local x = lc.tensor({{1, 2, 3}, {1000, 1001, 1002}}, {dtype = 'float64'})
    local lsm = log_softmax_rows(x:totable())
    check.close(nn.LogSoftmax(2)(x), lsm, 1e-12)
    local sm = {}
    for i, r in ipairs(lsm) do sm[i] = {} for j, v in ipairs(r) do sm[i][j] = math.exp(v) end end
    check.close(nn.Softmax(-1)(x), sm, 1e-12)
    check.close(F.softmax(x, 1):sum(1), {1, 1, 1}, 1e-12)
    check.raises(function() nn.Softmax() end, 'expected the dim')
    gc.gradcheck(function(t) return F.log_softmax(t, 2) end, {gc.randleaf(3, 4)})
  end)
end)

describe('shape layers', function()
  it('Flatten keeps the batch dim by default; Reshape takes -1', function()
    local x = lc.rand(2, 3, 4, 5)
    assert.are.same({2, 60}, nn.Flatten()(x):shape())
    assert.are.same({2, 3, 20}, nn.Flatten({start_dim = 3})(x):shape())
    assert.are.same({120}, nn.Flatten(1)(x):shape())
    assert.are.same({6, 4, 5}, F.flatten(x, 1, 2):shape())
    assert.are.same({120}, F.flatten(x):shape())
    assert.are.same({2, 1, 6, 10}, nn.Reshape(-1, 1, 6, 10)(x):shape())
    assert.are.same({4, 30}, nn.Reshape{4, 30}(x):shape())
    check.raises(function() nn.Reshape(-1, 7)(x) end, 'cannot reshape', '120 is not a multiple of 7')
    assert.are.equal(x, nn.Identity()(x))
  end)
end)

-- ---- losses ----

describe('CrossEntropyLoss', function()
  local logits = {{2.0, -1.0, 0.5}, {0.1, 0.2, 0.3}, {-3, 4, 1}, {1000, 0, -1000}}
  local labels = {1, 3, 2, 2}   -- 1-based classes

  local function expected(reduction, ls)
    ls = ls or 0
    local lsm = log_softmax_rows(logits)
    local per = {}
    for i, r in ipairs(lsm) do
      local smooth = 0
      for _, v in ipairs(r) do smooth = smooth - v end
      per[i] = (1 - ls) * -r[labels[i]] + ls * smooth / #r
    end
    if reduction == 'none' then return per end
    local s = 0
    for _, v in ipairs(per) do s = s + v end
    return reduction == 'sum' and s or s / #per
  end

  it('matches log-softmax + NLL with 1-based labels, for each reduction', function()
    local x = lc.tensor(logits, {dtype = 'float64'})
    local y = lc.tensor(labels, {dtype = 'int64'})
    check.close(nn.CrossEntropyLoss()(x, y), expected('mean'), 1e-12)
    check.close(nn.CrossEntropyLoss({reduction = 'sum'})(x, y), expected('sum'), 1e-12)
    check.close(nn.CrossEntropyLoss({reduction = 'none'})(x, y), expected('none'), 1e-12)
    check.close(nn.CrossEntropyLoss({label_smoothing = 0.1})(x, y), expected('mean', 0.1), 1e-12)
    check.close(nn.CrossEntropyLoss({label_smoothing = 0.2, reduction = 'none'})(x, y),
                expected('none', 0.2), 1e-12)
  end)

  it('has gradients matching finite differences', function()
    lc.manual_seed(51)
    local y = lc.tensor({3, 1, 2}, {dtype = 'int64'})
    local loss = nn.CrossEntropyLoss({label_smoothing = 0.1})
    gc.gradcheck(function(t) return loss(t, y) end, {gc.randleaf(3, 4)})
  end)

  it('takes class probabilities and unbatched logits', function()
    local x = lc.tensor(logits, {dtype = 'float64'})
    local onehot = lc.zeros(4, 3, {dtype = 'float64'})
    for i, c in ipairs(labels) do onehot[{i, c}] = 1 end
    check.close(F.cross_entropy(x, onehot), expected('mean'), 1e-12)
    check.close(F.cross_entropy(x, onehot, {label_smoothing = 0.1}), expected('mean', 0.1), 1e-12)
    check.close(F.cross_entropy(x[1], lc.tensor(1, {dtype = 'int64'})), expected('none')[1], 1e-12)
  end)

  it('names a wrong target', function()
    local x = lc.rand(4, 10)
    check.raises(function() F.cross_entropy(x, lc.tensor{1, 2, 3, 4}) end,
                 'class-probability targets must have the shape of the logits', 'y:long()')
    check.raises(function() F.cross_entropy(x, lc.tensor({1, 2}, {dtype = 'int64'})) end,
                 'expected 4 class labels (one per row of the logits (4, 10)), got shape (2)')
    check.raises(function() F.cross_entropy(x, lc.tensor({1, 2, 3, 4}, {dtype = 'int64'}), {reduction = 'avg'}) end,
                 "reduction must be 'mean', 'sum' or 'none'")
  end)
end)

describe('MSELoss', function()
  it('averages or sums the squared differences and refuses mismatched shapes', function()
    local a = lc.tensor({{1, 2}, {3, 4}}, {dtype = 'float64'})
    local b = lc.tensor({{1, 0}, {0, 4}}, {dtype = 'float64'})
    check.close(nn.MSELoss()(a, b), 13 / 4, 1e-12)
    check.close(nn.MSELoss({reduction = 'sum'})(a, b), 13, 1e-12)
    check.close(nn.MSELoss({reduction = 'none'})(a, b), {{0, 4}, {9, 0}}, 1e-12)
    gc.gradcheck(function(t) return F.mse_loss(t, b) end, {gc.randleaf(2, 2)})
    check.raises(function() nn.MSELoss()(lc.rand(5), lc.rand(5, 1)) end, 'different shapes')
  end)
end)

-- ---- nn.init ----

describe('nn.init', function()
  it('computes gains and fans as PyTorch', function()
    assert.are.equal(1, nn.init.calculate_gain('sigmoid'))
    assert.are.equal(5 / 3, nn.init.calculate_gain('tanh'))
    assert.are.equal(math.sqrt(2), nn.init.calculate_gain('relu'))
    assert.are.equal(math.sqrt(2 / (1 + 0.01 ^ 2)), nn.init.calculate_gain('leaky_relu'))
    assert.are.equal(math.sqrt(2 / 6), nn.init.calculate_gain('leaky_relu', math.sqrt(5)))
    local fi, fo = nn.init._calculate_fan_in_and_fan_out(lc.empty(8, 3, 5, 5))
    assert.are.equal(75, fi)
    assert.are.equal(200, fo)
    check.raises(function() nn.init.xavier_uniform_(lc.empty(5)) end, 'fewer than 2 dims')
    check.raises(function() nn.init.calculate_gain('swish') end, "unsupported nonlinearity 'swish'")
  end)

  it('draws from the right ranges and spreads', function()
    lc.manual_seed(61)
    local w = lc.empty(256, 128, {requires_grad = true})
    nn.init.xavier_uniform_(w)
    local a = math.sqrt(6 / (256 + 128))
    assert.is_true(w:abs():max():item() <= a and w:abs():max():item() > 0.99 * a)
    nn.init.xavier_normal_(w, 2)
    assert.is_true(math.abs(w:std():item() / (2 * math.sqrt(2 / 384)) - 1) < 0.03)
    nn.init.kaiming_uniform_(w, {mode = 'fan_out', nonlinearity = 'relu'})
    local bound = math.sqrt(2) * math.sqrt(3 / 256)
    assert.is_true(w:abs():max():item() <= bound and w:abs():max():item() > 0.99 * bound)
    nn.init.kaiming_normal_(w, 0, 'fan_in', 'relu')
    assert.is_true(math.abs(w:std():item() / math.sqrt(2 / 128) - 1) < 0.03)
    nn.init.normal_(w, 3, 0.5)
    assert.is_true(math.abs(w:mean():item() - 3) < 0.01)
    nn.init.uniform_(w, 2, 4)
    assert.is_true(w:min():item() >= 2 and w:max():item() <= 4)
    nn.init.constant_(w, 0.25)
    check.close(w:mean(), 0.25)
    nn.init.ones_(w); check.close(w:sum(), 256 * 128)
    nn.init.zeros_(w); check.close(w:sum(), 0)
    assert.is_true(w.requires_grad and w.is_leaf)   -- filled without recording history
  end)
end)
