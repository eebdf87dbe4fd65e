"""C, C++ and CUDA: `#include`s and definitions from the syntax tree, and includes to files.

Owns the C-family grammars' node types (`#include` directives, also inside include guards and
`extern "C"` blocks; functions and prototypes, methods in-class and as `Class::name`, structs,
unions, enums, classes, typedefs, `using` aliases, macros and constants, through namespaces
and templates) and resolving an include (relative to the file, the include directories, then a
unique path-suffix match).  CUDA's grammar extends C++'s, node types included.
"""

from __future__ import annotations

import os
from pathlib import Path

from tree_sitter import Node

from sc2_lsp.context.languages.base import (
    FileOracle,
    LanguageSupport,
    ProjectLayout,
    ResolvedImport,
    Sink,
    Source,
)
from sc2_lsp.context.symbols import FileSymbols, ImportKind, ImportRef

_C_TRANSPARENT = frozenset(
    {"preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif", "linkage_specification"}
)
# Definitions that are just a name field: macros and `using` aliases.
_C_NAMED = {"preproc_def": "macro", "preproc_function_def": "macro", "alias_declaration": "type"}
_C_RECORDS = {
    "struct_specifier": "type",
    "union_specifier": "type",
    "enum_specifier": "enum",
    "class_specifier": "class",
}


def _c_family_imports(root: Node, src: Source, sink: Sink) -> None:
    stack = [root]
    while stack:
        block = stack.pop()
        for node in block.named_children:
            if node.type == "preproc_include":
                path_node = node.child_by_field_name("path")
                if path_node is None:
                    continue
                text = src.text(path_node)
                system = path_node.type == "system_lib_string"
                kind: ImportKind = "system_include" if system else "include"
                sink.add_import(ImportRef(kind, text.strip('"<>'), (), None, node.start_point[0]))
            elif node.type in _C_TRANSPARENT:
                stack.append(node)


def _c_family_definitions(
    block: Node, src: Source, sink: Sink, parent: int | None, container: str | None
) -> None:
    for node in block.named_children:
        _c_node(node, node, src, sink, parent, container)


def _c_node(
    node: Node, outer: Node, src: Source, sink: Sink, parent: int | None, container: str | None
) -> None:
    kind = node.type
    if kind in _C_TRANSPARENT or kind == "declaration_list":
        body = node.child_by_field_name("body")
        _c_family_definitions(body if body is not None else node, src, sink, parent, container)
        return
    if kind == "namespace_definition":
        body = node.child_by_field_name("body")
        if body is not None:
            _c_family_definitions(body, src, sink, parent, container)
        return
    if kind == "template_declaration":
        for child in node.named_children:
            if child.type in (
                "function_definition",
                "class_specifier",
                "struct_specifier",
                "declaration",
                "alias_declaration",
            ):
                _c_node(child, outer, src, sink, parent, container)
        return
    if kind == "function_definition":
        name, qualifier = _c_declarator_name(node.child_by_field_name("declarator"), src)
        if name is not None:
            owner = qualifier or container
            sink.add_documented(
                name,
                "method" if owner else "function",
                outer,
                parent=parent,
                body=node.child_by_field_name("body"),
                container=owner,
            )
        return
    if kind in ("declaration", "field_declaration"):
        _c_declaration(node, outer, src, sink, parent, container)
        return
    if kind == "type_definition":
        _c_typedef(node, outer, src, sink, parent)
        return
    if kind in _C_RECORDS:
        _c_record(node, outer, src, sink, parent, alias_only=False)
        return
    named_kind = _C_NAMED.get(kind)
    name_node = node.child_by_field_name("name") if named_kind else None
    if named_kind is not None and name_node is not None:
        sink.add_documented(src.text(name_node), named_kind, outer, parent=parent)


def _c_typedef(node: Node, outer: Node, src: Source, sink: Sink, parent: int | None) -> None:
    """Each alias a `typedef` declares, and its struct/union/enum when the tag differs."""
    type_node = node.child_by_field_name("type")
    aliases: set[str] = set()
    for declarator in node.children_by_field_name("declarator"):
        name, _ = _c_declarator_name(declarator, src)
        if name is not None:
            aliases.add(name)
            sink.add_documented(name, "type", outer, parent=parent)
    if type_node is not None and type_node.type in _C_RECORDS:
        tag = type_node.child_by_field_name("name")
        if tag is not None and src.text(tag) not in aliases:
            _c_record(type_node, outer, src, sink, parent, alias_only=True)


def _c_record(
    node: Node, outer: Node, src: Source, sink: Sink, parent: int | None, *, alias_only: bool
) -> None:
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None or body is None:
        return
    name = src.text(name_node)
    is_class = (
        node.type in ("class_specifier", "struct_specifier") and outer.type != "type_definition"
    )
    index = sink.add_definition(
        name,
        _C_RECORDS[node.type],
        outer,
        parent=parent,
        body=None,
        doc=sink.leading_comment(outer),
        is_container=is_class,
    )
    if is_class and not alias_only:
        for member in body.named_children:
            if member.type in (
                "function_definition",
                "declaration",
                "field_declaration",
                "template_declaration",
            ):
                _c_node(member, member, src, sink, index, name)


def _c_declaration(
    node: Node, outer: Node, src: Source, sink: Sink, parent: int | None, container: str | None
) -> None:
    type_node = node.child_by_field_name("type")
    declarators = node.children_by_field_name("declarator")
    if type_node is not None and type_node.type in _C_RECORDS and not declarators:
        _c_record(type_node, outer, src, sink, parent, alias_only=False)
        return
    for declarator in declarators:
        is_function = _c_is_function_declarator(declarator)
        name, qualifier = _c_declarator_name(declarator, src)
        if name is None:
            continue
        if is_function:
            owner = qualifier or container
            sink.add_documented(
                name, "method" if owner else "function", outer, parent=parent, container=owner
            )
        elif parent is None and ("const" in src.text(node).split("=")[0].split() or name.isupper()):
            sink.add_documented(name, "constant", outer, parent=parent)


def _c_is_function_declarator(declarator: Node) -> bool:
    current: Node | None = declarator
    while current is not None:
        if current.type == "function_declarator":
            return True
        if current.type not in ("pointer_declarator", "reference_declarator", "init_declarator"):
            return False
        current = current.child_by_field_name("declarator")
    return False


def _c_declarator_name(declarator: Node | None, src: Source) -> tuple[str | None, str | None]:
    """(name, class qualifier) of a declarator, unwrapping pointers/functions/`A::b`."""
    current = declarator
    while current is not None:
        kind = current.type
        if kind in (
            "identifier",
            "field_identifier",
            "type_identifier",
            "destructor_name",
            "operator_name",
        ):
            return src.text(current), None
        if kind == "qualified_identifier":
            scope = current.child_by_field_name("scope")
            name_node = current.child_by_field_name("name")
            if name_node is None:
                return None, None
            inner, _ = _c_declarator_name(name_node, src)
            return inner, src.text(scope) if scope is not None else None
        if kind == "template_function":
            name_node = current.child_by_field_name("name")
            return (src.text(name_node) if name_node is not None else None), None
        if kind == "parenthesized_declarator":
            current = current.named_children[0] if current.named_child_count else None
            continue
        current = current.child_by_field_name("declarator")
    return None, None


def extract(root: Node, src: Source, sink: Sink) -> str | None:
    _c_family_imports(root, src, sink)
    _c_family_definitions(root, src, sink, parent=None, container=None)
    return None


def resolve(
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


SUPPORT = LanguageSupport(languages=("c", "cpp", "cuda"), extract=extract, resolve=resolve)
