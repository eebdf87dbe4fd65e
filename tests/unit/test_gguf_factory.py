"""Tests for tests/gguf_factory.py: vocab layout, GGUF metadata, and llama.cpp behaviour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from gguf import GGUFReader

from tests.gguf_factory import (
    EMIT_LOGIT,
    STARCODER2_SPECIALS,
    STARCODER2_VOCAB,
    TOKEN_CONTROL,
    byte_encode,
    emit_token_for,
    load_vocab,
    read_gguf_kv,
    synthetic_vocab,
    write_starcoder2,
)

FIM_TEXT = b"<file_sep><fim_prefix>a.py\ndef f():<fim_suffix>\n<fim_middle>"


def _load(path: Path) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=2, verbose=False)


def _greedy(llm: llama_cpp.Llama, prompt: bytes, n: int) -> list[int]:
    out: list[int] = []
    tokens = llm.tokenize(prompt, add_bos=False, special=True)
    for tok in llm.generate(tokens, temp=0.0, top_k=1, reset=True):
        out.append(tok)
        if len(out) == n:
            break
    return out


def test_synthetic_vocab_layout() -> None:
    vocab = synthetic_vocab()
    assert len(STARCODER2_SPECIALS) == 38
    assert vocab.tokens[:38] == list(STARCODER2_SPECIALS)
    assert vocab.tokens[1:4] == ["<fim_prefix>", "<fim_middle>", "<fim_suffix>"]
    assert vocab.tokens[6] == "<file_sep>"
    assert all(t == TOKEN_CONTROL for t in vocab.token_types[:38])
    assert TOKEN_CONTROL not in vocab.token_types[38:]
    assert len(set(vocab.tokens[38 : 38 + 256])) == 256
    assert len(vocab.tokens) == len(set(vocab.tokens)) == len(vocab.token_types)
    known = set(vocab.tokens)
    for merge in vocab.merges:
        left, right = merge.split(" ")
        assert {left, right, left + right} <= known


def test_emit_token_for() -> None:
    vocab = synthetic_vocab()
    assert emit_token_for(vocab, "<file_sep>") == 6
    assert vocab.tokens[emit_token_for(vocab, "a")] == "a"
    assert vocab.tokens[emit_token_for(vocab, "\n")] == "Ċ"
    assert vocab.tokens[emit_token_for(vocab, " def")] == "Ġdef"
    assert all(sym in vocab.tokens for sym in byte_encode("é → 🐍"))
    with pytest.raises(KeyError):
        emit_token_for(vocab, "not a token")


def test_written_metadata_and_tensors(tmp_path: Path) -> None:
    path = write_starcoder2(
        tmp_path / "m.gguf", dtype="f16", extra_kv={"tokenizer.ggml.fim_sep_token_id": 6}
    )
    kv = read_gguf_kv(path)
    assert kv["general.architecture"] == "starcoder2"
    assert kv["starcoder2.attention.head_count_kv"] == 2
    assert kv["starcoder2.attention.layer_norm_epsilon"] == pytest.approx(1e-5)
    assert kv["tokenizer.ggml.pre"] == "starcoder"
    assert kv["tokenizer.ggml.fim_sep_token_id"] == 6
    assert load_vocab(path) == synthetic_vocab()
    tensors = {t.name: t for t in GGUFReader(path).tensors}
    assert len(tensors) == 2 * 16 + 3 and "output.weight" not in tensors
    assert list(tensors["blk.1.attn_k.weight"].shape) == [64, 32]  # ggml ne order
    assert tensors["blk.0.ffn_up.weight"].tensor_type.name == "F16"
    assert tensors["blk.0.ffn_up.bias"].tensor_type.name == "F32"


@pytest.mark.model
def test_llama_loads_and_tokenizes_specials(tiny_model_path: Path) -> None:
    llm = _load(tiny_model_path)
    ids = llm.tokenize(FIM_TEXT, add_bos=False, special=True)
    assert ids[:2] == [6, 1]
    assert 3 in ids and ids[-1] == 2
    assert llm.detokenize(ids[2:5]) == b"a.p"
    # arbitrary UTF-8 round-trips through the byte symbols
    text = "ünïcødé → 日本 🐍\n\tx = 12345".encode()
    assert llm.detokenize(llm.tokenize(text, add_bos=False)) == text


@pytest.mark.model
def test_random_weights_are_deterministic(tiny_model_path: Path) -> None:
    llm = _load(tiny_model_path)
    first = _greedy(llm, b"def f():", 8)
    assert first == _greedy(llm, b"def f():", 8)


@pytest.mark.model
@pytest.mark.parametrize("what", ["a", "\n", " def"])
def test_emit_token_repeats(emit_model_factory: Callable[[int | str], Path], what: str) -> None:
    llm = _load(emit_model_factory(what))
    token = emit_token_for(synthetic_vocab(), what)
    for prompt in (b"x", FIM_TEXT, "ü → 日本".encode()):
        assert _greedy(llm, prompt, 6) == [token] * 6


@pytest.mark.model
def test_emit_file_sep_and_margin(emit_model_factory: Callable[[int | str], Path]) -> None:
    llm = _load(emit_model_factory(6))
    llm.eval(llm.tokenize(FIM_TEXT, add_bos=False, special=True))
    raw = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    logits = np.ctypeslib.as_array(raw, shape=(llm.n_vocab(),)).copy()
    assert int(np.argmax(logits)) == 6
    top, second = np.sort(logits)[-2:][::-1]
    assert top - second == pytest.approx(EMIT_LOGIT, abs=0.5)
    assert _greedy(llm, FIM_TEXT, 1) == [6]


@pytest.mark.model
def test_emit_with_real_vocab(tmp_path: Path) -> None:
    vocab = load_vocab(STARCODER2_VOCAB)
    assert vocab.tokens[:38] == list(STARCODER2_SPECIALS)
    token = emit_token_for(vocab, "    ")
    path = write_starcoder2(tmp_path / "real.gguf", vocab=vocab, emit_token=token, dtype="f16")
    llm = _load(path)
    assert llm.n_vocab() == 49152
    assert _greedy(llm, FIM_TEXT, 4) == [token] * 4
