"""The pygls protocol layer under the handlers: exact JSON-RPC/LSP message handling, LSP-exact
text documents, and the log filter that keeps document text out of the log.

Every override of a pygls internal lives here, as a subclass override; `tests/unit/
test_pygls_seam.py` names each pygls member they rely on. `Sc2Protocol` checks each message
at the edge before pygls dispatches it (JSON-RPC shape, lifecycle, notification or request,
params typed as lsprotocol says) and answers every message with an id exactly once.
`LspTextDocument` and `Sc2Workspace` make pygls' documents split lines and apply
incremental edits the LSP way, through `documents.py` (which alone converts positions).
`DocumentTextFilter` (one instance, `LOG_FILTER`) hides protocol payloads unless
`logDocumentText` is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import Any, ClassVar

import attrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.workspace import TextDocument, Workspace

from sc2_lsp import documents
from sc2_lsp.trace import NO_TRACE, Trace
from sc2_lsp.wire_types import field_types, mismatch

log = logging.getLogger(__name__)

Step = tuple[Any, Any, Any]
"""One step of a pygls generator handler: (handler, args, kwargs) for pygls to run next."""


class Refusal(Exception):
    """A message the protocol does not dispatch, and what it answers instead.

    `answer`: whether the sender gets `error` back: with `reply_to` as id, or with id null
    when the message had no usable id (JSON-RPC 2.0, 5.1). Notifications get no answer.
    """

    def __init__(
        self, error: JsonRpcException, reply_to: int | str | None = None, answer: bool = True
    ) -> None:
        super().__init__(error.message)
        self.error, self.reply_to, self.answer = error, reply_to, answer


class Sc2Protocol(LanguageServerProtocol):
    """pygls' protocol, except that every message is checked before it is dispatched.

    pygls structures messages in `json.loads`'s object_hook, which sees every nested object
    too (a JSON-RPC-shaped command argument became a message of its own), lets cattrs coerce
    wrong JSON types (`str(5)`, `int("7")`, a `languageId` of 1 kept as an int), treats a
    notification method sent with an id as a notification, and reports a request whose
    params do not fit out of band without ever responding. Here the hook keeps what it is
    given, and `handle_message` checks the top-level object once, then lets pygls structure
    and dispatch it; anything it refuses is a `Refusal`, a Python type no method name can
    reach.
    """

    @property
    def shutdown_received(self) -> bool:
        """Whether the client sent `shutdown`: `exit` then ends the process with 0, else 1."""
        return self._shutdown

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Step, Any, types.InitializeResult]:
        """pygls' initialize, with its workspace rebuilt as an `Sc2Workspace` (LSP line ends
        for incremental edits) before any handler runs."""
        steps = super().lsp_initialize(params)
        step = next(steps)  # pygls has built its Workspace; this step runs the server's handler
        self._workspace = Sc2Workspace.like(self.workspace)
        while True:
            sent = yield step
            try:
                step = steps.send(sent)
            except StopIteration as done:
                result: types.InitializeResult = done.value
                return result

    def structure_message(self, data: Any) -> Any:
        """Keep every parsed object as it is: `handle_message` structures the message itself."""
        return data

    work_trace: Trace = NO_TRACE
    """Where requests arriving and answers leaving are recorded (`SC2_TRACE`), if anywhere.
    (Not `trace`: that is pygls' `$/setTrace` level.)"""

    def handle_message(self, message: Any) -> None:
        try:
            structured = self._checked(message)
        except Refusal as refusal:
            self._refuse(refusal)
            return
        if structured is None:
            return
        if self.work_trace.enabled and "id" in message and "method" in message:
            self.work_trace(
                "rpc_in", id=message["id"], method=message["method"], at=time.monotonic()
            )
        super().handle_message(structured)

    def _send_response(
        self, msg_id: Any, result: Any | None = None, error: Any | None = None
    ) -> None:
        super()._send_response(msg_id, result=result, error=error)
        if self.work_trace.enabled:
            self.work_trace("rpc_out", id=msg_id, at=time.monotonic())

    def _checked(self, data: Any) -> Any:
        """The message structured for pygls; None for a response already dealt with."""
        if not isinstance(data, dict):
            raise Refusal(JsonRpcInvalidRequest("a JSON-RPC message must be a JSON object"))
        method, msg_id = data.get("method"), data.get("id")
        usable_id = isinstance(msg_id, int | str) and not isinstance(msg_id, bool)
        reply_to = msg_id if usable_id and isinstance(method, str) else None
        if data.get("jsonrpc") != "2.0":
            raise Refusal(JsonRpcInvalidRequest('"jsonrpc" must be "2.0"'), reply_to)
        if method is None and "id" in data and ("result" in data or "error" in data):
            return self._structured_response(data)
        if not isinstance(method, str):
            raise Refusal(JsonRpcInvalidRequest("not a request, notification or response"))
        if "id" in data and not usable_id:
            raise Refusal(JsonRpcInvalidRequest('"id" must be an integer or a string'))
        message_type = self.get_message_type(method)
        takes_id = message_type is None or "id" in attrs.fields_dict(message_type)
        if "id" in data and not takes_id:
            text = f"{method!r} is a notification: sent with an id, it was not applied"
            raise Refusal(JsonRpcInvalidRequest(text), reply_to)
        self._check_lifecycle(method, reply_to)
        if "id" not in data and takes_id and message_type is not None:
            raise Refusal(JsonRpcInvalidRequest(f"{method!r} sent without an id"), answer=False)
        data = self._checked_params(data, method, message_type, reply_to)
        try:
            return super().structure_message(data)
        except Exception as error:
            cause = error.__cause__ or error
            raise Refusal(
                JsonRpcInvalidParams(f"invalid params for {method!r}: {cause}"),
                reply_to,
                answer=reply_to is not None,
            ) from error

    def _check_lifecycle(self, method: str, reply_to: int | str | None) -> None:
        """Requests before `initialize` get ServerNotInitialized, requests after `shutdown`
        and a second `initialize` (which would drop every open document) InvalidRequest;
        notifications then are dropped, `exit` excepted."""
        error: JsonRpcException | None = None
        if self._workspace is None and method not in (types.INITIALIZE, types.EXIT):
            error = JsonRpcServerNotInitialized("the server is not initialized yet")
        elif self._shutdown and method != types.EXIT:
            error = JsonRpcInvalidRequest("the server is shutting down")
        elif method == types.INITIALIZE and self._workspace is not None:
            error = JsonRpcInvalidRequest("the server is already initialized")
        if error is not None:
            raise Refusal(error, reply_to, answer=reply_to is not None)

    def _checked_params(
        self,
        data: dict[str, Any],
        method: str,
        message_type: type | None,
        reply_to: int | str | None,
    ) -> dict[str, Any]:
        """`data` with params cattrs may structure, or a Refusal naming the misfit field.

        A method that takes no params ignores any it is sent (clients send null, {} or
        nothing); an unknown method's params are optional, so it gets MethodNotFound."""
        if message_type is None:
            return {"params": None, **data}
        params_type, required = next(
            (field_type, required)
            for name, _key, field_type, required in field_types(message_type)
            if name == "params"
        )
        if params_type is type(None):
            return {**data, "params": None}
        if "params" in data:
            miss = mismatch(data["params"], params_type, "params")
        else:
            miss = "params: missing" if required else None
        if miss:
            raise Refusal(
                JsonRpcInvalidParams(f"invalid params for {method!r}: {miss}"),
                reply_to,
                answer=reply_to is not None,
            )
        return data

    def _structured_response(self, data: dict[str, Any]) -> Any:
        """A client's response; one that cannot be structured fails the request waiting on it
        (instead of leaving it waiting forever)."""
        try:
            return super().structure_message(data)
        except Exception as error:
            log.warning("malformed response to %r: %s", data["id"], error.__cause__ or error)
            failure = types.ResponseError(
                code=JsonRpcInvalidParams.CODE, message=f"malformed response: {error}"
            )
            self._handle_response(data["id"], None, failure)
            return None

    def _refuse(self, refusal: Refusal) -> None:
        log.warning("refused a message: %s", refusal.error.message)
        if not refusal.answer:
            return
        if refusal.reply_to is None:
            self.reply_unidentified(refusal.error)
        else:
            self._send_response(refusal.reply_to, error=refusal.error.to_response_error())

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

    def reply_unidentified(self, error: JsonRpcException) -> None:
        """The answer to a message whose id cannot be known: id null (JSON-RPC 2.0, 5.1)."""
        body = {"code": error.code, "message": error.message}
        self._send_data({"jsonrpc": "2.0", "id": None, "error": body})


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
    """pygls' workspace, holding `LspTextDocument`s."""

    @classmethod
    def like(cls, workspace: Workspace) -> Sc2Workspace:
        """The same folders, sync kind and encoding as pygls' freshly built `workspace`."""
        return cls(
            workspace.root_uri,
            workspace._sync_kind,
            list(workspace.folders.values()),
            workspace.position_encoding,
        )

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
