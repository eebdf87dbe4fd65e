"""The real server over stdio: capabilities, completions, positions, settings, faults."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.e2e.conftest import (
    Start,
    last_prompt,
    open_document,
    plain_text,
    status,
    wait_for_model,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]


AT_THE_CURSOR = {"prompt": {"tokenHealing": False}}
"""For tests that read the text before the cursor off `sc2.lastPrompt`: token healing would
end the prompt before the cursor's word (it has tests of its own)."""


def inline_params(
    uri: str, line: int, character: int, invoked: bool = False
) -> types.InlineCompletionParams:
    kind = (
        types.InlineCompletionTriggerKind.Invoked
        if invoked
        else types.InlineCompletionTriggerKind.Automatic
    )
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind),
    )


def completion_params(uri: str, line: int, character: int) -> types.CompletionParams:
    return types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
    )


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(None, "utf-16"), (["utf-8", "utf-16"], "utf-8"), (["utf-32"], "utf-32")],
)
async def test_capabilities_and_encoding_negotiation(
    start_server: Start, tiny_model_path: Path, offered: list[str] | None, chosen: str
) -> None:
    client = await start_server(model=tiny_model_path, encodings=offered)
    capabilities = client.initialize_result.capabilities  # type: ignore[attr-defined]
    assert capabilities.position_encoding == chosen
    assert capabilities.inline_completion_provider is not None
    assert capabilities.completion_provider is not None
    assert capabilities.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert set(capabilities.execute_command_provider.commands) >= {"sc2.status", "sc2.lastPrompt"}


async def test_inline_and_popup_completion(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"), init_options=AT_THE_CURSOR)
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "def add(a, b):\n    return a + \n")
    inline = await client.text_document_inline_completion_async(inline_params(uri, 1, 15))
    assert isinstance(inline, types.InlineCompletionList)
    assert len(inline.items) == 1
    item = inline.items[0]
    assert isinstance(item.insert_text, str) and set(item.insert_text) == {"x"}
    assert item.range == types.Range(
        start=types.Position(line=1, character=15), end=types.Position(line=1, character=15)
    )

    popup = await client.text_document_completion_async(completion_params(uri, 1, 15))
    assert isinstance(popup, types.CompletionList) and popup.is_incomplete
    assert len(popup.items) == 1
    edit = popup.items[0].text_edit
    assert isinstance(edit, types.TextEdit) and set(edit.new_text) == {"x"}
    prompt = await last_prompt(client)
    assert prompt.startswith(
        "<file_sep><fim_prefix>a.py\ndef add(a, b):\n    return a + <fim_suffix>"
    )
    assert prompt.endswith("<fim_middle>")


async def test_utf16_positions_around_emoji(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"), init_options=AT_THE_CURSOR)
    await wait_for_model(client)
    text = 'label = "😀😀" + ab\n'
    uri = open_document(client, tmp_path / "e.py", text)
    column = len(text.rstrip("\n").encode("utf-16-le")) // 2  # 20 UTF-16 units, 18 code points
    popup = await client.text_document_completion_async(completion_params(uri, 0, column))
    assert isinstance(popup, types.CompletionList)
    edit = popup.items[0].text_edit
    assert isinstance(edit, types.TextEdit)
    assert edit.range.start.character == column - 2 and edit.new_text.startswith("ab")
    prompt = await last_prompt(client)
    assert 'label = "😀😀" + ab<fim_suffix>' in prompt


async def test_utf8_positions_when_negotiated(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(
        model=emit_model_factory("x"), encodings=["utf-8"], init_options=AT_THE_CURSOR
    )
    await wait_for_model(client)
    text = "s = 'é😀' + v\n"
    uri = open_document(client, tmp_path / "u.py", text)
    column = len(text.rstrip("\n").encode("utf-8"))
    await client.text_document_inline_completion_async(inline_params(uri, 0, column))
    prompt = await last_prompt(client)
    assert "s = 'é😀' + v<fim_suffix>" in prompt


async def test_incremental_sync(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"), init_options=AT_THE_CURSOR)
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "i.py", "a = 1\nb = \n")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=1, character=4),
                        end=types.Position(line=1, character=4),
                    ),
                    text="a * ",
                )
            ],
        )
    )
    await client.text_document_inline_completion_async(inline_params(uri, 1, 8))
    prompt = await last_prompt(client)
    assert "a = 1\nb = a * <fim_suffix>" in prompt


async def test_stop_on_file_sep_gives_no_suggestion(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("<file_sep>"))
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "s.py", "x = \n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 4))
    assert isinstance(result, types.InlineCompletionList) and not result.items


async def test_cancel_stops_generation_then_next_request_works(
    start_server: Start, slow_model_path: Path, tmp_path: Path
) -> None:
    settings = {"completion": {"maxTokensLine": 1000, "maxPredictMs": 60000, "debounceMs": 0}}
    client = await start_server(model=slow_model_path, init_options=settings)
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "c.py", "value = \n")
    request = client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 0, 8), msg_id="slow-1"
    )
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    cancelled_at = loop.time()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(asyncio.wrap_future(request), 5)
    settings_fast = {"completion": {"maxTokensLine": 4}}
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"sc2": settings_fast})
    )
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 8))
    assert loop.time() - cancelled_at < 5, "the cancelled generation kept the engine busy"
    assert isinstance(result, types.InlineCompletionList) and result.items[0].insert_text == "xxxx"
    assert (await status(client))["cancelled"] >= 1


async def test_newer_request_supersedes_older(
    start_server: Start, slow_model_path: Path, tmp_path: Path
) -> None:
    client = await start_server(
        model=slow_model_path,
        init_options={"completion": {"maxTokensLine": 1000, "maxPredictMs": 60000}},
    )
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "s.py", "value = \n")
    first = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params(uri, 0, 8))
    )
    await asyncio.sleep(0.5)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"sc2": {"completion": {"maxTokensLine": 3}}})
    )
    second = await asyncio.wait_for(
        client.text_document_inline_completion_async(inline_params(uri, 0, 8)), 10
    )
    older = await asyncio.wait_for(first, 5)
    assert isinstance(older, types.InlineCompletionList) and not older.items
    assert isinstance(second, types.InlineCompletionList) and second.items[0].insert_text == "xxx"


@pytest.mark.parametrize("kind", ["missing", "not-gguf", "wrong-architecture"])
async def test_bad_model_is_reported_and_server_keeps_answering(
    start_server: Start, tmp_path: Path, kind: str
) -> None:
    model = tmp_path / "bad.gguf"
    if kind == "not-gguf":
        model.write_text("this is not a model")
    elif kind == "wrong-architecture":
        from tests.gguf_factory import write_starcoder2

        write_starcoder2(model, extra_kv={"general.architecture": "not-a-real-arch"})
    client = await start_server(model=model)
    await wait_for_model(client, "failed")
    messages = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert messages and "bad.gguf" in messages[0]
    uri = open_document(client, tmp_path / "a.py", "x = \n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 4))
    assert isinstance(result, types.InlineCompletionList) and not result.items
    popup = await client.text_document_completion_async(completion_params(uri, 0, 4))
    assert isinstance(popup, types.CompletionList) and not popup.items


async def test_switching_to_a_missing_model_fails_instead_of_keeping_the_old_one(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"))
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "x = \n")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"sc2": {"model": {"path": str(tmp_path / "missing.gguf")}}}
        )
    )
    failed = await wait_for_model(client, "failed")
    assert "missing.gguf" in failed["model"]["error"]
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 4))
    assert isinstance(result, types.InlineCompletionList) and not result.items


async def test_completions_are_empty_while_the_model_loads(
    start_server: Start, slow_model_path: Path, tmp_path: Path
) -> None:
    client = await start_server(model=slow_model_path)
    uri = open_document(client, tmp_path / "a.py", "x = \n")
    result = await asyncio.wait_for(
        client.text_document_inline_completion_async(inline_params(uri, 0, 4)), 5
    )
    assert isinstance(result, types.InlineCompletionList)


async def test_invalid_settings_are_reported_and_defaults_used(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(
        model=emit_model_factory("x"),
        init_options={"completion": {"maxTokensLine": "lots", "temperature": 0}},
    )
    await wait_for_model(client)
    warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
    assert any("completion.maxTokensLine" in message for message in warnings)
    uri = open_document(client, tmp_path / "a.py", "x = \n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 4))
    assert isinstance(result, types.InlineCompletionList) and len(plain_text(result.items[0])) == 48


async def test_workspace_configuration_is_pulled(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(
        model=emit_model_factory("x"), configuration={"completion": {"maxTokensLine": 5}}
    )
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "x = \n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 4))
    assert isinstance(result, types.InlineCompletionList) and result.items[0].insert_text == "xxxxx"


async def test_unopened_document_gets_an_empty_answer(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"))
    await wait_for_model(client)
    result = await client.text_document_inline_completion_async(
        inline_params((tmp_path / "nope.py").as_uri(), 3, 1)
    )
    assert isinstance(result, types.InlineCompletionList) and not result.items


async def test_model_load_reports_progress(start_server: Start, tiny_model_path: Path) -> None:
    client = await start_server(model=tiny_model_path)
    await wait_for_model(client)
    for _ in range(50):
        reports = [report for values in client.progress_reports.values() for report in values]
        if any(isinstance(report, types.WorkDoneProgressEnd) for report in reports):
            break
        await asyncio.sleep(0.05)
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and "loading" in (
        reports[0].message or ""
    )
    assert isinstance(reports[-1], types.WorkDoneProgressEnd) and "ready" in (
        reports[-1].message or ""
    )
