// Arithmetic peak of this CPU per precision, for the "fraction of peak" figures in the README:
// register-only loops of independent multiply-adds (12 accumulators, enough to cover the latency
// of every unit measured), timed on each of T threads at once.
//
//   g++ -O3 -funroll-all-loops -fopenmp bench/peak/peak.cpp -o target/peak && target/peak [THREADS]
// (-O3 with unrolling keeps the 12 accumulators in registers; -O2 left them in memory: 3x lower)
//
// Prints one line per instruction this CPU has, e.g.
//   fp32 avx2 fma: 2 threads, 78.1 GFLOP/s per core, 156.2 in all
// Counts: an FMA is 2 FLOPs per lane; VPDPBF16PS 2 bf16 products + 2 adds per fp32 lane (4 ops);
// VPDPBUSD 4 u8 x s8 products + 4 adds per int32 lane (8 ops); AVX2's int8 sequence (VPMADDUBSW,
// VPMADDWD against ones, VPADDD) 4 products + 4 adds per int32 lane, for 3 instructions.
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace {

constexpr long kIters = 20'000'000;

template <typename F>
double timed(int threads, F body) {
    double worst = 0;
#pragma omp parallel num_threads(threads) reduction(max : worst)
    {
        auto t0 = std::chrono::steady_clock::now();
        body();
        worst = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return worst;
}

volatile float sink_f;
volatile int sink_i;

__attribute__((target("avx2,fma"))) void fma256() {
    __m256 a[12], b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(static_cast<float>(i));
    for (long it = 0; it < kIters; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    sink_f = _mm256_cvtss_f32(s);
}

__attribute__((target("avx2"))) void int8_avx2() {
    // each accumulator feeds its own next product (as uint8 bytes), so nothing is loop-invariant
    __m256i a[12], w = _mm256_set1_epi8(2), ones = _mm256_set1_epi16(1);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi32(i);
    for (long it = 0; it < kIters; it++)
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a[i], w), ones));
    __m256i s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_epi32(s, a[i]);
    sink_i = _mm256_extract_epi32(s, 0);
}

// The same with two VPMADDUBSW results summed in int16 (VPADDSW) before one VPMADDWD: 8 products
// a lane per 5 instructions, the form that saturates when activations use all 8 bits.
__attribute__((target("avx2"))) void int8_avx2_pairs() {
    __m256i a[12], w = _mm256_set1_epi8(2), ones = _mm256_set1_epi16(1);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi32(i);
    for (long it = 0; it < kIters; it++)
        for (int i = 0; i < 12; i++) {
            __m256i p = _mm256_adds_epi16(_mm256_maddubs_epi16(a[i], w), _mm256_maddubs_epi16(a[i], ones));
            a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(p, ones));
        }
    __m256i s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_epi32(s, a[i]);
    sink_i = _mm256_extract_epi32(s, 0);
}

__attribute__((target("avx512f"))) void fma512() {
    __m512 a[12], b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(static_cast<float>(i));
    for (long it = 0; it < kIters; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    sink_f = _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"))) void bf16_512() {
    __m512 a[12];
    __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3f80)), y = x;
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(static_cast<float>(i));
    for (long it = 0; it < kIters; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    sink_f = _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) void vnni_512() {
    __m512i a[12], u = _mm512_set1_epi8(3), w = _mm512_set1_epi8(2);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_epi32(i);
    for (long it = 0; it < kIters; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbusd_epi32(a[i], u, w);
    __m512i s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_epi32(s, a[i]);
    sink_i = _mm512_reduce_add_epi32(s);
}

void report(const char* what, int threads, double ops_per_iter_lane, int lanes, void (*f)()) {
    double secs = timed(threads, f);
    double per_core = ops_per_iter_lane * lanes * 12.0 * kIters / secs / 1e9;
    std::printf("%s: %d threads, %.1f GOP/s per core, %.1f in all\n", what, threads, per_core, per_core * threads);
}

}  // namespace

int main(int argc, char** argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_num_procs();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        report("fp32 avx2 fma (GFLOP/s)", threads, 2, 8, fma256);
        report("int8 avx2 vpmaddubsw+vpmaddwd+vpaddd", threads, 8, 8, int8_avx2);
        report("int8 avx2 2x vpmaddubsw+vpaddsw+vpmaddwd+vpaddd", threads, 16, 8, int8_avx2_pairs);
    }
    if (__builtin_cpu_supports("avx512f")) report("fp32 avx512 fma (GFLOP/s)", threads, 2, 16, fma512);
    if (__builtin_cpu_supports("avx512bf16")) report("bf16 avx512 vdpbf16ps", threads, 4, 16, bf16_512);
    if (__builtin_cpu_supports("avx512vnni")) report("int8 avx512 vpdpbusd", threads, 8, 16, vnni_512);
    return 0;
}
