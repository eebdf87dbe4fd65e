"""What a benchmark file holds, as tree-sitter reads it: definitions, usages, local names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from sc2_lsp.context.symbols import IDENTIFIER


@dataclass(frozen=True)
class Definition:
    name: str
    file: str
    line: int  # 0-based line holding the name
    key: str  # that line, stripped: what must appear in the context
    top_level: bool  # reachable by a bare name (module-level)
    target: bool  # function, class, method or module constant (fields only disambiguate)


@dataclass(frozen=True)
class Usage:
    file: str
    line: int
    col: int  # characters
    name: str
    member: bool  # right after a `.`
    receiver: str | None = None  # the plain name before the `.`, if any


@dataclass
class FileFacts:
    definitions: list[Definition] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)  # local bindings (imports excluded)
    external: set[str] = field(default_factory=set)  # names imported from outside the project
    skip_lines: set[int] = field(default_factory=set)  # import and definition-header lines


class Source:
    def __init__(self, data: bytes, file: str) -> None:
        self.data = data
        self.file = file
        self.lines = data.split(b"\n")

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def line_key(self, line: int) -> str:
        return self.lines[line].decode("utf-8", "replace").strip()

    def col_chars(self, node: Node) -> int:
        row, column = node.start_point
        return len(self.lines[row][:column].decode("utf-8", "replace"))


def identifiers_in(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in ("identifier", "shorthand_property_identifier_pattern"):
            yield current
        elif current.type not in ("attribute", "subscript", "member_expression"):
            stack.extend(current.children)


def root_name(receiver: str) -> str:
    """`a` for receivers `a`, `a.b`, `a?.b()`: the name the member chain starts from."""
    match = IDENTIFIER.match(receiver.lstrip("(! "))
    return match.group(0) if match else receiver


class FactsWalker:
    """What both languages' walkers share: recording definitions, bindings and usages."""

    # Whether a definition's own line is no place for a cursor (the name is written there).
    skip_definition_lines = False

    def __init__(self, source: Source) -> None:
        self.src = source
        self.facts = FileFacts()

    def run(self, root: Node) -> FileFacts:
        self._visit(root, "module")
        return self.facts

    def _visit(self, node: Node, scope: str) -> None:
        raise NotImplementedError

    def _define(self, name_node: Node | None, top_level: bool, target: bool) -> None:
        if name_node is None:
            return
        line = name_node.start_point[0]
        name = self.src.text(name_node)
        self.facts.definitions.append(
            Definition(name, self.src.file, line, self.src.line_key(line), top_level, target)
        )
        if self.skip_definition_lines:
            self.facts.skip_lines.add(line)

    def _bind(self, node: Node | None) -> None:
        for identifier in identifiers_in(node):
            self.facts.bound.add(self.src.text(identifier))

    def _use(self, node: Node, *, member: bool, receiver: Node | None = None) -> None:
        self.facts.usages.append(
            Usage(
                self.src.file,
                node.start_point[0],
                self.src.col_chars(node),
                self.src.text(node),
                member,
                root_name(self.src.text(receiver)) if receiver is not None else None,
            )
        )
