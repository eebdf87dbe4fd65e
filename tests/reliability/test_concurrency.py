"""Concurrency over raw stdio: model reloads racing prompt building, and a stress loop of
reloads, edits, completions, index events and cancellations sent from several threads.

The server runs with Python's faulthandler on (`PYTHONFAULTHANDLER`), so a crash in native
code leaves every thread's stack in its stderr, which the failure message shows.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import CANCELLED, FAST, Figures, LspProcess

pytestmark = [pytest.mark.e2e, pytest.mark.model]

FAULTHANDLER = {"PYTHONFAULTHANDLER": "1"}
STRESS_SECONDS = 60.0


def large_document(kib: int = 200) -> str:
    """About `kib` KiB of Python, ending in a line to complete."""
    block = "".join(
        f"def handler_{n}(request, limit={n}):\n"
        f"    values = [item * {n} for item in request.items if item < limit]\n"
        f"    return sum(values) / max(len(values), 1)\n\n"
        for n in range(40)
    )
    return block * (kib * 1024 // len(block) + 1) + "result = "


RACY = {
    # Every request builds its prompt (no cached or prefetched answer), over a wide window.
    "completion": {**FAST["completion"], "cache": False, "prefetch": False},
    "prompt": {"prefixTokens": 3000, "maxPromptTokens": 3600},
}


def reload_settings(threads: int) -> dict[str, Any]:
    """A settings push that changes the model's thread count: the model reloads."""
    return {"settings": {"sc2": {**RACY, "model": {"nThreads": threads}}}}


def answered(server: LspProcess, ids: list[Any], timeout: float = 60) -> dict[int, int]:
    """Wait for every id; returns {error code: count} (0 for results). Fails on a lost id,
    a dead server or an InternalError."""
    codes: dict[int, int] = {}
    for msg_id in ids:
        answer = server.wait(msg_id, timeout)
        code = answer["error"]["code"] if "error" in answer else 0
        assert code in (0, CANCELLED), (answer, server.tail())
        codes[code] = codes.get(code, 0) + 1
    return codes


def test_model_reloads_racing_prompt_building_on_a_large_document(
    lsp_factory: Callable[..., LspProcess], slow_model_path: Path, tmp_path: Path, figures: Figures
) -> None:
    """Issue 11, defect 1: a reload freed the vocabulary the tokenizer was reading. A model
    big enough that freeing it takes a while widens the window the race needs."""
    server = lsp_factory(model=slow_model_path, env=FAULTHANDLER)
    server.initialize(tmp_path, RACY)
    server.wait_model()
    text = large_document()
    uri = server.open((tmp_path / "large.py").as_uri(), text)
    last_line = text.count("\n")
    ids: list[Any] = []
    rounds = 150
    for round_number in range(rounds):
        server.notify("workspace/didChangeConfiguration", reload_settings(1 + round_number % 2))
        for _ in range(3):
            assert server.alive(), f"crashed in round {round_number}: {server.tail(20_000)}"
            line = last_line - 4 * (len(ids) % 50)  # a new window each time
            ids.append(server.inline_id(uri, line, 9 if line == last_line else 0))
            time.sleep(0.03)
    codes = answered(server, ids)
    assert server.alive(), server.tail(20_000)
    server.wait_model()
    server.assert_completion_works(tmp_path)
    assert server.shutdown() == 0
    figures.record(
        "reload_race",
        {
            "document_kib": len(text) // 1024,
            "reloads": rounds,
            "requests": len(ids),
            "codes": codes,
        },
    )


class Stress:
    """Shared state of the stress loop: ids to be answered, counts, the first failure."""

    def __init__(self, server: LspProcess, root: Path, seconds: float) -> None:
        self.server, self.root = server, root
        self.deadline = time.monotonic() + seconds
        self.ids: list[Any] = []
        self.counts: dict[str, int] = {}
        self.failure: BaseException | None = None
        self._lock = threading.Lock()

    def running(self) -> bool:
        return self.failure is None and time.monotonic() < self.deadline

    def count(self, what: str, msg_id: Any = None) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1
            if msg_id is not None:
                self.ids.append(msg_id)

    def loop(self, step: Callable[[random.Random], None], seed: int) -> threading.Thread:
        """A client thread calling `step` until the time is up or something failed."""

        def run() -> None:
            rng = random.Random(seed)
            try:
                while self.running():
                    step(rng)
            except BaseException as error:
                self.failure = self.failure or error

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def reload(self, rng: random.Random) -> None:
        """Push settings with another thread count than the last push: the model reloads."""
        settings: dict[str, Any] = {"completion": {**FAST["completion"], "cache": False}}
        settings["model"] = {"nThreads": 1 + self.counts.get("reloads", 0) % 2}
        if rng.random() < 0.2:
            settings["model"]["nCtx"] = rng.choice([2048, 4096])
        self.server.notify("workspace/didChangeConfiguration", {"settings": {"sc2": settings}})
        self.count("reloads")
        time.sleep(rng.uniform(0.3, 1.0))

    def type_and_complete(self, rng: random.Random, uri: str, state: dict[str, int]) -> None:
        state["version"] += 1
        line = rng.randrange(state["lines"])
        text = rng.choice(["x", "value = ", "\n", "self.", "(a, b)", ""])
        end = {"line": line, "character": rng.randrange(4)}
        self.server.change(
            uri,
            state["version"],
            {"range": {"start": {"line": line, "character": 0}, "end": end}, "text": text},
        )
        state["lines"] += text.count("\n")
        self.count("edits")
        msg_id = self.server.inline_id(uri, line, rng.randrange(12), invoked=rng.random() < 0.5)
        self.count("completions", msg_id)
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0, 0.05))
            self.server.notify("$/cancelRequest", {"id": msg_id})
            self.count("cancels")
        time.sleep(rng.uniform(0.005, 0.05))

    def index_events(self, rng: random.Random) -> None:
        path = self.root / f"gen_{rng.randrange(20)}.py"
        if path.exists() and rng.random() < 0.3:
            path.unlink()
            kind = 3
        else:
            kind = 2 if path.exists() else 1
            path.write_text(f"def generated_{rng.randrange(1000)}(a, b):\n    return a + b\n")
        self.server.notify(
            "workspace/didChangeWatchedFiles", {"changes": [{"uri": path.as_uri(), "type": kind}]}
        )
        self.count("index_events")
        time.sleep(rng.uniform(0.02, 0.1))

    def ask_status(self, rng: random.Random) -> None:
        command = rng.choice(["sc2.status", "sc2.lastPrompt"])
        msg_id = self.server.request("workspace/executeCommand", {"command": command})
        self.count("status_requests", msg_id)
        time.sleep(rng.uniform(0.05, 0.2))


@pytest.mark.slow
def test_concurrent_reloads_edits_completions_index_events_and_cancellations(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    """Five client threads for STRESS_SECONDS: no crash, and every request answered once."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "util.py").write_text("def helper(a, b):\n    return a + b\n")
    server = lsp_factory(model=emit_model_factory("x"), env=FAULTHANDLER)
    server.initialize(workspace, FAST)
    server.wait_model()
    stress = Stress(server, workspace, STRESS_SECONDS)
    editors = []
    for number in range(2):
        text = "from util import helper\n\n" + large_document(20)
        uri = server.open((workspace / f"editing_{number}.py").as_uri(), text)
        state = {"version": 1, "lines": text.count("\n")}
        editors.append((uri, state))
    started = time.monotonic()
    threads = [
        stress.loop(stress.reload, 1),
        stress.loop(stress.index_events, 2),
        stress.loop(stress.ask_status, 3),
        *(
            stress.loop(functools.partial(stress.type_and_complete, uri=uri, state=state), 10 + n)
            for n, (uri, state) in enumerate(editors)
        ),
    ]
    for thread in threads:
        thread.join(STRESS_SECONDS + 60)
    seconds = time.monotonic() - started
    assert stress.failure is None, f"{stress.failure!r}\n{server.tail(20_000)}"
    codes = answered(server, stress.ids)
    assert server.alive(), server.tail(20_000)
    assert not server.duplicates and set(server.responses) <= server.sent_ids
    server.wait_model()
    server.assert_completion_works(workspace)
    assert server.shutdown() == 0
    assert seconds >= STRESS_SECONDS
    figures.record(
        "concurrency_stress",
        {
            "seconds": round(seconds, 1),
            "client_threads": len(threads),
            **stress.counts,
            "requests": len(stress.ids),
            "answers_by_code": {str(code): count for code, count in sorted(codes.items())},
            "unanswered": 0,
            "crashes": 0,
        },
    )
