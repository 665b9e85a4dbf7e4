-- What a new user trips on first (issue 11): options that answer at once, bad values refused
-- in one line before any work, progress inside long epochs, data found where the README says,
-- `lc` preloaded in scripts. Each runs the built `luacnn` as a user would.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local lc = require 'luacnn'

local function has(out, text) assert.matches(text, out, 1, true) end
local function lacks(out, text) assert.is_nil(out:find(text, 1, true), out) end

-- `luacnn scripts/NAME.lua ARGS` in folder tmp.
local function script(name, args, tmp, env)
  return H.luacnn(H.q(H.root .. '/scripts/' .. name .. '.lua') .. ' ' .. args, tmp,
                  'LUACNN_PROGRESS=0 ' .. (env or ''))
end

local function fashion_mnist_at(root)
  return H.exists(root .. '/fashion-mnist/train-images-idx3-ubyte.gz') or
         H.exists(root .. '/fashion-mnist/train-images-idx3-ubyte')
end

describe('script options', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('--summary prints the shape table and exits at once, for the big nets too', function()
    local t0 = os.time()
    local out, rc = script('resnet', '--summary', tmp)
    assert.equal(0, rc, out)
    has(out, '(1, 512, 3, 3)')
    has(out, '11,178,378')
    lacks(out, 'training on')
    assert.is_false(H.exists(tmp .. '/runs'), 'a run folder was made')
    assert.is_true(os.time() - t0 < 60, 'took too long for a table')
  end)

  it('refuses bad values in one line before any work', function()
    local cases = {
      {'--subset -5', 'option --subset must be at least 0'},
      {'--epochs 0', 'option --epochs must be at least 1'},
      {'--batch_size 0', 'option --batch_size must be at least 1'},
      {'--lr 0', 'option --lr must be positive'},
      {'--device gpu', "option --device gpu: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"},
    }
    for _, c in ipairs(cases) do
      local out, rc = script('lenet', c[1], tmp)
      assert.equal(2, rc, c[1] .. ': ' .. out)
      assert.matches('^lenet: ' .. c[2]:gsub('%p', '%%%0'), out)
      lacks(out, 'training on')
      lacks(out, 'traceback')
    end
  end)

  it('--device cuda without a GPU says so, and how to check, before any work', function()
    if lc.cuda.device_count() > 0 then
      io.stderr:write('\n*** SKIPPED (this machine has a GPU): --device cuda is valid here ***\n')
      return pending('a GPU is present')
    end
    for _, name in ipairs{'lenet', 'batchnorm'} do
      local out, rc = script(name, '--device cuda', tmp)
      assert.equal(2, rc, out)
      has(out, name .. ': option --device cuda: there is no GPU here (CPU only: ')
      assert.is_truthy(out:find('nvidia-smi', 1, true) or out:find('luacnn --version', 1, true), out)
      lacks(out, 'training on')
      assert.is_false(H.exists(tmp .. '/runs'))
    end
  end)
end)

describe('progress inside an epoch', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  local function write_script()
    local path = tmp .. '/train.lua'
    local f = assert(io.open(path, 'w'))
    f:write([[
local nn, d2l = lc.nn, lc.d2l
lc.manual_seed(3)
local X = lc.randn(96, 2)
local y = X:narrow(2, 1, 1):reshape(-1):gt(0):long() + 1
local it = lc.data.DataLoader(lc.data.TensorDataset(X, y), {batch_size = 8})
d2l.train_ch6(nn.Sequential{nn.Linear(2, 2)}, it, it, 2, 0.5, 'cpu', {run = false})
]])
    f:close()
    return path
  end

  it('prints a plain line every few seconds when stdout is not a terminal', function()
    local path = write_script()
    -- an interval of 0: a line after every batch but the last
    local out, rc = H.luacnn(H.q(path), tmp, 'LUACNN_PROGRESS=0 LUACNN_PROGRESS_INTERVAL=0')
    assert.equal(0, rc, out)
    lacks(out, '\r')
    assert.matches('\nepoch 1/2  batch 3/12  loss %d%.%d%d%d  train acc %d%.%d%d%d  %(%d+%.%d examples/sec, ETA %d+:%d%d%)\n', out)
    assert.matches('\nepoch 2/2  batch 11/12 ', out)
    lacks(out, 'batch 12/12')           -- the epoch's own line says that
    assert.matches('\nepoch 2/2  loss', out)
    -- the default interval (seconds) prints none in a run this short
    out, rc = H.luacnn(H.q(path), tmp, 'LUACNN_PROGRESS=0')
    assert.equal(0, rc, out)
    lacks(out, 'batch ')
  end)

  it('redraws one line with examples/sec and an ETA on a terminal', function()
    local path = write_script()
    local out, rc = H.luacnn(H.q(path), tmp, 'LUACNN_PROGRESS=1')
    assert.equal(0, rc, out)
    assert.matches('\r\27%[Kepoch 2/2 [^\n\r]- 12/12  loss', out)
    assert.equal('1:05', lc.d2l.format_duration(65))
    assert.equal('1:01:01', lc.d2l.format_duration(3661))
  end)
end)

describe('data and the global lc from scripts', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('search_dirs includes ../shared/data next to the source tree, as the README says', function()
    local out, rc = H.luacnn([[-e "for _, d in ipairs(lc.data.search_dirs('fashion-mnist')) do print(d.dir) end"]],
                             tmp, 'env -u LUACNN_DATA HOME=' .. H.q(tmp))
    assert.equal(0, rc, out)
    local parent = H.root:match('^(.*)/[^/]+$')
    has(out, tmp .. '/.cache/luacnn/fashion-mnist\n')
    has(out, parent .. '/shared/data/fashion-mnist\n')
  end)

  it('a chapter script finds Fashion-MNIST without LUACNN_DATA, from any folder', function()
    local parent = H.root:match('^(.*)/[^/]+$')
    if not fashion_mnist_at(parent .. '/shared/data') then
      io.stderr:write('\n*** SKIPPED (no Fashion-MNIST in ' .. parent .. '/shared/data) ***\n')
      return pending('no data in ../shared/data')
    end
    local out, rc = H.luacnn(H.q(H.root .. '/scripts/lenet.lua') ..
                             ' --subset 64 --batch_size 32 --epochs 1 --device cpu --run_dir r', tmp,
                             'env -u LUACNN_DATA HOME=' .. H.q(tmp) .. ' LUACNN_PROGRESS=0')
    assert.equal(0, rc, out)
    has(out, 'training on cpu')
    assert.matches('\nloss %d%.%d%d%d, train acc', out)
  end)

  it('`lc` is a global in every script the executable runs, without require', function()
    local path = tmp .. '/plain.lua'
    local f = assert(io.open(path, 'w'))
    f:write("print(type(lc), lc.ones(2, 3):sum():item(), lc == require('luacnn'))\n")
    f:close()
    local out, rc = H.luacnn(H.q(path), tmp)
    assert.equal(0, rc, out)
    has(out, 'table\t6.0\ttrue')
    out, rc = H.luacnn([[-e "print(lc.zeros(2):numel())"]], tmp)
    assert.equal(0, rc, out)
    has(out, '2')
  end)
end)

describe('sizes follow the Lua C API (luaL_checkinteger)', function()
  local nn = lc.nn
  local function err(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok, 'expected an error')
    return tostring(e)
  end

  it('a float with an exact integer value is a size (Lua 5.4: 400/2 is 200.0)', function()
    assert.equal('(3)', tostring(lc.zeros(6 / 2):shape()))
    assert.equal('(2, 3)', tostring(lc.ones(4 / 2, 3.0):shape()))
    assert.equal('(10, 200)', tostring(nn.Linear(400 / 2, 10).weight:shape()))
    assert.equal(math.type(nn.Linear(400 / 2, 10).in_features), 'integer')
    local conv = nn.Conv2d(2.0, 12 / 2, 6 / 2)
    assert.equal('(6, 2, 3, 3)', tostring(conv.weight:shape()))
    assert.equal('(1, 6, 4, 4)', tostring(conv(lc.zeros(1, 2, 6, 6)):shape()))
    assert.equal('(8, 2)', tostring(lc.ones(4, 4):view(16 / 2, 2):shape()))
    assert.equal('(4, 2)', tostring(lc.ones(4, 2, 1):reshape(4, 4 / 2):shape()))
    assert.equal(3, lc.ones(2, 3):size(4 / 2))
    assert.equal(2, lc.arange(1, 4)[4 / 2]:item())
    assert.equal('(4)', tostring(nn.BatchNorm1d(8 / 2).weight:shape()))
    assert.equal(3, lc.randperm(6 / 2):numel())
    assert.equal('(1, 2, 2, 2)', tostring(nn.MaxPool2d(4 / 2)(lc.zeros(1, 2, 4, 4)):shape()))
  end)

  it('a non-integral value is refused, naming the value', function()
    assert.matches('zeros: size 1 must be an integer, got 2.5', err(lc.zeros, 2.5), 1, true)
    assert.matches('Linear: in_features must be a positive integer, got 2.5', err(nn.Linear, 2.5, 3), 1, true)
    assert.matches('Conv2d: out_channels must be a positive integer, got 0.5', err(nn.Conv2d, 1, 0.5, 3), 1, true)
    assert.matches('index: expected an integer, got 1.5', err(function() return lc.ones(3)[1.5] end), 1, true)
    assert.matches('expected an integer dim as argument 2, got 1.5',
                   err(function() return lc.ones(2, 3):size(1.5) end), 1, true)
    assert.matches('randperm: n must be an integer, got 2.5', err(lc.randperm, 2.5), 1, true)
  end)
end)

describe('the seed', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  local function write(name, text)
    local f = assert(io.open(tmp .. '/' .. name, 'w'))
    f:write(text)
    f:close()
    return tmp .. '/' .. name
  end

  it('comes from the OS by default, is recorded in the run folder, and --seed repeats the run', function()
    local path = write('draw.lua', [[
local args = lc.args{'draws', n = 3, lr = 0.5, summary = false}
local r = require('luacnn.run').start{}
print('values ' .. table.concat(lc.rand(args.n):totable(), ' '))
print('seed ' .. lc.initial_seed())
print('label ' .. r.label)
]])
    local out1, rc1 = H.luacnn(H.q(path) .. ' --run_dir a', tmp, 'env -u LUACNN_SEED')
    local out2, rc2 = H.luacnn(H.q(path) .. ' --run_dir b', tmp, 'env -u LUACNN_SEED')
    assert.equal(0, rc1, out1)
    assert.equal(0, rc2, out2)
    local v1, v2 = out1:match('values ([^\n]*)'), out2:match('values ([^\n]*)')
    assert.are_not.equal(v1, v2)              -- two runs, two streams
    local seed = tonumber(out1:match('seed (%d+)'))
    local config = require('luacnn.run').read_json(tmp .. '/a/config.json')
    assert.equal(seed, config.seed)
    assert.equal(seed, require('luacnn.run').read_json(tmp .. '/a/summary.json').seed)
    local out3, rc3 = H.luacnn(H.q(path) .. ' --run_dir c --seed ' .. seed, tmp, 'env -u LUACNN_SEED')
    assert.equal(0, rc3, out3)
    assert.equal(v1, out3:match('values ([^\n]*)'))   -- repeated after the fact
    assert.equal(seed, require('luacnn.run').read_json(tmp .. '/c/config.json').seed)
    -- the curves' title: settings that differ from the defaults, not display flags
    assert.matches('label \n', out1, 1, true)
    local out4 = H.luacnn(H.q(path) .. ' --run_dir d --lr 0.25 --no-summary --n 3 --summary --seed 4', tmp)
    assert.matches('label lr=0.25 seed=4\n', out4, 1, true)
  end)

  it('lc.seed() reseeds from the OS and lc.initial_seed() tells the seed', function()
    lc.manual_seed(1234)
    assert.equal(1234, lc.initial_seed())
    local s = lc.seed()
    assert.equal(s, lc.initial_seed())
    assert.equal('integer', math.type(s))
  end)
end)

describe('the REPL and PyTorch habits', function()
  local nn = lc.nn
  local function err(f)
    local ok, e = pcall(f)
    assert.is_false(ok, 'expected an error')
    return tostring(e)
  end

  it('a misspelt name in lc, lc.nn, lc.F, lc.optim or a tensor says "did you mean"', function()
    assert.matches("lc.nn has no field 'Conv2D' (did you mean 'Conv2d'?)", err(function() return nn.Conv2D(1, 1, 1) end), 1, true)
    assert.matches("lc has no field 'zeroes' (did you mean 'zeros'?)", err(function() return lc.zeroes(2) end), 1, true)
    assert.matches("lc.F has no field 'cross_entropi' (did you mean 'cross_entropy'?)", err(function() return lc.F.cross_entropi end), 1, true)
    assert.matches("lc.optim has no field 'sgd' (did you mean 'SGD'?)", err(function() return lc.optim.sgd end), 1, true)
    local a = lc.ones(2, 2)
    assert.matches("tensor has no method or field 'matmull' (did you mean 'matmul'?)", err(function() return a:matmull(a) end), 1, true)
    -- the error points at the user's line, not inside the library
    assert.matches('usability_spec.lua:%d+:', err(function() return lc.nn.Lineer end))
    -- a submodule is still found, a name added later is suggested, rawget probes quietly
    assert.is_table(lc.d2l)
    rawset(lc, 'zz_added_later', true)
    assert.matches("(did you mean 'zz_added_later'?)", err(function() return lc.zz_added_latr end), 1, true)
    rawset(lc, 'zz_added_later', nil)
    assert.is_nil(rawget(lc, 'no_such_feature'))
    assert.is_false(require('luacnn.suggest').has(lc, 'no_such_feature'))
    assert.is_nil(lc.cuda.no_such_member)        -- lc.cuda is probed for optional members
    assert.is_nil(lc[1])
  end)

  it('x.shape is a field and x:shape() a call; x.T; tolist', function()
    local x = lc.arange(6):reshape(2, 3)
    assert.equal('(2, 3)', tostring(x.shape))
    assert.equal('(2, 3)', tostring(x:shape()))
    assert.equal(3, x.shape[2])
    assert.equal(2, #x.shape)
    assert.equal('(3, 2)', tostring(x.T.shape))
    assert.same({{0, 3}, {1, 4}, {2, 5}}, x.T:tolist())
    assert.equal('(4, 3, 2)', tostring(lc.ones(2, 3, 4).T.shape))
    assert.same({{0, 1, 2}, {3, 4, 5}}, x:tolist())
    assert.equal('int64', x.dtype)
    assert.is_false(x.is_cuda)
  end)

  it('optimizers and schedulers print as PyTorch prints them', function()
    local net = nn.Linear(2, 3)
    local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
    local text = tostring(opt)
    assert.matches('^SGD %(\nParameter Group 1\n    dampening: 0\n    lr: 0.1\n    momentum: 0.9\n', text)
    assert.matches('    params: 2 tensors\n%)$', text)
    assert.matches('^Adam %(\nParameter Group 1\n    amsgrad: false\n    betas: %(0.9, 0.999%)', tostring(lc.optim.Adam(net:parameters())))
    local sched = lc.optim.StepLR(opt, {step_size = 30, gamma = 0.5})
    assert.equal('StepLR(gamma=0.5, step_size=30, last_epoch=0, last_lr=(0.1))', tostring(sched))
  end)

  it('lc.save takes the path first or last (torch.save(obj, path) order)', function()
    local dir = H.tmpdir()
    local sd = {w = lc.arange(4):float()}
    lc.save(dir .. '/a.safetensors', sd)
    lc.save(sd, dir .. '/b.safetensors')
    assert.same({0, 1, 2, 3}, lc.load(dir .. '/a.safetensors').w:tolist())
    assert.same({0, 1, 2, 3}, lc.load(dir .. '/b.safetensors').w:tolist())
    H.rmdir(dir)
  end)

  it('the REPL prints net:summary{...} without a trailing nil; exit() leaves', function()
    local tmp = H.tmpdir()
    local out, rc = H.sh(string.format(
      "printf 'net = lc.nn.Sequential{lc.nn.Linear(2, 3)}\\nnet:summary{1, 2}\\nexit()\\nprint(\"after\")\\n' | %s",
      H.q(H.exe())))
    assert.equal(0, rc, out)
    has(out, 'total')
    lacks(out, 'nil')
    lacks(out, 'after')
    H.rmdir(tmp)
  end)
end)

describe('sweeps and compare', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)
  local fake = H.fixtures .. '/fake_train.lua'

  it('a sweep with a failed run exits non-zero, after the table', function()
    local out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1,5 --epochs 1 --dir sw', H.q(fake)), tmp)
    assert.equal(1, rc, out)
    assert.matches('test acc', out)
    assert.matches('1 of 2 runs failed', out)
    out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1,0.2 --epochs 1 --dir ok', H.q(fake)), tmp)
    assert.equal(0, rc, out)
  end)

  it('a misspelt sweep option is caught before anything runs, with a suggestion', function()
    local out, rc = H.luacnn(string.format('sweep %s --gird lr=0.1,0.3 --epochs 1 --dir sw', H.q(fake)), tmp)
    assert.equal(2, rc, out)
    has(out, 'sweep: unknown option --gird: not a setting of ')
    has(out, 'fake_train.lua (did you mean the sweep option --grid?)')
    lacks(out, 'nothing to sweep')
    assert.is_false(H.exists(tmp .. '/sw'))
    out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1 --dry-rn --dir sw', H.q(fake)), tmp)
    assert.equal(2, rc, out)
    has(out, '(did you mean the sweep option --dry-run?)')
    -- a value the script's bounds refuse is refused too, before any run
    out, rc = H.luacnn(string.format('sweep %s --grid epochs=0,1 --dry-run',
                                     H.q(H.root .. '/scripts/lenet.lua')), tmp)
    assert.equal(2, rc, out)
    has(out, "sweep: epochs=0: the script's --epochs must be at least 1")
  end)

  it('compare refuses an unknown metric with a suggestion, and names its two epochs columns apart', function()
    local out, rc = H.luacnn(string.format('sweep %s --grid epochs=1,2 --dir sw', H.q(fake)), tmp)
    assert.equal(0, rc, out)
    out, rc = H.luacnn('compare sw --metric test_accc --out c.png', tmp)
    assert.equal(2, rc, out)
    has(out, "compare: unknown metric 'test_accc' (did you mean 'test_acc'?)")
    out, rc = H.luacnn('compare sw --out c.png', tmp)
    assert.equal(0, rc, out)
    local header = out:match('[^\n]+')
    assert.matches('^%s*run%s+epochs%s+epochs done%s+train loss', header)
    out, rc = H.luacnn('compare sw --metric train_loss --out c.png', tmp)
    assert.equal(0, rc, out)
  end)
end)

describe('lc.args bounds and checks', function()
  local args = require 'luacnn.args'
  local spec = {
    epochs = {10, min = 1}, lr = {0.1, positive = true}, keep = {0.5, min = 0, max = 1},
    device = {'auto', check = function(v) if v == 'tpu' then return 'no TPU here' end end},
  }
  local function parse_error(argv)
    local ok, e = pcall(args.parse, spec, argv)
    assert.is_false(ok, 'expected a refusal')
    return tostring(e)
  end

  it('refuses values outside min/max/positive and what check rejects, naming the option', function()
    assert.equal("option --epochs must be at least 1, got '0'", parse_error{'--epochs', '0'})
    assert.equal("option --lr must be positive, got '-0.5'", parse_error{'--lr', '-0.5'})
    assert.equal("option --keep must be at most 1, got '1.5'", parse_error{'--keep=1.5'})
    assert.equal('option --device tpu: no TPU here', parse_error{'--device', 'tpu'})
    local s = args.parse(spec, {'--epochs', '1', '--lr', '2', '--keep', '1', '--device', 'cpu'})
    assert.equal(1, s.epochs)
    assert.equal('cpu', s.device)
  end)

  it('says in --help that the seed comes from the OS and is recorded', function()
    local _, usage = args.parse({x = 1}, {'--help'})
    assert.matches('drawn from the OS', usage, 1, true)
    assert.is_nil(usage:find('not seeded', 1, true))
  end)
end)

describe("the REPL banner's device line", function()
  local repl = require 'luacnn.repl'

  it('says in a few words why there is no GPU, without the CUDA error code', function()
    local no_driver = 'no usable CUDA driver or GPU (cudaErrorInsufficientDriver: CUDA driver ' ..
                      'version is insufficient for CUDA runtime version)'
    local f = io.open('/proc/driver/nvidia/version')
    if f then f:close() end
    assert.equal(f and 'the NVIDIA driver is too old for this build' or 'no NVIDIA driver found',
                 repl.short_cuda_reason(no_driver))
    assert.equal('built without CUDA', repl.short_cuda_reason('luacnn was built without CUDA'))
    assert.equal('no GPU found', repl.short_cuda_reason('no CUDA device found'))
    assert.equal('no GPU found', repl.short_cuda_reason('no usable CUDA driver or GPU (cudaErrorNoDevice: no CUDA-capable device is detected)'))
    local line = repl.devices({cuda = {device_count = function() return 0 end,
                                       unavailable_reason = function() return no_driver end}})
    assert.matches('^CPU only: ', line)
    assert.is_nil(line:find('cudaError', 1, true))
    assert.is_true(#line < 50)
    assert.equal('cuda:0 NVIDIA H200, cuda:1 NVIDIA H200', repl.devices({cuda = {
      device_count = function() return 2 end, device_name = function() return 'NVIDIA H200' end}}))
  end)
end)
