package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The package's small parts, each against values written out by hand: the trajectory record's
 * rules, template names, CSV records, windows over the input, shared-prompt groups, and the
 * scorer's bookkeeping on the tiny fixture.
 */
class TrajectoryPiecesTest {

    // --- Trajectory, TrajectoryScore, MalformedInputException ---

    @Test
    void trajectoryRules() {
        Trajectory t = new Trajectory("a", null, null, "p", null, "r");
        assertEquals("", t.problem());
        assertEquals("", t.teacher());
        assertNull(t.steps());
        assertEquals("id", assertThrows(NullPointerException.class, () -> Trajectory.of(null, "p", "t", "q", "r")).getMessage());
        assertEquals("response", assertThrows(NullPointerException.class, () -> Trajectory.of("a", "p", "t", "q", null)).getMessage());
        String one = "exactly one of prompt and messages must be given";
        assertEquals(one, assertThrows(IllegalArgumentException.class, () -> new Trajectory("a", "p", "t", null, null, "r")).getMessage());
        assertEquals(one, assertThrows(IllegalArgumentException.class,
                () -> new Trajectory("a", "p", "t", "q", List.of(new ChatMessage("user", "q")), "r")).getMessage());
        assertEquals("the steps, concatenated, must equal the response",
                assertThrows(IllegalArgumentException.class, () -> new Trajectory("a", "p", "t", "q", null, "ab", List.of("a", "c"))).getMessage());
        // the lists are copies: later changes to the caller's lists do not reach the trajectory
        List<ChatMessage> msgs = new ArrayList<>(List.of(new ChatMessage("user", "q")));
        List<String> steps = new ArrayList<>(List.of("a", "b"));
        Trajectory c = new Trajectory("c", "p", "t", null, msgs, "ab", steps);
        msgs.add(new ChatMessage("user", "more"));
        steps.set(0, "z");
        assertEquals(List.of(new ChatMessage("user", "q")), c.messages());
        assertEquals(List.of("a", "b"), c.steps());
        assertThrows(UnsupportedOperationException.class, () -> c.steps().add("x"));
        assertThrows(UnsupportedOperationException.class, () -> c.messages().clear());
    }

    @Test
    void scoreStepsAreACopy() {
        List<StepStats> steps = new ArrayList<>(List.of(new StepStats(0, 2, 0.5, 0.75, -1.5, 2.0, -2.5)));
        TrajectoryScore s = new TrajectoryScore("a", "p", "t", 2, 1.25, 2.0, 1.6, 0.5, Math.exp(1.25), null, steps);
        steps.clear();
        assertEquals(1, s.steps().size());
        assertThrows(UnsupportedOperationException.class, () -> s.steps().clear());
        MalformedInputException e = new MalformedInputException(12, "bad");
        assertEquals("line 12: bad", e.getMessage());
        assertEquals(12, e.line());
    }

    // --- PromptTemplate names ---

    @Test
    void templateNames(@TempDir Path dir) throws IOException {
        assertEquals(new PromptTemplate(PromptTemplate.Kind.MODEL, null), PromptTemplate.parse("model"));
        assertEquals(new PromptTemplate(PromptTemplate.Kind.NONE, null), PromptTemplate.parse("none"));
        assertEquals(new PromptTemplate(PromptTemplate.Kind.PATTERN, null), PromptTemplate.parse("pattern"));
        assertEquals(new PromptTemplate(PromptTemplate.Kind.NAMED, "chatml"), PromptTemplate.parse("chatml"));
        assertEquals(new PromptTemplate(PromptTemplate.Kind.NAMED, "Model"), PromptTemplate.parse("Model"), "names are case-sensitive");
        Path f = Files.writeString(dir.resolve("t.jinja"), "{{ messages[0].content }}\n");
        assertEquals(new PromptTemplate(PromptTemplate.Kind.JINJA, "{{ messages[0].content }}\n"), PromptTemplate.parse("jinja:" + f));
        Path missing = dir.resolve("missing.jinja");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> PromptTemplate.parse("jinja:" + missing));
        assertTrue(e.getMessage().startsWith("cannot read the chat template " + missing + ": "), e.getMessage());
    }

    // --- CSV records ---

    @Test
    void csvRecordsEndAndFail() throws IOException {
        Iterator<List<String>> it = Csv.records(new StringReader("a,b\n\"x\ny\",2\n"));
        assertTrue(it.hasNext());
        assertEquals(List.of("a", "b"), it.next());
        assertEquals(List.of("x\ny", "2"), it.next());
        assertFalse(it.hasNext());
        assertThrows(NoSuchElementException.class, it::next);
        assertThrows(UncheckedIOException.class, () -> Csv.parse("\"a\"b,1"));
        Iterator<List<String>> bad = Csv.records(new StringReader("ok\n\"a\"b\n"));
        assertEquals(List.of("ok"), bad.next());
        assertThrows(UncheckedIOException.class, bad::next);
        assertEquals("", Csv.quote(""));
        assertEquals("\"\"\"\"", Csv.quote("\""));
        // each special character as the first one quotes too
        assertEquals("\",a\"", Csv.quote(",a"));
        assertEquals("\"\na\"", Csv.quote("\na"));
        assertEquals("\"\ra\"", Csv.quote("\ra"));
        assertEquals("\"\"\"a\"", Csv.quote("\"a"));
    }

    // --- windows over the input ---

    private static Trajectory t(String id) {
        return Trajectory.of(id, "p", "t", "q", "r " + id);
    }

    @Test
    void windowsOfDoneTrajectoriesOnlyAreNotScored() {
        List<Trajectory> in = List.of(t("a"), t("b"), t("c"), t("d"), t("e"));
        List<String> calls = new ArrayList<>();
        Iterator<String> it = TrajectoryBatch.windows(in.iterator(), 2, id -> id.equals("a") || id.equals("b") || id.equals("d"), (w, first) -> {
            calls.add(first + ":" + w.stream().map(Trajectory::id).toList());
            return w.stream().map(x -> x.id()).toList();
        }, r -> r);
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        assertEquals(List.of("c", "e"), out, "done ids are left out of the results");
        assertEquals(List.of("2:[c, d]", "4:[e]"), calls, "windows of 2 from index 0; [a, b] is all done, not scored");
        assertFalse(it.hasNext());
        assertThrows(NoSuchElementException.class, it::next);
    }

    @Test
    void aFailureWithoutAMessageIsNamedByItsType() {
        Iterator<String> it = TrajectoryBatch.windows(List.of(t("x")).iterator(), 4, id -> false, (w, first) -> {
            throw new IllegalStateException();
        }, r -> r, (tr, i, why) -> tr.id() + "@" + i + ": " + why);
        assertEquals("x@0: java.lang.IllegalStateException", it.next());
        // rescored alone, a second failure's own reason is kept
        AtomicInteger n = new AtomicInteger();
        Iterator<String> two = TrajectoryBatch.windows(List.of(t("x"), t("y")).iterator(), 2, id -> false, (w, first) -> {
            throw new IllegalStateException("try " + n.incrementAndGet());
        }, r -> r, (tr, i, why) -> tr.id() + "@" + i + ": " + why);
        List<String> out = new ArrayList<>();
        two.forEachRemaining(out::add);
        assertEquals(List.of("x@0: try 2", "y@1: try 3"), out);
    }

    @Test
    void aFailedWindowRescoresOnlyWhatIsNotDone() {
        // [a, bad, b] with a done: the window fails, then bad and b are scored alone; a is not scored again
        List<String> calls = new ArrayList<>();
        Iterator<String> it = TrajectoryBatch.windows(List.of(t("a"), t("bad"), t("b")).iterator(), 3, id -> id.equals("a"), (w, first) -> {
            calls.add(first + ":" + w.stream().map(Trajectory::id).toList());
            if (w.stream().anyMatch(x -> x.id().equals("bad"))) {
                throw new IllegalStateException("boom");
            }
            return w.stream().map(Trajectory::id).toList();
        }, r -> r.split("!")[0], (tr, i, why) -> tr.id() + "!" + i + " " + why);
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        assertEquals(List.of("bad!1 boom", "b"), out);
        assertEquals(List.of("0:[a, bad, b]", "1:[bad]", "2:[b]"), calls);
    }

    private static TrajectoryBatch.Item item(int[] tokens, int prompt) {
        return new TrajectoryBatch.Item(0, t("i"), new TrajectoryEncoder.Encoded(tokens, prompt, new int[0], 0, "r"), null);
    }

    @Test
    void identicalPromptsShareAGroup() {
        List<TrajectoryBatch.Item> items = List.of(item(new int[] {1, 2, 3, 9}, 3), item(new int[] {1, 2, 3, 8, 7}, 3), item(new int[] {4, 5, 6}, 2),
                item(new int[] {4, 5, 1}, 2), item(new int[] {1, 2, 9}, 2));
        List<Sequence> s = TrajectoryBatch.sequences(items);
        // [1,2,3] twice: group 1; [4,5] twice: group 2; [1,2] once (a prefix of [1,2,3], but not the same prompt): no group
        int[][] want = {{3, 4, 1, 3}, {3, 5, 1, 3}, {2, 3, 2, 2}, {2, 3, 2, 2}, {2, 3, 0, 0}};
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i][0], s.get(i).scoreBegin(), "begin " + i);
            assertEquals(want[i][1], s.get(i).scoreEnd(), "end " + i);
            assertEquals(want[i][2], s.get(i).prefixGroup(), "group " + i);
            assertEquals(want[i][3], s.get(i).prefixLength(), "shared " + i);
        }
        assertEquals(5, TrajectoryBatch.longest(items));
        assertEquals(0, TrajectoryBatch.longest(List.of()));
        assertEquals(List.of(), TrajectoryBatch.sequences(List.of()));
    }

    // --- on the tiny fixture ---

    @Test
    void encodingAWindowFailsTheTrajectoriesThatDoNotFit() {
        try (Model m = Model.load(Fixtures.tiny())) {
            TrajectoryEncoder enc = new TrajectoryEncoder(m, PromptTemplate.none());
            Trajectory fits = Trajectory.of("fits", "p", "t", "Q", "A short answer.");
            Trajectory big = Trajectory.of("big", "p", "t", "Q", "word ".repeat(40));
            int bigLength = m.tokenize("Q", false, true).length + m.tokenize("word ".repeat(40), false, false).length;
            int fitsLength = m.tokenize("Q", false, true).length + m.tokenize("A short answer.", false, false).length;
            assertTrue(fitsLength < 20 && bigLength > 20, fitsLength + " " + bigLength);
            List<TrajectoryBatch.Item> items = TrajectoryBatch.encode(enc, List.of(fits, big, Trajectory.of("empty", "p", "t", "Q", "")), 10, 20);
            assertEquals(List.of(10L, 11L, 12L), items.stream().map(TrajectoryBatch.Item::index).toList());
            assertTrue(items.get(0).ok());
            assertEquals(fitsLength, items.get(0).encoded().tokens().length);
            assertNull(items.get(0).failure());
            assertFalse(items.get(1).ok());
            assertEquals("prompt + response are " + bigLength + " tokens, more than the engine's context of 20 (raise --ctx, or lower --max-tokens to truncate)",
                    items.get(1).failure());
            assertEquals("the response is empty", items.get(2).failure());
            // exactly the context: fits
            assertTrue(TrajectoryBatch.encode(enc, List.of(big), 0, bigLength).getFirst().ok());
            // cut to maxTokens first, then it fits
            List<TrajectoryBatch.Item> cut = TrajectoryBatch.encode(enc, List.of(big), 0, 20, 20);
            assertEquals(20, cut.getFirst().encoded().tokens().length);
            assertEquals(bigLength, cut.getFirst().encoded().truncatedFrom());
        }
    }

    @Test
    void theScorerCountsTokensAndReportsOnlyWhatIsNotDone() {
        try (Model m = Model.load(Fixtures.tiny())) {
            List<Trajectory> in = List.of(Trajectory.of("a", "p", "t", "Q", "One answer."), Trajectory.of("b", "p", "t", "Q", "Two answers here."),
                    Trajectory.of("c", "p", "t", "Q", ""), Trajectory.of("d", "p", "t", "Q", "Four."));
            int[] lengths = new int[in.size()];
            for (int i = 0; i < in.size(); i++) {
                lengths[i] = m.tokenize(in.get(i).response(), false, false).length;
            }
            TrajectoryOptions o = TrajectoryOptions.defaults().withTemplate(PromptTemplate.none()).withChunkSize(2);
            try (TrajectoryScorer s = new TrajectoryScorer(m, EngineOptions.defaults(), o)) {
                assertEquals(PromptTemplate.none(), o.template());
                assertEquals("Q", s.encoder().renderPrompt(in.get(0)), "the encoder renders with the options' template");
                assertEquals(0, s.tokensScored());
                List<TrajectoryScorer.Outcome> out = new ArrayList<>();
                s.score(in.iterator(), id -> id.equals("a")).forEachRemaining(out::add);
                assertEquals(List.of("b", "c", "d"), out.stream().map(TrajectoryScorer.Outcome::id).toList());
                assertEquals(List.of(1L, 2L, 3L), out.stream().map(TrajectoryScorer.Outcome::index).toList());
                TrajectoryScorer.Scored b = assertInstanceOf(TrajectoryScorer.Scored.class, out.get(0));
                assertEquals(lengths[1], b.score().tokenCount());
                assertFalse(b.truncated());
                assertEquals(0, b.truncatedFrom());
                assertEquals(new TrajectoryScorer.Failed(2, "c", "the response is empty"), out.get(1));
                // a is scored with b (same window) but not reported; c is not scored; d alone
                assertEquals(lengths[0] + lengths[1] + lengths[3], s.tokensScored());
            }
            // a window that fails whole is never decoded
            try (Engine e = m.newEngine(EngineOptions.defaults().withContextSize(64))) {
                TrajectoryScorer s = new TrajectoryScorer(e, o);
                assertEquals(List.of(new TrajectoryScorer.Failed(0, "x", "the response is empty")), s.scoreAll(List.of(Trajectory.of("x", "p", "t", "Q", ""))));
                assertEquals(0, s.tokensScored());
                s.close();
                assertFalse(e.isClosed(), "the caller's engine stays open");
            }
        }
        TrajectoryScore sc = new TrajectoryScore("z", "p", "t", 1, 1, 1, 1, 1, 1, null, List.of());
        TrajectoryScorer.Scored plain = new TrajectoryScorer.Scored(4, sc);
        assertEquals(0, plain.truncatedFrom());
        assertEquals("z", plain.id());
        assertTrue(new TrajectoryScorer.Scored(4, sc, 9).truncated());
        assertSame(sc, plain.score());
    }
}
