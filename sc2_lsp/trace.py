"""An optional trace of the server's work as JSON lines, for benchmarks and debugging.

Off unless `SC2_TRACE=PATH` is set in the server's environment. Each line is one event with a
`type` and `time.monotonic()` stamps (the same clock in the engine process on Linux and macOS):

- `prepare` (start, end, speculative): building one prompt;
- `debounce` (at, ms): the wait chosen for a request;
- `generate` (start, end, speculative, prompt ids, the `Generation`'s fields): one model call
  as the completer saw it, `start` being when the engine began it;
- `job` (name, start, end; for generations also ipc_ms, the server's wall time beyond the
  engine process's own; send_ms, the engine's time sending streamed tokens; hop_ms, each
  streamed token's trip to the server): one job on the engine thread; for a remote engine
  (remote: the endpoint; http_wait_ms, the time spent waiting on the connection;
  server_evaluated and server_cached, the prompt tokens the server says it evaluated and took
  from its cache, when it says) one generation on the engine's loop;
- `rpc_in` / `rpc_out` (id, method, at): a request reaching the JSON-RPC layer and its answer.

Document text never appears; prompt token ids do (they are the point of the trace).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO

ENV = "SC2_TRACE"


class Trace:
    """Appends events to a file; a disabled trace costs one attribute check per event."""

    def __init__(self, path: Path | None = None) -> None:
        self.enabled = path is not None
        self._lock = threading.Lock()
        self._sink: IO[str] | None = path.open("a", buffering=1) if path is not None else None

    def __call__(self, kind: str, **fields: object) -> None:
        if self._sink is None:
            return
        line = json.dumps({"type": kind, **fields})
        with self._lock:
            self._sink.write(line + "\n")

    @classmethod
    def from_env(cls) -> Trace:
        path = os.environ.get(ENV, "").strip()
        return cls(Path(path)) if path else NO_TRACE


NO_TRACE = Trace()
