"""Python: imports and definitions from the syntax tree, module lookup, class bases.

Owns the Python grammar's node types (`import`/`from` statements, also under
`if TYPE_CHECKING:` and `try:`; functions, classes and methods with their docstrings;
module-level constants and type aliases), resolving a module (absolute against the source
roots, relative with dots, packages and submodules) and reading base classes from a
`class A(B, m.C):` header.
"""

from __future__ import annotations

import re
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
    split_top_level,
)
from sc2_lsp.context.symbols import FileSymbols, ImportRef

_CLASS_HEADER = re.compile(r"\bclass\s+\w+\s*(?:\[[^\]]*\]\s*)?\(")


def extract(root: Node, src: Source, sink: Sink) -> str | None:
    _python_block(root, src, sink, parent=None, depth=0)
    return None


def _python_block(block: Node, src: Source, sink: Sink, parent: int | None, depth: int) -> None:
    for node in block.named_children:
        _python_statement(node, src, sink, parent, depth)


def _python_statement(node: Node, src: Source, sink: Sink, parent: int | None, depth: int) -> None:
    kind = node.type
    if kind == "expression_statement" and node.named_child_count == 1:
        inner = node.named_children[0]
        if inner.type == "assignment":
            _python_assignment(inner, node, src, sink, parent)
        return
    if kind == "assignment":
        _python_assignment(node, node, src, sink, parent)
        return
    if kind == "decorated_definition":
        inner_definition = node.child_by_field_name("definition")
        if inner_definition is not None:
            _python_definition(inner_definition, node, src, sink, parent, depth)
        return
    if kind in ("function_definition", "class_definition"):
        _python_definition(node, node, src, sink, parent, depth)
        return
    if kind == "type_alias_statement":
        left = node.child_by_field_name("left")
        if left is not None:
            sink.add_definition(src.text(left), "type", node, parent=parent, body=None)
        return
    if parent is not None:
        return
    if kind in ("import_statement", "import_from_statement"):
        _python_import(node, src, sink)
    elif kind in ("if_statement", "try_statement", "with_statement") and depth == 0:
        # `if TYPE_CHECKING:` and `try: import x except ImportError:` hold real imports.
        for child in node.named_children:
            if child.type == "block":
                _python_block(child, src, sink, parent, depth)
            elif child.type in ("else_clause", "except_clause", "finally_clause", "elif_clause"):
                for grandchild in child.named_children:
                    if grandchild.type == "block":
                        _python_block(grandchild, src, sink, parent, depth)


def _python_definition(
    node: Node, outer: Node, src: Source, sink: Sink, parent: int | None, depth: int
) -> None:
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None:
        return
    is_class = node.type == "class_definition"
    if is_class:
        kind = "class"
    else:
        kind = "method" if parent is not None and sink.is_class(parent) else "function"
    doc = _python_docstring(body)
    index = sink.add_definition(
        src.text(name_node), kind, outer, parent=parent, body=body, doc=doc, is_container=is_class
    )
    if is_class and body is not None and depth < 3:
        _python_block(body, src, sink, parent=index, depth=depth + 1)


def _python_docstring(body: Node | None) -> Node | None:
    if body is None or body.named_child_count == 0:
        return None
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_child_count == 1:
        first = first.named_children[0]
    return first if first.type == "string" else None


def _python_assignment(
    node: Node, outer: Node, src: Source, sink: Sink, parent: int | None
) -> None:
    left = node.child_by_field_name("left")
    if left is None or left.type != "identifier":
        return
    name = src.text(left)
    if parent is not None:
        # Class attributes show up inside the class outline; indexing each is noise.
        return
    kind = "constant" if name.isupper() else "variable"
    sink.add_definition(name, kind, outer, parent=parent, body=None)


def _python_import(node: Node, src: Source, sink: Sink) -> None:
    line = node.start_point[0]
    if node.type == "import_statement":
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                module = child.child_by_field_name("name")
                alias = child.child_by_field_name("alias")
                if module is not None:
                    local = src.text(alias) if alias is not None else None
                    sink.add_import(ImportRef("module", src.text(module), (), local, line))
            else:
                sink.add_import(ImportRef("module", src.text(child), (), None, line))
        return
    module_node = node.child_by_field_name("module_name")
    if module_node is None:
        return
    names: list[tuple[str, str]] = []
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            imported = child.child_by_field_name("name")
            alias = child.child_by_field_name("alias")
            if imported is not None:
                local = src.text(alias) if alias is not None else src.text(imported)
                names.append((src.text(imported), local))
        else:
            names.append((src.text(child), src.text(child)))
    if any(child.type == "wildcard_import" for child in node.named_children):
        names.append(("*", "*"))
    sink.add_import(ImportRef("from", src.text(module_node), tuple(names), None, line))


def resolve(
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


def class_bases(header: str) -> list[str]:
    """The bases a `class A(B, m.C, metaclass=M):` header names (keywords and `*args` left out)."""
    inside = _parenthesised_bases(header)
    if inside is None:
        return []
    names: list[str] = []
    for item in split_top_level(inside):
        item = item.strip()
        if not item or "=" in item or item.startswith("*"):
            continue
        names.append(item.split("[", 1)[0].strip())
    return names


def _parenthesised_bases(header: str) -> str | None:
    """What the parentheses after `class Name` hold, or None without any."""
    match = _CLASS_HEADER.search(header)
    if match is None:
        return None
    depth = 1
    for position in range(match.end(), len(header)):
        char = header[position]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return header[match.end() : position]
    return None


SUPPORT = LanguageSupport(
    languages=("python",),
    extract=extract,
    resolve=resolve,
    class_bases=class_bases,
    indented_bodies=True,
)
