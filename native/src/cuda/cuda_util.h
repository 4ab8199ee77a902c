// CUDA and cuDNN error checks, and device memory that counts itself (the GPU's "peak
// native bytes": every cudaMalloc of the backend, workspaces included, passes through here).
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <utility>

#include "../common/error.h"

namespace dn4j::cuda {

#define DN_CUDA(call)                                                                                    \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess) ::dn4j::fail("CUDA error ", cudaGetErrorName(e_), " (", cudaGetErrorString(e_), \
                                            ") in ", #call);                                             \
    } while (0)

#define DN_CUDNN(call)                                                                                    \
    do {                                                                                                  \
        cudnnStatus_t s_ = (call);                                                                        \
        if (s_ != CUDNN_STATUS_SUCCESS) ::dn4j::fail("cuDNN error ", cudnnGetErrorString(s_), " in ", #call); \
    } while (0)

/** Makes `device` current and gives the caller its own non-blocking stream and a cuDNN handle on
 *  it (one per engine or trainer: several on one GPU from several threads stay independent). */
inline void open_device(int device, cudaStream_t* stream, cudnnHandle_t* dnn) {
    int count = 0;
    DN_CUDA(cudaGetDeviceCount(&count));
    DN_CHECK(device >= 0 && device < count, "CUDA device ", device, " does not exist (", count, " device(s))");
    DN_CUDA(cudaSetDevice(device));
    DN_CUDA(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking));
    DN_CUDNN(cudnnCreate(dnn));
    DN_CUDNN(cudnnSetStream(*dnn, *stream));
}

/** Releases what open_device() made (either may be null). */
inline void close_device(cudaStream_t stream, cudnnHandle_t dnn) {
    if (dnn) cudnnDestroy(dnn);
    if (stream) cudaStreamDestroy(stream);
}

/** Calls `each(key, value)` for every "key=value" word of `text` (options of the CUDA backend
 *  and trainer); throws naming `what` on a word without '='. */
inline void for_each_option(const char* text, const char* what,
                            const std::function<void(const std::string&, const std::string&)>& each) {
    std::istringstream is(text ? text : "");
    std::string kv;
    while (is >> kv) {
        auto eq = kv.find('=');
        DN_CHECK(eq != std::string::npos, what, " option '", kv, "' is not key=value");
        each(kv.substr(0, eq), kv.substr(eq + 1));
    }
}

/** An option's value as 1 or 0. */
inline bool option_flag(const std::string& k, const std::string& v) {
    DN_CHECK(v == "1" || v == "0", "option ", k, " takes 1 or 0, got '", v, "'");
    return v == "1";
}

/** An option's value as a device number (>= 0). */
inline int option_device(const std::string& v) {
    char* end = nullptr;
    long d = std::strtol(v.c_str(), &end, 10);
    DN_CHECK(!v.empty() && *end == 0 && d >= 0 && d < 1024, "device must be a device number, got '", v, "'");
    return static_cast<int>(d);
}

/** An option's value in MiB, as bytes (0 to 1 TiB). */
inline size_t option_megabytes(const std::string& k, const std::string& v) {
    char* end = nullptr;
    long long mb = std::strtoll(v.c_str(), &end, 10);
    DN_CHECK(!v.empty() && *end == 0 && mb >= 0 && mb <= (1 << 20), k, " out of range: '", v, "'");
    return static_cast<size_t>(mb) << 20;
}

/** A short name of a legacy forward convolution algorithm, for describe(). */
inline const char* fwd_algo_name(cudnnConvolutionFwdAlgo_t a) {
    switch (a) {
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "implicit_gemm";
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "implicit_precomp_gemm";
        case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "gemm";
        case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "direct";
        case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "fft";
        case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "fft_tiling";
        case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "winograd";
        case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
        default: return "?";
    }
}

/** Device bytes held by this library now, and their high-water mark. */
int64_t device_bytes_in_use();
int64_t device_bytes_peak();
void device_bytes_reset_peak();

void* device_alloc(size_t bytes);
void device_free(void* p, size_t bytes);

/** An owning, counted device allocation (move-only); contents are uninitialised. */
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(size_t bytes) { resize(bytes); }
    ~DeviceBuffer() { reset(); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        if (this != &o) { reset(); p_ = o.p_; n_ = o.n_; o.p_ = nullptr; o.n_ = 0; }
        return *this;
    }
    void resize(size_t bytes) {
        if (bytes == n_) return;
        reset();
        if (bytes) { p_ = device_alloc(bytes); n_ = bytes; }
    }
    /** Grows (discarding contents) only when `bytes` exceeds the current size. */
    void reserve(size_t bytes) { if (bytes > n_) resize(bytes); }
    void reset() {
        if (p_) device_free(p_, n_);
        p_ = nullptr; n_ = 0;
    }
    template <typename T = void>
    T* get() const { return static_cast<T*>(p_); }
    size_t bytes() const { return n_; }

private:
    void* p_ = nullptr;
    size_t n_ = 0;
};

/** Pinned host memory (for copies that a CUDA Graph can capture). */
class PinnedBuffer {
public:
    PinnedBuffer() = default;
    ~PinnedBuffer() { reset(); }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
    void reserve(size_t bytes) {
        if (bytes <= n_) return;
        reset();
        DN_CUDA(cudaMallocHost(&p_, bytes));
        n_ = bytes;
    }
    void reset() {
        if (p_) cudaFreeHost(p_);
        p_ = nullptr; n_ = 0;
    }
    template <typename T = void>
    T* get() const { return static_cast<T*>(p_); }

private:
    void* p_ = nullptr;
    size_t n_ = 0;
};

}  // namespace dn4j::cuda
