"""Raw llama.cpp speed for a GGUF on this machine: load time, prompt eval, generation.

Owns: the engine-level speed benchmark (no LSP, no prompt building). Each run loads the
model fresh, evaluates a fixed pseudo-random prompt in one batch, then generates greedily
token by token through llama-cpp-python's sampler; the JSON line printed holds the medians
over ``--runs`` runs plus the raw numbers.

    python -m benchmarks.engine_speed [--model benchmarks/.models/sc2-3b-random-q4_k_m.gguf]
        [--threads 2] [--write benchmarks/results/engine_speed.json]

On a machine whose cores are shared with other work, set ``OMP_WAIT_POLICY=passive``
(before Python starts) to stop OpenMP worker threads from spinning; it is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from benchmarks.common import cpu_name

ROOT = Path(__file__).resolve().parents[1]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "benchmarks" / ".models" / "sc2-3b-random-q4_k_m.gguf"
N_SPECIALS = 38  # never feed control tokens: keep the prompt ordinary text


def one_run(
    model: Path, prompt_tokens: int, gen_tokens: int, n_threads: int, n_batch: int
) -> dict[str, float]:
    started = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=prompt_tokens + gen_tokens + 16,
        n_batch=n_batch,
        n_ubatch=n_batch,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
    )
    load_s = time.perf_counter() - started

    rng = np.random.default_rng(0)
    prompt = rng.integers(N_SPECIALS, llm.n_vocab(), size=prompt_tokens).tolist()
    started = time.perf_counter()
    llm.eval(prompt)
    prompt_s = time.perf_counter() - started

    started = time.perf_counter()
    for _ in range(gen_tokens):
        token = llm.sample(top_k=1, temp=0.0)
        llm.eval([token])
    gen_s = time.perf_counter() - started
    llm.close()
    return {
        "load_s": load_s,
        "prompt_s": prompt_s,
        "prompt_tok_s": prompt_tokens / prompt_s,
        "gen_s": gen_s,
        "gen_tok_s": gen_tokens / gen_s,
    }


def measure(
    model: Path, runs: int, prompt_tokens: int, gen_tokens: int, n_threads: int, n_batch: int
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    raw = []
    for i in range(runs):
        result = one_run(model, prompt_tokens, gen_tokens, n_threads, n_batch)
        print(f"[engine_speed] run {i + 1}/{runs}: {json.dumps(result)}", file=sys.stderr)
        raw.append(result)
    medians = {key: round(statistics.median(r[key] for r in raw), 3) for key in raw[0]}
    return {
        "benchmark": "engine_speed",
        "model": model.name,
        "model_bytes": model.stat().st_size,
        "n_threads": n_threads,
        "n_batch": n_batch,
        "prompt_tokens": prompt_tokens,
        "gen_tokens": gen_tokens,
        "runs": runs,
        **medians,
        "raw": [{k: round(v, 3) for k, v in r.items()} for r in raw],
        "llama_cpp_python": llama_cpp.__version__,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        # llama.cpp is built with OpenMP; its spin-waiting matters when cores are shared.
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        # Other work on the machine skews these numbers: record how busy it was (before, after).
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def append_result(path: Path, result: dict[str, Any]) -> None:
    """Keep every configuration measured: the file holds a JSON list of result objects."""
    results = json.loads(path.read_text()) if path.exists() else []
    results.append(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--write", type=Path, default=None, help="append the result to this file")
    args = parser.parse_args(argv)
    if not args.model.exists():
        parser.error(f"{args.model} missing; build it with python -m benchmarks.make_model")
    result = measure(
        args.model, args.runs, args.prompt_tokens, args.gen_tokens, args.threads, args.batch
    )
    line = json.dumps(result)
    print(line)
    if args.write is not None:
        append_result(args.write, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
