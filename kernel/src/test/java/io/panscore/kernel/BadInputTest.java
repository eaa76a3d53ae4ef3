package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.fixture.GgufFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of bad input gets a typed exception with a message that says what is wrong, and the
 * engine stays usable afterwards: the same good sequence scores the same before and after.
 */
class BadInputTest {

    private static Engine engine;
    private static int[] good;
    private static TokenScores baseline;

    @BeforeAll
    static void open() {
        engine = TestModels.tiny().newEngine(EngineOptions.defaults().withContextSize(64).withThreads(2));
        good = TestModels.tiny().tokenize("A sentence that is perfectly fine.", true, false);
        baseline = engine.score(Sequence.of(good));
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    /** Runs the bad call, checks the exception type and message, then that the engine still works. */
    private static <T extends Throwable> void rejects(Class<T> type, String messagePart, Executable bad) {
        T e = assertThrows(type, bad);
        assertTrue(e.getMessage().contains(messagePart), () -> "message \"" + e.getMessage() + "\" should mention \"" + messagePart + "\"");
        TokenScores again = engine.score(Sequence.of(good));
        assertArrayEquals(baseline.logprob(), again.logprob(), "engine still scores the same after: " + e.getMessage());
    }

    @Test
    void missingFile(@TempDir Path dir) {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(dir.resolve("nope.gguf")));
        assertTrue(e.getMessage().contains("nope.gguf") && e.getMessage().contains("No such file"), e.getMessage());
    }

    @Test
    void notGguf(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.gguf");
        Files.writeString(file, "this is a text file, not a model");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(file));
        assertTrue(e.getMessage().contains("not a GGUF file"), e.getMessage());
    }

    @Test
    void truncatedGguf(@TempDir Path dir) throws IOException {
        byte[] whole = Files.readAllBytes(TestModels.tinyPath());
        for (int keep : new int[] {4, 64, 4096, whole.length / 2, whole.length - 16}) {
            Path file = dir.resolve("truncated-" + keep + ".gguf");
            Files.write(file, Arrays.copyOf(whole, keep));
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(file), "kept " + keep + " bytes");
            assertTrue(e.getMessage().contains(file.getFileName().toString()), e.getMessage());
        }
    }

    @Test
    void emptyDirectoryIsNotAModel(@TempDir Path dir) {
        assertThrows(ModelLoadException.class, () -> Model.load(dir));
    }

    @Test
    void tokenOutOfRange() {
        int vocab = TestModels.tiny().info().vocabSize();
        int[] bad = good.clone();
        bad[3] = vocab;
        rejects(TokenOutOfRangeException.class, "position 3: token id " + vocab, () -> engine.score(Sequence.of(bad)));
        bad[3] = -5;
        rejects(TokenOutOfRangeException.class, "token id -5", () -> engine.score(Sequence.of(bad)));
    }

    @Test
    void badSequenceAmongGoodOnesFailsTheCallBeforeAnyDecode() {
        int[] bad = good.clone();
        bad[1] = Integer.MAX_VALUE;
        rejects(TokenOutOfRangeException.class, "sequence 1",
                () -> engine.score(List.of(Sequence.of(good), Sequence.of(bad)), ScoreOptions.defaults()));
    }

    @Test
    void sequenceLongerThanContext() {
        int[] longSeq = new int[65];
        Arrays.fill(longSeq, good[1]);
        rejects(ContextOverflowException.class, "65 tokens, more than the engine's context of 64",
                () -> engine.score(Sequence.of(longSeq)));
    }

    @Test
    void emptyInputs() {
        rejects(InvalidInputException.class, "empty", () -> engine.score(Sequence.of()));
        rejects(InvalidInputException.class, "nothing follows", () -> engine.score(Sequence.of(good[0])));
        rejects(InvalidInputException.class, "no sequences", () -> engine.score(List.of(), ScoreOptions.defaults()));
        rejects(InvalidInputException.class, "scoring range [3, 3)", () -> engine.score(new Sequence(good, 3, 3)));
        rejects(InvalidInputException.class, "scoring range [0, ", () -> engine.score(new Sequence(good, 0, 2)));
        rejects(InvalidInputException.class, "outside", () -> engine.score(new Sequence(good, 1, good.length + 1)));
    }

    @Test
    void invalidOptions() {
        assertThrows(IllegalArgumentException.class, () -> new ScoreOptions(0, 0));
        assertThrows(IllegalArgumentException.class, () -> new ScoreOptions(Double.NaN, 0));
        assertThrows(IllegalArgumentException.class, () -> new ScoreOptions(1, -1));
        assertThrows(IllegalArgumentException.class, () -> EngineOptions.defaults().withThreads(-1));
        rejects(InvalidInputException.class, "top_k", () -> engine.score(List.of(Sequence.of(good)),
                ScoreOptions.defaults().withTopK(TestModels.tiny().info().vocabSize() + 1)));
    }

    @Test
    void nanLogitsFromTheModel(@TempDir Path dir) throws IOException {
        // Poison output_norm.weight: every hidden state then becomes NaN, and so does every logit.
        Path file = dir.resolve("nan.gguf");
        Files.copy(TestModels.tinyPath(), file);
        GgufFile gguf = GgufFile.read(file);
        GgufFile.TensorInfo norm = gguf.tensors().stream().filter(t -> t.name().equals("output_norm.weight")).findFirst().orElseThrow();
        assertEquals(GgufFile.TensorType.F32, norm.type().orElseThrow());
        ByteBuffer nans = ByteBuffer.allocate((int) norm.elementCount() * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (nans.hasRemaining()) {
            nans.putFloat(Float.NaN);
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(gguf.dataOffset() + norm.offset());
            raf.write(nans.array());
        }
        try (Model model = Model.load(file); Engine nan = model.newEngine(EngineOptions.defaults().withContextSize(64))) {
            NanLogitsException e = assertThrows(NanLogitsException.class, () -> nan.score(Sequence.of(good)));
            assertTrue(e.getMessage().contains("sequence 0, position 1"), e.getMessage());
            assertThrows(NanLogitsException.class, () -> nan.score(Sequence.of(good)), "and again: the engine is still usable");
        }
    }

    @Test
    void useAfterCloseAndDoubleClose() throws IOException {
        Model model = Model.load(TestModels.tinyPath());
        Engine e = model.newEngine(EngineOptions.defaults().withContextSize(64));
        PanscoreException busy = assertThrows(PanscoreException.class, model::close);
        assertTrue(busy.getMessage().contains("open engine"), busy.getMessage());
        assertDoesNotThrow(() -> e.score(Sequence.of(good)), "a refused close leaves the model usable");
        e.close();
        assertDoesNotThrow(e::close, "double close is a no-op");
        ClosedException closed = assertThrows(ClosedException.class, () -> e.score(Sequence.of(good)));
        assertTrue(closed.getMessage().contains("engine"), closed.getMessage());
        assertThrows(ClosedException.class, () -> e.forward(List.of(Sequence.of(good))));
        model.close();
        assertDoesNotThrow(model::close);
        assertThrows(ClosedException.class, () -> model.tokenize("x", false, false));
        assertThrows(ClosedException.class, () -> model.newEngine(EngineOptions.defaults()));
        assertTrue(model.isClosed() && e.isClosed());
    }
}
