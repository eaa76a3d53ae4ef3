#!/usr/bin/env bash
# Regenerates the FFM bindings in bindings/src/main/java/io/panscore/bindings from
# native/include/panscore.h with jextract (https://jdk.java.net/jextract/, 22 or newer).
#
# The committed sources are in exactly the shape jextract emits (one header class panscore_h with
# layouts, enum constants and one holder class per function; one class per struct), so a
# regeneration shows up as a reviewable diff. NativeLibrary.java is hand-written and not touched:
# it opens libpanscore with System.load, which is how the generated SymbolLookup.loaderLookup()
# finds the symbols (no --library option, so nothing is patched after generation).
#
# After regenerating, run the layout test: mvn -pl bindings -am test -Dtest=StructLayoutTest
set -euo pipefail
cd "$(dirname "$0")/.."
JEXTRACT=${JEXTRACT:-jextract}
command -v "$JEXTRACT" >/dev/null || { echo "jextract not found; set JEXTRACT=/path/to/jextract/bin/jextract" >&2; exit 1; }
out=bindings/src/main/java
pkg=io/panscore/bindings
# Keep NativeLibrary.java; remove the previously generated files so deleted declarations vanish.
find "$out/$pkg" -maxdepth 1 -name '*.java' ! -name NativeLibrary.java -delete
args=(--output "$out" --target-package io.panscore.bindings --header-class-name panscore_h)
for fn in ps_last_error ps_version ps_llama_commit ps_backends ps_abi_version ps_log_set_level \
          ps_model_default_params ps_model_load ps_model_free ps_model_info_get ps_model_meta \
          ps_tokenize ps_detokenize ps_score_default_params ps_stats_compute \
          ps_engine_default_params ps_engine_create ps_engine_free ps_engine_params_get \
          ps_score ps_forward ps_session_decode ps_session_copy ps_session_clear ps_session_length \
          ps_chat_render ps_chat_render_jinja ps_abi_layout \
          ps_token_piece ps_chat_builtin_templates \
          ps_sampling_default_params ps_sampler_create ps_sampler_free ps_session_sample; do
    args+=(--include-function "$fn")
done
for st in ps_model_params ps_model_info ps_token_stats ps_score_params ps_engine_params ps_sequence ps_chat_message ps_append ps_sampling_params; do
    args+=(--include-struct "$st" --include-typedef "$st")
done
for c in PS_OK PS_ERR_INVALID_ARGUMENT PS_ERR_FILE_NOT_FOUND PS_ERR_MODEL_FORMAT PS_ERR_TOKEN_OUT_OF_RANGE \
         PS_ERR_CONTEXT_OVERFLOW PS_ERR_EMPTY_INPUT PS_ERR_NAN_LOGITS PS_ERR_DECODE_FAILED PS_ERR_OUT_OF_MEMORY \
         PS_ERR_BUFFER_TOO_SMALL PS_ERR_BACKEND PS_ERR_INTERNAL PS_ERR_CAPACITY PS_LOG_NONE PS_LOG_ERROR PS_LOG_WARN PS_LOG_INFO \
         PS_ABI_VERSION; do
    args+=(--include-constant "$c")
done
"$JEXTRACT" "${args[@]}" native/include/panscore.h
echo "regenerated $(ls "$out/$pkg" | wc -l) files in $out/$pkg"
