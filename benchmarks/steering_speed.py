"""What steering costs in time, over LSP: alternatives, and the first suggestion after an idle
unload.

Owns the speed budgets of the alternatives and the idle unload (issue 16):

1. **Alternatives.** Two servers on the same model, `completion.suggestions` 1 and 3, prefetch
   off in both. A method body is typed back into `latency_session/.../text_document.py`, one
   character per keystroke; at each keystroke both servers get the same `didChange` and an
   inline request, one after the other. Measured: each server's time to its answer, and for
   the second when the engine's alternatives for that state were in its cache (from the
   server's trace: the end of the generation that branched), the user pausing until then.
2. **Idle unload.** One server with `model.idleUnloadMinutes` 0.02 and the typed-ahead cache
   off (every answer below is the model's). Warm keystrokes give the usual latency; then,
   three times: wait for the unload, type a character (the edit loads the model again and
   pre-warms the prompt at the cursor), wait for the pre-warm, and time that keystroke's
   answer.

    python -m benchmarks.steering_speed [--model GGUF]   # default: the latency benchmark's
                                                         # quick model (written if missing)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, cpu_name, percentile
from benchmarks.latency.__main__ import ensure_quick_model
from benchmarks.latency.layout import QUICK_MODEL
from tests.reliability.conftest import LspProcess

RESULTS = ROOT / "benchmarks" / "results"
WORKSPACE = ROOT / "benchmarks" / "latency_session" / "pygls"
DOCUMENT = WORKSPACE / "workspace" / "text_document.py"
TYPED = "        if self._source is None and self.path is not None:"


class Typist:
    """One server, one document, the cursor at the end of what was typed."""

    def __init__(self, server: LspProcess, text: str, line: int, column: int) -> None:
        self.server, self.line, self.column = server, line, column
        self.version = 1
        self.uri = server.open(DOCUMENT.as_uri(), text)

    def type(self, char: str) -> None:
        self.version += 1
        position = {"line": self.line, "character": self.column}
        self.server.change(
            self.uri, self.version, {"range": {"start": position, "end": position}, "text": char}
        )
        self.column += 1

    def ask(self) -> tuple[float, list[str]]:
        """Time to the answer at the cursor (ms), and the items."""
        started = time.monotonic()
        texts = self.server.inline(self.uri, self.line, self.column)
        return (time.monotonic() - started) * 1000, texts


def start(tmp: Path, model: Path, trace: Path, settings: dict[str, Any]) -> LspProcess:
    server = LspProcess(tmp, model=model, env={"SC2_TRACE": str(trace)})
    base = {"completion": {"debounceMs": 0, "adaptiveDebounce": False, "prefetch": False}}
    merged = {
        **base,
        **settings,
        "completion": {**base["completion"], **settings.get("completion", {})},
    }
    server.initialize(WORKSPACE, merged)
    server.wait_model(timeout=300)
    return server


def document() -> tuple[str, int, int]:
    """The file with `TYPED` removed, and where it goes (line, column)."""
    original = DOCUMENT.read_text(encoding="utf-8")
    at = original.index(TYPED)
    line = original.count("\n", 0, at)
    column = at - (original.rfind("\n", 0, at) + 1)
    return original[:at] + original[at + len(TYPED) :], line, column


def generations(trace: Path, after: float) -> list[dict[str, Any]]:
    """The server's generation records that started after `after` (its monotonic clock)."""
    found = []
    for raw in trace.read_text().splitlines():
        record = json.loads(raw)
        if record.get("type") == "generate" and record["start"] >= after:
            found.append(record)
    return found


def branch_ends(trace: Path, after: float) -> list[float]:
    return [record["end"] for record in generations(trace, after) if record.get("branches")]


def model_answered(trace: Path, after: float) -> bool:
    """The answer came from a generation (not the typed-ahead cache): only then are there
    alternatives to wait for."""
    return any(not record.get("speculative") for record in generations(trace, after))


def alternatives(tmp: Path, model: Path, keystrokes: int) -> dict[str, Any]:
    text, line, column = document()
    traces = {count: tmp / f"trace-{count}.jsonl" for count in (1, 3)}
    servers = {
        count: start(tmp, model, traces[count], {"completion": {"suggestions": count}})
        for count in (1, 3)
    }
    typists = {count: Typist(server, text, line, column) for count, server in servers.items()}
    rows = []
    try:
        for char in TYPED[:keystrokes]:
            row: dict[str, Any] = {}
            for count, typist in typists.items():
                typist.type(char)
                asked = time.monotonic()
                row[f"first_ms_{count}"], items = typist.ask()
                row[f"items_{count}"] = len(items)
                row[f"model_{count}"] = model_answered(traces[count], asked)
                if count == 3 and row["model_3"]:
                    deadline = time.monotonic() + 120
                    while (
                        not (ends := branch_ends(traces[3], asked)) and time.monotonic() < deadline
                    ):
                        time.sleep(0.01)
                    row["alternatives_ready_ms"] = (ends[0] - asked) * 1000 if ends else None
                    row["items_after"] = len(typist.ask()[1])
                elif count == 3:
                    row["alternatives_ready_ms"] = None  # a cache answer: nothing to branch
            rows.append(row)
    finally:
        for server in servers.values():
            server.shutdown()
    # The first answers compared where both servers asked the model (not their caches, which
    # differ: the one with alternatives holds more).
    both = [r for r in rows if r["model_1"] and r["model_3"]]
    first_1 = [r["first_ms_1"] for r in both]
    first_3 = [r["first_ms_3"] for r in both]
    ready = [r["alternatives_ready_ms"] for r in rows if r["alternatives_ready_ms"] is not None]
    return {
        "keystrokes": len(rows),
        "keystrokes_both_model_answered": len(both),
        "first_ms": {"suggestions_1": _dist(first_1), "suggestions_3": _dist(first_3)},
        "first_3_over_1_median": round(statistics.median(first_3) / statistics.median(first_1), 3),
        "alternatives_ready_ms": _dist(ready),
        "alternatives_ready_over_first_median": round(
            statistics.median(
                r["alternatives_ready_ms"] / r["first_ms_3"]
                for r in rows
                if r["alternatives_ready_ms"]
            ),
            3,
        ),
        "items_when_asked_again_median": statistics.median(
            r["items_after"] for r in rows if "items_after" in r
        ),
        "rows": rows,
    }


def idle_wake(tmp: Path, model: Path, warm_keystrokes: int, cycles: int) -> dict[str, Any]:
    text, line, column = document()
    # The typed-ahead cache off: every keystroke here, warm or after the wake, asks the model.
    idle = {"model": {"idleUnloadMinutes": 0.02}, "completion": {"cache": False}}
    server = start(tmp, model, tmp / "trace-idle.jsonl", idle)
    typist = Typist(server, text, line, column)
    warm: list[float] = []
    woken: list[float] = []
    try:
        for char in TYPED[:warm_keystrokes]:
            typist.type(char)
            warm.append(typist.ask()[0])
        for index in range(cycles):
            _wait(server, lambda s: s["model"]["state"] == "unloaded" and not s["engine"]["pid"])
            before = server.status()["model"]["prewarmed"]
            typist.type(TYPED[warm_keystrokes + index])  # the edit wakes it and pre-warms
            _wait(server, lambda s, b=before: s["model"]["prewarmed"] > b)
            woken.append(typist.ask()[0])
    finally:
        server.shutdown()
    return {
        "warm_ms": _dist(warm),
        "first_after_wake_ms": _dist(woken),
        "first_after_wake_over_warm_median": round(
            statistics.median(woken) / statistics.median(warm), 3
        ),
        "samples": {"warm": warm, "first_after_wake": woken},
    }


def _wait(server: LspProcess, check: Any, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check(server.status()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {server.status()}")
        time.sleep(0.05)


def _dist(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median": round(statistics.median(values), 1) if values else None,
        "p90": round(percentile(values, 0.9), 1) if values else None,
    }


def markdown(report: dict[str, Any]) -> str:
    alt, idle = report["alternatives"], report["idle"]
    return "\n".join(
        [
            f"# Steering speed ({report['model']})",
            "",
            f"{report['date']} · {report['machine']} · `{report['command']}`",
            "",
            "| measure | value | budget |",
            "|---|---:|---|",
            f"| first answer, median: suggestions 1 / 3 (ms) | {alt['first_ms']['suggestions_1']['median']} / "
            f"{alt['first_ms']['suggestions_3']['median']} | |",
            f"| first answer with 3 / with 1, median | {alt['first_3_over_1_median']} | ≤ 1.05 |",
            f"| alternatives in the cache, from the request, median (ms) | {alt['alternatives_ready_ms']['median']} | |",
            f"| alternatives ready / first answer, median of per-keystroke ratios | "
            f"{alt['alternatives_ready_over_first_median']} | ≤ 1.5 |",
            f"| items when asking again for the same state, median | {alt['items_when_asked_again_median']} | |",
            f"| warm keystroke, median (ms) | {idle['warm_ms']['median']} | |",
            f"| first keystroke after an idle unload and the pre-warm, median (ms) | "
            f"{idle['first_after_wake_ms']['median']} | |",
            f"| first after wake / warm, median | {idle['first_after_wake_over_warm_median']} | ≤ 1.2 |",
            "",
            f"{alt['keystrokes']} keystrokes for the alternatives ({alt['keystrokes_both_model_answered']} "
            "answered by the model on both servers; the others from a typed-ahead cache), "
            f"{idle['first_after_wake_ms']['n']} unload-and-wake cycles.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--keystrokes", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--write", type=Path, default=RESULTS / "steering_speed.json")
    args = parser.parse_args(argv)
    model = (args.model or ensure_quick_model(QUICK_MODEL)).resolve()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        report = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{cpu_name()} ({os.cpu_count()} cores)",
            "model": model.name,
            "command": "python -m benchmarks.steering_speed"
            + (" --model ..." if args.model else ""),
            "alternatives": alternatives(tmp, model, args.keystrokes),
            "idle": idle_wake(tmp, model, 5, args.cycles),
        }
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(json.dumps(report, indent=1) + "\n")
    args.write.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
