-- Fashion-MNIST: the IDX files read and checked, d2l's load_data_fashion_mnist loaders and
-- the text labels.
local shared = require('luacnn.data.shared')
local data = shared.data
local lc, check_options, positive_integer, resize_size = shared.lc, shared.check_options, shared.positive_integer, shared.resize_size

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
