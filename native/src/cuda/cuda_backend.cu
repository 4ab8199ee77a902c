// The CUDA inference backend: cuDNN for convolutions, own kernels (kernels.h) for the rest.
// NHWC throughout, activations in the chosen dtype (fp32, fp16 or bf16), BatchNorm parameters
// and accumulations in fp32. The memory plan is the CPU backend's:
//  - every plan buffer lives in one device arena, placed by lifetime (plan_memory);
//  - a 1x1 conv with a BN-ReLU (and, in a transition, 2x2 average pool) prologue: an own kernel
//    writes the prologue's output into one scratch that every such conv reuses, cuDNN's conv
//    reads it; at inference a BN after a conv is folded into its weights and a bias, and the
//    ReLU after it runs as the conv's epilogue (cuDNN's fused conv-bias-ReLU where it accepts
//    the shape, else an own kernel);
//  - a conv whose destination is a channel slice of a block buffer writes a dense k-channel
//    scratch and an own kernel copies it in (slices=copy), or writes the slice directly
//    through cuDNN's strided output descriptor (slices=strided); gpu-check measures both.
//  - at a fixed batch size, the forward (the logits' copy out included) is captured once in a
//    CUDA Graph and replayed on later calls;
//  - double buffering: a batch is copied into one of two pinned staging slots and uploaded on a
//    copy stream, and its forward waits for that upload on the compute stream, so with submit()
//    and collect() one batch's upload overlaps the previous one's compute. One-at-a-time callers
//    (forward) use slot 0 only; the second slot's buffers are allocated when two batches are in
//    flight (about 2x the input's float size again, on the device and pinned).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "../common/view.h"
#include "cuda_entry.h"
#include "cuda_util.h"
#include "cudnn_graph.h"
#include "kernels.h"

#include <functional>

namespace dn4j::cuda {
namespace {

struct Options {
    std::string dtype = "fp32";
    bool graphs = true;
    int device = 0;
    bool strided_slices = false;
    bool find = true;
    size_t workspace_limit = size_t{512} << 20;
    bool fuse = true;
    bool graph = true;

    static Options parse(const char* text) {
        Options o;
        for_each_option(text, "cuda", [&](const std::string& k, const std::string& v) {
            if (k == "dtype") {
                DN_CHECK(v == "fp32" || v == "tf32" || v == "fp16" || v == "bf16", "dtype must be fp32, tf32, fp16 or bf16, got '", v, "'");
                o.dtype = v;
            } else if (k == "graphs") o.graphs = option_flag(k, v);
            else if (k == "fuse") o.fuse = option_flag(k, v);
            else if (k == "graph") o.graph = option_flag(k, v);
            else if (k == "device") o.device = option_device(v);
            else if (k == "slices") {
                DN_CHECK(v == "copy" || v == "strided", "slices must be copy or strided, got '", v, "'");
                o.strided_slices = v == "strided";
            } else if (k == "algo") {
                DN_CHECK(v == "find" || v == "heuristic", "algo must be find or heuristic, got '", v, "'");
                o.find = v == "find";
            } else if (k == "workspace_mb") {
                o.workspace_limit = option_megabytes(k, v);
            } else {
                fail("unknown cuda option '", k, "'");
            }
        });
        return o;
    }
};

template <typename T> struct Dt;
template <> struct Dt<float> { static constexpr cudnnDataType_t v = CUDNN_DATA_FLOAT; };
template <> struct Dt<__half> { static constexpr cudnnDataType_t v = CUDNN_DATA_HALF; };
template <> struct Dt<__nv_bfloat16> { static constexpr cudnnDataType_t v = CUDNN_DATA_BFLOAT16; };

struct Ctx {
    cudnnHandle_t dnn = nullptr;
    cudaStream_t stream = nullptr;
    const Options* opt = nullptr;
    cudnnMathType_t math = CUDNN_FMA_MATH;
    int64_t n = 0;
    std::vector<void*> buf;
    void* prologue = nullptr;  // the shared BN-ReLU(-pool) output scratch
    void* tmp = nullptr;       // dense conv output before it is copied into a slice
    void* ws = nullptr;
    size_t ws_bytes = 0;
    float* input = nullptr;   // device, (n, C, H, W) float32
    bool u8 = false;                  // forward_u8: the input is uint8 (n, H, W, C) at input_u8 instead
    const uint8_t* input_u8 = nullptr;  // device (the same bytes as `input`)
    const float* norm = nullptr;        // device, mean[0..C) then std[0..C)
    float* output = nullptr;  // device, (n, classes) float32
};

struct Needs {
    size_t prologue_bytes = 0, tmp_bytes = 0, ws_bytes = 0;
};

/** Uploads `count` floats and converts them to T on the device. */
template <typename T>
DeviceBuffer upload(const float* host, size_t count, cudaStream_t s) {
    DeviceBuffer f(count * sizeof(float));
    DN_CUDA(cudaMemcpyAsync(f.get(), host, count * sizeof(float), cudaMemcpyHostToDevice, s));
    if (std::is_same<T, float>::value) {
        DN_CUDA(cudaStreamSynchronize(s));
        return f;
    }
    DeviceBuffer out(count * sizeof(T));
    from_float<T>(f.get<float>(), static_cast<int64_t>(count), out.get<T>(), s);
    DN_CUDA(cudaStreamSynchronize(s));
    return out;
}

DeviceBuffer upload_f32(const std::vector<float>& v, cudaStream_t s) { return upload<float>(v.data(), v.size(), s); }

// ------------------------------------------------------------------ cuDNN convolution
struct AlgoChoice {
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;
    cudnnMathType_t math;
};

std::mutex g_algo_mutex;
std::map<std::string, AlgoChoice> g_algo_cache;  // per shape, dtype and math: chosen once per process
std::map<std::string, std::string> g_select_cache;  // per conv and epilogue: the candidate select() chose


/** One cuDNN forward convolution over NHWC tensors whose pixel rows may be strided (a channel
 *  slice of a wider buffer). Batches whose tensors pass 2^31 elements run in image chunks. */
template <typename T>
class CudnnConv {
public:
    ~CudnnConv() { destroy(); }

    /** x: (n, cin, h, w) with row stride x_ldc; y: (n, cout, ho, wo) with row stride y_ldc. */
    void setup(Ctx& c, int64_t n, int cin, int h, int w, int64_t x_ldc, int cout, int ho, int wo, int64_t y_ldc, int k,
               int stride, int pad, bool bias_relu) {
        destroy();
        n_ = n;
        spec_ = ConvSpec{Dt<T>::v, n, cin, h, w, x_ldc, cout, ho, wo, y_ldc, k, stride, pad, bias_relu,
                         c.math == CUDNN_FMA_MATH};
        x_img_ = int64_t(h) * w * x_ldc;
        y_img_ = int64_t(ho) * wo * y_ldc;
        const int64_t limit = (int64_t{1} << 31) - 1;
        DN_CHECK(x_img_ <= limit && y_img_ <= limit, "one image's tensor passes 2^31 elements");
        per_ = std::max<int64_t>(1, std::min<int64_t>({n, limit / x_img_, limit / y_img_}));
        DN_CUDNN(cudnnCreateFilterDescriptor(&wd_));
        DN_CUDNN(cudnnSetFilter4dDescriptor(wd_, Dt<T>::v, CUDNN_TENSOR_NHWC, cout, cin, k, k));
        DN_CUDNN(cudnnCreateConvolutionDescriptor(&cd_));
        DN_CUDNN(cudnnSetConvolution2dDescriptor(cd_, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                 CUDNN_DATA_FLOAT));
        DN_CUDNN(cudnnSetConvolutionMathType(cd_, c.math));
        if (bias_relu) {
            DN_CUDNN(cudnnCreateTensorDescriptor(&bd_));
            DN_CUDNN(cudnnSetTensor4dDescriptor(bd_, CUDNN_TENSOR_NCHW, Dt<T>::v, 1, cout, 1, 1));
            DN_CUDNN(cudnnCreateActivationDescriptor(&ad_));
            DN_CUDNN(cudnnSetActivationDescriptor(ad_, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
        }
        for (int part = 0; part < 2; part++) {
            int64_t imgs = part == 0 ? per_ : n % per_;
            if (imgs == 0 || (part == 1 && n < per_)) continue;
            Shape& s = shape_[part];
            s.imgs = static_cast<int>(imgs);
            DN_CUDNN(cudnnCreateTensorDescriptor(&s.x));
            DN_CUDNN(cudnnSetTensor4dDescriptorEx(s.x, Dt<T>::v, s.imgs, cin, h, w, static_cast<int>(x_img_), 1,
                                                  static_cast<int>(int64_t(w) * x_ldc), static_cast<int>(x_ldc)));
            DN_CUDNN(cudnnCreateTensorDescriptor(&s.y));
            DN_CUDNN(cudnnSetTensor4dDescriptorEx(s.y, Dt<T>::v, s.imgs, cout, ho, wo, static_cast<int>(y_img_), 1,
                                                  static_cast<int>(int64_t(wo) * y_ldc), static_cast<int>(y_ldc)));
            std::ostringstream key;
            // the device too: one process may drive GPUs of different models
            key << "gpu" << c.opt->device << " " << Dt<T>::v << "/" << c.math << " x" << s.imgs << "," << cin << "," << h << "," << w << "/" << x_ldc
                << " w" << cout << "," << k << " s" << stride << " p" << pad << " y" << ho << "," << wo << "/" << y_ldc;
            s.key = key.str();
        }
    }

    /** Chooses the algorithms (benchmarking them on the real buffers with algo=find). */
    void tune(Ctx& c, const T* x, const T* w, T* y, void* find_ws, size_t find_ws_bytes, Needs& needs) {
        for (Shape& s : shape_) {
            if (!s.x) continue;
            {
                std::lock_guard<std::mutex> lock(g_algo_mutex);
                auto it = g_algo_cache.find(s.key);
                if (it != g_algo_cache.end()) {
                    s.choice = it->second;
                    needs.ws_bytes = std::max(needs.ws_bytes, s.choice.ws);
                    continue;
                }
            }
            cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
            int got = 0;
            if (c.opt->find) {
                DN_CUDNN(cudnnFindConvolutionForwardAlgorithmEx(c.dnn, s.x, x, wd_, w, cd_, s.y, y,
                                                                CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf, find_ws,
                                                                find_ws_bytes));
            } else {
                DN_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(c.dnn, s.x, wd_, cd_, s.y,
                                                                CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
            }
            // the fastest (results come sorted by time), or a smaller workspace within 5% of it
            bool found = false;
            float best = 0;
            for (int i = 0; i < got; i++) {
                if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > c.opt->workspace_limit) continue;
                // true fp32 takes FMA math only: any tensor-op result would be TF32
                if (c.math == CUDNN_FMA_MATH && perf[i].mathType != CUDNN_FMA_MATH) continue;
                if (!found) best = perf[i].time;
                else if (!c.opt->find || perf[i].time > best * 1.05f || perf[i].memory >= s.choice.ws) continue;
                s.choice = AlgoChoice{perf[i].algo, perf[i].memory, perf[i].mathType};
                found = true;
            }
            DN_CHECK(found, "cuDNN offers no forward algorithm for conv ", s.key, " within ",
                     c.opt->workspace_limit >> 20, " MB of workspace");
            std::lock_guard<std::mutex> lock(g_algo_mutex);
            g_algo_cache[s.key] = s.choice;
            needs.ws_bytes = std::max(needs.ws_bytes, s.choice.ws);
        }
    }

    /**
     * Picks how this conv runs by timing the candidates on the real buffers (CUDA events, best
     * of 5 after 2 warm-ups): the legacy algorithm chosen above, cuDNN's legacy fused
     * conv-bias-ReLU, and the graph API's heuristic plans (fused, and plain). A candidate
     * without the epilogue is charged `epilogue`'s time. `ws` must hold `ws_bytes` bytes.
     */
    void select(Ctx& c, const T* x, const T* w, T* y, const T* bias_t, const float* bias_f,
                const std::function<void()>& epilogue, void* ws, size_t ws_bytes, Needs& needs) {
        kind_ = Kind::legacy;
        fused_ = false;
        note_.clear();
        spec_.x_align = byte_alignment(x, spec_.x_ldc * static_cast<int64_t>(sizeof(T)));
        spec_.y_align = byte_alignment(y, spec_.y_ldc * static_cast<int64_t>(sizeof(T)));
        std::string key = shape_[0].key + (bd_ ? " bias-relu" : "") + (epilogue ? " epilogue" : "") +
                          (c.opt->graph && per_ == n_ ? " graph" : "");
        std::string cached;
        {
            std::lock_guard<std::mutex> lock(g_algo_mutex);
            auto it = g_select_cache.find(key);
            if (it != g_select_cache.end()) cached = it->second;
        }
        if (cached == "legacy" || cached == "legacy fused") {
            kind_ = cached == "legacy" ? Kind::legacy : Kind::legacy_fused;
            fused_ = kind_ == Kind::legacy_fused;
            note_ = "chosen earlier in this process";
            needs.ws_bytes = std::max(needs.ws_bytes, shape_[0].choice.ws);
            return;
        }
        if (!cached.empty()) {  // a graph plan: rebuild the same engine without timing
            ConvSpec sp = spec_;
            sp.bias_relu = cached.find("fused") != std::string::npos;
            std::string why;
            for (auto& p : graph_conv_plans(c.dnn, sp, 4, static_cast<int64_t>(ws_bytes), &why)) {
                if (p->name() != cached) continue;
                kind_ = Kind::graph;
                fused_ = sp.bias_relu;
                plan_ = std::move(p);
                note_ = "chosen earlier in this process";
                needs.ws_bytes = std::max(needs.ws_bytes, static_cast<size_t>(plan_->workspace()));
                return;
            }
        }
        cudaEvent_t e0, e1;
        DN_CUDA(cudaEventCreate(&e0));
        DN_CUDA(cudaEventCreate(&e1));
        auto time = [&](const std::function<cudnnStatus_t()>& f) -> float {
            for (int i = 0; i < 2; i++)
                if (f() != CUDNN_STATUS_SUCCESS) return -1.f;
            float best = 1e30f;
            for (int i = 0; i < 5; i++) {
                DN_CUDA(cudaEventRecord(e0, c.stream));
                cudnnStatus_t st = f();
                DN_CUDA(cudaEventRecord(e1, c.stream));
                DN_CUDA(cudaEventSynchronize(e1));
                if (st != CUDNN_STATUS_SUCCESS) return -1.f;
                float ms = 0;
                DN_CUDA(cudaEventElapsedTime(&ms, e0, e1));
                best = std::min(best, ms);
            }
            return best;
        };
        void* saved_ws = c.ws;
        size_t saved_bytes = c.ws_bytes;
        c.ws = ws;
        c.ws_bytes = ws_bytes;
        float epi = 0;
        if (epilogue) {
            epi = time([&] { epilogue(); return CUDNN_STATUS_SUCCESS; });
        }
        float best = time([&] { return legacy(c, x, w, nullptr, y, false); });
        DN_CHECK(best >= 0, "cuDNN conv ", shape_[0].key, " failed on its chosen algorithm");
        best += epi;
        size_t best_ws = shape_[0].choice.ws;
        std::ostringstream notes;
        notes << "legacy " << best << " ms";
        if (bd_) {
            float t = time([&] { return legacy(c, x, w, bias_t, y, true); });
            notes << ", legacy fused " << (t < 0 ? std::string("refused") : std::to_string(t) + " ms");
            if (t >= 0 && t < best) { best = t; kind_ = Kind::legacy_fused; fused_ = true; }
        }
        if (c.opt->graph && per_ == n_) {
            for (int fusedg = spec_.bias_relu ? 1 : 0; fusedg >= 0; fusedg--) {
                ConvSpec sp = spec_;
                sp.bias_relu = fusedg == 1;
                std::string why;
                auto plans = graph_conv_plans(c.dnn, sp, 4, static_cast<int64_t>(ws_bytes), &why);
                if (plans.empty()) notes << ", graph" << (fusedg ? " fused" : "") << ": " << why;
                for (auto& p : plans) {
                    float t = time([&] { return p->run(c.dnn, x, w, y, fusedg ? bias_f : nullptr, ws); });
                    if (t >= 0 && !fusedg) t += epi;
                    if (t >= 0 && t < best * 0.97f) {  // the legacy path wins ties
                        best = t;
                        kind_ = Kind::graph;
                        fused_ = fusedg == 1;
                        best_ws = static_cast<size_t>(p->workspace());
                        plan_ = std::move(p);
                    }
                }
            }
        }
        notes << "; chose " << (kind_ == Kind::graph ? plan_->name() : kind_ == Kind::legacy_fused ? "legacy fused" : "legacy")
              << " " << best << " ms";
        note_ = notes.str();
        {
            std::lock_guard<std::mutex> lock(g_algo_mutex);
            g_select_cache[key] = kind_ == Kind::graph ? plan_->name() : kind_ == Kind::legacy_fused ? "legacy fused" : "legacy";
        }
        c.ws = saved_ws;
        c.ws_bytes = saved_bytes;
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        needs.ws_bytes = std::max(needs.ws_bytes, best_ws);
    }

    void run(Ctx& c, const T* x, const T* w, const T* bias_t, const float* bias_f, T* y) {
        cudnnStatus_t st = kind_ == Kind::graph ? plan_->run(c.dnn, x, w, y, fused_ ? bias_f : nullptr, c.ws)
                                                : legacy(c, x, w, bias_t, y, fused_);
        if (st != CUDNN_STATUS_SUCCESS) fail("cuDNN error ", cudnnGetErrorString(st), " in conv ", shape_[0].key);
    }

    bool fused() const { return fused_; }

    std::string describe() const {
        std::ostringstream os;
        if (kind_ == Kind::graph) os << "cudnn " << plan_->name() << " ws " << (plan_->workspace() >> 10) << " KiB";
        else os << "cudnn " << fwd_algo_name(shape_[0].choice.algo) << (shape_[0].choice.math == CUDNN_FMA_MATH ? " fma" : " tensor-op")
                << " ws " << (shape_[0].choice.ws >> 10) << " KiB" << (fused_ ? " fused bias-relu" : "");
        if (per_ < n_) os << ", " << (n_ + per_ - 1) / per_ << " image chunks";
        if (!note_.empty()) os << " (" << note_ << ")";
        return os.str();
    }

private:
    struct Shape {
        int imgs = 0;
        cudnnTensorDescriptor_t x = nullptr, y = nullptr;
        std::string key;
        AlgoChoice choice{};
    };

    cudnnStatus_t legacy(Ctx& c, const T* x, const T* w, const T* bias, T* y, bool fused) {
        const float one = 1.f, zero = 0.f;
        for (int64_t i0 = 0; i0 < n_; i0 += per_) {
            const Shape& s = (n_ - i0 >= per_) ? shape_[0] : shape_[1];
            DN_CUDNN(cudnnSetConvolutionMathType(cd_, s.choice.math));
            const T* xi = x + i0 * x_img_;
            T* yi = y + i0 * y_img_;
            cudnnStatus_t st;
            if (fused)
                st = cudnnConvolutionBiasActivationForward(c.dnn, &one, s.x, xi, wd_, w, cd_, s.choice.algo, c.ws,
                                                           c.ws_bytes, &zero, s.y, yi, bd_, bias, ad_, s.y, yi);
            else
                st = cudnnConvolutionForward(c.dnn, &one, s.x, xi, wd_, w, cd_, s.choice.algo, c.ws, c.ws_bytes, &zero,
                                             s.y, yi);
            if (st != CUDNN_STATUS_SUCCESS) return st;
        }
        return CUDNN_STATUS_SUCCESS;
    }

    void destroy() {
        for (Shape& s : shape_) {
            if (s.x) cudnnDestroyTensorDescriptor(s.x);
            if (s.y) cudnnDestroyTensorDescriptor(s.y);
            s = Shape{};
        }
        if (wd_) cudnnDestroyFilterDescriptor(wd_);
        if (cd_) cudnnDestroyConvolutionDescriptor(cd_);
        if (bd_) cudnnDestroyTensorDescriptor(bd_);
        plan_.reset();
        if (ad_) cudnnDestroyActivationDescriptor(ad_);
        wd_ = nullptr; cd_ = nullptr; bd_ = nullptr; ad_ = nullptr;
    }

    Shape shape_[2];
    int64_t n_ = 0, per_ = 1, x_img_ = 0, y_img_ = 0;
    cudnnFilterDescriptor_t wd_ = nullptr;
    cudnnConvolutionDescriptor_t cd_ = nullptr;
    cudnnTensorDescriptor_t bd_ = nullptr;
    cudnnActivationDescriptor_t ad_ = nullptr;
    enum class Kind { legacy, legacy_fused, graph };
    Kind kind_ = Kind::legacy;
    bool fused_ = false;
    std::string note_;
    ConvSpec spec_{};
    std::unique_ptr<GraphPlan> plan_;
};

template <typename T>
T* at(Ctx& c, const View& v) { return static_cast<T*>(c.buf[v.b]) + v.off; }

class Op {
public:
    virtual ~Op() = default;
    /** Sizes scratch for batch c.n (buffers not yet allocated). */
    virtual void size(Ctx& c, Needs& needs) = 0;
    /** Chooses algorithms on the allocated buffers. */
    virtual void tune(Ctx& c, void* find_ws, size_t find_ws_bytes, Needs& needs) {}
    virtual void run(Ctx& c) = 0;
    virtual std::string describe() const = 0;
};

// ------------------------------------------------------------------ to_nhwc
template <typename T>
class ToNhwc : public Op {
public:
    ToNhwc(const Plan& p, const PlanOp& op) : dst_(view(p, op, "dst")) {
        DN_CHECK(dst_.whole() && dst_.decl.c == p.in_c && dst_.decl.h == p.in_h && dst_.decl.w == p.in_w,
                 "plan line ", op.line, ": to_nhwc destination must be a whole buffer shaped like the input");
    }
    void size(Ctx&, Needs&) override {}
    void run(Ctx& c) override {
        if (c.u8)
            u8_nhwc_normalize<T>(c.input_u8, c.n, dst_.decl.c, dst_.decl.pixels(), c.norm, at<T>(c, dst_), c.stream);
        else
            nchw_to_nhwc<T>(c.input, c.n, dst_.decl.c, dst_.decl.pixels(), at<T>(c, dst_), c.stream);
    }
    std::string describe() const override { return "to_nhwc (float32 NCHW, or uint8 NHWC normalised) -> " + dst_.decl.name; }

private:
    View dst_;
};

// ------------------------------------------------------------------ conv (any k, optional BN-ReLU(-pool) prologue)
template <typename T>
class Conv : public Op {
public:
    Conv(const Plan& p, const PlanOp& op, const WeightStore::Impl& w, cudaStream_t s)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")), line_(op.line) {
        k_ = op.integer("k");
        stride_ = op.integer("stride", 1);
        pad_ = op.integer("pad", 0);
        relu_ = op.integer("out_relu", 0) != 0;
        pool_ = op.has("pool");
        DN_CHECK(k_ > 0 && stride_ > 0 && pad_ >= 0, "plan line ", line_, ": bad conv geometry");
        DN_CHECK(!pool_ || op.str("pool") == "avg2", "plan line ", line_, ": pool must be avg2");
        DN_CHECK(!pool_ || op.has("in_bnrelu"), "plan line ", line_, ": pool=avg2 needs in_bnrelu");
        DN_CHECK(k_ == 1 || (!op.has("in_bnrelu") && !pool_), "plan line ", line_,
                 ": in_bnrelu/pool are supported on 1x1 convs only");
        DN_CHECK(k_ == 1 || src_.whole(), "plan line ", line_, ": a ", k_, "x", k_, " conv reads a whole buffer");
        DN_CHECK(!op.has("in_bnrelu") || src_.off == 0, "plan line ", line_, ": a BN-ReLU prologue reads channels from 0");
        ih_ = pool_ ? src_.decl.h / 2 : src_.decl.h;
        iw_ = pool_ ? src_.decl.w / 2 : src_.decl.w;
        int ho = (ih_ + 2 * pad_ - k_) / stride_ + 1, wo = (iw_ + 2 * pad_ - k_) / stride_ + 1;
        DN_CHECK(ih_ > 0 && iw_ > 0 && ih_ + 2 * pad_ >= k_ && iw_ + 2 * pad_ >= k_ && ho == dst_.decl.h &&
                     wo == dst_.decl.w,
                 "plan line ", line_, ": conv output ", ho, "x", wo, " does not match buffer ", dst_.decl.name, " (",
                 dst_.decl.h, "x", dst_.decl.w, ")");
        cin_ = src_.len;
        cout_ = dst_.len;
        const StoredTensor& wt = w.get(op.str("weight"), {cout_, cin_, k_, k_});
        // (cout, cin, k, k) -> (cout, k, k, cin) (cuDNN's NHWC filter), an output BN folded in
        std::vector<float> scale(cout_, 1.f), krsc(static_cast<size_t>(cout_) * k_ * k_ * cin_);
        if (op.has("out_bn")) {
            BnAffine a = bn_affine(w, op.str("out_bn"), cout_);
            scale = a.scale;
            bias_host_ = a.shift;
        }
        const float* src = wt.data.data();
        for (int o = 0; o < cout_; o++)
            for (int i = 0; i < cin_; i++)
                for (int y = 0; y < k_; y++)
                    for (int x = 0; x < k_; x++)
                        krsc[((static_cast<size_t>(o) * k_ + y) * k_ + x) * cin_ + i] =
                            src[((static_cast<size_t>(o) * cin_ + i) * k_ + y) * k_ + x] * scale[o];
        weights_ = upload<T>(krsc.data(), krsc.size(), s);
        if (!bias_host_.empty()) {
            bias_ = upload_f32(bias_host_, s);
            bias_t_ = upload<T>(bias_host_.data(), bias_host_.size(), s);
        }
        if (op.has("in_bnrelu")) {
            BnAffine a = bn_affine(w, op.str("in_bnrelu"), cin_);
            in_scale_ = upload_f32(a.scale, s);
            in_shift_ = upload_f32(a.shift, s);
        }
    }

    void size(Ctx& c, Needs& needs) override {
        int64_t in_rows = c.n * ih_ * iw_, out_rows = c.n * dst_.decl.pixels();
        if (in_scale_.get()) needs.prologue_bytes = std::max(needs.prologue_bytes, size_t(in_rows * cin_ * sizeof(T)));
        via_tmp_ = !dst_.whole() && !c.opt->strided_slices;
        if (via_tmp_) needs.tmp_bytes = std::max(needs.tmp_bytes, size_t(out_rows * cout_ * sizeof(T)));
        bool want_fused = c.opt->fuse && relu_ && bias_.get();
        int64_t x_ldc = in_scale_.get() ? cin_ : src_.decl.c;
        int64_t y_ldc = (dst_.whole() || via_tmp_) ? cout_ : dst_.decl.c;
        conv_.setup(c, c.n, cin_, ih_, iw_, x_ldc, cout_, dst_.decl.h, dst_.decl.w, y_ldc, k_, stride_, pad_,
                    want_fused);
    }

    void tune(Ctx& c, void* find_ws, size_t find_ws_bytes, Needs& needs) override {
        T* y = y_ptr(c);
        conv_.tune(c, x_ptr(c), weights_.get<T>(), y, find_ws, find_ws_bytes, needs);
        std::function<void()> epilogue;
        if (!via_tmp_ && (bias_.get() || relu_)) {
            int64_t rows = c.n * dst_.decl.pixels();
            epilogue = [=, &c] { bias_act_copy<T>(y, dst_.decl.c, rows, cout_, bias_.get<float>(), relu_, y, dst_.decl.c, c.stream); };
        }
        conv_.select(c, x_ptr(c), weights_.get<T>(), y, bias_t_.get<T>(), bias_.get<float>(), epilogue, find_ws,
                     find_ws_bytes, needs);
    }

    void run(Ctx& c) override {
        const T* x = x_ptr(c);
        if (in_scale_.get()) {
            const T* s = at<T>(c, src_);
            if (pool_)
                bn_relu_avgpool2<T>(s, c.n, src_.decl.h, src_.decl.w, src_.decl.c, cin_, in_scale_.get<float>(),
                                    in_shift_.get<float>(), static_cast<T*>(c.prologue), c.stream);
            else
                bn_relu_rows<T>(s, c.n * src_.decl.pixels(), src_.decl.c, cin_, in_scale_.get<float>(),
                                in_shift_.get<float>(), static_cast<T*>(c.prologue), c.stream);
        }
        T* y = y_ptr(c);
        conv_.run(c, x, weights_.get<T>(), bias_t_.get<T>(), bias_.get<float>(), y);
        int64_t rows = c.n * dst_.decl.pixels();
        const float* b = conv_.fused() ? nullptr : bias_.get<float>();
        bool r = relu_ && !conv_.fused();
        if (via_tmp_)
            bias_act_copy<T>(y, cout_, rows, cout_, b, r, at<T>(c, dst_), dst_.decl.c, c.stream);
        else if (b || r)  // in place, in the destination (a slice when strided)
            bias_act_copy<T>(y, dst_.decl.c, rows, cout_, b, r, y, dst_.decl.c, c.stream);
    }

    std::string describe() const override {
        std::ostringstream os;
        os << "conv" << k_ << "x" << k_ << "/" << stride_ << " " << src_.decl.name << ":" << src_.off << ":" << src_.len
           << " -> " << dst_.decl.name << ":" << dst_.off << ":" << dst_.len
           << (in_scale_.get() ? (pool_ ? " bn-relu-avgpool2 prologue" : " bn-relu prologue") : "")
           << (dst_.whole() ? "" : (via_tmp_ ? " (via scratch)" : " (strided)")) << " [" << conv_.describe() << "]";
        return os.str();
    }

private:
    const T* x_ptr(Ctx& c) const {
        return in_scale_.get() ? static_cast<const T*>(c.prologue) : static_cast<const T*>(c.buf[src_.b]) + src_.off;
    }
    T* y_ptr(Ctx& c) const { return via_tmp_ ? static_cast<T*>(c.tmp) : static_cast<T*>(c.buf[dst_.b]) + dst_.off; }

    View src_, dst_;
    int line_, k_, stride_, pad_, cin_, cout_, ih_, iw_;
    bool relu_, pool_, via_tmp_ = false;
    std::vector<float> bias_host_;
    DeviceBuffer weights_, bias_, bias_t_, in_scale_, in_shift_;
    CudnnConv<T> conv_;
};

// ------------------------------------------------------------------ max pool
template <typename T>
class MaxPool : public Op {
public:
    MaxPool(const Plan& p, const PlanOp& op)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")), g_(maxpool_geometry(op, src_, dst_)) {}
    void size(Ctx&, Needs&) override {}
    void run(Ctx& c) override {
        maxpool<T>(at<T>(c, src_), c.n, src_.decl.h, src_.decl.w, src_.len, g_.k, g_.stride, g_.pad, at<T>(c, dst_), dst_.decl.c,
                   dst_.decl.h, dst_.decl.w, c.stream);
    }
    std::string describe() const override {
        return "maxpool" + std::to_string(g_.k) + "/" + std::to_string(g_.stride) + " " + src_.decl.name + " -> " + dst_.decl.name;
    }

private:
    View src_, dst_;
    MaxPoolGeometry g_;
};

// ------------------------------------------------------------------ head
template <typename T>
class Head : public Op {
public:
    Head(const Plan& p, const PlanOp& op, const WeightStore::Impl& w, cudaStream_t s) : src_(view(p, op, "src")) {
        DN_CHECK(src_.whole(), "plan line ", op.line, ": head reads a whole buffer");
        classes_ = op.integer("classes");
        DN_CHECK(classes_ > 0, "plan line ", op.line, ": classes must be positive");
        int c = src_.len;
        BnAffine a = bn_affine(w, op.str("bnrelu"), c);
        scale_ = upload_f32(a.scale, s);
        shift_ = upload_f32(a.shift, s);
        std::string fc = op.str("fc");
        const StoredTensor& wt = w.get(fc + ".weight", {classes_, c});
        const StoredTensor& b = w.get(fc + ".bias", {classes_});
        w_ = upload<float>(wt.data.data(), wt.data.size(), s);
        b_ = upload<float>(b.data.data(), b.data.size(), s);
    }
    int classes() const { return classes_; }
    void size(Ctx& c, Needs&) override { pooled_.reserve(static_cast<size_t>(c.n * src_.len) * sizeof(float)); }
    void run(Ctx& c) override {
        bn_relu_gap<T>(at<T>(c, src_), c.n, src_.decl.pixels(), src_.len, scale_.get<float>(), shift_.get<float>(),
                       pooled_.get<float>(), c.stream);
        linear(pooled_.get<float>(), c.n, src_.len, w_.get<float>(), b_.get<float>(), classes_, c.output, c.stream);
    }
    std::string describe() const override {
        return "head bn-relu-gap-linear " + src_.decl.name + " -> " + std::to_string(classes_) + " logits";
    }

private:
    View src_;
    int classes_;
    DeviceBuffer scale_, shift_, w_, b_, pooled_;
};

// ------------------------------------------------------------------ the backend
template <typename T>
class CudaBackend : public Backend {
    // Double buffering: two staging slots, each with its pinned host and device input and output
    // and its CUDA Graphs (float and uint8 input), and one copy stream for the uploads. A slot is
    // in flight from submit() to collect(); the arena, on the compute stream, is shared.
    static constexpr int kSlots = 2;
    struct Slot {
        PinnedBuffer in, out, norm;
        DeviceBuffer d_in, d_out, d_norm;
        cudaEvent_t uploaded = nullptr;  // the input is on the device (copy stream)
        cudaEvent_t done = nullptr;      // forward and logits' copy finished (compute stream)
        cudaGraphExec_t graph[2] = {nullptr, nullptr};  // float, uint8 input
        int64_t ticket = 0;              // 0: free
        int64_t n = 0;
    };

public:
    CudaBackend(const Plan& plan, const WeightStore::Impl& w, const Options& opt) : plan_(plan), opt_(opt) {
        open_device(opt.device, &ctx_.stream, &ctx_.dnn);
        DN_CUDA(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
        ctx_.opt = &opt_;
        ctx_.math = opt.dtype == "fp32" ? CUDNN_FMA_MATH
                    : opt.dtype == "tf32" ? CUDNN_DEFAULT_MATH
                                          : CUDNN_TENSOR_OP_MATH;
        for (const PlanOp& op : plan.ops) {
            if (op.type == "to_nhwc") {
                ops_.push_back(std::make_unique<ToNhwc<T>>(plan, op));
            } else if (op.type == "conv") {
                ops_.push_back(std::make_unique<Conv<T>>(plan, op, w, ctx_.stream));
            } else if (op.type == "maxpool") {
                ops_.push_back(std::make_unique<MaxPool<T>>(plan, op));
            } else if (op.type == "head") {
                DN_CHECK(classes_ == 0, "plan line ", op.line, ": a plan has at most one head");
                auto h = std::make_unique<Head<T>>(plan, op, w, ctx_.stream);
                classes_ = h->classes();
                ops_.push_back(std::move(h));
            } else {
                fail("plan line ", op.line, ": unknown op '", op.type, "'");
            }
        }
        op_ms_.assign(ops_.size(), 0.0);
    }

    ~CudaBackend() override {
        cudaSetDevice(opt_.device);
        if (ctx_.stream) cudaStreamSynchronize(ctx_.stream);
        if (copy_) cudaStreamSynchronize(copy_);
        drop_graph();
        for (Slot& s : slots_) {
            if (s.uploaded) cudaEventDestroy(s.uploaded);
            if (s.done) cudaEventDestroy(s.done);
        }
        if (copy_) cudaStreamDestroy(copy_);
        ops_.clear();
        close_device(ctx_.stream, ctx_.dnn);
    }

    void forward(const float* input, int64_t n, float* output) override {
        DN_CHECK(classes_ == 0 || output != nullptr, "forward: this plan has a head; an output array is required");
        collect(submit(input, n), output);
    }

    /** uint8 NHWC input: a quarter of the float path's host copy and PCIe traffic; normalised
     *  on the device by the first op (its own CUDA Graph beside the float one). */
    void forward_u8(const uint8_t* input, int64_t n, const float* mean, const float* std, float* output) override {
        DN_CHECK(classes_ == 0 || output != nullptr, "forward_u8: this plan has a head; an output array is required");
        collect(submit_u8(input, n, mean, std), output);
    }

    int64_t submit(const float* input, int64_t n) override { return stage(false, input, n, nullptr, nullptr); }

    int64_t submit_u8(const uint8_t* input, int64_t n, const float* mean, const float* std) override {
        return stage(true, input, n, mean, std);
    }

    /** Waits for the batch's forward and output copy (its slot's event), copies the logits
     *  out of the slot's pinned buffer and frees the slot, also when the wait fails. */
    void collect(int64_t ticket, float* output) override {
        Slot* s = nullptr;
        for (Slot& x : slots_)
            if (x.ticket == ticket && ticket > 0) s = &x;
        DN_CHECK(s != nullptr, "collect: batch ", ticket, " is not in flight");
        struct Release {
            Slot* s;
            ~Release() { s->ticket = 0; }
        } release{s};
        DN_CUDA(cudaSetDevice(opt_.device));
        DN_CUDA(cudaEventSynchronize(s->done));
        if (output && classes_)
            std::memcpy(output, s->out.get(), static_cast<size_t>(output_size(s->n)) * sizeof(float));
    }

    int max_in_flight() const override { return kSlots; }

    int64_t output_size(int64_t n) const override { return n * classes_; }

    int64_t buffer_size(const std::string& name) const override {
        const PlanBuffer& b = plan_.buffer(name);
        return ctx_.n * b.pixels() * b.c;
    }

    void read_buffer(const std::string& name, float* out) const override {
        DN_CHECK(ctx_.n > 0, "read_buffer: no forward has run yet");
        DN_CUDA(cudaSetDevice(opt_.device));
        int b = plan_.buffer_index(name);
        int64_t count = buffer_size(name);
        DeviceBuffer f(static_cast<size_t>(count) * sizeof(float));
        to_float<T>(static_cast<const T*>(ctx_.buf[b]), count, f.get<float>(), ctx_.stream);
        DN_CUDA(cudaMemcpyAsync(out, f.get(), static_cast<size_t>(count) * sizeof(float), cudaMemcpyDeviceToHost,
                                ctx_.stream));
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
    }

    double time_resident(int iters) override {
        DN_CHECK(ctx_.n > 0, "time_resident: no forward has run yet");
        DN_CUDA(cudaSetDevice(opt_.device));
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
        ctx_.u8 = false;  // always the float NCHW input's first op, whichever input ran last
        if (!core_exec_ && opt_.graphs) {
            cudaGraph_t g = nullptr;
            DN_CUDA(cudaStreamBeginCapture(ctx_.stream, cudaStreamCaptureModeThreadLocal));
            for (auto& op : ops_) op->run(ctx_);
            DN_CUDA(cudaStreamEndCapture(ctx_.stream, &g));
            DN_CUDA(cudaGraphInstantiate(&core_exec_, g, 0));
            cudaGraphDestroy(g);
        }
        auto once = [&] {
            if (core_exec_) DN_CUDA(cudaGraphLaunch(core_exec_, ctx_.stream));
            else for (auto& op : ops_) op->run(ctx_);
        };
        once();
        cudaEvent_t e0, e1;
        DN_CUDA(cudaEventCreate(&e0));
        DN_CUDA(cudaEventCreate(&e1));
        DN_CUDA(cudaEventRecord(e0, ctx_.stream));
        for (int i = 0; i < iters; i++) once();
        DN_CUDA(cudaEventRecord(e1, ctx_.stream));
        DN_CUDA(cudaEventSynchronize(e1));
        float ms = 0;
        DN_CUDA(cudaEventElapsedTime(&ms, e0, e1));
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        return ms / iters;
    }

    void set_poison(bool on) override {
        if (on != poison_) drop_graph();
        poison_ = on;
    }

    bool captured() const {
        for (const Slot& s : slots_)
            if (s.graph[0] || s.graph[1]) return true;
        return false;
    }

    std::string describe() const override {
        cudaDeviceProp prop{};
        cudaGetDeviceProperties(&prop, opt_.device);
        std::ostringstream os;
        os << "cuda backend, " << prop.name << " (sm_" << prop.major << prop.minor << "), dtype " << opt_.dtype
           << ", batch " << ctx_.n << ", arena " << arena_.bytes() << " bytes, workspace " << ctx_.ws_bytes
           << " bytes, CUDA graph " << (captured() ? "captured (" + std::to_string(replays_) + " replays)"
                                      : (graph_note_.empty() ? std::string("off") : graph_note_))
           << ", double-buffered (" << kSlots << " pinned staging slots, uploads on a copy stream)\n";
        for (size_t i = 0; i < ops_.size(); i++) {
            os << "  " << ops_[i]->describe();
            if (profiled_) os << "  " << op_ms_[i] / profiled_ << " ms";
            os << "\n";
        }
        return os.str();
    }

private:
    /** Plans the arena for batch n and tunes every op, with the staging ctx_ points at as input
     *  and output. Batches in flight finish first: the arena is theirs until then (their results
     *  stay in their own slots' pinned buffers). */
    void prepare(int64_t n) {
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
        drop_graph();
        ctx_.n = 0;
        mem_ = plan_memory(plan_, n);
        arena_.reserve(static_cast<size_t>(mem_.arena_floats) * sizeof(T));
        ctx_.buf.resize(plan_.buffers.size());
        for (size_t b = 0; b < plan_.buffers.size(); b++)
            ctx_.buf[b] = arena_.get<T>() + mem_.offset[b];
        ctx_.n = n;
        try {
            Needs needs;
            for (auto& op : ops_) op->size(ctx_, needs);
            prologue_.reserve(needs.prologue_bytes);
            tmp_.reserve(needs.tmp_bytes);
            ctx_.prologue = prologue_.get();
            ctx_.tmp = tmp_.get();
            {
                // the candidates' benchmark may use up to the bound; only the chosen size is kept
                DeviceBuffer find_ws(opt_.workspace_limit);
                for (auto& op : ops_) op->tune(ctx_, find_ws.get(), find_ws.bytes(), needs);
            }
            ws_.reserve(needs.ws_bytes);
            ctx_.ws = ws_.get();
            ctx_.ws_bytes = ws_.bytes();
        } catch (...) {
            ctx_.n = 0;
            throw;
        }
    }

    /** The forward on the compute stream, for the slot ctx_ points at: the ops, then the
     *  logits' copy into the slot's pinned buffer (the input's upload is the copy stream's). */
    void enqueue(bool timed) {
        cudaEvent_t e0 = nullptr, e1 = nullptr;
        if (timed) {
            DN_CUDA(cudaEventCreate(&e0));
            DN_CUDA(cudaEventCreate(&e1));
        }
        for (size_t i = 0; i < ops_.size(); i++) {
            if (poison_) {
                for (size_t b = 0; b < plan_.buffers.size(); b++)
                    if (mem_.first_use[b] == static_cast<int>(i))
                        fill_nan<T>(static_cast<T*>(ctx_.buf[b]), mem_.size[b], ctx_.stream);
            }
            if (timed) DN_CUDA(cudaEventRecord(e0, ctx_.stream));
            ops_[i]->run(ctx_);
            if (timed) {
                DN_CUDA(cudaEventRecord(e1, ctx_.stream));
                DN_CUDA(cudaEventSynchronize(e1));
                float ms = 0;
                DN_CUDA(cudaEventElapsedTime(&ms, e0, e1));
                op_ms_[i] += ms;
            }
        }
        if (timed) {
            cudaEventDestroy(e0);
            cudaEventDestroy(e1);
            profiled_++;
        }
        if (classes_)
            DN_CUDA(cudaMemcpyAsync(host_out_, ctx_.output, static_cast<size_t>(ctx_.n * classes_) * sizeof(float),
                                    cudaMemcpyDeviceToHost, ctx_.stream));
    }

    /** Records the forward into a CUDA Graph for later calls at this batch size; on any
     *  refusal, runs without one and says why in describe(). */
    void capture(cudaGraphExec_t& exec) {
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
        cudaGraph_t g = nullptr;
        DN_CUDA(cudaStreamBeginCapture(ctx_.stream, cudaStreamCaptureModeThreadLocal));
        try {
            enqueue(false);
        } catch (const std::exception& e) {
            cudaStreamEndCapture(ctx_.stream, &g);
            if (g) cudaGraphDestroy(g);
            cudaGetLastError();
            opt_.graphs = false;
            graph_note_ = std::string("off (capture failed: ") + e.what() + ")";
            return;
        }
        DN_CUDA(cudaStreamEndCapture(ctx_.stream, &g));
        cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
        cudaGraphDestroy(g);
        if (e != cudaSuccess) {
            cudaGetLastError();
            exec = nullptr;
            opt_.graphs = false;
            graph_note_ = std::string("off (instantiate failed: ") + cudaGetErrorString(e) + ")";
        }
    }

    void drop_graph() {
        for (Slot& s : slots_) drop_graphs(s);
        if (core_exec_) cudaGraphExecDestroy(core_exec_);
        core_exec_ = nullptr;
    }

    static void drop_graphs(Slot& s) {
        for (cudaGraphExec_t& g : s.graph) {
            if (g) cudaGraphExecDestroy(g);
            g = nullptr;
        }
    }

    /** Copies a batch into a free slot's pinned buffer, enqueues its upload on the copy stream
     *  and its forward (CUDA Graph replay, or run and capture) on the compute stream behind the
     *  upload's event, and returns without waiting: while this batch uploads, the one before it
     *  computes. */
    int64_t stage(bool u8, const void* input, int64_t n, const float* mean, const float* sd) {
        DN_CUDA(cudaSetDevice(opt_.device));
        Slot* s = nullptr;  // the lowest free slot: one-at-a-time callers only ever use (and allocate) slot 0
        for (int i = 0; i < kSlots && !s; i++)
            if (slots_[i].ticket == 0) s = &slots_[i];
        DN_CHECK(s != nullptr, "submit: ", kSlots, " batches are in flight already; collect one first");
        try {
            enqueue_batch(*s, u8, input, n, mean, sd);
        } catch (...) {
            // nothing of this batch may still run when its slot is next used
            cudaStreamSynchronize(copy_);
            cudaStreamSynchronize(ctx_.stream);
            throw;
        }
        s->n = n;
        s->ticket = ++tickets_;
        return s->ticket;
    }

    void enqueue_batch(Slot& s, bool u8, const void* input, int64_t n, const float* mean, const float* sd) {
        reserve(s, n);  // a free slot: nothing in flight uses its buffers
        point_at(s);
        if (n != ctx_.n) prepare(n);
        size_t in_bytes = static_cast<size_t>(n) * plan_.in_c * plan_.in_h * plan_.in_w * (u8 ? 1 : sizeof(float));
        std::memcpy(s.in.get(), input, in_bytes);
        DN_CUDA(cudaMemcpyAsync(s.d_in.get(), s.in.get(), in_bytes, cudaMemcpyHostToDevice, copy_));
        if (u8) {
            std::memcpy(static_cast<float*>(s.norm.get()), mean, plan_.in_c * sizeof(float));
            std::memcpy(static_cast<float*>(s.norm.get()) + plan_.in_c, sd, plan_.in_c * sizeof(float));
            DN_CUDA(cudaMemcpyAsync(s.d_norm.get(), s.norm.get(), 2 * plan_.in_c * sizeof(float),
                                    cudaMemcpyHostToDevice, copy_));
        }
        DN_CUDA(cudaEventRecord(s.uploaded, copy_));
        DN_CUDA(cudaStreamWaitEvent(ctx_.stream, s.uploaded, 0));
        ctx_.u8 = u8;
        cudaGraphExec_t& exec = s.graph[u8 ? 1 : 0];
        if (exec) {
            DN_CUDA(cudaGraphLaunch(exec, ctx_.stream));
            replays_++;
        } else {
            enqueue(profile_);
            if (opt_.graphs && !profile_) capture(exec);
        }
        DN_CUDA(cudaEventRecord(s.done, ctx_.stream));
    }

    /** Sizes a free slot's staging for batch n (float input; uint8 takes a quarter); a slot whose
     *  buffers move loses its graphs, which hold their addresses. */
    void reserve(Slot& s, int64_t n) {
        if (!s.uploaded) {
            DN_CUDA(cudaEventCreateWithFlags(&s.uploaded, cudaEventDisableTiming));
            DN_CUDA(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
        }
        size_t in_bytes = static_cast<size_t>(n) * plan_.in_c * plan_.in_h * plan_.in_w * sizeof(float);
        size_t out_bytes = std::max<size_t>(1, static_cast<size_t>(n * classes_)) * sizeof(float);
        size_t norm_bytes = 2 * plan_.in_c * sizeof(float);
        const void* before[] = {s.d_in.get(), s.d_out.get(), s.d_norm.get(), s.out.get()};
        s.in.reserve(in_bytes);
        s.out.reserve(out_bytes);
        s.norm.reserve(norm_bytes);
        s.d_in.reserve(in_bytes);
        s.d_out.reserve(out_bytes);
        s.d_norm.reserve(norm_bytes);
        const void* after[] = {s.d_in.get(), s.d_out.get(), s.d_norm.get(), s.out.get()};
        if (!std::equal(std::begin(before), std::end(before), std::begin(after))) drop_graphs(s);
    }

    /** Points the ops' input, normalisation and output at a slot's device buffers. */
    void point_at(Slot& s) {
        ctx_.input = static_cast<float*>(s.d_in.get());
        ctx_.input_u8 = static_cast<uint8_t*>(s.d_in.get());
        ctx_.norm = static_cast<float*>(s.d_norm.get());
        ctx_.output = static_cast<float*>(s.d_out.get());
        host_out_ = static_cast<float*>(s.out.get());
    }

    Plan plan_;
    Options opt_;
    int classes_ = 0;
    bool poison_ = false;
    // DN4J_PROFILE=1: time every op with CUDA events (no graph), reported by describe()
    bool profile_ = std::getenv("DN4J_PROFILE") != nullptr;
    std::vector<double> op_ms_;
    int64_t profiled_ = 0, replays_ = 0;
    std::vector<std::unique_ptr<Op>> ops_;
    MemoryPlan mem_;
    DeviceBuffer arena_, prologue_, tmp_, ws_;
    Slot slots_[kSlots];
    int64_t tickets_ = 0;
    float* host_out_ = nullptr;  // the pinned logits of the slot ctx_ points at
    cudaStream_t copy_ = nullptr;
    cudaGraphExec_t core_exec_ = nullptr;
    std::string graph_note_;
    Ctx ctx_;
};

}  // namespace
}  // namespace dn4j::cuda

extern "C" {

int dn4j_cuda_probe(std::string* info) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        if (info) {
            if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice || count == 0)
                *info = e == cudaErrorInsufficientDriver
                            ? "no NVIDIA driver new enough for CUDA 13 (libcuda.so.1 missing or too old)"
                            : "no CUDA device found";
            else
                *info = std::string("CUDA unavailable: ") + cudaGetErrorString(e);
        }
        cudaGetLastError();
        return 0;
    }
    // machine code for sm_80 and sm_90 (PTX for newer): older GPUs cannot run it
    int usable = 0;
    cudaDeviceProp first{};
    for (int d = 0; d < count; d++) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, d) == cudaSuccess && prop.major >= 8) usable++;
        if (d == 0) first = prop;
    }
    if (usable == 0 || first.major < 8) {
        if (info) {
            std::ostringstream os;
            os << "GPU 0 (" << first.name << ") has compute capability " << first.major << "." << first.minor
               << "; densenet4j needs 8.0 or newer";
            *info = os.str();
        }
        return 0;
    }
    count = usable;
    if (info) {
        int drv = 0;
        cudaDriverGetVersion(&drv);
        cudaDeviceProp prop{};
        cudaGetDeviceProperties(&prop, 0);
        size_t v = cudnnGetVersion();
        std::ostringstream os;
        os << count << " device(s), 0: " << prop.name << " (sm_" << prop.major << prop.minor << ", "
           << (prop.totalGlobalMem >> 20) << " MiB), driver CUDA " << drv / 1000 << "." << (drv % 1000) / 10
           << ", cuDNN " << v / 10000 << "." << (v % 10000) / 100 << "." << v % 100;
        *info = os.str();
    }
    return count;
}

dn4j::Backend* dn4j_cuda_make_backend(const dn4j::Plan* plan, const dn4j::WeightStore::Impl* weights,
                                      const char* options) {
    using namespace dn4j::cuda;
    Options o = Options::parse(options);
    std::string why;
    if (dn4j_cuda_probe(&why) == 0) dn4j::fail("device cuda: ", why);
    if (o.dtype == "fp16") return new CudaBackend<__half>(*plan, *weights, o);
    if (o.dtype == "bf16") return new CudaBackend<__nv_bfloat16>(*plan, *weights, o);
    return new CudaBackend<float>(*plan, *weights, o);
}

int64_t dn4j_cuda_bytes_in_use() { return dn4j::cuda::device_bytes_in_use(); }
int64_t dn4j_cuda_bytes_peak() { return dn4j::cuda::device_bytes_peak(); }
void dn4j_cuda_bytes_reset_peak() { dn4j::cuda::device_bytes_reset_peak(); }
}
