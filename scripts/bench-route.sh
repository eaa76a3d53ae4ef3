#!/usr/bin/env bash
# The routing loop end to end (issue #12), in one run:
#  1. the same problems under --policy glimp, small, large and random (random at the large step
#     fraction glimp produced), the loop in process with the large model as a second local GGUF:
#     wall time, tokens per model, decoded tokens per generated token. Two pairs: the tiny fixture
#     (2,051 tokens, d64) and stories260K (a trained TinyStories model, --template chatml) as the small
#     model, the qwen2 fixture (151,936 tokens, d256, 80M parameters) as the large one. tau is the
#     QUANTILE of the glimpse entropies of a pilot run where every step is small.
#  2. the same glimp loop three ways, the large model behind `panscore serve` (qwen2) in every case:
#     panscore's loop in process (RoutingLoop + OpenAiStepWriter), one POST /v1/route per problem
#     (the loop inside the sidecar), and the loop driven step by step over HTTP from Python
#     (sessions + glimpse + chat completions + append: what a Python router pays).
# The models are random-weight fixtures and a 260K-parameter story model: accuracy cannot be measured
# here. On real models measure it with `panscore route` per policy and grade the answers (docs/BENCHMARKS.md).
#
# Usage: scripts/bench-route.sh [-t THREADS] [-o DIR] [--quick]
#   -t       threads for every model (default 2)
#   --quick  3 problems, shorter steps: a smoke run, not a result
# Needs api/target/panscore.jar (mvn -B -ntp -q package -DskipTests) and python3. Prints a table; logs in -o DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_parse_args "$@"

JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
jar=api/target/panscore.jar
[ -f "$jar" ] || { echo "build $jar first: mvn -B -ntp -q package -DskipTests" >&2; exit 1; }
[ -n "$out" ] || out=bench/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-route
mkdir -p "$out"
echo "results in $out" >&2
section_started=$SECONDS
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

stories=""
for d in "${PANSCORE_SHARED_DIR:-/nonexistent}" shared ../shared ../../shared /work/shared; do
    [ -f "$d/models/stories260K.gguf" ] && { stories=$d/models/stories260K.gguf; break; }
done
[ -n "$stories" ] || { echo "shared/models/stories260K.gguf not found (set PANSCORE_SHARED_DIR)" >&2; exit 1; }
for p in tiny qwen2; do
    [ -f "$out/$p.gguf" ] || java --enable-native-access=ALL-UNNAMED -jar "$jar" fixture --preset "$p" --out "$out/$p.gguf" >&2
done

if [ "$quick" = 1 ]; then step=16 total=48 answer=8 n=3; else step=32 total=128 answer=32 n=6; fi
seed=1 quantile=0.7
head -n "$n" >"$out/problems.txt" <<'EOF'
What is 12 times 12? Think step by step.
Tom has 3 apples and buys 5 more. How many apples does he have?
A train leaves at 3 pm and travels for 2 hours. When does it arrive?
Is 91 a prime number? Explain.
Lily reads 10 pages a day. How long does a 120-page book take her?
What is the sum of the angles of a triangle?
EOF

harness() { java --enable-native-access=ALL-UNNAMED --source 25 -cp "$jar" scripts/bench-route/BenchRoute.java "$@"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }   # field NAME < RESULT line

# 1. policies, in process
harness policies "$out/tiny.gguf" model "$out/qwen2.gguf" "$out/problems.txt" "$threads" $step $total $answer $seed $quantile | tee "$out/policies-tiny.txt" >&2
harness policies "$stories" chatml "$out/qwen2.gguf" "$out/problems.txt" "$threads" $step $total $answer $seed $quantile | tee "$out/policies-stories.txt" >&2
tau=$(grep '^PILOT' "$out/policies-tiny.txt" | sed -n 's/.* tau=\([^ ]*\).*/\1/p')

# 2. in process vs the sidecar's /v1/route vs step by step over HTTP (tiny -> qwen2 behind panscore serve)
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap stop EXIT
wait_up() { # $1 = url, $2 = pid
    for _ in $(seq 1 900); do curl -sf "$1/health" >/dev/null 2>&1 && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.2; done
    echo "server at $1 did not come up" >&2; exit 1
}
lport=18471 sport=18472
java --enable-native-access=ALL-UNNAMED -jar "$jar" serve --model "$out/qwen2.gguf" --port $lport --threads "$threads" --ctx 4096 --max-sessions 4 \
    --openai-ctx 4096 --max-generations 2 --served-model-name large >"$out/serve-large.log" 2>&1 &
pids+=($!)
wait_up http://127.0.0.1:$lport "${pids[-1]}"
java --enable-native-access=ALL-UNNAMED -jar "$jar" serve --model "$out/tiny.gguf" --port $sport --threads "$threads" --ctx 4096 --max-sessions 4 \
    --openai-ctx 4096 --max-generations 2 --served-model-name small --threshold "$tau" \
    --large-url http://127.0.0.1:$lport/v1 --large-model large >"$out/serve-small.log" 2>&1 &
pids+=($!)
wait_up http://127.0.0.1:$sport "${pids[-1]}"
inproc=$(harness inprocess "$out/tiny.gguf" http://127.0.0.1:$lport/v1 large "$out/problems.txt" "$threads" $step $total $answer $seed "$tau" \
    "$out/traces-inprocess.jsonl" | tee -a "$out/http.txt" | grep '^RESULT')
endpoint=$(python3 scripts/bench-route/http_router.py endpoint http://127.0.0.1:$sport "$out/problems.txt" $step $total $answer $seed "$tau" \
    "$out/traces-endpoint.jsonl" | tee -a "$out/http.txt" | grep '^RESULT')
steps=$(python3 scripts/bench-route/http_router.py steps http://127.0.0.1:$sport http://127.0.0.1:$lport small large "$out/problems.txt" \
    $step $total $answer $seed "$out/traces-steps.jsonl" | tee -a "$out/http.txt" | grep '^RESULT')
stop
same() { # problems whose steps (model, text) are the same in two trace files
    python3 -c 'import json,sys
a=[json.loads(l) for l in open(sys.argv[1])]; b=[json.loads(l) for l in open(sys.argv[2])]
k=lambda t: [(s["model"], s["text"]) for s in t["steps"]]
print(sum(k(x) == k(y) for x, y in zip(a, b)), "of", len(a))' "$1" "$2"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
row() { # $1 = label, $2 = RESULT line
    printf '%-22s %8s %6s %7s %9s %9s %9s %10s %10s %11s %10s\n' "$1" "$(field wall_s <<<"$2")" "$(field steps <<<"$2")" \
        "$(field large_step_fraction <<<"$2")" "$(field small_tokens <<<"$2")" "$(field large_tokens <<<"$2")" "$(field answer_tokens <<<"$2")" \
        "$(field small_decoded <<<"$2")" "$(field large_decoded <<<"$2")" "$(field decoded_per_generated <<<"$2")" "$(field ms_per_generated <<<"$2")"
}
table() { # $1 = policies file
    printf '%-22s %8s %6s %7s %9s %9s %9s %10s %10s %11s %10s\n' policy wall_s steps large small_tok large_tok answer_tok small_dec large_dec dec/gen ms/gen
    for p in glimp small large random; do row "$p" "$(grep "^RESULT policy=$p " "$1")"; done
    echo "$(grep '^PILOT' "$1")"
    echo "random's large fraction: $(grep '^RESULT policy=random ' "$1" | field large_fraction_arg) (glimp's); glimp / large wall time: $(ratio \
        "$(grep '^RESULT policy=glimp ' "$1" | field wall_s)" "$(grep '^RESULT policy=large ' "$1" | field wall_s)"); glimp / random: $(ratio \
        "$(grep '^RESULT policy=glimp ' "$1" | field wall_s)" "$(grep '^RESULT policy=random ' "$1" | field wall_s)")"
}
{
bench_header "Routing loop benchmark (issue #12)"
echo "problems: $n ($out/problems.txt); max step tokens $step, max total step tokens $total, answer tokens $answer, seed $seed; temperature 0.6, top-p 0.95"
echo
echo "1a. policies in process, small = tiny fixture (2,051 tokens), large = qwen2 fixture (local GGUF)"
table "$out/policies-tiny.txt"
echo
echo "1b. policies in process, small = stories260K (--template chatml), large = qwen2 fixture (local GGUF)"
table "$out/policies-stories.txt"
echo
echo "2. glimp at tau $tau, small = tiny fixture, large = qwen2 fixture behind panscore serve (all three)"
printf '%-28s %8s %6s %7s %9s %9s %9s %12s %10s %10s\n' "" wall_s steps large small_tok large_tok answer_tok small_redecode http_calls ms/gen
for pair in "in process (RoutingLoop)|$inproc" "POST /v1/route per problem|$endpoint" "step by step over HTTP|$steps"; do
    label=${pair%%|*} r=${pair#*|}
    printf '%-28s %8s %6s %7s %9s %9s %9s %12s %10s %10s\n' "$label" "$(field wall_s <<<"$r")" "$(field steps <<<"$r")" \
        "$(field large_step_fraction <<<"$r")" "$(field small_tokens <<<"$r")" "$(field large_tokens <<<"$r")" "$(field answer_tokens <<<"$r")" \
        "$(field small_prompt_tokens_redecoded <<<"$r")" "$(field http_calls <<<"$r")" "$(field ms_per_generated <<<"$r")"
done
echo "in process: small model decoded $(field small_decoded <<<"$inproc") tokens for $(field small_tokens <<<"$inproc") small step tokens" \
    "($(field small_decoded_per_small_token <<<"$inproc") per token, glimpses included)"
echo "wall time ratios: /v1/route / in process $(ratio "$(field wall_s <<<"$endpoint")" "$(field wall_s <<<"$inproc")");" \
    "step by step over HTTP / in process $(ratio "$(field wall_s <<<"$steps")" "$(field wall_s <<<"$inproc")")"
echo "same steps as in process: /v1/route $(same "$out/traces-inprocess.jsonl" "$out/traces-endpoint.jsonl"); step by step $(same "$out/traces-inprocess.jsonl" "$out/traces-steps.jsonl")"
} | tee "$out/summary.txt"
