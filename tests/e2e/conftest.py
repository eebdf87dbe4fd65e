"""End-to-end fixtures: the real `python -m sc2_lsp` over stdio, driven by pytest-lsp's client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

Start = Callable[..., Awaitable[LanguageClient]]


def capabilities(
    encodings: list[str] | None = None, inline: bool = True, configuration: bool = False
) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings)
        if encodings
        else None,
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(),
            completion=types.CompletionClientCapabilities(),
            inline_completion=types.InlineCompletionClientCapabilities() if inline else None,
        ),
        workspace=types.WorkspaceClientCapabilities(
            configuration=configuration, workspace_folders=True
        ),
        window=types.WindowClientCapabilities(work_done_progress=True),
    )


@pytest_asyncio.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[Start]:
    """`await start(model=..., init_options=..., encodings=...)` → an initialized client."""
    clients: list[LanguageClient] = []

    async def start(
        model: Path | str | None = None,
        init_options: Any = None,
        encodings: list[str] | None = None,
        configuration: dict[str, Any] | None = None,
        workspace: Path | None = None,
        args: tuple[str, ...] = (),
        environ: dict[str, str] | None = None,
    ) -> LanguageClient:
        command = [sys.executable, "-m", "sc2_lsp", "--stdio", *args]
        if model is not None:
            command += ["--model", str(model)]
        env = {
            "SC2_LSP_MODEL_DIR": str(tmp_path / "models"),
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "SC2_LSP_STATE_DIR": str(tmp_path / "state"),
            **(environ or {}),
        }
        client = await ClientServerConfig(server_command=command, server_env=env).start()
        assert isinstance(client, LanguageClient)  # pytest-lsp's default client factory
        clients.append(client)
        if configuration is not None:
            client.set_configuration(configuration, section="sc2")
        root = workspace or tmp_path
        if isinstance(init_options, dict) or init_options is None:
            # A loaded CI machine must not turn exact-length assertions into time-budget cuts.
            init_options = merged({"completion": {"maxPredictMs": 120_000}}, init_options or {})
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities(encodings, configuration=configuration is not None),
                initialization_options=init_options,
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                root_uri=root.as_uri(),
            )
        )
        client.initialize_result = result  # type: ignore[attr-defined]
        return client

    yield start
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        await client.stop()  # type: ignore[no-untyped-call]  # unannotated in pytest-lsp


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


async def status(client: LanguageClient) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="sc2.status")
    )
    assert isinstance(result, dict)
    return result


async def wait_for_model(
    client: LanguageClient, state: str = "ready", timeout: float = 30
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await status(client)
        if current["model"]["state"] == state:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"model never became {state}: {json.dumps(current)}")
        await asyncio.sleep(0.05)


async def last_prompt(client: LanguageClient) -> str:
    """The prompt of the server's last generation (`sc2.lastPrompt`)."""
    prompt = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="sc2.lastPrompt")
    )
    assert isinstance(prompt, str), prompt
    return prompt


def plain_text(item: types.InlineCompletionItem) -> str:
    """An inline suggestion's text: sc2-lsp sends plain text, never a snippet."""
    assert isinstance(item.insert_text, str), item.insert_text
    return item.insert_text


def open_document(client: LanguageClient, path: Path, text: str, language: str = "python") -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )
    return uri
