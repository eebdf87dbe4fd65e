"""What the index keeps of a file's structure: its imports, its definitions, the names it uses.

Owns `ImportRef`, `Definition` and `FileSymbols` (compact, slotted, immutable: the index keeps
one per file for the whole workspace), as the language modules extract them, and
`used_identifiers`, the names an open buffer uses besides its imports.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# Imports this many lines below the last heading import still count as the heading.
_IMPORT_SLACK_LINES = 40

ImportKind = Literal["module", "from", "reexport", "mod", "use", "include", "system_include"]


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


def used_identifiers(text: str, symbols: FileSymbols | None) -> frozenset[str]:
    """Names `text` mentions outside its import statements (an unused import is not a use)."""
    imports = symbols.imports if symbols is not None else ()
    if not imports:
        return frozenset(IDENTIFIER.findall(text))
    # Mentions are counted only down to a little past the imports heading the file (a
    # parenthesised import spans lines); below that every mention is taken for a use (an import
    # inside a function is there to be used), and a set is much cheaper to build.
    first_definition = symbols.first_definition_line if symbols is not None else None
    heading = [i.line for i in imports if first_definition is None or i.line < first_definition]
    last = max(heading) if heading else 0
    split = _start_of_line(text, last + _IMPORT_SLACK_LINES)
    counts = Counter(IDENTIFIER.findall(text, 0, split))
    for reference in imports:
        mentioned = set(IDENTIFIER.findall(reference.module))
        for name, local in reference.names:
            mentioned.update((name, local))
        if reference.alias:
            mentioned.add(reference.alias)
        counts.subtract(mentioned)
    used = {name for name, count in counts.items() if count > 0}
    used.update(IDENTIFIER.findall(text, split))
    return frozenset(used)


def _start_of_line(text: str, line: int) -> int:
    position = 0
    for _ in range(line):
        newline = text.find("\n", position)
        if newline < 0:
            return len(text)
        position = newline + 1
    return position
