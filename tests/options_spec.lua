-- Options of layers, F functions, optimizers and schedulers (lib/luacnn/options.lua):
-- PyTorch's positional order gives what the options table gives, a misspelt option name is
-- an error naming the nearest one, and too many arguments are refused with the order.
local lc = require 'luacnn'
local nn, F, optim = lc.nn, lc.F, lc.optim
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

local function same_layer(a, b)
  assert.equal(tostring(b), tostring(a))
end

-- the same weights in both layers, then the same output on the same input
local function same_output(a, b, x)
  lc.no_grad(function()
    for name, p in pairs(a:state_dict()) do b:state_dict()[name]:copy_(p) end
  end)
  check.close(b(x), a(x), 0)
end

describe('positional options', function()
  it('nn.Conv2d takes stride, padding, dilation, groups, bias in order', function()
    local x = lc.randn(2, 4, 9, 9)
    local a, b = nn.Conv2d(4, 6, 3, 2, 1, 2, 2, false), nn.Conv2d(4, 6, 3, {stride = 2, padding = 1,
                                                                            dilation = 2, groups = 2, bias = false})
    same_layer(a, b)
    assert.is_nil(a.bias)
    same_output(a, b, x)
    assert.same({2, 6, 4, 4}, a(x).shape)
    same_layer(nn.Conv2d(1, 6, 5, 1, 2), nn.Conv2d(1, 6, 5, {padding = 2}))
    assert.same({1, 6, 28, 28}, nn.Conv2d(1, 6, 5, 1, 2)(lc.randn(1, 1, 28, 28)).shape)
    same_layer(nn.Conv2d(1, 6, 3, 1, 'same'), nn.Conv2d(1, 6, 3, {padding = 'same'}))
    -- positional first, the rest by name
    same_layer(nn.Conv2d(1, 6, 5, 2, {padding = 2, bias = false}),
               nn.Conv2d(1, 6, 5, {stride = 2, padding = 2, bias = false}))
    same_layer(nn.Conv2d(1, 6, 5, 1, 0, 1, 1, true, 'zeros'), nn.Conv2d(1, 6, 5))  -- the only mode
  end)

  it('pooling layers take stride and padding in order, pairs as values', function()
    same_layer(nn.MaxPool2d(2, 2), nn.MaxPool2d(2, {stride = 2}))
    same_layer(nn.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, {stride = 2, padding = 1}))
    assert.matches('stride=%(2, 1%)', tostring(nn.MaxPool2d(3, {2, 1})))
    same_layer(nn.MaxPool2d(3, {2, 1}, {1, 0}), nn.MaxPool2d(3, {stride = {2, 1}, padding = {1, 0}}))
    -- kernel_size, stride, padding, dilation, return_indices, ceil_mode
    local a = nn.MaxPool2d(3, 2, 0, 1, false, true)
    assert.is_true(a.ceil_mode)
    assert.same({1, 1, 4, 4}, a(lc.randn(1, 1, 8, 8)).shape)
    same_layer(nn.AvgPool2d(2, 2), nn.AvgPool2d(2, {stride = 2}))
    local b = nn.AvgPool2d(3, 1, 1, false, false)
    assert.is_false(b.count_include_pad)
    local x = lc.ones(1, 1, 4, 4)
    check.close(b(x), nn.AvgPool2d(3, {stride = 1, padding = 1, count_include_pad = false})(x), 0)
    check.close(b(x), lc.ones(1, 1, 4, 4), 1e-6)
    check.close(nn.AvgPool2d(2, 2, 0, false, true, 1)(x), lc.full({1, 1, 2, 2}, 4), 1e-6)
  end)

  it('F.conv2d, F.max_pool2d and F.avg_pool2d take PyTorch order', function()
    local x, w, bias = lc.randn(1, 2, 7, 7), lc.randn(3, 2, 3, 3), lc.randn(3)
    check.close(F.conv2d(x, w, bias, 2, 1), F.conv2d(x, w, bias, {stride = 2, padding = 1}), 0)
    check.close(F.conv2d(x, w, nil, 1, 2, 2), F.conv2d(x, w, nil, {padding = 2, dilation = 2}), 0)
    assert.same({1, 3, 4, 4}, F.conv2d(x, w, bias, 2, 1).shape)
    check.close(F.max_pool2d(x, 2, 2), F.max_pool2d(x, 2, {stride = 2}), 0)
    check.close(F.max_pool2d(x, 3, 2, 1, 1, true), F.max_pool2d(x, 3, {stride = 2, padding = 1, ceil_mode = true}), 0)
    check.close(F.avg_pool2d(x, 2, 2), F.avg_pool2d(x, 2, {stride = 2}), 0)
    check.close(F.avg_pool2d(x, 3, 1, 1, false, false),
                F.avg_pool2d(x, 3, {stride = 1, padding = 1, count_include_pad = false}), 0)
    check.close(F.max_pool2d(x, 3, {2, 1}), F.max_pool2d(x, 3, {stride = {2, 1}}), 0)
    check.close(F.dropout(x, 0.5, false), x, 0)
    check.close(F.dropout(x, {p = 0.5, training = false}), x, 0)
  end)

  it('nn.Linear(in, out, false) has no bias', function()
    local a = nn.Linear(3, 4, false)
    assert.is_nil(a.bias)
    same_layer(a, nn.Linear(3, 4, {bias = false}))
    assert.is_not_nil(nn.Linear(3, 4, true).bias)
    assert.is_not_nil(nn.Linear(3, 4).bias)
    assert.equal(1, #a:parameters())
  end)

  it('batch norm takes eps, momentum, affine, track_running_stats in order', function()
    same_layer(nn.BatchNorm2d(3, 1e-3), nn.BatchNorm2d(3, {eps = 1e-3}))
    same_layer(nn.BatchNorm1d(3, 1e-5, 0.2, false, false),
               nn.BatchNorm1d(3, {momentum = 0.2, affine = false, track_running_stats = false}))
    assert.is_false(nn.BatchNorm2d(3, 1e-5, false).momentum)  -- PyTorch's momentum=None
  end)

  it('dropout, activations and flatten keep their forms', function()
    assert.equal(0.3, nn.Dropout(0.3).p)
    assert.equal(0.2, nn.Dropout({p = 0.2}).p)
    assert.equal(0.5, nn.Dropout().p)
    assert.equal(2, nn.Softmax(2).dim)
    assert.equal(2, nn.LogSoftmax({dim = 2}).dim)
    assert.is_true(nn.ReLU(true).inplace)
    assert.is_true(nn.ReLU({inplace = true}).inplace)
    same_layer(nn.Flatten(1, 3), nn.Flatten({start_dim = 1, end_dim = 3}))
  end)

  it('optimizers take PyTorch order; parameter groups keep any key', function()
    local net = nn.Linear(2, 2)
    local a = optim.SGD(net:parameters(), 0.1, 0.9, 0, 1e-4, true)
    local b = optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9, weight_decay = 1e-4, nesterov = true})
    assert.equal(tostring(b), tostring(a))
    assert.equal(0.5, optim.SGD(net:parameters(), 0.5).param_groups[1].lr)
    local c = optim.Adam(net:parameters(), 0.01, {0.8, 0.9}, 1e-6, 0, true)
    assert.equal(tostring(optim.Adam(net:parameters(), {lr = 0.01, betas = {0.8, 0.9}, eps = 1e-6,
                                                         amsgrad = true})), tostring(c))
    local d = optim.AdamW(net:parameters(), 0.01, {0.8, 0.9})
    assert.same({0.8, 0.9}, d.param_groups[1].betas)
    local groups = optim.SGD({{params = {net.weight}, lr = 0.01, name = 'w'}, {params = {net.bias}}},
                             {lr = 0.1})
    assert.equal('w', groups.param_groups[1].name)
    assert.equal(0.1, groups.param_groups[2].lr)
  end)

  it('schedulers take PyTorch order', function()
    local net = nn.Linear(2, 2)
    local function opt() return optim.SGD(net:parameters(), 0.1, 0.9) end
    assert.equal(tostring(optim.StepLR(opt(), {step_size = 3, gamma = 0.5})), tostring(optim.StepLR(opt(), 3, 0.5)))
    assert.same({2, 5}, optim.MultiStepLR(opt(), {5, 2}, 0.5).milestones)
    assert.equal(10, optim.CosineAnnealingLR(opt(), 10).T_max)
    assert.equal(0.5, optim.LinearLR(opt(), 0.5).start_factor)
    assert.equal(100, optim.OneCycleLR(opt(), 1.0, 100).total_steps)
  end)
end)

describe('options errors', function()
  local net = nn.Linear(2, 2)
  it('an unknown option names the nearest one', function()
    check.raises(function() nn.Conv2d(1, 6, 5, {paddin = 2}) end,
                 "Conv2d: unknown option 'paddin' (did you mean 'padding'?)")
    check.raises(function() nn.MaxPool2d(2, {strid = 2}) end,
                 "MaxPool2d: unknown option 'strid' (did you mean 'stride'?)")
    check.raises(function() nn.AvgPool2d(2, {ceilmode = true}) end, "did you mean 'ceil_mode'?")
    check.raises(function() nn.Linear(2, 3, {biass = false}) end, "Linear: unknown option 'biass'")
    check.raises(function() nn.BatchNorm2d(3, {epsilon = 1e-3}) end, "BatchNorm2d: unknown option 'epsilon'")
    check.raises(function() nn.CrossEntropyLoss({reductio = 'sum'}) end,
                 "CrossEntropyLoss: unknown option 'reductio' (did you mean 'reduction'?)")
    check.raises(function() nn.MSELoss({reduce = 'sum'}) end, "MSELoss: unknown option 'reduce'")
    check.raises(function() optim.SGD(net:parameters(), {lr = 0.1, momentun = 0.9}) end,
                 "SGD: unknown option 'momentun' (did you mean 'momentum'?)")
    check.raises(function() optim.Adam(net:parameters(), {lr = 0.1, beta = {0.9, 0.99}}) end,
                 "Adam: unknown option 'beta' (did you mean 'betas'?)")
    check.raises(function() optim.StepLR(optim.SGD(net:parameters(), 0.1), {step_sise = 2}) end,
                 "StepLR: unknown option 'step_sise' (did you mean 'step_size'?)")
    local x = lc.randn(1, 1, 4, 4)
    check.raises(function() F.conv2d(x, lc.randn(1, 1, 3, 3), nil, {pading = 1}) end,
                 "conv2d: unknown option 'pading' (did you mean 'padding'?)")
    check.raises(function() F.max_pool2d(x, 2, {stide = 2}) end, "max_pool2d: unknown option 'stide'")
    check.raises(function() F.cross_entropy(lc.randn(2, 3), lc.tensor({1, 2}, {dtype = 'int64'}),
                                            {label_smothing = 0.1}) end,
                 "cross_entropy: unknown option 'label_smothing' (did you mean 'label_smoothing'?)")
    -- no near name: the valid ones are listed
    check.raises(function() nn.MaxPool2d(2, {xyz = 1}) end,
                 "MaxPool2d: unknown option 'xyz' (options: ceil_mode, dilation, padding, return_indices, stride)")
  end)

  it('too many arguments give the order', function()
    check.raises(function() nn.Linear(2, 3, true, 'cpu', 'float32', 1) end,
                 'Linear: too many arguments (6 given)', '(in_features, out_features, bias, device, dtype)')
    check.raises(function() nn.MaxPool2d(2, 2, 0, 1, false, false, 1) end,
                 'MaxPool2d: too many arguments (7 given)',
                 '(kernel_size, stride, padding, dilation, return_indices, ceil_mode)')
    check.raises(function() nn.CrossEntropyLoss('sum') end,
                 'CrossEntropyLoss: too many arguments (1 given)', 'label_smoothing, reduction')
    check.raises(function() F.avg_pool2d(lc.randn(1, 1, 4, 4), 2, 2, 0, false, true, nil, 1) end,
                 'avg_pool2d: too many arguments')
    check.raises(function() optim.SGD(net:parameters(), 0.1, 0.9, 0, 0, false, true) end,
                 'SGD: too many arguments (7 given)',
                 '(params, lr, momentum, dampening, weight_decay, nesterov)')
  end)

  it('an unsupported option, a repeated one or a misplaced table is refused', function()
    check.raises(function() nn.Conv2d(1, 6, 5, 1, 0, 1, 1, true, 'reflect') end,
                 "Conv2d: padding_mode = 'reflect' is not supported (only 'zeros')")
    check.raises(function() nn.MaxPool2d(2, 2, 0, 1, true) end,
                 'MaxPool2d: return_indices = true is not supported (only false)')
    check.raises(function() nn.MaxPool2d(2, 2, {stride = 2}) end,
                 "MaxPool2d: 'stride' given twice")
    check.raises(function() nn.Conv2d(1, 6, 5, {padding = 2}, 1) end,
                 'Conv2d: the options table must be the last argument')
    check.raises(function() nn.Conv2d(1, 6, 5, {1, padding = 2}) end,
                 'Conv2d: the options table has an entry without a name')
  end)
end)
