"""Faults injected into the engine process on purpose, so tests can prove the server survives them.

Off unless `SC2_ENGINE_FAULT` is set in the engine's environment, as `KIND@PHASE`:

- KIND: `segv` (a real SIGSEGV from native code), `abort` (SIGABRT, what a failed GGML_ASSERT
  does), `hang` (stops answering: llama.cpp never returns), `kill` (SIGKILL, as the kernel's
  OOM killer sends), `oom` (lowers RLIMIT_AS to just above what is in use, then allocates:
  MemoryError; at `load` or `generate`, where Python code runs), `amx` (what llama.cpp #20824
  does: SIGSEGV in compute, unless the engine loaded with AMX refused or extra buffers off);
- PHASE: `load`, `prompt` (inside llama.cpp's graph evaluation of the prompt) or `generate`
  (after the first token).

With `SC2_ENGINE_FAULT_ONCE=PATH` the fault fires once across restarts (PATH is created when
it does), so a test sees the engine crash, come back, and work.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import time
from pathlib import Path

ENV = "SC2_ENGINE_FAULT"
ONCE_ENV = "SC2_ENGINE_FAULT_ONCE"
KINDS = ("segv", "abort", "hang", "kill", "oom", "amx")
PHASES = ("load", "prompt", "generate")

_armed: tuple[str, str] | None = None
amx_avoided = False
"""Set by the engine when it loaded with AMX refused or without extra buffers."""


def arm() -> None:
    """Read the fault to inject, if any, from the environment (once, at engine start)."""
    global _armed
    spec = os.environ.get(ENV, "")
    kind, _, phase = spec.partition("@")
    if kind in KINDS and phase in PHASES:
        _armed = (kind, phase)


def at(phase: str) -> None:
    """Called by the engine as it works; fires the armed fault when its phase comes."""
    global _armed
    if _armed is None or _armed[1] != phase:
        return
    kind = _armed[0]
    if kind == "amx" and amx_avoided:
        return
    once = os.environ.get(ONCE_ENV)
    if once:
        try:
            Path(once).touch(exist_ok=False)
        except FileExistsError:
            _armed = None
            return
    _armed = None
    _fire(kind)


def _fire(kind: str) -> None:
    if kind in ("segv", "amx"):
        if kind == "amx":
            os.write(2, b"ggml_backend_amx_mul_mat: injected fault (llama.cpp #20824)\n")
        ctypes.string_at(0)
    elif kind == "abort":
        os.write(2, b"GGML_ASSERT(injected) failed\n")
        os.abort()
    elif kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "oom":
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (in_use + (8 << 20), hard))
        bytearray(64 << 20)  # MemoryError, as any allocation of the job would now raise
    elif kind == "hang":
        while True:
            time.sleep(3600)
