// Checks the CPU backend's Winograd F(2x2, 3x3) conv against oneDNN's direct conv and a plain
// double-precision reference, on random data with odd sizes, channel slices, BN and ReLU:
//   winograd_test        prints one line per case and run; exit 0 when every value is within
// 1e-4 abs + 1e-4 rel of the reference and nothing outside the destination slice was written.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "densenet4j/core.h"

namespace {

struct Case {
    int n, h, w, cin, cout, dst_c, off;
    bool bn, relu;
};

struct Run {
    const char* winograd;  // DN4J_WINOGRAD
    const char* tiles;     // DN4J_WINOGRAD_TILES, or null
    int threads;
};

std::vector<float> random(std::mt19937& rng, size_t count, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(count);
    for (auto& x : v) x = d(rng);
    return v;
}

// y[i, c, p] (NCHW) = relu?(bn?(sum over ci, ky, kx of w[c, ci, ky, kx] * x[i, ci, y + ky - 1, x + kx - 1]))
std::vector<double> reference(const Case& k, const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& scale, const std::vector<float>& shift) {
    std::vector<double> y(static_cast<size_t>(k.n) * k.cout * k.h * k.w);
    for (int i = 0; i < k.n; i++)
        for (int o = 0; o < k.cout; o++)
            for (int py = 0; py < k.h; py++)
                for (int px = 0; px < k.w; px++) {
                    double s = 0;
                    for (int ci = 0; ci < k.cin; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int sy = py + ky - 1, sx = px + kx - 1;
                                if (sy < 0 || sy >= k.h || sx < 0 || sx >= k.w) continue;
                                s += static_cast<double>(w[((o * k.cin + ci) * 3 + ky) * 3 + kx]) *
                                     x[((static_cast<size_t>(i) * k.cin + ci) * k.h + sy) * k.w + sx];
                            }
                    if (k.bn) s = s * scale[o] + shift[o];
                    if (k.relu) s = std::max(0.0, s);
                    y[((static_cast<size_t>(i) * k.cout + o) * k.h + py) * k.w + px] = s;
                }
    return y;
}

bool check(const Case& k, const Run& r) {
    std::mt19937 rng(1234 + k.n * 7 + k.h * 31 + k.w * 131 + k.cin);
    auto x = random(rng, static_cast<size_t>(k.n) * k.cin * k.h * k.w, -1.0f, 1.0f);
    auto w = random(rng, static_cast<size_t>(k.cout) * k.cin * 9, -0.3f, 0.3f);
    auto gamma = random(rng, k.cout, 0.5f, 1.5f), beta = random(rng, k.cout, -0.5f, 0.5f);
    auto mean = random(rng, k.cout, -0.2f, 0.2f), var = random(rng, k.cout, 0.5f, 2.0f);
    std::vector<float> scale(k.cout), shift(k.cout);
    for (int o = 0; o < k.cout; o++) {
        // as the library folds it (weights.cpp, bn_affine)
        scale[o] = gamma[o] * (1.0f / std::sqrt(var[o] + 1e-5f));
        shift[o] = beta[o] - mean[o] * scale[o];
    }

    std::ostringstream plan;
    plan << "densenet4j-plan 1\ninput c=" << k.cin << " h=" << k.h << " w=" << k.w << "\n"
         << "buffer x c=" << k.cin << " h=" << k.h << " w=" << k.w << "\n"
         << "buffer y c=" << k.dst_c << " h=" << k.h << " w=" << k.w << "\n"
         << "op to_nhwc dst=x\n"
         << "op conv src=x dst=y:" << k.off << ":" << k.cout << " weight=w k=3 stride=1 pad=1"
         << (k.bn ? " out_bn=bn" : "") << (k.relu ? " out_relu=1" : "") << "\n";
    dn4j::WeightStore store;
    int64_t wshape[4] = {k.cout, k.cin, 3, 3}, cshape[1] = {k.cout};
    store.put("w", w.data(), wshape, 4);
    store.put("bn.weight", gamma.data(), cshape, 1);
    store.put("bn.bias", beta.data(), cshape, 1);
    store.put("bn.running_mean", mean.data(), cshape, 1);
    store.put("bn.running_var", var.data(), cshape, 1);

    setenv("DN4J_WINOGRAD", r.winograd, 1);
    if (r.tiles) setenv("DN4J_WINOGRAD_TILES", r.tiles, 1);
    else unsetenv("DN4J_WINOGRAD_TILES");
    dn4j::Engine engine(plan.str(), &store, "cpu", r.threads);
    engine.set_poison(true);  // channels outside the slice must keep their NaN
    std::vector<float> y(static_cast<size_t>(k.n) * k.h * k.w * k.dst_c);
    double worst = 0;
    bool ok = true;
    auto want = reference(k, x, w, scale, shift);
    for (int pass = 0; pass < 2; pass++) {  // the second forward reuses what the first prepared
        engine.forward(x.data(), k.n, nullptr);
        engine.read_buffer("y", y.data());
        for (int i = 0; i < k.n; i++)
            for (int p = 0; p < k.h * k.w; p++)
                for (int c = 0; c < k.dst_c; c++) {
                    float got = y[(static_cast<size_t>(i) * k.h * k.w + p) * k.dst_c + c];
                    if (c < k.off || c >= k.off + k.cout) {
                        if (!std::isnan(got)) ok = false;
                        continue;
                    }
                    double ref = want[(static_cast<size_t>(i) * k.cout + (c - k.off)) * k.h * k.w + p];
                    double err = std::fabs(got - ref);
                    worst = std::max(worst, err);
                    if (!(err <= 1e-4 + 1e-4 * std::fabs(ref))) ok = false;
                }
    }
    std::string d = engine.describe();
    bool wino = d.find("winograd F(2x2,3x3)") != std::string::npos;
    bool want_wino = std::string(r.winograd) == "1";
    if (wino != want_wino) ok = false;
    std::printf("%s n=%d %dx%d cin=%d cout=%d dst=y:%d:%d of %d%s%s DN4J_WINOGRAD=%s tiles=%s threads=%d path=%s "
                "max_abs_err=%.3g\n",
                ok ? "PASS" : "FAIL", k.n, k.h, k.w, k.cin, k.cout, k.off, k.cout, k.dst_c, k.bn ? " bn" : "",
                k.relu ? " relu" : "", r.winograd, r.tiles ? r.tiles : "default", r.threads,
                wino ? "winograd" : "direct", worst);
    return ok;
}

}  // namespace

int main() {
    const Case cases[] = {
        {3, 7, 7, 32, 16, 40, 8, false, false},      // odd square, slice, AVX-512 tile path
        {3, 5, 9, 20, 12, 12, 0, true, true},         // odd, whole buffer, channels not a multiple of 16
        {2, 9, 5, 48, 32, 64, 16, true, false},       // BN without ReLU into a middle slice
        {1, 1, 1, 16, 16, 16, 0, false, true},        // one pixel: only the tile's corner is real
        {2, 2, 3, 8, 4, 9, 5, false, false},          // tiny, odd channel counts
        {2, 13, 11, 128, 32, 160, 128, false, false}, // DenseNet's channel counts
    };
    const Run runs[] = {
        {"0", nullptr, 2},  // oneDNN direct
        {"1", nullptr, 2},  // Winograd, default chunks
        {"1", "5", 2},      // many short chunks and a tail chunk
        {"1", "7", 3},      // three threads, uneven chunks
        {"1", nullptr, 1},
    };
    bool ok = true;
    try {
        for (const Case& k : cases)
            for (const Run& r : runs) ok = check(k, r) && ok;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "winograd_test: %s\n", e.what());
        return 2;
    }
    std::printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
