"""JobThread: one thread that runs engine jobs one at a time, in submission order.

An engine keeps one long-lived llama.cpp context (that is what makes KV-cache reuse possible)
and answers one job at a time; callers get `concurrent.futures.Future`s (await them with
`asyncio.wrap_future`). A job still queued can be cancelled outright; a running generation is
stopped through its `CancelToken`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from sc2_lsp.engine import EngineError

log = logging.getLogger(__name__)

T = TypeVar("T")
_Job = tuple[Future[object], Callable[[], object]]


class JobThread:
    def __init__(self, name: str = "sc2-engine") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

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

    def close(self, timeout: float = 5.0, last: Callable[[], object] | None = None) -> None:
        """Drop queued jobs, run `last` (if any) on the thread, and end it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            started = self._started
        if not started:
            if last is not None:
                last()
            return
        self._drain()
        if last is not None:
            self._jobs.put((Future(), last))
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
