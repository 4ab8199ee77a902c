#include "cudnn_graph.h"

#include <sstream>

namespace dn4j::cuda {
namespace {

// Tensor unique ids in every graph.
constexpr int64_t kX = 1, kW = 2, kY = 3, kBias = 4, kConvOut = 5, kBiased = 6;

/** Owns a backend descriptor; status errors are collected instead of thrown. */
struct Desc {
    cudnnBackendDescriptor_t d = nullptr;
    explicit Desc(cudnnBackendDescriptorType_t t, cudnnStatus_t* st) {
        if (*st == CUDNN_STATUS_SUCCESS) *st = cudnnBackendCreateDescriptor(t, &d);
    }
    ~Desc() {
        if (d) cudnnBackendDestroyDescriptor(d);
    }
    cudnnBackendDescriptor_t release() {
        auto r = d;
        d = nullptr;
        return r;
    }
    Desc(const Desc&) = delete;
    Desc& operator=(const Desc&) = delete;
};

struct Builder {
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    std::string where;

    void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a, cudnnBackendAttributeType_t t, int64_t count,
             const void* v, const char* what) {
        if (st != CUDNN_STATUS_SUCCESS) return;
        st = cudnnBackendSetAttribute(d, a, t, count, v);
        if (st != CUDNN_STATUS_SUCCESS) where = what;
    }
    void finalize(cudnnBackendDescriptor_t d, const char* what) {
        if (st != CUDNN_STATUS_SUCCESS) return;
        st = cudnnBackendFinalize(d);
        if (st != CUDNN_STATUS_SUCCESS) where = what;
    }
};

/** A 4-D tensor (dims in N, C, H, W order; strides of NHWC rows with `ldc` channels per pixel). */
void tensor(Builder& b, Desc& t, int64_t uid, cudnnDataType_t dt, int64_t n, int64_t c, int64_t h, int64_t w,
            int64_t ldc, bool is_virtual, int64_t align, const char* what) {
    int64_t dims[4] = {n, c, h, w};
    int64_t strides[4] = {h * w * ldc, 1, w * ldc, ldc};
    bool v = is_virtual;
    b.set(t.d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt, what);
    b.set(t.d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims, what);
    b.set(t.d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides, what);
    b.set(t.d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, what);
    b.set(t.d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align, what);
    if (is_virtual) b.set(t.d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v, what);
    b.finalize(t.d, what);
}

void pointwise_op(Builder& b, Desc& op, Desc& pw, cudnnPointwiseMode_t mode, Desc& x, Desc* bias, Desc& y,
                  const char* what) {
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    b.set(pw.d, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, what);
    b.set(pw.d, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, what);
    b.finalize(pw.d, what);
    b.set(op.d, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw.d, what);
    b.set(op.d, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x.d, what);
    if (bias) b.set(op.d, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &bias->d, what);
    b.set(op.d, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y.d, what);
    b.finalize(op.d, what);
}

std::string status_text(const Builder& b) {
    return std::string(cudnnGetErrorString(b.st)) + " at " + b.where;
}

}  // namespace

int64_t byte_alignment(const void* p, int64_t row_bytes) {
    uint64_t v = reinterpret_cast<uintptr_t>(p) | static_cast<uint64_t>(row_bytes) | 16;
    return static_cast<int64_t>(v & (~v + 1));  // the lowest set bit
}

GraphPlan::~GraphPlan() {
    if (plan_) cudnnBackendDestroyDescriptor(plan_);
}

cudnnStatus_t GraphPlan::run(cudnnHandle_t h, const void* x, const void* w, void* y, const void* bias, void* ws) const {
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &st);
    int64_t uids[4] = {kX, kW, kY, kBias};
    void* ptrs[4] = {const_cast<void*>(x), const_cast<void*>(w), y, const_cast<void*>(bias)};
    int64_t count = bias ? 4 : 3;
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, count, uids);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, count, ptrs);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendFinalize(pack.d);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendExecute(h, plan_, pack.d);
    return st;
}

std::vector<std::unique_ptr<GraphPlan>> graph_conv_plans(cudnnHandle_t h, const ConvSpec& s, int max_plans,
                                                         int64_t max_workspace, std::string* why) {
    std::vector<std::unique_ptr<GraphPlan>> out;
    Builder b;
    cudnnStatus_t& st = b.st;
    Desc x(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &st), w(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &st),
        y(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &st), bias(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &st),
        conv_out(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &st), biased(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &st),
        conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &st), conv_op(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, &st),
        add_pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, &st), add_op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, &st),
        relu_pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, &st), relu_op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, &st),
        graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &st), heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &st);
    if (st != CUDNN_STATUS_SUCCESS) {
        if (why) *why = std::string("cannot create descriptors: ") + cudnnGetErrorString(st);
        return out;
    }
    int64_t esize = s.dtype == CUDNN_DATA_FLOAT ? 4 : 2;
    tensor(b, x, kX, s.dtype, s.n, s.cin, s.h, s.w, s.x_ldc, false, s.x_align, "x tensor");
    tensor(b, w, kW, s.dtype, s.cout, s.cin, s.k, s.k, s.cin, false, byte_alignment(nullptr, s.cin * esize), "w tensor");
    tensor(b, y, kY, s.dtype, s.n, s.cout, s.ho, s.wo, s.y_ldc, false, s.y_align, "y tensor");
    if (s.bias_relu) {
        tensor(b, bias, kBias, CUDNN_DATA_FLOAT, 1, s.cout, 1, 1, s.cout, false, 16, "bias tensor");
        tensor(b, conv_out, kConvOut, CUDNN_DATA_FLOAT, s.n, s.cout, s.ho, s.wo, s.cout, true, 16, "conv output");
        tensor(b, biased, kBiased, CUDNN_DATA_FLOAT, s.n, s.cout, s.ho, s.wo, s.cout, true, 16, "biased output");
    }
    int64_t dims = 2, dil[2] = {1, 1}, str[2] = {s.stride, s.stride}, pad[2] = {s.pad, s.pad};
    cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    b.set(conv.d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "conv");
    b.set(conv.d, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode, "conv");
    b.set(conv.d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims, "conv");
    b.set(conv.d, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil, "conv");
    b.set(conv.d, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, str, "conv");
    b.set(conv.d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad, "conv");
    b.set(conv.d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad, "conv");
    b.finalize(conv.d, "conv");
    float alpha = 1.f, beta = 0.f;
    Desc& conv_y = s.bias_relu ? conv_out : y;
    b.set(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x.d, "conv op");
    b.set(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w.d, "conv op");
    b.set(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv_y.d, "conv op");
    b.set(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv.d, "conv op");
    b.set(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha, "conv op");
    b.set(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta, "conv op");
    b.finalize(conv_op.d, "conv op");
    std::vector<cudnnBackendDescriptor_t> ops{conv_op.d};
    if (s.bias_relu) {
        pointwise_op(b, add_op, add_pw, CUDNN_POINTWISE_ADD, conv_out, &bias, biased, "bias add");
        pointwise_op(b, relu_op, relu_pw, CUDNN_POINTWISE_RELU_FWD, biased, nullptr, y, "relu");
        ops.push_back(add_op.d);
        ops.push_back(relu_op.d);
    }
    b.set(graph.d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h, "graph");
    b.set(graph.d, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(ops.size()),
          ops.data(), "graph");
    b.finalize(graph.d, "graph");
    cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
    b.set(heur.d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph.d, "heuristics");
    b.set(heur.d, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm, "heuristics");
    b.finalize(heur.d, "heuristics");
    if (st != CUDNN_STATUS_SUCCESS) {
        if (why) *why = status_text(b);
        return out;
    }
    constexpr int kAsk = 16;
    std::vector<std::unique_ptr<Desc>> cfgs;
    std::vector<cudnnBackendDescriptor_t> raw;
    for (int i = 0; i < kAsk; i++) {
        cfgs.push_back(std::make_unique<Desc>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &st));
        raw.push_back(cfgs.back()->d);
    }
    int64_t got = 0;
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnBackendGetAttribute(heur.d, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, kAsk, &got,
                                      raw.data());
    if (st != CUDNN_STATUS_SUCCESS) {
        if (why) *why = std::string("heuristics results: ") + cudnnGetErrorString(st);
        return out;
    }
    std::ostringstream skipped;
    for (int64_t i = 0; i < got && static_cast<int>(out.size()) < max_plans; i++) {
        cudnnStatus_t es = CUDNN_STATUS_SUCCESS;
        Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &es);
        int64_t n_engine = 0;
        if (es == CUDNN_STATUS_SUCCESS)
            es = cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n_engine,
                                          &engine.d);
        int64_t index = -1, count = 0;
        cudnnBackendNumericalNote_t num[16];
        cudnnBackendBehaviorNote_t beh[16];
        int64_t n_num = 0, n_beh = 0;
        if (es == CUDNN_STATUS_SUCCESS)
            es = cudnnBackendGetAttribute(engine.d, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count, &index);
        if (es == CUDNN_STATUS_SUCCESS)
            cudnnBackendGetAttribute(engine.d, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE, 16, &n_num, num);
        if (es == CUDNN_STATUS_SUCCESS)
            cudnnBackendGetAttribute(engine.d, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE, 16, &n_beh, beh);
        if (es != CUDNN_STATUS_SUCCESS) continue;
        bool tensor_core = false, runtime = false;
        for (int64_t j = 0; j < n_num; j++) tensor_core |= num[j] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE;
        for (int64_t j = 0; j < n_beh; j++) runtime |= beh[j] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION;
        if ((s.strict_fp32 && s.dtype == CUDNN_DATA_FLOAT && tensor_core) || runtime) {
            skipped << " eng" << index << (runtime ? "(nvrtc)" : "(tf32)");
            continue;
        }
        Desc plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &es);
        if (es == CUDNN_STATUS_SUCCESS)
            es = cudnnBackendSetAttribute(plan.d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
        if (es == CUDNN_STATUS_SUCCESS)
            es = cudnnBackendSetAttribute(plan.d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                          &raw[i]);
        if (es == CUDNN_STATUS_SUCCESS) es = cudnnBackendFinalize(plan.d);
        int64_t ws = 0;
        if (es == CUDNN_STATUS_SUCCESS)
            es = cudnnBackendGetAttribute(plan.d, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &ws);
        if (es != CUDNN_STATUS_SUCCESS || ws > max_workspace) continue;
        std::ostringstream name;
        name << "graph eng" << index << (tensor_core ? " tensor-op" : "") << (s.bias_relu ? " fused bias-relu" : "");
        out.push_back(std::make_unique<GraphPlan>(plan.release(), ws, name.str()));
    }
    if (out.empty() && why) *why = "no usable engine among " + std::to_string(got) + skipped.str();
    return out;
}

}  // namespace dn4j::cuda
