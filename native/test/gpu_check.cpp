// The native GPU check: runs plans written by the Java side (`densenet4j plan`) on the CUDA
// backend, no JDK needed. One line of output per check (PASS/FAIL ...) or per benchmark (JSON).
//   gpu_check golden PLAN WEIGHTS IO [--dtype D] [--options "k=v ..."]
//       logits against the golden ones: fp32 within 1e-4 abs + 1e-4 rel per element; fp16
//       within relative L2 1e-2, bf16 3e-2, tf32 1e-2, and the same top-1 per sample. Also:
//       the CUDA Graph replay (2nd and 3rd call) equals the first call bit for bit, and
//       sample 0 alone equals sample 0 in the batch (1e-4 in fp32).
//   gpu_check sentinel PLAN WEIGHTS --n N [--dtype D]
//       with every buffer NaN-poisoned before its first use, after each op that writes a
//       channel slice [off, off+len) of a buffer, channels [0, off+len) are written and the rest
//       still NaN (plans write slices in channel order); and the whole network on poisoned
//       buffers gives finite logits equal to the clean run.
//   gpu_check bench PLAN WEIGHTS --batch B [--dtype D] [--options ...] [--seconds S] [--name NAME]
//       JSON: img/s end to end (host arrays in and out, as a Java caller sees it) and resident
//       (input already on the GPU, CUDA Graph replay of the network alone); peak device bytes
//       in steady state (weights included) and including the one-off algorithm search.
//   gpu_check probe
// Exit 0 when every check passes, 1 on a failed check, 2 on bad usage or an error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>

#include "common/backend.h"
#include "cuda/cuda_entry.h"
#include "safetensors.h"

using dn4j::test::HostTensor;

namespace {

struct Args {
    std::string dtype = "fp32", options, name;
    int64_t n = 2, batch = 1;
    double seconds = 2.0;
};

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::unique_ptr<dn4j::WeightStore> load_weights(const std::string& path) {
    auto w = dn4j::test::read_safetensors(path);
    auto store = std::make_unique<dn4j::WeightStore>();
    for (auto& kv : w)
        store->put(kv.first, kv.second.data.data(), kv.second.shape.data(), static_cast<int>(kv.second.shape.size()));
    return store;
}

std::unique_ptr<dn4j::Backend> make(const std::string& plan_text, const dn4j::WeightStore& w, const Args& a,
                                    const std::string& extra = "") {
    dn4j::Plan plan = dn4j::Plan::parse(plan_text);
    std::string opts = "dtype=" + a.dtype + " " + a.options + " " + extra;
    return std::unique_ptr<dn4j::Backend>(dn4j_cuda_make_backend(&plan, w.impl, opts.c_str()));
}

std::vector<float> random_input(size_t count, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> v(count);
    for (auto& x : v) x = d(rng);
    return v;
}

int argmax(const float* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }

int golden(const std::string& plan_path, const std::string& wpath, const std::string& iopath, const Args& a) {
    auto store = load_weights(wpath);
    auto io = dn4j::test::read_safetensors(iopath);
    const HostTensor& in = io.at("input");
    const HostTensor& want = io.at("logits");
    int64_t n = in.shape[0];
    auto be = make(read_text(plan_path), *store, a);
    int classes = static_cast<int>(be->output_size(1));
    std::vector<float> got(static_cast<size_t>(be->output_size(n))), again(got.size());
    if (got.size() != want.data.size()) throw std::runtime_error("logits size differs from the plan's output");
    be->forward(in.data.data(), n, got.data());
    bool replay_same = true;
    for (int r = 0; r < 2; r++) {
        be->forward(in.data.data(), n, again.data());
        replay_same = replay_same && std::memcmp(got.data(), again.data(), got.size() * sizeof(float)) == 0;
    }
    double worst = 0, num = 0, den = 0;
    bool elem_ok = true, top1_same = true;
    for (size_t i = 0; i < got.size(); i++) {
        double err = std::fabs(got[i] - want.data[i]);
        if (!(err == err)) err = std::numeric_limits<double>::infinity();
        worst = std::max(worst, err);
        num += err * err;
        den += double(want.data[i]) * want.data[i];
        if (!(err <= 1e-4 + 1e-4 * std::fabs(want.data[i]))) elem_ok = false;
    }
    for (int64_t i = 0; i < n; i++)
        if (argmax(got.data() + i * classes, classes) != argmax(want.data.data() + i * classes, classes)) top1_same = false;
    double rel_l2 = std::sqrt(num / std::max(den, 1e-30));
    bool ok;
    if (a.dtype == "fp32") ok = elem_ok;
    else ok = top1_same && rel_l2 <= (a.dtype == "bf16" ? 3e-2 : 1e-2);
    // sample 0 alone against sample 0 inside the batch
    double alone_err = 0;
    if (n > 1) {
        size_t per = in.data.size() / n;
        std::vector<float> one(static_cast<size_t>(classes));
        auto be1 = make(read_text(plan_path), *store, a);
        be1->forward(in.data.data(), 1, one.data());
        (void)per;
        for (int j = 0; j < classes; j++) alone_err = std::max(alone_err, double(std::fabs(one[j] - got[j])));
    }
    double alone_tol = a.dtype == "fp32" ? 1e-4 : 5e-2;
    bool alone_ok = alone_err <= alone_tol;
    bool all = ok && replay_same && alone_ok;
    std::printf("%s golden %s dtype=%s n=%lld max_abs_err=%.3g rel_l2=%.3g top1=%s graph_replay=%s alone_vs_batch=%.3g%s\n",
                all ? "PASS" : "FAIL", plan_path.c_str(), a.dtype.c_str(), static_cast<long long>(n), worst, rel_l2,
                top1_same ? "same" : "DIFFERENT", replay_same ? "identical" : "DIFFERS", alone_err,
                alone_ok ? "" : " (over tolerance)");
    return all ? 0 : 1;
}

/** The plan text with only its first `ops` op lines. */
std::string truncated(const std::string& text, size_t ops) {
    std::istringstream is(text);
    std::ostringstream os;
    std::string line;
    size_t seen = 0;
    while (std::getline(is, line)) {
        bool is_op = line.rfind("op ", 0) == 0;
        if (is_op && seen++ >= ops) continue;
        os << line << "\n";
    }
    return os.str();
}

int sentinel(const std::string& plan_path, const std::string& wpath, const Args& a) {
    auto store = load_weights(wpath);
    std::string text = read_text(plan_path);
    dn4j::Plan plan = dn4j::Plan::parse(text);
    int64_t n = a.n;
    auto x = random_input(static_cast<size_t>(n) * plan.in_c * plan.in_h * plan.in_w, 7);
    int checked = 0, failures = 0;
    for (size_t i = 0; i < plan.ops.size(); i++) {
        const dn4j::PlanOp& op = plan.ops[i];
        if (!op.has("dst")) continue;
        dn4j::Slice s = op.slice("dst");
        const dn4j::PlanBuffer& b = plan.buffer(s.buf);
        if (s.len < 0 || s.len == b.c) continue;  // whole buffers: nothing to tell apart
        auto be = make(truncated(text, i + 1), *store, a, "graphs=0");
        be->set_poison(true);
        be->forward(x.data(), n, nullptr);
        std::vector<float> buf(static_cast<size_t>(be->buffer_size(b.name)));
        be->read_buffer(b.name, buf.data());
        int written = s.off + s.len;
        for (size_t e = 0; e < buf.size(); e++) {
            int ch = static_cast<int>(e % b.c);
            bool nan = std::isnan(buf[e]);
            if ((ch < written && nan) || (ch >= written && !nan)) {
                std::printf("FAIL sentinel %s op %zu (plan line %d): %s channel %d %s at element %zu\n",
                            plan_path.c_str(), i, op.line, b.name.c_str(), ch, nan ? "unwritten" : "written early", e);
                failures++;
                break;
            }
        }
        checked++;
    }
    // the whole network on poisoned buffers gives the same, finite logits
    auto be = make(text, *store, a, "graphs=0");
    std::vector<float> clean(static_cast<size_t>(be->output_size(n))), poisoned(clean.size());
    be->forward(x.data(), n, clean.data());
    be->set_poison(true);
    be->forward(x.data(), n, poisoned.data());
    bool finite = std::all_of(poisoned.begin(), poisoned.end(), [](float v) { return std::isfinite(v); });
    bool same = std::memcmp(clean.data(), poisoned.data(), clean.size() * sizeof(float)) == 0;
    if (!finite || !same) failures++;
    std::printf("%s sentinel %s dtype=%s n=%lld slices_checked=%d poisoned_logits=%s\n", failures ? "FAIL" : "PASS",
                plan_path.c_str(), a.dtype.c_str(), static_cast<long long>(n), checked,
                finite && same ? "equal-and-finite" : "DIFFER");
    return failures ? 1 : 0;
}

int bench(const std::string& plan_path, const std::string& wpath, const Args& a) {
    auto store = load_weights(wpath);
    std::string text = read_text(plan_path);
    dn4j::Plan plan = dn4j::Plan::parse(text);
    int64_t n = a.batch;
    auto x = random_input(static_cast<size_t>(n) * plan.in_c * plan.in_h * plan.in_w, 3);
    dn4j_cuda_bytes_reset_peak();
    int64_t base = dn4j_cuda_bytes_in_use();
    auto be = make(text, *store, a);
    std::vector<float> out(static_cast<size_t>(std::max<int64_t>(1, be->output_size(n))));
    auto t0 = std::chrono::steady_clock::now();
    be->forward(x.data(), n, out.data());
    double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (int w = 0; w < 3; w++) be->forward(x.data(), n, out.data());
    int64_t setup_peak = dn4j_cuda_bytes_peak() - base;
    dn4j_cuda_bytes_reset_peak();
    // end to end: host arrays in and out
    int iters = 0;
    t0 = std::chrono::steady_clock::now();
    double el = 0;
    do {
        be->forward(x.data(), n, out.data());
        iters++;
        el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (el < a.seconds / 2);
    double e2e_ms = 1000 * el / iters;
    double res_ms = be->time_resident(std::max(3, static_cast<int>(a.seconds / 2 / (e2e_ms / 1000))));
    std::string desc = be->describe();
    std::string first_line = desc.substr(0, desc.find('\n'));
    std::printf("{\"ours\":\"densenet4j\",\"kind\":\"infer\",\"name\":\"%s\",\"dtype\":\"%s\",\"batch\":%lld,"
                "\"options\":\"%s\",\"img_per_s\":%.1f,\"ms_per_batch\":%.4f,\"resident_img_per_s\":%.1f,"
                "\"resident_ms_per_batch\":%.4f,\"first_call_ms\":%.1f,\"peak_mem_bytes\":%lld,\"peak_mem_incl_setup_bytes\":%lld,\"weights_bytes\":%lld,"
                "\"backend\":\"%s\"}\n",
                a.name.c_str(), a.dtype.c_str(), static_cast<long long>(n), a.options.c_str(), n * 1000.0 / e2e_ms,
                e2e_ms, n * 1000.0 / res_ms, res_ms, first_ms, static_cast<long long>(dn4j_cuda_bytes_peak() - base), static_cast<long long>(setup_peak),
                static_cast<long long>(store->bytes()), first_line.c_str());
    if (std::getenv("DN4J_PROFILE")) std::fprintf(stderr, "%s", desc.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: gpu_check golden|sentinel|bench|probe ... (see native/test/gpu_check.cpp)\n");
        return 2;
    }
    std::string cmd = argv[1];
    std::vector<std::string> pos;
    Args a;
    for (int i = 2; i < argc; i++) {
        std::string k = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(k + " needs a value");
            return argv[++i];
        };
        try {
            if (k == "--dtype") a.dtype = val();
            else if (k == "--options") a.options = val();
            else if (k == "--name") a.name = val();
            else if (k == "--n") a.n = std::stoll(val());
            else if (k == "--batch") a.batch = std::stoll(val());
            else if (k == "--seconds") a.seconds = std::stod(val());
            else if (k.rfind("--", 0) == 0) throw std::runtime_error("unknown option " + k);
            else pos.push_back(k);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "gpu_check: %s\n", e.what());
            return 2;
        }
    }
    try {
        if (cmd == "probe") {
            std::string info;
            int count = dn4j_cuda_probe(&info);
            std::printf("%s probe %s\n", count ? "PASS" : "FAIL", info.c_str());
            return count ? 0 : 1;
        }
        if (cmd == "golden" && pos.size() == 3) return golden(pos[0], pos[1], pos[2], a);
        if (cmd == "sentinel" && pos.size() == 2) return sentinel(pos[0], pos[1], a);
        if (cmd == "bench" && pos.size() == 2) return bench(pos[0], pos[1], a);
        std::fprintf(stderr, "gpu_check: bad arguments for '%s'\n", cmd.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::printf("FAIL %s: %s\n", cmd.c_str(), e.what());
        return 2;
    }
}
