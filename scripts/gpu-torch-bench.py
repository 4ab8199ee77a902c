#!/usr/bin/env python3
"""PyTorch side of the densenet4j GPU benchmark (the peer we compare against on one GPU).

What it measures, in this order (each line of stdout is one JSON object):

 1. Inference, torchvision densenet121 (random weights), eval(), torch.inference_mode(),
    224x224 input, model and input in channels_last, cudnn.benchmark=True:
      "mode":"eager", batches 1, 32, 256 x dtypes fp32 (TF32 off), fp16 and bf16
      (torch.autocast("cuda", dtype=...)).
    After warm-up (20/10/5 iterations for batch 1/32/256) the iteration count is chosen so
    the timed loop covers >= 1 s (capped at about 2.5 s), timed with CUDA events around the
    whole loop. Reports img_per_s, ms_per_batch, peak_mem_bytes (max_memory_allocated over
    the timed loop, reset after warm-up so cudnn.benchmark's trial workspaces are not in
    it), peak_mem_warmup_bytes (the same over warm-up, trials included) and base_mem_bytes
    (memory_allocated when the peak was reset: weights, input, library workspaces).
 2. "mode":"eager-cudagraph": batch 1, fp16, the eager model captured once in a
    torch.cuda.CUDAGraph and replayed.
 3. Training, DenseNet-BC (L=100, k=12 by default) with the CIFAR stem, exactly as
    scripts/bench-torch-train.py builds it: torchvision DenseNet(growth_rate=k,
    block_config=(n,n,n), num_init_features=2k, bn_size=4, num_classes=10), conv0 replaced
    by a 3x3/1 conv, norm0/relu0/pool0 removed. Batch 64 of random 32x32 input, labels
    arange(64) % 10, SGD(lr 0.1, momentum 0.9, nesterov, weight_decay 1e-4), fp32, NCHW,
    cross-entropy, zero_grad(set_to_none=True). For memory_efficient False ("mode":"naive")
    and True ("mode":"memory_efficient"), each with "tf32":false (cudnn and matmul TF32
    off) and "tf32":"default" (the flags as PyTorch starts: cudnn.allow_tf32=True,
    matmul.allow_tf32=False; the record carries the flags actually in effect).
    5 warm-up steps, then >= 30 steps each timed with its own pair of CUDA events;
    ms_per_step is the median. peak_mem_bytes: max_memory_allocated over the timed steps
    (reset after warm-up, when weights, grads' first use and the optimizer's momentum
    buffers exist); peak_mem_incl_init_bytes: the same from before the model was created
    (includes cudnn.benchmark's trials); base_mem_bytes: memory_allocated just before the
    model was created (everything earlier is freed first, so that is mostly workspaces).
 4. "mode":"compile": torch.compile(model) (default mode), fp16, batch 256. "compile_s" is
    the time of torch.compile() plus the first (compiling) call. It runs last, because a
    cold compile can take minutes, and is skipped when the time budget is nearly spent.

Other lines: {"kind":"env",...} first (versions, device); {"error":"...","what":"..."} when
an item fails (the script goes on); {"skip":"...","what":"..."} when an item is not run
(not applicable to the device, --no-compile, time budget). Progress goes to stderr.

Run:
    python3 scripts/gpu-torch-bench.py                 # the full GPU run (~1-3 min on an H200)
    python3 scripts/gpu-torch-bench.py --no-compile --only infer
    python3 scripts/gpu-torch-bench.py --only train --depth 100 190 250
    /usr/bin/python3 scripts/gpu-torch-bench.py --device cpu --quick    # CPU smoke test

Options:
    --device cuda|cpu   (default cuda). On cpu: fp32 only, default batches 1 and 8, only the
                        "tf32":false training variant; autocast/cudagraph/compile items are
                        reported as skipped. Meant for smoke tests.
    --quick             tiny iteration counts (smoke test; the numbers mean nothing)
    --only infer|train  run only the inference items (1, 2, 4) or only training (3)
    --no-compile        skip item 4
    --batches 1,32,256  inference batch sizes for item 1
    --depth N [N ...]   DenseNet-BC depths to train (default 100; (N-4) % 6 == 0)
    --growth-rate K     (default 12)   --train-batch B  (default 64)
    --budget-s S        soft time budget (default 170): items that would start after it are
                        skipped; compile needs at least 60 s of it left
"""
import argparse
import contextlib
import gc
import json
import math
import statistics
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

# PyTorch >= 2.9 warns that the allow_tf32 flags will be deprecated. We use them on purpose:
# they set the legacy and the new (fp32_precision) state together, while using only the new
# API makes torch.compile's read of the legacy flag fail ("mix of the legacy and new APIs").
warnings.filterwarnings("ignore", message=".*TF32.*")
warnings.filterwarnings("ignore", message=".*use_reentrant.*")

T0 = time.perf_counter()
PEER = "torch-" + torch.__version__.split("+")[0]


def log(msg):
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


def parse_args():
    p = argparse.ArgumentParser(description="PyTorch GPU peer benchmark (see module docstring)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke test)")
    p.add_argument("--only", choices=["infer", "train"], default=None)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--batches", default=None, help="inference batches, comma-separated")
    p.add_argument("--depth", type=int, nargs="+", default=[100])
    p.add_argument("--growth-rate", type=int, default=12)
    p.add_argument("--train-batch", type=int, default=64)
    p.add_argument("--budget-s", type=float, default=170.0)
    a = p.parse_args()
    for d in a.depth:
        if d < 10 or (d - 4) % 6:
            p.error(f"--depth {d}: DenseNet-BC needs (depth - 4) % 6 == 0")
    if a.batches is None:
        a.batches = "1,32,256" if a.device == "cuda" else "1,8"
    a.batches = [int(b) for b in a.batches.split(",") if b.strip()]
    return a


A = parse_args()
DEV = torch.device(A.device)
CUDA = DEV.type == "cuda"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


# ---------------------------------------------------------------- device helpers

def sync():
    if CUDA:
        torch.cuda.synchronize()


def free_memory():
    gc.collect()
    if CUDA:
        torch.cuda.empty_cache()


def reset_peak():
    """Resets the peak counter; returns memory_allocated now (None on CPU)."""
    if not CUDA:
        return None
    sync()
    torch.cuda.reset_peak_memory_stats()
    return torch.cuda.memory_allocated()


def peak():
    if not CUDA:
        return None
    sync()
    return torch.cuda.max_memory_allocated()


def tf32_flags():
    return {"cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32)}


TF32_DEFAULT = tf32_flags()  # as PyTorch started, before we touch anything


def set_tf32(mode):
    """mode False: TF32 off for cuDNN and cuBLAS; "default": the flags PyTorch started with."""
    flags = TF32_DEFAULT if mode == "default" else {"cudnn_allow_tf32": False, "matmul_allow_tf32": False}
    torch.backends.cudnn.allow_tf32 = flags["cudnn_allow_tf32"]
    torch.backends.cuda.matmul.allow_tf32 = flags["matmul_allow_tf32"]


def autocast(dtype_name, cache_enabled=True):
    if dtype_name == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=DTYPES[dtype_name], cache_enabled=cache_enabled)


def time_loop(fn, n):
    """Seconds for n calls of fn, by CUDA events around the loop (wall clock on CPU)."""
    if CUDA:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000.0
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t


def over_budget(what, reserve_s=0.0):
    left = A.budget_s - (time.perf_counter() - T0)
    if left < reserve_s:
        emit({"skip": f"time budget: {left:.0f} s of --budget-s {A.budget_s:.0f} left, needs {reserve_s:.0f}",
              "what": what})
        log(f"skip {what}: time budget")
        return True
    return False


@contextlib.contextmanager
def guarded(what):
    """Runs one item; a failure becomes an {"error":...} line instead of ending the script."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - we want every failure reported, then go on
        msg = f"{type(e).__name__}: {e}".strip()
        emit({"error": msg[:2000], "what": what})
        log(f"ERROR in {what}: {msg.splitlines()[0] if msg else type(e).__name__}")
    finally:
        free_memory()


def measure_throughput(fn, batch, warmup):
    """Warm-up, then a timed loop of >= 1 s (capped); returns the common record fields."""
    if A.quick:
        warmup, target_s, max_s, min_iters = 1, 0.0, 0.0, 2
    else:
        target_s, max_s, min_iters = 1.0, 2.5, 5
    reset_peak()
    for _ in range(warmup):
        fn()
    sync()
    warm_peak = peak()
    probe = 1 if A.quick else 3
    est = max(time_loop(fn, probe) / probe, 1e-6)
    iters = max(min_iters, math.ceil(target_s / est))
    iters = max(min_iters, min(iters, int(max_s / est), 5000))
    base = reset_peak()
    secs = time_loop(fn, iters)
    return {"img_per_s": round(batch * iters / secs, 1),
            "ms_per_batch": round(1000.0 * secs / iters, 3),
            "iters": iters,
            "peak_mem_bytes": peak(),
            "peak_mem_warmup_bytes": warm_peak,
            "base_mem_bytes": base}


def infer_record(mode, dtype_name, batch):
    return {"peer": PEER, "kind": "infer", "model": "densenet121", "mode": mode, "dtype": dtype_name,
            "batch": batch, "image": 224, "channels_last": True, "device": DEVICE_NAME}


def densenet121():
    try:
        m = torchvision.models.densenet121(weights=None)
    except TypeError:  # torchvision < 0.13
        m = torchvision.models.densenet121(pretrained=False)
    return m.eval().to(DEV, memory_format=torch.channels_last)


def image_batch(batch, size=224):
    return torch.randn(batch, 3, size, size, device=DEV).contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------- items

def bench_infer_eager(model):
    warmups = {1: 20, 32: 10}
    for dtype_name in ("fp32", "fp16", "bf16"):
        for batch in A.batches:
            what = f"infer densenet121 eager {dtype_name} batch {batch}"
            if not CUDA and dtype_name != "fp32":
                emit({"skip": "autocast cuda dtypes need --device cuda", "what": what})
                continue
            if over_budget(what):
                continue
            with guarded(what):
                log(what)
                set_tf32(False)
                x = image_batch(batch)

                def fn():
                    with torch.inference_mode(), autocast(dtype_name):
                        return model(x)

                rec = infer_record("eager", dtype_name, batch)
                rec["tf32"] = False
                rec.update(measure_throughput(fn, batch, warmups.get(batch, 5)))
                emit(rec)
                log(f"  {rec['img_per_s']} img/s, {rec['ms_per_batch']} ms/batch")
                del x


def bench_infer_cudagraph(model):
    what = "infer densenet121 eager-cudagraph fp16 batch 1"
    if not CUDA:
        emit({"skip": "CUDA graphs need --device cuda", "what": what})
        return
    if over_budget(what):
        return
    with guarded(what):
        log(what)
        set_tf32(False)
        static_x = image_batch(1)
        # Warm up on a side stream (cudnn.benchmark picks its algorithms here, not during capture).
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s), torch.inference_mode(), autocast("fp16", cache_enabled=False):
            for _ in range(3):
                model(static_x)
        torch.cuda.current_stream().wait_stream(s)
        sync()
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), autocast("fp16", cache_enabled=False):
            with torch.cuda.graph(graph):
                static_y = model(static_x)
        sync()
        rec = infer_record("eager-cudagraph", "fp16", 1)
        rec["tf32"] = False
        rec.update(measure_throughput(graph.replay, 1, 20))
        emit(rec)
        log(f"  {rec['img_per_s']} img/s, {rec['ms_per_batch']} ms/batch")
        del graph, static_x, static_y


def bench_infer_compile():
    what = "infer densenet121 compile fp16 batch 256"
    if A.no_compile:
        emit({"skip": "--no-compile", "what": what})
        return
    if not CUDA:
        emit({"skip": "compile item runs with --device cuda only", "what": what})
        return
    if not hasattr(torch, "compile"):
        emit({"error": f"torch.compile does not exist in torch {torch.__version__}", "what": what})
        return
    if over_budget(what, reserve_s=0.0 if A.quick else 60.0):
        return
    with guarded(what):
        log(what + " (compiling; may take minutes)")
        set_tf32(False)
        batch = 256
        model = densenet121()
        x = image_batch(batch)
        t = time.perf_counter()
        compiled = torch.compile(model)
        with torch.inference_mode(), autocast("fp16"):
            compiled(x)
        sync()
        compile_s = time.perf_counter() - t
        log(f"  compiled in {compile_s:.1f} s")

        def fn():
            with torch.inference_mode(), autocast("fp16"):
                return compiled(x)

        rec = infer_record("compile", "fp16", batch)
        rec["tf32"] = False
        rec["compile_s"] = round(compile_s, 2)
        rec.update(measure_throughput(fn, batch, 5))
        emit(rec)
        log(f"  {rec['img_per_s']} img/s, {rec['ms_per_batch']} ms/batch")
        del compiled, model, x


def cifar_densenet_bc(depth, k, efficient):
    """As scripts/bench-torch-train.py: torchvision DenseNet with the CIFAR 3x3 stem."""
    n = (depth - 4) // 6
    m = torchvision.models.DenseNet(growth_rate=k, block_config=(n, n, n), num_init_features=2 * k, bn_size=4,
                                    num_classes=10, memory_efficient=efficient)
    m.features.conv0 = nn.Conv2d(3, 2 * k, 3, 1, 1, bias=False)
    del m.features.norm0, m.features.relu0, m.features.pool0
    return m


def bench_train():
    warmup, steps = (1, 2) if A.quick else (5, 30)
    batch, k = A.train_batch, A.growth_rate
    for depth in A.depth:
        model_name = f"densenet-bc-{depth}-{k}"
        for efficient in (False, True):
            mode = "memory_efficient" if efficient else "naive"
            for tf32 in (False, "default"):
                what = f"train {model_name} {mode} tf32={tf32} batch {batch}"
                if not CUDA and tf32 == "default":
                    emit({"skip": "TF32 settings only matter on cuda", "what": what})
                    continue
                if over_budget(what):
                    continue
                with guarded(what):
                    log(what)
                    set_tf32(tf32)
                    free_memory()
                    base = reset_peak()
                    torch.manual_seed(0)
                    model = cifar_densenet_bc(depth, k, efficient).to(DEV).train()
                    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                          weight_decay=1e-4)
                    x = torch.randn(batch, 3, 32, 32, device=DEV)
                    y = torch.arange(batch, device=DEV) % 10

                    def step():
                        opt.zero_grad(set_to_none=True)
                        F.cross_entropy(model(x), y).backward()
                        opt.step()

                    for _ in range(warmup):
                        step()
                    init_peak = peak()
                    after_init = reset_peak()
                    times = []
                    for _ in range(steps):
                        times.append(time_loop(step, 1))
                    timed_peak = peak()
                    ms = 1000.0 * statistics.median(times)
                    rec = {"peer": PEER, "kind": "train", "model": model_name, "mode": mode,
                           "memory_efficient": efficient, "tf32": tf32, "batch": batch, "image": 32,
                           "dtype": "fp32", "channels_last": False, "device": DEVICE_NAME,
                           "ms_per_step": round(ms, 3), "ms_per_step_min": round(1000.0 * min(times), 3),
                           "img_per_s": round(1000.0 * batch / ms, 1), "steps": steps,
                           "peak_mem_bytes": timed_peak,
                           "peak_mem_incl_init_bytes": None if timed_peak is None else max(init_peak, timed_peak),
                           "base_mem_bytes": base, "mem_after_init_bytes": after_init}
                    if CUDA:
                        rec.update(tf32_flags())
                    emit(rec)
                    log(f"  {rec['ms_per_step']} ms/step, peak {timed_peak}")
                    del model, opt, x, y


# ---------------------------------------------------------------- main

if CUDA and not torch.cuda.is_available():
    emit({"error": "--device cuda but torch.cuda.is_available() is False", "what": "setup"})
    sys.exit(2)

DEVICE_NAME = torch.cuda.get_device_name(DEV) if CUDA else "cpu"
torch.backends.cudnn.benchmark = True
env = {"kind": "env", "peer": PEER, "torch": torch.__version__, "torchvision": torchvision.__version__,
       "python": sys.version.split()[0], "device": DEVICE_NAME, "cudnn_benchmark": True,
       "tf32_default": TF32_DEFAULT, "quick": A.quick}
if CUDA:
    env["cuda"] = torch.version.cuda
    env["cudnn"] = torch.backends.cudnn.version()
else:
    env["threads"] = torch.get_num_threads()
emit(env)
log(f"{PEER} on {DEVICE_NAME}, budget {A.budget_s:.0f} s{' (quick)' if A.quick else ''}")

if A.only in (None, "infer"):
    with guarded("infer densenet121 setup"):
        net = densenet121()
        bench_infer_eager(net)
        bench_infer_cudagraph(net)
        del net
if A.only in (None, "train"):
    bench_train()
if A.only in (None, "infer"):
    bench_infer_compile()
set_tf32("default")
log("done")
