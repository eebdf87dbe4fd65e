"""Work done while the user reads a suggestion: its alternatives, and what follows accepting it.

After an answer the engine idles until the next keystroke. The `Speculator` spends that time,
one job at a time, and a real request cancels it the moment it comes:

1. the engine's own alternatives for the state just answered (branches from the same prompt,
   see `engine.branching`), put in the cache right after the suggestion shown, so that cycling
   (VS Code's Alt+], Neovim's `select`) finds them when the client asks again;
2. the state after accepting the suggestion (and after accepting its first line), computed as
   a real request would; a real request for exactly that state adopts the running job instead
   of starting over (`adopt`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from sc2_lsp import healing
from sc2_lsp.config import Settings
from sc2_lsp.engine import CancelToken, Engine, Generation, ShouldStop
from sc2_lsp.prompting import Prepared, Request, accepted_state
from sc2_lsp.suggestions import (
    AFTER_CHARS,
    BEFORE_CHARS,
    Alternative,
    Origin,
    SuggestionCache,
    distinct,
    state_key,
)

log = logging.getLogger(__name__)

PREFETCH_DELAY_S = 0.02
"""Let the answer that triggered speculation reach the client before any prompt is built."""

Found = tuple[str, Prepared, Generation]


def cursor_key(request: Request, inserted: str = "") -> tuple[str, str, str]:
    """The cache key of the request's cursor, after `inserted` is typed there (if any).

    Sliced around the cursor, never copying the document: this runs on every keystroke.
    """
    text, offset = request.snapshot.text, request.cursor.offset
    before = text[max(0, offset - BEFORE_CHARS) : offset] + inserted
    return state_key(request.snapshot.uri, before, text[offset : offset + AFTER_CHARS])


@dataclass(slots=True)
class Speculation:
    """A prefetch in flight: the state it computes, so a real request for it can adopt it."""

    key: tuple[str, str, str]
    token: CancelToken
    job: asyncio.Future[Found | None]
    adopted: bool = False


class Host(Protocol):
    """What speculation needs from the completer."""

    engine: Engine
    cache: SuggestionCache

    @property
    def busy(self) -> bool: ...

    async def generate(
        self,
        request: Request,
        settings: Settings,
        token: CancelToken,
        speculative: bool = False,
        prepared: Prepared | None = None,
    ) -> Found | None: ...

    def remember(
        self, request: Request, texts: list[str], settings: Settings, origin: Origin = "model"
    ) -> tuple[Alternative, ...]: ...

    def traced(self, prepared: Prepared, generation: Generation, speculative: bool) -> None: ...


class Speculator:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.prefetches = 0
        """Prefetched states stored (not cancelled, not adopted)."""
        self.alternatives = 0
        """Alternatives the engine computed and the cache now holds."""
        self._running: Speculation | None = None
        self._branching: CancelToken | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(
        self, request: Request, shown: str, settings: Settings, answered: Found | None = None
    ) -> None:
        """After showing `shown`: its alternatives (when `answered` by the model), then what
        follows accepting it, unless cached or being computed."""
        wants_branches = answered is not None and settings.engine_alternatives > 0
        wants_prefetch = settings.prefetch
        if not (wants_branches or wants_prefetch):
            return
        key = cursor_key(request, shown)
        running = self._running
        if not wants_branches and (
            self.host.cache.has(*key) or (running is not None and running.key == key)
        ):
            return
        work = self._run(request, shown, settings, answered if wants_branches else None)
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def adopt(self, request: Request) -> Speculation | None:
        """The prefetch computing exactly this request's state, taken over from speculation."""
        running = self._running
        if running is None or running.token.cancelled or cursor_key(request) != running.key:
            return None
        running.adopted = True
        self._running = None
        return running

    def cancel(self) -> None:
        if self._branching is not None:
            self._branching.cancel()
            self._branching = None
        if self._running is not None:
            self._running.token.cancel()
            self._running = None

    async def _run(
        self, request: Request, shown: str, settings: Settings, answered: Found | None
    ) -> None:
        await asyncio.sleep(PREFETCH_DELAY_S)
        if answered is not None and not await self._branches(request, answered, settings):
            return
        if settings.prefetch:
            await self._prefetch(request, shown, settings)

    async def _branches(self, request: Request, answered: Found, settings: Settings) -> bool:
        """The engine's alternatives to the suggestion just shown; False when interrupted."""
        _text, prepared, generation = answered
        tokenizer = self.host.engine.tokenizer
        if self.host.busy or self._running is not None or tokenizer is None:
            return not self.host.busy
        # Tokens that only spelled the healed text again join the prompt: the branches then
        # differ where the suggestion itself starts.
        healed = prepared.params.healed
        spelled = healing.spelled_by(generation.tokens, healed, tokenizer.piece)
        if len(generation.tokens) <= spelled:
            return True
        given = healed if spelled else ""
        params = replace(
            prepared.params,
            healed=healed[len(given) :],
            branches=settings.engine_alternatives,
            avoid_first=(generation.tokens[spelled],),
        )
        prompt = [*prepared.prompt.tokens, *generation.tokens[:spelled]]
        token = self._branching = CancelToken()
        should_stop = partial(_after, given, prepared.stop_rule)
        future = self.host.engine.generate(prompt, params, token, should_stop)
        try:
            branched = await asyncio.wrap_future(future)
        finally:
            if self._branching is token:
                self._branching = None
        if token.cancelled or branched.stop_reason in ("cancelled", "unavailable"):
            return False
        self.host.traced(replace(prepared, params=params), branched, True)
        texts = distinct([prepared.suggestion(given + b.text) for b in branched.branches], 8)
        if texts:
            self.host.cache.add_alternatives(*cursor_key(request), texts)
            self.alternatives += len(texts)
        return True

    async def _prefetch(self, request: Request, suggestion: str, settings: Settings) -> None:
        """Compute what comes after accepting `suggestion` (and after its first line)."""
        accepted = [suggestion]
        first_line = suggestion.split("\n", 1)[0]
        if first_line and first_line != suggestion:
            accepted.append(first_line)
        for text in accepted:
            if self.host.busy or (self._running is not None and not self._running.adopted):
                return  # a real request (or another prefetch) came first
            if self.host.cache.has(*cursor_key(request, text)):
                continue
            state = accepted_state(request, text)
            token = CancelToken()
            job = asyncio.ensure_future(self.host.generate(state, settings, token, True))
            speculation = Speculation(cursor_key(request, text), token, job)
            self._running = speculation
            try:
                found = await job
            except Exception:
                log.debug("prefetch failed", exc_info=True)
                return
            finally:
                if self._running is speculation:
                    self._running = None
            if speculation.adopted or token.cancelled or found is None:
                return
            self.prefetches += 1
            self.host.remember(state, distinct([found[0]], 1), settings, "prefetch")


def _after(given: str, should_stop: ShouldStop, text: str) -> bool:
    """`should_stop` on a branch's text with the part already given to its prompt before it."""
    return should_stop(given + text)
