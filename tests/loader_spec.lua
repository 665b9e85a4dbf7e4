-- lc.data.ImageLoader: worker threads decode and transform image files into batches.
-- JPEGs made here (lc.image.write) with a small RandomResizedCrop pipeline: batch shapes and
-- labels, drop_last, byte-identical batches for 0..3 workers and with the cache, new
-- augmentation each epoch, an early break followed by a new loop, and a corrupt file raised
-- (naming the file and its CSV row) or skipped and counted.
local lc = require 'luacnn'
local T = lc.transforms
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')

local dir
local paths, labels, rows = {}, {}, {}
local N = 21

local function pipeline(size, to_tensor)
  local ops = {T.RandomResizedCrop(size or 16, {scale = {0.3, 1}}), T.RandomHorizontalFlip()}
  if to_tensor ~= false then
    ops[#ops + 1] = T.ToTensor()
    ops[#ops + 1] = T.Normalize{mean = {0.5, 0.4, 0.3}, std = {0.2, 0.25, 0.3}}
  end
  return T.Compose(ops)
end

setup(function()
  dir = files.tempdir()
  lc.manual_seed(11)
  for i = 1, N do
    -- differently sized, differently coloured images (JPEG and PNG)
    local h, w = 40 + (i % 3) * 8, 48 + (i % 4) * 4
    local img = (lc.rand(3, h, w) * 200 + i * 2):to('uint8')
    local path = string.format('%s/img%02d.%s', dir, i, i % 5 == 0 and 'png' or 'jpg')
    lc.image.write(path, img)
    paths[i], labels[i], rows[i] = path, (i % 4) + 1, i + 1
  end
end)
teardown(function() files.rmtree(dir) end)

local function loader(opts)
  local o = {paths = paths, labels = labels, rows = rows, transform = pipeline(), batch_size = 8,
             seed = 5}
  for k, v in pairs(opts or {}) do o[k] = v end
  for k, v in pairs(o) do if v == 'none' then o[k] = nil end end   -- 'none': leave the option out
  return lc.data.ImageLoader(o)
end

-- every batch of one epoch: {X = ..., y = ..., index = ...}
local function epoch(l)
  local out = {}
  for X, y, index in l do out[#out + 1] = {X = X, y = y, index = index} end
  return out
end

local function same_batches(a, b)
  assert.equal(#a, #b)
  for k = 1, #a do
    assert.same(a[k].index:totable(), b[k].index:totable())
    assert.equal(a[k].X.dtype, b[k].X.dtype)
    assert.equal(tostring(a[k].X:shape()), tostring(b[k].X:shape()))
    assert.equal(0, (a[k].X:double() - b[k].X:double()):abs():max():item(), 'batch ' .. k .. ' differs')
  end
end

describe('ImageLoader', function()
  it('makes batches of the pipeline output with labels and 1-based indices, in order', function()
    local l = loader{workers = 2}
    assert.equal(3, #l)
    local b = epoch(l)
    assert.equal(3, #b)
    local sizes, all = {}, {}
    for k, batch in ipairs(b) do
      sizes[k] = batch.X:size(1)
      assert.equal('float32', batch.X.dtype)
      assert.same({batch.X:size(1), 3, 16, 16}, {batch.X:size(1), batch.X:size(2), batch.X:size(3), batch.X:size(4)})
      assert.equal('int64', batch.y.dtype)
      for j, i in ipairs(batch.index:totable()) do
        all[#all + 1] = i
        assert.equal(labels[i], batch.y[j]:item())
      end
    end
    assert.same({8, 8, 5}, sizes)
    local expect = {}
    for i = 1, N do expect[i] = i end
    assert.same(expect, all)
  end)

  it('drops the last partial batch with drop_last and returns uint8 without ToTensor', function()
    local l = loader{drop_last = true, shuffle = true, transform = pipeline(12, false), workers = 1}
    assert.equal(2, #l)
    local b = epoch(l)
    assert.equal(2, #b)
    assert.equal('uint8', b[1].X.dtype)
    assert.equal(12, b[2].X:size(4))
  end)

  it('gives byte-identical batches whatever the number of workers', function()
    local ref = epoch(loader{workers = 1, shuffle = true})
    same_batches(ref, epoch(loader{workers = 2, shuffle = true}))
    same_batches(ref, epoch(loader{workers = 3, shuffle = true, prefetch = 1}))
    same_batches(ref, epoch(loader{workers = 0, shuffle = true}))
  end)

  it('shuffles and augments differently each epoch, and set_epoch replays one', function()
    local l = loader{shuffle = true, workers = 2}
    local e0, e1 = epoch(l), epoch(l)
    assert.is_not.same(e0[1].index:totable(), e1[1].index:totable())
    l:set_epoch(0)
    same_batches(e0, epoch(l))
    -- without shuffling the order stays, the augmentation changes
    local f = loader{workers = 2}
    local a, b = epoch(f), epoch(f)
    assert.same(a[1].index:totable(), b[1].index:totable())
    assert.is_true((a[1].X - b[1].X):abs():max():item() > 0)
  end)

  it('draws its seed from lc.manual_seed', function()
    lc.manual_seed(3)
    local a = epoch(loader{seed = 'none', shuffle = true, workers = 2})
    lc.manual_seed(3)
    local b = epoch(loader{seed = 'none', shuffle = true, workers = 1})
    same_batches(a, b)
  end)

  it('keeps decoded images with cache = true and gives the same batches', function()
    local plain, cached = loader{shuffle = true, workers = 2}, loader{shuffle = true, workers = 2, cache = true}
    for _ = 1, 2 do same_batches(epoch(plain), epoch(cached)) end
    assert.is_true(cached.cache_bytes > 0)
    assert.equal(0, plain.cache_bytes)
  end)

  it('decodes JPEGs smaller with decode_scale (same shapes, a smaller cache)', function()
    local full, half = loader{cache = true, decode_scale = 1}, loader{cache = true, decode_scale = 2}
    local a, b = epoch(full), epoch(half)
    for k = 1, #a do assert.equal(tostring(a[k].X:shape()), tostring(b[k].X:shape())) end
    assert.is_true(half.cache_bytes < 0.5 * full.cache_bytes)   -- PNGs (1 in 5) stay full size
    local ok, err = pcall(loader, {decode_scale = 3})
    assert.matches('decode_scale must be 1, 2, 4 or 8', tostring(err), 1, true)
  end)

  it('starts cleanly after a loop is left early, and closes', function()
    local l = loader{shuffle = true, workers = 3, batch_size = 2, prefetch = 2}
    for round = 1, 5 do
      local seen = 0
      for X in l do
        seen = seen + 1
        if seen == round then break end
      end
      assert.equal(round, seen)
    end
    assert.equal(#l, #epoch(l))
    for X in l do break end
    l:close()
    l:close()
    local closed = 0
    do
      for X in l:epoch() do
        closed = closed + 1
        if closed == 2 then break end
      end
    end
    assert.is_false(l.handle:running())
    assert.equal(2, closed)
  end)

  it('works without labels', function()
    for X, y, index in loader{labels = 'none', workers = 1, batch_size = 32} do
      assert.is_nil(y)
      assert.equal(N, index:size(1))
    end
  end)

  describe('with a corrupt file', function()
    local bad
    setup(function()
      bad = {}
      for i, p in ipairs(paths) do bad[i] = p end
      bad[7] = dir .. '/corrupt.jpg'
      local f = assert(io.open(bad[7], 'wb'))
      f:write('\255\216\255\224 this is not a jpeg')
      f:close()
      bad[10] = dir .. '/missing.jpg'
    end)

    it("raises in the main thread naming the file and its CSV row (on_error = 'raise')", function()
      for _, workers in ipairs {0, 1, 3} do
        local l = loader{paths = bad, workers = workers}
        local ok, err = pcall(epoch, l)
        assert.is_false(ok)
        assert.matches('corrupt.jpg', tostring(err), 1, true)
        assert.matches('CSV row 8', tostring(err), 1, true)
        -- the loader can run again (and fails the same way)
        ok, err = pcall(epoch, l)
        assert.matches('CSV row 8', tostring(err), 1, true)
      end
      -- without CSV rows the message names the sample (1-based position in paths)
      local ok, err = pcall(epoch, loader{paths = bad, rows = 'none', workers = 2})
      assert.is_false(ok)
      assert.matches('corrupt.jpg (sample 7)', tostring(err), 1, true)
    end)

    it("skips and counts failing samples (on_error = 'skip')", function()
      local l = loader{paths = bad, on_error = 'skip', workers = 2}
      local b = epoch(l)
      local n, indices = 0, {}
      for _, batch in ipairs(b) do
        n = n + batch.X:size(1)
        assert.equal(batch.X:size(1), batch.y:size(1))
        for _, i in ipairs(batch.index:totable()) do indices[i] = true end
      end
      assert.equal(N - 2, n)
      assert.is_nil(indices[7])
      assert.is_nil(indices[10])
      assert.equal(2, l.skipped)
      same_batches(b, epoch(loader{paths = bad, on_error = 'skip', workers = 0}) )
    end)
  end)

  it('distribute: ranks share every epoch\'s order, disjoint, padded, the same bytes', function()
    local whole = epoch(loader{shuffle = true, batch_size = 4, workers = 2})
    local order = {}
    for _, b in ipairs(whole) do for _, i in ipairs(b.index:totable()) do order[#order + 1] = i end end
    local R, seen = 2, {}
    for r = 0, R - 1 do
      local l = loader{shuffle = true, batch_size = 4, workers = 2}
      assert.equal(l, l:distribute{num_replicas = R, rank = r, split_batch = true})
      assert.equal(2, l.batch_size)
      assert.equal(6, #l)                       -- ceil(21 / 2) = 11 images, batches of 2
      local got = epoch(l)
      local k = 0
      for _, b in ipairs(got) do
        for j, i in ipairs(b.index:totable()) do
          k = k + 1
          local pos = (r + (k - 1) * R) % N + 1      -- position r+1, r+1+R, ... of the order
          assert.equal(order[pos], i)
          seen[i] = (seen[i] or 0) + 1
          -- the same sample as in the whole epoch, augmented the same way
          local wb, wj = (pos - 1) // 4 + 1, (pos - 1) % 4 + 1
          assert.equal(0, (b.X[j] - whole[wb].X[wj]):abs():max():item())
        end
      end
      assert.equal(11, k)
    end
    for i = 1, N do assert.is_truthy(seen[i], 'image ' .. i .. ' missing') end
    -- evaluation shares: each image once
    local total = 0
    for r = 0, R - 1 do
      local l = loader{batch_size = 4}:distribute{num_replicas = R, rank = r, eval = true}
      for _, b in ipairs(epoch(l)) do total = total + b.index:numel() end
    end
    assert.equal(N, total)
    assert.matches('does not split over 2 ranks', select(2, pcall(function()
      loader{batch_size = 5}:distribute{num_replicas = 2, rank = 0, split_batch = true}
    end)), 1, true)
  end)

  it('checks its options', function()
    local function err_of(opts)
      local ok, e = pcall(loader, opts)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.matches("on_error must be 'raise' or 'skip'", err_of{on_error = 'ignore'}, 1, true)
    assert.matches("unknown option 'bach_size'", err_of{bach_size = 3}, 1, true)
    assert.matches('labels has 2 values but there are 21 paths', err_of{labels = {1, 2}}, 1, true)
    if not lc.cuda.is_available() then
      assert.matches("device='cuda' needs a GPU", err_of{device = 'cuda'}, 1, true)
    end
  end)
end)
