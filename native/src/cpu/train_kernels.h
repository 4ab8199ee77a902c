// CPU loops for training: BatchNorm statistics, BN-ReLU backward (with the three ways its
// upstream gradient arrives: dense, from a 2x2 average pool, from a global average pool),
// max-pool backward, dropout masks, softmax cross-entropy and the SGD update. NHWC rows.
#pragma once
#include <cstdint>

namespace dn4j::cpu {

/** Per-channel mean and biased variance over `rows` rows of x (row stride ldx), computed in double. */
void channel_stats(const float* x, int64_t ldx, int64_t rows, int C, double* mean, double* var);

/** How the gradient of a BN-ReLU's output reaches it. */
struct GradIn {
    enum Kind { DENSE, POOL2, GAP } kind = DENSE;
    const float* g = nullptr;  // DENSE: (rows, ldg); POOL2: (N, Ho, Wo, ldg); GAP: (N, ldg)
    int64_t ldg = 0;
    int H = 0, W = 0;          // spatial size of the BN input (POOL2, GAP)
};

/**
 * Backward of y = relu(x * scale + shift) with batch-statistics BatchNorm
 * (scale = gamma * invstd, shift = beta - mean * scale), in two passes:
 *  reduce: sum_g[c] = sum of g, sum_gx[c] = sum of g * xhat over rows, g = dy * (y > 0);
 *  apply:  dx = scale * (g - sum_g / M - xhat * sum_gx / M), written or added.
 * dgamma = sum_gx, dbeta = sum_g (PyTorch's native_batch_norm_backward). The ReLU mask is
 * computed exactly as the forward computed y, so the two always agree on its sign.
 */
void bn_relu_backward_reduce(const float* x, int64_t ldx, int64_t rows, int C, const float* mean, const float* invstd,
                             const float* scale, const float* shift, const GradIn& dy, double* sum_g, double* sum_gx);
void bn_relu_backward_apply(const float* x, int64_t ldx, int64_t rows, int C, const float* mean, const float* invstd,
                            const float* scale, const float* shift, const GradIn& dy, const double* sum_g,
                            const double* sum_gx, float* dx, int64_t lddx, bool accumulate);

/** Max-pool backward: dz (n, H, W, C) dense += dout (n, Ho, Wo, ldo) routed to each window's first
 *  maximum of z = relu(x * scale + shift) (x dense, C channels), PyTorch's tie rule. */
void maxpool_backward(const float* x, const float* scale, const float* shift, int64_t n, int H, int W, int C, int k,
                      int s, int p, const float* dout, int64_t ldo, int Ho, int Wo, float* dz);

/** Dropout on `rows` x C values (stride ld), in place: kept values scaled by 1/(1-p). The mask is a
 *  pure function of (seed, element index), so recomputation replays it exactly. */
void dropout(float* x, int64_t ld, int64_t rows, int C, float p, uint64_t seed);

/** Mean softmax cross-entropy of logits (n, K) against labels; writes dlogits = (softmax - onehot) / n. */
double softmax_cross_entropy(const float* logits, const int64_t* labels, int64_t n, int K, float* dlogits);

/** SGD with momentum and weight decay, PyTorch's semantics (torch.optim.SGD, dampening 0):
 *  d = g + wd * p; buf = first ? d : momentum * buf + d; d = nesterov ? d + momentum * buf : buf; p -= lr * d. */
void sgd_update(float* p, const float* g, float* buf, int64_t count, float lr, float momentum, float wd, bool nesterov,
                bool first);

}  // namespace dn4j::cpu
