#include "alloc.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

#include "densenet4j/core.h"
#include "error.h"

namespace dn4j {
namespace {
std::atomic<int64_t> g_in_use{0};
std::atomic<int64_t> g_peak{0};

void raise_peak(int64_t now) {
    int64_t p = g_peak.load(std::memory_order_relaxed);
    while (now > p && !g_peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
    }
}
}  // namespace

void* tracked_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded ? rounded : 64);
    DN_CHECK(p != nullptr, "out of native memory: could not allocate ", bytes, " bytes");
    raise_peak(g_in_use.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes));
    return p;
}

void tracked_free(void* p, size_t bytes) {
    if (!p) return;
    std::free(p);
    g_in_use.fetch_sub(static_cast<int64_t>(bytes));
}

int64_t native_bytes_in_use() { return g_in_use.load(); }
int64_t native_bytes_peak() { return g_peak.load(); }
void native_bytes_reset_peak() { g_peak.store(g_in_use.load()); }

int64_t available_host_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("MemAvailable:", 0) == 0) return std::atoll(line.c_str() + 13) * 1024;  // "MemAvailable:  123 kB"
    }
    return -1;
}

}  // namespace dn4j
