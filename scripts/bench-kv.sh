#!/usr/bin/env bash
# Issue 18, in one run: the unified KV cache vs per-sequence KV streams (EngineOptions.KvCache),
# side by side, each workload as a ratio against its unbatched baseline:
#   (a) GlimpseConcurrencyBenchmark -p kvCache=UNIFIED,PER_SEQUENCE: 16 threads glimpsing through
#       GlimpRouter vs one at a time, and one native pool batch (qwen2 and tiny fixtures);
#   (b) KvLayoutBenchmark packing: 64 sequences of 64..256 tokens in one Engine.score call vs one
#       per call, and packing-short: 64 of 8..32 tokens (qwen2 and tiny fixtures; the cost lines
#       say what one call costs against its length, the bound of packing);
#   (c) KvLayoutBenchmark sharing: 16 responses of 256 tokens after a 512-token prompt, shared vs
#       not (qwen2 fixture, and the Qwen2.5-0.5B-shaped fixture with -q);
#   (d) KvLayoutBenchmark generation: 8 greedy streams vs 1 (qwen2 fixture, and -q).
# The load average is printed with every number (the machine may be shared); KvLayoutBenchmark also
# prints the calling thread's CPU time, the work itself when -t 1 (prefer -t 1 on a loaded machine:
# two llama.cpp threads wait for each other at every graph node when a core is taken).
#
#   scripts/bench-kv.sh [-q QWEN05.gguf] [-t THREADS] [-o DIR] [--quick]
#
# -q: the 0.5B-shaped model (./panscore cli fixture --preset qwen05 --out F); without it (c) and
# (d) run on the qwen2 fixture only. --quick: one JMH iteration of 2 s and one timed run each.
set -euo pipefail
cd "$(dirname "$0")/.."
qwen05=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        -q) qwen05=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
# shellcheck source=bench-lib.sh
. scripts/bench-lib.sh
bench_parse_args "${args[@]+"${args[@]}"}"
bench_setup kv

timing=()
reps=2
if [ "$quick" = 1 ]; then timing=(-wi 0 -i 1 -r 2); reps=1; fi

echo "== GlimpseConcurrencyBenchmark, both KV layouts" >&2
jmh kv-glimpse 'GlimpseConcurrencyBenchmark' -p threads="$threads" -p kvCache=UNIFIED,PER_SEQUENCE "${timing[@]}"

kvb() { # workload model
    echo "== KvLayoutBenchmark $1 $2 (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    java --enable-native-access=ALL-UNNAMED -cp "$jar" io.panscore.bench.KvLayoutBenchmark "$1" "$2" "$threads" "$reps" 2>&1 \
        | tee -a "$out/kv-layout.log" >&2
}
kvb cost tiny
kvb packing tiny
kvb packing-short tiny
kvb packing qwen2
kvb packing-short qwen2
kvb sharing qwen2
kvb generation qwen2
if [ -n "$qwen05" ]; then
    kvb generation "$qwen05"
    kvb sharing "$qwen05" # the longest: minutes per run
fi

{
    bench_header "panscore KV layout benchmarks (issue 18)"
    python3 - "$out/kv-glimpse.json" <<'PY'
import json, sys
from collections import defaultdict
res = defaultdict(dict)
try:
    for r in json.load(open(sys.argv[1])):
        p = r["params"]
        res[(p["model"], p["kvCache"])][r["benchmark"].rsplit(".", 1)[1]] = r["primaryMetric"]["score"]
except (OSError, ValueError):
    pass
print()
print("(a) 16 glimpses: glimpses/s (router, 16 threads | one at a time | one native pool batch) and ratios")
print("    targets: concurrent/serial >= 2.5 (qwen2), >= 1.5 (tiny); concurrent/poolBatch >= 0.9")
for (m, kv), v in sorted(res.items()):
    c, s, b = v.get("concurrent", 0), v.get("serial", 0), v.get("poolBatch", 0)
    print(f"    {m:<6} {kv:<13} concurrent {c:8.1f}  serial {s:8.1f}  poolBatch {b:8.1f}  "
          f"concurrent/serial {c / s if s else 0:5.2f}x  poolBatch/serial {b / s if s else 0:5.2f}x  concurrent/poolBatch {c / b if b else 0:5.2f}")
PY
    echo
    echo "(b-d) KvLayoutBenchmark (best of $reps runs; runs under 10 s after a warm-up run):"
    grep '^RESULT' "$out/kv-layout.log" | sed 's/^RESULT /    /'
    echo
    echo "What one Engine.score call costs against its length (tiny fixture):"
    grep '^COST' "$out/kv-layout.log" | sed 's/^COST /    /'
} | tee "$out/kv-summary.txt"
