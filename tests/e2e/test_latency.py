"""Latency features over LSP: typed-ahead cache hits and speculative prefetch of the accepted state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import Start, open_document, status, wait_for_model
from tests.e2e.test_server import inline_params

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def insert(
    client: LanguageClient, uri: str, version: int, line: int, character: int, text: str
) -> None:
    position = types.Position(line=line, character=character)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=position, end=position), text=text
                )
            ],
        )
    )


async def test_typing_through_a_suggestion_is_served_from_the_cache(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(
        model=emit_model_factory("x"),
        init_options={"completion": {"maxTokensLine": 6, "prefetch": False}},
    )
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "value = \n")
    first = await client.text_document_inline_completion_async(inline_params(uri, 0, 8))
    assert isinstance(first, types.InlineCompletionList) and first.items[0].insert_text == "xxxxxx"
    generations = (await status(client))["generations"]
    insert(client, uri, 2, 0, 8, "xx")
    second = await client.text_document_inline_completion_async(inline_params(uri, 0, 10))
    assert isinstance(second, types.InlineCompletionList) and second.items[0].insert_text == "xxxx"
    after = await status(client)
    assert after["cacheHits"] == 1 and after["generations"] == generations


async def test_accepting_a_suggestion_is_answered_by_the_prefetch(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(
        model=emit_model_factory("x"), init_options={"completion": {"maxTokensLine": 4}}
    )
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "value = \n")
    first = await client.text_document_inline_completion_async(inline_params(uri, 0, 8))
    assert isinstance(first, types.InlineCompletionList) and first.items[0].insert_text == "xxxx"
    for _ in range(200):
        if (await status(client))["prefetches"] >= 1:
            break
        await asyncio.sleep(0.05)
    insert(client, uri, 2, 0, 8, "xxxx")  # Tab: the editor inserts the suggestion
    after_accept = await client.text_document_inline_completion_async(inline_params(uri, 0, 12))
    assert (
        isinstance(after_accept, types.InlineCompletionList)
        and after_accept.items[0].insert_text == "xxxx"
    )
    assert (await status(client))["prefetchHits"] == 1
