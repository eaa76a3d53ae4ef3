#!/usr/bin/env bash
# Builds this example against the INSTALLED panscore artifacts (mvn install in the project root
# first) and runs it twice: on the class path (--enable-native-access=ALL-UNNAMED) and on the module
# path (--enable-native-access=io.panscore.bindings). With JDK 24+ both runs deny native access to
# everyone else, so a wrong module name fails instead of warning.
#
#   examples/consumer/run.sh [model.gguf] [extra Maven args, e.g. -Dmaven.repo.local=...]
set -euo pipefail
cd "$(dirname "$0")"
MODEL=${1:-}
[ $# -gt 0 ] && shift
JAVA_HOME=$(../../panscore java-home) # JAVA_HOME if it is a JDK >= 22, else the newest one found
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
feature=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p' | head -n1)
DENY=()
if [ "$feature" -ge 24 ]; then
    DENY=(--illegal-native-access=deny)
    export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
fi
mvn -B -ntp -q "$@" package
WORK=target/consumer-run
ARGS=()
[ -n "$MODEL" ] && ARGS=("$MODEL" "$WORK")

echo "== class path"
java "${DENY[@]}" --enable-native-access=ALL-UNNAMED -cp "target/classes:target/lib/*" \
    io.panscore.example.consumer.ConsumerMain "${ARGS[@]}"

echo "== module path"
# the natives jar holds no classes: it is resolved as the automatic module io.panscore.natives.linux.x86_64
java "${DENY[@]}" --enable-native-access=io.panscore.bindings -p "target/classes:target/lib" \
    --add-modules io.panscore.natives.linux.x86_64 \
    -m io.panscore.example.consumer/io.panscore.example.consumer.ConsumerMain "${ARGS[@]}"
