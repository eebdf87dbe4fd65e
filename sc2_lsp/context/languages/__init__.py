"""The languages repository context understands: one module per language family, registered here.

Owns `SUPPORTED` (the registry: a language module's `SUPPORT` is listed once below), and the
three operations the index asks of a language: which supported language a file is in
(`structure_language`), its imports and definitions (`extract_symbols`, never raising) and the
workspace files its imports name (`resolve_imports`).  Which extensions and LSP language ids
mean which language, and the grammars, come from the language table (`sc2_lsp.languages`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path, PurePath

from sc2_lsp.context.languages import c, go, java, javascript, python, rust
from sc2_lsp.context.languages.base import (
    FileOracle,
    LanguageSupport,
    ProjectLayout,
    ResolvedImport,
    Sink,
    Source,
)
from sc2_lsp.context.symbols import FileSymbols
from sc2_lsp.languages import get_parser, language_for

logger = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED",
    "FileOracle",
    "LanguageSupport",
    "ProjectLayout",
    "ResolvedImport",
    "extract_symbols",
    "resolve_imports",
    "structure_language",
    "support_for",
]

SUPPORTED: tuple[LanguageSupport, ...] = (
    python.SUPPORT,
    javascript.SUPPORT,
    go.SUPPORT,
    rust.SUPPORT,
    java.SUPPORT,
    c.SUPPORT,
)


def support_for(language: str | None) -> LanguageSupport | None:
    """The registered module for a language of the table, if any."""
    return _by_language(SUPPORTED).get(language) if language else None


@functools.lru_cache(maxsize=4)
def _by_language(supported: tuple[LanguageSupport, ...]) -> dict[str, LanguageSupport]:
    return {name: support for support in supported for name in support.languages}


def structure_language(language_id: str | None, path: str | PurePath | None) -> str | None:
    """The language of a document (by LSP language id, else path) when a module supports it."""
    language = language_for(language_id, path)
    return language if support_for(language) is not None else None


def extract_symbols(language: str, source: bytes) -> FileSymbols:
    """Imports and definitions of one file; empty (never raising) when the parse fails."""
    support = support_for(language)
    parser = get_parser(language) if support is not None else None
    if support is None or parser is None:
        return FileSymbols.build(language, (), (), None)
    try:
        tree = parser.parse(source)
    except Exception:
        logger.debug("tree-sitter failed on %s source", language, exc_info=True)
        return FileSymbols.build(language, (), (), None)
    sink = Sink()
    package: str | None = None
    try:
        package = support.extract(tree.root_node, Source(source), sink)
    except Exception:
        logger.warning("symbol extraction failed for a %s file", language, exc_info=True)
    return FileSymbols.build(language, sink.imports, sink.definitions, package)


def resolve_imports(
    path: Path, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    """Every import of `path` that names workspace files, in source order, never raising."""
    support = support_for(symbols.language)
    if support is None:
        return []
    # A file's imports probe the same candidate paths over and over (package `__init__`s,
    # search roots): each is asked once per file.
    oracle = _MemoOracle(files)
    resolved: list[ResolvedImport] = []
    for reference in symbols.imports:
        try:
            resolved.extend(support.resolve(path, reference, symbols, layout, oracle))
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
