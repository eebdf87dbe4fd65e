"""The read side of the index: what a completion request may ask, at any time.

Owns `IndexQueries`: records by path, definitions by name, the record of the buffer being
completed (parsed on the spot the first time), resolved imports, source bytes matching a
record's spans (re-extracted when the file changed on disk), file text, the project layout and
the index's counts.  Every answer comes from the partial index while the walk is still going.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sc2_lsp.context.index.indexer import Indexer
from sc2_lsp.context.index.state import IndexState, extract_buffer
from sc2_lsp.context.index.table import FileRecord
from sc2_lsp.context.index.workspace import Workspace
from sc2_lsp.context.languages import ProjectLayout, ResolvedImport, extract_symbols
from sc2_lsp.context.settings import RepoContextSettings

# Files parsed synchronously for a request when the background thread has not reached them.
_INLINE_PARSE_LIMIT = 256_000


@dataclass(frozen=True)
class IndexStats:
    files: int
    parsed_files: int
    definitions: int
    pending_events: int
    walk_complete: bool
    approx_bytes: int


class IndexQueries:
    """Thread-safe reads of the index, for completion requests."""

    def __init__(self, state: IndexState, indexer: Indexer) -> None:
        self._state = state
        self._indexer = indexer

    @property
    def settings(self) -> RepoContextSettings:
        return self._state.settings

    @property
    def workspace(self) -> Workspace:
        return self._state.workspace

    @property
    def walk_complete(self) -> bool:
        return self._state.walk_complete

    def is_allowed(self, path: Path) -> bool:
        """Inside a root, not ignored, not secret-like, not a link out of the workspace."""
        return self._state.workspace.is_allowed(path)

    def record(self, path: Path) -> FileRecord | None:
        with self._state.lock:
            return self._state.table.records.get(path)

    def definitions_named(self, name: str) -> list[tuple[FileRecord, int]]:
        """Every indexed definition called `name`, as (file record, definition index)."""
        with self._state.lock:
            return self._state.table.definitions_named(name)

    def definitions_named_many(
        self, names: Sequence[str]
    ) -> dict[str, list[tuple[FileRecord, int]]]:
        """`definitions_named` for several names under one lock; names without any omitted."""
        table = self._state.table
        found: dict[str, list[tuple[FileRecord, int]]] = {}
        with self._state.lock:
            for name in names:
                if table.count_named(name):
                    found[name] = table.definitions_named(name)
        return found

    def current_record(self, path: Path, text: str, language: str | None) -> FileRecord | None:
        """The record for the buffer being completed; parsed now only if never seen before."""
        state = self._state
        with state.lock:
            record = state.table.records.get(path)
            open_entry = state.open.get(path)
        if record is not None and record.symbols is not None:
            stale = open_entry is None or open_entry[0] is not text
            if stale and record.text_hash != hash(text):
                self._indexer.document_changed(path, text, language)
            return record
        if not self.is_allowed(path) or len(text) > _INLINE_PARSE_LIMIT:
            return record
        fresh = extract_buffer(path, text, language)
        with state.lock:
            state.store(fresh)
        return fresh

    def resolved_imports(self, record: FileRecord) -> list[ResolvedImport]:
        """The record's imports resolved to workspace files (cached per record version)."""
        return self._state.resolved_imports(record)

    def source_for(self, record: FileRecord) -> tuple[FileRecord, bytes] | None:
        """Bytes matching `record`'s spans; re-extracts the file if it changed on disk."""
        state = self._state
        if record.source is not None:
            return record, record.source
        with state.lock:
            cached = state.sources.get(record.path, record.mtime_ns, record.size)
        if cached is not None:
            return record, cached
        file_text = state.workspace.read(record.path)
        if file_text is None:
            return None
        data = file_text.text.encode("utf-8")
        current = record
        if (file_text.mtime_ns, file_text.size) != (record.mtime_ns, record.size):
            language = record.language
            symbols = extract_symbols(language, data) if language else None
            current = FileRecord(record.path, language, symbols, file_text.mtime_ns, file_text.size)
            with state.lock:
                if record.path not in state.open:
                    state.store(current)
        with state.lock:
            state.sources.put(current.path, current.mtime_ns, current.size, data)
        return current, data

    def read_text(self, path: Path) -> str | None:
        """Text of an allowed file: the open buffer if any, else from disk (filters applied)."""
        return self._state.read_text(path)

    def layout(self) -> ProjectLayout:
        return self._state.layout()

    @property
    def stats(self) -> IndexStats:
        state = self._state
        with state.lock:
            table = state.table
            parsed = [r for r in table.records.values() if r.symbols is not None]
            imports = sum(len(r.symbols.import_rows) for r in parsed if r.symbols is not None)
            open_bytes = sum(len(r.source) for r in parsed if r.source is not None)
            # Rough per-object costs of records, definition rows and their strings.
            approx = (
                len(table.records) * 420
                + table.definition_count * 260
                + imports * 200
                + table.distinct_names * 330
                + open_bytes
                + state.sources.total_bytes
            )
            return IndexStats(
                files=len(table.records),
                parsed_files=len(parsed),
                definitions=table.definition_count,
                pending_events=len(state.events),
                walk_complete=state.walk_complete,
                approx_bytes=approx,
            )
