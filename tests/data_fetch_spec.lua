-- `luacnn data fetch/check/list`: downloads through curl from a file:// URL (the test machines
-- have no internet) holding copies of the real Fashion-MNIST files, md5 verification against
-- the official sums, and rejection of a corrupted copy. Without the real files the tests are
-- reported as SKIPPED (busted's pending), never as passed.
local data = require 'luacnn.data'
local cmd = require 'luacnn.cli.data'

local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')
local quote, tempdir, rmtree = files.quote, files.tempdir, files.rmtree

local function sh(command)
  assert(os.execute(command) == true, 'failed: ' .. command)
end

local function ls(dir)
  local p = io.popen('ls -A -- ' .. quote(dir))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

local function md5(path)
  local p = io.popen('md5sum -- ' .. quote(path))
  local sum = p:read('a'):match('^(%x+)')
  p:close()
  return sum
end

-- Runs the command in this process with its output captured; returns ok, message, output.
local function run(args)
  local saved = io.stdout
  local capture = io.tmpfile()
  io.stdout = capture
  local ok, err = pcall(cmd.main, args)
  io.stdout = saved
  capture:seek('set')
  local text = capture:read('a')
  capture:close()
  return ok, err and tostring(err) or nil, text
end

local SPEC = data.datasets['fashion-mnist']
local DATA = os.getenv('LUACNN_DATA')
local FM_DIR = DATA and DATA ~= '' and (DATA .. '/fashion-mnist') or nil
local have_real = false
if FM_DIR then
  have_real = true
  for _, f in ipairs(SPEC.files) do
    local h = io.open(FM_DIR .. '/' .. f.name, 'rb')
    if h then h:close() else have_real = false end
  end
end
local skip_reason = FM_DIR == nil and 'LUACNN_DATA is not set'
                    or ('the four official .gz files are not all in ' .. FM_DIR)

local function real_it(name, fn)
  it(name, function()
    if not have_real then
      print(string.format('SKIPPED: "%s" because %s', name, skip_reason))
      pending('needs the real Fashion-MNIST files: ' .. skip_reason)
    end
    fn()
  end)
end

describe('luacnn data fetch', function()
  local tmp
  before_each(function() tmp = tempdir() end)
  after_each(function() rmtree(tmp) end)

  -- copies of the real files, as a "server" directory
  local function server(name)
    local dir = tmp .. '/' .. name
    sh('mkdir -p ' .. quote(dir))
    for _, f in ipairs(SPEC.files) do
      sh(string.format('cp -- %s %s', quote(FM_DIR .. '/' .. f.name), quote(dir .. '/' .. f.name)))
    end
    sh('chmod u+w ' .. quote(dir) .. '/*')
    return 'file://' .. dir
  end

  real_it('downloads the four files, verifies them, leaves no temporary files', function()
    local url = server('srv')
    local dst = tmp .. '/out/fashion-mnist'
    local ok, err, text = run({'fetch', 'fashion-mnist', dst, '--url', url})
    assert.is_true(ok, err)
    assert.matches('md5 sums verified', text, 1, true)
    local names = {}
    for _, f in ipairs(SPEC.files) do
      names[#names + 1] = f.name
      assert.are.equal(f.md5, md5(dst .. '/' .. f.name))
    end
    table.sort(names)
    assert.are.same(names, ls(dst))
    -- the loaders read what was fetched
    local train, test = data.fashion_mnist{root = dst}
    assert.are.equal(235, #train)
    assert.are.equal(40, #test)
    -- a second fetch finds everything in place and downloads nothing (the URL is dead now)
    ok, err, text = run({'fetch', 'fashion-mnist', dst, '--url=file://' .. tmp .. '/gone'})
    assert.is_true(ok, err)
    assert.are.equal(4, select(2, text:gsub('already present, md5 ok', '')))
    -- check agrees
    ok, err, text = run({'check', 'fashion-mnist', dst})
    assert.is_true(ok, err)
    assert.are.equal(4, select(2, text:gsub('md5 ok', '')))
  end)

  real_it('rejects a corrupted copy and installs nothing for it', function()
    local url = server('bad')
    -- flip one byte in the middle of the test labels
    local path = tmp .. '/bad/t10k-labels-idx1-ubyte.gz'
    local f = assert(io.open(path, 'r+b'))
    f:seek('set', 2000)
    local b = f:read(1)
    f:seek('set', 2000)
    f:write(string.char((b:byte() + 1) % 256))
    f:close()
    local dst = tmp .. '/out'
    local ok, err, text = run({'fetch', 'fashion-mnist', dst, '--url', url})
    assert.is_false(ok)
    assert.matches('could not get t10k-labels-idx1-ubyte.gz (nothing was installed for it)', err, 1, true)
    assert.matches('md5 mismatch: got ' .. md5(path), err, 1, true)
    assert.matches('expected ' .. SPEC.files[4].md5, err, 1, true)
    assert.matches('md5 mismatch', text, 1, true)
    -- the three good files are in place; the bad one is not, nor any partial download
    assert.are.same({'t10k-images-idx3-ubyte.gz', 'train-images-idx3-ubyte.gz',
                     'train-labels-idx1-ubyte.gz'}, ls(dst))
    -- check reports a corrupt file in a directory
    ok, err, text = run({'check', 'fashion-mnist', tmp .. '/bad'})
    assert.is_false(ok)
    assert.matches('md5 MISMATCH', text, 1, true)
    assert.matches('do not match the official md5 sums', err, 1, true)
    -- and a bad file already in the target is replaced by a good download
    sh(string.format('cp -- %s %s', quote(path), quote(dst .. '/t10k-labels-idx1-ubyte.gz')))
    ok, err, text = run({'fetch', 'fashion-mnist', dst, '--url', server('good')})
    assert.is_true(ok, err)
    assert.matches('present but its md5 is wrong, fetching again', text, 1, true)
    assert.are.equal(SPEC.files[4].md5, md5(dst .. '/t10k-labels-idx1-ubyte.gz'))
  end)

  real_it('runs as `luacnn data fetch` with exit statuses', function()
    local host = package.loaded['luacnn.host']
    local exe = host and host.executable or (arg and arg[-1])
    if not exe or not exe:match('luacnn$') then
      print('SKIPPED: the executable test because the luacnn executable is not known (luacnn.host, arg[-1])')
      pending('needs the luacnn executable')
    end
    local url = server('srv')
    local function exec(args)
      local p = io.popen(quote(exe) .. ' data ' .. args .. ' 2>&1')
      local text = p:read('a')
      local _, _, code = p:close()
      return code, text
    end
    local code, text = exec('fetch fashion-mnist ' .. quote(tmp .. '/a') .. ' --url ' .. quote(url))
    assert.are.equal(0, code, text)
    assert.matches('md5 sums verified', text, 1, true)
    sh('rm -- ' .. quote(tmp .. '/srv/train-labels-idx1-ubyte.gz'))
    code, text = exec('fetch fashion-mnist ' .. quote(tmp .. '/b') .. ' --url ' .. quote(url))
    assert.are.equal(1, code)
    assert.matches('could not get train-labels-idx1-ubyte.gz', text, 1, true)
    code, text = exec('list')
    assert.are.equal(0, code)
    assert.matches('fashion-mnist', text, 1, true)
  end)
end)

describe('luacnn data (arguments)', function()
  it('usage, unknown data sets, subcommands and options', function()
    local ok, err, text = run({'--help'})
    assert.is_true(ok)
    assert.matches('luacnn data fetch NAME', text, 1, true)
    ok, err = run({'fetch', 'mnist-digits'})
    assert.is_false(ok)
    assert.matches("unknown data set 'mnist-digits' (known: fashion-mnist)", err, 1, true)
    ok, err = run({'fetch'})
    assert.is_false(ok)
    assert.matches('which data set', err, 1, true)
    ok, err = run({'frobnicate'})
    assert.is_false(ok)
    assert.matches("unknown subcommand 'frobnicate'", err, 1, true)
    ok, err = run({'fetch', 'fashion-mnist', '--nope'})
    assert.is_false(ok)
    assert.matches("unknown option '--nope'", err, 1, true)
    ok, err = run({'fetch', 'fashion-mnist', '/tmp/x', '--url'})
    assert.is_false(ok)
    assert.matches('--url needs a value', err, 1, true)
  end)

  it('a failed download names the URL and the curl status', function()
    local tmp = tempdir()
    finally(function() rmtree(tmp) end)
    local ok, err = run({'fetch', 'fashion-mnist', tmp .. '/out', '--url', 'file://' .. tmp .. '/none'})
    assert.is_false(ok)
    assert.matches('file://' .. tmp .. '/none/train-images-idx3-ubyte.gz: curl exited with status', err, 1, true)
    assert.are.same({}, ls(tmp .. '/out'))
  end)

  it('the data sets list their official files and sums', function()
    local total = 0
    for _, f in ipairs(SPEC.files) do
      assert.matches('^%x+$', f.md5)
      assert.are.equal(32, #f.md5)
      total = total + f.bytes
    end
    assert.are.equal(26421880 + 29515 + 4422102 + 5148, total)
    assert.matches('fashion%-mnist', SPEC.urls[1])
  end)
end)
