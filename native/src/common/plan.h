// The plan: a flat list of native ops written by the Java topology (io.densenet4j.topology.Plan).
//
// Text, one statement per line, '#' starts a comment:
//   densenet4j-plan 1
//   input c=C h=H w=W                 the network input, (N, C, H, W) float32 NCHW
//   buffer NAME c=C h=H w=W           an activation buffer, NHWC, C channels per pixel
//   op TYPE key=value ...             an op; operands name buffers as NAME or NAME:OFFSET:COUNT
//                                     (a channel slice; the buffer's row stride stays C)
// Ops:
//   to_nhwc dst=B                     input (NCHW) into B (NHWC)
//   conv src=S dst=D weight=W k=K [stride=1] [pad=0] [in_bnrelu=BN] [pool=avg2]
//        [out_bn=BN] [out_relu=1]     D = relu?(bn_out?(conv(pool?(relu(bn_in(S))))))
//                                     BN names a torchvision BatchNorm prefix (eps 1e-5);
//                                     pool=avg2 averages 2x2/2 before a 1x1 conv (a
//                                     transition: exact, since both are linear)
//   maxpool src=S dst=D k=K stride=S pad=P
//   head src=S bnrelu=BN fc=FC classes=K    logits = FC(mean_hw(relu(bn(S))))
// The C++ side never re-derives topology: shapes come from the buffers, and every op is
// checked against them.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace dn4j {

struct PlanBuffer {
    std::string name;
    int c = 0, h = 0, w = 0;
    long long pixels() const { return static_cast<long long>(h) * w; }
};

/** A channel slice of a buffer. */
struct Slice {
    std::string buf;
    int off = 0;
    int len = -1;  // -1: the whole buffer
};

struct PlanOp {
    std::string type;
    std::map<std::string, std::string> args;
    int line = 0;

    bool has(const std::string& k) const { return args.count(k) != 0; }
    std::string str(const std::string& k) const;                      // required
    std::string str(const std::string& k, const std::string& d) const;
    int integer(const std::string& k) const;                          // required
    int integer(const std::string& k, int d) const;
    Slice slice(const std::string& k) const;                          // required
};

struct Plan {
    int in_c = 0, in_h = 0, in_w = 0;
    std::vector<PlanBuffer> buffers;
    std::vector<PlanOp> ops;

    /** Parses plan text; throws dn4j::Error naming the line on any defect. */
    static Plan parse(const std::string& text);
    const PlanBuffer& buffer(const std::string& name) const;
    int buffer_index(const std::string& name) const;
};

}  // namespace dn4j
