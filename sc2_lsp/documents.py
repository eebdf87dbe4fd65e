"""Immutable document snapshots and the one place where LSP positions become text offsets.

The server takes one `Snapshot` per request: a copy of the document text at the version the
client sent, plus the cursor converted from the negotiated position encoding (UTF-16 by
default, UTF-8 or UTF-32 when the client offers them) to a code-point offset. Everything
after this module works on Python string indices only.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

Encoding = str  # "utf-8" | "utf-16" | "utf-32", as lsprotocol's PositionEncodingKind values


@dataclass(frozen=True, slots=True)
class Cursor:
    """A cursor inside a snapshot: `offset` indexes `Snapshot.text` (code points)."""

    offset: int
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The text of one document at one version."""

    uri: str
    version: int | None
    language_id: str | None
    text: str

    @property
    def path(self) -> Path | None:
        return uri_to_path(self.uri)


def uri_to_path(uri: str) -> Path | None:
    """The filesystem path of a `file:` URI, or None for other schemes (untitled:, etc.)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def _units(char: str, encoding: Encoding) -> int:
    code = ord(char)
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if code > 0xFFFF else 1


def column_to_index(line_text: str, column: int, encoding: Encoding) -> int:
    """Code-point index in `line_text` of a column counted in `encoding` units.

    A column past the end of the line clamps to the end; a column that falls inside a
    multi-unit character (half a surrogate pair, a UTF-8 continuation byte) snaps to the
    start of that character, so no request can split one.
    """
    if encoding == "utf-32":
        return max(0, min(column, len(line_text)))
    units = 0
    for index, char in enumerate(line_text):
        width = _units(char, encoding)
        if units + width > column:
            return index
        units += width
    return len(line_text)


def index_to_column(line_text: str, index: int, encoding: Encoding) -> int:
    """Column in `encoding` units of the code-point `index` in `line_text`."""
    if encoding == "utf-32":
        return index
    return sum(_units(char, encoding) for char in line_text[:index])


_LINE_END = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """Offsets where each line begins; lines end at \\n, \\r\\n or a lone \\r (as LSP says)."""
    return [0, *(match.end() for match in _LINE_END.finditer(text))]


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where LSP ends lines.

    Unlike `str.splitlines`, form feeds, vertical tabs, U+0085 and U+2028/9 stay inside a line.
    """
    return _LINE.findall(text)


def scrub_surrogates(text: str) -> str:
    """Lone surrogates (legal as JSON escapes, not encodable as UTF-8) become U+FFFD.

    One code point for one code point, so offsets and UTF-16 positions stay valid.
    """
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _line_text(text: str, starts: list[int], line: int) -> str:
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    return text[start:end].rstrip("\r\n")


def cursor_at(text: str, line: int, column: int, encoding: Encoding = "utf-16") -> Cursor:
    """Convert an LSP position to a `Cursor`, clamping positions past the end of the text."""
    if line < 0:
        line, column = 0, 0
    if "\r" not in text:
        # Every request converts a position: walk to the line instead of listing all of them.
        start = 0
        for _ in range(line):
            start = text.find("\n", start) + 1
            if not start:
                break
        else:
            end = text.find("\n", start)
            line_text = text[start:] if end < 0 else text[start:end]
            index = column_to_index(line_text, max(0, column), encoding)
            return Cursor(offset=start + index, line=line, column=index)
    starts = line_starts(text)
    if line >= len(starts):
        line = len(starts) - 1
        column = 1 << 30
    line_text = _line_text(text, starts, line)
    index = column_to_index(line_text, max(0, column), encoding)
    return Cursor(offset=starts[line] + index, line=line, column=index)


def position_of(text: str, offset: int, encoding: Encoding = "utf-16") -> tuple[int, int]:
    """The LSP (line, column) of a code-point offset, in `encoding` units."""
    starts = line_starts(text)
    offset = max(0, min(offset, len(text)))
    line = bisect_right(starts, offset) - 1
    line_text = _line_text(text, starts, line)
    index = min(offset - starts[line], len(line_text))
    return line, index_to_column(line_text, index, encoding)
