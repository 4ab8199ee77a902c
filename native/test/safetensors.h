// A minimal safetensors reader for the native test programs (F32 and I64 tensors; others skipped).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dn4j::test {

struct HostTensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

struct HostTensorI64 {
    std::vector<int64_t> shape;
    std::vector<int64_t> data;
};

/** Reads every F32 tensor of a safetensors file; throws std::runtime_error on a bad file. */
std::map<std::string, HostTensor> read_safetensors(const std::string& path);

/** Reads every I64 tensor (labels, num_batches_tracked) of a safetensors file. */
std::map<std::string, HostTensorI64> read_safetensors_i64(const std::string& path);

}  // namespace dn4j::test
