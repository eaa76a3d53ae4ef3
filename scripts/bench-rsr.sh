#!/usr/bin/env bash
# Offline RSR scoring (issue "Offline trajectory scoring"), in one run, with a ratio table:
#   (a) RsrPackingBenchmark: 200 trajectories of 16..512 tokens, packed (chunks of 64 per
#       Engine.score call) vs one trajectory per call; scored tokens/s and the ratio;
#   (b) RsrPromptSharingBenchmark: 16 responses of 128 tokens after one 512-token prompt, with and
#       without Sequence.sharingPrefix; scored (response) tokens/s and the ratio (target >= 1.8).
#   (c) fused scoring vs llama-perplexity is scripts/bench-perplexity.sh (and bench-all.sh's
#       default run); not repeated here.
# About 4.5 minutes on 2 quiet cores with the Qwen2 fixture (a: one pass of each path, about
# 1.5 min each; b: about 1 min); --quick: 40 trajectories in (a), shorter iterations in (b).
#
#   scripts/bench-rsr.sh [-m qwen2|tiny|MODEL.gguf] [-t THREADS] [-o DIR] [--quick] [-- JMH ARGS...]
#
# Default model: the qwen2 fixture; threads 2. Results: DIR/rsr-packing.json, rsr-sharing.json,
# their logs, rsr-summary.txt. Options: see scripts/bench-lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench-lib.sh
. scripts/bench-lib.sh
bench_parse_args "$@"
bench_setup rsr

model_args=()
[ -n "$model" ] && model_args=(-p "model=$model")
pack_quick=() share_quick=()
if [ "$quick" = 1 ]; then
    pack_quick=(-p trajectories=40)
    share_quick=(-wi 1 -w 1 -i 1 -r 2)
fi

echo "== RsrPackingBenchmark (packed, onePerCall)" >&2
jmh rsr-packing 'RsrPackingBenchmark' -p threads="$threads" "${model_args[@]}" "${pack_quick[@]}"
echo "== RsrPromptSharingBenchmark (shared, unshared)" >&2
jmh rsr-sharing 'RsrPromptSharingBenchmark' -p threads="$threads" "${model_args[@]}" "${share_quick[@]}"

{
    bench_header "panscore offline RSR benchmarks"
    python3 - "$out/rsr-packing.json" "$out/rsr-sharing.json" <<'PY'
import json, sys

def load(path):
    try:
        with open(path) as f:
            return {r["benchmark"].rsplit(".", 1)[1]: r for r in json.load(f)}
    except (OSError, ValueError):
        return {}

def sec(r, name):
    return float(r["secondaryMetrics"][name]["score"])

def ratio_line(label, a, b, target=None):
    if not a or not b:
        print(f"{label:<46}{'n/a':>14}")
        return
    v = a / b
    verdict = "" if target is None else f"   target >= {target}: " + ("ok" if v >= target else "MISSED")
    print(f"{label:<46}{v:>14.2f}{verdict}")

pack, share = load(sys.argv[1]), load(sys.argv[2])
missing = [f"RsrPackingBenchmark.{k}" for k in ["packed", "onePerCall"] if k not in pack]
missing += [f"RsrPromptSharingBenchmark.{k}" for k in ["shared", "unshared"] if k not in share]

if pack:
    p = next(iter(pack.values()))["params"]
    tok = {k: sec(r, "scoredTokens") for k, r in pack.items()}
    n_tok = int(round(sec(next(iter(pack.values())), "scoredTokens") / float(next(iter(pack.values()))["primaryMetric"]["score"])))
    print()
    print(f"(a) packing: model {p['model']}, {p['trajectories']} trajectories of {p['minTokens']}..{p['maxTokens']} tokens "
          f"({n_tok:,} scored tokens per pass), chunk {p['chunk']}, context {p['context']}, batch {p['batch']}, "
          f"maxSequences {p['maxSequences']}; {next(iter(pack.values()))['measurementIterations']} measured pass(es) per path")
    print(f"{'path':<46}{'scored tok/s':>14}{'traj/s':>10}{'s/pass':>9}")
    for k, what in [("packed", f"{p['chunk'] if int(p['chunk']) > 0 else 'all'} per call"), ("onePerCall", "one trajectory per call")]:
        if k in pack:
            r = pack[k]
            print(f"{k + ' (' + what + ')':<46}{tok[k]:>14,.1f}{sec(r, 'trajectories'):>10,.2f}{1 / float(r['primaryMetric']['score']):>9.1f}")
        else:
            print(f"{k:<46}{'FAILED: see rsr-packing.log':>33}")
    ratio_line("ratio packed / onePerCall", tok.get("packed"), tok.get("onePerCall"))
else:
    print("\n(a) packing: no results, see rsr-packing.log")

if share:
    q = next(iter(share.values()))["params"]
    stok = {k: sec(r, "scoredTokens") for k, r in share.items()}
    print()
    print(f"(b) prompt sharing: model {q['model']}, {q['responses']} responses x {q['responseTokens']} tokens after a "
          f"{q['promptTokens']}-token prompt, context {q['context']}, maxSequences {q['maxSequences']}, batch {q['batch']}")
    print(f"{'path':<46}{'scored tok/s':>14}{'± (99.9%)':>12}")
    for k, what in [("shared", "sharingPrefix"), ("unshared", "Sequence.from only")]:
        if k in share:
            e = float(share[k]["secondaryMetrics"]["scoredTokens"]["scoreError"])  # "NaN" below 3 iterations
            e = "" if e != e else f"{e:,.1f}"
            print(f"{k + ' (' + what + ')':<46}{stok[k]:>14,.1f}{e:>12}")
        else:
            print(f"{k:<46}{'FAILED: see rsr-sharing.log':>33}")
    ratio_line("ratio shared / unshared", stok.get("shared"), stok.get("unshared"), 1.8)
else:
    print("\n(b) prompt sharing: no results, see rsr-sharing.log")
print()
print("(c) fused scoring vs llama-perplexity: scripts/bench-perplexity.sh, or scripts/bench-all.sh (default run)")
if missing:
    print("\nFAILED: " + ", ".join(missing))
    sys.exit(1)
PY
} | tee "$out/rsr-summary.txt"
