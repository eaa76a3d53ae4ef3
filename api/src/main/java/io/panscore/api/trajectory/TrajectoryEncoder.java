package io.panscore.api.trajectory;

import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Model;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a trajectory into the token sequence to score: the rendered prompt, then the response.
 * The two are tokenized separately (the boundary is where a chat template ends the assistant
 * header), the prompt with the model's BOS and special-token parsing, the response as plain text.
 * A trailing end-of-turn / end-of-sequence marker in the response text is removed: SPEC §3 scores
 * response tokens only. Thread-safe (the model is).
 */
public final class TrajectoryEncoder {

    /**
     * A trajectory as tokens: {@code tokens[promptLength..]} is the scored part of the response.
     * {@code unscoredResponseTokens} (0 or 1) response tokens went to the context instead: with an
     * empty prompt and no BOS, the first token has nothing to be predicted from.
     */
    public record Encoded(int[] tokens, int promptLength, int[] responseTokens, int unscoredResponseTokens, String responseText, int truncatedFrom) {
        public Encoded(int[] tokens, int promptLength, int[] responseTokens, int unscoredResponseTokens, String responseText) {
            this(tokens, promptLength, responseTokens, unscoredResponseTokens, responseText, 0);
        }

        /** Whether tokens were cut off the end of the response ({@code truncatedFrom} is then the full length). */
        public boolean truncated() {
            return truncatedFrom > 0;
        }
    }

    private final Model model;
    private final PromptTemplate template;
    private final List<String> endMarkers;

    public TrajectoryEncoder(Model model, PromptTemplate template) {
        this.model = model;
        this.template = template;
        List<String> markers = new ArrayList<>();
        for (int id : new int[] {model.info().eot(), model.info().eos()}) {
            if (id >= 0) {
                String text = model.tokenText(id);
                if (!text.isEmpty() && !markers.contains(text)) {
                    markers.add(text);
                }
            }
        }
        this.endMarkers = List.copyOf(markers);
    }

    /** The prompt side as text, after the template. */
    public String renderPrompt(Trajectory t) {
        List<ChatMessage> messages = t.messages() != null ? t.messages() : List.of(new ChatMessage("user", t.prompt()));
        return switch (template.kind()) {
            case NONE -> t.prompt() != null ? t.prompt() : String.join("\n", messages.stream().map(ChatMessage::content).toList());
            case MODEL -> model.renderChatJinja(messages, null, true, false);
            case JINJA -> model.renderChatJinja(messages, template.name(), true, false);
            case PATTERN -> model.renderChat(messages, null, true);
            case NAMED -> model.renderChat(messages, template.name(), true);
        };
    }

    /**
     * How many tokens the chat template writes after an assistant message's content (ChatML and
     * Qwen: {@code <|im_end|>} and "\n", 2; a template whose turn ends with one end-of-turn token:
     * 1): an assistant message is rendered through the same template path as the prompt and the
     * tokens after its content counted. With {@link PromptTemplate#none()} the model's own template
     * is asked (Jinja), and 0 is returned when it has none.
     *
     * @throws IllegalArgumentException when the template does not write the content as it is
     */
    public int endOfTurnTokens() {
        String content = "panscore end of turn";
        List<ChatMessage> conversation = List.of(new ChatMessage("user", "?"), new ChatMessage("assistant", content));
        String rendered = switch (template.kind()) {
            case NONE -> model.chatTemplate().isPresent() ? model.renderChatJinja(conversation, null, false, false) : null;
            case MODEL -> model.renderChatJinja(conversation, null, false, false);
            case JINJA -> model.renderChatJinja(conversation, template.name(), false, false);
            case PATTERN -> model.renderChat(conversation, null, false);
            case NAMED -> model.renderChat(conversation, template.name(), false);
        };
        if (rendered == null) {
            return 0;
        }
        int at = rendered.lastIndexOf(content);
        if (at < 0) {
            throw new IllegalArgumentException("the chat template does not write an assistant message's content as it is: "
                    + "cannot find where an assistant turn ends (rendered: " + rendered + ")");
        }
        return tokenizePrompt(rendered).length - tokenizePrompt(rendered.substring(0, at + content.length())).length;
    }

    /** The response without a trailing end-of-turn marker. */
    public String responseText(Trajectory t) {
        String r = t.response();
        boolean stripped = true;
        while (stripped) {
            stripped = false;
            for (String m : endMarkers) {
                String trimmed = r.stripTrailing();
                if (trimmed.endsWith(m)) {
                    r = trimmed.substring(0, trimmed.length() - m.length());
                    stripped = true;
                }
            }
        }
        return r;
    }

    /**
     * @throws IllegalArgumentException when the response has no tokens
     */
    public Encoded encode(Trajectory t) {
        return encode(t, Integer.MAX_VALUE);
    }

    /**
     * Encodes and keeps at most {@code maxTokens} tokens of prompt + response (the released RSR
     * code truncates at max_model_len and still scores what is kept); {@link Encoded#truncatedFrom}
     * tells the length before truncation.
     *
     * @throws IllegalArgumentException when the response is empty or the prompt leaves no room for it
     */
    public Encoded encode(Trajectory t, int maxTokens) {
        if (maxTokens < 2) {
            throw new IllegalArgumentException("maxTokens must be >= 2, got " + maxTokens);
        }
        String prompt = renderPrompt(t);
        int[] promptTokens = tokenizePrompt(prompt);
        String response = responseText(t);
        int[] responseTokens = model.tokenize(response, false, false);
        if (responseTokens.length == 0) {
            throw new IllegalArgumentException("the response is empty");
        }
        int full = promptTokens.length + responseTokens.length;
        if (full > maxTokens) {
            int keep = maxTokens - promptTokens.length;
            if (keep < 1 || (promptTokens.length == 0 && keep < 2)) {
                throw new IllegalArgumentException("the prompt alone is " + promptTokens.length + " tokens: no room for the response within "
                        + maxTokens + " tokens (raise --max-tokens)");
            }
            responseTokens = Arrays.copyOf(responseTokens, keep);
            int bytes = 0;
            for (int b : model.pieceByteLengths(responseTokens)) {
                bytes += b;
            }
            byte[] utf8 = response.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            response = new String(utf8, 0, Math.min(bytes, utf8.length), java.nio.charset.StandardCharsets.UTF_8);
            Encoded e = encodeTokens(promptTokens, responseTokens, response);
            return new Encoded(e.tokens(), e.promptLength(), e.responseTokens(), e.unscoredResponseTokens(), response, full);
        }
        return encodeTokens(promptTokens, responseTokens, response);
    }

    /**
     * The prompt text's tokens: special-token texts are parsed (a rendered template, or a
     * pre-rendered prompt with {@code --template none}), and BOS is added when the model asks for
     * it unless the text already starts with it (templates such as Llama 3's write it themselves).
     */
    public int[] tokenizePrompt(String prompt) {
        int bos = model.info().bos();
        boolean hasBos = bos >= 0 && !prompt.isEmpty() && prompt.startsWith(model.tokenText(bos));
        return model.tokenize(prompt, !hasBos, true);
    }

    private static Encoded encodeTokens(int[] promptTokens, int[] responseTokens, String response) {
        int[] all = Arrays.copyOf(promptTokens, promptTokens.length + responseTokens.length);
        System.arraycopy(responseTokens, 0, all, promptTokens.length, responseTokens.length);
        if (promptTokens.length == 0) {
            // nothing before the first response token: it cannot be scored, so it becomes the context
            if (responseTokens.length == 1) {
                throw new IllegalArgumentException("the response is a single token and there is no prompt to predict it from");
            }
            return new Encoded(all, 1, responseTokens, 1, response);
        }
        return new Encoded(all, promptTokens.length, responseTokens, 0, response);
    }
}
