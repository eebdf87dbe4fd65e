"""Remote request bodies against the request schemas vLLM and SGLang document.

vLLM and SGLang cannot run here, so what we send them is checked against their request
models' field names and types, copied from their sources:

- vLLM `CompletionRequest` and `TokenizeCompletionRequest`:
  vllm-project/vllm `vllm/entrypoints/openai/completion/protocol.py` (commit 002032ee) and
  `vllm/entrypoints/openai/engine/protocol.py`;
- SGLang `CompletionRequest` and the `/tokenize` handler's fields:
  sgl-project/sglang `python/sglang/srt/entrypoints/openai/protocol.py` (commit 004c82e0)
  and `serving_tokenize.py`.

vLLM logs every field it does not know, so a body must hold only known fields. The
llama-server bodies are checked against the real server in `tests/remote`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sc2_lsp.engine import GenerationParams
from sc2_lsp.engine.remote.dialect import Flavour, Server, tokenize_body
from sc2_lsp.engine.remote.llama_server import DIALECT as NATIVE
from sc2_lsp.engine.remote.openai import DIALECT as OPENAI

VLLM_COMPLETION = {
    # The OpenAI fields, then vLLM's sampling and extra parameters.
    "model": str, "prompt": list, "echo": bool, "frequency_penalty": float, "logit_bias": dict,
    "logprobs": int, "max_tokens": int, "n": int, "presence_penalty": float, "seed": int,
    "stop": list, "stream": bool, "stream_options": dict, "suffix": str, "temperature": float,
    "top_p": float, "user": str, "use_beam_search": bool, "top_k": int, "min_p": float,
    "repetition_penalty": float, "length_penalty": float, "stop_token_ids": list,
    "include_stop_str_in_output": bool, "ignore_eos": bool, "min_tokens": int,
    "skip_special_tokens": bool, "spaces_between_special_tokens": bool,
    "truncate_prompt_tokens": int, "allowed_token_ids": list, "prompt_logprobs": int,
    "add_special_tokens": bool, "priority": int, "request_id": str, "session_id": str,
    "return_tokens_as_token_ids": bool, "return_token_ids": bool, "cache_salt": str,
}  # fmt: skip
SGLANG_COMPLETION = {
    "model": str, "prompt": list, "best_of": int, "echo": bool, "frequency_penalty": float,
    "logit_bias": dict, "logprobs": int, "max_tokens": int, "n": int,
    "presence_penalty": float, "seed": int, "stop": list, "stream": bool,
    "stream_options": dict, "suffix": str, "temperature": float, "top_p": float, "user": str,
    "return_token_ids": bool, "top_k": int, "min_p": float, "min_tokens": int,
    "repetition_penalty": float, "stop_token_ids": list, "no_stop_trim": bool,
    "ignore_eos": bool, "skip_special_tokens": bool, "session_id": str, "rid": str,
    "cache_salt": str, "priority": int,
}  # fmt: skip
STREAM_OPTIONS = {"include_usage": bool, "continuous_usage_stats": bool}
VLLM_TOKENIZE = {"model": str, "prompt": str, "add_special_tokens": bool, "return_token_strs": bool}
SGLANG_TOKENIZE = {"model": str, "prompt": str, "add_special_tokens": bool}

PROMPT = [6, 1, 64, 78, 32, 3, 199, 2]
PARAMS = GenerationParams(max_tokens=48, stop_ids=frozenset({0, 6}), time_budget_s=3.0)


def conforms(body: dict[str, Any], schema: Mapping[str, type]) -> list[str]:
    """Fields of `body` the schema does not have, or has with another JSON type."""
    problems = [f"{key}: not in the schema" for key in body if key not in schema]
    for key, value in body.items():
        expected = schema.get(key)
        if expected is float and isinstance(value, int | float) and not isinstance(value, bool):
            continue
        if expected is not None and not isinstance(value, expected):
            problems.append(f"{key}: {type(value).__name__}, schema says {expected.__name__}")
    return problems


@pytest.mark.parametrize(
    ("flavour", "schema"), [("vllm", VLLM_COMPLETION), ("sglang", SGLANG_COMPLETION)]
)
def test_completion_body_uses_only_documented_fields(
    flavour: Flavour, schema: dict[str, type]
) -> None:
    server = Server(flavour, "bigcode/starcoder2-3b", 16384)
    body = OPENAI.body(server, PROMPT, PARAMS, 48, ["<|endoftext|>", "<file_sep>"], -1)
    assert conforms(body, schema) == []
    assert conforms(body["stream_options"], STREAM_OPTIONS) == []
    # The token-id prompt as is, the stop ids as ids (vLLM drops special tokens from text,
    # so no stop string could see <file_sep>), streamed, with the generated ids returned.
    assert body["prompt"] == PROMPT and all(type(token) is int for token in body["prompt"])
    assert body["stop_token_ids"] == [0, 6]
    assert body["stream"] is True and body["return_token_ids"] is True
    assert body["model"] == "bigcode/starcoder2-3b" and body["max_tokens"] == 48
    assert "stop" not in body and "cache_prompt" not in body


def test_completion_body_for_llama_server_on_v1_carries_its_own_fields() -> None:
    body = OPENAI.body(Server("llama.cpp", "sc2", 4096), PROMPT, PARAMS, 48, ["<file_sep>"], 2)
    assert "stop_token_ids" not in body and "return_token_ids" not in body
    assert body["preserved_tokens"] == body["stop"] == ["<file_sep>"]
    assert body["cache_prompt"] is True and body["id_slot"] == 2
    assert body["t_max_predict_ms"] == 3000 and body["n_cache_reuse"] == 16


def test_native_body_streams_token_ids_with_the_cache_and_the_slot() -> None:
    body = NATIVE.body(Server("llama.cpp", None, 4096), PROMPT, PARAMS, 48, ["<file_sep>"], -1)
    assert body["prompt"] == PROMPT and body["n_predict"] == 48
    assert body["stream"] is body["return_tokens"] is body["cache_prompt"] is True
    assert body["id_slot"] == -1 and body["stop"] == ["<file_sep>"]
    assert body["repeat_penalty"] == 1.0 and body["min_p"] == 0.0  # as the local engine samples


@pytest.mark.parametrize(
    ("flavour", "schema"), [("vllm", VLLM_TOKENIZE), ("sglang", SGLANG_TOKENIZE)]
)
def test_tokenize_body_uses_only_documented_fields(
    flavour: Flavour, schema: dict[str, type]
) -> None:
    server = Server(flavour, "bigcode/starcoder2-3b", None)
    body = tokenize_body(server, "def f():", special=False)
    assert conforms(body, schema) == []
    assert body["add_special_tokens"] is False  # no BOS: compare ids one for one


def test_reading_vllm_stream_chunks() -> None:
    """Chunks as vLLM's `CompletionStreamResponse` documents them (token_ids per chunk, and a
    last chunk with usage only when `stream_options.include_usage`)."""
    first = {
        "id": "cmpl-1",
        "object": "text_completion",
        "model": "m",
        "choices": [{"index": 0, "text": " x", "token_ids": [1022], "prompt_token_ids": PROMPT}],
    }
    last = {
        "id": "cmpl-1",
        "model": "m",
        "choices": [
            {"index": 0, "text": "", "token_ids": [], "finish_reason": "stop", "stop_reason": 6}
        ],
    }
    usage = {
        "id": "cmpl-1",
        "model": "m",
        "choices": [],
        "usage": {
            "prompt_tokens": 8,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 5},
        },
    }
    piece = OPENAI.read(first)
    assert (piece.text, piece.tokens, piece.finish) == (" x", [1022], None)
    assert OPENAI.read(last).finish == "stop"
    counted = OPENAI.read(usage)
    assert (counted.n_cached, counted.n_evaluated, counted.tokens) == (5, 3, None)


def test_reading_llama_server_events() -> None:
    partial = NATIVE.read({"content": "ab", "tokens": [64, 65], "stop": False})
    assert (partial.text, partial.tokens, partial.finish) == ("ab", [64, 65], None)
    final = NATIVE.read(
        {
            "content": "",
            "tokens": [],
            "stop": True,
            "stop_type": "word",
            "timings": {"prompt_n": 4, "cache_n": 30},
        }
    )
    assert (final.finish, final.n_evaluated, final.n_cached) == ("stop", 4, 30)
    assert NATIVE.read({"stop": True, "stop_type": "limit"}).finish == "length"


def test_sglang_requests_carry_an_id_that_a_cancel_aborts() -> None:
    """SGLang's `/abort_request` takes `{"rid": ..., "abort_all": false}` (its HTTP server, and
    its model gateway, which forwards it to every worker); vLLM and llama-server stop when the
    stream closes."""
    sglang = Server("sglang", "m", None)
    body = OPENAI.body(sglang, PROMPT, PARAMS, 48, [], -1)
    assert (
        isinstance(body["rid"], str)
        and body["rid"] != OPENAI.body(sglang, PROMPT, PARAMS, 48, [], -1)["rid"]
    )
    assert OPENAI.abort(sglang, body) == (
        "/abort_request",
        {"rid": body["rid"], "abort_all": False},
    )
    vllm = Server("vllm", "m", None)
    assert OPENAI.abort(vllm, OPENAI.body(vllm, PROMPT, PARAMS, 48, [], -1)) is None
    assert NATIVE.abort(Server("llama.cpp", None, None), {}) is None
