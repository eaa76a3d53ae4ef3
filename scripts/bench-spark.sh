#!/usr/bin/env bash
# Rows per second of RSR scoring: the Spark job in local[N] against the CLI, on the same input,
# model and machine. Prints one line per configuration; details go to stderr.
#
#   scripts/bench-spark.sh [--copies N] [--model tiny|qwen2|PATH] [--master local[2]] [--runs N]
#
#   --copies  the 18 bundled sample trajectories (3 problems x 6), repeated with fresh ids and
#             problems (default 32: 576 rows, 96 problems)
#   --model   fixture preset (tiny: 2 layers, small vocabulary; qwen2: the 151,936-token fixture of
#             the JMH benchmarks) or a GGUF path (default tiny)
#   --master  Spark master (default local[2]); its core count is also the CLI's --threads
#   --runs    repetitions; the best run is printed (default 1)
#
# Configurations (all --ctx 1024, --template model):
#   cli chunk=1      panscore rsr --chunk 1 --threads N      (each trajectory alone: what Spark's
#                                                             --batching single computes, bit for bit)
#   cli chunk=64     panscore rsr --chunk 64 --threads N     (the CLI's default packing)
#   spark single     SparkScoreJob --batching single          (N engines of 1 thread, one per slot)
#   spark problem    SparkScoreJob --batching problem --chunk 64 --partitions 4N (problems are
#                                                             hashed to partitions: more of them balance the slots)
# "wall" is the whole process (JVM start, Spark start-up, model load, writing); "job" is the Spark
# job's own time from its report (scoring and writing Parquet, session already up).
#
# The Spark run goes through org.apache.spark.deploy.SparkSubmit (what bin/spark-submit runs) with
# the Maven-resolved Spark jars on the class path and panscore's jar as the application jar, and
# the JVM flags bin/spark-submit would add on JDK 25.
set -euo pipefail
cd "$(dirname "$0")/.."

copies=32 model=tiny master="local[2]" runs=1
while [ $# -gt 0 ]; do
    case "$1" in
        --copies) copies=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --master) master=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
done
cores=$(echo "$master" | sed -n 's/^local\[\([0-9]*\)\]$/\1/p')
[ -n "$cores" ] || { echo "--master must be local[N] with a number N" >&2; exit 2; }

log() { echo "bench-spark: $*" >&2; }

JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
export SPARK_LOCAL_IP=127.0.0.1
cli_jar=api/target/panscore.jar
spark_jar=spark/target/panscore-spark.jar
if [ ! -f "$cli_jar" ] || [ ! -f "$spark_jar" ]; then
    log "building $cli_jar and $spark_jar"
    mvn -B -ntp -q -pl spark -am package -DskipTests >&2
fi
cp_file=spark/target/spark-classpath.txt
if [ ! -f "$cp_file" ]; then
    log "resolving Spark's class path into $cp_file"
    mvn -B -ntp -q -pl spark -am dependency:build-classpath -DexcludeGroupIds=io.panscore \
        -Dmdep.outputFile="$PWD/$cp_file" >&2
fi
# bin/spark-submit's flags on JDK 25 (org.apache.spark.launcher.JavaModuleOptions, Spark 4.2.0) + native access
spark_flags=$(sed -n 's:.*<spark.jvm.args>\(.*\)</spark.jvm.args>.*:\1:p' spark/pom.xml)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$model" in
    tiny|qwen2)
        java --enable-native-access=ALL-UNNAMED -jar "$cli_jar" fixture --preset "$model" --out "$work/model.gguf" >&2
        model_path=$work/model.gguf ;;
    *) model_path=$model ;;
esac
sample=api/src/main/resources/io/panscore/api/sample-trajectories.jsonl
for c in $(seq 0 $((copies - 1))); do
    sed -e "s|\"id\": \"|\"id\": \"copy$c/|" -e "s|\"problem\": \"|\"problem\": \"copy$c/|" "$sample"
done > "$work/in.jsonl"
rows=$(grep -c . "$work/in.jsonl")
log "$rows trajectories, model $model ($model_path), $master, $(nproc) cores, $runs run(s)"

now() { date +%s.%N; }
best() { sort -g | head -1; }
report() { # name seconds [job seconds]
    awk -v n="$1" -v r="$rows" -v s="$2" -v j="${3:-}" 'BEGIN {
        line = sprintf("%-14s %6d rows  wall %7.2f s  %8.2f rows/s", n, r, s, r / s)
        if (j != "") line = line sprintf("   job %7.2f s  %8.2f rows/s", j, r / j)
        print line }'
}

for chunk in 1 64; do
    times=()
    for _ in $(seq "$runs"); do
        rm -f "$work/cli.jsonl"
        t0=$(now)
        java --enable-native-access=ALL-UNNAMED -jar "$cli_jar" rsr --model "$model_path" --in "$work/in.jsonl" --out "$work/cli.jsonl" \
            --ctx 1024 --threads "$cores" --chunk "$chunk" --progress never >&2
        times+=("$(echo "$(now) - $t0" | bc)")
    done
    report "cli chunk=$chunk" "$(printf '%s\n' "${times[@]}" | best)"
done

for batching in single problem; do
    walls=() jobs=()
    for _ in $(seq "$runs"); do
        t0=$(now)
        # shellcheck disable=SC2086
        java $spark_flags --enable-native-access=ALL-UNNAMED -cp "$(cat "$cp_file")" org.apache.spark.deploy.SparkSubmit \
            --master "$master" --conf spark.ui.enabled=false --conf spark.sql.shuffle.partitions="$cores" \
            --class io.panscore.spark.SparkScoreJob "$spark_jar" \
            --in "$work/in.jsonl" --out "$work/spark-$batching" --rsr-model "$model_path" --ctx 1024 --batching "$batching" \
            --chunk 64 --partitions "$([ "$batching" = single ] && echo "$cores" || echo $((4 * cores)))" > "$work/spark.out" 2> "$work/spark.err" || { cat "$work/spark.err" >&2; exit 1; }
        walls+=("$(echo "$(now) - $t0" | bc)")
        cat "$work/spark.out" >&2
        jobs+=("$(sed -n 's/.* rows in \([0-9.]*\) s .*/\1/p' "$work/spark.out")")
    done
    report "spark $batching" "$(printf '%s\n' "${walls[@]}" | best)" "$(printf '%s\n' "${jobs[@]}" | best)"
done
