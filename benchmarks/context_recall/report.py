"""The result of a finished run: the JSON report and its Markdown rendering."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_name, portable_path
from benchmarks.context_recall.design import METHODS, SEED, SETUP
from benchmarks.context_recall.runs import ProjectRun, project_report, summary_ms

_METHOD_NAMES = {
    "ours": "**ours** (sc2-lsp)",
    "in_file": "in-file only",
    "jaccard": "Jaccard, 10 recent files",
    "bm25": "BM25, all files",
}


def build_report(
    runs: Sequence[ProjectRun],
    *,
    budgets: Sequence[int],
    gather_budget: int,
    positions: int,
    vocab: Path,
    notes: Sequence[str],
    argv: Sequence[str],
    load_before: Sequence[float],
    started: float,
) -> dict[str, Any]:
    """Everything measured, per project and pooled, with how and where it was measured."""
    return {
        "benchmark": "context_recall",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": "python -m benchmarks.context_recall " + " ".join(argv),
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "tokenizer": portable_path(vocab),
        "seed": SEED,
        "budgets": list(budgets),
        "positions_per_project": positions,
        "setup": SETUP,
        "unavailable": list(notes),
        "overall": _overall(runs, budgets, gather_budget),
        "projects": [project_report(run, gather_budget) for run in runs],
        "runtime_s": round(time.perf_counter() - started, 1),
    }


def _overall(
    runs: Sequence[ProjectRun], budgets: Sequence[int], gather_budget: int
) -> dict[str, Any]:
    valid = sum(len(run.positions) - len(run.no_prompt) for run in runs)
    recall = {
        method: {
            str(b): round(
                sum(
                    run.hits[method][b][p.index]
                    for run in runs
                    for p in run.positions
                    if p.index not in run.no_prompt
                )
                / max(1, valid),
                4,
            )
            for b in budgets
        }
        for method in METHODS
    }

    def pooled(name: str) -> dict[str, float]:
        return summary_ms([ms for run in runs for ms in getattr(run.inprocess, name)])

    return {
        "positions": valid,
        "recall": recall,
        "gather_budget": gather_budget,
        "gather_ms": {
            "cold": pooled("cold_ms"),
            "cold_cpu": pooled("cold_cpu_ms"),
            "warm": pooled("warm_ms"),
            "warm_cpu": pooled("warm_cpu_ms"),
        },
        "cli_prompt_ms": {
            str(b): summary_ms([ms for run in runs for ms in run.cli_ms[b]]) for b in budgets
        },
        "lost_in_prompt_fit": sum(run.inprocess.lost_in_fit for run in runs),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as `benchmarks/results/context_recall.md` shows it."""
    sections = (_header, _projects, _recall, _latency, _footer)
    return "\n".join(line for section in sections for line in section(report))


def _header(report: dict[str, Any]) -> list[str]:
    machine = report["machine"]
    return [
        "# Repository-context recall (CrossCodeEval-style)",
        "",
        f"`python -m benchmarks.context_recall`, {report['date']}: {machine['cpu']}, "
        f"{machine['cores']} cores (load average {machine['load_average_before'][0]} before, "
        f"{machine['load_average_after'][0]} after: a shared machine), Python {machine['python']}, "
        f"seed {report['seed']}, {report['runtime_s']:.0f} s.",
        "",
        "A position is a usage of a function, class, method or constant defined in exactly one "
        "*other* file of the project. The cursor sits right before the identifier (right after the "
        "`.` of an attribute access) and the rest of its line is dropped. Recalled = the "
        "definition's signature line is in a context snippet of the defining file (before "
        "`<fim_prefix>`). Budget = `--max-prompt-tokens`, the whole prompt: context gets what the "
        "FIM window (up to 1024 prefix + 256 suffix tokens) leaves. StarCoder2 tokenizer.",
        "",
    ]


def _projects(report: dict[str, Any]) -> list[str]:
    out = [
        "## Projects",
        "",
        "| project | language | version | files | lines | positions (after `.`) | symbols |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for p in report["projects"]:
        out.append(
            f"| {p['name']} | {p['language']} | {p['version']} | {p['files']} | {p['lines']} | "
            f"{p['positions']} ({p['member_positions']}) | {p['distinct_symbols']} |"
        )
    return out


def _recall(report: dict[str, Any]) -> list[str]:
    budgets = report["budgets"]
    overall = report["overall"]
    out = [
        "",
        f"## Recall ({overall['positions']} positions)",
        "",
        "| method | " + " | ".join(f"{b} tokens" for b in budgets) + " |",
        "|---|" + "---:|" * len(budgets),
    ]
    for method in METHODS:
        cells = [f"{overall['recall'][method][str(b)] * 100:.1f} %" for b in budgets]
        out.append(f"| {_METHOD_NAMES[method]} | " + " | ".join(cells) + " |")
    out += [
        "",
        "Per project, ours / Jaccard / BM25 (%):",
        "",
        "| project | " + " | ".join(str(b) for b in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for p in report["projects"]:
        cells = [
            " / ".join(f"{p['recall'][m][str(b)] * 100:.0f}" for m in ("ours", "jaccard", "bm25"))
            for b in budgets
        ]
        out.append(f"| {p['name']} | " + " | ".join(cells) + " |")
    return out


def _latency(report: dict[str, Any]) -> list[str]:
    budgets = report["budgets"]
    overall = report["overall"]
    gather = overall["gather_ms"]
    out = [
        "",
        "## Latency and index",
        "",
        f"`gather` ({overall['gather_budget']}-token budget, in-process, server tokenizer), "
        "median / p99 ms:",
        "",
        "| request | wall | CPU |",
        "|---|---:|---:|",
        f"| first in a just-opened file (cold) | {gather['cold']['median']:.1f} / "
        f"{gather['cold']['p99']:.1f} | {gather['cold_cpu']['median']:.1f} / "
        f"{gather['cold_cpu']['p99']:.1f} |",
        f"| the same again, next keystroke (warm) | {gather['warm']['median']:.1f} / "
        f"{gather['warm']['p99']:.1f} | {gather['warm_cpu']['median']:.1f} / "
        f"{gather['warm_cpu']['p99']:.1f} |",
        "",
        "`sc2-lsp prompt --batch` per-position `ms` (window, gather and prompt tokenization, "
        "cold, vocabulary-only tokenizer, run alongside the baselines), median / p99: "
        + ", ".join(
            f"{b}: {overall['cli_prompt_ms'][str(b)]['median']:.0f} / "
            f"{overall['cli_prompt_ms'][str(b)]['p99']:.0f}"
            for b in budgets
        )
        + ".",
        "",
        "| project | gather cold / warm (median) | index time (median) | index memory "
        "(tracemalloc) | `stats.approx_bytes` |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in report["projects"]:
        memory = p["index_memory"]
        out.append(
            f"| {p['name']} | {p['gather_ms']['cold']['median']:.1f} / "
            f"{p['gather_ms']['warm']['median']:.1f} ms | {p['index_ms']['median']:.0f} ms | "
            f"{memory.get('tracemalloc_bytes', 0) / 1e6:.1f} MB | "
            f"{memory.get('approx_bytes', 0) / 1e6:.1f} MB |"
        )
    return out


def _footer(report: dict[str, Any]) -> list[str]:
    overall = report["overall"]
    return [
        "",
        "Notes: in-file only is 0 by construction (the definitions live in other files; the "
        "column checks the pipeline). Positions whose definition `gather` returned but the "
        f"final prompt dropped while fitting the budget: {overall['lost_in_prompt_fit']} (at "
        f"{overall['gather_budget']}). Index time is the in-process walk and parse until ready "
        "(median over rounds); memory is what the ready index retains.",
        "",
        f"Reproduce: `{report['command'].strip()}`",
        "",
    ]
