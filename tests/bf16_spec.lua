-- bfloat16 tensors on the CPU and lc.autocast (issue 16's CPU half): conversions round to
-- nearest-even, ops compute in float32 and round once, gradients flow through the casts, and
-- autocast runs conv2d/linear/matmul narrow and the float32 list wide, leaving parameters
-- and their gradients float32.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')
local nn, F = lc.nn, lc.F

-- The float32 a bfloat16 with these 16 bits widens to.
local function bits_to_float(bits) return string.unpack('<f', string.pack('<I4', bits << 16)) end

-- x rounded to bfloat16 as the reference rule says: nearest, ties to the even mantissa.
local function round_bf16(x)
  local u = string.unpack('<I4', string.pack('<f', x))
  local lower = u >> 16
  local rest = u & 0xffff
  if rest > 0x8000 or (rest == 0x8000 and lower & 1 == 1) then lower = lower + 1 end
  return bits_to_float(lower)
end

describe('bfloat16 tensors', function()
  it('convert from float32 to nearest, ties to even, keeping inf and nan', function()
    local values = {1, -2.5, 3.14159, 1e-3, 65504, 1 + 2^-8, 1 + 3 * 2^-8, 1 + 2^-9, 3.4e38, -1e-40}
    local t = lc.tensor(values):bfloat16()
    assert.equal('bfloat16', t.dtype)
    local got = t:tolist()
    for i, v in ipairs(values) do assert.equal(round_bf16(v), got[i], 'value ' .. v) end
    assert.equal(1, got[7 - 1]) -- 1 + 2^-8 is a tie: to the even mantissa, 1
    assert.equal(1 + 2^-7 * 2, got[7])  -- 1 + 3 * 2^-8 ties up to the even 1 + 2^-6
    assert.equal(math.huge, got[9])     -- above bfloat16's largest finite value
    local special = lc.tensor({1 / 0, -1 / 0, 0 / 0}):bfloat16():tolist()
    assert.equal(math.huge, special[1])
    assert.equal(-math.huge, special[2])
    assert.is_true(special[3] ~= special[3])
  end)

  it('widen to float32 exactly and convert to and from every dtype', function()
    local t = lc.tensor({0.5, -7, 300}):bfloat16()
    assert.same({0.5, -7, 300}, t:float():tolist())
    assert.same({0.5, -7, 300}, t:double():tolist())
    assert.same({0, -7, 300}, t:long():tolist())
    assert.same({1, 2, 3}, lc.tensor({1, 2, 3}, {dtype = 'int64'}):to('bf16'):tolist())
    assert.same({1, 255}, lc.tensor({1, 255}, {dtype = 'uint8'}):bfloat16():tolist())
    assert.equal(0.5, t[1]:item())
    assert.equal('bfloat16', lc.zeros(2, 3, {dtype = lc.bfloat16}).dtype)
    assert.same({{2, 2}}, lc.full({1, 2}, 2, {dtype = 'bfloat16'}):tolist())
  end)

  it('views, copies and transposes keep the bits', function()
    local a = lc.randn(6, 40):bfloat16()
    local t = a:t():contiguous()
    assert.same(a:float():t():contiguous():tolist(), t:float():tolist())
    local b = lc.zeros(40, 6, {dtype = 'bfloat16'})
    b:copy_(a:t())
    assert.same(t:tolist(), b:tolist())
    assert.same(a[{{2, 3}}]:tolist(), a:narrow(1, 2, 2):tolist())
  end)

  it('random fills stay in range after rounding', function()
    local u = lc.rand(20000, {dtype = 'bfloat16'})
    assert.is_true(u:max():item() < 1, 'uniform reached 1 after rounding')
    assert.is_true(u:min():item() >= 0)
    local n = lc.randn(20000, {dtype = 'bfloat16'})
    assert.is_true(math.abs(n:float():mean():item()) < 0.05)
  end)

  it('ops compute in float32 and round the result once', function()
    lc.manual_seed(1)
    local a, b = lc.randn(5, 7):bfloat16(), lc.randn(5, 7):bfloat16()
    local fa, fb = a:float(), b:float()
    local function same_as_rounded(got, want)
      assert.equal('bfloat16', got.dtype)
      assert.same(want:bfloat16():tolist(), got:tolist())
    end
    same_as_rounded(a + b, fa + fb)
    same_as_rounded(a * b, fa * fb)
    same_as_rounded(a:exp(), fa:exp())
    same_as_rounded(a:relu(), fa:relu())
    same_as_rounded(a:sum(), fa:sum())
    same_as_rounded(a:mean(2), fa:mean(2))
    same_as_rounded(a:matmul(b:t()), fa:matmul(fb:t()))
    same_as_rounded(F.log_softmax(a, 2), F.log_softmax(fa, 2))
    local x, w = lc.randn(2, 3, 9, 9):bfloat16(), lc.randn(4, 3, 3, 3):bfloat16()
    same_as_rounded(F.conv2d(x, w), F.conv2d(x:float(), w:float()))
    same_as_rounded(F.max_pool2d(x, 2), F.max_pool2d(x:float(), 2))
    same_as_rounded(F.avg_pool2d(x, 3), F.avg_pool2d(x:float(), 3))
    assert.equal('uint8', (a:gt(b)).dtype)
    assert.equal('float32', (a + lc.ones(5, 7)).dtype)       -- the wider float wins
    assert.equal('bfloat16', (a + lc.tensor(2)).dtype)       -- a 0-dim tensor does not
    assert.equal('bfloat16', (a + lc.ones(5, 7, {dtype = 'int64'})).dtype)
  end)

  it('gradients flow through bfloat16 ops and casts', function()
    local p = lc.randn(3, 4, {requires_grad = true})
    local y = (p:bfloat16() * 3):sum()
    assert.equal('bfloat16', y.dtype)
    y:backward()
    assert.equal('float32', p.grad.dtype)
    check.close(p.grad, lc.full({3, 4}, 3), 0)
    local q = lc.randn(4, 2, {dtype = 'bfloat16', requires_grad = true})
    q:relu():sum():backward()
    assert.equal('bfloat16', q.grad.dtype)
    q:relu():sum():backward()  -- accumulates in place, in float32, rounded once
    assert.same(q:detach():gt(0):float():mul(2):tolist(), q.grad:float():tolist())
  end)

  it('round-trips through safetensors as BF16', function()
    local path = os.tmpname()
    local t = lc.randn(3, 5):bfloat16()
    lc.save(path, {w = t})
    local f = io.open(path, 'rb')
    local header = f:read(8 + string.unpack('<I8', f:read(8)))
    f:close()
    assert.truthy(header:find('"dtype":"BF16"', 1, true), header)
    local back = lc.load(path)
    os.remove(path)
    assert.equal('bfloat16', back.w.dtype)
    assert.same(t:tolist(), back.w:tolist())
  end)

  it('the optimizers refuse bfloat16 parameters, naming autocast', function()
    local p = lc.randn(3, {dtype = 'bfloat16', requires_grad = true})
    p:sum():backward()
    local opt = lc.optim.SGD({p}, {lr = 0.1})
    check.raises(function() opt:step() end, 'sgd_step', 'bfloat16', 'lc.autocast')
  end)

  it('a module converts to bfloat16 and back', function()
    local net = nn.Linear(4, 3)
    net:to('bfloat16')
    assert.equal('bfloat16', net.weight.dtype)
    assert.equal('bfloat16', net(lc.randn(2, 4):bfloat16()).dtype)
    net:to('float32')
    assert.equal('float32', net.weight.dtype)
  end)
end)

describe('lc.autocast', function()
  it('runs conv2d, linear and matmul in bfloat16 and the float32 list in float32', function()
    local x, w = lc.randn(2, 3), lc.randn(3, 3)
    local r = {lc.autocast(function()
      local h = x:bfloat16()
      return x:matmul(w).dtype, F.linear(x, w).dtype, F.conv2d(lc.randn(1, 1, 5, 5), lc.randn(2, 1, 3, 3)).dtype,
             h:exp().dtype, h:log().dtype, h:sum().dtype, (h ^ 2).dtype, F.log_softmax(h, 2).dtype,
             F.cross_entropy(h, lc.tensor({1, 2}, {dtype = 'int64'})).dtype, h:relu().dtype, h:mean().dtype,
             x:double():matmul(w:double()).dtype, lc.autocast_dtype()
    end)}
    assert.same({'bfloat16', 'bfloat16', 'bfloat16', 'float32', 'float32', 'float32', 'float32',
                 'float32', 'float32', 'bfloat16', 'bfloat16', 'float64', 'bfloat16'}, r)
    assert.is_nil(lc.autocast_dtype())
    assert.equal('float32', x:matmul(w).dtype)
  end)

  it('matches float32 computed on bfloat16-rounded inputs, rounded once', function()
    lc.manual_seed(2)
    local x, w, b = lc.randn(4, 6), lc.randn(5, 6), lc.randn(5)
    local got = lc.autocast(function() return F.linear(x, w, b) end)
    local want = F.linear(x:bfloat16():float(), w:bfloat16():float(), b:bfloat16():float())
    assert.same(want:bfloat16():tolist(), got:tolist())
  end)

  it('trains a small CNN with float32 master weights, close to float32 training', function()
    local function run(mixed)
      lc.manual_seed(3)
      local net = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
      local X = lc.randn(16, 1, 8, 8)
      local y = lc.randint(1, 4, 16)
      local opt = lc.optim.SGD(net:parameters(), {lr = 0.2, momentum = 0.9})
      local losses = {}
      for step = 1, 15 do
        opt:zero_grad()
        local function forward() return F.cross_entropy(net(X), y) end
        local loss = mixed and lc.autocast(forward) or forward()
        assert.equal('float32', loss.dtype)
        loss:backward()
        for _, p in ipairs(net:parameters()) do assert.equal('float32', p.grad.dtype) end
        opt:step()
        losses[step] = loss:item()
      end
      return losses
    end
    local full, mixed = run(false), run(true)
    assert.is_true(mixed[15] < 0.5 * mixed[1], 'mixed precision did not learn: ' .. mixed[1] .. ' -> ' .. mixed[15])
    assert.is_true(math.abs(mixed[15] - full[15]) < 0.1 * full[1],
                   string.format('bfloat16 %.4f against float32 %.4f', mixed[15], full[15]))
  end)

  it('restores the setting after an error, and refuses what it cannot do', function()
    assert.is_false(pcall(lc.autocast, function() error('boom') end))
    assert.is_nil(lc.autocast_dtype())
    check.raises(function() lc.autocast({dtype = 'float64'}, function() end) end, 'autocast', 'bfloat16')
    check.raises(function() lc.autocast({dtpye = 'bfloat16'}, function() end) end, 'autocast', 'dtpye')
    assert.equal('float32', lc.autocast({enabled = false}, function() return lc.randn(2, 2):matmul(lc.randn(2, 2)).dtype end))
    -- an op that failed inside leaves autocast working for the next one
    lc.autocast(function()
      assert.is_false(pcall(F.linear, lc.randn(2, 3), lc.randn(4, 5)))
      assert.equal('bfloat16', lc.randn(2, 2):matmul(lc.randn(2, 2)).dtype)
    end)
  end)
end)
