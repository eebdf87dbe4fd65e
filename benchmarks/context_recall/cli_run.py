"""Ours, the real path: `sc2-lsp prompt --batch` in a subprocess per round and budget."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("sc2-lsp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sc2_lsp"]


@dataclass
class CliRun:
    prompts: list[str | None]
    ms: list[float]
    wall_s: float
    errors: list[str]


def run_cli(workspace: Path, batch: Path, budget: int, vocab: Path) -> CliRun:
    command = [
        *cli_command(),
        "prompt",
        "--workspace",
        str(workspace),
        "--batch",
        str(batch),
        "--max-prompt-tokens",
        str(budget),
        "--model",
        str(vocab),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    prompts: list[str | None] = []
    ms: list[float] = []
    errors: list[str] = []
    for line in done.stdout.splitlines():
        payload = json.loads(line)
        if "error" in payload:
            errors.append(str(payload["error"]))
            prompts.append(None)
            continue
        prompts.append(payload["prompt"])
        ms.append(float(payload["ms"]))
    return CliRun(prompts, ms, wall, errors)
