// One interface per backend; the Engine picks an implementation at run time by device name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plan.h"
#include "weights.h"

namespace dn4j {

class Backend {
public:
    virtual ~Backend() = default;
    virtual void forward(const float* input, int64_t n, float* output) = 0;
    virtual int64_t output_size(int64_t n) const = 0;
    virtual int64_t buffer_size(const std::string& name) const = 0;
    virtual void read_buffer(const std::string& name, float* out) const = 0;
    virtual void set_poison(bool on) = 0;
    virtual std::string describe() const = 0;
};

std::unique_ptr<Backend> make_cpu_backend(const Plan& plan, const WeightStore::Impl& weights, int threads);

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
