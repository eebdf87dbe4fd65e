"""RemoteEngine: the `Engine` protocol over HTTP, generating on a server the team shares.

The prompt is built here, as token ids, from the served model's vocabulary (read locally), and
sent as is. One asyncio loop on a thread of its own holds one keep-alive `httpx.AsyncClient`
with a spare warm connection; callers get `concurrent.futures.Future`s, so the language
server's own event loop never waits on the network. Generations run one at a time in
submission order and always stream: a cancel (the next keystroke) closes the stream, which is
how every supported server learns to stop. The stop ids, `should_stop`, the token cap and the
time budget are checked here on what streams in (`progress`).

When the server cannot be used (down, 429, 5xx, timeouts), the job in flight gets an empty
answer ("unavailable"), the user is told once, completions pause and the engine reconnects
with backoff, checking the tokenizer again (the server may now serve another model). A wrong
key, TLS failure or tokenizer mismatch turns the engine off until the settings change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from sc2_lsp.config import EngineSettings
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
    unavailable,
)
from sc2_lsp.engine.remote.dialect import Dialect, Server, check_tokenizer, describe
from sc2_lsp.engine.remote.http import RETRIED, RemoteError, connection, events
from sc2_lsp.engine.remote.progress import Progress
from sc2_lsp.engine.supervisor import EngineEvent, EventKind, Health
from sc2_lsp.trace import NO_TRACE, Trace

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
QUIET_S = 600.0
"""The same kind of trouble again within this long is logged, not shown."""
WARM_WITHIN_S = 60.0
"""Keep a connection warm while completions were asked for within this long."""


@dataclass(frozen=True, slots=True)
class _Job:
    """One `generate` call, as asked."""

    prompt: tuple[int, ...]
    params: GenerationParams
    cancel: CancelToken
    should_stop: ShouldStop
    on_token: TokenSink | None


class RemoteEngine:
    """An `Engine` whose model runs on a server, reached through one `Dialect`."""

    def __init__(
        self,
        dialect: Dialect,
        settings: EngineSettings,
        affinity: str = "",
        on_event: Callable[[EngineEvent], None] | None = None,
        trace: Trace = NO_TRACE,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.on_event = on_event or (lambda _event: None)
        self.health = Health()
        self.settings = settings
        self._dialect = dialect
        self._affinity = affinity
        self._trace = trace
        self._environ = environ
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sc2-remote", daemon=True
        )
        self._thread.start()
        self._lock = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        self._server: Server | None = None
        self._tokenizer: Tokenizer | None = None
        self._info: ModelInfo | None = None
        self._options: LoadOptions | None = None
        self._cached: tuple[int, ...] = ()
        self._running: CancelToken | None = None
        self._epoch = 0
        self._closed = False
        self._told: dict[str, float] = {}
        self._used_at = 0.0
        self._background: set[asyncio.Task[Any]] = set()
        self._pending: dict[Future[Any], object] = {}

    # -- Engine ------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.health.state == "ready"

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    @property
    def tokenizer(self) -> Tokenizer | None:
        return self._tokenizer

    def cached_tokens(self) -> Sequence[int]:
        """What the server is known to hold: the last prompt and what followed it."""
        return self._cached

    def load(self, options: LoadOptions) -> Future[ModelInfo]:
        self._epoch += 1
        self.health = Health(state="loading")
        self.cancel_running()
        closed = EngineError("the remote engine was closed while connecting")
        return self._submit(self._load(options, self._epoch), closed)

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop = never_stop,
        on_token: TokenSink | None = None,
    ) -> Future[Generation]:
        if not self.ready or self._closed:
            return unavailable(prompt)
        job = _Job(tuple(prompt), params, cancel, should_stop, on_token)
        return self._submit(
            self._generate(job), Generation(n_prompt=len(prompt), stop_reason="unavailable")
        )

    def cancel_running(self) -> None:
        running = self._running
        if running is not None:
            running.cancel()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._epoch += 1
        self.health.state = "closed"
        self.cancel_running()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        for future, answer in list(self._pending.items()):  # what the stopped loop left
            with contextlib.suppress(InvalidStateError):
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    def _submit(self, work: Coroutine[Any, Any, T], otherwise: T | BaseException) -> Future[T]:
        """Run `work` on the engine's loop. Its future is answered with `otherwise` if the engine
        closes first: every caller gets an answer."""
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        self._pending[future] = otherwise
        future.add_done_callback(lambda done: self._pending.pop(done, None))
        return future

    # -- connecting (engine loop) ------------------------------------------------------------

    async def _load(self, options: LoadOptions, epoch: int) -> ModelInfo:
        from sc2_lsp.engine.vocab import Tokenizer as Vocabulary

        self._stop_background()
        if self._client is not None:
            await self._client.aclose()
        self._options, self._info, self._cached = options, None, ()
        try:
            self._tokenizer = Vocabulary.load(options.path)
            self._client = connection(self.settings, self._affinity, self._environ).client()
            info = await self._connect(epoch)
        except RemoteError as error:
            if self._closed:  # closing cut the connection: that, not the network, is the cause
                raise EngineError("the remote engine was closed while connecting") from error
            self._trouble(error, epoch, tell=False)  # the load's own error says it
            raise EngineError(self._explain(error)) from error
        except EngineError as error:  # the local vocabulary: no server can help with that
            self.health.state, self.health.last_cause = "failed", str(error)
            raise
        return info

    async def _connect(self, epoch: int) -> ModelInfo:
        """Ask the server what it serves and check its tokenizer; then the engine is ready."""
        from sc2_lsp.engine.vocab import Tokenizer as Vocabulary

        client, tokenizer, options = self._client, self._tokenizer, self._options
        assert client is not None and isinstance(tokenizer, Vocabulary) and options is not None
        started = time.monotonic()
        template = tokenizer.template(options.template)
        server = await describe(client, self.settings.model)
        warning = await check_tokenizer(client, server, tokenizer, template)
        n_ctx = min(options.n_ctx, server.n_ctx or options.n_ctx)
        info = ModelInfo(
            path=options.path,
            architecture=f"{server.model} ({server.flavour} at {client.base_url})",
            template=template,
            n_ctx=n_ctx,
            n_ctx_train=server.n_ctx or n_ctx,
            n_vocab=tokenizer.n_vocab,
            n_gpu_layers=0,
            gpu_offload_supported=False,
            load_seconds=time.monotonic() - started,
            warnings=(warning,) if warning else (),
        )
        if epoch != self._epoch:
            raise RemoteError("config", "the engine settings changed while connecting")
        self._server, self._info = server, info
        self.health.state = "ready"
        self._spawn(self._keep_warm(epoch))
        log.info("remote engine ready: %s", info.architecture)
        return info

    def _trouble(self, error: RemoteError, epoch: int, tell: bool = True) -> None:
        """The server cannot be used: say so once, then back off and retry, or stop."""
        if epoch != self._epoch or self._closed:
            return
        self.health.last_cause = str(error)
        if error.kind not in RETRIED:
            self.health.state = "failed"
            self._tell("failed", error.kind, f"sc2-lsp: {self._explain(error)}", tell)
            return
        self.health.state = "restarting"
        self.health.restarts += 1
        delay = error.retry_after if error.retry_after is not None else BACKOFF_S[0]
        meanwhile = " (the local model meanwhile)" if self.settings.fallback == "local" else ""
        message = f"sc2-lsp: {error}. Completions pause; sc2-lsp retries with backoff{meanwhile}."
        self._tell("crashed", error.kind, message, tell)
        self._stop_background()
        self._spawn(self._recover(epoch, delay))

    async def _recover(self, epoch: int, delay: float) -> None:
        attempt = 0
        while epoch == self._epoch and not self._closed:
            await asyncio.sleep(delay)
            try:
                await self._connect(epoch)
            except RemoteError as error:
                if error.kind not in RETRIED:
                    self._trouble(error, epoch)
                    return
                attempt += 1
                self.health.last_cause = str(error)
                delay = error.retry_after or BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                log.info("%s; retrying in %g s", error, delay)
                continue
            self.on_event(EngineEvent("ready", f"sc2-lsp: {self.settings.url} answers again."))
            return

    def _explain(self, error: RemoteError) -> str:
        if error.kind in RETRIED:
            return f"{error}; completions pause while sc2-lsp retries with backoff"
        if error.kind == "auth":
            variable = self.settings.api_key_env
            error = RemoteError(
                "auth",
                f"{error}: check the key in ${variable} (engine.apiKeyEnv)"
                if variable
                else f"{error}: no key was sent; set engine.apiKeyEnv to the name of the "
                "environment variable that holds it",
            )
        return f"{error}. Completions stay off until the engine settings change"

    def _tell(self, event: EventKind, kind: str, message: str, show: bool = True) -> None:
        """Show `message` unless the same kind of trouble was shown within `QUIET_S`."""
        now = time.monotonic()
        if not show or now - self._told.get(kind, -QUIET_S) < QUIET_S:
            log.warning("%s", message)
        else:
            self.on_event(EngineEvent(event, message))
        self._told[kind] = now

    # -- generating (engine loop) ------------------------------------------------------------

    async def _generate(self, job: _Job) -> Generation:
        async with self._lock:
            if not self.ready or self._closed:
                return Generation(n_prompt=len(job.prompt), stop_reason="unavailable")
            if job.cancel.cancelled:
                return Generation(n_prompt=len(job.prompt), stop_reason="cancelled")
            self._running, epoch = job.cancel, self._epoch
            try:
                return await self._generate_now(job)
            except RemoteError as error:
                if error.kind == "refused":  # this request, not the server: tell once, go on
                    self._tell("failed", str(error), f"sc2-lsp: {error}")
                else:
                    self._trouble(error, epoch)
            except Exception as error:  # a server answering nonsense must not fail a request
                log.exception("remote generation failed")
                self._tell("failed", "bug", f"sc2-lsp: the remote engine failed: {error!r}")
            finally:
                self._running = None
            return Generation(n_prompt=len(job.prompt), stop_reason="unavailable")

    async def _generate_now(self, job: _Job) -> Generation:
        info, server = self._info, self._server
        assert info is not None and server is not None
        prompt, params = job.prompt, job.params
        result = Generation(n_prompt=len(prompt), started_at=time.monotonic())
        room = info.n_ctx - len(prompt)
        if room <= 1:
            result.stop_reason = "context_full"
            return result
        stops = [self._text_of(token) for token in sorted(params.stop_ids)]
        max_tokens = min(params.max_tokens, room - 1)
        stream = Progress(
            result, params, max_tokens, job.should_stop, job.on_token, stops, time.monotonic()
        )
        body = self._dialect.body(server, prompt, params, max_tokens, stops, self.settings.slot)
        waited = [0.0]
        reading = asyncio.ensure_future(self._read(body, stream, waited))
        job.cancel.on_cancel(lambda: self._call_soon(reading.cancel))
        self._used_at = time.monotonic()
        self._spawn(self._ping())  # a spare connection for the request after this one
        await asyncio.wait({reading})
        if reading.cancelled():
            result.stop_reason = "cancelled"
            if (abort := self._dialect.abort(server, body)) is not None:
                self._spawn(self._post_quietly(*abort))
        elif (error := reading.exception()) is not None:
            raise error
        assert self._tokenizer is not None
        self._cached = stream.finish(prompt, self._cached, self._tokenizer.tokenize)
        if self._trace.enabled:
            self._trace_job(stream, waited[0])
        return result

    async def _read(self, body: dict[str, Any], stream: Progress, waited: list[float]) -> None:
        """Read events into `stream.result` until the server or one of our limits ends it."""
        assert self._client is not None
        received = events(self._client, self._dialect.path, body, waited)
        async with contextlib.aclosing(received):  # leaving closes the stream: the server stops
            async for event in received:
                if stream.take(self._dialect.read(event)):
                    return

    def _trace_job(self, stream: Progress, waited: float) -> None:
        self._trace(
            "job",
            name="generate",
            start=stream.result.started_at,
            end=time.monotonic(),
            remote=self._dialect.path,
            http_wait_ms=waited * 1000,
            server_evaluated=stream.n_evaluated,
            server_cached=stream.n_cached,
        )

    def _text_of(self, token: int) -> str:
        assert self._tokenizer is not None
        return self._tokenizer.token_text(token)

    def _call_soon(self, callback: Callable[[], object]) -> None:
        """From any thread; a no-op once the engine is closed."""
        with contextlib.suppress(RuntimeError):  # the loop is closed
            self._loop.call_soon_threadsafe(callback)

    # -- background (engine loop) ------------------------------------------------------------

    async def _ping(self) -> None:
        """A cheap request on a second connection, left idle in the pool for the next stream."""
        client = self._client
        if client is not None:
            with contextlib.suppress(httpx.HTTPError):
                await client.get("/health")

    async def _post_quietly(self, path: str, body: dict[str, Any]) -> None:
        if self._client is not None:
            with contextlib.suppress(httpx.HTTPError):
                await self._client.post(path, json=body)

    async def _keep_warm(self, epoch: int) -> None:
        """While completions are being asked for, keep an idle connection from expiring."""
        while epoch == self._epoch and not self._closed:
            await asyncio.sleep(3.0)
            if time.monotonic() - self._used_at < WARM_WITHIN_S and self.ready:
                await self._ping()

    def _spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _stop_background(self) -> None:
        for task in list(self._background):
            task.cancel()

    async def _shutdown(self) -> None:
        self._stop_background()
        if self._client is not None:
            await self._client.aclose()
