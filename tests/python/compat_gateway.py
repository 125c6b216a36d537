#!/usr/bin/env python3
"""Compatibility checks for `ollama-meta serve` (the gateway) with the real Python clients.

The gateway runs in front of two or more simulated endpoints (`ollama-meta sim`). Uses only
the official `ollama`, `openai` and `anthropic` packages (and httpx and prometheus_client)
plus the standard library. Each check is a small, independent function; all of them run, and the
script ends with a line `N passed, M failed` and exits 1 if any failed.

Run it by hand against a running gateway:

    target/py-venv/bin/python tests/python/compat_gateway.py --base-url http://127.0.0.1:PORT

`cargo xtask e2e` starts two simulators and the gateway in front of them, runs this script
and stops them again.
"""

from __future__ import annotations

import argparse
import collections.abc
import math
import sys
from typing import Callable

import anthropic
import httpx
import ollama
import openai
from prometheus_client.parser import text_string_to_metric_families

from harness import CheckFailed, bypass_proxy_for_loopback, expect, package_versions, run

LLAMA = "llama3.2"
CODER = "qwen2.5-coder:7b"
QWEN3 = "qwen3:8b"
EMBED = "nomic-embed-text"
DEFAULT_MODELS = ("llama3.2:latest", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text:latest")
EMBEDDING_LENGTH = 768
REQUEST_TIMEOUT = 30.0
HI = [{"role": "user", "content": "hello"}]
METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class Context:
    """What every check gets: the base URL, the fleet's endpoint names, one client of each
    library, and a raw httpx client for what the libraries hide."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT)
        self.ollama = ollama.Client(host=self.base_url, timeout=REQUEST_TIMEOUT)
        self.openai = openai.OpenAI(
            base_url=self.base_url + "/v1",
            api_key="ollama",
            max_retries=0,
            timeout=REQUEST_TIMEOUT,
        )
        self.anthropic = anthropic.Anthropic(
            base_url=self.base_url,
            api_key="ollama",
            max_retries=0,
            timeout=REQUEST_TIMEOUT,
        )
        status = self.http.get("/api/meta/status").json()
        self.endpoints = [e["name"] for e in status["endpoints"]]


Check = Callable[[Context], None]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    """Registers a check; checks run in the order they are defined."""
    CHECKS.append(fn)
    return fn


def expect_response_error(call: Callable[[], object], status: int, error: str | None) -> None:
    """Expects `call` to raise `ollama.ResponseError` with this status (and message)."""
    try:
        result = call()
        if isinstance(result, collections.abc.Iterator):
            for _ in result:
                pass
    except ollama.ResponseError as err:
        expect(
            err.status_code == status,
            f"expected status {status}, got {err.status_code} ({err.error!r})",
        )
        expect(error is None or err.error == error, f"expected error {error!r}, got {err.error!r}")
        return
    raise CheckFailed(f"expected ResponseError {status}, got no error")


# === the gateway itself ===


@check
def health_check_and_texts(ctx: Context) -> None:
    root = ctx.http.get("/")
    expect(root.status_code == 200 and root.text == "Ollama is running", f"/: {root.text!r}")
    head = ctx.http.head("/")
    expect(head.status_code == 200 and head.content == b"", "HEAD /")
    missing = ctx.http.get("/api/nope")
    expect(missing.status_code == 404 and missing.text == "404 page not found", missing.text)
    wrong = ctx.http.get("/api/chat")
    expect(wrong.status_code == 405 and wrong.text == "405 method not allowed", wrong.text)
    expect(root.headers.get("x-request-id"), "no X-Request-Id")
    echoed = ctx.http.get("/", headers={"X-Request-Id": "py-check-1"})
    expect(echoed.headers.get("x-request-id") == "py-check-1", "X-Request-Id not echoed")


@check
def fleet_has_several_endpoints_up(ctx: Context) -> None:
    status = ctx.http.get("/api/meta/status").json()
    up = [e["name"] for e in status["endpoints"] if e["health"] == "up"]
    expect(len(up) >= 2, f"endpoints up: {up}")
    expect("queue_depth" in status and "in_flight" in status, f"keys {sorted(status)}")


# === native API (ollama package) ===


@check
def list_is_the_union_once_each(ctx: Context) -> None:
    names = [m.model for m in ctx.ollama.list().models]
    for name in DEFAULT_MODELS:
        expect(names.count(name) == 1, f"{name} listed {names.count(name)} times in {names}")
    for model in ctx.ollama.list().models:
        expect(model.size and model.size > 0, f"{model.model}: size {model.size}")
        expect(model.modified_at is not None, f"{model.model}: no modified_at")
        expect(model.details is not None and model.details.family, f"{model.model}: details")


@check
def show_comes_from_a_backend(ctx: Context) -> None:
    info = ctx.ollama.show(LLAMA)
    keys = [k for k in (info.modelinfo or {}) if k.endswith(".context_length")]
    expect(keys, "no *.context_length in model_info")
    expect("tools" in (info.capabilities or []), f"capabilities {info.capabilities}")


@check
def generate_non_stream_and_stream(ctx: Context) -> None:
    r = ctx.ollama.generate(model=LLAMA, prompt="hello", options={"num_predict": 8})
    expect(r.done is True and r.response, f"done {r.done}, response {r.response!r}")
    expect(r.model == LLAMA, f"model echoed as {r.model!r}")
    chunks = list(
        ctx.ollama.generate(model=LLAMA, prompt="hello", stream=True, options={"num_predict": 8})
    )
    expect(len(chunks) > 1 and chunks[-1].done is True, f"{len(chunks)} chunks")
    expect(all(c.done is False for c in chunks[:-1]), "done before the last chunk")


@check
def chat_non_stream_and_stream_with_metrics(ctx: Context) -> None:
    r = ctx.ollama.chat(model=CODER, messages=HI, options={"num_predict": 8})
    expect(r.message.role == "assistant" and r.message.content, "empty chat answer")
    chunks = list(ctx.ollama.chat(model=LLAMA, messages=HI, stream=True, options={"num_predict": 8}))
    expect("".join(c.message.content or "" for c in chunks), "no content streamed")
    last = chunks[-1]
    expect(last.done is True, "last chunk not done")
    for metric in METRICS:
        value = getattr(last, metric)
        expect(value is not None and value > 0, f"final chunk {metric} = {value}")


@check
def chat_think_and_tools_pass_through(ctx: Context) -> None:
    r = ctx.ollama.chat(model=QWEN3, messages=HI, think=True, options={"num_predict": 8})
    expect(r.message.thinking, "empty message.thinking")
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    r = ctx.ollama.chat(model=LLAMA, messages=HI, tools=[tool], options={"num_predict": 8})
    expect(r.done is True, "tools request did not finish")


@check
def embed_and_legacy_embeddings(ctx: Context) -> None:
    r = ctx.ollama.embed(model=EMBED, input=["a", "b"])
    expect(len(r.embeddings) == 2, f"{len(r.embeddings)} vectors")
    for vector in r.embeddings:
        expect(len(vector) == EMBEDDING_LENGTH, f"length {len(vector)}")
        norm = math.sqrt(sum(x * x for x in vector))
        expect(abs(norm - 1.0) < 1e-3, f"L2 norm {norm}")
    legacy = ctx.ollama.embeddings(model=EMBED, prompt="x")
    expect(len(legacy.embedding) > 0, "empty embedding")


@check
def ps_is_the_union_of_loaded_models(ctx: Context) -> None:
    ctx.ollama.generate(model=LLAMA, prompt="hello", options={"num_predict": 2})
    loaded = [m.model for m in ctx.ollama.ps().models]
    expect("llama3.2:latest" in loaded, f"loaded: {loaded}")
    expect(loaded.count("llama3.2:latest") == 1, f"listed more than once: {loaded}")


@check
def errors_keep_ollamas_status_and_text(ctx: Context) -> None:
    expect_response_error(
        lambda: ctx.ollama.generate(model="nope", prompt="hello"), 404, "model 'nope' not found"
    )
    expect_response_error(
        lambda: ctx.ollama.embed(model="nope", input="hello"),
        404,
        'model "nope" not found, try pulling it first',
    )
    expect_response_error(
        lambda: ctx.ollama.chat(model=LLAMA, messages=HI, think=True),
        400,
        '"llama3.2" does not support thinking',
    )
    # Changing a model store needs a named endpoint.
    expect_response_error(lambda: ctx.ollama.pull(LLAMA), 400, None)


@check
def pull_to_a_named_endpoint(ctx: Context) -> None:
    target = ctx.endpoints[-1]
    client = ollama.Client(
        host=ctx.base_url, timeout=REQUEST_TIMEOUT, headers={"X-Ollama-Meta-Endpoint": target}
    )
    statuses = [p.status for p in client.pull(LLAMA, stream=True)]
    expect(statuses and statuses[-1] == "success", f"statuses {statuses}")


# === OpenAI-compatible API (openai package) ===


@check
def openai_models(ctx: Context) -> None:
    ids = [m.id for m in ctx.openai.models.list()]
    for name in DEFAULT_MODELS:
        expect(ids.count(name) == 1, f"{name} in {ids}")


@check
def openai_chat_non_stream(ctx: Context) -> None:
    r = ctx.openai.chat.completions.create(model=LLAMA, messages=HI, max_tokens=8)
    expect(r.choices and r.choices[0].message.content, "empty content")
    expect(r.usage is not None and r.usage.total_tokens > 0, f"usage {r.usage}")


@check
def openai_chat_stream_with_usage(ctx: Context) -> None:
    chunks = list(
        ctx.openai.chat.completions.create(
            model=LLAMA,
            messages=HI,
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    expect(content, "no content streamed")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    expect(finishes[-1] in ("stop", "length"), f"finish_reason {finishes[-1]!r}")
    expect(chunks[-1].usage and chunks[-1].usage.total_tokens > 0, "no usage chunk")


@check
def openai_completion_and_embeddings(ctx: Context) -> None:
    r = ctx.openai.completions.create(model=LLAMA, prompt="hi", max_tokens=5)
    expect(r.choices and r.choices[0].text, "no text")
    e = ctx.openai.embeddings.create(model=EMBED, input="hi")
    expect(len(e.data[0].embedding) == EMBEDDING_LENGTH, f"length {len(e.data[0].embedding)}")
    f = ctx.openai.embeddings.create(model=EMBED, input=["a", "b"], encoding_format="float")
    expect(len(f.data) == 2, f"{len(f.data)} embeddings")


@check
def openai_unknown_model_is_not_found(ctx: Context) -> None:
    try:
        ctx.openai.chat.completions.create(model="nope", messages=HI, max_tokens=5)
    except openai.NotFoundError as err:
        expect(err.status_code == 404, f"status {err.status_code}")
        return
    raise CheckFailed("expected openai.NotFoundError")


@check
def openai_responses_whole_and_streamed(ctx: Context) -> None:
    r = ctx.openai.responses.create(
        model=LLAMA, instructions="Be brief.", input="hello", max_output_tokens=8
    )
    expect(r.output_text, f"no output text in {r}")
    expect(r.usage is not None and r.usage.output_tokens > 0, f"usage {r.usage}")
    # Raw events rather than `responses.stream`: that helper insists on `response.completed`,
    # and an answer cut at max_output_tokens ends with `response.incomplete`, as OpenAI's does.
    events = list(ctx.openai.responses.create(model=LLAMA, input=HI, max_output_tokens=8, stream=True))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    expect(deltas, "no text deltas streamed")
    last = events[-1]
    expect(last.type in ("response.completed", "response.incomplete"), f"last event {last.type}")
    expect(last.response.output_text == "".join(deltas), "the final response is not the deltas")
    sequence = [e.sequence_number for e in events]
    expect(sequence == list(range(len(events))), f"sequence numbers {sequence}")


@check
def anthropic_messages_whole_and_streamed(ctx: Context) -> None:
    m = ctx.anthropic.messages.create(
        model=LLAMA, max_tokens=8, system="Be brief.", messages=HI
    )
    expect(m.role == "assistant" and m.content, f"message {m}")
    expect(m.content[0].type == "text" and m.content[0].text, f"content {m.content}")
    expect(m.stop_reason in ("end_turn", "max_tokens"), f"stop_reason {m.stop_reason!r}")
    expect(m.usage.output_tokens > 0 and m.usage.input_tokens > 0, f"usage {m.usage}")
    with ctx.anthropic.messages.stream(model=LLAMA, max_tokens=8, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    expect(text, "no text streamed")
    expect(final.content[0].text == text, "the final message is not the text streamed")
    expect(final.usage.output_tokens > 0, f"usage {final.usage}")
    count = ctx.anthropic.messages.count_tokens(model=LLAMA, messages=HI)
    expect(count.input_tokens > 0, f"count {count}")


@check
def anthropic_unknown_model_is_not_found(ctx: Context) -> None:
    try:
        ctx.anthropic.messages.create(model="nope", max_tokens=5, messages=HI)
    except anthropic.NotFoundError as err:
        expect(err.status_code == 404, f"status {err.status_code}")
        return
    raise CheckFailed("expected anthropic.NotFoundError")


# === observability ===


@check
def metrics_parse_and_count_the_requests(ctx: Context) -> None:
    response = ctx.http.get("/metrics")
    expect(response.headers["content-type"].startswith("text/plain; version=0.0.4"), "content type")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = families.get("ollama_meta_requests")
    expect(requests is not None, f"no requests family in {sorted(families)}")
    total = sum(s.value for s in requests.samples if s.name == "ollama_meta_requests_total")
    expect(total >= 5, f"requests_total {total}")


# === harness ===


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the gateway, e.g. http://127.0.0.1:11435")
    parser.add_argument("-k", dest="only", help="run only checks whose name contains this")
    args = parser.parse_args()

    bypass_proxy_for_loopback()
    ctx = Context(args.base_url)
    versions = package_versions("ollama", "openai", "anthropic", "httpx")
    print(f"compat_gateway: {versions}; gateway {ctx.base_url}; endpoints {ctx.endpoints}")
    return run(CHECKS, ctx, args.only, __file__)


if __name__ == "__main__":
    sys.exit(main())
