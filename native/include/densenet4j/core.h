// densenet4j native core: the small, backend-neutral C++ API that JavaCPP binds.
//
// A network arrives as a *plan* (plain text, written by the Java topology; format in
// docs of dn4j::Plan, native/src/common/plan.h) and a WeightStore holding PyTorch
// tensors under torchvision's state_dict names. An Engine runs a whole plan per call.
// Every error is thrown as a C++ exception (dn4j::Error, or std::exception from
// oneDNN); JavaCPP turns it into a Java RuntimeException at the boundary.
#pragma once

#include <cstdint>
#include <string>

namespace dn4j {

/** Bytes of native memory the library holds now (our allocator: weights, activations,
 *  folded and reordered weights, oneDNN scratchpads). */
int64_t native_bytes_in_use();
/** High-water mark of native_bytes_in_use() since start or the last reset. */
int64_t native_bytes_peak();
/** Resets the high-water mark to the bytes in use now. */
void native_bytes_reset_peak();
/** Library version and the oneDNN version it runs on, one line. */
std::string version_string();
/** Backends usable on this machine, comma-separated: "cpu" or "cpu,cuda". */
std::string available_devices();
/** Whether this CPU runs dtype bf16 (it has AVX512_BF16, which oneDNN's bf16 kernels use). */
bool cpu_bf16_supported();
/** The instruction sets of the matmul kernels oneDNN picks on this CPU, one line: e.g. "fp32
 *  matmuls avx512_core, bf16 matmuls avx512_core_bf16, int8 matmuls brgemm:avx512_core_vnni (VNNI:
 *  activations 0..255)" (or "..., bf16 unsupported (no AVX512_BF16)", "(no VNNI: activations 0..127)"). */
std::string cpu_isa_info();

/** Where libdensenet4j_cuda.so.1 lies (the Java side extracts it from the linux-x86_64-gpu jar);
 *  without a call, it is looked for next to this library, then on the library path. Must come
 *  before the first use of a CUDA device. */
void set_cuda_library(const std::string& path);
/** Whether the CUDA backend, its cuDNN, a driver and a device are all there (loads the CUDA
 *  library on first call). */
bool cuda_available();
/** Usable CUDA devices (compute capability 8.0 or newer); 0 when CUDA cannot run. */
int cuda_device_count();
/** The CUDA device line (name, compute capability, driver and cuDNN versions) when available,
 *  else what is missing, as one sentence. */
std::string cuda_info();
/** GPU memory the CUDA backend holds now / at most since the last reset (0 without CUDA):
 *  activations, weights, workspaces. */
int64_t device_bytes_in_use();
int64_t device_bytes_peak();
void device_bytes_reset_peak();

/** Named float32 tensors in PyTorch layout (row-major; conv weights (C_out, C_in, kH, kW)). */
class WeightStore {
public:
    WeightStore();
    ~WeightStore();
    WeightStore(const WeightStore&) = delete;
    WeightStore& operator=(const WeightStore&) = delete;
    /** Copies `numel(shape)` floats from `data` under `name` (replacing any earlier tensor). */
    void put(const std::string& name, const float* data, const int64_t* shape, int rank);
    /** Total bytes held. */
    int64_t bytes() const;
    /** Number of tensors held. */
    int64_t count() const;
    struct Impl;
    Impl* impl;
};

/** Runs one plan on one device. Not safe for concurrent calls (one caller at a time). */
class Engine {
public:
    /** Parses `plan`, checks every tensor it names against `weights` (which must outlive
     *  the engine) and folds/reorders weights. `device`: "cpu", "cuda" or "cuda:I" (throws
     *  naming what is missing when CUDA cannot be used). `threads` <= 0: all cores (CPU). */
    Engine(const std::string& plan, WeightStore* weights, const std::string& device, int threads);
    /** The same with backend options, space-separated key=value: on CUDA dtype=fp32|tf32|fp16|bf16
     *  (default fp32, true fp32), graphs=1|0 (CUDA Graphs), and the tuning keys documented in
     *  native/src/cuda/cuda_entry.h; the CPU takes dtype=fp32|bf16|int8 (bf16 on AVX512_BF16 CPUs;
     *  int8 with the weights' calibration ranges, see calibration()) and calibrate=1. */
    Engine(const std::string& plan, WeightStore* weights, const std::string& device, int threads,
           const std::string& options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /** Runs the plan on `n` images: `input` (n, C, H, W) float32 NCHW as the plan's input
     *  declares; writes (n, classes) float32 logits to `output` (which may be null for a
     *  plan without a head). Buffers are allocated on the first call and reused. */
    void forward(const float* input, int64_t n, float* output);
    /** The same from uint8 images `input` (n, H, W, C), channels last as image decoders give
     *  them, values 0..255: the first op normalises them as (x / 255 - mean[c]) / std[c] in
     *  float32 (torchvision's ToTensor then Normalize), so the logits equal forward() on the
     *  normalised NCHW floats. `mean` and `std` hold C floats (finite; std > 0). */
    void forward_u8(const uint8_t* input, int64_t n, const float* mean, const float* std, float* output);
    /** Double buffering: submit() starts a batch (the input, as forward() or forward_u8() takes
     *  it, may be reused once it returns) and gives a ticket; collect(ticket, output) waits for that
     *  batch and writes its logits as forward() does. On CUDA a batch's upload (pinned staging, a
     *  copy stream) overlaps the previous batch's compute; the CPU runs the batch inside submit().
     *  At most max_in_flight() batches between submit and collect (a further submit throws, and so
     *  does forward() while both slots are in flight): every ticket must be collected. A collect
     *  that throws still ends its batch. */
    int64_t submit(const float* input, int64_t n);
    int64_t submit_u8(const uint8_t* input, int64_t n, const float* mean, const float* std);
    void collect(int64_t ticket, float* output);
    int max_in_flight() const;
    /** Floats `forward` writes for `n` images (n * classes; 0 without a head). */
    int64_t output_size(int64_t n) const;
    /** Floats held by plan buffer `name` for the last batch size (NHWC). */
    int64_t buffer_size(const std::string& name) const;
    /** Copies plan buffer `name` (NHWC, dense, after the last forward) into `out`. */
    void read_buffer(const std::string& name, float* out) const;
    /** Debug: fill every plan buffer with NaN just before its first use in each forward. */
    void set_poison(bool on);
    /** One line per op: what runs and which implementation oneDNN chose. */
    std::string describe() const;
    /** With option calibrate=1 (CPU, fp32): the calibration ranges seen in every forward so far, one
     *  line "NAME v0 v1 ..." per 1x1 conv with a BN-ReLU prologue: NAME is its weight's name with
     *  ".weight" replaced by ".input_max", the values its input's per-channel maxima (after BN-ReLU
     *  and, in a transition, the 2x2 average pool). These tensors, added to the weights, are what
     *  dtype=int8 needs. Empty without calibrate=1. */
    std::string calibration() const;

    struct Impl;
    Impl* impl;
};

}  // namespace dn4j

namespace dn4j {

/**
 * Training on one device (Huang et al. 2017; memory-efficient as Pleiss et al. 2017,
 * "Memory-Efficient Implementation of DenseNets"). Parameters and running statistics live in
 * the WeightStore and are updated there in place; the trainer holds gradients, momentum
 * buffers and activations. BatchNorm uses batch statistics and updates running statistics
 * once per step (momentum 0.1, unbiased variance); recomputation never touches them.
 * Memory modes: "efficient" keeps per block only the shared concat buffer, its gradient buffer
 * and per-layer statistics, recomputing BN-ReLU-Conv1x1 and BN2-ReLU in the backward pass into
 * shared scratch; "naive" stores every intermediate (for parity tests and comparison).
 */
class Trainer {
public:
    /** `device`: "cpu", "cuda" or "cuda:I"; `memory`: "efficient" or "naive". */
    Trainer(const std::string& plan, WeightStore* weights, const std::string& device, int threads,
            const std::string& memory);
    /** The same with backend options, space-separated key=value. On CUDA: dtype=fp32|fp16|bf16
     *  (fp16/bf16: mixed precision with fp32 master weights; fp16 with dynamic loss scaling as
     *  torch.cuda.amp.GradScaler), loss_scale=S (fp16's initial scale, a power of two),
     *  deterministic=1|0, workspace_mb=M. The CPU trains in fp32 only: it accepts "" or
     *  "dtype=fp32" and throws dn4j::Error on anything else. */
    Trainer(const std::string& plan, WeightStore* weights, const std::string& device, int threads,
            const std::string& memory, const std::string& options);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    /** Forward in train mode, loss, backward: fills gradients (before weight decay), updates
     *  running statistics, returns the mean cross-entropy. `logits` (n, classes) may be null.
     *  `seed` drives dropout masks (the same seed gives the same masks). */
    double forward_backward(const float* input, const int64_t* labels, int64_t n, uint64_t seed, float* logits);
    /** One SGD step on the gradients of the last forward_backward (PyTorch's torch.optim.SGD). */
    void sgd_step(float lr, float momentum, float weight_decay, bool nesterov);
    /** Native bytes this trainer would hold for batch `n` (activations, gradients, scratch,
     *  momentum), without allocating anything. */
    int64_t estimate_bytes(int64_t n) const;

    /** Learnable parameters, in plan order (torchvision names). */
    int64_t param_count() const;
    std::string param_name(int64_t i) const;
    int64_t param_numel(int64_t i) const;
    /** Copies the gradient of parameter `name` (as after the last backward) into `out`. */
    void read_grad(const std::string& name, float* out) const;
    /** Momentum buffer of `name` (zeros before the first step); write_momentum restores one. */
    void read_momentum(const std::string& name, float* out) const;
    void write_momentum(const std::string& name, const float* in);
    /** Whether the momentum buffers hold state (false before the first step). */
    bool has_momentum() const;
    void set_has_momentum(bool on);
    /** Writes parameters and running statistics into the WeightStore where the device keeps its
     *  own copies (CUDA); a no-op on the CPU, which updates the WeightStore in place. */
    void sync_weights();
    std::string describe() const;

    struct Impl;
    Impl* impl;
};

/** Copies tensor `name` of a WeightStore into `out` (numel floats). */
void weight_store_read(const WeightStore* w, const std::string& name, float* out);

}  // namespace dn4j
