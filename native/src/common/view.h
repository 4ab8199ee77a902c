// A checked view of a plan operand (a whole buffer or a channel slice of it), shared by the backends
// (inference and training).
#pragma once

#include "../common/error.h"
#include "../common/plan.h"

#include <string>

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

/** A max pool's k x k window, stride and padding, checked against its operands (a whole source
 *  buffer into a slice of as many channels, PyTorch's floor output size); throws naming the line. */
struct MaxPoolGeometry {
    int k, stride, pad;
};
inline MaxPoolGeometry maxpool_geometry(const PlanOp& op, const View& src, const View& dst) {
    MaxPoolGeometry g{op.integer("k"), op.integer("stride"), op.integer("pad", 0)};
    DN_CHECK(src.whole() && src.len == dst.len, "plan line ", op.line,
             ": maxpool reads a whole buffer into a slice of as many channels");
    DN_CHECK(g.k > 0 && g.stride > 0 && g.pad >= 0 && 2 * g.pad <= g.k, "plan line ", op.line, ": bad maxpool geometry");
    int ho = (src.decl.h + 2 * g.pad - g.k) / g.stride + 1, wo = (src.decl.w + 2 * g.pad - g.k) / g.stride + 1;
    DN_CHECK(src.decl.h + 2 * g.pad >= g.k && src.decl.w + 2 * g.pad >= g.k && ho == dst.decl.h && wo == dst.decl.w,
             "plan line ", op.line, ": maxpool output ", ho, "x", wo, " does not match buffer ", dst.decl.name);
    return g;
}

/** A dense_layer op of a training plan, checked: its block buffer (index and shape), input
 *  channels, growth rate k, bottleneck width, dropout probability and parameter prefix. */
struct DenseLayerSpec {
    int block = -1;
    PlanBuffer blk;
    int cin = 0, k = 0, width = 0;
    float drop = 0;
    std::string prefix;
};
inline DenseLayerSpec dense_layer_spec(const Plan& p, const PlanOp& op) {
    DenseLayerSpec d;
    d.block = p.buffer_index(op.str("block"));
    d.blk = p.buffers[d.block];
    d.cin = op.integer("cin");
    d.k = op.integer("k");
    d.width = op.integer("width");
    d.drop = std::stof(op.str("drop", "0"));
    d.prefix = op.str("prefix");
    DN_CHECK(d.cin > 0 && d.k > 0 && d.width > 0 && d.cin + d.k <= d.blk.c, "plan line ", op.line,
             ": dense layer channels outside its block buffer");
    DN_CHECK(d.drop >= 0 && d.drop < 1, "plan line ", op.line, ": drop must be in [0, 1)");
    return d;
}

}  // namespace dn4j
