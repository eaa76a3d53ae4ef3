package io.panscore.kernel;

/**
 * How to load a model.
 *
 * @param gpuLayers    layers offloaded to the GPU: 0 = CPU only (default), -1 = all
 * @param mainGpu      GPU index used when {@code gpuLayers != 0}
 * @param useMmap      map the file instead of reading it (default true)
 * @param checkTensors validate tensor data while loading (slow; default false)
 */
public record ModelOptions(int gpuLayers, int mainGpu, boolean useMmap, boolean checkTensors) {

    public ModelOptions {
        if (gpuLayers < -1) {
            throw new IllegalArgumentException("gpuLayers must be -1 (all), 0 (none) or a positive count, got " + gpuLayers);
        }
        if (mainGpu < 0) {
            throw new IllegalArgumentException("mainGpu must be >= 0, got " + mainGpu);
        }
    }

    public static ModelOptions defaults() {
        return new ModelOptions(0, 0, true, false);
    }

    public ModelOptions withGpuLayers(int layers) {
        return new ModelOptions(layers, mainGpu, useMmap, checkTensors);
    }
}
