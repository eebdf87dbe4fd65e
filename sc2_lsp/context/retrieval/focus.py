"""What the code around the cursor refers to: the input to ranking.

Owns `ContextRequest` (what the server asks for) and `Focus`, the analysis of a request: cursor
and prompt-window lines, identifiers near the cursor with their line distance, member accesses
(`obj.name`, `self.name`, `pkg::name`) with their receivers, the set of names the buffer uses,
the class enclosing the cursor, and what the cursor completes (the receiver before a trailing
`.`/`->`/`::`, and the identifier typed so far).  Pure functions over the request text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sc2_lsp.context.symbols import IDENTIFIER, FileSymbols, used_identifiers

_MEMBER_ACCESS = re.compile(r"([A-Za-z_$][\w$]*)\s*(?:\.|->|::)\s*([A-Za-z_$][\w$]*)")
# What the cursor completes: `receiver.chain.` + the member typed so far, or a bare name.
_AT_MEMBER = re.compile(
    r"((?:[A-Za-z_$#][\w$#]*\s*(?:\?\.|\.|->|::)\s*)*[A-Za-z_$#][\w$#]*(?:\(\))?)"
    r"\s*(?:\?\.|\.|->|::)\s*([A-Za-z_$][\w$]*)?$"
)
_AT_NAME = re.compile(r"[A-Za-z_$][\w$]*$")
_CHAIN_SEPARATOR = re.compile(r"\s*(?:\?\.|\.|->|::)\s*")
# Only the end of the cursor line decides what is being completed.
_CURSOR_LINE_TAIL = 240
# Lines after the cursor count less than lines before it: completion continues what came before.
_LINES_AFTER_FRACTION = 3


@dataclass(frozen=True)
class ContextRequest:
    """One completion's request for repository context.

    `offset` is the cursor and [`window_start`, `window_end`) the part of `text` already in the
    prompt's prefix+suffix, all in code points.  `open_documents` maps open editor buffers to
    their current text.
    """

    path: Path
    language: str | None
    text: str
    offset: int
    window_start: int
    window_end: int
    open_documents: Mapping[Path, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Focus:
    path: Path
    text: str
    offset: int
    cursor_line: int
    window_first_line: int
    window_last_line: int
    window_lines: frozenset[str]
    distances: Mapping[str, int]
    occurrences: Mapping[str, tuple[int, ...]]
    receivers: Mapping[str, frozenset[str]]
    used: frozenset[str]
    enclosing_class: str | None
    # `self._loop` when the cursor completes a member of it (`self._loop.|`), else None.
    receiver: str | None = None
    # The identifier typed so far at the cursor (the member's, after a receiver).
    typed: str = ""

    def proximity(self, name: str) -> float:
        """1 at the cursor, fading with line distance; small for names used only far away."""
        return proximity_at(self.distances.get(name))

    def lines_before_cursor(self, count: int) -> str:
        """The cursor line up to the cursor and the `count` lines before it."""
        return self.text[_line_offset_before(self.text, self.offset, count) : self.offset]

    def lines(self, start_line: int, end_line: int) -> str:
        """Lines [start_line, end_line) of the request text, found by walking from the cursor."""
        text = self.text
        if end_line <= start_line:
            return ""
        begin = _offset_of_line(text, self.offset, self.cursor_line, start_line)
        end = _offset_of_line(text, begin, start_line, end_line)
        chunk = text[begin:end]
        return chunk if chunk.endswith("\n") or not chunk else chunk + "\n"

    def distance_outside(self, name: str, start_line: int, end_line: int) -> int | None:
        """Line distance to the nearest use of `name` outside lines [start_line, end_line]."""
        lines = [n for n in self.occurrences.get(name, ()) if not start_line <= n <= end_line]
        if not lines:
            return None
        return min(abs(n - self.cursor_line) for n in lines)

    def overlaps_window(self, start_line: int, end_line: int) -> bool:
        """Whether lines [start_line, end_line) of this file are already in the prompt."""
        return start_line <= self.window_last_line and end_line > self.window_first_line

    def repeats_window(self, text: str) -> bool:
        """Whether most substantial lines of `text` already appear in the prompt window."""
        lines = _substantial_lines(text)
        if not lines:
            return False
        inside = sum(1 for line in lines if line in self.window_lines)
        return inside / len(lines) >= 0.6


def proximity_at(distance: int | None) -> float:
    """Weight of a use `distance` lines from the cursor (None: only used far away)."""
    if distance is None:
        return 0.05
    return 1.0 / (1.0 + distance / 4.0)


def analyse(
    request: ContextRequest,
    path: Path,
    symbols: FileSymbols | None,
    buffer_identifiers: frozenset[str] | None,
    cursor_lines: int,
) -> Focus:
    """Analyse the request text around the cursor (cost bounded by `cursor_lines`)."""
    text = request.text
    offset = _clamp(request.offset, len(text))
    window_start = _clamp(min(request.window_start, offset), len(text))
    window_end = _clamp(max(request.window_end, offset), len(text))
    cursor_line = text.count("\n", 0, offset)
    window_first_line = text.count("\n", 0, window_start)
    window_last_line = window_first_line + text.count("\n", window_start, window_end)
    window_lines = frozenset(
        stripped
        for line in text[window_start:window_end].splitlines()
        if (stripped := line.strip())
    )
    before = max(1, cursor_lines)
    after = max(1, cursor_lines // _LINES_AFTER_FRACTION)
    region_start = _line_offset_before(text, offset, before)
    region_end = _line_offset_after(text, offset, after)
    region_first_line = cursor_line - text.count("\n", region_start, offset)
    import_lines = (
        frozenset(i.line for i in symbols.imports) if symbols is not None else frozenset()
    )
    region = text[region_start:region_end].split("\n")
    distances, occurrences, receivers = _names_in(
        region, region_first_line, cursor_line, import_lines
    )
    used = buffer_identifiers
    if used is None:
        used = used_identifiers(text, symbols)
    receiver, typed = completion_target(
        text[max(region_start, offset - _CURSOR_LINE_TAIL) : offset]
    )
    return Focus(
        path=path,
        text=text,
        offset=offset,
        cursor_line=cursor_line,
        window_first_line=window_first_line,
        window_last_line=window_last_line,
        window_lines=window_lines,
        distances=distances,
        occurrences={name: tuple(lines) for name, lines in occurrences.items()},
        receivers={name: frozenset(found) for name, found in receivers.items()},
        used=used | frozenset(distances),
        enclosing_class=_enclosing_class(symbols, cursor_line),
        receiver=receiver,
        typed=typed,
    )


def _names_in(
    lines: list[str], first_line: int, cursor_line: int, skipped: frozenset[int]
) -> tuple[dict[str, int], dict[str, list[int]], dict[str, set[str]]]:
    """For the identifiers of `lines` (numbered from `first_line`, `skipped` left out): their
    line distance from the cursor (lines after it count double), the lines they occur on, and
    the receivers each is accessed through (`receiver.name`)."""
    distances: dict[str, int] = {}
    occurrences: dict[str, list[int]] = {}
    receivers: dict[str, set[str]] = {}
    for number, line in enumerate(lines, first_line):
        if number in skipped:
            continue
        distance = abs(number - cursor_line)
        if number > cursor_line:
            distance *= 2
        for name in set(IDENTIFIER.findall(line)):
            found = occurrences.get(name)
            if found is None:
                occurrences[name] = [number]
                distances[name] = distance
            else:
                found.append(number)
                if distances[name] > distance:
                    distances[name] = distance
        if "." in line or ":" in line or ">" in line:
            for match in _MEMBER_ACCESS.finditer(line):
                receivers.setdefault(match.group(2), set()).add(match.group(1))
    return distances, occurrences, receivers


def completion_target(before_cursor: str) -> tuple[str | None, str]:
    """(receiver, typed) for the text before the cursor on its line.

    `a.b?.c(). fo` gives ("a.b.c()", "fo"), `x = fo` gives (None, "fo"); the receiver's
    parts are joined with dots whatever the language's member operator.
    """
    tail = before_cursor[before_cursor.rfind("\n") + 1 :]
    match = _AT_MEMBER.search(tail)
    if match is not None:
        receiver = _CHAIN_SEPARATOR.sub(".", match.group(1))
        return receiver, match.group(2) or ""
    name = _AT_NAME.search(tail)
    return None, name.group(0) if name else ""


@functools.lru_cache(maxsize=4096)
def _substantial_lines(text: str) -> tuple[str, ...]:
    """The lines of `text` worth comparing: stripped, elision markers removed, not tiny."""
    lines = (_without_elision(line.strip()) for line in text.splitlines())
    return tuple(line for line in lines if len(line) > 3)


def _without_elision(line: str) -> str:
    for marker in (" { ... }", " ..."):
        if line.endswith(marker):
            return line[: -len(marker)]
    return "" if line in ("...", "{ ... }") else line


def _enclosing_class(symbols: FileSymbols | None, line: int) -> str | None:
    if symbols is None:
        return None
    best: str | None = None
    best_span = 1 << 60
    for definition in symbols.definitions:
        if definition.start_line <= line <= definition.end_line:
            container = definition.name if definition.is_container else definition.container
            span = definition.end_line - definition.start_line
            if container is not None and span < best_span:
                best, best_span = container, span
    return best


def _clamp(value: int, upper: int) -> int:
    return max(0, min(int(value), upper))


def _offset_of_line(text: str, anchor: int, anchor_line: int, line: int) -> int:
    """Offset where `line` starts, walking from `anchor` (any offset on `anchor_line`)."""
    position = text.rfind("\n", 0, anchor) + 1
    current = anchor_line
    while current > line and position > 0:
        position = text.rfind("\n", 0, position - 1) + 1
        current -= 1
    while current < line:
        newline = text.find("\n", position)
        if newline < 0:
            return len(text)
        position = newline + 1
        current += 1
    return position


def _line_offset_before(text: str, offset: int, lines: int) -> int:
    position = text.rfind("\n", 0, offset) + 1
    for _ in range(lines):
        if position == 0:
            break
        position = text.rfind("\n", 0, position - 1) + 1
    return position


def _line_offset_after(text: str, offset: int, lines: int) -> int:
    position = offset
    for _ in range(lines + 1):
        newline = text.find("\n", position)
        if newline < 0:
            return len(text)
        position = newline + 1
    return position - 1
