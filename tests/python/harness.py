"""The check runner shared by the compatibility scripts, and the helpers of the
end-to-end scripts (`expect`, `git`, the proxy bypass).

Each script defines small independent checks (functions taking a context), and
`run` executes them all, prints `PASS`/`FAIL` lines and a final
`N passed, M failed` line, and returns the exit code (1 if any failed or none
ran). Loopback traffic is kept away from any proxy set in the environment.
"""

from __future__ import annotations

import os
import subprocess
import time
import traceback
from importlib import metadata
from typing import Callable, Sequence


class CheckFailed(Exception):
    """A check's expectation was not met."""


def expect(condition: object, message: str) -> None:
    """Fails the current check with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)


def git(repo: str, *args: str) -> str:
    """`git ARGS` in `repo`, which must succeed; its stdout."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def bypass_proxy_for_loopback() -> None:
    """Loopback traffic must never go through a proxy from the environment."""
    for var in ("NO_PROXY", "no_proxy"):
        extra = "127.0.0.1,localhost,::1"
        os.environ[var] = f"{os.environ[var]},{extra}" if os.environ.get(var) else extra


def package_versions(*packages: str) -> str:
    """`pkg x.y.z, …` for the banner line."""
    return ", ".join(f"{pkg} {metadata.version(pkg)}" for pkg in packages)


def run(checks: Sequence[Callable[[object], None]], ctx: object, only: str | None, script: str) -> int:
    """Runs `checks` with `ctx`; `script` is the caller's `__file__`, used to
    point at the failing line of an unexpected exception."""
    passed = failed = 0
    for fn in checks:
        name = fn.__name__
        if only and only not in name:
            continue
        started = time.monotonic()
        try:
            fn(ctx)
        except CheckFailed as err:
            failed += 1
            print(f"FAIL {name}: {err}")
        except Exception as err:  # noqa: BLE001 - a harness reports every failure
            failed += 1
            frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == script]
            where = f" (line {frames[-1].lineno})" if frames else ""
            print(f"FAIL {name}: {type(err).__name__}: {err}{where}")
        else:
            passed += 1
            print(f"PASS {name} ({(time.monotonic() - started) * 1000:.0f} ms)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0
