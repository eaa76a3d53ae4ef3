#!/usr/bin/env bash
# Mutation testing of the Java code with PIT (the `pit` Maven profile of the root pom): every
# mutant of the target classes is run against the tests that cover it; the reports land in
# <module>/target/pit-reports/ (index.html, mutations.xml) and a per-package summary is printed.
# CPU-heavy (minutes to an hour on 2 cores): not part of ./panscore test or .ci/run.
#
#   scripts/pit.sh                      kernel, api (trajectory, prm, router, server) and spark
#   scripts/pit.sh kernel api           only these modules
#   PIT_TARGETS='io.panscore.api.prm.*' PIT_THREADS=1 scripts/pit.sh api
#   scripts/pit.sh --package api.prm    one package with the test classes that cover it (below),
#                                       one thread, niced: what fits on a shared 2-core machine
#
# Environment: PIT_THREADS (default 2), PIT_TARGETS (targetClasses), PIT_TESTS (targetTests),
# PIT_TIMEOUT_FACTOR / PIT_TIMEOUT_CONST (default 3.0 / 30000 ms), PIT_EXCLUDED_METHODS (default
# toString), PIT_EXCLUDED_CLASSES, PIT_NICE (niceness, default 5), PANSCORE_MVN_ARGS (extra Maven options, as for ./panscore).
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=$(./panscore java-home)
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

if [ "${1:-}" = "--package" ]; then
    # One package at a time, with only the (fast) test classes that exercise it. PIT counts a
    # mutant only against tests that cover it, so a narrower set is faster, never kinder.
    pkg=${2:?"--package needs one of: kernel kernel.fixture api.trajectory api.prm api.router api.server"}
    case "$pkg" in
        kernel) module=kernel; tests='io.panscore.kernel.*Test' ;;
        kernel.fixture) module=kernel; tests='io.panscore.kernel.fixture.*Test,io.panscore.kernel.GgufValidationTest,io.panscore.kernel.ModelTest' ;;
        api.trajectory) module=api; tests='io.panscore.api.trajectory.*Test,io.panscore.api.RsrCliValuesTest,io.panscore.api.ScoreFileHardeningTest' ;;
        api.prm) module=api; tests='io.panscore.api.prm.*Test,io.panscore.api.PrmCliValuesTest,io.panscore.api.PrmCliTest,io.panscore.api.PrmEvalCliTest' ;;
        api.router) module=api; tests='io.panscore.api.router.*Test,io.panscore.api.RouteCliTest,io.panscore.api.server.RouterServerCodesTest' ;;
        api.server) module=api; tests='io.panscore.api.server.*Test' ;;
        *) echo "pit.sh: unknown package $pkg" >&2; exit 2 ;;
    esac
    targets="io.panscore.$pkg.*"
    [ "$pkg" = kernel ] && export PIT_EXCLUDED_CLASSES="${PIT_EXCLUDED_CLASSES:-io.panscore.kernel.fixture.*}"
    export PIT_TARGETS="${PIT_TARGETS:-$targets}" PIT_TESTS="${PIT_TESTS:-$tests}" PIT_THREADS="${PIT_THREADS:-1}"
    modules=("$module")
else
    modules=("$@")
fi
[ ${#modules[@]} -gt 0 ] || modules=(kernel api spark)
list=$(IFS=,; echo "${modules[*]}")
args=(-B -ntp ${PANSCORE_MVN_ARGS:-} -Ppit -pl "$list" -am -Dpit.threads="${PIT_THREADS:-2}")
[ -n "${PIT_TARGETS:-}" ] && args+=(-Dpit.targetClasses="$PIT_TARGETS")
[ -n "${PIT_TESTS:-}" ] && args+=(-Dpit.targetTests="$PIT_TESTS")
[ -n "${PIT_TIMEOUT_FACTOR:-}" ] && args+=(-Dpit.timeoutFactor="$PIT_TIMEOUT_FACTOR")
[ -n "${PIT_TIMEOUT_CONST:-}" ] && args+=(-Dpit.timeoutConstant="$PIT_TIMEOUT_CONST")
[ -n "${PIT_EXCLUDED_CLASSES:-}" ] && args+=(-Dpit.excludedClasses="$PIT_EXCLUDED_CLASSES")
[ -n "${PIT_EXCLUDED_METHODS:-}" ] && args+=(-Dpit.excludedMethods="$PIT_EXCLUDED_METHODS")

# test-compile builds the reactor (bindings runs CMake; the tests are not run here), then PIT
# runs each module's mutants in its own minion JVMs.
nice -n "${PIT_NICE:-5}" mvn "${args[@]}" -DskipTests=false test-compile org.pitest:pitest-maven:mutationCoverage

scripts/pit-summary.py "${modules[@]}"
