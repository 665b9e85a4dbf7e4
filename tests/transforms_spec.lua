-- lc.transforms: pipelines declared as data and compiled to C (shapes, torchvision's
-- semantics against the functional forms and hand-worked values, determinism per
-- (seed, stream), geometry independent of the decoded JPEG scale, clear errors), the batch
-- transforms Mixup / CutMix with soft targets, and F.cross_entropy on soft targets.
local lc = require 'luacnn'
local T = lc.transforms
local F = lc.F
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local gc = dofile(dir .. 'helpers/gradcheck.lua')

local function img_rand(c, h, w, seed)
  lc.manual_seed(seed or 1)
  return lc.randint(0, 256, {c, h, w}, {dtype = 'uint8'})
end

local function maxdiff(a, b) return (a:to('float64') - b:to('float64')):abs():max():item() end
local function shape(t) return {t:size(1), t:size(2), t:size(3)} end

local IMNET = {mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225}}

describe('lc.transforms pipelines', function()
  it('constructors return plain tables; Compose compiles them into a callable object', function()
    local r = T.RandomResizedCrop(224, {scale = {0.08, 1}, ratio = {3 / 4, 4 / 3}})
    assert.same({kind = 'RandomResizedCrop', size = {224, 224}, scale = {0.08, 1}, ratio = {3 / 4, 4 / 3}}, r)
    assert.same({kind = 'Resize', size = {256}}, T.Resize(256))
    assert.same({kind = 'Resize', size = {32, 48}}, T.Resize({32, 48}))
    assert.same({kind = 'RandomHorizontalFlip', p = 0.5}, T.RandomHorizontalFlip())
    assert.same({kind = 'ColorJitter', brightness = {0.6, 1.4}}, T.ColorJitter{brightness = 0.4, contrast = 0})
    local tf = T.Compose{r, T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(IMNET)}
    assert.equals('userdata', type(tf))
    assert.equals(4, #tf.transforms)
    assert.equals('RandomResizedCrop', tf.transforms[1].kind)
    assert.matches('Compose%(RandomResizedCrop, RandomHorizontalFlip, ToTensor, Normalize%)', tostring(tf))
    local x = tf(img_rand(3, 40, 50), {seed = 1, stream = 1})
    assert.same({3, 224, 224}, shape(x))
    assert.equals('float32', x.dtype)
  end)

  it('reports output shapes as torchvision computes them', function()
    local c, h, w, dt = T.Compose{T.Resize(256)}:output_shape(3, 500, 375)
    assert.same({3, 341, 256, 'uint8'}, {c, h, w, dt}) -- smaller edge -> 256, int(256 * 500 / 375)
    c, h, w, dt = T.Compose{T.Resize(256), T.CenterCrop(224), T.ToTensor()}:output_shape(3, 375, 500)
    assert.same({3, 224, 224, 'float32'}, {c, h, w, dt})
    c, h, w = T.Compose{T.Resize({64, 80})}:output_shape(1, 10, 10)
    assert.same({1, 64, 80}, {c, h, w})
    local x = T.Compose{T.Resize(20)}(img_rand(3, 37, 53))
    assert.same({3, 20, 28}, shape(x))
    assert.equals('uint8', x.dtype)
  end)

  it('an empty pipeline returns the image; ToTensor divides by 255; Normalize as (x - mean) / std', function()
    local img = img_rand(3, 5, 7)
    assert.equals(0, maxdiff(T.Compose{}(img), img))
    assert.is_true(maxdiff(T.Compose{T.ToTensor()}(img), img:to('float32') / 255) < 1e-7)
    local px = lc.tensor({{{0, 255}}, {{51, 102}}}, {dtype = 'uint8'}) -- (2, 1, 2)
    local y = T.Compose{T.ToTensor(), T.Normalize{mean = {0.5, 0.2}, std = {0.5, 0.1}}}(px)
    local want = lc.tensor({{{-1, 1}}, {{0, 2}}})
    assert.is_true(maxdiff(y, want) < 1e-6)
    -- a (H, W) tensor is a one-channel image
    local g = T.Compose{T.ToTensor()}(lc.tensor({{0, 255}}, {dtype = 'uint8'}))
    assert.same({1, 1, 2}, shape(g))
  end)

  it('CenterCrop takes the middle, rounding as torchvision, and pads with zeros when larger', function()
    local img = lc.arange(1, 17):view(1, 4, 4):to('uint8')
    assert.same({{{6, 7}, {10, 11}}}, T.Compose{T.CenterCrop(2)}(img):to('int64'):totable())
    -- 4 -> 3: top = round(0.5) = 0 (half to even)
    assert.same({{{1, 2, 3}, {5, 6, 7}, {9, 10, 11}}}, T.Compose{T.CenterCrop(3)}(img):to('int64'):totable())
    local p = T.Compose{T.CenterCrop({6, 5})}(img):to('int64'):totable()[1]
    assert.same({0, 0, 0, 0, 0}, p[1])
    assert.same({1, 2, 3, 4, 0}, p[2])
    assert.same({13, 14, 15, 16, 0}, p[5])
    assert.same({0, 0, 0, 0, 0}, p[6])
  end)

  it('fuses Resize + CenterCrop into one pass with the result of the two steps', function()
    local img = img_rand(3, 37, 53)
    local fused = T.Compose{T.Resize(30), T.CenterCrop(24)}(img)
    local two = T.Compose{T.CenterCrop(24)}(T.Compose{T.Resize(30)}(img))
    assert.equals(0, maxdiff(fused, two))
    assert.equals(0, maxdiff(T.F.resize(img, {30, 42}), T.Compose{T.Resize(30)}(img)))
  end)

  it('fused geometry equals the ops run one at a time (flips before crops, padding, two resizes)', function()
    local img = img_rand(3, 37, 53)
    local chains = {
      {T.RandomHorizontalFlip(1), T.CenterCrop({20, 25}), T.Resize({16, 9})},
      {T.RandomVerticalFlip(1), T.Resize(30), T.CenterCrop({21, 11}), T.RandomHorizontalFlip(1)},
      {T.CenterCrop({45, 60}), T.Resize({20, 20})},
      {T.Resize({50, 70}), T.CenterCrop(33), T.Resize(12), T.CenterCrop({13, 14})},
      {T.Resize(20), T.RandomRotation({90, 90}), T.CenterCrop(15), T.RandomHorizontalFlip(1)},
    }
    for k, chain in ipairs(chains) do
      local fused = T.Compose(chain)(img)
      local step = img
      for _, op in ipairs(chain) do step = T.Compose{op}(step) end
      assert.same(shape(step), shape(fused))
      assert.equals(0, maxdiff(fused, step), 'chain ' .. k)
    end
  end)

  it('RandomResizedCrop is the crop of the box it drew, resized; flips mirror it', function()
    local img = img_rand(3, 60, 80)
    local tf = T.Compose{T.RandomResizedCrop(32), T.RandomHorizontalFlip(), T.RandomVerticalFlip()}
    local seen = {}
    for s = 1, 40 do
      local y, p = tf:sample(img, {seed = 3, stream = s})
      local top, left, h, w = table.unpack(p.crop)
      assert.is_true(top >= 1 and left >= 1 and top + h - 1 <= 60 and left + w - 1 <= 80)
      local want = T.F.resized_crop(img, top, left, h, w, 32)
      if p.hflip then want = T.F.hflip(want) end
      if p.vflip then want = T.F.vflip(want) end
      assert.equals(0, maxdiff(y, want))
      seen[tostring(p.hflip) .. tostring(p.vflip)] = true
    end
    assert.is_true(seen.truetrue and seen.falsefalse and seen.truefalse and seen.falsetrue)
  end)

  it('RandomCrop: a uniform position in the zero-padded image, as torchvision', function()
    local img = img_rand(3, 8, 10)
    local tf = T.Compose{T.RandomCrop({8, 10}, {padding = 2})}
    local tops = {}
    for s = 1, 60 do
      local y, p = tf:sample(img, {seed = 2, stream = s})
      local top, left, h, w = table.unpack(p.crop)
      -- 1-based: the padded image's first row is row -1 of the image
      assert.is_true(top >= -1 and top <= 3 and left >= -1 and left <= 3 and h == 8 and w == 10)
      assert.equals(0, maxdiff(y, T.F.crop(img, top, left, h, w)))
      tops[top] = true
    end
    assert.is_true(tops[-1] and tops[3], 'both extreme positions are drawn')
    -- no padding and the same size: the image itself
    assert.equals(0, maxdiff(T.Compose{T.RandomCrop({8, 10})}(img), img))
    -- pad_if_needed pads a short side by the shortfall on both ends: 8 -> 4 + 8 + 4
    for s = 1, 10 do
      local _, p = T.Compose{T.RandomCrop({12, 10}, {pad_if_needed = true})}:sample(img, {seed = 1, stream = s})
      assert.is_true(p.crop[1] >= -3 and p.crop[1] <= 1 and p.crop[2] == 1)
    end
    local ok, e = pcall(T.Compose{T.RandomCrop(12)}, img)
    assert.is_false(ok)
    assert.matches('RandomCrop: the crop (12, 12) is larger than the (padded) image (8, 10)', e, 1, true)
    assert.matches('RandomCrop: padding must be an integer >= 0', select(2, pcall(T.RandomCrop, 4, {padding = -1})), 1, true)
  end)

  it('RandomResizedCrop draws areas in scale and aspect ratios in ratio', function()
    local img = img_rand(1, 100, 100)
    local tf = T.Compose{T.RandomResizedCrop(8, {scale = {0.25, 0.5}, ratio = {0.5, 2}})}
    for s = 1, 100 do
      local _, p = tf:sample(img, {seed = 5, stream = s})
      local area, ratio = p.crop[3] * p.crop[4] / 1e4, p.crop[4] / p.crop[3]
      assert.is_true(area > 0.23 and area < 0.52, 'area ' .. area)
      assert.is_true(ratio > 0.45 and ratio < 2.2, 'ratio ' .. ratio)
    end
    -- impossible scales fall back to the centre crop with the ratio clamped
    local wide = img_rand(1, 10, 100)
    local _, p = T.Compose{T.RandomResizedCrop(8, {scale = {1, 1}, ratio = {1, 1}})}:sample(wide, {seed = 1})
    assert.same({1, 46, 10, 10}, p.crop)
  end)

  it('flips with p = 1 are torchvision hflip / vflip; p = 0 keeps the image', function()
    local img = img_rand(3, 6, 9)
    assert.equals(0, maxdiff(T.Compose{T.RandomHorizontalFlip(1)}(img), T.F.hflip(img)))
    assert.equals(0, maxdiff(T.Compose{T.RandomVerticalFlip(1)}(img), T.F.vflip(img)))
    assert.equals(0, maxdiff(T.Compose{T.RandomHorizontalFlip(0)}(img), img))
    local row = lc.tensor({{{1, 2, 3}}}, {dtype = 'uint8'})
    assert.same({{{3, 2, 1}}}, T.F.hflip(row):to('int64'):totable())
    -- a float batch (flip test-time augmentation)
    local X = lc.tensor({{{{1, 2, 3}, {4, 5, 6}}}, {{{7, 8, 9}, {10, 11, 12}}}}) -- (2, 1, 2, 3)
    assert.same({{{{3, 2, 1}, {6, 5, 4}}}, {{{9, 8, 7}, {12, 11, 10}}}}, T.F.hflip(X):totable())
    assert.same({{{{4, 5, 6}, {1, 2, 3}}}, {{{10, 11, 12}, {7, 8, 9}}}}, T.F.vflip(X):totable())
  end)

  it('RandomRotation turns counter-clockwise about the centre, nearest, zeros outside', function()
    local img = lc.arange(1, 10):view(1, 3, 3):to('uint8')
    local r = T.Compose{T.RandomRotation({90, 90})}(img)
    assert.same({{{3, 6, 9}, {2, 5, 8}, {1, 4, 7}}}, r:to('int64'):totable())
    local _, p = T.Compose{T.RandomRotation(30)}:sample(img_rand(1, 8, 8), {seed = 2})
    assert.is_true(p.angle >= -30 and p.angle <= 30)
    local r45 = T.Compose{T.RandomRotation({45, 45}, {fill = 9})}(lc.ones({1, 8, 8}, {dtype = 'uint8'}))
    assert.equals(9, r45[{1, 1, 1}]:item())
    assert.equals(1, r45[{1, 4, 4}]:item())
  end)

  it('ColorJitter applies torchvision adjust_* with factors in range, in a random order', function()
    local img = img_rand(3, 8, 8)
    assert.equals(0, maxdiff(T.Compose{T.ColorJitter{brightness = {1.5, 1.5}}}(img), T.F.adjust_brightness(img, 1.5)))
    assert.equals(0, maxdiff(T.Compose{T.ColorJitter{contrast = {0.5, 0.5}}}(img), T.F.adjust_contrast(img, 0.5)))
    local tf = T.Compose{T.ColorJitter{brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1}}
    local orders = {}
    for s = 1, 30 do
      local y, p = tf:sample(img, {seed = 1, stream = s})
      assert.is_true(p.brightness >= 0.6 and p.brightness <= 1.4)
      assert.is_true(p.saturation >= 0.6 and p.saturation <= 1.4)
      assert.is_true(p.hue >= -0.1 and p.hue <= 0.1)
      local want = img
      for _, name in ipairs(p.jitter_order) do want = T.F['adjust_' .. name](want, p[name]) end
      assert.equals(0, maxdiff(y, want))
      orders[table.concat(p.jitter_order, ',')] = true
    end
    local n = 0
    for _ in pairs(orders) do n = n + 1 end
    assert.is_true(n >= 5, 'only ' .. n .. ' different orders')
    -- hand-worked: brightness 1.5 on (100, 200, 50) -> (150, 255, 75)
    local px = lc.tensor({{{100}}, {{200}}, {{50}}}, {dtype = 'uint8'})
    assert.same({150, 255, 75}, T.F.adjust_brightness(px, 1.5):view(3):to('int64'):totable())
  end)

  it('is deterministic per (seed, stream), different across streams, and follows lc.manual_seed', function()
    local img = img_rand(3, 50, 70)
    local tf = T.Compose{T.RandomResizedCrop(24), T.RandomHorizontalFlip(), T.ColorJitter{brightness = 0.4},
                         T.ToTensor(), T.Normalize(IMNET)}
    local a = tf(img, {seed = 42, stream = 7})
    assert.equals(0, maxdiff(a, tf(img, {seed = 42, stream = 7})))
    assert.is_true(maxdiff(a, tf(img, {seed = 42, stream = 8})) > 0)
    assert.is_true(maxdiff(a, tf(img, {seed = 43, stream = 7})) > 0)
    lc.manual_seed(5)
    local u1, u2 = tf(img), tf(img)
    assert.is_true(maxdiff(u1, u2) > 0)
    lc.manual_seed(5)
    assert.equals(0, maxdiff(u1, tf(img)))
  end)

  it('decode_scale: the largest JPEG denominator that loses no resolution', function()
    assert.equals(1, T.Compose{T.RandomResizedCrop(224), T.ToTensor()}:decode_scale(224, 224))
    assert.equals(2, T.Compose{T.Resize(64), T.CenterCrop(56)}:decode_scale(224, 224)) -- 3.5 -> 2
    assert.equals(4, T.Compose{T.Resize({56, 56})}:decode_scale(224, 224))
    assert.equals(8, T.Compose{T.Resize(16)}:decode_scale(224, 224))
    assert.equals(2, T.Compose{T.RandomResizedCrop(64, {scale = {0.5, 1}})}:decode_scale(224, 224))
    assert.equals(1, T.Compose{T.CenterCrop(100)}:decode_scale(224, 224))
  end)

  it('draws the geometry in original coordinates: a half-size decode gives the same boxes and close pixels', function()
    -- a smooth image, and its 2x reduction standing in for a JPEG decoded at 1/2
    local yy = lc.arange(0, 96):view(1, 96, 1):expand(3, 96, 128)
    local xx = lc.arange(0, 128):view(1, 1, 128):expand(3, 96, 128)
    local full = (yy + xx):to('uint8') -- 0..222
    local half = T.F.resize(full, {48, 64})
    local tf = T.Compose{T.RandomResizedCrop(32, {scale = {0.5, 1}}), T.RandomHorizontalFlip(), T.ToTensor()}
    assert.equals(2, tf:decode_scale(96, 128))
    for s = 1, 10 do
      local a, pa = tf:sample(full, {seed = 1, stream = s})
      local b, pb = tf:sample(half, {seed = 1, stream = s, orig_size = {96, 128}})
      assert.same(pa.crop, pb.crop)
      assert.equals(pa.hflip, pb.hflip)
      local mean_abs = (a - b):abs():mean():item()
      assert.is_true(mean_abs < 3 / 255, 'mean abs diff ' .. mean_abs)
    end
  end)

  it('gives clear errors naming the transform and the bad value', function()
    local function err_of(f, ...)
      local ok, e = pcall(f, ...)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.matches('RandomResizedCrop: scale must be {lo, hi} with 0 < lo <= hi <= 1, got {0.5, 0.1}',
                   err_of(T.RandomResizedCrop, 224, {scale = {0.5, 0.1}}), 1, true)
    assert.matches('ColorJitter: hue must be in [0, 0.5], got 0.7', err_of(T.ColorJitter, {hue = 0.7}), 1, true)
    assert.matches('RandomHorizontalFlip: p must be in [0, 1], got 2', err_of(T.RandomHorizontalFlip, 2), 1, true)
    assert.matches('Resize: size must be a positive integer or {h, w}, got 0', err_of(T.Resize, 0), 1, true)
    assert.matches("unknown option 'scales'", err_of(T.RandomResizedCrop, 224, {scales = {0.5, 1}}), 1, true)
    assert.matches('Normalize: works on float tensors; put ToTensor() before it',
                   err_of(T.Compose, {T.Normalize(IMNET)}), 1, true)
    assert.matches('only Normalize may follow ToTensor', err_of(T.Compose, {T.ToTensor(), T.Resize(5)}), 1, true)
    assert.matches('transform 2 is a function', err_of(T.Compose, {T.ToTensor(), T.Normalize}), 1, true)
    local tf = T.Compose{T.ToTensor(), T.Normalize(IMNET)}
    assert.matches('expected a uint8 image tensor', err_of(tf, lc.zeros(3, 4, 4)), 1, true)
    assert.matches('Normalize: has 3 means and stds but the image has 1 channels',
                   err_of(tf, lc.zeros({1, 4, 4}, {dtype = 'uint8'})), 1, true)
  end)
end)

---------------------------------------------------------------- real data (or a loud skip)

local DATA = os.getenv('LUACNN_DATA')
local LEAF = DATA and DATA ~= '' and (DATA .. '/classify-leaves/images/0.jpg') or nil
local have_real = false
if LEAF then
  local f = io.open(LEAF, 'rb')
  if f then f:close(); have_real = true end
end
local skip_reason = DATA == nil and 'LUACNN_DATA is not set' or (tostring(LEAF) .. ' is not there')

describe('lc.transforms on a real leaves JPEG', function()
  it('gives the same boxes and nearly the same pixels from a decode at decode_scale as at full size', function()
    if not have_real then
      print('SKIPPED: transforms on a real JPEG because ' .. skip_reason)
      pending('needs the classify-leaves images: ' .. skip_reason)
      return
    end
    local full = lc.image.read(LEAF)
    for _, tf in ipairs{T.Compose{T.Resize(64), T.CenterCrop(56), T.ToTensor()},
                        T.Compose{T.RandomResizedCrop(64, {scale = {0.5, 1}}), T.RandomHorizontalFlip(), T.ToTensor()}} do
      local d = tf:decode_scale(224, 224)
      assert.equals(2, d)
      local small = lc.image.read(LEAF, {scale = d})
      assert.equals(112, small:size(2))
      for s = 1, 3 do
        local a, pa = tf:sample(full, {seed = 1, stream = s})
        local b, pb = tf:sample(small, {seed = 1, stream = s, orig_size = {224, 224}})
        assert.same(pa.crop, pb.crop)
        assert.equals(pa.hflip, pb.hflip)
        local mean_abs = (a - b):abs():mean():item()
        assert.is_true(mean_abs < 0.005, 'mean abs diff ' .. mean_abs)
      end
    end
  end)
end)

describe('lc.transforms batch mixing', function()
  local B, C, H, W, K = 6, 2, 8, 10, 5
  local function batch()
    lc.manual_seed(11)
    return lc.rand(B, C, H, W), lc.tensor({1, 3, 3, 5, 2, 4}, {dtype = 'int64'})
  end
  local function rolled(t) -- torch.roll(t, 1, 0)
    local idx = {B}
    for i = 1, B - 1 do idx[#idx + 1] = i end
    return t:index_select(1, lc.tensor(idx, {dtype = 'int64'}))
  end

  it('samples Gamma and Beta with the right means', function()
    lc.manual_seed(3)
    local n, sg, sb, sh = 2000, 0, 0, 0
    for _ = 1, n do
      sg = sg + T.sample_gamma(2.5)
      sb = sb + T.sample_beta(2, 5)
      sh = sh + T.sample_gamma(0.4)
    end
    assert.is_true(math.abs(sg / n - 2.5) < 0.15, 'gamma mean ' .. sg / n)
    assert.is_true(math.abs(sb / n - 2 / 7) < 0.02, 'beta mean ' .. sb / n)
    assert.is_true(math.abs(sh / n - 0.4) < 0.05, 'gamma(0.4) mean ' .. sh / n)
  end)

  it('Mixup: X mixed with the batch rolled by one, soft targets weighted by lambda', function()
    local X, y = batch()
    local mix = T.Mixup{alpha = 0.4}
    local Xm, ys = mix(X, y, K)
    local lam = mix.last.lam
    assert.is_true(lam >= 0 and lam <= 1)
    assert.is_true(maxdiff(Xm, X * lam + rolled(X) * (1 - lam)) < 1e-6)
    assert.same({B, K}, {ys:size(1), ys:size(2)})
    assert.equals('float32', ys.dtype)
    assert.is_true(maxdiff(ys:sum(2), lc.ones(B)) < 1e-6)
    -- row 1 pairs with row 6 (labels 1 and 4), rows 2 and 3 both have class 3
    assert.is_true(math.abs(ys[{1, 1}]:item() - lam) < 1e-6)
    assert.is_true(math.abs(ys[{1, 4}]:item() - (1 - lam)) < 1e-6)
    assert.is_true(math.abs(ys[{3, 3}]:item() - 1) < 1e-6)
  end)

  it('CutMix: a box of the rolled batch pasted in, lambda = the area kept', function()
    local X, y = batch()
    local cm = T.CutMix{alpha = 1.0}
    local saw_box = false
    for _ = 1, 5 do
      local Xm, ys = cm(X, y, K)
      local top, left, h, w = table.unpack(cm.last.box)
      local lam = cm.last.lam
      assert.is_true(math.abs(lam - (1 - h * w / (H * W))) < 1e-9)
      local Xr = rolled(X)
      local inside = lc.zeros(B, C, H, W)
      if h > 0 and w > 0 then
        saw_box = true
        inside:narrow(3, top, h):narrow(4, left, w):fill_(1)
      end
      local want = X * (1 - inside) + Xr * inside
      assert.equals(0, maxdiff(Xm, want))
      assert.is_true(maxdiff(ys:sum(2), lc.ones(B)) < 1e-6)
      assert.is_true(math.abs(ys[{1, 1}]:item() - lam) < 1e-6)
      assert.is_true(math.abs(ys[{1, 4}]:item() - (1 - lam)) < 1e-6)
    end
    assert.is_true(saw_box)
  end)

  it('RandomChoice picks each; MixupCutMix with prob 0 returns X and one-hot targets', function()
    local X, y = batch()
    local rc = T.RandomChoice{T.Mixup{alpha = 0.2}, T.CutMix{alpha = 1.0}}
    local picked = {}
    lc.manual_seed(1)
    for _ = 1, 20 do
      local _, ys = rc(X, y, K)
      picked[rc.last.choice] = true
      assert.is_true(maxdiff(ys:sum(2), lc.ones(B)) < 1e-6)
    end
    assert.is_true(picked[1] and picked[2])
    local off = T.MixupCutMix{mixup_alpha = 0.2, cutmix_alpha = 1.0, prob = 0}
    local Xo, yo = off(X, y, K)
    assert.equals(0, maxdiff(Xo, X))
    assert.same({1, 0, 0, 0, 0}, yo[1]:totable())
    local on = T.MixupCutMix{mixup_alpha = 0.2, cutmix_alpha = 1.0}
    local kinds = {}
    for _ = 1, 20 do on(X, y, K); kinds[on.last.kind] = true end
    assert.is_true(kinds.Mixup and kinds.CutMix)
    local ok, e = pcall(T.Mixup{alpha = 1}, X, lc.tensor({1, 2, 3, 4, 5, 9}, {dtype = 'int64'}), K)
    assert.is_false(ok)
    assert.matches('labels must be in 1..5, got values in 1..9', e, 1, true)
    assert.matches('alpha must be > 0, got -1', select(2, pcall(T.CutMix, {alpha = -1})), 1, true)
  end)
end)

describe('F.cross_entropy with soft targets', function()
  it('equals the hard-target loss for one-hot targets, with and without label smoothing', function()
    lc.manual_seed(2)
    local logits = lc.randn(5, 4)
    local y = lc.tensor({1, 4, 2, 2, 3}, {dtype = 'int64'})
    local onehot = lc.eye(4):index_select(1, y)
    for _, ls in ipairs{0, 0.1} do
      for _, red in ipairs{'mean', 'sum', 'none'} do
        local hard = F.cross_entropy(logits, y, {label_smoothing = ls, reduction = red})
        local soft = F.cross_entropy(logits, onehot, {label_smoothing = ls, reduction = red})
        assert.is_true(maxdiff(hard, soft) < 1e-5, 'ls ' .. ls .. ' ' .. red)
      end
    end
    -- -sum(p * log_softmax) by hand for one row
    local l = lc.tensor({{1, 2, 3}})
    local p = lc.tensor({{0.2, 0.3, 0.5}})
    local lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    local want = -(0.2 * (1 - lse) + 0.3 * (2 - lse) + 0.5 * (3 - lse))
    assert.is_true(math.abs(F.cross_entropy(l, p):item() - want) < 1e-5)
    -- nn.CrossEntropyLoss passes soft targets through
    local crit = lc.nn.CrossEntropyLoss({label_smoothing = 0.1})
    assert.is_true(maxdiff(crit(logits, onehot), F.cross_entropy(logits, y, {label_smoothing = 0.1})) < 1e-5)
  end)

  it('is differentiable (finite differences), and Mixup targets train', function()
    lc.manual_seed(4)
    local logits = gc.randleaf(3, 4)
    local target = lc.tensor({{0.7, 0.3, 0, 0}, {0, 0, 0.5, 0.5}, {0.1, 0.2, 0.3, 0.4}}, {dtype = 'float64'})
    gc.gradcheck(function(x) return F.cross_entropy(x, target, {label_smoothing = 0.1}) end, {logits})
    gc.gradcheck(function(x) return F.cross_entropy(x, target, {reduction = 'none'}) end, {logits})
    local X = lc.rand(4, 1, 4, 4)
    local y = lc.tensor({1, 2, 3, 1}, {dtype = 'int64'})
    local Xm, ys = T.Mixup{alpha = 1}(X, y, 3)
    local w = lc.randn(16, 3):requires_grad_()
    local loss = F.cross_entropy(Xm:view(4, 16):matmul(w), ys)
    loss:backward()
    assert.same({16, 3}, {w.grad:size(1), w.grad:size(2)})
  end)
end)
