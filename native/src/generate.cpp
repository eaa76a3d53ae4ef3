// Generation: the next token of sessions, sampled with llama.cpp's sampler chain, each carrying its
// statistics under the unmodified distribution.
//
// A session append is decoded like ps_session_decode's; after each llama_decode the logits row of
// every append's last token is read where llama.cpp left it on the host (llama_get_logits_ith).
// The sampler chain picks a token from a copy of that row (its truncations and temperature change
// the copy only); then the one fused reduction of row_stats runs on the untouched row with the
// picked token as the target: logprob, rank, entropy, argmax and top-k in one pass, nothing copied
// out of the library. Greedy rows skip the chain: the reduction's argmax is the token (rank 1).
#include "errors.h"
#include "internal.h"
#include "row_stats.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

struct ps_sampler {
    llama_sampler *               chain = nullptr; // nullptr: greedy
    ps_sampling_params            params{};
    std::vector<llama_token_data> cur;            // the candidates, one per vocabulary entry (reused)
};

namespace panscore {
namespace {

constexpr int64_t MAX_SEED = 4294967294LL; // 0xFFFFFFFF is llama.cpp's "random seed"

int32_t check_sampling_params(const ps_sampling_params & p) {
    if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
        return fail(PS_ERR_INVALID_ARGUMENT, "temperature must be a finite number >= 0 (0 = greedy), got %g", p.temperature);
    }
    if (!(p.top_p >= 0.0f && p.top_p <= 1.0f)) {
        return fail(PS_ERR_INVALID_ARGUMENT, "top_p must be in [0, 1] (0 or 1 = off), got %g", p.top_p);
    }
    if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) {
        return fail(PS_ERR_INVALID_ARGUMENT, "min_p must be in [0, 1) (0 = off), got %g", p.min_p);
    }
    if (p.top_k < 0) return fail(PS_ERR_INVALID_ARGUMENT, "top_k must be >= 0 (0 = off), got %d", p.top_k);
    if (p.seed < -1 || p.seed > MAX_SEED) {
        return fail(PS_ERR_INVALID_ARGUMENT, "seed must be in [0, %lld], or -1 for a random seed, got %lld", (long long) MAX_SEED,
                    (long long) p.seed);
    }
    return PS_OK;
}

// Picks a token from one row with the sampler's chain. The row is checked first (a NaN or +inf, or
// no finite logit at all, would make the draw meaningless): PS_ERR_NAN_LOGITS then.
int32_t sample_row(ps_sampler & s, const float * row, int32_t n_vocab, int32_t & token) {
    s.cur.resize(static_cast<size_t>(n_vocab));
    bool bad = false, any_finite = false;
    for (int32_t v = 0; v < n_vocab; ++v) {
        const float z = row[v];
        bad |= std::isnan(z) || z == std::numeric_limits<float>::infinity();
        any_finite |= std::isfinite(z);
        s.cur[static_cast<size_t>(v)] = llama_token_data{v, z, 0.0f};
    }
    if (bad || !any_finite) return PS_ERR_NAN_LOGITS;
    llama_token_data_array arr{s.cur.data(), s.cur.size(), -1, false};
    llama_sampler_apply(s.chain, &arr);
    if (arr.selected < 0 || static_cast<size_t>(arr.selected) >= arr.size) {
        return fail(PS_ERR_INTERNAL, "llama.cpp's sampler chain selected no token (index %lld of %zu)", (long long) arr.selected, arr.size);
    }
    token = arr.data[arr.selected].id;
    llama_sampler_accept(s.chain, token);
    return PS_OK;
}

// Validates a sampling call: slots in range and used once, positions within each slot, the
// context and the vocabulary respected.
int32_t check_sample_appends(const EngineAccess & a, const ps_append * appends, int32_t n) {
    if (appends == nullptr || n <= 0) return fail(PS_ERR_EMPTY_INPUT, "no appends to decode");
    llama_memory_t mem = llama_get_memory(a.ctx);
    std::vector<bool> seen(static_cast<size_t>(a.n_seq_max), false);
    for (int32_t i = 0; i < n; ++i) {
        const ps_append & ap = appends[i];
        if (ap.seq_id < 0 || ap.seq_id >= a.n_seq_max) {
            return fail(PS_ERR_INVALID_ARGUMENT, "append %d: slot %d is outside [0, %d)", i, ap.seq_id, a.n_seq_max);
        }
        if (seen[static_cast<size_t>(ap.seq_id)]) return fail(PS_ERR_INVALID_ARGUMENT, "append %d: slot %d appears twice in one call", i, ap.seq_id);
        seen[static_cast<size_t>(ap.seq_id)] = true;
        if (ap.tokens == nullptr || ap.n_tokens <= 0) return fail(PS_ERR_EMPTY_INPUT, "append %d has no tokens", i);
        const int32_t have = llama_memory_seq_pos_max(mem, ap.seq_id) + 1;
        if (ap.pos < 0 || ap.pos > have) {
            return fail(PS_ERR_INVALID_ARGUMENT, "append %d: slot %d holds %d tokens, so the append must start at a position in [0, %d], not %d",
                        i, ap.seq_id, have, have, ap.pos);
        }
        if (static_cast<int64_t>(ap.pos) + ap.n_tokens > a.n_ctx) {
            return fail(PS_ERR_CONTEXT_OVERFLOW, "append %d: slot %d would hold %lld tokens, more than the engine's context of %d", i,
                        ap.seq_id, (long long) ap.pos + ap.n_tokens, a.n_ctx);
        }
        for (int32_t t = 0; t < ap.n_tokens; ++t) {
            if (ap.tokens[t] < 0 || ap.tokens[t] >= a.n_vocab) {
                return fail(PS_ERR_TOKEN_OUT_OF_RANGE, "append %d, token %d: id %d is outside the vocabulary [0, %d)", i, t, ap.tokens[t],
                            a.n_vocab);
            }
        }
    }
    return PS_OK;
}

// The output rows of one decode: which append each belongs to and its index in the batch.
struct Row {
    int32_t append;
    int32_t batch_index;
    int32_t token;   // sampled token, -1 for greedy (taken from the reduction's argmax)
    const float * logits;
};

// Samples and reduces the rows of one decode; writes the caller's results.
int32_t finish_rows(const EngineAccess & a, std::vector<Row> & rows, ps_sampler * const * samplers, const ps_score_params & p,
                    ps_token_stats * out_stats, int32_t * out_topk_ids, float * out_topk_logprobs, int32_t * out_eog) {
    for (Row & r : rows) {
        r.logits = llama_get_logits_ith(a.ctx, r.batch_index);
        if (r.logits == nullptr) return fail(PS_ERR_INTERNAL, "llama.cpp returned no logits for batch index %d", r.batch_index);
        ps_sampler * s = samplers != nullptr ? samplers[r.append] : nullptr;
        r.token = -1;
        if (s != nullptr && s->chain != nullptr) {
            const int32_t st = sample_row(*s, r.logits, a.n_vocab, r.token);
            if (st == PS_ERR_NAN_LOGITS) {
                return fail(PS_ERR_NAN_LOGITS, "the model produced NaN logits (or no finite logit) after append %d", r.append);
            }
            if (st != PS_OK) return st;
        }
    }
    const int32_t k = p.top_k;
    int32_t bad = -1;
    const int32_t st = reduce_rows(static_cast<int32_t>(rows.size()), a.n_vocab, inverse_temperature(p), k, a.n_threads,
        [&](int32_t i) {
            const Row & r = rows[static_cast<size_t>(i)];
            return RowJob{r.logits, r.token >= 0 ? r.token : 0, out_stats + r.append,
                          k ? out_topk_ids + static_cast<int64_t>(r.append) * k : nullptr,
                          k ? out_topk_logprobs + static_cast<int64_t>(r.append) * k : nullptr};
        }, &bad);
    if (st == PS_ERR_NAN_LOGITS) {
        return fail(PS_ERR_NAN_LOGITS, "the model produced NaN logits (or no finite logit) after append %d", rows[static_cast<size_t>(bad)].append);
    }
    if (st != PS_OK) return fail(st, "out of memory while reducing the logits");
    for (const Row & r : rows) {
        ps_token_stats & out = out_stats[r.append];
        if (r.token < 0) { // greedy: the argmax, which has rank 1 (ties get the better rank)
            out.target_id = out.argmax_id;
            out.logprob = out.argmax_logprob;
            out.rank = 1;
        }
        if (out_eog != nullptr) out_eog[r.append] = llama_vocab_is_eog(a.vocab, out.target_id) ? 1 : 0;
    }
    return PS_OK;
}

} // namespace
} // namespace panscore

using namespace panscore;

extern "C" {

ps_sampling_params ps_sampling_default_params(void) {
    ps_sampling_params p{};
    p.temperature = 1.0f;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.top_k = 0;
    p.seed = -1;
    return p;
}

int32_t ps_sampler_create(const ps_sampling_params * params, ps_sampler ** out) {
    return guarded("ps_sampler_create", [&]() -> int32_t {
        if (out == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_sampler_create: out is NULL");
        *out = nullptr;
        const ps_sampling_params p = params ? *params : ps_sampling_default_params();
        int32_t st = check_sampling_params(p);
        if (st != PS_OK) return st;
        auto s = std::make_unique<ps_sampler>();
        s->params = p;
        if (p.temperature > 0.0f) {
            llama_sampler * chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
            if (chain == nullptr) return fail(PS_ERR_OUT_OF_MEMORY, "llama.cpp could not create a sampler chain");
            s->chain = chain; // owned from here: freed with the sampler if an add below throws
            // llama-server's order for these four: truncate (top-k, top-p, min-p), scale, draw
            if (p.top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(p.top_k));
            if (p.top_p > 0.0f && p.top_p < 1.0f) llama_sampler_chain_add(chain, llama_sampler_init_top_p(p.top_p, 1));
            if (p.min_p > 0.0f) llama_sampler_chain_add(chain, llama_sampler_init_min_p(p.min_p, 1));
            llama_sampler_chain_add(chain, llama_sampler_init_temp(p.temperature));
            llama_sampler_chain_add(chain, llama_sampler_init_dist(p.seed < 0 ? LLAMA_DEFAULT_SEED : static_cast<uint32_t>(p.seed)));
        }
        *out = s.release();
        return PS_OK;
    });
}

void ps_sampler_free(ps_sampler * sampler) {
    if (sampler == nullptr) return;
    if (sampler->chain != nullptr) llama_sampler_free(sampler->chain);
    delete sampler;
}

int32_t ps_session_sample(ps_engine * engine, const ps_append * appends, int32_t n_appends, ps_sampler * const * samplers,
                          const ps_score_params * params, ps_token_stats * out_stats, int32_t * out_topk_ids,
                          float * out_topk_logprobs, int32_t * out_eog) {
    return guarded("ps_session_sample", [&]() -> int32_t {
        if (engine == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_session_sample: engine is NULL");
        const ps_score_params p = params ? *params : ps_score_default_params();
        const EngineAccess a = engine_access(*engine);
        int32_t st = check_score_params(p, a.n_vocab, "ps_session_sample", out_stats, out_topk_ids, out_topk_logprobs);
        if (st != PS_OK) return st;
        st = check_sample_appends(a, appends, n_appends);
        if (st != PS_OK) return st;

        llama_memory_t mem = llama_get_memory(a.ctx);
        auto undo = [&]() {
            for (int32_t i = 0; i < n_appends; ++i) llama_memory_seq_rm(mem, appends[i].seq_id, appends[i].pos, -1);
        };
        undo(); // an append that starts inside its slot replaces the slot's tail (a no-op otherwise)

        llama_batch & batch = *a.batch;
        const std::vector<int32_t> order = append_order(a.per_seq, appends, n_appends); // rows are read by batch index
        std::vector<Row> rows;
        int32_t next = 0;   // append being filled
        int32_t cursor = 0; // its next token
        try {
            while (next < n_appends) {
                batch.n_tokens = 0;
                rows.clear();
                while (next < n_appends && batch.n_tokens < a.n_batch) {
                    const ps_append & ap = appends[order[next]];
                    const int32_t k = batch.n_tokens++;
                    batch.token[k] = ap.tokens[cursor];
                    batch.pos[k] = ap.pos + cursor;
                    batch.n_seq_id[k] = 1;
                    batch.seq_id[k][0] = ap.seq_id;
                    const bool last = cursor == ap.n_tokens - 1;
                    batch.logits[k] = last;
                    if (last) {
                        rows.push_back(Row{order[next], k, -1, nullptr});
                        ++next;
                        cursor = 0;
                    } else {
                        ++cursor;
                    }
                }
                const int32_t ret = llama_decode(a.ctx, batch);
                if (ret != 0) {
                    undo();
                    if (ret == 1) {
                        return fail(PS_ERR_CAPACITY, "the KV cache (%d cells) has no room for these tokens; close or shorten sessions", a.n_ctx);
                    }
                    const std::string & why = last_llama_error();
                    return fail(PS_ERR_DECODE_FAILED, "llama_decode failed with code %d%s%s", ret, why.empty() ? "" : ": ", why.c_str());
                }
                st = finish_rows(a, rows, samplers, p, out_stats, out_topk_ids, out_topk_logprobs, out_eog);
                if (st != PS_OK) {
                    undo();
                    return st;
                }
            }
        } catch (...) { // leave the slots holding their first pos tokens (guarded turns it into a status)
            undo();
            throw;
        }
        return PS_OK;
    });
}

} // extern "C"
