// panscore's GPU check tool (driven by native/gpu/check.sh): writes a fixture model, checks
// ps_score on the GPU against a float64 reference end to end, and times fused scoring against the
// plain forward pass. Links libpanscore (the public C ABI only) and ggml-base (for GGUF writing).
//
//   gpu_bench fixture --vocab ggml-vocab-qwen2.gguf --out model.gguf [--preset small|0.5b] [--seed N]
//       A qwen2-architecture model with seeded random F16 weights and the full vocabulary file's
//       tokenizer (like the Java fixture writer's presets, without its distribution shaping: the
//       numbers only need to be finite for timing and parity).
//   gpu_bench text --model model.gguf --out text.txt [--tokens N]
//       Random regular tokens, detokenized: input for llama-perplexity.
//   gpu_bench verify --model model.gguf [--gpu-layers N]
//       ps_score (top-8 at T=1, and T=0.7) against a float64 reference over the logits that
//       ps_forward copies out, on sequences that span several decodes and micro-batches.
//   gpu_bench bench --model model.gguf [--gpu-layers N] [--seqs N] [--len L] [--begin B] [--reps R]
//       Times ps_score (top-k 0 and 20) and ps_forward (logits copied to the host by llama.cpp,
//       no statistics) on the same sequences; prints "RESULT name=... " lines for check.sh.
//
// Exit status: 0 on success, 1 on a failed check, 2 on a usage or setup error.
#include "panscore.h"
#include "row_stats_cases.h" // the float64 reference of SPEC §1

#include "ggml.h"
#include "gguf.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

using Args = std::map<std::string, std::string>;

Args parse(int argc, char ** argv, int first) {
    Args a;
    for (int i = first; i < argc; ++i) {
        std::string k = argv[i];
        if (k.rfind("--", 0) != 0 || i + 1 >= argc) {
            std::fprintf(stderr, "gpu_bench: bad argument '%s' (options are --name value)\n", argv[i]);
            std::exit(2);
        }
        a[k.substr(2)] = argv[++i];
    }
    return a;
}

std::string need(const Args & a, const char * key) {
    auto it = a.find(key);
    if (it == a.end()) {
        std::fprintf(stderr, "gpu_bench: --%s is required\n", key);
        std::exit(2);
    }
    return it->second;
}

long opt(const Args & a, const char * key, long dflt) {
    auto it = a.find(key);
    return it == a.end() ? dflt : std::strtol(it->second.c_str(), nullptr, 10);
}

void check(int32_t st, const char * what) {
    if (st != PS_OK) {
        std::fprintf(stderr, "gpu_bench: %s failed with status %d: %s\n", what, st, ps_last_error());
        std::exit(2);
    }
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- fixture -------------------------------------------------------------------------------------

struct Preset {
    int d, layers, heads, heads_kv, ff;
};

int cmd_fixture(const Args & a) {
    const std::string vocab_path = need(a, "vocab"), out = need(a, "out"), preset = a.count("preset") ? a.at("preset") : "small";
    Preset p{};
    if (preset == "small") p = {256, 4, 4, 2, 512};            // the Java fixture's qwen2 full-vocabulary preset
    else if (preset == "0.5b") p = {896, 24, 14, 2, 4864};     // Qwen2.5-0.5B's shape
    else { std::fprintf(stderr, "gpu_bench: unknown preset %s (small, 0.5b)\n", preset.c_str()); return 2; }
    ps_test::Rng rng(static_cast<uint64_t>(opt(a, "seed", 42)));

    gguf_init_params ip{};
    ip.no_alloc = true;
    ip.ctx = nullptr;
    gguf_context * vocab = gguf_init_from_file(vocab_path.c_str(), ip);
    if (vocab == nullptr) { std::fprintf(stderr, "gpu_bench: cannot read %s\n", vocab_path.c_str()); return 2; }
    const int64_t tok_key = gguf_find_key(vocab, "tokenizer.ggml.tokens");
    if (tok_key < 0) { std::fprintf(stderr, "gpu_bench: %s has no tokenizer.ggml.tokens\n", vocab_path.c_str()); return 2; }
    const int64_t n_vocab = static_cast<int64_t>(gguf_get_arr_n(vocab, tok_key));

    gguf_context * g = gguf_init_empty();
    gguf_set_kv(g, vocab); // tokenizer.* (and general.*, overwritten below)
    gguf_free(vocab);
    const int head = p.d / p.heads, d_kv = head * p.heads_kv;
    gguf_set_val_str(g, "general.architecture", "qwen2");
    gguf_set_val_str(g, "general.name", ("panscore-gpu-bench-qwen2-" + preset).c_str());
    gguf_set_val_u32(g, "general.file_type", 1); // mostly F16
    gguf_set_val_u32(g, "qwen2.block_count", static_cast<uint32_t>(p.layers));
    gguf_set_val_u32(g, "qwen2.context_length", 4096);
    gguf_set_val_u32(g, "qwen2.embedding_length", static_cast<uint32_t>(p.d));
    gguf_set_val_u32(g, "qwen2.feed_forward_length", static_cast<uint32_t>(p.ff));
    gguf_set_val_u32(g, "qwen2.attention.head_count", static_cast<uint32_t>(p.heads));
    gguf_set_val_u32(g, "qwen2.attention.head_count_kv", static_cast<uint32_t>(p.heads_kv));
    gguf_set_val_f32(g, "qwen2.rope.freq_base", 1000000.0f);
    gguf_set_val_f32(g, "qwen2.attention.layer_norm_rms_epsilon", 1e-6f);

    struct Spec { std::string name; bool f16; int64_t ne0, ne1; float std; float constant; };
    std::vector<Spec> specs;
    const int64_t d = p.d, ff = p.ff, dkv = d_kv;
    specs.push_back({"token_embd.weight", true, d, n_vocab, 1.0f, 0});
    specs.push_back({"output_norm.weight", false, d, 1, 0, 1.0f});
    specs.push_back({"output.weight", true, d, n_vocab, 1.0f / std::sqrt(static_cast<float>(d)), 0});
    for (int l = 0; l < p.layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        const float in_d = 1.0f / std::sqrt(static_cast<float>(d)), in_ff = 1.0f / std::sqrt(static_cast<float>(ff));
        specs.push_back({b + "attn_norm.weight", false, d, 1, 0, 1.0f});
        specs.push_back({b + "attn_q.weight", true, d, d, in_d, 0});
        specs.push_back({b + "attn_k.weight", true, d, dkv, in_d, 0});
        specs.push_back({b + "attn_v.weight", true, d, dkv, in_d, 0});
        specs.push_back({b + "attn_q.bias", false, d, 1, 0.02f, 0});
        specs.push_back({b + "attn_k.bias", false, dkv, 1, 0.02f, 0});
        specs.push_back({b + "attn_v.bias", false, dkv, 1, 0.02f, 0});
        specs.push_back({b + "attn_output.weight", true, d, d, 0.5f * in_d, 0});
        specs.push_back({b + "ffn_norm.weight", false, d, 1, 0, 1.0f});
        specs.push_back({b + "ffn_gate.weight", true, d, ff, in_d, 0});
        specs.push_back({b + "ffn_up.weight", true, d, ff, in_d, 0});
        specs.push_back({b + "ffn_down.weight", true, ff, d, 0.5f * in_ff, 0});
    }
    size_t bytes = 0;
    for (const Spec & s : specs) bytes += static_cast<size_t>(s.ne0 * s.ne1) * (s.f16 ? 2 : 4) + 64;
    ggml_init_params gp{};
    gp.mem_size = bytes + specs.size() * ggml_tensor_overhead() + (1u << 20);
    gp.mem_buffer = nullptr;
    gp.no_alloc = false;
    ggml_context * ctx = ggml_init(gp);
    if (ctx == nullptr) { std::fprintf(stderr, "gpu_bench: cannot allocate %zu bytes\n", bytes); return 2; }
    std::vector<float> tmp;
    for (const Spec & s : specs) {
        ggml_tensor * t = s.ne1 == 1 ? ggml_new_tensor_1d(ctx, s.f16 ? GGML_TYPE_F16 : GGML_TYPE_F32, s.ne0)
                                     : ggml_new_tensor_2d(ctx, s.f16 ? GGML_TYPE_F16 : GGML_TYPE_F32, s.ne0, s.ne1);
        ggml_set_name(t, s.name.c_str());
        const size_t n = static_cast<size_t>(s.ne0 * s.ne1);
        tmp.resize(n);
        // uniform with the wanted standard deviation: cheaper than Gaussian, as good for timing
        const double half_width = s.std * std::sqrt(3.0);
        for (size_t i = 0; i < n; ++i) {
            tmp[i] = s.std == 0 ? s.constant : static_cast<float>((2.0 * rng.uniform() - 1.0) * half_width);
        }
        if (s.f16) ggml_fp32_to_fp16_row(tmp.data(), static_cast<ggml_fp16_t *>(t->data), static_cast<int64_t>(n));
        else std::memcpy(t->data, tmp.data(), n * sizeof(float));
        gguf_add_tensor(g, t);
    }
    const std::string part = out + ".part";
    if (!gguf_write_to_file(g, part.c_str(), false) || std::rename(part.c_str(), out.c_str()) != 0) {
        std::fprintf(stderr, "gpu_bench: cannot write %s\n", out.c_str());
        return 2;
    }
    gguf_free(g);
    ggml_free(ctx);
    std::printf("gpu_bench: wrote %s (%s preset: d %d, %d layers, vocabulary %lld, %.0f MB)\n", out.c_str(), preset.c_str(),
                p.d, p.layers, static_cast<long long>(n_vocab), static_cast<double>(bytes) / 1e6);
    return 0;
}

// ---- shared: model, engine, sequences ------------------------------------------------------------

struct Loaded {
    ps_model * model = nullptr;
    ps_engine * engine = nullptr;
    ps_model_info info{};
    ~Loaded() {
        ps_engine_free(engine);
        ps_model_free(model);
    }
};

void load(Loaded & L, const std::string & path, int gpu_layers, const ps_engine_params & ep) {
    ps_log_set_level(PS_LOG_ERROR);
    ps_model_params mp = ps_model_default_params();
    mp.n_gpu_layers = gpu_layers;
    check(ps_model_load(path.c_str(), &mp, &L.model), "ps_model_load");
    check(ps_model_info_get(L.model, &L.info), "ps_model_info_get");
    check(ps_engine_create(L.model, &ep, &L.engine), "ps_engine_create");
}

// Token ids below this are regular tokens in the Qwen2 vocabulary (151,643 onwards are special).
int regular_limit(const ps_model_info & info) { return std::min(info.n_vocab, 151643); }

std::vector<int32_t> random_tokens(ps_test::Rng & rng, size_t n, int limit) {
    std::vector<int32_t> t(n);
    for (auto & x : t) x = rng.below(limit);
    return t;
}

int cmd_text(const Args & a) {
    ps_engine_params ep = ps_engine_default_params();
    ep.n_ctx = 256;
    Loaded L;
    load(L, need(a, "model"), 0, ep);
    ps_test::Rng rng(11);
    const auto toks = random_tokens(rng, static_cast<size_t>(opt(a, "tokens", 40000)), regular_limit(L.info));
    std::vector<char> buf(toks.size() * 64);
    int32_t len = 0;
    check(ps_detokenize(L.model, toks.data(), static_cast<int32_t>(toks.size()), 0, buf.data(),
                        static_cast<int32_t>(buf.size()), &len), "ps_detokenize");
    FILE * f = std::fopen(need(a, "out").c_str(), "wb");
    if (!f || std::fwrite(buf.data(), 1, static_cast<size_t>(len), f) != static_cast<size_t>(len) || std::fclose(f) != 0) {
        std::fprintf(stderr, "gpu_bench: cannot write %s\n", need(a, "out").c_str());
        return 2;
    }
    std::printf("gpu_bench: wrote %d bytes of text from %zu random tokens\n", len, toks.size());
    return 0;
}

// ---- verify --------------------------------------------------------------------------------------

int cmd_verify(const Args & a) {
    const int ngl = static_cast<int>(opt(a, "gpu-layers", -1));
    ps_engine_params ep = ps_engine_default_params();
    ep.n_ctx = 4096;
    ep.n_batch = 512;   // small decodes and micro-batches: sequences split across callbacks
    ep.n_ubatch = 256;
    ep.n_seq_max = 4;
    Loaded L;
    load(L, need(a, "model"), ngl, ep);
    const int V = L.info.n_vocab;
    ps_test::Rng rng(5);
    // long (split across decodes), medium, short with a late scoring range, and a packed group
    const int lens[] = {1300, 300, 40, 64, 64, 64};
    const int begins[] = {1, 1, 20, 1, 30, 63};
    std::vector<std::vector<int32_t>> toks;
    std::vector<ps_sequence> seqs;
    int64_t n_rows = 0;
    for (size_t i = 0; i < std::size(lens); ++i) toks.push_back(random_tokens(rng, static_cast<size_t>(lens[i]), regular_limit(L.info)));
    for (size_t i = 0; i < std::size(lens); ++i) {
        seqs.push_back(ps_sequence{toks[i].data(), lens[i], begins[i], lens[i]});
        n_rows += lens[i] - begins[i];
    }
    std::vector<float> logits(static_cast<size_t>(n_rows) * static_cast<size_t>(V));
    check(ps_forward(L.engine, seqs.data(), static_cast<int32_t>(seqs.size()), logits.data(),
                     static_cast<int64_t>(logits.size())), "ps_forward");
    std::vector<int32_t> targets;
    for (size_t i = 0; i < seqs.size(); ++i) {
        for (int t = begins[i]; t < lens[i]; ++t) targets.push_back(toks[i][static_cast<size_t>(t)]);
    }

    int failures = 0;
    struct Run { float temperature; int k; };
    for (Run run : {Run{1.0f, 8}, Run{0.7f, 0}}) {
        std::vector<ps_token_stats> stats(static_cast<size_t>(n_rows));
        std::vector<int32_t> ids(static_cast<size_t>(n_rows * run.k));
        std::vector<float> lps(static_cast<size_t>(n_rows * run.k));
        ps_score_params sp = ps_score_default_params();
        sp.temperature = run.temperature;
        sp.top_k = run.k;
        check(ps_score(L.engine, seqs.data(), static_cast<int32_t>(seqs.size()), &sp, stats.data(),
                       run.k ? ids.data() : nullptr, run.k ? lps.data() : nullptr), "ps_score");
        // ps_score's logits come from a second forward pass, so allow for last-bit differences:
        // 1e-4 on the real-valued statistics, and a few rank/argmax/top-k flips on near-ties.
        int64_t bad_rows = 0;
        std::string first;
        const float inv_t = 1.0f / run.temperature;
        for (int64_t r = 0; r < n_rows; ++r) {
            const float * row = logits.data() + r * V;
            const ps_test::Ref ref = ps_test::reference(row, V, targets[static_cast<size_t>(r)], inv_t, run.k);
            const ps_token_stats & s = stats[static_cast<size_t>(r)];
            auto near = [](double got, double want) {
                return std::isinf(want) ? got == want : std::fabs(got - want) <= 1e-4 * std::max(1.0, std::fabs(want));
            };
            std::string why;
            if (ref.status != PS_OK) why = "reference says the row has no distribution";
            else if (!near(s.logprob, ref.logprob)) why = ps_test::fmt("logprob %.7g vs %.7g", s.logprob, ref.logprob);
            else if (!near(s.entropy, ref.entropy)) why = ps_test::fmt("entropy %.7g vs %.7g", s.entropy, ref.entropy);
            else if (s.rank != ref.rank) why = ps_test::fmt("rank %d vs %d", s.rank, ref.rank);
            else if (s.argmax_id != ref.argmax) why = ps_test::fmt("argmax %d vs %d", s.argmax_id, ref.argmax);
            else if (s.target_id != targets[static_cast<size_t>(r)]) why = "target_id";
            for (int j = 0; j < run.k && why.empty(); ++j) {
                if (ids[static_cast<size_t>(r * run.k + j)] != ref.ids[static_cast<size_t>(j)]) why = ps_test::fmt("top-k[%d] id", j);
                else if (!near(lps[static_cast<size_t>(r * run.k + j)], ref.lps[static_cast<size_t>(j)])) why = ps_test::fmt("top-k[%d] logprob", j);
            }
            if (!why.empty()) {
                if (bad_rows++ == 0) first = ps_test::fmt("row %lld: %s", static_cast<long long>(r), why.c_str());
            }
        }
        const bool ok = bad_rows * 200 <= n_rows; // <= 0.5% of rows
        failures += !ok;
        std::printf("verify (gpu layers %d, T %.2f, top-%d): %s, %lld rows, %lld differ%s%s\n", ngl, run.temperature, run.k,
                    ok ? "PASS" : "FAIL", static_cast<long long>(n_rows), static_cast<long long>(bad_rows),
                    first.empty() ? "" : "; first: ", first.c_str());
    }
    return failures ? 1 : 0;
}

// ---- bench ---------------------------------------------------------------------------------------

int cmd_bench(const Args & a) {
    const int ngl = static_cast<int>(opt(a, "gpu-layers", -1));
    const int n_seqs = static_cast<int>(opt(a, "seqs", 64)), len = static_cast<int>(opt(a, "len", 512));
    const int begin = static_cast<int>(opt(a, "begin", 1)), reps = static_cast<int>(opt(a, "reps", 3));
    const std::string label = a.count("label") ? a.at("label") : "bench";
    ps_engine_params ep = ps_engine_default_params();
    ep.n_ctx = 4096;
    ep.n_batch = 2048;
    ep.n_ubatch = 512;
    ep.n_seq_max = 16;
    Loaded L;
    load(L, need(a, "model"), ngl, ep);
    ps_test::Rng rng(3);
    std::vector<std::vector<int32_t>> toks;
    std::vector<ps_sequence> seqs;
    for (int i = 0; i < n_seqs; ++i) toks.push_back(random_tokens(rng, static_cast<size_t>(len), regular_limit(L.info)));
    for (int i = 0; i < n_seqs; ++i) seqs.push_back(ps_sequence{toks[static_cast<size_t>(i)].data(), len, begin, len});
    const int64_t rows = static_cast<int64_t>(n_seqs) * (len - begin);
    const int64_t forwarded = static_cast<int64_t>(n_seqs) * (len - 1);
    std::vector<ps_token_stats> stats(static_cast<size_t>(rows));
    std::vector<int32_t> ids(static_cast<size_t>(rows) * 20);
    std::vector<float> lps(static_cast<size_t>(rows) * 20);

    auto time = [&](const char * name, const std::function<void()> & call) {
        call(); // warm-up: graph allocation, scratch buffers, cuBLAS handles
        double best = 1e30, total = 0;
        for (int i = 0; i < reps; ++i) {
            const double t0 = now_s();
            call();
            const double dt = now_s() - t0;
            best = std::min(best, dt);
            total += dt;
        }
        std::printf("RESULT label=%s name=%s gpu_layers=%d seqs=%d len=%d scored=%lld forwarded=%lld best_s=%.4f mean_s=%.4f "
                    "scored_per_s=%.0f forwarded_per_s=%.0f\n",
                    label.c_str(), name, ngl, n_seqs, len, static_cast<long long>(rows), static_cast<long long>(forwarded),
                    best, total / reps, static_cast<double>(rows) / best, static_cast<double>(forwarded) / best);
        std::fflush(stdout);
    };
    for (int k : {0, 20}) {
        ps_score_params sp = ps_score_default_params();
        sp.top_k = k;
        time(k ? "fused_top20" : "fused", [&] {
            check(ps_score(L.engine, seqs.data(), n_seqs, &sp, stats.data(), k ? ids.data() : nullptr, k ? lps.data() : nullptr),
                  "ps_score");
        });
    }
    time("forward_copy", [&] { check(ps_forward(L.engine, seqs.data(), n_seqs, nullptr, 0), "ps_forward"); });
    return 0;
}

} // namespace

int main(int argc, char ** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: gpu_bench fixture|text|verify|bench --option value ...\n");
        return 2;
    }
    const std::string cmd = argv[1];
    const Args a = parse(argc, argv, 2);
    if (cmd == "fixture") return cmd_fixture(a);
    if (cmd == "text") return cmd_text(a);
    if (cmd == "verify") return cmd_verify(a);
    if (cmd == "bench") return cmd_bench(a);
    std::fprintf(stderr, "gpu_bench: unknown command %s\n", cmd.c_str());
    return 2;
}
