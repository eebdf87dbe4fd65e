"""The server holds its repository-context selection while the user types in one place.

The context comes first in the prompt: choosing it afresh on every keystroke (as names appear
near the cursor) would throw away the KV cache of the whole file window behind it.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.prompting import Request
from sc2_lsp.repository import HOLD_LINES, RepositoryContext

PROJECT = Path(__file__).resolve().parents[1] / "data" / "projects" / "python"
START = (
    "from shop.pricing import apply_discount\n\n\n"
    "def again(price: float) -> float:\n"
    "    return apply_discount("
)
TYPED = (
    "price, 5)\n\n\nfrom shop.pricing import with_tax\n\n\n"
    "def taxed(price: float) -> float:\n    return with_tax("
)


def count_tokens(text: str) -> int:
    return len(text) // 3 + 1


def request(path: Path, text: str) -> Request:
    line = text.count("\n")
    column = len(text) - (text.rfind("\n") + 1)
    snapshot = Snapshot(path.as_uri(), 1, "python", text)
    return Request(snapshot, cursor_at(text, line, column, "utf-32"), path.parents[1])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "python"
    shutil.copytree(PROJECT, root)
    return root.resolve()


@pytest.fixture
def repositories() -> Iterator[list[RepositoryContext]]:
    made: list[RepositoryContext] = []
    yield made
    for repository in made:
        repository.close()


def ready(root: Path, made: list[RepositoryContext], hold: bool = True) -> RepositoryContext:
    repository = RepositoryContext(hold=hold)
    made.append(repository)
    repository.configure([root], RepoContextSettings())
    assert repository.index is not None and repository.index.wait_ready(30)
    return repository


def symbols(repository: RepositoryContext, path: Path, text: str) -> set[str]:
    repository.provide(request(path, text), (0, len(text)), 400, count_tokens)
    return {name for s in repository.last_snippets for name in (s.symbol or "").split(", ")}


def test_selection_is_held_while_typing_nearby(
    workspace: Path, repositories: list[RepositoryContext]
) -> None:
    path = workspace / "app" / "taxes.py"
    fresh = ready(workspace, repositories, hold=False)
    assert "with_tax" in symbols(fresh, path, START + TYPED)  # what a fresh choice would add

    held = ready(workspace, repositories)
    first = symbols(held, path, START)
    assert "apply_discount" in first and "with_tax" not in first
    snippets = list(held.last_snippets)
    for end in range(1, len(TYPED) + 1):  # keystroke by keystroke
        symbols(held, path, START + TYPED[:end])
        assert held.last_snippets == snippets


def test_selection_is_chosen_again_after_moving_away(
    workspace: Path, repositories: list[RepositoryContext]
) -> None:
    path = workspace / "app" / "taxes.py"
    held = ready(workspace, repositories)
    symbols(held, path, START)
    filler = "".join(f"value_{i} = {i}\n" for i in range(HOLD_LINES + 1))
    assert "with_tax" in symbols(held, path, START + TYPED + "1)\n" + filler + "x = with_tax(")


def test_selection_is_chosen_again_when_another_file_changes(
    workspace: Path, repositories: list[RepositoryContext]
) -> None:
    path = workspace / "app" / "taxes.py"
    held = ready(workspace, repositories)
    symbols(held, path, START)
    held.changed(path, START + TYPED, "python", [len(START)])  # its own edits keep the hold
    assert "with_tax" not in symbols(held, path, START + TYPED)
    pricing = workspace / "src" / "shop" / "pricing.py"
    held.changed(pricing, pricing.read_text() + "\n# edited\n", "python", [0])
    assert "with_tax" in symbols(held, path, START + TYPED)


def test_selection_is_chosen_again_in_another_document(
    workspace: Path, repositories: list[RepositoryContext]
) -> None:
    held = ready(workspace, repositories)
    symbols(held, workspace / "app" / "taxes.py", START)
    assert "with_tax" in symbols(held, workspace / "app" / "other.py", START + TYPED)


def test_selection_is_chosen_again_when_the_budget_shrinks(
    workspace: Path, repositories: list[RepositoryContext]
) -> None:
    path = workspace / "app" / "taxes.py"
    held = ready(workspace, repositories)
    symbols(held, path, START)
    spent = sum(s.tokens for s in held.last_snippets)
    assert spent > 0
    held.provide(request(path, START + "p"), (0, len(START) + 1), spent - 1, count_tokens)
    assert sum(s.tokens for s in held.last_snippets) <= spent - 1


def test_a_prefetched_state_does_not_replace_the_held_selection(
    workspace: Path, repositories: list[RepositoryContext]
) -> None:
    path = workspace / "app" / "taxes.py"
    held = ready(workspace, repositories)
    symbols(held, path, START)
    snippets = list(held.last_snippets)
    elsewhere = workspace / "app" / "other.py"
    speculative = dataclasses.replace(request(elsewhere, START + TYPED), speculative=True)
    held.provide(speculative, (0, len(START + TYPED)), 400, count_tokens)
    assert held.last_snippets != snippets  # chosen for the prefetch...
    symbols(held, path, START + TYPED)
    assert held.last_snippets == snippets  # ...while typing keeps what it had


def test_a_held_snippet_of_the_document_that_the_window_now_shows_is_left_out(
    workspace: Path, repositories: list[RepositoryContext]
) -> None:
    path = workspace / "app" / "local.py"
    helper = "def local_helper(value: float) -> float:\n    return value * 3\n"
    text = START + "\n\n\n" + helper + "".join(f"v{i} = {i}\n" for i in range(60))
    text += "total = local_helper(apply_discount("
    held = ready(workspace, repositories)
    near = text.rindex("v50")
    held.provide(request(path, text), (near, len(text)), 400, count_tokens)
    assert any("local_helper" in (s.symbol or "") for s in held.last_snippets)
    others = [s for s in held.last_snippets if "local_helper" not in (s.symbol or "")]
    # The window moves up to show the helper: its snippet goes, the rest stays as it was.
    held.provide(request(path, text + "1"), (text.index(helper), len(text) + 1), 400, count_tokens)
    assert others and held.last_snippets == others
