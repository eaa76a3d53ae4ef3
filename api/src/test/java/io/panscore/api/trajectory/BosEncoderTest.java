package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.panscore.api.SharedModels;
import io.panscore.kernel.Model;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * BOS on a model that asks for it: stories260K (SentencePiece, BOS "&lt;s&gt;" = id 1, EOS
 * "&lt;/s&gt;" = id 2, no chat template). A prompt gets one BOS whether or not its text writes it.
 */
class BosEncoderTest {

    static Model model;

    @BeforeAll
    static void open() {
        model = Model.load(SharedModels.stories260K());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void onePromptBosWhetherTheTextWritesItOrNot() {
        assertEquals(1, model.info().bos());
        assertEquals("<s>", model.tokenText(1));
        TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.none());
        int[] plain = enc.tokenizePrompt("Once upon a time");
        int[] written = enc.tokenizePrompt("<s>Once upon a time");
        assertEquals(1, plain[0]);
        assertEquals(1, Arrays.stream(plain).filter(id -> id == 1).count(), "one BOS");
        assertArrayEquals(plain, written, "a prompt that starts with <s> gets no second BOS");
        assertArrayEquals(new int[] {1}, enc.tokenizePrompt(""), "an empty prompt is BOS alone");
        // so a trajectory without a prompt still scores its first response token (predicted from BOS)
        TrajectoryEncoder.Encoded e = enc.encode(Trajectory.of("a", "p", "t", "", "Once upon a time"));
        assertEquals(1, e.promptLength());
        assertEquals(0, e.unscoredResponseTokens());
        // the end-of-sequence text is taken off a response
        assertEquals("The end.", enc.responseText(Trajectory.of("a", "p", "t", "", "The end.</s>")));
    }
}
