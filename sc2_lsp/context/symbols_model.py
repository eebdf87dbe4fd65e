"""Data model of extracted symbols, and the small helpers extractors share.

Owns `ImportRef`, `Definition` and `FileSymbols` (compact, slotted, immutable: the index keeps
one per file for the whole workspace) and `Sink`/`Source`, the accumulator and byte-slicing
helpers used by the per-language extractors.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tree_sitter import Node

ImportKind = Literal["module", "from", "reexport", "mod", "use", "include", "system_include"]

_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})
# A comment block longer than this above a definition is a licence or banner, not its doc.
_MAX_DOC_LINES = 40


@dataclass(frozen=True, slots=True)
class ImportRef:
    """One import as written in the file, before resolution to workspace files.

    `module` is the raw specifier (`pkg.mod`, `..util`, `./a`, `example.com/x/y`,
    `crate::a::b`, `com.x`, `foo.h`); `names` pairs each imported name with its local name
    (`("*", "*")` for wildcards, empty for a whole-module import); `alias` is the local name of
    a whole-module import (`import x as m`, `* as ns`, a Go package alias).
    """

    kind: ImportKind
    module: str
    names: tuple[tuple[str, str], ...]
    alias: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Definition:
    """A definition with the spans needed to render it whole or as a signature.

    Byte offsets index the UTF-8 source the symbols were extracted from.  `body_start` is where
    the body begins (None when the whole definition is its signature, e.g. a type alias);
    `doc_start`/`doc_end` bound the docstring or leading doc comment.  `parent` is the index of
    the enclosing class-like definition in the same file; `container` its name (or a Go/Rust
    receiver type, or a C++ `Class::` qualifier).
    """

    name: str
    kind: str
    container: str | None
    parent: int | None
    start_byte: int
    end_byte: int
    start_line: int
    end_line: int
    body_start: int | None
    doc_start: int | None
    doc_end: int | None
    is_container: bool


# Plain tuples of strings/ints are the storage format: CPython's cyclic garbage collector stops
# tracking such tuples, so a whole-workspace index adds almost nothing to each collection's
# work (slotted objects would be traversed on every full collection: ~0.4 s for 10k files).
_ImportRow = tuple[ImportKind, str, tuple[tuple[str, str], ...], "str | None", int]
_DefinitionRow = tuple[
    str, str, "str | None", "int | None", int, int, int, int, "int | None", "int | None",
    "int | None", bool,
]  # fmt: skip
_MATERIALISED_FILES = 512


@dataclass(frozen=True)
class FileSymbols:
    """Everything the index keeps about one parsed file's structure.

    Stored as rows; `imports` and `definitions` materialise objects on demand (cached for
    recently used files, for as long as the files' symbols live).
    """

    # Slotted by hand rather than with `slots=True` (Python 3.10 has no `weakref_slot`): the
    # cache of materialised objects refers to the symbols weakly.
    __slots__ = ("__weakref__", "definition_rows", "import_rows", "language", "package")

    language: str
    import_rows: tuple[_ImportRow, ...]
    definition_rows: tuple[_DefinitionRow, ...]
    package: str | None

    def __reduce__(self) -> tuple[type[FileSymbols], tuple[object, ...]]:
        # What `slots=True` provided: frozen slotted instances do not unpickle by default.
        return FileSymbols, (self.language, self.import_rows, self.definition_rows, self.package)

    @classmethod
    def build(
        cls,
        language: str,
        imports: Sequence[ImportRef],
        definitions: Sequence[Definition],
        package: str | None,
    ) -> FileSymbols:
        return cls(
            language=language,
            import_rows=tuple((i.kind, i.module, i.names, i.alias, i.line) for i in imports),
            definition_rows=tuple(
                (
                    d.name,
                    d.kind,
                    d.container,
                    d.parent,
                    d.start_byte,
                    d.end_byte,
                    d.start_line,
                    d.end_line,
                    d.body_start,
                    d.doc_start,
                    d.doc_end,
                    d.is_container,
                )
                for d in definitions
            ),
            package=package,
        )

    @property
    def definition_names(self) -> tuple[str, ...]:
        return tuple(row[0] for row in self.definition_rows)

    @property
    def first_definition_line(self) -> int | None:
        """The line where the earliest definition starts (None without any)."""
        return min((row[6] for row in self.definition_rows), default=None)

    def definition(self, index: int) -> Definition:
        """Definition `index` alone, without materialising the whole file's definitions."""
        found = _materialised_cache.get(id(self))
        if found is not None and found[0]() is self:
            return found[2][index]
        return Definition(*self.definition_rows[index])

    @property
    def imports(self) -> tuple[ImportRef, ...]:
        return _materialised(self)[0]

    @property
    def definitions(self) -> tuple[Definition, ...]:
        return _materialised(self)[1]


_materialised_lock = threading.RLock()
_materialised_cache: dict[
    int, tuple[weakref.ref[FileSymbols], tuple[ImportRef, ...], tuple[Definition, ...]]
] = {}
"""id(symbols) → (weak reference to them, their imports, their definitions).

Weak, because an open buffer is re-extracted whenever typing pauses (every keystroke at a
human pace) and each version was materialised: held strongly, the superseded versions of the
file being edited filled all `_MATERIALISED_FILES` slots, each a whole copy of the file's
symbols (an ever larger one as the file grew). Now an entry leaves when its symbols are freed.
"""


def _materialised(symbols: FileSymbols) -> tuple[tuple[ImportRef, ...], tuple[Definition, ...]]:
    key = id(symbols)
    # Lock-free hit path (a dict read is atomic); eviction is first-in-first-out.
    found = _materialised_cache.get(key)
    if found is not None and found[0]() is symbols:
        return found[1], found[2]
    imports = tuple(ImportRef(*row) for row in symbols.import_rows)
    definitions = tuple(Definition(*row) for row in symbols.definition_rows)
    reference = weakref.ref(symbols, lambda dead: _forget_materialised(key, dead))
    with _materialised_lock:
        _materialised_cache[key] = (reference, imports, definitions)
        while len(_materialised_cache) > _MATERIALISED_FILES:
            del _materialised_cache[next(iter(_materialised_cache))]
    return imports, definitions


def _forget_materialised(key: int, reference: weakref.ref[FileSymbols]) -> None:
    """The symbols behind `reference` were freed: drop their materialised objects too."""
    with _materialised_lock:  # reentrant: the last reference may go while this thread holds it
        found = _materialised_cache.get(key)
        if found is not None and found[0] is reference:
            del _materialised_cache[key]


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
