"""Choosing, ranking and packing repository-context snippets for one completion.

Owns `gather` and `Snippet`.  When the cursor completes a member (`receiver.|`), the members of
what the receiver is (a module, the enclosing class and its bases, a guessed class) are listed
first, within their own share.  Then four sources fill the rest of the budget in turn, each
with its share plus whatever the previous one left: definitions the current file imports and
uses or is about to use (nearest the cursor first), other definitions of names near the cursor
(same file/directory, receiver types), recently edited chunks, and similar windows of
open/recent files.  Definitions go in as
signatures first and are upgraded to full bodies while room remains.  Nothing already in the
prompt window is repeated, and the result is ordered most-stable first (definitions by path,
then recent edits oldest first, then similar windows best last) so consecutive requests share a
prompt prefix and the model's KV cache.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.languages import structure_language
from sc2_lsp.context.retrieval.caches import cache_for, resolve_path
from sc2_lsp.context.retrieval.candidates import CandidateFinder
from sc2_lsp.context.retrieval.focus import ContextRequest, Focus, analyse
from sc2_lsp.context.retrieval.packing import DefinitionPacker
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.context.retrieval.selection import Listing
from sc2_lsp.context.retrieval.similar import IndexedDocument, best_windows, identifier_set

logger = logging.getLogger(__name__)

SnippetSource = Literal["import", "definition", "recent", "similar"]

__all__ = ["ContextRequest", "Snippet", "SnippetSource", "gather"]

_MAX_SIMILAR_HITS = 8
_SOURCE_DROP_ORDER: tuple[SnippetSource, ...] = ("similar", "recent", "definition", "import")


@dataclass(frozen=True)
class Snippet:
    """One piece of context, rendered by the prompt builder as `<file_sep>{path}\\n{text}`.

    `tokens` is the cost in the prompt including that header; the sum over a `gather` result
    never exceeds its budget.  `symbol` names the definitions shown (comma-separated), if any.
    """

    path: str
    text: str
    source: SnippetSource
    score: float
    tokens: int
    symbol: str | None


def gather(
    index: WorkspaceIndex,
    request: ContextRequest,
    recent: RecentEdits,
    budget_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[Snippet]:
    """Snippets for `request` within `budget_tokens`, most stable first; [] on any failure."""
    if budget_tokens <= 0 or not index.settings.enabled:
        return []
    try:
        with index.request_scope():
            return _Gatherer(index, request, recent, budget_tokens, count_tokens).run()
    except Exception:
        logger.exception("gathering repository context failed")
        return []


class _Gatherer:
    def __init__(
        self,
        index: WorkspaceIndex,
        request: ContextRequest,
        recent: RecentEdits,
        budget: int,
        count_tokens: Callable[[str], int],
    ) -> None:
        self.index = index
        self.settings = index.settings
        self.request = request
        self.recent = recent
        self.budget = budget
        self.cache = cache_for(index)
        self.count = count_tokens
        path = resolve_path(request.path)
        if path is None:
            raise ValueError(f"unresolvable request path {request.path!r}")
        self.path = path
        self.language = structure_language(request.language, self.path)
        self._open_resolved: dict[Path, str] | None = None

    def tokens(self, text: str) -> int:
        return self.cache.tokens(self.count, text)

    def header_tokens(self, path: Path) -> int:
        # The `<file_sep>` token plus the path line.
        return self.tokens(self.index.workspace.relative_path(path) + "\n") + 1

    def run(self) -> list[Snippet]:
        record = self.index.current_record(self.path, self.request.text, self.language)
        symbols = record.symbols if record is not None else None
        focus = analyse(
            self.request,
            self.path,
            symbols,
            record.identifiers if record is not None else None,
            self.settings.cursor_context_lines,
        )
        shares = _normalised_shares(self.settings)
        packer = DefinitionPacker(
            self.index, focus, self.tokens, self.header_tokens, self.cache.renders
        )
        finder = CandidateFinder(self.index, self.cache, self.path, self.settings)
        spent = self._listings(finder.member_listings(record, focus), packer)
        # The sources share what the receiver's members left.
        budget = self.budget - spent
        imported_locals: set[str] = set()
        import_candidates = finder.import_candidates(record, focus, imported_locals)
        allowance = shares[0] * budget
        spent_imports = packer.pack(import_candidates, allowance)
        spent += spent_imports
        leftover = allowance - spent_imports
        definition_candidates = finder.definition_candidates(focus, imported_locals)
        both = import_candidates + definition_candidates
        allowance = shares[1] * budget + leftover
        # Imports that did not fit their own share get another chance with the leftovers.
        spent_definitions = packer.pack(both, allowance)
        spent += spent_definitions
        allowance = shares[2] * budget + allowance - spent_definitions
        recent, spent_recent = self._recent(focus, packer, allowance)
        spent += spent_recent
        allowance = shares[3] * budget + allowance - spent_recent
        similar, spent_similar = self._similar(focus, packer, recent, allowance)
        spent += spent_similar
        # Whatever is still unspent goes to the best definitions that missed their share.
        packer.pack(both, self.budget - spent)
        definitions = packer.snippets()
        ordered = [
            Snippet(self.relative(p), text, source, score, tokens, symbol)
            for p, text, source, score, tokens, symbol in definitions
        ]
        ordered.sort(key=lambda snippet: snippet.path)
        ordered.extend(recent)
        ordered.extend(sorted(similar, key=lambda snippet: (snippet.score, snippet.path)))
        return self._within_budget(ordered)

    def relative(self, path: Path) -> str:
        return self.index.workspace.relative_path(path)

    def _listings(self, listings: list[Listing], packer: DefinitionPacker) -> int:
        """Members of the cursor's receiver: each listing gets a part of the share in proportion
        to its size (a package's big module and its small ones), then what is left goes to them
        again in order."""
        allowance = self.settings.share_members * self.budget
        spent = 0
        sizes = [len(listing.positions) for listing in listings]
        for number, listing in enumerate(listings):
            part = (allowance - spent) * sizes[number] / max(1, sum(sizes[number:]))
            spent += packer.pack_listing(listing, part)
        for listing in listings:
            spent += packer.pack_listing(listing, allowance - spent)
        return spent

    # ------------------------------------------------------------------ c. recent edits

    def _recent(
        self, focus: Focus, packer: DefinitionPacker, allowance: float
    ) -> tuple[list[Snippet], int]:
        chunks = self.recent.chunks()
        chosen: list[tuple[int, Snippet]] = []
        spent = 0
        seen: set[str] = set()
        for age, chunk in reversed(list(enumerate(chunks))):
            path = self.cache.resolve(chunk.path)
            if path is None or not self.index.is_allowed(path):
                continue
            if path == self.path:
                if focus.overlaps_window(chunk.start_line, chunk.end_line):
                    continue
                text = focus.lines(chunk.start_line, chunk.end_line)
            else:
                current = self._open_texts().get(path)
                text = (
                    chunk.text
                    if current is None
                    else self.cache.lines(current, chunk.start_line, chunk.end_line)
                )
            if not text.strip() or text in seen or focus.repeats_window(text):
                continue
            if packer.covers(path, chunk.start_line, chunk.end_line):
                continue
            cost = self.tokens(text) + self.header_tokens(path)
            if spent + cost > allowance:
                continue
            seen.add(text)
            spent += cost
            packer.claim(path, chunk.start_line, chunk.end_line)
            score = (age + 1) / max(1, len(chunks))
            chosen.append((age, Snippet(self.relative(path), text, "recent", score, cost, None)))
        chosen.sort(key=lambda pair: pair[0])
        return [snippet for _, snippet in chosen], spent

    def _open_texts(self) -> dict[Path, str]:
        """Open buffers by resolved path (resolved once per request)."""
        if self._open_resolved is None:
            self._open_resolved = {}
            for open_path, text in self.request.open_documents.items():
                resolved = self.cache.resolve(open_path)
                if resolved is not None:
                    self._open_resolved[resolved] = text
        return self._open_resolved

    # ------------------------------------------------------------------ d. similar windows

    def _similar(
        self, focus: Focus, packer: DefinitionPacker, recent: list[Snippet], allowance: float
    ) -> tuple[list[Snippet], int]:
        if allowance <= 0:
            return [], 0
        window = self.settings.similar_window_lines
        query = identifier_set(focus.lines_before_cursor(window))
        if not query:
            return [], 0
        documents: list[tuple[Path, IndexedDocument]] = []
        for path, version, load in self._similarity_pool():
            document = self.cache.documents.get(path, version, load, window)
            if document is not None:
                documents.append((path, document))
        hits = best_windows(
            query, documents, min_score=self.settings.similar_min_score, limit=_MAX_SIMILAR_HITS
        )
        lines_of = {path: document.lines for path, document in documents}
        recent_texts = {snippet.text for snippet in recent}
        chosen: list[Snippet] = []
        spent = 0
        for hit in hits:
            text = "\n".join(lines_of[hit.path][hit.start_line : hit.end_line]) + "\n"
            if text in recent_texts or focus.repeats_window(text):
                continue
            if packer.covers(hit.path, hit.start_line, hit.end_line):
                continue
            cost = self.tokens(text) + self.header_tokens(hit.path)
            if spent + cost > allowance:
                continue
            spent += cost
            packer.claim(hit.path, hit.start_line, hit.end_line)
            chosen.append(Snippet(self.relative(hit.path), text, "similar", hit.score, cost, None))
        return chosen, spent

    def _similarity_pool(self) -> list[tuple[Path, Hashable, Callable[[], str | None]]]:
        """Open buffers, then recently touched files: (path, version, text loader)."""
        pool: list[tuple[Path, Hashable, Callable[[], str | None]]] = []
        seen: set[Path] = {self.path}
        for path, text in sorted(self._open_texts().items(), key=lambda kv: str(kv[0])):
            if path in seen or not self.index.is_allowed(path):
                continue
            seen.add(path)
            pool.append((path, (len(text), hash(text)), functools.partial(str, text)))
        for path in self.recent.recent_paths():
            if len(pool) >= self.settings.similar_max_files:
                break
            resolved = self.cache.resolve(path)
            if resolved is None or resolved in seen or not self.index.is_allowed(resolved):
                continue
            seen.add(resolved)
            stamp = _stat_version(resolved)
            if stamp is not None:
                pool.append((resolved, stamp, functools.partial(self.index.read_text, resolved)))
        return pool[: max(self.settings.similar_max_files, 1)]

    # ------------------------------------------------------------------ final budget check

    def _within_budget(self, snippets: list[Snippet]) -> list[Snippet]:
        total = sum(snippet.tokens for snippet in snippets)
        if total <= self.budget:
            return snippets
        kept = list(snippets)
        for source in _SOURCE_DROP_ORDER:
            for snippet in sorted((s for s in kept if s.source == source), key=lambda s: s.score):
                if total <= self.budget:
                    return kept
                kept.remove(snippet)
                total -= snippet.tokens
        return kept if total <= self.budget else []


def _normalised_shares(settings: object) -> tuple[float, float, float, float]:
    raw = [
        max(0.0, float(getattr(settings, name)))
        for name in ("share_import", "share_definition", "share_recent", "share_similar")
    ]
    total = sum(raw)
    if total > 1.0:
        raw = [share / total for share in raw]
    return raw[0], raw[1], raw[2], raw[3]


def _stat_version(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)
