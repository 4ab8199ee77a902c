// Element types of the CUDA kernels: T is float, __half or __nv_bfloat16; ld<T> widens an
// element to fp32 (every computation runs in fp32), st<T> rounds an fp32 result to T.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace dn4j::cuda {

template <typename T> __device__ __forceinline__ float ld(T v);
template <> __device__ __forceinline__ float ld<float>(float v) { return v; }
template <> __device__ __forceinline__ float ld<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float ld<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T st(float v);
template <> __device__ __forceinline__ float st<float>(float v) { return v; }
template <> __device__ __forceinline__ __half st<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 st<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

}  // namespace dn4j::cuda
