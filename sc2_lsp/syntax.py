"""Cursor syntax: what kind of completion fits the cursor, and where a block ends.

Owns `analyze`, which decides whether to skip, complete one line or complete a block (see
`CompletionMode`), at which indentation the completion belongs, and whether the cursor sits
in a comment or a string, from the lines around the cursor and their tree-sitter parse (the
grammar and comment syntax come from the language table), plus the per-language rules for
what opens a block. Pure functions; never raises on odd input.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

import tree_sitter

from sc2_lsp.languages import comments_of, get_parser
from sc2_lsp.lines import CompletionMode, indent_width, leading_whitespace

__all__ = ["CompletionMode", "CursorSyntax", "analyze"]

# --- per-language text rules -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rules:
    opener: re.Pattern[str]  # matches code (comment stripped, rstripped) that opens a block
    comments: tuple[str, ...]
    quotes: str
    statement_colon: bool  # `:` opens a block only after a compound statement (Python)


@dataclass(frozen=True, slots=True)
class _Opener:
    """What ends a line that opens a block (a regex alternation), and the quotes of strings."""

    tail: str
    quotes: str = "\"'"
    colon: bool = False


_BR = r"[\[({]"
_CASE = r"|^\s*(?:case\b.*|default\s*):"
_C_LIKE = _Opener(_BR + _CASE)
_OPENERS: dict[str, _Opener] = {
    **dict.fromkeys(("python", "starlark", "gdscript"), _Opener(r"[\[({:]", colon=True)),
    **dict.fromkeys(
        ("javascript", "typescript", "tsx", "php", "dart", "scala", "vue", "svelte"),
        _Opener(_BR + r"|=>" + _CASE, "\"'`"),
    ),
    "csharp": _Opener(_BR + r"|=>" + _CASE),
    "rust": _Opener(_BR + r"|=>", '"'),
    "go": _Opener(_BR + _CASE, "\"'`"),
    **dict.fromkeys(("java", "kotlin"), _Opener(_BR + r"|->" + _CASE)),
    "ruby": _Opener(
        _BR + r"|\bdo(?:\s*\|[^|]*\|)?|\bthen|^\s*(?:def|class|module|if|unless|while|until"
        r"|case|begin|for|else|elsif|when|rescue|ensure)\b(?!.*\bend\b).*"
    ),
    "lua": _Opener(_BR + r"|\bthen|\bdo|\belse|\brepeat|\bfunction\b.*\)"),
    "bash": _Opener(r"[({]|\bthen|\bdo|\belse|^\s*case\b.*\bin"),
    "elixir": _Opener(_BR + r"|\bdo|->|\bfn"),
    "erlang": _Opener(_BR + r"|->"),
    "haskell": _Opener(_BR + r"|=|\bwhere|\bdo|\bof|->"),
    "yaml": _Opener(r"[\[{:|>]"),
}
# Without a known language: any common block opener, comment or quote counts.
_UNKNOWN = _Opener(_BR + r"|:|=>|->", "\"'`")
_UNKNOWN_COMMENTS = ("#", "//", "--")


@cache
def _rules(language: str | None) -> _Rules:
    opener = _OPENERS.get(language, _C_LIKE) if language else _UNKNOWN
    comments = comments_of(language) if language else _UNKNOWN_COMMENTS
    return _Rules(re.compile(rf"(?:{opener.tail})$"), comments, opener.quotes, opener.colon)


_COMPOUND_STATEMENT = re.compile(
    r"^\s*(?:(?:async|static)\s+)?(?:def|class|if|elif|else|for|while|try|except|finally|with"
    r"|match|case|func)\b|^\s*[)\]]"
)
_BLOCK_COLON_PARENTS = frozenset(
    ("function_definition", "class_definition", "if_statement", "elif_clause", "else_clause",
     "for_statement", "while_statement", "try_statement", "except_clause", "except_group_clause",
     "finally_clause", "with_statement", "match_statement", "case_clause")
)  # fmt: skip
_PLACEHOLDER = re.compile(
    r"^(?:pass|\.\.\.|raise NotImplementedError\b.*|(?:todo|unimplemented)!\(.*\);?"
    r"|throw new \w*(?:NotImplemented|Unsupported)\w*\(.*\);?)$"
)
_STRING_STATEMENT = re.compile(r"""^[rRbBuUfF]*(?:\"\"\"|'''|"[^"]*"$|'[^']*'$)""")
_CLASS_LIKE = re.compile(
    r"\b(?:class|interface|struct|trait|impl|module|namespace|object|enum|protocol|extension)\b"
)
_CLOSING_PUNCTUATION = frozenset(")]}\"'`;,")
_TAB_LANGUAGES = frozenset(("go", "make"))
_LINES_BEFORE = 300
_LINES_AFTER = 100
_PARSE_BEFORE, _PARSE_SEEK, _PARSE_AFTER = 50, 30, 10
_MAX_LINE_CHARS, _MAX_PARSE_CHARS = 4000, 64_000


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


# --- analysis ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CursorSyntax:
    mode: CompletionMode
    indent: str  # indentation of the lines the completion adds
    in_comment: bool
    in_string: bool


@dataclass(frozen=True, slots=True)
class _Scan:
    """What the mode rules look at: a window of lines around the cursor and its parse tree."""

    lines: tuple[str, ...]  # at most _LINES_BEFORE + 1 + _LINES_AFTER lines, no terminators
    row: int  # cursor line within `lines`
    col: int
    reaches_eof: bool  # nothing follows the last line of `lines`
    rules: _Rules
    unit: str
    tree: tree_sitter.Tree | None
    tree_row0: int  # row of `lines` where the parsed text starts


def analyze(
    text: str, offset: int, language: str | None, *, max_line_suffix: int = 8
) -> CursorSyntax:
    """Classify the cursor at code-point `offset` in `text` (see CompletionMode)."""
    lines, row, col, reaches_eof = _window(text, max(0, min(offset, len(text))))
    if len(lines[row]) > _MAX_LINE_CHARS:  # minified or generated: nothing sensible to add
        return CursorSyntax("skip", leading_whitespace(lines[row]), False, False)
    tree_row0 = _parse_start(lines, row)
    scan = _Scan(
        lines=lines,
        row=row,
        col=col,
        reaches_eof=reaches_eof,
        rules=_rules(language),
        unit=_indent_unit(lines[max(0, row - 60) : row + 20], language),
        tree=_parse(lines[tree_row0 : row + _PARSE_AFTER + 1], language),
        tree_row0=tree_row0,
    )
    prefix, suffix = lines[row][:col], lines[row][col:]
    in_comment, in_string = _lexical_state(scan, prefix)
    mode, indent = _mode(scan, prefix, suffix, in_comment or in_string, max_line_suffix)
    return CursorSyntax(mode=mode, indent=indent, in_comment=in_comment, in_string=in_string)


def _window(text: str, offset: int) -> tuple[tuple[str, ...], int, int, bool]:
    line_start = text.rfind("\n", 0, offset) + 1
    start = line_start
    for _ in range(_LINES_BEFORE):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    end, reaches_eof = offset, False
    for _ in range(_LINES_AFTER + 1):
        newline = text.find("\n", end)
        if newline == -1:
            end, reaches_eof = len(text), True
            break
        end = newline + 1
    else:
        end -= 1  # keep the last newline out so the window has no phantom blank line
        reaches_eof = end + 1 >= len(text)
    chunk = text[start:end]
    lines = tuple(line.removesuffix("\r") for line in chunk.split("\n"))
    row = chunk.count("\n", 0, line_start - start)
    return lines, row, min(offset - line_start, len(lines[row])), reaches_eof


def _parse_start(lines: tuple[str, ...], row: int) -> int:
    """First row to parse. Parsing costs ~6 µs a line (~35 µs in error recovery), so only the
    lines near the cursor are parsed; starting at an unindented line keeps the parser in step
    with real statement boundaries.
    """
    first = max(0, row - _PARSE_BEFORE)
    for start in range(first, max(0, first - _PARSE_SEEK) - 1, -1):
        if lines[start][:1].strip() and lines[start][0] not in ")]}":
            return start
    return first


def _parse(lines: tuple[str, ...], language: str | None) -> tree_sitter.Tree | None:
    parser = get_parser(language) if language else None
    if parser is None:
        return None
    source = "\n".join(lines)
    if len(source) > _MAX_PARSE_CHARS:
        return None
    try:
        return parser.parse(source.encode("utf-8", "surrogatepass"))
    except Exception:  # a parse failure must only cost us precision
        return None


def _indent_unit(lines: tuple[str, ...], language: str | None) -> str:
    tab_lines = space_lines = previous = 0
    steps: Counter[int] = Counter()
    for line in lines:
        lead = leading_whitespace(line)
        if len(lead) == len(line):
            continue
        if lead.startswith("\t"):
            tab_lines += 1
            continue
        space_lines += bool(lead)
        if 0 < len(lead) - previous <= 8:
            steps[len(lead) - previous] += 1
        previous = len(lead)
    if tab_lines > space_lines:
        return "\t"
    if steps:
        return " " * steps.most_common(1)[0][0]
    return "\t" if language in _TAB_LANGUAGES else "    "


def _byte_column(line_part: str) -> int:
    return len(line_part.encode("utf-8", "surrogatepass"))


def _lexical_state(scan: _Scan, prefix: str) -> tuple[bool, bool]:
    """(in_comment, in_string) from the tree, falling back to a line scan around parse errors."""
    tree_comment = tree_string = False
    error_near = True
    if scan.tree is not None:
        row, col = scan.row - scan.tree_row0, _byte_column(prefix)
        cursor = (row, col)
        root = scan.tree.root_node
        code_end = _byte_column(prefix.rstrip())
        last_code = root.descendant_for_point_range((row, max(code_end - 1, 0)), (row, code_end))
        error_near = _in_error(last_code)
        node = root.descendant_for_point_range((row, max(col - 1, 0)), cursor)
        in_interpolation = False
        while node is not None:
            kind = node.type
            in_interpolation = in_interpolation or "interpolation" in kind or "substitution" in kind
            inside = node.start_point < cursor < node.end_point
            if "comment" in kind and (inside or _ends_line_comment(node, cursor, prefix)):
                tree_comment = True
            elif _is_string_kind(kind) and inside and not in_interpolation:
                tree_string = True
            node = node.parent
    _, line_comment, line_string = _split_comment(prefix, scan.rules)
    in_comment = tree_comment or (error_near and line_comment)
    return in_comment, not in_comment and (tree_string or (error_near and line_string))


def _in_error(node: tree_sitter.Node | None) -> bool:
    while node is not None:
        if node.is_error or node.is_missing:
            return True
        node = node.parent
    return False


def _ends_line_comment(node: tree_sitter.Node, cursor: tuple[int, int], prefix: str) -> bool:
    closed = prefix.rstrip().endswith(("*/", "]]", "-}", "-->"))
    return node.start_point < cursor == node.end_point and not closed


def _is_string_kind(kind: str) -> bool:
    return "string" in kind or kind.endswith("char_literal") or "heredoc" in kind


def _split_comment(line: str, rules: _Rules) -> tuple[str, bool, bool]:
    """(code before any comment, ends inside a comment, ends inside a string) by a quote scan."""
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote is not None:
            i += 2 if ch == "\\" else 1
            quote = None if ch == quote else quote
            continue
        if ch in rules.quotes:
            quote = ch
        elif line.startswith("/*", i) and "/*" in rules.comments:
            close = line.find("*/", i + 2)
            if close == -1:
                return line[:i], True, False
            i = close + 1
        elif line.startswith(rules.comments, i):
            return line[:i], True, False
        i += 1
    return line, False, quote is not None


def _mode(
    scan: _Scan, prefix: str, suffix: str, in_literal: bool, max_line_suffix: int
) -> tuple[CompletionMode, str]:
    lead = leading_whitespace(scan.lines[scan.row])
    rest = suffix.strip()
    closers_only = all(ch in _CLOSING_PUNCTUATION for ch in rest)
    if not prefix.strip():
        if not closers_only:
            return "skip", lead  # the cursor sits in front of existing code
        return _empty_line_mode(scan, prefix, bool(rest))
    if suffix and _is_word_char(prefix[-1]) and _is_word_char(suffix[0]):
        return "skip", lead
    if not closers_only:
        return ("skip" if len(rest) > max_line_suffix else "line"), lead
    if not in_literal and _opens_block(scan, prefix, scan.row):
        if rest and prefix.rstrip()[-1:] in "([":
            return "line", lead  # `call(‸)`: the arguments go on this line, as typed
        return "block", lead + scan.unit
    return "line", lead


def _opens_block(scan: _Scan, code: str, row: int) -> bool:
    code = code.rstrip()
    if not scan.rules.opener.search(code):
        return False
    if scan.rules.statement_colon and code.endswith(":"):
        verdict = _tree_colon_verdict(scan.tree, row - scan.tree_row0, _byte_column(code[:-1]))
        if verdict is not None:
            return verdict
        return bool(_COMPOUND_STATEMENT.match(code)) and _bracket_depth(code) <= 0
    return True


def _tree_colon_verdict(tree: tree_sitter.Tree | None, row: int, col: int) -> bool | None:
    """Whether the parsed `:` at (row, col) introduces a block; None when the tree can't tell."""
    if tree is None or row < 0:
        return None
    node = tree.root_node.descendant_for_point_range((row, col), (row, col + 1))
    if node is None or node.type != ":" or node.parent is None or node.parent.type == "ERROR":
        return None
    return node.parent.type in _BLOCK_COLON_PARENTS


def _bracket_depth(code: str) -> int:
    return sum(code.count(ch) for ch in "([{") - sum(code.count(ch) for ch in ")]}")


def _line_opens_block(scan: _Scan, row: int) -> bool:
    if len(scan.lines[row]) > _MAX_LINE_CHARS:
        return False
    code, _, in_string = _split_comment(scan.lines[row], scan.rules)
    return not in_string and _opens_block(scan, code, row)


def _empty_line_mode(scan: _Scan, prefix: str, closes_line: bool) -> tuple[CompletionMode, str]:
    """Mode for a cursor on a blank line (possibly followed by closing brackets)."""
    lines, row = scan.lines, scan.row
    opener = _governing_opener(scan, prefix)
    if opener is not None and _block_is_trivial(scan, opener, closes_line):
        opener_indent = leading_whitespace(lines[opener])
        deeper = indent_width(prefix) > indent_width(
            opener_indent
        )  # the editor already indented the line
        return "block", prefix if deeper else opener_indent + scan.unit
    if closes_line:
        return "line", prefix
    following = _next_nonblank(lines, row)
    at_eof = following is None and scan.reaches_eof
    if at_eof and not prefix:
        return "block", prefix
    scope_ends = at_eof or (
        following is not None
        and indent_width(leading_whitespace(lines[following])) < indent_width(prefix)
    )
    if scope_ends and opener is not None and _CLASS_LIKE.search(lines[opener]):
        return "block", prefix
    return "line", prefix


def _prev_nonblank(lines: tuple[str, ...], row: int) -> int | None:
    return next((r for r in range(row - 1, -1, -1) if lines[r].strip()), None)


def _next_nonblank(lines: tuple[str, ...], row: int) -> int | None:
    return next((r for r in range(row + 1, len(lines)) if lines[r].strip()), None)


def _governing_opener(scan: _Scan, prefix: str) -> int | None:
    """The block opener the blank cursor line belongs to: the line above, or the enclosing one."""
    lines = scan.lines
    row = _prev_nonblank(lines, scan.row)
    if row is None or _line_opens_block(scan, row):
        return row
    width = indent_width(prefix)
    while width and row is not None:
        if indent_width(leading_whitespace(lines[row])) < width:
            return row if _line_opens_block(scan, row) else None
        row = _prev_nonblank(lines, row)
    return None


def _block_is_trivial(scan: _Scan, opener: int, closes_line: bool) -> bool:
    """True when the block under `opener` holds nothing but placeholders, docstrings or comments."""
    lines, row = scan.lines, scan.row
    opener_width = indent_width(leading_whitespace(lines[opener]))
    in_docstring = False
    for r in range(opener + 1, row if closes_line else len(lines)):
        stripped = lines[r].strip()
        if r == row or not stripped:
            continue
        if not in_docstring and indent_width(leading_whitespace(lines[r])) <= opener_width:
            break
        triple_quotes = stripped.count('"""') + stripped.count("'''")
        if in_docstring or triple_quotes:
            in_docstring = in_docstring != (triple_quotes % 2 == 1)
            continue
        if not _is_trivial_line(stripped, scan.rules):
            return False
    return True


def _is_trivial_line(stripped: str, rules: _Rules) -> bool:
    return bool(
        _PLACEHOLDER.match(stripped)
        or stripped.startswith((*rules.comments, "*"))
        or (rules.statement_colon and _STRING_STATEMENT.match(stripped))
    )
