"""The supervised engine process with real llama.cpp: streaming, cancel, KV bookkeeping, memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sc2_lsp.engine import CancelToken, EngineError, GenerationParams, LoadOptions
from sc2_lsp.engine.supervisor import SupervisedEngine
from tests.reliability.conftest import rss_kib

pytestmark = pytest.mark.model


def test_tokens_stream_back_and_match_the_result(emit_model_factory: Callable[[str], Path]) -> None:
    engine = SupervisedEngine()
    try:
        engine.load(LoadOptions(emit_model_factory("x"), n_ctx=512)).result()
        streamed: list[int] = []
        result = engine.generate(
            [1, 2, 3], GenerationParams(max_tokens=7), CancelToken(), on_token=streamed.append
        ).result()
        assert result.text == "x" * 7 and streamed == result.tokens
    finally:
        engine.close()


def test_a_cancel_stops_prompt_evaluation_in_the_engine_process(slow_model_path: Path) -> None:
    engine = SupervisedEngine()
    try:
        engine.load(LoadOptions(slow_model_path, n_ctx=4096)).result()
        tokenizer = engine.tokenizer
        assert tokenizer is not None
        long_prompt = tokenizer.tokenize("def function_number(n):\n    return n * 2\n" * 150)[:3000]
        full = engine.generate(long_prompt, GenerationParams(max_tokens=1), CancelToken())
        started = time.monotonic()
        full.result()
        evaluation_s = time.monotonic() - started
        cancel = CancelToken()
        other = [7, *long_prompt[1:]]  # nothing reusable: the whole prompt is evaluated again
        future = engine.generate(other, GenerationParams(max_tokens=5), cancel)
        threading.Timer(evaluation_s / 10, cancel.cancel).start()
        result = future.result()
        assert result.stop_reason == "cancelled" and result.tokens == []
        # The server's idea of the engine's KV cache is what the engine really holds: the next
        # prompt reuses exactly the prefix the cancelled evaluation got through.
        held = len(engine.cached_tokens())
        assert held < len(other)
        again = engine.generate(other, GenerationParams(max_tokens=2), CancelToken()).result()
        assert again.n_reused == held and again.text == "xx"
    finally:
        engine.close()


def test_the_server_side_holds_no_weights(slow_model_path: Path) -> None:
    import os

    before = rss_kib(os.getpid())
    engine = SupervisedEngine()
    try:
        engine.load(LoadOptions(slow_model_path, n_ctx=512)).result()
        engine.generate([1, 2, 3], GenerationParams(max_tokens=4), CancelToken()).result()
        weights_kib = slow_model_path.stat().st_size // 1024
        assert engine.health.pid is not None
        assert rss_kib(engine.health.pid) > weights_kib  # the weights are in the engine process
        assert rss_kib(os.getpid()) - before < weights_kib / 4  # and not in this one
    finally:
        engine.close()


def test_a_bad_model_is_a_clean_error_and_the_engine_loads_the_next(
    tmp_path: Path, emit_model_factory: Callable[[str], Path]
) -> None:
    engine = SupervisedEngine()
    try:
        junk = tmp_path / "junk.gguf"
        junk.write_bytes(b"GGUF" + b"\0" * 64)
        with pytest.raises(EngineError, match="could not load"):
            engine.load(LoadOptions(junk)).result()
        assert engine.health.state == "failed" and engine.health.restarts == 0
        engine.load(LoadOptions(emit_model_factory("x"), n_ctx=512)).result()
        assert engine.ready
    finally:
        engine.close()


def test_an_idle_unload_frees_the_process_and_wake_brings_it_back(
    emit_model_factory: Callable[[str], Path],
) -> None:
    engine = SupervisedEngine()
    try:
        engine.load(LoadOptions(emit_model_factory("x"), n_ctx=512)).result()
        pid = engine.health.pid
        assert pid is not None
        engine.unload().result()
        assert engine.health.state == "unloaded" and not engine.ready
        assert not Path(f"/proc/{pid}").exists()  # RAM and VRAM given back with the process
        started = time.monotonic()
        idle = engine.generate([1, 2], GenerationParams(max_tokens=2), CancelToken()).result()
        assert idle.stop_reason == "unavailable" and time.monotonic() - started < 0.1
        waking = engine.wake()
        assert waking is not None
        waking.result()
        again = engine.generate([1, 2], GenerationParams(max_tokens=2), CancelToken()).result()
        assert engine.ready and again.text == "xx" and engine.health.pid != pid
        assert engine.wake() is None  # nothing to wake when loaded
    finally:
        engine.close()


def test_branches_start_apart_and_continue_as_the_model_would(tiny_model_path: Path) -> None:
    """Alternatives branched in the KV cache match what one sequence gives after their first
    token, and leave the prompt's cache as it was."""
    engine = SupervisedEngine()
    try:
        engine.load(LoadOptions(tiny_model_path, n_ctx=512)).result()
        prompt = list(range(40, 80))
        params = GenerationParams(max_tokens=6, stop_ids=frozenset())
        main = engine.generate(prompt, params, CancelToken()).result()
        branched = engine.generate(
            prompt,
            GenerationParams(
                max_tokens=6, stop_ids=frozenset(), branches=3, avoid_first=(main.tokens[0],)
            ),
            CancelToken(),
        ).result()
        firsts = [branch.tokens[0] for branch in branched.branches]
        assert len(firsts) == 3 and len(set(firsts)) == 3 and main.tokens[0] not in firsts
        for branch in branched.branches:
            alone = engine.generate(
                [*prompt, branch.tokens[0]],
                GenerationParams(max_tokens=5, stop_ids=frozenset()),
                CancelToken(),
            ).result()
            assert alone.tokens == branch.tokens[1:], (alone.tokens, branch.tokens)
        again = engine.generate(prompt, params, CancelToken()).result()
        assert again.tokens == main.tokens and again.n_reused >= len(prompt) - 1
    finally:
        engine.close()
