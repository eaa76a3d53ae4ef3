/*
 * panscore.h — the whole native ABI of panscore.
 *
 * panscore scores token sequences under a language model loaded by llama.cpp. For every scored
 * position it returns a handful of numbers (target log-prob, full-vocabulary entropy, rank, argmax,
 * optional top-k), reduced in native code in one pass over each logits row, right where llama.cpp
 * produces the row. No logits row ever has to leave this library.
 *
 * Conventions (the same for every function):
 *   - Opaque handles (ps_model, ps_engine), created and freed in pairs: ps_<noun>_create/_load and
 *     ps_<noun>_free. Free functions accept NULL.
 *   - Every fallible function returns an int32_t status (enum ps_status). PS_OK is 0. On failure,
 *     ps_last_error() returns a message for the calling thread, valid until that thread's next call.
 *   - Parameter structs come from ps_*_default_params(); every field documents its unit and what 0
 *     means. Only fixed-width types cross this boundary.
 *   - No C++ exception ever crosses this boundary; llama.cpp and allocation failures become statuses.
 *   - Enum numbers are never reused.
 *
 * Thread-safety: a ps_model is immutable after loading and may be shared by engines on many threads.
 * A ps_engine holds a llama.cpp context and KV cache and must be used by one thread at a time.
 * ps_stats_compute and the tokenizer functions are thread-safe.
 */
#ifndef PANSCORE_H
#define PANSCORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define PS_API __declspec(dllexport)
#else
#  define PS_API __attribute__((visibility("default")))
#endif

#define PS_ABI_VERSION 2

/* ---------------------------------------------------------------------------------------------- */
/* Status codes                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

enum ps_status {
    PS_OK                    = 0,
    PS_ERR_INVALID_ARGUMENT  = 1,  /* a NULL pointer, a negative size, an inconsistent parameter    */
    PS_ERR_FILE_NOT_FOUND    = 2,  /* the model path does not exist or cannot be read               */
    PS_ERR_MODEL_FORMAT      = 3,  /* the file is not a GGUF model llama.cpp can load (or truncated) */
    PS_ERR_TOKEN_OUT_OF_RANGE= 4,  /* a token id is < 0 or >= the vocabulary size                   */
    PS_ERR_CONTEXT_OVERFLOW  = 5,  /* a sequence is longer than the engine's context (n_ctx)        */
    PS_ERR_EMPTY_INPUT       = 6,  /* no sequence, an empty sequence or an empty scoring range      */
    PS_ERR_NAN_LOGITS        = 7,  /* a logits row holds NaN or +inf, or no finite entry at all     */
    PS_ERR_DECODE_FAILED     = 8,  /* llama_decode failed (no KV slot, compute failure)             */
    PS_ERR_OUT_OF_MEMORY     = 9,  /* an allocation failed                                          */
    PS_ERR_BUFFER_TOO_SMALL  = 10, /* an output buffer is too small; the needed size is reported    */
    PS_ERR_BACKEND           = 11, /* the requested backend or device is not available              */
    PS_ERR_INTERNAL          = 12, /* a bug in panscore: please report the message                  */
    PS_ERR_CAPACITY          = 13  /* the KV cache has no room for more tokens (free some sessions)  */
};

/* The message of the calling thread's last failure ("" if none). Never NULL. */
PS_API const char * ps_last_error(void);

/* The library version ("MAJOR.MINOR.PATCH"), the llama.cpp commit it was built from, and the
 * compiled-in backends ("cpu", "cpu,cuda"). Never NULL, static storage. */
PS_API const char * ps_version(void);
PS_API const char * ps_llama_commit(void);
PS_API const char * ps_backends(void);

/* The ABI version of the loaded library; bindings compare it with PS_ABI_VERSION. */
PS_API int32_t ps_abi_version(void);

/* llama.cpp's own log output: PS_LOG_NONE (default: silent), _ERROR, _WARN, _INFO (to stderr). */
enum ps_log_level { PS_LOG_NONE = 0, PS_LOG_ERROR = 1, PS_LOG_WARN = 2, PS_LOG_INFO = 3 };
PS_API void ps_log_set_level(int32_t level);

/* ---------------------------------------------------------------------------------------------- */
/* Models                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

typedef struct ps_model ps_model;

typedef struct ps_model_params {
    int32_t n_gpu_layers; /* layers offloaded to the GPU; 0 = CPU only, -1 = all              */
    int32_t main_gpu;     /* GPU index used when n_gpu_layers != 0                             */
    int32_t use_mmap;     /* 1 = map the file (default), 0 = read it into memory               */
    int32_t check_tensors;/* 1 = validate tensor data while loading (slow), 0 = don't (default) */
} ps_model_params;

typedef struct ps_model_info {
    int32_t n_vocab;      /* vocabulary size: valid token ids are [0, n_vocab)                 */
    int32_t n_ctx_train;  /* context length the model was trained with, in tokens              */
    int32_t n_embd;       /* hidden size                                                       */
    int32_t n_layer;      /* number of transformer blocks                                      */
    int32_t bos_id;       /* beginning-of-sequence token, -1 if none                           */
    int32_t eos_id;       /* end-of-sequence token, -1 if none                                 */
    int32_t eot_id;       /* end-of-turn token, -1 if none                                     */
    int32_t add_bos;      /* 1 if the tokenizer prepends BOS by default                        */
    int64_t n_params;     /* number of weights                                                 */
    int64_t size_bytes;   /* size of the weights in bytes                                      */
} ps_model_info;

PS_API ps_model_params ps_model_default_params(void);

/* Loads a GGUF model. On failure *out is NULL and the status says why (PS_ERR_FILE_NOT_FOUND,
 * PS_ERR_MODEL_FORMAT, PS_ERR_BACKEND, PS_ERR_OUT_OF_MEMORY). */
PS_API int32_t ps_model_load(const char * path, const ps_model_params * params, ps_model ** out);
PS_API void    ps_model_free(ps_model * model);

PS_API int32_t ps_model_info_get(const ps_model * model, ps_model_info * out);

/* Copies a metadata value as a NUL-terminated string into buf (buf_size bytes, may be 0 to ask).
 * *out_len receives the value's length without the NUL. Returns PS_ERR_INVALID_ARGUMENT with
 * *out_len = -1 when the key is absent, PS_ERR_BUFFER_TOO_SMALL when buf cannot hold it.
 * Useful keys: "general.architecture", "general.name", "tokenizer.chat_template". */
PS_API int32_t ps_model_meta(const ps_model * model, const char * key, char * buf, int64_t buf_size,
                             int64_t * out_len);

/* Tokenizes text_len bytes of UTF-8. add_special: prepend BOS (and append EOS) when the model
 * asks for it; parse_special: treat special-token texts like "<|im_end|>" as one token.
 * Writes at most n_max ids; *out_n receives the count (the needed count on BUFFER_TOO_SMALL). */
PS_API int32_t ps_tokenize(const ps_model * model, const char * text, int32_t text_len,
                           int32_t add_special, int32_t parse_special,
                           int32_t * tokens, int32_t n_max, int32_t * out_n);

/* Renders tokens back to UTF-8 text (not NUL-terminated). render_special: include the text of
 * special tokens. *out_len receives the byte count (the needed count on BUFFER_TOO_SMALL). */
PS_API int32_t ps_detokenize(const ps_model * model, const int32_t * tokens, int32_t n_tokens,
                             int32_t render_special, char * buf, int32_t buf_size, int32_t * out_len);

/* The exact text piece of one token, as the tokenizer made it (not NUL-terminated): a
 * SentencePiece token "\u2581w" gives " w" (ps_detokenize drops the leading space of a sequence's
 * first token when the tokenizer adds a space prefix; this never does). Concatenating the pieces of
 * a tokenization gives the tokenized text, plus a leading space where the tokenizer added one.
 * render_special: include the text of special tokens. *out_len receives the byte count (the needed
 * count on BUFFER_TOO_SMALL). */
PS_API int32_t ps_token_piece(const ps_model * model, int32_t token, int32_t render_special, char * buf,
                              int32_t buf_size, int32_t * out_len);

/* The names of llama.cpp's built-in chat templates (what ps_chat_render accepts as tmpl besides a
 * template string), comma-separated, not NUL-terminated. *out_len receives the byte count (the
 * needed count on BUFFER_TOO_SMALL). */
PS_API int32_t ps_chat_builtin_templates(char * buf, int32_t buf_size, int32_t * out_len);

/* ---------------------------------------------------------------------------------------------- */
/* Per-position statistics (SPEC §1)                                                              */
/* ---------------------------------------------------------------------------------------------- */

/* What is computed for each scored position: z = logits / temperature, logZ = logsumexp(z). */
typedef struct ps_token_stats {
    float   logprob;        /* z[target] - logZ, nats                                           */
    float   entropy;        /* -sum p log p over the full vocabulary, nats                      */
    int32_t rank;           /* 1 + #{v : z[v] > z[target]}: 1-based, ties get the better rank   */
    int32_t argmax_id;      /* the id with the largest logit, lowest id on ties                 */
    float   argmax_logprob; /* z[argmax] - logZ, nats                                           */
    int32_t target_id;      /* the token that actually follows (echoed for convenience)         */
} ps_token_stats;

typedef struct ps_score_params {
    float   temperature;    /* statistics are computed on logits / temperature; 0 means 1.0     */
    int32_t top_k;          /* ids and log-probs of the k best tokens per position; 0 = none     */
} ps_score_params;

PS_API ps_score_params ps_score_default_params(void);

/* The fused reduction on rows the caller provides: n_rows rows of n_vocab floats, row r scored
 * against targets[r]. Multi-threaded over rows with n_threads threads (0 = all cores).
 * topk_ids/topk_logprobs receive n_rows * top_k entries (may be NULL when top_k == 0).
 * The same kernel ps_score runs on llama.cpp's logits; exposed for tests and custom pipelines. */
PS_API int32_t ps_stats_compute(const float * logits, int32_t n_rows, int32_t n_vocab,
                                const int32_t * targets, const ps_score_params * params,
                                int32_t n_threads, ps_token_stats * out_stats,
                                int32_t * out_topk_ids, float * out_topk_logprobs);

/* ---------------------------------------------------------------------------------------------- */
/* Engines                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

typedef struct ps_engine ps_engine;

typedef struct ps_engine_params {
    int32_t n_ctx;            /* KV cache size in tokens, shared by all sequences; 0 = the model's
                                 training context, at most 4096                                  */
    int32_t n_batch;          /* most tokens passed to one llama_decode; 0 = 512 (capped to n_ctx).
                                 llama.cpp keeps an output buffer of n_batch x n_vocab floats    */
    int32_t n_ubatch;         /* most tokens computed at once (micro-batch); 0 = 512, <= n_batch  */
    int32_t n_seq_max;        /* most sequences packed into one decode; 0 = 16                   */
    int32_t n_threads;        /* threads for the forward pass and the reduction; 0 = all cores   */
    int32_t skip_logits_copy; /* whether llama.cpp still copies every logits row into its host
                                 output buffer while ps_score reads the rows in place:
                                 -1 (default) = skip it when the logits live on a GPU, where the
                                 copy is a device-to-host transfer of [tokens x vocab] floats;
                                 keep it on the CPU, where skipping saves nothing measurable but
                                 makes llama.cpp reserve 3x more output memory (see BENCHMARKS);
                                 1 = skip; 0 = keep                                               */
    int32_t flash_attn;       /* 0 (default): off. llama.cpp's CPU flash attention accumulates in
                                 F16, so results then depend on how sequences are packed (~1e-4);
                                 1: on; -1: llama.cpp decides                                    */
    int32_t kv_per_seq;       /* 0 (default): one KV cache shared by every sequence (unified); the
                                 logits rows are reduced inside llama.cpp's graph, in batch order.
                                 1: one KV stream per sequence slot (llama.cpp's kv_unified =
                                 false, what llama-server uses for parallel slots): a token attends
                                 only over its own sequence's cells, so packed sequences do not pay
                                 for each other's attention. Each slot then holds at most n_ctx /
                                 n_seq_max tokens (llama.cpp rounds that up to a multiple of 256
                                 and n_ctx to slots x that; ps_engine_params_get reports the
                                 effective n_ctx). llama.cpp then splits a batch per sequence, so
                                 rows are read from its output buffer after each decode (the
                                 statistics are the same, bit for bit). Sharing a prompt or forking
                                 a session copies the source slot's whole stream (a memory copy,
                                 no decode). */
} ps_engine_params;

PS_API ps_engine_params ps_engine_default_params(void);

/* Creates an engine on a loaded model. The model must outlive the engine. */
PS_API int32_t ps_engine_create(ps_model * model, const ps_engine_params * params, ps_engine ** out);
PS_API void    ps_engine_free(ps_engine * engine);

/* The effective parameters (defaults resolved). */
PS_API int32_t ps_engine_params_get(const ps_engine * engine, ps_engine_params * out);

/* One sequence to score. Position t (1 <= t < n_tokens) is scored by the logits that predict
 * tokens[t] from tokens[0..t-1]; the positions [score_begin, score_end) are scored.
 *
 * Shared prompts: sequences of one call with the same prefix_group > 0 start with the same
 * prefix_len tokens (N responses sampled for one prompt). The engine decodes that prefix once and
 * copies its KV cache entries to every member (llama.cpp's memory sequence copy, which shares the
 * cells rather than duplicating them), then decodes only each member's own tokens. The statistics
 * are the same as without sharing. */
typedef struct ps_sequence {
    const int32_t * tokens;   /* n_tokens token ids                                          */
    int32_t n_tokens;         /* length, 2 .. n_ctx                                          */
    int32_t score_begin;      /* first scored position, >= 1                                 */
    int32_t score_end;        /* one past the last scored position, <= n_tokens, > begin      */
    int32_t prefix_group;     /* 0 = shares nothing; > 0 = id of a group sharing a prefix     */
    int32_t prefix_len;       /* tokens shared by the group (the same in every member)       */
} ps_sequence;

/* Scores n_seqs sequences. The engine packs them into decodes of up to n_batch tokens and
 * n_seq_max sequences, splits long ones across decodes, and reduces every logits row in place.
 * Results are written in input order: for each sequence, for each scored position in order.
 * out_stats holds sum(score_end - score_begin) entries; out_topk_* that many times top_k (may be
 * NULL when top_k == 0). Everything is validated before any decode: on failure nothing was
 * written beyond what the status describes and the engine stays usable. The KV cache is cleared
 * at the start of every call. */
PS_API int32_t ps_score(ps_engine * engine, const ps_sequence * seqs, int32_t n_seqs,
                        const ps_score_params * params, ps_token_stats * out_stats,
                        int32_t * out_topk_ids, float * out_topk_logprobs);

/* ---------------------------------------------------------------------------------------------- */
/* Sessions: stateful decoding that keeps the KV cache between calls                             */
/* ---------------------------------------------------------------------------------------------- */

/* Tokens that continue one sequence slot of the engine. A slot (0 .. n_seq_max-1) holds one
 * session's context in the KV cache between calls; the caller decides which slot is which session.
 * ps_score and ps_forward clear every slot, so an engine serves either sessions or batch scoring. */
typedef struct ps_append {
    int32_t seq_id;           /* the slot, 0 .. n_seq_max-1                                    */
    int32_t pos;              /* position of tokens[0] = tokens already in the slot            */
    const int32_t * tokens;   /* the tokens to decode                                         */
    int32_t n_tokens;         /* >= 1                                                         */
} ps_append;

/* Decodes every append into its slot (packed into as few decodes as fit) and reduces the logits
 * after each append's last token: the distribution of the token that would come next. out_stats[i]
 * holds its entropy and argmax (target_id 0: logprob and rank then refer to token 0); top-k as in
 * ps_score. Each slot may appear once per call. On failure every append of the call is undone, so
 * the slots hold what they held before. PS_ERR_CAPACITY when the KV cache is full. */
PS_API int32_t ps_session_decode(ps_engine * engine, const ps_append * appends, int32_t n_appends,
                                 const ps_score_params * params, ps_token_stats * out_stats,
                                 int32_t * out_topk_ids, float * out_topk_logprobs);

/* Copies the first n_tokens of slot src into slot dst (which must be empty): a fork. The KV
 * cells are shared, not duplicated, until either side appends. */
PS_API int32_t ps_session_copy(ps_engine * engine, int32_t src, int32_t dst, int32_t n_tokens);

/* Empties a slot, freeing its KV cells (those not shared with other slots). */
PS_API int32_t ps_session_clear(ps_engine * engine, int32_t seq_id);

/* Tokens currently in a slot (0 when empty). */
PS_API int32_t ps_session_length(ps_engine * engine, int32_t seq_id, int32_t * out_n);

/* Generation: sampling the next token of sessions (llama.cpp's sampler chain) --------------------- */

/* A sampler's state between calls: a llama.cpp sampler chain (top-k, top-p, min-p, temperature,
 * then a seeded draw) and its random generator. One sampler per generation; it must be used by one
 * thread at a time. NULL where a ps_sampler is expected means greedy. */
typedef struct ps_sampler ps_sampler;

typedef struct ps_sampling_params {
    float   temperature; /* the logits are divided by it before the draw; 0 = greedy: the argmax
                            (lowest id on ties), no random draw, the other fields ignored         */
    float   top_p;       /* keep the most likely tokens until their probability reaches top_p,
                            in [0, 1]; 0 or 1 = off                                               */
    float   min_p;       /* drop tokens less likely than min_p times the most likely, in [0, 1);
                            0 = off                                                               */
    int32_t top_k;       /* keep the top_k most likely tokens; 0 = off                            */
    int64_t seed;        /* seed of the random generator, 0 .. 4294967294; -1 = a random seed    */
} ps_sampling_params;

/* temperature 1, top_p 1 (off), min_p 0 (off), top_k 0 (off), seed -1 (random). */
PS_API ps_sampling_params ps_sampling_default_params(void);

/* Creates a sampler. PS_ERR_INVALID_ARGUMENT for a parameter out of its range. */
PS_API int32_t ps_sampler_create(const ps_sampling_params * params, ps_sampler ** out);
PS_API void    ps_sampler_free(ps_sampler * sampler);

/* Decodes every append into its slot, as ps_session_decode does, then picks the token that follows
 * each append with samplers[i] (samplers may be NULL, and so may each entry: greedy) from the logits
 * after the append's last token, on the host, right after the decode that produced them.
 * out_stats[i] describes that token under the UNMODIFIED distribution (params->temperature, 0
 * meaning 1; the sampler's temperature and truncations do not apply): target_id is the sampled
 * token, logprob and rank are its own, entropy, argmax and top-k (params->top_k, as in ps_score)
 * those of the whole distribution: one fused reduction per row, nothing copied out. out_eog[i]
 * (may be NULL) is 1 when the token ends generation (llama_vocab_is_eog), else 0.
 * The sampled token is not decoded: append it in the next call. An append may start before the end
 * of its slot (pos < the slot's length, e.g. pos = length - 1 with the slot's last token, to get
 * the distribution after a context that was decoded earlier): the slot's tokens from pos on are
 * removed first. On failure every append of the call is undone (the slot then holds its first pos
 * tokens) and nothing is written beyond what the status describes; the samplers' random state may
 * have advanced. PS_ERR_CAPACITY when the KV cache is full; PS_ERR_NAN_LOGITS when a row holds NaN
 * or +inf or no finite logit. */
PS_API int32_t ps_session_sample(ps_engine * engine, const ps_append * appends, int32_t n_appends,
                                 ps_sampler * const * samplers, const ps_score_params * params,
                                 ps_token_stats * out_stats, int32_t * out_topk_ids,
                                 float * out_topk_logprobs, int32_t * out_eog);

/* ---------------------------------------------------------------------------------------------- */
/* Chat templates                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

typedef struct ps_chat_message {
    const char * role;        /* "system", "user", "assistant", ... (UTF-8, NUL-terminated)   */
    const char * content;     /* the message text (UTF-8, NUL-terminated)                     */
} ps_chat_message;

/* Renders messages with a chat template into UTF-8 text (not NUL-terminated). tmpl: NULL = the
 * model's own template (tokenizer.chat_template), else a template string or the name of one of
 * llama.cpp's built-in templates ("chatml", "llama3", ...). llama.cpp recognises templates by
 * pattern, not with a Jinja engine: an unrecognised template is PS_ERR_INVALID_ARGUMENT.
 * ps_chat_render_jinja below renders with a real Jinja engine.
 * add_assistant: end with the opening of an assistant turn. *out_len receives the byte count (the
 * needed count on PS_ERR_BUFFER_TOO_SMALL). */
PS_API int32_t ps_chat_render(const ps_model * model, const char * tmpl, const ps_chat_message * messages,
                              int32_t n_messages, int32_t add_assistant, char * buf, int32_t buf_size,
                              int32_t * out_len);

/* Renders messages with a Jinja chat template through llama.cpp's own Jinja engine (common/jinja,
 * the one `llama-server --jinja` uses), as Hugging Face's apply_chat_template does: the template
 * sees `messages` (role, content), `bos_token` and `eos_token` (the model's, "" without a model),
 * `add_generation_prompt`, with trim_blocks and lstrip_blocks, raise_exception, strftime_now and
 * tojson. Messages are passed as they are (no system turn merged or added).
 * model: may be NULL when tmpl is given. tmpl: NULL = the model's tokenizer.chat_template, else the
 * Jinja source. add_generation_prompt: end with the opening of an assistant turn.
 * continue_final: leave the last message open (HF's continue_final_message): the rendering is cut
 * right after the last occurrence of its text (keeping its trailing whitespace when the template
 * keeps it); excludes add_generation_prompt. A template that fails to parse or raises is
 * PS_ERR_INVALID_ARGUMENT with the engine's message. *out_len receives the byte count (the needed
 * count on PS_ERR_BUFFER_TOO_SMALL); the text is not NUL-terminated. */
PS_API int32_t ps_chat_render_jinja(const ps_model * model, const char * tmpl, const ps_chat_message * messages,
                                    int32_t n_messages, int32_t add_generation_prompt, int32_t continue_final,
                                    char * buf, int32_t buf_size, int32_t * out_len);

/* The baselines ps_score is measured against, with the same packing and validation:
 * a plain llama.cpp forward pass that asks for the logits of every scored position and computes
 * no statistics. When out_logits is not NULL the scored rows (n_vocab floats each, same order as
 * ps_score's results) are copied there: this is the "copy the logits out" path, used by tests to
 * compare the fused statistics with a float64 reference, and by the naive benchmark. */
PS_API int32_t ps_forward(ps_engine * engine, const ps_sequence * seqs, int32_t n_seqs,
                          float * out_logits, int64_t out_logits_len);

/* ---------------------------------------------------------------------------------------------- */
/* ABI introspection                                                                              */
/* ---------------------------------------------------------------------------------------------- */

/* sizeof(struct_name) when field is NULL, else offsetof(struct_name, field), into *out.
 * Lets the bindings check their struct layouts against the compiler's. PS_ERR_INVALID_ARGUMENT
 * for an unknown struct or field. */
PS_API int32_t ps_abi_layout(const char * struct_name, const char * field, int64_t * out);

#ifdef __cplusplus
}
#endif

#endif /* PANSCORE_H */
