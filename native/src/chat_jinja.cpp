// ps_chat_render_jinja: chat templates through llama.cpp's own Jinja engine (common/jinja, the one
// `llama-server --jinja` uses), with the variables and the continue_final_message rule of Hugging
// Face's apply_chat_template, so that a rendering equals what Python's jinja2 gives with HF's
// settings (trim_blocks, lstrip_blocks; raise_exception, strftime_now and tojson are built into the
// engine). The engine is driven directly, not through common_chat_templates_apply: that one also
// rewrites messages (merges system turns, adds tool polyfills) and renders continued messages its
// own way, which is not what HF or vLLM do.
#include "errors.h"
#include "internal.h"

#include "chat.h"
#include "common.h"
#include "jinja/lexer.h"
#include "jinja/parser.h"
#include "jinja/runtime.h"
#include "jinja/value.h"

#include <cstring>
#include <string>

using panscore::fail;
using panscore::guarded;

namespace {

// Python's str.isspace() for the ASCII range, which is what str.strip() removes at the ends of
// chat messages in practice (non-ASCII whitespace at a message's very end is not handled).
bool py_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

std::string lstrip(const std::string & s) {
    size_t b = 0;
    while (b < s.size() && py_space(static_cast<unsigned char>(s[b]))) ++b;
    return s.substr(b);
}

std::string strip(const std::string & s) {
    std::string l = lstrip(s);
    size_t e = l.size();
    while (e > 0 && py_space(static_cast<unsigned char>(l[e - 1]))) --e;
    return l.substr(0, e);
}

std::string token_text(const llama_vocab * vocab, llama_token id) {
    return id == LLAMA_TOKEN_NULL ? std::string() : common_token_to_piece(vocab, id, true);
}

} // namespace

int32_t ps_chat_render_jinja(const ps_model * model, const char * tmpl, const ps_chat_message * messages, int32_t n_messages,
                             int32_t add_generation_prompt, int32_t continue_final, char * buf, int32_t buf_size,
                             int32_t * out_len) {
    return guarded("ps_chat_render_jinja", [&]() -> int32_t {
        if (out_len == nullptr || n_messages < 0 || buf_size < 0 || (messages == nullptr && n_messages > 0) ||
            (buf == nullptr && buf_size > 0) || (model == nullptr && tmpl == nullptr)) {
            return fail(PS_ERR_INVALID_ARGUMENT, "ps_chat_render_jinja: invalid argument");
        }
        if (add_generation_prompt != 0 && continue_final != 0) {
            return fail(PS_ERR_INVALID_ARGUMENT,
                        "add_generation_prompt and continue_final exclude each other (the final message is continued, no new turn opens)");
        }
        if (continue_final != 0 && n_messages == 0) {
            return fail(PS_ERR_INVALID_ARGUMENT, "continue_final needs a final message to continue");
        }
        std::string src;
        if (tmpl != nullptr) {
            src = tmpl;
        } else {
            const char * t = llama_model_chat_template(model->model, nullptr);
            if (t == nullptr) return fail(PS_ERR_INVALID_ARGUMENT, "the model has no chat template (tokenizer.chat_template)");
            src = t;
        }
        std::string bos, eos;
        if (model != nullptr) {
            bos = token_text(model->vocab, llama_vocab_bos(model->vocab));
            eos = token_text(model->vocab, llama_vocab_eos(model->vocab));
        }
        common_json msgs = common_json::array();
        for (int32_t i = 0; i < n_messages; ++i) {
            if (messages[i].role == nullptr || messages[i].content == nullptr) {
                return fail(PS_ERR_INVALID_ARGUMENT, "message %d has no role or content", i);
            }
            common_json m = common_json::object();
            m["role"] = std::string(messages[i].role);
            m["content"] = std::string(messages[i].content);
            msgs.push_back(m);
        }
        std::string out;
        try {
            jinja::lexer lexer;
            auto lexed = lexer.tokenize(src);
            jinja::program prog = jinja::parse_from_tokens(lexed);
            jinja::context ctx(lexed.source);
            common_json vars = common_json::object();
            vars["messages"] = msgs;
            vars["bos_token"] = bos;
            vars["eos_token"] = eos;
            vars["add_generation_prompt"] = add_generation_prompt != 0;
            jinja::global_from_json(ctx, vars, /* mark_input */ false);
            jinja::runtime runtime(ctx);
            const jinja::value result = runtime.execute(prog);
            out = jinja::runtime::gather_string_parts(result)->as_string().str();
        } catch (const std::bad_alloc &) {
            throw;
        } catch (const std::exception & e) {
            return fail(PS_ERR_INVALID_ARGUMENT, "the chat template failed: %s", e.what());
        }
        if (continue_final != 0) {
            // HF apply_chat_template(continue_final_message=True): cut the rendering right after the
            // last occurrence of the final message's text, keeping its trailing whitespace when the
            // template kept it.
            const std::string final_msg = messages[n_messages - 1].content;
            const std::string stripped = strip(final_msg);
            const size_t at = out.rfind(stripped);
            if (at == std::string::npos) {
                return fail(PS_ERR_INVALID_ARGUMENT,
                            "continue_final: the final message does not appear in the rendered chat (the template changes it)");
            }
            const size_t keep = lstrip(final_msg).size();
            if (out.compare(at, keep, final_msg) == 0 && at + keep <= out.size()) {
                out.resize(at + keep);
            } else {
                out.resize(at + stripped.size());
            }
        }
        if (out.size() > static_cast<size_t>(INT32_MAX)) return fail(PS_ERR_INVALID_ARGUMENT, "the rendered chat exceeds 2 GiB");
        const int32_t n = static_cast<int32_t>(out.size());
        *out_len = n;
        if (n > buf_size) return fail(PS_ERR_BUFFER_TOO_SMALL, "the rendered chat needs %d bytes", n);
        if (n > 0) std::memcpy(buf, out.data(), static_cast<size_t>(n));
        return PS_OK;
    });
}
