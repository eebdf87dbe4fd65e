"""Malformed traffic over raw stdio: every request still gets an answer, the server lives on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


class RawClient:
    def __init__(self, model: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sc2_lsp", "--stdio", "--model", str(model)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def send(self, payload: bytes | dict[str, Any]) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()

    def response(self, msg_id: int) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = self.process.stdout.read(1)
                assert byte, "server closed stdout"
                header += byte
            length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
            message = json.loads(self.process.stdout.read(length))
            if message.get("id") == msg_id:
                return dict(message)


def test_malformed_requests_get_errors_and_the_server_keeps_working(tmp_path: Path) -> None:
    client = RawClient(tmp_path / "missing.gguf")
    try:
        client.send(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
        )
        assert "result" in client.response(1)
        client.send(b"{not json")
        client.send({"jsonrpc": "2.0", "id": 2, "method": "no/such/method", "params": {}})
        assert client.response(2)["error"]["code"] == -32601
        bad_types = {"textDocument": {"uri": 1}, "position": "x"}
        client.send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "textDocument/inlineCompletion",
                "params": bad_types,
            }
        )
        assert client.response(3)["error"]["code"] == -32602
        negative = {
            "textDocument": {"uri": "file:///a.py"},
            "position": {"line": -5, "character": 2},
        }
        client.send(
            {"jsonrpc": "2.0", "id": 4, "method": "textDocument/completion", "params": negative}
        )
        assert client.response(4)["error"]["code"] == -32602
        unopened = {
            "textDocument": {"uri": "file:///never.py", "version": 3},
            "contentChanges": [{"text": "x"}],
        }
        client.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": unopened})
        past_end = {
            "textDocument": {"uri": "file:///never.py"},
            "position": {"line": 999, "character": 999},
        }
        client.send(
            {"jsonrpc": "2.0", "id": 5, "method": "textDocument/completion", "params": past_end}
        )
        assert client.response(5)["result"]["items"] == []
        client.send({"jsonrpc": "2.0", "id": 6, "method": "shutdown"})
        assert client.response(6)["result"] is None
        client.send({"jsonrpc": "2.0", "method": "exit"})
        assert client.process.wait(10) == 0
    finally:
        client.process.kill()
