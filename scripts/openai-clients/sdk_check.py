"""The OpenAI Python SDK against `panscore serve`: GlimpRouter's released client's call pattern.

chat.completions.create(max_tokens=1, logprobs=True, top_logprobs=20, extra_body={continue_final_message})
gives the next token's top-20 log-probs; their renormalised entropy (computed here, client side, as
the released client does) must equal panscore's own TOP_K glimpse entropy for the same context
(POST /v1/glimpse on the same tokens, the router's path). Also: completions with echo (prompt
log-probs), a streamed chat, and the SDK's typed errors for a bad request and an unknown model.
Usage: sdk_check.py BASE_URL API_KEY
"""
import json
import math
import sys
import urllib.request

import openai
from openai import OpenAI

base, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
MODEL = client.models.list().data[0].id
failures = []
passes = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    (passes if ok else failures).append(what)


def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


messages = [{"role": "user", "content": "Tell me a story about a dog."},
            {"role": "assistant", "content": "Once upon a time, there was a little dog named"}]
extra = {"add_generation_prompt": False, "continue_final_message": True}
r = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=1, temperature=0,
                                   logprobs=True, top_logprobs=20, extra_body=extra)
tops = r.choices[0].logprobs.content[0].top_logprobs
check(len(tops) == 20, "20 top log-probs (got %d)" % len(tops))
z = sum(math.exp(t.logprob) for t in tops)
h = -sum(math.exp(t.logprob) / z * math.log(math.exp(t.logprob) / z) for t in tops)
tokens = post("/tokenize", {"messages": messages, **extra})["tokens"]
glimpse = post("/v1/glimpse", {"tokens": tokens})
print("client-side top-20 entropy %.6f, panscore glimpse top_k_entropy %.6f" % (h, glimpse["top_k_entropy"]))
check(abs(h - glimpse["top_k_entropy"]) < 1e-3, "top-20 renormalised entropy equals the TOP_K glimpse's")
check(r.choices[0].logprobs.content[0].token == tops[0].token, "greedy token is the top-1")

c = client.completions.create(model=MODEL, prompt="Once upon a time, there was a girl", echo=True,
                              max_tokens=0, logprobs=1)
lp = c.choices[0].logprobs
check(lp.token_logprobs[0] is None and all(x is not None for x in lp.token_logprobs[1:]),
      "echo: first prompt token has no log-prob, the others do")
check(c.choices[0].text == "Once upon a time, there was a girl", "echo returns the prompt")

stream = client.chat.completions.create(model=MODEL, messages=messages[:1], max_tokens=8, temperature=0, stream=True)
text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
blocking = client.chat.completions.create(model=MODEL, messages=messages[:1], max_tokens=8, temperature=0)
check(text == blocking.choices[0].message.content, "streamed chat equals the blocking one: %r" % text)

try:
    client.completions.create(model=MODEL, prompt="x", max_tokens=-1)
    check(False, "negative max_tokens refused")
except openai.BadRequestError as e:
    check(e.status_code == 400 and e.body.get("param") == "max_tokens", "negative max_tokens: BadRequestError, param max_tokens")
try:
    client.completions.create(model="gpt-9", prompt="x")
    check(False, "unknown model refused")
except openai.NotFoundError as e:
    check(e.code == "model_not_found", "unknown model: NotFoundError, code model_not_found")
try:
    OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
    check(False, "wrong API key refused")
except openai.AuthenticationError:
    check(True, "wrong API key: AuthenticationError")

print("openai-sdk: %d passed, %d failed" % (len(passes), len(failures)))
sys.exit(1 if failures else 0)
