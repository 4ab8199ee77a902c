// The max of one k x k max-pool window over an NHWC tensor, shared by the forward kernel (the
// value) and the training backward kernel (where the max is): PyTorch's rule, a NaN wins and the
// first maximum in row-major window order wins ties; padding is never the maximum.
#pragma once

#include <cmath>

#include "dtype.h"

namespace dn4j::cuda {

/** Window (oy, ox) of stride `stv` and padding `p` over channel `j` of image `img` in `src`
 *  (h, w, c, dense); returns the max and sets (*at_y, *at_x) to its position ((-1, -1) if none). */
template <typename T, typename I>
__device__ inline float maxpool_window(const T* __restrict__ src, I img, int h, int w, int c, int j, int oy, int ox,
                                       int k, int stv, int p, int* at_y, int* at_x) {
    float best = -INFINITY;
    *at_y = -1;
    *at_x = -1;
    for (int dy = 0; dy < k; dy++) {
        int yy = oy * stv - p + dy;
        if (yy < 0 || yy >= h) continue;
        for (int dx = 0; dx < k; dx++) {
            int xx = ox * stv - p + dx;
            if (xx < 0 || xx >= w) continue;
            float v = ld<T>(src[((img * h + yy) * w + xx) * c + j]);
            if (v > best || v != v) {
                best = v;
                *at_y = yy;
                *at_x = xx;
            }
        }
    }
    return best;
}

}  // namespace dn4j::cuda
