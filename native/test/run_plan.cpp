// Runs a plan (written by `densenet4j plan`, the Java side) on a golden case, no JDK needed:
//   run_plan PLAN WEIGHTS.safetensors IO.safetensors [--device cpu] [--threads T] [--repeat R]
//            [--options "dtype=bf16"] [--tolerance X] [--describe] [--calibrate]
// (--calibrate: a first fp32 pass with calibrate=1 on the input, its ranges added to the weights,
// as `densenet4j quantize` does, before the engine with --options is built: for dtype=int8.)
// (--describe prints the backend's op list after the runs: with DN4J_PROFILE=1 each op's time;
// --tolerance X: abs + rel tolerance per element, 1e-4 by default.)
// Reads tensor "input" (N,C,H,W) from IO, runs the plan, compares with tensor "logits"
// (1e-4 abs + 1e-4 rel, element by element) and prints one line; exit 0 when within.
#include <algorithm>
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
    std::string options;
    int threads = 0, repeat = 1;
    double tol = 1e-4;
    bool describe = false, calibrate = false;
    for (int i = 4; i < argc; i++) {
        if (!std::strcmp(argv[i], "--describe") || !std::strcmp(argv[i], "--calibrate")) {
            (argv[i][2] == 'd' ? describe : calibrate) = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "run_plan: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!std::strcmp(argv[i], "--device")) device = argv[++i];
        else if (!std::strcmp(argv[i], "--options")) options = argv[++i];
        else if (!std::strcmp(argv[i], "--tolerance")) tol = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "run_plan: unknown option %s\n", argv[i]);
            return 2;
        }
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
        if (!io.count("input") || !io.count("logits"))
            throw std::runtime_error(std::string(argv[3]) + " needs float32 tensors 'input' and 'logits'");
        const auto& in = io.at("input");
        const auto& want = io.at("logits");
        int64_t n = in.shape[0];
        if (calibrate) {
            dn4j::Engine cal(plan.str(), &store, "cpu", threads, "calibrate=1");
            std::vector<float> logits(static_cast<size_t>(cal.output_size(n)));
            cal.forward(in.data.data(), n, logits.data());
            std::istringstream lines(cal.calibration());
            for (std::string line; std::getline(lines, line);) {
                std::istringstream words(line);
                std::string name;
                words >> name;
                std::vector<float> v;
                for (float x; words >> x;) v.push_back(x);
                int64_t shape[1] = {static_cast<int64_t>(v.size())};
                store.put(name, v.data(), shape, 1);
            }
        }
        dn4j::Engine engine(plan.str(), &store, device, threads, options);
        std::vector<float> got(static_cast<size_t>(engine.output_size(n)));
        if (got.size() != want.data.size()) throw std::runtime_error("logits size differs from the plan's output");
        engine.forward(in.data.data(), n, got.data());
        auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < repeat; r++) engine.forward(in.data.data(), n, got.data());
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / repeat;
        double worst = 0, num = 0, den = 0;
        bool ok = true;
        int64_t classes = static_cast<int64_t>(got.size()) / n, top1_same = 0;
        for (int64_t r = 0; r < n; r++) {
            const float* g = got.data() + r * classes;
            const float* w = want.data.data() + r * classes;
            top1_same += std::max_element(g, g + classes) - g == std::max_element(w, w + classes) - w;
        }
        for (size_t i = 0; i < got.size(); i++) {
            num += (got[i] - want.data[i]) * double(got[i] - want.data[i]);
            den += double(want.data[i]) * want.data[i];
            double err = std::fabs(got[i] - want.data[i]);
            worst = std::max(worst, err);
            if (!(err <= tol + tol * std::fabs(want.data[i]))) ok = false;
        }
        std::printf("%s device=%s n=%lld max_abs_err=%.3g rel_l2=%.3g top1_same=%lld/%lld ms_per_batch=%.3f peak_native_bytes=%lld\n",
                    ok ? "PASS" : "FAIL", device.c_str(), static_cast<long long>(n), worst, std::sqrt(num / den),
                    static_cast<long long>(top1_same), static_cast<long long>(n), ms,
                    static_cast<long long>(dn4j::native_bytes_peak()));
        if (describe) std::printf("%s", engine.describe().c_str());
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "run_plan: %s\n", e.what());
        return 2;
    }
}
