"""Repository context over LSP: a definition from another file reaches the prompt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import Start, last_prompt, open_document, status, wait_for_model
from tests.e2e.test_server import inline_params

pytestmark = [pytest.mark.e2e, pytest.mark.model]

UTIL = '''"""Pricing helpers."""


def compute_total(items: list[float], tax_rate: float) -> float:
    """Sum the items and add tax."""
    return sum(items) * (1 + tax_rate)
'''
MAIN = "from shop.util import compute_total\n\n\ndef checkout(cart):\n    total = compute_total(\n"
SECRET = "API_KEY=sk-live-very-secret-value\n"


async def wait_for_index(client: LanguageClient, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await status(client))["index"].get("state") != "ready":
        assert asyncio.get_running_loop().time() < deadline, await status(client)
        await asyncio.sleep(0.1)


async def test_prompt_carries_the_imported_definition(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "util.py").write_text(UTIL)
    (tmp_path / "shop" / ".env").write_text(SECRET)
    (tmp_path / "shop" / "main.py").write_text(MAIN)
    client = await start_server(model=emit_model_factory("x"), workspace=tmp_path)
    await wait_for_model(client)
    await wait_for_index(client)
    uri = open_document(client, tmp_path / "shop" / "main.py", MAIN)
    result = await client.text_document_inline_completion_async(inline_params(uri, 4, 26))
    assert isinstance(result, types.InlineCompletionList) and result.items
    prompt = await last_prompt(client)
    assert prompt.startswith(f"<repo_name>{tmp_path.name}<file_sep>shop/util.py\n")
    assert "def compute_total(items: list[float], tax_rate: float) -> float:" in prompt
    assert prompt.index("shop/util.py") < prompt.index("<fim_prefix>shop/main.py\n")
    assert "sk-live" not in prompt
