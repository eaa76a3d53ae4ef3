package io.panscore.api.cli;

import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryEncoder;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.InvalidInputException;
import io.panscore.kernel.Model;
import io.panscore.kernel.PanscoreException;
import io.panscore.kernel.Runtime;
import java.util.List;

/**
 * The --template option of the commands that render prompts (rsr, prm, demo, serve): checked once,
 * before anything is scored, so that a model without a chat template or an unknown template name
 * is one error that says what to pass instead, not one failure per trajectory.
 */
final class Templates {

    static final String DESCRIPTION = "prompt rendering: model (the GGUF's chat template through Jinja, as Hugging Face renders it), "
            + "jinja:FILE (a Jinja template file), none (the prompt field is pre-rendered text), pattern (llama.cpp's pattern renderer on the "
            + "GGUF's template: the old default), or a llama.cpp built-in template name (chatml, llama3, ...). Default: ${DEFAULT-VALUE}";

    private Templates() {}

    /** Parses --template and checks that it can render a prompt for {@code model}; throws with the fix otherwise. */
    static PromptTemplate checked(String option, Model model) {
        PromptTemplate template = PromptTemplate.parse(option);
        check(template, model);
        return template;
    }

    static void check(PromptTemplate template, Model model) {
        if (template.kind() == PromptTemplate.Kind.NONE) {
            return;
        }
        if (template.kind() == PromptTemplate.Kind.MODEL && model.chatTemplate().isEmpty()) {
            throw new InvalidInputException(0, model.path() + " has no chat template (no tokenizer.chat_template in the file), and"
                    + " --template model (the default) renders prompts with it: pass --template none to use the prompt text as"
                    + " written, or a built-in template, e.g. --template chatml (llama.cpp's built-in templates: " + builtinNames() + ")");
        }
        Trajectory probe = new Trajectory("probe", "", "", null, List.of(new ChatMessage("user", "Hello")), "Hi");
        try {
            new TrajectoryEncoder(model, template).renderPrompt(probe);
        } catch (PanscoreException | IllegalArgumentException e) {
            if (template.kind() == PromptTemplate.Kind.NAMED) {
                throw new InvalidInputException(0, "unknown chat template \"" + template.name() + "\" for --template: give model, none,"
                        + " or one of llama.cpp's built-in templates: " + builtinNames());
            }
            throw new InvalidInputException(0, "the chat template in " + model.path() + " cannot be rendered (" + e.getMessage()
                    + "): pass --template none, or a built-in template (llama.cpp's: " + builtinNames() + ")");
        }
    }

    static String builtinNames() {
        try {
            return String.join(", ", Runtime.builtinChatTemplates());
        } catch (PanscoreException e) {
            return "chatml, llama3, ...";
        }
    }
}
