"""FallbackEngine: a remote engine, with the local model standing in while the server is away.

`engine.fallback: "local"`. The local engine is only started the first time the remote one
cannot take a generation (a thin laptop should not hold a model it may never need), and is kept
once loaded. Both build prompts from the same vocabulary (`model.path`), so a prompt means the
same to either; whichever is ready, the remote engine first, answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from sc2_lsp.engine import (
    CancelToken,
    EngineError,
    Generation,
    GenerationParams,
    LoadOptions,
    ModelInfo,
    ShouldStop,
    Tokenizer,
    TokenSink,
    never_stop,
)
from sc2_lsp.engine.backends import ManagedEngine
from sc2_lsp.engine.supervisor import EngineEvent, Health


class FallbackEngine:
    """The remote engine while it is ready, else a local one started on first need."""

    def __init__(
        self,
        remote: ManagedEngine,
        make_local: Callable[[], ManagedEngine],
        on_event: Callable[[EngineEvent], None],
    ) -> None:
        self.remote = remote
        self.local: ManagedEngine | None = None
        self._make_local = make_local
        self._on_event = on_event
        self._options: LoadOptions | None = None
        self._lock = threading.Lock()

    @property
    def _active(self) -> ManagedEngine:
        local = self.local
        return local if not self.remote.ready and local is not None and local.ready else self.remote

    @property
    def health(self) -> Health:
        return self._active.health

    @property
    def ready(self) -> bool:
        # Asked before every completion: the first one the server cannot take starts the
        # local engine.
        if not self.remote.ready and self.remote.health.state in ("restarting", "failed"):
            self._start_local()
        return self._active.ready

    @property
    def info(self) -> ModelInfo | None:
        return self._active.info

    @property
    def tokenizer(self) -> Tokenizer | None:
        return self._active.tokenizer

    def cached_tokens(self) -> Sequence[int]:
        return self._active.cached_tokens()

    def load(self, options: LoadOptions) -> Future[ModelInfo]:
        self._options = options
        loading = self.remote.load(options)
        loading.add_done_callback(self._remote_loaded)
        return loading

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop = never_stop,
        on_token: TokenSink | None = None,
    ) -> Future[Generation]:
        return self._active.generate(prompt, params, cancel, should_stop, on_token)

    def cancel_running(self) -> None:
        self.remote.cancel_running()
        if self.local is not None:
            self.local.cancel_running()

    def close(self) -> None:
        self.remote.close()
        if self.local is not None:
            self.local.close()

    def _remote_loaded(self, loading: Future[ModelInfo]) -> None:
        if loading.cancelled() or loading.exception() is not None:
            self._start_local()

    def _start_local(self) -> None:
        with self._lock:  # from the server's loop, and from the remote engine's thread
            if self.local is not None or self._options is None:
                return
            self.local = self._make_local()
        loading = self.local.load(self._options)
        loading.add_done_callback(self._local_loaded)

    def _local_loaded(self, loading: Future[ModelInfo]) -> None:
        error = loading.exception()
        if isinstance(error, EngineError):
            self._on_event(
                EngineEvent(
                    "failed",
                    f"sc2-lsp: the local fallback (engine.fallback) could not load: {error}. "
                    "It needs model.path to be a whole model, not only its vocabulary.",
                )
            )
        elif error is None:
            self._on_event(
                EngineEvent("ready", "sc2-lsp: the local model completes until the server is back.")
            )
