#!/usr/bin/env bash
# Implicit PRM (SPEC §4) with PrmBenchmark, in one run, with a table: pairs (a response scored by
# the policy and the reference model) per second for 16 responses per problem, with shared and
# with distinct prompts; where the time goes (PrmScorer.timings(): policy decode, reference decode,
# the rest); and Engine.forward on the policy alone for the same sequences, which bounds the share
# of panscore's reduction in the policy's time.
# About 2 minutes on 2 quiet cores with the Qwen2 fixtures (3 methods x 3 invocations of 4 to 9 s,
# plus model loading); --quick: one warm-up and one measured invocation each.
#
#   scripts/bench-prm.sh [-m qwen2|tiny|POLICY.gguf] [-t THREADS] [-o DIR] [--quick] [-- JMH ARGS...]
#
# Default policy: the qwen2 fixture; reference: the same fixture with weight seed 7 (for a GGUF
# policy pass -- -p reference=REF.gguf). Results: DIR/prm.json, prm.log, prm-summary.txt.
# Options: see scripts/bench-lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench-lib.sh
. scripts/bench-lib.sh
bench_parse_args "$@"
bench_setup prm

model_args=()
[ -n "$model" ] && model_args=(-p "model=$model")
timing=()
[ "$quick" = 1 ] && timing=(-wi 1 -w 1 -i 1 -r 1)

echo "== PrmBenchmark (sharedPrompts, distinctPrompts, forwardOnlyPolicy)" >&2
jmh prm 'PrmBenchmark' -p threads="$threads" "${model_args[@]}" "${timing[@]}"

{
    bench_header "panscore implicit PRM benchmark"
    python3 - "$out/prm.json" <<'PY'
import json, sys

try:
    with open(sys.argv[1]) as f:
        res = {r["benchmark"].rsplit(".", 1)[1]: r for r in json.load(f)}
except (OSError, ValueError):
    res = {}
missing = [k for k in ["sharedPrompts", "distinctPrompts", "forwardOnlyPolicy"] if k not in res]
if not res:
    print("\nno results, see prm.log")
    sys.exit(1)

def rate(r, name):
    return float(r["secondaryMetrics"][name]["score"])

def total(r, name):  # EVENTS counters: sums per iteration; add the iterations up
    return sum(sum(float(x) for x in fork) for fork in r["secondaryMetrics"][name]["rawData"])

p = next(iter(res.values()))["params"]
print()
print(f"policy {p['model']}, reference {p['reference'] or p['model'] + ' fixture, seed 7'}; {p['problems']} problem(s) x "
      f"{p['responses']} responses, prompt ~{p['promptTokens']} tokens, responses ~{p['responseTokens']} tokens; "
      f"context {p['context']}, maxSequences {p['maxSequences']}, batch {p['batch']}, chunk {p['chunk']}")
print()
print(f"{'path':<40}{'pairs/s':>10}{'resp tok/s':>12}{'policy':>10}{'reference':>11}{'rest':>9}   (ms per pair)")
ms = {}
for k in ["sharedPrompts", "distinctPrompts"]:
    if k in res:
        r = res[k]
        n = total(r, "timedPairs")
        pol, ref, rest = (total(r, c) / n / 1e6 for c in ["policyNanos", "referenceNanos", "restNanos"])
        ms[k] = (pol, ref, rest)
        print(f"{k:<40}{rate(r, 'pairs'):>10,.2f}{rate(r, 'scoredTokens'):>12,.1f}{pol:>10.2f}{ref:>11.2f}{rest:>9.2f}")
fwd = None
if "forwardOnlyPolicy" in res:
    r = res["forwardOnlyPolicy"]
    fwd = total(r, "forwardNanos") / total(r, "timedPairs") / 1e6
    print(f"{'forwardOnlyPolicy (policy only, seq/s)':<40}{rate(r, 'pairs'):>10,.2f}{rate(r, 'scoredTokens'):>12,.1f}{fwd:>10.2f}"
          f"{'':>11}{'':>9}   (Engine.forward, ms per sequence)")
print()
print(f"{'ratio':<52}{'value':>10}")
if "sharedPrompts" in res and "distinctPrompts" in res:
    print(f"{'pairs/s, shared / distinct prompts':<52}{rate(res['sharedPrompts'], 'pairs') / rate(res['distinctPrompts'], 'pairs'):>10.2f}")
for k, (pol, ref, rest) in ms.items():
    t = pol + ref + rest
    print(f"{'time split, ' + k + ': policy / reference / rest':<52}{100 * pol / t:>9.1f}% {100 * ref / t:.1f}% {100 * rest / t:.1f}%")
if fwd is not None and "sharedPrompts" in ms:
    pol = ms["sharedPrompts"][0]
    print(f"{'policy score call / forward only (shared)':<52}{pol / fwd:>10.2f}")
    if fwd <= pol:
        print(f"{'reduction + unpacking share of the policy call':<52}{100 * (1 - fwd / pol):>9.1f}%   (1 - forward / policy; "
              "forward also copies every logits row, which scoring skips)")
    else:
        print(f"{'reduction + unpacking share of the policy call':<52}{'n/a':>10}   (forward took longer than scoring: "
              "within this run's noise, the reduction costs nothing measurable)")
if missing:
    print("\nFAILED (see prm.log): " + ", ".join("PrmBenchmark." + k for k in missing))
    sys.exit(1)
PY
} | tee "$out/prm-summary.txt"
