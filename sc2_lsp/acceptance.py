"""Private acceptance statistics: how many suggestions were shown and taken, per language and
model, and how long they took to appear.

`AcceptanceLog` follows each answer the server gives (an answer id per response, one lineage
per suggestion: what remains of a suggestion while the user types it or after a partial accept
is the same suggestion) and turns the editors' accept signals into counts:

- shown: suggestions that appeared, counted once each (an alternative the user cycled to and
  accepted counts then);
- accepted: suggestions accepted in full (Tab, or the item's accept command), once each;
- partly accepted: suggestions of which the user took a word or a line, but not all of it;
- characters accepted: everything accepting put in the document, partial accepts included;
- latency: how long each shown suggestion took to appear (the most recent `LATENCIES_KEPT`).

Only counts, language ids and model file names are kept: never document text, paths or
suggestion text. `StatsFile` keeps them in a JSON file in the state directory; each server
adds what it counted since its last write under a file lock, so several editors can share it.
Nothing here is sent anywhere.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sc2_lsp.engine.memory import state_dir

log = logging.getLogger(__name__)

FILE_NAME = "stats.json"
LATENCIES_KEPT = 1000
"""Latencies kept per language and model; percentiles describe the most recent ones."""
ANSWERS_KEPT = 2048
"""Answers whose accept signals are still understood; an older one is ignored."""

Key = tuple[str, str]
"""(language id, model file name)."""
State = Literal["shown", "partial", "accepted"]


@dataclass(slots=True)
class Tally:
    shown: int = 0
    accepted: int = 0
    partly_accepted: int = 0
    chars_accepted: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.shown += other.shown
        self.accepted += other.accepted
        self.partly_accepted += other.partly_accepted
        self.chars_accepted += other.chars_accepted
        self.latencies_ms = (self.latencies_ms + other.latencies_ms)[-LATENCIES_KEPT:]

    def percentile(self, share: float) -> float | None:
        """The nearest-rank percentile of the kept latencies (`share` in 0..1)."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
        return ordered[min(rank, len(ordered)) - 1]

    def to_json(self, language: str, model: str) -> dict[str, Any]:
        return {
            "language": language,
            "model": model,
            "shown": self.shown,
            "accepted": self.accepted,
            "partlyAccepted": self.partly_accepted,
            "charsAccepted": self.chars_accepted,
            "latenciesMs": [round(value, 1) for value in self.latencies_ms],
        }


@dataclass(slots=True)
class _Answer:
    key: Key
    lineages: tuple[str, ...]
    lengths: tuple[int, ...]
    taken: list[int]
    """Characters taken from each item by partial accepts."""
    accepted: set[int] = field(default_factory=set)


class StatsFile:
    """The counts on disk: read, add to, reset. A broken or missing file counts as empty."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / FILE_NAME

    def read(self) -> dict[Key, Tally]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        tallies: dict[Key, Tally] = {}
        for entry in data.get("entries", []) if isinstance(data, dict) else []:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                key = (str(entry["language"]), str(entry["model"]))
                tallies[key] = Tally(
                    int(entry["shown"]),
                    int(entry["accepted"]),
                    int(entry["partlyAccepted"]),
                    int(entry["charsAccepted"]),
                    [float(value) for value in entry["latenciesMs"]][-LATENCIES_KEPT:],
                )
        return tallies

    def add(self, deltas: dict[Key, Tally]) -> None:
        """Add `deltas` to what the file holds, under the lock other servers take too."""
        with self._locked():
            tallies = self.read()
            for key, delta in deltas.items():
                tallies.setdefault(key, Tally()).add(delta)
            self._write(tallies)

    def reset(self) -> None:
        with self._locked(), contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self, tallies: dict[Key, Tally]) -> None:
        entries = [tally.to_json(*key) for key, tally in sorted(tallies.items())]
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            partial.write_text(json.dumps({"version": 1, "entries": entries}), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            try:
                import fcntl
            except ImportError:  # Windows: one server at a time is the common case
                yield
                return
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class AcceptanceLog:
    """Counts per language and model in memory until `flush` adds them to the file. Switched
    off (`stats.enable`), it still hands out answer ids but counts nothing."""

    def __init__(self, store: StatsFile | None = None, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        self.pending: dict[Key, Tally] = {}
        self._answers: OrderedDict[str, _Answer] = OrderedDict()
        self._lineages: OrderedDict[str, State] = OrderedDict()
        self._ids = itertools.count(1)

    def answered(
        self,
        language: str | None,
        model: str | None,
        latency_ms: float,
        items: Sequence[tuple[str, int]],
    ) -> str:
        """An answer with `items` ((lineage, length in characters) each, best first) went out;
        returns its id for the items' accept commands. A suggestion not seen before counts as
        shown, with this answer's latency."""
        answer_id = f"a{next(self._ids)}"
        key = (language or "unknown", model or "unknown")
        lineages = tuple(lineage for lineage, _length in items)
        self._answers[answer_id] = _Answer(
            key, lineages, tuple(length for _lineage, length in items), [0] * len(items)
        )
        _trim(self._answers, ANSWERS_KEPT)
        if self.enabled and lineages and lineages[0] not in self._lineages:
            self._show(key, lineages[0], latency_ms)
        return answer_id

    def accepted(self, answer_id: str, index: int, length: int | None = None) -> bool:
        """The client accepted item `index` of the answer in full; `length`: the characters it
        inserted, when it knows (else the item's, less what partial accepts took). False for
        an answer it no longer knows."""
        answer = self._item(answer_id, index)
        if answer is None or index in answer.accepted or not self.enabled:
            return False
        answer.accepted.add(index)
        inserted = answer.lengths[index] - answer.taken[index] if length is None else length
        tally = self._tally(answer.key)
        tally.chars_accepted += max(0, inserted)
        lineage = answer.lineages[index]
        state = self._lineages.get(lineage)
        if state is None:
            self._show(answer.key, lineage, None)
        if state != "accepted":
            tally.accepted += 1
            tally.partly_accepted -= state == "partial"
            self._lineages[lineage] = "accepted"
        return True

    def partially_accepted(self, answer_id: str, index: int, length: int) -> bool:
        """The client took `length` characters of item `index` (a word, a line)."""
        answer = self._item(answer_id, index)
        if answer is None or length <= 0 or not self.enabled:
            return False
        answer.taken[index] += length
        tally = self._tally(answer.key)
        tally.chars_accepted += length
        lineage = answer.lineages[index]
        state = self._lineages.get(lineage)
        if state is None:
            self._show(answer.key, lineage, None)
        if state in (None, "shown"):
            tally.partly_accepted += 1
            self._lineages[lineage] = "partial"
        return True

    def take(self) -> dict[Key, Tally]:
        """What was counted since the last `take`, to `write` (on any thread)."""
        pending, self.pending = self.pending, {}
        return pending

    def write(self, pending: dict[Key, Tally]) -> None:
        """Add `pending` to the file; a state dir that cannot be written only costs the counts."""
        if not (pending and self.store is not None):
            return
        try:
            self.store.add(pending)
        except OSError as error:
            log.warning("could not write acceptance statistics to %s: %s", self.store.path, error)

    def flush(self) -> None:
        self.write(self.take())

    def _item(self, answer_id: str, index: int) -> _Answer | None:
        answer = self._answers.get(answer_id)
        if answer is None or not 0 <= index < len(answer.lineages):
            log.debug("accept signal for an unknown answer %s/%d", answer_id, index)
            return None
        return answer

    def _show(self, key: Key, lineage: str, latency_ms: float | None) -> None:
        tally = self._tally(key)
        tally.shown += 1
        if latency_ms is not None:
            tally.latencies_ms.append(latency_ms)
        self._lineages[lineage] = "shown"
        _trim(self._lineages, ANSWERS_KEPT * 4)

    def _tally(self, key: Key) -> Tally:
        return self.pending.setdefault(key, Tally())


def _trim(kept: OrderedDict[str, Any], limit: int) -> None:
    while len(kept) > limit:
        kept.popitem(last=False)


def report(tallies: dict[Key, Tally]) -> list[str]:
    """`sc2-lsp stats`: one line per language and model."""
    header = ("language", "model", "shown", "accepted", "partly", "chars", "p50", "p90", "p99")
    rows: list[tuple[str, ...]] = [header]
    for (language, model), tally in sorted(tallies.items()):
        rate = f" ({tally.accepted / tally.shown:.0%})" if tally.shown else ""
        rows.append(
            (
                language,
                model,
                str(tally.shown),
                f"{tally.accepted}{rate}",
                str(tally.partly_accepted),
                str(tally.chars_accepted),
                *(_ms(tally.percentile(share)) for share in (0.5, 0.9, 0.99)),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return [
        "  ".join(
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
