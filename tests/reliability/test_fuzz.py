"""Property-based protocol fuzzing: generated LSP traffic through the real server over stdio.

One long-lived server (emit-'x' model) takes sequences of valid-ish and invalid messages:
didOpen / didChange (ranges anywhere, overlapping, reversed) / didClose, inline and popup
completions at any position, commands, cancellations, configuration pushes, unknown methods,
wrong param types and raw garbage (broken JSON, bytes that are not UTF-8, lone surrogates).
Derived targets (tests/reliability/fuzz_targets.py) add the server's own method, command and
internal names, every LSP method's params with one field of a wrong JSON type, and
notification methods sent with an id.
The property: the process never dies, every request id sent gets exactly one answer — a
result or a JSON-RPC error (RequestCancelled counts) — and none is an InternalError (a
document poisoned by a wrongly typed field shows up as one). At the end a normal completion
works.

The quick run (normal set) sends ~1,200 messages; the slow run at least 10,000.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import FAST, Figures, LspProcess, encode, frame
from tests.reliability.fuzz_targets import (
    notification_with_id,
    own_method_message,
    wrong_type_message,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

MESSAGES_PER_EXAMPLE = 40
INTERNAL_ERROR = -32603

# -- strategies ---------------------------------------------------------------------------------

ODD_CHARS = ["\ud83d", "\ude00", "😀", "\r", "\n", "\x00", "\x0c", "\u2028", "\x85", "é", "\t"]
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abc xyz=():.\n\"'#{}[]0123456789_")),
        st.sampled_from(ODD_CHARS),
        st.characters(),
    ),
    max_size=160,
)
small = st.integers(min_value=0, max_value=12)
position_numbers = st.one_of(
    small, small, small, st.integers(min_value=-3, max_value=2**31 + 3), st.just(2**31 - 1)
)
positions = st.fixed_dictionaries({"line": position_numbers, "character": position_numbers})
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["uri", "text", "line", "id", "x", "jsonrpc"]), children, max_size=3
        )
    ),
    max_leaves=8,
)
languages = st.sampled_from(
    ["python", "javascript", "rust", "c", "plaintext", "markdown", "", "??"]
)
setting_values = st.fixed_dictionaries(
    {},
    optional={
        "completion": st.fixed_dictionaries(
            {},
            optional={
                "maxTokensLine": st.one_of(st.integers(1, 8), st.just("lots"), st.just(-4)),
                "maxTokens": st.integers(1, 8),
                "multiline": st.sampled_from(["auto", "never", "always", "sometimes"]),
                "temperature": st.one_of(st.just(0.0), st.floats(0, 1)),
                "cache": st.booleans(),
                "prefetch": st.booleans(),
                "enable": st.booleans(),
                "disabledLanguages": st.one_of(st.lists(languages, max_size=2), st.just("python")),
                "bogusKey": st.integers(),
            },
        ),
        "prompt": st.fixed_dictionaries(
            {},
            optional={
                "suffixTokens": st.integers(0, 300),
                "fimOrder": st.sampled_from(["psm", "spm", "x"]),
            },
        ),
        "repository": st.fixed_dictionaries({}, optional={"enabled": st.booleans()}),
        "logLevel": st.sampled_from(["info", "debug", "loud"]),
    },
)


@st.composite
def messages(draw: st.DrawFn, uris: list[str]) -> tuple[str, Any]:
    """One message to send: (kind, payload). Request ids are filled in when sent."""
    uri = draw(st.one_of(st.sampled_from(uris), st.sampled_from(uris), texts))
    kind = draw(
        st.sampled_from(
            [
                "open",
                "open",
                "change",
                "change",
                "change",
                "close",
                "inline",
                "inline",
                "inline",
                "completion",
                "completion",
                "command",
                "cancel",
                "config",
                "unknown",
                "badparams",
                "garbage",
                "notify-bad",
                "own",
                "own",
                "wrong-type",
                "wrong-type",
                "notify-with-id",
            ]
        )
    )
    if kind == "own":
        return kind, draw(own_method_message(uris, json_values))
    if kind == "wrong-type":
        return kind, draw(wrong_type_message(uris))
    if kind == "notify-with-id":
        return kind, draw(notification_with_id(uris))
    if kind == "open":
        document = {
            "uri": uri,
            "languageId": draw(languages),
            "version": draw(small),
            "text": draw(texts),
        }
        return kind, {"textDocument": document}
    if kind == "change":
        changes = draw(
            st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "range": st.fixed_dictionaries({"start": positions, "end": positions}),
                            "text": texts,
                        }
                    ),
                    st.fixed_dictionaries({"text": texts}),
                ),
                min_size=0,
                max_size=4,
            )
        )
        version = draw(st.integers(-2, 40))
        return kind, {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}
    if kind == "close":
        return kind, {"textDocument": {"uri": uri}}
    if kind in ("inline", "completion"):
        params: dict[str, Any] = {"textDocument": {"uri": uri}, "position": draw(positions)}
        if kind == "inline":
            params["context"] = {"triggerKind": draw(st.sampled_from([1, 2, 1, 2, 0, 7]))}
        elif draw(st.booleans()):
            params["context"] = {
                "triggerKind": draw(st.sampled_from([1, 2, 3])),
                "triggerCharacter": ".",
            }
        return kind, params
    if kind == "command":
        command = draw(st.sampled_from(["sc2.status", "sc2.lastPrompt", "sc2.nope", ""]))
        return kind, {"command": command, "arguments": draw(st.lists(json_values, max_size=2))}
    if kind == "cancel":
        return kind, draw(st.integers(0, 60))  # how far back to look for an id to cancel
    if kind == "config":
        return kind, {"settings": {"sc2": draw(setting_values)}}
    if kind == "unknown":
        return kind, draw(
            st.sampled_from(["foo/bar", "textDocument/hover", "$/x", "workspace/symbol"])
        )
    if kind == "badparams":
        method = draw(
            st.sampled_from(
                [
                    "textDocument/inlineCompletion",
                    "textDocument/completion",
                    "workspace/executeCommand",
                    "initialize",
                ]
            )
        )
        return kind, (method, draw(json_values))
    if kind == "notify-bad":
        method = draw(
            st.sampled_from(
                [
                    "textDocument/didOpen",
                    "textDocument/didChange",
                    "textDocument/didClose",
                    "workspace/didChangeConfiguration",
                    "$/cancelRequest",
                    "workspace/didChangeWatchedFiles",
                ]
            )
        )
        return kind, (method, draw(json_values))
    garbage = draw(
        st.one_of(
            st.binary(max_size=40),
            texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
            json_values.map(lambda value: encode(value)),
            st.just(b'{"jsonrpc": "2.0", "id": '),
            st.just(b'{"jsonrpc": "1.0", "method": "x"}'),
        )
    )
    return "garbage", garbage


# -- driver -------------------------------------------------------------------------------------


@dataclass
class Tally:
    messages: int = 0
    requests: int = 0
    cancels: int = 0
    garbage: int = 0
    derived: dict[str, int] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)
    results: int = 0
    seconds: float = 0.0
    sent_ids: set[Any] = field(default_factory=set)


NOTIFICATION_KINDS = {
    "open": "textDocument/didOpen",
    "change": "textDocument/didChange",
    "close": "textDocument/didClose",
    "config": "workspace/didChangeConfiguration",
}
DERIVED_KINDS = ("own", "wrong-type", "notify-with-id")


def send_all(server: LspProcess, batch: list[tuple[str, Any]], tally: Tally) -> list[Any]:
    """Send one generated sequence; returns the request ids that must be answered."""
    ids: list[Any] = []
    for kind, payload in batch:
        tally.messages += 1
        msg_id = send_one(server, kind, payload, ids, tally)
        if msg_id is not None:
            tally.requests += 1
            tally.sent_ids.add(msg_id)
            ids.append(msg_id)
    return ids


def send_one(server: LspProcess, kind: str, payload: Any, ids: list[Any], tally: Tally) -> Any:
    """Send one generated message; returns its id when it carries one."""
    if kind == "garbage":
        tally.garbage += 1
        server.send_raw(frame(payload))
        return None
    if kind in NOTIFICATION_KINDS:
        server.notify(NOTIFICATION_KINDS[kind], payload)
        return None
    if kind == "notify-bad":
        server.notify(*payload)
        return None
    if kind == "cancel":
        tally.cancels += 1
        target = ids[-1 - payload] if payload < len(ids) else f"unknown-{payload}"
        server.notify("$/cancelRequest", {"id": target})
        return None
    if kind in DERIVED_KINDS:
        tally.derived[kind] = tally.derived.get(kind, 0) + 1
        method, params, with_id = payload
        if not with_id:
            server.notify(method, params)
            return None
    else:
        method, params = request_of(kind, payload)
    msg_id: Any = server.next_id()
    if msg_id % 3 == 0:
        msg_id = f"s-{msg_id}"  # string ids too
    server.request(method, params, msg_id)
    return msg_id


def request_of(kind: str, payload: Any) -> tuple[str, Any]:
    if kind == "inline":
        return "textDocument/inlineCompletion", payload
    if kind == "completion":
        return "textDocument/completion", payload
    if kind == "command":
        return "workspace/executeCommand", payload
    if kind == "unknown":
        position = {"line": 0, "character": 0}
        return payload, {"textDocument": {"uri": "file:///x"}, "position": position}
    assert kind == "badparams", kind
    method, params = payload
    return method, params


def collect(server: LspProcess, ids: list[Any], tally: Tally) -> None:
    for msg_id in ids:
        answer = server.wait(msg_id, timeout=30)
        assert answer.get("jsonrpc") == "2.0" and ("result" in answer) != ("error" in answer), (
            answer
        )
        if "error" in answer:
            code = answer["error"]["code"]
            assert isinstance(code, int) and isinstance(answer["error"]["message"], str)
            assert code != INTERNAL_ERROR, (answer, server.tail())
            tally.errors[code] = tally.errors.get(code, 0) + 1
        else:
            tally.results += 1
    assert server.alive(), server.tail()


def fuzz(server: LspProcess, uris: list[str], target: int) -> Tally:
    tally = Tally()
    examples = target // MESSAGES_PER_EXAMPLE + 1

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # the server is stateful: shrinking replays are not faithful
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(st.lists(messages(uris), min_size=MESSAGES_PER_EXAMPLE, max_size=MESSAGES_PER_EXAMPLE))
    def one_sequence(batch: list[tuple[str, Any]]) -> None:
        collect(server, send_all(server, batch, tally), tally)

    started = time.monotonic()
    while tally.messages < target:
        one_sequence()
    tally.seconds = time.monotonic() - started
    return tally


@pytest.fixture
def fuzz_server(
    emit_model_factory: Callable[[str], Path], tmp_path: Path
) -> Iterator[tuple[LspProcess, list[str], Path]]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "util.py").write_text("def helper(a, b):\n    return a + b\n")
    server = LspProcess(tmp_path, model=emit_model_factory("x"))
    server.transcript = (tmp_path / "transcript.lsp").open("wb")
    server.initialize(workspace, FAST)
    server.wait_model()
    uris = [
        (workspace / "a.py").as_uri(),
        (workspace / "b.js").as_uri(),
        (workspace / "util.py").as_uri(),
        (workspace / "with space.py").as_uri(),
        "untitled:Untitled-1",
        "file:///etc/../tmp/outside.py",
    ]
    yield server, uris, workspace
    server.close()


def run_and_check(
    fuzz_server: tuple[LspProcess, list[str], Path], target: int, figures: Figures, label: str
) -> None:
    server, uris, workspace = fuzz_server
    tally = fuzz(server, uris, target)
    # Every id we sent was answered exactly once, and nothing else was answered.
    assert not server.duplicates, server.duplicates[:3]
    assert tally.sent_ids <= set(server.responses), tally.sent_ids - set(server.responses)
    assert set(server.responses) <= server.sent_ids, set(server.responses) - server.sent_ids
    # Back to known settings: a normal completion still works, and the server shuts down cleanly.
    server.notify("workspace/didChangeConfiguration", {"settings": {"sc2": FAST}})
    server.assert_completion_works(workspace)
    assert server.alive()
    assert server.shutdown() == 0
    rate = tally.messages / tally.seconds
    figures.record(
        f"fuzz_{label}",
        {
            "messages": tally.messages,
            "requests": tally.requests,
            "answered": tally.results + sum(tally.errors.values()),
            "unanswered": 0,
            "crashes": 0,
            "results": tally.results,
            "errors_by_code": {str(code): count for code, count in sorted(tally.errors.items())},
            "cancel_notifications": tally.cancels,
            "garbage_frames": tally.garbage,
            "own_name_messages": tally.derived.get("own", 0),
            "wrong_type_messages": tally.derived.get("wrong-type", 0),
            "notifications_with_ids": tally.derived.get("notify-with-id", 0),
            "seconds": round(tally.seconds, 1),
            "messages_per_second": round(rate, 1),
        },
    )
    assert tally.messages >= target
    print(json.dumps({"messages": tally.messages, "per_second": round(rate, 1)}))


def test_fuzz_quick(fuzz_server: tuple[LspProcess, list[str], Path], figures: Figures) -> None:
    run_and_check(fuzz_server, 1_200, figures, "quick")


@pytest.mark.slow
def test_fuzz_10k_messages(
    fuzz_server: tuple[LspProcess, list[str], Path], figures: Figures
) -> None:
    run_and_check(fuzz_server, 10_000, figures, "10k")
