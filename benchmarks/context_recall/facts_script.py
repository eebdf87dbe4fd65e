"""Definitions, usages and local bindings of a JavaScript file."""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from benchmarks.context_recall.facts import (
    FactsWalker,
    identifiers_in,
)


class ScriptFacts(FactsWalker):
    """Definitions, usages and local bindings of one JavaScript file (ESM or CommonJS)."""

    skip_definition_lines = True

    def _require_specifier(self, node: Node) -> str:
        for inner in node.children:
            if inner.type == "arguments":
                return self.src.text(inner).strip("()'\"` ")
            found = self._require_specifier(inner)
            if found:
                return found
        return ""

    def _is_require(self, node: Node | None) -> bool:
        while node is not None and node.type in ("member_expression", "await_expression"):
            node = node.child_by_field_name("object") or (
                node.children[-1] if node.children else None
            )
        if node is None or node.type != "call_expression":
            return False
        function = node.child_by_field_name("function")
        return function is not None and self.src.text(function) in ("require", "import")

    def _visit(self, node: Node, scope: str) -> None:
        kind = node.type
        if kind in ("string", "template_string", "comment", "regex"):
            return
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, node, scope)
            return
        if kind == "for_in_statement":
            self._bind(node.child_by_field_name("left"))
        for child in node.children:
            self._visit(child, scope)

    def _import(self, node: Node, scope: str) -> None:
        self.facts.skip_lines.update(range(node.start_point[0], node.end_point[0] + 1))
        source = node.child_by_field_name("source")
        if source is not None and not self.src.text(source).strip("'\"").startswith("."):
            for identifier in identifiers_in(node):
                self.facts.external.add(self.src.text(identifier))

    def _declaration(self, node: Node, scope: str) -> None:
        """A function or class declaration: a definition at module level, else a binding."""
        name = node.child_by_field_name("name")
        if scope == "module":
            self._define(name, True, True)
        else:
            self._bind(name)
        inner = "class" if node.type == "class_declaration" else "function"
        for child in node.children:
            if child.type == "formal_parameters":
                self._bind(child)
            elif child is not name:
                self._visit(child, inner)

    def _class_member(self, node: Node, scope: str) -> None:
        name = node.child_by_field_name("name") or node.child_by_field_name("property")
        if (
            name is not None
            and name.type == "property_identifier"
            and scope == "class"
            and self.src.text(name) != "constructor"
        ):
            self._define(name, False, node.type == "method_definition")
        for child in node.children:
            if child.type == "formal_parameters":
                self._bind(child)
            elif child is not name:
                self._visit(child, "function")

    def _variable(self, node: Node, scope: str) -> None:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if self._is_require(value):
            self.facts.skip_lines.update(range(node.start_point[0], node.end_point[0] + 1))
            if value is not None and not self._require_specifier(value).startswith("."):
                for identifier in identifiers_in(name):
                    self.facts.external.add(self.src.text(identifier))
            return
        if scope == "module" and name is not None and name.type == "identifier":
            self._define(name, True, True)
        else:
            self._bind(name)
        if value is not None:
            self._visit(value, "function" if scope == "module" else scope)

    def _assignment(self, node: Node, scope: str) -> None:
        """`exports.x =` defines a module member, `this.x =` a class member."""
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is not None and left.type == "member_expression":
            target = self.src.text(left.child_by_field_name("object") or left)
            prop = left.child_by_field_name("property")
            if target in ("exports", "module.exports") and prop is not None:
                self._define(prop, True, True)
            elif target == "this" and prop is not None and scope != "module":
                self._define(prop, False, False)
        elif left is not None:
            self._bind(left)
        if right is not None:
            self._visit(right, scope)

    def _parameters(self, node: Node, scope: str) -> None:
        self._bind(node)

    def _catch(self, node: Node, scope: str) -> None:
        self._bind(node.child_by_field_name("parameter"))
        body = node.child_by_field_name("body")
        if body is not None:
            self._visit(body, scope)

    def _arrow(self, node: Node, scope: str) -> None:
        parameter = node.child_by_field_name("parameter")
        if parameter is not None:
            self._bind(parameter)
        for child in node.children:
            if child is not parameter:
                self._visit(child, "function")

    def _pair(self, node: Node, scope: str) -> None:
        key = node.child_by_field_name("key")
        if key is not None and key.type == "property_identifier":
            # Object-literal keys only make a member name ambiguous.
            self._define(key, False, False)
        value = node.child_by_field_name("value")
        if value is not None:
            self._visit(value, scope)

    def _shorthand(self, node: Node, scope: str) -> None:
        self._define(node, False, False)

    def _member_expression(self, node: Node, scope: str) -> None:
        obj = node.child_by_field_name("object")
        prop = node.child_by_field_name("property")
        if obj is not None:
            self._visit(obj, scope)
        if prop is not None and prop.type == "property_identifier":
            self._use(prop, member=True, receiver=obj)

    def _identifier(self, node: Node, scope: str) -> None:
        self._use(node, member=False)


_HANDLERS: dict[str, Callable[[ScriptFacts, Node, str], None]] = {
    "import_statement": ScriptFacts._import,
    "function_declaration": ScriptFacts._declaration,
    "generator_function_declaration": ScriptFacts._declaration,
    "class_declaration": ScriptFacts._declaration,
    "method_definition": ScriptFacts._class_member,
    "field_definition": ScriptFacts._class_member,
    "variable_declarator": ScriptFacts._variable,
    "assignment_expression": ScriptFacts._assignment,
    "formal_parameters": ScriptFacts._parameters,
    "catch_clause": ScriptFacts._catch,
    "arrow_function": ScriptFacts._arrow,
    "pair": ScriptFacts._pair,
    "shorthand_property_identifier": ScriptFacts._shorthand,
    "member_expression": ScriptFacts._member_expression,
    "identifier": ScriptFacts._identifier,
}
