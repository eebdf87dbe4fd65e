"""Whether a prompt recalled a position's definition, read from the prompt text."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.context_recall.positions import (
    Position,
)


def context_segments(prompt: str) -> list[tuple[str, str]]:
    """(path, text) of each context snippet: the `<file_sep>` parts before `<fim_prefix>`."""
    head = prompt.split("<fim_prefix>", 1)[0]
    segments: list[tuple[str, str]] = []
    for part in head.split("<file_sep>")[1:]:
        path, _, text = part.partition("\n")
        if text:
            segments.append((path, text))
    return segments


def recalled(prompt: str | None, position: Position) -> bool:
    if not prompt:
        return False
    for path, text in context_segments(prompt):
        if path != position.target_file:
            continue
        lines = [line.strip() for line in text.split("\n")]
        if any(line.startswith(key) for key in position.keys for line in lines):
            return True
    return False


def context_tokens(prompt: str | None, counter: Callable[[str], int]) -> int:
    if not prompt:
        return 0
    return sum(counter(path + "\n" + text) + 1 for path, text in context_segments(prompt))
