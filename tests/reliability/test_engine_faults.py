"""The engine process misbehaving on purpose: the language server must stay up through it all.

Each fault is real, injected into the engine process through `SC2_ENGINE_FAULT` (see
`sc2_lsp.engine.inject`): a SIGSEGV from native code while loading, inside llama.cpp's prompt
evaluation and while generating; an abort; a hang (the watchdog ends it); a SIGKILL as the OOM
killer sends; an allocation beyond RLIMIT_AS; the AMX crash of llama.cpp #20824. In every case
the server process stays up, every request is answered, the user gets one clear message, the
engine comes back, and the next completion works. Crashing every time ends in one message
and no more restarts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import merged
from tests.reliability.conftest import FAST, Figures, LspProcess
from tests.reliability.test_faults import children_of

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SETTINGS = merged(FAST, {"model": {"watchdogSeconds": 3}})


def engine_messages(server: LspProcess) -> list[str]:
    return [
        note["params"]["message"]
        for note in server.notifications
        if note["method"] == "window/showMessage" and "model process" in note["params"]["message"]
    ]


def start(
    lsp_factory: Callable[..., LspProcess], model: Path, tmp_path: Path, fault: str, once: bool
) -> LspProcess:
    env = {"SC2_ENGINE_FAULT": fault, "SC2_LSP_STATE_DIR": str(tmp_path / "state")}
    if once:
        env["SC2_ENGINE_FAULT_ONCE"] = str(tmp_path / f"fired-{fault}")
    server = lsp_factory(model=model, env=env)
    server.initialize(tmp_path, SETTINGS)
    return server


def wait_for(
    server: LspProcess, check: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = server.status()
        if check(status):
            return status
        assert time.monotonic() < deadline, json.dumps(status)
        time.sleep(0.05)


def all_answered(server: LspProcess) -> None:
    missing = server.sent_ids - set(server.responses)
    assert not missing and not server.duplicates, (missing, server.duplicates)


FAULTS = {
    "segv@load": "SIGSEGV",
    "segv@prompt": "SIGSEGV",
    "segv@generate": "SIGSEGV",
    "abort@prompt": "SIGABRT",
    "hang@prompt": "stopped answering",
    "kill@generate": "SIGKILL",
    "oom@generate": "MemoryError",
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_server_survives_an_engine_fault(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
    fault: str,
) -> None:
    server = start(lsp_factory, emit_model_factory("x"), tmp_path, fault, once=True)
    first_pid = None
    if not fault.endswith("@load"):
        first_pid = server.wait_model()["engine"]["pid"]
        uri = server.open((tmp_path / "a.py").as_uri(), "value = \n")
        started = time.monotonic()
        assert server.inline(uri, 0, 8) == []  # the request in flight gets an empty answer
        answered_s = time.monotonic() - started
        assert answered_s < (8 if fault.startswith("hang") else 3), answered_s
    status = wait_for(
        server, lambda s: s["model"]["state"] == "ready" and s["engine"]["restarts"] == 1
    )
    assert server.alive()
    assert status["engine"]["pid"] != first_pid and children_of(server.pid) == [
        status["engine"]["pid"]
    ]
    assert FAULTS[fault] in status["engine"]["lastCause"], status["engine"]
    messages = engine_messages(server)
    assert len(messages) == 1, messages
    assert FAULTS[fault] in messages[0] and "restarting" in messages[0], messages
    server.assert_completion_works(tmp_path)
    all_answered(server)
    assert server.shutdown() == 0
    figures.add("faults_injected", f"engine process: {fault}")


def test_an_engine_that_always_crashes_ends_in_one_message(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    server = start(lsp_factory, emit_model_factory("x"), tmp_path, "segv@prompt", once=False)
    server.wait_model()
    uri = server.open((tmp_path / "a.py").as_uri(), "value = \n")
    for attempt in range(3):
        wait_for(server, lambda s: s["model"]["state"] in ("ready", "failed"))
        assert server.inline(uri, 0, 8) == [], attempt
    status = wait_for(server, lambda s: s["model"]["state"] == "failed")
    assert status["engine"]["restarts"] == 3
    gave_up = [m for m in engine_messages(server) if "times" in m]
    assert len(gave_up) == 1 and "safeMode" in gave_up[0], engine_messages(server)
    # No busy restart cycle: nothing runs any more, and requests are answered at once.
    time.sleep(1.5)
    assert children_of(server.pid) == []
    started = time.monotonic()
    assert server.inline(uri, 0, 8) == []
    assert time.monotonic() - started < 1
    assert server.status()["engine"]["restarts"] == 3
    # A settings change that reloads the model tries again (and crashes again, once more).
    all_answered(server)
    assert server.shutdown() == 0


def test_a_crash_loop_at_load_ends_in_one_message(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    server = start(lsp_factory, emit_model_factory("x"), tmp_path, "segv@load", once=False)
    status = server.wait_model("failed", timeout=60)
    assert status["engine"]["restarts"] == 3
    errors = [
        n["params"]["message"]
        for n in server.notifications
        if n["method"] == "window/showMessage" and n["params"]["type"] == 1
    ]
    assert any("crashed 3 times" in message for message in errors), errors
    assert children_of(server.pid) == []
    all_answered(server)
    assert server.shutdown() == 0


def test_the_amx_crash_is_recognised_avoided_and_remembered(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    """llama.cpp #20824 as a CPU with AMX shows it: SIGSEGV in compute with AMX frames."""
    model = emit_model_factory("x")
    server = start(lsp_factory, model, tmp_path, "amx@prompt", once=False)
    server.wait_model()
    uri = server.open((tmp_path / "a.py").as_uri(), "value = \n")
    assert server.inline(uri, 0, 8) == []
    status = wait_for(server, lambda s: s["model"]["state"] == "ready" and s["engine"]["restarts"])
    assert status["engine"]["fallback"]["safety"] == "AMX off", status["engine"]
    (message,) = engine_messages(server)
    assert "AMX" in message and "remembered" in message, message
    server.assert_completion_works(tmp_path)  # the fault does not fire with AMX refused
    assert server.shutdown() == 0
    # The next start knows: it loads with AMX refused before anything crashes.
    again = start(lsp_factory, model, tmp_path, "amx@prompt", once=False)
    status = again.wait_model()
    assert status["engine"]["fallback"]["safety"] == "AMX off"
    again.assert_completion_works(tmp_path)
    assert again.status()["engine"]["restarts"] == 0 and engine_messages(again) == []
    assert again.shutdown() == 0
    figures.add("faults_injected", "engine process: AMX crash (llama.cpp #20824)")
