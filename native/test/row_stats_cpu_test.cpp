// The CPU row reduction (native/src/row_stats.cpp, unchanged) against the float64 reference of
// native/cuda/row_stats_cases.h, on the same adversarial batches the CUDA kernels are tested on,
// with a tolerance derived from the kernel's measured error (docs/TESTING.md) rather than a loose
// blanket 1e-4. No llama.cpp needed:
//
//   g++ -std=c++17 -O3 -march=native -fopenmp -I native/include -I native/src -I native/cuda
//       native/test/row_stats_cpu_test.cpp native/src/row_stats.cpp -o row_stats_cpu_test
//   ./row_stats_cpu_test            (the GPU test's batches: 152k vocabularies, up to 256 rows)
//   ./row_stats_cpu_test --small    (the emulator's smaller batches)
//   ./row_stats_cpu_test --fail-fast   (stop at the first failing batch: scripts/mutate-native.sh)
//
// Prints the largest error seen per field; exits 1 on any mismatch.
#include "row_stats.h"
#include "row_stats_cases.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace ps_test;

namespace {

// Measured (docs/TESTING.md): the kernel's worst error against float64 on these batches is
// 2.4e-7 x (1 + |value|) (about two float roundings of the result). The tolerance allows 10x that.
constexpr double TOL = 2.4e-6;

bool near(double got, double want) {
    if (std::isinf(want) || std::isnan(want)) return got == want;
    return std::fabs(got - want) <= TOL * (1.0 + std::fabs(want));
}

Tally g_tally("row_stats_cpu_test");
double g_err_lp = 0, g_err_h = 0, g_err_am = 0, g_err_top = 0; // largest |got - want| / (1 + |want|)

void track(double & worst, double got, double want) {
    if (std::isfinite(want)) worst = std::max(worst, std::fabs(got - want) / (1.0 + std::fabs(want)));
}

std::string compare(size_t r, const Ref & ref, const ps_token_stats & got, int32_t target, const int32_t * ids, const float * lps, int k) {
    track(g_err_lp, got.logprob, ref.logprob);
    track(g_err_h, got.entropy, ref.entropy);
    track(g_err_am, got.argmax_logprob, ref.argmax_logprob);
    if (!near(got.logprob, ref.logprob)) return fmt("row %zu logprob %.9g, want %.9g", r, got.logprob, ref.logprob);
    if (!near(got.entropy, ref.entropy)) return fmt("row %zu entropy %.9g, want %.9g", r, got.entropy, ref.entropy);
    if (!near(got.argmax_logprob, ref.argmax_logprob)) {
        return fmt("row %zu argmax_logprob %.9g, want %.9g", r, got.argmax_logprob, ref.argmax_logprob);
    }
    if (got.rank != ref.rank) return fmt("row %zu rank %d, want %d", r, got.rank, ref.rank);
    if (got.argmax_id != ref.argmax) return fmt("row %zu argmax %d, want %d", r, got.argmax_id, ref.argmax);
    if (got.target_id != target) return fmt("row %zu target_id %d, want %d", r, got.target_id, target);
    for (int j = 0; j < k; ++j) {
        track(g_err_top, lps[j], ref.lps[static_cast<size_t>(j)]);
        if (ids[j] != ref.ids[static_cast<size_t>(j)]) return fmt("row %zu top-k[%d] id %d, want %d", r, j, ids[j], ref.ids[static_cast<size_t>(j)]);
        if (!near(lps[j], ref.lps[static_cast<size_t>(j)])) {
            return fmt("row %zu top-k[%d] logprob %.9g, want %.9g", r, j, lps[j], ref.lps[static_cast<size_t>(j)]);
        }
    }
    return "";
}

void run(Batch & b) {
    ++g_tally.cases;
    const size_t n = static_cast<size_t>(b.n_rows), k = static_cast<size_t>(b.k);
    std::vector<ps_token_stats> stats(n);
    std::vector<int32_t> ids(n * k + 1, 0x5A5A5A5A);
    std::vector<float> lps(n * k + 1, 12345.0f);
    std::string problem;
    for (size_t r = 0; r < n && problem.empty(); ++r) {
        panscore::RowJob job{b.row(static_cast<int>(r)), b.targets[r], &stats[r], k ? ids.data() + r * k : nullptr,
                             k ? lps.data() + r * k : nullptr};
        const int32_t st = panscore::reduce_row(job, b.n_vocab, b.inv_t, b.k);
        const Ref ref = reference(b.row(static_cast<int>(r)), b.n_vocab, b.targets[r], b.inv_t, b.k);
        if (st != ref.status) {
            problem = fmt("row %zu status %d, want %d", r, st, ref.status);
        } else if (st == PS_OK) {
            ++g_tally.rows;
            problem = compare(r, ref, stats[r], b.targets[r], k ? ids.data() + r * k : nullptr, k ? lps.data() + r * k : nullptr, b.k);
        }
    }
    // reduce_rows (the OpenMP driver) reports the first failing row and still reduces the others
    std::vector<ps_token_stats> stats2(n);
    int32_t bad = -2;
    const int32_t st = panscore::reduce_rows(b.n_rows, b.n_vocab, b.inv_t, b.k, 2, [&](int32_t r) {
        return panscore::RowJob{b.row(r), b.targets[static_cast<size_t>(r)], &stats2[static_cast<size_t>(r)],
                                k ? ids.data() + static_cast<size_t>(r) * k : nullptr, k ? lps.data() + static_cast<size_t>(r) * k : nullptr};
    }, &bad);
    int32_t want_bad = -1, want_st = PS_OK;
    for (size_t r = 0; r < n; ++r) {
        const Ref ref = reference(b.row(static_cast<int>(r)), b.n_vocab, b.targets[r], b.inv_t, 0);
        if (ref.status != PS_OK) { want_bad = static_cast<int32_t>(r); want_st = ref.status; break; }
    }
    if (problem.empty() && (st != want_st || bad != want_bad)) {
        problem = fmt("reduce_rows status %d bad_row %d, want %d and %d", st, bad, want_st, want_bad);
    }
    for (size_t r = 0; r < n && problem.empty(); ++r) {
        if (std::memcmp(&stats[r], &stats2[r], sizeof(ps_token_stats)) != 0 &&
            reference(b.row(static_cast<int>(r)), b.n_vocab, b.targets[r], b.inv_t, 0).status == PS_OK) {
            problem = fmt("reduce_rows row %zu differs from reduce_row", r);
        }
    }
    g_tally.finish_case(b.label(), problem);
}

} // namespace

int main(int argc, char ** argv) {
    bool small = false;
    for (int i = 1; i < argc; ++i) {
        small |= std::string(argv[i]) == "--small";
        g_tally.fail_fast |= std::string(argv[i]) == "--fail-fast";
    }
    std::printf("row_stats_cpu_test: native/src/row_stats.cpp against float64 (tolerance %.1e x (1 + |value|))\n", TOL);
    g_tally.run_all([](Batch & b) { run(b); }, small);
    std::printf("row_stats_cpu_test: largest error / (1 + |value|): logprob %.2e, entropy %.2e, argmax logprob %.2e, top-k logprob %.2e\n",
                g_err_lp, g_err_h, g_err_am, g_err_top);
    return g_tally.finish();
}
