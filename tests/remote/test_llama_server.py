"""`sc2-lsp --stdio` generating on a real llama-server, over `/v1/completions` and `/completion`.

No stand-in: the server is llama.cpp's own, built from the vendored sources of the pinned
llama-cpp-python (`make llama-server`), running StarCoder2-architecture models with the real
vocabulary. What the server did is read from its side: `/slots`, its log and what it reported.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import Start, open_document, start_server, status, wait_for_model
from tests.remote.conftest import LlamaServer

__all__ = ["start_server"]  # the e2e tier's fixture, used here too

pytestmark = [pytest.mark.e2e, pytest.mark.model]

KINDS = ["openai", "llama-server"]


@dataclass
class Session:
    """A llama-server and an sc2-lsp client generating on it, with sc2-lsp's trace."""

    server: LlamaServer
    client: LanguageClient
    trace: Path

    def traced(self, kind: str) -> list[dict[str, Any]]:
        lines = self.trace.read_text().splitlines() if self.trace.exists() else []
        return [event for event in map(json.loads, lines) if event["type"] == kind]


Connect = Callable[..., Awaitable[Session]]


@pytest.fixture
def connect(
    start_server: Start,
    llama_server_factory: Callable[..., LlamaServer],
    real_vocab_models: Callable[[str], Path],
    tmp_path: Path,
) -> Connect:
    """`await connect(kind, model, completion={...}, ...)`: llama-server on `model`, and sc2-lsp
    with `engine.kind` = `kind` on it, ready (or in `state`)."""

    async def connect(
        kind: str,
        model: str = "random",
        completion: dict[str, Any] | None = None,
        api_key: str | None = None,
        engine: dict[str, Any] | None = None,
        state: str = "ready",
        **start: Any,
    ) -> Session:
        path = real_vocab_models(model)
        server = llama_server_factory(path, api_key=api_key)
        trace = tmp_path / f"trace-{server.port}.jsonl"
        settings = {
            "engine": {"kind": kind, "url": server.url, **(engine or {})},
            "completion": completion or {},
        }
        environ = {"SC2_TRACE": str(trace), **start.pop("environ", {})}
        client = await start_server(model=path, init_options=settings, environ=environ, **start)
        await wait_for_model(client, state)
        return Session(server, client, trace)

    return connect


async def complete(client: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    return [str(item.insert_text) for item in result.items]


def insert(
    client: LanguageClient, uri: str, version: int, line: int, column: int, text: str
) -> None:
    """A keystroke: `text` typed at (line, column)."""
    at = types.Position(line, column)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text)
            ],
        )
    )


async def until(check: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (found := await asyncio.to_thread(check)):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)
    return found


@pytest.mark.parametrize("kind", KINDS)
async def test_the_token_id_prompt_arrives_exactly(
    connect: Connect, tmp_path: Path, kind: str
) -> None:
    session = await connect(kind, completion={"maxTokensLine": 8})
    client = session.client
    text = 'def greet(name: str) -> str:\n    """Say hello to ünïcödé names."""\n    return \n'
    uri = open_document(client, tmp_path / "greet.py", text)
    await complete(client, uri, 2, 11)
    prompt = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="sc2.lastPrompt")
    )
    sent = session.traced("generate")[-1]["prompt"]
    slot = session.server.slot()
    # The server holds exactly our ids: as many, and they spell our prompt, sentinels included.
    assert slot["n_prompt_tokens"] == len(sent)
    assert slot["prompt"] == prompt
    assert prompt.startswith("<file_sep><fim_prefix>greet.py\ndef greet")
    assert "<fim_suffix>" in prompt


@pytest.mark.parametrize("kind", KINDS)
async def test_generation_stops_on_file_sep(connect: Connect, tmp_path: Path, kind: str) -> None:
    # llama-server starts without --override-kv: <file_sep> is no end of text to it.
    session = await connect(kind, "file_sep", completion={"maxTokensLine": 200})
    uri = open_document(session.client, tmp_path / "s.py", "x = \n")
    assert await complete(session.client, uri, 0, 4) == []
    generation = session.traced("generate")[-1]
    assert generation["stop_reason"] == "stop_token" and generation["tokens"] == []
    assert session.server.slot()["next_token"][0]["n_decoded"] <= 1  # there, not after 200


@pytest.mark.parametrize("kind", KINDS)
async def test_a_keystroke_cancels_the_running_generation(
    connect: Connect, tmp_path: Path, kind: str
) -> None:
    session = await connect(kind, "slow", completion={"maxTokensLine": 1000})
    client, server = session.client, session.server
    uri = open_document(client, tmp_path / "c.py", "value = \n")
    first = asyncio.ensure_future(complete(client, uri, 0, 8))

    def generating() -> dict[str, Any] | None:
        slot = server.slot()
        decoded = slot.get("next_token", [{}])[0].get("n_decoded", 0)
        return slot if slot["is_processing"] and decoded >= 3 else None

    task = (await until(generating, what="the first generation"))["id_task"]
    insert(client, uri, 2, 0, 8, "1")
    second = asyncio.ensure_future(complete(client, uri, 0, 9))
    assert await asyncio.wait_for(first, 10) == []
    await until(lambda: f"cancel task, id_task = {task}" in server.log_text(), 10, "the cancel")
    server.kill()  # the second generation would run to 1,000 tokens
    assert await asyncio.wait_for(second, 10) == []


@pytest.mark.parametrize("kind", KINDS)
async def test_typing_along_the_stream_keeps_it(
    connect: Connect, tmp_path: Path, kind: str
) -> None:
    session = await connect(kind, "slow", completion={"maxTokensLine": 60})
    client, server = session.client, session.server
    uri = open_document(client, tmp_path / "a.py", "value = \n")
    first = asyncio.ensure_future(complete(client, uri, 0, 8))

    def streamed() -> bool:
        slot = server.slot()
        return bool(slot["is_processing"] and slot["next_token"][0]["n_decoded"] >= 3)

    await until(streamed, what="the first generation")
    insert(client, uri, 2, 0, 8, "xx")  # what it is writing
    assert await complete(client, uri, 0, 10) == ["x" * 58]
    assert await first == []  # its cursor moved on
    assert "cancel task" not in server.log_text()
    assert len(session.traced("generate")) == 1  # one generation served both


@pytest.mark.parametrize("kind", KINDS)
async def test_the_server_reports_cached_prompt_tokens_growing_while_typing(
    connect: Connect, tmp_path: Path, kind: str
) -> None:
    # "x" has no line ends: every generation runs to its cap, and the server reports.
    session = await connect(kind, "x", completion={"maxTokensLine": 4})
    client = session.client
    lines = [f"def step_{i}(value):\n    return value * {i} + 1\n\n" for i in range(12)]
    head = "".join(lines) + "total = "
    uri = open_document(client, tmp_path / "t.py", head + "\n\nprint(total)\n")
    line, typing = head.count("\n"), "step_3(step_4(2))"
    for version, typed in enumerate(typing, start=2):
        column = len(head.rsplit("\n", 1)[1])
        insert(client, uri, version, line, column, typed)
        head += typed
        await complete(client, uri, line, column + 1)
    # What the server said it took from its cache and evaluated, per keystroke.
    jobs = session.traced("job")
    cached = [job["server_cached"] for job in jobs]
    evaluated = [job["server_evaluated"] for job in jobs]
    assert len(jobs) == len(typing) and cached[0] == 0, cached
    assert cached[-1] > cached[1] > 200, cached
    assert all(later >= earlier - 2 for earlier, later in itertools.pairwise(cached[1:])), cached
    assert max(evaluated[1:]) <= 40, evaluated  # only what changed at the cursor


@pytest.mark.parametrize("kind", KINDS)
async def test_a_wrong_key_is_refused_with_a_clear_message(
    connect: Connect, start_server: Start, tmp_path: Path, kind: str
) -> None:
    log = tmp_path / "sc2.log"
    session = await connect(
        kind,
        api_key="the-right-key",
        engine={"apiKeyEnv": "SC2_TEST_ENGINE_KEY"},
        state="failed",
        args=("-vv", "--log-file", str(log)),
        environ={"SC2_TEST_ENGINE_KEY": "wrong-key-7f3a"},
    )
    client, server = session.client, session.server
    uri = open_document(client, tmp_path / "k.py", "x = \n")
    assert await complete(client, uri, 0, 4) == []
    errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1, errors
    assert f"{server.url} refused the API key (HTTP 401" in errors[0]
    assert "check the key in $SC2_TEST_ENGINE_KEY (engine.apiKeyEnv)" in errors[0]
    assert "wrong-key-7f3a" not in log.read_text() + "".join(errors)
    assert "id_task" not in server.slot()  # nothing ran

    settings = {"engine": {"kind": kind, "url": server.url, "apiKeyEnv": "SC2_TEST_ENGINE_KEY"}}
    right = await start_server(
        model=server.model,
        init_options=settings,
        environ={"SC2_TEST_ENGINE_KEY": "the-right-key"},
    )
    await wait_for_model(right)


@pytest.mark.parametrize("kind", KINDS)
async def test_server_killed_then_back(connect: Connect, tmp_path: Path, kind: str) -> None:
    session = await connect(kind)
    client, server = session.client, session.server
    uri = open_document(client, tmp_path / "b.py", "def f(x):\n    return \n")
    await complete(client, uri, 1, 11)
    assert (await status(client))["generations"] == 1

    server.kill()
    started = time.monotonic()
    assert await complete(client, uri, 1, 11) == []
    assert await complete(client, uri, 1, 11) == []
    assert time.monotonic() - started < 5, "answers must not wait for a dead server"
    warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
    assert len(warnings) == 1 and server.url in warnings[0] and "retries" in warnings[0], warnings
    assert (await status(client))["model"]["state"] == "restarting"

    server.start()
    await wait_for_model(client, "ready", timeout=30)
    await complete(client, uri, 1, 11)
    assert (await status(client))["generations"] == 2
    assert len([m for m in client.messages if m.type <= types.MessageType.Warning]) == 1


async def test_a_server_with_another_tokenizer_is_refused(
    start_server: Start,
    llama_server_factory: Callable[..., LlamaServer],
    real_vocab_models: Callable[[str], Path],
    tiny_model_path: Path,
) -> None:
    server = llama_server_factory(real_vocab_models("random"))  # StarCoder2's real vocabulary
    settings = {"engine": {"kind": "openai", "url": server.url}}
    client = await start_server(model=tiny_model_path, init_options=settings)  # a synthetic one
    await wait_for_model(client, "failed")
    errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and "tokenizes differently from the local vocabulary" in errors[0]
    assert "model.path must be the served model's GGUF" in errors[0]
    assert "id_task" not in server.slot()  # no prompt was sent


async def test_the_local_model_stands_in_while_the_server_is_away(
    connect: Connect, tmp_path: Path
) -> None:
    completion = {"cache": False}  # every answer from a model
    session = await connect("llama-server", "x", completion, engine={"fallback": "local"})
    client, server = session.client, session.server
    uri = open_document(client, tmp_path / "f.py", "value = \n")
    assert (await complete(client, uri, 0, 8))[0].startswith("xxx")  # the server's
    server.kill()
    deadline = time.monotonic() + 60
    while not (answer := await complete(client, uri, 0, 8)):
        assert time.monotonic() < deadline, "the local model never answered"
        await asyncio.sleep(0.2)
    assert answer[0].startswith("xxx")
    assert (await status(client))["engine"]["pid"] is not None  # a local engine process


def test_doctor_checks_the_remote_engine(
    llama_server_factory: Callable[..., LlamaServer],
    real_vocab_models: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    model = real_vocab_models("random")
    server = llama_server_factory(model, api_key="team-key")
    settings = {"engine": {"kind": "llama-server", "url": server.url, "apiKeyEnv": "TEAM_KEY"}}

    def doctor(key: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sc2_lsp", "doctor", "--model", str(model)]
        return subprocess.run(
            [*command, "--settings", json.dumps(settings)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TEAM_KEY": key, "SC2_LSP_STATE_DIR": str(tmp_path)},
        )

    good = doctor("team-key")
    assert good.returncode == 0, good.stdout + good.stderr
    for line in (
        "reachable: yes; round trip",
        "authorised: yes (the key in $TEAM_KEY)",
        "on llama.cpp, context 4096",
        "tokenizer: the same as the local vocabulary",
        "speed (network included): prompt",
    ):
        assert line in good.stdout, good.stdout
    bad = doctor("not-the-key")
    assert bad.returncode == 1 and "authorised: no:" in bad.stdout and "HTTP 401" in bad.stdout
    assert "not-the-key" not in bad.stdout + bad.stderr
    server.kill()
    down = doctor("team-key")
    assert down.returncode == 1 and f"reachable: no: cannot reach {server.url}" in down.stdout


async def test_settings_switch_the_engine_between_local_and_remote(
    start_server: Start,
    llama_server_factory: Callable[..., LlamaServer],
    real_vocab_models: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    model = real_vocab_models("x")
    server = llama_server_factory(model)
    settings = {"completion": {"cache": False}}
    client = await start_server(model=model, init_options=settings)
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "s.py", "value = \n")
    assert (await complete(client, uri, 0, 8))[0].startswith("xx")
    assert "id_task" not in server.slot()  # generated here

    def push(engine: dict[str, Any]) -> None:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sc2": {**settings, "engine": engine}})
        )

    push({"kind": "llama-server", "url": server.url})
    deadline = time.monotonic() + 30
    while (now := await status(client))["engine"]["kind"] != "llama-server" or now["model"][
        "state"
    ] != "ready":
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.05)
    assert (await complete(client, uri, 0, 8))[0].startswith("xx")
    assert "id_task" in server.slot()  # generated there
    push({"kind": "local"})
    await wait_for_model(client)
    assert (await status(client))["engine"]["pid"] is not None  # an engine process again
