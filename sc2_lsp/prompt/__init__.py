"""Building fill-in-the-middle prompts as token ids.

The prompt is assembled from parts, each tokenized on its own: sentinels become their single
ids, text is tokenized without special-token parsing (so code that contains `<file_sep>`
cannot inject a sentinel). Parts are ordered from the most stable to the most volatile —
repository context, then the current file's prefix, then the suffix — so llama.cpp can reuse
the KV cache of everything before the first change.

In PSM everything after the prefix is evaluated again on every keystroke, since typing changes
the end of the prefix. So the suffix is split: the FIM suffix holds only its near part (the
rest of the cursor's line, and of its block as far as the keystroke budget allows), and the far
part goes before the current file as a repository-format snippet of the same file
(`<file_sep>path\nfar suffix`), where it stays in the KV cache while the user types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sc2_lsp.lines import indent_width, leading_whitespace
from sc2_lsp.prompt.templates import BoundTemplate

Role = Literal["bos", "marker", "repo", "context", "far", "path", "prefix", "suffix"]


@dataclass(frozen=True, slots=True)
class PromptPart:
    role: Role
    text: str
    tokens: tuple[int, ...]
    special: bool = False


@dataclass(frozen=True, slots=True)
class ContextFile:
    """A piece of another file to show the model before the current file."""

    path: str
    text: str


@dataclass(frozen=True, slots=True)
class Prompt:
    parts: tuple[PromptPart, ...]

    @property
    def tokens(self) -> list[int]:
        return [token for part in self.parts for token in part.tokens]

    def __len__(self) -> int:
        return sum(len(part.tokens) for part in self.parts)

    def render(self) -> str:
        """The prompt as text, sentinels spelled as their token text."""
        return "".join(part.text for part in self.parts)

    def tokens_of(self, *roles: Role) -> int:
        return sum(len(part.tokens) for part in self.parts if part.role in roles)


Tokenize = Callable[[str], list[int]]


@dataclass(frozen=True, slots=True)
class FimInput:
    """What goes into one prompt, already cut to size."""

    prefix: str
    suffix: str
    path: str | None = None
    repo_name: str | None = None
    context: tuple[ContextFile, ...] = ()
    order: Literal["psm", "spm"] = "psm"
    far_suffix: str = ""
    """The suffix beyond `suffix`, shown before the current file (PSM with `<file_sep>` only)."""


def build(
    fim: FimInput,
    template: BoundTemplate,
    tokenize: Tokenize,
    bos_id: int | None = None,
    token_text: Callable[[int], str] = str,
) -> Prompt:
    """Lay out `fim` with `template`'s sentinels (see the module docstring for the order)."""
    parts: list[PromptPart] = []
    spec = template.template

    def marker(token: int | None) -> None:
        if token is not None:
            parts.append(PromptPart("marker", token_text(token), (token,), special=True))

    def text(role: Role, value: str) -> None:
        if value:
            parts.append(PromptPart(role, value, tuple(tokenize(value))))

    far = fim.far_suffix if spec.has_fim and template.file_sep is not None else ""
    if bos_id is not None:
        parts.append(PromptPart("bos", token_text(bos_id), (bos_id,), special=True))
    if fim.context or far:
        if fim.repo_name and template.repo_name is not None:
            marker(template.repo_name)
            text("repo", fim.repo_name + ("\n" if spec.repo_name_newline else ""))
        for context in fim.context:
            if template.file_sep is not None:
                marker(template.file_sep)
                text("context", f"{context.path}\n{context.text}")
            else:
                text("context", _as_comment_block(context))
            if spec.repo_name_newline and not context.text.endswith("\n"):
                text("context", "\n")

    path = f"{fim.path}\n" if fim.path else ""
    if far:
        marker(template.file_sep)
        text("far", path + far)
    if not spec.has_fim:
        text("path", path)
        text("prefix", fim.prefix)
        return Prompt(tuple(parts))

    if template.file_sep is not None:
        marker(template.file_sep)
        if not spec.path_in_prefix:
            text("path", path)
    if not spec.path_in_prefix:
        path = ""
    prefix = (" " if spec.marker_spacing else "") + fim.prefix
    if fim.order == "spm":
        marker(template.fim_prefix)
        marker(template.fim_suffix)
        text("suffix", fim.suffix)
        marker(template.fim_middle)
        text("path", path)
        text("prefix", prefix)
        return Prompt(tuple(parts))
    marker(template.fim_prefix)
    text("path", path)
    text("prefix", prefix)
    marker(template.fim_suffix)
    text("suffix", fim.suffix)
    if spec.marker_spacing:
        text("suffix", " ")
    marker(template.fim_middle)
    return Prompt(tuple(parts))


def _as_comment_block(context: ContextFile) -> str:
    return f"# Path: {context.path}\n{context.text}\n"


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        spans.append((start, end))
        start = end
    return spans


WINDOW_STEP_LINES = 16
"""The prefix window's first line moves in steps of this many lines, so that typing does not
shift the start of the prompt on every keystroke (that would defeat KV-cache reuse)."""


def fim_window(
    text: str,
    offset: int,
    prefix_budget: int,
    suffix_budget: int,
    count_tokens: Callable[[str], int],
    keep_start: int | None = None,
    keep_budget: int | None = None,
) -> tuple[int, int]:
    """The [start, end) range of `text` to show around the cursor at `offset`.

    The prefix takes whole lines back from the cursor while they fit `prefix_budget` tokens
    (the cursor's own line always counts), the suffix whole lines forward within
    `suffix_budget`. Token counts are per line and approximate; `prompting.prepare` trims the
    built prompt exactly.
    `keep_start`, the start of the previous window, is kept while the prefix from it fits
    `keep_budget` (a little more than `prefix_budget`): typing a line more, or deleting one,
    must not move the start of the file in the prompt back and forth.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    if (
        keep_start is not None
        and 0 <= keep_start <= line_start
        and (keep_start == 0 or text[keep_start - 1] == "\n")
        and count_tokens(text[keep_start:offset]) <= (keep_budget or prefix_budget)
    ):
        start = keep_start
    else:
        start = _prefix_start(text, offset, line_start, prefix_budget, count_tokens)
    end = offset
    used = 0
    for span_start, span_end in _line_spans(text[offset:]):
        cost = count_tokens(text[offset + span_start : offset + span_end])
        if used + cost > suffix_budget:
            if span_start == 0:
                end = offset + _cut_to_budget(
                    text[offset : offset + span_end], suffix_budget, count_tokens
                )
            break
        used += cost
        end = offset + span_end
    return start, end


def near_suffix_end(
    text: str, offset: int, end: int, budget: int, count_tokens: Callable[[str], int]
) -> int:
    """Where the near part of the suffix `text[offset:end]` ends.

    The rest of the cursor's line (with its newline) always; then whole following lines, while
    they still belong to the cursor's block (not indented less than its line, blank lines
    included) and fit `budget` tokens together with that rest of line.
    """
    line_end = text.find("\n", offset, end)
    near = end if line_end < 0 else line_end + 1
    line_start = text.rfind("\n", 0, offset) + 1
    depth = indent_width(leading_whitespace(text[line_start:offset]))
    used = count_tokens(text[offset:near])
    while near < end:
        line_end = text.find("\n", near, end)
        following = end if line_end < 0 else line_end + 1
        line = text[near:following]
        if line.strip() and indent_width(leading_whitespace(line)) < depth:
            break
        cost = count_tokens(line)
        if used + cost > budget:
            break
        used += cost
        near = following
    return near


def _prefix_start(
    text: str, offset: int, line_start: int, budget: int, count_tokens: Callable[[str], int]
) -> int:
    start = line_start
    used = count_tokens(text[line_start:offset])
    before = _line_spans(text[:line_start])
    taken = 0
    for span_start, span_end in reversed(before):
        cost = count_tokens(text[span_start:span_end])
        if used + cost > budget:
            break
        used += cost
        start = span_start
        taken += 1
    first_line = len(before) - taken
    if first_line > 0:
        first_line = -(-first_line // WINDOW_STEP_LINES) * WINDOW_STEP_LINES
        start = before[first_line][0] if first_line < len(before) else line_start
    return start


def _cut_to_budget(text: str, budget: int, count_tokens: Callable[[str], int]) -> int:
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return low
