"""Rendering a definition as prompt text: whole, as a signature, or as a class outline.

Owns the text transformations on a file's bytes given its `FileSymbols` spans: a signature is
the definition up to its body (plus docstring) with the body elided; an outline is a class-like
definition with its members' bodies elided; a member rendered alone keeps its container's header
line so the model sees where it lives.  Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sc2_lsp.context.languages import support_for
from sc2_lsp.context.symbols import Definition, FileSymbols

_WORD = re.compile(rb"\w")
_ELLIPSIS = b"..."
_BRACE_ELISION = b"{ ... }"
# Signatures and outlines keep a docstring's or doc comment's summary, not its whole text:
# API reference prose (argument lists, examples) would crowd out other definitions.
_MAX_DOC_LINES = 3
_STRING_PREFIX = b"rRuUbBfF"


@dataclass(frozen=True)
class RenderedDefinition:
    """Prompt text for a definition and the source lines [start_line, end_line) it covers."""

    text: str
    start_line: int
    end_line: int


def render_definition(
    source: bytes,
    symbols: FileSymbols,
    index: int,
    *,
    full: bool,
    max_lines: int,
    expanded: frozenset[int] = frozenset(),
    wrap: bool = True,
    brief: bool = False,
    terse: bool = False,
) -> RenderedDefinition | None:
    """Render definition `index`; `full=False` gives its signature/outline.

    `expanded` lists members kept whole inside an outline; `wrap=False` leaves a member without
    its container's header; `brief` gives a class-like definition's header alone, without the
    outline of its members; `terse` leaves a signature's documentation out.  Returns None when
    the requested form is unavailable (a full body longer than `max_lines`).
    """
    definitions = symbols.definitions
    if not 0 <= index < len(definitions):
        return None
    definition = definitions[index]
    if definition.end_byte > len(source):
        return None
    indented = _indented_bodies(symbols.language)
    terse = terse and not full
    first = definition.start_byte if terse else _first_byte(definition)
    start = _line_start(source, first)
    if source[start:first].strip():
        # Something else shares the line (`mod m { fn f() {} }`): start at the definition.
        start = first
    start_line = definition.start_line - source.count(b"\n", start, definition.start_byte)
    end = _line_end(source, definition.end_byte)
    if _WORD.search(source, definition.end_byte, end):
        # The line goes on with other code; a trailing `;` or `,` still belongs here.
        end = definition.end_byte
    line_count = definition.end_line - start_line + 1
    if full:
        if line_count > max_lines:
            return None
        body = source[start:end]
    elif definition.is_container and not brief:
        body = _outline(source, symbols, index, start, end, indented, expanded)
    elif definition.body_start is not None:
        body = _signature(source, definition, start, indented, terse)
    else:
        body = source[start:end]
    body = _cap_lines(body, max_lines)
    text = body
    parent = definitions[definition.parent] if definition.parent is not None else None
    if wrap and parent is not None and parent.start_line < start_line:
        text = _inside_container(source, parent, body, indented)
    end_line = definition.end_line + 1
    if brief and definition.is_container and not full:
        # Only the header is shown: the members' lines stay free for other snippets.
        end_line = min(end_line, definition.start_line + body.count(b"\n") + 1)
    return RenderedDefinition(
        text=text.decode("utf-8", errors="replace"),
        start_line=start_line,
        end_line=end_line,
    )


def render_selection(
    source: bytes,
    symbols: FileSymbols,
    selection: dict[int, bool],
    *,
    max_lines: int,
    brief: frozenset[int] = frozenset(),
    terse: frozenset[int] = frozenset(),
) -> list[RenderedDefinition]:
    """Render several definitions of one file (index → full?) without repeating text.

    Members of a selected container go inside its outline; members selected without their
    container share one copy of its header; containers in `brief` with no member selected
    show their header alone; signatures in `terse` come without their documentation.  Pieces
    come back in file order.
    """
    definitions = symbols.definitions
    ordered = sorted(
        (i for i in selection if 0 <= i < len(definitions)),
        key=lambda i: (definitions[i].start_byte, -definitions[i].end_byte),
    )
    covered: set[int] = set()
    pieces: list[RenderedDefinition] = []
    for index in ordered:
        if index in covered:
            continue
        definition = definitions[index]
        parent_index = definition.parent
        if definition.is_container:
            inside = [j for j in ordered if j != index and _within(definitions[j], definition)]
            covered.update(inside)
            rendered = _render_container(
                source, symbols, index, inside, selection, max_lines, brief, terse
            )
        elif (
            parent_index is not None
            and parent_index not in selection
            and definitions[parent_index].start_line < definition.start_line
        ):
            siblings = [
                j
                for j in ordered
                if j not in covered
                and definitions[j].parent == parent_index
                and not definitions[j].is_container
            ]
            covered.update(siblings)
            rendered = _render_siblings(
                source, symbols, parent_index, siblings, selection, max_lines, terse
            )
        else:
            rendered = render_definition(
                source,
                symbols,
                index,
                full=selection[index],
                max_lines=max_lines,
                terse=index in terse,
            ) or render_definition(source, symbols, index, full=False, max_lines=max_lines)
        if rendered is not None:
            pieces.append(rendered)
    return pieces


def _render_container(
    source: bytes,
    symbols: FileSymbols,
    index: int,
    inside: list[int],
    selection: dict[int, bool],
    max_lines: int,
    brief: frozenset[int],
    terse: frozenset[int],
) -> RenderedDefinition | None:
    """A selected class-like definition: whole, its header alone, or its outline with the
    selected members (`inside`) expanded."""
    rendered = None
    if selection[index]:
        rendered = render_definition(source, symbols, index, full=True, max_lines=max_lines)
    elif index in brief and not inside:
        rendered = render_definition(
            source,
            symbols,
            index,
            full=False,
            max_lines=max_lines,
            brief=True,
            terse=index in terse,
        )
    if rendered is None:
        expanded = frozenset(j for j in inside if selection[j])
        rendered = render_definition(
            source, symbols, index, full=False, max_lines=max_lines, expanded=expanded
        )
    return rendered


def _render_siblings(
    source: bytes,
    symbols: FileSymbols,
    parent_index: int,
    members: list[int],
    selection: dict[int, bool],
    max_lines: int,
    terse: frozenset[int] = frozenset(),
) -> RenderedDefinition | None:
    bodies: list[RenderedDefinition] = []
    for member in members:
        rendered = render_definition(
            source,
            symbols,
            member,
            full=selection[member],
            max_lines=max_lines,
            wrap=False,
            terse=member in terse,
        )
        if rendered is None:
            rendered = render_definition(
                source, symbols, member, full=False, max_lines=max_lines, wrap=False
            )
        if rendered is not None:
            bodies.append(rendered)
    if not bodies:
        return None
    joined = "\n".join(body.text for body in bodies).encode("utf-8")
    text = _inside_container(
        source, symbols.definitions[parent_index], joined, _indented_bodies(symbols.language)
    )
    return RenderedDefinition(
        text=text.decode("utf-8", errors="replace"),
        start_line=bodies[0].start_line,
        end_line=bodies[-1].end_line,
    )


def _within(inner: Definition, outer: Definition) -> bool:
    return inner.start_byte >= outer.start_byte and inner.end_byte <= outer.end_byte


def _first_byte(definition: Definition) -> int:
    if definition.doc_start is not None and definition.doc_start < definition.start_byte:
        return definition.doc_start
    return definition.start_byte


def _signature(
    source: bytes, definition: Definition, start: int, indented: bool, terse: bool = False
) -> bytes:
    body_start = definition.body_start if definition.body_start is not None else definition.end_byte
    docs = _doc_spans([definition])
    if terse:
        elision = _ELLIPSIS if indented else _BRACE_ELISION
        return _copy_capping_docs(source, start, body_start, docs).rstrip() + b" " + elision
    if indented:
        if (
            definition.doc_start is not None
            and definition.doc_end is not None
            and (definition.doc_start >= body_start)
        ):
            indent = _indent_at(source, definition.doc_start)
            head = _copy_capping_docs(source, start, definition.doc_end, docs)
            return head + b"\n" + indent + _ELLIPSIS
        return _copy_capping_docs(source, start, body_start, docs).rstrip() + b" " + _ELLIPSIS
    head = _copy_capping_docs(source, start, body_start, docs).rstrip()
    return head + b" " + _BRACE_ELISION


def _doc_spans(definitions: list[Definition]) -> list[tuple[int, int]]:
    return sorted(
        (d.doc_start, d.doc_end)
        for d in definitions
        if d.doc_start is not None and d.doc_end is not None
    )


def _copy_capping_docs(source: bytes, start: int, end: int, docs: list[tuple[int, int]]) -> bytes:
    """source[start:end] with each doc span inside it cut to its summary."""
    pieces: list[bytes] = []
    cursor = start
    for doc_start, doc_end in docs:
        if doc_start < cursor or doc_end > end:
            continue
        pieces.append(source[cursor:doc_start])
        pieces.append(_capped_doc(source[doc_start:doc_end]))
        cursor = doc_end
    pieces.append(source[cursor:end])
    return b"".join(pieces)


def _capped_doc(doc: bytes) -> bytes:
    """A docstring or comment block cut after its first paragraph (at most a few lines)."""
    lines = doc.split(b"\n")
    if len(lines) <= _MAX_DOC_LINES + 1:
        return doc
    kept = [lines[0]]
    for line in lines[1:_MAX_DOC_LINES]:
        if not line.strip():
            break
        kept.append(line)
    opening = doc.lstrip(_STRING_PREFIX)
    # The closing line's indentation (a docstring's first line has none of its own).
    indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())]
    for quote in (b'"""', b"'''"):
        if opening.startswith(quote):
            return b"\n".join([*kept, indent + quote])
    if doc.startswith(b"/*"):
        return b"\n".join([*kept, indent + b"*/"])
    return b"\n".join(kept)


def _outline(
    source: bytes,
    symbols: FileSymbols,
    index: int,
    start: int,
    end: int,
    indented: bool,
    expanded: frozenset[int],
) -> bytes:
    container = symbols.definitions[index]
    members = sorted(
        (
            member
            for position, member in enumerate(symbols.definitions)
            if position != index
            and position not in expanded
            and not member.is_container
            and member.body_start is not None
            and member.start_byte >= container.start_byte
            and member.end_byte <= container.end_byte
        ),
        key=lambda member: member.start_byte,
    )
    docs = _doc_spans([container, *members])
    pieces: list[bytes] = []
    cursor = start
    for member in members:
        if member.start_byte < cursor or member.body_start is None:
            continue
        cut = member.body_start
        if (
            indented
            and member.doc_start is not None
            and member.doc_end is not None
            and (member.doc_start >= cut)
        ):
            indent = _indent_at(source, member.doc_start)
            head = _copy_capping_docs(source, cursor, member.doc_end, docs)
            pieces.append(head + b"\n" + indent + _ELLIPSIS)
        else:
            elision = _ELLIPSIS if indented else _BRACE_ELISION
            pieces.append(_copy_capping_docs(source, cursor, cut, docs).rstrip() + b" " + elision)
        cursor = member.end_byte
    pieces.append(_copy_capping_docs(source, cursor, end, docs))
    return b"".join(pieces)


def _inside_container(source: bytes, container: Definition, body: bytes, indented: bool) -> bytes:
    header_start = _line_start(source, container.start_byte)
    header_end = container.body_start if container.body_start is not None else container.end_byte
    header = source[header_start:header_end].rstrip()
    first_line_end = header.find(b"\n", 0)
    if container.body_start is None and first_line_end >= 0:
        header = header[:first_line_end]
    if indented:
        return header + b"\n" + body
    if not header.endswith(b"{"):
        header += b" {"
    return header + b"\n" + body + b"\n}"


def _cap_lines(body: bytes, max_lines: int) -> bytes:
    if body.count(b"\n") < max_lines:
        return body
    lines = body.split(b"\n")[:max_lines]
    indent = _indent_at(lines[-1], 0) if lines else b""
    return b"\n".join([*lines, indent + _ELLIPSIS])


def _line_start(source: bytes, position: int) -> int:
    return source.rfind(b"\n", 0, position) + 1


def _line_end(source: bytes, position: int) -> int:
    if position > 0 and source[position - 1 : position] == b"\n":
        return position - 1
    newline = source.find(b"\n", position)
    return len(source) if newline < 0 else newline


def _indent_at(source: bytes, position: int) -> bytes:
    start = _line_start(source, position)
    end = start
    while end < len(source) and source[end : end + 1] in (b" ", b"\t"):
        end += 1
    return source[start:end]


def _indented_bodies(language: str) -> bool:
    """Whether bodies go by indentation and start with their docstring (Python)."""
    support = support_for(language)
    return support is not None and support.indented_bodies
