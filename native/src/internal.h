// Definitions behind the opaque handles of panscore.h, shared by the translation units.
#pragma once

#include "panscore.h"

#include "llama.h"

#include <vector>

namespace panscore {

// Loads llama.cpp's backends and installs the log sink, once per process.
void ensure_backend();

// n when n > 0, else the number of hardware threads.
int32_t resolve_threads(int32_t n);

// Checks scoring parameters against a vocabulary and the output buffers they need; `where`
// names the caller in the message. The one check behind ps_score, ps_session_decode and
// ps_stats_compute.
int32_t check_score_params(const ps_score_params & p, int32_t n_vocab, const char * where, const ps_token_stats * out_stats,
                           const int32_t * out_topk_ids, const float * out_topk_logprobs);

// 1 / temperature, with 0 meaning 1.
inline float inverse_temperature(const ps_score_params & p) { return p.temperature == 0.0f ? 1.0f : 1.0f / p.temperature; }

// What generate.cpp needs of an engine (implemented in engine.cpp, which owns struct ps_engine).
struct EngineAccess {
    llama_context *     ctx;
    llama_batch *       batch;     // n_batch tokens, one sequence id per token
    const llama_vocab * vocab;
    int32_t             n_batch;
    int32_t             n_ctx;
    int32_t             n_seq_max;
    int32_t             n_vocab;
    int32_t             n_threads;
    bool                per_seq;   // one KV stream per slot (ps_engine_params.kv_per_seq)
};

// The order in which a session call puts its appends into the batch: as given, or by slot when
// `by_slot` (per-sequence KV streams: llama.cpp's split_equal puts only consecutive slots, with
// equal token counts, into one micro-batch).
std::vector<int32_t> append_order(bool by_slot, const ps_append * appends, int32_t n);

// The engine's context and batch for a decode whose logits are read back from llama.cpp's host
// output buffer (llama_get_logits_ith): the in-graph reduction is off and the samplers that skip
// llama.cpp's logits copy are detached.
EngineAccess engine_access(ps_engine & e);

} // namespace panscore

struct ps_model {
    llama_model *       model = nullptr;
    const llama_vocab * vocab = nullptr;
    ps_model_info       info{};
    int32_t             n_gpu_layers = 0; // as loaded: decides where the logits live
};
