#!/usr/bin/env bash
# Mutation testing of the Java code with PIT (the `pit` Maven profile of the root pom): every
# mutant of the target classes is run against the tests that cover it; the reports land in
# <module>/target/pit-reports/ (index.html, mutations.xml) and a per-package summary is printed.
# CPU-heavy (minutes to an hour on 2 cores): not part of ./panscore test or .ci/run.
#
#   scripts/pit.sh                      kernel, api (trajectory, prm, router, server) and spark
#   scripts/pit.sh kernel api           only these modules
#   PIT_TARGETS='io.panscore.api.prm.*' PIT_THREADS=1 scripts/pit.sh api
#
# Environment: PIT_THREADS (default 2), PIT_TARGETS (targetClasses), PIT_TESTS (targetTests),
# PANSCORE_MVN_ARGS (extra Maven options, as for ./panscore).
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(kernel api spark)
list=$(IFS=,; echo "${modules[*]}")
args=(-B -ntp ${PANSCORE_MVN_ARGS:-} -Ppit -pl "$list" -am -Dpit.threads="${PIT_THREADS:-2}")
[ -n "${PIT_TARGETS:-}" ] && args+=(-Dpit.targetClasses="$PIT_TARGETS")
[ -n "${PIT_TESTS:-}" ] && args+=(-Dpit.targetTests="$PIT_TESTS")

# test-compile builds the reactor (bindings runs CMake; the tests are not run here), then PIT
# runs each module's mutants in its own minion JVMs.
mvn "${args[@]}" -DskipTests=false test-compile org.pitest:pitest-maven:mutationCoverage

# Per package: killed (incl. timed out and memory errors) / all mutants, from mutations.xml.
python3 - "${modules[@]}" <<'PY'
import sys, xml.etree.ElementTree as ET, collections, os
for module in sys.argv[1:]:
    path = os.path.join(module, "target", "pit-reports", "mutations.xml")
    if not os.path.exists(path):
        print(f"{module}: no report"); continue
    by = collections.defaultdict(lambda: [0, 0, 0])  # killed, survived+no coverage, all
    for m in ET.parse(path).getroot():
        cls = m.findtext("mutatedClass"); pkg = cls.rsplit(".", 1)[0]
        status = m.get("status")
        if status in ("KILLED", "TIMED_OUT", "MEMORY_ERROR", "RUN_ERROR"): by[pkg][0] += 1
        else: by[pkg][1] += 1
        by[pkg][2] += 1
    for pkg in sorted(by):
        k, s, n = by[pkg]
        print(f"{module:7s} {pkg:32s} {k:5d}/{n:<5d} killed  {100.0 * k / n:5.1f}%")
PY
