"""Bad input over raw stdio: every request gets a correct answer or a proper JSON-RPC error,
and after each case the next completion still works.

One server (emit-'x' model) serves the whole module; its workspace holds binary, Latin-1,
broken-UTF-8 and UTF-16 files so the index meets them too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sc2_lsp.documents import cursor_at
from tests.reliability.conftest import FAST, Figures, LspProcess

pytestmark = [pytest.mark.e2e, pytest.mark.model]

INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, PARSE_ERROR = -32600, -32601, -32602, -32700
SERVER_NOT_INITIALIZED = -32002


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-input-ws")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (root / "blob.py").write_bytes(b"def f():\n    return 1\n\x00\x00\x00\xff\xfe binary tail")
    (root / "latin1.py").write_bytes("def caf\xe9():\n    return 'na\xefve'\n".encode("latin-1"))
    (root / "broken.py").write_bytes(b"def broken():\n    return '\xc3\x28 \xa0\xa1'\n")
    (root / "utf16.py").write_bytes("def wide():\n    return 1\n".encode("utf-16"))
    (root / "ok.py").write_text("def helper(a, b):\n    return a + b\n")
    return root


AT_THE_CURSOR = {**FAST, "prompt": {"tokenHealing": False}}
"""These tests read the text before the cursor off `sc2.lastPrompt`; token healing would end
the prompt before the cursor's word (it has tests of its own, and the fuzz tier runs it)."""


@pytest.fixture(scope="module")
def server(
    workspace: Path,
    emit_model_factory: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LspProcess]:
    process = LspProcess(tmp_path_factory.mktemp("bad-input"), model=emit_model_factory("x"))
    process.initialize(workspace, AT_THE_CURSOR)
    process.wait_model()
    yield process
    assert process.shutdown() == 0
    assert not process.duplicates, process.duplicates


@pytest.fixture
def uri_of(workspace: Path) -> Callable[[str], str]:
    return lambda name: (workspace / name).as_uri()


def error_code(answer: dict[str, Any]) -> int | None:
    return answer["error"]["code"] if "error" in answer else None


def full_text(prompt: str | None) -> str:
    """The document text a FIM prompt shows (prefix + suffix), for small documents."""
    assert prompt is not None
    body = prompt.split("<fim_prefix>", 1)[1].split("\n", 1)[1]  # drop the path line
    prefix, rest = body.split("<fim_suffix>", 1)
    return prefix + rest.split("<fim_middle>", 1)[0]


def cursor_marker(prompt: str | None) -> str:
    """The prompt's prefix, i.e. the text before the cursor."""
    assert prompt is not None
    body = prompt.split("<fim_prefix>", 1)[1].split("\n", 1)[1]
    return body.split("<fim_suffix>", 1)[0]


def apply(text: str, change: dict[str, Any], encoding: str = "utf-16") -> str:
    """Reference semantics of one incremental change (LSP line ends, clamped positions)."""
    if "range" not in change:
        return str(change["text"])
    start, end = (
        cursor_at(text, change["range"][side]["line"], change["range"][side]["character"], encoding)
        for side in ("start", "end")
    )
    low, high = sorted((start.offset, end.offset))
    inserted: str = change["text"]
    return text[:low] + inserted + text[high:]


def edit(sl: int, sc: int, el: int, ec: int, text: str) -> dict[str, Any]:
    return {
        "range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
        "text": text,
    }


def check_document(server: LspProcess, uri: str, expected: str) -> None:
    """The server's copy of the document equals `expected` (seen through the prompt)."""
    lines = expected.split("\n")
    answer = server.wait(
        server.inline_id(uri, len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)
    )
    assert "result" in answer, answer
    assert full_text(server.last_prompt()) == expected


# -- cases --------------------------------------------------------------------------------------


def test_requests_before_initialize_and_after_shutdown(
    emit_model_factory: Callable[[str], Path], tmp_path: Path, figures: Figures
) -> None:
    process = LspProcess(tmp_path, model=emit_model_factory("x"))
    try:
        early = process.wait(process.inline_id((tmp_path / "a.py").as_uri(), 0, 0))
        assert error_code(early) == SERVER_NOT_INITIALIZED
        process.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///x.py"}})
        process.initialize(tmp_path, FAST)
        process.wait_model()
        process.assert_completion_works(tmp_path)
        assert process.wait(process.request("shutdown"))["result"] is None
        late = process.wait(process.inline_id((tmp_path / "a.py").as_uri(), 0, 0))
        assert error_code(late) == INVALID_REQUEST
        process.notify("exit")
        assert process.process.wait(10) == 0
    finally:
        process.close()
    figures.add("bad_input_cases", "request before initialize", "request after shutdown")


def test_garbage_gets_parse_and_invalid_request_errors(
    server: LspProcess, tmp_path: Path, figures: Figures
) -> None:
    parse_errors = [b"{not json", b'{"jsonrpc": "2.0", "id": 1, ', b"\xff\xfe{}"]
    invalid = [b"[]", b"[1, 2]", b"42", b'"text"', b"null", b'{"id": 7}', b"true"]
    before = len(server.null_id_errors)
    for body in parse_errors + invalid:
        server.send(body)
    server.send(b"")  # Content-Length: 0 is no message at all; the stream must stay in sync
    server.assert_completion_works(tmp_path)  # everything sent before it has been read
    codes = [error_code(answer) for answer in server.null_id_errors[before:]]
    assert codes.count(PARSE_ERROR) == len(parse_errors)
    assert codes.count(INVALID_REQUEST) == len(invalid)
    figures.add("bad_input_cases", "malformed JSON", "non-object JSON", "invalid UTF-8 body")


def test_unknown_methods(server: LspProcess, tmp_path: Path, figures: Figures) -> None:
    hover = {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 0}}
    for method, params in [
        ("no/such/method", {}),
        ("$/unknownRequest", {}),
        ("textDocument/hover", hover),
    ]:
        assert error_code(server.wait(server.request(method, params))) == METHOD_NOT_FOUND
    # pygls' generic request type requires params, so this one is InvalidParams instead.
    bare = error_code(server.wait(server.request("no/params/either")))
    assert bare in (METHOD_NOT_FOUND, INVALID_PARAMS)
    server.notify("no/such/notification", {"x": 1})
    server.notify("$/unknownNotification")
    unknown = server.wait(
        server.request("workspace/executeCommand", {"command": "sc2.noSuchCommand"})
    )
    assert "error" in unknown
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "unknown request", "unknown notification", "unknown command")


@pytest.mark.parametrize(
    "params",
    [
        None,
        [],
        "text",
        {"textDocument": {"uri": 1}, "position": "x"},
        {"textDocument": {"uri": "file:///a.py"}},
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 1.5, "character": 0}},
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 2**40, "character": 0}},
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": -5, "character": 2}},
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": -1}},
        {"textDocument": None, "position": {"line": 0, "character": 0}},
    ],
)
@pytest.mark.parametrize("method", ["textDocument/inlineCompletion", "textDocument/completion"])
def test_wrong_param_types_get_invalid_params(
    server: LspProcess, tmp_path: Path, figures: Figures, method: str, params: Any
) -> None:
    answer = server.wait(server.request(method, params))
    # pygls accepts a completion request without a position; it gets an empty answer.
    assert error_code(answer) == INVALID_PARAMS or answer["result"]["items"] == [], answer
    for notification in ("textDocument/didOpen", "textDocument/didChange"):
        server.notify(notification, params)
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "wrong param types", "negative positions")


def test_positions_past_the_end_clamp(
    server: LspProcess, uri_of: Callable[[str], str], figures: Figures
) -> None:
    uri = server.open(uri_of("past.py"), "first = 1\nvalue = \n")
    assert server.inline(uri, 1, 500)[:1] == ["xxxxxx"]  # past the end of the line
    assert cursor_marker(server.last_prompt()) == "first = 1\nvalue = "
    answer = server.wait(server.inline_id(uri, 900, 900))  # past the end of the document
    assert answer["result"]["items"]
    assert cursor_marker(server.last_prompt()) == "first = 1\nvalue = \n"
    figures.add("bad_input_cases", "positions past the end")


def test_changes_to_unopened_documents(
    server: LspProcess, uri_of: Callable[[str], str], tmp_path: Path, figures: Figures
) -> None:
    uri = uri_of("never-opened.py")
    server.change(uri, 3, edit(0, 0, 0, 0, "x"))
    server.change(uri, 4, {"text": "full replacement"})
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert server.inline(uri, 0, 0) == []
    server.open(uri, "opened = \n")
    assert server.inline(uri, 0, 9)[:1] == ["xxxxxx"]
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "changes to unopened documents")


def test_out_of_order_and_overlapping_incremental_edits(
    server: LspProcess, uri_of: Callable[[str], str], figures: Figures
) -> None:
    text = "alpha = 1\nbeta = 2\ngamma = 3\ndelta = 4\n"
    uri = server.open(uri_of("edits.py"), text)
    batches = [
        # bottom-up, then top-down, in one notification (applied in order, as LSP says)
        [edit(3, 0, 3, 5, "DELTA"), edit(0, 0, 0, 5, "ALPHA"), edit(2, 0, 2, 5, "GAMMA")],
        # overlapping: the second edit's range covers text the first one inserted
        [edit(1, 0, 1, 4, "b"), edit(1, 0, 2, 2, "bb")],
        # past the end of a line, of the document, and a reversed range
        [edit(0, 99, 0, 120, "!"), edit(50, 0, 60, 0, "tail\n"), edit(1, 4, 1, 1, "<r>")],
        # a deletion spanning everything, then text again
        [edit(0, 0, 99, 0, ""), edit(0, 0, 0, 0, "fresh = \n")],
    ]
    version = 1
    for changes in batches:
        version += 1
        server.change(uri, version, *changes)
        for change in changes:
            text = apply(text, change)
        check_document(server, uri, text)
    figures.add("bad_input_cases", "out-of-order edits", "overlapping edits", "reversed ranges")


def test_version_regressions_and_reopen(
    server: LspProcess, uri_of: Callable[[str], str], figures: Figures
) -> None:
    uri = server.open(uri_of("versions.py"), "v = 1\n", version=10)
    text = "v = 1\n"
    for version, change in [
        (11, edit(0, 4, 0, 5, "2")),
        (3, edit(0, 4, 0, 5, "3")),
        (3, {"text": "w = \n"}),
    ]:
        server.change(uri, version, change)
        text = apply(text, change)
    check_document(server, uri, text)
    server.open(uri, "reopened = \n", version=1)  # didOpen again without a close
    assert server.inline(uri, 0, 11)[:1] == ["xxxxxx"]
    assert cursor_marker(server.last_prompt()) == "reopened = "
    figures.add("bad_input_cases", "version regressions", "re-open without close")


def test_ten_megabyte_document(
    server: LspProcess, uri_of: Callable[[str], str], tmp_path: Path, figures: Figures
) -> None:
    line = "value_%07d = compute(%d)  # padding to make this file large\n"
    text = "".join(line % (i, i) for i in range(160_000))
    text += "result = \n"
    assert len(text.encode()) > 10_000_000
    uri = server.open(uri_of("huge.py"), text)
    last = text.count("\n") - 1
    assert server.inline(uri, last, 9, timeout=120)[:1] == ["xxxxxx"]
    assert cursor_marker(server.last_prompt()).endswith(
        "value_0159999 = compute(159999)  # padding to make this file large\nresult = "
    )
    server.change(uri, 2, edit(0, 0, 0, 0, "# top\n"))
    assert server.inline(uri, last + 1, 9, timeout=120)[:1] == ["xxxxxx"]
    assert server.inline(uri, 80_000, 5, timeout=120) is not None  # the middle, mid-line
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "10 MB document")


def test_one_megabyte_single_line(
    server: LspProcess, uri_of: Callable[[str], str], tmp_path: Path, figures: Figures
) -> None:
    text = "var a=" + "function(b){return b+1};" * 44_000 + "x="
    assert len(text) > 1_000_000 and "\n" not in text
    # Named bundle.js: a *.min.js file is on the built-in ignore list and gets no completion.
    uri = server.open(uri_of("bundle.js"), text, language="javascript")
    assert server.inline(uri, 0, len(text), timeout=120)[:1] == ["xxxxxx"]
    middle = server.wait(server.inline_id(uri, 0, 500_000), 120)
    assert middle["result"]["items"]  # invoked: completes even with text after the cursor
    prompt = server.last_prompt()
    assert prompt is not None and len(prompt) < 100_000  # the prompt stays bounded
    automatic = server.wait(server.inline_id(uri, 0, 400_000, invoked=False), 120)
    assert automatic["result"] == {"items": []}  # automatic trigger mid-line: nothing to add
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "1 MB single line")


def test_binary_and_non_utf8_files_in_the_workspace(
    server: LspProcess, uri_of: Callable[[str], str], tmp_path: Path, figures: Figures
) -> None:
    for _ in range(200):
        index = server.status()["index"]
        if index.get("state") == "ready":
            break
        __import__("time").sleep(0.05)
    assert index["state"] == "ready", index
    uri = server.open(
        uri_of("main.py"), "from ok import helper\nfrom latin1 import caf\nresult = helper(\n"
    )
    assert set("".join(server.inline(uri, 2, 16))) == {"x"}
    prompt = server.last_prompt()
    assert prompt is not None
    # Binary files (NULs: the PNG, blob.py, the UTF-16 file) never reach the prompt. A file
    # with a few bytes that are not UTF-8 may, with U+FFFD in their place: text, never bytes.
    for binary in ("\x00", "PNG", "binary tail", "def wide"):
        assert binary not in prompt
    prompt.encode("utf-8")  # no lone surrogates or undecodable bytes
    # The binary file opened as a document (an editor may do this) still gets answers.
    blob = (tmp_path / "blob.bin").as_uri()
    server.open(blob, (b"\x89PNG\r\n\x1a\n" + bytes(range(256))).decode("latin-1"), "plaintext")
    assert "result" in server.wait(server.inline_id(blob, 1, 3))
    server.assert_completion_works(tmp_path)
    figures.add(
        "bad_input_cases", "binary files in the workspace", "non-UTF-8 files in the workspace"
    )


def test_nul_bytes(
    server: LspProcess, uri_of: Callable[[str], str], tmp_path: Path, figures: Figures
) -> None:
    uri = server.open(uri_of("nul.py"), "a = '\x00\x00'\nb = \x00\n")
    assert server.inline(uri, 1, 4)[:1] == ["xxxxxx"]
    assert cursor_marker(server.last_prompt()) == "a = '\x00\x00'\nb = "
    odd = "file:///tmp/nul%00name.py"
    server.open(odd, "c = \n")
    assert "result" in server.wait(server.inline_id(odd, 0, 4))
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "NUL bytes in text", "NUL byte in a URI")


@pytest.mark.parametrize(
    ("name", "text", "line", "character", "before"),
    [
        ("crlf.py", "a = 1\r\nb = \r\nc = 3\r\n", 1, 4, "a = 1\r\nb = "),
        ("cr.py", "a = 1\rb = \rc = 3\r", 1, 4, "a = 1\rb = "),
        ("mixed.py", "a = 1\r\nb = 2\rc = \nd = 4", 2, 4, "a = 1\r\nb = 2\rc = "),
        ("formfeed.py", "a = 1\x0c\nb = \x0b2\n", 1, 4, "a = 1\x0c\nb = "),
        ("ls.js", "s = 'a\u2028b';\nt = \n", 1, 4, "s = 'a\u2028b';\nt = "),
    ],
)
def test_line_endings(
    server: LspProcess,
    uri_of: Callable[[str], str],
    figures: Figures,
    name: str,
    text: str,
    line: int,
    character: int,
    before: str,
) -> None:
    uri = server.open(uri_of(name), text)
    assert "result" in server.wait(server.inline_id(uri, line, character))
    assert cursor_marker(server.last_prompt()) == before
    # An edit on the line after the odd line ending lands where the client put it.
    change = edit(line, character, line, character, "z")
    server.change(uri, 2, change)
    assert "result" in server.wait(server.inline_id(uri, line, character + 1))
    assert cursor_marker(server.last_prompt()) == before + "z"
    figures.add(
        "bad_input_cases",
        "CRLF line endings",
        "lone CR line endings",
        "form feed and U+2028 inside lines",
    )


def test_surrogate_pairs_and_lone_surrogates(
    server: LspProcess, uri_of: Callable[[str], str], tmp_path: Path, figures: Figures
) -> None:
    uri = server.open(uri_of("emoji.py"), "s = '😀😀' + \n")
    assert server.inline(uri, 0, 13)[:1] == ["xxxxxx"]  # 13 UTF-16 units = 11 code points
    assert cursor_marker(server.last_prompt()) == "s = '😀😀' + "
    assert "result" in server.wait(server.inline_id(uri, 0, 6))  # between a pair's halves
    assert cursor_marker(server.last_prompt()) == "s = '"  # snapped to the character start
    server.change(uri, 2, edit(0, 7, 0, 9, "🙂"))  # replace the second emoji
    assert server.inline(uri, 0, 13)[:1] == ["xxxxxx"]
    assert cursor_marker(server.last_prompt()) == "s = '😀🙂' + "
    # "\ud83d" alone is a legal JSON escape but not encodable text.
    lone = server.open(uri_of("lone.py"), "t = '\ud83d' + \n")
    assert server.inline(lone, 0, 10)[:1] == ["xxxxxx"]
    assert cursor_marker(server.last_prompt()) == "t = '\ufffd' + "
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "surrogate pairs", "lone surrogates")


def test_percent_encoded_and_unicode_uris(
    server: LspProcess, workspace: Path, figures: Figures
) -> None:
    for name in ("my file.py", "café.py", "100%.py"):
        uri = (workspace / name).as_uri()
        assert "%" in uri
        server.open(uri, "value = \n")
        assert server.inline(uri, 0, 8)[:1] == ["xxxxxx"], uri
        prompt = server.last_prompt()
        assert prompt is not None and f"<fim_prefix>{name}\n" in prompt
    figures.add("bad_input_cases", "percent-encoded URIs")


def test_second_initialize_keeps_the_session(
    server: LspProcess, uri_of: Callable[[str], str], tmp_path: Path, figures: Figures
) -> None:
    uri = server.open(uri_of("kept.py"), "kept = \n")
    again = server.wait(
        server.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    )
    assert error_code(again) == INVALID_REQUEST
    server.notify("initialized", {})
    assert server.inline(uri, 0, 7)[:1] == ["xxxxxx"]  # the open document survived
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "second initialize", "repeated initialized")


def test_params_shaped_like_json_rpc_messages(
    server: LspProcess, tmp_path: Path, figures: Figures
) -> None:
    nested = {"command": "sc2.status", "arguments": [{"jsonrpc": "2.0", "id": 99, "method": "x"}]}
    answer = server.wait(server.request("workspace/executeCommand", nested))
    assert "result" in answer or "error" in answer
    server.assert_completion_works(tmp_path)
    assert 99 not in server.responses  # nothing answered a message that was never sent
    figures.add("bad_input_cases", "nested JSON-RPC-shaped params")
