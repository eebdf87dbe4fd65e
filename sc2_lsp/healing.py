"""Token healing: the model never continues from a token the cursor cut in two.

A prompt that ends at the cursor often ends on a token the model never saw there: `print(gre`
ends on `gre`, where training text had `greet`; an indented empty line ends on `\\n    `, where
training text had `\\n   ` + ` return`. Healing backs off the last prompt tokens that reach
into the word, operator or whitespace run at the end of the prefix (at most `MAX_TOKENS`), and
the engine makes the first generated tokens spell the removed text again (a logit mask over the
tokens that agree with it, found in a `TokenTrie`); the completion then loses that text.

Owns: which tokens to back off (`heal`), which tokens agree with the rest of the removed text
(`TokenTrie`, `advance`) and the mask made of them (`HealingMask`, which `engine.llama` hands
to llama.cpp's sampler), and the text the user sees (`strip`, `should_stop_after`).
`prompting.prepare` calls `heal`; the rest is pure functions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np

from sc2_lsp.prompt import Prompt

MAX_TOKENS = 2
"""Tokens backed off at most: enough for a word split once more than the tokenizer would."""

Piece = Callable[[int], bytes]
ShouldStop = Callable[[str], bool]


def _char_class(char: str) -> int:
    if char.isalnum() or char == "_":
        return 0
    return 1 if char.isspace() else 2


def run_start(text: str) -> int:
    """Where the run of one character class (word, whitespace, operator) ending `text` starts."""
    if not text:
        return 0
    kind = _char_class(text[-1])
    start = len(text) - 1
    while start > 0 and _char_class(text[start - 1]) == kind:
        start -= 1
    return start


def back_off(tokens: Sequence[int], text: str, piece: Piece) -> tuple[int, str]:
    """How many trailing `tokens` (the tokenization of `text`) to back off, and their text.

    Those that reach into the run at the end of `text`, at most `MAX_TOKENS`. Nothing is
    backed off when the tokens do not spell `text` byte for byte at its end, or would cut a
    character in two: then the removed text could not be given back exactly.
    """
    data = text.encode("utf-8")
    run_bytes = len(text[: run_start(text)].encode("utf-8"))
    count = removed = 0
    for token in reversed(tokens[-MAX_TOKENS:]):
        if len(data) - removed <= run_bytes:
            break
        removed += len(piece(token))
        count += 1
    tail = b"".join(piece(token) for token in tokens[-count:]) if count else b""
    if not count or not data.endswith(tail) or len(tail) != removed:
        return 0, ""
    try:
        return count, tail.decode("utf-8")
    except UnicodeDecodeError:
        return 0, ""


def heal(prompt: Prompt, piece: Piece, enabled: bool = True) -> tuple[Prompt, str]:
    """The prompt with its prefix's trailing word tokens backed off, and their text.

    The generation must start with that text (`GenerationParams.healed`); "" when nothing was
    backed off. See the module docstring.
    """
    index = next(
        (at for at in range(len(prompt.parts) - 1, -1, -1) if prompt.parts[at].role == "prefix"),
        None,
    )
    if not enabled or index is None:
        return prompt, ""
    part = prompt.parts[index]
    count, removed = back_off(part.tokens, part.text, piece)
    if not count:
        return prompt, ""
    kept = replace(
        part, text=part.text[: len(part.text) - len(removed)], tokens=part.tokens[:-count]
    )
    parts = (*prompt.parts[:index], kept, *prompt.parts[index + 1 :])
    return Prompt(parts), removed


def strip(generated: str, healed: str) -> str:
    """The generated text after the healed text; "" when it never spelled that text out."""
    return generated[len(healed) :] if generated.startswith(healed) else ""


def should_stop_after(text: str, healed: str, should_stop: ShouldStop) -> bool:
    """`should_stop` asked about the text after the healed part, once that part is complete."""
    return text.startswith(healed) and should_stop(text[len(healed) :])


def spelled_by(tokens: Sequence[int], healed: str, piece: Piece) -> int:
    """How many leading `tokens` spell `healed` exactly; 0 when none do (one runs past its end)."""
    target, spelled = healed.encode("utf-8"), b""
    for count, token in enumerate(tokens, 1):
        spelled += piece(token)
        if spelled == target:
            return count
        if not target.startswith(spelled):
            return 0
    return 0


def advance(remaining: bytes, piece: bytes) -> bytes:
    """What is left to spell of the healed text after a token with these bytes came."""
    return remaining[len(piece) :]


def _successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string that starts with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class TokenTrie:
    """A vocabulary's token bytes, sorted: the tokens that agree with a text, by prefix search.

    A token agrees with the rest of the healed text when it spells all of it and maybe more,
    or a proper start of it. Tokens without bytes (control tokens, end of text) never agree.
    Built once per model in the engine process.
    """

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self._ids = sorted(
            (token for token, data in enumerate(pieces) if data), key=pieces.__getitem__
        )
        self._bytes = [pieces[token] for token in self._ids]
        self.agreeing = lru_cache(maxsize=256)(self._agreeing)
        self.agreeing_array = lru_cache(maxsize=256)(self._agreeing_array)

    def _agreeing(self, text: bytes) -> tuple[int, ...]:
        if not text:
            return ()
        low = bisect_left(self._bytes, text)
        bound = _successor(text)
        high = len(self._bytes) if bound is None else bisect_left(self._bytes, bound)
        found = list(self._ids[low:high])
        for size in range(1, len(text)):
            start = text[:size]
            found += self._ids[bisect_left(self._bytes, start) : bisect_right(self._bytes, start)]
        return tuple(found)

    def _agreeing_array(self, text: bytes) -> Any:
        """`agreeing` as a numpy index array, for the mask (a single space has 16,000)."""
        return np.fromiter(self.agreeing(text), dtype=np.intc)


class HealingMask:
    """A logits processor: until the healed text is spelled out, only tokens agreeing with it."""

    def __init__(self, trie: TokenTrie, healed: str) -> None:
        self.trie = trie
        self.remaining = healed.encode("utf-8")
        self.tokens = 0
        """Tokens generated while the mask was on (they spell the healed text)."""

    def __call__(self, _input_ids: Any, scores: Any) -> Any:
        if not self.remaining:
            return scores
        allowed = self.trie.agreeing_array(self.remaining)
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        return masked

    def took(self, piece: bytes) -> None:
        """A token with these bytes was generated."""
        if self.remaining:
            self.remaining = advance(self.remaining, piece)
            self.tokens += 1
