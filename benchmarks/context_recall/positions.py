"""Cursor positions: cross-file usages picked per project, spread over rounds, and the
round copies of a project with their cursor lines cut.
"""

from __future__ import annotations

import builtins
import collections
import dataclasses
import io
import os
import random
import re
import shutil
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.context_recall.design import (
    MIN_NAME_LENGTH,
)
from benchmarks.context_recall.facts import (
    Definition,
    FileFacts,
    Source,
)
from benchmarks.context_recall.facts_python import PythonFacts
from benchmarks.context_recall.facts_script import ScriptFacts
from benchmarks.context_recall.projects import Project
from sc2_lsp.languages import get_parser


def file_facts(language: str, file: str, data: bytes, internal: Sequence[str]) -> FileFacts:
    parser = get_parser(language)
    if parser is None:
        raise ValueError(f"no tree-sitter grammar for {language}")
    tree = parser.parse(data)
    source = Source(data, file)
    if language == "python":
        return PythonFacts(source, internal).run(tree.root_node)
    return ScriptFacts(source).run(tree.root_node)


def python_common_names() -> frozenset[str]:
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
SCRIPT_COMMON = frozenset(
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
    common = python_common_names() if language == "python" else SCRIPT_COMMON
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
            first_of: dict[str, Position] = {}
            for p in chosen:
                first_of.setdefault(p.name, p)
            firsts = list(first_of.values())
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
