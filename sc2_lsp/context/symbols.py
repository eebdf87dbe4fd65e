"""Tree-sitter extraction of a file's imports and definitions, per language.

Owns the language table (file extension / LSP language id → tree-sitter grammar) for the
languages whose structure repository context understands, and `extract_symbols`, which turns
source bytes into a `FileSymbols`: import references plus definitions with byte/line spans for
the whole definition, its signature (everything before the body) and its doc comment/docstring.
Only top-level and class-level nodes are visited, so extraction stays cheap.
"""

from __future__ import annotations

import logging
import threading
from pathlib import PurePath
from typing import cast

from tree_sitter import Parser

from sc2_lsp.context.symbols_c import c_family_definitions, c_family_imports
from sc2_lsp.context.symbols_lang import (
    go_definitions,
    go_imports,
    java_definitions,
    java_imports,
    java_package,
    rust_definitions,
    rust_imports,
)
from sc2_lsp.context.symbols_model import Definition, FileSymbols, ImportRef, Sink, Source
from sc2_lsp.context.symbols_script import python_symbols, script_symbols

logger = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED_LANGUAGES",
    "Definition",
    "FileSymbols",
    "ImportRef",
    "extract_symbols",
    "language_for_path",
    "normalize_language",
]

SUPPORTED_LANGUAGES = frozenset(
    {"python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp"}
)

_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    # C++ headers are often `.h`; the C++ grammar parses C declarations well too.
    ".h": "cpp",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".h++": "cpp",
    ".ipp": "cpp",
    ".inl": "cpp",
}

_LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "jsx": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "tsx": "tsx",
    "go": "go",
    "golang": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "cuda-cpp": "cpp",
}


def language_for_path(path: PurePath) -> str | None:
    """Grammar name for a path by its extension, when extraction supports it."""
    return _EXTENSIONS.get(path.suffix.lower())


def normalize_language(language: str | None, path: PurePath | None = None) -> str | None:
    """Grammar name from an LSP language id or grammar name, else from the path."""
    if language:
        known = _LANGUAGE_IDS.get(language.lower())
        if known is not None:
            return known
    return language_for_path(path) if path is not None else None


_parsers = threading.local()


def _parser_for(language: str) -> Parser:
    cache: dict[str, Parser] | None = getattr(_parsers, "cache", None)
    if cache is None:
        cache = {}
        _parsers.cache = cache
    parser = cache.get(language)
    if parser is None:
        from tree_sitter_language_pack import SupportedLanguage, get_parser

        parser = get_parser(cast(SupportedLanguage, language))
        cache[language] = parser
    return parser


def extract_symbols(language: str, source: bytes) -> FileSymbols:
    """Imports and definitions of one file; empty (never raising) when the parse fails."""
    if language not in SUPPORTED_LANGUAGES:
        return FileSymbols.build(language, (), (), None)
    try:
        tree = _parser_for(language).parse(source)
    except Exception:
        logger.debug("tree-sitter failed on %s source", language, exc_info=True)
        return FileSymbols.build(language, (), (), None)
    root = tree.root_node
    src = Source(source)
    sink = Sink()
    package: str | None = None
    try:
        if language == "python":
            python_symbols(root, src, sink)
        elif language in ("javascript", "typescript", "tsx"):
            script_symbols(root, src, sink)
        elif language == "go":
            go_imports(root, src, sink)
            go_definitions(root, src, sink)
        elif language == "rust":
            rust_imports(root, src, sink)
            rust_definitions(root, src, sink, parent=None, container=None)
        elif language == "java":
            package = java_package(root, src)
            java_imports(root, src, sink)
            java_definitions(root, src, sink, parent=None)
        else:
            c_family_imports(root, src, sink)
            c_family_definitions(root, src, sink, parent=None, container=None)
    except Exception:
        logger.warning("symbol extraction failed for a %s file", language, exc_info=True)
    return FileSymbols.build(language, sink.imports, sink.definitions, package)
