-- Optimizers against PyTorch's update rules written out here step by step in plain Lua,
-- parameter groups, learning-rate changes, state dicts, and the schedulers against
-- PyTorch's closed forms.
local lc = require 'luacnn'
local nn, optim = lc.nn, lc.optim
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

local function param(values) return lc.tensor(values, {dtype = 'float64', requires_grad = true}) end
local function grad(values) return lc.tensor(values, {dtype = 'float64'}) end

-- Runs `steps` optimizer steps on p with the given gradients (a list of lists), returning the
-- values of p after each step.
local function run(opt, p, grads)
  local out = {}
  for i, g in ipairs(grads) do
    p.grad = grad(g)
    opt:step()
    out[i] = p:totable()
  end
  return out
end

-- PyTorch's SGD, elementwise, as in torch/optim/sgd.py.
local function sgd_ref(p0, grads, h)
  local p, buf, out = {table.unpack(p0)}, nil, {}
  for s, g in ipairs(grads) do
    local d = {}
    for i = 1, #p do d[i] = g[i] + (h.weight_decay or 0) * p[i] end
    if (h.momentum or 0) ~= 0 then
      if not buf then
        buf = {table.unpack(d)}
      else
        for i = 1, #p do buf[i] = h.momentum * buf[i] + (1 - (h.dampening or 0)) * d[i] end
      end
      for i = 1, #p do d[i] = h.nesterov and d[i] + h.momentum * buf[i] or buf[i] end
    end
    for i = 1, #p do p[i] = p[i] - h.lr * d[i] end
    out[s] = {table.unpack(p)}
  end
  return out
end

-- PyTorch's Adam / AdamW, elementwise, as in torch/optim/adam.py (single-tensor path).
local function adam_ref(p0, grads, h, decoupled)
  local b1, b2 = h.betas and h.betas[1] or 0.9, h.betas and h.betas[2] or 0.999
  local eps, wd = h.eps or 1e-8, h.weight_decay or (decoupled and 1e-2 or 0)
  local p, m, v, vmax, out = {table.unpack(p0)}, {}, {}, {}, {}
  for i = 1, #p do m[i], v[i], vmax[i] = 0, 0, 0 end
  for t, g0 in ipairs(grads) do
    for i = 1, #p do
      local g = g0[i]
      if decoupled then p[i] = p[i] * (1 - h.lr * wd) else g = g + wd * p[i] end
      m[i] = m[i] + (1 - b1) * (g - m[i])
      v[i] = b2 * v[i] + (1 - b2) * g * g
      local vv = v[i]
      if h.amsgrad then vmax[i] = math.max(vmax[i], v[i]); vv = vmax[i] end
      local denom = math.sqrt(vv) / math.sqrt(1 - b2 ^ t) + eps
      p[i] = p[i] - h.lr / (1 - b1 ^ t) * m[i] / denom
    end
    out[t] = {table.unpack(p)}
  end
  return out
end

local p0 = {1.0, -2.0, 0.5}
local grads = {{0.1, -0.2, 0.3}, {0.4, 0.1, -0.5}, {-0.3, 0.2, 0.1}, {0.05, 0.0, -0.1}}

describe('SGD', function()
  local settings = {
    {lr = 0.1},
    {lr = 0.1, momentum = 0.9},
    {lr = 0.05, momentum = 0.9, dampening = 0.5},
    {lr = 0.1, momentum = 0.9, nesterov = true},
    {lr = 0.1, weight_decay = 0.01},
    {lr = 0.2, momentum = 0.8, weight_decay = 0.1, nesterov = true},
  }
  for _, h in ipairs(settings) do
    local name = {}
    for k, v in pairs(h) do name[#name + 1] = k .. '=' .. tostring(v) end
    table.sort(name)
    it('follows PyTorch step by step: ' .. table.concat(name, ' '), function()
      local p = param(p0)
      local got = run(optim.SGD({p}, h), p, grads)
      check.close(got, sgd_ref(p0, grads, h), 1e-12)
    end)
  end

  it('updates float32 parameters too', function()
    local p = lc.tensor(p0, {requires_grad = true})
    local opt = optim.SGD({p}, {lr = 0.1, momentum = 0.9})
    for _, g in ipairs(grads) do p.grad = lc.tensor(g); opt:step() end
    check.close(p, sgd_ref(p0, grads, {lr = 0.1, momentum = 0.9})[4], 1e-6)
  end)

  it('checks its options as PyTorch', function()
    local p = param(p0)
    check.raises(function() optim.SGD({p}, {lr = -1}) end, 'invalid learning rate -1')
    check.raises(function() optim.SGD({p}, {lr = 0.1, nesterov = true}) end,
                 'Nesterov momentum requires a momentum and zero dampening')
    check.raises(function() optim.SGD({p, p}, 0.1) end, 'more than one parameter group')
    check.raises(function() optim.SGD({lc.zeros(2, {dtype = 'int64'})}, 0.1) end, 'only float tensors')
  end)
end)

describe('Adam and AdamW', function()
  local settings = {
    {lr = 0.01},
    {lr = 0.05, betas = {0.8, 0.99}, eps = 1e-6},
    {lr = 0.01, weight_decay = 0.1},
    {lr = 0.01, amsgrad = true},
  }
  for _, h in ipairs(settings) do
    for _, kind in ipairs{'Adam', 'AdamW'} do
      local name = {}
      for k, v in pairs(h) do name[#name + 1] = k .. '=' .. (type(v) == 'table' and table.concat(v, ',') or tostring(v)) end
      table.sort(name)
      it(kind .. ' follows PyTorch step by step: ' .. table.concat(name, ' '), function()
        local p = param(p0)
        local got = run(optim[kind]({p}, h), p, grads)
        check.close(got, adam_ref(p0, grads, h, kind == 'AdamW'), 1e-12)
      end)
    end
  end

  it('keeps a step count per parameter', function()
    local a, b = param{1}, param{2}
    local opt = optim.Adam({a, b}, {lr = 0.1})
    a.grad = grad{1}
    opt:step()                      -- b has no gradient: skipped, no state
    assert.is_nil(opt.state[b])
    a.grad, b.grad = grad{1}, grad{1}
    opt:step()
    assert.are.equal(2, opt.state[a].step)
    assert.are.equal(1, opt.state[b].step)
    check.close(b, adam_ref({2}, {{1}}, {lr = 0.1})[1], 1e-12)
  end)
end)

describe('optimizers', function()
  it('take parameter groups with their own options, and a module', function()
    local a, b = param(p0), param(p0)
    local opt = optim.SGD({{params = {a}}, {params = {b}, lr = 0.01, momentum = 0.5}}, {lr = 0.1})
    assert.are.equal(0.1, opt.param_groups[1].lr)
    assert.are.equal(0, opt.param_groups[1].momentum)
    assert.are.equal(0.5, opt.param_groups[2].momentum)
    for _, g in ipairs(grads) do a.grad, b.grad = grad(g), grad(g); opt:step() end
    check.close(a, sgd_ref(p0, grads, {lr = 0.1})[4], 1e-12)
    check.close(b, sgd_ref(p0, grads, {lr = 0.01, momentum = 0.5})[4], 1e-12)
    local net = nn.Linear(3, 2)
    assert.are.equal(2, #optim.Adam(net).param_groups[1].params)
    local c = param{0}
    opt:add_param_group{params = {c}, lr = 1}
    assert.are.equal(3, #opt.param_groups)
    check.raises(function() opt:add_param_group{params = {a}} end, 'more than one parameter group')
  end)

  it('use a learning rate changed between steps', function()
    local p = param{1}
    local opt = optim.SGD({p}, 0.1)
    p.grad = grad{1}; opt:step()
    check.close(p, {0.9}, 1e-12)
    opt.param_groups[1].lr = 0.5
    opt:step()
    check.close(p, {0.4}, 1e-12)
    opt:set_lr(0.01)
    opt:step()
    check.close(p, {0.39}, 1e-12)
  end)

  it('zero_grad clears the gradients; step(closure) returns its loss', function()
    local p = param{3}
    local opt = optim.SGD({p}, 0.25)
    local loss = opt:step(function()
      opt:zero_grad()
      local l = (p * p):sum()
      l:backward()
      return l
    end)
    check.close(loss, 9)
    check.close(p, {3 - 0.25 * 6}, 1e-12)
    opt:zero_grad()
    assert.is_nil(p.grad)
  end)

  it('save and restore their state so that training resumes identically', function()
    for _, kind in ipairs{'SGD', 'Adam', 'AdamW'} do
      local h = {lr = 0.05, momentum = kind == 'SGD' and 0.9 or nil, amsgrad = kind == 'Adam' or nil}
      local a = param(p0)
      local full = optim[kind]({a}, h)
      local want = run(full, a, grads)[4]
      local b = param(p0)
      local first = optim[kind]({b}, h)
      run(first, b, {grads[1], grads[2]})
      local sd = first:state_dict()
      assert.are.same({1}, sd.param_groups[1].params)
      local c = lc.tensor(b, {dtype = 'float64', requires_grad = true})
      local second = optim[kind]({c}, {lr = 1})       -- hyper-parameters come from the state
      second:load_state_dict(sd)
      assert.are.equal(0.05, second.param_groups[1].lr)
      run(second, c, {grads[3], grads[4]})
      check.close(c, want, 1e-12, kind)
      -- the loaded state is a copy: stepping the first optimizer again does not change it
      assert.are_not.equal(first.state[b].exp_avg or first.state[b].momentum_buffer,
                           second.state[c].exp_avg or second.state[c].momentum_buffer)
    end
  end)

  it('refuse a state dict for other parameter groups', function()
    local opt = optim.SGD({param{1}, param{2}}, 0.1)
    local other = optim.SGD({param{1}}, 0.1)
    check.raises(function() other:load_state_dict(opt:state_dict()) end,
                 'parameter group 1 holds 2 parameters in the state dict but 1 in the optimizer')
  end)

  it('train a small model', function()
    lc.manual_seed(5)
    local X = lc.randn(256, 2)
    local w_true = lc.tensor{{2.0}, {-3.4}}
    local y = X:matmul(w_true) + 4.2
    local net = nn.Linear(2, 1)
    local opt = optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.5})
    local loss_fn = nn.MSELoss()
    for _ = 1, 100 do
      opt:zero_grad()
      loss_fn(net(X), y):backward()
      opt:step()
    end
    check.close(net.weight, {{2.0, -3.4}}, 1e-3)
    check.close(net.bias, {4.2}, 1e-3)
  end)
end)

describe('learning-rate schedulers', function()
  local function opt_with(lr) return optim.SGD({param{1}}, {lr = lr, momentum = 0.9}) end

  local function lrs(sched, opt, n)
    local out = {opt.param_groups[1].lr}
    for _ = 1, n do sched:step(); out[#out + 1] = opt.param_groups[1].lr end
    return out
  end

  it('StepLR: base * gamma ^ floor(epoch / step_size)', function()
    local opt = opt_with(0.1)
    local s = optim.lr_scheduler.StepLR(opt, {step_size = 3, gamma = 0.5})
    check.close(lrs(s, opt, 7), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025}, 1e-15)
    check.close(s:get_last_lr(), {0.025}, 1e-15)
  end)

  it('MultiStepLR: gamma per milestone passed', function()
    local opt = opt_with(1)
    local s = optim.MultiStepLR(opt, {milestones = {2, 4}, gamma = 0.1})
    check.close(lrs(s, opt, 5), {1, 1, 0.1, 0.1, 0.01, 0.01}, 1e-15)
  end)

  it('CosineAnnealingLR: eta_min + (base - eta_min)(1 + cos(pi t / T_max)) / 2', function()
    local opt = opt_with(0.1)
    local s = optim.CosineAnnealingLR(opt, {T_max = 10, eta_min = 0.001})
    local want = {}
    for t = 0, 10 do want[t + 1] = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 end
    local got = lrs(s, opt, 10)
    check.close(got, want, 1e-14)
    assert.are.equal(0.1, got[1])
    check.close(got[11], 0.001, 1e-14)
  end)

  it('LinearLR warms up linearly then holds', function()
    local opt = opt_with(0.3)
    local s = optim.LinearLR(opt, {start_factor = 0.1, total_iters = 4})
    check.close(lrs(s, opt, 6), {0.03, 0.0975, 0.165, 0.2325, 0.3, 0.3, 0.3}, 1e-14)
  end)

  it('OneCycleLR: cosine rise to max_lr over pct_start, then down to initial / final_div', function()
    local opt = opt_with(0.1)
    local s = optim.OneCycleLR(opt, {max_lr = 1.0, total_steps = 10})
    local got = lrs(s, opt, 9)
    -- phase ends at pct_start * total - 1 = 2 and total - 1 = 9
    local initial, min_lr = 1 / 25, 1 / 25 / 1e4
    local function cos_anneal(a, b, pct) return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1) end
    local want = {}
    for t = 0, 9 do
      if t <= 2 then want[t + 1] = cos_anneal(initial, 1, t / 2)
      else want[t + 1] = cos_anneal(1, min_lr, (t - 2) / 7) end
    end
    check.close(got, want, 1e-14)
    check.close({got[1], got[3], got[10]}, {0.04, 1, 4e-6}, 1e-12)
    -- momentum moves against the learning rate: max at the ends, base at the peak
    check.close(opt.param_groups[1].momentum, 0.95, 1e-12)
    check.raises(function() s:step() s:step() end, 'total_steps = 10')
  end)

  it('OneCycleLR: linear three-phase schedule and Adam betas', function()
    local p = param{1}
    local opt = optim.Adam({p}, {lr = 0.1})
    local s = optim.OneCycleLR(opt, {max_lr = 0.5, epochs = 2, steps_per_epoch = 5,
                                     three_phase = true, anneal_strategy = 'linear'})
    assert.are.equal(0.95, opt.param_groups[1].betas[1])
    local got = lrs(s, opt, 9)
    -- ends: 0.3 * 10 - 1 = 2, 2 * 0.3 * 10 - 2 = 4, 9
    local i, m, lo = 0.02, 0.5, 0.02 / 1e4
    local want = {i, (m - i) / 2 + i, m, (i - m) / 2 + m, i}
    for t = 5, 9 do want[t + 1] = (lo - i) * (t - 4) / 5 + i end
    check.close(got, want, 1e-14)
    check.close(opt.param_groups[1].betas[1], 0.95, 1e-12)
  end)

  it('save and restore their position', function()
    local opt = opt_with(0.1)
    local s = optim.StepLR(opt, {step_size = 2})
    s:step(); s:step(); s:step()
    local sd = s:state_dict()
    local opt2 = opt_with(0.1)
    local s2 = optim.StepLR(opt2, {step_size = 2})
    s2:load_state_dict(sd)
    s2:step()
    s:step()
    assert.are.equal(opt.param_groups[1].lr, opt2.param_groups[1].lr)
    assert.are.equal(4, s2.last_epoch)
  end)

  it('refuse a saved state that breaks their own rules, and keep theirs', function()
    -- a step_size of 0 from a corrupt checkpoint once loaded and only failed at the next
    -- step, with Lua's divide-by-zero (found by the checkpoint fuzzer)
    local cases = {
      {optim.StepLR, {step_size = 2}, {step_size = 0}, 'StepLR:load_state_dict: step_size must be a positive integer'},
      {optim.CosineAnnealingLR, {T_max = 4}, {T_max = -1}, 'CosineAnnealingLR:load_state_dict: T_max'},
      {optim.LinearLR, {}, {start_factor = 0}, 'LinearLR:load_state_dict: start_factor'},
      {optim.MultiStepLR, {milestones = {2, 4}}, {milestones = {2, 0.5}}, 'MultiStepLR:load_state_dict: milestone 2'},
    }
    for _, c in ipairs(cases) do
      local opt = opt_with(0.1)
      local s = c[1](opt, c[2])
      local sd = s:state_dict()
      for k, v in pairs(c[3]) do sd[k] = v end
      local before = s:state_dict()
      check.raises(function() s:load_state_dict(sd) end, c[4])
      assert.are.same(before, s:state_dict())
      s:step()
    end
    local opt = opt_with(0.1)
    local s = optim.OneCycleLR(opt, {max_lr = 0.5, total_steps = 10})
    local sd = s:state_dict()
    sd.phases[1] = {end_step = 2, start = 'nope', stop = 'max_lr', m_start = 'max_momentum', m_stop = 'base_momentum'}
    check.raises(function() s:load_state_dict(sd) end, 'OneCycleLR:load_state_dict: phase 1')
  end)
end)

describe('on a GPU', function()
  local gpu = lc.cuda.is_available()
  local test = gpu and it or pending

  test('the fused steps give the CPU results', function()
    for _, case in ipairs{{'SGD', {lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01}},
                          {'SGD', {lr = 0.1}},
                          {'Adam', {lr = 0.01, amsgrad = true}}, {'AdamW', {lr = 0.01}}} do
      local kind, h = case[1], case[2]
      local a = lc.tensor(p0, {requires_grad = true})
      local b = lc.tensor(p0):cuda()
      b.requires_grad = true
      local oa, ob = optim[kind]({a}, h), optim[kind]({b}, h)
      for _, g in ipairs(grads) do
        a.grad, b.grad = lc.tensor(g), lc.tensor(g):cuda()
        oa:step(); ob:step()
      end
      assert.are.equal('cuda:0', b.device)
      check.close(b:cpu(), a, 1e-6, kind)
    end
  end)
end)

describe('optimizers and modules that move', function()
  it('keep training the same parameters after net:to(), their state following', function()
    local lc = require 'luacnn'
    local nn = lc.nn
    lc.manual_seed(1)
    local net = nn.Linear(3, 2)
    local twin = nn.Linear(3, 2)
    twin:load_state_dict(net:state_dict())
    local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
    local opt_twin = lc.optim.SGD(twin:parameters(), {lr = 0.1, momentum = 0.9})
    local x = lc.randn(4, 3)
    local function step(m, o, input)
      o:zero_grad();
      (m(input) ^ 2):sum():backward()
      o:step()
    end
    step(net, opt, x); step(twin, opt_twin, x)
    local weight = net.weight
    net:to('float64')                      -- the optimizer was made before the move
    assert.is_true(rawequal(weight, net.weight))
    assert.are.equal('float64', net.weight.dtype)
    step(net, opt, x:double())
    step(twin, opt_twin, x)
    assert.are.equal('float64', opt.state[net.weight].momentum_buffer.dtype)
    local d = (net.weight - twin.weight:double()):abs():max():item()
    assert.is_true(d < 1e-6, 'max diff ' .. d)
  end)
end)
