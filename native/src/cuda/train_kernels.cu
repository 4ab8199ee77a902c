// Own CUDA kernels of the trainer; see train_kernels.h for the contracts. Element-wise passes
// take consecutive channels on consecutive threads (coalesced NHWC rows); per-channel
// reductions give each block 32 channels x 8 row lanes over one fixed segment of rows.
#include <algorithm>
#include <cmath>

#include "../common/dropout.h"
#include "cuda_util.h"
#include "dtype.h"
#include "maxpool_window.cuh"
#include "kernels.h"
#include "train_kernels.h"

namespace dn4j::cuda::train {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kIndex32 = int64_t{1} << 30;  // below this many elements, 32-bit index arithmetic
constexpr int kMaxSegments = 512;               // row segments of a reduction (partial sums per channel)
constexpr int kLanes = 8;                       // row lanes per reduction block (x 32 channels)

inline unsigned blocks_for(int64_t work) {
    int64_t b = (work + kThreads - 1) / kThreads;
    return static_cast<unsigned>(b < 1 ? 1 : (b > 1048576 ? 1048576 : b));  // grid-stride beyond that
}

inline void check_launch() { DN_CUDA(cudaGetLastError()); }

/** Row `row`'s upstream gradient (a channel vector times *factor), or null where there is none. */
template <typename G, typename I>
__device__ __forceinline__ const G* grad_row(const GradInT<G>& d, I row, float* factor) {
    if (d.kind == GradKind::DENSE) {
        *factor = 1.0f;
        return d.g + row * I(d.ldg);
    }
    I hw = I(d.H) * d.W;
    I img = row / hw;
    if (d.kind == GradKind::GAP) {
        *factor = 1.0f / static_cast<float>(hw);
        return d.g + img * I(d.ldg);
    }
    I rem = row - img * hw;
    int y = static_cast<int>(rem / d.W), x = static_cast<int>(rem % d.W);
    int ho = d.H / 2, wo = d.W / 2;
    if (y / 2 >= ho || x / 2 >= wo) return nullptr;  // rows/cols the floor-mode pool drops
    *factor = 0.25f;
    return d.g + ((img * ho + y / 2) * wo + x / 2) * I(d.ldg);
}

// ------------------------------------------------------------------ deterministic channel sums
template <typename T>
struct SumX {
    const T* x;
    int64_t ldx;
    __device__ void operator()(int64_t r, int c, float& a, float& b) const {
        a = ld<T>(x[r * ldx + c]);
        b = 0.f;
    }
};

template <typename T>
struct CentredSq {
    const T* x;
    int64_t ldx;
    const float* m;
    __device__ void operator()(int64_t r, int c, float& a, float& b) const {
        float d = ld<T>(x[r * ldx + c]) - m[c];
        a = d * d;
        b = 0.f;
    }
};

template <typename T, typename G>
struct BnBackwardTerms {
    const T* x;
    int64_t ldx;
    const float *mean, *invstd, *scale, *shift;
    GradInT<G> dy;
    __device__ void operator()(int64_t r, int c, float& a, float& b) const {
        float f = 0.f;
        const G* gr = grad_row<G, int64_t>(dy, r, &f);
        if (!gr) {
            a = b = 0.f;
            return;
        }
        float xv = ld<T>(x[r * ldx + c]);
        float xh = (xv - mean[c]) * invstd[c];
        float gv = f * ld<G>(gr[c]);
        float g = (xv * scale[c] + shift[c] > 0.0f) ? gv : 0.0f;
        a = g;
        b = g * xh;
    }
};

/** partial[seg, c, 0..1] = the two sums of f over rows [seg * per_seg, (seg + 1) * per_seg). */
template <class F>
__global__ void __launch_bounds__(32 * kLanes) k_reduce(F f, int64_t rows, int C, int64_t per_seg, double* partial) {
    int tx = threadIdx.x, ty = threadIdx.y;
    int c = blockIdx.x * 32 + tx;
    int64_t seg = blockIdx.y;
    int64_t r0 = seg * per_seg, r1 = r0 + per_seg < rows ? r0 + per_seg : rows;
    double da = 0.0, db = 0.0;
    if (c < C) {
        float fa = 0.f, fb = 0.f;
        int cnt = 0;
        for (int64_t r = r0 + ty; r < r1; r += kLanes) {
            float a, b;
            f(r, c, a, b);
            fa += a;
            fb += b;
            if (++cnt == 64) {  // fp32 over at most 64 rows, then fp64 (as the CPU)
                da += fa;
                db += fb;
                fa = fb = 0.f;
                cnt = 0;
            }
        }
        da += fa;
        db += fb;
    }
    __shared__ double sa[kLanes][32], sb[kLanes][32];
    sa[ty][tx] = da;
    sb[ty][tx] = db;
    __syncthreads();
    if (ty == 0 && c < C) {
        double a = 0.0, b = 0.0;
        for (int y = 0; y < kLanes; y++) {
            a += sa[y][tx];
            b += sb[y][tx];
        }
        partial[(seg * C + c) * 2] = a;
        partial[(seg * C + c) * 2 + 1] = b;
    }
}

__global__ void k_reduce_final(const double* __restrict__ partial, int segs, int C, double* __restrict__ sums) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double a = 0.0, b = 0.0;
    for (int s = 0; s < segs; s++) {
        a += partial[(int64_t(s) * C + c) * 2];
        b += partial[(int64_t(s) * C + c) * 2 + 1];
    }
    sums[2 * c] = a;
    sums[2 * c + 1] = b;
}

/** Both sums of f over all rows into rs.sums (C, 2), fp64. */
template <class F>
void channel_sums(F f, int64_t rows, int C, const ReduceScratch& rs, cudaStream_t s) {
    DN_CHECK(C > 0 && C <= rs.max_c, "channel reduction over ", C, " channels, scratch sized for ", rs.max_c);
    int64_t segs = std::min<int64_t>(kMaxSegments, std::max<int64_t>(1, (rows + 127) / 128));
    int64_t per = (rows + segs - 1) / segs;
    segs = std::max<int64_t>(1, (rows + per - 1) / per);
    dim3 grid(static_cast<unsigned>((C + 31) / 32), static_cast<unsigned>(segs));
    k_reduce<F><<<grid, dim3(32, kLanes), 0, s>>>(f, rows, C, per, rs.partial);
    check_launch();
    k_reduce_final<<<(C + 127) / 128, 128, 0, s>>>(rs.partial, static_cast<int>(segs), C, rs.sums);
    check_launch();
}

__global__ void k_stats_mean(const double* __restrict__ sums, int64_t rows, int C, double* __restrict__ meand,
                             float* __restrict__ mean) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double m = sums[2 * c] / static_cast<double>(rows);
    meand[c] = m;
    mean[c] = static_cast<float>(m);
}

__global__ void k_stats_final(const double* __restrict__ sums, const double* __restrict__ meand, int64_t rows, int C,
                              const float* __restrict__ gamma, const float* __restrict__ beta,
                              const float* __restrict__ mean, float* __restrict__ invstd, float* __restrict__ scale,
                              float* __restrict__ shift, float* __restrict__ rmean, float* __restrict__ rvar,
                              bool update) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    // centred on the fp32 mean; correct for its rounding (var = E[(x-m)^2] - (mean-m)^2)
    double e = meand[c] - static_cast<double>(mean[c]);
    double v = fmax(0.0, sums[2 * c] / static_cast<double>(rows) - e * e);
    float is = static_cast<float>(1.0 / sqrt(v + 1e-5));
    float sc = __fmul_rn(gamma[c], is);
    invstd[c] = is;
    scale[c] = sc;
    shift[c] = __fsub_rn(beta[c], __fmul_rn(mean[c], sc));
    if (update) {
        double unbias = rows > 1 ? static_cast<double>(rows) / static_cast<double>(rows - 1) : 1.0;
        rmean[c] = static_cast<float>(0.9 * rmean[c] + 0.1 * meand[c]);
        rvar[c] = static_cast<float>(0.9 * rvar[c] + 0.1 * v * unbias);
    }
}

__global__ void k_backward_final(const double* __restrict__ sums, int64_t rows, int C, float* __restrict__ dgamma,
                                 float* __restrict__ dbeta, float* __restrict__ mg, float* __restrict__ mgx) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    dbeta[c] = static_cast<float>(sums[2 * c]);
    dgamma[c] = static_cast<float>(sums[2 * c + 1]);
    mg[c] = static_cast<float>(sums[2 * c] / static_cast<double>(rows));
    mgx[c] = static_cast<float>(sums[2 * c + 1] / static_cast<double>(rows));
}

template <typename T, typename G, typename I>
__global__ void k_bn_backward_apply(const T* x, I ldx, I rows, int C, const float* __restrict__ mean,
                                    const float* __restrict__ invstd, const float* __restrict__ scale,
                                    const float* __restrict__ shift, GradInT<G> dy, const float* __restrict__ mg,
                                    const float* __restrict__ mgx, T* dx, I lddx, bool accumulate) {
    I total = rows * C;
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        I r = i / C;
        int c = static_cast<int>(i - r * C);
        float f = 0.f;
        const G* gr = grad_row<G, I>(dy, r, &f);
        float gv = gr ? f * ld<G>(gr[c]) : 0.f;  // no upstream gradient here: g = 0
        float xv = ld<T>(x[r * ldx + c]);
        float xh = (xv - mean[c]) * invstd[c];
        float g = (xv * scale[c] + shift[c] > 0.0f) ? gv : 0.0f;
        float v = scale[c] * (g - mg[c] - xh * mgx[c]);
        T* d = dx + r * lddx + c;
        *d = accumulate ? st<T>(ld<T>(*d) + v) : st<T>(v);  // the sum in fp32, rounded once
    }
}

// ------------------------------------------------------------------ element-wise
template <typename T, typename I>
__global__ void k_dropout(T* x, I total, uint64_t seed, uint64_t threshold, float keep) {
    for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
        x[i] = dropped(seed, static_cast<uint64_t>(i), threshold) ? st<T>(0.0f) : st<T>(ld<T>(x[i]) * keep);
    }
}

template <typename T>
__global__ void k_maxpool_backward(const T* __restrict__ z, int64_t n, int H, int W, int C, int k, int stv, int p,
                                   const T* __restrict__ dout, int64_t ldo, int Ho, int Wo, T* __restrict__ dz) {
    int64_t total = n * H * W * C;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        int c = static_cast<int>(i % C);
        int64_t pix = i / C;
        int x = static_cast<int>(pix % W), y = static_cast<int>((pix / W) % H);
        int64_t img = pix / (int64_t(W) * H);
        // the windows that contain (y, x): oy * stv - p <= y <= oy * stv - p + k - 1
        int lo_y = y + p - k + 1, lo_x = x + p - k + 1;
        int oy0 = lo_y <= 0 ? 0 : (lo_y + stv - 1) / stv, oy1 = min(Ho - 1, (y + p) / stv);
        int ox0 = lo_x <= 0 ? 0 : (lo_x + stv - 1) / stv, ox1 = min(Wo - 1, (x + p) / stv);
        float acc = 0.f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++) {
                int by, bx;  // where the window's max is: the gradient goes there
                maxpool_window(z, img, H, W, C, c, oy, ox, k, stv, p, &by, &bx);
                if (by == y && bx == x) acc += ld<T>(dout[((img * Ho + oy) * Wo + ox) * ldo + c]);
            }
        dz[i] = st<T>(acc);
    }
}

__global__ void k_softmax_xent(const float* __restrict__ logits, const int64_t* __restrict__ labels, int64_t n, int K,
                               float* __restrict__ dlogits, double* __restrict__ loss_rows, double grad_scale) {
    int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    const float* l = logits + i * K;
    int64_t y = labels[i];
    double m = l[0];
    for (int j = 1; j < K; j++) m = fmax(m, static_cast<double>(l[j]));
    double sum = 0.0;
    for (int j = 0; j < K; j++) sum += exp(static_cast<double>(l[j]) - m);
    double lse = m + log(sum);
    loss_rows[i] = lse - l[y];
    for (int j = 0; j < K; j++) {
        double pj = exp(static_cast<double>(l[j]) - lse);
        // times the loss scale in fp64 (a power of two: exact; 1 without mixed precision)
        dlogits[i * K + j] = static_cast<float>((pj - (j == y ? 1.0 : 0.0)) / static_cast<double>(n) * grad_scale);
    }
}

__global__ void k_mean_loss(const double* __restrict__ loss_rows, int64_t n, double* __restrict__ loss) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += loss_rows[i];  // the CPU's order
    *loss = s / static_cast<double>(n);
}

__global__ void k_linear_dw(const float* __restrict__ dl, const float* __restrict__ pooled, int64_t n, int C, int K,
                            float* __restrict__ dw) {
    int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (t >= int64_t(K) * C) return;
    int o = static_cast<int>(t / C), j = static_cast<int>(t % C);
    float acc = 0.f;
    for (int64_t i = 0; i < n; i++) acc += dl[i * K + o] * pooled[i * C + j];
    dw[t] = acc;
}

__global__ void k_linear_db(const float* __restrict__ dl, int64_t n, int K, float* __restrict__ db) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= K) return;
    float acc = 0.f;
    for (int64_t i = 0; i < n; i++) acc += dl[i * K + o];
    db[o] = acc;
}

__global__ void k_linear_dx(const float* __restrict__ dl, const float* __restrict__ w, int64_t n, int C, int K,
                            float* __restrict__ dx) {
    int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (t >= n * C) return;
    int64_t i = t / C;
    int j = static_cast<int>(t % C);
    float acc = 0.f;
    for (int o = 0; o < K; o++) acc += dl[i * K + o] * w[int64_t(o) * C + j];
    dx[t] = acc;
}

__global__ void k_sgd(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ buf, int64_t count,
                      float lr, float momentum, float wd, bool nesterov, bool first) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
        float d = g[i] + wd * p[i];
        if (momentum != 0.0f) {
            float b = first ? d : momentum * buf[i] + d;
            buf[i] = b;
            d = nesterov ? d + momentum * b : b;
        }
        p[i] -= lr * d;
    }
}

/** Each thread scales its grid-stride share and notes a non-finite value; one OR per block. */
__global__ void k_unscale_check(float* __restrict__ g, int64_t count, float inv_scale, int* __restrict__ found_inf) {
    int bad = 0;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
        float v = g[i], u = v * inv_scale;
        if (!isfinite(v) || !isfinite(u)) bad = 1;  // what sgd_step would apply must be finite too
        g[i] = u;
    }
    // every thread of the block reaches this (the loop's bound is per thread, the barrier is not in it)
    if (__syncthreads_or(bad) && threadIdx.x == 0) *found_inf = 1;
}

size_t align256(size_t b) { return (b + 255) / 256 * 256; }

}  // namespace

size_t reduce_scratch_bytes(int max_c) {
    size_t c = static_cast<size_t>(std::max(1, max_c));
    return align256(size_t{kMaxSegments} * c * 2 * sizeof(double)) + align256(c * 2 * sizeof(double)) +
           align256(c * sizeof(double)) + 2 * align256(c * sizeof(float));
}

ReduceScratch carve_reduce_scratch(void* base, int max_c) {
    size_t c = static_cast<size_t>(std::max(1, max_c));
    char* p = static_cast<char*>(base);
    ReduceScratch rs;
    rs.max_c = max_c;
    rs.partial = reinterpret_cast<double*>(p);
    p += align256(size_t{kMaxSegments} * c * 2 * sizeof(double));
    rs.sums = reinterpret_cast<double*>(p);
    p += align256(c * 2 * sizeof(double));
    rs.mean = reinterpret_cast<double*>(p);
    p += align256(c * sizeof(double));
    rs.mg = reinterpret_cast<float*>(p);
    p += align256(c * sizeof(float));
    rs.mgx = reinterpret_cast<float*>(p);
    return rs;
}

template <typename T>
void bn_stats(const T* x, int64_t ldx, int64_t rows, int C, const float* gamma, const float* beta, float* mean,
              float* invstd, float* scale, float* shift, float* running_mean, float* running_var, bool update,
              const ReduceScratch& rs, cudaStream_t s) {
    DN_CHECK(rows > 0, "BatchNorm over an empty batch");
    unsigned g = static_cast<unsigned>((C + 127) / 128);
    channel_sums(SumX<T>{x, ldx}, rows, C, rs, s);
    k_stats_mean<<<g, 128, 0, s>>>(rs.sums, rows, C, rs.mean, mean);
    check_launch();
    channel_sums(CentredSq<T>{x, ldx, mean}, rows, C, rs, s);
    k_stats_final<<<g, 128, 0, s>>>(rs.sums, rs.mean, rows, C, gamma, beta, mean, invstd, scale, shift, running_mean,
                                    running_var, update);
    check_launch();
}

template <typename T, typename G>
void bn_relu_backward(const T* x, int64_t ldx, int64_t rows, int C, const float* mean, const float* invstd,
                      const float* scale, const float* shift, const GradInT<G>& dy, float* dgamma, float* dbeta, T* dx,
                      int64_t lddx, bool accumulate, const ReduceScratch& rs, cudaStream_t s) {
    channel_sums(BnBackwardTerms<T, G>{x, ldx, mean, invstd, scale, shift, dy}, rows, C, rs, s);
    k_backward_final<<<(C + 127) / 128, 128, 0, s>>>(rs.sums, rows, C, dgamma, dbeta, rs.mg, rs.mgx);
    check_launch();
    int64_t total = rows * C;
    int64_t span = std::max({rows * ldx, rows * lddx, dy.kind == GradKind::DENSE ? rows * dy.ldg : int64_t{0}});
    if (total < kIndex32 && span < kIndex32)
        k_bn_backward_apply<T, G, int32_t><<<blocks_for(total), kThreads, 0, s>>>(
            x, static_cast<int32_t>(ldx), static_cast<int32_t>(rows), C, mean, invstd, scale, shift, dy, rs.mg, rs.mgx,
            dx, static_cast<int32_t>(lddx), accumulate);
    else
        k_bn_backward_apply<T, G, int64_t><<<blocks_for(total), kThreads, 0, s>>>(
            x, ldx, rows, C, mean, invstd, scale, shift, dy, rs.mg, rs.mgx, dx, lddx, accumulate);
    check_launch();
}

template <typename T>
void copy_rows(const T* src, int64_t lds, int64_t rows, int C, T* dst, int64_t ldd, cudaStream_t s) {
    bias_act_copy<T>(src, lds, rows, C, nullptr, false, dst, ldd, s);
}

template <typename T>
void dropout(T* x, int64_t rows, int C, uint64_t seed, uint64_t threshold, float keep, cudaStream_t s) {
    int64_t total = rows * C;
    if (total < kIndex32)
        k_dropout<T, int32_t><<<blocks_for(total), kThreads, 0, s>>>(x, static_cast<int32_t>(total), seed, threshold,
                                                                      keep);
    else k_dropout<T, int64_t><<<blocks_for(total), kThreads, 0, s>>>(x, total, seed, threshold, keep);
    check_launch();
}

template <typename T>
void maxpool_backward(const T* z, int64_t n, int H, int W, int C, int k, int stv, int p, const T* dout, int64_t ldo,
                      int Ho, int Wo, T* dz, cudaStream_t s) {
    k_maxpool_backward<T><<<blocks_for(n * H * W * C), kThreads, 0, s>>>(z, n, H, W, C, k, stv, p, dout, ldo, Ho, Wo,
                                                                         dz);
    check_launch();
}

void softmax_cross_entropy(const float* logits, const int64_t* labels, int64_t n, int K, float* dlogits,
                           double* loss_rows, double* loss, cudaStream_t s, double grad_scale) {
    k_softmax_xent<<<static_cast<unsigned>((n + 127) / 128), 128, 0, s>>>(logits, labels, n, K, dlogits, loss_rows,
                                                                           grad_scale);
    check_launch();
    k_mean_loss<<<1, 1, 0, s>>>(loss_rows, n, loss);
    check_launch();
}

void linear_backward(const float* dlogits, const float* pooled, const float* w, int64_t n, int C, int K, float* dw,
                     float* db, float* dpooled, cudaStream_t s) {
    k_linear_dw<<<blocks_for(int64_t(K) * C), kThreads, 0, s>>>(dlogits, pooled, n, C, K, dw);
    check_launch();
    k_linear_db<<<(K + 127) / 128, 128, 0, s>>>(dlogits, n, K, db);
    check_launch();
    k_linear_dx<<<blocks_for(n * C), kThreads, 0, s>>>(dlogits, w, n, C, K, dpooled);
    check_launch();
}

void sgd_update(float* p, const float* g, float* buf, int64_t count, float lr, float momentum, float wd, bool nesterov,
                bool first, cudaStream_t s) {
    if (count == 0) return;
    k_sgd<<<blocks_for(count), kThreads, 0, s>>>(p, g, buf, count, lr, momentum, wd, nesterov, first);
    check_launch();
}

void unscale_check(float* g, int64_t count, float inv_scale, int* found_inf, cudaStream_t s) {
    if (count == 0) return;
    k_unscale_check<<<std::min<unsigned>(blocks_for(count), 4096), kThreads, 0, s>>>(g, count, inv_scale, found_inf);
    check_launch();
}

#define DN4J_TRAIN_INSTANTIATE(T)                                                                               \
    template void bn_stats<T>(const T*, int64_t, int64_t, int, const float*, const float*, float*, float*, float*, \
                              float*, float*, float*, bool, const ReduceScratch&, cudaStream_t);                   \
    template void bn_relu_backward<T, T>(const T*, int64_t, int64_t, int, const float*, const float*,              \
                                         const float*, const float*, const GradInT<T>&, float*, float*, T*,        \
                                         int64_t, bool, const ReduceScratch&, cudaStream_t);                       \
    template void copy_rows<T>(const T*, int64_t, int64_t, int, T*, int64_t, cudaStream_t);                        \
    template void dropout<T>(T*, int64_t, int, uint64_t, uint64_t, float, cudaStream_t);                           \
    template void maxpool_backward<T>(const T*, int64_t, int, int, int, int, int, int, const T*, int64_t, int,     \
                                      int, T*, cudaStream_t);
DN4J_TRAIN_INSTANTIATE(float)
DN4J_TRAIN_INSTANTIATE(__half)
DN4J_TRAIN_INSTANTIATE(__nv_bfloat16)
// the head: a half block's BN-ReLU fed by the fp32 gradient of the global average pool
template void bn_relu_backward<__half, float>(const __half*, int64_t, int64_t, int, const float*, const float*,
                                              const float*, const float*, const GradInT<float>&, float*, float*,
                                              __half*, int64_t, bool, const ReduceScratch&, cudaStream_t);
template void bn_relu_backward<__nv_bfloat16, float>(const __nv_bfloat16*, int64_t, int64_t, int, const float*,
                                                     const float*, const float*, const float*, const GradInT<float>&,
                                                     float*, float*, __nv_bfloat16*, int64_t, bool,
                                                     const ReduceScratch&, cudaStream_t);

}  // namespace dn4j::cuda::train
