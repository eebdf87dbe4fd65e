"""Messages at the edge of the protocol, over raw stdio: names the server uses inside, params
of the wrong JSON type, and notifications sent with an id. Each message with an id gets
exactly one answer, with that id; nothing refused is applied.

One server (emit-'x' model) serves the whole module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import FAST, Figures, LspProcess

pytestmark = [pytest.mark.e2e, pytest.mark.model]

INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32600, -32601, -32602, -32603


@pytest.fixture(scope="module")
def server(
    emit_model_factory: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LspProcess]:
    process = LspProcess(tmp_path_factory.mktemp("messages"), model=emit_model_factory("x"))
    process.initialize(tmp_path_factory.mktemp("messages-ws"), FAST)
    process.wait_model()
    yield process
    assert process.shutdown() == 0
    assert not process.duplicates, process.duplicates
    assert not process.null_id_errors, process.null_id_errors


def answer_to(server: LspProcess, method: str, params: Any, msg_id: int | str) -> dict[str, Any]:
    return server.wait(server.request(method, params, msg_id))


def error_of(answer: dict[str, Any]) -> tuple[int, str]:
    assert "error" in answer, answer
    return answer["error"]["code"], answer["error"]["message"]


def test_a_method_named_like_an_internal_marker_is_answered_with_its_own_id(
    server: LspProcess, tmp_path: Path, figures: Figures
) -> None:
    """Until the markers became a Python type, `$/sc2/invalidParams` was routed as one."""
    cases: list[tuple[int | str, dict[str, Any] | None]] = [
        (9001, {"id": 7, "method": "textDocument/completion"}),
        ("marker-string-id", {"id": "x", "method": "initialize"}),
        (9002, None),
    ]
    for msg_id, params in cases:
        answer = answer_to(server, "$/sc2/invalidParams", params, msg_id)
        assert answer["id"] == msg_id
        assert error_of(answer)[0] == METHOD_NOT_FOUND
    assert 7 not in server.responses and "x" not in server.responses
    server.assert_completion_works(tmp_path)
    figures.add("bad_input_cases", "requests named like internal markers")


@pytest.mark.parametrize("language_id", [1, True, None, 2.5, ["python"], {"id": "python"}])
def test_a_language_id_of_the_wrong_type_does_not_open_the_document(
    server: LspProcess, tmp_path: Path, figures: Figures, language_id: Any
) -> None:
    """A `languageId` of 1 used to open a document every completion then failed on."""
    uri = (tmp_path / f"typed-{server.next_id()}.py").as_uri()
    document = {"uri": uri, "languageId": language_id, "version": 1, "text": "value = \n"}
    server.notify("textDocument/didOpen", {"textDocument": document})
    answer = server.wait(server.inline_id(uri, 0, 8))
    assert answer.get("result") == {"items": []}, answer  # never opened, never poisoned
    server.open(uri, "value = \n")  # the same document, well typed, opens and completes
    assert server.inline(uri, 0, 8)[:1] == ["xxxxxx"]
    figures.add("bad_input_cases", "didOpen with a languageId that is not a string")


def test_every_field_of_the_wrong_type_gets_invalid_params_naming_it(
    server: LspProcess, tmp_path: Path, figures: Figures
) -> None:
    """cattrs turned "3" into 3, 1.5 into 1 and 5 into "5"; each is refused, by path."""
    uri = server.open((tmp_path / "fields.py").as_uri(), "value = \n")
    good: dict[str, dict[str, Any]] = {
        "textDocument": {"uri": uri},
        "position": {"line": 0, "character": 8},
        "context": {"triggerKind": 1},
    }
    wrong = [
        (("textDocument", "uri"), 5, "params.textDocument.uri: expected string, got integer"),
        (("position", "line"), "0", "params.position.line: expected integer, got string"),
        (("position", "character"), 1.5, "params.position.character: expected integer"),
        (("position", "line"), True, "params.position.line: expected integer, got boolean"),
        (("context", "triggerKind"), True, "params.context.triggerKind: expected one of 1, 2"),
        (("context",), [], "params.context: expected object, got array"),
    ]
    for path, value, reason in wrong:
        params = {key: dict(part) for key, part in good.items()}
        target: Any = params
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        code, message = error_of(
            server.wait(server.request("textDocument/inlineCompletion", params))
        )
        assert code == INVALID_PARAMS and reason in message, message
    assert server.call("textDocument/inlineCompletion", good)["items"]  # the good one works
    figures.add("bad_input_cases", "params of the wrong JSON type in any field")


NOTIFICATIONS_WITH_IDS: list[tuple[str, Any]] = [
    ("initialized", {}),
    ("$/setTrace", {"value": "verbose"}),
    ("$/cancelRequest", {"id": 1}),
    ("workspace/didChangeConfiguration", {"settings": {"sc2": {"completion": {"enable": False}}}}),
    ("textDocument/didSave", {"textDocument": {"uri": "file:///saved.py"}}),
    ("exit", None),
]


@pytest.mark.parametrize(("method", "params"), NOTIFICATIONS_WITH_IDS)
def test_a_notification_sent_with_an_id_is_answered_and_not_applied(
    server: LspProcess, tmp_path: Path, figures: Figures, method: str, params: Any
) -> None:
    msg_id = f"notification-{method}"
    answer = answer_to(server, method, params, msg_id)
    code, message = error_of(answer)
    assert code == INVALID_REQUEST and "is a notification" in message, answer
    assert server.alive(), server.tail()  # `exit` with an id did not end the process
    server.assert_completion_works(tmp_path)  # and completions were not switched off
    figures.add("bad_input_cases", "notifications sent with an id")


def test_a_did_open_sent_with_an_id_opens_nothing(server: LspProcess, tmp_path: Path) -> None:
    uri = (tmp_path / "open-with-id.py").as_uri()
    document = {"uri": uri, "languageId": "python", "version": 1, "text": "value = \n"}
    answer = answer_to(server, "textDocument/didOpen", {"textDocument": document}, 9100)
    assert error_of(answer)[0] == INVALID_REQUEST
    assert server.call("textDocument/inlineCompletion", inline_params(uri)) == {"items": []}


def inline_params(uri: str) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": 0, "character": 8},
        "context": {"triggerKind": 1},
    }
