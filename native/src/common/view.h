// A checked view of a plan operand (a whole buffer or a channel slice of it), shared by the backends
// (inference and training).
#pragma once

#include "../common/error.h"
#include "../common/plan.h"

namespace dn4j {

struct View {
    int b = -1;           // plan buffer index
    int off = 0, len = 0; // channel slice [off, off + len)
    PlanBuffer decl;
    bool whole() const { return off == 0 && len == decl.c; }
};

/** Resolves operand `key` of `op`; throws naming the plan line when the slice leaves its buffer. */
inline View view(const Plan& plan, const PlanOp& op, const char* key) {
    Slice s = op.slice(key);
    View v;
    v.b = plan.buffer_index(s.buf);
    v.decl = plan.buffers[v.b];
    v.off = s.off;
    v.len = s.len < 0 ? v.decl.c : s.len;
    DN_CHECK(v.off >= 0 && v.len > 0 && v.off + v.len <= v.decl.c, "plan line ", op.line, ": ", key, " slice [", v.off,
             ", ", v.off + v.len, ") outside buffer ", v.decl.name, " of ", v.decl.c, " channels");
    return v;
}

}  // namespace dn4j
