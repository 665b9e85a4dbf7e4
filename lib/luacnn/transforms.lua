-- lc.transforms: image augmentation as torchvision.transforms, declared as data and run in C.
--
--   local T = lc.transforms
--   local tf = T.Compose{ T.RandomResizedCrop(224, {scale = {0.08, 1}, ratio = {3/4, 4/3}}),
--                         T.RandomHorizontalFlip(), T.ColorJitter{brightness = 0.4},
--                         T.ToTensor(), T.Normalize{mean = {0.485, 0.456, 0.406},
--                                                   std = {0.229, 0.224, 0.225}} }
--   local x = tf(img)                         -- img uint8 (C, H, W) -> float32 (C, 224, 224)
--   local x = tf(img, {seed = 1, stream = 7}) -- the same (seed, stream) gives the same result
--   tf:output_shape(3, 500, 375)              -- 3, 224, 224, 'float32'
--   local x, params = tf:sample(img)          -- also the drawn parameters (crop box, flips...)
--
-- Also T.RandomCrop(size, {padding = 4}), T.RandomVerticalFlip(p), T.RandomRotation(degrees),
-- and T.F (= T.functional): resize, crop, center_crop, resized_crop, hflip, vflip, rotate,
-- adjust_brightness/contrast/saturation/hue on one image with given parameters.
--
-- The constructors return plain tables ({kind = 'Resize', size = {256}}); Compose checks and
-- compiles them into one C pipeline that crops, resizes and flips in a single pass (see
-- runtime/transform.h). Semantics are torchvision's on uint8 tensors: Resize is antialiased
-- bilinear; an integer size sets the smaller edge; RandomRotation is nearest, same size, fill
-- 0; ColorJitter applies its factors in a random order. Only Normalize may follow ToTensor.
--
-- Batch mixing (float (B, C, H, W) and int64 labels 1..K -> mixed batch, float32 (B, K) soft
-- targets for F.cross_entropy), as torchvision.transforms.v2, drawing from lc's generator:
--   local mix = T.Mixup{alpha = 0.2}; local Xm, ysoft = mix(X, y, K)
--   T.CutMix{alpha = 1.0}, T.RandomChoice{T.Mixup{...}, T.CutMix{...}},
--   T.MixupCutMix{mixup_alpha = 0.2, cutmix_alpha = 1.0, prob = 1.0, switch_prob = 0.5}
local lc = require 'luacnn'
local core = require 'luacnn.core'
local options = require 'luacnn.options'

local T = {}

local function fmt(v)
  if type(v) == 'table' then
    local parts = {}
    for i = 1, #v do parts[i] = fmt(v[i]) end
    return '{' .. table.concat(parts, ', ') .. '}'
  end
  if type(v) == 'number' then return string.format('%.6g', v) end
  return tostring(v)
end

local function err(who, fmt_, ...) error(who .. ': ' .. string.format(fmt_, ...), 0) end

local function is_int(v) return type(v) == 'number' and v == math.floor(v) end

-- An integer or {h, w} (or {s}) of positive integers.
local function check_size(who, size, allow_single)
  if is_int(size) and size >= 1 then return allow_single and {size} or {size, size} end
  if type(size) == 'table' and (#size == 2 or #size == 1) and is_int(size[1]) and is_int(size[#size])
     and size[1] >= 1 and size[#size] >= 1 then
    if #size == 1 then return allow_single and {size[1]} or {size[1], size[1]} end
    return {size[1], size[2]}
  end
  err(who, 'size must be a positive integer or {h, w}, got %s', fmt(size))
end

local function check_pair(who, name, v)
  if type(v) ~= 'table' or #v ~= 2 or type(v[1]) ~= 'number' or type(v[2]) ~= 'number' then
    err(who, '%s must be a {lo, hi} pair of numbers, got %s', name, fmt(v))
  end
  return v[1], v[2]
end

-- A misspelt option is an error naming the nearest: "Resize: unknown option 'antialais'
-- (did you mean 'antialias'?)" (luacnn.options, as the layers' options).
local function check_keys(who, opts, allowed)
  return options.check(who, opts, allowed)
end

-- The named entries of a list that may also carry options ({t1, t2, p = {...}}).
local function named_part(t)
  local o = {}
  for k, v in pairs(t) do
    if type(k) ~= 'number' then o[k] = v end
  end
  return o
end

-- T.X(size, opts) or T.X{size = ..., ...}: the size and the options table.
local function size_and_opts(size, opts)
  if options.is_options(size) then return size.size, size end
  return size, opts
end

-- ---- image transforms ----

-- T.Resize(size [, {antialias = true}]): an integer sets the smaller edge (keeping the aspect
-- ratio), {h, w} the exact size. Bilinear with antialiasing, as torchvision on tensors.
function T.Resize(size, opts)
  size, opts = size_and_opts(size, opts)
  opts = opts or {}
  check_keys('Resize', opts, {size = true, antialias = true})
  if opts.antialias == false then
    err('Resize', 'antialias = false is not supported (the resize always antialiases, as '
                  .. "torchvision's default)")
  end
  return {kind = 'Resize', size = check_size('Resize', size, true)}
end

-- T.CenterCrop(size): the centre size x size (or {h, w}); zero padding where the image is smaller.
function T.CenterCrop(size)
  return {kind = 'CenterCrop', size = check_size('CenterCrop', size)}
end

-- T.RandomCrop(size [, {padding = p, pad_if_needed = false}]): a size x size (or {h, w}) crop
-- at a uniform position, after zero padding (p, {left/right, top/bottom} or {l, t, r, b}).
function T.RandomCrop(size, opts)
  size, opts = size_and_opts(size, opts)
  opts = opts or {}
  local who = 'RandomCrop'
  check_keys(who, opts, {size = true, padding = true, pad_if_needed = true, fill = true})
  if opts.fill ~= nil and opts.fill ~= 0 then err(who, 'only fill = 0 is supported, got %s', fmt(opts.fill)) end
  local spec = {kind = who, size = check_size(who, size), pad_if_needed = opts.pad_if_needed and true or false}
  local p = opts.padding
  if p ~= nil then
    if type(p) == 'number' then p = {p} end
    local ok = type(p) == 'table' and (#p == 1 or #p == 2 or #p == 4)
    for i = 1, ok and #p or 0 do ok = ok and is_int(p[i]) and p[i] >= 0 end
    if not ok then err(who, 'padding must be an integer >= 0 or a list of 2 or 4 of them, got %s', fmt(p)) end
    spec.padding = p
  end
  return spec
end

-- T.RandomResizedCrop(size, {scale = {0.08, 1}, ratio = {3/4, 4/3}}).
function T.RandomResizedCrop(size, opts)
  size, opts = size_and_opts(size, opts)
  opts = opts or {}
  local who = 'RandomResizedCrop'
  check_keys(who, opts, {size = true, scale = true, ratio = true, antialias = true})
  local scale = opts.scale or {0.08, 1.0}
  local ratio = opts.ratio or {3 / 4, 4 / 3}
  local s0, s1 = check_pair(who, 'scale', scale)
  if not (s0 > 0 and s0 <= s1 and s1 <= 1) then
    err(who, 'scale must be {lo, hi} with 0 < lo <= hi <= 1, got %s', fmt(scale))
  end
  local r0, r1 = check_pair(who, 'ratio', ratio)
  if not (r0 > 0 and r0 <= r1 and r1 < math.huge) then
    err(who, 'ratio must be {lo, hi} with 0 < lo <= hi, got %s', fmt(ratio))
  end
  return {kind = who, size = check_size(who, size), scale = {s0, s1}, ratio = {r0, r1}}
end

local function flip(kind)
  return function(p)
    if type(p) == 'table' then p = check_keys(kind, p, {'p'}).p end
    if p == nil then p = 0.5 end
    if type(p) ~= 'number' or p < 0 or p > 1 then err(kind, 'p must be in [0, 1], got %s', fmt(p)) end
    return {kind = kind, p = p}
  end
end
-- T.RandomHorizontalFlip(p = 0.5), T.RandomVerticalFlip(p = 0.5)
T.RandomHorizontalFlip = flip('RandomHorizontalFlip')
T.RandomVerticalFlip = flip('RandomVerticalFlip')

-- T.RandomRotation(degrees [, {fill = 0}]): an angle uniform in (-degrees, degrees) (or
-- {lo, hi}), counter-clockwise; nearest neighbour, same size, `fill` (a number or one per
-- channel) outside.
function T.RandomRotation(degrees, opts)
  local who = 'RandomRotation'
  if options.is_options(degrees) then opts, degrees = degrees, degrees.degrees end
  opts = opts or {}
  check_keys(who, opts, {degrees = true, fill = true})
  local lo, hi
  if type(degrees) == 'number' then
    if degrees < 0 then err(who, 'degrees must be >= 0 when a single number, got %s', fmt(degrees)) end
    lo, hi = -degrees, degrees
  else
    lo, hi = check_pair(who, 'degrees', degrees)
    if lo > hi then err(who, 'degrees must be {lo, hi} with lo <= hi, got %s', fmt(degrees)) end
  end
  local fill = opts.fill or 0
  if type(fill) == 'number' then fill = {fill} end
  if type(fill) ~= 'table' or #fill < 1 then err(who, 'fill must be a number or a list, got %s', fmt(fill)) end
  for i = 1, #fill do
    if type(fill[i]) ~= 'number' or fill[i] < 0 or fill[i] > 255 then
      err(who, 'fill values must be in [0, 255] (uint8 images), got %s', fmt(fill))
    end
  end
  return {kind = who, degrees = {lo, hi}, fill = fill}
end

-- T.ColorJitter{brightness =, contrast =, saturation =, hue =}: a number v means factors
-- uniform in [max(0, 1 - v), 1 + v] (hue: [-v, v], v <= 0.5), or give {lo, hi}; 0 or nil
-- leaves that property alone.
function T.ColorJitter(opts)
  local who = 'ColorJitter'
  if type(opts) ~= 'table' then err(who, 'expected an options table {brightness =, contrast =, saturation =, hue =}, got %s', fmt(opts)) end
  check_keys(who, opts, {brightness = true, contrast = true, saturation = true, hue = true})
  local spec = {kind = who}
  for _, name in ipairs{'brightness', 'contrast', 'saturation'} do
    local v = opts[name]
    if v ~= nil then
      local lo, hi
      if type(v) == 'number' then
        if v < 0 then err(who, '%s must be >= 0, got %s', name, fmt(v)) end
        lo, hi = math.max(0, 1 - v), 1 + v
      else
        lo, hi = check_pair(who, name, v)
        if not (lo >= 0 and lo <= hi) then err(who, '%s must be {lo, hi} with 0 <= lo <= hi, got %s', name, fmt(v)) end
      end
      if not (lo == 1 and hi == 1) then spec[name] = {lo, hi} end
    end
  end
  local h = opts.hue
  if h ~= nil then
    local lo, hi
    if type(h) == 'number' then
      if h < 0 or h > 0.5 then err(who, 'hue must be in [0, 0.5], got %s', fmt(h)) end
      lo, hi = -h, h
    else
      lo, hi = check_pair(who, 'hue', h)
      if not (lo >= -0.5 and lo <= hi and hi <= 0.5) then
        err(who, 'hue must be {lo, hi} with -0.5 <= lo <= hi <= 0.5, got %s', fmt(h))
      end
    end
    if not (lo == 0 and hi == 0) then spec.hue = {lo, hi} end
  end
  return spec
end

-- T.ToTensor(): uint8 -> float32 in [0, 1].
function T.ToTensor() return {kind = 'ToTensor'} end

-- T.Normalize{mean = {...}, std = {...}} (or T.Normalize(mean, std)): (x - mean) / std per channel.
function T.Normalize(mean, std)
  local who = 'Normalize'
  if options.is_options(mean) then
    check_keys(who, mean, {'mean', 'std'})
    mean, std = mean.mean, mean.std
  end
  if type(mean) == 'number' then mean = {mean} end
  if type(std) == 'number' then std = {std} end
  if type(mean) ~= 'table' or type(std) ~= 'table' or #mean < 1 or #mean ~= #std or #mean > 4 then
    err(who, 'expected {mean = {...}, std = {...}} with 1 to 4 values each, the same count, got mean %s, std %s',
        fmt(mean), fmt(std))
  end
  for i = 1, #mean do
    if type(mean[i]) ~= 'number' or type(std[i]) ~= 'number' or not (std[i] > 0) then
      err(who, 'std must be positive numbers and mean numbers, got mean %s, std %s', fmt(mean), fmt(std))
    end
  end
  return {kind = who, mean = mean, std = std}
end

local known = {Resize = true, CenterCrop = true, RandomCrop = true, RandomResizedCrop = true, RandomHorizontalFlip = true,
               RandomVerticalFlip = true, RandomRotation = true, ColorJitter = true, ToTensor = true,
               Normalize = true}

local function is_pipeline(v) return type(v) == 'userdata' and getmetatable(v) == core._transforms.Pipeline_mt end
T.is_pipeline = is_pipeline

-- T.Compose{t1, t2, ...}: the compiled pipeline (callable). A compiled pipeline in the list
-- is spliced in.
function T.Compose(list)
  if type(list) ~= 'table' then err('Compose', 'expected a list of transforms, got %s', type(list)) end
  check_keys('Compose', named_part(list), {})
  local specs = {}
  for i = 1, #list do
    local t = list[i]
    if is_pipeline(t) then
      for _, s in ipairs(t.transforms) do specs[#specs + 1] = s end
    elseif type(t) == 'table' and known[t.kind] then
      specs[#specs + 1] = t
    elseif type(t) == 'function' then
      err('Compose', 'transform %d is a function: pass the transform itself, e.g. T.ToTensor() not T.ToTensor', i)
    else
      err('Compose', 'transform %d is not an image transform of lc.transforms (got %s)', i,
          type(t) == 'table' and (t.kind and ("kind '" .. tostring(t.kind) .. "'") or 'a table') or type(t))
    end
  end
  return core._transforms.compile(specs)
end

-- ---- functional forms (torchvision.transforms.functional) on uint8 (C, H, W) images ----
-- Boxes are 1-based: top = 1, left = 1 is the first pixel.
local F = {}
T.F = F
T.functional = F
local kernel = core._transforms.functional
function F.resized_crop(img, top, left, h, w, size)
  local s = check_size('resized_crop', size)
  return kernel('resized_crop', img, top - 1, left - 1, h, w, s[1], s[2])
end
function F.crop(img, top, left, h, w) return kernel('crop', img, top - 1, left - 1, h, w) end
function F.resize(img, size) return T.Compose{T.Resize(size)}(img) end
function F.center_crop(img, size) return T.Compose{T.CenterCrop(size)}(img) end
-- hflip / vflip also take any tensor whose last two dims are (H, W), of any dtype and on any
-- device (e.g. a float batch (B, C, H, W) for flip test-time augmentation).
local function flip_dim(x, dim)
  local n = x:size(dim)
  local idx = {}
  for i = 1, n do idx[i] = n + 1 - i end
  return x:index_select(dim, lc.tensor(idx, {dtype = 'int64', device = x.device}))
end
local function is_u8_image(x) return lc.is_tensor(x) and x.dtype == 'uint8' and x.device == 'cpu' and x:dim() <= 3 end
function F.hflip(img)
  if is_u8_image(img) or not lc.is_tensor(img) or img:dim() < 2 then return kernel('hflip', img) end
  return flip_dim(img, img:dim())
end
function F.vflip(img)
  if is_u8_image(img) or not lc.is_tensor(img) or img:dim() < 2 then return kernel('vflip', img) end
  return flip_dim(img, img:dim() - 1)
end
function F.rotate(img, degrees, fill) return kernel('rotate', img, degrees, fill) end
function F.adjust_brightness(img, f) return kernel('brightness', img, f) end
function F.adjust_contrast(img, f) return kernel('contrast', img, f) end
function F.adjust_saturation(img, f) return kernel('saturation', img, f) end
function F.adjust_hue(img, f)
  if type(f) ~= 'number' or f < -0.5 or f > 0.5 then err('adjust_hue', 'factor must be in [-0.5, 0.5], got %s', fmt(f)) end
  return kernel('hue', img, f)
end

-- ---- random numbers from lc's generator (for the batch transforms) ----

local function uniform() return lc.rand(1):item() end
local function normal() return lc.randn(1):item() end

-- Gamma(shape, 1) (Marsaglia and Tsang; shape < 1 via Gamma(shape + 1) * U^(1 / shape)).
function T.sample_gamma(shape)
  if not (type(shape) == 'number' and shape > 0) then err('sample_gamma', 'shape must be > 0, got %s', fmt(shape)) end
  if shape < 1 then
    local u = uniform()
    while u <= 0 do u = uniform() end
    return T.sample_gamma(shape + 1) * u ^ (1 / shape)
  end
  local d = shape - 1 / 3
  local c = 1 / math.sqrt(9 * d)
  while true do
    local x, v
    repeat
      x = normal()
      v = 1 + c * x
    until v > 0
    v = v * v * v
    local u = uniform()
    if u < 1 - 0.0331 * x ^ 4 or math.log(u) < 0.5 * x * x + d * (1 - v + math.log(v)) then
      return d * v
    end
  end
end

-- Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
function T.sample_beta(a, b)
  local x, y = T.sample_gamma(a), T.sample_gamma(b)
  if x + y == 0 then return 0.5 end
  return x / (x + y)
end

-- ---- batch transforms ----

local function check_batch(who, X, y, K)
  if not lc.is_tensor(X) or X:dim() ~= 4 then
    err(who, 'expected a batch X of shape (B, C, H, W), got %s', lc.is_tensor(X) and tostring(X:shape()) or type(X))
  end
  if not X:is_floating_point() then
    err(who, 'expected a float batch X, got %s (apply ToTensor first)', X.dtype)
  end
  if not lc.is_tensor(y) or y.dtype ~= 'int64' or y:dim() ~= 1 or y:size(1) ~= X:size(1) then
    err(who, 'expected int64 labels y of shape (%d) (1-based classes), got %s', X:size(1),
        lc.is_tensor(y) and (y.dtype .. ' ' .. tostring(y:shape())) or type(y))
  end
  if not is_int(K) or K < 1 then err(who, 'num_classes must be a positive integer, got %s', fmt(K)) end
  if y:numel() > 0 then
    local lo, hi = y:min():item(), y:max():item()
    if lo < 1 or hi > K then err(who, 'labels must be in 1..%d, got values in %d..%d', K, lo, hi) end
  end
end

-- one-hot float (B, K) of 1-based labels, on X's device and of X's dtype
local function one_hot(y, K, X)
  return lc.eye(K, {dtype = X.dtype, device = X.device}):index_select(1, y:to(X.device))
end

-- indices of the batch rolled by one (torch.roll(x, 1, 0)): row i pairs with row i - 1
local function rolled_index(B, device)
  local idx = {B}
  for i = 1, B - 1 do idx[#idx + 1] = i end
  return lc.tensor(idx, {dtype = 'int64', device = device})
end

local Batch = {}
Batch.__index = Batch
function Batch:__call(X, y, K) return self:apply(X, y, K) end
function Batch:__tostring() return self.name end

local function check_alpha(who, opts)
  if type(opts) == 'number' then opts = {alpha = opts} end
  opts = check_keys(who, opts, {'alpha'})
  local alpha = opts.alpha == nil and 1.0 or opts.alpha
  if type(alpha) ~= 'number' or not (alpha > 0) then err(who, 'alpha must be > 0, got %s', fmt(alpha)) end
  return alpha, opts
end

-- Mixes with lambda (X and targets); the pair of row i is row i - 1.
local function mixup_with(X, y, K, lam)
  local idx = rolled_index(X:size(1), X.device)
  local oh = one_hot(y, K, X)
  local Xm = X * lam + X:index_select(1, idx) * (1 - lam)
  local ys = oh * lam + oh:index_select(1, idx) * (1 - lam)
  return Xm, ys
end

-- The CutMix box for lambda on an H x W image, as torchvision v2: centre uniform, sides
-- sqrt(1 - lam) of the image. Returns y1, x1, y2, x2 (0-based, end exclusive).
function T.cutmix_box(lam, H, W)
  local r_x = math.floor(uniform() * W)
  local r_y = math.floor(uniform() * H)
  if r_x >= W then r_x = W - 1 end
  if r_y >= H then r_y = H - 1 end
  local r = 0.5 * math.sqrt(1 - lam)
  local rw, rh = math.floor(r * W), math.floor(r * H)
  local x1, y1 = math.max(r_x - rw, 0), math.max(r_y - rh, 0)
  local x2, y2 = math.min(r_x + rw, W), math.min(r_y + rh, H)
  return y1, x1, y2, x2
end

local function cutmix_with(X, y, K, lam)
  local B, H, W = X:size(1), X:size(3), X:size(4)
  local y1, x1, y2, x2 = T.cutmix_box(lam, H, W)
  local idx = rolled_index(B, X.device)
  local Xm = X:clone()
  if y2 > y1 and x2 > x1 then
    local Xr = X:index_select(1, idx)
    Xm:narrow(3, y1 + 1, y2 - y1):narrow(4, x1 + 1, x2 - x1)
      :copy_(Xr:narrow(3, y1 + 1, y2 - y1):narrow(4, x1 + 1, x2 - x1))
  end
  local lam_adj = 1 - (x2 - x1) * (y2 - y1) / (W * H)
  local oh = one_hot(y, K, X)
  local ys = oh * lam_adj + oh:index_select(1, idx) * (1 - lam_adj)
  return Xm, ys, lam_adj, {y1 + 1, x1 + 1, y2 - y1, x2 - x1}
end

-- T.Mixup{alpha = 1.0}: X' = lam X + (1 - lam) roll(X), lam ~ Beta(alpha, alpha).
-- mix(X, y, K) -> X', soft targets (B, K); mix.last holds the last lambda.
function T.Mixup(opts)
  local alpha = check_alpha('Mixup', opts)
  local self = setmetatable({name = 'Mixup(alpha=' .. fmt(alpha) .. ')', alpha = alpha}, Batch)
  function self:apply(X, y, K)
    check_batch('Mixup', X, y, K)
    local lam = T.sample_beta(self.alpha, self.alpha)
    self.last = {lam = lam}
    return lc.no_grad(mixup_with, X, y, K, lam)
  end
  return self
end

-- T.CutMix{alpha = 1.0}: a box of roll(X) pasted into X; targets weighted by the area kept.
-- mix.last = {lam = adjusted lambda, box = {top, left, h, w} (1-based)}.
function T.CutMix(opts)
  local alpha = check_alpha('CutMix', opts)
  local self = setmetatable({name = 'CutMix(alpha=' .. fmt(alpha) .. ')', alpha = alpha}, Batch)
  function self:apply(X, y, K)
    check_batch('CutMix', X, y, K)
    local lam = T.sample_beta(self.alpha, self.alpha)
    local Xm, ys, lam_adj, box = lc.no_grad(cutmix_with, X, y, K, lam)
    self.last = {lam = lam_adj, box = box}
    return Xm, ys
  end
  return self
end

-- T.RandomChoice{t1, t2, ... [, p = {p1, p2, ...}]}: one of the batch transforms, uniformly
-- (or with probabilities p), as torchvision.transforms.v2.RandomChoice{CutMix, MixUp}.
function T.RandomChoice(list)
  local who = 'RandomChoice'
  if type(list) ~= 'table' or #list < 1 then err(who, 'expected a list of batch transforms, got %s', fmt(list)) end
  for i = 1, #list do
    if getmetatable(list[i]) ~= Batch then err(who, 'item %d is not a batch transform (Mixup, CutMix)', i) end
  end
  check_keys(who, named_part(list), {'p'})
  local p = list.p
  if p == nil then
    p = {}
    for i = 1, #list do p[i] = 1 / #list end
  end
  if type(p) ~= 'table' or #p ~= #list then err(who, 'p must have one probability per transform, got %s', fmt(p)) end
  local total = 0
  for i = 1, #p do
    if type(p[i]) ~= 'number' or p[i] < 0 then err(who, 'p must be non-negative numbers, got %s', fmt(p)) end
    total = total + p[i]
  end
  if not (total > 0) then err(who, 'p must not be all zero') end
  local names = {}
  for i = 1, #list do names[i] = tostring(list[i]) end
  local self = setmetatable({name = 'RandomChoice{' .. table.concat(names, ', ') .. '}', list = list, p = p}, Batch)
  function self:apply(X, y, K)
    local u, acc, pick = uniform() * total, 0, #self.list
    for i = 1, #self.list do
      acc = acc + self.p[i]
      if u < acc then pick = i; break end
    end
    local t = self.list[pick]
    local Xm, ys = t:apply(X, y, K)
    self.last = {choice = pick, lam = t.last.lam, box = t.last.box}
    return Xm, ys
  end
  return self
end

-- T.MixupCutMix{mixup_alpha = 0.8, cutmix_alpha = 1.0, prob = 1.0, switch_prob = 0.5}: with
-- probability prob mixes the batch, by CutMix with probability switch_prob else Mixup (an
-- alpha of 0 turns that one off); otherwise returns X with one-hot targets.
function T.MixupCutMix(opts)
  local who = 'MixupCutMix'
  opts = check_keys(who, opts, {'mixup_alpha', 'cutmix_alpha', 'prob', 'switch_prob'})
  local ma = opts.mixup_alpha == nil and 0.8 or opts.mixup_alpha
  local ca = opts.cutmix_alpha == nil and 1.0 or opts.cutmix_alpha
  local prob = opts.prob == nil and 1.0 or opts.prob
  local sp = opts.switch_prob == nil and 0.5 or opts.switch_prob
  for name, v in pairs{mixup_alpha = ma, cutmix_alpha = ca} do
    if type(v) ~= 'number' or v < 0 then err(who, '%s must be >= 0, got %s', name, fmt(v)) end
  end
  if ma == 0 and ca == 0 then err(who, 'mixup_alpha and cutmix_alpha are both 0: nothing to mix') end
  for name, v in pairs{prob = prob, switch_prob = sp} do
    if type(v) ~= 'number' or v < 0 or v > 1 then err(who, '%s must be in [0, 1], got %s', name, fmt(v)) end
  end
  if ma == 0 then sp = 1 elseif ca == 0 then sp = 0 end
  local mix = ma > 0 and T.Mixup{alpha = ma} or nil
  local cut = ca > 0 and T.CutMix{alpha = ca} or nil
  local self = setmetatable({name = string.format('MixupCutMix(mixup_alpha=%s, cutmix_alpha=%s, prob=%s, switch_prob=%s)',
                                                  fmt(ma), fmt(ca), fmt(prob), fmt(sp))}, Batch)
  function self:apply(X, y, K)
    check_batch(who, X, y, K)
    if uniform() >= prob then
      self.last = {lam = 1}
      return X, lc.no_grad(one_hot, y, K, X)
    end
    local t = uniform() < sp and cut or mix
    local Xm, ys = t:apply(X, y, K)
    self.last = {lam = t.last.lam, box = t.last.box, kind = t == cut and 'CutMix' or 'Mixup'}
    return Xm, ys
  end
  return self
end

return T
