"""Packing ranked definitions into a token allowance: signatures first, then bodies.

Owns `DefinitionPacker`, which keeps one record per file (`PackedFile`) of the definitions
selected from it (index → shown in full?) across the import and definition sources, charges
each file's `<file_sep>` header and each class header shared by selected members once, upgrades signatures to full bodies (a
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

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.retrieval.caches import RenderCache
from sc2_lsp.context.retrieval.focus import Focus
from sc2_lsp.context.retrieval.render import RenderedDefinition, render_selection
from sc2_lsp.context.retrieval.selection import (
    DefinitionCandidate,
    DefinitionSource,
    Listing,
    PackedFile,
    packed,
)

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


@dataclass
class _Accepted:
    file: PackedFile
    index: int
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
        self._files: dict[Path, PackedFile] = {}
        # Line ranges of any file already shown, by any source (recent and similar too).
        self._claimed: dict[Path, list[tuple[int, int]]] = {}

    # ------------------------------------------------------------------ listings

    def pack_listing(self, listing: Listing, allowance: float) -> int:
        """As many of `listing`'s signatures as fit `allowance`, in order; returns tokens spent.

        Sized by an estimate, then the file's text is counted once (trimming if needed): one
        tokenizer call for dozens of one-line signatures.
        """
        if allowance < 2:
            return 0
        file = self._listing_file(listing)
        if file is None:
            return 0
        previous = file.listed or 0
        chosen, estimate = self._listing_signatures(file, listing, allowance, previous)
        fitted = self._fit_listing(file, chosen, estimate, previous, allowance)
        if fitted is None:
            return 0
        chosen, total = fitted
        symbols = file.symbols
        for position in chosen:
            file.selection[position] = False
            file.terse.add(position)
            definition = symbols.definition(position)
            if definition.is_container:
                file.brief.add(position)
            if listing.container is not None:
                file.headers.add(listing.container)
            self.claim(file.path, definition.start_line, definition.start_line + 1)
        self._files[file.path] = file
        file.note_selected(listing.source, listing.score)
        file.listed = total
        return total - previous

    def _listing_file(self, listing: Listing) -> PackedFile | None:
        """The file a listing may still add to: loaded as ranked, holding only listings."""
        record = listing.record
        file = self._files.get(record.path)
        if file is None:
            file = packed(self._index.source_for(record))
        if file is None or file.record is not record:
            return None
        if file.selection and file.listed is None:
            return None
        if listing.container is not None and listing.container in file.selection:
            return None
        return file

    def _listing_signatures(
        self, file: PackedFile, listing: Listing, allowance: float, previous: int
    ) -> tuple[list[int], int]:
        """The listing's positions whose estimated signature cost fits, and the estimate."""
        symbols = file.symbols
        estimate = previous or self._header_tokens(file.path) + 4
        chosen: list[int] = []
        for position in listing.positions:
            if position in file.selection or not 0 <= position < len(symbols.definition_rows):
                continue
            definition = symbols.definition(position)
            if definition.parent != listing.container and listing.container is not None:
                continue
            if file.path == self._focus.path and self._focus.overlaps_window(
                definition.start_line, definition.end_line + 1
            ):
                continue
            signature = self._renders.render(
                file.data,
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
            if self.covers(file.path, signature.start_line, signature.end_line):
                continue
            cost = math.ceil(len(signature.text) / _LISTING_CHARS_PER_TOKEN) + 1
            if estimate + cost - previous > allowance:
                break
            estimate += cost
            chosen.append(position)
        return chosen, estimate

    def _fit_listing(
        self, file: PackedFile, chosen: list[int], estimate: int, previous: int, allowance: float
    ) -> tuple[list[int], int] | None:
        """`chosen` cut until the file's exact count fits, with that count; None if nothing does."""
        symbols = file.symbols
        average = max(1.0, (estimate - previous) / max(1, len(chosen)))
        for _ in range(_LISTING_RECOUNTS):
            if not chosen:
                return None
            trial = dict(file.selection)
            trial.update(dict.fromkeys(chosen, False))
            brief = frozenset(p for p in trial if symbols.definition(p).is_container)
            text = self._file_text(file, trial, brief, frozenset(trial))
            total = self._tokens(text) + self._header_tokens(file.path) if text else 0
            if total - previous <= allowance:
                return chosen, total
            drop = max(1, math.ceil((total - previous - allowance) / average))
            chosen = chosen[: max(0, len(chosen) - drop)]
        return None

    # ------------------------------------------------------------------ ranked definitions

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
            cost, item = self._select(loaded[0], loaded[1], candidate, allowance - spent)
            spent += cost
            if item is not None:
                accepted.append(item)
        for item in accepted:
            spent += self._upgrade(item, allowance - spent)
        for item in accepted:
            self.claim(item.file.path, item.signature.start_line, item.signature.end_line)
        return spent

    def _select(
        self, file: PackedFile, position: int, candidate: DefinitionCandidate, room: float
    ) -> tuple[int, _Accepted | None]:
        """Add one definition as its signature if it fits `room`: (tokens spent, what was added).

        A member of a class already shown in outline is expanded there instead; a class shown
        by its header alone becomes the shared header of its members.
        """
        if position in file.selection:
            return 0, None
        definition = file.symbols.definitions[position]
        parent = definition.parent
        if parent is not None and parent in file.selection:
            if parent not in file.brief:
                if file.selection[parent]:
                    return 0, None
                return self._expand_member(file, position, room), None
            file.brief.discard(parent)
            del file.selection[parent]
            file.headers.add(parent)
        if file.path == self._focus.path and self._focus.overlaps_window(
            definition.start_line, definition.end_line + 1
        ):
            return 0, None
        if position in file.headers:
            return 0, None  # its members are listed under its header already
        # A member whose class header is already shown is charged without it.
        wrapped = parent is None or parent not in file.headers
        signature = self._renders.render(
            file.data,
            file.symbols,
            position,
            full=False,
            max_lines=self._max_lines,
            wrap=wrapped,
            brief=candidate.brief,
        )
        if signature is None or self._focus.repeats_window(signature.text):
            return 0, None
        if self.covers(file.path, signature.start_line, signature.end_line):
            return 0, None
        if _hopeless(signature.text, room):
            return 0, None
        cost = self._tokens(signature.text) + 1
        if not file.selected:
            cost += self._header_tokens(file.path)
        if cost > room:
            return 0, None
        file.listed = None
        file.selection[position] = False
        if candidate.brief:
            file.brief.add(position)
        if parent is not None:
            file.headers.add(parent)
        file.note_selected(candidate.source, candidate.score)
        return cost, _Accepted(file, position, signature, cost, candidate.brief, wrapped)

    def _upgrade(self, item: _Accepted, room: float) -> int:
        """A signature to its full body (a brief class to its outline) if the growth fits."""
        file = item.file
        if room < 2 or file.selection.get(item.index) is not False:
            return 0
        symbols = file.symbols
        if item.brief:
            # A class shown by its header: its outline (members' signatures) is the next step.
            full = self._renders.render(
                file.data, symbols, item.index, full=False, max_lines=self._max_lines
            )
        else:
            full = self._renders.render(
                file.data,
                symbols,
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
            file.brief.discard(item.index)
        else:
            file.selection[item.index] = True
        return delta

    def _expand_member(self, file: PackedFile, position: int, room: float) -> int:
        """Show a member in full inside its container's already-selected outline."""
        symbols = file.symbols
        full = self._renders.render(
            file.data, symbols, position, full=True, max_lines=self._max_lines, wrap=False
        )
        signature = self._renders.render(
            file.data, symbols, position, full=False, max_lines=self._max_lines, wrap=False
        )
        if full is None or signature is None or self._focus.repeats_window(full.text):
            return 0
        if _hopeless(full.text, room + len(signature.text) / _LISTING_CHARS_PER_TOKEN):
            return 0
        delta = self._tokens(full.text) - self._tokens(signature.text)
        if delta > room:
            return 0
        file.selection[position] = True
        return delta

    def _load(self, candidate: DefinitionCandidate) -> tuple[PackedFile, int] | None:
        """The candidate's file (as first loaded) and its definition's index there."""
        file = self._files.get(candidate.record.path)
        if file is None:
            file = packed(self._index.source_for(candidate.record))
        if file is None:
            return None
        position = candidate.index
        definitions = file.symbols.definitions
        if file.record is not candidate.record and (
            position >= len(definitions) or definitions[position].name != _name_at(candidate)
        ):
            # The file changed since ranking; find the same name in the fresh symbols.
            matches = [i for i, d in enumerate(definitions) if d.name == _name_at(candidate)]
            if not matches:
                return None
            position = matches[0]
        if position >= len(definitions):
            return None
        self._files[file.path] = file
        return file, position

    # ------------------------------------------------------------------ what is shown

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
        for path, file in self._files.items():
            if not file.selected or not file.selection:
                continue
            symbols = file.symbols
            pieces = render_selection(
                file.data,
                symbols,
                file.selection,
                max_lines=self._max_lines,
                brief=frozenset(file.brief),
                terse=frozenset(file.terse),
            )
            text = _joined(pieces)
            if not text:
                continue
            if file.listed is not None:
                tokens = file.listed
            else:
                # The pieces were (mostly) counted while packing: their sum, plus one token per
                # joining newline, bounds the joined text's count without tokenizing it again.
                tokens = self._header_tokens(path) + text.count("\n\n")
                tokens += sum(self._tokens(piece.text) + 1 for piece in pieces)
            names = sorted(file.selection, key=lambda i: symbols.definitions[i].start_byte)
            symbol = ", ".join(dict.fromkeys(symbols.definitions[i].name for i in names))
            result.append((path, text, file.origin, file.score, tokens, symbol or None))
        return result

    def _file_text(
        self,
        file: PackedFile,
        selection: dict[int, bool],
        brief: frozenset[int],
        terse: frozenset[int],
    ) -> str:
        pieces = render_selection(
            file.data,
            file.symbols,
            selection,
            max_lines=self._max_lines,
            brief=brief,
            terse=terse,
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
