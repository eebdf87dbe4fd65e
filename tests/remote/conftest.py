"""Remote-engine fixtures: a real llama-server (built by `make llama-server`) on real-vocabulary
models written by `tests/gguf_factory.py`, and the server's view of what it was asked."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.gguf_factory import STARCODER2_VOCAB, emit_token_for, load_vocab, write_starcoder2
from tools import llama_server

THREADS = 2


@dataclass
class LlamaServer:
    """One llama-server process; `kill` and `start` again keep the port."""

    model: Path
    log: Path
    args: tuple[str, ...] = ()
    api_key: str | None = None
    port: int = field(default_factory=lambda: free_port())
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        binary = llama_server.built()
        if binary is None:
            pytest.fail(
                f"llama-server is not built ({llama_server.binary()}): run `make llama-server`"
            )
        command = [
            str(binary), "-m", str(self.model), "-c", "4096", "-np", "1", "-t", str(THREADS),
            "-tb", str(THREADS), "-ngl", "0", "--host", "127.0.0.1", "--port", str(self.port),
            *self.args,
        ]  # fmt: skip
        if self.api_key:
            command += ["--api-key", self.api_key]
        # Slots debug: `/slots` then shows each task's prompt and generated text.
        environ = {**os.environ, "LLAMA_SERVER_SLOTS_DEBUG": "1"}
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=environ
            )
        deadline = time.monotonic() + timeout
        while self.get("/health", check=False) != {"status": "ok"}:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"llama-server did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def get(self, path: str, check: bool = True) -> Any:
        request = urllib.request.Request(self.url + path)
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            if check:
                raise
            return None

    def slot(self) -> dict[str, Any]:
        """Slot 0 as `/slots` shows it: the last task's prompt, counts and state."""
        slots = self.get("/slots")
        assert isinstance(slots, list) and slots, slots
        return dict(slots[0])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def llama_server_factory(tmp_path: Path) -> Iterator[Callable[..., LlamaServer]]:
    """`factory(model, *args, api_key=None)` → a started llama-server, stopped afterwards."""
    started: list[LlamaServer] = []

    def factory(model: Path, *args: str, api_key: str | None = None) -> LlamaServer:
        server = LlamaServer(model, tmp_path / f"llama-server-{len(started)}.log", args, api_key)
        started.append(server)
        server.start()
        return server

    yield factory
    for server in started:
        with contextlib.suppress(Exception):
            server.kill()


@pytest.fixture(scope="session")
def real_vocab_models(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`model(name)`: "random" (random weights), "file_sep" (always `<file_sep>`), "x" (always
    "x"), "slow" (always "x", big enough that 1,000 tokens take many seconds); all with
    StarCoder2's real 49,152-token vocabulary."""
    vocab = load_vocab(STARCODER2_VOCAB)
    folder = tmp_path_factory.mktemp("remote-models")
    shapes: dict[str, dict[str, Any]] = {
        "random": {},
        "file_sep": {"emit_token": emit_token_for(vocab, "<file_sep>")},
        "x": {"emit_token": emit_token_for(vocab, "x")},
        "slow": {
            "emit_token": emit_token_for(vocab, "x"),
            "n_embd": 512,
            "n_layer": 8,
            "n_head": 8,
            "n_ff": 2048,
            "dtype": "f16",
        },
    }
    made: dict[str, Path] = {}

    def model(name: str) -> Path:
        if name not in made:
            made[name] = write_starcoder2(folder / f"{name}.gguf", vocab=vocab, **shapes[name])
        return made[name]

    return model
