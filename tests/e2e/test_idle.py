"""Idle unload over LSP: the engine process ends while nobody types, and the next edit loads the
model again and evaluates the prompt at the cursor before the first keystroke asks for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import Start, open_document, status, wait_for_model

IDLE = {"model": {"idleUnloadMinutes": 0.02}, "completion": {"maxTokensLine": 4, "prefetch": False}}


async def wait_for(
    client: LanguageClient, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(600):
        current = await status(client)
        if check(current):
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {current}")


async def inline(client: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    answer = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    assert isinstance(answer, types.InlineCompletionList)
    return [item.insert_text for item in answer.items if isinstance(item.insert_text, str)]


async def test_an_idle_model_is_unloaded_then_prewarmed_by_the_next_edit(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"), init_options=IDLE)
    await wait_for_model(client)
    text = "".join(f"value_{i} = compute({i})\n" for i in range(40)) + "total = \n"
    uri = open_document(client, tmp_path / "a.py", text)
    assert await inline(client, uri, 40, 8) == ["xxxx"]
    loaded = await status(client)
    await wait_for(client, lambda s: s["model"]["state"] == "unloaded" and not s["engine"]["pid"])
    assert not Path(f"/proc/{loaded['engine']['pid']}").exists()  # RAM and VRAM given back
    # Typing wakes it: the model loads and the prompt at the new cursor is evaluated.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=40, character=8),
                        end=types.Position(line=40, character=8),
                    ),
                    text="1",
                )
            ],
        )
    )
    before = await wait_for(client, lambda s: s["model"]["prewarmed"] == 1)
    assert before["model"]["state"] == "ready"
    assert await inline(client, uri, 40, 9) == ["xxxx"]
    after = await status(client)
    evaluated = (after["promptTokens"] - before["promptTokens"]) - (
        after["reusedTokens"] - before["reusedTokens"]
    )
    assert evaluated <= 1, evaluated  # the first suggestion found its prompt in the KV cache


async def test_window_focus_wakes_an_unloaded_model(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"), init_options=IDLE)
    await wait_for_model(client)
    await wait_for(client, lambda s: s["model"]["state"] == "unloaded")
    client.protocol.notify("sc2/wake", None)
    await wait_for(
        client, lambda s: s["model"]["state"] == "ready" and s["model"]["prewarmed"] == 1
    )
