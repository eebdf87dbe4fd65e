"""Suggestions already computed, so typing through or accepting one costs no model call.

An LRU maps the text around a cursor (a tail of the text before it, a head of the text after
it) to the suggestion computed there. A lookup first tries the exact state, then walks back
over up to `max_typed` just-typed characters: if the user typed the start of a cached
suggestion, the rest of it is the answer (llama.vim's and Tabby's typed-ahead cache).
Speculative prefetch stores its results here too, under the state "suggestion accepted".
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

Origin = Literal["model", "prefetch"]

BEFORE_CHARS = 400
AFTER_CHARS = 80


@dataclass(frozen=True, slots=True)
class Hit:
    text: str
    origin: Origin
    typed: int
    """How many characters of the cached suggestion the user already typed."""


def state_key(uri: str, before: str, after: str) -> tuple[str, str, str]:
    """The cache key of a cursor: document, a tail of the text before it, a head after it."""
    return uri, before[-BEFORE_CHARS:], after[:AFTER_CHARS]


class SuggestionCache:
    def __init__(self, capacity: int = 256, max_typed: int = 128) -> None:
        self.capacity = capacity
        self.max_typed = max_typed
        self._entries: OrderedDict[tuple[str, str, str], tuple[str, Origin]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def put(self, uri: str, before: str, after: str, text: str, origin: Origin = "model") -> None:
        if not text:
            return
        key = state_key(uri, before, after)
        self._entries[key] = (text, origin)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def has(self, uri: str, before: str, after: str) -> bool:
        """An entry for exactly this cursor (nothing typed ahead); the LRU order is untouched."""
        return state_key(uri, before, after) in self._entries

    def get(self, uri: str, before: str, after: str) -> Hit | None:
        """The suggestion for this cursor, exact or continued from one being typed through."""
        # Only this tail can matter to any key; slicing it once keeps lookups O(key size).
        tail = before[-(BEFORE_CHARS + self.max_typed) :]
        for typed in range(min(self.max_typed, len(tail)) + 1):
            key = state_key(uri, tail[: len(tail) - typed], after)
            entry = self._entries.get(key)
            if entry is None:
                continue
            text, origin = entry
            typed_text = tail[len(tail) - typed :]
            if text.startswith(typed_text) and len(text) > typed:
                self._entries.move_to_end(key)
                return Hit(text[typed:], origin, typed)
        return None
