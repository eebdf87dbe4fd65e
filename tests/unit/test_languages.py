"""The language table (sc2_lsp.languages) and the registry of repository-context languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from tree_sitter import Node

from sc2_lsp.context import languages as registry
from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.languages import LanguageSupport, structure_language
from sc2_lsp.context.languages.base import (
    FileOracle,
    ProjectLayout,
    ResolvedImport,
    Sink,
    Source,
)
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.context.retrieval.retrieve import ContextRequest, gather
from sc2_lsp.context.symbols import FileSymbols, ImportRef
from sc2_lsp.languages import LANGUAGES, comments_of, language_for
from sc2_lsp.syntax import analyze
from tests.workspaces import indexed, write_tree


@pytest.mark.parametrize(
    ("language_id", "path", "expected"),
    [
        pytest.param(None, "include/shop/item.h", "cpp", id="h-is-cpp"),
        pytest.param("c", "include/shop/item.h", "c", id="language-id-wins"),
        pytest.param("cuda-cpp", None, "cuda", id="cuda-cpp-id"),
        pytest.param(None, "kernels/add.cu", "cuda", id="cu-extension"),
        pytest.param("golang", None, "go", id="golang-id"),
        pytest.param("c++", None, "cpp", id="c++-id"),
        pytest.param(None, "lib/detail.inl", "cpp", id="inl-extension"),
    ],
)
def test_one_table_answers_both_questions(
    language_id: str | None, path: str | None, expected: str
) -> None:
    assert language_for(language_id, path) == expected
    # Repository context asks the same table: C, C++ and CUDA all have structure support.
    assert structure_language(language_id, path) == expected


def test_the_table_has_one_row_per_language_and_extension() -> None:
    names = [row.name for row in LANGUAGES]
    extensions = [ext for row in LANGUAGES for ext in row.extensions.split()]
    assert len(names) == len(set(names))
    assert len(extensions) == len(set(extensions))


def test_comment_syntax_comes_from_the_table() -> None:
    assert comments_of("sql") == ("--", "/*")
    assert comments_of("no-such-language") == ("//", "/*")
    # Perl's grammar is never run (it hangs), so only the table's `#` can tell.
    line = "my $total = 1;  # note"
    assert analyze(line, len(line), "perl").in_comment


# ------------------------------------------------------------------ adding a language


def _extract_lua(root: Node, src: Source, sink: Sink) -> str | None:
    for node in root.named_children:
        name = node.child_by_field_name("name")
        if node.type == "function_declaration" and name is not None:
            body = node.child_by_field_name("body")
            sink.add_definition(src.text(name), "function", node, parent=None, body=body)
    return None


def _resolve_nothing(
    path: Path, reference: ImportRef, symbols: FileSymbols, layout: ProjectLayout, files: FileOracle
) -> list[ResolvedImport]:
    return []


TOY_LUA = LanguageSupport(languages=("lua",), extract=_extract_lua, resolve=_resolve_nothing)
"""A toy module for a language of the table that repository context does not support yet."""

GAME = {
    "game.lua": "function spawn_enemy(x, y)\n  return {x = x, y = y}\nend\n",
    "main.lua": "local boss = spawn_enemy(",
}


def test_a_registered_language_gets_indexed_and_used(
    tmp_path: Path, indexes: list[WorkspaceIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree(tmp_path, GAME)
    monkeypatch.setattr(registry, "SUPPORTED", (*registry.SUPPORTED, TOY_LUA))
    index = indexed(root, indexes)
    found = index.definitions_named("spawn_enemy")
    assert [(record.path.name, record.language) for record, _ in found] == [("game.lua", "lua")]
    text = GAME["main.lua"]
    request = ContextRequest(root / "main.lua", "lua", text, len(text), 0, len(text))
    snippets = gather(index, request, RecentEdits(), 500, lambda text: len(text) // 3 + 1)
    assert [(snippet.path, snippet.symbol) for snippet in snippets] == [("game.lua", "spawn_enemy")]


def test_an_unregistered_language_is_not_indexed(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(tmp_path, GAME)
    index = indexed(root, indexes)
    assert index.definitions_named("spawn_enemy") == []
    assert structure_language(None, root / "game.lua") is None
