// Convolutions through cuDNN's graph (backend) API: one forward convolution, optionally with a
// fused per-channel bias add and ReLU, over NHWC tensors. Candidates come from cuDNN's heuristics
// (mode A); the caller times them against the legacy API and keeps the fastest.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dn4j::cuda {

/** A 2-D convolution's shapes: NHWC tensors whose pixel rows may be strided (x_ldc, y_ldc). */
struct ConvSpec {
    cudnnDataType_t dtype;  // x, w, y (and bias when fused: fp32)
    int64_t n, cin, h, w, x_ldc;
    int64_t cout, ho, wo, y_ldc;
    int64_t k, stride, pad;
    bool bias_relu;     // y = relu(conv(x, w) + bias), bias fp32 (1, cout, 1, 1)
    bool strict_fp32;   // refuse engines that use tensor cores on fp32 data (that is TF32)
    int64_t x_align = 16, y_align = 16;  // bytes both the pointer and the row stride are multiples of
};

/** The largest of 16, 8, 4, 2, 1 dividing both `p` and `row_bytes` (cuDNN's byte alignment). */
int64_t byte_alignment(const void* p, int64_t row_bytes);

/** One finalized execution plan. Owns its descriptor. */
class GraphPlan {
public:
    GraphPlan(cudnnBackendDescriptor_t plan, int64_t workspace, std::string name)
        : plan_(plan), ws_(workspace), name_(std::move(name)) {}
    ~GraphPlan();
    GraphPlan(const GraphPlan&) = delete;
    GraphPlan& operator=(const GraphPlan&) = delete;

    /** Runs the plan on the handle's stream: x, w, y (and bias when fused) device pointers. */
    cudnnStatus_t run(cudnnHandle_t h, const void* x, const void* w, void* y, const void* bias, void* ws) const;
    int64_t workspace() const { return ws_; }
    const std::string& name() const { return name_; }

private:
    cudnnBackendDescriptor_t plan_;
    int64_t ws_;
    std::string name_;
};

/** Up to `max_plans` finalized plans for `spec` in cuDNN's heuristic order, each within
 *  `max_workspace` bytes; engines that need runtime compilation are skipped (they take seconds
 *  to build). An empty result with `why` set when cuDNN offers none. Never throws. */
std::vector<std::unique_ptr<GraphPlan>> graph_conv_plans(cudnnHandle_t h, const ConvSpec& spec, int max_plans,
                                                         int64_t max_workspace, std::string* why);

}  // namespace dn4j::cuda
