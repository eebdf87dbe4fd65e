"""OpenAI's `/v1/completions` with a token-id prompt, as vLLM, SGLang and llama-server serve it.

Owns the request and reading its streamed chunks. The servers differ in their extensions:
vLLM and SGLang take `stop_token_ids` and return the generated ids with `return_token_ids`
(vLLM drops special tokens from the text, so a stop string could never match there);
llama-server takes its own fields on this endpoint too (`engine.remote.llama_server`) and
returns text only; SGLang gets a request id, so a cancel can also `POST /abort_request`. Each
server gets only the fields it knows: vLLM logs every unknown one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sc2_lsp.engine import GenerationParams
from sc2_lsp.engine.remote.dialect import Piece, Server, sampling
from sc2_lsp.engine.remote.llama_server import llama_cpp_extras, read_timings


class OpenAICompletions:
    """The `Dialect` of `/v1/completions`."""

    path = "/v1/completions"

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
            "max_tokens": max_tokens,
            **sampling(params),
            "stream_options": {"include_usage": True},
        }
        if server.model is not None:
            body["model"] = server.model
        if server.flavour == "llama.cpp":
            return body | llama_cpp_extras(params, stop_texts, slot)
        if server.flavour == "sglang":
            body["rid"] = uuid.uuid4().hex  # what its /abort_request names
        return body | {"stop_token_ids": sorted(params.stop_ids), "return_token_ids": True}

    def read(self, event: dict[str, Any]) -> Piece:
        choices = event.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else {}
        choice = choice if isinstance(choice, dict) else {}
        text, tokens = choice.get("text"), choice.get("token_ids")
        finish = choice.get("finish_reason")
        piece = Piece(
            text=text if isinstance(text, str) else "",
            tokens=[int(t) for t in tokens if isinstance(t, int)]
            if isinstance(tokens, list)
            else None,
            finish=str(finish) if finish is not None else None,
        )
        usage = event.get("usage")
        details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if isinstance(cached, int) and isinstance(usage, dict):
            piece.n_cached = cached
            prompt_tokens = usage.get("prompt_tokens")
            if isinstance(prompt_tokens, int):
                piece.n_evaluated = prompt_tokens - cached
        read_timings(event, piece)  # llama-server's, more exact where they come
        return piece

    def abort(self, server: Server, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        # SGLang notices a closed stream only every few seconds while a request is queued.
        if server.flavour == "sglang" and "rid" in body:
            return "/abort_request", {"rid": body["rid"], "abort_all": False}
        return None


DIALECT = OpenAICompletions()
