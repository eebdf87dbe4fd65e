"""The engine process against the in-process engine it replaced: same keystrokes, same run.

Owns the engine-process latency budget: per keystroke, the prompt the server would build
(`prompting.prepare`, real vocabulary, PSM with the default 256 suffix tokens budget scaled to
the model) is generated with

- **in-process**: the engine of `--baseline` (default: the last commit before the engine
  process), i.e. `EngineWorker` + `LlamaModel` on a thread, imported from a git worktree of
  that commit in a driver process of its own, and
- **engine process**: today's `SupervisedEngine` (the model in a child process),

one after the other for each keystroke, each with its own long-lived KV cache. Reported:
per-keystroke wall time from submit to result on each side, and for the engine process the IPC
cost of a request (server-side wall time minus the engine process's own time on the job) and
of each streamed token (the engine's time sending it, which is all streaming adds to its work;
and, apart, how long a token takes to reach the server), medians; plus the resident memory of
the process holding the engine handle (in-process: the weights are in it; engine process: only
the vocabulary).

    python benchmarks/engine_ipc.py --model benchmarks/.models/sc2-3b-random-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / ".work"
SESSION = ROOT / "benchmarks" / "latency_session" / "pygls" / "workspace" / "text_document.py"
BASELINE = "58c125e"  # the last commit with the engine on a thread of the server
TYPED = "        return tuple(self.source.splitlines(True))"

# The in-process side: a driver that imports the baseline's engine and times each request.
DRIVER = r"""
import json, sys, time
from pathlib import Path
from sc2_lsp.engine import CancelToken, GenerationParams, LoadOptions
from sc2_lsp.engine.worker import EngineWorker
worker = EngineWorker()
model, threads, n_ctx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
worker.load(LoadOptions(Path(model), n_ctx=n_ctx, n_threads=threads, n_gpu_layers=0)).result()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    params = GenerationParams(max_tokens=job["max_tokens"], stop_ids=frozenset())
    started = time.monotonic()
    result = worker.generate(job["prompt"], params, CancelToken()).result()
    wall = time.monotonic() - started
    rss = int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
    print(json.dumps({"wall": wall, "tokens": result.tokens, "reused": result.n_reused,
                      "rss_kib": rss}), flush=True)
"""


def prompts(model: Path, keystrokes: int, max_prompt: int, healing: bool = True) -> list[list[int]]:
    """The server's prompts while `TYPED` is typed back into its place, one per keystroke
    (`healing`: as for the local engine; remote engines get them unhealed)."""
    from sc2_lsp.config import resolve
    from sc2_lsp.documents import Snapshot, cursor_at
    from sc2_lsp.engine.vocab import Tokenizer
    from sc2_lsp.prompting import Request, prepare

    tokenizer = Tokenizer.load(model)
    template = tokenizer.template()
    settings, _ = resolve({"prompt": {"maxPromptTokens": max_prompt, "tokenHealing": healing}})
    original = SESSION.read_text(encoding="utf-8")
    at = original.index(TYPED)
    removed = original[:at] + original[at + len(TYPED) :]
    out: list[list[int]] = []
    keep: int | None = None
    for typed in range(1, min(keystrokes, len(TYPED)) + 1):
        text = removed[:at] + TYPED[:typed] + removed[at:]
        offset = at + typed
        line = text.count("\n", 0, offset)
        cursor = cursor_at(text, line, offset - (text.rfind("\n", 0, offset) + 1), "utf-32")
        request = Request(Snapshot(SESSION.as_uri(), typed, "python", text), cursor, SESSION.parent)
        request = replace(request, trigger="invoked", keep_start=keep)
        prepared = prepare(request, settings, tokenizer, template, 4096)
        assert prepared is not None
        keep = prepared.window[0]
        out.append(list(prepared.prompt.tokens))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the in-process engine")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keystrokes", type=int, default=24)
    parser.add_argument("--max-prompt-tokens", type=int, default=512)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--write", type=Path, default=RESULTS / "engine_ipc.json")
    args = parser.parse_args(argv)
    model = args.model.resolve()
    stream = prompts(model, args.keystrokes, args.max_prompt_tokens)
    tree = worktree(args.baseline)
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(model), str(args.threads), "4096"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree), "OMP_WAIT_POLICY": "PASSIVE"},
        cwd=tree,
    )
    assert driver.stdout is not None and driver.stdin is not None
    assert json.loads(driver.stdout.readline())["ready"]
    from sc2_lsp.engine import CancelToken, GenerationParams, LoadOptions
    from sc2_lsp.engine.supervisor import SupervisedEngine
    from sc2_lsp.trace import Trace

    trace_path = WORK / "engine_ipc-trace.jsonl"
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    trace_path.unlink(missing_ok=True)
    engine = SupervisedEngine(trace=Trace(trace_path))
    options = LoadOptions(model, n_ctx=4096, n_threads=args.threads, n_gpu_layers=0)
    engine.load(options).result()
    rows: list[dict[str, Any]] = []
    try:
        for index, prompt in enumerate(stream):
            driver.stdin.write(json.dumps({"prompt": prompt, "max_tokens": args.max_tokens}) + "\n")
            driver.stdin.flush()
            old = json.loads(driver.stdout.readline())
            params = GenerationParams(max_tokens=args.max_tokens, stop_ids=frozenset())
            streamed: list[int] = []  # tokens are streamed, as a streaming consumer gets them
            started = time.monotonic()
            new = engine.generate(prompt, params, CancelToken(), on_token=streamed.append).result()
            wall = time.monotonic() - started
            assert new.tokens == old["tokens"] == streamed, f"keystroke {index}: they disagree"
            rows.append(
                {
                    "keystroke": index + 1,
                    "prompt_tokens": len(prompt),
                    "evaluated": len(prompt) - new.n_reused,
                    "in_process_ms": old["wall"] * 1000,
                    "engine_process_ms": wall * 1000,
                    "in_process_rss_kib": old["rss_kib"],
                }
            )
            print(
                f"[ipc] {index + 1}/{len(stream)}: {old['wall']:.3f}s vs {wall:.3f}s",
                file=sys.stderr,
            )
        server_rss = _rss(os.getpid())
        engine_rss = _rss(engine.health.pid or 0)
    finally:
        engine.close()
        driver.stdin.close()
        driver.wait(30)
    jobs = [json.loads(line) for line in trace_path.read_text().splitlines()]
    generations = [job for job in jobs if job.get("name") == "generate"]
    report = summarize(args, model, rows, generations, server_rss, engine_rss)
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(json.dumps(report, indent=1) + "\n")
    args.write.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


def summarize(
    args: argparse.Namespace,
    model: Path,
    rows: list[dict[str, Any]],
    generations: list[dict[str, Any]],
    server_rss: int,
    engine_rss: int,
) -> dict[str, Any]:
    old = statistics.median(row["in_process_ms"] for row in rows)
    new = statistics.median(row["engine_process_ms"] for row in rows)
    hops = [hop for job in generations for hop in job["hop_ms"]]
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{_cpu_name()} ({os.cpu_count()} cores)",
        "model": model.name,
        "model_bytes": model.stat().st_size,
        "baseline": args.baseline,
        "threads": args.threads,
        "keystrokes": len(rows),
        "max_tokens": args.max_tokens,
        "median_ms": {"in_process": round(old, 1), "engine_process": round(new, 1)},
        "engine_process_over_in_process": round(new / old, 3),
        "per_keystroke_ratio_median": round(
            statistics.median(r["engine_process_ms"] / r["in_process_ms"] for r in rows), 3
        ),
        "ipc_ms_per_request": {
            "median": round(statistics.median(job["ipc_ms"] for job in generations), 3),
            "max": round(max(job["ipc_ms"] for job in generations), 3),
        },
        "ipc_ms_per_token": {
            "median": round(
                statistics.median(job["send_ms"] / len(job["hop_ms"]) for job in generations), 4
            ),
            "max": round(max(job["send_ms"] / len(job["hop_ms"]) for job in generations), 4),
        },
        "token_delivery_ms": {
            "median": round(statistics.median(hops), 3),
            "p90": round(statistics.quantiles(hops, n=10)[-1], 3),
            "tokens": len(hops),
        },
        "rss_mib": {
            "in_process_server_side": round(max(r["in_process_rss_kib"] for r in rows) / 1024, 1),
            "engine_process_server_side": round(server_rss / 1024, 1),
            "engine_process_itself": round(engine_rss / 1024, 1),
        },
        "rows": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    median, ipc, hop, rss = (
        report["median_ms"],
        report["ipc_ms_per_request"],
        report["ipc_ms_per_token"],
        report["rss_mib"],
    )
    delivery = report["token_delivery_ms"]
    return "\n".join(
        [
            f"# Engine process vs in-process engine ({report['model']})",
            "",
            f"{report['date']} · {report['machine']} · {report['threads']} threads · "
            f"{report['keystrokes']} keystrokes typed back into `{SESSION.name}`, "
            f"{report['max_tokens']} tokens generated each · in-process engine of "
            f"`{report['baseline']}`",
            "",
            "| measure | value | budget |",
            "|---|---:|---|",
            f"| keystroke, median: in-process / engine process (ms) | {median['in_process']} / "
            f"{median['engine_process']} | |",
            f"| engine process / in-process, median | {report['engine_process_over_in_process']} "
            f"| ≤ 1.05 |",
            f"| same, median of per-keystroke ratios | {report['per_keystroke_ratio_median']} | |",
            f"| IPC per request, median (max) (ms) | {ipc['median']} ({ipc['max']}) | ≤ 2 |",
            f"| IPC per generated token: the engine's time sending it, median (max) (ms) | "
            f"{hop['median']} ({hop['max']}) | ≤ 0.2 |",
            f"| a streamed token's delivery, engine send → server receipt, median (p90) (ms) | "
            f"{delivery['median']} ({delivery['p90']}) | |",
            f"| RSS of the server side: in-process / engine process (MiB) | "
            f"{rss['in_process_server_side']} / {rss['engine_process_server_side']} | weights out |",
            f"| RSS of the engine process (MiB) | {rss['engine_process_itself']} | |",
            "",
        ]
    )


def worktree(ref: str) -> Path:
    """The `sc2_lsp` package of `ref`, extracted under benchmarks/.work (once, then reused)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    path = WORK / f"baseline-{sha}"
    if not (path / "sc2_lsp").is_dir():
        path.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "sc2_lsp"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(path)], input=archive.stdout, check=True)
    return path


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
