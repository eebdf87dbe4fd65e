"""The engine: one model, owned by one thread, generating token by token with a cooperative stop.

This package never sees LSP types. `EngineWorker` runs every llama.cpp call (load, generate,
reload) on its single thread, in submission order, and hands results back as futures. A
generation stops within one token when its cancel event is set, its time budget is spent, a
stop token id comes out, or the caller's `should_stop` says the text is complete.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sc2_lsp.prompt.templates import BoundTemplate

StopReason = Literal[
    "stop_token", "max_tokens", "callback", "cancelled", "time_budget", "context_full"
]


class EngineError(Exception):
    """The model could not be loaded or run; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class LoadOptions:
    path: Path
    n_ctx: int = 4096
    n_threads: int = 0
    n_gpu_layers: int = -1
    template: str = "auto"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    path: Path
    architecture: str
    template: BoundTemplate
    n_ctx: int
    n_ctx_train: int
    n_vocab: int
    n_gpu_layers: int
    gpu_offload_supported: bool
    load_seconds: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int = 128
    temperature: float = 0.0
    top_k: int = 40
    top_p: float = 0.95
    stop_ids: frozenset[int] = frozenset()
    time_budget_s: float | None = None
    """Once spent, generation stops at the next line end (or at once if `hard_deadline`)."""
    seed: int = 0
    reuse_chunk_min: int = 16
    """Reuse the KV of cached chunks of at least this many tokens that reappear later in the
    prompt, shifting them into place (llama-server's --cache-reuse); 0 keeps only the prefix."""


@dataclass(slots=True)
class Generation:
    text: str = ""
    tokens: list[int] = field(default_factory=list)
    stop_reason: StopReason = "max_tokens"
    n_prompt: int = 0
    n_reused: int = 0
    """Prompt tokens whose KV was kept from the previous generation."""
    prompt_seconds: float = 0.0
    generate_seconds: float = 0.0

    @property
    def n_evaluated(self) -> int:
        return self.n_prompt - self.n_reused


@dataclass(slots=True)
class CancelToken:
    """Set by whoever no longer wants the result; polled by the engine between tokens."""

    event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.event.set()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()
