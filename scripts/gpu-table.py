#!/usr/bin/env python3
"""Prints the GPU check's table from the JSON lines that scripts/gpu-check collected.

Usage: gpu-table.py RESULTS_DIR   (reads ours.jsonl, torch.jsonl, deep.jsonl, checks.txt there)

Inference rows: DenseNet-121 224x224 images/s. 'ours e2e' is what a Java caller sees (host
float arrays in and out, copies included, one batch at a time); 'double-buffered' submits batch
i+1 before collecting batch i, so its upload overlaps batch i's compute (from float NCHW, and from
uint8 NHWC: issue 10's target is uint8 e2e >= 0.8x resident at fp16 batch 256); 'ours resident' is the network alone with its input
already on the GPU (CUDA Graph replay), which is what PyTorch's figure measures (CUDA events
around model(x) on a GPU tensor). Ratios are resident / PyTorch eager.
"""
import json
import os
import sys


def load(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def fmt(v, d=1):
    return "-" if v is None else f"{v:.{d}f}"


def main():
    r = sys.argv[1] if len(sys.argv) > 1 else "gpu-payload/results"
    ours = load(os.path.join(r, "ours.jsonl"))
    torch = load(os.path.join(r, "torch.jsonl"))
    env = next((t for t in torch if t.get("kind") == "env"), {})
    if env:
        print(f"peer: {env.get('peer')} on {env.get('gpu', env.get('device'))}, cuDNN {env.get('cudnn')}")
    plain = [o for o in ours if o.get("kind") == "infer" and not o.get("options")]
    eager = {(t["dtype"], t["batch"]): t for t in torch if t.get("kind") == "infer" and t.get("mode") == "eager"}
    if plain:
        print()
        print("| dtype | batch | ours e2e img/s | e2e double-buffered (float / uint8) | uint8 e2e / resident | ours resident img/s | PyTorch eager img/s | ratio | ours peak MiB | PyTorch peak MiB |")
        print("|---|---|---|---|---|---|---|---|---|---|")
    for o in plain:
        t = eager.get((o["dtype"], o["batch"]), {})
        ti = t.get("img_per_s")
        ratio = o["resident_img_per_s"] / ti if ti else None
        tp = t.get("peak_mem_bytes")
        pf, pu = o.get("pipelined_img_per_s"), o.get("u8_pipelined_img_per_s")
        share = pu / o["resident_img_per_s"] if pu else None
        print(f"| {o['dtype']} | {o['batch']} | {fmt(o['img_per_s'])} | {fmt(pf)} / {fmt(pu)} | {fmt(share, 2) + 'x' if share else '-'} | "
              f"{fmt(o['resident_img_per_s'])} | {fmt(ti)} | "
              f"{fmt(ratio, 2)}x | {o['peak_mem_bytes'] / 2**20:.0f} | {fmt(tp / 2**20 if tp else None, 0)} |")
    comp = next((t for t in torch if t.get("kind") == "infer" and t.get("mode") == "compile"), None)
    if comp:
        o = next((o for o in plain if o["dtype"] == "fp16" and o["batch"] == 256), None)
        ratio = o["resident_img_per_s"] / comp["img_per_s"] if o else None
        print(f"| fp16 | 256 | torch.compile: {fmt(comp['img_per_s'])} img/s (compile {fmt(comp.get('compile_s'))} s) | | | "
              f"ours/compile {fmt(ratio, 2)}x | | |")
    # batch-1 latency
    o1 = next((o for o in plain if o["dtype"] == "fp16" and o["batch"] == 1), None)
    t1 = eager.get(("fp16", 1))
    g1 = next((t for t in torch if t.get("mode") == "eager-cudagraph"), None)
    nog = next((o for o in ours if o.get("dtype") == "fp16" and o.get("batch") == 1 and "graphs=0" in o.get("options", "")), None)
    if o1 and t1:
        print()
        print(f"batch-1 fp16 latency: ours with CUDA Graph {o1['ms_per_batch']:.3f} ms end to end "
              f"({o1['resident_ms_per_batch']:.3f} ms resident)"
              + (f", ours without graph {nog['ms_per_batch']:.3f} ms" if nog else "")
              + f"; PyTorch eager {t1['ms_per_batch']:.3f} ms"
              + (f", PyTorch eager + CUDA Graph {g1['ms_per_batch']:.3f} ms" if g1 and 'ms_per_batch' in g1 else "")
              + f"; ours e2e / PyTorch eager = {o1['ms_per_batch'] / t1['ms_per_batch']:.2f} (bar <= 0.5)")
    variants = [o for o in ours if o.get("kind") == "infer" and o.get("options") and o.get("name") != "profile"]
    if variants:
        print()
        print("variants (same batch and dtype, ours resident img/s):")
        for o in variants:
            base = next((p for p in plain if p["dtype"] == o["dtype"] and p["batch"] == o["batch"]), None)
            print(f"  {o['dtype']} batch {o['batch']} {o['options']}: {fmt(o['resident_img_per_s'])} "
                  f"(default {fmt(base['resident_img_per_s']) if base else '-'}), e2e {fmt(o['img_per_s'])}")
    serve = [o for o in ours if o.get("kind") == "serve"]
    if serve:
        print()
        print("| serving (engine side) | dtype | max batch | img/s | p50 ms | p99 ms | mean batch | batch-1 direct img/s | ratio (target >= 5x at 64 clients) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for o in serve:
            print(f"| {o['clients']} clients, {o.get('input', 'float')} | {o['dtype']} | {o['max_batch']} | {fmt(o['img_per_s'])} | "
                  f"{fmt(o['p50_ms'], 3)} | {fmt(o['p99_ms'], 3)} | {fmt(o['mean_batch'], 2)} | "
                  f"{fmt(o['direct_batch1_img_per_s'])} | {fmt(o['ratio_vs_batch1'], 2)}x |")
    train_o = [o for o in ours if o.get("kind") == "train"]
    train_t = [t for t in torch if t.get("kind") == "train"]
    if train_o or train_t:
        print()
        print("| training DenseNet-BC batch 64 32x32 | dtype | depth | ms/step | peak MiB |")
        print("|---|---|---|---|---|")
        for o in train_o:
            extra = f" {o['options']}" if o.get("options") else ""
            print(f"| ours {o.get('memory')}{extra} | {o.get('dtype', 'fp32')} | {o.get('depth')} | "
                  f"{fmt(o.get('ms_per_step'), 2)} | "
                  f"{o.get('peak_mem_bytes', 0) / 2**20:.0f} (model {o.get('estimate_bytes', 0) / 2**20:.0f}) |")
        for t in train_t:
            depth = t.get("model", "").split("-")[2] if t.get("model", "").count("-") >= 2 else "?"
            print(f"| PyTorch {t.get('mode')} tf32={t.get('tf32')} | {t.get('dtype', 'fp32')} | {depth} | "
                  f"{fmt(t.get('ms_per_step'), 2)} | {t.get('peak_mem_bytes', 0) / 2**20:.0f} |")
    ours_eff = next((o for o in train_o if o.get("memory") == "efficient" and o.get("depth") == 100
                     and o.get("dtype", "fp32") == "fp32" and not o.get("options")), None)
    t_eff = next((t for t in train_t if t.get("mode") == "memory_efficient" and t.get("tf32") is False), None)
    if ours_eff and t_eff:
        print(f"\nbar (L=100, fp32, TF32 off): ours efficient peak / torchvision memory_efficient peak = "
              f"{ours_eff['peak_mem_bytes'] / t_eff['peak_mem_bytes']:.2f} (bar <= 0.5), step time ratio = "
              f"{ours_eff['ms_per_step'] / t_eff['ms_per_step']:.2f} (bar <= 1.1)")
    cap = load(os.path.join(r, "deep.jsonl"))
    if cap:
        print()
        print("deepest DenseNet-BC k=12 at batch 64 under a hard device-memory cap (one confirming step, scripts/gpu-check deep):")
        for c in cap:
            state = "FITS" if c.get("fits") else "does not fit"
            print(f"  L={c.get('depth')} {c.get('dtype')} cap {c.get('cap_bytes', 0) / 1e9:.1f} GB (CUDA context "
                  f"{c.get('context_bytes', 0) / 1e9:.2f} GB of it): {state}; model {c.get('estimate_bytes', 0) / 1e9:.2f} GB, "
                  f"library peak {c.get('peak_mem_bytes', 0) / 1e9:.2f} GB, process {c.get('process_bytes', 0) / 1e9:.2f} GB; "
                  f"setup {fmt(c.get('setup_s'))} s, step {fmt(c.get('step_s'))} s, loss {fmt(c.get('loss'), 4)}"
                  + (f"; {c['error']}" if c.get("error") else ""))
    errors = [t for t in torch if "error" in t]
    for e in errors:
        print(f"PyTorch error: {e.get('what')}: {e.get('error')}")
    checks = os.path.join(r, "checks.txt")
    if os.path.exists(checks):
        lines = [l.strip() for l in open(checks) if l.strip()]
        passed = sum(1 for l in lines if l.startswith("PASS"))
        print()
        print(f"checks: {passed} of {len(lines)} PASS")
        for l in lines:
            if not l.startswith("PASS"):
                print("  " + l)


if __name__ == "__main__":
    main()
