#!/usr/bin/env bash
# HTTP campaign: N fuzzed requests (default 10,000) against the sidecar on 127.0.0.1: every answer a
# 4xx/5xx JSON error (never 500), the server alive and answering the same glimpse afterwards, no
# leaked session, RSS reported.   scripts/campaign-http.sh [N] [SEED]
source "$(dirname "$0")/campaign-lib.sh"
# A fixed, pre-touched heap: the RSS figures then show native growth, not the heap warming up.
run_campaign api HttpFuzzCampaignTest http -Dcampaign.http.count="${1:-10000}" -Dcampaign.http.seed="${2:-13}" \
    -Dpanscore.jvm.args="--enable-native-access=ALL-UNNAMED -Xms512m -Xmx512m -XX:+AlwaysPreTouch"
