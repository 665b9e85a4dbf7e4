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
--
-- The parts live in lib/luacnn/data/, one job each; this file puts them together into the one
-- table they share (luacnn.data.shared), so `require 'luacnn.data'` is the whole API.
local data = require('luacnn.data.shared').data

require('luacnn.data.catalog')         -- data.datasets
require('luacnn.data.locate')          -- cache_dir, search_dirs, locate, default_fetch_dir
require('luacnn.data.to_tensor')       -- to_tensor
require('luacnn.data.tensor_dataset')  -- TensorDataset
require('luacnn.data.distributed_sampler') -- DistributedSampler
require('luacnn.data.data_loader')     -- DataLoader, load_array
require('luacnn.data.fashion_mnist')   -- read_fashion_mnist, fashion_mnist, fashion_mnist_classes, fashion_mnist_labels
require('luacnn.data.csv')             -- read_csv
require('luacnn.data.leaves_root')     -- leaves_root
require('luacnn.data.leaves')          -- leaves
require('luacnn.data.image_loader')    -- ImageLoader

return data
