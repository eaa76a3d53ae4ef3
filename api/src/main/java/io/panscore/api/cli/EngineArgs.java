package io.panscore.api.cli;

import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.ModelOptions;
import picocli.CommandLine.Option;

/** Engine and model options shared by the scoring commands. */
final class EngineArgs {
    @Option(names = "--ctx", description = "KV cache size in tokens (0 = the model's, at most 4096; rsr and prm: sized to the work up to the model's training context). Default: ${DEFAULT-VALUE}")
    int contextSize = 0;

    @Option(names = "--batch", description = "Tokens per decode (0 = 512). Default: ${DEFAULT-VALUE}")
    int batchSize = 0;

    @Option(names = "--ubatch", description = "Micro-batch size (0 = 512). Default: ${DEFAULT-VALUE}")
    int microBatchSize = 0;

    @Option(names = "--threads", description = "Threads (0 = all cores). Default: ${DEFAULT-VALUE}")
    int threads = 0;

    @Option(names = "--gpu-layers", description = "Layers to offload to the GPU (-1 = all). Default: ${DEFAULT-VALUE}")
    int gpuLayers = 0;

    @Option(names = "--flash-attn", description = "llama.cpp's flash attention: off, on or auto. Default: ${DEFAULT-VALUE}")
    String flashAttn = "off";

    EngineOptions engineOptions() {
        return EngineOptions.defaults().withContextSize(contextSize).withBatchSize(batchSize)
                .withMicroBatchSize(microBatchSize).withThreads(threads)
                .withFlashAttention(EngineOptions.FlashAttention.valueOf(flashAttn.toUpperCase(java.util.Locale.ROOT)));
    }

    ModelOptions modelOptions() {
        return ModelOptions.defaults().withGpuLayers(gpuLayers);
    }
}
