"""A notebook seen as one Python file, so the prompt and the context sources treat it like one.

The cells go in notebook order, each after a `# %%` line (jupytext's percent format, which
code models saw in scripts exported from notebooks): code cells as they are, markdown cells as
comments. The cells before the cursor's cell are then the prompt's prefix and those after it
its suffix, and the markers tell the model where a cell ends; a suggestion is cut where it
would start the next cell. Plain data in, plain text out: the server maps LSP notebooks here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sc2_lsp.documents import Cursor

MARKER = "# %%"
MARKDOWN_MARKER = "# %% [markdown]"
CELL_GAP = "\n\n"


@dataclass(frozen=True, slots=True)
class Cell:
    uri: str
    text: str
    markdown: bool = False


@dataclass(frozen=True, slots=True)
class NotebookText:
    text: str
    starts: dict[str, tuple[int, int]]
    """Code cell URI → (offset, line) in `text` where the cell's own text begins."""

    def cursor(self, cell_uri: str, inside: Cursor) -> Cursor | None:
        """Where `inside` (a cursor in the cell's own text) is in the whole text."""
        start = self.starts.get(cell_uri)
        if start is None:
            return None
        offset, line = start
        return Cursor(offset + inside.offset, line + inside.line, inside.column)


def render(cells: Sequence[Cell]) -> NotebookText:
    pieces: list[str] = []
    starts: dict[str, tuple[int, int]] = {}
    offset = line = 0
    for cell in cells:
        header = (MARKDOWN_MARKER if cell.markdown else MARKER) + "\n"
        body = _commented(cell.text) if cell.markdown else cell.text
        if pieces:
            offset += len(CELL_GAP)
            line += CELL_GAP.count("\n")
        if not cell.markdown:  # completing in prose is not on offer
            starts[cell.uri] = (offset + len(header), line + 1)
        piece = header + body
        pieces.append(piece)
        offset += len(piece)
        line += piece.count("\n")
    return NotebookText(CELL_GAP.join(pieces), starts)


def within_cell(suggestion: str) -> str:
    """`suggestion` up to where it would begin another cell."""
    lines = suggestion.split("\n")
    for index, line in enumerate(lines[1:], start=1):
        if line.lstrip().startswith(MARKER):
            return "\n".join(lines[:index]).rstrip()
    return suggestion


def _commented(text: str) -> str:
    return "\n".join(f"# {line}" if line else "#" for line in text.split("\n"))
