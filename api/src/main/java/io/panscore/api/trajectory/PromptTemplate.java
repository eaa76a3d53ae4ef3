package io.panscore.api.trajectory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How the prompt side is turned into text before tokenization.
 *
 * <ul>
 *   <li>{@link #model()} (default): the model's own chat template ({@code tokenizer.chat_template}
 *       in the GGUF) rendered by a real Jinja engine (llama.cpp's, with Hugging Face's semantics:
 *       what the released code of RSR and ImplicitPRM renders with); a string prompt becomes one
 *       user message; the rendering ends with the generation prompt (the assistant turn's opening).
 *       No system turn is added beyond what the template itself adds.</li>
 *   <li>{@link #jinja(String)}: the same with a given Jinja template (e.g. read from a file).</li>
 *   <li>{@link #none()}: no template: the {@code prompt} field is pre-rendered text, used as it is
 *       (special-token texts such as {@code <|im_start|>} become their tokens; BOS is not added
 *       again when the text starts with it); chat messages are joined by newlines.</li>
 *   <li>{@link #pattern()}: the fallback of earlier versions: llama.cpp's pattern-matched renderer
 *       on the model's template (it recognises common templates by pattern, no Jinja; it renders
 *       Qwen2.5- and Llama-3.1-style templates without their default system turn).</li>
 *   <li>{@link #named(String)}: one of llama.cpp's built-in pattern templates, e.g. "chatml", "llama3".</li>
 * </ul>
 */
public record PromptTemplate(Kind kind, String name) {

    public enum Kind { MODEL, NONE, NAMED, PATTERN, JINJA }

    public static PromptTemplate model() {
        return new PromptTemplate(Kind.MODEL, null);
    }

    public static PromptTemplate none() {
        return new PromptTemplate(Kind.NONE, null);
    }

    public static PromptTemplate named(String name) {
        return new PromptTemplate(Kind.NAMED, name);
    }

    /** The model's template through llama.cpp's pattern renderer (no Jinja): the old default. */
    public static PromptTemplate pattern() {
        return new PromptTemplate(Kind.PATTERN, null);
    }

    /** A given Jinja template (its source text). */
    public static PromptTemplate jinja(String source) {
        return new PromptTemplate(Kind.JINJA, source);
    }

    /**
     * "model" (Jinja, the GGUF's template), "none" (pre-rendered prompt), "pattern" (llama.cpp's
     * pattern renderer on the GGUF's template), "jinja:PATH" (a Jinja template file), or a
     * built-in pattern template name ("chatml", "llama3", ...).
     */
    public static PromptTemplate parse(String s) {
        if (s.startsWith("jinja:")) {
            Path p = Path.of(s.substring("jinja:".length()));
            try {
                return jinja(Files.readString(p, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the chat template " + p + ": " + e.getMessage(), e);
            }
        }
        return switch (s) {
            case "model" -> model();
            case "none" -> none();
            case "pattern" -> pattern();
            default -> named(s);
        };
    }
}
