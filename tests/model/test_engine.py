"""Real llama.cpp on tiny random-weight StarCoder2 GGUFs: tokens, stops, cancellation, reuse."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sc2_lsp.engine import CancelToken, EngineError, GenerationParams, LoadOptions
from sc2_lsp.engine.llama import LlamaModel
from sc2_lsp.engine.supervisor import SupervisedEngine
from sc2_lsp.engine.vocab import Tokenizer
from sc2_lsp.prompt import FimInput, build

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path: Path) -> Tokenizer:
    return Tokenizer.load(tiny_model_path)


def test_vocabulary_and_template(tokenizer: Tokenizer) -> None:
    template = tokenizer.template()
    assert template.name == "starcoder2"
    assert (
        template.fim_prefix,
        template.fim_middle,
        template.fim_suffix,
        template.repo_name,
        template.file_sep,
    ) == (1, 2, 3, 5, 6)
    assert {0, 1, 2, 3, 4, 5, 6} <= template.stop_ids
    assert tokenizer.bos_id is None


def test_exact_token_ids_of_a_built_prompt(tokenizer: Tokenizer) -> None:
    template = tokenizer.template()
    prompt = build(
        FimInput("def f():\n    ", "\n", path="a.py"),
        template,
        tokenizer.tokenize,
        tokenizer.bos_id,
        tokenizer.token_text,
    )
    ids = prompt.tokens
    expected = [6, 1, *tokenizer.tokenize("a.py\ndef f():\n    "), 3, *tokenizer.tokenize("\n"), 2]
    assert ids == expected
    assert prompt.render() == "<file_sep><fim_prefix>a.py\ndef f():\n    <fim_suffix>\n<fim_middle>"
    assert 6 not in tokenizer.tokenize("<file_sep>"), "plain text must never become a sentinel"


def load(path: Path, n_ctx: int = 1024) -> LlamaModel:
    return LlamaModel(LoadOptions(path, n_ctx=n_ctx, n_threads=2))


def test_generates_and_stops_at_max_tokens(emit_model_factory: Callable[[str], Path]) -> None:
    model = load(emit_model_factory("x"))
    try:
        prompt = model.tokenizer.tokenize("x = ")
        result = model.generate(
            prompt,
            GenerationParams(max_tokens=3, stop_ids=model.info.template.stop_ids),
            CancelToken(),
        )
        assert (result.text, result.stop_reason, result.n_prompt) == (
            "xxx",
            "max_tokens",
            len(prompt),
        )
    finally:
        model.close()


def test_stops_by_id_on_file_sep(emit_model_factory: Callable[[str], Path]) -> None:
    model = load(emit_model_factory("<file_sep>"))
    try:
        params = GenerationParams(max_tokens=20, stop_ids=model.info.template.stop_ids)
        result = model.generate(model.tokenizer.tokenize("x = "), params, CancelToken())
        assert (result.tokens, result.text, result.stop_reason) == ([], "", "stop_token")
        unguarded = model.generate(
            model.tokenizer.tokenize("x = "), GenerationParams(max_tokens=3), CancelToken()
        )
        assert unguarded.tokens == [6, 6, 6], (
            "llama.cpp itself does not treat <file_sep> as end of generation"
        )
    finally:
        model.close()


def test_kv_cache_of_a_shared_prefix_is_reused(emit_model_factory: Callable[[str], Path]) -> None:
    model = load(emit_model_factory("x"))
    try:
        tokens = model.tokenizer.tokenize("def f(a, b):\n    return a + b\n\n" * 4)
        first = model.generate(tokens, GenerationParams(max_tokens=2), CancelToken())
        second = model.generate(
            [*tokens, *model.tokenizer.tokenize("y = ")],
            GenerationParams(max_tokens=2),
            CancelToken(),
        )
        assert first.n_reused == 0
        assert second.n_reused == len(tokens)
        assert second.text == "xx"
    finally:
        model.close()


def test_cancel_takes_effect_within_one_token(emit_model_factory: Callable[[str], Path]) -> None:
    model = load(emit_model_factory("x"))
    try:
        cancel = CancelToken()

        def cancel_at_five(text: str) -> bool:
            if len(text) == 5:
                cancel.cancel()
            return False

        result = model.generate(
            model.tokenizer.tokenize("x"), GenerationParams(max_tokens=100), cancel, cancel_at_five
        )
        assert (result.text, result.stop_reason) == ("xxxxx", "cancelled")
    finally:
        model.close()


def test_cancel_aborts_prompt_evaluation_and_leaves_a_usable_model(slow_model_path: Path) -> None:
    model = load(slow_model_path, n_ctx=4096)
    try:
        long_prompt = model.tokenizer.tokenize("def function_number(n):\n    return n * 2\n" * 150)[
            :3000
        ]
        cancel = CancelToken()
        cancel.cancel()  # llama.cpp's abort callback sees it inside the very first decode
        result = model.generate(long_prompt, GenerationParams(max_tokens=5), cancel)
        assert result.stop_reason == "cancelled" and result.tokens == []
        assert len(model.cached_tokens()) < len(long_prompt), "the prompt was evaluated anyway"
        again = model.generate(
            model.tokenizer.tokenize("y = "), GenerationParams(max_tokens=2), CancelToken()
        )
        assert again.text == "xx"
    finally:
        model.close()


def test_time_budget_ends_a_runaway_line(emit_model_factory: Callable[[str], Path]) -> None:
    model = load(emit_model_factory("x"))
    try:
        params = GenerationParams(max_tokens=500, time_budget_s=0.0)
        result = model.generate(model.tokenizer.tokenize("x"), params, CancelToken())
        assert (result.stop_reason, result.text) == ("time_budget", "xx")
    finally:
        model.close()


def test_worker_reports_bad_models_and_survives(
    tmp_path: Path, emit_model_factory: Callable[[str], Path]
) -> None:
    worker = SupervisedEngine()
    try:
        with pytest.raises(EngineError, match="not found"):
            worker.load(LoadOptions(tmp_path / "missing.gguf")).result()
        junk = tmp_path / "junk.gguf"
        junk.write_bytes(b"GGUF" + b"\0" * 64)
        with pytest.raises(EngineError, match="could not load"):
            worker.load(LoadOptions(junk)).result()
        info = worker.load(LoadOptions(emit_model_factory("x"), n_ctx=512)).result()
        assert info.template.name == "starcoder2" and info.n_ctx == 512
        assert (
            worker.generate([1, 2, 3], GenerationParams(max_tokens=2), CancelToken()).result().text
            == "xx"
        )
    finally:
        worker.close()


def _decode(model: LlamaModel, tokens: list[int], first_position: int) -> np.ndarray:
    batch = model.llama._batch
    batch.set_batch(tokens, n_past=first_position, logits_all=False)
    model.llama._ctx.decode(batch)
    logits = model.llama._ctx.get_logits()  # type: ignore[no-untyped-call]  # llama_cpp
    return np.ctypeslib.as_array(logits, shape=(model.info.n_vocab,)).copy()


def test_a_shifted_chunk_gives_the_logits_of_recomputation(tiny_model_path: Path) -> None:
    chunk = [40 + (i * 7) % 200 for i in range(24)]
    follower, shift = [77], 50
    recomputed_model, shifted_model = load(tiny_model_path, 256), load(tiny_model_path, 256)
    try:
        _decode(recomputed_model, chunk, first_position=shift)
        recomputed = _decode(recomputed_model, follower, first_position=shift + len(chunk))
        _decode(shifted_model, chunk, first_position=0)
        shifted_model.llama._ctx.kv_cache_seq_shift(0, 0, len(chunk), shift)
        shifted = _decode(shifted_model, follower, first_position=shift + len(chunk))
        np.testing.assert_allclose(shifted, recomputed, rtol=1e-3, atol=1e-3)
    finally:
        recomputed_model.close()
        shifted_model.close()


def test_deleted_text_keeps_the_kv_of_what_follows(
    emit_model_factory: Callable[[str], Path],
) -> None:
    model = load(emit_model_factory("x"))
    try:
        tokenize = model.tokenizer.tokenize
        head, deleted, tail = (
            tokenize("import os\n" * 4),
            tokenize("print('gone')\n" * 3),
            tokenize("def f(a, b):\n    return a + b\n" * 3),
        )
        params = GenerationParams(max_tokens=2, reuse_chunk_min=16)
        model.generate([*head, *deleted, *tail, 2], params, CancelToken())
        after_delete = model.generate([*head, *tail, 2], params, CancelToken())
        assert after_delete.n_reused == len(head) + len(tail)
        assert after_delete.text == "xx"
        assert model.cached_tokens()[: len(head) + len(tail) + 1] == [*head, *tail, 2]
        no_reuse = model.generate(
            [*head, *deleted, *tail, 2],
            GenerationParams(max_tokens=2, reuse_chunk_min=0),
            CancelToken(),
        )
        assert no_reuse.n_reused == len(head)
    finally:
        model.close()


@pytest.mark.parametrize(("emits", "expected"), [("x", r"abx+"), ("<|endoftext|>", r"ab")])
def test_the_healing_mask_makes_the_first_tokens_spell_the_healed_text(
    emit_model_factory: Callable[[str], Path], emits: str, expected: str
) -> None:
    """Whatever the model wants (another token, or to stop), it spells the healed text first."""
    model = load(emit_model_factory(emits))
    try:
        params = GenerationParams(max_tokens=6, stop_ids=model.info.template.stop_ids, healed="ab")
        result = model.generate(model.tokenizer.tokenize("y = "), params, CancelToken())
        assert re.fullmatch(expected, result.text), result.text
        unhealed = model.generate(
            model.tokenizer.tokenize("y = "), replace(params, healed=""), CancelToken()
        )
        assert not unhealed.text.startswith("a")
    finally:
        model.close()


def test_branches_spell_the_healed_text_first_each_its_own_way(
    emit_model_factory: Callable[[str], Path],
) -> None:
    """Alternatives branched under healing: every branch spells the healed text, starting with
    a different token that agrees with it, then continues as the model would."""
    model = load(emit_model_factory("x"))
    try:
        healed = " =="  # " ", " =" and " ==" are tokens of the synthetic vocab
        params = GenerationParams(
            max_tokens=4, stop_ids=model.info.template.stop_ids, healed=healed
        )
        prompt = model.tokenizer.tokenize("y = ")
        shown = model.generate(prompt, params, CancelToken())
        assert shown.text.startswith(healed), shown.text
        branched = model.generate(
            prompt, replace(params, branches=3, avoid_first=(shown.tokens[0],)), CancelToken()
        )
        firsts = [branch.tokens[0] for branch in branched.branches]
        assert (
            branched.branches and shown.tokens[0] not in firsts and len(set(firsts)) == len(firsts)
        )
        for branch in branched.branches:
            assert re.fullmatch(r" ==x+", branch.text), branch.text
    finally:
        model.close()
