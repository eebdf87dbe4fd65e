"""Extractors for Go, Rust and Java syntax trees.

Owns the knowledge of each grammar's node types: which nodes are imports and which are
definitions, where a definition's name, body and doc comment are.
"""

from __future__ import annotations

from tree_sitter import Node

from sc2_lsp.context.symbols_model import ImportRef, Sink, Source, leading_siblings

# ------------------------------------------------------------------------------- Go


def go_imports(root: Node, src: Source, sink: Sink) -> None:
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


def go_definitions(root: Node, src: Source, sink: Sink) -> None:
    for node in root.named_children:
        kind = node.type
        if kind == "function_declaration":
            name_node = node.child_by_field_name("name")
            if name_node is not None:
                sink.add_definition(
                    src.text(name_node),
                    "function",
                    node,
                    parent=None,
                    body=node.child_by_field_name("body"),
                    doc=sink.leading_comment(node),
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
                sink.add_definition(
                    src.text(name_node),
                    "type",
                    outer,
                    parent=None,
                    body=None,
                    doc=sink.leading_comment(outer),
                )
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
            sink.add_definition(
                src.text(name_node),
                kind,
                outer,
                parent=None,
                body=None,
                doc=sink.leading_comment(outer),
            )


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


# ----------------------------------------------------------------------------- Rust

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


def rust_imports(root: Node, src: Source, sink: Sink) -> None:
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


def rust_definitions(
    block: Node, src: Source, sink: Sink, parent: int | None, container: str | None
) -> None:
    for node in block.named_children:
        kind = node.type
        if kind in _RUST_ITEMS:
            name_node = node.child_by_field_name("name")
            if name_node is None:
                continue
            first = leading_siblings(node, _RUST_ATTRIBUTES)
            is_container = kind == "trait_item"
            body = (
                node.child_by_field_name("body")
                if kind == "function_item" or is_container
                else None
            )
            item_kind = (
                "method"
                if container is not None and kind.startswith("function")
                else _RUST_ITEMS[kind]
            )
            index = sink.add_definition(
                src.text(name_node),
                item_kind,
                node,
                parent=parent,
                body=body,
                doc=sink.leading_comment(first),
                is_container=is_container,
                container=container,
                start_byte=first.start_byte,
            )
            if is_container:
                trait_body = node.child_by_field_name("body")
                if trait_body is not None:
                    rust_definitions(trait_body, src, sink, index, src.text(name_node))
        elif kind == "impl_item":
            type_node = node.child_by_field_name("type")
            body = node.child_by_field_name("body")
            if type_node is None or body is None:
                continue
            while type_node.type in ("generic_type", "scoped_type_identifier"):
                inner = type_node.child_by_field_name("type") or type_node.child_by_field_name(
                    "name"
                )
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
            rust_definitions(body, src, sink, index, type_name)
        elif kind == "mod_item":
            body = node.child_by_field_name("body")
            if body is not None and parent is None:
                rust_definitions(body, src, sink, None, None)


# ----------------------------------------------------------------------------- Java

_JAVA_TYPES = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "class",
    "annotation_type_declaration": "interface",
}


def java_package(root: Node, src: Source) -> str | None:
    for node in root.named_children:
        if node.type == "package_declaration":
            for child in node.named_children:
                if child.type in ("scoped_identifier", "identifier"):
                    return src.text(child)
    return None


def java_imports(root: Node, src: Source, sink: Sink) -> None:
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


def java_definitions(block: Node, src: Source, sink: Sink, parent: int | None) -> None:
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
                java_definitions(body, src, sink, index)
        elif kind in ("method_declaration", "constructor_declaration") and parent is not None:
            name_node = node.child_by_field_name("name")
            if name_node is not None:
                sink.add_definition(
                    src.text(name_node),
                    "method",
                    node,
                    parent=parent,
                    body=node.child_by_field_name("body"),
                    doc=sink.leading_comment(node),
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
                    sink.add_definition(
                        src.text(name_node),
                        "constant",
                        node,
                        parent=parent,
                        body=None,
                        doc=sink.leading_comment(node),
                    )
