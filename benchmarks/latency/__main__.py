"""Orchestration: run the replay (and a baseline commit's), the baselines, and write the report."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_name, portable_path
from benchmarks.latency import servers
from benchmarks.latency.baselines import engine_baselines, llama_server_baseline
from benchmarks.latency.layout import (
    FULL_MODEL,
    MAIN_FILE,
    N_BATCH,
    N_CTX,
    OPEN_TABS,
    QUICK_MODEL,
    RESULTS,
    ROOT,
    SESSION_ROOT,
    VOCAB,
    WORK,
    log,
)
from benchmarks.latency.records import Probe, attribute, read_probe
from benchmarks.latency.replay import Replay, ReplayLog
from benchmarks.latency.report import (
    compare,
    markdown,
    probe_for,
    prompt_stability,
    reanalyze,
    summarize,
    targets,
)
from benchmarks.latency.script import Step, build_script, count_keystrokes
from tools import llama_server

# -- orchestration -----------------------------------------------------------------------------


def ensure_quick_model(path: Path) -> Path:
    if path.exists():
        return path
    from tests.gguf_factory import load_vocab, write_starcoder2

    log(f"writing the quick model {path}")
    partial = path.with_name(path.name + ".partial")
    write_starcoder2(
        partial,
        vocab=load_vocab(VOCAB),
        n_embd=256,
        n_layer=4,
        n_head=4,
        n_head_kv=2,
        n_ff=1024,
        dtype="f16",
        name="starcoder2-quick-random",
    )
    partial.replace(path)
    return path


def init_options(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    return {
        "model": {"path": str(model), "nThreads": args.threads, "nCtx": N_CTX, "nGpuLayers": 0},
        "completion": {
            "debounceMs": args.debounce_ms,
            "maxTokensLine": args.max_tokens,
            "maxTokens": args.max_tokens,
            "cache": True,
            "prefetch": True,
            "maxPromptMs": args.max_prompt_ms,
        },
        "prompt": {
            **(
                {}
                if args.product_sizes
                else {
                    "maxPromptTokens": args.max_prompt_tokens,
                    "prefixTokens": args.prefix_tokens,
                    "suffixTokens": args.suffix_tokens,
                }
            ),
            "reuseChunks": True,
            "fimOrder": args.fim_order,
            "suffixLayout": args.suffix_layout,
        },
    }


FEATURE_SETTINGS = ("completion.cache", "completion.prefetch", "prompt.reuseChunks")


def git_state() -> dict[str, Any]:
    def run(*command: str) -> str:
        try:
            return subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "head": run("git", "rev-parse", "--short", "HEAD"),
        "dirty": [line for line in run("git", "status", "--short").splitlines() if line],
    }


@dataclass
class Replayed:
    server: servers.Server
    log: ReplayLog
    probe: Probe
    rows: list[dict[str, Any]]
    seconds: float


def replay(
    server: servers.Server, options: dict[str, Any], script: list[Step], seed: int
) -> Replayed:
    log(f"replaying {count_keystrokes(script)} keystrokes against {server.label}")
    started = time.monotonic()
    replay_log = asyncio.run(
        Replay(server.command, server.env, options, server.log, seed).run(script)
    )
    seconds = time.monotonic() - started
    probe = read_probe(server.probe)
    return Replayed(server, replay_log, probe, attribute(replay_log, probe), seconds)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small model, ~30 keystrokes")
    parser.add_argument("--model", type=Path, help="GGUF (default: the 3B-shaped random model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="think-time randomness")
    parser.add_argument("--debounce-ms", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--max-prompt-tokens", type=int, default=512)
    parser.add_argument("--prefix-tokens", type=int, default=192)
    parser.add_argument("--suffix-tokens", type=int, default=48)
    parser.add_argument(
        "--fim-order",
        choices=("psm", "spm"),
        default="psm",
        help="prompt.fimOrder: spm puts the prefix last, so typing only appends",
    )
    parser.add_argument(
        "--max-prompt-ms",
        type=int,
        default=0,
        help="completion.maxPromptMs (the product's default is 2000; 0 here keeps prompts whole)",
    )
    parser.add_argument(
        "--product-sizes",
        action="store_true",
        help="the product's prompt sizes (3072 / 1024 prefix / 256 suffix tokens) instead of a third",
    )
    parser.add_argument(
        "--suffix-layout",
        choices=("split", "inline"),
        default="split",
        help="prompt.suffixLayout: split (near suffix in FIM, far suffix before the file) or inline",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also replay the session against the server of this git commit, first, same run",
    )
    parser.add_argument(
        "--naive-samples", type=int, default=None, help="fresh-KV prompts to time (2; quick: 5)"
    )
    parser.add_argument(
        "--llama-server",
        default="auto",
        help="llama-server binary, 'auto' (the `make llama-server` cache, if built) or 'off'",
    )
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON path (default results/latency.json; quick: latency-quick.json)",
    )
    return parser.parse_args(argv)


def portable_status(status: dict[str, Any]) -> dict[str, Any]:
    """The server's final `sc2.status`, its model path as results may name it."""
    model = status.get("model")
    if isinstance(model, dict) and isinstance(model.get("path"), str):
        return {**status, "model": {**model, "path": portable_path(Path(model["path"]))}}
    return status


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--reanalyze"] and len(argv) in (2, 3):
        probe_file = Path(argv[2]) if len(argv) == 3 else probe_for(Path(argv[1]))
        return reanalyze(Path(argv[1]), probe_file)
    if argv[:1] == ["--render"] and len(argv) == 2:
        # Re-render the markdown table of an earlier run from its JSON.
        source = Path(argv[1])
        text = markdown(json.loads(source.read_text()))
        source.with_suffix(".md").write_text(text)
        print(text)
        return 0
    args = parse(argv)
    model = (
        args.model or (ensure_quick_model(QUICK_MODEL) if args.quick else FULL_MODEL)
    ).resolve()
    if not model.exists():
        raise SystemExit(f"{model} missing; build it with python -m benchmarks.make_model")
    naive_samples = (
        args.naive_samples if args.naive_samples is not None else (5 if args.quick else 2)
    )
    out_json = args.out or RESULTS / ("latency-quick.json" if args.quick else "latency.json")
    WORK.mkdir(parents=True, exist_ok=True)
    script = build_script(args.quick)
    options = init_options(args, model)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    load_before = os.getloadavg()[0]
    loads: dict[str, float] = {}
    base: Replayed | None = None
    if args.baseline:
        loads["baseline_start"] = round(os.getloadavg()[0], 2)
        base = replay(
            servers.baseline(args.baseline, model, out_json.stem), options, script, args.seed
        )
    loads["replay_start"] = round(os.getloadavg()[0], 2)
    run = replay(servers.ours(model, out_json.stem), options, script, args.seed)
    rows, probe, replay_log = run.rows, run.probe, run.log
    sequence = [probe.generations[r["generation"]] for r in rows if r["generation"] is not None]
    sequence.sort(key=lambda g: g["start"])
    log(f"replay done in {run.seconds:.0f}s: {len(sequence)} model-served requests; floor next")
    from sc2_lsp.engine.vocab import Tokenizer

    stability = prompt_stability(sequence, Tokenizer.load(model).single_token("<file_sep>"))
    loads["floor_start"] = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    baselines = engine_baselines(model, args.threads, sequence, naive_samples)
    baselines_s = time.monotonic() - started
    loads["baselines_end"] = round(os.getloadavg()[0], 2)
    server_result, server_status, server_s = run_llama_server(args, model, sequence)
    unknown = " ".join(replay_log.messages)
    features = {name: f"{name}: unknown setting" not in unknown for name in FEATURE_SETTINGS}
    summary = summarize(
        stability,
        rows,
        replay_log,
        probe,
        baselines,
        server_result if server_result and server_result["rows"] else None,
    )
    import llama_cpp

    report: dict[str, Any] = {
        "benchmark": "latency",
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python -m benchmarks.latency " + " ".join(argv),
        "model": {"name": model.name, "bytes": model.stat().st_size},
        "settings": {
            "threads": args.threads,
            "initialization_options": {
                **options,
                "model": {**options["model"], "path": model.name},
            },
            "n_ctx": N_CTX,
            "n_batch": N_BATCH,
        },
        "server_features": features,
        "probe_hooks": probe.hooks,
        "session": session_facts(script, args.seed, replay_log),
        "replay": {
            "started": replay_log.started,
            "finished": replay_log.finished,
            "pause_waits_s": [round(w, 3) for w in replay_log.pause_waits_s],
            "accepts": replay_log.accepts,
            "accepts_skipped": replay_log.accepts_skipped,
            "typed_along": replay_log.typed_along,
        },
        "summary": summary,
        "targets": targets(summary),
        "baseline": compare(
            base.server.label, base.rows, base.log.rss_mib, rows, replay_log.rss_mib, probe
        )
        if base is not None
        else None,
        "phases_s": {
            "baseline_replay": round(base.seconds, 1) if base else None,
            "replay": round(run.seconds, 1),
            "floor_and_naive": round(baselines_s, 1),
            "llama_server": round(server_s, 1),
        },
        "server_messages": replay_log.messages,
        "status_notifications": len(replay_log.statuses),
        "final_status": portable_status(replay_log.final_status),
        "requests": rows,
        "baselines": baselines,
        "llama_server": server_result,
        "llama_server_status": server_status,
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "llama_cpp_python": llama_cpp.__version__,
            "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "loadavg_1m_by_phase": loads,
        },
        "git": git_state(),
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(report, indent=1) + "\n")
    out_md = out_json.with_suffix(".md")
    out_md.write_text(markdown(report))
    print(markdown(report))
    log(f"wrote {out_json} and {out_md}")
    return 0 if summary["requests_unanswered"] == 0 else 1


def run_llama_server(
    args: argparse.Namespace, model: Path, sequence: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, str, float]:
    """The same prompts as /infill requests to llama-server, when one is built."""
    if args.llama_server == "off":
        return None, "off", 0.0
    binary = llama_server.binary() if args.llama_server == "auto" else Path(args.llama_server)
    if not binary.exists():
        log(f"no llama-server at {binary}: baseline skipped")
        return None, "skipped: no binary built", 0.0
    started = time.monotonic()
    try:
        result = llama_server_baseline(binary, model, args.threads, sequence, args.port)
        status = "ran"
    except (OSError, RuntimeError, urllib.error.URLError) as error:
        log(f"llama-server baseline failed: {error}")
        result, status = {"error": str(error), "rows": []}, f"failed: {error}"
    return result, status, time.monotonic() - started


def session_facts(script: list[Step], seed: int, replay_log: ReplayLog) -> dict[str, Any]:
    return {
        "root": str(SESSION_ROOT.relative_to(ROOT)),
        "file": MAIN_FILE,
        "open_tabs": list(OPEN_TABS),
        "neighbours": sorted(
            str(p.relative_to(SESSION_ROOT))
            for p in SESSION_ROOT.rglob("*.py")
            if str(p.relative_to(SESSION_ROOT)) != MAIN_FILE
        ),
        "script": [asdict(step) for step in script],
        "seed": seed,
        "final_text_lines": replay_log.final_text.count("\n") + 1,
    }


if __name__ == "__main__":
    raise SystemExit(main())
