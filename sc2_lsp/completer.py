"""Completer: the one place where a completion is composed and scheduled.

request → prompt (`prompting`) → engine (one generation at a time, superseded per document)
→ post-processing → Suggestion; around it the latency work: the typed-ahead cache, the
prefetch of accepted states (adopted by the request that reaches them), the debounce and the
prompt-time budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal

from sc2_lsp import healing, postprocess, syntax
from sc2_lsp.config import Settings
from sc2_lsp.engine import CancelToken, Engine, Generation, Tokenizer
from sc2_lsp.prompting import (
    MIN_PROMPT_TOKENS,
    ContextProvider,
    Prepared,
    Request,
    TokenCache,
    accepted_state,
    new_tokens,
    prepare,
)
from sc2_lsp.suggestions import AFTER_CHARS, BEFORE_CHARS, Origin, SuggestionCache, state_key
from sc2_lsp.trace import NO_TRACE, Trace

log = logging.getLogger(__name__)

PREFETCH_DELAY_S = 0.02
WINDOW_ANCHOR_CHARS = 64
RHYTHM_GAP_MS = 1000.0
"""A longer gap between keystrokes is a pause, not part of the user's typing rhythm."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    mode: syntax.CompletionMode | None
    generation: Generation | None
    """None when the suggestion came from the cache."""
    prepared: Prepared | None
    elapsed_ms: float
    source: Literal["model", "cache", "prefetch"] = "model"


def adaptive_debounce(
    base_ms: float,
    typing_interval_ms: float,
    ceiling_ms: float = 250,
    model_ms: float | None = None,
) -> float:
    """Wait about as long as the user's usual gap between keystrokes, within [base, ceiling].

    Someone typing steadily every 120 ms gets ~120 ms, so no generation starts and is thrown
    away mid-word. When the model answers faster than they type (`model_ms`, measured), there
    is nothing to save by waiting: every keystroke gets its suggestion after `base`.
    """
    if typing_interval_ms <= 0 or (model_ms is not None and model_ms <= typing_interval_ms):
        return base_ms
    return max(base_ms, min(typing_interval_ms, max(base_ms, ceiling_ms)))


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


@dataclass(slots=True)
class Stats:
    requests: int = 0
    generations: int = 0
    cancelled: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    cache_hits: int = 0
    prefetch_hits: int = 0
    prefetches: int = 0
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
    _latest: dict[str, CancelToken] = field(default_factory=dict)
    prompt_speed: float | None = None
    """Measured prompt evaluation speed (tokens/s, moving average)."""
    model_ms: float | None = None
    """Measured time of a finished generation, prompt included (ms, moving average)."""
    _typing: dict[str, tuple[float, float]] = field(default_factory=dict)
    _speculation: Speculation | None = None
    _windows: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Per document, where the last prompt's file window started and the text found there."""
    _answered: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Per document, the text before the cursor of the last answer and the suggestion given."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _counters: dict[int, TokenCache] = field(default_factory=dict)

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
            and text.startswith(window[1], window[0])
        ):
            request = replace(request, keep_start=window[0])
        prepared, shrunk = self._prepare_within_budget(request, settings)
        if prepared is not None and not request.speculative and not shrunk:
            start = prepared.window[0]
            self._windows[uri] = (start, text[start : start + WINDOW_ANCHOR_CHARS])
        if self.trace.enabled:
            self.trace(
                "prepare", start=started, end=time.monotonic(), speculative=request.speculative
            )
        return prepared

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
        budget_ms = settings.completion.max_prompt_ms
        if prepared is None or not budget_ms or self.prompt_speed is None:
            return prepared, False
        affordable = int(self.prompt_speed * budget_ms / 1000)
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
        previous = self._latest.get(uri)
        if previous is not None:
            previous.cancel()
        self._latest[uri] = token
        try:
            speculation = self._adoptable(request)
            self.cancel_speculation()
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
                delay = self._debounce_ms(uri, started, settings, request)
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
                found = await self._generate(request, settings, token, prepared=prepared)
                source = "model"
            if found is None:
                return None
            text, prepared, generation = found
            elapsed = (time.monotonic() - started) * 1000
            self.stats.last_latency_ms = elapsed
            if text:
                self._remember(request, text, "model", settings)
            return Suggestion(text, prepared.post.mode, generation, prepared, elapsed, source)
        finally:
            if self._latest.get(uri) is token:
                del self._latest[uri]

    async def _generate(
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
        healed = prepared.params.healed
        future = self.engine.generate(
            prepared.prompt.tokens,
            prepared.params,
            token,
            partial(
                healing.should_stop_after,
                healed=healed,
                should_stop=partial(postprocess.should_stop, ctx=prepared.post),
            ),
        )
        try:
            generation = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            token.cancel()
            self.stats.cancelled += 1
            raise
        if self.trace.enabled:
            self._trace_generation(prepared, generation, speculative)
        if generation.stop_reason == "unavailable":
            return None  # the engine is restarting or gone; the supervisor tells the user
        self._record(generation)
        if generation.stop_reason == "cancelled":
            self.stats.cancelled += 1
            return None
        text = healing.strip(generation.text, healed)
        return postprocess.clean(text, prepared.post), prepared, generation

    def _from_cache(
        self, request: Request, settings: Settings, started: float
    ) -> Suggestion | None:
        if not settings.completion.cache:
            return None
        text, offset = request.snapshot.text, request.cursor.offset
        reach = BEFORE_CHARS + self.cache.max_typed  # all a typed-ahead lookup can look at
        hit = self.cache.get(
            request.snapshot.uri,
            text[max(0, offset - reach) : offset],
            text[offset : offset + AFTER_CHARS],
        )
        if hit is None:
            return None
        self._answered[request.snapshot.uri] = (
            text[max(0, offset - AFTER_CHARS) : offset],
            hit.text,
        )
        if hit.origin == "prefetch":
            self.stats.prefetch_hits += 1
        else:
            self.stats.cache_hits += 1
        # What is shown now may be accepted next: have its continuation ready too.
        self._schedule_prefetch(request, hit.text, settings)
        elapsed = (time.monotonic() - started) * 1000
        self.stats.last_latency_ms = elapsed
        source: Literal["cache", "prefetch"] = "prefetch" if hit.origin == "prefetch" else "cache"
        return Suggestion(hit.text, None, None, None, elapsed, source)

    def _remember(self, request: Request, text: str, origin: Origin, settings: Settings) -> None:
        uri, before, after = cursor_key(request)
        if origin == "model":
            self._answered[uri] = (before[-AFTER_CHARS:], text)
        if settings.completion.cache:
            self.cache.put(uri, before, after, text, origin)
        if origin == "model":
            self._schedule_prefetch(request, text, settings)

    def _schedule_prefetch(self, request: Request, shown: str, settings: Settings) -> None:
        """Prefetch what follows accepting `shown`, unless it is cached or being computed."""
        if not (settings.completion.prefetch and settings.completion.cache):
            return
        key = cursor_key(request, shown)
        running = self._speculation
        if self.cache.has(*key) or (running is not None and running.key == key):
            return
        task = asyncio.ensure_future(self._prefetch(request, shown, settings))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _debounce_ms(
        self, uri: str, now: float, settings: Settings, request: Request | None = None
    ) -> float:
        """The configured debounce, stretched towards the user's typing rhythm when adaptive.

        None right after a suggestion was accepted: the user stops to read the next one, so
        waiting would only add latency.
        """
        base = settings.completion.debounce_ms
        interval = 0.0
        if uri in self._typing:
            last, interval = self._typing[uri]
            gap = (now - last) * 1000
            if gap <= RHYTHM_GAP_MS:
                interval = gap if interval == 0 else 0.7 * interval + 0.3 * gap
        self._typing[uri] = (now, interval)
        if request is not None and self._just_accepted(request):
            delay = 0.0
        elif not settings.completion.adaptive_debounce:
            delay = base
        else:
            delay = adaptive_debounce(base, interval, model_ms=self.model_ms)
        if self.trace.enabled:
            self.trace("debounce", at=now, ms=delay)
        return delay

    def _just_accepted(self, request: Request) -> bool:
        """The text before the cursor is the last answer's with its whole suggestion after it."""
        answered = self._answered.get(request.snapshot.uri)
        if answered is None:
            return False
        before, suggestion = answered
        text, offset = request.snapshot.text, request.cursor.offset
        start = offset - len(suggestion)
        return (
            start >= len(before)
            and text.startswith(suggestion, start)
            and text.startswith(before, start - len(before))
        )

    def _adoptable(self, request: Request) -> Speculation | None:
        """The prefetch computing exactly this request's state, taken over from speculation."""
        speculation = self._speculation
        if speculation is None or speculation.token.cancelled:
            return None
        if cursor_key(request) != speculation.key:
            return None
        speculation.adopted = True
        self._speculation = None
        return speculation

    def forget(self, uri: str) -> None:
        """The document was closed: drop what was kept about its typing."""
        for kept in (self._typing, self._windows, self._answered):
            kept.pop(uri, None)

    def cancel_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation.token.cancel()
            self._speculation = None

    async def _prefetch(self, request: Request, suggestion: str, settings: Settings) -> None:
        """While idle, compute what comes after accepting `suggestion` (and its first line)."""
        # Let the answer that triggered this reach the client before any prompt is built.
        await asyncio.sleep(PREFETCH_DELAY_S)
        accepted = [suggestion]
        first_line = suggestion.split("\n", 1)[0]
        if first_line and first_line != suggestion:
            accepted.append(first_line)
        for text in accepted:
            if self._latest or (self._speculation is not None and not self._speculation.adopted):
                return  # a real request (or another prefetch) came first
            state = accepted_state(request, text)
            key = cursor_key(request, text)
            token = CancelToken()
            job = asyncio.ensure_future(self._generate(state, settings, token, speculative=True))
            speculation = Speculation(key, token, job)
            self._speculation = speculation
            try:
                found = await job
            except Exception:
                log.debug("prefetch failed", exc_info=True)
                return
            finally:
                if self._speculation is speculation:
                    self._speculation = None
            if speculation.adopted or token.cancelled or found is None:
                return
            self.stats.prefetches += 1
            if found[0]:
                self._remember(state, found[0], "prefetch", settings)

    def _trace_generation(
        self, prepared: Prepared, generation: Generation, speculative: bool
    ) -> None:
        self.trace(
            "generate",
            start=generation.started_at,
            end=time.monotonic(),
            speculative=speculative,
            prompt=list(prepared.prompt.tokens),
            max_tokens=prepared.params.max_tokens,
            kv_after=len(self.engine.cached_tokens()),
            stop_reason=generation.stop_reason,
            n_prompt=generation.n_prompt,
            n_reused=generation.n_reused,
            prompt_seconds=generation.prompt_seconds,
            generate_seconds=generation.generate_seconds,
            tokens=generation.tokens,
            text=generation.text,
        )

    def _record(self, generation: Generation) -> None:
        if generation.n_evaluated >= 8 and generation.prompt_seconds > 0:
            speed = generation.n_evaluated / generation.prompt_seconds
            self.prompt_speed = (
                speed if self.prompt_speed is None else 0.7 * self.prompt_speed + 0.3 * speed
            )
        if generation.stop_reason != "cancelled":
            spent = (generation.prompt_seconds + generation.generate_seconds) * 1000
            self.model_ms = spent if self.model_ms is None else 0.7 * self.model_ms + 0.3 * spent
        self.stats.generations += 1
        self.stats.prompt_tokens += generation.n_prompt
        self.stats.reused_tokens += generation.n_reused
