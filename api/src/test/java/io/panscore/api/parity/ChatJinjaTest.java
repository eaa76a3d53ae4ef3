package io.panscore.api.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.InvalidInputException;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * Chat templates rendered through llama.cpp's Jinja engine ({@link Model#renderChatJinja}) must be
 * byte-identical to Python's jinja2 with Hugging Face's settings (scripts/hf-chat-render.py, the
 * independent reference: what the released code of RSR, ImplicitPRM and GlimpRouter renders
 * with). The templates are the real ones in the pinned llama.cpp tree's models/templates/, each
 * embedded in a fixture model as its tokenizer.chat_template.
 */
public class ChatJinjaTest {

    static final String[] TEMPLATES = {
        "Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B",
        "meta-llama-Llama-3.1-8B-Instruct", "Qwen-QwQ-32B", "meta-llama-Llama-3.2-3B-Instruct"};

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The pinned llama.cpp source tree, as recorded by the CMake build. */
    static Path llamaSource() throws IOException {
        for (Path p : new Path[] {Path.of("../bindings/target/cmake/llama-paths.properties"),
                Path.of("bindings/target/cmake/llama-paths.properties")}) {
            if (Files.isRegularFile(p)) {
                Properties props = new Properties();
                try (var in = Files.newInputStream(p)) {
                    props.load(in);
                }
                return Path.of(props.getProperty("llama.source"));
            }
        }
        throw new IllegalStateException("llama-paths.properties not found: build the bindings module first");
    }

    static String template(String name) throws IOException {
        return Files.readString(llamaSource().resolve("models/templates/" + name + ".jinja"), StandardCharsets.UTF_8);
    }

    private record Case(List<ChatMessage> messages, boolean gen, boolean cont) {}

    private static List<Case> conversations() {
        ChatMessage sys = new ChatMessage("system", "You are terse. Answer in \"quotes\" {braces} & <tags>.");
        ChatMessage u1 = new ChatMessage("user", "What is 2 + 2?\nShow the steps.");
        ChatMessage a1 = new ChatMessage("assistant", "Step 1: 2 + 2 = 4.\n\nStep 2: so the answer is 4.");
        ChatMessage u2 = new ChatMessage("user", "  And 3 × 3? Ünïcödé ✓ ");
        ChatMessage a2 = new ChatMessage("assistant", "<think>3 × 3 is nine.\n\nCheck: 9.\n\n");
        ChatMessage a3 = new ChatMessage("assistant", "<think>Let me think.</think>\n\nNine.");
        return List.of(
                new Case(List.of(u1), true, false),
                new Case(List.of(sys, u1), true, false),
                new Case(List.of(u1, a1, u2), true, false),
                new Case(List.of(sys, u1, a1, u2), true, false),
                new Case(List.of(u1, a1), false, false),
                new Case(List.of(sys, u1, a1, u2, a3), false, false),
                new Case(List.of(u1, a2), false, true),
                new Case(List.of(sys, u1, a1, u2, a2), false, true),
                new Case(List.of(u1, a1), false, true));
    }

    @Test
    void rendersLikeHuggingFaceJinja2() throws Exception {
        List<String> got = new ArrayList<>();
        ArrayNode cases = JSON.createArrayNode();
        List<String> labels = new ArrayList<>();
        for (String name : TEMPLATES) {
            String tmpl = template(name);
            try (Model model = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), tmpl))) {
                assertEquals(tmpl, model.chatTemplate().orElseThrow(), "the fixture carries the template");
                String bos = model.info().bos() >= 0 ? model.tokenText(model.info().bos()) : "";
                String eos = model.info().eos() >= 0 ? model.tokenText(model.info().eos()) : "";
                int i = 0;
                for (Case c : conversations()) {
                    got.add(model.renderChatJinja(c.messages(), null, c.gen(), c.cont()));
                    labels.add(name + " case " + i++);
                    ObjectNode o = cases.addObject();
                    o.put("template", tmpl);
                    o.put("bos_token", bos);
                    o.put("eos_token", eos);
                    o.put("add_generation_prompt", c.gen());
                    o.put("continue_final_message", c.cont());
                    ArrayNode ms = o.putArray("messages");
                    for (ChatMessage m : c.messages()) {
                        ms.addObject().put("role", m.role()).put("content", m.content());
                    }
                }
            }
        }
        JsonNode expected = python(cases);
        assertEquals(got.size(), expected.size());
        for (int i = 0; i < got.size(); i++) {
            JsonNode e = expected.get(i);
            assertTrue(e.has("text"), labels.get(i) + ": jinja2 failed: " + e);
            assertEquals(e.get("text").asText(), got.get(i), labels.get(i));
        }
    }

    @Test
    void givenTemplateAndErrors() throws Exception {
        try (Model model = Model.load(Fixtures.tiny())) {
        String tmpl = "{% for m in messages %}[{{ m.role }}]{{ m.content | trim }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}";
        List<ChatMessage> msgs = List.of(new ChatMessage("user", " hi "), new ChatMessage("assistant", "yes"));
        assertEquals("[user]hi\n[assistant]yes\n", model.renderChatJinja(msgs, tmpl, false, false));
        assertEquals("[user]hi\n[assistant]yes\n[assistant]", model.renderChatJinja(msgs, tmpl, true, false));
        // continued: cut right after the final message's text
        assertEquals("[user]hi\n[assistant]yes", model.renderChatJinja(msgs, tmpl, false, true));
        // a template that raises, one that does not parse, both flags, a final message the template drops
        InvalidInputException raised = assertThrows(InvalidInputException.class,
                () -> model.renderChatJinja(msgs, "{{ raise_exception('no system role') }}", false, false));
        assertTrue(raised.getMessage().contains("no system role"), raised.getMessage());
        assertThrows(InvalidInputException.class, () -> model.renderChatJinja(msgs, "{% for %}", false, false));
        assertThrows(InvalidInputException.class, () -> model.renderChatJinja(msgs, tmpl, true, true));
        assertThrows(InvalidInputException.class, () -> model.renderChatJinja(msgs, "{{ messages[0].content }}", false, true));
        }
    }

    /** Runs the reference renderer on all cases at once. */
    static JsonNode python(JsonNode cases) throws IOException, InterruptedException {
        Path script = Files.isRegularFile(Path.of("../scripts/hf-chat-render.py")) ? Path.of("../scripts/hf-chat-render.py")
                : Path.of("scripts/hf-chat-render.py");
        Process p = new ProcessBuilder("python3", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (var out = p.getOutputStream()) {
            out.write(JSON.writeValueAsBytes(cases));
        }
        byte[] stdout = p.getInputStream().readAllBytes();
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IllegalStateException("python3 " + script + " failed (" + rc + "): is jinja2 installed? (pip install jinja2)");
        }
        return JSON.readTree(stdout);
    }
}
