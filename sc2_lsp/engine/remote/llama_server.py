"""llama.cpp's llama-server, natively: `/completion` with its prompt cache, slots and time budget.

Owns the native request (`cache_prompt`, `n_cache_reuse`, `id_slot`, `t_max_predict_ms`,
`return_tokens`) and reading its events, plus `llama_cpp_extras`, the fields llama-server
understands on `/v1/completions` too. llama-server has no stop-token-id field and does not end
a generation on StarCoder2's `<file_sep>` unless started with
`--override-kv tokenizer.ggml.fim_sep_token_id=int:6`; sending the stop tokens as
`preserved_tokens` (so they come out as text) and as `stop` words works with any start flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sc2_lsp.engine import GenerationParams
from sc2_lsp.engine.remote.dialect import Piece, Server, sampling

FINISH = {"eos": "stop", "word": "stop", "limit": "length"}
"""llama-server's `stop_type` in OpenAI's words."""


def llama_cpp_extras(
    params: GenerationParams, stop_texts: Sequence[str], slot: int
) -> dict[str, Any]:
    """What llama-server adds to a request on either endpoint: the same sampling as the local
    engine, prompt-cache reuse, the stop tokens, the slot and the time budget."""
    extras: dict[str, Any] = {
        "cache_prompt": True,
        "repeat_penalty": 1.0,
        "preserved_tokens": list(stop_texts),
        "stop": list(stop_texts),
        "id_slot": slot,
    }
    if params.reuse_chunk_min > 0:
        extras["n_cache_reuse"] = params.reuse_chunk_min
    if params.time_budget_s is not None:
        extras["t_max_predict_ms"] = max(1, round(params.time_budget_s * 1000))
    return extras


def read_timings(event: dict[str, Any], piece: Piece) -> None:
    """Prompt tokens evaluated and reused, from llama-server's `timings` (last event only)."""
    timings = event.get("timings")
    evaluated = timings.get("prompt_n") if isinstance(timings, dict) else None
    if isinstance(evaluated, int) and isinstance(timings, dict):
        cached = timings.get("cache_n")
        piece.n_evaluated = evaluated
        piece.n_cached = cached if isinstance(cached, int) else None


class LlamaServer:
    """The `Dialect` of llama-server's native `/completion`."""

    path = "/completion"

    def body(
        self,
        server: Server,
        prompt: Sequence[int],
        params: GenerationParams,
        max_tokens: int,
        stop_texts: Sequence[str],
        slot: int,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": list(prompt),
            "n_predict": max_tokens,
            **sampling(params),
            "return_tokens": True,
            # The last event would otherwise repeat the whole prompt and every setting.
            "response_fields": ["content", "tokens", "stop", "stop_type", "timings"],
        }
        return body | llama_cpp_extras(params, stop_texts, slot)

    def read(self, event: dict[str, Any]) -> Piece:
        content, tokens = event.get("content"), event.get("tokens")
        piece = Piece(
            text=content if isinstance(content, str) else "",
            tokens=[int(t) for t in tokens if isinstance(t, int)]
            if isinstance(tokens, list)
            else None,
        )
        if event.get("stop") is True:
            stop_type = str(event.get("stop_type", "none"))
            piece.finish = FINISH.get(stop_type, stop_type)
            read_timings(event, piece)
        return piece

    def abort(self, server: Server, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        return None  # a closed stream stops it within a token


DIALECT = LlamaServer()
