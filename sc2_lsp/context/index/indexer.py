"""The indexer: the one background thread that keeps the index current, and what it is told.

Owns `Indexer`: event intake (editor buffers opened, changed and closed; file-watcher
creations, changes and deletions; files a request wants next) and the thread that first walks
the workspace, then serves those events, open buffers first, yielding the CPU while a
completion request gathers context.  Per file it keeps only the extracted symbols and stat;
source bytes stay for open buffers (and in a small LRU of recently rendered files).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sc2_lsp.context.index.state import IndexState, extract_buffer
from sc2_lsp.context.index.table import FileRecord
from sc2_lsp.context.index.workspace import IGNORE_FILES
from sc2_lsp.context.languages import extract_symbols, structure_language

logger = logging.getLogger(__name__)


class Indexer:
    """Writes the index: one thread, fed with file events."""

    def __init__(self, state: IndexState) -> None:
        self._state = state
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the background walk; returns at once."""
        if self._thread is not None or not self._state.settings.enabled:
            if not self._state.settings.enabled:
                self._ready.set()
            return
        self._thread = threading.Thread(target=self._run, name="sc2-lsp-index", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the background thread promptly (it checks between files)."""
        self._stop.set()
        with self._state.wake:
            self._state.wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the initial walk and all queued events are processed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._ready.wait(timeout):
            return False
        while True:
            with self._state.lock:
                if self._state.events.idle or self._stop.is_set():
                    return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    @contextlib.contextmanager
    def request_scope(self) -> Iterator[None]:
        """Mark a latency-sensitive request; the indexer yields the CPU while one runs."""
        with self._state.lock:
            self._state.active_requests += 1
        try:
            yield
        finally:
            with self._state.lock:
                self._state.active_requests -= 1

    # ------------------------------------------------------------------ events

    def document_changed(self, path: Path, text: str, language_id: str | None = None) -> None:
        """An editor buffer was opened, changed or saved; re-extracted in the background."""
        state = self._state
        resolved = _resolve(path)
        if resolved is None or not state.workspace.is_allowed(resolved):
            return
        with state.wake:
            state.open[resolved] = (text, language_id)
            if resolved in state.table.records:
                state.events.defer_edit(resolved)
            else:
                state.events.push(resolved, "open", front=True)
            state.wake.notify_all()

    def document_closed(self, path: Path) -> None:
        state = self._state
        resolved = _resolve(path)
        if resolved is None:
            return
        with state.wake:
            state.events.cancel_edit(resolved)
            if state.open.pop(resolved, None) is not None:
                state.events.push(resolved, "disk", front=True)
                state.wake.notify_all()

    def files_changed(
        self, created: Sequence[Path], changed: Sequence[Path], deleted: Sequence[Path]
    ) -> None:
        """File-watcher events; only the named files (or an ignore file's subtree) are redone."""
        state = self._state
        if created or deleted:
            state.workspace.forget_verdicts()
        with state.wake:
            for path in deleted:
                state.events.push(Path(os.path.normpath(path)), "delete", front=False)
            for path in [*created, *changed]:
                resolved = Path(os.path.normpath(path))
                ignore_file = resolved.name in (*IGNORE_FILES, "exclude")
                state.events.push(resolved, "ignore" if ignore_file else "disk", front=False)
            state.wake.notify_all()

    def prioritise(self, paths: Sequence[Path]) -> None:
        """Index these files next (a request wanted them before the walk got there)."""
        state = self._state
        with state.wake:
            for path in paths:
                if path not in state.table.records and path not in state.events:
                    state.events.push(path, "disk", front=True)
            state.wake.notify_all()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        walker: Iterator[Path] | None = self._state.workspace.walk()
        walked = 0
        try:
            while not self._stop.is_set():
                self._yield_to_requests()
                if self._process_one_event():
                    continue
                if walker is not None:
                    walker, walked = self._walk_one(walker, walked)
                    continue
                with self._state.wake:
                    events = self._state.events
                    if not events.has_due and not self._stop.is_set():
                        self._state.wake.wait(timeout=events.seconds_until_due(1.0))
        except Exception:
            logger.exception("workspace indexer crashed; repository context is partial")
        finally:
            self._state.walk_complete = True
            self._ready.set()

    def _walk_one(self, walker: Iterator[Path], walked: int) -> tuple[Iterator[Path] | None, int]:
        """Index the walk's next file; (None, count) once the walk is over."""
        path = next(walker, None)
        if path is None or walked >= self._state.settings.max_files:
            if path is not None:
                logger.info("workspace index stopped at %d files", walked)
            self._state.walk_complete = True
            with self._state.lock:
                self._state.facts.invalidate()
            self._ready.set()
            return None, walked
        if path not in self._state.table.records:
            self._index_from_disk(path, walking=True)
        return walker, walked + 1

    def _yield_to_requests(self) -> None:
        # One Python thread at a time runs: while a completion request gathers context the
        # indexer pauses, so the request never waits out a full GIL switch interval per file.
        spins = 0
        while self._state.active_requests and not self._stop.is_set() and spins < 200:
            time.sleep(0.0005)
            spins += 1

    def _process_one_event(self) -> bool:
        state = self._state
        with state.lock:
            event = state.events.pop()
            if event is None:
                return False
            path, action = event
            state.events.busy = True
        try:
            if action == "open":
                self._index_open(path)
            elif action == "delete":
                state.remove(path)
                state.forget_dir(path)
            elif action == "ignore":
                state.workspace.forget(path)
                self._rescan(path.parent if path.name in IGNORE_FILES else None)
            else:
                self._index_from_disk(path, walking=False)
        except Exception:
            logger.warning("indexing %s failed", path, exc_info=True)
        finally:
            with state.lock:
                state.events.busy = False
        return True

    def _index_open(self, path: Path) -> None:
        state = self._state
        with state.lock:
            entry = state.open.get(path)
        if entry is None:
            return
        text, language_id = entry
        record = extract_buffer(path, text, language_id)
        with state.lock:
            if state.open.get(path) is entry:
                state.store(record)
        targets = [r.target for r in state.resolved_imports(record)]
        self.prioritise(targets)

    def _index_from_disk(self, path: Path, *, walking: bool) -> None:
        state = self._state
        with state.lock:
            if path in state.open:
                return
        if not walking and not state.workspace.is_allowed(path):
            state.remove(path)
            return
        try:
            info = path.lstat()
        except OSError:
            state.remove(path)
            return
        if not walking and self._unchanged(path, info):
            return
        if stat.S_ISDIR(info.st_mode) and not walking:
            # A created directory (checkout, unzip): index what it holds.
            for inner in state.workspace.walk_under(path):
                if self._stop.is_set():
                    return
                self._index_from_disk(inner, walking=True)
            return
        # Links are skipped like in the walk: their target is indexed under its own path.
        if not stat.S_ISREG(info.st_mode) or not state.workspace.worth_reading(path, info):
            state.remove(path)
            return
        self._index_file(path, info)

    def _unchanged(self, path: Path, info: os.stat_result) -> bool:
        """Unchanged since it was read: a buffer closed without edits, a repeated event."""
        with self._state.lock:
            known = self._state.table.records.get(path)
        return (
            known is not None
            and known.source is None
            and (known.mtime_ns, known.size) == (info.st_mtime_ns, info.st_size)
        )

    def _index_file(self, path: Path, info: os.stat_result) -> None:
        """Store the record of a regular file worth reading."""
        state = self._state
        language = structure_language(None, path)
        state.note_layout_file(path)
        if language is None:
            with state.lock:
                state.store(FileRecord(path, None, None, info.st_mtime_ns, info.st_size))
            return
        file_text = state.workspace.read(path)
        if file_text is None:
            state.remove(path)
            return
        symbols = extract_symbols(language, file_text.text.encode("utf-8"))
        record = FileRecord(path, language, symbols, file_text.mtime_ns, file_text.size)
        with state.lock:
            if path not in state.open:
                state.store(record)

    def _rescan(self, directory: Path | None) -> None:
        state = self._state
        with state.lock:
            known = list(state.table.records)
        for path in known:
            if (directory is None or directory in path.parents) and not state.workspace.is_allowed(
                path
            ):
                state.remove(path)
        workspace = state.workspace
        walker = workspace.walk() if directory is None else workspace.walk_under(directory)
        for path in walker:
            if self._stop.is_set():
                return
            if path not in state.table.records:
                self._index_from_disk(path, walking=True)


def _resolve(path: Path) -> Path | None:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return None
