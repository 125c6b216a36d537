#!/usr/bin/env python3
"""Compatibility checks for `ollama-meta sim` with the real Python client libraries.

Uses only the official `ollama` and `openai` packages (and httpx, which `ollama` depends
on) plus the standard library. Each check is a small, independent function; all of them
run, and the script ends with a line `N passed, M failed` and exits 1 if any failed.

Run it by hand against a running simulator:

    target/py-venv/bin/python tests/python/compat_sim.py --base-url http://127.0.0.1:PORT

`cargo xtask e2e` starts the simulator, runs this script and stops the simulator again.
"""

from __future__ import annotations

import argparse
import collections.abc
import math
import re
import sys
from typing import Callable

import httpx
import ollama
import openai

from harness import CheckFailed, bypass_proxy_for_loopback, expect, package_versions, run

# The models the simulator serves by default, as `/api/tags` names them.
LLAMA = "llama3.2"
CODER = "qwen2.5-coder:7b"
QWEN3 = "qwen3:8b"
EMBED = "nomic-embed-text"
DEFAULT_MODELS = {
    "llama3.2:latest": "llama",
    "qwen2.5-coder:7b": "qwen2",
    "qwen3:8b": "qwen3",
    "nomic-embed-text:latest": "nomic-bert",
}
EMBEDDING_LENGTH = 768

# Per-request timeout, in seconds: the simulator is fast, so anything slow is a bug.
REQUEST_TIMEOUT = 30.0

HI = [{"role": "user", "content": "hello"}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    },
}

METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class Context:
    """What every check gets: the base URL and one client of each library."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.ollama = ollama.Client(host=self.base_url, timeout=REQUEST_TIMEOUT)
        self.openai = openai.OpenAI(
            base_url=self.base_url + "/v1",
            api_key="ollama",
            max_retries=0,
            timeout=REQUEST_TIMEOUT,
        )


Check = Callable[[Context], None]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    """Registers a check; checks run in the order they are defined."""
    CHECKS.append(fn)
    return fn


def expect_response_error(call: Callable[[], object], status: int, error: str) -> None:
    """Expects `call` to raise `ollama.ResponseError` with this status and message."""
    try:
        result = call()
        # A streaming call only fails once it is iterated.
        if isinstance(result, collections.abc.Iterator):
            for _ in result:
                pass
    except ollama.ResponseError as err:
        expect(
            err.status_code == status,
            f"expected status {status}, got {err.status_code} ({err.error!r})",
        )
        expect(err.error == error, f"expected error {error!r}, got {err.error!r}")
        return
    raise CheckFailed(f"expected ResponseError {status} {error!r}, got no error")


def listed_names(ctx: Context) -> list[str]:
    return [m.model or "" for m in ctx.ollama.list().models]


def same_model(a: str, b: str) -> bool:
    """Compares names the way Ollama does: case-insensitive, `:latest` implied."""

    def norm(name: str) -> str:
        name = name.lower()
        return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"

    return norm(a) == norm(b)


# === native API (ollama package) ===


@check
def version_is_semver(ctx: Context) -> None:
    response = httpx.get(ctx.base_url + "/api/version", timeout=REQUEST_TIMEOUT)
    expect(response.status_code == 200, f"status {response.status_code}")
    version = response.json().get("version", "")
    expect(re.fullmatch(r"\d+\.\d+\.\d+([-+].*)?", version), f"not semver-like: {version!r}")


@check
def list_has_default_models(ctx: Context) -> None:
    models = {m.model: m for m in ctx.ollama.list().models}
    for name, family in DEFAULT_MODELS.items():
        expect(name in models, f"{name} missing from list: {sorted(models)}")
        model = models[name]
        expect(model.size is not None and model.size > 0, f"{name}: size {model.size}")
        expect(model.details is not None, f"{name}: no details")
        expect(model.details.family == family, f"{name}: family {model.details.family!r}")


@check
def show_reports_context_tools_and_template(ctx: Context) -> None:
    info = ctx.ollama.show(LLAMA)
    model_info = info.modelinfo or {}
    keys = [k for k in model_info if k.endswith(".context_length")]
    expect(keys, f"no *.context_length key in model_info: {sorted(model_info)}")
    expect(model_info[keys[0]] == 131072, f"{keys[0]} = {model_info[keys[0]]}")
    expect("tools" in (info.capabilities or []), f"capabilities {info.capabilities}")
    expect("Tools" in (info.template or ""), "template does not mention Tools")


@check
def show_embedding_model(ctx: Context) -> None:
    info = ctx.ollama.show(EMBED)
    expect(info.capabilities == ["embedding"], f"capabilities {info.capabilities}")


@check
def ps_lists_model_after_generate(ctx: Context) -> None:
    before = ctx.ollama.ps()
    expect(before.models is not None, "ps().models is None")
    ctx.ollama.generate(model=LLAMA, prompt="hello", options={"num_predict": 2})
    loaded = [m for m in ctx.ollama.ps().models if same_model(m.model or "", LLAMA)]
    expect(loaded, "llama3.2 not in ps() after generate")
    expect(loaded[0].expires_at is not None, "expires_at missing")


@check
def generate_non_stream(ctx: Context) -> None:
    r = ctx.ollama.generate(model=LLAMA, prompt="hello", options={"num_predict": 8})
    expect(r.done is True, f"done {r.done}")
    expect(r.eval_count and r.eval_count > 0, f"eval_count {r.eval_count}")
    expect(r.response, "empty response")
    expect(r.done_reason in ("stop", "length"), f"done_reason {r.done_reason!r}")
    expect(r.model == LLAMA, f"model echoed as {r.model!r}")


@check
def generate_stream(ctx: Context) -> None:
    chunks = list(
        ctx.ollama.generate(model=LLAMA, prompt="hello", stream=True, options={"num_predict": 8})
    )
    expect(len(chunks) > 1, f"{len(chunks)} chunks")
    expect(chunks[-1].done is True, "last chunk not done")
    expect(all(c.done is False for c in chunks[:-1]), "done before the last chunk")
    text = "".join(c.response or "" for c in chunks)
    expect(text, "no text streamed")


@check
def generate_num_predict_limits_tokens(ctx: Context) -> None:
    r = ctx.ollama.generate(model=LLAMA, prompt="hello", options={"num_predict": 3})
    expect(r.eval_count == 3, f"eval_count {r.eval_count}")
    expect(r.done_reason == "length", f"done_reason {r.done_reason!r}")


@check
def chat_non_stream(ctx: Context) -> None:
    r = ctx.ollama.chat(model=LLAMA, messages=HI, options={"num_predict": 8})
    expect(r.done is True, f"done {r.done}")
    expect(r.message.role == "assistant", f"role {r.message.role!r}")
    expect(r.message.content, "empty content")
    expect(r.eval_count and r.eval_count > 0, f"eval_count {r.eval_count}")


@check
def chat_stream_accumulates_and_reports_metrics(ctx: Context) -> None:
    chunks = list(
        ctx.ollama.chat(model=LLAMA, messages=HI, stream=True, options={"num_predict": 8})
    )
    expect(len(chunks) > 1, f"{len(chunks)} chunks")
    content = "".join(c.message.content or "" for c in chunks)
    expect(content, "no content streamed")
    last = chunks[-1]
    expect(last.done is True, "last chunk not done")
    for metric in METRICS:
        value = getattr(last, metric)
        expect(value is not None and value > 0, f"final chunk {metric} = {value}")


@check
def chat_think_on_thinking_model(ctx: Context) -> None:
    r = ctx.ollama.chat(model=QWEN3, messages=HI, think=True, options={"num_predict": 8})
    expect(r.message.thinking, "empty message.thinking")


@check
def chat_think_on_non_thinking_model_is_rejected(ctx: Context) -> None:
    expect_response_error(
        lambda: ctx.ollama.chat(model=LLAMA, messages=HI, think=True),
        400,
        '"llama3.2" does not support thinking',
    )


@check
def chat_with_tools(ctx: Context) -> None:
    r = ctx.ollama.chat(
        model=LLAMA,
        messages=[{"role": "user", "content": "What is the weather in Tokyo?"}],
        tools=[WEATHER_TOOL],
        options={"num_predict": 8},
    )
    expect(r.done is True, f"done {r.done}")
    for call in r.message.tool_calls or []:
        expect(call.function.name, "tool call without a name")
        expect(isinstance(call.function.arguments, dict), "arguments are not an object")


@check
def embed_batch_is_normalised(ctx: Context) -> None:
    r = ctx.ollama.embed(model=EMBED, input=["a", "b"])
    expect(len(r.embeddings) == 2, f"{len(r.embeddings)} vectors")
    for vector in r.embeddings:
        expect(len(vector) == EMBEDDING_LENGTH, f"length {len(vector)}")
        norm = math.sqrt(sum(x * x for x in vector))
        expect(abs(norm - 1.0) < 1e-3, f"L2 norm {norm}")


@check
def legacy_embeddings(ctx: Context) -> None:
    r = ctx.ollama.embeddings(model=EMBED, prompt="x")
    expect(len(r.embedding) > 0, "empty embedding")


@check
def generate_unknown_model_is_404(ctx: Context) -> None:
    expect_response_error(
        lambda: ctx.ollama.generate(model="nope", prompt="hello"), 404, "model 'nope' not found"
    )


@check
def embed_unknown_model_is_404(ctx: Context) -> None:
    expect_response_error(
        lambda: ctx.ollama.embed(model="nope", input="hello"),
        404,
        'model "nope" not found, try pulling it first',
    )


@check
def copy_then_delete(ctx: Context) -> None:
    backup = "llama3-backup"
    try:
        copied = ctx.ollama.copy(LLAMA, backup)
        expect(copied.status == "success", f"copy status {copied.status!r}")
        expect(any(same_model(n, backup) for n in listed_names(ctx)), "copy not listed")
        deleted = ctx.ollama.delete(backup)
        expect(deleted.status == "success", f"delete status {deleted.status!r}")
        expect(not any(same_model(n, backup) for n in listed_names(ctx)), "still listed")
    finally:
        # Keep the checks independent even when this one fails halfway.
        if any(same_model(n, backup) for n in listed_names(ctx)):
            ctx.ollama.delete(backup)


@check
def pull_stream_ends_with_success(ctx: Context) -> None:
    statuses = [p.status for p in ctx.ollama.pull(LLAMA, stream=True)]
    expect(statuses, "no progress lines")
    expect(statuses[-1] == "success", f"last status {statuses[-1]!r} of {statuses}")


# === OpenAI-compatible API (openai package) ===


@check
def openai_models_list(ctx: Context) -> None:
    ids = {m.id for m in ctx.openai.models.list()}
    for name in DEFAULT_MODELS:
        expect(name in ids, f"{name} missing from {sorted(ids)}")


@check
def openai_chat_non_stream(ctx: Context) -> None:
    r = ctx.openai.chat.completions.create(model=LLAMA, messages=HI, max_tokens=8)
    expect(r.choices, "no choices")
    expect(r.choices[0].message.content, "empty content")
    expect(r.usage is not None and r.usage.total_tokens > 0, f"usage {r.usage}")


@check
def openai_chat_stream(ctx: Context) -> None:
    chunks = list(
        ctx.openai.chat.completions.create(model=LLAMA, messages=HI, max_tokens=8, stream=True)
    )
    expect(chunks, "no chunks")
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    expect(content, "no content streamed")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    expect(finishes[-1] in ("stop", "length"), f"finish_reason {finishes[-1]!r}")


@check
def openai_chat_stream_include_usage(ctx: Context) -> None:
    chunks = list(
        ctx.openai.chat.completions.create(
            model=LLAMA,
            messages=HI,
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    expect(chunks, "no chunks")
    usage = chunks[-1].usage
    expect(usage is not None and usage.total_tokens > 0, f"last chunk usage {usage}")


@check
def openai_completion(ctx: Context) -> None:
    r = ctx.openai.completions.create(model=LLAMA, prompt="hi", max_tokens=5)
    expect(r.choices and r.choices[0].text, "no text")


@check
def openai_embedding(ctx: Context) -> None:
    # The SDK asks for base64 by default and decodes it itself.
    r = ctx.openai.embeddings.create(model=EMBED, input="hi")
    expect(len(r.data) == 1, f"{len(r.data)} embeddings")
    expect(len(r.data[0].embedding) == EMBEDDING_LENGTH, f"length {len(r.data[0].embedding)}")


@check
def openai_embedding_as_floats(ctx: Context) -> None:
    r = ctx.openai.embeddings.create(model=EMBED, input="hi", encoding_format="float")
    expect(len(r.data[0].embedding) == EMBEDDING_LENGTH, f"length {len(r.data[0].embedding)}")


@check
def openai_unknown_model_is_not_found(ctx: Context) -> None:
    try:
        ctx.openai.chat.completions.create(model="nope", messages=HI, max_tokens=5)
    except openai.NotFoundError:
        return
    raise CheckFailed("expected openai.NotFoundError")


# === harness ===


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:11434")
    parser.add_argument("-k", dest="only", help="run only checks whose name contains this")
    args = parser.parse_args()

    bypass_proxy_for_loopback()
    ctx = Context(args.base_url)
    versions = package_versions("ollama", "openai", "httpx")
    print(f"compat_sim: {versions}; server {ctx.base_url}")
    return run(CHECKS, ctx, args.only, __file__)


if __name__ == "__main__":
    sys.exit(main())
