"""Fallbacks remembered per machine, llama.cpp build and model, so a known crash happens once.

A JSON file in the platformdirs state dir maps a fingerprint of (this machine's CPU and host
name, llama.cpp's version and system info, the model file's path, size and mtime) to the
`Safety` that made the model run, why it was needed, and when. Upgrading llama.cpp or replacing
the model file gives a new fingerprint, so a fixed build gets its chance again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from sc2_lsp.engine import Safety

log = logging.getLogger(__name__)

FILE_NAME = "engine-fallbacks.json"


@dataclass(frozen=True, slots=True)
class Remembered:
    safety: Safety
    reason: str
    since: float


def state_dir() -> Path:
    override = os.environ.get("SC2_LSP_STATE_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    return platformdirs.user_state_path("sc2-lsp", appauthor=False)


def fingerprint(model: Path, llama_version: str, system_info: str) -> str:
    try:
        stat = model.stat()
        file_id = [str(model.resolve()), stat.st_size, stat.st_mtime_ns]
    except OSError:
        file_id = [str(model), 0, 0]
    facts = [platform.node(), platform.machine(), _cpu_name(), llama_version, system_info, *file_id]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:24]


class FallbackMemory:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / FILE_NAME

    def recall(self, key: str) -> Remembered | None:
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            safety = Safety(**entry["safety"])
            return Remembered(safety, str(entry["reason"]), float(entry["since"]))
        except (KeyError, TypeError, ValueError):
            return None

    def remember(self, key: str, safety: Safety, reason: str) -> None:
        entries = self._read()
        entries[key] = {"safety": asdict(safety), "reason": reason, "since": time.time()}
        self._write(entries)

    def forget(self, key: str) -> None:
        entries = self._read()
        if entries.pop(key, None) is not None:
            self._write(entries)

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, entries: dict[str, object]) -> None:
        """Atomically; a state dir that cannot be written only costs the memory, not the run."""
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(entries, indent=1), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError as error:
            log.warning("could not remember the engine fallback in %s: %s", self.path, error)
            with contextlib.suppress(OSError):
                partial.unlink()


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()
