"""Resolution of a file's imports to workspace files, per language.

Owns `resolve_imports`, which maps each `ImportRef` of a file to the workspace files it names
plus the names it brings in, dispatching to the per-language resolvers.  Existence checks go
through a `FileOracle` so only files the index may read (inside a root, not ignored, not
secret) can ever be resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
    resolved: list[ResolvedImport] = []
    for reference in symbols.imports:
        try:
            resolved.extend(resolver(path, reference, symbols, layout, files))
        except Exception:
            logger.debug("resolving %r from %s failed", reference.module, path, exc_info=True)
    return [item for item in resolved if item.target != path]
