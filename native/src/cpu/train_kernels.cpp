#include "train_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/dropout.h"

namespace dn4j::cpu {
namespace {

/** Where row `row`'s upstream gradient lives: a channel vector times a factor, or nothing (zero). */
inline const float* grad_row(const GradIn& d, int64_t row, float* factor) {
    switch (d.kind) {
        case GradIn::DENSE:
            *factor = 1.0f;
            return d.g + row * d.ldg;
        case GradIn::POOL2: {
            int64_t hw = static_cast<int64_t>(d.H) * d.W;
            int64_t img = row / hw, rem = row % hw;
            int y = static_cast<int>(rem / d.W), x = static_cast<int>(rem % d.W);
            int ho = d.H / 2, wo = d.W / 2;
            if (y / 2 >= ho || x / 2 >= wo) return nullptr;  // rows/cols the floor-mode pool drops
            *factor = 0.25f;
            return d.g + ((img * ho + y / 2) * wo + x / 2) * d.ldg;
        }
        case GradIn::GAP: {
            int64_t hw = static_cast<int64_t>(d.H) * d.W;
            *factor = 1.0f / static_cast<float>(hw);
            return d.g + (row / hw) * d.ldg;
        }
    }
    return nullptr;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DN_CLONES
#endif

/** One row of the BN-ReLU backward reduction: fs += g, fq += g * xhat (g = f * gr masked by y > 0). */
DN_CLONES void reduce_row(const float* __restrict xr, const float* __restrict gr, float f, int C,
                          const float* __restrict mean, const float* __restrict invstd, const float* __restrict scale,
                          const float* __restrict shift, float* __restrict fs, float* __restrict fq) {
#pragma omp simd
    for (int c = 0; c < C; c++) {
        float xh = (xr[c] - mean[c]) * invstd[c];
        float gv = f * gr[c];
        float g = (xr[c] * scale[c] + shift[c] > 0.0f) ? gv : 0.0f;
        fs[c] += g;
        fq[c] += g * xh;
    }
}

/** One row of the BN-ReLU backward: d (+)= k * (g - mg - xhat * mgx). */
DN_CLONES void apply_row(const float* __restrict xr, const float* __restrict gr, float f, int C,
                         const float* __restrict mean, const float* __restrict invstd, const float* __restrict scale,
                         const float* __restrict shift, const float* __restrict mg,
                         const float* __restrict mgx, float* d, bool accumulate) {
    if (accumulate) {
#pragma omp simd
        for (int c = 0; c < C; c++) {
            float xh = (xr[c] - mean[c]) * invstd[c];
            float gv = f * gr[c];
            float g = (xr[c] * scale[c] + shift[c] > 0.0f) ? gv : 0.0f;
            d[c] += scale[c] * (g - mg[c] - xh * mgx[c]);
        }
    } else {
#pragma omp simd
        for (int c = 0; c < C; c++) {
            float xh = (xr[c] - mean[c]) * invstd[c];
            float gv = f * gr[c];
            float g = (xr[c] * scale[c] + shift[c] > 0.0f) ? gv : 0.0f;
            d[c] = scale[c] * (g - mg[c] - xh * mgx[c]);
        }
    }
}

}  // namespace

namespace {

DN_CLONES void sum_row(const float* __restrict xr, int C, float* __restrict fs) {
#pragma omp simd
    for (int c = 0; c < C; c++) fs[c] += xr[c];
}

DN_CLONES void centered_sq_row(const float* __restrict xr, const float* __restrict m, int C, float* __restrict fq) {
#pragma omp simd
    for (int c = 0; c < C; c++) {
        float d = xr[c] - m[c];
        fq[c] += d * d;
    }
}

/**
 * Two per-channel sums over `rows` rows, in double: each thread adds blocks of 64 rows in float
 * (row(r, fs, fq) adds row r), then its block totals in double; the threads' totals are added last.
 */
template <typename Row>
void channel_sums(int64_t rows, int C, double* sum_a, double* sum_b, Row row) {
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    std::vector<double> s(static_cast<size_t>(nt) * C, 0.0), q(static_cast<size_t>(nt) * C, 0.0);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num();
        double* ps = s.data() + static_cast<size_t>(t) * C;
        double* pq = q.data() + static_cast<size_t>(t) * C;
        std::vector<float> fs(C), fq(C);
#pragma omp for schedule(static)
        for (int64_t r0 = 0; r0 < rows; r0 += 64) {
            std::fill(fs.begin(), fs.end(), 0.0f);
            std::fill(fq.begin(), fq.end(), 0.0f);
            int64_t r1 = std::min(rows, r0 + 64);
            for (int64_t r = r0; r < r1; r++) row(r, fs.data(), fq.data());
            for (int c = 0; c < C; c++) {
                ps[c] += fs[c];
                pq[c] += fq[c];
            }
        }
    }
    for (int c = 0; c < C; c++) {
        double a = 0, b = 0;
        for (int t = 0; t < nt; t++) {
            a += s[static_cast<size_t>(t) * C + c];
            b += q[static_cast<size_t>(t) * C + c];
        }
        sum_a[c] = a;
        sum_b[c] = b;
    }
}

}  // namespace

void channel_stats(const float* x, int64_t ldx, int64_t rows, int C, double* mean, double* var) {
    // two passes (mean, then centred squares): E[x^2] - E[x]^2 loses digits when |mean| >> std
    std::vector<double> sum(C), sq(C), unused(C);
    channel_sums(rows, C, sum.data(), unused.data(), [&](int64_t r, float* fs, float*) { sum_row(x + r * ldx, C, fs); });
    std::vector<float> m(C);
    for (int c = 0; c < C; c++) {
        mean[c] = sum[c] / static_cast<double>(rows);
        m[c] = static_cast<float>(mean[c]);
    }
    channel_sums(rows, C, unused.data(), sq.data(), [&](int64_t r, float*, float* fq) { centered_sq_row(x + r * ldx, m.data(), C, fq); });
    for (int c = 0; c < C; c++) {
        // centred on the float-rounded mean; correct for its rounding (var = E[(x-m)^2] - (mean-m)^2)
        double e = mean[c] - static_cast<double>(m[c]);
        var[c] = std::max(0.0, sq[c] / static_cast<double>(rows) - e * e);
    }
}

void bn_relu_backward_reduce(const float* x, int64_t ldx, int64_t rows, int C, const float* mean, const float* invstd,
                             const float* scale, const float* shift, const GradIn& dy, double* sum_g, double* sum_gx) {
    channel_sums(rows, C, sum_g, sum_gx, [&](int64_t r, float* fs, float* fq) {
        float f = 0.0f;
        const float* gr = grad_row(dy, r, &f);
        if (gr) reduce_row(x + r * ldx, gr, f, C, mean, invstd, scale, shift, fs, fq);
    });
}

void bn_relu_backward_apply(const float* x, int64_t ldx, int64_t rows, int C, const float* mean, const float* invstd,
                            const float* scale, const float* shift, const GradIn& dy, const double* sum_g,
                            const double* sum_gx, float* dx, int64_t lddx, bool accumulate) {
    std::vector<float> mg(C), mgx(C), zeros(C, 0.0f);
    for (int c = 0; c < C; c++) {
        mg[c] = static_cast<float>(sum_g[c] / static_cast<double>(rows));
        mgx[c] = static_cast<float>(sum_gx[c] / static_cast<double>(rows));
    }
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int64_t r = 0; r < rows; r++) {
        const float* xr = x + r * ldx;
        float* d = dx + r * lddx;
        float f = 0.0f;
        const float* gr = grad_row(dy, r, &f);
        if (!gr) f = 0.0f, gr = zeros.data();  // no upstream gradient here: g = 0
        apply_row(xr, gr, f, C, mean, invstd, scale, shift, mg.data(), mgx.data(), d, accumulate);
    }
}

void maxpool_backward(const float* x, const float* scale, const float* shift, int64_t n, int H, int W, int C, int k,
                      int s, int p, const float* dout, int64_t ldo, int Ho, int Wo, float* dz) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {  // one image per thread: no two threads touch the same dz
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++)
                for (int c = 0; c < C; c++) {
                    float best = -INFINITY;
                    int64_t at = -1;
                    for (int ky = 0; ky < k; ky++) {
                        int y = oy * s - p + ky;
                        if (y < 0 || y >= H) continue;
                        for (int kx = 0; kx < k; kx++) {
                            int xx = ox * s - p + kx;
                            if (xx < 0 || xx >= W) continue;
                            int64_t idx = ((i * H + y) * W + xx) * C + c;
                            float z = std::max(0.0f, x[idx] * scale[c] + shift[c]);
                            if (z > best || std::isnan(z)) {
                                best = z;
                                at = idx;
                            }
                        }
                    }
                    if (at >= 0) dz[at] += dout[((i * Ho + oy) * Wo + ox) * ldo + c];
                }
    }
}

void dropout(float* x, int64_t ld, int64_t rows, int C, float p, uint64_t seed) {
    if (p <= 0.0f) return;
    float keep = 1.0f / (1.0f - p);
    uint64_t threshold = dropout_threshold(p);
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int64_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++)
            x[r * ld + c] = dropped(seed, static_cast<uint64_t>(r * C + c), threshold) ? 0.0f : x[r * ld + c] * keep;
}

double softmax_cross_entropy(const float* logits, const int64_t* labels, int64_t n, int K, float* dlogits) {
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        const float* l = logits + i * K;
        double m = l[0];
        for (int j = 1; j < K; j++) m = std::max(m, static_cast<double>(l[j]));
        double sum = 0;
        for (int j = 0; j < K; j++) sum += std::exp(l[j] - m);
        double lse = m + std::log(sum);
        loss += lse - l[labels[i]];
        for (int j = 0; j < K; j++) {
            double pj = std::exp(l[j] - lse);
            dlogits[i * K + j] = static_cast<float>((pj - (j == labels[i] ? 1.0 : 0.0)) / static_cast<double>(n));
        }
    }
    return loss / static_cast<double>(n);
}

void sgd_update(float* p, const float* g, float* buf, int64_t count, float lr, float momentum, float wd, bool nesterov,
                bool first) {
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; i++) {
        float d = g[i] + wd * p[i];
        if (momentum != 0.0f) {
            buf[i] = first ? d : momentum * buf[i] + d;
            d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

}  // namespace dn4j::cpu
