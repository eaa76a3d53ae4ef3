package io.panscore.api.trajectory;

/**
 * How the prompt side is turned into text before tokenization.
 *
 * <ul>
 *   <li>{@link #model()}: the model's own chat template (from the GGUF); a string prompt becomes
 *       one user message; the rendering ends with the assistant turn's opening.</li>
 *   <li>{@link #none()}: no template: a string prompt is used as is, chat messages are joined by
 *       newlines (their roles dropped).</li>
 *   <li>{@link #named(String)}: one of llama.cpp's built-in templates, e.g. "chatml", "llama3".</li>
 * </ul>
 */
public record PromptTemplate(Kind kind, String name) {

    public enum Kind { MODEL, NONE, NAMED }

    public static PromptTemplate model() {
        return new PromptTemplate(Kind.MODEL, null);
    }

    public static PromptTemplate none() {
        return new PromptTemplate(Kind.NONE, null);
    }

    public static PromptTemplate named(String name) {
        return new PromptTemplate(Kind.NAMED, name);
    }

    /** "model", "none", or a built-in template name. */
    public static PromptTemplate parse(String s) {
        return switch (s) {
            case "model" -> model();
            case "none" -> none();
            default -> named(s);
        };
    }
}
