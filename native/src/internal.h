// Definitions behind the opaque handles of panscore.h, shared by the translation units.
#pragma once

#include "panscore.h"

#include "llama.h"

namespace panscore {

// Loads llama.cpp's backends and installs the log sink, once per process.
void ensure_backend();

// n when n > 0, else the number of hardware threads.
int32_t resolve_threads(int32_t n);

} // namespace panscore

struct ps_model {
    llama_model *       model = nullptr;
    const llama_vocab * vocab = nullptr;
    ps_model_info       info{};
    int32_t             n_gpu_layers = 0; // as loaded: decides where the logits live
};
