// Runs the CUDA reduction's kernels (native/cuda/row_stats_kernels.cuh, unchanged) on the CPU
// through emu.h, on the adversarial batches of row_stats_cases.h (smaller vocabularies), and
// checks each row against the float64 reference. For machines without a GPU:
//
//   g++ -std=c++17 -O1 -ffp-contract=off -Wno-unknown-pragmas -I native/include -I native/src
//       -I native/cuda native/cuda/emu/row_stats_emu_test.cpp -o row_stats_emu_test
//   ./row_stats_emu_test          (vocabularies of ~20k, a few rows: about a minute)
//   ./row_stats_emu_test --full   (the GPU test's batches: 152k vocabularies, up to 256 rows; slow)
//   ./row_stats_emu_test --fail-fast   (stop at the first failing batch: scripts/mutate-native.sh)
//
// It tests the kernels' logic; native/cuda/row_stats_test.cu tests the real thing on a GPU
// (including the host code: streams, copies, scatter by destination).
#include "emu.h"

#include "row_stats_cases.h"
#include "row_stats_kernels.cuh"

#include <cstdio>
#include <string>
#include <vector>

using namespace ps_test;
namespace K = panscore::cuda;

namespace {

Tally g_tally("row_stats_emu_test");

void run(Batch & b) {
    ++g_tally.cases;
    const size_t n = static_cast<size_t>(b.n_rows), k = static_cast<size_t>(b.k);
    // The "device" buffer: the rows after `offset` floats, in a 16-byte-aligned allocation, so the
    // kernels see the same alignment as on the GPU.
    std::vector<float4> storage((static_cast<size_t>(b.offset) + b.rows.size()) / 4 + 2);
    float * base = reinterpret_cast<float *>(storage.data()) + b.offset;
    std::copy(b.rows.begin(), b.rows.end(), base);
    std::vector<int> targets(b.targets.begin(), b.targets.end());
    std::vector<ps_token_stats> stats(n);
    std::vector<double> logz(n);
    std::vector<int> status(n, -1);
    std::vector<int> ids(n * k, 0x5A5A5A5A);
    std::vector<float> lps(n * k, 12345.0f);
    const long long stride = static_cast<long long>(b.stride) * 4;

    emu::launch(K::row_stats_kernel, b.n_rows, K::STATS_THREADS, reinterpret_cast<const char *>(base), stride,
                b.n_vocab, targets.data(), b.inv_t, stats.data(), logz.data(), status.data());
    if (k) {
        emu::launch(K::topk_kernel, b.n_rows, K::TOPK_THREADS, reinterpret_cast<const char *>(base), stride, b.n_vocab,
                    b.inv_t, b.k, static_cast<const double *>(logz.data()), static_cast<const int *>(status.data()),
                    ids.data(), lps.data());
    }

    std::string problem;
    for (size_t r = 0; r < n && problem.empty(); ++r) {
        const Ref ref = reference(b.row(static_cast<int>(r)), b.n_vocab, b.targets[r], b.inv_t, b.k);
        const int want = ref.status == PS_OK ? 0 : ref.status;
        if (status[r] != want) {
            problem = fmt("row %zu status %d, want %d", r, status[r], want);
        } else if (want == 0) {
            ++g_tally.rows;
            problem = compare_row(r, ref, stats[r], b.targets[r], k ? ids.data() + r * k : nullptr,
                                  k ? lps.data() + r * k : nullptr, b.k);
        } else if (k && (ids[r * k] != 0x5A5A5A5A || lps[r * k] != 12345.0f)) {
            problem = fmt("row %zu failed but its top-k was written", r);
        }
    }
    g_tally.finish_case(b.label(), problem);
}

} // namespace

int main(int argc, char ** argv) {
    bool full = false;
    for (int i = 1; i < argc; ++i) {
        full |= std::string(argv[i]) == "--full";
        g_tally.fail_fast |= std::string(argv[i]) == "--fail-fast";
    }
    std::printf("row_stats_emu_test: the CUDA kernels on the CPU emulator (%d threads per block)\n", K::STATS_THREADS);
    g_tally.run_all([](Batch & b) { run(b); }, /*small=*/!full);
    return g_tally.finish();
}
