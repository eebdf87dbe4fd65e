"""Resolution of a file's imports to workspace files, per language.

Owns `resolve_imports`, which maps each `ImportRef` of a file to the workspace files it names
plus the names it brings in, dispatching to the per-language resolvers.  Existence checks go
through a `FileOracle` so only files the index may read (inside a root, not ignored, not
secret) can ever be resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from sc2_lsp.context.imports_model import FileOracle, ProjectLayout, ResolvedImport
from sc2_lsp.context.imports_native import (
    go_package_files,
    java_source_root,
    resolve_c_family,
    resolve_go,
    resolve_java,
    resolve_rust,
)
from sc2_lsp.context.imports_script import load_script_config, resolve_python, resolve_script
from sc2_lsp.context.symbols_model import FileSymbols, ImportRef

logger = logging.getLogger(__name__)

__all__ = [
    "FileOracle",
    "ProjectLayout",
    "ResolvedImport",
    "go_package_files",
    "java_source_root",
    "load_script_config",
    "resolve_imports",
]

_Resolver = Callable[
    [Path, ImportRef, FileSymbols, ProjectLayout, FileOracle], list[ResolvedImport]
]

_RESOLVERS: dict[str, _Resolver] = {
    "python": resolve_python,
    "javascript": resolve_script,
    "typescript": resolve_script,
    "tsx": resolve_script,
    "go": resolve_go,
    "rust": resolve_rust,
    "java": resolve_java,
    "c": resolve_c_family,
    "cpp": resolve_c_family,
}


def resolve_imports(
    path: Path, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    """Every import of `path` that names workspace files, in source order, never raising."""
    resolver = _RESOLVERS.get(symbols.language)
    if resolver is None:
        return []
    # A file's imports probe the same candidate paths over and over (package `__init__`s,
    # search roots): each is asked once per file.
    oracle = _MemoOracle(files)
    resolved: list[ResolvedImport] = []
    for reference in symbols.imports:
        try:
            resolved.extend(resolver(path, reference, symbols, layout, oracle))
        except Exception:
            logger.debug("resolving %r from %s failed", reference.module, path, exc_info=True)
    return [item for item in resolved if item.target != path]


class _MemoOracle:
    """A `FileOracle` that remembers its answers (for the duration of one file's resolution)."""

    def __init__(self, files: FileOracle) -> None:
        self._files = files
        self._is_file: dict[Path, bool] = {}
        self._listings: dict[Path, Sequence[Path]] = {}

    def is_file(self, path: Path) -> bool:
        found = self._is_file.get(path)
        if found is None:
            found = self._is_file[path] = self._files.is_file(path)
        return found

    def files_in(self, directory: Path) -> Sequence[Path]:
        found = self._listings.get(directory)
        if found is None:
            found = self._listings[directory] = self._files.files_in(directory)
        return found

    def files_named(self, name: str) -> Sequence[Path]:
        return self._files.files_named(name)

    def read_small_text(self, path: Path) -> str | None:
        return self._files.read_small_text(path)
