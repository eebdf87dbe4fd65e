"""What a language module gives repository context, and what it builds on.

Owns `LanguageSupport` (one language family's symbol extraction, import resolution and class
header reading), the types import resolution works with (`FileOracle`, the only way a
resolver learns about files, so only files the index may read can be resolved; `ProjectLayout`,
build-system facts: Python source roots, Go modules, Cargo crates, Java source roots, C include
directories, tsconfig files; `ResolvedImport`) and the helpers extractors share while walking a
tree-sitter tree (`Source`, `Sink`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tree_sitter import Node

from sc2_lsp.context.symbols import Definition, FileSymbols, ImportRef

# A wildcard or package import pulls in at most this many files.
MAX_PACKAGE_FILES = 24

_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})
# A comment block longer than this above a definition is a licence or banner, not its doc.
_MAX_DOC_LINES = 40


class FileOracle(Protocol):
    """What resolution may ask about the tree: only allowed files exist for it."""

    def is_file(self, path: Path) -> bool: ...

    def files_in(self, directory: Path) -> Sequence[Path]: ...

    def files_named(self, name: str) -> Sequence[Path]: ...

    def read_small_text(self, path: Path) -> str | None: ...


@dataclass(frozen=True)
class ProjectLayout:
    """Build-system facts gathered while indexing; replaced wholesale when they change."""

    roots: tuple[Path, ...] = ()
    python_roots: tuple[Path, ...] = ()
    go_modules: tuple[tuple[str, Path], ...] = ()
    rust_crates: tuple[tuple[str, Path], ...] = ()
    java_roots: tuple[Path, ...] = ()
    include_dirs: tuple[Path, ...] = ()
    script_configs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ResolvedImport:
    """An import resolved to one workspace file.

    `names` are (name in target, local name) pairs to look up; empty means the whole module is
    bound to `alias` (or to its own name) and any of its definitions the file uses may matter.
    """

    target: Path
    names: tuple[tuple[str, str], ...]
    alias: str | None
    line: int


_EXTENDS = re.compile(r"\b(?:extends|implements)\s+([\w$.]+(?:\s*,\s*[\w$.]+)*)")
_COLON_BASES = re.compile(r"^[^:({]*\w\s*:\s*([^{]+?)\s*\{?\s*$")
_BASE_QUALIFIERS = frozenset({"public", "protected", "private", "virtual", "open"})


def braced_class_bases(header: str) -> list[str]:
    """Bases of a brace-language class header: `extends B implements I`, `struct S : public B`."""
    flat = " ".join(header.split("{", 1)[0].split())
    found = [name for match in _EXTENDS.finditer(flat) for name in match.group(1).split(",")]
    if not found:
        colon = _COLON_BASES.match(flat)
        if colon is not None:
            for item in split_top_level(colon.group(1)):
                tokens = [t for t in item.replace("::", ".").split() if t not in _BASE_QUALIFIERS]
                if tokens:
                    found.append(tokens[0].split("<", 1)[0].split("(", 1)[0])
    return [name.strip() for name in found if name.strip()]


def split_top_level(text: str) -> list[str]:
    """`text` split at the commas outside any brackets."""
    items: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "([<{":
            depth += 1
        elif char in ")]>}":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


Extractor = Callable[[Node, "Source", "Sink"], "str | None"]
"""Walks a file's syntax tree into the sink; returns the file's package (Java), else None."""
Resolver = Callable[[Path, ImportRef, FileSymbols, ProjectLayout, FileOracle], list[ResolvedImport]]
"""The workspace files one import of a file names."""


# Compared and hashed by identity: the registry looks modules up on every extraction and render.
@dataclass(frozen=True, eq=False)
class LanguageSupport:
    """What repository context knows about one family of languages."""

    languages: tuple[str, ...]
    """Names from the language table (`sc2_lsp.languages`) this family covers."""
    extract: Extractor
    resolve: Resolver
    class_bases: Callable[[str], list[str]] = braced_class_bases
    """The base classes a class-like definition's header names."""
    indented_bodies: bool = False
    """Bodies are set off by indentation and start with their docstring (Python)."""


class Source:
    """UTF-8 source bytes with node-text decoding."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


class Sink:
    """Accumulates imports and definitions while a file is walked."""

    __slots__ = ("definitions", "imports")

    def __init__(self) -> None:
        self.definitions: list[Definition] = []
        self.imports: list[ImportRef] = []

    def add_import(self, reference: ImportRef) -> None:
        self.imports.append(reference)

    def is_class(self, index: int) -> bool:
        return self.definitions[index].is_container

    def container_name(self, index: int | None) -> str | None:
        return None if index is None else self.definitions[index].name

    def add_definition(
        self,
        name: str,
        kind: str,
        outer: Node,
        *,
        parent: int | None,
        body: Node | None,
        doc: Node | tuple[int, int] | None = None,
        is_container: bool = False,
        container: str | None = None,
        start_byte: int | None = None,
    ) -> int:
        if isinstance(doc, Node):
            doc_span: tuple[int, int] | None = (doc.start_byte, doc.end_byte)
        else:
            doc_span = doc
        start = outer.start_byte if start_byte is None else start_byte
        self.definitions.append(
            Definition(
                name=name,
                kind=kind,
                container=container if container is not None else self.container_name(parent),
                parent=parent,
                start_byte=start,
                end_byte=outer.end_byte,
                start_line=outer.start_point[0],
                end_line=_last_line(outer),
                body_start=body.start_byte if body is not None else None,
                doc_start=doc_span[0] if doc_span else None,
                doc_end=doc_span[1] if doc_span else None,
                is_container=is_container,
            )
        )
        return len(self.definitions) - 1

    def add_documented(
        self,
        name: str,
        kind: str,
        outer: Node,
        *,
        parent: int | None,
        body: Node | None = None,
        container: str | None = None,
    ) -> int:
        """`add_definition` with the comment block right above `outer` as the doc."""
        doc = self.leading_comment(outer)
        return self.add_definition(
            name, kind, outer, parent=parent, body=body, doc=doc, container=container
        )

    def leading_comment(self, node: Node) -> tuple[int, int] | None:
        """The comment block directly above `node` (no blank line between), if any."""
        end_node: Node | None = None
        start_node: Node | None = None
        expected_row = node.start_point[0]
        current = node.prev_sibling
        while current is not None and current.type in _COMMENT_TYPES:
            if current.end_point[0] < expected_row - 1:
                break
            if end_node is None:
                end_node = current
            start_node = current
            expected_row = current.start_point[0]
            current = current.prev_sibling
        if start_node is None or end_node is None:
            return None
        if end_node.end_point[0] - start_node.start_point[0] > _MAX_DOC_LINES:
            return None
        return (start_node.start_byte, end_node.end_byte)


def _last_line(node: Node) -> int:
    # A node ending right after a newline (macros, `///` comments) ends on the previous line.
    row, column = node.end_point
    return row - 1 if column == 0 and row > node.start_point[0] else row


def leading_siblings(node: Node, types: frozenset[str]) -> Node:
    """The earliest directly preceding sibling of one of `types` (Rust attributes), or `node`."""
    first = node
    current = node.prev_sibling
    while current is not None and current.type in types:
        first = current
        current = current.prev_sibling
    return first
