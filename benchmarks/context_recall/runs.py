"""One project's run: its positions and round copies, what each method recalled there, and
its part of the report.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, portable_path
from benchmarks.context_recall.baselines import (
    Windows,
    bm25_provider,
    jaccard_provider,
)
from benchmarks.context_recall.checking import context_tokens, recalled
from benchmarks.context_recall.cli_run import CliRun
from benchmarks.context_recall.design import (
    METHODS,
    SEED,
    WORK,
)
from benchmarks.context_recall.inprocess import (
    OursInProcess,
    Prompter,
    index_memory,
    make_request,
    ours_in_process,
)
from benchmarks.context_recall.positions import (
    Position,
    project_facts,
    select_positions,
    write_round,
)
from benchmarks.context_recall.projects import Project, copy_sources


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "median": round(statistics.median(values), 3),
        "p99": round(percentile(values, 0.99), 3),
        "mean": round(statistics.fmean(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }


@dataclass
class ProjectRun:
    """One project's positions, its round copies and everything measured on them."""

    project: Project
    base: Path
    files: list[str]
    lines: int
    positions: list[Position]
    recent: list[str]  # most recently modified first
    budgets: Sequence[int]
    hits: dict[str, dict[int, dict[int, bool]]] = field(default_factory=dict)
    context_tokens: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    no_prompt: set[int] = field(default_factory=set)
    cli_ms: dict[int, list[float]] = field(default_factory=dict)
    cli_wall_s: dict[int, float] = field(default_factory=dict)
    inprocess: OursInProcess = field(default_factory=OursInProcess)
    memory: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hits = {m: {b: {} for b in self.budgets} for m in METHODS}
        self.context_tokens = {m: {b: [] for b in self.budgets} for m in METHODS}
        self.cli_ms = {b: [] for b in self.budgets}
        self.cli_wall_s = dict.fromkeys(self.budgets, 0.0)

    @property
    def rounds(self) -> list[int]:
        return sorted({p.round for p in self.positions})

    def members(self, round_number: int) -> list[Position]:
        return [p for p in self.positions if p.round == round_number]

    def workspace(self, round_number: int) -> Path:
        return self.base / f"round{round_number}"

    def batch(self, round_number: int) -> Path:
        return self.base / f"round{round_number}.jsonl"


def prepare_project(project: Project, count: int, budgets: Sequence[int]) -> ProjectRun:
    """Copy the project, pick its positions and write one workspace copy per round."""
    rng = random.Random(f"{SEED}:{project.name}")
    base = WORK / project.name
    source = base / "src"
    files = copy_sources(project, source)
    facts = project_facts(project, source, files)
    positions = select_positions(project.language, facts, count, rng)
    order = list(files)
    rng.shuffle(order)  # modification order, oldest first
    lines = sum((source / f).read_text(encoding="utf-8").count("\n") + 1 for f in files)
    run = ProjectRun(project, base, files, lines, positions, list(reversed(order)), budgets)
    for round_number in run.rounds:
        members = run.members(round_number)
        write_round(source, run.workspace(round_number), files, members, order)
        run.batch(round_number).write_text(
            "".join(
                json.dumps({"file": p.file, "line": p.line, "col": p.col}) + "\n" for p in members
            )
        )
    return run


def run_baselines(
    run: ProjectRun, prompters: dict[int, Prompter], count: Callable[[str], int]
) -> None:
    """In-file, Jaccard and BM25 prompts for every position at every budget."""
    for round_number in run.rounds:
        workspace = run.workspace(round_number)
        windows = Windows(workspace, run.files)
        providers = {
            "in_file": None,
            "jaccard": jaccard_provider(windows, run.recent, workspace.resolve()),
            "bm25": bm25_provider(windows, workspace.resolve()),
        }
        for position in run.members(round_number):
            request = make_request(workspace, position)
            for budget in run.budgets:
                for method, provider in providers.items():
                    prepared = prompters[budget].prepare(request, count, provider)
                    prompt = prepared.prompt.render() if prepared else None
                    run.hits[method][budget][position.index] = recalled(prompt, position)
                    if prepared is not None:
                        run.context_tokens[method][budget].append(
                            prepared.prompt.tokens_of("context", "repo")
                        )


def take_cli(
    run: ProjectRun, round_number: int, budget: int, cli: CliRun, count: Callable[[str], int]
) -> None:
    if cli.errors:
        raise RuntimeError(f"{run.project.name} round {round_number}: {cli.errors[:3]}")
    run.cli_ms[budget].extend(cli.ms)
    run.cli_wall_s[budget] += cli.wall_s
    for position, prompt in zip(run.members(round_number), cli.prompts, strict=True):
        if prompt is None:
            run.no_prompt.add(position.index)
        run.hits["ours"][budget][position.index] = recalled(prompt, position)
        run.context_tokens["ours"][budget].append(context_tokens(prompt, count))


def measure(run: ProjectRun, prompter: Prompter, count: Callable[[str], int]) -> None:
    """Gather latency (cold and warm), index time, then index memory; nothing else running."""
    for round_number in run.rounds:
        ours_in_process(
            run.workspace(round_number), run.members(round_number), prompter, count, run.inprocess
        )
    run.memory = index_memory(run.workspace(run.rounds[0]))


def project_report(run: ProjectRun, gather_budget: int) -> dict[str, Any]:
    budgets = run.budgets
    valid = [p for p in run.positions if p.index not in run.no_prompt]
    recall = {
        method: {
            str(b): round(sum(run.hits[method][b][p.index] for p in valid) / max(1, len(valid)), 4)
            for b in budgets
        }
        for method in METHODS
    }
    inprocess = run.inprocess
    agreement = sum(
        inprocess.hits.get(p.index) == run.hits["ours"][gather_budget][p.index] for p in valid
    ) / max(1, len(valid))
    misses = [
        {
            "file": p.file,
            "line": p.line,
            "col": p.col,
            "symbol": p.name,
            "member": p.member,
            "defined_in": p.target_file,
            "round": p.round,
        }
        for p in valid
        if not run.hits["ours"][gather_budget][p.index]
    ]
    project = run.project
    return {
        "name": project.name,
        "language": project.language,
        "version": project.version,
        "origin": portable_path(project.origin),
        "files": len(run.files),
        "lines": run.lines,
        "positions": len(run.positions),
        "member_positions": sum(p.member for p in run.positions),
        "distinct_symbols": len({(p.target_file, p.name) for p in run.positions}),
        "rounds": len(run.rounds),
        "positions_without_prompt": len(run.no_prompt),
        "recall": recall,
        "mean_context_tokens": {
            method: {
                str(b): round(statistics.fmean(v), 1) if (v := run.context_tokens[method][b]) else 0
                for b in budgets
            }
            for method in METHODS
        },
        "cli_prompt_ms": {str(b): summary_ms(run.cli_ms[b]) for b in budgets},
        "cli_wall_s": {str(b): round(run.cli_wall_s[b], 2) for b in budgets},
        "gather_ms": {
            "cold": summary_ms(inprocess.cold_ms),
            "cold_cpu": summary_ms(inprocess.cold_cpu_ms),
            "warm": summary_ms(inprocess.warm_ms),
            "warm_cpu": summary_ms(inprocess.warm_cpu_ms),
        },
        "index_ms": summary_ms([s * 1000 for s in inprocess.index_s]),
        "index_memory": run.memory,
        "inprocess_agreement": round(agreement, 4),
        "lost_in_prompt_fit": inprocess.lost_in_fit,
        "misses_at_gather_budget": misses,
    }
