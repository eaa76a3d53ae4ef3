# Shared by scripts/bench-rsr.sh, bench-prm.sh and bench-router.sh (sourced, not run): option
# parsing, the JDK, the benchmarks jar, the results folder and a jmh() runner.
#
# Options every section script takes:
#   -m MODEL   qwen2 (the 151,936-token fixture), tiny, or a GGUF path (default: the script's own)
#   -t N       threads for llama.cpp and the fused reduction (default 2, like bench-all.sh)
#   -o DIR     results folder (default bench/target/bench-results/<date>-<section>)
#   --quick    a smoke run: fewer/shorter iterations (and, where said, less work); not a result
#   -- ARGS    everything after it goes to every JMH run of the section (e.g. -- -p batch=256)
# Environment: PANSCORE_BENCH_JAR (default bench/target/benchmarks.jar, built when missing),
# PANSCORE_BENCH_JAVA_OPTS (extra JVM options for the JMH launcher, e.g. -Djmh.ignoreLock=true).

bench_parse_args() { # sets: model threads out quick extra
    model="" threads=2 out="" quick=0 extra=()
    while [ $# -gt 0 ]; do
        case "$1" in
            -m|--model) model=$2; shift 2 ;;
            -t|--threads) threads=$2; shift 2 ;;
            -o|--out) out=$2; shift 2 ;;
            --quick) quick=1; shift ;;
            --) shift; extra=("$@"); break ;;
            -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
            *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
        esac
    done
}

bench_setup() { # $1 = section name; needs bench_parse_args first
    JAVA_HOME=$(./panscore java-home)
    export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
    jar=${PANSCORE_BENCH_JAR:-bench/target/benchmarks.jar}
    if [ ! -f "$jar" ]; then
        echo "building $jar" >&2
        MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
            mvn -B -ntp -q -pl bench -am package -DskipTests >&2
    fi
    export PANSCORE_BENCH_JAR=$jar
    [ -n "$out" ] || out=bench/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$1
    mkdir -p "$out"
    echo "results in $out" >&2
    section_started=$SECONDS
    load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
}

# jmh NAME ARGS...: runs the JMH benchmarks ARGS select, JSON to $out/NAME.json, log to $out/NAME.log
jmh() {
    local name=$1
    shift
    # shellcheck disable=SC2086
    java ${PANSCORE_BENCH_JAVA_OPTS:-} --enable-native-access=ALL-UNNAMED -jar "$jar" "$@" "${extra[@]}" \
        -rf json -rff "$out/$name.json" 2>&1 | tee "$out/$name.log" >&2
}

bench_header() { # $1 = title
    echo "$1, $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$quick" = 1 ] && echo ' (--quick: a smoke run, not a result)')"
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), load average $load_at_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(java -version 2>&1 | head -n1)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); threads $threads; section ran $((SECONDS - section_started))s"
}
