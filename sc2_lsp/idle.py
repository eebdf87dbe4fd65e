"""Idle unload and pre-warm: give the model's memory back while nobody types, and be ready again
before the first keystroke asks.

`IdleWatch` notes activity (a completion request, an open or edited document, the editor
window gaining focus) and where the user's cursor last was in each document. After
`model.idleUnloadMinutes` without any, the local engine process ends (RAM and VRAM freed). The
next activity loads the model again and evaluates the prompt at that document's last cursor,
so the first suggestion afterwards finds it in the KV cache like any keystroke would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from sc2_lsp.completer import Completer
from sc2_lsp.config import Settings
from sc2_lsp.engine import Engine, ModelInfo
from sc2_lsp.engine.supervisor import SupervisedEngine
from sc2_lsp.prompting import Request

log = logging.getLogger(__name__)

CHECK_S = 5.0
"""How often the idle time is checked (four times per idle period when that is shorter)."""


@dataclass
class IdleWatch:
    engine: Callable[[], Engine]
    """The server's current engine (it changes with `engine.*` settings)."""
    completer: Completer
    settings: Callable[[], Settings]
    on_change: Callable[[], None] = lambda: None
    """Called when the engine was unloaded, woken or pre-warmed (the status changed)."""
    last_activity: float = field(default_factory=time.monotonic)
    prewarmed: int = 0
    """Pre-warms done since the start: the status shows it, tests and benchmarks wait for it."""
    _cursors: dict[str, Request] = field(default_factory=dict)
    _waking: asyncio.Task[None] | None = None

    def touch(
        self,
        request: Request | None = None,
        uri: str | None = None,
        cursor: Callable[[], Request | None] | None = None,
    ) -> None:
        """Activity in `uri`; `request`: where the user's cursor is now, if known, or `cursor`
        to find it (called only when the model is to be woken: not on every keystroke)."""
        self.last_activity = time.monotonic()
        if request is not None:
            uri = request.snapshot.uri
            self._cursors[uri] = request
        engine = self.engine()
        if isinstance(engine, SupervisedEngine) and engine.health.state == "unloaded":
            found = cursor() if cursor is not None else None
            if found is not None:
                self._cursors[found.snapshot.uri] = found
            self._wake(engine, found or (self._cursors.get(uri) if uri else None))

    def forget(self, uri: str) -> None:
        self._cursors.pop(uri, None)

    async def watch(self) -> None:
        """Unload the local engine once idle for `model.idleUnloadMinutes` (runs forever)."""
        while True:
            minutes = self.settings().model.idle_unload_minutes
            await asyncio.sleep(min(CHECK_S, minutes * 15) if minutes > 0 else CHECK_S)
            minutes = self.settings().model.idle_unload_minutes
            engine = self.engine()
            if (
                minutes > 0
                and isinstance(engine, SupervisedEngine)
                and engine.ready
                and not self.completer.busy
                and time.monotonic() - self.last_activity > minutes * 60
            ):
                log.info("idle for %g minutes: unloading the model", minutes)
                self.completer.cancel_speculation()
                await asyncio.wrap_future(engine.unload())
                self.on_change()

    def _wake(self, engine: SupervisedEngine, cursor: Request | None) -> None:
        if self._waking is not None and not self._waking.done():
            return
        loading = engine.wake()
        if loading is not None:
            self.on_change()
            self._waking = asyncio.ensure_future(self._prewarm(loading, cursor))

    async def _prewarm(self, loading: Future[ModelInfo], cursor: Request | None) -> None:
        try:
            await asyncio.wrap_future(loading)
        except Exception as error:
            log.warning("reloading the model after an idle unload failed: %s", error)
            self.on_change()
            return
        if cursor is not None:
            await self.completer.prewarm(cursor, self.settings())
        self.prewarmed += 1
        self.on_change()
