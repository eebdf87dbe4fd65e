"""Similarity search over fixed line windows (Jaccard of identifier sets), Copilot-style.

Owns tokenisation into identifier sets (stop words removed), splitting a document into
overlapping windows, scoring them against the code before the cursor, and a small cache of
per-document windows keyed by document version so unchanged open files cost nothing per request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sc2_lsp.context.symbols import IDENTIFIER

# Keywords and ubiquitous names across the supported languages: they make every window look
# alike, so they carry no signal.
STOP_WORDS = frozenset(
    """
    and as assert async await break case catch class const continue def default defer del do
    elif else enum export extends false final finally fn for from func function go if impl
    implements import in interface is let match mod mut new nil none not null or package pass
    private protected pub public raise return self static struct super switch this throw
    throws true try type typeof use var void while with yield int str bool string float double
    char long short unsigned byte usize isize u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 err ok
    some the a an of to it at on be by this that value result data args kwargs
    """.split()  # noqa: SIM905 - a word list reads better than 100 quoted strings
)


def identifier_set(text: str) -> frozenset[str]:
    """Identifiers of `text` that carry meaning (no stop words, no single letters)."""
    return frozenset(
        token for token in IDENTIFIER.findall(text) if len(token) > 1 and token not in STOP_WORDS
    )


@dataclass(frozen=True, slots=True)
class Window:
    """Lines [start_line, end_line) of a document and their identifier set."""

    start_line: int
    end_line: int
    tokens: frozenset[str]


@dataclass(frozen=True)
class IndexedDocument:
    """A document split into lines and overlapping windows."""

    lines: tuple[str, ...]
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class SimilarHit:
    path: Path
    start_line: int
    end_line: int
    score: float


def index_document(text: str, window_lines: int) -> IndexedDocument:
    """Windows of `window_lines` lines every `window_lines // 2` lines."""
    # Split on "\n" only: line numbers must agree with the rest of the package.
    lines = tuple(text.split("\n"))
    size = max(2, window_lines)
    stride = max(1, size // 2)
    line_tokens = [identifier_set(line) for line in lines]
    windows: list[Window] = []
    for start in range(0, max(1, len(lines) - stride), stride):
        end = min(len(lines), start + size)
        tokens: frozenset[str] = frozenset().union(*line_tokens[start:end])
        if tokens:
            windows.append(Window(start, end, tokens))
        if end == len(lines):
            break
    return IndexedDocument(lines=lines, windows=tuple(windows))


def jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left or not right:
        return 0.0
    shared = len(left & right)
    return shared / (len(left) + len(right) - shared)


def best_windows(
    query: frozenset[str],
    documents: Sequence[tuple[Path, IndexedDocument]],
    *,
    min_score: float,
    limit: int,
) -> list[SimilarHit]:
    """Highest-scoring non-overlapping windows across documents, best first."""
    hits: list[SimilarHit] = []
    if not query:
        return hits
    for path, document in documents:
        scored = sorted(
            ((jaccard(query, window.tokens), window) for window in document.windows),
            key=lambda pair: (-pair[0], pair[1].start_line),
        )
        taken: list[Window] = []
        for score, window in scored:
            if score < min_score or len(taken) >= limit:
                break
            if any(
                window.start_line < t.end_line and t.start_line < window.end_line for t in taken
            ):
                continue
            taken.append(window)
            hits.append(SimilarHit(path, window.start_line, window.end_line, score))
    hits.sort(key=lambda hit: (-hit.score, str(hit.path), hit.start_line))
    return hits[:limit]


class DocumentCache:
    """LRU of indexed documents keyed by (path, version)."""

    def __init__(self, capacity: int = 48) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Path, Hashable], IndexedDocument] = OrderedDict()

    def get(
        self,
        path: Path,
        version: Hashable,
        load: Callable[[], str | None],
        window_lines: int,
    ) -> IndexedDocument | None:
        """The windows of `path` at `version`; `load` reads its text only on a miss."""
        key = (path, (version, window_lines))
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        text = load()
        if text is None:
            return None
        document = index_document(text, window_lines)
        with self._lock:
            self._entries[key] = document
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return document
