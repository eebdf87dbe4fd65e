"""How long to wait before generating: the user's typing rhythm and the engine's measured speed.

`TypingRhythm` keeps, per document, when the last keystroke came and the usual gap between
keystrokes, and what the last answer was (a request right after accepting it gets no wait);
for the engine it keeps moving averages of the prompt evaluation speed and of a generation's
whole time. The completer asks it for each request's debounce and tells it each generation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sc2_lsp.config import Settings
from sc2_lsp.engine import Generation
from sc2_lsp.prompting import Request

RHYTHM_GAP_MS = 1000.0
"""A longer gap between keystrokes is a pause, not part of the user's typing rhythm."""
SPEED_MIN_TOKENS = 8
"""A prompt evaluation shorter than this says little about the engine's speed."""


def adaptive_debounce(
    base_ms: float,
    typing_interval_ms: float,
    ceiling_ms: float = 250,
    model_ms: float | None = None,
) -> float:
    """Wait about as long as the user's usual gap between keystrokes, within [base, ceiling].

    Someone typing steadily every 120 ms gets ~120 ms, so no generation starts and is thrown
    away mid-word. When the model answers faster than they type (`model_ms`, measured; for a
    remote engine the round trip included), there
    is nothing to save by waiting: every keystroke gets its suggestion after `base`.
    """
    if typing_interval_ms <= 0 or (model_ms is not None and model_ms <= typing_interval_ms):
        return base_ms
    return max(base_ms, min(typing_interval_ms, max(base_ms, ceiling_ms)))


@dataclass
class TypingRhythm:
    prompt_speed: float | None = None
    """Measured prompt evaluation speed (tokens/s, moving average)."""
    model_ms: float | None = None
    """Measured time of a finished generation, prompt included (ms, moving average)."""
    _typing: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per document, when the last request came and the usual gap between requests (ms)."""
    _answered: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Per document, the text before the cursor of the last answer and the suggestion given."""

    def delay_ms(
        self, uri: str, now: float, settings: Settings, request: Request | None = None
    ) -> float:
        """The configured debounce, stretched towards the user's typing rhythm when adaptive.

        None right after a suggestion was accepted: the user stops to read the next one, so
        waiting would only add latency.
        """
        base = settings.completion.debounce_ms
        interval = 0.0
        if uri in self._typing:
            last, interval = self._typing[uri]
            gap = (now - last) * 1000
            if gap <= RHYTHM_GAP_MS:
                interval = gap if interval == 0 else 0.7 * interval + 0.3 * gap
        self._typing[uri] = (now, interval)
        if request is not None and self.just_accepted(request):
            return 0.0
        if not settings.completion.adaptive_debounce:
            return base
        return adaptive_debounce(base, interval, model_ms=self.model_ms)

    def answered(self, uri: str, before: str, suggestion: str) -> None:
        """The suggestion shown at the cursor with `before` just before it."""
        self._answered[uri] = (before, suggestion)

    def just_accepted(self, request: Request) -> bool:
        """The text before the cursor is the last answer's with its whole suggestion after it."""
        answered = self._answered.get(request.snapshot.uri)
        if answered is None:
            return False
        before, suggestion = answered
        text, offset = request.snapshot.text, request.cursor.offset
        start = offset - len(suggestion)
        return (
            start >= len(before)
            and text.startswith(suggestion, start)
            and text.startswith(before, start - len(before))
        )

    def measured(self, generation: Generation) -> None:
        """Fold a finished (or cancelled) generation's timings into the averages."""
        if generation.n_evaluated >= SPEED_MIN_TOKENS and generation.prompt_seconds > 0:
            speed = generation.n_evaluated / generation.prompt_seconds
            self.prompt_speed = (
                speed if self.prompt_speed is None else 0.7 * self.prompt_speed + 0.3 * speed
            )
        if generation.stop_reason != "cancelled":
            spent = (generation.prompt_seconds + generation.generate_seconds) * 1000
            self.model_ms = spent if self.model_ms is None else 0.7 * self.model_ms + 0.3 * spent

    def forget(self, uri: str) -> None:
        for kept in (self._typing, self._answered):
            kept.pop(uri, None)
