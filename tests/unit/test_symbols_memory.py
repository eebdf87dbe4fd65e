"""Typing in an open buffer must not pin every version of its symbols.

The index re-extracts an open buffer whenever typing pauses (at a human pace, after every
keystroke), and each version's imports and definitions get materialised. The cache of those
objects held the versions themselves strongly: the superseded versions of the file being edited
stayed alive until 512 newer ones pushed them out, each a whole copy of the file's symbols, so
a long session's memory grew by a file's worth of symbols per keystroke. The cache of rendered
definitions held versions (and their source bytes) the same way, up to 2,048 renderings.
"""

from __future__ import annotations

import gc
import pickle
import shutil
import weakref
from pathlib import Path

import pytest

from sc2_lsp.context import index as index_module
from sc2_lsp.context import symbols as symbols_module
from sc2_lsp.context.languages import extract_symbols
from sc2_lsp.context.retrieval.caches import RenderCache
from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.context.symbols import FileSymbols
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.prompting import Request
from sc2_lsp.repository import RepositoryContext

PROJECT = Path(__file__).resolve().parents[1] / "data" / "projects" / "python"
SOURCE = b"import os\nfrom shop.pricing import with_tax\n\n\ndef total(price):\n    return price\n"


def live_symbols() -> int:
    gc.collect()
    return sum(type(thing) is FileSymbols for thing in gc.get_objects())


def test_superseded_symbols_leave_the_materialised_cache() -> None:
    before = len(symbols_module._materialised_cache)
    versions: list[weakref.ref[FileSymbols]] = []
    for number in range(600):  # more than the cache's 512 slots
        symbols = extract_symbols("python", SOURCE + f"value_{number} = {number}\n".encode())
        assert symbols.imports and symbols.definitions  # materialised, so cached
        versions.append(weakref.ref(symbols))
        del symbols
    gc.collect()
    assert sum(version() is not None for version in versions) == 0
    assert len(symbols_module._materialised_cache) <= before


def test_renderings_of_superseded_symbols_leave_the_render_cache() -> None:
    cache = RenderCache()
    kept = extract_symbols("python", SOURCE)
    first = cache.render(SOURCE, kept, 0, full=False, max_lines=10)
    for number in range(100):
        source = SOURCE + f"value_{number} = {number}\n".encode()
        symbols = extract_symbols("python", source)
        assert cache.render(source, symbols, 0, full=False, max_lines=10) is not None
        del symbols
    gc.collect()
    assert len(cache._entries) == 1  # each version's rendering and source bytes went with it
    assert cache.render(SOURCE, kept, 0, full=False, max_lines=10) is first


def test_live_symbols_stay_materialised_once() -> None:
    symbols = extract_symbols("python", SOURCE)
    assert symbols.definitions is symbols.definitions
    assert symbols.definition(0) is symbols.definitions[0]
    assert pickle.loads(pickle.dumps(symbols)) == symbols


def test_typing_in_an_open_buffer_keeps_one_version_of_its_symbols(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A buffer re-extracted after every keystroke, and a completion's context gathered after
    each: the live symbols are the index's, not one more per keystroke."""
    monkeypatch.setattr(index_module, "_EDIT_DEBOUNCE_SECONDS", 0.0)
    root = tmp_path / "python"
    shutil.copytree(PROJECT, root)
    root = root.resolve()
    path = root / "src" / "shop" / "cart.py"
    text = path.read_text()
    repository = RepositoryContext()
    try:
        repository.configure([root], RepoContextSettings())
        index = repository.index
        assert index is not None and index.wait_ready(30)
        repository.opened(path, text, "python")
        assert index.wait_ready(10)
        settled = live_symbols()
        offset = text.find("\n", len(text) // 2) + 1
        for number, char in enumerate("total = with_tax(price) * quantity\n" * 3):
            text = text[:offset] + char + text[offset:]
            offset += 1
            repository.changed(path, text, "python", [offset - 1])
            assert index.wait_ready(10)
            line = text.count("\n", 0, offset)
            column = offset - (text.rfind("\n", 0, offset) + 1)
            snapshot = Snapshot(path.as_uri(), number + 2, "python", text)
            request = Request(snapshot, cursor_at(text, line, column, "utf-32"), root)
            window = (max(0, offset - 1500), min(len(text), offset + 500))
            repository.provide(request, window, 800, lambda chunk: len(chunk) // 3 + 1)
        assert live_symbols() <= settled + 4  # 105 keystrokes: 105 more versions before the fix
    finally:
        repository.close()
