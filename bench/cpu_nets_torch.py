"""The chapter networks' CPU training step in PyTorch, the twin of bench/cpu_nets.lua.

    python3 bench/cpu_nets_torch.py [--nets lenet,resnet18] [--threads 2] [--steps 5] [--warmup 2]

The networks are written from the d2l chapters as examples/*_net.lua has them (LeNet with
sigmoid and average pooling, AlexNet, VGG-11 with a quarter of the channels, NiN, GoogLeNet,
BN-LeNet with max pooling and BatchNorm1d after the dense layers, ResNet-18), 1-channel
inputs and 10 classes; resnet18_leaves is ResNet-18 on RGB 64x64, batch 128, 176 classes.
Same step and same report line as the Lua script (see its header).

For the GPU table (issue 16; bench/gpu_nets.sh): --device cuda, --mode fp32 (TF32 off) | tf32 |
bf16 (autocast to bfloat16, channels-last model and input), cuDNN's benchmark mode on,
--compile MODE (torch.compile; the compile time is reported), --preset gpu (the issue's batch
sizes), --json FILE (one object per network, with the step's FLOPs counted by PyTorch's
FlopCounterMode, which the driver uses for both libraries' TFLOP/s).
"""
import argparse
import json
import time

import torch
from torch import nn
from torch.nn import functional as F


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def alexnet(cin=1, classes=10):
    return nn.Sequential(
        nn.Conv2d(cin, 96, 11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2), nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, classes))


def vgg(ratio=4, cin=1, classes=10):
    arch = [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]
    layers = []
    for num_convs, c in arch:
        c //= ratio
        for _ in range(num_convs):
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.ReLU()]
            cin = c
        layers.append(nn.MaxPool2d(2, stride=2))
    return nn.Sequential(
        *layers, nn.Flatten(), nn.Linear(cin * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, classes))


def nin(cin=1, classes=10):
    def block(i, o, k, s, p):
        return nn.Sequential(nn.Conv2d(i, o, k, stride=s, padding=p), nn.ReLU(),
                             nn.Conv2d(o, o, 1), nn.ReLU(), nn.Conv2d(o, o, 1), nn.ReLU())
    return nn.Sequential(
        block(cin, 96, 11, 4, 0), nn.MaxPool2d(3, stride=2),
        block(96, 256, 5, 1, 2), nn.MaxPool2d(3, stride=2),
        block(256, 384, 3, 1, 1), nn.MaxPool2d(3, stride=2), nn.Dropout(0.5),
        block(384, classes, 3, 1, 1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


class Inception(nn.Module):
    def __init__(self, cin, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(cin, c1, 1)
        self.p2_1 = nn.Conv2d(cin, c2[0], 1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], 3, padding=1)
        self.p3_1 = nn.Conv2d(cin, c3[0], 1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], 5, padding=2)
        self.p4_1 = nn.MaxPool2d(3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(cin, c4, 1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def googlenet(cin=1, classes=10):
    b1 = nn.Sequential(nn.Conv2d(cin, 64, 7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                       Inception(256, 128, (128, 192), (32, 96), 64),
                       nn.MaxPool2d(3, stride=2, padding=1))
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64),
                       Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64),
                       Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128),
                       nn.MaxPool2d(3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, classes))


def lenet_bn():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.MaxPool2d(2, stride=2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.MaxPool2d(2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))


class Residual(nn.Module):
    def __init__(self, cin, c, use_1x1conv=False, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.conv3 = nn.Conv2d(cin, c, 1, stride=stride) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(c)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return F.relu(y + x)


def resnet18(cin=1, classes=10):
    def stage(i, o, n, first=False):
        return [Residual(i, o, use_1x1conv=True, stride=2) if k == 0 and not first else Residual(o, o)
                for k in range(n)]
    b1 = nn.Sequential(nn.Conv2d(cin, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(3, stride=2, padding=1))
    return nn.Sequential(b1, nn.Sequential(*stage(64, 64, 2, True)), nn.Sequential(*stage(64, 128, 2)),
                         nn.Sequential(*stage(128, 256, 2)), nn.Sequential(*stage(256, 512, 2)),
                         nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, classes))


# name -> (constructor, input size, batch (None: --batch-size), channels, classes)
NETS = {
    'lenet': (lenet, 28, None, 1, 10),
    'alexnet': (alexnet, 224, None, 1, 10),
    'vgg': (vgg, 224, None, 1, 10),
    'nin': (nin, 224, None, 1, 10),
    'googlenet': (googlenet, 96, None, 1, 10),
    'lenet_bn': (lenet_bn, 28, None, 1, 10),
    'resnet18': (resnet18, 96, None, 1, 10),
    'resnet18_leaves': (lambda: resnet18(3, 176), 64, 128, 3, 176),
}
ORDER = ['lenet', 'alexnet', 'vgg', 'nin', 'googlenet', 'lenet_bn', 'resnet18', 'resnet18_leaves']
# name -> (batch, input size): issue 16's GPU table
GPU_PRESET = {'lenet': (256, 28), 'lenet_bn': (256, 28), 'alexnet': (128, 224), 'vgg': (128, 224),
              'nin': (128, 224), 'googlenet': (128, 96), 'resnet18': (256, 96),
              'resnet18_leaves': (64, 224)}


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def step_flops(net, loss_fn, X, y):
    """FLOPs of one forward + backward, as PyTorch's FlopCounterMode counts them (None if absent)."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return None
    counter = FlopCounterMode(display=False)
    with counter:
        loss_fn(net(X), y).backward()
    net.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def measure(name, args):
    make, size, batch, cin, classes = NETS[name]
    batch = batch or 32
    if args.preset == 'gpu':
        batch, size = GPU_PRESET[name]
    if args.batch_size > 0:
        batch = args.batch_size
    dev = args.device
    torch.manual_seed(0)
    net = make().to(dev)
    loss_fn = nn.CrossEntropyLoss()
    X = torch.randn(batch, cin, size, size, device=dev)
    y = torch.randint(0, classes, (batch,), device=dev)
    bf16 = args.mode == 'bf16'
    if bf16:
        net = net.to(memory_format=torch.channels_last)
        X = X.contiguous(memory_format=torch.channels_last)
    flops = step_flops(net, loss_fn, X, y) if args.json else None
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    model = net
    compile_s = None
    if args.compile:
        t0 = time.perf_counter()
        model = torch.compile(net, mode=args.compile)
    device_type = 'cuda' if dev.startswith('cuda') else 'cpu'

    def step():
        opt.zero_grad()
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        return loss.item()

    if args.compile:
        step()
        sync(dev)
        compile_s = time.perf_counter() - t0

    for _ in range(args.warmup):
        step()
    times = []
    start = time.perf_counter()
    while len(times) < args.steps or time.perf_counter() - start < args.min_time:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    best, median = times[0], times[(len(times) - 1) // 2]
    print('%-16s batch %4d size %4d  ms best %9.1f median %9.1f  ex/s best %9.1f median %9.1f  steps %d'
          % (name, batch, size, best * 1e3, median * 1e3, batch / best, batch / median, len(times)),
          flush=True)
    if args.json:
        with open(args.json, 'a') as f:
            f.write(json.dumps({'library': 'pytorch', 'net': name, 'device': dev, 'mode': args.mode,
                                'compile': args.compile or None, 'compile_seconds': compile_s,
                                'batch': batch, 'size': size, 'ms_best': best * 1e3,
                                'ms_median': median * 1e3, 'examples_per_sec': batch / best,
                                'examples_per_sec_median': batch / median, 'steps': len(times),
                                'flops_per_step': flops}) + '\n')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--nets', default=','.join(ORDER))
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--batch-size', type=int, default=0, help="0: the preset's")
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--min-time', type=float, default=3.0)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--lr', type=float, default=0.01)
    p.add_argument('--device', default='cpu')
    p.add_argument('--mode', choices=['fp32', 'tf32', 'bf16'], default='fp32')
    p.add_argument('--preset', choices=['cpu', 'gpu'], default='cpu')
    p.add_argument('--compile', default='', help='a torch.compile mode, e.g. max-autotune-no-cudagraphs')
    p.add_argument('--json', default='')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.device.startswith('cuda'):
        torch.backends.cudnn.benchmark = True
        tf32 = args.mode == 'tf32'
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    for name in args.nets.split(','):
        if name.strip():
            measure(name.strip(), args)


if __name__ == '__main__':
    main()
