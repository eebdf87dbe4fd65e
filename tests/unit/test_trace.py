"""The optional JSON-lines trace: what the completer records per request, and nothing when off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sc2_lsp.completer import Completer
from sc2_lsp.config import resolve
from sc2_lsp.trace import NO_TRACE, Trace
from tests.fakes import ScriptedEngine
from tests.unit.test_completer_scheduling import at


async def test_a_completion_is_traced_prepare_debounce_generate(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    engine = ScriptedEngine(script=lambda _prompt: "compute(1)\n")
    settings, _ = resolve({"completion": {"debounceMs": 0, "prefetch": False}})
    try:
        completer = Completer(engine, trace=Trace(path))
        suggestion = await completer.complete(at("value = "), settings)
    finally:
        engine.close()
    assert suggestion is not None
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [event["type"] for event in events] == ["debounce", "prepare", "generate"]
    generate = events[-1]
    assert generate["prompt"] == engine.jobs[0].prompt and generate["speculative"] is False
    # The raw generation: the healed space the prompt ended on, spelled again, then the script.
    assert generate["text"] == " compute(1)\n" and generate["stop_reason"] == "callback"
    assert generate["start"] <= generate["end"] and generate["kv_after"] > 0
    assert "value" not in json.dumps(events[:2])  # no document text outside prompt ids


def test_no_trace_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SC2_TRACE", raising=False)
    assert Trace.from_env() is NO_TRACE and not NO_TRACE.enabled
    monkeypatch.setenv("SC2_TRACE", str(tmp_path / "t.jsonl"))
    assert Trace.from_env().enabled
