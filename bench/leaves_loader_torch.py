#!/usr/bin/env python3
"""PyTorch side of bench/leaves_loader.lua: JPEG decoding and the training-time augmentation
of the Kaggle "Classify Leaves" images through torch.utils.data.DataLoader + torchvision, the
way d2l's chapter (and most PyTorch code) feeds a ResNet. Prints one JSON object per line.

Usage: python3 bench/leaves_loader_torch.py [--root DIR] [--n 2000] [--repeats 3]
                                            [--sizes 224,64] [--workers 0,1,2] [--batch 64]

What is timed (the same in leaves_loader.lua):
  decode   the first N images of train.csv, their bytes already in memory, decoded to RGB on
           one core: PIL (Image.open(BytesIO).convert('RGB')) and torchvision.io.decode_jpeg.
  loader   one epoch over the first N images through a DataLoader (batch 64, shuffle, workers
           0/1/2, a fresh iterator each epoch so worker start-up is included as a user sees
           it): each sample opened with PIL from its file, then RandomResizedCrop(size) +
           RandomHorizontalFlip + ToTensor + Normalize(ImageNet mean/std); output 224 and 64.
  cached   the same with the decoded images kept in memory (PIL images loaded once, before
           timing): the counterpart of lc.data.ImageLoader{cache = true} after its first epoch.
Each figure is the median of --repeats runs (images per second). torch.set_num_threads(1) in
the main process too (DataLoader workers set it themselves), so 0 workers is one core.
"""
import argparse
import csv
import io
import json
import os
import platform
import statistics
import time

import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T
from torchvision.io import decode_jpeg, ImageReadMode

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def default_root():
    for d in (os.environ.get("LUACNN_DATA"), os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"),
              "/work/shared/data"):
        if d and os.path.exists(os.path.join(d, "classify-leaves", "train.csv")):
            return os.path.join(d, "classify-leaves")
    return None


def first_paths(root, n):
    with open(os.path.join(root, "train.csv"), newline="") as f:
        rows = list(csv.reader(f))[1:n + 1]
    return [os.path.join(root, r[0]) for r in rows], [r[1] for r in rows]


class Leaves(Dataset):
    def __init__(self, paths, labels, tf, cache=False):
        classes = sorted(set(labels))
        self.paths, self.tf = paths, tf
        self.y = [classes.index(l) for l in labels]
        self.images = None
        if cache:
            self.images = []
            for p in paths:
                with Image.open(p) as im:
                    self.images.append(im.convert("RGB"))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        if self.images is not None:
            return self.tf(self.images[i]), self.y[i]
        with Image.open(self.paths[i]) as im:
            return self.tf(im.convert("RGB")), self.y[i]


def median_rate(fn, n, repeats):
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates), rates


def emit(**kw):
    print(json.dumps(kw), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=default_root())
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="224,64", help="output sizes, or none (decoding only)")
    ap.add_argument("--workers", default="0,1,2")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--cache", default="off", choices=["off", "on", "both"],
                    help="decoded images kept in memory: off, on, or both in turn")
    ap.add_argument("--skip-decode", action="store_true")
    a = ap.parse_args()
    if not a.root:
        raise SystemExit("leaves_loader_torch.py: no classify-leaves folder (set --root or $LUACNN_DATA)")
    torch.set_num_threads(1)
    paths, labels = first_paths(a.root, a.n)
    n = len(paths)
    emit(impl="pytorch", bench="info", torch=torch.__version__, torchvision=torchvision.__version__,
         pillow=Image.__version__, python=platform.python_version(), images=n, threads=torch.get_num_threads())

    if not a.skip_decode:
        blobs = []
        for p in paths:
            with open(p, "rb") as f:
                blobs.append(f.read())
        tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]

        def pil():
            for b in blobs:
                Image.open(io.BytesIO(b)).convert("RGB").load()

        def tv():
            for t in tensors:
                decode_jpeg(t, mode=ImageReadMode.RGB)

        for name, fn in (("PIL", pil), ("decode_jpeg", tv)):
            med, runs = median_rate(fn, n, a.repeats)
            emit(impl="pytorch", bench="decode", method=name, workers=1, images=n,
                 img_per_s=round(med, 1), runs=[round(r, 1) for r in runs])

    caches = {"off": [False], "on": [True], "both": [False, True]}[a.cache]
    sizes = [] if a.sizes == "none" else [int(s) for s in a.sizes.split(",")]
    for cache in caches:
        for size in sizes:
            tf = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(),
                            T.Normalize(MEAN, STD)])
            ds = Leaves(paths, labels, tf, cache=cache)
            for w in [int(s) for s in a.workers.split(",")]:
                loader = DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=w)

                def epoch():
                    seen = 0
                    for x, y in loader:
                        seen += x.shape[0]
                    assert seen == n

                med, runs = median_rate(epoch, n, a.repeats)
                emit(impl="pytorch", bench="loader", size=size, workers=w, batch=a.batch, cache=cache,
                     images=n, img_per_s=round(med, 1), runs=[round(r, 1) for r in runs])


if __name__ == "__main__":
    main()
