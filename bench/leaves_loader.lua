-- luacnn side of the leaves decode + augment benchmark (PyTorch side: leaves_loader_torch.py;
-- both run, and compared in a table, by bench/leaves_loader.sh). Prints one JSON object per line.
--
--   luacnn bench/leaves_loader.lua [--root DIR] [--n 2000] [--repeats 3] [--sizes 224,64]
--                                  [--workers 0,1,2] [--batch 64] [--cache off|on|both]
--                                  [--skip-decode]
--
-- What is timed (as in leaves_loader_torch.py):
--   decode  the first N images of train.csv, their bytes already in memory, decoded to RGB
--           uint8 (3, H, W) on one core by lc.image.decode (libjpeg-turbo); also at the DCT
--           scales 1/2 and 1/4 that the loader picks for small outputs (luacnn only).
--   loader  one epoch over the first N images through lc.data.ImageLoader (batch 64, shuffle,
--           a fresh iteration per epoch): each file read and decoded in a worker thread, then
--           RandomResizedCrop(size) + RandomHorizontalFlip + ToTensor + Normalize(ImageNet).
--           workers = 0 is measured only if the loader accepts it (otherwise reported skipped).
--   cached  the same with cache = true, after one untimed epoch that fills the cache (the
--           steady state of later epochs, which decode nothing); the first epoch is reported too.
-- Each figure is the median of --repeats runs, in images per second.
local lc = require 'luacnn'
local json = require 'luacnn.json'
local now = require('luacnn.d2l').now   -- monotonic wall clock (core.clock)

local opts = {n = 2000, repeats = 3, sizes = '224,64', workers = '0,1,2', batch = 64,
              cache = 'off', root = nil}
local i = 1
while arg[i] do
  local key = arg[i]:match('^%-%-(.+)$')
  if not key then error('leaves_loader.lua: unexpected argument ' .. arg[i]) end
  key = key:gsub('-', '_')
  if key == 'skip_decode' then
    opts.skip_decode = true
    i = i + 1
  else
    local v = arg[i + 1]
    if v == nil then error('leaves_loader.lua: --' .. key .. ' needs a value') end
    opts[key] = tonumber(v) or v
    i = i + 2
  end
end

local function list(s)
  local out = {}
  for v in tostring(s):gmatch('[^,]+') do out[#out + 1] = tonumber(v) end
  return out
end

local function default_root()
  local here = debug.getinfo(1, 'S').source:match('^@(.*)/bench/[^/]*$') or '.'
  local candidates = {os.getenv('LUACNN_DATA') or '', here .. '/../shared/data', '/work/shared/data'}
  for _, d in ipairs(candidates) do
    if d ~= '' then
      local f = io.open(d .. '/classify-leaves/train.csv')
      if f then f:close() return d .. '/classify-leaves' end
    end
  end
end

local root = opts.root or default_root()
if not root then error('leaves_loader.lua: no classify-leaves folder (set --root or $LUACNN_DATA)') end

local function emit(t) print(json.encode(t)); io.stdout:flush() end

-- the first n rows of train.csv
local paths, labels, classes = {}, {}, {}
do
  local f = assert(io.open(root .. '/train.csv'))
  f:read('l')
  local seen = {}
  for line in f:lines() do
    if #paths >= opts.n then break end
    local p, l = line:gsub('\r$', ''):match('^([^,]+),(.+)$')
    paths[#paths + 1] = root .. '/' .. p
    labels[#labels + 1] = l
    if not seen[l] then seen[l] = true; classes[#classes + 1] = l end
  end
  f:close()
  table.sort(classes)
  local index = {}
  for k, name in ipairs(classes) do index[name] = k end
  for k, l in ipairs(labels) do labels[k] = index[l] end
end
local n = #paths

local function median_rate(fn, count, repeats)
  local rates = {}
  for r = 1, repeats do
    local t0 = now()
    fn()
    rates[r] = count / (now() - t0)
  end
  local sorted = {table.unpack(rates)}
  table.sort(sorted)
  local med = #sorted % 2 == 1 and sorted[(#sorted + 1) // 2]
              or (sorted[#sorted // 2] + sorted[#sorted // 2 + 1]) / 2
  for r = 1, #rates do rates[r] = math.floor(rates[r] * 10 + 0.5) / 10 end
  return math.floor(med * 10 + 0.5) / 10, rates
end

local function cores()
  local p = io.popen('nproc 2>/dev/null')
  local c = p and tonumber(p:read('l') or '')
  if p then p:close() end
  return c
end

emit{impl = 'luacnn', bench = 'info', lua = _VERSION, images = n, cores = cores(),
     omp_num_threads = os.getenv('OMP_NUM_THREADS') or ''}

if not opts.skip_decode then
  local blobs = {}
  for k, p in ipairs(paths) do
    local f = assert(io.open(p, 'rb'))
    blobs[k] = f:read('a')
    f:close()
  end
  for _, scale in ipairs{1, 2, 4} do
    local o = {channels = 'rgb', scale = scale}
    local med, runs = median_rate(function()
      for k = 1, n do lc.image.decode(blobs[k], o) end
    end, n, opts.repeats)
    emit{impl = 'luacnn', bench = 'decode', method = scale == 1 and 'turbojpeg' or ('turbojpeg 1/' .. scale),
         workers = 1, images = n, img_per_s = med, runs = runs}
  end
end

local has_t, T = pcall(function() return lc.transforms end)
local missing = not has_t and 'lc.transforms is not built'
                or type(lc.data.ImageLoader) ~= 'function' and type(lc.data.ImageLoader) ~= 'table'
                   and 'lc.data.ImageLoader is not built' or nil
local MEAN, STD = {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}
local caches = ({off = {false}, on = {true}, both = {false, true}})[opts.cache]
if not caches then error('leaves_loader.lua: --cache must be off, on or both') end

for _, cache in ipairs(caches) do
  for _, size in ipairs(list(opts.sizes)) do
    local tf = not missing and T.Compose{T.RandomResizedCrop(size), T.RandomHorizontalFlip(),
                                         T.ToTensor(), T.Normalize{mean = MEAN, std = STD}}
    for _, w in ipairs(list(opts.workers)) do
      local ok, loader = false, missing
      if not missing then
        ok, loader = pcall(lc.data.ImageLoader, {paths = paths, labels = labels, transform = tf,
                                                    batch_size = opts.batch, shuffle = true,
                                                    workers = w, cache = cache})
      end
      if not ok then
        emit{impl = 'luacnn', bench = 'loader', size = size, workers = w, batch = opts.batch,
             cache = cache, skipped = tostring(loader):match('^[^\n]*')}
      else
        local function epoch()
          local seen = 0
          for X in loader do seen = seen + X:size(1) end
          assert(seen == n, ('epoch saw %d of %d images'):format(seen, n))
        end
        local first
        if cache then first = median_rate(epoch, n, 1) end   -- fills the cache
        local med, runs = median_rate(epoch, n, opts.repeats)
        emit{impl = 'luacnn', bench = 'loader', size = size, workers = w, batch = opts.batch,
             cache = cache, images = n, img_per_s = med, runs = runs, first_epoch_img_per_s = first}
        loader = nil
        collectgarbage()
        collectgarbage()
      end
    end
  end
end
