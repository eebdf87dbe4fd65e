"""The in-process baselines (the ideal floor and naive) and llama-server replaying the same prompts."""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import portable_path
from benchmarks.latency.layout import (
    ANSWER_TIMEOUT_S,
    N_BATCH,
    N_CTX,
    WORK,
    log,
)
from benchmarks.latency.records import yielded
from sc2_lsp.engine import common_prefix

# -- in-process baselines: ideal floor and naive ----------------------------------------------


@dataclass
class EngineRun:
    total_ms: float
    prompt_ms: float
    evaluated: int
    tokens: list[int]


def run_generation(llm: Any, prompt: Sequence[int], n_yield: int, fresh: bool) -> EngineRun:
    """Same llama-cpp-python call the server makes, stopped after the same number of tokens."""
    if fresh:
        llm.reset()
    cached = list(llm._input_ids[: llm.n_tokens])
    reused = common_prefix(cached, prompt)
    if reused == len(prompt):
        reused -= 1  # llama-cpp-python replays one token to refresh the logits
    started = time.perf_counter()
    first: float | None = None
    tokens: list[int] = []
    for token in llm.generate(
        list(prompt), top_k=40, top_p=0.95, min_p=0.0, temp=0.0, repeat_penalty=1.0
    ):
        if first is None:
            first = time.perf_counter()
        tokens.append(int(token))
        if len(tokens) >= max(1, n_yield):
            break
    finished = time.perf_counter()
    return EngineRun(
        total_ms=(finished - started) * 1000,
        prompt_ms=((first or finished) - started) * 1000,
        evaluated=len(prompt) - max(0, reused),
        tokens=tokens,
    )


def engine_baselines(
    model: Path,
    threads: int,
    sequence: Sequence[dict[str, Any]],
    naive_samples: int,
) -> dict[str, Any]:
    """Ideal floor for every prompt in `sequence` (in order), then naive on a sample."""
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=N_CTX,
        n_batch=N_BATCH,
        n_threads=threads,
        n_gpu_layers=0,
        verbose=False,
        seed=0,
    )
    floor: list[dict[str, Any]] = []
    mismatched = 0
    for index, generation in enumerate(sequence):
        run = run_generation(llm, generation["prompt"], yielded(generation), fresh=False)
        expected = generation["tokens"][: len(run.tokens)]
        if run.tokens[: len(expected)] != expected:
            mismatched += 1
        floor.append(
            {
                "total_ms": round(run.total_ms, 2),
                "prompt_ms": round(run.prompt_ms, 2),
                "gen_ms": round(run.total_ms - run.prompt_ms, 2),
                "evaluated": run.evaluated,
                "generated": len(run.tokens),
            }
        )
        log(
            f"floor {index + 1}/{len(sequence)}: {run.evaluated} new tokens, "
            f"{len(run.tokens)} generated, {run.total_ms:.0f} ms"
        )
    physical = physical_floor(llm, sequence)
    # Naive: skip the cold first prompt (it already is a fresh evaluation) and spread the rest.
    candidates = list(range(1, len(sequence))) or [0]
    step = max(1, len(candidates) // max(1, naive_samples))
    picked = candidates[::step][:naive_samples]
    naive: dict[int, dict[str, Any]] = {}
    for index in picked:
        generation = sequence[index]
        run = run_generation(llm, generation["prompt"], yielded(generation), fresh=True)
        naive[index] = {
            "total_ms": round(run.total_ms, 2),
            "prompt_ms": round(run.prompt_ms, 2),
            "evaluated": run.evaluated,
        }
        log(f"naive sample {index}: {run.evaluated} tokens, {run.total_ms:.0f} ms")
    llm.close()
    per_token = [naive[i]["prompt_ms"] / max(1, naive[i]["evaluated"]) for i in naive]
    if sequence:
        per_token.append(floor[0]["prompt_ms"] / max(1, floor[0]["evaluated"]))
    ms_per_token = statistics.median(per_token) if per_token else float("nan")
    naive_rows = []
    for index, generation in enumerate(sequence):
        estimate = len(generation["prompt"]) * ms_per_token + floor[index]["gen_ms"]
        measured = naive.get(index, {}).get("total_ms")
        if index == 0:
            measured = floor[0]["total_ms"]
        naive_rows.append(
            {
                "total_ms": round(measured if measured is not None else estimate, 2),
                "measured": measured is not None,
                "estimate_ms": round(estimate, 2),
                "evaluated": len(generation["prompt"]),
            }
        )
    return {
        "floor": floor,
        "physical": physical,
        "naive": naive_rows,
        "naive_measured": sorted(naive),
        "naive_ms_per_prompt_token": round(ms_per_token, 3),
        "floor_token_mismatches": mismatched,
    }


def physical_floor(llm: Any, sequence: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the hardware allows per request: evaluate only what is new since the previous one,
    then generate the same number of tokens.

    Each prompt is cut before its `<fim_suffix>` (repository context and file prefix, the text
    up to the cursor), and the cuts are replayed in order reusing the longest common prefix:
    a keystroke costs its own new tokens and nothing after the cursor.
    """
    llm.reset()
    suffix_marker = llm.tokenize(b"<fim_suffix>", add_bos=False, special=True)
    marker = suffix_marker[0] if len(suffix_marker) == 1 else None
    rows = []
    for index, generation in enumerate(sequence):
        prompt = list(generation["prompt"])
        cut = prompt[: prompt.index(marker)] if marker in prompt else prompt
        run = run_generation(llm, cut, yielded(generation), fresh=False)
        rows.append(
            {
                "total_ms": round(run.total_ms, 2),
                "prompt_ms": round(run.prompt_ms, 2),
                "evaluated": run.evaluated,
                "generated": len(run.tokens),
            }
        )
        log(
            f"physical floor {index + 1}/{len(sequence)}: {run.evaluated} new, {run.total_ms:.0f} ms"
        )
    return rows


# -- llama-server baseline -------------------------------------------------------------------------


def split_prompt(
    tokens: Sequence[int], text_of: Callable[[int], str], detok: Callable[[Sequence[int]], str]
) -> dict[str, Any]:
    """Our prompt's pieces as /infill fields: context files, prefix (with the path), suffix.

    The request a llama.cpp client sends: the whole suffix after the cursor. Our far suffix
    (the last snippet, of the file itself, see `sc2_lsp.prompt`) goes back after the near one.
    """
    names = {"<repo_name>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>"}
    pieces: list[tuple[str, list[int]]] = [("", [])]
    for token in tokens:
        text = text_of(token)
        if text in names:
            pieces.append((text, []))
        else:
            pieces[-1][1].append(token)
    extra: list[dict[str, str]] = []
    prefix = suffix = ""
    for marker, body in pieces:
        text = detok(body)
        if marker == "<file_sep>" and text:
            filename, _, content = text.partition("\n")
            extra.append({"filename": filename, "text": content})
        elif marker == "<fim_prefix>":
            prefix = text
        elif marker == "<fim_suffix>":
            suffix = text
    path = prefix.partition("\n")[0]
    if extra and extra[-1]["filename"] == path:
        suffix += extra.pop()["text"]
    return {"input_extra": extra, "input_prefix": prefix, "input_suffix": suffix}


def llama_server_baseline(
    binary: Path, model: Path, threads: int, sequence: Sequence[dict[str, Any]], port: int
) -> dict[str, Any]:
    from sc2_lsp.engine.vocab import Tokenizer

    tokenizer = Tokenizer.load(model)

    def detok(body: Sequence[int]) -> str:
        return b"".join(tokenizer.piece(t) for t in body).decode("utf-8", "replace")

    command = [
        str(binary),
        "-m", str(model),
        "-c", str(N_CTX),
        "-t", str(threads),
        "-tb", str(threads),
        "-ngl", "0",
        "-np", "1",
        "--cache-reuse", "256",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    log_path = WORK / "llama-server.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 300
        while True:
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r,
            ):
                if r.status == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llama-server did not start; see {log_path}")
            time.sleep(0.5)
        for index, generation in enumerate(sequence):
            body = split_prompt(generation["prompt"], tokenizer.token_text, detok)
            body |= {
                "n_predict": max(1, yielded(generation)),
                "cache_prompt": True,
                "temperature": 0.0,
                "top_k": 1,
                "stream": False,
            }
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/infill",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
                answer = json.loads(response.read())
            elapsed = (time.perf_counter() - started) * 1000
            timings = answer.get("timings", {})
            rows.append(
                {
                    "total_ms": round(elapsed, 2),
                    "prompt_n": timings.get("prompt_n"),
                    "prompt_ms": timings.get("prompt_ms"),
                    "predicted_n": timings.get("predicted_n"),
                    "cached": answer.get("tokens_cached"),
                    "prompt_tokens": answer.get("tokens_evaluated"),
                }
            )
            log(
                f"llama-server {index + 1}/{len(sequence)}: {timings.get('prompt_n')} evaluated, "
                f"{elapsed:.0f} ms"
            )
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()
    shown = [
        portable_path(Path(arg)) if arg in (str(model), str(binary)) else arg for arg in command
    ]
    return {"binary": portable_path(binary), "command": shown[1:], "rows": rows}
