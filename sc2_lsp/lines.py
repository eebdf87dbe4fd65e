"""What the cursor analysis and the post-processing both say about lines of code.

Owns `CompletionMode` (what a completion may add at the cursor: nothing, the rest of the line,
or a block of lines) and the indentation helpers: a line's leading whitespace and its width.
Plain text, no tree-sitter.
"""

from __future__ import annotations

from typing import Literal

CompletionMode = Literal["skip", "line", "block"]

TAB_WIDTH = 4


def leading_whitespace(line: str) -> str:
    """The spaces and tabs that start `line`."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(whitespace: str) -> int:
    """Columns `whitespace` spans, a tab counting as `TAB_WIDTH`."""
    return len(whitespace.expandtabs(TAB_WIDTH))
