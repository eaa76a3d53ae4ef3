/**
 * panscore's Java engine: models and engines over libpanscore, typed exceptions, session pools,
 * the float64 reference kernel and fixture GGUF models.
 */
module io.panscore.kernel {
    requires transitive io.panscore.bindings;

    exports io.panscore.kernel;
    exports io.panscore.kernel.fixture;
}
