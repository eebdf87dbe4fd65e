"""Reliability fixtures: a raw JSON-RPC client over the real server's stdio, and the figures file.

`LspProcess` speaks LSP framing by hand (no pygls on the client side), so tests can send
anything — broken JSON, wrong types, lone surrogates — and still check that every request id
gets exactly one answer. A reader thread collects responses by id and answers the server's own
requests (progress tokens, configuration, registrations) so the server never waits on us.

`figures` collects the numbers the README quotes (messages fuzzed, faults injected, requests
under load, RSS). A run merges them into `build/reliability/figures.json` (ignored); only
`make figures` (`SC2_UPDATE_FIGURES=1`) merges them into the committed
`tests/reliability/figures.json` the README quotes, so a test run never writes a tracked file.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = Path(__file__).with_name("figures.json")
"""The committed figures the README quotes; written only by `make figures`."""
RUN_FIGURES_FILE = ROOT / "build" / "reliability" / "figures.json"
"""Where every run's figures go."""

FAST = {
    "completion": {
        "debounceMs": 0,
        "adaptiveDebounce": False,
        "maxTokensLine": 6,
        "maxTokens": 8,
        "maxPredictMs": 120_000,
    }
}
"""Settings that make the emit-'x' model answer at once and deterministically."""

CANCELLED = -32800


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def encode(payload: Any) -> bytes:
    """JSON as a client would send it; lone surrogates stay `\\udxxx` escapes (valid JSON)."""
    return json.dumps(payload, ensure_ascii=True).encode("ascii")


def rss_kib(pid: int) -> int:
    """Resident set size of `pid` in KiB, from /proc (no psutil needed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class ServerGone(AssertionError):
    pass


class LspProcess:
    """`python -m sc2_lsp --stdio` with a hand-rolled client. Thread-safe sends."""

    def __init__(
        self,
        tmp_path: Path,
        model: Path | str | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        configuration: dict[str, Any] | None = None,
        python: tuple[str, ...] = (sys.executable,),
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        command = [*python, "-m", "sc2_lsp", "--stdio", *args]
        if model is not None:
            command += ["--model", str(model)]
        full_env = {
            **os.environ,
            "SC2_LSP_MODEL_DIR": str(tmp_path / "models"),
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        self.stderr_path = tmp_path / f"server-stderr-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=full_env,
            cwd=ROOT,
            preexec_fn=preexec_fn,
        )
        self.configuration = configuration
        self.transcript: Any = None
        """A binary file: when set, every frame sent is appended to it (for debugging)."""
        self.responses: dict[int | str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self.duplicates: list[dict[str, Any]] = []
        self.null_id_errors: list[dict[str, Any]] = []
        self.sent_ids: set[int | str] = set()
        """Answers to messages whose id could not be read (parse errors, non-objects)."""
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self.eof = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- transport ------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.process.pid

    def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        if self.transcript is not None:
            self.transcript.write(data + b"\n")
        with self._write_lock:
            try:
                self.process.stdin.write(data)
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError) as error:
                raise ServerGone(f"server stdin closed: {self.tail()}") from error

    def send(self, payload: Any) -> None:
        self.send_raw(frame(payload if isinstance(payload, bytes) else encode(payload)))

    def next_id(self) -> int:
        return next(self._ids) + 1_000_000

    def request(
        self, method: str, params: Any = None, msg_id: int | str | None = None
    ) -> int | str:
        """Send a request, return its id (not the answer)."""
        msg_id = self.next_id() if msg_id is None else msg_id
        self.sent_ids.add(msg_id)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return msg_id

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def wait(self, msg_id: int | str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no answer to request {msg_id!r} in {timeout}s")
                if self.eof:
                    raise ServerGone(
                        f"server closed stdout before answering {msg_id!r}: {self.tail()}"
                    )
                self._cond.wait(min(left, 0.5))
            return self.responses[msg_id]

    def call(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        """Request and return the result; fail on an error response."""
        answer = self.wait(self.request(method, params), timeout)
        assert "error" not in answer, answer
        return answer["result"]

    def _read_loop(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                assert length is not None, "server sent a frame without Content-Length"
                body = stream.read(length)
                if len(body) < length:
                    return
                self._dispatch(json.loads(body))
        finally:
            with self._cond:
                self.eof = True
                self._cond.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            self.server_requests.append(message)
            result: Any = None
            if message["method"] == "workspace/configuration":
                items = message.get("params", {}).get("items", [])
                result = [self.configuration for _ in items]
            with contextlib.suppress(ServerGone):
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
            return
        with self._cond:
            if "method" in message:
                self.notifications.append(message)
            elif message.get("id") is None:
                self.null_id_errors.append(message)
            elif message.get("id") in self.responses:
                self.duplicates.append(message)
            else:
                self.responses[message["id"]] = message
            self._cond.notify_all()

    # -- LSP helpers ----------------------------------------------------------------------------

    def initialize(
        self,
        root: Path,
        init_options: Any = None,
        encodings: list[str] | None = None,
        configuration: bool = False,
    ) -> dict[str, Any]:
        capabilities: dict[str, Any] = {
            "textDocument": {"inlineCompletion": {}, "completion": {}, "synchronization": {}},
            "workspace": {"workspaceFolders": True, "configuration": configuration},
            "window": {"workDoneProgress": True},
        }
        if encodings:
            capabilities["general"] = {"positionEncodings": encodings}
        result = self.call(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": capabilities,
                "initializationOptions": init_options,
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            },
        )
        self.notify("initialized", {})
        return dict(result)

    def status(self) -> dict[str, Any]:
        return dict(self.call("workspace/executeCommand", {"command": "sc2.status"}))

    def last_prompt(self) -> str | None:
        prompt = self.call("workspace/executeCommand", {"command": "sc2.lastPrompt"})
        assert prompt is None or isinstance(prompt, str)
        return prompt

    def wait_model(self, state: str = "ready", timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            current = self.status()
            if current["model"]["state"] == state:
                return current
            assert time.monotonic() < deadline, f"model never became {state}: {current}"
            time.sleep(0.05)

    def open(self, uri: str, text: str, language: str = "python", version: int = 1) -> str:
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": language,
                    "version": version,
                    "text": text,
                }
            },
        )
        return uri

    def change(self, uri: str, version: int, *changes: dict[str, Any]) -> None:
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": list(changes)},
        )

    def inline_id(self, uri: str, line: int, character: int, invoked: bool = True) -> int | str:
        return self.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 1 if invoked else 2},
            },
        )

    def inline(self, uri: str, line: int, character: int, timeout: float = 60) -> list[str]:
        """Inline completion texts at a position (invoked trigger), best first. A state answered
        before may carry alternatives the engine computed in the background since."""
        answer = self.wait(self.inline_id(uri, line, character), timeout)
        assert "error" not in answer, answer
        return [item["insertText"] for item in answer["result"]["items"]]

    def assert_completion_works(self, tmp_path: Path, expect: str | None = "x") -> None:
        """The 'next completion still works' check: a fresh document gets a suggestion made of
        `expect` (the emit models), or with `expect=None` any answer at all."""
        uri = (tmp_path / f"probe-{self.next_id()}.py").as_uri()
        self.open(uri, "value = \n")
        texts = self.inline(uri, 0, 8)
        if expect is not None:
            assert texts and set(texts[0]) == {expect}, (texts, self.tail())
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def shutdown(self, timeout: float = 20) -> int:
        """shutdown + exit; returns the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ServerGone, AssertionError):
                self.wait(self.request("shutdown"), timeout)
                self.notify("exit")
        try:
            return self.process.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()
        self._stderr.close()
        if self.transcript is not None:
            self.transcript.close()

    def tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
        with contextlib.suppress(OSError):
            return self.stderr_path.read_text(errors="replace")[-chars:]
        return ""

    def alive(self) -> bool:
        return self.process.poll() is None


@pytest.fixture
def lsp_factory(tmp_path: Path) -> Iterator[Callable[..., LspProcess]]:
    started: list[LspProcess] = []

    def start(*args: Any, **kwargs: Any) -> LspProcess:
        server = LspProcess(tmp_path, *args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


# -- figures -----------------------------------------------------------------------------------


class Figures:
    """Numbers and named cases the tests produced; lists merge with earlier runs' lists."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def record(self, key: str, value: Any) -> None:
        self.values[key] = value
        print(f"[figure] {key} = {json.dumps(value)}")

    def add(self, key: str, *names: str) -> None:
        """Name a case of kind `key` (e.g. a fault injected); reported as a list and a count."""
        bucket = self.values.setdefault(key, [])
        bucket.extend(name for name in names if name not in bucket)


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _FIGURES.values:
        return
    targets = [RUN_FIGURES_FILE]
    if os.environ.get("SC2_UPDATE_FIGURES") == "1":
        targets.append(FIGURES_FILE)
    for target in targets:
        merge_figures(target, _FIGURES.values)


def merge_figures(path: Path, values: dict[str, Any]) -> None:
    """Replace `path`'s figures by `values`; lists of named cases grow by union."""
    try:
        merged = json.loads(path.read_text())
    except (OSError, ValueError):
        merged = {}
    for key, value in values.items():
        if isinstance(value, list):
            value = sorted(set(merged.get(key, [])) | set(value))
            merged[f"{key}_count"] = len(value)
        merged[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
