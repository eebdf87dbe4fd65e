"""The typing session: a script of keystrokes, pauses, accepts, deletions and a jump."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# -- the session script ------------------------------------------------------------------------

StepKind = Literal["type", "backspace", "delete_word", "pause", "accept", "type_along", "jump"]


@dataclass(frozen=True)
class Step:
    kind: StepKind
    text: str = ""
    """type: what one keystroke inserts (Enter carries its auto-indent); jump: the anchor."""
    count: int = 1
    """backspace / type_along: how many keystrokes."""
    seconds: float = 0.0
    """pause: how long the user looks before going on (at least until the answer is there)."""


def keys(text: str) -> list[Step]:
    """One keystroke per character; Enter plus the indentation an editor inserts is one."""
    steps: list[Step] = []
    i = 0
    while i < len(text):
        if text[i] == "\n":
            j = i + 1
            while j < len(text) and text[j] == " ":
                j += 1
            steps.append(Step("type", text[i:j]))
            i = j
        else:
            steps.append(Step("type", text[i]))
            i += 1
    return steps


# The user adds a helper after the `lines` property (line ~168), fixes a typo, accepts
# suggestions, then jumps ~130 lines down into `word_at_position` and writes a guard there.
ANCHOR_A = "        return tuple(self.source.splitlines(True))"
ANCHOR_B = "        lines = self.lines\n        if client_position.line >= len(lines):"


def build_script(quick: bool) -> list[Step]:
    part_a = [
        Step("jump", ANCHOR_A),
        *keys("\n\n    def line_"),
        Step("pause", seconds=0.8),
        *keys("coutn"),
        Step("backspace", count=2),
        *keys("nt(self):"),
        *keys("\n        "),
        Step("pause", seconds=0.6),
        Step("accept"),
        Step("pause", seconds=0.5),
    ]
    if quick:
        return [*part_a, Step("type_along", count=2), Step("accept"), Step("pause", seconds=0.5)]
    part_a += [
        *keys("\n        return len(se"),
        Step("pause", seconds=0.7),
        Step("type_along", count=3),
        Step("accept"),
        Step("pause", seconds=0.5),
    ]
    part_b = [
        Step("jump", ANCHOR_B),
        Step("pause", seconds=1.0),
        *keys("\n        if not lines:"),
        Step("pause", seconds=0.8),
        *keys("\n            "),
        Step("pause", seconds=0.6),
        Step("accept"),
        Step("pause", seconds=0.5),
        *keys("\n        first = lines[0"),
        Step("backspace", count=1),
        *keys("-1]"),
        Step("pause", seconds=0.7),
        Step("type_along", count=2),
        Step("accept"),
        Step("pause", seconds=0.6),
        Step("delete_word"),
        *keys("last"),
        Step("pause", seconds=0.5),
    ]
    return part_a + part_b


def count_keystrokes(script: Sequence[Step]) -> int:
    return sum(
        step.count if step.kind in ("backspace", "type_along") else 1
        for step in script
        if step.kind not in ("pause", "jump")
    )
