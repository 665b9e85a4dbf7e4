-- lc.data.datasets: the catalog of downloadable data sets (plain Lua, no tensors).
local shared = require('luacnn.data.shared')
local data = shared.data

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
