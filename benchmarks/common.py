"""What every benchmark reports the same way: the CPU it ran on and percentiles."""

from __future__ import annotations

import contextlib
import math
import platform
from collections.abc import Sequence
from pathlib import Path


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it, else what `platform` knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile, interpolated linearly between ranks (numpy's default); NaN
    without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
