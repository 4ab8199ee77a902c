// The core's side of the CUDA backend: libdensenet4j_cuda is loaded with dlopen the first time
// a CUDA device is asked for, so the core itself never needs CUDA or cuDNN.
#pragma once

#include <string>

#include "../cuda/cuda_entry.h"

namespace dn4j {

struct CudaRuntime {
    int index = -1;  // the device index; -1: not a CUDA device name
    decltype(&dn4j_cuda_make_backend) make_backend = nullptr;
    decltype(&dn4j_cuda_make_trainer) make_trainer = nullptr;
};

/** For "cuda" / "cuda:I": loads the CUDA library (once) and returns its entry points; throws
 *  dn4j::Error naming what is missing (library, cuDNN, driver, device). For other names,
 *  returns index -1 without loading anything. */
CudaRuntime cuda_runtime_for(const std::string& device);

}  // namespace dn4j
