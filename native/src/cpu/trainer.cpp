// Training on the CPU backend: forward in train mode, backward, SGD.
//
// A training plan (written by io.densenet4j.DenseNet.trainingPlan) names modules rather than
// single convolutions, because each module's backward pass needs its structure:
//   op to_nhwc dst=B
//   op stem kind=cifar|imagenet src=B dst=BLOCK:0:C0 conv=PREFIX [bn=PREFIX mid=BUF]
//   op dense_layer block=BLOCK cin=C k=K width=W prefix=PREFIX [drop=P]
//   op transition src=BLOCK dst=NEXT:0:C prefix=PREFIX
//   op head src=BLOCK bn=PREFIX fc=PREFIX classes=K
//
// Memory (Pleiss et al. 2017): activations are the block buffers (plus the stem's), each with
// a gradient buffer of the same shape into whose channel slices later layers accumulate. A
// dense layer keeps only its BatchNorm batch statistics; its backward pass recomputes
// BN1-ReLU (chunk by chunk), the 1x1 conv and BN2-ReLU into scratch shared by all layers.
// In "naive" mode every layer instead stores its BN1-ReLU output, 1x1 conv output and
// BN2-ReLU output, and the backward pass reads them.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <dnnl.hpp>
#include <sstream>

#include "../common/error.h"
#include "../common/plan.h"
#include "../common/weights.h"
#include "densenet4j/core.h"
#include "kernels.h"
#include "train_kernels.h"
#include "../common/backend.h"
#include "../common/cuda_loader.h"
#include "../common/dropout.h"
#include "../common/view.h"

namespace dn4j {
namespace cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
          float beta, float* c, int64_t ldc) {
    if (m == 0 || n == 0) return;
    dnnl_status_t st = dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    DN_CHECK(st == dnnl_success, "dnnl_sgemm failed with status ", static_cast<int>(st));
}

struct Param {
    std::string name;
    float* p = nullptr;
    int64_t numel = 0;
    Buffer grad, mom;
};

/** Sizes a step needs, in floats. */
struct Needs {
    size_t chunk = 0, bpre = 0, b = 0, db = 0, da = 0, fresh = 0;
    size_t own = 0;  // per-module storage (naive intermediates, stem, head)
    void max_into(size_t& slot, size_t v) { slot = std::max(slot, v); }
};

struct Ctx {
    dnnl::engine eng{dnnl::engine::kind::cpu, 0};
    dnnl::stream strm{eng};
    int64_t n = 0;
    bool naive = false;
    uint64_t seed = 0;
    std::vector<float*> act, grad;  // per plan buffer (grad only for block buffers)
    float* chunk = nullptr;
    float* bpre = nullptr;
    float* b = nullptr;
    float* db = nullptr;
    float* da = nullptr;
    float* fresh = nullptr;
    void* scratchpad = nullptr;
    size_t scratchpad_bytes = 0;
    const int64_t* labels = nullptr;
    double loss = 0;
    float* logits_out = nullptr;
};

int64_t chunk_rows(int64_t rows, int cin) {
    int64_t t = std::max<int64_t>(64, (int64_t{3} << 17) / std::max(1, cin));
    return std::min(rows, t);
}

/** BatchNorm in train mode over C channels: batch statistics, running-statistics update. */
class BatchNorm {
public:
    BatchNorm(WeightStore::Impl& w, const std::string& prefix, int C, std::vector<Param*>& reg,
              std::vector<std::unique_ptr<Param>>& own)
        : C_(C) {
        std::vector<int64_t> s{C};
        gamma_ = add(own, reg, prefix + ".weight", w.get_mut(prefix + ".weight", s));
        beta_ = add(own, reg, prefix + ".bias", w.get_mut(prefix + ".bias", s));
        rmean_ = w.get_mut(prefix + ".running_mean", s).data.data();
        rvar_ = w.get_mut(prefix + ".running_var", s).data.data();
        mean_.resize(C);
        invstd_.resize(C);
        scale_.resize(C);
        shift_.resize(C);
        sum_g_.resize(C);
        sum_gx_.resize(C);
    }

    static Param* add(std::vector<std::unique_ptr<Param>>& own, std::vector<Param*>& reg, const std::string& name,
                      StoredTensor& t) {
        auto p = std::make_unique<Param>();
        p->name = name;
        p->p = t.data.data();
        p->numel = t.numel();
        reg.push_back(p.get());
        own.push_back(std::move(p));
        return reg.back();
    }

    /** Batch statistics of x (rows x C, stride ldx); updates running statistics (momentum 0.1, unbiased var). */
    void forward(const float* x, int64_t ldx, int64_t rows) {
        std::vector<double> m(C_), v(C_);
        channel_stats(x, ldx, rows, C_, m.data(), v.data());
        double unbias = rows > 1 ? static_cast<double>(rows) / static_cast<double>(rows - 1) : 1.0;
        for (int c = 0; c < C_; c++) {
            mean_.data()[c] = static_cast<float>(m[c]);
            invstd_.data()[c] = static_cast<float>(1.0 / std::sqrt(v[c] + 1e-5));
            scale_.data()[c] = gamma_->p[c] * invstd_.data()[c];
            shift_.data()[c] = beta_->p[c] - mean_.data()[c] * scale_.data()[c];
            rmean_[c] = static_cast<float>(0.9 * rmean_[c] + 0.1 * m[c]);
            rvar_[c] = static_cast<float>(0.9 * rvar_[c] + 0.1 * v[c] * unbias);
        }
    }

    /** Backward of relu(bn(x)) given its output gradient; writes or adds dx, sets dgamma, dbeta. */
    void backward(const float* x, int64_t ldx, int64_t rows, const GradIn& dy, float* dx, int64_t lddx, bool accumulate) {
        bn_relu_backward_reduce(x, ldx, rows, C_, mean_.data(), invstd_.data(), scale_.data(), shift_.data(), dy,
                                sum_g_.data(), sum_gx_.data());
        for (int c = 0; c < C_; c++) {
            gamma_->grad.data()[c] = static_cast<float>(sum_gx_.data()[c]);
            beta_->grad.data()[c] = static_cast<float>(sum_g_.data()[c]);
        }
        bn_relu_backward_apply(x, ldx, rows, C_, mean_.data(), invstd_.data(), scale_.data(), shift_.data(), dy,
                               sum_g_.data(), sum_gx_.data(), dx, lddx, accumulate);
    }

    const float* scale() const { return scale_.data(); }
    const float* shift() const { return shift_.data(); }

private:
    struct DBuf {
        std::vector<double> v;
        void resize(int c) { v.assign(c, 0.0); }
        double* data() { return v.data(); }
    };
    int C_;
    Param* gamma_;
    Param* beta_;
    float* rmean_;
    float* rvar_;
    Buffer mean_, invstd_, scale_, shift_;
    DBuf sum_g_, sum_gx_;
};

/** A k x k convolution without bias on dense NHWC tensors through oneDNN, with its backward passes. */
class Conv {
public:
    Conv(int cin, int cout, int k, int stride, int pad, float* weights, float* dweights)
        : cin_(cin), cout_(cout), k_(k), s_(stride), p_(pad), w_(weights), dw_(dweights) {}

    void prepare(Ctx& c, int H, int W, int Ho, int Wo, bool need_data_grad) {
        memory::dims src{c.n, cin_, H, W}, dst{c.n, cout_, Ho, Wo}, wd{cout_, cin_, k_, k_};
        memory::dims st{s_, s_}, pad{p_, p_};
        auto src_md = memory::desc(src, dt::f32, tag::nhwc), dst_md = memory::desc(dst, dt::f32, tag::nhwc);
        auto w_any = memory::desc(wd, dt::f32, tag::any);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        fwd_pd_ = dnnl::convolution_forward::primitive_desc(c.eng, dnnl::prop_kind::forward_training,
                                                           dnnl::algorithm::convolution_direct, src_md, w_any, dst_md,
                                                           st, pad, pad, attr);
        fwd_ = dnnl::convolution_forward(fwd_pd_);
        bww_pd_ = dnnl::convolution_backward_weights::primitive_desc(
            c.eng, dnnl::algorithm::convolution_direct, src_md, w_any, dst_md, st, pad, pad, fwd_pd_, attr);
        bww_ = dnnl::convolution_backward_weights(bww_pd_);
        size_t sp = std::max(fwd_pd_.scratchpad_desc().get_size(), bww_pd_.scratchpad_desc().get_size());
        if (need_data_grad) {
            bwd_pd_ = dnnl::convolution_backward_data::primitive_desc(
                c.eng, dnnl::algorithm::convolution_direct, src_md, w_any, dst_md, st, pad, pad, fwd_pd_, attr);
            bwd_ = dnnl::convolution_backward_data(bwd_pd_);
            sp = std::max(sp, bwd_pd_.scratchpad_desc().get_size());
            wb_.resize(bwd_pd_.weights_desc().get_size() / 4 + 16);
        }
        wf_.resize(fwd_pd_.weights_desc().get_size() / 4 + 16);
        dwp_.resize(bww_pd_.diff_weights_desc().get_size() / 4 + 16);
        scratch_need_ = sp;
        user_md_ = memory::desc(wd, dt::f32, tag::oihw);
    }
    size_t scratchpad_bytes() const { return scratch_need_; }

    void forward(Ctx& c, const float* src, float* dst) {
        reorder(c, memory(user_md_, c.eng, w_), memory(fwd_pd_.weights_desc(), c.eng, wf_.data()));
        fwd_.execute(c.strm, {{DNNL_ARG_SRC, memory(fwd_pd_.src_desc(), c.eng, const_cast<float*>(src))},
                              {DNNL_ARG_WEIGHTS, memory(fwd_pd_.weights_desc(), c.eng, wf_.data())},
                              {DNNL_ARG_DST, memory(fwd_pd_.dst_desc(), c.eng, dst)},
                              {DNNL_ARG_SCRATCHPAD, memory(fwd_pd_.scratchpad_desc(), c.eng, c.scratchpad)}});
    }

    void backward_data(Ctx& c, const float* ddst, float* dsrc) {
        reorder(c, memory(user_md_, c.eng, w_), memory(bwd_pd_.weights_desc(), c.eng, wb_.data()));
        bwd_.execute(c.strm, {{DNNL_ARG_DIFF_DST, memory(bwd_pd_.diff_dst_desc(), c.eng, const_cast<float*>(ddst))},
                              {DNNL_ARG_WEIGHTS, memory(bwd_pd_.weights_desc(), c.eng, wb_.data())},
                              {DNNL_ARG_DIFF_SRC, memory(bwd_pd_.diff_src_desc(), c.eng, dsrc)},
                              {DNNL_ARG_SCRATCHPAD, memory(bwd_pd_.scratchpad_desc(), c.eng, c.scratchpad)}});
    }

    void backward_weights(Ctx& c, const float* src, const float* ddst) {
        bww_.execute(c.strm, {{DNNL_ARG_SRC, memory(bww_pd_.src_desc(), c.eng, const_cast<float*>(src))},
                              {DNNL_ARG_DIFF_DST, memory(bww_pd_.diff_dst_desc(), c.eng, const_cast<float*>(ddst))},
                              {DNNL_ARG_DIFF_WEIGHTS, memory(bww_pd_.diff_weights_desc(), c.eng, dwp_.data())},
                              {DNNL_ARG_SCRATCHPAD, memory(bww_pd_.scratchpad_desc(), c.eng, c.scratchpad)}});
        reorder(c, memory(bww_pd_.diff_weights_desc(), c.eng, dwp_.data()), memory(user_md_, c.eng, dw_));
    }

    std::string impl() const { return fwd_ ? std::string(fwd_pd_.impl_info_str()) : "not prepared"; }

private:
    static void reorder(Ctx& c, memory from, memory to) {
        if (from.get_desc() == to.get_desc()) {
            std::memcpy(to.get_data_handle(), from.get_data_handle(), from.get_desc().get_size());
            return;
        }
        dnnl::reorder(from, to).execute(c.strm, from, to);
    }

    int cin_, cout_, k_, s_, p_;
    float* w_;
    float* dw_;
    memory::desc user_md_;
    Buffer wf_, wb_, dwp_;
    size_t scratch_need_ = 0;
    dnnl::convolution_forward::primitive_desc fwd_pd_;
    dnnl::convolution_forward fwd_;
    dnnl::convolution_backward_data::primitive_desc bwd_pd_;
    dnnl::convolution_backward_data bwd_;
    dnnl::convolution_backward_weights::primitive_desc bww_pd_;
    dnnl::convolution_backward_weights bww_;
};

Param* conv_param(WeightStore::Impl& w, const std::string& name, std::vector<int64_t> shape, std::vector<Param*>& reg,
                  std::vector<std::unique_ptr<Param>>& own) {
    return BatchNorm::add(own, reg, name, w.get_mut(name, shape));
}

class Module {
public:
    virtual ~Module() = default;
    virtual void needs(int64_t n, bool naive, Needs& nd) const = 0;
    virtual void prepare(Ctx& c, size_t& scratchpad) = 0;
    virtual void forward(Ctx& c) = 0;
    virtual void backward(Ctx& c) = 0;
    virtual std::string describe() const = 0;
};

// ------------------------------------------------------------------ to_nhwc
class ToNhwc : public Module {
public:
    ToNhwc(const Plan& p, const PlanOp& op) : dst_(view(p, op, "dst")), plan_(p) {}
    void needs(int64_t, bool, Needs&) const override {}
    void prepare(Ctx&, size_t&) override {}
    void forward(Ctx& c) override { nchw_to_nhwc(input_, c.n, plan_.in_c, plan_.in_h, plan_.in_w, c.act[dst_.b]); }
    void backward(Ctx&) override {}
    std::string describe() const override { return "to_nhwc -> " + dst_.decl.name; }
    const float* input_ = nullptr;

private:
    View dst_;
    const Plan& plan_;
};

// ------------------------------------------------------------------ stem
class Stem : public Module {
public:
    Stem(const Plan& p, const PlanOp& op, WeightStore::Impl& w, std::vector<Param*>& reg,
         std::vector<std::unique_ptr<Param>>& own)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")) {
        imagenet_ = op.str("kind") == "imagenet";
        DN_CHECK(imagenet_ || op.str("kind") == "cifar", "plan line ", op.line, ": stem kind must be imagenet or cifar");
        int cin = src_.decl.c, c0 = dst_.len;
        k_ = imagenet_ ? 7 : 3;
        conv_p_ = conv_param(w, op.str("conv") + ".weight", {c0, cin, k_, k_}, reg, own);
        if (imagenet_) {
            mid_ = view(p, op, "mid");
            bn_ = std::make_unique<BatchNorm>(w, op.str("bn"), c0, reg, own);
            DN_CHECK(mid_.decl.c == c0 && mid_.decl.h == (src_.decl.h - 1) / 2 + 1 &&
                         dst_.decl.h == (mid_.decl.h - 1) / 2 + 1,
                     "plan line ", op.line, ": stem sizes do not match");
        } else {
            DN_CHECK(dst_.decl.h == src_.decl.h && dst_.decl.w == src_.decl.w, "plan line ", op.line,
                     ": cifar stem keeps the input size");
        }
    }
    void init_conv() {
        conv_ = std::make_unique<Conv>(src_.decl.c, dst_.len, k_, imagenet_ ? 2 : 1, imagenet_ ? 3 : 1, conv_p_->p,
                                       conv_p_->grad.data());
    }
    void needs(int64_t n, bool, Needs& nd) const override {
        if (imagenet_) nd.own += 2 * static_cast<size_t>(n * mid_.decl.pixels() * mid_.decl.c);  // z and dz
        else nd.own += static_cast<size_t>(n * dst_.decl.pixels() * dst_.len);                 // dense out / grad
    }
    void prepare(Ctx& c, size_t& sp) override {
        if (!conv_) init_conv();
        if (imagenet_) {
            conv_->prepare(c, src_.decl.h, src_.decl.w, mid_.decl.h, mid_.decl.w, false);
            z_.resize(static_cast<size_t>(c.n * mid_.decl.pixels() * mid_.decl.c));
            dz_.resize(z_.size());
        } else {
            conv_->prepare(c, src_.decl.h, src_.decl.w, dst_.decl.h, dst_.decl.w, false);
            z_.resize(static_cast<size_t>(c.n * dst_.decl.pixels() * dst_.len));
        }
        sp = std::max(sp, conv_->scratchpad_bytes());
    }
    void forward(Ctx& c) override {
        const float* x = c.act[src_.b];
        float* out = c.act[dst_.b] + dst_.off;
        if (imagenet_) {
            float* y0 = c.act[mid_.b];
            int64_t rows = c.n * mid_.decl.pixels();
            conv_->forward(c, x, y0);
            bn_->forward(y0, mid_.decl.c, rows);
            bn_relu_rows(y0, mid_.decl.c, rows, mid_.decl.c, bn_->scale(), bn_->shift(), z_.data(), mid_.decl.c);
            maxpool(z_.data(), c.n, mid_.decl.h, mid_.decl.w, mid_.decl.c, 3, 2, 1, out, dst_.decl.c, dst_.decl.h,
                    dst_.decl.w);
        } else {
            conv_->forward(c, x, z_.data());
            copy_rows(z_.data(), dst_.len, c.n * dst_.decl.pixels(), dst_.len, out, dst_.decl.c);
        }
    }
    void backward(Ctx& c) override {
        const float* g = c.grad[dst_.b] + dst_.off;
        if (imagenet_) {
            float* y0 = c.act[mid_.b];
            int C = mid_.decl.c;
            int64_t rows = c.n * mid_.decl.pixels();
            fill(dz_.data(), static_cast<int64_t>(dz_.size()), 0.0f);
            maxpool_backward(y0, bn_->scale(), bn_->shift(), c.n, mid_.decl.h, mid_.decl.w, C, 3, 2, 1, g, dst_.decl.c,
                             dst_.decl.h, dst_.decl.w, dz_.data());
            GradIn dy;
            dy.g = dz_.data();
            dy.ldg = C;
            bn_->backward(y0, C, rows, dy, dz_.data(), C, false);
            conv_->backward_weights(c, c.act[src_.b], dz_.data());
        } else {
            copy_rows(g, dst_.decl.c, c.n * dst_.decl.pixels(), dst_.len, z_.data(), dst_.len);
            conv_->backward_weights(c, c.act[src_.b], z_.data());
        }
    }
    std::string describe() const override {
        return std::string(imagenet_ ? "stem imagenet" : "stem cifar") + " [" + (conv_ ? conv_->impl() : "") + "]";
    }

private:
    View src_, dst_, mid_;
    bool imagenet_;
    int k_;
    Param* conv_p_;
    std::unique_ptr<BatchNorm> bn_;
    std::unique_ptr<Conv> conv_;
    Buffer z_, dz_;
};

// ------------------------------------------------------------------ dense layer
class DenseLayer : public Module {
public:
    DenseLayer(const Plan& p, const PlanOp& op, WeightStore::Impl& w, std::vector<Param*>& reg,
               std::vector<std::unique_ptr<Param>>& own, int index)
        : d_(dense_layer_spec(p, op)), index_(index) {
        const std::string& pre = d_.prefix;
        bn1_ = std::make_unique<BatchNorm>(w, pre + ".norm1", d_.cin, reg, own);
        w1_ = conv_param(w, pre + ".conv1.weight", {d_.width, d_.cin, 1, 1}, reg, own);
        bn2_ = std::make_unique<BatchNorm>(w, pre + ".norm2", d_.width, reg, own);
        w2_ = conv_param(w, pre + ".conv2.weight", {d_.k, d_.width, 3, 3}, reg, own);
    }
    void needs(int64_t n, bool naive, Needs& nd) const override {
        size_t m = static_cast<size_t>(n * d_.blk.pixels());
        nd.max_into(nd.chunk, static_cast<size_t>(chunk_rows(static_cast<int64_t>(m), d_.cin)) * d_.cin);
        nd.max_into(nd.db, m * d_.width);
        nd.max_into(nd.da, m * d_.cin);
        nd.max_into(nd.fresh, m * d_.k);
        if (naive) {
            nd.own += m * d_.cin + 2 * m * d_.width;
        } else {
            nd.max_into(nd.bpre, m * d_.width);
            nd.max_into(nd.b, m * d_.width);
        }
    }
    void prepare(Ctx& c, size_t& sp) override {
        if (!conv2_) conv2_ = std::make_unique<Conv>(d_.width, d_.k, 3, 1, 1, w2_->p, w2_->grad.data());
        conv2_->prepare(c, d_.blk.h, d_.blk.w, d_.blk.h, d_.blk.w, true);
        sp = std::max(sp, conv2_->scratchpad_bytes());
        size_t m = static_cast<size_t>(c.n * d_.blk.pixels());
        if (c.naive) {
            a_.resize(m * d_.cin);
            bpre_.resize(m * d_.width);
            b_.resize(m * d_.width);
        } else {
            a_.reset();
            bpre_.reset();
            b_.reset();
        }
    }

    /** Bpre = conv1(relu(bn1(X))), chunk by chunk (naive: keeping each chunk of A). */
    void bottleneck(Ctx& c, float* bpre) {
        const float* x = c.act[d_.block];
        int64_t rows = c.n * d_.blk.pixels(), t = chunk_rows(rows, d_.cin);
        for (int64_t r0 = 0; r0 < rows; r0 += t) {
            int64_t len = std::min(t, rows - r0);
            float* a = c.naive ? a_.data() + r0 * d_.cin : c.chunk;
            bn_relu_rows(x + r0 * d_.blk.c, d_.blk.c, len, d_.cin, bn1_->scale(), bn1_->shift(), a, d_.cin);
            gemm('N', 'T', len, d_.width, d_.cin, a, d_.cin, w1_->p, d_.cin, 0.0f, bpre + r0 * d_.width, d_.width);
        }
    }

    void forward(Ctx& c) override {
        float* x = c.act[d_.block];
        int64_t rows = c.n * d_.blk.pixels();
        bn1_->forward(x, d_.blk.c, rows);
        float* bpre = c.naive ? bpre_.data() : c.bpre;
        float* b = c.naive ? b_.data() : c.b;
        bottleneck(c, bpre);
        bn2_->forward(bpre, d_.width, rows);
        bn_relu_rows(bpre, d_.width, rows, d_.width, bn2_->scale(), bn2_->shift(), b, d_.width);
        conv2_->forward(c, b, c.fresh);
        dropout(c.fresh, d_.k, rows, d_.k, d_.drop, seed(c));
        copy_rows(c.fresh, d_.k, rows, d_.k, x + d_.cin, d_.blk.c);
    }

    void backward(Ctx& c) override {
        float* x = c.act[d_.block];
        float* g = c.grad[d_.block];
        int64_t rows = c.n * d_.blk.pixels();
        copy_rows(g + d_.cin, d_.blk.c, rows, d_.k, c.fresh, d_.k);
        dropout(c.fresh, d_.k, rows, d_.k, d_.drop, seed(c));  // same mask: d(mask * y / (1-p)) = mask * dy / (1-p)
        float* bpre = c.naive ? bpre_.data() : c.bpre;
        float* b = c.naive ? b_.data() : c.b;
        // A = relu(bn1(X)): stored (naive) or recomputed whole into the dA scratch, which holds it
        // until dW1 has used it and dA overwrites it (so it is computed once per backward)
        const float* a = c.naive ? a_.data() : c.da;
        if (!c.naive) {  // recompute (Pleiss et al.): running statistics are not touched
            bn_relu_rows(x, d_.blk.c, rows, d_.cin, bn1_->scale(), bn1_->shift(), c.da, d_.cin);
            gemm('N', 'T', rows, d_.width, d_.cin, c.da, d_.cin, w1_->p, d_.cin, 0.0f, bpre, d_.width);
            bn_relu_rows(bpre, d_.width, rows, d_.width, bn2_->scale(), bn2_->shift(), b, d_.width);
        }
        conv2_->backward_weights(c, b, c.fresh);
        conv2_->backward_data(c, c.fresh, c.db);
        GradIn d2;
        d2.g = c.db;
        d2.ldg = d_.width;
        bn2_->backward(bpre, d_.width, rows, d2, c.db, d_.width, false);  // dBpre, in place
        gemm('T', 'N', d_.width, d_.cin, rows, c.db, d_.width, a, d_.cin, 0.0f, w1_->grad.data(), d_.cin);  // dW1 = dBpre^T A
        gemm('N', 'N', rows, d_.cin, d_.width, c.db, d_.width, w1_->p, d_.cin, 0.0f, c.da, d_.cin);         // dA (A is done)
        GradIn d1;
        d1.g = c.da;
        d1.ldg = d_.cin;
        bn1_->backward(x, d_.blk.c, rows, d1, g, d_.blk.c, true);
    }

    std::string describe() const override {
        return "dense_layer " + d_.prefix + " (" + std::to_string(d_.cin) + " -> +" + std::to_string(d_.k) + ") [" +
               (conv2_ ? conv2_->impl() : "") + "]";
    }

private:
    uint64_t seed(const Ctx& c) const { return dropout_layer_seed(c.seed, index_); }

    DenseLayerSpec d_;  // block buffer, cin, growth rate k, bottleneck width, dropout
    int index_;
    std::unique_ptr<BatchNorm> bn1_, bn2_;
    Param* w1_;
    Param* w2_;
    std::unique_ptr<Conv> conv2_;
    Buffer a_, bpre_, b_;
};

// ------------------------------------------------------------------ transition
class Transition : public Module {
public:
    Transition(const Plan& p, const PlanOp& op, WeightStore::Impl& w, std::vector<Param*>& reg,
               std::vector<std::unique_ptr<Param>>& own)
        : src_(view(p, op, "src")), dst_(view(p, op, "dst")) {
        DN_CHECK(src_.off == 0 && src_.len == src_.decl.c, "plan line ", op.line, ": a transition reads a whole block");
        DN_CHECK(dst_.decl.h == src_.decl.h / 2 && dst_.decl.w == src_.decl.w / 2 && dst_.decl.h > 0,
                 "plan line ", op.line, ": transition output size mismatch");
        std::string pre = op.str("prefix");
        bn_ = std::make_unique<BatchNorm>(w, pre + ".norm", src_.len, reg, own);
        w_ = conv_param(w, pre + ".conv.weight", {dst_.len, src_.len, 1, 1}, reg, own);
    }
    void needs(int64_t n, bool, Needs& nd) const override {
        size_t mp = static_cast<size_t>(n * dst_.decl.pixels());
        nd.max_into(nd.chunk, static_cast<size_t>(chunk_rows(static_cast<int64_t>(mp), src_.len)) * src_.len);
        nd.max_into(nd.da, mp * src_.len);
    }
    void prepare(Ctx&, size_t&) override {}

    void pooled_chunk(Ctx& c, int64_t r0, int64_t len) {
        bn_relu_avgpool2_rows(c.act[src_.b], src_.decl.h, src_.decl.w, src_.decl.c, dst_.decl.h, dst_.decl.w, r0, len,
                              src_.len, bn_->scale(), bn_->shift(), c.chunk);
    }
    void forward(Ctx& c) override {
        int cin = src_.len, cout = dst_.len;
        bn_->forward(c.act[src_.b], src_.decl.c, c.n * src_.decl.pixels());
        int64_t rows = c.n * dst_.decl.pixels(), t = chunk_rows(rows, cin);
        float* out = c.act[dst_.b] + dst_.off;
        for (int64_t r0 = 0; r0 < rows; r0 += t) {
            int64_t len = std::min(t, rows - r0);
            pooled_chunk(c, r0, len);
            gemm('N', 'T', len, cout, cin, c.chunk, cin, w_->p, cin, 0.0f, out + r0 * dst_.decl.c, dst_.decl.c);
        }
    }
    void backward(Ctx& c) override {
        int cin = src_.len, cout = dst_.len;
        int64_t rows = c.n * dst_.decl.pixels(), t = chunk_rows(rows, cin);
        const float* g = c.grad[dst_.b] + dst_.off;
        gemm('N', 'N', rows, cin, cout, g, dst_.decl.c, w_->p, cin, 0.0f, c.da, cin);
        for (int64_t r0 = 0; r0 < rows; r0 += t) {
            int64_t len = std::min(t, rows - r0);
            pooled_chunk(c, r0, len);
            gemm('T', 'N', cout, cin, len, g + r0 * dst_.decl.c, dst_.decl.c, c.chunk, cin, r0 == 0 ? 0.0f : 1.0f,
                 w_->grad.data(), cin);
        }
        GradIn d;
        d.kind = GradIn::POOL2;
        d.g = c.da;
        d.ldg = cin;
        d.H = src_.decl.h;
        d.W = src_.decl.w;
        bn_->backward(c.act[src_.b], src_.decl.c, c.n * src_.decl.pixels(), d, c.grad[src_.b], src_.decl.c, false);
    }
    std::string describe() const override { return "transition " + src_.decl.name + " -> " + dst_.decl.name; }

private:
    View src_, dst_;
    std::unique_ptr<BatchNorm> bn_;
    Param* w_;
};

// ------------------------------------------------------------------ head
class Head : public Module {
public:
    Head(const Plan& p, const PlanOp& op, WeightStore::Impl& w, std::vector<Param*>& reg,
         std::vector<std::unique_ptr<Param>>& own)
        : src_(view(p, op, "src")) {
        classes_ = op.integer("classes");
        int C = src_.decl.c;
        bn_ = std::make_unique<BatchNorm>(w, op.str("bn"), C, reg, own);
        std::string fc = op.str("fc");
        w_ = conv_param(w, fc + ".weight", {classes_, C}, reg, own);
        b_ = conv_param(w, fc + ".bias", {classes_}, reg, own);
    }
    int classes() const { return classes_; }
    void needs(int64_t n, bool, Needs& nd) const override {
        nd.own += static_cast<size_t>(n) * (2 * src_.decl.c + 2 * classes_);
    }
    void prepare(Ctx& c, size_t&) override {
        pooled_.resize(static_cast<size_t>(c.n * src_.decl.c));
        dpooled_.resize(pooled_.size());
        logits_.resize(static_cast<size_t>(c.n * classes_));
        dlogits_.resize(logits_.size());
    }
    void forward(Ctx& c) override {
        int C = src_.decl.c;
        const float* x = c.act[src_.b];
        int64_t hw = src_.decl.pixels();
        bn_->forward(x, C, c.n * hw);
        bn_relu_gap(x, c.n, hw, C, C, bn_->scale(), bn_->shift(), pooled_.data());
        gemm('N', 'T', c.n, classes_, C, pooled_.data(), C, w_->p, C, 0.0f, logits_.data(), classes_);
        for (int64_t i = 0; i < c.n; i++)
            for (int j = 0; j < classes_; j++) logits_.data()[i * classes_ + j] += b_->p[j];
        for (int64_t i = 0; i < c.n; i++)
            DN_CHECK(c.labels[i] >= 0 && c.labels[i] < classes_, "label ", c.labels[i], " of sample ", i,
                     " is outside [0, ", classes_, ")");
        c.loss = softmax_cross_entropy(logits_.data(), c.labels, c.n, classes_, dlogits_.data());
        if (c.logits_out) std::memcpy(c.logits_out, logits_.data(), logits_.size() * sizeof(float));
    }
    void backward(Ctx& c) override {
        int C = src_.decl.c;
        gemm('T', 'N', classes_, C, c.n, dlogits_.data(), classes_, pooled_.data(), C, 0.0f, w_->grad.data(), C);
        for (int j = 0; j < classes_; j++) {
            float s = 0;
            for (int64_t i = 0; i < c.n; i++) s += dlogits_.data()[i * classes_ + j];
            b_->grad.data()[j] = s;
        }
        gemm('N', 'N', c.n, C, classes_, dlogits_.data(), classes_, w_->p, C, 0.0f, dpooled_.data(), C);
        GradIn d;
        d.kind = GradIn::GAP;
        d.g = dpooled_.data();
        d.ldg = C;
        d.H = src_.decl.h;
        d.W = src_.decl.w;
        bn_->backward(c.act[src_.b], C, c.n * src_.decl.pixels(), d, c.grad[src_.b], C, false);
    }
    std::string describe() const override {
        return "head " + src_.decl.name + " -> " + std::to_string(classes_) + " logits, cross-entropy";
    }

private:
    View src_;
    int classes_;
    std::unique_ptr<BatchNorm> bn_;
    Param* w_;
    Param* b_;
    Buffer pooled_, dpooled_, logits_, dlogits_;
};

/** The CPU implementation of dn4j::Trainer: parameters and running statistics are updated in
 *  the WeightStore in place. */
class CpuTrainer final : public TrainBackend {
public:
    CpuTrainer(const std::string& plan_text, WeightStore::Impl& w, int threads_, bool naive_) {
        DN_CHECK(threads_ >= 0 && threads_ <= kMaxThreads, "threads must be from 0 (all cores) to ", kMaxThreads, ", got ",
                 threads_);
        plan = Plan::parse(plan_text);
        threads = threads_ > 0 ? threads_ : omp_get_num_procs();
        naive = naive_;
        build(w);
    }

    double forward_backward(const float* input, const int64_t* labels, int64_t n, uint64_t seed,
                            float* logits) override {
        omp_set_num_threads(threads);
        if (ctx.n != n) prepare(n);
        ctx.seed = seed;
        ctx.labels = labels;
        ctx.logits_out = logits;
        to_nhwc->input_ = input;
        for (auto& m : modules) m->forward(ctx);
        for (auto it = modules.rbegin(); it != modules.rend(); ++it) (*it)->backward(ctx);
        ctx.strm.wait();
        return ctx.loss;
    }

    void sgd_step(float lr, float momentum, float weight_decay, bool nesterov) override {
        DN_CHECK(ctx.n > 0, "sgd_step before any forward_backward");
        omp_set_num_threads(threads);
        for (auto* p : params)
            sgd_update(p->p, p->grad.data(), p->mom.data(), p->numel, lr, momentum, weight_decay, nesterov, !momentum_set);
        momentum_set = true;
    }

    int64_t estimate_bytes(int64_t n) const override {
        Needs nd = needs(n);
        size_t f = act_floats(n, false) + act_floats(n, true) + nd.chunk + nd.bpre + nd.b + nd.db + nd.da + nd.fresh + nd.own;
        for (auto* p : params) f += 2 * static_cast<size_t>(p->numel);
        return static_cast<int64_t>(f * sizeof(float));
    }

    int64_t param_count() const override { return static_cast<int64_t>(params.size()); }
    std::string param_name(int64_t i) const override { return params[i]->name; }
    int64_t param_numel(int64_t i) const override { return params[i]->numel; }
    void read_grad(const std::string& name, float* out) const override {
        Param* p = param(name);
        std::memcpy(out, p->grad.data(), static_cast<size_t>(p->numel) * sizeof(float));
    }
    void read_momentum(const std::string& name, float* out) const override {
        Param* p = param(name);
        std::memcpy(out, p->mom.data(), static_cast<size_t>(p->numel) * sizeof(float));
    }
    void write_momentum(const std::string& name, const float* in) override {
        Param* p = param(name);
        std::memcpy(p->mom.data(), in, static_cast<size_t>(p->numel) * sizeof(float));
    }
    bool has_momentum() const override { return momentum_set; }
    void set_has_momentum(bool on) override { momentum_set = on; }
    void sync_weights() override {}  // the WeightStore is updated in place
    std::string describe() const override {
        std::ostringstream os;
        os << "cpu trainer, " << (naive ? "naive" : "efficient") << " memory, " << threads << " threads, batch " << ctx.n
           << "\n";
        for (auto& m : modules) os << "  " << m->describe() << "\n";
        return os.str();
    }

private:
    Plan plan;
    int threads = 1;
    bool naive = false;
    bool momentum_set = false;  // the momentum buffers hold state
    int classes = 0;
    std::vector<std::unique_ptr<cpu::Module>> modules;
    cpu::ToNhwc* to_nhwc = nullptr;
    std::vector<cpu::Param*> params;
    std::vector<std::unique_ptr<cpu::Param>> owned;
    std::vector<bool> is_block;  // per plan buffer: has a gradient buffer
    cpu::Ctx ctx;
    Buffer acts, grads, chunk, bpre, b, db, da, fresh, scratchpad;

    void build(WeightStore::Impl& w) {
        int layer = 0;
        is_block.assign(plan.buffers.size(), false);
        for (const PlanOp& op : plan.ops) {
            if (op.type == "to_nhwc") {
                auto m = std::make_unique<cpu::ToNhwc>(plan, op);
                to_nhwc = m.get();
                modules.push_back(std::move(m));
            } else if (op.type == "stem") {
                modules.push_back(std::make_unique<cpu::Stem>(plan, op, w, params, owned));
                is_block[plan.buffer_index(op.slice("dst").buf)] = true;
            } else if (op.type == "dense_layer") {
                modules.push_back(std::make_unique<cpu::DenseLayer>(plan, op, w, params, owned, layer++));
                is_block[plan.buffer_index(op.str("block"))] = true;
            } else if (op.type == "transition") {
                modules.push_back(std::make_unique<cpu::Transition>(plan, op, w, params, owned));
                is_block[plan.buffer_index(op.slice("src").buf)] = true;
                is_block[plan.buffer_index(op.slice("dst").buf)] = true;
            } else if (op.type == "head") {
                auto h = std::make_unique<cpu::Head>(plan, op, w, params, owned);
                classes = h->classes();
                is_block[plan.buffer_index(op.slice("src").buf)] = true;
                modules.push_back(std::move(h));
            } else {
                fail("plan line ", op.line, ": unknown training op '", op.type, "'");
            }
        }
        DN_CHECK(to_nhwc != nullptr && classes > 0, "a training plan needs to_nhwc and a head");
        for (auto* p : params) {
            p->grad.resize(static_cast<size_t>(p->numel));
            p->mom.resize(static_cast<size_t>(p->numel));
            std::fill(p->mom.data(), p->mom.data() + p->numel, 0.0f);
        }
    }

    cpu::Needs needs(int64_t n) const {
        cpu::Needs nd;
        for (auto& m : modules) m->needs(n, naive, nd);
        return nd;
    }

    size_t act_floats(int64_t n, bool grads_only) const {
        size_t s = 0;
        for (size_t i = 0; i < plan.buffers.size(); i++)
            if (!grads_only || is_block[i]) s += static_cast<size_t>(n * plan.buffers[i].pixels() * plan.buffers[i].c);
        return s;
    }

    void prepare(int64_t n) {
        ctx.n = 0;
        check_buffer_elements(plan, n);
        ctx.naive = naive;
        acts.resize(act_floats(n, false));
        grads.resize(act_floats(n, true));
        ctx.act.assign(plan.buffers.size(), nullptr);
        ctx.grad.assign(plan.buffers.size(), nullptr);
        size_t ao = 0, go = 0;
        for (size_t i = 0; i < plan.buffers.size(); i++) {
            size_t f = static_cast<size_t>(n * plan.buffers[i].pixels() * plan.buffers[i].c);
            ctx.act[i] = acts.data() + ao;
            ao += f;
            if (is_block[i]) {
                ctx.grad[i] = grads.data() + go;
                go += f;
            }
        }
        cpu::Needs nd = needs(n);
        chunk.resize(nd.chunk);
        bpre.resize(nd.bpre);
        b.resize(nd.b);
        db.resize(nd.db);
        da.resize(nd.da);
        fresh.resize(nd.fresh);
        ctx.chunk = chunk.data();
        ctx.bpre = bpre.data();
        ctx.b = b.data();
        ctx.db = db.data();
        ctx.da = da.data();
        ctx.fresh = fresh.data();
        ctx.n = n;
        size_t sp = 0;
        try {
            for (auto& m : modules) m->prepare(ctx, sp);
        } catch (...) {
            ctx.n = 0;
            throw;
        }
        scratchpad.resize(sp / sizeof(float) + 16);
        ctx.scratchpad = scratchpad.data();
    }

    cpu::Param* param(const std::string& name) const {
        for (auto* p : params)
            if (p->name == name) return p;
        fail("the trainer has no parameter '", name, "'");
    }
};

}  // namespace
}  // namespace cpu

struct Trainer::Impl {
    std::unique_ptr<TrainBackend> backend;  // cpu::CpuTrainer, or the CUDA library's trainer
};

Trainer::Trainer(const std::string& plan_text, WeightStore* weights, const std::string& device, int threads,
                 const std::string& memory)
    : Trainer(plan_text, weights, device, threads, memory, "") {}

Trainer::Trainer(const std::string& plan_text, WeightStore* weights, const std::string& device, int threads,
                 const std::string& memory, const std::string& options)
    : impl(nullptr) {
    DN_CHECK(weights != nullptr, "Trainer needs a WeightStore");
    DN_CHECK(memory == "efficient" || memory == "naive", "memory mode must be efficient or naive, got '", memory, "'");
    CudaRuntime rt = cuda_runtime_for(device);
    DN_CHECK(device == "cpu" || rt.index >= 0, "unknown device '", device, "' (expected cpu, cuda or cuda:INDEX)");
    auto i = std::make_unique<Impl>();
    if (rt.index >= 0) {
        DN_CHECK(rt.make_trainer != nullptr, "device ", device, ": this CUDA backend cannot train (inference only)");
        Plan plan = Plan::parse(plan_text);
        // memory and device last: the caller's options cannot override them
        std::string opts = options + " memory=" + memory + " device=" + std::to_string(rt.index);
        i->backend.reset(rt.make_trainer(&plan, weights->impl, opts.c_str()));
    } else {
        DN_CHECK(options.empty() || options == "dtype=fp32", "device cpu trains in fp32 only (options '", options,
                 "'); fp16/bf16 training runs on CUDA");
        i->backend = std::make_unique<cpu::CpuTrainer>(plan_text, *weights->impl, threads, memory == "naive");
    }
    impl = i.release();
}

Trainer::~Trainer() { delete impl; }

double Trainer::forward_backward(const float* input, const int64_t* labels, int64_t n, uint64_t seed, float* logits) {
    DN_CHECK(input != nullptr && labels != nullptr, "forward_backward: null input or labels");
    DN_CHECK(n > 0, "forward_backward: batch size must be positive");
    return impl->backend->forward_backward(input, labels, n, seed, logits);
}
void Trainer::sgd_step(float lr, float momentum, float weight_decay, bool nesterov) {
    impl->backend->sgd_step(lr, momentum, weight_decay, nesterov);
}
int64_t Trainer::estimate_bytes(int64_t n) const { return impl->backend->estimate_bytes(n); }
int64_t Trainer::param_count() const { return impl->backend->param_count(); }
std::string Trainer::param_name(int64_t i) const {
    DN_CHECK(i >= 0 && i < param_count(), "parameter index out of range");
    return impl->backend->param_name(i);
}
int64_t Trainer::param_numel(int64_t i) const {
    DN_CHECK(i >= 0 && i < param_count(), "parameter index out of range");
    return impl->backend->param_numel(i);
}
void Trainer::read_grad(const std::string& name, float* out) const { impl->backend->read_grad(name, out); }
void Trainer::read_momentum(const std::string& name, float* out) const { impl->backend->read_momentum(name, out); }
void Trainer::write_momentum(const std::string& name, const float* in) { impl->backend->write_momentum(name, in); }
bool Trainer::has_momentum() const { return impl->backend->has_momentum(); }
void Trainer::set_has_momentum(bool on) { impl->backend->set_has_momentum(on); }
void Trainer::sync_weights() { impl->backend->sync_weights(); }
std::string Trainer::describe() const { return impl->backend->describe(); }

}  // namespace dn4j
