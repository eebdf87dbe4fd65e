"""Build-system facts noticed while indexing, turned into the `ProjectLayout` resolvers use.

Owns `LayoutFacts`: Go modules (`go.mod`), Cargo crates (`Cargo.toml` package names), Python
project roots (`pyproject.toml`/`setup.py`/`setup.cfg`, plus their `src/`), tsconfig/jsconfig
files, Java source roots (from each file's package declaration) and C include directories.
Not thread-safe: the `IndexState` lock guards it.
"""

from __future__ import annotations

import re
from pathlib import Path

from sc2_lsp.context.index.table import FileRecord
from sc2_lsp.context.languages import ProjectLayout
from sc2_lsp.context.languages.java import java_source_root

LAYOUT_FILES = frozenset(
    {
        "go.mod",
        "Cargo.toml",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "tsconfig.json",
        "jsconfig.json",
    }
)
# Files whose text (not just presence) matters.
LAYOUT_FILES_READ = frozenset({"go.mod", "Cargo.toml"})

_GO_MODULE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)
_CARGO_NAME = re.compile(r'^\s*name\s*=\s*"([^"]+)"', re.MULTILINE)
_INCLUDE_DIR_NAMES = frozenset({"include", "inc", "includes", "headers"})
_SCRIPT_CONFIGS = frozenset({"tsconfig.json", "jsconfig.json"})


class LayoutFacts:
    """Accumulated facts; `layout()` is rebuilt only after something changed."""

    def __init__(self, roots: tuple[Path, ...]) -> None:
        self._roots = roots
        self._go_modules: dict[Path, str] = {}
        self._rust_crates: dict[Path, str] = {}
        self._python_roots: set[Path] = set()
        self._java_roots: dict[Path, int] = {}
        self._include_dirs: set[Path] = set()
        self._script_configs: set[Path] = set()
        self._layout: ProjectLayout | None = None

    def note_file(self, path: Path, text: str | None) -> None:
        """A build file (one of LAYOUT_FILES) exists with `text` (read for LAYOUT_FILES_READ)."""
        name = path.name
        directory = path.parent
        if name == "go.mod":
            match = _GO_MODULE.search(text or "")
            if match:
                self._go_modules[directory] = match.group(1)
        elif name == "Cargo.toml":
            match = _CARGO_NAME.search(text or "")
            if match:
                self._rust_crates[directory] = match.group(1).replace("-", "_")
        elif name in _SCRIPT_CONFIGS:
            self._script_configs.add(path)
        elif name in LAYOUT_FILES:
            self._python_roots.add(directory)
            if (directory / "src").is_dir():
                self._python_roots.add(directory / "src")
        self._layout = None

    def forget_file(self, path: Path) -> None:
        name = path.name
        if name == "go.mod":
            self._go_modules.pop(path.parent, None)
        elif name == "Cargo.toml":
            self._rust_crates.pop(path.parent, None)
        elif name in _SCRIPT_CONFIGS:
            self._script_configs.discard(path)
        else:
            self._python_roots.discard(path.parent)
        self._layout = None

    def note_record(self, record: FileRecord) -> None:
        """Facts implied by a source file: its Java source root, its include directory."""
        symbols = record.symbols
        if record.language == "java" and symbols is not None and symbols.package:
            root = java_source_root(record.path, symbols.package)
            if root is not None:
                if root not in self._java_roots:
                    self._layout = None
                self._java_roots[root] = self._java_roots.get(root, 0) + 1
        directory = record.path.parent
        if directory.name in _INCLUDE_DIR_NAMES and directory not in self._include_dirs:
            self._include_dirs.add(directory)
            self._layout = None

    def invalidate(self) -> None:
        self._layout = None

    def layout(self) -> ProjectLayout:
        if self._layout is None:
            # Java roots holding more files are tried first.
            java_roots = sorted(self._java_roots, key=lambda p: (-self._java_roots[p], str(p)))
            self._layout = ProjectLayout(
                roots=self._roots,
                python_roots=tuple(sorted(self._python_roots)),
                go_modules=tuple(sorted((m, d) for d, m in self._go_modules.items())),
                rust_crates=tuple(sorted((n, d) for d, n in self._rust_crates.items())),
                java_roots=tuple(java_roots),
                include_dirs=tuple(sorted(self._include_dirs)),
                script_configs=tuple(sorted(self._script_configs)),
            )
        return self._layout
