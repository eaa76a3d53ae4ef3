package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.InvalidInputException;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TrajectoryScorerTest {

    static Model model;
    static Engine engine;

    @BeforeAll
    static void open() {
        model = Model.load(Fixtures.tiny());
        engine = model.newEngine(EngineOptions.defaults().withContextSize(1024));
    }

    @AfterAll
    static void close() {
        engine.close();
        model.close();
    }

    /** Chunks of 18 pack every trajectory together and share prompts; chunks of 1 do neither. */
    @Test
    void packedAndSharedEqualOneAtATime() throws Exception {
        List<Trajectory> sample = SampleData.trajectories();
        List<TrajectoryScorer.Outcome> together = new TrajectoryScorer(engine, TrajectoryOptions.defaults().withChunkSize(18)).scoreAll(sample);
        List<TrajectoryScorer.Outcome> alone = new TrajectoryScorer(engine, TrajectoryOptions.defaults().withChunkSize(1)).scoreAll(sample);
        for (int i = 0; i < sample.size(); i++) {
            TrajectoryScore a = ((TrajectoryScorer.Scored) together.get(i)).score();
            TrajectoryScore b = ((TrajectoryScorer.Scored) alone.get(i)).score();
            assertEquals(b.id(), a.id());
            assertEquals(b.tokenCount(), a.tokenCount());
            assertEquals(b.meanSurprisal(), a.meanSurprisal(), 1e-4, a.id());
            assertEquals(b.meanClippedRank(), a.meanClippedRank(), 1e-4, a.id());
            assertEquals(b.rsr(), a.rsr(), 1e-4 * b.rsr(), a.id());
            assertEquals(b.meanEntropy(), a.meanEntropy(), 1e-4, a.id());
        }
    }

    @Test
    void unscorableTrajectoriesFailAloneWithAReason() {
        String huge = "word ".repeat(3000);
        List<Trajectory> input = List.of(Trajectory.of("ok", "p", "t", "Question?", "Answer."), Trajectory.of("empty", "p", "t", "Question?", ""),
                Trajectory.of("long", "p", "t", "Question?", huge), Trajectory.of("ok2", "p", "t", "Question?", "Another answer."));
        List<TrajectoryScorer.Outcome> out = new TrajectoryScorer(engine, TrajectoryOptions.defaults()).scoreAll(input);
        assertInstanceOf(TrajectoryScorer.Scored.class, out.get(0));
        assertTrue(((TrajectoryScorer.Failed) out.get(1)).message().contains("empty"));
        // longer than the engine's context: cut to it and still scored (the released RSR code truncates at max_model_len)
        TrajectoryScorer.Scored cut = (TrajectoryScorer.Scored) out.get(2);
        assertTrue(cut.truncated() && cut.truncatedFrom() > 1024, "truncated from " + cut.truncatedFrom());
        int prompt = new TrajectoryEncoder(model, PromptTemplate.model()).encode(input.get(2)).promptLength();
        assertEquals(1024 - prompt, cut.score().tokenCount());
        assertInstanceOf(TrajectoryScorer.Scored.class, out.get(3));
    }

    @Test
    void chatTemplates() {
        List<ChatMessage> chat = List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi?"));
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n",
                model.renderChat(chat, "chatml", true));
        // the fixture carries Qwen2's own template, which llama.cpp recognises as ChatML
        assertEquals(model.renderChat(chat, "chatml", true), model.renderChat(chat, null, true));
        assertTrue(model.renderChat(chat, "llama3", true).contains("<|start_header_id|>system<|end_header_id|>"));
        InvalidInputException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidInputException.class,
                () -> model.renderChat(chat, "{{ nonsense }}", true));
        assertTrue(e.getMessage().contains("does not recognise"), e.getMessage());
    }

    @Test
    void encoderScoresOnlyTheResponseAndDropsTheEndOfTurnMarker() {
        TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.model());
        TrajectoryEncoder.Encoded a = enc.encode(Trajectory.of("a", "p", "t", "What is 2+2?", "4"));
        TrajectoryEncoder.Encoded b = enc.encode(Trajectory.of("b", "p", "t", "What is 2+2?", "4<|im_end|>\n"));
        assertEquals(a.responseTokens().length, b.responseTokens().length);
        // the prompt ends with the special token <|im_start|> (one id, not its text as several tokens), then "assistant\n"
        int[] opening = model.tokenize("<|im_start|>assistant\n", false, true);
        assertEquals(1, model.tokenize("<|im_start|>", false, true).length);
        int[] tail = java.util.Arrays.copyOfRange(a.tokens(), a.promptLength() - opening.length, a.promptLength());
        org.junit.jupiter.api.Assertions.assertArrayEquals(opening, tail, model.detokenize(java.util.Arrays.copyOf(a.tokens(), a.promptLength()), true));
        TrajectoryEncoder none = new TrajectoryEncoder(model, PromptTemplate.none());
        TrajectoryEncoder.Encoded c = none.encode(Trajectory.of("c", "p", "t", "What is 2+2? ", "4"));
        assertEquals("What is 2+2? ", model.detokenize(java.util.Arrays.copyOf(c.tokens(), c.promptLength()), true));
        List<ChatMessage> msgs = new ArrayList<>(List.of(new ChatMessage("user", "What is 2+2?")));
        TrajectoryEncoder.Encoded d = enc.encode(new Trajectory("d", "p", "t", null, msgs, "4"));
        assertEquals(a.promptLength(), d.promptLength());
    }
}
