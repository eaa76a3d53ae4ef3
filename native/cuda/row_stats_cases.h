// Shared by the CUDA reduction's tests (row_stats_test.cu on a GPU, emu/row_stats_emu_test.cpp
// on a CPU): a float64 reference of SPEC §1, the comparison rules, and the adversarial batches.
// Host-only C++17.
#pragma once

#include "panscore.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace ps_test {

constexpr float INF = std::numeric_limits<float>::infinity();
constexpr float QNAN = std::numeric_limits<float>::quiet_NaN();
constexpr int QWEN2_VOCAB = 151936;

inline std::string fmt(const char * f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char * f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

// splitmix64: fast, seedable, good enough for test data.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); } // [0, 1)
    double gauss() {
        const double u = uniform() + 1e-300, v = uniform();
        return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
    }
    int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }
};

// ---- float64 reference (SPEC §1) ----------------------------------------------------------------

struct Ref {
    int32_t status = PS_OK;
    double logprob = 0, entropy = 0, argmax_logprob = 0;
    int32_t rank = 0, argmax = -1;
    std::vector<int32_t> ids;
    std::vector<double> lps;
};

// z = x * inv_t is rounded to fp32 first, as in both reductions, so that ranks, argmax and top-k
// ties are decided on the same values; everything after that is float64. A NaN, a +inf or a row
// without a finite logit is PS_ERR_NAN_LOGITS (the device reduction's rule).
inline Ref reference(const float * row, int n, int target, float inv_t, int k) {
    Ref ref;
    std::vector<float> z(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        volatile float p = row[i] * inv_t; // a plain fp32 product, never fused into anything
        z[static_cast<size_t>(i)] = p;
        if (!(p < INF)) ref.status = PS_ERR_NAN_LOGITS;
    }
    if (ref.status != PS_OK) return ref;
    float best = -INF;
    for (int i = 0; i < n; ++i) {
        if (z[static_cast<size_t>(i)] > best) { best = z[static_cast<size_t>(i)]; ref.argmax = i; }
    }
    if (ref.argmax < 0) { ref.status = PS_ERR_NAN_LOGITS; return ref; }
    const double m = best;
    double s = 0, sd = 0;
    int64_t above = 0;
    const float zt = z[static_cast<size_t>(target)];
    for (float zi : z) {
        above += zi > zt;
        if (zi == -INF) continue;
        const double d = static_cast<double>(zi) - m;
        const double e = std::exp(d);
        s += e;
        sd += e * d;
    }
    const double log_s = std::log(s), log_z = m + log_s;
    ref.logprob = static_cast<double>(zt) - log_z;
    ref.entropy = std::max(0.0, log_s - sd / s);
    ref.argmax_logprob = -log_s;
    ref.rank = static_cast<int32_t>(above + 1);
    if (k > 0) {
        std::vector<int32_t> cand;
        for (int i = 0; i < n; ++i) {
            if (z[static_cast<size_t>(i)] > -INF) cand.push_back(i);
        }
        const size_t kk = std::min(cand.size(), static_cast<size_t>(k));
        std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(kk), cand.end(), [&](int a, int b) {
            const float za = z[static_cast<size_t>(a)], zb = z[static_cast<size_t>(b)];
            return za > zb || (za == zb && a < b);
        });
        for (size_t j = 0; j < static_cast<size_t>(k); ++j) {
            ref.ids.push_back(j < kk ? cand[j] : -1);
            ref.lps.push_back(j < kk ? static_cast<double>(z[static_cast<size_t>(cand[j])]) - log_z : -INFINITY);
        }
    }
    return ref;
}

// Relative 1e-5, absolute 1e-5 near zero; infinities must match exactly.
inline bool close(double got, double want) {
    if (std::isinf(want) || std::isnan(want)) return got == want;
    return std::fabs(got - want) <= 1e-5 * std::max(1.0, std::fabs(want));
}

// "" when row r's results match the reference, else what differs.
inline std::string compare_row(size_t r, const Ref & ref, const ps_token_stats & got, int32_t target, const int32_t * ids,
                               const float * lps, int k) {
    if (!close(got.logprob, ref.logprob)) return fmt("row %zu logprob %.9g, want %.9g", r, got.logprob, ref.logprob);
    if (!close(got.entropy, ref.entropy)) return fmt("row %zu entropy %.9g, want %.9g", r, got.entropy, ref.entropy);
    if (!close(got.argmax_logprob, ref.argmax_logprob)) {
        return fmt("row %zu argmax_logprob %.9g, want %.9g", r, got.argmax_logprob, ref.argmax_logprob);
    }
    if (got.rank != ref.rank) return fmt("row %zu rank %d, want %d", r, got.rank, ref.rank);
    if (got.argmax_id != ref.argmax) return fmt("row %zu argmax %d, want %d", r, got.argmax_id, ref.argmax);
    if (got.target_id != target) return fmt("row %zu target_id %d, want %d", r, got.target_id, target);
    for (int j = 0; j < k; ++j) {
        if (ids[j] != ref.ids[static_cast<size_t>(j)]) {
            return fmt("row %zu top-k[%d] id %d, want %d", r, j, ids[j], ref.ids[static_cast<size_t>(j)]);
        }
        if (!close(lps[j], ref.lps[static_cast<size_t>(j)])) {
            return fmt("row %zu top-k[%d] logprob %.9g, want %.9g", r, j, lps[j], ref.lps[static_cast<size_t>(j)]);
        }
    }
    return "";
}

// ---- batches -------------------------------------------------------------------------------------

struct Batch {
    std::string name;
    int n_vocab = 0;
    int n_rows = 0;
    int stride = 0;      // floats between row starts (>= n_vocab)
    int offset = 0;      // floats before row 0 in the device allocation (misaligns every row)
    float inv_t = 1.0f;
    int k = 0;
    bool reverse_dest = false;
    std::vector<float> rows;      // n_rows * stride
    std::vector<int32_t> targets; // n_rows
    float * row(int r) { return rows.data() + static_cast<size_t>(r) * static_cast<size_t>(stride); }
    const float * row(int r) const { return rows.data() + static_cast<size_t>(r) * static_cast<size_t>(stride); }
    std::string label() const {
        return fmt("%-46s rows %4d  vocab %6d  k %2d  T %.3g", name.c_str(), n_rows, n_vocab, k, 1.0 / inv_t);
    }
};

inline Batch make(const std::string & name, int n_vocab, int n_rows, int k = 0, float inv_t = 1.0f) {
    Batch b;
    b.name = name;
    b.n_vocab = n_vocab;
    b.n_rows = n_rows;
    b.stride = n_vocab;
    b.k = k;
    b.inv_t = inv_t;
    b.rows.assign(static_cast<size_t>(n_rows) * static_cast<size_t>(n_vocab), 0.0f);
    b.targets.assign(static_cast<size_t>(n_rows), 0);
    return b;
}

// Sets every logit to f(row, id) and draws a random target per row.
inline void fill(Batch & b, Rng & rng, const std::function<float(int, int)> & f) {
    for (int r = 0; r < b.n_rows; ++r) {
        for (int i = 0; i < b.n_vocab; ++i) b.row(r)[i] = f(r, i);
        b.targets[static_cast<size_t>(r)] = rng.below(b.n_vocab);
    }
}

// Calls run(batch) on every adversarial batch. small: vocabularies of ~5k and few rows, for the
// CPU emulator; otherwise the Qwen2 vocabulary (151,936) and up to 256 rows.
inline void all_cases(const std::function<void(Batch &)> & run, bool small) {
    Rng rng(20260101);
    const int V = small ? 20011 : QWEN2_VOCAB; // 20011: the unrolled float4 loop runs too
    auto rows = [&](int n) { return small ? std::min(n, 3) : n; };

    { // typical LM rows
        Batch b = make("random N(0, 3^2)", V, rows(48));
        fill(b, rng, [&](int, int) { return static_cast<float>(3.0 * rng.gauss()); });
        run(b);
        b.name = "same rows, top-64, T=0.6, reversed dest";
        b.k = 64;
        b.inv_t = 1.0f / 0.6f;
        b.reverse_dest = true;
        run(b);
        b.name = "same rows, top-1, T=2";
        b.k = 1;
        b.inv_t = 0.5f;
        run(b);
    }
    { // peaked rows: one logit far above the rest (low entropy)
        Batch b = make("peaked (one logit +25), top-8", V, rows(16), 8);
        fill(b, rng, [&](int, int) { return static_cast<float>(rng.gauss()); });
        for (int r = 0; r < b.n_rows; ++r) {
            const int hot = rng.below(b.n_vocab);
            b.row(r)[hot] = 25.0f + static_cast<float>(r);
            if (r % 2) b.targets[static_cast<size_t>(r)] = hot;
        }
        run(b);
    }
    { // everything tied
        Batch b = make("all logits equal, top-64", V, rows(6), 64);
        fill(b, rng, [&](int r, int) { return static_cast<float>(r) - 2.0f; });
        run(b);
    }
    { // several ids share the maximum: the lowest id wins, top-k ties ordered by id
        Batch b = make("tied maxima at scattered ids, top-5", V, rows(8), 5);
        fill(b, rng, [&](int, int) { return static_cast<float>(rng.gauss()); });
        for (int r = 0; r < b.n_rows; ++r) {
            for (int id : {V - 936 - r, V / 30 + r, 7 + r, (V / 5) * 3}) b.row(r)[id] = 9.5f;
            b.targets[static_cast<size_t>(r)] = r % 2 ? (V / 5) * 3 : V - 936 - r;
        }
        run(b);
    }
    { // many ties at the k-th value
        Batch b = make("quantised logits (ties at the k-th), top-64", V, rows(8), 64);
        fill(b, rng, [&](int, int) { return std::round(static_cast<float>(2.0 * rng.gauss())) * 0.5f; });
        run(b);
    }
    { // extreme spreads: cancellation and underflow
        Batch b = make("uniform in [-1e4, 1e4], top-16", V, rows(8), 16);
        fill(b, rng, [&](int, int) { return static_cast<float>(2e4 * rng.uniform() - 1e4); });
        run(b);
        Batch c = make("only +-1e4, top-16", small ? 3001 : 50000, 4, 16);
        fill(c, rng, [&](int r, int i) { return (i * 7 + r) % 11 == 0 ? 1e4f : -1e4f; });
        run(c);
        Batch e = make("[-100, 100] at T=0.01 (spread 2e4)", 4096, 4, 4, 100.0f);
        fill(e, rng, [&](int, int) { return static_cast<float>(200.0 * rng.uniform() - 100.0); });
        run(e);
    }
    { // masked logits
        Batch b = make("half the logits -inf (targets too), top-64", V, rows(8), 64);
        fill(b, rng, [&](int, int) { return rng.uniform() < 0.5 ? -INF : static_cast<float>(2.0 * rng.gauss()); });
        for (int r = 0; r < b.n_rows; r += 2) b.row(r)[b.targets[static_cast<size_t>(r)]] = -INF; // logprob -inf
        run(b);
        Batch c = make("one finite logit per row, top-64", V, rows(6), 64);
        fill(c, rng, [&](int, int) { return -INF; });
        for (int r = 0; r < c.n_rows; ++r) {
            const int only = rng.below(c.n_vocab);
            c.row(r)[only] = static_cast<float>(r) * 3.0f - 7.0f;
            if (r % 2 == 0) c.targets[static_cast<size_t>(r)] = only;
        }
        run(c);
        Batch e = make("10 finite logits, top-64 (padded with -1/-inf)", small ? 3000 : 32000, 4, 64);
        fill(e, rng, [&](int, int) { return -INF; });
        for (int r = 0; r < e.n_rows; ++r) {
            for (int j = 0; j < 10; ++j) e.row(r)[rng.below(e.n_vocab)] = static_cast<float>(rng.gauss());
        }
        run(e);
    }
    { // signed zeros compare equal: ties by id
        Batch b = make("signed zeros at the top, top-4", 1000, 2, 4);
        fill(b, rng, [&](int, int) { return -1.0f - static_cast<float>(rng.uniform()); });
        for (int r = 0; r < b.n_rows; ++r) {
            b.row(r)[10] = -0.0f;
            b.row(r)[20] = 0.0f;
            b.row(r)[30] = -0.0f;
            b.targets[static_cast<size_t>(r)] = 20 + 10 * r;
        }
        run(b);
        // -0 before +0 and k = 1: the lower id wins although +0's bits order after -0's
        Batch c = make("signed zeros, -0 first, top-1", 1000, 1, 1);
        for (int i = 0; i < c.n_vocab; ++i) c.row(0)[i] = -1.0f - 0.001f * static_cast<float>(i % 97);
        c.row(0)[10] = -0.0f;
        c.row(0)[20] = 0.0f;
        c.targets[0] = 20;
        run(c);
    }
    { // orders that stress the running maximum and the selection
        Batch b = make("sorted ascending / descending, top-64", V, 2, 64);
        fill(b, rng, [&](int r, int i) { return static_cast<float>(r == 0 ? i : V - i) * 1e-3f; });
        run(b);
    }
    { // tiny magnitudes
        Batch b = make("subnormal and zero logits, top-3", 3000, 3, 3);
        fill(b, rng, [&](int, int) { return static_cast<float>(rng.uniform()) * 1e-40f; });
        run(b);
    }
    { // unaligned rows, odd sizes, padded strides (the padding is NaN and must never be read)
        std::vector<int> sizes = {1, 2, 3, 4, 5, 7, 31, 33, 1023, 2051, 4097};
        if (!small) { sizes.push_back(32001); sizes.push_back(QWEN2_VOCAB + 1); }
        for (int nv : sizes) {
            for (int offset = 0; offset < 4; offset += 3) {
                Batch b = make(fmt("n_vocab %d, offset %d, stride n+%d", nv, offset, nv % 3), nv, small ? 2 : 5,
                               std::min(64, nv + 2));
                b.stride = nv + nv % 3;
                b.offset = offset;
                b.rows.assign(static_cast<size_t>(b.n_rows) * static_cast<size_t>(b.stride), QNAN);
                fill(b, rng, [&](int, int) { return static_cast<float>(4.0 * rng.gauss()); });
                run(b);
            }
        }
    }
    { // failing rows: the status, the first bad row, and the other rows still reduced
        Batch b = make("NaN in rows 1 and 2 (bad_row 1)", V, 4, 10);
        fill(b, rng, [&](int, int) { return static_cast<float>(rng.gauss()); });
        b.row(1)[1234] = QNAN;
        for (int i = 0; i < b.n_vocab; ++i) b.row(2)[i] = QNAN;
        run(b);
        Batch c = make("NaN target logit only", 5000, 3);
        fill(c, rng, [&](int, int) { return static_cast<float>(rng.gauss()); });
        c.row(1)[c.targets[1]] = QNAN;
        run(c);
        Batch e = make("row 2 all -inf", 2000, 4, 4);
        fill(e, rng, [&](int r, int) { return r == 2 ? -INF : static_cast<float>(rng.gauss()); });
        run(e);
        Batch f = make("+inf logit in row 1", 2000, 3);
        fill(f, rng, [&](int, int) { return static_cast<float>(rng.gauss()); });
        f.row(1)[777] = INF;
        run(f);
        Batch g = make("3e38 overflows to +inf at T=0.5", 2000, 2, 0, 2.0f);
        fill(g, rng, [&](int, int) { return static_cast<float>(rng.gauss()); });
        g.row(0)[5] = 3e38f;
        run(g);
    }
    if (!small) { // many rows in one call: more blocks than SMs, scratch growth
        Batch b = make("256 rows, top-20, reversed dest", QWEN2_VOCAB, 256, 20);
        b.reverse_dest = true;
        fill(b, rng, [&](int r, int) { return static_cast<float>((1.0 + r % 5) * rng.gauss()); });
        run(b);
    }
}

// The bookkeeping of one test program over all_cases (the CPU and emulator tests share it): counts,
// one "ok"/"FAIL" line per batch, --fail-fast (scripts/mutate-native.sh stops at the first failure)
// and the closing PASS/FAIL line whose exit status the scripts read.
struct Tally {
    struct Stop {};
    const char * program;
    bool fail_fast = false;
    int failures = 0, cases = 0, rows = 0;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();

    explicit Tally(const char * name) : program(name) {}

    void finish_case(const std::string & label, const std::string & problem) {
        if (problem.empty()) {
            std::printf("  ok    %s\n", label.c_str());
        } else {
            ++failures;
            std::printf("  FAIL  %s: %s\n", label.c_str(), problem.c_str());
        }
        std::fflush(stdout);
        if (failures && fail_fast) throw Stop{};
    }

    void run_all(const std::function<void(Batch &)> & run, bool small) {
        try {
            all_cases(run, small);
        } catch (const Stop &) {
            std::printf("%s: stopped at the first failure (--fail-fast)\n", program);
        }
    }

    // Prints the summary line; returns the process exit status.
    int finish() const {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("%s: %s: %d cases, %d rows checked against float64, %d failures (%.1f s)\n", program,
                    failures ? "FAIL" : "PASS", cases, rows, failures, s);
        return failures ? 1 : 0;
    }
};

} // namespace ps_test
