"""EngineWorker: the single thread that owns the model.

llama.cpp contexts are not thread-safe, and one long-lived context is what makes KV-cache
reuse possible, so every model call goes through this one thread in submission order. Jobs
are plain callables; callers get `concurrent.futures.Future`s (await them with
`asyncio.wrap_future`). A job still queued can be cancelled outright; a running generation is
stopped through its `CancelToken`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TypeVar

from sc2_lsp.engine import (
    CancelToken,
    EngineError,
    Generation,
    GenerationParams,
    LoadOptions,
    ModelInfo,
)
from sc2_lsp.engine.llama import LlamaModel, Tokenizer

log = logging.getLogger(__name__)

T = TypeVar("T")
_Job = tuple[Future[object], Callable[[], object]]


class EngineWorker:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sc2-engine", daemon=True)
        self._model: LlamaModel | None = None
        self._running: CancelToken | None = None
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

    @property
    def model(self) -> LlamaModel | None:
        return self._model

    @property
    def tokenizer(self) -> Tokenizer | None:
        model = self._model
        return model.tokenizer if model else None

    @property
    def info(self) -> ModelInfo | None:
        model = self._model
        return model.info if model else None

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                future.set_exception(EngineError("the engine is shut down"))
                return future
            if not self._started:
                self._thread.start()
                self._started = True
            self._jobs.put((future, job))  # type: ignore[arg-type]
        return future

    def load(self, options: LoadOptions) -> Future[ModelInfo]:
        """Replace the current model (if any) with the one `options` describe."""

        def job() -> ModelInfo:
            self._unload()
            self._model = LlamaModel(options)
            return self._model.info

        return self.submit(job)

    def unload(self) -> Future[None]:
        return self.submit(self._unload)

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: Callable[[str], bool] = lambda _text: False,
    ) -> Future[Generation]:
        def job() -> Generation:
            model = self._model
            if model is None:
                raise EngineError("no model is loaded")
            if cancel.cancelled:
                return Generation(n_prompt=len(prompt), stop_reason="cancelled")
            self._running = cancel
            try:
                return model.generate(prompt, params, cancel, should_stop)
            finally:
                self._running = None

        return self.submit(job)

    def cancel_running(self) -> None:
        running = self._running
        if running is not None:
            running.cancel()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the running generation, drop queued jobs, free the model, end the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            started = self._started
        self.cancel_running()
        if not started:
            return
        self._drain()
        self._jobs.put(None)
        self._thread.join(timeout)

    def _drain(self) -> None:
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[0].cancel()

    def _unload(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            model.close()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                break
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as error:
                if not isinstance(error, EngineError):
                    log.exception("engine job failed")
                future.set_exception(error)
        self._unload()
