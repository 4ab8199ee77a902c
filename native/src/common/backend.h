// One interface per backend; the Engine picks an implementation at run time by device name.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "plan.h"
#include "weights.h"

namespace dn4j {

/** The most CPU threads a backend or trainer takes: OpenMP fails (crashes) with thousands. */
constexpr int kMaxThreads = 1024;

/** Refuses a batch at which a plan buffer would pass 2^31 - 1 elements (the CPU backend and
 *  trainer, and oneDNN's kernels beneath them, are not checked beyond that). */
inline void check_buffer_elements(const Plan& plan, int64_t n) {
    const int64_t limit = (int64_t{1} << 31) - 1;
    for (const auto& b : plan.buffers) {
        int64_t per = b.pixels() * b.c;
        if (per <= 0) continue;
        DN_CHECK(n <= limit / per, "batch ", n, ": buffer ", b.name, " (", b.c, " x ", b.h, " x ", b.w,
                 " per image) would pass 2^31 elements; use a batch of at most ", limit / per);
    }
}

class Backend {
public:
    virtual ~Backend() = default;
    virtual void forward(const float* input, int64_t n, float* output) = 0;
    /** The same from uint8 images (n, H, W, C), normalised on the way in as (x / 255 - mean[c]) / std[c]
     *  (torchvision's ToTensor + Normalize, in float32) by the first op; mean and std hold C floats. */
    virtual void forward_u8(const uint8_t* input, int64_t n, const float* mean, const float* std, float* output) = 0;
    virtual int64_t output_size(int64_t n) const = 0;
    virtual int64_t buffer_size(const std::string& name) const = 0;
    virtual void read_buffer(const std::string& name, float* out) const = 0;
    virtual void set_poison(bool on) = 0;
    virtual std::string describe() const = 0;
    /** Calibration ranges recorded so far (engine option calibrate=1): one line "NAME v0 v1 ..."
     *  per tensor; empty where the backend records none. */
    virtual std::string calibration() const { return ""; }
    /** Benchmark aid: ms per batch of `iters` runs of the network alone at the last batch
     *  size, input already in place (a GPU backend: no host copies). */
    virtual double time_resident(int iters) { fail("time_resident: not supported by this backend"); }

    /** Pipelined inference (double buffering): submit() takes a batch and may return before its
     *  forward has run; collect(ticket, output) waits for that batch and writes its (n, classes)
     *  logits (output may be null for a plan without a head). The input may be reused as soon as
     *  submit() returns. At most max_in_flight() batches are between submit and collect; a further
     *  submit throws. A collect that throws still ends its batch. The CUDA backend copies the batch
     *  into a pinned staging slot and enqueues its upload (copy stream) and forward (compute
     *  stream), so one batch's upload overlaps the previous one's compute; this default (the CPU)
     *  runs the forward inside submit() and holds the logits until collect(). */
    virtual int64_t submit(const float* input, int64_t n) {
        return hold(n, [&](float* out) { forward(input, n, out); });
    }
    virtual int64_t submit_u8(const uint8_t* input, int64_t n, const float* mean, const float* std) {
        return hold(n, [&](float* out) { forward_u8(input, n, mean, std, out); });
    }
    virtual void collect(int64_t ticket, float* output) {
        for (size_t i = 0; i < held_.size(); i++) {
            if (held_[i].ticket != ticket) continue;
            if (output) std::copy(held_[i].logits.begin(), held_[i].logits.end(), output);
            held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
            return;
        }
        fail("collect: batch ", ticket, " is not in flight");
    }
    virtual int max_in_flight() const { return 2; }

private:
    struct Held {
        int64_t ticket;
        std::vector<float> logits;
    };
    std::vector<Held> held_;
    int64_t held_tickets_ = 0;

    template <typename Run>
    int64_t hold(int64_t n, Run run) {
        DN_CHECK(held_.size() < static_cast<size_t>(max_in_flight()), "submit: ", max_in_flight(),
                 " batches are in flight already; collect one first");
        Held h{0, std::vector<float>(static_cast<size_t>(output_size(n)))};
        run(h.logits.empty() ? nullptr : h.logits.data());
        int64_t ticket = ++held_tickets_;
        h.ticket = ticket;
        held_.push_back(std::move(h));
        return ticket;
    }
};

/** Training on one device: the contract of dn4j::Trainer (densenet4j/core.h), which forwards
 *  every call to one of these. A backend whose parameters live elsewhere than the WeightStore
 *  (a GPU) copies them back in sync_weights(). */
class TrainBackend {
public:
    virtual ~TrainBackend() = default;
    virtual double forward_backward(const float* input, const int64_t* labels, int64_t n, uint64_t seed,
                                    float* logits) = 0;
    virtual void sgd_step(float lr, float momentum, float weight_decay, bool nesterov) = 0;
    virtual int64_t estimate_bytes(int64_t n) const = 0;
    virtual int64_t param_count() const = 0;
    virtual std::string param_name(int64_t i) const = 0;
    virtual int64_t param_numel(int64_t i) const = 0;
    virtual void read_grad(const std::string& name, float* out) const = 0;
    virtual void read_momentum(const std::string& name, float* out) const = 0;
    virtual void write_momentum(const std::string& name, const float* in) = 0;
    virtual bool has_momentum() const = 0;
    virtual void set_has_momentum(bool on) = 0;
    /** Copies parameters and running statistics (and num_batches_tracked) into the WeightStore. */
    virtual void sync_weights() = 0;
    virtual std::string describe() const = 0;
};

/** dtype fp32; bf16 (bf16 matmuls with fp32 accumulation; AVX512_BF16 CPUs only, refused
 *  elsewhere); or int8 (u8 x s8 1x1 convs; the weights must hold calibration ranges, see
 *  Engine::calibration). `calibrate` (fp32 only) records those ranges in every forward. */
std::unique_ptr<Backend> make_cpu_backend(const Plan& plan, const WeightStore::Impl& weights, int threads,
                                          const std::string& dtype = "fp32", bool calibrate = false);

/** Where each plan buffer lives in one arena for a batch of n: buffers whose lifetimes
 *  (first to last op naming them) overlap never share bytes; the others may. */
struct MemoryPlan {
    std::vector<int64_t> offset;      // floats, per plan buffer
    std::vector<int64_t> size;        // floats, per plan buffer
    std::vector<int> first_use, last_use;
    int64_t arena_floats = 0;
};
MemoryPlan plan_memory(const Plan& plan, int64_t n);

}  // namespace dn4j
