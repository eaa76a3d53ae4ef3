#!/usr/bin/env bash
# Soak: 64 concurrent clients for S seconds (default 600) against `panscore serve` on 127.0.0.1,
# the server in its own JVM with a fixed, pre-touched heap so that its RSS shows native growth.
# Allowed answers: 2xx, and 503 with Retry-After at capacity. RSS is sampled every second.
#   scripts/soak.sh [SECONDS] [CLIENTS]
source "$(dirname "$0")/campaign-lib.sh"
SECONDS_TO_RUN="${1:-600}"
CLIENTS="${2:-64}"
mvn -B -ntp -q -pl api -am package -Dmaven.test.skip=true > target/campaigns/soak-build.log 2>&1
MODEL=target/campaigns/soak-model.gguf
java --enable-native-access=ALL-UNNAMED -jar api/target/panscore.jar fixture --preset tiny --out "$MODEL" > /dev/null
PORT=$(( 20000 + RANDOM % 20000 ))
java -Xms256m -Xmx256m -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED -jar api/target/panscore.jar serve --model "$MODEL" \
    --host 127.0.0.1 --port "$PORT" --max-sessions 48 --ctx 4096 --threads 2 > target/campaigns/soak-server.log 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$PORT/health" > /dev/null 2>&1 && break
    sleep 1
done
run_campaign api SoakTest soak -Dcampaign.soak.seconds="$SECONDS_TO_RUN" -Dcampaign.soak.clients="$CLIENTS" \
    -Dcampaign.soak.url="http://127.0.0.1:$PORT" -Dcampaign.soak.pid="$SERVER"
curl -fsS "http://127.0.0.1:$PORT/health" && echo " (server alive after the soak)"
