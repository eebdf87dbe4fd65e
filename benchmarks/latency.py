"""Keystroke latency of the real server over LSP stdio, next to the ideal floor and naive baselines.

Owns the end-to-end typing-session replay (issue 4 item 7) and its results
(`benchmarks/results/latency.{json,md}`). One run, one process, one after the other:

1. **ours**: `sc2-lsp --stdio` is started with a timing probe (this file with `--serve`: the
   real CLI, plus hooks that log every engine job, every `LlamaModel.generate` with its exact
   prompt token ids, and every `llama_decode` to a JSONL file). A pygls client replays a
   scripted session on `latency_session/pygls/workspace/text_document.py` (real third-party
   code with its neighbours): characters typed one by one at 8-12 chars/s with incremental
   `didChange` + `textDocument/inlineCompletion` per keystroke, pauses, Tab-accepts followed
   by a new request at the new cursor (accept-then-continue), typing along a shown suggestion,
   backspaces, a word deletion and a jump to a function far away. Like an editor, a request
   still outstanding when the next keystroke arrives is cancelled with `$/cancelRequest`; every
   request must still get an answer. Pauses last their scripted time *and* until the last
   request is answered (the user waits for the ghost text), so on a slow CPU the typing bursts
   are real-time and mostly cancelled while every pause yields one measured completion.
2. **ideal floor**: the prompts that served answers, replayed in order in-process with
   llama-cpp-python on the same GGUF and thread count, reusing the KV cache of the longest
   common prefix with the previous prompt, generating the same number of tokens.
3. **naive**: a fresh KV cache for every prompt (full prompt evaluation) plus the same
   generation; measured on a sample of the prompts and extrapolated per prompt token.
4. **llama-server** (optional, when built under `benchmarks/.work/`): the same prompts as
   `/infill` requests with `cache_prompt` against `llama-server --cache-reuse 256`.

    python benchmarks/latency.py            # 3B-shaped Q4_K_M model, 91 keystrokes
    python benchmarks/latency.py --quick    # small real-vocab model, 32 keystrokes
    python benchmarks/latency.py --reanalyze benchmarks/results/latency.json  # no rerun
    python benchmarks/latency.py --render benchmarks/results/latency.json     # .md only
    SC2_PROFILE=/tmp/server.prof python benchmarks/latency.py --quick  # cProfile the server

On a CPU the replay is dominated by prompt evaluation (a 500-token prompt is ~40-150 s on two
busy cores), so the defaults keep prompts at 512 tokens (prefix 192, suffix 48, the rest
repository context): the same proportions as the product's 3072/1024/256, a third the size.
The cores are shared: compare phases by prompt tokens evaluated as well as by milliseconds
(the report shows the prompt tokens/s each phase saw).

Build the 3B-shaped model first with `benchmarks/make_model.py`; `--quick` writes its own
small model. The optional llama-server is built (never committed) from the pip sdist's
vendored llama.cpp into `benchmarks/.work/`:

    pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36 -d /tmp/sdist
    python benchmarks/latency.py --build-llama-server /tmp/sdist/llama_cpp_python-0.3.36.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sc2_lsp.engine.llama import common_prefix

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
SESSION_ROOT = BENCH / "latency_session"
MAIN_FILE = "pygls/workspace/text_document.py"
OPEN_TABS = ("pygls/workspace/position_codec.py",)
RESULTS = BENCH / "results"
WORK = BENCH / ".work"
FULL_MODEL = BENCH / ".models" / "sc2-3b-random-q4_k_m.gguf"
QUICK_MODEL = BENCH / ".models" / "sc2-quick-random-f16.gguf"
VOCAB = ROOT / "tests" / "data" / "starcoder2-vocab.gguf"
LLAMA_SERVER = WORK / "llama-build" / "bin" / "llama-server"
PROBE_ENV = "SC2_LATENCY_PROBE"
LOG_ENV = "SC2_LATENCY_SERVER_LOG"
N_CTX = 4096
N_BATCH = 512  # what sc2_lsp.engine.llama uses for n_ctx >= 512
ANSWER_TIMEOUT_S = 900.0


def log(message: str) -> None:
    print(f"[latency] {message}", file=sys.stderr, flush=True)


# -- server side: the real CLI with a timing probe ----------------------------------------------


def serve_with_probe(argv: list[str]) -> int:
    """Run `sc2-lsp` (same CLI, same code) with hooks that log engine work to $SC2_LATENCY_PROBE.

    Hooks observe, never change: EngineWorker jobs (wall time on the engine thread),
    `LlamaModel.generate` (prompt ids, result), llama_decode (tokens per batch), and the
    Completer's `prepare` (time), `_debounce_ms` (the wait it chose) and `_generate` (whether
    a generation is speculative). A hook whose target has moved is skipped and reported in the
    first record, never fatal.
    """
    if log_path := os.environ.get(LOG_ENV):
        descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(descriptor, 2)  # the client never drains stderr; a full pipe would block us
    sink = Path(os.environ[PROBE_ENV]).open("a", buffering=1)  # noqa: SIM115 (process lifetime)
    lock = threading.Lock()
    current = threading.local()

    def emit(record: dict[str, Any]) -> None:
        with lock:
            sink.write(json.dumps(record) + "\n")

    hooks: dict[str, bool] = {}
    from llama_cpp import _internals

    from sc2_lsp.engine import llama as engine_llama
    from sc2_lsp.engine import worker as engine_worker

    original_decode = getattr(_internals.LlamaContext, "decode", None)
    if original_decode is not None:

        def decode(self: Any, batch: Any) -> Any:
            size = int(batch.batch.n_tokens)
            started = time.monotonic()
            ok = False
            try:
                result = original_decode(self, batch)
                ok = True
                return result
            finally:
                row = [size, round(started, 6), round(time.monotonic() - started, 6), ok]
                generation = getattr(current, "generation", None)
                if generation is not None:
                    generation["decodes"].append(row)
                else:
                    emit({"type": "decode", "decode": row})

        _internals.LlamaContext.decode = decode
    hooks["llama_decode"] = original_decode is not None

    from sc2_lsp import completer as completer_module

    # A prompt list travels unchanged from Completer._generate through EngineWorker.generate to
    # LlamaModel.generate; its id tags the engine call as speculative (prefetch) or not.
    tags: dict[int, tuple[Any, bool]] = {}
    flags = {"speculative": False}
    Completer = completer_module.Completer
    original_request_generate = getattr(Completer, "_generate", None)
    if original_request_generate is not None:

        async def request_generate(self: Any, *args: Any, **kwargs: Any) -> Any:
            speculative = bool(kwargs.get("speculative", args[3] if len(args) > 3 else False))
            flags["speculative"] = speculative
            try:
                return await original_request_generate(self, *args, **kwargs)
            finally:
                flags["speculative"] = False

        Completer._generate = request_generate
    hooks["speculative_tag"] = original_request_generate is not None

    original_worker_generate = getattr(engine_worker.EngineWorker, "generate", None)
    if original_worker_generate is not None:

        def worker_generate(self: Any, prompt: Any, *args: Any, **kwargs: Any) -> Any:
            tags[id(prompt)] = (prompt, flags["speculative"])
            return original_worker_generate(self, prompt, *args, **kwargs)

        engine_worker.EngineWorker.generate = worker_generate  # type: ignore[method-assign]

    original_prepare = getattr(Completer, "prepare", None)
    if original_prepare is not None:

        def prepare(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return original_prepare(self, *args, **kwargs)
            finally:
                emit(
                    {
                        "type": "prepare",
                        "start": started,
                        "end": time.monotonic(),
                        "speculative": flags["speculative"],
                    }
                )

        Completer.prepare = prepare
    hooks["prepare"] = original_prepare is not None

    original_debounce = getattr(Completer, "_debounce_ms", None)
    if original_debounce is not None:

        def debounce(self: Any, *args: Any, **kwargs: Any) -> Any:
            delay = original_debounce(self, *args, **kwargs)
            emit({"type": "debounce", "at": time.monotonic(), "ms": float(delay)})
            return delay

        Completer._debounce_ms = debounce
    hooks["debounce"] = original_debounce is not None

    original_generate = getattr(engine_llama.LlamaModel, "generate", None)
    if original_generate is not None:

        def generate(self: Any, prompt: Sequence[int], *args: Any, **kwargs: Any) -> Any:
            params = args[0] if args else kwargs.get("params")
            tag = tags.pop(id(prompt), None)
            record: dict[str, Any] = {
                "type": "generate",
                "speculative": tag[1] if tag is not None and tag[0] is prompt else None,
                "start": time.monotonic(),
                "prompt": [int(token) for token in prompt],
                "kv_before": int(getattr(getattr(self, "llama", None), "n_tokens", -1)),
                "max_tokens": getattr(params, "max_tokens", None),
                "decodes": [],
            }
            current.generation = record
            result = None
            try:
                result = original_generate(self, prompt, *args, **kwargs)
                return result
            finally:
                current.generation = None
                record["end"] = time.monotonic()
                record["kv_after"] = int(getattr(getattr(self, "llama", None), "n_tokens", -1))
                for name in ("stop_reason", "n_prompt", "n_reused", "prompt_seconds"):
                    record[name] = getattr(result, name, None)
                record["generate_seconds"] = getattr(result, "generate_seconds", None)
                record["tokens"] = [int(t) for t in getattr(result, "tokens", []) or []]
                record["text"] = getattr(result, "text", None)
                emit(record)

        engine_llama.LlamaModel.generate = generate  # type: ignore[method-assign]
    hooks["generate"] = original_generate is not None

    original_submit = getattr(engine_worker.EngineWorker, "submit", None)
    if original_submit is not None:

        def submit(self: Any, job: Callable[[], Any]) -> Any:
            name = getattr(job, "__qualname__", type(job).__name__)

            def timed() -> Any:
                started = time.monotonic()
                try:
                    return job()
                finally:
                    emit({"type": "job", "name": name, "start": started, "end": time.monotonic()})

            return original_submit(self, timed)

        engine_worker.EngineWorker.submit = submit  # type: ignore[method-assign]
    hooks["engine_jobs"] = original_submit is not None
    from pygls.protocol.json_rpc import JsonRPCProtocol

    original_handle = getattr(JsonRPCProtocol, "_handle_request", None)
    original_respond = getattr(JsonRPCProtocol, "_send_response", None)
    if original_handle is not None and original_respond is not None:

        def handle_request(self: Any, msg_id: Any, method_name: str, params: Any) -> Any:
            emit({"type": "rpc_in", "id": msg_id, "method": method_name, "at": time.monotonic()})
            return original_handle(self, msg_id, method_name, params)

        def send_response(self: Any, msg_id: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original_respond(self, msg_id, *args, **kwargs)
            finally:
                emit({"type": "rpc_out", "id": msg_id, "at": time.monotonic()})

        JsonRPCProtocol._handle_request = handle_request  # type: ignore[method-assign]
        JsonRPCProtocol._send_response = send_response  # type: ignore[method-assign]
    hooks["rpc"] = original_handle is not None and original_respond is not None
    emit({"type": "probe", "hooks": hooks, "pid": os.getpid()})

    from sc2_lsp.cli import main as cli_main

    if profile_path := os.environ.get("SC2_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
        try:
            return cli_main(argv)
        finally:
            profile.disable()
            profile.dump_stats(profile_path)
    return cli_main(argv)


# -- the session script ------------------------------------------------------------------------

StepKind = Literal["type", "backspace", "delete_word", "pause", "accept", "type_along", "jump"]


@dataclass(frozen=True)
class Step:
    kind: StepKind
    text: str = ""
    """type: what one keystroke inserts (Enter carries its auto-indent); jump: the anchor."""
    count: int = 1
    """backspace / type_along: how many keystrokes."""
    seconds: float = 0.0
    """pause: how long the user looks before going on (at least until the answer is there)."""


def keys(text: str) -> list[Step]:
    """One keystroke per character; Enter plus the indentation an editor inserts is one."""
    steps: list[Step] = []
    i = 0
    while i < len(text):
        if text[i] == "\n":
            j = i + 1
            while j < len(text) and text[j] == " ":
                j += 1
            steps.append(Step("type", text[i:j]))
            i = j
        else:
            steps.append(Step("type", text[i]))
            i += 1
    return steps


# The user adds a helper after the `lines` property (line ~168), fixes a typo, accepts
# suggestions, then jumps ~130 lines down into `word_at_position` and writes a guard there.
ANCHOR_A = "        return tuple(self.source.splitlines(True))"
ANCHOR_B = "        lines = self.lines\n        if client_position.line >= len(lines):"


def build_script(quick: bool) -> list[Step]:
    part_a = [
        Step("jump", ANCHOR_A),
        *keys("\n\n    def line_"),
        Step("pause", seconds=0.8),
        *keys("coutn"),
        Step("backspace", count=2),
        *keys("nt(self):"),
        *keys("\n        "),
        Step("pause", seconds=0.6),
        Step("accept"),
        Step("pause", seconds=0.5),
    ]
    if quick:
        return [*part_a, Step("type_along", count=2), Step("accept"), Step("pause", seconds=0.5)]
    part_a += [
        *keys("\n        return len(se"),
        Step("pause", seconds=0.7),
        Step("type_along", count=3),
        Step("accept"),
        Step("pause", seconds=0.5),
    ]
    part_b = [
        Step("jump", ANCHOR_B),
        Step("pause", seconds=1.0),
        *keys("\n        if not lines:"),
        Step("pause", seconds=0.8),
        *keys("\n            "),
        Step("pause", seconds=0.6),
        Step("accept"),
        Step("pause", seconds=0.5),
        *keys("\n        first = lines[0"),
        Step("backspace", count=1),
        *keys("-1]"),
        Step("pause", seconds=0.7),
        Step("type_along", count=2),
        Step("accept"),
        Step("pause", seconds=0.6),
        Step("delete_word"),
        *keys("last"),
        Step("pause", seconds=0.5),
    ]
    return part_a + part_b


def count_keystrokes(script: Sequence[Step]) -> int:
    return sum(
        step.count if step.kind in ("backspace", "type_along") else 1
        for step in script
        if step.kind not in ("pause", "jump")
    )


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

        @client.feature("sc2/status")
        def on_status(_ls: Any, params: Any) -> None:
            self.log.statuses.append((time.monotonic(), _plain(params)))

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(_ls: Any, params: types.ShowMessageParams) -> None:
            self.log.messages.append(params.message)

        @client.feature(types.WINDOW_LOG_MESSAGE)
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
                await asyncio.wait_for(client.stop(), 30)
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
        from pygls.protocol import default_converter

        converted = default_converter().unstructure(value)
        return converted if isinstance(converted, dict) else {}
    except Exception:
        return dict(getattr(value, "__dict__", {}))


# -- probe records and attribution -----------------------------------------------------------------


@dataclass
class Probe:
    hooks: dict[str, bool]
    jobs: list[dict[str, Any]]
    generations: list[dict[str, Any]]
    stray_decodes: list[list[Any]]
    prepares: list[dict[str, Any]] = field(default_factory=list)
    debounces: list[dict[str, Any]] = field(default_factory=list)
    rpc: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per request id: when the server's JSON-RPC layer received it (`in`) and answered (`out`)."""


def read_probe(path: Path) -> Probe:
    hooks: dict[str, bool] = {}
    jobs: list[dict[str, Any]] = []
    generations: list[dict[str, Any]] = []
    stray: list[list[Any]] = []
    prepares: list[dict[str, Any]] = []
    debounces: list[dict[str, Any]] = []
    rpc: dict[str, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        kind = record.get("type")
        if kind == "probe":
            hooks = record["hooks"]
        elif kind == "job":
            jobs.append(record)
        elif kind == "generate":
            generations.append(record)
        elif kind == "decode":
            stray.append(record["decode"])
        elif kind == "prepare":
            prepares.append(record)
        elif kind == "debounce":
            debounces.append(record)
        elif kind in ("rpc_in", "rpc_out"):
            rpc.setdefault(str(record["id"]), {})[kind[4:]] = record["at"]
    generations.sort(key=lambda g: g["start"])
    return Probe(hooks, jobs, generations, stray, prepares, debounces, rpc)


def yielded(generation: dict[str, Any]) -> int:
    """Tokens llama-cpp-python produced: the stop token is sampled but never kept."""
    return len(generation["tokens"]) + (1 if generation.get("stop_reason") == "stop_token" else 0)


def prompt_phase_tokens(generation: dict[str, Any]) -> tuple[int, int]:
    """Prompt tokens llama_decode finished before the first sampled token, and tokens in
    prompt decodes that were aborted (a cancel mid-batch: that work is lost)."""
    # The first token came `generate_seconds` before the call returned; decodes that started
    # before it evaluated the prompt, the ones after it evaluate generated tokens.
    first_token_at = generation["end"] - (generation.get("generate_seconds") or 0.0)
    evaluated = aborted = 0
    for size, started, _seconds, ok in generation["decodes"]:
        if started < first_token_at or not generation["tokens"]:
            if ok:
                evaluated += size
            else:
                aborted += size
    return evaluated, aborted


def overlap(start: float, end: float, intervals: Iterable[tuple[float, float]]) -> float:
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in intervals)


def attribute(log: ReplayLog, probe: Probe) -> list[dict[str, Any]]:
    """One row per request: outcome, latency, and the generation (if any) that served it.

    A request is served by the first non-speculative, non-cancelled generation that starts and
    ends inside its [sent, answered] window. Its time outside the engine is the latency minus
    the engine thread's busy time in that window (its own job and any job it queued behind)
    minus the debounce the server chose; a request answered without a generation spends all
    of its latency outside the engine.
    """
    rows: list[dict[str, Any]] = []
    engine_busy = [(job["start"], job["end"]) for job in probe.jobs if "load" not in job["name"]]
    used: set[int] = set()
    for request in log.requests:
        answered = request.answered if request.answered is not None else float("inf")
        served_by = None
        if request.outcome in ("result", "empty"):
            for index, generation in enumerate(probe.generations):
                if (
                    index in used
                    or generation.get("stop_reason") == "cancelled"
                    or generation.get("speculative")
                ):
                    continue
                if request.sent - 1e-3 <= generation["start"] <= generation["end"] <= answered:
                    served_by = index
                    break
        adopted = False
        if served_by is None and request.outcome == "result":
            # An accept that arrived while its prefetch was running is answered by that prefetch.
            for index, generation in enumerate(probe.generations):
                if (
                    index not in used
                    and generation.get("speculative")
                    and generation.get("stop_reason") != "cancelled"
                    and request.sent - 1e-3 <= generation["end"] <= answered
                    and generation["start"] <= request.sent
                ):
                    served_by, adopted = index, True
                    break
        if served_by is not None:
            used.add(served_by)
        if request.outcome == "result" and served_by is None:
            category = "no_generation"
        elif served_by is not None:
            category = "model"
        elif request.outcome == "empty":
            category = "superseded" if request.cancel_sent else "no_completion"
        else:
            category = request.outcome
        latency = request.latency_ms
        generation = probe.generations[served_by] if served_by is not None else None
        in_window = partial_window(request.sent, answered)
        debounce = next((d["ms"] for d in probe.debounces if in_window(d["at"])), None)
        prepare = next(
            (
                (d["end"] - d["start"]) * 1000
                for d in probe.prepares
                if in_window(d["start"]) and not d.get("speculative")
            ),
            None,
        )
        busy_ms = overlap(request.sent, answered, engine_busy) * 1000 if generation else 0.0
        waited = list(engine_busy)
        if debounce is not None and generation is not None:
            at = next(d["at"] for d in probe.debounces if in_window(d["at"]))
            waited.append((at, at + debounce / 1000))
        waiting_ms = overlap(request.sent, answered, merge(waited)) * 1000 if generation else 0.0
        debounce_at = next((d["at"] for d in probe.debounces if in_window(d["at"])), None)
        # Where the rest of the overhead goes: before the handler ran, and after the engine.
        arrival_ms = (debounce_at - request.sent) * 1000 if debounce_at is not None else None
        finish_ms = None
        if generation is not None and request.answered is not None:
            job_end = max(
                (end for begin, end in engine_busy if begin <= generation["start"] <= end),
                default=generation["end"],
            )
            finish_ms = (request.answered - job_end) * 1000
        outside = None
        if latency is not None and category in ("model", "no_generation"):
            outside = latency - waiting_ms
        # The same, measured inside the server: from its JSON-RPC layer receiving the request to
        # it writing the answer, so the client's own time and the pipes are not counted.
        times = probe.rpc.get(request.id, {})
        server_ms = server_overhead = None
        if "in" in times and "out" in times:
            server_ms = (times["out"] - times["in"]) * 1000
            if category in ("model", "no_generation"):
                inside = overlap(times["in"], times["out"], merge(waited)) if generation else 0.0
                server_overhead = server_ms - inside * 1000
        rows.append(
            {
                "id": request.id,
                "kind": request.kind,
                "keystroke": request.keystroke,
                "category": category,
                "outcome": request.outcome,
                "cancel_sent": request.cancel_sent,
                "line": request.line,
                "character": request.character,
                "latency_ms": _round(latency),
                "debounce_ms": _round(debounce),
                "prepare_ms": _round(prepare),
                "engine_busy_ms": _round(busy_ms),
                "overhead_ms": _round(outside),
                "server_ms": _round(server_ms),
                "server_overhead_ms": _round(server_overhead),
                "adopted_prefetch": adopted,
                "arrival_ms": _round(arrival_ms),
                "after_engine_ms": _round(finish_ms),
                "sent_at": round(request.sent, 6),
                "answered_at": _round(request.answered, 6),
                "generation": served_by,
                "prompt_tokens": len(generation["prompt"]) if generation else None,
                "prompt_evaluated": prompt_phase_tokens(generation)[0] if generation else None,
                "server_reused": generation.get("n_reused") if generation else None,
                "generated": yielded(generation) if generation else None,
                "stop_reason": generation.get("stop_reason") if generation else None,
                "engine_ms": _round(
                    (generation["end"] - generation["start"]) * 1000 if generation else None
                ),
                "engine_prompt_ms": _round(
                    generation["prompt_seconds"] * 1000
                    if generation and generation.get("prompt_seconds") is not None
                    else None
                ),
                "insert_text": request.insert_text,
                "error": request.error,
            }
        )
    return rows


def merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def partial_window(start: float, end: float) -> Callable[[float], bool]:
    return lambda at: start - 1e-3 <= at <= end


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# -- in-process baselines: ideal floor and naive ----------------------------------------------


@dataclass
class EngineRun:
    total_ms: float
    prompt_ms: float
    evaluated: int
    tokens: list[int]


def run_generation(llm: Any, prompt: Sequence[int], n_yield: int, fresh: bool) -> EngineRun:
    """Same llama-cpp-python call the server makes, stopped after the same number of tokens."""
    if fresh:
        llm.reset()
    cached = list(llm._input_ids[: llm.n_tokens])
    reused = common_prefix(cached, prompt)
    if reused == len(prompt):
        reused -= 1  # llama-cpp-python replays one token to refresh the logits
    started = time.perf_counter()
    first: float | None = None
    tokens: list[int] = []
    for token in llm.generate(
        list(prompt), top_k=40, top_p=0.95, min_p=0.0, temp=0.0, repeat_penalty=1.0
    ):
        if first is None:
            first = time.perf_counter()
        tokens.append(int(token))
        if len(tokens) >= max(1, n_yield):
            break
    finished = time.perf_counter()
    return EngineRun(
        total_ms=(finished - started) * 1000,
        prompt_ms=((first or finished) - started) * 1000,
        evaluated=len(prompt) - max(0, reused),
        tokens=tokens,
    )


def engine_baselines(
    model: Path,
    threads: int,
    sequence: Sequence[dict[str, Any]],
    naive_samples: int,
) -> dict[str, Any]:
    """Ideal floor for every prompt in `sequence` (in order), then naive on a sample."""
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=N_CTX,
        n_batch=N_BATCH,
        n_threads=threads,
        n_gpu_layers=0,
        verbose=False,
        seed=0,
    )
    floor: list[dict[str, Any]] = []
    mismatched = 0
    for index, generation in enumerate(sequence):
        run = run_generation(llm, generation["prompt"], yielded(generation), fresh=False)
        expected = generation["tokens"][: len(run.tokens)]
        if run.tokens[: len(expected)] != expected:
            mismatched += 1
        floor.append(
            {
                "total_ms": round(run.total_ms, 2),
                "prompt_ms": round(run.prompt_ms, 2),
                "gen_ms": round(run.total_ms - run.prompt_ms, 2),
                "evaluated": run.evaluated,
                "generated": len(run.tokens),
            }
        )
        log(
            f"floor {index + 1}/{len(sequence)}: {run.evaluated} new tokens, "
            f"{len(run.tokens)} generated, {run.total_ms:.0f} ms"
        )
    # Naive: skip the cold first prompt (it already is a fresh evaluation) and spread the rest.
    candidates = list(range(1, len(sequence))) or [0]
    step = max(1, len(candidates) // max(1, naive_samples))
    picked = candidates[::step][:naive_samples]
    naive: dict[int, dict[str, Any]] = {}
    for index in picked:
        generation = sequence[index]
        run = run_generation(llm, generation["prompt"], yielded(generation), fresh=True)
        naive[index] = {
            "total_ms": round(run.total_ms, 2),
            "prompt_ms": round(run.prompt_ms, 2),
            "evaluated": run.evaluated,
        }
        log(f"naive sample {index}: {run.evaluated} tokens, {run.total_ms:.0f} ms")
    llm.close()
    per_token = [naive[i]["prompt_ms"] / max(1, naive[i]["evaluated"]) for i in naive]
    if sequence:
        per_token.append(floor[0]["prompt_ms"] / max(1, floor[0]["evaluated"]))
    ms_per_token = statistics.median(per_token) if per_token else float("nan")
    naive_rows = []
    for index, generation in enumerate(sequence):
        estimate = len(generation["prompt"]) * ms_per_token + floor[index]["gen_ms"]
        measured = naive.get(index, {}).get("total_ms")
        if index == 0:
            measured = floor[0]["total_ms"]
        naive_rows.append(
            {
                "total_ms": round(measured if measured is not None else estimate, 2),
                "measured": measured is not None,
                "estimate_ms": round(estimate, 2),
                "evaluated": len(generation["prompt"]),
            }
        )
    return {
        "floor": floor,
        "naive": naive_rows,
        "naive_measured": sorted(naive),
        "naive_ms_per_prompt_token": round(ms_per_token, 3),
        "floor_token_mismatches": mismatched,
    }


# -- llama-server baseline -------------------------------------------------------------------------


def split_prompt(
    tokens: Sequence[int], text_of: Callable[[int], str], detok: Callable[[Sequence[int]], str]
) -> dict[str, Any]:
    """Our prompt's pieces as /infill fields: context files, prefix (with the path), suffix."""
    names = {"<repo_name>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>"}
    pieces: list[tuple[str, list[int]]] = [("", [])]
    for token in tokens:
        text = text_of(token)
        if text in names:
            pieces.append((text, []))
        else:
            pieces[-1][1].append(token)
    extra: list[dict[str, str]] = []
    prefix = suffix = ""
    for marker, body in pieces:
        text = detok(body)
        if marker == "<file_sep>" and text:
            filename, _, content = text.partition("\n")
            extra.append({"filename": filename, "text": content})
        elif marker == "<fim_prefix>":
            prefix = text
        elif marker == "<fim_suffix>":
            suffix = text
    return {"input_extra": extra, "input_prefix": prefix, "input_suffix": suffix}


def llama_server_baseline(
    binary: Path, model: Path, threads: int, sequence: Sequence[dict[str, Any]], port: int
) -> dict[str, Any]:
    from sc2_lsp.engine.llama import Tokenizer

    tokenizer = Tokenizer.load(model)

    def detok(body: Sequence[int]) -> str:
        return b"".join(tokenizer.piece(t) for t in body).decode("utf-8", "replace")

    command = [
        str(binary),
        "-m", str(model),
        "-c", str(N_CTX),
        "-t", str(threads),
        "-tb", str(threads),
        "-ngl", "0",
        "-np", "1",
        "--cache-reuse", "256",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    log_path = WORK / "llama-server.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 300
        while True:
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r,
            ):
                if r.status == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llama-server did not start; see {log_path}")
            time.sleep(0.5)
        for index, generation in enumerate(sequence):
            body = split_prompt(generation["prompt"], tokenizer.token_text, detok)
            body |= {
                "n_predict": max(1, yielded(generation)),
                "cache_prompt": True,
                "temperature": 0.0,
                "top_k": 1,
                "stream": False,
            }
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/infill",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
                answer = json.loads(response.read())
            elapsed = (time.perf_counter() - started) * 1000
            timings = answer.get("timings", {})
            rows.append(
                {
                    "total_ms": round(elapsed, 2),
                    "prompt_n": timings.get("prompt_n"),
                    "prompt_ms": timings.get("prompt_ms"),
                    "predicted_n": timings.get("predicted_n"),
                    "cached": answer.get("tokens_cached"),
                    "prompt_tokens": answer.get("tokens_evaluated"),
                }
            )
            log(
                f"llama-server {index + 1}/{len(sequence)}: {timings.get('prompt_n')} evaluated, "
                f"{elapsed:.0f} ms"
            )
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()
    return {"binary": str(binary.relative_to(ROOT)), "command": command[1:], "rows": rows}


def build_llama_server(sdist: Path, jobs: int = 2) -> int:
    """Build `llama-server` from a llama-cpp-python sdist (tarball or unpacked folder).

    The sdist leaves out llama.cpp's web UI, which the server's CMake target links; a stub
    with no assets stands in for it (the benchmark only uses the HTTP API).
    """
    import tarfile

    source = WORK / "llama.cpp"
    if not source.exists():
        if sdist.is_file():
            unpacked = WORK / "sdist"
            with tarfile.open(sdist) as archive:
                archive.extractall(unpacked, filter="data")
            sdist = next(unpacked.glob("llama_cpp_python-*"))
        shutil.copytree(sdist / "vendor" / "llama.cpp", source)
    ui = source / "tools" / "ui"
    if not (ui / "CMakeLists.txt").exists():
        ui.mkdir(parents=True, exist_ok=True)
        (ui / "ui.h").write_text(UI_STUB_HEADER)
        (ui / "ui.cpp").write_text(UI_STUB_SOURCE)
        (ui / "CMakeLists.txt").write_text(
            "add_library(llama-ui STATIC ui.cpp)\n"
            "target_include_directories(llama-ui PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})\n"
            "add_custom_target(llama-ui-assets)\n"
        )
    build = LLAMA_SERVER.parents[1]
    configure = [
        "cmake", "-S", str(source), "-B", str(build), "-G", "Ninja",
        "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
        "-DBUILD_SHARED_LIBS=OFF",
    ]  # fmt: skip
    subprocess.run(configure, check=True)
    started = time.monotonic()
    compile_ = ["cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"]
    subprocess.run(compile_, check=True)
    log(f"built {LLAMA_SERVER} in {time.monotonic() - started:.0f}s")
    return 0


UI_STUB_HEADER = """// Stub for the web UI the pip sdist leaves out: no assets.
#pragma once
#include <cstddef>
#include <string>
#include <vector>
struct llama_ui_asset {
    std::string name;
    std::string type;
    std::string etag;
    const unsigned char * data;
    size_t size;
};
const std::vector<llama_ui_asset> & llama_ui_get_assets();
const llama_ui_asset * llama_ui_find_asset(const std::string & name);
bool llama_ui_use_gzip();
"""

UI_STUB_SOURCE = """#include "ui.h"
const std::vector<llama_ui_asset> & llama_ui_get_assets() {
    static std::vector<llama_ui_asset> none;
    return none;
}
const llama_ui_asset * llama_ui_find_asset(const std::string &) { return nullptr; }
bool llama_ui_use_gzip() { return false; }
"""


# -- statistics and report --------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def dist(values: Iterable[float | None]) -> dict[str, Any]:
    kept = [float(v) for v in values if v is not None]
    return {
        "n": len(kept),
        "median": _round(percentile(kept, 0.5), 1),
        "p90": _round(percentile(kept, 0.9), 1),
        "p99": _round(percentile(kept, 0.99), 1),
        "mean": _round(statistics.fmean(kept), 1) if kept else None,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else round(a / b, 3)


KEYSTROKE_KINDS = ("type", "delete", "type_along", "accept_continue")


def summarize(
    stability: dict[str, Any],
    rows: list[dict[str, Any]],
    log_: ReplayLog,
    probe: Probe,
    baselines: dict[str, Any],
    server: dict[str, Any] | None,
) -> dict[str, Any]:
    served = [r for r in rows if r["generation"] is not None]
    order = {
        r["generation"]: i for i, r in enumerate(sorted(served, key=lambda r: r["generation"]))
    }
    for row in served:
        position = order[row["generation"]]
        row["floor_ms"] = baselines["floor"][position]["total_ms"]
        row["floor_evaluated"] = baselines["floor"][position]["evaluated"]
        row["naive_ms"] = baselines["naive"][position]["total_ms"]
        row["naive_measured"] = baselines["naive"][position]["measured"]
        if server and position < len(server["rows"]):
            row["llama_server_ms"] = server["rows"][position]["total_ms"]
            row["llama_server_evaluated"] = server["rows"][position]["prompt_n"]
    keystrokes = [r for r in rows if r["kind"] in KEYSTROKE_KINDS]
    answered = [r for r in keystrokes if r["category"] in ("model", "no_generation")]
    model = [r for r in keystrokes if r["category"] == "model"]
    accepts = [r for r in answered if r["kind"] == "accept_continue"]
    cold = [r for r in rows if r["kind"] == "open"]

    def col(subset: list[dict[str, Any]], key: str) -> list[float | None]:
        return [r.get(key) for r in subset]

    ours_model = dist(col(model, "latency_ms"))
    ours_undebounced = dist(
        r["latency_ms"] - (r["debounce_ms"] or 0.0) for r in model if r["latency_ms"] is not None
    )
    floor_model = dist(col(model, "floor_ms"))
    naive_model = dist(col(model, "naive_ms"))
    ours_all = dist(col(answered, "latency_ms"))
    status = log_.final_status
    requests = max(1, int(status.get("requests") or len(rows)))
    decoded = [size for generation in probe.generations for size, *_ in generation["decodes"]] + [
        d[0] for d in probe.stray_decodes
    ]
    cold_ids = {r["generation"] for r in cold if r["generation"] is not None}
    session_prompt_tokens = sum(
        prompt_phase_tokens(g)[0]
        for i, g in enumerate(probe.generations)
        if i not in cold_ids and g["start"] >= log_.started
    )
    aborted_tokens = sum(
        prompt_phase_tokens(g)[1] for g in probe.generations if g["start"] >= log_.started
    )
    per_keystroke_ratio = [
        r["latency_ms"] / r["floor_ms"] for r in model if r["latency_ms"] and r.get("floor_ms")
    ]
    summary: dict[str, Any] = {
        "keystrokes": log_.keystrokes,
        "requests_sent": len(rows),
        "requests_unanswered": sum(1 for r in rows if r["outcome"] == "pending"),
        "categories": {
            name: sum(1 for r in rows if r["category"] == name)
            for name in sorted({r["category"] for r in rows})
        },
        "cancellations": {
            "cancel_sent": sum(1 for r in rows if r["cancel_sent"]),
            "answered_cancelled": sum(1 for r in rows if r["outcome"] == "cancelled"),
            "answered_result_despite_cancel": sum(
                1 for r in rows if r["cancel_sent"] and r["outcome"] == "result"
            ),
            "server_counter": status.get("cancelled"),
        },
        "cold_open_ms": cold[0]["latency_ms"] if cold else None,
        "cold_open_prompt_tokens": cold[0]["prompt_tokens"] if cold else None,
        "latency_ms": {
            "ours_model_served": ours_model,
            "ours_all_answered": ours_all,
            "ours_model_served_minus_debounce": ours_undebounced,
            "ideal_floor": floor_model,
            "naive": naive_model,
            "llama_server": dist(col(model, "llama_server_ms")) if server else None,
            "accept_then_continue": dist(col(accepts, "latency_ms")),
            "type_along": dist(
                col([r for r in answered if r["kind"] == "type_along"], "latency_ms")
            ),
        },
        "ratios": {
            "ours_over_floor_median": ratio(ours_model["median"], floor_model["median"]),
            "ours_all_over_floor_median": ratio(ours_all["median"], floor_model["median"]),
            "ours_minus_debounce_over_floor_median": ratio(
                ours_undebounced["median"], floor_model["median"]
            ),
            "ours_over_floor_per_request_median": _round(percentile(per_keystroke_ratio, 0.5), 3),
            "naive_over_ours_median": ratio(naive_model["median"], ours_model["median"]),
            "naive_over_ours_all_median": ratio(naive_model["median"], ours_all["median"]),
            "llama_server_over_ours_median": ratio(
                dist(col(model, "llama_server_ms"))["median"], ours_model["median"]
            )
            if server
            else None,
        },
        "overhead_ms": {
            "server_model_served": dist(col(model, "server_overhead_ms")),
            "server_all_answered": dist(col(answered, "server_overhead_ms")),
            "model_served": dist(col(model, "overhead_ms")),
            "answered_without_generation": dist(
                col([r for r in answered if r["category"] == "no_generation"], "overhead_ms")
            ),
            "debounce_model_served": dist(col(model, "debounce_ms")),
            "prepare_model_served": dist(col(model, "prepare_ms")),
            "arrival_to_handler_model_served": dist(col(model, "arrival_ms")),
            "engine_end_to_answer_model_served": dist(col(model, "after_engine_ms")),
            "prepare_all": dist((d["end"] - d["start"]) * 1000 for d in probe.prepares),
        },
        "speculative": speculative_summary(probe, rows),
        "prompt_stability": stability,
        "engine_speed": engine_speed(rows, baselines),
        "hit_rates": {
            "cache_hits": status.get("cacheHits"),
            "prefetch_hits": status.get("prefetchHits"),
            "server_requests": status.get("requests"),
            "cache_hit_rate": ratio(status.get("cacheHits"), requests)
            if status.get("cacheHits") is not None
            else None,
            "prefetch_hit_rate": ratio(status.get("prefetchHits"), requests)
            if status.get("prefetchHits") is not None
            else None,
            "answered_without_generation": len(
                [r for r in answered if r["category"] == "no_generation"]
            ),
            "answered_without_generation_rate": ratio(
                len([r for r in answered if r["category"] == "no_generation"]), len(answered)
            ),
        },
        "tokens": {
            "prompt_tokens_evaluated_per_keystroke": ratio(session_prompt_tokens, log_.keystrokes),
            "prompt_tokens_evaluated_session": session_prompt_tokens,
            "prompt_tokens_in_aborted_decodes": aborted_tokens,
            "decoded_tokens_total": sum(decoded),
            "per_model_request": {
                "ours_evaluated": dist(col(model, "prompt_evaluated")),
                "floor_new_tokens": dist(col(model, "floor_evaluated")),
                "naive_full_prompt": dist(col(model, "prompt_tokens")),
                "llama_server_evaluated": dist(col(model, "llama_server_evaluated"))
                if server
                else None,
                "generated": dist(col(model, "generated")),
            },
            "server_counters": {
                key: status.get(key) for key in ("promptTokens", "reusedTokens") if key in status
            },
        },
        "engine_generations": len(probe.generations),
        "engine_generations_cancelled": sum(
            1 for g in probe.generations if g.get("stop_reason") == "cancelled"
        ),
        "pause_wait_for_answer_s": dist(log_.pause_waits_s),
        "accepts": log_.accepts,
        "accepts_skipped_no_suggestion": log_.accepts_skipped,
        "typed_along": log_.typed_along,
        "session_wall_s": round(log_.finished - log_.started, 1),
        "floor_token_mismatches": baselines["floor_token_mismatches"],
        "naive_method": (
            f"measured fresh-KV on {len(baselines['naive_measured'])} sampled prompts plus the "
            "cold first one; the others are prompt tokens x median ms/token of those, plus the "
            "floor's generation time for the same request"
        ),
        "naive_ms_per_prompt_token": baselines["naive_ms_per_prompt_token"],
    }
    return summary


def engine_speed(rows: list[dict[str, Any]], baselines: dict[str, Any]) -> dict[str, Any]:
    """Prompt tokens/s in each phase: the cores are shared, so the machine's speed drifts
    between phases; token counts are the load-independent comparison."""
    served = [r for r in rows if r["category"] == "model" and r.get("engine_prompt_ms")]
    ours_tokens = sum(r["prompt_evaluated"] or 0 for r in served)
    ours_ms = sum(r["engine_prompt_ms"] for r in served)
    floor = baselines["floor"]
    floor_tokens = sum(f["evaluated"] for f in floor)
    floor_ms = sum(f["prompt_ms"] for f in floor)
    per_request = [
        r["prompt_evaluated"] / r["floor_evaluated"]
        for r in served
        if r["kind"] != "open" and r.get("floor_evaluated")
    ]
    return {
        "ours_prompt_tok_s": ratio(ours_tokens * 1000, ours_ms),
        "floor_prompt_tok_s": ratio(floor_tokens * 1000, floor_ms),
        "naive_prompt_tok_s": ratio(1000, baselines["naive_ms_per_prompt_token"]),
        "ours_over_floor_evaluated_tokens_median": _round(percentile(per_request, 0.5), 3),
        "ours_evaluated_total": ours_tokens,
        "floor_evaluated_total": floor_tokens,
    }


def prompt_stability(sequence: Sequence[dict[str, Any]], file_sep: int | None) -> dict[str, Any]:
    """Between consecutive model-served prompts: where they diverge, and what it cost.

    The current file starts at the prompt's last `<file_sep>`; a divergence before it means
    the repository context changed, which forces llama.cpp to re-evaluate everything after.
    A served generation that reused less than that common prefix lost KV cache to work done
    in between (an aborted prefetch or request truncates the cache before it is cancelled).
    """
    pairs = []
    for previous, current in itertools.pairwise(sequence):
        shared = common_prefix(previous["prompt"] + previous["tokens"], current["prompt"])
        separators = [i for i, t in enumerate(current["prompt"]) if t == file_sep]
        file_start = separators[-1] if separators else 0
        pairs.append(
            {
                "prompt_tokens": len(current["prompt"]),
                "shared_with_previous": shared,
                "current_file_starts_at": file_start,
                "context_changed": shared < file_start,
                "reused": current.get("n_reused"),
                "kv_lost": max(
                    0, min(shared, len(current["prompt"]) - 1) - (current.get("n_reused") or 0)
                ),
            }
        )
    changed = [p for p in pairs if p["context_changed"]]
    return {
        "pairs": len(pairs),
        "context_changed": len(changed),
        "tokens_after_context_change": sum(
            p["prompt_tokens"] - p["shared_with_previous"] for p in changed
        ),
        "tokens_after_file_divergence": sum(
            p["prompt_tokens"] - p["shared_with_previous"]
            for p in pairs
            if not p["context_changed"]
        ),
        "kv_lost_requests": sum(1 for p in pairs if p["kv_lost"] > 0),
        "kv_lost_tokens": sum(p["kv_lost"] for p in pairs),
        "detail": pairs,
    }


def speculative_summary(probe: Probe, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Engine work nobody asked for yet (prefetch), and what it cost the next real request."""
    speculative = [g for g in probe.generations if g.get("speculative")]
    return {
        "generations": len(speculative),
        "cancelled": sum(1 for g in speculative if g.get("stop_reason") == "cancelled"),
        "prompt_tokens_evaluated": sum(prompt_phase_tokens(g)[0] for g in speculative),
        "prompt_tokens_aborted": sum(prompt_phase_tokens(g)[1] for g in speculative),
        "engine_s": round(sum(g["end"] - g["start"] for g in speculative), 2),
        "untagged_generations": sum(1 for g in probe.generations if g.get("speculative") is None),
    }


def targets(summary: dict[str, Any]) -> dict[str, Any]:
    ratios = summary["ratios"]
    accept_p90 = summary["latency_ms"]["accept_then_continue"]["p90"]
    overhead = summary["overhead_ms"].get("server_model_served", {}).get("median")
    if overhead is None:  # a run from before the server-side probe
        overhead = summary["overhead_ms"]["model_served"]["median"]
    return {
        "median_le_1.3x_floor": _check(ratios["ours_over_floor_median"], lambda v: v <= 1.3),
        "ge_5x_faster_than_naive": _check(ratios["naive_over_ours_median"], lambda v: v >= 5),
        "accept_then_continue_p90_le_50ms": _check(accept_p90, lambda v: v <= 50),
        "overhead_median_le_5ms": _check(overhead, lambda v: v <= 5),
    }


def _check(value: float | None, test: Callable[[float], bool]) -> dict[str, Any]:
    return {"value": value, "met": None if value is None else bool(test(value))}


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lat = s["latency_ms"]
    tok = s["tokens"]["per_model_request"]
    hits = s["hit_rates"]

    def line(name: str, d: dict[str, Any] | None, tokens: dict[str, Any] | None) -> str:
        if not d:
            return f"| {name} | – | – | – | – | – |"
        med_tokens = tokens["median"] if tokens else "–"
        return f"| {name} | {d['n']} | {d['median']} | {d['p90']} | {d['p99']} | {med_tokens} |"

    out = [
        f"# Keystroke latency ({report['mode']} run, {report['model']['name']})",
        "",
        f"{report['date']} · {report['machine']['cpu']} ({report['machine']['cpu_count']} cores, "
        f"load {report['machine']['loadavg_1m'][0]}→{report['machine']['loadavg_1m'][1]}) · "
        f"{report['settings']['threads']} threads · llama-cpp-python {report['machine']['llama_cpp_python']}",
        "",
        f"Session: `{MAIN_FILE}` (pygls 2.1.1) with {len(report['session']['neighbours'])} "
        f"neighbour files; {s['keystrokes']} keystrokes, {s['accepts']} Tab-accepts "
        f"({s['accepts_skipped_no_suggestion']} skipped: nothing shown), {s['typed_along']} "
        f"typed along a suggestion, backspaces, one word deletion, one jump. "
        f"{s['requests_sent']} requests, {s['cancellations']['cancel_sent']} cancelled by the "
        f"client, {s['requests_unanswered']} unanswered.",
        "",
        "Latency per request in ms (model-served keystroke requests; the same requests for "
        "every row; the cold first request after opening is excluded: "
        f"{s['cold_open_ms']} ms for {s['cold_open_prompt_tokens']} tokens).",
        "",
        "| | n | median | p90 | p99 | prompt tokens evaluated (median) |",
        "|---|---:|---:|---:|---:|---:|",
        line("ours (sc2-lsp over stdio)", lat["ours_model_served"], tok["ours_evaluated"]),
        line(
            "ideal floor (LCP reuse, same generation)", lat["ideal_floor"], tok["floor_new_tokens"]
        ),
        line("naive (fresh prompt every time)", lat["naive"], tok["naive_full_prompt"]),
        line(
            "llama-server /infill, --cache-reuse 256",
            lat["llama_server"],
            tok["llama_server_evaluated"],
        ),
        line(
            "ours minus the debounce the server chose",
            lat["ours_model_served_minus_debounce"],
            None,
        ),
        line(
            "ours, all answered keystrokes (incl. no-model answers)", lat["ours_all_answered"], None
        ),
        line("ours, accept-then-continue", lat["accept_then_continue"], None),
        "",
        "| measure | value | target |",
        "|---|---:|---|",
    ]
    t = report["targets"]
    names = {
        "median_le_1.3x_floor": ("ours / floor, median", "≤ 1.3"),
        "ge_5x_faster_than_naive": ("naive / ours, median", "≥ 5"),
        "accept_then_continue_p90_le_50ms": ("accept-then-continue p90 (ms)", "≤ 50"),
        "overhead_median_le_5ms": (
            "server overhead outside engine jobs and debounce, inside the server, median (ms)",
            "≤ 5",
        ),
    }
    for key, (label, goal) in names.items():
        met = t[key]["met"]
        mark = "–" if met is None else ("met" if met else "**not met**")
        out.append(f"| {label} | {t[key]['value']} | {goal}: {mark} |")
    out += [
        f"| cache hit rate (server `cacheHits` / requests) | {hits['cache_hit_rate']} | |",
        f"| prefetch hit rate (server `prefetchHits` / requests) | {hits['prefetch_hit_rate']} | |",
        f"| answered with a suggestion but no generation in the request window | "
        f"{hits['answered_without_generation']} ({hits['answered_without_generation_rate']}) | |",
        f"| prompt tokens evaluated per keystroke (all engine work, prefetch included) | "
        f"{s['tokens']['prompt_tokens_evaluated_per_keystroke']} | |",
        f"| generated tokens per model request (median) | {tok['generated']['median']} | |",
        f"| ours / floor in prompt tokens evaluated, per request (median) | "
        f"{s['engine_speed']['ours_over_floor_evaluated_tokens_median']} | |",
        f"| prompt tok/s seen: ours / floor / naive (machine drift between phases) | "
        f"{s['engine_speed']['ours_prompt_tok_s']} / {s['engine_speed']['floor_prompt_tok_s']} / "
        f"{s['engine_speed']['naive_prompt_tok_s']} | |",
        f"| overhead seen by the client (latency minus engine and debounce), median (ms) | "
        f"{s['overhead_ms']['model_served']['median']} | |",
        f"| server overhead, all answered requests incl. cache answers (median / p90 ms) | "
        f"{s['overhead_ms'].get('server_all_answered', {}).get('median')} / "
        f"{s['overhead_ms'].get('server_all_answered', {}).get('p90')} | |",
        f"| debounce chosen by the server, model-served requests (median ms) | "
        f"{s['overhead_ms']['debounce_model_served']['median']} | |",
        f"| prepare (prompt + context) per request (median / p90 ms) | "
        f"{s['overhead_ms']['prepare_model_served']['median']} / "
        f"{s['overhead_ms']['prepare_model_served']['p90']} | |",
        f"| answered without generation: latency median / p90 (ms) | "
        f"{s['overhead_ms']['answered_without_generation']['median']} / "
        f"{s['overhead_ms']['answered_without_generation']['p90']} | |",
        f"| consecutive served prompts whose repository context changed / tokens re-evaluated "
        f"after the change | {s['prompt_stability']['context_changed']} of "
        f"{s['prompt_stability']['pairs']} / {s['prompt_stability']['tokens_after_context_change']}"
        f" (vs {s['prompt_stability']['tokens_after_file_divergence']} for the other pairs) | |",
        f"| served requests that reused less KV than the previous served prompt allowed / tokens "
        f"lost | {s['prompt_stability']['kv_lost_requests']} / "
        f"{s['prompt_stability']['kv_lost_tokens']} | |",
        f"| prefetch generations (cancelled) / prompt tokens they evaluated (+ aborted mid-batch) | "
        f"{s['speculative']['generations']} ({s['speculative']['cancelled']}) / "
        f"{s['speculative']['prompt_tokens_evaluated']} "
        f"(+ {s['speculative'].get('prompt_tokens_aborted', 0)}) | |",
        "",
        "Model-served requests (ms; tokens):",
        "",
        "| request | kind | ours | debounce | prompt | ours evaluated | floor | floor new | naive | llama-server |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['id']} | {r['kind']} | {r['latency_ms']} | {r['debounce_ms']} | "
            f"{r['prompt_tokens']} | {r['prompt_evaluated']} | {r.get('floor_ms')} | "
            f"{r.get('floor_evaluated')} | {r.get('naive_ms')}"
            f"{'' if r.get('naive_measured') else ' (est.)'} | {r.get('llama_server_ms', '–')} |"
            for r in report["requests"]
            if r["category"] == "model"
        ),
        "",
        f"Naive: {s['naive_method']} ({s['naive_ms_per_prompt_token']} ms/token). Settings: "
        f"`{json.dumps(report['settings']['initialization_options'])}`. "
        f"Server features present: {json.dumps(report['server_features'])}. "
        f"llama-server baseline: {report['llama_server_status']}.",
        "",
    ]
    return "\n".join(out)


def probe_for(out_json: Path) -> Path:
    return WORK / f"{out_json.stem}-probe.jsonl"


def reanalyze(path: Path, probe_path: Path) -> int:
    """Recompute rows, summary and targets of a saved run from its JSON and probe log.

    The replay and baselines are not rerun: analysis changes cost seconds, not the run's
    half hour on a slow CPU.
    """
    from sc2_lsp.engine.llama import Tokenizer

    report = json.loads(path.read_text())
    probe = read_probe(probe_path)
    rows = report["requests"]
    replay = report.get("replay", {})
    cold = next((r for r in rows if r["kind"] == "open"), rows[0])
    started = replay.get("started", cold["answered_at"])
    replay_log = ReplayLog(
        requests=[
            Sent(
                id=r["id"],
                kind=r["kind"],
                keystroke=r["keystroke"],
                version=0,
                offset=0,
                line=r["line"],
                character=r["character"],
                sent=r["sent_at"],
                answered=r["answered_at"],
                outcome=r["outcome"],
                insert_text=r["insert_text"],
                cancel_sent=r["cancel_sent"],
                error=r["error"],
            )
            for r in rows
        ],
        messages=report.get("server_messages", []),
        pause_waits_s=replay.get("pause_waits_s", []),
        accepts=replay.get("accepts", report["summary"]["accepts"]),
        accepts_skipped=replay.get(
            "accepts_skipped", report["summary"]["accepts_skipped_no_suggestion"]
        ),
        typed_along=replay.get("typed_along", report["summary"]["typed_along"]),
        keystrokes=report["summary"]["keystrokes"],
        final_status=report["final_status"],
        started=started,
        finished=replay.get("finished", started + report["summary"]["session_wall_s"]),
    )
    new_rows = attribute(replay_log, probe)
    sequence = sorted(
        (probe.generations[r["generation"]] for r in new_rows if r["generation"] is not None),
        key=lambda g: g["start"],
    )
    model = Path(report["settings"]["initialization_options"]["model"]["path"])
    stability = prompt_stability(sequence, Tokenizer.load(model).single_token("<file_sep>"))
    server = report.get("llama_server")
    summary = summarize(
        stability,
        new_rows,
        replay_log,
        probe,
        report["baselines"],
        server if server and server.get("rows") else None,
    )
    if not replay.get("pause_waits_s"):
        summary["pause_wait_for_answer_s"] = report["summary"]["pause_wait_for_answer_s"]
    report["requests"] = new_rows
    report["summary"] = summary
    report["targets"] = targets(summary)
    report["reanalyzed"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    path.with_suffix(".md").write_text(text)
    print(text)
    return 0


# -- orchestration -----------------------------------------------------------------------------


def ensure_quick_model(path: Path) -> Path:
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT))
    from tests.gguf_factory import load_vocab, write_starcoder2

    log(f"writing the quick model {path}")
    partial = path.with_name(path.name + ".partial")
    write_starcoder2(
        partial,
        vocab=load_vocab(VOCAB),
        n_embd=256,
        n_layer=4,
        n_head=4,
        n_head_kv=2,
        n_ff=1024,
        dtype="f16",
        name="starcoder2-quick-random",
    )
    partial.replace(path)
    return path


def init_options(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    return {
        "model": {"path": str(model), "nThreads": args.threads, "nCtx": N_CTX, "nGpuLayers": 0},
        "completion": {
            "debounceMs": args.debounce_ms,
            "maxTokensLine": args.max_tokens,
            "maxTokens": args.max_tokens,
            "cache": True,
            "prefetch": True,
        },
        "prompt": {
            "maxPromptTokens": args.max_prompt_tokens,
            "prefixTokens": args.prefix_tokens,
            "suffixTokens": args.suffix_tokens,
            "reuseChunks": True,
            "fimOrder": args.fim_order,
        },
    }


FEATURE_SETTINGS = ("completion.cache", "completion.prefetch", "prompt.reuseChunks")


def git_state() -> dict[str, Any]:
    def run(*command: str) -> str:
        try:
            return subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "head": run("git", "rev-parse", "--short", "HEAD"),
        "dirty": [line for line in run("git", "status", "--short").splitlines() if line],
    }


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve"]:
        return serve_with_probe(argv[1:])
    if argv[:1] == ["--build-llama-server"] and len(argv) == 2:
        return build_llama_server(Path(argv[1]))
    if argv[:1] == ["--reanalyze"] and len(argv) in (2, 3):
        probe_file = Path(argv[2]) if len(argv) == 3 else probe_for(Path(argv[1]))
        return reanalyze(Path(argv[1]), probe_file)
    if argv[:1] == ["--render"] and len(argv) == 2:
        # Re-render the markdown table of an earlier run from its JSON.
        source = Path(argv[1])
        text = markdown(json.loads(source.read_text()))
        source.with_suffix(".md").write_text(text)
        print(text)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model, ~30 keystrokes")
    parser.add_argument("--model", type=Path, help="GGUF (default: the 3B-shaped random model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="think-time randomness")
    parser.add_argument("--debounce-ms", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--max-prompt-tokens", type=int, default=512)
    parser.add_argument("--prefix-tokens", type=int, default=192)
    parser.add_argument("--suffix-tokens", type=int, default=48)
    parser.add_argument(
        "--fim-order",
        choices=("psm", "spm"),
        default="psm",
        help="prompt.fimOrder: spm puts the prefix last, so typing only appends",
    )
    parser.add_argument(
        "--naive-samples", type=int, default=None, help="fresh-KV prompts to time (2; quick: 5)"
    )
    parser.add_argument(
        "--llama-server",
        default="auto",
        help=f"llama-server binary, 'auto' ({LLAMA_SERVER.relative_to(ROOT)} if built) or 'off'",
    )
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON path (default results/latency.json; quick: latency-quick.json)",
    )
    args = parser.parse_args(argv)

    model = (
        args.model or (ensure_quick_model(QUICK_MODEL) if args.quick else FULL_MODEL)
    ).resolve()
    if not model.exists():
        parser.error(f"{model} missing; build it with benchmarks/make_model.py")
    naive_samples = (
        args.naive_samples if args.naive_samples is not None else (5 if args.quick else 2)
    )
    out_json = args.out or RESULTS / ("latency-quick.json" if args.quick else "latency.json")
    WORK.mkdir(parents=True, exist_ok=True)
    # Kept per output: --reanalyze needs the probe of exactly that run.
    probe_path = probe_for(out_json)
    probe_path.unlink(missing_ok=True)
    server_log = WORK / f"{out_json.stem}-server.log"
    server_log.unlink(missing_ok=True)
    script = build_script(args.quick)
    options = init_options(args, model)
    env = {
        **os.environ,
        PROBE_ENV: str(probe_path),
        LOG_ENV: str(server_log),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        "--stdio",
        "--model",
        str(model),
    ]
    load_before = os.getloadavg()[0]
    log(f"replaying {count_keystrokes(script)} keystrokes against sc2-lsp with {model.name}")
    loads: dict[str, float] = {"replay_start": round(os.getloadavg()[0], 2)}
    started = time.monotonic()
    replay = Replay(command, env, options, server_log, args.seed)
    replay_log = asyncio.run(replay.run(script))
    replay_s = time.monotonic() - started
    probe = read_probe(probe_path)
    rows = attribute(replay_log, probe)
    sequence = [probe.generations[r["generation"]] for r in rows if r["generation"] is not None]
    sequence.sort(key=lambda g: g["start"])
    log(f"replay done in {replay_s:.0f}s: {len(sequence)} model-served requests; ideal floor next")
    from sc2_lsp.engine.llama import Tokenizer

    stability = prompt_stability(sequence, Tokenizer.load(model).single_token("<file_sep>"))

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    loads["floor_start"] = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    baselines = engine_baselines(model, args.threads, sequence, naive_samples)
    baselines_s = time.monotonic() - started
    loads["baselines_end"] = round(os.getloadavg()[0], 2)

    server_result = None
    binary = (
        None
        if args.llama_server == "off"
        else (LLAMA_SERVER if args.llama_server == "auto" else Path(args.llama_server))
    )
    server_s = 0.0
    server_status = "off"
    if binary is not None and binary.exists():
        server_status = "ran"
        started = time.monotonic()
        try:
            server_result = llama_server_baseline(binary, model, args.threads, sequence, args.port)
        except (OSError, RuntimeError, urllib.error.URLError) as error:
            log(f"llama-server baseline failed: {error}")
            server_result = {"error": str(error), "rows": []}
            server_status = f"failed: {error}"
        server_s = time.monotonic() - started
    elif binary is not None:
        log(f"no llama-server at {binary}: baseline skipped")
        server_status = f"skipped: no binary at {binary}"

    unknown = " ".join(replay_log.messages)
    features = {name: f"{name}: unknown setting" not in unknown for name in FEATURE_SETTINGS}
    summary = summarize(
        stability,
        rows,
        replay_log,
        probe,
        baselines,
        server_result if server_result and server_result["rows"] else None,
    )
    import llama_cpp

    report: dict[str, Any] = {
        "benchmark": "latency",
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python benchmarks/latency.py " + " ".join(argv),
        "model": {"name": model.name, "bytes": model.stat().st_size},
        "settings": {
            "threads": args.threads,
            "initialization_options": options,
            "n_ctx": N_CTX,
            "n_batch": N_BATCH,
        },
        "server_features": features,
        "probe_hooks": probe.hooks,
        "session": {
            "root": str(SESSION_ROOT.relative_to(ROOT)),
            "file": MAIN_FILE,
            "open_tabs": list(OPEN_TABS),
            "neighbours": sorted(
                str(p.relative_to(SESSION_ROOT))
                for p in SESSION_ROOT.rglob("*.py")
                if str(p.relative_to(SESSION_ROOT)) != MAIN_FILE
            ),
            "script": [asdict(step) for step in script],
            "seed": args.seed,
            "final_text_lines": replay_log.final_text.count("\n") + 1,
        },
        "replay": {
            "started": replay_log.started,
            "finished": replay_log.finished,
            "pause_waits_s": [round(w, 3) for w in replay_log.pause_waits_s],
            "accepts": replay_log.accepts,
            "accepts_skipped": replay_log.accepts_skipped,
            "typed_along": replay_log.typed_along,
        },
        "summary": summary,
        "targets": targets(summary),
        "phases_s": {
            "replay": round(replay_s, 1),
            "floor_and_naive": round(baselines_s, 1),
            "llama_server": round(server_s, 1),
        },
        "server_messages": replay_log.messages,
        "status_notifications": len(replay_log.statuses),
        "final_status": replay_log.final_status,
        "requests": rows,
        "baselines": baselines,
        "llama_server": server_result,
        "llama_server_status": server_status,
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "llama_cpp_python": llama_cpp.__version__,
            "omp_wait_policy": env["OMP_WAIT_POLICY"],
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "loadavg_1m_by_phase": loads,
        },
        "git": git_state(),
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(report, indent=1) + "\n")
    out_md = out_json.with_suffix(".md")
    out_md.write_text(markdown(report))
    print(markdown(report))
    log(f"wrote {out_json} and {out_md}")
    return 0 if summary["requests_unanswered"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
