"""Extractors for Python and JavaScript/TypeScript/TSX syntax trees.

Owns the knowledge of these grammars' node types: imports (Python `import`/`from`, ES
`import`/`export … from`, CommonJS `require`), and definitions (functions, classes, methods,
type aliases, interfaces, enums, module-level constants) with their doc comments/docstrings.
"""

from __future__ import annotations

from tree_sitter import Node

from sc2_lsp.context.symbols_model import ImportKind, ImportRef, Sink, Source


def python_symbols(root: Node, src: Source, sink: Sink) -> None:
    _python_block(root, src, sink, parent=None, depth=0)


def script_symbols(root: Node, src: Source, sink: Sink) -> None:
    _script_block(root, src, sink, parent=None)


# --------------------------------------------------------------------------- Python


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


# --------------------------------------------------------------------------- JS / TS

_SCRIPT_DECLARATIONS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "function_signature": "function",
    "class_declaration": "class",
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
}
_SCRIPT_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)


def _script_block(block: Node, src: Source, sink: Sink, parent: int | None) -> None:
    for node in block.named_children:
        _script_statement(node, node, src, sink, parent)


def _script_statement(node: Node, outer: Node, src: Source, sink: Sink, parent: int | None) -> None:
    kind = node.type
    if kind == "import_statement":
        _script_import(node, src, sink)
        return
    if kind == "export_statement":
        declaration = node.child_by_field_name("declaration")
        source = node.child_by_field_name("source")
        if declaration is not None:
            _script_statement(declaration, node, src, sink, parent)
        elif source is not None:
            _script_reexport(node, source, src, sink)
        return
    if kind == "ambient_declaration":
        for child in node.named_children:
            _script_statement(child, node, src, sink, parent)
        return
    if kind in ("internal_module", "module") and parent is None:
        body = node.child_by_field_name("body")
        if body is not None:
            _script_block(body, src, sink, parent)
        return
    if kind in _SCRIPT_DECLARATIONS:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return
        body = node.child_by_field_name("body")
        is_class = kind in ("class_declaration", "abstract_class_declaration")
        index = sink.add_definition(
            src.text(name_node),
            _SCRIPT_DECLARATIONS[kind],
            outer,
            parent=parent,
            body=body if kind not in ("interface_declaration", "enum_declaration") else None,
            doc=sink.leading_comment(outer),
            is_container=is_class,
        )
        if is_class and body is not None:
            _script_class_body(body, src, sink, index)
        return
    if kind in ("lexical_declaration", "variable_declaration"):
        _script_variables(node, outer, src, sink, parent)


def _script_class_body(body: Node, src: Source, sink: Sink, parent: int) -> None:
    for member in body.named_children:
        if member.type not in (
            "method_definition",
            "abstract_method_signature",
            "method_signature",
        ):
            continue
        name_node = member.child_by_field_name("name")
        if name_node is None:
            continue
        sink.add_definition(
            src.text(name_node),
            "method",
            member,
            parent=parent,
            body=member.child_by_field_name("body"),
            doc=sink.leading_comment(member),
        )


def _script_variables(node: Node, outer: Node, src: Source, sink: Sink, parent: int | None) -> None:
    for declarator in node.named_children:
        if declarator.type != "variable_declarator":
            continue
        name_node = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if name_node is None:
            continue
        if value is not None and _is_require(value, src):
            _script_require(name_node, value, src, sink)
            continue
        if name_node.type != "identifier":
            continue
        name = src.text(name_node)
        body: Node | None = None
        if value is not None and value.type in _SCRIPT_FUNCTION_VALUES:
            kind = "function"
            candidate = value.child_by_field_name("body")
            if candidate is not None and candidate.type == "statement_block":
                body = candidate
        else:
            kind = (
                "constant"
                if node.child_count and src.text(node.children[0]) == "const"
                else ("variable")
            )
        sink.add_definition(
            name, kind, outer, parent=parent, body=body, doc=sink.leading_comment(outer)
        )


def _is_require(value: Node, src: Source) -> bool:
    if value.type != "call_expression":
        return False
    function = value.child_by_field_name("function")
    return function is not None and src.text(function) == "require"


def _script_require(name_node: Node, call: Node, src: Source, sink: Sink) -> None:
    arguments = call.child_by_field_name("arguments")
    if arguments is None or arguments.named_child_count == 0:
        return
    literal = arguments.named_children[0]
    if literal.type != "string":
        return
    module = _string_value(literal, src)
    line = call.start_point[0]
    if name_node.type == "identifier":
        sink.add_import(ImportRef("module", module, (), src.text(name_node), line))
    elif name_node.type == "object_pattern":
        names: list[tuple[str, str]] = []
        for child in name_node.named_children:
            if child.type == "shorthand_property_identifier_pattern":
                names.append((src.text(child), src.text(child)))
            elif child.type == "pair_pattern":
                key = child.child_by_field_name("key")
                value = child.child_by_field_name("value")
                if key is not None and value is not None:
                    names.append((src.text(key), src.text(value)))
        sink.add_import(ImportRef("from", module, tuple(names), None, line))


def _script_import(node: Node, src: Source, sink: Sink) -> None:
    source = node.child_by_field_name("source")
    if source is None:
        return
    module = _string_value(source, src)
    line = node.start_point[0]
    names: list[tuple[str, str]] = []
    alias: str | None = None
    for clause in node.named_children:
        if clause.type != "import_clause":
            continue
        for part in clause.named_children:
            if part.type == "identifier":
                names.append(("default", src.text(part)))
            elif part.type == "namespace_import":
                identifiers = [c for c in part.named_children if c.type == "identifier"]
                if identifiers:
                    alias = src.text(identifiers[-1])
            elif part.type == "named_imports":
                for specifier in part.named_children:
                    if specifier.type != "import_specifier":
                        continue
                    imported = specifier.child_by_field_name("name")
                    local = specifier.child_by_field_name("alias")
                    if imported is not None:
                        local_name = src.text(local) if local is not None else src.text(imported)
                        names.append((src.text(imported), local_name))
    kind: ImportKind = "module" if alias is not None or not names else "from"
    sink.add_import(ImportRef(kind, module, tuple(names), alias, line))


def _script_reexport(node: Node, source: Node, src: Source, sink: Sink) -> None:
    names: list[tuple[str, str]] = []
    for clause in node.named_children:
        if clause.type == "export_clause":
            for specifier in clause.named_children:
                name_node = specifier.child_by_field_name("name")
                alias = specifier.child_by_field_name("alias")
                if name_node is not None:
                    exported = src.text(alias) if alias is not None else src.text(name_node)
                    names.append((src.text(name_node), exported))
    if not names:
        names.append(("*", "*"))
    sink.add_import(
        ImportRef("reexport", _string_value(source, src), tuple(names), None, node.start_point[0])
    )


def _string_value(node: Node, src: Source) -> str:
    text = src.text(node)
    if len(text) >= 2 and text[0] in "'\"`" and text[-1] == text[0]:
        return text[1:-1]
    return text
