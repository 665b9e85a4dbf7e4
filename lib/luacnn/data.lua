-- lc.data: data sets and loaders.
--
--   local train_iter, test_iter = lc.data.fashion_mnist{batch_size = 256, resize = 224}
--   print(#train_iter)                      -- batches per epoch (235 for 60,000 images)
--   for X, y in train_iter do ... end       -- X float32 (B, 1, H, W) in [0, 1], y int64 1..10
--   lc.data.fashion_mnist_labels(y)         -- {'ankle boot', 't-shirt', ...}
--
--   local loader = lc.data.DataLoader(lc.data.TensorDataset(X, y), {batch_size = 10, shuffle = true})
--   for Xb, yb in loader do ... end
--
--   local ds = lc.data.leaves{valid_ratio = 0.2, seed = 0}  -- Classify Leaves, duplicate-aware split
--   print(ds.report.text)                   -- the identical-image groups found and where they went
--   local loader = lc.data.ImageLoader{paths = ds.train.paths, labels = ds.train.labels,
--                                      rows = ds.train.rows, transform = tf, batch_size = 64,
--                                      shuffle = true}   -- decoded + transformed by C threads
--   for X, y, index in loader do ... end
--   lc.data.read_csv(path)                  -- {header = {...}, rows = {{...}, ...}, lines = {...}}
--
-- A loader is iterated with `for ... in loader do` (each loop is a new epoch: a new
-- permutation when shuffling) or through an explicit iterator: `local it = loader()` then
-- `it()` until it returns nil. Batches are made lazily, one per step, so an epoch of images
-- resized to 224x224 never sits in memory at once.
--
-- The catalog of data sets and the lookup of their directories are plain Lua (the `luacnn
-- data` command uses them without touching tensors); the tensor library loads on first use.
local data = {}

local lc_module
local function lc()
  lc_module = lc_module or require('luacnn')
  return lc_module
end

---------------------------------------------------------------- catalog

data.datasets = {
  ['fashion-mnist'] = {
    title = 'Fashion-MNIST (Zalando Research): 28x28 grayscale clothing images, 10 classes',
    -- The two locations the official README (zalandoresearch/fashion-mnist) links to.
    urls = {
      'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
      'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
    },
    -- name, content, bytes, md5 (official, as in the README)
    files = {
      {name = 'train-images-idx3-ubyte.gz', what = 'training images', bytes = 26421880,
       md5 = '8d4fb7e6c68d591d4c3dfef9ec88bf0d'},
      {name = 'train-labels-idx1-ubyte.gz', what = 'training labels', bytes = 29515,
       md5 = '25c81989df183df01b3e8a0aad5dffbe'},
      {name = 't10k-images-idx3-ubyte.gz', what = 'test images', bytes = 4422102,
       md5 = 'bef4ecab320f06d8554ea6380940ec79'},
      {name = 't10k-labels-idx1-ubyte.gz', what = 'test labels', bytes = 5148,
       md5 = 'bb300cfdad3c16e7a12a480ee83cd310'},
    },
    license = 'MIT (Copyright 2017 Zalando SE)',
  },
}

---------------------------------------------------------------- where data lives

local function file_exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

-- The per-user cache: $XDG_CACHE_HOME/luacnn, else ~/.cache/luacnn.
function data.cache_dir()
  local xdg = os.getenv('XDG_CACHE_HOME')
  if xdg and xdg ~= '' then return xdg .. '/luacnn' end
  local home = os.getenv('HOME')
  if home and home ~= '' then return home .. '/.cache/luacnn' end
  return nil
end

-- The directories searched for data set `name` when no root is given, in order, each as
-- {dir = ..., why = 'how it was chosen'}: $LUACNN_DATA/<name>, the per-user cache, then
-- ../shared/data/<name> next to the source tree (as the README says), found from the
-- luacnn executable's lib/ folder and from this file's own place (lib/luacnn/data.lua), so
-- `luacnn scripts/lenet.lua` finds the data from any working directory without settings.
function data.search_dirs(name)
  local dirs, seen = {}, {}
  local function add(dir, why)
    if dir and not seen[dir] then
      seen[dir] = true
      dirs[#dirs + 1] = {dir = dir, why = why}
    end
  end
  local env = os.getenv('LUACNN_DATA')
  if env and env ~= '' then add(env .. '/' .. name, '$LUACNN_DATA/' .. name) end
  local cache = data.cache_dir()
  if cache then add(cache .. '/' .. name, 'the per-user cache') end
  -- <root>/lib -> <root>/../shared/data; lexically, so a folder that is not there is
  -- still listed (the message of a failed search then names it)
  local function shared_from_lib(lib)
    if type(lib) ~= 'string' or lib == '' then return nil end
    lib = lib:gsub('/+$', '')
    local root = lib:match('^(.*)/lib$')
    if not root then return nil end
    local parent = root:match('^(.*)/[^/]+$')
    if not parent then return nil end
    return (parent == '' and '' or parent) .. '/shared/data/' .. name
  end
  local ok, host = pcall(require, 'luacnn.host')
  if ok and type(host) == 'table' then
    add(shared_from_lib(host.lib), '../shared/data next to the source tree')
  end
  local source = debug.getinfo(1, 'S').source
  local here = source:match('^@(.*)/luacnn/[^/]*$')
  if here then
    if here:sub(1, 1) ~= '/' then
      local pwd = os.getenv('PWD')
      if pwd then here = pwd .. '/' .. here:gsub('^%./', '') end
    end
    if here:sub(1, 1) == '/' then
      add(shared_from_lib(here), '../shared/data next to the source tree')
    end
  end
  return dirs
end

-- The path of one file of a data set in dir: the .gz name, or the same file uncompressed.
local function find_file(dir, gz_name)
  local path = dir .. '/' .. gz_name
  if file_exists(path) then return path end
  local raw = dir .. '/' .. gz_name:gsub('%.gz$', '')
  if file_exists(raw) then return raw end
  return nil
end

-- Looks for every file of data set `name`. Returns the directory and a table of paths by
-- file name; or nil and a message that says where it looked, what was missing and how to get
-- the data. root (optional) is the directory holding the files, or one with a <name>/
-- subdirectory holding them; when given, it is the only place searched.
function data.locate(name, root)
  local spec = data.datasets[name]
  if not spec then error("data: unknown data set '" .. tostring(name) .. "'", 2) end
  local candidates = {}
  if root then
    root = tostring(root):gsub('/+$', '')
    if root == '' then root = '/' end
    candidates[1] = {dir = root, why = 'the root argument'}
    candidates[2] = {dir = root .. '/' .. name, why = 'the root argument'}
  else
    candidates = data.search_dirs(name)
  end
  local report = {}
  for _, c in ipairs(candidates) do
    local paths, missing = {}, {}
    for _, f in ipairs(spec.files) do
      paths[f.name] = find_file(c.dir, f.name)
      if not paths[f.name] then missing[#missing + 1] = f.name end
    end
    if #missing == 0 then return c.dir, paths end
    local status = #missing == #spec.files and 'no data files' or ('missing ' .. table.concat(missing, ', '))
    report[#report + 1] = string.format('  %s (%s): %s', c.dir, c.why, status)
  end
  local lines = {
    string.format('the %s data set was not found. Looked in:', name),
  }
  if #report == 0 then
    lines[#lines + 1] = '  nowhere: no root given, $LUACNN_DATA unset and no $HOME for a cache directory'
  end
  for _, r in ipairs(report) do lines[#lines + 1] = r end
  local default = data.default_fetch_dir(name) or '<dir>'
  lines[#lines + 1] = string.format(
    'Get it with `luacnn data fetch %s` (downloads the %d official files into %s and checks '
    .. 'their md5 sums), or pass root= (or set $LUACNN_DATA to the directory above %s/).',
    name, #spec.files, default, name)
  return nil, table.concat(lines, '\n')
end

-- Where `luacnn data fetch NAME` puts the files by default: the first place the loaders look.
function data.default_fetch_dir(name)
  local dirs = data.search_dirs(name)
  return dirs[1] and dirs[1].dir or nil
end

---------------------------------------------------------------- small helpers

local function check_options(op, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= 'table' then
    error(string.format('%s: expected an options table, got %s', op, type(opts)), 3)
  end
  for k in pairs(opts) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      error(string.format("%s: unknown option '%s' (known: %s)", op, tostring(k),
                          table.concat(names, ', ')), 3)
    end
  end
  return opts
end

local function positive_integer(op, what, v)
  if math.type(v) ~= 'integer' or v < 1 then
    error(string.format('%s: %s must be a positive integer, got %s', op, what, tostring(v)), 3)
  end
  return v
end

-- resize = n or {h, w} -> {h, w}; nil stays nil.
local function resize_size(op, resize)
  if resize == nil or resize == false then return nil end
  if type(resize) == 'number' then
    positive_integer(op, 'resize', resize)
    return {resize, resize}
  end
  if type(resize) == 'table' and #resize == 2 then
    positive_integer(op, 'resize[1] (height)', resize[1])
    positive_integer(op, 'resize[2] (width)', resize[2])
    return {resize[1], resize[2]}
  end
  error(string.format('%s: resize must be a size n or a pair {h, w}, got %s', op, tostring(resize)), 3)
end

---------------------------------------------------------------- images as tensors

-- ToTensor divides by 255 (img.float().div(255), a true division in float32). Dividing by a
-- Lua number would multiply by its reciprocal instead, which is 1 ulp off for some bytes
-- (12 / 255), so the divisor is a 0-dim tensor, one per device.
local scales = {}
local function scale_255(device)
  local s = scales[device]
  if not s then
    s = lc().tensor(255):to(device)
    scales[device] = s
  end
  return s
end

-- torchvision's Resize (bilinear, on PIL images) then ToTensor, for a batch of uint8 images
-- (N, C, H, W) in 0..255: float32 in [0, 1] on opts.device, resized to opts.resize (n or
-- {h, w}). The resize runs on uint8 data, as PIL's does, and is bit-exact with it; on a GPU
-- device the uint8 batch moves first and is resized there (4x less to copy than floats).
function data.to_tensor(images, opts)
  opts = check_options('to_tensor', opts, {resize = true, device = true})
  if not lc().is_tensor(images) or images.dtype ~= 'uint8' or images:dim() ~= 4 then
    error('to_tensor: expected uint8 images (N, C, H, W), got '
          .. (lc().is_tensor(images) and (images.dtype .. ' ' .. tostring(images:shape())) or type(images)), 2)
  end
  local size = resize_size('to_tensor', opts.resize)
  local device = opts.device or 'cpu'
  if device ~= images.device then images = images:to(device) end
  if size and (size[1] ~= images:size(3) or size[2] ~= images:size(4)) then
    images = lc().core._F.resize_bilinear(images, size[1], size[2])
  end
  return images:float():div(scale_255(images.device))
end

---------------------------------------------------------------- datasets and loaders

local TensorDataset = {}
TensorDataset.__name = 'TensorDataset'

-- A data set over in-memory tensors that share their first dimension (examples):
-- TensorDataset(X, y) or TensorDataset{X, y}. ds[i] is the list of the tensors' i-th
-- slices; #ds is the number of examples.
function data.TensorDataset(...)
  local tensors = {...}
  if select('#', ...) == 1 and type(tensors[1]) == 'table' and not lc().is_tensor(tensors[1]) then
    tensors = tensors[1]
  end
  if #tensors == 0 then error('TensorDataset: expected at least one tensor', 2) end
  local n
  for i, t in ipairs(tensors) do
    if not lc().is_tensor(t) then
      error(string.format('TensorDataset: argument %d is a %s, not a tensor', i, type(t)), 2)
    end
    if t:dim() == 0 then error(string.format('TensorDataset: tensor %d is 0-dimensional', i), 2) end
    if n and t:size(1) ~= n then
      error(string.format('TensorDataset: tensor %d has %d examples (size %s) but tensor 1 has %d',
                          i, t:size(1), tostring(t:shape()), n), 2)
    end
    n = n or t:size(1)
  end
  return setmetatable({tensors = tensors, n = n}, TensorDataset)
end

function TensorDataset.__len(ds) return ds.n end

function TensorDataset.__index(ds, key)
  if math.type(key) == 'integer' then
    if key < 1 or key > ds.n then
      error(string.format('TensorDataset: index %d is out of range 1..%d', key, ds.n), 2)
    end
    local out = {}
    for i, t in ipairs(ds.tensors) do out[i] = t[key] end
    return out
  end
  return TensorDataset[key]
end

-- The examples at `idx` (1-based int64 tensor) of every tensor, as a list of new tensors.
function TensorDataset:gather(idx)
  local out = {}
  for i, t in ipairs(self.tensors) do out[i] = t:index_select(1, idx) end
  return out
end

-- Examples start .. start + count - 1 of every tensor, as new tensors (never views of the
-- data set, so a caller may change a batch in place).
function TensorDataset:slice(start, count)
  local out = {}
  for i, t in ipairs(self.tensors) do out[i] = t:narrow(1, start, count):clone() end
  return out
end

-- ---- DistributedSampler ----

local DistributedSampler = {}
DistributedSampler.__index = DistributedSampler
DistributedSampler.__name = 'DistributedSampler'

-- PyTorch's DistributedSampler over n examples: each rank gets its share of every epoch,
-- disjoint from the other ranks'. opts: num_replicas and rank (default lc.dist's world size
-- and rank), shuffle (true: epoch e's order is the Philox permutation of (seed, e), the one
-- ImageLoader uses, the same on every rank), seed (default: rank 0's lc.initial_seed(), sent
-- to all, so --seed N repeats a run), drop_last (false: the order is padded with its first
-- examples to a multiple of num_replicas, so every rank has the same number of batches; true
-- drops the tail instead), pad (true; false gives ranks shares that differ by at most one, for
-- evaluation, where every example should count once). Rank r takes positions r+1,
-- r+1+num_replicas, ... of the epoch's order. Each use (sampler:indices(), a DataLoader loop)
-- is a new epoch unless sampler:set_epoch(e) names it.
function data.DistributedSampler(n, opts)
  opts = check_options('DistributedSampler', opts, {num_replicas = true, rank = true,
                       shuffle = true, seed = true, drop_last = true, pad = true})
  if math.type(n) ~= 'integer' or n < 0 then
    error('DistributedSampler: n (the number of examples) must be an integer >= 0, got '
          .. tostring(n), 2)
  end
  local dist = lc().dist
  local replicas = opts.num_replicas or dist.init()   -- MPI starts here under a launcher
  local rank = opts.rank or dist.rank()
  if math.type(replicas) ~= 'integer' or replicas < 1 then
    error('DistributedSampler: num_replicas must be an integer >= 1, got ' .. tostring(replicas), 2)
  end
  if math.type(rank) ~= 'integer' or rank < 0 or rank >= replicas then
    error(string.format('DistributedSampler: rank must be an integer in [0, %d], got %s',
                        replicas - 1, tostring(rank)), 2)
  end
  local seed = opts.seed
  if seed ~= nil and math.type(seed) ~= 'integer' then
    error('DistributedSampler: seed must be an integer, got ' .. tostring(seed), 2)
  end
  if seed == nil then seed = dist.broadcast_integer(lc().initial_seed(), 0) end
  local drop_last, pad = opts.drop_last and true or false, opts.pad ~= false
  local per_rank
  if drop_last then per_rank = n // replicas
  elseif pad then per_rank = (n + replicas - 1) // replicas
  else per_rank = n // replicas + (rank < n % replicas and 1 or 0) end
  return setmetatable({n = n, num_replicas = replicas, rank = rank, seed = seed,
                       shuffle = opts.shuffle ~= false, drop_last = drop_last, pad = pad,
                       num_samples = per_rank, epoch = 0}, DistributedSampler)
end

function DistributedSampler.__len(self) return self.num_samples end

function DistributedSampler.__tostring(self)
  return string.format('DistributedSampler(%d examples, rank %d of %d, %d each%s)', self.n,
                       self.rank, self.num_replicas, self.num_samples,
                       self.shuffle and ', shuffled' or '')
end

-- The epoch the next use gives (0, 1, ...).
function DistributedSampler:set_epoch(e)
  if math.type(e) ~= 'integer' or e < 0 then
    error('DistributedSampler:set_epoch: expected an integer >= 0, got ' .. tostring(e), 2)
  end
  self.epoch = e
end

-- This rank's 1-based indices for the next epoch (a Lua list), and that epoch's number.
function DistributedSampler:indices()
  local e = self.epoch
  self.epoch = e + 1
  local n, R = self.n, self.num_replicas
  local order
  if self.shuffle then order = lc().core._loader.permutation(n, self.seed, e)
  else
    order = {}
    for i = 1, n do order[i] = i end
  end
  local out, k = {}, 0
  for pos = self.rank + 1, R * self.num_samples, R do
    local i = pos
    if i > n then
      if self.drop_last or not self.pad then break end
      i = (i - 1) % n + 1    -- padding: the order again from its start
    end
    k = k + 1
    out[k] = order[i]
  end
  return out, e
end

local DataLoader = {}
DataLoader.__index = DataLoader
DataLoader.__name = 'DataLoader'

-- Batches over a data set (a TensorDataset, or a list of tensors made into one), as
-- PyTorch's DataLoader: opts.batch_size (1), opts.shuffle (false: a new permutation from
-- lc.randperm at the start of each epoch, so lc.manual_seed makes epochs reproducible),
-- opts.drop_last (false: the last, smaller batch is kept), opts.transform (a function applied
-- to the tensors of each batch, returning what the loop receives), opts.sampler (a
-- DistributedSampler: each epoch takes its order from it instead, see loader:set_sampler).
function data.DataLoader(dataset, opts)
  opts = check_options('DataLoader', opts, {batch_size = true, shuffle = true, drop_last = true,
                                            transform = true, sampler = true})
  if getmetatable(dataset) ~= TensorDataset then
    if type(dataset) ~= 'table' then
      error('DataLoader: expected a TensorDataset or a list of tensors, got ' .. type(dataset), 2)
    end
    dataset = data.TensorDataset(dataset)
  end
  local batch_size = positive_integer('DataLoader', 'batch_size', opts.batch_size or 1)
  if opts.transform ~= nil and type(opts.transform) ~= 'function' then
    error('DataLoader: transform must be a function, got ' .. type(opts.transform), 2)
  end
  local n = #dataset
  local batches = opts.drop_last and n // batch_size or (n + batch_size - 1) // batch_size
  local self = setmetatable({
    dataset = dataset, batch_size = batch_size, shuffle = opts.shuffle and true or false,
    drop_last = opts.drop_last and true or false, transform = opts.transform,
    num_batches = batches, num_examples = opts.drop_last and batches * batch_size or n,
    -- for-loop state: the cursor of the epoch each returned batch belongs to (see __call)
    cursors = setmetatable({}, {__mode = 'k'}),
  }, DataLoader)
  if opts.sampler ~= nil then self:set_sampler(opts.sampler) end
  return self
end

-- Takes each epoch's order from sampler (a DistributedSampler over #dataset examples; nil goes
-- back to the loader's own order): the loader then yields this rank's share, in batches.
function DataLoader:set_sampler(sampler)
  if sampler ~= nil and getmetatable(sampler) ~= DistributedSampler then
    error('DataLoader: sampler must be a DistributedSampler, got ' .. type(sampler), 2)
  end
  if sampler and sampler.n ~= #self.dataset then
    error(string.format('DataLoader: the sampler covers %d examples but the data set has %d',
                        sampler.n, #self.dataset), 2)
  end
  self.sampler = sampler
  local n, bs = sampler and #sampler or #self.dataset, self.batch_size
  self.num_batches = self.drop_last and n // bs or (n + bs - 1) // bs
  self.num_examples = self.drop_last and self.num_batches * bs or n
  return self
end

function DataLoader.__len(self) return self.num_batches end

function DataLoader.__tostring(self)
  return string.format('DataLoader(%d examples, batch_size=%d, %d batches%s)', #self.dataset,
                       self.batch_size, self.num_batches, self.shuffle and ', shuffled' or '')
end

-- The loader of one rank of a data-parallel run (what d2l.train_ch6 does under mpirun): a
-- DistributedSampler over the data set and, with opts.split_batch, batch_size / world_size
-- per rank, so the ranks' batches together are the single process's batch (same steps per
-- epoch, same learning rate). opts.eval: no shuffling and no padding, so every example counts
-- once (ranks' shares then differ by at most one). Other opts go to the sampler (seed, ...).
-- Returns the loader; with one process it is left as it is.
function DataLoader:distribute(opts)
  opts = opts or {}
  local world = opts.num_replicas or lc().dist.init()
  if world == 1 then return self end
  local so = {num_replicas = world, rank = opts.rank, seed = opts.seed}
  if opts.eval then so.shuffle, so.pad = false, false
  else so.shuffle, so.drop_last = self.shuffle, self.drop_last end
  if opts.split_batch then
    if self.batch_size % world ~= 0 then
      error(string.format('DataLoader:distribute: batch_size %d does not split over %d ranks; '
                          .. 'choose a multiple of %d', self.batch_size, world, world), 2)
    end
    self.batch_size = self.batch_size // world
  end
  return self:set_sampler(data.DistributedSampler(#self.dataset, so))
end

-- A fresh epoch: a function returning the next batch's values, then nil.
function DataLoader:iter()
  local n, bs, ds = #self.dataset, self.batch_size, self.dataset
  local order = self.shuffle and n > 0 and lc().randperm(n) or nil
  if self.sampler then
    local list = self.sampler:indices()
    n = #list
    order = n > 0 and lc().tensor(list, {dtype = 'int64'}) or nil
  end
  local b, total, transform = 0, self.num_batches, self.transform
  return function()
    if b >= total then return nil end
    local start = b * bs + 1
    local count = math.min(bs, n - start + 1)
    b = b + 1
    local batch = order and ds:gather(order:narrow(1, start, count)) or ds:slice(start, count)
    if transform then return transform(table.unpack(batch)) end
    return table.unpack(batch)
  end
end

-- `loader()` returns a fresh epoch's iterator. As the function of a generic for
-- (`for X, y in loader do`), Lua calls it with (nil, previous first value): nil starts an
-- epoch; otherwise the previous batch's first value finds its epoch, so two loops over one
-- loader (even nested) each keep their own place, and assigning to X inside the loop body is
-- harmless (Lua passes the value it returned, not the variable).
function DataLoader.__call(self, ...)
  if select('#', ...) == 0 then return self:iter() end
  local _, previous = ...
  local cursor
  if previous == nil then
    cursor = self:iter()
  else
    cursor = self.cursors[previous]
    if not cursor then
      error('DataLoader: called with a value it did not return as the first value of a batch; '
            .. 'iterate with `for X, y in loader do` or `local it = loader()`', 2)
    end
    self.cursors[previous] = nil
  end
  local batch = table.pack(cursor())
  if batch[1] ~= nil then
    local kind = type(batch[1])
    if kind == 'userdata' or kind == 'table' or kind == 'function' then
      self.cursors[batch[1]] = cursor
    end
  end
  return table.unpack(batch, 1, batch.n)
end

-- d2l's load_array((features, labels), batch_size, is_train).
function data.load_array(tensors, batch_size, is_train)
  return data.DataLoader(data.TensorDataset(tensors), {batch_size = batch_size, shuffle = is_train})
end

---------------------------------------------------------------- Fashion-MNIST

-- The file names of the four parts, by role.
local FM = {
  train_images = 'train-images-idx3-ubyte.gz', train_labels = 'train-labels-idx1-ubyte.gz',
  test_images = 't10k-images-idx3-ubyte.gz', test_labels = 't10k-labels-idx1-ubyte.gz',
}

local function fashion_error(msg)
  error('fashion_mnist: ' .. msg .. '\nRe-fetch the files with `luacnn data fetch fashion-mnist`.', 0)
end

local function read_idx(path)
  local ok, t = pcall(lc().core.read_idx, path)
  if not ok then fashion_error(tostring(t)) end
  return t
end

-- One split: images uint8 (N, 1, H, W) and labels int64 1..10 (N), checked against each other.
local function read_split(paths, images_name, labels_name)
  local images, labels = read_idx(paths[images_name]), read_idx(paths[labels_name])
  if images:dim() ~= 3 then
    fashion_error(string.format('%s: expected images (N, 28, 28) (3 dims, magic 0x00000803), got shape %s',
                                paths[images_name], tostring(images:shape())))
  end
  if labels:dim() ~= 1 then
    fashion_error(string.format('%s: expected labels (N) (1 dim, magic 0x00000801), got shape %s',
                                paths[labels_name], tostring(labels:shape())))
  end
  if images:size(1) ~= labels:size(1) then
    fashion_error(string.format(
      'count mismatch: %s holds %d images but %s holds %d labels (the files do not belong together)',
      paths[images_name], images:size(1), paths[labels_name], labels:size(1)))
  end
  if labels:numel() > 0 and labels:max():item() > 9 then
    fashion_error(string.format('%s: labels must be 0..9, found %d', paths[labels_name],
                                labels:max():item()))
  end
  return images:view(images:size(1), 1, images:size(2), images:size(3)), labels:long():add(1)
end

-- The raw data: {train = {images = uint8 (60000, 1, 28, 28), labels = int64 1..10},
-- test = {...}, root = the directory read}. root as for fashion_mnist.
function data.read_fashion_mnist(root)
  local dir, paths = data.locate('fashion-mnist', root)
  if not dir then error('fashion_mnist: ' .. paths, 0) end
  local train_x, train_y = read_split(paths, FM.train_images, FM.train_labels)
  local test_x, test_y = read_split(paths, FM.test_images, FM.test_labels)
  return {train = {images = train_x, labels = train_y}, test = {images = test_x, labels = test_y},
          root = dir}
end

local function first_n(split, n)
  if n == nil or n >= split.images:size(1) then return split end
  return {images = split.images:narrow(1, 1, n), labels = split.labels:narrow(1, 1, n)}
end

-- d2l's load_data_fashion_mnist: train_iter, test_iter over Fashion-MNIST.
--   batch_size (256); resize (nil, n or {h, w}: bilinear as torchvision's Resize); shuffle
--   (true, for the training set; the test set is never shuffled); root (the directory of the
--   four files; default $LUACNN_DATA/fashion-mnist, then the per-user cache); subset (first N
--   images of each split, or {train = N, test = M}: for quick tests); device ('cpu': where
--   batches are made, resized and returned).
-- X is float32 (B, 1, H, W) in [0, 1] (ToTensor), y int64 labels 1..10 (file labels + 1).
-- fashion_mnist(256, {resize = 224}) works too.
function data.fashion_mnist(opts, more)
  if math.type(opts) == 'integer' then
    local o = {batch_size = opts}
    for k, v in pairs(more or {}) do o[k] = v end
    opts = o
  end
  opts = check_options('fashion_mnist', opts, {batch_size = true, resize = true, shuffle = true,
                                               root = true, subset = true, device = true})
  local batch_size = positive_integer('fashion_mnist', 'batch_size', opts.batch_size or 256)
  local size = resize_size('fashion_mnist', opts.resize)
  local device = opts.device or 'cpu'
  local shuffle = opts.shuffle
  if shuffle == nil then shuffle = true end
  local subset = opts.subset
  local n_train, n_test
  if type(subset) == 'table' then
    n_train = subset.train and positive_integer('fashion_mnist', 'subset.train', subset.train)
    n_test = subset.test and positive_integer('fashion_mnist', 'subset.test', subset.test)
  elseif subset ~= nil then
    n_train = positive_integer('fashion_mnist', 'subset', subset)
    n_test = n_train
  end

  local raw = data.read_fashion_mnist(opts.root)
  local train, test = first_n(raw.train, n_train), first_n(raw.test, n_test)
  local function transform(images, labels)
    return data.to_tensor(images, {resize = size, device = device}), labels:to(device)
  end
  local function loader(split, shuf)
    local l = data.DataLoader(data.TensorDataset(split.images, split.labels),
                              {batch_size = batch_size, shuffle = shuf, transform = transform})
    l.root, l.resize, l.device = raw.root, size, device
    return l
  end
  return loader(train, shuffle), loader(test, false)
end

data.fashion_mnist_classes = {'t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal',
                              'shirt', 'sneaker', 'bag', 'ankle boot'}

-- Text labels of 1-based labels (a tensor of any shape, read in order, or a list), as
-- d2l's get_fashion_mnist_labels.
function data.fashion_mnist_labels(labels)
  local values
  if type(labels) == 'userdata' and lc().is_tensor(labels) then
    values = labels:reshape(-1):totable()
  elseif type(labels) == 'table' then
    values = labels
  else
    error('fashion_mnist_labels: expected a tensor or a list of labels 1..10, got ' .. type(labels), 2)
  end
  local out = {}
  for i, v in ipairs(values) do
    local name = math.type(v) == 'integer' and data.fashion_mnist_classes[v]
                 or (math.type(v) == 'float' and v == math.floor(v) and data.fashion_mnist_classes[math.tointeger(v)])
    if not name then
      error(string.format('fashion_mnist_labels: label %s at position %d is not in 1..10 (labels are 1-based)',
                          tostring(v), i), 2)
    end
    out[i] = name
  end
  return out
end

---------------------------------------------------------------- CSV files

local function loader_core() return lc().core._loader end

-- The records of a CSV file (RFC 4180: header line, quoted fields with "" escapes, commas and
-- newlines inside quotes, LF or CRLF, a UTF-8 BOM skipped, blank lines ignored):
-- {header = {'image', 'label'}, rows = {{'images/0.jpg', 'maclura_pomifera'}, ...},
--  lines = {2, 3, ...}} (the line each record starts on). A malformed file is an error naming
-- the file and the line.
function data.read_csv(path)
  if type(path) ~= 'string' then error('read_csv: expected a path (string), got ' .. type(path), 2) end
  return loader_core().read_csv(path)
end

---------------------------------------------------------------- Classify Leaves

-- a/b/../c -> a/c (textual; enough for the candidates built below)
local function normalize(path)
  local abs = path:sub(1, 1) == '/'
  local parts = {}
  for part in path:gmatch('[^/]+') do
    if part == '..' and #parts > 0 and parts[#parts] ~= '..' then
      parts[#parts] = nil
    elseif part ~= '.' then
      parts[#parts + 1] = part
    end
  end
  local out = table.concat(parts, '/')
  return abs and '/' .. out or (out == '' and '.' or out)
end

local function leaves_candidates()
  local dirs = {}
  for _, d in ipairs(data.search_dirs('classify-leaves')) do dirs[#dirs + 1] = d end
  -- ../shared/data next to the source tree (the lib/ this file was loaded from, directly or
  -- through build/lib), as the data README says
  local src = debug.getinfo(1, 'S').source
  if src:sub(1, 1) == '@' then
    local dir = src:sub(2):match('^(.*)/[^/]*$') or '.'
    local up = dir .. '/../..'
    for _, rel in ipairs {'/../shared/data', '/../../shared/data'} do
      dirs[#dirs + 1] = {dir = normalize(up .. rel .. '/classify-leaves'), why = 'shared/data beside the source tree'}
    end
  end
  -- and beside the executable's working directory
  dirs[#dirs + 1] = {dir = '../shared/data/classify-leaves', why = '../shared/data'}
  return dirs
end

-- The classify-leaves folder (holding train.csv), found as Fashion-MNIST is: $LUACNN_DATA,
-- the per-user cache, then ../shared/data beside the source tree. Returns nil and a message
-- saying where it looked when there is none.
function data.leaves_root()
  local looked = {}
  for _, c in ipairs(leaves_candidates()) do
    if file_exists(c.dir .. '/train.csv') then return c.dir end
    looked[#looked + 1] = string.format('  %s (%s)', c.dir, c.why)
  end
  return nil, 'the classify-leaves data set (a folder with train.csv, test.csv, images/) was not '
              .. 'found. Looked in:\n' .. table.concat(looked, '\n')
              .. '\nPass root= (or --data_root), or set $LUACNN_DATA to the folder above classify-leaves/.'
end

local function column(csv, name, path)
  for i, h in ipairs(csv.header) do if h == name then return i end end
  error(string.format("leaves: %s has no '%s' column (header: %s)", path, name,
                      table.concat(csv.header, ',')), 3)
end

local function split_fields(list)
  local out = {paths = {}, labels = {}, rows = {}, names = {}}
  for _, r in ipairs(list) do
    local k = #out.paths + 1
    out.paths[k], out.labels[k], out.rows[k], out.names[k] = r.path, r.label, r.line, r.name
  end
  return out
end

-- The Classify Leaves set with a seeded, stratified train/valid split that keeps
-- byte-identical images on one side:
--   root (default leaves_root()), valid_ratio (0.2), seed (0), limit (the first N labelled
--   rows, taken before splitting), check_test (true: also look for test images identical to a
--   labelled one, for the report).
-- Returns {root, classes (sorted names), class_index (name -> 1..K), train, valid, all
-- (= train + valid in CSV order), test, report}; train/valid/all hold {paths, labels (1-based),
-- rows (CSV line numbers), names (as in the CSV)}, test {paths, names, rows}.
-- Identical images form groups; a group goes wholly to train or to valid. Per class, its groups
-- are shuffled (seeded) and taken for valid while they fit in round(valid_ratio * rows); a
-- group whose copies carry different labels stays in train (report.conflicting_*).
function data.leaves(opts)
  opts = check_options('leaves', opts, {root = true, valid_ratio = true, seed = true, limit = true,
                                        check_test = true})
  local root = opts.root
  if root == nil then
    local msg
    root, msg = data.leaves_root()
    if not root then error('leaves: ' .. msg, 2) end
  end
  root = tostring(root):gsub('/+$', '')
  local ratio = opts.valid_ratio == nil and 0.2 or opts.valid_ratio
  if type(ratio) ~= 'number' or ratio < 0 or ratio >= 1 then
    error('leaves: valid_ratio must be a number in [0, 1), got ' .. tostring(ratio), 2)
  end
  local seed = opts.seed or 0
  if math.type(seed) ~= 'integer' then error('leaves: seed must be an integer, got ' .. tostring(seed), 2) end
  local limit = opts.limit and positive_integer('leaves', 'limit', opts.limit)
  local core = loader_core()

  local train_csv = root .. '/train.csv'
  if not file_exists(train_csv) then error('leaves: ' .. train_csv .. ' not found', 2) end
  local csv = core.read_csv(train_csv)
  local ci, cl = column(csv, 'image', train_csv), column(csv, 'label', train_csv)
  local n = #csv.rows
  if limit and limit < n then n = limit end
  local labelled, seen, classes = {}, {}, {}
  for i = 1, n do
    local r = csv.rows[i]
    local name, label = r[ci], r[cl]
    if label == '' then error(string.format('leaves: %s line %d: empty label', train_csv, csv.lines[i]), 2) end
    labelled[i] = {name = name, path = root .. '/' .. name, label_name = label, line = csv.lines[i]}
    if not seen[label] then seen[label] = true; classes[#classes + 1] = label end
  end
  table.sort(classes)
  local class_index = {}
  for k, c in ipairs(classes) do class_index[c] = k end
  for _, r in ipairs(labelled) do r.label = class_index[r.label_name] end

  local test = {paths = {}, names = {}, rows = {}}
  local test_csv = root .. '/test.csv'
  if file_exists(test_csv) then
    local t = core.read_csv(test_csv)
    local ti = column(t, 'image', test_csv)
    for i, r in ipairs(t.rows) do
      test.names[i], test.paths[i], test.rows[i] = r[ti], root .. '/' .. r[ti], t.lines[i]
    end
  end

  -- identical files among the labelled rows (and the test images, for the report)
  local check_test = opts.check_test ~= false
  local paths = {}
  for i, r in ipairs(labelled) do paths[i] = r.path end
  if check_test then for _, p in ipairs(test.paths) do paths[#paths + 1] = p end end
  local group, unreadable = core.dedup(paths, 2)

  local members = {}          -- leader -> list of labelled row numbers
  local leaders = {}          -- leaders of labelled rows, in CSV order
  for i = 1, n do
    local g = group[i]
    if not members[g] then members[g] = {}; leaders[#leaders + 1] = g end
    table.insert(members[g], i)
  end
  local report = {labelled_rows = n, test_rows = #test.paths, unreadable = #unreadable,
                  dup_groups = 0, dup_rows = 0, conflicting_groups = 0, conflicting_rows = 0,
                  test_checked = check_test, test_dup_of_labelled = 0, groups_with_test = 0,
                  dup_groups_all = 0, conflicts = {}}
  local group_class = {}      -- leader -> class, or false when its labels disagree
  for _, g in ipairs(leaders) do
    local m = members[g]
    local c = labelled[m[1]].label
    for _, i in ipairs(m) do if labelled[i].label ~= c then c = false end end
    group_class[g] = c
    if #m > 1 then
      report.dup_groups, report.dup_rows = report.dup_groups + 1, report.dup_rows + #m
      if c == false then
        report.conflicting_groups = report.conflicting_groups + 1
        report.conflicting_rows = report.conflicting_rows + #m
        local names = {}
        for _, i in ipairs(m) do names[#names + 1] = labelled[i].name .. '=' .. labelled[i].label_name end
        report.conflicts[#report.conflicts + 1] = table.concat(names, ' ')
      end
    end
  end
  if check_test then
    local size, with_test = {}, {}
    for k, g in ipairs(group) do
      size[g] = (size[g] or 0) + 1
      if k > n and g <= n then
        report.test_dup_of_labelled = report.test_dup_of_labelled + 1
        with_test[g] = true
      end
    end
    for _, s in pairs(size) do if s > 1 then report.dup_groups_all = report.dup_groups_all + 1 end end
    for _ in pairs(with_test) do report.groups_with_test = report.groups_with_test + 1 end
  end

  -- per class: its (label-consistent) groups, shuffled with (seed, class), taken for valid
  -- while they fit in the class's share
  local by_class = {}
  for k = 1, #classes do by_class[k] = {groups = {}, rows = 0} end
  for _, g in ipairs(leaders) do
    local c = group_class[g]
    if c then
      local bc = by_class[c]
      bc.groups[#bc.groups + 1] = g
      bc.rows = bc.rows + #members[g]
    end
  end
  local in_valid = {}
  for k, bc in ipairs(by_class) do
    local target = math.floor(ratio * bc.rows + 0.5)
    local taken = 0
    if target > 0 then
      local perm = core.permutation(#bc.groups, seed, k)
      for _, p in ipairs(perm) do
        local g = bc.groups[p]
        if taken + #members[g] <= target then
          in_valid[g] = true
          taken = taken + #members[g]
          if taken == target then break end
        end
      end
    end
  end
  local train, valid, all = {}, {}, {}
  for i, r in ipairs(labelled) do
    all[#all + 1] = r
    if in_valid[group[i]] then valid[#valid + 1] = r else train[#train + 1] = r end
  end
  -- the promise, checked: no group has rows on both sides
  local side, straddling = {}, 0
  for i = 1, n do
    local s = in_valid[group[i]] and 'valid' or 'train'
    local g = group[i]
    if side[g] and side[g] ~= s then straddling = straddling + 1 end
    side[g] = side[g] or s
  end
  if straddling > 0 then error('leaves: internal error: ' .. straddling .. ' duplicate groups straddle the split') end
  report.straddling = straddling
  report.train_rows, report.valid_rows = #train, #valid
  report.placement = 'identical images are kept on one side of the split; groups whose copies '
                     .. 'carry different labels stay in train with all their labels'
  report.text = string.format(
    '%d labelled rows, %d classes: %d groups of identical images (%d rows), %d of them with '
    .. 'conflicting labels (%d rows, kept in train)%s; split %d train / %d valid, 0 groups straddle',
    n, #classes, report.dup_groups, report.dup_rows, report.conflicting_groups, report.conflicting_rows,
    check_test and string.format('; %d test images duplicate a labelled one (%d groups); %d '
                                 .. 'duplicate groups over labelled + test', report.test_dup_of_labelled,
                                 report.groups_with_test, report.dup_groups_all) or '',
    #train, #valid)
  return {root = root, classes = classes, class_index = class_index, train = split_fields(train),
          valid = split_fields(valid), all = split_fields(all), test = test, report = report}
end

---------------------------------------------------------------- ImageLoader

local ImageLoader = {}
ImageLoader.__name = 'ImageLoader'

-- Batches of image files decoded and transformed in C by worker threads:
--   paths (list of files), labels (nil, a list of integers or an int64 tensor; returned as
--   they are, 1-based by convention), transform (a compiled lc.transforms.Compose ending in a
--   fixed size), batch_size (1), shuffle (false), drop_last (false), workers (the cores; 0
--   makes batches in the calling thread), prefetch (2 * workers batches made ahead), cache
--   (false: true keeps each decoded uint8 image in memory, so later epochs decode nothing),
--   on_error ('raise': a file that fails is an error naming it and its CSV row; 'skip': the
--   sample is left out of its batch and counted in loader.skipped), rows (CSV line numbers of
--   the paths, for messages), device ('cpu'; 'cuda' moves each batch there), seed (default:
--   drawn from lc's generator, so lc.manual_seed makes order and augmentation reproducible),
--   decode_scale (nil: JPEGs are decoded at the smallest libjpeg-turbo scale that loses no
--   output resolution, which the pipeline works out; 2, 4 or 8 forces 1/2, 1/4, 1/8: faster and
--   a 4-64x smaller cache, at the cost of detail; 1 forces full size).
-- for X, y, index in loader do ... end: X float32 (B, C, H, W) (uint8 without ToTensor), y int64
-- (B) (nil without labels), index int64 (B) 1-based positions in paths. Each loop is a new epoch
-- (a new order when shuffling, new augmentation) unless loader:set_epoch(e) names it. The
-- batches are the same bytes whatever `workers` is. Breaking out of a loop leaves the workers
-- idle; the next loop, loader:close() or the collector stops them (`for ... in loader:epoch()`
-- stops them as the loop ends, however it ends).
function data.ImageLoader(opts)
  opts = check_options('ImageLoader', opts, {paths = true, labels = true, transform = true,
                       batch_size = true, shuffle = true, drop_last = true, workers = true,
                       prefetch = true, cache = true, on_error = true, rows = true, device = true,
                       seed = true, decode_scale = true})
  if type(opts.paths) ~= 'table' then
    error('ImageLoader: paths must be a list of image files, got ' .. type(opts.paths), 2)
  end
  if opts.transform == nil then
    error('ImageLoader: transform is required (an lc.transforms.Compose{...} ending in a fixed size)', 2)
  end
  local batch_size = positive_integer('ImageLoader', 'batch_size', opts.batch_size or 1)
  local workers = opts.workers
  if workers ~= nil and (math.type(workers) ~= 'integer' or workers < 0) then
    error('ImageLoader: workers must be an integer >= 0, got ' .. tostring(workers), 2)
  end
  if opts.prefetch ~= nil then positive_integer('ImageLoader', 'prefetch', opts.prefetch) end
  local on_error = opts.on_error or 'raise'
  if on_error ~= 'raise' and on_error ~= 'skip' then
    error("ImageLoader: on_error must be 'raise' or 'skip', got " .. tostring(on_error), 2)
  end
  local device = opts.device or 'cpu'
  if type(device) ~= 'string' or not (device == 'cpu' or device:match('^cuda')) then
    error("ImageLoader: device must be 'cpu' or 'cuda[:n]', got " .. tostring(device), 2)
  end
  if device ~= 'cpu' and not lc().cuda.is_available() then
    local why = lc().cuda.unavailable_reason and lc().cuda.unavailable_reason() or 'this build has no CUDA backend'
    error("ImageLoader: device='" .. device .. "' needs a GPU, and none is usable here (" .. tostring(why)
          .. "); use device='cpu'", 2)
  end
  local ds = opts.decode_scale
  if ds ~= nil and ds ~= 1 and ds ~= 2 and ds ~= 4 and ds ~= 8 then
    error('ImageLoader: decode_scale must be 1, 2, 4 or 8, got ' .. tostring(ds), 2)
  end
  local seed = opts.seed
  if seed ~= nil and math.type(seed) ~= 'integer' then
    error('ImageLoader: seed must be an integer, got ' .. tostring(seed), 2)
  end
  seed = seed or loader_core().draw_seed()
  local handle = loader_core().new{
    paths = opts.paths, labels = opts.labels, rows = opts.rows, transform = opts.transform,
    batch_size = batch_size, shuffle = opts.shuffle and true or false,
    drop_last = opts.drop_last and true or false, workers = workers, prefetch = opts.prefetch,
    cache = opts.cache and true or false, skip = on_error == 'skip', seed = seed, decode_scale = ds,
  }
  return setmetatable({handle = handle, batch_size = batch_size, n = #opts.paths, seed = seed,
                       shuffle = opts.shuffle and true or false, device = device,
                       transform = opts.transform, next_epoch = 0}, ImageLoader)
end

function ImageLoader.__index(self, key)
  if key == 'skipped' then return self.handle:skipped() end
  if key == 'workers' then return self.handle:workers() end
  if key == 'cache_bytes' then return self.handle:cache_bytes() end
  return ImageLoader[key]
end

function ImageLoader.__len(self) return self.handle:num_batches() end

function ImageLoader.__tostring(self)
  return string.format('ImageLoader(%d images, batch_size=%d, %d batches, %d workers%s)', self.n,
                       self.batch_size, #self, self.handle:workers(), self.shuffle and ', shuffled' or '')
end

-- The loader of one rank of a data-parallel run, as DataLoader:distribute: every epoch's order
-- (the same on every rank: it depends on the seed, which rank 0 sends to all, and the epoch)
-- is shared out, rank r taking positions r+1, r+1+world_size, ...; padded from the order's
-- start so ranks have equal batch counts, or, with opts.eval, each image once. opts.split_batch:
-- batch_size / world_size per rank. With one process the loader is left as it is.
function ImageLoader:distribute(opts)
  opts = opts or {}
  local dist = lc().dist
  local world = opts.num_replicas or dist.init()
  if world == 1 then return self end
  local bs = self.batch_size
  if opts.split_batch then
    if bs % world ~= 0 then
      error(string.format('ImageLoader:distribute: batch_size %d does not split over %d ranks; '
                          .. 'choose a multiple of %d', bs, world, world), 2)
    end
    bs = bs // world
  end
  -- the order must be the same everywhere: rank 0's seed (the ranks' own may differ)
  local seed = opts.seed or (opts.num_replicas == nil and dist.broadcast_integer(self.seed, 0))
                         or self.seed
  self.handle:shard(opts.rank or dist.rank(), world, not opts.eval, bs, seed)
  self.seed = seed
  self.batch_size = bs
  return self
end

-- The epoch the next loop runs (0, 1, ... by default).
function ImageLoader:set_epoch(e)
  if math.type(e) ~= 'integer' or e < 0 then
    error('ImageLoader:set_epoch: expected an integer >= 0, got ' .. tostring(e), 2)
  end
  self.next_epoch = e
end

-- Stops the workers of a running epoch (idempotent).
function ImageLoader:close()
  self.token = nil
  self.handle:stop()
end

-- Starts an epoch: returns its step function, then nil, nil and a to-be-closed value that
-- stops the workers when a `for` over it ends.
function ImageLoader:epoch()
  local e = self.next_epoch
  self.next_epoch = e + 1
  self.epoch_number = e
  self.handle:start(e)
  local token = {}
  self.token = token
  local handle, device = self.handle, self.device
  local function step()
    if self.token ~= token then
      if self.token == nil and token.done then return nil end
      error('ImageLoader: this epoch was stopped (a newer loop over the same loader started, or close())', 2)
    end
    local X, y, index = handle:next()
    if X == nil then
      token.done = true
      self.token, self.last = nil, nil
      return nil
    end
    if device ~= 'cpu' then
      X = X:to(device)
      if y then y = y:to(device) end
    end
    self.last = X
    return X, y, index
  end
  local closer = setmetatable({}, {__close = function()
    if self.token == token then self:close() end
  end})
  return step, nil, nil, closer
end

-- `for X, y, index in loader do`: Lua calls loader(nil, nil) to start, then loader(nil, X)
-- with the previous batch's X. loader() (no arguments) returns a new epoch's step function.
function ImageLoader.__call(self, ...)
  if select('#', ...) == 0 then return (self:epoch()) end
  local _, previous = ...
  if previous == nil then
    self.step = self:epoch()
  elseif not rawequal(previous, self.last) or not self.step then
    error('ImageLoader: called with a value it did not return as the last batch; iterate with '
          .. '`for X, y, index in loader do` or `local next_batch = loader()`', 2)
  end
  return self.step()
end

return data
