"""The index's data: file records, the name → definitions table, and a source-bytes LRU.

Owns `FileRecord` (what is kept per file), `SymbolTable` (records plus lookups by definition
name, directory and file name) and `SourceCache` (recently rendered files' bytes).  Plain data
structures: not thread-safe, the `IndexState` lock guards them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from sc2_lsp.context.symbols import FileSymbols


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What the index knows about one allowed file.

    `symbols` is None for files in languages without structure support; `source` holds the
    bytes the symbols came from for open buffers only; `identifiers` (open buffers only) is the
    set of names the buffer uses outside its imports.
    """

    path: Path
    language: str | None
    symbols: FileSymbols | None
    mtime_ns: int
    size: int
    source: bytes | None = None
    identifiers: frozenset[str] | None = None
    text_hash: int | None = None


class SymbolTable:
    """Records by path, with definition-name, directory and base-name lookups."""

    def __init__(self) -> None:
        self.records: dict[Path, FileRecord] = {}
        # name → {file id → definition indices}: dicts of ints escape the cyclic GC's scans.
        self._by_name: dict[str, dict[int, tuple[int, ...]]] = {}
        self._file_ids: dict[Path, int] = {}
        self._id_paths: dict[int, Path] = {}
        self._next_id = 0
        self._by_dir: dict[Path, set[Path]] = {}
        self._by_basename: dict[str, set[Path]] = {}
        self.definition_count = 0

    def store(self, record: FileRecord) -> bool:
        """Add or replace `record`; True if the path is new to the table."""
        path = record.path
        is_new = path not in self.records
        self._unlink(path)
        self.records[path] = record
        self._by_dir.setdefault(path.parent, set()).add(path)
        self._by_basename.setdefault(path.name, set()).add(path)
        if record.symbols is not None:
            file_id = self._file_ids.get(path)
            if file_id is None:
                file_id = self._next_id
                self._next_id += 1
                self._file_ids[path] = file_id
                self._id_paths[file_id] = path
            positions: dict[str, list[int]] = {}
            names = record.symbols.definition_names
            for index, name in enumerate(names):
                positions.setdefault(name, []).append(index)
            for name, indices in positions.items():
                self._by_name.setdefault(name, {})[file_id] = tuple(indices)
            self.definition_count += len(names)
        return is_new

    def remove(self, path: Path) -> None:
        self._unlink(path)
        file_id = self._file_ids.pop(path, None)
        if file_id is not None:
            del self._id_paths[file_id]
        siblings = self._by_dir.get(path.parent)
        if siblings is not None:
            siblings.discard(path)
            if not siblings:
                del self._by_dir[path.parent]
        named = self._by_basename.get(path.name)
        if named is not None:
            named.discard(path)
            if not named:
                del self._by_basename[path.name]

    def definitions_named(self, name: str) -> list[tuple[FileRecord, int]]:
        entries = self._by_name.get(name)
        if not entries:
            return []
        found: list[tuple[FileRecord, int]] = []
        for file_id, indices in entries.items():
            path = self._id_paths.get(file_id)
            record = self.records.get(path) if path is not None else None
            if record is not None:
                found.extend((record, index) for index in indices)
        return found

    def count_named(self, name: str) -> int:
        entries = self._by_name.get(name)
        return 0 if not entries else sum(len(v) for v in entries.values())

    def files_in(self, directory: Path) -> list[Path]:
        return sorted(self._by_dir.get(directory, ()))

    def files_named(self, name: str) -> list[Path]:
        return sorted(self._by_basename.get(name, ()))

    @property
    def distinct_names(self) -> int:
        return len(self._by_name)

    def _unlink(self, path: Path) -> None:
        old = self.records.pop(path, None)
        if old is None or old.symbols is None:
            return
        file_id = self._file_ids.get(path)
        if file_id is None:
            return
        names = old.symbols.definition_names
        for name in set(names):
            entries = self._by_name.get(name)
            if entries is not None:
                entries.pop(file_id, None)
                if not entries:
                    del self._by_name[name]
        self.definition_count -= len(names)


class SourceCache:
    """LRU of file bytes keyed by path and validated by (mtime_ns, size)."""

    def __init__(self, capacity_bytes: int) -> None:
        self._capacity = capacity_bytes
        self._entries: OrderedDict[Path, tuple[int, int, bytes]] = OrderedDict()
        self.total_bytes = 0

    def get(self, path: Path, mtime_ns: int, size: int) -> bytes | None:
        entry = self._entries.get(path)
        if entry is None or entry[:2] != (mtime_ns, size):
            return None
        self._entries.move_to_end(path)
        return entry[2]

    def put(self, path: Path, mtime_ns: int, size: int, data: bytes) -> None:
        self.drop(path)
        self._entries[path] = (mtime_ns, size, data)
        self.total_bytes += len(data)
        while self.total_bytes > self._capacity and len(self._entries) > 1:
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self.total_bytes -= len(dropped)

    def drop(self, path: Path) -> None:
        previous = self._entries.pop(path, None)
        if previous is not None:
            self.total_bytes -= len(previous[2])
