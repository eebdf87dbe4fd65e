"""The workspace index: per-file symbols and a name → definitions table, kept current.

Owns `WorkspaceIndex`: one background thread walks the workspace and parses files, then
serves editor and file-watcher events (open buffers first).  Requests read the partial index at
any time.  Per file only the extracted symbols and stat are kept; source bytes are kept for open
buffers and a small LRU of recently rendered files, everything else is re-read (with an
mtime/size check) when a snippet needs it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sc2_lsp.context.events import EventQueue
from sc2_lsp.context.focus import used_identifiers
from sc2_lsp.context.languages import (
    ProjectLayout,
    ResolvedImport,
    extract_symbols,
    resolve_imports,
    structure_language,
)
from sc2_lsp.context.layout import LAYOUT_FILES, LAYOUT_FILES_READ, LayoutFacts
from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.context.symbols import FileSymbols
from sc2_lsp.context.table import FileRecord, SourceCache, SymbolTable
from sc2_lsp.context.workspace import Workspace

logger = logging.getLogger(__name__)

__all__ = ["FileRecord", "IndexStats", "WorkspaceIndex"]

_SOURCE_CACHE_BYTES = 8_000_000
_EDIT_DEBOUNCE_SECONDS = 0.25
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


class WorkspaceIndex:
    """Background, incremental, thread-safe index of the workspace roots."""

    def __init__(self, roots: Sequence[Path], settings: RepoContextSettings) -> None:
        self.settings = settings
        self.workspace = Workspace(roots, settings)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._table = SymbolTable()
        self._facts = LayoutFacts(self.workspace.roots)
        self._sources = SourceCache(_SOURCE_CACHE_BYTES)
        self._open: dict[Path, tuple[str, str | None]] = {}
        # Buffer edits wait until typing pauses: re-parsing on every keystroke would compete
        # with completion requests for the interpreter.
        self._events = EventQueue(_EDIT_DEBOUNCE_SECONDS)
        self._resolved: dict[Path, tuple[FileSymbols, list[ResolvedImport]]] = {}
        self._walk_complete = False
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._active_requests = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the background walk; returns at once."""
        if self._thread is not None or not self.settings.enabled:
            if not self.settings.enabled:
                self._ready.set()
            return
        self._thread = threading.Thread(target=self._run, name="sc2-lsp-index", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the background thread promptly (it checks between files)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the initial walk and all queued events are processed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._ready.wait(timeout):
            return False
        while True:
            with self._lock:
                if self._events.idle or self._stop.is_set():
                    return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    @contextlib.contextmanager
    def request_scope(self) -> Iterator[None]:
        """Mark a latency-sensitive request; the indexer yields the CPU while one runs."""
        with self._lock:
            self._active_requests += 1
        try:
            yield
        finally:
            with self._lock:
                self._active_requests -= 1

    # ------------------------------------------------------------------ events

    def is_allowed(self, path: Path) -> bool:
        """Inside a root, not ignored, not secret-like, not a link out of the workspace."""
        return self.workspace.is_allowed(path)

    def document_changed(self, path: Path, text: str, language_id: str | None = None) -> None:
        """An editor buffer was opened, changed or saved; re-extracted in the background."""
        resolved = _resolve(path)
        if resolved is None or not self.is_allowed(resolved):
            return
        with self._wake:
            self._open[resolved] = (text, language_id)
            if resolved in self._table.records:
                self._events.defer_edit(resolved)
            else:
                self._events.push(resolved, "open", front=True)
            self._wake.notify_all()

    def document_closed(self, path: Path) -> None:
        resolved = _resolve(path)
        if resolved is None:
            return
        with self._wake:
            self._events.cancel_edit(resolved)
            if self._open.pop(resolved, None) is not None:
                self._events.push(resolved, "disk", front=True)
                self._wake.notify_all()

    def files_changed(
        self, created: Sequence[Path], changed: Sequence[Path], deleted: Sequence[Path]
    ) -> None:
        """File-watcher events; only the named files (or an ignore file's subtree) are redone."""
        if created or deleted:
            self.workspace.forget_verdicts()
        with self._wake:
            for path in deleted:
                self._events.push(Path(os.path.normpath(path)), "delete", front=False)
            for path in [*created, *changed]:
                resolved = Path(os.path.normpath(path))
                ignore_file = resolved.name in (".gitignore", "exclude")
                self._events.push(resolved, "ignore" if ignore_file else "disk", front=False)
            self._wake.notify_all()

    def prioritise(self, paths: Sequence[Path]) -> None:
        """Index these files next (a request wanted them before the walk got there)."""
        with self._wake:
            for path in paths:
                if path not in self._table.records and path not in self._events:
                    self._events.push(path, "disk", front=True)
            self._wake.notify_all()

    # ------------------------------------------------------------------ reads for requests

    def record(self, path: Path) -> FileRecord | None:
        with self._lock:
            return self._table.records.get(path)

    def definitions_named(self, name: str) -> list[tuple[FileRecord, int]]:
        """Every indexed definition called `name`, as (file record, definition index)."""
        with self._lock:
            return self._table.definitions_named(name)

    def definitions_named_many(
        self, names: Sequence[str]
    ) -> dict[str, list[tuple[FileRecord, int]]]:
        """`definitions_named` for several names under one lock; names without any omitted."""
        found: dict[str, list[tuple[FileRecord, int]]] = {}
        with self._lock:
            for name in names:
                if self._table.count_named(name):
                    found[name] = self._table.definitions_named(name)
        return found

    def current_record(self, path: Path, text: str, language: str | None) -> FileRecord | None:
        """The record for the buffer being completed; parsed now only if never seen before."""
        with self._lock:
            record = self._table.records.get(path)
            open_entry = self._open.get(path)
        if record is not None and record.symbols is not None:
            stale = open_entry is None or open_entry[0] is not text
            if stale and record.text_hash != hash(text):
                self.document_changed(path, text, language)
            return record
        if not self.is_allowed(path) or len(text) > _INLINE_PARSE_LIMIT:
            return record
        fresh = self._extract_open(path, text, language)
        with self._lock:
            self._store(fresh)
        return fresh

    def resolved_imports(self, record: FileRecord) -> list[ResolvedImport]:
        """The record's imports resolved to workspace files (cached per record version)."""
        if record.symbols is None:
            return []
        with self._lock:
            cached = self._resolved.get(record.path)
        if cached is not None and cached[0] is record.symbols:
            return cached[1]
        resolved = resolve_imports(record.path, record.symbols, self.layout(), self)
        with self._lock:
            if len(self._resolved) > 4096:
                self._resolved.clear()
            self._resolved[record.path] = (record.symbols, resolved)
        return resolved

    def source_for(self, record: FileRecord) -> tuple[FileRecord, bytes] | None:
        """Bytes matching `record`'s spans; re-extracts the file if it changed on disk."""
        if record.source is not None:
            return record, record.source
        with self._lock:
            cached = self._sources.get(record.path, record.mtime_ns, record.size)
        if cached is not None:
            return record, cached
        file_text = self.workspace.read(record.path)
        if file_text is None:
            return None
        data = file_text.text.encode("utf-8")
        current = record
        if (file_text.mtime_ns, file_text.size) != (record.mtime_ns, record.size):
            language = record.language
            symbols = extract_symbols(language, data) if language else None
            current = FileRecord(record.path, language, symbols, file_text.mtime_ns, file_text.size)
            with self._lock:
                if record.path not in self._open:
                    self._store(current)
        with self._lock:
            self._sources.put(current.path, current.mtime_ns, current.size, data)
        return current, data

    def read_text(self, path: Path) -> str | None:
        """Text of an allowed file: the open buffer if any, else from disk (filters applied)."""
        with self._lock:
            entry = self._open.get(path)
        if entry is not None:
            return entry[0]
        file_text = self.workspace.read(path)
        return None if file_text is None else file_text.text

    def layout(self) -> ProjectLayout:
        with self._lock:
            return self._facts.layout()

    @property
    def walk_complete(self) -> bool:
        return self._walk_complete

    @property
    def stats(self) -> IndexStats:
        with self._lock:
            table = self._table
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
                + self._sources.total_bytes
            )
            return IndexStats(
                files=len(table.records),
                parsed_files=len(parsed),
                definitions=table.definition_count,
                pending_events=len(self._events),
                walk_complete=self._walk_complete,
                approx_bytes=approx,
            )

    # ------------------------------------------------------------------ FileOracle

    def is_file(self, path: Path) -> bool:
        with self._lock:
            if path in self._table.records:
                return True
            if self._walk_complete:
                return False
        return os.path.isfile(path) and self.is_allowed(path)

    def files_in(self, directory: Path) -> Sequence[Path]:
        with self._lock:
            known = self._table.files_in(directory)
            if self._walk_complete:
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
            if os.path.isfile(directory / name) and self.is_allowed(directory / name)
        ]

    def files_named(self, name: str) -> Sequence[Path]:
        with self._lock:
            return self._table.files_named(name)

    def read_small_text(self, path: Path) -> str | None:
        if not self.is_file(path):
            return None
        return self.read_text(path)

    # ------------------------------------------------------------------ background thread

    def _run(self) -> None:
        walker: Iterator[Path] | None = self.workspace.walk()
        walked = 0
        try:
            while not self._stop.is_set():
                self._yield_to_requests()
                if self._process_one_event():
                    continue
                if walker is not None:
                    path = next(walker, None)
                    if path is None or walked >= self.settings.max_files:
                        if path is not None:
                            logger.info("workspace index stopped at %d files", walked)
                        walker = None
                        self._walk_complete = True
                        with self._lock:
                            self._facts.invalidate()
                        self._ready.set()
                        continue
                    walked += 1
                    if path not in self._table.records:
                        self._index_from_disk(path, walking=True)
                    continue
                with self._wake:
                    if not self._events.has_due and not self._stop.is_set():
                        self._wake.wait(timeout=self._events.seconds_until_due(1.0))
        except Exception:
            logger.exception("workspace indexer crashed; repository context is partial")
        finally:
            self._walk_complete = True
            self._ready.set()

    def _yield_to_requests(self) -> None:
        # One Python thread at a time runs: while a completion request gathers context the
        # indexer pauses, so the request never waits out a full GIL switch interval per file.
        spins = 0
        while self._active_requests and not self._stop.is_set() and spins < 200:
            time.sleep(0.0005)
            spins += 1

    def _process_one_event(self) -> bool:
        with self._lock:
            event = self._events.pop()
            if event is None:
                return False
            path, action = event
            self._events.busy = True
        try:
            if action == "open":
                self._index_open(path)
            elif action == "delete":
                self._remove(path)
                self._forget_dir(path)
            elif action == "ignore":
                self.workspace.forget(path)
                self._rescan(path.parent if path.name == ".gitignore" else None)
            else:
                self._index_from_disk(path, walking=False)
        except Exception:
            logger.warning("indexing %s failed", path, exc_info=True)
        finally:
            with self._lock:
                self._events.busy = False
        return True

    def _index_open(self, path: Path) -> None:
        with self._lock:
            entry = self._open.get(path)
        if entry is None:
            return
        text, language_id = entry
        record = self._extract_open(path, text, language_id)
        with self._lock:
            if self._open.get(path) is entry:
                self._store(record)
        targets = [r.target for r in self.resolved_imports(record)]
        self.prioritise(targets)

    def _extract_open(self, path: Path, text: str, language_id: str | None) -> FileRecord:
        language = structure_language(language_id, path)
        data = text.encode("utf-8", errors="replace")
        symbols = extract_symbols(language, data) if language else None
        identifiers = used_identifiers(text, symbols)
        return FileRecord(
            path, language, symbols, 0, len(data), data, identifiers, text_hash=hash(text)
        )

    def _index_from_disk(self, path: Path, *, walking: bool) -> None:
        with self._lock:
            if path in self._open:
                return
        if not walking and not self.is_allowed(path):
            self._remove(path)
            return
        try:
            info = path.lstat()
        except OSError:
            self._remove(path)
            return
        if not walking:
            with self._lock:
                known = self._table.records.get(path)
            if (
                known is not None
                and known.source is None
                and (known.mtime_ns, known.size) == (info.st_mtime_ns, info.st_size)
            ):
                # Unchanged since it was read: a buffer closed without edits, a repeated event.
                return
        if stat.S_ISDIR(info.st_mode) and not walking:
            # A created directory (checkout, unzip): index what it holds.
            for inner in self.workspace.walk_under(path):
                if self._stop.is_set():
                    return
                self._index_from_disk(inner, walking=True)
            return
        # Links are skipped like in the walk: their target is indexed under its own path.
        if not stat.S_ISREG(info.st_mode) or not self.workspace.worth_reading(path, info):
            self._remove(path)
            return
        language = structure_language(None, path)
        self._note_layout_file(path)
        if language is None:
            with self._lock:
                self._store(FileRecord(path, None, None, info.st_mtime_ns, info.st_size))
            return
        file_text = self.workspace.read(path)
        if file_text is None:
            self._remove(path)
            return
        symbols = extract_symbols(language, file_text.text.encode("utf-8"))
        record = FileRecord(path, language, symbols, file_text.mtime_ns, file_text.size)
        with self._lock:
            if path not in self._open:
                self._store(record)

    def _rescan(self, directory: Path | None) -> None:
        with self._lock:
            known = list(self._table.records)
        for path in known:
            if (directory is None or directory in path.parents) and not self.is_allowed(path):
                self._remove(path)
        walker = (
            self.workspace.walk() if directory is None else self.workspace.walk_under(directory)
        )
        for path in walker:
            if self._stop.is_set():
                return
            if path not in self._table.records:
                self._index_from_disk(path, walking=True)

    # ------------------------------------------------------------------ table maintenance

    def _store(self, record: FileRecord) -> None:
        """Replace the record for `record.path`; caller holds the lock."""
        self._sources.drop(record.path)
        if self._table.store(record) and self._walk_complete:
            # A new file can satisfy imports that resolved to nothing before.
            self._resolved.clear()
        self._facts.note_record(record)

    def _remove(self, path: Path) -> None:
        with self._lock:
            self._table.remove(path)
            self._sources.drop(path)
            self._resolved.clear()

    def _forget_dir(self, path: Path) -> None:
        # A deleted directory arrives as one event for the directory itself.
        with self._lock:
            doomed = [p for p in self._table.records if path in p.parents]
        for victim in doomed:
            self._remove(victim)
        if path.name in LAYOUT_FILES:
            with self._lock:
                self._facts.forget_file(path)
                self._resolved.clear()

    def _note_layout_file(self, path: Path) -> None:
        if path.name not in LAYOUT_FILES:
            return
        text = self.read_text(path) if path.name in LAYOUT_FILES_READ else None
        with self._lock:
            self._facts.note_file(path, text)
            self._resolved.clear()


def _resolve(path: Path) -> Path | None:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return None
