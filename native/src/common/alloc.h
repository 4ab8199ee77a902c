// The tracked allocator: every native byte the library holds passes through here, so
// native_bytes_in_use()/native_bytes_peak() are the figures `bench` reports.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dn4j {

/** 64-byte aligned, tracked; throws dn4j::Error when the system refuses. */
void* tracked_alloc(size_t bytes);
void tracked_free(void* p, size_t bytes);
/** MemAvailable of /proc/meminfo in bytes, or -1 where it cannot be read. */
int64_t available_host_bytes();

/** An owning, tracked, 64-byte aligned float buffer (move-only). */
class Buffer {
public:
    Buffer() = default;
    explicit Buffer(size_t floats) { resize(floats); }
    ~Buffer() { reset(); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
    Buffer& operator=(Buffer&& o) noexcept {
        if (this != &o) { reset(); p_ = o.p_; n_ = o.n_; o.p_ = nullptr; o.n_ = 0; }
        return *this;
    }
    /** Discards the contents and holds exactly `floats` floats. */
    void resize(size_t floats) {
        if (floats == n_) return;
        reset();
        if (floats) { p_ = static_cast<float*>(tracked_alloc(floats * sizeof(float))); n_ = floats; }
    }
    /** Grows (discarding contents) only when `floats` exceeds the current size. */
    void reserve(size_t floats) { if (floats > n_) resize(floats); }
    void reset() {
        if (p_) tracked_free(p_, n_ * sizeof(float));
        p_ = nullptr; n_ = 0;
    }
    float* data() const { return p_; }
    size_t size() const { return n_; }

private:
    float* p_ = nullptr;
    size_t n_ = 0;
};

}  // namespace dn4j
