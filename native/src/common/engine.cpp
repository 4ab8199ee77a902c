#include <dlfcn.h>
#include <unistd.h>
#include <dnnl.hpp>

#include <cmath>
#include <mutex>
#include <sstream>

#include "../cpu/kernels.h"
#include "../cuda/cuda_entry.h"
#include "backend.h"
#include "cuda_loader.h"
#include "densenet4j/core.h"
#include "error.h"

namespace dn4j {

// ------------------------------------------------------------------ the CUDA library, loaded on demand
namespace {

struct CudaLibrary {
    std::mutex mu;
    std::string path;      // set_cuda_library(), else next to this library
    bool tried = false;
    std::string problem;   // why it cannot be used ("" when it can)
    std::string info;      // the device line when it can
    int devices = 0;
    decltype(&dn4j_cuda_probe) probe = nullptr;
    decltype(&dn4j_cuda_make_backend) make_backend = nullptr;
    decltype(&dn4j_cuda_make_trainer) make_trainer = nullptr;
    decltype(&dn4j_cuda_bytes_in_use) in_use = nullptr;
    decltype(&dn4j_cuda_bytes_peak) peak = nullptr;
    decltype(&dn4j_cuda_bytes_reset_peak) reset_peak = nullptr;
};

CudaLibrary& cuda_lib() {
    static CudaLibrary lib;
    return lib;
}

std::string default_cuda_path() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&default_cuda_path), &info) && info.dli_fname) {
        std::string self = info.dli_fname;
        auto slash = self.rfind('/');
        if (slash != std::string::npos) return self.substr(0, slash + 1) + "libdensenet4j_cuda.so.1";
    }
    return "libdensenet4j_cuda.so.1";
}

/** Loads and probes the CUDA library once; afterwards `problem` says what is missing, if anything. */
CudaLibrary& load_cuda() {
    CudaLibrary& l = cuda_lib();
    std::lock_guard<std::mutex> lock(l.mu);
    if (l.tried) return l;
    l.tried = true;
    std::string path = l.path.empty() ? default_cuda_path() : l.path;
    // What is missing, most basic first: our library, the driver, cuDNN, a GPU.
    bool have_file = access(path.c_str(), R_OK) == 0;
    if (!have_file && !l.path.empty()) {
        l.problem = "the CUDA backend is not installed (" + path + " not found)";
        return l;
    }
    if (void* drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
        dlclose(drv);
    } else {
        l.problem = "no NVIDIA driver (libcuda.so.1 not found)";
        return l;
    }
    void* h = dlopen(have_file ? path.c_str() : "libdensenet4j_cuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        std::string why = dlerror();
        if (why.find("libcudnn") != std::string::npos)
            l.problem = "cuDNN 9 not found (libcudnn.so.9 is not on the library path; see the README's GPU section)";
        else if (why.find("libdensenet4j_cuda") != std::string::npos)
            l.problem = "the CUDA backend is not installed (add the densenet4j linux-x86_64-gpu jar)";
        else
            l.problem = "cannot load the CUDA backend: " + why;
        return l;
    }
    l.probe = reinterpret_cast<decltype(l.probe)>(dlsym(h, "dn4j_cuda_probe"));
    l.make_backend = reinterpret_cast<decltype(l.make_backend)>(dlsym(h, "dn4j_cuda_make_backend"));
    l.make_trainer = reinterpret_cast<decltype(l.make_trainer)>(dlsym(h, "dn4j_cuda_make_trainer"));
    l.in_use = reinterpret_cast<decltype(l.in_use)>(dlsym(h, "dn4j_cuda_bytes_in_use"));
    l.peak = reinterpret_cast<decltype(l.peak)>(dlsym(h, "dn4j_cuda_bytes_peak"));
    l.reset_peak = reinterpret_cast<decltype(l.reset_peak)>(dlsym(h, "dn4j_cuda_bytes_reset_peak"));
    if (!l.probe || !l.make_backend || !l.in_use || !l.peak || !l.reset_peak) {
        l.problem = "the CUDA backend at " + path + " lacks its entry points (a mismatched build?)";
        return l;
    }
    std::string info;
    l.devices = l.probe(&info);
    if (l.devices <= 0) l.problem = info;
    else l.info = info;
    return l;
}

/** "cuda" or "cuda:I" -> device index; -1 when `device` names no CUDA device. */
int cuda_index(const std::string& device) {
    if (device == "cuda") return 0;
    if (device.rfind("cuda:", 0) != 0) return -1;
    std::string i = device.substr(5);
    DN_CHECK(!i.empty() && i.size() < 4 && i.find_first_not_of("0123456789") == std::string::npos,
             "bad device '", device, "' (expected cuda or cuda:INDEX)");
    return std::stoi(i);
}

}  // namespace

CudaRuntime cuda_runtime_for(const std::string& device) {
    CudaRuntime r;
    r.index = cuda_index(device);
    if (r.index < 0) return r;
    CudaLibrary& l = load_cuda();
    DN_CHECK(l.problem.empty(), "device ", device, ": ", l.problem);
    DN_CHECK(r.index < l.devices, "device ", device, ": this machine has ", l.devices, " usable CUDA device(s)");
    r.make_backend = l.make_backend;
    r.make_trainer = l.make_trainer;
    return r;
}

void set_cuda_library(const std::string& path) {
    CudaLibrary& l = cuda_lib();
    std::lock_guard<std::mutex> lock(l.mu);
    DN_CHECK(!l.tried || l.path == path, "set_cuda_library: the CUDA library was already loaded from ",
             l.path.empty() ? default_cuda_path() : l.path);
    l.path = path;
}

bool cuda_available() { return load_cuda().problem.empty(); }

int cuda_device_count() {
    CudaLibrary& l = load_cuda();
    return l.problem.empty() ? l.devices : 0;
}

std::string cuda_info() {
    CudaLibrary& l = load_cuda();
    return l.problem.empty() ? l.info : l.problem;
}

int64_t device_bytes_in_use() {
    CudaLibrary& l = cuda_lib();
    return l.in_use ? l.in_use() : 0;
}
int64_t device_bytes_peak() {
    CudaLibrary& l = cuda_lib();
    return l.peak ? l.peak() : 0;
}
void device_bytes_reset_peak() {
    CudaLibrary& l = cuda_lib();
    if (l.reset_peak) l.reset_peak();
}

// ------------------------------------------------------------------ Engine
struct Engine::Impl {
    std::unique_ptr<Backend> backend;
    int in_c = 0;
};

Engine::Engine(const std::string& plan_text, WeightStore* weights, const std::string& device, int threads)
    : Engine(plan_text, weights, device, threads, "") {}

Engine::Engine(const std::string& plan_text, WeightStore* weights, const std::string& device, int threads,
               const std::string& options)
    : impl(nullptr) {
    DN_CHECK(weights != nullptr, "Engine needs a WeightStore");
    Plan plan = Plan::parse(plan_text);
    auto i = std::make_unique<Impl>();
    i->in_c = plan.in_c;
    if (device == "cpu") {
        // space-separated key=value: dtype=fp32|bf16|int8, calibrate=0|1
        std::string dtype = "fp32";
        bool calibrate = false;
        std::istringstream words(options);
        for (std::string kv; words >> kv;) {
            if (kv == "dtype=fp32" || kv == "dtype=bf16" || kv == "dtype=int8") dtype = kv.substr(6);
            else if (kv == "calibrate=1" || kv == "calibrate=0") calibrate = kv == "calibrate=1";
            else fail("device cpu takes options dtype=fp32|bf16|int8 and calibrate=0|1, not '", kv, "'");
        }
        i->backend = make_cpu_backend(plan, *weights->impl, threads, dtype, calibrate);
    } else if (cuda_index(device) >= 0) {
        CudaRuntime rt = cuda_runtime_for(device);
        std::string opts = options + " device=" + std::to_string(rt.index);
        i->backend.reset(rt.make_backend(&plan, weights->impl, opts.c_str()));
    } else {
        fail("unknown device '", device, "' (expected cpu, cuda or cuda:INDEX)");
    }
    impl = i.release();
}

Engine::~Engine() { delete impl; }

namespace {
void check_norm(int in_c, const float* mean, const float* std, const char* what) {
    DN_CHECK(mean != nullptr && std != nullptr, what, ": mean and std are required");
    for (int c = 0; c < in_c; c++)
        DN_CHECK(std::isfinite(mean[c]) && std::isfinite(std[c]) && std[c] > 0.f, what, ": channel ", c,
                 " needs a finite mean and a finite, positive std, got mean=", mean[c], " std=", std[c]);
}
}  // namespace

void Engine::forward(const float* input, int64_t n, float* output) {
    DN_CHECK(input != nullptr, "forward: no input");
    DN_CHECK(n > 0, "forward: batch size must be positive, got ", n);
    impl->backend->forward(input, n, output);
}
void Engine::forward_u8(const uint8_t* input, int64_t n, const float* mean, const float* std, float* output) {
    DN_CHECK(input != nullptr, "forward_u8: no input");
    DN_CHECK(n > 0, "forward_u8: batch size must be positive, got ", n);
    check_norm(impl->in_c, mean, std, "forward_u8");
    impl->backend->forward_u8(input, n, mean, std, output);
}
int64_t Engine::submit(const float* input, int64_t n) {
    DN_CHECK(input != nullptr, "submit: no input");
    DN_CHECK(n > 0, "submit: batch size must be positive, got ", n);
    return impl->backend->submit(input, n);
}
int64_t Engine::submit_u8(const uint8_t* input, int64_t n, const float* mean, const float* std) {
    DN_CHECK(input != nullptr, "submit_u8: no input");
    DN_CHECK(n > 0, "submit_u8: batch size must be positive, got ", n);
    check_norm(impl->in_c, mean, std, "submit_u8");
    return impl->backend->submit_u8(input, n, mean, std);
}
void Engine::collect(int64_t ticket, float* output) { impl->backend->collect(ticket, output); }
int Engine::max_in_flight() const { return impl->backend->max_in_flight(); }
int64_t Engine::output_size(int64_t n) const { return impl->backend->output_size(n); }
int64_t Engine::buffer_size(const std::string& name) const { return impl->backend->buffer_size(name); }
void Engine::read_buffer(const std::string& name, float* out) const { impl->backend->read_buffer(name, out); }
void Engine::set_poison(bool on) { impl->backend->set_poison(on); }
std::string Engine::describe() const { return impl->backend->describe(); }
std::string Engine::calibration() const { return impl->backend->calibration(); }

std::string version_string() {
    const dnnl_version_t* v = dnnl_version();
    return "densenet4j-core 0.1.0 (oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + ")";
}

std::string available_devices() { return cuda_available() ? "cpu,cuda" : "cpu"; }

bool cpu_bf16_supported() { return cpu::cpu_has_bf16(); }

std::string cpu_isa_info() {
    // the implementations oneDNN picks for a small matmul in each precision (names like brg_matmul:avx512_core)
    auto impl = [](dnnl::memory::data_type t, dnnl::memory::data_type wt, bool whole = false) -> std::string {
        try {
            dnnl::engine eng(dnnl::engine::kind::cpu, 0);
            dnnl::memory::desc a({64, 64}, t, dnnl::memory::format_tag::ab);
            dnnl::memory::desc b({64, 64}, wt, dnnl::memory::format_tag::ab);
            dnnl::memory::desc d({64, 64}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
            std::string s = dnnl::matmul::primitive_desc(eng, a, b, d).impl_info_str();
            size_t colon = s.find(':');
            return whole || colon == std::string::npos ? s : s.substr(colon + 1);
        } catch (const std::exception&) {
            return "none";
        }
    };
    using dt = dnnl::memory::data_type;
    std::string out = std::string("fp32 matmuls ") + impl(dt::f32, dt::f32);
    if (cpu::cpu_has_bf16())
        out += ", bf16 matmuls " + impl(dt::bf16, dt::bf16);
    else
        out += ", bf16 unsupported (no AVX512_BF16)";
    out += ", int8 matmuls " + impl(dt::u8, dt::s8, true) +
           (cpu::cpu_has_vnni() ? " (VNNI: activations 0..255)" : " (no VNNI: activations 0..127)");
    return out;
}

}  // namespace dn4j
