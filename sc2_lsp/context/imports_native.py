"""Import resolution for Go, Rust, Java and C/C++.

Owns Go import paths (longest `go.mod` module path → package directory → its files), Rust
`mod x;` and `use` paths (`crate::`, `self::`, `super::`, workspace crates by package name),
Java imports (class, static member, wildcard package under the source roots) and C/C++
`#include` (relative to the file, include directories, then a unique path-suffix match).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sc2_lsp.context.imports_model import (
    MAX_PACKAGE_FILES,
    FileOracle,
    ProjectLayout,
    ResolvedImport,
)
from sc2_lsp.context.symbols_model import FileSymbols, ImportRef

# ------------------------------------------------------------------------------- Go


def resolve_go(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    if reference.alias == "_":
        return []
    import_path = reference.module
    best: tuple[str, Path] | None = None
    for module_path, directory in layout.go_modules:
        if (import_path == module_path or import_path.startswith(module_path + "/")) and (
            best is None or len(module_path) > len(best[0])
        ):
            best = (module_path, directory)
    if best is None:
        return []
    relative = import_path[len(best[0]) :].lstrip("/")
    package_dir = best[1] / relative if relative else best[1]
    alias = (
        reference.alias if reference.alias not in (None, ".") else import_path.rsplit("/", 1)[-1]
    )
    return [
        ResolvedImport(file, (), alias, reference.line)
        for file in go_package_files(package_dir, files, include_tests=False)
    ]


def go_package_files(directory: Path, files: FileOracle, *, include_tests: bool) -> list[Path]:
    """The `.go` files of one package directory, in name order."""
    found = [
        file
        for file in files.files_in(directory)
        if file.suffix == ".go" and (include_tests or not file.name.endswith("_test.go"))
    ]
    return sorted(found)[:MAX_PACKAGE_FILES]


# ----------------------------------------------------------------------------- Rust


def resolve_rust(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    crate_dir = _crate_dir_of(path, layout)
    if reference.kind == "mod":
        directory = path.parent if _is_rust_module_root(path) else path.parent / path.stem
        for candidate in (
            directory / f"{reference.module}.rs",
            directory / reference.module / "mod.rs",
        ):
            if files.is_file(candidate):
                return [ResolvedImport(candidate, (), reference.module, reference.line)]
        return []
    segments = [s for s in reference.module.split("::") if s]
    segments.extend(name for name, _ in reference.names[:1])
    locals_ = reference.names[0][1] if reference.names else None
    if not segments:
        return []
    head = segments[0]
    source_dir: Path | None = crate_dir / "src" if crate_dir is not None else None
    module_path: list[str]
    if head == "crate":
        module_path = segments[1:]
    elif head in ("self", "super"):
        if source_dir is None:
            return []
        current = _rust_module_path(path, source_dir)
        index = 0
        if head == "self":
            index = 1
        while index < len(segments) and segments[index] == "super":
            current = current[:-1]
            index += 1
        module_path = current + segments[index:]
    else:
        crate_map = dict(layout.rust_crates)
        other = crate_map.get(head)
        if other is not None:
            source_dir = other / "src"
            module_path = segments[1:]
        else:
            # 2018-edition paths may name a module of the current crate directly.
            module_path = segments
    if source_dir is None:
        return []
    return _rust_lookup(source_dir, module_path, locals_, reference.line, files)


def _rust_lookup(
    source_dir: Path, module_path: list[str], local: str | None, line: int, files: FileOracle
) -> list[ResolvedImport]:
    for length in range(len(module_path), -1, -1):
        target = _rust_module_file(source_dir, module_path[:length], files)
        if target is None:
            continue
        rest = module_path[length:]
        if not rest:
            return [ResolvedImport(target, (), local, line)]
        name = rest[0]
        return [ResolvedImport(target, ((name, local or name),), None, line)]
    return []


def _rust_module_file(source_dir: Path, parts: Sequence[str], files: FileOracle) -> Path | None:
    if not parts:
        for name in ("lib.rs", "main.rs"):
            if files.is_file(source_dir / name):
                return source_dir / name
        return None
    stem = source_dir.joinpath(*parts)
    for candidate in (stem.with_name(stem.name + ".rs"), stem / "mod.rs"):
        if files.is_file(candidate):
            return candidate
    return None


def _rust_module_path(path: Path, source_dir: Path) -> list[str]:
    try:
        relative = path.relative_to(source_dir)
    except ValueError:
        return []
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "mod":
        parts.pop()
    if len(parts) == 1 and parts[0] in ("lib", "main"):
        return []
    return parts


def _is_rust_module_root(path: Path) -> bool:
    return path.name in ("mod.rs", "lib.rs", "main.rs") or path.parent.name == "bin"


def _crate_dir_of(path: Path, layout: ProjectLayout) -> Path | None:
    best: Path | None = None
    for _, directory in layout.rust_crates:
        if directory in path.parents and (best is None or len(directory.parts) > len(best.parts)):
            best = directory
    if best is not None:
        return best
    for parent in path.parents:
        if parent.name == "src":
            return parent.parent
    return None


# ----------------------------------------------------------------------------- Java


def resolve_java(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    roots = list(layout.java_roots)
    own_root = java_source_root(path, symbols.package)
    if own_root is not None:
        roots.insert(0, own_root)
    parts = reference.module.split(".")
    for root in dict.fromkeys(roots):
        if reference.names and reference.names[0][0] == "*":
            directory = root.joinpath(*parts)
            members = sorted(f for f in files.files_in(directory) if f.suffix == ".java")
            if members:
                return [
                    ResolvedImport(member, (), member.stem, reference.line)
                    for member in members[:MAX_PACKAGE_FILES]
                ]
            continue
        for name, local in reference.names:
            class_file = root.joinpath(*parts, f"{name}.java")
            if files.is_file(class_file):
                return [ResolvedImport(class_file, ((name, local),), None, reference.line)]
            # `import static pkg.Type.member`: the member lives in Type.java.
            outer_file = root.joinpath(*parts[:-1], f"{parts[-1]}.java") if parts else None
            if outer_file is not None and files.is_file(outer_file):
                return [ResolvedImport(outer_file, ((name, local),), None, reference.line)]
    return []


def java_source_root(path: Path, package: str | None) -> Path | None:
    """The directory a Java file's package path hangs from, if the layout agrees."""
    if not package:
        return path.parent
    parts = package.split(".")
    directory = path.parent
    for part in reversed(parts):
        if directory.name != part:
            return None
        directory = directory.parent
    return directory


# ---------------------------------------------------------------------------- C/C++


def resolve_c_family(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    spec = reference.module
    candidates: list[Path] = []
    if reference.kind == "include":
        candidates.append(path.parent / spec)
    candidates.extend(directory / spec for directory in layout.include_dirs)
    for candidate in candidates:
        normalised = Path(os.path.normpath(candidate))
        if files.is_file(normalised):
            return [ResolvedImport(normalised, (), None, reference.line)]
    suffix = "/" + spec.lstrip("./")
    matches = [
        file for file in files.files_named(Path(spec).name) if file.as_posix().endswith(suffix)
    ]
    if not matches:
        return []
    best = max(matches, key=lambda file: (_shared_prefix(file, path), -len(file.parts)))
    return [ResolvedImport(best, (), None, reference.line)]


def _shared_prefix(left: Path, right: Path) -> int:
    count = 0
    for a, b in zip(left.parts, right.parts, strict=False):
        if a != b:
            break
        count += 1
    return count
