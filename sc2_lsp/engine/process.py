"""One engine process, seen from the language server: start it, load, generate, watch, end it.

`EngineProcess` starts `python -m sc2_lsp.engine.host` with two socket pairs (`engine.wire`):
the jobs socket, which the calling thread (the supervisor's job thread) writes a job to and then
reads the answer from directly — streamed tokens, then the result — with no thread in between;
and the control socket, for cancels (sent the moment a `CancelToken` is set) and the watchdog's
pings. While a job runs, the watchdog pings the engine every second: no answer, or no progress
inside llama.cpp, for `watchdog_s` and the process is killed. The engine's output (llama.cpp's
warnings, a crash's traceback) is kept, its last lines explaining a crash. Any way the process
ends mid-job raises `EngineExited` with a `faults.Crash` describing it.
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
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Hop:
    """IPC cost of one generation, measured on both sides of the socket."""

    request_seconds: float
    """Server-side wall time minus the engine's own time on the job."""
    send_seconds: float
    """The engine's time sending streamed tokens: what streaming adds to its own work."""
    token_seconds: tuple[float, ...]
    """Per streamed token, from the engine's send to the server's receipt (its delay)."""


class EngineProcess:
    """A started engine process; `load` it once, then `generate` as often as needed."""

    def __init__(self, watchdog_s: float = 30.0, env: Mapping[str, str] | None = None) -> None:
        self.watchdog_s = watchdog_s
        self.output: deque[str] = deque(maxlen=OUTPUT_LINES)
        self.info: ModelInfo | None = None
        self.last_hop: Hop | None = None
        self._cached: list[int] = []
        self._ids = itertools.count(1)
        self._busy = False
        self._killed_for_hang = False
        self._closing = threading.Event()
        jobs, jobs_theirs = socket.socketpair()
        control, control_theirs = socket.socketpair()
        theirs = (jobs_theirs.fileno(), control_theirs.fileno())
        child_env = dict(os.environ if env is None else env)
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sc2_lsp.engine.host", *map(str, theirs)],
                pass_fds=theirs,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=child_env,
            )
        except OSError as error:
            jobs.close()
            control.close()
            raise EngineError(f"could not start the model process: {error}") from error
        finally:
            jobs_theirs.close()
            control_theirs.close()
        self.pid = self._process.pid
        self._jobs = Channel(Connection(jobs.detach()))
        self._control = Channel(Connection(control.detach()))
        self._output_thread = threading.Thread(
            target=self._read_output, name="sc2-engine-output", daemon=True
        )
        self._output_thread.start()
        threading.Thread(target=self._watch, name="sc2-engine-watchdog", daemon=True).start()

    # -- calls (one thread at a time) --------------------------------------------------------

    def load(self, options: LoadOptions) -> ModelInfo:
        """Load the model; raises EngineError (clean failure) or EngineExited (crash)."""
        result = self._exchange(Load(options), "load")
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
        job = next(self._ids)
        hops: list[float] = []
        request = Generate(job, list(prompt), params, should_stop, stream=on_token is not None)
        cancel.on_cancel(lambda: self._send_control(Cancel(job)))
        result = self._exchange(request, "prompt", on_token, hops)
        if isinstance(result, Failed):
            raise EngineJobFailed(result.message)
        assert isinstance(result, Done)
        if result.cached is not None:
            self._cached = result.cached
        else:
            self._cached = [*prompt, *result.generation.tokens][: result.n_cached]
        elapsed = time.monotonic() - started
        request_seconds = elapsed - result.engine_seconds
        self.last_hop = Hop(request_seconds, result.stream_seconds, tuple(hops))
        return result.generation

    def cached_tokens(self) -> Sequence[int]:
        return self._cached

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self, timeout: float = 5.0) -> None:
        """Ask the engine to end; kill it if it does not within `timeout`."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._jobs.send(Shutdown())
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._jobs.close()
        self._control.close()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._process.kill()
        self._process.wait()

    # -- plumbing ----------------------------------------------------------------------------

    def _exchange(
        self,
        message: Load | Generate,
        phase: Phase,
        on_token: TokenSink | None = None,
        hops: list[float] | None = None,
    ) -> object:
        """Send a job and read until its answer; raises EngineExited if the process ends."""
        self._busy = True
        try:
            self._jobs.send(message)
            while True:
                answer = self._jobs.receive()
                if not isinstance(answer, Token):
                    return answer
                phase = "generate"
                if hops is not None:
                    hops.append(time.monotonic() - answer.sent_at)
                if on_token is not None:
                    on_token(answer.token)
        except (EOFError, OSError):
            raise EngineExited(self._crash(phase)) from None
        finally:
            self._busy = False

    def _send_control(self, message: Cancel | Ping) -> None:
        # If the process is gone, the job's read sees it end.
        with contextlib.suppress(OSError):
            self._control.send(message)

    def _crash(self, phase: Phase) -> Crash:
        code = self._process.wait()
        self._output_thread.join(2.0)  # its last words (a traceback) are what explain it
        return Crash(phase, code, tuple(self.output), hung=self._killed_for_hang)

    def _watch(self) -> None:
        """While a job runs: ping every second; kill the engine when it stays silent or stuck."""
        sequence = itertools.count()
        try:
            while not self._closing.wait(PING_INTERVAL_S):
                if not self._busy or self.watchdog_s <= 0:
                    continue
                self._control.send(Ping(next(sequence)))
                if not self._control.connection.poll(self.watchdog_s):
                    self._hung(f"no answer for {self.watchdog_s:.0f} s")
                    return
                pong = self._control.receive()
                if isinstance(pong, Pong) and pong.busy and pong.quiet_seconds > self.watchdog_s:
                    self._hung(f"no progress inside llama.cpp for {pong.quiet_seconds:.0f} s")
                    return
        except (EOFError, OSError):
            return  # the process ended; the job's read reports it

    def _hung(self, why: str) -> None:
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
