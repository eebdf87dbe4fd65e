"""The LSP shell: pygls handlers that turn protocol messages into calls on the core.

Only this module, `sync.py` (document and notebook sync handlers), `completion_requests.py`,
`answers.py` (the shape of answers and accept signals), `client.py` (what is asked of the
client), `protocol.py` (the pygls protocol, documents and log filter under it) and
`documents.py` know LSP types. Handlers stay short: settings in, snapshot out,
`Completer` in the middle, results mapped back to lsprotocol types. Every request is
answered: with a result, an empty result while the model loads or when there is nothing to
suggest, or `RequestCancelled` when the client cancels.
"""

from __future__ import annotations

import asyncio
import logging
import os
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

from sc2_lsp import (
    __version__,
    answers,
    client,
    client_process,
    completion_requests,
    documents,
    models,
    status,
    sync,
)
from sc2_lsp.acceptance import AcceptanceLog, StatsFile
from sc2_lsp.completer import Completer
from sc2_lsp.config import SECTION, EngineSettings, Settings, load_options, resolve
from sc2_lsp.engine import EngineError, ModelInfo
from sc2_lsp.engine.backends import Hooks, ManagedEngine, make_engine
from sc2_lsp.engine.supervisor import EngineEvent
from sc2_lsp.idle import IdleWatch
from sc2_lsp.protocol import LOG_FILTER, Sc2Protocol
from sc2_lsp.repository import RepositoryContext
from sc2_lsp.trace import Trace

log = logging.getLogger(__name__)

STATS_FLUSH_S = 30.0
"""How often shown counts reach the statistics file (accepts reach it at once)."""


WAKE = "sc2/wake"
"""Notification editors send when their window gains the focus (an idle-unloaded model then
loads again before the first keystroke)."""


class Sc2Server(LanguageServer):
    protocol: Sc2Protocol

    def __init__(self, cli_layer: dict[str, Any] | None = None) -> None:
        super().__init__(
            "sc2-lsp",
            __version__,
            protocol_cls=Sc2Protocol,
            notebook_document_sync=sync.NOTEBOOK_SYNC,
        )
        self.cli_layer = cli_layer or {}
        self.init_layer: object = None
        self.client_layer: object = None
        self.settings = Settings()
        self.trace = self.protocol.work_trace = Trace.from_env()
        self.engine: ManagedEngine = make_engine(
            self.settings.engine, Hooks(self._engine_event, self.trace)
        )
        self._engine_with = self.settings.engine
        self.repository = RepositoryContext()
        self.completer = Completer(self.engine, self.repository.provide, self.trace)
        self.acceptance = AcceptanceLog(StatsFile())
        self.idle = IdleWatch(
            lambda: self.engine, self.completer, lambda: self.settings, self.publish_status
        )
        self.model_error: str | None = None
        self.resolving = False
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
        self.acceptance.enabled = settings.stats.enable
        self.configure_repository()
        self.check_open_documents()
        if (settings.model, settings.engine) != self._loaded_with:
            self.run_task(self.load_model())

    def configure_repository(self) -> None:
        settings = self.settings
        self.repository.configure(
            self.workspace_roots(), settings.repository, settings.completion.disabled_globs
        )

    def workspace_roots(self) -> list[Path]:
        roots = [documents.uri_to_path(folder.uri) for folder in self.workspace.folders.values()]
        if not roots and self.workspace.root_path:
            roots.append(Path(self.workspace.root_path))
        return [root for root in roots if root is not None and root.is_dir()]

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

    def status(self, index_details: bool = True) -> dict[str, Any]:
        return status.payload(self, index_details)

    async def pull_configuration(self) -> None:
        answer = await client.configuration(self, SECTION)
        if answer is not None:
            self.client_layer = answer[0] if answer else None

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
        self.model_error, self.resolving = None, True
        self.publish_status()
        progress = await client.begin_progress(self, "sc2-lsp", "loading model")
        # The old model's generation would hold the engine (and then fill the cache).
        self.completer.cancel_speculation()
        self.engine.cancel_running()
        if self.settings.engine != self._engine_with:
            await self.swap_engine(self.settings.engine)
        try:
            path = await asyncio.to_thread(models.resolve, wanted.path)
            loading = self.engine.load(load_options(wanted, path))
            self.resolving = False
            self.publish_status()
            info: ModelInfo = await asyncio.wrap_future(loading)
        except (models.ModelError, EngineError) as error:
            if self._loaded_with is loading_with:
                self.resolving = False
                self.model_error = str(error)
                self.publish_status()
                self.show(f"sc2-lsp: {error}", types.MessageType.Error)
            client.end_progress(self, progress, "model not loaded")
            return
        if self._loaded_with is not loading_with:
            return
        self.completer.cache.clear()  # suggestions that finished on the old model
        self.idle.touch()  # loading is not idling: the idle time counts from now
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
        client.end_progress(self, progress, f"{info.path.name} ready")

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

    async def exit_with_client(self, pid: int) -> None:
        """Exit as `exit` would once the client process is gone (LSP `processId`), even while
        the pipes stay open."""
        await client_process.gone(pid)
        log.warning("the client process %d is gone: exiting", pid)
        self.acceptance.flush()
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
        for uri in [*self.workspace.text_documents, *self.workspace.notebook_documents]:
            if self.workspace.get_notebook_document(cell_uri=uri) is None:
                self.refusal(uri)
        if self.refused != before:
            self.publish_status()

    async def flush_stats(self) -> None:
        pending = self.acceptance.take()
        if pending:
            await asyncio.to_thread(self.acceptance.write, pending)

    async def flush_stats_periodically(self) -> None:
        while True:
            await asyncio.sleep(STATS_FLUSH_S)
            await self.flush_stats()


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
        ls.run_task(ls.flush_stats_periodically())
        ls.run_task(ls.idle.watch())
        await client.watch_files(ls)

    sync.register(server)

    @server.feature(WAKE)
    def wake(ls: Sc2Server, *args: Any) -> None:
        """The editor window has the focus again: have the model ready before a keystroke."""
        ls.idle.touch()

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

    completion_requests.register(server)

    @server.command("sc2.status")
    def status_command(ls: Sc2Server, *args: Any) -> dict[str, Any]:
        return ls.status()

    @server.command("sc2.lastPrompt")
    def last_prompt(ls: Sc2Server, *args: Any) -> str | None:
        return ls.completer.last_prompt

    @server.command(answers.ACCEPTED)
    async def accepted(ls: Sc2Server, *args: Any) -> None:
        signal = answers.accept_signal(args, partial=False)
        if ls.acceptance.accepted(signal.answer_id, signal.index, signal.length):
            await ls.flush_stats()

    @server.command(answers.PARTIALLY_ACCEPTED)
    async def partially_accepted(ls: Sc2Server, *args: Any) -> None:
        signal = answers.accept_signal(args, partial=True)
        if ls.acceptance.partially_accepted(signal.answer_id, signal.index, signal.length or 0):
            await ls.flush_stats()

    @server.feature(types.EXIT)
    def exit_(ls: Sc2Server, *args: Any) -> None:
        ls.exit_code = 0 if ls.protocol.shutdown_received else 1

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: Sc2Server, *args: Any) -> None:
        ls.acceptance.flush()
        ls.repository.close()
        ls.engine.close()

    return server
