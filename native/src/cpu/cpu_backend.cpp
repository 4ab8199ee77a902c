// The CPU backend: oneDNN for convolutions and GEMMs, own loops (kernels.h) for the
// rest. NHWC fp32 throughout. The memory plan:
//  - every plan buffer lives in one arena, placed by lifetime (plan_memory);
//  - a 1x1 conv with a BN-ReLU (and, in a transition, 2x2 average pool) prologue runs
//    chunk by chunk: the prologue fills a small scratch of T rows, then a oneDNN matmul
//    reads it and writes straight into the destination slice (strided rows are fine
//    for matmul); the full-size BN-ReLU output never exists;
//  - a 3x3 conv with stride 1 and pad 1 runs as Winograd F(2x2, 3x3), chunk by chunk as
//    well: own tile transforms around a batched oneDNN matmul, written straight into the
//    destination slice (DN4J_WINOGRAD=0 turns it off; with few tiles a thread the direct
//    conv below runs instead);
//  - any other k x k conv writes a dense scratch when its destination is a channel slice
//    (oneDNN's strided convolutions fall back to a reference kernel) and it is copied in.
// With dtype bf16 (AVX512_BF16 CPUs only) the two matmuls that carry nearly all the FLOPs run
// in bf16 with fp32 accumulation: the 1x1 prologue writes its chunk in bf16, the Winograd
// input transform writes V in bf16, and their weights are rounded to bf16 once at load. The
// activation buffers, BatchNorm, the stem conv, pooling, the head and its softmax stay fp32.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <dnnl.hpp>
#include <limits>
#include <map>
#include <sstream>

#include "../common/backend.h"
#include "../common/error.h"
#include "kernels.h"
#include "../common/view.h"

namespace dn4j {
namespace cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

struct Ctx {
    dnnl::engine eng{dnnl::engine::kind::cpu, 0};
    dnnl::stream strm{eng};
    int64_t n = 0;
    std::vector<float*> buf;
    const float* input = nullptr;
    // uint8 (n, H, W, C) input with its normalisation instead of `input` (forward_u8)
    const uint8_t* input_u8 = nullptr;
    const float* mean = nullptr;
    const float* std = nullptr;
    float* output = nullptr;
    void* scratchpad = nullptr;
    float* chunk = nullptr;
    float* tmp = nullptr;
};

struct Needs {
    size_t scratchpad_bytes = 0, chunk_floats = 0, tmp_floats = 0;
};

/** int8: the quantization steps max_c / top of calibration tensor `name` ((C) float32). A
 *  maximum must be finite and >= 0 (anything else is a damaged file, refused naming it); a channel
 *  whose maximum is 0 (or below 1e-30) was never positive and gets step 0 (it stays 0). */
std::vector<float> int8_steps(const WeightStore::Impl& w, const std::string& name, int c, float top) {
    DN_CHECK(w.tensors.count(name) != 0, "dtype int8 needs calibration ranges, and the weights lack ", name,
             "; make them with `densenet4j quantize`");
    const StoredTensor& mx = w.get(name, {c});
    std::vector<float> step(c);
    for (int k = 0; k < c; k++) {
        float m = mx.data.data()[k];
        DN_CHECK(std::isfinite(m) && m >= 0.0f, "calibration range ", name, "[", k, "] is ", m,
                 "; ranges are the finite maxima (>= 0) that `densenet4j quantize` writes");
        step[k] = m > 1e-30f ? m / top : 0.0f;
    }
    return step;
}

/** The calibration tensor of the conv whose weight is `weight`: its input's per-channel maximum. */
std::string range_name(const std::string& weight) {
    std::string base = weight.size() > 7 && weight.compare(weight.size() - 7, 7, ".weight") == 0
                           ? weight.substr(0, weight.size() - 7)
                           : weight;
    return base + ".input_max";
}

/** One calibration line, "NAME v0 v1 ..." (each value exact: %.9g), as Engine::calibration() gives them. */
void write_range(std::ostream& os, const std::string& name, const std::vector<float>& max) {
    char v[32];
    os << name;
    for (float m : max) {
        std::snprintf(v, sizeof v, " %.9g", m);
        os << v;
    }
    os << "\n";
}

/** int8: the highest activation level: 255 where the CPU has VNNI dot products, else 127 (AVX2's
 *  vpmaddubsw sums two u8 x s8 products in int16, which 255 * 127 * 2 overflows). */
float int8_top() { return cpu_has_vnni() ? 255.0f : 127.0f; }

/** int8 weights: element (o, j) of `w` at w[o * so + j * sj], input channel j / taps; each input
 *  channel's step folded in (step[c] * w), then quantized per output channel o, symmetric, to
 *  +-127 into the same layout. Returns the int8 values (in float storage, as every buffer) and
 *  writes the per-output-channel scales to `scale` (0 where a channel's weights are all 0). */
Buffer quantize_weights(const float* w, int outs, int64_t per, int64_t so, int64_t sj, int64_t taps,
                        const std::vector<float>& step, Buffer& scale) {
    Buffer q((static_cast<size_t>(outs) * per + 3) / 4);
    int8_t* q8 = reinterpret_cast<int8_t*>(q.data());
    scale.resize(outs);
    for (int o = 0; o < outs; o++) {
        float amax = 0.0f;
        for (int64_t j = 0; j < per; j++) amax = std::max(amax, std::fabs(step[j / taps] * w[o * so + j * sj]));
        float sc = amax > 0.0f ? amax / 127.0f : 0.0f;
        scale.data()[o] = sc;
        for (int64_t j = 0; j < per; j++) {
            float v = sc > 0.0f ? step[j / taps] * w[o * so + j * sj] / sc : 0.0f;
            q8[o * so + j * sj] = static_cast<int8_t>(std::lrint(std::max(-127.0f, std::min(127.0f, v))));
        }
    }
    return q;
}

/** What the convolution matmuls compute in (the CPU's dtype option). */
enum class Precision { fp32, bf16, int8 };

/** A Buffer's floats seen as `count` bf16 values: float storage, so tracked as every buffer is. */
inline size_t bf16_floats(size_t count) { return (count + 1) / 2; }
inline bf16_t* as_bf16(float* p) { return reinterpret_cast<bf16_t*>(p); }

dnnl::primitive_attr make_attr(bool relu) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (relu) {
        dnnl::post_ops po;
        po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(po);
    }
    return attr;
}

/** A oneDNN matmul primitive with the descriptor it was made from (for describe()). */
struct Gemm {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
};

class Op {
public:
    virtual ~Op() = default;
    virtual void prepare(Ctx& c, Needs& needs) = 0;
    virtual void run(Ctx& c) = 0;
    virtual std::string describe() const = 0;
    /** Calibration (option calibrate=1): one line "NAME v0 v1 ..." per range this op records. */
    virtual void ranges(std::ostream&) const {}
};

// ------------------------------------------------------------------ to_nhwc
class ToNhwc : public Op {
public:
    ToNhwc(const Plan& p, const PlanOp& op) : dst_(view(p, op, "dst")) {
        DN_CHECK(dst_.whole() && dst_.decl.c == p.in_c && dst_.decl.h == p.in_h && dst_.decl.w == p.in_w,
                 "plan line ", op.line, ": to_nhwc destination must be a whole buffer shaped like the input");
    }
    void prepare(Ctx&, Needs&) override {}
    void run(Ctx& c) override {
        if (c.input_u8)
            u8_nhwc_normalize(c.input_u8, c.n, dst_.decl.c, dst_.decl.h, dst_.decl.w, c.mean, c.std, c.buf[dst_.b]);
        else
            nchw_to_nhwc(c.input, c.n, dst_.decl.c, dst_.decl.h, dst_.decl.w, c.buf[dst_.b]);
    }
    std::string describe() const override { return "to_nhwc (float32 NCHW, or uint8 NHWC normalised) -> " + dst_.decl.name; }

private:
    View dst_;
};

// ------------------------------------------------------------------ k x k conv
// Operands and weights of a k x k conv, checked; an out_bn is folded in (scale into the OIHW
// weights, shift as bias).
struct ConvSpec {
    View src, dst;
    int line, k, stride, pad, cin, cout;
    bool relu;
    Buffer folded, bias;
    std::string weight;
};

ConvSpec conv_spec(const Plan& p, const PlanOp& op, const WeightStore::Impl& w) {
    ConvSpec s{view(p, op, "src"), view(p, op, "dst"), op.line, op.integer("k"), op.integer("stride", 1),
               op.integer("pad", 0), 0, 0, op.integer("out_relu", 0) != 0, {}, {}, op.str("weight")};
    int line = s.line, k = s.k;
    DN_CHECK(k > 0 && s.stride > 0 && s.pad >= 0, "plan line ", line, ": bad conv geometry");
    DN_CHECK(s.src.whole(), "plan line ", line, ": a ", k, "x", k, " conv reads a whole buffer, not a slice");
    DN_CHECK(!op.has("in_bnrelu") && !op.has("pool"), "plan line ", line,
             ": in_bnrelu/pool are supported on 1x1 convs only");
    int ho = (s.src.decl.h + 2 * s.pad - k) / s.stride + 1, wo = (s.src.decl.w + 2 * s.pad - k) / s.stride + 1;
    DN_CHECK(s.src.decl.h + 2 * s.pad >= k && s.src.decl.w + 2 * s.pad >= k && ho == s.dst.decl.h &&
                 wo == s.dst.decl.w,
             "plan line ", line, ": conv output ", ho, "x", wo, " does not match buffer ", s.dst.decl.name, " (",
             s.dst.decl.h, "x", s.dst.decl.w, ")");
    s.cin = s.src.len;
    s.cout = s.dst.len;
    const StoredTensor& wt = w.get(s.weight, {s.cout, s.cin, k, k});
    size_t per = static_cast<size_t>(s.cin) * k * k;
    s.folded.resize(per * s.cout);
    std::copy(wt.data.data(), wt.data.data() + per * s.cout, s.folded.data());
    if (op.has("out_bn")) {
        BnAffine a = bn_affine(w, op.str("out_bn"), s.cout);
        for (int o = 0; o < s.cout; o++)
            for (size_t j = 0; j < per; j++) s.folded.data()[o * per + j] *= a.scale[o];
        s.bias.resize(s.cout);
        std::copy(a.shift.begin(), a.shift.end(), s.bias.data());
    }
    return s;
}

// oneDNN's convolution, for every k x k conv Winograd does not take. With int8 input steps
// (dtype int8: a dense layer's 3x3, whose uint8 input the 1x1 conv before it writes, input channel
// c at step[c] = max_c / top from calibration) it is oneDNN's u8 x s8 convolution with int32
// accumulation: the steps are folded into the weights, which are then quantized per output
// channel, symmetric, to +-127, and dequantized by per-channel scales fused into the conv.
class DirectConv : public Op {
public:
    explicit DirectConv(ConvSpec s, const std::vector<float>* int8_step = nullptr)
        : src_(s.src), dst_(s.dst), line_(s.line), k_(s.k), stride_(s.stride), pad_(s.pad), cin_(s.cin),
          cout_(s.cout), relu_(s.relu), int8_(int8_step != nullptr), folded_(std::move(s.folded)), bias_(std::move(s.bias)) {
        if (int8_) quantize(*int8_step);
    }
    const float* bias() const { return bias_.size() ? bias_.data() : nullptr; }

    void prepare(Ctx& c, Needs& needs) override {
        memory::dims src{c.n, cin_, src_.decl.h, src_.decl.w}, dst{c.n, cout_, dst_.decl.h, dst_.decl.w};
        dt wt = int8_ ? dt::s8 : dt::f32;
        auto src_md = memory::desc(src, int8_ ? dt::u8 : dt::f32, tag::nhwc);
        auto dst_md = memory::desc(dst, dt::f32, tag::nhwc);
        auto w_md = memory::desc({cout_, cin_, k_, k_}, wt, tag::any);
        memory::dims strides{stride_, stride_}, pad{pad_, pad_};
        dnnl::primitive_attr attr = make_attr(relu_);
        if (int8_) attr.set_scales_mask(DNNL_ARG_WEIGHTS, 1);  // one scale per output channel
        if (bias_.size()) {
            auto b_md = memory::desc({cout_}, dt::f32, tag::a);
            pd_ = dnnl::convolution_forward::primitive_desc(c.eng, dnnl::prop_kind::forward_inference,
                                                           dnnl::algorithm::convolution_direct, src_md, w_md, b_md,
                                                           dst_md, strides, pad, pad, attr);
        } else {
            pd_ = dnnl::convolution_forward::primitive_desc(c.eng, dnnl::prop_kind::forward_inference,
                                                           dnnl::algorithm::convolution_direct, src_md, w_md, dst_md,
                                                           strides, pad, pad, attr);
        }
        prim_ = dnnl::convolution_forward(pd_);
        // Reorder the folded OIHW weights (int8: quantized) into the layout the chosen kernel wants.
        auto wdesc = pd_.weights_desc();
        if (!(wdesc == cur_wdesc_)) {
            weights_.resize(wdesc.get_size() / sizeof(float) + 16);
            auto user = memory(memory::desc({cout_, cin_, k_, k_}, wt, tag::oihw), c.eng, folded_.data());
            auto mine = memory(wdesc, c.eng, weights_.data());
            dnnl::reorder(user, mine).execute(c.strm, user, mine);
            c.strm.wait();
            cur_wdesc_ = wdesc;
        }
        needs.scratchpad_bytes = std::max(needs.scratchpad_bytes, pd_.scratchpad_desc().get_size());
        if (!dst_.whole())
            needs.tmp_floats = std::max(needs.tmp_floats, static_cast<size_t>(c.n * dst_.decl.pixels() * cout_));
    }

    void run(Ctx& c) override {
        float* out = dst_.whole() ? c.buf[dst_.b] : c.tmp;
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, memory(pd_.src_desc(), c.eng, c.buf[src_.b])},
            {DNNL_ARG_WEIGHTS, memory(pd_.weights_desc(), c.eng, weights_.data())},
            {DNNL_ARG_DST, memory(pd_.dst_desc(), c.eng, out)},
            {DNNL_ARG_SCRATCHPAD, memory(pd_.scratchpad_desc(), c.eng, c.scratchpad)}};
        if (bias_.size()) args[DNNL_ARG_BIAS] = memory(pd_.bias_desc(), c.eng, bias_.data());
        if (int8_) args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS] = memory(memory::desc({cout_}, dt::f32, tag::a), c.eng, wscale_.data());
        prim_.execute(c.strm, args);
        if (!dst_.whole())
            copy_rows(c.tmp, cout_, c.n * dst_.decl.pixels(), cout_, c.buf[dst_.b] + dst_.off, dst_.decl.c);
    }

    std::string describe() const override {
        std::ostringstream os;
        os << "conv" << k_ << "x" << k_ << "/" << stride_ << (int8_ ? " int8 (uint8 input) " : " ") << src_.decl.name << " -> " << dst_.decl.name << ":"
           << dst_.off << ":" << dst_.len << (dst_.whole() ? "" : " (via scratch)") << " ["
           << (prim_ ? pd_.impl_info_str() : "not prepared") << "]";
        return os.str();
    }

private:
    // folded_ becomes the int8 OIHW weights, wscale_ their per-output-channel scales
    void quantize(const std::vector<float>& step) {
        int64_t per = static_cast<int64_t>(cin_) * k_ * k_;
        folded_ = quantize_weights(folded_.data(), cout_, per, per, 1, static_cast<int64_t>(k_) * k_, step, wscale_);
    }

    View src_, dst_;
    int line_, k_, stride_, pad_, cin_, cout_;
    bool relu_, int8_;
    Buffer folded_, bias_, weights_, wscale_;
    memory::desc cur_wdesc_;
    dnnl::convolution_forward::primitive_desc pd_;
    dnnl::convolution_forward prim_;
};

enum class WinogradMode { off, automatic, always };

// A 3x3 conv with stride 1 and pad 1 (every DenseNet growth conv) as Winograd F(2x2, 3x3)
// (Lavin & Gray 2016): 16 multiplies per 2x2 output tile instead of 36. The 2x2 output tiles
// go in chunks of T; for each chunk a thread transforms its input tiles into V (16 x T x Cin),
// runs one batched oneDNN matmul V @ U (16 x Cin x Cout, U = G g G^T prepared once) into M,
// and transforms M straight into the destination slice (no dense scratch, no copy). Chunks
// are whole per thread (oneDNN runs single-threaded inside our parallel region), so V and M
// stay near that core. With few tiles per thread (a small image at batch 1) the chunks are
// too short for the matmul and oneDNN's direct conv is faster: then that runs instead.
class WinogradConv : public Op {
public:
    WinogradConv(ConvSpec s, WinogradMode mode, bool bf16)
        : src_(s.src), dst_(s.dst), cin_(s.cin), cout_(s.cout), relu_(s.relu), bf16_(bf16), mode_(mode),
          u_(transformed(s)), direct_(std::move(s)) {
        zeros_.resize(cin_);
        fill(zeros_.data(), cin_, 0.0f);
        if (bf16_) {  // U rounded once; the float32 U is no longer needed
            size_t count = static_cast<size_t>(16) * cin_ * cout_;
            Buffer ub(bf16_floats(count));
            to_bf16(u_.data(), static_cast<int64_t>(count), as_bf16(ub.data()));
            u_ = std::move(ub);
        }
    }

    void prepare(Ctx& c, Needs& needs) override {
        threads_ = omp_get_max_threads();
        int h = dst_.decl.h, w = dst_.decl.w;
        tiles_ = c.n * ((h + 1) / 2) * ((w + 1) / 2);
        // break-even measured near 64 tiles a thread (7x7 at batch 8 on 2 threads)
        use_ = mode_ == WinogradMode::always || tiles_ >= 64 * threads_;
        prepared_ = true;
        if (!use_) {
            direct_.prepare(c, needs);
            return;
        }
        // ~128 tiles a chunk (V 1 MB at Cin 128, mostly L2 resident): fewer, longer matmul
        // calls measured best on DenseNet-121 (64 to 192 tried); the chunk count is a
        // multiple of the threads so that each gets the same share.
        int64_t target = getenv("DN4J_WINOGRAD_TILES") ? atoll(getenv("DN4J_WINOGRAD_TILES")) : 128;
        int64_t nch = std::max<int64_t>((tiles_ + target - 1) / std::max<int64_t>(1, target), threads_);
        nch = (nch + threads_ - 1) / threads_ * threads_;
        chunk_ = (tiles_ + nch - 1) / nch;
        chunks_ = (tiles_ + chunk_ - 1) / chunk_;
        // +16 floats: the 16 planes of V and M, a multiple of 4 KiB apart, would share L1 sets
        // (V's elements are bf16 with dtype bf16: +32 of them, the same 64 bytes)
        ldv_ = chunk_ * cin_ + (bf16_ ? 32 : 16);
        ldm_ = chunk_ * cout_ + 16;
        full_ = make(c, chunk_);
        int64_t rem = tiles_ - (chunks_ - 1) * chunk_;
        tail_ = rem != chunk_ ? make(c, rem) : Gemm{};
        size_t sp = std::max(full_.pd.scratchpad_desc().get_size(),
                             tail_.prim ? tail_.pd.scratchpad_desc().get_size() : size_t{0});
        sp_stride_ = (sp + 63) / 64 * 64;
        v_floats_ = bf16_ ? bf16_floats(static_cast<size_t>(16) * ldv_) : static_cast<size_t>(16) * ldv_;
        per_thread_ = (v_floats_ + static_cast<size_t>(16) * ldm_ + 15) / 16 * 16;
        needs.scratchpad_bytes = std::max(needs.scratchpad_bytes, sp_stride_ * threads_);
        needs.chunk_floats = std::max(needs.chunk_floats, per_thread_ * threads_);
        streams_.clear();
        for (int t = 0; t < threads_; t++) streams_.emplace_back(c.eng);
    }

    void run(Ctx& c) override {
        if (!use_) {
            direct_.run(c);
            return;
        }
        const float* src = c.buf[src_.b];
        float* dst = c.buf[dst_.b] + dst_.off;
        int h = dst_.decl.h, w = dst_.decl.w;
        int64_t ldd = dst_.decl.c;
        const float* bias = direct_.bias();
#pragma omp parallel num_threads(threads_)
        {
            int t = omp_get_thread_num();
            float* v = c.chunk + t * per_thread_;
            float* m = v + v_floats_;
            char* sp = static_cast<char*>(c.scratchpad) + t * sp_stride_;
#pragma omp for schedule(static)
            for (int64_t ch = 0; ch < chunks_; ch++) {
                int64_t t0 = ch * chunk_, len = std::min(chunk_, tiles_ - t0);
                if (bf16_)
                    winograd_input_bf16(src, h, w, cin_, t0, len, zeros_.data(), as_bf16(v), ldv_);
                else
                    winograd_input(src, h, w, cin_, t0, len, zeros_.data(), v, ldv_);
                Gemm& g = len == chunk_ ? full_ : tail_;
                g.prim.execute(streams_[t], {{DNNL_ARG_SRC, memory(g.pd.src_desc(), c.eng, v)},
                                             {DNNL_ARG_WEIGHTS, memory(g.pd.weights_desc(), c.eng, u_.data())},
                                             {DNNL_ARG_DST, memory(g.pd.dst_desc(), c.eng, m)},
                                             {DNNL_ARG_SCRATCHPAD, memory(g.pd.scratchpad_desc(), c.eng, sp)}});
                winograd_output(m, ldm_, h, w, cout_, t0, len, bias, relu_, dst, ldd);
            }
        }
    }

    std::string describe() const override {
        if (prepared_ && !use_) return direct_.describe() + " (few tiles for winograd)";
        std::ostringstream os;
        os << "conv3x3/1 winograd F(2x2,3x3)" << (bf16_ ? " bf16" : "") << " " << src_.decl.name << " -> " << dst_.decl.name << ":" << dst_.off
           << ":" << dst_.len << ", " << chunks_ << " chunks of " << chunk_ << " tiles ["
           << (full_.prim ? full_.pd.impl_info_str() : "not prepared") << "]";
        return os.str();
    }

private:
    static Buffer transformed(const ConvSpec& s) {
        DN_CHECK(s.k == 3 && s.stride == 1 && s.pad == 1, "plan line ", s.line,
                 ": Winograd takes 3x3 convs with stride 1 and pad 1");
        Buffer u(static_cast<size_t>(16) * s.cin * s.cout);
        winograd_weights(s.folded.data(), s.cout, s.cin, u.data());
        return u;
    }

    // 16 independent (m x Cin) @ (Cin x Cout) products, one per transformed tile point.
    Gemm make(Ctx& c, int64_t m) {
        dt in = bf16_ ? dt::bf16 : dt::f32;
        auto src_md = memory::desc({16, m, cin_}, in, memory::dims{ldv_, cin_, 1});
        auto w_md = memory::desc({16, cin_, cout_}, in, tag::abc);
        auto dst_md = memory::desc({16, m, cout_}, dt::f32, memory::dims{ldm_, cout_, 1});
        Gemm g;
        g.pd = dnnl::matmul::primitive_desc(c.eng, src_md, w_md, dst_md, make_attr(false));
        g.prim = dnnl::matmul(g.pd);
        return g;
    }

    View src_, dst_;
    int cin_, cout_;
    bool relu_, bf16_;
    WinogradMode mode_;
    Buffer u_, zeros_;
    DirectConv direct_;  // the batch sizes with few tiles
    bool prepared_ = false, use_ = false;
    int threads_ = 1;
    int64_t tiles_ = 0, chunk_ = 0, chunks_ = 0, ldv_ = 0, ldm_ = 0;
    size_t per_thread_ = 0, sp_stride_ = 0, v_floats_ = 0;
    Gemm full_, tail_;
    std::vector<dnnl::stream> streams_;
};

// ------------------------------------------------------------------ 1x1 conv with fused prologue
class PointwiseConv : public Op {
public:
    PointwiseConv(const Plan& p, const PlanOp& op, const WeightStore::Impl& w, Precision prec, bool calibrate)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")), line_(op.line) {
        bool bf16 = prec == Precision::bf16;
        DN_CHECK(op.integer("stride", 1) == 1 && op.integer("pad", 0) == 0, "plan line ", line_,
                 ": a 1x1 conv takes stride 1 and no padding");
        pool_ = op.has("pool");
        DN_CHECK(!pool_ || op.str("pool") == "avg2", "plan line ", line_, ": pool must be avg2");
        DN_CHECK(!pool_ || op.has("in_bnrelu"), "plan line ", line_, ": pool=avg2 needs in_bnrelu");
        relu_ = op.integer("out_relu", 0) != 0;
        int eh = pool_ ? src_.decl.h / 2 : src_.decl.h, ew = pool_ ? src_.decl.w / 2 : src_.decl.w;
        DN_CHECK(eh > 0 && ew > 0 && eh == dst_.decl.h && ew == dst_.decl.w, "plan line ", line_, ": 1x1 conv from ",
                 src_.decl.name, " (", src_.decl.h, "x", src_.decl.w, ") cannot fill ", dst_.decl.name, " (",
                 dst_.decl.h, "x", dst_.decl.w, ")");
        cin_ = src_.len;
        cout_ = dst_.len;
        const StoredTensor& wt = w.get(op.str("weight"), {cout_, cin_, 1, 1});
        // weights as (K = cin) x (N = cout), row-major, with an output BN folded in
        wt_.resize(static_cast<size_t>(cin_) * cout_);
        std::vector<float> s(cout_, 1.0f);
        if (op.has("out_bn")) {
            BnAffine a = bn_affine(w, op.str("out_bn"), cout_);
            s = a.scale;
            bias_.resize(cout_);
            std::copy(a.shift.begin(), a.shift.end(), bias_.data());
        }
        for (int o = 0; o < cout_; o++)
            for (int k = 0; k < cin_; k++) wt_.data()[static_cast<size_t>(k) * cout_ + o] = wt.data.data()[static_cast<size_t>(o) * cin_ + k] * s[o];
        if (op.has("in_bnrelu")) {
            BnAffine a = bn_affine(w, op.str("in_bnrelu"), cin_);
            in_scale_.resize(cin_);
            in_shift_.resize(cin_);
            std::copy(a.scale.begin(), a.scale.end(), in_scale_.data());
            std::copy(a.shift.begin(), a.shift.end(), in_shift_.data());
        }
        // bf16 where a prologue writes the matmul's input (every DenseNet 1x1 conv); weights rounded once
        bf16_ = bf16 && in_scale_.size() != 0;
        if (bf16_) {
            size_t count = static_cast<size_t>(cin_) * cout_;
            Buffer wb(bf16_floats(count));
            to_bf16(wt_.data(), static_cast<int64_t>(count), as_bf16(wb.data()));
            wt_ = std::move(wb);
        }
        int8_ = prec == Precision::int8 && in_scale_.size() != 0;
        if (int8_) quantize(w, op.str("weight"));
        if (calibrate && in_scale_.size()) {
            range_name_ = range_name(op.str("weight"));
            max_.assign(cin_, 0.0f);
        }
    }

    /** int8: whether this conv can write its output as uint8 for an int8 consumer (a BN-ReLU'd whole buffer). */
    bool can_quantize_output() const { return int8_ && relu_ && dst_.whole(); }

    /** int8: write q = min(top, round(relu(y_o) / step[o])) as uint8 instead of the float y (the
     *  consumer's per-channel steps, folded into this conv's scales and bias; step 0: q = 0). */
    void quantize_output(const std::vector<float>& step, float top) {
        for (int o = 0; o < cout_; o++) {
            float inv = step[o] > 0.0f ? 1.0f / step[o] : 0.0f;
            wscale_.data()[o] *= inv;
            if (bias_.size()) bias_.data()[o] *= inv;
        }
        out_u8_ = true;
        out_top_ = top;
    }

    /** Calibration: the per-channel maxima seen so far of this conv's input (after its prologue). */
    void ranges(std::ostream& os) const override {
        if (!range_name_.empty()) write_range(os, range_name_, max_);
    }

    void prepare(Ctx& c, Needs& needs) override {
        rows_ = c.n * dst_.decl.pixels();
        bool prologue = in_scale_.size() != 0;
        if (prologue) {
            // a chunk of the prologue's output stays around 1.5 MB: cache resident
            static const int64_t target = getenv("DN4J_CHUNK_FLOATS") ? atoll(getenv("DN4J_CHUNK_FLOATS")) : (int64_t{3} << 17);
            int64_t t = std::max<int64_t>(64, target / cin_);
            int64_t nch = (rows_ + t - 1) / t;
            chunk_ = std::min<int64_t>(rows_, ((rows_ + nch - 1) / nch + 7) / 8 * 8);
            size_t count = static_cast<size_t>(chunk_ * cin_);
            needs.chunk_floats = std::max(needs.chunk_floats, bf16_ ? bf16_floats(count) : int8_ ? (count + 3) / 4 : count);
        } else {
            chunk_ = rows_;
        }
        lda_ = prologue ? cin_ : src_.decl.c;
        full_ = make(c, chunk_, needs);
        int64_t rem = rows_ % chunk_;
        if (rem) tail_ = make(c, rem, needs);
    }

    void run(Ctx& c) override {
        const float* src = c.buf[src_.b] + src_.off;
        float* dst = c.buf[dst_.b] + dst_.off;
        uint8_t* dst_u8 = reinterpret_cast<uint8_t*>(c.buf[dst_.b]) + dst_.off;
        int64_t ldx = src_.decl.c, ldd = dst_.decl.c;
        for (int64_t r0 = 0; r0 < rows_; r0 += chunk_) {
            int64_t len = std::min(chunk_, rows_ - r0);
            const float* a = src + r0 * ldx;
            auto tp = std::chrono::steady_clock::now();
            if (int8_) {
                uint8_t* q = reinterpret_cast<uint8_t*>(c.chunk);
                if (pool_)
                    bn_relu_avgpool2_rows_u8(src, src_.decl.h, src_.decl.w, ldx, dst_.decl.h, dst_.decl.w, r0, len,
                                             cin_, in_scale_.data(), in_shift_.data(), top_, q);
                else
                    bn_relu_rows_u8(a, ldx, len, cin_, in_scale_.data(), in_shift_.data(), top_, q, cin_);
                a = c.chunk;
            } else if (bf16_) {
                if (pool_)
                    bn_relu_avgpool2_rows_bf16(src, src_.decl.h, src_.decl.w, ldx, dst_.decl.h, dst_.decl.w, r0, len,
                                               cin_, in_scale_.data(), in_shift_.data(), as_bf16(c.chunk));
                else
                    bn_relu_rows_bf16(a, ldx, len, cin_, in_scale_.data(), in_shift_.data(), as_bf16(c.chunk), cin_);
                a = c.chunk;
            } else if (in_scale_.size()) {
                if (pool_)
                    bn_relu_avgpool2_rows(src, src_.decl.h, src_.decl.w, ldx, dst_.decl.h, dst_.decl.w, r0, len, cin_,
                                          in_scale_.data(), in_shift_.data(), c.chunk);
                else
                    bn_relu_rows(a, ldx, len, cin_, in_scale_.data(), in_shift_.data(), c.chunk, cin_);
                a = c.chunk;
                if (!max_.empty()) column_max(c.chunk, len, cin_, max_.data());
            }
            prologue_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - tp).count();
            Gemm& g = len == chunk_ ? full_ : tail_;
            std::unordered_map<int, memory> args{
                {DNNL_ARG_SRC, memory(g.pd.src_desc(), c.eng, const_cast<float*>(a))},
                {DNNL_ARG_WEIGHTS, memory(g.pd.weights_desc(), c.eng, wt_.data())},
                {DNNL_ARG_DST, memory(g.pd.dst_desc(), c.eng, out_u8_ ? static_cast<void*>(dst_u8 + r0 * ldd) : static_cast<void*>(dst + r0 * ldd))},
                {DNNL_ARG_SCRATCHPAD, memory(g.pd.scratchpad_desc(), c.eng, c.scratchpad)}};
            if (bias_.size()) args[DNNL_ARG_BIAS] = memory(g.pd.bias_desc(), c.eng, bias_.data());
            if (int8_)
                args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS] =
                    memory(memory::desc({cout_}, dt::f32, tag::a), c.eng, wscale_.data());
            g.prim.execute(c.strm, args);
        }
    }

    std::string describe() const override {
        std::ostringstream os;
        os << "conv1x1 " << src_.decl.name << ":" << src_.off << ":" << src_.len << " -> " << dst_.decl.name << ":"
           << dst_.off << ":" << dst_.len << (in_scale_.size() ? " bn-relu" : "") << (pool_ ? "-avgpool2" : "")
           << (bf16_ ? " (bf16)" : int8_ ? " (uint8)" : "") << (out_u8_ ? " -> uint8 output" : "") << " prologue (" << 1000 * prologue_s_ << " ms in all), chunk " << chunk_ << " of " << rows_ << " rows ["
           << (full_.prim ? full_.pd.impl_info_str() : "not prepared") << "]";
        return os.str();
    }

private:
    // int8: each input channel k is quantized with its own step r_k = max_k / top (max_k from
    // calibration): the step is folded into the prologue's BN affine (which then writes q =
    // round(relu(bn(x)) / r_k) directly) and into the weights' row k, so the matmul's K sum needs no
    // per-channel factor. The weights (r_k W[k, n]) are then quantized per output channel n,
    // symmetric, to +-127. Activations use levels 0..255 where the CPU has VNNI dot products and
    // 0..127 elsewhere: AVX2's vpmaddubsw adds two u8 x s8 products in int16, which 255 * 127 * 2
    // overflows (measured: oneDNN's gemm:jit saturates). On DenseNet-121, 8 images, AVX2: relative
    // L2 1.7e-2 against fp32 with 127/127, 2.1e-2 with 127/255 (saturating), 3.7e-2 with 63/255.
    void quantize(const WeightStore::Impl& w, const std::string& weight) {
        top_ = int8_top();
        std::vector<float> step = int8_steps(w, range_name(weight), cin_, top_);
        for (int k = 0; k < cin_; k++) {
            float inv = step[k] > 0.0f ? 1.0f / step[k] : 0.0f;  // a channel never positive stays 0
            in_scale_.data()[k] *= inv;
            in_shift_.data()[k] *= inv;
        }
        // weights as (K = cin) x (N = cout): element (o, k) at k * cout + o
        wt_ = quantize_weights(wt_.data(), cout_, cin_, 1, cout_, 1, step, wscale_);
    }

    Gemm make(Ctx& c, int64_t m, Needs& needs) {
        dt in = bf16_ ? dt::bf16 : int8_ ? dt::u8 : dt::f32;
        auto src_md = memory::desc({m, cin_}, in, memory::dims{lda_, 1});
        auto w_md = memory::desc({cin_, cout_}, int8_ ? dt::s8 : in, tag::ab);
        auto dst_md = memory::desc({m, cout_}, out_u8_ ? dt::u8 : dt::f32, memory::dims{dst_.decl.c, 1});
        dnnl::primitive_attr attr = make_attr(relu_ && !out_u8_);
        if (out_u8_) {  // ReLU and the top level in one clip; the conversion to u8 rounds to nearest even
            dnnl::post_ops po;
            po.append_eltwise(dnnl::algorithm::eltwise_clip, 0.f, out_top_);
            attr.set_post_ops(po);
        }
        if (int8_) attr.set_scales_mask(DNNL_ARG_WEIGHTS, 1 << 1);  // one scale per output channel (N)
        Gemm g;
        if (bias_.size()) {
            auto b_md = memory::desc({1, cout_}, dt::f32, tag::ab);
            g.pd = dnnl::matmul::primitive_desc(c.eng, src_md, w_md, b_md, dst_md, attr);
        } else {
            g.pd = dnnl::matmul::primitive_desc(c.eng, src_md, w_md, dst_md, attr);
        }
        g.prim = dnnl::matmul(g.pd);
        needs.scratchpad_bytes = std::max(needs.scratchpad_bytes, g.pd.scratchpad_desc().get_size());
        return g;
    }

    View src_, dst_;
    int line_, cin_, cout_;
    bool pool_, relu_, bf16_ = false, int8_ = false, out_u8_ = false;
    float out_top_ = 255.0f;
    int64_t rows_ = 0, chunk_ = 0, lda_ = 0;
    double prologue_s_ = 0;
    float top_ = 255.0f;  // int8: the highest activation level (r_k = max_k / top_)
    Buffer wt_, bias_, in_scale_, in_shift_, wscale_;
    std::string range_name_;  // calibration: the tensor name, and the maxima so far
    std::vector<float> max_;
    Gemm full_, tail_;
};

// ------------------------------------------------------------------ max pool
class MaxPool : public Op {
public:
    MaxPool(const Plan& p, const PlanOp& op)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")), g_(maxpool_geometry(op, src_, dst_)) {}
    void prepare(Ctx&, Needs&) override {}
    void run(Ctx& c) override {
        maxpool(c.buf[src_.b], c.n, src_.decl.h, src_.decl.w, src_.len, g_.k, g_.stride, g_.pad, c.buf[dst_.b] + dst_.off,
                dst_.decl.c, dst_.decl.h, dst_.decl.w);
    }
    std::string describe() const override {
        return "maxpool" + std::to_string(g_.k) + "/" + std::to_string(g_.stride) + " " + src_.decl.name + " -> " +
               dst_.decl.name;
    }

private:
    View src_, dst_;
    MaxPoolGeometry g_;
};

// ------------------------------------------------------------------ head
class Head : public Op {
public:
    Head(const Plan& p, const PlanOp& op, const WeightStore::Impl& w) : src_(view(p, op, "src")) {
        DN_CHECK(src_.whole(), "plan line ", op.line, ": head reads a whole buffer");
        classes_ = op.integer("classes");
        DN_CHECK(classes_ > 0, "plan line ", op.line, ": classes must be positive");
        int c = src_.len;
        BnAffine a = bn_affine(w, op.str("bnrelu"), c);
        scale_.resize(c);
        shift_.resize(c);
        std::copy(a.scale.begin(), a.scale.end(), scale_.data());
        std::copy(a.shift.begin(), a.shift.end(), shift_.data());
        std::string fc = op.str("fc");
        const StoredTensor& wt = w.get(fc + ".weight", {classes_, c});
        const StoredTensor& b = w.get(fc + ".bias", {classes_});
        w_ = wt.data.data();
        b_ = b.data.data();
    }
    int classes() const { return classes_; }
    void prepare(Ctx& c, Needs&) override { pooled_.reserve(static_cast<size_t>(c.n * src_.len)); }
    void run(Ctx& c) override {
        int C = src_.len;
        bn_relu_gap(c.buf[src_.b], c.n, src_.decl.pixels(), C, C, scale_.data(), shift_.data(), pooled_.data());
        DN_CHECK(c.output != nullptr, "forward: this plan has a head; an output array is required");
        dnnl_status_t st = dnnl_sgemm('N', 'T', c.n, classes_, C, 1.0f, pooled_.data(), C, w_, C, 0.0f, c.output,
                                      classes_);
        DN_CHECK(st == dnnl_success, "dnnl_sgemm failed with status ", static_cast<int>(st));
        for (int64_t i = 0; i < c.n; i++)
            for (int j = 0; j < classes_; j++) c.output[i * classes_ + j] += b_[j];
    }
    std::string describe() const override {
        return "head bn-relu-gap-linear " + src_.decl.name + " -> " + std::to_string(classes_) + " logits";
    }

private:
    View src_;
    int classes_;
    Buffer scale_, shift_, pooled_;
    const float* w_;
    const float* b_;
};

// ------------------------------------------------------------------ the backend
class CpuBackend : public Backend {
public:
    CpuBackend(const Plan& plan, const WeightStore::Impl& w, int threads, Precision prec, bool calibrate)
        : plan_(plan), prec_(prec) {
        bool bf16 = prec == Precision::bf16;
        threads_ = threads > 0 ? threads : omp_get_num_procs();
        op_seconds_.assign(plan.ops.size(), 0.0);
        // DN4J_WINOGRAD=0: oneDNN's direct convolution for 3x3 convs too (for comparison);
        // =1: Winograd even where few tiles make it slower (for tests)
        const char* wg = std::getenv("DN4J_WINOGRAD");
        std::string wgs = wg ? wg : "";
        WinogradMode winograd = wgs == "0"   ? WinogradMode::off
                                : wgs == "1" ? WinogradMode::always
                                             : WinogradMode::automatic;
        std::map<int, PointwiseConv*> last_writer;  // buffer -> the 1x1 conv that last wrote it whole
        for (size_t i = 0; i < plan.ops.size(); i++) {
            const PlanOp& op = plan.ops[i];
            if (op.type == "to_nhwc") {
                ops_.push_back(std::make_unique<ToNhwc>(plan, op));
            } else if (op.type == "conv") {
                if (op.integer("k") == 1) {
                    auto pw = std::make_unique<PointwiseConv>(plan, op, w, prec, calibrate);
                    View d = view(plan, op, "dst");
                    if (op.has("in_bnrelu") && op.integer("out_relu", 0) != 0 && d.whole()) last_writer[d.b] = pw.get();
                    else last_writer.erase(d.b);
                    ops_.push_back(std::move(pw));
                    continue;
                }
                ConvSpec s = conv_spec(plan, op, w);
                auto producer = last_writer.find(s.src.b);
                // a k x k conv reading what a BN-ReLU'd 1x1 conv wrote (every dense layer's 3x3): int8
                // with the 1x1 writing uint8, where the weights hold its input ranges; calibration records them
                bool quantizable = s.k > 1 && producer != last_writer.end() && s.src.whole();
                std::string range = range_name(s.weight);
                if (quantizable && calibrate) probes_.push_back({i, s.src.b, s.cin, range, std::vector<float>(s.cin, 0.0f)});
                if (quantizable && prec == Precision::int8 && producer->second->can_quantize_output() && w.tensors.count(range)) {
                    std::vector<float> step = int8_steps(w, range, s.cin, int8_top());
                    producer->second->quantize_output(step, int8_top());
                    last_writer.erase(s.src.b);
                    ops_.push_back(std::make_unique<DirectConv>(std::move(s), &step));
                    continue;
                }
                if (winograd != WinogradMode::off && s.k == 3 && s.stride == 1 && s.pad == 1)
                    ops_.push_back(std::make_unique<WinogradConv>(std::move(s), winograd, bf16));
                else
                    ops_.push_back(std::make_unique<DirectConv>(std::move(s)));
            } else if (op.type == "maxpool") {
                last_writer.erase(view(plan, op, "dst").b);
                ops_.push_back(std::make_unique<MaxPool>(plan, op));
            } else if (op.type == "head") {
                DN_CHECK(classes_ == 0, "plan line ", op.line, ": a plan has at most one head");
                auto h = std::make_unique<Head>(plan, op, w);
                classes_ = h->classes();
                ops_.push_back(std::move(h));
            } else {
                fail("plan line ", op.line, ": unknown op '", op.type, "'");
            }
        }
    }

    void forward(const float* input, int64_t n, float* output) override {
        ctx_.input_u8 = nullptr;
        run_all(input, n, output);
    }

    void forward_u8(const uint8_t* input, int64_t n, const float* mean, const float* std, float* output) override {
        ctx_.input_u8 = input;
        ctx_.mean = mean;
        ctx_.std = std;
        try {
            run_all(nullptr, n, output);
        } catch (...) {
            ctx_.input_u8 = nullptr;
            throw;
        }
        ctx_.input_u8 = nullptr;
    }

    void run_all(const float* input, int64_t n, float* output) {
        omp_set_num_threads(threads_);
        if (n != ctx_.n) prepare(n);
        ctx_.input = input;
        ctx_.output = output;
        for (size_t i = 0; i < ops_.size(); i++) {
            if (poison_) {
                for (size_t b = 0; b < plan_.buffers.size(); b++)
                    if (mem_.first_use[b] == static_cast<int>(i))
                        fill(ctx_.buf[b], mem_.size[b], std::numeric_limits<float>::quiet_NaN());
            }
            for (Probe& pr : probes_)
                if (pr.op == i) column_max(ctx_.buf[pr.buffer], ctx_.n * plan_.buffers[pr.buffer].pixels(), pr.c, pr.max.data());
            if (profile_) {
                auto t0 = std::chrono::steady_clock::now();
                ops_[i]->run(ctx_);
                ctx_.strm.wait();
                op_seconds_[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            } else {
                ops_[i]->run(ctx_);
            }
        }
        ctx_.strm.wait();
        if (profile_) profiled_++;
    }

    int64_t output_size(int64_t n) const override { return n * classes_; }

    int64_t buffer_size(const std::string& name) const override {
        const PlanBuffer& b = plan_.buffer(name);
        return ctx_.n * b.pixels() * b.c;
    }

    void read_buffer(const std::string& name, float* out) const override {
        DN_CHECK(ctx_.n > 0, "read_buffer: no forward has run yet");
        int b = plan_.buffer_index(name);
        std::copy(ctx_.buf[b], ctx_.buf[b] + buffer_size(name), out);
    }

    void set_poison(bool on) override { poison_ = on; }

    std::string calibration() const override {
        std::ostringstream os;
        for (auto& op : ops_) op->ranges(os);
        for (const Probe& pr : probes_) write_range(os, pr.name, pr.max);
        return os.str();
    }

    std::string describe() const override {
        std::ostringstream os;
        os << "cpu backend, "
           << (prec_ == Precision::bf16   ? "bf16 matmuls (fp32 accumulation), "
               : prec_ == Precision::int8 ? "int8 convs (u8 x s8, int32 accumulation; stem, pooling and head fp32), "
                                          : "fp32, ")
           << threads_
           << " threads, batch " << ctx_.n << ", arena "
           << mem_.arena_floats * 4 << " bytes\n";
        for (size_t i = 0; i < ops_.size(); i++) {
            os << "  " << ops_[i]->describe();
            if (profiled_) os << "  " << 1000.0 * op_seconds_[i] / profiled_ << " ms";
            os << "\n";
        }
        return os.str();
    }

private:
    void prepare(int64_t n) {
        ctx_.n = 0;
        check_buffer_elements(plan_, n);
        mem_ = plan_memory(plan_, n);
        // refused up front (like training) rather than left to the kernel's out-of-memory killer
        int64_t grow = static_cast<int64_t>(mem_.arena_floats) * 4 - static_cast<int64_t>(arena_.size()) * 4;
        int64_t avail = available_host_bytes();
        DN_CHECK(grow <= 0 || avail < 0 || static_cast<double>(grow) <= 0.9 * static_cast<double>(avail), "batch ", n,
                 " needs about ", static_cast<double>(mem_.arena_floats) * 4 / 1e9, " GB for its activations, over 90% of the ",
                 static_cast<double>(avail) / 1e9, " GB this machine has available; use a smaller batch");
        arena_.reserve(static_cast<size_t>(mem_.arena_floats));
        ctx_.buf.resize(plan_.buffers.size());
        for (size_t b = 0; b < plan_.buffers.size(); b++) ctx_.buf[b] = arena_.data() + mem_.offset[b];
        ctx_.n = n;
        Needs needs;
        try {
            for (auto& op : ops_) op->prepare(ctx_, needs);
        } catch (...) {
            ctx_.n = 0;
            throw;
        }
        scratchpad_.reserve(needs.scratchpad_bytes / sizeof(float) + 16);
        chunk_.reserve(needs.chunk_floats);
        tmp_.reserve(needs.tmp_floats);
        ctx_.scratchpad = scratchpad_.data();
        ctx_.chunk = chunk_.data();
        ctx_.tmp = tmp_.data();
    }

    Plan plan_;
    Precision prec_;
    int threads_;
    int classes_ = 0;
    // DN4J_PROFILE=1: time every op (with a stream wait after each), reported by describe()
    bool profile_ = std::getenv("DN4J_PROFILE") != nullptr;
    std::vector<double> op_seconds_;
    int64_t profiled_ = 0;
    bool poison_ = false;
    std::vector<std::unique_ptr<Op>> ops_;
    // calibration of the k x k convs int8 can take: the per-channel maxima of their input buffer
    struct Probe {
        size_t op;
        int buffer, c;
        std::string name;
        std::vector<float> max;
    };
    std::vector<Probe> probes_;
    MemoryPlan mem_;
    Buffer arena_, scratchpad_, chunk_, tmp_;
    Ctx ctx_;
};

}  // namespace
}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend(const Plan& plan, const WeightStore::Impl& weights, int threads,
                                          const std::string& dtype, bool calibrate) {
    // OpenMP with thousands of threads fails inside the runtime (crashes, not errors)
    DN_CHECK(threads >= 0 && threads <= kMaxThreads, "threads must be from 0 (all cores) to ", kMaxThreads, ", got ", threads);
    DN_CHECK(dtype == "fp32" || dtype == "bf16" || dtype == "int8", "the CPU backend runs fp32, bf16 or int8, not ", dtype);
    DN_CHECK(!calibrate || dtype == "fp32", "calibration runs in fp32");
    // Refused rather than run slowly: without AVX512_BF16, oneDNN emulates bf16 matmuls at
    // below fp32 speed, so bf16 would cost accuracy and buy nothing.
    DN_CHECK(dtype != "bf16" || cpu::cpu_has_bf16(),
             "dtype bf16 on the CPU needs AVX512_BF16 (Intel Cooper Lake or Sapphire Rapids, AMD Zen 4 or newer), "
             "which this CPU lacks; use fp32");
    cpu::Precision prec = dtype == "bf16" ? cpu::Precision::bf16 : dtype == "int8" ? cpu::Precision::int8 : cpu::Precision::fp32;
    return std::make_unique<cpu::CpuBackend>(plan, weights, threads, prec, calibrate);
}

}  // namespace dn4j
