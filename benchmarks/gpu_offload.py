"""GPU offload check and speed: the product's engine with all layers on the GPU versus the CPU.

Owns the one device benchmark. Loads a GGUF through `sc2_lsp.engine.llama.LlamaModel` — the
path the server uses — once with `nGpuLayers=-1` (the default: all layers when the llama.cpp
build has a GPU backend) and once with 0, and for each measures load time, prompt evaluation
of a cold prompt, generation, and a keystroke-like re-evaluation that reuses the KV cache.
Prints one JSON object (medians of `--runs`).

    python -m benchmarks.gpu_offload --model benchmarks/.models/sc2-3b-random-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from sc2_lsp.engine import CancelToken, GenerationParams, LoadOptions
from sc2_lsp.engine.llama import LlamaModel, gpu_offload_supported, system_info

ROOT = Path(__file__).resolve().parents[1]

CODE = (
    "def fibonacci(n):\n    if n < 2:\n        return n\n"
    "    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\n"
    "class Account:\n    def __init__(self, owner, balance=0):\n"
    "        self.owner = owner\n        self.balance = balance\n\n"
)


def measure(
    model_path: Path, gpu_layers: int, prompt_tokens: int, gen_tokens: int, runs: int
) -> dict[str, Any]:
    rows: list[dict[str, float]] = []
    info: dict[str, Any] = {}
    for _ in range(runs):
        started = time.perf_counter()
        model = LlamaModel(
            LoadOptions(
                model_path, n_ctx=4096, n_threads=os.cpu_count() or 2, n_gpu_layers=gpu_layers
            )
        )
        load_s = time.perf_counter() - started
        info = {
            "n_gpu_layers_effective": model.info.n_gpu_layers,
            "warnings": list(model.info.warnings),
        }
        tokens = (model.tokenizer.tokenize(CODE) * (prompt_tokens // 10 + 1))[:prompt_tokens]
        params = GenerationParams(max_tokens=gen_tokens)
        cold = model.generate(tokens, params, CancelToken())
        # A keystroke: the same prompt plus a few new tokens at the end reuses the KV cache.
        warm = model.generate(
            [*tokens, *model.tokenizer.tokenize("x = ")],
            GenerationParams(max_tokens=8),
            CancelToken(),
        )
        model.close()
        rows.append(
            {
                "load_s": load_s,
                "prompt_tok_s": len(tokens) / cold.prompt_seconds,
                "gen_tok_s": max(len(cold.tokens) - 1, 1) / max(cold.generate_seconds, 1e-9),
                "keystroke_first_token_ms": warm.prompt_seconds * 1000,
                "keystroke_reused_tokens": warm.n_reused,
            }
        )
    medians = {key: round(statistics.median(row[key] for row in rows), 3) for key in rows[0]}
    return {"n_gpu_layers": gpu_layers, **info, **medians, "runs": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--prompt-tokens", type=int, default=2048)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu-runs", type=int, default=1)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "benchmark": "gpu_offload",
        "model": args.model.name,
        "gpu_offload_supported": gpu_offload_supported(),
        "system_info": system_info(),
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "gpu": measure(args.model, -1, args.prompt_tokens, args.gen_tokens, args.runs),
        "cpu": measure(args.model, 0, args.prompt_tokens, args.gen_tokens, args.cpu_runs),
    }
    gpu, cpu = result["gpu"], result["cpu"]
    result["speedup_prompt"] = round(gpu["prompt_tok_s"] / cpu["prompt_tok_s"], 1)
    result["speedup_gen"] = round(gpu["gen_tok_s"] / cpu["gen_tok_s"], 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
