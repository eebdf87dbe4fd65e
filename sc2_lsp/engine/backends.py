"""The engines `engine.kind` chooses from: one registry line per backend, and the one factory.

A backend is a function from the engine settings and the server's `Hooks` to a
`ManagedEngine` (an `Engine` with the `Health` that `sc2.status` and `doctor` show). Remote
backends are a `Dialect` (one module under `engine/remote/`) on the shared `RemoteEngine`;
each is imported only when chosen. `engine.fallback: "local"` wraps a remote engine in a
`FallbackEngine`.
"""

from __future__ import annotations

import getpass
import hashlib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sc2_lsp.config import EngineSettings
from sc2_lsp.engine import Engine
from sc2_lsp.engine.supervisor import EngineEvent, Health, SupervisedEngine
from sc2_lsp.trace import NO_TRACE, Trace


class ManagedEngine(Engine, Protocol):
    """An `Engine` whose state the server shows (`sc2.status`, messages)."""

    @property
    def health(self) -> Health: ...


def _ignore(_event: EngineEvent) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Hooks:
    """What the server gives every engine it makes."""

    on_event: Callable[[EngineEvent], None] = _ignore
    """Told what happened, in words for the user (`window/showMessage`)."""
    trace: Trace = NO_TRACE
    roots: Sequence[Path] = field(default_factory=tuple)
    """The workspace folders: a remote engine's session-affinity id is per user and workspace."""


def _local(settings: EngineSettings, hooks: Hooks) -> ManagedEngine:
    return SupervisedEngine(on_event=hooks.on_event, trace=hooks.trace)


def _remote(dialect_module: str) -> Callable[[EngineSettings, Hooks], ManagedEngine]:
    def make(settings: EngineSettings, hooks: Hooks) -> ManagedEngine:
        import importlib

        from sc2_lsp.engine.remote.engine import RemoteEngine

        dialect = importlib.import_module(f"sc2_lsp.engine.remote.{dialect_module}").DIALECT
        affinity = affinity_id(hooks.roots)
        return RemoteEngine(dialect, settings, affinity, hooks.on_event, hooks.trace)

    return make


BACKENDS: dict[str, Callable[[EngineSettings, Hooks], ManagedEngine]] = {
    "local": _local,
    "openai": _remote("openai"),
    "llama-server": _remote("llama_server"),
}


def make_engine(settings: EngineSettings, hooks: Hooks | None = None) -> ManagedEngine:
    """The engine `settings` describe, with the local fallback when asked for."""
    hooks = hooks or Hooks()
    engine = BACKENDS[settings.kind](settings, hooks)
    if settings.kind == "local" or settings.fallback != "local":
        return engine
    from sc2_lsp.engine.fallback import FallbackEngine

    return FallbackEngine(engine, lambda: _local(settings, hooks), hooks.on_event)


def affinity_id(roots: Sequence[Path]) -> str:
    """A stable id per user, machine and workspace: the same replica keeps the same cache.

    A hash, so the router learns nothing about the user or their folders.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = ""
    who = f"{user}@{socket.gethostname()}:{roots[0] if roots else ''}"
    return hashlib.sha256(who.encode()).hexdigest()[:24]
