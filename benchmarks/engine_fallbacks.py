"""What each known-fault fallback costs: prompt and generation speed per `Safety`, same run.

Owns the AMX fallback measurement (engine-process issue). Each configuration loads the model
in its own engine process (`SupervisedEngine`, exactly as the server does), reports which
llama.cpp buffer types hold the weights, and measures a from-scratch prompt evaluation and
greedy generation `--runs` times; configurations alternate run by run so machine drift hits
them alike. Medians and their ratio to the default are written as JSON and Markdown.

    python benchmarks/engine_fallbacks.py --model benchmarks/.models/sc2-3b-random-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

from sc2_lsp.engine import CancelToken, GenerationParams, LoadOptions, Safety  # noqa: E402
from sc2_lsp.engine.supervisor import SupervisedEngine  # noqa: E402

CONFIGS = {
    "default (repacking, AMX where present)": Safety(),
    "AMX refused (seccomp), repacking kept": Safety(amx=False),
    "no extra buffers (no AMX, no repacking)": Safety(amx=False, extra_buffers=False),
}
TEXT = (
    "def fibonacci(n):\n    if n < 2:\n        return n\n"
    "    return fibonacci(n - 1) + fibonacci(n - 2)\n"
) * 40


def measure(
    engine: SupervisedEngine, run: int, prompt_tokens: int, gen_tokens: int
) -> dict[str, float]:
    tokenizer = engine.tokenizer
    assert tokenizer is not None
    # A different first token every run: nothing of the previous prompt's KV can be reused.
    prompt = [100 + run, *tokenizer.tokenize(TEXT)[: prompt_tokens - 1]]
    params = GenerationParams(max_tokens=gen_tokens, temperature=0.0, stop_ids=frozenset())
    generation = engine.generate(prompt, params, CancelToken()).result()
    assert generation.n_reused == 0 and generation.stop_reason == "max_tokens", generation
    return {
        "prompt_tok_s": len(prompt) / generation.prompt_seconds,
        "gen_tok_s": (len(generation.tokens) - 1) / generation.generate_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument("--write", type=Path, default=RESULTS / "engine_fallbacks.json")
    args = parser.parse_args(argv)
    engines: dict[str, SupervisedEngine] = {}
    buffers: dict[str, list[str]] = {}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    try:
        for name, safety in CONFIGS.items():
            engine = SupervisedEngine()
            options = LoadOptions(
                args.model,
                n_ctx=2048,
                n_threads=args.threads,
                n_gpu_layers=0,
                safety=safety,
                fallbacks=False,
            )
            info = engine.load(options).result()
            engines[name], buffers[name] = engine, list(info.weight_buffers)
            print(
                f"[fallbacks] {name}: weights in {', '.join(info.weight_buffers)}", file=sys.stderr
            )
        for run in range(args.runs):
            for name, engine in engines.items():  # alternate: drift hits every config alike
                samples[name].append(measure(engine, run, args.prompt_tokens, args.gen_tokens))
            print(f"[fallbacks] run {run + 1}/{args.runs} done", file=sys.stderr)
    finally:
        for engine in engines.values():
            engine.close()
    baseline = next(iter(CONFIGS))
    medians = {
        name: {
            key: statistics.median(s[key] for s in runs) for key in ("prompt_tok_s", "gen_tok_s")
        }
        for name, runs in samples.items()
    }
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{_cpu_name()} ({os.cpu_count()} cores)",
        "model": args.model.name,
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "runs": args.runs,
        "configs": {
            name: {
                "safety": asdict(CONFIGS[name]),
                "weight_buffers": buffers[name],
                "median": medians[name],
                "vs_default": {
                    key: round(medians[name][key] / medians[baseline][key], 3)
                    for key in medians[name]
                },
                "samples": samples[name],
            }
            for name in CONFIGS
        },
    }
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(json.dumps(report, indent=1) + "\n")
    args.write.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Engine fallbacks: what each costs ({report['model']})",
        "",
        f"{report['date']} · {report['machine']} · {report['threads']} threads · "
        f"{report['prompt_tokens']}-token prompt from scratch, {report['gen_tokens']} tokens "
        f"generated · median of {report['runs']} alternating runs",
        "",
        "| configuration | weights in | prompt tok/s | generation tok/s | prompt vs default | generation vs default |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, config in report["configs"].items():
        median, ratio = config["median"], config["vs_default"]
        lines.append(
            f"| {name} | {', '.join(config['weight_buffers'])} | {median['prompt_tok_s']:.1f} | "
            f"{median['gen_tok_s']:.2f} | {ratio['prompt_tok_s']:.2f} | {ratio['gen_tok_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    raise SystemExit(main())
