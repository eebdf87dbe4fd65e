"""Suggestions users can steer, over LSP: alternatives, accept commands and the statistics they
feed, partial accepts answered from the cache, ignore files, and notebooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from tests.e2e.conftest import (
    Start,
    last_prompt,
    open_document,
    plain_text,
    status,
    wait_for_model,
)
from tests.e2e.test_latency import insert
from tests.e2e.test_server import inline_params

pytestmark = [pytest.mark.e2e, pytest.mark.model]

NO_PREFETCH = {"completion": {"maxTokensLine": 6, "prefetch": False}}


async def inline(
    client: LanguageClient, uri: str, line: int, character: int
) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(inline_params(uri, line, character))
    assert isinstance(result, types.InlineCompletionList)
    return list(result.items)


async def run(
    client: LanguageClient, command: types.Command | str, argument: object = None
) -> object:
    if isinstance(command, types.Command):
        params = types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    else:
        params = types.ExecuteCommandParams(command=command, arguments=[argument])
    return await client.workspace_execute_command_async(params)


async def test_alternatives_each_with_an_accept_command(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    text = "import os\n\n\n"
    client = await start_server(model=emit_model_factory("x\n"), init_options=NO_PREFETCH)
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", text)
    items = await inline(client, uri, 3, 0)
    texts = [plain_text(item) for item in items]
    assert len(texts) == 2 and texts[1] == "x" and texts[0].startswith("x\nx\n")
    for index, item in enumerate(items):
        assert item.command is not None and item.command.command == "sc2.accepted"
        (argument,) = item.command.arguments or []
        assert isinstance(argument, dict), argument
        assert argument["index"] == index and argument["position"] == {"line": 3, "character": 0}
    # Asked again for the same state (VS Code's next suggestion, Neovim's select): the same
    # alternatives, from the cache.
    generations = (await status(client))["generations"]
    again = await client.text_document_inline_completion_async(inline_params(uri, 3, 0, True))
    assert isinstance(again, types.InlineCompletionList)
    assert [item.insert_text for item in again.items] == texts
    assert (await status(client))["generations"] == generations


async def test_one_suggestion_when_alternatives_are_off(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(
        model=emit_model_factory("x\n"), init_options={"completion": {"suggestions": 1}}
    )
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "import os\n\n\n")
    items = await inline(client, uri, 3, 0)
    assert len(items) == 1 and plain_text(items[0]).startswith("x\nx\n")


async def test_a_range_only_where_nothing_follows_on_the_line(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    text = "y = \ntotal = f(1, 2, 3)\n"
    client = await start_server(model=emit_model_factory("x"), init_options=NO_PREFETCH)
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", text)
    (at_end,) = await inline(client, uri, 0, 4)
    cursor = types.Position(line=0, character=4)
    assert at_end.range == types.Range(start=cursor, end=cursor)
    mid_line = await inline(client, uri, 1, 13)  # after "f(1, "
    assert mid_line and all(item.range is None for item in mid_line)


async def test_the_rest_after_a_partial_accept_needs_no_model_call(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"), init_options=NO_PREFETCH)
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "value = \n")
    (shown,) = await inline(client, uri, 0, 8)
    assert shown.insert_text == "xxxxxx"
    before = await status(client)
    insert(client, uri, 2, 0, 8, "xx")  # the editor put in the part accepted
    assert await run(client, "sc2.partiallyAccepted", {**_argument(shown), "length": 2}) is None
    (rest,) = await inline(client, uri, 0, 10)
    after = await status(client)
    assert rest.insert_text == "xxxx"
    assert after["generations"] == before["generations"]
    assert after["cacheHits"] == before["cacheHits"] + 1


async def test_a_replayed_session_gives_exact_statistics_without_code(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    model = emit_model_factory("x")
    client = await start_server(model=model, init_options=NO_PREFETCH)
    await wait_for_model(client)
    marker = "tariff_for_zebra_7741"
    uri = open_document(client, tmp_path / "billing.py", f"def {marker}():\n    a = \n")
    (first,) = await inline(client, uri, 1, 8)  # shown, then accepted with Tab
    insert(client, uri, 2, 1, 8, plain_text(first))
    assert first.command is not None
    await run(client, first.command)
    await run(client, first.command)  # a client running it twice counts once
    (second,) = await inline(client, uri, 1, 14)  # shown after accepting: the model's answer
    insert(client, uri, 3, 1, 14, "xxx")
    await run(client, "sc2.partiallyAccepted", {**_argument(second), "length": 3})
    (rest,) = await inline(client, uri, 1, 17)  # what remains: the same suggestion
    assert rest.insert_text == "xxx"
    await client.shutdown_session()
    stats = json.loads((tmp_path / "state" / "stats.json").read_text())
    (entry,) = stats["entries"]
    assert (entry["language"], entry["model"]) == ("python", model.name)
    assert (entry["shown"], entry["accepted"], entry["partlyAccepted"]) == (2, 1, 1)
    assert entry["charsAccepted"] == 6 + 3
    assert len(entry["latenciesMs"]) == 2
    written = (tmp_path / "state" / "stats.json").read_text()
    assert marker not in written and "billing" not in written and "xxx" not in written


async def test_accept_signals_are_checked(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"))
    await wait_for_model(client)
    for command, argument in (
        ("sc2.accepted", "not an object"),
        ("sc2.accepted", {"id": 7, "index": 0}),
        ("sc2.accepted", {"id": "a1", "index": -1}),
        ("sc2.partiallyAccepted", {"id": "a1", "index": 0}),
        ("sc2.partiallyAccepted", {"id": "a1", "index": 0, "length": True}),
    ):
        with pytest.raises(JsonRpcInvalidParams):
            await run(client, command, argument)
    assert await run(client, "sc2.accepted", {"id": "a-unknown", "index": 0}) is None


async def test_statistics_switched_off_write_nothing(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(
        model=emit_model_factory("x"), init_options={"stats": {"enable": False}}
    )
    await wait_for_model(client)
    uri = open_document(client, tmp_path / "a.py", "value = \n")
    (shown,) = await inline(client, uri, 0, 8)
    assert shown.command is not None
    await run(client, shown.command)
    await client.shutdown_session()
    assert not (tmp_path / "state" / "stats.json").exists()


async def test_ai_ignored_files_get_no_completion_and_never_reach_a_prompt(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / ".aiignore").write_text("billing/\n")
    (tmp_path / "billing").mkdir()
    hidden = "def secret_rate_table():\n    return 7\n"
    (tmp_path / "billing" / "rates.py").write_text(hidden)
    (tmp_path / "shop.py").write_text("def visible_helper():\n    return 1\n")
    client = await start_server(
        model=emit_model_factory("x"),
        workspace=tmp_path,
        init_options={"completion": {"disabledGlobs": ["*.txt"]}},
    )
    await wait_for_model(client)
    ignored = open_document(client, tmp_path / "billing" / "rates.py", hidden)
    notes = open_document(client, tmp_path / "notes.txt", "todo: \n", "plaintext")
    main = "from billing.rates import secret_rate_table\nfrom shop import visible_helper\n\nx = "
    uri = open_document(client, tmp_path / "main.py", main)
    assert await inline(client, ignored, 1, 13) == []
    assert await inline(client, notes, 0, 6) == []
    refused = (await status(client))["refusedDocuments"]
    assert "ignored file" in refused[ignored] and "disabledGlobs" in refused[notes]
    assert await inline(client, uri, 3, 4)
    prompt = await last_prompt(client)
    assert "visible_helper():\n    return 1" in prompt  # repository context is on...
    assert "return 7" not in prompt  # ...and the ignored file is not in it


Cells = list[tuple[str, types.NotebookCellKind]]


def open_notebook(client: LanguageClient, path: Path, cells: Cells) -> list[str]:
    """Opens a Jupyter notebook as VS Code does; returns its cells' URIs."""
    notebook = path.as_uri()
    # As VS Code names cells: the notebook's path and a percent-encoded fragment.
    cell_uris = [
        f"vscode-notebook-cell:{notebook[5:]}#W{index}sZmlsZQ%3D%3D" for index in range(len(cells))
    ]
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=notebook,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[
                    types.NotebookCell(kind=kind, document=cell_uri)
                    for cell_uri, (_text, kind) in zip(cell_uris, cells, strict=True)
                ],
            ),
            cell_text_documents=[
                types.TextDocumentItem(
                    uri=cell_uri,
                    language_id="python" if kind == types.NotebookCellKind.Code else "markdown",
                    version=1,
                    text=text,
                )
                for cell_uri, (text, kind) in zip(cell_uris, cells, strict=True)
            ],
        )
    )
    return cell_uris


CELLS: Cells = [
    ("import numpy as np\nrates = np.array([1, 2])", types.NotebookCellKind.Code),
    ("Totals", types.NotebookCellKind.Markup),
    ("total = ", types.NotebookCellKind.Code),
    ("print(total)", types.NotebookCellKind.Code),
]


async def test_a_notebook_cell_is_completed_with_the_cells_around_it(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    client = await start_server(model=emit_model_factory("x"), init_options=NO_PREFETCH)
    await wait_for_model(client)
    notebook = tmp_path / "analysis.ipynb"
    cell_uris = open_notebook(client, notebook, CELLS)
    (item,) = await inline(client, cell_uris[2], 0, 8)
    assert item.insert_text == "xxxxxx"
    assert item.range == types.Range(
        start=types.Position(line=0, character=8), end=types.Position(line=0, character=8)
    )
    prompt = await last_prompt(client)
    prefix, suffix = prompt.split("<fim_suffix>")
    assert prefix.endswith(
        "analysis.ipynb\n# %%\nimport numpy as np\nrates = np.array([1, 2])\n\n"
        "# %% [markdown]\n# Totals\n\n# %%\ntotal ="  # the trailing space healed
    )
    # The following cells: the far part of the suffix, shown before the notebook's FIM part.
    assert suffix == "\n<fim_middle>"
    assert "<file_sep>analysis.ipynb\n\n# %%\nprint(total)" in prompt.split("<fim_prefix>")[0]
    assert await inline(client, cell_uris[1], 0, 3) == []  # markdown cells get nothing
    # An edit in the first cell reaches the next prompt.
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(
                uri=notebook.as_uri(), version=2
            ),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(
                                uri=cell_uris[0], version=2
                            ),
                            changes=[
                                types.TextDocumentContentChangeWholeDocument(
                                    text="import pandas as pd"
                                )
                            ],
                        )
                    ]
                )
            ),
        )
    )
    assert await inline(client, cell_uris[2], 0, 8)
    prompt = await last_prompt(client)
    assert "import pandas as pd" in prompt and "numpy" not in prompt


async def test_an_ignored_notebook_gets_nothing_and_a_stray_change_breaks_nothing(
    start_server: Start, emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / ".aiignore").write_text("private/\n")
    (tmp_path / "private").mkdir()
    client = await start_server(model=emit_model_factory("x"), workspace=tmp_path)
    await wait_for_model(client)
    hidden = tmp_path / "private" / "secret.ipynb"
    cell_uris = open_notebook(client, hidden, CELLS)
    assert await inline(client, cell_uris[2], 0, 8) == []
    assert "ignored file" in (await status(client))["refusedDocuments"][hidden.as_uri()]
    # A change to a notebook that was never opened is dropped; the server goes on.
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(
                uri=(tmp_path / "never.ipynb").as_uri(), version=2
            ),
            change=types.NotebookDocumentChangeEvent(),
        )
    )
    uri = open_document(client, tmp_path / "a.py", "value = \n")
    assert await inline(client, uri, 0, 8)


def _argument(item: types.InlineCompletionItem) -> dict[str, Any]:
    assert item.command is not None and item.command.arguments
    argument = item.command.arguments[0]
    assert isinstance(argument, dict), argument
    return argument
