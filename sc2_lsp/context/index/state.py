"""The index's shared state, what the indexer thread writes and requests read, under one lock.

Owns `IndexState`: the symbol table, the build-system facts, the source-bytes LRU, the open
buffers, the queue of pending file events, the per-file cache of resolved imports, and the
maintenance that keeps them consistent when a record is stored or removed; `IndexedFiles`,
the file oracle import resolution asks (only files the index may read exist for it); and
`extract_buffer`, which turns an open buffer into its record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from sc2_lsp.context.index.events import EventQueue
from sc2_lsp.context.index.layout import LAYOUT_FILES, LAYOUT_FILES_READ, LayoutFacts
from sc2_lsp.context.index.table import FileRecord, SourceCache, SymbolTable
from sc2_lsp.context.index.workspace import Workspace
from sc2_lsp.context.languages import (
    ProjectLayout,
    ResolvedImport,
    extract_symbols,
    resolve_imports,
    structure_language,
)
from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.context.symbols import FileSymbols, used_identifiers

_SOURCE_CACHE_BYTES = 8_000_000
_MAX_RESOLVED_FILES = 4096


class IndexState:
    """Everything the index knows; the lock guards every field but `workspace` and `settings`."""

    def __init__(self, workspace: Workspace, settings: RepoContextSettings, debounce: float):
        self.settings = settings
        self.workspace = workspace
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.table = SymbolTable()
        self.facts = LayoutFacts(workspace.roots)
        self.sources = SourceCache(_SOURCE_CACHE_BYTES)
        self.open: dict[Path, tuple[str, str | None]] = {}
        """Open buffers: path → (text, LSP language id)."""
        # Buffer edits wait until typing pauses: re-parsing on every keystroke would compete
        # with completion requests for the interpreter.
        self.events = EventQueue(debounce)
        self.walk_complete = False
        self.active_requests = 0
        self.files = IndexedFiles(self)
        self._resolved: dict[Path, tuple[FileSymbols, list[ResolvedImport]]] = {}

    def layout(self) -> ProjectLayout:
        with self.lock:
            return self.facts.layout()

    def resolved_imports(self, record: FileRecord) -> list[ResolvedImport]:
        """The record's imports resolved to workspace files (cached per record version)."""
        if record.symbols is None:
            return []
        with self.lock:
            cached = self._resolved.get(record.path)
        if cached is not None and cached[0] is record.symbols:
            return cached[1]
        resolved = resolve_imports(record.path, record.symbols, self.layout(), self.files)
        with self.lock:
            if len(self._resolved) > _MAX_RESOLVED_FILES:
                self._resolved.clear()
            self._resolved[record.path] = (record.symbols, resolved)
        return resolved

    def read_text(self, path: Path) -> str | None:
        """Text of an allowed file: the open buffer if any, else from disk (filters applied)."""
        with self.lock:
            entry = self.open.get(path)
        if entry is not None:
            return entry[0]
        file_text = self.workspace.read(path)
        return None if file_text is None else file_text.text

    # ------------------------------------------------------------------ maintenance

    def store(self, record: FileRecord) -> None:
        """Replace the record for `record.path`; caller holds the lock."""
        self.sources.drop(record.path)
        if self.table.store(record) and self.walk_complete:
            # A new file can satisfy imports that resolved to nothing before.
            self._resolved.clear()
        self.facts.note_record(record)

    def remove(self, path: Path) -> None:
        with self.lock:
            self.table.remove(path)
            self.sources.drop(path)
            self._resolved.clear()

    def forget_dir(self, path: Path) -> None:
        # A deleted directory arrives as one event for the directory itself.
        with self.lock:
            doomed = [p for p in self.table.records if path in p.parents]
        for victim in doomed:
            self.remove(victim)
        if path.name in LAYOUT_FILES:
            with self.lock:
                self.facts.forget_file(path)
                self._resolved.clear()

    def note_layout_file(self, path: Path) -> None:
        if path.name not in LAYOUT_FILES:
            return
        text = self.read_text(path) if path.name in LAYOUT_FILES_READ else None
        with self.lock:
            self.facts.note_file(path, text)
            self._resolved.clear()


def extract_buffer(path: Path, text: str, language_id: str | None) -> FileRecord:
    """The record of an open buffer: its symbols, its bytes and the names it uses."""
    language = structure_language(language_id, path)
    data = text.encode("utf-8", errors="replace")
    symbols = extract_symbols(language, data) if language else None
    identifiers = used_identifiers(text, symbols)
    return FileRecord(
        path, language, symbols, 0, len(data), data, identifiers, text_hash=hash(text)
    )


class IndexedFiles:
    """The `FileOracle` over the index: before the walk completes, allowed files on disk too."""

    def __init__(self, state: IndexState) -> None:
        self._state = state

    def is_file(self, path: Path) -> bool:
        state = self._state
        with state.lock:
            if path in state.table.records:
                return True
            if state.walk_complete:
                return False
        return os.path.isfile(path) and state.workspace.is_allowed(path)

    def files_in(self, directory: Path) -> Sequence[Path]:
        state = self._state
        with state.lock:
            known = state.table.files_in(directory)
            if state.walk_complete:
                return known
        if known:
            return known
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return []
        return [
            directory / name
            for name in names
            if os.path.isfile(directory / name) and state.workspace.is_allowed(directory / name)
        ]

    def files_named(self, name: str) -> Sequence[Path]:
        with self._state.lock:
            return self._state.table.files_named(name)

    def read_small_text(self, path: Path) -> str | None:
        if not self.is_file(path):
            return None
        return self._state.read_text(path)
