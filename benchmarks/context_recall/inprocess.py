"""In-process measurements: prompts as `sc2-lsp prompt` prepares them, gather latency,
index time and memory, with the server's tokenizer.
"""

from __future__ import annotations

import functools
import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.context_recall.checking import recalled
from benchmarks.context_recall.design import (
    WORK,
)
from benchmarks.context_recall.positions import (
    Position,
)
from sc2_lsp.config import Settings, resolve
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.engine.vocab import Tokenizer
from sc2_lsp.languages import language_for
from sc2_lsp.prompt import ContextFile
from sc2_lsp.prompt.templates import BoundTemplate
from sc2_lsp.prompting import Prepared, Request, prepare
from sc2_lsp.repository import RepositoryContext
from tests.gguf_factory import load_vocab, write_starcoder2


class CachedTokenizer:
    """The tokenizer with memoised `tokenize`: baselines tokenize the same windows again and again."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.bos_id = tokenizer.bos_id
        self.token_text = tokenizer.token_text
        self.piece = tokenizer.piece  # token healing reads the token bytes
        self.tokenize = functools.lru_cache(maxsize=100_000)(tokenizer.tokenize)
        self.count = functools.lru_cache(maxsize=100_000)(tokenizer.count)


class Prompter:
    """`prepare` as `sc2-lsp prompt` calls it, for one budget."""

    def __init__(self, tokenizer: Any, template: BoundTemplate, vocab: Path, budget: int) -> None:
        layer = {"model": {"path": str(vocab)}, "prompt": {"maxPromptTokens": budget}}
        settings, errors = resolve(layer)
        if errors:
            raise RuntimeError(f"settings: {errors}")
        self.settings: Settings = settings
        self.tokenizer = tokenizer
        self.template = template

    def prepare(
        self, request: Request, count: Callable[[str], int], provider: Any
    ) -> Prepared | None:
        return prepare(
            request,
            self.settings,
            self.tokenizer,
            self.template,
            self.settings.model.n_ctx,
            count,
            provider,
        )


def make_request(root: Path, position: Position) -> Request:
    path = (root / position.file).resolve()
    text = path.read_text(encoding="utf-8")
    snapshot = Snapshot(path.as_uri(), None, language_for(None, str(path)), text)
    return Request(
        snapshot, cursor_at(text, position.line, position.col, "utf-32"), root.resolve(), "invoked"
    )


def index_memory(root: Path) -> dict[str, int]:
    """Bytes retained by a ready index of `root` (tracemalloc) and its own estimate."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    repository = RepositoryContext(hold=False)
    repository.configure([root], RepoContextSettings())
    assert repository.index is not None
    repository.index.wait_ready()
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    approx = repository.index.stats.approx_bytes
    repository.close()
    return {"tracemalloc_bytes": retained, "approx_bytes": approx}


@dataclass
class OursInProcess:
    index_s: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)
    cold_cpu_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    warm_cpu_ms: list[float] = field(default_factory=list)
    hits: dict[int, bool] = field(default_factory=dict)
    # Positions whose definition `gather` returned but the final prompt no longer holds.
    lost_in_fit: int = 0


def ours_in_process(
    root: Path,
    positions: Sequence[Position],
    prompter: Prompter,
    count: Callable[[str], int],
    out: OursInProcess,
) -> None:
    """Index `root`, then prompt each position the way `sc2-lsp prompt` does, timing gather.

    Each position is asked twice: the first request in a just-opened file (cold: its imports
    resolved, the definitions' files read and their signatures tokenized for the first time)
    and the same request again, as the next keystroke would (warm).
    """
    started = time.perf_counter()
    repository = RepositoryContext(hold=False)
    repository.configure([root], RepoContextSettings())
    assert repository.index is not None
    repository.index.wait_ready()
    out.index_s.append(time.perf_counter() - started)
    timings: list[tuple[float, float]] = []

    def provider(
        request: Request, window: tuple[int, int], budget: int, counter: Callable[[str], int]
    ) -> list[ContextFile]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return repository.provide(request, window, budget, counter)
        finally:
            timings.append(((time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000))

    try:
        for position in positions:
            request = make_request(root, position)
            path = request.snapshot.path
            assert path is not None
            repository.recent = RecentEdits()
            repository.opened(path, request.snapshot.text, request.snapshot.language_id)
            try:
                prepared = prompter.prepare(request, count, provider)
                snippets = list(repository.last_snippets)
                prompter.prepare(request, count, provider)
            finally:
                repository.closed(path)
            if len(timings) >= 2:
                (cold, cold_cpu), (warm, warm_cpu) = timings[-2:]
                out.cold_ms.append(cold)
                out.cold_cpu_ms.append(cold_cpu)
                out.warm_ms.append(warm)
                out.warm_cpu_ms.append(warm_cpu)
            timings.clear()
            prompt = prepared.prompt.render() if prepared else None
            hit = recalled(prompt, position)
            out.hits[position.index] = hit
            gathered = "".join(f"<file_sep>{snippet.path}\n{snippet.text}" for snippet in snippets)
            if not hit and recalled(gathered + "<fim_prefix>", position):
                out.lost_in_fit += 1
    finally:
        repository.close()


def server_tokenizer(vocab: Path) -> Tokenizer:
    """The tokenizer the way the server holds it: the vocabulary of the model it runs.

    The real vocabulary in a tiny StarCoder2 written by `tests.gguf_factory`, read vocab-only
    as the language server reads its model's (the weights live in the engine process).
    """
    model = WORK / "starcoder2-vocab-tiny.gguf"
    if not model.exists():
        write_starcoder2(model, vocab=load_vocab(vocab))
    return Tokenizer.load(model)
