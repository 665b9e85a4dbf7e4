"""Writes the example notebooks (examples/notebooks/*.ipynb) from the cells below, without
outputs. Run it after editing a cell: python3 examples/notebooks/make_notebooks.py
Only the standard library is needed (nbformat 4 JSON)."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELSPEC = {"name": "luacnn", "display_name": "luacnn (Lua 5.4)", "language": "lua"}
LANGUAGE = {"name": "lua", "version": "5.4", "mimetype": "text/x-lua", "file_extension": ".lua",
            "pygments_lexer": "lua", "codemirror_mode": "lua"}


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n")}


def code(text, tags=None):
    meta = {"tags": tags} if tags else {}
    return {"cell_type": "code", "metadata": meta, "execution_count": None, "outputs": [],
            "source": text.strip("\n")}


NOTEBOOKS = {
    "corr2d.ipynb": [
        md("""
# Convolutions for images (d2l 6.2)

The cross-correlation written with Lua loops, a vertical-edge detector, and learning the
kernel back from `X` and `Y` by gradient descent. `lc` is luacnn; a `local` at the top of a
cell stays visible in the cells after it, as in the book's Python."""),
        code("""
local function corr2d(X, K)
  local h, w = K:size(1), K:size(2)
  local Y = lc.zeros(X:size(1) - h + 1, X:size(2) - w + 1)
  for i = 1, Y:size(1) do
    for j = 1, Y:size(2) do
      Y[{i, j}] = (X[{{i, i + h - 1}, {j, j + w - 1}}] * K):sum()
    end
  end
  return Y
end"""),
        md("The 3x3 example of the book: expect 19 25 / 37 43."),
        code("""
local X0 = lc.arange(9, {dtype = 'float32'}):reshape(3, 3)
corr2d(X0, lc.tensor{{0, 1}, {2, 3}})"""),
        md("A 6x8 image, white left and right with a black band in the middle, and the edge detector `K = [1, -1]`."),
        code("""
local X = lc.ones(6, 8)
X[{{}, {3, 6}}] = 0
K = lc.tensor{{1, -1}}
Y = corr2d(X, K)
Y"""),
        md("Learning the kernel back with a 1x2 convolution layer; the loss falls as it does in the book."),
        code("""
local conv = lc.nn.Conv2d(1, 1, {1, 2}, {bias = false})
local Xb, Yb = X:reshape(1, 1, 6, 8), Y:reshape(1, 1, 6, 7)
losses = {}
for step = 1, 20 do
  local l = (conv(Xb) - Yb) ^ 2
  conv:zero_grad()
  l:sum():backward()
  lc.no_grad(function() conv.weight:sub_(conv.weight.grad * 3e-2) end)
  losses[step] = l:sum():item()
  if step % 4 == 0 then print(string.format('epoch %d, loss %.3f', step, losses[step])) end
end
conv.weight:detach():reshape(1, 2)"""),
        code("""
lc.plot.lines{title = 'learning K', xlabel = 'step', ylabel = 'squared error', ylog = true,
              width = 480, height = 300, series = {{name = 'loss', y = losses}}}"""),
        md("A kernel that is not a matrix is an error that says what went wrong:"),
        code("""corr2d(X, lc.zeros(3))""", tags=["raises-exception"]),
    ],
    "lenet.ipynb": [
        md("""
# LeNet (d2l 6.6)

LeNet-5 with the chapter's exercise applied (ReLU instead of sigmoid, max pooling instead of
average pooling: it learns in a few hundred steps), its shape table, and a short training run
on Fashion-MNIST with the curves redrawn after every epoch. The run takes a subset so that it
takes seconds on a CPU; `subset = nil, epochs = 10` is the book's run (`scripts/lenet.lua` has
the sigmoid original)."""),
        code("""
local nn = lc.nn
net = nn.Sequential{
  nn.Reshape(-1, 1, 28, 28),
  nn.Conv2d(1, 6, 5, {padding = 2}), nn.ReLU(),
  nn.MaxPool2d(2, {stride = 2}),
  nn.Conv2d(6, 16, 5), nn.ReLU(),
  nn.MaxPool2d(2, {stride = 2}),
  nn.Flatten(),
  nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
  nn.Linear(120, 84), nn.ReLU(),
  nn.Linear(84, 10),
}
net:summary{1, 1, 28, 28}"""),
        code("""
local d2l = lc.d2l
subset, epochs, batch_size, lr = 4096, 4, 128, 0.1
lc.manual_seed(0)
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size, nil, {subset = subset})
#train_iter, #test_iter"""),
        code("""
result = lc.d2l.train_ch6(net, train_iter, test_iter, epochs, lr, 'cpu', {run = false})
result.epochs"""),
        md("The first eight test images: predicted class, then the label."),
        code("""
net:eval()
for X, y in test_iter do
  predicted = lc.no_grad(function() return net(X[{{1, 8}}]):argmax(2) end)
  labels = y[{{1, 8}}]
  break
end
predicted, labels"""),
    ],
    "leaves.ipynb": [
        md("""
# Classify leaves: the pipeline in small

The Kaggle leaves data (`$LUACNN_DATA/classify-leaves`): the split, a look at the images, the
augmentation pipeline, a small CNN and two epochs on a few hundred images, so that every step
shows. The full recipe is `scripts/resnet_leaves.lua`."""),
        code("""
local T, nn = lc.transforms, lc.nn
lc.manual_seed(0)
ds = lc.data.leaves{root = lc.data.leaves_root(), valid_ratio = 0.2, seed = 0, limit = 512}
#ds.classes, #ds.train.paths, #ds.valid.paths"""),
        md("Three training images side by side (a uint8 image tensor shows as the picture), and the first one's label:"),
        code("""
print(ds.classes[ds.train.labels[1]])
lc.cat({lc.image.read(ds.train.paths[1]), lc.image.read(ds.train.paths[2]),
        lc.image.read(ds.train.paths[3])}, 3)"""),
        code("""
local norm = T.Normalize{mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225}}
train_tf = T.Compose{T.RandomResizedCrop(64, {scale = {0.5, 1}}), T.RandomHorizontalFlip(), T.ToTensor(), norm}
valid_tf = T.Compose{T.Resize(64), T.ToTensor(), norm}
train_iter = lc.data.ImageLoader{paths = ds.train.paths, labels = ds.train.labels, transform = train_tf,
                                 batch_size = 64, shuffle = true}
valid_iter = lc.data.ImageLoader{paths = ds.valid.paths, labels = ds.valid.labels, transform = valid_tf,
                                 batch_size = 128}
#train_iter, #valid_iter"""),
        code("""
local function block(i, o)
  return nn.Sequential{nn.Conv2d(i, o, 3, {padding = 1}), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)}
end
net = nn.Sequential{block(3, 16), block(16, 32), block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                    nn.Linear(64, #ds.classes)}
net:summary{1, 3, 64, 64}"""),
        code("""
result = lc.d2l.train_ch6(net, train_iter, valid_iter, 2, 0.05, 'cpu', {run = false, init = false})
result.epochs"""),
    ],
}


def main():
    for name, cells in NOTEBOOKS.items():
        nb = {"cells": cells, "metadata": {"kernelspec": KERNELSPEC, "language_info": LANGUAGE},
              "nbformat": 4, "nbformat_minor": 5}
        for i, c in enumerate(cells):
            c["id"] = f"{os.path.splitext(name)[0]}-{i}"
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(nb, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(HERE, name))


if __name__ == "__main__":
    main()
