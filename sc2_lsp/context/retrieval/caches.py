"""Memo tables that make repeated `gather` calls cheap, one set per workspace index.

Owns `GatherCache`: token counts by text (the model tokenizer is the costly part), per-file
top-level name maps, briefly remembered path resolutions, the similarity windows of open and
recent documents, and `RenderCache`, the renderings of single definitions.  Thread-safe.
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.retrieval.render import RenderedDefinition, render_definition
from sc2_lsp.context.retrieval.similar import DocumentCache
from sc2_lsp.context.symbols import FileSymbols

_NEWLINE = re.compile("\n")
# Link targets can change; a resolved path is trusted only this long.
_RESOLVE_TTL_SECONDS = 2.0


class GatherCache:
    """Per-index memo of token counts, per-file name maps and similarity windows."""

    def __init__(self) -> None:
        self.documents = DocumentCache()
        self.renders = RenderCache()
        self._lock = threading.Lock()
        self._tokens: OrderedDict[tuple[Callable[[str], int], str], int] = OrderedDict()
        self._names: OrderedDict[int, tuple[FileSymbols, dict[str, list[int]]]] = OrderedDict()
        self._resolved: dict[Path, tuple[float, Path | None]] = {}
        self._line_starts: dict[int, tuple[str, list[int]]] = {}

    def lines(self, text: str, start_line: int, end_line: int) -> str:
        """Lines [start_line, end_line) of an open document (line starts memoised per text)."""
        found = self._line_starts.get(id(text))
        if found is None or found[0] is not text:
            offsets = [0, *(match.end() for match in _NEWLINE.finditer(text))]
            found = (text, offsets)
            with self._lock:
                self._line_starts[id(text)] = found
                while len(self._line_starts) > 32:
                    del self._line_starts[next(iter(self._line_starts))]
        offsets = found[1]
        if end_line <= start_line or start_line >= len(offsets):
            return ""
        begin = offsets[max(0, start_line)]
        end = offsets[end_line] if end_line < len(offsets) else len(text)
        chunk = text[begin:end]
        return chunk if chunk.endswith("\n") or not chunk else chunk + "\n"

    def resolve(self, path: Path) -> Path | None:
        """`path` with links resolved, remembered briefly (editors repeat the same paths)."""
        now = time.monotonic()
        with self._lock:
            found = self._resolved.get(path)
        if found is not None and now - found[0] < _RESOLVE_TTL_SECONDS:
            return found[1]
        resolved = resolve_path(path)
        with self._lock:
            if len(self._resolved) > 4096:
                self._resolved.clear()
            self._resolved[path] = (now, resolved)
        return resolved

    def tokens(self, count_tokens: Callable[[str], int], text: str) -> int:
        key = (count_tokens, text)
        with self._lock:
            found = self._tokens.get(key)
            if found is not None:
                self._tokens.move_to_end(key)
                return found
        counted = max(0, int(count_tokens(text)))
        with self._lock:
            self._tokens[key] = counted
            while len(self._tokens) > 8192:
                self._tokens.popitem(last=False)
        return counted

    def top_level_names(self, symbols: FileSymbols) -> dict[str, list[int]]:
        """name → indices of the file's definitions not nested in a class."""
        key = id(symbols)
        with self._lock:
            found = self._names.get(key)
            if found is not None and found[0] is symbols:
                return found[1]
        names: dict[str, list[int]] = {}
        for position, definition in enumerate(symbols.definitions):
            if definition.parent is None:
                names.setdefault(definition.name, []).append(position)
        with self._lock:
            self._names[key] = (symbols, names)
            while len(self._names) > 1024:
                self._names.popitem(last=False)
        return names


class RenderCache:
    """Memo of single-definition renderings keyed by the (symbols, source) objects rendered.

    Target files rarely change between keystrokes, so the same signatures are rendered over and
    over; the cache keeps the last few thousand.  An entry goes when the symbols it was rendered
    from are freed: an edited file's superseded versions (symbols and source bytes) are not kept
    for renderings nobody can ask for again.  Thread-safe.
    """

    def __init__(self, capacity: int = 2048) -> None:
        self._capacity = capacity
        self._lock = threading.RLock()
        self._entries: dict[
            tuple[int, int, int, bool, int, bool, bool, bool],
            tuple[weakref.ref[FileSymbols], bytes, RenderedDefinition | None],
        ] = {}

    def render(
        self,
        source: bytes,
        symbols: FileSymbols,
        index: int,
        *,
        full: bool,
        max_lines: int,
        wrap: bool = True,
        brief: bool = False,
        terse: bool = False,
    ) -> RenderedDefinition | None:
        key = (id(symbols), id(source), index, full, max_lines, wrap, brief, terse)
        found = self._entries.get(key)
        if found is not None and found[0]() is symbols and found[1] is source:
            return found[2]
        rendered = render_definition(
            source,
            symbols,
            index,
            full=full,
            max_lines=max_lines,
            wrap=wrap,
            brief=brief,
            terse=terse,
        )
        entries, lock = self._entries, self._lock

        def forget(dead: weakref.ref[FileSymbols]) -> None:
            with lock:  # reentrant: the last reference may go while this thread holds it
                if key in entries and entries[key][0] is dead:
                    del entries[key]

        with self._lock:
            self._entries[key] = (weakref.ref(symbols, forget), source, rendered)
            while len(self._entries) > self._capacity:
                del self._entries[next(iter(self._entries))]
        return rendered


_caches: weakref.WeakKeyDictionary[WorkspaceIndex, GatherCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(index: WorkspaceIndex) -> GatherCache:
    with _caches_lock:
        cache = _caches.get(index)
        if cache is None:
            cache = GatherCache()
            _caches[index] = cache
        return cache


def resolve_path(path: Path) -> Path | None:
    """`path` made absolute with links resolved, or None when that fails."""
    try:
        return Path(os.path.abspath(path)).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
