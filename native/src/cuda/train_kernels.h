// Own CUDA kernels of the trainer (cuda_trainer.cu), NHWC rows (a row is one pixel's
// channels; a channel slice of a block buffer is rows with a stride ld > C). They mirror the
// CPU loops of native/src/cpu/train_kernels.h, with the same contracts. Activations and their
// gradients are T (float, __half or __nv_bfloat16: instantiated for all three); BatchNorm
// parameters and statistics, every sum, the head and the parameters' gradients are fp32.
//
// Reductions are deterministic: every per-channel sum runs over fixed row segments (fp32
// within at most 64 rows per thread, then fp64), whose partial sums a second kernel adds in
// a fixed order. No float atomics anywhere, so a run repeats bit for bit. Indices are 64-bit.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dn4j::cuda::train {

struct GradKind {
    enum Kind { DENSE = 0, POOL2 = 1, GAP = 2 };
};

/** How the gradient of a BN-ReLU's output reaches it (the CPU's GradIn); G is its element
 *  type (the head's GAP gradient is fp32 whatever the activations). */
template <typename G>
struct GradInT : GradKind {
    Kind kind = DENSE;
    const G* g = nullptr;  // DENSE: (rows, ldg); POOL2: (N, H/2, W/2, ldg); GAP: (N, ldg)
    int64_t ldg = 0;
    int H = 0, W = 0;      // spatial size of the BN input (POOL2, GAP)
};
using GradIn = GradInT<float>;

/** Scratch of the per-channel reductions, sized by reduce_scratch_bytes(C). */
struct ReduceScratch {
    double* partial = nullptr;  // (segments, C, 2)
    double* sums = nullptr;     // (C, 2)
    double* mean = nullptr;     // (C), fp64 batch mean
    float* mg = nullptr;        // (C), sum_g / rows
    float* mgx = nullptr;       // (C), sum_gx / rows
    int max_c = 0;
};
/** Bytes of a ReduceScratch for up to `max_c` channels (carve() lays them out). */
size_t reduce_scratch_bytes(int max_c);
ReduceScratch carve_reduce_scratch(void* base, int max_c);

/**
 * BatchNorm forward statistics over `rows` rows of x (stride ldx), C channels, as the CPU:
 * two passes (mean; centred squares about the fp32-rounded mean, corrected for its rounding),
 * biased variance. Writes mean, invstd = 1/sqrt(var + 1e-5), scale = gamma * invstd,
 * shift = beta - mean * scale; when `update`, running_mean/var <- 0.9 * old + 0.1 * batch
 * (the variance unbiased by rows / (rows - 1)). All per-channel arrays are device fp32 (C).
 */
template <typename T>
void bn_stats(const T* x, int64_t ldx, int64_t rows, int C, const float* gamma, const float* beta, float* mean,
              float* invstd, float* scale, float* shift, float* running_mean, float* running_var, bool update,
              const ReduceScratch& rs, cudaStream_t s);

/**
 * Backward of y = relu(x * scale + shift) (batch-statistics BatchNorm) given dy: sets
 * dgamma = sum(g * xhat), dbeta = sum(g) (g = dy masked by y > 0), then writes (or, with
 * `accumulate`, adds) dx = scale * (g - sum_g / rows - xhat * sum_gx / rows) into dx
 * (stride lddx). dx may be dy itself (DENSE, same stride): each element is read before it
 * is written. The ReLU mask is x * scale + shift > 0 in fp32 on the T values of x.
 */
template <typename T, typename G>
void bn_relu_backward(const T* x, int64_t ldx, int64_t rows, int C, const float* mean, const float* invstd,
                      const float* scale, const float* shift, const GradInT<G>& dy, float* dgamma, float* dbeta, T* dx,
                      int64_t lddx, bool accumulate, const ReduceScratch& rs, cudaStream_t s);

/** dst[r * ldd + c] = src[r * lds + c] for c < C (a copy between dense rows and a slice). */
template <typename T>
void copy_rows(const T* src, int64_t lds, int64_t rows, int C, T* dst, int64_t ldd, cudaStream_t s);

/** Dropout in place on dense (rows, C): element e = r * C + c is zeroed when
 *  mix64(seed ^ mix64(e)) < threshold, else scaled by keep; the CPU trainer's rule bit for bit. */
template <typename T>
void dropout(T* x, int64_t rows, int C, uint64_t seed, uint64_t threshold, float keep, cudaStream_t s);

/** Max-pool backward for the ImageNet stem: dz (n, H, W, C) dense = the sum of dout
 *  (n, Ho, Wo, ldo) over the windows whose first maximum of z (dense, as the forward pooled
 *  it) is that element (PyTorch's tie rule, NaN wins). Written, not added; gathers, no atomics. */
template <typename T>
void maxpool_backward(const T* z, int64_t n, int H, int W, int C, int k, int st, int p, const T* dout, int64_t ldo,
                      int Ho, int Wo, T* dz, cudaStream_t s);

/** Mean softmax cross-entropy of logits (n, K) against labels (int64, checked by the caller)
 *  in fp64: dlogits = (softmax - onehot) / n * grad_scale (fp32; the loss scale of mixed
 *  precision, 1 otherwise: exact), *loss (device fp64) = the mean, unscaled. */
void softmax_cross_entropy(const float* logits, const int64_t* labels, int64_t n, int K, float* dlogits,
                           double* loss_rows, double* loss, cudaStream_t s, double grad_scale = 1.0);

/** The head's linear backward: dw (K, C) = dlogits^T pooled, db (K) = column sums of dlogits,
 *  dpooled (n, C) = dlogits w. */
void linear_backward(const float* dlogits, const float* pooled, const float* w, int64_t n, int C, int K, float* dw,
                     float* db, float* dpooled, cudaStream_t s);

/** torch.optim.SGD (dampening 0) over `count` values:
 *  d = g + wd * p; buf = first ? d : momentum * buf + d; d = nesterov ? d + momentum * buf : buf; p -= lr * d. */
void sgd_update(float* p, const float* g, float* buf, int64_t count, float lr, float momentum, float wd, bool nesterov,
                bool first, cudaStream_t s);

/** Mixed precision (torch's _amp_foreach_non_finite_check_and_unscale_): g *= inv_scale over
 *  `count` values, and *found_inf = 1 when any value was inf or NaN before or after the
 *  scaling (left as it was when none; the caller zeroes it). Per-block OR reductions, no
 *  float atomics. */
void unscale_check(float* g, int64_t count, float inv_scale, int* found_inf, cudaStream_t s);

}  // namespace dn4j::cuda::train
