"""The remote engine beside the local one: the same keystrokes through llama-server and here.

Owns the remote-engine budget (issue 15). Per keystroke, the prompt the server would build
(`benchmarks.engine_ipc.prompts`: the real `prompting.prepare` and vocabulary, a line typed
back into its place) is generated, one after the other, by

- **local**: `SupervisedEngine`, the model in an engine process of its own, and
- **remote**: `RemoteEngine` on llama-server (`make llama-server`), same GGUF, same threads, one
  slot per endpoint: llama-server's native `/completion` and its `/v1/completions`,

each with its own long-lived KV cache, the same 16 generated tokens. Reported: wall time per
keystroke from `generate` to its result (median, p90); prompt tokens evaluated per keystroke
(local: tokens not reused; remote: what llama-server reports in `timings.prompt_n`), which
says whether the server's prefix cache holds like ours (budget: ≤ 1.2×); and our overhead
over the HTTP round trip: the wall time minus the time spent waiting on the connection (the
server's work, the network and httpx's parsing), i.e. the thread hops, building the request
and reading the events (budget: ≤ 3 ms median). llama-server runs with `--poll 0` so its idle
threads do not spin while the local engine works on the same cores.

    python -m benchmarks.remote_engine                       # quick real-vocabulary model
    python -m benchmarks.remote_engine --model benchmarks/.models/sc2-3b-random-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import ROOT, cpu_name, percentile, portable_path
from benchmarks.engine_ipc import prompts

if TYPE_CHECKING:
    from sc2_lsp.config import EngineKind

RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / ".work"
QUICK_MODEL = ROOT / "benchmarks" / ".models" / "sc2-quick-random-f16.gguf"
ENDPOINTS: dict[str, tuple[EngineKind, int]] = {"native": ("llama-server", 0), "v1": ("openai", 1)}
"""Endpoint → (engine.kind, llama-server slot)."""


def start_server(model: Path, threads: int, port: int, log: Path) -> subprocess.Popen[bytes]:
    from tools import llama_server

    binary = llama_server.built()
    if binary is None:
        raise SystemExit("llama-server is not built: run `make llama-server`")
    command = [
        str(binary), "-m", str(model), "-c", str(4096 * len(ENDPOINTS)), "-np",
        str(len(ENDPOINTS)), "-t", str(threads), "-tb", str(threads), "-ngl", "0", "--poll", "0",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"llama-server did not start; see {log}")
        time.sleep(0.2)


def run(args: argparse.Namespace, model: Path, stream: Sequence[list[int]]) -> dict[str, Any]:
    from sc2_lsp.config import EngineSettings
    from sc2_lsp.engine import CancelToken, GenerationParams, LoadOptions
    from sc2_lsp.engine.backends import Hooks, make_engine
    from sc2_lsp.trace import Trace

    WORK.mkdir(parents=True, exist_ok=True)
    server = start_server(model, args.threads, args.port, WORK / "remote_engine-server.log")
    traces = {name: WORK / f"remote_engine-{name}.jsonl" for name in ENDPOINTS}
    engines: dict[str, Any] = {"local": make_engine(EngineSettings())}
    for name, (kind, slot) in ENDPOINTS.items():
        traces[name].unlink(missing_ok=True)
        settings = EngineSettings(kind=kind, url=f"http://127.0.0.1:{args.port}", slot=slot)
        engines[name] = make_engine(settings, Hooks(trace=Trace(traces[name])))
    options = LoadOptions(model, n_ctx=4096, n_threads=args.threads, n_gpu_layers=0)
    rows: list[dict[str, Any]] = []
    try:
        for engine in engines.values():
            engine.load(options).result()
        params = GenerationParams(max_tokens=args.max_tokens, stop_ids=frozenset())
        for index, prompt in enumerate(stream):
            row: dict[str, Any] = {"keystroke": index + 1, "prompt_tokens": len(prompt)}
            for name, engine in engines.items():
                started = time.perf_counter()
                generation = engine.generate(prompt, params, CancelToken()).result()
                row[f"{name}_ms"] = (time.perf_counter() - started) * 1000
                row[f"{name}_tokens"] = generation.tokens
                row[f"{name}_evaluated"] = generation.n_evaluated
            rows.append(row)
            print(
                f"[remote] {index + 1}/{len(stream)}: "
                + ", ".join(f"{name} {row[f'{name}_ms']:.0f} ms" for name in engines),
                flush=True,
            )
    finally:
        for engine in engines.values():
            engine.close()
        server.terminate()
        server.wait(30)
    for name in ENDPOINTS:
        jobs = [json.loads(line) for line in traces[name].read_text().splitlines()]
        for row, job in zip(rows, jobs, strict=True):
            row[f"{name}_evaluated"] = job["server_evaluated"]
            row[f"{name}_http_ms"] = job["http_wait_ms"]
            row[f"{name}_overhead_ms"] = row[f"{name}_ms"] - job["http_wait_ms"]
    return summarize(args, model, rows)


def summarize(args: argparse.Namespace, model: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def dist(values: Sequence[float]) -> dict[str, float]:
        return {
            "median": round(statistics.median(values), 2),
            "p90": round(percentile(values, 0.9), 2),
        }

    later = rows[1:]  # the first keystroke evaluates the whole prompt on every side
    local_evaluated = sum(row["local_evaluated"] for row in later)
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{cpu_name()} ({os.cpu_count()} cores)",
        "model": portable_path(model),
        "model_bytes": model.stat().st_size,
        "threads": args.threads,
        "keystrokes": len(rows),
        "max_tokens": args.max_tokens,
        "max_prompt_tokens": args.max_prompt_tokens,
        "latency_ms": {"local": dist([row["local_ms"] for row in later])},
        "evaluated_per_keystroke": {"local": dist([row["local_evaluated"] for row in later])},
    }
    for name in ENDPOINTS:
        evaluated = sum(row[f"{name}_evaluated"] for row in later)
        report["latency_ms"][name] = dist([row[f"{name}_ms"] for row in later])
        report["evaluated_per_keystroke"][name] = dist([row[f"{name}_evaluated"] for row in later])
        report[f"{name}_evaluated_over_local"] = round(evaluated / max(local_evaluated, 1), 3)
        report[f"{name}_http_ms"] = dist([row[f"{name}_http_ms"] for row in rows])
        report[f"{name}_overhead_ms"] = dist([row[f"{name}_overhead_ms"] for row in rows])
        same = sum(row[f"{name}_tokens"] == row["local_tokens"] for row in rows)
        report[f"{name}_same_tokens"] = f"{same}/{len(rows)}"
    for row in rows:
        for name in ("local", *ENDPOINTS):
            del row[f"{name}_tokens"]
    report["rows"] = rows
    return report


def markdown(report: dict[str, Any]) -> str:
    latency, evaluated = report["latency_ms"], report["evaluated_per_keystroke"]
    sizes = [row["prompt_tokens"] for row in report["rows"]]
    lines = [
        f"# Remote engine (llama-server) beside the local engine ({Path(report['model']).name})",
        "",
        f"{report['date']} · {report['machine']} · {report['threads']} threads · "
        f"{report['keystrokes']} keystrokes typed back into `text_document.py` (prompts of "
        f"{min(sizes)}-{max(sizes)} tokens), {report['max_tokens']} tokens generated each; "
        "medians and p90 over the keystrokes after the first (the first evaluates the whole "
        "prompt everywhere)",
        "",
        "| engine | keystroke, median (p90) ms | prompt tokens evaluated per keystroke, median "
        "(p90) | evaluated / local | overhead over HTTP, median (p90) ms | same tokens as local |",
        "|---|---:|---:|---:|---:|---:|",
        f"| local (engine process) | {latency['local']['median']} ({latency['local']['p90']}) | "
        f"{evaluated['local']['median']} ({evaluated['local']['p90']}) | 1 | – | – |",
    ]
    for name, label in (
        ("native", "llama-server `/completion`"),
        ("v1", "llama-server `/v1/completions`"),
    ):
        overhead = report[f"{name}_overhead_ms"]
        lines.append(
            f"| {label} | {latency[name]['median']} ({latency[name]['p90']}) | "
            f"{evaluated[name]['median']} ({evaluated[name]['p90']}) | "
            f"{report[f'{name}_evaluated_over_local']} | {overhead['median']} ({overhead['p90']}) | "
            f"{report[f'{name}_same_tokens']} |"
        )
    lines += [
        "",
        "Budgets: evaluated / local ≤ 1.2 (the server's prefix cache holds like ours); "
        "overhead over the HTTP round trip ≤ 3 ms median.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", type=Path, help="GGUF (default: the quick real-vocab model)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keystrokes", type=int, default=48)
    parser.add_argument("--max-prompt-tokens", type=int, default=3072)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--write", type=Path, default=RESULTS / "remote_engine.json")
    args = parser.parse_args(argv)
    if args.model is None:
        from benchmarks.latency.__main__ import ensure_quick_model

        args.model = ensure_quick_model(QUICK_MODEL)
    model = args.model.resolve()
    report = run(args, model, prompts(model, args.keystrokes, args.max_prompt_tokens))
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(json.dumps(report, indent=1) + "\n")
    args.write.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
