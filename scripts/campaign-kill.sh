#!/usr/bin/env bash
# Kill campaign: N runs of `rsr` and `prm` (default 20, alternating, JSONL and CSV) in separate JVMs,
# each SIGKILLed at a random moment and resumed; every output must equal a clean run byte for byte.
#   scripts/campaign-kill.sh [N] [SEED]
source "$(dirname "$0")/campaign-lib.sh"
run_campaign api KillCampaignTest kill -Dcampaign.kill.count="${1:-20}" -Dcampaign.kill.seed="${2:-13}"
