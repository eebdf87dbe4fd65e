"""Repository-context recall on real code, CrossCodeEval-style, against three baselines.

Owns: the recall benchmark of repository context.  It copies projects nobody here wrote
(huggingface_hub and hypothesis from the venv, the standard library's asyncio, the system
npm's JavaScript) into `benchmarks/.work/context_recall/`, finds with tree-sitter the usages of
symbols defined in exactly one *other* file of the same project, and puts the cursor right
before such an identifier (right after the `.` for attribute access) with the rest of the
cursor line dropped, as CrossCodeEval does.  A position counts as recalled when the
definition's signature line appears in the prompt's context part (a `<file_sep>` snippet of
the defining file, before `<fim_prefix>`).

Measured at each prompt budget (`--max-prompt-tokens`):

* ours: the real CLI path, `sc2-lsp prompt --workspace … --batch …` (one process per
  project, round and budget; its per-position `ms` is the window+gather+prompt time);
* in-file: the same FIM window and no context at all;
* Jaccard: 20-line windows (stride 10) of the 10 most recently modified files (mtimes set
  from a seeded shuffle), best Jaccard similarity to the 20 lines before the cursor first;
* BM25: the same windows over every other file of the project, query = the same lines.

Baselines are built in-process with the same `prepare` (same window, budget, tokenizer and
prompt layout); only the context provider differs.  Gather latency (cold and warm), index
time and index memory are measured in-process on `RepositoryContext`, in a phase of their own.

Each file holds at most one cursor per *round*: a round is a copy of the project in which the
cursor lines of that round's positions are cut, so every document is the project's file with
exactly its own cursor line cut, and no round cuts a line of a file that defines one of its
targets.  Deterministic: fixed seed, copies with fixed mtimes.

    python benchmarks/context_recall.py [--positions 200] [--budgets 1024 2048 4096]
        [--projects asyncio npm …] [--out benchmarks/results/context_recall.json]
"""

from __future__ import annotations

import argparse
import builtins
import collections
import concurrent.futures
import dataclasses
import functools
import gc
import importlib.util
import io
import json
import logging
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tree_sitter import Node  # noqa: E402
from tree_sitter_language_pack import get_parser  # noqa: E402

from sc2_lsp.config import Settings, resolve  # noqa: E402
from sc2_lsp.context.retrieval.recent import RecentEdits  # noqa: E402
from sc2_lsp.context.retrieval.similar import identifier_set, jaccard  # noqa: E402
from sc2_lsp.context.settings import RepoContextSettings  # noqa: E402
from sc2_lsp.context.symbols import IDENTIFIER  # noqa: E402
from sc2_lsp.documents import Snapshot, cursor_at  # noqa: E402
from sc2_lsp.engine.llama import Tokenizer  # noqa: E402
from sc2_lsp.languages import language_for  # noqa: E402
from sc2_lsp.prompt import ContextFile  # noqa: E402
from sc2_lsp.prompt.templates import BoundTemplate  # noqa: E402
from sc2_lsp.prompting import Prepared, Request, prepare  # noqa: E402
from sc2_lsp.repository import RepositoryContext  # noqa: E402

WORK = ROOT / "benchmarks" / ".work" / "context_recall"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "context_recall.json"
DEFAULT_VOCAB = ROOT / "tests" / "data" / "starcoder2-vocab.gguf"
SEED = 20240611
BUDGETS = (1024, 2048, 4096)
QUERY_LINES = 20
WINDOW_LINES = 20
WINDOW_STRIDE = 10
RECENT_FILES = 10
MIN_NAME_LENGTH = 3
METHODS = ("ours", "in_file", "jaccard", "bm25")
SETUP = {
    "cursor": "right before the identifier, or right after the `.` of an attribute access; "
    "the rest of the cursor line is dropped (CrossCodeEval)",
    "positions": "usages of a function, class, method or module constant defined in exactly one "
    "other file of the project (not bound in the current file); at most one cursor per file per "
    "round, and no round cuts a line in a file that holds one of its definitions",
    "recall": "the definition's signature line (stripped) starts a line of a context snippet of "
    "the defining file, before <fim_prefix>",
    "budget": "--max-prompt-tokens: the whole prompt; context gets what the FIM window leaves",
    "ours": "sc2-lsp prompt --workspace ROUND --batch POSITIONS --max-prompt-tokens B --model VOCAB",
    "in_file": "the same prompt without repository context",
    "jaccard": f"{WINDOW_LINES}-line windows (stride {WINDOW_STRIDE}) of the {RECENT_FILES} most "
    f"recently modified files (seeded mtimes), best Jaccard similarity of identifier sets to "
    f"the {QUERY_LINES} lines before the cursor first, packed into the same budget",
    "bm25": f"the same windows over every other file of the project, BM25 (k1=1.5, b=0.75) of "
    f"the identifiers of the {QUERY_LINES} lines before the cursor",
    "gather_latency": "in-process RepositoryContext.provide at the 2048 budget with the server's "
    "tokenizer (a fully loaded model): cold = first request in a just-opened file, warm = the "
    "same request again (the next keystroke); wall and thread CPU time",
}
_RANKED = 400  # more windows than any budget here can hold
CLI_WORKERS = 2

# ------------------------------------------------------------------------------ projects


@dataclass(frozen=True)
class Project:
    name: str
    language: str  # tree-sitter language of its sources
    origin: Path
    suffixes: tuple[str, ...]
    subdirs: tuple[str, ...] = ()  # copy only these (relative to origin); all when empty
    version: str = ""
    exclude: tuple[str, ...] = ()  # relative directories left out
    internal: tuple[str, ...] = ()  # absolute module names that belong to the project
    # Folder the sources go under inside the workspace: a Python package keeps its own
    # directory so that its absolute imports (`from pkg.sub import x`) resolve.
    prefix: str = ""


def _package_dir(module: str) -> tuple[Path | None, str]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None, ""
    try:
        from importlib.metadata import version

        found = version(module)
    except Exception:
        found = ""
    return Path(next(iter(spec.submodule_search_locations))), found


def _npm_root() -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        out = subprocess.run(
            [npm, "root", "-g"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    root = Path(out.stdout.strip())
    return root if root.is_dir() else None


def _package_json_version(directory: Path) -> str:
    try:
        return str(json.loads((directory / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return ""


def available_projects() -> tuple[list[Project], list[str]]:
    """Projects present on this machine, and notes on those that are not."""
    found: list[Project] = []
    notes: list[str] = []
    for module, exclude in (
        ("huggingface_hub", ("inference/_generated/",)),
        ("hypothesis", ()),
    ):
        directory, version = _package_dir(module)
        if directory is None:
            notes.append(f"{module}: not installed")
            continue
        # Generated code is left out: the index refuses it by policy, so no one's recall
        # should hinge on it.
        found.append(
            Project(module, "python", directory, (".py",), (), version, exclude, (module,), module)
        )
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if (stdlib / "asyncio").is_dir():
        found.append(
            Project(
                "asyncio",
                "python",
                stdlib / "asyncio",
                (".py",),
                version=platform.python_version(),
                internal=("asyncio",),
                prefix="asyncio",
            )
        )
    npm_root = _npm_root()
    npm = npm_root / "npm" if npm_root else None
    if npm is None or not (npm / "lib").is_dir():
        notes.append("npm: no global npm (`npm root -g`)")
    else:
        version = _package_json_version(npm)
        found.append(Project("npm", "javascript", npm, (".js",), ("lib",), version))
    return found, notes


def copy_sources(project: Project, target: Path) -> list[str]:
    """Copy the project's source files into `target`; their relative paths, sorted."""
    if target.exists():
        shutil.rmtree(target)
    files: list[str] = []
    roots = [project.origin / sub for sub in project.subdirs] or [project.origin]
    for base in roots:
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.suffix not in project.suffixes:
                continue
            if "__pycache__" in path.parts or "node_modules" in path.relative_to(base).parts:
                continue
            relative = path.relative_to(project.origin)
            if any(relative.as_posix().startswith(prefix) for prefix in project.exclude):
                continue
            if project.prefix:
                relative = Path(project.prefix) / relative
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            files.append(relative.as_posix())
    return sorted(files)


# ------------------------------------------------------------------------------ symbols


@dataclass(frozen=True)
class Definition:
    name: str
    file: str
    line: int  # 0-based line holding the name
    key: str  # that line, stripped: what must appear in the context
    top_level: bool  # reachable by a bare name (module-level)
    target: bool  # function, class, method or module constant (fields only disambiguate)


@dataclass(frozen=True)
class Usage:
    file: str
    line: int
    col: int  # characters
    name: str
    member: bool  # right after a `.`
    receiver: str | None = None  # the plain name before the `.`, if any


@dataclass
class FileFacts:
    definitions: list[Definition] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)  # local bindings (imports excluded)
    external: set[str] = field(default_factory=set)  # names imported from outside the project
    skip_lines: set[int] = field(default_factory=set)  # import and definition-header lines


class _Source:
    def __init__(self, data: bytes, file: str) -> None:
        self.data = data
        self.file = file
        self.lines = data.split(b"\n")

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def line_key(self, line: int) -> str:
        return self.lines[line].decode("utf-8", "replace").strip()

    def col_chars(self, node: Node) -> int:
        row, column = node.start_point
        return len(self.lines[row][:column].decode("utf-8", "replace"))


def _identifiers_in(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in ("identifier", "shorthand_property_identifier_pattern"):
            yield current
        elif current.type not in ("attribute", "subscript", "member_expression"):
            stack.extend(current.children)


class _PythonFacts:
    """Definitions, usages and local bindings of one Python file."""

    def __init__(self, source: _Source, internal: Sequence[str]) -> None:
        self.src = source
        self.internal = tuple(internal)
        self.facts = FileFacts()

    def run(self, root: Node) -> FileFacts:
        self._visit(root, "module")
        return self.facts

    def _define(self, name_node: Node | None, top_level: bool, target: bool) -> None:
        if name_node is None:
            return
        name = self.src.text(name_node)
        line = name_node.start_point[0]
        self.facts.definitions.append(
            Definition(name, self.src.file, line, self.src.line_key(line), top_level, target)
        )

    def _bind(self, node: Node | None) -> None:
        for identifier in _identifiers_in(node):
            self.facts.bound.add(self.src.text(identifier))

    def _visit(self, node: Node, scope: str) -> None:
        kind = node.type
        if kind in ("string", "comment", "concatenated_string"):
            return
        if kind in ("import_statement", "import_from_statement", "future_import_statement"):
            self.facts.skip_lines.update(range(node.start_point[0], node.end_point[0] + 1))
            self._import(node)
            return
        if kind in ("function_definition", "class_definition"):
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
                    self._visit(child, "function" if kind == "function_definition" else "class")
                elif child is not name:
                    self._visit(child, scope)
            return
        if kind == "assignment":
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

    def _use(self, node: Node, *, member: bool, receiver: Node | None = None) -> None:
        self.facts.usages.append(
            Usage(
                self.src.file,
                node.start_point[0],
                self.src.col_chars(node),
                self.src.text(node),
                member,
                _root_name(self.src.text(receiver)) if receiver is not None else None,
            )
        )


class _ScriptFacts:
    """Definitions, usages and local bindings of one JavaScript file (ESM or CommonJS)."""

    def __init__(self, source: _Source) -> None:
        self.src = source
        self.facts = FileFacts()

    def run(self, root: Node) -> FileFacts:
        self._visit(root, "module")
        return self.facts

    def _define(self, name_node: Node | None, top_level: bool, target: bool) -> None:
        if name_node is None:
            return
        line = name_node.start_point[0]
        self.facts.definitions.append(
            Definition(
                self.src.text(name_node),
                self.src.file,
                line,
                self.src.line_key(line),
                top_level,
                target,
            )
        )
        self.facts.skip_lines.add(line)

    def _bind(self, node: Node | None) -> None:
        for identifier in _identifiers_in(node):
            self.facts.bound.add(self.src.text(identifier))

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
        if kind == "import_statement":
            self.facts.skip_lines.update(range(node.start_point[0], node.end_point[0] + 1))
            source = node.child_by_field_name("source")
            if source is not None and not self.src.text(source).strip("'\"").startswith("."):
                for identifier in _identifiers_in(node):
                    self.facts.external.add(self.src.text(identifier))
            return
        if kind in ("function_declaration", "generator_function_declaration", "class_declaration"):
            name = node.child_by_field_name("name")
            if scope == "module":
                self._define(name, True, True)
            else:
                self._bind(name)
            inner = "class" if kind == "class_declaration" else "function"
            for child in node.children:
                if child.type == "formal_parameters":
                    self._bind(child)
                elif child is not name:
                    self._visit(child, inner)
            return
        if kind in ("method_definition", "field_definition"):
            name = node.child_by_field_name("name") or node.child_by_field_name("property")
            if (
                name is not None
                and name.type == "property_identifier"
                and scope == "class"
                and self.src.text(name) != "constructor"
            ):
                self._define(name, False, kind == "method_definition")
            for child in node.children:
                if child.type == "formal_parameters":
                    self._bind(child)
                elif child is not name:
                    self._visit(child, "function")
            return
        if kind in ("variable_declarator",):
            name = node.child_by_field_name("name")
            value = node.child_by_field_name("value")
            if self._is_require(value):
                self.facts.skip_lines.update(range(node.start_point[0], node.end_point[0] + 1))
                if value is not None and not self._require_specifier(value).startswith("."):
                    for identifier in _identifiers_in(name):
                        self.facts.external.add(self.src.text(identifier))
                return
            if scope == "module" and name is not None and name.type == "identifier":
                self._define(name, True, True)
            else:
                self._bind(name)
            if value is not None:
                self._visit(value, "function" if scope == "module" else scope)
            return
        if kind == "assignment_expression":
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
            return
        if kind in ("formal_parameters", "catch_clause"):
            self._bind(node.child_by_field_name("parameter") if kind == "catch_clause" else node)
            if kind == "catch_clause":
                body = node.child_by_field_name("body")
                if body is not None:
                    self._visit(body, scope)
            return
        if kind == "arrow_function":
            parameter = node.child_by_field_name("parameter")
            if parameter is not None:
                self._bind(parameter)
            for child in node.children:
                if child is not parameter:
                    self._visit(child, "function")
            return
        if kind == "for_in_statement":
            self._bind(node.child_by_field_name("left"))
        if kind in ("pair",):
            key = node.child_by_field_name("key")
            if key is not None and key.type == "property_identifier":
                # Object-literal keys only make a member name ambiguous.
                self._define(key, False, False)
            value = node.child_by_field_name("value")
            if value is not None:
                self._visit(value, scope)
            return
        if kind == "shorthand_property_identifier":
            self._define(node, False, False)
            return
        if kind == "member_expression":
            obj = node.child_by_field_name("object")
            prop = node.child_by_field_name("property")
            if obj is not None:
                self._visit(obj, scope)
            if prop is not None and prop.type == "property_identifier":
                self._use(prop, member=True, receiver=obj)
            return
        if kind == "identifier":
            self._use(node, member=False)
            return
        for child in node.children:
            self._visit(child, scope)

    def _use(self, node: Node, *, member: bool, receiver: Node | None = None) -> None:
        self.facts.usages.append(
            Usage(
                self.src.file,
                node.start_point[0],
                self.src.col_chars(node),
                self.src.text(node),
                member,
                _root_name(self.src.text(receiver)) if receiver is not None else None,
            )
        )


def _root_name(receiver: str) -> str:
    """`a` for receivers `a`, `a.b`, `a?.b()`: the name the member chain starts from."""
    match = IDENTIFIER.match(receiver.lstrip("(! "))
    return match.group(0) if match else receiver


def file_facts(language: str, file: str, data: bytes, internal: Sequence[str]) -> FileFacts:
    tree = get_parser(language).parse(data)  # type: ignore[arg-type]
    source = _Source(data, file)
    if language == "python":
        return _PythonFacts(source, internal).run(tree.root_node)
    return _ScriptFacts(source).run(tree.root_node)


def _python_common_names() -> frozenset[str]:
    import collections as col
    import concurrent.futures as futures
    import logging as log
    import pathlib
    import subprocess as sub
    import types

    kinds: list[Any] = [
        object, list, dict, set, frozenset, tuple, str, bytes, bytearray, int, float, complex,
        type, BaseException, memoryview, range, slice, property, io.IOBase, io.TextIOWrapper,
        io.BufferedReader, io.BufferedWriter, io.BytesIO, io.StringIO, socket.socket,
        threading.Thread, threading.Event, threading.Condition, col.deque, col.OrderedDict,
        col.defaultdict, col.Counter, pathlib.Path, re.Pattern, re.Match, types.ModuleType,
        types.FunctionType, types.CodeType, types.FrameType, types.TracebackType,
        futures.Future, futures.Executor, sub.Popen, log.Logger, log.Handler,
    ]  # fmt: skip
    names = set(dir(builtins))
    for kind in kinds:
        names.update(dir(kind))
    return frozenset(names)


# Globals and members of JavaScript/Node built-ins: a `.name` of these is most likely not
# the project's definition even when the project defines `name` once.
_SCRIPT_COMMON = frozenset(
    """
    Array Boolean Buffer Date Error JSON Map Math Number Object Promise Proxy Reflect RegExp
    Set String Symbol TypeError URL WeakMap WeakSet console process require module exports
    global globalThis undefined NaN Infinity arguments setTimeout clearTimeout setInterval
    clearInterval setImmediate queueMicrotask parseInt parseFloat isNaN encodeURIComponent
    decodeURIComponent length prototype constructor name message stack code toString valueOf
    hasOwnProperty push pop shift unshift slice splice concat join reverse sort indexOf
    lastIndexOf includes find findIndex filter map reduce reduceRight forEach some every keys
    values entries from of assign create freeze defineProperty getPrototypeOf isArray flat
    flatMap fill startsWith endsWith trim trimStart trimEnd split replace replaceAll match
    matchAll padStart padEnd repeat toLowerCase toUpperCase localeCompare charAt charCodeAt
    substring substr normalize then catch finally resolve reject all allSettled race any get
    set has delete clear size add apply call bind test exec parse stringify max min floor
    ceil round abs random now getTime toISOString emit on once off removeListener
    removeAllListeners addListener listeners write end read pipe destroy resume pause cwd env
    argv exit nextTick stdout stderr stdin basename dirname extname relative sep isAbsolute
    readFile writeFile readFileSync writeFileSync stat lstat readdir mkdir rm rmdir unlink
    rename access exists existsSync realpath open close chmod chown copyFile symlink readlink
    promises type path url log warn error info debug trace time timeEnd
    """.split()  # noqa: SIM905 - a word list reads better than 200 quoted strings
)


# ------------------------------------------------------------------------------ positions


@dataclass(frozen=True)
class Position:
    index: int
    file: str
    line: int
    col: int
    name: str
    member: bool
    target_file: str
    keys: tuple[str, ...]
    round: int


def project_facts(project: Project, root: Path, files: Sequence[str]) -> dict[str, FileFacts]:
    return {
        file: file_facts(project.language, file, (root / file).read_bytes(), project.internal)
        for file in files
    }


def select_positions(
    language: str, facts: dict[str, FileFacts], count: int, rng: random.Random
) -> list[Position]:
    """Up to `count` cross-file usages, spread round-robin over files (one per file per round)."""
    common = _python_common_names() if language == "python" else _SCRIPT_COMMON
    defined_in: dict[str, set[str]] = collections.defaultdict(set)
    top_in: dict[str, set[str]] = collections.defaultdict(set)
    targets: dict[tuple[str, str], list[Definition]] = collections.defaultdict(list)
    for file, found in facts.items():
        for definition in found.definitions:
            defined_in[definition.name].add(file)
            if definition.top_level:
                top_in[definition.name].add(file)
            if definition.target:
                targets[(definition.name, file)].append(definition)
    per_file: dict[str, list[Position]] = {}
    for file in sorted(facts):
        found = facts[file]
        local = {d.name for d in found.definitions} | found.bound
        chosen: list[Position] = []
        for usage in found.usages:
            name = usage.name
            if (
                len(name) < MIN_NAME_LENGTH
                or name.startswith("__")
                or name in common
                or name in local
                or usage.line in found.skip_lines
                or usage.receiver in found.external
                or usage.receiver in common
            ):
                continue
            owners = defined_in[name] if usage.member else top_in[name]
            # A bare name must be module-level somewhere, and no other file may define it.
            if len(owners) != 1 or len(defined_in[name]) != 1:
                continue
            (owner,) = owners
            definitions = targets.get((name, owner))
            if owner == file or not definitions:
                continue
            keys = tuple(dict.fromkeys(d.key for d in definitions if d.key))
            chosen.append(
                Position(-1, file, usage.line, usage.col, name, usage.member, owner, keys, -1)
            )
        if chosen:
            rng.shuffle(chosen)
            # Distinct symbols first, so a file's positions test different definitions.
            seen: set[str] = set()
            firsts = [p for p in chosen if p.name not in seen and not seen.add(p.name)]  # type: ignore[func-returns-value]
            rest = [p for p in chosen if p not in firsts]
            per_file[file] = firsts + rest
    files = sorted(per_file)
    rng.shuffle(files)
    picked: list[Position] = []
    while len(picked) < count and any(per_file[f] for f in files):
        for file in files:
            queue = per_file[file]
            if not queue or len(picked) >= count:
                continue
            choice = queue.pop(0)
            per_file[file] = [p for p in queue if (p.line, p.col) != (choice.line, choice.col)]
            picked.append(choice)
    return assign_rounds(picked)


def assign_rounds(picked: Sequence[Position]) -> list[Position]:
    """Number the positions and give each the first round it fits in.

    A round is one copy of the project with its positions' cursor lines cut, so within a round
    a file holds at most one cursor, and no cursor's file is another cursor's definition file:
    every definition is read from an intact file.
    """
    documents: list[set[str]] = []
    targets: list[set[str]] = []
    placed: list[Position] = []
    # Files with the most cursors need the most rounds: place theirs first.
    per_file = collections.Counter(position.file for position in picked)
    by_need = sorted(enumerate(picked), key=lambda item: (-per_file[item[1].file], item[0]))
    for number, position in by_need:
        round_number = 0
        while round_number < len(documents) and (
            position.file in documents[round_number]
            or position.file in targets[round_number]
            or position.target_file in documents[round_number]
        ):
            round_number += 1
        if round_number == len(documents):
            documents.append(set())
            targets.append(set())
        documents[round_number].add(position.file)
        targets[round_number].add(position.target_file)
        placed.append(dataclasses.replace(position, index=number, round=round_number))
    return sorted(placed, key=lambda position: position.index)


def truncated(text: str, line: int, col: int) -> str:
    """`text` with line `line` cut at column `col` (the rest of the cursor line dropped)."""
    lines = text.split("\n")
    lines[line] = lines[line][:col]
    return "\n".join(lines)


def write_round(
    source: Path,
    target: Path,
    files: Sequence[str],
    positions: Sequence[Position],
    order: list[str],
) -> None:
    """A copy of the project with the round's cursor lines cut and deterministic mtimes."""
    if target.exists():
        shutil.rmtree(target)
    by_file = {p.file: p for p in positions}
    for file in files:
        destination = target / file
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = (source / file).read_text(encoding="utf-8")
        position = by_file.get(file)
        if position is not None:
            text = truncated(text, position.line, position.col)
        destination.write_text(text, encoding="utf-8")
    base = 1_600_000_000
    for rank, file in enumerate(order):
        stamp = (base + rank * 60) * 1_000_000_000
        os.utime(target / file, ns=(stamp, stamp))


# ------------------------------------------------------------------------------ checking


def context_segments(prompt: str) -> list[tuple[str, str]]:
    """(path, text) of each context snippet: the `<file_sep>` parts before `<fim_prefix>`."""
    head = prompt.split("<fim_prefix>", 1)[0]
    segments: list[tuple[str, str]] = []
    for part in head.split("<file_sep>")[1:]:
        path, _, text = part.partition("\n")
        if text:
            segments.append((path, text))
    return segments


def recalled(prompt: str | None, position: Position) -> bool:
    if not prompt:
        return False
    for path, text in context_segments(prompt):
        if path != position.target_file:
            continue
        lines = [line.strip() for line in text.split("\n")]
        if any(line.startswith(key) for key in position.keys for line in lines):
            return True
    return False


# ------------------------------------------------------------------------------ ours: the CLI


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("sc2-lsp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sc2_lsp"]


@dataclass
class CliRun:
    prompts: list[str | None]
    ms: list[float]
    wall_s: float
    errors: list[str]


def run_cli(workspace: Path, batch: Path, budget: int, vocab: Path) -> CliRun:
    command = [
        *cli_command(),
        "prompt",
        "--workspace",
        str(workspace),
        "--batch",
        str(batch),
        "--max-prompt-tokens",
        str(budget),
        "--model",
        str(vocab),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    prompts: list[str | None] = []
    ms: list[float] = []
    errors: list[str] = []
    for line in done.stdout.splitlines():
        payload = json.loads(line)
        if "error" in payload:
            errors.append(str(payload["error"]))
            prompts.append(None)
            continue
        prompts.append(payload["prompt"])
        ms.append(float(payload["ms"]))
    return CliRun(prompts, ms, wall, errors)


# ------------------------------------------------------------------------------ baselines


@dataclass(frozen=True)
class WindowRef:
    file: str
    start: int
    end: int


class Windows:
    """20-line windows (stride 10) of every file of one round's copy, for both baselines."""

    def __init__(self, root: Path, files: Sequence[str]) -> None:
        self.lines: dict[str, list[str]] = {}
        self.refs: list[WindowRef] = []
        self.jaccard_tokens: list[frozenset[str]] = []
        self.bm25_terms: list[collections.Counter[str]] = []
        self.by_file: dict[str, list[int]] = collections.defaultdict(list)
        for file in files:
            lines = (root / file).read_text(encoding="utf-8").split("\n")
            self.lines[file] = lines
            for start in range(0, max(1, len(lines) - WINDOW_STRIDE), WINDOW_STRIDE):
                end = min(len(lines), start + WINDOW_LINES)
                chunk = "\n".join(lines[start:end])
                self.by_file[file].append(len(self.refs))
                self.refs.append(WindowRef(file, start, end))
                self.jaccard_tokens.append(identifier_set(chunk))
                self.bm25_terms.append(collections.Counter(IDENTIFIER.findall(chunk)))
                if end == len(lines):
                    break
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self._files = np.array([self.refs[n].file for n in range(len(self.refs))], dtype=object)

    def postings(
        self, k1: float = 1.5, b: float = 0.75
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """term → (windows, BM25 weights of the term in them), computed once."""
        if self._postings is not None:
            return self._postings
        lengths = [sum(terms.values()) for terms in self.bm25_terms]
        average = sum(lengths) / max(1, len(lengths))
        frequency: collections.Counter[str] = collections.Counter()
        for terms in self.bm25_terms:
            frequency.update(terms.keys())
        total = len(self.refs)
        windows: dict[str, list[int]] = collections.defaultdict(list)
        weights: dict[str, list[float]] = collections.defaultdict(list)
        for number, terms in enumerate(self.bm25_terms):
            scale = k1 * (1 - b + b * lengths[number] / average)
            for term, tf in terms.items():
                df = frequency[term]
                idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
                windows[term].append(number)
                weights[term].append(idf * tf * (k1 + 1) / (tf + scale))
        self._postings = {
            term: (np.array(windows[term], dtype=np.int64), np.array(weights[term]))
            for term in windows
        }
        return self._postings

    def text(self, number: int) -> str:
        ref = self.refs[number]
        return "\n".join(self.lines[ref.file][ref.start : ref.end]) + "\n"

    def bm25(self, query: Sequence[str], exclude: str) -> list[tuple[float, int]]:
        postings = self.postings()
        scores = np.zeros(len(self.refs))
        for term, count in collections.Counter(query).items():
            found = postings.get(term)
            if found is not None:
                np.add.at(scores, found[0], found[1] * count)
        scores[self._files == exclude] = 0.0
        candidates = np.flatnonzero(scores > 0)
        # Best first; ties by window number, so the order is deterministic.
        ranked = candidates[np.lexsort((candidates, -scores[candidates]))][:_RANKED]
        return [(float(scores[n]), int(n)) for n in ranked]

    def jaccard(self, query: frozenset[str], files: Sequence[str]) -> list[tuple[float, int]]:
        scored: list[tuple[float, int]] = []
        for file in files:
            for number in self.by_file.get(file, ()):
                score = jaccard(query, self.jaccard_tokens[number])
                if score > 0:
                    scored.append((score, number))
        return [(score, n) for score, n in sorted(scored, key=lambda p: (-p[0], p[1]))[:_RANKED]]


def query_lines(request: Request) -> str:
    text, offset = request.snapshot.text, request.cursor.offset
    start = text.rfind("\n", 0, offset) + 1
    for _ in range(QUERY_LINES):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    return text[start:offset]


def pack_windows(
    windows: Windows,
    ranked: list[tuple[float, int]],
    budget: int,
    count: Callable[[str], int],
) -> list[ContextFile]:
    """Best windows first, none overlapping another chosen one, within `budget`; best last."""
    chosen: list[tuple[float, int]] = []
    taken: dict[str, list[WindowRef]] = collections.defaultdict(list)
    spent = 0
    for score, number in ranked:
        ref = windows.refs[number]
        if any(ref.start < t.end and t.start < ref.end for t in taken[ref.file]):
            continue
        text = windows.text(number)
        if len(text) > (budget - spent) * 8:
            continue  # cannot fit (no token spans 8 characters on average): not worth counting
        cost = count(text) + count(ref.file + "\n") + 1
        if spent + cost > budget:
            continue
        spent += cost
        taken[ref.file].append(ref)
        chosen.append((score, number))
        if budget - spent < 8:
            break
    chosen.sort(key=lambda pair: (pair[0], -pair[1]))
    return [ContextFile(windows.refs[n].file, windows.text(n)) for _, n in chosen]


def jaccard_provider(windows: Windows, recent: Sequence[str], root: Path) -> Any:
    def provide(
        request: Request, window: tuple[int, int], budget: int, count: Callable[[str], int]
    ) -> list[ContextFile]:
        current = _relative(request, root)
        pool = [file for file in recent if file != current][:RECENT_FILES]
        ranked = windows.jaccard(identifier_set(query_lines(request)), pool)
        return pack_windows(windows, ranked, budget, count)

    return provide


def bm25_provider(windows: Windows, root: Path) -> Any:
    def provide(
        request: Request, window: tuple[int, int], budget: int, count: Callable[[str], int]
    ) -> list[ContextFile]:
        current = _relative(request, root)
        ranked = windows.bm25(IDENTIFIER.findall(query_lines(request)), current)
        return pack_windows(windows, ranked, budget, count)

    return provide


def _relative(request: Request, root: Path) -> str:
    path = request.snapshot.path
    assert path is not None
    return path.relative_to(root).as_posix()


# ------------------------------------------------------------------------------ in-process


class CachedTokenizer:
    """The tokenizer with memoised `tokenize`: baselines tokenize the same windows again and again."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.bos_id = tokenizer.bos_id
        self.token_text = tokenizer.token_text
        self.tokenize = functools.lru_cache(maxsize=100_000)(tokenizer.tokenize)
        self.count = functools.lru_cache(maxsize=100_000)(tokenizer.count)


class Prompter:
    """`prepare` as `sc2-lsp prompt` calls it, for one budget."""

    def __init__(self, tokenizer: Any, template: BoundTemplate, vocab: Path, budget: int) -> None:
        layer = {"model": {"path": str(vocab)}, "prompt": {"maxPromptTokens": budget}}
        settings, errors = resolve(layer)
        if errors:
            raise RuntimeError(f"settings: {errors}")
        self.settings: Settings = settings
        self.tokenizer = tokenizer
        self.template = template

    def prepare(
        self, request: Request, count: Callable[[str], int], provider: Any
    ) -> Prepared | None:
        return prepare(
            request,
            self.settings,
            self.tokenizer,
            self.template,
            self.settings.model.n_ctx,
            count,
            provider,
        )


def make_request(root: Path, position: Position) -> Request:
    path = (root / position.file).resolve()
    text = path.read_text(encoding="utf-8")
    snapshot = Snapshot(path.as_uri(), None, language_for(None, str(path)), text)
    return Request(
        snapshot, cursor_at(text, position.line, position.col, "utf-32"), root.resolve(), "invoked"
    )


def rss_bytes() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def index_memory(root: Path) -> dict[str, int]:
    """Bytes retained by a ready index of `root` (tracemalloc) and its own estimate."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    repository = RepositoryContext(hold=False)
    repository.configure([root], RepoContextSettings())
    assert repository.index is not None
    repository.index.wait_ready()
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    approx = repository.index.stats.approx_bytes
    repository.close()
    return {"tracemalloc_bytes": retained, "approx_bytes": approx}


@dataclass
class OursInProcess:
    index_s: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)
    cold_cpu_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    warm_cpu_ms: list[float] = field(default_factory=list)
    hits: dict[int, bool] = field(default_factory=dict)
    # Positions whose definition `gather` returned but the final prompt no longer holds.
    lost_in_fit: int = 0


def ours_in_process(
    root: Path,
    positions: Sequence[Position],
    prompter: Prompter,
    count: Callable[[str], int],
    out: OursInProcess,
) -> None:
    """Index `root`, then prompt each position the way `sc2-lsp prompt` does, timing gather.

    Each position is asked twice: the first request in a just-opened file (cold: its imports
    resolved, the definitions' files read and their signatures tokenized for the first time)
    and the same request again, as the next keystroke would (warm).
    """
    started = time.perf_counter()
    repository = RepositoryContext(hold=False)
    repository.configure([root], RepoContextSettings())
    assert repository.index is not None
    repository.index.wait_ready()
    out.index_s.append(time.perf_counter() - started)
    timings: list[tuple[float, float]] = []

    def provider(
        request: Request, window: tuple[int, int], budget: int, counter: Callable[[str], int]
    ) -> list[ContextFile]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return repository.provide(request, window, budget, counter)
        finally:
            timings.append(((time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000))

    try:
        for position in positions:
            request = make_request(root, position)
            path = request.snapshot.path
            assert path is not None
            repository.recent = RecentEdits()
            repository.opened(path, request.snapshot.text, request.snapshot.language_id)
            try:
                prepared = prompter.prepare(request, count, provider)
                snippets = list(repository.last_snippets)
                prompter.prepare(request, count, provider)
            finally:
                repository.closed(path)
            if len(timings) >= 2:
                (cold, cold_cpu), (warm, warm_cpu) = timings[-2:]
                out.cold_ms.append(cold)
                out.cold_cpu_ms.append(cold_cpu)
                out.warm_ms.append(warm)
                out.warm_cpu_ms.append(warm_cpu)
            timings.clear()
            prompt = prepared.prompt.render() if prepared else None
            hit = recalled(prompt, position)
            out.hits[position.index] = hit
            gathered = "".join(f"<file_sep>{snippet.path}\n{snippet.text}" for snippet in snippets)
            if not hit and recalled(gathered + "<fim_prefix>", position):
                out.lost_in_fit += 1
    finally:
        repository.close()


def server_tokenizer(vocab: Path) -> tuple[Any, Tokenizer]:
    """The tokenizer the way the server holds it: from a fully loaded model.

    `sc2-lsp prompt` reads the vocabulary alone, and llama.cpp then reports no training context,
    which makes every tokenize call run twice; the server loads the whole model.  A tiny
    StarCoder2 with the real vocabulary (written by tests/gguf_factory) gives the server's
    tokenizer, token for token, at the server's speed.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    import gguf_factory

    from sc2_lsp.engine import LoadOptions
    from sc2_lsp.engine.worker import EngineWorker

    model = WORK / "starcoder2-vocab-tiny.gguf"
    if not model.exists():
        gguf_factory.write_starcoder2(model, vocab=gguf_factory.load_vocab(vocab))
    worker = EngineWorker()
    worker.load(LoadOptions(model, n_ctx=512, n_threads=1, n_gpu_layers=0)).result()
    tokenizer = worker.tokenizer
    assert tokenizer is not None
    return worker, tokenizer


# ------------------------------------------------------------------------------ driver


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "median": round(statistics.median(values), 3),
        "p99": round(percentile(values, 0.99), 3),
        "mean": round(statistics.fmean(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }


@dataclass
class ProjectRun:
    """One project's positions, its round copies and everything measured on them."""

    project: Project
    base: Path
    files: list[str]
    lines: int
    positions: list[Position]
    recent: list[str]  # most recently modified first
    budgets: Sequence[int]
    hits: dict[str, dict[int, dict[int, bool]]] = field(default_factory=dict)
    context_tokens: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    no_prompt: set[int] = field(default_factory=set)
    cli_ms: dict[int, list[float]] = field(default_factory=dict)
    cli_wall_s: dict[int, float] = field(default_factory=dict)
    inprocess: OursInProcess = field(default_factory=OursInProcess)
    memory: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hits = {m: {b: {} for b in self.budgets} for m in METHODS}
        self.context_tokens = {m: {b: [] for b in self.budgets} for m in METHODS}
        self.cli_ms = {b: [] for b in self.budgets}
        self.cli_wall_s = dict.fromkeys(self.budgets, 0.0)

    @property
    def rounds(self) -> list[int]:
        return sorted({p.round for p in self.positions})

    def members(self, round_number: int) -> list[Position]:
        return [p for p in self.positions if p.round == round_number]

    def workspace(self, round_number: int) -> Path:
        return self.base / f"round{round_number}"

    def batch(self, round_number: int) -> Path:
        return self.base / f"round{round_number}.jsonl"


def prepare_project(project: Project, count: int, budgets: Sequence[int]) -> ProjectRun:
    """Copy the project, pick its positions and write one workspace copy per round."""
    rng = random.Random(f"{SEED}:{project.name}")
    base = WORK / project.name
    source = base / "src"
    files = copy_sources(project, source)
    facts = project_facts(project, source, files)
    positions = select_positions(project.language, facts, count, rng)
    order = list(files)
    rng.shuffle(order)  # modification order, oldest first
    lines = sum((source / f).read_text(encoding="utf-8").count("\n") + 1 for f in files)
    run = ProjectRun(project, base, files, lines, positions, list(reversed(order)), budgets)
    for round_number in run.rounds:
        members = run.members(round_number)
        write_round(source, run.workspace(round_number), files, members, order)
        run.batch(round_number).write_text(
            "".join(
                json.dumps({"file": p.file, "line": p.line, "col": p.col}) + "\n" for p in members
            )
        )
    return run


def baselines(run: ProjectRun, prompters: dict[int, Prompter], count: Callable[[str], int]) -> None:
    """In-file, Jaccard and BM25 prompts for every position at every budget."""
    for round_number in run.rounds:
        workspace = run.workspace(round_number)
        windows = Windows(workspace, run.files)
        providers = {
            "in_file": None,
            "jaccard": jaccard_provider(windows, run.recent, workspace.resolve()),
            "bm25": bm25_provider(windows, workspace.resolve()),
        }
        for position in run.members(round_number):
            request = make_request(workspace, position)
            for budget in run.budgets:
                for method, provider in providers.items():
                    prepared = prompters[budget].prepare(request, count, provider)
                    prompt = prepared.prompt.render() if prepared else None
                    run.hits[method][budget][position.index] = recalled(prompt, position)
                    if prepared is not None:
                        run.context_tokens[method][budget].append(
                            prepared.prompt.tokens_of("context", "repo")
                        )


def take_cli(
    run: ProjectRun, round_number: int, budget: int, cli: CliRun, count: Callable[[str], int]
) -> None:
    if cli.errors:
        raise RuntimeError(f"{run.project.name} round {round_number}: {cli.errors[:3]}")
    run.cli_ms[budget].extend(cli.ms)
    run.cli_wall_s[budget] += cli.wall_s
    for position, prompt in zip(run.members(round_number), cli.prompts, strict=True):
        if prompt is None:
            run.no_prompt.add(position.index)
        run.hits["ours"][budget][position.index] = recalled(prompt, position)
        run.context_tokens["ours"][budget].append(_context_tokens(prompt, count))


def measure(run: ProjectRun, prompter: Prompter, count: Callable[[str], int]) -> None:
    """Gather latency (cold and warm), index time, then index memory; nothing else running."""
    for round_number in run.rounds:
        ours_in_process(
            run.workspace(round_number), run.members(round_number), prompter, count, run.inprocess
        )
    run.memory = index_memory(run.workspace(run.rounds[0]))


def project_report(run: ProjectRun, gather_budget: int) -> dict[str, Any]:
    budgets = run.budgets
    valid = [p for p in run.positions if p.index not in run.no_prompt]
    recall = {
        method: {
            str(b): round(sum(run.hits[method][b][p.index] for p in valid) / max(1, len(valid)), 4)
            for b in budgets
        }
        for method in METHODS
    }
    inprocess = run.inprocess
    agreement = sum(
        inprocess.hits.get(p.index) == run.hits["ours"][gather_budget][p.index] for p in valid
    ) / max(1, len(valid))
    misses = [
        {
            "file": p.file,
            "line": p.line,
            "col": p.col,
            "symbol": p.name,
            "member": p.member,
            "defined_in": p.target_file,
            "round": p.round,
        }
        for p in valid
        if not run.hits["ours"][gather_budget][p.index]
    ]
    project = run.project
    return {
        "name": project.name,
        "language": project.language,
        "version": project.version,
        "origin": str(project.origin),
        "files": len(run.files),
        "lines": run.lines,
        "positions": len(run.positions),
        "member_positions": sum(p.member for p in run.positions),
        "distinct_symbols": len({(p.target_file, p.name) for p in run.positions}),
        "rounds": len(run.rounds),
        "positions_without_prompt": len(run.no_prompt),
        "recall": recall,
        "mean_context_tokens": {
            method: {
                str(b): round(statistics.fmean(v), 1) if (v := run.context_tokens[method][b]) else 0
                for b in budgets
            }
            for method in METHODS
        },
        "cli_prompt_ms": {str(b): summary_ms(run.cli_ms[b]) for b in budgets},
        "cli_wall_s": {str(b): round(run.cli_wall_s[b], 2) for b in budgets},
        "gather_ms": {
            "cold": summary_ms(inprocess.cold_ms),
            "cold_cpu": summary_ms(inprocess.cold_cpu_ms),
            "warm": summary_ms(inprocess.warm_ms),
            "warm_cpu": summary_ms(inprocess.warm_cpu_ms),
        },
        "index_ms": summary_ms([s * 1000 for s in inprocess.index_s]),
        "index_memory": run.memory,
        "inprocess_agreement": round(agreement, 4),
        "lost_in_prompt_fit": inprocess.lost_in_fit,
        "misses_at_gather_budget": misses,
    }


def _context_tokens(prompt: str | None, counter: Callable[[str], int]) -> int:
    if not prompt:
        return 0
    return sum(counter(path + "\n" + text) + 1 for path, text in context_segments(prompt))


def markdown(report: dict[str, Any]) -> str:
    budgets = report["budgets"]
    names = {
        "ours": "**ours** (sc2-lsp)",
        "in_file": "in-file only",
        "jaccard": "Jaccard, 10 recent files",
        "bm25": "BM25, all files",
    }
    machine = report["machine"]
    overall = report["overall"]
    out = [
        "# Repository-context recall (CrossCodeEval-style)",
        "",
        f"`benchmarks/context_recall.py`, {report['date']}: {machine['cpu']}, {machine['cores']} "
        f"cores (load average {machine['load_average_before'][0]} before, "
        f"{machine['load_average_after'][0]} after: a shared machine), Python {machine['python']}, "
        f"seed {report['seed']}, {report['runtime_s']:.0f} s.",
        "",
        "A position is a usage of a function, class, method or constant defined in exactly one "
        "*other* file of the project. The cursor sits right before the identifier (right after the "
        "`.` of an attribute access) and the rest of its line is dropped. Recalled = the "
        "definition's signature line is in a context snippet of the defining file (before "
        "`<fim_prefix>`). Budget = `--max-prompt-tokens`, the whole prompt: context gets what the "
        "FIM window (up to 1024 prefix + 256 suffix tokens) leaves. StarCoder2 tokenizer.",
        "",
        "## Projects",
        "",
        "| project | language | version | files | lines | positions (after `.`) | symbols |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for p in report["projects"]:
        out.append(
            f"| {p['name']} | {p['language']} | {p['version']} | {p['files']} | {p['lines']} | "
            f"{p['positions']} ({p['member_positions']}) | {p['distinct_symbols']} |"
        )
    out += [
        "",
        f"## Recall ({overall['positions']} positions)",
        "",
        "| method | " + " | ".join(f"{b} tokens" for b in budgets) + " |",
        "|---|" + "---:|" * len(budgets),
    ]
    for method in METHODS:
        cells = [f"{overall['recall'][method][str(b)] * 100:.1f} %" for b in budgets]
        out.append(f"| {names[method]} | " + " | ".join(cells) + " |")
    out += [
        "",
        "Per project, ours / Jaccard / BM25 (%):",
        "",
        "| project | " + " | ".join(str(b) for b in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for p in report["projects"]:
        cells = [
            " / ".join(f"{p['recall'][m][str(b)] * 100:.0f}" for m in ("ours", "jaccard", "bm25"))
            for b in budgets
        ]
        out.append(f"| {p['name']} | " + " | ".join(cells) + " |")
    gather = overall["gather_ms"]
    out += [
        "",
        "## Latency and index",
        "",
        f"`gather` ({overall['gather_budget']}-token budget, in-process, server tokenizer), "
        "median / p99 ms:",
        "",
        "| request | wall | CPU |",
        "|---|---:|---:|",
        f"| first in a just-opened file (cold) | {gather['cold']['median']:.1f} / "
        f"{gather['cold']['p99']:.1f} | {gather['cold_cpu']['median']:.1f} / "
        f"{gather['cold_cpu']['p99']:.1f} |",
        f"| the same again, next keystroke (warm) | {gather['warm']['median']:.1f} / "
        f"{gather['warm']['p99']:.1f} | {gather['warm_cpu']['median']:.1f} / "
        f"{gather['warm_cpu']['p99']:.1f} |",
        "",
        "`sc2-lsp prompt --batch` per-position `ms` (window, gather and prompt tokenization, "
        "cold, vocabulary-only tokenizer, run alongside the baselines), median / p99: "
        + ", ".join(
            f"{b}: {overall['cli_prompt_ms'][str(b)]['median']:.0f} / "
            f"{overall['cli_prompt_ms'][str(b)]['p99']:.0f}"
            for b in budgets
        )
        + ".",
        "",
        "| project | gather cold / warm (median) | index time (median) | index memory "
        "(tracemalloc) | `stats.approx_bytes` |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in report["projects"]:
        memory = p["index_memory"]
        out.append(
            f"| {p['name']} | {p['gather_ms']['cold']['median']:.1f} / "
            f"{p['gather_ms']['warm']['median']:.1f} ms | {p['index_ms']['median']:.0f} ms | "
            f"{memory.get('tracemalloc_bytes', 0) / 1e6:.1f} MB | "
            f"{memory.get('approx_bytes', 0) / 1e6:.1f} MB |"
        )
    out += [
        "",
        "Notes: in-file only is 0 by construction (the definitions live in other files; the "
        "column checks the pipeline). Positions whose definition `gather` returned but the "
        f"final prompt dropped while fitting the budget: {overall['lost_in_prompt_fit']} (at "
        f"{overall['gather_budget']}). Index time is the in-process walk and parse until ready "
        "(median over rounds); memory is what the ready index retains.",
        "",
        f"Reproduce: `{report['command'].strip()}`",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--positions", type=int, default=200, help="cursor positions per project")
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    parser.add_argument("--projects", nargs="+", help="only these projects")
    parser.add_argument(
        "--vocab", type=Path, default=DEFAULT_VOCAB, help="StarCoder2 tokenizer GGUF"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f}s] {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_before = os.getloadavg()
    projects, notes = available_projects()
    if args.projects:
        projects = [p for p in projects if p.name in args.projects]
    budgets = list(args.budgets)
    gather_budget = 2048 if 2048 in budgets else budgets[0]
    # Token for token the vocabulary-only tokenizer of `sc2-lsp prompt`, at the server's speed.
    worker, server = server_tokenizer(args.vocab)
    template = server.template("auto")
    cached = CachedTokenizer(server)
    runs = []
    for project in projects:
        run = prepare_project(project, args.positions, budgets)
        log(
            f"{project.name}: {len(run.files)} files, {run.lines} lines, "
            f"{len(run.positions)} positions in {len(run.rounds)} rounds"
        )
        runs.append(run)
    # The CLI runs in subprocesses, two at a time, while the baselines are computed here; the
    # latency figures come later, from a phase where nothing else of ours runs.
    with concurrent.futures.ThreadPoolExecutor(CLI_WORKERS) as pool:
        futures = [
            (
                run,
                r,
                budget,
                pool.submit(run_cli, run.workspace(r), run.batch(r), budget, args.vocab),
            )
            for run in runs
            for r in run.rounds
            for budget in budgets
        ]
        prompters = {b: Prompter(cached, template, args.vocab, b) for b in budgets}
        for run in runs:
            baselines(run, prompters, cached.count)
            log(f"{run.project.name}: baselines done")
        for run, r, budget, future in futures:
            take_cli(run, r, budget, future.result(), cached.count)
        log(f"{len(futures)} CLI runs done")
    try:
        prompter = Prompter(server, template, args.vocab, gather_budget)
        counter = _cached(server.count)
        for run in runs:
            measure(run, prompter, counter)
            log(f"{run.project.name}: latency and index measured")
    finally:
        worker.close()
    results = [project_report(run, gather_budget) for run in runs]
    overall_recall = {
        method: {
            str(b): round(
                sum(
                    run.hits[method][b][p.index]
                    for run in runs
                    for p in run.positions
                    if p.index not in run.no_prompt
                )
                / max(1, sum(len(run.positions) - len(run.no_prompt) for run in runs)),
                4,
            )
            for b in budgets
        }
        for method in METHODS
    }

    def pooled(name: str) -> dict[str, float]:
        return summary_ms([ms for run in runs for ms in getattr(run.inprocess, name)])

    report = {
        "benchmark": "context_recall",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": "python benchmarks/context_recall.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "cpu": _cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "tokenizer": str(args.vocab),
        "seed": SEED,
        "budgets": budgets,
        "positions_per_project": args.positions,
        "setup": SETUP,
        "unavailable": notes,
        "overall": {
            "positions": sum(len(run.positions) - len(run.no_prompt) for run in runs),
            "recall": overall_recall,
            "gather_budget": gather_budget,
            "gather_ms": {
                "cold": pooled("cold_ms"),
                "cold_cpu": pooled("cold_cpu_ms"),
                "warm": pooled("warm_ms"),
                "warm_cpu": pooled("warm_cpu_ms"),
            },
            "cli_prompt_ms": {
                str(b): summary_ms([ms for run in runs for ms in run.cli_ms[b]]) for b in budgets
            },
            "lost_in_prompt_fit": sum(run.inprocess.lost_in_fit for run in runs),
        },
        "projects": results,
        "runtime_s": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    log(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    print(markdown(report))
    return 0


def _cached(function: Callable[[str], int]) -> Callable[[str], int]:
    return functools.lru_cache(maxsize=65536)(function)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
