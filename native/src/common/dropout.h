// The dropout rule, shared bit for bit by the CPU and CUDA trainers: a step's seed, a dense
// layer's index and an element's index within the layer's new features (row * k + channel) give
// the mask, so the same seed drops the same elements on either device and a resumed run
// replays them.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DN4J_HOST_DEVICE __host__ __device__
#else
#define DN4J_HOST_DEVICE
#endif

namespace dn4j {

/** SplitMix64's output function (Steele, Lea and Flood 2014), a 64-bit mixer. */
DN4J_HOST_DEVICE inline uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/** The mask seed of dense layer `index` (0-based, plan order) in a step seeded `step_seed`. */
inline uint64_t dropout_layer_seed(uint64_t step_seed, int index) {
    return mix64(step_seed ^ mix64(static_cast<uint64_t>(index) + 1));
}

/** The threshold that drops an element with probability p (p in [0, 1)): p * 2^64. */
inline uint64_t dropout_threshold(float p) { return static_cast<uint64_t>(static_cast<double>(p) * 18446744073709551616.0); }

/** Whether element `e` is dropped under `seed` (kept ones are scaled by 1 / (1 - p)). */
DN4J_HOST_DEVICE inline bool dropped(uint64_t seed, uint64_t e, uint64_t threshold) {
    return mix64(seed ^ mix64(e)) < threshold;
}

}  // namespace dn4j
