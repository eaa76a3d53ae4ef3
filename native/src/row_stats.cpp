// One pass over a logits row, block by block.
//
// The row (n_vocab floats, 600 KB at a 152k vocabulary) is read from memory exactly once. Each
// block of BLOCK logits is scaled into a small L1-resident buffer, where its maximum, its count of
// logits above the target, a NaN flag and its exp-sums are computed; the block sums are merged
// into the row's running sums in double, rescaled whenever a block raises the running maximum
// (the streaming log-sum-exp). Entropy is accumulated as S_d = sum e^(z-m)·(z-m) rather than
// sum e^(z-m)·z, so logits of ±1e4 do not cancel catastrophically:
//     logZ = m + log S,   H = log S - S_d / S,   logprob(y) = z_y - logZ.
#include "row_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace panscore {
namespace {

constexpr int32_t BLOCK = 1024; // 4 KB of floats: stays in L1 for the second look at the block

inline float bits_to_float(int32_t i) { float f; std::memcpy(&f, &i, sizeof f); return f; }
inline int32_t float_to_bits(float f) { int32_t i; std::memcpy(&i, &f, sizeof i); return i; }

// exp(x) for x <= 0, vectorisable (no libm call): Cody–Waite range reduction and the Cephes
// degree-6 polynomial, about 1 ulp. Arguments below -87.3 (where the result would be subnormal)
// give exactly 0, so masked (-inf) logits contribute nothing.
inline float exp_nonpositive(float x) {
    const float shifter = 12582912.0f; // 1.5 * 2^23: adding it rounds to an integer in the mantissa
    const bool underflow = x < -87.3f;
    x = underflow ? -87.3f : x;
    const float t = x * 1.44269504088896341f + shifter;
    const float k = t - shifter;
    const int32_t n = float_to_bits(t) - float_to_bits(shifter);
    const float r = (x - k * 0.693359375f) - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const float e = p * bits_to_float((n + 127) << 23);
    return underflow ? 0.0f : e;
}

// The k best (logit, id) pairs seen so far, as a min-heap on (logit desc, id asc).
class TopK {
public:
    explicit TopK(int32_t k) : k_(k) { heap_.reserve(static_cast<size_t>(k)); }

    // Smallest kept logit once full; -inf before, so everything is offered.
    float threshold() const {
        return static_cast<int32_t>(heap_.size()) < k_ ? -std::numeric_limits<float>::infinity()
                                                      : heap_.front().first;
    }

    // Ids arrive in increasing order, so a later equal logit never displaces an earlier one.
    void offer(float z, int32_t id) {
        if (static_cast<int32_t>(heap_.size()) < k_) {
            heap_.emplace_back(z, id);
            std::push_heap(heap_.begin(), heap_.end(), worse_first);
        } else if (z > heap_.front().first) {
            std::pop_heap(heap_.begin(), heap_.end(), worse_first);
            heap_.back() = {z, id};
            std::push_heap(heap_.begin(), heap_.end(), worse_first);
        }
    }

    // Writes the pairs best first; missing entries (k > finite logits) get id -1, -inf.
    void write(double log_z, int32_t * ids, float * logprobs) {
        std::sort(heap_.begin(), heap_.end(), better_first);
        for (int32_t i = 0; i < k_; ++i) {
            if (i < static_cast<int32_t>(heap_.size())) {
                ids[i] = heap_[i].second;
                logprobs[i] = static_cast<float>(static_cast<double>(heap_[i].first) - log_z);
            } else {
                ids[i] = -1;
                logprobs[i] = -std::numeric_limits<float>::infinity();
            }
        }
    }

private:
    using Entry = std::pair<float, int32_t>;
    static bool better_first(const Entry & a, const Entry & b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    }
    // std heaps put the "largest" first; we want the worst kept entry there.
    static bool worse_first(const Entry & a, const Entry & b) { return better_first(a, b); }

    int32_t k_;
    std::vector<Entry> heap_;
};

} // namespace

int32_t reduce_row(const RowJob & job, int32_t n_vocab, float inv_t, int32_t top_k) {
    const float neg_inf = -std::numeric_limits<float>::infinity();
    const float pos_inf = std::numeric_limits<float>::infinity();
    const float z_target = job.row[job.target] * inv_t;
    if (std::isnan(z_target) || z_target == pos_inf) return PS_ERR_NAN_LOGITS;

    alignas(64) float buf[BLOCK];

    double m = neg_inf;  // running maximum
    double s = 0.0;      // sum e^(z - m)
    double sd = 0.0;     // sum e^(z - m) * (z - m)
    int64_t above = 0;   // #{v : z_v > z_target}
    int32_t argmax = -1;
    TopK topk(top_k);

    for (int32_t b0 = 0; b0 < n_vocab; b0 += BLOCK) {
        const int32_t nb = std::min(BLOCK, n_vocab - b0);
        const float * src = job.row + b0;

        float bmax = neg_inf;
        int32_t n_above = 0;
        int32_t n_nan = 0;
        // The reductions may be reordered (that is what lets them vectorise): a NaN that a
        // vector max would drop is counted in n_nan, and float sums are exact enough in blocks.
#pragma omp simd reduction(max : bmax) reduction(+ : n_above, n_nan)
        for (int32_t i = 0; i < nb; ++i) {
            const float z = src[i] * inv_t;
            buf[i] = z;
            bmax = z > bmax ? z : bmax;
            n_above += z > z_target;
            n_nan += (z != z) | (z == pos_inf); // NaN or +inf: no distribution
        }
        if (n_nan) return PS_ERR_NAN_LOGITS;
        above += n_above;
        if (bmax == neg_inf) continue; // a fully masked block adds nothing

        if (argmax < 0 || bmax > m) { // strictly greater: the lowest id wins ties
            for (int32_t i = 0; i < nb; ++i) {
                if (buf[i] == bmax) { argmax = b0 + i; break; }
            }
        }
        if (top_k > 0 && bmax > topk.threshold()) {
            for (int32_t i = 0; i < nb; ++i) {
                if (buf[i] > topk.threshold()) topk.offer(buf[i], b0 + i);
            }
        }

        float bs = 0.0f, bsd = 0.0f;
#pragma omp simd reduction(+ : bs, bsd)
        for (int32_t i = 0; i < nb; ++i) {
            float d = buf[i] - bmax;           // <= 0, -inf for masked logits
            d = d < -88.0f ? -88.0f : d;       // keeps e * d finite (e is then exactly 0)
            const float e = exp_nonpositive(d);
            bs += e;
            bsd += e * d;
        }

        if (s == 0.0) {
            m = bmax; s = bs; sd = bsd;
        } else if (bmax > m) {                 // rescale the running sums to the new maximum
            const double dm = m - bmax;
            const double sc = std::exp(dm);
            sd = sc * (sd + dm * s) + bsd;
            s = sc * s + bs;
            m = bmax;
        } else {                               // rescale the block's sums to the running maximum
            const double dm = static_cast<double>(bmax) - m;
            const double sc = std::exp(dm);
            sd += sc * (bsd + dm * bs);
            s += sc * bs;
        }
    }
    if (argmax < 0) return PS_ERR_NAN_LOGITS; // every logit was -inf: no distribution

    const double log_s = std::log(s);
    const double log_z = m + log_s;
    ps_token_stats & out = *job.stats;
    out.logprob = static_cast<float>(static_cast<double>(z_target) - log_z);
    out.entropy = static_cast<float>(std::max(0.0, log_s - sd / s));
    out.rank = static_cast<int32_t>(above + 1);
    out.argmax_id = argmax;
    out.argmax_logprob = static_cast<float>(-log_s);
    out.target_id = job.target;
    if (top_k > 0) topk.write(log_z, job.topk_ids, job.topk_logprobs);
    return PS_OK;
}

} // namespace panscore
