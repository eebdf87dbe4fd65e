"""The engine process: the model lives here, so a fault in llama.cpp ends only this process.

Started by `engine.process.EngineProcess` as `python -m sc2_lsp.engine.host FD`, with FD one
end of a socket (`engine.wire`). The main thread loads the model and runs one job at a time;
a reader thread takes every message as it arrives, so a `Cancel` reaches the running job
within one token (prompt evaluation included, through llama.cpp's abort callback) and a
`Ping` is answered while the main thread is busy in llama.cpp. When the server goes away the
reader cancels what runs and the process ends.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from sc2_lsp.engine import CancelToken, EngineError, Generation, LoadOptions, TokenSink, amx, inject
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
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.jobs: queue.SimpleQueue[Load | Generate | None] = queue.SimpleQueue()
        self.model: LlamaModel | None = None
        self.phase = "idle"
        self.last_beat = time.monotonic()
        self._tokens: dict[int, CancelToken] = {}
        self._lock = threading.Lock()

    def heartbeat(self) -> None:
        self.last_beat = time.monotonic()
        inject.at(self.phase)

    def run(self) -> None:
        threading.Thread(target=self._read, name="sc2-engine-reader", daemon=True).start()
        while (message := self.jobs.get()) is not None:
            if isinstance(message, Load):
                self._load(message.options)
            else:
                self._generate(message)
        if self.model is not None:
            self.model.close()

    def _read(self) -> None:
        try:
            while True:
                message = self.channel.receive()
                if isinstance(message, Cancel):
                    with self._lock:
                        token = self._tokens.get(message.job)
                    if token is not None:  # else the job is over: a cancel that came late
                        token.cancel()
                elif isinstance(message, Ping):
                    busy = self.phase != "idle"
                    quiet = time.monotonic() - self.last_beat if busy else 0.0
                    self.channel.send(Pong(message.seq, busy, quiet))
                elif isinstance(message, Shutdown):
                    break
                elif isinstance(message, Load | Generate):
                    if isinstance(message, Generate):
                        with self._lock:
                            self._tokens[message.job] = CancelToken()
                    self.jobs.put(message)
        except (EOFError, OSError):
            pass
        with self._lock:
            for token in self._tokens.values():
                token.cancel()
        self.jobs.put(None)
        # A job that ignores the cancel (a hang in llama.cpp) must not outlive the server.
        threading.Timer(EXIT_GRACE_S, os._exit, (0,)).start()

    def _load(self, options: LoadOptions) -> None:
        self.phase = "load"
        self.heartbeat()
        try:
            options = _apply_safety(options)
            from sc2_lsp.engine.llama import LlamaLog, LlamaModel

            self.model = LlamaModel(options, self.heartbeat, LlamaLog())
        except EngineError as error:
            self.channel.send(LoadFailed(str(error)))
        else:
            self.channel.send(Loaded(self.model.info))
        finally:
            self.phase = "idle"

    def _generate(self, job: Generate) -> None:
        started = time.monotonic()
        with self._lock:
            token = self._tokens.setdefault(job.job, CancelToken())
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
            self.channel.send(Failed(job.job, detail))
            return
        finally:
            self.phase = "idle"
            with self._lock:
                self._tokens.pop(job.job, None)
        self.channel.send(Done(job.job, generation, cached, time.monotonic() - started))

    def _sink(self, job: Generate) -> TokenSink:
        def on_token(token: int) -> None:
            self.phase = "generate"
            if job.stream:
                self.channel.send(Token(job.job, token, time.monotonic()))
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
    channel = Channel(Connection(int(args[0])))
    Host(channel).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
