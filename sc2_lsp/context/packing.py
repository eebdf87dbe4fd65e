"""Packing ranked definitions into a token allowance: signatures first, then bodies.

Owns `DefinitionPacker`, which keeps the per-file selection of definitions (index → shown in
full?) across the import and definition sources, charges each file's `<file_sep>` header once,
upgrades signatures to full bodies in rank order while the allowance lasts, and records which
line ranges are already shown so later sources (recent, similar) don't repeat them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sc2_lsp.context.focus import Focus
from sc2_lsp.context.index import FileRecord, WorkspaceIndex
from sc2_lsp.context.render import RenderCache, RenderedDefinition, render_selection

DefinitionSource = Literal["import", "definition"]
# A later snippet overlapping already-shown lines by this fraction is a repeat.
_COVERED_FRACTION = 0.5


@dataclass(frozen=True)
class DefinitionCandidate:
    record: FileRecord
    index: int
    score: float
    source: DefinitionSource
    name: str


@dataclass
class _Accepted:
    path: Path
    index: int
    record: FileRecord
    data: bytes
    signature: RenderedDefinition
    cost: int


class DefinitionPacker:
    """Selection of definitions shared by the import and definition sources."""

    def __init__(
        self,
        index: WorkspaceIndex,
        focus: Focus,
        tokens: Callable[[str], int],
        header_tokens: Callable[[Path], int],
        renders: RenderCache,
    ) -> None:
        self._index = index
        self._renders = renders
        self._focus = focus
        self._tokens = tokens
        self._header_tokens = header_tokens
        self._max_lines = index.settings.max_definition_lines
        self._selection: dict[Path, dict[int, bool]] = {}
        self._sources: dict[Path, tuple[FileRecord, bytes]] = {}
        self._origin: dict[Path, DefinitionSource] = {}
        self._scores: dict[Path, float] = {}
        self._claimed: dict[Path, list[tuple[int, int]]] = {}

    def pack(self, candidates: list[DefinitionCandidate], allowance: float) -> int:
        """Select from `candidates` (any order) within `allowance` tokens; returns tokens spent."""
        spent = 0
        accepted: list[_Accepted] = []
        ordered = sorted(candidates, key=lambda c: (-c.score, str(c.record.path), c.index))
        for candidate in ordered:
            loaded = self._load(candidate)
            if loaded is None:
                continue
            record, data, position = loaded
            path = record.path
            selection = self._selection.get(path, {})
            if position in selection or record.symbols is None:
                continue
            definition = record.symbols.definitions[position]
            if definition.parent is not None and definition.parent in selection:
                if not selection[definition.parent]:
                    spent += self._expand_member(record, data, position, allowance - spent)
                continue
            if path == self._focus.path and self._focus.overlaps_window(
                definition.start_line, definition.end_line + 1
            ):
                continue
            signature = self._renders.render(
                data, record.symbols, position, full=False, max_lines=self._max_lines
            )
            if signature is None or self._focus.repeats_window(signature.text):
                continue
            if self.covers(path, signature.start_line, signature.end_line):
                continue
            cost = self._tokens(signature.text) + 1
            if path not in self._selection:
                cost += self._header_tokens(path)
            if spent + cost > allowance:
                continue
            spent += cost
            self._selection.setdefault(path, {})[position] = False
            self._sources[path] = (record, data)
            if self._origin.get(path) != "import":
                self._origin[path] = candidate.source
            self._scores[path] = max(self._scores.get(path, 0.0), candidate.score)
            accepted.append(_Accepted(path, position, record, data, signature, cost))
        for item in accepted:
            spent += self._upgrade(item, allowance - spent)
        for item in accepted:
            self.claim(item.path, item.signature.start_line, item.signature.end_line)
        return spent

    def _upgrade(self, item: _Accepted, room: float) -> int:
        if item.record.symbols is None:
            return 0
        full = self._renders.render(
            item.data, item.record.symbols, item.index, full=True, max_lines=self._max_lines
        )
        if (
            full is None
            or full.text == item.signature.text
            or self._focus.repeats_window(full.text)
        ):
            return 0
        delta = self._tokens(full.text) - self._tokens(item.signature.text)
        if delta > room:
            return 0
        self._selection[item.path][item.index] = True
        return delta

    def _expand_member(self, record: FileRecord, data: bytes, position: int, room: float) -> int:
        """Show a member in full inside its container's already-selected outline."""
        if record.symbols is None:
            return 0
        full = self._renders.render(
            data, record.symbols, position, full=True, max_lines=self._max_lines, wrap=False
        )
        signature = self._renders.render(
            data, record.symbols, position, full=False, max_lines=self._max_lines, wrap=False
        )
        if full is None or signature is None or self._focus.repeats_window(full.text):
            return 0
        delta = self._tokens(full.text) - self._tokens(signature.text)
        if delta > room:
            return 0
        self._selection[record.path][position] = True
        return delta

    def _load(self, candidate: DefinitionCandidate) -> tuple[FileRecord, bytes, int] | None:
        path = candidate.record.path
        loaded = self._sources.get(path)
        if loaded is None:
            fetched = self._index.source_for(candidate.record)
            if fetched is None:
                return None
            loaded = fetched
        record, data = loaded
        if record.symbols is None:
            return None
        position = candidate.index
        definitions = record.symbols.definitions
        if record is not candidate.record and (
            position >= len(definitions) or definitions[position].name != _name_at(candidate)
        ):
            # The file changed since ranking; find the same name in the fresh symbols.
            matches = [i for i, d in enumerate(definitions) if d.name == _name_at(candidate)]
            if not matches:
                return None
            position = matches[0]
        if position >= len(definitions):
            return None
        self._sources[path] = (record, data)
        return record, data, position

    def covers(self, path: Path, start_line: int, end_line: int) -> bool:
        """Whether lines [start_line, end_line) of `path` are mostly shown already."""
        size = max(1, end_line - start_line)
        for claimed_start, claimed_end in self._claimed.get(path, ()):
            overlap = min(end_line, claimed_end) - max(start_line, claimed_start)
            if overlap / size >= _COVERED_FRACTION:
                return True
        return False

    def claim(self, path: Path, start_line: int, end_line: int) -> None:
        self._claimed.setdefault(path, []).append((start_line, end_line))

    def snippets(self) -> list[tuple[Path, str, DefinitionSource, float, int, str | None]]:
        """(path, text, source, score, tokens incl. header, symbols) per selected file."""
        result: list[tuple[Path, str, DefinitionSource, float, int, str | None]] = []
        for path, selection in self._selection.items():
            record, data = self._sources[path]
            if record.symbols is None or not selection:
                continue
            pieces = render_selection(data, record.symbols, selection, max_lines=self._max_lines)
            if not pieces:
                continue
            parts: list[str] = []
            previous_end: int | None = None
            for piece in pieces:
                if previous_end is not None and piece.start_line > previous_end:
                    parts.append("")
                parts.append(piece.text.rstrip("\n"))
                previous_end = piece.end_line
            text = "\n".join(parts) + "\n"
            names = sorted(
                selection,
                key=lambda i: record.symbols.definitions[i].start_byte if record.symbols else i,
            )
            symbol = ", ".join(dict.fromkeys(record.symbols.definitions[i].name for i in names))
            tokens = self._tokens(text) + self._header_tokens(path)
            result.append(
                (path, text, self._origin[path], self._scores[path], tokens, symbol or None)
            )
        return result


def _name_at(candidate: DefinitionCandidate) -> str:
    symbols = candidate.record.symbols
    if symbols is None or candidate.index >= len(symbols.definitions):
        return candidate.name
    return symbols.definitions[candidate.index].name
