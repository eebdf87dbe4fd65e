"""Import resolution for Python and JavaScript/TypeScript.

Owns Python module lookup (absolute against source roots, relative with dots, packages and
submodules) and ES/CommonJS specifier lookup (relative paths with extension and `index`
resolution, `.js` specifiers naming `.ts` sources, tsconfig/jsconfig `baseUrl` and `paths`,
including a relative `extends` chain).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sc2_lsp.context.imports_model import FileOracle, ProjectLayout, ResolvedImport
from sc2_lsp.context.symbols_model import FileSymbols, ImportRef

_SCRIPT_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


# --------------------------------------------------------------------------- Python


def resolve_python(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    line = reference.line
    if reference.kind == "module":
        parts = reference.module.split(".")
        for base in _python_search_roots(path, layout, files):
            target = _python_module_file(base, parts, files)
            if target is not None:
                alias = reference.alias or parts[0]
                return [ResolvedImport(target, (), alias, line)]
        return []
    module = reference.module
    dots = len(module) - len(module.lstrip("."))
    parts = [part for part in module[dots:].split(".") if part]
    if dots:
        base = path.parent
        for _ in range(dots - 1):
            base = base.parent
        bases: Sequence[Path] = [base]
    else:
        bases = _python_search_roots(path, layout, files)
    for base in bases:
        package_dir = base.joinpath(*parts)
        module_file = _python_module_file(base, parts, files) if parts else None
        results: list[ResolvedImport] = []
        plain_names: list[tuple[str, str]] = []
        for name, local in reference.names:
            submodule = _python_module_file(package_dir, [name], files) if name != "*" else None
            if submodule is not None:
                results.append(ResolvedImport(submodule, (), local, line))
            else:
                plain_names.append((name, local))
        if plain_names:
            init = module_file if parts else _python_module_file(base, [], files)
            if init is not None:
                results.append(ResolvedImport(init, tuple(plain_names), None, line))
        if results or module_file is not None:
            return results
    return []


def _python_module_file(base: Path, parts: Sequence[str], files: FileOracle) -> Path | None:
    if not parts:
        for name in ("__init__.py", "__init__.pyi"):
            if files.is_file(base / name):
                return base / name
        return None
    stem = base.joinpath(*parts)
    for candidate in (
        stem.with_name(stem.name + ".py"),
        stem / "__init__.py",
        stem.with_name(stem.name + ".pyi"),
        stem / "__init__.pyi",
    ):
        if files.is_file(candidate):
            return candidate
    return None


def _python_search_roots(path: Path, layout: ProjectLayout, files: FileOracle) -> list[Path]:
    # The directory above the file's top-level package comes first: that is how the file is
    # imported when the project runs, whatever the configured roots say.
    top = path.parent
    while files.is_file(top / "__init__.py") and top.parent != top:
        top = top.parent
    roots = [top, path.parent]
    roots.extend(layout.python_roots)
    roots.extend(layout.roots)
    return list(dict.fromkeys(roots))


# --------------------------------------------------------------------------- JS / TS


def resolve_script(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    specifier = reference.module
    bases: list[Path] = []
    if specifier.startswith("."):
        bases.append(Path(os.path.normpath(path.parent / specifier)))
    elif specifier.startswith("/"):
        return []
    else:
        bases.extend(_script_config_candidates(path, specifier, layout, files))
    for base in bases:
        target = _script_file(base, files)
        if target is not None:
            return [ResolvedImport(target, reference.names, reference.alias, reference.line)]
    return []


def _script_file(base: Path, files: FileOracle) -> Path | None:
    if files.is_file(base):
        return base
    suffix = base.suffix.lower()
    for replacement in _JS_TO_TS.get(suffix, ()):
        candidate = base.with_suffix(replacement)
        if files.is_file(candidate):
            return candidate
    for extension in _SCRIPT_EXTENSIONS:
        candidate = base.with_name(base.name + extension)
        if files.is_file(candidate):
            return candidate
    for extension in _SCRIPT_EXTENSIONS:
        candidate = base / f"index{extension}"
        if files.is_file(candidate):
            return candidate
    return None


@dataclass(frozen=True)
class ScriptConfig:
    """The parts of a tsconfig/jsconfig that map bare specifiers to files."""

    base_url: Path | None
    paths: tuple[tuple[str, tuple[str, ...]], ...]
    paths_base: Path


def _script_config_candidates(
    path: Path, specifier: str, layout: ProjectLayout, files: FileOracle
) -> list[Path]:
    config_file = _nearest_config(path, layout)
    if config_file is None:
        return []
    config = load_script_config(config_file, files.read_small_text)
    if config is None:
        return []
    candidates: list[Path] = []
    for pattern, targets in config.paths:
        captured = _match_path_pattern(pattern, specifier)
        if captured is None:
            continue
        for target in targets:
            candidates.append(
                Path(os.path.normpath(config.paths_base / target.replace("*", captured)))
            )
    if config.base_url is not None:
        candidates.append(Path(os.path.normpath(config.base_url / specifier)))
    return candidates


def _nearest_config(path: Path, layout: ProjectLayout) -> Path | None:
    best: Path | None = None
    for config in layout.script_configs:
        directory = config.parent
        if (directory == path.parent or directory in path.parents) and (
            best is None or len(directory.parts) > len(best.parent.parts)
        ):
            best = config
    return best


def _match_path_pattern(pattern: str, specifier: str) -> str | None:
    if "*" not in pattern:
        return "" if pattern == specifier else None
    prefix, _, suffix = pattern.partition("*")
    if specifier.startswith(prefix) and specifier.endswith(suffix):
        return specifier[len(prefix) : len(specifier) - len(suffix)]
    return None


def load_script_config(
    config_file: Path, read: Callable[[Path], str | None], depth: int = 0
) -> ScriptConfig | None:
    """Parse a tsconfig/jsconfig (JSON with comments), following relative `extends`."""
    text = read(config_file)
    if text is None:
        return None
    try:
        data = json.loads(_strip_json_comments(text))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    inherited: ScriptConfig | None = None
    extends = data.get("extends")
    if isinstance(extends, str) and extends.startswith(".") and depth < 3:
        parent_file = Path(os.path.normpath(config_file.parent / extends))
        if parent_file.suffix != ".json":
            parent_file = parent_file.with_name(parent_file.name + ".json")
        inherited = load_script_config(parent_file, read, depth + 1)
    options = data.get("compilerOptions")
    options = options if isinstance(options, dict) else {}
    base_url = inherited.base_url if inherited else None
    if isinstance(options.get("baseUrl"), str):
        base_url = Path(os.path.normpath(config_file.parent / options["baseUrl"]))
    paths = inherited.paths if inherited else ()
    paths_base = inherited.paths_base if inherited else config_file.parent
    raw_paths = options.get("paths")
    if isinstance(raw_paths, dict):
        paths = tuple(
            (str(key), tuple(str(v) for v in value if isinstance(v, str)))
            for key, value in raw_paths.items()
            if isinstance(value, list)
        )
        paths_base = base_url if base_url is not None else config_file.parent
    return ScriptConfig(base_url=base_url, paths=paths, paths_base=paths_base)


_JSON_COMMENTS = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
_JSON_TRAILING_COMMAS = re.compile(r'"(?:\\.|[^"\\])*"|,(?=\s*[}\]])')


def _strip_json_comments(text: str) -> str:
    """JSONC → JSON: drop comments, then trailing commas (strings are left untouched)."""

    def keep_strings(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.startswith('"') else ""

    return _JSON_TRAILING_COMMAS.sub(keep_strings, _JSON_COMMENTS.sub(keep_strings, text))
