// The CPU backend's own loops (everything oneDNN does not do for us), NHWC fp32.
// Each parallelises over rows with OpenMP unless called from inside a parallel region.
#pragma once
#include <cstdint>

namespace dn4j::cpu {

/** a[r*lda + c] = max(0, x[r*ldx + c] * scale[c] + shift[c]) for r < rows, c < C. */
void bn_relu_rows(const float* x, int64_t ldx, int64_t rows, int C, const float* scale, const float* shift,
                  float* a, int64_t lda);

/** Transition prologue, BN-ReLU then 2x2/2 average pool, for output pixels
 *  [p0, p0 + rows) of an (N, Ho, Wo) grid read from x (N, H, W, ldx):
 *  a[r*C + c] = mean over the 2x2 window of max(0, x*scale + shift). */
void bn_relu_avgpool2_rows(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0, int64_t rows,
                           int C, const float* scale, const float* shift, float* a);

/** NCHW (n, C, H, W) to NHWC. */
void nchw_to_nhwc(const float* src, int64_t n, int C, int H, int W, float* dst);
/** uint8 images (n, H, W, C) to float32 NHWC: (x / 255 - mean[c]) / std[c] in float32, as
 *  torchvision's ToTensor then Normalize (bit-identical to io.densenet4j.image.ImageTransform). */
void u8_nhwc_normalize(const uint8_t* src, int64_t n, int C, int H, int W, const float* mean, const float* std,
                       float* dst);

/** Max pool k x k, stride s, padding p (padding never wins, as PyTorch) from dense NHWC
 *  src (n, H, W, C) into dst (n, Ho, Wo) with row stride ldd. */
void maxpool(const float* src, int64_t n, int H, int W, int C, int k, int s, int p, float* dst, int64_t ldd,
             int Ho, int Wo);

/** dst[r*ldd + c] = src[r*lds + c]. */
void copy_rows(const float* src, int64_t lds, int64_t rows, int C, float* dst, int64_t ldd);

/** Head prologue: out[i, c] = mean over HW of max(0, x[i, hw, c] * scale[c] + shift[c]). */
void bn_relu_gap(const float* x, int64_t n, int64_t HW, int C, int64_t ldx, const float* scale, const float* shift,
                 float* out);

void fill(float* p, int64_t count, float v);

// ---- bf16 (the CPU's --dtype bf16): the same loops writing bfloat16 (round to nearest even,
// NaN kept NaN, as torch's float -> bfloat16 conversion), for oneDNN's bf16 matmuls.
using bf16_t = uint16_t;

/** Whether this CPU has u8 x s8 dot products into int32 (AVX512_VNNI or AVX_VNNI). */
bool cpu_has_vnni();

/** Whether this CPU has AVX512_BF16 (the bf16 dot products oneDNN's bf16 kernels use). */
bool cpu_has_bf16();

/** float32 -> bfloat16, round to nearest even (NaN stays a quiet NaN). */
inline bf16_t to_bf16(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<bf16_t>(u >> 16);
}
/** dst[i] = to_bf16(src[i]). */
void to_bf16(const float* src, int64_t count, bf16_t* dst);

/** bn_relu_rows writing bf16. */
void bn_relu_rows_bf16(const float* x, int64_t ldx, int64_t rows, int C, const float* scale, const float* shift,
                       bf16_t* a, int64_t lda);
/** bn_relu_avgpool2_rows writing bf16 (the pool in float32, then one rounding). */
void bn_relu_avgpool2_rows_bf16(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0,
                                int64_t rows, int C, const float* scale, const float* shift, bf16_t* a);
/** winograd_input writing bf16 (the transform in float32, then one rounding). */
void winograd_input_bf16(const float* src, int H, int W, int C, int64_t t0, int64_t len, const float* zeros,
                         bf16_t* v, int64_t ldv);

// ---- int8 (the CPU's --dtype int8): the prologues writing uint8 for oneDNN's u8 x s8 matmuls.
// `scale` and `shift` already hold the BatchNorm affine divided by each channel's quantization
// step, so q = min(top, round(max(0, x * scale + shift))) (round to nearest even; a NaN becomes 0);
// top is the highest level used (255, or 127 where the matmul must not overflow int16).

/** bn_relu_rows writing uint8. */
void bn_relu_rows_u8(const float* x, int64_t ldx, int64_t rows, int C, const float* scale, const float* shift,
                     float top, uint8_t* a, int64_t lda);
/** bn_relu_avgpool2_rows writing uint8 (the pool in float32, then one rounding). */
void bn_relu_avgpool2_rows_u8(const float* x, int H, int W, int64_t ldx, int Ho, int Wo, int64_t p0,
                              int64_t rows, int C, const float* scale, const float* shift, float top, uint8_t* a);
/** max[c] = max(max[c], a[r * C + c]) over r < rows (calibration). */
void column_max(const float* a, int64_t rows, int C, float* max);

// Winograd F(2x2, 3x3) for a 3x3 conv, stride 1, pad 1 (Lavin & Gray 2016), NHWC. Output
// tiles are 2x2, numbered t = (i * th + ty) * tw + tx with th = ceil(H/2), tw = ceil(W/2);
// a = 4 * row + col indexes the 16 points of a transformed tile. The tile functions run in the
// calling thread (they are called per chunk from inside a parallel region).

/** u[(a * cin + i) * cout + o] = (G g G^T)[a] for each 3x3 filter g = w[o, i] (OIHW). */
void winograd_weights(const float* w, int cout, int cin, float* u);

/** Input transform of tiles [t0, t0 + len) of src (n, H, W, C), dense NHWC, zero padded by 1:
 *  v[a * ldv + k * C + c] = (B^T d B)[a] of tile t0 + k. `zeros` holds C zeros. */
void winograd_input(const float* src, int H, int W, int C, int64_t t0, int64_t len, const float* zeros, float* v,
                    int64_t ldv);

/** Output transform of tiles [t0, t0 + len): y = A^T m A (+ bias[c]) (ReLU if relu) from
 *  m[a * ldm + k * C + c] into dst (n, H, W) with row stride ldd; pixels past H or W are dropped. */
void winograd_output(const float* m, int64_t ldm, int H, int W, int C, int64_t t0, int64_t len, const float* bias,
                     bool relu, float* dst, int64_t ldd);

}  // namespace dn4j::cpu
