// Engines: a llama.cpp context plus the machinery that packs sequences into decodes and reduces
// every logits row where llama.cpp computes it.
//
// The reduction runs inside llama.cpp's graph-evaluation callback (cb_eval): the scheduler asks
// about every node, we ask for `result_output` (the [n_vocab, n_outputs] logits of one
// micro-batch), and once it is computed we reduce its rows in place. With a unified KV cache
// llama.cpp splits a batch into micro-batches in order (split_simple), and output rows follow the
// batch's output tokens in order, so row i of the k-th callback of a decode is the decode's
// (rows seen so far + i)-th output token.
//
// Per-sequence KV (ps_engine_params.kv_per_seq = 1, llama.cpp's kv_unified = false): one KV
// stream per slot, so a packed token attends only over its own sequence's cells. llama.cpp then
// splits a batch per sequence (split_equal: consecutive slots, equal token counts per micro-batch),
// so the callback's rows are not in batch order; the rows are reduced after the decode from
// llama.cpp's host output buffer instead (reduce_output_rows), where llama_get_logits_ith maps a
// batch index to its row. Same floats, same reduction: the statistics are bit-identical to the
// in-graph reduction of the same rows. Each slot holds at most n_ctx_seq tokens (n_ctx / n_seq_max
// rounded up to 256 by llama.cpp); copying a prompt or a session to another slot copies the whole
// stream (llama.cpp refuses partial copies across streams), a memory copy done before the next
// decode. The GPU path is sketched in the note at the end of this file.
#include "errors.h"
#include "internal.h"
#include "row_stats.h"
#ifdef PANSCORE_WITH_CUDA
#include "device_stats.h"
#endif

#include "ggml-backend.h"
#include "ggml.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr int32_t DEFAULT_MAX_CTX = 4096;
constexpr int32_t DEFAULT_BATCH = 512;
constexpr int32_t DEFAULT_SEQ_MAX = 16;
// llama.cpp pads the attended KV span (n_kv) to a multiple of 256 cells (llama_kv_cache::get_n_kv)
constexpr int64_t KV_PAD = 256;
// how many pending jobs the packer looks past, per decode, for one that fits the unified KV span
constexpr int32_t MAX_PASSED_OVER = 64;

// A backend "sampler" that does nothing. Attaching one to every sequence makes llama.cpp believe
// all outputs are sampled on the backend, so it skips copying each logits row into its host
// output buffer (llama_context::decode, "extract logits"). Clearing data->logits keeps llama.cpp
// from copying the rows out as "sampled logits" instead.
bool skip_backend_init(llama_sampler *, ggml_backend_buffer_type_t, uint32_t) { return true; }
void skip_backend_apply(llama_sampler *, ggml_context *, ggml_cgraph *, llama_sampler_data * data) {
    data->logits = nullptr;
}
void skip_apply(llama_sampler *, llama_token_data_array *) {}
const char * skip_name(const llama_sampler *) { return "panscore-skip-logits-copy"; }

llama_sampler_i make_skip_iface() {
    llama_sampler_i iface{};
    iface.name = skip_name;
    iface.apply = skip_apply;
    iface.backend_init = skip_backend_init;
    iface.backend_apply = skip_backend_apply;
    return iface;
}
llama_sampler_i g_skip_iface = make_skip_iface();

} // namespace

struct ps_engine {
    ps_model *       model = nullptr;
    llama_context *  ctx = nullptr;
    llama_batch      batch{};
    ps_engine_params params{};
    int32_t          n_vocab = 0;
    bool             per_seq = false; // one KV stream per slot (params.kv_per_seq)
    int32_t          n_ctx_seq = 0;   // tokens one slot may hold: n_ctx (unified) or its stream's size

    // skip-copy samplers, one chain per sequence id, alive only while attached (fused scoring)
    std::vector<llama_sampler *> skip_chains;
    bool             skip_attached = false;

    // per-decode state read by the eval callback
    bool             fused = false;
    float            inv_t = 1.0f;
    int32_t          top_k = 0;
    std::vector<int32_t> row_target;   // target token of each output row of this decode
    std::vector<int64_t> row_dest;     // index of each output row in the caller's results
    std::vector<int32_t> row_batch;    // batch index of each output row
    size_t           rows_done = 0;
    int32_t          cb_status = PS_OK;
    int64_t          cb_bad_dest = -1;
    std::string      cb_error;
    ps_token_stats * out_stats = nullptr;
    int32_t *        out_topk_ids = nullptr;
    float *          out_topk_logprobs = nullptr;
};

namespace panscore {
namespace {

// Reduces the rows of one micro-batch's logits tensor.
void reduce_logits_tensor(ps_engine & e, const ggml_tensor * t) {
    if (e.cb_status != PS_OK) return;
    if (t->type != GGML_TYPE_F32 || t->ne[0] != e.n_vocab) {
        e.cb_status = PS_ERR_INTERNAL;
        e.cb_error = "result_output is not an F32 [n_vocab, n_outputs] tensor";
        return;
    }
    if (t->buffer == nullptr || !ggml_backend_buffer_is_host(t->buffer)) {
#ifdef PANSCORE_WITH_CUDA
        // Device memory (llama.cpp's CUDA backend): reduce the rows there and bring back only the
        // statistics. cuda::reduce_rows checks that the pointer really is CUDA memory.
        if (t->buffer != nullptr) {
            const int64_t n_dev_rows = t->ne[1];
            if (e.rows_done + static_cast<size_t>(n_dev_rows) > e.row_target.size()) {
                e.cb_status = PS_ERR_INTERNAL;
                e.cb_error = "llama.cpp produced more logits rows than outputs were requested";
                return;
            }
            const size_t row0 = e.rows_done;
            int32_t bad = -1;
            const int32_t st = cuda::reduce_rows(static_cast<const float *>(t->data), static_cast<int64_t>(t->nb[1]),
                                                 static_cast<int32_t>(n_dev_rows), e.n_vocab, e.row_target.data() + row0,
                                                 e.row_dest.data() + row0, e.inv_t, e.top_k, e.out_stats,
                                                 e.out_topk_ids, e.out_topk_logprobs, &bad);
            if (st == PS_ERR_NAN_LOGITS) {
                e.cb_status = st;
                e.cb_bad_dest = e.row_dest[row0 + static_cast<size_t>(bad)];
            } else if (st != PS_OK) {
                e.cb_status = st;
                e.cb_error = ps_last_error();
            }
            e.rows_done += static_cast<size_t>(n_dev_rows);
            return;
        }
#endif
        e.cb_status = PS_ERR_BACKEND;
        e.cb_error = "the logits live in device memory and this build has no device reduction "
                     "(build with -DPANSCORE_CUDA=ON)";
        return;
    }
    const int64_t n_rows = t->ne[1];
    if (e.rows_done + static_cast<size_t>(n_rows) > e.row_target.size()) {
        e.cb_status = PS_ERR_INTERNAL;
        e.cb_error = "llama.cpp produced more logits rows than outputs were requested";
        return;
    }
    const char * base = static_cast<const char *>(t->data);
    const size_t row0 = e.rows_done;
    const int32_t k = e.top_k;
    int32_t bad = -1;
    const int32_t st = reduce_rows(static_cast<int32_t>(n_rows), e.n_vocab, e.inv_t, k, e.params.n_threads,
        [&](int32_t r) {
            const int64_t dest = e.row_dest[row0 + r];
            return RowJob{reinterpret_cast<const float *>(base + r * t->nb[1]), e.row_target[row0 + r],
                          e.out_stats + dest, k ? e.out_topk_ids + dest * k : nullptr,
                          k ? e.out_topk_logprobs + dest * k : nullptr};
        }, &bad);
    if (st != PS_OK) {
        e.cb_status = st;
        e.cb_bad_dest = e.row_dest[row0 + bad];
        if (st != PS_ERR_NAN_LOGITS) e.cb_error = "out of memory while reducing the logits";
    }
    e.rows_done += static_cast<size_t>(n_rows);
}

bool eval_callback(ggml_tensor * t, bool ask, void * user_data) {
    auto & e = *static_cast<ps_engine *>(user_data);
    // with per-sequence streams the micro-batches do not follow the batch order: the rows are
    // read from llama.cpp's output buffer after the decode instead (reduce_output_rows)
    const bool is_logits = e.fused && !e.per_seq && std::strcmp(t->name, "result_output") == 0;
    if (ask) return is_logits;
    if (is_logits) {
        try {
            reduce_logits_tensor(e, t);
        } catch (...) { // never unwind through ggml's C code
            e.cb_status = PS_ERR_INTERNAL;
            e.cb_error = "exception in the logits reduction";
        }
    }
    return true; // never abort the graph: failures are reported after llama_decode returns
}

// Per-sequence KV streams: llama.cpp splits a batch per sequence (split_equal), so the rows of a
// micro-batch's result_output are not in batch order. After the decode llama.cpp has copied them
// into its host output buffer and maps batch indices to rows itself (llama_get_logits_ith), so the
// one reduction runs there, on the same floats: the statistics are bit-identical to the in-graph
// reduction's. On the CPU the copy costs nothing measurable (see BENCHMARKS); for a GPU see the
// design note at the end of this file.
void reduce_output_rows(ps_engine & e) {
    if (e.cb_status != PS_OK) return;
    const size_t n = e.row_batch.size();
    std::vector<const float *> rows(n);
    for (size_t r = 0; r < n; ++r) {
        rows[r] = llama_get_logits_ith(e.ctx, e.row_batch[r]);
        if (rows[r] == nullptr) {
            e.cb_status = PS_ERR_INTERNAL;
            e.cb_error = "llama.cpp returned no logits for batch index " + std::to_string(e.row_batch[r]);
            return;
        }
    }
    const int32_t k = e.top_k;
    int32_t bad = -1;
    const int32_t st = reduce_rows(static_cast<int32_t>(n), e.n_vocab, e.inv_t, k, e.params.n_threads,
        [&](int32_t r) {
            const int64_t dest = e.row_dest[static_cast<size_t>(r)];
            return RowJob{rows[static_cast<size_t>(r)], e.row_target[static_cast<size_t>(r)], e.out_stats + dest,
                          k ? e.out_topk_ids + dest * k : nullptr, k ? e.out_topk_logprobs + dest * k : nullptr};
        }, &bad);
    if (st != PS_OK) {
        e.cb_status = st;
        e.cb_bad_dest = e.row_dest[static_cast<size_t>(bad)];
        if (st != PS_ERR_NAN_LOGITS) e.cb_error = "out of memory while reducing the logits";
    }
    e.rows_done = n;
}

// What a sequence must fit in, for error messages.
const char * slot_context_name(const ps_engine & e) {
    return e.per_seq ? "one sequence slot's KV stream (per-sequence KV: about n_ctx / n_seq_max)" : "the engine's context";
}

// A fresh chain of the do-nothing sampler for one sequence id. llama.cpp initialises a chain for
// the backend once (a second backend_init asserts), so a chain is never attached twice: detaching
// frees the chains and the next attach makes new ones.
llama_sampler * make_skip_chain() {
    llama_sampler * chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(chain, llama_sampler_init(&g_skip_iface, nullptr));
    return chain;
}

void free_skip_chains(ps_engine & e) {
    for (llama_sampler * chain : e.skip_chains) llama_sampler_free(chain);
    e.skip_chains.clear();
}

int32_t set_skip_samplers(ps_engine & e, bool attach) {
    if (e.skip_attached == attach || (attach && e.params.skip_logits_copy == 0)) return PS_OK;
    if (!attach) {
        for (int32_t s = 0; s < e.params.n_seq_max; ++s) llama_set_sampler(e.ctx, s, nullptr);
        free_skip_chains(e);
        e.skip_attached = false;
        return PS_OK;
    }
    e.skip_attached = true; // set first: should attaching throw, a detach still clears every slot
    for (int32_t s = 0; s < e.params.n_seq_max; ++s) {
        e.skip_chains.push_back(make_skip_chain());
        if (!llama_set_sampler(e.ctx, s, e.skip_chains.back())) {
            for (int32_t u = 0; u <= s; ++u) llama_set_sampler(e.ctx, u, nullptr);
            free_skip_chains(e);
            e.skip_attached = false;
            e.params.skip_logits_copy = 0; // this backend refuses: fall back to llama.cpp's copy
            return PS_OK;
        }
    }
    return PS_OK;
}


// The scoring-parameter check of an engine call, plus what the device reduction can do.
int32_t check_engine_score_params(const ps_engine & e, const ps_score_params & p, const char * where, const ps_token_stats * out_stats,
                                  const int32_t * out_topk_ids, const float * out_topk_logprobs) {
#ifdef PANSCORE_WITH_CUDA
    // llama.cpp may compute the logits on the GPU even with no layers offloaded (it moves large
    // batches' output layer there), so a CUDA build always keeps within the device kernel's k,
    // checked before anything is decoded rather than in the middle of a decode.
    if (p.top_k > cuda::MAX_TOP_K) {
        return fail(PS_ERR_INVALID_ARGUMENT, "top_k must be at most %d in a CUDA build, got %d", cuda::MAX_TOP_K, p.top_k);
    }
#endif
    return check_score_params(p, e.n_vocab, where, out_stats, out_topk_ids, out_topk_logprobs);
}

// Arms the eval callback: from now on every logits row llama.cpp computes is reduced in place.
void begin_fused(ps_engine & e, const ps_score_params & p, ps_token_stats * out_stats, int32_t * out_topk_ids,
                 float * out_topk_logprobs) {
    set_skip_samplers(e, e.params.skip_logits_copy != 0);
    e.fused = true;
    e.inv_t = inverse_temperature(p);
    e.top_k = p.top_k;
    e.out_stats = out_stats;
    e.out_topk_ids = out_topk_ids;
    e.out_topk_logprobs = out_topk_logprobs;
    e.cb_status = PS_OK;
    e.cb_error.clear();
}

// Empties the batch and the per-row bookkeeping before filling a new decode.
void reset_batch(ps_engine & e) {
    e.batch.n_tokens = 0;
    e.row_target.clear();
    e.row_dest.clear();
    e.row_batch.clear();
    e.rows_done = 0;
}

struct SeqPlan {
    int64_t first_dest; // index of the sequence's first result
    int32_t n_decode;   // tokens to decode: [0, score_end - 1)
    int32_t group;      // index into Plan::groups, or -1
};

// A prefix shared by sequences of one call: decoded once into a holder slot, then copied.
struct GroupPlan {
    int32_t shared = 0;        // tokens decoded once: min(prefix_len, min score_begin) - 1
    int32_t leader = -1;       // the first member (its tokens hold the prefix)
    int32_t members = 0;       // members in this call
    int32_t admitted = 0;      // members given a slot so far
    int32_t finished = 0;      // members fully decoded
    int32_t holder = -1;       // slot holding the decoded prefix, -1 when none (yet / any more)
    bool    decoded = false;   // the prefix is in the KV cache
};

// One unit of decoding work: a sequence's own tokens, or a group's shared prefix.
struct Job {
    int32_t seq;    // sequence index, or -1 for a prefix job
    int32_t group;  // group index, or -1
    int32_t begin;  // first token to decode
    int32_t end;    // one past the last token to decode
};

struct Plan {
    std::vector<SeqPlan> seqs;
    std::vector<GroupPlan> groups;
    std::vector<Job> jobs; // in admission order
    int64_t n_rows = 0;
};

// Checks every sequence before anything is decoded and lays out where results go.
int32_t plan_sequences(const ps_engine & e, const ps_sequence * seqs, int32_t n_seqs, Plan & plan) {
    if (seqs == nullptr || n_seqs <= 0) return fail(PS_ERR_EMPTY_INPUT, "no sequences to score");
    plan.seqs.assign(static_cast<size_t>(n_seqs), SeqPlan{});
    plan.groups.clear();
    plan.jobs.clear();
    plan.n_rows = 0;
    std::vector<std::pair<int32_t, int32_t>> group_ids; // (prefix_group, index into plan.groups)
    for (int32_t i = 0; i < n_seqs; ++i) {
        const ps_sequence & s = seqs[i];
        if (s.n_tokens <= 0) return fail(PS_ERR_EMPTY_INPUT, "sequence %d is empty", i);
        if (s.tokens == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "sequence %d has no token array", i);
        if (s.n_tokens < 2) {
            return fail(PS_ERR_EMPTY_INPUT, "sequence %d has 1 token: nothing follows it to score (need >= 2)", i);
        }
        if (s.n_tokens > e.n_ctx_seq) {
            return fail(PS_ERR_CONTEXT_OVERFLOW, "sequence %d has %d tokens, more than %s of %d tokens",
                        i, s.n_tokens, slot_context_name(e), e.n_ctx_seq);
        }
        if (s.score_begin < 1 || s.score_end > s.n_tokens || s.score_begin >= s.score_end) {
            return fail(PS_ERR_EMPTY_INPUT,
                        "sequence %d: scoring range [%d, %d) is empty or outside [1, %d)", i, s.score_begin,
                        s.score_end, s.n_tokens);
        }
        for (int32_t t = 0; t < s.n_tokens; ++t) {
            if (s.tokens[t] < 0 || s.tokens[t] >= e.n_vocab) {
                return fail(PS_ERR_TOKEN_OUT_OF_RANGE, "sequence %d, position %d: token id %d is outside the vocabulary [0, %d)",
                            i, t, s.tokens[t], e.n_vocab);
            }
        }
        int32_t g = -1;
        if (s.prefix_group < 0) {
            return fail(PS_ERR_INVALID_ARGUMENT, "sequence %d: prefix_group must be >= 0 (0 = none), got %d", i, s.prefix_group);
        }
        if (s.prefix_group > 0) {
            if (s.prefix_len < 1 || s.prefix_len > s.n_tokens) {
                return fail(PS_ERR_INVALID_ARGUMENT, "sequence %d: prefix_len %d is outside [1, %d]", i, s.prefix_len, s.n_tokens);
            }
            for (const auto & [id, idx] : group_ids) {
                if (id == s.prefix_group) g = idx;
            }
            if (g < 0) {
                g = static_cast<int32_t>(plan.groups.size());
                group_ids.emplace_back(s.prefix_group, g);
                plan.groups.push_back(GroupPlan{});
                plan.groups[g].leader = i;
                plan.groups[g].shared = s.prefix_len;
            }
            const ps_sequence & lead = seqs[plan.groups[g].leader];
            if (lead.prefix_len != s.prefix_len) {
                return fail(PS_ERR_INVALID_ARGUMENT, "sequences %d and %d are in prefix group %d with different prefix_len (%d, %d)",
                            plan.groups[g].leader, i, s.prefix_group, lead.prefix_len, s.prefix_len);
            }
            for (int32_t t = 0; t < s.prefix_len; ++t) {
                if (s.tokens[t] != lead.tokens[t]) {
                    return fail(PS_ERR_INVALID_ARGUMENT,
                                "sequence %d is in prefix group %d but differs from sequence %d at position %d, inside the shared %d tokens",
                                i, s.prefix_group, plan.groups[g].leader, t, s.prefix_len);
                }
            }
            // the logits at prefix_len - 1 predict the first own token, so each member decodes
            // that token itself; a member scoring inside the prefix shrinks what can be shared
            plan.groups[g].shared = std::min(plan.groups[g].shared, s.score_begin);
            plan.groups[g].members++;
        }
        plan.seqs[i] = SeqPlan{plan.n_rows, s.score_end - 1, g};
        plan.n_rows += s.score_end - s.score_begin;
    }
    for (GroupPlan & grp : plan.groups) {
        grp.shared -= 1; // the last shared token is decoded by every member (see above)
    }
    // Drop groups that cannot save anything (one member, or nothing left to share).
    for (int32_t i = 0; i < n_seqs; ++i) {
        const int32_t g = plan.seqs[i].group;
        if (g >= 0 && (plan.groups[g].members < 2 || plan.groups[g].shared < 1 || e.params.n_seq_max < 2)) plan.seqs[i].group = -1;
    }
    // Admission order: longest first when no prefix group is shared (first-fit decreasing: a
    // decode's room is filled with the longest jobs that fit, and slots filled together hold
    // similar lengths, which keeps per-sequence micro-batches few, see run_decodes). Stable: equal
    // lengths keep the input order. With shared prefixes the input order stays (members follow
    // their prefix).
    bool any_group = false;
    for (const SeqPlan & sp : plan.seqs) any_group = any_group || sp.group >= 0;
    std::vector<int32_t> order(static_cast<size_t>(n_seqs));
    for (int32_t i = 0; i < n_seqs; ++i) order[static_cast<size_t>(i)] = i;
    if (!any_group) {
        std::stable_sort(order.begin(), order.end(),
                         [&](int32_t a, int32_t b) { return plan.seqs[a].n_decode > plan.seqs[b].n_decode; });
    }
    std::vector<bool> prefix_queued(plan.groups.size(), false);
    for (const int32_t i : order) {
        const int32_t g = plan.seqs[i].group;
        if (g >= 0 && !prefix_queued[g]) {
            plan.jobs.push_back(Job{-1, g, 0, plan.groups[g].shared});
            prefix_queued[g] = true;
        }
        plan.jobs.push_back(Job{i, g, g >= 0 ? plan.groups[g].shared : 0, plan.seqs[i].n_decode});
    }
    return PS_OK;
}

// Which sequence holds result `dest`, and at which position (for error messages).
void locate(const Plan & plan, const ps_sequence * seqs, int64_t dest, int32_t & seq, int32_t & pos) {
    seq = 0;
    for (size_t i = 0; i < plan.seqs.size(); ++i) {
        if (plan.seqs[i].first_dest <= dest) seq = static_cast<int32_t>(i);
    }
    pos = seqs[seq].score_begin + static_cast<int32_t>(dest - plan.seqs[seq].first_dest);
}

// Packs the jobs into decodes and calls after_decode() after each successful one.
// A slot is a llama.cpp sequence id; a job keeps its slot until all its tokens are decoded.
// Jobs are admitted in plan order (longest first, see plan_sequences) while slots are free and the
// KV cache has room for their whole length; a member whose group prefix is not decoded yet is
// passed over (it is admitted on a later decode), but a job that does not fit in the KV cache
// stops admission, so long sequences are not starved by short ones behind them.
//
// Unified KV cache: every token of a decode attends over the whole span of occupied cells
// (llama.cpp's n_kv, padded to KV_PAD cells), its own sequence's or not, and without flash
// attention masked cells cost as much as visible ones. A sequence alone already pays for
// max(KV_PAD, its length padded) cells, so a job joins a decode only while the live cells stay
// within what the longest live job (or itself) would span alone (kv_span_fits); otherwise packing
// multiplies the attention work of every token (measured: 512-token decodes of 64..256-token
// sequences spanned 768 cells, 3x the 256 of one sequence per call, and lost 0.7x in CPU time on
// the small-vocabulary fixture, see BENCHMARKS). Jobs that do not fit the span are passed over
// for shorter ones behind them (first fit); they are admitted once the live jobs finish.
//
// The batch lists its tokens slot by slot in slot order: with per-sequence streams llama.cpp puts
// only consecutive slots with the same token count into one micro-batch (split_equal), so a decode
// is a staircase of rectangles (consecutive slots x equal counts), one more wherever a slot's
// sequence ends inside the decode. Equal chunks per slot do not remove that: whatever the chunking,
// each sequence of a distinct length ends a rectangle of its own, so packing sequences of distinct
// lengths runs about one graph evaluation per sequence, like one sequence per call (simulated for
// 64 sequences of 64..256 tokens: 73 to 83 micro-batches for 64 calls, whichever policy; 8..32
// tokens: 26 when longest first, 61 in input order). Per-sequence packing saves per-call costs,
// not graph evaluations; it pays when lengths repeat.
template <typename AfterDecode>
int32_t run_decodes(ps_engine & e, const ps_sequence * seqs, Plan & plan, AfterDecode && after_decode) {
    llama_memory_t mem = llama_get_memory(e.ctx);
    llama_memory_clear(mem, true);

    const int32_t n_slots = e.params.n_seq_max;
    std::vector<int32_t> slot_job(static_cast<size_t>(n_slots), -1);
    std::vector<int32_t> slot_next(static_cast<size_t>(n_slots), 0);
    std::vector<int32_t> slot_take(static_cast<size_t>(n_slots), 0); // tokens this decode
    std::vector<bool> admitted(plan.jobs.size(), false);
    size_t first_pending = 0; // every job before this one has been admitted
    int64_t kv_used = 0;
    int32_t open_groups = 0;  // groups whose prefix is held for members not yet admitted

    // A job's cells when alone: positions [0, end) (a member's prefix cells included).
    auto padded = [](int64_t n) { return (n + KV_PAD - 1) / KV_PAD * KV_PAD; };
    auto kv_span_fits = [&](const Job & job, int32_t live, int64_t live_max_end) {
        if (e.per_seq || live == 0) return true;
        const int64_t alone = std::max<int64_t>(KV_PAD, padded(std::max<int64_t>(live_max_end, job.end)));
        return padded(kv_used + (job.end - job.begin)) <= alone;
    };

    auto add_tokens = [&](int32_t slot, int32_t n) {
        const Job & job = plan.jobs[slot_job[slot]];
        const ps_sequence & s = seqs[job.seq >= 0 ? job.seq : plan.groups[job.group].leader];
        int32_t t = slot_next[slot];
        for (const int32_t stop = t + n; t < stop; ++t) {
            const int32_t k = e.batch.n_tokens++;
            e.batch.token[k] = s.tokens[t];
            e.batch.pos[k] = t;
            e.batch.n_seq_id[k] = 1;
            e.batch.seq_id[k][0] = slot;
            const bool scored = job.seq >= 0 && t >= s.score_begin - 1;
            e.batch.logits[k] = scored;
            if (scored) {
                e.row_target.push_back(s.tokens[t + 1]);
                e.row_dest.push_back(plan.seqs[job.seq].first_dest + (t - (s.score_begin - 1)));
                e.row_batch.push_back(k);
            }
        }
        slot_next[slot] = t;
    };

    // Gives job j the slot; a group member first receives the shared prefix's KV entries.
    auto admit = [&](size_t j, int32_t slot) {
        const Job & job = plan.jobs[j];
        slot_job[slot] = static_cast<int32_t>(j);
        slot_next[slot] = job.begin;
        admitted[j] = true;
        kv_used += job.end - job.begin;
        if (job.seq >= 0 && job.group >= 0) {
            GroupPlan & g = plan.groups[job.group];
            if (e.per_seq) {
                // across streams llama.cpp copies the holder's whole stream (it refuses partial
                // copies); the holder holds exactly the prefix
                llama_memory_seq_cp(mem, g.holder, slot, -1, -1);
            } else {
                llama_memory_seq_cp(mem, g.holder, slot, 0, g.shared);
            }
            if (++g.admitted == g.members) { // every member has the prefix: the holder can go
                llama_memory_seq_rm(mem, g.holder, -1, -1);
                slot_job[g.holder] = -1;
                g.holder = -1;
                --open_groups;
            }
        } else if (job.seq < 0) {
            plan.groups[job.group].holder = slot;
            ++open_groups;
        }
    };

    while (true) {
        reset_batch(e);

        // what each slot decodes this time: first the live jobs' next tokens, then new jobs
        int32_t planned = 0, live = 0, passed_over = 0;
        int64_t live_max_end = 0;
        // the slot's job decodes its next tokens, as many as the batch still has room for
        auto plan_slot = [&](int32_t slot) {
            const Job & job = plan.jobs[slot_job[slot]];
            ++live;
            live_max_end = std::max<int64_t>(live_max_end, job.end);
            slot_take[slot] = std::min(job.end - slot_next[slot], e.params.n_batch - planned);
            planned += slot_take[slot];
        };
        for (int32_t slot = 0; slot < n_slots; ++slot) {
            slot_take[slot] = 0;
            if (slot_job[slot] >= 0) plan_slot(slot);
        }
        while (first_pending < plan.jobs.size() && admitted[first_pending]) ++first_pending;
        for (size_t j = first_pending; j < plan.jobs.size() && planned < e.params.n_batch; ++j) {
            if (admitted[j]) continue;
            const Job & job = plan.jobs[j];
            if (job.seq >= 0 && job.group >= 0 && !plan.groups[job.group].decoded) continue; // prefix not ready
            // One group at a time holds a prefix for members still to come: a held prefix keeps its
            // KV cells until its last member is admitted, so several at once could fill the cache
            // with prefixes whose members then never fit.
            if (job.seq < 0 && open_groups > 0) continue;
            int32_t slot = -1, n_free = 0;
            for (int32_t k = n_slots - 1; k >= 0; --k) {
                if (slot_job[k] < 0) { slot = k; ++n_free; }
            }
            if (n_free == 0) break;
            // a prefix holds its slot until every member has copied it, so it may only take a slot
            // while another stays free for the members; otherwise prefixes could fill every slot
            if (job.seq < 0 && n_free < 2) break;
            // (per-sequence streams: every slot has its own cells, and plan_sequences checked
            // that each sequence fits one)
            if (!e.per_seq && kv_used + (job.end - job.begin) > e.params.n_ctx) {
                // Wait for live jobs to finish, so long jobs are not starved by short ones behind
                // them; but while a group holds its prefix, its remaining members must still be
                // reached (only they release it), so look past a job that does not fit.
                if (open_groups > 0) continue;
                break;
            }
            if (!kv_span_fits(job, live, live_max_end)) {
                // a shorter job behind it may fit; look a bounded distance (a call of many
                // sequences would otherwise rescan every pending job at every decode)
                if (++passed_over >= MAX_PASSED_OVER) break;
                continue;
            }
            admit(j, slot);
            plan_slot(slot);
        }
        for (int32_t slot = 0; slot < n_slots; ++slot) {
            if (slot_take[slot] > 0) add_tokens(slot, slot_take[slot]);
        }
        if (e.batch.n_tokens == 0) {
            if (first_pending < plan.jobs.size()) {
                return fail(PS_ERR_INTERNAL, "the packer stalled with %zu jobs left", plan.jobs.size() - first_pending);
            }
            break;
        }

        const int32_t ret = llama_decode(e.ctx, e.batch);
        if (ret != 0) {
            llama_memory_clear(mem, true);
            const std::string & why = last_llama_error();
            return fail(PS_ERR_DECODE_FAILED, "llama_decode failed with code %d%s%s", ret, why.empty() ? "" : ": ",
                        why.c_str());
        }
        if (e.fused && e.per_seq) reduce_output_rows(e);
        const int32_t st = after_decode();
        if (st != PS_OK) {
            llama_memory_clear(mem, true);
            return st;
        }
        for (int32_t slot = 0; slot < n_slots; ++slot) {
            const int32_t j = slot_job[slot];
            if (j < 0 || slot_next[slot] < plan.jobs[j].end) continue;
            const Job & job = plan.jobs[j];
            if (job.seq < 0) {             // a prefix is done: its slot holds it for the members
                plan.groups[job.group].decoded = true;
                continue;
            }
            llama_memory_seq_rm(mem, slot, -1, -1);
            slot_job[slot] = -1;
            kv_used -= job.end - job.begin;
            if (job.group >= 0 && ++plan.groups[job.group].finished == plan.groups[job.group].members) {
                kv_used -= plan.groups[job.group].shared; // the last member released the prefix cells
            }
        }
    }
    return PS_OK;
}

} // namespace
} // namespace panscore


namespace panscore {
namespace {

int32_t bad_slot(const ps_engine & e, int32_t seq_id) {
    return fail(PS_ERR_INVALID_ARGUMENT, "slot %d is outside [0, %d)", seq_id, e.params.n_seq_max);
}

// Validates a session call: slots in range, used once, positions continuing each slot.
int32_t check_appends(ps_engine & e, const ps_append * appends, int32_t n) {
    if (appends == nullptr || n <= 0) return fail(PS_ERR_EMPTY_INPUT, "no appends to decode");
    llama_memory_t mem = llama_get_memory(e.ctx);
    std::vector<bool> seen(static_cast<size_t>(e.params.n_seq_max), false);
    for (int32_t i = 0; i < n; ++i) {
        const ps_append & a = appends[i];
        if (a.seq_id < 0 || a.seq_id >= e.params.n_seq_max) {
            return fail(PS_ERR_INVALID_ARGUMENT, "append %d: slot %d is outside [0, %d)", i, a.seq_id, e.params.n_seq_max);
        }
        if (seen[a.seq_id]) return fail(PS_ERR_INVALID_ARGUMENT, "append %d: slot %d appears twice in one call", i, a.seq_id);
        seen[a.seq_id] = true;
        if (a.tokens == nullptr || a.n_tokens <= 0) return fail(PS_ERR_EMPTY_INPUT, "append %d has no tokens", i);
        const int32_t have = llama_memory_seq_pos_max(mem, a.seq_id) + 1;
        if (a.pos != have) {
            return fail(PS_ERR_INVALID_ARGUMENT, "append %d: slot %d holds %d tokens, so the append must start at position %d, not %d",
                        i, a.seq_id, have, have, a.pos);
        }
        if (static_cast<int64_t>(a.pos) + a.n_tokens > e.n_ctx_seq) {
            return fail(PS_ERR_CONTEXT_OVERFLOW, "append %d: slot %d would hold %d tokens, more than %s of %d tokens",
                        i, a.seq_id, a.pos + a.n_tokens, slot_context_name(e), e.n_ctx_seq);
        }
        for (int32_t t = 0; t < a.n_tokens; ++t) {
            if (a.tokens[t] < 0 || a.tokens[t] >= e.n_vocab) {
                return fail(PS_ERR_TOKEN_OUT_OF_RANGE, "append %d, token %d: id %d is outside the vocabulary [0, %d)", i, t,
                            a.tokens[t], e.n_vocab);
            }
        }
    }
    return PS_OK;
}

} // namespace
} // namespace panscore

using namespace panscore;

extern "C" {

ps_engine_params ps_engine_default_params(void) {
    ps_engine_params p{};
    p.n_ctx = 0;
    p.n_batch = 0;
    p.n_ubatch = 0;
    p.n_seq_max = 0;
    p.n_threads = 0;
    p.skip_logits_copy = -1;
    p.flash_attn = 0;
    p.kv_per_seq = 0;
    return p;
}

int32_t ps_engine_create(ps_model * model, const ps_engine_params * params, ps_engine ** out) {
    return guarded("ps_engine_create", [&]() -> int32_t {
        if (out == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_engine_create: out is NULL");
        *out = nullptr;
        if (model == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_engine_create: model is NULL");
        ps_engine_params p = params ? *params : ps_engine_default_params();
        if (p.n_ctx < 0 || p.n_batch < 0 || p.n_ubatch < 0 || p.n_seq_max < 0 || p.n_threads < 0) {
            return fail(PS_ERR_INVALID_ARGUMENT, "engine parameters must be >= 0 (0 = default)");
        }
        if (p.n_ctx == 0) p.n_ctx = std::min(model->info.n_ctx_train > 0 ? model->info.n_ctx_train : DEFAULT_MAX_CTX, DEFAULT_MAX_CTX);
        if (p.n_batch > 0 && p.n_ubatch > p.n_batch) {
            return fail(PS_ERR_INVALID_ARGUMENT, "n_ubatch (%d) must not exceed n_batch (%d)", p.n_ubatch, p.n_batch);
        }
        if (p.n_batch == 0) p.n_batch = DEFAULT_BATCH;
        if (p.n_ubatch == 0) p.n_ubatch = DEFAULT_BATCH;
        // a batch never needs to be larger than the context, nor a micro-batch than a batch
        p.n_batch = std::min(p.n_batch, p.n_ctx);
        p.n_ubatch = std::min(p.n_ubatch, p.n_batch);
        if (p.n_seq_max == 0) p.n_seq_max = DEFAULT_SEQ_MAX;
        const int32_t max_seq = static_cast<int32_t>(llama_max_parallel_sequences());
        if (p.n_seq_max > max_seq) {
            return fail(PS_ERR_INVALID_ARGUMENT, "n_seq_max (%d) exceeds llama.cpp's limit of %d", p.n_seq_max, max_seq);
        }
        p.n_threads = resolve_threads(p.n_threads);
        if (p.skip_logits_copy < -1 || p.skip_logits_copy > 1) {
            return fail(PS_ERR_INVALID_ARGUMENT, "skip_logits_copy must be -1 (auto), 0 or 1, got %d", p.skip_logits_copy);
        }
        if (p.kv_per_seq < 0 || p.kv_per_seq > 1) {
            return fail(PS_ERR_INVALID_ARGUMENT, "kv_per_seq must be 0 (one unified KV cache) or 1 (one KV stream per sequence), got %d",
                        p.kv_per_seq);
        }
        if (p.kv_per_seq == 1) {
            // the rows are read from llama.cpp's output buffer after each decode (reduce_output_rows)
            if (p.skip_logits_copy == 1) {
                return fail(PS_ERR_INVALID_ARGUMENT, "skip_logits_copy = 1 needs the unified KV cache (kv_per_seq = 0): with one KV "
                            "stream per sequence the statistics are read from llama.cpp's copy of the logits");
            }
            p.skip_logits_copy = 0;
        }
        if (p.skip_logits_copy == -1) {
#ifdef PANSCORE_WITH_CUDA
            p.skip_logits_copy = model->n_gpu_layers != 0 ? 1 : 0;
#else
            p.skip_logits_copy = 0;
#endif
        }
        if (p.flash_attn < -1 || p.flash_attn > 1) {
            return fail(PS_ERR_INVALID_ARGUMENT, "flash_attn must be -1 (auto), 0 (off) or 1 (on), got %d", p.flash_attn);
        }

        auto e = std::make_unique<ps_engine>();
        e->model = model;
        e->params = p;
        e->n_vocab = model->info.n_vocab;
        e->per_seq = p.kv_per_seq == 1;

        llama_context_params cp = llama_context_default_params();
        cp.n_ctx = static_cast<uint32_t>(p.n_ctx);
        cp.n_batch = static_cast<uint32_t>(p.n_batch);
        cp.n_ubatch = static_cast<uint32_t>(p.n_ubatch);
        cp.n_seq_max = static_cast<uint32_t>(p.n_seq_max);
        cp.n_threads = p.n_threads;
        cp.n_threads_batch = p.n_threads;
        cp.kv_unified = true;              // micro-batches then follow the batch order (see top)
        if (e->per_seq) cp.kv_unified = false; // one stream per slot: rows read after the decode
        cp.n_outputs_max_per_seq = static_cast<uint32_t>(p.n_batch);
        // llama.cpp reserves max(outputs, n_seq_max) output rows per decode and aborts the process
        // (GGML_ASSERT) unless that fits n_outputs_max, whose default is n_batch
        cp.n_outputs_max = static_cast<uint32_t>(std::max(p.n_batch, p.n_seq_max));
        cp.cb_eval = eval_callback;
        cp.cb_eval_user_data = e.get();
        cp.no_perf = true;
        cp.flash_attn_type = p.flash_attn == 0 ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                           : p.flash_attn == 1 ? LLAMA_FLASH_ATTN_TYPE_ENABLED
                                               : LLAMA_FLASH_ATTN_TYPE_AUTO;
        e->ctx = llama_init_from_model(model->model, cp);
        if (e->ctx == nullptr) {
            const std::string & why = last_llama_error();
            return fail(PS_ERR_OUT_OF_MEMORY, "llama.cpp could not create a context (n_ctx %d, n_batch %d)%s%s", p.n_ctx,
                        p.n_batch, why.empty() ? "" : ": ", why.c_str());
        }
        e->n_ctx_seq = static_cast<int32_t>(llama_n_ctx_seq(e->ctx));
        if (e->per_seq) e->params.n_ctx = static_cast<int32_t>(llama_n_ctx(e->ctx)); // slots x stream size
        else e->n_ctx_seq = e->params.n_ctx;
        e->batch = llama_batch_init(p.n_batch, 0, 1);
        *out = e.release();
        return PS_OK;
    });
}

void ps_engine_free(ps_engine * engine) {
    if (engine == nullptr) return;
    if (engine->ctx) {
        set_skip_samplers(*engine, false);
        llama_free(engine->ctx);
    }
    free_skip_chains(*engine);
    llama_batch_free(engine->batch);
    delete engine;
}

int32_t ps_engine_params_get(const ps_engine * engine, ps_engine_params * out) {
    if (engine == nullptr || out == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_engine_params_get: NULL argument");
    clear_error();
    *out = engine->params;
    return PS_OK;
}

int32_t ps_score(ps_engine * engine, const ps_sequence * seqs, int32_t n_seqs, const ps_score_params * params,
                 ps_token_stats * out_stats, int32_t * out_topk_ids, float * out_topk_logprobs) {
    return guarded("ps_score", [&]() -> int32_t {
        if (engine == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_score: engine is NULL");
        ps_engine & e = *engine;
        const ps_score_params p = params ? *params : ps_score_default_params();
        int32_t st = check_engine_score_params(e, p, "ps_score", out_stats, out_topk_ids, out_topk_logprobs);
        if (st != PS_OK) return st;
        Plan plan;
        st = plan_sequences(e, seqs, n_seqs, plan);
        if (st != PS_OK) return st;

        begin_fused(e, p, out_stats, out_topk_ids, out_topk_logprobs);
        st = run_decodes(e, seqs, plan, [&]() -> int32_t {
            if (e.cb_status == PS_ERR_NAN_LOGITS) {
                int32_t seq = 0, pos = 0;
                locate(plan, seqs, e.cb_bad_dest, seq, pos);
                return fail(PS_ERR_NAN_LOGITS, "the model produced NaN logits (or no finite logit) for sequence %d, position %d",
                            seq, pos);
            }
            if (e.cb_status != PS_OK) return fail(e.cb_status, "%s", e.cb_error.c_str());
            if (e.rows_done != e.row_target.size()) {
                return fail(PS_ERR_INTERNAL, "reduced %zu logits rows, expected %zu (was result_output renamed?)",
                            e.rows_done, e.row_target.size());
            }
            return PS_OK;
        });
        e.fused = false;
        return st;
    });
}

int32_t ps_forward(ps_engine * engine, const ps_sequence * seqs, int32_t n_seqs, float * out_logits,
                   int64_t out_logits_len) {
    return guarded("ps_forward", [&]() -> int32_t {
        if (engine == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_forward: engine is NULL");
        ps_engine & e = *engine;
        Plan plan;
        int32_t st = plan_sequences(e, seqs, n_seqs, plan);
        if (st != PS_OK) return st;
        if (out_logits != nullptr && out_logits_len < plan.n_rows * e.n_vocab) {
            return fail(PS_ERR_BUFFER_TOO_SMALL, "out_logits holds %lld floats, %lld needed", (long long) out_logits_len,
                        (long long) (plan.n_rows * e.n_vocab));
        }
        set_skip_samplers(e, false); // this path wants llama.cpp's own copy of the logits
        e.fused = false;
        return run_decodes(e, seqs, plan, [&]() -> int32_t {
            if (out_logits == nullptr) return PS_OK;
            for (size_t r = 0; r < e.row_batch.size(); ++r) {
                const float * row = llama_get_logits_ith(e.ctx, e.row_batch[r]);
                if (row == nullptr) return fail(PS_ERR_INTERNAL, "llama.cpp returned no logits for batch index %d", e.row_batch[r]);
                std::memcpy(out_logits + e.row_dest[r] * e.n_vocab, row, sizeof(float) * static_cast<size_t>(e.n_vocab));
            }
            return PS_OK;
        });
    });
}

int32_t ps_session_decode(ps_engine * engine, const ps_append * appends, int32_t n_appends, const ps_score_params * params,
                          ps_token_stats * out_stats, int32_t * out_topk_ids, float * out_topk_logprobs) {
    return guarded("ps_session_decode", [&]() -> int32_t {
        if (engine == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_session_decode: engine is NULL");
        ps_engine & e = *engine;
        const ps_score_params p = params ? *params : ps_score_default_params();
        int32_t st = check_engine_score_params(e, p, "ps_session_decode", out_stats, out_topk_ids, out_topk_logprobs);
        if (st != PS_OK) return st;
        st = check_appends(e, appends, n_appends);
        if (st != PS_OK) return st;

        llama_memory_t mem = llama_get_memory(e.ctx);
        auto undo = [&]() {
            for (int32_t i = 0; i < n_appends; ++i) llama_memory_seq_rm(mem, appends[i].seq_id, appends[i].pos, -1);
        };
        begin_fused(e, p, out_stats, out_topk_ids, out_topk_logprobs);
        // batch order: the appends' order (unified: the in-graph reduction follows it), or slot
        // order with per-sequence streams, where llama.cpp puts only consecutive slots in one
        // micro-batch (split_equal): sorted, 16 one-token glimpses are one micro-batch, not 16
        const std::vector<int32_t> order = append_order(e.per_seq, appends, n_appends);

        int32_t next = 0;      // append being filled
        int32_t cursor = 0;    // its next token
        try {
        while (next < n_appends) {
            reset_batch(e);
            while (next < n_appends && e.batch.n_tokens < e.params.n_batch) {
                const ps_append & a = appends[order[next]];
                const int32_t k = e.batch.n_tokens++;
                e.batch.token[k] = a.tokens[cursor];
                e.batch.pos[k] = a.pos + cursor;
                e.batch.n_seq_id[k] = 1;
                e.batch.seq_id[k][0] = a.seq_id;
                const bool last = cursor == a.n_tokens - 1;
                e.batch.logits[k] = last;
                if (last) {
                    e.row_target.push_back(0);
                    e.row_dest.push_back(order[next]);
                    e.row_batch.push_back(k);
                    ++next;
                    cursor = 0;
                } else {
                    ++cursor;
                }
            }
            const int32_t ret = llama_decode(e.ctx, e.batch);
            if (ret != 0) {
                undo();
                e.fused = false;
                if (ret == 1) return fail(PS_ERR_CAPACITY, "the KV cache (%d cells) has no room for these tokens; close or shorten sessions", e.params.n_ctx);
                const std::string & why = last_llama_error();
                return fail(PS_ERR_DECODE_FAILED, "llama_decode failed with code %d%s%s", ret, why.empty() ? "" : ": ", why.c_str());
            }
            if (e.per_seq) reduce_output_rows(e);
            if (e.cb_status != PS_OK || e.rows_done != e.row_target.size()) {
                undo();
                e.fused = false;
                if (e.cb_status == PS_ERR_NAN_LOGITS) {
                    return fail(PS_ERR_NAN_LOGITS, "the model produced NaN logits (or no finite logit) after append %lld", (long long) e.cb_bad_dest);
                }
                if (e.cb_status != PS_OK) return fail(e.cb_status, "%s", e.cb_error.c_str());
                return fail(PS_ERR_INTERNAL, "reduced %zu logits rows, expected %zu", e.rows_done, e.row_target.size());
            }
        }
        } catch (...) { // leave the slots as they were (guarded turns the exception into a status)
            undo();
            e.fused = false;
            throw;
        }
        e.fused = false;
        return PS_OK;
    });
}

int32_t ps_session_copy(ps_engine * engine, int32_t src, int32_t dst, int32_t n_tokens) {
    return guarded("ps_session_copy", [&]() -> int32_t {
        if (engine == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_session_copy: engine is NULL");
        ps_engine & e = *engine;
        const int32_t n = e.params.n_seq_max;
        if (src < 0 || src >= n || dst < 0 || dst >= n || src == dst) {
            return fail(PS_ERR_INVALID_ARGUMENT, "slots must be distinct and in [0, %d), got %d and %d", n, src, dst);
        }
        llama_memory_t mem = llama_get_memory(e.ctx);
        const int32_t have = llama_memory_seq_pos_max(mem, src) + 1;
        if (n_tokens < 0 || n_tokens > have) return fail(PS_ERR_INVALID_ARGUMENT, "slot %d holds %d tokens, cannot copy %d", src, have, n_tokens);
        if (llama_memory_seq_pos_max(mem, dst) >= 0) return fail(PS_ERR_INVALID_ARGUMENT, "slot %d is not empty", dst);
        if (n_tokens > 0 && e.per_seq) {
            // across streams llama.cpp copies whole streams only (a memory copy, done before the next
            // decode); the tail beyond n_tokens is then dropped from the copy
            llama_memory_seq_cp(mem, src, dst, -1, -1);
            if (n_tokens < have) llama_memory_seq_rm(mem, dst, n_tokens, -1);
        } else if (n_tokens > 0) {
            llama_memory_seq_cp(mem, src, dst, 0, n_tokens);
        }
        return PS_OK;
    });
}

int32_t ps_session_clear(ps_engine * engine, int32_t seq_id) {
    return guarded("ps_session_clear", [&]() -> int32_t {
        if (engine == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_session_clear: engine is NULL");
        if (seq_id < 0 || seq_id >= engine->params.n_seq_max) return bad_slot(*engine, seq_id);
        llama_memory_seq_rm(llama_get_memory(engine->ctx), seq_id, -1, -1);
        return PS_OK;
    });
}

int32_t ps_session_length(ps_engine * engine, int32_t seq_id, int32_t * out_n) {
    return guarded("ps_session_length", [&]() -> int32_t {
        if (engine == nullptr || out_n == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_session_length: NULL argument");
        if (seq_id < 0 || seq_id >= engine->params.n_seq_max) return bad_slot(*engine, seq_id);
        *out_n = llama_memory_seq_pos_max(llama_get_memory(engine->ctx), seq_id) + 1;
        return PS_OK;
    });
}

} // extern "C"

namespace panscore {

std::vector<int32_t> append_order(bool by_slot, const ps_append * appends, int32_t n) {
    std::vector<int32_t> order(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    if (by_slot) {
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return appends[a].seq_id < appends[b].seq_id; });
    }
    return order;
}

EngineAccess engine_access(ps_engine & e) {
    set_skip_samplers(e, false); // every logits row must reach llama.cpp's host output buffer
    e.fused = false;
    return EngineAccess{e.ctx, &e.batch, e.model->vocab, e.params.n_batch, e.n_ctx_seq, e.params.n_seq_max, e.n_vocab,
                        e.params.n_threads, e.per_seq};
}

} // namespace panscore

// Design note: per-sequence KV on a GPU, keeping the reduction on the device (not built yet).
//
// On a GPU the in-graph reduction matters: reduce_output_rows needs llama.cpp's device-to-host
// copy of every logits row, [tokens x vocab] floats, which the unified path skips
// (skip_logits_copy). To keep the reduction in the graph with per-sequence streams, the callback
// must learn each micro-batch's row order, which llama.cpp decides in llama_batch_allocr::
// split_equal and does not pass to cb_eval. Two ways, in order of preference:
//  1. Predict it. The split is deterministic: for a batch whose tokens are grouped by slot (as
//     ps_session_decode and ps_session_sample now build them, in slot order), split_equal takes the
//     run of consecutive slots starting at the first unused token, then the same number of tokens
//     from each, concatenated slot by slot (idxs_per_seq); out_ids lists the output tokens of each
//     micro-batch in that order. Reproducing that split in panscore (a pure function of the batch's
//     seq ids and n_ubatch) gives, per micro-batch, the batch index of each output row; the eval
//     callback then maps row r of the k-th result_output to row_dest[batch index] and the device
//     reduction (cuda::reduce_rows) takes a per-micro-batch gather of row_target / row_dest. A
//     check after the decode (llama.cpp's output_ids, through llama_get_logits_ith's mapping, on a
//     sample row) guards against a llama.cpp change in the split.
//  2. Make it unnecessary: build batches whose split is the identity, i.e. every slot in the batch
//     contributes the same number of tokens and the slots are consecutive (what packed generation
//     and same-length glimpses already are); the packer would then fill decodes with equal chunks
//     per slot. This covers generation and glimpses, not packed scoring of unequal lengths.
// Either way the skip-copy backend samplers stay attached and nothing of the logits crosses to
// the host. Recurrent and hybrid models stay refused at load (panscore.cpp): their per-sequence
// state has no KV cells to copy, so neither prompt sharing nor forking applies.
