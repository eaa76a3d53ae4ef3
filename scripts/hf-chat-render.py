#!/usr/bin/env python3
"""Renders chat templates the way Hugging Face transformers' apply_chat_template does.

The reference the Jinja parity tests compare panscore's renderings with (panscore renders through
llama.cpp's own Jinja engine). It reproduces HF's documented environment: a sandboxed jinja2
environment with trim_blocks and lstrip_blocks, the loopcontrols extension, a `tojson` filter that
keeps non-ASCII characters, and the globals `raise_exception` and `strftime_now`; the template sees
`messages`, `tools` (None), `documents` (None), `add_generation_prompt` and the special tokens. With
continue_final_message the rendering is cut after the final message's text, as HF does.

Input (stdin): a JSON list of cases {"template", "bos_token", "eos_token", "messages",
"add_generation_prompt", "continue_final_message"}. Output (stdout): a JSON list, per case either
{"text": ...} or {"error": ...}.
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, case):
    gen = bool(case.get("add_generation_prompt", False))
    cont = bool(case.get("continue_final_message", False))
    if gen and cont:
        raise ValueError("add_generation_prompt and continue_final_message exclude each other")
    messages = case["messages"]
    text = env.from_string(case["template"]).render(
        messages=messages, tools=None, documents=None, add_generation_prompt=gen,
        bos_token=case.get("bos_token", ""), eos_token=case.get("eos_token", ""))
    if cont:
        final = messages[-1]["content"]
        if final.strip() not in text:
            raise ValueError("the final message does not appear in the rendered chat")
        at = text.rindex(final.strip())
        if text[at:at + len(final.lstrip())] == final:
            text = text[:at + len(final.lstrip())]
        else:
            text = text[:at + len(final.strip())]
    return text


def main():
    env = environment()
    out = []
    for case in json.load(sys.stdin):
        try:
            out.append({"text": render(env, case)})
        except Exception as e:  # reported per case
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
