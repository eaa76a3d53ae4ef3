#!/usr/bin/env bash
# Clients no one here wrote, against `panscore serve` on loopback with stories260K: the OpenAI
# Python SDK (sdk_check.py) and lm-evaluation-harness 0.4.13's local-completions model with
# tokenized_requests on and off on a small multiple-choice task and a generate_until task
# (lm-eval/*.yaml; lm_eval_check.py compares its numbers). Installs them into a virtual environment under
# target/ from pip's configured indexes (--no-deps, with the dependencies named below); fails with a
# message naming what to install when it cannot. Needs the CLI jar (./panscore build).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/openai-clients
venv=target/openai-clients-venv
shared="${PANSCORE_SHARED_DIR:-}"
if [ -z "$shared" ]; then
    for d in shared ../shared; do [ -f "$d/models/stories260K.gguf" ] && shared="$d" && break; done
fi
model="$shared/models/stories260K.gguf"
[ -f "$model" ] || { echo "openai-clients: stories260K.gguf not found (set PANSCORE_SHARED_DIR)" >&2; exit 1; }

SDK_PACKAGES=(openai==2.54.0 httpx httpcore anyio sniffio h11 idna certifi distro jiter pydantic==2.13.5 pydantic-core==2.46.5
    typing-extensions annotated-types typing-inspection tqdm)
# lm-eval without its full dependency set (evaluate does not resolve here): what its API models import
LMEVAL_PACKAGES=(lm_eval==0.4.13 numpy pyyaml requests urllib3 charset-normalizer tenacity jinja2 markupsafe datasets pyarrow pandas
    python-dateutil pytz tzdata six dill multiprocess xxhash fsspec huggingface-hub==1.33.0 hf-xet filelock packaging aiohttp aiosignal
    frozenlist multidict yarl propcache attrs aiohappyeyeballs more-itertools sacrebleu portalocker regex tabulate colorama lxml click
    shellingham typer)
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import openai, lm_eval.evaluator' >/dev/null 2>&1; then
    python3 -m venv "$venv" || { echo "openai-clients: cannot create a virtual environment: install python3-venv (apt-get install python3-venv)" >&2; exit 1; }
    if ! "$venv/bin/pip" install -q --retries 0 --timeout 20 --no-deps "${SDK_PACKAGES[@]}" "${LMEVAL_PACKAGES[@]}" >"$venv/pip.log" 2>&1; then
        grep -v -e Retrying -e 'is ignored' "$venv/pip.log" >&2 || true
        echo "openai-clients: could not install the clients: pip install --no-deps ${SDK_PACKAGES[*]} ${LMEVAL_PACKAGES[*]}" >&2
        exit 1
    fi
fi
"$venv/bin/python" -c 'import openai, httpx, pydantic' || { echo "openai-clients: the OpenAI SDK does not import; install: ${SDK_PACKAGES[*]}" >&2; exit 1; }
"$venv/bin/python" -c 'import lm_eval.evaluator' || { echo "openai-clients: lm-eval does not import; install: ${LMEVAL_PACKAGES[*]}" >&2; exit 1; }

log=$(mktemp)
key="panscore-client-test"
./panscore cli serve --model "$model" --port 0 --api-key "$key" --ctx 1024 --openai-ctx 512 --max-generations 2 --threads 2 --template none --add-bos false \
    --chat-template-file "$here/chatml.jinja" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 1 120); do
    url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1 || true)
    [ -n "$url" ] && break
    kill -0 $server 2>/dev/null || { cat "$log" >&2; echo "openai-clients: panscore serve exited" >&2; exit 1; }
    sleep 0.5
done
[ -n "$url" ] || { cat "$log" >&2; echo "openai-clients: panscore serve did not start" >&2; exit 1; }
echo "openai-clients: panscore serving on $url"
"$venv/bin/python" "$here/sdk_check.py" "$url" "$key"

for tokenized in True False; do
    out=$(mktemp -d)
    # lm-eval prints its table with pytablewriter, which is not installed: its exit status is not
    # the verdict, the results it wrote are (checked below)
    OPENAI_API_KEY="$key" HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 "$venv/bin/python" -m lm_eval --model local-completions \
        --model_args "model=stories260K,base_url=$url/v1/completions,tokenizer_backend=remote,tokenized_requests=$tokenized,auth_token=$key,max_retries=1,max_length=512" \
        --include_path "$here/lm-eval" --tasks panscore_stories_mc,panscore_stories_gen --output_path "$out" --log_samples >"$out/lm_eval.log" 2>&1 || true
    if ! ls "$out"/*/results_*.json >/dev/null 2>&1; then
        cat "$out/lm_eval.log" >&2
        echo "openai-clients: lm-eval (tokenized_requests=$tokenized) wrote no results" >&2
        exit 1
    fi
    "$venv/bin/python" "$here/lm_eval_check.py" "$url" "$key" "$model" "$out" "tokenized_requests=$tokenized"
    rm -rf "$out"
done
