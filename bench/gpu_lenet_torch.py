"""PyTorch eager twin of bench/gpu_lenet.lua: LeNet and BN-LeNet, batch 256 of synthetic
28x28 data on the GPU, full training step, cudnn.benchmark on. Writes {"lenet": ex/s,
"bn_lenet": ex/s} as JSON to the path given (default torch_lenet.json)."""
import json
import sys
import time

import torch
from torch import nn


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def bn_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))


def measure(make, steps=300, warmup=20, batch=256):
    torch.manual_seed(0)
    net = make().cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.9)
    loss_fn = nn.CrossEntropyLoss()
    X = torch.randn(batch, 1, 28, 28, device='cuda')
    y = torch.randint(0, 10, (batch,), device='cuda')
    def step():
        opt.zero_grad()
        loss = loss_fn(net(X), y)
        loss.backward()
        opt.step()
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


if __name__ == '__main__':
    torch.backends.cudnn.benchmark = True
    out = {'lenet': measure(lenet), 'bn_lenet': measure(bn_lenet),
           'torch': torch.__version__, 'device': torch.cuda.get_device_name(0)}
    for k in ('lenet', 'bn_lenet'):
        print(f'pytorch {k:9s} eager {out[k]:10.1f} examples/sec')
    with open(sys.argv[1] if len(sys.argv) > 1 else 'torch_lenet.json', 'w') as f:
        json.dump(out, f)
