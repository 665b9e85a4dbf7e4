-- lc.data.ImageLoader: batches of image files decoded and transformed in C by worker threads.
local shared = require('luacnn.data.shared')
local data = shared.data
local lc, check_options, positive_integer, loader_core = shared.lc, shared.check_options, shared.positive_integer, shared.loader_core

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
  opts = check_options('ImageLoader:distribute', opts, {num_replicas = true, rank = true, seed = true,
                                                        eval = true, split_batch = true})
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
