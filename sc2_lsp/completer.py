"""Completer: the one place where a completion is composed.

snapshot + cursor → syntax (mode) → prompt window and repository context → token ids →
engine (one generation at a time, superseded per document) → post-processing → Suggestion.
`prepare` is synchronous and needs only a tokenizer, so `sc2-lsp prompt` shows exactly what
the server would send to the model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Literal

from sc2_lsp import postprocess
from sc2_lsp.config import Settings
from sc2_lsp.context import syntax
from sc2_lsp.documents import Cursor, Snapshot
from sc2_lsp.engine import CancelToken, Generation, GenerationParams
from sc2_lsp.engine.llama import Tokenizer
from sc2_lsp.engine.worker import EngineWorker
from sc2_lsp.prompt import ContextFile, FimInput, Prompt, Tokenize, build, fim_window
from sc2_lsp.prompt.templates import BoundTemplate
from sc2_lsp.suggestions import AFTER_CHARS, Origin, SuggestionCache, state_key

log = logging.getLogger(__name__)

Trigger = Literal["automatic", "invoked"]
REUSE_CHUNK_MIN = 16
PREFETCH_DELAY_S = 0.02
MIN_PROMPT_TOKENS = 128
MARKER_ALLOWANCE = 16
"""Tokens kept free for sentinels, the path and rounding in per-line counts."""
VIEW_CHARS = 1 << 18
"""A longer document is seen through whole lines up to this far either side of the cursor:
no prompt needs more, and a 10 MB file must not cost full-text scans on every request."""
LONG_LINE_CHARS = 1 << 14
"""On a longer line (minified code) the view keeps this much either side of the cursor."""
VIEW_GRID = 1 << 12
WINDOW_SLACK = 8
"""A new file window leaves 1/8 of the prefix budget free, so it can be kept while typing."""
WINDOW_ANCHOR_CHARS = 64
RHYTHM_GAP_MS = 1000.0
"""A longer gap between keystrokes is a pause, not part of the user's typing rhythm."""


@dataclass(frozen=True, slots=True)
class Request:
    snapshot: Snapshot
    cursor: Cursor
    root: Path | None = None
    """The workspace folder that holds the document, if any."""
    trigger: Trigger = "automatic"
    speculative: bool = False
    """A state the user may reach (prefetch): it must not move what real requests keep."""
    keep_start: int | None = None
    """Where the previous prompt's file window started, to keep it there while it fits."""


@dataclass(frozen=True, slots=True)
class Prepared:
    prompt: Prompt
    post: postprocess.PostContext
    params: GenerationParams
    window: tuple[int, int]
    context: tuple[ContextFile, ...] = ()


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    mode: syntax.CompletionMode | None
    generation: Generation | None
    """None when the suggestion came from the cache."""
    prepared: Prepared | None
    elapsed_ms: float
    source: Literal["model", "cache", "prefetch"] = "model"


ContextProvider = Callable[
    [Request, tuple[int, int], int, Callable[[str], int]], Sequence[ContextFile]
]
"""(request, window, budget in tokens, token counter) → files to put before the current one."""


def relative_path(path: Path | None, root: Path | None) -> str | None:
    if path is None:
        return None
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


def post_context(
    text: str, offset: int, cursor_syntax: syntax.CursorSyntax, max_lines: int
) -> postprocess.PostContext:
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    following = text[line_end + 1 :].split("\n", 6)[:5] if line_end < len(text) else []
    return postprocess.PostContext(
        mode=cursor_syntax.mode,
        indent=cursor_syntax.indent,
        line_prefix=text[line_start:offset],
        line_suffix=text[offset:line_end].rstrip("\r"),
        next_lines=tuple(line.rstrip("\r") for line in following),
        max_lines=max_lines,
    )


def completion_mode(request: Request, settings: Settings) -> syntax.CursorSyntax:
    snapshot = request.snapshot
    path = snapshot.path
    language = syntax.language_for(snapshot.language_id, str(path) if path else None)
    found = syntax.analyze(
        snapshot.text,
        request.cursor.offset,
        language,
        max_line_suffix=settings.completion.max_line_suffix,
    )
    mode = found.mode
    if mode == "skip" and request.trigger == "invoked":
        mode = "line"
    if mode == "block" and settings.completion.multiline == "never":
        mode = "line"
    elif mode == "line" and settings.completion.multiline == "always":
        mode = "block"
    return syntax.CursorSyntax(
        mode=mode, indent=found.indent, in_comment=found.in_comment, in_string=found.in_string
    )


def view(request: Request) -> tuple[Request, int]:
    """The request seen through a bounded slice of its text, and where that slice starts.

    Documents under `VIEW_CHARS` with ordinary lines are returned as they are.
    """
    text, offset = request.snapshot.text, request.cursor.offset
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    if len(text) <= VIEW_CHARS and line_end - line_start <= LONG_LINE_CHARS:
        return request, 0
    if line_end - line_start > LONG_LINE_CHARS:
        start = max(line_start, offset - LONG_LINE_CHARS)
        end = min(line_end, offset + LONG_LINE_CHARS)
    else:
        # Start on a coarse grid, so typing does not move the window (KV-cache reuse).
        low = max(0, offset - VIEW_CHARS) // VIEW_GRID * VIEW_GRID
        newline = text.find("\n", low, line_start) if low else -1
        start = 0 if not low else newline + 1 if newline >= 0 else line_start
        high = offset + VIEW_CHARS
        newline = text.rfind("\n", line_end, high) if high < len(text) else len(text) - 1
        end = newline + 1 if newline >= 0 else line_end
    snapshot = replace(request.snapshot, text=text[start:end])
    cursor = replace(request.cursor, offset=offset - start)
    return replace(request, snapshot=snapshot, cursor=cursor), start


def prepare(
    request: Request,
    settings: Settings,
    tokenizer: Tokenizer,
    template: BoundTemplate,
    n_ctx: int,
    count_tokens: Callable[[str], int] | TokenCache | None = None,
    context_provider: ContextProvider | None = None,
    max_prompt_tokens: int | None = None,
) -> Prepared | None:
    """Everything up to the model call; None when the cursor should get no completion."""
    request, view_start = view(request)
    cursor_syntax = completion_mode(request, settings)
    if cursor_syntax.mode == "skip":
        return None
    count = count_tokens or tokenizer.count
    tokenize = count_tokens.ids if isinstance(count_tokens, TokenCache) else tokenizer.tokenize
    text, offset = request.snapshot.text, request.cursor.offset
    completion = settings.completion
    max_new = completion.max_tokens if cursor_syntax.mode == "block" else completion.max_tokens_line
    limit = min(
        settings.prompt.max_prompt_tokens, max_prompt_tokens or settings.prompt.max_prompt_tokens
    )
    # A prefetched state holds a suggestion more than the request it comes from; it may grow
    # by that much so it keeps the same window and context (and their KV cache) as typing.
    extra = max_new if request.speculative else 0
    budget = min(limit + extra, n_ctx - max_new) - MARKER_ALLOWANCE
    suffix_budget = min(settings.prompt.suffix_tokens, budget // 4)
    prefix_budget = min(settings.prompt.prefix_tokens, budget - suffix_budget)
    keep = None if request.keep_start is None else request.keep_start - view_start
    start, end = fim_window(
        text,
        offset,
        prefix_budget - prefix_budget // WINDOW_SLACK,
        suffix_budget,
        count,
        keep_start=keep,
        keep_budget=prefix_budget + extra,
    )
    path = (
        relative_path(request.snapshot.path, request.root) if settings.prompt.include_path else None
    )
    fim = FimInput(
        prefix=text[start:offset],
        suffix=text[offset:end],
        path=path,
        repo_name=request.root.name if request.root and settings.prompt.repo_name else None,
        order=settings.prompt.fim_order,
    )
    context: tuple[ContextFile, ...] = ()
    if context_provider is not None and template.file_sep is not None:
        used = count(fim.prefix) + count(fim.suffix)
        context = tuple(context_provider(request, (start, end), budget - used, count))
    prompt = _build(replace(fim, context=context), template, tokenizer, tokenize)
    while len(prompt) > budget + MARKER_ALLOWANCE:
        # Per-line counts are estimates: drop context first, then prefix lines, until it fits.
        if context:
            context = context[:-1]
        elif start < offset:
            start = text.find("\n", start, offset) + 1 or offset
        else:
            break
        fim = replace(fim, prefix=text[start:offset])
        prompt = _build(replace(fim, context=context), template, tokenizer, tokenize)
    params = GenerationParams(
        max_tokens=max_new,
        temperature=completion.temperature,
        top_k=completion.top_k,
        top_p=completion.top_p,
        stop_ids=template.stop_ids,
        time_budget_s=completion.max_predict_ms / 1000,
        reuse_chunk_min=REUSE_CHUNK_MIN if settings.prompt.reuse_chunks else 0,
    )
    post = post_context(text, offset, cursor_syntax, completion.max_lines)
    window = (view_start + start, view_start + end)
    return Prepared(prompt=prompt, post=post, params=params, window=window, context=context)


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


def _new_tokens(cached: Sequence[int], prompt: Sequence[int]) -> int:
    shared = 0
    for a, b in zip(cached, prompt, strict=False):
        if a != b:
            break
        shared += 1
    return len(prompt) - shared


def accepted_state(request: Request, inserted: str) -> Request:
    """The request an editor would send after `inserted` was accepted at the cursor."""
    snapshot, offset = request.snapshot, request.cursor.offset
    text = snapshot.text[:offset] + inserted + snapshot.text[offset:]
    end = offset + len(inserted)
    line_start = text.rfind("\n", 0, end) + 1
    cursor = Cursor(offset=end, line=text.count("\n", 0, end), column=end - line_start)
    return Request(
        replace(snapshot, text=text, version=None),
        cursor,
        request.root,
        "automatic",
        speculative=True,
    )


def _build(
    fim: FimInput, template: BoundTemplate, tokenizer: Tokenizer, tokenize: Tokenize
) -> Prompt:
    return build(fim, template, tokenize, tokenizer.bos_id, tokenizer.token_text)


class TokenCache:
    """Token ids of recently tokenized texts, bounded by their total size, not their number.

    Context snippets, the path line and most lines repeat from keystroke to keystroke and are
    worth keeping (tokenizing them is most of the time spent preparing a prompt); the whole
    prefix and suffix change with every keystroke, and 65,536 of them (an `lru_cache`'s
    worth) pinned hundreds of megabytes over a day of typing.
    """

    def __init__(self, tokenize: Tokenize, max_chars: int = 1 << 20) -> None:
        self._tokenize = tokenize
        self._cache: OrderedDict[str, array[int]] = OrderedDict()
        self._chars = 0
        self.max_chars = max_chars

    def __call__(self, text: str) -> int:
        return len(self._lookup(text))

    def ids(self, text: str) -> list[int]:
        return self._lookup(text).tolist()

    def _lookup(self, text: str) -> array[int]:
        found = self._cache.get(text)
        if found is not None:
            self._cache.move_to_end(text)
            return found
        result = array("i", self._tokenize(text))
        if len(text) <= self.max_chars // 64:
            self._cache[text] = result
            self._chars += len(text)
            while self._chars > self.max_chars:
                evicted, _ = self._cache.popitem(last=False)
                self._chars -= len(evicted)
        return result


Found = tuple[str, Prepared, Generation]


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
    """Runs completions against one EngineWorker; the newest request per document wins."""

    worker: EngineWorker
    context_provider: ContextProvider | None = None
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
        model = self.worker.model
        if model is None:
            return None
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
        return prepared

    def _prepare_within_budget(
        self, request: Request, settings: Settings
    ) -> tuple[Prepared | None, bool]:
        """The prompt, and whether it had to be shrunk to fit `maxPromptMs`."""
        model = self.worker.model
        if model is None:
            return None, False
        build = partial(
            prepare,
            request,
            settings,
            model.tokenizer,
            model.info.template,
            model.info.n_ctx,
            self.counter(model.tokenizer),
        )
        prepared = build(self.context_provider)
        budget_ms = settings.completion.max_prompt_ms
        if prepared is None or not budget_ms or self.prompt_speed is None:
            return prepared, False
        affordable = int(self.prompt_speed * budget_ms / 1000)
        cached = model.cached_tokens()
        if _new_tokens(cached, prepared.prompt.tokens) <= affordable:
            return prepared, False
        # Over budget: repository context goes first, then the window shrinks to what fits.
        prepared = build(None)
        if prepared is None or _new_tokens(cached, prepared.prompt.tokens) <= affordable:
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
                if token.cancelled or self.worker.model is None:
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
        future = self.worker.generate(
            prepared.prompt.tokens,
            prepared.params,
            token,
            partial(postprocess.should_stop, ctx=prepared.post),
        )
        try:
            generation = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            token.cancel()
            self.stats.cancelled += 1
            raise
        self._record(generation)
        if generation.stop_reason == "cancelled":
            self.stats.cancelled += 1
            return None
        return postprocess.clean(generation.text, prepared.post), prepared, generation

    def _from_cache(
        self, request: Request, settings: Settings, started: float
    ) -> Suggestion | None:
        if not settings.completion.cache:
            return None
        text, offset = request.snapshot.text, request.cursor.offset
        hit = self.cache.get(
            request.snapshot.uri, text[:offset], text[offset : offset + AFTER_CHARS]
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
        snapshot, offset = request.snapshot, request.cursor.offset
        before, after = snapshot.text[:offset], snapshot.text[offset : offset + AFTER_CHARS]
        if origin == "model":
            self._answered[snapshot.uri] = (before[-AFTER_CHARS:], text)
        if settings.completion.cache:
            self.cache.put(snapshot.uri, before, after, text, origin)
        if origin == "model":
            self._schedule_prefetch(request, text, settings)

    def _schedule_prefetch(self, request: Request, shown: str, settings: Settings) -> None:
        """Prefetch what follows accepting `shown`, unless it is cached or being computed."""
        if not (settings.completion.prefetch and settings.completion.cache):
            return
        state = accepted_state(request, shown)
        offset, text = state.cursor.offset, state.snapshot.text
        key = state_key(state.snapshot.uri, text[:offset], text[offset : offset + AFTER_CHARS])
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
            return 0.0
        if not settings.completion.adaptive_debounce:
            return base
        return adaptive_debounce(base, interval, model_ms=self.model_ms)

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
        text, offset = request.snapshot.text, request.cursor.offset
        key = state_key(request.snapshot.uri, text[:offset], text[offset : offset + AFTER_CHARS])
        if key != speculation.key:
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
        uri = request.snapshot.uri
        for text in accepted:
            if self._latest or (self._speculation is not None and not self._speculation.adopted):
                return  # a real request (or another prefetch) came first
            state = accepted_state(request, text)
            offset = state.cursor.offset
            key = state_key(
                uri,
                state.snapshot.text[:offset],
                state.snapshot.text[offset : offset + AFTER_CHARS],
            )
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
