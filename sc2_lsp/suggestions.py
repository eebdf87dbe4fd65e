"""Suggestions already computed, so typing through or accepting one costs no model call.

An LRU maps the text around a cursor (a tail of the text before it, a head of the text after
it) to the alternatives computed there, best first. A lookup walks back over up to `max_typed`
just-typed characters: if the user typed the start of a cached suggestion (or accepted a word
of it), the rest of it is an answer (llama.vim's and Tabby's typed-ahead cache), ahead of what
was computed for exactly this state. Every
suggestion gets a lineage id when it is stored; what remains of it after typing or a partial
accept keeps that id, so the acceptance log sees one suggestion, not one per keystroke.
Speculative prefetch stores its results here too, under the state "suggestion accepted".
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Origin = Literal["model", "prefetch"]

BEFORE_CHARS = 400
AFTER_CHARS = 80
MAX_KEPT = 8
"""Alternatives kept per state, whatever `completion.suggestions` asks for now."""

_lineages = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Alternative:
    text: str
    lineage: str
    """The suggestion this text is (what remains of): the same while the user types it."""


@dataclass(frozen=True, slots=True)
class Hit:
    text: str
    origin: Origin
    typed: int
    """How many characters of the cached suggestion the user already typed."""
    lineage: str


def state_key(uri: str, before: str, after: str) -> tuple[str, str, str]:
    """The cache key of a cursor: document, a tail of the text before it, a head after it."""
    return uri, before[-BEFORE_CHARS:], after[:AFTER_CHARS]


def new_lineage() -> str:
    return f"s{next(_lineages)}"


def distinct(texts: Sequence[str], limit: int) -> list[str]:
    """The non-empty texts in order, each once, at most `limit` of them."""
    return [text for text in dict.fromkeys(texts) if text][:limit]


class SuggestionCache:
    def __init__(self, capacity: int = 256, max_typed: int = 128) -> None:
        self.capacity = capacity
        self.max_typed = max_typed
        self._entries: OrderedDict[tuple[str, str, str], tuple[tuple[Alternative, ...], Origin]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def put(
        self,
        uri: str,
        before: str,
        after: str,
        texts: str | Sequence[str],
        origin: Origin = "model",
    ) -> tuple[Alternative, ...]:
        """Store the alternatives computed at this cursor, best first, each starting a lineage;
        returns them. Earlier alternatives for the same state that differ stay behind them."""
        given = [texts] if isinstance(texts, str) else texts
        fresh = [Alternative(text, new_lineage()) for text in distinct(given, MAX_KEPT)]
        if not fresh:
            return ()
        key = state_key(uri, before, after)
        kept = self._entries.get(key, ((), origin))[0]
        seen = {item.text for item in fresh}
        merged = (*fresh, *(item for item in kept if item.text not in seen))[:MAX_KEPT]
        self._entries[key] = (merged, origin)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return merged[: len(fresh)]

    def add_alternatives(self, uri: str, before: str, after: str, texts: Sequence[str]) -> None:
        """More alternatives for a state already answered: right after the suggestion shown
        there (which keeps its place and lineage), before the others."""
        key = state_key(uri, before, after)
        entry = self._entries.get(key)
        if entry is None:
            return
        kept, origin = entry
        seen = {item.text for item in kept}
        fresh = tuple(Alternative(text, new_lineage()) for text in distinct(texts, MAX_KEPT))
        added = tuple(item for item in fresh if item.text not in seen)
        self._entries[key] = ((*kept[:1], *added, *kept[1:])[:MAX_KEPT], origin)

    def has(self, uri: str, before: str, after: str) -> bool:
        """An entry for exactly this cursor (nothing typed ahead); the LRU order is untouched."""
        return state_key(uri, before, after) in self._entries

    def get(self, uri: str, before: str, after: str) -> Hit | None:
        """The best suggestion for this cursor, exact or continued from one being typed."""
        found = self.get_all(uri, before, after, limit=1)
        return found[0] if found else None

    def get_all(self, uri: str, before: str, after: str, limit: int) -> list[Hit]:
        """Up to `limit` distinct suggestions for this cursor: what remains of those the user is
        typing through or took part of (nearest first), then those computed for exactly this
        state (a prefetch of "first line accepted" must not hide the rest of the block)."""
        # Only this tail can matter to any key; slicing it once keeps lookups O(key size).
        tail = before[-(BEFORE_CHARS + self.max_typed) :]
        exact: list[Hit] = []
        hits: dict[str, Hit] = {}
        for typed in range(min(self.max_typed, len(tail)) + 1):
            key = state_key(uri, tail[: len(tail) - typed], after)
            entry = self._entries.get(key)
            if entry is None:
                continue
            alternatives, origin = entry
            typed_text = tail[len(tail) - typed :]
            found = [
                Hit(item.text[typed:], origin, typed, item.lineage)
                for item in alternatives
                if item.text.startswith(typed_text) and len(item.text) > typed
            ]
            if found:
                self._entries.move_to_end(key)
            if typed == 0:
                exact = found
                continue
            for hit in found:
                hits.setdefault(hit.text, hit)
            if len(hits) >= limit:
                break
        for hit in exact:
            hits.setdefault(hit.text, hit)
        return list(itertools.islice(hits.values(), limit))
