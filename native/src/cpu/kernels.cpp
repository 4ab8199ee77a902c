#include "kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

// Hot row loops are compiled for AVX-512, AVX2 and baseline x86-64; the loader picks one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DN_CLONES
#endif

// The Winograd tile transforms also have AVX-512 intrinsics versions, used when the CPU has
// AVX-512 (checked at run time) and the channel count is a multiple of 16: a generic per-tile
// loop costs more in set-up than in arithmetic at 32 channels.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DN_AVX512 1
#define DN_TARGET_AVX512 __attribute__((target("avx512f")))
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

// a NaN wins, as in PyTorch's max_pool2d (std::max would drop it)
DN_CLONES void max_row(const float* __restrict x, int C, float* __restrict m) {
#pragma omp simd
    for (int c = 0; c < C; c++) m[c] = (x[c] > m[c] || x[c] != x[c]) ? x[c] : m[c];
}

DN_CLONES void acc_bn_relu_row(const float* __restrict x, int C, const float* __restrict s,
                               const float* __restrict b, float* __restrict acc) {
#pragma omp simd
    for (int c = 0; c < C; c++) acc[c] += std::max(0.0f, x[c] * s[c] + b[c]);
}

bool nested() { return omp_in_parallel() != 0; }

#if defined(__x86_64__) && defined(__GNUC__)
#define DN_TARGET_AVX2 __attribute__((target("avx2,fma")))
bool have_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}
// 32 floats (already max(0, .) and min(., 255)) to 32 uint8, rounded to nearest even
DN_TARGET_AVX2 inline void store_u8x32(uint8_t* p, __m256 v0, __m256 v1, __m256 v2, __m256 v3) {
    __m256i ab = _mm256_packs_epi32(_mm256_cvtps_epi32(v0), _mm256_cvtps_epi32(v1));
    __m256i cd = _mm256_packs_epi32(_mm256_cvtps_epi32(v2), _mm256_cvtps_epi32(v3));
    __m256i q = _mm256_packus_epi16(ab, cd);
    q = _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), q);
}
// min(255, max(0, x * s + b)); max(v, 0) returns 0 for a NaN v
DN_TARGET_AVX2 inline __m256 bn_relu_clamp8(const float* x, const float* s, const float* b, __m256 hi) {
    __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(s), _mm256_loadu_ps(b));
    return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), hi);
}
DN_TARGET_AVX2 int bn_relu_row_u8_avx2(const float* x, int C, const float* s, const float* b, float top, uint8_t* a) {
    __m256 hi = _mm256_set1_ps(top);
    int c = 0;
    for (; c + 32 <= C; c += 32)
        store_u8x32(a + c, bn_relu_clamp8(x + c, s + c, b + c, hi), bn_relu_clamp8(x + c + 8, s + c + 8, b + c + 8, hi),
                    bn_relu_clamp8(x + c + 16, s + c + 16, b + c + 16, hi),
                    bn_relu_clamp8(x + c + 24, s + c + 24, b + c + 24, hi));
    return c;
}
DN_TARGET_AVX2 inline __m256 pool8(const float* x0, const float* x1, const float* x2, const float* x3, const float* s,
                                   const float* b, __m256 hi) {
    __m256 sc = _mm256_loadu_ps(s), sh = _mm256_loadu_ps(b), z = _mm256_setzero_ps();
    __m256 v0 = _mm256_max_ps(_mm256_fmadd_ps(_mm256_loadu_ps(x0), sc, sh), z);
    __m256 v1 = _mm256_max_ps(_mm256_fmadd_ps(_mm256_loadu_ps(x1), sc, sh), z);
    __m256 v2 = _mm256_max_ps(_mm256_fmadd_ps(_mm256_loadu_ps(x2), sc, sh), z);
    __m256 v3 = _mm256_max_ps(_mm256_fmadd_ps(_mm256_loadu_ps(x3), sc, sh), z);
    __m256 v = _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(v0, v1), _mm256_add_ps(v2, v3)), _mm256_set1_ps(0.25f));
    return _mm256_min_ps(_mm256_max_ps(v, z), hi);
}
DN_TARGET_AVX2 int bn_relu_pool_row_u8_avx2(const float* x0, const float* x1, const float* x2, const float* x3, int C,
                                            const float* s, const float* b, float top, uint8_t* a) {
    __m256 hi = _mm256_set1_ps(top);
    int c = 0;
    for (; c + 32 <= C; c += 32)
        store_u8x32(a + c, pool8(x0 + c, x1 + c, x2 + c, x3 + c, s + c, b + c, hi),
                    pool8(x0 + c + 8, x1 + c + 8, x2 + c + 8, x3 + c + 8, s + c + 8, b + c + 8, hi),
                    pool8(x0 + c + 16, x1 + c + 16, x2 + c + 16, x3 + c + 16, s + c + 16, b + c + 16, hi),
                    pool8(x0 + c + 24, x1 + c + 24, x2 + c + 24, x3 + c + 24, s + c + 24, b + c + 24, hi));
    return c;
}
#else
bool have_avx2() { return false; }
int bn_relu_row_u8_avx2(const float*, int, const float*, const float*, float, uint8_t*) { return 0; }
int bn_relu_pool_row_u8_avx2(const float*, const float*, const float*, const float*, int, const float*, const float*,
                             float, uint8_t*) {
    return 0;
}
#endif

// uint8 rows (int8 inference), 32 channels at a time with AVX2 and the scalar loop for the rest
// (the same rounding, to nearest even; a NaN becomes 0: NaN > 0 is false)
inline uint8_t to_u8(float v, float top) { return static_cast<uint8_t>(std::lrint(std::min(v > 0.0f ? v : 0.0f, top))); }

void bn_relu_row_u8(const float* x, int C, const float* s, const float* b, float top, uint8_t* a) {
    int c = have_avx2() ? bn_relu_row_u8_avx2(x, C, s, b, top, a) : 0;
    for (; c < C; c++) a[c] = to_u8(x[c] * s[c] + b[c], top);
}

void bn_relu_pool_row_u8(const float* x0, const float* x1, const float* x2, const float* x3, int C, const float* s,
                         const float* b, float top, uint8_t* a) {
    int c = have_avx2() ? bn_relu_pool_row_u8_avx2(x0, x1, x2, x3, C, s, b, top, a) : 0;
    for (; c < C; c++) {
        float v0 = std::max(0.0f, x0[c] * s[c] + b[c]), v1 = std::max(0.0f, x1[c] * s[c] + b[c]);
        float v2 = std::max(0.0f, x2[c] * s[c] + b[c]), v3 = std::max(0.0f, x3[c] * s[c] + b[c]);
        a[c] = to_u8(((v0 + v1) + (v2 + v3)) * 0.25f, top);
    }
}

// B^T d B of one 4x4 input tile, p[4 * row + col] its 16 pixels, into v[a * ldv + c]:
// row pass t = B^T d, then column pass t B, with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
DN_CLONES void wino_in_tile(const float* const* p, int C, float* __restrict v, int64_t ldv) {
    const float *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3], *p4 = p[4], *p5 = p[5], *p6 = p[6], *p7 = p[7];
    const float *p8 = p[8], *p9 = p[9], *p10 = p[10], *p11 = p[11], *p12 = p[12], *p13 = p[13], *p14 = p[14],
                *p15 = p[15];
#pragma omp simd
    for (int c = 0; c < C; c++) {
        float t00 = p0[c] - p8[c], t01 = p1[c] - p9[c], t02 = p2[c] - p10[c], t03 = p3[c] - p11[c];
        float t10 = p4[c] + p8[c], t11 = p5[c] + p9[c], t12 = p6[c] + p10[c], t13 = p7[c] + p11[c];
        float t20 = p8[c] - p4[c], t21 = p9[c] - p5[c], t22 = p10[c] - p6[c], t23 = p11[c] - p7[c];
        float t30 = p4[c] - p12[c], t31 = p5[c] - p13[c], t32 = p6[c] - p14[c], t33 = p7[c] - p15[c];
        float* w = v + c;
        w[0 * ldv] = t00 - t02;
        w[1 * ldv] = t01 + t02;
        w[2 * ldv] = t02 - t01;
        w[3 * ldv] = t01 - t03;
        w[4 * ldv] = t10 - t12;
        w[5 * ldv] = t11 + t12;
        w[6 * ldv] = t12 - t11;
        w[7 * ldv] = t11 - t13;
        w[8 * ldv] = t20 - t22;
        w[9 * ldv] = t21 + t22;
        w[10 * ldv] = t22 - t21;
        w[11 * ldv] = t21 - t23;
        w[12 * ldv] = t30 - t32;
        w[13 * ldv] = t31 + t32;
        w[14 * ldv] = t32 - t31;
        w[15 * ldv] = t31 - t33;
    }
}

// A^T m A (+ bias, ReLU) of one tile, m[a * ldm + c], into the 2x2 pixels q[2 * row + col]
// (null: past the border), with A^T = [1 1 1 0; 0 1 -1 -1].
DN_CLONES void wino_out_tile(const float* __restrict m, int64_t ldm, int C, const float* __restrict bias, bool relu,
                             float* const* q) {
    float lo = relu ? 0.0f : -std::numeric_limits<float>::infinity();
    float y[4][64];  // blocks of 64 channels, so that the border test stays out of the vector loop
    // (max(y, lo), here and below: a NaN stays NaN, as in PyTorch)
    for (int c0 = 0; c0 < C; c0 += 64) {
        int n = std::min(64, C - c0);
#pragma omp simd
        for (int c = 0; c < n; c++) {
            const float* x = m + c0 + c;
            float t00 = x[0 * ldm] + x[4 * ldm] + x[8 * ldm], t01 = x[1 * ldm] + x[5 * ldm] + x[9 * ldm];
            float t02 = x[2 * ldm] + x[6 * ldm] + x[10 * ldm], t03 = x[3 * ldm] + x[7 * ldm] + x[11 * ldm];
            float t10 = x[4 * ldm] - x[8 * ldm] - x[12 * ldm], t11 = x[5 * ldm] - x[9 * ldm] - x[13 * ldm];
            float t12 = x[6 * ldm] - x[10 * ldm] - x[14 * ldm], t13 = x[7 * ldm] - x[11 * ldm] - x[15 * ldm];
            float b = bias ? bias[c0 + c] : 0.0f;
            y[0][c] = std::max(t00 + t01 + t02 + b, lo);
            y[1][c] = std::max(t01 - t02 - t03 + b, lo);
            y[2][c] = std::max(t10 + t11 + t12 + b, lo);
            y[3][c] = std::max(t11 - t12 - t13 + b, lo);
        }
        for (int k = 0; k < 4; k++)
            if (q[k]) std::memcpy(q[k] + c0, y[k], static_cast<size_t>(n) * sizeof(float));
    }
}

#ifdef DN_AVX512
bool have_avx512() {
    static const bool yes = __builtin_cpu_supports("avx512f");
    return yes;
}

DN_TARGET_AVX512 void wino_in_tile16(const float* const* p, int C, float* v, int64_t ldv) {
    for (int c = 0; c < C; c += 16) {
        __m512 d[16], t[16];
        for (int k = 0; k < 16; k++) d[k] = _mm512_loadu_ps(p[k] + c);
        for (int j = 0; j < 4; j++) {
            t[j] = _mm512_sub_ps(d[j], d[8 + j]);
            t[4 + j] = _mm512_add_ps(d[4 + j], d[8 + j]);
            t[8 + j] = _mm512_sub_ps(d[8 + j], d[4 + j]);
            t[12 + j] = _mm512_sub_ps(d[4 + j], d[12 + j]);
        }
        float* w = v + c;
        for (int i = 0; i < 4; i++) {
            _mm512_storeu_ps(w + (4 * i + 0) * ldv, _mm512_sub_ps(t[4 * i], t[4 * i + 2]));
            _mm512_storeu_ps(w + (4 * i + 1) * ldv, _mm512_add_ps(t[4 * i + 1], t[4 * i + 2]));
            _mm512_storeu_ps(w + (4 * i + 2) * ldv, _mm512_sub_ps(t[4 * i + 2], t[4 * i + 1]));
            _mm512_storeu_ps(w + (4 * i + 3) * ldv, _mm512_sub_ps(t[4 * i + 1], t[4 * i + 3]));
        }
    }
}

DN_TARGET_AVX512 void wino_out_tile16(const float* m, int64_t ldm, int C, const float* bias, bool relu,
                                      float* const* q) {
    __m512 lo = _mm512_set1_ps(relu ? 0.0f : -std::numeric_limits<float>::infinity());
    for (int c = 0; c < C; c += 16) {
        __m512 x[16], t[8];
        for (int k = 0; k < 16; k++) x[k] = _mm512_loadu_ps(m + k * ldm + c);
        for (int j = 0; j < 4; j++) {
            t[j] = _mm512_add_ps(_mm512_add_ps(x[j], x[4 + j]), x[8 + j]);
            t[4 + j] = _mm512_sub_ps(_mm512_sub_ps(x[4 + j], x[8 + j]), x[12 + j]);
        }
        __m512 b = bias ? _mm512_loadu_ps(bias + c) : _mm512_setzero_ps();
        for (int i = 0; i < 2; i++) {
            __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t[4 * i], t[4 * i + 1]), t[4 * i + 2]), b);
            __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(t[4 * i + 1], t[4 * i + 2]), t[4 * i + 3]), b);
            // max(lo, y) keeps a NaN y; the masked form because GCC 12 warns on the plain one
            if (q[2 * i]) _mm512_storeu_ps(q[2 * i] + c, _mm512_mask_max_ps(y0, 0xffff, lo, y0));
            if (q[2 * i + 1]) _mm512_storeu_ps(q[2 * i + 1] + c, _mm512_mask_max_ps(y1, 0xffff, lo, y1));
        }
    }
}
#endif

// Position (image, tile row, tile column) of tile t, stepped along as the tile loops go.
struct TileIter {
    int64_t img;
    int ty, tx, th, tw;
    TileIter(int64_t t, int H, int W) : th((H + 1) / 2), tw((W + 1) / 2) {
        img = t / (static_cast<int64_t>(th) * tw);
        int64_t r = t % (static_cast<int64_t>(th) * tw);
        ty = static_cast<int>(r / tw);
        tx = static_cast<int>(r % tw);
    }
    void next() {
        if (++tx < tw) return;
        tx = 0;
        if (++ty < th) return;
        ty = 0;
        img++;
    }
};


// bf16 rows: AVX512_BF16's VCVTNEPS2BF16 (round to nearest even, NaN kept) on 16 lanes, the
// scalar loops below (from channel c0) for the rest. Only called where cpu_has_bf16() (bf16 is
// refused elsewhere).
void bn_relu_row_bf16_from(int c0, const float* x, int C, const float* s, const float* b, bf16_t* a) {
    for (int c = c0; c < C; c++) a[c] = to_bf16(std::max(0.0f, x[c] * s[c] + b[c]));
}

void bn_relu_pool_row_bf16_from(int c0, const float* x0, const float* x1, const float* x2, const float* x3, int C,
                                const float* s, const float* b, bf16_t* a) {
    for (int c = c0; c < C; c++) {
        float v0 = std::max(0.0f, x0[c] * s[c] + b[c]), v1 = std::max(0.0f, x1[c] * s[c] + b[c]);
        float v2 = std::max(0.0f, x2[c] * s[c] + b[c]), v3 = std::max(0.0f, x3[c] * s[c] + b[c]);
        a[c] = to_bf16(((v0 + v1) + (v2 + v3)) * 0.25f);
    }
}

#ifdef DN_AVX512
#define DN_TARGET_BF16 __attribute__((target("avx512f,avx512bf16,avx512vl")))
DN_TARGET_BF16 inline void store_bf16(bf16_t* p, __m512 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
}

// max(0, x * s + b); the masked max because GCC 12 warns on the plain one
DN_TARGET_BF16 inline __m512 bn_relu16(const float* x, __m512 s, __m512 b) {
    __m512 zero = _mm512_setzero_ps();
    return _mm512_mask_max_ps(zero, 0xffff, zero, _mm512_fmadd_ps(_mm512_loadu_ps(x), s, b));
}

DN_TARGET_BF16 void bn_relu_row_bf16(const float* x, int C, const float* s, const float* b, bf16_t* a) {
    int c = 0;
    for (; c + 16 <= C; c += 16) store_bf16(a + c, bn_relu16(x + c, _mm512_loadu_ps(s + c), _mm512_loadu_ps(b + c)));
    bn_relu_row_bf16_from(c, x, C, s, b, a);
}

DN_TARGET_BF16 void bn_relu_pool_row_bf16(const float* x0, const float* x1, const float* x2, const float* x3, int C,
                                          const float* s, const float* b, bf16_t* a) {
    int c = 0;
    for (; c + 16 <= C; c += 16) {
        __m512 sc = _mm512_loadu_ps(s + c), sh = _mm512_loadu_ps(b + c);
        __m512 sum = _mm512_add_ps(_mm512_add_ps(bn_relu16(x0 + c, sc, sh), bn_relu16(x1 + c, sc, sh)),
                                   _mm512_add_ps(bn_relu16(x2 + c, sc, sh), bn_relu16(x3 + c, sc, sh)));
        store_bf16(a + c, _mm512_mul_ps(sum, _mm512_set1_ps(0.25f)));
    }
    bn_relu_pool_row_bf16_from(c, x0, x1, x2, x3, C, s, b, a);
}

DN_TARGET_BF16 void wino_in_tile16_bf16(const float* const* p, int C, bf16_t* v, int64_t ldv) {
    for (int c = 0; c < C; c += 16) {
        __m512 d[16], t[16];
        for (int k = 0; k < 16; k++) d[k] = _mm512_loadu_ps(p[k] + c);
        for (int j = 0; j < 4; j++) {
            t[j] = _mm512_sub_ps(d[j], d[8 + j]);
            t[4 + j] = _mm512_add_ps(d[4 + j], d[8 + j]);
            t[8 + j] = _mm512_sub_ps(d[8 + j], d[4 + j]);
            t[12 + j] = _mm512_sub_ps(d[4 + j], d[12 + j]);
        }
        bf16_t* w = v + c;
        for (int i = 0; i < 4; i++) {
            store_bf16(w + (4 * i + 0) * ldv, _mm512_sub_ps(t[4 * i], t[4 * i + 2]));
            store_bf16(w + (4 * i + 1) * ldv, _mm512_add_ps(t[4 * i + 1], t[4 * i + 2]));
            store_bf16(w + (4 * i + 2) * ldv, _mm512_sub_ps(t[4 * i + 2], t[4 * i + 1]));
            store_bf16(w + (4 * i + 3) * ldv, _mm512_sub_ps(t[4 * i + 1], t[4 * i + 3]));
        }
    }
}
#else
void bn_relu_row_bf16(const float* x, int C, const float* s, const float* b, bf16_t* a) {
    bn_relu_row_bf16_from(0, x, C, s, b, a);
}
void bn_relu_pool_row_bf16(const float* x0, const float* x1, const float* x2, const float* x3, int C, const float* s,
                           const float* b, bf16_t* a) {
    bn_relu_pool_row_bf16_from(0, x0, x1, x2, x3, C, s, b, a);
}
#endif

// The generic tile transform for a channel count that is not a multiple of 16: the float32
// transform into a stack block, then rounded.
void wino_in_tile_bf16(const float* const* p, int C, bf16_t* v, int64_t ldv) {
    float t[16 * 64];
    for (int c0 = 0; c0 < C; c0 += 64) {
        int n = std::min(64, C - c0);
        const float* q[16];
        for (int k = 0; k < 16; k++) q[k] = p[k] + c0;
        wino_in_tile(q, n, t, 64);
        for (int a = 0; a < 16; a++)
            for (int c = 0; c < n; c++) v[a * ldv + c0 + c] = to_bf16(t[a * 64 + c]);
    }
}


// The transition prologue's rows: for output pixels [p0, p0 + rows) of an (N, Ho, Wo) grid,
// row(r, top-left, top-right, bottom-left, bottom-right) with the four input rows of its window.
template <typename Row>
void pool_windows(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0, int64_t rows, int C, Row row) {
#pragma omp parallel for schedule(static) if (!nested() && rows * C > 8192)
    for (int64_t r = 0; r < rows; r++) {
        int64_t p = p0 + r;
        int64_t img = p / (static_cast<int64_t>(Ho) * Wo);
        int64_t rem = p % (static_cast<int64_t>(Ho) * Wo);
        int oy = static_cast<int>(rem / Wo), ox = static_cast<int>(rem % Wo);
        const float* base = x + ((img * H + 2 * oy) * W + 2 * ox) * ldx;
        row(r, base, base + ldx, base + W * ldx, base + (W + 1) * ldx);
    }
}

// Winograd input tiles [t0, t0 + len) of src (n, H, W, C): tile(k, p) with p[4 * row + col] the
// 16 pixels of tile t0 + k (`zeros` outside the image), in the calling thread.
template <typename Tile>
void input_tiles(const float* src, int H, int W, int C, int64_t t0, int64_t len, const float* zeros, Tile tile) {
    TileIter it(t0, H, W);
    for (int64_t k = 0; k < len; k++, it.next()) {
        const float* img = src + it.img * H * W * C;
        int y0 = 2 * it.ty - 1, x0 = 2 * it.tx - 1;
        const float* p[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int y = y0 + i, x = x0 + j;
                p[4 * i + j] = y >= 0 && y < H && x >= 0 && x < W ? img + (static_cast<int64_t>(y) * W + x) * C : zeros;
            }
        // The two rows the next tile row adds, a tile row ahead: large inputs come from
        // memory, and the hardware prefetcher alone leaves the loads waiting.
        for (int y = y0 + 4; y < y0 + 6 && y < H; y++) {
            int x = x0 + 2, cols = std::min(2, W - x);
            const char* b = reinterpret_cast<const char*>(img + (static_cast<int64_t>(y) * W + x) * C);
            for (int64_t o = 0; o < int64_t{4} * C * cols; o += 64) __builtin_prefetch(b + o, 0, 3);
        }
        tile(k, p);
    }
}

}  // namespace

void bn_relu_rows(const float* x, int64_t ldx, int64_t rows, int C, const float* scale, const float* shift,
                  float* a, int64_t lda) {
#pragma omp parallel for schedule(static) if (!nested() && rows * C > 16384)
    for (int64_t r = 0; r < rows; r++) bn_relu_row(x + r * ldx, C, scale, shift, a + r * lda);
}

void bn_relu_avgpool2_rows(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0, int64_t rows,
                           int C, const float* scale, const float* shift, float* a) {
    pool_windows(x, H, W, ldx, Ho, Wo, p0, rows, C, [&](int64_t r, const float* x0, const float* x1, const float* x2, const float* x3) {
        bn_relu_pool_row(x0, x1, x2, x3, C, scale, shift, a + r * C);
    });
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

void u8_nhwc_normalize(const uint8_t* src, int64_t n, int C, int H, int W, const float* mean, const float* std,
                       float* dst) {
    int64_t rows = n * H * W;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t* s = src + r * C;
        float* d = dst + r * C;
        // the same float32 operations, in the same order, as ToTensor + Normalize (ImageTransform)
        for (int c = 0; c < C; c++) d[c] = (static_cast<float>(s[c]) / 255.f - mean[c]) / std[c];
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

void winograd_weights(const float* w, int cout, int cin, float* u) {
    // G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++) {
            const float* g = w + (static_cast<int64_t>(o) * cin + i) * 9;
            float t[4][3];  // G g
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int r = 0; r < 4; r++) {
                float row[4] = {t[r][0], 0.5f * (t[r][0] + t[r][1] + t[r][2]), 0.5f * (t[r][0] - t[r][1] + t[r][2]),
                                t[r][2]};
                for (int col = 0; col < 4; col++) u[(static_cast<int64_t>(4 * r + col) * cin + i) * cout + o] = row[col];
            }
        }
}

void winograd_input(const float* src, int H, int W, int C, int64_t t0, int64_t len, const float* zeros, float* v,
                    int64_t ldv) {
#ifdef DN_AVX512
    if (C % 16 == 0 && have_avx512()) {
        input_tiles(src, H, W, C, t0, len, zeros, [&](int64_t k, const float* const* p) { wino_in_tile16(p, C, v + k * C, ldv); });
        return;
    }
#endif
    input_tiles(src, H, W, C, t0, len, zeros, [&](int64_t k, const float* const* p) { wino_in_tile(p, C, v + k * C, ldv); });
}

void winograd_output(const float* m, int64_t ldm, int H, int W, int C, int64_t t0, int64_t len, const float* bias,
                     bool relu, float* dst, int64_t ldd) {
#ifdef DN_AVX512
    bool wide = C % 16 == 0 && have_avx512();
#endif
    TileIter it(t0, H, W);
    for (int64_t k = 0; k < len; k++, it.next()) {
        float* img = dst + it.img * H * W * ldd;
        float* q[4];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                int y = 2 * it.ty + i, x = 2 * it.tx + j;
                q[2 * i + j] = y < H && x < W ? img + (static_cast<int64_t>(y) * W + x) * ldd : nullptr;
            }
#ifdef DN_AVX512
        if (wide) {
            wino_out_tile16(m + k * C, ldm, C, bias, relu, q);
            continue;
        }
#endif
        wino_out_tile(m + k * C, ldm, C, bias, relu, q);
    }
}

void fill(float* p, int64_t count, float v) {
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; i++) p[i] = v;
}

bool cpu_has_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
    static const bool yes = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vl");
    return yes;
#else
    return false;
#endif
}

bool cpu_has_vnni() {
#if defined(__x86_64__) && defined(__GNUC__)
    static const bool yes = __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
    return yes;
#else
    return false;
#endif
}

void to_bf16(const float* src, int64_t count, bf16_t* dst) {
#pragma omp parallel for schedule(static) if (!nested() && count > 65536)
    for (int64_t i = 0; i < count; i++) dst[i] = to_bf16(src[i]);
}

void bn_relu_rows_bf16(const float* x, int64_t ldx, int64_t rows, int C, const float* scale, const float* shift,
                       bf16_t* a, int64_t lda) {
#pragma omp parallel for schedule(static) if (!nested() && rows * C > 16384)
    for (int64_t r = 0; r < rows; r++) bn_relu_row_bf16(x + r * ldx, C, scale, shift, a + r * lda);
}

void bn_relu_avgpool2_rows_bf16(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0,
                                int64_t rows, int C, const float* scale, const float* shift, bf16_t* a) {
    pool_windows(x, H, W, ldx, Ho, Wo, p0, rows, C, [&](int64_t r, const float* x0, const float* x1, const float* x2, const float* x3) {
        bn_relu_pool_row_bf16(x0, x1, x2, x3, C, scale, shift, a + r * C);
    });
}

void winograd_input_bf16(const float* src, int H, int W, int C, int64_t t0, int64_t len, const float* zeros,
                         bf16_t* v, int64_t ldv) {
#ifdef DN_AVX512
    if (C % 16 == 0) {
        input_tiles(src, H, W, C, t0, len, zeros, [&](int64_t k, const float* const* p) { wino_in_tile16_bf16(p, C, v + k * C, ldv); });
        return;
    }
#endif
    input_tiles(src, H, W, C, t0, len, zeros, [&](int64_t k, const float* const* p) { wino_in_tile_bf16(p, C, v + k * C, ldv); });
}

void bn_relu_rows_u8(const float* x, int64_t ldx, int64_t rows, int C, const float* scale, const float* shift,
                     float top, uint8_t* a, int64_t lda) {
#pragma omp parallel for schedule(static) if (!nested() && rows * C > 16384)
    for (int64_t r = 0; r < rows; r++) bn_relu_row_u8(x + r * ldx, C, scale, shift, top, a + r * lda);
}

void bn_relu_avgpool2_rows_u8(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0, int64_t rows,
                              int C, const float* scale, const float* shift, float top, uint8_t* a) {
    pool_windows(x, H, W, ldx, Ho, Wo, p0, rows, C, [&](int64_t r, const float* x0, const float* x1, const float* x2, const float* x3) {
        bn_relu_pool_row_u8(x0, x1, x2, x3, C, scale, shift, top, a + r * C);
    });
}

void column_max(const float* a, int64_t rows, int C, float* max) {
    for (int64_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) max[c] = std::max(max[c], a[r * C + c]);
}

}  // namespace dn4j::cpu
