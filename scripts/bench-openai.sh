#!/usr/bin/env bash
# The OpenAI-compatible API's performance (issue #11), side by side in one run:
#  1. echo scoring over HTTP (panscore serve, POST /v1/completions, echo=true, max_tokens=0, logprobs=1)
#     against the Java API (Model + Engine, top-1, token texts) on the same 512-token prompts:
#     the HTTP overhead ratio (target <= 1.10);
#  2. greedy generation tokens/s of panscore serve against llama.cpp's own llama-server built from the
#     SAME pinned llama.cpp tree, same model, same threads: one stream, and 8 concurrent streams
#     (panscore --max-generations 8, llama-server -np 8); targets >= 0.9x and >= 1.0x.
#
# Usage: scripts/bench-openai.sh [-m qwen2|tiny|MODEL.gguf] [-t THREADS] [--texts N] [--tokens N]
#                                [--gen-tokens N] [--rounds N] [--llama-server PATH] [-o DIR]
#   -m            model for both parts (default qwen2: the 151,936-token Qwen2 fixture, generated when missing)
#   --llama-server a llama-server binary; default /tmp/llama-server-build/bin/llama-server, configured and
#                 built (several minutes on 2 cores) from ~/.cache/panscore/llama/src-<pin> when missing
# Needs api/target/panscore.jar (mvn -B -ntp -q package -DskipTests). Prints a ratio table; logs in -o DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

model=qwen2 threads=2 texts=8 tokens=512 gen_tokens=128 rounds=3 out="" llama_server=""
while [ $# -gt 0 ]; do
    case "$1" in
        -m|--model) model=$2; shift 2 ;;
        -t|--threads) threads=$2; shift 2 ;;
        --texts) texts=$2; shift 2 ;;
        --tokens) tokens=$2; shift 2 ;;
        --gen-tokens) gen_tokens=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --llama-server) llama_server=$2; shift 2 ;;
        -o|--out) out=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
done

JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
jar=api/target/panscore.jar
[ -f "$jar" ] || { echo "build $jar first: mvn -B -ntp -q package -DskipTests" >&2; exit 1; }
[ -n "$out" ] || out=bench/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-openai
mkdir -p "$out"
echo "results in $out" >&2
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$SECONDS

case "$model" in
    qwen2|tiny)
        f=$out/$model.gguf
        [ -f "$f" ] || java --enable-native-access=ALL-UNNAMED -jar "$jar" fixture --preset "$model" --out "$f" >&2
        model_file=$f ;;
    *) model_file=$model ;;
esac

if [ -z "$llama_server" ]; then
    llama_server=/tmp/llama-server-build/bin/llama-server
    if [ ! -x "$llama_server" ]; then
        src=$(ls -d "$HOME"/.cache/panscore/llama/src-* | head -n1)
        echo "building llama-server from $src in /tmp/llama-server-build (several minutes)" >&2
        cmake -S "$src" -B /tmp/llama-server-build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_BUILD_SERVER=ON \
            -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF >"$out/llama-server-build.log" 2>&1
        cmake --build /tmp/llama-server-build --target llama-server -j"$(nproc)" >>"$out/llama-server-build.log" 2>&1
    fi
fi

harness() { java --enable-native-access=ALL-UNNAMED --source 25 -cp "$jar" scripts/bench-openai/BenchOpenAi.java "$@"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }   # field NAME < RESULT line

pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT
wait_up() { # $1 = url
    for _ in $(seq 1 600); do curl -sf "$1/v1/models" >/dev/null 2>&1 && return 0; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    echo "server at $1 did not come up" >&2; exit 1
}
port=18411
ctx=4096
start_panscore() {
    java --enable-native-access=ALL-UNNAMED -jar "$jar" serve --model "$model_file" --host 127.0.0.1 --port $port \
        --threads "$threads" --max-generations 8 --openai-ctx $ctx --ctx 2048 --max-sessions 4 --served-model-name bench --template none >"$out/panscore-serve.log" 2>&1 &
    pid=$!
    wait_up http://127.0.0.1:$port
}
start_llama() {
    "$llama_server" -m "$model_file" --host 127.0.0.1 --port $port -t "$threads" -tb "$threads" -c $ctx -np 8 -b 512 -ub 512 \
        --no-webui --alias bench >"$out/llama-server.log" 2>&1 &
    pid=$!
    wait_up http://127.0.0.1:$port
}
prompt="Once upon a time, in a small village by the sea, there lived"

# 1. echo scoring: Java API, then HTTP
api=$(harness api "$model_file" "$threads" $ctx "$tokens" "$texts" "$rounds" | tee -a "$out/results.txt" | grep '^RESULT')
start_panscore
http=$(harness http http://127.0.0.1:$port "$model_file" "$tokens" "$texts" "$rounds" | tee -a "$out/results.txt" | grep '^RESULT')
# 2. generation through panscore serve (same server)
p1=$(harness gen http://127.0.0.1:$port 1 "$gen_tokens" "$rounds" "$prompt" | tee -a "$out/results.txt" | grep '^RESULT')
p8=$(harness gen http://127.0.0.1:$port 8 "$gen_tokens" "$rounds" "$prompt" | tee -a "$out/results.txt" | grep '^RESULT')
stop
start_llama
l1=$(harness gen http://127.0.0.1:$port 1 "$gen_tokens" "$rounds" "$prompt" | sed 's/^RESULT/RESULT llama-server/' | tee -a "$out/results.txt" | grep '^RESULT')
l8=$(harness gen http://127.0.0.1:$port 8 "$gen_tokens" "$rounds" "$prompt" | sed 's/^RESULT/RESULT llama-server/' | tee -a "$out/results.txt" | grep '^RESULT')
stop

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
{
echo "OpenAI API benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), load average $load_at_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(java -version 2>&1 | head -n1)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); model $model ($model_file); threads $threads; llama-server $llama_server; ran $((SECONDS - started))s"
echo
echo "1. echo scoring, $texts prompts of $tokens tokens, best of $rounds rounds"
printf '%-40s %10s %12s\n' "" "ms/prompt" "tokens/s"
printf '%-40s %10s %12s\n' "Java API (Engine.score, top-1)" "$(field ms_per_text <<<"$api")" "$(field tok_per_s <<<"$api")"
printf '%-40s %10s %12s\n' "HTTP /v1/completions echo, logprobs=1" "$(field ms_per_text <<<"$http")" "$(field tok_per_s <<<"$http")"
echo "HTTP / Java API time ratio: $(ratio "$(field ms_per_text <<<"$http")" "$(field ms_per_text <<<"$api")")   (target <= 1.10)"
echo
echo "2. greedy generation, max_tokens $gen_tokens, prompt \"$prompt\", best of $rounds rounds (tokens/s = all streams' tokens / wall time)"
printf '%-28s %14s %14s %8s %22s\n' "" "panscore tok/s" "llama-server" "ratio" "tokens/request p | l"
printf '%-28s %14s %14s %8s %22s\n' "1 stream" "$(field tok_per_s <<<"$p1")" "$(field tok_per_s <<<"$l1")" \
    "$(ratio "$(field tok_per_s <<<"$p1")" "$(field tok_per_s <<<"$l1")")" "$(field tokens_per_request <<<"$p1") | $(field tokens_per_request <<<"$l1")"
printf '%-28s %14s %14s %8s %22s\n' "8 concurrent streams" "$(field tok_per_s <<<"$p8")" "$(field tok_per_s <<<"$l8")" \
    "$(ratio "$(field tok_per_s <<<"$p8")" "$(field tok_per_s <<<"$l8")")" "$(field tokens_per_request <<<"$p8") | $(field tokens_per_request <<<"$l8")"
echo "targets: 1 stream >= 0.9x, 8 streams >= 1.0x"
} | tee "$out/summary.txt"
