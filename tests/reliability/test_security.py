"""Security and privacy over the real server: confinement of what reaches the prompt, no network
at run time, and no document text in logs.

Unit-level confinement tests live in tests/unit/test_workspace.py (links, `..`, secrets,
ignored files) and tests/unit/test_retrieve.py; TCP binding to loopback in tests/e2e/test_tcp.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.conftest import FAST, ROOT, Figures, LspProcess

pytestmark = [pytest.mark.e2e, pytest.mark.model]

OUTSIDE = "OUTSIDE_MARKER_7f3"
IGNORED = "IGNORED_MARKER_2b1"
SECRET = "SECRET_MARKER_9c4"
OPENED_OUTSIDE = "OPENED_OUTSIDE_MARKER_5e"


def wait_index(server: LspProcess, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        index: dict[str, object] = server.status()["index"]
        if index.get("state") == "ready" and not index.get("pending_events"):
            return index
        assert time.monotonic() < deadline, index
        time.sleep(0.05)


def test_prompts_never_include_outside_ignored_or_secret_files(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret_lib.py").write_text(
        f'def outside_marker_fn(a, b):\n    """{OUTSIDE}"""\n    return a * b\n'
    )
    (outside / "opened_outside.py").write_text(f'def calc(a, b):\n    return "{OPENED_OUTSIDE}"\n')
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "real.py").write_text(
        'def real_helper(a, b):\n    """Adds."""\n    return a + b\n'
    )
    (ws / "linked.py").symlink_to(outside / "secret_lib.py")
    (ws / "linkdir").symlink_to(outside, target_is_directory=True)
    (ws / ".gitignore").write_text("ignored.py\n")
    (ws / "ignored.py").write_text(
        f'def ignored_marker_fn(a, b):\n    """{IGNORED}"""\n    return a\n'
    )
    (ws / ".env").write_text(f"API_KEY={SECRET}\n")
    (ws / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n")
    (ws / "secrets.py").write_text(f'def calc(a, b):\n    TOKEN = "{SECRET}"\n')
    main = (
        "from linked import outside_marker_fn\n"
        "from linkdir.secret_lib import outside_marker_fn\n"
        "from ignored import ignored_marker_fn\n"
        "from pkg.real import real_helper\n"
        "\n"
        "total = outside_marker_fn(1, 2) + ignored_marker_fn(3, 4) + calc(5, 6)\n"
        "value = real_helper(\n"
    )
    (ws / "main.py").write_text(main)
    server = lsp_factory(model=emit_model_factory("x"))
    server.initialize(ws, FAST)
    server.wait_model()
    wait_index(server)
    # The editor also has files open that live outside the workspace: through a symlink in it,
    # through a `..` path, and the plain outside path. Watchers report outside paths too.
    for uri in (
        (ws / "linked.py").as_uri(),
        f"{ws.as_uri()}/../outside/opened_outside.py",
        (outside / "secret_lib.py").as_uri(),
    ):
        path = uri.replace("file://", "")
        server.open(uri, Path(os.path.normpath(path)).read_text())
    server.notify(
        "workspace/didChangeWatchedFiles",
        {
            "changes": [
                {"uri": f"{ws.as_uri()}/../outside/secret_lib.py", "type": 1},
                {"uri": (ws / "linkdir" / "secret_lib.py").as_uri(), "type": 1},
                {"uri": (ws / "ignored.py").as_uri(), "type": 2},
                {"uri": (ws / ".env").as_uri(), "type": 2},
            ]
        },
    )
    wait_index(server)
    uri = server.open((ws / "main.py").as_uri(), main)
    for line, character in [(6, 20), (5, 10), (5, 28)]:
        answer = server.wait(server.inline_id(uri, line, character))
        assert "result" in answer
        prompt = server.last_prompt()
        assert prompt is not None
        assert "def real_helper(a, b):" in prompt or line != 6  # context is on: not vacuous
        for marker in (OUTSIDE, IGNORED, SECRET, OPENED_OUTSIDE):
            assert marker not in prompt, (marker, prompt)
    index = server.status()["index"]
    assert server.shutdown() == 0
    figures.record("confinement_e2e", {"prompts_checked": 3, "index": index})


def test_no_completion_inside_secret_like_or_ignored_files(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    """The document being edited passes the gate repository context passes: a secret-like file
    (in the workspace or opened from outside it) or an ignored one gets no completion at all,
    its text reaches no prompt, and `sc2.status` says why."""
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    (ws / "config").mkdir(parents=True)
    (ws / "build").mkdir()
    outside.mkdir()
    (ws / ".gitignore").write_text("ignored.py\nbuild/\n")
    (outside / ".env").write_text("")
    (ws / "link.py").symlink_to(outside / ".env")
    server = lsp_factory(model=emit_model_factory("x"))
    server.initialize(ws, FAST)
    server.wait_model()
    refused = {
        ws / ".env": "secret-like",
        ws / "config" / "secrets.pem": "secret-like",
        ws / "link.py": "secret-like",  # a link into a secret-like file outside
        outside / ".env": "secret-like",
        outside / "id_rsa": "secret-like",
        outside / "deploy" / "server.pem": "secret-like",
        ws / "ignored.py": "ignored",
        ws / "build" / "generated.py": "ignored",
    }
    text = f"TOKEN = '{SECRET}'\nvalue = "
    for path in refused:
        uri = server.open(path.as_uri(), text)
        assert server.inline(uri, 1, 8) == [], path
    for path in (ws / "ok.py", outside / "notes.py"):  # neither secret-like nor ignored
        assert server.inline(server.open(path.as_uri(), text), 1, 8)[:1] == ["xxxxxx"], path
    prompt = server.last_prompt()
    assert prompt is not None and prompt.count(SECRET) == 1  # outside/notes.py's own text only
    reasons = server.status()["refusedDocuments"]
    assert {uri: reason.split(" ")[0] for uri, reason in reasons.items()} == {
        path.as_uri(): kind for path, kind in refused.items()
    }
    # The gate follows the settings: a file the user now ignores is refused, then allowed again.
    ok = (ws / "ok.py").as_uri()
    server.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"sc2": {**FAST, "repository": {"ignore": ["ok.py"]}}}},
    )
    assert server.inline(ok, 1, 8) == []
    assert server.status()["refusedDocuments"][ok].startswith("ignored")
    server.notify("workspace/didChangeConfiguration", {"settings": {"sc2": FAST}})
    assert server.inline(ok, 1, 8)[:1] == ["xxxxxx"]
    server.notify("textDocument/didClose", {"textDocument": {"uri": (ws / ".env").as_uri()}})
    assert (ws / ".env").as_uri() not in server.status()["refusedDocuments"]
    assert server.shutdown() == 0
    figures.record("current_document_gate", {"refused": len(refused), "allowed": 2})


SITECUSTOMIZE = """
import os, socket

_LOG = os.environ["SC2_NET_LOG"]

def _record(what):
    with open(_LOG, "a") as handle:
        handle.write(what + "\\n")

_record("loaded")
_real_connect, _real_connect_ex = socket.socket.connect, socket.socket.connect_ex

def _guard(sock, address, what):
    if sock.family != socket.AF_UNIX:
        _record(f"{what} {sock.family.name} {address!r}")
        raise OSError(101, "network access blocked by the test")

def connect(self, address):
    _guard(self, address, "connect")
    return _real_connect(self, address)

def connect_ex(self, address):
    _guard(self, address, "connect_ex")
    return _real_connect_ex(self, address)

_real_sendto = socket.socket.sendto

def sendto(self, *args):
    _guard(self, args[-1], "sendto")
    return _real_sendto(self, *args)

_real_getaddrinfo = socket.getaddrinfo

def getaddrinfo(host, *args, **kwargs):
    _record(f"getaddrinfo {host!r}")
    raise OSError(101, "name resolution blocked by the test")

socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo = getaddrinfo
"""


def test_a_full_session_makes_no_network_connection(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tiny_model_path: Path,
    tmp_path: Path,
    figures: Figures,
) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "net.log"
    env = {"PYTHONPATH": f"{hook}{os.pathsep}{ROOT}", "SC2_NET_LOG": str(log), "HF_HUB_OFFLINE": ""}
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "util.py").write_text("def helper(a, b):\n    return a + b\n")
    server = lsp_factory(model=emit_model_factory("x"), env=env)
    server.initialize(ws, FAST)
    server.wait_model()
    uri = server.open((ws / "main.py").as_uri(), "from util import helper\nvalue = helper(\n")
    assert set("".join(server.inline(uri, 1, 15))) == {"x"}
    popup = server.wait(
        server.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 15}},
        )
    )
    assert popup["result"]["items"]
    server.change(uri, 2, {"text": "value = 1\nother = \n"})
    assert server.inline(uri, 1, 8)[:1] == ["xxxxxx"]
    server.notify(
        "workspace/didChangeWatchedFiles",
        {"changes": [{"uri": (ws / "util.py").as_uri(), "type": 2}]},
    )
    server.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"sc2": {**FAST, "model": {"path": str(tiny_model_path)}}}},
    )
    time.sleep(0.3)
    server.wait_model()
    server.status()
    server.last_prompt()
    assert server.shutdown() == 0
    events = log.read_text().splitlines()
    # The hook really ran: in the server and in each engine process (one per model loaded).
    assert events.count("loaded") == 3, events
    assert set(events) == {"loaded"}, events
    # The same hook does catch a real download attempt (so the check above is not vacuous).
    log.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "sc2_lsp", "model", "pull", "3b"],
        env={
            **os.environ,
            **env,
            "SC2_LSP_MODEL_DIR": str(tmp_path / "models"),
            "HF_ENDPOINT": "http://127.0.0.1:9",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    blocked = log.read_text()
    assert "connect AF_INET" in blocked or "getaddrinfo" in blocked, blocked
    figures.record(
        "offline_session",
        {
            "network_attempts": sum(event != "loaded" for event in events),
            "processes_watched": events.count("loaded"),
            "pull_attempt_caught": True,
        },
    )


MARKER = "zq_marker_4471"


def logged_session(
    lsp_factory: Callable[..., LspProcess],
    model: Path,
    tmp_path: Path,
    log_file: Path,
    settings: dict[str, object],
) -> LspProcess:
    server = lsp_factory(model=model, args=("-vv", "--log-file", str(log_file)))
    server.initialize(tmp_path, {**FAST, **settings})
    server.wait_model()
    uri = server.open((tmp_path / "private.py").as_uri(), f"first = 1\n{MARKER}_a = \n")
    server.change(
        uri,
        2,
        {
            "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
            "text": "x",
        },
    )
    server.change(
        uri,
        3,
        {
            "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}},
            "text": f"{MARKER}_b",
        },
    )
    assert server.inline(uri, 1, len(MARKER) + 5)[:1] == ["xxxxxx"]
    position = {"line": 2, "character": len(MARKER) + 2}
    popup = server.wait(
        server.request(
            "textDocument/completion", {"textDocument": {"uri": uri}, "position": position}
        )
    )
    assert MARKER in json.dumps(popup)  # the answer itself carries document text
    assert MARKER in (server.last_prompt() or "")
    server.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "text": MARKER}}
    )  # malformed
    server.request(
        "textDocument/inlineCompletion", {"textDocument": {"uri": MARKER}, "position": MARKER}
    )
    server.send(f'{{"jsonrpc": "2.0", "method": "x", "params": "{MARKER}"'.encode())  # broken JSON
    server.send({"jsonrpc": "1.0", "method": MARKER})  # unknown message
    assert server.shutdown() == 0
    return server


def test_logs_never_contain_document_text_unless_allowed(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    quiet = tmp_path / "quiet.log"
    server = logged_session(lsp_factory, emit_model_factory("x"), tmp_path, quiet, {})
    text = quiet.read_text()
    # The log is verbose (every message in and out is there), just without the payloads.
    assert "Sending data" in text and "textDocument/inlineCompletion" in text and "DEBUG" in text
    assert "chars hidden" in text
    assert MARKER not in text
    assert MARKER not in server.tail(10**6)  # nor on stderr
    loud = tmp_path / "loud.log"
    logged_session(lsp_factory, emit_model_factory("x"), tmp_path, loud, {"logDocumentText": True})
    assert MARKER in loud.read_text()  # the debug setting shows it, so the check above can fail
    figures.record("log_privacy", {"log_lines_checked": text.count("\n"), "marker_found": False})
