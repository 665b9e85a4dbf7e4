#!/usr/bin/env python3
"""PyTorch side of bench/lenet_e2e.sh: d2l 6.6's LeNet trained end to end on Fashion-MNIST as
d2l's train_ch6 does it (shuffled batches of 256, SGD lr 0.5, cross-entropy, a
test-accuracy pass after each epoch), with the images read once into memory (a DataLoader over
a TensorDataset, no workers: the fastest way to feed it on 2 cores). Prints one line per epoch
and the overall training examples/sec (evaluation not counted, as in d2l's figure).

Usage: python3 bench/lenet_e2e_torch.py --data DIR [--epochs 3] [--threads 2] [--batch-size 256]
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lenet_cpu_torch import lenet


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, split):
    x = read_idx(os.path.join(data, f'{split}-images-idx3-ubyte.gz'))
    y = read_idx(os.path.join(data, f'{split}-labels-idx1-ubyte.gz'))
    return TensorDataset(torch.from_numpy(x.copy()).float().div_(255).unsqueeze(1),
                         torch.from_numpy(y.astype(np.int64)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch-size', type=int, default=256)
    ap.add_argument('--lr', type=float, default=0.5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    train = DataLoader(load(a.data, 'train'), batch_size=a.batch_size, shuffle=True)
    test = DataLoader(load(a.data, 't10k'), batch_size=a.batch_size)
    net = lenet()
    opt = torch.optim.SGD(net.parameters(), lr=a.lr)
    loss = nn.CrossEntropyLoss()
    examples, seconds = 0, 0.0
    for epoch in range(1, a.epochs + 1):
        net.train()
        t0 = time.perf_counter()
        n = 0
        for X, y in train:
            opt.zero_grad()
            l = loss(net(X), y)
            l.backward()
            opt.step()
            n += X.shape[0]
        dt = time.perf_counter() - t0
        net.eval()
        correct = total = 0
        with torch.no_grad():
            for X, y in test:
                correct += (net(X).argmax(1) == y).sum().item()
                total += X.shape[0]
        examples, seconds = examples + n, seconds + dt
        print(f'epoch {epoch}/{a.epochs}  test acc {correct / total:.3f}  ({n / dt:.1f} examples/sec, {dt:.1f} s)')
    print(f'{examples / seconds:.1f} examples/sec on cpu')


if __name__ == '__main__':
    main()
