-- lc.image: reading, decoding and writing JPEG and PNG as uint8 (C, H, W) tensors.
-- The real-data tests read $LUACNN_DATA/classify-leaves (ctest points it at ../shared/data);
-- without the files they are reported as SKIPPED (busted's pending), never as passed.
local lc = require 'luacnn'
local image = lc.image

local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')
local tempdir, rmtree = files.tempdir, files.rmtree

local function write_bytes(path, bytes)
  local f = assert(io.open(path, 'wb'))
  f:write(bytes)
  f:close()
end

local function read_bytes(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

local function max_abs_diff(a, b) return (a:float() - b:float()):abs():max():item() end
local function mean_abs_diff(a, b) return (a:float() - b:float()):abs():mean():item() end

-- A smooth (C, H, W) uint8 image with some edges: JPEG keeps it close.
local function smooth(c, h, w)
  local rows = {}
  for k = 1, c do
    local plane = {}
    for y = 1, h do
      local row = {}
      for x = 1, w do
        local v = 128 + 90 * math.sin((x + 2 * k) * 0.15) * math.cos((y - k) * 0.11)
                  + (((x // 8 + y // 8) % 2 == 1) and 20 or -20)
        row[x] = math.max(0, math.min(255, math.floor(v)))
      end
      plane[y] = row
    end
    rows[k] = plane
  end
  return lc.tensor(rows, {dtype = 'uint8'})
end

local function no_temp_files(dir)
  local p = io.popen('ls -a ' .. files.quote(dir))
  local listing = p:read('a')
  p:close()
  return not listing:find('%.tmp%-')
end

---------------------------------------------------------------- real data (or a loud skip)

local DATA = os.getenv('LUACNN_DATA')
local LEAVES = DATA and DATA ~= '' and (DATA .. '/classify-leaves') or nil
local LEAF = LEAVES and (LEAVES .. '/images/0.jpg')
local have_real = false
if LEAF then
  local f = io.open(LEAF, 'rb')
  if f then f:close(); have_real = true end
end
local skip_reason = LEAVES == nil and 'LUACNN_DATA is not set' or (LEAF .. ' is not there')

local function real_it(name, fn)
  it(name, function()
    if not have_real then
      print(string.format('SKIPPED: "%s" because %s', name, skip_reason))
      pending('needs the classify-leaves images: ' .. skip_reason)
    end
    fn()
  end)
end

describe('lc.image on a real leaves JPEG', function()
  real_it('reads images/0.jpg as uint8 (3, 224, 224) with a real picture in it', function()
    local t = image.read(LEAF)
    assert.equals('uint8', t.dtype)
    assert.same({3, 224, 224}, {t:size(1), t:size(2), t:size(3)})
    assert.equals(3, t:dim())
    -- PIL 13 (libjpeg-turbo, as torchvision) decodes this file to exactly these channel sums
    local f = t:float():to('float64')
    assert.equals(12178436, f:select(1, 1):sum():item())
    assert.equals(12201668, f:select(1, 2):sum():item())
    assert.equals(12174862, f:select(1, 3):sum():item())
    assert.is_true(t:max():item() - t:min():item() > 100, 'the picture has contrast')
    local info = image.info(LEAF)
    assert.same({channels = 3, height = 224, width = 224}, info)
  end)

  real_it('decode of the file bytes gives the same pixels as read', function()
    assert.equals(0, max_abs_diff(image.decode(read_bytes(LEAF)), image.read(LEAF)))
  end)

  real_it('scale = 2, 4, 8 decode smaller versions of the same picture', function()
    local full = image.read(LEAF):float()
    for _, s in ipairs({2, 4, 8}) do
      local t = image.read(LEAF, {scale = s})
      if s == 2 then -- PIL's draft mode (the same libjpeg DCT scaling) sums to this
        assert.equals(9138959, t:float():to('float64'):sum():item())
      end
      assert.equals(3, t:size(1))
      assert.equals(224 // s, t:size(2))
      assert.equals(224 // s, t:size(3))
      -- each channel's mean survives downscaling
      for c = 1, 3 do
        local a = full:select(1, c):mean():item()
        local b = t:float():select(1, c):mean():item()
        assert.is_true(math.abs(a - b) < 2, string.format('scale 1/%d channel %d: mean %.2f vs %.2f', s, c, b, a))
      end
    end
  end)

  real_it('channels = gray gives the luma, rgba adds opaque alpha', function()
    local rgb = image.read(LEAF):float()
    local gray = image.read(LEAF, {channels = 'gray'})
    assert.equals(1, gray:size(1))
    local luma = rgb:select(1, 1) * 0.299 + rgb:select(1, 2) * 0.587 + rgb:select(1, 3) * 0.114
    assert.is_true(mean_abs_diff(gray:select(1, 1), luma) < 1.5)
    local rgba = image.read(LEAF, {channels = 'rgba'})
    assert.equals(4, rgba:size(1))
    assert.equals(255, rgba:select(1, 4):min():item())
    assert.equals(0, max_abs_diff(rgba:narrow(1, 1, 3), rgb))
  end)
end)

---------------------------------------------------------------- round trips

describe('lc.image.write and read', function()
  local dir
  before_each(function() dir = tempdir() end)
  after_each(function() rmtree(dir) end)

  it('PNG round trips are exact for 1, 3 and 4 channels', function()
    for _, c in ipairs({1, 3, 4}) do
      local t = lc.randint(0, 256, {c, 17, 29}, {dtype = 'uint8'})
      local path = dir .. '/x' .. c .. '.png'
      assert.equals(path, image.write(path, t))
      local back = image.read(path)
      assert.equals('uint8', back.dtype)
      assert.equals(c, back:size(1))
      assert.equals(17, back:size(2))
      assert.equals(29, back:size(3))
      assert.equals(0, max_abs_diff(back, t))
    end
    assert.is_true(no_temp_files(dir))
  end)

  it('a float image in [0, 1] is written as round(x * 255), clamped', function()
    local x = lc.rand({3, 8, 9})
    x:select(2, 1):fill_(-0.5) -- below 0 -> 0
    x:select(2, 2):fill_(1.5)  -- above 1 -> 255
    local path = dir .. '/f.png'
    image.write(path, x)
    local back = image.read(path):float()
    local want = (x:clamp(0, 1) * 255 + 0.5):totable()
    local got = back:totable()
    for c = 1, 3 do for y = 1, 8 do for w = 1, 9 do
      assert.equals(math.floor(want[c][y][w]), got[c][y][w])
    end end end
  end)

  it('a non-contiguous view is written as it looks', function()
    local t = lc.randint(0, 256, {3, 10, 12}, {dtype = 'uint8'})
    local v = t:narrow(3, 3, 6)
    image.write(dir .. '/v.png', v)
    assert.equals(0, max_abs_diff(image.read(dir .. '/v.png'), v))
  end)

  it('JPEG round trips are close (quality 95 default, lower quality further off)', function()
    local t = smooth(3, 48, 64)
    image.write(dir .. '/a.jpg', t)
    local back = image.read(dir .. '/a.jpg')
    assert.equals(3, back:size(1))
    local d95 = mean_abs_diff(back, t)
    assert.is_true(d95 < 2.5, 'quality 95: mean |diff| ' .. d95)
    image.write(dir .. '/b.jpeg', t, {quality = 30})
    local d30 = mean_abs_diff(image.read(dir .. '/b.jpeg'), t)
    assert.is_true(d30 > d95, string.format('quality 30 (%.2f) worse than 95 (%.2f)', d30, d95))
    assert.is_true(#read_bytes(dir .. '/b.jpeg') < #read_bytes(dir .. '/a.jpg'))
    -- gray
    local g = smooth(1, 40, 40)
    image.write(dir .. '/g.jpg', g)
    local gb = image.read(dir .. '/g.jpg')
    assert.equals(1, gb:size(1))
    assert.is_true(mean_abs_diff(gb, g) < 2.5)
  end)

  it('channels converts: gray file read as rgb repeats it', function()
    local g = lc.randint(0, 256, {1, 6, 7}, {dtype = 'uint8'})
    image.write(dir .. '/g.png', g)
    local rgb = image.read(dir .. '/g.png', {channels = 'rgb'})
    assert.equals(3, rgb:size(1))
    for c = 1, 3 do assert.equals(0, max_abs_diff(rgb:select(1, c), g:select(1, 1))) end
  end)
end)

---------------------------------------------------------------- errors

describe('lc.image errors', function()
  local dir
  before_each(function() dir = tempdir() end)
  after_each(function() rmtree(dir) end)

  local function err_of(f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok, 'expected an error')
    return tostring(msg)
  end

  it('a missing file names the file', function()
    local msg = err_of(image.read, dir .. '/missing.jpg')
    assert.truthy(msg:find("image.read: cannot read '" .. dir .. "/missing.jpg': No such file", 1, true), msg)
    assert.truthy(msg:find('image_spec.lua', 1, true), 'the error points at the caller: ' .. msg)
  end)

  it('a truncated JPEG and a truncated PNG are errors naming the file, at every cut', function()
    local t = smooth(3, 32, 32)
    image.write(dir .. '/full.jpg', t)
    image.write(dir .. '/full.png', t)
    for _, ext in ipairs({'jpg', 'png'}) do
      local bytes = read_bytes(dir .. '/full.' .. ext)
      local path = dir .. '/cut.' .. ext
      for n = 1, #bytes - 1, math.max(1, #bytes // 40) do
        write_bytes(path, bytes:sub(1, n))
        local msg = err_of(image.read, path)
        assert.truthy(msg:find("image.read: cannot decode '" .. path .. "': ", 1, true), msg)
      end
      write_bytes(path, bytes:sub(1, #bytes - 1))
      local msg = err_of(image.read, path)
      assert.truthy(msg:find('truncated', 1, true), msg)
    end
  end)

  it('not an image, an empty file, bad bytes to decode', function()
    write_bytes(dir .. '/a.jpg', 'hello')
    assert.truthy(err_of(image.read, dir .. '/a.jpg'):find("cannot decode '" .. dir .. "/a.jpg': not a JPEG or PNG", 1, true))
    write_bytes(dir .. '/e.png', '')
    assert.truthy(err_of(image.read, dir .. '/e.png'):find('empty', 1, true))
    assert.truthy(err_of(image.decode, 'garbage'):find('image.decode: not a JPEG or PNG', 1, true))
    assert.truthy(err_of(image.decode, 42):find('image.decode: expected the bytes', 1, true))
    assert.truthy(err_of(image.info, dir .. '/a.jpg'):find("image.info: cannot decode '" .. dir .. "/a.jpg'", 1, true))
  end)

  it('bad options are refused', function()
    write_bytes(dir .. '/x.png', '')
    assert.truthy(err_of(image.read, dir .. '/x.png', {channels = 'cmyk'}):find("channels must be 'gray', 'rgb', 'rgba'", 1, true))
    assert.truthy(err_of(image.read, dir .. '/x.png', {scale = 3}):find('scale must be 1, 2, 4 or 8', 1, true))
    assert.truthy(err_of(image.read, dir .. '/x.png', {chanels = 'rgb'}):find("unknown option 'chanels'", 1, true))
  end)

  it('write refuses what it cannot write, and leaves nothing behind', function()
    local rgb = lc.randint(0, 256, {3, 4, 4}, {dtype = 'uint8'})
    assert.truthy(err_of(image.write, dir .. '/x.bmp', rgb):find('unknown extension', 1, true))
    assert.truthy(err_of(image.write, dir .. '/x.png', lc.zeros(2, 4, 4)):find('1, 3 or 4 channels', 1, true))
    assert.truthy(err_of(image.write, dir .. '/x.png', lc.zeros(1, 1, 3, 4, 4)):find('(C, H, W)', 1, true))
    assert.truthy(err_of(image.write, dir .. '/x.png', lc.zeros({3, 4, 4}, {dtype = 'int64'})):find('int64', 1, true))
    assert.truthy(err_of(image.write, dir .. '/x.jpg', lc.randint(0, 256, {4, 4, 4}, {dtype = 'uint8'})):find('alpha', 1, true))
    assert.truthy(err_of(image.write, dir .. '/x.jpg', rgb, {quality = 0}):find('quality', 1, true))
    assert.truthy(err_of(image.write, dir .. '/no/dir/x.png', rgb):find("cannot write '" .. dir .. "/no/dir/x.png'", 1, true))
    assert.truthy(err_of(image.write, dir .. '/x.png', 'pixels'):find('image.write', 1, true))
    local p = io.popen('ls -A ' .. files.quote(dir))
    local listing = p:read('a')
    p:close()
    assert.equals('', listing)
  end)
end)
