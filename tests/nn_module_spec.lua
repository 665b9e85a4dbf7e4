-- nn.Module and the containers: registration, traversal, modes, conversion, state dicts,
-- printing, summary and the error paths.
local lc = require 'luacnn'
local nn = lc.nn
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

local function lenet()
  return nn.Sequential{
    nn.Reshape(-1, 1, 28, 28),
    nn.Conv2d(1, 6, 5, {padding = 2}), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, {stride = 2}),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10),
  }
end

local Residual = nn.Module:extend 'Residual'
function Residual:init(cin, cout, opts)
  opts = opts or {}
  local s = opts.stride or 1
  self.conv1 = nn.Conv2d(cin, cout, 3, {padding = 1, stride = s})
  self.conv2 = nn.Conv2d(cout, cout, 3, {padding = 1})
  self.conv3 = opts.use_1x1conv and nn.Conv2d(cin, cout, 1, {stride = s}) or nil
  self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)
end
function Residual:forward(X)
  local Y = lc.relu(self.bn1(self.conv1(X)))
  Y = self.bn2(self.conv2(Y))
  if self.conv3 then X = self.conv3(X) end
  return lc.relu(Y + X)
end

local function keys_of(iter)
  local out = {}
  for name in iter do out[#out + 1] = name end
  return out
end

describe('nn.Module subclasses', function()
  it('run init on construction and forward on call', function()
    local Scale = nn.Module:extend 'Scale'
    function Scale:init(k) self.k = k end
    function Scale:forward(x) return x * self.k end
    local m = Scale(3)
    check.close(m(lc.tensor{1, 2}), {3, 6})
    assert.are.equal('Scale', nn.class_name(m))
    assert.are.equal(3, m.k)
  end)

  it('register modules and parameters assigned as fields, in assignment order', function()
    local M = nn.Module:extend 'M'
    function M:init()
      self.b = nn.Parameter(lc.zeros(2))
      self.lin = nn.Linear(2, 3)
      self.a = nn.Parameter(lc.ones(4))
      self.plain = lc.zeros(5)          -- a plain tensor: an attribute, not a parameter
      self.n = 7
    end
    function M:forward(x) return self.lin(x * self.b) end
    local m = M()
    assert.are.same({'b', 'a', 'lin.weight', 'lin.bias'}, keys_of(m:named_parameters()))
    assert.are.equal(4, #m:parameters())
    assert.is_true(m.a.requires_grad)
    assert.is_false(m.plain.requires_grad)
    assert.are.equal(7, m.n)
    assert.are.equal(1, #m:children())
    assert.are.equal(2, #m:modules())
    -- reassigning a module field replaces the child in place
    m.lin = nn.Linear(2, 5)
    assert.are.equal(5, m.lin.out_features)
    assert.are.same({'b', 'a', 'lin.weight', 'lin.bias'}, keys_of(m:named_parameters()))
    -- assigning nil keeps the name registered (PyTorch's None) but drops the tensor
    m.a = nil
    assert.are.same({'b', 'lin.weight', 'lin.bias'}, keys_of(m:named_parameters()))
    assert.is_nil(m.a)
  end)

  it('nn.Parameter makes a leaf that requires grad', function()
    local p = nn.Parameter(lc.zeros(3))
    assert.is_true(p.requires_grad)
    assert.is_true(nn.is_parameter(p))
    local x = lc.ones(2, {requires_grad = true})
    local q = nn.Parameter(x * 2)
    assert.is_true(q.is_leaf)
    local frozen = nn.Parameter(lc.zeros(1), false)
    assert.is_false(frozen.requires_grad)
  end)

  it('refuse a computed tensor in a parameter slot and a wrong type for a child', function()
    local lin = nn.Linear(2, 2)
    local x = lc.ones(2, 2, {requires_grad = true})
    check.raises(function() lin.weight = x * 2 end, "parameter 'weight'")
    local s = nn.Sequential(nn.ReLU())
    check.raises(function() s['1'] = 5 end, "child module '1'")
  end)

  it('name nested parameters with dotted paths, Sequential children by number', function()
    local net = nn.Sequential(
      nn.Conv2d(1, 4, 3),
      nn.Sequential(Residual(4, 4), Residual(4, 8, {use_1x1conv = true, stride = 2})))
    local names = keys_of(net:named_parameters())
    assert.are.equal('1.weight', names[1])
    assert.are.equal('2.1.conv1.weight', names[3])
    local set = {}
    for _, n in ipairs(names) do set[n] = true end
    assert.is_true(set['2.2.conv3.bias'])
    assert.is_true(set['2.2.bn2.weight'])
    assert.is_nil(set['2.1.conv3.weight'])
    local bufs = keys_of(net:named_buffers())
    -- (the order of bn1 and bn2 follows Lua's multiple assignment, which is unspecified)
    assert.truthy(bufs[1]:match('^2%.1%.bn[12]%.running_mean$'))
    assert.are.equal(bufs[1]:gsub('running_mean', 'running_var'), bufs[2])
    assert.are.equal(bufs[1]:gsub('running_mean', 'num_batches_tracked'), bufs[3])
    assert.are.equal(12, #bufs)
    assert.are.equal(net[2][2].conv3, net:get_submodule('2.2.conv3'))
  end)

  it('count a shared parameter once, and keep it shared through to()', function()
    local lin = nn.Linear(3, 3)
    local net = nn.Sequential(lin, nn.ReLU(), lin)
    assert.are.equal(2, #net:parameters())
    assert.are.equal(12, net:num_parameters())
    assert.are.equal(3, #net:modules())   -- Sequential, Linear (once), ReLU
    local M = nn.Module:extend 'Tied'
    function M:init()
      self.a = nn.Linear(2, 2)
      self.b = nn.Linear(2, 2)
      self.b.weight = self.a.weight
    end
    local m = M():double()
    assert.are.equal('float64', m.b.weight.dtype)
    assert.are.equal(m.a.weight, m.b.weight)
    assert.are.equal(3, #m:parameters())
  end)

  it('tell instances of a class with is_a', function()
    local Block = nn.Sequential:extend 'Block'
    local b = Block(nn.ReLU())
    assert.is_true(b:is_a(Block))
    assert.is_true(b:is_a(nn.Sequential))
    assert.is_true(b:is_a(nn.Module))
    assert.is_false(b:is_a(nn.Linear))
    assert.are.equal(nn.Linear, getmetatable(nn.Linear(1, 1)))
  end)

  it('switch train and eval mode recursively', function()
    local net = nn.Sequential(nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(3)))
    assert.is_true(net[2][1].training)
    assert.are.equal(net, net:eval())
    assert.is_false(net.training)
    assert.is_false(net[1].training)
    assert.is_false(net[2][1].training)
    net:train()
    assert.is_true(net[2][1].training)
  end)

  it('zero_grad clears the gradients; apply visits children first', function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    net(lc.ones(1, 2)):sum():backward()
    for _, p in ipairs(net:parameters()) do assert.is_not_nil(p.grad) end
    net:zero_grad()
    for _, p in ipairs(net:parameters()) do assert.is_nil(p.grad) end
    local order = {}
    net:apply(function(m) order[#order + 1] = nn.class_name(m) end)
    assert.are.same({'Linear', 'Linear', 'Sequential'}, order)
    net:apply(function(m)
      if nn.class_name(m) == 'Linear' then nn.init.constant_(m.weight, 0.5) end
    end)
    check.close(net[2].weight, {{0.5, 0.5}})
  end)

  it('to(dtype) converts parameters and float buffers, keeping their registration', function()
    local net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    local before = net[1].weight:double():totable()
    net:to('float64')
    assert.are.equal('float64', net[1].weight.dtype)
    assert.are.equal('float64', net[2].running_mean.dtype)
    assert.are.equal('int64', net[2].num_batches_tracked.dtype)
    assert.is_true(net[1].weight.requires_grad)
    assert.is_true(nn.is_parameter(net[1].weight))
    assert.are.equal(net[1].weight, net:parameters()[1])
    check.close(net[1].weight, before)
    local y = net(lc.ones(4, 2, {dtype = 'float64'}))
    assert.are.equal('float64', y.dtype)
    net:to('cpu')   -- same device: parameters stay the very same tensors
    assert.are.equal(net[1].weight, net:parameters()[1])
  end)
end)

describe('containers', function()
  it('Sequential takes a list or varargs; indexes, counts, iterates and adds', function()
    local a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    local s1, s2 = nn.Sequential{a, b}, nn.Sequential(a, b)
    assert.are.equal(2, #s1)
    assert.are.equal(2, #s2)
    assert.are.equal(b, s1[2])
    assert.are.equal(b, s1[-1])
    assert.is_nil(s1[3])
    s1:add(c)
    assert.are.equal(3, #s1)
    local seen = {}
    for i, m in ipairs(s1) do seen[i] = nn.class_name(m) end
    assert.are.same({'ReLU', 'Tanh', 'Sigmoid'}, seen)
    s1[2] = nn.Identity()
    assert.are.equal('Identity', nn.class_name(s1[2]))
    check.close(s1(lc.tensor{-1, 0}), {0.5, 0.5})
  end)

  it('Sequential forwards through its layers in order', function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    nn.init.constant_(net[1].weight, -1)
    nn.init.zeros_(net[1].bias)
    check.close(net(lc.tensor{{1, -3}}), {{2, 2}})
    check.close(nn.Sequential()(lc.tensor{1}), {1})
  end)

  it('reject what is not a module', function()
    check.raises(function() nn.Sequential{nn.ReLU(), 5} end, 'element 2', 'not a module')
    check.raises(function() nn.Sequential{conv = nn.ReLU()} end, 'add_module')
    check.raises(function() nn.Sequential():add('x') end, 'expected a module')
  end)

  it('ModuleList registers its modules without a forward', function()
    local Stack = nn.Module:extend 'Stack'
    function Stack:init()
      self.layers = nn.ModuleList{nn.Linear(2, 2), nn.Linear(2, 2)}
      self.layers:append(nn.Linear(2, 1))
    end
    function Stack:forward(x)
      for _, l in ipairs(self.layers) do x = l(x) end
      return x
    end
    local s = Stack()
    assert.are.equal(3, #s.layers)
    assert.are.equal('layers.3.bias', keys_of(s:named_parameters())[6])
    assert.are.same({5, 1}, s(lc.ones(5, 2)):shape())
    check.raises(function() s.layers(lc.ones(1)) end, 'ModuleList has no forward')
    local Sub = nn.ModuleList:extend 'Sub'   -- a class, not an append
    assert.are.equal('Sub', nn.class_name(Sub()))
  end)
end)

describe('state dicts', function()
  it('list parameters then buffers of each module, children after, in order', function()
    local net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Linear(2, 2))
    assert.are.same({'1.weight', '1.bias', '2.weight', '2.bias', '2.running_mean', '2.running_var',
                     '2.num_batches_tracked', '4.weight', '4.bias'},
                    nn.state_dict_keys(net:state_dict()))
    local sd = net:state_dict()
    assert.is_false(sd['1.weight'].requires_grad)   -- detached, sharing storage
    lc.no_grad(function() net[1].bias:fill_(3) end)
    check.close(sd['1.bias'], {3, 3})
  end)

  it('leave out non-persistent buffers', function()
    local M = nn.Module:extend 'WithBuffers'
    function M:init()
      self:register_buffer('kept', lc.zeros(2))
      self:register_buffer('scratch', lc.zeros(2), false)
    end
    local m = M()
    assert.are.same({'kept'}, nn.state_dict_keys(m:state_dict()))
    assert.are.equal(2, #m:buffers())
  end)

  it('load into a fresh model, which then computes the same outputs', function()
    lc.manual_seed(1)
    local a, b = lenet(), lenet()
    local x = lc.rand(2, 1, 28, 28)
    assert.is_true((a(x) - b(x)):abs():max():item() > 1e-4)
    local r = b:load_state_dict(a:state_dict())
    assert.are.same({}, r.missing_keys)
    check.close(b(x), a(x), 0)
  end)

  it('name missing, unexpected and mis-shaped keys', function()
    local net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    local sd = net:state_dict()
    sd['2.running_var'] = nil
    sd['3.weight'] = lc.zeros(1)
    local err = check.raises(function() net:load_state_dict(sd) end,
                             'Missing key(s) in state_dict: "2.running_var"',
                             'Unexpected key(s) in state_dict: "3.weight"')
    assert.truthy(err:find('Sequential', 1, true))
    local sd2 = net:state_dict()
    sd2['1.weight'] = lc.zeros(4, 2)
    check.raises(function() net:load_state_dict(sd2) end,
                 'size mismatch for 1.weight', '(4, 2)', '(3, 2)')
    -- strict = false reports instead of failing, and still refuses a wrong shape
    local r = net:load_state_dict(sd, {strict = false})
    assert.are.same({'2.running_var'}, r.missing_keys)
    assert.are.same({'3.weight'}, r.unexpected_keys)
    check.raises(function() net:load_state_dict(sd2, {strict = false}) end, 'size mismatch')
  end)

  it('check everything before copying anything', function()
    local net = nn.Linear(2, 2)
    local before = net.weight:clone()
    local sd = {weight = lc.ones(2, 2), bias = lc.ones(3)}
    check.raises(function() net:load_state_dict(sd) end, 'size mismatch for bias')
    check.close(net.weight, before, 0)
  end)

  it('copy values across dtypes', function()
    local a = nn.Linear(2, 2):double()
    local b = nn.Linear(2, 2)
    b:load_state_dict(a:state_dict())
    assert.are.equal('float32', b.weight.dtype)
    check.close(b.weight, a.weight, 1e-6)
  end)
end)

describe('printing', function()
  it('shows the tree like PyTorch', function()
    local net = nn.Sequential(nn.Conv2d(1, 6, 5, {padding = 2}), nn.MaxPool2d(3, {stride = 2}),
                              nn.Sequential(nn.Linear(2, 3, {bias = false}), nn.Dropout(0.5)))
    assert.are.equal(table.concat({
      'Sequential(',
      '  (1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))',
      '  (2): MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)',
      '  (3): Sequential(',
      '    (1): Linear(in_features=2, out_features=3, bias=False)',
      '    (2): Dropout(p=0.5)',
      '  )',
      ')'}, '\n'), tostring(net))
    local r = Residual(3, 3)
    assert.truthy(tostring(r):find('(bn2): BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, ' ..
                                   'track_running_stats=True)', 1, true))
  end)

  it('summary lists output shapes and parameter counts, with the total', function()
    local text = lenet():summary({1, 1, 28, 28}, {print = false})
    local lines = {}
    for l in text:gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.are.equal(16, #lines)   -- header, input, 13 layers, total
    assert.truthy(lines[4]:find('^ 2%s+Conv2d%s+%(1, 6, 28, 28%)%s+156$'))
    assert.truthy(lines[9]:find('^ 7%s+AvgPool2d%s+%(1, 16, 5, 5%)%s+0$'))
    assert.truthy(lines[11]:find('^ 9%s+Linear%s+%(1, 120%)%s+48,120$'))
    assert.truthy(lines[16]:find('^%s+total%s+61,706$'))
  end)

  it('summary recurses into children with depth, and restores the training modes', function()
    local net = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1}),
                              nn.Sequential(Residual(4, 4), Residual(4, 8, {use_1x1conv = true, stride = 2})))
    net:train()
    local text = net:summary({2, 1, 8, 8}, {depth = 3, print = false})
    assert.truthy(text:find('2.2.conv3%s+Conv2d%s+%(2, 8, 4, 4%)'))
    assert.truthy(text:find('\n 2%s+Sequential%s+%(2, 8, 4, 4%)'))
    assert.is_true(net[2][1].bn1.training)
    check.close(net[2][1].bn1.num_batches_tracked, 0)   -- ran in eval mode
  end)
end)

describe('errors inside forward', function()
  it('name the layer path, its class and what was expected', function()
    local net = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1}),
                              nn.Sequential(Residual(4, 4), Residual(4, 4)))
    net[2][2].conv1 = nn.Conv2d(3, 4, 3, {padding = 1})
    check.raises(function() net(lc.rand(1, 1, 8, 8)) end,
                 'net[2][2].conv1 (Conv2d): conv2d: expected input with 3 channels, got 4')
    check.raises(function() net(lc.rand(1, 2, 8, 8)) end,
                 'net[1] (Conv2d): conv2d: expected input with 1 channels, got 2')
  end)

  it('keep working after an error', function()
    local net = nn.Sequential(nn.Linear(4, 2))
    check.raises(function() net(lc.rand(3, 5)) end,
                 'net[1] (Linear): linear: expected input with 4 features in its last dim, got 5')
    assert.are.same({3, 2}, net(lc.rand(3, 4)):shape())
    check.raises(function() net(lc.rand(3, 6)) end, 'net[1] (Linear)')
  end)

  it('report a missing forward', function()
    local Empty = nn.Module:extend 'Empty'
    check.raises(function() Empty()(lc.ones(1)) end, 'Empty: forward is not implemented')
  end)
end)

describe('on a GPU', function()
  local gpu = lc.cuda.is_available()
  local test = gpu and it or pending

  test('to(cuda) moves parameters and buffers, keeping them registered, and trains there', function()
    lc.manual_seed(4)
    local net = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1}), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    local ref = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1}), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    ref:load_state_dict(net:state_dict())
    assert.are.equal(net, net:to('cuda'))
    for name, p in net:named_parameters() do
      assert.are.equal('cuda:0', p.device, name)
      assert.is_true(p.requires_grad and p.is_leaf and nn.is_parameter(p), name)
    end
    for name, b in net:named_buffers() do assert.are.equal('cuda:0', b.device, name) end
    assert.are.equal('int64', net[2].num_batches_tracked.dtype)
    local x, y = lc.rand(5, 1, 8, 8), lc.randint(1, 4, 5)
    local loss = nn.CrossEntropyLoss()
    local l_gpu = loss(net(x:cuda()), y:cuda())
    local l_cpu = loss(ref(x), y)
    check.close(l_gpu:cpu(), l_cpu, 1e-5)
    l_gpu:backward(); l_cpu:backward()
    for name, p in net:named_parameters() do
      assert.are.equal('cuda:0', p.grad.device)
      check.close(p.grad:cpu(), ref:get_submodule(name:match('^(.*)%.[^.]+$'))[name:match('[^.]+$')].grad, 1e-4, name)
    end
    check.close(net[2].running_mean:cpu(), ref[2].running_mean, 1e-5)
    check.raises(function() net(x) end, 'net[1] (Conv2d): conv2d: input is on cpu but weight is on cuda:0')
    net:cpu()
    assert.are.equal('cpu', net[6].weight.device)
    check.close(net(x), ref(x), 1e-5)
  end)
end)
