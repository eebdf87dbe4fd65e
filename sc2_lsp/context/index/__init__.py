"""The workspace index: per-file symbols and a name → definitions table, kept current.

`WorkspaceIndex` is the read side (`IndexQueries`, what completion requests ask) wired to its
writer (`Indexer`, one background thread fed with editor and file-watcher events), over one
`IndexState`.  The rest of the package: `workspace` (which files may be read, and reading
them), `table` (file records and lookups), `events` (the indexer's queue), `layout`
(build-system facts for import resolution).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from sc2_lsp.context.index.indexer import Indexer
from sc2_lsp.context.index.queries import IndexQueries, IndexStats
from sc2_lsp.context.index.state import IndexState
from sc2_lsp.context.index.table import FileRecord
from sc2_lsp.context.index.workspace import Workspace
from sc2_lsp.context.settings import RepoContextSettings

__all__ = ["FileRecord", "IndexStats", "Workspace", "WorkspaceIndex"]

_EDIT_DEBOUNCE_SECONDS = 0.25


class WorkspaceIndex(IndexQueries):
    """Background, incremental, thread-safe index of the workspace roots."""

    def __init__(self, roots: Sequence[Path], settings: RepoContextSettings) -> None:
        state = IndexState(Workspace(roots, settings), settings, _EDIT_DEBOUNCE_SECONDS)
        self.indexer = Indexer(state)
        super().__init__(state, self.indexer)

    # The indexer's lifecycle and event intake, for the owner of the index.

    def start(self) -> None:
        self.indexer.start()

    def close(self) -> None:
        self.indexer.close()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self.indexer.wait_ready(timeout)

    def request_scope(self) -> contextlib.AbstractContextManager[None]:
        return self.indexer.request_scope()

    def document_changed(self, path: Path, text: str, language_id: str | None = None) -> None:
        self.indexer.document_changed(path, text, language_id)

    def document_closed(self, path: Path) -> None:
        self.indexer.document_closed(path)

    def files_changed(
        self, created: Sequence[Path], changed: Sequence[Path], deleted: Sequence[Path]
    ) -> None:
        self.indexer.files_changed(created, changed, deleted)

    def prioritise(self, paths: Sequence[Path]) -> None:
        self.indexer.prioritise(paths)
