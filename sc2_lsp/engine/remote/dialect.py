"""What a server API is to the remote engine: its requests, its events, and what it says of itself.

Owns the `Dialect` protocol a backend implements (the completion request body for a token-id
prompt, and reading one streamed event into a `Piece`), `Server` (what the server said about
itself at connect: which engine it is, the served model, its context length) found by
`describe`, and `check_tokenizer`, which refuses a server whose tokenizer differs from the
local vocabulary: the prompts are built here as token ids, so they must mean the same there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from sc2_lsp.engine import GenerationParams, Tokenizer, common_prefix
from sc2_lsp.engine.remote.http import RemoteError, get_json, post_json
from sc2_lsp.prompt.templates import BoundTemplate

Flavour = Literal["llama.cpp", "vllm", "sglang", "other"]
_OWNERS: dict[str, Flavour] = {"llamacpp": "llama.cpp", "vllm": "vllm", "sglang": "sglang"}

TOKENIZER_PROBE = (
    "def parse_row(line: str) -> dict[str, int]:\n"
    '    """Split 12345 fields; naïve ünïcödé → ok."""\n'
    "\treturn {k: int(v) for k, v in (p.split('=') for p in line.split(';'))}  # 3.14\n"
)
"""Code, digits, tabs and non-ASCII text: where two tokenizers of one vocabulary part ways."""


@dataclass(frozen=True, slots=True)
class Server:
    """What the server said about itself when the engine connected."""

    flavour: Flavour
    model: str | None
    """The served model's name, as requests must give it."""
    n_ctx: int | None
    """Tokens of context per request (prompt and generation), when the server says."""


@dataclass(slots=True)
class Piece:
    """One streamed event, read: new text and tokens, and at the end how it finished."""

    text: str = ""
    tokens: list[int] | None = None
    """The event's token ids, when the server sends them."""
    finish: str | None = None
    """"stop" (a stop token or word), "length" (the token cap), or the server's own word."""
    n_cached: int | None = None
    """Prompt tokens whose KV the server reused, when it reports them (at the end)."""
    n_evaluated: int | None = None
    """Prompt tokens the server evaluated, when it reports them (at the end)."""


def sampling(params: GenerationParams) -> dict[str, Any]:
    """The sampling fields every dialect sends, the same as the local engine uses, streamed."""
    return {
        "temperature": params.temperature,
        "top_k": params.top_k,
        "top_p": params.top_p,
        "min_p": 0.0,
        "seed": params.seed,
        "stream": True,
    }


class Dialect(Protocol):
    """One completion API: `path` takes a token-id prompt and streams server-sent events."""

    path: str

    def body(
        self,
        server: Server,
        prompt: Sequence[int],
        params: GenerationParams,
        max_tokens: int,
        stop_texts: Sequence[str],
        slot: int,
    ) -> dict[str, Any]:
        """The request for `prompt`; `stop_texts` spell the stop ids (for servers that need
        stop strings), `slot` is llama-server's `id_slot` (-1: its choice)."""
        ...

    def read(self, event: dict[str, Any]) -> Piece: ...

    def abort(self, server: Server, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """A request that stops the generation `body` asked for, for servers where closing the
        stream is not enough (path and body), or None."""
        ...


async def describe(client: httpx.AsyncClient, wanted: str | None) -> Server:
    """Which engine serves which model, from `/v1/models` (and llama-server's `/props`)."""
    listing = await get_json(client, "/v1/models")
    cards = [card for card in _list(listing, "data") if isinstance(card, dict)]
    names = [str(card.get("id")) for card in cards]
    if not cards:
        raise RemoteError("refused", f"{client.base_url} lists no model at /v1/models")
    if wanted is not None and wanted not in names:
        served = ", ".join(repr(name) for name in names)
        raise RemoteError(
            "refused",
            f"{client.base_url} does not serve {wanted!r} (engine.model); it serves {served}",
        )
    card = cards[names.index(wanted)] if wanted is not None else cards[0]
    flavour = _OWNERS.get(str(card.get("owned_by", "")).lower(), "other")
    n_ctx = _positive(card.get("max_model_len"))
    if flavour == "llama.cpp":
        props = await get_json(client, "/props")
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        n_ctx = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
    return Server(flavour, str(card.get("id")), n_ctx)


async def check_tokenizer(
    client: httpx.AsyncClient, server: Server, tokenizer: Tokenizer, template: BoundTemplate
) -> str | None:
    """None when the server tokenizes like `tokenizer`; a warning when it cannot tell.

    Raises RemoteError("refused") on a mismatch, saying where the two part ways.
    """
    try:
        remote = await remote_tokens(client, server, TOKENIZER_PROBE, special=False)
    except RemoteError as error:
        if error.kind != "refused":
            raise
        return f"the tokenizer could not be compared with the server's ({error})"
    local = tokenizer.tokenize(TOKENIZER_PROBE)
    markers = [text for text in (template.template.fim_prefix, template.template.file_sep) if text]
    expected = [tokenizer.single_token(text) for text in markers]
    found = await remote_tokens(client, server, "".join(markers), special=True) if markers else []
    if remote == local and found == expected:
        return None
    if remote != local:
        differs = (
            f"a probe text is {len(remote)} tokens there and {len(local)} here (first "
            f"difference at token {common_prefix(remote, local)})"
        )
    else:
        differs = f"its special tokens {markers} are {found} there and {expected} here"
    raise RemoteError(
        "refused",
        f"{client.base_url} tokenizes differently from the local vocabulary: {differs}. "
        "model.path must be the served model's GGUF (or its vocabulary); completions stay off",
    )


async def remote_tokens(
    client: httpx.AsyncClient, server: Server, text: str, special: bool
) -> list[int]:
    """The server's token ids for `text`, without BOS; `special`: sentinels become one token."""
    answer = await post_json(client, "/tokenize", tokenize_body(server, text, special))
    tokens = _list(answer, "tokens")
    if not all(isinstance(token, int) for token in tokens):
        raise RemoteError("refused", f"{client.base_url}/tokenize answered no token list")
    return [int(token) for token in tokens]


def tokenize_body(server: Server, text: str, special: bool) -> dict[str, Any]:
    """`/tokenize`'s request: llama-server's fields, or vLLM's and SGLang's."""
    if server.flavour == "llama.cpp":
        return {"content": text, "add_special": False, "parse_special": special}
    # Hugging Face tokenizers turn sentinel spellings into special tokens anyway.
    return {"model": server.model, "prompt": text, "add_special_tokens": False}


def _list(payload: object, key: str) -> list[Any]:
    found = payload.get(key) if isinstance(payload, dict) else None
    return found if isinstance(found, list) else []


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
