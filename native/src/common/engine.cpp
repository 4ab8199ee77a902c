#include <dnnl.hpp>

#include "backend.h"
#include "densenet4j/core.h"
#include "error.h"

namespace dn4j {

struct Engine::Impl {
    std::unique_ptr<Backend> backend;
};

Engine::Engine(const std::string& plan_text, WeightStore* weights, const std::string& device, int threads)
    : impl(nullptr) {
    DN_CHECK(weights != nullptr, "Engine needs a WeightStore");
    Plan plan = Plan::parse(plan_text);
    auto i = std::make_unique<Impl>();
    if (device == "cpu") {
        i->backend = make_cpu_backend(plan, *weights->impl, threads);
    } else if (device == "cuda") {
        fail("device cuda: this build of densenet4j has no CUDA backend yet (CPU only); use --device cpu or auto");
    } else {
        fail("unknown device '", device, "' (expected cpu or cuda)");
    }
    impl = i.release();
}

Engine::~Engine() { delete impl; }

void Engine::forward(const float* input, int64_t n, float* output) {
    DN_CHECK(input != nullptr, "forward: no input");
    DN_CHECK(n > 0, "forward: batch size must be positive, got ", n);
    impl->backend->forward(input, n, output);
}
int64_t Engine::output_size(int64_t n) const { return impl->backend->output_size(n); }
int64_t Engine::buffer_size(const std::string& name) const { return impl->backend->buffer_size(name); }
void Engine::read_buffer(const std::string& name, float* out) const { impl->backend->read_buffer(name, out); }
void Engine::set_poison(bool on) { impl->backend->set_poison(on); }
std::string Engine::describe() const { return impl->backend->describe(); }

std::string version_string() {
    const dnnl_version_t* v = dnnl_version();
    return "densenet4j-core 0.1.0 (oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + ")";
}

std::string available_devices() { return "cpu"; }

}  // namespace dn4j
