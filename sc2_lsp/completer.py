"""Completer: the one place where a completion is composed.

request → prompt (`prompting`) → engine (one generation at a time, superseded per document)
→ post-processing → Suggestion, with the typed-ahead cache (`suggestions`) in front, the
debounce from the typing rhythm (`rhythm`), the file window kept while typing, the prompt-time
budget, and on a remote engine a stream the user types along kept alive (`following`); after
an answer, the work done while the user reads it (alternatives and the prefetch of accepted
states) is the `speculation.Speculator`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

from sc2_lsp import syntax
from sc2_lsp.config import Settings
from sc2_lsp.engine import CancelToken, Engine, Generation, Tokenizer
from sc2_lsp.following import Stream, supersede
from sc2_lsp.prompting import (
    MIN_PROMPT_TOKENS,
    ContextProvider,
    Prepared,
    Request,
    TokenCache,
    new_tokens,
    prepare,
)
from sc2_lsp.rhythm import TypingRhythm
from sc2_lsp.speculation import Found, Speculator, cursor_key
from sc2_lsp.suggestions import (
    AFTER_CHARS,
    BEFORE_CHARS,
    Alternative,
    Hit,
    Origin,
    SuggestionCache,
    distinct,
    new_lineage,
)
from sc2_lsp.trace import NO_TRACE, Trace

log = logging.getLogger(__name__)

WINDOW_ANCHOR_CHARS = 64


@dataclass(frozen=True, slots=True)
class Suggestion:
    items: tuple[Alternative, ...]
    """The alternatives to show, best first (at most `completion.suggestions`); never empty."""
    mode: syntax.CompletionMode | None
    generation: Generation | None
    """None when the suggestion came from the cache."""
    prepared: Prepared | None
    elapsed_ms: float
    source: Literal["model", "cache", "prefetch"] = "model"

    @property
    def text(self) -> str:
        return self.items[0].text


@dataclass(frozen=True, slots=True)
class Window:
    """Where a document's prompt window starts, the text found there, and how many tokens of
    the cursor's block its FIM suffix holds: all kept while the user types in that window."""

    start: int
    anchor: str
    near: int


@dataclass(slots=True)
class Stats:
    requests: int = 0
    generations: int = 0
    cancelled: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    cache_hits: int = 0
    prefetch_hits: int = 0
    last_latency_ms: float = 0.0


@dataclass
class Completer:
    """Runs completions against one `Engine`; the newest request per document wins."""

    engine: Engine
    context_provider: ContextProvider | None = None
    trace: Trace = NO_TRACE
    stats: Stats = field(default_factory=Stats)
    cache: SuggestionCache = field(default_factory=SuggestionCache)
    last_prompt: str | None = None
    rhythm: TypingRhythm = field(default_factory=TypingRhythm)
    speculator: Speculator = field(init=False)
    _latest: dict[str, CancelToken] = field(default_factory=dict)
    _windows: dict[str, Window] = field(default_factory=dict)
    """Per document, the file window the last prompt used, kept while typing."""
    _counters: dict[int, TokenCache] = field(default_factory=dict)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _stream: Stream | None = None
    """The remote generation in flight, which the next keystrokes may follow."""

    def __post_init__(self) -> None:
        self.speculator = Speculator(self)

    @property
    def busy(self) -> bool:
        """A generation is queued or running."""
        return bool(self._latest)

    def counter(self, tokenizer: Tokenizer) -> TokenCache:
        key = id(tokenizer)
        if key not in self._counters:
            self._counters = {key: TokenCache(tokenizer.tokenize)}
        return self._counters[key]

    def prepare(self, request: Request, settings: Settings) -> Prepared | None:
        """The prompt for `request`, shrunk when it would take longer than `maxPromptMs`."""
        if not self.engine.ready:
            return None
        started = time.monotonic()
        uri, text = request.snapshot.uri, request.snapshot.text
        window = self._windows.get(uri)
        if (
            window is not None
            and request.keep_start is None
            and text.startswith(window.anchor, window.start)
        ):
            request = replace(request, keep_start=window.start, near_suffix_tokens=window.near)
        elif request.keep_start is None:
            request = replace(request, near_suffix_tokens=self._near_suffix_tokens(settings))
        prepared, shrunk = self._prepare_within_budget(request, settings)
        if prepared is not None and not request.speculative and not shrunk:
            start = prepared.window[0]
            anchor = text[start : start + WINDOW_ANCHOR_CHARS]
            self._windows[uri] = Window(start, anchor, request.near_suffix_tokens)
        if self.trace.enabled:
            self.trace(
                "prepare", start=started, end=time.monotonic(), speculative=request.speculative
            )
        return prepared

    def _near_suffix_tokens(self, settings: Settings) -> int:
        """How much of the cursor's block the FIM suffix can hold within `nearSuffixMs`."""
        speed = self.rhythm.prompt_speed
        return 0 if speed is None else int(speed * settings.prompt.near_suffix_ms / 1000)

    def _prepare_within_budget(
        self, request: Request, settings: Settings
    ) -> tuple[Prepared | None, bool]:
        """The prompt, and whether it had to be shrunk to fit `maxPromptMs`."""
        tokenizer, info = self.engine.tokenizer, self.engine.info
        if tokenizer is None or info is None:
            return None, False
        build = partial(
            prepare,
            request,
            settings,
            tokenizer,
            info.template,
            info.n_ctx,
            self.counter(tokenizer),
        )
        prepared = build(self.context_provider)
        budget_ms, speed = settings.completion.max_prompt_ms, self.rhythm.prompt_speed
        if prepared is None or not budget_ms or speed is None:
            return prepared, False
        affordable = int(speed * budget_ms / 1000)
        cached = self.engine.cached_tokens()
        if new_tokens(cached, prepared.prompt.tokens) <= affordable:
            return prepared, False
        # Over budget: repository context goes first, then the window shrinks to what fits.
        prepared = build(None)
        if prepared is None or new_tokens(cached, prepared.prompt.tokens) <= affordable:
            return prepared, True
        return build(None, max(MIN_PROMPT_TOKENS, affordable)), True

    async def complete(self, request: Request, settings: Settings) -> Suggestion | None:
        """The suggestion at the request's cursor, or None (no model, skipped, superseded)."""
        started = time.monotonic()
        self.stats.requests += 1
        cached = self._from_cache(request, settings, started)
        if cached is not None:
            return cached
        uri = request.snapshot.uri
        token = CancelToken()
        followed = supersede(self._stream, self._latest, request, token)
        try:
            if followed is not None:  # typing along a remote stream: its answer, less the typed
                await asyncio.shield(followed.ended)
                answer = None if token.cancelled else self._from_cache(request, settings, started)
                if answer is not None or token.cancelled:
                    return answer
            speculation = self.speculator.adopt(request)
            self.speculator.cancel()
            if speculation is not None:
                # Accepted while its prefetch was still running: let that finish, not restart.
                # A newer request for this document cancels it like any other generation.
                token = self._latest[uri] = speculation.token
                found = await speculation.job
                source: Literal["model", "prefetch"] = "prefetch"
                if found is not None:
                    self.stats.prefetch_hits += 1
                    self.last_prompt = found[1].prompt.render()
            else:
                delay = self.rhythm.delay_ms(uri, started, settings, request)
                if self.trace.enabled:
                    self.trace("debounce", at=started, ms=delay)
                # The prompt is built while the debounce runs, not after it.
                prepared = self.prepare(request, settings)
                if prepared is None:
                    return None
                wait = delay / 1000 - (time.monotonic() - started)
                if wait > 0 and request.trigger == "automatic":
                    await asyncio.sleep(wait)
                if token.cancelled or not self.engine.ready:
                    self.stats.cancelled += token.cancelled
                    return None
                found = await self.generate(request, settings, token, prepared=prepared)
                source = "model"
            if found is None:
                return None
            text, prepared, generation = found
            elapsed = (time.monotonic() - started) * 1000
            self.stats.last_latency_ms = elapsed
            texts = self._alternatives(request, text, settings)
            items = self.remember(request, texts, settings, answered=found)
            if not items:
                return None
            return Suggestion(items, prepared.post.mode, generation, prepared, elapsed, source)
        finally:
            if self._latest.get(uri) is token:
                del self._latest[uri]

    async def generate(
        self,
        request: Request,
        settings: Settings,
        token: CancelToken,
        speculative: bool = False,
        prepared: Prepared | None = None,
    ) -> Found | None:
        prepared = prepared or self.prepare(request, settings)
        if prepared is None:
            return None
        if not speculative:
            self.last_prompt = prepared.prompt.render()
        if speculative or settings.engine.kind == "local":
            return await self._run(request, prepared, token, speculative)
        # Remote: a stream the next keystrokes may follow, so it outlives this request.
        stream = self._stream = Stream.start(request, token)
        job = asyncio.ensure_future(self._run(request, prepared, token, False, stream, settings))
        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)
        try:
            found = await asyncio.shield(job)
        except asyncio.CancelledError:
            stream.orphaned = True  # the client gave up on it; a keystroke typing along may not
            raise
        return None if stream.orphaned else found

    async def _run(
        self,
        request: Request,
        prepared: Prepared,
        token: CancelToken,
        speculative: bool,
        stream: Stream | None = None,
        settings: Settings | None = None,
    ) -> Found | None:
        """One generation, cleaned; a stream's suggestion is cached before the stream ends."""
        should_stop = prepared.stop_rule
        future = self.engine.generate(
            prepared.prompt.tokens,
            prepared.params,
            token,
            stream.watching(should_stop) if stream is not None else should_stop,
        )
        try:
            try:
                generation = await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                token.cancel()
                self.stats.cancelled += 1
                raise
            found = self._cleaned(prepared, generation, speculative)
            if stream is not None and settings is not None and found is not None and found[0]:
                self.remember(request, [found[0]], settings)
            return found
        finally:
            if stream is not None:
                stream.end()
                if self._stream is stream:
                    self._stream = None

    def _cleaned(
        self, prepared: Prepared, generation: Generation, speculative: bool
    ) -> Found | None:
        self.traced(prepared, generation, speculative)
        if generation.stop_reason == "unavailable":
            return None  # the engine is restarting or gone; the supervisor tells the user
        self._record(generation)
        if generation.stop_reason == "cancelled":
            self.stats.cancelled += 1
            return None
        return prepared.suggestion(generation.text), prepared, generation

    def _from_cache(
        self, request: Request, settings: Settings, started: float
    ) -> Suggestion | None:
        if not settings.completion.cache:
            return None
        hits = self._cached(request, settings.completion.suggestions)
        if not hits:
            return None
        best = hits[0]
        text, offset = request.snapshot.text, request.cursor.offset
        self.rhythm.answered(
            request.snapshot.uri, text[max(0, offset - AFTER_CHARS) : offset], best.text
        )
        if best.origin == "prefetch":
            self.stats.prefetch_hits += 1
        else:
            self.stats.cache_hits += 1
        # What is shown now may be accepted next: have its continuation ready too.
        self.speculator.schedule(request, best.text, settings)
        elapsed = (time.monotonic() - started) * 1000
        self.stats.last_latency_ms = elapsed
        source: Literal["cache", "prefetch"] = "prefetch" if best.origin == "prefetch" else "cache"
        items = tuple(Alternative(hit.text, hit.lineage) for hit in hits)
        return Suggestion(items, None, None, None, elapsed, source)

    def _cached(self, request: Request, limit: int) -> list[Hit]:
        """What the cache holds for the request's cursor: computed there or typed into."""
        text, offset = request.snapshot.text, request.cursor.offset
        reach = BEFORE_CHARS + self.cache.max_typed  # all a typed-ahead lookup can look at
        return self.cache.get_all(
            request.snapshot.uri,
            text[max(0, offset - reach) : offset],
            text[offset : offset + AFTER_CHARS],
            limit,
        )

    def _alternatives(self, request: Request, text: str, settings: Settings) -> list[str]:
        """The model's suggestion, then its first line, then other suggestions cached for this
        state (until the engine computes alternatives of its own), distinct, capped."""
        limit = settings.completion.suggestions
        first_line = text.split("\n", 1)[0]
        cached = (
            [hit.text for hit in self._cached(request, limit)] if settings.completion.cache else []
        )
        return distinct([text, first_line, *cached], limit)

    def remember(
        self,
        request: Request,
        texts: list[str],
        settings: Settings,
        origin: Origin = "model",
        answered: Found | None = None,
    ) -> tuple[Alternative, ...]:
        """Cache the alternatives computed at the request's cursor; returns them with lineages.

        Shown by the model (`answered`): speculation starts on them."""
        if not texts:
            return ()
        uri, before, after = cursor_key(request)
        if origin == "model":
            self.rhythm.answered(uri, before[-AFTER_CHARS:], texts[0])
        if settings.completion.cache:
            items = self.cache.put(uri, before, after, texts, origin)
        else:
            items = tuple(Alternative(text, new_lineage()) for text in texts)
        if origin == "model":
            self.speculator.schedule(request, texts[0], settings, answered)
        return items

    async def prewarm(self, request: Request, settings: Settings) -> bool:
        """Evaluate the prompt at `request` before any keystroke asks for it (after the model
        was loaded again): the first real request then finds it in the KV cache."""
        prepared = self.prepare(request, settings)
        if prepared is None:
            return False
        one_token = replace(prepared, params=replace(prepared.params, max_tokens=1))
        found = await self.generate(request, settings, CancelToken(), True, one_token)
        return found is not None

    def forget(self, uri: str) -> None:
        """The document was closed: drop what was kept about its typing."""
        self._windows.pop(uri, None)
        self.rhythm.forget(uri)

    def cancel_speculation(self) -> None:
        self.speculator.cancel()

    def traced(self, prepared: Prepared, generation: Generation, speculative: bool) -> None:
        if not self.trace.enabled:
            return
        self.trace(
            "generate",
            start=generation.started_at,
            end=time.monotonic(),
            speculative=speculative,
            prompt=list(prepared.prompt.tokens),
            max_tokens=prepared.params.max_tokens,
            branches=len(generation.branches) if prepared.params.branches else 0,
            kv_after=generation.n_cached,
            stop_reason=generation.stop_reason,
            n_prompt=generation.n_prompt,
            n_reused=generation.n_reused,
            prompt_seconds=generation.prompt_seconds,
            generate_seconds=generation.generate_seconds,
            tokens=generation.tokens,
            text=generation.text,
        )

    def _record(self, generation: Generation) -> None:
        self.rhythm.measured(generation)
        self.stats.generations += 1
        self.stats.prompt_tokens += generation.n_prompt
        self.stats.reused_tokens += generation.n_reused
