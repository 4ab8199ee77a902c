// A minimal safetensors reader for the native test programs (F32 tensors; others skipped).
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

/** Reads every F32 tensor of a safetensors file; throws std::runtime_error on a bad file. */
std::map<std::string, HostTensor> read_safetensors(const std::string& path);

}  // namespace dn4j::test
