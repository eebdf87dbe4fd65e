"""The index thread's work queue: file events in priority order, with debounced buffer edits.

Owns `EventQueue`: at most one pending action per path (the latest wins), editor events ahead
of watcher events, and buffer edits held back until typing pauses.  Not thread-safe: the
`IndexState` lock guards it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path
from typing import Literal

Action = Literal["open", "disk", "delete", "ignore"]


class EventQueue:
    def __init__(self, debounce_seconds: float) -> None:
        self._debounce = debounce_seconds
        self._pending: OrderedDict[Path, Action] = OrderedDict()
        self._deferred: dict[Path, float] = {}
        self.busy = False

    def push(self, path: Path, action: Action, *, front: bool) -> None:
        """Queue `action` for `path`, replacing whatever was queued for it."""
        self._deferred.pop(path, None)
        self._pending.pop(path, None)
        self._pending[path] = action
        if front:
            self._pending.move_to_end(path, last=False)

    def defer_edit(self, path: Path) -> None:
        """Re-extract the buffer at `path` once it has not changed for the debounce time."""
        if path not in self._pending:
            self._deferred[path] = time.monotonic() + self._debounce

    def cancel_edit(self, path: Path) -> None:
        self._deferred.pop(path, None)

    def pop(self) -> tuple[Path, Action] | None:
        """The next due action, or None (deferred edits become due after their quiet time)."""
        if self._deferred:
            now = time.monotonic()
            for path in [p for p, due in self._deferred.items() if due <= now]:
                del self._deferred[path]
                self.push(path, "open", front=True)
        if not self._pending:
            return None
        return self._pending.popitem(last=False)

    def __contains__(self, path: object) -> bool:
        return path in self._pending

    def __len__(self) -> int:
        return len(self._pending) + len(self._deferred)

    @property
    def has_due(self) -> bool:
        return bool(self._pending)

    @property
    def idle(self) -> bool:
        return not self._pending and not self._deferred and not self.busy

    def seconds_until_due(self, longest: float) -> float:
        if not self._deferred:
            return longest
        return min(longest, max(0.0, min(self._deferred.values()) - time.monotonic()) + 0.001)
