#include <algorithm>

#include "backend.h"
#include "error.h"

namespace dn4j {

static void note_use(const Plan& plan, const PlanOp& op, const char* key, int i, MemoryPlan& m) {
    if (!op.has(key)) return;
    int b = plan.buffer_index(op.slice(key).buf);
    if (m.first_use[b] < 0) m.first_use[b] = i;
    m.last_use[b] = i;
}

MemoryPlan plan_memory(const Plan& plan, int64_t n) {
    MemoryPlan m;
    size_t nb = plan.buffers.size();
    m.offset.assign(nb, -1);
    m.size.resize(nb);
    m.first_use.assign(nb, -1);
    m.last_use.assign(nb, -1);
    for (size_t i = 0; i < plan.ops.size(); i++) {
        note_use(plan, plan.ops[i], "src", static_cast<int>(i), m);
        note_use(plan, plan.ops[i], "dst", static_cast<int>(i), m);
    }
    for (size_t b = 0; b < nb; b++) {
        int64_t f = n * plan.buffers[b].pixels() * plan.buffers[b].c;
        m.size[b] = (f + 15) / 16 * 16;  // 64-byte aligned starts
    }
    // Largest first, each at the lowest offset that overlaps no live-at-the-same-time buffer.
    std::vector<size_t> order(nb);
    for (size_t i = 0; i < nb; i++) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return m.size[a] > m.size[b]; });
    std::vector<size_t> placed;
    for (size_t b : order) {
        if (m.first_use[b] < 0) { m.offset[b] = 0; m.size[b] = 0; continue; }
        std::vector<std::pair<int64_t, int64_t>> busy;
        for (size_t o : placed) {
            bool overlap = m.first_use[o] <= m.last_use[b] && m.first_use[b] <= m.last_use[o];
            if (overlap) busy.emplace_back(m.offset[o], m.offset[o] + m.size[o]);
        }
        std::sort(busy.begin(), busy.end());
        int64_t at = 0;
        for (auto& iv : busy) {
            if (at + m.size[b] <= iv.first) break;
            at = std::max(at, iv.second);
        }
        m.offset[b] = at;
        m.arena_floats = std::max(m.arena_floats, at + m.size[b]);
        placed.push_back(b);
    }
    return m;
}

}  // namespace dn4j
