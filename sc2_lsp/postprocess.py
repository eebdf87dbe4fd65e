"""Cleaning raw model output into the text shown as ghost text at the cursor.

Owns the rules that cut a completion to the cursor's line or block, fix its first-line
indentation, drop text that duplicates what already follows the cursor, and decide early
(per generated token) that nothing more can be kept. Pure functions over `PostContext`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sc2_lsp.lines import CompletionMode, indent_width, leading_whitespace

_CONTINUATION = re.compile(
    r"^(?:[)\]}]\s*)?(?:else|elif|elsif|except|catch|finally|rescue|ensure)\b"
)
_CLOSING_LINE = re.compile(r"^(?:[)\]}]|end\b|fi\b|done\b|esac\b)")
_FIRST_TOKEN = re.compile(r"\w+|\S")
_OPEN_TO_CLOSE = {"(": ")", "[": "]", "{": "}"}
_QUOTES = "\"'`"


@dataclass(frozen=True, slots=True)
class PostContext:
    mode: CompletionMode
    indent: str  # CursorSyntax.indent: where the completion's own lines belong
    line_prefix: str  # cursor line before the cursor
    line_suffix: str  # cursor line after the cursor
    next_lines: tuple[str, ...]  # a few lines after the cursor line
    max_lines: int = 16


def should_stop(text: str, ctx: PostContext) -> bool:
    """True once `clean` is bound to cut everything generated after `text`; cheap per token."""
    if ctx.mode == "skip":
        return True
    last_newline = text.rfind("\n")
    if last_newline < 0:
        return False
    if ctx.mode == "line":
        # blank lines that lead a completion on an empty line are dropped, not cut at
        return bool(ctx.line_prefix.strip() or text[:last_newline].strip())
    if text.count("\n") >= ctx.max_lines:
        return True
    previous_newline = text.rfind("\n", 0, last_newline)
    if previous_newline < 0:
        return False  # the first line continues the cursor line and is never cut
    return _leaves_block(text[previous_newline + 1 : last_newline], ctx)


def clean(text: str, ctx: PostContext) -> str:
    """Return the text to insert at the cursor, or "" when nothing is worth showing."""
    if ctx.mode == "skip":
        return ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = _cut_line(lines, ctx) if ctx.mode == "line" else _cut_block(lines, ctx)
    if lines:
        lines[0] = _fix_first_indent(lines[0], ctx)
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    result = _trim_suffix_overlap("\n".join(lines), ctx)
    if _is_redundant(result, ctx):
        return ""
    return _reopen_suffix_line(result, ctx)


def _cut_line(lines: list[str], ctx: PostContext) -> list[str]:
    if ctx.line_prefix.strip():
        return [] if len(lines) > 1 and not lines[0].strip() else lines[:1]
    content = next((line for line in lines if line.strip()), "")
    return [content]


def _cut_block(lines: list[str], ctx: PostContext) -> list[str]:
    kept = lines[:1]
    for line in lines[1 : ctx.max_lines]:
        if not _leaves_block(line, ctx):
            kept.append(line)
            continue
        if _CLOSING_LINE.match(line.strip()) and not _already_closed(line, ctx):
            kept.append(line)
        break
    return kept


def _leaves_block(line: str, ctx: PostContext) -> bool:
    """Whether this complete (non-first) line ends the block, as `_cut_block` decides."""
    if not line.strip() or indent_width(leading_whitespace(line)) >= _block_width(ctx):
        return False
    return not _continues_block(line, ctx)


def _block_width(ctx: PostContext) -> int:
    """Narrowest indentation still inside the block.

    After an opener, anything deeper than the opener line counts: ctx.indent's unit is a guess
    from the file and the model may indent by less (2 spaces where we assumed 4).
    """
    if ctx.line_prefix.strip():
        return min(indent_width(ctx.indent), indent_width(leading_whitespace(ctx.line_prefix)) + 1)
    return indent_width(ctx.indent)


def _continues_block(line: str, ctx: PostContext) -> bool:
    """`else:` / `} catch (e) {` at the opener's own indentation keeps the statement going."""
    if not ctx.line_prefix.strip():
        return False
    same_level = indent_width(leading_whitespace(line)) == indent_width(
        leading_whitespace(ctx.line_prefix)
    )
    return same_level and bool(_CONTINUATION.match(line.strip()))


def _already_closed(line: str, ctx: PostContext) -> bool:
    """The document already has this closing line, on the cursor line or the next one."""
    if ctx.line_suffix.strip():
        return True
    following = next((n for n in ctx.next_lines if n.strip()), None)
    if following is None:
        return False
    same_token = _first_token(following) == _first_token(line)
    return same_token and indent_width(leading_whitespace(following)) == indent_width(
        leading_whitespace(line)
    )


def _first_token(line: str) -> str:
    match = _FIRST_TOKEN.search(line)
    return match.group() if match else ""


def _fix_first_indent(first: str, ctx: PostContext) -> str:
    """On a blank cursor line, make the first line's indentation absolute, never doubled."""
    prefix = ctx.line_prefix
    if prefix.strip() or not first.strip():
        return first
    body = first.lstrip(" \t")
    lead = first[: len(first) - len(body)]
    if prefix and indent_width(lead) >= indent_width(prefix):
        lead = _drop_width(lead, indent_width(prefix))  # the model repeated the existing indent
    missing = indent_width(ctx.indent) - indent_width(prefix + lead)
    if ctx.mode == "block" and missing > 0:
        lead += "\t" * (missing // 4) if ctx.indent.startswith("\t") else " " * missing
    return lead + body


def _drop_width(whitespace: str, width: int) -> str:
    dropped = 0
    while whitespace and dropped < width:
        dropped += indent_width(whitespace[0])
        whitespace = whitespace[1:]
    return whitespace


def _trim_suffix_overlap(text: str, ctx: PostContext) -> str:
    """Drop a tail that the text after the cursor already supplies (auto-closed `)`, `"]`, ...)."""
    suffix = ctx.line_suffix.strip()
    while suffix and text:
        trimmed = _trim_once(text, suffix, ctx)
        if trimmed is None:
            break
        text = trimmed
    return text


def _trim_once(text: str, suffix: str, ctx: PostContext) -> str | None:
    before = _imbalance(ctx.line_prefix + text + ctx.line_suffix)
    for size in range(len(suffix), 0, -1):
        if not text.endswith(suffix[:size]):
            continue
        trimmed = text[:-size]
        after = _imbalance(ctx.line_prefix + trimmed + ctx.line_suffix)
        # a whole-suffix repeat (`;`, `) {`) goes even when brackets can't tell; once only
        whole_repeat = size == len(suffix) and after <= before and not trimmed.endswith(suffix)
        if after < before or whole_repeat:
            return trimmed
    return None


def _imbalance(code: str) -> int:
    """Unmatched brackets plus odd quote counts: how far `code` is from balanced."""
    stack: list[str] = []
    unmatched = 0
    for ch in code:
        if ch in _OPEN_TO_CLOSE:
            stack.append(_OPEN_TO_CLOSE[ch])
        elif ch in ")]}":
            if stack and stack[-1] == ch:
                stack.pop()
            else:
                unmatched += 1
    return unmatched + len(stack) + sum(code.count(q) % 2 for q in _QUOTES)


def _is_redundant(result: str, ctx: PostContext) -> bool:
    body = result.strip()
    if not body or body == ctx.line_suffix.strip():
        return True
    following = next((n.strip() for n in ctx.next_lines if n.strip()), None)
    return following is not None and _first_new_line(result, ctx) == following


def _first_new_line(result: str, ctx: PostContext) -> str:
    """The first document line the completion writes, as it will read once inserted."""
    lines = result.split("\n")
    if lines[0].strip():
        tail = ctx.line_suffix if len(lines) == 1 else ""
        return (ctx.line_prefix + lines[0] + tail).strip()
    return next((line.strip() for line in lines[1:] if line.strip()), "")


def _reopen_suffix_line(result: str, ctx: PostContext) -> str:
    """Keep closers after the cursor (`{|}`) on their own line below a block completion."""
    if ctx.mode != "block" or not ctx.line_suffix.strip() or not result:
        return result
    if not result.rsplit("\n", 1)[-1].strip():
        return result
    if "\n" not in result and ctx.line_prefix.strip():
        return result  # a one-line fill between the brackets, e.g. `foo(a, b)`
    return result + "\n" + leading_whitespace(ctx.line_prefix)
