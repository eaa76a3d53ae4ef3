#!/usr/bin/env bash
# GlimpRouter (SPEC §2), in one run, with a table, on the qwen2 and the tiny fixture:
#   (a) GlimpseLatencyBenchmark (JMH SampleTime: every glimpse timed, percentiles over all
#       samples): append a step + glimpse on a warm session through the router (maxWait 0, and
#       the default 200 µs) vs the same tokens on a SessionPool without the router; p50/p99 and
#       the router's overhead (target: at most 5% or 50 µs);
#   (b) GlimpseConcurrencyBenchmark: 16 threads each glimpsing its own session vs the same
#       glimpses one at a time from one thread; glimpses/s and the ratio (target >= 4).
# About 3.5 minutes on 2 cores for both models (5 JMH forks per model of 3 + 2 x 5 s, plus
# startup); --quick: no warm-up, one 2 s iteration each.
#
#   scripts/bench-router.sh [-m qwen2|tiny|MODEL.gguf] [-t THREADS] [-o DIR] [--quick] [-- JMH ARGS...]
#
# Default: both fixtures (-m picks one); threads 2. Results: DIR/router-latency.json,
# router-concurrency.json, their logs, router-summary.txt. Options: see scripts/bench-lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench-lib.sh
. scripts/bench-lib.sh
bench_parse_args "$@"
bench_setup router

model_args=()
[ -n "$model" ] && model_args=(-p "model=$model")
timing=()
[ "$quick" = 1 ] && timing=(-wi 0 -i 1 -r 2)

echo "== GlimpseLatencyBenchmark (rawPool, router, routerDefaultWait)" >&2
jmh router-latency 'GlimpseLatencyBenchmark' -p threads="$threads" "${model_args[@]}" "${timing[@]}"
echo "== GlimpseConcurrencyBenchmark (concurrent, serial, poolBatch)" >&2
jmh router-concurrency 'GlimpseConcurrencyBenchmark' -p threads="$threads" "${model_args[@]}" "${timing[@]}"

{
    bench_header "panscore GlimpRouter benchmarks"
    python3 - "$out/router-latency.json" "$out/router-concurrency.json" "$out/router-concurrency.log" <<'PY'
import json, re, sys
from collections import defaultdict

def load(path):
    out = defaultdict(dict)
    try:
        with open(path) as f:
            for r in json.load(f):
                out[r["params"]["model"]][r["benchmark"].rsplit(".", 1)[1]] = r
    except (OSError, ValueError):
        pass
    return out

lat, conc = load(sys.argv[1]), load(sys.argv[2])
dispatch = {}  # (method, model) -> the last "# dispatcher [...]" line: the last measured iteration
try:
    with open(sys.argv[3]) as f:
        for line in f:
            m = re.match(r"# dispatcher \[(\w+) (.+?)\]: (.*)", line.strip())
            if m:
                dispatch[(m.group(1), m.group(2))] = m.group(3)
except OSError:
    pass
print()
print("(a) glimpse latency on a warm session, µs (JMH SampleTime; percentiles of every measured sample)")
print(f"{'model':<8}{'path':<36}{'samples':>9}{'p50':>10}{'p90':>10}{'p99':>10}{'mean':>10}")
names = [("rawPool", "SessionPool"), ("router", "maxWait 0"), ("routerDefaultWait", "maxWait 200 µs")]
for m, res in lat.items():
    pct = {}
    for k, what in names:
        if k in res:
            pm = res[k]["primaryMetric"]
            p = pm["scorePercentiles"]
            n = sum(c for fork in pm.get("rawDataHistogram", []) for it in fork for _, c in it) or ""
            pct[k] = (float(p["50.0"]), float(p["99.0"]))
            print(f"{m:<8}{k + ' (' + what + ')':<36}{n:>9}{float(p['50.0']):>10,.1f}{float(p['90.0']):>10,.1f}"
                  f"{float(p['99.0']):>10,.1f}{float(pm['score']):>10,.1f}")
    for k in ["router", "routerDefaultWait"]:
        if k in pct and "rawPool" in pct:
            for i, q in enumerate(["p50", "p99"]):
                d = pct[k][i] - pct["rawPool"][i]
                rel = 100 * d / pct["rawPool"][i]
                ok = "ok" if d <= 50 or rel <= 5 else "MISSED"
                print(f"{'':<8}{'overhead ' + k + ' - rawPool, ' + q:<44}{d:>+10,.1f} µs {rel:>+7.1f}%   target <= 50 µs or 5%: {ok}")
print()
print("(b) 16 sessions, glimpses/s: 16 threads at once (concurrent) vs one thread in turn (serial), both through the router;")
print("    poolBatch: one thread, SessionPool.glimpse of all 16 in one decode, no router (the native ceiling of batching)")
print(f"{'model':<8}{'concurrent':>12}{'serial':>10}{'poolBatch':>11}{'concurrent/serial':>19}{'poolBatch/serial':>18}")
nan = float("nan")
for m, res in conc.items():
    c, s, pb = (float(res[k]["primaryMetric"]["score"]) if k in res else nan for k in ["concurrent", "serial", "poolBatch"])
    verdict = "" if c != c or s != s else "   target >= 4: " + ("ok" if c / s >= 4 else "MISSED")
    print(f"{m:<8}{c:>12,.1f}{s:>10,.1f}{pb:>11,.1f}{c / s:>19.2f}{pb / s:>18.2f}{verdict}")
    for k in ["concurrent", "serial"]:
        if (k, m) in dispatch:
            print(f"{'':<8}dispatcher, {k}: {dispatch[(k, m)]}")
missing = [f"GlimpseLatencyBenchmark.{k} ({m})" for m in set(lat) | set(conc) for k, _ in names if k not in lat[m]]
missing += [f"GlimpseConcurrencyBenchmark.{k} ({m})" for m in set(lat) | set(conc) for k in ["concurrent", "serial", "poolBatch"]
            if k not in conc[m]]
if missing or not (lat or conc):
    print("\nFAILED (see router-latency.log, router-concurrency.log): " + (", ".join(sorted(missing)) or "no results"))
    sys.exit(1)
PY
} | tee "$out/router-summary.txt"
