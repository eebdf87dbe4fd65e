"""The client process named in `initialize` (`processId`): once it is gone the server exits,
even though its pipes stay open (here the test holds them, as a wrapper or daemon would).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sc2_lsp.client_process import POLL_SECONDS, process_alive
from tests.reliability.conftest import FAST, Figures, LspProcess
from tests.reliability.test_faults import children_of

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def start_parent() -> subprocess.Popen[bytes]:
    """A stand-in for the editor: a process that lives until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def initialize_watching(server: LspProcess, workspace: Path, pid: int) -> None:
    result = server.call(
        "initialize",
        {
            "processId": pid,
            "rootUri": workspace.as_uri(),
            "capabilities": {},
            "initializationOptions": FAST,
        },
    )
    assert "capabilities" in result
    server.notify("initialized", {})


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_the_server_exits_when_its_client_process_is_gone(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
    reaped: bool,
) -> None:
    parent = start_parent()
    try:
        server = lsp_factory(model=emit_model_factory("x"))
        initialize_watching(server, tmp_path, parent.pid)
        server.wait_model()
        server.assert_completion_works(tmp_path)
        time.sleep(2 * POLL_SECONDS)
        assert server.alive(), "the server exited while its client process was alive"
        engines = children_of(server.pid)
        assert engines, "the engine process was expected to run"
        parent.kill()
        if reaped:
            parent.wait(10)
        started = time.monotonic()
        code = server.process.wait(10)
        elapsed = time.monotonic() - started
    finally:
        parent.kill()
        parent.wait(10)
    assert code == 1, (code, server.tail())  # no `shutdown` came: as after a bare `exit`
    assert not [pid for pid in engines if Path(f"/proc/{pid}").exists()]  # the engine went too
    assert elapsed < 3 * POLL_SECONDS + 1, elapsed
    assert "client process" in server.tail() and "Traceback" not in server.tail()
    figures.record(
        f"client_process_gone_{'reaped' if reaped else 'zombie'}",
        {"exit_code": code, "exit_seconds": round(elapsed, 2)},
    )
    figures.add("faults_injected", "client process gone, pipes still open")


def test_a_process_id_that_is_no_process_here_is_not_watched(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """An editor in another PID namespace (a container) sends a pid that means nothing here:
    exiting at once would make the server unusable there."""
    parent = start_parent()
    parent.kill()
    parent.wait(10)
    assert not process_alive(parent.pid)
    server = lsp_factory(model=emit_model_factory("x"))
    initialize_watching(server, tmp_path, parent.pid)
    server.wait_model()
    time.sleep(2 * POLL_SECONDS)
    server.assert_completion_works(tmp_path)
    assert server.shutdown() == 0
