"""The LSP shell: pygls handlers that turn protocol messages into calls on the core.

Only this module, `protocol.py` (the pygls protocol, documents and log filter under it) and
`documents.py` know LSP types. Handlers stay short: settings in, snapshot out, `Completer` in
the middle, results mapped back to lsprotocol types. Every request is answered: with a
result, an empty result while the model loads or when there is nothing to suggest, or
`RequestCancelled` when the client cancels.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
)
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from sc2_lsp import __version__, client_process, documents, models
from sc2_lsp.completer import Completer, Suggestion
from sc2_lsp.config import SECTION, EngineSettings, Settings, load_options, resolve
from sc2_lsp.engine import EngineError, ModelInfo
from sc2_lsp.engine.backends import Hooks, ManagedEngine, make_engine
from sc2_lsp.engine.supervisor import EngineEvent
from sc2_lsp.prompting import Request, Trigger
from sc2_lsp.protocol import LOG_FILTER, Sc2Protocol
from sc2_lsp.repository import RepositoryContext
from sc2_lsp.trace import Trace

log = logging.getLogger(__name__)


class Sc2Server(LanguageServer):
    protocol: Sc2Protocol

    def __init__(self, cli_layer: dict[str, Any] | None = None) -> None:
        super().__init__("sc2-lsp", __version__, protocol_cls=Sc2Protocol)
        self.cli_layer = cli_layer or {}
        self.init_layer: object = None
        self.client_layer: object = None
        self.settings = Settings()
        self.trace = Trace.from_env()
        self.engine: ManagedEngine = make_engine(
            self.settings.engine, Hooks(self._engine_event, self.trace)
        )
        self._engine_with = self.settings.engine
        self.repository = RepositoryContext()
        self.completer = Completer(self.engine, self.repository.provide, self.trace)
        self.model_error: str | None = None
        self._resolving = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.refused: dict[str, str] = {}
        """Open documents that get no completion (secret-like or ignored), by URI: why."""
        self._loaded_with: object = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.exit_code = 0
        """What the process should exit with: 1 after `exit` without `shutdown` (LSP)."""
        for handler in logging.getLogger().handlers:
            if LOG_FILTER not in handler.filters:
                handler.addFilter(LOG_FILTER)

    # -- settings ---------------------------------------------------------------------------

    def apply_settings(self) -> None:
        """Recompute settings from all layers; report bad values; reload the model if needed."""
        settings, errors = resolve(self.cli_layer, self.init_layer, self.client_layer)
        self.settings = settings
        LOG_FILTER.allow = settings.log_document_text
        logging.getLogger("sc2_lsp").setLevel(settings.log_level.upper())
        if errors:
            self.show(
                "sc2-lsp: invalid settings (defaults used for these): " + "; ".join(errors),
                types.MessageType.Warning,
            )
        self.completer.cache.clear()
        self.repository.configure(self.workspace_roots(), settings.repository)
        self.check_open_documents()
        if (settings.model, settings.engine) != self._loaded_with:
            self.run_task(self.load_model())

    def workspace_roots(self) -> list[Path]:
        roots = [documents.uri_to_path(folder.uri) for folder in self.workspace.folders.values()]
        if not roots and self.workspace.root_path:
            roots.append(Path(self.workspace.root_path))
        return [root for root in roots if root is not None and root.is_dir()]

    async def watch_files(self) -> None:
        """Ask the client to report file changes on disk, so the index never re-walks."""
        workspace = self.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        if not (watched and watched.dynamic_registration):
            return
        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
        )
        registration = types.Registration(
            id="sc2-watch",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=options,
        )
        try:
            await self.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])
            )
        except Exception as error:
            log.info("file watching not available: %s", error)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Malformed messages and notification failures go to the log, not to a popup.

        A message that is not JSON, or not a JSON-RPC object, also gets the response JSON-RPC
        prescribes for it: ParseError or InvalidRequest, with id null.
        """
        log.warning("%s: %s", getattr(source, "__name__", source), error)
        if source is JsonRpcInternalError:
            # Sending failed (the client is gone, stdout closed): telling the client about it
            # would fail the same way and recurse until the stack overflows, again and again.
            return
        if source is JsonRpcException and not isinstance(error, JsonRpcException):
            reply = JsonRpcParseError if isinstance(error, ValueError) else JsonRpcInvalidRequest
            self.protocol.reply_unidentified(reply())
        self.window_log_message(
            types.LogMessageParams(type=types.MessageType.Warning, message=f"sc2-lsp: {error}")
        )

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        log.log(
            logging.WARNING if kind <= types.MessageType.Warning else logging.INFO, "%s", message
        )
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    async def pull_configuration(self) -> None:
        capabilities = self.client_capabilities.workspace
        if not (capabilities and capabilities.configuration):
            return
        try:
            answer = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
        except Exception as error:
            log.warning("workspace/configuration failed: %s", error)
            return
        self.client_layer = answer[0] if answer else None

    def client_supports_markdown(self) -> bool:
        document = self.client_capabilities.text_document
        completion = document.completion if document else None
        item = completion.completion_item if completion else None
        formats = item.documentation_format if item else None
        return bool(formats and types.MarkupKind.Markdown in formats)

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        return self.protocol.client_capabilities

    @property
    def model_state(self) -> str:
        """ "not loaded", "loading", "ready", "restarting" (after an engine crash) or "failed"."""
        state = self.engine.health.state
        if self._resolving:
            return "loading"
        if self.model_error is not None and state in ("idle", "failed"):
            return "failed"
        return {"idle": "not loaded", "closed": "not loaded"}.get(state, state)

    def status(self, index_details: bool = True) -> dict[str, Any]:
        """What editors show in a status bar: model state, activity, counters, last latency."""
        info = self.engine.info
        stats = self.completer.stats
        health = self.engine.health
        fallback = health.fallback
        return {
            "version": __version__,
            "model": {
                "state": self.model_state,
                "error": self.model_error,
                "path": str(info.path) if info else None,
                "template": info.template.name if info else None,
                "nGpuLayers": info.n_gpu_layers if info else None,
            },
            "engine": {
                "kind": self.settings.engine.kind,
                "url": self.settings.engine.url,
                "pid": health.pid,
                "restarts": health.restarts,
                "lastCause": health.last_cause,
                "lastOutput": list(health.last_output),
                "fallback": {"safety": fallback.safety.describe(), "reason": fallback.reason}
                if fallback
                else None,
            },
            "generating": self.completer.busy,
            "requests": stats.requests,
            "generations": stats.generations,
            "cancelled": stats.cancelled,
            "cacheHits": stats.cache_hits,
            "prefetchHits": stats.prefetch_hits,
            "prefetches": stats.prefetches,
            "promptTokens": stats.prompt_tokens,
            "reusedTokens": stats.reused_tokens,
            "lastLatencyMs": round(stats.last_latency_ms, 1),
            "index": self.repository.status(index_details),
            "refusedDocuments": dict(self.refused),
        }

    def publish_status(self) -> None:
        """Push `sc2/status` (the `sc2.status` payload) so clients need not poll."""
        self.protocol.notify("sc2/status", self.status(index_details=False))

    # -- model ------------------------------------------------------------------------------

    def _hooks(self) -> Hooks:
        return Hooks(self._engine_event, self.trace, tuple(self.workspace_roots()))

    async def swap_engine(self, settings: EngineSettings) -> None:
        """`engine.*` changed: the next generation runs on a new engine of that kind."""
        old, self._engine_with = self.engine, settings
        self.engine = make_engine(settings, self._hooks())
        self.completer.engine = self.engine
        await asyncio.to_thread(old.close)

    async def load_model(self) -> None:
        wanted = self.settings.model
        self._loaded_with = (wanted, self.settings.engine)
        loading_with = self._loaded_with
        self._loop = asyncio.get_running_loop()
        self.model_error, self._resolving = None, True
        self.publish_status()
        progress = await self._begin_progress("sc2-lsp", "loading model")
        # The old model's generation would hold the engine (and then fill the cache).
        self.completer.cancel_speculation()
        self.engine.cancel_running()
        if self.settings.engine != self._engine_with:
            await self.swap_engine(self.settings.engine)
        try:
            path = await asyncio.to_thread(models.resolve, wanted.path)
            loading = self.engine.load(load_options(wanted, path))
            self._resolving = False
            self.publish_status()
            info: ModelInfo = await asyncio.wrap_future(loading)
        except (models.ModelError, EngineError) as error:
            if self._loaded_with is loading_with:
                self._resolving = False
                self.model_error = str(error)
                self.publish_status()
                self.show(f"sc2-lsp: {error}", types.MessageType.Error)
            self._end_progress(progress, "model not loaded")
            return
        if self._loaded_with is not loading_with:
            return
        self.completer.cache.clear()  # suggestions that finished on the old model
        self.publish_status()
        for warning in info.warnings:
            self.show(f"sc2-lsp: {warning}", types.MessageType.Warning)
        log.info(
            "model ready: %s (%s, template %s, n_ctx %d, gpu layers %d, fallback: %s) in %.1fs",
            info.path.name,
            info.architecture,
            info.template.name,
            info.n_ctx,
            info.n_gpu_layers,
            info.safety.describe(),
            info.load_seconds,
        )
        self._end_progress(progress, f"{info.path.name} ready")

    def _engine_event(self, event: EngineEvent) -> None:
        """From the engine's thread: hand the event to the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("%s", event.message)
            return
        loop.call_soon_threadsafe(self._engine_event_on_loop, event)

    def _engine_event_on_loop(self, event: EngineEvent) -> None:
        if event.kind == "ready":
            log.info("%s", event.message)
        else:
            kind = types.MessageType.Warning if event.kind == "crashed" else types.MessageType.Error
            self.show(event.message, kind)
        self.publish_status()

    async def _begin_progress(self, title: str, message: str) -> str | None:
        window = self.client_capabilities.window
        if not (window and window.work_done_progress):
            return None
        token = f"sc2-load-{uuid.uuid4().hex[:8]}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception:
            return None
        self.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message=message)
        )
        return token

    def _end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    async def exit_with_client(self, pid: int) -> None:
        """Exit as `exit` would once the client process is gone (LSP `processId`), even while
        the pipes stay open."""
        await client_process.gone(pid)
        log.warning("the client process %d is gone: exiting", pid)
        self.repository.close()
        self.engine.close()
        logging.shutdown()
        # pygls' reader thread is blocked reading a pipe that whoever still holds it will
        # neither write nor close: no orderly exit could join it.
        os._exit(0 if self.protocol.shutdown_received else 1)

    def watch_client(self, pid: int | None) -> None:
        if pid is None:
            return
        if client_process.process_alive(pid):
            self.run_task(self.exit_with_client(pid))
        else:  # e.g. an editor in another PID namespace (a container): cannot be watched
            log.warning("processId %d is no process here; not watching it", pid)

    def run_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- completion -------------------------------------------------------------------------

    def document(self, uri: str) -> TextDocument | None:
        """An open document; pygls keys them by the unquoted URI (`my%20file.py` → `my file.py`)."""
        document: TextDocument | None = self.workspace.text_documents.get(unquote(uri))
        return document

    def refusal(self, uri: str) -> str | None:
        """Why the document at `uri` gets no completion (`RepositoryContext.refusal`), kept in
        `refused` for `sc2.status`."""
        path = documents.uri_to_path(uri)
        reason = self.repository.refusal(path) if path is not None else None
        if reason is None:
            self.refused.pop(uri, None)
        else:
            self.refused[uri] = reason
        return reason

    def check_open_documents(self) -> None:
        """Settings, ignore files or folders changed: decide again for every open document."""
        before = dict(self.refused)
        for uri in list(self.workspace.text_documents):
            self.refusal(uri)
        if self.refused != before:
            self.publish_status()

    def request_for(self, uri: str, position: types.Position, trigger: Trigger) -> Request | None:
        document = self.document(uri)
        if document is None:
            return None
        text = documents.scrub_surrogates(document.source)
        encoding = str(self.workspace.position_encoding or "utf-16")
        cursor = documents.cursor_at(text, position.line, position.character, encoding)
        snapshot = documents.Snapshot(uri, document.version, document.language_id, text)
        return Request(snapshot, cursor, self.root_for(snapshot.path), trigger)

    def root_for(self, path: Path | None) -> Path | None:
        if path is None:
            return None
        matching = [root for root in self.workspace_roots() if path.is_relative_to(root)]
        return max(matching, key=lambda root: len(root.parts), default=None)

    async def suggest(
        self, uri: str, position: types.Position, trigger: Trigger
    ) -> tuple[Request, Suggestion] | None:
        completion = self.settings.completion
        request = self.request_for(uri, position, trigger)
        if request is None or self.refusal(uri) is not None or not completion.enable:
            return None
        if request.snapshot.language_id in completion.disabled_languages:
            return None
        try:
            suggestion = await self.completer.complete(request, self.settings)
        except EngineError as error:
            self.show(f"sc2-lsp: {error}", types.MessageType.Error)
            return None
        finally:
            self.publish_status()
        if suggestion is None or not suggestion.text:
            return None
        return request, suggestion


def completion_item(
    request: Request,
    suggestion: Suggestion,
    position: types.Position,
    encoding: str,
    markdown: bool,
) -> types.CompletionItem:
    """A popup item for clients without inline completion: replaces the word being typed."""
    text, offset = request.snapshot.text, request.cursor.offset
    word_start = offset
    while word_start > 0 and (text[word_start - 1].isalnum() or text[word_start - 1] == "_"):
        word_start -= 1
    word = text[word_start:offset]
    line, column = documents.position_of(text, word_start, encoding)
    new_text = word + suggestion.text
    first_line = new_text.split("\n", 1)[0].strip() or new_text.strip().split("\n", 1)[0]
    return types.CompletionItem(
        label=first_line[:80] + ("…" if len(first_line) > 80 or "\n" in suggestion.text else ""),
        kind=types.CompletionItemKind.Snippet,
        detail="sc2-lsp",
        documentation=(
            types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```\n{new_text}\n```")
            if markdown
            else new_text
        ),
        filter_text=new_text,
        sort_text="0",
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(
            range=types.Range(start=types.Position(line=line, character=column), end=position),
            new_text=new_text,
        ),
    )


def build_server(cli_layer: dict[str, Any] | None = None) -> Sc2Server:
    server = Sc2Server(cli_layer)

    @server.feature(types.INITIALIZE)
    def initialize(ls: Sc2Server, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
            options = options[SECTION]
        ls.init_layer = options
        ls.watch_client(params.process_id)
        settings, errors = resolve(ls.cli_layer, ls.init_layer)
        ls.settings = settings
        if errors:
            ls.show(
                "sc2-lsp: invalid initializationOptions (defaults used for these): "
                + "; ".join(errors),
                types.MessageType.Warning,
            )

    @server.feature(types.INITIALIZED)
    async def initialized(ls: Sc2Server, params: types.InitializedParams) -> None:
        await ls.pull_configuration()
        ls.apply_settings()
        await ls.watch_files()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: Sc2Server, params: types.DidOpenTextDocumentParams) -> None:
        document = params.text_document
        if ls.refusal(document.uri) is not None:
            ls.publish_status()
        elif (path := documents.uri_to_path(document.uri)) is not None:
            text = documents.scrub_surrogates(document.text)
            ls.repository.opened(path, text, document.language_id)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: Sc2Server, params: types.DidChangeTextDocumentParams) -> None:
        path = documents.uri_to_path(params.text_document.uri)
        document = ls.document(params.text_document.uri)
        if path is None or document is None or params.text_document.uri in ls.refused:
            return
        text = documents.scrub_surrogates(document.source)
        encoding = str(ls.workspace.position_encoding or "utf-16")
        edits = [
            documents.cursor_at(
                text, change.range.start.line, change.range.start.character, encoding
            ).offset
            for change in params.content_changes
            if isinstance(change, types.TextDocumentContentChangePartial)
        ]
        ls.repository.changed(path, text, document.language_id, edits)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Sc2Server, params: types.DidCloseTextDocumentParams) -> None:
        ls.completer.forget(params.text_document.uri)
        ls.refused.pop(params.text_document.uri, None)
        if (path := documents.uri_to_path(params.text_document.uri)) is not None:
            ls.repository.closed(path)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: Sc2Server, params: types.DidChangeWatchedFilesParams) -> None:
        by_kind: dict[types.FileChangeType, list[Path]] = {
            kind: [] for kind in types.FileChangeType
        }
        for change in params.changes:
            if (path := documents.uri_to_path(change.uri)) is not None:
                by_kind[change.type].append(path)
        ls.repository.files_changed(
            by_kind[types.FileChangeType.Created],
            by_kind[types.FileChangeType.Changed],
            by_kind[types.FileChangeType.Deleted],
        )
        ls.check_open_documents()  # an ignore file may have changed

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(
        ls: Sc2Server, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        ls.repository.configure(ls.workspace_roots(), ls.settings.repository)
        ls.check_open_documents()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: Sc2Server, params: types.DidChangeConfigurationParams
    ) -> None:
        pushed = params.settings
        if isinstance(pushed, dict) and SECTION in pushed:
            ls.client_layer = pushed[SECTION]
        else:
            await ls.pull_configuration()
        ls.apply_settings()

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: Sc2Server, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        found = await ls.suggest(
            params.text_document.uri, params.position, "invoked" if invoked else "automatic"
        )
        if found is None:
            return types.InlineCompletionList(items=[])
        _request, suggestion = found
        item = types.InlineCompletionItem(
            insert_text=suggestion.text,
            range=types.Range(start=params.position, end=params.position),
        )
        return types.InlineCompletionList(items=[item])

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "])
    )
    async def completion(ls: Sc2Server, params: types.CompletionParams) -> types.CompletionList:
        invoked = (
            params.context is None
            or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        found = await ls.suggest(
            params.text_document.uri, params.position, "invoked" if invoked else "automatic"
        )
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        request, suggestion = found
        encoding = str(ls.workspace.position_encoding or "utf-16")
        item = completion_item(
            request, suggestion, params.position, encoding, ls.client_supports_markdown()
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    @server.command("sc2.status")
    def status(ls: Sc2Server, *args: Any) -> dict[str, Any]:
        return ls.status()

    @server.command("sc2.lastPrompt")
    def last_prompt(ls: Sc2Server, *args: Any) -> str | None:
        return ls.completer.last_prompt

    @server.feature(types.EXIT)
    def exit_(ls: Sc2Server, *args: Any) -> None:
        ls.exit_code = 0 if ls.protocol.shutdown_received else 1

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: Sc2Server, *args: Any) -> None:
        ls.repository.close()
        ls.engine.close()

    return server
