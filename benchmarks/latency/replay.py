"""The client side: a pygls client replaying the session over LSP stdio, like an editor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.latency.layout import ANSWER_TIMEOUT_S, MAIN_FILE, OPEN_TABS, SESSION_ROOT
from benchmarks.latency.script import ANCHOR_A, Step

# -- client side: the replay ---------------------------------------------------------------------

RequestKind = Literal["open", "type", "delete", "type_along", "accept_continue"]


@dataclass
class Sent:
    id: str
    kind: RequestKind
    keystroke: int
    version: int
    offset: int
    line: int
    character: int
    sent: float
    answered: float | None = None
    outcome: str = "pending"  # result | empty | cancelled | error
    insert_text: str | None = None
    cancel_sent: bool = False
    error: str | None = None

    @property
    def latency_ms(self) -> float | None:
        return None if self.answered is None else (self.answered - self.sent) * 1000


@dataclass
class ReplayLog:
    requests: list[Sent] = field(default_factory=list)
    statuses: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    pause_waits_s: list[float] = field(default_factory=list)
    accepts: int = 0
    accepts_skipped: int = 0
    typed_along: int = 0
    keystrokes: int = 0
    final_text: str = ""
    final_status: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    rss_mib: dict[str, float] = field(default_factory=dict)
    """At the end of the session: the language server process, and its engine process if any."""


def position_of(text: str, offset: int) -> tuple[int, int]:
    """(line, character) in code points: the client negotiates utf-32 positions."""
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


class Replay:
    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        options: dict[str, Any],
        stderr_path: Path,
        seed: int,
    ) -> None:
        self.command = command
        self.env = env
        self.options = options
        self.stderr_path = stderr_path
        self.rng = random.Random(seed)
        self.log = ReplayLog()
        self.text = ""
        self.offset = 0
        self.version = 0
        self.uri = ""
        self.futures: dict[str, asyncio.Future[Any]] = {}
        self.last: Sent | None = None
        self._ids = 0

    async def run(self, script: Sequence[Step]) -> ReplayLog:
        from lsprotocol import types
        from pygls.lsp.client import LanguageClient

        client = LanguageClient("sc2-latency-replay", "1")

        # pygls leaves JsonRPCClient.feature and JsonRPCClient.stop unannotated.
        @client.feature("sc2/status")  # type: ignore[untyped-decorator]
        def on_status(_ls: Any, params: Any) -> None:
            self.log.statuses.append((time.monotonic(), _plain(params)))

        @client.feature(types.WINDOW_SHOW_MESSAGE)  # type: ignore[untyped-decorator]
        def on_message(_ls: Any, params: types.ShowMessageParams) -> None:
            self.log.messages.append(params.message)

        @client.feature(types.WINDOW_LOG_MESSAGE)  # type: ignore[untyped-decorator]
        def on_log(_ls: Any, params: types.LogMessageParams) -> None:
            self.log.messages.append(params.message)

        await client.start_io(*self.command, env=self.env)
        server = client._server  # drained here because pygls pipes stderr and never reads it
        drain = asyncio.ensure_future(self._drain(server.stderr if server else None))
        try:
            await self._session(client, script)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.shutdown_async(None), 30)
                client.exit(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.stop(), 30)  # type: ignore[no-untyped-call]
            drain.cancel()
        return self.log

    async def _drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        with self.stderr_path.open("ab") as sink:
            while chunk := await stream.read(65536):
                sink.write(chunk)
                sink.flush()

    async def _session(self, client: Any, script: Sequence[Step]) -> None:
        from lsprotocol import types

        root = SESSION_ROOT
        result = await client.initialize_async(
            types.InitializeParams(
                process_id=os.getpid(),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                capabilities=types.ClientCapabilities(
                    general=types.GeneralClientCapabilities(
                        position_encodings=[types.PositionEncodingKind.Utf32]
                    ),
                    text_document=types.TextDocumentClientCapabilities(
                        synchronization=types.TextDocumentSyncClientCapabilities(),
                        inline_completion=types.InlineCompletionClientCapabilities(),
                    ),
                    workspace=types.WorkspaceClientCapabilities(workspace_folders=True),
                ),
                initialization_options=self.options,
            )
        )
        encoding = result.capabilities.position_encoding
        if encoding != types.PositionEncodingKind.Utf32:
            raise RuntimeError(f"server chose position encoding {encoding}, replay needs utf-32")
        client.initialized(types.InitializedParams())
        await self._wait_ready(client)

        for name in OPEN_TABS:
            self._open(client, root / name)
        self.uri = self._open(client, root / MAIN_FILE)
        await self._wait_index_settled(client)
        self.text = (root / MAIN_FILE).read_text(encoding="utf-8")
        self.version = 1
        self.offset = self.text.index(ANCHOR_A) + len(ANCHOR_A)
        # The first completion after opening evaluates the whole prompt: measured apart (cold).
        self._request(client, "open", invoked=True)
        await self._wait_answer()
        self.log.started = time.monotonic()
        for step in script:
            await self._step(client, step)
        await self._wait_answer()
        pending = [f for f in self.futures.values() if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=ANSWER_TIMEOUT_S)
        self.log.finished = time.monotonic()
        self.log.final_text = self.text
        self.log.final_status = await self._status(client)
        server = client._server
        if server is not None:
            self.log.rss_mib = process_rss_mib(server.pid)

    async def _wait_ready(self, client: Any) -> None:
        deadline = time.monotonic() + 600
        while True:
            status = await self._status(client)
            model = status.get("model", {}).get("state")
            index = status.get("index", {}).get("state")
            if model == "failed":
                raise RuntimeError(f"model failed to load: {status['model'].get('error')}")
            if model == "ready" and index in ("ready", "off", "no workspace", None):
                await self._wait_index_settled(client)
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"server never became ready: {status}")
            await asyncio.sleep(0.1)

    async def _wait_index_settled(self, client: Any, quiet_s: float = 1.0) -> None:
        """Until the index stops changing: what the first prompt gets must not depend on how far
        background parsing happened to be (it changed the first prompt between runs)."""
        deadline = time.monotonic() + 60
        last: Any = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            index = (await self._status(client)).get("index", {})
            current = (index.get("files"), index.get("parsed_files"), index.get("definitions"))
            if current != last:
                last, since = current, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            await asyncio.sleep(0.1)

    async def _status(self, client: Any) -> dict[str, Any]:
        from lsprotocol import types

        answer = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sc2.status")
        )
        return _plain(answer)

    def _open(self, client: Any, path: Path) -> str:
        from lsprotocol import types

        uri = path.as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri,
                    language_id="python",
                    version=1,
                    text=path.read_text(encoding="utf-8"),
                )
            )
        )
        return uri

    async def _think(self, low: float = 1 / 12, high: float = 1 / 8) -> None:
        await asyncio.sleep(self.rng.uniform(low, high))

    async def _step(self, client: Any, step: Step) -> None:
        if step.kind == "type":
            await self._think()
            self._edit(client, self.offset, self.offset, step.text)
            self._keystroke(client, "type")
        elif step.kind == "backspace":
            for _ in range(step.count):
                await self._think()
                self._edit(client, self.offset - 1, self.offset, "")
                self._keystroke(client, "delete")
        elif step.kind == "delete_word":
            await self._think()
            start = self.offset
            while start > 0 and (self.text[start - 1].isalnum() or self.text[start - 1] == "_"):
                start -= 1
            self._edit(client, start, self.offset, "")
            self._keystroke(client, "delete")
        elif step.kind == "pause":
            started = time.monotonic()
            await asyncio.sleep(step.seconds)
            await self._wait_answer()
            self.log.pause_waits_s.append(time.monotonic() - started - step.seconds)
        elif step.kind == "jump":
            await self._think(0.4, 0.8)
            # The anchor may span lines to be unique; the cursor lands at its first line's end.
            self.offset = self.text.index(step.text) + len(step.text.split("\n", 1)[0])
        elif step.kind == "accept":
            await self._wait_answer()
            shown = self._shown()
            if not shown:
                self.log.accepts_skipped += 1
                return
            await self._think(0.15, 0.3)
            self.log.accepts += 1
            self._edit(client, self.offset, self.offset, shown)
            self._keystroke(client, "accept_continue")
        elif step.kind == "type_along":
            await self._wait_answer()
            shown = self._shown() or ""
            for char in shown[: step.count]:
                await self._think()
                self.log.typed_along += 1
                self._edit(client, self.offset, self.offset, char)
                self._keystroke(client, "type_along")

    def _shown(self) -> str | None:
        """The ghost text on screen: the last answer, if it is for the current document state."""
        last = self.last
        if last is None or last.outcome != "result" or not last.insert_text:
            return None
        if last.version != self.version or last.offset != self.offset:
            return None
        return last.insert_text

    def _edit(self, client: Any, start: int, end: int, new_text: str) -> None:
        from lsprotocol import types

        start_line, start_char = position_of(self.text, start)
        end_line, end_char = position_of(self.text, end)
        self.text = self.text[:start] + new_text + self.text[end:]
        self.offset = start + len(new_text)
        self.version += 1
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=start_line, character=start_char),
                            end=types.Position(line=end_line, character=end_char),
                        ),
                        text=new_text,
                    )
                ],
            )
        )

    def _keystroke(self, client: Any, kind: RequestKind) -> None:
        self.log.keystrokes += 1
        self._request(client, kind)

    def _request(self, client: Any, kind: RequestKind, invoked: bool = False) -> None:
        from lsprotocol import types

        previous = self.last
        if previous is not None and previous.answered is None:
            # What VS Code does when a newer inline-completion request supersedes one.
            previous.cancel_sent = True
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=previous.id))
        self._ids += 1
        line, character = position_of(self.text, self.offset)
        sent = Sent(
            id=f"req-{self._ids}",
            kind=kind,
            keystroke=self.log.keystrokes,
            version=self.version,
            offset=self.offset,
            line=line,
            character=character,
            sent=time.monotonic(),
        )
        trigger = (
            types.InlineCompletionTriggerKind.Invoked
            if invoked
            else types.InlineCompletionTriggerKind.Automatic
        )
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=trigger),
        )
        future = client.protocol.send_request(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=sent.id
        )
        future.add_done_callback(lambda done, sent=sent: self._answered(sent, done))
        wrapped = asyncio.wrap_future(future)
        wrapped.add_done_callback(lambda done: done.cancelled() or done.exception())
        self.futures[sent.id] = wrapped
        self.log.requests.append(sent)
        self.last = sent

    def _answered(self, sent: Sent, future: Any) -> None:
        sent.answered = time.monotonic()
        error = future.exception()
        if error is not None:
            cancelled = "cancel" in f"{type(error).__name__} {error}".lower()
            sent.outcome = "cancelled" if cancelled else "error"
            sent.error = f"{type(error).__name__}: {error}"
            return
        items = getattr(future.result(), "items", None) or []
        text = items[0].insert_text if items else None
        text = text if isinstance(text, str) else getattr(text, "value", None)
        sent.insert_text = text
        sent.outcome = "result" if text else "empty"

    async def _wait_answer(self) -> None:
        last = self.last
        if last is None:
            return
        future = self.futures[last.id]
        if not future.done():
            await asyncio.wait([future], timeout=ANSWER_TIMEOUT_S)


def _plain(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        from pygls.protocol import default_converter  # unannotated in pygls

        converted = default_converter().unstructure(value)  # type: ignore[no-untyped-call]
        return converted if isinstance(converted, dict) else {}
    except Exception:
        return dict(getattr(value, "__dict__", {}))


def process_rss_mib(pid: int) -> dict[str, float]:
    """Resident memory of `pid` and of each of its children (Linux /proc; empty elsewhere)."""
    found: dict[str, float] = {}

    def rss(process: int) -> float | None:
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return None

    if (own := rss(pid)) is not None:
        found["server"] = own
    for index, child in enumerate(_children(pid)):
        if (value := rss(child)) is not None:
            found[f"child_{index}" if index else "engine"] = value
    return found


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc/*/stat, which every Linux has)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)
