#!/usr/bin/env bash
# Times llama.cpp's own llama-perplexity on the model and text the JMH benchmarks use and prints one
# line: scored tokens per second. Details go to stderr.
#
#   scripts/bench-perplexity.sh [-m MODEL.gguf] [-t THREADS] [-c CTX] [--chunks LO,HI] [--runs N]
#
#   -m       model (default: the 151,936-token Qwen2 fixture, as in ScoringBenchmark)
#   -t       threads (default: nproc)
#   -c       context per chunk, also the batch and micro-batch (default 512)
#   --chunks the two chunk counts timed (default 2,10); see below
#   --runs   repetitions; the median rate is printed (default 3)
#
# What llama-perplexity scores (tools/perplexity/perplexity.cpp at the pinned commit): the text is
# tokenized once and cut into chunks of CTX tokens; each chunk is one llama_decode of CTX tokens
# (KV cache cleared, first token replaced by BOS when the vocabulary adds one) that asks for logits
# at positions >= CTX/2 only, and positions CTX/2 .. CTX-2 are scored: CTX - CTX/2 - 1 tokens per
# chunk (255 at -c 512). Their log-softmax is computed on the host by hardware_concurrency threads.
# It needs at least 2 x CTX tokens of text.
#
# Timing: wall time of two runs differing only in --chunks (LO and HI), so model loading,
# tokenization, warm-up and process start cancel out:
#     rate = (HI - LO) x (CTX - CTX/2 - 1) / (t(HI) - t(LO)).
#
# Environment: PANSCORE_BENCH_JAR (default bench/target/benchmarks.jar, built with
# `mvn -B -ntp -pl bench -am package -DskipTests` when missing), LLAMA_PERPLEXITY (the binary; by
# default built on demand in the cached llama.cpp build tree named by
# bindings/target/cmake/llama-paths.properties).
set -euo pipefail
cd "$(dirname "$0")/.."

model="" threads="" ctx=512 chunks="2,10" runs=3
while [ $# -gt 0 ]; do
    case "$1" in
        -m|--model) model=$2; shift 2 ;;
        -t|--threads) threads=$2; shift 2 ;;
        -c|--ctx) ctx=$2; shift 2 ;;
        --chunks) chunks=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
done
threads=${threads:-$(nproc)}
lo=${chunks%,*} hi=${chunks#*,}
[ "$lo" -ge 1 ] && [ "$hi" -gt "$lo" ] || { echo "--chunks LO,HI needs 1 <= LO < HI" >&2; exit 2; }
[ "$ctx" -ge 4 ] && [ $((ctx % 2)) -eq 0 ] || { echo "-c must be an even number >= 4" >&2; exit 2; }

log() { echo "bench-perplexity: $*" >&2; }

JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
jar=${PANSCORE_BENCH_JAR:-bench/target/benchmarks.jar}
if [ ! -f "$jar" ]; then
    log "building $jar"
    MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
        mvn -B -ntp -q -pl bench -am package -DskipTests >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_inputs() { # the model path and text the JMH benchmarks use; the JVM's warnings only shown on failure
    java --enable-native-access=ALL-UNNAMED -cp "$jar" io.panscore.bench.BenchInputs "$@" 2>"$work/java.err" ||
        { cat "$work/java.err" >&2; echo "BenchInputs $1 failed (above)" >&2; return 1; }
}

# llama-perplexity, built on demand in the llama.cpp build tree the bindings module configured
ppl=${LLAMA_PERPLEXITY:-}
if [ -z "$ppl" ]; then
    props=bindings/target/cmake/llama-paths.properties
    [ -f "$props" ] || { echo "$props is missing: build the project first (mvn -B -ntp -pl bench -am package -DskipTests)" >&2; exit 1; }
    build_dir=$(sed -n 's/^llama\.build=//p' "$props")
    ppl=$build_dir/bin/llama-perplexity
    if [ ! -x "$ppl" ]; then
        log "building llama-perplexity in $build_dir"
        cmake --build "$build_dir" --target llama-perplexity -j "$(nproc)" >&2
    fi
fi

model=$(bench_inputs model "$model")
# the JMH text, repeated until it tokenizes to HI chunks (+1 token: the tokenizer may count BOS)
bench_inputs text $((hi * ctx + 1)) "$model" >"$work/text.txt"
per_chunk=$((ctx - ctx / 2 - 1))
log "model $model; text $(wc -c <"$work/text.txt") bytes; -c $ctx -b $ctx -ub $ctx -t $threads; $per_chunk scored tokens per chunk; chunks $lo vs $hi, $runs run(s)"

run_ppl() { # $1 = chunks; prints wall seconds
    local start end
    start=$EPOCHREALTIME
    if ! "$ppl" -m "$model" -f "$work/text.txt" -c "$ctx" -b "$ctx" -ub "$ctx" -t "$threads" -tb "$threads" \
            -fa off --chunks "$1" >"$work/ppl-$1.log" 2>&1; then
        cat "$work/ppl-$1.log" >&2
        echo "llama-perplexity failed (log above)" >&2
        exit 1
    fi
    end=$EPOCHREALTIME
    grep -q "calculating perplexity over $1 chunks" "$work/ppl-$1.log" || {
        cat "$work/ppl-$1.log" >&2; echo "llama-perplexity did not run $1 chunks (log above)" >&2; exit 1; }
    python3 -c "print($end - $start)"
}

rates=()
for ((r = 1; r <= runs; r++)); do
    t_lo=$(run_ppl "$lo")
    t_hi=$(run_ppl "$hi")
    rate=$(python3 -c "print(f'{($hi - $lo) * $per_chunk / ($t_hi - $t_lo):.1f}')")
    loop=$(python3 - "$work/ppl-$hi.log" "$hi" "$per_chunk" <<'PY'
import re, sys
# llama.cpp's log timestamps are MIN.SEC.MS.US; the chunk loop runs from "calculating perplexity"
# to "Final estimate" (decode + host log-softmax of every chunk, no loading or tokenization)
stamps = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\s*(\d+)\.(\d+)\.(\d+)\.(\d+) \w (.*)", line)
    if m:
        t = int(m[1]) * 60 + int(m[2]) + int(m[3]) / 1e3 + int(m[4]) / 1e6
        if "calculating perplexity over" in m[5]: stamps["a"] = t
        if "Final estimate" in m[5]: stamps["b"] = t
if len(stamps) == 2 and stamps["b"] > stamps["a"]:
    print(f"{int(sys.argv[2]) * int(sys.argv[3]) / (stamps['b'] - stamps['a']):.1f} scored tokens/s over its chunk loop alone")
else:
    print("n/a (no timestamps in its log)")
PY
)
    log "run $r: $lo chunks ${t_lo}s, $hi chunks ${t_hi}s -> $rate scored tokens/s (cross-check from llama's log at $hi chunks: $loop)"
    rates+=("$rate")
done
python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f} tokens/s')" "${rates[@]}"
