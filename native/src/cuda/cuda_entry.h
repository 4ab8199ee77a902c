// The entry points of libdensenet4j_cuda, the CUDA backend. The core loads that library at
// run time (dlopen), so CPU-only users never need CUDA or cuDNN; the native GPU test program
// links it directly.
#pragma once

#include <cstdint>
#include <string>

#include "../common/backend.h"

extern "C" {

/** Whether a CUDA device is usable: returns the device count (>= 1) and fills `info` with the
 *  device, driver and cuDNN versions; returns 0 and fills `info` with what is missing. */
int dn4j_cuda_probe(std::string* info);

/** A CUDA inference backend for `plan`. `options`: space-separated key=value pairs:
 *  dtype=fp32|tf32|fp16|bf16 (default fp32: true fp32, no TF32), graphs=1|0 (CUDA Graphs at a
 *  fixed batch shape, default 1), device=I (default 0), slices=copy|strided (how a conv fills a
 *  channel slice of a block buffer, default copy), algo=find|heuristic (default find: cuDNN
 *  benchmarks the candidates once per shape), workspace_mb=M (cuDNN workspace bound, default
 *  512), fuse=1|0 (cuDNN's fused conv-bias-ReLU where it accepts the shape, default 1).
 *  Throws dn4j::Error on any problem. */
dn4j::Backend* dn4j_cuda_make_backend(const dn4j::Plan* plan, const dn4j::WeightStore::Impl* weights,
                                      const char* options);

/** A CUDA trainer for a training plan (module-level ops, see native/src/cpu/trainer.cpp).
 *  Parameters and running statistics are copied to the GPU; sync_weights() writes them back
 *  into `weights` (PyTorch layouts). `options`: space-separated key=value pairs:
 *  memory=efficient|naive (default efficient), device=I (default 0), workspace_mb=M (cuDNN
 *  workspace bound, default 256), deterministic=1|0 (prefer cuDNN's deterministic algorithms,
 *  default 1), estimate_only=1 (touch no device: only estimate_bytes() and the parameter list
 *  work, so memory can be planned on a machine without a GPU), dtype=fp32|fp16|bf16 (default
 *  fp32; fp16/bf16: mixed precision, activations and conv weights in half precision for cuDNN,
 *  fp32 master weights, gradients, momentum, BatchNorm and head; fp16 with dynamic loss
 *  scaling as torch.cuda.amp.GradScaler, bf16 unscaled; a step whose gradients hold inf/NaN is
 *  skipped by sgd_step (the BatchNorm running statistics, updated in the forward pass, move
 *  anyway, as in PyTorch); read_grad gives the unscaled gradients; describe() reports the scale
 *  and the skipped steps), loss_scale=S (fp16's initial loss scale, a power of two, default
 *  65536), algo=find|heuristic (default find: cuDNN times the candidates once per shape;
 *  heuristic takes cuDNN's ranking, for networks of thousands of distinct shapes), admit=F
 *  (a batch's activation bytes must be within this share of the free device bytes, default 0.9).
 *  Throws dn4j::Error on any problem. */
dn4j::TrainBackend* dn4j_cuda_make_trainer(const dn4j::Plan* plan, dn4j::WeightStore::Impl* weights,
                                           const char* options);

/** Device bytes the CUDA backend holds now / at most since the last reset. */
int64_t dn4j_cuda_bytes_in_use();
int64_t dn4j_cuda_bytes_peak();
void dn4j_cuda_bytes_reset_peak();
}
