"""The repository suite: lines of a workspace's own source files masked at sampled positions.

Files are the ones the workspace index would read (the same ignore, secret and size rules), in
the languages repository context supports. Candidate lines hold code (three characters or
more, a word among them); a drawn line is kept only when tree-sitter, parsing the whole
file, puts its start outside comments and strings, until `limit` tasks are found. The file's later content stays as the
suffix; repository context comes from the index at completion time.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import tree_sitter

from sc2_lsp.context.index.workspace import Workspace
from sc2_lsp.context.languages import SUPPORTED
from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.eval.tasks import CursorMode, EvalError, Task, line_spans, mask
from sc2_lsp.languages import get_parser, language_for

MIN_CHARS = 3
_CODE_LANGUAGES = frozenset(name for support in SUPPORTED for name in support.languages)

Candidate = tuple[Path, str, tuple[int, int]]


def source_files(workspace: Path, settings: RepoContextSettings) -> dict[Path, str]:
    """Every file the index would read under `workspace`, in a supported language: its text."""
    policy = Workspace([workspace], settings)
    found: dict[Path, str] = {}
    for path in sorted(policy.walk()):
        if language_for(None, str(path)) not in _CODE_LANGUAGES:
            continue
        read = policy.read(path)
        if read is not None:
            found[path] = read.text
    return found


def _candidates(files: dict[Path, str]) -> list[Candidate]:
    found = []
    for path, text in files.items():
        for span in line_spans(text):
            line = text[span[0] : span[1]].strip()
            if len(line) >= MIN_CHARS and any(char.isalnum() for char in line):
                found.append((path, text, span))
    return found


@lru_cache(maxsize=8)
def _tree(text: str, language: str) -> tree_sitter.Tree | None:
    parser = get_parser(language)
    return parser.parse(text.encode("utf-8")) if parser is not None else None


def _in_code(text: str, offset: int, language: str | None) -> bool:
    """Whether the character at `offset` is outside comments and strings (docstrings too)."""
    tree = _tree(text, language) if language else None
    if tree is None:
        return True
    at = len(text[:offset].encode("utf-8"))
    node: tree_sitter.Node | None = tree.root_node.descendant_for_byte_range(at, at)
    while node is not None:
        if "comment" in node.type or "string" in node.type:
            return False
        node = node.parent
    return True


def repository_tasks(
    workspace: Path,
    settings: RepoContextSettings,
    mode: CursorMode,
    limit: int,
    seed: int,
) -> list[Task]:
    """`limit` tasks at random code lines of the workspace, in file order."""
    files = source_files(workspace, settings)
    candidates = _candidates(files)
    if not candidates:
        raise EvalError(f"no source files to sample in {workspace}")
    random.Random(seed).shuffle(candidates)
    tasks: list[tuple[Path, int, Task]] = []
    for path, text, span in candidates:
        language = language_for(None, str(path))
        relative = path.relative_to(workspace.resolve()).as_posix()
        line_number = text.count("\n", 0, span[0])
        task = mask(f"{relative}:{line_number}", path, text, span, mode, seed, language)
        # The start of the cut text, seen in the whole file: code, not a comment or a string.
        if task is None or not _in_code(text, task.offset + 1, language):
            continue
        tasks.append((path, span[0], task))
        if len(tasks) == limit:
            break
    return [task for _, _, task in sorted(tasks, key=lambda found: found[:2])]
