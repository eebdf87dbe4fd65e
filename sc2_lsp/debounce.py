"""How long to wait for more keystrokes: the configured debounce, stretched to the typing rhythm.

Owns `adaptive_debounce` (the wait for a given rhythm and model speed) and `TypingRhythm`, the
smoothed gap between one document's keystrokes that it is given.
"""

from __future__ import annotations

RHYTHM_GAP_MS = 1000.0
"""A longer gap between keystrokes is a pause, not part of the user's typing rhythm."""


def adaptive_debounce(
    base_ms: float,
    typing_interval_ms: float,
    ceiling_ms: float = 250,
    model_ms: float | None = None,
) -> float:
    """Wait about as long as the user's usual gap between keystrokes, within [base, ceiling].

    Someone typing steadily every 120 ms gets ~120 ms, so no generation starts and is thrown
    away mid-word. When the model answers faster than they type (`model_ms`, measured; for a
    remote engine the round trip included), there is nothing to save by waiting: every
    keystroke gets its suggestion after `base`.
    """
    if typing_interval_ms <= 0 or (model_ms is not None and model_ms <= typing_interval_ms):
        return base_ms
    return max(base_ms, min(typing_interval_ms, max(base_ms, ceiling_ms)))


class TypingRhythm:
    """Per document: when the last keystroke came, and the smoothed gap between keystrokes."""

    def __init__(self) -> None:
        self._typing: dict[str, tuple[float, float]] = {}

    def interval_ms(self, uri: str, now: float) -> float:
        """Note a keystroke at `now` (seconds); the rhythm so far (0: none yet)."""
        interval = 0.0
        if uri in self._typing:
            last, interval = self._typing[uri]
            gap = (now - last) * 1000
            if gap <= RHYTHM_GAP_MS:
                interval = gap if interval == 0 else 0.7 * interval + 0.3 * gap
        self._typing[uri] = (now, interval)
        return interval

    def forget(self, uri: str) -> None:
        self._typing.pop(uri, None)
