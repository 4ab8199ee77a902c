// Runs a plan (written by `densenet4j plan`, the Java side) on a golden case, no JDK needed:
//   run_plan PLAN WEIGHTS.safetensors IO.safetensors [--device cpu] [--threads T] [--repeat R]
// Reads tensor "input" (N,C,H,W) from IO, runs the plan, compares with tensor "logits"
// (1e-4 abs + 1e-4 rel, element by element) and prints one line; exit 0 when within.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "densenet4j/core.h"
#include "safetensors.h"

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: run_plan PLAN WEIGHTS.safetensors IO.safetensors [--device D] [--threads T] [--repeat R]\n");
        return 2;
    }
    std::string device = "cpu";
    int threads = 0, repeat = 1;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--device")) device = argv[i + 1];
        else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoi(argv[i + 1]);
    }
    try {
        std::ifstream pf(argv[1]);
        if (!pf) throw std::runtime_error(std::string("cannot open plan ") + argv[1]);
        std::stringstream plan;
        plan << pf.rdbuf();
        auto weights = dn4j::test::read_safetensors(argv[2]);
        auto io = dn4j::test::read_safetensors(argv[3]);
        dn4j::WeightStore store;
        for (auto& kv : weights)
            store.put(kv.first, kv.second.data.data(), kv.second.shape.data(), static_cast<int>(kv.second.shape.size()));
        dn4j::Engine engine(plan.str(), &store, device, threads);
        if (!io.count("input") || !io.count("logits"))
            throw std::runtime_error(std::string(argv[3]) + " needs float32 tensors 'input' and 'logits'");
        const auto& in = io.at("input");
        const auto& want = io.at("logits");
        int64_t n = in.shape[0];
        std::vector<float> got(static_cast<size_t>(engine.output_size(n)));
        if (got.size() != want.data.size()) throw std::runtime_error("logits size differs from the plan's output");
        engine.forward(in.data.data(), n, got.data());
        auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < repeat; r++) engine.forward(in.data.data(), n, got.data());
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / repeat;
        double worst = 0;
        bool ok = true;
        for (size_t i = 0; i < got.size(); i++) {
            double err = std::fabs(got[i] - want.data[i]);
            worst = std::max(worst, err);
            if (!(err <= 1e-4 + 1e-4 * std::fabs(want.data[i]))) ok = false;
        }
        std::printf("%s device=%s n=%lld max_abs_err=%.3g ms_per_batch=%.3f peak_native_bytes=%lld\n",
                    ok ? "PASS" : "FAIL", device.c_str(), static_cast<long long>(n), worst, ms,
                    static_cast<long long>(dn4j::native_bytes_peak()));
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "run_plan: %s\n", e.what());
        return 2;
    }
}
