-- lc.data: IDX reading, index_select, randperm, the DataLoader and the Fashion-MNIST pipeline.
-- The real-data tests read $LUACNN_DATA/fashion-mnist (ctest points it at ../shared/data);
-- without the files they are reported as SKIPPED (busted's pending), never as passed.
local lc = require 'luacnn'
local data = lc.data
local now = require('luacnn.run').now

local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')
local quote, tempdir, rmtree = files.quote, files.tempdir, files.rmtree

local function write(path, bytes)
  local f = assert(io.open(path, 'wb'))
  f:write(bytes)
  f:close()
end

local function gzip(path) assert(os.execute('gzip -nf -- ' .. quote(path)) == true) end

-- An IDX file of unsigned bytes: magic, sizes, then the payload (a string, or a function
-- of the index giving each byte).
local function idx_bytes(dims, payload, magic)
  local parts = {string.pack('>I4', magic or (0x800 + #dims))}
  local n = 1
  for _, d in ipairs(dims) do
    parts[#parts + 1] = string.pack('>I4', d)
    n = n * d
  end
  if type(payload) == 'function' then
    local bytes = {}
    for i = 1, n do bytes[i] = string.char(payload(i) % 256) end
    payload = table.concat(bytes)
  end
  parts[#parts + 1] = payload
  return table.concat(parts)
end

-- A small Fashion-MNIST look-alike: n_train and n_test images of 28x28 (pixel (k, i) =
-- (k * 7 + i) % 256) and labels k % 10; raw (uncompressed) unless gz.
local FILES = {'train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte',
               't10k-labels-idx1-ubyte'}
local function fake_dataset(dir, n_train, n_test, gz)
  local function images(n)
    return idx_bytes({n, 28, 28}, function(i) local k = (i - 1) // 784; return k * 7 + (i - 1) % 784 end)
  end
  local function labels(n) return idx_bytes({n}, function(i) return (i - 1) % 10 end) end
  write(dir .. '/' .. FILES[1], images(n_train))
  write(dir .. '/' .. FILES[2], labels(n_train))
  write(dir .. '/' .. FILES[3], images(n_test))
  write(dir .. '/' .. FILES[4], labels(n_test))
  if gz then for _, f in ipairs(FILES) do gzip(dir .. '/' .. f) end end
end

-- The bytes of a real gzipped file, read without luacnn (gzip -dc), from offset skip.
local function raw_bytes(path, skip, count)
  local p = assert(io.popen('gzip -dc -- ' .. quote(path)))
  local s = p:read(skip + count)
  p:close()
  return {s:byte(skip + 1, skip + count)}
end

local function f32(v) return (string.unpack('f', string.pack('f', v))) end

local function shape(t) return tostring(t:shape()) end

local function errmsg(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return tostring(err)
end

---------------------------------------------------------------- real data (or a loud skip)

local DATA = os.getenv('LUACNN_DATA')
local FM_DIR = DATA and DATA ~= '' and (DATA .. '/fashion-mnist') or nil
local have_real = FM_DIR ~= nil and data.locate('fashion-mnist', FM_DIR) ~= nil
local skip_reason = FM_DIR == nil and 'LUACNN_DATA is not set'
                    or ('the Fashion-MNIST files are not in ' .. FM_DIR)

local function real_it(name, fn)
  it(name, function()
    if not have_real then
      print(string.format('SKIPPED: "%s" because %s (get them with `luacnn data fetch fashion-mnist`)',
                          name, skip_reason))
      pending('needs the real Fashion-MNIST data: ' .. skip_reason)
    end
    fn()
  end)
end

describe('fashion_mnist on the real data', function()
  real_it('reads all 60,000 + 10,000 images well under a second', function()
    local t0 = now()
    local raw = data.read_fashion_mnist(FM_DIR)
    local seconds = now() - t0
    print(string.format('read_fashion_mnist: %.3f s', seconds))
    assert.are.equal('(60000, 1, 28, 28)', shape(raw.train.images))
    assert.are.equal('(60000)', shape(raw.train.labels))
    assert.are.equal('(10000, 1, 28, 28)', shape(raw.test.images))
    assert.are.equal('uint8', raw.train.images.dtype)
    assert.are.equal('int64', raw.train.labels.dtype)
    assert.is_true(seconds < 5, string.format('took %.2f s', seconds))
  end)

  real_it('batches: shapes, counts, dtypes, last partial batch kept', function()
    local train, test = data.fashion_mnist{batch_size = 256, root = FM_DIR}
    assert.are.equal(235, #train)
    assert.are.equal(40, #test)
    local n, batches, last
    n, batches = 0, 0
    for X, y in train do
      batches = batches + 1
      n = n + X:size(1)
      assert.are.equal('float32', X.dtype)
      assert.are.equal('int64', y.dtype)
      assert.are.equal(X:size(1), y:size(1))
      assert.are.equal(1, X:size(2))
      assert.are.equal(28, X:size(3))
      assert.are.equal(28, X:size(4))
      last = X:size(1)
    end
    assert.are.equal(235, batches)
    assert.are.equal(60000, n)
    assert.are.equal(60000 - 234 * 256, last)
    n = 0
    for X in test do n = n + X:size(1); last = X:size(1) end
    assert.are.equal(10000, n)
    assert.are.equal(16, last)
  end)

  real_it('labels: 1..10, the file\'s first labels + 1, 6000/1000 per class', function()
    local path = FM_DIR .. '/train-labels-idx1-ubyte.gz'
    local file = raw_bytes(path, 8, 20)
    -- the well-known start of the training labels (ankle boot, t-shirt, t-shirt, dress, ...)
    local known = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4}
    assert.are.same(known, file)
    local train, test = data.fashion_mnist{batch_size = 20, shuffle = false, root = FM_DIR}
    local _, y = train()()
    local expected = {}
    for i, v in ipairs(file) do expected[i] = v + 1 end
    assert.are.same(expected, y:totable())
    assert.are.same({'ankle boot', 't-shirt', 't-shirt', 'dress'},
                    {table.unpack(data.fashion_mnist_labels(y), 1, 4)})
    local raw = data.read_fashion_mnist(FM_DIR)
    for _, split in ipairs{{raw.train.labels, 6000}, {raw.test.labels, 1000}} do
      local labels, per_class = split[1], split[2]
      assert.are.equal(1, labels:min():item())
      assert.are.equal(10, labels:max():item())
      for c = 1, 10 do assert.are.equal(per_class, labels:eq(c):sum():item()) end
    end
    local _, ty = test()()
    local tfile = raw_bytes(FM_DIR .. '/t10k-labels-idx1-ubyte.gz', 8, 20)
    for i = 1, 20 do assert.are.equal(tfile[i] + 1, ty:totable()[i]) end
  end)

  real_it('pixels: in [0, 1], exactly byte / 255 in float32 (ToTensor)', function()
    local train = data.fashion_mnist{batch_size = 2, shuffle = false, root = FM_DIR}
    local X = train()()
    local bytes = raw_bytes(FM_DIR .. '/train-images-idx3-ubyte.gz', 16, 2 * 784)
    local flat = X:reshape(-1):double():totable()
    local maxb = 0
    for i = 1, #bytes do
      assert.are.equal(f32(bytes[i] / 255), flat[i])
      if bytes[i] > maxb then maxb = bytes[i] end
    end
    assert.is_true(maxb > 200) -- a real image, not a blank one
    local raw = data.read_fashion_mnist(FM_DIR)
    assert.are.equal(0, raw.train.images:min():item())
    assert.are.equal(255, raw.train.images:max():item())
    local big = data.fashion_mnist{batch_size = 1000, root = FM_DIR}
    local Xb = big()()
    assert.is_true(Xb:min():item() >= 0)
    assert.is_true(Xb:max():item() <= 1)
  end)

  real_it('shuffle: reproducible under manual_seed, new order each epoch, every example once', function()
    local train = data.fashion_mnist{batch_size = 500, root = FM_DIR}
    local function first_labels(it)
      local _, y = it()
      return y:totable()
    end
    lc.manual_seed(42)
    local a1 = first_labels(train())
    local a2 = first_labels(train())
    lc.manual_seed(42)
    local b1 = first_labels(train())
    assert.are.same(a1, b1)
    assert.are_not.same(a1, a2)
    local unshuffled = data.fashion_mnist{batch_size = 500, shuffle = false, root = FM_DIR}
    assert.are_not.same(first_labels(unshuffled()), a1)
    -- an epoch still holds each class 6000 times and images stay with their labels: the
    -- shuffled pixels of class c sum to the unshuffled ones
    local counts, sums = {}, {}
    for c = 1, 10 do counts[c], sums[c] = 0, 0 end
    for X, y in train do
      local per_image = X:sum({2, 3, 4}):double():totable()
      for i, c in ipairs(y:totable()) do
        counts[c] = counts[c] + 1
        sums[c] = sums[c] + per_image[i]
      end
    end
    local ref = {}
    for c = 1, 10 do ref[c] = 0 end
    for X, y in unshuffled do
      local per_image = X:sum({2, 3, 4}):double():totable()
      for i, c in ipairs(y:totable()) do ref[c] = ref[c] + per_image[i] end
    end
    for c = 1, 10 do
      assert.are.equal(6000, counts[c])
      assert.is_true(math.abs(sums[c] - ref[c]) < 1e-3 * ref[c], 'class ' .. c)
    end
  end)

  real_it('resize = 224: shape, values from the uint8 resize, lazily per batch', function()
    local train, test = data.fashion_mnist{batch_size = 32, resize = 224, subset = 64,
                                           shuffle = false, root = FM_DIR}
    assert.are.equal(2, #train)
    assert.are.equal(2, #test)
    local t0 = now()
    local X, y = train()()
    local seconds = now() - t0
    assert.are.equal('(32, 1, 224, 224)', shape(X))
    assert.are.equal('float32', X.dtype)
    assert.are.equal(32, y:size(1))
    local raw = data.read_fashion_mnist(FM_DIR)
    local expected = lc.core._F.resize_bilinear(raw.train.images:narrow(1, 1, 32), 224, 224)
    assert.are.equal(0, (X - data.to_tensor(expected)):abs():max():item())
    assert.are.equal(0, (X * 255 - expected:float()):abs():max():item() > 1e-4 and 1 or 0)
    local rect = data.fashion_mnist{batch_size = 4, resize = {32, 40}, subset = 4, root = FM_DIR}
    assert.are.equal('(4, 1, 32, 40)', shape(rect()()))
    print(string.format('one 32-image batch at 224x224: %.3f s', seconds))
  end)

  real_it('read_idx: gzipped and uncompressed copies give the same tensor', function()
    local dir = tempdir()
    finally(function() rmtree(dir) end)
    local src = FM_DIR .. '/t10k-labels-idx1-ubyte.gz'
    assert(os.execute('gzip -dc -- ' .. quote(src) .. ' > ' .. quote(dir .. '/labels')) == true)
    local a, b = lc.core.read_idx(src), lc.core.read_idx(dir .. '/labels')
    assert.are.equal('(10000)', shape(a))
    assert.are.same(a:totable(), b:totable())
  end)
end)

---------------------------------------------------------------- synthetic files

describe('fashion_mnist on synthetic files', function()
  local dir
  before_each(function() dir = tempdir() end)
  after_each(function() rmtree(dir) end)

  it('loads uncompressed and gzipped files from root, labels shifted to 1..10', function()
    for _, gz in ipairs{false, true} do
      rmtree(dir)
      dir = tempdir()
      fake_dataset(dir, 10, 5, gz)
      local train, test = data.fashion_mnist{root = dir, batch_size = 4, shuffle = false}
      assert.are.equal(3, #train)
      assert.are.equal(2, #test)
      local sizes, labels = {}, {}
      for X, y in train do
        sizes[#sizes + 1] = X:size(1)
        for _, v in ipairs(y:totable()) do labels[#labels + 1] = v end
      end
      assert.are.same({4, 4, 2}, sizes)
      assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, labels)
      local X = test()()
      -- pixel (k, i) of the file is (k * 7 + i) % 256 (k, i 0-based)
      assert.are.equal(f32(((1 * 7 + 5) % 256) / 255), X[2][1][1][6]:double():item())
      assert.are.equal(f32(((0 * 7 + 783) % 256) / 255), X[1][1][28][28]:double():item())
    end
  end)

  it('root may be the parent of a fashion-mnist/ directory', function()
    os.execute('mkdir -p ' .. quote(dir .. '/fashion-mnist'))
    fake_dataset(dir .. '/fashion-mnist', 3, 2, true)
    local train = data.fashion_mnist{root = dir, batch_size = 2}
    assert.are.equal(2, #train)
  end)

  it('subset takes the first N images of each split', function()
    fake_dataset(dir, 10, 6, false)
    local train, test = data.fashion_mnist{root = dir, batch_size = 3, subset = 4, shuffle = false}
    assert.are.equal(2, #train)
    local _, y = train()()
    assert.are.same({1, 2, 3}, y:totable())
    local tr2, te2 = data.fashion_mnist{root = dir, batch_size = 3, subset = {train = 7}}
    assert.are.equal(3, #tr2)
    assert.are.equal(2, #te2)
  end)

  it('a missing data set names where it looked and how to get it', function()
    local msg = errmsg(data.fashion_mnist, {root = dir})
    assert.matches('fashion%-mnist data set was not found', msg)
    assert.matches(dir, msg, 1, true)
    assert.matches('luacnn data fetch fashion-mnist', msg, 1, true)
    fake_dataset(dir, 3, 2, false)
    os.remove(dir .. '/t10k-labels-idx1-ubyte')
    msg = errmsg(data.fashion_mnist, {root = dir})
    assert.matches('missing t10k-labels-idx1-ubyte.gz', msg, 1, true)
  end)

  it('bad magic: the error names the file and the magic number', function()
    fake_dataset(dir, 3, 2, false)
    write(dir .. '/train-images-idx3-ubyte', idx_bytes({3, 28, 28}, string.rep('\0', 3 * 784), 0x12345678))
    local msg = errmsg(data.fashion_mnist, {root = dir})
    assert.matches(dir .. '/train-images-idx3-ubyte', msg, 1, true)
    assert.matches('bad magic number 0x12345678', msg, 1, true)
    assert.matches('luacnn data fetch fashion-mnist', msg, 1, true)
    -- a gzipped file of garbage is caught the same way
    write(dir .. '/junk', 'not an idx file at all')
    gzip(dir .. '/junk')
    assert.matches('bad magic number', errmsg(lc.core.read_idx, dir .. '/junk.gz'))
  end)

  it('a truncated file (raw or gzip) says what the header promised', function()
    fake_dataset(dir, 3, 2, false)
    write(dir .. '/t10k-images-idx3-ubyte', idx_bytes({2, 28, 28}, string.rep('\7', 784 + 100)))
    local msg = errmsg(data.fashion_mnist, {root = dir})
    assert.matches(dir .. '/t10k-images-idx3-ubyte', msg, 1, true)
    assert.matches('truncated: the header promises 2 x 28 x 28 = 1568 bytes', msg, 1, true)
    assert.matches('holds only 884', msg, 1, true)
    -- a gzip stream cut in the middle
    write(dir .. '/big', idx_bytes({200, 28, 28}, function(i) return i * 31 end))
    gzip(dir .. '/big')
    local f = assert(io.open(dir .. '/big.gz', 'rb'))
    local bytes = f:read('a')
    f:close()
    write(dir .. '/cut.gz', bytes:sub(1, #bytes // 2))
    msg = errmsg(lc.core.read_idx, dir .. '/cut.gz')
    assert.matches('cut.gz', msg, 1, true)
    assert.matches('truncated', msg, 1, true)
    -- a header shorter than its own sizes
    write(dir .. '/short', string.pack('>I4I4', 0x803, 5))
    assert.matches('truncated header', errmsg(lc.core.read_idx, dir .. '/short'))
    write(dir .. '/tiny', '\0\0')
    assert.matches('too short to be an IDX file', errmsg(lc.core.read_idx, dir .. '/tiny'))
  end)

  it('corrupt gzip data (a wrong CRC in the trailer) is an error', function()
    write(dir .. '/ok', idx_bytes({100}, function(i) return i end))
    gzip(dir .. '/ok')
    local f = assert(io.open(dir .. '/ok.gz', 'rb'))
    local bytes = f:read('a')
    f:close()
    local crc_at = #bytes - 7 -- the trailer: CRC-32, then the length, 4 bytes each
    write(dir .. '/bad.gz', bytes:sub(1, crc_at - 1) .. string.char((bytes:byte(crc_at) + 1) % 256)
                            .. bytes:sub(crc_at + 1))
    assert.are.equal(100, lc.core.read_idx(dir .. '/ok.gz'):numel())
    local msg = errmsg(lc.core.read_idx, dir .. '/bad.gz')
    assert.matches('bad.gz: corrupt gzip data', msg, 1, true)
  end)

  it('trailing bytes after the promised data are an error', function()
    write(dir .. '/long', idx_bytes({4}, '\1\2\3\4\5\6'))
    local msg = errmsg(lc.core.read_idx, dir .. '/long')
    assert.matches('2 bytes of trailing data after the 4', msg, 1, true)
  end)

  it('count mismatch between images and labels names both files', function()
    fake_dataset(dir, 4, 2, false)
    write(dir .. '/train-labels-idx1-ubyte', idx_bytes({3}, '\1\2\3'))
    local msg = errmsg(data.fashion_mnist, {root = dir})
    assert.matches('count mismatch', msg, 1, true)
    assert.matches('holds 4 images', msg, 1, true)
    assert.matches('holds 3 labels', msg, 1, true)
    assert.matches(dir .. '/train-labels-idx1-ubyte', msg, 1, true)
  end)

  it('swapped files and out-of-range labels are caught', function()
    fake_dataset(dir, 4, 2, false)
    write(dir .. '/train-images-idx3-ubyte', idx_bytes({4}, '\1\2\3\4'))
    assert.matches('expected images', errmsg(data.fashion_mnist, {root = dir}))
    fake_dataset(dir, 4, 2, false)
    write(dir .. '/train-labels-idx1-ubyte', idx_bytes({4}, '\1\2\3\12'))
    assert.matches('labels must be 0..9, found 12', errmsg(data.fashion_mnist, {root = dir}))
  end)

  it('a missing file passed to read_idx', function()
    local msg = errmsg(lc.core.read_idx, dir .. '/nothing.gz')
    assert.matches('read_idx: ' .. dir .. '/nothing.gz: cannot open: No such file', msg, 1, true)
  end)

  it('reads an idx file into the header\'s dims', function()
    write(dir .. '/a', idx_bytes({2, 3}, '\0\1\2\250\251\255'))
    local t = lc.core.read_idx(dir .. '/a')
    assert.are.equal('uint8', t.dtype)
    assert.are.same({{0, 1, 2}, {250, 251, 255}}, t:totable())
    write(dir .. '/e', idx_bytes({0, 28, 28}, ''))
    assert.are.equal('(0, 28, 28)', shape(lc.core.read_idx(dir .. '/e')))
  end)

  it('root resolution: $LUACNN_DATA, then the per-user cache', function()
    local host = package.loaded['luacnn.host']
    local exe = host and host.executable or (arg and arg[-1])
    if not exe or not exe:match('luacnn$') then
      print('SKIPPED: root resolution through the environment because the luacnn executable is not known (luacnn.host, arg[-1])')
      pending('needs the luacnn executable')
    end
    os.execute('mkdir -p ' .. quote(dir .. '/env/fashion-mnist') .. ' ' .. quote(dir .. '/xdg/luacnn/fashion-mnist'))
    fake_dataset(dir .. '/env/fashion-mnist', 5, 2, true)
    fake_dataset(dir .. '/xdg/luacnn/fashion-mnist', 7, 2, true)
    local script = [[local tr = require('luacnn').data.fashion_mnist{batch_size = 1}; io.write(#tr)]]
    local function run(env)
      local p = io.popen(env .. ' ' .. quote(exe) .. ' -e ' .. quote(script) .. ' 2>&1')
      local text = p:read('a')
      p:close()
      return text
    end
    assert.are.equal('5', run('LUACNN_DATA=' .. quote(dir .. '/env') .. ' XDG_CACHE_HOME=' .. quote(dir .. '/xdg')))
    assert.are.equal('7', run('LUACNN_DATA=' .. quote(dir .. '/none') .. ' XDG_CACHE_HOME=' .. quote(dir .. '/xdg')))
    assert.are.equal('7', run('env -u LUACNN_DATA HOME=' .. quote(dir .. '/none') .. ' XDG_CACHE_HOME=' .. quote(dir .. '/xdg')))
    -- last comes ../shared/data next to the source tree: a copy of lib/ in dir/src has none
    os.execute('mkdir -p ' .. quote(dir .. '/src') .. ' && cp -r ' .. quote(host.lib) .. ' ' .. quote(dir .. '/src/lib'))
    local msg = run('env -u LUACNN_DATA -u XDG_CACHE_HOME HOME=' .. quote(dir .. '/home') ..
                    ' LUACNN_LIB=' .. quote(dir .. '/src/lib'))
    assert.matches(dir .. '/home/.cache/luacnn/fashion-mnist', msg, 1, true)
    assert.matches(dir .. '/shared/data/fashion-mnist (../shared/data next to the source tree)', msg, 1, true)
    assert.matches('luacnn data fetch fashion-mnist', msg, 1, true)
  end)

  it('rejects unknown options and bad values', function()
    assert.matches("unknown option 'batchsize'", errmsg(data.fashion_mnist, {batchsize = 3}))
    assert.matches('batch_size must be a positive integer', errmsg(data.fashion_mnist, {batch_size = 0}))
    assert.matches('resize must be', errmsg(data.fashion_mnist, {resize = 'big'}))
  end)
end)

---------------------------------------------------------------- resize and ToTensor

describe('to_tensor (Resize + ToTensor)', function()
  local function u8(rows) return lc.tensor({{rows}}, {dtype = 'uint8'}) end

  it('every byte value b becomes b / 255 in float32, a true division (one pass in the core)', function()
    local bytes = {}
    for b = 0, 255 do bytes[#bytes + 1] = b end
    local img = lc.tensor(bytes, {dtype = 'uint8'}):reshape(1, 1, 16, 16)
    local got = data.to_tensor(img):reshape(-1):double():totable()
    for b = 0, 255 do assert.are.equal(f32(b / 255), got[b + 1]) end
    -- the same bits as converting and dividing by a float32 255 (12 / 255 is where
    -- multiplying by the reciprocal would be 1 ulp off)
    local want = img:float():div(lc.tensor(255))
    assert.are.equal(0, (data.to_tensor(img) - want):abs():max():item())
    -- a transposed (non-contiguous) batch converts as its contiguous copy
    local t = img:transpose(3, 4)
    assert.are.same(data.to_tensor(t:contiguous()):totable(), data.to_tensor(t):totable())
    local ok, err = pcall(lc.core._F.to_unit_float, img:float())
    assert.is_false(ok)
    assert.matches('to_unit_float: expected uint8 images, got float32', err, 1, true)
  end)

  it('upscales 2x2 -> 4x4 as PIL bilinear does (worked by hand)', function()
    -- PIL's triangle filter for 2 -> 4 (scale 0.5, support 1): output o has centre
    -- (o + 0.5) / 2 and reads input pixels with weights tri(x - centre + 0.5), normalised:
    --   o = 1: {1, 0};  o = 2: {0.75, 0.25};  o = 3: {0.25, 0.75};  o = 4: {0, 1}.
    -- Rows first, each pass rounding half up to uint8:
    --   [0, 100]   -> [0, 25, 75, 100]
    --   [200, 50]  -> [200, 162.5 -> 163, 87.5 -> 88, 50]
    -- then columns, e.g. column 2: [25, 163] -> [25, 59.5 -> 60, 128.5 -> 129, 163].
    local expected = {{0, 25, 75, 100}, {50, 60, 78, 88}, {150, 129, 85, 63}, {200, 163, 88, 50}}
    local X = data.to_tensor(u8({{0, 100}, {200, 50}}), {resize = 4})
    assert.are.equal('(1, 1, 4, 4)', shape(X))
    assert.are.equal('float32', X.dtype)
    local got = X[1][1]:double():totable()
    for r = 1, 4 do
      for c = 1, 4 do assert.are.equal(f32(expected[r][c] / 255), got[r][c]) end
    end
  end)

  it('downscales with PIL\'s antialias (values from PIL 13.0)', function()
    local img = {{10, 20, 30, 40, 50}, {60, 70, 80, 90, 100}, {0, 255, 0, 255, 0}}
    local X = data.to_tensor(u8(img), {resize = {2, 2}})
    local expected = {{39, 59}, {99, 106}}
    local got = X[1][1]:double():totable()
    for r = 1, 2 do
      for c = 1, 2 do assert.are.equal(f32(expected[r][c] / 255), got[r][c]) end
    end
  end)

  it('without resize it is ToTensor: byte / 255 in float32', function()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = i end
    local X = data.to_tensor(lc.tensor(bytes, {dtype = 'uint8'}):view(1, 1, 16, 16))
    local flat = X:reshape(-1):double():totable()
    for i = 0, 255 do assert.are.equal(f32(i / 255), flat[i + 1]) end
    assert.are.equal(0, flat[1])
    assert.are.equal(1, flat[256])
  end)

  it('rejects what is not a uint8 batch', function()
    assert.matches('expected uint8 images', errmsg(data.to_tensor, lc.zeros(1, 1, 2, 2)))
    assert.matches('expected uint8 images', errmsg(data.to_tensor, lc.zeros({2, 2}, {dtype = 'uint8'})))
  end)
end)

---------------------------------------------------------------- index_select

describe('index_select', function()
  local function int64(v) return lc.tensor(v, {dtype = 'int64'}) end

  it('picks slices along any dim, 1-based, repeats and negatives allowed', function()
    local a = lc.arange(24):view(2, 3, 4)
    assert.are.same({{{12, 13, 14, 15}}, {{0, 1, 2, 3}}}, a:index_select(1, {2, 1}):index_select(2, {1}):totable())
    assert.are.same({{{4, 5, 6, 7}, {4, 5, 6, 7}, {0, 1, 2, 3}}},
                    a:narrow(1, 1, 1):index_select(2, int64{2, -2, 1}):totable())
    assert.are.same({{3, 0}, {7, 4}, {11, 8}}, a[1]:index_select(2, {-1, 1}):totable())
    assert.are.same({{3, 0}, {7, 4}, {11, 8}}, a[1]:index_select(-1, int64{4, 1}):totable())
    assert.are.equal('(2, 0, 4)', shape(a:index_select(2, {})))
    assert.are.same({{2, 6, 10}}, lc.index_select(a[1], 2, {3}):t():totable())
  end)

  it('works on non-contiguous inputs and every dtype', function()
    local a = lc.arange(12):view(3, 4):t() -- (4, 3), not contiguous
    assert.are.same({{3, 7, 11}, {0, 4, 8}}, a:index_select(1, {4, 1}):totable())
    for _, dtype in ipairs{'float32', 'float64', 'int64', 'uint8'} do
      local t = lc.arange(6):view(2, 3):to(dtype)
      local s = t:index_select(2, {3, 3, 1})
      assert.are.equal(dtype, s.dtype)
      assert.are.same({{2, 2, 0}, {5, 5, 3}}, s:totable())
    end
  end)

  it('returns a copy, not a view', function()
    local a = lc.zeros(3, 2)
    local s = a:index_select(1, {2})
    s:fill_(5)
    assert.are.equal(0, a:sum():item())
  end)

  it('backward adds the gradient into the selected slices (repeats accumulate)', function()
    local a = lc.randn({3, 4}, {dtype = 'float64', requires_grad = true})
    local w = lc.randn({3, 5}, {dtype = 'float64'})
    local idx = {2, 4, 2, 1, -1}
    local out = a:index_select(2, idx)
    assert.are.equal('IndexSelect', out.grad_fn)
    ;(out * w):sum():backward()
    -- d/da[:, j] = sum of w[:, k] over the k that picked column j
    local wt, g = w:totable(), a.grad:totable()
    for r = 1, 3 do
      local expect = {wt[r][4], wt[r][1] + wt[r][3], 0, wt[r][2] + wt[r][5]}
      for c = 1, 4 do assert.is_true(math.abs(g[r][c] - expect[c]) < 1e-12) end
    end
    -- dim 1 (the column-block path of the kernel) and float32
    local b = lc.ones({4, 300}, {requires_grad = true})
    b:index_select(1, {1, 1, 3, 1}):sum():backward()
    assert.are.same({900, 0, 300, 0}, b.grad:sum(2):totable()) -- 3 / 0 / 1 / 0 per element
  end)

  it('errors name the index, the dim and its size', function()
    local a = lc.zeros(3, 4)
    assert.matches('index 5 %(position 2%) is out of range for dim 2 of size 4', errmsg(a.index_select, a, 2, {1, 5}))
    assert.matches('index %-4 %(position 1%) is out of range for dim 1 of size 3', errmsg(a.index_select, a, 1, {-4}))
    assert.matches('index 0 %(position 1%) is invalid: indices are 1%-based', errmsg(a.index_select, a, 1, {0}))
    assert.matches('indices must be an int64 tensor', errmsg(a.index_select, a, 1, lc.tensor{1}))
    assert.matches('must be a 1%-D tensor', errmsg(a.index_select, a, 1, int64{{1}}))
    assert.matches('must be an integer', errmsg(a.index_select, a, 1, {1.5}))
    assert.matches('dim 3 .*out of range', errmsg(a.index_select, a, 3, {1}))
  end)
end)

---------------------------------------------------------------- randperm

describe('randperm', function()
  it('is a permutation of 1..n, int64', function()
    local p = lc.randperm(1000)
    assert.are.equal('int64', p.dtype)
    local v = p:totable()
    table.sort(v)
    for i = 1, 1000 do assert.are.equal(i, v[i]) end
    assert.are.same({}, lc.randperm(0):totable())
    assert.are.same({1}, lc.randperm(1):totable())
    assert.are.equal('float32', lc.randperm(3, {dtype = 'float32'}).dtype)
  end)

  it('is reproducible under manual_seed and differs between calls', function()
    lc.manual_seed(7)
    local a, b = lc.randperm(50):totable(), lc.randperm(50):totable()
    lc.manual_seed(7)
    assert.are.same(a, lc.randperm(50):totable())
    assert.are.same(b, lc.randperm(50):totable())
    assert.are_not.same(a, b)
  end)

  it('draws every permutation of 3 about equally often', function()
    lc.manual_seed(123)
    local counts, n = {}, 6000
    for _ = 1, n do
      local key = table.concat(lc.randperm(3):totable())
      counts[key] = (counts[key] or 0) + 1
    end
    local kinds = 0
    for _, c in pairs(counts) do
      kinds = kinds + 1
      assert.is_true(math.abs(c - n / 6) < 150, 'count ' .. c) -- > 5 sigma
    end
    assert.are.equal(6, kinds)
  end)

  it('rejects bad n', function()
    assert.matches('n must be >= 0', errmsg(lc.randperm, -1))
    assert.matches('n must be an integer', errmsg(lc.randperm, 2.5))
  end)
end)

---------------------------------------------------------------- TensorDataset / DataLoader

describe('DataLoader', function()
  local function dataset(n)
    local x = lc.arange(n):view(n, 1)
    return data.TensorDataset(x, x * 2)
  end

  it('batches in order, keeps the last partial batch, #loader counts batches', function()
    local loader = data.DataLoader(dataset(10), {batch_size = 4})
    assert.are.equal(3, #loader)
    local seen = {}
    for x, y in loader do
      seen[#seen + 1] = x:size(1)
      assert.are.same((x * 2):totable(), y:totable())
    end
    assert.are.same({4, 4, 2}, seen)
    local dropped = data.DataLoader(dataset(10), {batch_size = 4, drop_last = true})
    assert.are.equal(2, #dropped)
    local k = 0
    for _ in dropped do k = k + 1 end
    assert.are.equal(2, k)
  end)

  it('shuffles every example exactly once per epoch, pairs kept together', function()
    local loader = data.DataLoader(dataset(103), {batch_size = 10, shuffle = true})
    local seen, order = {}, {}
    for x, y in loader do
      assert.are.same((x * 2):totable(), y:totable())
      for _, v in ipairs(x:reshape(-1):totable()) do
        assert.is_nil(seen[v])
        seen[v] = true
        order[#order + 1] = v
      end
    end
    assert.are.equal(103, #order)
    local sorted = {table.unpack(order)}
    table.sort(sorted)
    assert.are_not.same(sorted, order)
  end)

  it('nested loops and a break keep their own places', function()
    local loader = data.DataLoader(dataset(6), {batch_size = 2})
    local pairs_seen = {}
    for x in loader do
      for x2 in loader do pairs_seen[#pairs_seen + 1] = x:totable()[1][1] .. ':' .. x2:totable()[1][1] end
    end
    assert.are.same({'0:0', '0:2', '0:4', '2:0', '2:2', '2:4', '4:0', '4:2', '4:4'}, pairs_seen)
    for _ in loader do break end
    local firsts = {}
    for x in loader do firsts[#firsts + 1] = x:totable()[1][1] end
    assert.are.same({0, 2, 4}, firsts)
    -- reassigning the loop variable does not disturb the iteration
    local n = 0
    for x in loader do
      x = nil
      n = n + 1
      assert.is_nil(x)
    end
    assert.are.equal(3, n)
  end)

  it('an explicit iterator: loader()', function()
    local it = data.DataLoader(dataset(5), {batch_size = 2})()
    assert.are.same({{0}, {1}}, it():totable())
    assert.are.same({{2}, {3}}, it():totable())
    assert.are.same({{4}}, it():totable())
    assert.is_nil(it())
  end)

  it('applies transform, accepts a plain list, load_array', function()
    local x = lc.arange(4):view(4, 1)
    local loader = data.DataLoader({x}, {batch_size = 4, transform = function(b) return b:float() + 0.5, 'extra' end})
    local b, extra = loader()()
    assert.are.equal('float32', b.dtype)
    assert.are.equal('extra', extra)
    assert.are.same({{0.5}, {1.5}, {2.5}, {3.5}}, b:totable())
    assert.are.equal(2, #data.load_array({x, x}, 3, true))
  end)

  it('batches are copies: changing one leaves the data set alone', function()
    local x = lc.zeros(4, 2)
    for b in data.DataLoader({x}, {batch_size = 2}) do b:fill_(1) end
    for b in data.DataLoader({x}, {batch_size = 2, shuffle = true}) do b:fill_(1) end
    assert.are.equal(0, x:sum():item())
  end)

  it('TensorDataset: #ds, ds[i], mismatched sizes', function()
    local ds = dataset(3)
    assert.are.equal(3, #ds)
    assert.are.same({{1}, {2}}, {ds[2][1]:totable(), ds[2][2]:totable()})
    assert.matches('tensor 2 has 2 examples', errmsg(data.TensorDataset, lc.zeros(3), lc.zeros(2)))
    assert.matches('out of range', errmsg(function() return ds[4] end))
    assert.matches("unknown option 'batchsize'", errmsg(data.DataLoader, ds, {batchsize = 2}))
  end)
end)

describe('fashion_mnist_labels', function()
  it('names 1-based labels from a tensor or a list', function()
    assert.are.same({'t-shirt', 'ankle boot', 'sneaker'},
                    data.fashion_mnist_labels(lc.tensor({1, 10, 8}, {dtype = 'int64'})))
    assert.are.same({'trouser', 'bag'}, data.fashion_mnist_labels({2, 9}))
    assert.are.same({'pullover', 'dress', 'coat', 'sandal', 'shirt'}, data.fashion_mnist_labels({3, 4, 5, 6, 7}))
    assert.matches('label 0 at position 2 is not in 1..10', errmsg(data.fashion_mnist_labels, {1, 0}))
    assert.matches('label 11', errmsg(data.fashion_mnist_labels, lc.tensor({11}, {dtype = 'int64'})))
  end)
end)
