"""Alternatives from one prompt: sequences branched in the KV cache, decoded side by side.

The prompt's KV (sequence 0, as the last generation left it) is copied to sequences 1..k with
llama.cpp's `llama_memory_seq_cp`, which shares the cells instead of duplicating them. The
last prompt token is decoded once per branch, every branch takes one of the next-best first
tokens (not the ones to avoid: the continuation already shown), and from then on all branches
are decoded together, one batch per step, until each stops (`engine.decoding`). With token
healing each branch spells the healed text first, under its own mask, as a single generation
does. Sequence 0, and with it the KV the next keystroke reuses, is left as it was; the
branches' cells are dropped at the end.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np

from sc2_lsp.engine import CancelToken, Generation, GenerationParams, ShouldStop
from sc2_lsp.engine.decoding import Decoding
from sc2_lsp.healing import HealingMask, TokenTrie

ABORTED = 2  # llama_decode: the abort callback said stop


@dataclass(slots=True)
class _Branch:
    seq: int
    decoding: Decoding
    live: bool = True


def first_tokens(
    logits: np.ndarray[Any, Any], count: int, avoid: Sequence[int], stop: frozenset[int]
) -> list[int]:
    """The `count` most likely next tokens, none of `avoid`, no stop token and none masked."""
    excluded = set(avoid) | set(stop)
    found: list[int] = []
    for token in np.argsort(-logits, kind="stable"):
        if not np.isfinite(logits[token]):
            break  # the rest is masked (token healing)
        if int(token) not in excluded:
            found.append(int(token))
            if len(found) == count:
                break
    return found


class Brancher:
    """Decodes branches of sequence 0 in one llama.cpp context (engine thread only)."""

    def __init__(
        self, context: Any, n_vocab: int, piece: Any, trie: TokenTrie, max_sequences: int
    ) -> None:
        self.context = context
        self.n_vocab = n_vocab
        self.piece = piece
        self.trie = trie
        self.max_sequences = max_sequences
        self.memory = llama_cpp.llama_get_memory(context)

    def run(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop,
        room: int,
    ) -> list[Generation]:
        """Branches after `prompt`, whose first len-1 tokens sequence 0 must already hold."""
        count = min(params.branches, self.max_sequences - 1)
        if count <= 0 or not prompt or room <= 1:
            return []
        position = len(prompt) - 1
        branches = [
            _Branch(seq, self._decoding(len(prompt), params, should_stop, room))
            for seq in range(1, count + 1)
        ]
        started = time.monotonic()
        try:
            for branch in branches:
                llama_cpp.llama_memory_seq_rm(self.memory, branch.seq, -1, -1)
                llama_cpp.llama_memory_seq_cp(self.memory, 0, branch.seq, 0, position)
            step = [(branch, prompt[-1]) for branch in branches]
            if not self._decode(step, position, cancel):
                return []
            logits = branches[0].decoding.mask(None, self._logits(0))
            firsts = first_tokens(logits, count, params.avoid_first, params.stop_ids)
            branches = branches[: len(firsts)]
            for branch, token in zip(branches, firsts, strict=True):
                self._take(branch, token, started)
            steps = params.max_tokens + len(params.healed.encode())  # healing tokens are extra
            for offset in range(1, max(1, min(steps, room - 1))):
                live = [branch for branch in branches if branch.live]
                if not live:
                    break
                step = [(branch, branch.decoding.result.tokens[-1]) for branch in live]
                if not self._decode(step, position + offset, cancel):
                    break
                for index, branch in enumerate(live):
                    token = int(np.argmax(branch.decoding.mask(None, self._logits(index))))
                    self._take(branch, token, started)
        finally:
            for branch in branches:
                llama_cpp.llama_memory_seq_rm(self.memory, branch.seq, -1, -1)
        finished = time.monotonic()
        results = [branch.decoding.finish() for branch in branches]
        for branch, result in zip(branches, results, strict=True):
            result.generate_seconds = finished - started
            if cancel.cancelled and branch.live:
                result.stop_reason = "cancelled"
        return [result for result in results if result.tokens]

    def _decoding(
        self, n_prompt: int, params: GenerationParams, should_stop: ShouldStop, room: int
    ) -> Decoding:
        mask = HealingMask(self.trie, params.healed)
        return Decoding(Generation(n_prompt=n_prompt), params, mask, should_stop, room)

    def _take(self, branch: _Branch, token: int, started: float) -> None:
        """Add the branch's next token, or end the branch."""
        branch.live = branch.decoding.take(token, self.piece(token), time.monotonic() - started)

    def _decode(self, step: list[tuple[_Branch, int]], position: int, cancel: CancelToken) -> bool:
        """One token for each branch at `position`; False when cancelled or out of room."""
        if cancel.cancelled:
            return False
        batch = llama_cpp.llama_batch_init(len(step), 0, 1)
        try:
            batch.n_tokens = len(step)
            for index, (branch, token) in enumerate(step):
                batch.token[index] = token
                batch.pos[index] = position
                batch.n_seq_id[index] = 1
                batch.seq_id[index][0] = branch.seq
                batch.logits[index] = 1
            status = llama_cpp.llama_decode(self.context, batch)
        finally:
            llama_cpp.llama_batch_free(batch)
        return int(status) == 0

    def _logits(self, index: int) -> np.ndarray[Any, Any]:
        pointer = llama_cpp.llama_get_logits_ith(self.context, index)
        array = ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(array, shape=(self.n_vocab,))
