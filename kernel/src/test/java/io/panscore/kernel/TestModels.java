package io.panscore.kernel;

import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;

/** Models shared by the tests: loaded once per JVM, never closed (the JVM's exit frees them). */
final class TestModels {

    private TestModels() {}

    private static final class Tiny {
        static final Model MODEL = Model.load(Fixtures.tiny());
    }

    private static final class Qwen2 {
        static final Model MODEL = Model.load(Fixtures.qwen2());
    }

    /** Small vocabulary (2,051 tokens), 2 layers: fast. */
    static Model tiny() {
        return Tiny.MODEL;
    }

    /** The full 151,936-token Qwen2 vocabulary. */
    static Model qwen2() {
        return Qwen2.MODEL;
    }

    /** {@code a} followed by {@code b}. */
    static int[] concat(int[] a, int[] b) {
        int[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static Path tinyPath() {
        return Fixtures.tiny();
    }

    static final String TEXT = """
            The quick brown fox jumps over the lazy dog. Entropy measures how uncertain a model is
            about the next token; rank says how many tokens it preferred to the one that came.
            Numbers like 3.14159 and 2026, punctuation (!?), and a newline:
            then a second line.""";
}
