-- lc.F: the functional forms of the layers, as torch.nn.functional, with options tables or
-- PyTorch's positional order (luacnn.options; a misspelt option name is an error).
--
--   F.conv2d(x, w, b, {stride = 1, padding = 0, dilation = 1, groups = 1})
--   F.conv2d(x, w, b, 1, 1)                            -- stride, padding, dilation, groups
--   F.max_pool2d(x, 3, {stride = 2, padding = 1})      F.max_pool2d(x, 3, 2, 1)
--   F.avg_pool2d(x, 2)                                 F.avg_pool2d(x, 2, 2)
--   F.cross_entropy(logits, y, {reduction = 'mean', label_smoothing = 0.1})  -- by name only
--
-- Sizes such as kernel, stride, padding and dilation are a number or a {h, w} pair. This file
-- only turns option tables into the positional arguments of core._F's C functions, which
-- validate them (runtime/ops_nn.c, one message per mistake: "conv2d: expected input with 3
-- channels, got 1 ...") and do the work (autograd-aware). What is checked here is Lua-level:
-- that a value is a tensor, that a size is an integer or a {h, w} pair.
local lc = require 'luacnn'
local core = require 'luacnn.core'
local options = require 'luacnn.options'

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

-- A number or {h, w} pair -> h, w (integers; their range is the op's to check).
local function pair(v, who, what)
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
  return h, w
end
F._pair = pair

-- softmax and the losses still check here (issue 12 moved the layers' checks to the runtime)
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
  if not x:is_floating_point() then
    error(string.format('%s: expected a float input, got %s (convert with :float())', who, x.dtype), 0)
  end
end

-- ---- convolution ----

local conv2d_options = options.parser('conv2d', {'input', 'weight', 'bias'},
                                      {'stride', 'padding', 'dilation', 'groups'})

-- padding: a size, a pair, 'valid' (none) or 'same' (the output keeps the input's size).
function F.conv2d(x, w, b, ...)
  local who = 'conv2d'
  check_tensor(x, who, 'input'); check_tensor(w, who, 'weight')
  if b ~= nil then check_tensor(b, who, 'bias') end
  local opts = conv2d_options(...)
  local sh, sw = pair(opts.stride or 1, who, 'stride')
  local dh, dw = pair(opts.dilation or 1, who, 'dilation')
  local padding, ph, pw = opts.padding or 0, 0, 0
  if padding ~= 'valid' and padding ~= 'same' then ph, pw = pair(padding, who, 'padding') end
  return cfn('conv2d')(x, w, b, sh, sw, ph, pw, dh, dw, opts.groups or 1, padding == 'same')
end

-- ---- pooling ----

-- kernel, stride (the kernel by default), padding and dilation as pairs
local function pool_args(kernel, opts, who)
  local kh, kw = pair(kernel, who, 'kernel_size')
  local sh, sw = pair(opts.stride or {kh, kw}, who, 'stride')
  local ph, pw = pair(opts.padding or 0, who, 'padding')
  local dh, dw = pair(opts.dilation or 1, who, 'dilation')
  return kh, kw, sh, sw, ph, pw, dh, dw
end
F._pool_args = pool_args

local max_pool2d_options = options.parser('max_pool2d', {'input', 'kernel_size'},
  {'stride', 'padding', 'dilation', 'ceil_mode', 'return_indices'}, {return_indices = false})

-- F.max_pool2d(x, kernel, {stride = kernel, padding = 0, dilation = 1, ceil_mode = false})
-- or F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices)
function F.max_pool2d(x, kernel, ...)
  check_tensor(x, 'max_pool2d', 'input')
  local opts = max_pool2d_options(...)
  local kh, kw, sh, sw, ph, pw, dh, dw = pool_args(kernel, opts, 'max_pool2d')
  return cfn('max_pool2d')(x, kh, kw, sh, sw, ph, pw, dh, dw, opts.ceil_mode and true or false)
end

local avg_pool2d_options = options.parser('avg_pool2d', {'input', 'kernel_size'},
  {'stride', 'padding', 'ceil_mode', 'count_include_pad', 'divisor_override'})

-- F.avg_pool2d(x, kernel, {stride = kernel, padding = 0, ceil_mode = false,
--                          count_include_pad = true, divisor_override = nil})
-- or F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
function F.avg_pool2d(x, kernel, ...)
  check_tensor(x, 'avg_pool2d', 'input')
  local opts = avg_pool2d_options(...)
  local kh, kw, sh, sw, ph, pw = pool_args(kernel, {stride = opts.stride, padding = opts.padding},
                                           'avg_pool2d')
  return cfn('avg_pool2d')(x, kh, kw, sh, sw, ph, pw, opts.ceil_mode and true or false,
                           opts.count_include_pad ~= false, opts.divisor_override or 0)
end

-- F.adaptive_avg_pool2d(x, output_size): output_size a number or {h, w}.
function F.adaptive_avg_pool2d(x, output_size)
  check_tensor(x, 'adaptive_avg_pool2d', 'input')
  local oh, ow = pair(output_size, 'adaptive_avg_pool2d', 'output_size')
  return cfn('adaptive_avg_pool2d')(x, oh, ow)
end

-- ---- normalisation ----

local batch_norm_options = options.parser('batch_norm', {'input', 'running_mean', 'running_var'},
  {'weight', 'bias', 'training', 'momentum', 'eps'})

-- F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps), as
-- PyTorch, or F.batch_norm(x, running_mean, running_var, {weight, bias, training = false,
-- momentum = 0.1, eps = 1e-5}). Running statistics are updated in place when training.
function F.batch_norm(x, running_mean, running_var, ...)
  local who = 'batch_norm'
  local o = batch_norm_options(...)
  local weight, bias, training, momentum, eps = o.weight, o.bias, o.training, o.momentum, o.eps
  check_tensor(x, who, 'input')
  for _, e in ipairs{{running_mean, 'running_mean'}, {running_var, 'running_var'},
                     {weight, 'weight'}, {bias, 'bias'}} do
    if e[1] ~= nil then check_tensor(e[1], who, e[2]) end
  end
  return cfn('batch_norm')(x, running_mean, running_var, weight, bias, training and true or false,
                           momentum or 0.1, eps or 1e-5)
end

-- ---- linear, dropout, activations ----

-- F.linear(x, w, b): x @ w^T + b over the last dim of x, any leading dims.
function F.linear(x, w, b)
  check_tensor(x, 'linear', 'input'); check_tensor(w, 'linear', 'weight')
  if b ~= nil then check_tensor(b, 'linear', 'bias') end
  return cfn('linear')(x, w, b)
end

local dropout_options = options.parser('dropout', {'input'}, {'p', 'training', 'inplace'})

-- F.dropout(x, p = 0.5, training = true) (or {p = ..., training = ...}): zeroes each value
-- with probability p and scales the others by 1 / (1 - p); the identity when not training.
function F.dropout(x, ...)
  check_tensor(x, 'dropout', 'input')
  local opts = dropout_options(...)
  local p, training = opts.p, opts.training
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

local cross_entropy_options = options.parser('cross_entropy', {'input', 'target'},
                                             {reduction = true, label_smoothing = true})

-- F.cross_entropy(logits (N, C), target, {reduction = 'mean', label_smoothing = 0}).
-- target: class labels 1..C as int64 (N), or class probabilities of logits' shape.
function F.cross_entropy(logits, target, ...)
  local who = 'cross_entropy'
  local opts = cross_entropy_options(...)
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
  if target:is_floating_point() then
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

local mse_loss_options = options.parser('mse_loss', {'input', 'target'}, {reduction = true})

-- F.mse_loss(input, target, {reduction = 'mean'}). The shapes must match: PyTorch would
-- broadcast (N) against (N, 1) into (N, N) with only a warning.
function F.mse_loss(input, target, ...)
  local who = 'mse_loss'
  check_tensor(input, who, 'input'); check_tensor(target, who, 'target')
  local reduction = check_reduction(mse_loss_options(...).reduction, who)
  if not (input:shape() == target:shape()) then
    error(string.format('%s: input %s and target %s have different shapes (reshape one, e.g. ' ..
                        'y:reshape(%s))', who, shape_str(input), shape_str(target),
                        shape_str(input):sub(2, -2)), 0)
  end
  if lc.autocast_dtype() then  -- on autocast's float32 list
    if input.dtype == 'bfloat16' then input = input:float() end
    if target.dtype == 'bfloat16' then target = target:float() end
  end
  local diff = input - target
  if not diff:is_floating_point() then
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
