#!/usr/bin/env bash
# Lists the CLI flags the README mentions (`--name` in its text) with the test sources that pass
# them (as a "--name" string literal); flags that no test passes are marked MISSING. JVM, Maven and
# spark-submit options are skipped. A flag being passed is not yet its value being checked: the
# tests named in docs/TESTING.md check values; this script finds the flags that no test even passes.
set -euo pipefail
cd "$(dirname "$0")/.."
skip=' --enable-native-access --add-opens --add-modules --release --jinja --master --deploy-mode --class --conf --files --illegal-native-access --sun-misc-unsafe-memory-access --bench --core --rsr --prm --router '
missing=0
for flag in $(grep -o -- '--[a-z][a-z0-9-]*' README.md | sort -u); do
    case "$skip" in *" $flag "*) continue ;; esac
    tests=$( (grep -rlF -- "\"$flag\"" api/src/test kernel/src/test spark/src/test 2>/dev/null || true) | xargs -r -n1 basename | sed 's/\.java$//' | sort -u | tr '\n' ' ')
    if [ -z "$tests" ]; then echo "MISSING $flag"; missing=$((missing + 1)); else echo "ok      $flag  $tests"; fi
done
echo "$missing flag(s) passed by no test"
