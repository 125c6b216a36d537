#!/usr/bin/env python3
"""End to end: `ollama-meta aider` running the real aider-chat against `ollama-meta sim --reply aider`.

Run by `cargo xtask e2e` (and `cargo xtask bench aider`) with the simulator's URL, the
`ollama-meta` binary and the `aider` executable of the venv the xtask installed. Each round
makes a fresh git repository with ten small files and a task file of ten tasks, each asking
to change one file, and runs `ollama-meta aider` over it. It checks that every task ends ok,
that there are ten branches `om/<task>` each changing exactly its own file by appending the
simulator's marker line `# edited-by: <model>` (the model the results file names), that no
branch touches another task's file, that the worktrees are gone and the main checkout is
clean, and that the results file and the JSON summary are complete. The first round uses
Aider's defaults (the model's default edit format, whole files, and a repository map); a
second round uses `--edit-format diff` (SEARCH/REPLACE blocks).

With `--bench 1,5,10` it instead times one round per concurrency and prints the wall times.
Needs nothing but the standard library (and harness.py beside it); exits non-zero on the first
failed check.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import CheckFailed, expect, git

TASKS = 10
MARKER = "# edited-by: "


def make_repo(root):
    repo = os.path.join(root, "repo")
    os.makedirs(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.name", "aider e2e")
    git(repo, "config", "user.email", "aider-e2e@ollama-meta.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    for i in range(TASKS):
        with open(os.path.join(repo, f"module_{i}.py"), "w", encoding="utf-8") as f:
            f.write(f'"""Module {i}."""\n\n\ndef value_{i}():\n    return {i}\n')
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "ten small files")
    return repo


def write_tasks(root):
    path = os.path.join(root, "tasks.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("tasks:\n")
        for i in range(TASKS):
            f.write(f"  - id: task-{i}\n")
            f.write(f"    prompt: Append a marker line to module_{i}.py and change nothing else.\n")
            f.write(f"    files: [module_{i}.py]\n")
    return path


def run_aider(args, root, repo, tasks, concurrency, edit_format=None, repo_map=False):
    """Runs `ollama-meta aider` and returns (exit code, parsed JSON stdout, stderr, seconds)."""
    home = os.path.join(root, "home")
    os.makedirs(home, exist_ok=True)
    out = os.path.join(root, "results.jsonl")
    cmd = [
        args.ollama_meta, "--json", "--endpoint", args.base_url,
        "aider", tasks, "--repo", repo,
        "--concurrency", str(concurrency),
        "--aider-bin", args.aider,
        "--out", out,
        "--timeout", "5m",
    ]
    if not repo_map:
        # Repository maps are pointless on ten tiny files and cost time.
        cmd += ["--aider-arg=--map-tokens", "--aider-arg=0"]
    if edit_format:
        cmd += ["--edit-format", edit_format]
    env = dict(os.environ)
    # Aider keeps caches and settings under $HOME; keep the run hermetic.
    env["HOME"] = home
    env["NO_COLOR"] = "1"
    env.pop("OLLAMA_HOST", None)
    print("$", " ".join(cmd), flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    try:
        document = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        document = None
    return proc.returncode, document, proc.stderr, seconds, out


def verify(repo, code, document, stderr, results_path, edit_format):
    label = edit_format or "default"
    if code != 0 or document is None:
        sys.stderr.write(stderr[-4000:])
    expect(code == 0, f"[{label}] ollama-meta aider exited {code}")
    expect(document is not None, f"[{label}] --json printed no document")

    summary = document["summary"]
    expect(summary["tasks"] == TASKS, f"[{label}] summary counts {summary['tasks']} tasks")
    expect(summary["ok"] == TASKS, f"[{label}] only {summary['ok']} of {TASKS} ok: {summary['failures']}")
    expect(summary["failed"] == 0 and summary["cancelled"] == 0 and summary["missing"] == 0,
          f"[{label}] summary has failures: {summary}")
    sessions = {row["task"]: row for row in document["sessions"]}
    expect(len(sessions) == TASKS, f"[{label}] {len(sessions)} session rows")

    with open(results_path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    expect(len(records) == TASKS, f"[{label}] results file has {len(records)} lines")
    by_id = {r["id"]: r for r in records}

    branches = set(git(repo, "branch", "--list", "om/*", "--format=%(refname:short)").split())
    expect(branches == {f"om/task-{i}" for i in range(TASKS)}, f"[{label}] branches: {sorted(branches)}")

    for i in range(TASKS):
        task, file = f"task-{i}", f"module_{i}.py"
        record, row = by_id[task], sessions[task]
        session = record["session"]
        expect(record["status"] == "ok", f"[{label}] {task}: {record['status']} {record['error']}")
        expect(row["status"] == "ok" and row["files"] == 1 and row["added"] >= 1,
              f"[{label}] {task}: table row {row}")
        expect(session["branch"] == f"om/{task}", f"[{label}] {task}: branch {session['branch']}")
        expect([f["path"] for f in session["files"]] == [file], f"[{label}] {task}: files {session['files']}")
        expect(session["commits"], f"[{label}] {task}: no commit recorded")
        expect(record["prompt_tokens"] and record["completion_tokens"],
              f"[{label}] {task}: tokens not parsed ({record['prompt_tokens']}, {record['completion_tokens']})")
        # Exactly this task's file changed on its branch: no cross-talk.
        changed = git(repo, "diff", "--name-only", "main", f"om/{task}").split()
        expect(changed == [file], f"[{label}] {task}: branch changes {changed}")
        content = git(repo, "show", f"om/{task}:{file}")
        markers = [line for line in content.splitlines() if line.startswith(MARKER)]
        expect(markers == [MARKER + record["model"]],
              f"[{label}] {task}: markers {markers}, model {record['model']}")
        original = git(repo, "show", f"main:{file}")
        expect(content.startswith(original), f"[{label}] {task}: the original content was changed")
        with open(session["log"], encoding="utf-8", errors="replace") as f:
            log = f.read()
        if edit_format:
            expect(f"with {edit_format} edit format" in log, f"[{label}] {task}: log does not show the edit format")

    worktrees = git(repo, "worktree", "list", "--porcelain").count("worktree ")
    expect(worktrees == 1, f"[{label}] {worktrees - 1} worktrees left behind")
    status = git(repo, "status", "--porcelain")
    expect(status == "", f"[{label}] main checkout not clean: {status!r}")
    models = sorted({r["model"] for r in records})
    print(f"ok: [{label}] {TASKS} sessions, {TASKS} branches, one file each, models {models}", flush=True)


def round_trip(args, concurrency, edit_format=None, repo_map=False):
    root = tempfile.mkdtemp(prefix="om-aider-e2e-")
    try:
        repo = make_repo(root)
        tasks = write_tasks(root)
        code, document, stderr, seconds, results = run_aider(
            args, root, repo, tasks, concurrency, edit_format, repo_map)
        verify(repo, code, document, stderr, results, edit_format)
        return seconds
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the simulator, in Aider reply mode")
    parser.add_argument("--ollama-meta", required=True, help="the ollama-meta binary")
    parser.add_argument("--aider", required=True, help="the aider executable")
    parser.add_argument("--concurrency", type=int, default=TASKS)
    parser.add_argument("--bench", help="comma-separated concurrencies to time instead of testing")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()

    if args.bench:
        levels = [int(level) for level in args.bench.split(",")]
        timings = {}
        for level in levels:
            timings[level] = round_trip(args, level)
            print(f"bench: {TASKS} sessions at concurrency {level}: {timings[level]:.1f} s wall", flush=True)
        base = timings[levels[0]]
        print("\nconcurrency  wall time  speed-up")
        for level in levels:
            print(f"{level:>11}  {timings[level]:>8.1f}s  {base / timings[level]:>7.2f}x")
        print(json.dumps({"tasks": TASKS, "wall_seconds": timings}))
        return

    # Aider's defaults (whole files for these models, a repository map whose cache must not
    # count as a change), then SEARCH/REPLACE blocks.
    round_trip(args, args.concurrency, repo_map=True)
    round_trip(args, args.concurrency, edit_format="diff")
    print("2 passed, 0 failed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
