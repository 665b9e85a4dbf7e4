#!/usr/bin/env python3
"""GPU benchmark, PyTorch side of bench/gpu_lenet.lua: the same LeNet and BN-LeNet training steps
(forward, backward, SGD update) on a batch of 256 synthetic 28x28 images kept on the GPU, in
eager mode with cudnn.benchmark on, timed the same way (20 warm-up steps, then rounds of 50
steps with one synchronisation each until --seconds have passed).

Usage: python3 bench/gpu_lenet_torch.py [--seconds 3] [--batch-size 256] [--device cuda]
Prints "RESULT <network> pytorch <examples/s> ex/s" per network.
"""
import argparse
import time

import torch
from torch import nn


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def bn_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))


def bench(name, net, lr, args, device):
    net = net.to(device).train()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(args.batch_size, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (args.batch_size,), device=device)

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        loss = step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    first = loss.item()
    t0, steps = time.perf_counter(), 0
    while True:
        for _ in range(50):
            loss = step()
        steps += 50
        sync()
        if time.perf_counter() - t0 >= args.seconds:
            break
    dt = time.perf_counter() - t0
    print(f"{name} on {device}: {steps} steps in {dt:.2f} s, loss {first:.4f} -> {loss.item():.4f}")
    print(f"RESULT {name} pytorch {steps * args.batch_size / dt:.0f} ex/s")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}")
    bench("lenet", lenet(), 0.9, args, device)
    bench("bn_lenet", bn_lenet(), 1.0, args, device)


if __name__ == "__main__":
    main()
