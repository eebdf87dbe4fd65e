"""Java: the package, imports and definitions from the syntax tree, and imports to files.

Owns the Java grammar's node types (the package declaration; class, static member and wildcard
imports; classes, interfaces, enums, records, their methods and `static final` constants with
their doc comments) and resolving an import under the source roots (a class file, the file of a
statically imported member's class, or a whole package).
"""

from __future__ import annotations

from pathlib import Path

from tree_sitter import Node

from sc2_lsp.context.languages.base import (
    MAX_PACKAGE_FILES,
    FileOracle,
    LanguageSupport,
    ProjectLayout,
    ResolvedImport,
    Sink,
    Source,
)
from sc2_lsp.context.symbols import FileSymbols, ImportRef


def extract(root: Node, src: Source, sink: Sink) -> str | None:
    package = _java_package(root, src)
    _java_imports(root, src, sink)
    _java_definitions(root, src, sink, parent=None)
    return package


_JAVA_TYPES = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "class",
    "annotation_type_declaration": "interface",
}


def _java_package(root: Node, src: Source) -> str | None:
    for node in root.named_children:
        if node.type == "package_declaration":
            for child in node.named_children:
                if child.type in ("scoped_identifier", "identifier"):
                    return src.text(child)
    return None


def _java_imports(root: Node, src: Source, sink: Sink) -> None:
    for node in root.named_children:
        if node.type != "import_declaration":
            continue
        path_node = next(
            (c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None
        )
        if path_node is None:
            continue
        dotted = src.text(path_node).replace(" ", "")
        line = node.start_point[0]
        if any(c.type == "asterisk" for c in node.named_children):
            sink.add_import(ImportRef("from", dotted, (("*", "*"),), None, line))
            continue
        module, _, name = dotted.rpartition(".")
        sink.add_import(ImportRef("from", module, ((name, name),), None, line))


def _java_definitions(block: Node, src: Source, sink: Sink, parent: int | None) -> None:
    for node in block.named_children:
        kind = node.type
        if kind in _JAVA_TYPES:
            name_node = node.child_by_field_name("name")
            body = node.child_by_field_name("body")
            if name_node is None:
                continue
            index = sink.add_definition(
                src.text(name_node),
                _JAVA_TYPES[kind],
                node,
                parent=parent,
                body=body,
                doc=sink.leading_comment(node),
                is_container=True,
            )
            if body is not None:
                _java_definitions(body, src, sink, index)
        elif kind in ("method_declaration", "constructor_declaration") and parent is not None:
            name_node = node.child_by_field_name("name")
            if name_node is not None:
                sink.add_documented(
                    src.text(name_node),
                    "method",
                    node,
                    parent=parent,
                    body=node.child_by_field_name("body"),
                )
        elif kind in ("field_declaration", "constant_declaration") and parent is not None:
            modifiers = next((c for c in node.named_children if c.type == "modifiers"), None)
            modifier_text = src.text(modifiers) if modifiers is not None else ""
            if kind == "field_declaration" and not (
                "static" in modifier_text and "final" in modifier_text
            ):
                continue
            for declarator in node.children_by_field_name("declarator"):
                name_node = declarator.child_by_field_name("name")
                if name_node is not None:
                    sink.add_documented(src.text(name_node), "constant", node, parent=parent)


def resolve(
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


SUPPORT = LanguageSupport(languages=("java",), extract=extract, resolve=resolve)
