// Stand-alone device test of panscore::cuda::reduce_rows (native/cuda/row_stats.cu) against a
// float64 host reference of SPEC §1, on adversarial rows; no llama.cpp involved.
//
//   nvcc -arch=sm_90 -O3 -std=c++17 -Xcompiler -fopenmp -I native/include -I native/src
//        native/cuda/row_stats_test.cu native/cuda/row_stats.cu -o row_stats_test && ./row_stats_test
//
// Checks: logprob, entropy, argmax log-prob and top-k log-probs to relative 1e-5 (absolute 1e-5
// near zero; -inf must be -inf); rank, argmax id, target id and top-k ids exactly; the status and
// first bad row of each batch; that failed rows' outputs are left untouched; the argument checks.
// Then times 512 rows of 151,936 logits (one llama.cpp micro-batch over the Qwen2 vocabulary).
// Prints one line per case, a summary line, and exits 1 on any mismatch (2 without a GPU).
#include "device_stats.h"
#include "errors.h"
#include "row_stats_cases.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

// The pieces of errors.h that libpanscore's panscore.cpp provides, for this executable alone.
namespace panscore {
namespace {
thread_local std::string t_message;
}
int32_t fail(int32_t status, const char * fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t_message = buf;
    return status;
}
void clear_error() { t_message.clear(); }
const std::string & last_llama_error() {
    static const std::string none;
    return none;
}
} // namespace panscore

namespace {

using namespace ps_test;

#define CHECK_CUDA(call)                                                                         \
    do {                                                                                         \
        const cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) {                                                                 \
            std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, \
                         __LINE__, cudaGetErrorString(e_));                                      \
            std::exit(1);                                                                        \
        }                                                                                        \
    } while (0)

int g_failures = 0;
int g_cases = 0;
int g_rows_checked = 0;

void report(const std::string & name, const std::string & problem) {
    if (problem.empty()) {
        std::printf("  ok    %s\n", name.c_str());
    } else {
        ++g_failures;
        std::printf("  FAIL  %s: %s\n", name.c_str(), problem.c_str());
    }
    std::fflush(stdout);
}

// Runs the device reduction on b and checks every row against the reference.
void run(Batch & b) {
    ++g_cases;
    const size_t n = static_cast<size_t>(b.n_rows), k = static_cast<size_t>(b.k);
    const size_t floats = static_cast<size_t>(b.offset) + b.rows.size();
    float * d = nullptr;
    CHECK_CUDA(cudaMalloc(&d, std::max<size_t>(floats, 1) * sizeof(float)));
    if (!b.rows.empty()) {
        CHECK_CUDA(cudaMemcpy(d + b.offset, b.rows.data(), b.rows.size() * sizeof(float), cudaMemcpyHostToDevice));
    }
    std::vector<int64_t> dest(n);
    for (size_t r = 0; r < n; ++r) dest[r] = static_cast<int64_t>(b.reverse_dest ? n - 1 - r : r);

    // Sentinels: rows that fail must leave their outputs untouched.
    std::vector<ps_token_stats> stats(n);
    std::memset(stats.data(), 0xA5, n * sizeof(ps_token_stats));
    std::vector<int32_t> ids(n * k, 0x5A5A5A5A);
    std::vector<float> lps(n * k, 12345.0f);
    int32_t bad = -7;
    const int32_t st = panscore::cuda::reduce_rows(d + b.offset, static_cast<int64_t>(b.stride) * 4, b.n_rows, b.n_vocab,
                                                   b.targets.data(), dest.data(), b.inv_t, b.k, stats.data(),
                                                   k ? ids.data() : nullptr, k ? lps.data() : nullptr, &bad);
    CHECK_CUDA(cudaFree(d));

    std::vector<Ref> refs(n);
#pragma omp parallel for schedule(dynamic)
    for (long long r = 0; r < static_cast<long long>(n); ++r) {
        refs[static_cast<size_t>(r)] = reference(b.row(static_cast<int>(r)), b.n_vocab, b.targets[static_cast<size_t>(r)], b.inv_t, b.k);
    }
    int32_t want_status = PS_OK, want_bad = -1;
    for (size_t r = 0; r < n; ++r) {
        if (refs[r].status != PS_OK) { want_status = refs[r].status; want_bad = static_cast<int32_t>(r); break; }
    }

    std::string problem;
    if (st != want_status || bad != want_bad) {
        problem = fmt("status %d bad_row %d, expected %d and %d (%s)", st, bad, want_status, want_bad,
                      st == PS_OK || st == PS_ERR_NAN_LOGITS ? "" : panscore::t_message.c_str());
    }
    ps_token_stats sentinel;
    std::memset(&sentinel, 0xA5, sizeof sentinel);
    for (size_t r = 0; r < n && problem.empty(); ++r) {
        const Ref & ref = refs[r];
        const ps_token_stats & got = stats[static_cast<size_t>(dest[r])];
        if (ref.status != PS_OK) {
            if (std::memcmp(&got, &sentinel, sizeof got) != 0) problem = fmt("row %zu failed but its stats were written", r);
            continue;
        }
        ++g_rows_checked;
        const size_t at = static_cast<size_t>(dest[r]) * k;
        problem = compare_row(r, ref, got, b.targets[r], k ? ids.data() + at : nullptr, k ? lps.data() + at : nullptr, b.k);
    }
    report(b.label(), problem);
}

// A call that must be refused with `want` (no kernel runs).
void expect_status(const std::string & name, int32_t want, const std::function<int32_t()> & call) {
    ++g_cases;
    const int32_t st = call();
    report(fmt("%-46s -> status %d", name.c_str(), want),
           st == want ? "" : fmt("status %d (%s)", st, panscore::t_message.c_str()));
}

// ---- the cases -----------------------------------------------------------------------------------

void correctness() {
    all_cases([](Batch & b) { run(b); }, /*small=*/false);

    // Argument checks (nothing runs on the device).
    float * d = nullptr;
    CHECK_CUDA(cudaMalloc(&d, 64 * sizeof(float)));
    int32_t tgt[2] = {0, 1};
    int64_t dst[2] = {0, 1};
    ps_token_stats out[2];
    int32_t ids[2 * 65];
    float lps[2 * 65];
    int32_t bad = 0;
    expect_status("top_k 65 refused", PS_ERR_INVALID_ARGUMENT, [&] {
        return panscore::cuda::reduce_rows(d, 128, 2, 32, tgt, dst, 1.0f, 65, out, ids, lps, &bad);
    });
    expect_status("target out of range", PS_ERR_TOKEN_OUT_OF_RANGE, [&] {
        int32_t t2[2] = {0, 32};
        return panscore::cuda::reduce_rows(d, 128, 2, 32, t2, dst, 1.0f, 0, out, nullptr, nullptr, &bad);
    });
    expect_status("stride below the row size", PS_ERR_INVALID_ARGUMENT, [&] {
        return panscore::cuda::reduce_rows(d, 64, 2, 32, tgt, dst, 1.0f, 0, out, nullptr, nullptr, &bad);
    });
    expect_status("zero rows is a no-op", PS_OK, [&] {
        return panscore::cuda::reduce_rows(d, 128, 0, 32, tgt, dst, 1.0f, 0, out, nullptr, nullptr, &bad);
    });
    std::vector<float> host(64, 0.0f);
    expect_status("host pointer refused", PS_ERR_BACKEND, [&] {
        return panscore::cuda::reduce_rows(host.data(), 128, 2, 32, tgt, dst, 1.0f, 0, out, nullptr, nullptr, &bad);
    });
    CHECK_CUDA(cudaFree(d));
}

// Times the entry point (H2D targets, kernels, D2H results, scatter) on one llama.cpp
// micro-batch: 512 rows over the Qwen2 vocabulary.
void timing() {
    const int n_rows = 512, n_vocab = QWEN2_VOCAB;
    std::vector<float> rows(static_cast<size_t>(n_rows) * n_vocab);
    Rng rng(7);
    for (float & x : rows) x = static_cast<float>(3.0 * rng.gauss());
    float * d = nullptr;
    CHECK_CUDA(cudaMalloc(&d, rows.size() * sizeof(float)));
    CHECK_CUDA(cudaMemcpy(d, rows.data(), rows.size() * sizeof(float), cudaMemcpyHostToDevice));
    std::vector<int32_t> targets(n_rows);
    std::vector<int64_t> dest(n_rows);
    for (int r = 0; r < n_rows; ++r) { targets[r] = rng.below(n_vocab); dest[r] = r; }
    std::vector<ps_token_stats> stats(n_rows);
    std::vector<int32_t> ids(static_cast<size_t>(n_rows) * 64);
    std::vector<float> lps(static_cast<size_t>(n_rows) * 64);
    const double gb = static_cast<double>(rows.size()) * 4 / 1e9;
    for (int k : {0, 20, 64}) {
        int32_t bad = 0;
        auto call = [&] {
            const int32_t st = panscore::cuda::reduce_rows(d, static_cast<int64_t>(n_vocab) * 4, n_rows, n_vocab,
                                                           targets.data(), dest.data(), 1.0f, k, stats.data(),
                                                           ids.data(), lps.data(), &bad);
            if (st != PS_OK) {
                std::printf("  FAIL  timing k=%d: status %d %s\n", k, st, panscore::t_message.c_str());
                ++g_failures;
            }
        };
        call(); // warm-up (scratch allocation)
        const int reps = 20;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) call();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
        std::printf("  time  512 x %d rows, top-%-2d: %8.3f ms per call, %7.1f GB/s of logits, %8.0f rows/ms\n",
                    n_vocab, k, ms, gb / (ms / 1e3), n_rows / ms);
    }
    CHECK_CUDA(cudaFree(d));
}

} // namespace

int main(int argc, char ** argv) {
    int n_dev = 0;
    const cudaError_t err = cudaGetDeviceCount(&n_dev);
    if (err != cudaSuccess || n_dev == 0) {
        std::printf("row_stats_test: no CUDA device (%s)\n", err == cudaSuccess ? "0 devices" : cudaGetErrorString(err));
        return 2;
    }
    cudaDeviceProp prop{};
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("row_stats_test on %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    correctness();
    const bool skip_timing = argc > 1 && std::strcmp(argv[1], "--no-timing") == 0;
    if (!skip_timing) timing();
    panscore::cuda::release_thread_cache();
    std::printf("row_stats_test: %s: %d cases, %d rows checked against float64, %d failures\n",
                g_failures ? "FAIL" : "PASS", g_cases, g_rows_checked, g_failures);
    return g_failures ? 1 : 0;
}
