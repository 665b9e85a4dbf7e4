-- Checkpoints: safetensors files (the format read back by hand here, and a file written by
-- the reference Python implementation read by us), round trips of models and optimizers,
-- atomic writes, and the errors for missing or damaged files.
local lc = require 'luacnn'
local nn, optim = lc.nn, lc.optim
local json = require 'luacnn.json'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

-- lc.save / lc.load are lc.io.save / lc.io.load
local save, load = lc.save or lc.io.save, lc.load or lc.io.load

local tmpdir
local function path(name) return tmpdir .. '/' .. name end

local function read(p)
  local f = assert(io.open(p, 'rb'))
  local d = f:read('a')
  f:close()
  return d
end

local function write(p, data)
  local f = assert(io.open(p, 'wb'))
  f:write(data)
  f:close()
end

local function listdir(d)
  local out = {}
  local p = io.popen('ls -A ' .. d)
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  table.sort(out)
  return out
end

local function lenet()
  return nn.Sequential{
    nn.Conv2d(1, 6, 5, {padding = 2}), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2),
    nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
    nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 10),
  }
end

-- A file written by the safetensors Python package (safetensors.numpy.save_file) with
-- a: float64 arange(6).reshape(2, 3), b: int64 [1, 2, 3], c: uint8 [7, 8],
-- z: float32 ones(2, 2), metadata {k = 'v'}.
local PYTHON_FILE_HEX =
  'f8000000000000007b225f5f6d657461646174615f5f223a7b226b223a2276227d2c2262223a7b226474797065223a' ..
  '22493634222c227368617065223a5b335d2c22646174615f6f666673657473223a5b302c32345d7d2c2261223a7b22' ..
  '6474797065223a22463634222c227368617065223a5b322c335d2c22646174615f6f666673657473223a5b32342c37' ..
  '325d7d2c227a223a7b226474797065223a22463332222c227368617065223a5b322c325d2c22646174615f6f666673' ..
  '657473223a5b37322c38385d7d2c2263223a7b226474797065223a225538222c227368617065223a5b325d2c226461' ..
  '74615f6f666673657473223a5b38382c39305d7d7d01000000000000000200000000000000030000000000000000000000' ..
  '00000000000000000000f03f000000000000004000000000000008400000000000001040000000000000144000008' ..
  '03f0000803f0000803f0000803f0708'

local function unhex(h) return (h:gsub('%x%x', function(b) return string.char(tonumber(b, 16)) end)) end

setup(function()
  local p = io.popen('mktemp -d /tmp/luacnn-ckpt-XXXXXX')
  tmpdir = p:read('l')
  p:close()
end)

teardown(function()
  if tmpdir and tmpdir:match('^/tmp/luacnn%-ckpt%-') then os.execute('rm -rf ' .. tmpdir) end
end)

describe('safetensors files', function()
  it('follow the format: length, JSON header padded to 8 bytes, raw little-endian data', function()
    local t64 = lc.tensor({{1.5, -2}, {3, 4}}, {dtype = 'float64'})
    local i64 = lc.tensor({-1, 2 ^ 40, 7}, {dtype = 'int64'})
    local u8 = lc.tensor({0, 255}, {dtype = 'uint8'})
    local f32 = lc.tensor({0.25, -8}, {dtype = 'float32'})
    local scalar = lc.tensor(5, {dtype = 'int64'})
    local sd = nn.ordered_dict({'w', 'idx', 'px', 'f', 'n'}, {w = t64, idx = i64, px = u8, f = f32, n = scalar})
    lc.io.save(path('fmt.safetensors'), sd, {note = 'hello'})
    local data = read(path('fmt.safetensors'))
    local n = string.unpack('<I8', data)
    assert.are.equal(0, n % 8)
    local header = json.decode(data:sub(9, 8 + n))
    assert.are.same({note = 'hello'}, header.__metadata__)
    assert.are.same({dtype = 'F64', shape = {2, 2}, data_offsets = {0, 32}}, header.w)
    assert.are.same({dtype = 'I64', shape = {3}, data_offsets = {32, 56}}, header.idx)
    assert.are.same({dtype = 'U8', shape = {2}, data_offsets = {56, 58}}, header.px)
    assert.are.same({dtype = 'F32', shape = {2}, data_offsets = {58, 66}}, header.f)
    assert.are.same({dtype = 'I64', shape = {}, data_offsets = {66, 74}}, header.n)
    local body = data:sub(9 + n)
    assert.are.equal(74, #body)
    local a, b, c, d = string.unpack('<dddd', body)
    assert.are.same({1.5, -2, 3, 4}, {a, b, c, d})
    assert.are.equal(2 ^ 40, (string.unpack('<i8', body, 33 + 8)))
    assert.are.same({0, 255}, {body:byte(57, 58)})
    assert.are.equal(-8, (string.unpack('<f', body, 59 + 4)))
    assert.are.equal(5, (string.unpack('<i8', body, 67)))
  end)

  it('round-trip every dtype, 0-dim and non-contiguous tensors, in order', function()
    lc.manual_seed(3)
    local base = lc.randn(3, 4)
    local sd = nn.ordered_dict({'z', 'a', 'nc', 'i', 'u', 'd', 's'}, {
      z = lc.zeros(0, 3), a = lc.randn(2, 3, 4), nc = base:t(), i = lc.randint(-5, 5, 7),
      u = lc.randint(0, 256, 4, {dtype = 'uint8'}), d = lc.randn(5, {dtype = 'float64'}),
      s = lc.tensor(3.5),
    })
    lc.io.save(path('rt.safetensors'), sd)
    local back = load(path('rt.safetensors'))
    assert.are.same({'z', 'a', 'nc', 'i', 'u', 'd', 's'}, nn.state_dict_keys(back))
    for k, v in pairs(sd) do
      assert.are.equal(v.dtype, back[k].dtype)
      assert.are.same(v:shape(), back[k]:shape())
      check.close(back[k], v, 0, k)
    end
  end)

  it('read a file written by the reference Python implementation', function()
    write(path('py.safetensors'), unhex(PYTHON_FILE_HEX))
    local sd, meta = load(path('py.safetensors'))
    assert.are.same({k = 'v'}, meta)
    assert.are.equal('float64', sd.a.dtype)
    check.close(sd.a, {{0, 1, 2}, {3, 4, 5}}, 0)
    assert.are.equal('int64', sd.b.dtype)
    check.close(sd.b, {1, 2, 3}, 0)
    assert.are.equal('uint8', sd.c.dtype)
    check.close(sd.c, {7, 8}, 0)
    check.close(sd.z, {{1, 1}, {1, 1}}, 0)
    local header = lc.io.read_header(path('py.safetensors'))
    assert.are.same({72, 88}, header.z.data_offsets)
  end)

  it('write atomically: a failed save leaves no file and no temporary behind', function()
    local target = path('atomic.safetensors')
    check.raises(function() save(target, {w = lc.zeros(2), bad = 'not a tensor'}) end,
                 "value for 'bad' is a string, not a tensor")
    assert.is_nil(io.open(target, 'rb'))
    save(target, {w = lc.ones(2)})
    local before = read(target)
    check.raises(function() save(target, {w = lc.zeros(3), ['__metadata__'] = lc.zeros(1)}) end, 'reserved')
    assert.are.equal(before, read(target))        -- the old checkpoint is intact
    check.raises(function() save(path('no/such/dir/x.safetensors'), {w = lc.ones(1)}) end,
                 'cannot write', 'no/such/dir/x.safetensors')
    local files = listdir(tmpdir)
    for _, f in ipairs(files) do assert.is_nil(f:find('tmp', 1, true), f) end
  end)

  it('explain missing and damaged files', function()
    check.raises(function() load(path('absent.safetensors')) end,
                 "load: cannot open '" .. path('absent.safetensors') .. "'", 'No such file')
    local good = path('good.safetensors')
    save(good, {w = lc.randn(4, 4), b = lc.zeros(4)})
    local data = read(good)
    local function damaged(name, bytes, ...)
      write(path(name), bytes)
      check.raises(function() load(path(name)) end, 'not a valid safetensors file', path(name), ...)
    end
    damaged('short.safetensors', data:sub(1, 5), 'fewer than the 8')
    damaged('truncated.safetensors', data:sub(1, #data - 10), 'truncated')
    damaged('cut-header.safetensors', data:sub(1, 20), 'runs past the end')
    damaged('huge.safetensors', string.pack('<I8', 1 << 40) .. data:sub(9), 'out of range')
    damaged('garbage.safetensors', string.pack('<I8', 8) .. '{"a": [1' .. data:sub(17), 'not a JSON object')
    local n = string.unpack('<I8', data)
    local header = data:sub(9, 8 + n):gsub('"F32"', '"F16"', 1)
    damaged('dtype.safetensors', string.pack('<I8', n) .. header .. data:sub(9 + n), 'F16')
    damaged('trailing.safetensors', data .. 'xx', 'follow the last tensor')
    damaged('text.safetensors', 'this is not a checkpoint at all, just some text', 'header length')
  end)
end)

describe('model checkpoints', function()
  it('restore a model that computes exactly the same outputs', function()
    lc.manual_seed(11)
    local net = lenet()
    net(lc.rand(4, 1, 28, 28))   -- moves the batch-norm running statistics
    net:eval()
    save(path('lenet.safetensors'), net)
    local fresh = lenet()
    fresh:load_state_dict(load(path('lenet.safetensors')))
    fresh:eval()
    local x = lc.rand(3, 1, 28, 28)
    check.close(fresh(x), net(x), 0)
    check.close(fresh[2].num_batches_tracked, 1)
  end)

  it('name what does not fit when loading into another model', function()
    save(path('small.safetensors'), nn.Sequential(nn.Linear(4, 3)))
    local other = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1))
    check.raises(function() other:load_state_dict(load(path('small.safetensors'))) end,
                 'Missing key(s) in state_dict: "3.weight", "3.bias"', 'size mismatch for 1.weight')
  end)

  it('give every save its own checkpoint id, whatever math.random was seeded with', function()
    -- ids once came from math.random, which `--seed N` seeds: two saves with one seed in one
    -- second got one id, and a killed save's optimizer file could pass as the older model's
    local net = nn.Linear(2, 2)
    local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
    local ids = {}
    for i = 1, 2 do
      math.randomseed(7)
      lc.io.save_checkpoint(path('ids.safetensors'), {model = net, optimizer = opt})
      local _, meta = lc.load(path('ids.safetensors'))
      ids[i] = meta['luacnn.checkpoint_id']
    end
    assert.is_string(ids[1])
    assert.are_not.equal(ids[1], ids[2])
  end)

  it('save and resume training with the optimizer and scheduler state', function()
    local function setup_run()
      lc.manual_seed(21)
      local net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
      local opt = optim.AdamW(net:parameters(), {lr = 0.01, amsgrad = true})
      local sched = optim.StepLR(opt, {step_size = 2, gamma = 0.5})
      return net, opt, sched
    end
    lc.manual_seed(99)
    local X, y = lc.randn(16, 3), lc.randint(1, 3, 16)
    local loss_fn = nn.CrossEntropyLoss()
    local function train(net, opt, sched, steps)
      for _ = 1, steps do
        opt:zero_grad()
        loss_fn(net(X), y):backward()
        opt:step()
        sched:step()
      end
    end
    local net_a, opt_a, sched_a = setup_run()
    train(net_a, opt_a, sched_a, 6)

    local net_b, opt_b, sched_b = setup_run()
    train(net_b, opt_b, sched_b, 3)
    local ckpt = path('run.safetensors')
    lc.io.save_checkpoint(ckpt, {model = net_b, optimizer = opt_b, scheduler = sched_b,
                                 extra = {epoch = 3, best = 0.5}})
    assert.truthy(io.open(path('run.optim.safetensors'), 'rb'))

    local net_c = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    local opt_c = optim.AdamW(net_c:parameters(), {lr = 1})
    local sched_c = optim.StepLR(opt_c, {step_size = 2, gamma = 0.5})
    local extra = lc.io.load_checkpoint(ckpt, {model = net_c, optimizer = opt_c, scheduler = sched_c})
    assert.are.same({epoch = 3, best = 0.5}, extra)
    assert.are.equal(opt_b.param_groups[1].lr, opt_c.param_groups[1].lr)
    assert.are.equal(3, sched_c.last_epoch)
    train(net_c, opt_c, sched_c, 3)
    for k, v in pairs(net_a:state_dict()) do check.close(net_c:state_dict()[k], v, 1e-6, k) end
    assert.are.equal(opt_a.param_groups[1].lr, opt_c.param_groups[1].lr)

    -- the optimizer file is a plain safetensors file too: state tensors by parameter index
    local header, meta = lc.io.read_header(path('run.optim.safetensors'))
    assert.is_not_nil(header['state.1.exp_avg'])
    assert.is_not_nil(header['state.6.max_exp_avg_sq'])
    local doc = json.decode(meta['luacnn.optimizer'])
    assert.are.equal(3, doc.state['1'].step)
    assert.are.equal(6, #doc.param_groups[1].params)
  end)

  it('load a checkpoint whose save was killed after the old optimizer file was set aside', function()
    local net = nn.Linear(2, 2)
    local opt = optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
    net(lc.ones(1, 2)):sum():backward()
    opt:step()
    local ckpt = path('killed.safetensors')
    lc.io.save_checkpoint(ckpt, {model = net, optimizer = opt})
    -- the state a kill leaves between save_checkpoint's two renames of the next save
    assert.truthy(os.rename(path('killed.optim.safetensors'), path('killed.optim.safetensors.prev')))
    local opt2 = optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
    lc.io.load_checkpoint(ckpt, {model = net, optimizer = opt2})
    assert.are.same(opt:state_dict().param_groups, opt2:state_dict().param_groups)
  end)

  it('refuse an optimizer file that is missing', function()
    local net = nn.Linear(2, 2)
    lc.io.save_checkpoint(path('model-only.safetensors'), {model = net})
    check.raises(function()
      lc.io.load_checkpoint(path('model-only.safetensors'), {model = net, optimizer = optim.SGD(net, 0.1)})
    end, 'model-only.optim.safetensors')
  end)
end)

describe('on a GPU', function()
  local gpu = lc.cuda.is_available()
  local test = gpu and it or pending

  test('a model saved from the GPU loads on the CPU and back on the GPU', function()
    lc.manual_seed(31)
    local net = lenet():cuda()
    net(lc.rand(4, 1, 28, 28):cuda())
    net:eval()
    save(path('gpu.safetensors'), net)
    local cpu = lenet()
    cpu:load_state_dict(load(path('gpu.safetensors')))
    cpu:eval()
    local x = lc.rand(2, 1, 28, 28)
    check.close(cpu(x), net(x:cuda()):cpu(), 1e-5)
    local sd = load(path('gpu.safetensors'), {device = 'cuda'})
    assert.are.equal('cuda:0', sd['1.weight'].device)
    local opt = optim.SGD(net, {lr = 0.1, momentum = 0.9})
    net:train()
    nn.CrossEntropyLoss()(net(x:cuda()), lc.tensor({1, 2}, {dtype = 'int64'}):cuda()):backward()
    opt:step()
    lc.io.save_checkpoint(path('gpu-run.safetensors'), {model = net, optimizer = opt})
    local net2 = lenet():cuda()
    local opt2 = optim.SGD(net2, {lr = 0.1, momentum = 0.9})
    lc.io.load_checkpoint(path('gpu-run.safetensors'), {model = net2, optimizer = opt2})
    local buf = opt2.state[net2:parameters()[1]].momentum_buffer
    assert.are.equal('cuda:0', buf.device)
    check.close(buf:cpu(), opt.state[net:parameters()[1]].momentum_buffer:cpu(), 0)
  end)
end)
