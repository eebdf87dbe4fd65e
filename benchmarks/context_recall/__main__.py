"""Run the benchmark: `python -m benchmarks.context_recall --help`."""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import benchmarks.context_recall as package
from benchmarks.context_recall.cli_run import run_cli
from benchmarks.context_recall.design import BUDGETS, CLI_WORKERS, DEFAULT_OUT, DEFAULT_VOCAB
from benchmarks.context_recall.inprocess import CachedTokenizer, Prompter, server_tokenizer
from benchmarks.context_recall.projects import Project, available_projects
from benchmarks.context_recall.report import build_report, markdown
from benchmarks.context_recall.runs import (
    ProjectRun,
    measure,
    prepare_project,
    run_baselines,
    take_cli,
)
from sc2_lsp.engine.vocab import Tokenizer
from sc2_lsp.prompt.templates import BoundTemplate

_started = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _started:6.0f}s] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _arguments(argv)
    logging.basicConfig(level=logging.WARNING)
    load_before = os.getloadavg()
    projects, notes = available_projects()
    if args.projects:
        projects = [p for p in projects if p.name in args.projects]
    budgets = list(args.budgets)
    gather_budget = 2048 if 2048 in budgets else budgets[0]
    # Token for token the vocabulary-only tokenizer of `sc2-lsp prompt`, at the server's speed.
    server = server_tokenizer(args.vocab)
    template = server.template("auto")
    runs = [_prepared(project, args.positions, budgets) for project in projects]
    _recall_phase(runs, budgets, args.vocab, server, template)
    # The latency figures come from a phase where nothing else of ours runs.
    prompter = Prompter(server, template, args.vocab, gather_budget)
    counter = functools.lru_cache(maxsize=65536)(server.count)
    for run in runs:
        measure(run, prompter, counter)
        log(f"{run.project.name}: latency and index measured")
    report = build_report(
        runs,
        budgets=budgets,
        gather_budget=gather_budget,
        positions=args.positions,
        vocab=args.vocab,
        notes=notes,
        argv=argv,
        load_before=load_before,
        started=_started,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    log(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    print(markdown(report))
    return 0


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(package.__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--positions", type=int, default=200, help="cursor positions per project")
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    parser.add_argument("--projects", nargs="+", help="only these projects")
    parser.add_argument(
        "--vocab", type=Path, default=DEFAULT_VOCAB, help="StarCoder2 tokenizer GGUF"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def _prepared(project: Project, positions: int, budgets: Sequence[int]) -> ProjectRun:
    run = prepare_project(project, positions, budgets)
    log(
        f"{project.name}: {len(run.files)} files, {run.lines} lines, "
        f"{len(run.positions)} positions in {len(run.rounds)} rounds"
    )
    return run


def _recall_phase(
    runs: Sequence[ProjectRun],
    budgets: Sequence[int],
    vocab: Path,
    server: Tokenizer,
    template: BoundTemplate,
) -> None:
    """Every method's prompt at every position and budget: the CLI in subprocesses, two at a
    time, while the baselines are computed here."""
    cached = CachedTokenizer(server)
    count: Callable[[str], int] = cached.count
    with concurrent.futures.ThreadPoolExecutor(CLI_WORKERS) as pool:
        futures = [
            (run, r, budget, pool.submit(run_cli, run.workspace(r), run.batch(r), budget, vocab))
            for run in runs
            for r in run.rounds
            for budget in budgets
        ]
        prompters = {b: Prompter(cached, template, vocab, b) for b in budgets}
        for run in runs:
            run_baselines(run, prompters, count)
            log(f"{run.project.name}: baselines done")
        for run, r, budget, future in futures:
            take_cli(run, r, budget, future.result(), count)
        log(f"{len(futures)} CLI runs done")


if __name__ == "__main__":
    sys.exit(main())
