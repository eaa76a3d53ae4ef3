// Device code of the CUDA reduction (SPEC §1); the host side is native/cuda/row_stats.cu.
// Kept apart, free of CUDA headers, so native/cuda/emu/ can run the same code on a CPU.
//
// Two kernels, one block per row:
//
//   row_stats_kernel  one streaming pass over the row. Each thread keeps an online log-sum-exp
//                     state (running max m, S = sum e^(z-m), Sd = sum e^(z-m)·(z-m)), the count of
//                     logits above the target, its argmax and a NaN/+inf flag; states are merged
//                     with warp shuffles, then across warps through shared memory. Sd rather than
//                     sum e^(z-m)·z: every term of Sd is <= 0, so the sum never cancels, even with
//                     logits of ±1e4, and
//                         logZ = m + log S,  H = log S - Sd / S,  logprob(y) = z_y - logZ.
//                     Loads are float4 on the 16-byte-aligned body of the row (scalar for the
//                     unaligned head and the tail), four float4 in flight per thread.
//   topk_kernel       only when top_k > 0: an exact radix select of the k-th largest logit over
//                     order-preserving 32-bit keys (four 8-bit digit passes, each a shared-memory
//                     histogram), one ordered collection pass (ties at the threshold go to the
//                     lowest ids, via a block-wide prefix count), and a counting sort of the <= 64
//                     winners. Cost: five more reads of the row (L2-resident when few rows run at
//                     once), independent of k and of the data, so adversarial rows (sorted,
//                     all-equal) cost the same as random ones.
//
// Accuracy: per-element exponentials use __expf (ex2.approx). Its relative error grows with the
// argument as |z-m|·2^-24, but the sums are weighted by e^(z-m), so the relative error of S and
// Sd is about 2^-24·(H + 1) plus a few ulp: < 1e-6 for any vocabulary up to 10^6 tokens. The rare
// rescalings and the merges use the accurate expf, and the final logs run in double.
//
// Temperature: z = x * inv_temperature in fp32 with __fmul_rn (never contracted into an FMA), so
// the ranks, argmax and top-k ties are decided on exactly the values the CPU reduction compares.
//
// Differences from the CPU reduction: a +inf logit (or one that overflows when scaled) makes the
// row an error (PS_ERR_NAN_LOGITS) here, where the CPU code would return NaN statistics.
#pragma once

#include "device_stats.h" // MAX_TOP_K, ps_token_stats

#include <climits>
#include <cmath>
#include <cstdint>

static_assert(sizeof(ps_token_stats) == 24, "ps_token_stats layout changed: update the device code");

namespace panscore {
namespace cuda {
namespace {

constexpr int STATS_THREADS = 512; // 16 warps: enough loads in flight for one row per SM slot
constexpr int TOPK_THREADS = 512;
constexpr int UNROLL = 4;          // float4 loads issued per thread before they are consumed
constexpr unsigned FULL_MASK = 0xffffffffu;
constexpr int32_t ROW_OK = 0;

// Merges the log-sum-exp state (m2, s2, sd2) into (m, s, sd). m == -inf marks an empty state
// (no finite logit yet); then s == sd == 0. Symmetric in its two arguments up to the order of
// two additions, which IEEE makes exact, so butterfly shuffles give every lane the same bits.
__device__ __forceinline__ void lse_merge(float & m, float & s, float & sd, float m2, float s2, float sd2) {
    if (m2 == -INFINITY) return;
    if (m == -INFINITY) {
        m = m2; s = s2; sd = sd2;
        return;
    }
    const float mm = fmaxf(m, m2);
    const float d1 = m - mm, d2 = m2 - mm; // <= 0, finite
    const float c1 = expf(d1), c2 = expf(d2);
    sd = c1 * fmaf(d1, s, sd) + c2 * fmaf(d2, s2, sd2); // rescale e^(z-m)(z-m) to the new max
    s = c1 * s + c2 * s2;
    m = mm;
}

__device__ __forceinline__ bool better(float z, int id, float bz, int bid) {
    return z > bz || (z == bz && id < bid); // the lowest id wins ties
}

// One thread's share of a row.
struct RowAcc {
    float m = -INFINITY; // running max of the finite logits seen
    float s = 0.0f;      // sum e^(z - m)
    float sd = 0.0f;     // sum e^(z - m) * (z - m), every term <= 0
    int above = 0;       // #{z > z_target}
    float bz = -INFINITY;
    int bid = INT_MAX;   // argmax so far; INT_MAX = none (every logit -inf)
    bool bad = false;    // a NaN or +inf was seen
    float zt;            // the target's scaled logit
    float inv_t;

    __device__ __forceinline__ void look(float z, int id) {
        bad |= !(z < INFINITY); // NaN and +inf both fail this
        above += z > zt;
        if (better(z, id, bz, bid)) { bz = z; bid = id; }
    }
    __device__ __forceinline__ void raise_max(float mx) { // mx > m
        if (m > -INFINITY) {
            const float dm = m - mx;
            const float c = expf(dm);
            sd = c * fmaf(dm, s, sd);
            s *= c;
        }
        m = mx;
    }
    __device__ __forceinline__ void add(float z) { // m is finite here
        // -inf logits give d = -inf; the clamp keeps e·d finite (e is then exactly 0). A NaN is
        // swallowed by fmaxf, but the bad flag already holds it.
        const float d = fmaxf(z - m, -150.0f);
        const float e = __expf(d);
        s += e;
        sd = fmaf(e, d, sd);
    }
    __device__ __forceinline__ void push4(float4 q, int id0) {
        const float z0 = __fmul_rn(q.x, inv_t), z1 = __fmul_rn(q.y, inv_t);
        const float z2 = __fmul_rn(q.z, inv_t), z3 = __fmul_rn(q.w, inv_t);
        look(z0, id0); look(z1, id0 + 1); look(z2, id0 + 2); look(z3, id0 + 3);
        const float mx = fmaxf(fmaxf(z0, z1), fmaxf(z2, z3));
        if (mx > m) raise_max(mx); // one rescale per 4 logits at most, rare after the first few
        if (m > -INFINITY) { add(z0); add(z1); add(z2); add(z3); }
    }
    __device__ __forceinline__ void push1(float x, int id) {
        const float z = __fmul_rn(x, inv_t);
        look(z, id);
        if (z > m) raise_max(z);
        if (m > -INFINITY) add(z);
    }
    __device__ __forceinline__ void merge(const RowAcc & o) {
        lse_merge(m, s, sd, o.m, o.s, o.sd);
        above += o.above;
        bad |= o.bad;
        if (better(o.bz, o.bid, bz, bid)) { bz = o.bz; bid = o.bid; }
    }
    __device__ __forceinline__ void merge_from_lane(int offset) {
        RowAcc o;
        o.m = __shfl_xor_sync(FULL_MASK, m, offset);
        o.s = __shfl_xor_sync(FULL_MASK, s, offset);
        o.sd = __shfl_xor_sync(FULL_MASK, sd, offset);
        o.above = __shfl_xor_sync(FULL_MASK, above, offset);
        o.bz = __shfl_xor_sync(FULL_MASK, bz, offset);
        o.bid = __shfl_xor_sync(FULL_MASK, bid, offset);
        o.bad = __shfl_xor_sync(FULL_MASK, static_cast<int>(bad), offset) != 0;
        merge(o);
    }
};

__device__ __forceinline__ const float * row_ptr(const char * base, long long stride, int r) {
    return reinterpret_cast<const float *>(base + static_cast<long long>(r) * stride);
}

// Floats before the first 16-byte boundary of the row (rows are 4-byte aligned).
__device__ __forceinline__ int unaligned_head(const float * row, int n) {
    const int head = static_cast<int>(((16u - (reinterpret_cast<uintptr_t>(row) & 15u)) & 15u) >> 2);
    return head < n ? head : n;
}

// Statistics of row blockIdx.x: out[r], logz[r] (for the top-k kernel) and status[r].
__global__ void __launch_bounds__(STATS_THREADS)
row_stats_kernel(const char * __restrict__ logits, long long stride, int n_vocab, const int * __restrict__ targets,
                 float inv_t, ps_token_stats * __restrict__ out, double * __restrict__ logz,
                 int * __restrict__ status) {
    const int r = blockIdx.x;
    const int tid = threadIdx.x;
    const float * row = row_ptr(logits, stride, r);
    const int target = targets[r];

    RowAcc acc;
    acc.inv_t = inv_t;
    acc.zt = __fmul_rn(__ldg(row + target), inv_t); // same address for the whole block: one transaction

    const int head = unaligned_head(row, n_vocab);
    if (tid < head) acc.push1(__ldg(row + tid), tid);

    const float4 * body = reinterpret_cast<const float4 *>(row + head);
    const int n4 = (n_vocab - head) >> 2;
    int i = tid;
    for (; i + (UNROLL - 1) * STATS_THREADS < n4; i += UNROLL * STATS_THREADS) {
        float4 q[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) q[u] = __ldg(body + i + u * STATS_THREADS);
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) acc.push4(q[u], head + 4 * (i + u * STATS_THREADS));
    }
    for (; i < n4; i += STATS_THREADS) acc.push4(__ldg(body + i), head + 4 * i);

    const int tail = head + 4 * n4; // at most 3 floats left
    if (tail + tid < n_vocab) acc.push1(__ldg(row + tail + tid), tail + tid);

    // Warp, then block.
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) acc.merge_from_lane(off);

    constexpr int N_WARPS = STATS_THREADS / 32;
    __shared__ float sm_m[N_WARPS], sm_s[N_WARPS], sm_sd[N_WARPS], sm_bz[N_WARPS];
    __shared__ int sm_above[N_WARPS], sm_bid[N_WARPS], sm_bad[N_WARPS];
    const int warp = tid >> 5, lane = tid & 31;
    if (lane == 0) {
        sm_m[warp] = acc.m; sm_s[warp] = acc.s; sm_sd[warp] = acc.sd; sm_bz[warp] = acc.bz;
        sm_above[warp] = acc.above; sm_bid[warp] = acc.bid; sm_bad[warp] = acc.bad;
    }
    __syncthreads();
    if (warp != 0) return;
    RowAcc w;
    if (lane < N_WARPS) {
        w.m = sm_m[lane]; w.s = sm_s[lane]; w.sd = sm_sd[lane]; w.bz = sm_bz[lane];
        w.above = sm_above[lane]; w.bid = sm_bid[lane]; w.bad = sm_bad[lane] != 0;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) w.merge_from_lane(off);
    if (lane != 0) return;

    if (w.bad || w.m == -INFINITY) { // NaN / +inf, or every logit -inf: no distribution
        status[r] = PS_ERR_NAN_LOGITS;
        logz[r] = NAN;
        return;
    }
    const double log_s = log(static_cast<double>(w.s));
    const double log_z = static_cast<double>(w.m) + log_s;
    ps_token_stats o;
    o.logprob = static_cast<float>(static_cast<double>(acc.zt) - log_z);
    o.entropy = static_cast<float>(fmax(0.0, log_s - static_cast<double>(w.sd) / static_cast<double>(w.s)));
    o.rank = w.above + 1;
    o.argmax_id = w.bid;
    o.argmax_logprob = static_cast<float>(-log_s); // z[argmax] == m
    o.target_id = target;
    out[r] = o;
    logz[r] = log_z;
    status[r] = ROW_OK;
}

// A key whose unsigned order is the float order (-0.0 is folded into +0.0 first, because the two
// compare equal and ties must fall back to the id).
__device__ __forceinline__ unsigned order_key(float z) {
    if (z == 0.0f) z = 0.0f;
    const unsigned u = __float_as_uint(z);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Adds 1 to hist[bin] for every lane where `active`, with one shared atomic per distinct bin in
// the warp (rows with many equal logits would otherwise serialise on one address). All 32 lanes
// call it; inactive lanes join the match with a value no bin has.
__device__ __forceinline__ void hist_add(unsigned * hist, unsigned bin, bool active) {
    const unsigned peers = __match_any_sync(FULL_MASK, active ? bin : 0xffffffffu);
    if (active && (threadIdx.x & 31) == static_cast<unsigned>(__ffs(peers) - 1)) atomicAdd(hist + bin, __popc(peers));
}

// The top_k best (logit desc, id asc) entries of row blockIdx.x, skipping rows whose statistics
// failed. Candidates are the finite logits (> -inf), as on the CPU.
__global__ void __launch_bounds__(TOPK_THREADS)
topk_kernel(const char * __restrict__ logits, long long stride, int n_vocab, float inv_t, int k,
            const double * __restrict__ logz, const int * __restrict__ status, int * __restrict__ out_ids,
            float * __restrict__ out_lp) {
    const int r = blockIdx.x;
    if (status[r] != ROW_OK) return; // uniform across the block
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const float * row = row_ptr(logits, stride, r);

    __shared__ unsigned hist[256];
    __shared__ unsigned sh_bin, sh_cum_above, sh_kk;
    __shared__ unsigned sh_gt_taken;
    __shared__ unsigned sh_warp_eq[TOPK_THREADS / 32];
    __shared__ float sel_z[MAX_TOP_K];
    __shared__ int sel_id[MAX_TOP_K];

    // Radix select, most significant digit first: after pass p the top 8(p+1) bits of the k-th
    // largest key are known (prefix), and `remaining` is its rank among keys sharing that prefix.
    unsigned prefix = 0, prefix_mask = 0, remaining = 0;
    for (int pass = 0; pass < 4; ++pass) {
        const int shift = 24 - 8 * pass;
        for (int b = tid; b < 256; b += TOPK_THREADS) hist[b] = 0;
        __syncthreads();
        for (int base = 0; base < n_vocab; base += TOPK_THREADS) { // lanes stay converged for hist_add
            const int id = base + tid;
            unsigned key = 0;
            bool hit = false;
            if (id < n_vocab) {
                const float z = __fmul_rn(__ldg(row + id), inv_t);
                key = order_key(z);
                hit = z > -INFINITY && (key & prefix_mask) == prefix;
            }
            hist_add(hist, (key >> shift) & 255u, hit);
        }
        __syncthreads();
        if (warp == 0) {
            // Lane l owns bins [8l, 8l + 8); find the bin holding the `remaining`-th largest key.
            unsigned mine = 0;
#pragma unroll
            for (int j = 0; j < 8; ++j) mine += hist[8 * lane + j];
            unsigned incl = mine; // sum over lanes >= this one (bins from the top)
#pragma unroll
            for (int off = 1; off < 32; off <<= 1) {
                const unsigned v = __shfl_down_sync(FULL_MASK, incl, off);
                if (lane + off < 32) incl += v;
            }
            if (pass == 0) {
                const unsigned n_fin = __shfl_sync(FULL_MASK, incl, 0); // all candidates
                remaining = min(static_cast<unsigned>(k), n_fin);
                if (lane == 0) sh_kk = remaining;
            }
            const unsigned above = incl - mine;
            if (above < remaining && remaining <= incl) {
                unsigned cum = above;
                for (int j = 7; j >= 0; --j) {
                    const unsigned h = hist[8 * lane + j];
                    if (cum + h >= remaining) {
                        sh_bin = static_cast<unsigned>(8 * lane + j);
                        sh_cum_above = cum;
                        break;
                    }
                    cum += h;
                }
            }
        }
        __syncthreads();
        if (pass == 0) remaining = sh_kk;
        prefix |= sh_bin << shift;
        prefix_mask |= 255u << shift;
        remaining -= sh_cum_above;
        __syncthreads(); // sh_bin is rewritten next pass
    }
    const unsigned kk = sh_kk;             // min(k, number of finite logits)
    if (kk == 0) { // cannot happen for a row the statistics accepted; keeps the code below in bounds
        if (tid < k) {
            out_ids[static_cast<long long>(r) * k + tid] = -1;
            out_lp[static_cast<long long>(r) * k + tid] = -INFINITY;
        }
        return;
    }
    const unsigned kth = prefix;           // key of the kk-th best logit
    const unsigned need_eq = remaining;    // how many logits equal to it are in the top kk
    const unsigned n_gt = kk - need_eq;    // how many are strictly better

    // Collection, in id order: all keys > kth (any order), and the first need_eq keys == kth.
    if (tid == 0) sh_gt_taken = 0;
    __syncthreads();
    unsigned eq_seen = 0;
    for (int base = 0; base < n_vocab; base += TOPK_THREADS) {
        const int id = base + tid;
        float z = -INFINITY;
        bool gt = false, eq = false;
        if (id < n_vocab) {
            z = __fmul_rn(__ldg(row + id), inv_t);
            if (z > -INFINITY) {
                const unsigned key = order_key(z);
                gt = key > kth;
                eq = key == kth;
            }
        }
        if (gt) {
            const unsigned slot = atomicAdd(&sh_gt_taken, 1u);
            sel_z[slot] = z;
            sel_id[slot] = id;
        }
        const unsigned ball = __ballot_sync(FULL_MASK, eq);
        if (lane == 0) sh_warp_eq[warp] = __popc(ball);
        __syncthreads();
        unsigned before = 0, total = 0;
        for (int w = 0; w < TOPK_THREADS / 32; ++w) {
            const unsigned c = sh_warp_eq[w];
            before += w < warp ? c : 0;
            total += c;
        }
        if (eq) {
            const unsigned pos = eq_seen + before + __popc(ball & ((1u << lane) - 1u));
            if (pos < need_eq) {
                sel_z[n_gt + pos] = z;
                sel_id[n_gt + pos] = id;
            }
        }
        eq_seen += total;
        const unsigned gt_now = sh_gt_taken; // stable between the two barriers
        __syncthreads();
        if (gt_now == n_gt && eq_seen >= need_eq) break; // uniform: every thread read the same values
    }
    __syncthreads();

    // Counting sort of the kk winners by (logit desc, id asc); the keys are distinct (ids are).
    if (tid < k) {
        int * ids = out_ids + static_cast<long long>(r) * k;
        float * lps = out_lp + static_cast<long long>(r) * k;
        if (static_cast<unsigned>(tid) < kk) {
            const float z = sel_z[tid];
            const int id = sel_id[tid];
            int pos = 0;
            for (unsigned j = 0; j < kk; ++j) pos += better(sel_z[j], sel_id[j], z, id);
            ids[pos] = id;
            lps[pos] = static_cast<float>(static_cast<double>(z) - logz[r]);
        } else {
            ids[tid] = -1;
            lps[tid] = -INFINITY;
        }
    }
}

} // namespace
} // namespace cuda
} // namespace panscore
