#!/usr/bin/env bash
# GGUF campaign: N corrupted GGUF files (default 1,000) through Model.load in one JVM; each is refused
# with a ModelLoadException naming the problem or loads and scores like the float64 reference.
# A JVM death fails the run (the log's last "mutant" line names the culprit).
#   scripts/campaign-gguf.sh [N] [SEED]
# With --control, first shows that without the Java validation llama.cpp kills the JVM on a
# duplicated token (the test JVM dies: expected).
source "$(dirname "$0")/campaign-lib.sh"
if [ "${1:-}" = "--control" ]; then
    shift
    echo "control: the named vocabulary forgeries with the validation off (the fork is expected to die)"
    if mvn -B -ntp -q -pl kernel -am test -Dtest='GgufValidationTest#vocabularyForgeriesAreRefusedByName' -Dsurefire.failIfNoSpecifiedTests=false \
        -Dpanscore.gguf.validate=false > target/campaigns/gguf-control.log 2>&1; then
        echo "control: the JVM survived without validation (unexpected)"
    else
        grep -m3 -E "GGML_ASSERT|terminated|crash|exit code" target/campaigns/gguf-control.log target/campaigns/*.dumpstream kernel/target/surefire-reports/*.dumpstream 2>/dev/null || true
        echo "control: the test JVM died or failed without validation (see target/campaigns/gguf-control.log)"
    fi
fi
run_campaign kernel 'GgufValidationTest#campaign' gguf -Dcampaign.gguf.count="${1:-1000}" -Dcampaign.gguf.seed="${2:-13}"
