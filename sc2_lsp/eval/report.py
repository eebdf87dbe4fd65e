"""What an evaluation found: per-arm quality, latency and speed, and the paired difference
between two arms, as JSON (every task's outcome included) and as a Markdown table."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sc2_lsp.config import Settings, to_json
from sc2_lsp.eval.runner import Arm, Outcome


@dataclass(frozen=True, slots=True)
class ArmResult:
    arm: Arm
    outcomes: list[Outcome]
    seconds: float
    model: str
    """The model file's name."""


@dataclass(frozen=True, slots=True)
class Report:
    suite: str
    cursor: str
    seed: int
    limit: int | None
    workspace: str | None
    sandbox: str | None
    """How HumanEval programs were run; None when nothing was executed."""
    arms: list[ArmResult]


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _percentile(values: list[float], percent: int) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def _rate(count: int, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def metrics(outcomes: list[Outcome]) -> dict[str, Any]:
    latency = [outcome.ms for outcome in outcomes]
    executed = [outcome.passed for outcome in outcomes if outcome.passed is not None]
    return {
        "tasks": len(outcomes),
        "answered": sum(outcome.answered for outcome in outcomes),
        "exact_match": _share([outcome.exact for outcome in outcomes]),
        "edit_similarity": statistics.fmean(o.similarity for o in outcomes) if outcomes else None,
        "pass_at_1": _share(executed) if executed else None,
        "empty": sum(not outcome.text for outcome in outcomes),
        "healed": sum(bool(outcome.healed) for outcome in outcomes),
        "latency_ms": {
            "p50": _percentile(latency, 50),
            "p90": _percentile(latency, 90),
            "p99": _percentile(latency, 99),
            "mean": statistics.fmean(latency) if latency else None,
        },
        "prompt_tokens_mean": statistics.fmean(o.prompt_tokens for o in outcomes)
        if outcomes
        else None,
        "context_tokens_mean": statistics.fmean(o.context_tokens for o in outcomes)
        if outcomes
        else None,
        "evaluated_tokens_mean": statistics.fmean(o.evaluated_tokens for o in outcomes)
        if outcomes
        else None,
        "prompt_tokens_per_s": _rate(
            sum(o.evaluated_tokens for o in outcomes), sum(o.prompt_seconds for o in outcomes)
        ),
        "generated_tokens_per_s": _rate(
            sum(o.generated_tokens for o in outcomes), sum(o.generate_seconds for o in outcomes)
        ),
    }


def mcnemar(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: how likely a split this uneven is by chance."""
    total = only_a + only_b
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(min(only_a, only_b) + 1)) / float(1 << total)
    return min(1.0, 2 * tail)


def paired(a: list[Outcome], b: list[Outcome], right: Callable[[Outcome], bool | None]) -> Any:
    """Tasks one arm got right and the other wrong, both ways, with McNemar's p."""
    pairs = [(right(x), right(y)) for x, y in zip(a, b, strict=True)]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    only_a = sum(1 for x, y in pairs if x and not y)
    only_b = sum(1 for x, y in pairs if y and not x)
    return {"only_a": only_a, "only_b": only_b, "p_value": mcnemar(only_a, only_b)}


def portable(settings: Settings) -> Any:
    """The settings as JSON, the model named by its file name (results leave this machine)."""
    found = to_json(settings)
    if found["model"]["path"]:
        found["model"]["path"] = Path(found["model"]["path"]).name
    return found


def changed_settings(settings: Settings) -> dict[str, Any]:
    """The settings that differ from the defaults, as dotted camelCase keys."""
    defaults = dict(_flat(to_json(Settings())))
    return {key: value for key, value in _flat(portable(settings)) if defaults.get(key) != value}


def _flat(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat(inner, f"{prefix}{key}.")
    else:
        yield prefix[:-1], value


def as_json(report: Report) -> dict[str, Any]:
    arms = []
    for result in report.arms:
        arms.append(
            {
                "label": result.arm.label,
                "postprocess": result.arm.postprocess,
                "model": result.model,
                "settings_changed": changed_settings(result.arm.settings),
                "settings": portable(result.arm.settings),
                "seconds": result.seconds,
                "metrics": metrics(result.outcomes),
                "outcomes": [dataclasses.asdict(outcome) for outcome in result.outcomes],
            }
        )
    found: dict[str, Any] = {
        field.name: getattr(report, field.name) for field in dataclasses.fields(report)
    }
    found["arms"] = arms
    if len(report.arms) == 2:
        a, b = (result.outcomes for result in report.arms)
        found["paired"] = {
            "exact_match": paired(a, b, lambda outcome: outcome.exact),
            "pass_at_1": paired(a, b, lambda outcome: outcome.passed),
        }
    return found


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _latency(found: dict[str, Any]) -> str:
    latency = found["latency_ms"]
    return " / ".join(_number(latency[key]) for key in ("p50", "p90", "p99")) + " ms"


_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("tasks (answered)", lambda m: f"{m['tasks']} ({m['answered']})"),
    ("exact match", lambda m: _percent(m["exact_match"])),
    ("edit similarity", lambda m: _percent(m["edit_similarity"])),
    ("pass@1 (tests run)", lambda m: _percent(m["pass_at_1"])),
    ("empty suggestions", lambda m: str(m["empty"])),
    ("prompts healed", lambda m: str(m["healed"])),
    ("latency p50 / p90 / p99", _latency),
    (
        "prompt tokens, mean (evaluated; context)",
        lambda m: (
            f"{_number(m['prompt_tokens_mean'])} ({_number(m['evaluated_tokens_mean'])}; "
            f"{_number(m['context_tokens_mean'])})"
        ),
    ),
    (
        "prompt / generated tokens/s",
        lambda m: f"{_number(m['prompt_tokens_per_s'])} / {_number(m['generated_tokens_per_s'])}",
    ),
)


_METRIC_NAMES = {"exact_match": "exact match", "pass_at_1": "tests passed"}


def markdown(found: dict[str, Any]) -> str:
    """A Markdown table of `as_json(report)`: one column per arm."""
    arms = found["arms"]
    where = f" of `{found['workspace']}`" if found["workspace"] else ""
    lines = [
        f"#### {found['suite']}{where}, cursor at `{found['cursor']}` "
        f"(seed {found['seed']}, limit {found['limit'] or 'none'})",
        "",
        "| | " + " | ".join(f"`{arm['label']}`" for arm in arms) + " |",
        "|---|" + "---:|" * len(arms),
    ]
    for name, cell in _ROWS:
        lines.append(f"| {name} | " + " | ".join(cell(arm["metrics"]) for arm in arms) + " |")
    lines.append(
        "| wall time | " + " | ".join(f"{arm['seconds'] / 60:.1f} min" for arm in arms) + " |"
    )
    lines.append("")
    for metric, pair in found.get("paired", {}).items():
        if pair["only_a"] + pair["only_b"] or metric == "exact_match":
            lines.append(
                f"- {_METRIC_NAMES[metric]}: right only with `{arms[1]['label']}` on "
                f"{pair['only_b']} tasks, only with `{arms[0]['label']}` on {pair['only_a']} "
                f"(exact McNemar p = {pair['p_value']:.3g})"
            )
    for arm in arms:
        settings = arm["settings_changed"].items()
        changed = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in settings) or "none"
        post = "" if arm["postprocess"] else ", raw model output (no post-processing)"
        lines.append(f"- `{arm['label']}`: model `{arm['model']}`{post}; settings: {changed}")
    if found["sandbox"]:
        lines.append(f"- tests run in: {found['sandbox']}")
    return "\n".join(lines) + "\n"
