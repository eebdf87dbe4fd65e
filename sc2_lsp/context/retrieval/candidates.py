"""Ranked definition candidates for a request: what the file imports and what it mentions.

Owns the two definition sources of `gather`: (a) definitions the current file imports —
members of the receiver the cursor completes (`mod.|`, `self.|`, `obj.|`, see `members`),
explicit names it uses (following one level of re-exports through barrel files) or has
imported but not used yet (the likeliest next name), members of whole-module imports, and
methods called on instances of imported classes — scored 1.5–4 plus cursor proximity;
(b) definitions of other names near the cursor found in the symbol table — the current file
outside the prompt window, the same directory, methods of `self`/`this` or of a class the file
mentions — scored by proximity × locality, skipping names too ambiguous to guess.
"""

from __future__ import annotations

from pathlib import Path

from sc2_lsp.context.index import FileRecord, WorkspaceIndex
from sc2_lsp.context.retrieval.caches import GatherCache
from sc2_lsp.context.retrieval.focus import Focus, proximity_at
from sc2_lsp.context.retrieval.members import MemberFinder
from sc2_lsp.context.retrieval.selection import DefinitionCandidate, Listing
from sc2_lsp.context.retrieval.similar import STOP_WORDS
from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.context.symbols import FileSymbols

_MAX_IMPORT_CANDIDATES = 60
_MAX_DEFINITION_CANDIDATES = 40
# An imported name not used yet ranks just below the names used on the cursor's line: code
# imports a name in order to use it, and the cursor is where that use is being written.
_PENDING_IMPORT_SCORE = 2.75
_TYPED_PREFIX_BONUS = 1.0


class CandidateFinder:
    def __init__(
        self,
        index: WorkspaceIndex,
        cache: GatherCache,
        path: Path,
        settings: RepoContextSettings,
    ) -> None:
        self.index = index
        self.cache = cache
        self.path = path
        self.settings = settings

    def import_candidates(
        self, record: FileRecord | None, focus: Focus, imported_locals: set[str]
    ) -> list[DefinitionCandidate]:
        if record is None or record.symbols is None:
            return []
        candidates: list[DefinitionCandidate] = []
        missing: list[Path] = []
        imports = self.index.resolved_imports(record)
        typed = focus.typed
        for resolved in imports:
            target = self.index.record(resolved.target)
            if target is None:
                missing.append(resolved.target)
                continue
            if target.symbols is None:
                continue
            names = self.cache.top_level_names(target.symbols)
            explicit = [pair for pair in resolved.names if pair[0] != "*"]
            if explicit:
                for name, local in explicit:
                    imported_locals.add(local)
                    pending = local not in focus.used
                    if pending:
                        score = _PENDING_IMPORT_SCORE if focus.receiver is None else 1.5
                    else:
                        score = 2.0 + focus.proximity(local)
                    if typed and local.startswith(typed) and local != typed:
                        score += _TYPED_PREFIX_BONUS
                    owner, positions = self._lookup_exported(target, names, name, local)
                    for position in positions[:2]:
                        # A class not used yet is introduced by its header; its outline
                        # follows only if room remains.
                        brief = pending and _is_container(owner, position)
                        candidates.append(
                            DefinitionCandidate(owner, position, score, "import", local, brief)
                        )
            else:
                alias = resolved.alias
                if alias:
                    imported_locals.add(alias)
                for name, positions in names.items():
                    if name in focus.used and name not in STOP_WORDS:
                        score = 1.5 + focus.proximity(name)
                        candidates.append(
                            DefinitionCandidate(target, positions[0], score, "import", name)
                        )
                    elif alias and alias not in focus.used and name.lower() == alias.lower():
                        # `const fooBar = require('./foo-bar')` binds the module's namesake
                        # (its default export), not used yet.
                        score = _PENDING_IMPORT_SCORE if focus.receiver is None else 1.5
                        brief = _is_container(target, positions[0])
                        candidates.append(
                            DefinitionCandidate(target, positions[0], score, "import", name, brief)
                        )
            candidates.extend(self._used_members(target, target.symbols, focus))
        if missing:
            self.index.prioritise(missing)
        candidates.sort(key=lambda c: (-c.score, str(c.record.path), c.index))
        return candidates[:_MAX_IMPORT_CANDIDATES]

    def member_listings(self, record: FileRecord | None, focus: Focus) -> list[Listing]:
        """What the cursor's receiver (`mod.|`, `self.|`, `obj.|`) offers, most likely first."""
        if record is None or record.symbols is None or focus.receiver is None:
            return []
        imports = self.index.resolved_imports(record)
        limit = self.settings.max_ambiguous_definitions
        return MemberFinder(self.index, self.cache, record, focus, imports, limit).listings()

    def _lookup_exported(
        self, target: FileRecord, names: dict[str, list[int]], name: str, local: str
    ) -> tuple[FileRecord, list[int]]:
        positions = names.get(name) or (names.get(local, []) if name == "default" else [])
        if not positions and target.symbols is not None:
            # `import static pkg.Type.member` names a member, not a top-level definition.
            positions = [i for i, d in enumerate(target.symbols.definitions) if d.name == name][:2]
        if positions or target.symbols is None:
            return target, positions
        # Barrel files (`__init__.py`, `index.ts`, `mod.rs`) re-export from elsewhere.
        for onward in self.index.resolved_imports(target):
            for original, exported in onward.names or (("*", "*"),):
                if exported not in (name, "*"):
                    continue
                inner = self.index.record(onward.target)
                if inner is None or inner.symbols is None:
                    continue
                inner_names = self.cache.top_level_names(inner.symbols)
                found = inner_names.get(name if original == "*" else original)
                if found:
                    return inner, found
        return target, []

    def _used_members(
        self, target: FileRecord, symbols: FileSymbols, focus: Focus
    ) -> list[DefinitionCandidate]:
        found: list[DefinitionCandidate] = []
        for position, definition in enumerate(symbols.definitions):
            container = definition.container
            if (
                container is not None
                and definition.name in focus.receivers
                and definition.name in focus.distances
                and container in focus.used
            ):
                score = 1.8 + focus.proximity(definition.name)
                found.append(
                    DefinitionCandidate(target, position, score, "import", definition.name)
                )
        return found

    def definition_candidates(
        self, focus: Focus, imported_locals: set[str]
    ) -> list[DefinitionCandidate]:
        candidates: list[DefinitionCandidate] = []
        limit = self.settings.max_ambiguous_definitions
        nearest_first = sorted(focus.distances.items(), key=lambda kv: (kv[1], kv[0]))
        wanted = [
            name
            for name, _ in nearest_first
            if len(name) > 1 and name not in STOP_WORDS and name not in imported_locals
        ]
        known = self.index.definitions_named_many(wanted)
        for name, distance in nearest_first:
            if len(candidates) >= _MAX_DEFINITION_CANDIDATES:
                break
            entries = known.get(name)
            if not entries:
                continue
            # `module_alias.name` is a module member, not a method call.
            receivers = focus.receivers.get(name, frozenset()) - imported_locals
            scored: list[tuple[float, float, FileRecord, int]] = []
            for owner, position in entries:
                score = self._score_definition(focus, name, distance, receivers, owner, position)
                if score is not None:
                    scored.append((*score, owner, position))
            if len(scored) > limit:
                scored = [entry for entry in scored if entry[0] >= 0.8]
                if len(scored) > limit:
                    continue
            candidates.extend(
                DefinitionCandidate(owner, position, proximity * weight, "definition", name)
                for weight, proximity, owner, position in scored
            )
        return candidates

    def _score_definition(
        self,
        focus: Focus,
        name: str,
        distance: int,
        receivers: frozenset[str],
        owner: FileRecord,
        position: int,
    ) -> tuple[float, float] | None:
        """(locality × receiver bonus, proximity) of one definition of a name near the cursor;
        None when it cannot be what the name refers to there."""
        if owner.symbols is None:
            return None
        definition = owner.symbols.definition(position)
        same_file = owner.path == self.path
        use_distance: int | None = distance
        if same_file:
            if focus.overlaps_window(definition.start_line, definition.end_line + 1):
                return None
            # The name written in its own definition is not a use of it.
            use_distance = focus.distance_outside(name, definition.start_line, definition.end_line)
            if use_distance is None:
                return None
        bonus = 1.0
        if receivers:
            if definition.container is None:
                return None
            if receivers & {"self", "this"} and definition.container == focus.enclosing_class:
                bonus = 1.5
            elif definition.container in focus.used:
                bonus = 1.3
        elif definition.kind == "method" and definition.container != focus.enclosing_class:
            return None
        if same_file:
            locality = 1.0
        elif owner.path.parent == self.path.parent:
            locality = 0.8
        else:
            locality = 0.4
        return locality * bonus, proximity_at(use_distance)


def _is_container(record: FileRecord, position: int) -> bool:
    symbols = record.symbols
    return (
        symbols is not None
        and 0 <= position < len(symbols.definition_rows)
        and symbols.definition(position).is_container
    )
