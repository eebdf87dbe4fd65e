"""An in-memory `Engine` for unit tests of the core: scripted tokens, scripted delays, no model.

`CharTokenizer` maps each character to one token (id = code point + 100) and knows the
StarCoder2 sentinels as ids 0-6, so `prompting.prepare` builds real FIM prompts with it.
`ScriptedEngine` runs jobs one at a time on a thread, like the real engine: it "evaluates" the
prompt (a delay per token not in its cache), then emits the text its script returns for the
prompt, one character per token with a delay each, honouring cancel, stop ids, `should_stop`,
max_tokens and the token-healing mask (`GenerationParams.healed`: a script that does not
start by spelling the healed text gets it spelled first) exactly as `LlamaModel.generate`
does. It records every job it ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from sc2_lsp.engine import (
    CancelToken,
    Generation,
    GenerationParams,
    LoadOptions,
    ModelInfo,
    ShouldStop,
    TokenSink,
    common_prefix,
    never_stop,
)
from sc2_lsp.engine.worker import JobThread
from sc2_lsp.prompt.templates import detect

SPECIALS = {
    "<|endoftext|>": 0,
    "<fim_prefix>": 1,
    "<fim_middle>": 2,
    "<fim_suffix>": 3,
    "<fim_pad>": 4,
    "<repo_name>": 5,
    "<file_sep>": 6,
}
OFFSET = 100


class CharTokenizer:
    n_vocab: int = 0x110000 + OFFSET
    bos_id: int | None = None
    eog_ids: frozenset[int] = frozenset({0, 4})

    def tokenize(self, text: str) -> list[int]:
        return [ord(char) + OFFSET for char in text]

    def count(self, text: str) -> int:
        return len(text)

    def piece(self, token: int) -> bytes:
        return b"" if token < OFFSET else chr(token - OFFSET).encode()

    def token_text(self, token: int) -> str:
        for text, special in SPECIALS.items():
            if special == token:
                return text
        return chr(token - OFFSET)

    def single_token(self, text: str) -> int | None:
        return SPECIALS.get(text)


Script = Callable[[str], str]
"""Rendered prompt → the text the model 'generates' after it."""
BranchScript = Callable[[str, int], str]
"""Rendered prompt, branch number (1, 2, …) → an alternative's text."""


@dataclass
class Job:
    prompt: list[int]
    params: GenerationParams
    cancel: CancelToken
    started: float
    result: Generation | None = None


@dataclass
class ScriptedEngine:
    script: Script = lambda _prompt: "x" * 8
    branch_script: BranchScript = lambda _prompt, number: f"other_{number}()\n"
    token_delay_s: float = 0.0
    prompt_token_delay_s: float = 0.0
    tokenizer: CharTokenizer = field(default_factory=CharTokenizer)
    jobs: list[Job] = field(default_factory=list)
    available: bool = True
    _cached: list[int] = field(default_factory=list)
    _thread: JobThread = field(default_factory=JobThread)
    _running: CancelToken | None = None

    def __post_init__(self) -> None:
        template = detect(self.tokenizer.single_token, sorted(self.tokenizer.eog_ids))
        self.model_info = ModelInfo(
            path=Path("scripted.gguf"),
            architecture="starcoder2",
            template=template,
            n_ctx=4096,
            n_ctx_train=16384,
            n_vocab=self.tokenizer.n_vocab,
            n_gpu_layers=0,
            gpu_offload_supported=False,
            load_seconds=0.0,
        )

    @property
    def ready(self) -> bool:
        return self.available

    @property
    def info(self) -> ModelInfo | None:
        return self.model_info

    def cached_tokens(self) -> Sequence[int]:
        return self._cached

    def load(self, options: LoadOptions) -> Future[ModelInfo]:
        return self._thread.submit(lambda: self.model_info)

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop = never_stop,
        on_token: TokenSink | None = None,
    ) -> Future[Generation]:
        if not self.available:
            future: Future[Generation] = Future()
            future.set_result(Generation(n_prompt=len(prompt), stop_reason="unavailable"))
            return future
        return self._thread.submit(lambda: self._run(list(prompt), params, cancel, should_stop))

    def cancel_running(self) -> None:
        if self._running is not None:
            self._running.cancel()

    def close(self) -> None:
        self._thread.close()

    def rendered(self, job: Job) -> str:
        return "".join(self.tokenizer.token_text(token) for token in job.prompt)

    def _run(
        self,
        prompt: list[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop,
    ) -> Generation:
        job = Job(prompt, params, cancel, time.monotonic())
        self.jobs.append(job)
        result = Generation(
            n_prompt=len(prompt),
            n_reused=common_prefix(self._cached, prompt),
            started_at=time.monotonic(),
        )
        self._running = cancel
        try:
            started = time.monotonic()
            for _ in range(result.n_evaluated):
                if _wait(cancel, self.prompt_token_delay_s):
                    result.stop_reason = "cancelled"
                    self._cached = prompt[: result.n_reused]
                    return result
            self._cached = list(prompt)
            result.prompt_seconds = time.monotonic() - started
            rendered = "".join(self.tokenizer.token_text(t) for t in prompt)
            if params.branches:
                result.branches = [
                    self._emit(self.branch_script(rendered, number), params, cancel, should_stop)
                    for number in range(1, params.branches + 1)
                ]
                return result
            text = self.script(rendered)
            emitted = self._emit(text, params, cancel, should_stop)
            result.tokens, result.text = emitted.tokens, emitted.text
            result.stop_reason, result.generate_seconds = (
                emitted.stop_reason,
                emitted.generate_seconds,
            )
            return result
        finally:
            self._running = None
            result.n_cached = len(self._cached)
            job.result = result

    def _emit(
        self, text: str, params: GenerationParams, cancel: CancelToken, should_stop: ShouldStop
    ) -> Generation:
        """`text` one character per token, with the engine's stops, as `LlamaModel` applies them."""
        result = Generation()
        started = time.monotonic()
        if not text.startswith(params.healed):
            text = params.healed + text  # the healing mask lets nothing else come first
        for char in text:
            if _wait(cancel, self.token_delay_s):
                result.stop_reason = "cancelled"
                break
            token = ord(char) + OFFSET
            if token in params.stop_ids:
                result.stop_reason = "stop_token"
                break
            result.tokens.append(token)
            result.text += char
            if should_stop(result.text):
                result.stop_reason = "callback"
                break
            if len(result.tokens) >= params.max_tokens + len(params.healed):
                result.stop_reason = "max_tokens"
                break
        else:
            result.stop_reason = "stop_token"  # the script's text ends like <file_sep>
        result.generate_seconds = time.monotonic() - started
        return result


def _wait(cancel: CancelToken, delay: float) -> bool:
    """Sleep `delay` unless cancelled first; True when cancelled."""
    if delay <= 0:
        return cancel.cancelled
    return cancel.event.wait(delay)


def settle(engine: ScriptedEngine, timeout: float = 5.0) -> None:
    """Wait until the engine has no job running or queued."""
    done = threading.Event()
    engine._thread.submit(done.set)
    assert done.wait(timeout), "the engine never went idle"
