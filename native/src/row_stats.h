// The fused per-row reduction of SPEC §1: one streaming pass over a logits row gives the target
// log-prob, the full-vocabulary entropy, the rank, the argmax and (optionally) the top-k.
#pragma once

#include "panscore.h"

#include <cstdint>

namespace panscore {

// What one row reduction needs besides the row itself.
struct RowJob {
    const float * row;        // n_vocab logits (contiguous)
    int32_t       target;     // the token that actually follows, in [0, n_vocab)
    ps_token_stats * stats;   // where the result goes
    int32_t *     topk_ids;   // top_k entries, or nullptr when top_k == 0
    float *       topk_logprobs;
};

// Reduces one row. Returns PS_OK, or PS_ERR_NAN_LOGITS when the row holds a NaN or +inf, or has no
// finite entry. inv_temperature multiplies every logit (1/T).
int32_t reduce_row(const RowJob & job, int32_t n_vocab, float inv_temperature, int32_t top_k);

// Reduces n_rows rows on up to n_threads threads (OpenMP). job_at(r) must be cheap and
// thread-safe. Returns the first failing row's status (rows are all attempted), and that row's
// index in *bad_row.
template <typename JobAt>
int32_t reduce_rows(int32_t n_rows, int32_t n_vocab, float inv_temperature, int32_t top_k,
                    int32_t n_threads, const JobAt & job_at, int32_t * bad_row) {
    int32_t status = PS_OK;
    int32_t first_bad = -1;
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_rows > 1)
    for (int32_t r = 0; r < n_rows; ++r) {
        int32_t st;
        try { // an exception must not leave an OpenMP region (that terminates the process)
            st = reduce_row(job_at(r), n_vocab, inv_temperature, top_k);
        } catch (...) {
            st = PS_ERR_OUT_OF_MEMORY;
        }
        if (st != PS_OK) {
#pragma omp critical(panscore_bad_row)
            if (first_bad < 0 || r < first_bad) {
                first_bad = r;
                status = st;
            }
        }
    }
    if (bad_row) *bad_row = first_bad;
    return status;
}

} // namespace panscore
