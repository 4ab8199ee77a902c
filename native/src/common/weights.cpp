#include "weights.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "error.h"

namespace dn4j {

static std::string shape_str(const std::vector<int64_t>& s) {
    std::ostringstream os;
    os << "(";
    for (size_t i = 0; i < s.size(); i++) os << (i ? ", " : "") << s[i];
    os << ")";
    return os.str();
}

WeightStore::WeightStore() : impl(new Impl) {}
WeightStore::~WeightStore() { delete impl; }

void WeightStore::put(const std::string& name, const float* data, const int64_t* shape, int rank) {
    DN_CHECK(rank >= 0 && rank <= 8, "tensor ", name, ": rank ", rank, " out of range");
    DN_CHECK(data != nullptr, "tensor ", name, ": no data");
    StoredTensor t;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        DN_CHECK(shape[i] >= 0, "tensor ", name, ": negative dimension");
        t.shape.push_back(shape[i]);
        n *= shape[i];
    }
    t.data.resize(static_cast<size_t>(n));
    if (n) std::memcpy(t.data.data(), data, static_cast<size_t>(n) * sizeof(float));
    impl->tensors[name] = std::move(t);
}

int64_t WeightStore::bytes() const {
    int64_t b = 0;
    for (auto& kv : impl->tensors) b += kv.second.numel() * 4;
    return b;
}

int64_t WeightStore::count() const { return static_cast<int64_t>(impl->tensors.size()); }

const StoredTensor& WeightStore::Impl::get(const std::string& name, const std::vector<int64_t>& shape) const {
    auto it = tensors.find(name);
    DN_CHECK(it != tensors.end(), "weights lack tensor '", name, "' of shape ", shape_str(shape));
    DN_CHECK(it->second.shape == shape, "tensor '", name, "' has shape ", shape_str(it->second.shape),
             ", the plan needs ", shape_str(shape));
    return it->second;
}

BnAffine bn_affine(const WeightStore::Impl& w, const std::string& prefix, int channels) {
    std::vector<int64_t> s{channels};
    const float* g = w.get(prefix + ".weight", s).data.data();
    const float* b = w.get(prefix + ".bias", s).data.data();
    const float* m = w.get(prefix + ".running_mean", s).data.data();
    const float* v = w.get(prefix + ".running_var", s).data.data();
    BnAffine a;
    a.scale.resize(channels);
    a.shift.resize(channels);
    for (int c = 0; c < channels; c++) {
        // PyTorch eval: (x - mean) / sqrt(var + eps) * gamma + beta, in fp32
        float inv = 1.0f / std::sqrt(v[c] + 1e-5f);
        a.scale[c] = g[c] * inv;
        a.shift[c] = b[c] - m[c] * a.scale[c];
    }
    return a;
}

}  // namespace dn4j

namespace dn4j {
void weight_store_read(const WeightStore* w, const std::string& name, float* out) {
    DN_CHECK(w != nullptr && out != nullptr, "weight_store_read: null argument");
    auto it = w->impl->tensors.find(name);
    DN_CHECK(it != w->impl->tensors.end(), "weights lack tensor '", name, "'");
    std::memcpy(out, it->second.data.data(), static_cast<size_t>(it->second.numel()) * sizeof(float));
}
}  // namespace dn4j
