"""The baselines' context providers: Jaccard over recent files' windows, BM25 over all."""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.context_recall.design import (
    QUERY_LINES,
    RANKED,
    RECENT_FILES,
    WINDOW_LINES,
    WINDOW_STRIDE,
)
from sc2_lsp.context.retrieval.similar import identifier_set, jaccard
from sc2_lsp.context.symbols import IDENTIFIER
from sc2_lsp.prompt import ContextFile
from sc2_lsp.prompting import Request


@dataclass(frozen=True)
class WindowRef:
    file: str
    start: int
    end: int


class Windows:
    """20-line windows (stride 10) of every file of one round's copy, for both baselines."""

    def __init__(self, root: Path, files: Sequence[str]) -> None:
        self.lines: dict[str, list[str]] = {}
        self.refs: list[WindowRef] = []
        self.jaccard_tokens: list[frozenset[str]] = []
        self.bm25_terms: list[collections.Counter[str]] = []
        self.by_file: dict[str, list[int]] = collections.defaultdict(list)
        for file in files:
            lines = (root / file).read_text(encoding="utf-8").split("\n")
            self.lines[file] = lines
            for start in range(0, max(1, len(lines) - WINDOW_STRIDE), WINDOW_STRIDE):
                end = min(len(lines), start + WINDOW_LINES)
                chunk = "\n".join(lines[start:end])
                self.by_file[file].append(len(self.refs))
                self.refs.append(WindowRef(file, start, end))
                self.jaccard_tokens.append(identifier_set(chunk))
                self.bm25_terms.append(collections.Counter(IDENTIFIER.findall(chunk)))
                if end == len(lines):
                    break
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self._files = np.array([self.refs[n].file for n in range(len(self.refs))], dtype=object)

    def postings(
        self, k1: float = 1.5, b: float = 0.75
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """term → (windows, BM25 weights of the term in them), computed once."""
        if self._postings is not None:
            return self._postings
        lengths = [sum(terms.values()) for terms in self.bm25_terms]
        average = sum(lengths) / max(1, len(lengths))
        frequency: collections.Counter[str] = collections.Counter()
        for terms in self.bm25_terms:
            frequency.update(terms.keys())
        total = len(self.refs)
        windows: dict[str, list[int]] = collections.defaultdict(list)
        weights: dict[str, list[float]] = collections.defaultdict(list)
        for number, terms in enumerate(self.bm25_terms):
            scale = k1 * (1 - b + b * lengths[number] / average)
            for term, tf in terms.items():
                df = frequency[term]
                idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
                windows[term].append(number)
                weights[term].append(idf * tf * (k1 + 1) / (tf + scale))
        self._postings = {
            term: (np.array(windows[term], dtype=np.int64), np.array(weights[term]))
            for term in windows
        }
        return self._postings

    def text(self, number: int) -> str:
        ref = self.refs[number]
        return "\n".join(self.lines[ref.file][ref.start : ref.end]) + "\n"

    def bm25(self, query: Sequence[str], exclude: str) -> list[tuple[float, int]]:
        postings = self.postings()
        scores = np.zeros(len(self.refs))
        for term, count in collections.Counter(query).items():
            found = postings.get(term)
            if found is not None:
                np.add.at(scores, found[0], found[1] * count)
        scores[self._files == exclude] = 0.0
        candidates = np.flatnonzero(scores > 0)
        # Best first; ties by window number, so the order is deterministic.
        ranked = candidates[np.lexsort((candidates, -scores[candidates]))][:RANKED]
        return [(float(scores[n]), int(n)) for n in ranked]

    def jaccard(self, query: frozenset[str], files: Sequence[str]) -> list[tuple[float, int]]:
        scored: list[tuple[float, int]] = []
        for file in files:
            for number in self.by_file.get(file, ()):
                score = jaccard(query, self.jaccard_tokens[number])
                if score > 0:
                    scored.append((score, number))
        return [(score, n) for score, n in sorted(scored, key=lambda p: (-p[0], p[1]))[:RANKED]]


def query_lines(request: Request) -> str:
    text, offset = request.snapshot.text, request.cursor.offset
    start = text.rfind("\n", 0, offset) + 1
    for _ in range(QUERY_LINES):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    return text[start:offset]


def pack_windows(
    windows: Windows,
    ranked: list[tuple[float, int]],
    budget: int,
    count: Callable[[str], int],
) -> list[ContextFile]:
    """Best windows first, none overlapping another chosen one, within `budget`; best last."""
    chosen: list[tuple[float, int]] = []
    taken: dict[str, list[WindowRef]] = collections.defaultdict(list)
    spent = 0
    for score, number in ranked:
        ref = windows.refs[number]
        if any(ref.start < t.end and t.start < ref.end for t in taken[ref.file]):
            continue
        text = windows.text(number)
        if len(text) > (budget - spent) * 8:
            continue  # cannot fit (no token spans 8 characters on average): not worth counting
        cost = count(text) + count(ref.file + "\n") + 1
        if spent + cost > budget:
            continue
        spent += cost
        taken[ref.file].append(ref)
        chosen.append((score, number))
        if budget - spent < 8:
            break
    chosen.sort(key=lambda pair: (pair[0], -pair[1]))
    return [ContextFile(windows.refs[n].file, windows.text(n)) for _, n in chosen]


def jaccard_provider(windows: Windows, recent: Sequence[str], root: Path) -> Any:
    def provide(
        request: Request, window: tuple[int, int], budget: int, count: Callable[[str], int]
    ) -> list[ContextFile]:
        current = _relative(request, root)
        pool = [file for file in recent if file != current][:RECENT_FILES]
        ranked = windows.jaccard(identifier_set(query_lines(request)), pool)
        return pack_windows(windows, ranked, budget, count)

    return provide


def bm25_provider(windows: Windows, root: Path) -> Any:
    def provide(
        request: Request, window: tuple[int, int], budget: int, count: Callable[[str], int]
    ) -> list[ContextFile]:
        current = _relative(request, root)
        ranked = windows.bm25(IDENTIFIER.findall(query_lines(request)), current)
        return pack_windows(windows, ranked, budget, count)

    return provide


def _relative(request: Request, root: Path) -> str:
    path = request.snapshot.path
    assert path is not None
    return path.relative_to(root).as_posix()
