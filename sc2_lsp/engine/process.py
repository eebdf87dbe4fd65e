"""One engine process, seen from the language server: start it, load, generate, watch, end it.

`EngineProcess` starts `python -m sc2_lsp.engine.host` with one end of a socket pair, keeps the
last lines it writes (llama.cpp's warnings, a crash's traceback), and turns the `engine.wire`
messages back into calls: `load` and `generate` block the calling thread (the supervisor's job
thread) until the answer comes, streaming tokens to a callback meanwhile. A cancel is sent the
moment its `CancelToken` is set. While a job runs, a watchdog pings the engine every second: no
answer, or no progress inside llama.cpp, for `watchdog_s` and the process is killed. Any way the
process ends mid-job raises `EngineExited` with a `faults.Crash` describing it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from sc2_lsp.engine import (
    CancelToken,
    EngineError,
    Generation,
    GenerationParams,
    LoadOptions,
    ModelInfo,
    ShouldStop,
    TokenSink,
    never_stop,
)
from sc2_lsp.engine.faults import Crash, Phase
from sc2_lsp.engine.wire import (
    Cancel,
    Channel,
    Done,
    Failed,
    Generate,
    Load,
    Loaded,
    LoadFailed,
    Ping,
    Pong,
    Shutdown,
    Token,
)

log = logging.getLogger(__name__)

OUTPUT_LINES = 60
LINE_CHARS = 300
PING_INTERVAL_S = 1.0


class EngineExited(EngineError):
    """The engine process ended (or was ended) while a job was in flight."""

    def __init__(self, crash: Crash) -> None:
        super().__init__(f"the model process {crash.describe()}")
        self.crash = crash


class EngineJobFailed(EngineError):
    """The engine raised an unexpected error in a job; it may no longer be sound."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"the model process failed: {detail}")
        self.detail = detail


@dataclass(slots=True)
class _Job:
    id: int
    prompt: Sequence[int] = ()
    on_token: TokenSink | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    first_token_at: float | None = None
    hop_seconds: list[float] = field(default_factory=list)
    """Per streamed token: from the engine's send to the server's receipt."""


@dataclass(frozen=True, slots=True)
class Hop:
    """IPC cost of one generation, measured on both sides of the socket."""

    request_seconds: float
    """Server-side wall time minus the engine's own time on the job."""
    token_seconds: tuple[float, ...]


class EngineProcess:
    """A started engine process; `load` it once, then `generate` as often as needed."""

    def __init__(self, watchdog_s: float = 30.0, env: Mapping[str, str] | None = None) -> None:
        self.watchdog_s = watchdog_s
        self.output: deque[str] = deque(maxlen=OUTPUT_LINES)
        self.info: ModelInfo | None = None
        self.last_hop: Hop | None = None
        self._cached: list[int] = []
        self._phase: Phase = "idle"
        self._job: _Job | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._exited = threading.Event()
        self._killed_for_hang = False
        self._last_pong = time.monotonic()
        ours, theirs = socket.socketpair()
        child_env = dict(os.environ if env is None else env)
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sc2_lsp.engine.host", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=child_env,
            )
        except OSError as error:
            ours.close()
            raise EngineError(f"could not start the model process: {error}") from error
        finally:
            theirs.close()
        self.pid = self._process.pid
        self._channel = Channel(Connection(ours.detach()))
        self._output_thread = threading.Thread(
            target=self._read_output, name="sc2-engine-output", daemon=True
        )
        self._output_thread.start()
        for target, name in ((self._read_messages, "reader"), (self._watch, "watchdog")):
            threading.Thread(target=target, name=f"sc2-engine-{name}", daemon=True).start()

    # -- calls -------------------------------------------------------------------------------

    def load(self, options: LoadOptions) -> ModelInfo:
        """Load the model; raises EngineError (clean failure) or EngineExited (crash)."""
        job = self._begin("load")
        self._send(Load(options))
        result = self._wait(job)
        if isinstance(result, LoadFailed):
            raise EngineError(result.message)
        assert isinstance(result, Loaded)
        self.info = result.info
        return result.info

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop = never_stop,
        on_token: TokenSink | None = None,
    ) -> Generation:
        started = time.monotonic()
        job = self._begin("prompt", prompt, on_token)
        self._send(Generate(job.id, list(prompt), params, should_stop, stream=True))
        cancel.on_cancel(lambda: self._send_quietly(Cancel(job.id)))
        result = self._wait(job)
        if isinstance(result, Failed):
            raise EngineJobFailed(result.message)
        assert isinstance(result, Done)
        self._cached = result.cached
        elapsed = time.monotonic() - started
        self.last_hop = Hop(elapsed - result.engine_seconds, tuple(job.hop_seconds))
        return result.generation

    def cached_tokens(self) -> Sequence[int]:
        return self._cached

    @property
    def alive(self) -> bool:
        return not self._exited.is_set()

    def close(self, timeout: float = 5.0) -> None:
        """Ask the engine to end; kill it if it does not within `timeout`."""
        self._send_quietly(Shutdown())
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._channel.close()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._process.kill()
        self._process.wait()

    # -- plumbing ----------------------------------------------------------------------------

    def _begin(
        self, phase: Phase, prompt: Sequence[int] = (), on_token: TokenSink | None = None
    ) -> _Job:
        if self._exited.is_set():
            raise EngineExited(self._crash())
        with self._lock:
            self._job = _Job(next(self._ids), prompt, on_token)
            self._phase = phase
            self._last_pong = time.monotonic()
            return self._job

    def _wait(self, job: _Job) -> object:
        job.done.wait()
        with self._lock:
            self._job = None
            phase, self._phase = self._phase, "idle"
        if job.result is None:
            raise EngineExited(self._crash(phase))
        return job.result

    def _send(self, message: Load | Generate | Cancel | Ping | Shutdown) -> None:
        # If the process is gone, the reader sees it end and fails the job.
        with contextlib.suppress(OSError):
            self._channel.send(message)

    def _send_quietly(self, message: Cancel | Ping | Shutdown) -> None:
        if not self._exited.is_set():
            self._send(message)

    def _crash(self, phase: Phase = "idle") -> Crash:
        code = self._process.wait()
        self._output_thread.join(2.0)  # its last words (a traceback) are what explain it
        return Crash(phase, code, tuple(self.output), hung=self._killed_for_hang)

    def _read_messages(self) -> None:
        try:
            while True:
                message = self._channel.receive()
                self._dispatch(message)
        except (EOFError, OSError):
            pass
        finally:
            self._exited.set()
            with self._lock:
                job = self._job
            if job is not None:
                job.done.set()  # result stays None: the process is gone

    def _dispatch(self, message: object) -> None:
        if isinstance(message, Pong):
            self._last_pong = time.monotonic()
            if message.busy and message.quiet_seconds > self.watchdog_s > 0:
                self._hung(f"no progress inside llama.cpp for {message.quiet_seconds:.0f} s")
            return
        with self._lock:
            job = self._job
        if job is None:
            return
        if isinstance(message, Token):
            now = time.monotonic()
            job.hop_seconds.append(now - message.sent_at)
            if job.first_token_at is None:
                job.first_token_at = now
                self._phase = "generate"
            if job.on_token is not None:
                job.on_token(message.token)
        elif isinstance(message, Loaded | LoadFailed | Done | Failed):
            job.result = message
            job.done.set()

    def _watch(self) -> None:
        sequence = itertools.count()
        while not self._exited.wait(PING_INTERVAL_S):
            if self._job is None or self.watchdog_s <= 0:
                continue
            silent = time.monotonic() - self._last_pong
            if silent > self.watchdog_s:
                self._hung(f"no answer for {silent:.0f} s")
                continue
            self._send_quietly(Ping(next(sequence)))

    def _hung(self, why: str) -> None:
        if self._killed_for_hang:
            return
        log.warning("the model process %s stopped answering (%s); killing it", self.pid, why)
        self._killed_for_hang = True
        self.output.append(f"[sc2-lsp] killed by the watchdog: {why}")
        self.kill()

    def _read_output(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.output.append(line[:LINE_CHARS])
            log.debug("engine %s: %s", self.pid, line)
        stream.close()
