#!/usr/bin/python3
"""Make ONNX Runtime's int8 (QDQ) model of a torchvision DenseNet, for the peer benchmark.

Runs on Debian's system python (python3-torch, python3-torchvision, python3-onnx from apt);
Debian has no onnxruntime for python, so instead of onnxruntime.quantization.quantize_static
this writes the same QDQ form itself: every Conv gets QuantizeLinear/DequantizeLinear on its
input (uint8, per tensor), on its weights (int8, per output channel, symmetric) and on its
output (uint8, per tensor), which ONNX Runtime's QDQ transformer fuses into QLinearConv. The
ranges are the min/max over calibration images observed with forward hooks in PyTorch.

    scripts/export-onnx-int8.py FP32.onnx OUT.onnx [--arch densenet121] [--weights FILE.pth] [--image 224]

FP32.onnx must come from scripts/export-onnx.py with the same --arch/--weights (its Conv weight
initialisers carry the PyTorch parameter names). Without --weights the model is torchvision's
random initialisation under torch.manual_seed(0), as export-onnx.py makes it, and calibration
uses random images (throughput does not depend on the values).
"""
import argparse
import importlib.util
import os
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("fp32", metavar="FP32.onnx")
    ap.add_argument("out", metavar="OUT.onnx")
    ap.add_argument("--arch", default="densenet121")
    ap.add_argument("--weights", metavar="FILE.pth")
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--calibration-images", type=int, default=8)
    args = ap.parse_args(argv)
    try:
        import numpy as np
        import onnx
        import torch
        import torchvision
        from onnx import helper, numpy_helper
    except ImportError as e:
        print(f"export-onnx-int8: {e}; install Debian's python3-torch python3-torchvision python3-onnx "
              f"(scripts/setup --peers)", file=sys.stderr)
        return 2

    # the same model export-onnx.py exported, built by its own code
    spec = importlib.util.spec_from_file_location("export_onnx", os.path.join(os.path.dirname(os.path.abspath(__file__)), "export-onnx.py"))
    export_onnx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export_onnx)
    model = export_onnx.build_model(args.arch, args.weights)

    # Each Conv's input range and output range, in execution order (the ONNX graph lists its
    # Conv nodes in the same order). The exporter folds a BatchNorm that follows a conv (conv0 and
    # norm0, each dense layer's conv1 and norm2) into that Conv: its output range is the BN's.
    events = []  # [kind, input ptr, output ptr, in_lo, in_hi, out_lo, out_hi]

    def hook(kind):
        def f(mod, inp, out):
            x = inp[0]
            events.append([kind, x.data_ptr(), out.data_ptr(), float(x.min()), float(x.max()), float(out.min()), float(out.max())])
        return f

    for mod in model.modules():
        if isinstance(mod, torch.nn.Conv2d):
            mod.register_forward_hook(hook("conv"))
        elif isinstance(mod, torch.nn.BatchNorm2d):
            mod.register_forward_hook(hook("bn"))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        model(torch.randn(args.calibration_images, 3, args.image, args.image, generator=g))
    conv_ranges = []
    for i, e in enumerate(events):
        if e[0] != "conv":
            continue
        lo, hi, olo, ohi = e[3], e[4], e[5], e[6]
        if i + 1 < len(events) and events[i + 1][0] == "bn" and events[i + 1][1] == e[2]:
            olo, ohi = events[i + 1][5], events[i + 1][6]
        conv_ranges.append((lo, hi, olo, ohi))

    m = onnx.load(args.fp32)
    graph = m.graph
    inits = {t.name: t for t in graph.initializer}
    for n in graph.node:  # folded weights and biases may also come as Constant nodes
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            inits.setdefault(n.output[0], n.attribute[0].t)
    for n in graph.node:  # and as Identity of an initialiser (the exporter shares equal tensors)
        if n.op_type == "Identity" and n.input[0] in inits:
            inits.setdefault(n.output[0], inits[n.input[0]])
    new_nodes, new_inits = [], []

    def qparams(lo, hi):
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        scale = (hi - lo) / 255.0 if hi > lo else 1.0
        zp = int(round(-lo / scale))
        return np.float32(scale), np.uint8(min(255, max(0, zp)))

    def add_qdq(tensor, lo, hi, tag):
        scale, zp = qparams(lo, hi)
        s, z = tag + "_scale", tag + "_zp"
        new_inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), s))
        new_inits.append(numpy_helper.from_array(np.array(zp, dtype=np.uint8), z))
        q, dq = tag + "_q", tag + "_dq"
        new_nodes.append(helper.make_node("QuantizeLinear", [tensor, s, z], [q], name=tag + "_Q"))
        new_nodes.append(helper.make_node("DequantizeLinear", [q, s, z], [dq], name=tag + "_DQ"))
        return dq

    done = 0
    rename = {}  # conv output -> the DQ output downstream nodes read
    convs = [n for n in graph.node if n.op_type == "Conv"]
    if len(convs) != len(conv_ranges):
        print(f"export-onnx-int8: {len(convs)} Conv nodes in {args.fp32} but {len(conv_ranges)} convs ran in PyTorch", file=sys.stderr)
        return 2
    by_node = {id(n): r for n, r in zip(convs, conv_ranges)}
    for node in graph.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        if node.op_type != "Conv":
            new_nodes.append(node)
            continue
        wname = node.input[1]
        lo, hi, olo, ohi = by_node[id(node)]
        tag = "q%03d" % done
        x_dq = add_qdq(node.input[0], lo, hi, tag + "_in")
        xs, _ = qparams(lo, hi)
        w = numpy_helper.to_array(inits[wname]).astype(np.float32)
        amax = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
        ws = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        wq = np.clip(np.round(w / ws.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
        new_inits.append(numpy_helper.from_array(wq, tag + "_wq"))
        new_inits.append(numpy_helper.from_array(ws, tag + "_wscale"))
        new_inits.append(numpy_helper.from_array(np.zeros(w.shape[0], dtype=np.int8), tag + "_wzp"))
        new_nodes.append(helper.make_node("DequantizeLinear", [tag + "_wq", tag + "_wscale", tag + "_wzp"], [tag + "_wdq"],
                                          name=tag + "_wDQ", axis=0))
        node.input[0] = x_dq
        node.input[1] = tag + "_wdq"
        if len(node.input) > 2 and node.input[2]:  # bias: int32 at scale x_scale * w_scale, as quantize_static does
            b = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
            bs = (xs * ws).astype(np.float32)
            bq = np.round(b / bs).astype(np.int32)
            new_inits.append(numpy_helper.from_array(bq, tag + "_bq"))
            new_inits.append(numpy_helper.from_array(bs, tag + "_bscale"))
            new_inits.append(numpy_helper.from_array(np.zeros(w.shape[0], dtype=np.int32), tag + "_bzp"))
            new_nodes.append(helper.make_node("DequantizeLinear", [tag + "_bq", tag + "_bscale", tag + "_bzp"], [tag + "_bdq"],
                                              name=tag + "_bDQ", axis=0))
            node.input[2] = tag + "_bdq"
        out = node.output[0]
        node.output[0] = out + "_fp32"
        new_nodes.append(node)
        rename[out] = add_qdq(out + "_fp32", olo, ohi, tag + "_out")
        done += 1
    for o in graph.output:
        if o.name in rename:
            print(f"export-onnx-int8: a Conv output is a graph output ({o.name}); not supported", file=sys.stderr)
            return 2
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(new_inits)
    live = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in live]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    onnx.checker.check_model(m)
    export_onnx.write_atomically(args.out, lambda tmp: onnx.save(m, tmp))
    print(f"export-onnx-int8: wrote {args.out} ({done} Convs in QDQ: uint8 activations per tensor, int8 weights per channel; "
          f"ranges from {args.calibration_images} random images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
