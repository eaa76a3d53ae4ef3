#!/usr/bin/env bash
# Mutation check of the native layer: applies a fixed list of one-line mutations, one at a time, to
# native/src/row_stats.cpp, native/src/engine.cpp and the CUDA kernels (native/cuda/
# row_stats_kernels.cuh, run on the CPU emulator), runs the narrowest test set that should notice
# each, restores the file, and fails unless every mutation was noticed (killed). A mutation whose
# source line is no longer there fails too, so the list stays in step with the code.
#
#   scripts/mutate-native.sh            all mutations (about 10 minutes on 2 cores)
#   scripts/mutate-native.sh --list     the list
#   scripts/mutate-native.sh rank-ge    only the named ones
#
# Tests used: cpu = native/test/row_stats_cpu_test.cpp (row_stats.cpp alone, against float64);
# emu = native/cuda/emu/row_stats_emu_test.cpp (the CUDA kernels on the CPU emulator);
# kernel:Class[#method] = the kernel module's JUnit tests against a libpanscore built from the
# mutated sources in target/mutate-native/cmake (the cached llama.cpp is reused: one file
# recompiles per mutation). Needs g++, cmake, Maven and a JDK >= 22 (found like ./panscore does).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/mutate-native
mkdir -p "$WORK"

# id @@ file @@ test @@ original text (must occur exactly once; \n = newline) @@ mutated text
MUTATIONS=$(cat <<'LIST'
exp-coefficient @@ native/src/row_stats.cpp @@ cpu @@ p = p * r + 5.0000001201e-1f; @@ p = p * r + 4.99e-1f;
rank-ge @@ native/src/row_stats.cpp @@ cpu @@ n_above += z > z_target; @@ n_above += z >= z_target;
max-block-ignored @@ native/src/row_stats.cpp @@ cpu @@ bmax = z > bmax ? z : bmax; @@ bmax = z < bmax ? z : bmax;
argmax-ties @@ native/src/row_stats.cpp @@ cpu @@ if (argmax < 0 || bmax > m) { @@ if (argmax < 0 || bmax >= m) {
running-max-rescale @@ native/src/row_stats.cpp @@ cpu @@ sd = sc * (sd + dm * s) + bsd; @@ sd = sc * sd + bsd;
block-rescale @@ native/src/row_stats.cpp @@ cpu @@ sd += sc * (bsd + dm * bs); @@ sd += sc * bsd;
entropy-sign @@ native/src/row_stats.cpp @@ cpu @@ out.entropy = static_cast<float>(std::max(0.0, log_s - sd / s)); @@ out.entropy = static_cast<float>(std::max(0.0, log_s + sd / s));
argmax-logprob @@ native/src/row_stats.cpp @@ cpu @@ out.argmax_logprob = static_cast<float>(-log_s); @@ out.argmax_logprob = static_cast<float>(-log_z);
nan-plus-inf @@ native/src/row_stats.cpp @@ cpu @@ n_nan += (z != z) | (z == pos_inf); @@ n_nan += (z != z);
topk-unsorted @@ native/src/row_stats.cpp @@ cpu @@ std::sort(heap_.begin(), heap_.end(), better_first); @@ (void) 0;
topk-order @@ native/src/row_stats.cpp @@ cpu @@ return a.first > b.first || (a.first == b.first && a.second < b.second); @@ return a.first > b.first || (a.first == b.first && a.second > b.second);
topk-logprob @@ native/src/row_stats.cpp @@ cpu @@ logprobs[i] = static_cast<float>(static_cast<double>(heap_[i].first) - log_z); @@ logprobs[i] = static_cast<float>(static_cast<double>(heap_[i].first) - log_z + 1e-5);
first-bad-row @@ native/src/row_stats.h @@ cpu @@ if (first_bad < 0 || r < first_bad) { @@ if (first_bad < 0 || r > first_bad) {
target-off-by-one @@ native/src/engine.cpp @@ kernel:ReferenceParityTest#smallVocabularyModel @@ e.row_target.push_back(s.tokens[t + 1]); @@ e.row_target.push_back(s.tokens[t]);
ubatch-row-offset @@ native/src/engine.cpp @@ kernel:ReferenceParityTest#smallMicroBatchesAndFewSequencesPerDecode @@ const int64_t dest = e.row_dest[row0 + r]; @@ const int64_t dest = e.row_dest[r];
temperature-dropped @@ native/src/engine.cpp @@ kernel:ReferenceParityTest#smallVocabularyWithTopKAndTemperature @@ e.inv_t = inverse_temperature(p); @@ e.inv_t = 1.0f;
prefix-copy-short @@ native/src/engine.cpp @@ kernel:PackingTest#sharedPromptsEqualUnshared @@ llama_memory_seq_cp(mem, g.holder, slot, 0, g.shared); @@ llama_memory_seq_cp(mem, g.holder, slot, 0, g.shared - 1);
packing-kv-leak @@ native/src/engine.cpp @@ kernel:PackingTest#manyGroupsInASmallContext @@ kv_used -= job.end - job.begin; @@ (void) 0;
first-position-unscored @@ native/src/engine.cpp @@ kernel:ReferenceParityTest#smallVocabularyModel @@ const bool scored = job.seq >= 0 && t >= s.score_begin - 1; @@ const bool scored = job.seq >= 0 && t >= s.score_begin - 1 && t > 0;
packing-slot-positions @@ native/src/engine.cpp @@ kernel:PackingTest#packedEqualsOneAtATime @@ e.batch.pos[k] = t; @@ e.batch.pos[k] = t + (slot > 0 ? 1 : 0);
outputs-for-slots @@ native/src/engine.cpp @@ kernel:ReferenceParityTest#moreSequenceSlotsThanTokensPerBatch @@ cp.n_outputs_max = static_cast<uint32_t>(std::max(p.n_batch, p.n_seq_max)); @@ (void) 0;
session-undo @@ native/src/engine.cpp @@ kernel:SessionUndoTest @@ if (ret != 0) {\n                undo(); @@ if (ret != 0) {\n                (void) 0;
session-last-token @@ native/src/engine.cpp @@ kernel:SessionPoolTest#glimpsesMatchTheReferenceAndAppendingEqualsDecodingFromScratch @@ const bool last = cursor == a.n_tokens - 1; @@ const bool last = cursor == 0;
perseq-session-order @@ native/src/engine.cpp @@ kernel:PerSequenceKvTest#glimpsesOutOfSlotOrderComeBackInInputOrder @@ e.row_dest.push_back(order[next]); @@ e.row_dest.push_back(next);
perseq-stream-size @@ native/src/engine.cpp @@ kernel:PerSequenceKvTest#aSequenceLongerThanItsStreamIsATypedError @@ if (s.n_tokens > e.n_ctx_seq) { @@ if (s.n_tokens > e.params.n_ctx) {
cuda-rank-ge @@ native/cuda/row_stats_kernels.cuh @@ emu @@ above += z > zt; @@ above += z >= zt;
cuda-ties @@ native/cuda/row_stats_kernels.cuh @@ emu @@ return z > bz || (z == bz && id < bid); @@ return z > bz || (z == bz && id > bid);
cuda-max4 @@ native/cuda/row_stats_kernels.cuh @@ emu @@ const float mx = fmaxf(fmaxf(z0, z1), fmaxf(z2, z3)); @@ const float mx = fmaxf(fmaxf(z0, z1), z2);
cuda-merge-rescale @@ native/cuda/row_stats_kernels.cuh @@ emu @@ sd = c1 * fmaf(d1, s, sd) + c2 * fmaf(d2, s2, sd2); @@ sd = c1 * sd + c2 * sd2;
cuda-argmax-logprob @@ native/cuda/row_stats_kernels.cuh @@ emu @@ o.argmax_logprob = static_cast<float>(-log_s); @@ o.argmax_logprob = static_cast<float>(-log_z);
cuda-signed-zero @@ native/cuda/row_stats_kernels.cuh @@ emu @@ if (z == 0.0f) z = 0.0f; @@ (void) 0;
cuda-topk-masked @@ native/cuda/row_stats_kernels.cuh @@ emu @@ hit = z > -INFINITY && (key & prefix_mask) == prefix; @@ hit = (key & prefix_mask) == prefix;
LIST
)

if [ "${1:-}" = "--list" ]; then
    echo "$MUTATIONS" | awk -F' @@ ' '{printf "%-22s %-36s %s\n", $1, $2, $3}'
    exit 0
fi
only=("$@")

JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

# Applies (or checks) one mutation: exactly one occurrence of the original text is replaced.
mutate() { # file from to
    python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2].replace("\\n", "\n"), sys.argv[3].replace("\\n", "\n")
s = open(path).read()
n = s.count(old)
if n != 1:
    sys.exit(f"stale mutation: {old!r} occurs {n} times in {path}")
open(path, "w").write(s.replace(old, new))
PY
}

backup=$WORK/backup
rm -rf "$backup"; mkdir -p "$backup"
restore() {
    for f in native/src/row_stats.cpp native/src/row_stats.h native/src/engine.cpp native/cuda/row_stats_kernels.cuh; do
        [ -f "$backup/$(basename "$f")" ] && cp -p "$backup/$(basename "$f")" "$f"
    done
    return 0
}
for f in native/src/row_stats.cpp native/src/row_stats.h native/src/engine.cpp native/cuda/row_stats_kernels.cuh; do cp -p "$f" "$backup/"; done
trap restore EXIT INT TERM

inc=(-I native/include -I native/src -I native/cuda)
# Each runner returns 0 (tests pass), 1 (tests fail) or 3 (the sources do not build: not a kill).
run_cpu() {
    rm -f "$WORK/cpu"
    g++ -std=c++17 -O3 -march=native -fopenmp -w "${inc[@]}" native/test/row_stats_cpu_test.cpp native/src/row_stats.cpp -o "$WORK/cpu" \
        > "$WORK/last.log" 2>&1 || return 3
    "$WORK/cpu" --fail-fast > "$WORK/last.log" 2>&1
}
run_emu() {
    rm -f "$WORK/emu"
    g++ -std=c++17 -O1 -ffp-contract=off -w "${inc[@]}" native/cuda/emu/row_stats_emu_test.cpp -o "$WORK/emu" > "$WORK/last.log" 2>&1 || return 3
    "$WORK/emu" --fail-fast > "$WORK/last.log" 2>&1
}
kernel_ready=0
prepare_kernel() { # once: the kernel tests compiled, their class path, the JUnit console, a CMake build dir
    [ $kernel_ready = 1 ] && return 0
    echo "mutate-native: preparing the kernel tests (Maven test-compile, CMake configure)"
    mvn -B -ntp -q -pl kernel -am test-compile dependency:build-classpath -Dmdep.includeScope=test \
        -Dmdep.outputFile="$WORK/classpath.txt" > "$WORK/prepare.log" 2>&1 || { tail -30 "$WORK/prepare.log"; return 1; }
    if [ ! -f "$WORK/junit-console.jar" ]; then
        mvn -B -ntp -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 \
            -DoutputDirectory="$WORK" -Dmdep.stripVersion=true >> "$WORK/prepare.log" 2>&1 || { tail -30 "$WORK/prepare.log"; return 1; }
        mv "$WORK/junit-platform-console-standalone.jar" "$WORK/junit-console.jar"
    fi
    # the console jar brings JUnit itself; the module's own copies would register the engine twice
    CP=$ROOT/kernel/target/test-classes:$ROOT/kernel/target/classes:$ROOT/bindings/target/classes
    CP=$CP:$(tr ':' '\n' < "$WORK/classpath.txt" | grep -v -e /org/junit/ -e /org/opentest4j/ -e /org/apiguardian/ | grep -v '/bindings/target' | paste -sd:)
    cmake -S . -B "$WORK/cmake" -DCMAKE_BUILD_TYPE=Release > "$WORK/cmake.log" 2>&1 || { tail -30 "$WORK/cmake.log"; return 1; }
    kernel_ready=1
}
run_kernel() { # Class[#method]
    local sel=$1
    cmake --build "$WORK/cmake" --target panscore --parallel > "$WORK/last.log" 2>&1 || return 3
    local select=(--select-class "io.panscore.kernel.$sel")
    [[ $sel == *#* ]] && select=(--select-method "io.panscore.kernel.$sel")
    PANSCORE_LIBRARY_PATH=$WORK/cmake java --enable-native-access=ALL-UNNAMED -Xss4m -jar "$WORK/junit-console.jar" execute \
        --class-path "$CP" "${select[@]}" --disable-banner --details=summary --fail-if-no-tests >> "$WORK/last.log" 2>&1
}
run_test() { # test
    case $1 in
        cpu) run_cpu ;;
        emu) run_emu ;;
        kernel:*) prepare_kernel && run_kernel "${1#kernel:}" ;;
    esac
}

# Baseline: every test set passes on the unmutated sources (else a kill would mean nothing).
needed=$(echo "$MUTATIONS" | awk -F' @@ ' -v only="${only[*]:-}" 'only == "" || index(" " only " ", " " $1 " ") {print $3}' | sort -u)
[ -n "$needed" ] || { echo "mutate-native: no such mutation: ${only[*]}" >&2; exit 2; }
for t in $needed; do
    t0=$SECONDS
    if ! run_test "$t"; then
        tail -30 "$WORK/last.log"
        echo "mutate-native: the $t tests fail WITHOUT any mutation; fix that first" >&2
        exit 1
    fi
    echo "mutate-native: baseline $t passes ($((SECONDS - t0)) s)"
done

killed=0; survived=(); total=0
while IFS= read -r line; do
    [ -z "$line" ] && continue
    rest=$line
    id=${rest%% @@ *}; rest=${rest#* @@ }
    file=${rest%% @@ *}; rest=${rest#* @@ }
    test=${rest%% @@ *}; rest=${rest#* @@ }
    from=${rest%% @@ *}; to=${rest#* @@ }
    if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $id "* ]]; then continue; fi
    total=$((total + 1))
    t0=$SECONDS
    restore
    if ! mutate "$file" "$from" "$to"; then
        survived+=("$id (stale)")
        continue
    fi
    status=0
    run_test "$test" || status=$?
    if [ $status = 0 ]; then
        survived+=("$id")
        echo "SURVIVED  $id  ($file; $test; $((SECONDS - t0)) s)"
    elif [ $status = 3 ]; then
        survived+=("$id (does not build)")
        echo "BROKEN    $id  ($file: the mutated source does not build; fix the mutation)"
        tail -5 "$WORK/last.log"
    else
        killed=$((killed + 1))
        why=$(grep -m1 -E "FAIL|expected|Exception|error" "$WORK/last.log" | cut -c1-110 || true)
        echo "killed    $id  ($file; $test; $((SECONDS - t0)) s)  ${why}"
    fi
done <<< "$MUTATIONS"
restore
# leave the scratch library built from the restored sources
[ $kernel_ready = 1 ] && cmake --build "$WORK/cmake" --target panscore --parallel > /dev/null 2>&1 || true

echo "mutate-native: $killed of $total mutations killed"
if [ ${#survived[@]} -gt 0 ]; then
    echo "mutate-native: SURVIVED: ${survived[*]}" >&2
    exit 1
fi
