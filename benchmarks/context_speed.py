"""Repository-context speed: gather latency after indexing, indexing time and index memory.

Owns: the benchmark of sc2_lsp.context (no model, no LSP).  It writes a deterministic
synthetic multi-language repository (or takes one with --repo), indexes it, then times `gather`
for completion requests on call sites of imported functions, typing a few characters at each
site the way an editor sends keystrokes.  A second, larger repository measures indexing wall
time, the index's retained memory (tracemalloc) and gather latency while indexing is still
running (requests must use the partial index without waiting).

    python -m benchmarks.context_speed [--repo PATH] [--files 2000] [--index-files 10000]
        [--write benchmarks/results/context_speed.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import statistics
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_name, percentile
from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.languages import structure_language
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.context.retrieval.retrieve import ContextRequest, gather
from sc2_lsp.context.settings import RepoContextSettings

ROOT = Path(__file__).resolve().parents[1]

CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(")
BUDGET_TOKENS = 1536
WINDOW_BEFORE_CHARS = 6000
WINDOW_AFTER_CHARS = 1500
WORDS = ("order", "invoice", "customer", "price", "total", "cart", "item", "stock", "ship")


TOKENIZER_CALLS = [0]


def count_tokens(text: str) -> int:
    TOKENIZER_CALLS[0] += 1
    return len(text) // 3 + 1


def rss_bytes() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# ----------------------------------------------------------------------------- repository


def _name(rng: random.Random, *parts: str) -> str:
    return "_".join([*parts, rng.choice(WORDS), rng.choice(WORDS)])


def _python_module(rng: random.Random, package: int, module: int, others: list[str]) -> str:
    lines = [
        f'"""Module {module} of package {package}."""',
        "",
        "from __future__ import annotations",
    ]
    imported: list[str] = []
    for other in rng.sample(others, k=min(len(others), rng.randint(2, 5))):
        other_package, other_module = other.split(".")
        function = f"f_{other_package}_{other_module}_0"
        lines.append(f"from {other_package}.{other_module} import {function}")
        imported.append(function)
    lines.append("")
    for index in range(rng.randint(4, 9)):
        function = f"f_pkg{package}_m{module}_{index}"
        lines += [
            "",
            f"def {function}({_name(rng, 'arg')}: int, limit: int = 10) -> int:",
            f'    """Compute the {rng.choice(WORDS)} {rng.choice(WORDS)} for a batch."""',
            "    total = 0",
            "    for step in range(limit):",
        ]
        for _ in range(rng.randint(3, 12)):
            callee = rng.choice(imported) if imported and rng.random() < 0.4 else "abs"
            lines.append(f"        total += {callee}(step * {rng.randint(1, 9)})")
        lines.append("    return total")
    lines += ["", "", f"class Service{package}x{module}:", '    """A service."""', ""]
    for index in range(rng.randint(2, 6)):
        lines += [
            f"    def {_name(rng, 'handle')}_{index}(self, request: dict) -> dict:",
            f"        value = request.get('{rng.choice(WORDS)}', 0)",
            f"        return {{'{rng.choice(WORDS)}': value * {index + 1}}}",
            "",
        ]
    return "\n".join(lines) + "\n"


def _script_module(rng: random.Random, package: int, module: int, others: list[str]) -> str:
    lines: list[str] = []
    for other in rng.sample(others, k=min(len(others), rng.randint(1, 4))):
        other_package, other_module = other.split(".")
        function = f"g_{other_package}_{other_module}_0"
        lines.append(f"import {{ {function} }} from '../{other_package}/{other_module}';")
    for index in range(rng.randint(3, 8)):
        lines += [
            "",
            f"/** {rng.choice(WORDS)} helper. */",
            f"export function g_pkg{package}_m{module}_{index}(value: number): number {{",
            "  let total = 0;",
            "  for (let i = 0; i < value; i++) {",
            f"    total += i * {rng.randint(1, 9)};",
            "  }",
            "  return total;",
            "}",
        ]
    return "\n".join(lines) + "\n"


def write_repository(root: Path, files: int, seed: int = 7) -> Path:
    """A repository of `files` files: ~80% Python, ~15% TypeScript, the rest docs."""
    rng = random.Random(seed)
    per_package = 20
    python_modules = [
        f"pkg{index // per_package}.m{index % per_package}" for index in range(int(files * 0.8))
    ]
    script_modules = [
        f"web{index // per_package}.m{index % per_package}" for index in range(int(files * 0.15))
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "pyproject.toml").write_text('[project]\nname = "synthetic"\n')
    for name in python_modules:
        package, module = name.split(".")
        directory = root / package
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "__init__.py").touch()
        text = _python_module(rng, int(package[3:]), int(module[1:]), python_modules[:400])
        (directory / f"{module}.py").write_text(text)
    for name in script_modules:
        package, module = name.split(".")
        directory = root / package
        directory.mkdir(parents=True, exist_ok=True)
        text = _script_module(rng, int(package[3:]), int(module[1:]), script_modules[:200])
        (directory / f"{module}.ts").write_text(text)
    docs = files - len(python_modules) - len(script_modules)
    (root / "docs").mkdir(exist_ok=True)
    for index in range(max(0, docs - 2)):
        words = " ".join(rng.choice(WORDS) for _ in range(300))
        (root / "docs" / f"note{index}.md").write_text(f"# Note {index}\n\n{words}\n")
    return root


# ------------------------------------------------------------------------------- requests


def source_files(index: WorkspaceIndex) -> list[Path]:
    """Files of the workspace (ignore rules applied) in a language the index parses."""
    return sorted(path for path in index.workspace.walk() if structure_language(None, path))


def call_sites(
    paths: list[Path], rng: random.Random, count: int, wanted: Callable[[str, Path], bool]
) -> list[tuple[Path, int]]:
    """(file, offset) pairs just after the `(` of calls `name(` for which `wanted` holds."""
    sites: list[tuple[Path, int]] = []
    candidates = list(paths)
    rng.shuffle(candidates)
    for path in candidates:
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        calls = [m for m in CALL.finditer(text) if wanted(m.group(1), path)]
        for match in rng.sample(calls, k=min(len(calls), 2)):
            sites.append((path, match.end()))
        if len(sites) >= count:
            break
    return sites[:count]


def defined_elsewhere(index: WorkspaceIndex) -> Callable[[str, Path], bool]:
    """Calls worth completing: names defined in 1-3 other files of the index."""

    def wanted(name: str, path: Path) -> bool:
        owners = {record.path for record, _ in index.definitions_named(name)}
        return 0 < len(owners) <= 3 and path not in owners

    return wanted


def make_request(path: Path, text: str, offset: int, open_docs: dict[Path, str]) -> ContextRequest:
    return ContextRequest(
        path=path,
        language=None,
        text=text,
        offset=offset,
        window_start=max(0, offset - WINDOW_BEFORE_CHARS),
        window_end=min(len(text), offset + WINDOW_AFTER_CHARS),
        open_documents={path: text, **open_docs},
    )


def summarise(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "requests": len(latencies_ms),
        "median_ms": round(statistics.median(latencies_ms), 3),
        "p90_ms": round(percentile(latencies_ms, 0.90), 3),
        "p99_ms": round(percentile(latencies_ms, 0.99), 3),
        "max_ms": round(max(latencies_ms), 3),
    }


def time_gathers(
    index: WorkspaceIndex, sites: int, keystrokes: int, seed: int
) -> tuple[list[float], list[float], float]:
    """Latencies (ms) of the first request at each site, of the keystrokes after it, and the
    mean number of snippets returned."""
    rng = random.Random(seed)
    recent = RecentEdits()
    files = source_files(index)
    open_docs = {path: path.read_text() for path in rng.sample(files, k=min(6, len(files)))}
    for path, text in open_docs.items():
        index.document_changed(path, text)
        recent.record(path, text, len(text) // 2)
    first: list[float] = []
    typing: list[float] = []
    snippet_counts: list[int] = []
    for path, offset in call_sites(files, rng, sites, defined_elsewhere(index)):
        text = path.read_text()
        index.document_changed(path, text)
        for typed in range(keystrokes + 1):
            edited = text[:offset] + "step"[:typed] + text[offset:]
            request = make_request(path, edited, offset + min(typed, 4), open_docs)
            started = time.perf_counter()
            snippets = gather(index, request, recent, BUDGET_TOKENS, count_tokens)
            elapsed = (time.perf_counter() - started) * 1000
            (first if typed == 0 else typing).append(elapsed)
            snippet_counts.append(len(snippets))
            recent.record(path, edited, offset)
    return first, typing, statistics.mean(snippet_counts) if snippet_counts else 0.0


# ----------------------------------------------------------------------------- benchmarks


def bench_gather(root: Path, sites: int, keystrokes: int) -> dict[str, Any]:
    index = WorkspaceIndex([root], RepoContextSettings())
    started = time.perf_counter()
    index.start()
    index.wait_ready()
    index_seconds = time.perf_counter() - started
    time_gathers(index, 10, 1, seed=99)
    TOKENIZER_CALLS[0] = 0
    first, typing, mean_snippets = time_gathers(index, sites, keystrokes, seed=1)
    tokenizer_calls = TOKENIZER_CALLS[0] / max(1, len(first) + len(typing))
    stats = index.stats
    index.close()
    return {
        "repo_files": stats.files,
        "parsed_files": stats.parsed_files,
        "definitions": stats.definitions,
        "index_seconds": round(index_seconds, 2),
        "budget_tokens": BUDGET_TOKENS,
        "mean_snippets": round(mean_snippets, 2),
        "tokenizer_calls_per_request": round(tokenizer_calls, 2),
        "gather_all": summarise(first + typing),
        "gather_new_site": summarise(first),
        "gather_keystroke": summarise(typing),
    }


def bench_indexing(root: Path) -> dict[str, Any]:
    gc.collect()
    rss_before = rss_bytes()
    index = WorkspaceIndex([root], RepoContextSettings())
    started = time.perf_counter()
    index.start()
    during: list[float] = []
    probe_sites = call_sites(
        source_files(index), random.Random(5), 40, lambda name, _: name.startswith("f_")
    )
    # Requests while the walk is running must be served from the partial index.
    while not index.walk_complete and probe_sites:
        path, offset = probe_sites[len(during) % len(probe_sites)]
        text = path.read_text()
        request = make_request(path, text, offset, {})
        tick = time.perf_counter()
        gather(index, request, RecentEdits(), BUDGET_TOKENS, count_tokens)
        during.append((time.perf_counter() - tick) * 1000)
        time.sleep(0.05)
    index.wait_ready()
    seconds = time.perf_counter() - started
    gc.collect()
    rss_after = rss_bytes()
    stats = index.stats
    index.close()
    del index
    gc.collect()

    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    traced = WorkspaceIndex([root], RepoContextSettings())
    traced.start()
    traced.wait_ready()
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    traced.close()
    return {
        "repo_files": stats.files,
        "parsed_files": stats.parsed_files,
        "definitions": stats.definitions,
        "index_seconds": round(seconds, 2),
        "files_per_second": round(stats.files / seconds, 1) if seconds else None,
        "index_retained_mb_tracemalloc": round((retained - baseline) / 2**20, 1),
        "index_peak_mb_tracemalloc": round((peak - baseline) / 2**20, 1),
        "rss_growth_mb": round((rss_after - rss_before) / 2**20, 1),
        "index_approx_mb_stats": round(stats.approx_bytes / 2**20, 1),
        "gather_during_indexing": summarise(during) if during else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="existing repository for the gather timing")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--index-files", type=int, default=10000)
    parser.add_argument("--sites", type=int, default=150)
    parser.add_argument("--keystrokes", type=int, default=4)
    parser.add_argument("--write", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)

    result: dict[str, Any] = {
        "benchmark": "context_speed",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "threads_alive": threading.active_count(),
        "tokenizer": "len(text)//3+1 (stand-in for the model tokenizer)",
    }
    with tempfile.TemporaryDirectory(prefix="sc2-context-bench-") as scratch:
        repo = (
            args.repo.resolve()
            if args.repo
            else write_repository(Path(scratch) / "small", args.files)
        )
        result["gather"] = bench_gather(repo, args.sites, args.keystrokes)
        if args.index_files > 0:
            large = write_repository(Path(scratch) / "large", args.index_files, seed=11)
            result["indexing"] = bench_indexing(large)
    line = json.dumps(result, indent=2)
    print(line)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
