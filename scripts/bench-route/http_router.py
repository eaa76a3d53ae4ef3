#!/usr/bin/env python3
"""The routing loop driven over HTTP, as a Python router would run it (for scripts/bench-route.sh).

  steps    SMALL_URL LARGE_URL SMALL_NAME LARGE_NAME PROBLEMS STEP TOTAL ANSWER SEED TRACES
      step by step against `panscore serve`: POST /v1/sessions (the problem), then per step
      POST /v1/sessions/{id}/glimpse; the chosen model writes the step through
      POST /v1/chat/completions (the released client's request: the steps as a continued
      "<think>" assistant turn, temperature 0.6, top_p 0.95, stop "\\n\\n", seed + k);
      POST /v1/sessions/{id}/append; the large model writes the answer; DELETE the session.
      The small model's steps come from the small server's OpenAI API, which decodes the whole
      context again for every step (usage.prompt_tokens counts it).
  endpoint SMALL_URL PROBLEMS STEP TOTAL ANSWER SEED TAU TRACES
      one POST /v1/route per problem (the loop inside the server).

Stop rules as RoutingLoop: a repeated step, "</think>", TOTAL step tokens. Standard library only;
one keep-alive connection per server. Prints one "RESULT ..." line; traces go to TRACES (JSONL).
"""
import http.client
import json
import sys
import time
import urllib.parse


class Client:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        self.calls = 0

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                text = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        self.calls += 1
        if r.status // 100 != 2:
            raise RuntimeError(f"{method} {path}: HTTP {r.status}: {text[:300]!r}")
        return json.loads(text)


def chat_body(name, question, steps, max_tokens, seed, stop):
    messages = [{"role": "user", "content": question}]
    b = {"model": name, "messages": messages, "max_tokens": max_tokens, "temperature": 0.6, "top_p": 0.95, "seed": seed}
    if steps:
        messages.append({"role": "assistant", "content": "<think>" + "\n\n".join(steps) + "\n\n"})
        b["continue_final_message"] = True
        b["add_generation_prompt"] = False
    if stop:
        b["stop"] = ["\n\n"]
    return b


def route_steps(small, large, small_name, large_name, question, step, total_max, answer_max, seed):
    sid = small.call("POST", "/v1/sessions", {"messages": [{"role": "user", "content": question}]})["session"]
    steps, seen, trace = [], set(), []
    total, small_prompt = 0, 0
    stop_reason = None
    try:
        k = 0
        while True:
            if total >= total_max:
                stop_reason = "max_total_tokens"
                break
            t0 = time.perf_counter()
            d = small.call("POST", f"/v1/sessions/{sid}/glimpse")
            big = d["route"] == "large"
            r = (large if big else small).call("POST", "/v1/chat/completions",
                                               chat_body(large_name if big else small_name, question, steps, step, seed + k, True))
            text = r["choices"][0]["message"]["content"]
            tokens = r["usage"]["completion_tokens"]
            if not big:
                small_prompt += r["usage"]["prompt_tokens"]
            trace.append({"model": "large" if big else "small", "entropy": d["entropy"], "tokens": tokens,
                          "ms": round((time.perf_counter() - t0) * 1000, 2), "text": text})
            total += tokens
            k += 1
            if text in seen:
                stop_reason = "repeated_step"
                break
            seen.add(text)
            steps.append(text)
            if "</think>" in text:
                stop_reason = "end_of_thinking"
                break
            if total >= total_max:
                stop_reason = "max_total_tokens"
                break
            small.call("POST", f"/v1/sessions/{sid}/append", {"text": text})
        answer = None
        answer_tokens = 0
        if answer_max > 0:
            r = large.call("POST", "/v1/chat/completions", chat_body(large_name, question, steps, answer_max, seed + 99999, False))
            answer = r["choices"][0]["message"]["content"]
            answer_tokens = r["usage"]["completion_tokens"]
    finally:
        small.call("DELETE", f"/v1/sessions/{sid}")
    return {"steps": trace, "stop_reason": stop_reason, "answer": answer, "answer_tokens": answer_tokens}, small_prompt


def totals(mode, traces, wall, calls, small_prompt, tau):
    steps = [s for t in traces for s in t["steps"]]
    larges = [s for s in steps if s["model"] == "large"]
    st = sum(s["tokens"] for s in steps if s["model"] == "small")
    lt = sum(s["tokens"] for s in larges)
    at = sum(t.get("answer_tokens") or 0 for t in traces)
    gen = st + lt + at
    print(f"RESULT policy={mode} tau={tau:.4f} wall_s={wall:.3f} problems={len(traces)} steps={len(steps)} large_steps={len(larges)} "
          f"large_step_fraction={len(larges) / max(1, len(steps)):.4f} small_tokens={st} large_tokens={lt} answer_tokens={at} "
          f"small_prompt_tokens_redecoded={small_prompt} http_calls={calls} ms_per_generated={wall * 1000 / max(1, gen):.3f}")


def main(a):
    mode = a[0]
    if mode == "steps":
        small, large = Client(a[1]), Client(a[2])
        small_name, large_name = a[3], a[4]
        problems = [l.strip() for l in open(a[5]) if l.strip()]
        step, total_max, answer_max, seed = int(a[6]), int(a[7]), int(a[8]), int(a[9])
        out = a[10]
        route_steps(small, large, small_name, large_name, problems[0], step, min(8, total_max), min(2, answer_max), seed)  # warm-up
        small.calls = large.calls = 0
        traces, small_prompt = [], 0
        t0 = time.perf_counter()
        for q in problems:
            t, sp = route_steps(small, large, small_name, large_name, q, step, total_max, answer_max, seed)
            traces.append(t)
            small_prompt += sp
        wall = time.perf_counter() - t0
        tau = small.call("GET", "/health")["threshold"]
        small.calls -= 1
        totals("glimp-http-steps", traces, wall, small.calls + large.calls, small_prompt, tau)
    elif mode == "endpoint":
        small = Client(a[1])
        problems = [l.strip() for l in open(a[2]) if l.strip()]
        step, total_max, answer_max, seed, tau = int(a[3]), int(a[4]), int(a[5]), int(a[6]), float(a[7])
        out = a[8]
        small.call("POST", "/v1/route", {"prompt": problems[0], "max_step_tokens": step, "max_total_tokens": min(8, total_max),
                                         "max_answer_tokens": min(2, answer_max), "seed": seed, "threshold": tau})  # warm-up
        small.calls = 0
        traces = []
        t0 = time.perf_counter()
        for q in problems:
            traces.append(small.call("POST", "/v1/route", {"prompt": q, "max_step_tokens": step, "max_total_tokens": total_max,
                                                           "max_answer_tokens": answer_max, "seed": seed, "threshold": tau}))
        wall = time.perf_counter() - t0
        totals("glimp-http-endpoint", traces, wall, small.calls, 0, tau)
    else:
        raise SystemExit(f"unknown mode {mode}")
    with open(out, "w") as f:
        for t in traces:
            f.write(json.dumps(t) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
