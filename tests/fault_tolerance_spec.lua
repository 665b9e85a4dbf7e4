-- Runs that survive faults (issue 10): a checkpoint write killed with SIGKILL at many points
-- leaves the previous checkpoint intact and loadable; a full disk while saving a checkpoint or
-- a run folder is a clear error and leaves the previous files as they were; host memory stays
-- flat over many LeNet epochs. Figures go to stdout as TAP comments (tests/RELIABILITY.md).
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local lc = require 'luacnn'
local nn = lc.nn
local run = require 'luacnn.run'

local function sh(cmd)
  local p = io.popen(cmd .. ' 2>&1')
  local out = p:read('a')
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function tmpdir(tag)
  local d = os.tmpname()
  os.remove(d)
  d = d .. '-' .. tag
  assert(run.mkdir(d))
  return d
end

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s
end

local function listing(dir)
  local out = sh("ls -1a '" .. dir .. "'")
  local names = {}
  for name in out:gmatch('[^\n]+') do
    if name ~= '.' and name ~= '..' then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- A model and an SGD optimizer whose every parameter and momentum buffer hold the value v,
-- saved with extra = {epoch = v}: a loaded checkpoint is consistent when all three agree.
-- With a kill point as arg[3] ('write:N': inside the N-th write to a temporary file, after
-- its first chunk; 'rename:N': right after the N-th rename), the child sends itself SIGKILL
-- exactly there, so every step of a save is hit whatever the machine's speed; without one it
-- saves until a timed kill from outside lands.
local CHILD = [[
local kind, nth = (arg[3] or ''):match('^(%a+):(%d+)$')
nth = tonumber(nth)
local function die() os.execute('kill -KILL $PPID'); os.execute('sleep 5') end
if kind == 'write' then
  local open, count = io.open, 0
  io.open = function(name, mode)
    local f, err = open(name, mode)
    if not f or not tostring(name):find('%.tmp%-') then return f, err end
    count = count + 1
    if count ~= nth then return f end
    return setmetatable({}, {__index = function(_, k)
      if k == 'write' then return function(_, c) f:write(c); f:flush(); die() end end
      return function(_, ...) return f[k](f, ...) end
    end})
  end
elseif kind == 'rename' then
  local rename, count = os.rename, 0
  os.rename = function(a, b)
    local ok, err = rename(a, b)
    count = count + 1
    if count == nth then die() end
    return ok, err
  end
end
local lc = require 'luacnn'
local nn = lc.nn
local path, first = arg[1], tonumber(arg[2])
local net = nn.Sequential(nn.Linear(512, 512), nn.Linear(512, 256))
local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
net(lc.randn(2, 512)):sum():backward()
opt:step()
local v = first
while true do
  lc.no_grad(function()
    for _, p in ipairs(net:parameters()) do p:fill_(v); opt.state[p].momentum_buffer:fill_(v) end
  end)
  lc.io.save_checkpoint(path, {model = net, optimizer = opt, extra = {epoch = v}})
  if arg[3] == 'once' then break end
  io.stdout:write(v, '\n'); io.stdout:flush()
  v = v + 1
end
]]

local function check_consistent(path)
  local net = nn.Sequential(nn.Linear(512, 512), nn.Linear(512, 256))
  local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
  local extra = lc.io.load_checkpoint(path, {model = net, optimizer = opt})
  local v = extra.epoch
  for _, p in ipairs(net:parameters()) do
    assert.are.equal(v, p:min():item(), 'a parameter is not all ' .. v)
    assert.are.equal(v, p:max():item(), 'a parameter is not all ' .. v)
  end
  local sd = opt:state_dict()
  for _, s in pairs(sd.state) do
    assert.are.equal(v, s.momentum_buffer:min():item(), 'a momentum buffer is not all ' .. v)
    assert.are.equal(v, s.momentum_buffer:max():item(), 'a momentum buffer is not all ' .. v)
  end
  return v
end

describe('checkpoint writes killed with SIGKILL', function()
  it('leave a checkpoint (model and optimizer of the same save) that loads, at every kill point', function()
    local exe = os.getenv('LUACNN_EXE')
    if not exe then
      print('SKIPPED: LUACNN_EXE is not set (run under ctest)')
      return
    end
    local dir = tmpdir('kill')
    local script, path = dir .. '/child.lua', dir .. '/ckpt.safetensors'
    local f = assert(io.open(script, 'w')); f:write(CHILD); f:close()
    local q = run.shell_quote
    local _, code = sh(q(exe) .. ' ' .. q(script) .. ' ' .. q(path) .. ' 1 once')
    assert.are.equal(0, code)
    assert.are.equal(1, check_consistent(path))
    local kills, newer, mid_write, between = 0, 0, 0, 0
    local last = 1
    local KILLS = 24
    for i = 1, KILLS do
      -- kill points spread over start-up and many saves (each save writes ~1.6 MB + 1.6 MB)
      local delay = 0.08 + 0.7 * ((i * 7919) % KILLS) / KILLS
      local out = sh(string.format('timeout -s KILL %.3f %s %s %s %d', delay, q(exe), q(script), q(path), last + 1))
      kills = kills + 1
      local names = listing(dir)
      for _, n in ipairs(names) do
        if n:find('%.tmp%-') then mid_write = mid_write + 1; os.remove(dir .. '/' .. n) end
        if n:match('%.prev$') then between = between + 1 end
      end
      local v = check_consistent(path)
      assert.is_true(v >= last, 'the checkpoint went back from ' .. last .. ' to ' .. v)
      local written = 0
      for w in out:gmatch('%d+') do written = math.max(written, tonumber(w)) end
      assert.is_true(v >= written, 'a completed save (' .. written .. ') was lost: loaded ' .. v)
      if v > last then newer = newer + 1 end
      last = v
    end
    print(string.format('# %d timed kills: every time a consistent checkpoint loaded; %d kills left a ' ..
                        'partial temporary file, %d fell between the two renames, %d saves completed in all',
                        kills, mid_write, between, last - 1))
    -- then every step of a save, hit exactly: the optimizer file's write and the model file's
    -- (each after its first chunk), and after each of the three renames (the old optimizer
    -- file set aside, the new one in place, the model file in place)
    for _, point in ipairs{'write:1', 'write:2', 'rename:1', 'rename:2', 'rename:3'} do
      -- from a clean state each time: one whole save (model and optimizer files, nothing aside)
      local _, whole = sh(q(exe) .. ' ' .. q(script) .. ' ' .. q(path) .. ' ' .. (last + 1) .. ' once')
      assert.are.equal(0, whole)
      last = last + 1
      assert.is_nil(read(lc.io.optimizer_path(path) .. '.prev'))
      local out, code = sh(q(exe) .. ' ' .. q(script) .. ' ' .. q(path) .. ' ' .. (last + 1) .. ' ' .. point)
      assert.are_not.equal(0, code, point .. ': the child was not killed: ' .. out)
      local names = listing(dir)
      local partial = false
      for _, n in ipairs(names) do
        if n:find('%.tmp%-') then partial = true; os.remove(dir .. '/' .. n) end
      end
      if point:match('^write') then assert.is_true(partial, point .. ' left no partial temporary file') end
      if point == 'rename:1' or point == 'rename:2' then
        assert.is_not_nil(read(lc.io.optimizer_path(path) .. '.prev'), point .. ': no optimizer file set aside')
      end
      local v = check_consistent(path)
      -- the killed save (last + 1) completes only once the model file is in place
      local want = point == 'rename:3' and last + 1 or last
      assert.are.equal(want, v, point .. ': loaded save ' .. v)
      last = v
    end
    sh("rm -rf '" .. dir .. "'")
  end)
end)

-- A trainer run on synthetic data (tests/fixtures/trainer_fit.lua) that writes its per-epoch
-- metrics as JSON; with a kill point (epoch, batch) it sends itself SIGKILL there, mid-epoch.
local TRAIN_CHILD = [[
local lc = require 'luacnn'
local json = require 'luacnn.json'
local fit = dofile(arg[1])
local dir, out, resume = arg[2], arg[3], arg[4] ~= '-' and arg[4] or nil
local kill_epoch, kill_batch = tonumber(arg[5]), tonumber(arg[6])
local ok, res = fit{epochs = 5, dir = dir, resume = resume, seed = resume and 99 or 5,
  on_batch = function(epoch, batch)
    if epoch == kill_epoch and batch == kill_batch then os.execute('kill -KILL $PPID') end
  end}
if not ok then error(res, 0) end
local rows = {}
for e, h in ipairs(res.history) do
  rows[e] = {}
  for _, k in ipairs{'train_loss', 'train_acc', 'valid_acc', 'valid_loss', 'lr'} do
    rows[e][k] = string.format('%.17g', h[k])
  end
end
local f = assert(io.open(out, 'w')); f:write(json.encode(rows)); f:close()
]]

describe('a training run killed with SIGKILL in the middle of an epoch', function()
  it('resumes from its last checkpoint with the per-epoch metrics of a run never killed, bit for bit', function()
    local exe = os.getenv('LUACNN_EXE')
    if not exe then
      print('SKIPPED: LUACNN_EXE is not set (run under ctest)')
      return
    end
    local q = run.shell_quote
    local dir = tmpdir('killtrain')
    local script = dir .. '/child.lua'
    local f = assert(io.open(script, 'w')); f:write(TRAIN_CHILD); f:close()
    local fixture = H.fixtures .. '/trainer_fit.lua'
    local function child(rundir, out, resume, ke, kb)
      return sh(table.concat({q(exe), q(script), q(fixture), q(rundir), q(out), q(resume or '-'),
                              tostring(ke or 0), tostring(kb or 0)}, ' '))
    end
    local _, code = child(dir .. '/whole', dir .. '/whole.json')
    assert.are.equal(0, code)
    -- killed at batch 4 of epoch 3: epochs 1 and 2 are checkpointed, epoch 3 is half done
    local _, killed = child(dir .. '/cut', dir .. '/cut.json', nil, 3, 4)
    assert.is_true(killed == 137 or killed == 9, 'the child was not killed by SIGKILL: ' .. tostring(killed))
    assert.is_nil(read(dir .. '/cut.json'))
    local out, code2 = child(dir .. '/cut', dir .. '/cut.json', dir .. '/cut')
    assert.are.equal(0, code2, out)
    local json = require 'luacnn.json'
    local whole, resumed = json.decode(read(dir .. '/whole.json')), json.decode(read(dir .. '/cut.json'))
    assert.are.equal(5, #whole)
    assert.are.equal(5, #resumed)
    for e = 1, 5 do
      for k, v in pairs(whole[e]) do
        assert.are.equal(v, resumed[e][k], string.format('epoch %d %s', e, k))
      end
    end
    print(string.format('# killed at epoch 3 batch 4, resumed: 5 epochs equal to the uninterrupted run ' ..
                        '(final train loss %s, valid acc %s)', whole[5].train_loss, whole[5].valid_acc))
    sh("rm -rf '" .. dir .. "'")
  end)
end)

describe('a full disk', function()
  local mnt, mounted

  setup(function()
    mnt = tmpdir('full')
    local out, code = sh("mount -t tmpfs -o size=64k luacnn-full '" .. mnt .. "'")
    mounted = code == 0
    if not mounted then print('SKIPPED: full-disk tests need `mount -t tmpfs` (root): ' .. out) end
  end)

  teardown(function()
    if mounted then sh("umount '" .. mnt .. "'") end
    sh("rm -rf '" .. mnt .. "'")
  end)

  it('while saving a checkpoint is a clear error and leaves the previous checkpoint intact', function()
    if not mounted then return end
    local path = mnt .. '/ckpt.safetensors'
    local small = nn.Linear(8, 8)
    local opt = lc.optim.SGD(small:parameters(), {lr = 0.1, momentum = 0.9})
    small(lc.randn(2, 8)):sum():backward(); opt:step()
    lc.io.save_checkpoint(path, {model = small, optimizer = opt, extra = {epoch = 1}})
    local before, obefore = read(path), read(lc.io.optimizer_path(path))
    local before_names = listing(mnt)
    -- 40 KB of model and 40 KB of momentum: more than the 64 KB the disk holds
    local big = nn.Linear(100, 100)
    local bopt = lc.optim.SGD(big:parameters(), {lr = 0.1, momentum = 0.9})
    big(lc.randn(2, 100)):sum():backward(); bopt:step()
    local ok, err = pcall(lc.io.save_checkpoint, path, {model = big, optimizer = bopt, extra = {epoch = 2}})
    assert.is_false(ok)
    assert.matches('^save_checkpoint: writing .* failed: .*No space left on device', err)
    assert.are.equal(before, read(path))
    assert.are.equal(obefore, read(lc.io.optimizer_path(path)))
    assert.are.same(before_names, listing(mnt))            -- no temporary file left behind
    local fresh = nn.Linear(8, 8)
    assert.are.same({epoch = 1}, lc.io.load_checkpoint(path, {model = fresh}))
    print('# full disk: save_checkpoint said: ' .. err)
  end)

  it('while writing a run folder is a clear error and leaves the previous records intact', function()
    if not mounted then return end
    local dir = mnt .. '/run'
    assert(run.mkdir(dir))
    run.write_json(dir .. '/config.json', {lr = 0.1})
    local before = read(dir .. '/config.json')
    local ok, err = pcall(run.write_json, dir .. '/config.json', {blob = string.rep('x', 100000)})
    assert.is_false(ok)
    assert.matches("cannot write '.*config.json': .*No space left on device", err)
    assert.are.equal(before, read(dir .. '/config.json'))
    assert.are.same({'config.json'}, listing(dir))
    ok, err = pcall(lc.save, mnt .. '/w.safetensors', {w = lc.zeros(200, 200)})
    assert.is_false(ok)
    assert.matches("^save: writing .* failed: .*No space left on device", err)
  end)
end)

-- The training loop runs in a child process. RSS is sampled after a full collection and
-- malloc_trim(0) (core._malloc_trim): without the trim, glibc's arenas fragment and RSS steps
-- up by ~2 MB a few times over 20 epochs before levelling off (measured: tests/RELIABILITY.md),
-- which would hide a real leak of that size. Tensor bytes, tensor headers and the Lua heap
-- must be exactly flat either way.
local MEMORY_CHILD = [[
local lc = require 'luacnn'
local nn = lc.nn
local function rss_kb() local f = io.open('/proc/self/statm'); local _, r = f:read('n', 'n'); f:close(); return r * 4 end
lc.manual_seed(0)
local train_iter = lc.data.fashion_mnist{batch_size = 128, subset = {train = 512, test = 128}}
local net = nn.Sequential{
  nn.Reshape(-1, 1, 28, 28),
  nn.Conv2d(1, 6, 5, {padding = 2}), nn.ReLU(), nn.MaxPool2d(2, {stride = 2}),
  nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, {stride = 2}),
  nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
}
local opt = lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
for epoch = 1, tonumber(arg[1]) do
  for X, y in train_iter do
    opt:zero_grad()
    nn.functional.cross_entropy(net(X), y):backward()
    opt:step()
  end
  collectgarbage(); collectgarbage(); lc.core._malloc_trim()
  print(epoch, rss_kb(), math.floor(collectgarbage('count')), lc.core._live_tensors(), (lc.live_bytes()))
end
]]

describe('host memory over many LeNet epochs', function()
  it('stays flat after the first epoch', function()
    local data = os.getenv('LUACNN_DATA') or (H.root .. '/../shared/data')
    local exe = os.getenv('LUACNN_EXE')
    if not H.exists(data .. '/fashion-mnist/train-images-idx3-ubyte.gz') or not exe then
      print('SKIPPED: needs Fashion-MNIST at ' .. data .. '/fashion-mnist and LUACNN_EXE (ctest)')
      return
    end
    local dir = tmpdir('rss')
    local f = assert(io.open(dir .. '/train.lua', 'w')); f:write(MEMORY_CHILD); f:close()
    local EPOCHS = 20
    local q = run.shell_quote
    local out, code = sh('LUACNN_DATA=' .. q(data) .. ' ' .. q(exe) .. ' ' ..
                         q(dir .. '/train.lua') .. ' ' .. EPOCHS)
    sh("rm -rf '" .. dir .. "'")
    assert.are.equal(0, code, out)
    local rss, lua_kb, tensors, bytes = {}, {}, {}, {}
    for e, r, l, t, b in out:gmatch('(%d+)\t(%d+)\t(%d+)\t(%d+)\t(%d+)') do
      e = tonumber(e)
      rss[e], lua_kb[e], tensors[e], bytes[e] = tonumber(r), tonumber(l), tonumber(t), tonumber(b)
    end
    assert.are.equal(EPOCHS, #rss, out)
    local hi = 0
    for e = 2, EPOCHS do hi = math.max(hi, rss[e]) end
    print('# RSS per epoch (KiB): ' .. table.concat(rss, ' '))
    print(string.format('# after epoch 2: RSS %d KiB, at most %d later (+%.2f%%), last %d; Lua heap %d..%d KiB; ' ..
                        '%d..%d tensors; %d..%d tensor bytes', rss[2], hi, 100 * (hi - rss[2]) / rss[2],
                        rss[EPOCHS], lua_kb[2], lua_kb[EPOCHS], tensors[2], tensors[EPOCHS], bytes[2], bytes[EPOCHS]))
    if os.getenv('ASAN_OPTIONS') then
      -- under AddressSanitizer RSS is mostly its quarantine of freed blocks (+-5% from epoch
      -- to epoch); the exact counts below still hold, and LeakSanitizer checks at exit
      print('# RSS bound not checked under AddressSanitizer (build-asan)')
    else
      assert.is_true(hi <= rss[2] * 1.03, string.format('RSS grew from %d to %d KiB', rss[2], hi))
      assert.is_true(rss[EPOCHS] <= rss[EPOCHS // 2] * 1.01, 'RSS still growing in the second half')
    end
    assert.are.equal(tensors[2], tensors[EPOCHS])
    assert.are.equal(bytes[2], bytes[EPOCHS])
    assert.is_true(lua_kb[EPOCHS] <= lua_kb[2] + 8, 'the Lua heap grew')
  end)
end)
