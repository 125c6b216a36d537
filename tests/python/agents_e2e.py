#!/usr/bin/env python3
"""End to end: `ollama-meta aider --agent claude|codex` running the real Claude Code and Codex.

Run by `cargo xtask e2e` with the simulator's URL, the `ollama-meta` binary and the two
agents' executables, installed from npm by the xtask. For each agent it makes a fresh git
repository and a task file of three tasks, runs `ollama-meta aider --agent AGENT` over it,
and checks that every session ended ok with tokens counted from the agent's own JSON
output, that each task has its branch `om/<task>` and the worktrees are gone, and that the
agent's requests reached the simulator through its session gateway (for Claude Code, a tool
call and its result included: it reports two turns). The simulator's answers are not code, so no file changes; that the agents'
requests, streams and tool round trips were understood is what is tested. Needs nothing but the
standard library (and harness.py beside it).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import CheckFailed, bypass_proxy_for_loopback, expect, git

TASKS = 3


def make_repo(root):
    repo = os.path.join(root, "repo")
    os.makedirs(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.name", "agents e2e")
    git(repo, "config", "user.email", "agents-e2e@ollama-meta.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    for i in range(TASKS):
        with open(os.path.join(repo, f"module_{i}.py"), "w", encoding="utf-8") as f:
            f.write(f"def value_{i}():\n    return {i}\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "three small files")
    return repo


# A tool each agent offers that is harmless to call with made-up arguments: the simulator
# calls a tool the prompt names (once; given its result, it answers in text), so the agents'
# tool-use round trip goes through the gateway too.
TOOL = {"claude": "Read", "codex": "update_plan"}


def write_tasks(root, agent):
    path = os.path.join(root, "tasks.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("tasks:\n")
        for i in range(TASKS):
            f.write(f"  - id: task-{i}\n")
            f.write(f"    model: llama3.2\n")
            f.write(f"    prompt: Use {TOOL[agent]}, then say what module_{i}.py returns.\n")
            f.write(f"    files: [module_{i}.py]\n")
    return path


def round_trip(args, agent, program):
    root = tempfile.mkdtemp(prefix=f"om-{agent}-e2e-")
    try:
        repo = make_repo(root)
        tasks = write_tasks(root, agent)
        home = os.path.join(root, "home")
        os.makedirs(home)
        out = os.path.join(root, "results.jsonl")
        cmd = [
            args.ollama_meta, "--json", "--endpoint", args.base_url,
            "aider", tasks, "--repo", repo, "--agent", agent, "--agent-bin", program,
            "--concurrency", str(TASKS), "--out", out, "--timeout", "3m",
        ]
        env = dict(os.environ)
        # The agents keep settings and sessions under $HOME (Codex under $CODEX_HOME).
        env["HOME"] = home
        env["CODEX_HOME"] = os.path.join(home, ".codex")
        os.makedirs(env["CODEX_HOME"])
        env["NO_COLOR"] = "1"
        env.pop("OLLAMA_HOST", None)
        for key in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(key, None)
        print("$", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
        document = json.loads(proc.stdout) if proc.stdout.strip() else None
        if proc.returncode != 0 or document is None:
            sys.stderr.write(proc.stderr[-4000:])
        with open(out, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        for record in records:
            if record["status"] != "ok":
                with open(record["session"]["log"], encoding="utf-8", errors="replace") as log:
                    sys.stderr.write(f"--- {record['id']} log:\n{log.read()[-3000:]}\n")
        expect(proc.returncode == 0, f"[{agent}] ollama-meta aider exited {proc.returncode}")
        summary = document["summary"]
        expect(summary["ok"] == TASKS, f"[{agent}] only {summary['ok']} of {TASKS} ok: {summary['failures']}")
        expect(len(records) == TASKS, f"[{agent}] results file has {len(records)} lines")
        for record in records:
            expect(record["prompt_tokens"] and record["completion_tokens"],
                  f"[{agent}] {record['id']}: tokens not read ({record['prompt_tokens']}, {record['completion_tokens']})")
            expect(record["endpoint"], f"[{agent}] {record['id']}: no endpoint answered")
        branches = set(git(repo, "branch", "--list", "om/*", "--format=%(refname:short)").split())
        expect(branches == {f"om/task-{i}" for i in range(TASKS)}, f"[{agent}] branches: {sorted(branches)}")
        worktrees = git(repo, "worktree", "list", "--porcelain").count("worktree ")
        expect(worktrees == 1, f"[{agent}] {worktrees - 1} worktrees left behind")
        with open(records[0]["session"]["log"], encoding="utf-8", errors="replace") as f:
            log = f.read()
        if agent == "claude":
            turns = json.loads(log.strip().splitlines()[-1]).get("num_turns", 0)
            expect(turns >= 2, f"[claude] the tool round trip did not happen: {log[-2000:]}")
        else:
            turns = log.count('"type":"turn.completed"')
            expect(turns >= 1, f"[codex] no turn completed: {log[-2000:]}")
        tokens = sum(r["completion_tokens"] for r in records)
        print(f"ok: [{agent}] {TASKS} sessions through the gateway, {tokens} tokens received", flush=True)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the simulator")
    parser.add_argument("--ollama-meta", required=True, help="the ollama-meta binary")
    parser.add_argument("--claude", required=True, help="Claude Code's executable")
    parser.add_argument("--codex", required=True, help="the Codex CLI's executable")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    bypass_proxy_for_loopback()
    round_trip(args, "claude", args.claude)
    round_trip(args, "codex", args.codex)
    print("2 passed, 0 failed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
