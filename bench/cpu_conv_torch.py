#!/usr/bin/env python3
"""PyTorch side of bench/cpu_conv_bench.c: the same convolutions, timed the same way.

Usage: python3 bench/cpu_conv_torch.py [--threads 2] [--dtype float32] [--min-time S] [--cpu-time]
Prints one line per (layer, pass) in the format of the C benchmark, so the two outputs can be
put side by side; times are per call, from the fastest of repeated rounds, as there. Each pass is timed on its own, as the C kernels are: forward is
F.conv2d; backward_data and backward_weight are torch.ops.aten.convolution_backward with only
the corresponding output mask set, which is what autograd runs for a conv layer.
"""
import argparse
import time

import torch
import torch.nn.functional as F

# name, n, c_in, h, w, c_out, k, stride, pad
LAYERS = [
    ("lenet.conv1", 256, 1, 28, 28, 6, 5, 1, 2),
    ("lenet.conv2", 256, 6, 14, 14, 16, 5, 1, 0),
    ("resnet.3x3", 8, 64, 56, 56, 64, 3, 1, 1),
]


def out_size(i, k, s, p):
    return (i + 2 * p - k) // s + 1


def timeit(fn, min_time, clock):
    """Per-call seconds from the fastest of repeated rounds (each >= 50 ms), as the C bench."""
    fn()  # warm-up: allocations, oneDNN primitive creation
    fn()
    best, start = float("inf"), clock()
    while True:
        reps, t0 = 0, clock()
        while True:
            fn()
            reps += 1
            el = clock() - t0
            if el >= 0.05 and reps >= 3:
                break
        best = min(best, el / reps)
        if clock() - start >= min_time:
            return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--cpu-time", action="store_true",
                    help="process CPU time instead of wall time (fair with --threads 1 on a "
                         "busy machine)")
    args = ap.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dt = getattr(torch, args.dtype)
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, {args.dtype}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}, {'cpu' if args.cpu_time else 'wall'} time")
    print(f"{'layer':<13} {'pass':<16} {'ms':>9} {'GFLOP/s':>9}")
    with torch.no_grad():
        for name, n, ci, h, w, co, k, s, p in LAYERS:
            x = torch.randn(n, ci, h, w, dtype=dt)
            wt = torch.randn(co, ci, k, k, dtype=dt) * 0.1
            b = torch.randn(co, dtype=dt)
            oh, ow = out_size(h, k, s, p), out_size(w, k, s, p)
            dy = torch.randn(n, co, oh, ow, dtype=dt)
            flops = 2.0 * n * co * oh * ow * ci * k * k
            conv_bwd = torch.ops.aten.convolution_backward
            passes = [
                ("forward", lambda: F.conv2d(x, wt, b, stride=s, padding=p)),
                ("backward_data", lambda: conv_bwd(dy, x, wt, [co], [s, s], [p, p], [1, 1],
                                                   False, [0, 0], 1, [True, False, False])),
                ("backward_weight", lambda: conv_bwd(dy, x, wt, [co], [s, s], [p, p], [1, 1],
                                                     False, [0, 0], 1, [False, True, True])),
            ]
            for pname, fn in passes:
                sec = timeit(fn, args.min_time, clock)
                print(f"{name:<13} {pname:<16} {sec * 1e3:9.3f} {flops / sec / 1e9:9.1f}")


if __name__ == "__main__":
    main()
