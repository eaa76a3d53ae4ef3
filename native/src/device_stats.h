// The CUDA reduction of SPEC §1, as seen from C++ (engine.cpp). Implemented in
// native/cuda/row_stats.cu and compiled in only when PANSCORE_WITH_CUDA is defined; this header
// deliberately includes no CUDA header, so plain C++ translation units can call it.
//
// The logits stay in device memory: per row only the ps_token_stats (24 bytes) and the optional
// top-k (8 bytes per entry) cross to the host.
#pragma once

#include "panscore.h"

#include <cstdint>

namespace panscore {
namespace cuda {

// The largest top_k the device reduction selects (one block per row keeps the k candidates in
// shared memory and sorts them by counting). Larger k is rejected with PS_ERR_INVALID_ARGUMENT.
constexpr int32_t MAX_TOP_K = 64;

// Reduces n_rows rows of n_vocab F32 logits that live in CUDA device memory.
//
//   d_logits          device pointer to row 0; row r starts at (const char *) d_logits + r * row_stride_bytes
//                     (any 4-byte-aligned stride >= 4 * n_vocab; rows need not be 16-byte aligned)
//   h_targets[r]      host array: the target token of row r, in [0, n_vocab)
//   h_dest[r]         host array: where row r's results go in the output arrays
//   inv_temperature   1 / T, multiplied into every logit (in fp32, as the CPU reduction does)
//   top_k             0 .. MAX_TOP_K
//   h_out_stats       host array indexed by dest; h_out_stats[h_dest[r]] receives row r's statistics
//   h_topk_ids, h_topk_logprobs
//                     host arrays indexed by dest * top_k (may be NULL when top_k == 0); entries
//                     beyond the row's finite logits get id -1 and log-prob -inf, like the CPU path
//   bad_row           receives the index r of the first row that failed, else -1 (may be NULL)
//
// Returns PS_OK; PS_ERR_NAN_LOGITS when a row holds a NaN, a +inf (after scaling) or no finite
// logit (that row's outputs are not written, every other row's are); PS_ERR_INVALID_ARGUMENT for
// bad sizes, a NULL array or top_k > MAX_TOP_K; PS_ERR_TOKEN_OUT_OF_RANGE for a bad target;
// PS_ERR_BACKEND when d_logits is not CUDA device memory or a CUDA call fails;
// PS_ERR_OUT_OF_MEMORY when scratch memory cannot be allocated. Every failure sets the thread's
// message (panscore::fail). Never throws.
//
// Runs on a stream of its own (one per calling thread and device, created on first use) and waits
// for it before returning; the caller must have finished producing the logits (llama.cpp's
// scheduler synchronises the backend before it calls the eval callback).
int32_t reduce_rows(const float * d_logits, int64_t row_stride_bytes, int32_t n_rows, int32_t n_vocab,
                    const int32_t * h_targets, const int64_t * h_dest, float inv_temperature, int32_t top_k,
                    ps_token_stats * h_out_stats, int32_t * h_topk_ids, float * h_topk_logprobs,
                    int32_t * bad_row) noexcept;

// Frees the calling thread's streams and scratch buffers now (they are otherwise freed when the
// thread exits). Safe to call at any time outside reduce_rows.
void release_thread_cache() noexcept;

} // namespace cuda
} // namespace panscore
