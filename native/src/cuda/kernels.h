// Own CUDA kernels of the inference path (all NHWC; T is float, __half or __nv_bfloat16;
// BatchNorm parameters and every accumulation are fp32; indices are 64-bit).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace dn4j::cuda {

/** (n, c, h, w) float32 NCHW -> (n, h, w, c) T NHWC. */
template <typename T>
void nchw_to_nhwc(const float* in, int64_t n, int c, int64_t hw, T* out, cudaStream_t s);
/** uint8 (n, hw, c) to T NHWC as (x / 255 - mean[ch]) / std[ch]; norm = mean[0..c) then std[0..c), on the device. */
template <typename T>
void u8_nhwc_normalize(const uint8_t* in, int64_t n, int c, int64_t hw, const float* norm, T* out, cudaStream_t s);

/** dst[r, j] = relu(src[r * ldx + j] * scale[j] + shift[j]) for j < cin; dst dense (rows, cin). */
template <typename T>
void bn_relu_rows(const T* src, int64_t rows, int64_t ldx, int cin, const float* scale, const float* shift, T* dst,
                  cudaStream_t s);

/** The same followed by a 2x2/2 average pool (PyTorch AvgPool2d(2, 2): floor, no padding):
 *  src (n, h, w) pixels with row stride ldx, dst (n, h/2, w/2, cin) dense. */
template <typename T>
void bn_relu_avgpool2(const T* src, int64_t n, int h, int w, int64_t ldx, int cin, const float* scale,
                      const float* shift, T* dst, cudaStream_t s);

/** dst[r * ldd + j] = act(src[r * lds + j] + bias[j]) for j < cout (bias may be null; act is
 *  ReLU or identity). src == dst with lds == ldd is allowed (in place). */
template <typename T>
void bias_act_copy(const T* src, int64_t lds, int64_t rows, int cout, const float* bias, bool relu, T* dst,
                   int64_t ldd, cudaStream_t s);

/** Max pool k x k, stride st, padding p (padding never wins), src (n, h, w, c) dense,
 *  dst (n, ho, wo) pixels with row stride ldd. */
template <typename T>
void maxpool(const T* src, int64_t n, int h, int w, int c, int k, int st, int p, T* dst, int64_t ldd, int ho, int wo,
             cudaStream_t s);

/** pooled[i, j] = mean over pixels of relu(src[i, p, j] * scale[j] + shift[j]), fp32 out. */
template <typename T>
void bn_relu_gap(const T* src, int64_t n, int64_t hw, int c, const float* scale, const float* shift, float* pooled,
                 cudaStream_t s);

/** out[i, o] = bias[o] + sum_j x[i, j] * w[o, j]; all fp32 (PyTorch's nn.Linear). */
void linear(const float* x, int64_t n, int c, const float* w, const float* bias, int classes, float* out,
            cudaStream_t s);

/** Fills `count` elements with a quiet NaN. */
template <typename T>
void fill_nan(T* p, int64_t count, cudaStream_t s);

/** dst[i] = float(src[i]) / T(src[i]). */
template <typename T>
void to_float(const T* src, int64_t count, float* dst, cudaStream_t s);
template <typename T>
void from_float(const float* src, int64_t count, T* dst, cudaStream_t s);

}  // namespace dn4j::cuda
