"""JavaScript, TypeScript and TSX: imports and definitions, module specifier lookup.

Owns these grammars' node types (ES `import`/`export … from`, CommonJS `require`; functions,
classes, methods, interfaces, type aliases, enums and module-level constants with their doc
comments) and resolving a specifier (relative paths with extension and `index` resolution,
`.js` specifiers naming `.ts` sources, tsconfig/jsconfig `baseUrl` and `paths`, including a
relative `extends` chain).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
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

_SCRIPT_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


def extract(root: Node, src: Source, sink: Sink) -> str | None:
    _script_block(root, src, sink, parent=None)
    return None


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
        sink.add_documented(
            src.text(name_node),
            "method",
            member,
            parent=parent,
            body=member.child_by_field_name("body"),
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
        sink.add_documented(name, kind, outer, parent=parent, body=body)


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


def resolve(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    specifier = reference.module
    bases: list[Path] = []
    if specifier.startswith("."):
        bases.append(Path(os.path.normpath(path.parent / specifier)))
    elif specifier.startswith("/"):
        return []
    else:
        bases.extend(_script_config_candidates(path, specifier, layout, files))
    for base in bases:
        target = _script_file(base, files)
        if target is not None:
            return [ResolvedImport(target, reference.names, reference.alias, reference.line)]
    return []


def _script_file(base: Path, files: FileOracle) -> Path | None:
    if files.is_file(base):
        return base
    suffix = base.suffix.lower()
    for replacement in _JS_TO_TS.get(suffix, ()):
        candidate = base.with_suffix(replacement)
        if files.is_file(candidate):
            return candidate
    for extension in _SCRIPT_EXTENSIONS:
        candidate = base.with_name(base.name + extension)
        if files.is_file(candidate):
            return candidate
    for extension in _SCRIPT_EXTENSIONS:
        candidate = base / f"index{extension}"
        if files.is_file(candidate):
            return candidate
    return None


@dataclass(frozen=True)
class ScriptConfig:
    """The parts of a tsconfig/jsconfig that map bare specifiers to files."""

    base_url: Path | None
    paths: tuple[tuple[str, tuple[str, ...]], ...]
    paths_base: Path


def _script_config_candidates(
    path: Path, specifier: str, layout: ProjectLayout, files: FileOracle
) -> list[Path]:
    config_file = _nearest_config(path, layout)
    if config_file is None:
        return []
    config = load_script_config(config_file, files.read_small_text)
    if config is None:
        return []
    candidates: list[Path] = []
    for pattern, targets in config.paths:
        captured = _match_path_pattern(pattern, specifier)
        if captured is None:
            continue
        for target in targets:
            candidates.append(
                Path(os.path.normpath(config.paths_base / target.replace("*", captured)))
            )
    if config.base_url is not None:
        candidates.append(Path(os.path.normpath(config.base_url / specifier)))
    return candidates


def _nearest_config(path: Path, layout: ProjectLayout) -> Path | None:
    best: Path | None = None
    for config in layout.script_configs:
        directory = config.parent
        if (directory == path.parent or directory in path.parents) and (
            best is None or len(directory.parts) > len(best.parent.parts)
        ):
            best = config
    return best


def _match_path_pattern(pattern: str, specifier: str) -> str | None:
    if "*" not in pattern:
        return "" if pattern == specifier else None
    prefix, _, suffix = pattern.partition("*")
    if specifier.startswith(prefix) and specifier.endswith(suffix):
        return specifier[len(prefix) : len(specifier) - len(suffix)]
    return None


def load_script_config(
    config_file: Path, read: Callable[[Path], str | None], depth: int = 0
) -> ScriptConfig | None:
    """Parse a tsconfig/jsconfig (JSON with comments), following relative `extends`."""
    text = read(config_file)
    if text is None:
        return None
    try:
        data = json.loads(_strip_json_comments(text))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    inherited: ScriptConfig | None = None
    extends = data.get("extends")
    if isinstance(extends, str) and extends.startswith(".") and depth < 3:
        parent_file = Path(os.path.normpath(config_file.parent / extends))
        if parent_file.suffix != ".json":
            parent_file = parent_file.with_name(parent_file.name + ".json")
        inherited = load_script_config(parent_file, read, depth + 1)
    options = data.get("compilerOptions")
    options = options if isinstance(options, dict) else {}
    base_url = inherited.base_url if inherited else None
    if isinstance(options.get("baseUrl"), str):
        base_url = Path(os.path.normpath(config_file.parent / options["baseUrl"]))
    paths = inherited.paths if inherited else ()
    paths_base = inherited.paths_base if inherited else config_file.parent
    raw_paths = options.get("paths")
    if isinstance(raw_paths, dict):
        paths = tuple(
            (str(key), tuple(str(v) for v in value if isinstance(v, str)))
            for key, value in raw_paths.items()
            if isinstance(value, list)
        )
        paths_base = base_url if base_url is not None else config_file.parent
    return ScriptConfig(base_url=base_url, paths=paths, paths_base=paths_base)


_JSON_COMMENTS = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
_JSON_TRAILING_COMMAS = re.compile(r'"(?:\\.|[^"\\])*"|,(?=\s*[}\]])')


def _strip_json_comments(text: str) -> str:
    """JSONC → JSON: drop comments, then trailing commas (strings are left untouched)."""

    def keep_strings(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.startswith('"') else ""

    return _JSON_TRAILING_COMMAS.sub(keep_strings, _JSON_COMMENTS.sub(keep_strings, text))


SUPPORT = LanguageSupport(
    languages=("javascript", "typescript", "tsx"), extract=extract, resolve=resolve
)
