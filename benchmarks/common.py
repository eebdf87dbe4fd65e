"""What every benchmark reports the same way: the CPU it ran on, percentiles, and paths."""

from __future__ import annotations

import contextlib
import math
import platform
import sysconfig
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def portable_path(path: Path) -> str:
    """`path` as results may name it: relative to the repository or to the standard library."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for base, label in ((ROOT, ""), (stdlib, "<stdlib>/"), (Path.home(), "~/")):
        try:
            return label + path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)
