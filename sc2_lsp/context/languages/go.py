"""Go: imports and definitions from the syntax tree, and import paths to package files.

Owns the Go grammar's node types (import specs with aliases; functions, methods with their
receiver type, types, constants and variables with their doc comments) and resolving an import
path (the longest `go.mod` module path, then the package directory, then its files).
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
    _go_imports(root, src, sink)
    _go_definitions(root, src, sink)
    return None


def _go_imports(root: Node, src: Source, sink: Sink) -> None:
    for node in root.named_children:
        if node.type != "import_declaration":
            continue
        specs: list[Node] = []
        for child in node.named_children:
            if child.type == "import_spec":
                specs.append(child)
            elif child.type == "import_spec_list":
                specs.extend(c for c in child.named_children if c.type == "import_spec")
        for spec in specs:
            path_node = spec.child_by_field_name("path")
            if path_node is None:
                continue
            name_node = spec.child_by_field_name("name")
            alias = src.text(name_node) if name_node is not None else None
            module = src.text(path_node).strip('"`')
            sink.add_import(ImportRef("module", module, (), alias, spec.start_point[0]))


def _go_definitions(root: Node, src: Source, sink: Sink) -> None:
    for node in root.named_children:
        kind = node.type
        if kind == "function_declaration":
            name_node = node.child_by_field_name("name")
            if name_node is not None:
                sink.add_documented(
                    src.text(name_node),
                    "function",
                    node,
                    parent=None,
                    body=node.child_by_field_name("body"),
                )
        elif kind == "method_declaration":
            name_node = node.child_by_field_name("name")
            receiver = node.child_by_field_name("receiver")
            if name_node is not None:
                sink.add_definition(
                    src.text(name_node),
                    "method",
                    node,
                    parent=None,
                    body=node.child_by_field_name("body"),
                    doc=sink.leading_comment(node),
                    container=_go_receiver_type(receiver, src),
                )
        elif kind == "type_declaration":
            for spec in node.named_children:
                if spec.type not in ("type_spec", "type_alias"):
                    continue
                name_node = spec.child_by_field_name("name")
                if name_node is None:
                    continue
                outer = node if node.named_child_count == 1 else spec
                sink.add_documented(src.text(name_node), "type", outer, parent=None)
        elif kind in ("const_declaration", "var_declaration"):
            _go_values(node, src, sink, "constant" if kind == "const_declaration" else "variable")


def _go_values(node: Node, src: Source, sink: Sink, kind: str) -> None:
    specs = [c for c in node.named_children if c.type in ("const_spec", "var_spec")]
    for child in node.named_children:
        if child.type == "var_spec_list":
            specs.extend(c for c in child.named_children if c.type == "var_spec")
    for spec in specs:
        outer = node if len(specs) == 1 else spec
        for name_node in spec.children_by_field_name("name"):
            sink.add_documented(src.text(name_node), kind, outer, parent=None)


def _go_receiver_type(receiver: Node | None, src: Source) -> str | None:
    if receiver is None:
        return None
    for parameter in receiver.named_children:
        type_node = parameter.child_by_field_name("type")
        while type_node is not None and type_node.type in ("pointer_type", "generic_type"):
            inner = type_node.named_children[0] if type_node.named_child_count else None
            if type_node.type == "generic_type":
                inner = type_node.child_by_field_name("type") or inner
            type_node = inner
        if type_node is not None:
            return src.text(type_node)
    return None


def resolve(
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


SUPPORT = LanguageSupport(languages=("go",), extract=extract, resolve=resolve)
