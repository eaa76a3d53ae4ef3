"""lm-evaluation-harness's results against panscore's own numbers.

lm-eval's remote tokenizer counts tokens without BOS (it asks /tokenize with add_special_tokens
false), so the server runs with --add-bos false and lm-eval's numbers are those of BOS-less token
sequences. For every multiple-choice sample lm-eval logged, the log-likelihood it reports for a
choice must equal the continuation's sum over exactly those tokens, sliced here (within 1e-4), and
lm-eval's accuracy must equal the accuracy of the choice picked from those sums. The same texts
with BOS must give the sums `panscore cli score --format jsonl` gives (a separate process, within
1e-4). The generate_until answers must be non-empty and stopped before ".".
Usage: lm_eval_check.py BASE_URL API_KEY MODEL_GGUF OUTPUT_DIR LABEL
"""
import glob
import json
import subprocess
import sys
import urllib.request

base, key, model, out, label = sys.argv[1:6]
failures, passes = [], []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + label + ": " + what)
    (passes if ok else failures).append(what)


def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def tokenize(text, bos):
    return post("/tokenize", {"prompt": text, "add_special_tokens": bos})["tokens"]


def echo_sum(prompt, start, **extra):
    c = post("/v1/completions", {"prompt": prompt, "echo": True, "max_tokens": 0, "logprobs": 0, **extra})
    return sum(c["choices"][0]["logprobs"]["token_logprobs"][start:])


def cli_score(text):
    p = subprocess.run(["./panscore", "cli", "score", "-m", model, "--text", text, "--format", "jsonl", "--threads", "2"],
                       capture_output=True, text=True, check=True)
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def one(pattern):
    files = glob.glob(out + "/**/" + pattern, recursive=True)
    if len(files) != 1:
        sys.exit("lm-eval wrote %d files matching %s under %s" % (len(files), pattern, out))
    return files[0]


results = json.load(open(one("results_*.json")))["results"]
correct, docs, worst, worst_cli = 0, 0, 0.0, 0.0
for line in open(one("samples_panscore_stories_mc_*.jsonl")):
    s = json.loads(line)
    doc = s["doc"]
    ctxlen = len(tokenize(doc["context"], False))
    sums = []
    for choice, resp in zip(doc["choices"], s["resps"]):
        text = doc["context"] + choice
        ours = echo_sum(tokenize(text, False), ctxlen)
        theirs = float(resp[0][0])
        worst = max(worst, abs(ours - theirs))
        sums.append(ours)
        # with BOS: the server's echo and `panscore cli score` on the same text
        ctx_bos = len(tokenize(doc["context"], True))
        cli = sum(r["logprob"] for r in cli_score(text) if r["pos"] >= ctx_bos)
        worst_cli = max(worst_cli, abs(echo_sum(text, ctx_bos, add_special_tokens=True) - cli))
    docs += 1
    correct += int(max(range(len(sums)), key=lambda i: sums[i]) == doc["label"])
print("%s: largest |lm-eval - continuation sum| = %.3g nats; largest |echo - panscore cli score| = %.3g nats" % (label, worst, worst_cli))
check(worst < 1e-4, "lm-eval log-likelihoods equal the continuations' sums over the same tokens within 1e-4")
check(worst_cli < 1e-4, "echo sums equal panscore cli score sums within 1e-4")
acc = results["panscore_stories_mc"]["acc,none"]
check(abs(acc - correct / docs) < 1e-9, "lm-eval accuracy %.4f equals the accuracy from panscore's sums %.4f" % (acc, correct / docs))
check(docs == 6, "all 6 multiple-choice documents evaluated")
gens = [json.loads(line) for line in open(one("samples_panscore_stories_gen_*.jsonl"))]
texts = [g["resps"][0][0] for g in gens]
check(len(texts) == 3 and all(t and "." not in t for t in texts), "generate_until answers non-empty and stopped before '.': %r" % texts)
print("lm-eval %s: %d passed, %d failed" % (label, len(passes), len(failures)))
sys.exit(1 if failures else 0)
