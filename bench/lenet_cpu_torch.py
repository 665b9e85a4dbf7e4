#!/usr/bin/env python3
"""PyTorch side of bench/lenet_cpu.lua: the same LeNet training step and the same conv layers,
timed the same way, written to a JSON file that the Lua benchmark reads and compares with.

Usage: python3 bench/lenet_cpu_torch.py [--threads 2] [--batch-size 256] [--min-time 2]
                                        [--out runs/bench/lenet_cpu_torch.json]

What is timed (as in lenet_cpu.lua):
  train step   zero_grad, forward, cross-entropy, backward, SGD step of the chapter's LeNet
               (sigmoid, average pooling, Xavier-uniform weights) on a fixed batch of random
               images in [0, 1] and random labels (the data loader is not timed)
  conv1/conv2  LeNet's two convolutions at batch 256: forward, and backward through autograd
               (retain_graph, gradients cleared between calls) for what LeNet needs: conv1 the
               weight and bias gradients only (its input is the data), conv2 also the input's
FLOPs are 2 * n * c_out * h_out * w_out * c_in * kh * kw per product (forward; the weight
gradient and the input gradient each as many). Each figure is the per-call time of the fastest
of repeated rounds (each round >= 0.1 s), which a busy shared machine disturbs least.
"""
import argparse
import json
import os
import time

import torch
from torch import nn


def lenet():
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))
    for m in net:
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
    return net


def best_time(fn, min_time):
    """Per-call seconds: the fastest of rounds of calls (each round >= 0.1 s)."""
    fn()
    fn()
    best, start = float("inf"), time.perf_counter()
    while True:
        reps, t0 = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            if time.perf_counter() - t0 >= 0.1:
                break
        best = min(best, (time.perf_counter() - t0) / reps)
        if time.perf_counter() - start >= min_time:
            return best


def conv_flops(n, cin, cout, hout, wout, k):
    return 2.0 * n * cout * hout * wout * cin * k * k


def bench_conv(name, n, cin, hw, cout, k, pad, input_grad, min_time):
    x = torch.rand(n, cin, hw, hw, requires_grad=input_grad)
    conv = nn.Conv2d(cin, cout, k, padding=pad)
    hout = hw + 2 * pad - k + 1
    flops = conv_flops(n, cin, cout, hout, hout, k)

    def forward():
        with torch.no_grad():
            conv(x)

    y = conv(x)
    g = torch.rand_like(y)

    def backward():
        conv.weight.grad = None
        conv.bias.grad = None
        x.grad = None
        y.backward(g, retain_graph=True)

    tf = best_time(forward, min_time)
    tb = best_time(backward, min_time)
    bflops = flops * (2 if input_grad else 1)
    return {
        "layer": name, "shape": [n, cin, hw, hw], "out_channels": cout, "kernel": k,
        "padding": pad, "input_grad": input_grad,
        "forward_ms": tf * 1e3, "backward_ms": tb * 1e3,
        "forward_gflops": flops / tf / 1e9, "backward_gflops": bflops / tb / 1e9,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds per measurement")
    ap.add_argument("--out", default="runs/bench/lenet_cpu_torch.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    net = lenet()
    loss = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    X = torch.rand(a.batch_size, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch_size,))

    def step():
        opt.zero_grad()
        l = loss(net(X), y)
        l.backward()
        opt.step()

    t = best_time(step, a.min_time)
    result = {
        "library": "torch " + torch.__version__, "threads": torch.get_num_threads(),
        "batch_size": a.batch_size, "train_step_ms": t * 1e3,
        "train_examples_per_sec": a.batch_size / t,
        "conv": [
            bench_conv("conv1", a.batch_size, 1, 28, 6, 5, 2, False, a.min_time),
            bench_conv("conv2", a.batch_size, 6, 14, 16, 5, 0, True, a.min_time),
        ],
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(a.out + ".tmp", a.out)
    print("torch %s, %d threads: LeNet train step %.2f ms = %.1f examples/sec (batch %d)"
          % (torch.__version__, result["threads"], t * 1e3, a.batch_size / t, a.batch_size))
    for c in result["conv"]:
        print("  %s forward %.2f ms %.1f GFLOP/s, backward %.2f ms %.1f GFLOP/s"
              % (c["layer"], c["forward_ms"], c["forward_gflops"], c["backward_ms"],
                 c["backward_gflops"]))
    print("wrote " + a.out)


if __name__ == "__main__":
    main()
