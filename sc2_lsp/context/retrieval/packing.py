"""Packing ranked definitions into a token allowance: signatures first, then bodies.

Owns `DefinitionPacker`, which keeps the per-file selection of definitions (index → shown in
full?) across the import and definition sources, charges each file's `<file_sep>` header and
each class header shared by selected members once, upgrades signatures to full bodies (a
class shown by its header alone to its outline) in rank order while the allowance lasts, and
records which line ranges are already shown so later sources (recent, similar) don't repeat
them.  Token counts are exact (the caller's counter, memoised) but only taken for text that
might fit: a cheap lower bound rules out the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sc2_lsp.context.index import FileRecord, WorkspaceIndex
from sc2_lsp.context.retrieval.focus import Focus
from sc2_lsp.context.retrieval.render import RenderCache, RenderedDefinition, render_selection

DefinitionSource = Literal["import", "definition"]
# A later snippet overlapping already-shown lines by this fraction is a repeat.
_COVERED_FRACTION = 0.5
# No StarCoder2-style BPE token spans more bytes than this in source code, so len/this is a
# lower bound on a text's token count: text whose bound exceeds the room is not counted.
_MAX_BYTES_PER_TOKEN = 8
# Typical characters per token of signature lines: a listing is sized with this estimate,
# then counted once exactly and trimmed if the estimate was short.
_LISTING_CHARS_PER_TOKEN = 3.0
# Text estimated (at the typical rate) to need this much more than the room is not counted:
# it would almost never fit, and counting is the costly part of packing.
_HOPELESS = 1.3
_LISTING_RECOUNTS = 3


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
class _Accepted:
    path: Path
    index: int
    record: FileRecord
    data: bytes
    signature: RenderedDefinition
    cost: int
    brief: bool
    wrapped: bool


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
        self._brief: dict[Path, set[int]] = {}
        # Containers whose header is already paid for by a selected member, per file.
        self._headers: dict[Path, set[int]] = {}
        # Exact token cost of files holding nothing but listings so far.
        self._listed: dict[Path, int] = {}
        # Listed definitions, shown without their documentation.
        self._terse: dict[Path, set[int]] = {}

    def pack_listing(self, listing: Listing, allowance: float) -> int:
        """As many of `listing`'s signatures as fit `allowance`, in order; returns tokens spent.

        Sized by an estimate, then the file's text is counted once (trimming if needed): one
        tokenizer call for dozens of one-line signatures.
        """
        if allowance < 2:
            return 0
        record = listing.record
        path = record.path
        loaded = self._sources.get(path) or self._index.source_for(record)
        if loaded is None or loaded[0] is not record or record.symbols is None:
            return 0
        data = loaded[1]
        symbols = record.symbols
        selection = self._selection.get(path, {})
        if selection and path not in self._listed:
            return 0
        container = listing.container
        if container is not None and container in selection:
            return 0
        previous = self._listed.get(path, 0)
        estimate = previous or self._header_tokens(path) + 4
        chosen: list[int] = []
        for position in listing.positions:
            if position in selection or not 0 <= position < len(symbols.definition_rows):
                continue
            definition = symbols.definition(position)
            if definition.parent != container and container is not None:
                continue
            if path == self._focus.path and self._focus.overlaps_window(
                definition.start_line, definition.end_line + 1
            ):
                continue
            signature = self._renders.render(
                data,
                symbols,
                position,
                full=False,
                max_lines=self._max_lines,
                wrap=False,
                brief=definition.is_container,
                terse=True,
            )
            if signature is None or self._focus.repeats_window(signature.text):
                continue
            if self.covers(path, signature.start_line, signature.end_line):
                continue
            cost = math.ceil(len(signature.text) / _LISTING_CHARS_PER_TOKEN) + 1
            if estimate + cost - previous > allowance:
                break
            estimate += cost
            chosen.append(position)
        average = max(1.0, (estimate - previous) / max(1, len(chosen)))
        for _ in range(_LISTING_RECOUNTS):
            if not chosen:
                return 0
            trial = dict(selection)
            trial.update(dict.fromkeys(chosen, False))
            brief = frozenset(p for p in trial if symbols.definition(p).is_container)
            text = self._file_text(data, record, trial, brief, frozenset(trial))
            total = self._tokens(text) + self._header_tokens(path) if text else 0
            if total - previous <= allowance:
                break
            drop = max(1, math.ceil((total - previous - allowance) / average))
            chosen = chosen[: max(0, len(chosen) - drop)]
        else:
            return 0
        file_selection = self._selection.setdefault(path, {})
        for position in chosen:
            file_selection[position] = False
            self._terse.setdefault(path, set()).add(position)
            definition = symbols.definition(position)
            if definition.is_container:
                self._brief.setdefault(path, set()).add(position)
            if container is not None:
                self._headers.setdefault(path, set()).add(container)
            self.claim(path, definition.start_line, definition.start_line + 1)
        self._sources[path] = (record, data)
        self._origin[path] = listing.source if self._origin.get(path) != "import" else "import"
        self._scores[path] = max(self._scores.get(path, 0.0), listing.score)
        self._listed[path] = total
        return total - previous

    def pack(self, candidates: list[DefinitionCandidate], allowance: float) -> int:
        """Select from `candidates` (any order) within `allowance` tokens; returns tokens spent."""
        spent = 0
        accepted: list[_Accepted] = []
        ordered = sorted(candidates, key=lambda c: (-c.score, str(c.record.path), c.index))
        for candidate in ordered:
            if allowance - spent < 2:
                break
            if _surely_too_big(candidate, allowance - spent):
                continue
            loaded = self._load(candidate)
            if loaded is None:
                continue
            record, data, position = loaded
            path = record.path
            selection = self._selection.get(path, {})
            if position in selection or record.symbols is None:
                continue
            definition = record.symbols.definitions[position]
            parent = definition.parent
            if parent is not None and parent in selection:
                brief = self._brief.get(path, set())
                if parent not in brief:
                    if not selection[parent]:
                        spent += self._expand_member(record, data, position, allowance - spent)
                    continue
                # The class was shown by its header alone: that header now heads its members.
                brief.discard(parent)
                del selection[parent]
                self._headers.setdefault(path, set()).add(parent)
            if path == self._focus.path and self._focus.overlaps_window(
                definition.start_line, definition.end_line + 1
            ):
                continue
            if position in self._headers.get(path, ()):
                # Its members are listed under its header already.
                continue
            # A member whose class header is already shown is charged without it.
            wrapped = parent is None or parent not in self._headers.get(path, ())
            signature = self._renders.render(
                data,
                record.symbols,
                position,
                full=False,
                max_lines=self._max_lines,
                wrap=wrapped,
                brief=candidate.brief,
            )
            if signature is None or self._focus.repeats_window(signature.text):
                continue
            if self.covers(path, signature.start_line, signature.end_line):
                continue
            room = allowance - spent
            if _hopeless(signature.text, room):
                continue
            cost = self._tokens(signature.text) + 1
            if path not in self._selection:
                cost += self._header_tokens(path)
            if cost > room:
                continue
            spent += cost
            self._listed.pop(path, None)
            self._selection.setdefault(path, {})[position] = False
            if candidate.brief:
                self._brief.setdefault(path, set()).add(position)
            if parent is not None and parent not in selection:
                self._headers.setdefault(path, set()).add(parent)
            self._sources[path] = (record, data)
            if self._origin.get(path) != "import":
                self._origin[path] = candidate.source
            self._scores[path] = max(self._scores.get(path, 0.0), candidate.score)
            accepted.append(
                _Accepted(path, position, record, data, signature, cost, candidate.brief, wrapped)
            )
        for item in accepted:
            spent += self._upgrade(item, allowance - spent)
        for item in accepted:
            self.claim(item.path, item.signature.start_line, item.signature.end_line)
        return spent

    def _upgrade(self, item: _Accepted, room: float) -> int:
        if item.record.symbols is None or room < 2:
            return 0
        if self._selection[item.path].get(item.index) is not False:
            return 0
        if item.brief:
            # A class shown by its header: its outline (members' signatures) is the next step.
            full = self._renders.render(
                item.data, item.record.symbols, item.index, full=False, max_lines=self._max_lines
            )
        else:
            full = self._renders.render(
                item.data,
                item.record.symbols,
                item.index,
                full=True,
                max_lines=self._max_lines,
                wrap=item.wrapped,
            )
        if (
            full is None
            or full.text == item.signature.text
            or self._focus.repeats_window(full.text)
        ):
            return 0
        if _hopeless(full.text, room + item.cost):
            return 0
        delta = self._tokens(full.text) - self._tokens(item.signature.text)
        if delta > room:
            return 0
        if item.brief:
            self._brief[item.path].discard(item.index)
        else:
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
        if _hopeless(full.text, room + len(signature.text) / _LISTING_CHARS_PER_TOKEN):
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
            pieces = render_selection(
                data,
                record.symbols,
                selection,
                max_lines=self._max_lines,
                brief=frozenset(self._brief.get(path, ())),
                terse=frozenset(self._terse.get(path, ())),
            )
            text = _joined(pieces)
            if not text:
                continue
            listed = self._listed.get(path)
            if listed is not None:
                tokens = listed
            else:
                # The pieces were (mostly) counted while packing: their sum, plus one token per
                # joining newline, bounds the joined text's count without tokenizing it again.
                tokens = self._header_tokens(path) + text.count("\n\n")
                tokens += sum(self._tokens(piece.text) + 1 for piece in pieces)
            names = sorted(
                selection,
                key=lambda i: record.symbols.definitions[i].start_byte if record.symbols else i,
            )
            symbol = ", ".join(dict.fromkeys(record.symbols.definitions[i].name for i in names))
            result.append(
                (path, text, self._origin[path], self._scores[path], tokens, symbol or None)
            )
        return result

    def _file_text(
        self,
        data: bytes,
        record: FileRecord,
        selection: dict[int, bool],
        brief: frozenset[int],
        terse: frozenset[int],
    ) -> str:
        if record.symbols is None:
            return ""
        pieces = render_selection(
            data, record.symbols, selection, max_lines=self._max_lines, brief=brief, terse=terse
        )
        return _joined(pieces)


def _joined(pieces: list[RenderedDefinition]) -> str:
    """A file's rendered pieces as one snippet: a blank line where source lines are skipped."""
    parts: list[str] = []
    previous_end: int | None = None
    for piece in pieces:
        if previous_end is not None and piece.start_line > previous_end:
            parts.append("")
        parts.append(piece.text.rstrip("\n"))
        previous_end = piece.end_line
    return "\n".join(parts) + "\n" if parts else ""


def _hopeless(text: str, room: float) -> bool:
    return len(text) > room * _LISTING_CHARS_PER_TOKEN * _HOPELESS


def _surely_too_big(candidate: DefinitionCandidate, room: float) -> bool:
    """Whether even the signature's own span (no docs, no members) cannot fit `room`.

    Decided from the index alone, before the file is read.
    """
    symbols = candidate.record.symbols
    if symbols is None or not 0 <= candidate.index < len(symbols.definition_rows):
        return False
    definition = symbols.definition(candidate.index)
    stop = definition.body_start if definition.body_start is not None else definition.end_byte
    return stop - definition.start_byte > room * _MAX_BYTES_PER_TOKEN


def _name_at(candidate: DefinitionCandidate) -> str:
    symbols = candidate.record.symbols
    if symbols is None or candidate.index >= len(symbols.definitions):
        return candidate.name
    return symbols.definitions[candidate.index].name
