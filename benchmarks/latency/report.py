"""Statistics, targets and the Markdown report of a run."""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypedDict

from benchmarks.common import percentile
from benchmarks.latency.layout import MAIN_FILE, WORK
from benchmarks.latency.records import Probe, _round, attribute, prompt_phase_tokens, read_probe
from benchmarks.latency.replay import ReplayLog, Sent
from sc2_lsp.engine import common_prefix

# -- statistics and report --------------------------------------------------------------------


def dist(values: Iterable[float | None]) -> dict[str, Any]:
    kept = [float(v) for v in values if v is not None]
    if not kept:
        return {"n": 0, "median": None, "p90": None, "p99": None, "mean": None}
    return {
        "n": len(kept),
        "median": _round(percentile(kept, 0.5), 1),
        "p90": _round(percentile(kept, 0.9), 1),
        "p99": _round(percentile(kept, 0.99), 1),
        "mean": _round(statistics.fmean(kept), 1) if kept else None,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else round(a / b, 3)


KEYSTROKE_KINDS = ("type", "delete", "type_along", "accept_continue")


def summarize(
    stability: dict[str, Any],
    rows: list[dict[str, Any]],
    log_: ReplayLog,
    probe: Probe,
    baselines: dict[str, Any],
    server: dict[str, Any] | None,
) -> dict[str, Any]:
    served = [r for r in rows if r["generation"] is not None]
    order = {
        r["generation"]: i for i, r in enumerate(sorted(served, key=lambda r: r["generation"]))
    }
    for row in served:
        position = order[row["generation"]]
        row["floor_ms"] = baselines["floor"][position]["total_ms"]
        row["floor_evaluated"] = baselines["floor"][position]["evaluated"]
        if "physical" in baselines:
            row["physical_ms"] = baselines["physical"][position]["total_ms"]
            row["physical_evaluated"] = baselines["physical"][position]["evaluated"]
        row["naive_ms"] = baselines["naive"][position]["total_ms"]
        row["naive_measured"] = baselines["naive"][position]["measured"]
        if server and position < len(server["rows"]):
            row["llama_server_ms"] = server["rows"][position]["total_ms"]
            row["llama_server_evaluated"] = server["rows"][position]["prompt_n"]
    keystrokes = [r for r in rows if r["kind"] in KEYSTROKE_KINDS]
    answered = [r for r in keystrokes if r["category"] in ("model", "no_generation")]
    model = [r for r in keystrokes if r["category"] == "model"]
    accepts = [r for r in answered if r["kind"] == "accept_continue"]
    cold = [r for r in rows if r["kind"] == "open"]

    def col(subset: list[dict[str, Any]], key: str) -> list[float | None]:
        return [r.get(key) for r in subset]

    ours_model = dist(col(model, "latency_ms"))
    ours_undebounced = dist(
        r["latency_ms"] - (r["debounce_ms"] or 0.0) for r in model if r["latency_ms"] is not None
    )
    floor_model = dist(col(model, "floor_ms"))
    physical_model = dist(col(model, "physical_ms"))
    naive_model = dist(col(model, "naive_ms"))
    ours_all = dist(col(answered, "latency_ms"))
    status = log_.final_status
    requests = max(1, int(status.get("requests") or len(rows)))
    decoded = [
        size for generation in probe.generations for size, *_ in generation.get("decodes", [])
    ] + [d[0] for d in probe.stray_decodes]
    cold_ids = {r["generation"] for r in cold if r["generation"] is not None}
    session_prompt_tokens = sum(
        prompt_phase_tokens(g)[0]
        for i, g in enumerate(probe.generations)
        if i not in cold_ids and g["start"] >= log_.started
    )
    aborted_tokens = sum(
        prompt_phase_tokens(g)[1] for g in probe.generations if g["start"] >= log_.started
    )
    per_keystroke_ratio = [
        r["latency_ms"] / r["floor_ms"] for r in model if r["latency_ms"] and r.get("floor_ms")
    ]
    summary: dict[str, Any] = {
        "keystrokes": log_.keystrokes,
        "requests_sent": len(rows),
        "requests_unanswered": sum(1 for r in rows if r["outcome"] == "pending"),
        "categories": {
            name: sum(1 for r in rows if r["category"] == name)
            for name in sorted({r["category"] for r in rows})
        },
        "cancellations": {
            "cancel_sent": sum(1 for r in rows if r["cancel_sent"]),
            "answered_cancelled": sum(1 for r in rows if r["outcome"] == "cancelled"),
            "answered_result_despite_cancel": sum(
                1 for r in rows if r["cancel_sent"] and r["outcome"] == "result"
            ),
            "server_counter": status.get("cancelled"),
        },
        "cold_open_ms": cold[0]["latency_ms"] if cold else None,
        "cold_open_prompt_tokens": cold[0]["prompt_tokens"] if cold else None,
        "latency_ms": {
            "ours_model_served": ours_model,
            "ours_all_answered": ours_all,
            "ours_model_served_minus_debounce": ours_undebounced,
            "ideal_floor": floor_model,
            "physical_floor": physical_model,
            "naive": naive_model,
            "llama_server": dist(col(model, "llama_server_ms")) if server else None,
            "accept_then_continue": dist(col(accepts, "latency_ms")),
            "type_along": dist(
                col([r for r in answered if r["kind"] == "type_along"], "latency_ms")
            ),
        },
        "ratios": {
            "ours_over_physical_floor_median": ratio(
                ours_model["median"], physical_model["median"]
            ),
            "ours_over_llama_server_median": ratio(
                ours_model["median"], dist(col(model, "llama_server_ms"))["median"]
            ),
            "ours_over_floor_median": ratio(ours_model["median"], floor_model["median"]),
            "ours_all_over_floor_median": ratio(ours_all["median"], floor_model["median"]),
            "ours_minus_debounce_over_floor_median": ratio(
                ours_undebounced["median"], floor_model["median"]
            ),
            "ours_over_floor_per_request_median": _round(percentile(per_keystroke_ratio, 0.5), 3),
            "naive_over_ours_median": ratio(naive_model["median"], ours_model["median"]),
            "naive_over_ours_all_median": ratio(naive_model["median"], ours_all["median"]),
            "llama_server_over_ours_median": ratio(
                dist(col(model, "llama_server_ms"))["median"], ours_model["median"]
            )
            if server
            else None,
        },
        "overhead_ms": {
            "server_model_served": dist(col(model, "server_overhead_ms")),
            "server_all_answered": dist(col(answered, "server_overhead_ms")),
            "model_served": dist(col(model, "overhead_ms")),
            "answered_without_generation": dist(
                col([r for r in answered if r["category"] == "no_generation"], "overhead_ms")
            ),
            "debounce_model_served": dist(col(model, "debounce_ms")),
            "prepare_model_served": dist(col(model, "prepare_ms")),
            "arrival_to_handler_model_served": dist(col(model, "arrival_ms")),
            "engine_end_to_answer_model_served": dist(col(model, "after_engine_ms")),
            "prepare_all": dist((d["end"] - d["start"]) * 1000 for d in probe.prepares),
        },
        "speculative": speculative_summary(probe, rows),
        "prompt_stability": stability,
        "engine_speed": engine_speed(rows, baselines),
        "hit_rates": {
            "cache_hits": status.get("cacheHits"),
            "prefetch_hits": status.get("prefetchHits"),
            "server_requests": status.get("requests"),
            "cache_hit_rate": ratio(status.get("cacheHits"), requests)
            if status.get("cacheHits") is not None
            else None,
            "prefetch_hit_rate": ratio(status.get("prefetchHits"), requests)
            if status.get("prefetchHits") is not None
            else None,
            "answered_without_generation": len(
                [r for r in answered if r["category"] == "no_generation"]
            ),
            "answered_without_generation_rate": ratio(
                len([r for r in answered if r["category"] == "no_generation"]), len(answered)
            ),
        },
        "tokens": {
            "prompt_tokens_evaluated_per_keystroke": ratio(session_prompt_tokens, log_.keystrokes),
            "prompt_tokens_evaluated_session": session_prompt_tokens,
            "prompt_tokens_in_aborted_decodes": aborted_tokens,
            "decoded_tokens_total": sum(decoded) if decoded else None,
            "per_model_request": {
                "ours_evaluated": dist(col(model, "prompt_evaluated")),
                "floor_new_tokens": dist(col(model, "floor_evaluated")),
                "physical_new_tokens": dist(col(model, "physical_evaluated")),
                "naive_full_prompt": dist(col(model, "prompt_tokens")),
                "llama_server_evaluated": dist(col(model, "llama_server_evaluated"))
                if server
                else None,
                "generated": dist(col(model, "generated")),
            },
            "server_counters": {
                key: status.get(key) for key in ("promptTokens", "reusedTokens") if key in status
            },
        },
        "engine_generations": len(probe.generations),
        "engine_generations_cancelled": sum(
            1 for g in probe.generations if g.get("stop_reason") == "cancelled"
        ),
        "pause_wait_for_answer_s": dist(log_.pause_waits_s),
        "accepts": log_.accepts,
        "accepts_skipped_no_suggestion": log_.accepts_skipped,
        "typed_along": log_.typed_along,
        "session_wall_s": round(log_.finished - log_.started, 1),
        "floor_token_mismatches": baselines["floor_token_mismatches"],
        "naive_method": (
            f"measured fresh-KV on {len(baselines['naive_measured'])} sampled prompts plus the "
            "cold first one; the others are prompt tokens x median ms/token of those, plus the "
            "floor's generation time for the same request"
        ),
        "naive_ms_per_prompt_token": baselines["naive_ms_per_prompt_token"],
    }
    return summary


def engine_speed(rows: list[dict[str, Any]], baselines: dict[str, Any]) -> dict[str, Any]:
    """Prompt tokens/s in each phase: the cores are shared, so the machine's speed drifts
    between phases; token counts are the load-independent comparison."""
    served = [r for r in rows if r["category"] == "model" and r.get("engine_prompt_ms")]
    ours_tokens = sum(r["prompt_evaluated"] or 0 for r in served)
    ours_ms = sum(r["engine_prompt_ms"] for r in served)
    floor = baselines["floor"]
    floor_tokens = sum(f["evaluated"] for f in floor)
    floor_ms = sum(f["prompt_ms"] for f in floor)
    per_request = [
        r["prompt_evaluated"] / r["floor_evaluated"]
        for r in served
        if r["kind"] != "open" and r.get("floor_evaluated")
    ]
    return {
        "ours_prompt_tok_s": ratio(ours_tokens * 1000, ours_ms),
        "floor_prompt_tok_s": ratio(floor_tokens * 1000, floor_ms),
        "naive_prompt_tok_s": ratio(1000, baselines["naive_ms_per_prompt_token"]),
        "ours_over_floor_evaluated_tokens_median": _round(percentile(per_request, 0.5), 3),
        "ours_evaluated_total": ours_tokens,
        "floor_evaluated_total": floor_tokens,
    }


class PromptPair(TypedDict):
    """Two consecutive model-served prompts, compared (`prompt_stability`'s detail)."""

    prompt_tokens: int
    shared_with_previous: int
    current_file_starts_at: int
    context_changed: bool
    reused: int | None
    kv_lost: int


def prompt_stability(sequence: Sequence[dict[str, Any]], file_sep: int | None) -> dict[str, Any]:
    """Between consecutive model-served prompts: where they diverge, and what it cost.

    The current file starts at the prompt's last `<file_sep>`; a divergence before it means
    the repository context changed, which forces llama.cpp to re-evaluate everything after.
    A served generation that reused less than that common prefix lost KV cache to work done
    in between (an aborted prefetch or request truncates the cache before it is cancelled).
    """
    pairs: list[PromptPair] = []
    for previous, current in itertools.pairwise(sequence):
        shared = common_prefix(previous["prompt"] + previous["tokens"], current["prompt"])
        separators = [i for i, t in enumerate(current["prompt"]) if t == file_sep]
        file_start = separators[-1] if separators else 0
        pairs.append(
            {
                "prompt_tokens": len(current["prompt"]),
                "shared_with_previous": shared,
                "current_file_starts_at": file_start,
                "context_changed": shared < file_start,
                "reused": current.get("n_reused"),
                "kv_lost": max(
                    0, min(shared, len(current["prompt"]) - 1) - (current.get("n_reused") or 0)
                ),
            }
        )
    changed = [p for p in pairs if p["context_changed"]]
    return {
        "pairs": len(pairs),
        "context_changed": len(changed),
        "tokens_after_context_change": sum(
            p["prompt_tokens"] - p["shared_with_previous"] for p in changed
        ),
        "tokens_after_file_divergence": sum(
            p["prompt_tokens"] - p["shared_with_previous"]
            for p in pairs
            if not p["context_changed"]
        ),
        "kv_lost_requests": sum(1 for p in pairs if p["kv_lost"] > 0),
        "kv_lost_tokens": sum(p["kv_lost"] for p in pairs),
        "detail": pairs,
    }


def speculative_summary(probe: Probe, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Engine work nobody asked for yet (prefetch), and what it cost the next real request."""
    speculative = [g for g in probe.generations if g.get("speculative")]
    return {
        "generations": len(speculative),
        "cancelled": sum(1 for g in speculative if g.get("stop_reason") == "cancelled"),
        "prompt_tokens_evaluated": sum(prompt_phase_tokens(g)[0] for g in speculative),
        "prompt_tokens_aborted": sum(prompt_phase_tokens(g)[1] for g in speculative),
        "engine_s": round(sum(g["end"] - g["start"] for g in speculative), 2),
        "untagged_generations": sum(1 for g in probe.generations if g.get("speculative") is None),
    }


def targets(summary: dict[str, Any]) -> dict[str, Any]:
    ratios = summary["ratios"]
    accept_p90 = summary["latency_ms"]["accept_then_continue"]["p90"]
    overhead = summary["overhead_ms"].get("server_model_served", {}).get("median")
    if overhead is None:  # a run from before the server-side probe
        overhead = summary["overhead_ms"]["model_served"]["median"]
    return {
        "median_le_1.3x_physical_floor": _check(
            ratios.get("ours_over_physical_floor_median"), lambda v: v <= 1.3
        ),
        "median_le_0.6x_llama_server": _check(
            ratios.get("ours_over_llama_server_median"), lambda v: v <= 0.6
        ),
        "median_le_1.3x_floor": _check(ratios["ours_over_floor_median"], lambda v: v <= 1.3),
        "ge_5x_faster_than_naive": _check(ratios["naive_over_ours_median"], lambda v: v >= 5),
        "accept_then_continue_p90_le_50ms": _check(accept_p90, lambda v: v <= 50),
        "overhead_median_le_5ms": _check(overhead, lambda v: v <= 5),
    }


def _check(value: float | None, test: Callable[[float], bool]) -> dict[str, Any]:
    return {"value": value, "met": None if value is None else bool(test(value))}


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lat = s["latency_ms"]
    tok = s["tokens"]["per_model_request"]
    hits = s["hit_rates"]

    def line(name: str, d: dict[str, Any] | None, tokens: dict[str, Any] | None) -> str:
        if not d:
            return f"| {name} | – | – | – | – | – |"
        med_tokens = tokens["median"] if tokens else "–"
        return f"| {name} | {d['n']} | {d['median']} | {d['p90']} | {d['p99']} | {med_tokens} |"

    out = [
        f"# Keystroke latency ({report['mode']} run, {report['model']['name']})",
        "",
        f"{report['date']} · {report['machine']['cpu']} ({report['machine']['cpu_count']} cores, "
        f"load {report['machine']['loadavg_1m'][0]}→{report['machine']['loadavg_1m'][1]}) · "
        f"{report['settings']['threads']} threads · llama-cpp-python {report['machine']['llama_cpp_python']}",
        "",
        f"Session: `{MAIN_FILE}` (pygls 2.1.1) with {len(report['session']['neighbours'])} "
        f"neighbour files; {s['keystrokes']} keystrokes, {s['accepts']} Tab-accepts "
        f"({s['accepts_skipped_no_suggestion']} skipped: nothing shown), {s['typed_along']} "
        f"typed along a suggestion, backspaces, one word deletion, one jump. "
        f"{s['requests_sent']} requests, {s['cancellations']['cancel_sent']} cancelled by the "
        f"client, {s['requests_unanswered']} unanswered.",
        "",
        "Latency per request in ms (model-served keystroke requests; the same requests for "
        "every row; the cold first request after opening is excluded: "
        f"{s['cold_open_ms']} ms for {s['cold_open_prompt_tokens']} tokens).",
        "",
        "| | n | median | p90 | p99 | prompt tokens evaluated (median) |",
        "|---|---:|---:|---:|---:|---:|",
        line("ours (sc2-lsp over stdio)", lat["ours_model_served"], tok["ours_evaluated"]),
        line(
            "physical floor (only the new tokens, then the same generation)",
            lat.get("physical_floor"),
            tok.get("physical_new_tokens"),
        ),
        line(
            "LCP floor (same prompt, KV of the common prefix reused, same generation)",
            lat["ideal_floor"],
            tok["floor_new_tokens"],
        ),
        line("naive (fresh prompt every time)", lat["naive"], tok["naive_full_prompt"]),
        line(
            "llama-server /infill, --cache-reuse 256",
            lat["llama_server"],
            tok["llama_server_evaluated"],
        ),
        line(
            "ours minus the debounce the server chose",
            lat["ours_model_served_minus_debounce"],
            None,
        ),
        line(
            "ours, all answered keystrokes (incl. no-model answers)", lat["ours_all_answered"], None
        ),
        line("ours, accept-then-continue", lat["accept_then_continue"], None),
        "",
        "| measure | value | target |",
        "|---|---:|---|",
    ]
    t = report["targets"]
    names = {
        "median_le_1.3x_physical_floor": ("ours / physical floor, median", "≤ 1.3"),
        "median_le_0.6x_llama_server": ("ours / llama-server, median", "≤ 0.6"),
        "median_le_1.3x_floor": ("ours / LCP floor, median", "≤ 1.3"),
        "ge_5x_faster_than_naive": ("naive / ours, median", "≥ 5"),
        "accept_then_continue_p90_le_50ms": ("accept-then-continue p90 (ms)", "≤ 50"),
        "overhead_median_le_5ms": (
            "server overhead outside engine jobs and debounce, inside the server, median (ms)",
            "≤ 5",
        ),
    }
    for key, (label, goal) in names.items():
        if key not in t:  # a run from before this target existed
            continue
        met = t[key]["met"]
        mark = "–" if met is None else ("met" if met else "**not met**")
        out.append(f"| {label} | {t[key]['value']} | {goal}: {mark} |")
    out += [
        f"| cache hit rate (server `cacheHits` / requests) | {hits['cache_hit_rate']} | |",
        f"| prefetch hit rate (server `prefetchHits` / requests) | {hits['prefetch_hit_rate']} | |",
        f"| answered with a suggestion but no generation in the request window | "
        f"{hits['answered_without_generation']} ({hits['answered_without_generation_rate']}) | |",
        f"| prompt tokens evaluated per keystroke (all engine work, prefetch included) | "
        f"{s['tokens']['prompt_tokens_evaluated_per_keystroke']} | |",
        f"| generated tokens per model request (median) | {tok['generated']['median']} | |",
        f"| ours / floor in prompt tokens evaluated, per request (median) | "
        f"{s['engine_speed']['ours_over_floor_evaluated_tokens_median']} | |",
        f"| prompt tok/s seen: ours / floor / naive (machine drift between phases) | "
        f"{s['engine_speed']['ours_prompt_tok_s']} / {s['engine_speed']['floor_prompt_tok_s']} / "
        f"{s['engine_speed']['naive_prompt_tok_s']} | |",
        f"| overhead seen by the client (latency minus engine and debounce), median (ms) | "
        f"{s['overhead_ms']['model_served']['median']} | |",
        f"| server overhead, all answered requests incl. cache answers (median / p90 ms) | "
        f"{s['overhead_ms'].get('server_all_answered', {}).get('median')} / "
        f"{s['overhead_ms'].get('server_all_answered', {}).get('p90')} | |",
        f"| debounce chosen by the server, model-served requests (median ms) | "
        f"{s['overhead_ms']['debounce_model_served']['median']} | |",
        f"| prepare (prompt + context) per request (median / p90 ms) | "
        f"{s['overhead_ms']['prepare_model_served']['median']} / "
        f"{s['overhead_ms']['prepare_model_served']['p90']} | |",
        f"| answered without generation: latency median / p90 (ms) | "
        f"{s['overhead_ms']['answered_without_generation']['median']} / "
        f"{s['overhead_ms']['answered_without_generation']['p90']} | |",
        f"| consecutive served prompts whose repository context changed / tokens re-evaluated "
        f"after the change | {s['prompt_stability']['context_changed']} of "
        f"{s['prompt_stability']['pairs']} / {s['prompt_stability']['tokens_after_context_change']}"
        f" (vs {s['prompt_stability']['tokens_after_file_divergence']} for the other pairs) | |",
        f"| served requests that reused less KV than the previous served prompt allowed / tokens "
        f"lost | {s['prompt_stability']['kv_lost_requests']} / "
        f"{s['prompt_stability']['kv_lost_tokens']} | |",
        f"| prefetch generations (cancelled) / prompt tokens they evaluated (+ aborted mid-batch) | "
        f"{s['speculative']['generations']} ({s['speculative']['cancelled']}) / "
        f"{s['speculative']['prompt_tokens_evaluated']} "
        f"(+ {s['speculative'].get('prompt_tokens_aborted', 0)}) | |",
        "",
        *baseline_lines(report.get("baseline")),
        "Model-served requests (ms; tokens):",
        "",
        "| request | kind | ours | debounce | prompt | ours evaluated | physical | physical new "
        "| LCP floor | LCP new | naive | llama-server |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['id']} | {r['kind']} | {r['latency_ms']} | {r['debounce_ms']} | "
            f"{r['prompt_tokens']} | {r['prompt_evaluated']} | {r.get('physical_ms', '–')} | "
            f"{r.get('physical_evaluated', '–')} | {r.get('floor_ms')} | "
            f"{r.get('floor_evaluated')} | {r.get('naive_ms')}"
            f"{'' if r.get('naive_measured') else ' (est.)'} | {r.get('llama_server_ms', '–')} |"
            for r in report["requests"]
            if r["category"] == "model"
        ),
        "",
        f"Naive: {s['naive_method']} ({s['naive_ms_per_prompt_token']} ms/token). Settings: "
        f"`{json.dumps(report['settings']['initialization_options'])}`. "
        f"Server features present: {json.dumps(report['server_features'])}. "
        f"llama-server baseline: {report['llama_server_status']}.",
        "",
    ]
    return "\n".join(out)


def probe_for(out_json: Path) -> Path:
    return WORK / f"{out_json.stem}-probe.jsonl"


def reanalyze(path: Path, probe_path: Path) -> int:
    """Recompute rows, summary and targets of a saved run from its JSON and probe log.

    The replay and baselines are not rerun: analysis changes cost seconds, not the run's
    half hour on a slow CPU.
    """
    from sc2_lsp.engine.vocab import Tokenizer

    report = json.loads(path.read_text())
    probe = read_probe(probe_path)
    rows = report["requests"]
    replay = report.get("replay", {})
    cold = next((r for r in rows if r["kind"] == "open"), rows[0])
    started = replay.get("started", cold["answered_at"])
    replay_log = ReplayLog(
        requests=[
            Sent(
                id=r["id"],
                kind=r["kind"],
                keystroke=r["keystroke"],
                version=0,
                offset=0,
                line=r["line"],
                character=r["character"],
                sent=r["sent_at"],
                answered=r["answered_at"],
                outcome=r["outcome"],
                insert_text=r["insert_text"],
                cancel_sent=r["cancel_sent"],
                error=r["error"],
            )
            for r in rows
        ],
        messages=report.get("server_messages", []),
        pause_waits_s=replay.get("pause_waits_s", []),
        accepts=replay.get("accepts", report["summary"]["accepts"]),
        accepts_skipped=replay.get(
            "accepts_skipped", report["summary"]["accepts_skipped_no_suggestion"]
        ),
        typed_along=replay.get("typed_along", report["summary"]["typed_along"]),
        keystrokes=report["summary"]["keystrokes"],
        final_status=report["final_status"],
        started=started,
        finished=replay.get("finished", started + report["summary"]["session_wall_s"]),
    )
    new_rows = attribute(replay_log, probe)
    sequence = sorted(
        (probe.generations[r["generation"]] for r in new_rows if r["generation"] is not None),
        key=lambda g: g["start"],
    )
    model = Path(report["settings"]["initialization_options"]["model"]["path"])
    stability = prompt_stability(sequence, Tokenizer.load(model).single_token("<file_sep>"))
    server = report.get("llama_server")
    summary = summarize(
        stability,
        new_rows,
        replay_log,
        probe,
        report["baselines"],
        server if server and server.get("rows") else None,
    )
    if not replay.get("pause_waits_s"):
        summary["pause_wait_for_answer_s"] = report["summary"]["pause_wait_for_answer_s"]
    report["requests"] = new_rows
    report["summary"] = summary
    report["targets"] = targets(summary)
    report["reanalyzed"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    path.with_suffix(".md").write_text(text)
    print(text)
    return 0


def keystroke_rows(
    rows: list[dict[str, Any]], category: str | None = "model"
) -> list[dict[str, Any]]:
    """Keystroke requests (not the cold first one), served by the model unless `category` None."""
    return [
        r
        for r in rows
        if r["kind"] in KEYSTROKE_KINDS
        and (category is None or r["category"] == category)
        and r["category"] in ("model", "no_generation")
    ]


def _categories(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["category"]] = counts.get(row["category"], 0) + 1
    return counts


def compare(
    label: str,
    base_rows: list[dict[str, Any]],
    base_rss: dict[str, float],
    rows: list[dict[str, Any]],
    rss: dict[str, float],
    probe: Probe,
) -> dict[str, Any]:
    """Ours beside a baseline commit's server, replayed in the same run."""
    base_model, ours_model = (
        dist(r["latency_ms"] for r in keystroke_rows(x)) for x in (base_rows, rows)
    )
    base_all, ours_all = (
        dist(r["latency_ms"] for r in keystroke_rows(x, None)) for x in (base_rows, rows)
    )
    jobs = [job for job in probe.jobs if job.get("name") == "generate" and "ipc_ms" in job]
    streamed = [job for job in jobs if job.get("hop_ms")]
    base_by_id = {r["id"]: r for r in keystroke_rows(base_rows)}
    paired = [
        (base_by_id[r["id"]]["latency_ms"], r["latency_ms"])
        for r in keystroke_rows(rows)
        if r["id"] in base_by_id and r["latency_ms"] and base_by_id[r["id"]]["latency_ms"]
    ]
    return {
        "label": label,
        "paired_model_served": {
            "n": len(paired),
            "baseline_ms": dist(base for base, _ in paired),
            "ours_ms": dist(ours for _, ours in paired),
            "ours_over_baseline_median_of_ratios": _round(
                percentile([ours / base for base, ours in paired], 0.5), 3
            ),
        },
        "categories": {
            "baseline": _categories(base_rows),
            "ours": _categories(rows),
        },
        "baseline_requests": [
            {
                key: r.get(key)
                for key in ("id", "kind", "category", "latency_ms", "prompt_evaluated")
            }
            for r in base_rows
        ],
        "model_served_ms": {"baseline": base_model, "ours": ours_model},
        "all_answered_ms": {"baseline": base_all, "ours": ours_all},
        "ours_over_baseline_median": ratio(ours_model["median"], base_model["median"]),
        "ours_over_baseline_all_answered_median": ratio(ours_all["median"], base_all["median"]),
        "server_overhead_ms": {
            "baseline": dist(r["server_overhead_ms"] for r in keystroke_rows(base_rows)),
            "ours": dist(r["server_overhead_ms"] for r in keystroke_rows(rows)),
        },
        "engine_ipc": {
            "requests": len(jobs),
            "per_request_ms": dist(job["ipc_ms"] for job in jobs),
            "per_streamed_token_send_ms": dist(
                job["send_ms"] / len(job["hop_ms"]) for job in streamed
            ),
        },
        "rss_mib": {"baseline": base_rss, "ours": rss},
    }


def baseline_lines(baseline: dict[str, Any] | None) -> list[str]:
    """The side-by-side table, when the run replayed a baseline commit's server first."""
    if not baseline:
        return []
    model, answered = baseline["model_served_ms"], baseline["all_answered_ms"]
    paired = baseline["paired_model_served"]
    overhead, ipc, rss = baseline["server_overhead_ms"], baseline["engine_ipc"], baseline["rss_mib"]

    def row(name: str, pair: dict[str, Any], key: str = "median") -> str:
        return f"| {name} | {pair['baseline'][key]} | {pair['ours'][key]} |"

    return [
        f"Side by side in this run: the server of {baseline['label']} (the session replayed "
        "against it first), then ours.",
        "",
        f"| | {baseline['label']} | ours |",
        "|---|---:|---:|",
        row("model-served keystroke, median (ms)", model),
        row("model-served keystroke, p90 (ms)", model, "p90"),
        row("answered keystrokes incl. cache answers, median (ms)", answered),
        row("server overhead, median (ms)", overhead),
        f"| RSS of the language server process (MiB) | {rss['baseline'].get('server')} | "
        f"{rss['ours'].get('server')} |",
        f"| RSS of the engine process (MiB) | – | {rss['ours'].get('engine')} |",
        "",
        f"Keystrokes served by the model in both runs ({paired['n']}): ours / baseline, median "
        f"of per-keystroke ratios **{paired['ours_over_baseline_median_of_ratios']}** "
        f"({paired['baseline_ms']['median']} → {paired['ours_ms']['median']} ms). Over each "
        f"run's own model-served keystrokes: {baseline['ours_over_baseline_median']}; all "
        f"answered: {baseline['ours_over_baseline_all_answered_median']}. Engine-process IPC "
        f"over {ipc['requests']} generations: {ipc['per_request_ms']['median']} ms per request "
        f"(median); {_streamed(ipc)}. Outcomes, baseline / ours: "
        f"{json.dumps(baseline['categories']['baseline'])} / "
        f"{json.dumps(baseline['categories']['ours'])}.",
        "",
    ]


def _streamed(ipc: dict[str, Any]) -> str:
    sends = ipc["per_streamed_token_send_ms"]
    if not sends["n"]:
        return "no tokens were streamed (the completer does not ask for them)"
    return f"{sends['median']} ms of the engine's time per streamed token"
