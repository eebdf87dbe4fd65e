"""`sc2-lsp --tcp`: binds loopback by default and speaks the same protocol."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def frame(payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def read_message(stream: socket.socket) -> dict[str, object]:
    header = b""
    while not header.endswith(b"\r\n\r\n"):
        header += stream.recv(1)
    length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
    body = b""
    while len(body) < length:
        body += stream.recv(length - len(body))
    return dict(json.loads(body))


def test_tcp_server_answers_initialize_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sc2_lsp",
            "--tcp",
            "--port",
            str(port),
            "--model",
            str(tmp_path / "none.gguf"),
        ],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with connection:
            connection.sendall(
                frame(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {"capabilities": {}},
                    }
                )
            )
            while "id" not in (message := read_message(connection)):
                pass
            result = message["result"]
            assert isinstance(result, dict) and "inlineCompletionProvider" in result["capabilities"]
            listening = subprocess.run(
                ["ss", "-ltn"], capture_output=True, text=True, check=False
            ).stdout
            if listening:
                assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    finally:
        server.terminate()
        server.wait(10)
