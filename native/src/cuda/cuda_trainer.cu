// Training on the GPU: the CPU trainer (native/src/cpu/trainer.cpp, which documents the
// training plan) ported to CUDA, with the same semantics: BatchNorm in train mode
// (batch statistics; running statistics updated once per step, momentum 0.1, unbiased
// variance), dropout with the CPU's mask (the same counter-based hash, so the same seed gives
// the same mask bit for bit), mean softmax cross-entropy, gradients as PyTorch's backward
// leaves them, SGD as torch.optim.SGD. Parameters stay on the GPU; sync_weights() copies them
// (and the running statistics) back into the WeightStore.
//
// Memory (Pleiss et al. 2017), "efficient": activations are the plan's block buffers (plus
// the ImageNet stem's), each with a gradient buffer of the same shape into whose channel
// slices later layers accumulate. A dense layer keeps only its BatchNorm batch statistics;
// its backward pass recomputes BN1-ReLU into the dA scratch, the 1x1 conv and BN2-ReLU into
// scratch shared by every layer of every block (sized for the largest). "naive": each layer
// stores its BN1-ReLU output, 1x1 conv output and BN2-ReLU output instead.
//
// Convolutions: cuDNN's legacy API on dense NHWC tensors (true fp32: FMA math only), the
// algorithms found once per shape with cudnnFind*AlgorithmEx (deterministic ones preferred,
// workspace bounded; algo=heuristic takes cuDNN's own ranking instead, for networks of thousands
// of distinct shapes where the timed search would dominate), one shared workspace. A conv never reads or writes a strided channel
// slice: own kernels copy between slices and dense scratch (cuDNN 9 refuses some strided
// outputs). Everything runs on the trainer's own stream.
//
// Mixed precision (dtype=fp16|bf16, as torch.autocast + GradScaler, except that the head stays
// fp32): activations, the scratch and their gradients are T (every module is a template on
// it; T = float is the fp32 trainer unchanged), and cuDNN convolves T tensors with T copies of
// the conv weights (fp32 accumulation, tensor-op math). BatchNorm parameters and statistics,
// every reduction, the head (BN-ReLU-GAP, linear, loss), the master parameters, their
// gradients and the momentum are fp32: a conv's T weight gradient goes through a T scratch
// into its fp32 slot, and sgd_step refreshes the T weight copies from the updated masters.
// fp16 scales the loss (the backward pass starts from dlogits * scale, 65536 at first); after
// the backward pass one kernel unscales every gradient and flags inf/NaN, which the host reads
// with the loss. A flagged step is skipped by sgd_step (parameters and momentum unchanged) and
// halves the scale; 2000 good steps in a row double it. bf16 keeps scale 1 but skips the same way.
// As with GradScaler, a skipped step's forward pass has already moved the BatchNorm running
// statistics (they are updated in the forward, not by sgd_step); a forward pass that overflowed
// (inf/NaN activations, a non-finite loss) leaves them non-finite for good.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <type_traits>

#include "../common/dropout.h"
#include "../common/view.h"
#include "cuda_entry.h"
#include "cuda_util.h"
#include "kernels.h"
#include "train_kernels.h"

namespace dn4j::cuda {
namespace {

using train::GradInT;
using train::GradKind;

struct TrainOptions {
    bool naive = false;
    int device = 0;
    size_t workspace_limit = size_t{256} << 20;
    bool deterministic = true;
    bool estimate_only = false;  // no device work: only estimate_bytes() and the parameter list answer
    bool heuristic = false;      // algo=heuristic: cuDNN's ranking (cudnnGet*_v7), no timed search
    double admit = 0.9;          // prepare(): a batch's bytes must be within this share of the free device bytes
    std::string dtype = "fp32";  // activations and conv weights as cuDNN sees them: fp32, fp16 or bf16
    float loss_scale = 65536.f;  // fp16: the initial loss scale (bf16: always 1)

    static TrainOptions parse(const char* text) {
        TrainOptions o;
        for_each_option(text, "cuda trainer", [&](const std::string& k, const std::string& v) {
            if (k == "memory") {
                DN_CHECK(v == "efficient" || v == "naive", "memory mode must be efficient or naive, got '", v, "'");
                o.naive = v == "naive";
            } else if (k == "device") {
                o.device = option_device(v);
            } else if (k == "workspace_mb") {
                o.workspace_limit = option_megabytes(k, v);
            } else if (k == "deterministic") {
                o.deterministic = option_flag(k, v);
            } else if (k == "estimate_only") {
                o.estimate_only = option_flag(k, v);
            } else if (k == "algo") {
                DN_CHECK(v == "find" || v == "heuristic", "cuda trainer algo must be find or heuristic, got '", v, "'");
                o.heuristic = v == "heuristic";
            } else if (k == "admit") {
                char* end = nullptr;
                double f = std::strtod(v.c_str(), &end);
                DN_CHECK(!v.empty() && *end == 0 && f > 0 && f <= 1, "cuda trainer admit must be in (0, 1], got '", v, "'");
                o.admit = f;
            } else if (k == "dtype") {
                DN_CHECK(v == "fp32" || v == "fp16" || v == "bf16",
                         "cuda trainer dtype must be fp32, fp16 or bf16, got '", v, "'");
                o.dtype = v;
            } else if (k == "loss_scale") {
                char* end = nullptr;
                double ls = std::strtod(v.c_str(), &end);
                // a power of two keeps scaling and unscaling exact
                int e = 0;
                // within [2^-126, 2^126]: the scale and its reciprocal both normal fp32 numbers
                DN_CHECK(!v.empty() && *end == 0 && ls >= std::ldexp(1.0, -126) && ls <= std::ldexp(1.0, 126) &&
                             std::frexp(ls, &e) == 0.5,
                         "loss_scale must be a power of two from 2^-126 to 2^126, got '", v, "'");
                o.loss_scale = static_cast<float>(ls);
            } else {
                fail("unknown cuda trainer option '", k,
                     "' (expected memory, device, workspace_mb, deterministic, estimate_only, dtype, loss_scale, algo)");
            }
        });
        return o;
    }
};

/** A learnable tensor: its slot in the flat parameter, gradient and momentum arrays. */
struct Param {
    std::string name;
    int64_t numel = 0, off = 0;
    int cout = 0, cin = 0, k = 0;  // a conv weight (k > 0): held as (cout, k, k, cin), cuDNN's NHWC filter
    float* host = nullptr;         // the WeightStore tensor, PyTorch layout
};

/** (cout, cin, k, k) -> (cout, k, k, cin). */
void to_krsc(const float* src, int cout, int cin, int k, float* dst) {
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int y = 0; y < k; y++)
                for (int x = 0; x < k; x++)
                    dst[((static_cast<size_t>(o) * k + y) * k + x) * cin + i] =
                        src[((static_cast<size_t>(o) * cin + i) * k + y) * k + x];
}

/** (cout, k, k, cin) -> (cout, cin, k, k). */
void from_krsc(const float* src, int cout, int cin, int k, float* dst) {
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int y = 0; y < k; y++)
                for (int x = 0; x < k; x++)
                    dst[((static_cast<size_t>(o) * cin + i) * k + y) * k + x] =
                        src[((static_cast<size_t>(o) * k + y) * k + x) * cin + i];
}

/** Where every parameter and BatchNorm state lives, filled while the modules are built. */
struct Registry {
    std::vector<std::unique_ptr<Param>> params;
    int64_t param_floats = 0;
    struct Bn {
        int C;
        int64_t off;           // 6 * C floats: running_mean, running_var, mean, invstd, scale, shift
        float *rmean, *rvar;   // the WeightStore tensors
    };
    std::vector<Bn> bns;
    int64_t bn_floats = 0;
    int max_c = 0;

    Param* add(WeightStore::Impl& w, const std::string& name, const std::vector<int64_t>& shape, bool conv) {
        StoredTensor& t = w.get_mut(name, shape);
        auto p = std::make_unique<Param>();
        p->name = name;
        p->numel = t.numel();
        p->off = param_floats;
        p->host = t.data.data();
        if (conv) {
            p->cout = static_cast<int>(shape[0]);
            p->cin = static_cast<int>(shape[1]);
            p->k = static_cast<int>(shape[2]);
        }
        // 64-byte aligned slots: cuDNN and the vectorised kernels like aligned weights
        param_floats += (p->numel + 15) / 16 * 16;
        params.push_back(std::move(p));
        return params.back().get();
    }
};

/** Sizes of a step's scratch and per-module storage: activation elements (T), and `own_f32` floats. */
struct Needs {
    size_t da = 0, bpre = 0, b = 0, db = 0, tmp = 0;
    size_t own = 0, own_f32 = 0;
    static void max_into(size_t& slot, size_t v) { slot = std::max(slot, v); }
};

template <typename T> struct Dt;
template <> struct Dt<float> {
    static constexpr cudnnDataType_t v = CUDNN_DATA_FLOAT;
    static constexpr const char* name = "fp32";
};
template <> struct Dt<__half> {
    static constexpr cudnnDataType_t v = CUDNN_DATA_HALF;
    static constexpr const char* name = "fp16";
};
template <> struct Dt<__nv_bfloat16> {
    static constexpr cudnnDataType_t v = CUDNN_DATA_BFLOAT16;
    static constexpr const char* name = "bf16";
};
template <typename T>
constexpr bool kMixed = !std::is_same<T, float>::value;

// GradScaler's defaults for fp16: backoff 0.5 on a non-finite gradient, growth 2 after this many good steps
constexpr int kGrowthInterval = 2000;
// the dynamic scale stays within [2^-126, 2^126]: 1/scale must stay finite (else 0 * inf = NaN
// gradients that the inf check, which looks at the scaled values, would let through)
constexpr float kMinScale = 0x1p-126f, kMaxScale = 0x1p126f;

/** Elements of T per 256 bytes: every activation buffer starts 256-byte aligned. */
template <typename T>
constexpr size_t kAlignElems = 256 / sizeof(T);

template <typename T>
struct Ctx {
    cudnnHandle_t dnn = nullptr;
    cudaStream_t stream = nullptr;
    const TrainOptions* opt = nullptr;
    int64_t n = 0;
    bool naive = false;
    uint64_t seed = 0;
    std::vector<T*> act, grad;  // per plan buffer (grad only for block buffers)
    // shared scratch: dA (also BN1-ReLU's output A in efficient mode, and a transition's pooled
    // input), Bpre and B (efficient mode), dB, tmp (a conv's dense output or output gradient)
    T *da = nullptr, *bpre = nullptr, *b = nullptr, *db = nullptr, *tmp = nullptr;
    void* ws = nullptr;
    size_t ws_bytes = 0;
    train::ReduceScratch rs;
    float *params = nullptr, *grads = nullptr, *bn = nullptr;
    // mixed precision: T copies of the parameters (the flat layout of params; only the conv
    // weights' slots are read), a conv weight gradient's T scratch, the current loss scale
    T *wh = nullptr, *dwh = nullptr;
    float grad_scale = 1.f;
    const float* input = nullptr;     // device, (n, C, H, W)
    const int64_t* labels = nullptr;  // device, (n)
    double* loss = nullptr;           // device, 1
    float* p(const Param* q) const { return params + q->off; }
    float* g(const Param* q) const { return grads + q->off; }
    /** A conv weight as cuDNN reads it: the fp32 parameter itself, or its T copy. */
    T* w(const Param* q) const {
        if constexpr (kMixed<T>) return wh + q->off;
        else return params + q->off;
    }
    /** Where cuDNN writes a conv weight's gradient: its fp32 slot, or the T scratch. */
    T* dw(const Param* q) const {
        if constexpr (kMixed<T>) return dwh;
        else return grads + q->off;
    }
};

// ------------------------------------------------------------------ cuDNN convolution (train)
template <typename A>
struct Choice {
    A algo{};
    size_t ws = 0;
    bool deterministic = true;
    cudnnMathType_t math = CUDNN_FMA_MATH;  // set on the descriptor before each call (fp16/bf16)
};

std::mutex g_train_algo_mutex;
std::map<std::string, Choice<cudnnConvolutionFwdAlgo_t>> g_fwd_cache;
std::map<std::string, Choice<cudnnConvolutionBwdDataAlgo_t>> g_data_cache;
std::map<std::string, Choice<cudnnConvolutionBwdFilterAlgo_t>> g_filter_cache;

const char* data_name(cudnnConvolutionBwdDataAlgo_t a) {
    switch (a) {
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return "algo0";
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return "algo1";
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT: return "fft";
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING: return "fft_tiling";
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD: return "winograd";
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
        default: return "?";
    }
}
const char* filter_name(cudnnConvolutionBwdFilterAlgo_t a) {
    switch (a) {
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0: return "algo0";
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1: return "algo1";
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT: return "fft";
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3: return "algo3";
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING: return "fft_tiling";
        default: return "?";
    }
}

/**
 * The fastest usable result of a cudnnFind*AlgorithmEx (they come sorted by time): status
 * success, workspace within the bound, FMA math when `fma_only` (true fp32: any tensor-op
 * result would be TF32; fp16/bf16 take any) and, when `det`, deterministic. Returns false
 * when there is none.
 */
template <typename Perf, typename A>
bool pick(const Perf* perf, int got, size_t limit, bool det, bool fma_only, Choice<A>& out) {
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > limit) continue;
        if (fma_only && perf[i].mathType != CUDNN_FMA_MATH) continue;
        if (det && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        out.algo = perf[i].algo;
        out.ws = perf[i].memory;
        out.deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
        out.math = perf[i].mathType;
        return true;
    }
    return false;
}

template <typename Perf, typename A>
Choice<A> choose(const Perf* perf, int got, const TrainOptions& o, bool fma_only, const char* what,
                 const std::string& key) {
    Choice<A> c;
    // deterministic where cuDNN has one (bit-for-bit repeatable steps), else the fastest
    if (o.deterministic && pick(perf, got, o.workspace_limit, true, fma_only, c)) return c;
    DN_CHECK(pick(perf, got, o.workspace_limit, false, fma_only, c), "cuDNN offers no ",
             fma_only ? "fp32 (FMA) " : "", what, " algorithm for conv ", key, " within ", o.workspace_limit >> 20,
             " MB of workspace");
    return c;
}

/**
 * choose() that, when `query` (algo=heuristic: no measured run behind cudnnGet*_v7's numbers),
 * asks cuDNN for the chosen algorithm's workspace (`ws_of(choice, &bytes)`); an algorithm cuDNN
 * then refuses is struck off and the next one taken, until none is left (choose() throws).
 */
template <typename Perf, typename A, typename WsOf>
Choice<A> choose_checked(Perf* perf, int got, const TrainOptions& o, bool fma_only, const char* what,
                         const std::string& key, bool query, WsOf&& ws_of) {
    for (;;) {
        Choice<A> c = choose<Perf, A>(perf, got, o, fma_only, what, key);
        if (!query) return c;
        size_t bytes = 0;
        cudnnStatus_t st = ws_of(c, &bytes);
        if (st == CUDNN_STATUS_SUCCESS) {
            c.ws = std::max(c.ws, bytes);
            return c;
        }
        for (int i = 0; i < got; i++)
            if (perf[i].algo == c.algo && perf[i].mathType == c.math) perf[i].status = st;
    }
}

/**
 * One k x k convolution without bias on dense NHWC T tensors, with its backward passes:
 * x (n, h, w, cin), y (n, ho, wo, cout), filter (cout, k, k, cin) in T. fp32 runs with FMA
 * math only; fp16/bf16 with fp32 accumulation and tensor-op math where cuDNN has it (channel
 * counts that are not multiples of 8 fall back to slower algorithms).
 */
template <typename T>
class TrainConv {
public:
    TrainConv(int cin, int cout, int k, int stride, int pad, bool data_grad)
        : cin_(cin), cout_(cout), k_(k), stride_(stride), pad_(pad), data_grad_(data_grad) {}
    ~TrainConv() { destroy(); }
    TrainConv(const TrainConv&) = delete;
    TrainConv& operator=(const TrainConv&) = delete;

    void setup(int64_t n, int h, int w, int ho, int wo) {
        destroy();
        const int64_t limit = (int64_t{1} << 31) - 1;
        DN_CHECK(n * h * w * cin_ <= limit && n * ho * wo * cout_ <= limit, "conv ", cin_, "->", cout_, " ", k_, "x",
                 k_, " at batch ", n, ": a tensor passes 2^31 elements; use a smaller batch");
        DN_CUDNN(cudnnCreateTensorDescriptor(&x_));
        DN_CUDNN(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NHWC, Dt<T>::v, static_cast<int>(n), cin_, h, w));
        DN_CUDNN(cudnnCreateTensorDescriptor(&y_));
        DN_CUDNN(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NHWC, Dt<T>::v, static_cast<int>(n), cout_, ho, wo));
        DN_CUDNN(cudnnCreateFilterDescriptor(&w_));
        DN_CUDNN(cudnnSetFilter4dDescriptor(w_, Dt<T>::v, CUDNN_TENSOR_NHWC, cout_, cin_, k_, k_));
        DN_CUDNN(cudnnCreateConvolutionDescriptor(&cd_));
        // compute type fp32 in every mode (fp16/bf16: cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configurations)
        DN_CUDNN(cudnnSetConvolution2dDescriptor(cd_, pad_, pad_, stride_, stride_, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        DN_CUDNN(cudnnSetConvolutionMathType(cd_, kMixed<T> ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
        int on = 0, oc = 0, oh = 0, ow = 0;
        DN_CUDNN(cudnnGetConvolution2dForwardOutputDim(cd_, x_, w_, &on, &oc, &oh, &ow));
        DN_CHECK(on == n && oc == cout_ && oh == ho && ow == wo, "conv ", k_, "x", k_, "/", stride_, " output ", oh, "x",
                 ow, " differs from the plan's ", ho, "x", wo);
        std::ostringstream key;
        if (kMixed<T>) key << Dt<T>::name << " ";  // (the fp32 keys as they were)
        key << "n" << n << " x" << cin_ << "," << h << "," << w << " w" << cout_ << "," << k_ << " s" << stride_ << " p"
            << pad_;
        key_ = key.str();
    }

    /** Chooses the algorithms on real buffers (y, dx and dw are overwritten). */
    void tune(Ctx<T>& c, const T* x, const T* w, T* y, T* dx, T* dw, void* find_ws, size_t find_bytes,
              size_t& ws_need) {
        const TrainOptions& o = *c.opt;
        std::string key = key_ + " ws" + std::to_string(o.workspace_limit >> 20) + (o.deterministic ? " det" : "") +
                          (o.heuristic ? " heur" : "") + " gpu" + std::to_string(o.device);
        std::unique_lock<std::mutex> lock(g_train_algo_mutex);
        auto f = g_fwd_cache.find(key);
        if (f != g_fwd_cache.end()) {
            fwd_ = f->second;
        } else {
            lock.unlock();
            // as many results as cuDNN can return (tensor-op variants come on top of the algorithm count)
            int max_count = 0;
            DN_CUDNN(cudnnGetConvolutionForwardAlgorithmMaxCount(c.dnn, &max_count));
            std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(max_count, int{CUDNN_CONVOLUTION_FWD_ALGO_COUNT}));
            int got = 0, want = static_cast<int>(perf.size());
            if (o.heuristic)
                DN_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(c.dnn, x_, w_, cd_, y_, want, &got, perf.data()));
            else
                DN_CUDNN(cudnnFindConvolutionForwardAlgorithmEx(c.dnn, x_, x, w_, w, cd_, y_, y, want, &got, perf.data(),
                                                                find_ws, find_bytes));
            fwd_ = choose_checked<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
                perf.data(), got, o, !kMixed<T>, "forward", key_, o.heuristic,
                [&](const Choice<cudnnConvolutionFwdAlgo_t>& ch, size_t* b) {
                    math(ch.math);
                    cudnnStatus_t st = cudnnGetConvolutionForwardWorkspaceSize(c.dnn, x_, w_, cd_, y_, ch.algo, b);
                    math(kMixed<T> ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
                    return st;
                });
            lock.lock();
            g_fwd_cache[key] = fwd_;
        }
        if (data_grad_) {
            auto d = g_data_cache.find(key);
            if (d != g_data_cache.end()) {
                data_ = d->second;
            } else {
                lock.unlock();
                int max_count = 0;
                DN_CUDNN(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(c.dnn, &max_count));
                std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(
                    std::max(max_count, int{CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT}));
                int got = 0, want = static_cast<int>(perf.size());
                if (o.heuristic)
                    DN_CUDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(c.dnn, w_, y_, cd_, x_, want, &got, perf.data()));
                else
                    DN_CUDNN(cudnnFindConvolutionBackwardDataAlgorithmEx(c.dnn, w_, w, y_, y, cd_, x_, dx, want, &got,
                                                                         perf.data(), find_ws, find_bytes));
                data_ = choose_checked<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
                    perf.data(), got, o, !kMixed<T>, "backward-data", key_, o.heuristic,
                    [&](const Choice<cudnnConvolutionBwdDataAlgo_t>& ch, size_t* b) {
                        math(ch.math);
                        cudnnStatus_t st =
                            cudnnGetConvolutionBackwardDataWorkspaceSize(c.dnn, w_, y_, cd_, x_, ch.algo, b);
                        math(kMixed<T> ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
                        return st;
                    });
                lock.lock();
                g_data_cache[key] = data_;
            }
        }
        auto fl = g_filter_cache.find(key);
        if (fl != g_filter_cache.end()) {
            filter_ = fl->second;
        } else {
            lock.unlock();
            int max_count = 0;
            DN_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(c.dnn, &max_count));
            std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(
                std::max(max_count, int{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT}));
            int got = 0, want = static_cast<int>(perf.size());
            if (o.heuristic)
                DN_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.dnn, x_, y_, cd_, w_, want, &got, perf.data()));
            else
                DN_CUDNN(cudnnFindConvolutionBackwardFilterAlgorithmEx(c.dnn, x_, x, y_, y, cd_, w_, dw, want, &got,
                                                                       perf.data(), find_ws, find_bytes));
            filter_ = choose_checked<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
                perf.data(), got, o, !kMixed<T>, "backward-filter", key_, o.heuristic,
                [&](const Choice<cudnnConvolutionBwdFilterAlgo_t>& ch, size_t* b) {
                    math(ch.math);
                    cudnnStatus_t st =
                        cudnnGetConvolutionBackwardFilterWorkspaceSize(c.dnn, x_, y_, cd_, w_, ch.algo, b);
                    math(kMixed<T> ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
                    return st;
                });
            lock.lock();
            g_filter_cache[key] = filter_;
        }
        ws_need = std::max({ws_need, fwd_.ws, data_grad_ ? data_.ws : size_t{0}, filter_.ws});
        tuned_ = true;
    }

    void forward(Ctx<T>& c, const T* x, const T* w, T* y) {
        const float one = 1.f, zero = 0.f;
        math(fwd_.math);
        DN_CUDNN(cudnnConvolutionForward(c.dnn, &one, x_, x, w_, w, cd_, fwd_.algo, c.ws, c.ws_bytes, &zero, y_, y));
    }
    void backward_data(Ctx<T>& c, const T* w, const T* dy, T* dx) {
        DN_CHECK(data_grad_, "conv ", key_, ": backward data was not prepared");
        const float one = 1.f, zero = 0.f;
        math(data_.math);
        DN_CUDNN(cudnnConvolutionBackwardData(c.dnn, &one, w_, w, y_, dy, cd_, data_.algo, c.ws, c.ws_bytes, &zero,
                                              x_, dx));
    }
    /** Writes the gradient of weight q: fp32 straight into its slot; fp16/bf16 into the T
     *  scratch, then widened into the fp32 slot (the same stream orders the scratch's reuse). */
    void backward_filter(Ctx<T>& c, const T* x, const T* dy, const Param* q) {
        const float one = 1.f, zero = 0.f;
        T* dw = c.dw(q);
        math(filter_.math);
        DN_CUDNN(cudnnConvolutionBackwardFilter(c.dnn, &one, x_, x, y_, dy, cd_, filter_.algo, c.ws, c.ws_bytes,
                                                &zero, w_, dw));
        if constexpr (kMixed<T>) to_float<T>(dw, q->numel, c.g(q), c.stream);
    }

    std::string describe() const {
        if (!tuned_) return "not prepared";
        std::ostringstream os;
        auto det = [](bool d) { return d ? "" : " (nondeterministic)"; };
        // fp16/bf16: which algorithms run without tensor cores (odd channel counts). With tensor-op
        // math on the descriptor, cuDNN returns an algorithm that has no tensor-op variant as
        // CUDNN_DEFAULT_MATH, not CUDNN_FMA_MATH
        auto fma = [](cudnnMathType_t m) {
            if (!kMixed<T> || m == CUDNN_TENSOR_OP_MATH) return "";
            return m == CUDNN_FMA_MATH ? " fma" : " default-math";
        };
        os << "fwd " << fwd_algo_name(fwd_.algo) << fma(fwd_.math) << det(fwd_.deterministic);
        if (data_grad_) os << ", data " << data_name(data_.algo) << fma(data_.math) << det(data_.deterministic);
        os << ", filter " << filter_name(filter_.algo) << fma(filter_.math) << det(filter_.deterministic);
        return os.str();
    }

private:
    /** fp16/bf16: each algorithm runs with the math type cuDNN timed it with (fp32 keeps FMA throughout). */
    void math(cudnnMathType_t m) {
        if constexpr (kMixed<T>) DN_CUDNN(cudnnSetConvolutionMathType(cd_, m));
    }

    void destroy() {
        if (x_) cudnnDestroyTensorDescriptor(x_);
        if (y_) cudnnDestroyTensorDescriptor(y_);
        if (w_) cudnnDestroyFilterDescriptor(w_);
        if (cd_) cudnnDestroyConvolutionDescriptor(cd_);
        x_ = y_ = nullptr;
        w_ = nullptr;
        cd_ = nullptr;
        tuned_ = false;
    }

    int cin_, cout_, k_, stride_, pad_;
    bool data_grad_, tuned_ = false;
    std::string key_;
    cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
    cudnnFilterDescriptor_t w_ = nullptr;
    cudnnConvolutionDescriptor_t cd_ = nullptr;
    Choice<cudnnConvolutionFwdAlgo_t> fwd_;
    Choice<cudnnConvolutionBwdDataAlgo_t> data_;
    Choice<cudnnConvolutionBwdFilterAlgo_t> filter_;
};

// ------------------------------------------------------------------ BatchNorm (train mode)
/** BatchNorm over C channels of T rows: batch statistics (fp32, kept for the backward pass), running statistics. */
template <typename T>
class BatchNorm {
public:
    BatchNorm(WeightStore::Impl& w, const std::string& prefix, int C, Registry& reg) : C_(C) {
        std::vector<int64_t> s{C};
        gamma_ = reg.add(w, prefix + ".weight", s, false);
        beta_ = reg.add(w, prefix + ".bias", s, false);
        Registry::Bn b;
        b.C = C;
        b.off = reg.bn_floats;
        b.rmean = w.get_mut(prefix + ".running_mean", s).data.data();
        b.rvar = w.get_mut(prefix + ".running_var", s).data.data();
        reg.bns.push_back(b);
        reg.bn_floats += (6 * int64_t{C} + 15) / 16 * 16;
        reg.max_c = std::max(reg.max_c, C);
        off_ = b.off;
    }

    /** Batch statistics of x (rows x C, stride ldx); updates the running statistics. */
    void forward(Ctx<T>& c, const T* x, int64_t ldx, int64_t rows) {
        train::bn_stats<T>(x, ldx, rows, C_, c.p(gamma_), c.p(beta_), slot(c, 2), slot(c, 3), slot(c, 4), slot(c, 5),
                        slot(c, 0), slot(c, 1), true, c.rs, c.stream);
    }

    /** Backward of relu(bn(x)) given its output gradient; writes or adds dx, sets dgamma, dbeta. */
    template <typename G>
    void backward(Ctx<T>& c, const T* x, int64_t ldx, int64_t rows, const GradInT<G>& dy, T* dx, int64_t lddx,
                  bool accumulate) {
        train::bn_relu_backward<T, G>(x, ldx, rows, C_, slot(c, 2), slot(c, 3), slot(c, 4), slot(c, 5), dy, c.g(gamma_),
                                c.g(beta_), dx, lddx, accumulate, c.rs, c.stream);
    }

    const float* scale(const Ctx<T>& c) const { return slot(c, 4); }
    const float* shift(const Ctx<T>& c) const { return slot(c, 5); }

private:
    float* slot(const Ctx<T>& c, int i) const { return c.bn + off_ + int64_t{i} * C_; }
    int C_;
    int64_t off_;
    Param* gamma_;
    Param* beta_;
};

template <typename T>
class Module {
public:
    virtual ~Module() = default;
    /** Adds this module's scratch and storage for batch n (nothing allocated). */
    virtual void needs(int64_t n, bool naive, Needs& nd) const = 0;
    /** Descriptors and own storage for batch c.n. */
    virtual void prepare(Ctx<T>& c) = 0;
    /** Frees the batch-sized storage. */
    virtual void release() {}
    /** Chooses the convolution algorithms on the allocated buffers. */
    virtual void tune(Ctx<T>& c, void* find_ws, size_t find_bytes, size_t& ws_need) {}
    virtual void forward(Ctx<T>& c) = 0;
    virtual void backward(Ctx<T>& c) = 0;
    virtual std::string describe() const = 0;
};

// ------------------------------------------------------------------ to_nhwc
template <typename T>
class ToNhwc : public Module<T> {
public:
    ToNhwc(const Plan& p, const PlanOp& op) : dst_(view(p, op, "dst")) {
        DN_CHECK(dst_.whole() && dst_.decl.c == p.in_c && dst_.decl.h == p.in_h && dst_.decl.w == p.in_w, "plan line ",
                 op.line, ": to_nhwc destination must be a whole buffer shaped like the input");
    }
    void needs(int64_t, bool, Needs&) const override {}
    void prepare(Ctx<T>&) override {}
    void forward(Ctx<T>& c) override {
        nchw_to_nhwc<T>(c.input, c.n, dst_.decl.c, dst_.decl.pixels(), c.act[dst_.b], c.stream);
    }
    void backward(Ctx<T>&) override {}
    std::string describe() const override { return "to_nhwc -> " + dst_.decl.name; }

private:
    View dst_;
};

// ------------------------------------------------------------------ stem
template <typename T>
class Stem : public Module<T> {
public:
    Stem(const Plan& p, const PlanOp& op, WeightStore::Impl& w, Registry& reg)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")) {
        imagenet_ = op.str("kind") == "imagenet";
        DN_CHECK(imagenet_ || op.str("kind") == "cifar", "plan line ", op.line, ": stem kind must be imagenet or cifar");
        DN_CHECK(src_.whole(), "plan line ", op.line, ": the stem reads a whole buffer");
        int cin = src_.decl.c, c0 = dst_.len;
        k_ = imagenet_ ? 7 : 3;
        conv_p_ = reg.add(w, op.str("conv") + ".weight", {c0, cin, k_, k_}, true);
        if (imagenet_) {
            mid_ = view(p, op, "mid");
            bn_ = std::make_unique<BatchNorm<T>>(w, op.str("bn"), c0, reg);
            DN_CHECK(mid_.whole() && mid_.decl.c == c0 && mid_.decl.h == (src_.decl.h - 1) / 2 + 1 &&
                         mid_.decl.w == (src_.decl.w - 1) / 2 + 1 && dst_.decl.h == (mid_.decl.h - 1) / 2 + 1 &&
                         dst_.decl.w == (mid_.decl.w - 1) / 2 + 1,
                     "plan line ", op.line, ": stem sizes do not match");
        } else {
            DN_CHECK(dst_.decl.h == src_.decl.h && dst_.decl.w == src_.decl.w, "plan line ", op.line,
                     ": cifar stem keeps the input size");
        }
        conv_ = std::make_unique<TrainConv<T>>(cin, c0, k_, imagenet_ ? 2 : 1, imagenet_ ? 3 : 1, false);
    }
    void needs(int64_t n, bool, Needs& nd) const override {
        if (imagenet_) nd.own += 2 * static_cast<size_t>(n * mid_.decl.pixels() * mid_.decl.c);  // z and dz
        else Needs::max_into(nd.tmp, static_cast<size_t>(n * dst_.decl.pixels() * dst_.len));     // dense out / grad
    }
    void prepare(Ctx<T>& c) override {
        if (imagenet_) {
            conv_->setup(c.n, src_.decl.h, src_.decl.w, mid_.decl.h, mid_.decl.w);
            size_t bytes = static_cast<size_t>(c.n * mid_.decl.pixels() * mid_.decl.c) * sizeof(T);
            z_.resize(bytes);
            dz_.resize(bytes);
            DN_CUDA(cudaMemsetAsync(z_.get(), 0, bytes, c.stream));
            DN_CUDA(cudaMemsetAsync(dz_.get(), 0, bytes, c.stream));
        } else {
            conv_->setup(c.n, src_.decl.h, src_.decl.w, dst_.decl.h, dst_.decl.w);
        }
    }
    void release() override {
        z_.reset();
        dz_.reset();
    }
    void tune(Ctx<T>& c, void* fws, size_t fb, size_t& need) override {
        T* y = imagenet_ ? c.act[mid_.b] : c.tmp;
        conv_->tune(c, c.act[src_.b], c.w(conv_p_), y, nullptr, c.dw(conv_p_), fws, fb, need);
    }
    void forward(Ctx<T>& c) override {
        const T* x = c.act[src_.b];
        T* out = c.act[dst_.b] + dst_.off;
        if (imagenet_) {
            T* y0 = c.act[mid_.b];
            int C = mid_.decl.c;
            int64_t rows = c.n * mid_.decl.pixels();
            conv_->forward(c, x, c.w(conv_p_), y0);
            bn_->forward(c, y0, C, rows);
            bn_relu_rows<T>(y0, rows, C, C, bn_->scale(c), bn_->shift(c), z_.get<T>(), c.stream);
            maxpool<T>(z_.get<T>(), c.n, mid_.decl.h, mid_.decl.w, C, 3, 2, 1, out, dst_.decl.c, dst_.decl.h,
                       dst_.decl.w, c.stream);
        } else {
            conv_->forward(c, x, c.w(conv_p_), c.tmp);
            train::copy_rows<T>(c.tmp, dst_.len, c.n * dst_.decl.pixels(), dst_.len, out, dst_.decl.c, c.stream);
        }
    }
    void backward(Ctx<T>& c) override {
        const T* g = c.grad[dst_.b] + dst_.off;
        if (imagenet_) {
            T* y0 = c.act[mid_.b];
            int C = mid_.decl.c;
            int64_t rows = c.n * mid_.decl.pixels();
            T* dz = dz_.get<T>();
            train::maxpool_backward<T>(z_.get<T>(), c.n, mid_.decl.h, mid_.decl.w, C, 3, 2, 1, g, dst_.decl.c,
                                       dst_.decl.h, dst_.decl.w, dz, c.stream);
            GradInT<T> dy;
            dy.g = dz;
            dy.ldg = C;
            bn_->backward(c, y0, C, rows, dy, dz, C, false);  // in place
            conv_->backward_filter(c, c.act[src_.b], dz, conv_p_);
        } else {
            train::copy_rows<T>(g, dst_.decl.c, c.n * dst_.decl.pixels(), dst_.len, c.tmp, dst_.len, c.stream);
            conv_->backward_filter(c, c.act[src_.b], c.tmp, conv_p_);
        }
    }
    std::string describe() const override {
        return std::string(imagenet_ ? "stem imagenet" : "stem cifar") + " -> " + dst_.decl.name + " [" +
               conv_->describe() + "]";
    }

private:
    View src_, dst_, mid_;
    bool imagenet_;
    int k_;
    Param* conv_p_;
    std::unique_ptr<BatchNorm<T>> bn_;
    std::unique_ptr<TrainConv<T>> conv_;
    DeviceBuffer z_, dz_;  // ImageNet stem: relu(norm0(conv0)) before the max pool, and its gradient
};

// ------------------------------------------------------------------ dense layer
template <typename T>
class DenseLayer : public Module<T> {
public:
    DenseLayer(const Plan& p, const PlanOp& op, WeightStore::Impl& w, Registry& reg, int index)
        : d_(dense_layer_spec(p, op)), index_(index) {
        const std::string& pre = d_.prefix;
        bn1_ = std::make_unique<BatchNorm<T>>(w, pre + ".norm1", d_.cin, reg);
        w1_ = reg.add(w, pre + ".conv1.weight", {d_.width, d_.cin, 1, 1}, true);
        bn2_ = std::make_unique<BatchNorm<T>>(w, pre + ".norm2", d_.width, reg);
        w2_ = reg.add(w, pre + ".conv2.weight", {d_.k, d_.width, 3, 3}, true);
        conv1_ = std::make_unique<TrainConv<T>>(d_.cin, d_.width, 1, 1, 0, true);
        conv2_ = std::make_unique<TrainConv<T>>(d_.width, d_.k, 3, 1, 1, true);
        keep_ = 1.0f / (1.0f - d_.drop);
        threshold_ = dropout_threshold(d_.drop);
    }
    void needs(int64_t n, bool naive, Needs& nd) const override {
        size_t m = static_cast<size_t>(n * d_.blk.pixels());
        Needs::max_into(nd.da, m * d_.cin);
        Needs::max_into(nd.db, m * d_.width);
        Needs::max_into(nd.tmp, m * d_.k);
        if (naive) {
            nd.own += m * d_.cin + 2 * m * d_.width;
        } else {
            Needs::max_into(nd.bpre, m * d_.width);
            Needs::max_into(nd.b, m * d_.width);
        }
    }
    void prepare(Ctx<T>& c) override {
        conv1_->setup(c.n, d_.blk.h, d_.blk.w, d_.blk.h, d_.blk.w);
        conv2_->setup(c.n, d_.blk.h, d_.blk.w, d_.blk.h, d_.blk.w);
        size_t m = static_cast<size_t>(c.n * d_.blk.pixels());
        if (c.naive) {
            a_.resize(m * d_.cin * sizeof(T));
            bpre_.resize(m * d_.width * sizeof(T));
            b_.resize(m * d_.width * sizeof(T));
            for (DeviceBuffer* d : {&a_, &bpre_, &b_}) DN_CUDA(cudaMemsetAsync(d->get(), 0, d->bytes(), c.stream));
        } else {
            release();
        }
    }
    void release() override {
        a_.reset();
        bpre_.reset();
        b_.reset();
    }
    void tune(Ctx<T>& c, void* fws, size_t fb, size_t& need) override {
        conv1_->tune(c, A(c), c.w(w1_), Bpre(c), c.da, c.dw(w1_), fws, fb, need);
        conv2_->tune(c, B(c), c.w(w2_), c.tmp, c.db, c.dw(w2_), fws, fb, need);
    }

    void forward(Ctx<T>& c) override {
        T* x = c.act[d_.block];
        int64_t rows = c.n * d_.blk.pixels();
        bn1_->forward(c, x, d_.blk.c, rows);
        bn_relu_rows<T>(x, rows, d_.blk.c, d_.cin, bn1_->scale(c), bn1_->shift(c), A(c), c.stream);
        conv1_->forward(c, A(c), c.w(w1_), Bpre(c));
        bn2_->forward(c, Bpre(c), d_.width, rows);
        bn_relu_rows<T>(Bpre(c), rows, d_.width, d_.width, bn2_->scale(c), bn2_->shift(c), B(c), c.stream);
        conv2_->forward(c, B(c), c.w(w2_), c.tmp);
        if (d_.drop > 0) train::dropout<T>(c.tmp, rows, d_.k, seed(c), threshold_, keep_, c.stream);
        train::copy_rows<T>(c.tmp, d_.k, rows, d_.k, x + d_.cin, d_.blk.c, c.stream);
    }

    void backward(Ctx<T>& c) override {
        const T* x = c.act[d_.block];
        T* g = c.grad[d_.block];
        int64_t rows = c.n * d_.blk.pixels();
        T* fresh = c.tmp;
        train::copy_rows<T>(g + d_.cin, d_.blk.c, rows, d_.k, fresh, d_.k, c.stream);
        // same mask: d(mask * y / (1-p)) = mask * dy / (1-p)
        if (d_.drop > 0) train::dropout<T>(fresh, rows, d_.k, seed(c), threshold_, keep_, c.stream);
        if (!c.naive) {
            // recompute (Pleiss et al.) with the forward's statistics: running statistics untouched.
            // A goes to the dA scratch, which holds it until dW1 has used it and dA overwrites it.
            bn_relu_rows<T>(x, rows, d_.blk.c, d_.cin, bn1_->scale(c), bn1_->shift(c), c.da, c.stream);
            conv1_->forward(c, c.da, c.w(w1_), c.bpre);
            bn_relu_rows<T>(c.bpre, rows, d_.width, d_.width, bn2_->scale(c), bn2_->shift(c), c.b, c.stream);
        }
        conv2_->backward_filter(c, B(c), fresh, w2_);
        conv2_->backward_data(c, c.w(w2_), fresh, c.db);
        GradInT<T> d2;
        d2.g = c.db;
        d2.ldg = d_.width;
        bn2_->backward(c, Bpre(c), d_.width, rows, d2, c.db, d_.width, false);  // dBpre, in place
        conv1_->backward_filter(c, A(c), c.db, w1_);                        // dW1 = dBpre^T A
        conv1_->backward_data(c, c.w(w1_), c.db, c.da);                     // dA (A is done)
        GradInT<T> d1;
        d1.g = c.da;
        d1.ldg = d_.cin;
        bn1_->backward(c, x, d_.blk.c, rows, d1, g, d_.blk.c, true);
    }

    std::string describe() const override {
        return "dense_layer " + d_.prefix + " (" + std::to_string(d_.cin) + " -> +" + std::to_string(d_.k) + ") [conv1 " +
               conv1_->describe() + "; conv2 " + conv2_->describe() + "]";
    }

private:
    uint64_t seed(const Ctx<T>& c) const { return dropout_layer_seed(c.seed, index_); }
    T* A(const Ctx<T>& c) const { return c.naive ? a_.get<T>() : c.da; }
    T* Bpre(const Ctx<T>& c) const { return c.naive ? bpre_.get<T>() : c.bpre; }
    T* B(const Ctx<T>& c) const { return c.naive ? b_.get<T>() : c.b; }

    DenseLayerSpec d_;  // block buffer, cin, growth rate k, bottleneck width, dropout
    int index_;
    float keep_;
    uint64_t threshold_;
    std::unique_ptr<BatchNorm<T>> bn1_, bn2_;
    Param* w1_;
    Param* w2_;
    std::unique_ptr<TrainConv<T>> conv1_, conv2_;
    DeviceBuffer a_, bpre_, b_;  // naive mode: A = relu(bn1(X)), Bpre = conv1(A), B = relu(bn2(Bpre))
};

// ------------------------------------------------------------------ transition
template <typename T>
class Transition : public Module<T> {
public:
    Transition(const Plan& p, const PlanOp& op, WeightStore::Impl& w, Registry& reg)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")) {
        DN_CHECK(src_.whole(), "plan line ", op.line, ": a transition reads a whole block");
        DN_CHECK(dst_.decl.h == src_.decl.h / 2 && dst_.decl.w == src_.decl.w / 2 && dst_.decl.h > 0 &&
                     dst_.decl.w > 0,
                 "plan line ", op.line, ": transition output size mismatch");
        std::string pre = op.str("prefix");
        bn_ = std::make_unique<BatchNorm<T>>(w, pre + ".norm", src_.len, reg);
        w_ = reg.add(w, pre + ".conv.weight", {dst_.len, src_.len, 1, 1}, true);
        conv_ = std::make_unique<TrainConv<T>>(src_.len, dst_.len, 1, 1, 0, true);
    }
    void needs(int64_t n, bool, Needs& nd) const override {
        size_t mp = static_cast<size_t>(n * dst_.decl.pixels());
        Needs::max_into(nd.da, mp * src_.len);
        Needs::max_into(nd.tmp, mp * dst_.len);
    }
    void prepare(Ctx<T>& c) override { conv_->setup(c.n, dst_.decl.h, dst_.decl.w, dst_.decl.h, dst_.decl.w); }
    void tune(Ctx<T>& c, void* fws, size_t fb, size_t& need) override {
        conv_->tune(c, c.da, c.w(w_), c.tmp, c.da, c.dw(w_), fws, fb, need);
    }

    /** relu(bn(src)) pooled 2x2 into the dA scratch (n, h/2, w/2, cin). */
    void pooled(Ctx<T>& c) {
        bn_relu_avgpool2<T>(c.act[src_.b], c.n, src_.decl.h, src_.decl.w, src_.decl.c, src_.len, bn_->scale(c),
                            bn_->shift(c), c.da, c.stream);
    }
    void forward(Ctx<T>& c) override {
        bn_->forward(c, c.act[src_.b], src_.decl.c, c.n * src_.decl.pixels());
        pooled(c);
        conv_->forward(c, c.da, c.w(w_), c.tmp);
        train::copy_rows<T>(c.tmp, dst_.len, c.n * dst_.decl.pixels(), dst_.len, c.act[dst_.b] + dst_.off, dst_.decl.c,
                            c.stream);
    }
    void backward(Ctx<T>& c) override {
        int64_t rows = c.n * dst_.decl.pixels();
        train::copy_rows<T>(c.grad[dst_.b] + dst_.off, dst_.decl.c, rows, dst_.len, c.tmp, dst_.len, c.stream);
        pooled(c);  // recomputed: the dA scratch holds it until dW has used it
        conv_->backward_filter(c, c.da, c.tmp, w_);
        conv_->backward_data(c, c.w(w_), c.tmp, c.da);
        GradInT<T> d;
        d.kind = GradKind::POOL2;
        d.g = c.da;
        d.ldg = src_.len;
        d.H = src_.decl.h;
        d.W = src_.decl.w;
        // the first backward to reach this block: writes its whole gradient buffer
        bn_->backward(c, c.act[src_.b], src_.decl.c, c.n * src_.decl.pixels(), d, c.grad[src_.b], src_.decl.c, false);
    }
    std::string describe() const override {
        return "transition " + src_.decl.name + " -> " + dst_.decl.name + " [" + conv_->describe() + "]";
    }

private:
    View src_, dst_;
    std::unique_ptr<BatchNorm<T>> bn_;
    Param* w_;
    std::unique_ptr<TrainConv<T>> conv_;
};

// ------------------------------------------------------------------ head
template <typename T>
class Head : public Module<T> {
public:
    Head(const Plan& p, const PlanOp& op, WeightStore::Impl& w, Registry& reg) : src_(view(p, op, "src")) {
        DN_CHECK(src_.whole(), "plan line ", op.line, ": the head reads a whole block");
        classes_ = op.integer("classes");
        DN_CHECK(classes_ > 0, "plan line ", op.line, ": classes must be positive");
        int C = src_.decl.c;
        bn_ = std::make_unique<BatchNorm<T>>(w, op.str("bn"), C, reg);
        std::string fc = op.str("fc");
        w_ = reg.add(w, fc + ".weight", {classes_, C}, false);
        b_ = reg.add(w, fc + ".bias", {classes_}, false);
    }
    int classes() const { return classes_; }
    const float* logits() const { return logits_.get<float>(); }
    void needs(int64_t n, bool, Needs& nd) const override {
        nd.own_f32 += static_cast<size_t>(n) * (2 * src_.decl.c + 2 * classes_ + 2);  // + fp64 loss per sample
    }
    void prepare(Ctx<T>& c) override {
        DN_CHECK(c.n <= 65535, "head: batch ", c.n, " over 65535 images");
        size_t n = static_cast<size_t>(c.n);
        pooled_.resize(n * src_.decl.c * sizeof(float));
        dpooled_.resize(n * src_.decl.c * sizeof(float));
        logits_.resize(n * classes_ * sizeof(float));
        dlogits_.resize(n * classes_ * sizeof(float));
        loss_rows_.resize(n * sizeof(double));
    }
    void release() override {
        pooled_.reset();
        dpooled_.reset();
        logits_.reset();
        dlogits_.reset();
        loss_rows_.reset();
    }
    void forward(Ctx<T>& c) override {
        int C = src_.decl.c;
        const T* x = c.act[src_.b];
        int64_t hw = src_.decl.pixels();
        bn_->forward(c, x, C, c.n * hw);
        // pooled, logits, loss and their gradients in fp32 whatever T (the master fc parameters)
        bn_relu_gap<T>(x, c.n, hw, C, bn_->scale(c), bn_->shift(c), pooled_.get<float>(), c.stream);
        linear(pooled_.get<float>(), c.n, C, c.p(w_), c.p(b_), classes_, logits_.get<float>(), c.stream);
        train::softmax_cross_entropy(logits_.get<float>(), c.labels, c.n, classes_, dlogits_.get<float>(),
                                     loss_rows_.get<double>(), c.loss, c.stream, c.grad_scale);
    }
    void backward(Ctx<T>& c) override {
        int C = src_.decl.c;
        train::linear_backward(dlogits_.get<float>(), pooled_.get<float>(), c.p(w_), c.n, C, classes_, c.g(w_),
                               c.g(b_), dpooled_.get<float>(), c.stream);
        GradInT<float> d;
        d.kind = GradKind::GAP;
        d.g = dpooled_.get<float>();
        d.ldg = C;
        d.H = src_.decl.h;
        d.W = src_.decl.w;
        bn_->backward(c, c.act[src_.b], C, c.n * src_.decl.pixels(), d, c.grad[src_.b], C, false);
    }
    std::string describe() const override {
        return "head " + src_.decl.name + " -> " + std::to_string(classes_) + " logits, cross-entropy";
    }

private:
    View src_;
    int classes_;
    std::unique_ptr<BatchNorm<T>> bn_;
    Param* w_;
    Param* b_;
    DeviceBuffer pooled_, dpooled_, logits_, dlogits_, loss_rows_;
};

// ------------------------------------------------------------------ the trainer
template <typename T>
class CudaTrainer : public TrainBackend {
public:
    CudaTrainer(const Plan& plan, WeightStore::Impl& w, const TrainOptions& opt) : plan_(plan), opt_(opt) {
        ctx_.opt = &opt_;
        ctx_.naive = opt_.naive;
        // fp16 scales the loss (GradScaler's init_scale); bf16 has fp32's range: scale 1
        scale_ = std::is_same<T, __half>::value ? opt_.loss_scale : 1.f;
        if (opt_.estimate_only) {
            build(w);
            return;
        }
        open_device(opt.device, &ctx_.stream, &ctx_.dnn);
        try {
            build(w);
            upload();
        } catch (...) {  // the destructor does not run for a throwing constructor
            cudaStreamSynchronize(ctx_.stream);
            modules_.clear();
            close_device(ctx_.stream, ctx_.dnn);
            throw;
        }
    }

    ~CudaTrainer() override {
        if (opt_.estimate_only) return;
        cudaSetDevice(opt_.device);
        if (ctx_.stream) cudaStreamSynchronize(ctx_.stream);
        modules_.clear();
        close_device(ctx_.stream, ctx_.dnn);
    }

    double forward_backward(const float* input, const int64_t* labels, int64_t n, uint64_t seed,
                            float* logits) override {
        DN_CHECK(input != nullptr && labels != nullptr, "forward_backward: null input or labels");
        DN_CHECK(n > 0, "forward_backward: batch size must be positive");
        DN_CHECK(!opt_.estimate_only, "forward_backward: this trainer was made with estimate_only=1");
        for (int64_t i = 0; i < n; i++)
            DN_CHECK(labels[i] >= 0 && labels[i] < classes_, "label ", labels[i], " of sample ", i,
                     " is outside [0, ", classes_, ")");
        DN_CUDA(cudaSetDevice(opt_.device));
        if (ctx_.n != n) prepare(n);
        auto& c = ctx_;
        c.seed = seed;
        DN_CUDA(cudaMemcpyAsync(input_.get(), input, input_floats(n) * sizeof(float), cudaMemcpyHostToDevice, c.stream));
        DN_CUDA(cudaMemcpyAsync(labels_.get(), labels, static_cast<size_t>(n) * sizeof(int64_t),
                                cudaMemcpyHostToDevice, c.stream));
        c.grad_scale = scale_;
        for (auto& m : modules_) m->forward(c);
        for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) (*it)->backward(c);
        int found_inf = 0;
        if constexpr (kMixed<T>) {
            // GradScaler.unscale_: every gradient times 1/scale (exact: a power of two), inf/NaN flagged
            DN_CUDA(cudaMemsetAsync(inf_.get(), 0, sizeof(int), c.stream));
            train::unscale_check(grads_.get<float>(), reg_.param_floats, 1.0f / scale_, inf_.get<int>(), c.stream);
            DN_CUDA(cudaMemcpyAsync(&found_inf, inf_.get(), sizeof(int), cudaMemcpyDeviceToHost, c.stream));
        }
        double loss = 0;
        DN_CUDA(cudaMemcpyAsync(&loss, c.loss, sizeof(double), cudaMemcpyDeviceToHost, c.stream));
        if (logits)
            DN_CUDA(cudaMemcpyAsync(logits, head_->logits(), static_cast<size_t>(n * classes_) * sizeof(float),
                                    cudaMemcpyDeviceToHost, c.stream));
        DN_CUDA(cudaStreamSynchronize(c.stream));
        found_inf_ = found_inf != 0;
        stepped_ = true;
        return loss;
    }

    void sgd_step(float lr, float momentum, float weight_decay, bool nesterov) override {
        DN_CHECK(stepped_, "sgd_step before any forward_backward");
        DN_CHECK(!opt_.estimate_only, "sgd_step: this trainer was made with estimate_only=1");
        DN_CUDA(cudaSetDevice(opt_.device));
        if constexpr (kMixed<T>) {
            if (found_inf_) {
                // GradScaler.step skips the update (parameters and momentum as they were), update() backs off
                skipped_++;
                good_steps_ = 0;
                if (std::is_same<T, __half>::value) scale_ = std::max(kMinScale, scale_ * 0.5f);
                return;
            }
        }
        // one pass over the flat arrays (padding between parameters stays zero throughout)
        train::sgd_update(params_.get<float>(), grads_.get<float>(), mom_.get<float>(), reg_.param_floats, lr, momentum,
                          weight_decay, nesterov, !has_momentum_, ctx_.stream);
        if constexpr (kMixed<T>) {
            // cuDNN reads the T copies of the updated master weights (only the conv slots matter)
            from_float<T>(params_.get<float>(), reg_.param_floats, wh_.get<T>(), ctx_.stream);
            if (std::is_same<T, __half>::value && ++good_steps_ == kGrowthInterval) {
                scale_ = std::min(kMaxScale, scale_ * 2.0f);
                good_steps_ = 0;
            }
        }
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
        has_momentum_ = true;
    }

    int64_t estimate_bytes(int64_t n) const override { return fixed_bytes() + batch_bytes(n); }

    int64_t param_count() const override { return static_cast<int64_t>(reg_.params.size()); }
    std::string param_name(int64_t i) const override { return at(i)->name; }
    int64_t param_numel(int64_t i) const override { return at(i)->numel; }

    void read_grad(const std::string& name, float* out) const override { download(param(name), grads_, out); }
    void read_momentum(const std::string& name, float* out) const override { download(param(name), mom_, out); }
    void write_momentum(const std::string& name, const float* in) override {
        DN_CHECK(!opt_.estimate_only, "write_momentum: this trainer was made with estimate_only=1");
        const Param* p = param(name);
        std::vector<float> t(static_cast<size_t>(p->numel));
        if (p->k > 0) to_krsc(in, p->cout, p->cin, p->k, t.data());
        else std::memcpy(t.data(), in, t.size() * sizeof(float));
        DN_CUDA(cudaSetDevice(opt_.device));
        DN_CUDA(cudaMemcpyAsync(mom_.get<float>() + p->off, t.data(), t.size() * sizeof(float), cudaMemcpyHostToDevice,
                                ctx_.stream));
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
    }
    bool has_momentum() const override { return has_momentum_; }
    void set_has_momentum(bool on) override { has_momentum_ = on; }

    void sync_weights() override {
        DN_CHECK(!opt_.estimate_only, "sync_weights: this trainer was made with estimate_only=1");
        for (auto& p : reg_.params) download(p.get(), params_, p->host);
        DN_CUDA(cudaSetDevice(opt_.device));
        std::vector<float> t;
        for (const Registry::Bn& b : reg_.bns) {
            t.resize(2 * static_cast<size_t>(b.C));
            DN_CUDA(cudaMemcpyAsync(t.data(), bn_.get<float>() + b.off, t.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, ctx_.stream));
            DN_CUDA(cudaStreamSynchronize(ctx_.stream));
            std::memcpy(b.rmean, t.data(), b.C * sizeof(float));
            std::memcpy(b.rvar, t.data() + b.C, b.C * sizeof(float));
        }
    }

    std::string describe() const override {
        cudaDeviceProp prop{};
        std::ostringstream os;
        if (opt_.estimate_only) os << "cuda trainer, estimate only (no device), " << Dt<T>::name << ", ";
        else if (cudaGetDeviceProperties(&prop, opt_.device) == cudaSuccess)
            os << "cuda trainer, " << prop.name << " (sm_" << prop.major << prop.minor << "), " << Dt<T>::name << ", ";
        if (kMixed<T>)
            os << "fp32 master weights, loss scale " << scale_ << (std::is_same<T, __half>::value ? " (dynamic)" : "")
               << ", skipped steps " << skipped_ << (found_inf_ ? " (last gradients not finite)" : "") << ", ";
        os << (opt_.naive ? "naive" : "efficient") << " memory, batch " << ctx_.n << ", workspace " << ws_.bytes()
           << " bytes (bound " << (opt_.workspace_limit >> 20) << " MB), "
           << (opt_.deterministic ? "deterministic algorithms preferred" : "fastest algorithms") << "\n";
        for (auto& m : modules_) os << "  " << m->describe() << "\n";
        return os.str();
    }

private:
    void build(WeightStore::Impl& w) {
        int layer = 0;
        is_block_.assign(plan_.buffers.size(), false);
        for (const PlanOp& op : plan_.ops) {
            if (op.type == "to_nhwc") {
                modules_.push_back(std::make_unique<ToNhwc<T>>(plan_, op));
                has_to_nhwc_ = true;
            } else if (op.type == "stem") {
                modules_.push_back(std::make_unique<Stem<T>>(plan_, op, w, reg_));
                is_block_[plan_.buffer_index(op.slice("dst").buf)] = true;
            } else if (op.type == "dense_layer") {
                modules_.push_back(std::make_unique<DenseLayer<T>>(plan_, op, w, reg_, layer++));
                is_block_[plan_.buffer_index(op.str("block"))] = true;
            } else if (op.type == "transition") {
                modules_.push_back(std::make_unique<Transition<T>>(plan_, op, w, reg_));
                is_block_[plan_.buffer_index(op.slice("src").buf)] = true;
                is_block_[plan_.buffer_index(op.slice("dst").buf)] = true;
            } else if (op.type == "head") {
                DN_CHECK(head_ == nullptr, "plan line ", op.line, ": a training plan has one head");
                auto h = std::make_unique<Head<T>>(plan_, op, w, reg_);
                head_ = h.get();
                classes_ = h->classes();
                is_block_[plan_.buffer_index(op.slice("src").buf)] = true;
                modules_.push_back(std::move(h));
            } else {
                fail("plan line ", op.line, ": unknown training op '", op.type, "'");
            }
        }
        DN_CHECK(has_to_nhwc_ && head_ != nullptr, "a training plan needs to_nhwc and a head");
        DN_CHECK(dynamic_cast<ToNhwc<T>*>(modules_.front().get()) != nullptr, "a training plan starts with to_nhwc");
        DN_CHECK(head_ == modules_.back().get(), "a training plan ends with its head");
    }

    /** Parameters (converted to cuDNN's filter layout), running statistics; zero momentum. */
    void upload() {
        size_t pf = static_cast<size_t>(reg_.param_floats), bf = static_cast<size_t>(reg_.bn_floats);
        params_.resize(std::max<size_t>(1, pf) * sizeof(float));
        grads_.resize(params_.bytes());
        mom_.resize(params_.bytes());
        bn_.resize(std::max<size_t>(1, bf) * sizeof(float));
        reduce_.resize(train::reduce_scratch_bytes(reg_.max_c));
        std::vector<float> host(pf, 0.0f), bnh(bf, 0.0f);
        for (auto& p : reg_.params) {
            if (p->k > 0) to_krsc(p->host, p->cout, p->cin, p->k, host.data() + p->off);
            else std::memcpy(host.data() + p->off, p->host, static_cast<size_t>(p->numel) * sizeof(float));
        }
        for (const Registry::Bn& b : reg_.bns) {
            std::memcpy(bnh.data() + b.off, b.rmean, b.C * sizeof(float));
            std::memcpy(bnh.data() + b.off + b.C, b.rvar, b.C * sizeof(float));
        }
        cudaStream_t s = ctx_.stream;
        DN_CUDA(cudaMemcpyAsync(params_.get(), host.data(), pf * sizeof(float), cudaMemcpyHostToDevice, s));
        DN_CUDA(cudaMemsetAsync(grads_.get(), 0, grads_.bytes(), s));
        DN_CUDA(cudaMemsetAsync(mom_.get(), 0, mom_.bytes(), s));
        DN_CUDA(cudaMemcpyAsync(bn_.get(), bnh.data(), bf * sizeof(float), cudaMemcpyHostToDevice, s));
        if constexpr (kMixed<T>) {
            wh_.resize(std::max<size_t>(1, pf) * sizeof(T));
            dwh_.resize(std::max<size_t>(1, max_conv_numel()) * sizeof(T));
            inf_.resize(sizeof(int));
            from_float<T>(params_.get<float>(), static_cast<int64_t>(pf), wh_.get<T>(), s);
            ctx_.wh = wh_.get<T>();
            ctx_.dwh = dwh_.get<T>();
        }
        DN_CUDA(cudaStreamSynchronize(s));
        ctx_.params = params_.get<float>();
        ctx_.grads = grads_.get<float>();
        ctx_.bn = bn_.get<float>();
        ctx_.rs = train::carve_reduce_scratch(reduce_.get(), reg_.max_c);
    }

    /** Elements of the largest conv weight (the T scratch of a weight gradient). */
    size_t max_conv_numel() const {
        size_t m = 0;
        for (auto& p : reg_.params)
            if (p->k > 0) m = std::max(m, static_cast<size_t>(p->numel));
        return m;
    }

    size_t input_floats(int64_t n) const {
        return static_cast<size_t>(n) * plan_.in_c * plan_.in_h * plan_.in_w;
    }
    /** Elements (T) of the activation (or, grads_only, gradient) arena: every buffer 256-byte aligned. */
    size_t arena_elems(int64_t n, bool grads_only) const {
        constexpr size_t a = kAlignElems<T>;
        size_t s = 0;
        for (size_t i = 0; i < plan_.buffers.size(); i++)
            if (!grads_only || is_block_[i])
                s += (static_cast<size_t>(n * plan_.buffers[i].pixels() * plan_.buffers[i].c) + a - 1) / a * a;
        return s;
    }
    Needs needs(int64_t n) const {
        Needs nd;
        for (auto& m : modules_) m->needs(n, opt_.naive, nd);
        return nd;
    }
    /** Device bytes held whatever the batch: parameters, gradients, momentum (fp32 masters), BatchNorm
     *  state, reduction scratch; fp16/bf16 add the T weight copies, a weight gradient's T scratch and the flag. */
    int64_t fixed_bytes() const {
        size_t pf = std::max<size_t>(1, static_cast<size_t>(reg_.param_floats));
        size_t bf = std::max<size_t>(1, static_cast<size_t>(reg_.bn_floats));
        size_t mixed = kMixed<T> ? pf * sizeof(T) + std::max<size_t>(1, max_conv_numel()) * sizeof(T) + sizeof(int) : 0;
        return static_cast<int64_t>(3 * pf * sizeof(float) + bf * sizeof(float) +
                                    train::reduce_scratch_bytes(reg_.max_c) + mixed);
    }
    /** Device bytes a batch of n adds: activations and their gradients, scratch and per-module
     *  storage (T), input, the head's storage (fp32), labels, and the cuDNN workspace at its bound
     *  (the algorithm search holds it). */
    int64_t batch_bytes(int64_t n) const {
        Needs nd = needs(n);
        size_t e = arena_elems(n, false) + arena_elems(n, true) + nd.da + nd.bpre + nd.b + nd.db + nd.tmp + nd.own;
        size_t f = input_floats(n) + nd.own_f32;
        return static_cast<int64_t>(e * sizeof(T) + f * sizeof(float) + static_cast<size_t>(n) * sizeof(int64_t) +
                                    sizeof(double) + opt_.workspace_limit);
    }

    void release_batch() {
        ctx_.n = 0;
        for (auto& m : modules_) m->release();
        acts_.reset();
        grads_act_.reset();
        input_.reset();
        labels_.reset();
        loss_.reset();
        da_.reset();
        bpre_.reset();
        b_.reset();
        db_.reset();
        tmp_.reset();
        ws_.reset();
        ctx_.ws = nullptr;
        ctx_.ws_bytes = 0;
    }

    void prepare(int64_t n) {
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
        release_batch();
        size_t free_b = 0, total_b = 0;
        DN_CUDA(cudaMemGetInfo(&free_b, &total_b));
        int64_t need = batch_bytes(n);
        DN_CHECK(static_cast<double>(need) <= opt_.admit * static_cast<double>(free_b), "cuda trainer: batch ", n, " in ",
                 opt_.naive ? "naive" : "efficient", " memory mode needs about ", need / 1e9, " GB of device memory (",
                 estimate_bytes(n) / 1e9, " GB with the parameters), over ", opt_.admit * 100, "% of the ", free_b / 1e9,
                 " GB free; use a smaller batch", opt_.naive ? " or memory=efficient" : "");
        try {
            auto& c = ctx_;
            cudaStream_t s = c.stream;
            acts_.resize(std::max<size_t>(1, arena_elems(n, false)) * sizeof(T));
            grads_act_.resize(std::max<size_t>(1, arena_elems(n, true)) * sizeof(T));
            // zeroed once: every element is written before it is read, but a stale NaN must never leak
            DN_CUDA(cudaMemsetAsync(acts_.get(), 0, acts_.bytes(), s));
            DN_CUDA(cudaMemsetAsync(grads_act_.get(), 0, grads_act_.bytes(), s));
            c.act.assign(plan_.buffers.size(), nullptr);
            c.grad.assign(plan_.buffers.size(), nullptr);
            size_t ao = 0, go = 0;
            constexpr size_t a = kAlignElems<T>;
            for (size_t i = 0; i < plan_.buffers.size(); i++) {
                size_t f = static_cast<size_t>(n * plan_.buffers[i].pixels() * plan_.buffers[i].c);
                c.act[i] = acts_.get<T>() + ao;
                ao += (f + a - 1) / a * a;  // 256-byte aligned buffers
                if (is_block_[i]) {
                    c.grad[i] = grads_act_.get<T>() + go;
                    go += (f + a - 1) / a * a;
                }
            }
            input_.resize(input_floats(n) * sizeof(float));
            labels_.resize(static_cast<size_t>(n) * sizeof(int64_t));
            loss_.resize(sizeof(double));
            c.input = input_.get<float>();
            c.labels = labels_.get<int64_t>();
            c.loss = loss_.get<double>();
            Needs nd = needs(n);
            auto scratch = [&](DeviceBuffer& b, size_t elems) {
                b.resize(elems * sizeof(T));
                if (elems) DN_CUDA(cudaMemsetAsync(b.get(), 0, b.bytes(), s));
                return b.get<T>();
            };
            c.da = scratch(da_, nd.da);
            c.bpre = scratch(bpre_, nd.bpre);
            c.b = scratch(b_, nd.b);
            c.db = scratch(db_, nd.db);
            c.tmp = scratch(tmp_, nd.tmp);
            c.n = n;
            for (auto& m : modules_) m->prepare(c);
            size_t ws_need = 0;
            {
                // the candidates' benchmark may use up to the bound; only the chosen size is kept
                DeviceBuffer find_ws(opt_.heuristic ? 0 : opt_.workspace_limit);
                for (auto& m : modules_) m->tune(c, find_ws.get(), find_ws.bytes(), ws_need);
                DN_CUDA(cudaStreamSynchronize(s));
            }
            ws_.resize(ws_need);
            c.ws = ws_.get();
            c.ws_bytes = ws_.bytes();
            // the search wrote into gradient slots: a read_grad before the next step reads zeros
            DN_CUDA(cudaMemsetAsync(grads_.get(), 0, grads_.bytes(), s));
            DN_CUDA(cudaStreamSynchronize(s));
        } catch (...) {
            ctx_.n = 0;
            throw;
        }
    }

    const Param* at(int64_t i) const {
        DN_CHECK(i >= 0 && i < param_count(), "parameter index ", i, " out of range [0, ", param_count(), ")");
        return reg_.params[static_cast<size_t>(i)].get();
    }
    const Param* param(const std::string& name) const {
        for (auto& p : reg_.params)
            if (p->name == name) return p.get();
        fail("the trainer has no parameter '", name, "'");
    }
    /** One parameter's slot of a flat device array, to the host in PyTorch's layout. */
    void download(const Param* p, const DeviceBuffer& flat, float* out) const {
        DN_CHECK(!opt_.estimate_only, "this trainer was made with estimate_only=1: nothing on the device");
        DN_CUDA(cudaSetDevice(opt_.device));
        std::vector<float> t(static_cast<size_t>(p->numel));
        DN_CUDA(cudaMemcpyAsync(t.data(), flat.get<float>() + p->off, t.size() * sizeof(float),
                                cudaMemcpyDeviceToHost, ctx_.stream));
        DN_CUDA(cudaStreamSynchronize(ctx_.stream));
        if (p->k > 0) from_krsc(t.data(), p->cout, p->cin, p->k, out);
        else std::memcpy(out, t.data(), t.size() * sizeof(float));
    }

    Plan plan_;
    TrainOptions opt_;
    Registry reg_;
    std::vector<std::unique_ptr<Module<T>>> modules_;
    Head<T>* head_ = nullptr;
    bool has_to_nhwc_ = false;
    int classes_ = 0;
    std::vector<bool> is_block_;  // per plan buffer: has a gradient buffer
    bool has_momentum_ = false, stepped_ = false;
    // mixed precision: the loss scale, whether the last backward pass gave an inf/NaN gradient,
    // good steps since the scale last changed, steps skipped so far
    float scale_ = 1.f;
    bool found_inf_ = false;
    int good_steps_ = 0;
    int64_t skipped_ = 0;
    Ctx<T> ctx_;
    // whatever the batch (wh_, dwh_, inf_: fp16/bf16 only)
    DeviceBuffer params_, grads_, mom_, bn_, reduce_, wh_, dwh_, inf_;
    // per batch
    DeviceBuffer acts_, grads_act_, input_, labels_, loss_, da_, bpre_, b_, db_, tmp_, ws_;
};

}  // namespace
}  // namespace dn4j::cuda

extern "C" {

dn4j::TrainBackend* dn4j_cuda_make_trainer(const dn4j::Plan* plan, dn4j::WeightStore::Impl* weights,
                                           const char* options) {
    using namespace dn4j::cuda;
    DN_CHECK(plan != nullptr && weights != nullptr, "dn4j_cuda_make_trainer: null plan or weights");
    TrainOptions o = TrainOptions::parse(options);
    std::string why;
    if (!o.estimate_only && dn4j_cuda_probe(&why) == 0) dn4j::fail("device cuda: ", why);
    if (o.dtype == "fp16") return new CudaTrainer<__half>(*plan, *weights, o);
    if (o.dtype == "bf16") return new CudaTrainer<__nv_bfloat16>(*plan, *weights, o);
    return new CudaTrainer<float>(*plan, *weights, o);
}
}
