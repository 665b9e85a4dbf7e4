-- lc.plot.image_grid: d2l's show_images as a PNG. The PNG is read back through cairo
-- (core._chart.read_png) to check where each image landed, its pixels and its title colour.
local lc = require 'luacnn'
local plot = lc.plot
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')

local read_png = require('luacnn.core')._chart.read_png

local function pixel(png, x, y)
  local i = (y * png.w + x) * 3 + 1
  return png.px:byte(i), png.px:byte(i + 1), png.px:byte(i + 2)
end

local function load(path)
  local w, h, px = read_png(path)
  return {w = w, h = h, px = px}
end

-- top-left corner of image k (1-based), as documented in plot.lua
local function corner(L, k)
  local col, row = (k - 1) % L.cols, (k - 1) // L.cols
  return L.pad + col * (L.cell_w + L.pad), L.pad + row * (L.title_h + L.cell_h + L.pad) + L.title_h
end

-- B solid images (3, h, w) uint8, image k filled with colours[k] = {r, g, b}
local function solid(colours, h, w)
  local list = {}
  for k, c in ipairs(colours) do
    list[k] = lc.tensor({{{c[1]}}, {{c[2]}}, {{c[3]}}}, {dtype = 'uint8'}):expand(3, h, w):contiguous()
  end
  return lc.stack(list)
end

local colours = {{255, 0, 0}, {0, 128, 255}, {10, 200, 30}, {0, 0, 0}, {250, 250, 5}}

describe('lc.plot.image_grid', function()
  local tmp
  before_each(function() tmp = files.tempdir() end)
  after_each(function() files.rmtree(tmp) end)

  if not H.plot_available() then return end

  it('writes a PNG whose size is the documented layout, each image in its cell', function()
    local path = tmp .. '/grid.png'
    local x = solid(colours, 10, 12)
    local ret, L = plot.image_grid(x, {path = path, ncols = 3, scale = 3,
                                       labels = {'red', 'blue', 'green', 'black', 'yellow'}})
    assert.equal(path, ret)
    assert.equal(3, L.cols)
    assert.equal(2, L.rows)
    assert.equal(36, L.cell_w)
    assert.equal(30, L.cell_h)
    assert.is_true(L.title_h > 8 and L.title_h < 40, 'title band ' .. L.title_h)
    local w, h = plot.png_size(path)
    assert.equal(3 * 36 + 4 * L.pad, w)
    assert.equal(2 * (L.title_h + 30) + 3 * L.pad, h)
    assert.equal(w, L.width)
    assert.equal(h, L.height)

    local png = load(path)
    for k, c in ipairs(colours) do
      local x0, y0 = corner(L, k)
      for _, off in ipairs{{0, 0}, {35, 29}, {18, 15}} do   -- corners and middle of the cell
        local r, g, b = pixel(png, x0 + off[1], y0 + off[2])
        assert.same(c, {r, g, b}, ('image %d at +%d,+%d'):format(k, off[1], off[2]))
      end
      -- just outside the cell: white padding
      assert.same({255, 255, 255}, {pixel(png, x0 - 1, y0 + 15)})
      assert.same({255, 255, 255}, {pixel(png, x0 + 36, y0 + 15)})
    end
    -- the sixth cell of the grid is empty
    local x6, y6 = corner(L, 6)
    assert.same({255, 255, 255}, {pixel(png, x6 + 18, y6 + 15)})
    -- no temporary file left behind
    local p = io.popen('ls -A ' .. files.quote(tmp))
    assert.equal('grid.png\n', p:read('a'))
    p:close()
  end)

  it('keeps no title band without titles, and returns the bytes without a path', function()
    local bytes, L = plot.image_grid(solid(colours, 4, 4), {scale = 5})
    assert.equal('\137PNG', bytes:sub(1, 4))
    assert.equal(0, L.title_h)
    assert.equal(5, L.cols)               -- all five in one row (up to 8)
    local w, h = plot.png_size(bytes)
    assert.equal(5 * 20 + 6 * L.pad, w)
    assert.equal(20 + 2 * L.pad, h)
  end)

  it('enlarges small images by default and keeps 224-pixel ones as they are', function()
    local _, L = plot.image_grid(lc.zeros(2, 1, 28, 28))
    assert.equal(4, L.scale)
    assert.equal(112, L.cell_w)
    _, L = plot.image_grid(lc.zeros(1, 3, 224, 200, {dtype = 'uint8'}))
    assert.equal(1, L.scale)
    assert.equal(200, L.cell_w)
    assert.equal(224, L.cell_h)
  end)

  it('reads float images in [0, 1] and gray ones, as a batch or a list', function()
    local path = tmp .. '/f.png'
    local gray = lc.full({2, 1, 6, 6}, 0.5)
    gray[2]:fill_(1)
    local _, L = plot.image_grid(gray, {path = path, scale = 2})
    local png = load(path)
    local x0, y0 = corner(L, 1)
    assert.same({128, 128, 128}, {pixel(png, x0 + 3, y0 + 3)})
    x0, y0 = corner(L, 2)
    assert.same({255, 255, 255}, {pixel(png, x0 + 3, y0 + 3)})

    local batch = solid(colours, 5, 7)
    local a = plot.image_grid(batch, {labels = {1, 2, 3, 4, 5}, classes = {'a', 'b', 'c', 'd', 'e'}})
    local list = {}
    for k = 1, 5 do list[k] = batch[k]:float() / 255 end
    local b = plot.image_grid(list, {labels = {'a', 'b', 'c', 'd', 'e'}})
    assert.equal(a, b)
  end)

  it('undoes a Normalize given its mean and std', function()
    local x = solid(colours, 4, 4)
    local mean, std = {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}
    local m = lc.tensor(mean):reshape(1, 3, 1, 1)
    local s = lc.tensor(std):reshape(1, 3, 1, 1)
    local normalized = (x:float() / 255 - m) / s
    assert.equal(plot.image_grid(x), plot.image_grid(normalized, {mean = mean, std = std}))
    local ok, err = pcall(plot.image_grid, normalized)
    assert.is_false(ok)
    assert.matches('image_grid: float images must be in %[0, 1%]', err)
    assert.matches('mean = and std =', err)
  end)

  it('marks right predictions green and wrong ones red with "pred (true)"', function()
    local path = tmp .. '/pred.png'
    local x = lc.full({4, 3, 40, 60}, 0.5)
    local classes = {'oak', 'maple', 'ash'}
    local _, L = plot.image_grid(x, {path = path, classes = classes, ncols = 2,
                                     predictions = lc.tensor({1, 2, 3, 1}, {dtype = 'int64'}),
                                     truth = {1, 3, 3, 'maple'}})
    local png = load(path)
    -- the most saturated pixel in each title band tells its colour
    local function title_hue(k)
      local x0, y0 = corner(L, k)
      local best, hue = 0, nil
      for y = y0 - L.title_h, y0 - 1 do
        for xx = x0, x0 + L.cell_w - 1 do
          local r, g, b = pixel(png, xx, y)
          local sat = math.max(r, g, b) - math.min(r, g, b)
          if sat > best then best, hue = sat, (g > r and 'green' or 'red') end
        end
      end
      assert.is_true(best > 60, 'no coloured title over image ' .. k)
      return hue
    end
    assert.equal('green', title_hue(1))
    assert.equal('red', title_hue(2))
    assert.equal('green', title_hue(3))
    assert.equal('red', title_hue(4))
  end)

  it('wraps long titles onto more lines instead of losing the true class', function()
    local x = lc.zeros(2, 1, 28, 28)
    local _, one = plot.image_grid(x, {labels = {'oak', 'ash'}})
    local _, two = plot.image_grid(x, {predictions = {'maclura_pomifera', 'ash'},
                                       truth = {'quercus_montana', 'ash'}})
    assert.equal(112, two.cell_w)
    assert.is_true(two.title_h > 1.8 * (one.title_h - 3), ('%d vs %d'):format(two.title_h, one.title_h))
    local _, wide = plot.image_grid(x, {predictions = {'maclura_pomifera', 'ash'},
                                        truth = {'quercus_montana', 'ash'}, scale = 12})
    assert.equal(one.title_h, wide.title_h)     -- 336 pixels: one line is enough
  end)

  it('names image_grid in its errors', function()
    local cases = {
      {lc.zeros(3, 8, 8), 'image_grid: expected images as a %(B, C, H, W%) tensor'},
      {lc.zeros(2, 2, 8, 8), 'image_grid: expected 1 %(gray%) or 3 %(RGB%) channels'},
      {lc.zeros(2, 4, 8, 8), 'image_grid: expected 1 %(gray%) or 3 %(RGB%) channels'},
      {lc.zeros(2, 3, 8, 8, {dtype = 'int64'}), 'image_grid: expected uint8 or float images, got int64'},
      {{}, 'image_grid: expected at least one image'},
      {{lc.zeros(3, 8, 8), lc.zeros(3, 8, 9)}, 'image_grid: images%[2%] is float32 %(3, 8, 9%)'},
      {'x.png', 'image_grid: expected images as'},
      {lc.zeros(0, 3, 8, 8), 'image_grid: expected at least one image, got 0'},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(plot.image_grid, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err)
    end
    local x = lc.zeros(2, 3, 8, 8)
    local opt_cases = {
      {{labels = {'a'}}, 'image_grid: 2 images but 1 labels'},
      {{predictions = {1, 2}}, 'image_grid: predictions and truth go together'},
      {{predictions = {1, 5}, truth = {1, 1}, classes = {'a', 'b'}}, 'predictions%[2%] = 5 is not a class number 1..2'},
      {{scale = -1}, 'image_grid: scale must be in'},
      {{scale = 1000}, 'image_grid: scale must be in'},
      {{path = tmp .. '/no/such/dir/g.png'}, 'image_grid: cannot write .*no/such/dir/g.png'},
    }
    for _, c in ipairs(opt_cases) do
      local ok, err = pcall(plot.image_grid, x, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err)
    end
    local ok, err = pcall(plot.image_grid, lc.zeros(1, 3, 2000, 2000), {scale = 10})
    assert.is_false(ok)
    assert.matches('image_grid: a 2000x2000 image at scale 10 is over', err)
  end)

  it('shows real leaves images with their species', function()
    local root = (os.getenv('LUACNN_DATA') or '') .. '/classify-leaves'
    local f = io.open(root .. '/train.csv')
    local has_image = pcall(function() return lc.image.read end)
    if not f or not has_image then
      if f then f:close() end
      print('SKIPPED: real leaves grid because ' .. (f and 'lc.image is not built' or 'no $LUACNN_DATA/classify-leaves'))
      pending('needs the leaves data and lc.image')
      return
    end
    f:read('l')
    local imgs, names = {}, {}
    for k = 1, 8 do
      local path, label = f:read('l'):match('^([^,]+),(.+)$')
      imgs[k] = lc.image.read(root .. '/' .. path)
      names[k] = label
    end
    f:close()
    local path = tmp .. '/leaves.png'
    local _, L = plot.image_grid(imgs, {path = path, labels = names, ncols = 4, scale = 0.5})
    assert.equal(112, L.cell_w)
    local png = load(path)
    assert.equal(L.width, png.w)
    -- the middle of image 1 is the decoded image's middle pixel, averaged by the shrink:
    -- close to the mean of the 2x2 source pixels there
    local x0, y0 = corner(L, 1)
    local r = pixel(png, x0 + 56, y0 + 56)
    local src = imgs[1]
    local mean = src[{1, {112, 113}, {112, 113}}]:float():mean():item()
    assert.is_true(math.abs(r - mean) < 40, ('red %d vs source ~%g'):format(r, mean))
  end)
end)
