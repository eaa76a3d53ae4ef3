#!/usr/bin/env bash
# The whole benchmark suite in one command: the JMH benchmarks (ScoringBenchmark, RowKernelBenchmark)
# and llama.cpp's llama-perplexity on the same model and text, then a table with the ratios the
# project is judged by. 5 to 6 minutes on 2 cores (under 10); results are kept in
# bench/target/bench-results/<date>/ (JMH JSON, logs, summary.txt).
#
#   scripts/bench-all.sh [-m MODEL.gguf] [-t THREADS] [--quick] [SECTIONS...] [-- EXTRA JMH ARGS...]
#
#   -m       model (default: the 151,936-token Qwen2 fixture)
#   -t       threads for llama.cpp and the fused reduction (default 2, as the issue asks)
#   --quick  shorter JMH iterations and one llama-perplexity run: a smoke test, not a result
#   --       everything after it goes to every JMH run (e.g. -- -p topK=20)
#
# Parameters of the ScoringBenchmark run: batch 512, ubatch 512, tokens 512, topK 0,
# skipLogitsCopy true; llama-perplexity: -c 512 -b 512 -ub 512. See docs/BENCHMARKS.md.
#
# Opt-in sections (any of them replaces the default run unless --core is given too); each is
# also a script of its own, with its own table, in the same results folder:
#   --rsr     offline RSR: packing and prompt sharing (scripts/bench-rsr.sh, ~4.5 min)
#   --prm     implicit PRM: pairs/s with and without shared prompts, time split (bench-prm.sh, ~2 min)
#   --router  GlimpRouter: glimpse latency vs raw decode, 16 concurrent sessions (bench-router.sh, ~3.5 min)
#   --all     the three sections above (~10 min on 2 quiet cores)
#   --core    the default run as well
# The sections take -m qwen2|tiny|MODEL.gguf (default: their own; the router runs both fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."

model="" threads=2 quick=0 extra=() sections=() core=0
while [ $# -gt 0 ]; do
    case "$1" in
        -m|--model) model=$2; shift 2 ;;
        -t|--threads) threads=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        --rsr|--prm|--router) sections+=("${1#--}"); shift ;;
        --all) sections+=(rsr prm router); shift ;;
        --core) core=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
done
[ ${#sections[@]} -eq 0 ] && core=1

JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
jar=${PANSCORE_BENCH_JAR:-bench/target/benchmarks.jar}
if [ ! -f "$jar" ]; then
    echo "building $jar" >&2
    MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
        mvn -B -ntp -q -pl bench -am package -DskipTests >&2
fi
export PANSCORE_BENCH_JAR=$jar

out=bench/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
echo "results in $out" >&2

if [ "$core" = 1 ]; then
timing=()
ppl_runs=3
if [ "$quick" = 1 ]; then
    timing=(-wi 1 -w 3 -i 2 -r 5)
    ppl_runs=1
fi
model_args=()
[ -n "$model" ] && model_args=(-p "model=$model")
jmh() { java --enable-native-access=ALL-UNNAMED -jar "$jar" "$@"; }

started=$SECONDS
echo "== ScoringBenchmark (forwardOnly, fused, naiveCopyToJava)" >&2
jmh ScoringBenchmark -p threads="$threads" -p ubatch=512 -p batch=512 -p tokens=512 "${model_args[@]}" \
    "${timing[@]}" "${extra[@]}" -rf json -rff "$out/scoring.json" 2>&1 | tee "$out/scoring.log" >&2
echo "== RowKernelBenchmark (the reduction alone, synthetic rows)" >&2
jmh RowKernelBenchmark -p threads="$threads" "${timing[@]}" "${extra[@]}" \
    -rf json -rff "$out/rowkernel.json" 2>&1 | tee "$out/rowkernel.log" >&2
echo "== llama-perplexity" >&2
ppl_model=()
[ -n "$model" ] && ppl_model=(-m "$model")
scripts/bench-perplexity.sh "${ppl_model[@]}" -t "$threads" -c 512 --runs "$ppl_runs" 2> "$out/perplexity.log" \
    | tee "$out/perplexity.txt"
cat "$out/perplexity.log" >&2
elapsed=$((SECONDS - started))

{
    echo "panscore benchmark summary, $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$quick" = 1 ] && echo ' (--quick: a smoke run)')"
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1); $(java -version 2>&1 | head -n1)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); model: ${model:-qwen2 fixture (151,936 tokens)}; threads $threads; suite ran ${elapsed}s"
    python3 - "$out/scoring.json" "$out/rowkernel.json" "$(cut -d' ' -f1 "$out/perplexity.txt")" <<'PY'
import json, sys

def load(path):
    with open(path) as f:
        return {r["benchmark"].rsplit(".", 1)[1]: r for r in json.load(f)}

def rate(r, counter):
    m = r["secondaryMetrics"][counter]
    return float(m["score"]), float(m["scoreError"])  # JMH writes "NaN" for the error of < 3 iterations

scoring, rows = load(sys.argv[1]), load(sys.argv[2])
ppl = float(sys.argv[3])
p = next(iter(scoring.values()))["params"]
print(f"ScoringBenchmark: batch {p['batch']}, ubatch {p['ubatch']}, tokens {p['tokens']}, topK {p['topK']}, "
      f"skipLogitsCopy {p['skipLogitsCopy']}")
print()
print(f"{'path':<52}{'scored tokens/s':>18}{'± (99.9%)':>12}")
tok = {}
for name, what in [("forwardOnly", "llama_decode, all logits, no stats"),
                   ("fused", "panscore score()"),
                   ("naiveCopyToJava", "logits() + 1-thread Java stats")]:
    if name in scoring:
        s, e = rate(scoring[name], "scoredTokens")
        tok[name] = s
        print(f"{name + ' (' + what + ')':<52}{s:>18,.1f}{e:>12,.1f}")
print(f"{'llama-perplexity (logprob only, see docs)':<52}{ppl:>18,.1f}{'':>12}")
print()
print(f"{'row kernel, synthetic 151,936-wide rows':<52}{'rows/s':>18}{'±':>12}")
rr = {}
for name in ["fusedInPlace", "fusedFromJavaArray", "naiveJava"]:
    if name in rows:
        s, e = rate(rows[name], "rows")
        rr[name] = s
        print(f"{name:<52}{s:>18,.1f}{e:>12,.1f}")
print()
print(f"{'ratio':<52}{'value':>18}{'target':>12}")
def ratio(label, a, b, target=None):
    if a is None or b is None or b == 0:
        print(f"{label:<52}{'n/a':>18}")
        return
    v = a / b
    verdict = "" if target is None else (f">= {target}  " + ("ok" if v >= target else "MISSED"))
    print(f"{label:<52}{v:>18.2f}   {verdict}")
ratio("fused / forwardOnly", tok.get("fused"), tok.get("forwardOnly"), 0.85)
ratio("fused / naiveCopyToJava", tok.get("fused"), tok.get("naiveCopyToJava"), 5)
ratio("fused / llama-perplexity", tok.get("fused"), ppl)
ratio("row kernel: fusedInPlace / naiveJava", rr.get("fusedInPlace"), rr.get("naiveJava"))
PY
} | tee "$out/summary.txt"
fi

# The opt-in sections, in the order given, each once.
section_args=(-t "$threads" -o "$out")
[ -n "$model" ] && section_args+=(-m "$model")
[ "$quick" = 1 ] && section_args+=(--quick)
done_sections=" "
for section in "${sections[@]}"; do
    case "$done_sections" in *" $section "*) continue ;; esac
    done_sections+="$section "
    started=$SECONDS
    echo "== section $section (scripts/bench-$section.sh)" >&2
    status=ok
    scripts/bench-"$section".sh "${section_args[@]}" -- "${extra[@]}" || status=FAILED
    echo "section $section: $status, $((SECONDS - started))s" | tee -a "$out/sections.txt"
done
! grep -q FAILED "$out/sections.txt" 2>/dev/null
