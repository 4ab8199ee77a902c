#!/usr/bin/python3
"""Two-step training reference for the ImageNet stem (conv0-norm0-relu-maxpool backward) and
odd shapes, which the public golden training case (CIFAR stem) does not cover. Uses the same
reference network as ../shared/golden/make_golden.py, Debian's torch 1.13, NCHW. The steps run
in float64 and are stored as float32, so the reference carries no fp32 rounding of its own
(an fp32 run of the same steps differs from it by up to 7e-5 in norm0.weight's gradient).
Usage: make_reference.py OUT_DIR"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../../../../../shared/golden"))
sys.path.insert(0, "../shared/golden")
import torch
from make_golden import build, randomize, train_reference, save_safetensors

out = sys.argv[1]
cfg = dict(growth_rate=5, block_config=[2, 3, 1, 2], num_init_features=7, bn_size=3,
           compression=0.7, stem="imagenet", in_channels=2, num_classes=6)
m = build(cfg); randomize(m, 77)
init = {k: v.clone() for k, v in m.state_dict().items()}
g = torch.Generator().manual_seed(78)
x = torch.randn(4, 2, 45, 67, generator=g)
y = torch.tensor([0, 5, 2, 3])
extra = train_reference(m.double(), x.double(), y)
extra = {k: (v.float() if v.is_floating_point() else v) for k, v in extra.items()}
save_safetensors(f"{out}/odd-k5-train-init.safetensors", init)
io = {"input": x}
io.update(extra)
save_safetensors(f"{out}/odd-k5-train-io.safetensors", io)
print("wrote", out)
