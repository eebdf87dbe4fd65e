"""llama.cpp through llama-cpp-python: the model, its context and generation.

`LlamaModel` owns one long-lived `Llama` (one context, reused across requests so the KV cache
of a shared prompt prefix is kept); it lives in the engine process (`engine.host`) and is
driven from one thread there. With `engine.vocab` (the vocabulary alone) and
`engine.branching` (alternatives decoded side by side) these are the modules that use
`llama_cpp`.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import llama_cpp
from llama_cpp import llama_cpp as _bindings

from sc2_lsp.engine import (
    CancelToken,
    EngineError,
    Generation,
    GenerationParams,
    LoadOptions,
    ModelInfo,
    Safety,
    ShouldStop,
    TokenSink,
    common_prefix,
    never_stop,
)
from sc2_lsp.engine.branching import Brancher
from sc2_lsp.engine.decoding import Decoding
from sc2_lsp.engine.vocab import Tokenizer, check_file
from sc2_lsp.healing import HealingMask, TokenTrie

log = logging.getLogger(__name__)


def gpu_offload_supported() -> bool:
    return bool(llama_cpp.llama_supports_gpu_offload())


def system_info() -> str:
    return str(llama_cpp.llama_print_system_info().decode("utf-8", "replace")).strip()


def llama_cpp_version() -> str:
    return str(getattr(llama_cpp, "__version__", "unknown"))


_LOG_LEVELS = {3: logging.WARNING, 4: logging.ERROR}  # ggml_log_level (ggml.h)
_BUFFER_LINE = re.compile(r"(\S+) model buffer size")
_LOG_CALLBACKS: list[Any] = []
MAX_SEQUENCES = 4
"""The context's sequences: the one the prompt lives in, and up to three alternatives."""


class LlamaLog:
    """llama.cpp's own log: warnings, errors and where the weights went, to stderr.

    The load log is where llama.cpp says which buffer types hold the weights ("AMX model
    buffer size = …"), which is how a crash in the AMX kernels is told apart from others.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, None] = {}
        """Buffer types named in "… model buffer size" lines, in order (a set that keeps it)."""
        self._partial = ""
        self._level = 1

        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def callback(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
            self._level = self._level if level == 5 else level  # 5 continues the last line
            chunk = self._partial + text.decode("utf-8", "replace")
            *complete, self._partial = chunk.split("\n")
            for line in complete:
                buffer = _BUFFER_LINE.search(line)
                if buffer is not None:
                    self.buffers[buffer.group(1)] = None
                # Buffer lines name where the weights went: the server needs them after a crash.
                if self._level in _LOG_LEVELS or buffer is not None:
                    sys.stderr.write(f"llama.cpp: {line}\n")

        # llama.cpp keeps calling it until the process ends: the thunk must live as long.
        _LOG_CALLBACKS.append(callback)
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def weight_buffers(self) -> tuple[str, ...]:
        return tuple(self.buffers)


@contextlib.contextmanager
def _model_params(safety: Safety, heartbeat: Callable[[], None]) -> Iterator[None]:
    """Parameters `Llama` has no argument for: extra buffer types, a load callback, and
    sequences for alternatives.

    `Llama` builds its parameters from `llama_model_default_params()` and
    `llama_context_default_params()`; in the engine process it is the only caller while the
    model loads, so that is where these are set.
    """
    original = _bindings.llama_model_default_params

    @llama_cpp.llama_progress_callback  # type: ignore[untyped-decorator]
    def progress(_progress: float, _user_data: ctypes.c_void_p) -> bool:
        heartbeat()
        return True

    def params() -> Any:
        result = original()
        result.use_extra_bufts = safety.extra_buffers
        result.progress_callback = progress
        return result

    def context() -> Any:
        result = original_context()
        # Room for the alternatives' sequences, sharing one KV buffer of n_ctx cells.
        result.n_seq_max = MAX_SEQUENCES
        result.kv_unified = True
        return result

    original_context = _bindings.llama_context_default_params
    _bindings.llama_model_default_params = params
    _bindings.llama_context_default_params = context
    try:
        yield
    finally:
        _bindings.llama_model_default_params = original
        _bindings.llama_context_default_params = original_context


def gpu_layers_for(requested: int, safety: Safety, offload: bool) -> tuple[int, list[str]]:
    """The layer count to offload (-1 = all), and warnings about what was asked."""
    warnings: list[str] = []
    layers = requested
    if layers < 0:
        layers = -1 if offload else 0
    elif layers > 0 and not offload:
        warnings.append(
            f"nGpuLayers={layers} asked for, but this llama.cpp build has no GPU backend; "
            "running on the CPU (see `sc2-lsp doctor` for a CUDA/Metal build)"
        )
        layers = 0
    cap = safety.max_gpu_layers
    if cap is not None and (layers < 0 or layers > cap):
        layers = cap
    return layers, warnings


class LlamaModel:
    """One loaded GGUF and its long-lived context, driven from one thread.

    `heartbeat` is called while llama.cpp works (per tensor while loading, per graph node
    while evaluating), so a supervisor can tell a busy engine from a hung one.
    """

    def __init__(
        self,
        options: LoadOptions,
        heartbeat: Callable[[], None] = lambda: None,
        log: LlamaLog | None = None,
    ) -> None:
        check_file(options.path)
        started = time.monotonic()
        offload = gpu_offload_supported()
        gpu_layers, warnings = gpu_layers_for(options.n_gpu_layers, options.safety, offload)
        self._abort = CancelToken()

        def abort(_data: ctypes.c_void_p) -> bool:
            heartbeat()
            return self._abort.cancelled

        self._abort_callback = llama_cpp.ggml_abort_callback(abort)
        try:
            with _model_params(options.safety, heartbeat):
                self.llama = llama_cpp.Llama(
                    model_path=str(options.path),
                    n_ctx=options.n_ctx,
                    n_batch=min(512, options.n_ctx),
                    n_threads=options.n_threads or _physical_cores(),
                    n_gpu_layers=gpu_layers,
                    # verbose=False would point fds 1 and 2 at /dev/null while loading, and hide
                    # what llama.cpp prints when it aborts; `LlamaLog` filters its log instead.
                    verbose=log is not None,
                    seed=0,
                )
        except Exception as error:
            raise EngineError(f"llama.cpp could not load {options.path}: {error}") from error
        llama_cpp.llama_set_abort_callback(self.llama._ctx.ctx, self._abort_callback, None)
        self.tokenizer = Tokenizer(self.llama._model)
        self.trie = TokenTrie(self.tokenizer.pieces())
        self._brancher = Brancher(
            self.llama._ctx.ctx,
            self.tokenizer.n_vocab,
            self.tokenizer.piece,
            self.trie,
            MAX_SEQUENCES,
        )
        template = self.tokenizer.template(options.template)
        if not template.template.has_fim:
            warnings.append(
                "this model's vocabulary has no fill-in-the-middle tokens: completing from the "
                "text before the cursor only"
            )
        metadata = self.llama.metadata
        self.info = ModelInfo(
            path=options.path,
            architecture=metadata.get("general.architecture", "unknown"),
            template=template,
            n_ctx=self.llama.n_ctx(),
            n_ctx_train=int(self.llama._model.n_ctx_train()),
            n_vocab=self.tokenizer.n_vocab,
            n_gpu_layers=gpu_layers,
            gpu_offload_supported=offload,
            load_seconds=time.monotonic() - started,
            warnings=tuple(warnings),
            weight_buffers=log.weight_buffers() if log else (),
            safety=options.safety,
        )

    def close(self) -> None:
        self.llama.close()

    def cached_tokens(self) -> list[int]:
        return list(self.llama._input_ids[: self.llama.n_tokens])

    def _reuse_cache(self, prompt: Sequence[int], chunk_min: int) -> int:
        """Keep the KV of the common prefix, then of later cached chunks that reappear in order.

        A chunk of at least `chunk_min` tokens found further on in the cache is moved to its
        place in the new prompt by shifting its positions (what was between is dropped), as
        llama-server's `--cache-reuse` does. llama.cpp requires a sequence's positions to stay
        contiguous, so only chunks that directly continue the reused run can be kept: deleted
        text and a dropped context snippet are reused; text inserted before a chunk is not.
        Returns how many prompt tokens are now in the cache.
        """
        cached = self.cached_tokens()
        reused = common_prefix(cached, prompt)
        if chunk_min <= 0 or reused >= len(prompt) - 1:
            return reused
        memory = self.llama._ctx
        head_cache = head_prompt = reused
        moved = False
        while head_cache < len(cached) and head_prompt < len(prompt) - 1:
            length = _match_length(cached, head_cache, prompt, head_prompt, len(prompt) - 1)
            if length < chunk_min:
                head_cache += 1
                continue
            memory.kv_cache_seq_rm(0, head_prompt, head_cache)
            memory.kv_cache_seq_shift(0, head_cache, head_cache + length, head_prompt - head_cache)
            head_cache += length
            head_prompt += length
            moved = True
        if not moved:
            return reused
        memory.kv_cache_seq_rm(0, head_prompt, -1)
        self.llama.input_ids[:head_prompt] = prompt[:head_prompt]
        self.llama.n_tokens = head_prompt
        return head_prompt

    def _branch(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop,
        result: Generation,
    ) -> Generation:
        """`params.branches` alternatives after `prompt` (see `engine.branching`)."""
        held = min(common_prefix(self.cached_tokens(), prompt), len(prompt) - 1)
        self._abort = cancel
        started = time.monotonic()
        try:
            if held < len(prompt) - 1:  # sequence 0 must hold all of the prompt but its end
                self.llama._ctx.kv_cache_seq_rm(0, held, -1)
                self.llama.n_tokens = held
                self.llama.eval(list(prompt[held:-1]))
            result.n_reused = held
            result.prompt_seconds = time.monotonic() - started
            room = self.info.n_ctx - len(prompt)
            result.branches = self._brancher.run(prompt, params, cancel, should_stop, room)
        except RuntimeError as error:
            if not cancel.cancelled:
                raise EngineError(f"llama.cpp failed while branching: {error}") from error
        finally:
            self._abort = CancelToken()
        result.stop_reason = "cancelled" if cancel.cancelled else "max_tokens"
        result.generate_seconds = time.monotonic() - started - result.prompt_seconds
        result.n_cached = self.llama.n_tokens
        return result

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: CancelToken,
        should_stop: ShouldStop = never_stop,
        on_token: TokenSink | None = None,
    ) -> Generation:
        """Generate after `prompt`, reusing the KV cache of the longest common prefix."""
        result = Generation(n_prompt=len(prompt), started_at=time.monotonic())
        room = self.info.n_ctx - len(prompt)
        if room <= 1:
            result.stop_reason = "context_full"
            result.n_cached = self.llama.n_tokens
            return result
        if params.branches:
            return self._branch(prompt, params, cancel, should_stop, result)
        result.n_reused = self._reuse_cache(prompt, params.reuse_chunk_min)
        self._abort = cancel
        mask = HealingMask(self.trie, params.healed)
        decoding = Decoding(result, params, mask, should_stop, room, on_token)
        started = time.monotonic()
        first_token_at: float | None = None
        try:
            tokens = self.llama.generate(
                list(prompt),
                top_k=params.top_k,
                top_p=params.top_p,
                min_p=0.0,
                temp=params.temperature,
                repeat_penalty=1.0,
                logits_processor=llama_cpp.LogitsProcessorList([mask]) if params.healed else None,
            )
            for token in tokens:
                now = time.monotonic()
                if first_token_at is None:
                    first_token_at = now
                if cancel.cancelled:
                    result.stop_reason = "cancelled"
                    break
                if not decoding.take(token, self.tokenizer.piece(token), now - first_token_at):
                    break
        except RuntimeError as error:
            if not cancel.cancelled:
                raise EngineError(f"llama.cpp failed while generating: {error}") from error
            result.stop_reason = "cancelled"
        finally:
            self._abort = CancelToken()
        decoding.finish()
        result.n_cached = self.llama.n_tokens
        finished = time.monotonic()
        result.prompt_seconds = (first_token_at or finished) - started
        result.generate_seconds = finished - (first_token_at or finished)
        return result


def _match_length(left: Sequence[int], i: int, right: Sequence[int], j: int, right_end: int) -> int:
    length = 0
    while (
        i + length < len(left) and j + length < right_end and left[i + length] == right[j + length]
    ):
        length += 1
    return length


def _physical_cores() -> int:
    count = os.cpu_count() or 2
    return max(1, count // 2) if count > 4 else count
