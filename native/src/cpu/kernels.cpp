#include "kernels.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>

// Hot row loops are compiled for AVX-512, AVX2 and baseline x86-64; the loader picks one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DN_CLONES
#endif

namespace dn4j::cpu {
namespace {

DN_CLONES void bn_relu_row(const float* __restrict x, int C, const float* __restrict s, const float* __restrict b,
                           float* __restrict a) {
#pragma omp simd
    for (int c = 0; c < C; c++) a[c] = std::max(0.0f, x[c] * s[c] + b[c]);
}

DN_CLONES void bn_relu_pool_row(const float* __restrict x0, const float* __restrict x1, const float* __restrict x2,
                                const float* __restrict x3, int C, const float* __restrict s,
                                const float* __restrict b, float* __restrict a) {
#pragma omp simd
    for (int c = 0; c < C; c++) {
        float v0 = std::max(0.0f, x0[c] * s[c] + b[c]);
        float v1 = std::max(0.0f, x1[c] * s[c] + b[c]);
        float v2 = std::max(0.0f, x2[c] * s[c] + b[c]);
        float v3 = std::max(0.0f, x3[c] * s[c] + b[c]);
        a[c] = ((v0 + v1) + (v2 + v3)) * 0.25f;
    }
}

DN_CLONES void max_row(const float* __restrict x, int C, float* __restrict m) {
#pragma omp simd
    for (int c = 0; c < C; c++) m[c] = std::max(m[c], x[c]);
}

DN_CLONES void acc_bn_relu_row(const float* __restrict x, int C, const float* __restrict s,
                               const float* __restrict b, float* __restrict acc) {
#pragma omp simd
    for (int c = 0; c < C; c++) acc[c] += std::max(0.0f, x[c] * s[c] + b[c]);
}

bool nested() { return omp_in_parallel() != 0; }

}  // namespace

void bn_relu_rows(const float* x, int64_t ldx, int64_t rows, int C, const float* scale, const float* shift,
                  float* a, int64_t lda) {
#pragma omp parallel for schedule(static) if (!nested() && rows * C > 16384)
    for (int64_t r = 0; r < rows; r++) bn_relu_row(x + r * ldx, C, scale, shift, a + r * lda);
}

void bn_relu_avgpool2_rows(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0, int64_t rows,
                           int C, const float* scale, const float* shift, float* a) {
    (void)H;
#pragma omp parallel for schedule(static) if (!nested() && rows * C > 8192)
    for (int64_t r = 0; r < rows; r++) {
        int64_t p = p0 + r;
        int64_t img = p / (static_cast<int64_t>(Ho) * Wo);
        int64_t rem = p % (static_cast<int64_t>(Ho) * Wo);
        int oy = static_cast<int>(rem / Wo), ox = static_cast<int>(rem % Wo);
        const float* base = x + ((img * H + 2 * oy) * W + 2 * ox) * ldx;
        bn_relu_pool_row(base, base + ldx, base + W * ldx, base + (W + 1) * ldx, C, scale, shift, a + r * C);
    }
}

void nchw_to_nhwc(const float* src, int64_t n, int C, int H, int W, float* dst) {
    int64_t hw = static_cast<int64_t>(H) * W;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t p = 0; p < hw; p++) {
            const float* s = src + i * C * hw + p;
            float* d = dst + (i * hw + p) * C;
            for (int c = 0; c < C; c++) d[c] = s[c * hw];
        }
}

void maxpool(const float* src, int64_t n, int H, int W, int C, int k, int s, int p, float* dst, int64_t ldd,
             int Ho, int Wo) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float* d = dst + ((i * Ho + oy) * Wo + ox) * ldd;
                for (int c = 0; c < C; c++) d[c] = -std::numeric_limits<float>::infinity();
                for (int ky = 0; ky < k; ky++) {
                    int y = oy * s - p + ky;
                    if (y < 0 || y >= H) continue;
                    for (int kx = 0; kx < k; kx++) {
                        int xx = ox * s - p + kx;
                        if (xx < 0 || xx >= W) continue;
                        max_row(src + ((i * H + y) * W + xx) * C, C, d);
                    }
                }
            }
}

void copy_rows(const float* src, int64_t lds, int64_t rows, int C, float* dst, int64_t ldd) {
#pragma omp parallel for schedule(static) if (!nested() && rows * C > 16384)
    for (int64_t r = 0; r < rows; r++)
        std::memcpy(dst + r * ldd, src + r * lds, static_cast<size_t>(C) * sizeof(float));
}

void bn_relu_gap(const float* x, int64_t n, int64_t HW, int C, int64_t ldx, const float* scale, const float* shift,
                 float* out) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float* o = out + i * C;
        std::fill(o, o + C, 0.0f);
        for (int64_t p = 0; p < HW; p++) acc_bn_relu_row(x + (i * HW + p) * ldx, C, scale, shift, o);
        float inv = 1.0f / static_cast<float>(HW);
        for (int c = 0; c < C; c++) o[c] *= inv;
    }
}

void fill(float* p, int64_t count, float v) {
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; i++) p[i] = v;
}

}  // namespace dn4j::cpu
