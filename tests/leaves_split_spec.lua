-- lc.data.leaves: the Classify Leaves CSVs, the sorted class list and a seeded, stratified
-- train/valid split that keeps byte-identical images on one side. A tiny synthetic set made
-- here (with duplicates, one of them with conflicting labels) tests the rules; the real set
-- ($LUACNN_DATA/classify-leaves) is checked against the counts its README gives, and SKIPPED
-- loudly when absent.
local lc = require 'luacnn'
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')

local function write(path, bytes)
  local f = assert(io.open(path, 'wb'))
  f:write(bytes)
  f:close()
end

local function read(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

-- Classes c1 (40 rows), c2 (25), b0 (10), plus: a pair of identical files in c1, a triple in
-- c2, a pair labelled c1 and c2 (conflicting), and a test image identical to a c2 image.
local function make_set(dir)
  os.execute('mkdir -p ' .. files.quote(dir .. '/images'))
  local rows, k = {}, 0
  local function add(label, content)
    local name = 'images/' .. k .. '.jpg'
    k = k + 1
    write(dir .. '/' .. name, content or ('unique image ' .. k .. ' ' .. string.rep('x', k % 37)))
    rows[#rows + 1] = name .. ',' .. label
    return name
  end
  for i = 1, 40 do add('c1') end
  for i = 1, 25 do add('c2') end
  for i = 1, 10 do add('b0') end
  add('c1', 'pair in c1'); add('c1', 'pair in c1')
  add('c2', 'triple in c2'); add('c2', 'triple in c2'); add('c2', 'triple in c2')
  add('c1', 'conflict'); add('c2', 'conflict')
  write(dir .. '/train.csv', 'image,label\n' .. table.concat(rows, '\n') .. '\n')
  local test = {}
  for i = 1, 4 do
    local name = 'images/' .. k .. '.jpg'
    k = k + 1
    write(dir .. '/' .. name, i == 1 and 'triple in c2' or ('test image ' .. i))
    test[#test + 1] = name
  end
  write(dir .. '/test.csv', 'image\n' .. table.concat(test, '\n') .. '\n')
  return #rows
end

-- content -> side, failing if one content is on both sides
local function straddling(ds)
  local side, bad = {}, 0
  for _, part in ipairs {'train', 'valid'} do
    for _, p in ipairs(ds[part].paths) do
      local c = read(p)
      if side[c] and side[c] ~= part then bad = bad + 1 end
      side[c] = side[c] or part
    end
  end
  return bad
end

describe('leaves on a synthetic set', function()
  local dir, nrows
  setup(function()
    dir = files.tempdir()
    nrows = make_set(dir)
  end)
  teardown(function() files.rmtree(dir) end)

  it('reads sorted classes, 1-based labels, CSV rows and the test list', function()
    local ds = lc.data.leaves{root = dir}
    assert.same({'b0', 'c1', 'c2'}, ds.classes)
    assert.equal(2, ds.class_index.c1)
    assert.equal(nrows, #ds.all.paths)
    assert.equal('images/0.jpg', ds.all.names[1])
    assert.equal(dir .. '/images/0.jpg', ds.all.paths[1])
    assert.equal(2, ds.all.rows[1])          -- line 2 of train.csv
    assert.equal(2, ds.all.labels[1])        -- c1
    assert.equal(#ds.all.paths, #ds.train.paths + #ds.valid.paths)
    assert.equal(4, #ds.test.paths)
    assert.equal(dir .. '/images/' .. nrows .. '.jpg', ds.test.paths[1])
  end)

  it('finds the duplicate groups, keeps each on one side and conflicting ones in train', function()
    for seed = 0, 5 do
      local ds = lc.data.leaves{root = dir, seed = seed}
      local r = ds.report
      assert.equal(3, r.dup_groups)
      assert.equal(7, r.dup_rows)
      assert.equal(1, r.conflicting_groups)
      assert.equal(2, r.conflicting_rows)
      assert.equal(1, r.test_dup_of_labelled)
      assert.equal(0, r.straddling)
      assert.equal(0, straddling(ds))
      for _, name in ipairs(ds.valid.names) do
        assert.is_not.equal('images/81.jpg', name)
        assert.is_not.equal('images/82.jpg', name)
      end
    end
  end)

  it('takes about valid_ratio of each class for valid', function()
    local ds = lc.data.leaves{root = dir, valid_ratio = 0.2, seed = 3}
    local total, valid = {}, {}
    for _, l in ipairs(ds.all.labels) do total[l] = (total[l] or 0) + 1 end
    for _, l in ipairs(ds.valid.labels) do valid[l] = (valid[l] or 0) + 1 end
    -- rows of label-consistent groups per class: b0 10, c1 42, c2 28
    assert.equal(2, valid[1])
    assert.is_true(math.abs(valid[2] - 0.2 * 42) <= 1)
    assert.is_true(math.abs(valid[3] - 0.2 * 28) <= 3)   -- a group of 3 may not fit
    assert.is_true(#ds.train.paths > 0)
    local none = lc.data.leaves{root = dir, valid_ratio = 0}
    assert.equal(0, #none.valid.paths)
  end)

  it('is reproducible for a seed and changes with it', function()
    local a = lc.data.leaves{root = dir, seed = 7}
    local b = lc.data.leaves{root = dir, seed = 7}
    local c = lc.data.leaves{root = dir, seed = 8}
    assert.same(a.valid.names, b.valid.names)
    assert.is_not.same(a.valid.names, c.valid.names)
  end)

  it('limit takes the first N labelled rows before splitting', function()
    local ds = lc.data.leaves{root = dir, limit = 20}
    assert.equal(20, #ds.all.paths)
    assert.same({'c1'}, ds.classes)
    assert.equal(4, #ds.valid.paths)
    assert.equal('images/19.jpg', ds.all.names[20])
  end)

  it('says where it looked when there is no data, and checks its options', function()
    local ok, err = pcall(lc.data.leaves, {root = dir .. '/missing'})
    assert.is_false(ok)
    assert.matches('train.csv not found', tostring(err), 1, true)
    ok, err = pcall(lc.data.leaves, {root = dir, valid_ratio = 1.5})
    assert.matches('valid_ratio must be', tostring(err), 1, true)
    ok, err = pcall(lc.data.leaves, {root = dir, bogus = 1})
    assert.matches("unknown option 'bogus'", tostring(err), 1, true)
  end)
end)

describe('leaves on the real set', function()
  local env = os.getenv('LUACNN_DATA')
  local root = env and env ~= '' and env .. '/classify-leaves' or nil
  local have = root and io.open(root .. '/train.csv') ~= nil

  it('finds the duplicates its README describes and keeps every group on one side', function()
    if not have then
      print('SKIPPED: leaves on the real set because ' .. (root and (root .. '/train.csv is absent') or 'LUACNN_DATA is not set'))
      pending('needs $LUACNN_DATA/classify-leaves')
      return
    end
    local ds = lc.data.leaves{root = root}
    local r = ds.report
    print('\n' .. r.text)
    assert.equal(176, #ds.classes)
    assert.equal(16517, #ds.all.paths)
    assert.equal(8800, #ds.test.paths)
    assert.equal(107, r.conflicting_groups)    -- README: 107 groups with different labels within train.csv
    assert.equal(485, r.dup_groups_all)        -- README: 485 groups over the whole set
    assert.equal(167, r.groups_with_test)      -- README: 167 span train and test
    assert.equal(0, r.straddling)
    assert.is_true(math.abs(#ds.valid.paths / #ds.all.paths - 0.2) < 0.01)
    -- independently of the C hashing: no valid image's bytes appear in train
    local valid = {}
    for _, p in ipairs(ds.valid.paths) do valid[read(p)] = p end
    for i, p in ipairs(ds.train.paths) do
      local twin = valid[read(p)]
      assert(twin == nil, p .. ' (train) has the same bytes as ' .. tostring(twin) .. ' (valid)')
    end
    assert.equal(root, ds.root)
    assert.equal(root, (lc.data.leaves_root()))   -- found through $LUACNN_DATA
  end)
end)
