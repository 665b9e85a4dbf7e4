-- Regressions for what the ASan + UBSan tree (build-asan) and the fuzzers found. Each case
-- is harmless-looking in the plain build; under the sanitizers the old code stopped the run.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

describe('sanitizer regressions', function()
  it('0-dim tensors and their views copy no sizes from a NULL list', function()
    local s = lc.tensor(2.5, { dtype = 'float64' })
    assert.are.equal(0, s:dim())
    assert.are.equal(2.5, s:item())
    assert.are.equal(2.5, s:view({}):item())
    assert.are.equal(2.5, (s + 1):item() - 1)
  end)

  it('eye(0, maxinteger) is an empty matrix, not a signed overflow in its diagonal stride', function()
    local e = lc.eye(0, math.maxinteger)
    assert.are.same({ 0, math.maxinteger }, e:size())
    assert.are.equal(0, e:numel())
  end)

  it('randint over the whole int64 range is refused by name instead of overflowing high - low', function()
    check.raises(function() lc.randint(math.mininteger, math.maxinteger, 3) end, 'randint', '2^53')
    local r = lc.randint(-(1 << 52), 1 << 52, 100)
    assert.is_true(r:min():item() >= -(1 << 52) and r:max():item() < (1 << 52))
  end)
end)

-- Inputs the fuzzers (tests/fuzz) found; the raw inputs are replayed by fuzz_replay/* too,
-- these check the message a user now gets.
describe('API fuzzer regressions', function()
  it('relu keeps NaN (as torch.relu) instead of turning it into 0', function()
    local r = lc.tensor({0 / 0, -1, 2}, {dtype = 'float64'}):relu():totable()
    assert.is_true(r[1] ~= r[1])
    assert.are.same({0, 2}, {r[2], r[3]})
  end)

  it('an integer tensor with a float64 0-dim tensor is float64 (torch.result_type), with a number float32', function()
    local i = lc.arange(3)
    assert.are.equal('float64', (i + lc.tensor(1.5, {dtype = 'float64'})).dtype)
    assert.are.equal('float64', (lc.tensor(1.5, {dtype = 'float64'}) / i).dtype)
    assert.are.equal('float32', (i + 1.5).dtype)
    assert.are.equal('float32', (lc.ones(2) + lc.tensor(1.5, {dtype = 'float64'})).dtype)
  end)

  it('batched matmul of empty views works (an empty tensor is contiguous, as in PyTorch)', function()
    local r = lc.ones(2, 0, 2):transpose(2, 3):matmul(lc.ones(0, 2))
    assert.are.same({2, 2, 2}, r:size())
    assert.are.equal(0, r:abs():sum():item())
    assert.is_true(lc.zeros(3, 0):t():is_contiguous())
  end)

  it('mse_loss of integers is refused by mse_loss, not by mean', function()
    check.raises(function() lc.nn.functional.mse_loss(lc.arange(3), lc.arange(3)) end, 'mse_loss', 'float')
  end)
end)

describe('fuzzer regressions', function()
  local tmp = os.tmpname()
  local function write(path, bytes)
    local f = assert(io.open(path, 'wb')); f:write(bytes); f:close()
  end
  local function sweep_error(fn)
    local ok, e = pcall(fn)
    assert.is_false(ok)
    assert.are.equal('table', type(e), tostring(e))
    return e.sweep_error
  end

  it('a PNG header of 4294967295 x 4294967295 pixels is refused, not an overflow', function()
    local f = assert(io.open(dir .. 'fuzz/regress/image/png-size-product-overflow', 'rb'))
    local bytes = f:read('a'):sub(2)   -- the harness's first byte picks the decode options
    f:close()
    check.raises(function() lc.image.decode(bytes) end, 'image.decode')  -- replayed under UBSan too
  end)

  it('an IDX header whose sizes multiply past int64 is a corrupt file, not an overflow', function()
    write(tmp, '\0\0\8\3' .. string.rep('\208', 12))
    check.raises(function() lc.core.read_idx(tmp) end, 'read_idx', 'implausible sizes')
  end)

  it('a checkpoint optimizer document with a bad state key or a missing Adam step is refused by name', function()
    local nn = lc.nn
    local net = nn.Linear(2, 1)
    local opt = lc.optim.Adam(net:parameters(), {lr = 0.01})
    opt:zero_grad(); net(lc.randn(3, 2)):sum():backward(); opt:step()
    local path = tmp .. '.safetensors'
    lc.io.save_checkpoint(path, {model = net, optimizer = opt})
    local opath = lc.io.optimizer_path(path)
    local tensors, meta = lc.load(opath)
    local doc = meta['luacnn.optimizer']
    local function try(d)
      lc.save(opath, tensors, {['luacnn.optimizer'] = d, ['luacnn.checkpoint_id'] = meta['luacnn.checkpoint_id']})
      local fresh = lc.optim.Adam(net:parameters(), {lr = 0.01})
      return function() lc.io.load_checkpoint(path, {model = net, optimizer = fresh}) end
    end
    check.raises(try((doc:gsub('"state":{"1"', '"state":{"O"'))), 'load_checkpoint', 'corrupt optimizer document')
    check.raises(try((doc:gsub('"step":1', '"stop":1'))), 'Adam:load_state_dict', 'unknown entry stop')
    check.raises(try((doc:gsub('"lr":0.01', '"lr":"fast"'))), 'Adam:load_state_dict', 'lr = fast')
    try(doc)()  -- the untouched document still loads
    os.remove(path); os.remove(opath)
  end)

  it('a sweep of billions of runs, or unbounded integer ranges, is a usage error instead of a hang', function()
    local sweep = require 'luacnn.cli.sweep'
    local o = sweep.parse_cli{'s.lua', '--random', '5444444444442', 'opt=sgd,adam'}
    assert.matches('too many', sweep_error(function() sweep.plan(o, nil, 'D') end))
    assert.matches('2%^53', sweep_error(function()
      sweep.parse_cli{'s.lua', '--random', '2', 'bs=logint:16:5444444444444444444444444444'}
    end))
    assert.matches('1 to 100000', sweep_error(function() sweep.parse_cli{'s.lua', '--seeds', '1000000000'} end))
  end)

  it('a damaged sweep.json run without a name is a usage error naming the run', function()
    local plan = require 'luacnn.sweep.plan'
    assert.matches('run 1 has a missing', sweep_error(function()
      plan.stored_runs({runs = {{index = 1, values = {lr = '0.1'}}}}, 'D')
    end))
    assert.matches('unsafe name', sweep_error(function() plan.stored_runs({runs = {{name = '../x'}}}, 'D') end))
  end)
  teardown(function() os.remove(tmp) end)
end)
