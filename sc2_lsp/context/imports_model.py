"""Types shared by the import resolvers: the file oracle, the project layout, a resolution.

Owns `FileOracle` (the only way resolvers learn about files, so only files the index may read
can be resolved), `ProjectLayout` (build-system facts: Python source roots, Go modules, Cargo
crates, Java source roots, C include directories, tsconfig files) and `ResolvedImport`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# A wildcard or package import pulls in at most this many files.
MAX_PACKAGE_FILES = 24


class FileOracle(Protocol):
    """What resolution may ask about the tree: only allowed files exist for it."""

    def is_file(self, path: Path) -> bool: ...

    def files_in(self, directory: Path) -> Sequence[Path]: ...

    def files_named(self, name: str) -> Sequence[Path]: ...

    def read_small_text(self, path: Path) -> str | None: ...


@dataclass(frozen=True)
class ProjectLayout:
    """Build-system facts gathered while indexing; replaced wholesale when they change."""

    roots: tuple[Path, ...] = ()
    python_roots: tuple[Path, ...] = ()
    go_modules: tuple[tuple[str, Path], ...] = ()
    rust_crates: tuple[tuple[str, Path], ...] = ()
    java_roots: tuple[Path, ...] = ()
    include_dirs: tuple[Path, ...] = ()
    script_configs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ResolvedImport:
    """An import resolved to one workspace file.

    `names` are (name in target, local name) pairs to look up; empty means the whole module is
    bound to `alias` (or to its own name) and any of its definitions the file uses may matter.
    """

    target: Path
    names: tuple[tuple[str, str], ...]
    alias: str | None
    line: int
