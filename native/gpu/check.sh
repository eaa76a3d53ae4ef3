#!/usr/bin/env bash
# panscore's GPU check, in one call of at most ~10 minutes on a bare CUDA machine (H100/H200).
# What it does, what it needs and what it prints: native/gpu/README.md.
#
#   native/gpu/check.sh [LLAMA_SRC]      LLAMA_SRC defaults to ./.device/llama-src
#
# Environment (all optional):
#   PANSCORE_GPU_BUDGET_S   seconds this script may use in all (default 540); steps that would not
#                           fit are skipped, a step still running at the end is stopped, and the
#                           summary is printed either way
#   PANSCORE_GPU_WORK       work folder (default build/gpu-check; kept, so a second run on the same
#                           machine reuses the llama.cpp build, the fixture models and the tools)
#   PANSCORE_CUDA_ARCH      CUDA architecture (default 90 = Hopper)
#   PANSCORE_GPU_FA=1       also build llama.cpp's CUDA flash-attention kernels (off by default:
#                           they are most of the build time, and panscore defaults to flash_attn=0)
#   PANSCORE_GPU_BIG=0      skip the Qwen2.5-0.5B-shaped benchmark model (default: run it if time allows)
#   PANSCORE_GPU_BENCH_SEQS sequences of 512 tokens per benchmark call (default 64)
#   PANSCORE_GPU_CMAKE_ARGS extra arguments for panscore's cmake configure (word-split)
#
# Exit status: 0 all steps passed; 1 a step failed; 3 nothing failed but a step was skipped or
# stopped for lack of time (run the same command again while the machine is warm: it resumes).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
T0=$(date +%s)
BUDGET=${PANSCORE_GPU_BUDGET_S:-540}
WORK=${PANSCORE_GPU_WORK:-$ROOT/build/gpu-check}
ARCH=${PANSCORE_CUDA_ARCH:-90}
LLAMA_SRC=${1:-$ROOT/.device/llama-src}
JOBS=$(nproc 2>/dev/null || echo 4)
LOGS=$WORK/logs
BIN=$WORK/bin
MODELS=$WORK/models
mkdir -p "$LOGS" "$BIN" "$MODELS"
export PANSCORE_CACHE_DIR=$WORK/cache # llama.cpp builds, shared by CMake and Maven below
export PATH="$PATH:/usr/local/cuda/bin"

STEPS=()     # one summary line per step
RESULTS=()   # benchmark rows: "method|scored/s|forwarded/s|best s|note"
NOTES=()     # lines worth repeating at the end
ANY_FAIL=0
ANY_SHORT=0

elapsed() { echo $(( $(date +%s) - T0 )); }
remaining() { echo $(( BUDGET - $(elapsed) )); }
say() { printf '[%4ss] %s\n' "$(elapsed)" "$*"; }
record() { STEPS+=("$(printf '%-42s %-5s %5ss  %s' "$1" "$2" "$3" "${4:-}")"); }

# run_step NAME MIN_SECONDS LOG COMMAND...: runs COMMAND (output to LOG) with the time that is
# left, unless less than MIN_SECONDS is left. timeout signals the whole process group, so compilers
# started by cmake/ninja stop too. Returns the command's status (3 when skipped).
run_step() {
    local name=$1 min=$2 log=$3
    shift 3
    local left
    left=$(remaining)
    if (( left < min )); then
        say "SKIP  $name: ${left}s left, it needs about ${min}s"
        record "$name" SKIP 0 "not enough time left"
        ANY_SHORT=1
        return 3
    fi
    say "START $name (log: ${log#"$ROOT"/})"
    local t rc=0
    t=$(date +%s)
    timeout --kill-after=10 "$left" "$@" >"$log" 2>&1 || rc=$?
    local dt=$(( $(date +%s) - t ))
    if (( rc == 0 )); then
        say "OK    $name (${dt}s)"
        record "$name" OK "$dt"
    elif (( rc == 124 || rc == 137 )); then
        say "TIME  $name (${dt}s): stopped at the time budget; last lines:"
        tail -n 15 "$log" | sed 's/^/      | /'
        record "$name" TIME "$dt" "stopped at the time budget (run again to resume)"
        ANY_SHORT=1
    else
        say "FAIL  $name (${dt}s, exit $rc); last lines:"
        tail -n 30 "$log" | sed 's/^/      | /'
        record "$name" FAIL "$dt" "exit $rc, see ${log#"$ROOT"/}"
        ANY_FAIL=1
    fi
    return "$rc"
}

# Prints "N objects compiled" for a build folder every 30 s, in the background (cmake runs the
# llama.cpp build inside its configure step and shows nothing until it ends).
PROGRESS_PID=
progress_start() {
    ( while sleep 30; do
          n=$(find "$1" -name '*.o' 2>/dev/null | wc -l)
          printf '[%4ss]       ... %s: %s objects compiled so far\n' "$(elapsed)" "$2" "$n"
      done ) &
    PROGRESS_PID=$!
}
progress_stop() {
    if [ -n "$PROGRESS_PID" ]; then
        kill "$PROGRESS_PID" 2>/dev/null || true
        wait "$PROGRESS_PID" 2>/dev/null || true
        PROGRESS_PID=
    fi
}
trap progress_stop EXIT

finish() {
    progress_stop
    {
        echo
        echo "==== panscore GPU check: summary ($(elapsed)s of a ${BUDGET}s budget) ===="
        echo "machine: ${GPU_NAME:-no GPU found}; CUDA ${NVCC_VERSION:-?}; ${JOBS} cores"
        echo
        printf '%-42s %-5s %6s  %s\n' step status time note
        for s in ${STEPS[@]+"${STEPS[@]}"}; do echo "$s"; done
        if [ ${#NOTES[@]} -gt 0 ]; then
            echo
            for n in "${NOTES[@]}"; do echo "$n"; done
        fi
        echo
        echo "==== benchmark: ${BENCH_TITLE:-not run} ===="
        if [ ${#RESULTS[@]} -gt 0 ]; then
            printf '%-52s %14s %16s %10s  %s\n' method "scored tok/s" "forwarded tok/s" "best s" note
            for r in "${RESULTS[@]}"; do
                IFS='|' read -r m sc fw bs note <<<"$r"
                printf '%-52s %14s %16s %10s  %s\n' "$m" "$sc" "$fw" "$bs" "$note"
            done
        else
            echo "(no benchmark results: see the steps above)"
        fi
    } | tee "$WORK/summary.txt"
    if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then # the device runner brings $OUT back
        cp "$WORK/summary.txt" "$OUT/" 2>/dev/null || true
        mkdir -p "$OUT/logs"
        for f in "$LOGS"/*.log; do
            [ -f "$f" ] && tail -n 3000 "$f" >"$OUT/logs/$(basename "$f")" 2>/dev/null || true
        done
    fi
}

# ---- 0. the machine --------------------------------------------------------------------------------
say "panscore GPU check in $ROOT (work folder ${WORK#"$ROOT"/}, budget ${BUDGET}s, ${JOBS} cores)"
GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)
NVCC=$(command -v nvcc || true)
NVCC_VERSION=$([ -n "$NVCC" ] && "$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p' || true)
say "GPU: ${GPU_NAME:-none (nvidia-smi found nothing)}"
say "nvcc: ${NVCC:-missing} ${NVCC_VERSION}"
CUBLAS=$(ls /usr/local/cuda/lib64/libcublas.so* /usr/local/cuda/targets/*/lib/libcublas.so* \
            /usr/lib/x86_64-linux-gnu/libcublas.so* 2>/dev/null | head -n1 || true)
say "cuBLAS: ${CUBLAS:-not found, and the CUDA backend of llama.cpp needs it}"
CMAKE_OK=0
if command -v cmake >/dev/null 2>&1; then
    CMAKE_VERSION=$(cmake --version | sed -n 's/cmake version //p')
    if printf '3.21\n%s\n' "$CMAKE_VERSION" | sort -V -C; then CMAKE_OK=1; fi
    say "cmake: $CMAKE_VERSION$([ $CMAKE_OK = 1 ] || echo ' (too old: panscore needs 3.21)')"
else
    say "cmake: missing"
fi
GEN=()
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); say "generator: Ninja"; else say "generator: Unix Makefiles (no ninja)"; fi
GIT_ARGS=()
if ! command -v git >/dev/null 2>&1; then
    # cmake/LlamaCpp.cmake asks git for the llama.cpp commit; without git it records "local-<hash>".
    printf '#!/bin/sh\nexit 1\n' >"$BIN/no-git" && chmod +x "$BIN/no-git"
    GIT_ARGS=(-DGIT_EXECUTABLE="$BIN/no-git")
    say "git: missing (the llama.cpp commit will read local-<hash>)"
fi
HAVE_LLAMA=0
if [ -f "$LLAMA_SRC/include/llama.h" ] && [ -f "$LLAMA_SRC/models/ggml-vocab-qwen2.gguf" ]; then
    LLAMA_SRC=$(cd "$LLAMA_SRC" && pwd)
    HAVE_LLAMA=1
    say "llama.cpp source: $LLAMA_SRC"
else
    say "llama.cpp source: not found at $LLAMA_SRC (need include/llama.h and models/ggml-vocab-qwen2.gguf); steps b-d are skipped"
fi
if [ -z "$GPU_NAME" ] || [ -z "$NVCC" ]; then
    NOTES+=("No GPU or no nvcc: nothing to check here.")
    record "environment" FAIL 0 "no GPU (nvidia-smi) or no nvcc"
    ANY_FAIL=1
    finish
    exit 1
fi

# ---- a. the kernel alone ---------------------------------------------------------------------------
KTEST_OK=0
if run_step "a. kernel test (row_stats_test)" 45 "$LOGS/a-kernel-test.log" bash -c "
    set -e
    nvcc -arch=sm_$ARCH -O3 -std=c++17 -Xptxas -v -Xcompiler -fopenmp -I native/include -I native/src \
        native/cuda/row_stats_test.cu native/cuda/row_stats.cu -o '$BIN/row_stats_test'
    OMP_NUM_THREADS=$JOBS '$BIN/row_stats_test'"; then KTEST_OK=1; fi
if [ -f "$LOGS/a-kernel-test.log" ]; then
    while IFS= read -r line; do NOTES+=("kernel: $line"); done < <(grep -E 'row_stats_test:|  time |  FAIL |registers' "$LOGS/a-kernel-test.log" | sed 's/^ *//' | head -n 20)
fi

# ---- b. llama.cpp with CUDA, and libpanscore --------------------------------------------------------
EXTRA=-DGGML_CUDA_FA=OFF
[ "${PANSCORE_GPU_FA:-0}" = 1 ] && EXTRA=-DGGML_CUDA_FA=ON
PS_BUILD=$WORK/panscore
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DPANSCORE_CUDA=ON "-DPANSCORE_CUDA_ARCHITECTURES=$ARCH"
            "-DLLAMA_CPP_SOURCE_DIR=$LLAMA_SRC" "-DPANSCORE_CACHE_DIR=$PANSCORE_CACHE_DIR"
            "-DPANSCORE_LLAMA_EXTRA_ARGS=$EXTRA" ${GIT_ARGS[@]+"${GIT_ARGS[@]}"})
# shellcheck disable=SC2206 # word splitting wanted
CMAKE_ARGS+=(${PANSCORE_GPU_CMAKE_ARGS:-})
SEQS=${PANSCORE_GPU_BENCH_SEQS:-64}
BUILD_OK=0
if [ $HAVE_LLAMA = 1 ] && [ $CMAKE_OK = 1 ]; then
    say "llama.cpp is built once into ${PANSCORE_CACHE_DIR#"$ROOT"/}/llama (sm_$ARCH, $EXTRA, $JOBS jobs); later runs reuse it"
    mkdir -p "$PANSCORE_CACHE_DIR/llama"
    progress_start "$PANSCORE_CACHE_DIR/llama" "llama.cpp"
    if run_step "b. build llama.cpp (CUDA) + libpanscore" 120 "$LOGS/b-build.log" bash -c "
        set -e
        cmake -S '$ROOT' -B '$PS_BUILD' ${GEN[*]} $(printf "'%s' " "${CMAKE_ARGS[@]}")
        cmake --build '$PS_BUILD' -j $JOBS
        grep -q PANSCORE_WITH_CUDA '$PS_BUILD/CMakeFiles/panscore.dir/flags.make' 2>/dev/null ||
            grep -q PANSCORE_WITH_CUDA '$PS_BUILD/build.ninja'"; then BUILD_OK=1; fi
    progress_stop
elif [ $CMAKE_OK = 0 ]; then
    record "b. build llama.cpp (CUDA) + libpanscore" SKIP 0 "cmake >= 3.21 missing"; ANY_SHORT=1
else
    record "b. build llama.cpp (CUDA) + libpanscore" SKIP 0 "no llama.cpp source"; ANY_SHORT=1
fi

LLAMA_BUILD=
if [ $BUILD_OK = 1 ]; then
    LLAMA_BUILD=$(sed -n 's/^llama.build=//p' "$PS_BUILD/llama-paths.properties")
    run_step "b. build llama-perplexity" 30 "$LOGS/b-perplexity.log" \
        cmake --build "$LLAMA_BUILD" --target llama-perplexity -j "$JOBS" || true
    TOOL_OK=0
    if run_step "b. build gpu_bench" 15 "$LOGS/b-gpu-bench.log" \
        g++ -std=c++17 -O2 -fopenmp -I native/include -I native/cuda -I "$LLAMA_SRC/ggml/include" \
            native/cuda/bench/gpu_bench.cpp -o "$BIN/gpu_bench" -L"$PS_BUILD" -lpanscore -Wl,-rpath,"$PS_BUILD" \
            "$LLAMA_BUILD/ggml/src/libggml-base.a" -lpthread -lm; then TOOL_OK=1; fi
fi

# ---- d. end-to-end parity and the benchmark (before the Java tests: they may be absent or slow) ----
PPL_BIN=${LLAMA_BUILD:+$LLAMA_BUILD/bin/llama-perplexity}
# bench_model PRESET TITLE: fixture, fused vs forward (all positions and perplexity-shaped), llama-perplexity
bench_model() {
    local preset=$1 model=$MODELS/fixture-$1.gguf
    if [ ! -f "$model" ]; then
        run_step "d. write fixture ($preset)" 20 "$LOGS/d-fixture-$preset.log" \
            "$BIN/gpu_bench" fixture --vocab "$LLAMA_SRC/models/ggml-vocab-qwen2.gguf" --out "$model" --preset "$preset" || return 0
    fi
    if [ "$preset" = small ]; then
        local ngl
        for ngl in -1 0; do
            run_step "d. verify ps_score on GPU (ngl $ngl)" 30 "$LOGS/d-verify-ngl$ngl.log" \
                "$BIN/gpu_bench" verify --model "$model" --gpu-layers "$ngl" || true
            [ -f "$LOGS/d-verify-ngl$ngl.log" ] && while IFS= read -r line; do NOTES+=("$line"); done < <(grep '^verify' "$LOGS/d-verify-ngl$ngl.log")
        done
    fi
    local shape
    for shape in all:1 ppl:257; do
        local tag=${shape%%:*} begin=${shape##*:}
        run_step "d. bench $preset ($tag positions)" 40 "$LOGS/d-bench-$preset-$tag.log" \
            "$BIN/gpu_bench" bench --model "$model" --gpu-layers -1 --seqs "$SEQS" --len 512 --begin "$begin" --reps 3 --label "$preset-$tag" || true
        local line
        while IFS= read -r line; do
            local name sc fw bs scored
            name=$(sed -n 's/.* name=\([^ ]*\).*/\1/p' <<<"$line")
            sc=$(sed -n 's/.* scored_per_s=\([^ ]*\).*/\1/p' <<<"$line")
            fw=$(sed -n 's/.* forwarded_per_s=\([^ ]*\).*/\1/p' <<<"$line")
            bs=$(sed -n 's/.* best_s=\([^ ]*\).*/\1/p' <<<"$line")
            scored=$(sed -n 's/.* scored=\([^ ]*\).*/\1/p' <<<"$line")
            case $name in
                fused) name="panscore ps_score, fused";;
                fused_top20) name="panscore ps_score, fused + top-20";;
                forward_copy) name="panscore ps_forward (logits to host)";;
            esac
            RESULTS+=("$name [$preset, $tag]|$sc|$fw|$bs|$scored positions, $SEQS x 512 tokens")
        done < <(grep '^RESULT' "$LOGS/d-bench-$preset-$tag.log" 2>/dev/null || true)
    done
    if [ -x "$PPL_BIN" ]; then
        local text=$MODELS/text.txt
        [ -f "$text" ] || "$BIN/gpu_bench" text --model "$model" --out "$text" --tokens 40000 >/dev/null 2>&1 || true
        local t1 t2
        t1=$(date +%s.%N)
        if run_step "d. llama-perplexity $preset" 30 "$LOGS/d-perplexity-$preset.log" \
            "$PPL_BIN" -m "$model" -f "$text" -c 512 -b 2048 --chunks "$SEQS" -ngl 99 -fa off; then
            t2=$(date +%s.%N)
            local wall evalms evaltok chunks
            wall=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
            chunks=$(sed -n 's/.*calculating perplexity over \([0-9]*\) chunks.*/\1/p' "$LOGS/d-perplexity-$preset.log" | head -n1)
            evalms=$(sed -n 's/.*prompt eval time = *\([0-9.]*\) ms \/ *\([0-9]*\) tokens.*/\1/p' "$LOGS/d-perplexity-$preset.log" | tail -n1)
            evaltok=$(sed -n 's/.*prompt eval time = *\([0-9.]*\) ms \/ *\([0-9]*\) tokens.*/\2/p' "$LOGS/d-perplexity-$preset.log" | tail -n1)
            # chunks of 512 tokens: llama-perplexity scores the last 255 positions of each
            RESULTS+=("$(awk -v w="$wall" -v ms="${evalms:-0}" -v tok="${evaltok:-0}" -v p="$preset" -v c="${chunks:-0}" 'BEGIN {
                fw = (ms > 0) ? tok / (ms / 1000) : 0
                printf "llama-perplexity -c 512 [%s, ppl]|%.0f|%.0f|%.3f|%d chunks; wall clock incl. model load; forwarded/s from its perf line", p, c * 255 / w, fw, w, c }')")
        fi
    else
        record "d. llama-perplexity $preset" SKIP 0 "llama-perplexity was not built"
    fi
}
if [ $BUILD_OK = 1 ] && [ "${TOOL_OK:-0}" = 1 ]; then
    BENCH_TITLE="${GPU_NAME%%,*}; fixture models with the Qwen2 vocabulary (151,936); $SEQS sequences x 512 tokens"
    bench_model small
    if [ "${PANSCORE_GPU_BIG:-1}" = 1 ]; then
        if (( $(remaining) > 150 )); then
            bench_model 0.5b
        else
            record "d. bench 0.5b" SKIP 0 "not enough time left"; ANY_SHORT=1
        fi
    fi
    NOTES+=("benchmark rows: [small] = d256 x 4 layers F16, [0.5b] = Qwen2.5-0.5B shape F16; [all] scores positions 1..511, [ppl] positions 257..511 as llama-perplexity does")
fi

# ---- c. the Java tests against the CUDA build (only with a JDK >= 22 and Maven) ---------------------
JAVA_HOME_FOUND=$(./panscore java-home 2>/dev/null || true)
if [ -z "$JAVA_HOME_FOUND" ] || ! command -v mvn >/dev/null 2>&1; then
    record "c. Java tests (CUDA build)" SKIP 0 "no JDK >= 22 or no Maven on this machine"
elif [ $HAVE_LLAMA = 0 ] || [ $CMAKE_OK = 0 ]; then
    record "c. Java tests (CUDA build)" SKIP 0 "no llama.cpp source or cmake"
else
    MAVEN_OPTS_EXTRA=
    if [ "$("$JAVA_HOME_FOUND/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')" -ge 24 ]; then
        MAVEN_OPTS_EXTRA=--sun-misc-unsafe-memory-access=allow
    fi
    # The kernel tests run their models with n_gpu_layers 0, but llama.cpp offloads the output
    # matmul of every batch of >= 32 rows to the GPU, so the device reduction runs in them.
    # -o: this machine has no network; the Maven repository must already hold the dependencies.
    FAIL_BEFORE=$ANY_FAIL
    if ! run_step "c. Java tests (CUDA build)" 150 "$LOGS/c-java.log" env JAVA_HOME="$JAVA_HOME_FOUND" \
        PATH="$JAVA_HOME_FOUND/bin:$PATH" MAVEN_OPTS="${MAVEN_OPTS:-} $MAVEN_OPTS_EXTRA" PANSCORE_TEST_GPU=1 \
        mvn -o -B -ntp -pl kernel -am test \
            "-Dpanscore.cmake.args=-DPANSCORE_CUDA=ON -DPANSCORE_CUDA_ARCHITECTURES=$ARCH -DLLAMA_CPP_SOURCE_DIR=$LLAMA_SRC -DPANSCORE_LLAMA_EXTRA_ARGS=$EXTRA ${GIT_ARGS[*]:-} ${PANSCORE_GPU_CMAKE_ARGS:-}"; then
        if grep -qE 'Could not resolve|Cannot access .* in offline mode|has not been downloaded' "$LOGS/c-java.log" 2>/dev/null; then
            # an empty Maven repository on this machine, not a failing test
            unset 'STEPS[${#STEPS[@]}-1]'
            record "c. Java tests (CUDA build)" SKIP 0 "Maven could not resolve the dependencies offline (no ~/.m2 here)"
            ANY_FAIL=$FAIL_BEFORE
            ANY_SHORT=1
        fi
    fi
    [ -f "$LOGS/c-java.log" ] && while IFS= read -r line; do NOTES+=("java: $line"); done < <(grep -E 'Tests run:|BUILD (SUCCESS|FAILURE)' "$LOGS/c-java.log" | grep -v ' -- in ' | tail -n 4)
fi

finish
if [ $ANY_FAIL = 1 ]; then exit 1; fi
if [ $ANY_SHORT = 1 ]; then exit 3; fi
exit 0
