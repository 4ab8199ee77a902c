// The WeightStore's contents, and helpers that read BatchNorm parameters from it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "alloc.h"
#include "densenet4j/core.h"

namespace dn4j {

struct StoredTensor {
    std::vector<int64_t> shape;
    Buffer data;
    int64_t numel() const {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
};

struct WeightStore::Impl {
    std::map<std::string, StoredTensor> tensors;
    /** The tensor `name` with exactly `shape`; throws naming both on a mismatch. */
    const StoredTensor& get(const std::string& name, const std::vector<int64_t>& shape) const;
    /** The same, writable (training updates parameters and running statistics in place). */
    StoredTensor& get_mut(const std::string& name, const std::vector<int64_t>& shape) {
        return const_cast<StoredTensor&>(get(name, shape));
    }
};

/** Inference form of BatchNorm `prefix` (torchvision names, eps 1e-5):
 *  y = x * scale + shift, scale = gamma / sqrt(var + eps), shift = beta - mean * scale. */
struct BnAffine {
    std::vector<float> scale, shift;
};
BnAffine bn_affine(const WeightStore::Impl& w, const std::string& prefix, int channels);

}  // namespace dn4j
