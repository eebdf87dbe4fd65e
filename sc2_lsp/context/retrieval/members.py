"""Definitions for a member completion (`receiver.|`): what the receiver is, and its members.

Owns resolving the receiver before the cursor to the modules and classes whose members it can
name — an imported module (its top-level definitions, through one level of re-exports),
`self`/`this`/`cls` (the enclosing class and its base classes, up to three levels), or a value
whose class comes from an annotation or constructor call in the buffer or, failing that, from
its name (`npm` → `Npm`, `edge_set` → `EdgeSet`) — and ranking those members: the prefix typed
so far, words shared with the code before the cursor, names the buffer already uses, public
before private.  Member candidates outrank every other definition: they are what the cursor is
asking for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sc2_lsp.context.index import FileRecord, WorkspaceIndex
from sc2_lsp.context.languages import ResolvedImport, support_for
from sc2_lsp.context.languages.base import braced_class_bases
from sc2_lsp.context.retrieval.caches import GatherCache
from sc2_lsp.context.retrieval.focus import Focus
from sc2_lsp.context.retrieval.selection import Listing
from sc2_lsp.context.retrieval.similar import STOP_WORDS
from sc2_lsp.context.symbols import IDENTIFIER, Definition

MEMBER_SCORE = 3.0
_MAX_MEMBERS = 200
_MAX_OWNERS = 6
_MAX_BASE_DEPTH = 3
_MAX_REEXPORT_MODULES = 24
_SELF = frozenset({"self", "this", "cls", "super", "super()", "Self", "static"})
_CONSTRUCTORS = frozenset({"constructor", "__init__", "__new__", "__post_init__", "new"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


@dataclass(frozen=True)
class _Owner:
    """A module (`container` None: its top level) or class whose members may be completed."""

    record: FileRecord
    container: int | None
    depth: int
    source: str  # "import" or "definition"


def words(name: str) -> frozenset[str]:
    """Lower-case words of an identifier: `getHTTPSession_id` → {get, http, session, id}."""
    return frozenset(word.lower() for word in _WORD.findall(name) if len(word) > 1)


def class_name_guess(name: str) -> str:
    """The class a variable is likely an instance of: `npm` → `Npm`, `edge_set` → `EdgeSet`."""
    parts = [part for part in name.strip("_#$").split("_") if part]
    return "".join(part[:1].upper() + part[1:] for part in parts)


class MemberFinder:
    """Member candidates for one request whose cursor follows `receiver.`."""

    def __init__(
        self,
        index: WorkspaceIndex,
        cache: GatherCache,
        record: FileRecord,
        focus: Focus,
        imports: list[ResolvedImport],
        limit: int,
    ) -> None:
        self.index = index
        self.cache = cache
        self.record = record
        self.focus = focus
        self.imports = imports
        self.limit = limit
        self._seen: set[tuple[Path, int | None]] = set()

    def listings(self) -> list[Listing]:
        """One listing per class or module the receiver may be, most likely first."""
        receiver = self.focus.receiver
        if receiver is None or self.record.symbols is None:
            return []
        owners = list(self._owners(receiver.split(".")))[:_MAX_OWNERS]
        return self._rank(owners)

    # ------------------------------------------------------------------ receivers

    def _owners(self, parts: list[str]) -> Iterator[_Owner]:
        root = parts[0]
        if root in _SELF or root.endswith("super()"):
            enclosing = self._enclosing_class()
            if len(parts) == 1:
                if enclosing is not None:
                    if root not in ("super", "super()"):
                        yield from self._owner(self.record, enclosing, 0, "definition")
                    yield from self._bases(self.record, enclosing, 1)
                return
            parts = parts[1:]
        modules = [r for r in self.imports if not r.names and r.alias == root]
        modules += [r for r in self.imports for name, local in r.names if local == root]
        if modules:
            for resolved in modules:
                target = self.index.record(resolved.target)
                if target is None or target.symbols is None:
                    continue
                if not resolved.names:
                    yield from self._module(target, parts[1:], root)
                else:
                    # `from pkg import name`: a submodule, or a class whose members are wanted.
                    name = next(n for n, local in resolved.names if local == root)
                    for owner, position in self._exported(target, name):
                        yield from self._follow(owner, position, parts[1:], 1, "import")
            return
        last = parts[-1].removesuffix("()")
        if len(parts) == 1 and parts[-1].endswith("()") and not last[:1].isupper():
            return
        for owner, position in self._typed(last):
            yield from self._owner(owner, position, 1, "definition")

    def _module(self, target: FileRecord, rest: list[str], alias: str) -> Iterator[_Owner]:
        if not rest:
            yield from self._owner(target, None, 1, "import")
            # `X = require('./x')` binding a class: its static members are named through X.
            for position in self._default_classes(target, alias):
                yield from self._owner(target, position, 1, "import")
            return
        for owner, position in self._exported(target, rest[0]):
            yield from self._follow(owner, position, rest[1:], 1, "import")

    def _follow(
        self, owner: FileRecord, position: int, rest: list[str], depth: int, source: str
    ) -> Iterator[_Owner]:
        if owner.symbols is None or rest:
            return
        if owner.symbols.definition(position).is_container:
            yield from self._owner(owner, position, depth, source)

    def _owner(
        self, record: FileRecord, container: int | None, depth: int, source: str
    ) -> Iterator[_Owner]:
        key = (record.path, container)
        if key in self._seen:
            return
        self._seen.add(key)
        yield _Owner(record, container, depth, source)

    def _enclosing_class(self) -> int | None:
        symbols = self.record.symbols
        name = self.focus.enclosing_class
        if symbols is None or name is None:
            return None
        line = self.focus.cursor_line
        for position, definition in enumerate(symbols.definitions):
            if (
                definition.is_container
                and definition.name == name
                and definition.start_line <= line <= definition.end_line
            ):
                return position
        return None

    def _bases(self, record: FileRecord, container: int, depth: int) -> Iterator[_Owner]:
        if depth > _MAX_BASE_DEPTH or record.symbols is None:
            return
        header = self._header(record, record.symbols.definitions[container])
        for base in base_names(header, record.symbols.language):
            for owner, position in self._class_named(base, record):
                for found in self._owner(owner, position, depth, "import"):
                    yield found
                    yield from self._bases(owner, position, depth + 1)

    def _header(self, record: FileRecord, definition: Definition) -> str:
        if record is self.record or record.path == self.focus.path:
            text = self.focus.text
            first = definition.start_line
            return self.focus.lines(first, first + 8) if text else ""
        loaded = self.index.source_for(record)
        if loaded is None or loaded[0] is not record:
            return ""  # changed on disk since it was indexed: its spans no longer apply
        data = loaded[1]
        end = definition.body_start if definition.body_start is not None else definition.end_byte
        return data[definition.start_byte : min(end, definition.start_byte + 600)].decode(
            "utf-8", errors="replace"
        )

    def _typed(self, name: str) -> Iterator[tuple[FileRecord, int]]:
        """Classes `name` holds an instance of, from the buffer's annotations or its name."""
        guesses = _annotated_types(self.focus.text, name, self.focus.offset)
        # `npm` → `Npm`, and the name itself for lower-case classes (`settings`).
        for guess in (class_name_guess(name), name.strip("_#$")):
            if guess and guess not in guesses:
                guesses.append(guess)
        for type_name in guesses:
            found = list(self._class_named(type_name, self.record))
            if found:
                yield from found
                return

    # ------------------------------------------------------------------ lookups

    def _class_named(self, dotted: str, context: FileRecord) -> Iterator[tuple[FileRecord, int]]:
        """Class-like definitions `dotted` names from `context` (imports first)."""
        parts = dotted.split(".")
        name = parts[-1]
        imports = self.imports if context is self.record else self.index.resolved_imports(context)
        if len(parts) > 1:
            for resolved in imports:
                if not resolved.names and resolved.alias == parts[0]:
                    target = self.index.record(resolved.target)
                    if target is not None:
                        yield from self._containers(self._exported(target, name))
                        return
        for resolved in imports:
            target = self.index.record(resolved.target)
            if target is None:
                continue
            if not resolved.names and resolved.alias == name and len(parts) == 1:
                found = self._default_classes(target, name)
                if found:
                    yield from ((target, position) for position in found)
                    return
            for original, local in resolved.names:
                if local == name:
                    yield from self._containers(self._exported(target, original))
                    return
        if context.symbols is not None:
            local_classes = [
                (context, position)
                for position, definition in enumerate(context.symbols.definitions)
                if definition.name == name and definition.is_container
            ]
            if local_classes:
                yield from local_classes
                return
        entries = [
            (owner, position)
            for owner, position in self.index.definitions_named(name)
            if owner.symbols is not None and owner.symbols.definition(position).is_container
        ]
        if len(entries) <= self.limit:
            yield from entries

    def _default_classes(self, module: FileRecord, alias: str) -> list[int]:
        """The class a whole-module binding `alias` most likely is: the module's namesake
        class, or its only top-level class (`const Cmd = require('./cmd.js')`)."""
        if module.symbols is None:
            return []
        classes = [
            positions[0]
            for positions in self.cache.top_level_names(module.symbols).values()
            if module.symbols.definition(positions[0]).is_container
        ]
        named = [p for p in classes if module.symbols.definition(p).name.lower() == alias.lower()]
        return named or (classes if len(classes) == 1 else [])

    def _containers(self, found: list[tuple[FileRecord, int]]) -> Iterator[tuple[FileRecord, int]]:
        for owner, position in found:
            if owner.symbols is not None and owner.symbols.definition(position).is_container:
                yield owner, position

    def _exported(self, target: FileRecord, name: str) -> list[tuple[FileRecord, int]]:
        """Definitions `name` names in module `target`, through one level of re-exports."""
        if target.symbols is None:
            return []
        positions = self.cache.top_level_names(target.symbols).get(name)
        if positions:
            return [(target, positions[0])]
        for onward in self.index.resolved_imports(target)[:_MAX_REEXPORT_MODULES]:
            for original, exported in onward.names or (("*", "*"),):
                if exported not in (name, "*"):
                    continue
                inner = self.index.record(onward.target)
                if inner is None or inner.symbols is None:
                    continue
                found = self.cache.top_level_names(inner.symbols).get(
                    name if original == "*" else original
                )
                if found:
                    return [(inner, found[0])]
        return []

    # ------------------------------------------------------------------ ranking

    def _members(self, owner: _Owner) -> Iterator[tuple[FileRecord, int, str]]:
        record = owner.record
        if record.symbols is None:
            return
        definitions = record.symbols.definitions
        if owner.container is not None:
            for position, definition in enumerate(definitions):
                if definition.parent == owner.container:
                    yield record, position, definition.name
            return
        for name, positions in self.cache.top_level_names(record.symbols).items():
            yield record, positions[0], name
        # A package's `__init__`/`index` re-exporting names: those are its members too.
        for onward in self.index.resolved_imports(record)[:_MAX_REEXPORT_MODULES]:
            inner = self.index.record(onward.target)
            if inner is None or inner.symbols is None or inner.path == record.path:
                continue
            inner_names = self.cache.top_level_names(inner.symbols)
            for original, exported in onward.names:
                if original == "*":
                    for name, positions in inner_names.items():
                        yield inner, positions[0], name
                elif original in inner_names:
                    yield inner, inner_names[original][0], exported

    def _rank(self, owners: list[_Owner]) -> list[Listing]:
        focus = self.focus
        typed = focus.typed.lower()
        context = frozenset().union(
            *(words(name) for name in IDENTIFIER.findall(focus.lines_before_cursor(2)))
        ) - frozenset(STOP_WORDS)
        listings: list[Listing] = []
        seen: set[tuple[Path, int]] = set()
        for order, owner in enumerate(owners):
            groups: dict[tuple[Path, int | None], tuple[FileRecord, list[tuple[float, int]]]] = {}
            for record, position, name in self._members(owner):
                if (record.path, position) in seen or record.symbols is None:
                    continue
                seen.add((record.path, position))
                if name in _CONSTRUCTORS or (name.startswith("__") and name.endswith("__")):
                    continue
                if typed and not name.lower().startswith(typed):
                    continue
                score = 0.25 * min(3, len(words(name) & context))
                if name in focus.used:
                    score += 0.4
                if name.startswith(("_", "#")) and not typed.startswith(("_", "#")):
                    score -= 0.3
                # Re-exported definitions live in other files: one listing per file.
                container = owner.container if record is owner.record else None
                key = (record.path, container)
                groups.setdefault(key, (record, []))[1].append((score, position))
            for (_, container), (record, scored) in groups.items():
                scored.sort(key=lambda item: (-item[0], item[1]))
                listings.append(
                    Listing(
                        record,
                        container,
                        tuple(position for _, position in scored[:_MAX_MEMBERS]),
                        MEMBER_SCORE - 0.1 * owner.depth - 0.01 * order,
                        "import" if owner.source == "import" else "definition",
                    )
                )
        return listings


def base_names(header: str, language: str) -> list[str]:
    """The base classes a class header names, read as its language's module reads them."""
    support = support_for(language)
    return support.class_bases(header) if support is not None else braced_class_bases(header)


def _annotated_types(text: str, name: str, offset: int) -> list[str]:
    """Type names the buffer gives `name`: `name: T`, `name = T(…)`, `name = new T(…)`."""
    escaped = re.escape(name)
    pattern = re.compile(
        rf"(?<![\w$]){escaped}\s*(?::\s*(?:Optional\[|['\"])?([A-Za-z_$][\w$.]*)"
        rf"|=\s*(?:new\s+|await\s+)?([A-Z][\w$.]*)\s*[(<])"
    )
    before: list[str] = []
    after: list[str] = []
    for match in pattern.finditer(text):
        found = match.group(1) or match.group(2)
        if found and found.rsplit(".", 1)[-1][:1].isupper():
            (before if match.start() < offset else after).append(found)
    ordered = [*reversed(before), *after]
    return list(dict.fromkeys(ordered))[:3]
