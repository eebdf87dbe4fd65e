"""RemoteEngine's promises that need no server: every caller is answered, whatever happens."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sc2_lsp.config import EngineSettings
from sc2_lsp.engine import CancelToken, EngineError, GenerationParams, LoadOptions
from sc2_lsp.engine.remote.engine import RemoteEngine
from sc2_lsp.engine.remote.openai import DIALECT
from tests.fakehub import refused_url, silent_server

pytestmark = pytest.mark.model  # reads the vocabulary with llama.cpp


def engine_at(url: str, events: list[str]) -> RemoteEngine:
    settings = EngineSettings(kind="openai", url=url, read_timeout_ms=60000)
    return RemoteEngine(DIALECT, settings, on_event=lambda event: events.append(event.message))


def test_closing_while_connecting_answers_the_load(tiny_model_path: Path) -> None:
    listener = silent_server()  # accepts connections, never answers
    host, port = listener.getsockname()
    engine = engine_at(f"http://{host}:{port}", [])
    loading = engine.load(LoadOptions(tiny_model_path))
    time.sleep(0.3)
    started = time.monotonic()
    engine.close()
    with pytest.raises(EngineError, match="closed while connecting"):
        loading.result(5)
    assert time.monotonic() - started < 10
    listener.close()


def test_an_unreachable_server_is_told_once_and_answered_at_once(tiny_model_path: Path) -> None:
    events: list[str] = []
    url = refused_url()
    engine = engine_at(url, events)
    with pytest.raises(EngineError, match=f"cannot reach {url}.*retries with backoff"):
        engine.load(LoadOptions(tiny_model_path)).result(10)
    assert engine.health.state == "restarting" and not engine.ready
    started = time.monotonic()
    for _ in range(3):
        generation = engine.generate([1, 2, 3], GenerationParams(), CancelToken()).result(1)
        assert generation.stop_reason == "unavailable"
    assert time.monotonic() - started < 0.5
    assert events == []  # the load's own error was the message; retries are quiet
    engine.close()
    state: str = engine.health.state  # read afresh: mypy would keep the "restarting" above
    assert state == "closed"
