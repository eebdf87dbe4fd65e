"""Definitions, usages and local bindings of a Python file."""

from __future__ import annotations

from collections.abc import Sequence

from tree_sitter import Node

from benchmarks.context_recall.facts import (
    FactsWalker,
    Source,
)


class PythonFacts(FactsWalker):
    """Definitions, usages and local bindings of one Python file."""

    def __init__(self, source: Source, internal: Sequence[str]) -> None:
        super().__init__(source)
        self.internal = tuple(internal)

    def _visit(self, node: Node, scope: str) -> None:
        kind = node.type
        if kind in ("string", "comment", "concatenated_string"):
            return
        if kind in ("import_statement", "import_from_statement", "future_import_statement"):
            self.facts.skip_lines.update(range(node.start_point[0], node.end_point[0] + 1))
            self._import(node)
            return
        if kind in ("function_definition", "class_definition"):
            self._definition(node, scope)
            return
        if kind == "assignment":
            self._assignment(node, scope)
            return
        if kind in ("augmented_assignment",) or kind in ("for_statement", "for_in_clause"):
            self._bind(node.child_by_field_name("left"))
        elif kind in ("as_pattern_target", "global_statement", "nonlocal_statement"):
            self._bind(node)
            return
        elif kind == "named_expression":
            self._bind(node.child_by_field_name("name"))
        elif kind == "lambda_parameters":
            self._parameters(node)
            return
        elif kind == "keyword_argument":
            value = node.child_by_field_name("value")
            if value is not None:
                self._visit(value, scope)
            return
        elif kind == "attribute":
            obj = node.child_by_field_name("object")
            attribute = node.child_by_field_name("attribute")
            if obj is not None:
                self._visit(obj, scope)
            if attribute is not None:
                self._use(attribute, member=True, receiver=obj)
            return
        elif kind == "identifier":
            self._use(node, member=False)
            return
        for child in node.children:
            self._visit(child, scope)

    def _definition(self, node: Node, scope: str) -> None:
        """A function or class: a definition outside functions, a local binding inside one."""
        name = node.child_by_field_name("name")
        if scope != "function":
            self._define(name, scope == "module", True)
        if name is not None:
            self.facts.skip_lines.add(name.start_point[0])
            if scope == "function":
                self.facts.bound.add(self.src.text(name))
        for child in node.children:
            if child.type == "parameters":
                self._parameters(child)
            elif child.type == "block":
                self._visit(child, "function" if node.type == "function_definition" else "class")
            elif child is not name:
                self._visit(child, scope)

    def _assignment(self, node: Node, scope: str) -> None:
        left = node.child_by_field_name("left")
        if left is not None and left.type == "attribute":
            obj = left.child_by_field_name("object")
            if obj is not None and self.src.text(obj) in ("self", "cls"):
                # Instance attributes only make a member name ambiguous.
                self._define(left.child_by_field_name("attribute"), False, False)
        if left is not None and left.type == "identifier" and scope != "function":
            # Module constants are targets; class attributes only make a name ambiguous.
            self._define(left, scope == "module", scope == "module")
        if scope == "function":
            self._bind(left)
        for child in node.children:
            if child is not left:
                self._visit(child, scope)

    def _import(self, node: Node) -> None:
        if node.type == "future_import_statement":
            return
        module = node.child_by_field_name("module_name")
        if node.type == "import_from_statement" and module is not None:
            name = self.src.text(module)
            internal = name.startswith(".") or name.split(".")[0] in self.internal
            if internal:
                return
            for child in node.children_by_field_name("name"):
                alias = (
                    child.child_by_field_name("alias") if child.type == "aliased_import" else child
                )
                if alias is not None:
                    self.facts.external.add(self.src.text(alias).split(".")[0])
            return
        for child in node.children_by_field_name("name"):
            dotted = child.child_by_field_name("name") if child.type == "aliased_import" else child
            if dotted is None or self.src.text(dotted).split(".")[0] in self.internal:
                continue
            alias = child.child_by_field_name("alias") if child.type == "aliased_import" else child
            if alias is not None:
                self.facts.external.add(self.src.text(alias).split(".")[0])

    def _parameters(self, node: Node) -> None:
        for child in node.children:
            if child.type == "identifier":
                self.facts.bound.add(self.src.text(child))
            elif child.type in ("default_parameter", "typed_default_parameter"):
                self._bind(child.child_by_field_name("name"))
            elif child.type in (
                "typed_parameter",
                "list_splat_pattern",
                "dictionary_splat_pattern",
            ):
                for inner in child.children:
                    if inner.type == "identifier":
                        self.facts.bound.add(self.src.text(inner))
