"""The engine interface: what the core asks of a model, typed, with no LSP and no llama.cpp in it.

`Tokenizer` turns text into token ids; `Engine` loads a model and generates after a prompt of
ids, streaming tokens, stopping within one token when its `CancelToken` is set, its time budget
is spent, a stop id comes out, or the caller's `should_stop` says the text is complete. The
core (`completer`, `prompting`, the CLI) sees only these protocols and the plain records below;
`engine.supervisor.SupervisedEngine` is the product's implementation (the model in a child
process), and tests inject their own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from sc2_lsp.prompt.templates import BoundTemplate

# llama.cpp's OpenMP threads spin while idle by default; next to an editor on a laptop (or any
# other busy process) spinning threads starve each other and generation collapses (measured
# 1.2 → 4.6 tok/s on a shared 2-core machine). libgomp reads this when `llama_cpp` loads it,
# which happens after this package is imported (engine.vocab, engine.llama, engine.branching).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

StopReason = Literal[
    "stop_token",
    "max_tokens",
    "callback",
    "cancelled",
    "time_budget",
    "context_full",
    "unavailable",
]
"""Why a generation ended; "unavailable": no engine could run it (loading, restarting, failed)."""


class EngineError(Exception):
    """The model could not be loaded or run; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class Safety:
    """llama.cpp features turned off to get around a known fault (see `engine.faults`)."""

    amx: bool = True
    """Intel AMX kernels for the weights (llama.cpp #20824: they crash on common quant types)."""
    extra_buffers: bool = True
    """CPU weight repacking and accelerator buffers (`use_extra_bufts`); off also drops AMX."""
    max_gpu_layers: int | None = None
    """A cap on offloaded layers, after a GPU failed to initialise or ran out of memory."""

    def describe(self) -> str:
        parts = []
        if not self.extra_buffers:
            parts.append("no extra CPU buffers (no AMX, no weight repacking)")
        elif not self.amx:
            parts.append("AMX off")
        if self.max_gpu_layers is not None:
            parts.append(
                "CPU only"
                if self.max_gpu_layers == 0
                else f"at most {self.max_gpu_layers} GPU layers"
            )
        return ", ".join(parts) or "none"


SAFEST = Safety(amx=False, extra_buffers=False, max_gpu_layers=0)
"""What `model.safeMode: "on"` loads with: plain CPU kernels only."""


@dataclass(frozen=True, slots=True)
class LoadOptions:
    path: Path
    n_ctx: int = 4096
    n_threads: int = 0
    n_gpu_layers: int = -1
    template: str = "auto"
    safety: Safety = field(default_factory=Safety)
    """What to turn off from the start; the supervisor may turn off more after a fault."""
    fallbacks: bool = True
    """Avoid known faults before they happen, after a crash, and remember what worked."""
    watchdog_s: float = 30.0
    """Kill and restart an engine that shows no progress for this long (0: never)."""


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
    weight_buffers: tuple[str, ...] = ()
    """llama.cpp's buffer types holding the weights, e.g. ("CPU_REPACK", "CPU_Mapped")."""
    safety: Safety = field(default_factory=Safety)


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int = 128
    temperature: float = 0.0
    top_k: int = 40
    top_p: float = 0.95
    stop_ids: frozenset[int] = frozenset()
    time_budget_s: float | None = None
    """Once spent, generation stops at the next line end; at twice the budget, at once."""
    seed: int = 0
    reuse_chunk_min: int = 16
    """Reuse the KV of cached chunks of at least this many tokens that reappear later in the
    prompt, shifting them into place (llama-server's --cache-reuse); 0 keeps only the prefix."""
    healed: str = ""
    """Text backed off the end of the prompt (token healing, see `sc2_lsp.healing`): the first
    generated tokens must spell it out (they do not count towards `max_tokens`); every token
    that disagrees with it is masked."""
    branches: int = 0
    """Instead of one continuation, this many others, branching at the prompt's end (one per
    next-best first token, `avoid_first` excluded) and decoded side by side in one batch; they
    come back as `Generation.branches`. Engines that cannot branch return none."""
    avoid_first: tuple[int, ...] = ()
    """First tokens the branches must not start with (the continuation already shown)."""

    def over_budget(self, spent: float, text: str) -> bool:
        """Past the time budget, finish the line being written; past twice it, stop at once."""
        budget = self.time_budget_s
        if budget is None or spent <= budget:
            return False
        return text.endswith("\n") or spent > 2 * budget


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
    started_at: float = 0.0
    """When the engine began the job (`time.monotonic()`, in whichever process ran it)."""
    n_cached: int = 0
    """Tokens of prompt + generated text whose KV the engine held when the job ended."""
    branches: list[Generation] = field(default_factory=list)
    """With `GenerationParams.branches`: the other continuations, best first."""

    @property
    def n_evaluated(self) -> int:
        return self.n_prompt - self.n_reused


class CancelToken:
    """Set by whoever no longer wants the result; the engine polls it between tokens.

    Engines that run elsewhere (another process, another machine) register a callback to
    forward the cancel the moment it happens instead of polling.
    """

    __slots__ = ("_callbacks", "_lock", "event")

    def __init__(self) -> None:
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            if self.event.is_set():
                return
            self.event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` once when cancelled (at once if it already is)."""
        with self._lock:
            if not self.event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()


def never_stop(_text: str) -> bool:
    """The default `should_stop`: only the engine's own limits end a generation."""
    return False


ShouldStop = Callable[[str], bool]
"""Called with the text so far after each token. Engines in another process need it to pickle
(a module-level function, or a `functools.partial` of one)."""

TokenSink = Callable[[int], None]
"""Receives each generated token as it comes (streaming)."""


class Tokenizer(Protocol):
    """A model's vocabulary: text ↔ token ids and its special tokens."""

    n_vocab: int
    bos_id: int | None
    eog_ids: frozenset[int]

    def tokenize(self, text: str) -> list[int]: ...

    def count(self, text: str) -> int: ...

    def piece(self, token: int) -> bytes: ...

    def token_text(self, token: int) -> str: ...

    def single_token(self, text: str) -> int | None: ...


class Engine(Protocol):
    """A model to generate with. Jobs run one at a time, in submission order."""

    @property
    def ready(self) -> bool:
        """A model is loaded and can take generations now."""
        ...

    @property
    def info(self) -> ModelInfo | None: ...

    @property
    def tokenizer(self) -> Tokenizer | None: ...

    def cached_tokens(self) -> Sequence[int]:
        """The token ids whose KV the engine holds (what the next prompt can reuse)."""
        ...

    def load(self, options: LoadOptions) -> Future[ModelInfo]:
        """Replace the current model (if any) with the one `options` describe."""
        ...

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop = never_stop,
        on_token: TokenSink | None = None,
    ) -> Future[Generation]: ...

    def cancel_running(self) -> None: ...

    def close(self) -> None: ...


def unavailable(prompt: Sequence[int]) -> Future[Generation]:
    """The answer of an engine that cannot run a generation now (loading, restarting, gone)."""
    future: Future[Generation] = Future()
    future.set_result(Generation(n_prompt=len(prompt), stop_reason="unavailable"))
    return future


def common_prefix(left: Sequence[int], right: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    count = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        count += 1
    return count
