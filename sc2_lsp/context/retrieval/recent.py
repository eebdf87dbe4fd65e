"""A ring of recently edited code chunks and recently touched documents.

Owns `RecentEdits`, the llama.vim-style ring: each edit records the line window around the edit
location; a new chunk replaces older ones it mostly overlaps, and the oldest chunks fall off.
Chunks keep the text they had when recorded so closed files still contribute.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

# A new chunk replaces an older chunk of the same file overlapping it by at least this much.
_REPLACE_OVERLAP = 0.5


@dataclass(frozen=True)
class RecentChunk:
    """Lines [start_line, end_line) of `path` as they were when last edited."""

    path: Path
    start_line: int
    end_line: int
    text: str


class RecentEdits:
    """Thread-safe ring of recent edit chunks (oldest first) and recently touched paths."""

    def __init__(self, chunk_lines: int = 24, max_chunks: int = 16, max_paths: int = 32) -> None:
        self.chunk_lines = max(2, chunk_lines)
        self.max_chunks = max(1, max_chunks)
        self.max_paths = max(1, max_paths)
        self._lock = threading.Lock()
        self._chunks: list[RecentChunk] = []
        self._paths: OrderedDict[Path, None] = OrderedDict()

    def record(self, path: Path, text: str, offset: int) -> None:
        """Remember the lines around code-point `offset` of `text` (an edit location)."""
        chunk = chunk_around(path, text, offset, self.chunk_lines)
        with self._lock:
            self._touch(path)
            if chunk is None:
                return
            kept = [old for old in self._chunks if not _supersedes(chunk, old)]
            kept.append(chunk)
            self._chunks = kept[-self.max_chunks :]

    def opened(self, path: Path) -> None:
        """Remember that `path` was opened (it joins the similarity pool)."""
        with self._lock:
            self._touch(path)

    def forget(self, path: Path) -> None:
        """Drop everything about `path` (deleted or renamed file)."""
        with self._lock:
            self._chunks = [chunk for chunk in self._chunks if chunk.path != path]
            self._paths.pop(path, None)

    def chunks(self) -> list[RecentChunk]:
        """Recorded chunks, oldest first (the order that changes least between requests)."""
        with self._lock:
            return list(self._chunks)

    def recent_paths(self) -> list[Path]:
        """Recently edited or opened paths, most recent first."""
        with self._lock:
            return list(reversed(self._paths))

    def _touch(self, path: Path) -> None:
        self._paths.pop(path, None)
        self._paths[path] = None
        while len(self._paths) > self.max_paths:
            self._paths.popitem(last=False)


def chunk_around(path: Path, text: str, offset: int, chunk_lines: int) -> RecentChunk | None:
    """The `chunk_lines` lines centred on code-point `offset`, or None for blank text."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset)
    # Walk back from the edit rather than forward from the top: edits in long files are cheap.
    start = text.rfind("\n", 0, offset) + 1
    start_line = line
    while start_line > 0 and line - start_line < chunk_lines // 2:
        start = text.rfind("\n", 0, start - 1) + 1
        start_line -= 1
    end = start
    end_line = start_line
    while end_line < start_line + chunk_lines and end < len(text):
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
        end_line += 1
    body = text[start:end]
    if not body.strip():
        return None
    return RecentChunk(path=path, start_line=start_line, end_line=end_line, text=body)


def _supersedes(new: RecentChunk, old: RecentChunk) -> bool:
    if new.text == old.text:
        return True
    if new.path != old.path:
        return False
    overlap = min(new.end_line, old.end_line) - max(new.start_line, old.start_line)
    size = max(1, old.end_line - old.start_line)
    return overlap / size >= _REPLACE_OVERLAP
