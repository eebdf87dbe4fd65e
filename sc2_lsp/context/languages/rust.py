"""Rust: `mod`/`use` items and definitions from the syntax tree, and module paths to files.

Owns the Rust grammar's node types (`mod x;` declarations and flattened `use` trees;
functions, structs, enums, traits and their items, `impl` blocks, constants and macros with
their attributes and doc comments) and resolving a module path (`crate::`, `self::`,
`super::`, workspace crates by package name, 2018-edition paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tree_sitter import Node

from sc2_lsp.context.languages.base import (
    FileOracle,
    LanguageSupport,
    ProjectLayout,
    ResolvedImport,
    Sink,
    Source,
    leading_siblings,
)
from sc2_lsp.context.symbols import FileSymbols, ImportRef


def extract(root: Node, src: Source, sink: Sink) -> str | None:
    _rust_imports(root, src, sink)
    _rust_definitions(root, src, sink, parent=None, container=None)
    return None


_RUST_ITEMS = {
    "function_item": "function",
    "function_signature_item": "function",
    "struct_item": "type",
    "enum_item": "enum",
    "union_item": "type",
    "trait_item": "trait",
    "type_item": "type",
    "const_item": "constant",
    "static_item": "constant",
    "macro_definition": "macro",
}
_RUST_ATTRIBUTES = frozenset({"attribute_item"})


def _rust_imports(root: Node, src: Source, sink: Sink) -> None:
    for node in root.named_children:
        if node.type == "mod_item" and node.child_by_field_name("body") is None:
            name_node = node.child_by_field_name("name")
            if name_node is not None:
                sink.add_import(
                    ImportRef("mod", src.text(name_node), (), None, node.start_point[0])
                )
        elif node.type == "use_declaration":
            argument = node.child_by_field_name("argument")
            if argument is None:
                continue
            for path, alias in _rust_use_paths(argument, src, ()):
                if not path:
                    continue
                module = "::".join(path[:-1])
                name = path[-1]
                local = alias if alias is not None else name
                sink.add_import(
                    ImportRef("use", module, ((name, local),), None, node.start_point[0])
                )


def _rust_use_paths(
    node: Node, src: Source, prefix: tuple[str, ...]
) -> list[tuple[tuple[str, ...], str | None]]:
    """Flatten a use tree into (path segments, alias) pairs; `*` is a segment."""
    kind = node.type
    if kind in ("identifier", "crate", "self", "super", "metavariable"):
        segment = src.text(node)
        if segment == "self" and prefix:
            return [(prefix, None)]
        return [((*prefix, segment), None)]
    if kind == "scoped_identifier":
        return [((*prefix, *src.text(node).replace(" ", "").split("::")), None)]
    if kind == "use_as_clause":
        path = node.child_by_field_name("path")
        alias = node.child_by_field_name("alias")
        if path is None:
            return []
        return [
            (p, src.text(alias) if alias is not None else a)
            for p, a in _rust_use_paths(path, src, prefix)
        ]
    if kind == "use_wildcard":
        inner = [c for c in node.named_children]
        base = (*prefix, *src.text(inner[0]).split("::")) if inner else prefix
        return [((*base, "*"), None)]
    if kind == "scoped_use_list":
        path = node.child_by_field_name("path")
        items = node.child_by_field_name("list")
        base = (*prefix, *src.text(path).split("::")) if path is not None else prefix
        return _rust_use_paths(items, src, base) if items is not None else []
    if kind == "use_list":
        result: list[tuple[tuple[str, ...], str | None]] = []
        for child in node.named_children:
            result.extend(_rust_use_paths(child, src, prefix))
        return result
    return []


def _rust_definitions(
    block: Node, src: Source, sink: Sink, parent: int | None, container: str | None
) -> None:
    for node in block.named_children:
        kind = node.type
        if kind in _RUST_ITEMS:
            _rust_item(node, src, sink, parent, container)
        elif kind == "impl_item":
            _rust_impl(node, src, sink, parent)
        elif kind == "mod_item":
            body = node.child_by_field_name("body")
            if body is not None and parent is None:
                _rust_definitions(body, src, sink, None, None)


def _rust_item(
    node: Node, src: Source, sink: Sink, parent: int | None, container: str | None
) -> None:
    """A function, type, trait (with its items), constant or macro."""
    kind = node.type
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return
    first = leading_siblings(node, _RUST_ATTRIBUTES)
    is_container = kind == "trait_item"
    body = node.child_by_field_name("body") if kind == "function_item" or is_container else None
    is_method = container is not None and kind.startswith("function")
    index = sink.add_definition(
        src.text(name_node),
        "method" if is_method else _RUST_ITEMS[kind],
        node,
        parent=parent,
        body=body,
        doc=sink.leading_comment(first),
        is_container=is_container,
        container=container,
        start_byte=first.start_byte,
    )
    if is_container and body is not None:
        _rust_definitions(body, src, sink, index, src.text(name_node))


def _rust_impl(node: Node, src: Source, sink: Sink, parent: int | None) -> None:
    """An `impl` block, named after its type, holding its methods."""
    type_node = node.child_by_field_name("type")
    body = node.child_by_field_name("body")
    if type_node is None or body is None:
        return
    while type_node.type in ("generic_type", "scoped_type_identifier"):
        inner = type_node.child_by_field_name("type") or type_node.child_by_field_name("name")
        if inner is None:
            break
        type_node = inner
    type_name = src.text(type_node)
    first = leading_siblings(node, _RUST_ATTRIBUTES)
    index = sink.add_definition(
        type_name,
        "impl",
        node,
        parent=parent,
        body=body,
        doc=sink.leading_comment(first),
        is_container=True,
        start_byte=first.start_byte,
    )
    _rust_definitions(body, src, sink, index, type_name)


def resolve(
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


SUPPORT = LanguageSupport(languages=("rust",), extract=extract, resolve=resolve)
