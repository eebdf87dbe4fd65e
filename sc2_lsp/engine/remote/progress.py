"""One remote generation as it streams in: our side of its limits, its result, what the server kept.

Owns `Progress`. Each streamed `Piece` is added to the `Generation` (`take`); the stop ids (and
stop tokens spelled as text), `should_stop`, the token cap and the time budget end it here, and
the engine then closes the stream. At the end (`finish`) come the timings, the prompt tokens the
server reused, and the tokens it is known to hold for the next prompt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sc2_lsp.engine import Generation, GenerationParams, ShouldStop, TokenSink, common_prefix
from sc2_lsp.engine.remote.dialect import Piece


@dataclass(slots=True)
class Progress:
    """One generation's progress while it streams in."""

    result: Generation
    params: GenerationParams
    max_tokens: int
    should_stop: ShouldStop
    on_token: TokenSink | None
    stop_texts: Sequence[str]
    sent_at: float
    first_at: float | None = None
    untokenized: int = 0
    """Events that came as text only (llama-server's /v1): one token each, ids filled in last."""
    n_evaluated: int | None = None
    n_cached: int | None = None

    def take(self, piece: Piece) -> bool:
        """Add one event's text and tokens to the result; True when the generation is over."""
        result = self.result
        if piece.n_evaluated is not None:
            self.n_evaluated, self.n_cached = piece.n_evaluated, piece.n_cached
        tokens = piece.tokens or []
        if piece.tokens is None and piece.text:
            self.untokenized += 1
        if (tokens or piece.text) and self.first_at is None:
            self.first_at = time.monotonic()
        stop = next((i for i, token in enumerate(tokens) if token in self.params.stop_ids), None)
        kept = before_stop(piece.text, self.stop_texts)
        if stop is None and piece.tokens is None and kept != piece.text:
            stop = 1  # a stop token spelled in a text-only event
        if stop is not None:
            result.tokens += tokens[:stop]
            result.text += kept if stop else ""
            result.stop_reason = "stop_token"
            return True
        result.tokens += tokens
        result.text += piece.text
        if self.on_token is not None:
            for token in tokens:
                self.on_token(token)
        if piece.finish is not None:
            result.stop_reason = "stop_token" if piece.finish == "stop" else "max_tokens"
        return self._limited()

    def _limited(self) -> bool:
        """Our side of the limits: `should_stop`, the token cap and the time budget."""
        result = self.result
        if self.should_stop(result.text):
            result.stop_reason = "callback"
        elif len(result.tokens) + self.untokenized > self.max_tokens:  # the server's cap too
            del result.tokens[self.max_tokens :]
            result.stop_reason = "max_tokens"
        elif self._over_budget():
            result.stop_reason = "time_budget"
        else:
            return False
        return True

    def _over_budget(self) -> bool:
        """Past the budget, finish the line being written; past twice the budget, stop at once."""
        budget = self.params.time_budget_s
        if budget is None or self.first_at is None:
            return False
        spent = time.monotonic() - self.first_at
        return spent > budget and (self.result.text.endswith("\n") or spent > 2 * budget)

    def finish(
        self,
        prompt: tuple[int, ...],
        cached: tuple[int, ...],
        tokenize: Callable[[str], list[int]],
    ) -> tuple[int, ...]:
        """Complete the result's figures; the tokens the server now holds, given what it held."""
        result, now = self.result, time.monotonic()
        if self.untokenized:  # once, not per event: tokenizing costs
            result.tokens = tokenize(result.text)
        first = self.first_at or now
        result.prompt_seconds = first - self.sent_at
        result.generate_seconds = now - first
        if self.n_evaluated is not None:
            result.n_reused = max(0, len(prompt) - self.n_evaluated)
        else:  # closed before the server said: what it is known to have kept
            result.n_reused = common_prefix(cached, prompt)
        if self.first_at is None:  # the prompt may not have been evaluated to its end
            return prompt[: common_prefix(cached, prompt)]
        return prompt + tuple(result.tokens)


def before_stop(text: str, stop_texts: Sequence[str]) -> str:
    """`text` up to the first stop token spelled in it (servers that send them as text)."""
    cut = min((text.find(stop) for stop in stop_texts if stop and stop in text), default=-1)
    return text[:cut] if cut >= 0 else text
