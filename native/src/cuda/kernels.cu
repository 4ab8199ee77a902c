// Own CUDA kernels: memory-bound element-wise passes, written for coalesced NHWC access
// (consecutive threads take consecutive channels). See kernels.h for the contracts.
#include <algorithm>
#include <cmath>

#include "cuda_util.h"
#include "dtype.h"
#include "maxpool_window.cuh"
#include "kernels.h"

namespace dn4j::cuda {
namespace {

constexpr int kThreads = 256;
// Below this many elements a kernel indexes with int32 (grid-stride steps stay under 2^28).
constexpr int64_t kIndex32 = int64_t{1} << 30;

inline unsigned blocks_for(int64_t work) {
    int64_t b = (work + kThreads - 1) / kThreads;
    return static_cast<unsigned>(b < 1 ? 1 : (b > 1048576 ? 1048576 : b));  // grid-stride beyond that
}

inline void check_launch() { DN_CUDA(cudaGetLastError()); }

template <typename T, typename I>
__global__ void k_nchw_to_nhwc(const float* __restrict__ in, I n, int c, I hw, T* __restrict__ out) {
    I total = n * c * hw;
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        I ch = i % c, pix = i / c, img = pix / hw, p = pix % hw;
        out[i] = st<T>(in[(img * c + ch) * hw + p]);
    }
}

// norm: mean[0..c) then std[0..c); the same float32 operations as ToTensor + Normalize
template <typename T, typename I>
__global__ void k_u8_nhwc_normalize(const uint8_t* __restrict__ in, I total, int c, const float* __restrict__ norm,
                                    T* __restrict__ out) {
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        int ch = static_cast<int>(i % c);
        out[i] = st<T>((static_cast<float>(in[i]) / 255.f - norm[ch]) / norm[c + ch]);
    }
}

// One thread per 16 bytes of channels where alignment allows (V elements), else one per element.
template <typename T, int V, typename I>
__global__ void k_bn_relu_rows(const T* __restrict__ src, I rows, I ldx, int cin,
                               const float* __restrict__ scale, const float* __restrict__ shift, T* __restrict__ dst) {
    int groups = cin / V;
    I total = rows * groups;
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        I r = i / groups;
        int j0 = static_cast<int>(i % groups) * V;
        if constexpr (V == 1) {
            dst[r * cin + j0] = st<T>(fmaxf(ld<T>(src[r * ldx + j0]) * scale[j0] + shift[j0], 0.f));
        } else {
            union { uint4 u; T e[V]; } a, b;
            a.u = *reinterpret_cast<const uint4*>(src + r * ldx + j0);
#pragma unroll
            for (int v = 0; v < V; v++) b.e[v] = st<T>(fmaxf(ld<T>(a.e[v]) * scale[j0 + v] + shift[j0 + v], 0.f));
            *reinterpret_cast<uint4*>(dst + r * cin + j0) = b.u;
        }
    }
}

template <typename T, typename I>
__global__ void k_bn_relu_avgpool2(const T* __restrict__ src, I n, int h, int w, I ldx, int cin,
                                   const float* __restrict__ scale, const float* __restrict__ shift,
                                   T* __restrict__ dst) {
    int ho = h / 2, wo = w / 2;
    I total = n * ho * wo * cin;
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        int j = static_cast<int>(i % cin);
        I pix = i / cin;
        int x = static_cast<int>(pix % wo), y = static_cast<int>((pix / wo) % ho);
        I img = pix / (I(wo) * ho);
        float sc = scale[j], sh = shift[j], acc = 0.f;
#pragma unroll
        for (int dy = 0; dy < 2; dy++)
#pragma unroll
            for (int dx = 0; dx < 2; dx++) {
                I p = (img * h + 2 * y + dy) * w + 2 * x + dx;
                acc += fmaxf(ld<T>(src[p * ldx + j]) * sc + sh, 0.f);
            }
        dst[i] = st<T>(acc * 0.25f);
    }
}

template <typename T, typename I>
__global__ void k_bias_act_copy(const T* src, I lds, I rows, int cout, const float* __restrict__ bias,
                                bool relu, T* dst, I ldd) {
    I total = rows * cout;
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        I r = i / cout;
        int j = static_cast<int>(i % cout);
        float v = ld<T>(src[r * lds + j]);
        if (bias) v += bias[j];
        if (relu) v = fmaxf(v, 0.f);
        dst[r * ldd + j] = st<T>(v);
    }
}

template <typename T, typename I>
__global__ void k_maxpool(const T* __restrict__ src, I n, int h, int w, int c, int k, int stv, int p,
                          T* __restrict__ dst, I ldd, int ho, int wo) {
    I total = n * ho * wo * c;
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        int j = static_cast<int>(i % c);
        I pix = i / c;
        int x = static_cast<int>(pix % wo), y = static_cast<int>((pix / wo) % ho);
        I img = pix / (I(wo) * ho);
        int at_y, at_x;
        dst[pix * ldd + j] = st<T>(maxpool_window(src, img, h, w, c, j, y, x, k, stv, p, &at_y, &at_x));
    }
}

template <typename T, typename I>
__global__ void k_bn_relu_gap(const T* __restrict__ src, I hw, int c, const float* __restrict__ scale,
                              const float* __restrict__ shift, float* __restrict__ pooled) {
    I img = blockIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    float sc = scale[j], sh = shift[j], acc = 0.f;
    const T* base = src + img * hw * c + j;
    for (I p = 0; p < hw; p++) acc += fmaxf(ld<T>(base[p * c]) * sc + sh, 0.f);
    pooled[img * c + j] = acc / static_cast<float>(hw);
}

// One warp per output: lanes stride over the input features, then a shuffle reduction.
__global__ void k_linear(const float* __restrict__ x, int64_t n, int c, const float* __restrict__ w,
                         const float* __restrict__ bias, int classes, float* __restrict__ out) {
    int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (warp >= n * classes) return;
    int64_t i = warp / classes;
    int o = static_cast<int>(warp % classes);
    float acc = 0.f;
    for (int j = lane; j < c; j += 32) acc += x[i * c + j] * w[int64_t(o) * c + j];
    for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
    if (lane == 0) out[warp] = acc + bias[o];
}

template <typename T, typename I>
__global__ void k_fill_nan(T* p, I count) {
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < count; i += I(gridDim.x) * blockDim.x)
        p[i] = st<T>(__int_as_float(0x7fc00000));
}

template <typename T, typename I>
__global__ void k_to_float(const T* __restrict__ src, I count, float* __restrict__ dst) {
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < count; i += I(gridDim.x) * blockDim.x)
        dst[i] = ld<T>(src[i]);
}

template <typename T, typename I>
__global__ void k_from_float(const float* __restrict__ src, I count, T* __restrict__ dst) {
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < count; i += I(gridDim.x) * blockDim.x)
        dst[i] = st<T>(src[i]);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

}  // namespace

// Launchers: 32-bit index arithmetic where the tensor allows it (64-bit division is slow on GPUs).
template <typename T>
void nchw_to_nhwc(const float* in, int64_t n, int c, int64_t hw, T* out, cudaStream_t s) {
    int64_t total = n * c * hw;
    if (total < kIndex32) k_nchw_to_nhwc<T, int32_t><<<blocks_for(total), kThreads, 0, s>>>(in, n, c, hw, out);
    else k_nchw_to_nhwc<T, int64_t><<<blocks_for(total), kThreads, 0, s>>>(in, n, c, hw, out);
    check_launch();
}

template <typename T>
void u8_nhwc_normalize(const uint8_t* in, int64_t n, int c, int64_t hw, const float* norm, T* out, cudaStream_t s) {
    int64_t total = n * c * hw;
    if (total < kIndex32) k_u8_nhwc_normalize<T, int32_t><<<blocks_for(total), kThreads, 0, s>>>(in, int32_t(total), c, norm, out);
    else k_u8_nhwc_normalize<T, int64_t><<<blocks_for(total), kThreads, 0, s>>>(in, total, c, norm, out);
    check_launch();
}

template <typename T>
void bn_relu_rows(const T* src, int64_t rows, int64_t ldx, int cin, const float* scale, const float* shift, T* dst,
                  cudaStream_t s) {
    constexpr int V = 16 / sizeof(T);
    bool small = rows * ldx < kIndex32;
    if (cin % V == 0 && ldx % V == 0 && aligned16(src) && aligned16(dst)) {
        unsigned g = blocks_for(rows * (cin / V));
        if (small) k_bn_relu_rows<T, V, int32_t><<<g, kThreads, 0, s>>>(src, rows, ldx, cin, scale, shift, dst);
        else k_bn_relu_rows<T, V, int64_t><<<g, kThreads, 0, s>>>(src, rows, ldx, cin, scale, shift, dst);
    } else {
        unsigned g = blocks_for(rows * cin);
        if (small) k_bn_relu_rows<T, 1, int32_t><<<g, kThreads, 0, s>>>(src, rows, ldx, cin, scale, shift, dst);
        else k_bn_relu_rows<T, 1, int64_t><<<g, kThreads, 0, s>>>(src, rows, ldx, cin, scale, shift, dst);
    }
    check_launch();
}

template <typename T>
void bn_relu_avgpool2(const T* src, int64_t n, int h, int w, int64_t ldx, int cin, const float* scale,
                      const float* shift, T* dst, cudaStream_t s) {
    unsigned g = blocks_for(n * (h / 2) * (w / 2) * cin);
    if (n * h * w * ldx < kIndex32)
        k_bn_relu_avgpool2<T, int32_t><<<g, kThreads, 0, s>>>(src, n, h, w, ldx, cin, scale, shift, dst);
    else
        k_bn_relu_avgpool2<T, int64_t><<<g, kThreads, 0, s>>>(src, n, h, w, ldx, cin, scale, shift, dst);
    check_launch();
}

template <typename T>
void bias_act_copy(const T* src, int64_t lds, int64_t rows, int cout, const float* bias, bool relu, T* dst,
                   int64_t ldd, cudaStream_t s) {
    unsigned g = blocks_for(rows * cout);
    if (rows * std::max(lds, ldd) < kIndex32)
        k_bias_act_copy<T, int32_t><<<g, kThreads, 0, s>>>(src, lds, rows, cout, bias, relu, dst, ldd);
    else
        k_bias_act_copy<T, int64_t><<<g, kThreads, 0, s>>>(src, lds, rows, cout, bias, relu, dst, ldd);
    check_launch();
}

template <typename T>
void maxpool(const T* src, int64_t n, int h, int w, int c, int k, int st, int p, T* dst, int64_t ldd, int ho, int wo,
             cudaStream_t s) {
    unsigned g = blocks_for(n * ho * wo * c);
    if (n * h * w * c < kIndex32 && n * ho * wo * ldd < kIndex32)
        k_maxpool<T, int32_t><<<g, kThreads, 0, s>>>(src, n, h, w, c, k, st, p, dst, ldd, ho, wo);
    else
        k_maxpool<T, int64_t><<<g, kThreads, 0, s>>>(src, n, h, w, c, k, st, p, dst, ldd, ho, wo);
    check_launch();
}

template <typename T>
void bn_relu_gap(const T* src, int64_t n, int64_t hw, int c, const float* scale, const float* shift, float* pooled,
                 cudaStream_t s) {
    dim3 grid((c + 127) / 128, static_cast<unsigned>(n));
    DN_CHECK(n <= 65535, "head: batch ", n, " over 65535 images");
    k_bn_relu_gap<T, int64_t><<<grid, 128, 0, s>>>(src, hw, c, scale, shift, pooled);
    check_launch();
}

void linear(const float* x, int64_t n, int c, const float* w, const float* bias, int classes, float* out,
            cudaStream_t s) {
    int64_t threads = n * classes * 32;
    k_linear<<<static_cast<unsigned>((threads + kThreads - 1) / kThreads), kThreads, 0, s>>>(x, n, c, w, bias, classes,
                                                                                           out);
    check_launch();
}

template <typename T>
void fill_nan(T* p, int64_t count, cudaStream_t s) {
    k_fill_nan<T, int64_t><<<blocks_for(count), kThreads, 0, s>>>(p, count);
    check_launch();
}

template <typename T>
void to_float(const T* src, int64_t count, float* dst, cudaStream_t s) {
    k_to_float<T, int64_t><<<blocks_for(count), kThreads, 0, s>>>(src, count, dst);
    check_launch();
}

template <typename T>
void from_float(const float* src, int64_t count, T* dst, cudaStream_t s) {
    k_from_float<T, int64_t><<<blocks_for(count), kThreads, 0, s>>>(src, count, dst);
    check_launch();
}

#define DN4J_INSTANTIATE(T)                                                                                          \
    template void nchw_to_nhwc<T>(const float*, int64_t, int, int64_t, T*, cudaStream_t);                            \
    template void u8_nhwc_normalize<T>(const uint8_t*, int64_t, int, int64_t, const float*, T*, cudaStream_t);       \
    template void bn_relu_rows<T>(const T*, int64_t, int64_t, int, const float*, const float*, T*, cudaStream_t);    \
    template void bn_relu_avgpool2<T>(const T*, int64_t, int, int, int64_t, int, const float*, const float*, T*,     \
                                      cudaStream_t);                                                                 \
    template void bias_act_copy<T>(const T*, int64_t, int64_t, int, const float*, bool, T*, int64_t, cudaStream_t);         \
    template void maxpool<T>(const T*, int64_t, int, int, int, int, int, int, T*, int64_t, int, int, cudaStream_t);  \
    template void bn_relu_gap<T>(const T*, int64_t, int64_t, int, const float*, const float*, float*, cudaStream_t); \
    template void fill_nan<T>(T*, int64_t, cudaStream_t);                                                            \
    template void to_float<T>(const T*, int64_t, float*, cudaStream_t);                                              \
    template void from_float<T>(const float*, int64_t, T*, cudaStream_t);
DN4J_INSTANTIATE(float)
DN4J_INSTANTIATE(__half)
DN4J_INSTANTIATE(__nv_bfloat16)

// ------------------------------------------------------------------ device memory accounting
namespace {
std::atomic<int64_t> g_in_use{0}, g_peak{0};
}

int64_t device_bytes_in_use() { return g_in_use.load(); }
int64_t device_bytes_peak() { return g_peak.load(); }
void device_bytes_reset_peak() { g_peak.store(g_in_use.load()); }

void* device_alloc(size_t bytes) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        cudaGetLastError();  // clear the sticky-free error state of a failed allocation
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        fail("CUDA out of memory: cannot allocate ", bytes, " bytes (", free_b, " of ", total_b,
             " bytes free on the device; this library holds ", g_in_use.load(), ")");
    }
    int64_t now = g_in_use.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes);
    int64_t pk = g_peak.load();
    while (now > pk && !g_peak.compare_exchange_weak(pk, now)) {}
    return p;
}

void device_free(void* p, size_t bytes) {
    if (!p) return;
    cudaFree(p);
    g_in_use.fetch_sub(static_cast<int64_t>(bytes));
}

}  // namespace dn4j::cuda
