"""What the packer selects from: ranked definitions and listings, and per file what it chose.

Owns `DefinitionCandidate` (one definition, scored), `Listing` (the signatures of one class or
module a member completion picks from) and `PackedFile`, the one record per file of what the
packer selected there and what that costs.  Plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sc2_lsp.context.index import FileRecord
from sc2_lsp.context.symbols import FileSymbols

DefinitionSource = Literal["import", "definition"]


@dataclass(frozen=True)
class DefinitionCandidate:
    record: FileRecord
    index: int
    score: float
    source: DefinitionSource
    name: str
    # A class-like definition shown by its header alone (upgraded to its outline if room).
    brief: bool = False


@dataclass(frozen=True)
class Listing:
    """Definitions of one class (`container`) or of a module's top level (None), best first.

    Shown as signatures under one shared class header: the API a member completion picks from.
    """

    record: FileRecord
    container: int | None
    positions: tuple[int, ...]
    score: float
    source: DefinitionSource


@dataclass
class PackedFile:
    """One file's part of the selection, with the bytes its definitions' spans index."""

    record: FileRecord
    data: bytes
    symbols: FileSymbols
    """The record's symbols: files without any are never loaded."""
    selected: bool = False
    """Something was selected from it (its `<file_sep>` header is paid), even if since dropped."""
    selection: dict[int, bool] = field(default_factory=dict)
    """Definition index → shown in full (else as its signature)."""
    origin: DefinitionSource = "definition"
    score: float = 0.0
    brief: set[int] = field(default_factory=set)
    """Class-like definitions shown by their header alone."""
    headers: set[int] = field(default_factory=set)
    """Containers whose header is already paid for by a selected member."""
    terse: set[int] = field(default_factory=set)
    """Listed definitions, shown without their documentation."""
    listed: int | None = None
    """The file's exact token cost while it holds nothing but listings."""

    @property
    def path(self) -> Path:
        return self.record.path

    def note_selected(self, source: DefinitionSource, score: float) -> None:
        """Something from `source` was selected here: imports win the file's origin."""
        self.selected = True
        if self.origin != "import":
            self.origin = source
        self.score = max(self.score, score)


def packed(loaded: tuple[FileRecord, bytes] | None) -> PackedFile | None:
    """A file loaded as `WorkspaceIndex.source_for` returns it; None without symbols."""
    if loaded is None or loaded[0].symbols is None:
        return None
    return PackedFile(loaded[0], loaded[1], loaded[0].symbols)
