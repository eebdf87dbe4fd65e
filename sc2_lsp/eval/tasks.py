"""Evaluation tasks, one masked line each, and the metrics that score a completion of one.

A task is a document with the rest of one line cut out from the cursor on: the cursor sits
after the line's indentation (`line`, single-line infilling as in HumanEval-infilling and
CrossCodeEval) or inside one of its words (`mid-word`, where token healing matters). The
completion is scored against what was cut: exact match and edit similarity (CrossCodeEval's
and RepoBench's metrics).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


class EvalError(Exception):
    """An evaluation cannot run as asked; the message is meant for the user."""


SUITES = ("humaneval-single-line", "repo")
CursorMode = Literal["line", "mid-word"]
CURSOR_MODES: tuple[CursorMode, ...] = ("line", "mid-word")
_WORD = re.compile(r"[^\W\d]\w+")
"""A word of two characters or more, so the cursor can go strictly inside it."""


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    path: Path
    """The file, as the prompt names it (HumanEval's are virtual: `HumanEval_0.py`)."""
    text: str
    """The document the model sees: the file without the rest of the masked line."""
    offset: int
    """The cursor, in code points."""
    expected: str
    """What was cut out: the rest of the line after the cursor."""
    language_id: str | None = None
    problem: str | None = None
    """The HumanEval problem the line belongs to (whose tests decide pass@1)."""

    def completed(self, inserted: str) -> str:
        """The document once `inserted` is accepted at the cursor."""
        return self.text[: self.offset] + inserted + self.text[self.offset :]


def line_spans(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of `text` from `start` on, the end before its newline."""
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield start, end
        start = end + 1


def cursor_column(line: str, mode: CursorMode, rng: random.Random) -> int | None:
    """Where in `line` the cursor goes; None when the line has no such place."""
    if mode == "line":
        return len(line) - len(line.lstrip())
    words = list(_WORD.finditer(line))
    if not words:
        return None
    word = rng.choice(words)
    return rng.randint(word.start() + 1, word.end() - 1)


def mask(
    task_id: str,
    path: Path,
    text: str,
    span: tuple[int, int],
    mode: CursorMode,
    seed: int,
    language_id: str | None = None,
    problem: str | None = None,
) -> Task | None:
    """The task that cuts the line `span` of `text` from a cursor placed by `mode`."""
    line_start, line_end = span
    rng = random.Random(f"{seed}:{task_id}")
    column = cursor_column(text[line_start:line_end], mode, rng)
    if column is None:
        return None
    cursor = line_start + column
    document = text[:cursor] + text[line_end:]
    return Task(task_id, path, document, cursor, text[cursor:line_end], language_id, problem)


def sample(tasks: Sequence[Task], limit: int | None, seed: int) -> list[Task]:
    """`limit` tasks drawn at random (all when None), kept in their original order."""
    if limit is None or limit >= len(tasks):
        return list(tasks)
    chosen = set(random.Random(seed).sample(range(len(tasks)), limit))
    return [task for index, task in enumerate(tasks) if index in chosen]


def exact_match(text: str, expected: str) -> bool:
    return text.rstrip() == expected.rstrip()


def edit_similarity(text: str, expected: str) -> float:
    """1 - Levenshtein distance / the longer length (CrossCodeEval's edit similarity, 0..1)."""
    a, b = text.rstrip(), expected.rstrip()
    longest = max(len(a), len(b))
    return 1.0 if not longest else 1.0 - levenshtein(a, b) / longest


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        current = [i]
        for j, right in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right))
            )
        previous = current
    return previous[-1]
