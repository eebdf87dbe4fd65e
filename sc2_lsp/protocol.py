"""The pygls protocol layer under the handlers: exact JSON-RPC/LSP message handling, LSP-exact
text documents, and the log filter that keeps document text out of the log.

`Sc2Protocol` answers every request as LSP and JSON-RPC say (malformed messages, bad params,
requests before `initialize` or after `shutdown`) and drops the futures pygls would otherwise
keep for every notification. `LspTextDocument` and `Sc2Workspace` make pygls' documents split
lines and apply incremental edits the LSP way, through `documents.py` (which alone converts
positions). `DocumentTextFilter` (one instance, `LOG_FILTER`) hides protocol payloads unless
`logDocumentText` is on.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import JsonRPCNotification, LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace

from sc2_lsp import documents

log = logging.getLogger(__name__)

INVALID_PARAMS_METHOD = "$/sc2/invalidParams"


class Malformed(dict[str, Any]):
    """A JSON object with a "jsonrpc" key that is not a JSON-RPC message pygls can structure."""


class Sc2Protocol(LanguageServerProtocol):
    """pygls' protocol, except that every request is answered as LSP and JSON-RPC say.

    pygls structures messages in `json.loads`'s object_hook, which sees every nested object
    too, and reports a request whose params do not fit the spec out of band without ever
    responding. Here such a request gets InvalidParams, sent only once the top-level message
    reaches `handle_message` (a request-shaped object inside some params, a command argument
    say, is never answered as if the client had sent it), and an object that cannot be
    structured never raises out of the hook (which would abort the enclosing request too).
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException:
            msg_id = data.get("id")
            if "method" in data and not isinstance(msg_id, bool) and isinstance(msg_id, int | str):
                params = {"id": msg_id, "method": data["method"]}
                return JsonRPCNotification(
                    method=INVALID_PARAMS_METHOD, params=params, jsonrpc="2.0"
                )
            return Malformed(data)

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls files the future of every notification (and of every step of its generator
        handlers, didChange's included) under a fresh uuid and only ever removes the futures
        of requests: about 1 KB per keystroke, kept for the life of the server. Here a future
        that does not answer a request leaves the table when it is done."""
        super()._execute_handler(msg_id, handler, callback, args=args, kwargs=kwargs)
        if getattr(callback, "func", None) == self._send_handler_result:
            return
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(lambda _done: self._request_futures.pop(msg_id, None))

    def reply_unidentified(self, error: type[JsonRpcException]) -> None:
        """The answer to a message whose id cannot be known: id null (JSON-RPC 2.0, 5.1)."""
        body = {"code": error.CODE, "message": error.MESSAGE}
        self._send_data({"jsonrpc": "2.0", "id": None, "error": body})

    def handle_message(self, message: Any) -> None:
        """Also: requests before `initialize` get ServerNotInitialized, requests after `shutdown`
        and a second `initialize` (which would drop every open document) InvalidRequest."""
        if isinstance(message, Malformed):
            log.warning("dropped a malformed message (keys %s)", sorted(message))
            if "id" in message:  # a request with an unusable id; a notification gets nothing
                self.reply_unidentified(JsonRpcInvalidRequest)
            return
        method = getattr(message, "method", "exit")  # responses have no method
        msg_id = getattr(message, "id", None)
        invalid_params = method == INVALID_PARAMS_METHOD
        if invalid_params:
            msg_id, method = message.params["id"], message.params["method"]
        error: JsonRpcException | None = None
        if self._workspace is None and method not in ("initialize", "exit"):
            error = JsonRpcServerNotInitialized("the server is not initialized yet")
        elif self._shutdown and method != "exit":
            error = JsonRpcInvalidRequest("the server is shutting down")
        elif method == "initialize" and self._workspace is not None:
            error = JsonRpcInvalidRequest("the server is already initialized")
        elif invalid_params:
            error = JsonRpcInvalidParams(f"invalid params for {method!r}")
        if error is None:
            super().handle_message(message)
        elif msg_id is not None:
            self._send_response(msg_id, error=error.to_response_error())


class LspTextDocument(TextDocument):
    """A pygls document that finds lines and applies edits the way LSP defines them.

    pygls splits lines with `str.splitlines`, which also breaks at form feeds, \\v, \\x1c-\\x1e,
    U+0085 and U+2028/9 (an edit below a `^L` page break landed on the wrong line), and on a
    last line without a newline it clamps a column past the end to before the last character.
    Here positions go through `documents.cursor_at` like every request does: LSP line ends,
    columns past the end of a line or the document clamp to it, and a reversed range is taken
    as the text between its two ends.
    """

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(documents.split_lines(self.source))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        text, encoding = self.source, str(self.position_codec.encoding or "utf-16")
        start, end = (
            documents.cursor_at(text, position.line, position.character, encoding).offset
            for position in (change.range.start, change.range.end)
        )
        start, end = min(start, end), max(start, end)
        self._source = text[:start] + change.text + text[end:]


class Sc2Workspace(Workspace):
    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


class DocumentTextFilter(logging.Filter):
    """Keeps document text out of the log unless `logDocumentText` is on.

    pygls logs whole protocol payloads (documents, prompts, completions) at INFO and DEBUG;
    those records keep their message but their payload arguments are replaced.
    """

    PAYLOADS: ClassVar[dict[str, tuple[int, ...]]] = {
        "Sending data: %s": (0,),
        "Sending notification: '%s' %s": (1,),
        'Sending request with id "%s": %s %s': (2,),
        'Received result for message "%s": %s': (1,),
        'Received error response to message "%s": %s': (1,),
        "Client response for %s received: %s": (0, 1),
        'Unknown message "%s"': (0,),
        "Language server initialized %s": (0,),
        "Workspace folders changed: %s": (0,),
    }

    def __init__(self) -> None:
        super().__init__()
        self.allow = False

    def filter(self, record: logging.LogRecord) -> bool:
        hidden = self.PAYLOADS.get(str(record.msg))
        if self.allow or not hidden or not isinstance(record.args, tuple):
            return True
        args = list(record.args)
        for index in hidden:
            if index < len(args):
                args[index] = (
                    f"<{len(str(args[index]))} chars hidden; set logDocumentText to log them>"
                )
        record.args = tuple(args)
        return True


LOG_FILTER = DocumentTextFilter()
