package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.SharedModels;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The encoder at its limits on the tiny Qwen2 fixture (no BOS; ChatML: a turn ends with
 * {@code <|im_end|>} and a newline): how much room maxTokens leaves the response, the end-of-turn
 * markers taken off a response, and the tokens a template writes after an assistant's content.
 * Token counts come from the model's own tokenizer (the kernel), not from the encoder.
 */
class TrajectoryEncoderEdgeTest {

    static Model model;

    @BeforeAll
    static void open() {
        model = Model.load(Fixtures.tiny());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static final String RESPONSE = "The cat sat on the mat and then it slept.";

    @Test
    void maxTokensLeavesTheResponseWhatThePromptDoesNotTake() {
        TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.none());
        int[] prompt = model.tokenize("Question: where?", false, true);
        int[] response = model.tokenize(RESPONSE, false, false);
        assertTrue(prompt.length >= 2 && response.length >= 4, prompt.length + " " + response.length);
        Trajectory t = Trajectory.of("a", "p", "t", "Question: where?", RESPONSE);
        int p = prompt.length;
        // the prompt fills maxTokens: no room
        IllegalArgumentException full = assertThrows(IllegalArgumentException.class, () -> enc.encode(t, p));
        assertEquals("the prompt alone is " + p + " tokens: no room for the response within " + p + " tokens (raise --max-tokens)", full.getMessage());
        // one token of room: the response's first token, and its text
        TrajectoryEncoder.Encoded one = enc.encode(t, p + 1);
        assertArrayEquals(Arrays.copyOf(response, 1), one.responseTokens());
        assertEquals(p, one.promptLength());
        assertEquals(p + response.length, one.truncatedFrom());
        assertTrue(one.truncated());
        assertEquals(new String(RESPONSE.getBytes(StandardCharsets.UTF_8), 0, model.pieceByteLengths(Arrays.copyOf(response, 1))[0], StandardCharsets.UTF_8),
                one.responseText());
        // exactly the full length: nothing cut
        TrajectoryEncoder.Encoded exact = enc.encode(t, p + response.length);
        assertFalse(exact.truncated());
        assertEquals(0, exact.truncatedFrom());
        assertArrayEquals(response, exact.responseTokens());
        assertEquals(RESPONSE, exact.responseText());
        // one less: the last token goes
        TrajectoryEncoder.Encoded less = enc.encode(t, p + response.length - 1);
        assertArrayEquals(Arrays.copyOf(response, response.length - 1), less.responseTokens());
        assertEquals(p + response.length, less.truncatedFrom());
        for (int bad : new int[] {1, 0, -5}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> enc.encode(t, bad));
            assertEquals("maxTokens must be >= 2, got " + bad, e.getMessage());
        }
    }

    @Test
    void withoutAPromptTheFirstResponseTokenIsContext() {
        TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.none());
        assertEquals(0, enc.tokenizePrompt("").length, "the fixture adds no BOS");
        int[] response = model.tokenize(RESPONSE, false, false);
        Trajectory t = Trajectory.of("a", "p", "t", "", RESPONSE);
        // maxTokens 2 (the least allowed) keeps two tokens: one context, one scored
        TrajectoryEncoder.Encoded two = enc.encode(t, 2);
        assertArrayEquals(Arrays.copyOf(response, 2), two.tokens());
        assertEquals(1, two.promptLength());
        assertEquals(1, two.unscoredResponseTokens());
        assertEquals(response.length, two.truncatedFrom());
        TrajectoryEncoder.Encoded all = enc.encode(t);
        assertArrayEquals(response, all.tokens());
        assertEquals(1, all.promptLength());
        assertEquals(1, all.unscoredResponseTokens());
        // a one-token response has nothing to be predicted from
        String word = "a";
        assertEquals(1, model.tokenize(word, false, false).length);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> enc.encode(Trajectory.of("b", "p", "t", "", word)));
        assertEquals("the response is a single token and there is no prompt to predict it from", e.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> enc.encode(Trajectory.of("c", "p", "t", "q", "")));
        assertEquals("the response is empty", empty.getMessage());
    }

    @Test
    void endMarkersComeOffTheEndInAnyOrder() {
        TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.none());
        int eot = model.info().eot();
        int eos = model.info().eos();
        assertEquals("<|im_end|>", model.tokenText(eot));
        assertEquals("<|endoftext|>", model.tokenText(eos));
        assertEquals("ans", enc.responseText(Trajectory.of("a", "p", "t", "q", "ans<|im_end|>\n")));
        assertEquals("ans", enc.responseText(Trajectory.of("a", "p", "t", "q", "ans<|im_end|>  <|endoftext|>\n")));
        assertEquals("ans", enc.responseText(Trajectory.of("a", "p", "t", "q", "ans<|endoftext|><|im_end|><|endoftext|>")));
        // whitespace before a marker is the response's own; a marker inside the text stays
        assertEquals("ans \n", enc.responseText(Trajectory.of("a", "p", "t", "q", "ans \n<|im_end|>")));
        assertEquals("a<|im_end|>b", enc.responseText(Trajectory.of("a", "p", "t", "q", "a<|im_end|>b")));
        assertEquals("ans  ", enc.responseText(Trajectory.of("a", "p", "t", "q", "ans  ")), "no marker: left as it is");
    }

    @Test
    void chatMessagesWithoutATemplateAreJoinedByNewlines() {
        TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.none());
        Trajectory t = new Trajectory("a", "p", "t", null, List.of(new ChatMessage("system", "be brief"), new ChatMessage("user", "hi")), "ok");
        assertEquals("be brief\nhi", enc.renderPrompt(t));
        assertEquals("plain", enc.renderPrompt(Trajectory.of("b", "p", "t", "plain", "ok")));
        String chatml = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";
        Trajectory u = Trajectory.of("c", "p", "t", "hi", "ok");
        for (PromptTemplate tpl : List.of(PromptTemplate.pattern(), PromptTemplate.named("chatml"))) {
            assertEquals(chatml, new TrajectoryEncoder(model, tpl).renderPrompt(u), tpl.toString());
        }
        // the fixture's own (Qwen2) template, through Jinja, adds its default system turn
        assertEquals("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n" + chatml, new TrajectoryEncoder(model, PromptTemplate.model()).renderPrompt(u));
        String jinja = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
        assertEquals("[user] hi\n[assistant] ", new TrajectoryEncoder(model, PromptTemplate.jinja(jinja)).renderPrompt(u));
    }

    @Test
    void tokensAfterAnAssistantTurn() {
        // ChatML ends a turn with "<|im_end|>" and "\n": two tokens, whichever way the template is given
        for (PromptTemplate tpl : List.of(PromptTemplate.none(), PromptTemplate.model(), PromptTemplate.pattern(), PromptTemplate.named("chatml"))) {
            assertEquals(2, new TrajectoryEncoder(model, tpl).endOfTurnTokens(), tpl.toString());
        }
        assertEquals(0, new TrajectoryEncoder(model, PromptTemplate.jinja("{% for m in messages %}{{ m.content }}{% endfor %}")).endOfTurnTokens());
        assertEquals(1, new TrajectoryEncoder(model, PromptTemplate.jinja("{% for m in messages %}{{ m.content }}<|im_end|>{% endfor %}")).endOfTurnTokens());
        // a template that writes the assistant's content first of all (at offset 0), then one end-of-turn token
        assertEquals(1, new TrajectoryEncoder(model,
                PromptTemplate.jinja("{% for m in messages %}{% if m.role == 'assistant' %}{{ m.content }}<|im_end|>{% endif %}{% endfor %}"))
                .endOfTurnTokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TrajectoryEncoder(model, PromptTemplate.jinja("{% for m in messages %}{{ m.role }}{% endfor %}")).endOfTurnTokens());
        assertTrue(e.getMessage().startsWith("the chat template does not write an assistant message's content as it is"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(rendered: userassistant)"), e.getMessage());
        // a model without a chat template (stories260K) and no template asked for: nothing to count
        SharedModels.optionalStories260K().ifPresent(path -> {
            try (Model stories = Model.load(path)) {
                assertTrue(stories.chatTemplate().isEmpty());
                assertEquals(0, new TrajectoryEncoder(stories, PromptTemplate.none()).endOfTurnTokens());
            }
        });
    }
}
