#!/usr/bin/env bash
# The HTML report in a real browser (Debian's chromium via playwright-core, headless):
#   1. scores the bundled sample trajectories (plus two with hostile names) with a real model:
#      stories260K from shared/ when present (../shared/models, $PANSCORE_SHARED), else a fixture;
#   2. `panscore rsr --per-token --by-teacher --select-best`, `panscore prm --no-ref`, `panscore report`;
#   3. node --test api/src/test/browser/report.test.mjs: no console errors, one element per token,
#      the CLI's ranking, a screenshot in api/target/browser-test/report.png.
# --bench also builds a 10,000-trajectory report and prints its size and load time.
# Needs: ./panscore build (api/target/panscore.jar), node >= 20 with npm, /usr/bin/chromium
# (.ci/run installs chromium and runs `npm ci` in api/src/test/browser).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=0
[ "${1:-}" = "--bench" ] && BENCH=1

JAVA_HOME=$(./panscore java-home)
JAVA=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar api/target/panscore.jar)
[ -f api/target/panscore.jar ] || { echo "report-browser-test: build first (./panscore build)" >&2; exit 1; }
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "report-browser-test: no chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
BROWSER_DIR=api/src/test/browser
if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]; then
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund)
fi

OUT=$ROOT/api/target/browser-test
rm -rf "$OUT"
mkdir -p "$OUT"
MODEL=
for candidate in "${PANSCORE_SHARED:-}/models/stories260K.gguf" "$ROOT/../shared/models/stories260K.gguf" /work/shared/models/stories260K.gguf; do
    if [ -f "$candidate" ]; then MODEL=$candidate; break; fi
done
if [ -z "$MODEL" ]; then
    MODEL=$OUT/fixture-tiny.gguf
    "${JAVA[@]}" fixture --out "$MODEL" --preset tiny
fi
echo "report-browser-test: model $MODEL"

# the sample trajectories, and a problem whose id and teacher would run script if not escaped
cp api/src/main/resources/io/panscore/api/sample-trajectories.jsonl "$OUT/trajectories.jsonl"
cat >> "$OUT/trajectories.jsonl" <<'JSONL'
{"id": "hostile/</script><script>window.__pwned=2</script>", "problem": "<b>hostile</b>", "teacher": "<img src=x onerror=window.__pwned=1>", "prompt": "Say hi.", "response": "</script><script>window.__pwned=3</script> & done.\n\nOK."}
{"id": "hostile/2</script><script>window.__pwned=4</script>", "problem": "<b>hostile</b>", "teacher": "<img src=x onerror=window.__pwned=1>", "prompt": "Say hi.", "response": "Hi \"there\" <i>friend</i>.\n\nBye."}
JSONL

"${JAVA[@]}" rsr --model "$MODEL" --in "$OUT/trajectories.jsonl" --out "$OUT/scores.jsonl" --per-token --by-teacher --select-best \
    --template none --step-delimiter '\n\n' --progress never | tee "$OUT/cli-stdout.txt"
"${JAVA[@]}" prm --policy "$MODEL" --no-ref --in "$OUT/trajectories.jsonl" --out "$OUT/prm.jsonl" --template none --log-ratios --progress never
"${JAVA[@]}" report --in "$OUT/scores.jsonl" --in "$OUT/prm.jsonl" --out "$OUT/report.html" --model "$MODEL"

BIG=
if [ $BENCH = 1 ]; then
    node "$BROWSER_DIR/make-big-scores.mjs" "$OUT/big-scores.jsonl" 10000 256
    /usr/bin/time -f "report command: %e s, %M KB max RSS" "${JAVA[@]}" report --in "$OUT/big-scores.jsonl" --out "$OUT/big-report.html"
    BIG=$OUT/big-report.html
fi

cd "$BROWSER_DIR"
REPORT_HTML=$OUT/report.html SCORES_JSONL=$OUT/scores.jsonl CLI_STDOUT=$OUT/cli-stdout.txt OUT_DIR=$OUT BIG_REPORT=$BIG CHROMIUM=$CHROMIUM \
    node --test --test-reporter=spec report.test.mjs
