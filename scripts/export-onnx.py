#!/usr/bin/python3
"""Export a torchvision DenseNet to ONNX (opset 13) for the peer benchmark.

Runs on Debian's system python (python3-torch 1.13, python3-torchvision 0.14, from apt),
not on a pyenv/venv python earlier on PATH: hence the absolute shebang.

    scripts/export-onnx.py OUT.onnx [--arch densenet121] [--weights FILE.pth] [--image 224]

Without --weights the model keeps torchvision's own random initialisation under
torch.manual_seed(0) (throughput does not depend on the values). The graph has one input
'input' (N,3,H,W) float32 and one output 'logits' (N,classes), with a dynamic batch axis.
"""
import argparse
import os
import sys
import tempfile

ARCHS = ("densenet121", "densenet161", "densenet169", "densenet201")


def build_model(arch, weights=None):
    """torchvision's `arch` in eval mode: its random initialisation under torch.manual_seed(0), or
    the state_dict in `weights` (a .pth; legacy DenseNet key names fixed as torchvision's loader does)."""
    import torch
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()  # random init (no download)
    if weights:
        sd = torch.load(weights, map_location="cpu")
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        # torchvision's own DenseNet loader fixes the legacy key names
        # ('norm.1' -> 'norm1'); do the same so old checkpoints load too.
        import re
        pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
        fixed = {}
        for k, v in sd.items():
            m = pattern.match(k)
            fixed[m.group(1) + m.group(2) if m else k] = v
        model.load_state_dict(fixed, strict=True)
    model.eval()
    return model


def write_atomically(out, save):
    """Calls save(tmp) on a temporary file beside `out`, then renames it to `out`, so that an
    interrupted export never leaves a truncated model where scripts/bench-peers would take it as present."""
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=out_dir)
    os.close(fd)
    try:
        save(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("out", metavar="OUT_PATH", help="ONNX file to write")
    ap.add_argument("--arch", default="densenet121", choices=ARCHS)
    ap.add_argument("--weights", metavar="FILE.pth", help="torchvision state_dict to load first")
    ap.add_argument("--image", type=int, default=224, help="side of the example input used for tracing (default 224)")
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args(argv)

    try:
        import torch
        import torchvision
    except ImportError as e:
        print(f"export-onnx: {e}; install Debian's python3-torch python3-torchvision "
              f"(scripts/setup, or apt-get install python3-torch python3-torchvision)", file=sys.stderr)
        return 2

    model = build_model(args.arch, args.weights)
    x = torch.randn(2, 3, args.image, args.image)

    def save(tmp):
        with torch.no_grad():
            torch.onnx.export(
                model, x, tmp,
                opset_version=args.opset,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                do_constant_folding=True,
            )

    write_atomically(args.out, save)
    print(f"export-onnx: wrote {args.out} ({args.arch}, opset {args.opset}, "
          f"{'weights ' + args.weights if args.weights else 'random weights, seed 0'}, dynamic batch)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
