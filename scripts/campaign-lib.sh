#!/usr/bin/env bash
# Shared by the reliability campaigns (docs/RELIABILITY.md): finds a JDK 22+ and runs one JUnit
# campaign test inside the reactor (never from ~/.m2), copying its log to target/campaigns/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -qE 'version "(2[2-9]|[3-9][0-9])'; then
    for j in /usr/lib/jvm/*; do
        if [ -x "$j/bin/java" ] && "$j/bin/java" -version 2>&1 | grep -qE 'version "(2[2-9]|[3-9][0-9])'; then JAVA_HOME="$j"; fi
    done
fi
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH" MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
mkdir -p target/campaigns

# run_campaign MODULE TEST LOGNAME -Dprop=value...
run_campaign() {
    local module="$1" test="$2" log="$3"
    shift 3
    local started=$(date +%s)
    mvn -B -ntp -q -pl "$module" -am test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
        -Dcampaign.${log}.log="$ROOT/target/campaigns/$log.log" "$@" 2>&1 | tee "target/campaigns/$log.mvn.log" | grep -E "campaign|soak:|Tests run|FAIL|terminated" || true
    local status=${PIPESTATUS[0]}
    echo "$log: exit $status after $(( $(date +%s) - started )) s; log: target/campaigns/$log.log" | tee -a "target/campaigns/$log.log"
    return "$status"
}
