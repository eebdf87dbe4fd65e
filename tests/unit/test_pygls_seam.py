"""The pygls seam: every pygls internal that `sc2_lsp/protocol.py` overrides or reads.

pygls is pinned exactly in pyproject.toml. When an upgrade removes or renames one of these,
this test names each one that broke, so the overrides in protocol.py can follow.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pygls
import pygls.io_
from lsprotocol import types
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace

from sc2_lsp.protocol import LOG_FILTER, LspTextDocument, Sc2Workspace
from sc2_lsp.server import build_server


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def source_of(*objects: Any) -> str:
    return "".join(inspect.getsource(item) for item in objects)


EXPECTATIONS: list[tuple[str, Callable[[], bool]]] = [
    (
        "pygls.io_.run_async parses each message with json.loads(object_hook="
        "protocol.structure_message), then calls protocol.handle_message on the result",
        lambda: (
            "object_hook=protocol.structure_message" in source_of(pygls.io_.run_async)
            and "protocol.handle_message(message)" in source_of(pygls.io_.run_async)
        ),
    ),
    (
        "JsonRPCProtocol.structure_message(data) structures one message dict",
        lambda: parameters(JsonRPCProtocol.structure_message) == ["self", "data"],
    ),
    (
        "JsonRPCProtocol._execute_handler(msg_id, handler, callback, args, kwargs) files "
        "futures in self._request_futures",
        lambda: (
            parameters(JsonRPCProtocol._execute_handler)
            == ["self", "msg_id", "handler", "callback", "args", "kwargs"]
            and "self._request_futures[msg_id] = future"
            in source_of(JsonRPCProtocol._execute_handler)
        ),
    ),
    (
        "JsonRPCProtocol._send_response(msg_id, result, error) sends every response",
        lambda: parameters(JsonRPCProtocol._send_response) == ["self", "msg_id", "result", "error"],
    ),
    (
        "JsonRPCProtocol._send_handler_result answers requests (bound with functools.partial)",
        lambda: "partial(self._send_handler_result" in source_of(JsonRPCProtocol._handle_request),
    ),
    (
        "JsonRPCProtocol._send_response(msg_id, result, error) and _send_data(data)",
        lambda: (
            parameters(JsonRPCProtocol._send_response) == ["self", "msg_id", "result", "error"]
            and parameters(JsonRPCProtocol._send_data) == ["self", "data"]
        ),
    ),
    (
        "JsonRPCProtocol._handle_response(msg_id, result, error) resolves a waiting request",
        lambda: (
            parameters(JsonRPCProtocol._handle_response) == ["self", "msg_id", "result", "error"]
        ),
    ),
    (
        "JsonRPCProtocol keeps self._shutdown and LanguageServerProtocol self._workspace",
        lambda: (
            "self._shutdown = False" in source_of(JsonRPCProtocol.__init__)
            and "self._workspace" in source_of(LanguageServerProtocol.__init__)
        ),
    ),
    (
        "LanguageServerProtocol.lsp_initialize builds self._workspace = Workspace(...) before "
        "its first yield to the server's initialize handler",
        lambda: _workspace_built_before_first_yield(),
    ),
    (
        "LanguageServerProtocol registers the lsp_method-decorated methods of its subclass",
        lambda: (
            'hasattr(attr, "method_name")'
            in source_of(LanguageServerProtocol._register_builtin_features)
        ),
    ),
    (
        "Workspace(root_uri, sync_kind, workspace_folders, position_encoding) with _sync_kind",
        lambda: (
            parameters(Workspace.__init__)
            == ["self", "root_uri", "sync_kind", "workspace_folders", "position_encoding"]
            and "self._sync_kind" in source_of(Workspace.__init__)
        ),
    ),
    (
        "Workspace._create_text_document(doc_uri, source, version, language_id), with "
        "self._position_codec",
        lambda: (
            parameters(Workspace._create_text_document)
            == ["self", "doc_uri", "source", "version", "language_id"]
            and "self._position_codec" in source_of(Workspace._create_text_document)
        ),
    ),
    (
        "TextDocument._apply_incremental_change(change) sets self._source",
        lambda: (
            parameters(TextDocument._apply_incremental_change) == ["self", "change"]
            and "self._source" in source_of(TextDocument._apply_incremental_change)
        ),
    ),
    (
        "every pygls log format DocumentTextFilter hides is still one pygls logs",
        lambda: all(
            any(fmt in path.read_text() for path in Path(pygls.__file__).parent.rglob("*.py"))
            for fmt in LOG_FILTER.PAYLOADS
        ),
    ),
]


def _workspace_built_before_first_yield() -> bool:
    text = source_of(LanguageServerProtocol.lsp_initialize)
    built = text.find("self._workspace = Workspace(")
    return 0 <= built < text.find("yield user_handler")


def test_every_pygls_internal_we_rely_on_is_still_there() -> None:
    broken = [description for description, holds in EXPECTATIONS if not _holds(holds)]
    assert not broken, (
        f"pygls {version('pygls')} changed what sc2_lsp/protocol.py relies on; "
        "update the overrides there, then this list:\n- " + "\n- ".join(broken)
    )


def _holds(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (AttributeError, OSError, TypeError, ValueError):
        return False


class Written:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass


def test_initialize_through_the_overrides_gives_lsp_exact_documents(tmp_path: Path) -> None:
    """The overrides at work: raw dicts in, an Sc2Workspace holding LspTextDocuments out."""
    server = build_server()
    written = Written()
    server.protocol.set_writer(written)
    params: dict[str, Any] = {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
    server.protocol.handle_message(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    )
    assert written.messages[-1]["id"] == 1 and "capabilities" in written.messages[-1]["result"]
    assert type(server.workspace) is Sc2Workspace
    uri = (tmp_path / "a.py").as_uri()
    document = {"uri": uri, "languageId": "python", "version": 1}
    opened = {"textDocument": {**document, "text": "a\fb\n"}}
    server.protocol.handle_message(
        {"jsonrpc": "2.0", "method": types.TEXT_DOCUMENT_DID_OPEN, "params": opened}
    )
    assert isinstance(server.workspace.get_text_document(uri), LspTextDocument)
    server.repository.close()
    server.engine.close()
