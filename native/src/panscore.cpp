// Process-wide pieces of the ABI: errors, logging, versions, models, tokenizer, the stand-alone
// reduction and the layout introspection. Engines live in engine.cpp.
#include "errors.h"
#include "internal.h"
#include "row_stats.h"

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#ifndef PANSCORE_VERSION
#define PANSCORE_VERSION "0.0.0"
#endif
#ifndef PANSCORE_LLAMA_COMMIT
#define PANSCORE_LLAMA_COMMIT "unknown"
#endif
#ifndef PANSCORE_BACKENDS
#define PANSCORE_BACKENDS "cpu"
#endif

namespace panscore {
namespace {

thread_local std::string t_error;
thread_local std::string t_llama_error;
std::atomic<int32_t> g_log_level{PS_LOG_NONE};

void log_sink(ggml_log_level level, const char * text, void *) {
    if (level == GGML_LOG_LEVEL_ERROR) {
        // keep the last error line so a failed load can say what llama.cpp objected to
        t_llama_error.assign(text);
        while (!t_llama_error.empty() && (t_llama_error.back() == '\n' || t_llama_error.back() == ' ')) {
            t_llama_error.pop_back();
        }
    }
    const int32_t wanted = g_log_level.load(std::memory_order_relaxed);
    const int32_t rank = level == GGML_LOG_LEVEL_ERROR ? PS_LOG_ERROR
                       : level == GGML_LOG_LEVEL_WARN  ? PS_LOG_WARN
                       : level == GGML_LOG_LEVEL_CONT  ? PS_LOG_INFO
                                                       : PS_LOG_INFO + 1; // INFO/DEBUG
    if (rank <= wanted || (level == GGML_LOG_LEVEL_INFO && wanted >= PS_LOG_INFO)) {
        std::fputs(text, stderr);
    }
}

int32_t default_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 4 : static_cast<int32_t>(n);
}

} // namespace

int32_t fail(int32_t status, const char * fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t_error.assign(buf);
    return status;
}

void clear_error() {
    t_error.clear();
    t_llama_error.clear();
}

const std::string & last_llama_error() { return t_llama_error; }

void ensure_backend() {
    static std::once_flag once;
    std::call_once(once, [] {
        llama_log_set(log_sink, nullptr);
        llama_backend_init();
    });
}

int32_t resolve_threads(int32_t n) { return n > 0 ? n : default_threads(); }

int32_t check_score_params(const ps_score_params & p, int32_t n_vocab, const char * where, const ps_token_stats * out_stats,
                           const int32_t * out_topk_ids, const float * out_topk_logprobs) {
    if (!(p.temperature >= 0.0f) || std::isinf(p.temperature)) {
        return fail(PS_ERR_INVALID_ARGUMENT, "temperature must be a finite number > 0 (0 means 1), got %g", p.temperature);
    }
    if (p.top_k < 0 || p.top_k > n_vocab) {
        return fail(PS_ERR_INVALID_ARGUMENT, "top_k must be in [0, %d], got %d", n_vocab, p.top_k);
    }
    if (out_stats == nullptr || (p.top_k > 0 && (out_topk_ids == nullptr || out_topk_logprobs == nullptr))) {
        return fail(PS_ERR_INVALID_ARGUMENT, "%s: missing output buffer", where);
    }
    return PS_OK;
}

} // namespace panscore

using namespace panscore;

extern "C" {

const char * ps_last_error(void) { return t_error.c_str(); }
const char * ps_version(void) { return PANSCORE_VERSION; }
const char * ps_llama_commit(void) { return PANSCORE_LLAMA_COMMIT; }
const char * ps_backends(void) { return PANSCORE_BACKENDS; }
int32_t ps_abi_version(void) { return PS_ABI_VERSION; }

void ps_log_set_level(int32_t level) {
    ensure_backend();
    g_log_level.store(level, std::memory_order_relaxed);
}

ps_model_params ps_model_default_params(void) {
    ps_model_params p{};
    p.n_gpu_layers = 0;
    p.main_gpu = 0;
    p.use_mmap = 1;
    p.check_tensors = 0;
    return p;
}

int32_t ps_model_load(const char * path, const ps_model_params * params, ps_model ** out) {
    return guarded("ps_model_load", [&]() -> int32_t {
        if (out == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_model_load: out is NULL");
        *out = nullptr;
        if (path == nullptr || *path == '\0') return fail(PS_ERR_INVALID_ARGUMENT, "model path is empty");
        const ps_model_params p = params ? *params : ps_model_default_params();

        // Check existence and the magic ourselves: llama.cpp only logs why it failed.
        FILE * f = std::fopen(path, "rb");
        if (f == nullptr) {
            return fail(PS_ERR_FILE_NOT_FOUND, "cannot open model file '%s': %s", path, std::strerror(errno));
        }
        char magic[4] = {0, 0, 0, 0};
        const size_t got = std::fread(magic, 1, 4, f);
        std::fclose(f);
        if (got != 4 || std::memcmp(magic, "GGUF", 4) != 0) {
            return fail(PS_ERR_MODEL_FORMAT, "'%s' is not a GGUF file (it does not start with the bytes \"GGUF\")", path);
        }

        ensure_backend();
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = p.n_gpu_layers;
        mp.main_gpu = p.main_gpu;
        if (p.use_mmap == 0) mp.load_mode = LLAMA_LOAD_MODE_NONE; // else llama.cpp's default (mmap where it can)
        mp.check_tensors = p.check_tensors != 0;
        llama_model * m = llama_model_load_from_file(path, mp);
        if (m == nullptr) {
            const std::string & why = last_llama_error();
            return fail(PS_ERR_MODEL_FORMAT, "llama.cpp could not load '%s'%s%s", path,
                        why.empty() ? "" : ": ", why.c_str());
        }

        // Recurrent and hybrid models keep per-sequence state instead of a KV cache: llama.cpp splits
        // their batches by sequence (so output rows no longer follow the batch) and cannot remove
        // part of a sequence (session undo). panscore's statistics would be silently wrong: refuse.
        if (llama_model_is_recurrent(m) || llama_model_is_hybrid(m)) {
            char arch[64] = {0};
            llama_model_meta_val_str(m, "general.architecture", arch, sizeof arch);
            llama_model_free(m);
            return fail(PS_ERR_MODEL_FORMAT, "'%s' has a %s architecture (%s): panscore scores transformer models only "
                        "(their rows follow the batch and their KV cache can drop a sequence's tail)", path,
                        "recurrent or hybrid", arch[0] ? arch : "unknown");
        }

        auto * model = new ps_model();
        model->model = m;
        model->vocab = llama_model_get_vocab(m);
        model->n_gpu_layers = p.n_gpu_layers;
        ps_model_info & info = model->info;
        info.n_vocab = llama_vocab_n_tokens(model->vocab);
        info.n_ctx_train = llama_model_n_ctx_train(m);
        info.n_embd = llama_model_n_embd(m);
        info.n_layer = llama_model_n_layer(m);
        info.bos_id = llama_vocab_bos(model->vocab);
        info.eos_id = llama_vocab_eos(model->vocab);
        info.eot_id = llama_vocab_eot(model->vocab);
        info.add_bos = llama_vocab_get_add_bos(model->vocab) ? 1 : 0;
        info.n_params = static_cast<int64_t>(llama_model_n_params(m));
        info.size_bytes = static_cast<int64_t>(llama_model_size(m));
        *out = model;
        return PS_OK;
    });
}

void ps_model_free(ps_model * model) {
    if (model == nullptr) return;
    llama_model_free(model->model);
    delete model;
}

int32_t ps_model_info_get(const ps_model * model, ps_model_info * out) {
    if (model == nullptr || out == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_model_info_get: NULL argument");
    clear_error();
    *out = model->info;
    return PS_OK;
}

int32_t ps_model_meta(const ps_model * model, const char * key, char * buf, int64_t buf_size, int64_t * out_len) {
    return guarded("ps_model_meta", [&]() -> int32_t {
        if (model == nullptr || key == nullptr || out_len == nullptr || buf_size < 0 || (buf == nullptr && buf_size > 0)) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_model_meta: invalid argument");
        }
        // llama_model_meta_val_str truncates into buf and returns the full length (-1 if absent).
        char probe[1];
        char * dst = buf_size > 0 ? buf : probe;
        const size_t cap = buf_size > 0 ? static_cast<size_t>(buf_size) : sizeof probe;
        const int32_t n = llama_model_meta_val_str(model->model, key, dst, cap);
        *out_len = n;
        if (n < 0) return fail(PS_ERR_INVALID_ARGUMENT, "the model has no metadata key '%s'", key);
        if (static_cast<int64_t>(n) + 1 > buf_size) {
            return fail(PS_ERR_BUFFER_TOO_SMALL, "metadata '%s' needs %d bytes", key, n + 1);
        }
        return PS_OK;
    });
}

int32_t ps_tokenize(const ps_model * model, const char * text, int32_t text_len, int32_t add_special,
                    int32_t parse_special, int32_t * tokens, int32_t n_max, int32_t * out_n) {
    return guarded("ps_tokenize", [&]() -> int32_t {
        if (model == nullptr || out_n == nullptr || text_len < 0 || n_max < 0 || (text == nullptr && text_len > 0) ||
            (tokens == nullptr && n_max > 0)) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_tokenize: invalid argument");
        }
        int32_t dummy = 0;
        const int32_t n = llama_tokenize(model->vocab, text ? text : "", text_len, tokens ? tokens : &dummy, n_max,
                                         add_special != 0, parse_special != 0);
        if (n == INT32_MIN) return fail(PS_ERR_INVALID_ARGUMENT, "text too long to tokenize");
        if (n < 0) {
            *out_n = -n;
            return fail(PS_ERR_BUFFER_TOO_SMALL, "tokenization needs room for %d tokens", -n);
        }
        *out_n = n;
        return PS_OK;
    });
}

int32_t ps_detokenize(const ps_model * model, const int32_t * tokens, int32_t n_tokens, int32_t render_special,
                      char * buf, int32_t buf_size, int32_t * out_len) {
    return guarded("ps_detokenize", [&]() -> int32_t {
        if (model == nullptr || out_len == nullptr || n_tokens < 0 || buf_size < 0 || (tokens == nullptr && n_tokens > 0) ||
            (buf == nullptr && buf_size > 0)) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_detokenize: invalid argument");
        }
        for (int32_t i = 0; i < n_tokens; ++i) {
            if (tokens[i] < 0 || tokens[i] >= model->info.n_vocab) {
                return fail(PS_ERR_TOKEN_OUT_OF_RANGE, "token %d at index %d is outside the vocabulary [0, %d)",
                            tokens[i], i, model->info.n_vocab);
            }
        }
        char dummy[1];
        const int32_t n = llama_detokenize(model->vocab, tokens, n_tokens, buf ? buf : dummy, buf_size,
                                           /*remove_special=*/false, render_special != 0);
        if (n < 0) {
            *out_len = -n;
            return fail(PS_ERR_BUFFER_TOO_SMALL, "detokenization needs %d bytes", -n);
        }
        *out_len = n;
        return PS_OK;
    });
}

int32_t ps_token_piece(const ps_model * model, int32_t token, int32_t render_special, char * buf, int32_t buf_size,
                       int32_t * out_len) {
    return guarded("ps_token_piece", [&]() -> int32_t {
        if (model == nullptr || out_len == nullptr || buf_size < 0 || (buf == nullptr && buf_size > 0)) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_token_piece: invalid argument");
        }
        if (token < 0 || token >= model->info.n_vocab) {
            return fail(PS_ERR_TOKEN_OUT_OF_RANGE, "token %d is outside the vocabulary [0, %d)", token, model->info.n_vocab);
        }
        char dummy[1];
        const int32_t n = llama_token_to_piece(model->vocab, token, buf ? buf : dummy, buf_size, /*lstrip=*/0, render_special != 0);
        if (n < 0) {
            *out_len = -n;
            return fail(PS_ERR_BUFFER_TOO_SMALL, "the piece needs %d bytes", -n);
        }
        *out_len = n;
        return PS_OK;
    });
}

int32_t ps_chat_builtin_templates(char * buf, int32_t buf_size, int32_t * out_len) {
    return guarded("ps_chat_builtin_templates", [&]() -> int32_t {
        if (out_len == nullptr || buf_size < 0 || (buf == nullptr && buf_size > 0)) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_chat_builtin_templates: invalid argument");
        }
        const int32_t n = llama_chat_builtin_templates(nullptr, 0);
        std::vector<const char *> names(static_cast<size_t>(n > 0 ? n : 0));
        llama_chat_builtin_templates(names.data(), names.size());
        std::string all;
        for (const char * name : names) {
            if (!all.empty()) all += ',';
            all += name;
        }
        *out_len = static_cast<int32_t>(all.size());
        if (static_cast<int32_t>(all.size()) > buf_size) {
            return fail(PS_ERR_BUFFER_TOO_SMALL, "the template names need %d bytes", *out_len);
        }
        if (!all.empty()) std::memcpy(buf, all.data(), all.size());
        return PS_OK;
    });
}

int32_t ps_chat_render(const ps_model * model, const char * tmpl, const ps_chat_message * messages, int32_t n_messages,
                       int32_t add_assistant, char * buf, int32_t buf_size, int32_t * out_len) {
    return guarded("ps_chat_render", [&]() -> int32_t {
        if (model == nullptr || out_len == nullptr || n_messages < 0 || buf_size < 0 || (messages == nullptr && n_messages > 0) ||
            (buf == nullptr && buf_size > 0)) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_chat_render: invalid argument");
        }
        const char * t = tmpl;
        if (t == nullptr) {
            t = llama_model_chat_template(model->model, nullptr);
            if (t == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "the model has no chat template (tokenizer.chat_template)");
        }
        std::vector<llama_chat_message> chat(static_cast<size_t>(n_messages));
        for (int32_t i = 0; i < n_messages; ++i) {
            if (messages[i].role == nullptr || messages[i].content == nullptr) {
                return fail(PS_ERR_INVALID_ARGUMENT, "message %d has no role or content", i);
            }
            chat[i] = llama_chat_message{messages[i].role, messages[i].content};
        }
        char dummy[1];
        const int32_t n = llama_chat_apply_template(t, chat.data(), chat.size(), add_assistant != 0, buf ? buf : dummy, buf_size);
        if (n < 0) {
            return fail(PS_ERR_INVALID_ARGUMENT, "llama.cpp does not recognise this chat template%s%.60s%s",
                        tmpl ? " ('" : " (the model's)", tmpl ? tmpl : "", tmpl ? "')" : "");
        }
        *out_len = n;
        if (n > buf_size) return fail(PS_ERR_BUFFER_TOO_SMALL, "the rendered chat needs %d bytes", n);
        return PS_OK;
    });
}

ps_score_params ps_score_default_params(void) {
    ps_score_params p{};
    p.temperature = 1.0f;
    p.top_k = 0;
    return p;
}

int32_t ps_stats_compute(const float * logits, int32_t n_rows, int32_t n_vocab, const int32_t * targets,
                         const ps_score_params * params, int32_t n_threads, ps_token_stats * out_stats,
                         int32_t * out_topk_ids, float * out_topk_logprobs) {
    return guarded("ps_stats_compute", [&]() -> int32_t {
        const ps_score_params p = params ? *params : ps_score_default_params();
        if (logits == nullptr || targets == nullptr || n_rows < 0 || n_vocab <= 0) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_stats_compute: invalid argument");
        }
        const int32_t checked = check_score_params(p, n_vocab, "ps_stats_compute", out_stats, out_topk_ids, out_topk_logprobs);
        if (checked != PS_OK) return checked;
        for (int32_t r = 0; r < n_rows; ++r) {
            if (targets[r] < 0 || targets[r] >= n_vocab) {
                return fail(PS_ERR_TOKEN_OUT_OF_RANGE, "target %d of row %d is outside the vocabulary [0, %d)",
                            targets[r], r, n_vocab);
            }
        }
        const float inv_t = inverse_temperature(p);
        const int32_t k = p.top_k;
        int32_t bad = -1;
        const int32_t st = reduce_rows(n_rows, n_vocab, inv_t, k, resolve_threads(n_threads), [&](int32_t r) {
            return RowJob{logits + static_cast<int64_t>(r) * n_vocab, targets[r], out_stats + r,
                          k ? out_topk_ids + static_cast<int64_t>(r) * k : nullptr,
                          k ? out_topk_logprobs + static_cast<int64_t>(r) * k : nullptr};
        }, &bad);
        if (st == PS_ERR_NAN_LOGITS) return fail(st, "row %d holds NaN or +inf logits, or no finite logit", bad);
        if (st != PS_OK) return fail(st, "out of memory while reducing row %d", bad);
        return PS_OK;
    });
}

// offsetof/sizeof for every struct of the ABI, so the Java bindings can check their layouts.
int32_t ps_abi_layout(const char * struct_name, const char * field, int64_t * out) {
    if (struct_name == nullptr || out == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "ps_abi_layout: NULL argument");
    clear_error();
#define PS_STRUCT(S)                                                                    \
    if (std::strcmp(struct_name, #S) == 0) {                                            \
        if (field == nullptr) { *out = static_cast<int64_t>(sizeof(S)); return PS_OK; }
#define PS_FIELD(S, F)                                                                  \
        if (std::strcmp(field, #F) == 0) { *out = static_cast<int64_t>(offsetof(S, F)); return PS_OK; }
#define PS_END(S)                                                                       \
        return fail(PS_ERR_INVALID_ARGUMENT, "struct %s has no field %s", #S, field);   \
    }
    PS_STRUCT(ps_model_params)
        PS_FIELD(ps_model_params, n_gpu_layers) PS_FIELD(ps_model_params, main_gpu)
        PS_FIELD(ps_model_params, use_mmap) PS_FIELD(ps_model_params, check_tensors)
    PS_END(ps_model_params)
    PS_STRUCT(ps_model_info)
        PS_FIELD(ps_model_info, n_vocab) PS_FIELD(ps_model_info, n_ctx_train) PS_FIELD(ps_model_info, n_embd)
        PS_FIELD(ps_model_info, n_layer) PS_FIELD(ps_model_info, bos_id) PS_FIELD(ps_model_info, eos_id)
        PS_FIELD(ps_model_info, eot_id) PS_FIELD(ps_model_info, add_bos) PS_FIELD(ps_model_info, n_params)
        PS_FIELD(ps_model_info, size_bytes)
    PS_END(ps_model_info)
    PS_STRUCT(ps_token_stats)
        PS_FIELD(ps_token_stats, logprob) PS_FIELD(ps_token_stats, entropy) PS_FIELD(ps_token_stats, rank)
        PS_FIELD(ps_token_stats, argmax_id) PS_FIELD(ps_token_stats, argmax_logprob) PS_FIELD(ps_token_stats, target_id)
    PS_END(ps_token_stats)
    PS_STRUCT(ps_score_params)
        PS_FIELD(ps_score_params, temperature) PS_FIELD(ps_score_params, top_k)
    PS_END(ps_score_params)
    PS_STRUCT(ps_engine_params)
        PS_FIELD(ps_engine_params, n_ctx) PS_FIELD(ps_engine_params, n_batch) PS_FIELD(ps_engine_params, n_ubatch)
        PS_FIELD(ps_engine_params, n_seq_max) PS_FIELD(ps_engine_params, n_threads)
        PS_FIELD(ps_engine_params, skip_logits_copy) PS_FIELD(ps_engine_params, flash_attn) PS_FIELD(ps_engine_params, kv_per_seq)
    PS_END(ps_engine_params)
    PS_STRUCT(ps_sequence)
        PS_FIELD(ps_sequence, tokens) PS_FIELD(ps_sequence, n_tokens) PS_FIELD(ps_sequence, score_begin)
        PS_FIELD(ps_sequence, score_end) PS_FIELD(ps_sequence, prefix_group) PS_FIELD(ps_sequence, prefix_len)
    PS_END(ps_sequence)
    PS_STRUCT(ps_append)
        PS_FIELD(ps_append, seq_id) PS_FIELD(ps_append, pos) PS_FIELD(ps_append, tokens) PS_FIELD(ps_append, n_tokens)
    PS_END(ps_append)
    PS_STRUCT(ps_chat_message)
        PS_FIELD(ps_chat_message, role) PS_FIELD(ps_chat_message, content)
    PS_END(ps_chat_message)
    PS_STRUCT(ps_sampling_params)
        PS_FIELD(ps_sampling_params, temperature) PS_FIELD(ps_sampling_params, top_p) PS_FIELD(ps_sampling_params, min_p)
        PS_FIELD(ps_sampling_params, top_k) PS_FIELD(ps_sampling_params, seed)
    PS_END(ps_sampling_params)
#undef PS_STRUCT
#undef PS_FIELD
#undef PS_END
    return fail(PS_ERR_INVALID_ARGUMENT, "unknown struct %s", struct_name);
}

} // extern "C"
