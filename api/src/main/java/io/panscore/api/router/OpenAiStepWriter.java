package io.panscore.api.router;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.kernel.ChatMessage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The large model behind any OpenAI-compatible chat completions endpoint (vLLM, llama-server,
 * {@code panscore serve}), over {@code java.net.http}. Each step is one request shaped like the
 * released GlimpRouter client's (the OpenAI SDK's {@code chat.completions.create} with vLLM's extra
 * body): the problem's messages, and once there are steps an assistant message
 * {@code "<think>" + steps joined by "\n\n" + "\n\n"} that the server continues
 * ({@code "continue_final_message": true, "add_generation_prompt": false}); {@code max_tokens},
 * {@code temperature}, {@code top_p}, {@code stop}, {@code seed}. The step is the answer's
 * {@code choices[0].message.content}; its token count is {@code usage.completion_tokens}.
 *
 * <p>Stateless (the server keeps whatever cache it keeps); thread-safe.
 */
public final class OpenAiStepWriter implements StepWriter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI endpoint;
    private final String model;
    private final String apiKey;
    private final Duration timeout;
    private final HttpClient http;

    /**
     * @param baseUrl the API's base, e.g. {@code http://127.0.0.1:8000/v1} ({@code /chat/completions} is appended)
     * @param model   the "model" field of the requests
     * @param apiKey  sent as a bearer token; null for none
     * @param timeout for each request
     */
    public OpenAiStepWriter(String baseUrl, String model, String apiKey, Duration timeout) {
        Objects.requireNonNull(baseUrl, "baseUrl");
        String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        URI uri;
        try {
            uri = URI.create(base + "/chat/completions");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a URL: " + baseUrl + " (expected e.g. http://127.0.0.1:8000/v1)", e);
        }
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https")) || uri.getHost() == null) {
            throw new IllegalArgumentException("not an http(s) URL: " + baseUrl + " (expected e.g. http://127.0.0.1:8000/v1)");
        }
        this.endpoint = uri;
        this.model = Objects.requireNonNull(model, "model");
        this.apiKey = apiKey;
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    @Override
    public String name() {
        return endpoint.toString();
    }

    /** The request body for a step (what the released client sends). */
    ObjectNode body(List<ChatMessage> messages, List<String> steps, Request request) {
        ObjectNode b = JSON.createObjectNode();
        b.put("model", model);
        ArrayNode ms = b.putArray("messages");
        for (ChatMessage m : messages) {
            ms.addObject().put("role", m.role()).put("content", m.content());
        }
        if (!steps.isEmpty()) {
            ms.addObject().put("role", "assistant").put("content", "<think>" + String.join("\n\n", steps) + "\n\n");
        }
        b.put("max_tokens", request.maxTokens());
        b.put("temperature", request.sampling().temperature());
        b.put("top_p", request.sampling().topP() == 0 ? 1.0 : request.sampling().topP());
        if (!request.stop().isEmpty()) {
            ArrayNode stop = b.putArray("stop");
            request.stop().forEach(stop::add);
        }
        if (request.sampling().seed() >= 0) {
            b.put("seed", request.sampling().seed());
        }
        if (!steps.isEmpty()) {
            b.put("continue_final_message", true);
            b.put("add_generation_prompt", false);
        }
        return b;
    }

    @Override
    public Conversation open(List<ChatMessage> messages) {
        List<ChatMessage> msgs = List.copyOf(messages);
        return new Conversation() {
            @Override
            public Written write(List<String> steps, Request request) {
                return post(body(msgs, steps, request));
            }

            @Override
            public void close() {}
        };
    }

    private Written post(ObjectNode body) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(endpoint).timeout(timeout).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (apiKey != null) {
            rb.header("Authorization", "Bearer " + apiKey);
        }
        HttpResponse<String> r;
        try {
            r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException("the large model's endpoint " + endpoint + " did not answer: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + endpoint, e);
        }
        if (r.statusCode() / 100 != 2) {
            String text = r.body() == null ? "" : r.body();
            throw new IllegalStateException("the large model's endpoint " + endpoint + " answered HTTP " + r.statusCode() + ": "
                    + (text.length() > 500 ? text.substring(0, 500) + "..." : text));
        }
        try {
            JsonNode j = JSON.readTree(r.body());
            JsonNode choice = j.path("choices").path(0);
            JsonNode content = choice.path("message").path("content");
            if (!content.isTextual()) {
                throw new IllegalStateException("the large model's endpoint " + endpoint + " answered without choices[0].message.content: "
                        + abbreviate(r.body()));
            }
            int tokens = j.path("usage").path("completion_tokens").asInt(-1);
            return new Written(content.asText(), tokens, choice.path("finish_reason").asText("unknown"));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("the large model's endpoint " + endpoint + " answered with invalid JSON: " + abbreviate(r.body()), e);
        }
    }

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() > 500 ? s.substring(0, 500) + "..." : s;
    }

    @Override
    public void close() {
        http.close();
    }
}
