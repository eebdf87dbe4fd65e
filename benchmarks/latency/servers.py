"""The servers a run replays the session against: today's, and a baseline commit's.

Today's server is plain `python -m sc2_lsp --stdio` with `SC2_TRACE` set: the trace
(`sc2_lsp.trace`) is how the benchmark sees the server's work, nothing is patched. A baseline
commit from before the trace existed is run through that commit's own
`benchmarks/latency.py --serve`, which hooks its engine thread and writes the same records;
its code is extracted from git into `benchmarks/.work/baseline-<sha>/`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.latency.layout import LOG_ENV, PROBE_ENV, ROOT, WORK
from sc2_lsp.trace import ENV as TRACE_ENV


@dataclass(frozen=True)
class Server:
    label: str
    command: list[str]
    env: dict[str, str]
    probe: Path
    """Where its records go: the trace, or the baseline's probe."""
    log: Path


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        **extra,
    }


def ours(model: Path, stem: str) -> Server:
    probe, log = WORK / f"{stem}-probe.jsonl", WORK / f"{stem}-server.log"
    for path in (probe, log):
        path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "sc2_lsp", "--stdio", "--model", str(model)]
    env = _env({TRACE_ENV: str(probe), "PYTHONPATH": str(ROOT)})
    return Server("ours", command, env, probe, log)


def baseline(ref: str, model: Path, stem: str) -> Server:
    """A commit's server, run with that commit's own timing probe."""
    tree = baseline_tree(ref)
    probe, log = WORK / f"{stem}-baseline-probe.jsonl", WORK / f"{stem}-baseline-server.log"
    for path in (probe, log):
        path.unlink(missing_ok=True)
    script = tree / "benchmarks" / "latency.py"
    command = [sys.executable, str(script), "--serve", "--stdio", "--model", str(model)]
    env = _env({PROBE_ENV: str(probe), LOG_ENV: str(log), "PYTHONPATH": str(tree)})
    return Server(f"baseline {tree.name.removeprefix('baseline-')}", command, env, probe, log)


def baseline_tree(ref: str) -> Path:
    """`sc2_lsp` and the benchmark of `ref`, extracted once under benchmarks/.work."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = WORK / f"baseline-{sha}"
    if not (tree / "benchmarks" / "latency.py").is_file():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "sc2_lsp", "benchmarks/latency.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree
