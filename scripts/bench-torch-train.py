#!/usr/bin/python3
"""Peer measurement for `densenet4j bench --train`: one training step of torchvision's DenseNet
(with the CIFAR 3x3 stem: conv0 3x3/1, no norm0/pool0, as DenseNet-BC) on CPU, fp32, NCHW,
SGD (momentum 0.9, Nesterov, weight decay 1e-4), in Debian's python3-torch.
Prints one line per mode: ms_per_step and the process's peak RSS growth over the step.
Usage: bench-torch-train.py [--depth 100] [--growth-rate 12] [--batch 64] [--image 32]
                            [--threads 2] [--steps 3] [--mode naive|efficient|both]"""
import argparse, resource, time
import torch, torch.nn as nn, torch.nn.functional as F
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--depth", type=int, default=100)
p.add_argument("--growth-rate", type=int, default=12)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--image", type=int, default=32)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--mode", default="both")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

def model(efficient):
    n = (a.depth - 4) // 6
    k = a.growth_rate
    m = torchvision.models.DenseNet(growth_rate=k, block_config=(n, n, n), num_init_features=2 * k, bn_size=4,
                                    num_classes=10, memory_efficient=efficient)
    m.features.conv0 = nn.Conv2d(3, 2 * k, 3, 1, 1, bias=False)
    del m.features.norm0, m.features.relu0, m.features.pool0
    return m

modes = ["naive", "efficient"] if a.mode == "both" else [a.mode]
for mode in modes:
    m = model(mode == "efficient").train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.image, a.image)
    y = torch.arange(a.batch) % 10
    before = rss_mb()
    times = []
    for s in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
        if s > 0:
            times.append(time.perf_counter() - t0)
    print(f"peer=torch-{torch.__version__} train=true memory={mode} depth={a.depth} batch={a.batch} image={a.image} "
          f"threads={a.threads} ms_per_step={1000 * min(times):.1f} peak_rss_growth_mb={rss_mb() - before:.0f} peak_rss_mb={rss_mb():.0f}",
          flush=True)
