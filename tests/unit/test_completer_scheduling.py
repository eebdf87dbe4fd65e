"""The completer's scheduling against an in-memory engine: supersede, debounce, the typed-ahead
cache, prefetch and its adoption, cancellation, and an engine that is not there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from sc2_lsp.completer import Completer
from sc2_lsp.config import Settings, resolve
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.prompting import Request, Trigger
from tests.fakes import ScriptedEngine, settle

URI = "file:///w/a.py"


def at(text: str, offset: int | None = None, trigger: Trigger = "automatic") -> Request:
    offset = len(text) if offset is None else offset
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    cursor = cursor_at(text, line, column, "utf-32")
    return Request(Snapshot(URI, 1, "python", text), cursor, trigger=trigger)


def settings(**completion: object) -> Settings:
    base = {"debounceMs": 0, "adaptiveDebounce": False, "prefetch": False, "maxTokensLine": 16}
    resolved, errors = resolve({"completion": {**base, **completion}})
    assert not errors
    return resolved


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    fake = ScriptedEngine(script=lambda prompt: "compute(1)\n")
    yield fake
    fake.close()


async def test_a_newer_request_supersedes_the_running_one(engine: ScriptedEngine) -> None:
    engine.token_delay_s = 0.05
    completer = Completer(engine)
    first = asyncio.ensure_future(completer.complete(at("value = "), settings()))
    while not engine.jobs:
        await asyncio.sleep(0.005)
    second = await completer.complete(at("value = c"), settings())
    assert await first is None  # superseded: cancelled, not answered with stale text
    # The script spells the healed "c" itself: the suggestion is what follows it.
    assert second is not None and second.source == "model" and second.text == "ompute(1)"
    cancelled = engine.jobs[0].result
    assert cancelled is not None and cancelled.stop_reason == "cancelled"
    assert len(cancelled.tokens) <= 2  # stopped within a token or so of the newer request
    assert completer.stats.cancelled == 1


async def test_cancelling_the_request_task_stops_the_generation(engine: ScriptedEngine) -> None:
    engine.token_delay_s = 0.05
    completer = Completer(engine)
    task = asyncio.ensure_future(completer.complete(at("value = "), settings()))
    while not engine.jobs:
        await asyncio.sleep(0.005)
    task.cancel()  # what pygls does on $/cancelRequest
    with pytest.raises(asyncio.CancelledError):
        await task
    settle(engine)
    assert engine.jobs[0].result is not None
    assert engine.jobs[0].result.stop_reason == "cancelled"
    assert not completer.busy


async def test_typing_through_a_suggestion_is_answered_from_the_cache(
    engine: ScriptedEngine,
) -> None:
    completer = Completer(engine)
    shown = await completer.complete(at("value = "), settings())
    assert shown is not None and shown.text == "compute(1)"
    for typed in ("c", "co", "comp", "compute("):
        hit = await completer.complete(at("value = " + typed), settings())
        assert hit is not None and hit.source == "cache" and hit.text == "compute(1)"[len(typed) :]
    assert len(engine.jobs) == 1  # no model call while typing through it


async def test_the_accepted_state_is_prefetched_and_a_request_for_it_adopts_it(
    engine: ScriptedEngine,
) -> None:
    engine.token_delay_s = 0.03
    engine.script = lambda prompt: "next_line()\n" if "compute(1)" in prompt else "compute(1)\n"
    completer = Completer(engine)
    chosen = settings(prefetch=True, suggestions=1)
    shown = await completer.complete(at("value = "), chosen)
    assert shown is not None and shown.text == "compute(1)"
    while len(engine.jobs) < 2:  # the prefetch of "value = compute(1)" started
        await asyncio.sleep(0.005)
    accepted = await completer.complete(at("value = compute(1)"), chosen)
    assert accepted is not None and accepted.source == "prefetch"
    assert len(engine.jobs) == 2  # adopted: the running prefetch was not restarted
    assert completer.stats.prefetch_hits == 1 and completer.stats.cancelled == 0


async def test_a_real_request_cancels_speculation_at_once(engine: ScriptedEngine) -> None:
    engine.token_delay_s = 0.05
    completer = Completer(engine)
    chosen = settings(prefetch=True, suggestions=1)
    await completer.complete(at("value = "), chosen)
    while len(engine.jobs) < 2:
        await asyncio.sleep(0.005)
    started = time.monotonic()
    other = await completer.complete(at("other = "), chosen)
    assert other is not None and other.source == "model"
    prefetch = engine.jobs[1].result
    assert prefetch is not None and prefetch.stop_reason == "cancelled"
    # Its own 12 tokens (the healed space, then "compute(1)\n"), not the prefetch's 12 more.
    assert time.monotonic() - started < 0.05 * 18


async def test_the_debounce_waits_for_a_steady_typist(engine: ScriptedEngine) -> None:
    completer = Completer(engine)
    steady = settings(debounceMs=30, adaptiveDebounce=True)
    for index in range(5):
        await completer.complete(at("value = " + "x" * index), steady)
        await asyncio.sleep(0.12)
    completer.rhythm.model_ms = 1000.0  # slower than the typing: waiting saves work
    started = time.monotonic()
    await completer.complete(at("value = xxxxx"), steady)
    waited = time.monotonic() - started
    assert 0.1 <= waited < 0.5, waited  # about the typing rhythm, not the 30 ms base


async def test_an_unavailable_engine_gets_an_empty_answer_at_once(engine: ScriptedEngine) -> None:
    completer = Completer(engine)
    engine.available = False
    started = time.monotonic()
    assert await completer.complete(at("value = "), settings()) is None
    assert time.monotonic() - started < 0.05
    assert engine.jobs == []


async def test_the_prompt_is_fim_in_the_trained_layout(engine: ScriptedEngine) -> None:
    completer = Completer(engine)
    await completer.complete(at("value = \nnext = 2\n", 8, trigger="invoked"), settings())
    # The far suffix is a snippet of the file before it; the FIM suffix the rest of the line.
    # The space the prefix ends on is healed: the model spells it as the start of the middle.
    assert engine.rendered(engine.jobs[0]) == (
        "<file_sep>a.py\nnext = 2\n<file_sep><fim_prefix>a.py\nvalue =<fim_suffix>\n<fim_middle>"
    )
    assert engine.jobs[0].params.healed == " "
    inline, _ = resolve({"prompt": {"suffixLayout": "inline"}})
    await completer.complete(at("other = \nnext = 2\n", 8, trigger="invoked"), inline)
    assert engine.rendered(engine.jobs[1]) == (
        "<file_sep><fim_prefix>a.py\nother =<fim_suffix>\nnext = 2\n<fim_middle>"
    )


async def test_a_prewarmed_prompt_costs_the_first_request_nothing(engine: ScriptedEngine) -> None:
    completer = Completer(engine)
    request = at("value = \nnext = 2\n", 8)
    assert await completer.prewarm(request, settings())
    suggestion = await completer.complete(request, settings())
    assert suggestion is not None and suggestion.generation is not None
    assert suggestion.generation.n_evaluated == 0  # all of it was in the KV cache already
    assert len(engine.jobs) == 2 and engine.jobs[0].params.max_tokens == 1


async def test_the_engines_alternatives_come_after_the_suggestion_on_asking_again(
    engine: ScriptedEngine,
) -> None:
    completer = Completer(engine)
    chosen = settings(suggestions=3)
    first = await completer.complete(at("value = "), chosen)
    assert first is not None and [item.text for item in first.items] == ["compute(1)"]
    while completer.speculator.alternatives < 2:  # computed while the user reads
        await asyncio.sleep(0.005)
    branched = engine.jobs[1]
    assert branched.params.branches == 2 and branched.params.avoid_first == (ord("c") + 100,)
    again = await completer.complete(at("value = "), chosen)  # Alt+] asks for the same state
    assert again is not None and again.source == "cache"
    assert [item.text for item in again.items] == ["compute(1)", "other_1()", "other_2()"]
    assert again.items[0].lineage == first.items[0].lineage  # the one shown keeps its identity
    assert len(engine.jobs) == 2  # no model call for asking again


def remote(**completion: object) -> Settings:
    """Settings with a remote engine kind: what the completer decides by (the engine is fake)."""
    base = {"debounceMs": 0, "adaptiveDebounce": False, "maxTokensLine": 16}
    resolved, errors = resolve(
        {"completion": {**base, **completion}, "engine": {"kind": "openai", "url": "http://x"}}
    )
    assert not errors
    return resolved


async def test_typing_along_a_remote_stream_keeps_it_and_is_answered_from_it(
    engine: ScriptedEngine,
) -> None:
    engine.token_delay_s = 0.05
    completer = Completer(engine)
    first = asyncio.ensure_future(completer.complete(at("value = "), remote()))
    await asyncio.sleep(0.1)  # "com" has streamed in
    second = await completer.complete(at("value = co"), remote())
    assert second is not None and second.text == "mpute(1)"
    assert await first is None  # stale: its cursor has moved on
    assert len(engine.jobs) == 1 and engine.jobs[0].result is not None
    assert engine.jobs[0].result.stop_reason != "cancelled"


async def test_typing_something_else_cancels_the_remote_stream(engine: ScriptedEngine) -> None:
    engine.token_delay_s = 0.05
    completer = Completer(engine)
    first = asyncio.ensure_future(completer.complete(at("value = "), remote()))
    await asyncio.sleep(0.1)
    second = await completer.complete(at("value = x"), remote())
    assert await first is None and second is not None
    assert len(engine.jobs) == 2
    assert engine.jobs[0].result is not None and engine.jobs[0].result.stop_reason == "cancelled"


async def test_a_remote_stream_outlives_its_cancelled_request_for_a_follower(
    engine: ScriptedEngine,
) -> None:
    engine.token_delay_s = 0.05
    completer = Completer(engine)
    first = asyncio.ensure_future(completer.complete(at("value = "), remote()))
    await asyncio.sleep(0.1)
    first.cancel()  # the editor cancels the old request as the user types on
    with pytest.raises(asyncio.CancelledError):
        await first
    follower = await completer.complete(at("value = comp"), remote())
    assert follower is not None and follower.text == "ute(1)"
    assert len(engine.jobs) == 1


async def test_a_local_engine_never_follows(engine: ScriptedEngine) -> None:
    engine.token_delay_s = 0.05
    completer = Completer(engine)
    first = asyncio.ensure_future(completer.complete(at("value = "), settings()))
    await asyncio.sleep(0.1)
    second = await completer.complete(at("value = co"), settings())
    assert await first is None and second is not None
    assert engine.jobs[0].result is not None and engine.jobs[0].result.stop_reason == "cancelled"


async def test_the_stream_watcher_crosses_to_an_engine_process_as_the_plain_should_stop() -> None:
    """A remote engine's local fallback runs `should_stop` in its engine process."""
    import pickle
    from functools import partial

    from sc2_lsp import postprocess
    from sc2_lsp.engine import CancelToken
    from sc2_lsp.following import Stream

    ctx = postprocess.PostContext("line", "", "value = ", "", ())
    plain = partial(postprocess.should_stop, ctx=ctx)
    watcher = Stream.start(at("value = "), CancelToken()).watching(plain)
    crossed = pickle.loads(pickle.dumps(watcher))
    assert isinstance(crossed, partial) and crossed.func is postprocess.should_stop
