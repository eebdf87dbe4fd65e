"""The server's trace and which generation served which request."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.latency.layout import N_BATCH
from benchmarks.latency.replay import ReplayLog

# -- probe records and attribution -----------------------------------------------------------------


@dataclass
class Probe:
    hooks: dict[str, bool]
    jobs: list[dict[str, Any]]
    generations: list[dict[str, Any]]
    stray_decodes: list[list[Any]]
    prepares: list[dict[str, Any]] = field(default_factory=list)
    debounces: list[dict[str, Any]] = field(default_factory=list)
    rpc: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per request id: when the server's JSON-RPC layer received it (`in`) and answered (`out`)."""


def read_probe(path: Path) -> Probe:
    hooks: dict[str, bool] = {}
    jobs: list[dict[str, Any]] = []
    generations: list[dict[str, Any]] = []
    stray: list[list[Any]] = []
    prepares: list[dict[str, Any]] = []
    debounces: list[dict[str, Any]] = []
    rpc: dict[str, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        kind = record.get("type")
        if kind == "probe":
            hooks = record["hooks"]
        elif kind == "job":
            jobs.append(record)
        elif kind == "generate":
            generations.append(record)
        elif kind == "decode":
            stray.append(record["decode"])
        elif kind == "prepare":
            prepares.append(record)
        elif kind == "debounce":
            debounces.append(record)
        elif kind in ("rpc_in", "rpc_out"):
            rpc.setdefault(str(record["id"]), {})[kind[4:]] = record["at"]
    generations.sort(key=lambda g: g["start"])
    if not hooks:  # the server's own trace (SC2_TRACE), not a patching probe
        hooks = {"trace": True}
    return Probe(hooks, jobs, generations, stray, prepares, debounces, rpc)


def yielded(generation: dict[str, Any]) -> int:
    """Tokens llama-cpp-python produced: the stop token is sampled but never kept."""
    return len(generation["tokens"]) + (1 if generation.get("stop_reason") == "stop_token" else 0)


def prompt_phase_tokens(generation: dict[str, Any]) -> tuple[int, int]:
    """Prompt tokens llama_decode finished before the first sampled token, and tokens in
    prompt decodes that were aborted (a cancel mid-batch: that work is lost)."""
    if "decodes" not in generation:
        return _traced_prompt_tokens(generation)
    # The first token came `generate_seconds` before the call returned; decodes that started
    # before it evaluated the prompt, the ones after it evaluate generated tokens.
    first_token_at = generation["end"] - (generation.get("generate_seconds") or 0.0)
    evaluated = aborted = 0
    for size, started, _seconds, ok in generation["decodes"]:
        if started < first_token_at or not generation["tokens"]:
            if ok:
                evaluated += size
            else:
                aborted += size
    return evaluated, aborted


def _traced_prompt_tokens(generation: dict[str, Any]) -> tuple[int, int]:
    """The same from a trace record: the engine reports what it reused and what it held after.

    A generation that produced a token evaluated its whole prompt. One cancelled before that
    evaluated up to what its KV cache held at the end; the batch it was in when the cancel
    came (at most `N_BATCH` tokens) was lost.
    """
    reused, prompt = generation.get("n_reused") or 0, generation["n_prompt"]
    if generation["tokens"] or generation.get("stop_reason") != "cancelled":
        return prompt - reused, 0
    held = min(generation.get("kv_after", reused), prompt)
    return max(0, held - reused), min(N_BATCH, prompt - held)


def overlap(start: float, end: float, intervals: Iterable[tuple[float, float]]) -> float:
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in intervals)


def attribute(log: ReplayLog, probe: Probe) -> list[dict[str, Any]]:
    """One row per request: outcome, latency, and the generation (if any) that served it.

    A request is served by the first non-speculative, non-cancelled generation that starts and
    ends inside its [sent, answered] window. Its time outside the engine is the latency minus
    the engine thread's busy time in that window (its own job and any job it queued behind)
    minus the debounce the server chose; a request answered without a generation spends all
    of its latency outside the engine.
    """
    rows: list[dict[str, Any]] = []
    engine_busy = [(job["start"], job["end"]) for job in probe.jobs if "load" not in job["name"]]
    used: set[int] = set()
    for request in log.requests:
        answered = request.answered if request.answered is not None else float("inf")
        served_by = None
        if request.outcome in ("result", "empty"):
            for index, candidate in enumerate(probe.generations):
                if (
                    index in used
                    or candidate.get("stop_reason") == "cancelled"
                    or candidate.get("speculative")
                ):
                    continue
                if request.sent - 1e-3 <= candidate["start"] <= candidate["end"] <= answered:
                    served_by = index
                    break
        adopted = False
        if served_by is None and request.outcome == "result":
            # An accept that arrived while its prefetch was running is answered by that prefetch.
            for index, candidate in enumerate(probe.generations):
                if (
                    index not in used
                    and candidate.get("speculative")
                    and candidate.get("stop_reason") != "cancelled"
                    and request.sent - 1e-3 <= candidate["end"] <= answered
                    and candidate["start"] <= request.sent
                ):
                    served_by, adopted = index, True
                    break
        if served_by is not None:
            used.add(served_by)
        if request.outcome == "result" and served_by is None:
            category = "no_generation"
        elif served_by is not None:
            category = "model"
        elif request.outcome == "empty":
            category = "superseded" if request.cancel_sent else "no_completion"
        else:
            category = request.outcome
        latency = request.latency_ms
        generation = probe.generations[served_by] if served_by is not None else None
        in_window = partial_window(request.sent, answered)
        debounce = next((d["ms"] for d in probe.debounces if in_window(d["at"])), None)
        prepare = next(
            (
                (d["end"] - d["start"]) * 1000
                for d in probe.prepares
                if in_window(d["start"]) and not d.get("speculative")
            ),
            None,
        )
        busy_ms = overlap(request.sent, answered, engine_busy) * 1000 if generation else 0.0
        waited = list(engine_busy)
        if debounce is not None and generation is not None:
            at = next(d["at"] for d in probe.debounces if in_window(d["at"]))
            waited.append((at, at + debounce / 1000))
        waiting_ms = overlap(request.sent, answered, merge(waited)) * 1000 if generation else 0.0
        debounce_at = next((d["at"] for d in probe.debounces if in_window(d["at"])), None)
        # Where the rest of the overhead goes: before the handler ran, and after the engine.
        arrival_ms = (debounce_at - request.sent) * 1000 if debounce_at is not None else None
        finish_ms = None
        if generation is not None and request.answered is not None:
            job_end = max(
                (end for begin, end in engine_busy if begin <= generation["start"] <= end),
                default=generation["end"],
            )
            finish_ms = (request.answered - job_end) * 1000
        outside = None
        if latency is not None and category in ("model", "no_generation"):
            outside = latency - waiting_ms
        # The same, measured inside the server: from its JSON-RPC layer receiving the request to
        # it writing the answer, so the client's own time and the pipes are not counted.
        times = probe.rpc.get(request.id, {})
        server_ms = server_overhead = None
        if "in" in times and "out" in times:
            server_ms = (times["out"] - times["in"]) * 1000
            if category in ("model", "no_generation"):
                inside = overlap(times["in"], times["out"], merge(waited)) if generation else 0.0
                server_overhead = server_ms - inside * 1000
        rows.append(
            {
                "id": request.id,
                "kind": request.kind,
                "keystroke": request.keystroke,
                "category": category,
                "outcome": request.outcome,
                "cancel_sent": request.cancel_sent,
                "line": request.line,
                "character": request.character,
                "latency_ms": _round(latency),
                "debounce_ms": _round(debounce),
                "prepare_ms": _round(prepare),
                "engine_busy_ms": _round(busy_ms),
                "overhead_ms": _round(outside),
                "server_ms": _round(server_ms),
                "server_overhead_ms": _round(server_overhead),
                "adopted_prefetch": adopted,
                "arrival_ms": _round(arrival_ms),
                "after_engine_ms": _round(finish_ms),
                "sent_at": round(request.sent, 6),
                "answered_at": _round(request.answered, 6),
                "generation": served_by,
                "prompt_tokens": len(generation["prompt"]) if generation else None,
                "prompt_evaluated": prompt_phase_tokens(generation)[0] if generation else None,
                "server_reused": generation.get("n_reused") if generation else None,
                "generated": yielded(generation) if generation else None,
                "stop_reason": generation.get("stop_reason") if generation else None,
                "engine_ms": _round(
                    (generation["end"] - generation["start"]) * 1000 if generation else None
                ),
                "engine_prompt_ms": _round(
                    generation["prompt_seconds"] * 1000
                    if generation and generation.get("prompt_seconds") is not None
                    else None
                ),
                "insert_text": request.insert_text,
                "error": request.error,
            }
        )
    return rows


def merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def partial_window(start: float, end: float) -> Callable[[float], bool]:
    return lambda at: start - 1e-3 <= at <= end


def _round(value: float | None, digits: int = 2) -> float | None:
    """Rounded; None for no value (a percentile of nothing is NaN)."""
    return None if value is None or math.isnan(value) else round(value, digits)
