"""The completer with real llama.cpp: a real request cancels speculative work at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from sc2_lsp.completer import Completer
from sc2_lsp.config import resolve
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.engine import LoadOptions
from sc2_lsp.engine.supervisor import SupervisedEngine
from sc2_lsp.prompting import Request

pytestmark = pytest.mark.model


def request_at(text: str, offset: int) -> Request:
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return Request(
        Snapshot("file:///t/a.py", 1, "python", text), cursor_at(text, line, column, "utf-32")
    )


async def test_real_request_cancels_running_prefetch(slow_model_path: Path) -> None:
    worker = SupervisedEngine()
    worker.load(LoadOptions(slow_model_path, n_ctx=2048)).result()
    completer = Completer(worker)
    slow, _ = resolve(
        {"completion": {"maxTokensLine": 1000, "maxPredictMs": 60000, "debounceMs": 0}}
    )
    try:
        text = "value = \n"
        completer.remember(
            request_at(text, 8), ["x"], slow
        )  # schedules the prefetch of "value = x"
        for _ in range(400):
            if worker._running is not None:
                break
            await asyncio.sleep(0.01)
        assert worker._running is not None, "prefetch never started"
        fast, _ = resolve({"completion": {"maxTokensLine": 3, "debounceMs": 0, "cache": False}})
        suggestion = await asyncio.wait_for(
            completer.complete(request_at("other = \n", 8), fast), 20
        )
        assert suggestion is not None and suggestion.text == "xxx"
        assert completer.speculator.prefetches == 0 and completer.stats.cancelled >= 1
    finally:
        worker.close()


def test_prompt_budget_shrinks_the_window_when_the_model_is_slow(
    emit_model_factory: Callable[[str], Path],
) -> None:
    worker = SupervisedEngine()
    worker.load(LoadOptions(emit_model_factory("x"), n_ctx=4096)).result()
    try:
        completer = Completer(worker)
        text = "".join(f"value_{i} = compute({i})\n" for i in range(400)) + "total = "
        request = request_at(text, len(text))
        unlimited, _ = resolve({"completion": {"maxPromptMs": 0}})
        budgeted, _ = resolve({"completion": {"maxPromptMs": 500}})
        full = completer.prepare(request, unlimited)
        assert full is not None and len(full.prompt) > 500
        completer.rhythm.prompt_speed = 100.0  # tokens/s: 500 ms affords 50 new tokens
        small = completer.prepare(request, budgeted)
        assert small is not None and len(small.prompt) <= 128 + 32
        # The cursor's line is kept (its trailing space healed: the model spells it first).
        assert small.prompt.render().endswith("total =<fim_suffix><fim_middle>")
        completer.rhythm.prompt_speed = 1e6
        again = completer.prepare(request, budgeted)
        assert again is not None and len(again.prompt) == len(full.prompt)
    finally:
        worker.close()


async def test_accepting_while_the_prefetch_runs_adopts_it(slow_model_path: Path) -> None:
    worker = SupervisedEngine()
    worker.load(LoadOptions(slow_model_path, n_ctx=2048)).result()
    completer = Completer(worker)
    settings, _ = resolve(
        {"completion": {"maxTokensLine": 200, "maxPredictMs": 60000, "debounceMs": 0}}
    )
    try:
        completer.remember(request_at("value = \n", 8), ["x"], settings)
        for _ in range(400):
            if worker._running is not None:
                break
            await asyncio.sleep(0.01)
        assert worker._running is not None, "prefetch never started"
        # The user accepts "x": the request for that state takes over the running prefetch.
        suggestion = await asyncio.wait_for(
            completer.complete(request_at("value = x\n", 9), settings), 60
        )
        assert suggestion is not None and suggestion.source == "prefetch"
        assert suggestion.text == "x" * 200
        assert completer.stats.generations == 1  # no second generation was started
        assert completer.stats.prefetch_hits == 1 and completer.stats.cancelled == 0
    finally:
        completer.cancel_speculation()
        worker.close()


async def test_a_prefetched_suggestion_shown_prefetches_its_own_continuation(
    emit_model_factory: Callable[[str], Path],
) -> None:
    worker = SupervisedEngine()
    worker.load(LoadOptions(emit_model_factory("x"), n_ctx=2048)).result()
    completer = Completer(worker)
    settings, _ = resolve({"completion": {"maxTokensLine": 3, "debounceMs": 0}})

    async def prefetched(count: int) -> None:
        for _ in range(500):
            if completer.speculator.prefetches >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{completer.speculator.prefetches} prefetches, wanted {count}")

    try:
        completer.remember(request_at("value = \n", 8), ["xxx"], settings)
        await prefetched(1)  # "value = xxx" is ready...
        shown = await completer.complete(request_at("value = xxx\n", 11), settings)
        assert shown is not None and shown.source == "prefetch" and shown.text == "xxx"
        await prefetched(2)  # ...and showing it prefetched what follows accepting it
        assert completer.cache.has("file:///t/a.py", "value = xxxxxx", "\n")
        assert completer.stats.generations == 2
    finally:
        completer.cancel_speculation()
        worker.close()


async def test_typing_in_a_block_evaluates_a_few_tokens_per_keystroke_in_the_engine(
    emit_model_factory: Callable[[str], Path],
) -> None:
    """The real engine's own count: with the suffix split, what each keystroke costs it."""
    engine = SupervisedEngine()
    engine.load(LoadOptions(emit_model_factory("x"), n_ctx=4096)).result()
    completer = Completer(engine)
    settings, _ = resolve(
        {"completion": {"maxTokensLine": 2, "debounceMs": 0, "cache": False, "prefetch": False}}
    )
    head = "".join(f"value_{i} = compute({i})\n" for i in range(60))
    tail = "".join(f"    other_{i} = compute({i})\n" for i in range(60))
    typed = "result = value_1 + value_2"
    evaluated = []
    try:
        for count in range(1, len(typed) + 1):
            text = head + "def f():\n    " + typed[:count] + "\n" + tail
            offset = len(head) + len("def f():\n    ") + count
            suggestion = await completer.complete(request_at(text, offset), settings)
            assert suggestion is not None and suggestion.generation is not None
            evaluated.append(suggestion.generation.n_evaluated)
    finally:
        engine.close()
    assert sorted(evaluated)[len(evaluated) // 2] <= 8, evaluated
