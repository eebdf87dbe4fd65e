"""The engine process: the model lives here, so a fault in llama.cpp ends only this process.

Started by `engine.process.EngineProcess` as `python -m sc2_lsp.engine.host JOBS CONTROL`,
with two socket descriptors (`engine.wire`). The main thread reads the jobs socket and runs
one job at a time, answering on the same socket; a control thread reads the control socket at
any moment, so a `Cancel` reaches the running job within one token (prompt evaluation
included, through llama.cpp's abort callback) and a `Ping` is answered while the main thread is
busy in llama.cpp. When the server goes away, whatever runs is cancelled and the process ends.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from sc2_lsp.engine import (
    CancelToken,
    EngineError,
    Generation,
    LoadOptions,
    TokenSink,
    amx,
    inject,
)
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

if TYPE_CHECKING:
    from sc2_lsp.engine.llama import LlamaModel

log = logging.getLogger("sc2_lsp.engine.host")

EXIT_GRACE_S = 5.0
"""After the server is gone, how long a job that does not stop may keep the process alive."""


class Host:
    def __init__(self, jobs: Channel, control: Channel) -> None:
        self.jobs = jobs
        self.control = control
        self.model: LlamaModel | None = None
        self.phase = "idle"
        self.last_beat = time.monotonic()
        self.stream_seconds = 0.0
        """Time the running job spent sending streamed tokens (the engine's own IPC cost)."""
        self._running: tuple[int, CancelToken] | None = None
        self._cancelled: set[int] = set()
        """Jobs cancelled before this process started them."""
        self._lock = threading.Lock()

    def heartbeat(self) -> None:
        self.last_beat = time.monotonic()
        inject.at(self.phase)

    def run(self) -> None:
        threading.Thread(target=self._control, name="sc2-engine-control", daemon=True).start()
        try:
            while True:
                message = self.jobs.receive()
                if isinstance(message, Load):
                    self._load(message.options)
                elif isinstance(message, Generate):
                    self._generate(message)
                elif isinstance(message, Shutdown):
                    break
        except (EOFError, OSError):
            pass  # the server is gone
        if self.model is not None:
            self.model.close()

    def _control(self) -> None:
        try:
            while True:
                message = self.control.receive()
                if isinstance(message, Cancel):
                    self._cancel(message.job)
                elif isinstance(message, Ping):
                    busy = self.phase != "idle"
                    quiet = time.monotonic() - self.last_beat if busy else 0.0
                    self.control.send(Pong(message.seq, busy, quiet))
        except (EOFError, OSError):
            pass
        # The server is gone: stop what runs, and never outlive it by more than a moment, even
        # when llama.cpp ignores the cancel (a hang).
        with self._lock:
            if self._running is not None:
                self._running[1].cancel()
        threading.Timer(EXIT_GRACE_S, os._exit, (0,)).start()

    def _cancel(self, job: int) -> None:
        with self._lock:
            running = self._running
            if running is not None and running[0] == job:
                running[1].cancel()
            elif running is None or job > running[0]:
                self._cancelled.add(job)  # sent before the job itself reached this process

    def _load(self, options: LoadOptions) -> None:
        self.phase = "load"
        self.heartbeat()
        try:
            options = _apply_safety(options)
            from sc2_lsp.engine.llama import LlamaLog, LlamaModel

            self.model = LlamaModel(options, self.heartbeat, LlamaLog())
        except EngineError as error:
            self.jobs.send(LoadFailed(str(error)))
        else:
            self.jobs.send(Loaded(self.model.info))
        finally:
            self.phase = "idle"

    def _generate(self, job: Generate) -> None:
        started = time.monotonic()
        self.stream_seconds = 0.0
        token = CancelToken()
        with self._lock:
            if job.job in self._cancelled:
                token.cancel()
            self._cancelled = {later for later in self._cancelled if later > job.job}
            self._running = (job.job, token)
        model = self.model
        try:
            if model is None:
                raise EngineError("no model is loaded")
            if token.cancelled:
                generation = Generation(n_prompt=len(job.prompt), stop_reason="cancelled")
            else:
                self.phase = "prompt"
                generation = model.generate(
                    job.prompt, job.params, token, job.should_stop, self._sink(job)
                )
            cached = model.cached_tokens()
        except Exception as error:
            log.exception("generation failed")
            detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            self.jobs.send(Failed(job.job, detail))
            return
        finally:
            self.phase = "idle"
            with self._lock:
                self._running = None
        expected = [*job.prompt, *generation.tokens][: len(cached)]
        listed = None if cached == expected else cached  # sending 3,000 ids costs time
        elapsed = time.monotonic() - started
        done = Done(job.job, generation, elapsed, len(cached), listed, self.stream_seconds)
        self.jobs.send(done)

    def _sink(self, job: Generate) -> TokenSink:
        def on_token(token: int) -> None:
            self.phase = "generate"
            if job.stream:
                sent_at = time.monotonic()
                self.jobs.send(Token(job.job, token, sent_at))
                self.stream_seconds += time.monotonic() - sent_at
            inject.at("generate")

        return on_token


def _apply_safety(options: LoadOptions) -> LoadOptions:
    """Refuse AMX to llama.cpp when asked; where that is impossible, drop all extra buffers."""
    safety = options.safety
    if safety.amx or not safety.extra_buffers:
        inject.amx_avoided = not safety.extra_buffers
        return options
    inject.amx_avoided = True
    try:
        amx.deny()
    except OSError as error:
        log.warning("cannot refuse AMX here (%s): loading without extra buffers", error)
        return replace(options, safety=replace(safety, extra_buffers=False))
    return options


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    faulthandler.enable()  # a native crash prints where it happened; the server keeps the tail
    logging.basicConfig(
        level=os.environ.get("SC2_ENGINE_LOG_LEVEL", "WARNING"),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    inject.arm()
    jobs, control = (Channel(Connection(int(fd))) for fd in args[:2])
    Host(jobs, control).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
