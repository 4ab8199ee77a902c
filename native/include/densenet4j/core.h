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
/** Backends compiled into this library and usable on this machine, comma-separated (e.g. "cpu"). */
std::string available_devices();

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
     *  the engine) and folds/reorders weights. `device`: "cpu". `threads` <= 0: all cores. */
    Engine(const std::string& plan, WeightStore* weights, const std::string& device, int threads);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /** Runs the plan on `n` images: `input` (n, C, H, W) float32 NCHW as the plan's input
     *  declares; writes (n, classes) float32 logits to `output` (which may be null for a
     *  plan without a head). Buffers are allocated on the first call and reused. */
    void forward(const float* input, int64_t n, float* output);
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

    struct Impl;
    Impl* impl;
};

}  // namespace dn4j
