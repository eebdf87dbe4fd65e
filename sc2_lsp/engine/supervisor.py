"""SupervisedEngine: the product's `Engine`, with the model in a child process it watches over.

The language server process keeps a vocabulary-only `Tokenizer` (no weights) and sends token
ids; an `EngineProcess` holds the weights and the llama.cpp context. When that process dies
(a signal, an abort, the OOM killer) or stops answering, the job in flight gets an empty
answer ("unavailable"), one `EngineEvent` tells the user what happened and what is done about
it, and the engine restarts with backoff, avoiding the fault when it is a known one (see
`engine.faults`) and remembering that per machine, llama.cpp build and model (see
`engine.memory`). Crashing `crash_limit` times within `crash_window_s` ends the retries.

All model work runs on one `JobThread`, one job at a time, so a restart never races a load.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from sc2_lsp.engine import (
    CancelToken,
    EngineError,
    Generation,
    GenerationParams,
    LoadOptions,
    ModelInfo,
    Safety,
    ShouldStop,
    TokenSink,
    never_stop,
    unavailable,
)
from sc2_lsp.engine.faults import Crash, amx_risk, avoid_amx, diagnose, diagnose_load_error
from sc2_lsp.engine.memory import FallbackMemory, Remembered, fingerprint
from sc2_lsp.engine.process import EngineExited, EngineJobFailed, EngineProcess
from sc2_lsp.engine.worker import JobThread
from sc2_lsp.trace import NO_TRACE, Trace

if TYPE_CHECKING:
    from sc2_lsp.engine.vocab import Tokenizer

log = logging.getLogger(__name__)

State = Literal["idle", "loading", "ready", "restarting", "unloaded", "failed", "closed"]
""""unloaded": freed while idle (`unload`); `wake` loads the same model again."""
EventKind = Literal["ready", "crashed", "gave_up", "failed"]
BACKOFF_S = (0.5, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class EngineEvent:
    kind: EventKind
    message: str
    """Plain words for the user: what happened and what was done."""


@dataclass(slots=True)
class Health:
    """What `sc2.status` and `doctor` show about the engine process."""

    state: State = "idle"
    pid: int | None = None
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)
    last_cause: str | None = None
    last_output: tuple[str, ...] = ()
    fallback: Remembered | None = None
    """The safety in force beyond what was asked, and why."""


class SupervisedEngine:
    """An `Engine` whose model runs in a supervised child process."""

    def __init__(
        self,
        on_event: Callable[[EngineEvent], None] | None = None,
        memory: FallbackMemory | None = None,
        env: Mapping[str, str] | None = None,
        crash_limit: int = 3,
        crash_window_s: float = 600.0,
        platform: Callable[[], Platform] | None = None,
        trace: Trace = NO_TRACE,
    ) -> None:
        self.on_event = on_event or (lambda _event: None)
        self.health = Health()
        self._memory = memory or FallbackMemory()
        self._env = env
        self._crash_limit = crash_limit
        self._crash_window_s = crash_window_s
        self._platform = platform or _llama_platform
        self._trace = trace
        self._jobs = JobThread()
        self._process: EngineProcess | None = None
        self._tokenizer: Tokenizer | None = None
        self._info: ModelInfo | None = None
        self._options: LoadOptions | None = None
        self._running: CancelToken | None = None
        self._epoch = 0
        self._lock = threading.Lock()

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
        process = self._process
        return process.cached_tokens() if process is not None else ()

    def load(self, options: LoadOptions) -> Future[ModelInfo]:
        with self._lock:
            self._epoch += 1
            epoch = self._epoch
        self.health.state = "loading"
        self.cancel_running()
        return self._jobs.submit(lambda: self._load(options, epoch))

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop = never_stop,
        on_token: TokenSink | None = None,
    ) -> Future[Generation]:
        if not self.ready:
            return unavailable(prompt)
        job = functools.partial(self._generate, prompt, params, cancel, should_stop, on_token)
        return self._jobs.submit(job)

    def unload(self) -> Future[None]:
        """Free the model's memory, RAM and VRAM: the engine process ends until `wake`."""
        with self._lock:
            self._epoch += 1
        self.health.state = "unloaded"  # from now on, generations are answered at once
        self.cancel_running()
        return self._jobs.submit(self._unload)

    def wake(self) -> Future[ModelInfo] | None:
        """Load the model of the last `load` again after `unload`; None when not unloaded."""
        options = self._options
        if self.health.state != "unloaded" or options is None:
            return None
        return self.load(options)

    def cancel_running(self) -> None:
        running = self._running
        if running is not None:
            running.cancel()

    def close(self) -> None:
        with self._lock:
            self._epoch += 1
        self.health.state = "closed"
        self.cancel_running()
        self._jobs.close(last=self._stop_process)

    # -- jobs (engine thread) ------------------------------------------------------------------

    def _load(self, options: LoadOptions, epoch: int) -> ModelInfo:
        started = time.monotonic()
        try:
            return self._load_now(options, epoch)
        finally:
            self._trace("job", name="load", start=started, end=time.monotonic())

    def _load_now(self, options: LoadOptions, epoch: int) -> ModelInfo:
        self._stop_process()
        self._options = options
        self.health = Health(state="loading")
        safety, self.health.fallback = self._initial_safety(options)
        info = self._start(options, safety, epoch)
        if info is None:
            raise EngineError(self.health.last_cause or "the model process did not start")
        return info

    def _generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop,
        on_token: TokenSink | None,
    ) -> Generation:
        process, epoch = self._process, self._epoch
        if process is None or not self.ready:
            return Generation(n_prompt=len(prompt), stop_reason="unavailable")
        if cancel.cancelled:
            return Generation(n_prompt=len(prompt), stop_reason="cancelled")
        self._running = cancel
        started = time.monotonic()
        try:
            generation = process.generate(prompt, params, cancel, should_stop, on_token)
            if self._trace.enabled and process.last_hop is not None:
                hop = process.last_hop
                self._trace(
                    "job",
                    name="generate",
                    start=started,
                    end=time.monotonic(),
                    ipc_ms=hop.request_seconds * 1000,
                    send_ms=hop.send_seconds * 1000,
                    hop_ms=[seconds * 1000 for seconds in hop.token_seconds],
                )
            return generation
        except EngineJobFailed as error:
            process.kill()  # whatever went wrong in there may have left it unsound
            output = (*process.output, error.detail)
            self._crashed(Crash("generate", None, output, error=error.detail), epoch)
        except EngineExited as exited:
            self._crashed(exited.crash, epoch)
        finally:
            self._running = None
        return Generation(n_prompt=len(prompt), stop_reason="unavailable")

    def _start(
        self, options: LoadOptions, safety: Safety, epoch: int, delay: float = 0.0
    ) -> ModelInfo | None:
        """Start an engine process and load; on a crash, adapt and retry until the limit."""
        while epoch == self._epoch:
            time.sleep(delay)
            try:
                process = EngineProcess(options.watchdog_s, self._env)
            except EngineError as error:
                self._fail(str(error))
                raise
            self.health.pid = process.pid
            try:
                info = process.load(replace(options, safety=safety))
            except EngineExited as exited:
                after = self._after_crash(exited.crash, safety, options)
                if after is None:
                    return None
                safety, delay = after
                continue
            except EngineError as error:
                process.close()
                step = diagnose_load_error(
                    str(error), tuple(process.output), safety, self._gpu_layers(options, safety)
                )
                if step is None or step.safety is None or not options.fallbacks:
                    self._fail(str(error))
                    raise
                log.warning("loading failed (%s); retrying with %s", error, step.safety.describe())
                safety, delay = step.safety, 0.0
                self._note_fallback(safety, step.explanation, options)
                continue
            if epoch != self._epoch:
                process.close()
                return None
            return self._started(process, info, safety, options)
        return None

    def _started(
        self, process: EngineProcess, info: ModelInfo, safety: Safety, options: LoadOptions
    ) -> ModelInfo:
        from sc2_lsp.engine.vocab import Tokenizer

        # The vocabulary is read here only once the engine process has read it without harm.
        try:
            self._tokenizer = Tokenizer.load(options.path)
        except EngineError as error:
            process.close()
            self._fail(str(error))
            raise
        self._process, self._info = process, info
        self.health.state = "ready"
        if self.health.restarts:
            self.on_event(EngineEvent("ready", "sc2-lsp: the model is back."))
        log.info("engine process %d ready (safety: %s)", process.pid, safety.describe())
        return info

    def _after_crash(
        self, crash: Crash, safety: Safety, options: LoadOptions
    ) -> tuple[Safety, float] | None:
        """Record a crash and tell the user; the safety and delay to restart with, or None."""
        self.health.restarts += 1
        step = diagnose(
            crash,
            safety,
            self._platform().system_info,
            self._info.weight_buffers if self._info else (),
            self._gpu_layers(options, safety),
        )
        now = time.monotonic()
        crashes = [t for t in self.health.crashes if now - t < self._crash_window_s] + [now]
        self.health.crashes = crashes
        because = f": {step.explanation}" if step.explanation else ""
        self.health.last_cause = crash.describe() + because
        self.health.last_output = crash.output[-12:]
        if len(crashes) >= self._crash_limit:
            self._give_up(crash, len(crashes))
            return None
        if options.fallbacks and step.safety is not None:
            next_safety, delay = step.safety, 0.0
            plan = f"restarting it with {next_safety.describe()} (remembered for this model)"
            self._note_fallback(next_safety, step.explanation, options)
        else:
            next_safety = safety
            delay = BACKOFF_S[min(len(crashes), len(BACKOFF_S)) - 1]
            plan = f"restarting it in {delay:g} s"
        self.on_event(
            EngineEvent(
                "crashed",
                f"sc2-lsp: the model process {crash.describe()}{because}. "
                f"Completions pause while sc2-lsp is {plan}.",
            )
        )
        return next_safety, delay

    def _crashed(self, crash: Crash, epoch: int) -> None:
        """A crash mid-job: the job gets its empty answer now, the restart is the next job."""
        options = self._options
        if options is None or epoch != self._epoch:
            return
        self.health.state = "restarting"
        safety = self._info.safety if self._info else options.safety
        after = self._after_crash(crash, safety, options)
        self._process = None
        if after is not None:
            next_safety, delay = after
            self._jobs.submit(lambda: self._restart(options, next_safety, epoch, delay))

    def _restart(self, options: LoadOptions, safety: Safety, epoch: int, delay: float) -> None:
        try:
            self._start(options, safety, epoch, delay)
        except EngineError as error:
            self.on_event(EngineEvent("failed", f"sc2-lsp: the model could not restart: {error}"))

    def _initial_safety(self, options: LoadOptions) -> tuple[Safety, Remembered | None]:
        if not options.fallbacks:
            return options.safety, None
        remembered = self._memory.recall(self._key(options))
        if remembered is not None:
            log.info("using a remembered fallback: %s (%s)", remembered.safety, remembered.reason)
            return remembered.safety, remembered
        from sc2_lsp.gguf_info import ModelError, inspect_gguf

        try:
            weight_types = inspect_gguf(options.path).weight_types
        except ModelError:
            weight_types = frozenset()
        if options.safety.amx and amx_risk(self._platform().system_info, weight_types):
            safety = avoid_amx(options.safety) or options.safety
            why = "AMX on this CPU with weights its kernels crash on (llama.cpp issue 20824)"
            return safety, Remembered(safety, why, time.time())
        return options.safety, None

    def _note_fallback(self, safety: Safety, reason: str, options: LoadOptions) -> None:
        self.health.fallback = Remembered(safety, reason, time.time())
        self._memory.remember(self._key(options), safety, reason)

    def _key(self, options: LoadOptions) -> str:
        platform = self._platform()
        return fingerprint(options.path, platform.llama_version, platform.system_info)

    def _gpu_layers(self, options: LoadOptions, safety: Safety) -> int:
        """The layers actually offloaded (or about to be): 0 on a build without a GPU."""
        if self._info is not None:
            return self._info.n_gpu_layers
        if not self._platform().gpu_offload:
            return 0
        layers = options.n_gpu_layers
        cap = safety.max_gpu_layers
        return layers if cap is None or 0 <= layers <= cap else cap

    def _give_up(self, crash: Crash, count: int) -> None:
        window = int(self._crash_window_s // 60)
        self._fail(f"the model process crashed {count} times in {window} minutes")
        self.on_event(
            EngineEvent(
                "gave_up",
                f"sc2-lsp: the model process crashed {count} times in {window} minutes "
                f"(last: {crash.describe()}). Completions are off. To get out of it: set "
                '"sc2": {"model": {"safeMode": "on"}} (plain CPU kernels only), try another '
                "model, or run `sc2-lsp doctor`; changing any model setting tries again.",
            )
        )

    def _fail(self, cause: str) -> None:
        self.health.state = "failed"
        self.health.last_cause = self.health.last_cause or cause

    def _unload(self) -> None:
        self._stop_process()
        self.health.pid = None
        log.info("model unloaded while idle")

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        self._info = None
        if process is not None:
            process.close()


@dataclass(frozen=True, slots=True)
class Platform:
    """The facts about this llama.cpp build that decide which faults can happen."""

    system_info: str
    gpu_offload: bool
    llama_version: str


@functools.cache
def _llama_platform() -> Platform:
    from sc2_lsp.engine import llama

    return Platform(llama.system_info(), llama.gpu_offload_supported(), llama.llama_cpp_version())
