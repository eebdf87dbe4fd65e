"""One sequence being decoded: each token taken into its `Generation`, and where it stops.

The rules every llama.cpp decoding loop applies, in `engine.llama` (one generation) and in
`engine.branching` (each alternative): a stop id ends the sequence before its token; the
caller's `should_stop`, `max_tokens` (tokens that only spell a healed text again not counted),
the context's room and the time budget end it after.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from sc2_lsp.engine import Generation, GenerationParams, ShouldStop, TokenSink
from sc2_lsp.healing import HealingMask


@dataclass(slots=True)
class Decoding:
    result: Generation
    params: GenerationParams
    mask: HealingMask
    should_stop: ShouldStop
    room: int
    """Context positions left after the prompt."""
    on_token: TokenSink | None = None
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))

    def take(self, token: int, piece: bytes, spent: float) -> bool:
        """Add `token`, whose bytes are `piece`, `spent` seconds after the first token; False
        when the sequence ends here (the reason is then in `result.stop_reason`)."""
        result, params = self.result, self.params
        if token in params.stop_ids:
            result.stop_reason = "stop_token"
            return False
        result.tokens.append(token)
        if self.on_token is not None:
            self.on_token(token)
        self.mask.took(piece)
        result.text += self.decoder.decode(piece)
        if self.should_stop(result.text):
            result.stop_reason = "callback"
        elif len(result.tokens) >= min(params.max_tokens + self.mask.tokens, self.room - 1):
            result.stop_reason = "max_tokens"
        elif params.over_budget(spent, result.text):
            result.stop_reason = "time_budget"
        else:
            return True
        return False

    def finish(self) -> Generation:
        """The result, with the bytes of a character cut in two by the end decoded."""
        self.result.text += self.decoder.decode(b"", final=True)
        return self.result
