"""The protocol between the language server and its engine process, defined once.

One duplex socket carries pickled messages (`multiprocessing.connection`: length-prefixed).
The server sends `Load` once, then `Generate` jobs one at a time, and `Cancel`/`Ping` at any
moment; the engine answers `Loaded` (or `LoadFailed`), streams `Token`s, ends each job with
`Done` (or `Failed`), and answers each `Ping` with a `Pong` from a thread of its own, so a
busy engine still answers and a wedged one is noticed. Both ends are this package, in
processes the server starts itself: pickle is the right codec.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection

from sc2_lsp.engine import Generation, GenerationParams, LoadOptions, ModelInfo, ShouldStop

# -- server → engine ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    options: LoadOptions


@dataclass(frozen=True, slots=True)
class Generate:
    job: int
    prompt: list[int]
    params: GenerationParams
    should_stop: ShouldStop
    stream: bool
    """Send a `Token` per generated token (otherwise only `Done`)."""


@dataclass(frozen=True, slots=True)
class Cancel:
    job: int


@dataclass(frozen=True, slots=True)
class Ping:
    seq: int


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


# -- engine → server ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loaded:
    info: ModelInfo


@dataclass(frozen=True, slots=True)
class LoadFailed:
    message: str


@dataclass(frozen=True, slots=True)
class Token:
    job: int
    token: int
    sent_at: float
    """`time.monotonic()` in the engine process (the same clock as the server's on Linux and
    macOS), so the cost of the hop can be measured."""


@dataclass(frozen=True, slots=True)
class Done:
    job: int
    generation: Generation
    engine_seconds: float
    """Wall time the engine spent on the job, from receiving it to sending this."""
    n_cached: int
    """How many tokens the engine's KV cache now holds: the first of prompt + generated..."""
    cached: list[int] | None = None
    """...unless they are something else, then they are listed here (never seen so far)."""
    stream_seconds: float = 0.0
    """Of `engine_seconds`, the time spent sending streamed tokens."""


@dataclass(frozen=True, slots=True)
class Failed:
    job: int
    message: str


@dataclass(frozen=True, slots=True)
class Pong:
    seq: int
    busy: bool
    """A load or a generation is running."""
    quiet_seconds: float
    """Since llama.cpp last reported progress (a heartbeat per tensor or graph node)."""


ToEngine = Load | Generate | Cancel | Ping | Shutdown
FromEngine = Loaded | LoadFailed | Token | Done | Failed | Pong


class Channel:
    """One end of the socket: sends from any thread, receives from one."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._send_lock = threading.Lock()

    def send(self, message: ToEngine | FromEngine) -> None:
        with self._send_lock:
            self.connection.send(message)

    def receive(self) -> object:
        """The next message; raises EOFError or OSError once the other end is gone."""
        return self.connection.recv()

    def close(self) -> None:
        self.connection.close()
