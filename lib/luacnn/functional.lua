-- lc.F: the functional forms of the layers, as torch.nn.functional, with options tables.
--
--   F.conv2d(x, w, b, {stride = 1, padding = 0, dilation = 1, groups = 1})
--   F.max_pool2d(x, 3, {stride = 2, padding = 1})      F.avg_pool2d(x, 2)
--   F.cross_entropy(logits, y, {reduction = 'mean', label_smoothing = 0.1})
--
-- Sizes such as kernel, stride, padding and dilation are a number or a {h, w} pair. The
-- arguments are checked here, so that a mistake is reported in the terms of the call
-- ("conv2d: expected input with 3 channels, got 1 ..."); the work is done by the C
-- functions of core._F (autograd-aware, positional arguments).
local lc = require 'luacnn'
local core = require 'luacnn.core'

local F = {}

local function cfn(name)
  local f = core._F and core._F[name]
  if not f then
    error(string.format('%s: this build of the luacnn core has no _F.%s; rebuild luacnn', name,
                        name), 0)
  end
  return f
end

local function shape_str(t) return tostring(t:shape()) end

local function check_tensor(x, who, what)
  if not lc.is_tensor(x) then
    error(string.format('%s: expected a tensor as %s, got %s', who, what, type(x)), 0)
  end
  return x
end

local function as_int(v)
  if math.type(v) == 'integer' then return v end
  if type(v) == 'number' and v == math.floor(v) then return math.tointeger(v) end
  return nil
end

-- A number or {h, w} pair -> h, w (integers, each >= min).
local function pair(v, who, what, min)
  local h, w
  if type(v) == 'number' then
    h, w = as_int(v), as_int(v)
  elseif type(v) == 'table' and not lc.is_tensor(v) and (#v == 2 or #v == 1) then
    h, w = as_int(v[1]), as_int(v[#v])
  end
  if h == nil or w == nil then
    error(string.format('%s: %s must be an integer or a {h, w} pair of integers, got %s', who,
                        what, type(v) == 'table' and ('a table of ' .. #v) or tostring(v)), 0)
  end
  if h < min or w < min then
    error(string.format('%s: %s must be >= %d, got (%d, %d)', who, what, min, h, w), 0)
  end
  return h, w
end
F._pair = pair

local function check_same_kind(x, t, who, what)
  if t.dtype ~= x.dtype then
    error(string.format('%s: input is %s but %s is %s; convert one of them (e.g. :to(%q))', who,
                        x.dtype, what, t.dtype, t.dtype), 0)
  end
  if t.device ~= x.device then
    error(string.format('%s: input is on %s but %s is on %s; move the model or the input ' ..
                        '(net:to(device), x:to(device))', who, x.device, what, t.device), 0)
  end
end

local function check_float_input(x, who)
  if x.dtype ~= 'float32' and x.dtype ~= 'float64' then
    error(string.format('%s: expected a float input, got %s (convert with :float())', who, x.dtype), 0)
  end
end

-- 3-D (C, H, W) inputs are one unbatched image, as in PyTorch.
local function batched4(x, who)
  local d = x:dim()
  if d == 4 then return x, false end
  if d == 3 then return x:unsqueeze(1), true end
  error(string.format('%s: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape %s',
                      who, shape_str(x)), 0)
end

-- ---- convolution ----

function F.conv2d(x, w, b, opts)
  local who = 'conv2d'
  check_tensor(x, who, 'input'); check_tensor(w, who, 'weight')
  if b ~= nil then check_tensor(b, who, 'bias') end
  opts = opts or {}
  check_float_input(x, who)
  local x4, unbatched = batched4(x, who)
  if w:dim() ~= 4 then
    error(string.format('%s: expected a 4-D weight (out_channels, in_channels/groups, kh, kw), ' ..
                        'got shape %s', who, shape_str(w)), 0)
  end
  check_same_kind(x, w, who, 'weight')
  local groups = as_int(opts.groups or 1)
  if not groups or groups < 1 then
    error(string.format('%s: groups must be a positive integer, got %s', who, tostring(opts.groups)), 0)
  end
  local cout, cin_g, kh, kw = w:size(1), w:size(2), w:size(3), w:size(4)
  local cin = x4:size(2)
  if cin ~= cin_g * groups then
    error(string.format('%s: expected input with %d channels, got %d (input shape %s, weight %s, ' ..
                        'groups %d)', who, cin_g * groups, cin, shape_str(x), shape_str(w), groups), 0)
  end
  if cout % groups ~= 0 then
    error(string.format('%s: out_channels %d is not divisible by groups %d', who, cout, groups), 0)
  end
  if b ~= nil then
    check_same_kind(x, b, who, 'bias')
    if b:dim() ~= 1 or b:size(1) ~= cout then
      error(string.format('%s: expected a bias of shape (%d), got %s', who, cout, shape_str(b)), 0)
    end
  end
  local sh, sw = pair(opts.stride or 1, who, 'stride', 1)
  local dh, dw = pair(opts.dilation or 1, who, 'dilation', 1)
  local ph, pw
  local padding = opts.padding or 0
  if padding == 'valid' then
    ph, pw = 0, 0
  elseif padding == 'same' then
    if sh ~= 1 or sw ~= 1 then
      error(string.format("%s: padding='same' needs stride 1, got (%d, %d)", who, sh, sw), 0)
    end
    local th, tw = dh * (kh - 1), dw * (kw - 1)
    if th % 2 ~= 0 or tw % 2 ~= 0 then
      error(string.format("%s: padding='same' with kernel (%d, %d) and dilation (%d, %d) needs " ..
                          "uneven padding, which is not supported; pad explicitly", who, kh, kw,
                          dh, dw), 0)
    end
    ph, pw = th // 2, tw // 2
  else
    ph, pw = pair(padding, who, 'padding', 0)
  end
  local H, W = x4:size(3), x4:size(4)
  local ekh, ekw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
  if H + 2 * ph < ekh or W + 2 * pw < ekw then
    error(string.format('%s: the padded input is %dx%d, smaller than the (dilated) kernel %dx%d ' ..
                        '(input shape %s, padding (%d, %d))', who, H + 2 * ph, W + 2 * pw, ekh,
                        ekw, shape_str(x), ph, pw), 0)
  end
  local y = cfn('conv2d')(x4, w, b, sh, sw, ph, pw, dh, dw, groups)
  if unbatched then y = y:squeeze(1) end
  return y
end

-- ---- pooling ----

-- PyTorch's pooling output size, with ceil_mode's rule that the last window must start
-- inside the input or the left padding.
local function pool_out(n, k, s, p, d, ceil_mode)
  local span = n + 2 * p - d * (k - 1) - 1
  local out
  if ceil_mode then out = -((-span) // s) + 1 else out = span // s + 1 end
  if ceil_mode and (out - 1) * s >= n + p then out = out - 1 end
  return out
end
F._pool_out = pool_out

local function pool_args(x, kernel, opts, who, with_dilation)
  check_tensor(x, who, 'input')
  check_float_input(x, who)
  opts = opts or {}
  local kh, kw = pair(kernel, who, 'kernel_size', 1)
  local sh, sw = pair(opts.stride or {kh, kw}, who, 'stride', 1)
  local ph, pw = pair(opts.padding or 0, who, 'padding', 0)
  local dh, dw = 1, 1
  if with_dilation then dh, dw = pair(opts.dilation or 1, who, 'dilation', 1) end
  if 2 * ph > kh or 2 * pw > kw then
    error(string.format('%s: padding (%d, %d) must be at most half the kernel size (%d, %d)', who,
                        ph, pw, kh, kw), 0)
  end
  local x4, unbatched = batched4(x, who)
  local H, W = x4:size(3), x4:size(4)
  local oh = pool_out(H, kh, sh, ph, dh, opts.ceil_mode)
  local ow = pool_out(W, kw, sw, pw, dw, opts.ceil_mode)
  if oh < 1 or ow < 1 then
    error(string.format('%s: the output would be %dx%d: input %s is too small for kernel (%d, %d), ' ..
                        'stride (%d, %d), padding (%d, %d)', who, oh, ow, shape_str(x), kh, kw, sh,
                        sw, ph, pw), 0)
  end
  return x4, unbatched, kh, kw, sh, sw, ph, pw, dh, dw
end

-- F.max_pool2d(x, kernel, {stride = kernel, padding = 0, dilation = 1, ceil_mode = false})
function F.max_pool2d(x, kernel, opts)
  local x4, unbatched, kh, kw, sh, sw, ph, pw, dh, dw = pool_args(x, kernel, opts, 'max_pool2d', true)
  local y = cfn('max_pool2d')(x4, kh, kw, sh, sw, ph, pw, dh, dw, (opts and opts.ceil_mode) and true or false)
  if unbatched then y = y:squeeze(1) end
  return y
end

-- F.avg_pool2d(x, kernel, {stride = kernel, padding = 0, ceil_mode = false,
--                          count_include_pad = true, divisor_override = nil})
function F.avg_pool2d(x, kernel, opts)
  opts = opts or {}
  local x4, unbatched, kh, kw, sh, sw, ph, pw = pool_args(x, kernel, opts, 'avg_pool2d', false)
  local divisor = opts.divisor_override or 0
  if divisor ~= 0 and (not as_int(divisor) or divisor < 1) then
    error('avg_pool2d: divisor_override must be a positive integer, got ' .. tostring(divisor), 0)
  end
  local include = opts.count_include_pad
  if include == nil then include = true end
  local y = cfn('avg_pool2d')(x4, kh, kw, sh, sw, ph, pw, opts.ceil_mode and true or false,
                              include and true or false, divisor)
  if unbatched then y = y:squeeze(1) end
  return y
end

-- F.adaptive_avg_pool2d(x, output_size): output_size a number or {h, w}.
function F.adaptive_avg_pool2d(x, output_size)
  local who = 'adaptive_avg_pool2d'
  check_tensor(x, who, 'input')
  check_float_input(x, who)
  local oh, ow = pair(output_size, who, 'output_size', 1)
  local x4, unbatched = batched4(x, who)
  local y = cfn('adaptive_avg_pool2d')(x4, oh, ow)
  if unbatched then y = y:squeeze(1) end
  return y
end

-- ---- normalisation ----

-- F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps), as
-- PyTorch, or F.batch_norm(x, running_mean, running_var, {weight, bias, training = false,
-- momentum = 0.1, eps = 1e-5}). Running statistics are updated in place when training.
function F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
  local who = 'batch_norm'
  if type(weight) == 'table' and not lc.is_tensor(weight) then
    local o = weight
    weight, bias, training, momentum, eps = o.weight, o.bias, o.training, o.momentum, o.eps
  end
  check_tensor(x, who, 'input')
  check_float_input(x, who)
  local d = x:dim()
  if d < 2 or d > 4 then
    error(string.format('%s: expected an input of shape (N, C), (N, C, L) or (N, C, H, W), got %s',
                        who, shape_str(x)), 0)
  end
  local C = x:size(2)
  for _, e in ipairs{{running_mean, 'running_mean'}, {running_var, 'running_var'},
                     {weight, 'weight'}, {bias, 'bias'}} do
    local t, name = e[1], e[2]
    if t ~= nil then
      check_tensor(t, who, name)
      check_same_kind(x, t, who, name)
      if t:dim() ~= 1 or t:size(1) ~= C then
        error(string.format('%s: expected %s of shape (%d) for an input with %d channels (shape ' ..
                            '%s), got %s', who, name, C, C, shape_str(x), shape_str(t)), 0)
      end
    end
  end
  if (running_mean == nil) ~= (running_var == nil) then
    error(string.format('%s: give both running_mean and running_var, or neither', who), 0)
  end
  training = training and true or false
  if not training and running_mean == nil then
    error(string.format('%s: running statistics are needed when not training', who), 0)
  end
  if training then
    local per_channel = x:numel() // math.max(C, 1)
    if per_channel <= 1 then
      error(string.format('%s: expected more than 1 value per channel when training, got input ' ..
                          'shape %s', who, shape_str(x)), 0)
    end
  end
  return cfn('batch_norm')(x, running_mean, running_var, weight, bias, training, momentum or 0.1,
                           eps or 1e-5)
end

-- ---- linear, dropout, activations ----

-- F.linear(x, w, b): x @ w^T + b over the last dim of x, any leading dims.
function F.linear(x, w, b)
  local who = 'linear'
  check_tensor(x, who, 'input'); check_tensor(w, who, 'weight')
  check_float_input(x, who)
  if w:dim() ~= 2 then
    error(string.format('%s: expected a 2-D weight (out_features, in_features), got %s', who,
                        shape_str(w)), 0)
  end
  check_same_kind(x, w, who, 'weight')
  local fin = w:size(2)
  if x:dim() == 0 or x:size(-1) ~= fin then
    error(string.format('%s: expected input with %d features in its last dim, got %s (input shape ' ..
                        '%s)', who, fin, x:dim() == 0 and 'a 0-dim tensor' or tostring(x:size(-1)),
                        shape_str(x)), 0)
  end
  if b ~= nil then
    check_tensor(b, who, 'bias')
    check_same_kind(x, b, who, 'bias')
    if b:dim() ~= 1 or b:size(1) ~= w:size(1) then
      error(string.format('%s: expected a bias of shape (%d), got %s', who, w:size(1), shape_str(b)), 0)
    end
  end
  return cfn('linear')(x, w, b)
end

-- F.dropout(x, p = 0.5, training = true): zeroes each value with probability p and scales
-- the others by 1 / (1 - p); the identity when not training.
function F.dropout(x, p, training)
  check_tensor(x, 'dropout', 'input')
  p = p == nil and 0.5 or p
  if type(p) ~= 'number' or p < 0 or p > 1 then
    error('dropout: probability has to be between 0 and 1, but got ' .. tostring(p), 0)
  end
  if training == false or p == 0 then return x end
  return cfn('dropout')(x, p, true)
end

function F.relu(x) return check_tensor(x, 'relu', 'input'):relu() end
function F.sigmoid(x) return check_tensor(x, 'sigmoid', 'input'):sigmoid() end
function F.tanh(x) return check_tensor(x, 'tanh', 'input'):tanh() end

local function check_dim(x, dim, who)
  if math.type(dim) ~= 'integer' or dim == 0 or dim > x:dim() or dim < -x:dim() then
    error(string.format('%s: expected a dim in 1..%d (or negative from the end), got %s (input ' ..
                        'shape %s)', who, x:dim(), tostring(dim), shape_str(x)), 0)
  end
end

-- F.softmax(x, dim) and F.log_softmax(x, dim): dim is required (1-based; -1 the last).
function F.softmax(x, dim)
  check_tensor(x, 'softmax', 'input')
  check_float_input(x, 'softmax')
  check_dim(x, dim, 'softmax')
  return cfn('softmax')(x, dim)
end

function F.log_softmax(x, dim)
  check_tensor(x, 'log_softmax', 'input')
  check_float_input(x, 'log_softmax')
  check_dim(x, dim, 'log_softmax')
  return cfn('log_softmax')(x, dim)
end

-- ---- losses ----

local reductions = {mean = true, sum = true, none = true}

local function check_reduction(r, who)
  r = r or 'mean'
  if not reductions[r] then
    error(string.format("%s: reduction must be 'mean', 'sum' or 'none', got '%s'", who, tostring(r)), 0)
  end
  return r
end

local function reduce(loss, reduction)
  if reduction == 'mean' then return loss:mean() end
  if reduction == 'sum' then return loss:sum() end
  return loss
end

-- F.cross_entropy(logits (N, C), target, {reduction = 'mean', label_smoothing = 0}).
-- target: class labels 1..C as int64 (N), or class probabilities of logits' shape.
function F.cross_entropy(logits, target, opts)
  local who = 'cross_entropy'
  opts = opts or {}
  check_tensor(logits, who, 'input'); check_tensor(target, who, 'target')
  check_float_input(logits, who)
  local reduction = check_reduction(opts.reduction, who)
  local ls = opts.label_smoothing or 0
  if type(ls) ~= 'number' or ls < 0 or ls > 1 then
    error(string.format('%s: label_smoothing must be in [0, 1], got %s', who, tostring(ls)), 0)
  end
  local unbatched = logits:dim() == 1
  if unbatched then logits = logits:unsqueeze(1) end
  if logits:dim() ~= 2 then
    error(string.format('%s: expected logits of shape (N, C) or (C), got %s', who, shape_str(logits)), 0)
  end
  local N, C = logits:size(1), logits:size(2)
  if target.dtype == 'float32' or target.dtype == 'float64' then
    if unbatched then target = target:unsqueeze(1) end
    if not (target:shape() == logits:shape()) then
      error(string.format('%s: class-probability targets must have the shape of the logits %s, got %s ' ..
                          '(class labels must be int64: use y:long())', who, shape_str(logits),
                          shape_str(target)), 0)
    end
    check_same_kind(logits, target, who, 'target')
    local logp = F.log_softmax(logits, 2)
    if ls > 0 then target = target * (1 - ls) + ls / C end
    local loss = -(target * logp):sum(2)
    if unbatched then loss = loss:squeeze(1) end
    return reduce(loss, reduction)
  end
  if target.dtype ~= 'int64' then
    error(string.format('%s: expected int64 class labels 1..%d, got a %s target (use y:long())', who,
                        C, target.dtype), 0)
  end
  if unbatched then
    if target:dim() ~= 0 then
      error(string.format('%s: logits of shape (C) take a 0-dim target, got %s', who, shape_str(target)), 0)
    end
    target = target:reshape(1)
  end
  if target:dim() ~= 1 or target:size(1) ~= N then
    error(string.format('%s: expected %d class labels (one per row of the logits %s), got shape %s',
                        who, N, shape_str(logits), shape_str(target)), 0)
  end
  if target.device ~= logits.device then
    error(string.format('%s: logits are on %s but the target is on %s', who, logits.device,
                        target.device), 0)
  end
  local loss = cfn('cross_entropy')(logits, target, unbatched and 'none' or reduction, ls)
  if unbatched then loss = reduce(loss:squeeze(1), reduction) end
  return loss
end

-- F.mse_loss(input, target, {reduction = 'mean'}). The shapes must match: PyTorch would
-- broadcast (N) against (N, 1) into (N, N) with only a warning.
function F.mse_loss(input, target, opts)
  local who = 'mse_loss'
  check_tensor(input, who, 'input'); check_tensor(target, who, 'target')
  local reduction = check_reduction(opts and opts.reduction, who)
  if not (input:shape() == target:shape()) then
    error(string.format('%s: input %s and target %s have different shapes (reshape one, e.g. ' ..
                        'y:reshape(%s))', who, shape_str(input), shape_str(target),
                        shape_str(input):sub(2, -2)), 0)
  end
  local diff = input - target
  if diff.dtype ~= 'float32' and diff.dtype ~= 'float64' then
    -- as PyTorch: a mean squared error of integers is refused (it was reported by 'mean')
    error(string.format('%s: expected a float input or target, got %s and %s (convert with :float())', who,
                        input.dtype, target.dtype), 0)
  end
  return reduce(diff * diff, reduction)
end

-- ---- shapes ----

-- F.flatten(x, start_dim = 1, end_dim = -1), as torch.flatten (1-based dims).
function F.flatten(x, start_dim, end_dim)
  check_tensor(x, 'flatten', 'input')
  return x:flatten(start_dim or 1, end_dim or -1)
end

F.cat = lc.cat
F.stack = lc.stack

return F
